/*
 * test_csvr.c - unit tests of the CSV reader: RFC 4180 quoting, line ends,
 * line numbers, column mapping, every kind of malformed record and how
 * reading resumes after it, header errors, limits, gzip input, and records
 * cut by the reader's block edges.
 *
 * Most cases go through dump(), which reads the input once per block size
 * in a list (1, 2, 3 ... bytes and the default) and checks that every read
 * gives the same records: so each case also tests every block edge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "csvr.h"
#include "err.h"
#include "ins.h"

#include "banned.h"

/* Growable text for dumps. */
struct text {
	char *s;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* A value, with CR, LF, NUL and '\' shown as escapes. */
static void text_value(struct text *t, const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (v[i]) {
		case '\n':
			text_str(t, "\\n");
			break;
		case '\r':
			text_str(t, "\\r");
			break;
		case '\0':
			text_str(t, "\\0");
			break;
		case '\\':
			text_str(t, "\\\\");
			break;
		default:
			text_add(t, v + i, 1);
		}
	}
}

/*
 * Read `data` with the given options and names; returns a malloc'ed dump:
 * one line per record, "LINE:v1|v2|..." ("-" for NULL) or "LINE:!reason",
 * or "open: <code> <message> [field]" when csvr_open fails.
 */
static char *dump_once(const char *data, size_t len, const struct csvr_opts *opts,
		       const char *const *names, size_t n)
{
	struct crm_err e = { 0 };
	struct text t = { 0 };
	struct ins *in;
	struct csvr *r;
	struct rec rec;
	char line[64];
	uint64_t count = 0;
	size_t i;
	int rc;

	text_str(&t, "");
	assert_int_equal(ins_open_mem(data, len, "t.csv", &in, &e), 0);
	rc = csvr_open(in, opts, names, n, &r, &e);
	if (rc) {
		assert_null(r);
		snprintf(line, sizeof(line), "open: %d ", rc);
		text_str(&t, line);
		text_str(&t, e.msg);
		if (e.field[0]) {
			text_str(&t, " [");
			text_str(&t, e.field);
			text_str(&t, "]");
		}
		ins_close(in);
		return t.s;
	}
	while ((rc = csvr_next(r, &rec, &e)) == 1) {
		count++;
		snprintf(line, sizeof(line), "%ld:", rec.line);
		text_str(&t, line);
		if (rec.bad) {
			assert_non_null(rec.reason);
			text_str(&t, "!");
			text_str(&t, rec.reason);
			for (i = 0; i < REC_MAX_FIELDS; i++)
				assert_null(rec.val[i]);
		} else {
			assert_null(rec.reason);
			for (i = 0; i < n; i++) {
				if (i)
					text_str(&t, "|");
				if (!rec.val[i]) {
					assert_int_equal(csvr_column(r, i), -1);
					assert_int_equal(rec.len[i], 0);
					text_str(&t, "-");
					continue;
				}
				assert_true(csvr_column(r, i) >= 0);
				assert_int_equal(rec.val[i][rec.len[i]], '\0');
				text_value(&t, rec.val[i], rec.len[i]);
			}
			for (; i < REC_MAX_FIELDS; i++)
				assert_null(rec.val[i]);
		}
		text_str(&t, "\n");
	}
	assert_int_equal(rc, 0);
	assert_int_equal(csvr_next(r, &rec, &e), 0); /* the end stays the end */
	assert_int_equal(csvr_records(r), count);
	csvr_free(r);
	ins_close(in);
	return t.s;
}

static const size_t all_blocks[] = { 0, 1, 2, 3, 4, 5, 7, 11, 16, 64, 4096 };
static const size_t big_blocks[] = { 0, 4096, 65536 + 3 };

/* dump_once() for each block size of a list; all must agree. */
static char *dump_blocks(const char *data, size_t len, const struct csvr_opts *opts,
			 const char *const *names, size_t n, const size_t *blocks,
			 size_t nblocks)
{
	struct csvr_opts o = { 0 };
	char *first = NULL, *other;
	size_t i;

	if (opts)
		o = *opts;
	for (i = 0; i < nblocks; i++) {
		o.block_size = blocks[i];
		other = dump_once(data, len, &o, names, n);
		if (!first) {
			first = other;
			continue;
		}
		if (strcmp(first, other) != 0)
			fail_msg("block size %zu reads differently:\n%s---- default block:\n%s",
				 blocks[i], other, first);
		free(other);
	}
	return first;
}

