/*
 * test_cfg.c - unit tests of etl/cfg.c: the pipeline.conf reader.
 *
 * Each case parses a small text with cfg_parse() and checks either every
 * field it should set or the exact error: code, line, key and the words of
 * the message. Timezones are checked against a private TZDIR made in the
 * group setup, so results do not depend on the machine's tzdata (one case
 * uses the system's and skips without it). Secret files are made with
 * mkstemp and removed by the case that made them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

/* A valid source, appended after the lines a case is about. */
#define MIN_SRC "[source.o]\nentity = orders\nfile = o.csv\n"

static char tzdir[64];

/* ---- helpers ---- */

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* A temporary file with `text` and `mode`; the caller unlinks `path`. */
static void make_temp(char *path, size_t n, const char *text, size_t len, mode_t mode)
{
	int fd;

	snprintf(path, n, "%s", "/tmp/crmetl-test-cfg.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static struct cfg *parse_base(const char *text, const char *base)
{
	struct crm_err e = { 0 };
	struct cfg *c = NULL;
	int rc = cfg_parse(text, strlen(text), "t.conf", base, &c, &e);

	if (rc != 0)
		print_error("unexpected error %d: %s (line %ld, field %s)\n", rc, e.msg, e.line, e.field);
	assert_int_equal(rc, 0);
	assert_int_equal(e.code, 0);
	assert_non_null(c);
	return c;
}

static struct cfg *parse_ok(const char *text)
{
	return parse_base(text, NULL);
}

/* Parse `text` and expect a config error at `line` on `field` whose message has `needle`. */
static void expect_err_len(const char *text, size_t len, long line, const char *field,
			   const char *needle, struct crm_err *out)
{
	struct crm_err e = { 0 };
	struct cfg *c = (struct cfg *)&e; /* must be reset to NULL */
	int rc = cfg_parse(text, len, "t.conf", NULL, &c, &e);
	size_t n = strlen(e.msg);

	if (rc != CRM_E_CONFIG || e.line != line || strcmp(e.field, field ? field : "") != 0 ||
	    (needle && !strstr(e.msg, needle)))
		print_error("got rc=%d line=%ld field='%s' msg='%s'\n", rc, e.line, e.field, e.msg);
	assert_int_equal(rc, CRM_E_CONFIG);
	assert_int_equal(e.code, CRM_E_CONFIG);
	assert_null(c);
	assert_int_equal(e.line, line);
	assert_string_equal(e.field, field ? field : "");
	assert_string_equal(e.where, "t.conf");
	if (needle)
		assert_non_null(strstr(e.msg, needle));
	/* STYLE.md: lowercase, no final period. */
	assert_true(n > 0);
	assert_false(e.msg[0] >= 'A' && e.msg[0] <= 'Z');
	assert_true(e.msg[n - 1] != '.');
	if (out)
		*out = e;
}

static void expect_err(const char *text, long line, const char *field, const char *needle)
{
	expect_err_len(text, strlen(text), line, field, needle, NULL);
}

/* ---- group setup: a private zoneinfo ---- */

static int setup_tzdir(void **state)
{
	char path[128];

	(void)state;
	snprintf(tzdir, sizeof(tzdir), "%s", "/tmp/crmetl-test-tz.XXXXXX");
	if (!mkdtemp(tzdir))
		return -1;
	snprintf(path, sizeof(path), "%s/Test", tzdir);
	if (mkdir(path, 0700) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/Test/Zone", tzdir);
	write_file(path, "TZif2\0\0\0", 8, 0644);
	snprintf(path, sizeof(path), "%s/zone_tab", tzdir);
	write_file(path, "# not a zone\n", 13, 0644);
	return setenv("TZDIR", tzdir, 1);
}

static int teardown_tzdir(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/Test/Zone", tzdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/zone_tab", tzdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/Test", tzdir);
	rmdir(path);
	rmdir(tzdir);
	return 0;
}

/* ---- a full configuration ---- */

static const char full_conf[] =
	"# crmetl test configuration\n"                         /* 1 */
	"[pipeline]\n"                                          /* 2 */
	"data_dir = /srv/crm/var\n"                             /* 3 */
	"timezone = Test/Zone\n"                                /* 4 */
	"currency = EUR\n"                                      /* 5 */
	"max_reject_ratio = 0.05\n"                             /* 6 */
	"\n"                                                    /* 7 */
	"[source.orders]\n"                                     /* 8 */
	"entity = orders\n"                                     /* 9 */
	"url = https://crm.example/export/orders.csv.gz\n"      /* 10 */
	"delimiter = ;\n"                                       /* 11: a comment, see below */
	"map.customer_id = CustomerID\n"                        /* 12 */
	"map.amount = Total\n"                                  /* 13 */
	"header.Authorization = env:CRM_TOKEN\n"                /* 14 */
	"header.X-Api-Key = file:/etc/crmetl/key\n"             /* 15 */
	"ca_file = /etc/ssl/crm.pem\n"                          /* 16 */
	"timeout = 600\n"                                       /* 17 */
	"connect_timeout = 10\n"                                /* 18 */
	"max_bytes = 512M\n"                                    /* 19 */
	"retries = 2\n"                                         /* 20 */
	"\n"
	"[source.customers]\n"
	"entity = customers\n"
	"file = /data/customers.xml\n"
	"record = client\n"
	"map.customer_id = id\n"
	"\n"
	"[fetch]\n"
	"concurrency = 8\n"
	"\n"
	"[metrics]\n"
	"churn_model = contractual\n"
	"inactivity_days = 120\n"
	"sla_hours = 24\n"
	"max_lifespan_years = 7\n"
	"loyalty_weights = 2, 1.5, 0\n"
	"\n"
	"[report]\n"
	"template = board_pack\n"
	"lang = zh\n"
	"title = \"Quarterly \\\"CRM\\\" review\"\n"
	"\n"
	"[mail]\n"
	"url = smtps://smtp.example:465\n"
	"from = reports@example.com\n"
	"to = ceo@example.com, cfo@example.com\n"
	"user = env:SMTP_USER\n"
	"password = file:/etc/crmetl/smtp-password\n"
	"subject = CRM {period}\n"
	"\n"
	"[mail.east]\n"
	"to = east@example.com\n"
	"lang = en\n"
	"segment = region = East\n";

static void test_full_config(void **state)
{
	struct cfg *c;
	const struct cfg_source *s;
	const struct cfg_mail *m;

	(void)state;
	/* line 11's ';' is a comment: quote it to get a ';' delimiter */
	expect_err(full_conf, 11, "delimiter", "delimiter = \";\"");
	{
		char *text = strdup(full_conf);
		char *d = strstr(text, "delimiter = ;");

		assert_non_null(d);
		memcpy(d, "delimiter = |", 13);
		c = parse_ok(text);
		free(text);
	}
	assert_string_equal(c->path, "t.conf");
	assert_string_equal(c->dir, ".");
	assert_string_equal(c->data_dir, "/srv/crm/var");
	assert_string_equal(c->timezone, "Test/Zone");
	assert_string_equal(c->currency, "EUR");
	assert_true(c->max_reject_ratio > 0.0499 && c->max_reject_ratio < 0.0501);

	assert_int_equal(c->n_sources, 2);
	s = &c->sources[0];
	assert_string_equal(s->name, "orders");
	assert_int_equal(s->line, 8);
	assert_int_equal(s->entity, ENT_ORDERS);
	assert_null(s->file);
	assert_string_equal(s->url, "https://crm.example/export/orders.csv.gz");
	assert_int_equal(s->format, CFG_FMT_CSV);
	assert_int_equal(s->delimiter, '|');
	assert_string_equal(s->record, "order");
	assert_string_equal(s->map[schema_field_index(ENT_ORDERS, "customer_id")], "CustomerID");
	assert_string_equal(s->map[schema_field_index(ENT_ORDERS, "amount")], "Total");
	assert_null(s->map[schema_field_index(ENT_ORDERS, "order_id")]);
	assert_int_equal(s->n_headers, 2);
	assert_string_equal(s->headers[0].key, "Authorization");
	assert_string_equal(s->headers[0].value, "env:CRM_TOKEN");
	assert_int_equal(s->headers[0].line, 14);
	assert_string_equal(s->headers[1].key, "X-Api-Key");
	assert_string_equal(s->headers[1].value, "file:/etc/crmetl/key");
	assert_string_equal(s->ca_file, "/etc/ssl/crm.pem");
	assert_int_equal(s->timeout_s, 600);
	assert_int_equal(s->connect_timeout_s, 10);
	assert_true(s->max_bytes == 512ULL << 20);
	assert_int_equal(s->retries, 2);

	s = &c->sources[1];
	assert_string_equal(s->name, "customers");
	assert_int_equal(s->entity, ENT_CUSTOMERS);
	assert_string_equal(s->file, "/data/customers.xml");
	assert_null(s->url);
	assert_int_equal(s->format, CFG_FMT_XML);
	assert_int_equal(s->delimiter, ',');
	assert_string_equal(s->record, "client");
	assert_string_equal(s->map[0], "id");
	assert_int_equal(s->n_headers, 0);
	assert_null(s->ca_file);
	assert_int_equal(s->timeout_s, 300);
	assert_int_equal(s->connect_timeout_s, 30);
	assert_true(s->max_bytes == 4ULL << 30);
	assert_int_equal(s->retries, 4);

	assert_int_equal(c->fetch_concurrency, 8);
	assert_int_equal(c->churn_model, CFG_CHURN_CONTRACTUAL);
	assert_int_equal(c->inactivity_days, 120);
	assert_int_equal(c->sla_hours, 24);
	assert_int_equal(c->max_lifespan_years, 7);
	assert_true(c->loyalty_weights[0] == 2.0);
	assert_true(c->loyalty_weights[1] == 1.5);
	assert_true(c->loyalty_weights[2] == 0.0);
	assert_string_equal(c->report_template, "board_pack");
	assert_string_equal(c->report_lang, "zh");
	assert_string_equal(c->report_title, "Quarterly \"CRM\" review");

	assert_int_equal(c->n_mails, 2);
	m = &c->mails[0];
	assert_string_equal(m->name, "");
	assert_string_equal(m->url, "smtps://smtp.example:465");
	assert_string_equal(m->from, "reports@example.com");
	assert_int_equal(m->n_to, 2);
	assert_string_equal(m->to[0], "ceo@example.com");
	assert_string_equal(m->to[1], "cfo@example.com");
	assert_string_equal(m->user, "env:SMTP_USER");
	assert_string_equal(m->password, "file:/etc/crmetl/smtp-password");
	assert_string_equal(m->subject, "CRM {period}");
	assert_null(m->template);
	assert_null(m->lang);
	assert_null(m->segment);
	m = &c->mails[1];
	assert_string_equal(m->name, "east");
	assert_int_equal(m->n_to, 1);
	assert_string_equal(m->to[0], "east@example.com");
	assert_string_equal(m->url, "smtps://smtp.example:465");
	assert_string_equal(m->from, "reports@example.com");
	assert_string_equal(m->user, "env:SMTP_USER");
	assert_string_equal(m->password, "file:/etc/crmetl/smtp-password");
	assert_string_equal(m->subject, "CRM {period}");
	assert_string_equal(m->lang, "en");
	assert_null(m->template);
	assert_string_equal(m->segment, "region=East");

	assert_ptr_equal(cfg_source_by_name(c, "customers"), &c->sources[1]);
	assert_null(cfg_source_by_name(c, "leads"));
	cfg_free(c);
}

static void test_defaults(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok(MIN_SRC);
	assert_string_equal(c->data_dir, "var");
	assert_string_equal(c->timezone, "UTC");
	assert_string_equal(c->currency, "USD");
	assert_true(c->max_reject_ratio == 0.01);
	assert_int_equal(c->fetch_concurrency, 4);
	assert_int_equal(c->churn_model, CFG_CHURN_ACTIVITY);
	assert_int_equal(c->inactivity_days, 90);
	assert_int_equal(c->sla_hours, 48);
	assert_int_equal(c->max_lifespan_years, 10);
	assert_true(c->loyalty_weights[0] == 1.0 && c->loyalty_weights[1] == 1.0 &&
		    c->loyalty_weights[2] == 1.0);
	assert_string_equal(c->report_template, "executive");
	assert_string_equal(c->report_lang, "en");
	assert_string_equal(c->report_title, "Customer metrics");
	assert_int_equal(c->n_mails, 0);
	assert_null(c->mails);
	assert_int_equal(c->n_sources, 1);
	assert_string_equal(c->sources[0].file, "o.csv");
	assert_int_equal(c->sources[0].format, CFG_FMT_CSV);
	assert_string_equal(c->sources[0].record, "order");
	cfg_free(c);
}

static void test_record_default_per_entity(void **state)
{
	static const char *const expect[ENT_COUNT] = {
		"customer", "order", "spend", "survey", "ticket", "interaction", "lead"
	};
	char text[256];
	int i;

	(void)state;
	for (i = 0; i < ENT_COUNT; i++) {
		struct cfg *c;

		snprintf(text, sizeof(text), "[source.x]\nentity = %s\nfile = x.xml\n",
			 schema_entity((enum schema_entity)i)->name);
		c = parse_ok(text);
		assert_int_equal(c->sources[0].entity, i);
		assert_string_equal(c->sources[0].record, expect[i]);
		assert_int_equal(c->sources[0].format, CFG_FMT_XML);
		cfg_free(c);
	}
}

/* ---- syntax ---- */

static void test_comments_and_blanks(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("# hash comment\n"
		     "; semicolon comment\n"
		     "   # indented comment\n"
		     "\n"
		     "   \t  \n"
		     "[report]   # comment after a header\n"
		     "title = Sales review   # trailing comment\n"
		     "template = executive\t; tab then semicolon\n"
		     "[ pipeline ] ; spaces inside the brackets\n"
		     "currency=GBP\n"
		     MIN_SRC);
	assert_string_equal(c->report_title, "Sales review");
	assert_string_equal(c->report_template, "executive");
	assert_string_equal(c->currency, "GBP");
	cfg_free(c);
}

static void test_hash_without_space_is_literal(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("[report]\ntitle = Q#1;x  #c\n" MIN_SRC);
	assert_string_equal(c->report_title, "Q#1;x");
	cfg_free(c);
}

static void test_double_quotes_and_escapes(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("[report]\ntitle = \"  a \\\"b\\\" \\\\ #c ;d  \"  # real comment\n"
		     "[source.o]\nentity = orders\nfile = o.csv\n"
		     "map.customer_id = \"Customer\\tID\\nX\"\n");
	assert_string_equal(c->report_title, "  a \"b\" \\ #c ;d  ");
	assert_string_equal(c->sources[0].map[1], "Customer\tID\nX");
	cfg_free(c);
}

static void test_single_quotes_literal(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("[report]\ntitle = 'a\\nb \"#x\" ;y'\n" MIN_SRC);
	assert_string_equal(c->report_title, "a\\nb \"#x\" ;y");
	cfg_free(c);
}

static void test_crlf_and_bom(void **state)
{
	struct cfg *c;
	struct crm_err e;
	static const char bad[] = "\xEF\xBB\xBF[pipeline]\r\ncurrency = usd\r\n";

	(void)state;
	c = parse_ok("\xEF\xBB\xBF[pipeline]\r\ncurrency = CHF\r\n\r\n"
		     "[source.o]\r\nentity = orders\r\nfile = \"o.csv\"  \r\n");
	assert_string_equal(c->currency, "CHF");
	assert_string_equal(c->sources[0].file, "o.csv");
	cfg_free(c);
	/* the BOM does not shift line numbers, CR does not end up in values */
	expect_err_len(bad, sizeof(bad) - 1, 2, "currency", "invalid currency 'usd'", &e);
}

static void test_no_final_newline(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("[source.o]\nentity = orders\nfile = o.csv");
	assert_string_equal(c->sources[0].file, "o.csv");
	cfg_free(c);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_err("[pipeline]\nthis is not a pair\n", 2, NULL, "cannot parse line");
	expect_err("[pipeline\n", 1, NULL, "missing ']'");
	expect_err("[pipeline] x\n", 1, NULL, "unexpected text after section header");
	expect_err("[ ]\n", 1, NULL, "empty section name");
	expect_err("[pipeline]\n = x\n", 2, NULL, "missing key before '='");
	expect_err("[pipeline]\ntime zone = UTC\n", 2, NULL, "invalid key 'time zone'");
	expect_err("currency = USD\n", 1, "currency", "key 'currency' outside any section");
	expect_err("[report]\ntitle = \"abc\n", 2, "title", "missing closing quote");
	expect_err("[report]\ntitle = 'abc\n", 2, "title", "missing closing quote");
	expect_err("[report]\ntitle = \"abc\\\"\n", 2, "title", "missing closing quote");
	expect_err("[report]\ntitle = \"abc\\\n", 2, "title", "missing closing quote");
	expect_err("[report]\ntitle = \"a\\qb\"\n", 2, "title", "unknown escape");
	expect_err("[report]\ntitle = \"abc\" def\n", 2, "title", "unexpected text after the closing quote");
	expect_err("[report]\ntitle =\n", 2, "title", "missing value for 'title'");
	expect_err("[report]\ntitle = \"\"\n", 2, "title", "missing value");
	expect_err("[report]\ntitle = # only a comment\n", 2, "title", "missing value");
	expect_err("[source.o]\nentity = orders\nfile = o.csv\ndelimiter = ;\n", 4, "delimiter",
		   "delimiter = \";\"");
}

static void test_garbage_line_not_echoed(void **state)
{
	struct crm_err e;
	static const char text[] = "[mail]\npassword: hunter2\n";

	(void)state;
	expect_err_len(text, sizeof(text) - 1, 2, NULL, "cannot parse line", &e);
	assert_null(strstr(e.msg, "hunter2"));
}

static void test_control_characters(void **state)
{
	static const char nul[] = "[report]\ntitle = a\0b\n" MIN_SRC;
	static const char bell[] = "[report]\n\ntitle = a\ab\n";
	static const char cr[] = "[report]\ntitle = a\rb\n";

	(void)state;
	expect_err_len(nul, sizeof(nul) - 1, 2, NULL, "invalid control character 0x00", NULL);
	expect_err_len(bell, sizeof(bell) - 1, 3, NULL, "invalid control character 0x07", NULL);
	expect_err_len(cr, sizeof(cr) - 1, 2, NULL, "0x0d", NULL);
	/* an escape cannot smuggle a line break into a title or subject */
	expect_err("[report]\ntitle = \"a\\nBcc: x@y\"\n", 2, "title", "one line");
	expect_err("[source.o]\nfile = \"o\\n.csv\"\n", 2, "file", "invalid file (control characters in a path)");
	expect_err("[mail]\nsubject = \"a\\nb\"\n", 2, "subject", "one line");
}

static void test_too_big(void **state)
{
	struct crm_err e = { 0 };
	struct cfg *c = NULL;
	size_t n = 1024 * 1024 + 1;
	char *text = malloc(n);

	(void)state;
	assert_non_null(text);
	memset(text, '\n', n);
	assert_int_equal(cfg_parse(text, n, "t.conf", NULL, &c, &e), CRM_E_CONFIG);
	assert_null(c);
	assert_non_null(strstr(e.msg, "bigger than 1 MiB"));
	free(text);
}

/* ---- sections and keys ---- */

static void test_unknown_section(void **state)
{
	(void)state;
	expect_err("[pipline]\n", 1, NULL, "unknown section '[pipline]' (did you mean '[pipeline]'?)");
	expect_err("[Metrics]\n", 1, NULL, "did you mean '[metrics]'?");
	expect_err("[sources.orders]\n", 1, NULL, "did you mean '[source.orders]'?");
	expect_err("[mial.board]\n", 1, NULL, "did you mean '[mail.board]'?");
	expect_err("[sorce]\n", 1, NULL, "did you mean '[source.NAME]'?");
	expect_err("[database]\n", 1, NULL, "unknown section '[database]' (expected [pipeline]");
	expect_err("[source]\n", 1, NULL, "needs a name");
	expect_err("[source.]\n", 1, NULL, "invalid section name '[source.]'");
	expect_err("[source.a b]\n", 1, NULL, "invalid section name");
	expect_err("[source.../etc]\n", 1, NULL, "invalid section name");
	expect_err("[mail.x.y]\n", 1, NULL, "invalid section name");
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_err("[pipeline]\ntimezon = UTC\n", 2, "timezon",
		   "unknown key 'timezon' in [pipeline] (did you mean 'timezone'?)");
	expect_err("[pipeline]\ntiemzone = UTC\n", 2, "tiemzone", "(did you mean 'timezone'?)");
	expect_err("[source.o]\nentity = orders\nfiel = o.csv\n", 3, "fiel",
		   "unknown key 'fiel' in [source.o] (did you mean 'file'?)");
	expect_err("[source.o]\nheaders.Authorization = env:T\n", 2, "headers.Authorization",
		   "(did you mean 'header.Authorization'?)");
	expect_err("[source.o]\nmaps.amount = Total\n", 2, "maps.amount", "(did you mean 'map.amount'?)");
	expect_err("[mail]\nreciepients = a@b\n", 2, "reciepients", "unknown key 'reciepients' in [mail]");
	expect_err("[mail.board]\nsegmnt = tier=gold\n", 2, "segmnt",
		   "in [mail.board] (did you mean 'segment'?)");
	expect_err("[metrics]\nsla = 4\n", 2, "sla", "unknown key 'sla' in [metrics]");
	expect_err("[fetch]\nconcurency = 4\n", 2, "concurency", "(did you mean 'concurrency'?)");
	/* map. and header. belong to sources only */
	expect_err("[report]\nmap.x = y\n", 2, "map.x", "unknown key 'map.x' in [report]");
}

static void test_unknown_key_no_wild_guess(void **state)
{
	struct crm_err e;
	static const char text[] = "[pipeline]\nxyzzy = 1\n";

	(void)state;
	expect_err_len(text, sizeof(text) - 1, 2, "xyzzy", "unknown key 'xyzzy' in [pipeline]", &e);
	assert_null(strstr(e.msg, "did you mean"));
}

static void test_map_fields(void **state)
{
	struct cfg *c;

	(void)state;
	/* map keys before the entity are checked at the end of the section */
	c = parse_ok("[source.t]\nmap.opened_at = Created\nmap.kind = Type\n"
		     "entity = tickets\nfile = t.csv\n");
	assert_string_equal(c->sources[0].map[schema_field_index(ENT_TICKETS, "opened_at")], "Created");
	assert_string_equal(c->sources[0].map[schema_field_index(ENT_TICKETS, "kind")], "Type");
	cfg_free(c);

	expect_err("[source.o]\nfile = o.csv\nmap.custome_id = Cust\nentity = orders\n", 3,
		   "map.custome_id",
		   "unknown field 'custome_id' of entity orders in [source.o] (did you mean 'map.customer_id'?)");
	/* reported for the section that holds it, even when another follows */
	expect_err("[source.o]\nmap.signup_date = S\nentity = orders\nfile = o.csv\n[report]\n", 2,
		   "map.signup_date", "unknown field 'signup_date' of entity orders");
	expect_err("[source.o]\nentity = orders\nfile = o.csv\nmap.amount = A\nmap.amount = B\n", 5,
		   "map.amount", "key 'map.amount' given twice in [source.o] (first at line 4)");
	expect_err("[source.o]\nentity = orders\nfile = o.csv\nmap. = A\n", 4, "map.",
		   "unknown field ''");
}

static void test_duplicates(void **state)
{
	(void)state;
	expect_err("[pipeline]\ntimezone = UTC\ncurrency = USD\ntimezone = UTC\n", 4, "timezone",
		   "key 'timezone' given twice in [pipeline] (first at line 2)");
	expect_err("[pipeline]\n[report]\n[pipeline]\n", 3, NULL,
		   "section '[pipeline]' given twice (first at line 1)");
	expect_err(MIN_SRC "[source.o]\n", 4, NULL, "section '[source.o]' given twice (first at line 1)");
	expect_err("[mail]\nto = a@b\n[mail]\n", 3, NULL, "section '[mail]' given twice");
	expect_err("[mail.x]\nto = a@b\n[mail.x]\n", 3, NULL, "section '[mail.x]' given twice");
	expect_err("[source.o]\nheader.Authorization = env:A\nheader.authorization = env:B\n", 3,
		   "header.authorization", "header 'authorization' given twice in [source.o] (first at line 2)");
}

static void test_required_keys(void **state)
{
	(void)state;
	expect_err("\n[source.o]\nfile = o.csv\n", 2, "entity", "missing key 'entity' in [source.o]");
	expect_err("[source.o]\nentity = orders\n\n[report]\n", 1, "file",
		   "missing key 'file' or 'url' in [source.o]");
	expect_err("[source.o]\nentity = orders\nfile = o.csv\nurl = https://x/o.csv\n", 1, "url",
		   "conflicting keys 'file' and 'url' in [source.o]");
	expect_err("[mail]\nurl = smtp://h\nfrom = a@b\n" MIN_SRC, 1, "to", "missing key 'to' in [mail]");
	expect_err(MIN_SRC "[mail]\nfrom = a@b\nto = c@d\n", 4, "url", "missing key 'url' in [mail]");
	expect_err(MIN_SRC "[mail.board]\nurl = smtp://h\nto = c@d\n", 4, "from",
		   "missing key 'from' in [mail.board]");
}

static void test_no_source(void **state)
{
	(void)state;
	expect_err("[pipeline]\ncurrency = USD\n", 0, NULL, "no [source.NAME] section");
	expect_err("", 0, NULL, "at least one source is required");
}

/* Append printf-formatted text to a growing buffer (test helper). */
__attribute__((format(printf, 3, 4)))
static void append(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char line[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	*buf = realloc(*buf, *len + (size_t)n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, line, (size_t)n + 1);
	*len += (size_t)n;
}

/* Each named ceiling is a clean error on the line that passes it. */
static void test_limits(void **state)
{
	char *text = NULL;
	size_t len = 0;
	int i;

	(void)state;
	for (i = 0; i < 257; i++)
		append(&text, &len, "[source.s%d]\nentity = orders\nfile = o.csv\n", i);
	expect_err(text, 256 * 3 + 1, NULL, "too many [source.NAME] sections (at most 256)");
	free(text);
	text = NULL;
	len = 0;

	append(&text, &len, "%s", MIN_SRC);
	for (i = 0; i < 65; i++)
		append(&text, &len, "header.X-%d = env:X\n", i);
	expect_err(text, 3 + 65, "header.X-64", "too many headers in [source.o] (at most 64)");
	free(text);
	text = NULL;
	len = 0;

	append(&text, &len, "%s", MIN_SRC);
	for (i = 0; i < 65; i++)
		append(&text, &len, "map.f%d = c\n", i);
	expect_err(text, 3 + 65, "map.f64", "too many map keys in [source.o] (at most 64)");
	free(text);
	text = NULL;
	len = 0;

	append(&text, &len, "%s", "[mail]\nto = a0@x");
	for (i = 1; i < 257; i++)
		append(&text, &len, ",a%d@x", i);
	append(&text, &len, "%s", "\n");
	expect_err(text, 2, "to", "too many addresses in to (at most 256)");
	free(text);
	text = NULL;
	len = 0;

	for (i = 0; i < 65; i++)
		append(&text, &len, "[mail.m%d]\nto = a@x\n", i);
	expect_err(text, 64 * 2 + 1, NULL, "too many [mail] sections (at most 64)");
	free(text);
}

/* ---- values ---- */

static void test_entity_and_format(void **state)
{
	struct cfg *c;

	(void)state;
	expect_err("[source.o]\nentity = order\n", 2, "entity", "unknown entity 'order' (did you mean 'orders'?)");
	expect_err("[source.o]\nentity = payments\n", 2, "entity", "(expected customers, orders,");
	expect_err("[source.o]\nformat = json\n", 2, "format", "invalid format 'json' (expected csv or xml)");

	c = parse_ok("[source.a]\nentity = orders\nfile = in/a.XML.GZ\n"
		     "[source.b]\nentity = orders\nurl = https://h/export.xml?since=1\n"
		     "[source.c]\nentity = orders\nfile = c.csv.gz\n"
		     "[source.d]\nentity = orders\nfile = d.xml\nformat = csv\n"
		     "[source.e]\nentity = orders\nurl = https://h/xml\n"
		     "[source.f]\nentity = orders\nfile = f.txt\nformat = xml\n");
	assert_int_equal(c->sources[0].format, CFG_FMT_XML);
	assert_int_equal(c->sources[1].format, CFG_FMT_XML);
	assert_int_equal(c->sources[2].format, CFG_FMT_CSV);
	assert_int_equal(c->sources[3].format, CFG_FMT_CSV);
	assert_int_equal(c->sources[4].format, CFG_FMT_CSV);
	assert_int_equal(c->sources[5].format, CFG_FMT_XML);
	cfg_free(c);
}

static void test_delimiter(void **state)
{
	static const struct { const char *text; char want; } ok[] = {
		{ "\\t", '\t' }, { "tab", '\t' }, { "TAB", '\t' }, { "\"\\t\"", '\t' },
		{ "\";\"", ';' }, { "'#'", '#' }, { "|", '|' }, { "\" \"", ' ' },
	};
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg *c;

		snprintf(text, sizeof(text), MIN_SRC "delimiter = %s\n", ok[i].text);
		c = parse_ok(text);
		assert_int_equal(c->sources[0].delimiter, ok[i].want);
		cfg_free(c);
	}
	expect_err(MIN_SRC "delimiter = ab\n", 4, "delimiter", "invalid delimiter 'ab'");
	expect_err(MIN_SRC "delimiter = '\"'\n", 4, "delimiter", "invalid delimiter");
	expect_err(MIN_SRC "delimiter = \"\\n\"\n", 4, "delimiter", "invalid delimiter");
	expect_err(MIN_SRC "delimiter = \xC3\xA9\n", 4, "delimiter", "invalid delimiter");
}

static void test_record(void **state)
{
	(void)state;
	expect_err(MIN_SRC "record = 1row\n", 4, "record", "invalid record '1row'");
	expect_err(MIN_SRC "record = <row>\n", 4, "record", "invalid record");
}

static void test_timezone(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("[pipeline]\ntimezone = Test/Zone\n" MIN_SRC);
	assert_string_equal(c->timezone, "Test/Zone");
	cfg_free(c);
	c = parse_ok("[pipeline]\ntimezone = UTC\n" MIN_SRC);
	assert_string_equal(c->timezone, "UTC");
	cfg_free(c);
	expect_err("[pipeline]\ntimezone = Test/Nowhere\n", 2, "timezone",
		   "unknown timezone 'Test/Nowhere' (no zone file in /tmp/crmetl-test-tz.");
	expect_err("[pipeline]\ntimezone = Test\n", 2, "timezone", "unknown timezone 'Test'");
	expect_err("[pipeline]\ntimezone = zone_tab\n", 2, "timezone", "unknown timezone 'zone_tab'");
	expect_err("[pipeline]\ntimezone = ../../etc/passwd\n", 2, "timezone", "invalid timezone");
	expect_err("[pipeline]\ntimezone = Test/../Test/Zone\n", 2, "timezone", "invalid timezone");
	expect_err("[pipeline]\ntimezone = /etc/localtime\n", 2, "timezone", "invalid timezone");
	expect_err("[pipeline]\ntimezone = Europe/Paris;x\n", 2, "timezone", "invalid timezone");
	expect_err("[pipeline]\ntimezone = \"Test/Zone \"\n", 2, "timezone", "invalid timezone");
}

static void test_timezone_system(void **state)
{
	struct cfg *c;

	(void)state;
	if (access("/usr/share/zoneinfo/Europe/Paris", R_OK) != 0)
		skip();
	assert_int_equal(unsetenv("TZDIR"), 0);
	c = parse_ok("[pipeline]\ntimezone = Europe/Paris\n" MIN_SRC);
	assert_string_equal(c->timezone, "Europe/Paris");
	cfg_free(c);
	expect_err("[pipeline]\ntimezone = Europe/Pariss\n", 2, "timezone",
		   "no zone file in /usr/share/zoneinfo");
	assert_int_equal(setenv("TZDIR", tzdir, 1), 0);
}

static void test_currency(void **state)
{
	(void)state;
	expect_err("[pipeline]\ncurrency = usd\n", 2, "currency", "invalid currency 'usd'");
	expect_err("[pipeline]\ncurrency = US\n", 2, "currency", "invalid currency");
	expect_err("[pipeline]\ncurrency = USDX\n", 2, "currency", "invalid currency");
	expect_err("[pipeline]\ncurrency = U$D\n", 2, "currency", "invalid currency");
}

static void test_max_reject_ratio(void **state)
{
	static const char *const bad[] = {
		"nan", "inf", "NAN", "1.5", "0.5x", "-0.1", "+0.1", "1e-2", ".5", "5.",
		"0x1", "0,5", "2", "0.1.2", "1.0000000000001",
	};
	static const struct { const char *text; double want; } ok[] = {
		{ "0", 0.0 }, { "1", 1.0 }, { "1.0", 1.0 }, { "0.015", 0.015 }, { "0.5", 0.5 },
	};
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[pipeline]\nmax_reject_ratio = %s\n", bad[i]);
		expect_err(text, 2, "max_reject_ratio", "expected a decimal from 0 to 1");
	}
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg *c;

		snprintf(text, sizeof(text), "[pipeline]\nmax_reject_ratio = %s\n" MIN_SRC, ok[i].text);
		c = parse_ok(text);
		assert_true(c->max_reject_ratio > ok[i].want - 1e-12 &&
			    c->max_reject_ratio < ok[i].want + 1e-12);
		cfg_free(c);
	}
}

static void test_integers(void **state)
{
	static const char *const bad[] = {
		"0", "3651", "-1", "+5", "90x", "9 0", "0x10", "99999999999999999999", "1e2", "١٢",
	};
	char text[128];
	size_t i;
	struct cfg *c;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[metrics]\ninactivity_days = %s\n", bad[i]);
		expect_err(text, 2, "inactivity_days", "expected a whole number from 1 to 3650");
	}
	expect_err("[metrics]\nsla_hours = 8761\n", 2, "sla_hours", "from 1 to 8760");
	expect_err("[metrics]\nmax_lifespan_years = 101\n", 2, "max_lifespan_years", "from 1 to 100");
	expect_err("[metrics]\nchurn_model = decay\n", 2, "churn_model", "expected activity or contractual");
	expect_err("[fetch]\nconcurrency = 33\n", 2, "concurrency", "from 1 to 32");
	expect_err("[fetch]\nconcurrency = 0\n", 2, "concurrency", "from 1 to 32");
	expect_err(MIN_SRC "timeout = 3601\n", 4, "timeout", "from 1 to 3600");
	expect_err(MIN_SRC "connect_timeout = 601\n", 4, "connect_timeout", "from 1 to 600");
	expect_err(MIN_SRC "retries = 21\n", 4, "retries", "from 0 to 20");
	c = parse_ok("[metrics]\ninactivity_days = 3650\nsla_hours = 1\nmax_lifespan_years = 100\n"
		     "[fetch]\nconcurrency = 32\n" MIN_SRC "retries = 0\ntimeout = 1\n");
	assert_int_equal(c->inactivity_days, 3650);
	assert_int_equal(c->sla_hours, 1);
	assert_int_equal(c->max_lifespan_years, 100);
	assert_int_equal(c->fetch_concurrency, 32);
	assert_int_equal(c->sources[0].retries, 0);
	assert_int_equal(c->sources[0].timeout_s, 1);
	cfg_free(c);
}

