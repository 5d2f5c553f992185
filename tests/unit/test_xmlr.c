/*
 * test_xmlr.c - the XML record reader: both forms of EXPORTS.md, name
 * mapping, entities and CDATA, trimming, exact lines, bad records, fatal
 * errors with line and message, hostile documents (billion laughs,
 * external entities, deep nesting, huge prologs), gzip, encodings, and a
 * large document streamed in bounded memory.
 *
 * libxml2's allocator is replaced (xmlMemSetup, first thing in main) by a
 * counting one, so tests can check the peak of libxml2's heap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlmemory.h>
#include <zlib.h>

#include "ins.h"
#include "xmlr.h"

/* ---- counting allocator for libxml2 ---------------------------------- */

#define HDR 16 /* keeps max_align_t alignment */

static size_t mem_now, mem_peak;

static void *t_malloc(size_t n)
{
	unsigned char *p = malloc(n + HDR);

	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	mem_now += n;
	if (mem_now > mem_peak)
		mem_peak = mem_now;
	return p + HDR;
}

static void t_free(void *q)
{
	unsigned char *p = q;
	size_t n;

	if (!p)
		return;
	p -= HDR;
	memcpy(&n, p, sizeof(n));
	mem_now -= n;
	free(p);
}

static void *t_realloc(void *q, size_t n)
{
	unsigned char *p;
	size_t old;

	if (!q)
		return t_malloc(n);
	p = (unsigned char *)q - HDR;
	memcpy(&old, p, sizeof(old));
	p = realloc(p, n + HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	mem_now = mem_now - old + n;
	if (mem_now > mem_peak)
		mem_peak = mem_now;
	return p + HDR;
}

static char *t_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = t_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- helpers --------------------------------------------------------- */

struct rd {
	struct ins *in;
	struct xmlr *r;
	struct crm_err e;
};

static void rd_open_opts(struct rd *d, const void *doc, size_t len, const struct xmlr_opts *o,
			 const char *const *names, size_t n)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(ins_open_mem(doc, len, "t.xml", &d->in, &d->e), 0);
	assert_int_equal(xmlr_open(d->in, o, names, n, &d->r, &d->e), 0);
	assert_non_null(d->r);
}

static void rd_open(struct rd *d, const char *doc, const char *record, const char *const *names,
		    size_t n)
{
	struct xmlr_opts o = { record, 0, 0 };

	rd_open_opts(d, doc, strlen(doc), &o, names, n);
}

static void rd_close(struct rd *d)
{
	xmlr_free(d->r);
	ins_close(d->in);
}

static int next(struct rd *d, struct rec *rec)
{
	return xmlr_next(d->r, rec, &d->e);
}

#define assert_val(rec, i, s) do { \
		assert_non_null((rec)->val[i]); \
		assert_string_equal((rec)->val[i], (s)); \
		assert_int_equal((rec)->len[i], strlen(s)); \
	} while (0)

/* Read until the end; the error code (or 0) is returned. */
static int drain(struct rd *d, size_t *n_records)
{
	struct rec rec;
	int rc;

	*n_records = 0;
	while ((rc = next(d, &rec)) == 1)
		(*n_records)++;
	return rc;
}

static const char *const order_names[] = { "order_id", "customer_id", "ordered_at", "amount" };

/* ---- the two forms --------------------------------------------------- */

static void test_forms_mixed(void **state)
{
	static const char doc[] =
		"<export entity=\"orders\">\n"
		"  <order order_id=\"o-1\" customer_id=\"c-9\" ordered_at=\"2026-10-03T12:34:56Z\" amount=\"129.90\"/>\n"
		"  <order><order_id>o-2</order_id><customer_id>c-9</customer_id>"
		"<ordered_at>2026-10-04</ordered_at><amount>-15.00</amount></order>\n"
		"  <order order_id=\"o-3\" amount=\"1\"><customer_id>c-1</customer_id></order>\n"
		"</export>\n";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_null(rec.reason);
	assert_int_equal(rec.line, 2);
	assert_val(&rec, 0, "o-1");
	assert_val(&rec, 1, "c-9");
	assert_val(&rec, 2, "2026-10-03T12:34:56Z");
	assert_val(&rec, 3, "129.90");
	assert_null(rec.val[4]);

	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_int_equal(rec.line, 3);
	assert_val(&rec, 0, "o-2");
	assert_val(&rec, 1, "c-9");
	assert_val(&rec, 2, "2026-10-04");
	assert_val(&rec, 3, "-15.00");

	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_int_equal(rec.line, 4);
	assert_val(&rec, 0, "o-3");
	assert_val(&rec, 1, "c-1");
	assert_null(rec.val[2]);
	assert_val(&rec, 3, "1");

	assert_int_equal(next(&d, &rec), 0);
	assert_int_equal(next(&d, &rec), 0);
	assert_int_equal(xmlr_records(d.r), 3);
	assert_int_equal(d.e.code, 0);
	rd_close(&d);
}

