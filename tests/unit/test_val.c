/*
 * test_val.c - unit tests of the value parsers and formatters: every
 * accept and refuse rule of EXPORTS.md for money, timestamps, dates and
 * integers with exact expected numbers and reasons, DST edges in a real
 * zone, format/parse round trips, and the inline writers (val_put_*)
 * against snprintf on millions of random values.
 *
 * Every input is parsed from an exactly sized heap copy without a NUL, so
 * AddressSanitizer catches any read past `len`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tz.h"
#include "val.h"

#define H 3600

static struct tz *utc, *nyc, *chicago, *berlin, *sao_paulo, *apia;

static int64_t at(int64_t y, int mo, int d, int h, int mi, int s)
{
	return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int32_t day(int64_t y, int mo, int d)
{
	return (int32_t)tz_days_from_civil(y, mo, d);
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* An exactly sized, unterminated heap copy of s. */
static char *exact(const char *s, size_t *len)
{
	char *p;

	*len = strlen(s);
	p = malloc(*len ? *len : 1);
	assert_non_null(p);
	memcpy(p, s, *len);
	return p;
}

static struct tz *load(const char *name)
{
	struct crm_err e = { 0 };
	struct tz *tz = NULL;

	if (tz_load(name, &tz, &e) != 0)
		fail_msg("cannot load %s: %s", name, e.msg);
	return tz;
}

static int setup(void **state)
{
	(void)state;
	unsetenv("TZDIR");
	utc = load("UTC");
	nyc = load("America/New_York");
	chicago = load("America/Chicago");
	berlin = load("Europe/Berlin");
	sao_paulo = load("America/Sao_Paulo");
	apia = load("Pacific/Apia");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tz_free(utc);
	tz_free(nyc);
	tz_free(chicago);
	tz_free(berlin);
	tz_free(sao_paulo);
	tz_free(apia);
	return 0;
}

/* ---- money ------------------------------------------------------------ */

static void money_ok(const char *text, int64_t want)
{
	const char *reason = NULL;
	int64_t v = 12345;
	size_t len;
	char *p = exact(text, &len);

	if (val_money(p, len, &v, &reason) != 0)
		fail_msg("money '%s' refused: %s", text, reason);
	if (v != want)
		fail_msg("money '%s': %lld, want %lld", text, (long long)v, (long long)want);
	free(p);
}

static void money_bad(const char *text, const char *want)
{
	const char *reason = NULL;
	int64_t v = 12345;
	size_t len;
	char *p = exact(text, &len);

	if (val_money(p, len, &v, &reason) != -1)
		fail_msg("money '%s' accepted as %lld", text, (long long)v);
	assert_int_equal(v, 12345); /* untouched */
	if (!reason || strcmp(reason, want) != 0)
		fail_msg("money '%s': reason '%s', want '%s'", text, reason ? reason : "(null)", want);
	free(p);
}

static void money_accepts(void **state)
{
	(void)state;
	money_ok("129.90", 1299000);
	money_ok("-15.00", -150000);
	money_ok("0", 0);
	money_ok("-0", 0);
	money_ok("-0.00", 0);
	money_ok("1", 10000);
	money_ok("100", 1000000);
	money_ok("0.5", 5000);
	money_ok("0.0001", 1);
	money_ok("-0.0001", -1);
	money_ok("12.345", 123450);
	money_ok("0.1234", 1234);
	money_ok("007.5", 75000);
	money_ok("1000000", 10000000000LL);
	money_ok("922337203685477.5807", INT64_MAX);
	money_ok("-922337203685477.5807", -INT64_MAX);
	money_ok("922337203685477", 9223372036854770000LL);
	money_ok("0000000000000000000000001.5", 15000); /* leading zeros do not overflow */
}

