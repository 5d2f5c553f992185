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
 * Does not: predict CLV (clv_predicted is another issue), read exports.
 */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "crmp.h"
#include "fsx.h"
#include "hmap.h"
#include "log.h"
#include "met.h"
#include "period.h"
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

/* The facts of one month, reduced to what the metrics read. */
struct month {
	uint32_t n_ord;      /* completed and refunded orders (cancelled dropped) */
	uint32_t *o_cust;
	int32_t *o_day;
	int64_t *o_amt, *o_cost;
	uint8_t *o_refund;
	uint64_t any_orders; /* order rows of any status */
	int64_t acq, ret;    /* spend by purpose, money units */
	uint32_t n_sp;       /* acquisition spend by channel code */
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

struct eng {
	const struct cfg *cfg;
	struct tz *tz;
	struct crm_err *e;
	char *periods_dir, *metrics_dir;

	/* customers */
	uint32_t n;
	struct crmp_strs ids;        /* customer_id text per index */
	struct hmap idmap;
	int32_t *signup, *churn, *first_ord, *last_ord, *cohort;
	uint8_t *contract, *referred, *in_start, *in_end, *during, *rfm;
	uint32_t *attr[3];
	uint32_t *f12, *ocnt, *stamp, *touched;
	int64_t *m12, *np12;
	uint8_t *rs, *fs, *ms;       /* RFM scores of the current period (0: none) */
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

	/* slots */
	uint32_t base[N_DIMS], nslots;
	struct acc *acc;