static void test_max_bytes(void **state)
{
	static const struct { const char *text; unsigned long long want; } ok[] = {
		{ "1", 1 }, { "100", 100 }, { "64K", 64ULL << 10 }, { "64k", 64ULL << 10 },
		{ "5M", 5ULL << 20 }, { "2g", 2ULL << 30 }, { "1024G", 1ULL << 40 },
	};
	static const char *const bad[] = {
		"0", "1025G", "1T", "10KB", "K", "-1", "1.5G", "12 M", "99999999999999999999",
	};
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg *c;

		snprintf(text, sizeof(text), MIN_SRC "max_bytes = %s\n", ok[i].text);
		c = parse_ok(text);
		assert_true(c->sources[0].max_bytes == ok[i].want);
		cfg_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), MIN_SRC "max_bytes = %s\n", bad[i]);
		expect_err(text, 4, "max_bytes", "expected a size from 1 to 1024G");
	}
}

static void test_loyalty_weights(void **state)
{
	static const char *const bad[] = { "1,1", "1,1,1,1", "a,b,c", "1,,1", "1,-1,1", "1;1;1", "1 1 1" };
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[metrics]\nloyalty_weights = %s\n", bad[i]);
		expect_err(text, 2, "loyalty_weights", "expected three decimals");
	}
	expect_err("[metrics]\nloyalty_weights = 0, 0.0, 0\n", 2, "loyalty_weights", "all zero");
	/* the message quotes the value as written, not as cut up */
	expect_err("[metrics]\nloyalty_weights = 1 , 1 , x\n", 2, "loyalty_weights",
		   "invalid loyalty_weights '1 , 1 , x'");
}

