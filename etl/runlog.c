/*
 * runlog.c - the run summary and the Prometheus textfile (see runlog.h).
 *
 * JSON is written by hand: the structure is fixed and small, and the only
 * strings are our own names, periods, times and one error message, which
 * is escaped.
 */
#include "runlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fsx.h"
#include "log.h"
#include "period.h"

#include "banned.h"

void runlog_start(struct runlog *r, int from, int to)
{
	memset(r, 0, sizeof(*r));
	r->started = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->from = from;
	r->to = to;
}

struct runlog_stage *runlog_stage(struct runlog *r, const char *name)
{
	struct runlog_stage *s;

	if (r->n_stages >= RUNLOG_MAX_STAGES)
		CRM_BUG("more than %d stages", RUNLOG_MAX_STAGES);
	s = &r->stages[r->n_stages++];
	s->name = name;
	s->status = "running";
	return s;
}

void runlog_value(struct runlog_stage *s, const char *key, unsigned long long v)
{
	if (s->n_values < RUNLOG_MAX_VALUES) {
		s->keys[s->n_values] = key;
		s->values[s->n_values++] = v;
	}
}

void runlog_end(struct runlog *r, struct runlog_stage *s, int rc, const struct timespec *t0)
{
	struct timespec t1;

	(void)r;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->seconds = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	s->status = rc == 0 ? "ok" : rc == CRM_E_UNAVAILABLE ? "not built" : "failed";
}

static void put_json_string(struct buf *b, const char *s)
{
	buf_put_u8(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_put_u8(b, c);
	}
	buf_put_u8(b, '"');
}

static void stamp(time_t t, char *out, size_t n, const char *fmt)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, n, fmt, &tm))
		snprintf(out, n, "unknown");
}

static void json(const struct runlog *r, struct buf *b, double secs, int rc, const char *msg)
{
	char a[32], c[32], p1[PERIOD_TEXT_MAX], p2[PERIOD_TEXT_MAX];
	int i, k;

	stamp(r->started, a, sizeof(a), "%Y-%m-%dT%H:%M:%SZ");
	stamp(r->started + (time_t)secs, c, sizeof(c), "%Y-%m-%dT%H:%M:%SZ");
	buf_printf(b, "{\n  \"started\": \"%s\",\n  \"finished\": \"%s\",\n  \"seconds\": %.3f,\n", a, c, secs);
	buf_printf(b, "  \"periods\": {\"from\": \"%s\", \"to\": \"%s\"},\n", period_format(r->from, p1),
	    period_format(r->to, p2));
	buf_printf(b, "  \"status\": \"%s\",\n  \"exit_status\": %d,\n  \"error\": ", rc ? "failed" : "ok",
	    err_exit_status(rc));
	if (rc)
		put_json_string(b, msg);
	else
		buf_printf(b, "null");
	buf_printf(b, ",\n  \"rows_read\": %llu,\n  \"rows_rejected\": %llu,\n  \"restatements\": %llu,\n",
	    r->rows_read, r->rows_rejected, r->restatements);
	buf_printf(b, "  \"stages\": [");
	for (i = 0; i < r->n_stages; i++) {
		const struct runlog_stage *s = &r->stages[i];

		buf_printf(b, "%s\n    {\"name\": \"%s\", \"status\": \"%s\", \"seconds\": %.3f", i ? "," : "",
		    s->name, s->status, s->seconds);
		for (k = 0; k < s->n_values; k++)
			buf_printf(b, ", \"%s\": %llu", s->keys[k], s->values[k]);
		buf_printf(b, "}");
	}
	buf_printf(b, "\n  ]\n}\n");
}

/* A value of the previous textfile (failure counter, last success), or 0. */
static double previous(const char *prom, const char *metric)
{
	const char *p = prom ? strstr(prom, metric) : NULL;
	size_t n = strlen(metric);

	while (p && (p[n] != ' ' || (p != prom && p[-1] != '\n')))
		p = strstr(p + 1, metric);
	return p ? strtod(p + n + 1, NULL) : 0;
}

