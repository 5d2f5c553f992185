/*
 * lock.h - one run at a time per data directory.
 *
 * An flock(2) on <data_dir>/.lock, held for the life of the process. The
 * kernel drops it when the process ends however it ends (SIGKILL, power
 * loss), so a stale lock never blocks the next run. The file itself holds
 * the pid, command and start time of the holder, for the message a second
 * run prints.
 */
#ifndef CRM_LOCK_H
#define CRM_LOCK_H

#include "err.h"

struct lock {
	int fd; /* -1 when not held */
};

/*
 * Take the lock of `data_dir` (created if missing) without waiting.
 * Another holder: CRM_E_LOCKED naming it.
 */
int lock_take(struct lock *l, const char *data_dir, const char *command, struct crm_err *e);

/*
 * Remove the temporary files ("NAME.tmp.PID", see fsx.h) that killed
 * crmetl processes left in `dir` (not its subdirectories). Call it only
 * while holding the lock: every crmetl that writes under data_dir holds it,
 * so any such file not of this process is a leftover. Returns how many were
 * removed; a missing directory is not an error.
 */
int lock_sweep(const char *dir);

/* Release it (also done by the kernel at exit). Accepts a lock not held. */
void lock_release(struct lock *l);

#endif