static void test_report_values(void **state)
{
	(void)state;
	expect_err("[report]\nlang = fr\n", 2, "lang", "invalid lang 'fr' (expected en or zh)");
	expect_err("[report]\ntemplate = ../etc/x\n", 2, "template", "invalid template '../etc/x'");
	expect_err("[report]\ntemplate = exec.xml\n", 2, "template", "invalid template");
	expect_err("[mail]\nlang = EN\n", 2, "lang", "invalid lang");
	expect_err("[mail]\ntemplate = a/b\n", 2, "template", "invalid template");
}

static void test_urls(void **state)
{
	struct cfg *c;
	struct crm_err e;
	static const char cred[] = "[source.o]\nurl = https://bob:s3cret@crm.example/o.csv\n";
	static const char mcred[] = "[mail]\nurl = smtps://bob:s3cret@smtp.example\n";

	(void)state;
	c = parse_ok("[source.a]\nentity = orders\nurl = file:///srv/a.csv\n"
		     "[source.b]\nentity = orders\nurl = HTTP://h/b.csv\n"
		     "[source.c]\nentity = orders\nurl = https://h/c?user=a@b\n");
	assert_string_equal(c->sources[0].url, "file:///srv/a.csv");
	cfg_free(c);
	expect_err("[source.o]\nurl = ftp://h/o.csv\n", 2, "url",
		   "invalid url 'ftp://h/o.csv' (expected http://, https:// or file://)");
	expect_err("[source.o]\nurl = https://\n", 2, "url", "invalid url");
	expect_err("[source.o]\nurl = \"https://h/a b\"\n", 2, "url", "invalid url");
	expect_err("[mail]\nurl = https://smtp.example\n", 2, "url", "(expected smtp:// or smtps://)");
	expect_err_len(cred, sizeof(cred) - 1, 2, "url", "credentials in url refused", &e);
	assert_null(strstr(e.msg, "s3cret"));
	expect_err_len(mcred, sizeof(mcred) - 1, 2, "url", "credentials in url refused", &e);
	assert_null(strstr(e.msg, "s3cret"));
}

