/*
 * tz.c - IANA time zones from TZif files (RFC 8536), without libc's TZ.
 *
 * Owns the zones it loads: a sorted table of UTC offsets by transition
 * instant, the parsed POSIX TZ footer rule, and a bucket index over
 * 1900..2100. Loading reads one file whole, checks every count, index and
 * offset against the file size before use, and expands the footer rule into
 * explicit transitions up to 2100, so "slim" files (few transitions, the rest
 * left to the footer) and "fat" ones (explicit transitions up to 2037) give
 * the same table. Queries are pure functions of a const zone.
 *
 * RFC 8536 wants the footer to agree with the last transition's type. Where
 * a file breaks that (an older zic wrote America/Ojinaga "slim" with CST
 * from 2022-10-30 but a footer saying CDT until 11-06), the file's own
 * transition holds until the rule's next one: what the fat file says, and
 * what happened; glibc follows the footer there.
 *
 * Deliberately not here: leap-second ("right/") zones, time zone
 * abbreviations, and libc's tzset()/localtime_r(), whose process-wide TZ
 * state would tie every zone of a run to one global.
 */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define DAY 86400
#define HOUR 3600

/* Instants are clamped to +-2^50 s (about 35 million years) so that no
 * offset arithmetic can overflow. */
#define T_LIMIT ((int64_t)1 << 50)

/* RFC 8536 3.2: utoff SHOULD lie in [-89999, 93599] (about -25 h..+26 h). */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599

/* A local time maps to an instant within this distance (> 26 h). */
#define LOCAL_REACH (30 * HOUR)

/* The footer rule is expanded up to this year; the bucket index covers
 * INDEX_FIRST_YEAR..GEN_LAST_YEAR. */
#define GEN_FIRST_YEAR 1800
#define GEN_LAST_YEAR 2100
#define INDEX_FIRST_YEAR 1900
#define BUCKET_SHIFT 20 /* 2^20 s = 12.1 days, shorter than any DST season */

/* One date of a POSIX TZ rule: Jn, n or Mm.w.d, plus a local time. */
struct rule_date {
	char kind;    /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' */
	int n;        /* J and N: the day */
	int m, w, d;  /* M: month 1..12, week 1..5 (5 = last), weekday 0..6 */
	int32_t time; /* seconds after local midnight, -167 h..+167 h */
};

/* The POSIX TZ string of a TZif footer, e.g. "EST5EDT,M3.2.0,M11.1.0". */
struct footer {
	int present;     /* a non-empty footer was parsed */
	int has_dst;     /* a DST name (and so a rule) was given */
	int32_t std_off; /* UTC offset of standard time, east positive */
	int32_t dst_off; /* UTC offset of daylight time */
	struct rule_date start; /* standard -> daylight, in standard local time */
	struct rule_date end;   /* daylight -> standard, in daylight local time */
};

struct tz {
	char name[TZ_NAME_MAX + 1];
	size_t n;           /* transitions in trans[] and off[] */
	int64_t *trans;     /* owned: UTC instants, strictly ascending */
	int32_t *off;       /* owned: off[i] is in force from trans[i] to trans[i+1] */
	int32_t off_before; /* in force before trans[0] (or always, when n == 0) */
	int footer_before;  /* the file had no transitions: the footer also rules before trans[0] */
	struct footer ft;   /* rules from trans[n - 1] on, when present */
	int64_t bucket_base;  /* UTC instant of bucket 0 */
	uint64_t bucket_span; /* bucket count << BUCKET_SHIFT; 0 = no index */
	uint32_t *bucket;     /* owned: bucket[b] = last i with trans[i] <= base + (b << SHIFT) */
};

/* ---- civil dates ------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;                                   /* [0, 399] */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;                                       /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                     /* [0, 11], March first */

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int tz_is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int tz_days_in_month(int64_t y, int m)
{
	static const unsigned char len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	if (m == 2)
		return 28 + tz_is_leap(y);
	return len[m - 1];
}

