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
#include "fsx.h"
#include "fmt.h"
#include "pdf.h"
#include "period.h"
#include "rep.h"
#include "rep_int.h"

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

void rep_section_title(struct pdf *p, const char *title, float need)
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

	rep_section_title(p, s->title[o->lang], card_h);
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
	rep_section_title(p, s->title[o->lang], block_h);
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
const char *rep_segment_label(const struct rep_opts *o, const char *dim, const char *seg)
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
	rep_section_title(p, s->title[o->lang], row_h * (float)(n + 1) + 8);
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
		const char *name = rep_segment_label(o, s->dim, rows[i].name);

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
			bl[i] = rep_segment_label(o, s->dim, rows[i].name);
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

/* ---- the built-in sections: cohort, funnel, nps, survival, at_risk, definitions ---- */

/* Wording of the built-in sections: [en, zh]. */
enum sx_word {
	SX_SIGNUP, SX_SIZE, SX_AGE, SX_LEG_RETAINED, SX_LEG_ACTIVE, SX_STAGE, SX_OF_PREV,
	SX_LEAD_WON, SX_LOST, SX_PROMOTERS, SX_PASSIVES, SX_DETRACTORS, SX_RESPONSES, SX_MOE,
	SX_CSAT_SAT, SX_CSAT_MEAN, SX_DAYS, SX_SHARE_LEFT, SX_OVERALL, SX_MEDIAN, SX_NOT_REACHED,
	SX_CUSTOMER, SX_RFM, SX_LAST_ORDER, SX_REV12, SX_DAYS_AGO, SX_SHOWING, SX_METRIC,
	SX_DEFINITION, SX_NPS_NOTE, SX_COHORT_NOTE, SX_DAY_UNIT, SX_SURV_LEFT_OUT, SX_N
};

static const char *const sx[SX_N][2] = {
	[SX_SIGNUP] = { "Signup month", "注册月份" },
	[SX_SIZE] = { "Size", "人数" },
	[SX_AGE] = { "Months since signup", "注册后月数" },
	[SX_LEG_RETAINED] = { "Share of the cohort still a customer at the end of the month",
			      "月末仍为客户的比例" },
	[SX_LEG_ACTIVE] = { "Share of the cohort that ordered in the month", "当月下单客户的比例" },
	[SX_STAGE] = { "Stage", "阶段" },
	[SX_OF_PREV] = { "of previous stage", "占上一阶段" },
	[SX_LEAD_WON] = { "Leads won", "线索赢单率" },
	[SX_LOST] = { "lost", "丢单" },
	[SX_PROMOTERS] = { "Promoters (9-10)", "推荐者（9-10 分）" },
	[SX_PASSIVES] = { "Passives (7-8)", "中立者（7-8 分）" },
	[SX_DETRACTORS] = { "Detractors (0-6)", "贬损者（0-6 分）" },
	[SX_RESPONSES] = { "responses", "份回复" },
	[SX_MOE] = { "95% margin", "95% 误差范围" },
	[SX_CSAT_SAT] = { "satisfied (score 4-5)", "满意（4-5 分）" },
	[SX_CSAT_MEAN] = { "mean score", "平均分" },
	[SX_DAYS] = { "Days since signup", "注册后天数" },
	[SX_SHARE_LEFT] = { "Still customers", "仍为客户" },
	[SX_OVERALL] = { "All customers", "全部客户" },
	[SX_MEDIAN] = { "median", "中位数" },
	[SX_NOT_REACHED] = { "median not reached", "未达中位数" },
	[SX_CUSTOMER] = { "Customer", "客户" },
	[SX_RFM] = { "RFM segment", "RFM 分群" },
	[SX_LAST_ORDER] = { "Last order", "最近下单" },
	[SX_REV12] = { "Revenue, 12 months", "近 12 个月收入" },
	[SX_DAYS_AGO] = { "days ago", "天前" },
	[SX_SHOWING] = { "The %zu of %zu customers in Can't lose and At risk with the most revenue over the last 12 months.",
			 "“不可损失”和“有流失风险”分群共 %zu 位客户中，近 12 个月收入最高的 %zu 位。" },
	[SX_METRIC] = { "Metric", "指标" },
	[SX_DEFINITION] = { "Definition", "定义" },
	[SX_NPS_NOTE] = { "Composition from the NPS numerator and its margin of error.",
			  "构成由净推荐值的分子与误差范围推算。" },
	[SX_DAY_UNIT] = { "days", "天" },
	[SX_SURV_LEFT_OUT] = { "The %zu largest of %zu segments (by customers at month end) are drawn; not drawn: %s.",
			       "按月末客户数绘制最大的 %zu 个细分（共 %zu 个）；未绘制：%s。" },
	[SX_COHORT_NOTE] = { "Signup cohorts of the last 12 months; darker is higher.",
			     "近 12 个月的注册客户群；颜色越深比例越高。" },
};

#define SX(o, word) (sx[word][(o)->lang])

void rep_no_data(struct pdf *p, const struct rep_opts *o)
{
	pdf_text(p, PDF_MARGIN, p->y - 10, W(o, UI_NO_SEGMENTS), 9, 0, PDF_LEFT, PDF_GREY);
	p->y -= 24;
}

const char *rep_na(const struct rep_opts *o)
{
	return W(o, UI_NA);
}

void rep_note(struct pdf *p, const char *text)
{
	pdf_need(p, 12);
	pdf_text_fit(p, PDF_MARGIN, p->y - 9, CONTENT_W, text, 7.5f, 0, PDF_LEFT, PDF_GREY);
	p->y -= 13;
}

void rep_subhead(struct pdf *p, const char *text, float need)
{
	pdf_need(p, 22 + need);
	p->y -= 6;
	pdf_text_fit(p, PDF_MARGIN, p->y - 10, CONTENT_W, text, 10, 1, PDF_LEFT, PDF_INK);
	p->y -= 16;
}

/* Whole-number percent of a share: 0.647 -> "65%". */
static char *pct0(char *buf, size_t n, double v)
{
	snprintf(buf, n, "%.0f%%", v * 100 + (v >= 0 ? 1e-9 : -1e-9));
	return buf;
}

#define COHORTS 12
#define AGES 12

