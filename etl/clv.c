/*
 * clv.c - the pure model code of predictive CLV (clv.h): BG/NBD and
 * Gamma-Gamma maximum likelihood, conditional expectations, P(alive) and
 * the discounted value.
 *
 * Owns nothing between calls. Does not read period files or write rows
 * (met.c gathers x, t_x, T and mean spend and writes the metrics).
 *
 * Numerics, and why:
 * - The BG/NBD log-likelihood is the A1..A4 form of Fader, Hardie & Lee
 *   (2005): lgamma differences instead of gamma ratios, and the last term
 *   ln(e^A3 + e^A4) by log-sum-exp, so x in the thousands and T in the
 *   hundreds of weeks neither overflow nor lose the smaller term.
 * - A1 and A2 depend on x only: customers are sorted by (x, t_x, T),
 *   identical triples merged with a weight, and A1, A2 and their digamma
 *   derivatives computed once per distinct x. Daily data of a million
 *   customers has far fewer distinct triples, so a fit costs a sort plus
 *   a few dozen passes over the distinct triples.
 * - Optimisation is on log-parameters (no bounds to handle) by BFGS with
 *   the analytic gradient; the objective is -LL / n so the tolerances do
 *   not depend on n. If BFGS does not converge, Nelder-Mead from fixed
 *   starts, then BFGS again from the best point. No random numbers, and a
 *   big BG/NBD evaluation sums two halves fixed by the data alone (the
 *   second on a worker thread when a CPU is free): the same input gives
 *   bit-identical parameters on any machine with the same libm.
 * - Sums run in a fixed order: plain within blocks of 256 terms (so the
 *   loops pipeline), Neumaier-compensated across blocks and groups. The
 *   BG/NBD blocks of a group run four at a time in the lanes of vectors
 *   (bg_group_lanes), each lane one block's sums in that block's order.
 * - lgamma and digamma differences at large arguments, and the
 *   Gamma-Gamma log(x zbar + gamma), are written so that nothing huge
 *   cancels (lgamma_shift, digamma_shift, log1p): the edge of the
 *   parameter space sits at parameters of 1e10 and more.
 * - The conditional expectation needs 1 - (1-z)^(r+x) 2F1(r+x, b+x;
 *   a+b+x-1; z) / (a - 1), which cancels badly near a = 1 and when t is
 *   small. It is rewritten (Pfaff and Euler transformations) so the factor
 *   a - 1 divides out analytically; see expected_core().
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clv.h"
#include "cpus.h"
#include "rank.h"
#include "sortx.h"

#include "banned.h"

#define LOG_LIMIT 30.0      /* |log parameter| beyond this: objective = +inf */
#define BFGS_MAX_ITER 300
#define BFGS_GTOL 1e-10     /* max |gradient| of -LL/n on log-parameters */
#define NM_MAX_ITER 2000
#define SERIES_MAX_TERMS 2000000
#define MAX_DIM 8
/*
 * Budget of one fit in distinct-customer terms, turned into a number of
 * objective evaluations (between EVALS_MIN and EVALS_MAX).
 */
#define TERM_BUDGET 5e6
#define EVALS_MIN 300
#define EVALS_MAX 1000
/*
 * Above SUB_MIN customers a fit starts from the optimum of a systematic
 * subsample of about SUB_TARGET (every k-th customer, so deterministic)
 * and is polished on all of them in at most POLISH_EVALS evaluations.
 */
#define SUB_MIN 5000
#define SUB_TARGET 2500
#define POLISH_EVALS 200
/*
 * A subsample whose optimum is on the edge may still have an interior one
 * on all customers: a short BFGS from its point looks along the edge
 * within this budget, a BFGS from the first fixed start (POLISH_EVALS)
 * looks inside, and else the best point is kept (CLV_BOUNDARY).
 */
#define EDGE_POLISH_EVALS 50
/* A log-parameter beyond +-EDGE_LOG: on the way to the edge. */
#define EDGE_LOG 8.0
/*
 * The leap along the edge (leap_along): once a step beyond EDGE_LOG
 * gains less than LEAP_FTOL of f, the parameters out there go on in the
 * same direction until the largest |log-parameter| is LEAP_TO. A leap
 * that does not lower f is tried again when the gain of a step has
 * fallen LEAP_RETRY times more, LEAP_TRIES times in all.
 */
#define LEAP_FTOL 1e-9
#define LEAP_TO 25.0
#define LEAP_STRIDE 0.25  /* the step took the largest |log-parameter| out by this much */
#define LEAP_RETRY 8.0
#define LEAP_TRIES 3
#define LEAP_CHECKS 3     /* points between start and end where f must keep falling */
#define LEAP_FALL_TOL 1e-11
#define LEAP_GTOL 1e-9    /* after a leap: max |g| of the parameters inside EDGE_LOG */

/* ------------------------------------------------------------- helpers */

static int fault_flags;

void clv_set_fault(int flags)
{
	fault_flags = flags;
}

struct ksum {
	double s, c;
};

static inline void ks_add(struct ksum *k, double v)
{
	double t = k->s + v;

	if (fabs(k->s) >= fabs(v))
		k->c += (k->s - t) + v;
	else
		k->c += (v - t) + k->s;
	k->s = t;
}

static inline double ks_val(const struct ksum *k)
{
	return k->s + k->c;
}

/* Digamma: recurrence up to x >= 6, then the asymptotic series (error < 1e-15). */
static double digamma(double x)
{
	double r = 0, f, f2;

	if (x <= 0 && x == floor(x))
		return NAN;
	if (x < 0) /* reflection; not reached by the fits (arguments > 0) */
		return digamma(1 - x) - M_PI / tan(M_PI * x);
	while (x < 6) {
		r -= 1 / x;
		x += 1;
	}
	f = 1 / x;
	f2 = f * f;
	return r + log(x) - 0.5 * f -
	       f2 * (1.0 / 12 - f2 * (1.0 / 120 - f2 * (1.0 / 252 - f2 * (1.0 / 240 -
	       f2 * (1.0 / 132 - f2 * (691.0 / 32760 - f2 / 12.0))))));
}

/*
 * lgamma(z + a) - lgamma(z) and digamma(z + a) - digamma(z) for z > 0,
 * a >= 0, accurate in absolute terms also when z is huge. The fits reach
 * parameters of 1e10 and more when the likelihood is highest at the edge
 * of the parameter space, and there the plain differences of two values
 * near 1e11 keep no digit of a difference near 1: the optimiser then
 * chases rounding noise. Above SHIFT_STIRLING, Stirling's series with the
 * large parts cancelled analytically (log1p); its first omitted term is at
 * most 1/(1680 x 64^7), about 1.4e-16, there.
 */
#define SHIFT_STIRLING 64.0

/*
 * lgamma without its side effect: lgamma() sets the global signgam, a data
 * race when the two fits run on two threads; lgamma_r() returns the sign
 * instead (the same values).
 */
static double lgam(double x)
{
	int sign;

	return lgamma_r(x, &sign);
}

/* Stirling's correction of lgamma: 1/(12t) - 1/(360t^3) + 1/(1260t^5). */
static double stirling_tail(double t)
{
	double f = 1 / t, f2 = f * f;

	return f * (1.0 / 12 - f2 * (1.0 / 360 - f2 / 1260));
}

static double lgamma_shift(double z, double a)
{
	double l;

	if (a == 0)
		return 0;
	if (z < SHIFT_STIRLING)
		return lgam(z + a) - lgam(z);
	/* (z+a-1/2) ln(z+a) - (z-1/2) ln z - a, with ln(z+a) = ln z + log1p(a/z) */
	l = log1p(a / z);
	return a * log(z) + ((z + a - 0.5) * l - a) + (stirling_tail(z + a) - stirling_tail(z));
}

/* digamma's asymptotic tail: -1/(2t) - 1/(12t^2) + 1/(120t^4) - 1/(252t^6). */
static double digamma_tail(double t)
{
	double f = 1 / t, f2 = f * f;

	return -0.5 * f - f2 * (1.0 / 12 - f2 * (1.0 / 120 - f2 / 252));
}

static double digamma_shift(double z, double a)
{
	if (a == 0)
		return 0;
	if (z < SHIFT_STIRLING)
		return digamma(z + a) - digamma(z);
	return log1p(a / z) + (digamma_tail(z + a) - digamma_tail(z));
}

/* ------------------------------------------------------------ optimisers */

typedef double (*fg_fn)(const double *th, double *g, void *ctx);

static double gmax(const double *g, int dim)
{
	double m = 0;
	int i;

	for (i = 0; i < dim; i++)
		if (!(fabs(g[i]) <= m))
			m = fabs(g[i]); /* NaN propagates */
	return m;
}

/*
 * BFGS on the inverse Hessian with a backtracking line search. A step is
 * accepted on the Armijo condition, or, once the decrease is below the
 * rounding of f, when f does not grow and the gradient shrinks (near the
 * optimum the gradient is the better guide). Returns 0 when max |g| <
 * BFGS_GTOL (or no step helps and max |g| < 1e-7), -1 otherwise.
 */
static int bfgs_h(fg_fn fg, void *ctx, double *th, int dim, int *iters, double *gnorm,
		  const double *H0, double *Hout, int leap);

static int bfgs(fg_fn fg, void *ctx, double *th, int dim, int *iters, double *gnorm)
{
	return bfgs_h(fg, ctx, th, dim, iters, gnorm, NULL, NULL, 0);
}

/*
 * Where the likelihood is highest at the edge (BG/NBD's a and b growing
 * together, say), BFGS on the log-parameters walks there at under one
 * unit a step while its gains fall geometrically: the other parameters
 * settle early, and the rest of the walk, to LOG_LIMIT, gains well under
 * 1e-9 of f in dozens of evaluations over every customer. So when the
 * step s that brought th to f gained less than `ftol` of f beyond
 * EDGE_LOG, the parameters beyond EDGE_LOG go on by lambda times their
 * steps outward, lambda such that the largest |parameter| is LEAP_TO
 * (the others keep their values: their steps are noise by then). That
 * point is kept (th, g, f updated) when f falls all the way there: at
 * LEAP_CHECKS points between, each lower than the one before and none
 * below the end, to within LEAP_FALL_TOL of f (a dip on the way would be
 * an interior optimum leapt over). The BFGS that goes on from it settles the
 * other parameters.
 * Returns -1 when this is no such step, 0 when the leap was tried and
 * not kept, 1 when it was kept.
 */
static int leap_along(fg_fn fg, void *ctx, double *th, double *g, double *f, double gain,
		      double ftol, const double *s, int dim)
{
	double tl[MAX_DIM], gl[MAX_DIM], fl, prev = *f, lambda = INFINITY, tol;
	int i, q;

	for (i = 0; i < dim; i++)
		tl[i] = th[i] - s[i];
	if (!(gmax(th, dim) > EDGE_LOG && gain < ftol * fabs(*f) &&
	      gmax(th, dim) - gmax(tl, dim) > LEAP_STRIDE))
		return -1;
	for (i = 0; i < dim; i++) /* the first parameter to reach +-LEAP_TO sets lambda */
		if (fabs(th[i]) > EDGE_LOG && s[i] * th[i] > 0 &&
		    (LEAP_TO - fabs(th[i])) / fabs(s[i]) < lambda)
			lambda = (LEAP_TO - fabs(th[i])) / fabs(s[i]);
	if (!(lambda > 1 && lambda < INFINITY))
		return 0;
	for (i = 0; i < dim; i++)
		tl[i] = th[i] + (fabs(th[i]) > EDGE_LOG && s[i] * th[i] > 0 ? lambda * s[i] : 0);
	fl = fg(tl, gl, ctx);
	if (!(fl <= *f))
		return 0;
	/*
	 * Falling all along, to within LEAP_FALL_TOL of f: the other
	 * parameters stay as they are on the way, which moves f by a little
	 * (1e-13 of it rejected most of the bench's leaps), and an optimum
	 * inside better than the end by less is the same model.
	 */
	tol = LEAP_FALL_TOL * fabs(*f);
	for (q = 1; q <= LEAP_CHECKS; q++) {
		double tq[MAX_DIM], gq[MAX_DIM], fq, part = lambda * q / (LEAP_CHECKS + 1);

		for (i = 0; i < dim; i++)
			tq[i] = th[i] + (fabs(th[i]) > EDGE_LOG && s[i] * th[i] > 0 ? part * s[i] : 0);
		fq = fg(tq, gq, ctx);
		if (!(fq <= prev + tol) || fq < fl - tol)
			return 0;
		prev = fq;
	}
	memcpy(th, tl, sizeof(double) * (size_t)dim);
	memcpy(g, gl, sizeof(double) * (size_t)dim);
	*f = fl;
	return 1;
}

/* max |g| of the parameters inside +-EDGE_LOG (those a leap leaves to BFGS) */
static double gmax_inside(const double *th, const double *g, int dim)
{
	double m = 0;
	int i;

	for (i = 0; i < dim; i++)
		if (fabs(th[i]) <= EDGE_LOG && !(fabs(g[i]) <= m))
			m = fabs(g[i]);
	return m;
}

/*
 * BFGS from an inverse Hessian H0 (NULL: the identity, scaled after the
 * first step); Hout (may be NULL) receives the final approximation, so a
 * fit of a subsample can hand its curvature to the fit of all customers.
 * With `leap` (LEAP_TRIES, else 0), it leaps along the edge when it gets
 * there (leap_along); after a kept leap it stops, returning -1 (an end on
 * the edge, not an optimum), once a step gains no more than the rounding
 * of f while the parameters inside EDGE_LOG have max |g| < LEAP_GTOL.
 */
