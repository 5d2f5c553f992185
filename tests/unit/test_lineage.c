/*
 * test_lineage.c - lineage records: the canonical text of a known record,
 * round trips (odd characters in paths included), history carried over,
 * file writes that leave equal bytes alone, and the reader's answer to
 * every kind of damage: truncation, wrong version, bad fields, counts that
 * do not add up, restatements out of sequence, each byte cut off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lineage.h"
#include "period.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char want_text[] =
	"crmetl lineage\t1\n"
	"period\t2024-05\n"
	"file\torders\torders\tin/a\\tb\\\\c.csv\t" SHA_A "\t120\t10\t1\torders\t7\n"
	"file\tcrm\tleads\thttps://h/x?y=1\t" SHA_A "\t5\t3\t0\tleads\t3\n"
	"restated\t1\t2026-11-24T21:40:00Z\torders\t6\t7\t-5000\t1000000\n"
	"restated\t1\t2026-11-24T21:40:00Z\tleads\t3\t3\t-\t-\n"
	"end\t2\t2\n";

/* The record want_text describes, built the way normalize builds one. */
static void build(struct lineage *l)
{
	struct lineage_file f = { "orders", "orders", "in/a\tb\\c.csv", SHA_A, 120, 10, 1, "orders", 7 };
	struct lineage_change c = { 1, "2026-11-24T21:40:00Z", "orders", 6, 7, 1, -5000, 1000000 };
	struct crm_err e = { 0 };

	memset(l, 0, sizeof(*l));
	l->period = period_make(2024, 5);
	assert_int_equal(lineage_add_file(l, &f, &e), 0);
	f.source = "crm";
	f.entity = f.table = "leads";
	f.location = "https://h/x?y=1";
	f.bytes = 5;
	f.rows_read = f.kept = 3;
	f.rows_rejected = 0;
	assert_int_equal(lineage_add_file(l, &f, &e), 0);
	assert_int_equal(lineage_add_change(l, &c, &e), 0);
	c.table = "leads";
	c.old_rows = c.new_rows = 3;
	c.has_total = 0;
	c.old_total = c.new_total = 0;
	assert_int_equal(lineage_add_change(l, &c, &e), 0);
}

static void canonical_text(void **state)
{
	struct lineage l;
	struct crm_err e = { 0 };
	struct buf b;

	(void)state;
	build(&l);
	buf_init(&b, LINEAGE_MAX_BYTES);
	assert_int_equal(lineage_format(&l, &b, &e), 0);
	assert_int_equal(b.len, strlen(want_text));
	assert_memory_equal(b.data, want_text, b.len);
	assert_int_equal(lineage_next_seq(&l), 2);
	buf_release(&b);
	lineage_release(&l);
	lineage_release(NULL);
}

static void round_trip(void **state)
{
	struct lineage l;
	struct crm_err e = { 0 };
	struct buf b;

	(void)state;
	assert_int_equal(lineage_parse(want_text, strlen(want_text), "x", &l, &e), 0);
	assert_int_equal(l.period, period_make(2024, 5));
	assert_int_equal(l.n_files, 2);
	assert_string_equal(l.files[0].location, "in/a\tb\\c.csv");
	assert_string_equal(l.files[0].sha256, SHA_A);
	assert_int_equal(l.files[0].rows_rejected, 1);
	assert_int_equal(l.files[1].kept, 3);
	assert_int_equal(l.n_changes, 2);
	assert_int_equal(l.changes[0].old_total, -5000);
	assert_int_equal(l.changes[1].has_total, 0);
	assert_int_equal(lineage_next_seq(&l), 2);
	/* Parsed and formatted again: the same bytes. */
	buf_init(&b, LINEAGE_MAX_BYTES);
	assert_int_equal(lineage_format(&l, &b, &e), 0);
	assert_memory_equal(b.data, want_text, strlen(want_text));
	buf_release(&b);
	lineage_release(&l);
}

/* Many files and restatements: the arrays grow past their first sizes. */
static void grows(void **state)
{
	struct lineage l = { 0 }, back;
	struct lineage_file f = { "s", "orders", "p", SHA_A, 1, 1, 0, "orders", 1 };
	struct lineage_change c = { 1, "2026-01-01T00:00:00Z", "orders", 1, 2, 0, 0, 0 };
	struct crm_err e = { 0 };
	struct buf b;
	size_t i;

	(void)state;
	l.period = period_make(2025, 12);
	for (i = 0; i < 100; i++) {
		assert_int_equal(lineage_add_file(&l, &f, &e), 0);
		c.seq = (uint32_t)(i / 3 + 1);
		assert_int_equal(lineage_add_change(&l, &c, &e), 0);
	}
	buf_init(&b, LINEAGE_MAX_BYTES);
	assert_int_equal(lineage_format(&l, &b, &e), 0);
	if (lineage_parse((const char *)b.data, b.len, "x", &back, &e) != 0)
		fail_msg("%s (line %ld)", e.msg, e.line);
	assert_int_equal(back.n_files, 100);
	assert_int_equal(back.n_changes, 100);
	assert_int_equal(lineage_next_seq(&back), 35);
	buf_release(&b);
	lineage_release(&back);
	lineage_release(&l);
}

