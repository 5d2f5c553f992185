/*
 * cmd_report.c - `crmetl report`: render the PDF report of a period.
 *
 * Reads the metrics files only.
 */
#include "cli.h"

#include "banned.h"

static const char *const langs[] = { "en", "zh", NULL };

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	{ "template", 't', CLI_NAME, OPT_TEMPLATE, "NAME", "report template (default from the config)", NULL },
	{ "lang", 'l', CLI_ENUM, OPT_LANG, "en|zh", "language of the report", langs },
	CLI_OPT_FORCE,
	CLI_OPT_END
};

static int run_report(struct crm_run *run, struct crm_err *e)
{
	(void)run;
	return cli_not_built("report", e);
}

const struct cmd_desc cmd_report = {
	"report",
	"render the PDF report of a period",
	"[options]",
	"Renders <data_dir>/reports/YYYY-MM-TEMPLATE-LANG.pdf from the period's metrics and an XML template (templates/NAME.xml), in English or Chinese.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_report
};
