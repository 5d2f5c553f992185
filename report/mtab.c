/*
 * mtab.c - reading metrics CSV files into a lookup table (see mtab.h).
 *
 * The files are small (a few thousand rows per period), so lookups are
 * linear scans: simpler than an index and far below a millisecond for a
 * report. Quoted fields ("a,b" with "" for a quote) are accepted because a
 * segment value may hold a comma.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsx.h"
#include "mtab.h"
#include "period.h"

#include "banned.h"

#define N_COLS 8

struct mtab *mtab_new(void)
{
	return calloc(1, sizeof(struct mtab));
}

void mtab_free(struct mtab *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->rows[i].metric);
		free(t->rows[i].dim);
		free(t->rows[i].segment);
	}
	free(t->rows);
	free(t);
}

/*
 * The line at p (before end): [*ls, *le) without its "\n" or "\r\n";
 * returns where the next one starts.
 */
static const char *cut_line(const char *p, const char *end, const char **ls, const char **le)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	*ls = p;
	*le = nl ? nl : end;
	if (*le > p && (*le)[-1] == '\r')
		(*le)--;
	return nl ? nl + 1 : end;
}

/*
 * A line without quotes (nearly all of ours): copied once, fields cut at
 * the commas that memchr finds, which is what the loop of split_fields()
 * does byte by byte. The per-customer file of a million customers is read
 * this way.
 */
static int split_plain(const char *p, const char *end, char *out, char **field, int max)
{
	size_t len = (size_t)(end - p);
	char *o = out, *oe = out + len, *c;
	int nf = 0;

	memcpy(out, p, len);
	*oe = '\0';
	for (;;) {
		if (nf == max)
			return -1;
		field[nf++] = o;
		c = memchr(o, ',', (size_t)(oe - o));
		if (!c)
			return nf;
		*c = '\0';
		o = c + 1;
	}
}

/*
 * Split one line [p, end) into at most `max` fields, unquoting in place into
 * `out` (a buffer of at least end - p + max bytes). Returns the number of
 * fields, or -1 (bad quoting, too many fields).
 */
static int split_fields(const char *p, const char *end, char *out, char **field, int max)
{
	int nf = 0;
	char *o = out;

	if (!memchr(p, '"', (size_t)(end - p)))
		return split_plain(p, end, out, field, max);
	for (;;) {
		if (nf == max)
			return -1;
		field[nf++] = o;
		if (p < end && *p == '"') {
			p++;
			for (;;) {
				if (p >= end)
					return -1;
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"') {
						*o++ = '"';
						p += 2;
						continue;
					}
					p++;
					break;
				}
				*o++ = *p++;
			}
		} else {
			while (p < end && *p != ',') {
				if (*p == '"')
					return -1;
				*o++ = *p++;
			}
		}
		*o++ = '\0';
		if (p == end)
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	return nf;
}

static int split_line(const char *p, const char *end, char *out, char *field[N_COLS])
{
	return split_fields(p, end, out, field, N_COLS) == N_COLS ? 0 : -1;
}

/*
 * Our files write plain decimals ("-12.3456"). Up to 15 digits, the value
 * is one division of two exact doubles (the digits, a power of ten), and
 * IEEE division rounds correctly, so it equals strtod's result at a
 * fraction of its cost. Anything else goes to strtod.
 */
static int parse_decimal(const char *s, double *v)
{
	static const double p10[16] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
					 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	uint64_t m = 0;
	int neg = *s == '-', digits = 0, frac = -1;

	for (s += neg; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			m = m * 10 + (uint64_t)(*s - '0');
			digits++;
			frac += frac >= 0;
		} else if (*s == '.' && frac < 0) {
			frac = 0;
		} else {
			return -1;
		}
	}
	if (digits == 0 || digits > 15)
		return -1;
	*v = (double)m / p10[frac > 0 ? frac : 0];
	if (neg)
		*v = -*v;
	return 0;
}

static int parse_double(const char *s, double *v)
{
	char *end;

	if (!*s)
		return -1;
	if (parse_decimal(s, v) == 0)
		return 0;
	errno = 0;
	*v = strtod(s, &end);
	return *end || errno == ERANGE ? -1 : 0;
}