static void cohort_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			   const struct mtab *t)
{
	const char *metric = s->share_active ? "cohort_active_share" : "cohort_retained_share";
	const float label_w = 54, size_w = 34, row_h = 19, head_h = 28;
	const float cell_w = (CONTENT_W - label_w - size_w) / AGES;
	double val[COHORTS][AGES], size[COHORTS];
	int has[COHORTS][AGES], any = 0, shown[COHORTS];
	size_t c, a, i, n_rows = 0;
	float top, x0 = PDF_MARGIN + label_w + size_w;
	char buf[FMT_MAX];

	memset(has, 0, sizeof(has));
	for (c = 0; c < COHORTS; c++) {
		char seg[PERIOD_TEXT_MAX];

		period_format(o->period - (COHORTS - 1) + (int)c, seg);
		size[c] = -1;
		shown[c] = 0;
		for (i = 0; i < t->n; i++) {
			const struct mtab_row *r = &t->rows[i];

			if (r->period != o->period || r->k < 0 || r->k >= AGES || strcmp(r->metric, metric) ||
			    strcmp(r->dim, "cohort") || strcmp(r->segment, seg))
				continue;
			if (r->has_ratio && r->k == 0)
				size[c] = r->denominator;
			if (r->has_value) {
				val[c][r->k] = r->value;
				has[c][r->k] = 1;
				shown[c] = any = 1;
			}
		}
		n_rows += (size_t)shown[c];
	}
	/* the whole heatmap stays with its title (12 rows fit any page) */
	rep_section_title(p, s->title[o->lang], any ? head_h + row_h * (float)n_rows + 46 : 20);
	if (!any) {
		rep_no_data(p, o);
		return;
	}
	top = p->y;
	/* header: the age axis */
	pdf_text_fit(p, x0, top - 8, cell_w * AGES, SX(o, SX_AGE), 7.5f, 0, PDF_LEFT, PDF_GREY);
	pdf_text_fit(p, PDF_MARGIN, top - 24, label_w - 4, SX(o, SX_SIGNUP), 7, 1, PDF_LEFT, PDF_INK);
	pdf_text_fit(p, x0 - 6, top - 24, size_w - 4, SX(o, SX_SIZE), 7, 1, PDF_RIGHT, PDF_INK);
	for (a = 0; a < AGES; a++) {
		snprintf(buf, sizeof(buf), "%zu", a);
		pdf_text(p, x0 + cell_w * ((float)a + 0.5f), top - 24, buf, 8, 1, PDF_CENTER, PDF_INK);
	}
	top -= head_h;
	for (c = 0; c < COHORTS; c++) {
		char seg[PERIOD_TEXT_MAX];

		if (!shown[c])
			continue;
		period_format(o->period - (COHORTS - 1) + (int)c, seg);
		pdf_text(p, PDF_MARGIN, top - row_h + 6, seg, 8.5f, 0, PDF_LEFT, PDF_INK);
		if (size[c] >= 0) {
			fmt_value(buf, sizeof(buf), FMT_COUNT, size[c], NULL);
			pdf_text_fit(p, x0 - 6, top - row_h + 6, size_w - 6, buf, 8, 0, PDF_RIGHT, PDF_GREY);
		}
		for (a = 0; a < AGES; a++) {
			float cx = x0 + cell_w * (float)a;
			int dark;
			struct pdf_rgb col;

			if (!has[c][a])
				continue;
			col = chart_heat(val[c][a], &dark);
			pdf_fill_rect(p, cx + 0.6f, top - row_h + 0.6f, cell_w - 1.2f, row_h - 1.2f, col);
			pct0(buf, sizeof(buf), val[c][a]);
			if (pdf_text_width(p, buf, 7.5f, 0) <= cell_w - 4)
				pdf_text(p, cx + cell_w / 2, top - row_h + 6.5f, buf, 7.5f, 0, PDF_CENTER,
					 dark ? PDF_WHITE : PDF_INK);
		}
		top -= row_h;
	}
	/* the legend: a scale from 0% to 100% in ten steps */
	top -= 12;
	{
		const float lw = 14, lh = 8;
		float lx = x0;
		int k;

		for (k = 0; k <= 10; k++) {
			pdf_fill_rect(p, lx + lw * (float)k, top - lh, lw, lh, chart_heat(k / 10.0, NULL));
		}
		pdf_text(p, lx, top - lh - 9, "0%", 6.5f, 0, PDF_LEFT, PDF_GREY);
		pdf_text(p, lx + lw * 5.5f, top - lh - 9, "50%", 6.5f, 0, PDF_CENTER, PDF_GREY);
		pdf_text(p, lx + lw * 11, top - lh - 9, "100%", 6.5f, 0, PDF_RIGHT, PDF_GREY);
		pdf_text_fit(p, lx + lw * 11 + 10, top - lh + 1, CONTENT_W - label_w - size_w - lw * 11 - 10,
			     SX(o, s->share_active ? SX_LEG_ACTIVE : SX_LEG_RETAINED), 7.5f, 0, PDF_LEFT,
			     PDF_INK);
		pdf_text_fit(p, lx + lw * 11 + 10, top - lh - 9, CONTENT_W - label_w - size_w - lw * 11 - 10,
			     SX(o, SX_COHORT_NOTE), 6.5f, 0, PDF_LEFT, PDF_GREY);
	}
	p->y = top - 34;
}

static const char *const funnel_ids[5] = { "lead", "mql", "sql", "opportunity", "won" };
static const char *const funnel_words[5][2] = {
	{ "Leads", "线索" },
	{ "Marketing qualified (MQL)", "营销合格线索" },
	{ "Sales qualified (SQL)", "销售合格线索" },
	{ "Opportunities", "商机" },
	{ "Won", "赢单" },
};

