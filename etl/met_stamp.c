/*
 * met_stamp.c - the inputs stamp of compute and metrics/computed.txt
 * (met_stamp.h).
 *
 * Content, not times: a period file rewritten with the same bytes keeps
 * its stamp, and a restated one changes it even within the same second.
 * CRC-32 is enough here: the question is "did normalize write something
 * else", not "did someone forge a file".
 */
#include "met_stamp.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "fsx.h"
#include "period.h"

#include "banned.h"

#define STAMP_HEAD "crmetl compute stamp 1\n"
#define FILE_MAX ((size_t)16 << 20)

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the period files (*.crmp, not hidden) in dir. */
static int list_crmp(const char *dir, char ***names, size_t *n, struct crm_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : err_sys(e, CRM_E_INPUT, errno, dir, "cannot list");
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".crmp") != 0)
			continue;
		if (*n == cap) {
			char **g = realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof(*g));

			if (!g)
				goto nomem;
			*names = g;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			goto nomem;
		(*n)++;
	}
	closedir(d);
	qsort(*names, *n, sizeof(**names), cmp_name);
	return 0;
nomem:
	closedir(d);
	return err_set(e, CRM_E_NOMEM, "out of memory");
}

int met_stamp_make(const struct cfg *c, const char *periods_dir, struct buf *out,
		   struct crm_err *e)
{
	const double *w = c->loyalty_weights;
	char **names = NULL;
	size_t n = 0, i;
	int rc;

	buf_printf(out, STAMP_HEAD "engine %d\ntimezone %s\nchurn_model %d\ninactivity_days %d\n"
		   "sla_hours %d\nmax_lifespan_years %d\nloyalty_weights %.17g %.17g %.17g\n"
		   "clv_horizon_months %d\nclv_discount_rate %.17g\n",
		   MET_ENGINE_VERSION, c->timezone, (int)c->churn_model, c->inactivity_days,
		   c->sla_hours, c->max_lifespan_years, w[0], w[1], w[2], c->clv_horizon_months,
		   c->clv_discount_rate);
	rc = list_crmp(periods_dir, &names, &n, e);
	for (i = 0; i < n && !rc; i++) {
		unsigned long long size;
		unsigned long crc;

		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", periods_dir, names[i]);
		rc = fsx_file_crc32(path, &size, &crc, e);
		if (!rc)
			buf_printf(out, "file %s %llu %08lx\n", names[i], size, crc);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!rc && out->failed)
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
	return rc;
}

/* The "computed ..." lines after the stamp, or NULL when the stamp differs. */
static char *read_tail(const char *metrics_dir, const struct buf *stamp, char **whole)
{
	char path[4096];
	unsigned char *text = NULL;
	size_t len = 0;
	struct crm_err ignored = { 0 };

	*whole = NULL;
	snprintf(path, sizeof(path), "%s/computed.txt", metrics_dir);
	if (fsx_read_file(path, FILE_MAX, &text, &len, &ignored))
		return NULL;
	*whole = (char *)text;
	if (len < stamp->len || memcmp(text, stamp->data, stamp->len) != 0 ||
	    memchr(text, '\0', len))
		return NULL;
	return (char *)text + stamp->len;
}

static int has_line(const char *tail, const char *line)
{
	size_t n = strlen(line);
	const char *p = tail;

	while ((p = strstr(p, line))) {
		if ((p == tail || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static int outputs_exist(const char *metrics_dir, const char *ptext)
{
	static const char *const suffix[] = { ".csv", ".json", "-customers.csv" };
	char path[4096];
	struct stat st;
	int k;

	for (k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "%s/%s%s", metrics_dir, ptext, suffix[k]);
		if (stat(path, &st) != 0)
			return 0;
	}
	return 1;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Append the periods of the "computed YYYY-MM" lines of tail to ps. */
static int tail_periods(const char *tail, int **ps, size_t *n, size_t *cap)
{
	const char *line = tail;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char t[PERIOD_TEXT_MAX];
		struct crm_err ignored = { 0 };
		int q;

		if (len > 9 && len - 9 < sizeof(t) && !strncmp(line, "computed ", 9)) {
			memcpy(t, line + 9, len - 9);
			t[len - 9] = '\0';
			if (strcmp(t, "all") && period_parse(t, "period", &q, &ignored) == 0) {
				if (*n == *cap) {
					int *g = realloc(*ps, (*cap = *cap ? *cap * 2 : 64) * sizeof(*g));

					if (!g)
						return -1;
					*ps = g;
				}
				(*ps)[(*n)++] = q;
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

int met_stamp_done(const char *metrics_dir, const struct buf *stamp, int all, int from, int to)
{
	char *whole, *tail = read_tail(metrics_dir, stamp, &whole), t[PERIOD_TEXT_MAX];
	char want[PERIOD_TEXT_MAX + 16];
	int *ps = NULL, ok = tail != NULL, p;
	size_t n = 0, cap = 0, i;

	/* a run without a range: every period it recorded must still be there */
	if (ok && all) {
		ok = has_line(tail, "computed all") && tail_periods(tail, &ps, &n, &cap) == 0;
		for (i = 0; ok && i < n; i++)
			ok = outputs_exist(metrics_dir, period_format(ps[i], t));
	}
	for (p = from; ok && !all && p <= to; p++) {
		snprintf(want, sizeof(want), "computed %s", period_format(p, t));
		ok = has_line(tail, want) && outputs_exist(metrics_dir, t);
	}
	free(ps);
	free(whole);
	return ok;
}

int met_stamp_record(const char *metrics_dir, const struct buf *stamp, int all, int from,
		     int to, struct crm_err *e)
{
	char *whole, *tail = read_tail(metrics_dir, stamp, &whole), path[4096];
	int *ps = NULL, p, rc = 0;
	size_t n = 0, cap = 0, i;
	struct buf b;

	buf_init(&b, FILE_MAX);
	buf_append(&b, stamp->data, stamp->len);
	if (all || (tail && has_line(tail, "computed all")))
		buf_printf(&b, "computed all\n");
	if (tail && tail_periods(tail, &ps, &n, &cap))
		rc = -1;
	for (p = from; p <= to && !rc; p++) {
		if (n == cap) {
			int *g = realloc(ps, (cap = cap ? cap * 2 : 64) * sizeof(*g));

			if (!g) {
				rc = -1;
				break;
			}
			ps = g;
		}
		ps[n++] = p;
	}
	if (ps)
		qsort(ps, n, sizeof(*ps), cmp_int);
	for (i = 0; i < n && !rc; i++) {
		char t[PERIOD_TEXT_MAX];

		if (i == 0 || ps[i] != ps[i - 1])
			buf_printf(&b, "computed %s\n", period_format(ps[i], t));
	}
	free(ps);
	free(whole);
	snprintf(path, sizeof(path), "%s/computed.txt", metrics_dir);
	rc = rc || b.failed ? err_set(e, CRM_E_NOMEM, "out of memory")
			    : fsx_write_atomic(path, b.data, b.len, e);
	buf_release(&b);
	return rc;
}