/* Every block size from 1 byte up: rescans make tiny blocks quadratic, so small inputs only. */
static char *dump_opts(const char *data, size_t len, const struct csvr_opts *opts,
		       const char *const *names, size_t n)
{
	return dump_blocks(data, len, opts, names, n, all_blocks,
			   sizeof(all_blocks) / sizeof(all_blocks[0]));
}

static const char *const abc[] = { "a", "b", "c" };

/* Compare the dump of a NUL-terminated input, names a,b,c, default options. */
static void expect(const char *data, const char *want)
{
	char *got = dump_opts(data, strlen(data), NULL, abc, 3);

	assert_string_equal(got, want);
	free(got);
}

static void expect_opts(const char *data, const struct csvr_opts *o,
			const char *const *names, size_t n, const char *want)
{
	char *got = dump_opts(data, strlen(data), o, names, n);

	assert_string_equal(got, want);
	free(got);
}

/* ---- well-formed input ---- */

static void simple(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3\n4,5,6\n", "2:1|2|3\n3:4|5|6\n");
}

static void header_only(void **state)
{
	(void)state;
	expect("a,b,c\n", "");
	expect("a,b,c", "");
}

static void quoted_comma(void **state)
{
	(void)state;
	expect("a,b,c\n\"x,y\",\"2\",3\n", "2:x,y|2|3\n");
}

static void quoted_doubled_quotes(void **state)
{
	(void)state;
	expect("a,b,c\n\"say \"\"hi\"\"\",\"\"\"\",\"\"\"\"\"\"\n",
	       "2:say \"hi\"|\"|\"\"\n");
}

static void quoted_newlines_keep_line_numbers(void **state)
{
	(void)state;
	expect("a,b,c\n"
	       "1,\"two\nlines\",x\n"
	       "2,\"three\n\nlines\",y\n"
	       "3,z,\"\n\"\n"
	       "4,5,6\n",
	       "2:1|two\\nlines|x\n"
	       "4:2|three\\n\\nlines|y\n"
	       "7:3|z|\\n\n"
	       "9:4|5|6\n");
}

static void crlf(void **state)
{
	(void)state;
	expect("a,b,c\r\n1,2,3\r\n\"4\",5,\"6\"\r\n", "2:1|2|3\n3:4|5|6\n");
}

static void lf(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3\n\"4\",5,\"6\"\n", "2:1|2|3\n3:4|5|6\n");
}

static void mixed_line_ends(void **state)
{
	(void)state;
	expect("a,b,c\r\n1,2,3\n4,5,6\r\n7,8,9", "2:1|2|3\n3:4|5|6\n4:7|8|9\n");
}

static void cr_inside_quotes_kept(void **state)
{
	(void)state;
	expect("a,b,c\r\n\"x\r\ny\",\"\r\",3\r\n4,5,6\r\n",
	       "2:x\\r\\ny|\\r|3\n4:4|5|6\n");
}

static void lone_cr_is_data(void **state)
{
	(void)state;
	expect("a,b,c\n1\r2,3,4\r\n5,6,\r\n", "2:1\\r2|3|4\n3:5|6|\n");
}

static void cr_at_end_of_input_ends_line(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3\r", "2:1|2|3\n");
	expect("a,b,c\n1,2,\"3\"\r", "2:1|2|3\n");
}

static void bom_skipped(void **state)
{
	(void)state;
	expect("\xEF\xBB\xBF" "a,b,c\n1,2,3\n", "2:1|2|3\n");
	expect("\xEF\xBB\xBF" "\"a\",b,c\r\n1,2,3\r\n", "2:1|2|3\n");
	/* Only at the very start, and only all three bytes. */
	expect("\xEF\xBB" "a,b,c\n1,2,3\n", "2:-|2|3\n");
	expect("a,b,c\n\xEF\xBB\xBF" "1,2,3\n", "2:\xEF\xBB\xBF" "1|2|3\n");
}

static void no_trailing_newline(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3\n4,5,6", "2:1|2|3\n3:4|5|6\n");
	expect("a,b,c\n1,2,\"3\"", "2:1|2|3\n");
	expect("a,b,c\n1,2,", "2:1|2|\n");
}

static void blank_lines_skipped(void **state)
{
	(void)state;
	expect("\n\r\na,b,c\n\n1,2,3\r\n\r\n\n4,5,6\n\n", "5:1|2|3\n8:4|5|6\n");
}