static int add_row(struct mtab *t, int period, char *field[N_COLS])
{
	struct mtab_row *r;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct mtab_row *rows = realloc(t->rows, cap * sizeof(*rows));

		if (!rows)
			return -1;
		t->rows = rows;
		t->cap = cap;
	}
	r = &t->rows[t->n];
	memset(r, 0, sizeof(*r));
	r->period = period;
	r->metric = strdup(field[1]);
	r->dim = strdup(field[2]);
	r->segment = strdup(field[3]);
	if (!r->metric || !r->dim || !r->segment) {
		free(r->metric);
		free(r->dim);
		free(r->segment);
		return -1;
	}
	r->k = -1;
	if (*field[4]) {
		char *end;

		r->k = strtol(field[4], &end, 10);
	}
	r->has_value = parse_double(field[5], &r->value) == 0;
	r->has_ratio = parse_double(field[6], &r->numerator) == 0 &&
		       parse_double(field[7], &r->denominator) == 0;
	t->n++;
	return 0;
}

int mtab_load_text(struct mtab *t, const char *text, size_t len, const char *path,
		   int period, size_t *n_rows, struct crm_err *e)
{
	const char *p = text, *end = text + len;
	char *scratch = malloc(len + N_COLS + 1);
	char *field[N_COLS];
	long line = 0;
	size_t rows = 0;
	int rc = 0;

	if (!scratch)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
	while (p < end) {
		const char *ls, *le;
		int per;
		double d;

		line++;
		p = cut_line(p, end, &ls, &le);
		if (line == 1) {
			static const char head[] = "period,metric,dim,segment,k,value,numerator,denominator";

			if ((size_t)(le - ls) != sizeof(head) - 1 || memcmp(ls, head, sizeof(head) - 1)) {
				rc = err_at(e, CRM_E_CORRUPT, path, line, NULL,
					    "not a metrics file: the header is not '%s'", head);
				goto out;
			}
		} else if (le > ls) {
			struct crm_err pe = { 0 };

			if (split_line(ls, le, scratch, field)) {
				rc = err_at(e, CRM_E_CORRUPT, path, line, NULL,
					    "damaged metrics row: expected %d fields", N_COLS);
				goto out;
			}
			if (period_parse(field[0], "period", &per, &pe) || per != period) {
				rc = err_at(e, CRM_E_CORRUPT, path, line, "period",
					    "metrics row of period '%s' in the file of another period", field[0]);
				goto out;
			}
			if (!*field[1] || !*field[2] || (*field[5] && parse_double(field[5], &d))) {
				rc = err_at(e, CRM_E_CORRUPT, path, line, NULL, "damaged metrics row");
				goto out;
			}
			if (add_row(t, period, field)) {
				rc = err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
				goto out;
			}
			rows++;
		}
	}
	if (line == 0)
		rc = err_at(e, CRM_E_CORRUPT, path, 0, NULL, "empty metrics file");
out:
	free(scratch);
	if (n_rows)
		*n_rows = rows;
	return rc;
}

int mtab_load_file(struct mtab *t, const char *path, int period, size_t *n_rows,
		   struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	rc = fsx_read_file(path, MTAB_MAX_FILE, &data, &len, e);
	if (rc)
		return rc;
	rc = mtab_load_text(t, (const char *)data, len, path, period, n_rows, e);
	free(data);
	return rc;
}

static const struct mtab_row *find(const struct mtab *t, int period, const char *metric,
				   const char *dim, const char *segment)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct mtab_row *r = &t->rows[i];

		if (r->period == period && r->k < 0 && !strcmp(r->metric, metric) &&
		    !strcmp(r->dim, dim) && !strcmp(r->segment, segment))
			return r;
	}
	return NULL;
}

int mtab_has(const struct mtab *t, int period, const char *metric, const char *dim,
	     const char *segment)
{
	return find(t, period, metric, dim, segment) != NULL;
}

int mtab_get_ratio(const struct mtab *t, int period, const char *metric, const char *dim,
		   const char *segment, double *num, double *den)
{
	const struct mtab_row *r = find(t, period, metric, dim, segment);

	if (!r || !r->has_ratio)
		return 0;
	*num = r->numerator;
	*den = r->denominator;
	return 1;
}