static void funnel_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			   const struct mtab *t)
{
	const float bar_h = 26, gap = 8, label_w = 128, conv_w = 92;
	const float area = CONTENT_W - label_w - conv_w, mid = PDF_MARGIN + label_w + area / 2;
	double cnt[5], hi = 0, lost;
	int has[5], any = 0;
	char buf[FMT_MAX], line[200];
	size_t i;
	float top;

	for (i = 0; i < 5; i++) {
		char id[40];

		snprintf(id, sizeof(id), "funnel_%s", funnel_ids[i]);
		has[i] = mtab_get(t, o->period, id, "all", "", &cnt[i]);
		if (has[i]) {
			any = 1;
			if (cnt[i] > hi)
				hi = cnt[i];
		}
	}
	rep_section_title(p, s->title[o->lang], any ? 5 * (bar_h + gap) + 30 : 20);
	if (!any) {
		rep_no_data(p, o);
		return;
	}
	top = p->y;
	pdf_text_fit(p, PDF_MARGIN + label_w + area + conv_w, top - 8, conv_w, SX(o, SX_OF_PREV), 7.5f,
		     0, PDF_RIGHT, PDF_GREY);
	top -= 14;
	for (i = 0; i < 5; i++) {
		float by = top - bar_h, bw;

		pdf_text_fit(p, PDF_MARGIN, by + bar_h / 2 - 3, label_w - 8, funnel_words[i][o->lang], 9, 1,
			     PDF_LEFT, PDF_INK);
		if (!has[i]) {
			pdf_text(p, mid, by + bar_h / 2 - 3, W(o, UI_NA), 9, 0, PDF_CENTER, PDF_GREY);
		} else {
			struct pdf_rgb c = chart_heat(1.0 - 0.13 * (double)i, NULL);

			bw = hi > 0 ? (float)(cnt[i] / hi) * area : 0;
			if (bw < 2)
				bw = 2;
			pdf_fill_rect(p, mid - bw / 2, by, bw, bar_h, c);
			fmt_value(buf, sizeof(buf), FMT_COUNT, cnt[i], NULL);
			if (pdf_text_width(p, buf, 10, 1) + 8 < bw)
				pdf_text(p, mid, by + bar_h / 2 - 3.5f, buf, 10, 1, PDF_CENTER, PDF_WHITE);
			else
				pdf_text(p, mid + bw / 2 + 5, by + bar_h / 2 - 3.5f, buf, 10, 1, PDF_LEFT, PDF_INK);
		}
		if (i > 0) {
			char id[48];
			double v;

			snprintf(id, sizeof(id), "funnel_%s_conversion", funnel_ids[i]);
			if (mtab_get(t, o->period, id, "all", "", &v) ||
			    (has[i] && has[i - 1] && cnt[i - 1] > 0 && ((v = cnt[i] / cnt[i - 1]), 1)))
				fmt_value(buf, sizeof(buf), FMT_PERCENT, v, NULL);
			else
				snprintf(buf, sizeof(buf), "%s", W(o, UI_NA));
			pdf_text(p, PDF_MARGIN + CONTENT_W, by + bar_h / 2 - 3.5f, buf, 10, 1, PDF_RIGHT,
				 PDF_ACCENT);
		}
		top -= bar_h + gap;
	}
	/* the end to end conversion and the lost leads */
	{
		double cr;
		char lbuf[FMT_MAX];

		if (!mtab_get(t, o->period, "conversion_rate", "all", "", &cr) && has[0] && has[4] && cnt[0] > 0)
			cr = cnt[4] / cnt[0];
		else if (!has[0] || !has[4])
			cr = -1;
		if (cr >= 0)
			fmt_value(buf, sizeof(buf), FMT_PERCENT, cr, NULL);
		else
			snprintf(buf, sizeof(buf), "%s", W(o, UI_NA));
		if (mtab_get(t, o->period, "funnel_lost", "all", "", &lost)) {
			fmt_value(lbuf, sizeof(lbuf), FMT_COUNT, lost, NULL);
			snprintf(line, sizeof(line), "%s: %s   |   %s %s", SX(o, SX_LEAD_WON), buf, lbuf,
				 SX(o, SX_LOST));
		} else {
			snprintf(line, sizeof(line), "%s: %s", SX(o, SX_LEAD_WON), buf);
		}
		pdf_text_fit(p, PDF_MARGIN, top - 6, CONTENT_W, line, 9, 0, PDF_LEFT, PDF_INK);
	}
	p->y = top - 22;
}

/*
 * Promoters and detractors of an NPS row: compute writes 100 (p - d) / n
 * with numerator p - d and denominator n, and nps_moe95 = 196 sqrt((p + d -
 * (p - d)^2) / n) with p, d fractions. Both together give p + d, hence the
 * counts; they are used only when they come out as whole numbers.
 */
int rep_nps_counts(double num, double den, double moe, double *prom, double *det)
{
	double x, sum, pc, dc;

	if (!(den > 0) || !(moe >= 0) || fabs(num) > den)
		return 0;
	x = num / den;
	sum = (moe / 196.0) * (moe / 196.0) * den + x * x;
	pc = den * (sum + x) / 2;
	dc = den * (sum - x) / 2;
	if (fabs(pc - round(pc)) > 0.01 || fabs(dc - round(dc)) > 0.01)
		return 0;
	pc = round(pc);
	dc = round(dc);
	if (pc < 0 || dc < 0 || pc + dc > den || pc - dc != round(num))
		return 0;
	*prom = pc;
	*det = dc;
	return 1;
}

void rep_big_figure(struct pdf *p, float x, float top, float w, const char *label,
		       const char *value, const char *note)
{
	pdf_text_fit(p, x, top - 10, w, label, 9, 0, PDF_LEFT, PDF_GREY);
	pdf_text_fit(p, x, top - 36, w, value, 24, 1, PDF_LEFT, PDF_INK);
	pdf_text_fit(p, x, top - 50, w, note, 7.5f, 0, PDF_LEFT, PDF_GREY);
}

