/*
 * cmd_normalize.c - `crmetl normalize`: parse the exports into binary
 * period files.
 *
 * The work is in norm.c; this file turns options into norm_opts and the
 * outcome into one plain log line.
 */
#include <stdio.h>
#include <time.h>

#include "cfg.h"
#include "cli.h"
#include "log.h"
#include "norm.h"
#include "period.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_RANGE,
	CLI_OPT_FORCE,
	CLI_OPT_END
};

static int run_normalize(struct crm_run *run, struct crm_err *e)
{
	const struct crm_opts *o = run->opts;
	struct norm_opts no = { 0, 0, 0, o->force };
	struct norm_stats st;
	struct timespec t0;
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	double secs;
	int rc;

	cli_range(o, &no.has_range, &no.from, &no.to);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = norm_run(run->cfg, &no, &st, e);
	secs = cli_seconds_since(&t0);
	if (rc)
		return rc;
	if (st.unchanged_inputs) {
		log_info("normalize: inputs unchanged since the last run: nothing to do (--force rebuilds)");
		return 0;
	}
	log_info("normalize: read %llu rows from %llu files (%.1f MB) in %.2f s; rejected %llu, "
		 "replaced %llu duplicates, derived %llu customers",
		 (unsigned long long)st.rows_read, (unsigned long long)st.files,
		 (double)st.bytes / 1e6, secs, (unsigned long long)st.rows_rejected,
		 (unsigned long long)st.duplicates, (unsigned long long)st.derived_customers);
	if (st.first_period < 0)
		log_warn("normalize: the exports hold no dated rows: no period file written");
	else
		log_info("normalize: periods %s..%s: %d written (%d restated), %d unchanged; %llu customers",
			 period_format(st.first_period, a), period_format(st.last_period, b),
			 st.periods_written, st.periods_restated, st.periods_unchanged,
			 (unsigned long long)st.kept[ENT_CUSTOMERS]);
	return 0;
}

const struct cmd_desc cmd_normalize = {
	"normalize",
	"parse the exports into binary period files",
	"[options]",
	"Reads every source's export (CSV, XML, gzip), validates and deduplicates the rows, "
	"quarantines bad rows with a reason in <data_dir>/quarantine/, and writes one period file "
	"per month to <data_dir>/periods/YYYY-MM.crmp plus the customers dimension "
	"<data_dir>/periods/customers.crmp. A period file whose content did not change is not "
	"rewritten, and a month whose rows are the same as when its file was written is not even "
	"rebuilt (<data_dir>/cache/YYYY-MM.rows; --force rebuilds and rewrites every file); one "
	"that changed is a restatement and is said in the log. With --period or "
	"--from/--to only those periods are written. More rejected rows than max_reject_ratio "
	"fail the run (exit status 5) without touching any period file.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_normalize
};