int tz_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday. */
	return (int)(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

static int64_t clamp_t(int64_t t)
{
	if (t > T_LIMIT)
		return T_LIMIT;
	if (t < -T_LIMIT)
		return -T_LIMIT;
	return t;
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(floor_div(t, DAY), &y, &m, &d);
	return y;
}

/* ---- the footer rule -------------------------------------------------- */

/* Day number of a rule date in year y. */
static int64_t rule_day(const struct rule_date *r, int64_t y)
{
	int64_t jan1 = tz_days_from_civil(y, 1, 1);
	int64_t first, day;

	switch (r->kind) {
	case 'J':
		return jan1 + r->n - 1 + (tz_is_leap(y) && r->n >= 60);
	case 'N':
		return jan1 + r->n;
	default:
		first = tz_days_from_civil(y, r->m, 1);
		day = first + (r->d - tz_weekday(first) + 7) % 7 + (int64_t)(r->w - 1) * 7;
		if (day >= first + tz_days_in_month(y, r->m))
			day -= 7; /* week 5 = the last such weekday */
		return day;
	}
}

/* UTC instant of a rule date in year y, read with the offset before it. */
static int64_t rule_utc(const struct rule_date *r, int64_t y, int32_t before)
{
	return rule_day(r, y) * DAY + r->time - before;
}

/*
 * Offset of the footer rule at t, and the interval [*lo, *hi) around t in
 * which it holds. Events of the years y-2..y+2 bracket t even when a rule
 * time moves a transition by up to a week.
 */
static int32_t footer_eval(const struct footer *f, int64_t t, int64_t *lo, int64_t *hi)
{
	struct { int64_t t; int32_t off; } ev[10], tmp;
	int64_t y;
	int i, j, k, n = 0;

	if (!f->has_dst) {
		*lo = INT64_MIN;
		*hi = INT64_MAX;
		return f->std_off;
	}
	y = year_of(t);
	for (i = -2; i <= 2; i++) {
		ev[n].t = rule_utc(&f->start, y + i, f->std_off);
		ev[n++].off = f->dst_off;
		ev[n].t = rule_utc(&f->end, y + i, f->dst_off);
		ev[n++].off = f->std_off;
	}
	/* Stable insertion sort: of two events at one instant the later
	 * rule wins, as when DST lasts all year ("0/0,J365/25"). */
	for (i = 1; i < n; i++) {
		tmp = ev[i];
		for (j = i; j > 0 && ev[j - 1].t > tmp.t; j--)
			ev[j] = ev[j - 1];
		ev[j] = tmp;
	}
	k = -1;
	for (i = 0; i < n && ev[i].t <= t; i++)
		k = i;
	if (k < 0) { /* cannot happen: year y-2 ends before t */
		*lo = INT64_MIN;
		*hi = ev[0].t;
		return ev[0].off == f->std_off ? f->dst_off : f->std_off;
	}
	*lo = ev[k].t;
	*hi = k + 1 < n ? ev[k + 1].t : INT64_MAX;
	return ev[k].off;
}

/* ---- lookups ---------------------------------------------------------- */

/*
 * Index i with trans[i] <= t < trans[i + 1], searching up from `lo`; needs
 * trans[lo] <= t < trans[n - 1]. A few steps forward cover a bucket of a
 * real zone; a crowded (hostile) file falls back to binary search.
 */
static size_t find_from(const struct tz *tz, size_t lo, int64_t t)
{
	size_t hi = tz->n - 1, mid;
	int steps;

	for (steps = 0; steps < 4; steps++) {
		if (tz->trans[lo + 1] > t)
			return lo;
		lo++;
	}
	while (hi - lo > 1) { /* trans[lo] <= t < trans[hi] */
		mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Index i with trans[i] <= t < trans[i + 1]; needs trans[0] <= t < trans[n - 1]. */
static size_t find_index(const struct tz *tz, int64_t t)
{
	uint64_t d = (uint64_t)t - (uint64_t)tz->bucket_base;

	if (d < tz->bucket_span)
		return find_from(tz, tz->bucket[d >> BUCKET_SHIFT], t);
	return find_from(tz, 0, t);
}

/* Offset at t and the interval [*lo, *hi) around t where it holds. */
static int32_t lookup(const struct tz *tz, int64_t t, int64_t *lo, int64_t *hi)
{
	int32_t off;
	size_t i;

	t = clamp_t(t);
	if (tz->n == 0) {
		if (tz->ft.present)
			return footer_eval(&tz->ft, t, lo, hi);
		*lo = INT64_MIN;
		*hi = INT64_MAX;
		return tz->off_before;
	}
	if (t < tz->trans[0]) {
		if (tz->footer_before) {
			off = footer_eval(&tz->ft, t, lo, hi);
			if (*hi > tz->trans[0])
				*hi = tz->trans[0];
			return off;
		}
		*lo = INT64_MIN;
		*hi = tz->trans[0];
		return tz->off_before;
	}
	if (t >= tz->trans[tz->n - 1]) {
		if (tz->ft.present) {
			off = footer_eval(&tz->ft, t, lo, hi);
			if (*lo < tz->trans[tz->n - 1])
				*lo = tz->trans[tz->n - 1];
			return off;
		}
		*lo = tz->trans[tz->n - 1];
		*hi = INT64_MAX;
		return tz->off[tz->n - 1];
	}
	i = find_index(tz, t);
	*lo = tz->trans[i];
	*hi = tz->trans[i + 1];
	return tz->off[i];
}

long tz_offset_at(const struct tz *tz, int64_t t)
{
	uint64_t d = (uint64_t)t - (uint64_t)tz->bucket_base;
	int64_t lo, hi;
	size_t i;

	/* The hot path: an instant of 1900..2100 in a zone with transitions. */
	if (d < tz->bucket_span) {
		i = tz->bucket[d >> BUCKET_SHIFT];
		if (tz->trans[i + 1] > t)
			return tz->off[i];
		return tz->off[find_from(tz, i, t)];
	}
	return lookup(tz, t, &lo, &hi);
}

/*
 * Walk the offset intervals from just before any instant that can show
 * `local`, and take the first one that does. *first_instant gets the first
 * instant whose local time is >= local: the result, or in a gap the
 * transition that ends it.
 */
static int64_t local_to_utc(const struct tz *tz, int64_t local, int64_t *first_instant)
{
	int64_t lo, hi, t, prev_off = 0;
	int32_t off;
	int k;

	local = clamp_t(local);
	off = lookup(tz, local - LOCAL_REACH, &lo, &hi);
	if (hi > local + LOCAL_REACH) { /* one offset around: the usual case */
		*first_instant = local - off;
		return local - off;
	}
	for (k = 0; k < 64; k++) {
		t = local - off;
		if (t < lo && k > 0) { /* in no interval: a gap, read with the offset before it */
			*first_instant = lo;
			return local - prev_off;
		}
		if (t < hi || hi == INT64_MAX)
			break;
		prev_off = off;
		off = lookup(tz, hi, &lo, &hi);
	}
	*first_instant = local - off;
	return local - off;
}

int64_t tz_local_to_utc(const struct tz *tz, int64_t local)
{
	int64_t first;

	return local_to_utc(tz, local, &first);
}

int32_t tz_day_of(const struct tz *tz, int64_t t)
{
	int64_t day;

	t = clamp_t(t);
	day = floor_div(t + tz_offset_at(tz, t), DAY);
	if (day > INT32_MAX)
		return INT32_MAX;
	if (day < INT32_MIN)
		return INT32_MIN;
	return (int32_t)day;
}

int64_t tz_day_start(const struct tz *tz, int32_t day)
{
	int64_t first;

	local_to_utc(tz, (int64_t)day * DAY, &first);
	return first;
}

const char *tz_name(const struct tz *tz)
{
	return tz->name;
}

void tz_free(struct tz *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->off);
	free(tz->bucket);
	free(tz);
}

/* ---- POSIX TZ strings (footer) ---------------------------------------- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A number of 1..maxdig digits, at most `max`; -1 if none. */
static int parse_num(const char **p, int maxdig, int max)
{
	const char *s = *p;
	int v = 0, n = 0;

	while (n < maxdig && is_digit(*s)) {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n == 0 || v > max)
		return -1;
	*p = s;
	return v;
}

/* A zone abbreviation: 3+ letters, or <3+ of [A-Za-z0-9+-]>. */
static int parse_abbr(const char **p)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '<') {
		s++;
		while (is_alpha(s[n]) || is_digit(s[n]) || s[n] == '+' || s[n] == '-')
			n++;
		if (n < 3 || s[n] != '>')
			return -1;
		*p = s + n + 1;
		return 0;
	}
	while (is_alpha(s[n]))
		n++;
	if (n < 3)
		return -1;
	*p = s + n;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh, to seconds. */
static int parse_hms(const char **p, int maxh, int32_t *out)
{
	const char *s = *p;
	int sign = 1, h, m = 0, sec = 0;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	h = parse_num(&s, 3, maxh);
	if (h < 0)
		return -1;
	if (*s == ':') {
		s++;
		if ((m = parse_num(&s, 2, 59)) < 0)
			return -1;
		if (*s == ':') {
			s++;
			if ((sec = parse_num(&s, 2, 59)) < 0)
				return -1;
		}
	}
	*out = sign * (h * HOUR + m * 60 + sec);
	*p = s;
	return 0;
}

static int parse_rule_date(const char **p, struct rule_date *r)
{
	const char *s = *p;

	memset(r, 0, sizeof(*r));
	if (*s == 'J') {
		s++;
		r->kind = 'J';
		if ((r->n = parse_num(&s, 3, 365)) < 1)
			return -1;
	} else if (*s == 'M') {
		s++;
		r->kind = 'M';
		if ((r->m = parse_num(&s, 2, 12)) < 1 || *s++ != '.')
			return -1;
		if ((r->w = parse_num(&s, 1, 5)) < 1 || *s++ != '.')
			return -1;
		if ((r->d = parse_num(&s, 1, 6)) < 0)
			return -1;
	} else {
		r->kind = 'N';
		if ((r->n = parse_num(&s, 3, 365)) < 0)
			return -1;
	}
	r->time = 2 * HOUR;
	if (*s == '/') {
		s++;
		/* RFC 8536 extension of POSIX: -167..167 hours. */
		if (parse_hms(&s, 167, &r->time) < 0)
			return -1;
	}
	*p = s;
	return 0;
}

/* Parse a whole TZ string; 0 or -1. An empty string leaves f->present 0. */
static int parse_footer(const char *s, struct footer *f)
{
	static const char us_rule[] = "M3.2.0,M11.1.0"; /* POSIX leaves it open; glibc and tzcode use this */
	const char *r;
	int32_t v;

	memset(f, 0, sizeof(*f));
	if (!*s)
		return 0;
	if (parse_abbr(&s) < 0 || parse_hms(&s, 24, &v) < 0)
		return -1;
	f->std_off = -v; /* POSIX offsets count west */
	f->dst_off = f->std_off;
	f->present = 1;
	if (!*s)
		return 0;
	if (parse_abbr(&s) < 0)
		return -1;
	f->has_dst = 1;
	f->dst_off = f->std_off + HOUR;
	if (*s && *s != ',') {
		if (parse_hms(&s, 24, &v) < 0)
			return -1;
		f->dst_off = -v;
	}
	r = *s == ',' ? s + 1 : us_rule;
	if (parse_rule_date(&r, &f->start) < 0 || *r++ != ',' || parse_rule_date(&r, &f->end) < 0 || *r)
		return -1;
	return 0;
}

/* ---- loading ---------------------------------------------------------- */

static int valid_name(const char *name)
{
	size_t i;

	if (!name[0] || name[0] == '/')
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i >= TZ_NAME_MAX)
			return 0;
		if (!(is_alpha(c) || is_digit(c) || c == '_' || c == '+' || c == '-' || c == '/'))
			return 0; /* also refuses '.', so never ".." */
	}
	return 1;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