static void nps_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			const struct mtab *t)
{
	const float left_w = 150, block_h = 70;
	const float bx = PDF_MARGIN + left_w + 10, bw = CONTENT_W - left_w - 10;
	double nps, num, den, moe, prom, det, csat, cnum, cden, mean;
	int has_nps, has_csat, has_counts = 0;
	char buf[FMT_MAX], note[160], b2[FMT_MAX];
	float top;

	has_nps = mtab_get(t, o->period, "nps", "all", "", &nps);
	has_csat = mtab_get(t, o->period, "csat", "all", "", &csat);
	rep_section_title(p, s->title[o->lang], has_nps || has_csat ? block_h : 20);
	if (!has_nps && !has_csat) {
		rep_no_data(p, o);
		return;
	}
	/* NPS: the score, its margin, the composition */
	pdf_need(p, block_h + 10);
	top = p->y;
	if (has_nps) {
		const struct tpl_metric_info *mi = tpl_metric_info("nps");

		fmt_value(buf, sizeof(buf), FMT_NPS, nps, NULL);
		note[0] = '\0';
		if (mtab_get(t, o->period, "nps_moe95", "all", "", &moe)) {
			fmt_value(b2, sizeof(b2), FMT_NPS, moe, NULL);
			snprintf(note, sizeof(note), "%s +/- %s", SX(o, SX_MOE), b2);
			if (mtab_get_ratio(t, o->period, "nps", "all", "", &num, &den))
				has_counts = rep_nps_counts(num, den, moe, &prom, &det);
		}
		if (mtab_get_ratio(t, o->period, "nps", "all", "", &num, &den)) {
			size_t l = strlen(note);

			fmt_value(b2, sizeof(b2), FMT_COUNT, den, NULL);
			snprintf(note + l, sizeof(note) - l, "%s%s %s", l ? ", " : "", b2, SX(o, SX_RESPONSES));
		}
		rep_big_figure(p, PDF_MARGIN, top, left_w, mi->label[o->lang], buf, note);
		if (has_counts) {
			const double part[3] = { prom, den - prom - det, det };
			const struct pdf_rgb col[3] = { PDF_GOOD, PDF_RULE, PDF_BAD };
			const enum sx_word word[3] = { SX_PROMOTERS, SX_PASSIVES, SX_DETRACTORS };
			float cx = bx, bh = 22, by = top - 36;
			int k;

			for (k = 0; k < 3; k++) {
				float pw = (float)(part[k] / den) * bw;

				if (pw > 0)
					pdf_fill_rect(p, cx, by, pw, bh, col[k]);
				if (pw > 30)
					pdf_text(p, cx + pw / 2, by + bh / 2 - 3.5f, pct0(b2, sizeof(b2), part[k] / den),
						 9, 1, PDF_CENTER, k == 1 ? PDF_INK : PDF_WHITE);
				cx += pw;
			}
			/* the key under the bar: a swatch, the name, count and share */
			for (k = 0; k < 3; k++) {
				float kx = bx + bw / 3 * (float)k;
				char kb[120];

				pdf_fill_rect(p, kx, by - 14, 7, 7, col[k]);
				fmt_value(buf, sizeof(buf), FMT_COUNT, part[k], NULL);
				snprintf(kb, sizeof(kb), "%s: %s", SX(o, word[k]), buf);
				pdf_text_fit(p, kx + 10, by - 13, bw / 3 - 14, kb, 7.5f, 0, PDF_LEFT, PDF_INK);
			}
			pdf_text_fit(p, bx, by + bh + 8, bw, SX(o, SX_NPS_NOTE), 7, 0, PDF_LEFT, PDF_GREY);
		}
	} else {
		rep_big_figure(p, PDF_MARGIN, top, left_w, tpl_metric_info("nps")->label[o->lang], W(o, UI_NA), "");
	}
	top -= block_h + 8;
	pdf_line(p, PDF_MARGIN, top + 4, PDF_MARGIN + CONTENT_W, top + 4, 0.5f, PDF_RULE);
	top -= 6;
	/* CSAT: the satisfied share as a bar, the mean score */
	if (has_csat) {
		fmt_value(buf, sizeof(buf), FMT_PERCENT, csat, NULL);
		note[0] = '\0';
		if (mtab_get_ratio(t, o->period, "csat", "all", "", &cnum, &cden)) {
			fmt_value(b2, sizeof(b2), FMT_COUNT, cden, NULL);
			snprintf(note, sizeof(note), "%s, %s %s", SX(o, SX_CSAT_SAT), b2, SX(o, SX_RESPONSES));
		} else {
			snprintf(note, sizeof(note), "%s", SX(o, SX_CSAT_SAT));
		}
		rep_big_figure(p, PDF_MARGIN, top, left_w, tpl_metric_info("csat")->label[o->lang], buf, note);
		{
			float by = top - 36, bh = 22, fw = (float)(csat < 0 ? 0 : csat > 1 ? 1 : csat) * bw;

			pdf_fill_rect(p, bx, by, bw, bh, PDF_LIGHT);
			if (fw > 0)
				pdf_fill_rect(p, bx, by, fw, bh, PDF_ACCENT);
			if (mtab_get(t, o->period, "csat_mean", "all", "", &mean)) {
				char mb[120];

				snprintf(mb, sizeof(mb), "%s: %.1f / 5", SX(o, SX_CSAT_MEAN), mean);
				pdf_text_fit(p, bx, by - 13, bw, mb, 8, 0, PDF_LEFT, PDF_INK);
			}
		}
	} else {
		rep_big_figure(p, PDF_MARGIN, top, left_w, tpl_metric_info("csat")->label[o->lang], W(o, UI_NA), "");
	}
	p->y = top - block_h - 4;
}

#define SURV_CURVES 7  /* overall and up to 6 segments */
#define SURV_POINTS 128
#define SURV_SEGS 128  /* segments considered; the largest SURV_CURVES - 1 are drawn */

/* The segments that have a curve but were not drawn, largest first, joined with ", ". */
static size_t left_out(const struct mtab *t, const struct rep_opts *o, const char *dim,
		       const struct seg_row *rows, size_t from, size_t n_segs, char *out, size_t n)
{
	long k[1];
	double v[1];
	size_t i, left = 0, len = 0;

	out[0] = '\0';
	for (i = from; i < n_segs; i++) {
		if (!mtab_series(t, o->period, "survival", dim, rows[i].name, k, v, 1))
			continue;
		left++;
		if (len + 1 < n) {
			int w = snprintf(out + len, n - len, "%s%s", left > 1 ? ", " : "",
					 rep_segment_label(o, dim, rows[i].name));

			len = w < 0 ? len : len + (size_t)w < n ? len + (size_t)w : n - 1;
		}
	}
	return left;
}