static int bfgs_h(fg_fn fg, void *ctx, double *th, int dim, int *iters, double *gnorm,
		  const double *H0, double *Hout, int leap)
{
	double H[MAX_DIM * MAX_DIM], g[MAX_DIM], gn[MAX_DIM], d[MAX_DIM], tn[MAX_DIM];
	double s[MAX_DIM], y[MAX_DIM], Hy[MAX_DIM];
	double f, fn = 0;
	double ftol = LEAP_FTOL;
	int it, i, j, k, fresh = H0 == NULL, rc = -1, leaped = 0;

	f = fg(th, g, ctx);
	for (i = 0; i < dim * dim; i++)
		H[i] = H0 ? H0[i] : (i % (dim + 1)) == 0;
	for (it = 0; it < BFGS_MAX_ITER; it++) {
		double gd = 0, step = 1, dm = 0, sy = 0, yHy = 0;
		int ok = 0;

		if (!isfinite(f) || !(gmax(g, dim) < INFINITY))
			break;
		if (gmax(g, dim) < BFGS_GTOL) {
			rc = 0;
			break;
		}
		for (i = 0; i < dim; i++) {
			d[i] = 0;
			for (j = 0; j < dim; j++)
				d[i] -= H[i * dim + j] * g[j];
			gd += d[i] * g[i];
			if (fabs(d[i]) > dm)
				dm = fabs(d[i]);
		}
		if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
			for (i = 0; i < dim * dim; i++)
				H[i] = (i % (dim + 1)) == 0;
			fresh = 1;
			gd = 0;
			dm = 0;
			for (i = 0; i < dim; i++) {
				d[i] = -g[i];
				gd -= g[i] * g[i];
				if (fabs(d[i]) > dm)
					dm = fabs(d[i]);
			}
		}
		if (dm > 2) /* at most a factor e^2 per parameter per step */
			step = 2 / dm;
		for (k = 0; k < 80; k++, step *= 0.5) {
			for (i = 0; i < dim; i++)
				tn[i] = th[i] + step * d[i];
			fn = fg(tn, gn, ctx);
			if (!isfinite(fn))
				continue;
			if (fn <= f + 1e-4 * step * gd) {
				ok = 1;
				break;
			}
			if (fn <= f + 4 * DBL_EPSILON * fabs(f) && gmax(gn, dim) < gmax(g, dim)) {
				ok = 1;
				break;
			}
		}
		if (!ok) {
			if (!fresh) { /* the curvature model may be stale: retry once as steepest descent */
				for (i = 0; i < dim * dim; i++)
					H[i] = (i % (dim + 1)) == 0;
				fresh = 1;
				continue;
			}
			rc = gmax(g, dim) < 1e-7 ? 0 : -1;
			break;
		}
		for (i = 0; i < dim; i++) {
			s[i] = tn[i] - th[i];
			y[i] = gn[i] - g[i];
			sy += s[i] * y[i];
		}
		if (sy > 1e-300) {
			if (fresh) { /* scale the identity to the observed curvature (Nocedal & Wright 6.20) */
				double yy = 0;

				for (i = 0; i < dim; i++)
					yy += y[i] * y[i];
				for (i = 0; i < dim * dim; i++)
					H[i] = ((i % (dim + 1)) == 0) ? sy / yy : 0;
			}
			for (i = 0; i < dim; i++) {
				Hy[i] = 0;
				for (j = 0; j < dim; j++)
					Hy[i] += H[i * dim + j] * y[j];
				yHy += y[i] * Hy[i];
			}
			for (i = 0; i < dim; i++)
				for (j = 0; j < dim; j++)
					H[i * dim + j] += (sy + yHy) * s[i] * s[j] / (sy * sy) -
							  (Hy[i] * s[j] + s[i] * Hy[j]) / sy;
			fresh = 0;
		}
		memcpy(th, tn, sizeof(double) * (size_t)dim);
		memcpy(g, gn, sizeof(double) * (size_t)dim);
		if (leaped > 0 && !(f - fn > 4 * DBL_EPSILON * fabs(f)) &&
		    gmax_inside(th, g, dim) < LEAP_GTOL) {
			f = fn; /* beyond the leap f gains no more than its rounding: done */
			it++;
			break;
		}
		if (leap && !leaped) {
			double gain = f - fn;
			int r = leap_along(fg, ctx, th, g, &fn, gain, ftol, s, dim);

			leaped = r == 1;
			if (r == 0 && --leap)
				ftol = gain / fabs(f) / LEAP_RETRY;
		}
		f = fn;
	}
	*iters = it;
	*gnorm = gmax(g, dim);
	if (Hout)
		memcpy(Hout, H, sizeof(double) * (size_t)(dim * dim));
	return rc;
}

int clv_nelder_mead(double (*f)(const double *x, void *ctx), void *ctx, double *x, int dim,
		    double step, double ftol, int max_iter)
{
	double p[MAX_DIM + 1][MAX_DIM], fv[MAX_DIM + 1], cen[MAX_DIM], xr[MAX_DIM], xe[MAX_DIM];
	int i, j, it, n1 = dim + 1;

	if (dim < 1 || dim > MAX_DIM)
		return -1;
	for (i = 0; i < n1; i++) {
		for (j = 0; j < dim; j++)
			p[i][j] = x[j] + (i == j + 1 ? step : 0);
		fv[i] = f(p[i], ctx);
		if (isnan(fv[i]))
			fv[i] = INFINITY;
	}
	for (it = 0; it < max_iter; it++) {
		int lo = 0, hi = 0, nh = 0;
		double fr, fe;

		for (i = 1; i < n1; i++) {
			if (fv[i] < fv[lo])
				lo = i;
			if (fv[i] > fv[hi] || (fv[i] == fv[hi] && i > hi))
				hi = i;
		}
		nh = lo;
		for (i = 0; i < n1; i++)
			if (i != hi && fv[i] >= fv[nh])
				nh = i;
		if (isfinite(fv[hi]) && fv[hi] - fv[lo] <= ftol * (fabs(fv[lo]) + ftol)) {
			memcpy(x, p[lo], sizeof(double) * (size_t)dim);
			return it;
		}
		for (j = 0; j < dim; j++) {
			cen[j] = 0;
			for (i = 0; i < n1; i++)
				if (i != hi)
					cen[j] += p[i][j];
			cen[j] /= dim;
		}
		for (j = 0; j < dim; j++)
			xr[j] = cen[j] + (cen[j] - p[hi][j]);
		fr = f(xr, ctx);
		if (isnan(fr))
			fr = INFINITY;
		if (fr < fv[lo]) {
			for (j = 0; j < dim; j++)
				xe[j] = cen[j] + 2 * (cen[j] - p[hi][j]);
			fe = f(xe, ctx);
			if (fe < fr) {
				memcpy(p[hi], xe, sizeof(double) * (size_t)dim);
				fv[hi] = fe;
			} else {
				memcpy(p[hi], xr, sizeof(double) * (size_t)dim);
				fv[hi] = fr;
			}
		} else if (fr < fv[nh]) {
			memcpy(p[hi], xr, sizeof(double) * (size_t)dim);
			fv[hi] = fr;
		} else {
			int outside = fr < fv[hi];
			double fc;

			for (j = 0; j < dim; j++)
				xe[j] = outside ? cen[j] + 0.5 * (xr[j] - cen[j])
						: cen[j] + 0.5 * (p[hi][j] - cen[j]);
			fc = f(xe, ctx);
			if (isnan(fc))
				fc = INFINITY;
			if (fc < (outside ? fr : fv[hi])) {
				memcpy(p[hi], xe, sizeof(double) * (size_t)dim);
				fv[hi] = fc;
			} else { /* shrink towards the best */
				for (i = 0; i < n1; i++) {
					if (i == lo)
						continue;
					for (j = 0; j < dim; j++)
						p[i][j] = p[lo][j] + 0.5 * (p[i][j] - p[lo][j]);
					fv[i] = f(p[i], ctx);
					if (isnan(fv[i]))
						fv[i] = INFINITY;
				}
			}
		}
	}
	{
		int lo = 0;

		for (i = 1; i < n1; i++)
			if (fv[i] < fv[lo])
				lo = i;
		memcpy(x, p[lo], sizeof(double) * (size_t)dim);
	}
	return -1;
}

/*
 * Every evaluation goes through a counter: once the budget is spent the
 * objective is +inf, so a fit whose optimum lies on the boundary (say
 * b -> infinity: nobody ever drops out) ends in bounded time with an error
 * instead of walking for hours over a million customers. The budget is a
 * count, not a clock, so the outcome stays deterministic.
 */
struct budget {
	fg_fn fg;
	void *ctx;
	long left;
	int dim;
};

static double budget_fg(const double *th, double *g, void *c)
{
	struct budget *b = c;
	int i;

	if (b->left <= 0) {
		for (i = 0; i < b->dim; i++)
			g[i] = 0;
		return INFINITY;
	}
	b->left--;
	return b->fg(th, g, b->ctx);
}

static double nm_f(const double *th, void *c)
{
	double g[MAX_DIM];

	return budget_fg(th, g, c);
}

/*
 * A ridge on the log-parameters, lambda sum th^2, for likelihoods whose
 * maximum lies on the boundary: the penalised objective has an interior
 * minimum (where the likelihood's vanishing slope meets the penalty's), so
 * BFGS converges to a point as close to the limit model as lambda allows.
 */
#define RIDGE 1e-6
#define RIDGE_NM_ITER 300
#define RIDGE_EVALS 300
#define RIDGE_ROUNDS 5

struct ridge {
	fg_fn fg;
	void *ctx;
	int dim;
};

static double ridge_fg(const double *th, double *g, void *c)
{
	const struct ridge *r = c;
	double f = r->fg(th, g, r->ctx);
	int i;

	for (i = 0; i < r->dim; i++) {
		f += RIDGE * th[i] * th[i];
		g[i] += 2 * RIDGE * th[i];
	}
	return f;
}

/* Objective evaluations allowed for `work` distinct-customer terms each. */
static long evals_for(size_t work)
{
	double evals = TERM_BUDGET / (double)(work ? work : 1);

	return evals < EVALS_MIN ? EVALS_MIN : evals > EVALS_MAX ? EVALS_MAX : (long)evals;
}

/* Nelder-Mead then BFGS from t (updated), each on its own budget of `evals`. */
static int nm_then_bfgs(fg_fn fg0, void *ctx0, double *t, int dim, long evals, int nm_iter,
			int *iters, double *gn)
{
	struct budget bud = { fg0, ctx0, evals, dim };
	int nit, it = 0, rc;

	nit = clv_nelder_mead(nm_f, &bud, t, dim, 0.5, 1e-10, nm_iter);
	bud.left = evals;
	rc = bfgs(budget_fg, &bud, t, dim, &it, gn);
	*iters = (nit >= 0 ? nit : nm_iter) + it;
	return bud.left > 0 && (rc == 0 || nit >= 0) ? 0 : -1;
}

/*
 * A parameter beyond e^EDGE_CONVERGED (or below its inverse): the edge.
 * Where the likelihood is highest at the edge it is flat on the way there,
 * so BFGS may meet its gradient tolerance far out: that is no optimum.
 */
#define EDGE_CONVERGED 20.0

static int at_edge(const double *t, int dim)
{
	int i;

	for (i = 0; i < dim; i++)
		if (fabs(t[i]) > EDGE_CONVERGED)
			return 1;
	return 0;
}

/*
 * Minimise fg: BFGS from starts[0]; if that fails, Nelder-Mead from each
 * start polished by BFGS, where the lowest converged f wins (ties: the
 * earlier). BFGS and the ridge have `evals` evaluations each, the starts
 * share as many. The first BFGS leaves its inverse Hessian in Hout (NULL:
 * not wanted). An end at the edge (at_edge) does not count as converged.
 * Returns 0 with th at the optimum, or, when nothing converged (the
 * maximum lies on the boundary), 1 with th at the minimum of the ridge-
 * penalised objective from the best finite point (*method CLV_BOUNDARY).
 * -1: no finite point.
 */
static int minimise(fg_fn fg0, void *ctx0, const double (*starts)[MAX_DIM], int nstarts, int dim,
		    long evals, double *Hout, double *th, int *method, int *iters, double *gnorm)
{
	double best[MAX_DIM], g[MAX_DIM], fbest = INFINITY, cbest = INFINITY, t[MAX_DIM], gn;
	int i, it, found = 0, conv = 0, edge = 0;
	struct budget bud = { fg0, ctx0, evals, dim };
	struct ridge rg = { fg0, ctx0, dim };

	memcpy(t, starts[0], sizeof(double) * (size_t)dim);
	if (bfgs_h(budget_fg, &bud, t, dim, &it, &gn, NULL, Hout, 0) == 0 && !at_edge(t, dim) &&
	    !(fault_flags & CLV_FAULT_BFGS)) {
		memcpy(th, t, sizeof(double) * (size_t)dim);
		*method = CLV_BFGS;
		*iters = it;
		*gnorm = gn;
		return 0;
	}
	/* BFGS ran off towards the edge (a parameter beyond e^EDGE_LOG or below e^-EDGE_LOG) */
	for (i = 0; i < dim && !edge; i++)
		if (fabs(t[i]) > EDGE_LOG && isfinite(fg0(t, g, ctx0))) {
			edge = 1;
			found = 1;
			memcpy(best, t, sizeof(double) * (size_t)dim);
		}
	for (i = 0; i < nstarts && !edge; i++) {
		int ok;
		double f;

		memcpy(t, starts[i], sizeof(double) * (size_t)dim);
		ok = nm_then_bfgs(fg0, ctx0, t, dim, evals / nstarts, NM_MAX_ITER, &it, &gn) == 0 &&
		     !at_edge(t, dim);
		f = fg0(t, g, ctx0);
		if (!isfinite(f) || (ok ? f >= cbest : conv || f >= fbest))
			continue;
		if (ok)
			cbest = f;
		fbest = f;
		conv = ok;
		memcpy(best, t, sizeof(double) * (size_t)dim);
		*method = CLV_NELDER_MEAD;
		*iters = it;
		*gnorm = gmax(g, dim);
		found = 1;
	}
	if (conv) {
		memcpy(th, best, sizeof(double) * (size_t)dim);
		return 0;
	}
	if (!found)
		memcpy(best, starts[0], sizeof(double) * (size_t)dim);
	memcpy(t, best, sizeof(double) * (size_t)dim);
	(void)fbest;
	/*
	 * The ridge is flat along the edge, where Nelder-Mead's simplex can
	 * shrink long before its minimum: search again while that still pays.
	 */
	for (i = 0; i < RIDGE_ROUNDS; i++) {
		double before = ridge_fg(t, g, &rg), after;

		nm_then_bfgs(ridge_fg, &rg, t, dim, evals < RIDGE_EVALS ? evals : RIDGE_EVALS,
			     RIDGE_NM_ITER, &it, &gn);
		after = ridge_fg(t, g, &rg);
		if (!(after < before - 1e-12 * fabs(before)))
			break;
	}
	if (!isfinite(fg0(t, g, ctx0)))
		return -1;
	memcpy(th, t, sizeof(double) * (size_t)dim);
	*method = CLV_BOUNDARY;
	*iters = it;
	*gnorm = gmax(g, dim);
	return 1;
}