/* Read a 44-byte header at p (len bytes left); NULL or a reason. */
static const char *read_header(const unsigned char *p, size_t len, struct tzif_counts *c, int *version)
{
	if (len < 44)
		return "truncated header";
	if (memcmp(p, "TZif", 4) != 0)
		return "not a TZif file";
	/* Versions after 4 promise to stay readable as 4 (tzcode reads them so). */
	*version = p[4] == 0 ? 1 : p[4] >= '2' && p[4] <= '9' ? p[4] - '0' : -1;
	if (*version < 0)
		return "unknown TZif version";
	c->isutcnt = be32(p + 20);
	c->isstdcnt = be32(p + 24);
	c->leapcnt = be32(p + 28);
	c->timecnt = be32(p + 32);
	c->typecnt = be32(p + 36);
	c->charcnt = be32(p + 40);
	if (c->typecnt == 0 || c->typecnt > 256)
		return "bad time type count";
	if (c->charcnt == 0)
		return "bad abbreviation count";
	if ((c->isutcnt != 0 && c->isutcnt != c->typecnt) || (c->isstdcnt != 0 && c->isstdcnt != c->typecnt))
		return "bad indicator count";
	return NULL;
}

/* Bytes of a data block with `tsize`-byte times (4 or 8). */
static uint64_t block_size(const struct tzif_counts *c, unsigned tsize)
{
	return (uint64_t)c->timecnt * (tsize + 1) + (uint64_t)c->typecnt * 6 + c->charcnt +
	       (uint64_t)c->leapcnt * (tsize + 4) + c->isstdcnt + c->isutcnt;
}

