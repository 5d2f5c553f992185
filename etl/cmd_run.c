/*
 * cmd_run.c - `crmetl run`: the nightly job, every stage in order.
 *
 * Orchestration only: each stage lives in its own module and is called
 * here in order (fetch -> normalize -> compute -> report -> mail). A stage
 * that is not built yet (today: mail, when a [mail] section asks for it)
 * stops the run with status 9 and says which; the stages before it have
 * done their work, which is kept.
 */
#include <time.h>

#include "cfg.h"
#include "cli.h"
#include "fetch.h"
#include "log.h"
#include "met.h"
#include "norm.h"
#include "period.h"
#include "publish.h"

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

static int has_url_source(const struct cfg *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].url)
			return 1;
	return 0;
}

static int stage_fetch(const struct cfg *cfg, struct crm_err *e)
{
	struct fetch_stats st;

	if (!has_url_source(cfg)) {
		log_info("run: fetch: no source has a url, nothing to fetch");
		return 0;
	}
	return fetch_run(cfg, &st, e);
}

/* Normalize every period: work is skipped where inputs did not change. */
static int stage_normalize(const struct cfg *cfg, int force, struct crm_err *e)
{
	struct norm_opts no = { 0, 0, 0, force };
	struct norm_stats st;
	int rc = norm_run(cfg, &no, &st, e);

	if (rc == 0 && st.unchanged_inputs)
		log_info("run: normalize: inputs unchanged, period files kept");
	else if (rc == 0)
		log_info("run: normalize: %llu rows read, %llu rejected; %d period files written "
			 "(%d restated), %d unchanged",
			 (unsigned long long)st.rows_read, (unsigned long long)st.rows_rejected,
			 st.periods_written, st.periods_restated, st.periods_unchanged);
	return rc;
}

static int stage_compute(const struct cfg *cfg, int from, int to, struct crm_err *e)
{
	struct met_opts mo = { 1, from, to };
	struct met_stats st;
	int rc = met_run(cfg, &mo, &st, e);

	if (rc == 0)
		log_info("run: compute: %d metrics files written (%d restated)", st.periods_written,
			 st.periods_restated);
	return rc;
}

/* One report per period, with the configured template and language. */
static int stage_report(const struct cfg *cfg, int from, int to, struct crm_err *e)
{
	int p, rc = 0;

	for (p = from; rc == 0 && p <= to; p++)
		rc = rep_publish(cfg, p, cfg->report_template, cfg->report_lang, e);
	return rc;
}

/* Mail is the last stage; a config without [mail] sends nothing. */
static int stage_mail(const struct cfg *cfg, const struct crm_opts *o, struct crm_err *e)
{
	if (cfg->n_mails == 0) {
		log_info("run: mail: no [mail] section in the configuration, nothing to send");
		return 0;
	}
	if (o->no_mail) {
		log_info("run: mail: skipped (--no-mail)");
		return 0;
	}
	return err_set(e, CRM_E_UNAVAILABLE,
		       "run stopped before mail: the mail stage is not built yet (the reports are "
		       "written; --no-mail skips mail)");
}

static int run_run(struct crm_run *run, struct crm_err *e)
{
	const struct crm_opts *o = run->opts;
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	int from, to, rc;

	if (o->has_range) {
		from = o->from;
		to = o->to;
	} else {
		from = to = o->has_period ? o->period : period_last_closed(time(NULL));
	}
	log_info("run: periods %s..%s", period_format(from, a), period_format(to, b));
	rc = stage_fetch(run->cfg, e);
	if (rc == 0)
		rc = stage_normalize(run->cfg, o->force, e);
	/* The report compares with the month before and a year before, and draws trends. */
	if (rc == 0)
		rc = stage_compute(run->cfg, from - 12, to, e);
	if (rc == 0)
		rc = stage_report(run->cfg, from, to, e);
	if (rc == 0)
		rc = stage_mail(run->cfg, o, e);
	if (rc == 0)
		log_info("run: done: periods %s..%s", a, b);
	return rc;
}

const struct cmd_desc cmd_run = {
	"run",
	"run the whole pipeline for a period: fetch, normalize, compute, report, mail",
	"[options]",
	"Runs every stage in order for the last closed period (the previous calendar month, UTC), "
	"or for --period, or for each period of --from/--to: fetch (sources with a url), "
	"normalize (skipped when no input changed), compute, report, mail. Each stage skips work "
	"whose inputs did not change unless --force is given. Only one run per data directory at "
	"a time. A stage that is not built yet in this version stops the run with status 9, "
	"keeping what the stages before it did.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_run
};
