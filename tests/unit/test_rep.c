/*
 * test_rep.c - unit tests of the report layout's statistics: which changes
 * the scorecard greys out as noise (the 95% Wilson score interval of
 * METRICS.md), and the ratio columns of the metrics table it reads; the
 * helpers of the built-in sections (heatmap colours, day ticks, NPS
 * composition, k series, the at-risk customers) and a render of every
 * built-in section with no data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "err.h"
#include "mtab.h"
#include "period.h"
#include "rep.h"
#include "rep_seg.h"

static void wilson(void **state)
{
	(void)state;
	/* 103 / 2500 = 4.12%: the interval is about 3.41% .. 4.97% */
	assert_true(rep_within_wilson(103, 2500, 0.0412));
	assert_true(rep_within_wilson(103, 2500, 0.0345));
	assert_true(rep_within_wilson(103, 2500, 0.0495));
	assert_false(rep_within_wilson(103, 2500, 0.0335));
	assert_false(rep_within_wilson(103, 2500, 0.0520));
	/* small samples are wide: 1 / 10 covers 30% */
	assert_true(rep_within_wilson(1, 10, 0.30));
	/* 0 of n still has an interval above zero */
	assert_true(rep_within_wilson(0, 50, 0.03));
	assert_false(rep_within_wilson(0, 50, 0.10));
	/* undefined: no denominator, negative or over-full numerators */
	assert_false(rep_within_wilson(0, 0, 0));
	assert_false(rep_within_wilson(-5, 100, 0));
	assert_false(rep_within_wilson(120, 100, 1));
}

static void ratios(void **state)
{
	static const char csv[] =
		"period,metric,dim,segment,k,value,numerator,denominator\n"
		"2025-06,churn_rate,all,,,0.0412,103,2500\n"
		"2025-06,revenue,all,,,1284530.25,,\n";
	struct mtab *t = mtab_new();
	struct crm_err e = { 0 };
	double num, den;
	int p;

	(void)state;
	assert_int_equal(period_parse("2025-06", "p", &p, &e), 0);
	assert_int_equal(mtab_load_text(t, csv, sizeof(csv) - 1, "m.csv", p, NULL, &e), 0);
	assert_int_equal(mtab_get_ratio(t, p, "churn_rate", "all", "", &num, &den), 1);
	assert_true(num == 103 && den == 2500);
	assert_int_equal(mtab_get_ratio(t, p, "revenue", "all", "", &num, &den), 0);
	assert_int_equal(mtab_get_ratio(t, p, "nps", "all", "", &num, &den), 0);
	mtab_free(t);
}

static void heat_scale(void **state)
{
	struct pdf_rgb lo, mid, hi, c;
	int dark = -1;

	(void)state;
	lo = chart_heat(0, &dark);
	assert_int_equal(dark, 0);
	hi = chart_heat(1, &dark);
	assert_int_equal(dark, 1);
	/* the top of the scale is the accent; below 0 and above 1 clamp */
	assert_true(fabsf(hi.r - PDF_ACCENT.r) < 1e-6f && fabsf(hi.g - PDF_ACCENT.g) < 1e-6f &&
		    fabsf(hi.b - PDF_ACCENT.b) < 1e-6f);
	c = chart_heat(-3, NULL);
	assert_true(c.r == lo.r && c.g == lo.g && c.b == lo.b);
	c = chart_heat(7, NULL);
	assert_true(c.r == hi.r && c.g == hi.g && c.b == hi.b);
	c = chart_heat(0.0 / 0.0, &dark); /* NaN is the bottom */
	assert_true(c.r == lo.r && dark == 0);
	/* monotone, darker as the share grows; white text from 55% */
	mid = chart_heat(0.5, &dark);
	assert_int_equal(dark, 0);
	assert_true(mid.r < lo.r && mid.r > hi.r && mid.g < lo.g && mid.g > hi.g);
	chart_heat(0.55, &dark);
	assert_int_equal(dark, 1);
	/* distinct curve colours */
	c = chart_palette(1);
	assert_false(c.r == chart_palette(0).r && c.g == chart_palette(0).g);
	c = chart_palette(9);
	assert_true(c.r == chart_palette(1).r && c.g == chart_palette(1).g);
}

