/*
 * chart.c - line and bar charts with libharu paths (see chart.h).
 *
 * Deliberately plain: one series per chart, light grid lines at nice ticks,
 * no legend (the section title names the metric). Sizes are fixed in
 * points for a phone-readable A4 page; the caller picks the box.
 */
#include <math.h>
#include <stdio.h>

#include "chart.h"

#include "banned.h"

#define TICK_SIZE 7.0f
#define LABEL_SIZE 6.5f

void chart_line(struct pdf *p, float x, float y, float w, float h, const struct chart_series *s)
{
	double lo = INFINITY, hi = -INFINITY, t0, step;
	float px0, py0, px1, py1, prev_x = 0, prev_y = 0, lab_w = 0;
	int ticks, i, have_prev = 0, last = -1, every;
	size_t k;
	char buf[FMT_MAX];

	for (k = 0; k < s->n; k++)
		if (s->has[k]) {
			lo = fmin(lo, s->y[k]);
			hi = fmax(hi, s->y[k]);
			last = (int)k;
		}
	if (last < 0) {
		lo = 0;
		hi = 1;
	}
	if (s->kind == FMT_COUNT || s->kind == FMT_MONEY) {
		if (lo > 0 && lo < hi * 0.5)
			lo = 0;
	}
	ticks = fmt_nice_ticks(lo, hi, 4, &t0, &step);
	for (i = 0; i < ticks; i++) {
		float tw = pdf_text_width(p, fmt_tick(buf, sizeof(buf), s->kind, t0 + step * i, step,
						      s->currency), TICK_SIZE, 0);
		if (tw > lab_w)
			lab_w = tw;
	}
	px0 = x + lab_w + 6;
	/* room on the right for the last value's label */
	px1 = x + w - 8;
	if (last >= 0)
		px1 -= pdf_text_width(p, fmt_value(buf, sizeof(buf), s->kind, s->y[last], s->currency),
				      7.5f, 1) + 5;
	py0 = y + 16;
	py1 = y + h - 6;
	/* grid and y ticks */
	for (i = 0; i < ticks; i++) {
		double v = t0 + step * i;
		float gy = py0 + (float)((v - t0) / (step * (ticks - 1))) * (py1 - py0);

		pdf_line(p, px0, gy, px1, gy, i == 0 ? 0.8f : 0.4f, i == 0 ? PDF_GREY : PDF_RULE);
		pdf_text(p, px0 - 4, gy - 2.4f, fmt_tick(buf, sizeof(buf), s->kind, v, step, s->currency),
			 TICK_SIZE, 0, PDF_RIGHT, PDF_GREY);
	}
	pdf_line(p, px0, py0, px0, py1, 0.8f, PDF_GREY);
	/* x ticks and labels: thin them until they do not touch */
	every = 1;
	if (s->n > 1) {
		float slot = (px1 - px0) / (float)(s->n - 1);
		float lw = pdf_text_width(p, s->xlabels[0], LABEL_SIZE, 0) + 4;

		while (slot * every < lw)
			every++;
	}
	for (k = 0; k < s->n; k++) {
		float gx = s->n > 1 ? px0 + (px1 - px0) * (float)k / (float)(s->n - 1) : (px0 + px1) / 2;

		pdf_line(p, gx, py0, gx, py0 - 3, 0.6f, PDF_GREY);
		if ((s->n - 1 - k) % (size_t)every == 0)
			pdf_text(p, gx, y + 3, s->xlabels[k], LABEL_SIZE, 0, PDF_CENTER, PDF_GREY);
	}
	/* the line, broken where a value is missing */
	HPDF_Page_SetRGBStroke(p->page, PDF_ACCENT.r, PDF_ACCENT.g, PDF_ACCENT.b);
	HPDF_Page_SetLineWidth(p->page, 1.6f);
	HPDF_Page_SetLineJoin(p->page, HPDF_ROUND_JOIN);
	for (k = 0; k < s->n; k++) {
		float gx = s->n > 1 ? px0 + (px1 - px0) * (float)k / (float)(s->n - 1) : (px0 + px1) / 2;
		float gy;

		if (!s->has[k]) {
			have_prev = 0;
			continue;
		}
		gy = py0 + (float)((s->y[k] - t0) / (step * (ticks - 1))) * (py1 - py0);
		if (have_prev) {
			HPDF_Page_MoveTo(p->page, prev_x, prev_y);
			HPDF_Page_LineTo(p->page, gx, gy);
			HPDF_Page_Stroke(p->page);
		}
		prev_x = gx;
		prev_y = gy;
		have_prev = 1;
	}
	HPDF_Page_SetLineJoin(p->page, HPDF_MITER_JOIN);
	for (k = 0; k < s->n; k++) {
		float gx = s->n > 1 ? px0 + (px1 - px0) * (float)k / (float)(s->n - 1) : (px0 + px1) / 2;
		float gy;

		if (!s->has[k])
			continue;
		gy = py0 + (float)((s->y[k] - t0) / (step * (ticks - 1))) * (py1 - py0);
		HPDF_Page_SetRGBFill(p->page, PDF_ACCENT.r, PDF_ACCENT.g, PDF_ACCENT.b);
		HPDF_Page_Circle(p->page, gx, gy, (int)k == last ? 3.0f : 1.6f);
		HPDF_Page_Fill(p->page);
		if ((int)k == last) {
			fmt_value(buf, sizeof(buf), s->kind, s->y[k], s->currency);
			pdf_text(p, gx + 5, gy - 2.5f, buf, 7.5f, 1, PDF_LEFT, PDF_ACCENT);
		}
	}
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
