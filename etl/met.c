/*
 * met.c - the metrics engine: loads the customers dimension and the period
 * files once, then walks the months in order and writes the metrics of
 * every requested period (met.h; definitions in METRICS.md and
 * docs/metrics.md).
 *
 * Owns: the dense customer index (customer_id -> 0..n-1 in dimension order,
 * which is customer_id byte order, so "ties by customer_id" is "ties by
 * index"), per-month fact columns, per-customer state, the output rows.
 *
 * Why a month walk: every metric of P depends on the history before end(P)
 * only through a few per-customer values (signup, last completed order day,
 * the trailing 12 months' F/M/net profit), which are advanced one month at
 * a time; 24 periods cost one pass over the facts plus 24 passes over the
 * customers, never 24 passes over the history.
 *
 * Threads: period files are decoded on up to MAX_LOADERS threads (each
 * on its own months, with its own error), each period's per-customer
 * file is formatted and written on one writer thread from a snapshot while
 * the walk continues, and each period's CLV fits run on threads of their
 * own (met_clv.h); everything else runs on the calling thread.
 *
 * Predictive CLV (met_clv.c) rides on the same walk: the per-customer
 * purchase-day history is advanced with the orders, one month ahead of
 * the rest, and each period fits its models on it (clv_fits_ahead).
 *
 * Does not: read exports.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "cpus.h"
#include "crmp.h"
#include "fsx.h"
#include "hmap.h"
#include "log.h"
#include "met.h"
#include "met_clv.h"
#include "met_stamp.h"
#include "period.h"
#include "fitc.h"
#include "sortx.h"
#include "tz.h"
#include "val.h"

#include "banned.h"

#define NONE_DAY INT32_MAX
#define NO_ORDER INT32_MIN
#define NO_CUST UINT32_MAX
#define NO_TIME INT64_MIN
#define MAX_MONTHS 1200           /* 100 years of months in one run */
#define OUT_MAX ((size_t)1 << 32) /* ceiling of one output file */

enum { D_ALL, D_CHANNEL, D_REGION, D_TIER, D_RFM, N_DIMS };
static const char *const dim_names[N_DIMS] = { "all", "channel", "region", "tier", "rfm" };

enum { IX_OTHER, IX_SENT, IX_OPEN, IX_CLICK };

/* Interned attribute values of one dimension (channel, region, tier). */
struct dict {
	struct hmap h;
	char **names;       /* owned array of owned NUL-terminated names */
	uint8_t *has_cust;  /* owned: 1 if some customer has this value */
	uint32_t n, cap;
};

/*
 * The facts of one month, reduced to what the metrics read. Orders and
 * interactions are ordered by customer index (time order within a
 * customer; see cust_starts).
 */
struct month {
	uint32_t n_ord;      /* completed and refunded orders (cancelled dropped) */
	uint32_t *o_cust;
	int32_t *o_day;
	int64_t *o_amt, *o_cost;
	uint8_t *o_refund;
	uint64_t any_orders; /* order rows of any status */
	int64_t acq, ret;    /* spend by purpose, money units */
	uint32_t n_sp;       /* acquisition spend by channel code */
	struct crmp_strs sp_names; /* channel texts until interned (loading runs in threads) */
	uint32_t *sp_ch;
	int64_t *sp_amt;
	uint32_t n_sv;
	uint32_t *sv_cust;   /* NO_CUST: anonymous */
	uint8_t *sv_kind, *sv_score;
	uint32_t n_tk;
	uint32_t *tk_cust;
	int64_t *tk_open, *tk_first, *tk_res; /* NO_TIME: absent */
	uint8_t *tk_kind;
	uint32_t n_ix;
	uint32_t *ix_cust;
	uint8_t *ix_kind;
	uint64_t funnel[6];  /* distinct leads per stage */
};

/* Counters of one (dimension, segment) slot for one period. */
struct acc {
	uint64_t start, new_, churned, react, retained, end, during, buyers, orders;
	uint64_t repeat, returning, csat_n, csat_pos, csat_sum, nps_n, nps_p, nps_d;
	uint64_t complaints, referred_new, engaged, ix_n, ix_cust, exist;
	int64_t rev, crev, np;
};

struct row {
	const char *metric;
	const char *dim;
	const char *seg;
	long k;              /* -1: none */
	char val[MET_DOUBLE_TEXT_MAX], num[MET_DOUBLE_TEXT_MAX], den[MET_DOUBLE_TEXT_MAX];
	double lo, hi;
	int has_ci;
};

struct cwriter;

struct eng {
	const struct cfg *cfg;
	struct tz *tz;
	struct crm_err *e;
	char *periods_dir, *metrics_dir;

	/* customers */
	uint32_t n;
	struct crmp_strs ids;        /* customer_id text per index */
	struct hmap idmap;
	/*
	 * Fast path when every customer_id is one prefix and W digits (the
	 * usual "c000123"): num_map[number] = index, no hashing. Exact, since
	 * an id of another shape cannot be in the dimension then.
	 */
	uint32_t *num_map;           /* owned, or NULL: use idmap */
	uint64_t num_max;
	const char *num_prefix;      /* borrowed from ids */
	size_t num_plen, num_width;
	int32_t *signup, *churn, *first_ord, *last_ord, *cohort;
	uint8_t *contract, *referred, *in_start, *in_end, *during, *rfm;
	uint32_t *attr[3];
	uint32_t *f12, *ocnt, *stamp, *touched;
	int64_t *m12, *np12;
	uint8_t *rs, *fs, *ms;       /* RFM scores of the current period (0: none) */
	uint32_t *slot5;             /* per customer, its 5 slots (all, channel, region, tier, rfm) this period */
	/*
	 * The period's customer pass (base_counts) also counts, per slot,
	 * the Kaplan-Meier events and censorings by duration in days
	 * (sv_ev, sv_ce: [slot * sv_days + day], for survival_rows) and per
	 * RFM segment the customers and their M (for the rfm rows).
	 */
	uint32_t *sv_ev, *sv_ce, *sv_maxd;
	size_t sv_days;
	int32_t min_signup;          /* the earliest signup of all (NONE_DAY: none) */
	uint64_t rfm_cnt[MET_RFM_NONE + 1];
	int64_t rfm_mon[MET_RFM_NONE + 1], rfm_tot;
	struct dict dicts[3];        /* channel, region, tier */
	uint32_t unknown_code[3];

	/* months m0 .. m0 + nm - 1 */
	int m0, nm;
	struct month *months;
	char (*mtext)[PERIOD_TEXT_MAX];
	/* overall per month, for the 12-month CLV */
	uint64_t *m_start, *m_churned, *m_orders;
	int64_t *m_crev, *m_rev, *m_cost;
	/* cohorts [c * nm + m] */
	uint64_t *coh_size, *coh_active, *coh_ret;
	int64_t *coh_rev;
	/* predictive CLV: purchase history, and [f * nm + m] = purchase days in
	   month m of customers whose first purchase was in month f (holdout) */
	struct met_clv_hist clvh;    /* through month clv_mi - 1 (clv_history_to) */
	int32_t *clv_last;           /* last_ord of that history */
	int clv_mi;
	struct met_clv_job *fit_cur; /* the fits of the period being computed, or NULL */
	struct met_clv_job *fit_next; /* those of the next period, or NULL */
	int32_t *first_pm;           /* per customer: month index of its first purchase, -1 none */
	uint64_t *pd_first;
	struct met_clv_res clv;      /* the current period's, until the writer takes it */

	/* slots */
	uint32_t base[N_DIMS], nslots;
	struct acc *acc;

	/* output rows of the current period */
	struct row *rows;
	size_t n_rows, cap_rows;
	unsigned long long unknown_ids;
	struct cwriter *cw;          /* the per-customer file writer thread, or NULL */
	const struct ctext *text;    /* in the writer's copy: its texts (write_customers) */
	int restated;
	int oom;
	uint32_t *ld_start;          /* owned by one loader's copy of the engine (cust_starts) */
	int tables_from;             /* first month whose surveys, tickets, interactions and
					leads are loaded (load_month) */
	char *fits_dir;              /* where the CLV fits are kept (fitc.h), or NULL */
	char fits_salt[FITC_KEY_LEN + 1];
	int fits_reuse;              /* 0 with --force */
};

/* ---------------------------------------------------------------- helpers */

static void *xcalloc(struct eng *g, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		g->oom = 1;
	return p;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

static int32_t month_first_day(int p)
{
	return (int32_t)tz_days_from_civil(period_year(p), period_month(p), 1);
}

static int day_period(int32_t day)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(day, &y, &m, &d);
	return (int)(y * 12 + m - 1);
}

static void dict_init(struct dict *d)
{
	memset(d, 0, sizeof(*d));
	hmap_init(&d->h);
}

