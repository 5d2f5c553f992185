/*
 * cmd_run.c - `crmetl run`: the nightly job, every stage in order.
 *
 * Orchestration only: each stage lives in its own module and is called
 * here in order (fetch -> normalize -> compute -> report -> mail). A
 * failing stage stops the run with its own status; the stages before it
 * have done their work, which is kept, and the run summary says which
 * stage failed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "cli.h"
#include "cpus.h"
#include "fetch.h"
#include "lock.h"
#include "log.h"
#include "mail.h"
#include "met.h"
#include "norm.h"
#include "period.h"
#include "publish.h"
#include "runlog.h"
#include "tpl.h"
#include "tz.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_RANGE,
	{ "no-mail", 0, CLI_FLAG, OPT_NO_MAIL, NULL, "build the reports but send nothing", NULL },
	CLI_OPT_DRY_RUN,
	CLI_OPT_FORCE,
	CLI_OPT_END
};

static int has_url_source(const struct cfg *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].url)
			return 1;
	return 0;
}

static int stage_fetch(const struct cfg *cfg, struct runlog_stage *s, struct crm_err *e)
{
	struct fetch_stats st;
	int rc;

	if (!has_url_source(cfg)) {
		log_info("run: fetch: no source has a url, nothing to fetch");
		return 0;
	}
	memset(&st, 0, sizeof(st));
	rc = fetch_run(cfg, &st, e);
	runlog_value(s, "sources", st.sources);
	runlog_value(s, "downloaded", st.downloaded);
	runlog_value(s, "unchanged", st.unchanged);
	runlog_value(s, "failed", st.failed);
	runlog_value(s, "retries", st.retries);
	runlog_value(s, "bytes", st.bytes);
	return rc;
}

/* Normalize every period: work is skipped where inputs did not change. */
static int stage_normalize(const struct cfg *cfg, int force, struct runlog *r,
			   struct runlog_stage *s, struct crm_err *e)
{
	struct norm_opts no = { 0, 0, 0, force };
	struct norm_stats st;
	int rc = norm_run(cfg, &no, &st, e);

	r->rows_read += st.rows_read;
	r->rows_rejected += st.rows_rejected;
	r->restatements += (unsigned long long)st.periods_restated;
	runlog_value(s, "rows_read", st.rows_read);
	runlog_value(s, "rows_rejected", st.rows_rejected);
	runlog_value(s, "duplicates", st.duplicates);
	runlog_value(s, "periods_written", (unsigned long long)st.periods_written);
	runlog_value(s, "periods_restated", (unsigned long long)st.periods_restated);
	runlog_value(s, "periods_reencoded", (unsigned long long)st.periods_reencoded);
	runlog_value(s, "inputs_unchanged", (unsigned long long)st.unchanged_inputs);
	if (rc == 0 && st.unchanged_inputs)
		log_info("run: normalize: inputs unchanged, period files kept");
	else if (rc == 0)
		log_info("run: normalize: %llu rows read, %llu rejected; %d period files written "
			 "(%d restated), %d unchanged",
			 (unsigned long long)st.rows_read, (unsigned long long)st.rows_rejected,
			 st.periods_written, st.periods_restated, st.periods_unchanged);
	return rc;
}

static int stage_compute(const struct cfg *cfg, int from, int to, int force,
			 struct runlog_stage *s, struct crm_err *e)
{
	struct met_opts mo = { 1, from, to, force };
	struct met_stats st;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = met_run(cfg, &mo, &st, e);
	runlog_value(s, "metrics_files_written", (unsigned long long)st.periods_written);
	runlog_value(s, "metrics_files_restated", (unsigned long long)st.periods_restated);
	runlog_value(s, "rows", st.rows);
	if (rc == 0 && st.skipped)
		log_info("run: compute: nothing changed since the last compute");
	else if (rc == 0)
		log_info("run: compute: %d metrics files written (%d restated)", st.periods_written,
			 st.periods_restated);
	return rc;
}

/* One report per period, with the configured template and language, one process per usable CPU. */
static int stage_report(const struct cfg *cfg, int from, int to, int force,
			struct runlog_stage *s, struct crm_err *e)
{
	int rc, n, kept;

	rc = rep_publish_range(cfg, from, to, cfg->report_template, cfg->report_lang, force,
			       cpus_usable(), &n, &kept, e);
	runlog_value(s, "reports", (unsigned long long)n);
	runlog_value(s, "reports_unchanged", (unsigned long long)kept);
	return rc;
}

/*
 * Mail is the last stage: each period's report to every distribution list.
 * A config without [mail] sends nothing; a backfill (--from/--to) mails
 * nothing; --force is not passed on: rebuilding files must not spam
 * inboxes (a restated period is sent again anyway, marked as such).
 */
static int stage_mail(const struct cfg *cfg, const struct crm_opts *o, int from, int to,
		      struct runlog_stage *s, struct crm_err *e)
{
	struct mail_opts mo = { o->dry_run, 0, 0, 0 };
	struct mail_stats st;
	int p, rc = 0, sent = 0, skipped = 0;

	if (cfg->n_mails == 0) {
		log_info("run: mail: no [mail] section in the configuration, nothing to send");
		return 0;
	}
	if (o->no_mail || o->has_range) {
		log_info("run: mail: skipped (%s)", o->no_mail ? "--no-mail" : "a --from/--to backfill");
		return 0;
	}
	for (p = from; rc == 0 && p <= to; p++) {
		memset(&st, 0, sizeof(st));
		rc = mail_deliver(cfg, p, &mo, &st, e);
		sent += st.sent;
		skipped += st.skipped;
	}
	runlog_value(s, "sent", (unsigned long long)sent);
	runlog_value(s, "already_sent", (unsigned long long)skipped);
	return rc;
}