static void money_refuses(void **state)
{
	(void)state;
	money_bad("", "empty");
	money_bad("-", "no digits");
	money_bad(".5", "no digit before '.'");
	money_bad("-.5", "no digit before '.'");
	money_bad("5.", "no digit after '.'");
	money_bad("1.23456", "more than 4 fraction digits");
	money_bad("0.00001", "more than 4 fraction digits");
	money_bad("+5", "leading '+'");
	money_bad("1,234.50", "thousands separator or decimal comma");
	money_bad("12,3", "thousands separator or decimal comma");
	money_bad("1'000", "thousands separator or decimal comma");
	money_bad("1_000", "thousands separator or decimal comma");
	money_bad("$5.00", "currency sign");
	money_bad("5.00$", "currency sign");
	money_bad("\xe2\x82\xac" "5", "currency sign");       /* euro */
	money_bad("\xc2\xa3" "5", "currency sign");           /* pound */
	money_bad("\xc2\xa5" "500", "currency sign");         /* yen */
	money_bad("\xe2\x82\xb9" "5", "currency sign");       /* rupee */
	money_bad("USD 5", "currency sign");
	money_bad("5 EUR", "currency sign");
	money_bad("1 000", "spaces");
	money_bad(" 5", "spaces");
	money_bad("5 ", "spaces");
	money_bad("5\t", "spaces");
	money_bad("- 5", "spaces");
	money_bad("1\xc2\xa0" "000", "spaces");               /* no-break space */
	money_bad("1\xe2\x80\xaf" "000", "spaces");           /* narrow no-break space */
	money_bad("1e5", "exponent");
	money_bad("1.5E3", "exponent");
	money_bad("1e-5", "exponent");
	money_bad("1.2.3", "more than one '.'");
	money_bad("abc", "not a number");
	money_bad("NaN", "not a number");
	money_bad("INF", "not a number");
	money_bad("5-", "not a number");
	money_bad("--5", "not a number");
	money_bad("0x10", "not a number");
	money_bad("\xe2\x88\x92" "5", "not a number");        /* U+2212 minus sign */
	money_bad("922337203685477.5808", "out of range");
	money_bad("-922337203685477.5808", "out of range");
	money_bad("1000000000000000", "out of range");
	money_bad("99999999999999999999999999", "out of range");
}

static void money_round_trip(void **state)
{
	static const struct { int64_t units; const char *text; } fmt[] = {
		{ 1299000, "129.90" }, { -150000, "-15.00" }, { 1, "0.0001" }, { -1, "-0.0001" },
		{ 123450, "12.345" }, { 0, "0.00" }, { 5000, "0.50" }, { 10000, "1.00" },
		{ 1234, "0.1234" }, { 10000000000LL, "1000000.00" },
		{ INT64_MAX, "922337203685477.5807" }, { -INT64_MAX, "-922337203685477.5807" },
		{ INT64_MIN, "-922337203685477.5808" },
	};
	char buf[VAL_MONEY_TEXT_MAX];
	const char *reason;
	int64_t v;
	size_t i, n;
	int k;

	(void)state;
	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		n = val_format_money(fmt[i].units, buf);
		assert_string_equal(buf, fmt[i].text);
		assert_int_equal(n, strlen(fmt[i].text));
	}
	/* parse(format(x)) == x, and format is a fixed point of format(parse()) */
	for (k = 0; k < 200000; k++) {
		int64_t x = (int64_t)rnd();
		char again[VAL_MONEY_TEXT_MAX];

		switch (k % 4) {
		case 0: x %= 100000; break;          /* cents and small amounts */
		case 1: x %= 10000000000LL; break;
		case 2: x = x / 100 * 100; break;    /* two fraction digits */
		default: break;
		}
		if (x == INT64_MIN)
			x++;
		n = val_format_money(x, buf);
		assert_true(n < VAL_MONEY_TEXT_MAX);
		if (val_money(buf, n, &v, &reason) != 0)
			fail_msg("'%s' does not read back: %s", buf, reason);
		assert_int_equal(v, x);
		val_format_money(v, again);
		assert_string_equal(again, buf);
	}
	/* text -> units -> text keeps the value */
	assert_int_equal(val_money("129.9", 5, &v, &reason), 0);
	val_format_money(v, buf);
	assert_string_equal(buf, "129.90");
	assert_int_equal(val_money("-007.5000", 9, &v, &reason), 0);
	val_format_money(v, buf);
	assert_string_equal(buf, "-7.50");
	/* reason may be NULL */
	assert_int_equal(val_money("x", 1, &v, NULL), -1);
}

/* ---- integers --------------------------------------------------------- */

static void int_ok(const char *text, long want)
{
	const char *reason = NULL;
	long v = 77;
	size_t len;
	char *p = exact(text, &len);

	if (val_int(p, len, &v, &reason) != 0)
		fail_msg("int '%s' refused: %s", text, reason);
	assert_int_equal(v, want);
	free(p);
}

static void int_bad(const char *text, const char *want)
{
	const char *reason = NULL;
	long v = 77;
	size_t len;
	char *p = exact(text, &len);

	if (val_int(p, len, &v, &reason) != -1)
		fail_msg("int '%s' accepted as %ld", text, v);
	assert_int_equal(v, 77);
	if (!reason || strcmp(reason, want) != 0)
		fail_msg("int '%s': reason '%s', want '%s'", text, reason ? reason : "(null)", want);
	free(p);
}