static void dict_release(struct dict *d)
{
	uint32_t i;

	for (i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	free(d->has_cust);
	hmap_release(&d->h);
}

/* Code of a value, added when new; NO_CUST when out of memory. */
static uint32_t dict_code(struct dict *d, const char *s, size_t len)
{
	uint32_t *v;
	int is_new = 0;

	v = hmap_put(&d->h, s, len, d->n, &is_new, NULL);
	if (!v)
		return NO_CUST;
	if (is_new) {
		if (d->n == d->cap) {
			uint32_t cap = d->cap ? d->cap * 2 : 16;
			char **nn = realloc(d->names, cap * sizeof(*nn));
			uint8_t *nh;

			if (!nn)
				return NO_CUST;
			d->names = nn;
			nh = realloc(d->has_cust, cap);
			if (!nh)
				return NO_CUST;
			d->has_cust = nh;
			d->cap = cap;
		}
		d->names[d->n] = malloc(len + 1);
		if (!d->names[d->n])
			return NO_CUST;
		memcpy(d->names[d->n], s, len);
		d->names[d->n][len] = '\0';
		d->has_cust[d->n] = 0;
		d->n++;
	}
	return *v;
}

static int col_of(struct eng *g, const struct crmp_file *f, const char *path, int t,
		  const char *table, const char *col)
{
	int c = crmp_find_column(f, t, col);

	if (c < 0)
		err_at(g->e, CRM_E_CORRUPT, path, 0, table, "damaged period file: no column '%s'", col);
	return c;
}

/* Read integer column `col` of table t into a new array (and presence). */
static int64_t *read_ints(struct eng *g, const struct crmp_file *f, const char *path, int t,
			  const char *table, const char *col, uint64_t rows, uint8_t **present)
{
	int c = col_of(g, f, path, t, table, col);
	int64_t *v;

	if (c < 0)
		return NULL;
	v = xcalloc(g, rows, sizeof(*v));
	if (present)
		*present = xcalloc(g, rows, 1);
	if (!v || (present && !*present)) {
		free(v);
		if (present) {
			free(*present);
			*present = NULL;
		}
		err_set(g->e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		return NULL;
	}
	if (crmp_read_int(f, t, c, v, present ? *present : NULL, g->e)) {
		free(v);
		if (present) {
			free(*present);
			*present = NULL;
		}
		return NULL;
	}
	return v;
}

/* Digits of s[0..len) as a number, or UINT64_MAX when not all digits. */
static uint64_t parse_digits(const char *s, size_t len)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return UINT64_MAX;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

/* Index of a customer_id, or NO_CUST. */
static uint32_t cust_lookup(const struct eng *g, const char *s, size_t len)
{
	uint32_t *v;

	if (g->num_map) {
		uint64_t x;

		if (len < g->num_plen + g->num_width || memcmp(s, g->num_prefix, g->num_plen) ||
		    (len > g->num_plen + g->num_width && s[g->num_plen] == '0'))
			return NO_CUST;
		x = parse_digits(s + g->num_plen, len - g->num_plen);
		return x <= g->num_max ? g->num_map[x] : NO_CUST;
	}
	v = hmap_get(&g->idmap, s, len);
	return v ? *v : NO_CUST;
}

/*
 * Set up num_map when the ids allow it (see struct eng): one prefix, then
 * at least W digits, where W is the shortest digit run and only W-digit
 * numbers may have leading zeros ("c000001" .. "c999999", "c1000000").
 * Text and number are then one-to-one, so the lookup is exact.
 */
static void setup_num_map(struct eng *g)
{
	const char *first;
	size_t flen, plen, w = SIZE_MAX;
	uint64_t max = 0, x;
	uint32_t i;

	if (g->n == 0)
		return;
	first = g->ids.dict[g->ids.codes[0]];
	flen = g->ids.lens[g->ids.codes[0]];
	for (plen = flen; plen > 0 && first[plen - 1] >= '0' && first[plen - 1] <= '9'; plen--)
		;
	for (i = 0; i < g->n; i++) {
		size_t len = g->ids.lens[g->ids.codes[i]];

		if (len <= plen)
			return;
		if (len - plen < w)
			w = len - plen;
	}
	if (w > 18)
		return;
	for (i = 0; i < g->n; i++) {
		const char *id = g->ids.dict[g->ids.codes[i]];
		size_t len = g->ids.lens[g->ids.codes[i]];

		if (memcmp(id, first, plen) || (len - plen > w && id[plen] == '0') ||
		    (x = parse_digits(id + plen, len - plen)) == UINT64_MAX)
			return;
		if (x > max)
			max = x;
	}
	if (max > 8 * (uint64_t)g->n + 1024)
		return;
	g->num_map = malloc((size_t)(max + 1) * sizeof(uint32_t));
	if (!g->num_map)
		return; /* the hash map still works */
	memset(g->num_map, 0xff, (size_t)(max + 1) * sizeof(uint32_t));
	for (i = 0; i < g->n; i++) {
		const char *id = g->ids.dict[g->ids.codes[i]];

		g->num_map[parse_digits(id + plen, g->ids.lens[g->ids.codes[i]] - plen)] = i;
	}
	g->num_max = max;
	g->num_prefix = first;
	g->num_plen = plen;
	g->num_width = w;
}

static unsigned ndigits(uint64_t x)
{
	unsigned n = 1;

	while (x >= 10) {
		x /= 10;
		n++;
	}
	return n;
}

/*
 * The fast path of read_custs: a column stored as numbers (crmp_read_numbered)
 * with the dimension's prefix maps through num_map without any text. The
 * text of number x is prefix + x in `width` digits (no padding when width
 * is 0); it names a customer only in the dimension's own form (W digits
 * with leading zeros, or more digits without). Returns 1 when the column
 * or the ids do not allow it (then the caller reads text), 0 or an error.
 */
static int read_custs_numbered(struct eng *g, const struct crmp_file *f, int t, int c,
			       uint64_t rows, uint32_t *out)
{
	struct crmp_numbered shape;
	int64_t *nums;
	uint8_t *present;
	uint64_t r;
	int rc;

	if (!g->num_map)
		return 1;
	nums = malloc((rows ? rows : 1) * sizeof(*nums));
	present = malloc(rows ? rows : 1);
	if (!nums || !present) {
		free(nums);
		free(present);
		return err_set(g->e, CRM_E_NOMEM, "out of memory");
	}
	rc = crmp_read_numbered(f, t, c, nums, present, &shape, g->e);
	if (rc == 0 && (shape.plen != g->num_plen || memcmp(shape.prefix, g->num_prefix, g->num_plen)))
		rc = 1;
	for (r = 0; rc == 0 && r < rows; r++) {
		uint64_t x = (uint64_t)nums[r];
		unsigned nd;

		out[r] = NO_CUST;
		if (!present[r])
			continue;
		nd = shape.width == g->num_width ? shape.width : ndigits(x);
		if (nums[r] >= 0 && x <= g->num_max &&
		    (shape.width > nd ? shape.width == g->num_width : nd >= g->num_width))
			out[r] = g->num_map[x];
		if (out[r] == NO_CUST)
			g->unknown_ids++;
	}
	free(nums);
	free(present);
	return rc;
}

/* Customer indexes of a customer_id column (NO_CUST: null or unknown). */
static uint32_t *read_custs(struct eng *g, const struct crmp_file *f, const char *path, int t,
			    const char *table, const char *col, uint64_t rows)
{
	struct crmp_strs s;
	uint32_t *map = NULL, *out = NULL;
	uint64_t r;
	uint32_t i;
	int c = col_of(g, f, path, t, table, col), rc;

	if (c < 0)
		return NULL;
	out = xcalloc(g, rows ? rows : 1, sizeof(*out));
	if (!out) {
		err_set(g->e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		return NULL;
	}
	rc = read_custs_numbered(g, f, t, c, rows, out);
	if (rc <= 0) {
		if (rc == 0)
			return out;
		free(out);
		return NULL;
	}
	free(out);
	out = NULL;
	memset(&s, 0, sizeof(s));
	if (crmp_read_str(f, t, c, &s, g->e))
		return NULL;
	map = xcalloc(g, s.n_dict, sizeof(*map));
	out = xcalloc(g, rows, sizeof(*out));
	if (!map || !out) {
		free(out);
		out = NULL;
		err_set(g->e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	for (i = 0; i < s.n_dict; i++)
		map[i] = cust_lookup(g, s.dict[i], s.lens[i]);
	for (r = 0; r < rows; r++) {
		uint32_t code = s.codes[r];

		out[r] = code == UINT32_MAX ? NO_CUST : map[code];
		if (code != UINT32_MAX && out[r] == NO_CUST)
			g->unknown_ids++;
	}
out:
	free(map);
	crmp_strs_release(&s);
	return out;
}

static int find_table(struct eng *g, const struct crmp_file *f, const char *path,
		      const char *name, uint64_t *rows)
{
	int t = crmp_find_table(f, name);

	if (t < 0)
		return err_at(g->e, CRM_E_CORRUPT, path, 0, name, "damaged period file: no table '%s'",
			      name);
	*rows = crmp_table_info(f, (size_t)t)->rows;
	return t;
}

/* ---------------------------------------------------------------- loading */

/*
 * The dimension-k code of value `code` of column s, through amap (per
 * value of s, NO_CUST until first seen). Codes are still handed out in
 * the order customers first show a value, as dict_code alone did, but
 * each distinct value is hashed once instead of once per customer.
 */
static uint32_t attr_code(struct eng *g, int k, const struct crmp_strs *s, uint32_t code,
			  uint32_t *amap)
{
	if (amap[code] == NO_CUST)
		amap[code] = dict_code(&g->dicts[k], s->dict[code], s->lens[code]);
	return amap[code];
}

/*
 * The customers dimension is read in two parts: load_ids() the index
 * that the month loaders need (customer_id, num_map or idmap), then
 * load_dimension() the rest, on the calling thread while the other
 * loaders already read months (load_months). The file stays open between.
 */
struct dim {
	struct crmp_file *f;         /* owned */
	char *path;                  /* owned */
	int t;                       /* the customers table */
};

static void dim_close(struct dim *d)
{
	crmp_close(d->f);
	free(d->path);
	memset(d, 0, sizeof(*d));
}

static int load_ids(struct eng *g, struct dim *d, struct crm_err *e)
{
	uint64_t rows = 0;
	uint32_t i;
	int c, rc;

	if (!(d->path = join(g->periods_dir, "customers.crmp")))
		return err_set(e, CRM_E_NOMEM, "out of memory");
	rc = crmp_open(d->path, &d->f, e);
	if (rc) {
		if (e->code == CRM_E_IO)
			e->code = CRM_E_INPUT;
		return rc;
	}
	if ((d->t = find_table(g, d->f, d->path, "customers", &rows)) < 0)
		return d->t;
	if (rows >= UINT32_MAX)
		return err_at(e, CRM_E_NOMEM, d->path, 0, "customers", "too many customers");
	g->n = (uint32_t)rows;
	if ((c = col_of(g, d->f, d->path, d->t, "customers", "customer_id")) < 0 ||
	    crmp_read_str(d->f, d->t, c, &g->ids, e))
		return e->code;
	setup_num_map(g);
	for (i = 0; i < g->n && !g->num_map; i++) {
		const char *id = g->ids.dict[g->ids.codes[i]];
		int is_new = 0;

		if (!hmap_put(&g->idmap, id, g->ids.lens[g->ids.codes[i]], i, &is_new, NULL))
			return err_set(e, CRM_E_NOMEM, "out of memory");
	}
	return 0;
}

/* The per-customer arrays of the engine, for g->n customers. */
static int alloc_customers(struct eng *g, struct crm_err *e)
{
	size_t rows = g->n;
	int k;

	g->signup = xcalloc(g, rows, 4);
	g->churn = xcalloc(g, rows, 4);
	g->first_ord = xcalloc(g, rows, 4);
	g->last_ord = xcalloc(g, rows, 4);
	g->cohort = xcalloc(g, rows, 4);
	g->contract = xcalloc(g, rows, 1);
	g->referred = xcalloc(g, rows, 1);
	g->in_start = xcalloc(g, rows, 1);
	g->in_end = xcalloc(g, rows, 1);
	g->during = xcalloc(g, rows, 1);
	g->rfm = xcalloc(g, rows, 1);
	g->rs = xcalloc(g, rows, 1);
	g->fs = xcalloc(g, rows, 1);
	g->ms = xcalloc(g, rows, 1);
	for (k = 0; k < 3; k++)
		g->attr[k] = xcalloc(g, rows, 4);
	g->f12 = xcalloc(g, rows, 4);
	g->ocnt = xcalloc(g, rows, 4);
	g->stamp = xcalloc(g, rows, 4);
	g->touched = xcalloc(g, rows, 4);
	g->m12 = xcalloc(g, rows, 8);
	g->slot5 = xcalloc(g, rows, 5 * sizeof(uint32_t));
	g->np12 = xcalloc(g, rows, 8);
	if (g->oom)
		return err_set(e, CRM_E_NOMEM, "out of memory for %zu customers", rows);
	for (k = 0; k < 3; k++) {
		g->unknown_code[k] = dict_code(&g->dicts[k], "unknown", 7);
		if (g->unknown_code[k] == NO_CUST)
			return err_set(e, CRM_E_NOMEM, "out of memory");
	}
	return 0;
}

/* The rest of the dimension (after load_ids): days, flags and attributes per customer. */
static int load_dimension(struct eng *g, struct dim *d, struct crm_err *e)
{
	struct crmp_strs s[4];
	static const char *const scol[4] = { "channel", "region", "tier", "referred_by" };
	uint32_t *amap[3] = { NULL, NULL, NULL };
	int64_t *sd = NULL, *cd = NULL, *dv = NULL;
	uint8_t *sdp = NULL, *cdp = NULL;
	const struct crmp_file *f = d->f;
	const char *path = d->path;
	uint64_t rows = g->n;
	uint32_t i;
	int t = d->t, c, k, rc = 0;

	memset(s, 0, sizeof(s));
	for (k = 0; k < 4; k++)
		if ((c = col_of(g, f, path, t, "customers", scol[k])) < 0 ||
		    crmp_read_str(f, t, c, &s[k], e)) {
			rc = e->code;
			goto out;
		}
	for (k = 0; k < 3; k++) {
		amap[k] = malloc((s[k].n_dict ? s[k].n_dict : 1) * sizeof(*amap[k]));
		if (!amap[k]) {
			rc = err_set(e, CRM_E_NOMEM, "out of memory");
			goto out;
		}
		memset(amap[k], 0xff, s[k].n_dict * sizeof(*amap[k])); /* NO_CUST */
	}
	sd = read_ints(g, f, path, t, "customers", "signup_day", rows, &sdp);
	cd = sd ? read_ints(g, f, path, t, "customers", "churn_day", rows, &cdp) : NULL;
	dv = cd ? read_ints(g, f, path, t, "customers", "derived", rows, NULL) : NULL;
	if (!dv) {
		rc = e->code ? e->code : err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = alloc_customers(g, e)))
		goto out;
	for (i = 0; i < g->n; i++) {
		g->signup[i] = sdp[i] ? (int32_t)sd[i] : NONE_DAY;
		g->churn[i] = cdp[i] ? (int32_t)cd[i] : NONE_DAY;
		g->contract[i] = cdp[i] || g->cfg->churn_model == CFG_CHURN_CONTRACTUAL;
		g->referred[i] = s[3].codes[i] != UINT32_MAX && s[3].lens[s[3].codes[i]] > 0;
		g->first_ord[i] = NONE_DAY;
		g->last_ord[i] = NO_ORDER;
		for (k = 0; k < 3; k++) {
			uint32_t code = s[k].codes[i];
			uint32_t a = g->unknown_code[k];

			if (!dv[i] && code != UINT32_MAX && s[k].lens[code] > 0)
				a = attr_code(g, k, &s[k], code, amap[k]);
			if (a == NO_CUST) {
				rc = err_set(e, CRM_E_NOMEM, "out of memory");
				goto out;
			}
			g->attr[k][i] = a;
			g->dicts[k].has_cust[a] = 1;
		}
	}
out:
	for (k = 0; k < 3; k++)
		free(amap[k]);
	for (k = 0; k < 4; k++)
		crmp_strs_release(&s[k]);
	free(sd);
	free(cd);
	free(dv);
	free(sdp);
	free(cdp);
	return rc;
}

static void month_release(struct month *m)
{
	free(m->o_cust);
	free(m->o_day);
	free(m->o_amt);
	free(m->o_cost);
	free(m->o_refund);
	free(m->sp_ch);
	free(m->sp_amt);
	crmp_strs_release(&m->sp_names);
	free(m->sv_cust);
	free(m->sv_kind);
	free(m->sv_score);
	free(m->tk_cust);
	free(m->tk_open);
	free(m->tk_first);
	free(m->tk_res);
	free(m->tk_kind);
	free(m->ix_cust);
	free(m->ix_kind);
}

/* The walk indexes a month's orders and interactions with 32 bits. */
#define MONTH_ROWS_MAX ((uint64_t)UINT32_MAX)

static int too_many_rows(struct eng *g, const char *path, const char *table, uint64_t rows)
{
	return err_at(g->e, CRM_E_NOMEM, path, 0, table,
		      "%" PRIu64 " rows in one month; compute takes at most %" PRIu64, rows,
		      MONTH_ROWS_MAX);
}

/*
 * The rows of a month go in customer index order, stably, so time order
 * within a customer (the period files keep rows in time order): the walks
 * over a month then read and write the per-customer arrays in ascending
 * order, which the hardware prefetches, instead of at random. Every
 * per-customer update depends only on that customer's own rows in time
 * order, and every sum over customers is an integer, so the metrics are
 * those of time order.
 *
 * A counting sort over the ncust customers (rows without one, NO_CUST,
 * last): cust_starts() counts the rows kept (skip[r] == 0, or all when
 * skip is NULL) per customer, and the caller moves each row to
 * start[cust_bucket()]++. Moving rows forward (reads in order, writes at
 * random) took half the time of gathering them through a permutation
 * (reads at random), which also needed 4 bytes a row. start has ncust + 2
 * entries and is the loader's own (g->ld_start), reused month after month:
 * a fresh one cost a page fault per 1024 customers twice a month.
 */
static inline size_t cust_bucket(uint32_t c, uint32_t ncust)
{
	return c < ncust ? c : ncust;
}

/*
 * The rows' customers are at random in the 4 MB of start[]: asking for
 * the entry PREFETCH_ROWS rows ahead hides most of each cache miss.
 */
#define PREFETCH_ROWS 16

static inline void prefetch_start(const uint32_t *start, const uint32_t *cust, uint64_t r,
				  uint64_t rows, uint32_t ncust)
{
	if (r + PREFETCH_ROWS < rows)
		__builtin_prefetch(&start[cust_bucket(cust[r + PREFETCH_ROWS], ncust)], 1);
}

static uint32_t *cust_starts(struct eng *g, const uint32_t *cust, const uint8_t *skip,
			     uint64_t rows)
{
	size_t nb = (size_t)g->n + 2, b;
	uint32_t *start = g->ld_start;
	uint64_t r;

	if (!start && !(start = g->ld_start = malloc(nb * sizeof(*start))))
		return NULL;
	memset(start, 0, nb * sizeof(*start));
	for (r = 0; r < rows; r++) {
		prefetch_start(start + 1, cust, r, rows, g->n);
		if (!skip || !skip[r])
			start[cust_bucket(cust[r], g->n) + 1]++;
	}
	for (b = 1; b < nb; b++)
		start[b] += start[b - 1];
	return start;
}

/* Orders the walk skips: cancelled (status 2) or of no known customer. */
static uint8_t *orders_skipped(struct eng *g, const uint32_t *cust, const int64_t *st,
			       const uint8_t *stp, uint64_t rows)
{
	uint8_t *skip = xcalloc(g, rows, 1);
	uint64_t r;

	if (skip)
		for (r = 0; r < rows; r++)
			skip[r] = (stp[r] && st[r] == 2) || cust[r] == NO_CUST;
	return skip;
}

static int load_orders(struct eng *g, struct month *m, const struct crmp_file *f,
		       const char *path)
{
	uint64_t rows = 0, r;
	int t = find_table(g, f, path, "orders", &rows);
	int64_t *day = NULL, *amt = NULL, *cost = NULL, *st = NULL;
	uint8_t *stp = NULL, *costp = NULL, *skip = NULL;
	uint32_t *cust = NULL, *start;
	int rc = 0;

	if (t < 0)
		return t;
	if (rows > MONTH_ROWS_MAX)
		return too_many_rows(g, path, "orders", rows);
	m->any_orders = rows;
	if (!(cust = read_custs(g, f, path, t, "orders", "customer_id", rows)) ||
	    !(day = read_ints(g, f, path, t, "orders", "day", rows, NULL)) ||
	    !(amt = read_ints(g, f, path, t, "orders", "amount", rows, NULL)) ||
	    !(cost = read_ints(g, f, path, t, "orders", "cost", rows, &costp)) ||
	    !(st = read_ints(g, f, path, t, "orders", "status", rows, &stp))) {
		rc = g->e->code;
		goto out;
	}
	skip = orders_skipped(g, cust, st, stp, rows);
	start = skip ? cust_starts(g, cust, skip, rows) : NULL;
	if (!start) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	m->n_ord = start[g->n];
	m->o_cust = xcalloc(g, m->n_ord, 4);
	m->o_day = xcalloc(g, m->n_ord, 4);
	m->o_amt = xcalloc(g, m->n_ord, 8);
	m->o_cost = xcalloc(g, m->n_ord, 8);
	m->o_refund = xcalloc(g, m->n_ord, 1);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	for (r = 0; r < rows; r++) {
		uint32_t o;

		prefetch_start(start, cust, r, rows, g->n);
		if (skip[r])
			continue;
		o = start[cust[r]]++;
		m->o_cust[o] = cust[r];
		m->o_day[o] = (int32_t)day[r];
		m->o_amt[o] = amt[r];
		m->o_cost[o] = costp[r] ? cost[r] : 0;
		m->o_refund[o] = stp[r] && st[r] == 1;
	}
out:
	free(skip);
	free(cust);
	free(day);
	free(amt);
	free(cost);
	free(costp);
	free(st);
	free(stp);
	return rc;
}

static int load_spend(struct eng *g, struct month *m, const struct crmp_file *f,
		      const char *path)
{
	uint64_t rows = 0, r;
	int t = find_table(g, f, path, "spend", &rows);
	int64_t *pur = NULL, *amt = NULL;
	struct crmp_strs ch;
	int c, rc = 0;

	memset(&ch, 0, sizeof(ch));
	if (t < 0)
		return t;
	if ((c = col_of(g, f, path, t, "spend", "channel")) < 0 ||
	    crmp_read_str(f, t, c, &ch, g->e) ||
	    !(pur = read_ints(g, f, path, t, "spend", "purpose", rows, NULL)) ||
	    !(amt = read_ints(g, f, path, t, "spend", "amount", rows, NULL))) {
		rc = g->e->code;
		goto out;
	}
	m->sp_ch = xcalloc(g, rows, 4);
	m->sp_amt = xcalloc(g, rows, 8);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (r = 0; r < rows; r++) {
		if (pur[r] == 1) {
			m->ret += amt[r];
		} else if (pur[r] == 0) {
			m->acq += amt[r];
			m->sp_ch[m->n_sp] = ch.codes[r]; /* a code into sp_names for now */
			m->sp_amt[m->n_sp++] = amt[r];
		}
	}
	m->sp_names = ch;
	memset(&ch, 0, sizeof(ch));
out:
	crmp_strs_release(&ch);
	free(pur);
	free(amt);
	return rc;
}

/* After loading: spend channel texts to channel codes (not thread-safe). */
static int intern_spend(struct eng *g, struct month *m)
{
	uint32_t r;

	for (r = 0; r < m->n_sp; r++) {
		uint32_t code = m->sp_ch[r];
		uint32_t k = code == UINT32_MAX ? g->unknown_code[0]
			: dict_code(&g->dicts[0], m->sp_names.dict[code], m->sp_names.lens[code]);

		if (k == NO_CUST)
			return err_set(g->e, CRM_E_NOMEM, "out of memory");
		m->sp_ch[r] = k;
	}
	crmp_strs_release(&m->sp_names);
	memset(&m->sp_names, 0, sizeof(m->sp_names));
	return 0;
}

static int load_surveys(struct eng *g, struct month *m, const struct crmp_file *f,
			const char *path)
{
	uint64_t rows = 0, r;
	int t = find_table(g, f, path, "surveys", &rows);
	int64_t *kind = NULL, *score = NULL;
	int rc = 0;

	if (t < 0)
		return t;
	if (!(m->sv_cust = read_custs(g, f, path, t, "surveys", "customer_id", rows)) ||
	    !(kind = read_ints(g, f, path, t, "surveys", "kind", rows, NULL)) ||
	    !(score = read_ints(g, f, path, t, "surveys", "score", rows, NULL))) {
		rc = g->e->code;
		goto out;
	}
	m->sv_kind = xcalloc(g, rows, 1);
	m->sv_score = xcalloc(g, rows, 1);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (r = 0; r < rows; r++) {
		m->sv_kind[r] = (uint8_t)kind[r];
		m->sv_score[r] = (uint8_t)(score[r] < 0 ? 0 : score[r] > 10 ? 10 : score[r]);
	}
	m->n_sv = (uint32_t)rows;
out:
	free(kind);
	free(score);
	return rc;
}

static int load_tickets(struct eng *g, struct month *m, const struct crmp_file *f,
			const char *path)
{
	uint64_t rows = 0, r;
	int t = find_table(g, f, path, "tickets", &rows);
	int64_t *kind = NULL;
	uint8_t *fp = NULL, *rp = NULL;
	int rc = 0;

	if (t < 0)
		return t;
	if (!(m->tk_cust = read_custs(g, f, path, t, "tickets", "customer_id", rows)) ||
	    !(m->tk_open = read_ints(g, f, path, t, "tickets", "opened_at", rows, NULL)) ||
	    !(m->tk_first = read_ints(g, f, path, t, "tickets", "first_response_at", rows, &fp)) ||
	    !(m->tk_res = read_ints(g, f, path, t, "tickets", "resolved_at", rows, &rp)) ||
	    !(kind = read_ints(g, f, path, t, "tickets", "kind", rows, NULL))) {
		rc = g->e->code;
		goto out;
	}
	m->tk_kind = xcalloc(g, rows, 1);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (r = 0; r < rows; r++) {
		m->tk_kind[r] = (uint8_t)kind[r];
		if (!fp[r])
			m->tk_first[r] = NO_TIME;
		if (!rp[r])
			m->tk_res[r] = NO_TIME;
	}
	m->n_tk = (uint32_t)rows;
out:
	free(kind);
	free(fp);
	free(rp);
	return rc;
}

static int load_interactions(struct eng *g, struct month *m, const struct crmp_file *f,
			     const char *path)
{
	uint64_t rows = 0, r;
	int t = find_table(g, f, path, "interactions", &rows);
	struct crmp_strs k;
	uint8_t *cls = NULL;
	uint32_t i, *cust = NULL, *start;
	int c, rc = 0;

	memset(&k, 0, sizeof(k));
	if (t < 0)
		return t;
	if (rows > MONTH_ROWS_MAX)
		return too_many_rows(g, path, "interactions", rows);
	if (!(cust = read_custs(g, f, path, t, "interactions", "customer_id", rows)) ||
	    (c = col_of(g, f, path, t, "interactions", "kind")) < 0 ||
	    crmp_read_str(f, t, c, &k, g->e)) {
		rc = g->e->code;
		goto out;
	}
	cls = xcalloc(g, k.n_dict, 1);
	m->ix_cust = xcalloc(g, rows, 4);
	m->ix_kind = xcalloc(g, rows, 1);
	start = cust_starts(g, cust, NULL, rows);
	if (g->oom || !start) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < k.n_dict; i++)
		cls[i] = !strcmp(k.dict[i], "email_sent") ? IX_SENT
			: !strcmp(k.dict[i], "email_open") ? IX_OPEN
			: !strcmp(k.dict[i], "email_click") ? IX_CLICK : IX_OTHER;
	for (r = 0; r < rows; r++) {
		uint32_t o;

		prefetch_start(start, cust, r, rows, g->n);
		o = start[cust_bucket(cust[r], g->n)]++;

		m->ix_cust[o] = cust[r];
		m->ix_kind[o] = k.codes[r] == UINT32_MAX ? IX_OTHER : cls[k.codes[r]];
	}
	m->n_ix = (uint32_t)rows;
out:
	free(cust);
	free(cls);
	crmp_strs_release(&k);
	return rc;
}

/*
 * Distinct (stage, lead) pairs of a month into m->funnel, from lead ids
 * as text: each lead numbered by a hash of its id, with a bit per stage
 * seen (front-coded columns give one dictionary entry per row, so equal
 * ids do not share a code).
 */
static int funnel_by_text(struct eng *g, struct month *m, const int64_t *stage, uint64_t rows,
			  const struct crmp_strs *ids)
{
	uint8_t *seen = xcalloc(g, rows, 1);
	struct hmap h;
	uint64_t r;
	int rc = 0;

	hmap_init(&h);
	for (r = 0; seen && r < rows; r++) {
		uint32_t code = ids->codes[r], *v;
		int is_new = 0;

		if (code == UINT32_MAX || stage[r] < 0 || stage[r] > 5)
			continue;
		if (!(v = hmap_put(&h, ids->dict[code], ids->lens[code], (uint32_t)h.count, &is_new,
				   NULL)))
			break;
		if (!(seen[*v] & (1u << stage[r]))) {
			seen[*v] |= (uint8_t)(1u << stage[r]);
			m->funnel[stage[r]]++;
		}
	}
	if (!seen || r < rows)
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
	hmap_release(&h);
	free(seen);
	return rc;
}

/*
 * The same from lead ids stored numbered (equal ids have equal numbers,
 * below 10^18 < 2^60): the pairs as number * 8 + stage, sorted, and each
 * distinct one counted for its stage. A radix sort of numbers took a
 * third of the time of hashing them (or, before, their texts).
 */
static int funnel_by_number(struct eng *g, struct month *m, const int64_t *stage,
			    uint64_t rows, const int64_t *nums, const uint8_t *present)
{
	uint64_t *keys = xcalloc(g, rows, sizeof(*keys));
	uint32_t *idx = xcalloc(g, rows, sizeof(*idx));
	uint64_t r;
	size_t n = 0, i;
	int rc = 0;

	if (keys && idx)
		for (r = 0; r < rows; r++)
			if (present[r] && stage[r] >= 0 && stage[r] <= 5) {
				keys[n] = (uint64_t)nums[r] << 3 | (uint64_t)stage[r];
				idx[n] = (uint32_t)n;
				n++;
			}
	if (!keys || !idx || sortx_by_key(idx, n, keys, NULL, NULL)) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (i == 0 || keys[idx[i]] != keys[idx[i - 1]])
			m->funnel[keys[idx[i]] & 7]++;
out:
	free(keys);
	free(idx);
	return rc;
}

static int load_leads(struct eng *g, struct month *m, const struct crmp_file *f,
		      const char *path)
{
	uint64_t rows = 0;
	int t = find_table(g, f, path, "leads", &rows);
	int64_t *stage = NULL, *nums = NULL;
	uint8_t *present = NULL;
	struct crmp_numbered shape;
	struct crmp_strs ids;
	int c, rc = 0;

	memset(&ids, 0, sizeof(ids));
	if (t < 0)
		return t;
	if ((c = col_of(g, f, path, t, "leads", "lead_id")) < 0 ||
	    !(stage = read_ints(g, f, path, t, "leads", "stage", rows, NULL))) {
		rc = g->e->code;
		goto out;
	}
	nums = xcalloc(g, rows, sizeof(*nums));
	present = xcalloc(g, rows, 1);
	if (!nums || !present) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	rc = crmp_read_numbered(f, t, c, nums, present, &shape, g->e);
	if (rc == 0)
		rc = funnel_by_number(g, m, stage, rows, nums, present);
	else if (rc == 1 && (rc = crmp_read_str(f, t, c, &ids, g->e)) == 0)
		rc = funnel_by_text(g, m, stage, rows, &ids);
out:
	free(stage);
	free(nums);
	free(present);
	crmp_strs_release(&ids);
	return rc;
}

static int load_month(struct eng *g, int p, struct month *m)
{
	char name[PERIOD_TEXT_MAX + 8], text[PERIOD_TEXT_MAX];
	struct crmp_file *f = NULL;
	char *path;
	int rc;

	snprintf(name, sizeof(name), "%s.crmp", period_format(p, text));
	if (!(path = join(g->periods_dir, name)))
		return err_set(g->e, CRM_E_NOMEM, "out of memory");
	rc = crmp_open(path, &f, g->e);
	if (!rc)
		rc = load_orders(g, m, f, path);
	if (!rc)
		rc = load_spend(g, m, f, path);
	if (!rc && p >= g->tables_from)
		rc = load_surveys(g, m, f, path);
	if (!rc && p >= g->tables_from)
		rc = load_tickets(g, m, f, path);
	if (!rc && p >= g->tables_from)
		rc = load_interactions(g, m, f, path);
	if (!rc && p >= g->tables_from)
		rc = load_leads(g, m, f, path);
	crmp_close(f);
	free(path);
	return rc;
}

/*
 * Loading runs on up to MAX_LOADERS threads, one month file at a time each:
 * decoding is most of the time spent before the month walk. A loader works
 * on a shallow copy of the engine with its own error, out-of-memory flag
 * and unknown-id count; it only reads the shared customer index and
 * writes its own months. What is not thread-safe (interning spend
 * channels, first orders) happens after the join.
 *
 * The calling thread first reads the rest of the customers dimension
 * into the engine itself (load_dimension; the loaders' copies are taken
 * before and never look at what it writes), then joins the others on
 * months: the dimension no longer holds up the first month. Month ps[k]
 * goes to out[k], since the walk's first month depends on the signups.
 */
#define MAX_LOADERS 4

struct loader {
	struct eng local;
	struct crm_err err;
	const int *ps;
	struct month *out;           /* borrowed: out[k] for ps[k] */
	int np, lo, mend, fail_k;    /* months lo..mend are loaded */
	atomic_int *next, *stop;
	pthread_t thread;
	int started;
};

static void *load_worker(void *arg)
{
	struct loader *L = arg;

	while (!atomic_load(L->stop)) {
		int k = atomic_fetch_add(L->next, 1), p;

		if (k >= L->np)
			break;
		/*
		 * Newest month first: months grow with the customer base, and
		 * taking the biggest first leaves small ones to even out the
		 * threads' ends (in month order one thread was left alone with
		 * the biggest month).
		 */
		k = L->np - 1 - k;
		p = L->ps[k];
		if (p < L->lo || p > L->mend)
			continue;
		if (load_month(&L->local, p, &L->out[k])) {
			L->fail_k = k;
			atomic_store(L->stop, 1);
			break;
		}
	}
	return NULL;
}

static int load_months(struct eng *g, struct dim *d, const int *ps, int np, int lo, int mend,
		       struct month *out)
{
	struct loader L[MAX_LOADERS];
	atomic_int next, stop;
	int cpus = cpus_usable(), n = cpus > MAX_LOADERS ? MAX_LOADERS : cpus, i, fail = -1, rc;

	if (n > np)
		n = np > 0 ? np : 1;
	atomic_init(&next, 0);
	atomic_init(&stop, 0);
	for (i = 0; i < n; i++) {
		L[i].local = *g;
		memset(&L[i].err, 0, sizeof(L[i].err));
		L[i].local.e = &L[i].err;
		L[i].local.oom = 0;
		L[i].local.unknown_ids = 0;
		L[i].local.ld_start = NULL;
		L[i].ps = ps;
		L[i].out = out;
		L[i].np = np;
		L[i].lo = lo;
		L[i].mend = mend;
		L[i].fail_k = INT_MAX;
		L[i].next = &next;
		L[i].stop = &stop;
		L[i].started = i > 0 && pthread_create(&L[i].thread, NULL, load_worker, &L[i]) == 0;
	}
	rc = load_dimension(g, d, g->e);
	if (rc)
		atomic_store(&stop, 1);
	for (i = 0; i < n; i++)
		if (!L[i].started)
			load_worker(&L[i]);
	for (i = 0; i < n; i++) {
		if (L[i].started)
			pthread_join(L[i].thread, NULL);
		g->unknown_ids += L[i].local.unknown_ids;
		free(L[i].local.ld_start);
		if (L[i].fail_k != INT_MAX && (fail < 0 || L[i].fail_k < L[fail].fail_k))
			fail = i;
	}
	if (rc) /* the dimension's error first, as when it was read before the months */
		return rc;
	if (fail >= 0) {
		*g->e = L[fail].err;
		return g->e->code ? g->e->code : CRM_E_INTERNAL;
	}
	return 0;
}

/* Period numbers of the YYYY-MM.crmp files, sorted; count in *n. */
static int list_periods(struct eng *g, int **out, int *n)
{
	DIR *d = opendir(g->periods_dir);
	struct dirent *de;
	int *ps = NULL, cap = 0, k = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return err_sys(g->e, CRM_E_INPUT, errno, g->periods_dir,
			       "cannot read the period files (run normalize first)");
	while ((de = readdir(d))) {
		struct crm_err pe = { 0 };
		char text[PERIOD_TEXT_MAX];
		int p;

		if (strlen(de->d_name) != 12 || strcmp(de->d_name + 7, ".crmp"))
			continue;
		memcpy(text, de->d_name, 7);
		text[7] = '\0';
		if (period_parse(text, "file", &p, &pe))
			continue;
		if (k == cap) {
			int *np = realloc(ps, (size_t)(cap ? cap * 2 : 64) * sizeof(*np));

			if (!np) {
				free(ps);
				closedir(d);
				return err_set(g->e, CRM_E_NOMEM, "out of memory");
			}
			ps = np;
			cap = cap ? cap * 2 : 64;
		}
		ps[k++] = p;
	}
	closedir(d);
	for (int i = 1; i < k; i++)
		for (int j = i; j > 0 && ps[j - 1] > ps[j]; j--) {
			int x = ps[j];

			ps[j] = ps[j - 1];
			ps[j - 1] = x;
		}
	*out = ps;
	*n = k;
	return 0;
}

/* ---------------------------------------------------------------- state */

/* In the base at boundary day b, with last_ord holding orders before b. */
static inline int in_base(const struct eng *g, uint32_t i, int32_t b)
{
	int32_t s = g->signup[i], last;

	if (s == NONE_DAY || s >= b)
		return 0;
	if (g->contract[i])
		return g->churn[i] == NONE_DAY || g->churn[i] >= b;
	last = g->last_ord[i] > s ? g->last_ord[i] : s;
	return (int64_t)last + g->cfg->inactivity_days >= b;
}

/* The day a customer out of the base left it. */
static inline int32_t churn_day_of(const struct eng *g, uint32_t i)
{
	int32_t s = g->signup[i], last;

	if (g->contract[i])
		return g->churn[i];
	last = g->last_ord[i] > s ? g->last_ord[i] : s;
	return (int32_t)(last + g->cfg->inactivity_days);
}

/* Add (sign 1) or remove (-1) month m's orders from the trailing-12 sums. */
static void window_apply(struct eng *g, const struct month *m, int sign)
{
	uint32_t r;

	for (r = 0; r < m->n_ord; r++) {
		uint32_t c = m->o_cust[r];

		if (!m->o_refund[r])
			g->f12[c] += (uint32_t)sign;
		g->m12[c] += sign * m->o_amt[r];
		g->np12[c] += sign * (m->o_amt[r] - m->o_cost[r]);
	}
}

/* Advance to month index mi: base at start, orders, base at end, cohorts. */
static void advance(struct eng *g, int mi)
{
	const struct month *m = &g->months[mi];
	int p = g->m0 + mi;
	int32_t b0 = month_first_day(p), b1 = month_first_day(p + 1);
	uint64_t start = 0, churned = 0;
	uint32_t i, r;

	if (mi == 0)
		for (i = 0; i < g->n; i++)
			g->in_start[i] = (uint8_t)in_base(g, i, b0);
	else
		memcpy(g->in_start, g->in_end, g->n);
	for (r = 0; r < m->n_ord; r++) {
		uint32_t c = m->o_cust[r];
		int ci;

		ci = g->cohort[c];
		if (!m->o_refund[r]) {
			if (m->o_day[r] > g->last_ord[c]) {
				g->last_ord[c] = m->o_day[r];
				g->pd_first[(size_t)g->first_pm[c] * (size_t)g->nm + (size_t)mi]++;
			}
			g->m_orders[mi]++;
			g->m_crev[mi] += m->o_amt[r];
			if (ci >= 0 && g->stamp[c] != (uint32_t)mi + 1) {
				g->stamp[c] = (uint32_t)mi + 1;
				g->coh_active[(size_t)ci * (size_t)g->nm + (size_t)mi]++;
			}
		}
		g->m_rev[mi] += m->o_amt[r];
		g->m_cost[mi] += m->o_cost[r];
		if (ci >= 0)
			g->coh_rev[(size_t)ci * (size_t)g->nm + (size_t)mi] += m->o_amt[r];
	}
	window_apply(g, m, 1);
	if (mi >= 12)
		window_apply(g, &g->months[mi - 12], -1);
	for (i = 0; i < g->n; i++) {
		uint8_t in = (uint8_t)in_base(g, i, b1);

		g->in_end[i] = in;
		start += g->in_start[i];
		churned += g->in_start[i] && !in;
		if (in && g->cohort[i] >= 0)
			g->coh_ret[(size_t)g->cohort[i] * (size_t)g->nm + (size_t)mi]++;
	}
	g->m_start[mi] = start;
	g->m_churned[mi] = churned;
}

/* ---------------------------------------------------------------- rows */

static struct row *add_row(struct eng *g, const char *metric, const char *dim, const char *seg,
			   long k)
{
	struct row *r;

	if (g->n_rows == g->cap_rows) {
		size_t cap = g->cap_rows ? g->cap_rows * 2 : 1024;
		struct row *nr = realloc(g->rows, cap * sizeof(*nr));

		if (!nr) {
			g->oom = 1;
			return NULL;
		}
		g->rows = nr;
		g->cap_rows = cap;
	}
	r = &g->rows[g->n_rows++];
	memset(r, 0, sizeof(*r));
	r->metric = metric;
	r->dim = dim;
	r->seg = seg;
	r->k = k;
	return r;
}

static void fmt_int(char *b, int64_t v)
{
	snprintf(b, MET_DOUBLE_TEXT_MAX, "%" PRId64, v);
}

static void fmt_money(char *b, int64_t v)
{
	val_format_money(v, b);
}

static const char *slot_dim(const struct eng *g, uint32_t s)
{
	int d;

	for (d = N_DIMS - 1; d > 0; d--)
		if (s >= g->base[d])
			return dim_names[d];
	return dim_names[0];
}

static const char *slot_seg(const struct eng *g, uint32_t s)
{
	int d;

	for (d = N_DIMS - 1; d > 0; d--)
		if (s >= g->base[d]) {
			uint32_t code = s - g->base[d];

			return d == D_RFM ? met_rfm_name((int)code) : g->dicts[d - 1].names[code];
		}
	return "";
}

static int slot_used(const struct eng *g, uint32_t s)
{
	int d;

	for (d = N_DIMS - 1; d > 0; d--)
		if (s >= g->base[d])
			return d == D_RFM ? 1 : g->dicts[d - 1].has_cust[s - g->base[d]];
	return 1;
}

static void r_count(struct eng *g, const char *metric, uint32_t s, int64_t v)
{
	struct row *r = add_row(g, metric, slot_dim(g, s), slot_seg(g, s), -1);

	if (r)
		fmt_int(r->val, v);
}

static void r_money(struct eng *g, const char *metric, uint32_t s, int64_t v)
{
	struct row *r = add_row(g, metric, slot_dim(g, s), slot_seg(g, s), -1);

	if (r)
		fmt_money(r->val, v);
}

/* A value without numerator and denominator; NAN = null. */
static struct row *r_derived(struct eng *g, const char *metric, const char *dim,
			     const char *seg, long k, double v)
{
	struct row *r = add_row(g, metric, dim, seg, k);

	if (r && !isnan(v))
		met_format_double(v, r->val);
	return r;
}

/* Ratio of counts a / b; prop: a proportion (Wilson interval). */
static struct row *r_ratio(struct eng *g, const char *metric, const char *dim, const char *seg,
			   long k, int64_t a, int64_t b, int prop)
{
	struct row *r = add_row(g, metric, dim, seg, k);

	if (!r)
		return NULL;
	fmt_int(r->num, a);
	fmt_int(r->den, b);
	if (b != 0)
		met_format_double((double)a / (double)b, r->val);
	if (prop && a >= 0 && b > 0 && !met_wilson((uint64_t)a, (uint64_t)b, &r->lo, &r->hi))
		r->has_ci = 1;
	return r;
}

static void r_ratio_s(struct eng *g, const char *metric, uint32_t s, int64_t a, int64_t b,
		      int prop)
{
	r_ratio(g, metric, slot_dim(g, s), slot_seg(g, s), -1, a, b, prop);
}

/* Money a over count b. */
static struct row *r_money_per(struct eng *g, const char *metric, const char *dim,
			       const char *seg, long k, int64_t a, int64_t b)
{
	struct row *r = add_row(g, metric, dim, seg, k);

	if (!r)
		return NULL;
	fmt_money(r->num, a);
	fmt_int(r->den, b);
	if (b != 0)
		met_format_double((double)((long double)a / ((long double)b * 10000.0L)), r->val);
	return r;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int c = strcmp(a->metric, b->metric);

	if (c)
		return c;
	if ((c = strcmp(a->dim, b->dim)))
		return c;
	if ((c = strcmp(a->seg, b->seg)))
		return c;
	return a->k < b->k ? -1 : a->k > b->k;
}

/* ---------------------------------------------------------------- period */

/*
 * Every customer's slots (slot5) and whether it was a customer during the
 * period; and per slot the counts of the customer base. A customer is one
 * of 32 states (in the base at the start, at the end, new, new by
 * referral, reactivated): it adds 1 to its state in each of its five
 * slots, and the states become counts once per slot at the end, instead
 * of nine additions per slot per customer.
 */
#define ST_IN0 1
#define ST_IN1 2
#define ST_NEW 4
#define ST_REFERRED 8
#define ST_REACT 16
#define N_STATES 32

static int base_counts(struct eng *g, int32_t b0, int32_t b1)
{
	uint64_t *hist = calloc((size_t)g->nslots * N_STATES, sizeof(*hist));
	size_t D = g->min_signup < b1 ? (size_t)(b1 - g->min_signup) + 1 : 1;
	uint32_t i, s, *ev, *ce, *maxd;
	int d, st;

	free(g->sv_ev);
	free(g->sv_ce);
	free(g->sv_maxd);
	g->sv_days = D;
	g->sv_ev = calloc((size_t)g->nslots * D, 4);
	g->sv_ce = calloc((size_t)g->nslots * D, 4);
	g->sv_maxd = calloc(g->nslots, 4);
	if (!hist || !g->sv_ev || !g->sv_ce || !g->sv_maxd) {
		free(hist);
		return -1;
	}
	ev = g->sv_ev;
	ce = g->sv_ce;
	maxd = g->sv_maxd;
	memset(g->rfm_cnt, 0, sizeof(g->rfm_cnt));
	memset(g->rfm_mon, 0, sizeof(g->rfm_mon));
	g->rfm_tot = 0;
	for (i = 0; i < g->n; i++) {
		uint32_t *sl = g->slot5 + (size_t)i * N_DIMS;
		int32_t su = g->signup[i];
		int in0 = g->in_start[i], in1 = g->in_end[i], isnew, react;
		uint8_t rfm = g->rfm[i];
		uint32_t *kmc;
		int64_t dur;

		sl[0] = 0;
		for (d = 0; d < 3; d++)
			sl[d + 1] = g->base[d + 1] + g->attr[d][i];
		sl[4] = g->base[D_RFM] + rfm;
		g->during[i] = 0;
		if (su >= b1)
			continue;
		isnew = su >= b0;
		react = su < b0 && !in0 && in1;
		g->during[i] = (uint8_t)(in0 || isnew || react);
		st = in0 * ST_IN0 + in1 * ST_IN1 + isnew * ST_NEW +
		     (isnew && g->referred[i]) * ST_REFERRED + react * ST_REACT;
		/* survival: the duration to the churn day (an event) or to end(P) */
		dur = !in1 ? (int64_t)churn_day_of(g, i) - su : (int64_t)b1 - su;
		if (dur < 0)
			dur = 0;
		if ((size_t)dur >= D)
			dur = (int64_t)D - 1;
		kmc = in1 ? ce : ev;
		for (d = 0; d < N_DIMS; d++) {
			hist[(size_t)sl[d] * N_STATES + (size_t)st]++;
			kmc[(size_t)sl[d] * D + (size_t)dur]++;
			if ((uint32_t)dur > maxd[sl[d]])
				maxd[sl[d]] = (uint32_t)dur;
		}
		g->rfm_cnt[rfm]++;
		if (rfm != MET_RFM_NONE) {
			g->rfm_mon[rfm] += g->m12[i];
			g->rfm_tot += g->m12[i];
		}
	}
	for (s = 0; s < g->nslots; s++)
		for (st = 0; st < N_STATES; st++) {
			uint64_t k = hist[(size_t)s * N_STATES + (size_t)st];
			struct acc *a = &g->acc[s];
			int in0 = !!(st & ST_IN0), in1 = !!(st & ST_IN1), isnew = !!(st & ST_NEW);
			int react = !!(st & ST_REACT);

			if (!k)
				continue;
			a->exist += k;
			a->start += k * (uint64_t)in0;
			a->end += k * (uint64_t)in1;
			a->churned += k * (uint64_t)(in0 && !in1);
			a->retained += k * (uint64_t)(in0 && in1);
			a->new_ += k * (uint64_t)isnew;
			a->referred_new += k * (uint64_t)!!(st & ST_REFERRED);
			a->react += k * (uint64_t)react;
			a->during += k * (uint64_t)(in0 || isnew || react);
		}
	free(hist);
	return 0;
}

static inline void acc_add(struct eng *g, uint32_t c, size_t off, uint64_t v)
{
	const uint32_t *sl = g->slot5 + (size_t)c * N_DIMS;
	int d;

	for (d = 0; d < N_DIMS; d++)
		*(uint64_t *)((char *)&g->acc[sl[d]] + off) += v;
}

static inline void acc_add_money(struct eng *g, uint32_t c, size_t off, int64_t v)
{
	const uint32_t *sl = g->slot5 + (size_t)c * N_DIMS;
	int d;

	for (d = 0; d < N_DIMS; d++)
		*(int64_t *)((char *)&g->acc[sl[d]] + off) += v;
}

#define ADD(c, field, v) acc_add(g, c, offsetof(struct acc, field), (uint64_t)(v))
#define ADDM(c, field, v) acc_add_money(g, c, offsetof(struct acc, field), (int64_t)(v))

/* RFM scores and segments at end(P): the walk has applied P's orders. */
static int compute_rfm(struct eng *g)
{
	uint32_t n = 0, i, j, *who = NULL, *idx = NULL;
	uint64_t *keys = NULL;
	uint8_t *sc = NULL;
	int rc = -1, pass;

	memset(g->rs, 0, g->n);
	memset(g->fs, 0, g->n);
	memset(g->ms, 0, g->n);
	for (i = 0; i < g->n; i++) {
		g->rfm[i] = MET_RFM_NONE;
		n += g->f12[i] > 0;
	}
	who = malloc((size_t)(n ? n : 1) * 4);
	idx = malloc((size_t)(n ? n : 1) * 4);
	keys = malloc((size_t)(n ? n : 1) * 8);
	sc = malloc(n ? n : 1);
	if (!who || !idx || !keys || !sc)
		goto out;
	for (i = 0, j = 0; i < g->n; i++)
		if (g->f12[i] > 0)
			who[j++] = i;
	for (pass = 0; pass < 3; pass++) {
		for (j = 0; j < n; j++) {
			uint32_t c = who[j];

			if (pass == 0) /* R: most days first = smallest last day first */
				keys[j] = (uint64_t)((int64_t)g->last_ord[c] - INT32_MIN);
			else if (pass == 1)
				keys[j] = g->f12[c];
			else
				keys[j] = (uint64_t)g->m12[c] ^ (1ULL << 63);
		}
		if (met_rfm_scores(keys, n, idx, sc))
			goto out;
		for (j = 0; j < n; j++)
			(pass == 0 ? g->rs : pass == 1 ? g->fs : g->ms)[who[j]] = sc[j];
	}
	for (j = 0; j < n; j++) {
		uint32_t c = who[j];

		g->rfm[c] = (uint8_t)met_rfm_segment(g->rs[c], g->fs[c]);
	}
	rc = 0;
out:
	free(who);
	free(idx);
	free(keys);
	free(sc);
	return rc;
}

static const char *const funnel_names[6] = {
	"funnel_lead", "funnel_mql", "funnel_sql", "funnel_opportunity", "funnel_won",
	"funnel_lost"
};
static const char *const funnel_conv[6] = {
	NULL, "funnel_mql_conversion", "funnel_sql_conversion",
	"funnel_opportunity_conversion", "funnel_won_conversion", NULL
};

static void surv_row(struct eng *g, const char *dim, const char *seg, size_t k,
		     const double *sv, const double *gw, size_t D)
{
	size_t at = k < D ? k : D - 1;
	double S = sv[at], se = S * sqrt(gw[at]);
	struct row *r = r_derived(g, "survival", dim, seg, (long)k, S);

	if (r) {
		r->has_ci = 1;
		r->lo = S - 1.959963984540054 * se;
		r->hi = S + 1.959963984540054 * se;
		if (r->lo < 0)
			r->lo = 0;
		if (r->hi > 1)
			r->hi = 1;
	}
}

/* Survival rows and median lifetime for every slot, from base_counts' counts. */
static int survival_rows(struct eng *g)
{
	size_t D = g->sv_days, s, t;
	const uint32_t *ev = g->sv_ev, *ce = g->sv_ce, *maxd = g->sv_maxd;
	double *sv = malloc(D * sizeof(double)), *gw = malloc(D * sizeof(double));
	int rc = -1;

	if (!sv || !gw || !ev)
		goto out;
	for (s = 0; s < g->nslots; s++) {
		const char *dim = slot_dim(g, (uint32_t)s), *seg = slot_seg(g, (uint32_t)s);
		double med = NAN;

		if (!slot_used(g, (uint32_t)s))
			continue;
		if (!g->acc[s].exist) {
			r_derived(g, "median_lifetime_days", dim, seg, -1, NAN);
			continue;
		}
		met_km(ev + s * D, ce + s * D, D, sv, gw);
		for (t = 0; t < D; t++)
			if (ev[s * D + t] && sv[t] <= 0.5) {
				med = (double)t;
				break;
			}
		r_derived(g, "median_lifetime_days", dim, seg, -1, med);
		for (t = 30; t <= maxd[s]; t += 30)
			surv_row(g, dim, seg, t, sv, gw, D);
		surv_row(g, dim, seg, 365, sv, gw, D);
		surv_row(g, dim, seg, 730, sv, gw, D);
	}
	rc = 0;
out:
	free(sv);
	free(gw);
	return rc;
}

/* ---------------------------------------------------------------- output */

static void bputs(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

static void csv_field(struct buf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		bputs(b, s);
		return;
	}
	buf_put_u8(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			buf_put_u8(b, '"');
		buf_put_u8(b, (unsigned char)*s);
	}
	buf_put_u8(b, '"');
}

static void json_str(struct buf *b, const char *s)
{
	buf_put_u8(b, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf_put_u8(b, '\\');
			buf_put_u8(b, ch);
		} else if (ch < 0x20) {
			char t[8];

			snprintf(t, sizeof(t), "\\u%04x", ch);
			bputs(b, t);
		} else {
			buf_put_u8(b, ch);
		}
	}
	buf_put_u8(b, '"');
}

static void json_num(struct buf *b, const char *s)
{
	bputs(b, *s ? s : "null");
}

static int write_file(struct eng *g, const char *name, struct buf *b)
{
	char *path;
	int rc;

	if (b->failed)
		return err_set(g->e, CRM_E_NOMEM, "output '%s' too large or out of memory", name);
	if (!(path = join(g->metrics_dir, name)))
		return err_set(g->e, CRM_E_NOMEM, "out of memory");
	rc = fsx_write_atomic(path, b->data ? (const void *)b->data : "", b->len, g->e);
	free(path);
	return rc;
}

static int write_rows(struct eng *g, const char *ptext)
{
	struct buf csv, js;
	char name[PERIOD_TEXT_MAX + 8], t[MET_DOUBLE_TEXT_MAX];
	size_t i;
	int rc;

	buf_init(&csv, OUT_MAX);
	buf_init(&js, OUT_MAX);
	bputs(&csv, "period,metric,dim,segment,k,value,numerator,denominator\n");
	bputs(&js, "{\"period\":\"");
	bputs(&js, ptext);
	bputs(&js, "\",\"rows\":[\n");
	for (i = 0; i < g->n_rows; i++) {
		const struct row *r = &g->rows[i];

		bputs(&csv, ptext);
		buf_put_u8(&csv, ',');
		bputs(&csv, r->metric);
		buf_put_u8(&csv, ',');
		bputs(&csv, r->dim);
		buf_put_u8(&csv, ',');
		csv_field(&csv, r->seg);
		buf_put_u8(&csv, ',');
		if (r->k >= 0) {
			snprintf(t, sizeof(t), "%ld", r->k);
			bputs(&csv, t);
		}
		buf_put_u8(&csv, ',');
		bputs(&csv, r->val);
		buf_put_u8(&csv, ',');
		bputs(&csv, r->num);
		buf_put_u8(&csv, ',');
		bputs(&csv, r->den);
		buf_put_u8(&csv, '\n');

		bputs(&js, i ? ",\n{\"metric\":" : "{\"metric\":");
		json_str(&js, r->metric);
		bputs(&js, ",\"dim\":");
		json_str(&js, r->dim);
		bputs(&js, ",\"segment\":");
		json_str(&js, r->seg);
		bputs(&js, ",\"k\":");
		if (r->k >= 0) {
			snprintf(t, sizeof(t), "%ld", r->k);
			bputs(&js, t);
		} else {
			bputs(&js, "null");
		}
		bputs(&js, ",\"value\":");
		json_num(&js, r->val);
		bputs(&js, ",\"numerator\":");
		json_num(&js, r->num);
		bputs(&js, ",\"denominator\":");
		json_num(&js, r->den);
		if (r->has_ci) {
			bputs(&js, ",\"low\":");
			met_format_double(r->lo, t);
			json_num(&js, t);
			bputs(&js, ",\"high\":");
			met_format_double(r->hi, t);
			json_num(&js, t);
		}
		buf_put_u8(&js, '}');
	}
	bputs(&js, "\n]}\n");
	snprintf(name, sizeof(name), "%s.csv", ptext);
	{
		/* A restatement: the period's numbers changed since the last run. */
		char *path = join(g->metrics_dir, name);

		if (path && access(path, F_OK) == 0 && !csv.failed &&
		    !fsx_same_content(path, csv.data ? (const void *)csv.data : "", csv.len)) {
			log_warn("compute: %s restated: its metrics differ from the last run", ptext);
			g->restated++;
		}
		free(path);
	}
	rc = write_file(g, name, &csv);
	snprintf(name, sizeof(name), "%s.json", ptext);
	if (!rc)
		rc = write_file(g, name, &js);
	buf_release(&csv);
	buf_release(&js);
	return rc;
}

/* Bytes of the per-customer file formatted before they are written out. */
#define CUST_CHUNK ((size_t)1 << 20)

/*
 * Texts the per-customer file repeats in every period, made once per run
 * (ctext_make): a day's date, a customer's id, a segment value's CSV
 * field. Formatting them anew for a million customers a month cost more
 * than the rest of the line.
 */
#define DAY_TEXT_MAX ((int64_t)1 << 17) /* days in the date table (~359 years) */
#define ID_QUOTED UINT16_MAX           /* id_len: the id needs quotes (csv_field) */

#define SHORT_PAD 16 /* put_short's one copy: bytes readable at its source */
#define WEEK_TEXT_PAD 16 /* a t_x or T text of the table, zero-padded (put_weeks) */
#define RFM_PAD 32   /* an RFM segment name with its padding */

struct ctext {
	char *day;           /* 10 bytes per day from day_lo: YYYY-MM-DD */
	int32_t day_lo;
	uint32_t day_n;
	uint16_t *id_len;    /* per customer: length of its id, or ID_QUOTED */
	struct buf dims;     /* every segment value's CSV field, escaped, then SHORT_PAD zeros */
	size_t *dim_off[3];  /* value j of dimension k: dims[off[j], off[j + 1]) */
	size_t dim_max;      /* bytes of the longest of those fields */
	char rfm[MET_RFM_NONE + 1][RFM_PAD]; /* segment names, zero-padded */
	uint8_t rfm_len[MET_RFM_NONE + 1];
	char (*weeks)[WEEK_TEXT_PAD]; /* d / 7 with 4 decimals for d = 0 .. weeks_n - 1 days */
	uint8_t *weeks_len;
	uint32_t weeks_n;
};

static void ctext_release(struct ctext *t)
{
	int k;

	free(t->day);
	free(t->id_len);
	free(t->weeks);
	free(t->weeks_len);
	buf_release(&t->dims);
	for (k = 0; k < 3; k++)
		free(t->dim_off[k]);
	memset(t, 0, sizeof(*t));
}

/* Dates of the days from the earliest signup to the last month's end plus the inactivity window. */
static int ctext_days(const struct eng *g, struct ctext *t)
{
	int32_t lo = NONE_DAY;
	int64_t hi = (int64_t)month_first_day(g->m0 + g->nm) + g->cfg->inactivity_days, d;
	uint32_t i;

	for (i = 0; i < g->n; i++)
		if (g->signup[i] < lo)
			lo = g->signup[i];
	if (lo == NONE_DAY || hi < lo)
		return 0;
	t->day_lo = lo;
	t->day_n = (uint32_t)(hi - lo + 1 < DAY_TEXT_MAX ? hi - lo + 1 : DAY_TEXT_MAX);
	if (!(t->day = malloc((size_t)t->day_n * 10 + 1)))
		return -1;
	for (d = 0; d < t->day_n; d++)
		val_format_day((int32_t)(lo + d), t->day + d * 10); /* its NUL is overwritten */
	return 0;
}

/*
 * The texts of t_x and T, whole days over 7 with 4 decimals, for the day
 * counts the dates cover (the earliest signup to the last month's end):
 * the same val_put_fixed() the line would call, made once per run. Only
 * texts that fit WEEK_TEXT_PAD bytes are kept (all of them, short of
 * 10^10 weeks).
 */
static int ctext_weeks(struct ctext *t)
{
	uint32_t d;
	char tmp[64];

	if (!t->day_n)
		return 0;
	t->weeks = calloc(t->day_n, sizeof(*t->weeks));
	t->weeks_len = malloc(t->day_n);
	if (!t->weeks || !t->weeks_len)
		return -1;
	for (d = 0; d < t->day_n; d++) {
		size_t len = val_put_fixed(tmp, (double)d / 7.0, 4);

		if (len >= WEEK_TEXT_PAD)
			break;
		memcpy(t->weeks[d], tmp, len);
		t->weeks_len[d] = (uint8_t)len;
	}
	t->weeks_n = d;
	return 0;
}

static int ctext_make(const struct eng *g, struct ctext *t)
{
	uint32_t i, j;
	int k;

	if (ctext_days(g, t) || ctext_weeks(t) ||
	    !(t->id_len = malloc((g->n ? g->n : 1) * sizeof(*t->id_len))))
		return -1;
	for (i = 0; i < g->n; i++) {
		const char *id = g->ids.dict[g->ids.codes[i]];
		size_t len = strlen(id);

		t->id_len[i] = strpbrk(id, ",\"\r\n") || len >= ID_QUOTED ? ID_QUOTED : (uint16_t)len;
	}
	buf_init(&t->dims, OUT_MAX);
	for (k = 0; k < 3; k++) {
		if (!(t->dim_off[k] = malloc((g->dicts[k].n + 1) * sizeof(size_t))))
			return -1;
		for (j = 0; j < g->dicts[k].n; j++) {
			t->dim_off[k][j] = t->dims.len;
			csv_field(&t->dims, g->dicts[k].names[j]);
			if (t->dims.len - t->dim_off[k][j] > t->dim_max)
				t->dim_max = t->dims.len - t->dim_off[k][j];
		}
		t->dim_off[k][j] = t->dims.len;
	}
	buf_append(&t->dims, (char[SHORT_PAD]){ 0 }, SHORT_PAD);
	for (k = 0; k <= MET_RFM_NONE; k++) {
		const char *name = met_rfm_name(k);
		size_t len = strlen(name);

		if (len >= RFM_PAD)
			CRM_BUG("rfm segment name '%s' longer than RFM_PAD", name);
		memcpy(t->rfm[k], name, len);
		t->rfm_len[k] = (uint8_t)len;
	}
	return t->dims.failed ? -1 : 0;
}

/* The date of day d at p (10 bytes, no NUL). */
static size_t put_date(const struct ctext *t, int32_t d, char *p)
{
	if (d >= t->day_lo && (int64_t)d - t->day_lo < t->day_n) {
		memcpy(p, t->day + ((size_t)d - (size_t)t->day_lo) * 10, 10);
		return 10;
	}
	return val_format_day(d, p);
}

/*
 * Whole days d over 7 with 4 decimals at p (t_x and T), from the table
 * when it has d: one fixed copy (p has room for 21 bytes, put_line).
 */
static inline size_t put_weeks(const struct ctext *t, int64_t d, char *p)
{
	if (d >= 0 && d < t->weeks_n) {
		memcpy(p, t->weeks[d], WEEK_TEXT_PAD);
		return t->weeks_len[d];
	}
	return val_put_fixed(p, (double)d / 7.0, 4);
}

/* ",x,t_x,T,mean_spend,expected_purchases,p_alive,clv_predicted" of customer i. */
static size_t put_clv(const struct eng *g, uint32_t i, int32_t b1, char *t)
{
	const struct met_clv_res *c = &g->clv;
	uint32_t days = c->days[i];
	size_t o = 0;

	if (!days) {
		memcpy(t, ",,,,,,,", 7);
		return 7;
	}
	t[o++] = ',';
	o += val_put_u64(t + o, days - 1);
	t[o++] = ',';
	o += put_weeks(g->text, (int64_t)g->last_ord[i] - g->first_ord[i], t + o);
	t[o++] = ',';
	o += put_weeks(g->text, (int64_t)b1 - 1 - g->first_ord[i], t + o);
	t[o++] = ',';
	o += val_put_fixed(t + o, c->mean_spend[i], 4);
	t[o++] = ',';
	o += val_put_fixed(t + o, c->expected[i], 4);
	t[o++] = ',';
	o += val_put_fixed(t + o, c->p_alive[i], 4);
	t[o++] = ',';
	o += val_put_fixed(t + o, c->value[i], 2);
	return o;
}

/*
 * The n bytes of s at p, in one copy of SHORT_PAD bytes when n fits: a
 * memcpy of variable length is a library call, as long as the copy for
 * the few bytes of a segment value. s must have SHORT_PAD readable bytes
 * and p room for SHORT_PAD (the line's reservation, put_line).
 */
static inline char *put_short(char *p, const unsigned char *s, size_t n)
{
	if (n <= SHORT_PAD)
		memcpy(p, s, SHORT_PAD);
	else
		memcpy(p, s, n);
	return p + n;
}

/*
 * The most a line takes after its id and segment values: 22 commas and the
 * newline, 2 dates (10, and a NUL val_format_day writes past one), recency
 * (20), frequency (10), 3 amounts (21), 3 scores, the segment name
 * (RFM_PAD), x (10), 5 decimals of 4 places (21) and 1 of 2 (19): 306.
 */
#define CUST_TAIL_MAX 320

/* ",signup_day,in_base,churn_day,recency_days,frequency,monetary,r,f,m," of customer i. */
static char *put_activity(const struct eng *g, uint32_t i, int32_t b1, char *p)
{
	const struct ctext *ct = g->text;

	*p++ = ',';
	p += put_date(ct, g->signup[i], p);
	*p++ = ',';
	*p++ = g->in_end[i] ? '1' : '0';
	*p++ = ',';
	if (!g->in_end[i])
		p += put_date(ct, churn_day_of(g, i), p);
	*p++ = ',';
	if (g->f12[i] == 0) {
		memcpy(p, ",0,0.00,,,,", 11);
		return p + 11;
	}
	p += val_put_i64(p, (int64_t)b1 - g->last_ord[i]);
	*p++ = ',';
	p += val_put_u64(p, g->f12[i]);
	*p++ = ',';
	p += val_put_money(p, g->m12[i]);
	p[0] = ',';
	p[1] = (char)('0' + g->rs[i]);
	p[2] = ',';
	p[3] = (char)('0' + g->fs[i]);
	p[4] = ',';
	p[5] = (char)('0' + g->ms[i]);
	p[6] = ',';
	return p + 7;
}

/*
 * Customer i's line, formatted straight into b: one reservation for the
 * whole line, then no bounds to check (sizes above). On failure b->failed
 * is set.
 */
static void put_line(const struct eng *g, uint32_t i, int32_t b1, struct buf *b)
{
	const struct ctext *ct = g->text;
	const char *id = g->ids.dict[g->ids.codes[i]];
	size_t need = 3 * (1 + ct->dim_max + SHORT_PAD) + CUST_TAIL_MAX;
	uint8_t rfm = g->rfm[i] <= MET_RFM_NONE ? g->rfm[i] : MET_RFM_NONE; /* as met_rfm_name */
	char *p;
	int k;

	if (ct->id_len[i] == ID_QUOTED)
		csv_field(b, id);
	else
		need += ct->id_len[i];
	if (buf_reserve(b, need))
		return;
	p = (char *)b->data + b->len;
	if (ct->id_len[i] != ID_QUOTED) {
		memcpy(p, id, ct->id_len[i]);
		p += ct->id_len[i];
	}
	for (k = 0; k < 3; k++) {
		const size_t *off = ct->dim_off[k] + g->attr[k][i];

		*p++ = ',';
		p = put_short(p, ct->dims.data + off[0], off[1] - off[0]);
	}
	p = put_activity(g, i, b1, p);
	memcpy(p, ct->rfm[rfm], RFM_PAD); /* one fixed copy, as in put_short */
	p += ct->rfm_len[rfm];
	*p++ = ',';
	p += val_put_money(p, g->m12[i]);
	*p++ = ',';
	p += val_put_money(p, g->np12[i]);
	p += put_clv(g, i, b1, p);
	*p++ = '\n';
	b->len = (size_t)((unsigned char *)p - b->data);
}

/*
 * <P>-customers.csv: every customer existing at end(P), by customer_id.
 * Formatted by hand (no printf): with a million customers and 24 periods
 * this file is most of what compute writes. It goes out in pieces of
 * CUST_CHUNK through `out`, which the writer keeps from month to month: a
 * whole file in memory was 57 MB more at the peak, in fresh pages every
 * month.
 */
static int write_customers(struct eng *g, const char *ptext, int32_t b1, struct buf *out)
{
	struct buf b = *out;
	struct fsx_atomic a;
	char name[PERIOD_TEXT_MAX + 16], *path;
	uint32_t i;
	int rc;

	snprintf(name, sizeof(name), "%s-customers.csv", ptext);
	if (!(path = join(g->metrics_dir, name)))
		return err_set(g->e, CRM_E_NOMEM, "out of memory");
	rc = fsx_atomic_open(&a, path, g->e);
	free(path);
	if (rc)
		return rc;
	buf_clear(&b);
	bputs(&b, "customer_id,channel,region,tier,signup_day,in_base,churn_day,recency_days,"
		  "frequency,monetary,r_score,f_score,m_score,rfm_segment,revenue_12m,"
		  "net_profit_12m,x,t_x,T,mean_spend,expected_purchases,p_alive,"
		  "clv_predicted\n");
	for (i = 0; i < g->n && !b.failed; i++) {
		if (g->signup[i] >= b1)
			continue;
		put_line(g, i, b1, &b);
		if (b.len >= CUST_CHUNK && !b.failed) {
			if ((rc = fsx_atomic_write(&a, b.data, b.len, g->e)))
				break;
			buf_clear(&b);
		}
	}
	if (rc == 0 && b.failed) {
		fsx_atomic_abort(&a);
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory writing '%s'", name);
	}
	if (rc == 0 && (rc = fsx_atomic_write(&a, b.data ? (const void *)b.data : "", b.len, g->e)) == 0)
		rc = fsx_atomic_commit(&a, g->e);
	*out = b;
	return rc;
}

/*
 * The files of period P are formatted and written on their own thread
 * while the walk goes on to P+1: the per-customer file is the biggest
 * output, and the walk only needs a snapshot of the few per-customer
 * arrays that change from month to month; the metric rows (their sort,
 * the restatement check and two synced files) take the rows themselves,
 * whose buffer the engine and the writer swap. One period is in flight
 * at a time.
 */
struct cwriter {
	struct eng local;            /* shallow copy pointing at the snapshot */
	struct crm_err err;
	char ptext[PERIOD_TEXT_MAX];
	int32_t b1;
	pthread_t thread;
	int running, rc;
	uint8_t *in_end, *rs, *fs, *ms, *rfm;
	int32_t *last_ord;
	uint32_t *f12;
	int64_t *m12, *np12;
	struct met_clv_res clv;      /* taken over from the engine */
	struct row *rows;            /* taken over from the engine: the period's rows */
	size_t n_rows, cap_rows;
	struct buf out;              /* the file's text, reused month to month */
	struct ctext text;           /* made by the first cw_start */
};

static void *cw_main(void *arg)
{
	struct cwriter *w = arg;

	qsort(w->local.rows, w->local.n_rows, sizeof(*w->local.rows), cmp_rows);
	w->rc = write_rows(&w->local, w->ptext);
	if (!w->rc)
		w->rc = write_customers(&w->local, w->ptext, w->b1, &w->out);
	return NULL;
}

/* Wait for the file in flight; its error becomes ours (unless we have one). */
static int cw_wait(struct eng *g, struct cwriter *w)
{
	if (!w->running)
		return 0;
	pthread_join(w->thread, NULL);
	w->running = 0;
	g->restated += w->local.restated;
	w->local.restated = 0;
	if (w->rc) {
		if (!g->e->code)
			*g->e = w->err;
		return w->rc;
	}
	return 0;
}

static void cw_release(struct cwriter *w)
{
	free(w->in_end);
	free(w->rs);
	free(w->fs);
	free(w->ms);
	free(w->rfm);
	free(w->last_ord);
	free(w->f12);
	free(w->m12);
	free(w->np12);
	met_clv_res_release(&w->clv);
	free(w->rows);
	buf_release(&w->out);
	ctext_release(&w->text);
}

static int cw_start(struct eng *g, struct cwriter *w, const char *ptext, int32_t b1)
{
	size_t n = g->n;
	int rc = cw_wait(g, w);

	if (rc)
		return rc;
	if (!w->in_end) {
		w->in_end = malloc(n ? n : 1);
		w->rs = malloc(n ? n : 1);
		w->fs = malloc(n ? n : 1);
		w->ms = malloc(n ? n : 1);
		w->rfm = malloc(n ? n : 1);
		w->last_ord = malloc((n ? n : 1) * 4);
		w->f12 = malloc((n ? n : 1) * 4);
		w->m12 = malloc((n ? n : 1) * 8);
		w->np12 = malloc((n ? n : 1) * 8);
		if (!w->in_end || !w->rs || !w->fs || !w->ms || !w->rfm || !w->last_ord ||
		    !w->f12 || !w->m12 || !w->np12 || ctext_make(g, &w->text))
			return err_set(g->e, CRM_E_NOMEM, "out of memory");
	}
	memcpy(w->in_end, g->in_end, n);
	memcpy(w->rs, g->rs, n);
	memcpy(w->fs, g->fs, n);
	memcpy(w->ms, g->ms, n);
	memcpy(w->rfm, g->rfm, n);
	memcpy(w->last_ord, g->last_ord, n * 4);
	memcpy(w->f12, g->f12, n * 4);
	memcpy(w->m12, g->m12, n * 8);
	memcpy(w->np12, g->np12, n * 8);
	met_clv_res_release(&w->clv);
	w->clv = g->clv;
	memset(&g->clv, 0, sizeof(g->clv));
	{
		struct row *r = w->rows;
		size_t cap = w->cap_rows;

		w->rows = g->rows;
		w->cap_rows = g->cap_rows;
		w->n_rows = g->n_rows;
		g->rows = r;
		g->cap_rows = cap;
		g->n_rows = 0;
	}
	w->local = *g;
	w->local.rows = w->rows;
	w->local.n_rows = w->n_rows;
	w->local.cap_rows = w->cap_rows;
	w->local.restated = 0;
	memset(&w->err, 0, sizeof(w->err));
	w->local.e = &w->err;
	w->local.in_end = w->in_end;
	w->local.rs = w->rs;
	w->local.fs = w->fs;
	w->local.ms = w->ms;
	w->local.rfm = w->rfm;
	w->local.last_ord = w->last_ord;
	w->local.f12 = w->f12;
	w->local.m12 = w->m12;
	w->local.np12 = w->np12;
	w->local.clv = w->clv;
	w->local.text = &w->text;
	memcpy(w->ptext, ptext, PERIOD_TEXT_MAX);
	w->b1 = b1;
	w->rc = 0;
	if (pthread_create(&w->thread, NULL, cw_main, w) == 0) {
		w->running = 1;
		return 0;
	}
	cw_main(w); /* no thread: write it now */
	if (w->rc)
		*g->e = w->err;
	return w->rc;
}

/* ---------------------------------------------------------------- CLV */

/*
 * Means per modelled customer of the predictions, per slot (NAN values
 * skipped): clv_predicted, p_alive and expected_purchases in one pass
 * over the customers. sum and cnt hold 3 x nslots each. Each slot's sums
 * still run in customer order.
 */
static void clv_means(struct eng *g, const struct met_clv_res *c, double *sum, uint64_t *cnt)
{
	static const char *const metric[3] = { "clv_predicted", "p_alive", "expected_purchases" };
	const double *v[3] = { c->value, c->p_alive, c->expected };
	size_t ns = g->nslots;
	uint32_t i, s;
	double all[3] = { 0, 0, 0 };
	uint64_t n_all[3] = { 0, 0, 0 };
	int d, k;

	memset(sum, 0, 3 * ns * sizeof(*sum));
	memset(cnt, 0, 3 * ns * sizeof(*cnt));
	/*
	 * Slot 0 (all) takes every customer: its sums stay in registers
	 * (through memory, each add waited for the last one's store) and go
	 * to sum[] at the end, the same additions in the same order.
	 */
	for (i = 0; i < g->n; i++) {
		const uint32_t *sl = g->slot5 + (size_t)i * N_DIMS;

		for (k = 0; k < 3; k++) {
			double x = v[k][i];

			if (isnan(x))
				continue;
			all[k] += x;
			n_all[k]++;
			for (d = 1; d < N_DIMS; d++) {
				sum[k * ns + sl[d]] += x;
				cnt[k * ns + sl[d]]++;
			}
		}
	}
	for (k = 0; k < 3; k++) {
		sum[k * ns] = all[k];
		cnt[k * ns] = n_all[k];
	}
	for (k = 0; k < 3; k++)
		for (s = 0; s < ns; s++) {
			const double *su = sum + k * ns;
			const uint64_t *cn = cnt + k * ns;
			struct row *rw;

			if (s != 0 && !cn[s])
				continue;
			rw = r_derived(g, metric[k], slot_dim(g, s), slot_seg(g, s), -1,
				       cn[s] ? su[s] / (double)cn[s] : NAN);
			if (rw && cn[s]) {
				met_format_double(su[s], rw->num);
				fmt_int(rw->den, (int64_t)cn[s]);
			}
		}
}

/*
 * Actual purchase days in months P-k+1..P of the customers whose first
 * purchase came before month P-k+1: the report sets them against the
 * forecast made at P-k (a holdout of k months).
 */
static void clv_holdout_rows(struct eng *g, int mi)
{
	int k, j, f;

	for (k = 1; k <= 12 && k <= mi; k++) {
		uint64_t n = 0;
		struct row *rw;

		for (j = mi - k + 1; j <= mi; j++)
			for (f = 0; f <= mi - k; f++)
				n += g->pd_first[(size_t)f * (size_t)g->nm + (size_t)j];
		rw = add_row(g, "clv_holdout_actual", "all", "", k);
		if (rw)
			fmt_int(rw->val, (int64_t)n);
	}
}

/*
 * Add months g->clv_mi .. mi's completed orders to the CLV purchase
 * history, once the fits in flight have their copy of it.
 */
static void clv_history_to(struct eng *g, int mi)
{
	if (g->clv_mi <= mi) {
		if (g->fit_cur)
			met_clv_wait_inputs(g->fit_cur);
		if (g->fit_next)
			met_clv_wait_inputs(g->fit_next);
	}
	for (; g->clv_mi <= mi; g->clv_mi++) {
		const struct month *m = &g->months[g->clv_mi];
		uint32_t r;

		/* as advance() does with last_ord, so the history is the walk's */
		for (r = 0; r < m->n_ord; r++) {
			uint32_t c = m->o_cust[r];
			int32_t day = m->o_day[r];

			if (m->o_refund[r])
				continue;
			met_clv_hist_add(&g->clvh, c, day, g->clv_last[c], g->first_ord[c],
					 m->o_amt[r], m->o_cost[r]);
			if (day > g->clv_last[c])
				g->clv_last[c] = day;
		}
	}
}

/* Start the fits of month index mi (met_clv_start: they make their own copy of the inputs). */
static int clv_start(struct eng *g, int mi, struct met_clv_job **job)
{
	struct met_clv_cache cache = { NULL, g->fits_salt, g->fits_reuse };
	char path[4200];

	if (g->fits_dir &&
	    (size_t)snprintf(path, sizeof(path), "%s/%s.fit", g->fits_dir, g->mtext[mi]) < sizeof(path))
		cache.path = path;
	clv_history_to(g, mi);
	return met_clv_start(&g->clvh, g->first_ord, g->clv_last, g->n,
			     month_first_day(g->m0 + mi + 1) - 1, g->cfg->clv_horizon_months,
			     g->cfg->clv_discount_rate, g->mtext[mi], &cache, job, g->e);
}

/*
 * Before period mi is computed: its fits are running (started with the
 * previous period's, or now), and so are those of the next period to be
 * computed, if any (last: the last month index computed). Much of a fit is
 * serial (BFGS steps, line searches, sorts), so with two periods' fits in
 * flight both CPUs keep working; each job has its own inputs and the fits
 * are deterministic, so the outputs do not depend on the scheduling.
 */
static int clv_fits_ahead(struct eng *g, int mi, int last)
{
	int rc;

	if (!g->fit_cur) {
		g->fit_cur = g->fit_next;
		g->fit_next = NULL;
	}
	if (!g->fit_cur && (rc = clv_start(g, mi, &g->fit_cur)))
		return rc;
	if (mi < last && (rc = clv_start(g, mi + 1, &g->fit_next)))
		return rc;
	return 0;
}

/* The fits of the period being computed into g->clv; their error becomes ours. */
static int clv_wait(struct eng *g)
{
	struct crm_err fe = { 0 };
	int rc;

	met_clv_res_release(&g->clv);
	if (!g->fit_cur)
		return err_set(g->e, CRM_E_INTERNAL, "no clv fits started");
	rc = met_clv_finish(g->fit_cur, &g->clv, &fe);
	g->fit_cur = NULL;
	if (rc && !g->e->code)
		*g->e = fe;
	return rc;
}

/* After an error: wait for the fits in flight and drop them. */
static void clv_drop(struct eng *g)
{
	if (g->fit_cur)
		met_clv_drop(g->fit_cur);
	if (g->fit_next)
		met_clv_drop(g->fit_next);
	g->fit_cur = g->fit_next = NULL;
}

/* Add the rows of METRICS.md's clv_predicted from the period's fits (clv_wait). */
static int clv_rows(struct eng *g, int mi)
{
	struct met_clv_res *c = &g->clv;
	const struct clv_bgnbd *bg = &c->bg;
	const struct clv_gg *gg = &c->gg;
	double *sum = NULL;
	uint64_t *cnt = NULL;
	int k;

	r_derived(g, "bgnbd_r", "all", "", -1, c->fitted ? bg->r : NAN);
	r_derived(g, "bgnbd_alpha", "all", "", -1, c->fitted ? bg->alpha : NAN);
	r_derived(g, "bgnbd_a", "all", "", -1, c->fitted ? bg->a : NAN);
	r_derived(g, "bgnbd_b", "all", "", -1, c->fitted ? bg->b : NAN);
	r_derived(g, "bgnbd_ll", "all", "", -1, c->fitted ? bg->ll : NAN);
	r_derived(g, "gg_p", "all", "", -1, c->gg_fitted ? gg->p : NAN);
	r_derived(g, "gg_q", "all", "", -1, c->gg_fitted ? gg->q : NAN);
	r_derived(g, "gg_gamma", "all", "", -1, c->gg_fitted ? gg->gamma : NAN);
	r_derived(g, "gg_ll", "all", "", -1, c->gg_fitted ? gg->ll : NAN);
	for (k = 1; k <= c->horizon; k++)
		r_derived(g, "clv_forecast_purchases", "all", "", k, c->fitted ? c->forecast[k] : NAN);
	clv_holdout_rows(g, mi);
	sum = malloc(3 * g->nslots * sizeof(*sum));
	cnt = malloc(3 * g->nslots * sizeof(*cnt));
	if (!sum || !cnt) {
		free(sum);
		free(cnt);
		return err_set(g->e, CRM_E_NOMEM, "out of memory");
	}
	clv_means(g, c, sum, cnt);
	free(sum);
	free(cnt);
	return 0;
}

/* ---------------------------------------------------------------- period */

static int compute_period(struct eng *g, int mi, struct met_stats *st)
{
	const struct month *m = &g->months[mi];
	int p = g->m0 + mi;
	int32_t b0 = month_first_day(p), b1 = month_first_day(p + 1);
	int64_t end_t = tz_day_start(g->tz, b1);
	struct acc *A;
	double t_start, t_wait;
	char ptext[PERIOD_TEXT_MAX];
	uint32_t i, r, nt = 0, s;
	uint64_t compl_all = 0, compl_ok = 0, sent = 0, opened = 0, clicked = 0;
	double *fr = NULL, *rs = NULL;
	size_t nfr = 0, nrs = 0, n_rows;
	int rc = 0;

	period_format(p, ptext);
	t_start = log_seconds();
	memset(g->acc, 0, g->nslots * sizeof(*g->acc));
	g->n_rows = 0;
	if (compute_rfm(g)) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}

	if (base_counts(g, b0, b1)) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}

	for (r = 0; r < m->n_ord; r++) {
		uint32_t c = m->o_cust[r];
		const uint32_t *sl = g->slot5 + (size_t)c * N_DIMS;
		int64_t amt = m->o_amt[r], np = amt - m->o_cost[r];
		int done = !m->o_refund[r], d;

		for (d = 0; d < N_DIMS; d++) {
			struct acc *a = &g->acc[sl[d]];

			a->rev += amt;
			a->np += np;
			a->crev += done ? amt : 0;
			a->orders += (uint64_t)done;
		}
		if (done && g->ocnt[c]++ == 0)
			g->touched[nt++] = c;
	}
	for (r = 0; r < nt; r++) {
		uint32_t c = g->touched[r];

		ADD(c, buyers, 1);
		if (g->ocnt[c] >= 2)
			ADD(c, repeat, 1);
		if (g->first_ord[c] < b0)
			ADD(c, returning, 1);
		g->ocnt[c] = 0;
	}
	nt = 0;

	for (r = 0; r < m->n_sv; r++) {
		static const uint32_t all_only = 0; /* an anonymous answer counts in slot 0 (all) */
		uint32_t c = m->sv_cust[r];
		unsigned sc = m->sv_score[r], kind = m->sv_kind[r];
		const uint32_t *sl = c == NO_CUST ? &all_only : g->slot5 + (size_t)c * N_DIMS;
		int d, nd = c == NO_CUST ? 1 : N_DIMS;

		if (kind > 1 || (kind == 1 && (sc < 1 || sc > 5)))
			continue;
		/* one pass over the answer's slots for the three counts */
		for (d = 0; d < nd; d++) {
			struct acc *a = &g->acc[sl[d]];

			if (kind == 1) {
				a->csat_n++;
				a->csat_pos += sc >= 4;
				a->csat_sum += sc;
			} else {
				a->nps_n++;
				a->nps_p += sc >= 9;
				a->nps_d += sc <= 6;
			}
		}
	}

	fr = malloc((m->n_tk ? m->n_tk : 1) * sizeof(double));
	rs = malloc((m->n_tk ? m->n_tk : 1) * sizeof(double));
	if (!fr || !rs) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (r = 0; r < m->n_tk; r++) {
		uint32_t c = m->tk_cust[r];
		int64_t op = m->tk_open[r], f1 = m->tk_first[r], rv = m->tk_res[r];

		if (m->tk_kind[r] == 0) {
			compl_all++;
			if (rv != NO_TIME && rv < end_t && rv - op <= (int64_t)g->cfg->sla_hours * 3600)
				compl_ok++;
			if (c != NO_CUST && g->during[c])
				ADD(c, complaints, 1);
		}
		if (f1 != NO_TIME && f1 < end_t)
			fr[nfr++] = (double)(f1 - op) / 3600.0;
		if (rv != NO_TIME && rv < end_t)
			rs[nrs++] = (double)(rv - op) / 3600.0;
	}

	for (r = 0; r < m->n_ix; r++) {
		uint32_t c = m->ix_cust[r];

		switch (m->ix_kind[r]) {
		case IX_SENT:
			sent++;
			continue;
		case IX_OPEN:
			opened++;
			break;
		case IX_CLICK:
			clicked++;
			break;
		default:
			break;
		}
		if (c == NO_CUST)
			continue;
		if (g->ocnt[c]++ == 0)
			g->touched[nt++] = c;
	}
	/* per customer, then into its slots: far fewer scattered adds */
	for (r = 0; r < nt; r++) {
		uint32_t c = g->touched[r];
		const uint32_t *sl = g->slot5 + (size_t)c * N_DIMS;
		int d;

		for (d = 0; d < N_DIMS; d++) {
			struct acc *a = &g->acc[sl[d]];

			a->ix_n += g->ocnt[c];
			a->ix_cust++;
			a->engaged += g->during[c];
		}
		g->ocnt[c] = 0;
	}

	/* ---- segment metrics ---- */
	for (s = 0; s < g->nslots; s++) {
		const char *dim = slot_dim(g, s), *seg = slot_seg(g, s);
		struct row *rw;

		if (!slot_used(g, s))
			continue;
		A = &g->acc[s];
		r_count(g, "customers_start", s, (int64_t)A->start);
		r_count(g, "new_customers", s, (int64_t)A->new_);
		r_count(g, "churned", s, (int64_t)A->churned);
		r_count(g, "reactivated", s, (int64_t)A->react);
		r_count(g, "retained", s, (int64_t)A->retained);
		r_count(g, "customers_end", s, (int64_t)A->end);
		r_count(g, "buyers", s, (int64_t)A->buyers);
		r_ratio_s(g, "customer_growth_rate", s, (int64_t)A->end - (int64_t)A->start,
			  (int64_t)A->start, 0);
		r_ratio_s(g, "churn_rate", s, (int64_t)A->churned, (int64_t)A->start, 1);
		r_ratio_s(g, "retention_rate", s, (int64_t)A->retained, (int64_t)A->start, 1);
		r_money(g, "revenue", s, A->rev);
		r_count(g, "orders", s, (int64_t)A->orders);
		r_money_per(g, "aov", dim, seg, -1, A->crev, (int64_t)A->orders);
		r_ratio_s(g, "purchase_frequency", s, (int64_t)A->orders, (int64_t)A->buyers, 0);
		r_ratio_s(g, "repeat_purchase_rate", s, (int64_t)A->repeat, (int64_t)A->buyers, 1);
		r_ratio_s(g, "returning_rate", s, (int64_t)A->returning, (int64_t)A->buyers, 1);
		r_money(g, "net_profit", s, A->np);
		r_money_per(g, "net_profit_per_buyer", dim, seg, -1, A->np, (int64_t)A->buyers);
		r_ratio_s(g, "csat", s, (int64_t)A->csat_pos, (int64_t)A->csat_n, 1);
		r_ratio_s(g, "csat_mean", s, (int64_t)A->csat_sum, (int64_t)A->csat_n, 0);
		{
			int64_t pd = (int64_t)A->nps_p - (int64_t)A->nps_d;
			double moe = met_nps_moe95(A->nps_p, A->nps_d, A->nps_n);

			rw = add_row(g, "nps", dim, seg, -1);
			if (rw) {
				fmt_int(rw->num, pd);
				fmt_int(rw->den, (int64_t)A->nps_n);
				if (A->nps_n) {
					double v = (double)(100 * pd) / (double)A->nps_n;

					met_format_double(v, rw->val);
					rw->has_ci = 1;
					rw->lo = v - moe < -100 ? -100 : v - moe;
					rw->hi = v + moe > 100 ? 100 : v + moe;
				}
			}
			r_derived(g, "nps_moe95", dim, seg, -1, A->nps_n ? moe : NAN);
		}
		r_ratio_s(g, "complaint_rate", s, (int64_t)A->complaints, (int64_t)A->during, 1);
		r_ratio_s(g, "referral_rate", s, (int64_t)A->referred_new, (int64_t)A->new_, 1);
		r_ratio_s(g, "engagement_rate", s, (int64_t)A->engaged, (int64_t)A->during, 1);
		r_ratio_s(g, "interaction_frequency", s, (int64_t)A->ix_n, (int64_t)A->ix_cust, 0);
	}
	A = &g->acc[0];

	/* ---- overall: CLV and friends over P-11..P ---- */
	{
		int64_t crev12 = 0, rev12 = 0, cost12 = 0;
		uint64_t ord12 = 0, buy12 = 0;
		long double prod = 1, annual, life, clv = NAN, clvm = NAN, cac = NAN;
		int32_t w0 = month_first_day(p - 11);
		int j;

		for (j = mi - 11; j <= mi; j++) {
			if (j < 0)
				continue;
			crev12 += g->m_crev[j];
			rev12 += g->m_rev[j];
			cost12 += g->m_cost[j];
			ord12 += g->m_orders[j];
			if (g->m_start[j])
				prod *= (long double)(g->m_start[j] - g->m_churned[j]) /
					(long double)g->m_start[j];
		}
		for (i = 0; i < g->n; i++)
			buy12 += g->last_ord[i] >= w0;
		annual = 1 - prod;
		life = g->cfg->max_lifespan_years;
		if (annual > 0 && 1 / annual < life)
			life = 1 / annual;
		if (ord12 && buy12)
			clv = (long double)crev12 / 10000.0L / (long double)buy12 * life;
		if (!isnan((double)clv) && rev12 != 0)
			clvm = clv * (long double)(rev12 - cost12) / (long double)rev12;
		r_derived(g, "clv", "all", "", -1, (double)clv);
		r_derived(g, "clv_margin", "all", "", -1, (double)clvm);
		if (A->new_)
			cac = (long double)m->acq / 10000.0L / (long double)A->new_;
		r_money_per(g, "cac", "all", "", -1, m->acq, (int64_t)A->new_);
		r_derived(g, "ltv_cac", "all", "", -1,
			  !isnan((double)clvm) && !isnan((double)cac) && cac != 0
			  ? (double)(clvm / cac) : NAN);
		{
			double pb = NAN;

			if (!isnan((double)cac) && buy12 && rev12 - cost12 != 0)
				pb = (double)(cac / (((long double)(rev12 - cost12) / 10000.0L /
						      (long double)buy12) / 12.0L));
			r_derived(g, "cac_payback_months", "all", "", -1, pb);
		}
		r_money_per(g, "retention_cost", "all", "", -1, m->ret, (int64_t)A->retained);
	}
	/* CAC per channel: every channel with new customers or acquisition spend */
	{
		const struct dict *ch = &g->dicts[0];
		int64_t *sp = calloc(ch->n ? ch->n : 1, sizeof(*sp));
		uint8_t *has = calloc(ch->n ? ch->n : 1, 1);

		if (!sp || !has) {
			free(sp);
			free(has);
			rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
			goto out;
		}
		for (r = 0; r < m->n_sp; r++) {
			sp[m->sp_ch[r]] += m->sp_amt[r];
			has[m->sp_ch[r]] = 1;
		}
		for (i = 0; i < ch->n; i++)
			if (has[i] || g->acc[g->base[D_CHANNEL] + i].new_)
				r_money_per(g, "cac", "channel", ch->names[i], -1, sp[i],
					    (int64_t)g->acc[g->base[D_CHANNEL] + i].new_);
		free(sp);
		free(has);
	}
	r_ratio(g, "complaint_resolution_rate", "all", "", -1, (int64_t)compl_ok,
		(int64_t)compl_all, 1);
	r_derived(g, "first_response_hours", "all", "", -1, met_median(fr, nfr));
	r_derived(g, "resolution_hours", "all", "", -1, met_median(rs, nrs));
	r_ratio(g, "email_open_rate", "all", "", -1, (int64_t)opened, (int64_t)sent, 1);
	r_ratio(g, "email_click_rate", "all", "", -1, (int64_t)clicked, (int64_t)sent, 1);
	{
		const double *w = g->cfg->loyalty_weights;
		double li = NAN, ws = w[0] + w[1] + w[2];

		if (A->csat_n && A->buyers && A->new_ && ws > 0)
			li = 100 * (w[0] * ((double)A->csat_pos / (double)A->csat_n) +
				    w[1] * ((double)A->repeat / (double)A->buyers) +
				    w[2] * ((double)A->referred_new / (double)A->new_)) / ws;
		r_derived(g, "loyalty_index", "all", "", -1, li);
	}
	for (r = 0; r < 6; r++) {
		struct row *rw = add_row(g, funnel_names[r], "all", "", -1);

		if (rw)
			fmt_int(rw->val, (int64_t)m->funnel[r]);
		if (funnel_conv[r])
			r_ratio(g, funnel_conv[r], "all", "", -1, (int64_t)m->funnel[r],
				(int64_t)m->funnel[r - 1], 1);
	}
	r_ratio(g, "conversion_rate", "all", "", -1, (int64_t)m->funnel[4], (int64_t)m->funnel[0], 1);

	/* ---- cohorts ---- */
	{
		int c, k;

		for (c = 0; c <= mi; c++) {
			int64_t size = (int64_t)g->coh_size[c], cum = 0;
			size_t row0 = (size_t)c * (size_t)g->nm;

			if (!size)
				continue;
			for (k = 0; k < c; k++)
				cum += g->coh_rev[row0 + (size_t)k];
			for (k = 0; c + k <= mi; k++) {
				cum += g->coh_rev[row0 + (size_t)(c + k)];
				r_ratio(g, "cohort_active_share", "cohort", g->mtext[c], k,
					(int64_t)g->coh_active[row0 + (size_t)(c + k)], size, 1);
				r_ratio(g, "cohort_retained_share", "cohort", g->mtext[c], k,
					(int64_t)g->coh_ret[row0 + (size_t)(c + k)], size, 1);
				r_money_per(g, "cohort_revenue_per_customer", "cohort", g->mtext[c], k,
					    cum, size);
			}
		}
	}

	/* ---- RFM (counted by base_counts) ---- */
	{
		const uint64_t *cnt = g->rfm_cnt;
		const int64_t *mon = g->rfm_mon, tot = g->rfm_tot;
		int k;

		for (k = 0; k <= MET_RFM_NONE; k++) {
			struct row *rw = add_row(g, "rfm_count", "rfm", met_rfm_name(k), -1);

			if (rw)
				fmt_int(rw->val, (int64_t)cnt[k]);
			if (k == MET_RFM_NONE)
				continue;
			rw = add_row(g, "rfm_revenue_share", "rfm", met_rfm_name(k), -1);
			if (rw) {
				fmt_money(rw->num, mon[k]);
				fmt_money(rw->den, tot);
				if (tot)
					met_format_double((double)mon[k] / (double)tot, rw->val);
			}
		}
	}

	if (survival_rows(g)) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	t_wait = log_seconds();
	if ((rc = clv_wait(g)) || (rc = clv_rows(g, mi)))
		goto out;
	log_debug("compute: %s: metrics in %.3f s, then %.3f s waiting for the clv fits", ptext,
		  t_wait - t_start, log_seconds() - t_wait);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	n_rows = g->n_rows;
	rc = cw_start(g, g->cw, ptext, b1);
	if (!rc) {
		st->periods_written++;
		st->rows += n_rows;
	}
out:
	free(fr);
	free(rs);
	return rc;
}