static void test_name_mapping(void **state)
{
	static const char doc[] =
		"<crm><Bestellung Betrag=\"5.00\" Nr=\"A7\"><Kunde>K1</Kunde></Bestellung>"
		"<order Nr=\"no\"/></crm>";
	/* Canonical order: order_id, customer_id, amount; the export's names. */
	static const char *const names[] = { "Nr", "Kunde", "Betrag" };
	static const char *const reordered[] = { "Betrag", "Nr", "Kunde" };
	static const char *const twice[] = { "Nr", "Kunde", "Kunde", "Nr" };
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "Bestellung", names, 3);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "A7");
	assert_val(&rec, 1, "K1");
	assert_val(&rec, 2, "5.00");
	assert_int_equal(next(&d, &rec), 0); /* <order> is not the record here */
	rd_close(&d);

	rd_open(&d, doc, "Bestellung", reordered, 3);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "5.00");
	assert_val(&rec, 1, "A7");
	assert_val(&rec, 2, "K1");
	rd_close(&d);

	/* Two fields mapped to one element both get its value. */
	rd_open(&d, doc, "Bestellung", twice, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_val(&rec, 0, "A7");
	assert_val(&rec, 1, "K1");
	assert_val(&rec, 2, "K1");
	assert_val(&rec, 3, "A7");
	rd_close(&d);
}

static void test_absent_and_empty(void **state)
{
	static const char doc[] =
		"<export>"
		"<order order_id=\"\" customer_id=\"c\"/>"
		"<order><order_id/><customer_id></customer_id><amount>  \n\t </amount></order>"
		"<order/>"
		"</export>";
	static const char *const names[] = { "order_id", "customer_id", "amount", NULL, "" };
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", names, 5);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "");
	assert_val(&rec, 1, "c");
	assert_null(rec.val[2]);
	assert_null(rec.val[3]);
	assert_null(rec.val[4]);

	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_val(&rec, 0, "");
	assert_val(&rec, 1, "");
	assert_val(&rec, 2, "");

	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_null(rec.val[0]);
	assert_null(rec.val[1]);
	assert_null(rec.val[2]);
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
}

static void test_entities_and_cdata(void **state)
{
	static const char doc[] =
		"<export>"
		"<order order_id=\"a&amp;b&lt;c&gt;d&quot;e&apos;f&#233;&#xE9;\">"
		"<customer_id>x &amp; y &lt;z&gt; caf&#233; &#x20AC;</customer_id>"
		"<amount><![CDATA[<b>&amp;</b>]]></amount>"
		"<ordered_at> 1<![CDATA[ 2 ]]>3 </ordered_at>"
		"</order></export>";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_val(&rec, 0, "a&b<c>d\"e'f\xc3\xa9\xc3\xa9");
	assert_val(&rec, 1, "x & y <z> caf\xc3\xa9 \xe2\x82\xac");
	assert_val(&rec, 3, "<b>&amp;</b>");
	assert_val(&rec, 2, "1 2 3");
	rd_close(&d);
}

static void test_trimming(void **state)
{
	static const char doc[] =
		"<export><order order_id=\"  keep  \">\n"
		"  <customer_id>\n\t  c-1 and  more \r\n  </customer_id>\n"
		"  <amount>\n    12.50\n  </amount>\n"
		"</order></export>";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "  keep  ");
	assert_val(&rec, 1, "c-1 and  more");
	assert_val(&rec, 3, "12.50");
	rd_close(&d);
}

static void test_lines(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?>\n"                                  /* 1 */
		"<!-- a comment\n"                                            /* 2 */
		" <order order_id=\"fake\"/> still comment -->\n"             /* 3 */
		"<export>\n"                                                  /* 4 */
		"  <order order_id=\"a\"\n"                                   /* 5 */
		"         amount=\"1\"/>\n"                                   /* 6 */
		"  <order><order_id>b</order_id>\n"                           /* 7 */
		"    <note><![CDATA[\n"                                       /* 8 */
		"<order order_id=\"cdata\"/>]]></note></order><order order_id=\"c\" x=\"a>b\n" /* 9 */
		"c\"/>\n"                                                     /* 10 */
		"<?pi <order?>\n"                                             /* 11 */
		"<order order_id='d'/><order\n"                               /* 12 */
		"order_id='e'></order></export>\n";                           /* 13 */
	static const char *const want[] = { "a", "b", "c", "d", "e" };
	static const long lines[] = { 5, 7, 9, 12, 12 };
	struct rd d;
	struct rec rec;
	size_t i;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	for (i = 0; i < 5; i++) {
		assert_int_equal(next(&d, &rec), 1);
		assert_false(rec.bad);
		assert_val(&rec, 0, want[i]);
		assert_int_equal(rec.line, lines[i]);
	}
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
}

