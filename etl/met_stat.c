/*
 * met_stat.c - the pure arithmetic of the metrics engine: shortest double
 * text, Wilson intervals, the NPS margin of error, Kaplan-Meier with
 * Greenwood variance, RFM scoring and segments, medians (met.h).
 *
 * No I/O, no state; met.c does the data. Kept apart so the unit tests can
 * pin each formula on hand-computed cases.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met.h"
#include "sortx.h"

#include "banned.h"

#define Z95 1.959963984540054

size_t met_format_double(double v, char *buf)
{
	char tmp[48], digits[24];
	int p, exp10 = 0, nd = 0;
	size_t o = 0;
	char *e;

	buf[0] = '\0';
	if (isnan(v) || isinf(v))
		return 0;
	if (v == 0) {
		buf[0] = '0';
		buf[1] = '\0';
		return 1;
	}
	/*
	 * Reading back is monotonic in the digit count (if p digits round-trip,
	 * so do p + 1), so a binary search over 1..17 finds the shortest in
	 * about 5 tries instead of up to 17.
	 */
	{
		int lo = 1, hi = 17;

		while (lo < hi) {
			p = (lo + hi) / 2;
			snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
			if (strtod(tmp, NULL) == v)
				hi = p;
			else
				lo = p + 1;
		}
		p = lo;
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
	}
	/* tmp = [-]d[.ddd]e[+-]xx: pull out the digits and the exponent. */
	for (e = tmp; *e && *e != 'e'; e++)
		if (*e >= '0' && *e <= '9')
			digits[nd++] = *e;
	digits[nd] = '\0';
	exp10 = (int)strtol(e + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	if (v < 0)
		buf[o++] = '-';
	if (exp10 >= 21 || exp10 <= -7) {
		buf[o++] = digits[0];
		if (nd > 1) {
			buf[o++] = '.';
			memcpy(buf + o, digits + 1, (size_t)nd - 1);
			o += (size_t)nd - 1;
		}
		o += (size_t)snprintf(buf + o, 8, "e%d", exp10);
		return o;
	}
	if (exp10 >= 0) {
		int i;

		for (i = 0; i <= exp10 || i < nd; i++) {
			if (i == exp10 + 1)
				buf[o++] = '.';
			buf[o++] = i < nd ? digits[i] : '0';
		}
	} else {
		int i;

		buf[o++] = '0';
		buf[o++] = '.';
		for (i = 0; i < -exp10 - 1; i++)
			buf[o++] = '0';
		memcpy(buf + o, digits, (size_t)nd);
		o += (size_t)nd;
	}
	buf[o] = '\0';
	return o;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * v[lo..hi] rearranged so that v[k] holds the value a sort would put
 * there, nothing greater before it and nothing smaller after it
 * (quickselect, Hoare partition around a median of three; after `depth`
 * rounds the rest is sorted, so patterned data cannot make it quadratic).
 * Why not qsort: compute's two median rows sorted every ticket time of a
 * month for two values, a comparator call at each step.
 */
static void select_kth(double *v, size_t lo, size_t hi, size_t k, int depth)
{
	while (hi > lo) {
		size_t i = lo, j = hi, mid = lo + (hi - lo) / 2;
		double a = v[lo], b = v[mid], c = v[hi], pivot, t;

		if (depth-- <= 0) {
			qsort(v + lo, hi - lo + 1, sizeof(*v), cmp_double);
			return;
		}
		pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
		for (;;) {
			while (v[i] < pivot)
				i++;
			while (pivot < v[j])
				j--;
			if (i >= j)
				break;
			t = v[i];
			v[i] = v[j];
			v[j] = t;
			i++;
			j--;
		}
		/* now v[lo..j] <= pivot <= v[j+1..hi] */
		if (k <= j)
			hi = j;
		else
			lo = j + 1;
	}
}

double met_median(double *v, size_t n)
{
	size_t k = n / 2, i;
	double below;

	if (!n)
		return NAN;
	select_kth(v, 0, n - 1, k, 64);
	if (n % 2)
		return v[k];
	/* the largest of v[0..k), all <= v[k]: the other middle value */
	below = v[0];
	for (i = 1; i < k; i++)
		if (v[i] > below)
			below = v[i];
	return (below + v[k]) / 2;
}

int met_wilson(uint64_t x, uint64_t n, double *low, double *high)
{
	double p, z2, den, centre, half;

	if (n == 0 || x > n)
		return -1;
	p = (double)x / (double)n;
	z2 = Z95 * Z95;
	den = 1 + z2 / (double)n;
	centre = (p + z2 / (2.0 * (double)n)) / den;
	half = Z95 * sqrt(p * (1 - p) / (double)n + z2 / (4.0 * (double)n * (double)n)) / den;
	*low = centre - half < 0 ? 0 : centre - half;
	*high = centre + half > 1 ? 1 : centre + half;
	if (x == 0)
		*low = 0;
	if (x == n)
		*high = 1;
	return 0;
}

double met_nps_moe95(uint64_t promoters, uint64_t detractors, uint64_t n)
{
	double p, d, v;

	if (n == 0)
		return -1;
	p = (double)promoters / (double)n;
	d = (double)detractors / (double)n;
	v = (p + d - (p - d) * (p - d)) / (double)n;
	return 196 * sqrt(v < 0 ? 0 : v);
}

void met_km(const uint32_t *events, const uint32_t *censored, size_t n, double *surv,
	    double *gw)
{
	uint64_t at_risk = 0;
	double s = 1, g = 0;
	size_t t;

	for (t = 0; t < n; t++)
		at_risk += (uint64_t)events[t] + censored[t];
	for (t = 0; t < n; t++) {
		uint64_t d = events[t];

		if (d && at_risk) {
			s *= 1.0 - (double)d / (double)at_risk;
			if (d < at_risk)
				g += (double)d / ((double)at_risk * (double)(at_risk - d));
			else
				s = 0;
		}
		surv[t] = s;
		gw[t] = s > 0 ? g : 0;
		at_risk -= d + censored[t];
	}
}

/*
 * Keys spanning fewer than RFM_COUNT_SPAN values (days of recency, counts of
 * orders) are ranked by counting: each key's first position, then the
 * customers in index order, which is the stable sort's order without
 * sorting. Wider keys (money) go through the radix sort.
 */
#define RFM_COUNT_SPAN ((uint64_t)1 << 20)

static int scores_by_count(const uint64_t *keys, size_t n, uint64_t lo, uint64_t span,
			   uint8_t *scores)
{
	uint32_t *start = calloc((size_t)span + 1, sizeof(*start));
	size_t i;

	if (!start)
		return -1;
	for (i = 0; i < n; i++)
		start[keys[i] - lo + 1]++;
	for (i = 1; i <= span; i++)
		start[i] += start[i - 1];
	for (i = 0; i < n; i++)
		scores[i] = (uint8_t)(1 + (5 * (uint64_t)start[keys[i] - lo]++) / n);
	free(start);
	return 0;
}

int met_rfm_scores(const uint64_t *keys, size_t n, uint32_t *idx, uint8_t *scores)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (keys[i] < lo)
			lo = keys[i];
		if (keys[i] > hi)
			hi = keys[i];
	}
	if (n && hi - lo < RFM_COUNT_SPAN)
		return scores_by_count(keys, n, lo, hi - lo + 1, scores);
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	if (sortx_by_key(idx, n, keys, NULL, NULL))
		return -1;
	for (i = 0; i < n; i++)
		scores[idx[i]] = (uint8_t)(1 + (5 * (uint64_t)i) / n);
	return 0;
}

