/*
 * stamp.c - fingerprints of files by identity (see stamp.h).
 *
 * Does not read file contents: the point is to decide in microseconds
 * that work can be skipped. Where bytes matter (is this the report that
 * was mailed?) the callers hash the bytes themselves.
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "stamp.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

#define STAMP_DIR_MAX 1000000 /* files of one directory stamped; more is not a data_dir */

void stamp_init(struct stamp *s)
{
	sha256_init(&s->c);
}

void stamp_text(struct stamp *s, const char *text)
{
	sha256_update(&s->c, text, strlen(text) + 1); /* the NUL keeps "ab","c" apart from "a","bc" */
}

void stamp_file(struct stamp *s, const char *path)
{
	struct stat st;
	char id[160];

	stamp_text(s, path);
	if (stat(path, &st) != 0) {
		stamp_text(s, "missing");
		return;
	}
	snprintf(id, sizeof(id), "%llu %llu %lld %lld.%09ld", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	stamp_text(s, id);
}

/* One loaded shared object, by identity. */
static int stamp_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (info->dlpi_name && info->dlpi_name[0])
		stamp_file(arg, info->dlpi_name);
	return 0;
}

int stamp_program(struct stamp *s)
{
	struct stat st;

	if (stat("/proc/self/exe", &st) != 0)
		return -1;
	stamp_file(s, "/proc/self/exe");
	dl_iterate_phdr(stamp_object, s);
#if defined(__x86_64__) || defined(__i386__)
	/* glibc picks its exp, log and pow by CPU (FMA or not): they may round otherwise */
	stamp_text(s, __builtin_cpu_supports("fma") ? "fma" : "no fma");
	stamp_text(s, __builtin_cpu_supports("avx2") ? "avx2" : "no avx2");
#endif
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir ending in suffix, sorted; *out owned by the caller (each name too). */
static int list_names(DIR *d, const char *suffix, char ***out, size_t *n, struct crm_err *e)
{
	size_t cap = 0, sl = strlen(suffix);
	struct dirent *de;
	char **v = NULL;

	*n = 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < sl || strcmp(de->d_name + len - sl, suffix) != 0 || de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			char **nv = cap < STAMP_DIR_MAX ? realloc(v, (cap ? cap * 2 : 64) * sizeof(*v)) : NULL;

			if (!nv)
				goto nomem;
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto nomem;
		(*n)++;
	}
	qsort(v, *n, sizeof(*v), cmp_names);
	*out = v;
	return 0;
nomem:
	while (*n > 0)
		free(v[--*n]);
	free(v);
	return err_set(e, CRM_E_NOMEM, "out of memory listing a directory");
}

int stamp_dir(struct stamp *s, const char *dir, const char *suffix, struct crm_err *e)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, i;
	int rc;

	stamp_text(s, dir);
	if (!d) {
		if (errno != ENOENT)
			return err_sys(e, CRM_E_IO, errno, dir, "cannot open directory");
		stamp_text(s, "no directory");
		return 0;
	}
	rc = list_names(d, suffix, &names, &n, e);
	closedir(d);
	for (i = 0; i < n; i++) {
		char path[4096];

		if (rc == 0 && (size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
			rc = err_at(e, CRM_E_IO, dir, 0, NULL, "path too long");
		if (rc == 0)
			stamp_file(s, path);
		free(names[i]);
	}
	free(names);
	return rc;
}

void stamp_hex(struct stamp *s, char out[SHA256_HEX_LEN + 1])
{
	unsigned char d[SHA256_LEN];

	sha256_final(&s->c, d);
	sha256_hex(d, out);
}
