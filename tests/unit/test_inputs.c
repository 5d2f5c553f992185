/*
 * test_inputs.c - the description of a run's inputs when hashing is left
 * for later: placeholders, inputs_hash_files or inputs_set_hash filling
 * them in place, inputs_may_match telling a certain change from one only
 * hashes decide, and the hash of a file taken while it is read for its
 * content (ins_open_tapped, ins_drain), as normalize does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "inputs.h"
#include "ins.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void put_text(struct buf *b, const char *s)
{
	assert_int_equal(buf_append(b, s, strlen(s)), 0);
}

/*
 * One export file "abc" made from the mkstemp template `path`, described
 * unhashed in `text` (a new buffer).
 */
static void describe_abc(char *path, struct buf *text, struct inputs_files *files)
{
	char line[256], q[SHA256_HEX_LEN + 1];
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	buf_init(text, 1 << 20);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("abc", f);
	fclose(f);
	memset(q, INPUTS_UNHASHED, SHA256_HEX_LEN);
	q[SHA256_HEX_LEN] = '\0';
	snprintf(line, sizeof(line), "file %s 3 %s\n", path, q);
	put_text(text, "source s\n");
	put_text(text, line);
	files->v = calloc(1, sizeof(*files->v));
	assert_non_null(files->v);
	files->n = 1;
	files->v[0].path = strdup(path);
	files->v[0].size = 3;
	files->v[0].text_at = text->len - 1 - SHA256_HEX_LEN;
}

static void hash_fills_placeholders(void **state)
{
	char path[] = "/tmp/test_inputs_XXXXXX", want[256];
	struct inputs_files files = { 0 };
	struct crm_err e = { 0 };
	struct buf text;

	(void)state;
	describe_abc(path, &text, &files);
	assert_int_equal(inputs_hash_files(&files, &text, &e), 0);
	snprintf(want, sizeof(want), "source s\nfile %s 3 %s\n", path, ABC_SHA);
	assert_int_equal(text.len, strlen(want));
	assert_memory_equal(text.data, want, text.len);
	assert_string_equal(files.v[0].sha256, ABC_SHA);
	/* Hashed once: a second call reads nothing. */
	unlink(path);
	assert_int_equal(inputs_hash_files(&files, &text, &e), 0);
	inputs_files_release(&files);
	buf_release(&text);
}

static void hash_sees_changed_size(void **state)
{
	char path[] = "/tmp/test_inputs_XXXXXX";
	struct inputs_files files = { 0 };
	struct crm_err e = { 0 };
	struct buf text;
	FILE *f;

	(void)state;
	describe_abc(path, &text, &files);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("d", f);
	fclose(f);
	assert_int_equal(inputs_hash_files(&files, &text, &e), CRM_E_INPUT);
	unlink(path);
	inputs_files_release(&files);
	buf_release(&text);
}

static void set_hash_fills_placeholder(void **state)
{
	char path[] = "/tmp/test_inputs_XXXXXX", want[256];
	struct inputs_files files = { 0 };
	struct crm_err e = { 0 };
	struct buf text;

	(void)state;
	describe_abc(path, &text, &files);
	unlink(path);
	/* Another size than described: the file changed between the two looks. */
	assert_int_equal(inputs_set_hash(&files, &text, &files.v[0], ABC_SHA, 4, &e), CRM_E_INPUT);
	assert_true(inputs_unhashed(&files.v[0]));
	assert_int_equal(inputs_set_hash(&files, &text, &files.v[0], ABC_SHA, 3, &e), 0);
	assert_false(inputs_unhashed(&files.v[0]));
	snprintf(want, sizeof(want), "source s\nfile %s 3 %s\n", path, ABC_SHA);
	assert_int_equal(text.len, strlen(want));
	assert_memory_equal(text.data, want, text.len);
	assert_string_equal(files.v[0].sha256, ABC_SHA);
	/* Nothing is read for it afterwards: the file is gone and that is fine. */
	assert_int_equal(inputs_hash_files(&files, &text, &e), 0);
	inputs_files_release(&files);
	buf_release(&text);
}