static void integers(void **state)
{
	(void)state;
	int_ok("0", 0);
	int_ok("10", 10);
	int_ok("7", 7);
	int_ok("-5", -5);
	int_ok("-0", 0);
	int_ok("007", 7);
	int_ok("999999999", 999999999);
	int_ok("-999999999", -999999999);
	int_bad("", "empty");
	int_bad("-", "no digits");
	int_bad("+1", "leading '+'");
	int_bad("1 ", "spaces");
	int_bad(" 1", "spaces");
	int_bad("1.0", "not an integer");
	int_bad("9.5", "not an integer");
	int_bad("1000000000", "more than 9 digits");
	int_bad("-1000000000", "more than 9 digits");
	int_bad("a", "not a number");
	int_bad("5a", "not a number");
	int_bad("1e3", "not a number");
	int_bad(".5", "not a number");
}

/* ---- timestamps ------------------------------------------------------- */

static void ts_ok(const struct tz *tz, const char *text, int64_t want_utc, int32_t want_day)
{
	const char *reason = NULL;
	int64_t t = 99;
	int32_t d = 99, dd = 99;
	size_t len;
	char *p = exact(text, &len);

	if (val_timestamp(p, len, tz, &t, &d, &reason) != 0)
		fail_msg("timestamp '%s' (%s) refused: %s", text, tz_name(tz), reason);
	if (t != want_utc)
		fail_msg("timestamp '%s' (%s): %lld, want %lld", text, tz_name(tz), (long long)t,
			 (long long)want_utc);
	if (d != want_day)
		fail_msg("timestamp '%s' (%s): day %d, want %d", text, tz_name(tz), d, want_day);
	/* a date field keeps the same local day */
	if (val_date(p, len, tz, &dd, &reason) != 0 || dd != want_day)
		fail_msg("date '%s' (%s): day %d, want %d", text, tz_name(tz), dd, want_day);
	free(p);
}

static void ts_bad(const char *text, const char *want)
{
	const char *reason = NULL;
	int64_t t = 99;
	int32_t d = 99;
	size_t len;
	char *p = exact(text, &len);

	if (val_timestamp(p, len, utc, &t, &d, &reason) != -1)
		fail_msg("timestamp '%s' accepted as %lld", text, (long long)t);
	assert_int_equal(t, 99);
	assert_int_equal(d, 99);
	if (!reason || strcmp(reason, want) != 0)
		fail_msg("timestamp '%s': reason '%s', want '%s'", text, reason ? reason : "(null)", want);
	reason = NULL;
	if (val_date(p, len, utc, &d, &reason) != -1 || !reason || strcmp(reason, want) != 0)
		fail_msg("date '%s' not refused with '%s'", text, want);
	assert_int_equal(d, 99);
	free(p);
}

static void timestamps_utc(void **state)
{
	(void)state;
	ts_ok(utc, "2024-03-05T14:22:10Z", 1709648530, 19787);
	ts_ok(utc, "2024-03-05 14:22:10Z", 1709648530, 19787);
	ts_ok(utc, "2024-03-05T14:22:10", 1709648530, 19787);
	ts_ok(utc, "2024-03-05 14:22:10", 1709648530, 19787);
	ts_ok(utc, "2024-03-05T14:22:10+00:00", 1709648530, 19787);
	ts_ok(utc, "2024-03-05T14:22:10-00:00", 1709648530, 19787);
	ts_ok(utc, "2024-03-05T14:22:10+08:00", 1709619730, 19787);
	ts_ok(utc, "2024-03-05T14:22:10-05:30", 1709668330, 19787);
	ts_ok(utc, "2024-03-05T02:22:10+08:00", 1709576530, 19786);
	ts_ok(utc, "2024-03-05T20:22:10-05:00", 1709688130, 19788);
	ts_ok(utc, "2024-03-05T14:22:10+23:59", 1709648530 - 23 * H - 59 * 60, 19786);
	ts_ok(utc, "2024-03-05T14:22:10-23:59", 1709648530 + 23 * H + 59 * 60, 19788);
	ts_ok(utc, "2024-03-05", 1709596800, 19787);
	ts_ok(utc, "1970-01-01T00:00:00Z", 0, 0);
	ts_ok(utc, "1969-12-31T23:59:59Z", -1, -1);
	ts_ok(utc, "2026-10-03T12:34:56Z", 1791030896, day(2026, 10, 3));
	ts_ok(utc, "2026-10-03T20:34:56+08:00", 1791030896, day(2026, 10, 3));
	/* fractions: any number of digits, truncated */
	ts_ok(utc, "2024-03-05T14:22:10.5Z", 1709648530, 19787);
	ts_ok(utc, "2024-03-05T14:22:10.999999999999999999999Z", 1709648530, 19787);
	ts_ok(utc, "2024-03-05T14:22:10.000+08:00", 1709619730, 19787);
	ts_ok(utc, "2024-03-05T23:59:59.999", 1709683199, 19787);
	/* leap years */
	ts_ok(utc, "2024-02-29", at(2024, 2, 29, 0, 0, 0), day(2024, 2, 29));
	ts_ok(utc, "2000-02-29T12:00:00Z", 951825600, day(2000, 2, 29));
	ts_ok(utc, "2023-12-31T23:59:59Z", 1704067199, day(2023, 12, 31));
	/* the range: years 0000..9999 in UTC */
	ts_ok(utc, "0000-01-01T00:00:00Z", VAL_UTC_MIN, -719528);
	ts_ok(utc, "9999-12-31T23:59:59Z", VAL_UTC_MAX, 2932896);
	ts_ok(utc, "0000-01-01T00:00:00-01:00", VAL_UTC_MIN + H, -719528);
}

