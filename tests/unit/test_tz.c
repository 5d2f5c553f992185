/*
 * test_tz.c - unit tests of the TZif reader and zone arithmetic: offsets
 * across DST in both hemispheres and beyond the last explicit transition
 * (the footer rule), gap and overlap handling, local days, civil dates,
 * refused names, damaged and synthetic files, and a cross-check of every
 * offset against glibc's own reading of the same files.
 *
 * Needs the system tzdata (/usr/share/zoneinfo); writes scratch files under
 * a mkdtemp() directory and points $TZDIR at it for the damaged-file cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "period.h"
#include "tz.h"

#define H 3600

/* UTC (or local) seconds of a civil date and time. */
static int64_t at(int64_t y, int mo, int d, int h, int mi, int s)
{
	return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int32_t day(int64_t y, int mo, int d)
{
	return (int32_t)tz_days_from_civil(y, mo, d);
}

static struct tz *load(const char *name)
{
	struct crm_err e = { 0 };
	struct tz *tz = NULL;

	if (tz_load(name, &tz, &e) != 0)
		fail_msg("cannot load %s: %s", name, e.msg);
	assert_non_null(tz);
	assert_string_equal(tz_name(tz), name);
	return tz;
}

/* xorshift64: deterministic pseudo-random numbers for the sweeps. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- civil dates ------------------------------------------------------ */

static void civil_known_days(void **state)
{
	int64_t y;
	int m, d;

	(void)state;
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tz_days_from_civil(2024, 3, 5), 19787);
	assert_int_equal(tz_days_from_civil(0, 1, 1), -719528);
	assert_int_equal(tz_days_from_civil(9999, 12, 31), 2932896);
	assert_int_equal(tz_days_from_civil(-1, 12, 31), -719529);
	tz_civil_from_days(19787, &y, &m, &d);
	assert_true(y == 2024 && m == 3 && d == 5);
	tz_civil_from_days(-719529, &y, &m, &d);
	assert_true(y == -1 && m == 12 && d == 31);
	tz_civil_from_days(11016, &y, &m, &d);
	assert_true(y == 2000 && m == 2 && d == 29);
	assert_int_equal(tz_weekday(0), 4);                          /* Thursday */
	assert_int_equal(tz_weekday(day(2024, 3, 10)), 0);           /* Sunday */
	assert_int_equal(tz_weekday(day(1969, 12, 27)), 6);          /* Saturday */
	assert_int_equal(tz_weekday(day(1900, 1, 1)), 1);            /* Monday */
	assert_true(tz_is_leap(2000) && tz_is_leap(2024) && tz_is_leap(0));
	assert_false(tz_is_leap(1900) || tz_is_leap(2100) || tz_is_leap(2023));
	assert_int_equal(tz_days_in_month(2024, 2), 29);
	assert_int_equal(tz_days_in_month(2023, 2), 28);
	assert_int_equal(tz_days_in_month(2023, 4), 30);
	assert_int_equal(tz_days_in_month(2023, 12), 31);
	assert_int_equal(tz_days_in_month(2023, 13), 0);
}

/* Every day of years -100..10100 converts both ways, in order. */
static void civil_round_trip(void **state)
{
	int64_t z, y, py = -101;
	int m, d, pm = 12, pd = 31;

	(void)state;
	for (z = tz_days_from_civil(-100, 1, 1); z <= tz_days_from_civil(10100, 12, 31); z++) {
		tz_civil_from_days(z, &y, &m, &d);
		if (d == pd + 1 && m == pm && y == py) {
			/* next day of the month */
		} else {
			assert_int_equal(d, 1);
			assert_true((m == pm + 1 && y == py) || (m == 1 && pm == 12 && y == py + 1));
			assert_int_equal(pd, tz_days_in_month(py, pm));
		}
		assert_int_equal(tz_days_from_civil(y, m, d), z);
		assert_int_equal(tz_weekday(z), ((z % 7) + 7 + 4) % 7);
		py = y, pm = m, pd = d;
	}
}

/* ---- zones ------------------------------------------------------------ */

static void utc_needs_no_file(void **state)
{
	struct tz *tz;

	(void)state;
	setenv("TZDIR", "/nonexistent-zoneinfo", 1);
	tz = load("UTC");
	unsetenv("TZDIR");
	assert_int_equal(tz_offset_at(tz, 0), 0);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 12, 0, 0)), 0);
	assert_int_equal(tz_offset_at(tz, INT64_MIN), 0);
	assert_int_equal(tz_offset_at(tz, INT64_MAX), 0);
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 10, 2, 30, 0)), at(2024, 3, 10, 2, 30, 0));
	assert_int_equal(tz_day_of(tz, at(2024, 3, 5, 23, 59, 59)), day(2024, 3, 5));
	assert_int_equal(tz_day_of(tz, -1), -1);
	assert_int_equal(tz_day_start(tz, day(2024, 3, 5)), at(2024, 3, 5, 0, 0, 0));
	tz_free(tz);
	tz_free(NULL);
}

