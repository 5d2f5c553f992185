/*
 * cli.c - option parsing and --help generation from command descriptors.
 *
 * Validation of every option kind happens here, once: a period is checked
 * by period_parse, an enum against its choices, a name against its
 * alphabet. Commands receive a struct crm_opts they can trust. The rules
 * that tie options together (--period versus --from/--to) live here too.
 */
#include "cli.h"

#include <string.h>

#include "period.h"
#include "text.h"

#include "banned.h"

/* Options every command takes, appended to each command's own table. */
static const struct cli_opt common_opts[] = {
	{ "help", 'h', CLI_FLAG, OPT_HELP, NULL, "show this help and exit", NULL },
	{ "quiet", 'q', CLI_FLAG, OPT_QUIET, NULL, "log errors only", NULL },
	{ "verbose", 'v', CLI_FLAG, OPT_VERBOSE, NULL, "log debugging detail too", NULL },
	{ NULL, 0, CLI_FLAG, OPT_HELP, NULL, NULL, NULL }
};

static const struct cli_opt *find_long(const struct cli_opt *t, const char *name, size_t len)
{
	for (; t->name; t++)
		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *t, char c)
{
	for (; t->name; t++)
		if (t->short_name == c)
			return t;
	return NULL;
}

static int *flag_dest(struct crm_opts *o, enum cli_dest d)
{
	switch (d) {
	case OPT_NO_MAIL: return &o->no_mail;
	case OPT_DRY_RUN: return &o->dry_run;
	case OPT_FORCE: return &o->force;
	case OPT_RESEND: return &o->resend;
	case OPT_QUIET: return &o->quiet;
	case OPT_VERBOSE: return &o->verbose;
	case OPT_HELP: return &o->help;
	default: return NULL;
	}
}

static const char **string_dest(struct crm_opts *o, enum cli_dest d)
{
	switch (d) {
	case OPT_CONFIG: return &o->config;
	case OPT_TEMPLATE: return &o->template_name;
	case OPT_LANG: return &o->lang;
	case OPT_TABLE: return &o->table;
	case OPT_SEGMENT: return &o->segment;
	default: return NULL;
	}
}

static int check_name(const char *v, const char *opt, struct crm_err *e)
{
	size_t i;

	for (i = 0; v[i]; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			break;
	}
	if (i == 0 || v[i] || i > 64)
		return err_at(e, CRM_E_USAGE, NULL, 0, opt,
			      "invalid name '%s' for --%s: use letters, digits, '_' and '-'", v, opt);
	return 0;
}

static int check_enum(const struct cli_opt *opt, const char *v, struct crm_err *e)
{
	const char *const *c;
	char list[256];
	size_t len = 0;

	for (c = opt->choices; *c; c++)
		if (strcmp(*c, v) == 0)
			return 0;
	list[0] = '\0';
	for (c = opt->choices; *c && len < sizeof(list); c++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					c == opt->choices ? "" : ", ", *c);
	return err_at(e, CRM_E_USAGE, NULL, 0, opt->name,
		      "invalid value '%s' for --%s: expected one of %s", v, opt->name, list);
}

static int set_value(const struct cli_opt *opt, const char *v, struct crm_opts *o,
		     struct crm_err *e)
{
	int period, rc;

	switch (opt->kind) {
	case CLI_FLAG:
		*flag_dest(o, opt->dest) = 1;
		return 0;
	case CLI_PERIOD:
		rc = period_parse(v, opt->name, &period, e);
		if (rc)
			return rc;
		if (opt->dest == OPT_PERIOD) {
			o->period = period;
			o->has_period = 1;
		} else if (opt->dest == OPT_FROM) {
			o->from = period;
			o->has_range |= 1;
		} else {
			o->to = period;
			o->has_range |= 2;
		}
		return 0;
	case CLI_NAME:
		rc = check_name(v, opt->name, e);
		break;
	case CLI_ENUM:
		rc = check_enum(opt, v, e);
		break;
	case CLI_PATH:
		rc = v[0] ? 0 : err_at(e, CRM_E_USAGE, NULL, 0, opt->name,
				       "empty value for --%s", opt->name);
		break;
	default:
		rc = 0;
	}
	if (rc == 0)
		*string_dest(o, opt->dest) = v;
	return rc;
}

/* Tie options together once all are read: ranges, positional argument. */
static int check_combination(const struct cmd_desc *cmd, struct crm_opts *o, struct crm_err *e)
{
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];

	if (o->help)
		return 0;
	if (o->has_period && o->has_range)
		return err_set(e, CRM_E_USAGE, "--period cannot be combined with --from/--to");
	if (o->has_range == 1 || o->has_range == 2)
		return err_set(e, CRM_E_USAGE, "--%s needs --%s too",
			       o->has_range == 1 ? "from" : "to", o->has_range == 1 ? "to" : "from");
	if (o->has_range && o->from > o->to)
		return err_set(e, CRM_E_USAGE, "--from %s is after --to %s",
			       period_format(o->from, a), period_format(o->to, b));
	if (o->has_range)
		o->has_range = 1;
	if ((cmd->flags & CMD_NEEDS_PERIOD) && !o->has_period)
		return err_set(e, CRM_E_USAGE, "%s needs --period YYYY-MM", cmd->name);
	if ((cmd->flags & CMD_FILE_ARG) && !o->file)
		return err_set(e, CRM_E_USAGE, "%s needs a FILE argument", cmd->name);
	return 0;
}

