/*
 * test_norm_varint.c - the spill records' varint reader (norm_int.h)
 * against a plain byte loop: every length from 1 to 10 bytes, values at
 * the edges of each length, non-canonical groups, varints cut by the end
 * of the buffer (with and without 8 bytes to read), and more than 10
 * continuation bytes. The word path and the byte loop must agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "norm_int.h"

/* A fixed xorshift generator: the cases are the same on every run. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The reference: a byte loop, 10 bytes at most. */
static int ref_varint(const unsigned char *p, const unsigned char *end, uint64_t *out,
		      size_t *used)
{
	uint64_t v = 0;
	unsigned shift;
	size_t i = 0;

	for (shift = 0; p + i < end && shift < 70; shift += 7) {
		v |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80)) {
			*out = v;
			*used = i;
			return 0;
		}
	}
	return -1;
}

static size_t put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Read the bytes b[0..len) with norm_varint and the reference: same answer. */
static void check_same(const unsigned char *b, size_t len)
{
	const unsigned char *p = b;
	uint64_t got = 0, want = 0;
	size_t used = 0;
	int rc = norm_varint(&p, b + len, &got), ref = ref_varint(b, b + len, &want, &used);

	assert_int_equal(rc, ref);
	if (rc == 0) {
		assert_true(got == want);
		assert_int_equal((size_t)(p - b), used);
	}
}

static void test_lengths(void **state)
{
	unsigned char b[32];
	unsigned bits;
	uint64_t v;
	size_t n, k;

	(void)state;
	for (bits = 0; bits <= 64; bits++) {
		const uint64_t edges[3] = { bits ? (uint64_t)1 << (bits - 1) : 0,
					    bits < 64 ? ((uint64_t)1 << bits) - 1 : UINT64_MAX,
					    bits < 64 ? ((uint64_t)1 << bits) : 12345 };

		for (k = 0; k < 3; k++) {
			const unsigned char *p = b;

			v = edges[k];
			memset(b, 0xaa, sizeof(b));
			n = put(b, v);
			assert_int_equal(norm_varint(&p, b + sizeof(b), &v), 0);
			assert_true(v == edges[k]);
			assert_int_equal((size_t)(p - b), n);
			/* The same bytes ending right after the varint: the byte loop reads it. */
			check_same(b, n);
		}
	}
}

static void test_random_bytes(void **state)
{
	unsigned char b[24];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	size_t i, len;
	int round;

	(void)state;
	for (round = 0; round < 200000; round++) {
		uint64_t r = next_random(&s);
		unsigned cont = (unsigned)(r % 12);   /* continuation bytes before the stop byte */

		for (i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)next_random(&s);
		for (i = 0; i < cont && i < sizeof(b); i++)
			b[i] |= 0x80;
		if (cont < sizeof(b))
			b[cont] &= 0x7f;
		for (len = 0; len <= 12; len++)
			check_same(b, len);
		check_same(b, sizeof(b));
	}
}

static void test_too_long(void **state)
{
	unsigned char b[16];
	const unsigned char *p = b;
	uint64_t v;

	(void)state;
	memset(b, 0x80, sizeof(b));
	assert_int_equal(norm_varint(&p, b + sizeof(b), &v), -1);
	b[9] = 0x01; /* ten bytes: still read */
	p = b;
	assert_int_equal(norm_varint(&p, b + sizeof(b), &v), 0);
	assert_int_equal((size_t)(p - b), 10);
	p = b;
	assert_int_equal(norm_varint(&p, b, &v), -1); /* nothing to read */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
