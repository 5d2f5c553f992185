/*
 * cmd_verify.c - `crmetl verify`: rebuild a period aside and prove the published files identical.
 *
 * Writes only to its scratch folder.
 */
#include "cli.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_END
};

static int run_verify(struct crm_run *run, struct crm_err *e)
{
	(void)run;
	return cli_not_built("verify", e);
}

const struct cmd_desc cmd_verify = {
	"verify",
	"rebuild a period aside and prove the published files identical",
	"--period YYYY-MM [options]",
	"Rebuilds the period file, metrics and report of a period in a scratch folder and compares them byte for byte with the published ones (the report apart from its creation date), naming any difference.",
	opts,
	CMD_NEEDS_CONFIG | CMD_NEEDS_PERIOD,
	run_verify
};
