/*
 * met_clv.c - predictive CLV of one period from the walk's purchase-day
 * history (met_clv.h): inputs per customer as METRICS.md defines them,
 * the two fits of clv.c, then predictions.
 *
 * Threads: a period's fits and predictions run on a thread of their own
 * (met_clv_start) from a copy of the inputs, so the walk can go on to the
 * next month and start that period's fits while these still run. The two
 * fits of a period are independent, so Gamma-Gamma runs on a thread of its
 * own beside BG/NBD (each fit is single-threaded and deterministic, so the
 * results do not depend on the scheduling).
 *
 * Why groups: the expected purchases of a customer alive at T depend on
 * (x, T) only, and a hypergeometric series per customer and month is the
 * expensive part. The distinct pairs (x, T in days) are ranked (rank.h)
 * and each gets its horizon curve once; a customer then costs one P(alive).
 */
#include "met_clv.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"
#include "fitc.h"
#include "log.h"
#include "rank.h"

#include "banned.h"

/*
 * Below these counts a fit says more about the optimiser than about the
 * customers (three buyers can "fit" any dropout rate): no prediction.
 */
#define MIN_BUYERS 30
#define MIN_REPEAT 10

/* Correlation of x and spend above which Gamma-Gamma's independence assumption is doubtful. */
#define GG_CORR_WARN 0.3

static int fault_flags;

void met_clv_set_fault(int flags)
{
	fault_flags = flags;
}

int met_clv_hist_init(struct met_clv_hist *h, uint32_t n)
{
	size_t k = n ? n : 1;

	h->days = calloc(k, sizeof(*h->days));
	h->first_amt = calloc(k, sizeof(*h->first_amt));
	h->amt = calloc(k, sizeof(*h->amt));
	h->cost = calloc(k, sizeof(*h->cost));
	return h->days && h->first_amt && h->amt && h->cost ? 0 : -1;
}

void met_clv_hist_release(struct met_clv_hist *h)
{
	free(h->days);
	free(h->first_amt);
	free(h->amt);
	free(h->cost);
	memset(h, 0, sizeof(*h));
}

void met_clv_res_release(struct met_clv_res *res)
{
	free(res->mean_spend);
	free(res->expected);
	free(res->p_alive);
	free(res->value);
	free(res->days);
	memset(res, 0, sizeof(*res));
}

/*
 * The model inputs of every customer with a purchase day, in index order,
 * with what the predictions need of the history: a copy, so that the walk
 * may advance the history while the period is fitted.
 */
struct inputs {
	struct clv_cust *c;
	uint32_t *who;       /* customer index of c[i] */
	uint64_t *key;       /* of c[i]: x << 32 | T in days */
	int32_t *txd;        /* of c[i]: t_x in days */
	double *margin;      /* of c[i]: (amount - cost) / amount, 1 without an amount */
	size_t n, n_repeat;
};

static int gather(const struct met_clv_hist *h, const int32_t *first, const int32_t *last,
		  uint32_t n, int32_t L, struct inputs *in)
{
	uint32_t i;
	size_t k = 0;

	for (i = 0; i < n; i++)
		k += h->days[i] > 0;
	in->c = malloc((k ? k : 1) * sizeof(*in->c));
	in->who = malloc((k ? k : 1) * sizeof(*in->who));
	in->key = malloc((k ? k : 1) * sizeof(*in->key));
	in->txd = malloc((k ? k : 1) * sizeof(*in->txd));
	in->margin = malloc((k ? k : 1) * sizeof(*in->margin));
	if (!in->c || !in->who || !in->key || !in->txd || !in->margin)
		return -1;
	in->n = k;
	in->n_repeat = 0;
	for (i = 0, k = 0; i < n; i++) {
		struct clv_cust *c = &in->c[k];
		uint32_t x;

		if (!h->days[i])
			continue;
		x = h->days[i] - 1;
		c->x = x;
		c->t_x = (double)(last[i] - first[i]) / 7.0;
		c->T = (double)(L - first[i]) / 7.0;
		/* money is in 1/10000; the models see currency units */
		c->mean_spend = x ? (double)(h->amt[i] - h->first_amt[i]) / 10000.0 / x : 0;
		in->n_repeat += x > 0;
		in->key[k] = (uint64_t)x << 32 | (uint32_t)(L - first[i]);
		in->txd[k] = last[i] - first[i];
		/* margin from the customer's own costs: 1 when the export has none */
		in->margin[k] = h->amt[i] > 0 ? (double)(h->amt[i] - h->cost[i]) / (double)h->amt[i] : 1;
		in->who[k++] = i;
	}
	return 0;
}

