/*
 * test_sortx.c - the radix sorts (by 64-bit key, and of words by their
 * high halves) against the stable merge sort on the same keys: narrow
 * spans (one 32-bit pass set), spans wider than 2^32 (two halves), keys at
 * both ends of the range, many ties (whose index order must survive), a
 * key comparator for the ties, and n = 0, 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sortx.h"

/* A fixed xorshift generator: the cases are the same on every run. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_keys(uint32_t a, uint32_t b, const void *ctx)
{
	const uint64_t *k = ctx;

	return (k[a] > k[b]) - (k[a] < k[b]);
}

/* Tie-break of the comparator test: the larger index first. */
static int cmp_desc(uint32_t a, uint32_t b, const void *ctx)
{
	(void)ctx;
	return (a < b) - (a > b);
}

/* Radix order of keys[0..n) equals the stable merge sort's. */
static void check_same_order(const uint64_t *keys, size_t n)
{
	uint32_t *a = malloc((n ? n : 1) * sizeof(*a)), *b = malloc((n ? n : 1) * sizeof(*b));
	size_t i;

	assert_non_null(a);
	assert_non_null(b);
	for (i = 0; i < n; i++)
		a[i] = b[i] = (uint32_t)(n - 1 - i); /* not the identity: order must come from keys */
	assert_int_equal(sortx_by_key(a, n, keys, NULL, NULL), 0);
	assert_int_equal(sortx_indexes(b, n, cmp_keys, keys), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(a[i], b[i]);
	free(a);
	free(b);
}

static void test_spans(void **state)
{
	static const uint64_t spans[] = { 1, 7, 256, 65536, (uint64_t)1 << 32, ((uint64_t)1 << 32) + 1,
					  (uint64_t)1 << 40, UINT64_MAX };
	size_t n = 5000, i, s;
	uint64_t *keys = malloc(n * sizeof(*keys)), r = 88172645463325252u;

	(void)state;
	assert_non_null(keys);
	for (s = 0; s < sizeof(spans) / sizeof(spans[0]); s++) {
		uint64_t base = spans[s] == UINT64_MAX ? 0 : UINT64_MAX - spans[s];

		for (i = 0; i < n; i++)
			keys[i] = base + next_random(&r) % spans[s];
		keys[n / 2] = base; /* the smallest of the span is there */
		check_same_order(keys, n);
		for (i = 0; i < n; i++) /* the low end of the key range too */
			keys[i] -= base;
		check_same_order(keys, n);
	}
	free(keys);
}

static void test_extremes(void **state)
{
	uint64_t keys[] = { UINT64_MAX, 0, (uint64_t)1 << 32, UINT64_MAX, 0, ((uint64_t)1 << 32) - 1, 1 };

	(void)state;
	check_same_order(keys, sizeof(keys) / sizeof(keys[0]));
	check_same_order(keys, 1);
	check_same_order(keys, 0);
}

static void test_ties_by_comparator(void **state)
{
	uint64_t keys[] = { 5, 3, 5, 5, 3, 9 };
	uint32_t idx[] = { 0, 1, 2, 3, 4, 5 };
	const uint32_t want[] = { 4, 1, 3, 2, 0, 5 };
	size_t i;

	(void)state;
	assert_int_equal(sortx_by_key(idx, 6, keys, cmp_desc, NULL), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(idx[i], want[i]);
}

/*
 * sortx_high32 against the merge sort by the high halves: stable (the
 * low halves, row numbers here, stay ascending within a key), with its
 * own scratch or the caller's, and no rows.
 */
static void test_high32(void **state)
{
	enum { N = 3000 };
	uint64_t v[N], his[N], tmp[N], r = 2463534242u;
	uint32_t idx[N];
	size_t i;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < N; i++) {
			his[i] = (next_random(&r) % (pass ? 50 : UINT32_MAX)) << (pass ? 24 : 0);
			v[i] = his[i] << 32 | i;
			idx[i] = (uint32_t)i;
		}
		assert_int_equal(sortx_high32(v, pass ? tmp : NULL, N), 0);
		assert_int_equal(sortx_indexes(idx, N, cmp_keys, his), 0);
		for (i = 0; i < N; i++)
			assert_int_equal((uint32_t)v[i], idx[i]);
	}
	assert_int_equal(sortx_high32(v, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_ties_by_comparator),
		cmocka_unit_test(test_high32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