static void test_mail_addresses(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok(MIN_SRC "[mail]\nurl = smtp://localhost:2525\nfrom = r@x.example\n"
		     "to = a@x.example,b@y.example ,  c@z.example\n");
	assert_int_equal(c->mails[0].n_to, 3);
	assert_string_equal(c->mails[0].to[1], "b@y.example");
	assert_string_equal(c->mails[0].to[2], "c@z.example");
	assert_string_equal(c->mails[0].subject, "{title} {period} ({lang})");
	assert_null(c->mails[0].user);
	cfg_free(c);
	expect_err("[mail]\nto = a@b@c\n", 2, "to", "invalid address 'a@b@c' in to");
	expect_err("[mail]\nto = ceo\n", 2, "to", "invalid address 'ceo'");
	expect_err("[mail]\nto = @example.com\n", 2, "to", "invalid address");
	expect_err("[mail]\nto = ceo@\n", 2, "to", "invalid address");
	expect_err("[mail]\nto = ceo @example.com\n", 2, "to", "invalid address");
	expect_err("[mail]\nto = a@b,,c@d\n", 2, "to", "empty address in to");
	expect_err("[mail]\nto = a@b,\n", 2, "to", "empty address");
	expect_err("[mail]\nto = \"a@b\\nBcc: c@d\"\n", 2, "to", "invalid address");
	expect_err("[mail]\nto = Boss <a@b>\n", 2, "to", "invalid address");
	expect_err("[mail]\nfrom = a@b, c@d\n", 2, "from", "invalid address 'a@b, c@d' in from");
}