static void timestamps_refused(void **state)
{
	(void)state;
	ts_bad("", "empty");
	ts_bad("20240305", "basic format (YYYYMMDD) not accepted, expected YYYY-MM-DD");
	ts_bad("20240305T142210Z", "basic format not accepted, expected YYYY-MM-DD");
	ts_bad("2024-3-05", "one-digit field, expected YYYY-MM-DD");
	ts_bad("2024-03-5", "one-digit field, expected YYYY-MM-DD");
	ts_bad("2024-3-5T10:00:00Z", "one-digit field, expected YYYY-MM-DD");
	ts_bad("24-03-05", "year must have 4 digits");
	ts_bad("05/03/2024", "expected YYYY-MM-DD, not a day-first date");
	ts_bad("2024/03/05", "expected YYYY-MM-DD");
	ts_bad("2024-03", "incomplete date, expected YYYY-MM-DD");
	ts_bad("+2024-03-05", "expected YYYY-MM-DD");
	ts_bad(" 2024-03-05", "expected YYYY-MM-DD");
	ts_bad("2024-13-01", "month out of range");
	ts_bad("2024-00-10", "month out of range");
	ts_bad("2024-01-32", "day out of range");
	ts_bad("2024-01-00", "day out of range");
	ts_bad("2024-04-31", "day does not exist in that month");
	ts_bad("2024-02-30", "day does not exist in that month");
	ts_bad("2023-02-29", "day does not exist in that month");
	ts_bad("1900-02-29", "day does not exist in that month");
	ts_bad("2100-02-29T00:00:00Z", "day does not exist in that month");
	ts_bad("2024-03-05T24:00:00Z", "hour out of range (24:00 is not accepted)");
	ts_bad("2024-03-05T24:00:00", "hour out of range (24:00 is not accepted)");
	ts_bad("2024-03-05T23:60:00Z", "minute out of range");
	ts_bad("2024-03-05T23:59:60Z", "second out of range (no leap seconds)");
	ts_bad("2024-03-05T10:00:00+24:00", "offset of 24 h or more");
	ts_bad("2024-03-05T10:00:00-25:00", "offset of 24 h or more");
	ts_bad("2024-03-05T10:00:00+05:60", "offset minutes out of range");
	ts_bad("2024-03-05T10:00:00+0800", "offset without ':', expected +HH:MM");
	ts_bad("2024-03-05T10:00:00+08", "offset without minutes, expected +HH:MM");
	ts_bad("2024-03-05T10:00:00+8:00", "expected offset +HH:MM or -HH:MM");
	ts_bad("2024-03-05T10:00:00+08:00:00", "expected offset +HH:MM or -HH:MM");
	ts_bad("2024-03-05t10:00:00Z", "lowercase 't' not accepted, expected 'T'");
	ts_bad("2024-03-05T10:00:00z", "lowercase 'z' not accepted, expected 'Z'");
	ts_bad("2024-03-05T10:00:00Zjunk", "trailing characters after 'Z'");
	ts_bad("2024-03-05T10:00:00Z ", "trailing characters after 'Z'");
	ts_bad("2024-03-05x", "trailing characters after the date");
	ts_bad("2024-03-050", "expected YYYY-MM-DD");
	ts_bad("2024-03-05T", "missing time after the date");
	ts_bad("2024-03-05 ", "missing time after the date");
	ts_bad("2024-03-05T10:00", "missing seconds, expected HH:MM:SS");
	ts_bad("2024-03-05T10:00Z", "missing seconds, expected HH:MM:SS");
	ts_bad("2024-03-05T1:00:00", "one-digit field, expected HH:MM:SS");
	ts_bad("2024-03-05T10:0:00", "one-digit field, expected HH:MM:SS");
	ts_bad("2024-03-05T10:00:0", "one-digit field, expected HH:MM:SS");
	ts_bad("2024-03-05T100000Z", "basic format not accepted, expected HH:MM:SS");
	ts_bad("2024-03-05T10:00:000", "expected HH:MM:SS");
	ts_bad("2024-03-05T10.00.00", "expected HH:MM:SS");
	ts_bad("2024-03-05T10:00:00.", "no digit after '.' in the seconds");
	ts_bad("2024-03-05T10:00:00.Z", "no digit after '.' in the seconds");
	ts_bad("2024-03-05T10:00:00,5", "decimal comma in seconds, expected '.'");
	ts_bad("2024-03-05T10:00:00 +08:00", "spaces after the time");
	ts_bad("2024-03-05T10:00:00 UTC", "spaces after the time");
	ts_bad("2024-03-05T10:00:00EST", "trailing characters after the time");
	ts_bad("2024-03-05T10:00:00.5.5", "trailing characters after the time");
	ts_bad("0000-01-01T00:00:00+01:00", "out of range (years 0000 to 9999 in UTC)");
	ts_bad("9999-12-31T23:59:59-00:01", "out of range (years 0000 to 9999 in UTC)");
	ts_bad("9999-12-31T23:00:00-01:00", "out of range (years 0000 to 9999 in UTC)");
}