int mtab_get(const struct mtab *t, int period, const char *metric, const char *dim,
	     const char *segment, double *v)
{
	const struct mtab_row *r = find(t, period, metric, dim, segment);

	if (!r || !r->has_value)
		return 0;
	*v = r->value;
	return 1;
}

/* Distinct segments of metric/dim in period, first-seen order; with_k: rows with a k. */
static size_t distinct_segments(const struct mtab *t, int period, const char *metric,
				const char *dim, int with_k, const char **out, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < t->n && n < max; i++) {
		const struct mtab_row *r = &t->rows[i];

		if (r->period != period || (r->k >= 0) != with_k || strcmp(r->metric, metric) ||
		    strcmp(r->dim, dim))
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(out[j], r->segment))
				break;
		if (j == n)
			out[n++] = r->segment;
	}
	return n;
}

size_t mtab_segments(const struct mtab *t, int period, const char *metric, const char *dim,
		     const char **out, size_t max)
{
	return distinct_segments(t, period, metric, dim, 0, out, max);
}

size_t mtab_series(const struct mtab *t, int period, const char *metric, const char *dim,
		   const char *segment, long *k, double *v, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < t->n && n < max; i++) {
		const struct mtab_row *r = &t->rows[i];

		if (r->period != period || r->k < 0 || !r->has_value || strcmp(r->metric, metric) ||
		    strcmp(r->dim, dim) || strcmp(r->segment, segment))
			continue;
		k[n] = r->k;
		v[n++] = r->value;
	}
	return n;
}

size_t mtab_k_segments(const struct mtab *t, int period, const char *metric, const char *dim,
		       const char **out, size_t max)
{
	return distinct_segments(t, period, metric, dim, 1, out, max);
}

#define CUST_MAX_COLS 64
#define CUST_WHAT "customer metrics" /* what a per-customer file is called in errors */

/*
 * One row of the per-customer file, its fields split, handed to a walker's
 * callback with the column of each wanted name (-1 for an optional column
 * the header lacks).
 */
typedef int (*cust_row_fn)(void *ctx, char *const *field, const int *col, const char *path,
			   long line, struct crm_err *e);

/*
 * Walk the per-customer CSV text (or another CSV of ours with a header,
 * called `what` in errors): the header names the columns (want[0]
 * .. want[n_required - 1] must be there, the rest may not), every later
 * non-empty line goes to fn. col[] (n_want entries) receives the column
 * of each name, -1 when absent. fn returns 0 to go on, > 0 to stop early,
 * < 0 for an error. Damage is CRM_E_CORRUPT with the line.
 */
static int cust_walk(const char *text, size_t len, const char *path, const char *what,
		     const char *const *want, size_t n_want, size_t n_required, int *col, cust_row_fn fn,
		     void *ctx, struct crm_err *e)
{
	const char *p = text, *end = text + len;
	char *scratch = malloc(len + CUST_MAX_COLS + 1);
	char *field[CUST_MAX_COLS];
	long line = 0;
	int rc = 0, nf, i;
	size_t j;

	for (j = 0; j < n_want; j++)
		col[j] = -1;
	if (!scratch)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
	for (; p < end; line++) {
		const char *ls, *le;

		p = cut_line(p, end, &ls, &le);
		if (le == ls)
			continue;
		nf = split_fields(ls, le, scratch, field, CUST_MAX_COLS);
		if (nf < 0) {
			rc = err_at(e, CRM_E_CORRUPT, path, line + 1, NULL, "damaged %s row", what);
			goto out;
		}
		if (line == 0) {
			for (i = 0; i < nf; i++)
				for (j = 0; j < n_want; j++)
					if (!strcmp(field[i], want[j]))
						col[j] = i;
			for (j = 0; j < n_required; j++)
				if (col[j] < 0) {
					rc = err_at(e, CRM_E_CORRUPT, path, 1, NULL,
						    "not a %s file: no column '%s'", what, want[j]);
					goto out;
				}
			continue;
		}
		for (j = 0; j < n_want; j++)
			if (col[j] >= nf) {
				rc = err_at(e, CRM_E_CORRUPT, path, line + 1, NULL,
					    "damaged %s row: %d fields", what, nf);
				goto out;
			}
		if ((rc = fn(ctx, field, col, path, line + 1, e))) {
			if (rc > 0) /* the callback has seen enough */
				rc = 0;
			goto out;
		}
	}
	if (line == 0)
		rc = err_at(e, CRM_E_CORRUPT, path, 0, NULL, "empty %s file", what);
out:
	free(scratch);
	return rc;
}

