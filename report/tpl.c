/*
 * tpl.c - loading and validating report templates with libxml2 (see tpl.h).
 *
 * The parser runs with XML_PARSE_NONET and without DTD loading or entity
 * substitution: a template is a small local file and must never reach out.
 * Validation is by hand rather than with a schema so each error says in
 * plain words what is wrong and on which line, with a "did you mean" for a
 * mistyped metric or attribute.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fsx.h"
#include "text.h"
#include "tpl.h"

#include "banned.h"

static const struct tpl_metric_info infos[] = {
	{ "aov", { "Average order value", "客单价" }, FMT_MONEY, TPL_GOOD_UP },
	{ "buyers", { "Buyers", "购买客户数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "cac", { "Acquisition cost (CAC)", "获客成本" }, FMT_MONEY, TPL_GOOD_DOWN },
	{ "cac_payback_months", { "CAC payback (months)", "获客成本回收期（月）" }, FMT_DECIMAL, TPL_GOOD_DOWN },
	{ "churn_rate", { "Churn rate", "流失率" }, FMT_PERCENT, TPL_GOOD_DOWN },
	{ "churned", { "Churned customers", "流失客户数" }, FMT_COUNT, TPL_GOOD_DOWN },
	{ "clv", { "Customer lifetime value", "客户终身价值" }, FMT_MONEY, TPL_GOOD_UP },
	{ "clv_margin", { "CLV (margin)", "客户终身价值（利润）" }, FMT_MONEY, TPL_GOOD_UP },
	{ "clv_predicted", { "Predicted CLV", "预测客户终身价值" }, FMT_MONEY, TPL_GOOD_UP },
	{ "complaint_rate", { "Complaint rate", "投诉率" }, FMT_PERCENT, TPL_GOOD_DOWN },
	{ "complaint_resolution_rate", { "Complaints resolved in SLA", "投诉按时解决率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "conversion_rate", { "Lead conversion rate", "客户转化率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "csat", { "Customer satisfaction (CSAT)", "客户满意度" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "customer_growth_rate", { "Customer growth", "客户增长率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "customers_end", { "Customers", "客户数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "customers_start", { "Customers at start", "期初客户数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "email_open_rate", { "Email open rate", "邮件打开率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "engagement_rate", { "Engagement rate", "互动率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "expected_purchases", { "Expected purchases", "预期购买次数" }, FMT_DECIMAL, TPL_GOOD_UP },
	{ "first_response_hours", { "First response time", "首次响应时间" }, FMT_HOURS, TPL_GOOD_DOWN },
	{ "loyalty_index", { "Loyalty index", "忠诚度指数" }, FMT_DECIMAL, TPL_GOOD_UP },
	{ "ltv_cac", { "LTV / CAC", "终身价值/获客成本" }, FMT_RATIO, TPL_GOOD_UP },
	{ "median_lifetime_days", { "Median lifetime", "客户寿命中位数" }, FMT_DAYS, TPL_GOOD_UP },
	{ "net_profit", { "Net profit", "净利润" }, FMT_MONEY, TPL_GOOD_UP },
	{ "new_customers", { "New customers", "新客户数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "nps", { "Net promoter score (NPS)", "净推荐值" }, FMT_NPS, TPL_GOOD_UP },
	{ "orders", { "Orders", "订单数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "p_alive", { "P(alive)", "存活概率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "purchase_frequency", { "Purchase frequency", "购买频次" }, FMT_DECIMAL, TPL_GOOD_UP },
	{ "reactivated", { "Reactivated customers", "回流客户数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "referral_rate", { "Referral rate", "推荐率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "repeat_purchase_rate", { "Repeat purchase rate", "复购率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "resolution_hours", { "Resolution time", "解决时间" }, FMT_HOURS, TPL_GOOD_DOWN },
	{ "retention_cost", { "Retention cost", "客户维系成本" }, FMT_MONEY, TPL_GOOD_DOWN },
	{ "retention_rate", { "Retention rate", "留存率" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "retained", { "Retained customers", "留存客户数" }, FMT_COUNT, TPL_GOOD_UP },
	{ "returning_rate", { "Returning buyers", "老客户占比" }, FMT_PERCENT, TPL_GOOD_UP },
	{ "revenue", { "Revenue", "收入" }, FMT_MONEY, TPL_GOOD_UP },
};

#define N_INFOS (sizeof(infos) / sizeof(infos[0]))

const struct tpl_metric_info *tpl_metric_info(const char *id)
{
	size_t i;

	for (i = 0; i < N_INFOS; i++)
		if (!strcmp(infos[i].id, id))
			return &infos[i];
	return NULL;
}

int tpl_lang_parse(const char *s)
{
	if (!strcmp(s, "en"))
		return TPL_EN;
	if (!strcmp(s, "zh"))
		return TPL_ZH;
	return -1;
}

void tpl_free(struct tpl *t)
{
	size_t i, j;

	if (!t)
		return;
	for (i = 0; i < t->n_sections; i++) {
		struct tpl_section *s = &t->sections[i];

		for (j = 0; j < s->n_metrics; j++) {
			free(s->metrics[j].id);
			free(s->metrics[j].label[0]);
			free(s->metrics[j].label[1]);
		}
		free(s->metrics);
		free(s->title[0]);
		free(s->title[1]);
		free(s->dim);
	}
	free(t->sections);
	free(t->title[0]);
	free(t->title[1]);
	free(t->path);
	free(t);
}

/* Parsing state: the file name for messages and the error. */
struct ps {
	const char *path;
	struct crm_err *e;
};

