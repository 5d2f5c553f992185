/*
 * test_rank.c - ranks of 64-bit keys against a count of the smaller
 * distinct keys, done the slow way: few distinct keys among many rows,
 * all rows distinct (the table grows many times), keys seen again after
 * the table grew, keys at both ends of the range, first-seen numbering
 * before rank_finish, no rows, and running out of memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rank.h"

/* A fixed xorshift generator: the cases are the same on every run. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Ranks of keys[0..n) by rank.h must equal the number of smaller distinct keys. */
static void check_ranks(const uint64_t *keys, size_t n)
{
	struct rank r;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	size_t i, j, distinct = 0;

	assert_non_null(ids);
	assert_int_equal(rank_init(&r), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(rank_add(&r, keys[i], &ids[i]), 0);
	assert_int_equal(rank_finish(&r, ids, n), 0);
	for (i = 1; i < r.n; i++)
		assert_true(r.keys[i - 1] < r.keys[i]);
	for (i = 0; i < n; i++) {
		assert_true(ids[i] < r.n);
		assert_true(r.keys[ids[i]] == keys[i]);
	}
	/* every distinct key appears, and only those */
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && keys[j] != keys[i]; j++)
			;
		distinct += j == i;
	}
	assert_int_equal(r.n, distinct);
	rank_release(&r);
	free(ids);
}

static void test_few_distinct(void **state)
{
	uint64_t s = 88172645463325252ULL, keys[3000];
	size_t i;

	(void)state;
	for (i = 0; i < 3000; i++)
		keys[i] = next_random(&s) % 37 * 1000003;
	check_ranks(keys, 3000);
}

static void test_all_distinct_growth(void **state)
{
	uint64_t s = 2463534242ULL, keys[2000];
	size_t i;

	(void)state;
	for (i = 0; i < 2000; i++)
		keys[i] = next_random(&s); /* 2000 distinct: the table doubles from 128 slots */
	keys[7] = 0;
	keys[8] = UINT64_MAX;
	keys[9] = UINT64_MAX;
	check_ranks(keys, 2000);
}

/* Keys seen again after the table grew (128 slots, then doubling) keep their numbers. */
static void test_repeats_across_growth(void **state)
{
	uint64_t s = 977ULL, keys[6000];
	size_t i;

	(void)state;
	for (i = 0; i < 3000; i++)
		keys[i] = next_random(&s) >> 3;
	for (i = 0; i < 3000; i++)
		keys[3000 + i] = keys[2999 - i]; /* the earliest, from before every growth, last */
	check_ranks(keys, 6000);
}

static void test_first_seen_then_none(void **state)
{
	struct rank r;
	uint32_t id = 99;

	(void)state;
	assert_int_equal(rank_init(&r), 0);
	assert_int_equal(rank_add(&r, 500, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(rank_add(&r, 7, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(rank_add(&r, 500, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(rank_finish(&r, NULL, 0), 0);
	assert_int_equal(r.n, 2);
	assert_true(r.keys[0] == 7 && r.keys[1] == 500);
	rank_release(&r);
	check_ranks(NULL, 0);
}

/*
 * In a child with its address space capped 48 MB above what it uses, keys
 * are added until the table cannot double: rank_add must say so with -1
 * (not crash), and rank_release must take the half-grown state. The
 * sanitizers reserve terabytes of shadow memory, so they cannot run this.
 */
static int fill_until_full(void)
{
	struct rank r;
	struct rlimit lim;
	unsigned long pages = 0;
	uint32_t id;
	uint64_t k;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%lu", &pages) != 1)
		return 2;
	fclose(f);
	lim.rlim_cur = lim.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)48 << 20);
	if (setrlimit(RLIMIT_AS, &lim) || rank_init(&r))
		return 3;
	for (k = 0; k < ((uint64_t)1 << 26); k++)
		if (rank_add(&r, k * 2654435761u, &id)) {
			int grew = r.n > 100000;

			rank_release(&r);
			return grew ? 0 : 4;
		}
	rank_release(&r);
	return 5; /* 64 M keys fitted in 48 MB: the cap did not hold */
}

static void test_out_of_memory(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	skip();
#endif
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fill_until_full());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_few_distinct),
		cmocka_unit_test(test_all_distinct_growth),
		cmocka_unit_test(test_repeats_across_growth),
		cmocka_unit_test(test_first_seen_then_none),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
