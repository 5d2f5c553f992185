/*
 * cmd_verify.c - `crmetl verify`: rebuild a period aside and prove the published files identical.
 *
 * Options only: the work is verify_period() (etl/verify.c). Writes only to
 * its scratch folder, <data_dir>/tmp/verify-<pid>, removed at the end; it
 * takes the data_dir lock so no run changes the files while they are read.
 */
#include <stdio.h>

#include "cli.h"
#include "verify.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_END
};

static int run_verify(struct crm_run *run, struct crm_err *e)
{
	struct verify_stats st;

	return verify_period(run->cfg, run->opts->period, stdout, &st, e);
}

const struct cmd_desc cmd_verify = {
	"verify",
	"rebuild a period aside and prove the published files identical",
	"--period YYYY-MM [options]",
	"Rebuilds the period from the same inputs and configuration in a scratch folder "
	"(<data_dir>/tmp/verify-<pid>, removed afterwards): normalize, compute (with the earlier "
	"months its report compares with), and each published report of the period plus the "
	"configured one, rendered with the creation date of the published PDF. Then compares "
	"periods/P.crmp, metrics/P.csv, P.json, P-customers.csv and the reports byte for byte "
	"with the published ones, printing one line per file on stdout (same, DIFFERS with the "
	"first differing line of a CSV or JSON file or byte of a binary one, MISSING). "
	"periods/P.lineage, the restatement history, is copied from the published side because "
	"a rebuild cannot know it. Nothing published is changed; the data directory lock is "
	"held throughout. Exit status 0 when every file is identical, 8 when any differs or is "
	"missing, 1 when nothing of the period is published; a stage that fails during the "
	"rebuild exits with its own status (e.g. 5 for too many rejected rows).",
	opts,
	CMD_NEEDS_CONFIG | CMD_NEEDS_PERIOD | CMD_LOCKS,
	run_verify
};