static void test_clv_and_mail_ca(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok(MIN_SRC "[metrics]\nclv_horizon_months = 24\nclv_discount_rate = 0.015\n"
		     "[mail]\nurl = smtp://h\nfrom = r@x\nto = a@x\nca_file = certs/ca.pem\n");
	assert_int_equal(c->clv_horizon_months, 24);
	assert_true(c->clv_discount_rate == 0.015);
	assert_non_null(strstr(c->mails[0].ca_file, "certs/ca.pem"));
	cfg_free(c);
	c = parse_ok(MIN_SRC);
	assert_int_equal(c->clv_horizon_months, 12);
	assert_true(c->clv_discount_rate == 0.01);
	cfg_free(c);
	expect_err(MIN_SRC "[metrics]\nclv_horizon_months = 0\n", 5, "clv_horizon_months", "from 1 to 120");
	expect_err(MIN_SRC "[metrics]\nclv_discount_rate = 1.5\n", 5, "clv_discount_rate",
		   "expected a monthly rate");
	expect_err(MIN_SRC "[metrics]\nclv_discount_rate = -0.01\n", 5, "clv_discount_rate",
		   "expected a monthly rate");
}

static void test_mail_segment(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok(MIN_SRC "[mail.gold]\nurl = smtp://h\nfrom = r@x\nto = a@x\nsegment = tier=Gold Plus\n"
		     "[mail.rfm]\nurl = smtp://h\nfrom = r@x\nto = a@x\nsegment = \"rfm = champions\"\n");
	assert_string_equal(c->mails[0].segment, "tier=Gold Plus");
	assert_string_equal(c->mails[1].segment, "rfm=champions");
	cfg_free(c);
	expect_err("[mail.x]\nsegment = country=FR\n", 2, "segment",
		   "invalid segment 'country=FR' (expected dim=value with dim channel, region, tier or rfm)");
	expect_err("[mail.x]\nsegment = region\n", 2, "segment", "invalid segment 'region'");
	expect_err("[mail.x]\nsegment = region=\n", 2, "segment", "invalid segment 'region='");
	expect_err("[mail.x]\nsegment = \"region = \"\n", 2, "segment", "invalid segment 'region = '");
	expect_err("[mail.x]\nsegment = 'zone = x'\n", 2, "segment", "invalid segment 'zone = x'");
}

