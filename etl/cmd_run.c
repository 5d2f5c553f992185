/*
 * cmd_run.c - `crmetl run`: run the whole pipeline for a period: fetch, normalize, compute, report, mail.
 *
 * Orchestration only: each stage lives in its own module.
 */
#include "cli.h"

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

static int run_run(struct crm_run *run, struct crm_err *e)
{
	(void)run;
	return cli_not_built("run", e);
}

const struct cmd_desc cmd_run = {
	"run",
	"run the whole pipeline for a period: fetch, normalize, compute, report, mail",
	"[options]",
	"Runs every stage in order for the last closed period (the previous calendar month), or for --period, or for each period of --from/--to. Each stage skips work whose inputs did not change unless --force is given. Only one run per data directory at a time.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_run
};