static void inputs_release(struct inputs *in)
{
	free(in->c);
	free(in->who);
	free(in->key);
	free(in->txd);
	free(in->margin);
}

/*
 * The Gamma-Gamma fit runs on its own thread while BG/NBD runs on the
 * caller's; then, when asked (key_of), the cache key of the inputs
 * (fitc_key_days: a SHA-256 of some 20 MB at a million customers, which is
 * not worth holding up BG/NBD for).
 */
struct gg_job {
	const struct clv_cust *pos;
	size_t k;
	struct clv_gg gg;
	struct crm_err e;
	int rc;
	double secs;
	const struct inputs *key_of;
	const char *salt;
	char key[FITC_KEY_LEN + 1];
};

static void *gg_main(void *arg)
{
	struct gg_job *j = arg;
	double t0 = log_seconds();

	if (j->k) {
		j->rc = clv_gg_fit(j->pos, j->k, &j->gg, &j->e);
		j->secs = log_seconds() - t0;
	}
	if (j->key_of)
		fitc_key_days(j->key_of->key, j->key_of->txd, j->key_of->c, j->key_of->n, j->salt,
			      j->key);
	return NULL;
}

/*
 * A period's log lines, kept by its job and logged when the period is
 * collected (met_clv_finish): with two periods fitted at once, lines
 * logged as they came would interleave the periods in an order of the
 * scheduler's choosing; this way they come in period order, as before.
 * Records: the level as one byte, the text, a NUL.
 */
struct notes {
	const char *ptext;
	char *text;
	size_t len, cap;
};

#define NOTE_MAX 1024

