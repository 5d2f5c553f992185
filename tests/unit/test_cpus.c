/*
 * test_cpus.c - the usable CPU count: cgroup v2 cpu.max texts, and the
 * affinity mask (the test pins itself to one CPU, then restores its mask).
 */
#define _GNU_SOURCE /* sched_setaffinity */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sched.h>
#include <unistd.h>

#include "cpus.h"

static void test_cpu_max_texts(void **state)
{
	(void)state;
	assert_int_equal(cpus_from_cpu_max("max 100000\n"), 0);
	assert_int_equal(cpus_from_cpu_max("200000 100000\n"), 2);
	assert_int_equal(cpus_from_cpu_max("150000 100000\n"), 2); /* 1.5 CPUs: 2 workers */
	assert_int_equal(cpus_from_cpu_max("50000 100000"), 1);
	assert_int_equal(cpus_from_cpu_max("0 100000"), 0);
	assert_int_equal(cpus_from_cpu_max("200000"), 0);
	assert_int_equal(cpus_from_cpu_max("soon"), 0);
	assert_int_equal(cpus_from_cpu_max(""), 0);
}

static void test_affinity(void **state)
{
	cpu_set_t old, one;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int c, n = cpus_usable();

	(void)state;
	assert_true(n >= 1 && (online < 1 || n <= online));
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (c = 0; c < CPU_SETSIZE && !CPU_ISSET(c, &old); c++)
		;
	assert_true(c < CPU_SETSIZE);
	CPU_ZERO(&one);
	CPU_SET(c, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(cpus_usable(), 1);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	assert_int_equal(cpus_usable(), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_max_texts),
		cmocka_unit_test(test_affinity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