/* ---------------------------------------------------------------- run */

static void eng_release(struct eng *g)
{
	int k;

	if (g->months)
		for (k = 0; k < g->nm; k++)
			month_release(&g->months[k]);
	free(g->months);
	free(g->mtext);
	free(g->m_start);
	free(g->m_churned);
	free(g->m_orders);
	free(g->m_crev);
	free(g->m_rev);
	free(g->m_cost);
	free(g->coh_size);
	free(g->coh_active);
	free(g->coh_ret);
	free(g->coh_rev);
	free(g->pd_first);
	free(g->first_pm);
	clv_drop(g);
	met_clv_hist_release(&g->clvh);
	free(g->clv_last);
	met_clv_res_release(&g->clv);
	free(g->acc);
	free(g->rows);
	crmp_strs_release(&g->ids);
	hmap_release(&g->idmap);
	free(g->num_map);
	free(g->signup);
	free(g->churn);
	free(g->first_ord);
	free(g->last_ord);
	free(g->cohort);
	free(g->contract);
	free(g->referred);
	free(g->in_start);
	free(g->in_end);
	free(g->during);
	free(g->rfm);
	free(g->rs);
	free(g->fs);
	free(g->ms);
	for (k = 0; k < 3; k++) {
		free(g->attr[k]);
		dict_release(&g->dicts[k]);
	}
	free(g->f12);
	free(g->ocnt);
	free(g->stamp);
	free(g->touched);
	free(g->m12);
	free(g->np12);
	free(g->slot5);
	free(g->sv_ev);
	free(g->sv_ce);
	free(g->sv_maxd);
	free(g->periods_dir);
	free(g->metrics_dir);
	free(g->fits_dir);
	tz_free(g->tz);
}


