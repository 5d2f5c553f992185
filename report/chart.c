/*
 * chart.c - line and bar charts with libharu paths (see chart.h).
 *
 * Deliberately plain: light grid lines at nice ticks, no legend (the
 * section title names the metric; a caller of chart_lines draws its own
 * key). Sizes are fixed in
 * points for a phone-readable A4 page; the caller picks the box.
 */
#include <math.h>
#include <stdio.h>

#include "chart.h"

#include "banned.h"

#define TICK_SIZE 7.0f
#define LABEL_SIZE 6.5f

/* Where a line chart's plot area is and how its y axis maps values. */
struct axes {
	float px0, px1, py0, py1;  /* plot area, points */
	double t0, step;           /* first tick and the step between ticks */
	int ticks;
	size_t n;                  /* points on the x axis */
};

static float ax_x(const struct axes *a, size_t k)
{
	if (a->n < 2)
		return (a->px0 + a->px1) / 2;
	return a->px0 + (a->px1 - a->px0) * (float)k / (float)(a->n - 1);
}

static float ax_y(const struct axes *a, double v)
{
	return a->py0 + (float)((v - a->t0) / (a->step * (a->ticks - 1))) * (a->py1 - a->py0);
}

/*
 * The axes of series s[0..ns) (same x labels and kind as s[0]): y range
 * over every present value, nice ticks with a grid, x ticks and labels
 * thinned until they do not touch. right_room points are left free on
 * the right (for a call-out).
 */
static void draw_axes(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s,
		      size_t ns, float right_room, struct axes *a)
{
	double lo = INFINITY, hi = -INFINITY;
	float lab_w = 0;
	int i, every;
	size_t j, k;
	char buf[FMT_MAX];

	for (j = 0; j < ns; j++)
		for (k = 0; k < s[j].n; k++)
			if (s[j].has[k]) {
				lo = fmin(lo, s[j].y[k]);
				hi = fmax(hi, s[j].y[k]);
			}
	if (lo > hi) {
		lo = 0;
		hi = 1;
	}
	/* amounts read against zero unless that squashes the line */
	if (s->kind == FMT_COUNT || s->kind == FMT_MONEY) {
		if (lo > 0 && lo < hi * 0.5)
			lo = 0;
	}
	a->n = s->n;
	a->ticks = fmt_nice_ticks(lo, hi, 4, &a->t0, &a->step);
	for (i = 0; i < a->ticks; i++) {
		float tw = pdf_text_width(p, fmt_tick(buf, sizeof(buf), s->kind, a->t0 + a->step * i,
						      a->step, s->currency), TICK_SIZE, 0);
		if (tw > lab_w)
			lab_w = tw;
	}
	a->px0 = x + lab_w + 6;
	a->px1 = x + w - 8 - right_room;
	a->py0 = y + 16;
	a->py1 = y + h - 6;
	for (i = 0; i < a->ticks; i++) {
		double v = a->t0 + a->step * i;
		float gy = ax_y(a, v);

		pdf_line(p, a->px0, gy, a->px1, gy, i == 0 ? 0.8f : 0.4f, i == 0 ? PDF_GREY : PDF_RULE);
		pdf_text(p, a->px0 - 4, gy - 2.4f, fmt_tick(buf, sizeof(buf), s->kind, v, a->step, s->currency),
			 TICK_SIZE, 0, PDF_RIGHT, PDF_GREY);
	}
	pdf_line(p, a->px0, a->py0, a->px0, a->py1, 0.8f, PDF_GREY);
	every = 1;
	if (s->n > 1) {
		float slot = (a->px1 - a->px0) / (float)(s->n - 1);
		float lw = pdf_text_width(p, s->xlabels[0], LABEL_SIZE, 0) + 4;

		while (slot * (float)every < lw)
			every++;
	}
	for (k = 0; k < s->n; k++) {
		float gx = ax_x(a, k);

		pdf_line(p, gx, a->py0, gx, a->py0 - 3, 0.6f, PDF_GREY);
		if ((s->n - 1 - k) % (size_t)every == 0)
			pdf_text(p, gx, y + 3, s->xlabels[k], LABEL_SIZE, 0, PDF_CENTER, PDF_GREY);
	}
}

/* The line of one series, broken where a value is missing, and a dot on each point. */
static void draw_series(struct pdf *p, const struct axes *a, const struct chart_series *s,
			struct pdf_rgb c, int dashed)
{
	float prev_x = 0, prev_y = 0;
	int have_prev = 0;
	size_t k;

