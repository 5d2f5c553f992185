/*
 * test_norm_customers.c - normalize's customers map (norm_check.c): ids
 * of the numbered shape live in an array by number and nowhere else, so
 * the number must give back exactly the id's bytes. Checked on the edge
 * shapes (outgrown width, leading zeros past the width, too short, too
 * far) and on random ids against a plain list: every id is found under
 * one index, unknown ids are not found, and norm_each_customer returns
 * each id once with its index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm_int.h"

struct seen {
	char (*ids)[NUMIDX_ID_MAX];  /* [index] the id given for it */
	uint32_t *count;             /* [index] times passed */
	size_t n;
};

static int note(void *ctx, const char *id, uint32_t len, uint32_t k)
{
	struct seen *s = ctx;

	assert_true(k < s->n);
	assert_true(len < NUMIDX_ID_MAX);
	memcpy(s->ids[k], id, len);
	s->ids[k][len] = '\0';
	s->count[k]++;
	return 0;
}

static void start(struct norm *n)
{
	memset(n, 0, sizeof(*n));
	hmap_init(&n->cust_ids);
	hmap_init(&n->derived);
	hmap_init(&n->strs);
}

static long add(struct norm *n, const char *id, int want_new)
{
	int is_new = -1;
	long k = norm_customer_slot(n, id, (uint32_t)strlen(id), &is_new);

	assert_true(k >= 0);
	assert_int_equal(is_new, want_new);
	return k;
}

static long find(const struct norm *n, const char *id)
{
	return norm_find_customer(n, id, (uint32_t)strlen(id));
}

/* Every customer passed once, under the id it was added with. */
static void check_each(const struct norm *n, const char *const *ids, const long *idx, size_t count)
{
	struct seen s;
	size_t i;

	s.n = n->n_custs;
	s.ids = calloc(s.n ? s.n : 1, sizeof(*s.ids));
	s.count = calloc(s.n ? s.n : 1, sizeof(*s.count));
	assert_non_null(s.ids);
	assert_non_null(s.count);
	assert_int_equal(norm_each_customer(n, note, &s), 0);
	for (i = 0; i < s.n; i++)
		assert_int_equal(s.count[i], 1);
	for (i = 0; i < count; i++)
		assert_string_equal(s.ids[idx[i]], ids[i]);
	free(s.ids);
	free(s.count);
}

static void edge_shapes(void **state)
{
	static const char *const ids[] = {
		"c000001",    /* sets the shape: prefix "c", six digits */
		"c999999",    /* numbered, but too far past 1 customer: in the map */
		"c1000000",   /* outgrew the width, but too far past 2 customers */
		"c0001234",   /* a leading zero past the width: its own id */
		"c001234",    /* the numbered id of the same number */
		"c12",        /* fewer digits than the width */
		"c99999999999", /* too far past the customer count */
		"d000002",    /* another prefix */
		"c",          /* no digits */
		"c0000000",   /* zero, padded past the width */
		"c000000",
		"c1234567890123456789",  /* 19 digits: more than a number holds exactly */
		"c18446744073709551617", /* 20: would wrap to 1 (c000001) */
	};
	enum { N = sizeof(ids) / sizeof(ids[0]) };
	long idx[N];
	struct norm n;
	size_t i;

	(void)state;
	start(&n);
	for (i = 0; i < N; i++)
		idx[i] = add(&n, ids[i], 1);
	assert_int_equal(n.n_custs, N);
	assert_int_equal(n.num.plen, 1);
	assert_int_equal(n.num.width, 6);
	/*
	 * In the map: three numbered ids too far past the count, and the
	 * seven the array cannot give back; in the array: c000001, c001234,
	 * c000000.
	 */
	assert_int_equal(n.cust_ids.count, 10);
	assert_int_equal(n.num.outside, 3);
	for (i = 0; i < N; i++) {
		assert_int_equal(find(&n, ids[i]), idx[i]);
		assert_int_equal(add(&n, ids[i], 0), idx[i]);
	}
	assert_int_equal(find(&n, "c000002"), -1);
	assert_int_equal(find(&n, "c00001234"), -1);
	assert_int_equal(find(&n, "c1234"), -1);
	assert_int_equal(find(&n, "c99999999998"), -1);
	check_each(&n, ids, idx, N);
	norm_release_customers(&n);
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* An id of a random shape near the "c" + six digits one. */
static void random_id(uint64_t *s, char *out, size_t cap)
{
	uint64_t v = next(s) % 1200000;

	switch (next(s) % 6) {
	case 0:
		snprintf(out, cap, "c%06llu", (unsigned long long)v);
		break;
	case 1:
		snprintf(out, cap, "c%07llu", (unsigned long long)v);
		break;
	case 2:
		snprintf(out, cap, "c%llu", (unsigned long long)v);
		break;
	case 3:
		snprintf(out, cap, "c%09llu", (unsigned long long)(v * 997));
		break;
	case 4:
		snprintf(out, cap, "x%06llu", (unsigned long long)(v % 1000));
		break;
	default:
		snprintf(out, cap, "c%06llu", (unsigned long long)(v % 5000));
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * 300,000 customers c000000..c299999 first (so the array reaches past a
 * million), then random ids, some of them again, against a sorted list.
 */
enum { BASE = 300000, N = BASE + 40000 };

static void random_ids(void **state)
{
	char (*buf)[NUMIDX_ID_MAX] = calloc(N, sizeof(*buf));
	const char **ids = calloc(N, sizeof(*ids)), **sorted = calloc(N, sizeof(*sorted));
	long *idx = calloc(N, sizeof(*idx));
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t i, distinct = 0, outgrown_in_array = 0;
	struct norm n;

	(void)state;
	assert_true(buf && ids && sorted && idx);
	start(&n);
	for (i = 0; i < N; i++) {
		if (i < BASE)
			snprintf(buf[i], sizeof(buf[i]), "c%06zu", i);
		else
			random_id(&seed, buf[i], sizeof(buf[i]));
		ids[i] = sorted[i] = buf[i];
	}
	qsort(sorted, N, sizeof(*sorted), cmp_str);
	for (i = 0; i < N; i++)
		if (i == 0 || strcmp(sorted[i], sorted[i - 1]))
			distinct++;
	for (i = 0; i < N; i++) {
		long before = find(&n, ids[i]);
		int is_new;

		idx[i] = norm_customer_slot(&n, ids[i], (uint32_t)strlen(ids[i]), &is_new);
		assert_true(idx[i] >= 0);
		assert_int_equal(is_new, before < 0);
		if (before >= 0)
			assert_int_equal(idx[i], before);
	}
	assert_int_equal(n.n_custs, distinct);
	for (i = 0; i < N; i++) {
		assert_int_equal(find(&n, ids[i]), idx[i]);
		if (strlen(ids[i]) == 8 && ids[i][1] != '0' &&
		    !hmap_get(&n.cust_ids, ids[i], 8))
			outgrown_in_array++;
	}
	assert_true(outgrown_in_array > 1000);
	assert_int_equal(find(&n, "c1200000"), -1);
	assert_int_equal(find(&n, "y000001"), -1);
	check_each(&n, ids, idx, N);
	norm_release_customers(&n);
	free(buf);
	free(ids);
	free(sorted);
	free(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(edge_shapes),
		cmocka_unit_test(random_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
