/*
 * rep_clv.c - the predictive CLV section of a report (template kind "clv").
 *
 * Shows what compute's BG/NBD and Gamma-Gamma models say for the period:
 * the headline means per modelled customer, the fitted parameters, a
 * holdout check (the forecast of an earlier month against what its
 * customers then did) and two short lists from the per-customer file (the
 * customers with the highest predicted CLV, and valuable customers the
 * model thinks are probably gone).
 *
 * Reads metrics rows and the per-customer file only; fits nothing (the
 * models live in etl/clv.c). Each part that lacks its rows says so, so a
 * report of a period computed before the models existed still renders.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chart.h"
#include "fmt.h"
#include "period.h"
#include "rep_int.h"

#include "banned.h"

#define HOLDOUT_MAX 12  /* months of holdout looked back for (METRICS.md: k = 1..12) */
#define FORECAST_MAX 128 /* forecast rows of a month: k = 1..H, H at most 120 (cfg.h) */

enum cw {
	CW_NONE, CW_FIT_FAILED, CW_MEAN_CLV, CW_MEAN_ALIVE, CW_MEAN_EXP, CW_NOTE_CLV, CW_NOTE_ALIVE,
	CW_NOTE_EXP, CW_MODELLED, CW_PARAMS, CW_BGNBD, CW_GG, CW_LL, CW_HOLDOUT,
	CW_NO_HOLDOUT, CW_HOLDOUT_NOTE, CW_PREDICTED, CW_ACTUAL, CW_BEST, CW_FADING, CW_RANK,
	CW_CUSTOMER, CW_RFM, CW_REPEAT, CW_ALIVE, CW_EXPECTED, CW_CLV, CW_REV12, CW_BEST_NOTE,
	CW_FADING_NOTE, CW_NO_CUSTOMERS, CW_NO_FADING, CW_MONTHS, CW_HORIZON, CW_N
};

/* Wording: [en, zh]. Format strings take their numbers in the same order in both. */
static const char *const cw[CW_N][2] = {
	[CW_NONE] = { "No predictive CLV for this period: compute has not written the model's rows.",
		      "本期无预测客户终身价值：计算阶段未写出模型结果。" },
	[CW_FIT_FAILED] = { "The models could not be fitted for this period (too few repeat purchases).",
			    "本期模型无法拟合（复购数据不足）。" },
	[CW_MEAN_CLV] = { "Predicted CLV, %s", "预测客户终身价值（%s）" },
	[CW_MEAN_ALIVE] = { "P(alive) at month end", "月末存活概率" },
	[CW_MEAN_EXP] = { "Expected purchases, %s", "预期购买次数（%s）" },
	[CW_NOTE_CLV] = { "mean per modelled customer", "每位建模客户的平均值" },
	[CW_NOTE_ALIVE] = { "mean chance a customer is still active", "客户仍然活跃的平均概率" },
	[CW_NOTE_EXP] = { "purchase days per customer (mean)", "每位客户的平均购买天数" },
	[CW_MODELLED] = { "%s customers modelled (at least one purchase before the end of the month).",
			  "建模客户 %s 位（月末前至少购买过一次）。" },
	[CW_PARAMS] = { "Model parameters (maximum likelihood)", "模型参数（最大似然估计）" },
	[CW_BGNBD] = { "BG/NBD: purchases and dropout", "BG/NBD：购买与流失" },
	[CW_GG] = { "Gamma-Gamma: spend per purchase", "Gamma-Gamma：每次消费额" },
	[CW_LL] = { "log-likelihood", "对数似然" },
	[CW_HOLDOUT] = { "Predicted vs actual repeat purchases, cumulative", "预测与实际复购（累计）" },
	[CW_NO_HOLDOUT] = { "No holdout yet: none of the 12 months before this one has the model's forecast.",
			    "暂无验证期：此前 12 个月均无模型预测。" },
	[CW_HOLDOUT_NOTE] = { "The model of %s against what its %s customers did in the %d months since.",
			      "%s 的模型与其 %s 位客户此后 %d 个月的实际购买对比。" },
	[CW_PREDICTED] = { "Predicted", "预测" },
	[CW_ACTUAL] = { "Actual", "实际" },
	[CW_BEST] = { "Top customers by predicted CLV", "预测终身价值最高的客户" },
	[CW_FADING] = { "Valuable customers probably lost (P(alive) under 50%)", "可能已流失的高价值客户（存活概率低于 50%）" },
	[CW_RANK] = { "#", "#" },
	[CW_CUSTOMER] = { "Customer", "客户" },
	[CW_RFM] = { "RFM segment", "RFM 分群" },
	[CW_REPEAT] = { "Repeat purchases", "复购次数" },
	[CW_ALIVE] = { "P(alive)", "存活概率" },
	[CW_EXPECTED] = { "Expected purchases", "预期购买" },
	[CW_CLV] = { "Predicted CLV", "预测终身价值" },
	[CW_REV12] = { "Revenue, 12 months", "近 12 个月收入" },
	[CW_BEST_NOTE] = { "The %zu of %zu modelled customers with the highest predicted CLV.",
			   "%zu 位建模客户中预测终身价值最高的 %zu 位。" },
	[CW_FADING_NOTE] = { "The %zu of %zu customers with P(alive) under 50%% with the most revenue over the last 12 months.",
			     "存活概率低于 50%% 的 %zu 位客户中，近 12 个月收入最高的 %zu 位。" },
	[CW_NO_CUSTOMERS] = { "No per-customer predictions for this period.", "本期无客户级预测。" },
	[CW_NO_FADING] = { "No modelled customer has P(alive) under 50%.", "没有存活概率低于 50% 的建模客户。" },
	[CW_MONTHS] = { "next %d months", "未来 %d 个月" },
	[CW_HORIZON] = { "the model's horizon", "模型预测期" },
};