static void write_and_read(void **state)
{
	char dir[] = "/tmp/test_lineage.XXXXXX", path[64];
	struct lineage l, back;
	struct crm_err e = { 0 };
	struct stat st;
	int changed = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/2024-05.lineage", dir);
	assert_int_equal(lineage_read(path, &back, &e), CRM_E_INPUT);
	memset(&e, 0, sizeof(e));
	build(&l);
	assert_int_equal(lineage_write(path, &l, &changed, &e), 0);
	assert_int_equal(changed, 1);
	assert_int_equal(lineage_write(path, &l, &changed, &e), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(lineage_read(path, &back, &e), 0);
	assert_int_equal(back.n_files, 2);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, strlen(want_text));
	lineage_release(&back);
	lineage_release(&l);
	unlink(path);
	rmdir(dir);
}

/* Replace the first occurrence of `from` by `to` in want_text and parse it. */
static int parse_edited(const char *from, const char *to, struct crm_err *e)
{
	const char *at = strstr(want_text, from);
	char text[1024];
	struct lineage l;
	size_t head;
	int rc;

	assert_non_null(at);
	head = (size_t)(at - want_text);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)head, want_text, to, at + strlen(from));
	memset(e, 0, sizeof(*e));
	rc = lineage_parse(text, strlen(text), "bad.lineage", &l, e);
	assert_null(l.files);
	assert_null(l.text);
	return rc;
}

static void damage(void **state)
{
	static const char *const cases[][3] = {
		{ "crmetl lineage\t1", "crmetl lineage\t2", "unsupported lineage version" },
		{ "crmetl lineage", "crmetl lineages", "not a lineage record" },
		{ "period\t2024-05", "period\t2024-13", "bad period line" },
		{ SHA_A "\t120", "0123\t120", "bad sha256" },
		{ "\t120\t", "\t12x\t", "bad number" },
		{ "\t120\t", "\t0120\t", "bad number" },
		{ "\t10\t1\t", "\t10\t11\t", "more rows rejected or kept than read" },
		{ "orders\t7", "orders\t10", "more rows rejected or kept than read" },
		{ "a\\tb", "a\\qb", "bad text field" },
		{ "\torders\t6", "\t\t6", "bad text field" },
		{ "restated\t1\t2026", "restated\t2\t2026", "restatement out of sequence" },
		{ "2026-11-24T21:40:00Z\torders", "2026-11-24 21:40\torders", "bad time" },
		{ "\t-5000\t", "\t-\t", "one total without the other" },
		{ "\t-5000\t", "\t--5\t", "bad number" },
		{ "end\t2\t2", "end\t3\t2", "line counts do not match" },
		{ "end\t2\t2\n", "end\t2\t2\nfile\n", "text after the end line" },
		{ "end\t2\t2\n", "", "no end line" },
		{ "end\t2\t2\n", "end\t2\t2", "no final newline" },
		{ "file\tcrm", "flie\tcrm", "unexpected line" },
		{ "\tleads\t3\t3\t-\t-", "\tleads\t3\t3\t-\t-\tx\ty\tz\tw\tv", "too many fields" },
		{ "\tleads\t3\t3\t-\t-", "\tleads\t3\t3\t-", "wrong number of fields" },
	};
	struct crm_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_edited(cases[i][0], cases[i][1], &e);

		if (rc != CRM_E_CORRUPT || !strstr(e.msg, cases[i][2]))
			fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, e.msg, cases[i][2]);
		assert_string_equal(e.where, "bad.lineage");
	}
}

/* Every prefix of a good record is rejected, never read as a shorter one. */
static void truncated(void **state)
{
	size_t len = strlen(want_text), n;
	struct crm_err e;
	struct lineage l;

	(void)state;
	for (n = 0; n < len; n++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(lineage_parse(want_text, n, "cut", &l, &e), CRM_E_CORRUPT);
	}
	memset(&e, 0, sizeof(e));
	assert_int_equal(lineage_parse("crmetl lineage\t1\nperiod\t2024-05\0\nend\t0\t0\n", 40, "nul", &l,
				       &e), CRM_E_CORRUPT);
}

/*
 * Lineage hashes go through the CPU's SHA instructions where there are
 * some: they must agree with the portable code on every chunking.
 */
static void sha256_paths_agree(void **state)
{
	size_t len = (1 << 20) + 77, i, chunk;
	unsigned char *data = malloc(len), d[SHA256_LEN];
	char fast[SHA256_HEX_LEN + 1], slow[SHA256_HEX_LEN + 1];

	(void)state;
	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	for (chunk = 1; chunk < len; chunk = chunk * 7 + 3) {
		int pass;

		for (pass = 0; pass < 2; pass++) {
			struct sha256 c;

			sha256_set_accel(pass == 0);
			sha256_init(&c);
			for (i = 0; i < len; i += chunk)
				sha256_update(&c, data + i, len - i < chunk ? len - i : chunk);
			sha256_final(&c, d);
			sha256_hex(d, pass == 0 ? fast : slow);
		}
		assert_string_equal(fast, slow);
	}
	sha256_set_accel(1);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canonical_text),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(grows),
		cmocka_unit_test(write_and_read),
		cmocka_unit_test(damage),
		cmocka_unit_test(truncated),
		cmocka_unit_test(sha256_paths_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
