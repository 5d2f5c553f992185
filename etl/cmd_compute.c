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
	struct met_opts mo = { 0, 0, 0 };
	struct met_stats st;
	struct timespec t0, t1;
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	int rc;

	if (o->has_period) {
		mo.has_range = 1;
		mo.from = mo.to = o->period;
	} else if (o->has_range) {
		mo.has_range = 1;
		mo.from = o->from;
		mo.to = o->to;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = met_run(run->cfg, &mo, &st, e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc)
		return rc;
	if (st.unknown_ids)
		log_warn("compute: %llu rows name a customer missing from customers.crmp: ignored",
			 st.unknown_ids);
	if (st.first_period >= 0)
		log_info("compute: periods %s..%s: %d written (%d restated), %llu rows; %llu customers, "
			 "%llu orders in %.2f s",
			 period_format(st.first_period, a), period_format(st.last_period, b),
			 st.periods_written, st.periods_restated, st.rows, st.customers, st.orders,
			 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
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
	"Each period file is read once however many periods are computed.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_compute
};