static void tap_sha(void *ctx, const void *data, size_t len)
{
	sha256_update(ctx, data, len);
}

/*
 * Read `path` through a tapped stream: a little content in small reads, a
 * big read straight into the caller's buffer, then stop and drain. The
 * tap must have hashed every byte of the file as stored, once, in order.
 */
static void check_tapped(const char *path, uint64_t size)
{
	unsigned char *big = malloc(1 << 20), digest[SHA256_LEN];
	char want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
	unsigned long long want_size = 0;
	struct crm_err e = { 0 };
	struct sha256 sha;
	struct ins *in = NULL;
	int i;

	assert_non_null(big);
	assert_int_equal(inputs_hash_file(path, &want_size, want, &e), 0);
	assert_int_equal(want_size, size);
	sha256_init(&sha);
	assert_int_equal(ins_open_tapped(path, tap_sha, &sha, &in, &e), 0);
	for (i = 0; i < 3; i++)
		assert_true(ins_read(in, big, 100) > 0);
	assert_true(ins_read(in, big, 1 << 20) > 0);
	assert_int_equal(ins_drain(in), 0);
	assert_int_equal(ins_read(in, big, 100), 0);
	assert_int_equal(ins_raw_bytes(in), size);
	sha256_final(&sha, digest);
	sha256_hex(digest, got);
	assert_string_equal(got, want);
	ins_close(in);
	free(big);
}

static void tapped_read_hashes_whole_file(void **state)
{
	char path[] = "/tmp/test_inputs_XXXXXX";
	int fd = mkstemp(path);
	size_t size = 3 * 1000 * 1000 + 17, i;
	unsigned char *data = malloc(size);
	uint32_t x = 12345;

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(data);
	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 24);
	}
	data[0] = 'a'; /* not the gzip magic */
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
	check_tapped(path, size);
	unlink(path);
	free(data);
}

/* A gzip export: the tap sees the compressed bytes, as stored (what lineage names). */
static void tapped_gzip_hashes_stored_bytes(void **state)
{
	char path[] = "/tmp/test_inputs_XXXXXX";
	int fd = mkstemp(path);
	gzFile gz;
	long i;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	gz = gzopen(path, "wb");
	assert_non_null(gz);
	for (i = 0; i < 200000; i++)
		gzprintf(gz, "c%06ld,2024-01-%02ldT10:00:00Z,web_visit\n", i, i % 28 + 1);
	gzclose(gz);
	{
		FILE *f = fopen(path, "rb");
		long size;

		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
		check_tapped(path, (uint64_t)size);
	}
	unlink(path);
}

static void may_match(void **state)
{
	char q[SHA256_HEX_LEN + 1], line[256];
	const char *old = "source s\nfile a.csv 3 " ABC_SHA "\n";
	struct buf now;

	(void)state;
	memset(q, INPUTS_UNHASHED, SHA256_HEX_LEN);
	q[SHA256_HEX_LEN] = '\0';
	buf_init(&now, 1 << 20);
	snprintf(line, sizeof(line), "source s\nfile a.csv 3 %s\n", q);
	put_text(&now, line);
	assert_true(inputs_may_match(&now, (const unsigned char *)old, strlen(old)));
	/* Another size, another name, a line more or less: changed whatever the hashes. */
	assert_false(inputs_may_match(&now, (const unsigned char *)"source s\nfile a.csv 4 " ABC_SHA "\n",
				      strlen(old)));
	assert_false(inputs_may_match(&now, (const unsigned char *)"source s\nfile b.csv 3 " ABC_SHA "\n",
				      strlen(old)));
	assert_false(inputs_may_match(&now, (const unsigned char *)old, strlen("source s\n")));
	put_text(&now, "source t\n");
	assert_false(inputs_may_match(&now, (const unsigned char *)old, strlen(old)));
	buf_release(&now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hash_fills_placeholders),
		cmocka_unit_test(hash_sees_changed_size),
		cmocka_unit_test(set_hash_fills_placeholder),
		cmocka_unit_test(tapped_read_hashes_whole_file),
		cmocka_unit_test(tapped_gzip_hashes_stored_bytes),
		cmocka_unit_test(may_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