static void new_york_2024(void **state)
{
	struct tz *tz = load("America/New_York");

	(void)state;
	/* Spring forward 2024-03-10 02:00 EST = 07:00Z. */
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 10, 6, 59, 59)), -5 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 10, 7, 0, 0)), -4 * H);
	/* Fall back 2024-11-03 02:00 EDT = 06:00Z. */
	assert_int_equal(tz_offset_at(tz, at(2024, 11, 3, 5, 59, 59)), -4 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 11, 3, 6, 0, 0)), -5 * H);
	/* The gap: 02:00..02:59:59 do not exist and move forward an hour. */
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 10, 1, 59, 59)), at(2024, 3, 10, 6, 59, 59));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 10, 2, 0, 0)), at(2024, 3, 10, 7, 0, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 10, 2, 30, 0)), at(2024, 3, 10, 7, 30, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 10, 2, 59, 59)), at(2024, 3, 10, 7, 59, 59));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 10, 3, 0, 0)), at(2024, 3, 10, 7, 0, 0));
	/* The overlap: 01:00..01:59:59 happen twice; the first (EDT) wins. */
	assert_int_equal(tz_local_to_utc(tz, at(2024, 11, 3, 0, 59, 59)), at(2024, 11, 3, 4, 59, 59));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 11, 3, 1, 0, 0)), at(2024, 11, 3, 5, 0, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 11, 3, 1, 30, 0)), at(2024, 11, 3, 5, 30, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 11, 3, 1, 59, 59)), at(2024, 11, 3, 5, 59, 59));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 11, 3, 2, 0, 0)), at(2024, 11, 3, 7, 0, 0));
	/* Days: the spring day has 23 hours, the autumn day 25. */
	assert_int_equal(tz_day_start(tz, day(2024, 3, 10)), at(2024, 3, 10, 5, 0, 0));
	assert_int_equal(tz_day_start(tz, day(2024, 3, 11)), at(2024, 3, 11, 4, 0, 0));
	assert_int_equal(tz_day_start(tz, day(2024, 11, 3)), at(2024, 11, 3, 4, 0, 0));
	assert_int_equal(tz_day_start(tz, day(2024, 11, 4)), at(2024, 11, 4, 5, 0, 0));
	assert_int_equal(tz_day_of(tz, at(2024, 3, 11, 3, 59, 59)), day(2024, 3, 10));
	assert_int_equal(tz_day_of(tz, at(2024, 3, 11, 4, 0, 0)), day(2024, 3, 11));
	assert_int_equal(tz_day_of(tz, at(2024, 11, 4, 4, 59, 59)), day(2024, 11, 3));
	assert_int_equal(tz_day_of(tz, at(2024, 11, 4, 5, 0, 0)), day(2024, 11, 4));
	/* Before the first transition: local mean time, -4:56:02. */
	assert_int_equal(tz_offset_at(tz, at(1850, 1, 1, 0, 0, 0)), -17762);
	tz_free(tz);
}

/* Years the file may only describe through its footer rule. */
static void new_york_far_future(void **state)
{
	static const struct { int y, start_d, end_d; } years[] = {
		{ 2037, 8, 1 }, { 2038, 14, 7 }, { 2090, 12, 5 }, { 2100, 14, 7 },
		{ 2101, 13, 6 }, { 2200, 9, 2 }, { 2500, 14, 7 },
	};
	struct tz *tz = load("America/New_York");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
		int y = years[i].y;
		int64_t s = at(y, 3, years[i].start_d, 7, 0, 0), e = at(y, 11, years[i].end_d, 6, 0, 0);

		assert_int_equal(tz_weekday(day(y, 3, years[i].start_d)), 0);
		assert_int_equal(tz_offset_at(tz, at(y, 1, 15, 12, 0, 0)), -5 * H);
		assert_int_equal(tz_offset_at(tz, s - 1), -5 * H);
		assert_int_equal(tz_offset_at(tz, s), -4 * H);
		assert_int_equal(tz_offset_at(tz, at(y, 7, 1, 12, 0, 0)), -4 * H);
		assert_int_equal(tz_offset_at(tz, e - 1), -4 * H);
		assert_int_equal(tz_offset_at(tz, e), -5 * H);
		assert_int_equal(tz_local_to_utc(tz, at(y, 3, years[i].start_d, 2, 30, 0)), s + 30 * 60);
		assert_int_equal(tz_local_to_utc(tz, at(y, 11, years[i].end_d, 1, 30, 0)), e - 30 * 60);
		assert_int_equal(tz_day_start(tz, day(y, 7, 4)), at(y, 7, 4, 4, 0, 0));
	}
	tz_free(tz);
}

