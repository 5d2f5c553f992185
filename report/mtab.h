/*
 * mtab.h - the metrics files a report reads (<data_dir>/metrics/P.csv, the
 * shape of METRICS.md: period,metric,dim,segment,k,value,numerator,denominator).
 *
 * Owns one table of rows for a span of periods, looked up by period,
 * metric, dim and segment. Reads the CSV written by `crmetl compute` and no
 * other format; a row that does not parse is a CRM_E_CORRUPT error naming
 * the file and line (a metrics file is ours: it is never "mostly right").
 * A null value (empty field) is kept as "no value".
 *
 * Lifecycle: mtab_new() -> mtab_load_file() per period -> lookups ->
 * mtab_free(). Strings returned are borrowed until mtab_free().
 */
#ifndef CRM_MTAB_H
#define CRM_MTAB_H

#include <stddef.h>

#include "err.h"

#define MTAB_MAX_FILE (256u << 20) /* one metrics file, bytes */

struct mtab_row {
	int period;       /* period.h months */
	char *metric;     /* owned */
	char *dim;        /* owned: "all", "channel", ... */
	char *segment;    /* owned: "" for dim all */
	long k;           /* age or day, -1 when empty */
	int has_value;    /* 0 for a null value */
	double value;
	int has_ratio;    /* numerator and denominator given */
	double numerator, denominator;
};

struct mtab {
	struct mtab_row *rows; /* owned array */
	size_t n, cap;
};

struct mtab *mtab_new(void);
void mtab_free(struct mtab *t);

/*
 * Append the rows of one metrics file whose name says period `period`.
 * Rows of another period are an error (the file is damaged or misnamed).
 * Returns the number of rows read in *n_rows (may be NULL).
 */
int mtab_load_file(struct mtab *t, const char *path, int period, size_t *n_rows,
		   struct crm_err *e);

/* Parse CSV text (tests); `path` names it in errors. */
int mtab_load_text(struct mtab *t, const char *text, size_t len, const char *path,
		   int period, size_t *n_rows, struct crm_err *e);

/* The value of a row with k empty; 1 and *v when present and not null, else 0. */
int mtab_get(const struct mtab *t, int period, const char *metric, const char *dim,
	     const char *segment, double *v);

/* Numerator and denominator of a row with k empty; 1 when both are given. */
int mtab_get_ratio(const struct mtab *t, int period, const char *metric, const char *dim,
		   const char *segment, double *num, double *den);

/*
 * The distinct segments of `dim` for (period, metric), in first-seen order
 * (which is sorted, as compute writes them). Fills up to `max` borrowed
 * pointers; returns how many.
 */
size_t mtab_segments(const struct mtab *t, int period, const char *metric, const char *dim,
		     const char **out, size_t max);

/*
 * The rows of (period, metric, dim, segment) that have a k (cohort age,
 * survival day) and a value, in file order (k ascending, as compute writes
 * them): up to `max` into k[] and v[]; returns how many.
 */
size_t mtab_series(const struct mtab *t, int period, const char *metric, const char *dim,
		   const char *segment, long *k, double *v, size_t max);

/* Like mtab_segments, for rows with a k (the cohorts of dim "cohort", ...). */
size_t mtab_k_segments(const struct mtab *t, int period, const char *metric, const char *dim,
		       const char **out, size_t max);

/*
 * The per-customer file <data_dir>/metrics/P-customers.csv (columns found
 * by name in its header: customer_id, rfm_segment, recency_days,
 * revenue_12m): the customers of RFM segments cant_lose and at_risk, the
 * `max` with the highest trailing-12-month revenue (ties: smaller id
 * first) into out[], sorted; *total counts them all. A missing file is
 * CRM_E_INPUT (from fsx_read_file), a damaged one CRM_E_CORRUPT.
 */
struct mtab_customer {
	char id[48];           /* cut if longer */
	char segment[24];      /* "cant_lose" or "at_risk" */
	long recency_days;     /* days since the last order, -1 when empty */
	double revenue_12m;    /* money, reporting currency */
};

int mtab_at_risk(const char *path, struct mtab_customer *out, size_t max, size_t *n_out,
		 size_t *total, struct crm_err *e);
int mtab_at_risk_text(const char *text, size_t len, const char *path, struct mtab_customer *out,
		      size_t max, size_t *n_out, size_t *total, struct crm_err *e);

#endif
