/*
 * test_met_clv.c - the predictions of met_clv_period against clv.h's
 * per-customer formulas, and the same bits whether the horizon curves are
 * made in one pass or in two halves on two threads (enough distinct
 * (x, T) pairs for the split, then the same period pinned to one CPU),
 * and whether the pairs are ranked by a table or by hashing.
 * Its customers' fit ends at the edge of the parameter space (a and b
 * huge), where the expectations once were NaN. And met_clv_start's jobs
 * own their inputs: two periods in flight while the caller rewrites the
 * history give met_clv_period's bits; and they log in the order they are
 * finished, a dropped job not at all.
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
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
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
	met_clv_res_release(&one);
	/* the (x, T) pairs ranked by hashing, not by the table: the same bits */
	met_clv_set_fault(MET_CLV_FAULT_HASH_PAIRS);
	assert_int_equal(met_clv_period(&w.h, w.first, w.last, N, L, HORIZON, 0.01, "test", NULL, &one, &e),
			 0);
	met_clv_set_fault(0);
	assert_true(same_doubles(res.p_alive, one.p_alive, N));
	assert_true(same_doubles(res.expected, one.expected, N));
	assert_true(same_doubles(res.value, one.value, N));
	assert_true(same_doubles(res.forecast, one.forecast, HORIZON + 1));
	met_clv_res_release(&res);
	met_clv_res_release(&one);
	met_clv_hist_release(&w.h);
}

/* Every output of two fits of a period bit for bit. */
static void assert_same_res(const struct met_clv_res *a, const struct met_clv_res *b)
{
	assert_int_equal(a->fitted, b->fitted);
	assert_int_equal(a->gg_fitted, b->gg_fitted);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_model, b->n_model);
	assert_int_equal(a->horizon, b->horizon);
	assert_memory_equal(&a->bg, &b->bg, sizeof(a->bg));
	assert_memory_equal(&a->gg, &b->gg, sizeof(a->gg));
	assert_true(same_doubles(a->forecast, b->forecast, MET_CLV_MAX_HORIZON + 1));
	assert_true(same_doubles(a->mean_spend, b->mean_spend, a->n));
	assert_true(same_doubles(a->expected, b->expected, a->n));
	assert_true(same_doubles(a->p_alive, b->p_alive, a->n));
	assert_true(same_doubles(a->value, b->value, a->n));
	assert_memory_equal(a->days, b->days, a->n * sizeof(*a->days));
}

/*
 * The walk's use: period L started, the history advanced by a month (one
 * more purchase day for every third customer) and period L + 30 started,
 * then the history overwritten with garbage (once each job has its copy:
 * met_clv_wait_inputs) before either job is finished. Each must give what met_clv_period gave on the history it
 * was started from.
 */
static void test_jobs_own_inputs(void **state)
{
	static struct world w;
	struct met_clv_res ref1, ref2, got1, got2;
	struct met_clv_job *j1, *j2;
	struct crm_err e = { 0 };
	uint32_t i;

	(void)state;
	make_world(&w);
	assert_int_equal(met_clv_period(&w.h, w.first, w.last, N, L, HORIZON, 0.01, "p1", NULL,
					&ref1, &e), 0);
	assert_int_equal(met_clv_start(&w.h, w.first, w.last, N, L, HORIZON, 0.01, "p1", NULL,
				       &j1, &e), 0);
	met_clv_wait_inputs(j1);
	for (i = 0; i < N; i += 3) {
		met_clv_hist_add(&w.h, i, L + 20, w.last[i], w.first[i], 70000, 20000);
		w.last[i] = L + 20;
	}
	assert_int_equal(met_clv_period(&w.h, w.first, w.last, N, L + 30, HORIZON, 0.01, "p2",
					NULL, &ref2, &e), 0);
	assert_int_equal(met_clv_start(&w.h, w.first, w.last, N, L + 30, HORIZON, 0.01, "p2", NULL,
				       &j2, &e), 0);
	met_clv_wait_inputs(j2);
	memset(w.h.days, 0xA5, N * sizeof(*w.h.days));
	memset(w.h.amt, 0x5A, N * sizeof(*w.h.amt));
	memset(w.h.cost, 0x3C, N * sizeof(*w.h.cost));
	memset(w.first, 0x7F, sizeof(w.first));
	memset(w.last, 0x11, sizeof(w.last));
	assert_int_equal(met_clv_finish(j1, &got1, &e), 0);
	assert_int_equal(met_clv_finish(j2, &got2, &e), 0);
	assert_true(ref1.fitted && ref2.fitted && ref1.gg_fitted && ref2.gg_fitted);
	/* the second period saw the added month */
	assert_int_equal(ref2.days[0], ref1.days[0] + 1);
	assert_true(ref2.bg.ll != ref1.bg.ll);
	assert_same_res(&got1, &ref1);
	assert_same_res(&got2, &ref2);
	met_clv_res_release(&ref1);
	met_clv_res_release(&ref2);
	met_clv_res_release(&got1);
	met_clv_res_release(&got2);
	met_clv_hist_release(&w.h);
}

/* The position in text of the last line naming `what`, or -1. */
static long last_line_with(const char *text, const char *what)
{
	const char *p = text, *hit = NULL;

	while ((p = strstr(p, what)) != NULL)
		hit = p++;
	return hit ? (long)(hit - text) : -1;
}

/*
 * p1 (60,000 customers: its fits take a while) started, then p2 (5
 * customers: "too few to fit" at once) and p3, which is dropped. p2 is
 * done long before p1, yet p1's lines come first because p1 is finished
 * first; p3 logs nothing.
 */
static void test_jobs_log_in_finish_order(void **state)
{
	static struct world w;
	static char text[1 << 16];
	struct met_clv_res r1, r2;
	struct met_clv_job *j1, *j2, *j3;
	struct crm_err e = { 0 };
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	FILE *f = tmpfile();
	size_t len;

	(void)state;
	assert_non_null(f);
	make_world(&w);
	log_init(LOG_DEBUG, f);
	assert_int_equal(met_clv_start(&w.h, w.first, w.last, N, L, HORIZON, 0.01, "p1", NULL,
				       &j1, &e), 0);
	assert_int_equal(met_clv_start(&w.h, w.first, w.last, 5, L, HORIZON, 0.01, "p2", NULL,
				       &j2, &e), 0);
	assert_int_equal(met_clv_start(&w.h, w.first, w.last, 5, L, HORIZON, 0.01, "p3", NULL,
				       &j3, &e), 0);
	nanosleep(&nap, NULL); /* p2 and p3 are done by now */
	met_clv_drop(j3);
	assert_int_equal(met_clv_finish(j1, &r1, &e), 0);
	assert_int_equal(met_clv_finish(j2, &r2, &e), 0);
	log_init(LOG_INFO, NULL);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = 0;
	fclose(f);
	assert_true(r1.fitted && !r2.fitted);
	assert_non_null(strstr(text, "compute: p1: bg/nbd fit of 60000 customers"));
	assert_non_null(strstr(text, "compute: p2: 5 customers with a purchase"));
	assert_true(last_line_with(text, "compute: p1:") < last_line_with(text, "compute: p2:"));
	assert_true(last_line_with(text, "compute: p1:") < (long)(strstr(text, "compute: p2:") - text));
	assert_null(strstr(text, "compute: p3:"));
	met_clv_res_release(&r1);
	met_clv_res_release(&r2);
	met_clv_hist_release(&w.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_predictions),
		cmocka_unit_test(test_jobs_own_inputs),
		cmocka_unit_test(test_jobs_log_in_finish_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