static void london(void **state)
{
	struct tz *tz = load("Europe/London");

	(void)state;
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 31, 0, 59, 59)), 0);
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 31, 1, 0, 0)), H);
	assert_int_equal(tz_offset_at(tz, at(2024, 10, 27, 0, 59, 59)), H);
	assert_int_equal(tz_offset_at(tz, at(2024, 10, 27, 1, 0, 0)), 0);
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 31, 1, 30, 0)), at(2024, 3, 31, 1, 30, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 10, 27, 1, 30, 0)), at(2024, 10, 27, 0, 30, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 7, 1, 0, 0, 0)), at(2024, 6, 30, 23, 0, 0));
	assert_int_equal(tz_day_of(tz, at(2024, 6, 30, 23, 0, 0)), day(2024, 7, 1));
	/* British Standard Time: +1 all year 1968-10-27..1971-10-31. */
	assert_int_equal(tz_offset_at(tz, at(1970, 1, 1, 0, 0, 0)), H);
	tz_free(tz);
}

static void sydney(void **state)
{
	struct tz *tz = load("Australia/Sydney");

	(void)state;
	assert_int_equal(tz_offset_at(tz, at(2024, 1, 15, 0, 0, 0)), 11 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 15, 0, 0, 0)), 10 * H);
	/* DST ends 2024-04-07 03:00 AEDT = 04-06 16:00Z, starts 10-06 02:00 AEST = 10-05 16:00Z. */
	assert_int_equal(tz_offset_at(tz, at(2024, 4, 6, 15, 59, 59)), 11 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 4, 6, 16, 0, 0)), 10 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 10, 5, 15, 59, 59)), 10 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 10, 5, 16, 0, 0)), 11 * H);
	assert_int_equal(tz_local_to_utc(tz, at(2024, 4, 7, 2, 30, 0)), at(2024, 4, 6, 15, 30, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2024, 10, 6, 2, 30, 0)), at(2024, 10, 5, 16, 30, 0));
	assert_int_equal(tz_day_of(tz, at(2024, 12, 31, 13, 0, 0)), day(2025, 1, 1));
	assert_int_equal(tz_day_start(tz, day(2025, 1, 1)), at(2024, 12, 31, 13, 0, 0));
	assert_int_equal(tz_offset_at(tz, at(2090, 1, 1, 0, 0, 0)), 11 * H);
	assert_int_equal(tz_offset_at(tz, at(2090, 7, 1, 0, 0, 0)), 10 * H);
	tz_free(tz);
}

static void no_dst_and_odd_offsets(void **state)
{
	struct tz *tz;

	(void)state;
	tz = load("Asia/Shanghai");
	assert_int_equal(tz_offset_at(tz, at(2024, 1, 1, 0, 0, 0)), 8 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 0, 0, 0)), 8 * H);
	assert_int_equal(tz_offset_at(tz, at(2090, 7, 1, 0, 0, 0)), 8 * H);
	assert_int_equal(tz_offset_at(tz, at(1991, 7, 1, 0, 0, 0)), 9 * H); /* China's DST of 1986-1991 */
	assert_int_equal(tz_day_of(tz, at(2024, 3, 5, 16, 0, 0)), day(2024, 3, 6));
	tz_free(tz);

	tz = load("Asia/Kolkata");
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 5, 0, 0, 0)), 5 * H + 1800);
	assert_int_equal(tz_offset_at(tz, at(2200, 3, 5, 0, 0, 0)), 5 * H + 1800);
	assert_int_equal(tz_offset_at(tz, at(1943, 1, 1, 0, 0, 0)), 6 * H + 1800);
	assert_int_equal(tz_offset_at(tz, at(1900, 1, 1, 0, 0, 0)), 19270);
	assert_int_equal(tz_local_to_utc(tz, at(2024, 3, 5, 0, 0, 0)), at(2024, 3, 4, 18, 30, 0));
	assert_int_equal(tz_day_start(tz, day(2024, 3, 5)), at(2024, 3, 4, 18, 30, 0));
	tz_free(tz);

	tz = load("Asia/Kathmandu");
	assert_int_equal(tz_offset_at(tz, at(1985, 1, 1, 0, 0, 0)), 5 * H + 1800);
	assert_int_equal(tz_offset_at(tz, at(1987, 1, 1, 0, 0, 0)), 5 * H + 2700);
	tz_free(tz);

	tz = load("Europe/Amsterdam");
	assert_int_equal(tz_offset_at(tz, at(1930, 1, 1, 0, 0, 0)), 1172); /* +00:19:32 */
	assert_int_equal(tz_offset_at(tz, at(1938, 1, 1, 0, 0, 0)), 1200);
	tz_free(tz);

	tz = load("Africa/Monrovia");
	assert_int_equal(tz_offset_at(tz, at(1970, 1, 1, 0, 0, 0)), -2670); /* -00:44:30 */
	assert_int_equal(tz_offset_at(tz, at(1972, 6, 1, 0, 0, 0)), 0);
	tz_free(tz);
}