	/* output rows of the current period */
	struct row *rows;
	size_t n_rows, cap_rows;
	unsigned long long unknown_ids;
	int oom;
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

/* Customer indexes of a customer_id column (NO_CUST: null or unknown). */
static uint32_t *read_custs(struct eng *g, const struct crmp_file *f, const char *path, int t,
			    const char *table, const char *col, uint64_t rows)
{
	struct crmp_strs s;
	uint32_t *map = NULL, *out = NULL;
	uint64_t r;
	uint32_t i;
	int c = col_of(g, f, path, t, table, col);

	if (c < 0)
		return NULL;
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
	for (i = 0; i < s.n_dict; i++) {
		uint32_t *v = hmap_get(&g->idmap, s.dict[i], s.lens[i]);

		map[i] = v ? *v : NO_CUST;
	}
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

static int load_customers(struct eng *g, struct crm_err *e)
{
	struct crmp_file *f = NULL;
	struct crmp_strs s[4];
	static const char *const scol[4] = { "channel", "region", "tier", "referred_by" };
	int64_t *sd = NULL, *cd = NULL, *dv = NULL;
	uint8_t *sdp = NULL, *cdp = NULL;
	char *path = join(g->periods_dir, "customers.crmp");
	uint64_t rows = 0;
	uint32_t i;
	int t, c, k, rc = 0;

	memset(s, 0, sizeof(s));
	if (!path)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	rc = crmp_open(path, &f, e);
	if (rc) {
		if (e->code == CRM_E_IO)
			e->code = CRM_E_INPUT;
		goto out;
	}
	if ((t = find_table(g, f, path, "customers", &rows)) < 0) {
		rc = t;
		goto out;
	}
	if (rows >= UINT32_MAX) {
		rc = err_at(e, CRM_E_NOMEM, path, 0, "customers", "too many customers");
		goto out;
	}
	g->n = (uint32_t)rows;
	if ((c = col_of(g, f, path, t, "customers", "customer_id")) < 0 ||
	    crmp_read_str(f, t, c, &g->ids, e)) {
		rc = e->code;
		goto out;
	}
	for (k = 0; k < 4; k++)
		if ((c = col_of(g, f, path, t, "customers", scol[k])) < 0 ||
		    crmp_read_str(f, t, c, &s[k], e)) {
			rc = e->code;
			goto out;
		}
	sd = read_ints(g, f, path, t, "customers", "signup_day", rows, &sdp);
	cd = sd ? read_ints(g, f, path, t, "customers", "churn_day", rows, &cdp) : NULL;
	dv = cd ? read_ints(g, f, path, t, "customers", "derived", rows, NULL) : NULL;
	if (!dv) {
		rc = e->code ? e->code : err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
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
	g->np12 = xcalloc(g, rows, 8);
	if (g->oom) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory for %" PRIu64 " customers", rows);
		goto out;
	}
	for (k = 0; k < 3; k++) {
		g->unknown_code[k] = dict_code(&g->dicts[k], "unknown", 7);
		if (g->unknown_code[k] == NO_CUST) {
			rc = err_set(e, CRM_E_NOMEM, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < g->n; i++) {
		const char *id = g->ids.dict[g->ids.codes[i]];
		int is_new = 0;
		uint32_t *v = hmap_put(&g->idmap, id, g->ids.lens[g->ids.codes[i]], i, &is_new, NULL);

		if (!v) {
			rc = err_set(e, CRM_E_NOMEM, "out of memory");
			goto out;
		}
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
				a = dict_code(&g->dicts[k], s[k].dict[code], s[k].lens[code]);
			if (a == NO_CUST) {
				rc = err_set(e, CRM_E_NOMEM, "out of memory");
				goto out;
			}
			g->attr[k][i] = a;
			g->dicts[k].has_cust[a] = 1;
		}
	}
out:
	for (k = 0; k < 4; k++)
		crmp_strs_release(&s[k]);
	free(sd);
	free(cd);
	free(dv);
	free(sdp);
	free(cdp);
	crmp_close(f);
	free(path);
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int load_orders(struct eng *g, struct month *m, const struct crmp_file *f,
		       const char *path)
{
	uint64_t rows, r, o = 0;
	int t = find_table(g, f, path, "orders", &rows);
	int64_t *day = NULL, *amt = NULL, *cost = NULL, *st = NULL;
	uint8_t *stp = NULL, *costp = NULL;
	uint32_t *cust = NULL;
	int rc = 0;

	if (t < 0)
		return t;
	m->any_orders = rows;
	if (!(cust = read_custs(g, f, path, t, "orders", "customer_id", rows)) ||
	    !(day = read_ints(g, f, path, t, "orders", "day", rows, NULL)) ||
	    !(amt = read_ints(g, f, path, t, "orders", "amount", rows, NULL)) ||
	    !(cost = read_ints(g, f, path, t, "orders", "cost", rows, &costp)) ||
	    !(st = read_ints(g, f, path, t, "orders", "status", rows, &stp))) {
		rc = g->e->code;
		goto out;
	}
	m->o_cust = xcalloc(g, rows, 4);
	m->o_day = xcalloc(g, rows, 4);
	m->o_amt = xcalloc(g, rows, 8);
	m->o_cost = xcalloc(g, rows, 8);
	m->o_refund = xcalloc(g, rows, 1);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	for (r = 0; r < rows; r++) {
		int status = stp[r] ? (int)st[r] : 0;

		if (status == 2 || cust[r] == NO_CUST)
			continue;
		m->o_cust[o] = cust[r];
		m->o_day[o] = (int32_t)day[r];
		m->o_amt[o] = amt[r];
		m->o_cost[o] = costp[r] ? cost[r] : 0;
		m->o_refund[o] = status == 1;
		if (status == 0 && day[r] < g->first_ord[cust[r]])
			g->first_ord[cust[r]] = (int32_t)day[r];
		o++;
	}
	m->n_ord = (uint32_t)o;
out:
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
	uint64_t rows, r;
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
			uint32_t code = ch.codes[r];
			uint32_t k = code == UINT32_MAX ? g->unknown_code[0]
				: dict_code(&g->dicts[0], ch.dict[code], ch.lens[code]);

			if (k == NO_CUST) {
				rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
				goto out;
			}
			m->acq += amt[r];
			m->sp_ch[m->n_sp] = k;
			m->sp_amt[m->n_sp++] = amt[r];
		}
	}
out:
	crmp_strs_release(&ch);
	free(pur);
	free(amt);
	return rc;
}

static int load_surveys(struct eng *g, struct month *m, const struct crmp_file *f,
			const char *path)
{
	uint64_t rows, r;
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
	uint64_t rows, r;
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
	uint64_t rows, r;
	int t = find_table(g, f, path, "interactions", &rows);
	struct crmp_strs k;
	uint8_t *cls = NULL;
	uint32_t i;
	int c, rc = 0;

	memset(&k, 0, sizeof(k));
	if (t < 0)
		return t;
	if (!(m->ix_cust = read_custs(g, f, path, t, "interactions", "customer_id", rows)) ||
	    (c = col_of(g, f, path, t, "interactions", "kind")) < 0 ||
	    crmp_read_str(f, t, c, &k, g->e)) {
		rc = g->e->code;
		goto out;
	}
	cls = xcalloc(g, k.n_dict, 1);
	m->ix_kind = xcalloc(g, rows, 1);
	if (g->oom) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < k.n_dict; i++)
		cls[i] = !strcmp(k.dict[i], "email_sent") ? IX_SENT
			: !strcmp(k.dict[i], "email_open") ? IX_OPEN
			: !strcmp(k.dict[i], "email_click") ? IX_CLICK : IX_OTHER;
	for (r = 0; r < rows; r++)
		m->ix_kind[r] = k.codes[r] == UINT32_MAX ? IX_OTHER : cls[k.codes[r]];
	m->n_ix = (uint32_t)rows;
out:
	free(cls);
	crmp_strs_release(&k);
	return rc;
}

static int load_leads(struct eng *g, struct month *m, const struct crmp_file *f,
		      const char *path)
{
	uint64_t rows, r, n = 0;
	int t = find_table(g, f, path, "leads", &rows);
	int64_t *stage = NULL;
	uint64_t *keys = NULL;
	struct crmp_strs ids;
	int c, rc = 0;

	memset(&ids, 0, sizeof(ids));
	if (t < 0)
		return t;
	if ((c = col_of(g, f, path, t, "leads", "lead_id")) < 0 ||
	    crmp_read_str(f, t, c, &ids, g->e) ||
	    !(stage = read_ints(g, f, path, t, "leads", "stage", rows, NULL))) {
		rc = g->e->code;
		goto out;
	}
	keys = xcalloc(g, rows, 8);
	if (!keys) {
		rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * Distinct (stage, lead) pairs. Front-coded and numbered columns give
	 * one dictionary entry per row, so equal ids need the hash (with the
	 * text compared through the id map below) rather than the code.
	 */
	{
		struct hmap h;

		hmap_init(&h);
		for (r = 0; r < rows; r++) {
			uint32_t code = ids.codes[r], *v;
			int is_new = 0;

			if (code == UINT32_MAX || stage[r] < 0 || stage[r] > 5)
				continue;
			v = hmap_put(&h, ids.dict[code], ids.lens[code], (uint32_t)h.count, &is_new,
				     NULL);
			if (!v) {
				hmap_release(&h);
				rc = err_set(g->e, CRM_E_NOMEM, "out of memory");
				goto out;
			}
			keys[n++] = ((uint64_t)stage[r] << 32) | *v;
		}
		hmap_release(&h);
	}
	qsort(keys, n, 8, cmp_u64);
	for (r = 0; r < n; r++)
		if (r == 0 || keys[r] != keys[r - 1])
			m->funnel[keys[r] >> 32]++;
out:
	free(keys);
	free(stage);
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
	if (!rc)
		rc = load_surveys(g, m, f, path);
	if (!rc)
		rc = load_tickets(g, m, f, path);
	if (!rc)
		rc = load_interactions(g, m, f, path);
	if (!rc)
		rc = load_leads(g, m, f, path);
	crmp_close(f);
	free(path);
	return rc;
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
		int ci = g->cohort[c];

		if (!m->o_refund[r]) {
			if (m->o_day[r] > g->last_ord[c])
				g->last_ord[c] = m->o_day[r];
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

static double money_per(int64_t a, int64_t b)
{
	return b ? (double)((long double)a / ((long double)b * 10000.0L)) : NAN;
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

static void acc_add(struct eng *g, uint32_t c, size_t off, uint64_t v)
{
	uint32_t sl[N_DIMS];
	int d;

	sl[0] = 0;
	for (d = 0; d < 3; d++)
		sl[d + 1] = g->base[d + 1] + g->attr[d][c];
	sl[4] = g->base[D_RFM] + g->rfm[c];
	for (d = 0; d < N_DIMS; d++)
		*(uint64_t *)((char *)&g->acc[sl[d]] + off) += v;
}

static void acc_add_money(struct eng *g, uint32_t c, size_t off, int64_t v)
{
	uint32_t sl[N_DIMS];
	int d;

	sl[0] = 0;
	for (d = 0; d < 3; d++)
		sl[d + 1] = g->base[d + 1] + g->attr[d][c];
	sl[4] = g->base[D_RFM] + g->rfm[c];
	for (d = 0; d < N_DIMS; d++)
		*(int64_t *)((char *)&g->acc[sl[d]] + off) += v;
}

#define ADD(c, field, v) acc_add(g, c, offsetof(struct acc, field), (uint64_t)(v))
#define ADDM(c, field, v) acc_add_money(g, c, offsetof(struct acc, field), (int64_t)(v))

/* RFM scores and segments at end(P) (mi is P's index, state advanced). */
static int compute_rfm(struct eng *g, int32_t b1)
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
	(void)b1;
	rc = 0;
out:
	free(who);
	free(idx);
	free(keys);
	free(sc);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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

/* Survival rows and median lifetime for every slot. */
static int survival_rows(struct eng *g, int32_t b1)
{
	int32_t min_signup = NONE_DAY;
	size_t D, s, t;
	uint32_t i, *ev = NULL, *ce = NULL;
	double *sv = NULL, *gw = NULL;
	uint32_t *maxd = NULL;
	int rc = -1;

	for (i = 0; i < g->n; i++)
		if (g->signup[i] < min_signup)
			min_signup = g->signup[i];
	D = min_signup < b1 ? (size_t)(b1 - min_signup) + 1 : 1;
	ev = calloc((size_t)g->nslots * D, 4);
	ce = calloc((size_t)g->nslots * D, 4);
	sv = malloc(D * sizeof(double));
	gw = malloc(D * sizeof(double));
	maxd = calloc(g->nslots, 4);
	if (!ev || !ce || !sv || !gw || !maxd)
		goto out;
	for (i = 0; i < g->n; i++) {
		uint32_t sl[N_DIMS];
		int64_t dur;
		int d, event;

		if (g->signup[i] >= b1)
			continue;
		event = !g->in_end[i];
		dur = event ? (int64_t)churn_day_of(g, i) - g->signup[i]
			    : (int64_t)b1 - g->signup[i];
		if (dur < 0)
			dur = 0;
		if ((size_t)dur >= D)
			dur = (int64_t)D - 1;
		sl[0] = 0;
		for (d = 0; d < 3; d++)
			sl[d + 1] = g->base[d + 1] + g->attr[d][i];
		sl[4] = g->base[D_RFM] + g->rfm[i];
		for (d = 0; d < N_DIMS; d++) {
			(event ? ev : ce)[(size_t)sl[d] * D + (size_t)dur]++;
			if ((uint32_t)dur > maxd[sl[d]])
				maxd[sl[d]] = (uint32_t)dur;
		}
	}
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
	free(ev);
	free(ce);
	free(sv);
	free(gw);
	free(maxd);
	return rc;
}