/*
 * The polish of a fit that starts from a subsample's optimum s0 (with its
 * inverse Hessian H0, or NULL): BFGS on all customers in `evals`
 * evaluations. A subsample on the edge may hide an interior optimum that
 * all customers have, so s1 (a fixed start, or NULL) gets a BFGS of
 * POLISH_EVALS too. The lowest of s0 and the ends wins: 0 when it is a
 * converged interior end, else 1 (CLV_BOUNDARY: the likelihood is highest
 * towards the edge). Returns as minimise(). It hands on no inverse
 * Hessian: only a subsample's fit does (sub_start), and a subsample,
 * every k-th of n > SUB_MIN with k = n / SUB_TARGET >= 2, has at most
 * 1.5 x SUB_TARGET < SUB_MIN customers, so it never comes here.
 */
static int polish(fg_fn fg, void *ctx, const double *s0, const double *s1, int dim, long evals,
		  const double *H0, double *th, int *method, int *iters, double *gnorm)
{
	double t[3][MAX_DIM], f[3], gn[3], g[MAX_DIM];
	int ok[3] = { 0, 0, 0 }, it[3] = { 0, 0, 0 }, k, n = s1 ? 2 : 1, best = -1;

	for (k = 0; k < n; k++) {
		struct budget bud = { fg, ctx, k ? POLISH_EVALS : evals, dim };

		memcpy(t[k], k ? s1 : s0, sizeof(double) * (size_t)dim);
		ok[k] = bfgs_h(budget_fg, &bud, t[k], dim, &it[k], &gn[k], k ? NULL : H0, NULL,
			       LEAP_TRIES) == 0 &&
			!at_edge(t[k], dim);
		f[k] = fg(t[k], g, ctx);
	}
	/* and the start itself, in case the data are too flat there for BFGS to gain */
	memcpy(t[n], s0, sizeof(double) * (size_t)dim);
	f[n] = fg(s0, g, ctx);
	for (k = 0; k <= n; k++)
		if (isfinite(f[k]) && (best < 0 || f[k] < f[best]))
			best = k;
	if (best < 0)
		return -1;
	memcpy(th, t[best], sizeof(double) * (size_t)dim);
	*iters = it[0] + it[1];
	if (ok[best]) {
		*method = CLV_BFGS;
		*iters = it[best];
		*gnorm = gn[best];
		return 0;
	}
	fg(th, g, ctx);
	*method = CLV_BOUNDARY;
	*gnorm = gmax(g, dim);
	return 1;
}


/* ------------------------------------------------------------- sorting */

/*
 * Why not qsort: a call per comparison costs more than the fits on a
 * million customers. Each model input column is turned into ranks among
 * its distinct values (a hash of the bits, then the few distinct values
 * sorted), and customers are ordered by radix passes over the ranks, which
 * take a byte or two each. The order is that of the values, so the sums
 * run in the same order as a comparison sort would give.
 */

/*
 * The bits of a double >= 0 as an unsigned key of the same order (-0
 * becomes +0). The callers check first that no value is negative or NaN.
 */
static uint64_t order_key(double v)
{
	uint64_t k;

	v += 0.0;
	memcpy(&k, &v, sizeof(k));
	return k;
}

/* The doubles whose bits (order_key) are keys[0..n); NULL when out of memory. */
static double *key_values(const uint64_t *keys, size_t n)
{
	double *v = malloc((n ? n : 1) * sizeof(*v));
	size_t i;

	for (i = 0; v && i < n; i++)
		memcpy(&v[i], &keys[i], sizeof(v[i]));
	return v;
}

/*
 * idx[0..n) = 0..n-1 sorted by the rank columns col[0][], col[1][], ...
 * lexicographically, where column j holds ranks below nd[j]: when the
 * product of the nd fits 64 bits, one radix sort of the mixed-radix
 * number the ranks make; else one stable radix sort per column, the last
 * first. Both give the same order.
 */
static int sort_ranks(const uint32_t *const *col, const size_t *nd, int ncol, size_t n,
		      uint32_t *idx)
{
	uint64_t *key = malloc((n ? n : 1) * sizeof(*key)), span = 1;
	size_t i;
	int j, whole = 1, rc = 0;

	if (!key)
		return -1;
	for (j = 0; j < ncol; j++) {
		if (nd[j] && span > UINT64_MAX / nd[j])
			whole = 0;
		else
			span *= nd[j] ? nd[j] : 1;
	}
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	if (whole) {
		for (i = 0; i < n; i++) {
			key[i] = 0;
			for (j = 0; j < ncol; j++)
				key[i] = key[i] * nd[j] + col[j][i];
		}
		rc = sortx_by_key(idx, n, key, NULL, NULL);
	}
	for (j = ncol - 1; !whole && rc == 0 && j >= 0; j--) {
		for (i = 0; i < n; i++)
			key[i] = col[j][i];
		rc = sortx_by_key(idx, n, key, NULL, NULL);
	}
	free(key);
	return rc;
}

/* ---------------------------------------------------------------- BG/NBD */

/*
 * A triple's weight up to POW_MAX_WEIGHT, whole, enters bg_group's product
 * as a power (pow_whole); a bigger one (W_BIG in bg_data.wm) takes a log1p.
 */
#define POW_MAX_WEIGHT 32 /* 2^(32 * RENORM_EVERY) is far from overflow */
#define W_BIG 0x80        /* above every whole weight <= POW_MAX_WEIGHT */
#define SUM_BLOCK 256     /* terms summed plainly, then compensated (bg_group) */
#define LANES 4           /* blocks summed side by side (bg_group_lanes) */
#define LANE_PAD ((LANES - 1) * SUM_BLOCK) /* triples read past the last (bg_lanes_run) */

struct bg_data {
	size_t nu;          /* distinct (x, t_x, T): x and weight here, t_x and T by index */
	double *x, *w;
	/*
	 * Distinct values of t_x and T (few: whole days / 7) with each triple's
	 * index into them, so an evaluation takes one log per distinct value
	 * instead of two per triple. lv, iv and pw are the evaluation's scratch.
	 */
	double *vals, *lv, *iv;
	uint32_t *ti, *Ti;
	uint8_t *wm;        /* per triple: its weight when whole and <= POW_MAX_WEIGHT, else W_BIG */
	size_t nv;
	size_t ng;          /* distinct x: group g is [gs[g], gs[g + 1]) */
	size_t *gs;
	double *gw;         /* weight of each group */
	double ntot;
	/*
	 * An evaluation's triples in two fixed halves (bg_part), the second
	 * on a worker thread when there is one (bg_pool): the split depends
	 * on the data only, so the sums are the same with or without it.
	 */
	struct bg_part {
		size_t t0, t1;          /* triples [t0, t1) */
		double *pw;             /* power-table scratch, nv */
		struct ksum (*sums)[5]; /* per group: the bg_group sums over its triples here */
	} part[2];
	double ev_r, ev_la, ev_b;   /* the evaluation's r, ln a and b, for the parts */
	struct bg_pool *pool;
};

static void bg_release(struct bg_data *d)
{
	int k;

	for (k = 0; k < 2; k++) {
		free(d->part[k].pw);
		free(d->part[k].sums);
	}
	free(d->x);
	free(d->gs);
	free(d->vals);
	free(d->lv);
	free(d->iv);
	free(d->ti);
	free(d->Ti);
	free(d->wm);
	memset(d, 0, sizeof(*d));
}

/*
 * Rank columns of the customers: x (r[0..n)) among the distinct x, t_x
 * (r[n..2n)) and T (r[2n..3n)) among the distinct values of both, which
 * d->vals receives (d->nv of them, ascending); and the customer order by
 * (x, t_x, T) in *idx. r and idx are the caller's to free.
 */
static int bg_ranks(const struct clv_cust *c, size_t n, struct bg_data *d, uint32_t **r,
		    uint32_t **idx, double **xv)
{
	struct rank rx, rv;
	const uint32_t *col[3];
	size_t i, nd[3];
	int okx = rank_init(&rx) == 0, okv = rank_init(&rv) == 0, ok;

	*r = malloc(3 * n * sizeof(**r));
	*idx = malloc(n * sizeof(**idx));
	ok = *r && *idx && okx && okv;
	for (i = 0; ok && i < n; i++)
		ok = rank_add(&rx, order_key(c[i].x), &(*r)[i]) == 0 &&
		     rank_add(&rv, order_key(c[i].t_x), &(*r)[n + i]) == 0 &&
		     rank_add(&rv, order_key(c[i].T), &(*r)[2 * n + i]) == 0;
	ok = ok && rank_finish(&rx, *r, n) == 0 && rank_finish(&rv, *r + n, 2 * n) == 0;
	col[0] = *r;
	col[1] = *r + n;
	col[2] = *r + 2 * n;
	nd[0] = rx.n;
	nd[1] = nd[2] = rv.n;
	ok = ok && sort_ranks(col, nd, 3, n, *idx) == 0;
	if (ok) {
		d->nv = rv.n;
		ok = (d->vals = key_values(rv.keys, rv.n)) && (*xv = key_values(rx.keys, rx.n));
	}
	rank_release(&rx);
	rank_release(&rv);
	return ok ? 0 : -1;
}

/* Customers a and b have the same (x, t_x, T): the same ranks in r of n customers. */
static int same_triple(const uint32_t *r, size_t n, uint32_t a, uint32_t b)
{
	return r[a] == r[b] && r[n + a] == r[n + b] && r[2 * n + a] == r[2 * n + b];
}

/*
 * The three rank columns *r ([0..n), [n..2n), [2n..3n)) put in the order
 * idx, so that the walks over the sorted customers read memory in
 * sequence. -1 when out of memory.
 */
static int sort_rank_columns(uint32_t **r, size_t n, const uint32_t *idx)
{
	uint32_t *s = malloc((n ? 3 * n : 1) * sizeof(*s));
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < n; i++) {
		s[i] = (*r)[idx[i]];
		s[n + i] = (*r)[n + idx[i]];
		s[2 * n + i] = (*r)[2 * n + idx[i]];
	}
	free(*r);
	*r = s;
	return 0;
}

/* The two halves of the triples, each with its scratch. */
static int bg_parts(struct bg_data *d)
{
	int k;

	d->part[0].t0 = 0;
	d->part[0].t1 = d->part[1].t0 = d->nu / 2;
	d->part[1].t1 = d->nu;
	for (k = 0; k < 2; k++) {
		d->part[k].pw = malloc((d->nv ? d->nv : 1) * sizeof(double));
		d->part[k].sums = malloc((d->ng ? d->ng : 1) * sizeof(*d->part[k].sums));
		if (!d->part[k].pw || !d->part[k].sums)
			return -1;
	}
	return 0;
}

/* The arrays of u distinct triples (d->nv known), w, ti, Ti and wm with LANE_PAD more. */
static int bg_alloc(struct bg_data *d, size_t u)
{
	d->x = malloc((3 * u + LANE_PAD) * sizeof(double));
	d->gs = malloc((u + 1) * sizeof(size_t));
	d->ti = calloc(u + LANE_PAD, sizeof(uint32_t));
	d->Ti = calloc(u + LANE_PAD, sizeof(uint32_t));
	d->lv = malloc((d->nv ? d->nv : 1) * sizeof(double));
	d->iv = malloc((d->nv ? d->nv : 1) * sizeof(double));
	d->wm = malloc(u + LANE_PAD);
	if (!d->x || !d->gs || !d->ti || !d->Ti || !d->lv || !d->iv || !d->wm)
		return -1;
	d->w = d->x + u;
	d->gw = d->w + u + LANE_PAD;
	return 0;
}

/* After the u triples in g groups of n customers are in: the rest of d. */
static int bg_finish(struct bg_data *d, size_t u, size_t g, size_t n)
{
	size_t i;

	d->gs[g] = u;
	d->nu = u;
	d->ng = g;
	d->ntot = (double)n;
	/* the padding read by lanes past the end (bg_lanes_run): weight 1, value 0 */
	for (i = 0; i < u; i++)
		d->wm[i] = d->w[i] <= POW_MAX_WEIGHT && d->w[i] == floor(d->w[i]) ? (uint8_t)d->w[i]
										   : W_BIG;
	for (i = u; i < u + LANE_PAD; i++) {
		d->w[i] = 1;
		d->wm[i] = 1;
	}
	return bg_parts(d);
}

/* The distinct triples of the customers whose rank columns r are in sorted order. */
static int bg_triples(const uint32_t *r, const double *xv, size_t n, struct bg_data *d)
{
	size_t i, u = 0, g = 0;

	for (i = 0; i < n; i++)
		if (i == 0 || !same_triple(r, n, (uint32_t)i, (uint32_t)i - 1))
			u++;
	if (bg_alloc(d, u))
		return -1;
	u = 0;
	for (i = 0; i < n; i++) {
		uint32_t k = (uint32_t)i;

		if (i == 0 || !same_triple(r, n, k, k - 1)) {
			if (u == 0 || xv[r[k]] != d->x[u - 1]) {
				d->gs[g] = u;
				d->gw[g] = 0;
				g++;
			}
			d->x[u] = xv[r[k]];
			d->ti[u] = r[n + k];
			d->Ti[u] = r[2 * n + k];
			d->w[u] = 0;
			u++;
		}
		d->w[u - 1] += 1;
		d->gw[g - 1] += 1;
	}
	return bg_finish(d, u, g, n);
}

/*
 * The usual inputs are days: x whole, t_x and T whole numbers of days
 * over 7 (met_clv's gather). Then the ranks come from tables indexed by
 * day (no hash probe), and the customers' three ranks make one number,
 * (x rank nv + t_x rank) nv + T rank, below 2^32: one radix sort of those
 * numbers (sortx_high32) orders the customers by (x, t_x, T), as
 * sort_ranks does, and gives the triples in order without moving the
 * rank columns by a customer order (sort_rank_columns' random reads).
 * The triples, values and ranks are those of the general path, which
 * hashes the bits of the doubles (bg_ranks): the same data for the fit.
 */