/* Brazil moved clocks at midnight: 2018-11-04 00:00..00:59 did not exist. */
static void sao_paulo_midnight_gap(void **state)
{
	struct tz *tz = load("America/Sao_Paulo");

	(void)state;
	assert_int_equal(tz_offset_at(tz, at(2018, 11, 4, 2, 59, 59)), -3 * H);
	assert_int_equal(tz_offset_at(tz, at(2018, 11, 4, 3, 0, 0)), -2 * H);
	assert_int_equal(tz_day_start(tz, day(2018, 11, 4)), at(2018, 11, 4, 3, 0, 0)); /* 01:00 local */
	assert_int_equal(tz_local_to_utc(tz, at(2018, 11, 4, 0, 0, 0)), at(2018, 11, 4, 3, 0, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2018, 11, 4, 0, 30, 0)), at(2018, 11, 4, 3, 30, 0));
	assert_int_equal(tz_day_of(tz, at(2018, 11, 4, 2, 59, 59)), day(2018, 11, 3));
	assert_int_equal(tz_day_of(tz, at(2018, 11, 4, 3, 0, 0)), day(2018, 11, 4));
	/* 2019-02-17 00:00 -02 went back to 02-16 23:00 -03: 23:xx twice. */
	assert_int_equal(tz_day_start(tz, day(2019, 2, 16)), at(2019, 2, 16, 2, 0, 0));
	assert_int_equal(tz_day_start(tz, day(2019, 2, 17)), at(2019, 2, 17, 3, 0, 0));
	assert_int_equal(tz_local_to_utc(tz, at(2019, 2, 16, 23, 30, 0)), at(2019, 2, 17, 1, 30, 0));
	assert_int_equal(tz_day_of(tz, at(2019, 2, 17, 2, 30, 0)), day(2019, 2, 16));
	/* No DST since 2019: the footer is plain "<-03>3". */
	assert_int_equal(tz_offset_at(tz, at(2024, 1, 1, 0, 0, 0)), -3 * H);
	assert_int_equal(tz_offset_at(tz, at(2300, 1, 1, 0, 0, 0)), -3 * H);
	tz_free(tz);
}

/* Lord Howe's DST is 30 minutes; Chatham's transitions are at 02:45. */
static void half_hour_dst(void **state)
{
	struct tz *tz = load("Australia/Lord_Howe");

	(void)state;
	assert_int_equal(tz_offset_at(tz, at(2024, 1, 1, 0, 0, 0)), 11 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 0, 0, 0)), 10 * H + 1800);
	/* 2024-10-06 02:00 +1030 -> 02:30 +11: 02:15 moves to 02:45. */
	assert_int_equal(tz_local_to_utc(tz, at(2024, 10, 6, 2, 15, 0)), at(2024, 10, 5, 15, 45, 0));
	tz_free(tz);
	tz = load("Pacific/Chatham");
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 0, 0, 0)), 12 * H + 2700);
	assert_int_equal(tz_offset_at(tz, at(2095, 1, 1, 0, 0, 0)), 13 * H + 2700);
	tz_free(tz);
}

static void expect_bad_name(const char *name, int code, const char *msg)
{
	struct crm_err e = { 0 };
	struct tz *tz = (struct tz *)&e; /* must be reset to NULL */

	assert_int_equal(tz_load(name, &tz, &e), code);
	assert_null(tz);
	assert_int_equal(e.code, code);
	if (strstr(e.msg, msg) == NULL)
		fail_msg("'%s': expected '%s' in '%s'", name, msg, e.msg);
}

