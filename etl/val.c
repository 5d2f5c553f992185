/*
 * val.c - strict value parsers and exact formatters (see val.h).
 *
 * These run once per field of every row, tens of millions of times a run,
 * so the accepting path is hand-written fixed-position digit scanning with
 * no library calls, no allocation and no floating point. Working out *why*
 * a value was refused is a separate, slower diagnosis that only runs on
 * the refusal path, so good quarantine reasons cost the good rows nothing.
 *
 * Deliberately not here: deciding that an empty field means "missing",
 * range rules of particular fields (NPS 0-10), and anything locale-shaped
 * (decimal commas, thousands separators, currency signs are all refused).
 */
#include "val.h"

#include <string.h>

#include "banned.h"

#define DAY 86400

/* 0..9 for a digit, > 9 for any other byte. */
static unsigned dig(char c)
{
	return (unsigned)(unsigned char)c - '0';
}

static int refuse(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- shared diagnosis helpers ----------------------------------------- */

static int has_byte(const char *s, size_t len, char c)
{
	return memchr(s, c, len) != NULL;
}

/* A space of any kind: ASCII white space, U+00A0, U+2007..U+200A, U+202F. */
static int has_space(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n' || p[i] == '\v' || p[i] == '\f')
			return 1;
		if (p[i] == 0xC2 && i + 1 < len && p[i + 1] == 0xA0)
			return 1;
		if (p[i] == 0xE2 && i + 2 < len && p[i + 1] == 0x80 &&
		    ((p[i + 2] >= 0x87 && p[i + 2] <= 0x8A) || p[i + 2] == 0xAF))
			return 1;
	}
	return 0;
}

/* '$', U+00A2..U+00A5 (cent, pound, currency, yen), U+20A0..U+20CF (euro,
 * rupee, ...), or a three-letter code such as USD beside digits. */
static int has_currency(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, upper = 0;
	int code = 0, digits = 0;

	for (i = 0; i < len; i++) {
		digits |= dig(s[i]) <= 9;
		if (p[i] == '$')
			return 1;
		if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0xA2 && p[i + 1] <= 0xA5)
			return 1;
		if (p[i] == 0xE2 && i + 2 < len &&
		    ((p[i + 1] == 0x82 && p[i + 2] >= 0xA0) || (p[i + 1] == 0x83 && p[i + 2] <= 0x8F)))
			return 1;
		upper = (p[i] >= 'A' && p[i] <= 'Z') ? upper + 1 : 0;
		if (upper == 3)
			code = 1;
	}
	return code && digits; /* "USD 5", but "INF" is just not a number */
}

/* ---- money ------------------------------------------------------------ */

/* Why a money text with a byte outside -?[0-9]+(.[0-9]+)? was refused. */
static const char *money_reason(const char *s, size_t len)
{
	size_t i, dots = 0;
	int expo = 0, other = 0;

	if (has_currency(s, len))
		return "currency sign";
	if (has_byte(s, len, ',') || has_byte(s, len, '\'') || has_byte(s, len, '_'))
		return "thousands separator or decimal comma";
	if (has_space(s, len))
		return "spaces";
	if (s[0] == '+')
		return "leading '+'";
	for (i = 0; i < len; i++) {
		if (s[i] == 'e' || s[i] == 'E')
			expo = 1;
		else if (s[i] == '.')
			dots++;
		else if (dig(s[i]) > 9 && s[i] != '-' && s[i] != '+')
			other = 1;
	}
	if (expo && !other)
		return "exponent";
	if (dots > 1 && !other)
		return "more than one '.'";
	return "not a number";
}

