/*
 * cmd_compute.c - `crmetl compute`: compute the metrics of METRICS.md from the period files.
 *
 * Reads period files only, never the exports.
 */
#include "cli.h"

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
	(void)run;
	return cli_not_built("compute", e);
}

const struct cmd_desc cmd_compute = {
	"compute",
	"compute the metrics of METRICS.md from the period files",
	"[options]",
	"Computes every metric for each requested period, overall and per segment, from the period files alone, and writes <data_dir>/metrics/YYYY-MM.csv and .json.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_compute
};
