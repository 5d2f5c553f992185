/*
 * test_norm_rowsum.c - the per-row hash that keys a month's rows
 * (norm_rowsum_add, norm_reuse.c) against a plain byte-wise statement of
 * the same function: every length from 0 to 80 bytes, at every offset of
 * a word, every entity. The keys in <data_dir>/cache depend on these
 * sums, so a faster way to compute them must give the same numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "norm_int.h"

#define A 0x9e3779b97f4a7c15ULL
#define B 0xc2b2ae3d27d4eb4fULL

static uint64_t rot(uint64_t v, unsigned r)
{
	return v << r | v >> (64 - r);
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ULL;
	h ^= h >> 27;
	h *= 0x81dadef4bc2dd44dULL;
	h ^= h >> 33;
	return h;
}

/* The reference: words assembled byte by byte, little-endian, the last one zero-padded. */
static void ref_add(struct rowsum *s, int entity, const unsigned char *p, size_t len)
{
	uint64_t a = A ^ len, b = B ^ ((uint64_t)entity << 32 | len);
	size_t i, k;

	for (i = 0; i < len; i += 8) {
		uint64_t w = 0;

		for (k = 0; k < 8 && i + k < len; k++)
			w |= (uint64_t)p[i + k] << (8 * k);
		a = rot((a ^ w) * A, 29);
		b = rot((b + w) * B, 31);
	}
	s->rows++;
	s->a += mix(a);
	s->b += mix(b ^ rot(a, 17));
}

static void same_as_reference(void **state)
{
	unsigned char buf[128];
	uint64_t x = 88172645463325252ull;
	size_t len, off, i;
	int entity;

	(void)state;
	for (i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	for (entity = 0; entity < ENT_COUNT; entity++)
		for (len = 0; len <= 80; len++)
			for (off = 0; off < 8; off++) {
				struct rowsum got = { 0 }, want = { 0 };
				struct srec r = { entity, 0, 0, buf + off, len, 0 };

				norm_rowsum_add(&got, &r);
				ref_add(&want, entity, buf + off, len);
				assert_int_equal(got.rows, 1);
				assert_true(got.a == want.a);
				assert_true(got.b == want.b);
			}
}

/* Bytes past the row must not count: the same row before other bytes sums the same. */
static void ignores_what_follows(void **state)
{
	unsigned char one[32], two[32];
	size_t len;

	(void)state;
	memset(one, 0x11, sizeof(one));
	memset(two, 0x11, sizeof(two));
	for (len = 1; len < 24; len++) {
		struct rowsum s1 = { 0 }, s2 = { 0 };
		struct srec r1 = { 1, 0, 0, one, len, 0 }, r2 = { 1, 0, 0, two, len, 0 };

		two[len] = 0x99;
		norm_rowsum_add(&s1, &r1);
		norm_rowsum_add(&s2, &r2);
		assert_true(s1.a == s2.a && s1.b == s2.b);
		two[len] = 0x11;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_reference),
		cmocka_unit_test(ignores_what_follows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