/* 1 + the LFs before the n-th (0-based) occurrence of `marker`. */
static long line_of(const char *doc, const char *marker, int n)
{
	const char *p = doc, *hit = NULL;
	long line = 1;

	while (n-- >= 0) {
		hit = strstr(p, marker);
		assert_non_null(hit);
		p = hit + 1;
	}
	for (p = doc; p < hit; p++)
		line += *p == '\n';
	return line;
}

/*
 * libxml2 reads 4 bytes, then 4096 at a time: slide the tricky bits of the
 * lexer (comments with '>', CDATA with ']', PIs with '?', quoted '>' and
 * LFs in tags) across those read boundaries; lines must stay exact.
 */
static void test_read_boundaries(void **state)
{
	static const char tricky[] =
		"<!-- a > b - c\n <order order_id=\"no\"/> - -->"
		"<![CDATA[ ]] ]>\n<order/> ]]]]><?pi ? > <order?>\n"
		"<order order_id=\"t1\" x='a>\"b\n'/>\t<order\n order_id=\"t2\"><!---->"
		"<amount>\n<![CDATA[1]]>\n</amount></order><order order_id='t3'/>\n";
	static const char *const ids[] = { "t1", "t2", "t3" };
	static const char *const marks[] = { "<order order_id=\"t1", "<order\n order_id=\"t2",
					     "<order order_id='t3" };
	char *doc = malloc(8192);
	struct rd d;
	struct rec rec;
	size_t k, len, j;

	(void)state;
	assert_non_null(doc);
	for (k = 0; k < 230; k++) {
		len = (size_t)snprintf(doc, 8192, "<export>\n<!--");
		memset(doc + len, 'x', 3900);
		len += 3900;
		len += (size_t)snprintf(doc + len, 8192 - len, "-->\n%*s%s</export>\n", (int)k, "",
					tricky);
		rd_open_opts(&d, doc, len, &(struct xmlr_opts){ "order", 0, 0 }, order_names, 4);
		for (j = 0; j < 3; j++) {
			assert_int_equal(next(&d, &rec), 1);
			assert_false(rec.bad);
			assert_val(&rec, 0, ids[j]);
			assert_int_equal(rec.line, line_of(doc, marks[j], 0));
		}
		assert_int_equal(next(&d, &rec), 0);
		rd_close(&d);
	}
	/* Around the first 4-byte read. */
	for (k = 0; k < 8; k++) {
		len = (size_t)snprintf(doc, 8192, "%*s<!-- c -->\n<export><order order_id=\"a\"/></export>",
				       (int)k, "");
		rd_open_opts(&d, doc, len, &(struct xmlr_opts){ "order", 0, 0 }, order_names, 4);
		assert_int_equal(next(&d, &rec), 1);
		assert_val(&rec, 0, "a");
		assert_int_equal(rec.line, 2);
		rd_close(&d);
		len = (size_t)snprintf(doc, 8192, "%*s<!DOCTYPE export><export/>", (int)k, "");
		rd_open_opts(&d, doc, len, &(struct xmlr_opts){ "order", 0, 0 }, order_names, 4);
		assert_int_equal(next(&d, &rec), CRM_E_INPUT);
		assert_string_equal(d.e.msg, "DTDs are not allowed");
		rd_close(&d);
	}
	free(doc);
}

/* ---- bad records ----------------------------------------------------- */

static void test_given_twice(void **state)
{
	static const char doc[] =
		"<export>\n"
		"<order order_id=\"1\"><order_id>1</order_id></order>\n"
		"<order><amount>1</amount><amount>2</amount></order>\n"
		"<order order_id=\"ok\" amount=\"3\"/>\n"
		"</export>";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "field 'order_id' given twice");
	assert_int_equal(rec.line, 2);
	assert_null(rec.val[0]);

	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "field 'amount' given twice");
	assert_int_equal(rec.line, 3);

	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_null(rec.reason);
	assert_val(&rec, 0, "ok");
	assert_val(&rec, 3, "3");
	assert_int_equal(rec.line, 4);
	assert_int_equal(next(&d, &rec), 0);
	assert_int_equal(xmlr_records(d.r), 3);
	rd_close(&d);
}