static const char *const rfm_names[] = {
	"about_to_sleep", "at_risk", "cant_lose", "champions", "hibernating", "loyal",
	"need_attention", "new", "potential_loyalist", "promising", "none"
};

enum { RS_ABOUT, RS_AT_RISK, RS_CANT_LOSE, RS_CHAMPIONS, RS_HIBERNATING, RS_LOYAL,
       RS_NEED_ATTENTION, RS_NEW, RS_POTENTIAL, RS_PROMISING };

const char *met_rfm_name(int seg)
{
	return seg >= 0 && seg <= MET_RFM_NONE ? rfm_names[seg] : "none";
}

int met_rfm_segment(int r, int f)
{
	/* rows R 1..5, columns F 1..5 (METRICS.md "RFM") */
	static const unsigned char map[5][5] = {
		{ RS_HIBERNATING, RS_HIBERNATING, RS_AT_RISK, RS_AT_RISK, RS_CANT_LOSE },
		{ RS_HIBERNATING, RS_HIBERNATING, RS_AT_RISK, RS_AT_RISK, RS_CANT_LOSE },
		{ RS_ABOUT, RS_ABOUT, RS_NEED_ATTENTION, RS_LOYAL, RS_LOYAL },
		{ RS_PROMISING, RS_POTENTIAL, RS_POTENTIAL, RS_LOYAL, RS_LOYAL },
		{ RS_NEW, RS_POTENTIAL, RS_POTENTIAL, RS_CHAMPIONS, RS_CHAMPIONS },
	};

	if (r < 1 || r > 5 || f < 1 || f > 5)
		return MET_RFM_NONE;
	return map[r - 1][f - 1];
}