static int parse_long(const struct cmd_desc *cmd, int argc, char **argv, int *i,
		      struct crm_opts *o, struct crm_err *e)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct cli_opt *opt = find_long(cmd->opts, arg, len);

	if (!opt)
		opt = find_long(common_opts, arg, len);
	if (!opt)
		return err_set(e, CRM_E_USAGE, "unknown option '--%.*s' for %s (see 'crmetl %s --help')",
			       (int)len, arg, cmd->name, cmd->name);
	if (opt->kind == CLI_FLAG) {
		if (eq)
			return err_set(e, CRM_E_USAGE, "option '--%s' takes no value", opt->name);
		return set_value(opt, NULL, o, e);
	}
	if (eq)
		return set_value(opt, eq + 1, o, e);
	if (*i + 1 >= argc)
		return err_set(e, CRM_E_USAGE, "option '--%s' needs a value (%s)", opt->name, opt->arg);
	return set_value(opt, argv[++*i], o, e);
}

static int parse_short(const struct cmd_desc *cmd, int argc, char **argv, int *i,
		       struct crm_opts *o, struct crm_err *e)
{
	const char *p;

	for (p = argv[*i] + 1; *p; p++) {
		const struct cli_opt *opt = find_short(cmd->opts, *p);
		int rc;

		if (!opt)
			opt = find_short(common_opts, *p);
		if (!opt)
			return err_set(e, CRM_E_USAGE, "unknown option '-%c' for %s (see 'crmetl %s --help')",
				       *p, cmd->name, cmd->name);
		if (opt->kind == CLI_FLAG) {
			rc = set_value(opt, NULL, o, e);
		} else if (p[1]) {
			return set_value(opt, p + 1, o, e); /* -cFILE */
		} else if (*i + 1 >= argc) {
			return err_set(e, CRM_E_USAGE, "option '-%c' needs a value (%s)", *p, opt->arg);
		} else {
			return set_value(opt, argv[++*i], o, e);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int positional(const struct cmd_desc *cmd, const char *arg, struct crm_opts *o,
		      struct crm_err *e)
{
	if (!(cmd->flags & CMD_FILE_ARG) || o->file)
		return err_set(e, CRM_E_USAGE, "unexpected argument '%s' for %s", arg, cmd->name);
	o->file = arg;
	return 0;
}

int cli_parse(const struct cmd_desc *cmd, int argc, char **argv, struct crm_opts *o,
	      struct crm_err *e)
{
	int i, rc = 0, only_args = 0;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i];

		if (only_args || a[0] != '-' || a[1] == '\0')
			rc = positional(cmd, a, o, e);
		else if (strcmp(a, "--") == 0)
			only_args = 1;
		else if (a[1] == '-')
			rc = parse_long(cmd, argc, argv, &i, o, e);
		else
			rc = parse_short(cmd, argc, argv, &i, o, e);
	}
	return rc ? rc : check_combination(cmd, o, e);
}

static void help_opts(const struct cli_opt *t, FILE *f)
{
	for (; t->name; t++) {
		char left[64];

		snprintf(left, sizeof(left), "%c%c%s--%s%s%s", t->short_name ? '-' : ' ',
			 t->short_name ? t->short_name : ' ', t->short_name ? ", " : "  ",
			 t->name, t->arg ? " " : "", t->arg ? t->arg : "");
		fprintf(f, "  %-28s %s\n", left, t->help);
	}
}

/* Print `text` wrapped at `width` columns. */
static void wrap(const char *text, size_t width, FILE *f)
{
	size_t col = 0;

	while (*text) {
		size_t word = strcspn(text, " ");

		if (col > 0 && col + 1 + word > width) {
			fputc('\n', f);
			col = 0;
		} else if (col > 0) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, word, f);
		col += word;
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

void cli_help(const struct cmd_desc *cmd, FILE *f)
{
	fprintf(f, "usage: crmetl %s%s%s\n\n%s\n\n", cmd->name,
		cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->summary);
	wrap(cmd->description, 76, f);
	fprintf(f, "\noptions:\n");
	help_opts(cmd->opts, f);
	help_opts(common_opts, f);
	fprintf(f, "\nExit status: see 'crmetl --help'.\n");
}

int cli_not_built(const char *stage, struct crm_err *e)
{
	return err_set(e, CRM_E_UNAVAILABLE,
		       "the %s stage is not built yet in this version of crmetl", stage);
}

void cli_range(const struct crm_opts *o, int *has_range, int *from, int *to)
{
	*has_range = o->has_period || o->has_range;
	*from = o->has_period ? o->period : o->from;
	*to = o->has_period ? o->period : o->to;
}

double cli_seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}
