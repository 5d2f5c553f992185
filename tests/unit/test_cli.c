/*
 * test_cli.c - unit tests of the command line: periods, option parsing and
 * its combination rules, suggestions, and the error convention.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "period.h"
#include "text.h"

static void period_good(void **state)
{
	struct crm_err e = { 0 };
	char buf[PERIOD_TEXT_MAX];
	int p;

	(void)state;
	assert_int_equal(period_parse("2025-10", "--period", &p, &e), 0);
	assert_int_equal(period_year(p), 2025);
	assert_int_equal(period_month(p), 10);
	assert_string_equal(period_format(p, buf), "2025-10");
	assert_string_equal(period_format(p + 3, buf), "2026-01");
	assert_string_equal(period_format(p - 10, buf), "2024-12");
	assert_int_equal(period_make(2026, 1) - period_make(2025, 12), 1);
}

static void expect_bad_period(const char *text, const char *reason)
{
	struct crm_err e = { 0 };
	int p = -1;

	assert_int_equal(period_parse(text, "--period", &p, &e), CRM_E_USAGE);
	assert_int_equal(p, -1);
	assert_string_equal(e.field, "--period");
	assert_non_null(strstr(e.msg, reason));
}

static void period_bad(void **state)
{
	(void)state;
	expect_bad_period("2025-13", "month must be 01 to 12");
	expect_bad_period("2025-00", "month must be 01 to 12");
	expect_bad_period("2025-1", "expected YYYY-MM");
	expect_bad_period("2025-100", "expected YYYY-MM");
	expect_bad_period("202510", "expected YYYY-MM");
	expect_bad_period("", "expected YYYY-MM");
	expect_bad_period("0999-01", "year must be");
	expect_bad_period("2025/10", "expected YYYY-MM");
	expect_bad_period("2025-1x", "expected YYYY-MM");
}

static void period_last_closed_month(void **state)
{
	char buf[PERIOD_TEXT_MAX];

	(void)state;
	/* 2026-01-15T00:00:00Z: the last closed month is December 2025. */
	assert_string_equal(period_format(period_last_closed(1768435200), buf), "2025-12");
}

static int parse(const struct cmd_desc *cmd, struct crm_opts *o, struct crm_err *e, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, e);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return cli_parse(cmd, argc, argv, o, e);
}

static void cli_options(void **state)
{
	struct crm_opts o;
	struct crm_err e;
	char buf[PERIOD_TEXT_MAX];

	(void)state;
	assert_int_equal(parse(&cmd_run, &o, &e, "run", "--config", "x.conf", "--period=2025-02",
			       "--no-mail", "-fq", NULL), 0);
	assert_string_equal(o.config, "x.conf");
	assert_true(o.has_period);
	assert_string_equal(period_format(o.period, buf), "2025-02");
	assert_true(o.no_mail && o.force && o.quiet);
	assert_false(o.dry_run || o.verbose);

	assert_int_equal(parse(&cmd_compute, &o, &e, "compute", "--from", "2024-01", "--to",
			       "2025-12", "-cfoo.conf", NULL), 0);
	assert_true(o.has_range);
	assert_int_equal(o.to - o.from, 23);
	assert_string_equal(o.config, "foo.conf");

	assert_int_equal(parse(&cmd_dump, &o, &e, "dump", "f.crmp", "--table", "orders", NULL), 0);
	assert_string_equal(o.file, "f.crmp");
	assert_string_equal(o.table, "orders");

	assert_int_equal(parse(&cmd_report, &o, &e, "report", "--lang", "zh", "-t", "full", NULL), 0);
	assert_string_equal(o.lang, "zh");
	assert_string_equal(o.template_name, "full");

	assert_int_equal(parse(&cmd_verify, &o, &e, "verify", "--help", NULL), 0);
	assert_true(o.help);
}

static void expect_usage(const char *msg_part, ...)
{
	/* The first variadic argument is the command descriptor. */
	const struct cmd_desc *cmd;
	char *argv[16];
	struct crm_opts o;
	struct crm_err e = { 0 };
	int argc = 0;
	va_list ap;

	va_start(ap, msg_part);
	cmd = va_arg(ap, const struct cmd_desc *);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	assert_int_equal(cli_parse(cmd, argc, argv, &o, &e), CRM_E_USAGE);
	if (!strstr(e.msg, msg_part))
		fail_msg("message '%s' lacks '%s'", e.msg, msg_part);
}