static void blank_line_in_one_column_file(void **state)
{
	static const char *const names[] = { "id" };

	(void)state;
	/* A blank line is skipped; "" is a record with one empty field. */
	expect_opts("id\n1\n\n\"\"\n2\n", NULL, names, 1, "2:1\n4:\n5:2\n");
}

static void delimiter_semicolon(void **state)
{
	struct csvr_opts o = { .delimiter = ';' };

	(void)state;
	expect_opts("a;b;c\n1,5;\"x;y\";3\n", &o, abc, 3, "2:1,5|x;y|3\n");
}

static void delimiter_tab(void **state)
{
	struct csvr_opts o = { .delimiter = '\t' };

	(void)state;
	expect_opts("a\tb\tc\r\n1\t\"2\t2\"\t3,3\r\n", &o, abc, 3, "2:1|2\t2|3,3\n");
}

static void column_mapping_reordered(void **state)
{
	static const char *const names[] = { "amount", "order_id", "status" };
	struct crm_err e = { 0 };
	struct ins *in;
	struct csvr *r;
	const char *data = "status,x,order_id,amount\ndone,?,o-1,12.50\n";

	(void)state;
	expect_opts(data, NULL, names, 3, "2:12.50|o-1|done\n");
	assert_int_equal(ins_open_mem(data, strlen(data), "t.csv", &in, &e), 0);
	assert_int_equal(csvr_open(in, NULL, names, 3, &r, &e), 0);
	assert_int_equal(csvr_n_columns(r), 4);
	assert_int_equal(csvr_column(r, 0), 3);
	assert_int_equal(csvr_column(r, 1), 2);
	assert_int_equal(csvr_column(r, 2), 0);
	assert_int_equal(csvr_column(r, 3), -1);
	assert_int_equal(csvr_column(r, 99), -1);
	csvr_free(r);
	ins_close(in);
}

static void column_missing(void **state)
{
	static const char *const names[] = { "a", "nope", "c", "", NULL };
	struct crm_err e = { 0 };
	struct ins *in;
	struct csvr *r;
	struct rec rec;
	const char *data = "a,b,c\n1,2,3\n";

	(void)state;
	expect_opts(data, NULL, names, 5, "2:1|-|3|-|-\n");
	assert_int_equal(ins_open_mem(data, strlen(data), "t.csv", &in, &e), 0);
	assert_int_equal(csvr_open(in, NULL, names, 5, &r, &e), 0);
	assert_int_equal(csvr_column(r, 1), -1);
	assert_int_equal(csvr_column(r, 3), -1);
	assert_int_equal(csvr_column(r, 4), -1);
	assert_int_equal(csvr_next(r, &rec, &e), 1);
	assert_null(rec.val[1]);
	assert_string_equal(rec.val[2], "3");
	csvr_free(r);
	ins_close(in);
}

static void header_names_exact(void **state)
{
	static const char *const names[] = { "a", "B", " c", "d\"d", "e,e" };

	(void)state;
	/* No trimming, case-sensitive, names unescaped before matching. */
	expect_opts(" a,b, c,\"d\"\"d\",\"e,e\"\n1,2,3,4,5\n", NULL, names, 5,
		    "2:-|-|3|4|5\n");
}

static void same_column_twice(void **state)
{
	static const char *const names[] = { "b", "a", "b" };

	(void)state;
	expect_opts("a,b\n1,\"x\"\"y\"\n", NULL, names, 3, "2:x\"y|1|x\"y\n");
}

static void no_names(void **state)
{
	(void)state;
	expect_opts("a,b\n1,2\n1\n", NULL, NULL, 0, "2:\n3:!expected 2 fields, found 1\n");
}

static void empty_fields(void **state)
{
	(void)state;
	expect("a,b,c\n,,\n\"\",\"\",\"\"\n1,,\"\"\n", "2:||\n3:||\n4:1||\n");
}

static void embedded_nul(void **state)
{
	static const char data[] = "a,b,c\n1,x\0y,\"q\0\"\n";
	char *got;

	(void)state;
	got = dump_opts(data, sizeof(data) - 1, NULL, abc, 3);
	assert_string_equal(got, "2:1|x\\0y|q\\0\n");
	free(got);
}

static void empty_header_names_may_repeat(void **state)
{
	static const char *const names[] = { "a", "" };

	(void)state;
	expect_opts("a,,\n1,2,3\n", NULL, names, 2, "2:1|-\n");
}