#define CW(o, w) (cw[w][(o)->lang])

/* The model's horizon in months: the largest k of the period's forecast rows, 0 when none. */
static int horizon(const struct mtab *t, int period)
{
	long k[FORECAST_MAX];
	double v[FORECAST_MAX];
	size_t n = mtab_series(t, period, "clv_forecast_purchases", "all", "", k, v, FORECAST_MAX);

	return n ? (int)k[n - 1] : 0;
}

/* The value at k of a k series, or 0 when absent. */
static int series_at(const struct mtab *t, int period, const char *metric, long want, double *out)
{
	long k[FORECAST_MAX];
	double v[FORECAST_MAX];
	size_t n = mtab_series(t, period, metric, "all", "", k, v, FORECAST_MAX), i;

	for (i = 0; i < n; i++)
		if (k[i] == want) {
			*out = v[i];
			return 1;
		}
	return 0;
}

/* Three big figures: mean CLV, P(alive) and expected purchases per modelled customer. */
static void headline(struct pdf *p, const struct rep_opts *o, const struct mtab *t, int h)
{
	static const char *const ids[3] = { "clv_predicted", "p_alive", "expected_purchases" };
	static const enum cw label[3] = { CW_MEAN_CLV, CW_MEAN_ALIVE, CW_MEAN_EXP };
	static const enum cw note[3] = { CW_NOTE_CLV, CW_NOTE_ALIVE, CW_NOTE_EXP };
	static const enum fmt_kind kind[3] = { FMT_MONEY, FMT_PERCENT, FMT_DECIMAL };
	const float gap = 14, w = (REP_CONTENT_W - 2 * gap) / 3;
	char span[40], lab[160], buf[FMT_MAX], line[200];
	double v, num, den;
	int i;

	if (h > 0)
		snprintf(span, sizeof(span), CW(o, CW_MONTHS), h);
	else
		snprintf(span, sizeof(span), "%s", CW(o, CW_HORIZON));
	pdf_need(p, 62 + 14);
	for (i = 0; i < 3; i++) {
		snprintf(lab, sizeof(lab), CW(o, label[i]), span);
		if (mtab_get(t, o->period, ids[i], "all", "", &v))
			fmt_value(buf, sizeof(buf), kind[i], v, o->currency);
		else
			snprintf(buf, sizeof(buf), "%s", rep_na(o));
		rep_big_figure(p, PDF_MARGIN + (w + gap) * (float)i, p->y, w, lab, buf, CW(o, note[i]));
	}
	p->y -= 60;
	if (mtab_get_ratio(t, o->period, "clv_predicted", "all", "", &num, &den)) {
		fmt_value(buf, sizeof(buf), FMT_COUNT, den, NULL);
		snprintf(line, sizeof(line), CW(o, CW_MODELLED), buf);
		rep_note(p, line);
	}
}

