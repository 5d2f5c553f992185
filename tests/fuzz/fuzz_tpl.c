/*
 * fuzz_tpl.c - libFuzzer target for report templates (report/tpl.c), and
 * for the layout of whatever a template may say (report/rep*.c).
 *
 * Feeds any bytes to tpl_parse() and checks properties, not only "no
 * crash": a failure is a template error (CRM_E_CONFIG) with a message and
 * no template; a success obeys every rule tpl.h promises (both titles,
 * known kinds, bounded counts and attributes, labels for every metric).
 * Parsing twice gives the same outcome. An accepted template is then
 * rendered, in English and Chinese, over a small metrics table with a row
 * for many sections: the render must succeed, give a PDF, and give the
 * same bytes twice (titles and labels are arbitrary UTF-8, or not UTF-8
 * at all, so this exercises text fitting, wrapping and GBK conversion).
 * The seed corpus is tests/fuzz/corpus/tpl/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtab.h"
#include "period.h"
#include "rep.h"
#include "tpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A little of everything the sections look up, for period 2025-06 ... */
static const char metrics_csv[] =
	"period,metric,dim,segment,k,value,numerator,denominator\n"
	"2025-06,bgnbd_r,all,,,0.2426,,\n"
	"2025-06,churn_rate,all,,,0.0412,103,2500\n"
	"2025-06,churn_rate,channel,web,,0.05,5,100\n"
	"2025-06,clv_predicted,all,,,230.37,473640.72,2056\n"
	"2025-06,clv_holdout_actual,all,,1,119,,\n"
	"2025-06,cohort_retained_share,cohort,2025-05,0,1,20,20\n"
	"2025-06,cohort_retained_share,cohort,2025-05,1,0.9,18,20\n"
	"2025-06,customers_end,channel,web,,100,,\n"
	"2025-06,funnel_lead,all,,,1500,,\n"
	"2025-06,funnel_won,all,,,140,,\n"
	"2025-06,nps,all,,,31.7,317,1000\n"
	"2025-06,nps_moe95,all,,,4.9,,\n"
	"2025-06,revenue,all,,,1284530.25,,\n"
	"2025-06,revenue,channel,web,,488121.5,,\n"
	"2025-06,survival,all,,30,0.97,,\n"
	"2025-06,survival,channel,web,30,0.95,,\n";

/* ... and for the month before (changes, trends, the CLV holdout). */
static const char previous_csv[] =
	"period,metric,dim,segment,k,value,numerator,denominator\n"
	"2025-05,clv_forecast_purchases,all,,1,114.9,,\n"
	"2025-05,revenue,all,,,1184530.25,,\n";

/* The metrics table every render reads (a failure here is a bug of this file). */
static struct mtab *metrics(void)
{
	struct mtab *m = mtab_new();
	struct crm_err e = { 0 };
	int p;

	if (!m || period_parse("2025-06", "period", &p, &e) ||
	    mtab_load_text(m, metrics_csv, sizeof(metrics_csv) - 1, "m.csv", p, NULL, &e) ||
	    mtab_load_text(m, previous_csv, sizeof(previous_csv) - 1, "p.csv", p - 1, NULL, &e))
		abort();
	return m;
}

static void check_titles(char *const title[2])
{
	if (!title[TPL_EN] || !title[TPL_ZH] || !*title[TPL_EN] || !*title[TPL_ZH] ||
	    strlen(title[TPL_EN]) > 200 || strlen(title[TPL_ZH]) > 200)
		abort();
}

static void check_ok(const struct tpl *t)
{
	size_t i, j;

	check_titles(t->title);
	if (t->n_sections < 1 || t->n_sections > TPL_MAX_SECTIONS || !t->path)
		abort();
	for (i = 0; i < t->n_sections; i++) {
		const struct tpl_section *s = &t->sections[i];
		int listed = s->kind == TPL_KPI || s->kind == TPL_TREND || s->kind == TPL_TABLE;

		check_titles(s->title);
		if ((unsigned)s->kind >= TPL_N_KINDS || s->months < 2 || s->months > 36 ||
		    s->rows < 1 || s->rows > 40 || (listed && s->n_metrics < 1) ||
		    (!listed && s->n_metrics) || s->n_metrics > TPL_MAX_METRICS ||
		    (s->kind == TPL_TABLE && !s->dim) ||
		    (s->dim && s->kind != TPL_TABLE && s->kind != TPL_SURVIVAL))
			abort();
		for (j = 0; j < s->n_metrics; j++) {
			const struct tpl_metric *m = &s->metrics[j];

			if (!m->id || !m->label[TPL_EN] || !m->label[TPL_ZH] ||
			    (unsigned)m->format > FMT_DAYS || (unsigned)m->good > TPL_GOOD_NONE)
				abort();
		}
	}
}

/* Two parses of the same bytes describe the same report. */
static void check_same(const struct tpl *a, const struct tpl *b)
{
	size_t i, j;

	if (a->n_sections != b->n_sections || strcmp(a->title[0], b->title[0]) ||
	    strcmp(a->title[1], b->title[1]))
		abort();
	for (i = 0; i < a->n_sections; i++) {
		const struct tpl_section *x = &a->sections[i], *y = &b->sections[i];

		if (x->kind != y->kind || x->n_metrics != y->n_metrics || x->rows != y->rows ||
		    x->months != y->months || x->new_page != y->new_page || !x->dim != !y->dim ||
		    (x->dim && strcmp(x->dim, y->dim)))
			abort();
		for (j = 0; j < x->n_metrics; j++)
			if (strcmp(x->metrics[j].id, y->metrics[j].id) ||
			    x->metrics[j].format != y->metrics[j].format)
				abort();
	}
}

static void render(const struct tpl *t, const struct mtab *m, int lang)
{
	struct rep_opts o;
	struct crm_err e = { 0 };
	unsigned char *pdf = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	memset(&o, 0, sizeof(o));
	if (period_parse("2025-06", "period", &o.period, &e))
		abort();
	o.lang = (enum tpl_lang)lang;
	o.title = "Fuzz";
	o.currency = "USD";
	o.created = 1751349600;
	o.data_dir = NULL; /* no per-customer file, lineage or quarantine: no file system */
	if (rep_render(t, m, &o, &pdf, &len, &e) || len < 5 || memcmp(pdf, "%PDF-", 5))
		abort();
	if (lang == TPL_EN) {
		if (rep_render(t, m, &o, &again, &len2, &e) || len2 != len || memcmp(pdf, again, len))
			abort();
		free(again);
	}
	free(pdf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crm_err e = { 0 }, e2 = { 0 };
	struct tpl *t = NULL, *t2 = NULL;
	struct mtab *m;
	int rc, rc2;

	rc = tpl_parse((const char *)data, size, "fuzz.xml", &t, &e);
	if (rc == 0) {
		if (!t || e.code != 0)
			abort();
		check_ok(t);
	} else if (t || rc != e.code || (rc != CRM_E_CONFIG && rc != CRM_E_NOMEM) || !e.msg[0]) {
		abort();
	}
	rc2 = tpl_parse((const char *)data, size, "fuzz.xml", &t2, &e2);
	if (rc2 != rc || e2.line != e.line || strcmp(e2.msg, e.msg) != 0)
		abort();
	if (rc == 0) {
		check_same(t, t2);
		m = metrics();
		render(t, m, TPL_EN);
		render(t, m, TPL_ZH);
		mtab_free(m);
	}
	tpl_free(t);
	tpl_free(t2);
	return 0;
}