/*
 * Parse the data block at p (block_size() bytes, checked by the caller)
 * into tz->trans/off/off_before. NULL or a reason.
 */
static const char *read_block(struct tz *tz, const unsigned char *p, const struct tzif_counts *c,
			      unsigned tsize, size_t cap)
{
	const unsigned char *times = p;
	const unsigned char *idx = times + (size_t)c->timecnt * tsize;
	const unsigned char *types = idx + c->timecnt;
	const unsigned char *isstd = types + (size_t)c->typecnt * 6 + c->charcnt + (size_t)c->leapcnt * (tsize + 4);
	const unsigned char *isut = isstd + c->isstdcnt;
	int32_t utoff[256];
	uint32_t i;

	if (c->leapcnt)
		return "leap-second zones are not supported";
	for (i = 0; i < c->typecnt; i++) {
		const unsigned char *ty = types + (size_t)i * 6;
		int32_t u = (int32_t)be32(ty);

		if (u < UTOFF_MIN || u > UTOFF_MAX)
			return "UTC offset out of range";
		if (ty[4] > 1)
			return "bad DST flag";
		if (ty[5] >= c->charcnt)
			return "bad abbreviation index";
		utoff[i] = u;
	}
	for (i = 0; i < c->isstdcnt; i++)
		if (isstd[i] > 1)
			return "bad standard/wall indicator";
	for (i = 0; i < c->isutcnt; i++)
		if (isut[i] > 1 || (isut[i] && !isstd[i]))
			return "bad UT/local indicator";
	if (c->timecnt > cap)
		return "too many transitions";
	for (i = 0; i < c->timecnt; i++) {
		int64_t t = tsize == 8 ? be64(times + (size_t)i * 8) : (int32_t)be32(times + (size_t)i * 4);

		if (i > 0 && t <= tz->trans[i - 1])
			return "transitions out of order";
		if (idx[i] >= c->typecnt)
			return "bad time type index";
		tz->trans[i] = t;
		tz->off[i] = utoff[idx[i]];
	}
	tz->n = c->timecnt;
	tz->off_before = utoff[0];
	return NULL;
}

