/*
 * chart.h - charts drawn as vector graphics on a report page: a line chart
 * of a metric over periods and horizontal bars comparing segments.
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

/*
 * Horizontal bars, one per label, longest first as given; each bar is
 * labelled with its value. Bars start at zero (negative values are drawn
 * as zero-length bars with their value).
 */
void chart_bars(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s);

#endif