static void day_ticks(void **state)
{
	int step;

	(void)state;
	/* compute's survival days: 30 .. 780 -> every 180 days, 0..900 */
	assert_int_equal(chart_day_ticks(780, &step), 6);
	assert_int_equal(step, 180);
	assert_int_equal(chart_day_ticks(730, &step), 6);
	assert_int_equal(step, 180);
	assert_int_equal(chart_day_ticks(720, &step), 9); /* 8 intervals of 90 days */
	assert_int_equal(step, 90);
	/* short histories tick monthly, exactly covering the last day */
	assert_int_equal(chart_day_ticks(90, &step), 4);
	assert_int_equal(step, 30);
	assert_int_equal(chart_day_ticks(240, &step), 9);
	assert_int_equal(step, 30);
	assert_int_equal(chart_day_ticks(270, &step), 6);
	assert_int_equal(step, 60);
	/* long ones by years; nothing at all still gives an axis */
	assert_int_equal(chart_day_ticks(2900, &step), 9);
	assert_int_equal(step, 365);
	assert_int_equal(chart_day_ticks(0, &step), 2);
	assert_int_equal(step, 30);
	assert_int_equal(chart_day_ticks(-5, &step), 2);
}

static void nps_counts(void **state)
{
	double p, d;

	(void)state;
	/* the small fixture's 2025-12: NPS 33.3 = (6 - 2) / 12, margin 42.17... */
	assert_int_equal(rep_nps_counts(4, 12, 42.17248532536965, &p, &d), 1);
	assert_true(p == 6 && d == 2);
	/* METRICS.md's 70% - 10% = 60 on 10 answers: 7 promoters, 1 detractor */
	{
		double moe = 196 * sqrt((0.7 + 0.1 - 0.36) / 10);

		assert_int_equal(rep_nps_counts(6, 10, moe, &p, &d), 1);
		assert_true(p == 7 && d == 1);
	}
	/* all promoters: no margin at all */
	assert_int_equal(rep_nps_counts(5, 5, 0, &p, &d), 1);
	assert_true(p == 5 && d == 0);
	/* a margin that matches no whole counts, or nonsense, gives none */
	assert_int_equal(rep_nps_counts(4, 12, 40.0, &p, &d), 0);
	assert_int_equal(rep_nps_counts(4, 0, 10, &p, &d), 0);
	assert_int_equal(rep_nps_counts(13, 12, 10, &p, &d), 0);
	assert_int_equal(rep_nps_counts(4, 12, -1, &p, &d), 0);
}

static void k_series(void **state)
{
	static const char csv[] =
		"period,metric,dim,segment,k,value,numerator,denominator\n"
		"2025-12,cohort_retained_share,cohort,2025-11,0,0.95,21,22\n"
		"2025-12,cohort_retained_share,cohort,2025-11,1,0.90,20,22\n"
		"2025-12,cohort_retained_share,cohort,2025-12,0,1,20,20\n"
		"2025-12,survival,all,,30,0.98,,\n"
		"2025-12,survival,all,,60,,,\n"
		"2025-12,survival,all,,90,0.78,,\n"
		"2025-12,survival,channel,web,30,1,,\n";
	struct mtab *t = mtab_new();
	struct crm_err e = { 0 };
	const char *segs[4];
	long k[8];
	double v[8];
	int p;

	(void)state;
	assert_int_equal(period_parse("2025-12", "p", &p, &e), 0);
	assert_int_equal(mtab_load_text(t, csv, sizeof(csv) - 1, "m.csv", p, NULL, &e), 0);
	/* null values are left out; k rows are not plain values */
	assert_int_equal(mtab_series(t, p, "survival", "all", "", k, v, 8), 2);
	assert_true(k[0] == 30 && v[0] == 0.98 && k[1] == 90 && v[1] == 0.78);
	assert_int_equal(mtab_series(t, p, "survival", "all", "", k, v, 1), 1);
	assert_int_equal(mtab_series(t, p - 1, "survival", "all", "", k, v, 8), 0);
	assert_int_equal(mtab_get(t, p, "survival", "all", "", &v[0]), 0);
	assert_int_equal(mtab_k_segments(t, p, "cohort_retained_share", "cohort", segs, 4), 2);
	assert_string_equal(segs[0], "2025-11");
	assert_string_equal(segs[1], "2025-12");
	assert_int_equal(mtab_k_segments(t, p, "survival", "channel", segs, 4), 1);
	assert_string_equal(segs[0], "web");
	mtab_free(t);
}