static void test_mail_order_and_inheritance(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok(MIN_SRC
		     "[mail.board]\nto = board@x\nsubject = Board pack\ntemplate = board\n"
		     "[mail.ops]\nto = ops@x\nurl = smtp://relay:25\nfrom = ops-reports@x\n"
		     "[mail]\nurl = smtps://h:465\nfrom = r@x\nto = ceo@x\n"
		     "user = env:U\npassword = env:P\nlang = zh\n");
	assert_int_equal(c->n_mails, 3);
	assert_string_equal(c->mails[0].name, "");
	assert_int_equal(c->mails[0].line, 12);
	assert_string_equal(c->mails[0].subject, "{title} {period} ({lang})");
	assert_string_equal(c->mails[1].name, "board");
	assert_string_equal(c->mails[1].url, "smtps://h:465");
	assert_string_equal(c->mails[1].from, "r@x");
	assert_string_equal(c->mails[1].user, "env:U");
	assert_string_equal(c->mails[1].password, "env:P");
	assert_string_equal(c->mails[1].subject, "Board pack");
	assert_string_equal(c->mails[1].template, "board");
	assert_string_equal(c->mails[1].lang, "zh");
	assert_string_equal(c->mails[1].to[0], "board@x");
	assert_string_equal(c->mails[2].name, "ops");
	assert_string_equal(c->mails[2].url, "smtp://relay:25");
	assert_string_equal(c->mails[2].from, "ops-reports@x");
	assert_string_equal(c->mails[2].to[0], "ops@x");
	cfg_free(c);

	/* without [mail] a list stands alone */
	c = parse_ok(MIN_SRC "[mail.solo]\nurl = smtp://h\nfrom = r@x\nto = a@x\n");
	assert_int_equal(c->n_mails, 1);
	assert_string_equal(c->mails[0].name, "solo");
	assert_null(c->mails[0].user);
	assert_string_equal(c->mails[0].subject, "{title} {period} ({lang})");
	cfg_free(c);
	expect_err(MIN_SRC "[mail.solo]\nto = a@x\n", 4, "url", "missing key 'url' in [mail.solo]");
}

static void test_plain_secrets_refused(void **state)
{
	static const struct { const char *text; long line; const char *field; } cases[] = {
		{ "[source.o]\nheader.Authorization = Bearer hunter2\n", 2, "header.Authorization" },
		{ "[source.o]\nheader.X-Key = \"hunter2\"\n", 2, "header.X-Key" },
		{ "[mail]\npassword = hunter2\n", 2, "password" },
		{ "[mail]\nuser = hunter2\n", 2, "user" },
		{ "[mail.x]\npassword = 'hunter2'\n", 2, "password" },
	};
	struct crm_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_err_len(cases[i].text, strlen(cases[i].text), cases[i].line, cases[i].field,
			       "plain value refused", &e);
		assert_non_null(strstr(e.msg, "env:NAME or file:PATH"));
		assert_null(strstr(e.msg, "hunter2"));
	}
	expect_err_len("[mail]\npassword = env:hunter2 x\n", strlen("[mail]\npassword = env:hunter2 x\n"),
		       2, "password", "invalid secret reference", &e);
	assert_null(strstr(e.msg, "hunter2"));
	expect_err("[mail]\npassword = file:\n", 2, "password", "file: needs a path");
	expect_err_len("[mail]\npassword = \"hunter2\\q\"\n", strlen("[mail]\npassword = \"hunter2\\q\"\n"),
		       2, "password", "unknown escape", &e);
	assert_null(strstr(e.msg, "hunter2"));
	expect_err("[source.o]\nheader.Bad:Name = env:X\n", 2, "header.Bad:Name", "invalid header name 'Bad:Name'");
	expect_err("[source.o]\nheader. = env:X\n", 2, "header.", "invalid header name ''");
}