static void survival_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			     const struct mtab *t)
{
	const float chart_h = 230, leg_row = 14;
	long ks[SURV_CURVES][SURV_POINTS];
	double vs[SURV_CURVES][SURV_POINTS];
	struct chart_curve cv[SURV_CURVES];
	const char *seg_name[SURV_CURVES], *segs[SURV_SEGS];
	struct seg_row rows[SURV_SEGS];
	size_t n = 0, i = 0, n_segs = 0, leg_rows, n_left = 0;
	float top;
	char buf[FMT_MAX], line[200], names[600], note[800];
	int overall = 0;

	seg_name[0] = "";
	cv[0].n = mtab_series(t, o->period, "survival", "all", "", ks[0], vs[0], SURV_POINTS);
	if (cv[0].n) {
		cv[0].k = ks[0];
		cv[0].v = vs[0];
		cv[0].color = PDF_INK;
		cv[0].width = 2.2f;
		n = overall = 1;
	}
	if (s->dim) {
		/* the largest segments first (customers at the end of the period) */
		n_segs = mtab_k_segments(t, o->period, "survival", s->dim, segs, SURV_SEGS);
		for (i = 0; i < n_segs; i++) {
			rows[i].name = segs[i];
			rows[i].has = mtab_get(t, o->period, "customers_end", s->dim, segs[i], &rows[i].key);
		}
		qsort(rows, n_segs, sizeof(rows[0]), seg_cmp);
		for (i = 0; i < n_segs && n < SURV_CURVES; i++) {
			cv[n].n = mtab_series(t, o->period, "survival", s->dim, rows[i].name, ks[n], vs[n],
					      SURV_POINTS);
			if (!cv[n].n)
				continue;
			cv[n].k = ks[n];
			cv[n].v = vs[n];
			cv[n].color = chart_palette(n);
			cv[n].width = 1.3f;
			seg_name[n] = rows[i].name;
			n++;
		}
		/* never drop a segment silently: the note under the legend names them */
		n_left = left_out(t, o, s->dim, rows, i, n_segs, names, sizeof(names));
	}
	leg_rows = (n + 1) / 2;
	rep_section_title(p, s->title[o->lang],
			  n ? chart_h + 20 + leg_row * (float)leg_rows + (n_left ? 12 : 0) : 20);
	if (!n) {
		rep_no_data(p, o);
		return;
	}
	top = p->y;
	chart_steps(p, PDF_MARGIN, top - chart_h, CONTENT_W, chart_h, cv, n, SX(o, SX_DAYS),
		    SX(o, SX_SHARE_LEFT));
	top -= chart_h + 14;
	/* the legend: two columns, each curve with its median lifetime */
	for (i = 0; i < n; i++) {
		float lx = PDF_MARGIN + 34 + (float)(i % 2) * (CONTENT_W - 34) / 2;
		float ly = top - leg_row * (float)(i / 2);
		int all = overall && i == 0;
		const char *name = all ? SX(o, SX_OVERALL) : rep_segment_label(o, s->dim, seg_name[i]);
		double med;

		pdf_fill_rect(p, lx, ly + 1.5f, 14, all ? 2.6f : 1.8f, cv[i].color);
		if (mtab_get(t, o->period, "median_lifetime_days", all ? "all" : s->dim,
			     all ? "" : seg_name[i], &med)) {
			fmt_value(buf, sizeof(buf), FMT_COUNT, med, NULL);
			snprintf(line, sizeof(line), "%s: %s %s %s", name, SX(o, SX_MEDIAN), buf,
				 SX(o, SX_DAY_UNIT));
		} else {
			snprintf(line, sizeof(line), "%s: %s", name, SX(o, SX_NOT_REACHED));
		}
		pdf_text_fit(p, lx + 20, ly, (CONTENT_W - 34) / 2 - 26, line, 8, all, PDF_LEFT, PDF_INK);
	}
	p->y = top - leg_row * (float)leg_rows - 8;
	if (n_left) {
		snprintf(note, sizeof(note), SX(o, SX_SURV_LEFT_OUT), n - (size_t)overall,
			 n - (size_t)overall + n_left, names);
		pdf_text_fit(p, PDF_MARGIN + 34, p->y - 2, CONTENT_W - 34, note, 7.5f, 0, PDF_LEFT, PDF_GREY);
		p->y -= 12;
	}
}


static void at_risk_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			    const struct mtab_customer *cs, size_t n, size_t total)
{
	const float row_h = 16;
	const float cx[5] = { PDF_MARGIN + 6, PDF_MARGIN + 30, PDF_MARGIN + 170, PDF_MARGIN + 360,
			      PDF_MARGIN + CONTENT_W - 6 };
	char buf[FMT_MAX], line[300];
	float top;
	size_t i;
	double col_max = 0;

	/* the whole list stays with its title: 40 rows (the most) still fit a page */
	rep_section_title(p, s->title[o->lang], n ? row_h * (float)(n + 1) + 30 : 20);
	if (!n) {
		rep_no_data(p, o);
		return;
	}
	top = p->y;
	pdf_fill_rect(p, PDF_MARGIN, top - row_h - 4, CONTENT_W, row_h + 4, PDF_ACCENT);
	pdf_text(p, cx[0], top - row_h + 2, "#", 8.5f, 1, PDF_LEFT, PDF_WHITE);
	pdf_text_fit(p, cx[1], top - row_h + 2, 130, SX(o, SX_CUSTOMER), 8.5f, 1, PDF_LEFT, PDF_WHITE);
	pdf_text_fit(p, cx[2], top - row_h + 2, 150, SX(o, SX_RFM), 8.5f, 1, PDF_LEFT, PDF_WHITE);
	pdf_text_fit(p, cx[3], top - row_h + 2, 120, SX(o, SX_LAST_ORDER), 8.5f, 1, PDF_RIGHT, PDF_WHITE);
	pdf_text_fit(p, cx[4], top - row_h + 2, 120, SX(o, SX_REV12), 8.5f, 1, PDF_RIGHT, PDF_WHITE);
	top -= row_h + 4;
	for (i = 0; i < n; i++)
		if (fabs(cs[i].revenue_12m) > col_max)
			col_max = fabs(cs[i].revenue_12m);
	for (i = 0; i < n; i++) {
		float by = top - row_h + 5;

		if (i % 2)
			pdf_fill_rect(p, PDF_MARGIN, top - row_h, CONTENT_W, row_h, PDF_LIGHT);
		snprintf(buf, sizeof(buf), "%zu", i + 1);
		pdf_text(p, cx[0], by, buf, 8.5f, 0, PDF_LEFT, PDF_GREY);
		pdf_text_fit(p, cx[1], by, 130, cs[i].id, 9, 0, PDF_LEFT, PDF_INK);
		pdf_text_fit(p, cx[2], by, 150, rep_segment_label(o, "rfm", cs[i].segment), 9, 0, PDF_LEFT,
			     !strcmp(cs[i].segment, "cant_lose") ? PDF_BAD : PDF_INK);
		if (cs[i].recency_days >= 0) {
			fmt_value(buf, sizeof(buf), FMT_COUNT, (double)cs[i].recency_days, NULL);
			snprintf(line, sizeof(line), "%s %s", buf, SX(o, SX_DAYS_AGO));
		} else {
			snprintf(line, sizeof(line), "%s", W(o, UI_NA));
		}
		pdf_text_fit(p, cx[3], by, 120, line, 9, 0, PDF_RIGHT, PDF_INK);
		fmt_value_col(buf, sizeof(buf), FMT_MONEY, cs[i].revenue_12m, col_max, o->currency);
		pdf_text_fit(p, cx[4], by, 120, buf, 9, 0, PDF_RIGHT, PDF_INK);
		top -= row_h;
	}
	pdf_line(p, PDF_MARGIN, top, PDF_MARGIN + CONTENT_W, top, 0.8f, PDF_RULE);
	if (o->lang == TPL_ZH)
		snprintf(line, sizeof(line), SX(o, SX_SHOWING), total, n);
	else
		snprintf(line, sizeof(line), SX(o, SX_SHOWING), n, total);
	pdf_text_fit(p, PDF_MARGIN, top - 12, CONTENT_W, line, 7.5f, 0, PDF_LEFT, PDF_GREY);
	p->y = top - 26;
}

