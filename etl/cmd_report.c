/*
 * cmd_report.c - `crmetl report`: render the PDF report of a period.
 *
 * Options only: the work is rep_publish() (report/publish.c).
 */
#include "cfg.h"
#include "cli.h"
#include "publish.h"

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
	const struct cfg *cfg = run->cfg;
	const struct crm_opts *o = run->opts;

	return rep_publish(cfg, o->has_period ? o->period : -1,
			   o->template_name ? o->template_name : cfg->report_template,
			   o->lang ? o->lang : cfg->report_lang, e);
}

const struct cmd_desc cmd_report = {
	"report",
	"render the PDF report of a period",
	"[options]",
	"Renders <data_dir>/reports/YYYY-MM-TEMPLATE-LANG.pdf from the period's metrics "
	"(<data_dir>/metrics/YYYY-MM.csv, and earlier months' files for changes and trends) and an "
	"XML template (templates/NAME.xml next to the configuration file), in English or Chinese. "
	"Without --period, the latest period with a metrics file. SOURCE_DATE_EPOCH fixes the "
	"creation date so the same metrics give the same bytes. A bad template exits with status 3, "
	"missing metrics with status 1.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_report
};