	HPDF_Page_SetRGBStroke(p->page, c.r, c.g, c.b);
	HPDF_Page_SetLineWidth(p->page, 1.6f);
	HPDF_Page_SetLineJoin(p->page, HPDF_ROUND_JOIN);
	if (dashed)
		HPDF_Page_SetDash(p->page, (const HPDF_UINT16[]){ 4, 2 }, 2, 0);
	for (k = 0; k < s->n; k++) {
		float gx = ax_x(a, k), gy;

		if (!s->has[k]) {
			have_prev = 0;
			continue;
		}
		gy = ax_y(a, s->y[k]);
		if (have_prev) {
			HPDF_Page_MoveTo(p->page, prev_x, prev_y);
			HPDF_Page_LineTo(p->page, gx, gy);
			HPDF_Page_Stroke(p->page);
		}
		prev_x = gx;
		prev_y = gy;
		have_prev = 1;
	}
	if (dashed)
		HPDF_Page_SetDash(p->page, NULL, 0, 0);
	HPDF_Page_SetLineJoin(p->page, HPDF_MITER_JOIN);
	HPDF_Page_SetRGBFill(p->page, c.r, c.g, c.b);
	for (k = 0; k < s->n; k++)
		if (s->has[k]) {
			HPDF_Page_Circle(p->page, ax_x(a, k), ax_y(a, s->y[k]), 1.6f);
			HPDF_Page_Fill(p->page);
		}
}

void chart_line(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s)
{
	struct axes a;
	float room = 0;
	int last = -1;
	size_t k;
	char buf[FMT_MAX];

	for (k = 0; k < s->n; k++)
		if (s->has[k])
			last = (int)k;
	/* room on the right for the last value's label */
	if (last >= 0)
		room = pdf_text_width(p, fmt_value(buf, sizeof(buf), s->kind, s->y[last], s->currency),
				      7.5f, 1) + 5;
	draw_axes(p, x, y, w, h, s, 1, room, &a);
	draw_series(p, &a, s, PDF_ACCENT, 0);
	if (last >= 0) {
		float gx = ax_x(&a, (size_t)last), gy = ax_y(&a, s->y[last]);

		HPDF_Page_Circle(p->page, gx, gy, 3.0f);
		HPDF_Page_Fill(p->page);
		fmt_value(buf, sizeof(buf), s->kind, s->y[last], s->currency);
		pdf_text(p, gx + 5, gy - 2.5f, buf, 7.5f, 1, PDF_LEFT, PDF_ACCENT);
	}
}

void chart_lines(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s,
		 const struct chart_style *st, size_t n)
{
	struct axes a;
	size_t j;

	if (n == 0)
		return;
	draw_axes(p, x, y, w, h, s, n, 0, &a);
	for (j = 0; j < n; j++)
		draw_series(p, &a, &s[j], st[j].color, st[j].dashed);
}

void chart_bars(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s)
{
	double hi = 0;
	float lab_w = 0, bar_h, gap, bx, bw;
	size_t k;
	char buf[FMT_MAX];

	if (s->n == 0)
		return;
	for (k = 0; k < s->n; k++) {
		float tw = pdf_text_width(p, s->xlabels[k], LABEL_SIZE + 1, 0);

		if (tw > lab_w)
			lab_w = tw;
		if (s->has[k] && s->y[k] > hi)
			hi = s->y[k];
	}
	if (lab_w > w * 0.35f)
		lab_w = w * 0.35f;
	gap = 4;
	bar_h = (h - gap * (float)(s->n - 1)) / (float)s->n;
	if (bar_h > 14)
		bar_h = 14;
	bx = x + lab_w + 6;
	bw = w - lab_w - 6 - 58; /* room for the value */
	for (k = 0; k < s->n; k++) {
		float by = y + h - (bar_h + gap) * (float)(k + 1) + gap;
		float len = s->has[k] && hi > 0 && s->y[k] > 0 ? (float)(s->y[k] / hi) * bw : 0;

		pdf_text_fit(p, bx - 6, by + bar_h / 2 - 2.5f, lab_w, s->xlabels[k], LABEL_SIZE + 1, 0,
			     PDF_RIGHT, PDF_INK);
		if (len > 0)
			pdf_fill_rect(p, bx, by, len, bar_h, PDF_ACCENT);
		if (s->has[k])
			fmt_value(buf, sizeof(buf), s->kind, s->y[k], s->currency);
		else
			snprintf(buf, sizeof(buf), "n/a");
		pdf_text(p, bx + len + 4, by + bar_h / 2 - 2.5f, buf, LABEL_SIZE + 1, 0, PDF_LEFT, PDF_INK);
	}
}

struct pdf_rgb chart_heat(double v, int *dark)
{
	static const struct pdf_rgb lo = { 0.93f, 0.95f, 0.98f };
	struct pdf_rgb c;
	float f;

	if (!(v > 0))
		v = 0;
	if (v > 1)
		v = 1;
	f = (float)v;
	c.r = lo.r + (PDF_ACCENT.r - lo.r) * f;
	c.g = lo.g + (PDF_ACCENT.g - lo.g) * f;
	c.b = lo.b + (PDF_ACCENT.b - lo.b) * f;
	if (dark)
		*dark = v >= 0.55;
	return c;
}