static void test_too_long(void **state)
{
	static const char doc[] =
		"<x>"
		"<order amount=\"12345\"/>"                            /* bad */
		"<order amount=\"1234\"/>"                             /* at the limit */
		"<order><amount>  1234  \n </amount></order>"           /* trimmed fits */
		"<order><amount>12345</amount></order>"                 /* bad */
		"<order><amount>12  34</amount></order>"                /* bad: 6 bytes */
		"<order><amount>1234                  </amount></order>" /* fits */
		"<order><amount>1234          5</amount></order>"       /* bad */
		"<order><amount>12<![CDATA[345]]></amount></order>"     /* bad */
		"<order order_id=\"z\"/>"
		"</x>";
	static const int bad[] = { 1, 0, 0, 1, 1, 0, 1, 1, 0 };
	struct xmlr_opts o = { "order", 0, 4 };
	struct rd d;
	struct rec rec;
	size_t i;

	(void)state;
	rd_open_opts(&d, doc, strlen(doc), &o, order_names, 4);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(next(&d, &rec), 1);
		assert_int_equal(rec.bad, bad[i]);
		if (bad[i]) {
			assert_string_equal(rec.reason, "field 'amount' longer than 4 bytes");
			assert_null(rec.val[3]);
		} else if (i < 8) {
			assert_val(&rec, 3, "1234");
		}
	}
	assert_val(&rec, 0, "z");
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
}

static void test_default_limit_and_split_text(void **state)
{
	size_t big = XMLR_DEFAULT_VALUE, cap = 3 * big + 1000, len = 0, i, k;
	char *doc = malloc(cap);
	struct xmlr_opts o = { "order", 0, 0 };
	struct rd d;
	struct rec rec;

	(void)state;
	assert_non_null(doc);
	len += (size_t)snprintf(doc, cap, "<x><order><amount>");
	for (i = 0; i < big; i++) /* exactly the limit, over many parser chunks */
		doc[len++] = (char)('a' + i % 26);
	len += (size_t)snprintf(doc + len, cap - len, "</amount></order><order><amount>");
	for (i = 0; i <= big; i++) /* one over */
		doc[len++] = 'b';
	len += (size_t)snprintf(doc + len, cap - len, "</amount></order><order order_id=\"");
	for (i = 0; i <= big; i++)
		doc[len++] = 'c';
	len += (size_t)snprintf(doc + len, cap - len, "\"/></x>");

	rd_open_opts(&d, doc, len, &o, order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_int_equal(rec.len[3], big);
	for (k = 0; k < big; k++)
		if (rec.val[3][k] != (char)('a' + k % 26))
			break;
	assert_int_equal(k, big);
	assert_int_equal(rec.val[3][big], '\0');
	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "field 'amount' longer than 65536 bytes");
	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "field 'order_id' longer than 65536 bytes");
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
	free(doc);
}

static void test_nested_elements(void **state)
{
	static const char doc[] =
		"<export>\n"
		"<order><amount>1<b>2</b></amount></order>\n"
		"<order order_id=\"o\"><wrap><order/></wrap></order>\n"
		"<order><order><order_id>x</order_id></order></order>\n"
		"<order><extra a=\"1\"><order_id>deep, ignored</order_id></extra>"
		"<order_id x=\"ignored\">kept</order_id>mixed text</order>\n"
		"</export>";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "element 'b' inside field 'amount'");
	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "record element 'order' inside a record");
	assert_int_equal(rec.line, 3);
	assert_int_equal(next(&d, &rec), 1);
	assert_true(rec.bad);
	assert_string_equal(rec.reason, "record element 'order' inside a record");
	assert_int_equal(rec.line, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_false(rec.bad);
	assert_val(&rec, 0, "kept");
	assert_int_equal(rec.line, 5);
	assert_int_equal(next(&d, &rec), 0);
	assert_int_equal(xmlr_records(d.r), 4);
	rd_close(&d);
}

static void test_skipped_outside_records(void **state)
{
	static const char doc[] =
		"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<?xml-stylesheet href=\"x\"?><!-- c -->\n"
		"<export xmlns=\"urn:crm\" xmlns:q=\"urn:q\">text<meta><order_id>m</order_id></meta>\n"
		"<batch><order q:z=\"1\" order_id=\"in-batch\"/></batch>\n"
		"<order order_id=\"top\"/><!-- <order order_id=\"no\"/> --></export>\n"
		"<!-- trailing -->\n";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "in-batch");
	assert_int_equal(rec.line, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "top");
	assert_int_equal(rec.line, 5);
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
}

static void test_record_is_root(void **state)
{
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, "<order order_id=\"solo\"><amount>2</amount></order>", "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "solo");
	assert_val(&rec, 3, "2");
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
}

/* ---- fatal errors ---------------------------------------------------- */