/* A NUL inside the field is just a wrong byte. */
static void embedded_nul(void **state)
{
	static const char text[] = "2024-03-05\0T10:00:00Z";
	const char *reason = NULL;
	int64_t t;
	int32_t d;

	(void)state;
	assert_int_equal(val_timestamp(text, sizeof(text) - 1, utc, &t, &d, &reason), -1);
	assert_string_equal(reason, "trailing characters after the date");
	assert_int_equal(val_money("5\0", 2, &t, &reason), -1);
	/* outputs may be NULL */
	assert_int_equal(val_timestamp("2024-03-05", 10, utc, NULL, NULL, NULL), 0);
	assert_int_equal(val_timestamp("2024-03-05x", 11, utc, NULL, NULL, NULL), -1);
	/* a longer buffer: only len bytes count */
	assert_int_equal(val_timestamp("2024-03-05T10:00:00Zjunk", 20, utc, &t, NULL, &reason), 0);
	assert_int_equal(t, at(2024, 3, 5, 10, 0, 0));
}

static void timestamps_new_york(void **state)
{
	(void)state;
	ts_ok(nyc, "2024-03-05T14:22:10Z", 1709648530, 19787);
	ts_ok(nyc, "2024-03-05T01:22:10Z", at(2024, 3, 5, 1, 22, 10), 19786); /* 20:22 the day before */
	ts_ok(nyc, "2024-03-05 09:22:10", 1709648530, 19787);                /* EST */
	ts_ok(nyc, "2024-07-01T12:00:00", at(2024, 7, 1, 16, 0, 0), day(2024, 7, 1)); /* EDT */
	ts_ok(nyc, "2024-03-05", at(2024, 3, 5, 5, 0, 0), 19787);
	ts_ok(nyc, "2024-07-01", at(2024, 7, 1, 4, 0, 0), day(2024, 7, 1));
	/* spring forward: 02:00..02:59 do not exist and move forward an hour */
	ts_ok(nyc, "2024-03-10 01:59:59", at(2024, 3, 10, 6, 59, 59), day(2024, 3, 10));
	ts_ok(nyc, "2024-03-10 02:00:00", at(2024, 3, 10, 7, 0, 0), day(2024, 3, 10));
	ts_ok(nyc, "2024-03-10 02:30:00", at(2024, 3, 10, 7, 30, 0), day(2024, 3, 10));
	ts_ok(nyc, "2024-03-10T02:30:00.75", at(2024, 3, 10, 7, 30, 0), day(2024, 3, 10));
	ts_ok(nyc, "2024-03-10 03:00:00", at(2024, 3, 10, 7, 0, 0), day(2024, 3, 10));
	ts_ok(nyc, "2024-03-10", at(2024, 3, 10, 5, 0, 0), day(2024, 3, 10));
	/* fall back: 01:00..01:59 happen twice, the first (EDT) counts */
	ts_ok(nyc, "2024-11-03 01:30:00", at(2024, 11, 3, 5, 30, 0), day(2024, 11, 3));
	ts_ok(nyc, "2024-11-03 01:59:59", at(2024, 11, 3, 5, 59, 59), day(2024, 11, 3));
	ts_ok(nyc, "2024-11-03 02:00:00", at(2024, 11, 3, 7, 0, 0), day(2024, 11, 3));
	ts_ok(nyc, "2024-11-03T01:30:00-05:00", at(2024, 11, 3, 6, 30, 0), day(2024, 11, 3)); /* the second one, explicitly */
	ts_ok(nyc, "2024-11-03 23:59:59", at(2024, 11, 4, 4, 59, 59), day(2024, 11, 3));
	/* far beyond the file's explicit transitions */
	ts_ok(nyc, "2090-07-01T12:00:00", at(2090, 7, 1, 16, 0, 0), day(2090, 7, 1));
	ts_ok(nyc, "2090-03-12T02:30:00", at(2090, 3, 12, 7, 30, 0), day(2090, 3, 12));
	/* Sao Paulo 2018-11-04: midnight did not exist */
	ts_ok(sao_paulo, "2018-11-04", at(2018, 11, 4, 3, 0, 0), day(2018, 11, 4));
	ts_ok(sao_paulo, "2018-11-04 00:30:00", at(2018, 11, 4, 3, 30, 0), day(2018, 11, 4));
	/* Samoa skipped 2011-12-30 entirely: its midnight moves a whole day */
	ts_ok(apia, "2011-12-30 12:00:00", at(2011, 12, 30, 22, 0, 0), day(2011, 12, 31));
}