#define DAYS_MAX ((uint32_t)1 << 20) /* x and days below this, for the tables */

/* t, a whole number of days over 7 below DAYS_MAX, as that number; DAYS_MAX if not one. */
static inline uint32_t whole_days(double t)
{
	double a = t * 7;
	uint32_t k;

	if (!(a >= 0 && a < DAYS_MAX))
		return DAYS_MAX;
	k = (uint32_t)(a + 0.5);
	return (double)k / 7.0 == t ? k : DAYS_MAX;
}

/*
 * The distinct triples by days into d: 1 when done, 0 when the data are
 * not days or their ranks do not fit one 32-bit number (nothing kept:
 * the caller takes the general path), -1 when out of memory.
 */
static int bg_days(const struct clv_cust *c, size_t n, struct bg_data *d)
{
	uint32_t maxx = 0, maxd = 0, *xr = NULL, *dr = NULL, nx = 0, nv = 0, k;
	uint64_t *v = NULL, span, key, prev = 0;
	double *xv = NULL;
	size_t i, u = 0, g = 0;
	int rc = -1;

	for (i = 0; i < n; i++) {
		uint32_t a = whole_days(c[i].t_x), b = whole_days(c[i].T);

		if (a == DAYS_MAX || b == DAYS_MAX || !(c[i].x < DAYS_MAX))
			return 0;
		maxx = (uint32_t)c[i].x > maxx ? (uint32_t)c[i].x : maxx;
		maxd = b > maxd ? b : maxd; /* t_x <= T */
	}
	xr = calloc((size_t)maxx + 1, sizeof(*xr));
	dr = calloc((size_t)maxd + 1, sizeof(*dr));
	if (!xr || !dr)
		goto out;
	for (i = 0; i < n; i++) {
		xr[(uint32_t)c[i].x] = 1;
		dr[whole_days(c[i].t_x)] = 1;
		dr[whole_days(c[i].T)] = 1;
	}
	for (k = 0; k <= maxx; k++)
		nx += xr[k];
	for (k = 0; k <= maxd; k++)
		nv += dr[k];
	span = (uint64_t)nx * nv * nv;
	if (span > UINT32_MAX) {
		rc = 0;
		goto out;
	}
	d->nv = nv;
	xv = malloc(nx * sizeof(*xv));
	d->vals = malloc(nv * sizeof(*d->vals));
	v = malloc(n * sizeof(*v));
	if (!xv || !d->vals || !v)
		goto out;
	for (k = 0, nx = 0; k <= maxx; k++)
		if (xr[k]) {
			xv[nx] = (double)k;
			xr[k] = nx++;
		}
	for (k = 0, nv = 0; k <= maxd; k++)
		if (dr[k]) {
			d->vals[nv] = (double)k / 7.0;
			dr[k] = nv++;
		}
	for (i = 0; i < n; i++)
		v[i] = ((uint64_t)xr[(uint32_t)c[i].x] * nv + dr[whole_days(c[i].t_x)]) * nv +
		       dr[whole_days(c[i].T)];
	for (i = 0; i < n; i++)
		v[i] <<= 32;
	if (sortx_high32(v, NULL, n))
		goto out;
	for (i = 0; i < n; i++)
		if (i == 0 || v[i] != v[i - 1])
			u++;
	if (bg_alloc(d, u))
		goto out;
	u = 0;
	for (i = 0; i < n; i++) {
		key = v[i] >> 32;
		if (i == 0 || key != prev) {
			uint64_t xt = key / nv;
			double x = xv[xt / nv];

			if (u == 0 || x != d->x[u - 1]) {
				d->gs[g] = u;
				d->gw[g] = 0;
				g++;
			}
			d->x[u] = x;
			d->ti[u] = (uint32_t)(xt % nv);
			d->Ti[u] = (uint32_t)(key % nv);
			d->w[u] = 0;
			u++;
			prev = key;
		}
		d->w[u - 1] += 1;
		d->gw[g - 1] += 1;
	}
	rc = bg_finish(d, u, g, n) ? -1 : 1;
out:
	free(xr);
	free(dr);
	free(xv);
	free(v);
	if (rc == 0) {
		free(d->vals);
		d->vals = NULL;
		d->nv = 0;
	}
	return rc;
}

static int bg_prepare(const struct clv_cust *c, size_t n, struct bg_data *d, struct crm_err *e)
{
	uint32_t *r = NULL, *idx = NULL;
	double *xv = NULL;
	size_t i;
	int any_repeat = 0, rc;

	memset(d, 0, sizeof(*d));
	if (n == 0)
		return err_set(e, CRM_E_INPUT, "cannot fit bg/nbd to no customers");
	for (i = 0; i < n; i++) {
		const struct clv_cust *q = &c[i];

		if (!(q->x >= 0 && q->x == floor(q->x) && q->x < 1e15 && q->t_x >= 0 &&
		      q->T >= q->t_x && isfinite(q->T) && (q->x > 0 || q->t_x == 0)))
			return err_at(e, CRM_E_INPUT, NULL, (long)(i + 1), "x",
				      "invalid customer history (x %g, t_x %g, T %g)", q->x,
				      q->t_x, q->T);
		if (q->x > 0)
			any_repeat = 1;
	}
	if (!any_repeat)
		return err_set(e, CRM_E_INPUT, "cannot fit bg/nbd without repeat purchases");
	if ((rc = fault_flags & CLV_FAULT_HASH ? 0 : bg_days(c, n, d)) == 0)
		rc = bg_ranks(c, n, d, &r, &idx, &xv) || sort_rank_columns(&r, n, idx) ||
		     bg_triples(r, xv, n, d);
	else
		rc = rc < 0;
	free(r);
	free(idx);
	free(xv);
	if (rc) {
		bg_release(d);
		return err_set(e, CRM_E_NOMEM, "out of memory for %zu customers", n);
	}
	return 0;
}

/*
 * The per-triple sums of one group of x > 0 over [s, end): sums[0] of
 * w softplus(A4 - A3), so that w ln(e^A3 + e^A4) = w A3 + that, [1] of
 * w (w3 l3 + w4 l4), [2] of w (w3 / (alpha + T) + w4 / (alpha + t_x)),
 * [3] of w w4 and [4] of w l3, where l = ln(alpha + t), A3 = -rx l3 and
 * w4 is the weight of the A4 term. c4 = ln a - ln(b + x - 1), so
 * A4 - A3 = c4 + rx (l3 - l4). Plain sums within blocks of SUM_BLOCK
 * terms (so the loop pipelines), compensated across blocks.
 *
 * softplus(D) = max(D, 0) + ln(1 + e^-|D|): the logs of a block are taken
 * as one log of the product of its factors (each in [1, 2], raised to the
 * triple's weight), the evaluation's costliest call once per block instead
 * of once per triple. The product's exponent is moved out every
 * RENORM_EVERY factors, so it cannot overflow; its relative error of a few
 * hundred roundings (a few thousand with weights up to POW_MAX_WEIGHT) is
 * an absolute error of 3e-14 to 1e-12 in the block's sum, some 1e-16 of
 * it: far below the likelihood's own rounding.
 */
#define RENORM_EVERY 16

/* b^w for a whole w in [1, POW_MAX_WEIGHT]. */
static inline double pow_whole(double b, double w)
{
	unsigned m = (unsigned)w;
	double r = 1;

	for (; m; m >>= 1) {
		if (m & 1)
			r *= b;
		b *= b;
	}
	return r;
}

/* p > 0 as its mantissa in [1, 2), the power of two added to *k. */
static inline double take_exponent(double p, int *k)
{
	uint64_t u;

	memcpy(&u, &p, sizeof(u));
	*k += (int)((u >> 52) & 0x7ff) - 1023;
	u = (u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	memcpy(&p, &u, sizeof(p));
	return p;
}

/* The block sums of bg_group; a0 without the logs of prod. */
struct bg_acc {
	double a0, a1, a2, a3, a4, prod;
	int k;
};

/*
 * Adds triple i with D = A4 - A3 and ez = e^-|D|. Always inlined: as a
 * call it costs a third of the evaluation. Most triples are one customer
 * (w = 1), and times 1 every product is its operand, bit for bit (also
 * -0, infinities and NaN): that case skips the multiplications by w,
 * some of the few instructions each triple takes.
 */
static inline __attribute__((always_inline)) void
bg_term(const struct bg_data *d, size_t i, double D, double ez, struct bg_acc *a)
{
	double w = d->w[i], l3 = d->lv[d->Ti[i]], l4 = d->lv[d->ti[i]];
	double i3 = d->iv[d->Ti[i]], i4 = d->iv[d->ti[i]], den = 1 + ez;
	double w4 = (D > 0 ? 1 : ez) / den;

	if (w == 1) {
		a->a0 += D > 0 ? D : 0;
		a->prod *= den;
		a->a1 += l3 + w4 * (l4 - l3);
		a->a2 += i3 + w4 * (i4 - i3);
		a->a3 += w4;
		a->a4 += l3;
		return;
	}
	a->a0 += w * (D > 0 ? D : 0);
	if (w <= POW_MAX_WEIGHT && w == floor(w))
		a->prod *= pow_whole(den, w);
	else
		a->a0 += w * log1p(ez);
	a->a1 += w * (l3 + w4 * (l4 - l3));
	a->a2 += w * (i3 + w4 * (i4 - i3));
	a->a3 += w * w4;
	a->a4 += w * l3;
}

/*
 * pw, when not NULL, holds e^(rx (lv[v] - mid)) for every value v and ec4
 * is e^c4, so that e^-|D| is one division, ec4 pw[T] / pw[t_x] or its
 * inverse, instead of an exp per triple (the caller checks that nothing
 * overflows). A block's triples go in runs of RENORM_EVERY, the product's
 * exponent moved out after each whole run (after the block's triples
 * RENORM_EVERY - 1, 2 RENORM_EVERY - 1, ...), so no triple tests for it.
 */
static void bg_group(const struct bg_data *d, size_t s, size_t end, double rx, double c4,
		     const double *pw, double ec4, struct ksum *sums)
{
	const double *lv = d->lv;
	size_t j, i, c;

	for (j = s; j < end; j += SUM_BLOCK) {
		size_t e = end - j < SUM_BLOCK ? end : j + SUM_BLOCK;
		struct bg_acc a = { 0, 0, 0, 0, 0, 1, 0 };

		for (c = j; c < e; c += RENORM_EVERY) {
			size_t ce = e - c < RENORM_EVERY ? e : c + RENORM_EVERY;

			if (pw)
				for (i = c; i < ce; i++) {
					double D = c4 + rx * (lv[d->Ti[i]] - lv[d->ti[i]]);
					double up = ec4 * pw[d->Ti[i]], down = pw[d->ti[i]];

					bg_term(d, i, D, D > 0 ? down / up : up / down, &a);
				}
			else
				for (i = c; i < ce; i++) {
					double D = c4 + rx * (lv[d->Ti[i]] - lv[d->ti[i]]);

					bg_term(d, i, D, exp(-fabs(D)), &a);
				}
			if (ce - c == RENORM_EVERY)
				a.prod = take_exponent(a.prod, &a.k);
		}
		a.a0 += log(a.prod) + a.k * M_LN2;
		ks_add(&sums[0], a.a0);
		ks_add(&sums[1], a.a1);
		ks_add(&sums[2], a.a2);
		ks_add(&sums[3], a.a3);
		ks_add(&sums[4], a.a4);
	}
}

/*
 * bg_group over several blocks at once: the blocks of a group are
 * independent sums until ks_add takes them in order, so LANES of them
 * run side by side, block j + k SUM_BLOCK in lane k of each vector. Every
 * lane does the operations bg_term does for its triple, in the same
 * order, each an IEEE operation of its own (a division, a product, a
 * sum; the vector forms round alike), so each block's sums are the same
 * bits as one at a time: what changes is that two divisions per triple,
 * the loop's cost, go through the divider LANES at a time, and the
 * branches on D and w become selections. Where bg_term skips its
 * multiplications by w = 1 the lanes multiply by 1, which gives the
 * operand bit for bit (bg_term); a weight that takes a log1p (W_BIG) is
 * rare and goes lane by lane. The groups whose table is NULL (an exp per
 * triple) keep bg_group.
 *
 * Lane k reads triple i + k SUM_BLOCK, always: a lane without a block of
 * the group (or past the end of a short one) reads the triples after it,
 * or the LANE_PAD padding after the last (bg_finish), and its sums are
 * dropped. Reading them is harmless: their indexes are valid.
 */
_Static_assert(LANES == 4, "the lanes' code names 4 lanes");
typedef double vdbl __attribute__((vector_size(LANES * sizeof(double))));
typedef int64_t vi64 __attribute__((vector_size(LANES * sizeof(int64_t))));

/* Lane by lane: a where m is all ones, b where it is 0 (a macro: no vector crosses a call). */
#define VSEL(m, a, b) ((vdbl)(((vi64)(a) & (m)) | ((vi64)(b) & ~(m))))

/* bg_acc of LANES blocks, and the evaluation's rx, c4 and e^c4 in every lane. */
struct bg_lanes {
	vdbl a0, a1, a2, a3, a4, prod;
	vi64 k;
	vdbl rx, c4, ec4;
};

/*
 * Triples j + t + k SUM_BLOCK for t in [t0, t1) into lane k. `general`:
 * some weight is not 1 (the product takes w's power, nbits bits of it;
 * `big`: some weight is W_BIG). Always inlined, so that each use
 * compiles with its flags fixed.
 */
static inline __attribute__((always_inline)) void
bg_lanes_run(const struct bg_data *d, const double *pw, size_t j, size_t t0, size_t t1,
	     int general, int big, int nbits, struct bg_lanes *L)
{
	const double *lv = d->lv, *iv = d->iv, *wd = d->w + j;
	const uint32_t *Ti = d->Ti + j, *ti = d->ti + j;
	const uint8_t *wm = d->wm + j;
	const vdbl one = { 1, 1, 1, 1 }, zero = { 0, 0, 0, 0 };
	const vdbl rxv = L->rx, c4v = L->c4, ec4v = L->ec4;
	/* the sums in locals: through L, every load of a table might alias them */
	vdbl a0 = L->a0, a1 = L->a1, a2 = L->a2, a3 = L->a3, a4 = L->a4, prod = L->prod;
	size_t t;
	int k;

#define AT(a, t, k) (a)[(t) + (k) * SUM_BLOCK]
	for (t = t0; t < t1; t++) {
		uint32_t T0 = AT(Ti, t, 0), T1 = AT(Ti, t, 1), T2 = AT(Ti, t, 2), T3 = AT(Ti, t, 3);
		uint32_t u0 = AT(ti, t, 0), u1 = AT(ti, t, 1), u2 = AT(ti, t, 2), u3 = AT(ti, t, 3);
		vdbl l3 = { lv[T0], lv[T1], lv[T2], lv[T3] }, l4 = { lv[u0], lv[u1], lv[u2], lv[u3] };
		vdbl D = c4v + rxv * (l3 - l4);
		vdbl up = ec4v * (vdbl){ pw[T0], pw[T1], pw[T2], pw[T3] };
		vdbl down = { pw[u0], pw[u1], pw[u2], pw[u3] };
		vi64 pos = D > zero;
		vdbl ez = VSEL(pos, down, up) / VSEL(pos, up, down);
		vdbl den = one + ez;
		vdbl w4 = VSEL(pos, one, ez) / den;
		vdbl Dp = (vdbl)((vi64)D & pos); /* D > 0 ? D : +0 */
		vdbl j3 = { iv[T0], iv[T1], iv[T2], iv[T3] }, j4 = { iv[u0], iv[u1], iv[u2], iv[u3] };

		if (!general) {
			a0 += Dp;
			prod *= den;
			a1 += l3 + w4 * (l4 - l3);
			a2 += j3 + w4 * (j4 - j3);
			a3 += w4;
			a4 += l3;
		} else {
			vdbl w = { AT(wd, t, 0), AT(wd, t, 1), AT(wd, t, 2), AT(wd, t, 3) };
			vdbl r = one, b = den;
			vi64 m = { AT(wm, t, 0), AT(wm, t, 1), AT(wm, t, 2), AT(wm, t, 3) };

			a0 += w * Dp;
			/* pow_whole(den, w), lane by lane; W_BIG's bit is above nbits, r stays 1 */
			for (k = 0; k < nbits; k++) {
				r = VSEL((m & ((int64_t)1 << k)) != 0, r * b, r);
				b = b * b;
			}
			prod *= r;
			if (big)
				for (k = 0; k < LANES; k++)
					if (AT(wm, t, k) == W_BIG)
						a0[k] += w[k] * log1p(ez[k]);
			a1 += w * (l3 + w4 * (l4 - l3));
			a2 += w * (j3 + w4 * (j4 - j3));
			a3 += w * w4;
			a4 += w * l3;
		}
	}
#undef AT
	L->a0 = a0;
	L->a1 = a1;
	L->a2 = a2;
	L->a3 = a3;
	L->a4 = a4;
	L->prod = prod;
}

/* take_exponent of every lane's product. */
static inline void bg_lanes_renorm(struct bg_lanes *L)
{
	vi64 u = (vi64)L->prod;

	L->k += ((u >> 52) & 0x7ff) - 1023;
	L->prod = (vdbl)((u & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);
}

/* Lane k as one block's bg_acc. */
static inline struct bg_acc bg_lane(const struct bg_lanes *L, int k)
{
	struct bg_acc a = { L->a0[k], L->a1[k], L->a2[k], L->a3[k], L->a4[k], L->prod[k],
			    (int)L->k[k] };

	return a;
}

/*
 * With GCC on x86-64, bg_lanes_span is compiled twice, for AVX2 (a vector
 * of LANES doubles in one register) and for the base instruction set (in
 * two), and the loader picks one by the CPU: the same operations, so the
 * same bits either way. Not under ThreadSanitizer: the loader runs the
 * picking function (an ifunc resolver) before that runtime is set up,
 * and every program crashed at load.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
	!defined(__SANITIZE_THREAD__)
#define LANES_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LANES_CLONES
#endif

/* Triples [t0, t1) of the lanes from j, with the flags of the weights there. */
LANES_CLONES
static void bg_lanes_span(const struct bg_data *d, const double *pw, size_t j, size_t t0,
			  size_t t1, unsigned wor, struct bg_lanes *L)
{
	int nbits = 0;

	while ((wor & ~W_BIG) >> nbits)
		nbits++;
	if (wor == 1)
		bg_lanes_run(d, pw, j, t0, t1, 0, 0, 0, L);
	else if (!(wor & W_BIG))
		bg_lanes_run(d, pw, j, t0, t1, 1, 0, nbits, L);
	else
		bg_lanes_run(d, pw, j, t0, t1, 1, 1, nbits, L);
}

/* The bitwise or of wm[0..n). */
static unsigned wm_or(const uint8_t *wm, size_t n)
{
	uint64_t o = 0, v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v, wm + i, 8);
		o |= v;
	}
	for (; i < n; i++)
		o |= wm[i];
	o |= o >> 32;
	o |= o >> 16;
	o |= o >> 8;
	return (unsigned)(o & 0xff);
}