/* ---- malformed records: reason, then the next record read right ---- */

static void bad_too_few_fields(void **state)
{
	(void)state;
	expect("a,b,c\n1,2\n3,4,5\n", "2:!expected 3 fields, found 2\n3:3|4|5\n");
}

static void bad_too_many_fields(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3,4\n\"x\ny\",,,\n5,6,7\n",
	       "2:!expected 3 fields, found 4\n3:!expected 3 fields, found 4\n5:5|6|7\n");
}

static void bad_quote_in_unquoted(void **state)
{
	(void)state;
	/* The stray quote opens nothing: the record ends at its line end. */
	expect("a,b,c\n1,x\"y,3\n4,5,6\n", "2:!quote inside unquoted field\n3:4|5|6\n");
	expect("a,b,c\n1,2, \"3\"\n4,5,6\n", "2:!quote inside unquoted field\n3:4|5|6\n");
	expect("a,b,c\n1,2,3\"\n\"4\",5,6\n", "2:!quote inside unquoted field\n3:4|5|6\n");
}

static void bad_text_after_quote(void **state)
{
	(void)state;
	expect("a,b,c\n\"1\"x,2,3\n4,5,6\n", "2:!text after closing quote\n3:4|5|6\n");
	expect("a,b,c\n1,2,\"3\" \r\n4,5,6\r\n", "2:!text after closing quote\n3:4|5|6\n");
	expect("a,b,c\n1,2,\"3\"\rx\n4,5,6\n", "2:!text after closing quote\n3:4|5|6\n");
	expect("a,b,c\n1,\"2\n2\"\"\"x,3\n4,5,6\n",
	       "2:!text after closing quote\n4:4|5|6\n");
}

static void bad_unterminated_quote_at_eof(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3\n4,\"5,6\n7,8,9\n", "2:1|2|3\n3:!unterminated quoted field\n");
	expect("a,b,c\n1,2,\"", "2:!unterminated quoted field\n");
}

static void bad_field_too_long(void **state)
{
	struct csvr_opts o = { .max_field = 4 };

	(void)state;
	expect_opts("a,b,c\n1234,\"12\"\"4\",x\n12345,2,3\n1,\"1\"\"\"\"45\",3\n6,7,8\n", &o, abc, 3,
		    "2:1234|12\"4|x\n"
		    "3:!field longer than 4 bytes\n"
		    "4:!field longer than 4 bytes\n"
		    "5:6|7|8\n");
}

static void bad_field_default_limit(void **state)
{
	size_t n = 65536 + 1;
	char *data = malloc(n + 32);
	char *got;

	(void)state;
	assert_non_null(data);
	memcpy(data, "a,b,c\n1,", 8);
	memset(data + 8, 'x', n);
	memcpy(data + 8 + n, ",3\n4,5,6\n", 10);
	got = dump_blocks(data, strlen(data), NULL, abc, 3, big_blocks, 3);
	assert_string_equal(got, "2:!field longer than 65536 bytes\n3:4|5|6\n");
	free(got);
	data[8 + n - 1] = ','; /* 65536 bytes (the limit), then one field too many */
	got = dump_blocks(data, strlen(data), NULL, abc, 3, big_blocks, 3);
	assert_string_equal(got, "2:!expected 3 fields, found 4\n3:4|5|6\n");
	free(got);
	free(data);
}

static void bad_record_too_long(void **state)
{
	struct csvr_opts o = { .max_record = 10 };

	(void)state;
	/* 10 bytes pass (with either line end); 11 do not. */
	expect_opts("a,b,c\n1234,678,0\r\n1234,678,01\n5,6,7\n1234,678,0", &o, abc, 3,
		    "2:1234|678|0\n3:!record longer than 10 bytes\n4:5|6|7\n5:1234|678|0\n");
}

static void bad_record_too_long_quoted_lines(void **state)
{
	struct csvr_opts o = { .max_record = 10 };

	(void)state;
	/*
	 * Over-long: dropped through the first LF at or past byte 10 of the
	 * record, quotes ignored; LFs before it still count as lines.
	 */
	expect_opts("a,b,c\n1,\"a\nb\nc\nd\ne\nf\",3\n4,5,6\n", &o, abc, 3,
		    "2:!record longer than 10 bytes\n6:!expected 3 fields, found 1\n"
		    "7:!quote inside unquoted field\n8:4|5|6\n");
	/* A stray quote swallows at most max_record bytes. */
	expect_opts("a,b,c\n\"1,2,3\n4,5,6\n7,8,9\n10,11,12\n", &o, abc, 3,
		    "2:!record longer than 10 bytes\n4:7|8|9\n5:10|11|12\n");
}