/*
 * A run killed while writing leaves "NAME.tmp.PID" files (fsx.h) that no
 * stage reads but that would stay forever beside the outputs. The data_dir
 * lock is ours, so nobody else is writing: sweep them before starting.
 */
static void sweep_leftovers(const char *data_dir)
{
	static const char *const dirs[] = { "", "/periods", "/quarantine", "/metrics",
					    "/reports", "/runs", "/sent", "/outbox", "/stamps",
					    "/cache" };
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[4096];

		if ((size_t)snprintf(path, sizeof(path), "%s%s", data_dir, dirs[i]) < sizeof(path))
			n += lock_sweep(path);
	}
	if (n)
		log_info("run: removed %d temporary file%s left by a run that was stopped", n,
			 n > 1 ? "s" : "");
}

/* The longest trend of template `name`, in months before its period; 0 when it cannot be read. */
static int trend_reach(const struct cfg *cfg, const char *name)
{
	struct crm_err ignored = { 0 };
	struct tpl *t = NULL;
	char path[4200];
	size_t i;
	int reach = 0;

	if (rep_template_path(cfg, name, path, sizeof(path), &ignored) ||
	    tpl_load(path, &t, &ignored))
		return 0; /* the report stage says what is wrong with it */
	for (i = 0; i < t->n_sections; i++)
		if (t->sections[i].kind == TPL_TREND && t->sections[i].months - 1 > reach)
			reach = t->sections[i].months - 1;
	tpl_free(t);
	return reach;
}

/*
 * How many months before the first period compute covers: the report
 * compares with the same month a year ago (12) and draws trends over its
 * template's `months`. Fewer would not fail, a month without metrics reads
 * n/a, but then an old period re-run alone would not give the report its
 * first build gave when a backfill had computed those months. Every
 * template in use counts: [report]'s and those of the mail lists.
 */
static int history_months(const struct cfg *cfg)
{
	int need = 12, r;
	size_t i;

	if ((r = trend_reach(cfg, cfg->report_template)) > need)
		need = r;
	for (i = 0; i < cfg->n_mails; i++)
		if (cfg->mails[i].template && (r = trend_reach(cfg, cfg->mails[i].template)) > need)
			need = r;
	return need;
}

static const char *const stage_names[] = { "fetch", "normalize", "compute", "report", "mail" };

/* Run stage i; later stages are recorded as skipped once one fails. */
static int run_stage(struct crm_run *run, struct runlog *r, int i, int from, int to,
		     struct crm_err *e)
{
	struct runlog_stage *s = runlog_stage(r, stage_names[i]);
	struct timespec t0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (i) {
	case 0: rc = stage_fetch(run->cfg, s, e); break;
	case 1: rc = stage_normalize(run->cfg, run->opts->force, r, s, e); break;
	/* The report compares with the month before and a year before, and draws trends. */
	case 2:
		rc = stage_compute(run->cfg, from - history_months(run->cfg), to, run->opts->force, s, e);
		break;
	case 3: rc = stage_report(run->cfg, from, to, run->opts->force, s, e); break;
	default: rc = stage_mail(run->cfg, run->opts, from, to, s, e); break;
	}
	runlog_end(r, s, rc, &t0);
	if (rc == 0 && i == 4 && (run->cfg->n_mails == 0 || run->opts->no_mail || run->opts->has_range))
		s->status = "skipped";
	return rc;
}

/* The last month closed in the pipeline's timezone, not in UTC. */
static int default_period(const struct cfg *cfg, int *p, struct crm_err *e)
{
	struct tz *tz = NULL;
	int rc = tz_load(cfg->timezone, &tz, e);

	if (rc == 0)
		*p = period_last_closed_in(tz, time(NULL));
	tz_free(tz);
	return rc;
}

static int run_run(struct crm_run *run, struct crm_err *e)
{
	const struct crm_opts *o = run->opts;
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	struct runlog r;
	int from, to, i, rc = 0;

	if (o->has_range) {
		from = o->from;
		to = o->to;
	} else if (o->has_period) {
		from = to = o->period;
	} else if ((rc = default_period(run->cfg, &from, e))) {
		return rc;
	} else {
		to = from;
	}
	log_info("run: periods %s..%s", period_format(from, a), period_format(to, b));
	sweep_leftovers(run->cfg->data_dir);
	runlog_start(&r, from, to);
	for (i = 0; rc == 0 && i < 5; i++)
		rc = run_stage(run, &r, i, from, to, e);
	for (; i < 5; i++)
		runlog_stage(&r, stage_names[i])->status = "skipped";
	runlog_finish(&r, run->cfg->data_dir, rc, e);
	return rc;
}

const struct cmd_desc cmd_run = {
	"run",
	"run the whole pipeline for a period: fetch, normalize, compute, report, mail",
	"[options]",
	"Runs every stage in order for the last closed period (the previous calendar month in the configured timezone), "
	"or for --period, or for each period of --from/--to: fetch (sources with a url), "
	"normalize (skipped when no input changed), compute, report, mail. Every stage skips "
	"work whose inputs did not change (a report keeps a stamp in <data_dir>/stamps) "
	"unless --force is given, and mail never sends the same report twice. Only one run per data directory at "
	"a time. A backfill (--from/--to) mails nothing; --no-mail skips mail; --dry-run writes "
	"the messages to <data_dir>/outbox instead. A failing stage stops the run with its status, "
	"keeping what the stages before it did.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_run
};
