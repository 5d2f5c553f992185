/*
 * fmt.h - how the report writes numbers: thousands separators, currency,
 * percentages, NPS points, changes between periods and axis ticks.
 *
 * Pure functions over doubles into caller buffers (ASCII only, so every
 * number is set in Helvetica even in Chinese reports and extracts as ASCII
 * text). No locale: the separators are fixed (',' and '.') because the
 * reports must read the same on every machine.
 */
#ifndef CRM_FMT_H
#define CRM_FMT_H

#include <stddef.h>

#define FMT_MAX 48 /* room for any formatted value, with the NUL */

/* How a metric's value is written. */
enum fmt_kind {
	FMT_COUNT,   /* 12,345 */
	FMT_MONEY,   /* $1,234,567 (>= 1,000) or $45.20 */
	FMT_PERCENT, /* a ratio 0.0412 as 4.1% */
	FMT_NPS,     /* an integer score: 31.7 as 32 */
	FMT_DECIMAL, /* 2.35 */
	FMT_RATIO,   /* 3.2x */
	FMT_HOURS,   /* 5.3 h */
	FMT_DAYS     /* 412 d */
};

/* "count", "money", ... -> kind; -1 when unknown. */
int fmt_kind_parse(const char *name);
const char *fmt_kind_name(enum fmt_kind k);

/*
 * Write v with `decimals` digits after the point and ',' between thousands,
 * rounding half away from zero: 1234567.891, 2 -> "1,234,567.89".
 */
char *fmt_thousands(char *buf, size_t n, double v, int decimals);

/* The prefix written before money: "$" for USD, "CODE " for others. */
const char *fmt_currency_prefix(const char *currency, char *buf, size_t n);

/* Write a metric value of kind k; `currency` is an ISO code (money only). */
char *fmt_value(char *buf, size_t n, enum fmt_kind k, double v, const char *currency);

/*
 * Same for a value in a table column whose largest magnitude is col_max:
 * money has cents only when the whole column is under 1,000, so a column
 * never mixes "$9,320" and "$627.53".
 */
char *fmt_value_col(char *buf, size_t n, enum fmt_kind k, double v, double col_max,
		    const char *currency);

/*
 * Write the change from `prev` to `cur`: percentage points for percentages
 * ("+0.3 pp"), points for NPS ("+3"), a relative change otherwise ("+5.2%",
 * "n/a" when prev is 0). *sign is -1, 0 or +1 (0 when the written change
 * rounds to zero).
 */
char *fmt_change(char *buf, size_t n, enum fmt_kind k, double cur, double prev, int *sign);

/* A short axis label for a tick at v, with steps of `step`: "$1.2M", "4.5%", "12k". */
char *fmt_tick(char *buf, size_t n, enum fmt_kind k, double v, double step, const char *currency);

/*
 * Nice axis ticks covering [lo, hi]: *t0 the first tick, *step between
 * them (1, 2 or 5 times a power of ten), about `want` intervals; returns the
 * number of ticks (2..want*2+1).
 */
int fmt_nice_ticks(double lo, double hi, int want, double *t0, double *step);

#endif
