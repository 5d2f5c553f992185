/*
 * test_met.c - unit tests of the metrics engine's pure pieces (met.h):
 * shortest double text, the Wilson interval, the NPS margin of error,
 * Kaplan-Meier with Greenwood variance on a hand-computed case, RFM scores
 * with ties, the RFM segment table, and medians against a sort.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met.h"

static void check_fmt(double v, const char *want)
{
	char buf[MET_DOUBLE_TEXT_MAX];
	size_t n = met_format_double(v, buf);

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	if (*want)
		assert_true(strtod(buf, NULL) == v);
}

static void test_format_double(void **state)
{
	(void)state;
	check_fmt(0.05, "0.05");
	check_fmt(-0.05, "-0.05");
	check_fmt(1, "1");
	check_fmt(0, "0");
	check_fmt(-0.0, "0");
	check_fmt(1000, "1000");
	check_fmt(100000, "100000");
	check_fmt(500, "500");
	check_fmt(60, "60");
	check_fmt(0.1, "0.1");
	check_fmt(42.0 / 51.0, "0.8235294117647058");
	check_fmt(900.0 / 1330.0, "0.6766917293233082");
	check_fmt(1.0 / 3.0, "0.3333333333333333");
	check_fmt(0.1 + 0.2, "0.30000000000000004");
	check_fmt(1000.0000000000002, "1000.0000000000002");
	check_fmt(123456789012345680000.0, "123456789012345680000");
	check_fmt(1e21, "1e21");
	check_fmt(1.5e-7, "1.5e-7");
	check_fmt(0.000001, "0.000001");
	check_fmt(-35, "-35");
	check_fmt(NAN, "");
	check_fmt(INFINITY, "");
}

static void test_format_double_round_trip(void **state)
{
	uint64_t x = 88172645463325252ULL;
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		char buf[MET_DOUBLE_TEXT_MAX];
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (double)(x >> 11) / (double)(1ULL << 53) * pow(10, (int)(x % 30) - 15);
		met_format_double(v, buf);
		assert_true(strtod(buf, NULL) == v);
	}
}

static void test_wilson(void **state)
{
	double lo, hi;

	(void)state;
	/* 50 of 1000 (METRICS.md churn example); bounds from an independent Python computation */
	assert_int_equal(met_wilson(50, 1000, &lo, &hi), 0);
	assert_true(fabs(lo - 0.03813026239274882) < 1e-12);
	assert_true(fabs(hi - 0.06531382024425081) < 1e-12);
	/* 0 of 10: low is 0, high = z^2 / (n + z^2) */
	assert_int_equal(met_wilson(0, 10, &lo, &hi), 0);
	assert_true(lo == 0);
	assert_true(fabs(hi - 3.8414588206941285 / 13.8414588206941285) < 1e-12);
	/* all of n: high is 1, symmetric to 0 of n */
	assert_int_equal(met_wilson(10, 10, &lo, &hi), 0);
	assert_true(hi == 1);
	assert_true(fabs(lo - 10.0 / 13.8414588206941285) < 1e-12);
	assert_int_equal(met_wilson(1, 0, &lo, &hi), -1);
	assert_int_equal(met_wilson(3, 2, &lo, &hi), -1);
}

static void test_nps_moe(void **state)
{
	(void)state;
	/* 7 promoters, 1 detractor of 10: 196 x sqrt(0.044 / ... ) */
	assert_true(fabs(met_nps_moe95(7, 1, 10) - 196 * sqrt((0.7 + 0.1 - 0.36) / 10)) < 1e-12);
	assert_true(fabs(met_nps_moe95(7, 1, 10) - 41.11330684826994) < 1e-9);
	assert_true(met_nps_moe95(5, 0, 5) == 0);
	assert_true(met_nps_moe95(0, 0, 0) < 0);
}

static void test_km_greenwood(void **state)
{
	/*
	 * 6 subjects: events at 2, 2, 5; censored at 3, 5, 7. At t = 2: 6 at
	 * risk, 2 events: S = 4/6. At t = 5: 3 at risk (censored at 5 are at
	 * risk), 1 event: S = 4/6 x 2/3 = 4/9. Greenwood: 2/(6 x 4) + 1/(3 x 2)
	 * = 1/12 + 1/6 = 1/4.
	 */
	uint32_t ev[8] = { 0, 0, 2, 0, 0, 1, 0, 0 }, ce[8] = { 0, 0, 0, 1, 0, 1, 0, 1 };
	double s[8], g[8];

	(void)state;
	met_km(ev, ce, 8, s, g);
	assert_true(s[0] == 1 && s[1] == 1);
	assert_true(fabs(s[2] - 4.0 / 6.0) < 1e-15);
	assert_true(fabs(s[4] - 4.0 / 6.0) < 1e-15);
	assert_true(fabs(s[5] - 4.0 / 9.0) < 1e-15);
	assert_true(fabs(s[7] - 4.0 / 9.0) < 1e-15);
	assert_true(fabs(g[2] - 1.0 / 12.0) < 1e-15);
	assert_true(fabs(g[5] - 0.25) < 1e-15);
	/* Everybody leaves: S = 0 and the variance term stops. */
	{
		uint32_t e2[3] = { 0, 2, 1 }, c2[3] = { 0, 0, 0 };

		met_km(e2, c2, 3, s, g);
		assert_true(fabs(s[1] - 1.0 / 3.0) < 1e-15);
		assert_true(s[2] == 0 && g[2] == 0);
	}
}