static int bad(struct ps *ps, xmlNode *n, const char *fmt, const char *a, const char *b)
{
	char msg[400];

	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
	return err_at(ps->e, CRM_E_CONFIG, ps->path, n ? xmlGetLineNo(n) : 0, NULL,
		      "bad template: %s", msg);
}

static const char *name_of(xmlNode *n)
{
	return (const char *)n->name;
}

/* Only the listed attributes are allowed (NULL-terminated). */
static int check_attrs(struct ps *ps, xmlNode *n, const char *const *allowed)
{
	xmlAttr *a;

	for (a = n->properties; a; a = a->next) {
		const char *an = (const char *)a->name;
		const char *sugg;
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], an))
				break;
		if (allowed[i])
			continue;
		sugg = text_suggest(an, allowed);
		if (sugg) {
			char m[200];

			snprintf(m, sizeof(m), "unknown attribute '%s' of <%s> (did you mean '%s'?)",
				 an, name_of(n), sugg);
			return bad(ps, n, "%s%s", m, NULL);
		}
		return bad(ps, n, "unknown attribute '%s' of <%s>", an, name_of(n));
	}
	return 0;
}

/* A heap copy of attribute `name`, or NULL (absent or out of memory: *oom). */
static char *attr(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static int has_attr(xmlNode *n, const char *name)
{
	return xmlHasProp(n, (const xmlChar *)name) != NULL;
}

/* Non-blank text where only elements belong is an error. */
static int check_text(struct ps *ps, xmlNode *n, const char *parent)
{
	const xmlChar *c;

	for (c = n->content; c && *c; c++)
		if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
			return bad(ps, n, "text outside an element inside <%s>", parent, NULL);
	return 0;
}

/* <title lang="en|zh">text</title> into titles[2]. */
static int parse_title(struct ps *ps, xmlNode *n, char *titles[2])
{
	static const char *const allowed[] = { "lang", NULL };
	xmlChar *txt;
	char *lang;
	int l, rc;
	size_t len;

	if ((rc = check_attrs(ps, n, allowed)))
		return rc;
	lang = attr(n, "lang");
	if (!lang)
		return bad(ps, n, "<title> needs lang=\"en\" or lang=\"zh\"", NULL, NULL);
	l = tpl_lang_parse(lang);
	if (l < 0) {
		rc = bad(ps, n, "unknown language '%s' (en or zh)", lang, NULL);
		free(lang);
		return rc;
	}
	free(lang);
	if (titles[l])
		return bad(ps, n, "a second <title> in %s", l ? "zh" : "en", NULL);
	txt = xmlNodeGetContent(n);
	if (!txt)
		return err_set(ps->e, CRM_E_NOMEM, "out of memory reading '%s'", ps->path);
	len = strlen((const char *)txt);
	if (len == 0 || len > 200) {
		xmlFree(txt);
		return bad(ps, n, "a title must have 1 to 200 bytes", NULL, NULL);
	}
	titles[l] = strdup((const char *)txt);
	xmlFree(txt);
	if (!titles[l])
		return err_set(ps->e, CRM_E_NOMEM, "out of memory reading '%s'", ps->path);
	return 0;
}

static int need_titles(struct ps *ps, xmlNode *n, char *titles[2])
{
	if (!titles[TPL_EN])
		return bad(ps, n, "<%s> lacks a <title lang=\"en\">", name_of(n), NULL);
	if (!titles[TPL_ZH])
		return bad(ps, n, "<%s> lacks a <title lang=\"zh\">", name_of(n), NULL);
	return 0;
}

static int parse_metric(struct ps *ps, xmlNode *n, struct tpl_metric *m)
{
	static const char *const allowed[] = { "id", "format", "good", "en", "zh", NULL };
	const struct tpl_metric_info *info;
	char *v;
	int rc, l;

	m->line = xmlGetLineNo(n);
	if ((rc = check_attrs(ps, n, allowed)))
		return rc;
	m->id = attr(n, "id");
	if (!m->id)
		return bad(ps, n, "<metric> needs an id", NULL, NULL);
	info = tpl_metric_info(m->id);
	m->label[TPL_EN] = attr(n, "en");
	m->label[TPL_ZH] = attr(n, "zh");
	if (!info && !(m->label[TPL_EN] && m->label[TPL_ZH] && has_attr(n, "format"))) {
		const char *ids[N_INFOS + 1];
		const char *sugg;
		size_t i;

		for (i = 0; i < N_INFOS; i++)
			ids[i] = infos[i].id;
		ids[N_INFOS] = NULL;
		sugg = text_suggest(m->id, ids);
		if (sugg)
			return bad(ps, n, "unknown metric '%s' (did you mean '%s'?)", m->id, sugg);
		return bad(ps, n, "unknown metric '%s' (give en, zh and format to use it)", m->id, NULL);
	}
	for (l = 0; l < 2; l++)
		if (!m->label[l] && !(m->label[l] = strdup(info->label[l])))
			return err_set(ps->e, CRM_E_NOMEM, "out of memory reading '%s'", ps->path);
	m->format = info ? info->format : FMT_DECIMAL;
	m->good = info ? info->good : TPL_GOOD_NONE;
	if ((v = attr(n, "format"))) {
		int k = fmt_kind_parse(v);

		if (k < 0) {
			rc = bad(ps, n, "unknown format '%s' (count, money, percent, nps, decimal, ratio, hours, days)", v, NULL);
			free(v);
			return rc;
		}
		m->format = (enum fmt_kind)k;
		free(v);
	}
	if ((v = attr(n, "good"))) {
		if (!strcmp(v, "up"))
			m->good = TPL_GOOD_UP;
		else if (!strcmp(v, "down"))
			m->good = TPL_GOOD_DOWN;
		else if (!strcmp(v, "none"))
			m->good = TPL_GOOD_NONE;
		else {
			rc = bad(ps, n, "good must be up, down or none, not '%s'", v, NULL);
			free(v);
			return rc;
		}
		free(v);
	}
	return 0;
}

static const char *const kind_names[] = {
	[TPL_KPI] = "kpi", [TPL_TREND] = "trend", [TPL_TABLE] = "table", [TPL_COHORT] = "cohort",
	[TPL_FUNNEL] = "funnel", [TPL_NPS] = "nps", [TPL_SURVIVAL] = "survival",
	[TPL_AT_RISK] = "at_risk", [TPL_DEFINITIONS] = "definitions", [TPL_CLV] = "clv",
	[TPL_LINEAGE] = "lineage", NULL
};

#define KIND_LIST "kpi, trend, table, cohort, funnel, nps, survival, at_risk, clv, lineage or definitions"

/* A bounded integer attribute; 0 when absent, 1 with *out set, or an error code (< 0). */
static int int_attr(struct ps *ps, xmlNode *n, const char *name, long lo, long hi, int ok_here,
		    const char *what, int *out)
{
	char *v = attr(n, name), *end;
	long m;
	int rc;

	if (!v)
		return 0;
	errno = 0;
	m = strtol(v, &end, 10);
	if (!ok_here || *end || end == v || errno || m < lo || m > hi) {
		rc = bad(ps, n, what, v, NULL);
		free(v);
		return rc;
	}
	free(v);
	*out = (int)m;
	return 1;
}

static int parse_section(struct ps *ps, xmlNode *n, struct tpl_section *s)
{
	static const char *const allowed[] = { "kind", "dim", "months", "share", "rows", "page", NULL };
	static const char *const dims[] = { "channel", "region", "tier", "rfm", NULL };
	size_t max_metrics, k;
	int listed;
	xmlNode *c;
	char *v;
	int rc;

	s->line = xmlGetLineNo(n);
	s->months = 12;
	s->rows = TPL_AT_RISK_ROWS;
	if ((rc = check_attrs(ps, n, allowed)))
		return rc;
	v = attr(n, "kind");
	if (!v)
		return bad(ps, n, "<section> needs kind=\"NAME\", one of " KIND_LIST, NULL, NULL);
	for (k = 0; kind_names[k] && strcmp(kind_names[k], v); k++)
		;
	if (!kind_names[k]) {
		const char *sugg = text_suggest(v, kind_names);

		if (sugg)
			rc = bad(ps, n, "unknown section kind '%s' (did you mean '%s'?)", v, sugg);
		else
			rc = bad(ps, n, "unknown section kind '%s' (" KIND_LIST ")", v, NULL);
		free(v);
		return rc;
	}
	free(v);
	s->kind = (enum tpl_kind)k;
	listed = s->kind == TPL_KPI || s->kind == TPL_TREND || s->kind == TPL_TABLE;
	max_metrics = s->kind == TPL_KPI ? 8 : s->kind == TPL_TREND ? 6 : s->kind == TPL_TABLE ? 5 : 1;
	s->dim = attr(n, "dim");
	if (s->kind == TPL_TABLE && !s->dim)
		return bad(ps, n, "a table section needs dim=\"channel\", \"region\", \"tier\" or \"rfm\"", NULL, NULL);
	if (s->dim) {
		size_t i;

		if (s->kind != TPL_TABLE && s->kind != TPL_SURVIVAL)
			return bad(ps, n, "dim is for table and survival sections only", NULL, NULL);
		for (i = 0; dims[i] && strcmp(dims[i], s->dim); i++)
			;
		if (!dims[i])
			return bad(ps, n, "unknown dim '%s' (channel, region, tier or rfm)", s->dim, NULL);
	}
	if ((rc = int_attr(ps, n, "months", 2, 36, s->kind == TPL_TREND,
			   "months must be 2 to 36, on trend sections only (not '%s')", &s->months)) < 0)
		return rc;
	if (s->kind == TPL_CLV)
		s->rows = TPL_CLV_ROWS;
	if ((rc = int_attr(ps, n, "rows", 1, 40, s->kind == TPL_AT_RISK || s->kind == TPL_CLV,
			   "rows must be 1 to 40, on at_risk and clv sections only (not '%s')", &s->rows)) < 0)
		return rc;
	if ((v = attr(n, "share"))) {
		if (s->kind != TPL_COHORT || (strcmp(v, "retained") && strcmp(v, "active"))) {
			rc = bad(ps, n, "share must be \"retained\" or \"active\", on cohort sections only (not '%s')", v, NULL);
			free(v);
			return rc;
		}
		s->share_active = !strcmp(v, "active");
		free(v);
	}
	if ((v = attr(n, "page"))) {
		if (strcmp(v, "new")) {
			rc = bad(ps, n, "page must be \"new\", not '%s'", v, NULL);
			free(v);
			return rc;
		}
		s->new_page = 1;
		free(v);
	}
	s->metrics = calloc(max_metrics, sizeof(*s->metrics));
	if (!s->metrics)
		return err_set(ps->e, CRM_E_NOMEM, "out of memory reading '%s'", ps->path);
	for (c = n->children; c; c = c->next) {
		if (c->type == XML_TEXT_NODE) {
			if ((rc = check_text(ps, c, "section")))
				return rc;
			continue;
		}
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp(name_of(c), "title")) {
			if ((rc = parse_title(ps, c, s->title)))
				return rc;
		} else if (!strcmp(name_of(c), "metric")) {
			if (!listed)
				return bad(ps, c, "a %s section draws fixed metrics: <metric> is for kpi, trend and table sections",
					   kind_names[s->kind], NULL);
			if (s->n_metrics == max_metrics) {
				char m[16];

				snprintf(m, sizeof(m), "%zu", max_metrics);
				return bad(ps, c, "too many metrics in this section (at most %s)", m, NULL);
			}
			if ((rc = parse_metric(ps, c, &s->metrics[s->n_metrics++])))
				return rc;
		} else {
			return bad(ps, c, "unknown element <%s> in <section> (title or metric)", name_of(c), NULL);
		}
	}
	if ((rc = need_titles(ps, n, s->title)))
		return rc;
	if (listed && s->n_metrics == 0)
		return bad(ps, n, "a section needs at least one <metric>", NULL, NULL);
	return 0;
}