static void bad_record_wins_over_other_faults(void **state)
{
	struct csvr_opts o = { .max_record = 8, .max_field = 2 };

	(void)state;
	expect_opts("a,b,c\n1\"2,345,6789\n1,2,3\n", &o, abc, 3,
		    "2:!record longer than 8 bytes\n3:1|2|3\n");
	expect_opts("a,b,c\n1\",345,6\n1,2,3\n", &o, abc, 3,
		    "2:!quote inside unquoted field\n3:1|2|3\n");
}

static void bad_records_in_a_row(void **state)
{
	(void)state;
	expect("a,b,c\n1\n\"x\"y,1,2\n\n1,2\"\n\"ok\",\"\"\"\",\r\n",
	       "2:!expected 3 fields, found 1\n3:!text after closing quote\n"
	       "5:!quote inside unquoted field\n6:ok|\"|\n");
}

/* ---- header and open errors ---- */

static void expect_open_error(const char *data, const struct csvr_opts *o, int code,
			      const char *msg, const char *field, long line)
{
	struct crm_err e = { 0 };
	struct ins *in;
	struct csvr *r = (struct csvr *)&e; /* must be reset to NULL */

	assert_int_equal(ins_open_mem(data, strlen(data), "in.csv", &in, &e), 0);
	assert_int_equal(csvr_open(in, o, abc, 3, &r, &e), code);
	assert_null(r);
	assert_int_equal(e.code, code);
	assert_string_equal(e.msg, msg);
	assert_string_equal(e.field, field);
	assert_string_equal(e.where, code == CRM_E_INPUT || code == CRM_E_CONFIG ? "in.csv" : "");
	assert_int_equal(e.line, line);
	ins_close(in);
}

static void empty_input(void **state)
{
	(void)state;
	expect_open_error("", NULL, CRM_E_INPUT, "no header row", "", 0);
	expect_open_error("\n\r\n\n", NULL, CRM_E_INPUT, "no header row", "", 0);
	expect_open_error("\xEF\xBB\xBF", NULL, CRM_E_INPUT, "no header row", "", 0);
}

static void duplicate_header_column(void **state)
{
	char buf[256];
	struct crm_err e = { 0 };

	(void)state;
	expect_open_error("\na,b,a\n1,2,3\n", NULL, CRM_E_INPUT,
			  "duplicate column 'a' in header", "a", 2);
	expect_open_error("x,\"b\"\"\",\"b\"\"\"\n", NULL, CRM_E_INPUT,
			  "duplicate column 'b\"' in header", "b\"", 1);
	err_at(&e, CRM_E_INPUT, "in.csv", 2, "a", "duplicate column 'a' in header");
	assert_string_equal(err_format(&e, buf, sizeof(buf)),
			    "duplicate column 'a' in header (in.csv:2, field a)");
}

static void malformed_header(void **state)
{
	struct csvr_opts o = { .max_record = 4 };

	(void)state;
	expect_open_error("a,\"b\n", NULL, CRM_E_INPUT,
			  "malformed header: unterminated quoted field", "", 1);
	expect_open_error("\r\na,b\"\n", NULL, CRM_E_INPUT,
			  "malformed header: quote inside unquoted field", "", 2);
	expect_open_error("a,\"b\"c\n", NULL, CRM_E_INPUT,
			  "malformed header: text after closing quote", "", 1);
	expect_open_error("a,b,cd\n", &o, CRM_E_INPUT,
			  "malformed header: record longer than 4 bytes", "", 1);
}

