/*
 * test_fitc.c - the cache of CLV fits: an entry reads back as the same
 * bits (NaN and infinity too); the key changes with any input value, the
 * order of the customers and the salt; another key, a torn file, a
 * foreign file or no file is a miss.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fitc.h"

struct dir {
	char path[64];
	char file[128];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "%s", "/tmp/crmetl-test-fitc.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/2025-06.fit", d->path);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->file);
	rmdir(d->path);
	free(d);
	return 0;
}

static struct fitc_entry sample(void)
{
	struct fitc_entry en;

	memset(&en, 0, sizeof(en));
	en.bg = (struct clv_bgnbd){ 0.24061735107764301, 4.29877016841521, 3.9641877584690063e10,
				    1.0686447746635127e13, -4072709.9982775571, 3, 61, 1.25e-12 };
	en.gg_fitted = 1;
	en.gg.p = 6.28003;
	en.gg.q = 3.7301;
	en.gg.gamma = 15.3055;
	en.gg.ll = -2142173.8628935106;
	en.gg.n = 402571;
	en.gg.corr_x_spend = NAN;
	en.gg.method = 1;
	en.gg.iters = 7;
	en.gg.grad_norm = INFINITY;
	return en;
}

static int same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void test_round_trip(void **state)
{
	const struct dir *d = *state;
	struct fitc_entry en = sample(), got;
	const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	assert_int_equal(fitc_save(d->file, key, &en), 0);
	assert_int_equal(fitc_load(d->file, key, &got), 1);
	assert_true(same_bits(got.bg.r, en.bg.r) && same_bits(got.bg.alpha, en.bg.alpha));
	assert_true(same_bits(got.bg.a, en.bg.a) && same_bits(got.bg.b, en.bg.b));
	assert_true(same_bits(got.bg.ll, en.bg.ll) && same_bits(got.bg.grad_norm, en.bg.grad_norm));
	assert_int_equal(got.bg.method, 3);
	assert_int_equal(got.bg.iters, 61);
	assert_int_equal(got.gg_fitted, 1);
	assert_true(same_bits(got.gg.p, en.gg.p) && same_bits(got.gg.q, en.gg.q));
	assert_true(same_bits(got.gg.gamma, en.gg.gamma) && same_bits(got.gg.ll, en.gg.ll));
	assert_true(isnan(got.gg.corr_x_spend));
	assert_true(isinf(got.gg.grad_norm));
	assert_int_equal(got.gg.n, 402571);
	assert_int_equal(got.gg.method, 1);
	assert_int_equal(got.gg.iters, 7);
	/* another key: a miss */
	assert_int_equal(fitc_load(d->file, "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				   &got), 0);
}

/* Write `len` bytes of `text` to the file. */
static void put_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_damaged(void **state)
{
	const struct dir *d = *state;
	struct fitc_entry en = sample(), got;
	const char *key = "00000000000000000000000000000000000000000000000000000000000000aa";
	char text[4096];
	size_t len, cut;
	FILE *f;

	assert_int_equal(fitc_load(d->file, key, &got), 0); /* no file */
	assert_int_equal(fitc_save(d->file, key, &en), 0);
	f = fopen(d->file, "rb");
	assert_non_null(f);
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	/* every torn prefix is a miss */
	for (cut = 0; cut < len; cut++) {
		put_file(d->file, text, cut);
		assert_int_equal(fitc_load(d->file, key, &got), 0);
	}
	/* a number damaged, a line added, another format: misses */
	text[len] = '\0';
	memcpy(strstr(text, "bg ") + 3, "zz", 2);
	put_file(d->file, text, len);
	assert_int_equal(fitc_load(d->file, key, &got), 0);
	assert_int_equal(fitc_save(d->file, key, &en), 0);
	f = fopen(d->file, "ab");
	assert_non_null(f);
	fputs("more\n", f);
	fclose(f);
	assert_int_equal(fitc_load(d->file, key, &got), 0);
	put_file(d->file, "crmetl fit cache 2\n", 19);
	assert_int_equal(fitc_load(d->file, key, &got), 0);
}

static void test_key(void **state)
{
	struct clv_cust c[3] = { { 1, 2.5, 10, 30.25 }, { 0, 0, 8, 0 }, { 4, 6, 12, 7.5 } };
	struct clv_cust s[3] = { c[2], c[1], c[0] };
	char k0[FITC_KEY_LEN + 1], k1[FITC_KEY_LEN + 1];
	int i, f;

	(void)state;
	fitc_key(c, 3, "salt", k0);
	assert_int_equal(strlen(k0), FITC_KEY_LEN);
	fitc_key(c, 3, "salt", k1);
	assert_string_equal(k0, k1);
	fitc_key(c, 3, "salt2", k1);
	assert_string_not_equal(k0, k1);
	fitc_key(c, 2, "salt", k1);
	assert_string_not_equal(k0, k1);
	fitc_key(s, 3, "salt", k1); /* the order counts: the fits' subsample depends on it */
	assert_string_not_equal(k0, k1);
	for (i = 0; i < 3; i++)
		for (f = 0; f < 4; f++) {
			struct clv_cust m[3];
			double *v;

			memcpy(m, c, sizeof(m));
			v = f == 0 ? &m[i].x : f == 1 ? &m[i].t_x : f == 2 ? &m[i].T : &m[i].mean_spend;
			*v = nextafter(*v, INFINITY);
			fitc_key(m, 3, "salt", k1);
			assert_string_not_equal(k0, k1);
		}
	/* from days: every field counts, the order too, and never fitc_key's keys */
	{
		uint64_t xT[3] = { 1ULL << 32 | 70, 8, 4ULL << 32 | 84 }, xs[3];
		int32_t txd[3] = { 17, 0, 42 }, ts[3];

		fitc_key_days(xT, txd, c, 3, "salt", k0);
		assert_int_equal(strlen(k0), FITC_KEY_LEN);
		fitc_key_days(xT, txd, c, 3, "salt", k1);
		assert_string_equal(k0, k1);
		fitc_key(c, 3, "salt", k1);
		assert_string_not_equal(k0, k1);
		fitc_key_days(xT, txd, c, 3, "salt2", k1);
		assert_string_not_equal(k0, k1);
		fitc_key_days(xT, txd, c, 2, "salt", k1);
		assert_string_not_equal(k0, k1);
		fitc_key_days(xT, txd, s, 3, "salt", k1);
		assert_string_not_equal(k0, k1);
		for (i = 0; i < 3; i++)
			for (f = 0; f < 4; f++) {
				struct clv_cust m[3];

				memcpy(m, c, sizeof(m));
				memcpy(xs, xT, sizeof(xs));
				memcpy(ts, txd, sizeof(ts));
				if (f == 0)
					xs[i] += 1ULL << 32; /* x */
				else if (f == 1)
					xs[i]++; /* T */
				else if (f == 2)
					ts[i]++;
				else
					m[i].mean_spend = nextafter(m[i].mean_spend, INFINITY);
				fitc_key_days(xs, ts, m, 3, "salt", k1);
				assert_string_not_equal(k0, k1);
			}
		/* more customers than one batch of the hash (DAYS_BATCH) */
		{
			const size_t n = 1000;
			uint64_t *bx = calloc(n, sizeof(*bx));
			int32_t *bt = calloc(n, sizeof(*bt));
			struct clv_cust *bc = calloc(n, sizeof(*bc));

			assert_true(bx && bt && bc);
			fitc_key_days(bx, bt, bc, n, "salt", k0);
			bt[n - 1] = 1;
			fitc_key_days(bx, bt, bc, n, "salt", k1);
			assert_string_not_equal(k0, k1);
			free(bx);
			free(bt);
			free(bc);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