static void at_risk_list(void **state)
{
	static const char csv[] =
		"customer_id,channel,rfm_segment,recency_days,revenue_12m,extra\r\n"
		"c1,web,at_risk,200,50.00,x\r\n"
		"c2,web,champions,3,9000.00,x\r\n"
		"c3,\"store, big\",cant_lose,90,700.50,x\r\n"
		"c4,web,at_risk,,700.50,x\r\n"
		"c5,web,hibernating,400,800,x\r\n"
		"c0,web,at_risk,120,10,x\r\n";
	struct mtab_customer cs[3];
	struct crm_err e = { 0 };
	size_t n, total;

	(void)state;
	assert_int_equal(mtab_at_risk_text(csv, sizeof(csv) - 1, "c.csv", cs, 3, &n, &total, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(total, 4);
	/* by revenue, ties by id; an empty recency is -1 */
	assert_string_equal(cs[0].id, "c3");
	assert_string_equal(cs[0].segment, "cant_lose");
	assert_int_equal(cs[0].recency_days, 90);
	assert_string_equal(cs[1].id, "c4");
	assert_int_equal(cs[1].recency_days, -1);
	assert_string_equal(cs[2].id, "c1");
	assert_true(cs[2].revenue_12m == 50);
	/* a file without the columns, or a damaged row, is refused */
	assert_int_equal(mtab_at_risk_text("a,b\n1,2\n", 8, "c.csv", cs, 3, &n, &total, &e), CRM_E_CORRUPT);
	assert_non_null(strstr(e.msg, "no column 'customer_id'"));
	{
		static const char bad[] = "customer_id,rfm_segment,recency_days,revenue_12m\nc1,at_risk,9,lots\n";

		memset(&e, 0, sizeof(e));
		assert_int_equal(mtab_at_risk_text(bad, sizeof(bad) - 1, "c.csv", cs, 3, &n, &total, &e),
				 CRM_E_CORRUPT);
		assert_int_equal(e.line, 2);
	}
	memset(&e, 0, sizeof(e));
	assert_int_equal(mtab_at_risk("/nonexistent/c.csv", cs, 3, &n, &total, &e), CRM_E_INPUT);
}

/* The two lists of the clv section: order, ties, unmodelled rows, older files, damage. */
static void clv_lists(void **state)
{
	static const char csv[] =
		"customer_id,rfm_segment,revenue_12m,x,t_x,T,mean_spend,expected_purchases,p_alive,clv_predicted\n"
		"c5,loyal,100.00,3,9,20,10.00,1.5,0.9,50.00\n"
		"c4,at_risk,900.00,2,4,30,20.00,0.2,0.3,12.50\n"
		"c3,none,0.00,,,,,,,\n"
		"c2,loyal,900.00,1,1,40,5.00,0.1,0.2,20.00\n"
		"c1,new,10.00,0,0,2,,0.4,1,50.00\n"
		"c0,hibernating,5000.00,4,8,50,30.00,0.05,0.5,1.00\n";
	/* the same with recency_days, which the at-risk list needs */
	static const char csv_r[] =
		"customer_id,rfm_segment,revenue_12m,x,t_x,T,mean_spend,expected_purchases,p_alive,clv_predicted,recency_days\n"
		"c5,loyal,100.00,3,9,20,10.00,1.5,0.9,50.00,3\n"
		"c4,at_risk,900.00,2,4,30,20.00,0.2,0.3,12.50,200\n"
		"c3,none,0.00,,,,,,,,\n"
		"c2,loyal,900.00,1,1,40,5.00,0.1,0.2,20.00,9\n"
		"c1,new,10.00,0,0,2,,0.4,1,50.00,1\n"
		"c0,hibernating,5000.00,4,8,50,30.00,0.05,0.5,1.00,400\n";
	struct mtab_clv_customer best[2], fading[3];
	struct mtab_clv_lists l;
	struct crm_err e = { 0 };

	(void)state;
	memset(&l, 0, sizeof(l));
	l.best = best;
	l.max_best = 2;
	l.fading = fading;
	l.max_fading = 3;
	assert_int_equal(mtab_clv_lists_text(csv, sizeof(csv) - 1, "c.csv", &l, &e), 0);
	assert_int_equal(l.has_clv, 1);
	assert_int_equal(l.modelled, 5); /* c3 has no purchase */
	/* a tie on clv: the smaller id first */
	assert_int_equal(l.n_best, 2);
	assert_string_equal(best[0].id, "c1");
	assert_string_equal(best[1].id, "c5");
	assert_true(best[1].x == 3 && best[1].p_alive == 0.9 && best[1].expected == 1.5);
	/* p_alive under 0.5 only (c0's 0.5 is not), by revenue then clv */
	assert_int_equal(l.fading_all, 2);
	assert_int_equal(l.n_fading, 2);
	assert_string_equal(fading[0].id, "c2");
	assert_string_equal(fading[1].id, "c4");
	assert_true(fading[0].revenue_12m == 900 && fading[0].clv == 20);

	/* one pass for both lists gives what two separate passes give */
	{
		struct mtab_clv_customer b2[2], f2[3];
		struct mtab_clv_lists l2;
		struct mtab_customer rc_[4], r1[4];
		struct mtab_risk_list risk = { rc_, 4, 0, 0 };
		size_t n1, t1;

		memset(&l2, 0, sizeof(l2));
		l2.best = b2;
		l2.max_best = 2;
		l2.fading = f2;
		l2.max_fading = 3;
		assert_int_equal(mtab_customer_lists_text(csv_r, sizeof(csv_r) - 1, "c.csv", &risk, &l2, &e), 0);
		assert_int_equal(mtab_at_risk_text(csv_r, sizeof(csv_r) - 1, "c.csv", r1, 4, &n1, &t1, &e), 0);
		assert_int_equal(risk.n, n1);
		assert_int_equal(risk.total, t1);
		assert_int_equal(risk.total, 1); /* c4 */
		assert_string_equal(rc_[0].id, "c4");
		assert_int_equal(rc_[0].recency_days, 200);
		assert_int_equal(l2.modelled, l.modelled);
		assert_int_equal(l2.n_best, l.n_best);
		assert_int_equal(l2.n_fading, l.n_fading);
		assert_string_equal(b2[0].id, best[0].id);
		assert_string_equal(b2[1].id, best[1].id);
		assert_true(b2[1].x == best[1].x && b2[1].expected == best[1].expected);
		assert_string_equal(f2[0].id, fading[0].id);
		assert_string_equal(f2[1].id, fading[1].id);
		assert_true(f2[1].revenue_12m == fading[1].revenue_12m);
	}

	/* a file of an older compute: no lists, no error */
	{
		static const char old[] = "customer_id,rfm_segment,revenue_12m\nc1,loyal,5\n";

		assert_int_equal(mtab_clv_lists_text(old, sizeof(old) - 1, "c.csv", &l, &e), 0);
		assert_int_equal(l.has_clv, 0);
		assert_int_equal(l.n_best + l.n_fading + l.modelled, 0);
	}
	/* a damaged number names line and column */
	{
		static const char bad[] =
			"customer_id,rfm_segment,revenue_12m,x,expected_purchases,p_alive,clv_predicted\n"
			"c1,new,1,0,0.4,1,5\n"
			"c2,new,1,0,0.4,likely,5\n";

		memset(&e, 0, sizeof(e));
		assert_int_equal(mtab_clv_lists_text(bad, sizeof(bad) - 1, "c.csv", &l, &e), CRM_E_CORRUPT);
		assert_int_equal(e.line, 3);
		assert_string_equal(e.field, "p_alive");
		assert_int_equal(l.n_best, 0);
	}
}

/* Quarantine rows counted by field and reason, only those of the period's files. */
static void quarantine_reasons(void **state)
{
	static const char csv[] =
		"file,line,field,value,reason\n"
		"in/a.csv,3,amount,abc,not a number\n"
		"in/b.csv,9,amount,x,not a number\n"
		"in/a.csv,7,ordered_at,\"1,2\",expected YYYY-MM-DD\n"
		"in/a.csv,8,amount,,not a number\n"
		"in/c.csv,2,status,odd,unknown status\n";
	const char *files[1] = { "in/a.csv" };
	struct mtab_reason r[1];
	struct mtab_reasons rs = { r, 1, 0, 0, 0 };
	struct mtab_reason r3[3];
	struct mtab_reasons all = { r3, 3, 0, 0, 0 };
	struct crm_err e = { 0 };

	(void)state;
	assert_int_equal(mtab_quarantine_text(csv, sizeof(csv) - 1, "q.csv", files, 1, &rs, &e), 0);
	assert_int_equal(rs.rows, 3);
	assert_int_equal(rs.kinds, 2);
	assert_int_equal(rs.n, 1);
	assert_string_equal(r[0].field, "amount");
	assert_int_equal(r[0].count, 2);
	assert_string_equal(r[0].where, "in/a.csv:3");
	assert_string_equal(r[0].value, "abc");
	/* no row of the given files: every row counts */
	files[0] = "in/z.csv";
	assert_int_equal(mtab_quarantine_text(csv, sizeof(csv) - 1, "q.csv", files, 1, &all, &e), 0);
	assert_int_equal(all.rows, 5);
	assert_int_equal(all.n, 3);
	assert_int_equal(r3[0].count, 3);
	/* equal counts keep their first-seen order */
	assert_string_equal(r3[1].field, "ordered_at");
	assert_string_equal(r3[1].value, "1,2");
	assert_string_equal(r3[2].reason, "unknown status");
	/* not a quarantine file */
	assert_int_equal(mtab_quarantine_text("a,b\n", 4, "q.csv", NULL, 0, &all, &e), CRM_E_CORRUPT);
	assert_non_null(strstr(e.msg, "not a quarantine file"));
}

/* A segment's view: its rows become the overall ones, model parameters stay, the rest goes. */
static void segment_view(void **state)
{
	static const char csv[] =
		"period,metric,dim,segment,k,value,numerator,denominator\n"
		"2025-06,bgnbd_r,all,,,0.24,,\n"
		"2025-06,churn_rate,all,,,0.0412,103,2500\n"
		"2025-06,churn_rate,region,East,,0.05,5,100\n"
		"2025-06,churn_rate,region,West,,0.03,3,100\n"
		"2025-06,nps,region,\"East\",,40,,\n"
		"2025-06,survival,region,East,30,0.9,,\n"
		"2025-06,revenue,tier,East,,99,,\n";
	static const char want[] =
		"period,metric,dim,segment,k,value,numerator,denominator\n"
		"2025-06,bgnbd_r,all,,,0.24,,\n"
		"2025-06,churn_rate,all,,,0.05,5,100\n"
		"2025-06,nps,all,,,40,,\n"
		"2025-06,survival,all,,30,0.9,,\n";
	static const char cust[] =
		"customer_id,region,revenue_12m\nc1,East,5\nc2,West,6\n\"c3\",East,7\n";
	struct crm_err e = { 0 };
	struct buf b;
	size_t n;
	char dim[16], value[32];

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mtab_focus_text(csv, sizeof(csv) - 1, "m.csv", "region", "East", &b, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(b.len, sizeof(want) - 1);
	assert_memory_equal(b.data, want, b.len);
	buf_release(&b);
	/* the per-customer file keeps its header and the segment's rows, as written */
	buf_init(&b, 1 << 20);
	assert_int_equal(mtab_filter_customers_text(cust, sizeof(cust) - 1, "c.csv", "region", "East",
						    &b, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(b.len, 53);
	assert_memory_equal(b.data, "customer_id,region,revenue_12m\nc1,East,5\n\"c3\",East,7\n", 53);
	buf_release(&b);
	buf_init(&b, 1 << 20);
	assert_int_equal(mtab_filter_customers_text(cust, sizeof(cust) - 1, "c.csv", "tier", "gold",
						    &b, &n, &e), CRM_E_CORRUPT);
	buf_release(&b);
	/* DIM=VALUE (each refusal into a fresh error: the first error recorded wins) */
	memset(&e, 0, sizeof(e));
	assert_int_equal(rep_segment_parse("region=East", dim, sizeof(dim), value, sizeof(value), &e), 0);
	assert_string_equal(dim, "region");
	assert_string_equal(value, "East");
	assert_int_equal(rep_segment_parse("rfm=at_risk", dim, sizeof(dim), value, sizeof(value), &e), 0);
	assert_string_equal(dim, "rfm");
	assert_int_equal(rep_segment_parse("rfm=a=b", dim, sizeof(dim), value, sizeof(value), &e), 0);
	assert_string_equal(value, "a=b");
	memset(&e, 0, sizeof(e));
	assert_int_equal(rep_segment_parse("region", dim, sizeof(dim), value, sizeof(value), &e), CRM_E_USAGE);
	memset(&e, 0, sizeof(e));
	assert_int_equal(rep_segment_parse("region=", dim, sizeof(dim), value, sizeof(value), &e), CRM_E_USAGE);
	memset(&e, 0, sizeof(e));
	assert_int_equal(rep_segment_parse("cohort=2025-01", dim, sizeof(dim), value, sizeof(value), &e),
			 CRM_E_USAGE);
	memset(&e, 0, sizeof(e));
	assert_int_equal(rep_segment_parse("region=a,b", dim, sizeof(dim), value, sizeof(value), &e),
			 CRM_E_USAGE);
	memset(&e, 0, sizeof(e));
	assert_int_equal(rep_segment_parse("regionx=East", dim, sizeof(dim), value, sizeof(value), &e),
			 CRM_E_USAGE);
}

/* Every built-in section renders from an empty table (each says there is no data). */
static void empty_render(void **state)
{
	static const char tpl_text[] =
		"<report><title lang=\"en\">R</title><title lang=\"zh\">\xe6\x8a\xa5</title>"
#define S(k) "<section " k "><title lang=\"en\">S</title><title lang=\"zh\">\xe8\x8a\x82</title></section>"
		S("kind=\"cohort\"") S("kind=\"funnel\"") S("kind=\"nps\"")
		S("kind=\"survival\" dim=\"rfm\"") S("kind=\"at_risk\"") S("kind=\"clv\"")
		S("kind=\"lineage\"") S("kind=\"definitions\"")
#undef S
		"</report>";
	struct tpl *t = NULL;
	struct mtab *m = mtab_new();
	struct crm_err e = { 0 };
	struct rep_opts o;
	unsigned char *pdf = NULL;
	size_t len = 0;
	int lang;

	(void)state;
	assert_int_equal(tpl_parse(tpl_text, sizeof(tpl_text) - 1, "t.xml", &t, &e), 0);
	for (lang = TPL_EN; lang <= TPL_ZH; lang++) {
		memset(&o, 0, sizeof(o));
		assert_int_equal(period_parse("2025-12", "p", &o.period, &e), 0);
		o.lang = (enum tpl_lang)lang;
		o.currency = "USD";
		o.data_dir = "/nonexistent"; /* no customers file: no data, not an error */
		if (rep_render(t, m, &o, &pdf, &len, &e))
			fail_msg("render: %s", e.msg);
		assert_true(len > 1000 && !memcmp(pdf, "%PDF-", 5));
		free(pdf);
	}
	tpl_free(t);
	mtab_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wilson),
		cmocka_unit_test(ratios),
		cmocka_unit_test(heat_scale),
		cmocka_unit_test(day_ticks),
		cmocka_unit_test(nps_counts),
		cmocka_unit_test(k_series),
		cmocka_unit_test(at_risk_list),
		cmocka_unit_test(clv_lists),
		cmocka_unit_test(quarantine_reasons),
		cmocka_unit_test(segment_view),
		cmocka_unit_test(empty_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
