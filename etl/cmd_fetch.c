/*
 * cmd_fetch.c - `crmetl fetch`: fetch the exports of every source with a url into var/raw.
 *
 * The work is in fetch.c (the only module that talks to the network); this
 * file runs it and says in one summary line what happened.
 */
#include "cfg.h"
#include "cli.h"
#include "fetch.h"
#include "log.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_END
};

static int run_fetch(struct crm_run *run, struct crm_err *e)
{
	struct fetch_stats st;
	int rc;

	rc = fetch_run(run->cfg, &st, e);
	if (st.sources == 0 && rc == 0) {
		log_info("fetch: no source has a url; nothing to fetch");
		return 0;
	}
	if (st.downloaded + st.unchanged + st.failed == st.sources)
		log_info("fetch: %u source%s in %.2f s: %u downloaded (%llu bytes), %u unchanged, %u failed, %u retr%s",
			 st.sources, st.sources == 1 ? "" : "s", st.seconds, st.downloaded, st.bytes, st.unchanged,
			 st.failed, st.retries, st.retries == 1 ? "y" : "ies");
	return rc;
}

const struct cmd_desc cmd_fetch = {
	"fetch",
	"fetch the exports of every source with a url into var/raw",
	"[options]",
	"Downloads each source that has a url (http, https or file) into <data_dir>/raw/<source>/, "
	"named by its sha256, with a current.meta record of its url, size, fetch time and HTTP "
	"validators. Conditional GET (If-None-Match, If-Modified-Since) means an unchanged export "
	"is not downloaded again. Timeouts, the size ceiling and retries come from each source's "
	"configuration; connection errors, timeouts, 429 and 5xx are retried with backoff, "
	"honouring Retry-After. TLS certificates are always verified (ca_file adds a private CA). "
	"A failed fetch leaves earlier data untouched; the other sources are still fetched, then "
	"the command fails with exit status 4.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_fetch
};