/*
 * <data_dir>/cache keeps each period's CLV fits (fitc.h) under a salt
 * naming this program (fitc_salt: the engine version, the executable,
 * its libraries, the CPU's features), so that another build or libm never
 * reuses them. Without that (no /proc) or the directory, nothing is kept.
 */
static void fits_setup(struct eng *g, int force)
{
	struct crm_err why = { 0 };
	char v[32], text[1200];

	snprintf(v, sizeof(v), "engine %d", MET_ENGINE_VERSION);
	if (fitc_salt(v, g->fits_salt) != 0) {
		log_debug("compute: the clv fits are not kept between computes (no /proc/self/exe)");
		return;
	}
	if (!(g->fits_dir = join(g->cfg->data_dir, "cache")) || fsx_mkdirs(g->fits_dir, &why)) {
		log_debug("compute: the clv fits are not kept between computes (%s)",
			  why.code ? err_format(&why, text, sizeof(text)) : "out of memory");
		free(g->fits_dir);
		g->fits_dir = NULL;
		return;
	}
	g->fits_reuse = !force;
}

/*
 * Each month allocates and frees arrays of a few to tens of MB on three
 * threads. glibc's default raises its mmap threshold as such blocks are
 * freed, after which they stay in the threads' heaps: on the 1M-customer
 * bench that alone took the peak past 1 GB. Blocks from 16 MB up always
 * come from mmap and go back at free (a little more time zeroing pages).
 * Smaller blocks all come from one arena that is never trimmed: the
 * threads hand arrays to each other and free them month after month, and
 * with an arena per thread each kept its own high-water mark, while
 * trimming gave pages back only to fault them in again, zeroed, for the
 * next month (1M bench, 26 periods: 800,000 page faults and 2.6 s of
 * system time became 245,000 and 1.4 s, with a lower peak).
 * The settings are the process's: they stay for what runs after compute
 * (the report stage of a run), which only gains by them.
 */
