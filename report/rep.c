/*
 * rep.c - the sections of a report, laid out on A4 pages (see rep.h).
 *
 * Layout is a cursor moving down the page (pdf->y); each block asks for its
 * height with pdf_need() first, so nothing is split across pages and
 * nothing runs into the footer. Widths are measured, never guessed: every
 * label goes through pdf_text_fit, so long Chinese or English labels shrink
 * or are cut with "..." instead of overflowing a cell.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "fmt.h"
#include "pdf.h"
#include "period.h"
#include "rep.h"

#include "banned.h"

/* Built-in wording: [en, zh]. */
enum ui_word {
	UI_PERIOD, UI_GENERATED, UI_VS_PREV, UI_VS_YEAR, UI_SEGMENT, UI_NA, UI_LATEST, UI_UNKNOWN,
	UI_NO_SEGMENTS, UI_NOISE, UI_N
};

static const char *const ui[UI_N][2] = {
	[UI_PERIOD] = { "Period", "\xe6\x8a\xa5\xe5\x91\x8a\xe6\x9c\x9f" },                    /* 报告期 */
	[UI_GENERATED] = { "generated", "\xe7\x94\x9f\xe6\x88\x90\xe4\xba\x8e" },                 /* 生成于 */
	[UI_VS_PREV] = { "vs prior month", "\xe8\xbe\x83\xe4\xb8\x8a\xe6\x9c\x88" },            /* 较上月 */
	[UI_VS_YEAR] = { "vs a year ago", "\xe8\xbe\x83\xe5\x8e\xbb\xe5\xb9\xb4\xe5\x90\x8c\xe6\x9c\x9f" }, /* 较去年同期 */
	[UI_SEGMENT] = { "Segment", "\xe7\xbb\x86\xe5\x88\x86" },                               /* 细分 */
	[UI_NA] = { "n/a", "\xe6\x97\xa0\xe6\x95\xb0\xe6\x8d\xae" },                      /* 无数据 */
	[UI_LATEST] = { "latest", "\xe6\x9c\x80\xe6\x96\xb0" },                                /* 最新 */
	[UI_UNKNOWN] = { "unknown", "\xe6\x9c\xaa\xe7\x9f\xa5" },                               /* 未知 */
	[UI_NOISE] = { "Green: a good change, red: a bad one, grey: within the 95% interval (noise).",
	  "\xe7\xbb\xbf\xe8\x89\xb2\xef\xbc\x9a\xe5\xa5\xbd\xe7\x9a\x84\xe5\x8f\x98\xe5\x8c\x96\xef\xbc\x9b"
	  "\xe7\xba\xa2\xe8\x89\xb2\xef\xbc\x9a\xe5\x9d\x8f\xe7\x9a\x84\xe5\x8f\x98\xe5\x8c\x96\xef\xbc\x9b"
	  "\xe7\x81\xb0\xe8\x89\xb2\xef\xbc\x9a\xe5\x9c\xa8 95% \xe7\xbd\xae\xe4\xbf\xa1\xe5\x8c\xba\xe9\x97\xb4\xe5\x86\x85\xef\xbc\x88\xe5\x99\xaa\xe5\xa3\xb0\xef\xbc\x89\xe3\x80\x82" },
	[UI_NO_SEGMENTS] = { "No data for this period.",
	  "\xe6\x9c\xac\xe6\x9c\x9f\xe6\x97\xa0\xe6\x95\xb0\xe6\x8d\xae\xe3\x80\x82" }, /* 本期无数据。 */
};

static const char *const month_en[12] = {
	"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"
};

#define W(o, word) (ui[word][(o)->lang])
#define CONTENT_W (PDF_PAGE_W - 2 * PDF_MARGIN)

static void period_label(const struct rep_opts *o, int period, char *buf, size_t n)
{
	if (o->lang == TPL_ZH)
		snprintf(buf, n, "%d\xe5\xb9\xb4%d\xe6\x9c\x88", period_year(period), period_month(period)); /* 年 月 */
	else
		snprintf(buf, n, "%s %d", month_en[period_month(period) - 1], period_year(period));
}

static void section_title(struct pdf *p, const char *title, float need)
{
	pdf_need(p, 34 + need);
	p->y -= 18;
	pdf_bookmark(p, title);
	pdf_text_fit(p, PDF_MARGIN, p->y, CONTENT_W, title, 13.5f, 1, PDF_LEFT, PDF_ACCENT);
	p->y -= 7;
	pdf_line(p, PDF_MARGIN, p->y, PDF_MARGIN + CONTENT_W, p->y, 1.2f, PDF_ACCENT);
	p->y -= 12;
}