static void bad_names(void **state)
{
	char longname[300];

	(void)state;
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	expect_bad_name("", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("/etc/passwd", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("../../etc/passwd", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("America/../UTC", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("./UTC", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("America/New York", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("Europe/Z\xc3\xbcrich", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("UTC\n", CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name(longname, CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name(NULL, CRM_E_CONFIG, "invalid time zone name");
	expect_bad_name("Mars/Olympus_Mons", CRM_E_CONFIG, "unknown time zone 'Mars/Olympus_Mons'");
	expect_bad_name("America", CRM_E_CONFIG, "not a file");
	expect_bad_name("America/New_York/x", CRM_E_CONFIG, "unknown time zone");
	expect_bad_name("utc", CRM_E_CONFIG, "unknown time zone"); /* names are case-sensitive */
	/* tzdata's leap-second variants count TAI-like seconds: refused */
	if (access("/usr/share/zoneinfo/right/America/New_York", R_OK) == 0)
		expect_bad_name("right/America/New_York", CRM_E_CONFIG, "leap-second zones are not supported");
}

/* ---- damaged and synthetic files -------------------------------------- */

struct scratch {
	char dir[64];
	char *files[16];
	size_t n;
};

static void scratch_init(struct scratch *sc)
{
	memset(sc, 0, sizeof(*sc));
	memcpy(sc->dir, "/tmp/test_tz.XXXXXX", sizeof("/tmp/test_tz.XXXXXX"));
	assert_non_null(mkdtemp(sc->dir));
	setenv("TZDIR", sc->dir, 1);
}

static void scratch_write(struct scratch *sc, const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", sc->dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->files[i], path) == 0)
			return;
	assert_true(sc->n < 16);
	sc->files[sc->n++] = strdup(path);
}

static void scratch_release(struct scratch *sc)
{
	size_t i;

	for (i = 0; i < sc->n; i++) {
		unlink(sc->files[i]);
		free(sc->files[i]);
	}
	rmdir(sc->dir);
	unsetenv("TZDIR");
}

static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *p = malloc(1 << 16);
	FILE *f = fopen(path, "rb");

	assert_non_null(p);
	assert_non_null(f);
	*len = fread(p, 1, 1 << 16, f);
	fclose(f);
	assert_true(*len > 44 && *len < (1 << 16));
	return p;
}

/* Load Bad_Zone from the scratch dir; returns 0 or the error code. */
static int try_load(struct crm_err *e, struct tz **tz)
{
	err_clear(e);
	*tz = NULL;
	return tz_load("Bad_Zone", tz, e);
}

static void damaged_files(void **state)
{
	struct scratch sc;
	struct crm_err e;
	struct tz *tz;
	unsigned char *orig, *copy;
	size_t len, i, loaded = 0;
	static const size_t must_fail[] = { 0, 1, 2, 3, 4, 32, 33, 36, 40, 43 };

	(void)state;
	orig = slurp("/usr/share/zoneinfo/America/New_York", &len);
	copy = malloc(len + 16);
	assert_non_null(copy);
	scratch_init(&sc);

	/* The intact copy loads and agrees. */
	scratch_write(&sc, "Bad_Zone", orig, len);
	assert_int_equal(try_load(&e, &tz), 0);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 0, 0, 0)), -4 * H);
	tz_free(tz);

	/* Every truncation is an error. */
	for (i = 0; i < len; i++) {
		scratch_write(&sc, "Bad_Zone", orig, i);
		if (try_load(&e, &tz) == 0)
			fail_msg("truncated to %zu bytes but loaded", i);
		assert_int_equal(e.code, CRM_E_CONFIG);
		assert_non_null(strstr(e.msg, "damaged time zone file for 'Bad_Zone'"));
	}
	/* Trailing garbage too. */
	memcpy(copy, orig, len);
	memcpy(copy + len, "junk", 4);
	scratch_write(&sc, "Bad_Zone", copy, len + 4);
	assert_int_equal(try_load(&e, &tz), CRM_E_CONFIG);
	assert_non_null(strstr(e.msg, "trailing bytes"));

	/* One flipped bit at every position: never a crash; where it lands in
	 * the magic or the counts, an error. Queries on what loads still work. */
	for (i = 0; i < len; i++) {
		memcpy(copy, orig, len);
		copy[i] ^= (unsigned char)(1u << (i % 8));
		scratch_write(&sc, "Bad_Zone", copy, len);
		if (try_load(&e, &tz) == 0) {
			int64_t t = at(2024, 3, 10, 2, 30, 0);

			loaded++;
			(void)tz_offset_at(tz, t);
			(void)tz_local_to_utc(tz, t);
			(void)tz_day_start(tz, day(2024, 3, 10));
			(void)tz_day_of(tz, at(2090, 1, 1, 0, 0, 0));
			tz_free(tz);
		}
	}
	assert_true(loaded < len);
	for (i = 0; i < sizeof(must_fail) / sizeof(must_fail[0]); i++) {
		memcpy(copy, orig, len);
		copy[must_fail[i]] ^= 0x80;
		scratch_write(&sc, "Bad_Zone", copy, len);
		if (try_load(&e, &tz) == 0)
			fail_msg("bit flip at %zu loaded", must_fail[i]);
	}
	/* Random multi-byte damage. */
	for (i = 0; i < 2000; i++) {
		size_t k, n = 1 + rnd() % 8;

		memcpy(copy, orig, len);
		for (k = 0; k < n; k++)
			copy[44 + rnd() % (len - 44)] = (unsigned char)rnd();
		scratch_write(&sc, "Bad_Zone", copy, len);
		if (try_load(&e, &tz) == 0) {
			(void)tz_local_to_utc(tz, (int64_t)(rnd() % 4000000000u));
			tz_free(tz);
		}
	}
	scratch_release(&sc);
	free(copy);
	free(orig);
}

/* A minimal TZif image: no transitions, one time type, and a footer. */
static size_t make_tzif(unsigned char *buf, char version, int32_t utoff, uint32_t leapcnt,
			const char *footer)
{
	size_t n = 0, blk, k;
	int pass;

	for (pass = 0; pass < (version ? 2 : 1); pass++) {
		unsigned tsize = pass ? 8 : 4;

		memset(buf + n, 0, 44);
		memcpy(buf + n, "TZif", 4);
		buf[n + 4] = (unsigned char)version;
		buf[n + 31] = (unsigned char)leapcnt; /* leapcnt */
		buf[n + 39] = 1;                      /* typecnt */
		buf[n + 43] = 4;                      /* charcnt */
		n += 44;
		blk = n;
		buf[n++] = (unsigned char)((uint32_t)utoff >> 24);
		buf[n++] = (unsigned char)((uint32_t)utoff >> 16);
		buf[n++] = (unsigned char)((uint32_t)utoff >> 8);
		buf[n++] = (unsigned char)utoff;
		buf[n++] = 0; /* isdst */
		buf[n++] = 0; /* desigidx */
		memcpy(buf + n, "XXX", 4);
		n += 4;
		for (k = 0; k < leapcnt * (tsize + 4); k++)
			buf[n++] = 0;
		(void)blk;
	}
	if (version) {
		size_t fl = strlen(footer);

		buf[n++] = '\n';
		memcpy(buf + n, footer, fl);
		n += fl;
		buf[n++] = '\n';
	}
	return n;
}

/* glibc's offset at t for TZ=spec (a POSIX string, or ":Zone"). */
static long glibc_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	return tm.tm_gmtoff;
}

static void set_libc_tz(const char *spec)
{
	setenv("TZ", spec, 1);
	tzset();
}

/* Footer rules in every POSIX form (Jn, n, Mm.w.d, /time signed, beyond
 * 24 h, all-year DST), checked against glibc's reading of the same string.
 * With no transitions in the file, the footer rules all of time. */
static void footer_rule_forms(void **state)
{
	static const char *const rules[] = {
		"EST5EDT,M3.2.0,M11.1.0",
		"XXX3YYY,J60/25,J300/-1",
		"CET-1CEST,89/2,299/3",
		"AAA-10BBB-11:30,M10.1.0/2:30,M4.1.0/3",
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
		"<+03>-3<+04>,0/0,J365/25",
		"ABC5DEF,M3.2.0/-22,M11.1.0/26",
		"IST-1GMT0,M10.5.0,M3.5.0/1",
		"<+0330>-3:30<+0430>,J79/24,J263/24",
		"NST3:30NDT,M3.2.0,M11.1.0",
		"WAT-1",
		"<-0930>9:30",
	};
	unsigned char buf[512];
	struct scratch sc;
	struct crm_err e;
	struct tz *tz;
	size_t i, len;
	int k, all_year;

	(void)state;
	scratch_init(&sc);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		len = make_tzif(buf, '4', 0, 0, rules[i]);
		scratch_write(&sc, "Bad_Zone", buf, len);
		if (try_load(&e, &tz) != 0)
			fail_msg("footer '%s': %s", rules[i], e.msg);
		set_libc_tz(rules[i]);
		all_year = strstr(rules[i], "J365/25") != NULL;
		for (k = 0; k < 20000; k++) {
			/* 1970..2400 (glibc applies POSIX rules before 1970 as if in 1970) */
			int64_t t = (int64_t)(rnd() % 13569465600ULL);
			long want, got = tz_offset_at(tz, t);
			int64_t y;
			int m, d;

			tz_civil_from_days(t / 86400, &y, &m, &d);
			if (all_year && ((m == 12 && d == 31) || (m == 1 && d == 1))) {
				/* glibc evaluates rules per UTC year and so shows standard
				 * time for a few hours at a new year; the rule says DST */
				assert_int_equal(got, 4 * H);
				continue;
			}
			want = glibc_offset(t);
			if (got != want)
				fail_msg("footer '%s' at %lld: %ld, glibc %ld", rules[i], (long long)t, got, want);
		}
		tz_free(tz);
	}
	unsetenv("TZ");
	tzset();
	scratch_release(&sc);
}

static void synthetic_files(void **state)
{
	static const char *const bad_footers[] = {
		"EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
		"EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J100", "EST5EDT,366,100", "EST25",
		"EST5EDT,M3.2.0/168,M11.1.0", "ES5", "<ES>5", "EST5:60", "EST5EDT,M3.2.0,M11.1.0x",
		"EST5 ",
	};
	unsigned char buf[512], *orig;
	struct scratch sc;
	struct crm_err e;
	struct tz *tz;
	size_t i, len, v1len;

	(void)state;
	scratch_init(&sc);

	/* Versions 2, 3, 4 and a later one read alike; '1' is not a version. */
	len = make_tzif(buf, '2', 3600, 0, "CET-1CEST,M3.5.0,M10.5.0/3");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), 0);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 0, 0, 0)), 2 * H);
	assert_int_equal(tz_offset_at(tz, at(1820, 7, 1, 0, 0, 0)), 2 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 1, 1, 0, 0, 0)), H);
	tz_free(tz);
	len = make_tzif(buf, '9', 3600, 0, "CET-1");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), 0);
	tz_free(tz);
	len = make_tzif(buf, '1', 3600, 0, "CET-1");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), CRM_E_CONFIG);
	assert_non_null(strstr(e.msg, "unknown TZif version"));

	/* Version 1: no footer; the last type rules on. */
	len = make_tzif(buf, 0, -7200, 0, "");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), 0);
	assert_int_equal(tz_offset_at(tz, at(2024, 7, 1, 0, 0, 0)), -2 * H);
	tz_free(tz);

	/* An empty footer is allowed: no rule, the last type rules on. */
	len = make_tzif(buf, '3', 19800, 0, "");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), 0);
	assert_int_equal(tz_offset_at(tz, at(2500, 7, 1, 0, 0, 0)), 19800);
	tz_free(tz);

	/* Leap-second files are refused. */
	len = make_tzif(buf, '2', 0, 1, "UTC0");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), CRM_E_CONFIG);
	assert_non_null(strstr(e.msg, "leap-second"));

	/* Offsets beyond RFC 8536's range are refused. */
	len = make_tzif(buf, '2', 26 * H, 0, "");
	scratch_write(&sc, "Bad_Zone", buf, len);
	assert_int_equal(try_load(&e, &tz), CRM_E_CONFIG);
	assert_non_null(strstr(e.msg, "UTC offset out of range"));

	for (i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
		len = make_tzif(buf, '2', 0, 0, bad_footers[i]);
		scratch_write(&sc, "Bad_Zone", buf, len);
		if (try_load(&e, &tz) != CRM_E_CONFIG)
			fail_msg("footer '%s' accepted", bad_footers[i]);
		assert_non_null(strstr(e.msg, "footer"));
	}

	/* The version-1 part of a real file, alone, is a valid v1 file. */
	orig = slurp("/usr/share/zoneinfo/America/New_York", &len);
	{
		uint32_t c[6];
		int k;

		for (k = 0; k < 6; k++)
			c[k] = (uint32_t)orig[20 + 4 * k] << 24 | (uint32_t)orig[21 + 4 * k] << 16 |
			       (uint32_t)orig[22 + 4 * k] << 8 | orig[23 + 4 * k];
		v1len = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
	}
	orig[4] = 0;
	scratch_write(&sc, "Bad_Zone", orig, v1len);
	assert_int_equal(try_load(&e, &tz), 0);
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 10, 6, 59, 59)), -5 * H);
	assert_int_equal(tz_offset_at(tz, at(2024, 3, 10, 7, 0, 0)), -4 * H);
	tz_free(tz);
	free(orig);
	scratch_release(&sc);
}