static int parse_root(struct ps *ps, xmlNode *root, struct tpl *t)
{
	static const char *const allowed[] = { "version", NULL };
	xmlNode *c;
	int rc;

	if (!root || strcmp(name_of(root), "report"))
		return bad(ps, root, "the root element must be <report>", NULL, NULL);
	if ((rc = check_attrs(ps, root, allowed)))
		return rc;
	t->sections = calloc(TPL_MAX_SECTIONS, sizeof(*t->sections));
	if (!t->sections)
		return err_set(ps->e, CRM_E_NOMEM, "out of memory reading '%s'", ps->path);
	for (c = root->children; c; c = c->next) {
		if (c->type == XML_TEXT_NODE) {
			if ((rc = check_text(ps, c, "report")))
				return rc;
			continue;
		}
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp(name_of(c), "title")) {
			if ((rc = parse_title(ps, c, t->title)))
				return rc;
		} else if (!strcmp(name_of(c), "section")) {
			if (t->n_sections == TPL_MAX_SECTIONS)
				return bad(ps, c, "too many sections", NULL, NULL);
			if ((rc = parse_section(ps, c, &t->sections[t->n_sections++])))
				return rc;
		} else {
			return bad(ps, c, "unknown element <%s> in <report> (title or section)", name_of(c), NULL);
		}
	}
	if ((rc = need_titles(ps, root, t->title)))
		return rc;
	if (t->n_sections == 0)
		return bad(ps, root, "a report needs at least one <section>", NULL, NULL);
	return 0;
}

