/*
 * chart.h - charts drawn as vector graphics on a report page: a line chart
 * of a metric over periods (or several lines on shared axes), horizontal
 * bars comparing segments, step curves and heatmap colours.
 *
 * A chart is drawn inside a box given in points (x, y the bottom left);
 * the axes, ticks and labels are inside the box, so a caller lays charts
 * out by their boxes alone. Values are doubles with a presence flag: a
 * missing period breaks the line rather than dropping it to zero.
 */
#ifndef CRM_CHART_H
#define CRM_CHART_H

#include <stddef.h>

#include "fmt.h"
#include "pdf.h"

#define CHART_MAX_POINTS 64

struct chart_series {
	size_t n;                    /* points, at most CHART_MAX_POINTS */
	const char *const *xlabels;  /* n labels (borrowed), e.g. "2025-06" */
	const double *y;             /* n values */
	const int *has;              /* n flags: 0 = no value */
	enum fmt_kind kind;          /* how ticks and the last value are written */
	const char *currency;        /* for money */
};

/* A line chart with a y axis of nice ticks, x labels and the last value called out. */
void chart_line(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s);

/* How one series of chart_lines is drawn. */
struct chart_style {
	struct pdf_rgb color;
	int dashed;            /* 1: a dashed line (a forecast, say) */
};

/*
 * Several series on one pair of axes: the y range covers them all, the x
 * labels, point count and kind are those of s[0] (all series have s[0].n
 * points). No call-outs and no key: the caller writes one under the chart.
 */
void chart_lines(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s,
		 const struct chart_style *st, size_t n);

/*
 * Horizontal bars, one per label, longest first as given; each bar is
 * labelled with its value. Bars start at zero (negative values are drawn
 * as zero-length bars with their value).
 */
void chart_bars(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s);

/*
 * The heatmap colour of a share v (clamped to 0..1): from a pale grey-blue
 * at 0 to the report's accent blue at 1, linear in each channel. *dark is
 * set when text on it should be white (v >= 0.55).
 */
struct pdf_rgb chart_heat(double v, int *dark);

/* Distinct colours for up to 8 curves (index taken modulo 8); 0 is the accent. */
struct pdf_rgb chart_palette(size_t i);

/*
 * Ticks for an axis of days from 0 to at least max_day: a step of 30, 60,
 * 90, 180, 365 or 730 days, the smallest giving at most 8 intervals.
 * Returns the number of ticks (0, step, 2 step, ... covering max_day).
 */
int chart_day_ticks(double max_day, int *step);

/* One step curve: S(k[i]) = v[i], S(0) = 1 before the first point. */
struct chart_curve {
	size_t n;
	const long *k;         /* days, ascending */
	const double *v;       /* shares 0..1 */
	struct pdf_rgb color;
	float width;           /* line width in points */
};

/*
 * Step lines (Kaplan-Meier curves) on axes of days (x, from 0) and share
 * (y, 0 to 100%), with a dashed line at 50%; axis titles xt and yt (UTF-8).
 */
void chart_steps(struct pdf *p, float x, float y, float w, float h, const struct chart_curve *c,
		 size_t n, const char *xt, const char *yt);

#endif