static void bad_options(void **state)
{
	struct csvr_opts quote = { .delimiter = '"' };
	struct csvr_opts lf = { .delimiter = '\n' };
	struct csvr_opts big = { .max_record = (size_t)CSVR_LIMIT_RECORD + 1 };
	struct csvr_opts block = { .block_size = (size_t)CSVR_LIMIT_BLOCK + 1 };
	static const char *const many[REC_MAX_FIELDS + 1] = { "a" };
	struct crm_err e = { 0 };
	struct ins *in;
	struct csvr *r;

	(void)state;
	expect_open_error("a\n", &quote, CRM_E_CONFIG,
			  "invalid csv delimiter (a quote or line end)", "delimiter", 0);
	expect_open_error("a\n", &lf, CRM_E_CONFIG,
			  "invalid csv delimiter (a quote or line end)", "delimiter", 0);
	expect_open_error("a\n", &big, CRM_E_CONFIG,
			  "csv limits too large (record at most 1073741824, block at most 67108864 bytes)",
			  "", 0);
	expect_open_error("a\n", &block, CRM_E_CONFIG,
			  "csv limits too large (record at most 1073741824, block at most 67108864 bytes)",
			  "", 0);
	assert_int_equal(ins_open_mem("a\n", 2, "in.csv", &in, &e), 0);
	assert_int_equal(csvr_open(in, NULL, many, REC_MAX_FIELDS + 1, &r, &e), CRM_E_INTERNAL);
	assert_null(r);
	ins_close(in);
}

static void free_null(void **state)
{
	(void)state;
	csvr_free(NULL);
}

/* ---- gzip ---- */

