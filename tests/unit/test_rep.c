/*
 * test_rep.c - unit tests of the report layout's statistics: which changes
 * the scorecard greys out as noise (the 95% Wilson score interval of
 * METRICS.md), and the ratio columns of the metrics table it reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "mtab.h"
#include "period.h"
#include "rep.h"

static void wilson(void **state)
{
	(void)state;
	/* 103 / 2500 = 4.12%: the interval is about 3.41% .. 4.97% */
	assert_true(rep_within_wilson(103, 2500, 0.0412));
	assert_true(rep_within_wilson(103, 2500, 0.0345));
	assert_true(rep_within_wilson(103, 2500, 0.0495));
	assert_false(rep_within_wilson(103, 2500, 0.0335));
	assert_false(rep_within_wilson(103, 2500, 0.0520));
	/* small samples are wide: 1 / 10 covers 30% */
	assert_true(rep_within_wilson(1, 10, 0.30));
	/* 0 of n still has an interval above zero */
	assert_true(rep_within_wilson(0, 50, 0.03));
	assert_false(rep_within_wilson(0, 50, 0.10));
	/* undefined: no denominator, negative or over-full numerators */
	assert_false(rep_within_wilson(0, 0, 0));
	assert_false(rep_within_wilson(-5, 100, 0));
	assert_false(rep_within_wilson(120, 100, 1));
}

static void ratios(void **state)
{
	static const char csv[] =
		"period,metric,dim,segment,k,value,numerator,denominator\n"
		"2025-06,churn_rate,all,,,0.0412,103,2500\n"
		"2025-06,revenue,all,,,1284530.25,,\n";
	struct mtab *t = mtab_new();
	struct crm_err e = { 0 };
	double num, den;
	int p;

	(void)state;
	assert_int_equal(period_parse("2025-06", "p", &p, &e), 0);
	assert_int_equal(mtab_load_text(t, csv, sizeof(csv) - 1, "m.csv", p, NULL, &e), 0);
	assert_int_equal(mtab_get_ratio(t, p, "churn_rate", "all", "", &num, &den), 1);
	assert_true(num == 103 && den == 2500);
	assert_int_equal(mtab_get_ratio(t, p, "revenue", "all", "", &num, &den), 0);
	assert_int_equal(mtab_get_ratio(t, p, "nps", "all", "", &num, &den), 0);
	mtab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wilson),
		cmocka_unit_test(ratios),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
