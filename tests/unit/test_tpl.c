/*
 * test_tpl.c - unit tests of the report template parser: the shipped
 * templates load, every validation rule refuses with the right line and
 * wording, defaults and overrides of metrics, and libxml2 never reaches
 * out (no external entities, no DTD).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tpl.h"

#define HEAD "<report><title lang=\"en\">R</title><title lang=\"zh\">\xe6\x8a\xa5</title>\n"
#define TITLES "<title lang=\"en\">S</title><title lang=\"zh\">\xe8\x8a\x82</title>"

static int parse(const char *text, struct tpl **t, struct crm_err *e)
{
	memset(e, 0, sizeof(*e));
	return tpl_parse(text, strlen(text), "t.xml", t, e);
}

/* text must be refused as CRM_E_CONFIG on `line` with `msg` in the message. */
static void refused(const char *text, long line, const char *msg)
{
	struct tpl *t = (struct tpl *)1;
	struct crm_err e;

	assert_int_equal(parse(text, &t, &e), CRM_E_CONFIG);
	assert_null(t);
	assert_string_equal(e.where, "t.xml");
	if (!strstr(e.msg, msg) || e.line != line)
		fail_msg("got '%s' on line %ld, expected '%s' on line %ld", e.msg, e.line, msg, line);
}

static void shipped_templates(void **state)
{
	static const char *const files[] = { "templates/executive.xml", "templates/full.xml", NULL };
	size_t i;

	(void)state;
	for (i = 0; files[i]; i++) {
		struct tpl *t = NULL;
		struct crm_err e = { 0 };

		if (tpl_load(files[i], &t, &e))
			fail_msg("%s: %s (line %ld)", files[i], e.msg, e.line);
		assert_true(t->n_sections >= 3);
		assert_non_null(t->title[TPL_ZH]);
		assert_int_equal(t->sections[0].kind, TPL_KPI);
		assert_true(t->sections[0].n_metrics >= 6);
		if (i == 1) { /* full.xml: every kind of section */
			int seen[TPL_N_KINDS] = { 0 };
			size_t j;

			for (j = 0; j < t->n_sections; j++)
				seen[t->sections[j].kind] = 1;
			for (j = 0; j < TPL_N_KINDS; j++)
				if (!seen[j])
					fail_msg("full.xml lacks a section of kind %zu", j);
		}
		tpl_free(t);
	}
}

static void minimal_and_defaults(void **state)
{
	struct tpl *t = NULL;
	struct crm_err e;
	const struct tpl_section *s;

	(void)state;
	assert_int_equal(parse(HEAD "<section kind=\"kpi\">" TITLES
				    "<metric id=\"churn_rate\"/>"
				    "<metric id=\"nps\" good=\"none\" en=\"Net score\" zh=\"\xe5\x88\x86\"/>"
				    "<metric id=\"my_metric\" format=\"money\" en=\"Mine\" zh=\"\xe6\x88\x91\"/>"
				    "</section>"
				    "<section kind=\"trend\" months=\"24\" page=\"new\">" TITLES
				    "<metric id=\"revenue\"/></section>"
				    "<section kind=\"table\" dim=\"region\">" TITLES
				    "<metric id=\"revenue\"/></section>"
				    "<!-- a comment --></report>",
			       &t, &e), 0);
	assert_int_equal(t->n_sections, 3);
	s = &t->sections[0];
	assert_int_equal(s->n_metrics, 3);
	assert_string_equal(s->metrics[0].label[TPL_EN], "Churn rate");
	assert_string_equal(s->metrics[0].label[TPL_ZH], "\xe6\xb5\x81\xe5\xa4\xb1\xe7\x8e\x87");
	assert_int_equal(s->metrics[0].format, FMT_PERCENT);
	assert_int_equal(s->metrics[0].good, TPL_GOOD_DOWN);
	assert_string_equal(s->metrics[1].label[TPL_EN], "Net score");
	assert_int_equal(s->metrics[1].format, FMT_NPS);
	assert_int_equal(s->metrics[1].good, TPL_GOOD_NONE);
	assert_int_equal(s->metrics[2].format, FMT_MONEY);
	assert_int_equal(t->sections[1].months, 24);
	assert_int_equal(t->sections[1].new_page, 1);
	assert_int_equal(t->sections[2].kind, TPL_TABLE);
	assert_string_equal(t->sections[2].dim, "region");
	assert_int_equal(t->sections[0].months, 12);
	tpl_free(t);
	tpl_free(NULL);
}