struct pdf_rgb chart_palette(size_t i)
{
	static const struct pdf_rgb pal[8] = {
		{ 0.11f, 0.33f, 0.62f }, /* accent blue */
		{ 0.90f, 0.49f, 0.13f }, /* orange */
		{ 0.17f, 0.63f, 0.17f }, /* green */
		{ 0.84f, 0.15f, 0.16f }, /* red */
		{ 0.58f, 0.40f, 0.74f }, /* purple */
		{ 0.55f, 0.34f, 0.29f }, /* brown */
		{ 0.89f, 0.47f, 0.76f }, /* pink */
		{ 0.09f, 0.75f, 0.81f }, /* cyan */
	};

	return pal[i % 8];
}

int chart_day_ticks(double max_day, int *step)
{
	static const int steps[] = { 30, 60, 90, 180, 365, 730 };
	size_t i;
	int n;

	if (!(max_day > 0))
		max_day = 30;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) - 1; i++)
		if (max_day / steps[i] <= 8)
			break;
	*step = steps[i];
	n = (int)ceil(max_day / steps[i] - 1e-9);
	return (n < 1 ? 1 : n) + 1;
}

void chart_steps(struct pdf *p, float x, float y, float w, float h, const struct chart_curve *c,
		 size_t n, const char *xt, const char *yt)
{
	double max_day = 0;
	float px0, px1, py0, py1, xs, ys;
	int ticks, step, i;
	size_t j, k;
	char buf[32];

	for (j = 0; j < n; j++)
		if (c[j].n && c[j].k[c[j].n - 1] > max_day)
			max_day = (double)c[j].k[c[j].n - 1];
	ticks = chart_day_ticks(max_day, &step);
	px0 = x + 34;
	px1 = x + w - 6;
	py0 = y + 30;
	py1 = y + h - 4;
	xs = (px1 - px0) / (float)(step * (ticks - 1));
	ys = py1 - py0;
	/* y grid: 0, 25, 50, 75, 100% */
	for (i = 0; i <= 4; i++) {
		float gy = py0 + ys * (float)i / 4;

		pdf_line(p, px0, gy, px1, gy, i == 0 ? 0.8f : 0.4f, i == 0 ? PDF_GREY : PDF_RULE);
		snprintf(buf, sizeof(buf), "%d%%", i * 25);
		pdf_text(p, px0 - 4, gy - 2.4f, buf, TICK_SIZE, 0, PDF_RIGHT, PDF_GREY);
	}
	/* the median line: dashed at 50% */
	HPDF_Page_SetDash(p->page, (const HPDF_UINT16[]){ 3, 2 }, 2, 0);
	pdf_line(p, px0, py0 + ys / 2, px1, py0 + ys / 2, 0.7f, PDF_GREY);
	HPDF_Page_SetDash(p->page, NULL, 0, 0);
	pdf_line(p, px0, py0, px0, py1, 0.8f, PDF_GREY);
	for (i = 0; i < ticks; i++) {
		float gx = px0 + xs * (float)(step * i);

		pdf_line(p, gx, py0, gx, py0 - 3, 0.6f, PDF_GREY);
		snprintf(buf, sizeof(buf), "%d", step * i);
		pdf_text(p, gx, py0 - 11, buf, TICK_SIZE, 0, PDF_CENTER, PDF_GREY);
	}
	pdf_text(p, (px0 + px1) / 2, y + 2, xt, 7.5f, 0, PDF_CENTER, PDF_GREY);
	/* the y title, turned a quarter */
	{
		float tw = pdf_text_width(p, yt, 7.5f, 0);

		HPDF_Page_GSave(p->page);
		HPDF_Page_Concat(p->page, 0, 1, -1, 0, x + 7, py0 + ys / 2 - tw / 2);
		pdf_text(p, 0, 0, yt, 7.5f, 0, PDF_LEFT, PDF_GREY);
		HPDF_Page_GRestore(p->page);
	}
	/* curves: the first (overall) last, so it is drawn on top */
	for (j = n; j-- > 0;) {
		const struct chart_curve *cv = &c[j];
		float cx = px0, cy = py1;

		if (!cv->n)
			continue;
		HPDF_Page_SetRGBStroke(p->page, cv->color.r, cv->color.g, cv->color.b);
		HPDF_Page_SetLineWidth(p->page, cv->width);
		HPDF_Page_SetLineJoin(p->page, HPDF_MITER_JOIN);
		HPDF_Page_MoveTo(p->page, cx, cy);
		for (k = 0; k < cv->n; k++) {
			double v = cv->v[k] < 0 ? 0 : cv->v[k] > 1 ? 1 : cv->v[k];
			float nx = px0 + xs * (float)cv->k[k], ny = py0 + ys * (float)v;

			HPDF_Page_LineTo(p->page, nx, cy);
			HPDF_Page_LineTo(p->page, nx, ny);
			cx = nx;
			cy = ny;
		}
		HPDF_Page_Stroke(p->page);
	}
}
