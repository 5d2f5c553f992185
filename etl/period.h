/*
 * period.h - reporting periods (calendar months) as small integers.
 *
 * A period is stored as the number of months since January of year 0:
 * year * 12 + (month - 1). Consecutive months are consecutive integers, so
 * ranges are plain loops and P-11..P is arithmetic. Text form: "YYYY-MM",
 * years 1000..9999 (four digits, as in every export and file name).
 */
#ifndef CRM_PERIOD_H
#define CRM_PERIOD_H

#include <time.h>

#include "err.h"

#define PERIOD_TEXT_MAX 8 /* "YYYY-MM" and the NUL */

/*
 * Parse exactly "YYYY-MM". On error fills `e` (CRM_E_USAGE, field = `what`,
 * e.g. "--period") with the reason: "invalid period '2025-13': month must be
 * 01 to 12".
 */
int period_parse(const char *text, const char *what, int *out, struct crm_err *e);

/* Write "YYYY-MM" into buf (at least PERIOD_TEXT_MAX bytes); returns buf. */
char *period_format(int period, char *buf);

int period_year(int period);
int period_month(int period); /* 1..12 */
int period_make(int year, int month);

/* The last closed period at `now`: the month before the current UTC month. */
int period_last_closed(time_t now);

struct tz;

/*
 * The same in a timezone: the month before the one the zone's wall clock
 * shows at `now` (at 01:00 on the 1st in Tokyo the previous month is
 * closed there while it is still open in UTC).
 */
int period_last_closed_in(const struct tz *tz, time_t now);

#endif