/* "A date field given a full timestamp keeps its local day." */
static void dates(void **state)
{
	const char *reason = NULL;
	int32_t d = 0;

	(void)state;
	assert_int_equal(val_date("2024-03-10T23:30:00-05:00", 25, utc, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 11)); /* 04:30Z */
	assert_int_equal(val_date("2024-03-10T23:30:00-05:00", 25, berlin, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 11)); /* 05:30 CET */
	assert_int_equal(val_date("2024-03-10T23:30:00-05:00", 25, nyc, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 11)); /* 00:30 EDT: New York was already on DST */
	assert_int_equal(val_date("2024-03-10T23:30:00-05:00", 25, chicago, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 10)); /* 23:30 CDT */
	assert_int_equal(val_date("2024-03-10T23:30:00Z", 20, chicago, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 10)); /* 18:30 CDT */
	assert_int_equal(val_date("2024-03-11T03:30:00Z", 20, chicago, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 10)); /* 22:30 CDT */
	assert_int_equal(val_date("2024-03-10 23:30:00", 19, chicago, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 10)); /* local: its own date */
	/* a plain date is the day as written, in any zone */
	assert_int_equal(val_date("2024-03-10", 10, nyc, &d, &reason), 0);
	assert_int_equal(d, day(2024, 3, 10));
	assert_int_equal(val_date("2011-12-30", 10, apia, &d, &reason), 0);
	assert_int_equal(d, day(2011, 12, 30));
	assert_int_equal(val_date("0000-01-01", 10, berlin, &d, &reason), 0);
	assert_int_equal(d, -719528);
	assert_int_equal(val_date("2024-02-30", 10, utc, &d, &reason), -1);
	assert_string_equal(reason, "day does not exist in that month");
}

