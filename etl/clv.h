/*
 * clv.h - predictive customer lifetime value: the BG/NBD model of future
 * purchases and P(alive) (Fader, Hardie & Lee 2005, "Counting Your
 * Customers the Easy Way", Marketing Science 24(2)), the Gamma-Gamma model
 * of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV", JMR
 * 42(4); Fader & Hardie 2013 note "The Gamma-Gamma Model of Monetary
 * Value"), and the discounted value of the expected purchases.
 *
 * Invariants of the inputs (struct clv_cust):
 *   x      repeat purchase days (distinct purchase days after the first),
 *          a whole number >= 0
 *   t_x    weeks from the first purchase day to the last one, 0 when x = 0
 *   T      weeks from the first purchase day to the end of calibration,
 *          T >= t_x >= 0
 *   mean_spend  mean amount of the repeat purchase days (same-day amounts
 *          summed), > 0 when x > 0; ignored when x = 0. Money in any unit;
 *          clv_value() returns the same unit.
 *
 * Lifecycle: the fits allocate scratch and free it before returning; every
 * other function is pure and allocates nothing. Same input in the same
 * order -> bit-identical parameters (fixed starts, fixed iteration and
 * summation order, no threads).
 *
 * Errors (err.h): CRM_E_INPUT for an invalid or empty input (the message
 * names the first offending customer index in `line`, 1-based),
 * CRM_E_NOMEM, CRM_E_DATA when no optimiser reached a finite point (a
 * maximum on the boundary is not an error: see CLV_BOUNDARY).
 */
#ifndef CRM_CLV_H
#define CRM_CLV_H

#include <stddef.h>

#include "err.h"

struct clv_cust {
	double x;          /* repeat purchase days */
	double t_x, T;     /* weeks */
	double mean_spend; /* money per repeat purchase day; any value when x = 0 */
};

/* How a fit ended. */
enum clv_method {
	CLV_BFGS = 1,
	CLV_NELDER_MEAD = 2,
	/*
	 * No optimiser converged: the best finite point found. The maximum of
	 * the likelihood lies on the edge of the parameter space (say a, b ->
	 * infinity: everybody drops out alike; a -> 0: nobody drops out), and
	 * the parameters approach that limit model; predictions are usable,
	 * the parameters themselves not comparable across periods.
	 */
	CLV_BOUNDARY = 3
};

/* BG/NBD parameters: purchase rate ~ Gamma(r, alpha) (alpha is a rate, per week), dropout p ~ Beta(a, b). */
struct clv_bgnbd {
	double r, alpha, a, b;
	double ll;          /* maximised log-likelihood (sum over customers) */
	int method;         /* enum clv_method that produced the optimum */
	int iters;          /* optimiser iterations of that method */
	double grad_norm;   /* max |d(-LL/n)/d log param| at the optimum */
};

/* Gamma-Gamma parameters: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, gamma). */
struct clv_gg {
	double p, q, gamma;
	double ll;          /* log-likelihood over the customers with x > 0 */
	size_t n;           /* customers with x > 0 that were fitted */
	double corr_x_spend; /* Pearson correlation of x and mean_spend over them (NAN if undefined) */
	int method, iters;
	double grad_norm;
};

/*
 * Maximum-likelihood fit of the BG/NBD model to n customers (n >= 1, at
 * least one with x > 0). The optimiser works on log-parameters: BFGS with
 * the analytic gradient from a fixed start, then, if that does not
 * converge, Nelder-Mead from several fixed starts polished by BFGS.
 * Customers with the same (x, t_x, T) are merged first (exactly: the
 * likelihood is a sum), which makes daily data of millions of customers
 * cheap. Above 5,000 customers the start is the optimum of a systematic
 * subsample of about 2,500, polished on all. The search has a budget of
 * evaluations (a count, not a clock): a maximum on the boundary ends as
 * method CLV_BOUNDARY with the best point found, not as an error.
 */
int clv_bgnbd_fit(const struct clv_cust *c, size_t n, struct clv_bgnbd *out,
		  struct crm_err *e);

/* One customer's BG/NBD log-likelihood (the A1..A4 form of the paper). */
double clv_bgnbd_ll1(const struct clv_bgnbd *m, double x, double t_x, double T);

/* Expected repeat purchases in (T, T + t] for a customer with history (x, t_x, T). */
double clv_bgnbd_expected(const struct clv_bgnbd *m, double x, double t_x, double T,
			  double t);

/*
 * The same expectation for a customer known to be alive at T: it depends on
 * (x, T) only, so callers with many customers compute it once per distinct
 * (x, T) and multiply by each customer's P(alive).
 */
double clv_bgnbd_expected_alive(const struct clv_bgnbd *m, double x, double T, double t);

