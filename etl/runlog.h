/*
 * runlog.h - what a `crmetl run` did, for people and for monitoring.
 *
 * Each stage adds a record (name, status, seconds, a few numbers); at the
 * end, however the run ended, runlog_finish() writes
 *   <data_dir>/runs/<started>-<pid>.json   the whole story of this run,
 *   <data_dir>/crmetl.prom           a Prometheus textfile (node_exporter's
 *                                    textfile collector) with the last run's
 *                                    time, duration, rows, rejects, success,
 *                                    the last success time and a failure
 *                                    counter carried over from the previous
 *                                    file, so a job that fails silently at
 *                                    night raises an alert,
 * and logs one human line. Files are written atomically; a failure to
 * write them is logged, never hides the run's own status.
 */
#ifndef CRM_RUNLOG_H
#define CRM_RUNLOG_H

#include <time.h>

#include "err.h"

#define RUNLOG_MAX_STAGES 8
#define RUNLOG_MAX_VALUES 8

struct runlog_stage {
	const char *name;          /* "fetch", ... (static) */
	const char *status;        /* "ok", "skipped", "failed", "not built" (static) */
	double seconds;
	int n_values;
	const char *keys[RUNLOG_MAX_VALUES];       /* static names */
	unsigned long long values[RUNLOG_MAX_VALUES];
};

struct runlog {
	time_t started;
	struct timespec t0;
	int from, to;              /* periods */
	int n_stages;
	struct runlog_stage stages[RUNLOG_MAX_STAGES];
	unsigned long long rows_read, rows_rejected, restatements;
};

void runlog_start(struct runlog *r, int from, int to);

/* Start a stage record; returns it for runlog_value()/runlog_end(). */
struct runlog_stage *runlog_stage(struct runlog *r, const char *name);
void runlog_value(struct runlog_stage *s, const char *key, unsigned long long v);
/* Close a stage with the status its code implies (0 ok, CRM_E_UNAVAILABLE not built). */
void runlog_end(struct runlog *r, struct runlog_stage *s, int rc, const struct timespec *t0);

/* Write runs/<time>.json and crmetl.prom under data_dir, log the summary line. */
void runlog_finish(struct runlog *r, const char *data_dir, int rc, const struct crm_err *e);

#endif