/*
 * Keep the best `max` items of a stream in arr[0..*n), sorted by `before`:
 * insertion into a short list, cheap for the 10 to 40 rows a report shows.
 */
static void keep_top(void *arr, size_t *n, size_t max, size_t size, const void *item,
		     int (*before)(const void *, const void *))
{
	unsigned char *a = arr;
	size_t at;

	if (max == 0 || (*n == max && !before(item, a + (*n - 1) * size)))
		return;
	at = *n < max ? (*n)++ : *n - 1;
	while (at > 0 && before(item, a + (at - 1) * size)) {
		memcpy(a + at * size, a + (at - 1) * size, size);
		at--;
	}
	memcpy(a + at * size, item, size);
}

/* A number field of the per-customer file; a damaged one names the column. */
static int cust_number(const char *s, double *v, const char *path, long line, const char *name,
		       struct crm_err *e)
{
	if (parse_double(s, v))
		return err_at(e, CRM_E_CORRUPT, path, line, name, "damaged customer metrics row");
	return 0;
}

/* A field into a fixed buffer, cut to fit (snprintf is too slow for a million rows). */
static void copy_cut(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int cust_before(const void *pa, const void *pb)
{
	const struct mtab_customer *a = pa, *b = pb;

	if (a->revenue_12m != b->revenue_12m)
		return a->revenue_12m > b->revenue_12m;
	return strcmp(a->id, b->id) < 0;
}

/* Highest predicted CLV first; ties: smaller id first. */
static int clv_best_before(const void *pa, const void *pb)
{
	const struct mtab_clv_customer *a = pa, *b = pb;

	if (a->clv != b->clv)
		return a->clv > b->clv;
	return strcmp(a->id, b->id) < 0;
}

/* Most revenue over 12 months first, then the higher predicted CLV, then the smaller id. */
static int clv_fading_before(const void *pa, const void *pb)
{
	const struct mtab_clv_customer *a = pa, *b = pb;

	if (a->revenue_12m != b->revenue_12m)
		return a->revenue_12m > b->revenue_12m;
	if (a->clv != b->clv)
		return a->clv > b->clv;
	return strcmp(a->id, b->id) < 0;
}

/* The columns of the per-customer file the lists read; the first 3 (4 for at_risk) must be there. */
enum { CC_ID, CC_RFM, CC_REV, CC_RECENCY, CC_X, CC_PALIVE, CC_EXPECTED, CC_CLV, CC_N };

static const char *const cust_cols[CC_N] = { "customer_id", "rfm_segment", "revenue_12m",
					     "recency_days", "x", "p_alive", "expected_purchases",
					     "clv_predicted" };

/* The at-risk list: customers of cant_lose and at_risk, by revenue over 12 months. */
static int risk_row(struct mtab_risk_list *w, char *const *field, const int *col, const char *path,
		    long line, struct crm_err *e)
{
	struct mtab_customer c;
	double d;

	if (strcmp(field[col[CC_RFM]], "cant_lose") && strcmp(field[col[CC_RFM]], "at_risk"))
		return 0;
	copy_cut(c.id, sizeof(c.id), field[col[CC_ID]]);
	copy_cut(c.segment, sizeof(c.segment), field[col[CC_RFM]]);
	c.recency_days = -1;
	if (*field[col[CC_RECENCY]]) {
		if (cust_number(field[col[CC_RECENCY]], &d, path, line, "recency_days", e))
			return e->code;
		c.recency_days = (long)d;
	}
	if (cust_number(field[col[CC_REV]], &c.revenue_12m, path, line, "revenue_12m", e))
		return e->code;
	w->total++;
	keep_top(w->c, &w->n, w->max, sizeof(c), &c, cust_before);
	return 0;
}

/* 1 when the file has the CLV model's columns. */
static int has_model(const int *col)
{
	int j;

	for (j = CC_X; j < CC_N; j++)
		if (col[j] < 0)
			return 0;
	return 1;
}

/*
 * One row of the model's lists. Most rows of a big file enter neither
 * list, so only what decides that is parsed for every modelled row
 * (clv_predicted and p_alive, both checked); revenue, x and expected
 * purchases are parsed when they are needed.
 */
static int clv_row(struct mtab_clv_lists *l, char *const *field, const int *col, const char *path,
		   long line, struct crm_err *e)
{
	struct mtab_clv_customer c;
	int best, fading, has_rev = 0;

	/* an empty clv_predicted: no purchase before end(P), not modelled */
	if (!*field[col[CC_CLV]])
		return 0;
	if (cust_number(field[col[CC_CLV]], &c.clv, path, line, "clv_predicted", e) ||
	    cust_number(field[col[CC_PALIVE]], &c.p_alive, path, line, "p_alive", e))
		return e->code;
	copy_cut(c.id, sizeof(c.id), field[col[CC_ID]]);
	l->modelled++;
	best = l->max_best && (l->n_best < l->max_best || clv_best_before(&c, &l->best[l->n_best - 1]));
	fading = c.p_alive < MTAB_FADING_P_ALIVE;
	if (fading) {
		l->fading_all++;
		if (cust_number(field[col[CC_REV]], &c.revenue_12m, path, line, "revenue_12m", e))
			return e->code;
		has_rev = 1;
		fading = l->max_fading && (l->n_fading < l->max_fading ||
					   clv_fading_before(&c, &l->fading[l->n_fading - 1]));
	}
	if (!best && !fading)
		return 0;
	if ((!has_rev && cust_number(field[col[CC_REV]], &c.revenue_12m, path, line, "revenue_12m", e)) ||
	    cust_number(field[col[CC_X]], &c.x, path, line, "x", e) ||
	    cust_number(field[col[CC_EXPECTED]], &c.expected, path, line, "expected_purchases", e))
		return e->code;
	copy_cut(c.segment, sizeof(c.segment), field[col[CC_RFM]]);
	if (best)
		keep_top(l->best, &l->n_best, l->max_best, sizeof(c), &c, clv_best_before);
	if (fading)
		keep_top(l->fading, &l->n_fading, l->max_fading, sizeof(c), &c, clv_fading_before);
	return 0;
}

/* Both lists in one pass: for a million customers the file is read and split once. */
struct lists_walk {
	struct mtab_risk_list *risk;   /* NULL: not wanted */
	struct mtab_clv_lists *clv;    /* NULL: not wanted */
};

static int lists_row(void *ctx, char *const *field, const int *col, const char *path, long line,
		     struct crm_err *e)
{
	struct lists_walk *w = ctx;
	int rc, model = has_model(col);

	if (w->risk && (rc = risk_row(w->risk, field, col, path, line, e)))
		return rc;
	if (w->clv && model)
		return clv_row(w->clv, field, col, path, line, e);
	return w->risk ? 0 : 1; /* only the CLV lists wanted and no model columns: stop reading */
}

int mtab_customer_lists_text(const char *text, size_t len, const char *path,
			     struct mtab_risk_list *risk, struct mtab_clv_lists *clv, struct crm_err *e)
{
	struct lists_walk w = { risk, clv };
	int col[CC_N], rc;

	if (risk)
		risk->n = risk->total = 0;
	if (clv) {
		clv->n_best = clv->n_fading = clv->modelled = clv->fading_all = 0;
		clv->has_clv = 0;
	}
	/* the model's columns are optional: a file of an older compute lacks them */
	rc = cust_walk(text, len, path, CUST_WHAT, cust_cols, CC_N, risk ? CC_RECENCY + 1 : CC_REV + 1,
		       col, lists_row, &w, e);
	if (rc) {
		if (risk)
			risk->n = risk->total = 0;
		if (clv)
			clv->n_best = clv->n_fading = clv->modelled = clv->fading_all = 0;
		return rc;
	}
	if (clv)
		clv->has_clv = has_model(col);
	return 0;
}

int mtab_at_risk_text(const char *text, size_t len, const char *path, struct mtab_customer *out,
		      size_t max, size_t *n_out, size_t *total, struct crm_err *e)
{
	struct mtab_risk_list r = { out, max, 0, 0 };
	int rc = mtab_customer_lists_text(text, len, path, &r, NULL, e);

	*n_out = r.n;
	*total = r.total;
	return rc;
}

int mtab_clv_lists_text(const char *text, size_t len, const char *path, struct mtab_clv_lists *l,
			struct crm_err *e)
{
	return mtab_customer_lists_text(text, len, path, NULL, l, e);
}

int mtab_at_risk(const char *path, struct mtab_customer *out, size_t max, size_t *n_out,
		 size_t *total, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	*n_out = 0;
	*total = 0;
	rc = fsx_read_file(path, MTAB_MAX_FILE, &data, &len, e);
	if (rc)
		return rc;
	rc = mtab_at_risk_text((const char *)data, len, path, out, max, n_out, total, e);
	free(data);
	return rc;
}

/* ---- quarantine files: rejected rows counted by field and reason ---- */

#define QUAR_KINDS 256 /* distinct (field, reason) pairs told apart; the rest are lumped */

struct quar_walk {
	const char *const *files;
	size_t n_files;
	struct mtab_reason *kinds; /* QUAR_KINDS */
	size_t n_kinds, rows, lumped;
};

static int quar_row(void *ctx, char *const *field, const int *col, const char *path, long line,
		    struct crm_err *e)
{
	struct quar_walk *w = ctx;
	size_t i;

	(void)path;
	(void)line;
	(void)e;
	if (w->n_files) {
		for (i = 0; i < w->n_files && strcmp(w->files[i], field[col[0]]); i++)
			;
		if (i == w->n_files)
			return 0;
	}
	w->rows++;
	for (i = 0; i < w->n_kinds; i++)
		if (!strncmp(w->kinds[i].field, field[col[2]], sizeof(w->kinds[i].field) - 1) &&
		    !strncmp(w->kinds[i].reason, field[col[4]], sizeof(w->kinds[i].reason) - 1))
			break;
	if (i == w->n_kinds) {
		struct mtab_reason *r;

		if (w->n_kinds == QUAR_KINDS) {
			w->lumped++;
			return 0;
		}
		r = &w->kinds[w->n_kinds++];
		memset(r, 0, sizeof(*r));
		snprintf(r->field, sizeof(r->field), "%s", field[col[2]]);
		snprintf(r->reason, sizeof(r->reason), "%s", field[col[4]]);
		snprintf(r->value, sizeof(r->value), "%s", field[col[3]]);
		snprintf(r->where, sizeof(r->where), "%s:%s", field[col[0]], field[col[1]]);
	}
	w->kinds[i].count++;
	return 0;
}

/* Most rows first; equal counts keep the order they were first seen in. */
static void sort_reasons(struct mtab_reason *r, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		struct mtab_reason x = r[i];

		for (j = i; j > 0 && r[j - 1].count < x.count; j--)
			r[j] = r[j - 1];
		r[j] = x;
	}
}