/*
 * clv_bgnbd_expected_alive at t[0..n) into out[0..n), bit for bit, with the
 * work that does not depend on t done once (a horizon's curve).
 */
void clv_bgnbd_expected_alive_curve(const struct clv_bgnbd *m, double x, double T,
				    const double *t, int n, double *out);

/*
 * The curves of np customers of the same x at T[0..np): into
 * out[p stride + i] clv_bgnbd_expected_alive(m, x, T[p], t[i]) for i
 * below n (stride >= n), bit for bit. The series of one x share their
 * term ratios, whatever T: this runs them side by side.
 */
void clv_bgnbd_expected_alive_curves(const struct clv_bgnbd *m, double x, const double *T,
				     size_t np, const double *t, int n, double *out, size_t stride);

/* P(alive at T | x, t_x, T): 1 when x = 0 (the model cannot die before its first repeat). */
double clv_bgnbd_p_alive(const struct clv_bgnbd *m, double x, double t_x, double T);

/*
 * The same from its parts, for callers that reuse the logs across
 * customers (x > 0): c1 = ln a - ln(b + x - 1), rx = r + x, lT =
 * ln(alpha + T), ltx = ln(alpha + t_x). Bit-identical to the above.
 */
double clv_bgnbd_p_alive_parts(double c1, double rx, double lT, double ltx);

/* E[X(t)]: expected repeat purchases of a new customer in its first t weeks. */
double clv_bgnbd_population(const struct clv_bgnbd *m, double t);

/*
 * Gamma-Gamma maximum-likelihood fit on the customers with x > 0 (at least
 * one; mean_spend must be > 0 for them). Fills corr_x_spend; the caller
 * warns when it is large (the model assumes spend independent of x).
 */
int clv_gg_fit(const struct clv_cust *c, size_t n, struct clv_gg *out, struct crm_err *e);

/* One customer's Gamma-Gamma log-likelihood (x > 0, mean_spend > 0). */
double clv_gg_ll1(const struct clv_gg *m, double x, double mean_spend);

/*
 * E[spend per purchase | x, mean_spend] = (p (gamma + x zbar)) / (p x + q - 1);
 * the population mean p gamma / (q - 1) when x = 0. NAN when q <= 1 and x = 0.
 */
double clv_gg_mean_spend(const struct clv_gg *m, double x, double mean_spend);

/* Pearson correlation of a and b over n pairs; NAN when n < 2 or a variance is 0. */
double clv_pearson(const double *a, const double *b, size_t n);

/* Defaults of clv_value (METRICS.md). */
#define CLV_HORIZON_MONTHS 12
#define CLV_MONTHLY_DISCOUNT 0.01
#define CLV_MONTH_WEEKS (365.25 / 12.0 / 7.0)

/*
 * Discounted value over `months` months: sum over m = 1..months of
 * (E[Y(m M)] - E[Y((m - 1) M)]) x spend x margin / (1 + rate)^m, with
 * M = CLV_MONTH_WEEKS, E the conditional expectation of clv_bgnbd_expected
 * and spend = clv_gg_mean_spend. margin = 1 when costs are unknown.
 */
double clv_value(const struct clv_bgnbd *m, const struct clv_gg *g, const struct clv_cust *c,
		 int months, double monthly_rate, double margin);

/*
 * Gauss hypergeometric 2F1(a, b; c; z) for z in (-1, 1) by its power
 * series (exported for the tests). NAN when the series does not converge
 * in the term budget.
 */
double clv_hyp2f1(double a, double b, double c, double z);

/*
 * Nelder-Mead minimisation of f over dim <= 8 variables from x (updated
 * in place to the best point), initial simplex step `step` on each axis,
 * stopping when the spread of f over the simplex is below ftol or after
 * max_iter iterations. Returns the iterations used, or -1 if max_iter was
 * reached. Deterministic. Exported for the tests.
 */
int clv_nelder_mead(double (*f)(const double *x, void *ctx), void *ctx, double *x, int dim,
		    double step, double ftol, int max_iter);

/*
 * Fault hook for the tests: with CLV_FAULT_BFGS set, the first BFGS attempt
 * of each fit counts as not converged, so the Nelder-Mead fallback runs.
 * Not thread-safe; 0 (the default) in production.
 */
#define CLV_FAULT_BFGS 1
/* CLV_FAULT_SCALAR: the BG/NBD sums one block at a time (bg_group), as before lanes. */
#define CLV_FAULT_SCALAR 2
/* CLV_FAULT_HASH: ranks by hashing (rank.h) also where tables of days would do (both fits). */
#define CLV_FAULT_HASH 4
void clv_set_fault(int flags);

#endif
