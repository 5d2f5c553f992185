/*
 * val.h - strict parsers and exact formatters for the value types of
 * EXPORTS.md: money, timestamps, dates and integers.
 *
 * Invariants
 * - Money is int64 units of 1/10000 (129.90 -> 1299000), never floating
 *   point, within [-VAL_MONEY_MAX, VAL_MONEY_MAX].
 * - Instants are int64 UTC seconds since 1970-01-01T00:00:00Z; days are
 *   int32 local day numbers (days since 1970-01-01 in the zone), see tz.h.
 *   Every instant a parser returns lies in [VAL_UTC_MIN, VAL_UTC_MAX]
 *   (0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z), so it formats back.
 * - Parsers take (s, len): s need not be NUL-terminated and is read only
 *   within len bytes. They return 0 and fill the outputs, or -1 and set
 *   *reason to a static, lowercase explanation ("more than 4 fraction
 *   digits") for the quarantine; outputs are untouched on error. They never
 *   allocate and keep no state, so any thread may call them.
 * - An empty field is an error here ("empty"): deciding that empty means
 *   "missing" is the caller's business (EXPORTS.md).
 *
 * Decisions where EXPORTS.md is silent
 * - Money: an optional leading '-' ('+' is refused), at least one digit
 *   before the '.', and 1..4 digits after it when there is a '.': "0.5" and
 *   "-0" are fine, ".5" and "5." are not. Leading zeros are fine ("007.5").
 * - Timestamps: only upper-case 'T' and 'Z'; the separator may also be one
 *   space. A fraction of a second may have any number of digits and is
 *   truncated (14:22:10.999 -> 14:22:10). Years are 0000..9999.
 * - Integers: an optional '-' and 1..9 digits; no '+', no spaces.
 */
#ifndef CRM_VAL_H
#define CRM_VAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tz.h"

#define VAL_MONEY_MAX INT64_MAX         /* 922337203685477.5807 */
#define VAL_UTC_MIN (-62167219200LL)    /* 0000-01-01T00:00:00Z */
#define VAL_UTC_MAX (253402300799LL)    /* 9999-12-31T23:59:59Z */

#define VAL_MONEY_TEXT_MAX 24     /* "-922337203685477.5807" and the NUL, rounded up */
#define VAL_TIMESTAMP_TEXT_MAX 21 /* "YYYY-MM-DDTHH:MM:SSZ" and the NUL */
#define VAL_DAY_TEXT_MAX 11       /* "YYYY-MM-DD" and the NUL */

/*
 * Money: -?[0-9]+(\.[0-9]{1,4})? to units of 1/10000. Reasons name what a
 * person would fix: "thousands separator or decimal comma", "currency
 * sign", "spaces", "exponent", "more than 4 fraction digits", "leading
 * '+'", "no digit before '.'", "no digit after '.'", "out of range", ...
 */
int val_money(const char *s, size_t len, int64_t *out, const char **reason);

/*
 * Timestamp (EXPORTS.md): YYYY-MM-DD, or YYYY-MM-DD[T| ]HH:MM:SS[.frac]
 * followed by Z, +HH:MM, -HH:MM or nothing. A date alone is local midnight
 * in tz, a time without a zone is local time in tz (a time in a DST gap
 * moves forward by the gap, an ambiguous one takes the first occurrence).
 * Refused: basic format (20240305, 142210), one-digit fields, hour 24,
 * minute or second 60, month 13, day 32 or a day the month lacks (Feb 29
 * outside leap years), offsets of 24 h or more or without ':', lowercase
 * 't'/'z', anything trailing.
 * *utc gets the instant, *local_day its local day in tz (either may be
 * NULL): the day the instant falls on in tz, which for a time without a
 * zone is its own date unless a gap moved it past midnight (so within a
 * day of the years 0000..9999, it may lie just outside them).
 */
int val_timestamp(const char *s, size_t len, const struct tz *tz, int64_t *utc,
		  int32_t *local_day, const char **reason);

/*
 * Date field: YYYY-MM-DD is that day as written; a full timestamp keeps
 * its local day in tz (EXPORTS.md), e.g. 2024-03-10T23:30:00-05:00 is
 * 2024-03-11 in UTC, in Europe/Berlin and in America/New_York (then on
 * EDT, 00:30), but 2024-03-10 in America/Chicago (CDT, 23:30).
 */
int val_date(const char *s, size_t len, const struct tz *tz, int32_t *day, const char **reason);

/* Integer: -?[0-9]{1,9}; range checks (NPS 0-10) are the caller's. */
int val_int(const char *s, size_t len, long *out, const char **reason);

/*
 * Money units as exact decimal text, with the fewest fraction digits but at
 * least 2: 1299000 -> "129.90", -150000 -> "-15.00", 1 -> "0.0001",
 * 123450 -> "12.345". buf holds VAL_MONEY_TEXT_MAX bytes; returns the
 * length (NUL not counted). val_money() reads every output back exactly.
 */