int mtab_quarantine_text(const char *text, size_t len, const char *path, const char *const *files,
			 size_t n_files, struct mtab_reasons *out, struct crm_err *e)
{
	static const char *const want[5] = { "file", "line", "field", "value", "reason" };
	struct quar_walk w = { files, n_files, NULL, 0, 0, 0 };
	int col[5], rc;
	size_t i;

	out->n = out->rows = out->kinds = 0;
	w.kinds = malloc(QUAR_KINDS * sizeof(*w.kinds));
	if (!w.kinds)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
	rc = cust_walk(text, len, path, "quarantine", want, 5, 5, col, quar_row, &w, e);
	if (rc == 0 && w.rows == 0 && n_files) {
		/* none of the period's files named: the source's rows are all there is */
		w.n_files = 0;
		rc = cust_walk(text, len, path, "quarantine", want, 5, 5, col, quar_row, &w, e);
	}
	if (rc == 0) {
		sort_reasons(w.kinds, w.n_kinds);
		for (i = 0; i < w.n_kinds && i < out->max; i++)
			out->r[i] = w.kinds[i];
		out->n = i;
		out->rows = w.rows;
		out->kinds = w.n_kinds + (w.lumped ? 1 : 0);
	}
	free(w.kinds);
	return rc;
}

/* ---- one segment's view of the metrics files (crmetl report --segment) ---- */

