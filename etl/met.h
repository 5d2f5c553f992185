/*
 * met.h - the compute stage: every metric of METRICS.md from the period
 * files (docs/metrics.md explains each one).
 *
 * met_run() reads <data_dir>/periods/customers.crmp and the monthly period
 * files once, keeps them as compact per-month columns of dense customer
 * indexes, days and money, walks the months in order while it advances the
 * per-customer state (last completed order, trailing-12-month F/M, base
 * membership), and writes <data_dir>/metrics/<P>.csv, <P>.json and
 * <P>-customers.csv atomically for each requested period.
 *
 * The pure pieces (shortest double text, Wilson interval, NPS margin,
 * Kaplan-Meier with Greenwood variance, RFM scores and segments) are
 * exported for the unit tests; they allocate nothing unless said.
 *
 * Units: days are local day numbers (tz.h), money is int64 1/10000 units,
 * instants are UTC seconds.
 */
#ifndef CRM_MET_H
#define CRM_MET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct cfg;

/* Which periods to compute; has_range = 0: all (METRICS.md, Output shape). */
struct met_opts {
	int has_range;
	int from, to; /* period numbers (period.h), inclusive */
	int force;    /* compute even when nothing changed since the last compute */
};

struct met_stats {
	int first_period, last_period; /* computed range, or -1 */
	int periods_written;
	int periods_restated;  /* written over a metrics file with other content */
	unsigned long long customers, orders, rows; /* rows = metric rows written */
	unsigned long long unknown_ids;           /* fact rows of ids missing from the dimension */
	int skipped;            /* 1: the inputs were those of the last compute (met_stamp.h) */
};

/* Compute and write the metrics; errors as err.h (CRM_E_INPUT without period files). */
int met_run(const struct cfg *cfg, const struct met_opts *o, struct met_stats *st,
	    struct crm_err *e);

/* ---- pure pieces ---- */

#define MET_DOUBLE_TEXT_MAX 40

/*
 * The shortest text that strtod() reads back as exactly v: "0.05", "1000",
 * "-0.05", "0.8235294117647058"; fixed notation for decimal exponents
 * -7 < x < 21, else "1.5e-7" style. -0 prints "0". NaN and infinities,
 * which no metric produces, print "" (null). Returns the length.
 */
size_t met_format_double(double v, char *buf);

/*
 * 95% Wilson score interval of x successes out of n. Returns 0 and fills
 * low/high, or -1 (n == 0 or x > n: not a proportion).
 */
int met_wilson(uint64_t x, uint64_t n, double *low, double *high);

/*
 * The median of v[0..n) as a sort would give it (the middle value, or the
 * mean of the two middle ones), NAN when n is 0; v must hold no NaN and
 * is left rearranged. Either of two equal doubles may be the one taken
 * (-0 and +0: callers print both as "0").
 */
double met_median(double *v, size_t n);

/* nps_moe95 = 196 x sqrt((p + d - (p - d)^2) / n), p and d as fractions; -1 if n == 0. */
double met_nps_moe95(uint64_t promoters, uint64_t detractors, uint64_t n);

/*
 * Kaplan-Meier over day histograms events[t] and censored[t], t = 0..n-1
 * (censored at t are at risk at t). Fills surv[t] = S(t) and gw[t] = the
 * Greenwood sum over event days <= t of d / (m (m - d)) (0 once S reaches 0).
 * total = sum of both histograms.
 */
void met_km(const uint32_t *events, const uint32_t *censored, size_t n, double *surv,
	    double *gw);

/*
 * RFM scores: keys[i] ordered from worst (smallest) to best, ties by i
 * ascending (the caller passes customers in customer_id order), score =
 * 1 + floor(5 pos / n). idx is scratch of n entries. 0, or -1 out of memory.
 */
int met_rfm_scores(const uint64_t *keys, size_t n, uint32_t *idx, uint8_t *scores);

/* Segment names by number (0..9), MET_RFM_NONE = 10 = "none". */
#define MET_RFM_SEGMENTS 10
#define MET_RFM_NONE 10
const char *met_rfm_name(int seg);
/* Segment number of an (R, F) score pair (1..5 each). */
int met_rfm_segment(int r, int f);

#endif