static void expect_fatal(const char *doc, long line, const char *msg_part)
{
	struct rd d;
	struct rec rec;
	size_t n;
	int rc;

	rd_open(&d, doc, "order", order_names, 4);
	rc = drain(&d, &n);
	assert_int_equal(rc, CRM_E_INPUT);
	assert_int_equal(d.e.code, CRM_E_INPUT);
	assert_string_equal(d.e.where, "t.xml");
	if (line)
		assert_int_equal(d.e.line, line);
	if (!strstr(d.e.msg, msg_part))
		fail_msg("message '%s' lacks '%s'", d.e.msg, msg_part);
	/* Sticky. */
	assert_int_equal(next(&d, &rec), CRM_E_INPUT);
	assert_int_equal(next(&d, &rec), CRM_E_INPUT);
	assert_null(rec.val[0]);
	rd_close(&d);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_fatal("<export>\n<order order_id=\"1\">\n</export>\n", 3,
		     "malformed XML: Opening and ending tag mismatch: order line 2 and export");
	expect_fatal("<export>\n<order order_id=\"1\"/>\n<order>\n", 0, "malformed XML: ");
	expect_fatal("<export>\n<order order_id=\"1\"/>\n<order a=\"1\" a=\"2\"/></export>", 3,
		     "Attribute a redefined");
	expect_fatal("<export><order>&nbsp;</order></export>", 1, "Entity 'nbsp' not defined");
	expect_fatal("<export><order>\xff\xfe</order></export>", 1, "malformed XML: ");
	expect_fatal("", 0, "malformed XML");
	expect_fatal("just text", 1, "malformed XML: ");
	expect_fatal("<a/><b/>", 1, "Extra content at the end of the document");
}

static void test_unclosed_reports_line(void **state)
{
	static const char doc[] = "<export>\n<order order_id=\"1\"/>\n<order order_id=\"2\"\n";
	struct rd d;
	size_t n;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(drain(&d, &n), CRM_E_INPUT);
	assert_true(d.e.line >= 3);
	assert_non_null(strstr(d.e.msg, "malformed XML: "));
	rd_close(&d);
}

/* The classic text, with each lolN made of ten lol(N-1). */
static char *make_laughs(void)
{
	size_t cap = 8192, len = 0;
	char *doc = malloc(cap);
	int i, k;

	assert_non_null(doc);
	len += (size_t)snprintf(doc + len, cap - len,
				"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 \"lol\">\n");
	for (i = 1; i <= 9; i++) {
		len += (size_t)snprintf(doc + len, cap - len, " <!ENTITY lol%d \"", i);
		for (k = 0; k < 10; k++)
			len += (size_t)snprintf(doc + len, cap - len, "&lol%d;", i - 1);
		len += (size_t)snprintf(doc + len, cap - len, "\">\n");
	}
	snprintf(doc + len, cap - len,
		 "]>\n<export><order order_id=\"&lol9;\"><amount>&lol9;</amount></order></export>\n");
	return doc;
}

/* Same text in UTF-16LE with a BOM: the byte scanner is off there. */
static unsigned char *to_utf16le(const char *s, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned char *out = malloc(2 * n + 2);

	assert_non_null(out);
	out[0] = 0xFF;
	out[1] = 0xFE;
	for (i = 0; i < n; i++) {
		out[2 + 2 * i] = (unsigned char)s[i];
		out[3 + 2 * i] = 0;
	}
	*len = 2 * n + 2;
	return out;
}

/*
 * With the byte scanner on, the DOCTYPE is refused before libxml2 parses
 * it; in UTF-16 libxml2 parses it (expanding and loading nothing) and may
 * stop on its own error before the reader reaches the DOCTYPE node.
 */
static void expect_rejected_dtd(const void *doc, size_t len, int scanned)
{
	struct xmlr_opts o = { "order", 0, 0 };
	struct rd d;
	size_t n;
	clock_t t0 = clock();
	double secs;
	size_t base = mem_now;

	mem_peak = base;
	rd_open_opts(&d, doc, len, &o, order_names, 4);
	assert_int_equal(drain(&d, &n), CRM_E_INPUT);
	assert_int_equal(n, 0);
	if (scanned)
		assert_string_equal(d.e.msg, "DTDs are not allowed");
	assert_true(d.e.line >= 1);
	rd_close(&d);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_true(secs < 2.0);
	/* libxml2's heap stayed small: nothing was expanded. */
	if (mem_peak - base > 1024 * 1024)
		fail_msg("libxml2 peaked at %zu bytes", mem_peak - base);
}

static void test_billion_laughs(void **state)
{
	char *doc = make_laughs();
	unsigned char *wide;
	size_t wlen;

	(void)state;
	expect_rejected_dtd(doc, strlen(doc), 1);
	wide = to_utf16le(doc, &wlen);
	expect_rejected_dtd(wide, wlen, 0);
	free(wide);
	free(doc);
}

