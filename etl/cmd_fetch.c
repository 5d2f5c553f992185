/*
 * cmd_fetch.c - `crmetl fetch`: fetch the exports of every source with a url into var/raw.
 *
 * Talks to the network through libcurl; nothing else in the program does.
 */
#include "cli.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_END
};

static int run_fetch(struct crm_run *run, struct crm_err *e)
{
	(void)run;
	return cli_not_built("fetch", e);
}

const struct cmd_desc cmd_fetch = {
	"fetch",
	"fetch the exports of every source with a url into var/raw",
	"[options]",
	"Downloads each source that has a url (http, https or file) into <data_dir>/raw/<source>/, with its sha256 and HTTP validators, using conditional GET so an unchanged export is not downloaded again. A failed fetch leaves earlier data untouched.",
	opts,
	CMD_NEEDS_CONFIG | CMD_LOCKS,
	run_fetch
};
