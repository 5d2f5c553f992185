/*
 * test_norm_payload.c - spill payloads (norm_spill.c): strings keep their
 * bytes or, for a column of few values, the value's index; the readers of
 * passes 1 and 2 find the columns they need past an index, and refuse one
 * where they expect bytes. norm_shape_note gives the indexes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "norm_int.h"

/* An interaction: customer_id, occurred_at, day, kind. */
static void interaction(struct row *r, const char *cust, const char *kind)
{
	memset(r, 0, sizeof(*r));
	r->present[0] = r->present[1] = r->present[2] = r->present[3] = 1;
	r->sv[0] = cust;
	r->sl[0] = (uint32_t)strlen(cust);
	r->iv[1] = 1700000000;
	r->iv[2] = 19675;
	r->sv[3] = kind;
	r->sl[3] = (uint32_t)strlen(kind);
}

static void few_values_take_their_index(void **state)
{
	const struct tab_def *t = tab_for_entity(ENT_INTERACTIONS);
	const int8_t few[TAB_MAX_COLS] = { -1, -1, -1, 2, -1, -1, -1, -1 };
	unsigned char plain[256], coded[256];
	size_t lp, lc;
	const char *s;
	uint32_t len;
	struct row r;

	(void)state;
	interaction(&r, "c000042", "web_visit");
	lp = norm_encode_row(plain, t, &r, 19675, NULL);
	lc = norm_encode_row(coded, t, &r, 19675, few);
	/* "web_visit" and its length byte become one byte */
	assert_int_equal(lp - lc, 9);
	/* the customer id is found past the index, and the index is no string */
	assert_int_equal(norm_payload_str(coded, coded + lc, t, 0, &s, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(s, "c000042", 7);
	assert_int_equal(norm_payload_str(coded, coded + lc, t, 3, &s, &len), -1);
	assert_int_equal(norm_payload_str(plain, plain + lp, t, 3, &s, &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(s, "web_visit", 9);
	/* decoding into a row wants bytes */
	assert_int_equal(norm_decode_row(coded, coded + lc, t, &r, 19675), -1);
	assert_int_equal(norm_decode_row(plain, plain + lp, t, &r, 19675), 0);
	assert_int_equal(r.iv[2], 19675);
	assert_int_equal(r.sl[3], 9);
}

/* Strings of every length that changes a varint's size come back whole. */
static void string_lengths(void **state)
{
	const struct tab_def *t = tab_for_entity(ENT_INTERACTIONS);
	static const size_t lens[] = { 0, 1, 63, 64, 127, 128, 300 };
	unsigned char payload[1024];
	char kind[301];
	struct row r, back;
	size_t i, n;

	(void)state;
	memset(kind, 'k', sizeof(kind));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		interaction(&r, "c1", "");
		r.sv[3] = kind;
		r.sl[3] = (uint32_t)lens[i];
		assert_true(norm_row_most(t, &r) <= sizeof(payload));
		n = norm_encode_row(payload, t, &r, 0, NULL);
		assert_int_equal(norm_decode_row(payload, payload + n, t, &back, 0), 0);
		assert_int_equal(back.sl[3], lens[i]);
		assert_int_equal(back.sl[0], 2);
		/* cut short: damage, not a read past the end */
		if (lens[i] > 0)
			assert_int_equal(norm_decode_row(payload, payload + n - 1, t, &back, 0), -1);
	}
}

static void shape_note_indexes(void **state)
{
	struct strshape h;
	char v[16];
	int k;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(norm_shape_note(&h, "email", 5), 0);
	assert_int_equal(norm_shape_note(&h, "web", 3), 1);
	assert_int_equal(norm_shape_note(&h, "email", 5), 0);
	assert_int_equal(norm_shape_note(&h, "web", 3), 1);
	for (k = 2; k < FEW_VALUES; k++) {
		snprintf(v, sizeof(v), "v%d", k);
		assert_int_equal(norm_shape_note(&h, v, (uint32_t)strlen(v)), k);
	}
	/* one value too many: no index for any value after that */
	assert_int_equal(norm_shape_note(&h, "more", 4), -1);
	assert_int_equal(norm_shape_note(&h, "email", 5), -1);
	norm_shape_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(few_values_take_their_index),
		cmocka_unit_test(string_lengths),
		cmocka_unit_test(shape_note_indexes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