int rep_cust_lists(struct rep_cust *c, const struct rep_opts *o, struct crm_err *e)
{
	char per[PERIOD_TEXT_MAX];
	struct crm_err le = { 0 };
	unsigned char *data = NULL;
	size_t len = 0;
	int rc, w;

	if (c->state)
		return 0;
	c->state = -1;
	c->risk.c = c->risk_c;
	c->risk.max = REP_LIST_MAX;
	c->clv.best = c->best;
	c->clv.max_best = REP_LIST_MAX;
	c->clv.fading = c->fading;
	c->clv.max_fading = REP_LIST_MAX;
	if (!o->data_dir)
		return 0;
	w = snprintf(c->path, sizeof(c->path), "%s/metrics/%s-customers.csv", o->data_dir,
		     period_format(o->period, per));
	if (w < 0 || (size_t)w >= sizeof(c->path))
		return err_set(e, CRM_E_CONFIG, "path too long under data_dir");
	rc = fsx_read_file(c->path, MTAB_MAX_FILE, &data, &len, &le);
	if (rc == CRM_E_INPUT) /* not computed: the sections say so */
		return 0;
	if (rc) {
		*e = le;
		return rc;
	}
	c->state = 1;
	rc = mtab_customer_lists_text((const char *)data, len, c->path, &c->risk, &c->clv, e);
	free(data);
	return rc;
}

/* The at_risk section from the per-customer file (no file: no data). */
static int at_risk(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
		   struct rep_cust *cust, struct crm_err *e)
{
	size_t rows = (size_t)s->rows;
	int rc;

	if ((rc = rep_cust_lists(cust, o, e)))
		return rc;
	if (rows > cust->risk.n)
		rows = cust->risk.n;
	at_risk_section(p, o, s, cust->risk.c, rows, cust->risk.total);
	return 0;
}

