/*
 * cmd_mail.c - `crmetl mail`: mail the report of a period to its recipients.
 *
 * Options only: the work is mail_deliver() (report/mail.c).
 */
#include "cfg.h"
#include "cli.h"
#include "log.h"
#include "mail.h"
#include "period.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_PERIOD,
	CLI_OPT_DRY_RUN,
	{ "resend", 0, CLI_FLAG, OPT_RESEND, NULL, "send the archived report again, exactly as it was sent", NULL },
	{ "force", 'f', CLI_FLAG, OPT_FORCE, NULL, "send even if the ledger says it was sent", NULL },
	CLI_OPT_END
};

static int run_mail(struct crm_run *run, struct crm_err *e)
{
	const struct crm_opts *o = run->opts;
	struct mail_opts mo = { o->dry_run, o->force, o->resend, 0 };
	struct mail_stats st;
	char p[PERIOD_TEXT_MAX];
	int rc = mail_deliver(run->cfg, o->period, &mo, &st, e);

	if (rc == 0)
		log_info("mail: %s: %d sent, %d already sent, %d written to the outbox",
			 period_format(o->period, p), st.sent, st.skipped, st.written);
	return rc;
}

const struct cmd_desc cmd_mail = {
	"mail",
	"mail the report of a period to its recipients",
	"--period YYYY-MM [options]",
	"Sends the period's report <data_dir>/reports/YYYY-MM-TEMPLATE-LANG.pdf by SMTP or SMTPS to "
	"every distribution list of the config ([mail] and [mail.NAME]), rendering it first when it "
	"is missing or anything it reads changed since it was rendered. --period is required. A ledger in <data_dir>/sent/ "
	"makes sure a report is never sent twice to the same recipients: a second run sends nothing "
	"unless the period's metrics were restated since (the subject then says \"restated\") or "
	"--force is given. --resend sends the archived copy in sent/ exactly as it was sent. "
	"--dry-run writes each message to <data_dir>/outbox/ instead and leaves the ledger alone. "
	"Transient failures (no connection, time-outs, SMTP 4xx) are retried with backoff; a "
	"delivery that still fails exits with status 6, keeps the report and records nothing, so "
	"the next run tries again.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS | CMD_NEEDS_PERIOD,
	run_mail
};