#define MET_MMAP_THRESHOLD (16 << 20)

int met_run(const struct cfg *cfg, const struct met_opts *o, struct met_stats *st,
	    struct crm_err *e)
{
	struct eng g;
	struct cwriter cw;
	struct buf stamp;
	struct dim dim = { NULL, NULL, 0 };
	struct month *byk = NULL;    /* loaded months by index in ps, until placed in g.months */
	double t0 = log_seconds(), t1;
	int *ps = NULL, np = 0, k, rc, first, last, mend, have_range;
	int32_t min_signup = NONE_DAY;
	uint32_t i;

#ifdef M_MMAP_THRESHOLD
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, MET_MMAP_THRESHOLD);
#endif
	memset(&g, 0, sizeof(g));
	memset(&cw, 0, sizeof(cw));
	buf_init(&cw.out, OUT_MAX);
	memset(st, 0, sizeof(*st));
	buf_init(&stamp, (size_t)1 << 24);
	g.cw = &cw;
	st->first_period = st->last_period = -1;
	g.cfg = cfg;
	g.e = e;
	hmap_init(&g.idmap);
	for (k = 0; k < 3; k++)
		dict_init(&g.dicts[k]);
	g.periods_dir = join(cfg->data_dir, "periods");
	g.metrics_dir = join(cfg->data_dir, "metrics");
	if (!g.periods_dir || !g.metrics_dir) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tz_load(cfg->timezone, &g.tz, e)))
		goto out;
	if ((rc = met_stamp_make(cfg, g.periods_dir, &stamp, e)))
		goto out;
	if (!o->force && met_stamp_done(g.metrics_dir, &stamp, !o->has_range, o->from, o->to)) {
		st->skipped = 1;
		goto out;
	}
	if ((rc = list_periods(&g, &ps, &np)))
		goto out;
	if (np == 0) {
		rc = err_at(e, CRM_E_INPUT, g.periods_dir, 0, NULL,
			    "no period files (run normalize first)");
		goto out;
	}
	/* The CLI makes sure from <= to, so mend >= m0 whatever the signups. */
	mend = o->has_range ? o->to : ps[np - 1];
	/*
	 * Orders make the history (the walk, CLV, cohorts, RFM) and spend
	 * names channels, so every month's are read. Surveys, tickets,
	 * interactions and leads count only in their own period: a range
	 * reads them for its months alone, which spares the nightly compute
	 * of one period most of its reading (they are most of each file).
	 */
	g.tables_from = o->has_range ? o->from : INT_MIN;
	byk = xcalloc(&g, (size_t)np, sizeof(*byk));
	if (!byk) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = load_ids(&g, &dim, e)) ||
	    (rc = load_months(&g, &dim, ps, np, mend - MAX_MONTHS + 1, mend, byk)))
		goto out;
	dim_close(&dim);
	for (i = 0; i < g.n; i++)
		if (g.signup[i] < min_signup)
			min_signup = g.signup[i];
	g.m0 = ps[0];
	if (min_signup != NONE_DAY && day_period(min_signup) < g.m0)
		g.m0 = day_period(min_signup);
	if (o->has_range && o->from < g.m0)
		g.m0 = o->from;
	if (mend - g.m0 + 1 > MAX_MONTHS) {
		/*
		 * A signup decades before the first period file (a typo, or a
		 * very old customer): start the walk MAX_MONTHS before the end.
		 * Customers who signed up earlier are still in the base; only
		 * their cohorts are not reported.
		 */
		char t[PERIOD_TEXT_MAX];

		g.m0 = mend - MAX_MONTHS + 1;
		log_warn("compute: signups before %s: their cohorts are not reported",
			 period_format(g.m0, t));
	}
	g.nm = mend - g.m0 + 1;
	g.months = xcalloc(&g, (size_t)g.nm, sizeof(*g.months));
	g.mtext = xcalloc(&g, (size_t)g.nm, sizeof(*g.mtext));
	g.m_start = xcalloc(&g, (size_t)g.nm, 8);
	g.m_churned = xcalloc(&g, (size_t)g.nm, 8);
	g.m_orders = xcalloc(&g, (size_t)g.nm, 8);
	g.m_crev = xcalloc(&g, (size_t)g.nm, 8);
	g.m_rev = xcalloc(&g, (size_t)g.nm, 8);
	g.m_cost = xcalloc(&g, (size_t)g.nm, 8);
	g.coh_size = xcalloc(&g, (size_t)g.nm, 8);
	g.coh_active = xcalloc(&g, (size_t)g.nm * (size_t)g.nm, 8);
	g.coh_ret = xcalloc(&g, (size_t)g.nm * (size_t)g.nm, 8);
	g.coh_rev = xcalloc(&g, (size_t)g.nm * (size_t)g.nm, 8);
	g.pd_first = xcalloc(&g, (size_t)g.nm * (size_t)g.nm, 8);
	if (g.oom) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < g.nm; k++)
		period_format(g.m0 + k, g.mtext[k]);
	for (k = 0; k < np; k++)
		if (ps[k] >= g.m0 && ps[k] <= mend) {
			g.months[ps[k] - g.m0] = byk[k];
			memset(&byk[k], 0, sizeof(byk[k]));
		}
	for (k = 0; k < g.nm; k++) {
		const struct month *m = &g.months[k];
		uint32_t r;

		if ((rc = intern_spend(&g, &g.months[k])))
			goto out;
		for (r = 0; r < m->n_ord; r++) {
			uint32_t c = m->o_cust[r];

			if (!m->o_refund[r] && m->o_day[r] < g.first_ord[c])
				g.first_ord[c] = m->o_day[r];
		}
	}

	t1 = log_seconds();
	log_debug("compute: read the dimension and %d months in %.2f s", g.nm, t1 - t0);
	/* signup = the earlier of signup_date and the first completed order */
	first = -1;
	g.first_pm = xcalloc(&g, g.n ? g.n : 1, sizeof(*g.first_pm));
	g.clv_last = xcalloc(&g, g.n ? g.n : 1, sizeof(*g.clv_last));
	if (g.oom || met_clv_hist_init(&g.clvh, g.n)) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	g.min_signup = NONE_DAY;
	for (i = 0; i < g.n; i++) {
		g.clv_last[i] = g.last_ord[i];
		g.first_pm[i] = g.first_ord[i] == NONE_DAY ? -1 : day_period(g.first_ord[i]) - g.m0;
		if (g.first_ord[i] < g.signup[i])
			g.signup[i] = g.first_ord[i];
		if (g.signup[i] < g.min_signup)
			g.min_signup = g.signup[i];
		g.cohort[i] = -1;
		if (g.signup[i] != NONE_DAY) {
			int sp = day_period(g.signup[i]);

			if (sp >= g.m0 && sp <= mend) {
				g.cohort[i] = sp - g.m0;
				g.coh_size[sp - g.m0]++;
			}
			if (first < 0 || sp < first)
				first = sp;
		}
	}
	last = -1;
	for (k = 0; k < g.nm; k++)
		if (g.months[k].any_orders) {
			if (first < 0 || g.m0 + k < first)
				first = g.m0 + k;
			last = g.m0 + k;
		}
	have_range = 1;
	if (o->has_range) {
		first = o->from;
		last = o->to;
	} else if (first < 0 || last < 0 || last < first) {
		have_range = 0;
	}
	if (first < g.m0)
		first = g.m0;

	g.base[D_ALL] = 0;
	g.base[D_CHANNEL] = 1;
	g.base[D_REGION] = g.base[D_CHANNEL] + g.dicts[0].n;
	g.base[D_TIER] = g.base[D_REGION] + g.dicts[1].n;
	g.base[D_RFM] = g.base[D_TIER] + g.dicts[2].n;
	g.nslots = g.base[D_RFM] + MET_RFM_NONE + 1;
	g.acc = xcalloc(&g, g.nslots, sizeof(*g.acc));
	if (g.oom) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	if (!have_range) {
		log_warn("compute: no customers or orders: nothing to compute");
		rc = 0;
		goto out;
	}
	if ((rc = fsx_mkdirs(g.metrics_dir, e)))
		goto out;
	fits_setup(&g, o->force);
	st->first_period = first;
	st->last_period = last;
	st->customers = g.n;
	for (k = 0; k < g.nm; k++) {
		st->orders += g.months[k].n_ord;
		if (g.m0 + k > last)
			break;
		advance(&g, k);
		if (g.m0 + k >= first) {
			/* on a terminal only (log.c); a month of a million customers takes ~1 s */
			log_progress("compute: %s (%d of %d)", g.mtext[k], g.m0 + k - first + 1,
				     last - first + 1);
			if ((rc = clv_fits_ahead(&g, k, last - g.m0)) ||
			    (rc = compute_period(&g, k, st)))
				goto out;
		}
	}
	log_progress_end();
	rc = cw_wait(&g, &cw);
	if (!rc)
		rc = met_stamp_record(g.metrics_dir, &stamp, !o->has_range,
				      o->has_range ? o->from : first, last, e);
	log_debug("compute: computed and wrote in %.2f s", log_seconds() - t1);
	st->unknown_ids = g.unknown_ids;
	st->periods_restated = g.restated;
out:
	log_progress_end();
	if (cw.running) /* after an error: the writer still reads the engine */
		cw_wait(&g, &cw);
	cw_release(&cw);
	for (k = 0; byk && k < np; k++)
		month_release(&byk[k]);
	free(byk);
	dim_close(&dim);
	free(ps);
	eng_release(&g);
	buf_release(&stamp);
	return rc;
}