static void test_doctype_variants(void **state)
{
	static const char *const docs[] = {
		"<!DOCTYPE export>\n<export><order order_id=\"1\"/></export>",
		"<!DOCTYPE export SYSTEM \"http://127.0.0.1:9/x.dtd\"><export/>",
		"<?xml version=\"1.0\"?>\n<!-- hi -->\n<!DOCTYPE export [ <!ELEMENT export ANY> ]>\n<export/>",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_rejected_dtd(docs[i], strlen(docs[i]), 1);
	/* The line of the DOCTYPE, from the byte scanner. */
	expect_fatal(docs[2], 3, "DTDs are not allowed");
}

static void test_external_entity(void **state)
{
	char path[] = "/tmp/test_xmlr_secretXXXXXX";
	static const char secret[] = "TOP-SECRET-4f1c";
	char doc[1024];
	unsigned char *wide;
	size_t wlen, n;
	struct rd d;
	struct rec rec;
	int fd, rc;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, secret, sizeof(secret) - 1), (ssize_t)(sizeof(secret) - 1));
	close(fd);
	snprintf(doc, sizeof(doc),
		 "<?xml version=\"1.0\"?>\n"
		 "<!DOCTYPE export [ <!ENTITY xxe SYSTEM \"file://%s\"> ]>\n"
		 "<export><order order_id=\"&xxe;\"><amount>&xxe;</amount></order></export>\n",
		 path);

	expect_rejected_dtd(doc, strlen(doc), 1);
	wide = to_utf16le(doc, &wlen);
	expect_rejected_dtd(wide, wlen, 0);

	/* And nothing read carries the file's content. */
	rd_open(&d, doc, "order", order_names, 4);
	while ((rc = next(&d, &rec)) == 1) {
		for (n = 0; n < 4; n++)
			assert_true(!rec.val[n] || !strstr(rec.val[n], secret));
	}
	assert_int_equal(rc, CRM_E_INPUT);
	assert_null(strstr(d.e.msg, secret));
	rd_close(&d);
	free(wide);
	unlink(path);
}

static void test_depth(void **state)
{
	char doc[4096];
	struct xmlr_opts o = { "order", 4, 0 };
	struct rd d;
	struct rec rec;
	size_t len = 0, n;
	int i;

	(void)state;
	/* export > order > amount: 3 levels, fine with max_depth 4. */
	rd_open_opts(&d, "<export><order><amount>1</amount></order></export>", 50, &o,
		     order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 3, "1");
	rd_close(&d);

	/* 5 levels inside a record: fatal, with the line of the 5th. */
	rd_open_opts(&d, "<export>\n<order>\n<a>\n<b>\n<c>1</c></b></a></order></export>", 58, &o,
		     order_names, 4);
	assert_int_equal(drain(&d, &n), CRM_E_INPUT);
	assert_string_equal(d.e.msg, "elements nested deeper than 4 levels");
	assert_int_equal(d.e.line, 5);
	rd_close(&d);

	/* 300 levels with the default limit (64); libxml2 stops at 256 itself. */
	for (i = 0; i < 300; i++)
		len += (size_t)snprintf(doc + len, sizeof(doc) - len, "<a>");
	o.max_depth = 0;
	rd_open_opts(&d, doc, len, &o, order_names, 4);
	assert_int_equal(drain(&d, &n), CRM_E_INPUT);
	assert_string_equal(d.e.msg, "elements nested deeper than 64 levels");
	rd_close(&d);
	o.max_depth = XMLR_LIMIT_DEPTH;
	rd_open_opts(&d, doc, len, &o, order_names, 4);
	assert_int_equal(drain(&d, &n), CRM_E_INPUT);
	rd_close(&d);
}

static void test_prolog_limit(void **state)
{
	size_t cap = XMLR_PROLOG_MAX + 100000, len = 0;
	char *doc = malloc(cap);
	struct xmlr_opts o = { "order", 0, 0 };
	struct rd d;
	size_t n;

	(void)state;
	assert_non_null(doc);
	while (len < XMLR_PROLOG_MAX + 50000)
		len += (size_t)snprintf(doc + len, cap - len, "<!-- %060d -->\n", 0);
	len += (size_t)snprintf(doc + len, cap - len, "<export/>");
	mem_peak = mem_now;
	rd_open_opts(&d, doc, len, &o, order_names, 4);
	assert_int_equal(drain(&d, &n), CRM_E_INPUT);
	assert_non_null(strstr(d.e.msg, "no root element in the first"));
	rd_close(&d);
	free(doc);
}

static void test_open_errors(void **state)
{
	static const char *const many[REC_MAX_FIELDS + 1] = { "a" };
	struct crm_err e = { 0 };
	struct ins *in;
	struct xmlr *r = (struct xmlr *)&e;
	struct xmlr_opts o = { NULL, 0, 0 };

	(void)state;
	assert_int_equal(ins_open_mem("<a/>", 4, "t.xml", &in, &e), 0);
	assert_int_equal(xmlr_open(in, &o, order_names, 4, &r, &e), CRM_E_CONFIG);
	assert_null(r);
	err_clear(&e);
	o.record = "";
	assert_int_equal(xmlr_open(in, &o, order_names, 4, &r, &e), CRM_E_CONFIG);
	err_clear(&e);
	o.record = "order";
	o.max_depth = XMLR_LIMIT_DEPTH + 1;
	assert_int_equal(xmlr_open(in, &o, order_names, 4, &r, &e), CRM_E_CONFIG);
	err_clear(&e);
	o.max_depth = 0;
	o.max_value = XMLR_LIMIT_VALUE + 1;
	assert_int_equal(xmlr_open(in, &o, order_names, 4, &r, &e), CRM_E_CONFIG);
	err_clear(&e);
	o.max_value = 0;
	assert_int_equal(xmlr_open(in, &o, many, REC_MAX_FIELDS + 1, &r, &e), CRM_E_INTERNAL);
	err_clear(&e);
	assert_int_equal(xmlr_open(in, NULL, order_names, 4, &r, &e), CRM_E_INTERNAL);
	assert_null(r);
	ins_close(in);
	xmlr_free(NULL);
}