/*
 * The n triples from j, in blocks of SUM_BLOCK in lanes (n at most
 * LANES SUM_BLOCK), into sums in block order. A last block shorter than
 * SUM_BLOCK leaves its lane when it ends, its sums kept then.
 */
static void bg_lanes_blocks(const struct bg_data *d, size_t j, size_t n, const double *pw,
			    double rx, double c4, double ec4, struct ksum *sums)
{
	size_t tmax = n < SUM_BLOCK ? n : SUM_BLOCK, c, tshort = 0;
	int nb = (int)((n + SUM_BLOCK - 1) / SUM_BLOCK), k, kshort = nb - 1;
	struct bg_lanes L;
	struct bg_acc a[LANES];
	unsigned wor = wm_or(d->wm + j, n);

	if (nb > 1 && n % SUM_BLOCK)
		tshort = n % SUM_BLOCK;
	for (k = 0; k < LANES; k++) {
		L.a0[k] = L.a1[k] = L.a2[k] = L.a3[k] = L.a4[k] = 0;
		L.prod[k] = 1;
		L.k[k] = 0;
		L.rx[k] = rx;
		L.c4[k] = c4;
		L.ec4[k] = ec4;
	}
	for (c = 0; c < tmax; c += RENORM_EVERY) {
		size_t ce = tmax - c < RENORM_EVERY ? tmax : c + RENORM_EVERY;

		if (tshort > c && tshort < ce) {
			/* the short block ends inside this run: no take_exponent after it */
			bg_lanes_span(d, pw, j, c, tshort, wor, &L);
			a[kshort] = bg_lane(&L, kshort);
			bg_lanes_span(d, pw, j, tshort, ce, wor, &L);
		} else {
			bg_lanes_span(d, pw, j, c, ce, wor, &L);
		}
		if (ce - c == RENORM_EVERY)
			bg_lanes_renorm(&L);
		if (tshort == ce)
			a[kshort] = bg_lane(&L, kshort);
	}
	for (k = 0; k < nb; k++) {
		if (!(tshort && k == kshort))
			a[k] = bg_lane(&L, k);
		a[k].a0 += log(a[k].prod) + a[k].k * M_LN2;
		ks_add(&sums[0], a[k].a0);
		ks_add(&sums[1], a[k].a1);
		ks_add(&sums[2], a[k].a2);
		ks_add(&sums[3], a[k].a3);
		ks_add(&sums[4], a[k].a4);
	}
}

/* bg_group with a power table, LANES blocks at a time. */
static void bg_group_lanes(const struct bg_data *d, size_t s, size_t end, double rx, double c4,
			   const double *pw, double ec4, struct ksum *sums)
{
	size_t j;

	for (j = s; j < end; j += LANES * SUM_BLOCK)
		bg_lanes_blocks(d, j, end - j < LANES * SUM_BLOCK ? end - j : LANES * SUM_BLOCK, pw,
				rx, c4, ec4, sums);
}

/*
 * The power table of bg_group for a group of n triples with rx and c4, or
 * NULL when it does not pay (fewer triples than values) or when e^D could
 * leave the range of doubles: |c4| + rx (lv_max - lv_min) stays below
 * POW_TABLE_LIMIT, and the table is centred between the extreme values.
 */
#define POW_TABLE_LIMIT 600.0

static const double *bg_pow_table(const struct bg_data *d, double *pw, size_t n, double rx,
				  double c4, double *ec4)
{
	double lo = d->lv[0], hi = d->lv[d->nv - 1], mid = lo + (hi - lo) / 2;
	size_t v;

	if (n <= d->nv || !(fabs(c4) + rx * (hi - lo) < POW_TABLE_LIMIT))
		return NULL;
	for (v = 0; v < d->nv; v++)
		pw[v] = exp(rx * (d->lv[v] - mid));
	*ec4 = exp(c4);
	return pw;
}

/* The same sums for x = 0, where only A3 counts (w3 = 1, w4 = 0). */
static void bg_group0(const struct bg_data *d, size_t s, size_t end, struct ksum *sums)
{
	size_t i;

	for (i = s; i < end; i++) {
		ks_add(&sums[1], d->w[i] * d->lv[d->Ti[i]]);
		ks_add(&sums[2], d->w[i] * d->iv[d->Ti[i]]);
	}
	sums[4] = sums[1];
}

/*
 * The bg_group sums of every group over the part's triples (zero for a
 * group outside it). Whether a group takes the power table depends on the
 * whole group, so both halves of a split group take the same path.
 */
static void bg_part_sums(const struct bg_data *d, const struct bg_part *p)
{
	size_t g;

	for (g = 0; g < d->ng; g++) {
		size_t s = d->gs[g] > p->t0 ? d->gs[g] : p->t0;
		size_t end = d->gs[g + 1] < p->t1 ? d->gs[g + 1] : p->t1;
		double x = d->x[d->gs[g]], rx = d->ev_r + x;
		struct ksum *sums = p->sums[g];
		int k;

		for (k = 0; k < 5; k++)
			sums[k] = (struct ksum){ 0, 0 };
		if (s >= end)
			continue;
		if (x > 0) {
			double c4 = d->ev_la - log(d->ev_b + x - 1), ec4 = 0;
			const double *pw = bg_pow_table(d, p->pw, d->gs[g + 1] - d->gs[g], rx, c4, &ec4);

			if (pw && !(fault_flags & CLV_FAULT_SCALAR))
				bg_group_lanes(d, s, end, rx, c4, pw, ec4, sums);
			else
				bg_group(d, s, end, rx, c4, pw, ec4, sums);
		} else {
			bg_group0(d, s, end, sums);
		}
	}
}

/*
 * The worker of an evaluation's second half: it waits for a request
 * (req > done), computes part[1] and reports it done. One per big fit.
 */
#define BG_POOL_MIN 100000 /* distinct triples: below this a thread costs more than it saves */

struct bg_pool {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t go, done_cv;
	unsigned long req, done;
	int quit;
	const struct bg_data *d;
};