/* Formulas in words, for the definitions appendix: id, en label, zh label, en, zh. */
static const char *const defs[][5] = {
	{ "customers_start", NULL, NULL, "Customers in the base at the start of the month.", "月初在客户基数中的客户数。" },
	{ "customers_end", NULL, NULL, "Customers in the base at the end of the month (signed up, not churned, ordered within the inactivity window).", "月末在客户基数中的客户数（已注册、未流失、在不活跃期限内有订单）。" },
	{ "new_customers", NULL, NULL, "Customers whose signup day (or first order) is in the month.", "注册日（或首单日）在本月的客户数。" },
	{ "churned", NULL, NULL, "In the base at the start of the month, not at its end.", "月初在客户基数中、月末不在的客户数。" },
	{ "retained", NULL, NULL, "In the base at both the start and the end of the month.", "月初和月末都在客户基数中的客户数。" },
	{ "reactivated", NULL, NULL, "Signed up earlier, out of the base at the start, back in at the end.", "此前注册、月初不在客户基数中、月末重新回到基数的客户数。" },
	{ "buyers", NULL, NULL, "Customers with at least one completed order in the month.", "本月至少有一笔完成订单的客户数。" },
	{ "orders", NULL, NULL, "Completed orders in the month.", "本月完成的订单数。" },
	{ "customer_growth_rate", NULL, NULL, "(Customers at end - customers at start) / customers at start.", "（期末客户数 - 期初客户数）/ 期初客户数。" },
	{ "churn_rate", NULL, NULL, "Churned customers / customers at the start of the month.", "流失客户数 / 月初客户数。" },
	{ "retention_rate", NULL, NULL, "Retained customers / customers at the start of the month.", "留存客户数 / 月初客户数。" },
	{ "revenue", NULL, NULL, "Sum of completed orders, less refunds, in the month.", "本月完成订单金额之和，减去退款。" },
	{ "net_profit", NULL, NULL, "Revenue less the cost of the same orders and refunds.", "收入减去同一批订单与退款的成本。" },
	{ "aov", NULL, NULL, "Completed revenue / completed orders.", "完成订单收入 / 完成订单数。" },
	{ "purchase_frequency", NULL, NULL, "Completed orders / buyers.", "完成订单数 / 购买客户数。" },
	{ "repeat_purchase_rate", NULL, NULL, "Buyers with two or more orders in the month / buyers.", "本月下单两次及以上的客户 / 购买客户数。" },
	{ "returning_rate", NULL, NULL, "Buyers who had ordered before this month / buyers.", "本月之前下过单的购买客户 / 购买客户数。" },
	{ "clv", NULL, NULL, "Average order value x orders per buyer x expected lifespan, over 12 months.", "近 12 个月客单价 x 人均订单数 x 预期客户寿命。" },
	{ "clv_margin", NULL, NULL, "Lifetime value x profit margin over the same 12 months.", "客户终身价值 x 同期利润率。" },
	{ "cac", NULL, NULL, "Acquisition spend in the month / new customers.", "本月获客支出 / 新客户数。" },
	{ "ltv_cac", NULL, NULL, "Lifetime value (margin) / acquisition cost.", "客户终身价值（利润）/ 获客成本。" },
	{ "cac_payback_months", NULL, NULL, "Months of profit per buyer needed to earn back the acquisition cost.", "以每位购买客户的月利润收回获客成本所需月数。" },
	{ "retention_cost", NULL, NULL, "Retention spend in the month / retained customers.", "本月客户维系支出 / 留存客户数。" },
	{ "csat", NULL, NULL, "Survey answers scoring 4 or 5 (of 5) / all answers in the month.", "本月满意度调查中 4 分或 5 分的回复 / 全部回复。" },
	{ "csat_mean", "Mean CSAT score", "满意度平均分", "Mean of the satisfaction scores (1-5) in the month.", "本月满意度评分（1-5 分）的平均值。" },
	{ "nps", NULL, NULL, "100 x (promoters 9-10 - detractors 0-6) / responses.", "100 x（推荐者 9-10 分 - 贬损者 0-6 分）/ 回复数。" },
	{ "nps_moe95", "NPS margin of error", "净推荐值误差范围", "95% margin: 196 x sqrt((p + d - (p - d)^2) / n).", "95% 误差范围：196 x sqrt((p + d - (p - d)^2) / n)。" },
	{ "complaint_rate", NULL, NULL, "Complaints opened in the month / customers during the month.", "本月新增投诉 / 本月客户数。" },
	{ "complaint_resolution_rate", NULL, NULL, "Complaints resolved within the SLA / complaints opened.", "在服务时限内解决的投诉 / 新增投诉。" },
	{ "first_response_hours", NULL, NULL, "Median hours from a ticket opening to the first response.", "工单从创建到首次响应的时长中位数（小时）。" },
	{ "resolution_hours", NULL, NULL, "Median hours from a ticket opening to its resolution.", "工单从创建到解决的时长中位数（小时）。" },
	{ "referral_rate", NULL, NULL, "New customers referred by a customer / new customers.", "由老客户推荐的新客户 / 新客户数。" },
	{ "engagement_rate", NULL, NULL, "Customers with an interaction in the month / customers during the month.", "本月有互动的客户 / 本月客户数。" },
	{ "email_open_rate", NULL, NULL, "Emails opened / emails sent in the month.", "本月打开的邮件 / 发送的邮件。" },
	{ "loyalty_index", NULL, NULL, "100 x weighted mean of CSAT, repeat purchase rate and referral rate.", "100 x 满意度、复购率与推荐率的加权平均。" },
	{ "conversion_rate", NULL, NULL, "Leads won / leads in the month.", "本月赢单线索 / 线索数。" },
	{ "funnel", "Lead funnel", "线索漏斗", "Distinct leads reaching each stage in the month; conversion = stage / previous stage.", "本月到达各阶段的不同线索数；转化率 = 本阶段 / 上一阶段。" },
	{ "cohort_retained_share", "Cohort retention", "客户群留存", "Customers of a signup month still in the base at the end of month k / cohort size.", "某注册月份的客户在第 k 个月末仍在客户基数中的人数 / 该客户群人数。" },
	{ "cohort_active_share", "Cohort activity", "客户群活跃", "Customers of a signup month with an order in month k / cohort size.", "某注册月份的客户在第 k 个月下单的人数 / 该客户群人数。" },
	{ "survival", "Survival curve", "生存曲线", "Kaplan-Meier share of customers still in the base k days after signup.", "Kaplan-Meier 估计：注册 k 天后仍在客户基数中的比例。" },
	{ "median_lifetime_days", NULL, NULL, "First day on which the survival curve is at or below 50%.", "生存曲线首次降到 50% 及以下的天数。" },
	{ "rfm", "RFM segment", "RFM 分群", "Recency, frequency and revenue scores (1-5) over 12 months; at risk and can't lose: good customers gone quiet.", "近 12 个月的最近购买、频次、金额评分（1-5）；“有流失风险”和“不可损失”为久未下单的优质客户。" },
	{ "clv_predicted", NULL, NULL, "Discounted value of a customer's expected purchases over the horizon: BG/NBD purchases x Gamma-Gamma spend, 1% a month by default.", "客户在预测期内预期购买的折现价值：BG/NBD 预期购买次数 x Gamma-Gamma 预期客单价，默认每月折现 1%。" },
	{ "p_alive", NULL, NULL, "Probability that a customer is still active at the end of the month, from the BG/NBD model and the customer's history.", "根据 BG/NBD 模型与客户购买历史，客户在月末仍然活跃的概率。" },
	{ "expected_purchases", NULL, NULL, "Purchase days a customer is expected to make over the horizon (BG/NBD conditional expectation).", "客户在预测期内预期的购买天数（BG/NBD 条件期望）。" },
	{ "bgnbd", "BG/NBD model", "BG/NBD 模型", "Purchase rate ~ Gamma(r, alpha) per week; after each purchase the customer drops out with p ~ Beta(a, b). Fitted by maximum likelihood on customers' repeat purchase days, recency and age.", "每周购买率服从 Gamma(r, alpha)；每次购买后客户以概率 p ~ Beta(a, b) 流失。用客户的复购天数、最近购买与客户年龄做最大似然估计。" },
	{ "gamma_gamma", "Gamma-Gamma model", "Gamma-Gamma 模型", "Spend per purchase day ~ Gamma(p, v), v ~ Gamma(q, gamma) across customers; fitted on customers with repeat purchases.", "每个购买日的消费额服从 Gamma(p, v)，v 在客户间服从 Gamma(q, gamma)；用有复购的客户估计。" },
	{ "revenue_12m", "Revenue, 12 months", "近 12 个月收入", "A customer's revenue (completed orders less refunds) over the last 12 months.", "客户近 12 个月的收入（完成订单减退款）。" },
};

#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