/* ---- against glibc ---------------------------------------------------- */

static void cross_check_glibc(void **state)
{
	static const char *const zones[] = {
		"America/New_York", "Europe/London", "Australia/Sydney", "Asia/Shanghai",
		"Asia/Kolkata", "America/Sao_Paulo", "Europe/Dublin", "America/Nuuk",
		"Australia/Lord_Howe", "Pacific/Chatham", "Africa/Casablanca", "Pacific/Apia",
		"America/St_Johns", "Antarctica/Troll", "Europe/Moscow", "America/Santiago",
	};
	size_t i;
	int k;

	(void)state;
	unsetenv("TZDIR");
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		char spec[128];
		struct tz *tz = load(zones[i]);

		snprintf(spec, sizeof(spec), ":%s", zones[i]);
		set_libc_tz(spec);
		for (k = 0; k < 10000; k++) {
			/* 1970..2037, and every tenth one 1900..2100 */
			int64_t t = k % 10 ? (int64_t)(rnd() % 2145916800ULL)
					   : at(1900, 1, 1, 0, 0, 0) + (int64_t)(rnd() % 6342969600ULL);
			long want = glibc_offset(t), got = tz_offset_at(tz, t);

			if (got != want)
				fail_msg("%s at %lld: %ld, glibc %ld", zones[i], (long long)t, got, want);
		}
		tz_free(tz);
	}
	unsetenv("TZ");
	tzset();
}