/* A parameter as the tables show it: 4 decimals, the log-likelihood 2, thousands separated. */
static void param_text(char *buf, size_t n, const struct mtab *t, int period, const char *id, int ll,
		       const struct rep_opts *o)
{
	double v;

	if (mtab_get(t, period, id, "all", "", &v))
		fmt_thousands(buf, n, v, ll ? 2 : 4);
	else
		snprintf(buf, n, "%s", rep_na(o));
}

/* One mini table of name/value pairs at x, width w, from the top y; returns its bottom. */
static float param_table(struct pdf *p, float x, float top, float w, const char *title,
			 const char *const *names, const char *const *values, size_t n)
{
	const float row_h = 14;
	size_t i;

	pdf_fill_rect(p, x, top - 18, w, 18, PDF_ACCENT);
	pdf_text_fit(p, x + 6, top - 12, w - 12, title, 8.5f, 1, PDF_LEFT, PDF_WHITE);
	top -= 18;
	for (i = 0; i < n; i++) {
		if (i % 2)
			pdf_fill_rect(p, x, top - row_h, w, row_h, PDF_LIGHT);
		pdf_text_fit(p, x + 6, top - row_h + 4, w / 2 - 8, names[i], 8.5f, 0, PDF_LEFT, PDF_GREY);
		pdf_text_fit(p, x + w - 6, top - row_h + 4, w / 2 - 8, values[i], 9, 0, PDF_RIGHT, PDF_INK);
		top -= row_h;
	}
	pdf_line(p, x, top, x + w, top, 0.8f, PDF_RULE);
	return top;
}

