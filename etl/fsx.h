/*
 * fsx.h - file-system operations with the guarantees the pipeline promises:
 * whole-file reads with a size ceiling, atomic replacement (temporary file
 * in the same directory, fsync, rename, fsync of the directory), and
 * directory creation.
 *
 * An atomic write either leaves the old file in place or the new one, never
 * a torn mix, even if the process is killed or the machine loses power.
 */
#ifndef CRM_FSX_H
#define CRM_FSX_H

#include <stddef.h>

#include "err.h"

/* Read a whole file of at most `max` bytes into a heap buffer (NUL-terminated). */
int fsx_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
		  struct crm_err *e);

/* write(2) all `len` bytes, retrying short writes and EINTR; 0 or -1 (errno set). */
int fsx_write_all(int fd, const void *data, size_t len);

/* Replace `path` atomically with `len` bytes of `data`. */
int fsx_write_atomic(const char *path, const void *data, size_t len, struct crm_err *e);

/*
 * The same for a file written in pieces (a large output need not be held
 * whole in memory): open creates "<path>.tmp.<pid>", write appends, commit
 * syncs it, renames it over `path` and syncs the directory; abort removes
 * it. After an error of write or commit the temporary file is gone.
 */
struct fsx_atomic {
	int fd;
	char path[4096], tmp[4096];
};

int fsx_atomic_open(struct fsx_atomic *a, const char *path, struct crm_err *e);
int fsx_atomic_write(struct fsx_atomic *a, const void *data, size_t len, struct crm_err *e);
int fsx_atomic_commit(struct fsx_atomic *a, struct crm_err *e);
void fsx_atomic_abort(struct fsx_atomic *a);

/*
 * Same, but leave the file alone (and set *changed = 0) when it already
 * holds exactly these bytes; *changed = 1 when written. `changed` may be NULL.
 */
int fsx_write_if_changed(const char *path, const void *data, size_t len, int *changed,
			 struct crm_err *e);

/*
 * For caches, whose loss costs only work: read a file of fewer than `cap`
 * bytes (0; -1 when missing, unreadable or not smaller than cap), and
 * replace one by a rename without syncing (0 or -1).
 */
int fsx_read_small(const char *path, char *buf, size_t cap, size_t *len);
int fsx_replace_unsynced(const char *path, const void *data, size_t len);

/* 1 if `path` is a regular file holding exactly these bytes. */
int fsx_same_content(const char *path, const void *data, size_t len);

/* mkdir -p, mode 0755 (0700 for nothing: data_dir permissions follow umask). */
int fsx_mkdirs(const char *path, struct crm_err *e);

/* Size and CRC-32 (zlib's) of a file's bytes, read in blocks. */
int fsx_file_crc32(const char *path, unsigned long long *size, unsigned long *crc,
		   struct crm_err *e);

/* fsync the directory holding `path` (after a rename or unlink in it). */
int fsx_sync_parent(const char *path, struct crm_err *e);

#endif