/* Append a transition made from the footer rule (see expand_footer). */
static void add_rule_transition(struct tz *tz, size_t n_file, int64_t t, int32_t off)
{
	size_t n = tz->n;

	if (n > n_file && t == tz->trans[n - 1]) {
		/* Two rule events at one instant: the later one wins. */
		tz->off[n - 1] = off;
		if ((n - 1 > 0 ? tz->off[n - 2] : tz->off_before) == off)
			tz->n--;
		return;
	}
	if (n > 0 && (t < tz->trans[n - 1] || tz->off[n - 1] == off))
		return;
	tz->trans[n] = t;
	tz->off[n] = off;
	tz->n++;
}

/*
 * Turn the footer rule into explicit transitions after the file's last one,
 * up to GEN_LAST_YEAR; later instants evaluate the rule directly.
 */
static void expand_footer(struct tz *tz)
{
	const struct footer *f = &tz->ft;
	size_t n_file = tz->n;
	int64_t y, first = GEN_FIRST_YEAR, a, b;
	int32_t oa, ob;

	if (!f->present || !f->has_dst)
		return;
	if (n_file > 0) {
		first = year_of(clamp_t(tz->trans[n_file - 1])) - 1;
		if (first < GEN_FIRST_YEAR)
			first = GEN_FIRST_YEAR;
	}
	for (y = first; y <= GEN_LAST_YEAR; y++) {
		a = rule_utc(&f->start, y, f->std_off);
		oa = f->dst_off;
		b = rule_utc(&f->end, y, f->dst_off);
		ob = f->std_off;
		if (b < a) { /* southern hemisphere: DST ends first */
			int64_t tt = a;
			int32_t to = oa;

			a = b, oa = ob;
			b = tt, ob = to;
		}
		if (n_file == 0 || a > tz->trans[n_file - 1])
			add_rule_transition(tz, n_file, a, oa);
		if (n_file == 0 || b > tz->trans[n_file - 1])
			add_rule_transition(tz, n_file, b, ob);
	}
}