/* Rows of dim `all` that stay true for a segment: the CLV model is fitted on everyone. */
static int holds_for_segments(const char *metric)
{
	return !strncmp(metric, "bgnbd_", 6) || !strncmp(metric, "gg_", 3);
}

int mtab_focus_text(const char *text, size_t len, const char *path, const char *dim,
		    const char *value, struct buf *out, size_t *n_seg, struct crm_err *e)
{
	const char *p = text, *end = text + len;
	char *scratch = malloc(len + N_COLS + 1);
	char *field[N_COLS];
	long line = 0;
	int rc = 0;

	*n_seg = 0;
	if (!scratch)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
	for (; p < end; line++) {
		const char *ls, *le;

		p = cut_line(p, end, &ls, &le);
		if (line == 0) { /* the header, as it is (mtab_load_text checks it) */
			buf_append(out, ls, (size_t)(le - ls));
			buf_put_u8(out, '\n');
			continue;
		}
		if (le == ls)
			continue;
		if (split_line(ls, le, scratch, field)) {
			rc = err_at(e, CRM_E_CORRUPT, path, line + 1, NULL,
				    "damaged metrics row: expected %d fields", N_COLS);
			goto out;
		}
		if (!strcmp(field[2], dim) && !strcmp(field[3], value)) {
			/* ids and numbers hold no comma or quote: written back unquoted */
			buf_printf(out, "%s,%s,all,,%s,%s,%s,%s\n", field[0], field[1], field[4], field[5],
				   field[6], field[7]);
			(*n_seg)++;
		} else if (!strcmp(field[2], "all") && holds_for_segments(field[1])) {
			buf_append(out, ls, (size_t)(le - ls));
			buf_put_u8(out, '\n');
		}
	}
	if (out->failed)
		rc = err_set(e, CRM_E_NOMEM, "out of memory focusing '%s' on %s=%s", path, dim, value);
out:
	free(scratch);
	return rc;
}

