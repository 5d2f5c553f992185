/*
 * cmd_mail.c - `crmetl mail`: mail the report of a period to its recipients.
 *
 * Delivery only: it never builds a report.
 */
#include "cli.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_DRY_RUN,
	{ "resend", 0, CLI_FLAG, OPT_RESEND, NULL, "send the archived report again", NULL },
	CLI_OPT_FORCE,
	CLI_OPT_END
};

static int run_mail(struct crm_run *run, struct crm_err *e)
{
	(void)run;
	return cli_not_built("mail", e);
}

const struct cmd_desc cmd_mail = {
	"mail",
	"mail the report of a period to its recipients",
	"[options]",
	"Sends the period's report by SMTP to every distribution list of the config. A ledger in <data_dir>/sent/ makes sure a report is never sent twice; --resend sends the archived PDF again.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_mail
};