/* A small filled triangle pointing up (sign > 0) or down, or a dash for 0. */
static void arrow(struct pdf *p, float x, float y, int sign, struct pdf_rgb c)
{
	HPDF_Page_SetRGBFill(p->page, c.r, c.g, c.b);
	if (sign == 0) {
		pdf_fill_rect(p, x, y + 2, 6, 1.4f, c);
		return;
	}
	if (sign > 0) {
		HPDF_Page_MoveTo(p->page, x, y);
		HPDF_Page_LineTo(p->page, x + 6.5f, y);
		HPDF_Page_LineTo(p->page, x + 3.25f, y + 5.5f);
	} else {
		HPDF_Page_MoveTo(p->page, x, y + 5.5f);
		HPDF_Page_LineTo(p->page, x + 6.5f, y + 5.5f);
		HPDF_Page_LineTo(p->page, x + 3.25f, y);
	}
	HPDF_Page_ClosePath(p->page);
	HPDF_Page_Fill(p->page);
}

int rep_within_wilson(double num, double den, double ref)
{
	const double z = 1.959963984540054;
	double phat, denom, centre, half;

	if (!(den > 0) || num < 0 || num > den)
		return 0;
	phat = num / den;
	denom = 1 + z * z / den;
	centre = (phat + z * z / (2 * den)) / denom;
	half = z * sqrt(phat * (1 - phat) / den + z * z / (4 * den * den)) / denom;
	return ref >= centre - half && ref <= centre + half;
}

/*
 * 1 when the change from ref to the current value lies within the current
 * value's 95% interval: Wilson for proportions, nps_moe95 for NPS.
 */
static int within_noise(const struct mtab *t, int period, const struct tpl_metric *m, double cur,
			double ref)
{
	double num, den, moe;

	if (m->format == FMT_PERCENT && mtab_get_ratio(t, period, m->id, "all", "", &num, &den))
		return rep_within_wilson(num, den, ref);
	if (m->format == FMT_NPS && !strcmp(m->id, "nps") &&
	    mtab_get(t, period, "nps_moe95", "all", "", &moe))
		return fabs(cur - ref) <= moe;
	return 0;
}

/* One "arrow change  vs ..." line of a KPI card. */
static void change_line(struct pdf *p, const struct rep_opts *o, const struct tpl_metric *m,
			const struct mtab *t, int cur_period, int ref_period, enum ui_word word,
			float x, float y, float w)
{
	double cur, ref;
	char buf[FMT_MAX];
	struct pdf_rgb c = PDF_GREY;
	int sign = 0, ok;
	float tw;

	ok = mtab_get(t, cur_period, m->id, "all", "", &cur) &&
	     mtab_get(t, ref_period, m->id, "all", "", &ref);
	if (!ok) {
		pdf_text(p, x, y, W(o, UI_NA), 7.5f, 0, PDF_LEFT, PDF_GREY);
		tw = pdf_text_width(p, W(o, UI_NA), 7.5f, 0);
	} else {
		fmt_change(buf, sizeof(buf), m->format, cur, ref, &sign);
		/* a change within the interval is noise: grey, whatever its direction */
		if (sign != 0 && m->good != TPL_GOOD_NONE && !within_noise(t, cur_period, m, cur, ref))
			c = (sign > 0) == (m->good == TPL_GOOD_UP) ? PDF_GOOD : PDF_BAD;
		arrow(p, x, y, sign, c);
		pdf_text(p, x + 10, y, buf, 8, 1, PDF_LEFT, c);
		tw = 10 + pdf_text_width(p, buf, 8, 1);
	}
	pdf_text_fit(p, x + tw + 5, y, w - tw - 5, W(o, word), 7.5f, 0, PDF_LEFT, PDF_GREY);
}