/*
 * tz_local_to_utc against brute force: the earliest instant showing the
 * local time, or in a gap the reading with the offset before the gap.
 */
static void local_to_utc_brute_force(void **state)
{
	static const char *const zones[] = {
		"America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe", "Pacific/Chatham",
		"Europe/Dublin", "Pacific/Apia", "America/Nuuk", "Europe/London",
	};
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz *tz = load(zones[i]);

		for (k = 0; k < 4000; k++) {
			/* local times of 1970..2100, concentrated near transitions */
			int64_t local = (int64_t)(rnd() % 4102444800ULL), s, want = 0, t;
			int have = 0;

			if (k % 2) {
				int64_t u = local - tz_offset_at(tz, local);
				long o = tz_offset_at(tz, u);

				for (s = u; s < u + 200 * 86400 && tz_offset_at(tz, s) == o; s += 3600)
					;
				local = s + tz_offset_at(tz, s) + (int64_t)(rnd() % 14400) - 7200;
			}
			for (s = local - 27 * H; s <= local + 27 * H; s += 900) {
				long o = tz_offset_at(tz, s);
				int64_t c = local - o;

				if (tz_offset_at(tz, c) == o && (!have || c < want)) {
					want = c;
					have = 1;
				}
			}
			t = tz_local_to_utc(tz, local);
			for (s = local - 27 * H; !have && s <= local + 27 * H; s += 900) {
				/* a gap: find the transition T jumping over `local` */
				int64_t lo = s, hi = s + 900;
				long o = tz_offset_at(tz, lo);

				if (tz_offset_at(tz, hi) == o)
					continue;
				while (hi - lo > 1) {
					int64_t mid = lo + (hi - lo) / 2;

					if (tz_offset_at(tz, mid) == o)
						lo = mid;
					else
						hi = mid;
				}
				if (lo + o < local && hi + tz_offset_at(tz, hi) > local) {
					want = local - o;
					have = 1;
				}
			}
			assert_true(have);
			if (t != want) {
				fail_msg("%s local %lld: %lld, want %lld", zones[i], (long long)local,
					 (long long)t, (long long)want);
			}
		}
		tz_free(tz);
	}
}