static void refusals(void **state)
{
	(void)state;
	refused("", 1, "not well-formed XML");
	refused("<report>\n<title lang=\"en\">x</title>\n</repor>", 3, "not well-formed XML");
	refused("<rapport/>", 1, "the root element must be <report>");
	refused(HEAD "<section kind=\"pie\">" TITLES "</section></report>", 2, "unknown section kind 'pie'");
	refused(HEAD "<section>" TITLES "</section></report>", 2, "needs kind=");
	refused(HEAD "\n<section kind=\"kpi\">" TITLES "\n<metric id=\"churn_rat\"/></section></report>",
		4, "unknown metric 'churn_rat' (did you mean 'churn_rate'?)");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<metric id=\"zzz_qqq\"/></section></report>", 2,
		"unknown metric 'zzz_qqq' (give en, zh and format");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<metric id=\"nps\" fromat=\"nps\"/></section></report>",
		2, "unknown attribute 'fromat' of <metric> (did you mean 'format'?)");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<metric id=\"nps\" format=\"pct\"/></section></report>",
		2, "unknown format 'pct'");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<metric id=\"nps\" good=\"left\"/></section></report>",
		2, "good must be up, down or none");
	refused(HEAD "<section kind=\"kpi\"><title lang=\"en\">S</title><metric id=\"nps\"/></section></report>",
		2, "<section> lacks a <title lang=\"zh\">");
	refused("<report><title lang=\"zh\">x</title>\n<section kind=\"kpi\">" TITLES "<metric id=\"nps\"/></section></report>",
		1, "<report> lacks a <title lang=\"en\">");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<title lang=\"fr\">T</title></section></report>", 2,
		"unknown language 'fr'");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<title lang=\"en\">T</title></section></report>", 2,
		"a second <title> in en");
	refused(HEAD "<section kind=\"kpi\">" TITLES "</section></report>", 2, "at least one <metric>");
	refused(HEAD "</report>", 1, "at least one <section>");
	refused(HEAD "<section kind=\"table\">" TITLES "<metric id=\"nps\"/></section></report>", 2,
		"a table section needs dim=");
	refused(HEAD "<section kind=\"table\" dim=\"planet\">" TITLES "<metric id=\"nps\"/></section></report>",
		2, "unknown dim 'planet'");
	refused(HEAD "<section kind=\"kpi\" dim=\"region\">" TITLES "<metric id=\"nps\"/></section></report>",
		2, "dim is for table and survival sections only");
	refused(HEAD "<section kind=\"trend\" months=\"99\">" TITLES "<metric id=\"nps\"/></section></report>",
		2, "months must be 2 to 36");
	refused(HEAD "<section kind=\"kpi\" months=\"12\">" TITLES "<metric id=\"nps\"/></section></report>",
		2, "months must be 2 to 36, on trend sections only");
	refused(HEAD "<section kind=\"kpi\" page=\"old\">" TITLES "<metric id=\"nps\"/></section></report>",
		2, "page must be \"new\"");
	refused(HEAD "<section kind=\"kpi\">" TITLES "<metric id=\"nps\"/><chart/></section></report>", 2,
		"unknown element <chart> in <section>");
	refused(HEAD "<section kind=\"kpi\">" TITLES "stray<metric id=\"nps\"/></section></report>", 2,
		"text outside an element");
	refused(HEAD "<section kind=\"table\" dim=\"tier\">" TITLES
		"<metric id=\"nps\"/><metric id=\"nps\"/><metric id=\"nps\"/><metric id=\"nps\"/>"
		"<metric id=\"nps\"/><metric id=\"nps\"/></section></report>", 2, "too many metrics");
}

