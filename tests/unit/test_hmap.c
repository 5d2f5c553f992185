/*
 * test_hmap.c - the byte-string hash map: every key put is found under
 * its value and gives its bytes back, keys that differ in one byte or
 * only in length (tails of 0 to 7 bytes after whole words, zero bytes)
 * stay apart, absent keys are not found, prefetching changes nothing,
 * and the hash spreads the sequential and text ids of CRM exports over
 * the table (short probe runs), which a weak hash would not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

/* Key i: its length cycles through 0..40, its bytes come from i (zeros included). */
static size_t make_key(uint32_t i, unsigned char *out)
{
	size_t len = i % 41, k;
	uint64_t s = 0x9e3779b97f4a7c15ull * (i + 1);

	for (k = 0; k < len; k++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		out[k] = (unsigned char)(k % 5 == 0 ? 0 : s);
	}
	/* Make the key unique: its number in the last four bytes (when it has them). */
	if (len >= 4)
		memcpy(out + len - 4, &i, 4);
	return len;
}

static void put_get(void **state)
{
	enum { N = 50000 };
	struct hmap m;
	unsigned char key[64];
	uint32_t i, *v;
	int is_new;

	(void)state;
	hmap_init(&m);
	for (i = 0; i < N; i++) {
		size_t len = make_key(i, key);
		uint32_t off;

		hmap_prefetch(&m, key, len);
		v = hmap_put(&m, key, len, i, &is_new, &off);
		assert_non_null(v);
		/* Keys shorter than 4 bytes repeat (41 lengths, few byte patterns). */
		if (is_new) {
			size_t klen;
			const unsigned char *k = hmap_key(&m, off, &klen);

			assert_int_equal(klen, len);
			assert_memory_equal(k, key, len);
		}
	}
	for (i = 0; i < N; i++) {
		size_t len = make_key(i, key);

		v = hmap_get(&m, key, len);
		assert_non_null(v);
		if (len >= 4)
			assert_int_equal(*v, i);
		else
			assert_int_equal(make_key(*v, key), len);
	}
	/* One byte changed, one byte more or less: another key. */
	for (i = 41 * 7 + 10; i < N; i += 977) {
		size_t len = make_key(i, key);

		if (len < 6) /* shorter ones may be another key cut short */
			continue;
		key[len / 2] ^= 0x40;
		assert_null(hmap_get(&m, key, len));
		key[len / 2] ^= 0x40;
		key[len] = 0;
		assert_null(hmap_get(&m, key, len + 1));
		assert_null(hmap_get(&m, key, len - 1));
	}
	hmap_release(&m);
}

/* The longest run of occupied slots in the map. */
static size_t longest_run(const struct hmap *m)
{
	size_t i, run = 0, best = 0;

	for (i = 0; i <= m->mask; i++) {
		run = m->slots[i].hash ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

static void spreads_ids(void **state)
{
	static const char *const shapes[] = { "c%07u", "%u", "%06u-8f3a-4c1e-9b2d-0000001c",
					      "ACCT-%u-EU", "o%010u" };
	size_t s;

	(void)state;
	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		struct hmap m;
		char id[64];
		uint32_t i;
		int is_new;

		hmap_init(&m);
		for (i = 0; i < 200000; i++) {
			int len = snprintf(id, sizeof(id), shapes[s], i * (s == 4 ? 4096u : 1u));

			assert_non_null(hmap_put(&m, id, (size_t)len, i, &is_new, NULL));
			assert_true(is_new);
		}
		/* At load under 1/2 a good hash leaves runs of a few dozen slots at most. */
		assert_true(longest_run(&m) < 200);
		hmap_release(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get),
		cmocka_unit_test(spreads_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