/* Index the transitions of 1900..2100 by 2^BUCKET_SHIFT-second buckets. */
static int build_index(struct tz *tz)
{
	int64_t base, end, start;
	uint64_t nb, b;
	size_t i = 0;

	if (tz->n < 2)
		return 0;
	base = tz_days_from_civil(INDEX_FIRST_YEAR, 1, 1) * DAY;
	end = tz_days_from_civil(GEN_LAST_YEAR + 1, 1, 1) * DAY;
	if (base < tz->trans[0])
		base = tz->trans[0];
	if (end > tz->trans[tz->n - 1])
		end = tz->trans[tz->n - 1];
	if (end <= base)
		return 0;
	nb = (uint64_t)(end - base) >> BUCKET_SHIFT;
	if (nb == 0)
		return 0;
	tz->bucket = malloc(nb * sizeof(*tz->bucket));
	if (!tz->bucket)
		return -1;
	for (b = 0; b < nb; b++) {
		start = base + (int64_t)(b << BUCKET_SHIFT);
		while (i + 1 < tz->n && tz->trans[i + 1] <= start)
			i++;
		tz->bucket[b] = (uint32_t)i;
	}
	tz->bucket_base = base;
	tz->bucket_span = nb << BUCKET_SHIFT;
	return 0;
}

/* Parse a whole TZif image into tz; NULL or the reason it is damaged. */
static const char *parse_tzif(struct tz *tz, const unsigned char *p, size_t len, int *nomem)
{
	struct tzif_counts c;
	const unsigned char *end = p + len, *q, *nl;
	unsigned tsize = 4;
	uint64_t bs, cap;
	const char *why;
	char footer[256];
	int version;

	*nomem = 0;
	if ((why = read_header(p, len, &c, &version)) != NULL)
		return why;
	bs = block_size(&c, 4);
	if (bs > len - 44)
		return "truncated data block";
	q = p + 44;
	if (version >= 2) {
		q += bs;
		if ((why = read_header(q, (size_t)(end - q), &c, &version)) != NULL)
			return why;
		if (version < 2)
			return "bad second header";
		tsize = 8;
		q += 44;
		bs = block_size(&c, 8);
		if (bs > (uint64_t)(end - q))
			return "truncated data block";
	}
	/* Room for the file's transitions and two per year of the rule. */
	cap = (uint64_t)c.timecnt + 2 * (GEN_LAST_YEAR - GEN_FIRST_YEAR + 2);
	tz->trans = malloc(cap * sizeof(*tz->trans));
	tz->off = malloc(cap * sizeof(*tz->off));
	if (!tz->trans || !tz->off) {
		*nomem = 1;
		return "out of memory";
	}
	if ((why = read_block(tz, q, &c, tsize, (size_t)cap)) != NULL)
		return why;
	q += bs;
	if (version >= 2) {
		if (q >= end || *q != '\n')
			return "missing footer";
		q++;
		nl = memchr(q, '\n', (size_t)(end - q));
		if (!nl)
			return "truncated footer";
		if (nl + 1 != end)
			return "trailing bytes after footer";
		if ((size_t)(nl - q) >= sizeof(footer) || memchr(q, '\0', (size_t)(nl - q)))
			return "bad footer";
		memcpy(footer, q, (size_t)(nl - q));
		footer[nl - q] = '\0';
		if (parse_footer(footer, &tz->ft) < 0)
			return "bad TZ string in footer";
		if (tz->ft.present && tz->n == 0) {
			tz->footer_before = tz->ft.has_dst;
			tz->off_before = tz->ft.std_off;
		}
	} else if (q != end) {
		return "trailing bytes after data";
	}
	expand_footer(tz);
	if (build_index(tz) < 0) {
		*nomem = 1;
		return "out of memory";
	}
	return NULL;
}