static void note(struct notes *nt, enum log_level lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(struct notes *nt, enum log_level lv, const char *fmt, ...)
{
	char line[NOTE_MAX];
	va_list ap;
	size_t n;

	if (lv > log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (nt->len + n + 2 > nt->cap) {
		size_t cap = nt->cap ? 2 * nt->cap : 4 * NOTE_MAX;
		char *t = realloc(nt->text, cap);

		if (!t) { /* out of memory: the line now rather than never */
			log_warn("%s", line);
			return;
		}
		nt->text = t;
		nt->cap = cap;
	}
	nt->text[nt->len++] = (char)lv;
	memcpy(nt->text + nt->len, line, n + 1);
	nt->len += n + 1;
}

/* Log the kept lines (log = 1) or drop them, and free them. */
static void notes_end(struct notes *nt, int log)
{
	size_t i = 0;

	while (log && i < nt->len) {
		enum log_level lv = (enum log_level)nt->text[i];
		const char *line = nt->text + i + 1;

		if (lv == LOG_WARN)
			log_warn("%s", line);
		else if (lv == LOG_INFO)
			log_info("%s", line);
		else
			log_debug("%s", line);
		i += strlen(line) + 2;
	}
	free(nt->text);
	nt->text = NULL;
	nt->len = nt->cap = 0;
}

static void note_bg(struct notes *nt, const struct met_clv_res *res, size_t n, double secs)
{
	note(nt, LOG_DEBUG,
	     "compute: %s: bg/nbd fit of %zu customers: method %d, %d iterations, %.3f s",
	     nt->ptext, n, res->bg.method, res->bg.iters, secs);
	if (res->bg.method == CLV_BOUNDARY)
		note(nt, LOG_INFO,
		     "compute: %s: the bg/nbd likelihood is highest at the edge of its parameter "
		     "space (r %.3g, alpha %.3g, a %.3g, b %.3g): predictions use the best point found",
		     nt->ptext, res->bg.r, res->bg.alpha, res->bg.a, res->bg.b);
}

static void note_gg(struct notes *nt, const struct clv_gg *gg, double secs)
{
	note(nt, LOG_DEBUG,
	     "compute: %s: gamma-gamma fit of %zu customers: method %d, %d iterations, %.3f s",
	     nt->ptext, gg->n, gg->method, gg->iters, secs);
	if (gg->method == CLV_BOUNDARY)
		note(nt, LOG_INFO,
		     "compute: %s: the gamma-gamma likelihood is highest at the edge of its "
		     "parameter space (p %.3g, q %.3g, gamma %.3g): predictions use the best "
		     "point found", nt->ptext, gg->p, gg->q, gg->gamma);
	if (fabs(gg->corr_x_spend) > GG_CORR_WARN)
		note(nt, LOG_WARN,
		     "compute: %s: spend per purchase correlates with repeat purchases "
		     "(r = %.2f); the Gamma-Gamma model assumes they are independent",
		     nt->ptext, gg->corr_x_spend);
}

#define NO_POSITIVE_SPEND "no repeat purchase with a positive amount"

/*
 * The fits of the same inputs from the cache, with the notes a fit of
 * them gives: 1 when found, 0 when the period must be fitted.
 */
static int fits_from_cache(struct notes *nt, const struct inputs *in,
			   const struct met_clv_cache *cache, const char *key,
			   struct met_clv_res *res)
{
	struct fitc_entry en;

	if (!fitc_load(cache->path, key, &en))
		return 0;
	note(nt, LOG_DEBUG, "compute: %s: the fits of these %zu customers come from %s",
	     nt->ptext, in->n, cache->path);
	res->bg = en.bg;
	res->fitted = 1;
	note_bg(nt, res, in->n, 0);
	if (en.gg_fitted) {
		res->gg = en.gg;
		res->gg_fitted = 1;
		note_gg(nt, &res->gg, 0);
	} else {
		note(nt, LOG_WARN, "compute: %s: %s: no predicted spend", nt->ptext,
		     NO_POSITIVE_SPEND);
	}
	return 1;
}

/* Keep a period's fits (only those a refit would repeat word for word: no failed fit). */
static void fits_to_cache(struct notes *nt, const struct met_clv_cache *cache, const char *key,
			  const struct met_clv_res *res, size_t gg_customers)
{
	struct fitc_entry en;

	if (!res->fitted || (!res->gg_fitted && gg_customers))
		return;
	memset(&en, 0, sizeof(en));
	en.bg = res->bg;
	en.gg_fitted = res->gg_fitted;
	if (res->gg_fitted)
		en.gg = res->gg;
	if (fitc_save(cache->path, key, &en))
		note(nt, LOG_DEBUG, "compute: %s: could not keep the fits in %s", nt->ptext,
		     cache->path);
}

static int fit(struct notes *nt, const struct inputs *in, const struct met_clv_cache *cache,
	       struct met_clv_res *res, struct crm_err *e)
{
	struct crm_err fe = { 0 };
	struct gg_job j;
	struct clv_cust *pos;
	pthread_t th;
	size_t i;
	int threaded = 0, bg_rc;
	double t0;

	if (in->n < MIN_BUYERS || in->n_repeat < MIN_REPEAT) {
		note(nt, LOG_WARN,
		     "compute: %s: %zu customers with a purchase, %zu with a repeat purchase: "
		     "too few to fit (%d and %d needed): no predictive CLV",
		     nt->ptext, in->n, in->n_repeat, MIN_BUYERS, MIN_REPEAT);
		return 0;
	}
	memset(&j, 0, sizeof(j));
	if (cache && cache->path) {
		/* the key now when there is an entry to compare it with, else beside the fits */
		if (cache->reuse && access(cache->path, F_OK) == 0) {
			fitc_key_days(in->key, in->txd, in->c, in->n, cache->salt, j.key);
			if (fits_from_cache(nt, in, cache, j.key, res))
				return 0;
		} else {
			j.key_of = in;
			j.salt = cache->salt;
		}
	}
	/* Gamma-Gamma needs a positive spend: repeat days worth 0 are left out of its fit */
	pos = malloc(in->n_repeat * sizeof(*pos));
	if (!pos)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	j.pos = pos;
	for (i = 0; i < in->n; i++)
		if (in->c[i].x > 0 && in->c[i].mean_spend > 0)
			pos[j.k++] = in->c[i];
	if (j.k || j.key_of)
		threaded = pthread_create(&th, NULL, gg_main, &j) == 0;
	t0 = log_seconds();
	bg_rc = clv_bgnbd_fit(in->c, in->n, &res->bg, &fe);
	if (threaded)
		pthread_join(th, NULL);
	else
		gg_main(&j);
	free(pos);
	if (fe.code == CRM_E_NOMEM || j.e.code == CRM_E_NOMEM)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	if (bg_rc) {
		note(nt, LOG_WARN, "compute: %s: %s: no predictive CLV", nt->ptext, fe.msg);
		return 0;
	}
	res->fitted = 1;
	note_bg(nt, res, in->n, log_seconds() - t0);
	if (j.k && j.rc == 0) {
		res->gg = j.gg;
		res->gg_fitted = 1;
		note_gg(nt, &j.gg, j.secs);
	} else {
		note(nt, LOG_WARN, "compute: %s: %s: no predicted spend", nt->ptext,
		     j.k ? j.e.msg : NO_POSITIVE_SPEND);
	}
	if (cache && cache->path)
		fits_to_cache(nt, cache, j.key, res, j.k);
	return 0;
}

/*
 * Predictions take two passes. Over the distinct (x, T), ranked in
 * ascending order (rank.h: a hash probe per customer, no sort of the
 * customers): each pair's horizon curve (the series) and the logs
 * P(alive) needs. Then over the customers in index order, which reads
 * and writes every per-customer array in sequence: P(alive) from the
 * cached logs and ln(alpha + t_x) per whole day of t_x, one exp per
 * customer. Within a pair, customers come in index order, so every sum
 * is the same in any run.
 */
struct groups {
	size_t n;
	double *core;       /* [g * (H + 1) + k]: E[Y(k months) | alive] of pair g */
	/*
	 * What a customer of pair g reads, in one place (a customer's pair
	 * is anywhere in the table: one cache line, not five): the logs of
	 * P(alive), E[Y(H) | alive], the discounted sum of the monthly
	 * increments, and the sum of its customers' P(alive).
	 */
	struct pair_pred {
		double c1, rx, lT, eH, dsum, wsum;
	} *pp;
	uint32_t *gid;      /* of in->c[j]: its pair */
};

static void groups_release(struct groups *gr)
{
	free(gr->core);
	free(gr->pp);
	free(gr->gid);
	memset(gr, 0, sizeof(*gr));
}

/*
 * From MET_CLV_CURVES_SPLIT_MIN pairs up the curves are made in two
 * halves, the second on a thread of its own: it is the predictions'
 * costly part, and the main thread is mostly waiting for the fits then.
 * Each pair's numbers depend on that pair only, so the halves give the
 * same bits as one pass.
 */
struct curves_job {
	const uint64_t *keys;   /* ascending x << 32 | T in days */
	size_t lo, hi;          /* the pairs of this job */
	double monthly_rate;
	const struct met_clv_res *res;
	struct groups *gr;
};

/*
 * The curves and logs of the pairs keys[lo..hi): the curves of the pairs
 * of one x in one call (clv_bgnbd_expected_alive_curves, which shares
 * their series' ratios), then each pair's logs and discounted sum.
 */
static void *curves_range(void *arg)
{
	const struct curves_job *j = arg;
	const struct clv_bgnbd *bg = &j->res->bg;
	struct groups *gr = j->gr;
	double t[MET_CLV_MAX_HORIZON], *T = NULL;
	int H = j->res->horizon, k;
	size_t i, e, cap = 0;

	for (k = 1; k <= H; k++)
		t[k - 1] = k * CLV_MONTH_WEEKS;
	for (i = j->lo; i < j->hi; i = e) {
		/* the pairs from their keys, as gather() computed x and T */
		double x = (double)(uint32_t)(j->keys[i] >> 32);

		for (e = i; e < j->hi && j->keys[e] >> 32 == j->keys[i] >> 32; e++)
			;
		if (e - i > cap) {
			double *nt = realloc(T, (e - i) * sizeof(*T));

			if (nt) {
				T = nt;
				cap = e - i;
			} else {
				e = i + 1; /* out of memory: a pair at a time */
			}
		}
		if (e - i <= cap) {
			for (k = 0; i + (size_t)k < e; k++)
				T[k] = (double)(uint32_t)j->keys[i + (size_t)k] / 7.0;
			clv_bgnbd_expected_alive_curves(bg, x, T, e - i, t, H,
							gr->core + i * (size_t)(H + 1) + 1,
							(size_t)(H + 1));
		} else {
			clv_bgnbd_expected_alive_curve(bg, x, (double)(uint32_t)j->keys[i] / 7.0, t, H,
						       gr->core + i * (size_t)(H + 1) + 1);
		}
	}
	free(T);
	for (i = j->lo; i < j->hi; i++) {
		double x = (double)(uint32_t)(j->keys[i] >> 32), T1 = (double)(uint32_t)j->keys[i] / 7.0;
		double *core = gr->core + i * (size_t)(H + 1), disc = 1, dsum = 0;

		core[0] = 0;
		for (k = 1; k <= H; k++) {
			disc /= 1 + j->monthly_rate;
			dsum += (core[k] - core[k - 1]) * disc;
		}
		gr->pp[i].dsum = dsum;
		gr->pp[i].c1 = x > 0 ? log(bg->a) - log(bg->b + x - 1) : 0;
		gr->pp[i].rx = bg->r + x;
		gr->pp[i].lT = log(bg->alpha + T1);
		gr->pp[i].eH = core[H];
		gr->pp[i].wsum = 0;
	}
	return NULL;
}

/* The curves and logs of the pairs keys[0..g). */
static int group_curves(const uint64_t *keys, size_t g, double monthly_rate,
			const struct met_clv_res *res, struct groups *gr)
{
	struct curves_job whole = { keys, 0, g, monthly_rate, res, gr }, top;
	pthread_t th;
	int threaded = 0;

	gr->n = g;
	gr->core = malloc((g ? g : 1) * (size_t)(res->horizon + 1) * sizeof(double));
	gr->pp = malloc((g ? g : 1) * sizeof(*gr->pp));
	if (!gr->core || !gr->pp)
		return -1;
	top = whole;
	if (g >= MET_CLV_CURVES_SPLIT_MIN && cpus_usable() >= 2) {
		top.lo = whole.hi = g / 2;
		threaded = pthread_create(&th, NULL, curves_range, &top) == 0;
		if (!threaded)
			whole.hi = g;
	}
	curves_range(&whole);
	if (threaded)
		pthread_join(th, NULL);
	return 0;
}

/* ln(alpha + d / 7) for d = 0 .. the longest t_x in days. */
static double *log_table(const struct inputs *in, double alpha)
{
	int32_t maxd = 0, d;
	double *t;
	size_t i;

	for (i = 0; i < in->n; i++)
		if (in->txd[i] > maxd)
			maxd = in->txd[i];
	t = malloc(((size_t)maxd + 1) * sizeof(*t));
	for (d = 0; t && d <= maxd; d++)
		t[d] = log(alpha + (double)d / 7.0);
	return t;
}

/*
 * Every customer's P(alive), expected purchases and value, in index
 * order: those of the modelled customers, NAN for the others (and for
 * value without a Gamma-Gamma fit), each array written once.
 */
static void predict_customers(const struct inputs *in, const double *ltx, struct groups *gr,
			      struct met_clv_res *res)
{
	uint32_t i = 0, n = res->n;
	size_t j;

	for (j = 0; j <= in->n; j++) {
		uint32_t next = j < in->n ? in->who[j] : n;
		const struct clv_cust *c = &in->c[j];
		struct pair_pred *pp;
		double pa;

		for (; i < next; i++)
			res->p_alive[i] = res->expected[i] = res->value[i] = NAN;
		if (j == in->n)
			break;
		pp = &gr->pp[gr->gid[j]];
		pa = c->x > 0 ? clv_bgnbd_p_alive_parts(pp->c1, pp->rx, pp->lT, ltx[in->txd[j]]) : 1;
		res->p_alive[i] = pa;
		res->expected[i] = pa * pp->eH;
		pp->wsum += pa;
		if (res->gg_fitted) {
			double spend = clv_gg_mean_spend(&res->gg, c->x, c->mean_spend > 0 ? c->mean_spend : 0);

			res->value[i] = pa * pp->dsum * spend * in->margin[j];
		} else {
			res->value[i] = NAN;
		}
		i++;
	}
}

/*
 * The distinct keys (x << 32 | T in days) of the inputs, ascending, into
 * *keys (*nk of them), and each customer's rank among them into gid: by
 * a table over (x, T) when it is small (some hundred x by some thousand
 * days: a count and a scan, no hash probe per customer), else by rank.h.
 * The same ranks and keys either way. -1 when out of memory.
 */
#define PAIR_TABLE_MAX ((uint64_t)1 << 24)

static int pair_ranks(const struct inputs *in, uint32_t *gid, uint64_t **keys, size_t *nk)
{
	uint64_t maxx = 0, maxt = 0, cells;
	uint32_t *tab;
	size_t j, c;

	*keys = NULL;
	*nk = 0;
	for (j = 0; j < in->n; j++) {
		uint64_t x = in->key[j] >> 32, t = (uint32_t)in->key[j];

		maxx = x > maxx ? x : maxx;
		maxt = t > maxt ? t : maxt;
	}
	cells = (maxx + 1) * (maxt + 1);
	if (cells > PAIR_TABLE_MAX || cells > 8 * (uint64_t)in->n + 4096 ||
	    (fault_flags & MET_CLV_FAULT_HASH_PAIRS)) {
		struct rank pairs;
		int ok = rank_init(&pairs) == 0;

		for (j = 0; ok && j < in->n; j++)
			ok = rank_add(&pairs, in->key[j], &gid[j]) == 0;
		ok = ok && rank_finish(&pairs, gid, in->n) == 0;
		if (ok) {
			*keys = pairs.keys; /* taken over */
			*nk = pairs.n;
			pairs.keys = NULL;
		}
		rank_release(&pairs);
		return ok ? 0 : -1;
	}
	if (!(tab = calloc((size_t)cells, sizeof(*tab))))
		return -1;
#define CELL(k) ((size_t)((k) >> 32) * (size_t)(maxt + 1) + (uint32_t)(k))
	for (j = 0; j < in->n; j++)
		tab[CELL(in->key[j])] = 1;
	for (c = 0; c < cells; c++)
		*nk += tab[c];
	if (!(*keys = malloc((*nk ? *nk : 1) * sizeof(**keys)))) {
		free(tab);
		return -1;
	}
	for (c = 0, *nk = 0; c < cells; c++)
		if (tab[c]) {
			(*keys)[*nk] = (uint64_t)(c / (maxt + 1)) << 32 | (uint64_t)(c % (maxt + 1));
			tab[c] = (uint32_t)(*nk)++;
		}
	for (j = 0; j < in->n; j++)
		gid[j] = tab[CELL(in->key[j])];
#undef CELL
	free(tab);
	return 0;
}

/* Predictions of every modelled customer and the forecast of the period. */
static int predict(const struct inputs *in, double monthly_rate, struct met_clv_res *res)
{
	struct groups gr = { 0 };
	uint64_t *keys = NULL;
	double *ltx = NULL;
	size_t g, nk;
	int k, rc = -1;

	gr.gid = malloc((in->n ? in->n : 1) * sizeof(*gr.gid));
	if (!gr.gid || pair_ranks(in, gr.gid, &keys, &nk) ||
	    group_curves(keys, nk, monthly_rate, res, &gr) ||
	    !(ltx = log_table(in, res->bg.alpha)))
		goto out;
	predict_customers(in, ltx, &gr, res);
	for (g = 0; g < gr.n; g++)
		for (k = 1; k <= res->horizon; k++)
			res->forecast[k] += gr.pp[g].wsum * gr.core[g * (size_t)(res->horizon + 1) + (size_t)k];
	rc = 0;
out:
	free(keys);
	free(ltx);
	groups_release(&gr);
	return rc;
}

/* An owned array of n doubles, all NAN; NULL when out of memory. */
static double *nan_array(uint32_t n)
{
	double *v = malloc((n ? n : 1) * sizeof(*v));
	uint32_t i;

	for (i = 0; v && i < n; i++)
		v[i] = NAN;
	return v;
}

/*
 * A period's fits and predictions, from its own copy of the inputs. The
 * copy is made on the job's thread (gather: a pass over every customer),
 * not the caller's; h, first and last are the caller's until then
 * (taken, met_clv_wait_inputs).
 */
struct met_clv_job {
	const struct met_clv_hist *h;
	const int32_t *first, *last;
	int32_t L;
	pthread_mutex_t mu;
	pthread_cond_t taken_cv;
	int taken;               /* under mu: h, first and last are no longer read */
	struct inputs in;
	uint32_t n;
	int horizon;
	double monthly_rate;
	char ptext[MET_CLV_PTEXT_MAX];
	struct met_clv_cache cache; /* path and salt point into cache_text */
	char *cache_text;
	struct met_clv_res res;
	struct notes notes;      /* its log lines, until met_clv_finish */
	struct crm_err err;
	pthread_t thread;
	int running, rc;
};

static void job_free(struct met_clv_job *j)
{
	inputs_release(&j->in);
	met_clv_res_release(&j->res);
	free(j->cache_text);
	notes_end(&j->notes, 0);
	pthread_cond_destroy(&j->taken_cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* The job's copy of the inputs; then the caller may change the history. */
static int job_gather(struct met_clv_job *j)
{
	int rc = gather(j->h, j->first, j->last, j->n, j->L, &j->in);

	pthread_mutex_lock(&j->mu);
	j->taken = 1;
	j->h = NULL;
	j->first = j->last = NULL;
	pthread_cond_broadcast(&j->taken_cv);
	pthread_mutex_unlock(&j->mu);
	return rc;
}

/*
 * Everything a period's fits and predictions give, into j->res. The
 * prediction arrays are made after the fits: with two periods in flight,
 * the peak is lower when a fitting job does not hold them yet.
 */
static void *job_main(void *arg)
{
	struct met_clv_job *j = arg;
	struct met_clv_res *res = &j->res;
	const struct inputs *in = &j->in;
	size_t i;

	if (job_gather(j))
		goto nomem;
	res->n = j->n;
	res->horizon = j->horizon;
	res->n_model = in->n;
	res->days = calloc(j->n ? j->n : 1, sizeof(*res->days));
	if (!res->days || !(res->mean_spend = nan_array(j->n)))
		goto nomem;
	for (i = 0; i < in->n; i++) {
		res->days[in->who[i]] = (uint32_t)in->c[i].x + 1;
		if (in->c[i].x > 0)
			res->mean_spend[in->who[i]] = in->c[i].mean_spend;
	}
	if ((j->rc = fit(&j->notes, in, j->cache.path ? &j->cache : NULL, res, &j->err)))
		return NULL;
	if (!res->fitted) {
		if (!(res->expected = nan_array(j->n)) || !(res->p_alive = nan_array(j->n)) ||
		    !(res->value = nan_array(j->n)))
			goto nomem;
	} else {
		/* predict writes every entry */
		size_t k = j->n ? j->n : 1;

		if (!(res->expected = malloc(k * sizeof(double))) ||
		    !(res->p_alive = malloc(k * sizeof(double))) ||
		    !(res->value = malloc(k * sizeof(double))) ||
		    predict(in, j->monthly_rate, res))
			goto nomem;
	}
	/* the result may wait for its period a while: not with the inputs */
	inputs_release(&j->in);
	memset(&j->in, 0, sizeof(j->in));
	return NULL;
nomem:
	j->rc = err_set(&j->err, CRM_E_NOMEM, "out of memory");
	return NULL;
}

/* A copy of the cache's path and salt, which the caller need not keep. */
static int job_cache(struct met_clv_job *j, const struct met_clv_cache *cache)
{
	size_t lp, ls;

	if (!cache || !cache->path)
		return 0;
	lp = strlen(cache->path);
	ls = strlen(cache->salt);
	if (!(j->cache_text = malloc(lp + ls + 2)))
		return -1;
	memcpy(j->cache_text, cache->path, lp + 1);
	memcpy(j->cache_text + lp + 1, cache->salt, ls + 1);
	j->cache.path = j->cache_text;
	j->cache.salt = j->cache_text + lp + 1;
	j->cache.reuse = cache->reuse;
	return 0;
}

int met_clv_start(const struct met_clv_hist *h, const int32_t *first, const int32_t *last,
		  uint32_t n, int32_t L, int horizon, double monthly_rate, const char *ptext,
		  const struct met_clv_cache *cache, struct met_clv_job **out, struct crm_err *e)
{
	struct met_clv_job *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (!j)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->taken_cv, NULL);
	j->h = h;
	j->first = first;
	j->last = last;
	j->L = L;
	j->n = n;
	j->horizon = horizon < 1 ? 1 : horizon > MET_CLV_MAX_HORIZON ? MET_CLV_MAX_HORIZON : horizon;
	j->monthly_rate = monthly_rate;
	snprintf(j->ptext, sizeof(j->ptext), "%s", ptext);
	j->notes.ptext = j->ptext;
	if (job_cache(j, cache)) {
		job_free(j);
		return err_set(e, CRM_E_NOMEM, "out of memory");
	}
	if (pthread_create(&j->thread, NULL, job_main, j) == 0)
		j->running = 1;
	else
		job_main(j); /* no thread: now */
	*out = j;
	return 0;
}

void met_clv_wait_inputs(struct met_clv_job *j)
{
	pthread_mutex_lock(&j->mu);
	while (!j->taken)
		pthread_cond_wait(&j->taken_cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
}

int met_clv_finish(struct met_clv_job *j, struct met_clv_res *res, struct crm_err *e)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if (j->running)
		pthread_join(j->thread, NULL);
	notes_end(&j->notes, 1);
	rc = j->rc;
	if (rc)
		*e = j->err;
	else
		*res = j->res;
	if (!rc)
		memset(&j->res, 0, sizeof(j->res));
	job_free(j);
	return rc;
}

void met_clv_drop(struct met_clv_job *j)
{
	if (j->running)
		pthread_join(j->thread, NULL);
	job_free(j);
}

int met_clv_period(const struct met_clv_hist *h, const int32_t *first, const int32_t *last,
		   uint32_t n, int32_t L, int horizon, double monthly_rate, const char *ptext,
		   const struct met_clv_cache *cache, struct met_clv_res *res, struct crm_err *e)
{
	struct met_clv_job *j;
	int rc = met_clv_start(h, first, last, n, L, horizon, monthly_rate, ptext, cache, &j, e);

	if (rc) {
		memset(res, 0, sizeof(*res));
		return rc;
	}
	return met_clv_finish(j, res, e);
}