static void parameters(struct pdf *p, const struct rep_opts *o, const struct mtab *t)
{
	static const char *const bg_ids[5] = { "bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "bgnbd_ll" };
	static const char *const gg_ids[4] = { "gg_p", "gg_q", "gg_gamma", "gg_ll" };
	const char *bg_names[5] = { "r", "alpha", "a", "b", CW(o, CW_LL) };
	const char *gg_names[4] = { "p", "q", "gamma", CW(o, CW_LL) };
	char bg_txt[5][FMT_MAX], gg_txt[4][FMT_MAX];
	const char *bg_val[5], *gg_val[4];
	const float gap = 14, w = (REP_CONTENT_W - gap) / 2;
	float b1, b2;
	double v;
	int i;

	for (i = 0; i < 5; i++) {
		param_text(bg_txt[i], FMT_MAX, t, o->period, bg_ids[i], i == 4, o);
		bg_val[i] = bg_txt[i];
	}
	for (i = 0; i < 4; i++) {
		param_text(gg_txt[i], FMT_MAX, t, o->period, gg_ids[i], i == 3, o);
		gg_val[i] = gg_txt[i];
	}
	rep_subhead(p, CW(o, CW_PARAMS), 18 + 5 * 14 + 16);
	b1 = param_table(p, PDF_MARGIN, p->y, w, CW(o, CW_BGNBD), bg_names, bg_val, 5);
	b2 = param_table(p, PDF_MARGIN + w + gap, p->y, w, CW(o, CW_GG), gg_names, gg_val, 4);
	p->y = (b1 < b2 ? b1 : b2) - 2;
	/* a null parameter row means compute tried and the fit was impossible */
	if (!mtab_get(t, o->period, "bgnbd_r", "all", "", &v) || !mtab_get(t, o->period, "gg_p", "all", "", &v))
		rep_note(p, CW(o, CW_FIT_FAILED));
}

/*
 * The holdout: h = the largest h <= 12 for which month P-h has the model's
 * forecast. predicted(k) = clv_forecast_purchases of P-h at k, actual(k) =
 * clv_holdout_actual of P-h+k at k (months P-h+1 .. P-h+k, customers
 * modelled at P-h), for k = 1..h. Returns h, 0 when there is none.
 */
static int holdout(const struct mtab *t, int period, double *pred, int *has_p, double *act,
		   int *has_a)
{
	int h, k;

	for (h = HOLDOUT_MAX; h >= 1; h--)
		if (horizon(t, period - h) > 0)
			break;
	for (k = 1; k <= h; k++) {
		has_p[k - 1] = series_at(t, period - h, "clv_forecast_purchases", k, &pred[k - 1]);
		has_a[k - 1] = series_at(t, period - h + k, "clv_holdout_actual", k, &act[k - 1]);
	}
	return h;
}

/* A key entry: a swatch (dashed or solid) and its text; returns the x after it. */
static float key_entry(struct pdf *p, float x, float y, struct pdf_rgb c, int dashed, const char *text)
{
	if (dashed) {
		HPDF_Page_SetDash(p->page, (const HPDF_UINT16[]){ 4, 2 }, 2, 0);
		pdf_line(p, x, y + 3, x + 18, y + 3, 1.6f, c);
		HPDF_Page_SetDash(p->page, NULL, 0, 0);
	} else {
		pdf_line(p, x, y + 3, x + 18, y + 3, 1.6f, c);
	}
	pdf_text(p, x + 23, y, text, 8, 0, PDF_LEFT, PDF_INK);
	return x + 23 + pdf_text_width(p, text, 8, 0) + 18;
}

static void holdout_chart(struct pdf *p, const struct rep_opts *o, const struct mtab *t)
{
	const float chart_h = 140;
	double pred[HOLDOUT_MAX], act[HOLDOUT_MAX], num, den;
	int has_p[HOLDOUT_MAX], has_a[HOLDOUT_MAX], h, k, last = -1;
	char labels[HOLDOUT_MAX][PERIOD_TEXT_MAX], fitted[PERIOD_TEXT_MAX], cnt[FMT_MAX];
	char a_txt[FMT_MAX], p_txt[FMT_MAX], line[300];
	const char *lp[HOLDOUT_MAX];
	struct chart_series cs[2];
	struct chart_style st[2] = { { PDF_ACCENT, 1 }, { { 0.90f, 0.49f, 0.13f }, 0 } };
	float x;

	h = holdout(t, o->period, pred, has_p, act, has_a);
	rep_subhead(p, CW(o, CW_HOLDOUT), h ? chart_h + 40 : 14);
	if (!h) {
		rep_note(p, CW(o, CW_NO_HOLDOUT));
		return;
	}
	period_format(o->period - h, fitted);
	cnt[0] = '\0';
	if (mtab_get_ratio(t, o->period - h, "clv_predicted", "all", "", &num, &den))
		fmt_value(cnt, sizeof(cnt), FMT_COUNT, den, NULL);
	snprintf(line, sizeof(line), CW(o, CW_HOLDOUT_NOTE), fitted, *cnt ? cnt : "?", h);
	rep_note(p, line);
	for (k = 0; k < h; k++) {
		period_format(o->period - h + k + 1, labels[k]);
		lp[k] = labels[k];
		if (has_p[k] && has_a[k])
			last = k;
	}
	for (k = 0; k < 2; k++) {
		cs[k].n = (size_t)h;
		cs[k].xlabels = lp;
		cs[k].y = k ? act : pred;
		cs[k].has = k ? has_a : has_p;
		cs[k].kind = FMT_COUNT;
		cs[k].currency = NULL;
	}
	chart_lines(p, PDF_MARGIN, p->y - chart_h, REP_CONTENT_W, chart_h, cs, st, 2);
	p->y -= chart_h + 14;
	/* the key, with the last month both lines have */
	x = key_entry(p, PDF_MARGIN + 30, p->y, st[0].color, 1, CW(o, CW_PREDICTED));
	x = key_entry(p, x, p->y, st[1].color, 0, CW(o, CW_ACTUAL));
	if (last >= 0) {
		int sign;
		char chg[FMT_MAX];

		fmt_thousands(p_txt, sizeof(p_txt), pred[last], 1);
		fmt_value(a_txt, sizeof(a_txt), FMT_COUNT, act[last], NULL);
		fmt_change(chg, sizeof(chg), FMT_COUNT, act[last], pred[last], &sign);
		snprintf(line, sizeof(line), "%s: %s %s, %s %s (%s)", labels[last], CW(o, CW_PREDICTED),
			 p_txt, CW(o, CW_ACTUAL), a_txt, chg);
		pdf_text_fit(p, x, p->y, PDF_MARGIN + REP_CONTENT_W - x, line, 8, 1, PDF_LEFT, PDF_INK);
	}
	p->y -= 12;
}

/* The customers with the highest predicted CLV. */
static void best_table(struct pdf *p, const struct rep_opts *o, const struct mtab_clv_lists *l)
{
	static const struct rep_col cols[7] = {
		{ 24, PDF_LEFT }, { 84, PDF_LEFT }, { 90, PDF_LEFT }, { 82, PDF_RIGHT },
		{ 60, PDF_RIGHT }, { 88, PDF_RIGHT }, { 0, PDF_RIGHT }
	};
	struct rep_col c[7];
	const char *head[7] = { CW(o, CW_RANK), CW(o, CW_CUSTOMER), CW(o, CW_RFM), CW(o, CW_REPEAT),
				CW(o, CW_ALIVE), CW(o, CW_EXPECTED), CW(o, CW_CLV) };
	char b[5][FMT_MAX], line[300];
	double col_max = 0;
	size_t i;

	memcpy(c, cols, sizeof(c));
	c[6].w = REP_CONTENT_W - (24 + 84 + 90 + 82 + 60 + 88);
	rep_subhead(p, CW(o, CW_BEST), l->n_best ? rep_grid_height(l->n_best) + 14 : 14);
	if (!l->n_best) {
		rep_note(p, CW(o, CW_NO_CUSTOMERS));
		return;
	}
	for (i = 0; i < l->n_best; i++)
		col_max = fmax(col_max, fabs(l->best[i].clv));
	rep_grid_head(p, c, 7, head);
	for (i = 0; i < l->n_best; i++) {
		const struct mtab_clv_customer *k = &l->best[i];
		const char *cells[7];

		snprintf(b[0], FMT_MAX, "%zu", i + 1);
		fmt_value(b[1], FMT_MAX, FMT_COUNT, k->x, NULL);
		fmt_value(b[2], FMT_MAX, FMT_PERCENT, k->p_alive, NULL);
		fmt_value(b[3], FMT_MAX, FMT_DECIMAL, k->expected, NULL);
		fmt_value_col(b[4], FMT_MAX, FMT_MONEY, k->clv, col_max, o->currency);
		cells[0] = b[0];
		cells[1] = k->id;
		cells[2] = rep_segment_label(o, "rfm", k->segment);
		cells[3] = b[1];
		cells[4] = b[2];
		cells[5] = b[3];
		cells[6] = b[4];
		rep_grid_row(p, c, 7, cells, i, NULL);
	}
	rep_grid_end(p);
	if (o->lang == TPL_ZH)
		snprintf(line, sizeof(line), CW(o, CW_BEST_NOTE), l->modelled, l->n_best);
	else
		snprintf(line, sizeof(line), CW(o, CW_BEST_NOTE), l->n_best, l->modelled);
	rep_note(p, line);
}

/* Customers with P(alive) under 50%, by revenue over 12 months: valuable and probably gone. */
static void fading_table(struct pdf *p, const struct rep_opts *o, const struct mtab_clv_lists *l)
{
	static const struct rep_col cols[6] = {
		{ 24, PDF_LEFT }, { 110, PDF_LEFT }, { 105, PDF_LEFT }, { 90, PDF_RIGHT },
		{ 70, PDF_RIGHT }, { 0, PDF_RIGHT }
	};
	struct rep_col c[6];
	const char *head[6] = { CW(o, CW_RANK), CW(o, CW_CUSTOMER), CW(o, CW_RFM), CW(o, CW_REV12),
				CW(o, CW_ALIVE), CW(o, CW_CLV) };
	struct pdf_rgb ink[6];
	char b[4][FMT_MAX], line[300];
	double rev_max = 0, clv_max = 0;
	size_t i;

	memcpy(c, cols, sizeof(c));
	c[5].w = REP_CONTENT_W - (24 + 110 + 105 + 90 + 70);
	rep_subhead(p, CW(o, CW_FADING), l->n_fading ? rep_grid_height(l->n_fading) + 14 : 14);
	if (!l->n_fading) {
		rep_note(p, CW(o, l->modelled ? CW_NO_FADING : CW_NO_CUSTOMERS));
		return;
	}
	for (i = 0; i < l->n_fading; i++) {
		rev_max = fmax(rev_max, fabs(l->fading[i].revenue_12m));
		clv_max = fmax(clv_max, fabs(l->fading[i].clv));
	}
	for (i = 0; i < 6; i++)
		ink[i] = i == 4 ? PDF_BAD : PDF_INK; /* P(alive) is why they are listed */
	rep_grid_head(p, c, 6, head);
	for (i = 0; i < l->n_fading; i++) {
		const struct mtab_clv_customer *k = &l->fading[i];
		const char *cells[6];

		snprintf(b[0], FMT_MAX, "%zu", i + 1);
		fmt_value_col(b[1], FMT_MAX, FMT_MONEY, k->revenue_12m, rev_max, o->currency);
		fmt_value(b[2], FMT_MAX, FMT_PERCENT, k->p_alive, NULL);
		fmt_value_col(b[3], FMT_MAX, FMT_MONEY, k->clv, clv_max, o->currency);
		cells[0] = b[0];
		cells[1] = k->id;
		cells[2] = rep_segment_label(o, "rfm", k->segment);
		cells[3] = b[1];
		cells[4] = b[2];
		cells[5] = b[3];
		rep_grid_row(p, c, 6, cells, i, ink);
	}
	rep_grid_end(p);
	if (o->lang == TPL_ZH)
		snprintf(line, sizeof(line), CW(o, CW_FADING_NOTE), l->fading_all, l->n_fading);
	else
		snprintf(line, sizeof(line), CW(o, CW_FADING_NOTE), l->n_fading, l->fading_all);
	rep_note(p, line);
}

/* 1 when compute wrote any of the model's rows for the period (even null ones). */
static int has_model_rows(const struct mtab *t, int period)
{
	return mtab_has(t, period, "bgnbd_r", "all", "") ||
	       mtab_has(t, period, "clv_predicted", "all", "");
}

int rep_clv_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
		    const struct mtab *t, struct rep_cust *cust, struct crm_err *e)
{
	struct mtab_clv_lists l;
	size_t rows = s->rows > 0 ? (size_t)s->rows : 1;
	int rc;

	if (!has_model_rows(t, o->period)) {
		rep_section_title(p, s->title[o->lang], 20);
		pdf_text_fit(p, PDF_MARGIN, p->y - 10, REP_CONTENT_W, CW(o, CW_NONE), 9, 0, PDF_LEFT, PDF_GREY);
		p->y -= 24;
		return 0;
	}
	if ((rc = rep_cust_lists(cust, o, e)))
		return rc;
	/* the lists are REP_LIST_MAX long, sorted: this section shows their first rows */
	l = cust->clv;
	if (l.n_best > rows)
		l.n_best = rows;
	if (l.n_fading > rows)
		l.n_fading = rows;
	rep_section_title(p, s->title[o->lang], 62 + 14);
	headline(p, o, t, horizon(t, o->period));
	parameters(p, o, t);
	holdout_chart(p, o, t);
	best_table(p, o, &l);
	fading_table(p, o, &l);
	p->y -= 6;
	return 0;
}
