/*
 * cli.h - the command table and its option parser.
 *
 * Every subcommand is one constant struct cmd_desc (etl/cmd_NAME.c) naming
 * its options in a table; etl/main.c holds the list. Parsing, validation of
 * option values (periods, enums, ranges) and --help text are all generated
 * here from those tables, so help cannot drift from what is accepted.
 *
 * Options: "--name value", "--name=value", "-x value"; flags take no value;
 * "--" ends options. Every command also accepts -h/--help, -q/--quiet and
 * -v/--verbose. Parsed values land in one struct crm_opts; strings point
 * into argv (borrowed for the life of the process).
 */
#ifndef CRM_CLI_H
#define CRM_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "err.h"

struct cfg;

/* What the command line said. Zero means "not given". */
struct crm_opts {
	const char *config;        /* --config FILE */
	int has_period;            /* --period given */
	int period;                /* months since year 0 (period.h) */
	int has_range;             /* --from and --to given */
	int from, to;              /* inclusive range, from <= to */
	int no_mail, dry_run, force, resend;
	const char *template_name; /* --template NAME */
	const char *lang;          /* --lang en|zh */
	const char *table;         /* --table T */
	const char *segment;       /* --segment DIM=VALUE (report) */
	const char *file;          /* positional FILE (inspect, dump) */
	int quiet, verbose, help;
};

enum cli_kind {
	CLI_FLAG,   /* sets an int to 1 */
	CLI_PATH,   /* any non-empty string */
	CLI_NAME,   /* [A-Za-z0-9_-]+ */
	CLI_PERIOD, /* YYYY-MM */
	CLI_ENUM    /* one of `choices` */
};

/* Which destination in struct crm_opts an option fills. */
enum cli_dest {
	OPT_CONFIG, OPT_PERIOD, OPT_FROM, OPT_TO, OPT_NO_MAIL, OPT_DRY_RUN,
	OPT_FORCE, OPT_RESEND, OPT_TEMPLATE, OPT_LANG, OPT_TABLE, OPT_SEGMENT,
	OPT_QUIET, OPT_VERBOSE, OPT_HELP
};

struct cli_opt {
	const char *name;           /* long name without "--" */
	char short_name;            /* or 0 */
	enum cli_kind kind;
	enum cli_dest dest;
	const char *arg;            /* value placeholder in help, e.g. "YYYY-MM" */
	const char *help;           /* one line */
	const char *const *choices; /* CLI_ENUM: NULL-terminated */
};

/* Run context handed to every command: stages call down, never sideways. */
struct crm_run {
	const struct cfg *cfg;      /* NULL for commands without CMD_NEEDS_CONFIG */
	const struct crm_opts *opts;
};

enum cmd_flags {
	CMD_NEEDS_CONFIG = 1 << 0, /* load and validate the config first */
	CMD_LOCKS = 1 << 1,        /* takes the data_dir lock */
	CMD_FILE_ARG = 1 << 2,     /* one positional FILE argument */
	CMD_NEEDS_PERIOD = 1 << 3  /* --period is required */
};

struct cmd_desc {
	const char *name;
	const char *summary;        /* one line for the program's help */
	const char *synopsis;       /* arguments after the name */
	const char *description;    /* a paragraph for the command's help */
	const struct cli_opt *opts; /* terminated by an entry with name NULL */
	unsigned flags;
	int (*run)(struct crm_run *run, struct crm_err *e);
};

/* Parse argv (argv[0] is the command name) into `o` (zeroed first). */
int cli_parse(const struct cmd_desc *cmd, int argc, char **argv,
	      struct crm_opts *o, struct crm_err *e);

/* Print the command's help, generated from its descriptor. */
void cli_help(const struct cmd_desc *cmd, FILE *f);

#endif

/* Option rows shared by several commands' tables. */
#define CLI_OPT_CONFIG \
	{ "config", 'c', CLI_PATH, OPT_CONFIG, "FILE", "configuration file (default $CRMETL_CONFIG or ./pipeline.conf)", NULL }
#define CLI_OPT_PERIOD \
	{ "period", 'p', CLI_PERIOD, OPT_PERIOD, "YYYY-MM", "one period (calendar month)", NULL }
#define CLI_OPT_RANGE \
	{ "from", 0, CLI_PERIOD, OPT_FROM, "YYYY-MM", "first period of a range (with --to)", NULL }, \
	{ "to", 0, CLI_PERIOD, OPT_TO, "YYYY-MM", "last period of a range, inclusive", NULL }
#define CLI_OPT_FORCE \
	{ "force", 'f', CLI_FLAG, OPT_FORCE, NULL, "redo work even if its inputs did not change", NULL }
#define CLI_OPT_DRY_RUN \
	{ "dry-run", 'n', CLI_FLAG, OPT_DRY_RUN, NULL, "write the message to var/outbox instead of sending", NULL }
#define CLI_OPT_END { NULL, 0, CLI_FLAG, OPT_HELP, NULL, NULL, NULL }

/* The subcommands (one file each: etl/cmd_NAME.c). */
extern const struct cmd_desc cmd_run, cmd_fetch, cmd_normalize, cmd_compute,
	cmd_report, cmd_mail, cmd_verify, cmd_inspect, cmd_dump;

/*
 * The periods the options ask for: --period P is the range P..P; nothing
 * given sets *has_range = 0 (the stage's own default applies).
 */
void cli_range(const struct crm_opts *o, int *has_range, int *from, int *to);

/* Monotonic seconds since *t0 (for "in 1.23 s" log lines). */
double cli_seconds_since(const struct timespec *t0);

/* Status of a stage that is not built yet: says so plainly. */
int cli_not_built(const char *stage, struct crm_err *e);