int mtab_filter_customers_text(const char *text, size_t len, const char *path, const char *column,
			       const char *value, struct buf *out, size_t *n_kept, struct crm_err *e)
{
	const char *p = text, *end = text + len;
	char *scratch = malloc(len + CUST_MAX_COLS + 1);
	char *field[CUST_MAX_COLS];
	long line = 0;
	int rc = 0, nf, col = -1, i;

	*n_kept = 0;
	if (!scratch)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", path);
	for (; p < end; line++) {
		const char *ls, *le;

		p = cut_line(p, end, &ls, &le);
		if (le == ls)
			continue;
		nf = split_fields(ls, le, scratch, field, CUST_MAX_COLS);
		if (nf < 0 || (line > 0 && col >= nf)) {
			rc = err_at(e, CRM_E_CORRUPT, path, line + 1, NULL, "damaged %s row", CUST_WHAT);
			goto out;
		}
		if (line == 0) {
			for (i = 0; i < nf; i++)
				if (!strcmp(field[i], column))
					col = i;
			if (col < 0) {
				rc = err_at(e, CRM_E_CORRUPT, path, 1, NULL, "not a %s file: no column '%s'",
					    CUST_WHAT, column);
				goto out;
			}
		} else if (strcmp(field[col], value)) {
			continue;
		} else {
			(*n_kept)++;
		}
		buf_append(out, ls, (size_t)(le - ls));
		buf_put_u8(out, '\n');
	}
	if (line == 0)
		rc = err_at(e, CRM_E_CORRUPT, path, 0, NULL, "empty %s file", CUST_WHAT);
	else if (out->failed)
		rc = err_set(e, CRM_E_NOMEM, "out of memory filtering '%s'", path);
out:
	free(scratch);
	return rc;
}
