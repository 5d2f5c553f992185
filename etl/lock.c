/*
 * lock.c - the data directory lock (see lock.h).
 *
 * flock rather than a pid file: a pid file outlives a killed run and needs
 * guessing whether its pid is still ours; a lock dies with its holder.
 */
#include "lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fsx.h"
#include "log.h"

#include "banned.h"

int lock_take(struct lock *l, const char *data_dir, const char *command, struct crm_err *e)
{
	char path[4096], info[256], stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	ssize_t n;
	int rc;

	l->fd = -1;
	rc = fsx_mkdirs(data_dir, e);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/.lock", data_dir);
	l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->fd < 0)
		return err_sys(e, CRM_E_IO, errno, path, "cannot open lock file");
	if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;

		n = pread(l->fd, info, sizeof(info) - 1, 0);
		info[n > 0 ? n : 0] = '\0';
		info[strcspn(info, "\n")] = '\0';
		close(l->fd);
		l->fd = -1;
		if (saved != EWOULDBLOCK)
			return err_sys(e, CRM_E_IO, saved, path, "cannot lock");
		return err_at(e, CRM_E_LOCKED, path, 0, NULL,
			      "another crmetl run holds the lock on '%s' (%s)", data_dir,
			      info[0] ? info : "holder unknown");
	}
	if (!gmtime_r(&now, &tm) || !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm))
		stamp[0] = '\0';
	n = snprintf(info, sizeof(info), "pid %ld, crmetl %s, started %s\n", (long)getpid(), command,
		     stamp);
	if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, info, (size_t)n, 0) != n)
		return err_sys(e, CRM_E_IO, errno, path, "cannot write lock file");
	return 0;
}

/* The PID of a "NAME.tmp.PID" file name, or 0 when it is not one. */
static long tmp_pid(const char *name)
{
	const char *p = strstr(name, ".tmp.");
	long pid = 0;

	if (!p || p == name)
		return 0;
	for (p += 5; *p >= '0' && *p <= '9' && pid < 100000000L; p++)
		pid = pid * 10 + (*p - '0');
	return *p ? 0 : pid;
}

int lock_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long me = (long)getpid();
	int n = 0;

	while (d && (de = readdir(d)) != NULL) {
		char path[4096];
		long pid = tmp_pid(de->d_name);

		if (pid <= 0 || pid == me ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (unlink(path) == 0) {
			log_debug("removed %s, left by a crmetl that was stopped", path);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

void lock_release(struct lock *l)
{
	if (l->fd >= 0) {
		flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	l->fd = -1;
}
