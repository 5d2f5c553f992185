/*
 * met_clv.h - predictive CLV inside compute (METRICS.md clv_predicted):
 * the per-customer purchase-day history the month walk keeps, and per
 * period the BG/NBD and Gamma-Gamma fits (clv.h) with each customer's
 * expected purchases, P(alive) and discounted value.
 *
 * Lifecycle: met_clv_hist_init -> met_clv_hist_add for every completed
 * order, in day order per customer -> met_clv_period (or met_clv_start
 * then met_clv_finish) for each period -> met_clv_hist_release. Each
 * period fills a struct met_clv_res the caller releases with
 * met_clv_res_release (the per-customer file writer takes it over on its
 * own thread).
 *
 * Deterministic: the fits and predictions see customers in index order and
 * group them by (x, t_x, T) and (x, T) in ascending order, so a period gives
 * bit-identical results whatever other periods are computed in the same
 * call.
 */
#ifndef CRM_MET_CLV_H
#define CRM_MET_CLV_H

#include <stddef.h>
#include <stdint.h>

#include "clv.h"
#include "err.h"

#define MET_CLV_MAX_HORIZON 120

/* Distinct (x, T) pairs from which a period's curves are made on two threads. */
#define MET_CLV_CURVES_SPLIT_MIN 8192

/* Per customer, owned arrays of n: everything before the walk's boundary. */
struct met_clv_hist {
	uint32_t *days;      /* distinct days with a completed order */
	int64_t *first_amt;  /* completed amount of the first of those days */
	int64_t *amt, *cost; /* completed amount and cost over all of them */
};

int met_clv_hist_init(struct met_clv_hist *h, uint32_t n);
void met_clv_hist_release(struct met_clv_hist *h);

/*
 * One completed order of customer c on `day`, `last` being the customer's
 * latest purchase day before this order (any value < first when none) and
 * `first` its first purchase day. Orders of one customer must come in day
 * order (the period files sort orders by time and the walk goes by month).
 */
static inline void met_clv_hist_add(struct met_clv_hist *h, uint32_t c, int32_t day,
				    int32_t last, int32_t first, int64_t amt, int64_t cost)
{
	h->days[c] += day > last;
	if (day == first)
		h->first_amt[c] += amt;
	h->amt[c] += amt;
	h->cost[c] += cost;
}

/* One period's models and per-customer predictions. */
struct met_clv_res {
	int fitted;          /* bg holds a fit (else every prediction is NAN) */
	int gg_fitted;       /* gg holds a fit (else values are NAN) */
	struct clv_bgnbd bg;
	struct clv_gg gg;
	uint32_t n;          /* customers (array length) */
	size_t n_model;      /* customers with a purchase day before the boundary */
	int horizon;         /* months */
	double forecast[MET_CLV_MAX_HORIZON + 1]; /* [k]: expected repeat purchase
						     days of all modelled customers
						     in the next k months */
	/* owned arrays of n; NAN for customers without a purchase day */
	double *mean_spend;  /* of the repeat purchase days, currency units */
	double *expected;    /* expected purchase days over the horizon */
	double *p_alive;
	double *value;       /* discounted value over the horizon, currency units */
	uint32_t *days;      /* owned array of n: h->days at the period's end (0: none) */
};

/*
 * Where a period's fits are kept between computes (fitc.h): path NULL for
 * none; reuse 0 (--force) fits anyway and stores the new fits.
 */
struct met_clv_cache {
	const char *path;
	const char *salt;
	int reuse;
};

/*
 * Fit the models for the period whose last day is L (days since 1970) and
 * predict every customer: first[c] and last[c] are the first and latest
 * purchase days (meaningful when h->days[c] > 0). A period with too
 * little data (fewer than 30 customers with a purchase or 10 with a repeat
 * purchase day), or whose fit finds no finite point, is not an error:
 * res->fitted or res->gg_fitted stays 0 and a warning names the period
 * `ptext`. A maximum on the boundary is logged and used (CLV_BOUNDARY).
 * With `cache` (may be NULL), fits of the same inputs by the same program
 * are taken from it, and new fits stored in it. Errors: CRM_E_NOMEM.
 */
int met_clv_period(const struct met_clv_hist *h, const int32_t *first, const int32_t *last,
		   uint32_t n, int32_t L, int horizon, double monthly_rate, const char *ptext,
		   const struct met_clv_cache *cache, struct met_clv_res *res, struct crm_err *e);

/*
 * The same in two steps, so that the caller may go on (and advance the
 * history) while the period is fitted: met_clv_start runs the fits and
 * predictions on a thread of their own, which first copies what it needs
 * of h, first and last (ptext and cache are copied at once). The caller
 * must not change h, first or last until met_clv_wait_inputs has
 * returned. met_clv_finish waits for the results, fills *res and frees
 * the job; every started job must be finished. The results are those of
 * met_clv_period, whatever else runs meanwhile. Errors of met_clv_start:
 * CRM_E_NOMEM (then *job is NULL); met_clv_finish returns the errors of
 * met_clv_period.
 */
#define MET_CLV_PTEXT_MAX 32
struct met_clv_job;
int met_clv_start(const struct met_clv_hist *h, const int32_t *first, const int32_t *last,
		  uint32_t n, int32_t L, int horizon, double monthly_rate, const char *ptext,
		  const struct met_clv_cache *cache, struct met_clv_job **job, struct crm_err *e);
void met_clv_wait_inputs(struct met_clv_job *job);
int met_clv_finish(struct met_clv_job *job, struct met_clv_res *res, struct crm_err *e);

/*
 * A job's log lines are kept until met_clv_finish logs them, so periods
 * log in the order they are finished, not as their fits happen to end.
 * met_clv_drop (after an error elsewhere) waits for the job and frees it,
 * its results and log lines unused.
 */
void met_clv_drop(struct met_clv_job *job);

void met_clv_res_release(struct met_clv_res *res);

/*
 * Fault hook for the tests: with MET_CLV_FAULT_HASH_PAIRS set, the
 * predictions rank their (x, T) pairs by hashing (rank.h) also where a
 * table would do. Not thread-safe; 0 (the default) in production.
 */
#define MET_CLV_FAULT_HASH_PAIRS 1
void met_clv_set_fault(int flags);

#endif