static void cli_bad_options(void **state)
{
	(void)state;
	expect_usage("month must be 01 to 12", &cmd_run, "run", "--period", "2025-13", NULL);
	expect_usage("cannot be combined", &cmd_run, "run", "--period", "2025-01", "--from", "2025-01",
		     "--to", "2025-02", NULL);
	expect_usage("--from needs --to", &cmd_compute, "compute", "--from", "2025-01", NULL);
	expect_usage("--to needs --from", &cmd_compute, "compute", "--to", "2025-01", NULL);
	expect_usage("is after --to", &cmd_compute, "compute", "--from", "2025-03", "--to", "2025-01", NULL);
	expect_usage("unknown option '--perod'", &cmd_run, "run", "--perod", "2025-01", NULL);
	expect_usage("unknown option '-x'", &cmd_run, "run", "-x", NULL);
	expect_usage("needs a value", &cmd_run, "run", "--period", NULL);
	expect_usage("takes no value", &cmd_run, "run", "--force=yes", NULL);
	expect_usage("expected one of en, zh", &cmd_report, "report", "--lang", "fr", NULL);
	expect_usage("invalid name", &cmd_report, "report", "--template", "../etc", NULL);
	expect_usage("unexpected argument 'extra'", &cmd_run, "run", "extra", NULL);
	expect_usage("needs a FILE argument", &cmd_inspect, "inspect", NULL);
	expect_usage("unexpected argument 'b'", &cmd_inspect, "inspect", "a", "b", NULL);
	expect_usage("verify needs --period", &cmd_verify, "verify", NULL);
	expect_usage("--period", &cmd_inspect, "inspect", "f", "--period", "2025-01", NULL);
}

static void cli_help_lists_every_option(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	cli_help(&cmd_run, f);
	fclose(f);
	assert_non_null(strstr(text, "usage: crmetl run"));
	assert_non_null(strstr(text, "--period YYYY-MM"));
	assert_non_null(strstr(text, "--no-mail"));
	assert_non_null(strstr(text, "-c, --config FILE"));
	assert_non_null(strstr(text, "-h, --help"));
	free(text);
}

static void suggestions(void **state)
{
	static const char *const keys[] = { "timezone", "data_dir", "currency", NULL };

	(void)state;
	assert_int_equal(text_edit_distance("kitten", "sitting", 10), 3);
	assert_int_equal(text_edit_distance("same", "same", 2), 0);
	assert_int_equal(text_edit_distance("abcdef", "zzzzzz", 2), 3);
	assert_string_equal(text_suggest("timezon", keys), "timezone");
	assert_string_equal(text_suggest("data-dir", keys), "data_dir");
	assert_null(text_suggest("colour", keys));
	assert_null(text_suggest("", keys));
}

static void errors_first_wins(void **state)
{
	struct crm_err e = { 0 };
	char buf[256];

	(void)state;
	assert_int_equal(err_at(&e, CRM_E_DATA, "orders.csv", 418, "total",
				"cannot parse amount '%s'", "12,3"), CRM_E_DATA);
	assert_int_equal(err_set(&e, CRM_E_IO, "later failure"), CRM_E_DATA);
	assert_string_equal(err_format(&e, buf, sizeof(buf)),
			    "cannot parse amount '12,3' (orders.csv:418, field total)");
	err_clear(&e);
	err_set(&e, CRM_E_CONFIG, "bad value");
	err_context(&e, "pipeline.conf", 7);
	assert_string_equal(err_format(&e, buf, sizeof(buf)), "bad value (pipeline.conf:7)");
	assert_string_equal(err_format(&e, buf, 5), "bad ");
}

static void exit_statuses(void **state)
{
	(void)state;
	assert_int_equal(err_exit_status(0), 0);
	assert_int_equal(err_exit_status(CRM_E_IO), 1);
	assert_int_equal(err_exit_status(CRM_E_USAGE), 2);
	assert_int_equal(err_exit_status(CRM_E_CONFIG), 3);
	assert_int_equal(err_exit_status(CRM_E_FETCH), 4);
	assert_int_equal(err_exit_status(CRM_E_DATA), 5);
	assert_int_equal(err_exit_status(CRM_E_MAIL), 6);
	assert_int_equal(err_exit_status(CRM_E_LOCKED), 7);
	assert_int_equal(err_exit_status(CRM_E_CORRUPT), 8);
	assert_int_equal(err_exit_status(CRM_E_UNAVAILABLE), 9);
	assert_int_equal(err_exit_status(-999), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(period_good),
		cmocka_unit_test(period_bad),
		cmocka_unit_test(period_last_closed_month),
		cmocka_unit_test(cli_options),
		cmocka_unit_test(cli_bad_options),
		cmocka_unit_test(cli_help_lists_every_option),
		cmocka_unit_test(suggestions),
		cmocka_unit_test(errors_first_wins),
		cmocka_unit_test(exit_statuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