static void test_relative_paths(void **state)
{
	struct cfg *c;
	static const char text[] =
		"[pipeline]\ndata_dir = out\n"
		"[source.a]\nentity = orders\nfile = fixtures/*.csv\nca_file = ca.pem\n"
		"header.Authorization = file:secrets/token\nheader.X = env:X\n"
		"[source.b]\nentity = orders\nfile = /abs/b.csv\nca_file = /abs/ca.pem\n"
		"header.Authorization = file:/abs/token\n"
		"[mail]\nurl = smtp://h\nfrom = a@b\nto = c@d\npassword = file:pw\n";

	(void)state;
	c = parse_base(text, "/etc/crmetl");
	assert_string_equal(c->dir, "/etc/crmetl");
	assert_string_equal(c->data_dir, "/etc/crmetl/out");
	assert_string_equal(c->sources[0].file, "/etc/crmetl/fixtures/*.csv");
	assert_string_equal(c->sources[0].ca_file, "/etc/crmetl/ca.pem");
	assert_string_equal(c->sources[0].headers[0].value, "file:/etc/crmetl/secrets/token");
	assert_string_equal(c->sources[0].headers[1].value, "env:X");
	assert_string_equal(c->sources[1].file, "/abs/b.csv");
	assert_string_equal(c->sources[1].ca_file, "/abs/ca.pem");
	assert_string_equal(c->sources[1].headers[0].value, "file:/abs/token");
	assert_string_equal(c->mails[0].password, "file:/etc/crmetl/pw");
	cfg_free(c);

	c = parse_base(text, ".");
	assert_string_equal(c->dir, ".");
	assert_string_equal(c->data_dir, "out");
	assert_string_equal(c->sources[0].file, "fixtures/*.csv");
	assert_string_equal(c->sources[0].headers[0].value, "file:secrets/token");
	cfg_free(c);

	c = parse_base(MIN_SRC, "conf/");
	assert_string_equal(c->data_dir, "conf/var");
	assert_string_equal(c->sources[0].file, "conf/o.csv");
	cfg_free(c);

	c = parse_base(MIN_SRC, "/");
	assert_string_equal(c->data_dir, "/var");
	cfg_free(c);
}

static void test_error_format(void **state)
{
	struct crm_err e;
	char buf[600];
	static const char text[] = "[pipeline]\ntimezon = UTC\n";

	(void)state;
	expect_err_len(text, sizeof(text) - 1, 2, "timezon", NULL, &e);
	assert_string_equal(err_format(&e, buf, sizeof(buf)),
			    "unknown key 'timezon' in [pipeline] (did you mean 'timezone'?) (t.conf:2, field timezon)");
}

/* ---- loading files ---- */

static void test_load(void **state)
{
	char dir[] = "/tmp/crmetl-test-load.XXXXXX";
	char path[128], want[160];
	struct crm_err e = { 0 };
	struct cfg *c = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pipeline.conf", dir);
	write_file(path, MIN_SRC, strlen(MIN_SRC), 0644);
	assert_int_equal(cfg_load(path, &c, &e), 0);
	assert_string_equal(c->path, path);
	assert_string_equal(c->dir, dir);
	snprintf(want, sizeof(want), "%s/o.csv", dir);
	assert_string_equal(c->sources[0].file, want);
	snprintf(want, sizeof(want), "%s/var", dir);
	assert_string_equal(c->data_dir, want);
	cfg_free(c);
	assert_int_equal(unlink(path), 0);

	c = (struct cfg *)&e;
	assert_int_equal(cfg_load(path, &c, &e), CRM_E_CONFIG);
	assert_null(c);
	assert_int_equal(e.sys_errno, ENOENT);
	assert_string_equal(e.where, path);
	assert_string_equal(e.msg, "cannot open config file");

	err_clear(&e);
	assert_int_equal(cfg_load(dir, &c, &e), CRM_E_CONFIG);
	assert_int_equal(e.sys_errno, EISDIR);
	assert_int_equal(rmdir(dir), 0);
}

static void test_load_relative_and_errors(void **state)
{
	char path[64];
	struct crm_err e = { 0 };
	struct cfg *c = NULL;
	char *big;
	size_t n = 1024 * 1024 + 1;

	(void)state;
	/* a bare file name: paths stay as written */
	make_temp(path, sizeof(path), MIN_SRC, strlen(MIN_SRC), 0644);
	{
		char cwd[4096];
		const char *name = strrchr(path, '/') + 1;

		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(chdir("/tmp"), 0);
		assert_int_equal(cfg_load(name, &c, &e), 0);
		assert_int_equal(chdir(cwd), 0);
	}
	assert_string_equal(c->dir, ".");
	assert_string_equal(c->sources[0].file, "o.csv");
	cfg_free(c);
	unlink(path);

	/* an error in a loaded file names that file */
	make_temp(path, sizeof(path), "[pipline]\n", 10, 0644);
	assert_int_equal(cfg_load(path, &c, &e), CRM_E_CONFIG);
	assert_string_equal(e.where, path);
	assert_int_equal(e.line, 1);
	unlink(path);

	big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	make_temp(path, sizeof(path), big, n, 0644);
	free(big);
	err_clear(&e);
	assert_int_equal(cfg_load(path, &c, &e), CRM_E_CONFIG);
	assert_null(c);
	assert_non_null(strstr(e.msg, "bigger than 1 MiB"));
	unlink(path);
}

/* ---- secrets ---- */

static void test_is_secret_ref(void **state)
{
	(void)state;
	assert_true(cfg_is_secret_ref("env:CRM_TOKEN"));
	assert_true(cfg_is_secret_ref("env:_x1"));
	assert_true(cfg_is_secret_ref("file:/etc/x"));
	assert_true(cfg_is_secret_ref("file:rel/x"));
	assert_false(cfg_is_secret_ref(NULL));
	assert_false(cfg_is_secret_ref(""));
	assert_false(cfg_is_secret_ref("env:"));
	assert_false(cfg_is_secret_ref("env:1X"));
	assert_false(cfg_is_secret_ref("env:A-B"));
	assert_false(cfg_is_secret_ref("env:A B"));
	assert_false(cfg_is_secret_ref("file:"));
	assert_false(cfg_is_secret_ref("file:a\nb"));
	assert_false(cfg_is_secret_ref("ENV:X"));
	assert_false(cfg_is_secret_ref("hunter2"));
}

static void test_secret_env(void **state)
{
	struct crm_err e = { 0 };
	char *s = NULL;

	(void)state;
	assert_int_equal(setenv("CRMETL_TEST_SECRET", "tok en\n", 1), 0);
	assert_int_equal(cfg_secret_resolve("env:CRMETL_TEST_SECRET", &s, &e), 0);
	assert_string_equal(s, "tok en\n");
	free(s);

	assert_int_equal(setenv("CRMETL_TEST_SECRET", "", 1), 0);
	assert_int_equal(cfg_secret_resolve("env:CRMETL_TEST_SECRET", &s, &e), CRM_E_CONFIG);
	assert_null(s);
	assert_non_null(strstr(e.msg, "environment variable 'CRMETL_TEST_SECRET' is not set"));

	assert_int_equal(unsetenv("CRMETL_TEST_SECRET"), 0);
	err_clear(&e);
	assert_int_equal(cfg_secret_resolve("env:CRMETL_TEST_SECRET", &s, &e), CRM_E_CONFIG);
	assert_non_null(strstr(e.msg, "'CRMETL_TEST_SECRET' is not set"));

	err_clear(&e);
	assert_int_equal(cfg_secret_resolve("hunter2", &s, &e), CRM_E_CONFIG);
	assert_null(strstr(e.msg, "hunter2"));
	assert_non_null(strstr(e.msg, "invalid secret reference"));
}