/* Lines of `s` that fit in maxw points, breaking at spaces or between wide characters. */
size_t rep_wrap(struct pdf *p, const char *s, float maxw, float size, char lines[][256],
		   size_t max_lines)
{
	size_t n = 0;

	while (*s && n < max_lines) {
		size_t i = 0, brk = 0, len = strlen(s);
		char tmp[256];

		while (s[i]) {
			size_t cl = 1, j;

			while (s[i + cl] && ((unsigned char)s[i + cl] & 0xC0) == 0x80)
				cl++;
			if (i + cl >= sizeof(tmp))
				break;
			memcpy(tmp, s, i + cl);
			tmp[i + cl] = '\0';
			if (pdf_text_width(p, tmp, size, 0) > maxw)
				break;
			j = i;
			i += cl;
			if (s[j] == ' ' || (unsigned char)s[j] >= 0x80)
				brk = i;
		}
		if (!s[i] || i == len) {
			brk = i;
		} else if (brk == 0) {
			brk = i ? i : 1;
		}
		if (n == max_lines - 1 && s[brk]) { /* the last line takes the rest, fitted */
			brk = strlen(s) < 255 ? strlen(s) : 255;
		}
		memcpy(lines[n], s, brk);
		lines[n][brk] = '\0';
		n++;
		s += brk;
		while (*s == ' ')
			s++;
	}
	return n;
}

/* Metrics each built-in section shows, for the appendix. */
static const char *const shown_by[TPL_N_KINDS][6] = {
	[TPL_COHORT] = { "cohort_retained_share", NULL },
	[TPL_FUNNEL] = { "funnel", "conversion_rate", NULL },
	[TPL_NPS] = { "nps", "nps_moe95", "csat", "csat_mean", NULL },
	[TPL_SURVIVAL] = { "survival", "median_lifetime_days", NULL },
	[TPL_AT_RISK] = { "rfm", "revenue_12m", NULL },
	[TPL_CLV] = { "clv_predicted", "p_alive", "expected_purchases", "bgnbd", "gamma_gamma", NULL },
};

static void definitions_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
				const struct tpl *t)
{
	const float label_w = 150, size = 8, lead = 10.5f;
	const char *ids[128], *labels[128];
	size_t n = 0, i, j, k;

	for (i = 0; i < t->n_sections; i++) {
		const struct tpl_section *sc = &t->sections[i];
		const char *list[TPL_MAX_METRICS + 6];
		const char *lab[TPL_MAX_METRICS + 6];
		size_t m = 0;

		if (sc->kind == TPL_KPI || sc->kind == TPL_TREND || sc->kind == TPL_TABLE) {
			for (j = 0; j < sc->n_metrics; j++) {
				lab[m] = sc->metrics[j].label[o->lang];
				list[m++] = sc->metrics[j].id;
			}
		} else if (sc->kind != TPL_DEFINITIONS) {
			for (j = 0; shown_by[sc->kind][j]; j++) {
				const char *id = shown_by[sc->kind][j];

				if (sc->kind == TPL_COHORT && sc->share_active)
					id = "cohort_active_share";
				lab[m] = NULL;
				list[m++] = id;
			}
		}
		for (j = 0; j < m && n < 128; j++) {
			for (k = 0; k < n && strcmp(ids[k], list[j]); k++)
				;
			if (k == n) {
				labels[n] = lab[j];
				ids[n++] = list[j];
			}
		}
	}
	rep_section_title(p, s->title[o->lang], n ? 30 : 20);
	if (!n) {
		rep_no_data(p, o);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct tpl_metric_info *mi = tpl_metric_info(ids[i]);
		const char *label = labels[i], *text = NULL;
		char lines[3][256];
		size_t nl;

		for (k = 0; k < N_DEFS; k++)
			if (!strcmp(defs[k][0], ids[i]))
				break;
		if (k < N_DEFS) {
			text = defs[k][3 + o->lang];
			if (!label)
				label = defs[k][1 + o->lang];
		}
		if (!label && mi)
			label = mi->label[o->lang];
		if (!label)
			label = ids[i];
		if (!text)
			text = o->lang == TPL_ZH ? "指标文件中的自定义指标。" : "A custom metric of the metrics file.";
		nl = rep_wrap(p, text, CONTENT_W - label_w, size, lines, 3);
		pdf_need(p, lead * (float)nl + 6);
		pdf_text_fit(p, PDF_MARGIN, p->y - 9, label_w - 8, label, size, 1, PDF_LEFT, PDF_INK);
		for (j = 0; j < nl; j++)
			pdf_text_fit(p, PDF_MARGIN + label_w, p->y - 9 - lead * (float)j, CONTENT_W - label_w,
				     lines[j], size, 0, PDF_LEFT, PDF_INK);
		p->y -= lead * (float)nl + 5;
		pdf_line(p, PDF_MARGIN, p->y + 2, PDF_MARGIN + CONTENT_W, p->y + 2, 0.3f, PDF_RULE);
	}
	p->y -= 8;
}

int rep_render(const struct tpl *t, const struct mtab *m, const struct rep_opts *o,
	       unsigned char **out, size_t *len, struct crm_err *e)
{
	struct pdf *p = NULL;
	char per[PERIOD_TEXT_MAX], plabel[64], when[32], subject[512], doc_title[512];
	struct rep_cust cust;
	struct tm tm;
	size_t i;
	int rc;

	*out = NULL;
	*len = 0;
	memset(&cust, 0, sizeof(cust));
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
		if (rc)
			break;
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
		case TPL_COHORT:
			cohort_section(p, o, s, m);
			break;
		case TPL_FUNNEL:
			funnel_section(p, o, s, m);
			break;
		case TPL_NPS:
			nps_section(p, o, s, m);
			break;
		case TPL_SURVIVAL:
			survival_section(p, o, s, m);
			break;
		case TPL_AT_RISK:
			rc = at_risk(p, o, s, &cust, e);
			break;
		case TPL_CLV:
			rc = rep_clv_section(p, o, s, m, &cust, e);
			break;
		case TPL_LINEAGE:
			rc = rep_lineage_section(p, o, s, e);
			break;
		case TPL_DEFINITIONS:
			definitions_section(p, o, s, t);
			break;
		case TPL_N_KINDS: /* tpl.c never makes one */
			break;
		}
	}
	if (rc)
		goto out;
	pdf_finish(p);
	rc = pdf_save(p, out, len, e);
out:
	pdf_free(p);
	return rc;
}