static void test_rfm_scores_ties(void **state)
{
	/*
	 * fixtures/tiny/rfm_ties, F: c1 2, c2 1, c3 3, c4 1, c5 1 -> order
	 * c2 c4 c5 c1 c3 (ties by index) -> scores c1 4, c2 1, c3 5, c4 2, c5 3.
	 */
	uint64_t f[5] = { 2, 1, 3, 1, 1 };
	uint32_t idx[5];
	uint8_t sc[5];
	/* R as "last day" ascending = most days first: c4, c3, then c1 = c2, c5 */
	uint64_t r[5] = { 100, 100, 50, 10, 105 };
	uint8_t want_f[5] = { 4, 1, 5, 2, 3 }, want_r[5] = { 3, 4, 2, 1, 5 };
	int i;

	(void)state;
	assert_int_equal(met_rfm_scores(f, 5, idx, sc), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(sc[i], want_f[i]);
	assert_int_equal(met_rfm_scores(r, 5, idx, sc), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(sc[i], want_r[i]);
	/* n = 7: 1 + floor(5 i / 7) = 1 1 2 3 3 4 5 */
	{
		uint64_t k[7] = { 1, 2, 3, 4, 5, 6, 7 };
		uint8_t w[7] = { 1, 1, 2, 3, 3, 4, 5 }, s7[7];
		uint32_t i7[7];

		assert_int_equal(met_rfm_scores(k, 7, i7, s7), 0);
		for (i = 0; i < 7; i++)
			assert_int_equal(s7[i], w[i]);
	}
}

static void test_rfm_segments(void **state)
{
	(void)state;
	assert_string_equal(met_rfm_name(met_rfm_segment(1, 1)), "hibernating");
	assert_string_equal(met_rfm_name(met_rfm_segment(2, 4)), "at_risk");
	assert_string_equal(met_rfm_name(met_rfm_segment(2, 5)), "cant_lose");
	assert_string_equal(met_rfm_name(met_rfm_segment(3, 2)), "about_to_sleep");
	assert_string_equal(met_rfm_name(met_rfm_segment(3, 3)), "need_attention");
	assert_string_equal(met_rfm_name(met_rfm_segment(3, 4)), "loyal");
	assert_string_equal(met_rfm_name(met_rfm_segment(4, 5)), "loyal");
	assert_string_equal(met_rfm_name(met_rfm_segment(4, 1)), "promising");
	assert_string_equal(met_rfm_name(met_rfm_segment(5, 1)), "new");
	assert_string_equal(met_rfm_name(met_rfm_segment(5, 3)), "potential_loyalist");
	assert_string_equal(met_rfm_name(met_rfm_segment(4, 2)), "potential_loyalist");
	assert_string_equal(met_rfm_name(met_rfm_segment(5, 4)), "champions");
	assert_string_equal(met_rfm_name(met_rfm_segment(0, 3)), "none");
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median as the engine computed it before met_median: sort, then the middle. */
static double sorted_median(const double *v, size_t n)
{
	double *s = malloc((n ? n : 1) * sizeof(*s)), m;

	assert_non_null(s);
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_dbl);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static void check_median(const double *v, size_t n)
{
	double *w = malloc((n ? n : 1) * sizeof(*w)), want = sorted_median(v, n), got;

	assert_non_null(w);
	memcpy(w, v, n * sizeof(*w));
	got = met_median(w, n);
	assert_memory_equal(&got, &want, sizeof(got));
	free(w);
}

/*
 * met_median against a sort, on the shapes that break a quickselect:
 * sorted, reversed, all equal, few distinct values, organ pipe, random.
 */
static void test_median(void **state)
{
	uint64_t x = 88172645463325252ULL;
	double v[3001];
	size_t sizes[] = { 1, 2, 3, 4, 5, 8, 31, 64, 100, 257, 1000, 3001 }, k, i;
	int shape;

	(void)state;
	assert_true(isnan(met_median(v, 0)));
	v[0] = 2.5;
	v[1] = 1;
	assert_true(met_median(v, 2) == 1.75);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];

		for (shape = 0; shape < 6; shape++) {
			for (i = 0; i < n; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				switch (shape) {
				case 0: v[i] = (double)i; break;
				case 1: v[i] = (double)(n - i); break;
				case 2: v[i] = 7; break;
				case 3: v[i] = (double)(x % 3) - 1; break;
				case 4: v[i] = (double)(i < n / 2 ? i : n - i); break;
				default: v[i] = (double)(int64_t)(x % 2000001) / 3600.0 - 100; break;
				}
			}
			check_median(v, n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_double),
		cmocka_unit_test(test_format_double_round_trip),
		cmocka_unit_test(test_wilson),
		cmocka_unit_test(test_nps_moe),
		cmocka_unit_test(test_km_greenwood),
		cmocka_unit_test(test_rfm_scores_ties),
		cmocka_unit_test(test_rfm_segments),
		cmocka_unit_test(test_median),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
