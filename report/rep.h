/*
 * rep.h - laying out a report: the sections of a template filled with the
 * values of a metrics table, drawn into a PDF in memory.
 *
 * Owns the layout and the built-in wording (English and Chinese) of the
 * sections. Reads one file itself: the per-customer metrics
 * <data_dir>/metrics/P-customers.csv, for an at_risk section only (its rows
 * are not in the metrics table). Writes nothing (publish.c finds the other
 * files and writes the PDF atomically).
 */
#ifndef CRM_REP_H
#define CRM_REP_H

#include <stddef.h>
#include <time.h>

#include "err.h"
#include "mtab.h"
#include "tpl.h"

struct rep_opts {
	int period;            /* the report's period (period.h months) */
	enum tpl_lang lang;
	const char *title;     /* the configured report title, UTF-8 (may be NULL) */
	const char *currency;  /* ISO code, e.g. "USD" */
	time_t created;        /* creation date written in the PDF */
	const char *data_dir;  /* where metrics/P-customers.csv is (at_risk); NULL: that section shows no data */
};

/*
 * Render the report; *out is a heap buffer holding the PDF (caller frees).
 * Metrics missing from the table are shown as "n/a", never as zero.
 */
int rep_render(const struct tpl *t, const struct mtab *m, const struct rep_opts *o,
	       unsigned char **out, size_t *len, struct crm_err *e);

/*
 * 1 when `ref` lies inside the 95% Wilson score interval of the proportion
 * num/den (0 <= num <= den, den > 0): a change from ref to num/den that
 * the sample cannot tell from noise, which the scorecard greys out
 * (METRICS.md, Intervals). 0 otherwise, and when the interval is undefined.
 */
int rep_within_wilson(double num, double den, double ref);

/*
 * Promoters and detractors behind an NPS row (numerator p - d, denominator
 * n responses) and its nps_moe95: METRICS.md's margin formula gives p + d,
 * so both counts follow. 1 with *prom, *det set when they come out as
 * whole numbers that fit n; 0 otherwise (the report then shows the score
 * and its margin only).
 */
int rep_nps_counts(double num, double den, double moe, double *prom, double *det);

#endif
