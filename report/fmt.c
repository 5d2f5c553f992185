/*
 * fmt.c - number formatting for the report (see fmt.h).
 *
 * Everything is done by hand over snprintf("%.*f") so the output never
 * depends on the process locale. Rounding is that of printf on the value
 * scaled once, which is what a reader checking a figure by hand expects.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

#include "banned.h"

static const char *const kind_names[] = {
	"count", "money", "percent", "nps", "decimal", "ratio", "hours", "days"
};

int fmt_kind_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(name, kind_names[i]))
			return (int)i;
	return -1;
}

const char *fmt_kind_name(enum fmt_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

char *fmt_thousands(char *buf, size_t n, double v, int decimals)
{
	char tmp[64], *dot;
	size_t len, int_len, i, o = 0, start = 0;

	if (n == 0)
		return buf;
	if (!isfinite(v)) {
		snprintf(buf, n, "n/a");
		return buf;
	}
	if (decimals < 0)
		decimals = 0;
	if (fabs(v) >= 1e15) {
		snprintf(buf, n, "%.3g", v);
		return buf;
	}
	snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
	/* "-0" and "-0.0" read badly: a value that rounds to zero has no sign. */
	if (tmp[0] == '-' && strspn(tmp + 1, "0.") == strlen(tmp + 1))
		memmove(tmp, tmp + 1, strlen(tmp));
	len = strlen(tmp);
	dot = strchr(tmp, '.');
	if (tmp[0] == '-')
		start = 1;
	int_len = (dot ? (size_t)(dot - tmp) : len) - start;
	if (start && o + 1 < n)
		buf[o++] = '-';
	for (i = 0; i < int_len && o + 1 < n; i++) {
		if (i > 0 && (int_len - i) % 3 == 0) {
			buf[o++] = ',';
			if (o + 1 >= n)
				break;
		}
		buf[o++] = tmp[start + i];
	}
	for (i = start + int_len; i < len && o + 1 < n; i++)
		buf[o++] = tmp[i];
	buf[o] = '\0';
	return buf;
}

const char *fmt_currency_prefix(const char *currency, char *buf, size_t n)
{
	if (!currency || !*currency || !strcmp(currency, "USD"))
		snprintf(buf, n, "$");
	else
		snprintf(buf, n, "%s ", currency);
	return buf;
}

char *fmt_value(char *buf, size_t n, enum fmt_kind k, double v, const char *currency)
{
	return fmt_value_col(buf, n, k, v, v, currency);
}

char *fmt_value_col(char *buf, size_t n, enum fmt_kind k, double v, double col_max,
		    const char *currency)
{
	char num[FMT_MAX], cur[16];

	if (!isfinite(v)) {
		snprintf(buf, n, "n/a");
		return buf;
	}
	switch (k) {
	case FMT_COUNT:
		fmt_thousands(buf, n, v, 0);
		break;
	case FMT_MONEY:
		fmt_currency_prefix(currency, cur, sizeof(cur));
		fmt_thousands(num, sizeof(num), fabs(v), fabs(col_max) >= 1000 || fabs(v) >= 1000 ? 0 : 2);
		snprintf(buf, n, "%s%s%s", v < 0 && strcmp(num, "0.00") ? "-" : "", cur, num);
		break;
	case FMT_PERCENT:
		fmt_thousands(num, sizeof(num), v * 100.0, 1);
		snprintf(buf, n, "%s%%", num);
		break;
	case FMT_NPS:
		fmt_thousands(buf, n, v, 0);
		break;
	case FMT_DECIMAL:
		fmt_thousands(buf, n, v, 2);
		break;
	case FMT_RATIO:
		fmt_thousands(num, sizeof(num), v, 1);
		snprintf(buf, n, "%sx", num);
		break;
	case FMT_HOURS:
		fmt_thousands(num, sizeof(num), v, 1);
		snprintf(buf, n, "%s h", num);
		break;
	case FMT_DAYS:
		fmt_thousands(num, sizeof(num), v, 0);
		snprintf(buf, n, "%s d", num);
		break;
	}
	return buf;
}

/* "+1.2" / "-1.2" / "0.0" with a sign taken from the rounded text. */
static char *signed_num(char *buf, size_t n, double d, int decimals, int *sign)
{
	char num[FMT_MAX];

	fmt_thousands(num, sizeof(num), d, decimals);
	if (strspn(num, "0.,") == strlen(num)) {
		*sign = 0;
		snprintf(buf, n, "%s", num);
	} else if (num[0] == '-') {
		*sign = -1;
		snprintf(buf, n, "%s", num);
	} else {
		*sign = 1;
		snprintf(buf, n, "+%s", num);
	}
	return buf;
}

char *fmt_change(char *buf, size_t n, enum fmt_kind k, double cur, double prev, int *sign)
{
	char num[FMT_MAX];

	*sign = 0;
	if (!isfinite(cur) || !isfinite(prev)) {
		snprintf(buf, n, "n/a");
		return buf;
	}
	switch (k) {
	case FMT_PERCENT:
		signed_num(num, sizeof(num), (cur - prev) * 100.0, 1, sign);
		snprintf(buf, n, "%s pp", num);
		break;
	case FMT_NPS:
		signed_num(buf, n, cur - prev, 0, sign);
		break;
	default:
		if (prev == 0) {
			snprintf(buf, n, "n/a");
			break;
		}
		signed_num(num, sizeof(num), (cur - prev) / fabs(prev) * 100.0, 1, sign);
		snprintf(buf, n, "%s%%", num);
		break;
	}
	return buf;
}

/* Digits after the point needed to tell ticks `step` apart. */
static int step_decimals(double step)
{
	int d = 0;

	while (d < 6 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6)
		d++;
	return d;
}

char *fmt_tick(char *buf, size_t n, enum fmt_kind k, double v, double step, const char *currency)
{
	char num[FMT_MAX], cur[16];
	const char *suffix = "";
	double a = fabs(v), s = step;

	if (k == FMT_PERCENT) {
		fmt_thousands(num, sizeof(num), v * 100.0, step_decimals(step * 100.0));
		snprintf(buf, n, "%s%%", num);
		return buf;
	}
	/* One unit for the whole axis, chosen from the step: $0.8M $1.0M, not $800k $1.0M. */
	(void)a;
	if (step >= 1e8) {
		v /= 1e9; s /= 1e9; suffix = "B";
	} else if (step >= 1e5) {
		v /= 1e6; s /= 1e6; suffix = "M";
	} else if (step >= 1e3) {
		v /= 1e3; s /= 1e3; suffix = "k";
	}
	fmt_thousands(num, sizeof(num), v, step_decimals(s));
	if (k == FMT_MONEY)
		snprintf(buf, n, "%s%s%s", fmt_currency_prefix(currency, cur, sizeof(cur)), num, suffix);
	else
		snprintf(buf, n, "%s%s", num, suffix);
	return buf;
}

int fmt_nice_ticks(double lo, double hi, int want, double *t0, double *step)
{
	double range, raw, mag, f, first, last;
	int count;

	if (want < 1)
		want = 1;
	if (!isfinite(lo) || !isfinite(hi)) {
		lo = 0;
		hi = 1;
	}
	if (hi < lo) {
		double t = lo;
		lo = hi;
		hi = t;
	}
	if (hi - lo < 1e-12) {
		double pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	range = hi - lo;
	raw = range / want;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	*step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	first = floor(lo / *step + 1e-9) * *step;
	last = ceil(hi / *step - 1e-9) * *step;
	count = (int)llround((last - first) / *step) + 1;
	if (count < 2)
		count = 2;
	*t0 = first;
	return count;
}
