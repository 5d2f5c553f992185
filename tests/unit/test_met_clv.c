/*
 * test_met_clv.c - the predictions of met_clv_period against clv.h's
 * per-customer formulas, and the same bits whether the horizon curves are
 * made in one pass or in two halves on two threads (enough distinct
 * (x, T) pairs for the split, then the same period pinned to one CPU).
 * Its customers' fit ends at the edge of the parameter space (a and b
 * huge), where the expectations once were NaN.
 */
#define _GNU_SOURCE /* sched_setaffinity: one CPU, no split */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "met_clv.h"

#define N 60000
#define L 730         /* the period's last day */
#define HORIZON 12

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct world {
	struct met_clv_hist h;
	int32_t first[N], last[N];
};

/*
 * Customers who first bought on any of 700 days and repeat at their own
 * rate until a dropout day: repeat days, spend and cost from a fixed seed.
 */
static void make_world(struct world *w)
{
	uint64_t s = 0x9E3779B97F4A7C15ULL;
	uint32_t i;

	assert_int_equal(met_clv_hist_init(&w->h, N), 0);
	for (i = 0; i < N; i++) {
		int32_t first = (int32_t)(next_random(&s) % 700), day = first, gap;
		int32_t stop = first + (int32_t)(next_random(&s) % (uint64_t)(L + 1 - first));
		int64_t spend = 50000 + (int64_t)(next_random(&s) % 900000);

		gap = 15 + (int32_t)(next_random(&s) % 60); /* at most 48 repeats */
		w->first[i] = w->last[i] = first;
		met_clv_hist_add(&w->h, i, first, first - 1, first, spend, spend / 3);
		while (day + gap <= stop) {
			int32_t prev = day;

			day += gap;
			met_clv_hist_add(&w->h, i, day, prev, first, spend, spend / 3);
			w->last[i] = day;
		}
	}
}

static size_t distinct_pairs(const struct world *w)
{
	static uint8_t seen[64][L + 1];
	size_t n = 0;
	uint32_t i;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < N; i++) {
		uint32_t x = w->h.days[i] - 1;

		assert_true(x < 64);
		n += !seen[x][L - w->first[i]];
		seen[x][L - w->first[i]] = 1;
	}
	return n;
}

static int same_doubles(const double *a, const double *b, size_t n)
{
	return memcmp(a, b, n * sizeof(*a)) == 0;
}

static void test_predictions(void **state)
{
	static struct world w;
	struct met_clv_res res, one;
	struct crm_err e = { 0 };
	cpu_set_t old, single;
	uint32_t i;
	int cpu;

	(void)state;
	make_world(&w);
	assert_true(distinct_pairs(&w) >= MET_CLV_CURVES_SPLIT_MIN);
	assert_int_equal(met_clv_period(&w.h, w.first, w.last, N, L, HORIZON, 0.01, "test", NULL, &res, &e),
			 0);
	assert_true(res.fitted && res.gg_fitted);
	/* each customer's numbers are clv.h's formulas at the fitted parameters */
	for (i = 0; i < N; i++) {
		double x = w.h.days[i] - 1, t_x = (w.last[i] - w.first[i]) / 7.0;
		double T = (L - w.first[i]) / 7.0;
		double pa = clv_bgnbd_p_alive(&res.bg, x, t_x, T);
		double ex = clv_bgnbd_expected(&res.bg, x, t_x, T, HORIZON * CLV_MONTH_WEEKS);

		assert_true(fabs(res.p_alive[i] - pa) <= 1e-12 + 1e-9 * pa);
		assert_true(fabs(res.expected[i] - ex) <= 1e-12 + 1e-9 * ex);
	}
	/* pinned to one CPU: no second thread anywhere, the same bits */
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &old); cpu++)
		;
	CPU_ZERO(&single);
	CPU_SET(cpu, &single);
	assert_int_equal(sched_setaffinity(0, sizeof(single), &single), 0);
	assert_int_equal(met_clv_period(&w.h, w.first, w.last, N, L, HORIZON, 0.01, "test", NULL, &one, &e),
			 0);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	assert_true(same_doubles(res.p_alive, one.p_alive, N));
	assert_true(same_doubles(res.expected, one.expected, N));
	assert_true(same_doubles(res.value, one.value, N));
	assert_true(same_doubles(res.forecast, one.forecast, HORIZON + 1));
	met_clv_res_release(&res);
	met_clv_res_release(&one);
	met_clv_hist_release(&w.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_predictions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