int val_money(const char *s, size_t len, int64_t *out, const char **reason)
{
	static const uint32_t scale[5] = { 10000, 1000, 100, 10, 1 };
	size_t i = 0, int_start, nint, nfrac = 0;
	uint64_t ip = 0, fr = 0, units;
	int neg = 0, dot = 0, big = 0;
	unsigned d;

	if (len == 0)
		return refuse(reason, "empty");
	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	int_start = i;
	while (i < len && (d = dig(s[i])) <= 9) {
		if (ip < 1000000000000000ULL) /* 1e15: already out of range */
			ip = ip * 10 + d;
		else
			big = 1;
		i++;
	}
	nint = i - int_start;
	if (i < len && s[i] == '.') {
		size_t fstart = ++i;

		dot = 1;
		while (i < len && (d = dig(s[i])) <= 9) {
			if (i - fstart < 4)
				fr = fr * 10 + d;
			i++;
		}
		nfrac = i - fstart;
	}
	if (i != len)
		return refuse(reason, money_reason(s, len));
	if (nint == 0)
		return refuse(reason, dot ? "no digit before '.'" : "no digits");
	if (dot && nfrac == 0)
		return refuse(reason, "no digit after '.'");
	if (nfrac > 4)
		return refuse(reason, "more than 4 fraction digits");
	if (big || ip > (uint64_t)VAL_MONEY_MAX / 10000)
		return refuse(reason, "out of range");
	units = ip * 10000 + fr * scale[nfrac];
	if (units > (uint64_t)VAL_MONEY_MAX)
		return refuse(reason, "out of range");
	*out = neg ? -(int64_t)units : (int64_t)units;
	return 0;
}

const char val_digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"6869707172737475767778798081828384858687888990919293949596979899";

size_t val_format_money(int64_t units, char *buf)
{
	size_t n = val_put_money(buf, units);

	buf[n] = '\0';
	return n;
}

/* ---- integers --------------------------------------------------------- */

int val_int(const char *s, size_t len, long *out, const char **reason)
{
	size_t i = 0, start;
	long v = 0;
	unsigned d;

	if (len == 0)
		return refuse(reason, "empty");
	if (s[0] == '-')
		i = 1;
	start = i;
	while (i < len && (d = dig(s[i])) <= 9) {
		if (i - start < 9)
			v = v * 10 + (long)d;
		i++;
	}
	if (i != len) {
		if (has_space(s, len))
			return refuse(reason, "spaces");
		if (s[0] == '+')
			return refuse(reason, "leading '+'");
		if (s[i] == '.' && i > start)
			return refuse(reason, "not an integer");
		return refuse(reason, "not a number");
	}
	if (i == start)
		return refuse(reason, "no digits");
	if (i - start > 9)
		return refuse(reason, "more than 9 digits");
	*out = s[0] == '-' ? -v : v;
	return 0;
}

/* ---- timestamps ------------------------------------------------------- */

enum stamp_kind { STAMP_DATE, STAMP_LOCAL, STAMP_ZONED };

/* A parsed timestamp before the zone is applied. */
struct stamp {
	enum stamp_kind kind;
	int64_t day;  /* the written date, as a day number */
	int32_t secs; /* seconds into that day (0 for STAMP_DATE) */
	int32_t off;  /* STAMP_ZONED: the written UTC offset, east positive */
};

/* Two digits at p, or -1. */
static int two(const char *p)
{
	unsigned a = dig(p[0]), b = dig(p[1]);

	if (a > 9 || b > 9)
		return -1;
	return (int)(a * 10 + b);
}

/* Length of the run of digits at s[0..len). */
static size_t digit_run(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && dig(s[n]) <= 9)
		n++;
	return n;
}

/*
 * Why s[0..len) is not YYYY-MM-DD at its start. Runs only on refusal.
 */
static const char *date_reason(const char *s, size_t len)
{
	size_t a, b, c;

	if (len == 0)
		return "empty";
	a = digit_run(s, len);
	if (a >= 8 && a == len)
		return "basic format (YYYYMMDD) not accepted, expected YYYY-MM-DD";
	if (a >= 6 && (a == len || s[a] == 'T'))
		return "basic format not accepted, expected YYYY-MM-DD";
	if (a == 4 && a < len && s[a] == '-') {
		b = digit_run(s + 5, len - 5);
		if (b >= 1 && b <= 2 && 5 + b < len && s[5 + b] == '-') {
			c = digit_run(s + 6 + b, len - 6 - b);
			if (b == 1 || c == 1)
				return "one-digit field, expected YYYY-MM-DD";
		} else if (b == 1) {
			return "one-digit field, expected YYYY-MM-DD";
		}
	}
	if (a >= 1 && a <= 3 && a < len && s[a] == '-')
		return "year must have 4 digits";
	if (a == 2 && a < len && (s[a] == '/' || s[a] == '.'))
		return "expected YYYY-MM-DD, not a day-first date";
	if (len < 10 && a == 4 && len > 4 && s[4] == '-')
		return "incomplete date, expected YYYY-MM-DD";
	return "expected YYYY-MM-DD";
}

