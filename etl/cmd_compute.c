/*
 * cmd_compute.c - `crmetl compute`: compute the metrics of METRICS.md from the period files.
 *
 * Reads period files only, never the exports. The work is in met.c; this
 * file turns options into met_opts and the outcome into one log line.
 */
#include <time.h>

#include "cfg.h"
#include "cli.h"
#include "log.h"
#include "met.h"
#include "period.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_RANGE,
	CLI_OPT_FORCE,
	CLI_OPT_END
};

static int run_compute(struct crm_run *run, struct crm_err *e)
{
	const struct crm_opts *o = run->opts;
	struct met_opts mo = { 0, 0, 0, 0 };
	struct met_stats st;
	struct timespec t0;
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	double secs;
	int rc;

	cli_range(o, &mo.has_range, &mo.from, &mo.to);
	mo.force = o->force;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = met_run(run->cfg, &mo, &st, e);
	secs = cli_seconds_since(&t0);
	if (rc)
		return rc;
	if (st.skipped) {
		log_info("compute: nothing to do: the period files and settings are those of the "
			 "last compute (--force computes again)");
		return 0;
	}
	if (st.unknown_ids)
		log_warn("compute: %llu rows name a customer missing from customers.crmp: ignored",
			 st.unknown_ids);
	if (st.first_period >= 0)
		log_info("compute: periods %s..%s: %d written (%d restated), %llu rows; %llu customers, "
			 "%llu orders in %.2f s",
			 period_format(st.first_period, a), period_format(st.last_period, b),
			 st.periods_written, st.periods_restated, st.rows, st.customers, st.orders, secs);
	return 0;
}

const struct cmd_desc cmd_compute = {
	"compute",
	"compute the metrics of METRICS.md from the period files",
	"[options]",
	"Computes every metric for each requested period, overall and per segment, from the "
	"period files alone, and writes <data_dir>/metrics/YYYY-MM.csv and .json (one row a "
	"value) and YYYY-MM-customers.csv (one row a customer). Without --period or --from/--to "
	"it covers the first month with a customer or order to the last month with an order. "
	"Each period file is read once however many periods are computed. When the period files "
	"and the [metrics] settings are those of the last compute and its outputs are there, "
	"nothing is done (see metrics/computed.txt); --force computes again. Each month's CLV "
	"model fits are kept in <data_dir>/cache and reused while their inputs and the crmetl "
	"program are the same (--force fits again).",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_compute
};