size_t val_format_money(int64_t units, char *buf);

/*
 * "YYYY-MM-DDTHH:MM:SSZ" (buf of VAL_TIMESTAMP_TEXT_MAX bytes) and
 * "YYYY-MM-DD" (VAL_DAY_TEXT_MAX bytes); return the length. Values outside
 * years 0000..9999 are clamped to that range.
 */
size_t val_format_timestamp(int64_t utc, char *buf);
size_t val_format_day(int32_t day, char *buf);

/*
 * Writers for the big output files: compute's per-customer CSV writes
 * some 300 million numbers a run, where a library call or a division by a
 * variable cost as much as the digits. They are inline so that a constant
 * `dec` makes every division one by a constant, write at p with no NUL,
 * and return the length; p needs room for the maximum each one states.
 */

/* "00" .. "99": two digits per division. */
extern const char val_digit_pairs[201];

/* Number of decimal digits of u (1..20). */
static inline size_t val_u64_len(uint64_t u)
{
	size_t n = 1;

	for (; u >= 10000; u /= 10000)
		n += 4;
	return n + (u >= 10) + (u >= 100) + (u >= 1000);
}

/* u in decimal: at most 20 bytes. */
static inline size_t val_put_u64(char *p, uint64_t u)
{
	size_t n = val_u64_len(u);
	char *q = p + n;

	for (; u >= 100; u /= 100) {
		q -= 2;
		memcpy(q, val_digit_pairs + 2 * (u % 100), 2);
	}
	/* the one or two leading digits left start the number */
	if (u >= 10)
		memcpy(p, val_digit_pairs + 2 * u, 2);
	else
		p[0] = (char)('0' + u);
	return n;
}

/* v in decimal: at most 20 bytes. */
static inline size_t val_put_i64(char *p, int64_t v)
{
	if (v >= 0)
		return val_put_u64(p, (uint64_t)v);
	p[0] = '-';
	return 1 + val_put_u64(p + 1, (uint64_t)0 - (uint64_t)v);
}

/*
 * val_format_money()'s text: at most 21 bytes. It always writes four
 * fraction digits and counts two to four of them, so it may write up to
 * two bytes past the length it returns.
 */
static inline size_t val_put_money(char *p, int64_t units)
{
	uint64_t mag = units < 0 ? 0 - (uint64_t)units : (uint64_t)units;
	unsigned fr = (unsigned)(mag % 10000);
	size_t n = 0;

	if (units < 0)
		p[n++] = '-';
	n += val_put_u64(p + n, mag / 10000);
	p[n++] = '.';
	memcpy(p + n, val_digit_pairs + 2 * (fr / 100), 2);
	memcpy(p + n + 2, val_digit_pairs + 2 * (fr % 100), 2);
	/* the fewest fraction digits but 2 */
	return n + (fr % 100 == 0 ? 2 : fr % 10 == 0 ? 3 : 4);
}

/*
 * round(x) (half away from zero) for |x| < 2^63, without the library call:
 * the cast truncates exactly, and x minus its integer part is exact too, so
 * comparing that fraction with 0.5 decides as round() does.
 */
static inline int64_t val_round_away(double x)
{
	int64_t i = (int64_t)x;
	double f = x - (double)i;

	/* no branch: which way a fraction goes is a coin toss for the predictor */
	return i + (f >= 0.5) - (f <= -0.5);
}

/*
 * A double (a model's prediction, never money) with `dec` decimals (1..4),
 * round(v * 10^dec) as a decimal: "-0.1250", "3.00"; "-" only if that
 * rounds below zero, so -0.00001 is "0.0000". Nothing (length 0) for NAN,
 * an infinity or |v| > 9e14, where the rounding would leave int64. At most
 * 1 + 15 + 1 + dec bytes.
 */
static inline size_t val_put_fixed(char *p, double v, int dec)
{
	const uint64_t scale = dec == 1 ? 10 : dec == 2 ? 100 : dec == 3 ? 1000 : 10000;
	int64_t r;
	uint64_t mag, fr;
	size_t n = 0;
	int d;

	if (!isfinite(v) || fabs(v) > 9e14)
		return 0;
	r = val_round_away(v * (double)scale);
	if (r < 0)
		p[n++] = '-';
	mag = r < 0 ? 0 - (uint64_t)r : (uint64_t)r;
	n += val_put_u64(p + n, mag / scale);
	p[n++] = '.';
	fr = mag % scale;
	for (d = dec; d >= 2; d -= 2) {
		memcpy(p + n + d - 2, val_digit_pairs + 2 * (fr % 100), 2);
		fr /= 100;
	}
	if (d == 1)
		p[n] = (char)('0' + fr);
	return n + (size_t)dec;
}

#endif