/* Why t[0..len) (what follows the 'T') is not HH:MM:SS at its start. */
static const char *time_reason(const char *t, size_t len)
{
	size_t a, b;

	if (len == 0)
		return "missing time after the date";
	a = digit_run(t, len);
	if (a >= 4)
		return "basic format not accepted, expected HH:MM:SS";
	if (a == 1)
		return "one-digit field, expected HH:MM:SS";
	if (a == 2 && len > 2 && t[2] == ':') {
		b = digit_run(t + 3, len - 3);
		if (b == 1)
			return "one-digit field, expected HH:MM:SS";
		if (b == 2 && (len == 5 || t[5] != ':'))
			return "missing seconds, expected HH:MM:SS";
		if (b == 2 && len > 6 && digit_run(t + 6, len - 6) == 1)
			return "one-digit field, expected HH:MM:SS";
	}
	return "expected HH:MM:SS";
}

/* Why the zone designator z[0..len) (len > 0) is not Z or +-HH:MM. */
static const char *zone_reason(const char *z, size_t len)
{
	if (z[0] == 'z')
		return "lowercase 'z' not accepted, expected 'Z'";
	if (z[0] == 'Z')
		return "trailing characters after 'Z'";
	if (z[0] == '+' || z[0] == '-') {
		if (len == 5 && digit_run(z + 1, 4) == 4)
			return "offset without ':', expected +HH:MM";
		if (len == 3 && digit_run(z + 1, 2) == 2)
			return "offset without minutes, expected +HH:MM";
		return "expected offset +HH:MM or -HH:MM";
	}
	if (z[0] == ',')
		return "decimal comma in seconds, expected '.'";
	if (z[0] == ' ')
		return "spaces after the time";
	return "trailing characters after the time";
}

/*
 * The first day (days since 1970-01-01) and the length of a month,
 * remembered for the month asked last by this thread: the rows of an
 * export come in runs of one month (99.8% of timestamps in the bench
 * set), and the calendar arithmetic cost more than the rest of parsing a
 * date. Thread-local: each export is parsed on a reader thread of its
 * own.
 */
struct month_memo {
	int ym;                  /* year * 12 + month - 1, or -1 */
	int length;              /* days in the month */
	int64_t first;           /* its first day */
};

static _Thread_local struct month_memo memo = { -1, 0, 0 };

static const struct month_memo *month_of(int y, int mo)
{
	int ym = y * 12 + mo - 1;

	if (memo.ym != ym) {
		memo.length = tz_days_in_month(y, mo);
		memo.first = tz_days_from_civil(y, mo, 1);
		memo.ym = ym;
	}
	return &memo;
}

/*
 * YYYY-MM-DD[(T| )HH:MM:SS[.frac][Z|+HH:MM|-HH:MM]] to a struct stamp.
 * The accepting path reads fixed positions; reasons come from *_reason().
 */