/* ---- gzip, encodings -------------------------------------------------- */

static unsigned char *gzip(const void *data, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = len + len / 100 + 1024;
	unsigned char *out = malloc(cap);

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* A digest of everything a reader returns: records, lines, values, end. */
static uint32_t digest(const void *doc, size_t len, int *rc_out, size_t *n_out)
{
	struct xmlr_opts o = { "order", 0, 0 };
	struct rd d;
	struct rec rec;
	uint32_t h = 2166136261u;
	size_t i, n = 0;
	int rc;

	rd_open_opts(&d, doc, len, &o, order_names, 4);
	while ((rc = next(&d, &rec)) == 1) {
		n++;
		h = (uint32_t)crc32(h, (const unsigned char *)&rec.line, sizeof(rec.line));
		h = (uint32_t)crc32(h, (const unsigned char *)&rec.bad, sizeof(rec.bad));
		for (i = 0; i < 4; i++)
			if (rec.val[i])
				h = (uint32_t)crc32(h, (const unsigned char *)rec.val[i],
						    (uInt)rec.len[i] + 1);
	}
	*rc_out = rc;
	*n_out = n;
	rd_close(&d);
	return h;
}

static void test_gzip(void **state)
{
	static const char doc[] =
		"<export>\n<order order_id=\"1\" amount=\"2\"/>\n"
		"<order><order_id>caf&#233;</order_id><amount> 3 </amount></order>\n"
		"<order><amount>1</amount><amount>2</amount></order>\n</export>\n";
	unsigned char *gz, *trunc;
	size_t gz_len, n1, n2;
	int rc1, rc2;
	struct rd d;
	struct rec rec;
	struct xmlr_opts o = { "order", 0, 0 };

	(void)state;
	gz = gzip(doc, strlen(doc), &gz_len);
	assert_int_equal(digest(doc, strlen(doc), &rc1, &n1), digest(gz, gz_len, &rc2, &n2));
	assert_int_equal(rc1, 0);
	assert_int_equal(rc2, 0);
	assert_int_equal(n1, 3);
	assert_int_equal(n2, 3);

	rd_open_opts(&d, gz, gz_len, &o, order_names, 4);
	assert_true(ins_is_gzip(d.in));
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "1");
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "caf\xc3\xa9");
	assert_int_equal(rec.line, 3);
	rd_close(&d);

	/* A truncated gzip stream: the stream's error comes through. */
	trunc = malloc(gz_len);
	assert_non_null(trunc);
	memcpy(trunc, gz, gz_len - 12);
	rd_open_opts(&d, trunc, gz_len - 12, &o, order_names, 4);
	assert_int_equal(drain(&d, &n1), CRM_E_INPUT);
	assert_string_equal(d.e.msg, "gzip data is truncated");
	rd_close(&d);
	free(trunc);
	free(gz);
}

static void test_latin1(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
		"<export>\n<order order_id=\"caf\xe9\"><customer_id>M\xfcller \xa3</customer_id></order>\n"
		"</export>";
	struct rd d;
	struct rec rec;

	(void)state;
	rd_open(&d, doc, "order", order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "caf\xc3\xa9");
	assert_val(&rec, 1, "M\xc3\xbcller \xc2\xa3");
	assert_int_equal(rec.line, 3);
	rd_close(&d);
}

static void test_utf16(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<export>\n"
		"<order order_id=\"w1\"/>\n<order><amount> 7 </amount></order>\n</export>\n";
	unsigned char *wide;
	size_t wlen;
	struct xmlr_opts o = { "order", 0, 0 };
	struct rd d;
	struct rec rec;

	(void)state;
	wide = to_utf16le(doc, &wlen);
	rd_open_opts(&d, wide, wlen, &o, order_names, 4);
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 0, "w1");
	assert_int_equal(rec.line, 3); /* libxml2's line: one-line tags agree */
	assert_int_equal(next(&d, &rec), 1);
	assert_val(&rec, 3, "7");
	assert_int_equal(next(&d, &rec), 0);
	rd_close(&d);
	free(wide);
}