/* Read a whole regular file of at most TZ_FILE_MAX bytes. */
static int read_file(const char *path, const char *name, unsigned char **data, size_t *len,
		     struct crm_err *e)
{
	struct stat st;
	unsigned char *p = NULL;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_at(e, CRM_E_CONFIG, path, 0, "timezone", "unknown time zone '%s'", name);
		return err_sys(e, CRM_E_IO, errno, path, "cannot open time zone file");
	}
	if (fstat(fd, &st) < 0) {
		rc = err_sys(e, CRM_E_IO, errno, path, "cannot read time zone file");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_at(e, CRM_E_CONFIG, path, 0, "timezone", "unknown time zone '%s': not a file", name);
		goto out;
	}
	if (st.st_size > TZ_FILE_MAX) {
		rc = err_at(e, CRM_E_CONFIG, path, 0, "timezone", "damaged time zone file for '%s': too large", name);
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		rc = err_set(e, CRM_E_NOMEM, "cannot load time zone '%s': out of memory", name);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_sys(e, CRM_E_IO, errno, path, "cannot read time zone file");
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > (size_t)st.st_size) {
			rc = err_at(e, CRM_E_IO, path, 0, "timezone", "time zone file changed while read");
			goto out;
		}
	}
	*data = p;
	*len = got;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

int tz_load(const char *name, struct tz **out, struct crm_err *e)
{
	struct tz *tz = NULL;
	unsigned char *data = NULL;
	const char *dir, *why;
	char path[4096];
	size_t len = 0;
	int rc = 0, nomem, n;

	*out = NULL;
	if (!name || !valid_name(name))
		return err_at(e, CRM_E_CONFIG, NULL, 0, "timezone", "invalid time zone name '%s'",
			      name ? name : "(null)");
	tz = calloc(1, sizeof(*tz));
	if (!tz)
		return err_set(e, CRM_E_NOMEM, "cannot load time zone '%s': out of memory", name);
	memcpy(tz->name, name, strlen(name) + 1);
	if (strcmp(name, "UTC") == 0)
		goto done; /* n = 0, offset 0, no footer */
	dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		rc = err_at(e, CRM_E_CONFIG, NULL, 0, "timezone", "time zone path too long for '%s'", name);
		goto out;
	}
	if ((rc = read_file(path, name, &data, &len, e)) < 0)
		goto out;
	why = parse_tzif(tz, data, len, &nomem);
	if (why) {
		if (nomem)
			rc = err_set(e, CRM_E_NOMEM, "cannot load time zone '%s': out of memory", name);
		else
			rc = err_at(e, CRM_E_CONFIG, path, 0, "timezone",
				    "damaged time zone file for '%s': %s", name, why);
		goto out;
	}
done:
	*out = tz;
	tz = NULL;
out:
	free(data);
	tz_free(tz);
	return rc;
}