static void prometheus(const struct runlog *r, struct buf *b, const char *old, double secs, int rc)
{
	double now = (double)r->started + secs;
	double last_ok = rc ? previous(old, "crmetl_last_success_timestamp_seconds") : now;
	double failures = previous(old, "crmetl_failures_total") + (rc ? 1 : 0);

	buf_printf(b, "# HELP crmetl_last_run_timestamp_seconds End of the last crmetl run.\n"
	       "# TYPE crmetl_last_run_timestamp_seconds gauge\n"
	       "crmetl_last_run_timestamp_seconds %.0f\n", now);
	buf_printf(b, "# HELP crmetl_last_success_timestamp_seconds End of the last successful run.\n"
	       "# TYPE crmetl_last_success_timestamp_seconds gauge\n"
	       "crmetl_last_success_timestamp_seconds %.0f\n", last_ok);
	buf_printf(b, "# HELP crmetl_last_run_success 1 if the last run succeeded.\n"
	       "# TYPE crmetl_last_run_success gauge\ncrmetl_last_run_success %d\n", rc == 0);
	buf_printf(b, "# HELP crmetl_last_run_exit_status Exit status of the last run.\n"
	       "# TYPE crmetl_last_run_exit_status gauge\ncrmetl_last_run_exit_status %d\n",
	    err_exit_status(rc));
	buf_printf(b, "# HELP crmetl_last_run_duration_seconds Duration of the last run.\n"
	       "# TYPE crmetl_last_run_duration_seconds gauge\n"
	       "crmetl_last_run_duration_seconds %.3f\n", secs);
	buf_printf(b, "# HELP crmetl_last_run_rows_read Export rows read by the last run.\n"
	       "# TYPE crmetl_last_run_rows_read gauge\ncrmetl_last_run_rows_read %llu\n", r->rows_read);
	buf_printf(b, "# HELP crmetl_last_run_rows_rejected Rows quarantined by the last run.\n"
	       "# TYPE crmetl_last_run_rows_rejected gauge\ncrmetl_last_run_rows_rejected %llu\n",
	    r->rows_rejected);
	buf_printf(b, "# HELP crmetl_last_run_restatements Periods restated by the last run.\n"
	       "# TYPE crmetl_last_run_restatements gauge\ncrmetl_last_run_restatements %llu\n",
	    r->restatements);
	buf_printf(b, "# HELP crmetl_failures_total Failed runs so far.\n"
	       "# TYPE crmetl_failures_total counter\ncrmetl_failures_total %.0f\n", failures);
}

static void write_or_warn(const char *path, const struct buf *b)
{
	struct crm_err e = { 0 };
	char msg[1024];

	if (b->failed || fsx_write_atomic(path, b->data, b->len, &e) != 0)
		log_warn("run: cannot write %s: %s", path, b->failed ? "out of memory" :
			 err_format(&e, msg, sizeof(msg)));
}

void runlog_finish(struct runlog *r, const char *data_dir, int rc, const struct crm_err *e)
{
	struct timespec t1;
	struct crm_err ignored = { 0 };
	struct buf b;
	unsigned char *old = NULL;
	size_t old_len = 0;
	char path[4096], when[32], msg[1024];
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - r->t0.tv_sec) + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9;
	err_format(e, msg, sizeof(msg));
	buf_init(&b, 1 << 20);
	stamp(r->started, when, sizeof(when), "%Y%m%dT%H%M%SZ");
	snprintf(path, sizeof(path), "%s/runs", data_dir);
	if (fsx_mkdirs(path, &ignored) == 0) {
		json(r, &b, secs, rc, msg);
		/* The pid keeps two runs started in the same second apart. */
		snprintf(path, sizeof(path), "%s/runs/%s-%ld.json", data_dir, when, (long)getpid());
		write_or_warn(path, &b);
	}
	snprintf(path, sizeof(path), "%s/crmetl.prom", data_dir);
	fsx_read_file(path, 1 << 20, &old, &old_len, &ignored);
	b.len = 0;
	prometheus(r, &b, (const char *)old, secs, rc);
	write_or_warn(path, &b);
	free(old);
	buf_release(&b);
	if (rc == 0)
		log_info("run: ok in %.1f s: %llu rows read, %llu rejected, %llu restatements", secs,
			 r->rows_read, r->rows_rejected, r->restatements);
	else
		log_error("run: FAILED in %.1f s (exit status %d): %s", secs, err_exit_status(rc), msg);
}