/* Errors go through the handler, never to stderr. */
static void test_quiet(void **state)
{
	static const char *const docs[] = {
		"<export><order></export>", "<a xmlns:q=\"rel\"><q:b/><z:c/></a>",
		"\x00\x00<\x00", "<?xml version=\"1.0\" encoding=\"NOPE-9\"?><a/>", "<a>&#0;</a>",
		/* Conversion errors: raised without a parser context. */
		"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><a>\xff\xff\x00\x3c</a>",
		"\xff\xfe<\0a\0>\0\0\xd8x\0<\0/\0a\0>\0",
	};
	static const size_t lens[] = { 24, 31, 4, 43, 11, 50, 20 };
	char path[] = "/tmp/test_xmlr_stderrXXXXXX";
	struct xmlr_opts o = { "order", 0, 0 };
	int fd = mkstemp(path), saved;
	struct rd d;
	size_t i, n;
	off_t size;

	(void)state;
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		rd_open_opts(&d, docs[i], lens[i], &o, order_names, 4);
		if (drain(&d, &n) < 0) {
			assert_int_equal(d.e.code, CRM_E_INPUT);
			assert_non_null(strstr(d.e.msg, "malformed XML"));
		}
		if (i >= 5) {
			/* libxml2's own words survive, not a bare "malformed XML". */
			assert_int_equal(d.e.code, CRM_E_INPUT);
			assert_true(strlen(d.e.msg) > strlen("malformed XML: "));
		}
		rd_close(&d);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	size = lseek(fd, 0, SEEK_END);
	close(fd);
	unlink(path);
	assert_int_equal(size, 0);
}

/* ---- a large document -------------------------------------------------- */

#define BIG_RECORDS 200000

static void test_large_streamed(void **state)
{
	size_t cap = (size_t)BIG_RECORDS * 120 + 100, len = 0, i;
	char *doc = malloc(cap), want[64];
	struct xmlr_opts o = { "order", 0, 0 };
	struct rd d;
	struct rec rec;
	size_t libxml_peak, base;

	(void)state;
	assert_non_null(doc);
	len += (size_t)snprintf(doc, cap, "<export entity=\"orders\">\n");
	for (i = 0; i < BIG_RECORDS; i++) {
		if (i % 2 == 0)
			len += (size_t)snprintf(doc + len, cap - len,
						"  <order order_id=\"o-%zu\" customer_id=\"c-%zu\" "
						"amount=\"%zu.50\"/>\n", i, i % 977, i);
		else
			len += (size_t)snprintf(doc + len, cap - len,
						"  <order><order_id>o-%zu</order_id><customer_id>c-%zu"
						"</customer_id><amount>%zu.50</amount></order>\n",
						i, i % 977, i);
	}
	len += (size_t)snprintf(doc + len, cap - len, "</export>\n");
	assert_true(len > 10u * 1000 * 1000);

	base = mem_peak = mem_now;
	rd_open_opts(&d, doc, len, &o, order_names, 4);
	for (i = 0; i < BIG_RECORDS; i++) {
		assert_int_equal(next(&d, &rec), 1);
		assert_false(rec.bad);
		assert_int_equal(rec.line, (long)i + 2); /* exact, also past 65535 */
		snprintf(want, sizeof(want), "o-%zu", i);
		assert_val(&rec, 0, want);
		if (i == 0 || i == BIG_RECORDS - 1 || i % 9973 == 0) {
			snprintf(want, sizeof(want), "c-%zu", i % 977);
			assert_val(&rec, 1, want);
			snprintf(want, sizeof(want), "%zu.50", i);
			assert_val(&rec, 3, want);
			assert_null(rec.val[2]);
		}
	}
	assert_int_equal(next(&d, &rec), 0);
	assert_int_equal(xmlr_records(d.r), BIG_RECORDS);
	libxml_peak = mem_peak - base;
	rd_close(&d);
	free(doc);
	/* Streaming: libxml2 never holds more than a sliver of the 20 MB. */
	if (libxml_peak > 512 * 1024)
		fail_msg("libxml2 peaked at %zu bytes for %zu bytes of XML", libxml_peak, len);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms_mixed),
		cmocka_unit_test(test_name_mapping),
		cmocka_unit_test(test_absent_and_empty),
		cmocka_unit_test(test_entities_and_cdata),
		cmocka_unit_test(test_trimming),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_read_boundaries),
		cmocka_unit_test(test_given_twice),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_default_limit_and_split_text),
		cmocka_unit_test(test_nested_elements),
		cmocka_unit_test(test_skipped_outside_records),
		cmocka_unit_test(test_record_is_root),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_unclosed_reports_line),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_doctype_variants),
		cmocka_unit_test(test_external_entity),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_prolog_limit),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_latin1),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_large_streamed),
	};
	int failed;

	/* Before libxml2 allocates anything. */
	xmlMemSetup(t_free, t_malloc, t_realloc, t_strdup);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	xmlCleanupParser();
	return failed;
}