static void kpi_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			const struct mtab *t)
{
	const float gap = 10, card_h = 66;
	const float card_w = (CONTENT_W - gap) / 2;
	size_t i;

	section_title(p, s->title[o->lang], card_h);
	for (i = 0; i < s->n_metrics; i += 2) {
		size_t j;

		pdf_need(p, card_h + gap);
		for (j = i; j < i + 2 && j < s->n_metrics; j++) {
			const struct tpl_metric *m = &s->metrics[j];
			float x = PDF_MARGIN + (float)(j - i) * (card_w + gap);
			float top = p->y;
			char buf[FMT_MAX];
			double v;

			pdf_fill_rect(p, x, top - card_h, card_w, card_h, PDF_LIGHT);
			pdf_fill_rect(p, x, top - card_h, 3, card_h, PDF_ACCENT);
			pdf_text_fit(p, x + 12, top - 14, card_w - 20, m->label[o->lang], 9, 0, PDF_LEFT,
				     PDF_GREY);
			if (mtab_get(t, o->period, m->id, "all", "", &v))
				fmt_value(buf, sizeof(buf), m->format, v, o->currency);
			else
				snprintf(buf, sizeof(buf), "%s", W(o, UI_NA));
			pdf_text_fit(p, x + 12, top - 35, card_w - 20, buf, 19, 1, PDF_LEFT, PDF_INK);
			change_line(p, o, m, t, o->period, o->period - 1, UI_VS_PREV, x + 12, top - 49,
				    card_w - 20);
			change_line(p, o, m, t, o->period, o->period - 12, UI_VS_YEAR, x + 12, top - 60,
				    card_w - 20);
		}
		p->y -= card_h + gap;
	}
	pdf_need(p, 12);
	pdf_text_fit(p, PDF_MARGIN, p->y - 2, CONTENT_W, W(o, UI_NOISE), 7, 0, PDF_LEFT, PDF_GREY);
	p->y -= 10;
}

static void trend_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			  const struct mtab *t)
{
	const float gap = 18, block_h = 150;
	const float chart_w = (CONTENT_W - gap) / 2;
	char labels[CHART_MAX_POINTS][PERIOD_TEXT_MAX];
	const char *lp[CHART_MAX_POINTS];
	double y[CHART_MAX_POINTS];
	int has[CHART_MAX_POINTS];
	size_t i, k, n = (size_t)s->months;

	if (n > CHART_MAX_POINTS)
		n = CHART_MAX_POINTS;
	for (k = 0; k < n; k++) {
		period_format(o->period - (int)(n - 1 - k), labels[k]);
		lp[k] = labels[k];
	}
	section_title(p, s->title[o->lang], block_h);
	for (i = 0; i < s->n_metrics; i += 2) {
		size_t j;

		pdf_need(p, block_h + 8);
		for (j = i; j < i + 2 && j < s->n_metrics; j++) {
			const struct tpl_metric *m = &s->metrics[j];
			float x = PDF_MARGIN + (float)(j - i) * (chart_w + gap);
			struct chart_series cs;

			for (k = 0; k < n; k++)
				has[k] = mtab_get(t, o->period - (int)(n - 1 - k), m->id, "all", "", &y[k]);
			pdf_text_fit(p, x, p->y - 10, chart_w, m->label[o->lang], 10, 1, PDF_LEFT, PDF_INK);
			cs.n = n;
			cs.xlabels = lp;
			cs.y = y;
			cs.has = has;
			cs.kind = m->format;
			cs.currency = o->currency;
			chart_line(p, x, p->y - block_h + 4, chart_w, block_h - 22, &cs);
		}
		p->y -= block_h + 8;
	}
}

/* RFM segment names of METRICS.md, in words. */
static const char *const rfm_words[][3] = {
	{ "champions", "Champions", "\xe5\x86\xa0\xe5\x86\x9b\xe5\xae\xa2\xe6\x88\xb7" },          /* 冠军客户 */
	{ "loyal", "Loyal", "\xe5\xbf\xa0\xe8\xaf\x9a\xe5\xae\xa2\xe6\x88\xb7" },                   /* 忠诚客户 */
	{ "potential_loyalist", "Potential loyalists", "\xe6\xbd\x9c\xe5\x9c\xa8\xe5\xbf\xa0\xe8\xaf\x9a\xe5\xae\xa2\xe6\x88\xb7" }, /* 潜在忠诚客户 */
	{ "new", "New", "\xe6\x96\xb0\xe5\xae\xa2\xe6\x88\xb7" },                                     /* 新客户 */
	{ "promising", "Promising", "\xe6\x9c\x89\xe6\xbd\x9c\xe5\x8a\x9b\xe5\xae\xa2\xe6\x88\xb7" }, /* 有潜力客户 */
	{ "need_attention", "Need attention", "\xe9\x9c\x80\xe5\x85\xb3\xe6\xb3\xa8" },                /* 需关注 */
	{ "about_to_sleep", "About to sleep", "\xe5\x8d\xb3\xe5\xb0\x86\xe6\xb2\x89\xe7\x9d\xa1" },  /* 即将沉睡 */
	{ "at_risk", "At risk", "\xe6\x9c\x89\xe6\xb5\x81\xe5\xa4\xb1\xe9\xa3\x8e\xe9\x99\xa9" }, /* 有流失风险 */
	{ "cant_lose", "Can't lose", "\xe4\xb8\x8d\xe5\x8f\xaf\xe6\x8d\x9f\xe5\xa4\xb1" },         /* 不可损失 */
	{ "hibernating", "Hibernating", "\xe4\xbc\x91\xe7\x9c\xa0" },                                    /* 休眠 */
	{ "none", "No recent order", "\xe8\xbf\x91\xe6\x9c\x9f\xe6\x97\xa0\xe8\xae\xa2\xe5\x8d\x95" }, /* 近期无订单 */
};