static void formatting(void **state)
{
	char buf[VAL_TIMESTAMP_TEXT_MAX];

	(void)state;
	assert_int_equal(val_format_timestamp(1709648530, buf), 20);
	assert_string_equal(buf, "2024-03-05T14:22:10Z");
	val_format_timestamp(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	val_format_timestamp(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	val_format_timestamp(VAL_UTC_MIN, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
	val_format_timestamp(VAL_UTC_MAX, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	val_format_timestamp(INT64_MIN, buf);
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
	val_format_timestamp(INT64_MAX, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	assert_int_equal(val_format_day(19787, buf), 10);
	assert_string_equal(buf, "2024-03-05");
	val_format_day(-1, buf);
	assert_string_equal(buf, "1969-12-31");
	val_format_day(day(2000, 2, 29), buf);
	assert_string_equal(buf, "2000-02-29");
	val_format_day(INT32_MIN, buf);
	assert_string_equal(buf, "0000-01-01");
	val_format_day(INT32_MAX, buf);
	assert_string_equal(buf, "9999-12-31");
}

/* format(parse(x)) reads back to the same instant, over the whole range. */
static void timestamp_round_trip(void **state)
{
	char buf[VAL_TIMESTAMP_TEXT_MAX], dbuf[VAL_DAY_TEXT_MAX];
	const char *reason;
	int64_t t, back;
	int32_t d, dback;
	int k;

	(void)state;
	for (k = 0; k < 200000; k++) {
		t = VAL_UTC_MIN + (int64_t)(rnd() % (uint64_t)(VAL_UTC_MAX - VAL_UTC_MIN + 1));
		val_format_timestamp(t, buf);
		if (val_timestamp(buf, 20, nyc, &back, &d, &reason) != 0)
			fail_msg("'%s' does not read back: %s", buf, reason);
		assert_int_equal(back, t);
		assert_int_equal(d, tz_day_of(nyc, t));
		/* the same instant written as New York local time reads back to
		 * it, or to the first of two instants showing that local time */
		if (t < VAL_UTC_MIN + 2 * 86400 || t > VAL_UTC_MAX - 2 * 86400)
			continue;
		val_format_day(d, dbuf);
		{
			char local[32];
			int64_t secs = t + tz_offset_at(nyc, t) - (int64_t)d * 86400;

			snprintf(local, sizeof(local), "%s %02d:%02d:%02d", dbuf, (int)(secs / 3600),
				 (int)(secs / 60 % 60), (int)(secs % 60));
			if (val_timestamp(local, 19, nyc, &back, &dback, &reason) != 0)
				fail_msg("'%s' refused: %s", local, reason);
			assert_int_equal(dback, d);
			assert_true(back <= t && back >= t - 3600);
			assert_int_equal(back + tz_offset_at(nyc, back), t + tz_offset_at(nyc, t));
		}
	}
}

/* ---- inline writers ---------------------------------------------------- */

/* A random number of random magnitude: every digit count gets its share. */
static uint64_t rnd_mag(void)
{
	return rnd() >> (rnd() % 64);
}

/* n bytes at p must equal the NUL-terminated want. */
static void same(const char *p, size_t n, const char *want)
{
	if (n != strlen(want) || memcmp(p, want, n) != 0)
		fail_msg("wrote '%.*s', want '%s'", (int)n, p, want);
}

static void put_integers(void **state)
{
	static const uint64_t edge[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999,
					 100000, 4294967295u, 999999999999999999u,
					 1000000000000000000u, 9999999999999999999u,
					 10000000000000000000u, UINT64_MAX };
	char p[20], want[32];
	uint64_t u, t;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		snprintf(want, sizeof(want), "%" PRIu64, edge[i]);
		same(p, val_put_u64(p, edge[i]), want);
		assert_int_equal(val_u64_len(edge[i]), strlen(want));
	}
	for (t = 1; t != 0 && t <= UINT64_MAX / 10; t *= 10) {
		snprintf(want, sizeof(want), "%" PRIu64, t - 1);
		same(p, val_put_u64(p, t - 1), want);
		snprintf(want, sizeof(want), "%" PRIu64, t);
		same(p, val_put_u64(p, t), want);
	}
	snprintf(want, sizeof(want), "%" PRId64, INT64_MIN);
	same(p, val_put_i64(p, INT64_MIN), want);
	snprintf(want, sizeof(want), "%" PRId64, INT64_MAX);
	same(p, val_put_i64(p, INT64_MAX), want);
	for (k = 0; k < 2000000; k++) {
		u = rnd_mag();
		snprintf(want, sizeof(want), "%" PRIu64, u);
		same(p, val_put_u64(p, u), want);
		snprintf(want, sizeof(want), "%" PRId64, (int64_t)u);
		same(p, val_put_i64(p, (int64_t)u), want);
		snprintf(want, sizeof(want), "%" PRId64, -(int64_t)(u >> 1));
		same(p, val_put_i64(p, -(int64_t)(u >> 1)), want);
	}
}

/* What val_put_money must write, by snprintf: 4 fraction digits, trailing zeros cut to 2. */
static void money_want(int64_t units, char *want, size_t size)
{
	uint64_t mag = units < 0 ? 0 - (uint64_t)units : (uint64_t)units;
	size_t n = (size_t)snprintf(want, size, "%s%" PRIu64 ".%04u", units < 0 ? "-" : "",
				    mag / 10000, (unsigned)(mag % 10000));

	while (want[n - 1] == '0' && want[n - 3] != '.')
		want[--n] = '\0';
}

static void put_money(void **state)
{
	static const int64_t edge[] = { 0, 1, -1, 10, 100, 1000, 10000, -10000, 5000, 1230,
					 1299000, INT64_MAX, INT64_MIN, -INT64_MAX };
	char want[32], *p = malloc(21); /* the most it writes: ASan checks it */
	int64_t x;
	size_t i;
	int k;

	(void)state;
	assert_non_null(p);
	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		money_want(edge[i], want, sizeof(want));
		same(p, val_put_money(p, edge[i]), want);
	}
	same(p, val_put_money(p, 123450), "12.345");
	same(p, val_put_money(p, -150000), "-15.00");
	for (k = 0; k < 2000000; k++) {
		x = (int64_t)rnd_mag();
		if (k % 3 == 0)
			x = x / 10000 * 10000 + (int64_t)(rnd() % 10) * 1000; /* trailing zeros */
		if (k & 1)
			x = -x;
		money_want(x, want, sizeof(want));
		same(p, val_put_money(p, x), want);
	}
	free(p);
}

/* What val_put_fixed must write: round(v * 10^dec) by libm, printed by snprintf. */
static void fixed_want(double v, int dec, char *want, size_t size)
{
	static const uint64_t scale[] = { 1, 10, 100, 1000, 10000 };
	double r;
	uint64_t mag;

	want[0] = '\0';
	if (!isfinite(v) || fabs(v) > 9e14)
		return;
	r = round(v * (double)scale[dec]);
	mag = (uint64_t)fabs(r);
	snprintf(want, size, "%s%" PRIu64 ".%0*" PRIu64, r < 0 ? "-" : "", mag / scale[dec], dec,
		 mag % scale[dec]);
}

/* A random double: any bit pattern, a tie, near a tie, or a plain amount. */
static double rnd_double(int k)
{
	double v;
	uint64_t bits;

	switch (k % 5) {
	case 0:
		bits = rnd();
		memcpy(&v, &bits, sizeof(v)); /* NAN, infinities and subnormals included */
		return v;
	case 1:
		return (double)(int64_t)rnd() / ldexp(1, (int)(rnd() % 90)); /* every magnitude */
	case 2:
		return ((double)(int64_t)(rnd() % 2000000001) - 1e9 + 0.5) / 10000; /* near a tie */
	case 3:
		return ((double)(int64_t)(rnd_mag() >> 12) + 0.5) * (rnd() & 1 ? 1 : -1); /* a tie */
	default:
		return (double)(int64_t)(rnd() % 200000001 - 100000000) / 1e4;
	}
}

static void put_fixed(void **state)
{
	static const double edge[] = { 0.0, -0.0, 0.5, -0.5, 0.49999999999999994,
				       -0.49999999999999994, 1.5, 2.5, -2.5, 1e-300, -1e-300,
				       4503599627370495.5, 4503599627370497.0, 9e14, -9e14,
				       9.000000000000001e14, 1e300, NAN, -NAN, INFINITY, -INFINITY };
	char p[32], want[32];
	double v;
	size_t i;
	int k, dec;

	(void)state;
	same(p, val_put_fixed(p, 1.25, 1), "1.3");
	same(p, val_put_fixed(p, -1.25, 1), "-1.3");
	same(p, val_put_fixed(p, 0.125, 2), "0.13");
	same(p, val_put_fixed(p, -0.125, 2), "-0.13");
	same(p, val_put_fixed(p, -0.04, 1), "0.0");
	same(p, val_put_fixed(p, -0.00001, 4), "0.0000");
	same(p, val_put_fixed(p, 3, 2), "3.00");
	same(p, val_put_fixed(p, 9e14, 4), "900000000000000.0000");
	same(p, val_put_fixed(p, 9.000000000000001e14, 4), "");
	same(p, val_put_fixed(p, NAN, 2), "");
	same(p, val_put_fixed(p, -INFINITY, 4), "");
	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		if (fabs(edge[i]) < 0x1p63) /* val_round_away's domain */
			assert_true(val_round_away(edge[i]) == (int64_t)round(edge[i]));
		for (dec = 1; dec <= 4; dec++) {
			fixed_want(edge[i], dec, want, sizeof(want));
			same(p, val_put_fixed(p, edge[i], dec), want);
		}
	}
	for (k = 0; k < 4000000; k++) {
		v = rnd_double(k);
		if (fabs(v) < 0x1p63)
			assert_true(val_round_away(v) == (int64_t)round(v));
		/* the writer's two precisions on every value, the others on some */
		fixed_want(v, 4, want, sizeof(want));
		same(p, val_put_fixed(p, v, 4), want);
		fixed_want(v, 2, want, sizeof(want));
		same(p, val_put_fixed(p, v, 2), want);
		dec = k & 1 ? 1 : 3;
		fixed_want(v, dec, want, sizeof(want));
		same(p, val_put_fixed(p, v, dec), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(money_accepts),
		cmocka_unit_test(money_refuses),
		cmocka_unit_test(money_round_trip),
		cmocka_unit_test(integers),
		cmocka_unit_test(timestamps_utc),
		cmocka_unit_test(timestamps_refused),
		cmocka_unit_test(embedded_nul),
		cmocka_unit_test(timestamps_new_york),
		cmocka_unit_test(dates),
		cmocka_unit_test(formatting),
		cmocka_unit_test(timestamp_round_trip),
		cmocka_unit_test(put_integers),
		cmocka_unit_test(put_money),
		cmocka_unit_test(put_fixed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