/*
 * libxml2 reports some problems (an encoding it cannot convert, "I/O
 * error : encoder error") through its generic handler, which prints to
 * stderr whatever the parser options say. For the length of a parse the
 * thread's handler is ours and keeps the first message, for the error when
 * the parser context has none; the old handler is put back after. (2.12
 * deprecated reading the handler; there such lines may still be printed.)
 */
struct quiet {
	char msg[200];
#if LIBXML_VERSION < 21200
	xmlGenericErrorFunc fn;
	void *ctx;
#endif
};

#if LIBXML_VERSION < 21200
static void on_generic(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void on_generic(void *ctx, const char *fmt, ...)
{
	struct quiet *q = ctx;
	va_list ap;

	if (q->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(q->msg, sizeof(q->msg), fmt, ap);
	va_end(ap);
}
#endif

static void quiet_begin(struct quiet *q)
{
	q->msg[0] = '\0';
#if LIBXML_VERSION < 21200
	q->fn = xmlGenericError;
	q->ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(q, on_generic);
#endif
}

static void quiet_end(const struct quiet *q)
{
#if LIBXML_VERSION < 21200
	xmlSetGenericErrorFunc(q->ctx, q->fn);
#else
	(void)q;
#endif
}

int tpl_parse(const char *text, size_t len, const char *path, struct tpl **out,
	      struct crm_err *e)
{
	struct quiet q;
	struct ps ps = { path ? path : "(template)", e };
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	struct tpl *t = NULL;
	int rc = 0;

	*out = NULL;
	if (len > TPL_MAX_FILE)
		return err_at(e, CRM_E_CONFIG, ps.path, 0, NULL, "bad template: larger than %u bytes",
			      TPL_MAX_FILE);
	t = calloc(1, sizeof(*t));
	ctxt = xmlNewParserCtxt();
	if (!t || !ctxt || !(t->path = strdup(ps.path))) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", ps.path);
		goto out;
	}
	quiet_begin(&q);
	doc = xmlCtxtReadMemory(ctxt, text, (int)len, ps.path, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	quiet_end(&q);
	if (!doc) {
		const xmlError *xe = xmlCtxtGetLastError(ctxt);
		char msg[300];
		size_t n;

		/* an encoding failure is the cause of whatever the parser said next */
		snprintf(msg, sizeof(msg), "%s", q.msg[0] ? q.msg : xe && xe->message ? xe->message
					   : "not well-formed XML");
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		rc = err_at(e, CRM_E_CONFIG, ps.path, xe ? xe->line : 0, NULL,
			    "bad template: not well-formed XML: %s", msg);
		goto out;
	}
	rc = parse_root(&ps, xmlDocGetRootElement(doc), t);
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if (rc) {
		tpl_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int tpl_load(const char *path, struct tpl **out, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fsx_read_file(path, TPL_MAX_FILE, &data, &len, e);
	if (rc) {
		if (e->code == CRM_E_INPUT) { /* a missing template is a configuration mistake */
			e->code = CRM_E_CONFIG;
			e->sys_errno = 0;
			snprintf(e->msg, sizeof(e->msg), "no such template (looked for templates/NAME.xml next to the configuration, next to crmetl and in its share directory)");
		}
		return rc == CRM_E_INPUT ? CRM_E_CONFIG : rc;
	}
	rc = tpl_parse((const char *)data, len, path, out, e);
	free(data);
	return rc;
}
