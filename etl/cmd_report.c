/*
 * cmd_report.c - `crmetl report`: render the PDF report of a period, or of
 * one segment of it.
 *
 * Options only: the work is rep_publish() (report/publish.c), or
 * rep_publish_segment() (report/rep_seg.c) with --segment.
 */
#include "cfg.h"
#include "cli.h"
#include "publish.h"
#include "rep_seg.h"

#include "banned.h"

static const char *const langs[] = { "en", "zh", NULL };

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	{ "template", 't', CLI_NAME, OPT_TEMPLATE, "NAME", "report template (default from the config)", NULL },
	{ "lang", 'l', CLI_ENUM, OPT_LANG, "en|zh", "language of the report", langs },
	{ "segment", 's', CLI_PATH, OPT_SEGMENT, "DIM=VALUE",
	  "report of one segment: DIM channel, region, tier or rfm (e.g. region=East)", NULL },
	CLI_OPT_FORCE,
	CLI_OPT_END
};

static int run_report(struct crm_run *run, struct crm_err *e)
{
	const struct cfg *cfg = run->cfg;
	const struct crm_opts *o = run->opts;
	const char *name = o->template_name ? o->template_name : cfg->report_template;
	const char *lang = o->lang ? o->lang : cfg->report_lang;

	if (o->segment)
		return rep_publish_segment(cfg, o->has_period ? o->period : -1, name, lang, o->segment, e);
	return rep_publish(cfg, o->has_period ? o->period : -1, name, lang, e);
}

const struct cmd_desc cmd_report = {
	"report",
	"render the PDF report of a period",
	"[options]",
	"Renders <data_dir>/reports/YYYY-MM-TEMPLATE-LANG.pdf from the period's metrics "
	"(<data_dir>/metrics/YYYY-MM.csv, and earlier months' files for changes and trends) and an "
	"XML template (templates/NAME.xml next to the configuration file), in English or Chinese. "
	"Without --period, the latest period with a metrics file. SOURCE_DATE_EPOCH fixes the "
	"creation date so the same metrics give the same bytes. With --segment DIM=VALUE the report "
	"is drawn from that segment's rows instead of the overall ones (sections computed only overall "
	"say there is no data) and written as YYYY-MM-TEMPLATE-LANG-DIM-VALUE.pdf. A bad template "
	"exits with status 3, missing metrics or an unknown segment with status 1.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_report
};
