/*
 * test_inputs.c - the description of a run's inputs when hashing is left
 * for later: placeholders, inputs_hash_files filling them in place, and
 * inputs_may_match telling a certain change from one only hashes decide.
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

#include "inputs.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void put_text(struct buf *b, const char *s)
{
	assert_int_equal(buf_append(b, s, strlen(s)), 0);
}

/* One export file "abc", described unhashed at the end of `text`. */
static void describe_abc(const char *path, struct buf *text, struct inputs_files *files)
{
	char line[256], q[SHA256_HEX_LEN + 1];
	FILE *f = fopen(path, "w");

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
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	buf_init(&text, 1 << 20);
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
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	buf_init(&text, 1 << 20);
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
		cmocka_unit_test(may_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
