/*
 * test_fmt.c - unit tests of the report's number formatting: thousands
 * separators, currency, percentages (0.0412 -> 4.1%), NPS as an integer
 * (31.7 -> 32), changes in points and percent with their sign, axis ticks,
 * and the metrics CSV reader behind the report.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "fmt.h"
#include "mtab.h"
#include "period.h"

static char buf[FMT_MAX];

static void thousands(void **state)
{
	(void)state;
	assert_string_equal(fmt_thousands(buf, sizeof(buf), 0, 0), "0");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), 999, 0), "999");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), 1000, 0), "1,000");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), 1234567.891, 2), "1,234,567.89");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), -1234567.5, 0), "-1,234,568");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), 123456, 0), "123,456");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), -0.004, 2), "0.00");
	assert_string_equal(fmt_thousands(buf, sizeof(buf), NAN, 2), "n/a");
	/* a short buffer is cut, never overrun */
	assert_string_equal(fmt_thousands(buf, 4, 1234567, 0), "1,2");
}

static void values(void **state)
{
	(void)state;
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_PERCENT, 0.0412, NULL), "4.1%");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_PERCENT, 0.9588, NULL), "95.9%");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_PERCENT, 12.5, NULL), "1,250.0%");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_NPS, 31.7, NULL), "32");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_NPS, -4.2, NULL), "-4");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_NPS, -0.2, NULL), "0");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_MONEY, 1284530.25, "USD"), "$1,284,530");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_MONEY, 729.018, "USD"), "$729.02");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_MONEY, -1500, "USD"), "-$1,500");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_MONEY, 2500000, "EUR"), "EUR 2,500,000");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_COUNT, 2555, NULL), "2,555");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_RATIO, 3.24, NULL), "3.2x");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_HOURS, 5.26, NULL), "5.3 h");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_DAYS, 411.6, NULL), "412 d");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_DECIMAL, 1.386, NULL), "1.39");
	assert_string_equal(fmt_value(buf, sizeof(buf), FMT_COUNT, INFINITY, NULL), "n/a");
	/* a money column with a value over 1,000 has no cents anywhere */
	assert_string_equal(fmt_value_col(buf, sizeof(buf), FMT_MONEY, 627.53, 9320, "USD"), "$628");
	assert_string_equal(fmt_value_col(buf, sizeof(buf), FMT_MONEY, 627.53, 700, "USD"), "$627.53");
	assert_string_equal(fmt_value_col(buf, sizeof(buf), FMT_PERCENT, 0.0412, 0.5, NULL), "4.1%");
	assert_int_equal(fmt_kind_parse("percent"), FMT_PERCENT);
	assert_int_equal(fmt_kind_parse("pct"), -1);
	assert_string_equal(fmt_kind_name(FMT_NPS), "nps");
}

static void changes(void **state)
{
	int sign;

	(void)state;
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_PERCENT, 0.0412, 0.0435, &sign), "-0.2 pp");
	assert_int_equal(sign, -1);
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_PERCENT, 0.0412, 0.0412, &sign), "0.0 pp");
	assert_int_equal(sign, 0);
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_NPS, 31.7, 24, &sign), "+8");
	assert_int_equal(sign, 1);
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_MONEY, 1100, 1000, &sign), "+10.0%");
	assert_int_equal(sign, 1);
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_COUNT, 90, -100, &sign), "+190.0%");
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_COUNT, 5, 0, &sign), "n/a");
	assert_int_equal(sign, 0);
	assert_string_equal(fmt_change(buf, sizeof(buf), FMT_COUNT, 1000, 1000.2, &sign), "0.0%");
	assert_int_equal(sign, 0);
}

static void ticks(void **state)
{
	double t0, step;
	int n;

	(void)state;
	n = fmt_nice_ticks(812000, 1284530, 4, &t0, &step);
	assert_true(step == 200000 && t0 == 800000 && n == 4);
	assert_string_equal(fmt_tick(buf, sizeof(buf), FMT_MONEY, 800000, step, "USD"), "$0.8M");
	assert_string_equal(fmt_tick(buf, sizeof(buf), FMT_MONEY, 1400000, step, "USD"), "$1.4M");
	n = fmt_nice_ticks(0.041, 0.052, 4, &t0, &step);
	assert_true(n >= 3 && n <= 9);
	assert_string_equal(fmt_tick(buf, sizeof(buf), FMT_PERCENT, 0.045, 0.005, NULL), "4.5%");
	assert_string_equal(fmt_tick(buf, sizeof(buf), FMT_COUNT, 2500, 500, NULL), "2,500");
	assert_string_equal(fmt_tick(buf, sizeof(buf), FMT_COUNT, 20000, 5000, NULL), "20k");
	n = fmt_nice_ticks(5, 5, 4, &t0, &step); /* a flat line still gets an axis */
	assert_true(n >= 2 && t0 <= 5 && t0 + step * (n - 1) >= 5);
}

static void metrics_table(void **state)
{
	static const char csv[] =
		"period,metric,dim,segment,k,value,numerator,denominator\n"
		"2025-06,churn_rate,all,,,0.0412,103,2500\n"
		"2025-06,churn_rate,channel,\"web, mobile\",,0.05,5,100\n"
		"2025-06,churn_rate,channel,store,,,0,0\n"
		"2025-06,cohort_active_share,cohort,2025-01,3,0.21,42,200\n";
	struct mtab *t = mtab_new();
	struct crm_err e = { 0 };
	const char *segs[4];
	size_t rows;
	double v;
	int p;

	(void)state;
	assert_int_equal(period_parse("2025-06", "p", &p, &e), 0);
	assert_int_equal(mtab_load_text(t, csv, sizeof(csv) - 1, "m.csv", p, &rows, &e), 0);
	assert_int_equal(rows, 4);
	assert_int_equal(mtab_get(t, p, "churn_rate", "all", "", &v), 1);
	assert_true(v == 0.0412);
	assert_int_equal(mtab_get(t, p, "churn_rate", "channel", "web, mobile", &v), 1);
	assert_int_equal(mtab_get(t, p, "churn_rate", "channel", "store", &v), 0); /* null */
	assert_int_equal(mtab_get(t, p - 1, "churn_rate", "all", "", &v), 0);
	assert_int_equal(mtab_segments(t, p, "churn_rate", "channel", segs, 4), 2);
	assert_string_equal(segs[0], "web, mobile");
	/* a row of another period, a bad value, a bad header */
	assert_int_equal(mtab_load_text(t, csv, sizeof(csv) - 1, "m.csv", p + 1, NULL, &e), CRM_E_CORRUPT);
	assert_int_equal(e.line, 2);
	err_clear(&e);
	assert_int_equal(mtab_load_text(t, "period,metric,dim,segment,k,value,numerator,denominator\n"
					"2025-06,nps,all,,,x,,\n", 78, "m.csv", p, NULL, &e), CRM_E_CORRUPT);
	assert_int_equal(e.line, 2);
	err_clear(&e);
	assert_int_equal(mtab_load_text(t, "a,b\n", 4, "m.csv", p, NULL, &e), CRM_E_CORRUPT);
	assert_int_equal(e.line, 1);
	mtab_free(t);
	mtab_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thousands),
		cmocka_unit_test(values),
		cmocka_unit_test(changes),
		cmocka_unit_test(ticks),
		cmocka_unit_test(metrics_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