/* The default period of a run: the month before the zone's current one. */
static void last_closed_period(void **state)
{
	struct tz *kiri = load("Pacific/Kiritimati"), *la = load("America/Los_Angeles");
	struct tz *utc = load("UTC");
	time_t t = (time_t)at(2025, 11, 30, 12, 0, 0); /* Kiritimati (+14): 12-01 02:00 */

	(void)state;
	assert_int_equal(period_last_closed(t), period_make(2025, 10));
	assert_int_equal(period_last_closed_in(utc, t), period_make(2025, 10));
	assert_int_equal(period_last_closed_in(kiri, t), period_make(2025, 11));
	t = (time_t)at(2025, 12, 1, 5, 0, 0); /* Los Angeles (-8): 11-30 21:00 */
	assert_int_equal(period_last_closed(t), period_make(2025, 11));
	assert_int_equal(period_last_closed_in(la, t), period_make(2025, 10));
	t = (time_t)at(2026, 1, 1, 0, 0, 0); /* a new year in UTC */
	assert_int_equal(period_last_closed_in(utc, t), period_make(2025, 12));
	assert_int_equal(period_last_closed_in(la, t), period_make(2025, 11));
	tz_free(kiri);
	tz_free(la);
	tz_free(utc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(civil_known_days),
		cmocka_unit_test(civil_round_trip),
		cmocka_unit_test(utc_needs_no_file),
		cmocka_unit_test(new_york_2024),
		cmocka_unit_test(new_york_far_future),
		cmocka_unit_test(london),
		cmocka_unit_test(sydney),
		cmocka_unit_test(no_dst_and_odd_offsets),
		cmocka_unit_test(sao_paulo_midnight_gap),
		cmocka_unit_test(half_hour_dst),
		cmocka_unit_test(bad_names),
		cmocka_unit_test(damaged_files),
		cmocka_unit_test(footer_rule_forms),
		cmocka_unit_test(synthetic_files),
		cmocka_unit_test(cross_check_glibc),
		cmocka_unit_test(local_to_utc_brute_force),
		cmocka_unit_test(last_closed_period),
	};

	unsetenv("TZDIR");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
