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

#include <stddef.h>
#include <stdint.h>

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

#endif
