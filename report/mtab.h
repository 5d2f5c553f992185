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

#include "buf.h"
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

/* 1 when a row with k empty exists, even with a null value ("computed, no value"). */
int mtab_has(const struct mtab *t, int period, const char *metric, const char *dim,
	     const char *segment);

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

/* A caller's array for the at-risk list and what a pass found. */
struct mtab_risk_list {
	struct mtab_customer *c; /* caller's array of max */
	size_t max, n;
	size_t total;            /* customers in cant_lose and at_risk */
};

int mtab_at_risk(const char *path, struct mtab_customer *out, size_t max, size_t *n_out,
		 size_t *total, struct crm_err *e);
int mtab_at_risk_text(const char *text, size_t len, const char *path, struct mtab_customer *out,
		      size_t max, size_t *n_out, size_t *total, struct crm_err *e);

/*
 * The predictive CLV columns of the same file (x, p_alive,
 * expected_purchases, clv_predicted; rows with an empty clv_predicted are
 * customers with no purchase, not modelled): two short lists for the clv
 * section, into caller arrays best[max_best] and fading[max_fading].
 */
#define MTAB_FADING_P_ALIVE 0.5 /* below this P(alive) a customer is probably gone */

struct mtab_clv_customer {
	char id[48];           /* cut if longer */
	char segment[24];      /* rfm_segment */
	double x;              /* repeat purchase days before end(P) */
	double p_alive;        /* 0..1 */
	double expected;       /* expected purchase days over the horizon */
	double clv;            /* predicted CLV, money, reporting currency */
	double revenue_12m;    /* money, reporting currency */
};

struct mtab_clv_lists {
	struct mtab_clv_customer *best;   /* caller's: highest clv first (ties: smaller id) */
	size_t max_best, n_best;
	struct mtab_clv_customer *fading; /* caller's: p_alive < MTAB_FADING_P_ALIVE, most
					     revenue_12m first, then clv, then smaller id */
	size_t max_fading, n_fading;
	size_t modelled;       /* customers with a clv_predicted */
	size_t fading_all;     /* of those, with p_alive < MTAB_FADING_P_ALIVE */
	int has_clv;           /* 1 when the file has the model's columns */
};

/*
 * Fill the lists from the text of a per-customer file. A file without the
 * model's columns is no error: has_clv stays 0 and the lists empty. A
 * damaged row is CRM_E_CORRUPT naming line and column.
 */
int mtab_clv_lists_text(const char *text, size_t len, const char *path, struct mtab_clv_lists *l,
			struct crm_err *e);

/*
 * The at-risk list and the CLV lists in one pass over the text (either may
 * be NULL): what mtab_at_risk_text and mtab_clv_lists_text give, for the
 * price of reading and splitting a million-row file once.
 */
int mtab_customer_lists_text(const char *text, size_t len, const char *path,
			     struct mtab_risk_list *risk, struct mtab_clv_lists *clv, struct crm_err *e);

/*
 * A quarantine file <data_dir>/quarantine/SOURCE.csv (file,line,field,
 * value,reason, as normalize writes it): its rejected rows counted by
 * (field, reason), the most frequent first, each with the value and place
 * (file:line) of its first row. Only rows whose file is one of
 * files[0..n_files) count; when none of them does (or n_files is 0), all
 * rows count. A damaged file is CRM_E_CORRUPT.
 */
struct mtab_reason {
	char field[32];
	char reason[96];
	char value[48];        /* of the first row, cut */
	char where[160];       /* "file:line" of the first row, cut */
	size_t count;
};

struct mtab_reasons {
	struct mtab_reason *r; /* caller's array of max */
	size_t max, n;
	size_t rows;           /* rejected rows counted */
	size_t kinds;          /* distinct (field, reason) pairs among them */
};

int mtab_quarantine_text(const char *text, size_t len, const char *path, const char *const *files,
			 size_t n_files, struct mtab_reasons *out, struct crm_err *e);

/*
 * One segment's view of a metrics file, for a report of that segment
 * (crmetl report --segment DIM=VALUE): the rows of (dim, value) become the
 * overall rows (dim all, no segment), the CLV model's parameters (fitted
 * on everyone) are kept as they are, every other row is left out, so the
 * sections that have no per-segment data find none. Appended to out as
 * metrics CSV; *n_seg counts the segment's rows.
 */
int mtab_focus_text(const char *text, size_t len, const char *path, const char *dim,
		    const char *value, struct buf *out, size_t *n_seg, struct crm_err *e);

/* The header and the rows of a per-customer file whose `column` is `value`, appended to out. */
int mtab_filter_customers_text(const char *text, size_t len, const char *path, const char *column,
			       const char *value, struct buf *out, size_t *n_kept, struct crm_err *e);

#endif