static void *bg_pool_main(void *arg)
{
	struct bg_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->req == p->done && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		pthread_mutex_unlock(&p->mu);
		bg_part_sums(p->d, &p->d->part[1]);
		pthread_mutex_lock(&p->mu);
		p->done = p->req;
		pthread_cond_signal(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* A worker for d when it is big and a second CPU is there; NULL otherwise (not an error). */
static struct bg_pool *bg_pool_start(const struct bg_data *d)
{
	struct bg_pool *p;

	if (d->nu < BG_POOL_MIN || cpus_usable() < 2 || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->d = d;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	if (pthread_create(&p->thread, NULL, bg_pool_main, p) == 0)
		return p;
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done_cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
	return NULL;
}

static void bg_pool_stop(struct bg_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_signal(&p->go);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done_cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Both halves' sums: the second on the worker while this thread does the first. */
static void bg_all_parts(const struct bg_data *d)
{
	struct bg_pool *p = d->pool;

	if (!p) {
		bg_part_sums(d, &d->part[0]);
		bg_part_sums(d, &d->part[1]);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->req++;
	pthread_cond_signal(&p->go);
	pthread_mutex_unlock(&p->mu);
	bg_part_sums(d, &d->part[0]);
	pthread_mutex_lock(&p->mu);
	while (p->done != p->req)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/*
 * A log-parameter beyond LOG_LIMIT (or NaN): the objectives are then +inf
 * with a zero gradient, so the searches turn back.
 */
static int beyond_limit(const double *th, double *grad, int dim)
{
	int k;

	for (k = 0; k < dim; k++)
		if (!(fabs(th[k]) <= LOG_LIMIT)) {
			for (k = 0; k < dim; k++)
				grad[k] = 0;
			return 1;
		}
	return 0;
}

/* -LL / n and its gradient with respect to (log r, log alpha, log a, log b). */
static double bg_fg(const double *th, double *grad, void *ctx)
{
	struct bg_data *d = ctx;
	struct ksum ll = { 0, 0 }, gr = { 0, 0 }, gal = { 0, 0 }, ga = { 0, 0 }, gb = { 0, 0 };
	double r, al, a, b, lal, la;
	size_t g, i;

	if (beyond_limit(th, grad, 4))
		return INFINITY;
	r = exp(th[0]);
	al = exp(th[1]);
	a = exp(th[2]);
	b = exp(th[3]);
	lal = log(al);
	la = log(a);
	for (i = 0; i < d->nv; i++) {
		d->lv[i] = log(al + d->vals[i]);
		d->iv[i] = 1 / (al + d->vals[i]);
	}
	d->ev_r = r; /* for the parts, like lv and iv */
	d->ev_la = la;
	d->ev_b = b;
	bg_all_parts(d);
	for (g = 0; g < d->ng; g++) {
		size_t s = d->gs[g];
		double x = d->x[s], W = d->gw[g], rx = r + x;
		double A12 = lgamma_shift(r, x) + r * lal + lgamma_shift(b, x) -
			     lgamma_shift(a + b, x);
		double dr1 = digamma_shift(r, x) + lal;
		double da2 = -digamma_shift(a + b, x);
		double db2 = digamma_shift(b, x) + da2;
		struct ksum sums[5] = { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
		double bx1 = b + x - 1;
		int k;

		for (k = 0; k < 5; k++) {
			ks_add(&sums[k], ks_val(&d->part[0].sums[g][k]));
			ks_add(&sums[k], ks_val(&d->part[1].sums[g][k]));
		}
		ks_add(&ll, W * A12);
		ks_add(&ll, -rx * ks_val(&sums[4]));
		ks_add(&ll, ks_val(&sums[0]));
		ks_add(&gr, W * dr1);
		ks_add(&gr, -ks_val(&sums[1]));
		ks_add(&gal, W * r / al);
		ks_add(&gal, -rx * ks_val(&sums[2]));
		/* ga and gb are a and b times the slopes: no huge terms when a, b are */
		ks_add(&ga, a * W * da2);
		ks_add(&ga, ks_val(&sums[3]));
		ks_add(&gb, b * W * db2);
		if (x > 0)
			ks_add(&gb, -b * ks_val(&sums[3]) / bx1);
	}
	grad[0] = -r * ks_val(&gr) / d->ntot;
	grad[1] = -al * ks_val(&gal) / d->ntot;
	grad[2] = -ks_val(&ga) / d->ntot;
	grad[3] = -ks_val(&gb) / d->ntot;
	return -ks_val(&ll) / d->ntot;
}

double clv_bgnbd_ll1(const struct clv_bgnbd *m, double x, double t_x, double T)
{
	double r = m->r, al = m->alpha, a = m->a, b = m->b;
	double A1 = lgamma_shift(r, x) + r * log(al);
	double A2 = lgamma_shift(b, x) - lgamma_shift(a + b, x);
	double A3 = -(r + x) * log(al + T), A4, mx;

	if (x <= 0)
		return A1 + A2 + A3;
	A4 = log(a) - log(b + x - 1) - (r + x) * log(al + t_x);
	mx = A3 > A4 ? A3 : A4;
	return A1 + A2 + mx + log1p(exp((A3 > A4 ? A4 : A3) - mx));
}

/*
 * Fit every k-th of n customers (k = n / SUB_TARGET), for a start: the
 * Gamma-Gamma model into gg when it is not NULL, else BG/NBD into bg.
 */
static int bg_fit(const struct clv_cust *c, size_t n, struct clv_bgnbd *out, double *Hout,
		  struct crm_err *e);
static int gg_fit(const struct clv_cust *c, size_t n, struct clv_gg *out, double *Hout,
		  struct crm_err *e);

/* A start for a fit of all customers: the optimum of a systematic subsample. */
struct sub_start {
	int ok;                      /* the subsample was fitted: th holds its optimum */
	int have_h;                  /* it ended by BFGS: H is its inverse Hessian */
	int edge;                    /* its optimum is on the edge (CLV_BOUNDARY) */
	double th[1][MAX_DIM];       /* log-parameters, as minimise() takes starts */
	double H[MAX_DIM * MAX_DIM];
};

/*
 * Fit every k-th of n customers (k = n / SUB_TARGET) with the Gamma-Gamma
 * model (gg) or BG/NBD, into ss. A subsample that cannot be fitted is no
 * error (ss->ok = 0: the caller starts from its fixed points); only
 * CRM_E_NOMEM is.
 */
static int sub_start(const struct clv_cust *c, size_t n, int gg, struct sub_start *ss,
		     struct crm_err *e)
{
	size_t k = n / SUB_TARGET, i, m = 0;
	struct clv_cust *s = malloc((n / k + 1) * sizeof(*s));
	struct clv_bgnbd b;
	struct clv_gg g;
	int rc, method;

	memset(ss, 0, sizeof(*ss));
	if (!s)
		return err_set(e, CRM_E_NOMEM, "out of memory for %zu customers", n);
	for (i = 0; i < n; i += k)
		s[m++] = c[i];
	rc = gg ? gg_fit(s, m, &g, ss->H, e) : bg_fit(s, m, &b, ss->H, e);
	free(s);
	if (rc == CRM_E_NOMEM)
		return rc;
	memset(e, 0, sizeof(*e));
	if (rc)
		return 0;
	if (gg) {
		ss->th[0][0] = log(g.p);
		ss->th[0][1] = log(g.q);
		ss->th[0][2] = log(g.gamma);
		method = g.method;
	} else {
		ss->th[0][0] = log(b.r);
		ss->th[0][1] = log(b.alpha);
		ss->th[0][2] = log(b.a);
		ss->th[0][3] = log(b.b);
		method = b.method;
	}
	ss->ok = 1;
	/* its curvature too: the polish then needs a few steps, not a new model */
	ss->have_h = method == CLV_BFGS;
	ss->edge = method == CLV_BOUNDARY;
	return 0;
}

/*
 * Evaluations of the polish from a subsample's optimum: from one on the
 * edge, only a short look along it (EDGE_POLISH_EVALS; the fixed start
 * gets its own POLISH_EVALS in polish()).
 */
static long fit_evals(const struct sub_start *ss)
{
	return ss->edge ? EDGE_POLISH_EVALS : POLISH_EVALS;
}

int clv_bgnbd_fit(const struct clv_cust *c, size_t n, struct clv_bgnbd *out, struct crm_err *e)
{
	return bg_fit(c, n, out, NULL, e);
}

static int bg_fit(const struct clv_cust *c, size_t n, struct clv_bgnbd *out, double *Hout,
		  struct crm_err *e)
{
	/* Fixed starts (r, alpha, a, b) = (1, 1, 1, 1), (0.5, 5, 0.5, 2), (2, 20, 2, 5), (0.1, 0.1, 0.1, 0.1). */
	static const double starts[4][MAX_DIM] = {
		{ 0, 0, 0, 0 },
		{ -0.6931471805599453, 1.6094379124341003, -0.6931471805599453, 0.6931471805599453 },
		{ 0.6931471805599453, 2.995732273553991, 0.6931471805599453, 1.6094379124341003 },
		{ -2.302585092994046, -2.302585092994046, -2.302585092994046, -2.302585092994046 },
	};
	struct bg_data d;
	struct sub_start ss = { 0 };
	double th[MAX_DIM], g[MAX_DIM], f;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n > SUB_MIN && (rc = sub_start(c, n, 0, &ss, e)))
		return rc;
	if ((rc = bg_prepare(c, n, &d, e)))
		return rc;
	d.pool = bg_pool_start(&d);
	if ((ss.ok ? polish(bg_fg, &d, ss.th[0], ss.edge ? starts[0] : NULL, 4, fit_evals(&ss),
			    ss.have_h ? ss.H : NULL, th, &out->method, &out->iters, &out->grad_norm)
		   : minimise(bg_fg, &d, starts, 4, 4, evals_for(d.nu + d.ng), Hout, th,
			      &out->method, &out->iters, &out->grad_norm)) < 0) {
		bg_pool_stop(d.pool);
		bg_release(&d);
		return err_set(e, CRM_E_DATA, "bg/nbd fit did not converge (%zu customers)", n);
	}
	f = bg_fg(th, g, &d);
	bg_pool_stop(d.pool);
	out->r = exp(th[0]);
	out->alpha = exp(th[1]);
	out->a = exp(th[2]);
	out->b = exp(th[3]);
	out->ll = -f * d.ntot;
	bg_release(&d);
	return 0;
}

double clv_bgnbd_p_alive_parts(double c1, double rx, double lT, double ltx)
{
	double lr = c1 + rx * (lT - ltx), e;

	if (lr > 0) {
		/* one call: the compiler may not merge two (exp may set errno) */
		e = exp(-lr);
		return e / (1 + e);
	}
	return 1 / (1 + exp(lr));
}

double clv_bgnbd_p_alive(const struct clv_bgnbd *m, double x, double t_x, double T)
{
	if (x <= 0)
		return 1;
	return clv_bgnbd_p_alive_parts(log(m->a) - log(m->b + x - 1), m->r + x,
				       log(m->alpha + T), log(m->alpha + t_x));
}

double clv_hyp2f1(double a, double b, double c, double z)
{
	struct ksum s = { 1, 0 };
	double term = 1;
	long k;

	if (!(fabs(z) < 1))
		return NAN;
	for (k = 0; k < SERIES_MAX_TERMS; k++) {
		term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z;
		ks_add(&s, term);
		if (term == 0 || (k > 2 && fabs(term) <= 1e-17 * (1 - fabs(z)) * fabs(ks_val(&s))))
			return ks_val(&s);
		if (!isfinite(term))
			return NAN;
	}
	return NAN;
}

/*
 * The ratios of successive terms of both series depend on (x, T) and the
 * model only, not on t: a curve over many t computes each once.
 * q[k - 1] = sgn (u + k) (a + k - 1) / ((c + k) (k + 1)) for the first
 * COEF_CACHE terms (u = A, sgn = -1 for the w series; u = c - A, sgn = 1
 * for the z series), in the arithmetic of a term-by-term computation, so a
 * curve and single values agree bit for bit.
 */
#define COEF_CACHE 512

struct coefs {
	double q[COEF_CACHE];
	long n;              /* ratios known */
	double u, sgn;
};

static inline double coef(struct coefs *cf, long k, double a, double c)
{
	double q;

	if (k <= cf->n)
		return cf->q[k - 1];
	q = (cf->sgn * (cf->u + (double)k)) * (a + (double)k - 1) / ((c + (double)k) * (double)(k + 1));
	if (k == cf->n + 1 && k <= COEF_CACHE)
		cf->q[cf->n++] = q;
	return q;
}

/*
 * (E[Y(t) | x, t_x, T] times the P(alive) denominator), i.e.
 *   c / (a - 1) x [1 - (1 - z)^A 2F1(A, B; c; z)],
 * A = r + x, B = b + x, c = a + b + x - 1, z = t / (alpha + T + t),
 * without the cancellation:
 * - w = t / (alpha + T) < 0.5: Pfaff gives (1 - z)^A 2F1(A, B; c; z) =
 *   2F1(A, a - 1; c; -w), whose series minus its leading 1 carries a - 1
 *   in every term: the result is sum_{k>=1} (-1)^(k+1) (A)_k (a)_(k-1) /
 *   ((c + 1)_(k-1) k!) w^k, an alternating series with ratio < w.
 * - otherwise Euler gives (1 - z)^(a-1) 2F1(c - A, a - 1; c; z), so the
 *   result is c [-L expm1(u)/u - (1 - z)^(a-1) S] with L = log(1 - z),
 *   u = (a - 1) L, S = sum_{k>=1} (c - A)_k (a)_(k-1) / ((c)_k k!) z^k;
 *   needs c > 0 (always when x >= 1).
 * - where (1 - z)^(a-1) is below EULER_U_MIN's exp (a large a: the fits
 *   at the edge of the parameter space have a of 1e7 and more), S
 *   grows past any double before that factor can tame it, and the Euler
 *   form is 0 times infinity: there the plain form 1 - (1 - z)^A 2F1(A, B;
 *   c; z) is used, whose series has ratio about (1 - a / c) z < 1. Its
 *   difference from 1 is about A (a / c) w there, so it loses about
 *   log10(c / a) digits: 2 to 3.4 for the edge fits of the 1M bench.
 */
#define EULER_U_MIN (-700.0)
static double expected_at(const struct clv_bgnbd *m, double x, double T, double t,
			  struct coefs *cw, struct coefs *cz)
{
	double A = m->r + x, a = m->a, c = m->a + m->b + x - 1;
	double w = t / (m->alpha + T);
	struct ksum s = { 0, 0 };
	long k;

	if (!(m->r > 0 && m->alpha > 0 && m->a > 0 && m->b > 0 && x >= 0 && T >= 0 && t >= 0 &&
	      isfinite(c) && isfinite(w)))
		return NAN;
	if (t == 0)
		return 0;
	if (w < 0.5 || !(c > 0)) {
		double term = A * w;

		if (!(w < 1))
			return NAN;
		ks_add(&s, term);
		for (k = 1; k < SERIES_MAX_TERMS; k++) {
			term *= coef(cw, k, a, c) * w;
			ks_add(&s, term);
			if (term == 0 || fabs(term) <= 1e-17 * fabs(ks_val(&s)))
				return ks_val(&s);
			if (!isfinite(term))
				return NAN;
		}
		return NAN;
	} else {
		double z = t / (m->alpha + T + t), L = log1p(-z), u = (a - 1) * L, term, em;

		if (u < EULER_U_MIN)
			return c / (a - 1) * -expm1(A * L + log(clv_hyp2f1(A, m->b + x, c, z)));
		term = (c - A) / c * z;
		em = u == 0 ? 1 : expm1(u) / u;
		ks_add(&s, term);
		for (k = 1; k < SERIES_MAX_TERMS; k++) {
			term *= coef(cz, k, a, c) * z;
			ks_add(&s, term);
			if (term == 0 || fabs(term) <= 1e-17 * (1 - z) * fabs(ks_val(&s)))
				break;
			if (!isfinite(term))
				return NAN;
		}
		if (k == SERIES_MAX_TERMS)
			return NAN;
		return c * (-L * em - exp(u) * ks_val(&s));
	}
}

static void coefs_init(const struct clv_bgnbd *m, double x, struct coefs *cw, struct coefs *cz)
{
	double A = m->r + x, c = m->a + m->b + x - 1;

	cw->n = cz->n = 0;
	cw->u = A;
	cw->sgn = -1;
	cz->u = c - A;
	cz->sgn = 1;
}

static double expected_core(const struct clv_bgnbd *m, double x, double T, double t)
{
	struct coefs cw, cz;

	coefs_init(m, x, &cw, &cz);
	return expected_at(m, x, T, t, &cw, &cz);
}

/*
 * A curve in lanes. Every t of a curve runs its own series, but the term
 * ratio of each series but for its factor (w or z) depends on (x, T) and
 * k only: expected_at's two series take it from the coefs, and where a
 * is huge (u < EULER_U_MIN, the edge) clv_hyp2f1 computes it,
 * (A + k)(B + k) / ((c + k)(k + 1)), a division per term. So LANES
 * values of t of one series advance side by side, one ratio per k for
 * all, each lane doing the operations of its own series in the same
 * order: the same bits as one t at a time (test_expected_curve). A series
 * is a chain of dependent operations, and in lanes the chains of four t
 * overlap. A lane whose series has ended keeps its sum and goes on with a
 * factor of 0 (no subnormal terms) until the last lane ends.
 */
#define VFILL(v) ((vdbl){ (v), (v), (v), (v) })
#define VABS(v) ((vdbl)((vi64)(v) & (vi64){ INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX }))
/* ks_add lane by lane, on sums s and compensations cc */
#define VKS_ADD(s, cc, v)                                                           \
	do {                                                                        \
		vdbl t_ = (s) + (v);                                                \
		vi64 ge_ = VABS(s) >= VABS(v);                                      \
		(cc) += VSEL(ge_, ((s) - t_) + (v), ((v) - t_) + (s));              \
		(s) = t_;                                                           \
	} while (0)

/* expected_at's series: in w (w < 0.5), in z (Euler), clv_hyp2f1's at the edge. */
enum { CURVE_W, CURVE_EULER, CURVE_HYP, CURVE_KINDS };

/*
 * The sums of the series of kind `kind` for the nl (1..LANES) factors
 * v[] (w or z), from the first terms term0[], into out[]: the value
 * expected_at returns (CURVE_W), ks_val(&s) where its second series
 * ends (CURVE_EULER), clv_hyp2f1's result (CURVE_HYP). ok[l] = 0 where
 * the series gives NAN instead (a term not finite, or no end).
 */
static inline __attribute__((always_inline)) void
curve_lanes(int kind, struct coefs *cf, double a, double A, double B, double c,
	    const double *v, const double *term0, int nl, double *out, int *ok)
{
	const vdbl zero = VFILL(0);
	vdbl vv, term, s, cc = zero, lim = VFILL(1e-17);
	unsigned live = (1u << nl) - 1;
	long k;
	int l;

	for (l = 0; l < LANES; l++) {
		vv[l] = l < nl ? v[l] : 0;
		term[l] = l < nl ? term0[l] : 0;
	}
	if (kind == CURVE_HYP) {
		s = VFILL(1);
		lim = VFILL(1e-17) * (VFILL(1) - VABS(vv));
	} else {
		s = zero;
		VKS_ADD(s, cc, term);
		if (kind == CURVE_EULER)
			lim = VFILL(1e-17) * (VFILL(1) - vv);
	}
	for (k = kind == CURVE_HYP ? 0 : 1; k < SERIES_MAX_TERMS && live; k++) {
		double q = kind == CURVE_HYP ? (A + k) * (B + k) / ((c + k) * (k + 1))
					     : coef(cf, k, a, c);
		vdbl sum;
		vi64 stop, bad, any;

		term *= VFILL(q) * vv;
		VKS_ADD(s, cc, term);
		sum = s + cc;
		stop = term == 0;
		if (kind != CURVE_HYP || k > 2)
			stop |= VABS(term) <= lim * VABS(sum);
		bad = ~(VABS(term) <= VFILL(DBL_MAX)); /* not finite */
		any = stop | bad;
		if (!(any[0] | any[1] | any[2] | any[3]))
			continue;
		for (l = 0; l < nl; l++) {
			if (!(live & (1u << l)) || !any[l])
				continue;
			ok[l] = stop[l] != 0; /* the series tests its end first */
			out[l] = ok[l] ? sum[l] : NAN;
			live &= ~(1u << l);
			vv[l] = 0;
		}
	}
	for (l = 0; l < nl; l++)
		if (live & (1u << l)) {
			ok[l] = 0; /* SERIES_MAX_TERMS */
			out[l] = NAN;
		}
}

/*
 * One series waiting for lanes: where its result goes, its factor (w or
 * z) and, for the series in z, log1p(-z) and (a - 1) log1p(-z).
 */
struct curve_item {
	size_t out;
	double v, L, u;
};

/* expected_at of the nl items it[] (of one kind), into out[it[l].out]. */
LANES_CLONES
static void curve_chunk(const struct clv_bgnbd *m, double x, const struct curve_item *it, int nl,
			int kind, struct coefs *cw, struct coefs *cz, double *out)
{
	double A = m->r + x, a = m->a, c = m->a + m->b + x - 1;
	double v[LANES], term0[LANES], res[LANES];
	int l, ok[LANES];

	for (l = 0; l < nl; l++) {
		v[l] = it[l].v;
		term0[l] = kind == CURVE_W ? A * v[l] : kind == CURVE_HYP ? 1 : (c - A) / c * v[l];
	}
	curve_lanes(kind, kind == CURVE_W ? cw : cz, a, A, m->b + x, c, v, term0, nl, res, ok);
	for (l = 0; l < nl; l++) {
		double *o = &out[it[l].out], u = it[l].u, em;

		if (kind == CURVE_W) {
			*o = res[l];
		} else if (kind == CURVE_EULER) {
			em = u == 0 ? 1 : expm1(u) / u;
			*o = !ok[l] ? NAN : c * (-it[l].L * em - exp(u) * res[l]);
		} else { /* clv_hyp2f1's NAN goes on, as in expected_at */
			*o = c / (a - 1) * -expm1(A * it[l].L + log(res[l]));
		}
	}
}

/*
 * Series end sooner the smaller their factor: the items of one kind are
 * run in order of their factor, by buckets of CURVE_BUCKETS over [0, 1)
 * (a counting sort, no comparisons), so that the four lanes of a chunk
 * end at nearly the same term.
 */
#define CURVE_BUCKETS 64
#define CURVE_SMALL 128 /* series of a call on the stack, not the heap */

void clv_bgnbd_expected_alive_curves(const struct clv_bgnbd *m, double x, const double *T,
				     size_t np, const double *t, int n, double *out, size_t stride)
{
	double A = m->r + x, a = m->a, c = m->a + m->b + x - 1;
	size_t total = np * (size_t)n, nk[CURVE_KINDS] = { 0, 0, 0 }, p, k0;
	/* one curve (up to CURVE_SMALL t) on the stack */
	struct curve_item small_items[CURVE_SMALL], small_byb[CURVE_SMALL], *items, *byb;
	unsigned char small_kb[CURVE_SMALL], *kb;
	size_t cnt[CURVE_KINDS][CURVE_BUCKETS + 1], q;
	struct coefs cw, cz;
	int i, kind, bk, heap = total > CURVE_SMALL;

	coefs_init(m, x, &cw, &cz);
	items = heap ? malloc(total * sizeof(*items)) : small_items;
	kb = heap ? malloc(total) : small_kb;
	if (!items || !kb) {
		/* out of memory: one t at a time, the same values */
		for (p = 0; p < np; p++)
			for (i = 0; i < n; i++)
				out[p * stride + (size_t)i] = expected_at(m, x, T[p], t[i], &cw, &cz);
		if (heap) {
			free(items);
			free(kb);
		}
		return;
	}
	memset(cnt, 0, sizeof(cnt));
	for (p = 0, q = 0; p < np; p++)
		for (i = 0; i < n; i++, q++) {
			double w = t[i] / (m->alpha + T[p]), z = 0, L = 0, u = 0;
			size_t o = p * stride + (size_t)i;

			kb[q] = 0xff;
			/* expected_at's cases, in its order */
			if (!(m->r > 0 && m->alpha > 0 && m->a > 0 && m->b > 0 && x >= 0 &&
			      T[p] >= 0 && t[i] >= 0 && isfinite(c) && isfinite(w))) {
				out[o] = NAN;
				continue;
			}
			if (t[i] == 0) {
				out[o] = 0;
				continue;
			}
			if (w < 0.5 || !(c > 0)) {
				if (!(w < 1)) {
					out[o] = NAN;
					continue;
				}
				kind = CURVE_W;
				z = w;
			} else {
				z = t[i] / (m->alpha + T[p] + t[i]);
				L = log1p(-z);
				u = (a - 1) * L;
				kind = u < EULER_U_MIN ? CURVE_HYP : CURVE_EULER;
				if (kind == CURVE_HYP && !(fabs(z) < 1)) { /* clv_hyp2f1's NAN */
					out[o] = c / (a - 1) * -expm1(A * L + log(NAN));
					continue;
				}
			}
			bk = z >= 0 && z < 1 ? (int)(z * CURVE_BUCKETS) : CURVE_BUCKETS - 1;
			kb[q] = (unsigned char)(kind * CURVE_BUCKETS + bk);
			items[q] = (struct curve_item){ o, z, L, u };
			cnt[kind][bk + 1]++;
			nk[kind]++;
		}
	/* bucket starts, the kinds one after the other */
	for (kind = 0, k0 = 0; kind < CURVE_KINDS; kind++) {
		cnt[kind][0] = k0;
		for (bk = 1; bk <= CURVE_BUCKETS; bk++)
			cnt[kind][bk] += cnt[kind][bk - 1];
		k0 += nk[kind];
	}
	byb = heap ? malloc((k0 ? k0 : 1) * sizeof(*byb)) : small_byb;
	if (!byb) {
		for (q = 0; q < total; q++)
			if (kb[q] != 0xff)
				out[items[q].out] = expected_at(m, x, T[items[q].out / stride],
							       t[items[q].out % stride], &cw, &cz);
		free(items);
		free(kb);
		return;
	}
	for (q = 0; q < total; q++)
		if (kb[q] != 0xff)
			byb[cnt[kb[q] / CURVE_BUCKETS][kb[q] % CURVE_BUCKETS]++] = items[q];
	for (kind = 0, k0 = 0; kind < CURVE_KINDS; kind++) {
		for (q = 0; q < nk[kind]; q += LANES)
			curve_chunk(m, x, byb + k0 + q, nk[kind] - q < LANES ? (int)(nk[kind] - q) : LANES,
				    kind, &cw, &cz, out);
		k0 += nk[kind];
	}
	if (heap) {
		free(byb);
		free(items);
		free(kb);
	}
}

void clv_bgnbd_expected_alive_curve(const struct clv_bgnbd *m, double x, double T,
				    const double *t, int n, double *out)
{
	clv_bgnbd_expected_alive_curves(m, x, &T, 1, t, n, out, (size_t)n);
}

double clv_bgnbd_expected(const struct clv_bgnbd *m, double x, double t_x, double T, double t)
{
	double v = expected_core(m, x, T, t);

	return v * clv_bgnbd_p_alive(m, x, t_x, T);
}

double clv_bgnbd_expected_alive(const struct clv_bgnbd *m, double x, double T, double t)
{
	return expected_core(m, x, T, t);
}

double clv_bgnbd_population(const struct clv_bgnbd *m, double t)
{
	return expected_core(m, 0, 0, t);
}

/* ----------------------------------------------------------- Gamma-Gamma */

struct gg_data {
	size_t nu, ng;
	double *x, *lm, *lx, *ixm, *w; /* per distinct (x, zbar): x, log zbar, log x, 1 / (x zbar), weight */
	size_t *gs;
	double *gw, *glm;   /* per group (distinct x): weight, sum of w log zbar */
	double ntot;
};

/*
 * The order by (x, mean spend): a customer is a record of its spend's
 * bits (order_key, less the smallest) and its x's rank, and one LSD
 * radix sort of the records by (x rank, spend bits), 11 bits a pass, the
 * passes of bits that no two records tell apart skipped, gives the pairs
 * in order with their values: no order of indexes to follow with random
 * reads afterwards, no comparison. Equal records are equal pairs, so
 * the order among them does not matter.
 */
struct gg_rec {
	uint64_t key;      /* order_key(spend) - lo */
	uint32_t xr, pad;  /* x's rank among the distinct x */
};

#define GG_RADIX_BITS 11
#define GG_RADIX (1u << GG_RADIX_BITS)

/* The records a[0..m) sorted by (xr, key) (b is scratch of m); the array holding them. */
static struct gg_rec *gg_sort(struct gg_rec *a, struct gg_rec *b, size_t m, uint64_t kspan,
			      uint32_t nx)
{
	int kb = 0, xb = 0, pk, np, p;
	uint32_t (*count)[GG_RADIX];
	size_t i;

	while (kb < 64 && (kspan >> kb))
		kb++;
	while (xb < 32 && ((uint64_t)nx - 1) >> xb)
		xb++;
	pk = (kb + GG_RADIX_BITS - 1) / GG_RADIX_BITS;
	np = pk + (xb + GG_RADIX_BITS - 1) / GG_RADIX_BITS;
	if (!np || !(count = calloc((size_t)np, sizeof(*count))))
		return np ? NULL : a;
#define DIGIT(r, p) ((p) < pk ? (uint32_t)((r).key >> ((p) * GG_RADIX_BITS)) & (GG_RADIX - 1) \
			      : ((r).xr >> (((p) - pk) * GG_RADIX_BITS)) & (GG_RADIX - 1))
	for (i = 0; i < m; i++)
		for (p = 0; p < np; p++)
			count[p][DIGIT(a[i], p)]++;
	for (p = 0; p < np; p++) {
		uint32_t sum = 0, c, k;
		struct gg_rec *t;

		if (count[p][DIGIT(a[0], p)] == m)
			continue; /* every record has this digit */
		for (k = 0; k < GG_RADIX; k++) {
			c = count[p][k];
			count[p][k] = sum;
			sum += c;
		}
		for (i = 0; i < m; i++)
			b[count[p][DIGIT(a[i], p)]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
#undef DIGIT
	free(count);
	return a;
}

/*
 * Ranks of the m values v[] (> 0) among their distinct values into r,
 * and those values ascending into *vals (*nv of them): from a table when
 * all are whole numbers below DAYS_MAX (x, purchase days), else by
 * rank.h on their bits. The same ranks either way. -1 when out of memory.
 */
static int value_ranks(const double *v, size_t m, uint32_t *r, double **vals, size_t *nv)
{
	uint32_t max = 0, *tab, k, j;
	struct rank rk;
	size_t i;
	int ok;

	*vals = NULL;
	for (i = 0; i < m && !(fault_flags & CLV_FAULT_HASH); i++) {
		if (!(v[i] >= 0 && v[i] < DAYS_MAX && v[i] == (double)(uint32_t)v[i]))
			break;
		max = (uint32_t)v[i] > max ? (uint32_t)v[i] : max;
	}
	if (i == m) {
		if (!(tab = calloc((size_t)max + 1, sizeof(*tab))))
			return -1;
		for (i = 0; i < m; i++)
			tab[(uint32_t)v[i]] = 1;
		for (k = 0, j = 0; k <= max; k++)
			j += tab[k];
		if (!(*vals = malloc((j ? j : 1) * sizeof(**vals)))) {
			free(tab);
			return -1;
		}
		for (k = 0, j = 0; k <= max; k++)
			if (tab[k]) {
				(*vals)[j] = (double)k;
				tab[k] = j++;
			}
		for (i = 0; i < m; i++)
			r[i] = tab[(uint32_t)v[i]];
		*nv = j;
		free(tab);
		return 0;
	}
	ok = rank_init(&rk) == 0;
	for (i = 0; ok && i < m; i++)
		ok = rank_add(&rk, order_key(v[i]), &r[i]) == 0;
	ok = ok && rank_finish(&rk, r, m) == 0 && (*vals = key_values(rk.keys, rk.n));
	*nv = rk.n;
	rank_release(&rk);
	return ok ? 0 : -1;
}

/*
 * Sums over the distinct (x, zbar) of one x in [s, end), with t =
 * gamma / (x zbar): su of w log1p(t) and sv of w t / (1 + t). Blocks as
 * bg_group.
 */
static void gg_group(const struct gg_data *d, size_t s, size_t end, double ga, struct ksum *su,
		     struct ksum *sv)
{
	size_t j, i;

	for (j = s; j < end; j += SUM_BLOCK) {
		size_t e = end - j < SUM_BLOCK ? end : j + SUM_BLOCK;
		double a0 = 0, a1 = 0;

		for (i = j; i < e; i++) {
			double t = ga * d->ixm[i];

			a0 += d->w[i] * log1p(t);
			a1 += d->w[i] * (t / (1 + t));
		}
		ks_add(su, a0);
		ks_add(sv, a1);
	}
}

/*
 * -LL / n and its gradient with respect to (log p, log q, log gamma). One
 * customer's log-likelihood, written so that nothing huge cancels when p
 * is huge and gamma tiny (the edge where spend does not vary within a
 * customer), with u = log1p(gamma / (x zbar)):
 *   lgamma(px + q) - lgamma(px) - lgamma(q) + q ln gamma - q ln x
 *   - (1 + q) ln zbar - (px + q) u
 */
static double gg_fg(const double *th, double *grad, void *ctx)
{
	const struct gg_data *d = ctx;
	struct ksum ll = { 0, 0 }, gp = { 0, 0 }, gq = { 0, 0 }, gg = { 0, 0 };
	double p, q, ga, lga, dq, lgq;
	size_t g;

	if (beyond_limit(th, grad, 3))
		return INFINITY;
	p = exp(th[0]);
	q = exp(th[1]);
	ga = exp(th[2]);
	lga = log(ga);
	dq = digamma(q);
	lgq = lgam(q);
	for (g = 0; g < d->ng; g++) {
		size_t s = d->gs[g], end = d->gs[g + 1];
		double x = d->x[s], W = d->gw[g], px = p * x, lx = d->lx[s], Slm = d->glm[g];
		struct ksum su = { 0, 0 }, sv = { 0, 0 };
		double Su, Sv;

		gg_group(d, s, end, ga, &su, &sv);
		Su = ks_val(&su);
		Sv = ks_val(&sv);
		ks_add(&ll, W * (lgamma_shift(px, q) - lgq + q * lga - q * lx));
		ks_add(&ll, -(1 + q) * Slm);
		ks_add(&ll, -(px + q) * Su);
		/* p, q and gamma times the slopes (log-parameters) */
		ks_add(&gp, px * W * digamma_shift(px, q));
		ks_add(&gp, -px * Su);
		ks_add(&gq, q * W * (digamma(px + q) - dq + lga - lx));
		ks_add(&gq, -q * (Slm + Su));
		ks_add(&gg, W * q);
		ks_add(&gg, -(px + q) * Sv);
	}
	grad[0] = -ks_val(&gp) / d->ntot;
	grad[1] = -ks_val(&gq) / d->ntot;
	grad[2] = -ks_val(&gg) / d->ntot;
	return -ks_val(&ll) / d->ntot;
}

double clv_gg_ll1(const struct clv_gg *m, double x, double mean_spend)
{
	double px = m->p * x;

	return lgamma_shift(px, m->q) - lgam(m->q) + m->q * log(m->gamma) - m->q * log(x) -
	       (1 + m->q) * log(mean_spend) - (px + m->q) * log1p(m->gamma / (x * mean_spend));
}

double clv_pearson(const double *a, const double *b, size_t n)
{
	struct ksum sa = { 0, 0 }, sb = { 0, 0 }, sab = { 0, 0 }, saa = { 0, 0 }, sbb = { 0, 0 };
	double ma, mb, va, vb;
	size_t i;

	if (n < 2)
		return NAN;
	for (i = 0; i < n; i++) {
		ks_add(&sa, a[i]);
		ks_add(&sb, b[i]);
	}
	ma = ks_val(&sa) / (double)n;
	mb = ks_val(&sb) / (double)n;
	for (i = 0; i < n; i++) {
		ks_add(&sab, (a[i] - ma) * (b[i] - mb));
		ks_add(&saa, (a[i] - ma) * (a[i] - ma));
		ks_add(&sbb, (b[i] - mb) * (b[i] - mb));
	}
	va = ks_val(&saa);
	vb = ks_val(&sbb);
	if (!(va > 0 && vb > 0))
		return NAN;
	return ks_val(&sab) / sqrt(va * vb);
}

int clv_gg_fit(const struct clv_cust *c, size_t n, struct clv_gg *out, struct crm_err *e)
{
	return gg_fit(c, n, out, NULL, e);
}

/* Each group's sum of w log zbar (glm), which no parameter changes. */
static void gg_log_means(struct gg_data *d)
{
	size_t g, i;

	for (g = 0; g < d->ng; g++) {
		struct ksum k = { 0, 0 };

		for (i = d->gs[g]; i < d->gs[g + 1]; i++)
			ks_add(&k, d->w[i] * d->lm[i]);
		d->glm[g] = ks_val(&k);
	}
}

/*
 * gamma is in currency units while p and q are pure numbers, so the fixed
 * starts, the edge (at_edge) and LOG_LIMIT of the Gamma-Gamma fit would
 * mean other things in yen or dong than in euros. Spends whose average
 * lies outside [2^-4, 2^10) are divided by a power of two (exact) that
 * brings it to [32, 64), and gamma is multiplied back at the end; spends
 * in that range, most currencies, are fitted as they are. Returns the
 * exponent k2 of the divisor 2^k2.
 */
static int spend_scale(const struct clv_cust *c, size_t n, size_t m)
{
	struct ksum sum = { 0, 0 };
	size_t i;
	int e;

	for (i = 0; i < n; i++)
		if (c[i].x > 0)
			ks_add(&sum, c[i].mean_spend);
	frexp(ks_val(&sum) / (double)m, &e); /* average = f 2^e, f in [0.5, 1) */
	return e >= -3 && e <= 10 ? 0 : e - 6;
}

/* Customers with x > 0 (all valid), or an error naming the first bad one. */
static int gg_count(const struct clv_cust *c, size_t n, size_t *m, struct crm_err *e)
{
	size_t i;

	*m = 0;
	for (i = 0; i < n; i++) {
		if (!(c[i].x >= 0 && isfinite(c[i].x)))
			return err_at(e, CRM_E_INPUT, NULL, (long)(i + 1), "x",
				      "invalid repeat purchase count %g", c[i].x);
		if (c[i].x > 0) {
			if (!(c[i].mean_spend > 0 && isfinite(c[i].mean_spend)))
				return err_at(e, CRM_E_INPUT, NULL, (long)(i + 1), "mean_spend",
					      "gamma-gamma needs a positive mean spend, got %g",
					      c[i].mean_spend);
			(*m)++;
		}
	}
	if (*m == 0)
		return err_set(e, CRM_E_INPUT, "cannot fit gamma-gamma without repeat purchases");
	return 0;
}

/*
 * The distinct (x, mean spend / 2^k2) of the m customers with x > 0 in
 * (x, spend) order, merged with a weight, into d; *corr the correlation of
 * x and spend. 0, or -1 when out of memory.
 */
static int gg_prepare(const struct clv_cust *c, size_t n, size_t m, int k2, struct gg_data *d,
		      double *corr)
{
	double *xa = malloc(2 * m * sizeof(double)), *xv = NULL, lx = 0;
	struct gg_rec *ra = malloc(m * sizeof(*ra)), *rb = malloc(m * sizeof(*rb)), *rs;
	uint32_t *r = malloc(m * sizeof(*r));
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t i, u = 0, g = 0, nx;
	int rc = -1;

	if (!xa || !ra || !rb || !r)
		goto out;
	for (i = 0; i < n; i++)
		if (c[i].x > 0) {
			xa[u] = c[i].x;
			/* ldexp by 0 is the value itself */
			xa[m + u] = k2 ? ldexp(c[i].mean_spend, -k2) : c[i].mean_spend;
			u++;
		}
	*corr = clv_pearson(xa, xa + m, m);
	if (value_ranks(xa, m, r, &xv, &nx))
		goto out;
	for (i = 0; i < m; i++) {
		uint64_t k = order_key(xa[m + i]);

		lo = k < lo ? k : lo;
		hi = k > hi ? k : hi;
		ra[i].key = k;
		ra[i].xr = r[i];
		ra[i].pad = 0;
	}
	for (i = 0; i < m; i++)
		ra[i].key -= lo;
	if (!(rs = gg_sort(ra, rb, m, hi - lo, (uint32_t)nx)))
		goto out;
	for (i = 0, u = 0; i < m; i++)
		if (i == 0 || rs[i].key != rs[i - 1].key || rs[i].xr != rs[i - 1].xr)
			u++;
	d->x = malloc(7 * u * sizeof(double));
	d->gs = malloc((u + 1) * sizeof(size_t));
	if (!d->x || !d->gs)
		goto out;
	d->lm = d->x + u;
	d->lx = d->lm + u;
	d->ixm = d->lx + u;
	d->w = d->ixm + u;
	d->gw = d->w + u;
	d->glm = d->gw + u;
	for (i = 0, u = 0; i < m; i++) {
		if (i == 0 || rs[i].key != rs[i - 1].key || rs[i].xr != rs[i - 1].xr) {
			uint64_t bits = rs[i].key + lo;
			double x = xv[rs[i].xr], z;

			memcpy(&z, &bits, sizeof(z));
			if (u == 0 || x != d->x[u - 1]) {
				d->gs[g] = u;
				d->gw[g] = 0;
				d->glm[g] = 0;
				g++;
				lx = log(x); /* the same for every pair of the group */
			}
			d->x[u] = x;
			d->lm[u] = log(z);
			d->lx[u] = lx;
			d->ixm[u] = 1 / (x * z);
			d->w[u] = 0;
			u++;
		}
		d->w[u - 1] += 1;
		d->gw[g - 1] += 1;
	}
	d->gs[g] = u;
	d->nu = u;
	d->ng = g;
	d->ntot = (double)m;
	gg_log_means(d);
	rc = 0;
out:
	free(xa);
	free(xv);
	free(ra);
	free(rb);
	free(r);
	return rc;
}

static int gg_fit(const struct clv_cust *c, size_t n, struct clv_gg *out, double *Hout,
		  struct crm_err *e)
{
	/* Fixed starts (p, q, gamma) = (1, 1, 1), (5, 3, 10), (0.5, 5, 50), (10, 10, 100). */
	static const double starts[4][MAX_DIM] = {
		{ 0, 0, 0 },
		{ 1.6094379124341003, 1.0986122886681098, 2.302585092994046 },
		{ -0.6931471805599453, 1.6094379124341003, 3.912023005428146 },
		{ 2.302585092994046, 2.302585092994046, 4.605170185988092 },
	};
	struct gg_data d;
	double th[MAX_DIM], gr[MAX_DIM], f;
	struct sub_start ss = { 0 };
	size_t m;
	int rc, k2;

	memset(out, 0, sizeof(*out));
	memset(&d, 0, sizeof(d));
	if (n > SUB_MIN && (rc = sub_start(c, n, 1, &ss, e)))
		return rc;
	if ((rc = gg_count(c, n, &m, e)))
		return rc;
	k2 = spend_scale(c, n, m);
	ss.th[0][2] -= k2 * M_LN2; /* the subsample's gamma is in currency units */
	if (gg_prepare(c, n, m, k2, &d, &out->corr_x_spend)) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory for %zu customers", m);
		goto out;
	}
	if ((ss.ok ? polish(gg_fg, &d, ss.th[0], ss.edge ? starts[0] : NULL, 3, fit_evals(&ss),
			    ss.have_h ? ss.H : NULL, th, &out->method, &out->iters, &out->grad_norm)
		   : minimise(gg_fg, &d, starts, 4, 3, evals_for(d.nu + d.ng), Hout, th,
			      &out->method, &out->iters, &out->grad_norm)) < 0) {
		rc = err_set(e, CRM_E_DATA, "gamma-gamma fit did not converge (%zu customers)", m);
		goto out;
	}
	f = gg_fg(th, gr, &d);
	out->p = exp(th[0]);
	out->q = exp(th[1]);
	out->gamma = ldexp(exp(th[2]), k2);
	/* each mean spend's density in currency units: 1 / 2^k2 of the scaled one */
	out->ll = -f * d.ntot - (double)m * k2 * M_LN2;
	out->n = m;
out:
	free(d.x);
	free(d.gs);
	return rc;
}

double clv_gg_mean_spend(const struct clv_gg *m, double x, double mean_spend)
{
	if (x <= 0)
		return m->q > 1 ? m->p * m->gamma / (m->q - 1) : NAN;
	return m->p * (m->gamma + x * mean_spend) / (m->p * x + m->q - 1);
}

/* ------------------------------------------------------------------ CLV */

double clv_value(const struct clv_bgnbd *m, const struct clv_gg *g, const struct clv_cust *c,
		 int months, double monthly_rate, double margin)
{
	double spend = clv_gg_mean_spend(g, c->x, c->mean_spend);
	double pa = clv_bgnbd_p_alive(m, c->x, c->t_x, c->T), prev = 0, disc = 1;
	struct ksum v = { 0, 0 };
	int k;

	for (k = 1; k <= months; k++) {
		double cur = expected_core(m, c->x, c->T, k * CLV_MONTH_WEEKS) * pa;

		disc /= 1 + monthly_rate;
		ks_add(&v, (cur - prev) * disc);
		prev = cur;
	}
	return ks_val(&v) * spend * margin;
}