static unsigned char *gzip(const char *data, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = len + len / 100 + 1024;
	unsigned char *out = malloc(cap);

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper, as exports arrive. */
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* Same records as the plain file, whatever the block size. */
static void gzip_input(void **state)
{
	static const char data[] =
		"\xEF\xBB\xBF" "a,b,c\r\n1,\"x\ny\",3\r\n\r\n4,5\r\n\"6\"\"\",7,8\r\n9,,";
	unsigned char *gz;
	size_t gz_len;
	char *plain, *zipped;

	(void)state;
	gz = gzip(data, sizeof(data) - 1, &gz_len);
	assert_true(gz[0] == 0x1f && gz[1] == 0x8b);
	plain = dump_opts(data, sizeof(data) - 1, NULL, abc, 3);
	zipped = dump_opts((const char *)gz, gz_len, NULL, abc, 3);
	assert_string_equal(plain, "2:1|x\\ny|3\n5:!expected 3 fields, found 2\n6:6\"|7|8\n7:9||\n");
	assert_string_equal(zipped, plain);
	free(plain);
	free(zipped);
	free(gz);
}

/* A damaged gzip stream: csvr_next fails with the input named, and stays failed. */
static void gzip_truncated(void **state)
{
	struct csvr_opts o = { .block_size = 4096 };
	struct text t = { 0 };
	struct crm_err e = { 0 }, e2 = { 0 };
	struct ins *in;
	struct csvr *r;
	struct rec rec;
	unsigned char *gz;
	size_t gz_len, i;
	char row[64];
	int rc;

	(void)state;
	text_str(&t, "a,b,c\n");
	for (i = 0; i < 20000; i++) {
		snprintf(row, sizeof(row), "%zu,%zu,%zu\n", i, i * 7 % 1000, i * 13 % 977);
		text_str(&t, row);
	}
	gz = gzip(t.s, t.len, &gz_len);
	assert_int_equal(ins_open_mem(gz, gz_len / 2, "cut.csv.gz", &in, &e), 0);
	assert_int_equal(csvr_open(in, &o, abc, 3, &r, &e), 0);
	i = 0;
	while ((rc = csvr_next(r, &rec, &e)) == 1) {
		assert_false(rec.bad);
		i++;
	}
	assert_int_equal(rc, CRM_E_INPUT);
	assert_true(i > 100 && i < 20000);
	assert_string_equal(e.msg, "gzip data is truncated");
	assert_string_equal(e.where, "cut.csv.gz");
	assert_true(e.line > 100);
	/* Sticky, and a fresh error struct gets filled too. */
	assert_int_equal(csvr_next(r, &rec, &e2), CRM_E_INPUT);
	assert_int_equal(e2.code, CRM_E_INPUT);
	assert_string_equal(e2.where, "cut.csv.gz");
	csvr_free(r);
	ins_close(in);
	free(gz);
	free(t.s);
}

/* ---- block edges ---- */

/* Long quoted field of row i: commas, doubled quotes, CRLFs, up to ~6 KB. */
static void long_value(size_t i, struct text *raw, struct text *val)
{
	size_t n = (i * 7919) % 6000, k;
	char c;

	text_str(raw, "\"");
	for (k = 0; k < n; k++) {
		switch ((k + i) % 97) {
		case 0:
			text_str(raw, "\"\"");
			text_str(val, "\"");
			continue;
		case 1:
			text_str(raw, "\r\n");
			text_str(val, "\r\n");
			continue;
		case 2:
			c = ',';
			break;
		default:
			c = (char)('a' + (k + i) % 26);
		}
		text_add(raw, &c, 1);
		text_add(val, &c, 1);
	}
	text_str(raw, "\"");
}

static size_t lines_in(const struct text *t)
{
	size_t i, k = 0;

	for (i = 0; i < t->len; i++)
		k += t->s[i] == '\n';
	return k;
}

/* ~3 MB of records with long quoted fields: every record checked. */
static void big_input_straddles_blocks(void **state)
{
	static const char *const names[] = { "id", "text", "tail" };
	struct text data = { 0 };
	struct text *vals;
	size_t nrec = 1200, i, b;
	long *lines, line = 2;
	char row[64];

	(void)state;
	vals = calloc(nrec, sizeof(*vals));
	lines = calloc(nrec, sizeof(*lines));
	assert_non_null(vals);
	assert_non_null(lines);
	text_str(&data, "id,text,tail\r\n");
	for (i = 0; i < nrec; i++) {
		snprintf(row, sizeof(row), "%zu,", i);
		text_str(&data, row);
		text_str(&vals[i], "");
		long_value(i, &data, &vals[i]);
		snprintf(row, sizeof(row), ",t%zu\r\n", i);
		text_str(&data, row);
		lines[i] = line;
		line += (long)lines_in(&vals[i]) + 1;
	}
	assert_true(data.len > 3000000);
	for (b = 0; b < sizeof(big_blocks) / sizeof(big_blocks[0]); b++) {
		struct csvr_opts o = { .block_size = big_blocks[b] };
		struct crm_err e = { 0 };
		struct ins *in;
		struct csvr *r;
		struct rec rec;

		assert_int_equal(ins_open_mem(data.s, data.len, "big.csv", &in, &e), 0);
		assert_int_equal(csvr_open(in, &o, names, 3, &r, &e), 0);
		for (i = 0; i < nrec; i++) {
			assert_int_equal(csvr_next(r, &rec, &e), 1);
			assert_false(rec.bad);
			assert_int_equal(rec.line, lines[i]);
			snprintf(row, sizeof(row), "%zu", i);
			assert_string_equal(rec.val[0], row);
			assert_int_equal(rec.len[1], vals[i].len);
			assert_memory_equal(rec.val[1], vals[i].s, vals[i].len);
			snprintf(row, sizeof(row), "t%zu", i);
			assert_string_equal(rec.val[2], row);
		}
		assert_int_equal(csvr_next(r, &rec, &e), 0);
		csvr_free(r);
		ins_close(in);
	}
	for (i = 0; i < nrec; i++)
		free(vals[i].s);
	free(vals);
	free(lines);
	free(data.s);
}

/*
 * With the default 1 MiB block, put each interesting byte (the CR of a CRLF,
 * a closing quote, the first quote of a "" pair, a delimiter) on the last
 * and first bytes of the first block.
 */
static void default_block_edge(void **state)
{
	static const char *const tails[] = {
		"1,2,3\r\n",        /* CRLF */
		"1,2,\"3\"\r\n",    /* closing quote then CRLF */
		"1,2,\"\"\"3\"\r\n", /* doubled quote */
		"1,\"2\n\",3\n",    /* quoted LF */
	};
	static const char *const want[] = {
		"1|2|3", "1|2|3", "1|2|\"3", "1|2\\n|3",
	};
	const size_t edge = CSVR_DEFAULT_BLOCK;
	size_t t, shift, fill, k;
	char *data = malloc(edge + 64);

	(void)state;
	assert_non_null(data);
	for (t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		for (shift = 0; shift < strlen(tails[t]); shift++) {
			char *got;
			size_t len;

			/* header (6) + filler rows "x,y,zzzz...\n" + tail at edge-shift */
			memcpy(data, "a,b,c\n", 6);
			len = 6;
			fill = edge - shift - len;
			for (k = 0; fill > 0; k++) {
				size_t row = fill > 1000 ? 900 : fill;

				if (fill - row != 0 && fill - row < 6)
					row = fill - 6; /* leave room for a minimal row */
				memcpy(data + len, "x,y,", 4);
				memset(data + len + 4, 'z', row - 5);
				data[len + row - 1] = '\n';
				len += row;
				fill -= row;
			}
			memcpy(data + len, tails[t], strlen(tails[t]));
			len += strlen(tails[t]);
			memcpy(data + len, "7,8,9\n", 6);
			len += 6;
			{
				struct csvr_opts o = { 0 };

				got = dump_once(data, len, &o, abc, 3);
			}
			/* The filler rows are good; check the last two lines. */
			{
				char tail[128];
				char *p = got + strlen(got);
				int nl = 0;
				long ln = 1 + (long)k + 1;

				while (p > got && nl < 3)
					if (*--p == '\n')
						nl++;
				if (nl == 3)
					p++;
				snprintf(tail, sizeof(tail), "%ld:%s\n%ld:7|8|9\n", ln, want[t],
					 ln + (t == 3 ? 2 : 1));
				assert_string_equal(p, tail);
			}
			assert_null(strstr(got, "!"));
			free(got);
		}
	}
	free(data);
}

/* Memory stays bounded: a 1 MiB record limit is enforced, not grown past. */
static void huge_unterminated_quote_is_bounded(void **state)
{
	size_t n = 3 * 1024 * 1024, i;
	char *data = malloc(n);
	struct crm_err e = { 0 };
	struct ins *in;
	struct csvr *r;
	struct rec rec;
	size_t bad = 0, good = 0;

	(void)state;
	assert_non_null(data);
	memcpy(data, "a,b,c\n\"", 7);
	for (i = 7; i < n; i++)
		data[i] = (i % 10 == 9) ? '\n' : (i % 10 == 4 ? ',' : 'x');
	assert_int_equal(ins_open_mem(data, n, "q.csv", &in, &e), 0);
	assert_int_equal(csvr_open(in, NULL, abc, 3, &r, &e), 0);
	while (csvr_next(r, &rec, &e) == 1) {
		if (rec.bad)
			bad++;
		else
			good++;
	}
	/* One over-long record, then lines "xxxx,xxxx" (2 fields) are bad too. */
	assert_int_equal(e.code, 0);
	assert_int_equal(good, 0);
	assert_true(bad > 100000);
	csvr_free(r);
	ins_close(in);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(simple),
		cmocka_unit_test(header_only),
		cmocka_unit_test(quoted_comma),
		cmocka_unit_test(quoted_doubled_quotes),
		cmocka_unit_test(quoted_newlines_keep_line_numbers),
		cmocka_unit_test(crlf),
		cmocka_unit_test(lf),
		cmocka_unit_test(mixed_line_ends),
		cmocka_unit_test(cr_inside_quotes_kept),
		cmocka_unit_test(lone_cr_is_data),
		cmocka_unit_test(cr_at_end_of_input_ends_line),
		cmocka_unit_test(bom_skipped),
		cmocka_unit_test(no_trailing_newline),
		cmocka_unit_test(blank_lines_skipped),
		cmocka_unit_test(blank_line_in_one_column_file),
		cmocka_unit_test(delimiter_semicolon),
		cmocka_unit_test(delimiter_tab),
		cmocka_unit_test(column_mapping_reordered),
		cmocka_unit_test(column_missing),
		cmocka_unit_test(header_names_exact),
		cmocka_unit_test(same_column_twice),
		cmocka_unit_test(no_names),
		cmocka_unit_test(empty_fields),
		cmocka_unit_test(embedded_nul),
		cmocka_unit_test(empty_header_names_may_repeat),
		cmocka_unit_test(bad_too_few_fields),
		cmocka_unit_test(bad_too_many_fields),
		cmocka_unit_test(bad_quote_in_unquoted),
		cmocka_unit_test(bad_text_after_quote),
		cmocka_unit_test(bad_unterminated_quote_at_eof),
		cmocka_unit_test(bad_field_too_long),
		cmocka_unit_test(bad_field_default_limit),
		cmocka_unit_test(bad_record_too_long),
		cmocka_unit_test(bad_record_too_long_quoted_lines),
		cmocka_unit_test(bad_record_wins_over_other_faults),
		cmocka_unit_test(bad_records_in_a_row),
		cmocka_unit_test(empty_input),
		cmocka_unit_test(duplicate_header_column),
		cmocka_unit_test(malformed_header),
		cmocka_unit_test(bad_options),
		cmocka_unit_test(free_null),
		cmocka_unit_test(gzip_input),
		cmocka_unit_test(gzip_truncated),
		cmocka_unit_test(big_input_straddles_blocks),
		cmocka_unit_test(default_block_edge),
		cmocka_unit_test(huge_unterminated_quote_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