/* The built-in sections: kinds, their attributes and defaults, no <metric>. */
static void built_in_sections(void **state)
{
	struct tpl *t = NULL;
	struct crm_err e;

	(void)state;
	assert_int_equal(parse(HEAD "<section kind=\"cohort\">" TITLES "</section>"
				    "<section kind=\"cohort\" share=\"active\">" TITLES "</section>"
				    "<section kind=\"funnel\">" TITLES "</section>"
				    "<section kind=\"nps\">" TITLES "</section>"
				    "<section kind=\"survival\">" TITLES "</section>"
				    "<section kind=\"survival\" dim=\"tier\">" TITLES "</section>"
				    "<section kind=\"at_risk\">" TITLES "</section>"
				    "<section kind=\"at_risk\" rows=\"40\">" TITLES "</section>"
				    "<section kind=\"definitions\" page=\"new\">" TITLES "</section>"
				    "<section kind=\"clv\">" TITLES "</section>"
				    "<section kind=\"clv\" rows=\"3\">" TITLES "</section>"
				    "<section kind=\"lineage\">" TITLES "</section></report>",
			       &t, &e), 0);
	assert_int_equal(t->n_sections, 12);
	assert_int_equal(t->sections[11].kind, TPL_LINEAGE);
	assert_int_equal(t->sections[0].kind, TPL_COHORT);
	assert_int_equal(t->sections[0].share_active, 0);
	assert_int_equal(t->sections[1].share_active, 1);
	assert_int_equal(t->sections[2].kind, TPL_FUNNEL);
	assert_int_equal(t->sections[3].kind, TPL_NPS);
	assert_int_equal(t->sections[4].kind, TPL_SURVIVAL);
	assert_null(t->sections[4].dim);
	assert_string_equal(t->sections[5].dim, "tier");
	assert_int_equal(t->sections[6].kind, TPL_AT_RISK);
	assert_int_equal(t->sections[6].rows, TPL_AT_RISK_ROWS);
	assert_int_equal(t->sections[7].rows, 40);
	assert_int_equal(t->sections[8].kind, TPL_DEFINITIONS);
	assert_int_equal(t->sections[8].new_page, 1);
	assert_int_equal(t->sections[8].n_metrics, 0);
	assert_int_equal(t->sections[9].kind, TPL_CLV);
	assert_int_equal(t->sections[9].rows, TPL_CLV_ROWS);
	assert_int_equal(t->sections[10].rows, 3);
	tpl_free(t);

	refused(HEAD "<section kind=\"cohrot\">" TITLES "</section></report>", 2,
		"unknown section kind 'cohrot' (did you mean 'cohort'?)");
	refused(HEAD "<section kind=\"funnel\">" TITLES "<metric id=\"nps\"/></section></report>", 2,
		"a funnel section draws fixed metrics");
	refused(HEAD "<section kind=\"cohort\" share=\"bought\">" TITLES "</section></report>", 2,
		"share must be \"retained\" or \"active\"");
	refused(HEAD "<section kind=\"kpi\" share=\"active\">" TITLES "<metric id=\"nps\"/></section></report>",
		2, "on cohort sections only");
	refused(HEAD "<section kind=\"at_risk\" rows=\"0\">" TITLES "</section></report>", 2,
		"rows must be 1 to 40");
	refused(HEAD "<section kind=\"at_risk\" rows=\"41\">" TITLES "</section></report>", 2,
		"rows must be 1 to 40");
	refused(HEAD "<section kind=\"funnel\" rows=\"5\">" TITLES "</section></report>", 2,
		"on at_risk and clv sections only");
	refused(HEAD "<section kind=\"clv\" rows=\"41\">" TITLES "</section></report>", 2,
		"rows must be 1 to 40");
	refused(HEAD "<section kind=\"clv\">" TITLES "<metric id=\"clv_predicted\"/></section></report>", 2,
		"a clv section draws fixed metrics");
	refused(HEAD "<section kind=\"lineage\" rows=\"3\">" TITLES "</section></report>", 2,
		"on at_risk and clv sections only");
	refused(HEAD "<section kind=\"survival\" dim=\"cohort\">" TITLES "</section></report>", 2,
		"unknown dim 'cohort'");
	refused(HEAD "<section kind=\"nps\" dim=\"region\">" TITLES "</section></report>", 2,
		"dim is for table and survival sections only");
	refused(HEAD "<section kind=\"nps\"><title lang=\"en\">S</title></section></report>", 2,
		"lacks a <title lang=\"zh\">");
}

/* An external entity must not be loaded: the parser runs with NONET and no entity substitution. */
static void no_external_entities(void **state)
{
	struct tpl *t = NULL;
	struct crm_err e;
	int rc;

	(void)state;
	rc = parse("<!DOCTYPE report [<!ENTITY x SYSTEM \"/etc/passwd\">]>\n"
		   "<report><title lang=\"en\">&x;</title><title lang=\"zh\">z</title>"
		   "<section kind=\"kpi\">" TITLES "<metric id=\"nps\"/></section></report>", &t, &e);
	if (rc == 0) {
		assert_null(strstr(t->title[TPL_EN], "root:"));
		tpl_free(t);
	} else {
		assert_int_equal(rc, CRM_E_CONFIG);
	}
}

static void load_missing(void **state)
{
	struct tpl *t = NULL;
	struct crm_err e = { 0 };

	(void)state;
	assert_int_equal(tpl_load("templates/no-such-template.xml", &t, &e), CRM_E_CONFIG);
	assert_null(t);
	assert_non_null(strstr(e.msg, "no such template"));
	assert_int_equal(tpl_lang_parse("zh"), TPL_ZH);
	assert_int_equal(tpl_lang_parse("fr"), -1);
	assert_non_null(tpl_metric_info("churn_rate"));
	assert_null(tpl_metric_info("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_templates),
		cmocka_unit_test(minimal_and_defaults),
		cmocka_unit_test(refusals),
		cmocka_unit_test(built_in_sections),
		cmocka_unit_test(no_external_entities),
		cmocka_unit_test(load_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