static void resolve_file(const char *content, size_t len, mode_t mode, int want_rc,
			 const char *want, const char *needle)
{
	char path[64], ref[80];
	struct crm_err e = { 0 };
	char *s = (char *)&e;
	int rc;

	make_temp(path, sizeof(path), content, len, mode);
	snprintf(ref, sizeof(ref), "file:%s", path);
	rc = cfg_secret_resolve(ref, &s, &e);
	unlink(path);
	if (rc != want_rc)
		print_error("rc %d: %s\n", rc, e.msg);
	assert_int_equal(rc, want_rc);
	if (want_rc == 0) {
		if (want)
			assert_string_equal(s, want);
		else /* content without its final newline */
			assert_int_equal(strlen(s), len - 1);
		free(s);
		return;
	}
	assert_null(s);
	assert_non_null(strstr(e.msg, needle));
	assert_non_null(strstr(e.msg, path));
	if (len > 0 && len < 64)
		assert_null(strstr(e.msg, "s3cret"));
}

static void test_secret_file(void **state)
{
	(void)state;
	resolve_file("s3cret\n", 7, 0600, 0, "s3cret", NULL);
	resolve_file("s3cret\r\n", 8, 0400, 0, "s3cret", NULL);
	resolve_file("s3cret", 6, 0600, 0, "s3cret", NULL);
	resolve_file("s3cret\n\n", 8, 0600, 0, "s3cret\n", NULL); /* only one newline goes */
	resolve_file("s3cret\n", 7, 0640, CRM_E_CONFIG, NULL, "is readable or writable by group or others");
	resolve_file("s3cret\n", 7, 0604, CRM_E_CONFIG, NULL, "chmod 600 it");
	resolve_file("s3cret\n", 7, 0620, CRM_E_CONFIG, NULL, "group or others");
	resolve_file("\n", 1, 0600, CRM_E_CONFIG, NULL, "is empty");
	resolve_file("s3\0cret", 7, 0600, CRM_E_CONFIG, NULL, "contains a NUL byte");
}

static void test_secret_file_limits(void **state)
{
	struct crm_err e = { 0 };
	char *s = NULL;
	size_t n = 64 * 1024;
	char *big = malloc(n + 2);

	(void)state;
	assert_non_null(big);
	memset(big, 'k', n + 2);
	big[n - 1] = '\n';
	resolve_file(big, n, 0600, 0, NULL, NULL); /* the cap is on the file: 64 KiB */
	big[n - 1] = 'k';
	resolve_file(big, n + 1, 0600, CRM_E_CONFIG, NULL, "bigger than 64 KiB");
	free(big);

	assert_int_equal(cfg_secret_resolve("file:/nonexistent/crmetl/pw", &s, &e), CRM_E_CONFIG);
	assert_int_equal(e.sys_errno, ENOENT);
	assert_string_equal(e.where, "/nonexistent/crmetl/pw");
	err_clear(&e);
	assert_int_equal(cfg_secret_resolve("file:/tmp", &s, &e), CRM_E_CONFIG);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

/* ---- memory ---- */

static void test_free_null(void **state)
{
	(void)state;
	cfg_free(NULL);
	assert_null(cfg_source_by_name(NULL, "x"));
}

/* Every allocation in turn fails: each must end in CRM_E_NOMEM with nothing leaked. */
static void test_alloc_failures(void **state)
{
	static const char text[] =
		"[pipeline]\ndata_dir = out\ntimezone = Test/Zone\n"
		"[source.a]\nmap.amount = A\nentity = orders\nfile = a.csv\n"
		"header.Authorization = file:tok\nheader.X = env:X\nca_file = ca.pem\n"
		"[source.b]\nentity = customers\nurl = https://h/c.xml\n"
		"[metrics]\nloyalty_weights = 1,2,3\n"
		"[report]\ntitle = T\n"
		"[mail.x]\nto = a@b, c@d\nsegment = tier=gold\n"
		"[mail]\nurl = smtp://h\nfrom = r@x\nto = e@f\nuser = env:U\npassword = file:pw\n";
	unsigned long n;
	int done = 0;

	(void)state;
	for (n = 1; n < 1000 && !done; n++) {
		struct crm_err e = { 0 };
		struct cfg *c = NULL;
		int rc;

		cfg_fault_alloc(n);
		rc = cfg_parse(text, sizeof(text) - 1, "t.conf", "/base", &c, &e);
		if (rc == 0) {
			assert_string_equal(c->mails[1].password, "file:/base/pw");
			cfg_free(c);
			done = 1;
			continue;
		}
		if (rc != CRM_E_NOMEM)
			print_error("n=%lu rc=%d %s\n", n, rc, e.msg);
		assert_int_equal(rc, CRM_E_NOMEM);
		assert_null(c);
	}
	cfg_fault_alloc(0);
	assert_true(done);
	assert_true(n > 30);
}

static void test_alloc_failures_load_and_secret(void **state)
{
	char path[64];
	unsigned long n;
	int rc;

	(void)state;
	make_temp(path, sizeof(path), MIN_SRC, strlen(MIN_SRC), 0600);
	for (n = 1, rc = -1; rc != 0 && n < 100; n++) {
		struct crm_err e = { 0 };
		struct cfg *c = NULL;

		cfg_fault_alloc(n);
		rc = cfg_load(path, &c, &e);
		if (rc == 0)
			cfg_free(c);
		else
			assert_int_equal(rc, CRM_E_NOMEM);
	}
	for (n = 1, rc = -1; rc != 0 && n < 10; n++) {
		struct crm_err e = { 0 };
		char ref[80], *s = NULL;

		snprintf(ref, sizeof(ref), "file:%s", path);
		cfg_fault_alloc(n);
		rc = cfg_secret_resolve(ref, &s, &e);
		if (rc == 0)
			free(s);
		else
			assert_int_equal(rc, CRM_E_NOMEM);
	}
	cfg_fault_alloc(0);
	assert_int_equal(rc, 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_record_default_per_entity),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_hash_without_space_is_literal),
		cmocka_unit_test(test_double_quotes_and_escapes),
		cmocka_unit_test(test_single_quotes_literal),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_no_final_newline),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_garbage_line_not_echoed),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_key_no_wild_guess),
		cmocka_unit_test(test_map_fields),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_required_keys),
		cmocka_unit_test(test_no_source),
		cmocka_unit_test(test_entity_and_format),
		cmocka_unit_test(test_delimiter),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_timezone),
		cmocka_unit_test(test_timezone_system),
		cmocka_unit_test(test_currency),
		cmocka_unit_test(test_max_reject_ratio),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_max_bytes),
		cmocka_unit_test(test_loyalty_weights),
		cmocka_unit_test(test_report_values),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_mail_addresses),
		cmocka_unit_test(test_mail_segment),
		cmocka_unit_test(test_clv_and_mail_ca),
		cmocka_unit_test(test_mail_order_and_inheritance),
		cmocka_unit_test(test_plain_secrets_refused),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_relative_and_errors),
		cmocka_unit_test(test_is_secret_ref),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_secret_file_limits),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_alloc_failures_load_and_secret),
	};

	return cmocka_run_group_tests(tests, setup_tzdir, teardown_tzdir);
}
