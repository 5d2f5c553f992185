/*
 * test_norm_bytes.c - the inline byte helpers of normalize (norm_int.h)
 * against the library calls they replace: norm_copy as memcpy (and not
 * a byte written past the end), norm_same as memcmp(...) == 0 (a
 * difference at any position seen), norm_tail_word as a memcpy of the
 * last bytes into a zeroed word; every length 0 to 80, every offset in a
 * word.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "norm_int.h"

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (unsigned char)seed;
	}
}

static void copy_is_memcpy(void **state)
{
	unsigned char src[128], dst[128], want[128];
	size_t n, off;

	(void)state;
	fill(src, sizeof(src), 7);
	for (n = 0; n <= 80; n++)
		for (off = 0; off < 8; off++) {
			memset(dst, 0xee, sizeof(dst));
			memset(want, 0xee, sizeof(want));
			norm_copy(dst + off, src + 8 - off, n);
			memcpy(want + off, src + 8 - off, n);
			assert_memory_equal(dst, want, sizeof(dst));
		}
}

static void same_is_memcmp(void **state)
{
	unsigned char a[128], b[128];
	size_t n, off, at;

	(void)state;
	fill(a, sizeof(a), 11);
	for (n = 0; n <= 80; n++)
		for (off = 0; off < 8; off++) {
			memcpy(b + off, a, n);
			assert_true(norm_same(a, b + off, n));
			for (at = 0; at < n; at++) {
				b[off + at] ^= 0x40;
				assert_false(norm_same(a, b + off, n));
				assert_false(norm_same(b + off, a, n));
				b[off + at] ^= 0x40;
			}
		}
}

static void tail_word_is_memcpy(void **state)
{
	unsigned char p[128];
	size_t n, tail;

	(void)state;
	fill(p, sizeof(p), 13);
	for (n = 1; n <= 80; n++)
		for (tail = 1; tail < 8 && tail <= n; tail++) {
			uint64_t want = 0;

			memcpy(&want, p + n - tail, tail);
			assert_true(norm_tail_word(p, n, tail) == want);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy_is_memcpy),
		cmocka_unit_test(same_is_memcmp),
		cmocka_unit_test(tail_word_is_memcpy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
