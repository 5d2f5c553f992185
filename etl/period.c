/*
 * period.c - parsing and formatting "YYYY-MM" periods (see period.h).
 *
 * Strict by design: cron lines and scripts pass periods, and a typo such as
 * "2025-1" or "2025-13" must fail loudly rather than pick some month.
 */
#include "period.h"

#include <stdint.h>

#include "tz.h"

#include "banned.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int period_parse(const char *text, const char *what, int *out, struct crm_err *e)
{
	int i, year, month;

	for (i = 0; i < 7; i++) {
		if (i == 4 ? text[i] != '-' : !is_digit(text[i]))
			break;
	}
	if (i < 7 || text[7] != '\0')
		return err_at(e, CRM_E_USAGE, NULL, 0, what,
			      "invalid period '%s': expected YYYY-MM, e.g. 2025-10", text);
	year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
	month = (text[5] - '0') * 10 + (text[6] - '0');
	if (year < 1000)
		return err_at(e, CRM_E_USAGE, NULL, 0, what,
			      "invalid period '%s': year must be 1000 to 9999", text);
	if (month < 1 || month > 12)
		return err_at(e, CRM_E_USAGE, NULL, 0, what,
			      "invalid period '%s': month must be 01 to 12", text);
	*out = period_make(year, month);
	return 0;
}

int period_make(int year, int month)
{
	return year * 12 + (month - 1);
}

int period_year(int period)
{
	return period / 12;
}

int period_month(int period)
{
	return period % 12 + 1;
}

char *period_format(int period, char *buf)
{
	/* Hand-formatted: periods are always in range here, and this is cheap. */
	unsigned y = (unsigned)period_year(period) % 10000, m = (unsigned)period_month(period) % 100;

	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + m / 10);
	buf[6] = (char)('0' + m % 10);
	buf[7] = '\0';
	return buf;
}

int period_last_closed(time_t now)
{
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		return period_make(1970, 1);
	return period_make(tm.tm_year + 1900, tm.tm_mon + 1) - 1;
}

int period_last_closed_in(const struct tz *tz, time_t now)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(tz_day_of(tz, (int64_t)now), &y, &m, &d);
	return period_make((int)y, m) - 1;
}
