/*
 * fsx.c - whole-file reads, atomic writes, mkdir -p (see fsx.h).
 *
 * Temporary files are named "<target>.tmp.<pid>" in the target's directory
 * so the rename never crosses a file system; a leftover from a killed run
 * is harmless (never read) and is replaced by the next run with that pid
 * or removed by the stage that owns the directory.
 */
#include "fsx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "banned.h"

int fsx_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
		  struct crm_err *e)
{
	struct stat st;
	unsigned char *data = NULL;
	size_t got = 0;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, errno == ENOENT ? CRM_E_INPUT : CRM_E_IO, errno, path, "cannot open");
	if (fstat(fd, &st) != 0) {
		rc = err_sys(e, CRM_E_IO, errno, path, "cannot stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_at(e, CRM_E_INPUT, path, 0, NULL, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = err_at(e, CRM_E_INPUT, path, 0, NULL, "file is larger than %zu bytes", max);
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_sys(e, CRM_E_IO, errno, path, "cannot read");
			goto out;
		}
		if (n == 0)
			break; /* shrank while reading: take what is there */
		got += (size_t)n;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

int fsx_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsx_sync_parent(const char *path, struct crm_err *e)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, CRM_E_IO, errno, dir, "cannot open directory");
	if (fsync(fd) != 0 && errno != EINVAL) {
		int saved = errno;

		close(fd);
		return err_sys(e, CRM_E_IO, saved, dir, "cannot sync directory");
	}
	close(fd);
	return 0;
}

int fsx_atomic_open(struct fsx_atomic *a, const char *path, struct crm_err *e)
{
	a->fd = -1;
	if ((size_t)snprintf(a->path, sizeof(a->path), "%s", path) >= sizeof(a->path) ||
	    (size_t)snprintf(a->tmp, sizeof(a->tmp), "%s.tmp.%ld", path, (long)getpid()) >=
		    sizeof(a->tmp))
		return err_at(e, CRM_E_IO, path, 0, NULL, "path too long");
	a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (a->fd < 0)
		return err_sys(e, CRM_E_IO, errno, a->tmp, "cannot create");
	return 0;
}

void fsx_atomic_abort(struct fsx_atomic *a)
{
	if (a->fd < 0)
		return;
	close(a->fd);
	unlink(a->tmp);
	a->fd = -1;
}

int fsx_atomic_write(struct fsx_atomic *a, const void *data, size_t len, struct crm_err *e)
{
	if (fsx_write_all(a->fd, data, len) != 0) {
		int saved = errno;

		fsx_atomic_abort(a);
		return err_sys(e, CRM_E_IO, saved, a->tmp, "cannot write");
	}
	return 0;
}

int fsx_atomic_commit(struct fsx_atomic *a, struct crm_err *e)
{
	int saved;

	if (fsync(a->fd) != 0) {
		saved = errno;
		fsx_atomic_abort(a);
		return err_sys(e, CRM_E_IO, saved, a->tmp, "cannot write");
	}
	saved = close(a->fd) != 0 ? errno : 0;
	a->fd = -1;
	if (saved) {
		unlink(a->tmp);
		return err_sys(e, CRM_E_IO, saved, a->tmp, "cannot write");
	}
	if (rename(a->tmp, a->path) != 0) {
		saved = errno;
		unlink(a->tmp);
		return err_sys(e, CRM_E_IO, saved, a->path, "cannot replace");
	}
	return fsx_sync_parent(a->path, e);
}

int fsx_write_atomic(const char *path, const void *data, size_t len, struct crm_err *e)
{
	struct fsx_atomic a;
	int rc = fsx_atomic_open(&a, path, e);

	if (rc == 0)
		rc = fsx_atomic_write(&a, data, len, e);
	if (rc == 0)
		rc = fsx_atomic_commit(&a, e);
	return rc;
}

int fsx_read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	*len = 0;
	while (*len < cap && ((got = read(fd, buf + *len, cap - *len)) > 0 ||
			      (got < 0 && errno == EINTR)))
		*len += got > 0 ? (size_t)got : 0;
	close(fd);
	return *len < cap ? 0 : -1;
}

int fsx_replace_unsynced(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	rc = fsx_write_all(fd, data, len);
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Compare the file at `path` with data without reading it all at once. */
int fsx_same_content(const char *path, const void *data, size_t len)
{
	unsigned char block[65536];
	const unsigned char *p = data;
	struct stat st;
	size_t off = 0;
	int fd, same = 1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != len) {
		close(fd);
		return 0;
	}
	while (same && off < len) {
		ssize_t n = read(fd, block, sizeof(block));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > len - off || memcmp(block, p + off, (size_t)n) != 0)
			same = 0;
		else
			off += (size_t)n;
	}
	close(fd);
	return same;
}

int fsx_write_if_changed(const char *path, const void *data, size_t len, int *changed,
			 struct crm_err *e)
{
	if (fsx_same_content(path, data, len)) {
		if (changed)
			*changed = 0;
		return 0;
	}
	if (changed)
		*changed = 1;
	return fsx_write_atomic(path, data, len, e);
}

int fsx_mkdirs(const char *path, struct crm_err *e)
{
	struct stat st;
	char buf[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return err_at(e, CRM_E_IO, path, 0, NULL, "bad directory name");
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return err_sys(e, CRM_E_IO, errno, buf, "cannot create directory");
		buf[i] = i < n ? '/' : '\0';
	}
	/* EEXIST was fine on the way, but the end must be a directory, not a file */
	if (stat(path, &st) != 0)
		return err_sys(e, CRM_E_IO, errno, path, "cannot create directory");
	if (!S_ISDIR(st.st_mode))
		return err_sys(e, CRM_E_IO, ENOTDIR, path, "cannot create directory");
	return 0;
}

int fsx_file_crc32(const char *path, unsigned long long *size, unsigned long *crc,
		   struct crm_err *e)
{
	unsigned char *block = malloc(1 << 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	*size = 0;
	*crc = crc32(0, NULL, 0);
	if (!block || fd < 0) {
		rc = fd < 0 ? err_sys(e, CRM_E_INPUT, errno, path, "cannot open")
			    : err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	while ((n = read(fd, block, 1 << 20)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_sys(e, CRM_E_INPUT, errno, path, "cannot read");
			goto out;
		}
		*size += (unsigned long long)n;
		*crc = crc32(*crc, block, (uInt)n);
	}
out:
	if (fd >= 0)
		close(fd);
	free(block);
	return rc;
}