/* How a segment value is shown: RFM names and "unknown" in words, others as they are. */
static const char *segment_label(const struct rep_opts *o, const char *dim, const char *seg)
{
	size_t i;

	if (!*seg || !strcmp(seg, "unknown"))
		return W(o, UI_UNKNOWN);
	if (!strcmp(dim, "rfm"))
		for (i = 0; i < sizeof(rfm_words) / sizeof(rfm_words[0]); i++)
			if (!strcmp(rfm_words[i][0], seg))
				return rfm_words[i][1 + o->lang];
	return seg;
}

struct seg_row {
	const char *name;
	double key;
	int has;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg_row *x = a, *y = b;

	if (x->has != y->has)
		return y->has - x->has;
	if (x->has && x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void table_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			  const struct mtab *t)
{
	const float row_h = 17, first_w = 130;
	double col_max[TPL_MAX_METRICS];
	const char *names[64];
	struct seg_row rows[64];
	size_t n, i, j;
	float col_w, top;
	const struct tpl_metric *m0 = &s->metrics[0];

	n = mtab_segments(t, o->period, m0->id, s->dim, names, 64);
	for (i = 0; i < n; i++) {
		rows[i].name = names[i];
		rows[i].has = mtab_get(t, o->period, m0->id, s->dim, names[i], &rows[i].key);
	}
	qsort(rows, n, sizeof(rows[0]), seg_cmp);
	col_w = (CONTENT_W - first_w) / (float)s->n_metrics;
	section_title(p, s->title[o->lang], row_h * (float)(n + 1) + 8);
	if (n == 0) {
		pdf_text(p, PDF_MARGIN, p->y - 10, W(o, UI_NO_SEGMENTS), 9, 0, PDF_LEFT, PDF_GREY);
		p->y -= 24;
		return;
	}
	top = p->y;
	/* header */
	pdf_fill_rect(p, PDF_MARGIN, top - row_h - 4, CONTENT_W, row_h + 4, PDF_ACCENT);
	pdf_text_fit(p, PDF_MARGIN + 6, top - row_h + 2, first_w - 12, W(o, UI_SEGMENT), 8.5f, 1,
		     PDF_LEFT, PDF_WHITE);
	for (j = 0; j < s->n_metrics; j++) {
		float right = PDF_MARGIN + first_w + col_w * (float)(j + 1) - 6;

		pdf_text_fit(p, right, top - row_h + 2, col_w - 10, s->metrics[j].label[o->lang], 8.5f,
			     1, PDF_RIGHT, PDF_WHITE);
	}
	top -= row_h + 4;
	for (j = 0; j < s->n_metrics; j++) {
		col_max[j] = 0;
		for (i = 0; i < n; i++) {
			double v;

			if (mtab_get(t, o->period, s->metrics[j].id, s->dim, rows[i].name, &v) &&
			    fabs(v) > col_max[j])
				col_max[j] = fabs(v);
		}
	}
	for (i = 0; i < n; i++) {
		const char *name = segment_label(o, s->dim, rows[i].name);

		if (i % 2)
			pdf_fill_rect(p, PDF_MARGIN, top - row_h, CONTENT_W, row_h, PDF_LIGHT);
		pdf_text_fit(p, PDF_MARGIN + 6, top - row_h + 5, first_w - 12, name, 9, 0, PDF_LEFT,
			     PDF_INK);
		for (j = 0; j < s->n_metrics; j++) {
			const struct tpl_metric *m = &s->metrics[j];
			float right = PDF_MARGIN + first_w + col_w * (float)(j + 1) - 6;
			char buf[FMT_MAX];
			double v;

			if (mtab_get(t, o->period, m->id, s->dim, rows[i].name, &v))
				fmt_value_col(buf, sizeof(buf), m->format, v, col_max[j], o->currency);
			else
				snprintf(buf, sizeof(buf), "%s", W(o, UI_NA));
			pdf_text_fit(p, right, top - row_h + 5, col_w - 10, buf, 9, 0, PDF_RIGHT, PDF_INK);
		}
		top -= row_h;
	}
	pdf_line(p, PDF_MARGIN, top, PDF_MARGIN + CONTENT_W, top, 0.8f, PDF_RULE);
	p->y = top - 14;
	/*
	 * Bars of the first metric, when there is something to compare and
	 * they fit under the table: they repeat the table's first column, so
	 * a page of its own for them would be a page wasted.
	 */
	if (n >= 2 && p->y - ((float)n * 15 + 24) >= 54.0f) {
		const char *bl[64];
		double by[64];
		int bh[64];
		struct chart_series cs;
		float h = (float)n * 15;

		pdf_text_fit(p, PDF_MARGIN, p->y - 10, CONTENT_W, m0->label[o->lang], 9, 1, PDF_LEFT,
			     PDF_GREY);
		for (i = 0; i < n; i++) {
			bl[i] = segment_label(o, s->dim, rows[i].name);
			by[i] = rows[i].key;
			bh[i] = rows[i].has;
		}
		cs.n = n;
		cs.xlabels = bl;
		cs.y = by;
		cs.has = bh;
		cs.kind = m0->format;
		cs.currency = o->currency;
		chart_bars(p, PDF_MARGIN, p->y - 18 - h, CONTENT_W * 0.75f, h, &cs);
		p->y -= h + 28;
	}
}

int rep_render(const struct tpl *t, const struct mtab *m, const struct rep_opts *o,
	       unsigned char **out, size_t *len, struct crm_err *e)
{
	struct pdf *p = NULL;
	char per[PERIOD_TEXT_MAX], plabel[64], when[32], subject[512], doc_title[512];
	struct tm tm;
	size_t i;
	int rc;

	*out = NULL;
	*len = 0;
	rc = pdf_new(&p, o->created, e);
	if (rc)
		return rc;
	p->lang_zh = o->lang == TPL_ZH;
	period_format(o->period, per);
	period_label(o, o->period, plabel, sizeof(plabel));
	gmtime_r(&o->created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(doc_title, sizeof(doc_title), "%s %s", t->title[o->lang], per);
	snprintf(subject, sizeof(subject), "%s, %s", o->title && *o->title ? o->title : "crmetl", per);
	pdf_set_info(p, doc_title, subject);
	snprintf(p->header_left, sizeof(p->header_left), "%s", t->title[o->lang]);
	snprintf(p->header_right, sizeof(p->header_right), "%s %s | %s %s", W(o, UI_PERIOD), per,
		 W(o, UI_GENERATED), when);

	/* page 1 opens with the title block */
	pdf_add_page(p);
	p->y -= 20;
	pdf_text_fit(p, PDF_MARGIN, p->y, CONTENT_W, t->title[o->lang], 24, 1, PDF_LEFT, PDF_INK);
	p->y -= 20;
	{
		char line[512];

		snprintf(line, sizeof(line), "%s  |  %s", o->title && *o->title ? o->title : "", plabel);
		pdf_text_fit(p, PDF_MARGIN, p->y, CONTENT_W, o->title && *o->title ? line : plabel, 11,
			     0, PDF_LEFT, PDF_GREY);
	}
	p->y -= 10;
	for (i = 0; i < t->n_sections; i++) {
		const struct tpl_section *s = &t->sections[i];

		if (s->new_page && p->y < PDF_PAGE_H - 66.0f - 1)
			pdf_add_page(p);
		switch (s->kind) {
		case TPL_KPI:
			kpi_section(p, o, s, m);
			break;
		case TPL_TREND:
			trend_section(p, o, s, m);
			break;
		case TPL_TABLE:
			table_section(p, o, s, m);
			break;
		}
	}
	pdf_finish(p);
	rc = pdf_save(p, out, len, e);
	pdf_free(p);
	return rc;
}