static int parse_stamp(const char *s, size_t len, struct stamp *st, const char **reason)
{
	const struct month_memo *m;
	int y1, y2, mo, d, h, mi, se, oh, om;
	size_t i;

	if (len < 10 || s[4] != '-' || s[7] != '-')
		return refuse(reason, date_reason(s, len));
	y1 = two(s);
	y2 = two(s + 2);
	mo = two(s + 5);
	d = two(s + 8);
	if ((y1 | y2 | mo | d) < 0)
		return refuse(reason, date_reason(s, len));
	if (mo < 1 || mo > 12)
		return refuse(reason, "month out of range");
	m = month_of(y1 * 100 + y2, mo);
	if (d < 1 || d > m->length)
		return refuse(reason, d < 1 || d > 31 ? "day out of range" : "day does not exist in that month");
	st->day = m->first + d - 1;
	st->secs = 0;
	st->off = 0;
	if (len == 10) {
		st->kind = STAMP_DATE;
		return 0;
	}
	if (s[10] != 'T' && s[10] != ' ') {
		if (s[10] == 't')
			return refuse(reason, "lowercase 't' not accepted, expected 'T'");
		if (dig(s[10]) <= 9)
			return refuse(reason, date_reason(s, len));
		return refuse(reason, "trailing characters after the date");
	}
	if (len < 19 || s[13] != ':' || s[16] != ':')
		return refuse(reason, time_reason(s + 11, len - 11));
	h = two(s + 11);
	mi = two(s + 14);
	se = two(s + 17);
	if ((h | mi | se) < 0)
		return refuse(reason, time_reason(s + 11, len - 11));
	if (h > 23)
		return refuse(reason, "hour out of range (24:00 is not accepted)");
	if (mi > 59)
		return refuse(reason, "minute out of range");
	if (se > 59)
		return refuse(reason, "second out of range (no leap seconds)");
	if (len > 19 && dig(s[19]) <= 9)
		return refuse(reason, time_reason(s + 11, len - 11));
	st->secs = h * 3600 + mi * 60 + se;
	i = 19;
	if (i < len && s[i] == '.') {
		size_t f = ++i;

		while (i < len && dig(s[i]) <= 9)
			i++; /* truncated to whole seconds */
		if (i == f)
			return refuse(reason, "no digit after '.' in the seconds");
	}
	if (i == len) {
		st->kind = STAMP_LOCAL;
		return 0;
	}
	st->kind = STAMP_ZONED;
	if (s[i] == 'Z' && i + 1 == len)
		return 0;
	if ((s[i] == '+' || s[i] == '-') && len - i == 6 && s[i + 3] == ':' &&
	    (oh = two(s + i + 1)) >= 0 && (om = two(s + i + 4)) >= 0) {
		if (oh > 23)
			return refuse(reason, "offset of 24 h or more");
		if (om > 59)
			return refuse(reason, "offset minutes out of range");
		st->off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		return 0;
	}
	return refuse(reason, zone_reason(s + i, len - i));
}

int val_timestamp(const char *s, size_t len, const struct tz *tz, int64_t *utc,
		  int32_t *local_day, const char **reason)
{
	struct stamp st;
	int64_t t, local;

	if (parse_stamp(s, len, &st, reason) < 0)
		return -1;
	local = st.day * DAY + st.secs;
	if (st.kind == STAMP_ZONED)
		t = local - st.off;
	else
		t = tz_local_to_utc(tz, local);
	if (t < VAL_UTC_MIN || t > VAL_UTC_MAX)
		return refuse(reason, "out of range (years 0000 to 9999 in UTC)");
	if (utc)
		*utc = t;
	if (local_day)
		*local_day = tz_day_of(tz, t);
	return 0;
}

int val_date(const char *s, size_t len, const struct tz *tz, int32_t *day, const char **reason)
{
	if (len == 10) {
		struct stamp st;

		if (parse_stamp(s, len, &st, reason) < 0)
			return -1;
		*day = (int32_t)st.day;
		return 0;
	}
	return val_timestamp(s, len, tz, NULL, day, reason);
}

/* ---- formatting ------------------------------------------------------- */

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DD" of a day in 0000-01-01..9999-12-31 (clamped). */
static void put_day(char *p, int64_t day)
{
	static const int64_t first = -719528, last = 2932896; /* 0000-01-01, 9999-12-31 */
	int64_t y;
	int m, d;

	if (day < first)
		day = first;
	if (day > last)
		day = last;
	tz_civil_from_days(day, &y, &m, &d);
	put2(p, (unsigned)(y / 100));
	put2(p + 2, (unsigned)(y % 100));
	p[4] = '-';
	put2(p + 5, (unsigned)m);
	p[7] = '-';
	put2(p + 8, (unsigned)d);
}

size_t val_format_day(int32_t day, char *buf)
{
	put_day(buf, day);
	buf[10] = '\0';
	return 10;
}

size_t val_format_timestamp(int64_t utc, char *buf)
{
	int64_t secs;

	if (utc < VAL_UTC_MIN)
		utc = VAL_UTC_MIN;
	if (utc > VAL_UTC_MAX)
		utc = VAL_UTC_MAX;
	secs = utc - floor_div(utc, DAY) * DAY;
	put_day(buf, floor_div(utc, DAY));
	buf[10] = 'T';
	put2(buf + 11, (unsigned)(secs / 3600));
	buf[13] = ':';
	put2(buf + 14, (unsigned)(secs / 60 % 60));
	buf[16] = ':';
	put2(buf + 17, (unsigned)(secs % 60));
	buf[19] = 'Z';
	buf[20] = '\0';
	return 20;
}
