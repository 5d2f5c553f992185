/*
 * test_crmp.c - period file writer/reader: round trips of every encoding,
 * canonical bytes, and damage (truncation, bit flips) always detected.
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

#include "crmp.h"

#define ROWS 1000

struct sample {
	int64_t ints[ROWS], deltas[ROWS];
	uint8_t present[ROWS];
	const char *dict[ROWS], *front[ROWS];
	uint32_t dict_len[ROWS], front_len[ROWS];
	char front_text[ROWS][16];
	const char *words2[ROWS], *plain_ids[ROWS];
	uint32_t words2_len[ROWS], plain_len[ROWS];
	char words2_text[ROWS][16], plain_text[ROWS][16];
};

static const char *const words[] = { "East", "West", "", "North", "South\"x,y\n" };

static void fill(struct sample *s)
{
	int i;

	for (i = 0; i < ROWS; i++) {
		s->ints[i] = (i * 7919) % 1000 - 500;
		if (i == 3 || i == 4)
			s->ints[i] = i == 3 ? INT64_MIN : INT64_MAX; /* wrap-around deltas */
		s->deltas[i] = 1700000000 + i * 37;
		s->present[i] = (i % 5) != 0;
		s->dict[i] = (i % 7 == 0) ? NULL : words[i % 5];
		s->dict_len[i] = s->dict[i] ? (uint32_t)strlen(s->dict[i]) : 0;
		snprintf(s->front_text[i], sizeof(s->front_text[i]), "o%08d", i * 3);
		s->front[i] = (i == 10) ? NULL : s->front_text[i];
		s->front_len[i] = s->front[i] ? (uint32_t)strlen(s->front[i]) : 0;
		/* Distinct and not numbered: front-coded. */
		snprintf(s->words2_text[i], sizeof(s->words2_text[i]), "k%dx", i * 7);
		s->words2[i] = s->words2_text[i];
		s->words2_len[i] = (uint32_t)strlen(s->words2[i]);
		/* Numbers without padding: numbered, width 0. */
		snprintf(s->plain_text[i], sizeof(s->plain_text[i]), "c%d", (i * 37) % 1500);
		s->plain_ids[i] = s->plain_text[i];
		s->plain_len[i] = (uint32_t)strlen(s->plain_ids[i]);
	}
}

static unsigned char *encode_sample(const struct sample *s, size_t *len)
{
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 2025 * 12 + 9);
	struct crm_err e = { 0 };
	unsigned char *out = NULL;

	assert_non_null(w);
	assert_int_equal(crmp_writer_table(w, "orders", ROWS, &e), 0);
	assert_int_equal(crmp_writer_int(w, "amount", s->ints, s->present, &e), 0);
	assert_int_equal(crmp_writer_int(w, "ordered_at", s->deltas, NULL, &e), 0);
	assert_int_equal(crmp_writer_str(w, "region", s->dict, s->dict_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "order_id", s->front, s->front_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "note", s->words2, s->words2_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "customer_id", s->plain_ids, s->plain_len, &e), 0);
	assert_int_equal(crmp_writer_table(w, "spend", 0, &e), 0);
	assert_int_equal(crmp_writer_int(w, "day", NULL, NULL, &e), 0);
	assert_int_equal(crmp_writer_str(w, "channel", NULL, NULL, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &out, len, &e), 0);
	crmp_writer_free(w);
	return out;
}

static void round_trip(void **state)
{
	static struct sample s;
	struct crmp_file *f = NULL;
	struct crm_err e = { 0 };
	int64_t vals[ROWS];
	uint8_t pres[ROWS];
	struct crmp_strs strs;
	unsigned char *data;
	size_t len;
	int t, i;

	(void)state;
	fill(&s);
	data = encode_sample(&s, &len);
	assert_int_equal(crmp_open_mem(data, len, "x.crmp", &f, &e), 0);
	assert_int_equal(crmp_kind(f), CRMP_PERIOD);
	assert_int_equal(crmp_period(f), 2025 * 12 + 9);
	assert_int_equal(crmp_n_tables(f), 2);
	t = crmp_find_table(f, "orders");
	assert_int_equal(t, 0);
	assert_int_equal(crmp_table_info(f, 0)->cols[1].enc, CRMP_DELTA);
	assert_int_equal(crmp_table_info(f, 0)->cols[2].enc, CRMP_DICT);
	assert_int_equal(crmp_table_info(f, 0)->cols[3].enc, CRMP_NUMBERED);

	assert_int_equal(crmp_read_int(f, t, crmp_find_column(f, t, "amount"), vals, pres, &e), 0);
	for (i = 0; i < ROWS; i++) {
		assert_int_equal(pres[i], s.present[i]);
		if (pres[i])
			assert_true(vals[i] == s.ints[i]);
	}
	assert_int_equal(crmp_read_int(f, t, 1, vals, NULL, &e), 0);
	for (i = 0; i < ROWS; i++)
		assert_true(vals[i] == s.deltas[i]);
	assert_int_equal(crmp_read_str(f, t, 2, &strs, &e), 0);
	assert_int_equal(strs.n_dict, 5);
	for (i = 0; i < ROWS; i++) {
		if (!s.dict[i]) {
			assert_int_equal(strs.codes[i], UINT32_MAX);
			continue;
		}
		assert_int_equal(strs.lens[strs.codes[i]], s.dict_len[i]);
		assert_memory_equal(strs.dict[strs.codes[i]], s.dict[i], s.dict_len[i]);
	}
	crmp_strs_release(&strs);
	assert_int_equal(crmp_read_str(f, t, 3, &strs, &e), 0);
	for (i = 0; i < ROWS; i++) {
		if (!s.front[i])
			assert_int_equal(strs.codes[i], UINT32_MAX);
		else
			assert_string_equal(strs.dict[strs.codes[i]], s.front[i]);
	}
	crmp_strs_release(&strs);
	assert_int_equal(crmp_table_info(f, 0)->cols[4].enc, CRMP_FRONT);
	assert_int_equal(crmp_read_str(f, t, 4, &strs, &e), 0);
	for (i = 0; i < ROWS; i++)
		assert_string_equal(strs.dict[strs.codes[i]], s.words2[i]);
	crmp_strs_release(&strs);
	assert_int_equal(crmp_table_info(f, 0)->cols[5].enc, CRMP_NUMBERED);
	assert_int_equal(crmp_read_str(f, t, 5, &strs, &e), 0);
	for (i = 0; i < ROWS; i++)
		assert_string_equal(strs.dict[strs.codes[i]], s.plain_ids[i]);
	crmp_strs_release(&strs);
	assert_int_equal(crmp_check_all(f, &e), 0);
	assert_int_equal(crmp_table_info(f, 1)->rows, 0);
	crmp_close(f);
	free(data);
}

static void canonical_bytes(void **state)
{
	static struct sample s;
	unsigned char *a, *b;
	size_t la, lb;

	(void)state;
	fill(&s);
	a = encode_sample(&s, &la);
	b = encode_sample(&s, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
}

/* Open and fully decode; 0 when the file reads cleanly. */
static int open_and_check(const unsigned char *data, size_t len, struct crm_err *e)
{
	struct crmp_file *f = NULL;
	int rc = crmp_open_mem(data, len, "bad.crmp", &f, e);

	if (rc == 0)
		rc = crmp_check_all(f, e);
	crmp_close(f);
	return rc;
}

static void truncation_detected(void **state)
{
	static struct sample s;
	unsigned char *data;
	size_t len, cut;

	(void)state;
	fill(&s);
	data = encode_sample(&s, &len);
	for (cut = 0; cut < len; cut++) {
		struct crm_err e = { 0 };

		assert_int_equal(open_and_check(data, cut, &e), CRM_E_CORRUPT);
		assert_non_null(strstr(e.msg, "damaged period file"));
		assert_string_equal(e.where, "bad.crmp");
	}
	free(data);
}

static void bit_flips_detected(void **state)
{
	static struct sample s;
	unsigned char *data;
	size_t len, i;

	(void)state;
	fill(&s);
	data = encode_sample(&s, &len);
	for (i = 0; i < len; i++) {
		int bit;

		for (bit = 0; bit < 8; bit += 3) {
			struct crm_err e = { 0 };

			data[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(open_and_check(data, len, &e), CRM_E_CORRUPT);
			data[i] ^= (unsigned char)(1u << bit);
		}
	}
	free(data);
}

static void damage_names_table_and_column(void **state)
{
	static struct sample s;
	struct crmp_file *f = NULL;
	struct crm_err e = { 0 };
	unsigned char *data;
	size_t len;

	(void)state;
	fill(&s);
	data = encode_sample(&s, &len);
	/* The first chunk starts at 64: spoil a byte of it. */
	data[70] ^= 0x40;
	assert_int_equal(crmp_open_mem(data, len, "p.crmp", &f, &e), 0);
	assert_int_equal(crmp_check_all(f, &e), CRM_E_CORRUPT);
	assert_string_equal(e.field, "orders.amount");
	assert_non_null(strstr(e.msg, "checksum"));
	crmp_close(f);
	free(data);
}

/*
 * Ids given as numbers (crmp_writer_numbered) give the very bytes the same
 * ids given as strings do, absent values included, and read back as text.
 */
static void numbered_given_as_numbers(void **state)
{
	static char text[ROWS][16];
	static const char *vals[ROWS];
	static uint32_t lens[ROWS];
	static int64_t nums[ROWS];
	static uint8_t present[ROWS];
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0, i;
	struct crm_err e = { 0 };
	struct crmp_writer *w;
	struct crmp_file *f = NULL;
	struct crmp_strs out;

	(void)state;
	for (i = 0; i < ROWS; i++) {
		nums[i] = (int64_t)((i * 7919) % 100000);
		present[i] = i % 13 != 5;
		snprintf(text[i], sizeof(text[i]), "cu-%06lld", (long long)nums[i]);
		vals[i] = present[i] ? text[i] : NULL;
		lens[i] = (uint32_t)strlen(text[i]);
	}
	w = crmp_writer_new(CRMP_PERIOD, 24290);
	assert_int_equal(crmp_writer_table(w, "t", ROWS, &e), 0);
	assert_int_equal(crmp_writer_str(w, "id", vals, lens, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &a, &alen, &e), 0);
	crmp_writer_free(w);
	w = crmp_writer_new(CRMP_PERIOD, 24290);
	assert_int_equal(crmp_writer_table(w, "t", ROWS, &e), 0);
	assert_int_equal(crmp_writer_numbered(w, "id", "cu-", 3, 6, nums, present, &e), 0);
	assert_int_equal(crmp_writer_numbered(w, "bad", "cu1", 3, 6, nums, present, &e),
			 CRM_E_INTERNAL);
	crmp_writer_free(w);
	memset(&e, 0, sizeof(e));
	w = crmp_writer_new(CRMP_PERIOD, 24290);
	assert_int_equal(crmp_writer_table(w, "t", ROWS, &e), 0);
	assert_int_equal(crmp_writer_numbered(w, "id", "cu-", 3, 6, nums, present, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &b, &blen, &e), 0);
	crmp_writer_free(w);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	assert_int_equal(crmp_open_mem(b, blen, "numbered", &f, &e), 0);
	assert_int_equal(crmp_read_str(f, 0, 0, &out, &e), 0);
	for (i = 0; i < ROWS; i++) {
		uint32_t k = out.codes[i];

		if (!present[i]) {
			assert_int_equal(k, UINT32_MAX);
			continue;
		}
		assert_true(k < out.n_dict);
		assert_int_equal(out.lens[k], lens[i]);
		assert_memory_equal(out.dict[k], text[i], lens[i]);
	}
	crmp_strs_release(&out);
	/* The same ids as numbers, for readers that compare or index them. */
	{
		static int64_t back[ROWS];
		static uint8_t back_pres[ROWS];
		struct crmp_numbered shape;

		assert_int_equal(crmp_read_numbered(f, 0, 0, back, back_pres, &shape, &e), 0);
		assert_string_equal(shape.prefix, "cu-");
		assert_int_equal(shape.plen, 3);
		assert_int_equal(shape.width, 6);
		for (i = 0; i < ROWS; i++) {
			assert_int_equal(back_pres[i], present[i]);
			assert_int_equal(back[i], present[i] ? nums[i] : 0);
		}
		assert_int_equal(crmp_read_numbered(f, 0, 0, back, NULL, &shape, &e), 0);
		assert_int_equal(back[ROWS - 1], nums[ROWS - 1]);
	}
	crmp_close(f);
	free(a);
	free(b);
}

/* A column stored another way is not read as numbers: 1, nothing touched. */
static void numbered_reader_declines(void **state)
{
	static const char *vals[3] = { "East", "West", "East" };
	static const uint32_t lens[3] = { 4, 4, 4 };
	unsigned char *data = NULL;
	size_t len = 0;
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
	struct crmp_file *f = NULL;
	struct crmp_numbered shape;
	int64_t nums[3] = { 7, 7, 7 };

	(void)state;
	assert_int_equal(crmp_writer_table(w, "t", 3, &e), 0);
	assert_int_equal(crmp_writer_str(w, "region", vals, lens, &e), 0);
	assert_int_equal(crmp_writer_flush(w, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &data, &len, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &data, &len, &e), CRM_E_INTERNAL);
	crmp_writer_free(w);
	assert_int_equal(crmp_open_mem(data, len, "regions", &f, &e), 0);
	assert_int_equal(crmp_read_numbered(f, 0, 0, nums, NULL, &shape, &e), 1);
	assert_int_equal(nums[0], 7);
	crmp_close(f);
	free(data);
}

/*
 * A table big enough to be encoded on two threads, with the encoder's
 * shortcuts in play: money-like multiples of a scale (exact division,
 * negatives and INT64_MIN's neighbours included), a nullable column with
 * every value present, few values shared by pointer, a dictionary of long
 * values sharing their first eight bytes (radix key ties), one of
 * distinct values (front-coded, found without sorting) and ids of mixed
 * widths (fill_mixed). Read back whole, and encoded twice to the same
 * bytes.
 */
#define BIG 100000

struct big {
	const char *mix[BIG], *mixu[BIG];
	uint32_t mix_len[BIG], mixu_len[BIG];
	char mix_text[BIG][16], mixu_text[BIG][16];
	int64_t money[BIG], stamp[BIG];
	uint8_t all[BIG];
	const char *few[BIG], *dict[BIG], *uniq[BIG];
	uint32_t few_len[BIG], dict_len[BIG], uniq_len[BIG];
	char dict_text[BIG][24], uniq_text[BIG][24];
};

static unsigned char *encode_big(const struct big *b, size_t *len)
{
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 2025 * 12);
	struct crm_err e = { 0 };
	unsigned char *out = NULL;

	assert_non_null(w);
	assert_int_equal(crmp_writer_table(w, "orders", BIG, &e), 0);
	assert_int_equal(crmp_writer_int(w, "amount", b->money, NULL, &e), 0);
	assert_int_equal(crmp_writer_int(w, "ordered_at", b->stamp, b->all, &e), 0);
	assert_int_equal(crmp_writer_str(w, "kind", b->few, b->few_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "region", b->dict, b->dict_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "note", b->uniq, b->uniq_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "customer_id", b->mix, b->mix_len, &e), 0);
	assert_int_equal(crmp_writer_str(w, "ref", b->mixu, b->mixu_len, &e), 0);
	assert_int_equal(crmp_writer_flush(w, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &out, len, &e), 0);
	crmp_writer_free(w);
	return out;
}

/*
 * Ids that outgrow their width ("c999999", "c1000000"): not numbered;
 * their dictionary is sorted as numbers (dict_by_digits). mix repeats
 * (a dictionary, with nulls), mixu does not (front-coded).
 */
static void fill_mixed(struct big *b)
{
	int i;

	for (i = 0; i < BIG; i++) {
		int id = (i * 7) % 40000, u = i < 50000 ? i * 3 : 999000 + i * 2;

		id = id < 20000 ? id * 50 : 1000000 + id;
		snprintf(b->mix_text[i], sizeof(b->mix_text[i]), id < 1000000 ? "c%06d" : "c%d", id);
		b->mix[i] = i % 11 == 0 ? NULL : b->mix_text[i];
		b->mix_len[i] = b->mix[i] ? (uint32_t)strlen(b->mix[i]) : 0;
		snprintf(b->mixu_text[i], sizeof(b->mixu_text[i]), u < 1000000 ? "r%06d" : "r%d", u);
		b->mixu[i] = b->mixu_text[i];
		b->mixu_len[i] = (uint32_t)strlen(b->mixu[i]);
	}
}

static void big_table_two_threads(void **state)
{
	static struct big b;
	static int64_t vals[BIG];
	static uint8_t pres[BIG];
	static const char *const kinds[] = { "web_visit", "email_open", "call" };
	struct crmp_file *f = NULL;
	struct crm_err e = { 0 };
	struct crmp_strs strs;
	unsigned char *one, *two;
	size_t len1, len2;
	int i;

	(void)state;
	for (i = 0; i < BIG; i++) {
		b.money[i] = ((int64_t)((i * 7919) % 20001) - 10000) * 300;
		if (i == 5)
			b.money[i] = INT64_MIN / 300 * 300;
		b.stamp[i] = 1700000000 + i / 3;
		b.all[i] = 1;
		b.few[i] = kinds[(i / 7) % 3];
		b.few_len[i] = (uint32_t)strlen(b.few[i]);
		snprintf(b.dict_text[i], sizeof(b.dict_text[i]), "customer-%d-x", (i * 13) % 999);
		b.dict[i] = b.dict_text[i];
		b.dict_len[i] = (uint32_t)strlen(b.dict[i]);
		snprintf(b.uniq_text[i], sizeof(b.uniq_text[i]), "n%dx", i * 7);
		b.uniq[i] = b.uniq_text[i];
		b.uniq_len[i] = (uint32_t)strlen(b.uniq[i]);
	}
	fill_mixed(&b);
	one = encode_big(&b, &len1);
	two = encode_big(&b, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(one, two, len1);
	assert_int_equal(crmp_open_mem(one, len1, "big.crmp", &f, &e), 0);
	assert_int_equal(crmp_table_info(f, 0)->cols[2].enc, CRMP_DICT);
	assert_int_equal(crmp_table_info(f, 0)->cols[3].enc, CRMP_DICT);
	assert_int_equal(crmp_table_info(f, 0)->cols[4].enc, CRMP_FRONT);
	assert_int_equal(crmp_read_int(f, 0, 0, vals, NULL, &e), 0);
	for (i = 0; i < BIG; i++)
		assert_true(vals[i] == b.money[i]);
	assert_int_equal(crmp_read_int(f, 0, 1, vals, pres, &e), 0);
	assert_int_equal(crmp_table_info(f, 0)->cols[1].nulls, 0);
	for (i = 0; i < BIG; i++)
		assert_true(vals[i] == b.stamp[i] && pres[i] == 1);
	assert_int_equal(crmp_table_info(f, 0)->cols[5].enc, CRMP_DICT);
	assert_int_equal(crmp_table_info(f, 0)->cols[6].enc, CRMP_FRONT);
	for (i = 2; i < 7; i++) {
		const char *const *want = i == 2 ? b.few : i == 3 ? b.dict : i == 4 ? b.uniq
					: i == 5 ? b.mix : b.mixu;
		uint32_t k;
		int r;

		assert_int_equal(crmp_read_str(f, 0, i, &strs, &e), 0);
		for (k = 1; (i < 4 || i == 5) && k < strs.n_dict; k++) /* a dictionary is sorted */
			assert_true(strcmp(strs.dict[k - 1], strs.dict[k]) < 0);
		for (r = 0; r < BIG; r++) {
			if (!want[r])
				assert_int_equal(strs.codes[r], UINT32_MAX);
			else
				assert_string_equal(strs.dict[strs.codes[r]], want[r]);
		}
		crmp_strs_release(&strs);
	}
	assert_int_equal(crmp_check_all(f, &e), 0);
	crmp_close(f);
	free(one);
	free(two);
}

/* ---- hand-made chunks: decoder checks behind a valid CRC ---- */

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * A period file of one table "t" of `rows` rows and one column "c" (no
 * nulls) whose chunk inflates to raw[0..len): every checksum right, so
 * only the decoders can object. Caller frees; *flen gets the size.
 */
static unsigned char *one_column_file(int type, int enc, uint64_t rows, const unsigned char *raw,
				      size_t len, size_t *flen)
{
	uLongf stored = compressBound((uLong)len);
	unsigned char *f = malloc(64 + stored + 64), *d;
	size_t dir_off, n = 0;

	assert_non_null(f);
	memset(f, 0, 64);
	assert_int_equal(compress(f + 64, &stored, raw, (uLong)len), Z_OK);
	dir_off = 64 + stored;
	d = f + dir_off;
	d[n++] = 1;
	d[n++] = 't';
	n += put_varint(d + n, rows);
	d[n++] = 1;
	d[n++] = 1;
	d[n++] = 'c';
	d[n++] = (unsigned char)type;
	d[n++] = (unsigned char)enc;
	d[n++] = 0;
	n += put_varint(d + n, 64);
	n += put_varint(d + n, stored);
	n += put_varint(d + n, len);
	put_le(d + n, crc32(0, f + 64, (uInt)stored), 4);
	n += 4;
	memcpy(f, "\x89" "CRMP\r\n\x1a", 8);
	put_le(f + 8, 1, 2);
	put_le(f + 12, CRMP_PERIOD, 4);
	put_le(f + 20, 1, 4);
	put_le(f + 24, dir_off, 8);
	put_le(f + 32, n, 4);
	put_le(f + 36, crc32(0, d, (uInt)n), 4);
	put_le(f + 40, dir_off + n, 8);
	put_le(f + 60, crc32(0, f, 60), 4);
	*flen = dir_off + n;
	return f;
}

/* Read the one integer column of a hand-made file into v[rows]. */
static int read_one_int(const unsigned char *raw, size_t len, uint64_t rows, int64_t *v,
			struct crm_err *e)
{
	size_t flen;
	unsigned char *data = one_column_file(CRMP_INT, CRMP_PLAIN, rows, raw, len, &flen);
	struct crmp_file *f = NULL;
	int rc = crmp_open_mem(data, flen, "hand.crmp", &f, e);

	if (rc == 0)
		rc = crmp_read_int(f, 0, 0, v, NULL, e);
	crmp_close(f);
	free(data);
	return rc;
}

/*
 * A few bytes can state any number of equal values, so the row count is
 * capped: a file of the cap opens (and says how many rows it has), one
 * row more or the old 2^32 - 1 is damage before anyone allocates for it,
 * and the writer refuses to make such a file.
 */
static void row_count_capped(void **state)
{
	static const unsigned char zero_planes[] = { 1, 0, 0 }; /* scale 1, m 0, B 0 */
	static const uint64_t too_many[] = { CRMP_MAX_ROWS + 1, UINT32_MAX };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 2025 * 12);
	struct crmp_file *f = NULL;
	struct crm_err e = { 0 };
	unsigned char *data;
	size_t flen, i;

	(void)state;
	data = one_column_file(CRMP_INT, CRMP_PLANES, CRMP_MAX_ROWS, zero_planes, 3, &flen);
	assert_int_equal(crmp_open_mem(data, flen, "hand.crmp", &f, &e), 0);
	assert_true(crmp_table_info(f, 0)->rows == CRMP_MAX_ROWS);
	crmp_close(f);
	free(data);
	for (i = 0; i < sizeof(too_many) / sizeof(too_many[0]); i++) {
		f = NULL;
		memset(&e, 0, sizeof(e));
		data = one_column_file(CRMP_INT, CRMP_PLANES, too_many[i], zero_planes, 3, &flen);
		assert_int_equal(crmp_open_mem(data, flen, "hand.crmp", &f, &e), CRM_E_CORRUPT);
		assert_null(f);
		assert_non_null(strstr(e.msg, "more than the 268435456 a table may have"));
		free(data);
	}
	memset(&e, 0, sizeof(e));
	assert_non_null(w);
	assert_int_equal(crmp_writer_table(w, "orders", CRMP_MAX_ROWS + 1, &e), CRM_E_NOMEM);
	assert_non_null(strstr(e.msg, "a period file holds at most 268435456 a table"));
	crmp_writer_free(w);
}

/*
 * Values of 1 to 10 bytes, far from the chunk's end and at it (the
 * decoder takes short values without bound checks while 10 bytes are
 * left), and the non-canonical forms of 2 to 9 bytes refused either way.
 */
static void varints_near_and_far_from_the_end(void **state)
{
	static const uint64_t zz[] = { 0, 5, 127, 128, 300, 16383, 16384, 2097151, 2097152,
				       268435456, 1ULL << 35, 1ULL << 42, (1ULL << 56) - 1, 1ULL << 56,
				       UINT64_MAX - 1, UINT64_MAX };
	const size_t nz = sizeof(zz) / sizeof(zz[0]);

	unsigned char raw[512];
	int64_t v[64];
	size_t len, i, k;

	(void)state;
	for (k = 0; k < 2; k++) {
		struct crm_err e = { 0 };

		/* k = 0: the values, then 40 padding zeros; k = 1: the values last */
		len = put_varint(raw, 1) + (k == 1 ? 40 : 0);
		memset(raw, 0, sizeof(raw));
		raw[0] = 1; /* scale */
		for (i = 0; i < nz; i++)
			len += put_varint(raw + len, zz[i]);
		len += k == 0 ? 40 : 0;
		assert_int_equal(read_one_int(raw, len, nz + 40, v, &e), 0);
		for (i = 0; i < nz; i++) {
			int64_t want = (int64_t)(zz[i] >> 1) ^ -(int64_t)(zz[i] & 1);

			assert_int_equal(v[k == 0 ? i : 40 + i], want);
		}
	}
	/* 5 as 2 to 9 bytes (85 80 .. 80 00); k >= 8: at the end, fewer than 10 bytes left */
	for (k = 0; k < 2 * 8; k++) {
		struct crm_err e = { 0 };
		size_t blen = 2 + k % 8;

		memset(raw, 0, sizeof(raw));
		raw[0] = 1; /* scale */
		len = 1 + (k >= 8 ? 20 : 0);
		memset(raw + len, 0x80, blen - 1);
		raw[len] = 0x85;
		raw[len + blen - 1] = 0;
		len += blen + (k < 8 ? 20 : 0);
		assert_int_equal(read_one_int(raw, len, 21, v, &e), CRM_E_CORRUPT);
		assert_non_null(strstr(e.msg, "values cut short"));
	}
}

/* Numbered values must fit their width (999 in 3 digits, not 1000). */
static void numbered_width_is_a_bound(void **state)
{
	int64_t most;

	(void)state;
	for (most = 999; most <= 1000; most++) {
		unsigned char raw[32];
		size_t len = 0, flen;
		unsigned char *data;
		struct crmp_file *f = NULL;
		struct crm_err e = { 0 };
		struct crmp_numbered shape;
		struct crmp_strs s;
		int64_t nums[2];
		int want = most == 999 ? 0 : CRM_E_CORRUPT;

		len += put_varint(raw + len, 1); /* prefix "c" */
		raw[len++] = 'c';
		raw[len++] = 3;                  /* width */
		raw[len++] = CRMP_PLAIN;
		len += put_varint(raw + len, 1); /* scale */
		len += put_varint(raw + len, 0); /* 0 */
		len += put_varint(raw + len, (uint64_t)most << 1);
		data = one_column_file(CRMP_STR, CRMP_NUMBERED, 2, raw, len, &flen);
		assert_int_equal(crmp_open_mem(data, flen, "hand.crmp", &f, &e), 0);
		assert_int_equal(crmp_read_numbered(f, 0, 0, nums, NULL, &shape, &e), want);
		assert_int_equal(crmp_read_str(f, 0, 0, &s, &e), want);
		if (want == 0) {
			assert_int_equal(nums[1], 999);
			assert_string_equal(s.dict[s.codes[0]], "c000");
			assert_string_equal(s.dict[s.codes[1]], "c999");
			crmp_strs_release(&s);
		}
		crmp_close(f);
		free(data);
	}
}

/* One string column of `rows` rows written by crmp_writer_str, or coded when `codes`. */
static unsigned char *encode_strs_col(const char *const *vals, const uint32_t *lens, size_t rows,
				      const char *const *few, const uint32_t *few_len, unsigned n_few,
				      const uint8_t *codes, size_t *len)
{
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
	unsigned char *out = NULL;

	assert_int_equal(crmp_writer_table(w, "t", rows, &e), 0);
	if (codes)
		assert_int_equal(crmp_writer_coded(w, "s", few, few_len, n_few, codes, &e), 0);
	else
		assert_int_equal(crmp_writer_str(w, "s", vals, lens, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &out, len, &e), 0);
	crmp_writer_free(w);
	return out;
}

/*
 * Thousands of rows of many distinct strings (dictionaries found by
 * sorting rows, not hashing them): values alike in their first 8 bytes,
 * shorter than 8, empty, in shuffled and in sorted row order, all behind
 * a prefix longer than a radix key or not, with absent
 * rows. Each row reads back as written, and the dictionary holds exactly
 * the distinct values (the reader checks that it ascends); with more
 * distinct values than half the rows the column is front-coded.
 */
static void many_distinct_strings(void **state)
{
	enum { N = 6000, POOL = 1500 };
	static char pool[POOL][24];
	static const char *vals[N];
	static uint32_t lens[N];
	static char many[N][40];
	static const char *const alike[] = { "abcdefgh", "abcdefghi", "abcdefgh0", "abcdefg", "",
					     "abcdefgh\x01", "b" };
	size_t round, i, flen, distinct;
	struct crm_err e = { 0 };

	(void)state;
	for (i = 0; i < POOL; i++)
		if (i < 7)
			snprintf(pool[i], sizeof(pool[i]), "%s", alike[i]);
		else
			snprintf(pool[i], sizeof(pool[i]), "%08zx-%zu", (i * 2654435761u) % 100000, i % 3);
	for (round = 0; round < 4; round++) {
		struct crmp_file *f = NULL;
		struct crmp_strs got;
		unsigned char *data;

		for (i = 0; i < N; i++) {
			/*
			 * round 0 shuffled, 1 sorted, 2 distinct but for 100 rows,
			 * 3 as 0 behind a prefix longer than a radix key
			 */
			size_t k = round == 1 ? i * POOL / N : (i * 7919) % POOL;

			if (round == 2) {
				snprintf(many[i], sizeof(many[i]), "id-%zu-x", i % (N - 100));
				vals[i] = many[i];
			} else if (round == 3) {
				snprintf(many[i], sizeof(many[i]), "0035g00000%s", pool[k]);
				vals[i] = i % 13 == 5 ? NULL : many[i];
			} else {
				vals[i] = i % 13 == 5 ? NULL : pool[k];
			}
			lens[i] = vals[i] ? (uint32_t)strlen(vals[i]) : 0;
		}
		data = encode_strs_col(vals, lens, N, NULL, NULL, 0, NULL, &flen);
		assert_int_equal(crmp_open_mem(data, flen, "many.crmp", &f, &e), 0);
		assert_int_equal(crmp_table_info(f, 0)->cols[0].enc, round == 2 ? CRMP_FRONT : CRMP_DICT);
		assert_int_equal(crmp_read_str(f, 0, 0, &got, &e), 0);
		for (i = 0; i < N; i++) {
			if (!vals[i]) {
				assert_int_equal(got.codes[i], UINT32_MAX);
				continue;
			}
			assert_true(got.codes[i] < got.n_dict);
			assert_int_equal(got.lens[got.codes[i]], lens[i]);
			assert_memory_equal(got.dict[got.codes[i]], vals[i], lens[i]);
		}
		distinct = round == 2 ? N - 100 : POOL;
		if (round != 2)
			assert_int_equal(got.n_dict, distinct);
		crmp_strs_release(&got);
		crmp_close(f);
		free(data);
	}
}

/*
 * A column of few values given as codes (crmp_writer_coded) gives the
 * bytes of the same strings given as strings, whichever encoding they
 * take: a dictionary (values unused, absent, empty, out of byte order),
 * front-coded (more values than half the rows), numbered (all prefix
 * and digits), no value at all, no row.
 */
static void coded_as_strings(void **state)
{
	static const char *const few[] = { "web_visit", "email_open", "", "app_login", "unused",
					   "zzz", "call" };
	static const uint32_t few_len[] = { 9, 10, 0, 9, 6, 3, 4 };
	static const char *const ids[] = { "c9", "c10", "c07" };
	static const uint32_t id_len[] = { 2, 3, 3 };
	static const char *const nums[] = { "t12", "t4", "t100" };
	static const uint32_t num_len[] = { 3, 2, 4 };
	static const char *vals[ROWS];
	static uint32_t lens[ROWS];
	static uint8_t codes[ROWS];
	const char *const *sets[] = { few, few, ids, nums, few };
	const uint32_t *set_len[] = { few_len, few_len, id_len, num_len, few_len };
	const unsigned set_n[] = { 7, 7, 3, 3, 7 };
	const size_t set_rows[] = { ROWS, 5, ROWS, ROWS, 0 };
	size_t i, s;

	(void)state;
	for (s = 0; s < 5; s++) {
		for (int absent_all = 0; absent_all < 2; absent_all++) {
			unsigned char *a, *b;
			size_t alen, blen;

			for (i = 0; i < set_rows[s]; i++) {
				unsigned k = (unsigned)((i * 2654435761u) >> 7) % set_n[s];

				if (s < 2 && k == 4)
					k = 0; /* "unused" stays unused */
				codes[i] = absent_all || i % 11 == 3 ? CRMP_CODE_ABSENT : (uint8_t)k;
				vals[i] = codes[i] == CRMP_CODE_ABSENT ? NULL : sets[s][k];
				lens[i] = codes[i] == CRMP_CODE_ABSENT ? 0 : set_len[s][k];
			}
			a = encode_strs_col(vals, lens, set_rows[s], NULL, NULL, 0, NULL, &alen);
			b = encode_strs_col(NULL, NULL, set_rows[s], sets[s], set_len[s], set_n[s], codes,
					    &blen);
			assert_int_equal(alen, blen);
			assert_memory_equal(a, b, alen);
			free(a);
			free(b);
		}
	}
}

/*
 * Integer blocks choose delta or planes by their size (delta when its
 * varints take at most 7/8 of the planes' bytes), with the scale: times
 * (delta), prices (planes), ties and near ties (planes), no values
 * (delta), one value repeated (planes of no bytes), the extremes (planes
 * of 8 bytes), and one column long enough to cross the writer's blocks
 * of values. Checked by the encoding in the directory and by reading the
 * values back.
 */
static void int_blocks_delta_or_planes(void **state)
{
	enum { N = 10000 };
	static int64_t v[N], back[N];
	static const struct {
		int enc;
		size_t n;
		size_t raw; /* bytes of the chunk before compression, or 0: not checked */
	} cases[] = {
		{ CRMP_DELTA, N, 0 },
		{ CRMP_PLANES, N, 1 + 2 + 1 + 2 * N },  /* scale 100, lo -900, B = 2, two planes */
		{ CRMP_PLANES, 3, 2 + 1 + 1 + 3 },      /* 0, 1, 2: delta 3 bytes, planes 3 */
		{ CRMP_DELTA, 0, 1 },
		{ CRMP_PLANES, 2, 1 + 1 + 1 + 2 },      /* 63, -64: delta 3 bytes, planes 2 */
		{ CRMP_PLANES, N, 1 + 1 + 1 },          /* all 7: scale 7, lo 1, no planes */
		{ CRMP_PLANES, 4, 1 + 9 + 1 + 32 },     /* near INT64_MIN, INT64_MAX: scale 2, B 8 */
		{ CRMP_DELTA, N, 1 + N },               /* 0, 8, 16, ...: steps of 1 after the scale */
	};
	size_t i, c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct crm_err e = { 0 };
		struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
		struct crmp_file *f = NULL;
		unsigned char *out = NULL;
		size_t len = 0;

		for (i = 0; i < cases[c].n; i++) {
			switch (c) {
			case 0: v[i] = 1700000000 + (int64_t)i * 37; break;          /* times */
			case 1: v[i] = (int64_t)((i * 7919) % 5000) * 100 - 90000; break; /* prices */
			case 2: v[i] = (int64_t)i * 200; break;                          /* 0, 1, 2 */
			case 4: v[i] = i ? -64 : 63; break;
			case 5: v[i] = 7; break;
			case 6: v[i] = i % 2 ? INT64_MAX - (int64_t)i : INT64_MIN + (int64_t)i; break;
			case 7: v[i] = (int64_t)i * 8; break;
			}
		}
		assert_int_equal(crmp_writer_table(w, "t", cases[c].n, &e), 0);
		assert_int_equal(crmp_writer_int(w, "x", v, NULL, &e), 0);
		assert_int_equal(crmp_writer_encode(w, &out, &len, &e), 0);
		crmp_writer_free(w);
		assert_int_equal(crmp_open_mem(out, len, "ints", &f, &e), 0);
		assert_int_equal(crmp_table_info(f, 0)->cols[0].enc, cases[c].enc);
		if (cases[c].raw)
			assert_int_equal(crmp_table_info(f, 0)->cols[0].raw, cases[c].raw);
		assert_int_equal(crmp_read_int(f, 0, 0, back, NULL, &e), 0);
		for (i = 0; i < cases[c].n; i++)
			assert_true(back[i] == v[i]);
		crmp_close(f);
		free(out);
	}
}

/* A file of one table "t" (3 rows, 3 integer columns) sorted by key[0..n). */
static unsigned char *encode_sorted(const int *key, size_t n, size_t *len, int *rc)
{
	static const int64_t a[3] = { 1, 2, 3 }, b[3] = { 9, 8, 7 }, c[3] = { 5, 5, 5 };
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
	unsigned char *out = NULL;

	assert_int_equal(crmp_writer_table(w, "t", 3, &e), 0);
	assert_int_equal(crmp_writer_sorted(w, key, n, &e), 0);
	assert_int_equal(crmp_writer_int(w, "a", a, NULL, &e), 0);
	assert_int_equal(crmp_writer_int(w, "b", b, NULL, &e), 0);
	assert_int_equal(crmp_writer_int(w, "c", c, NULL, &e), 0);
	*rc = crmp_writer_encode(w, &out, len, &e);
	crmp_writer_free(w);
	return out;
}

/*
 * A table's sort key is in its directory entry and reads back; a key
 * naming a column the table does not have, or one column twice, is
 * refused by the writer; a directory whose key does is damage.
 */
static void sort_key_round_trip(void **state)
{
	static const int key[] = { 2, 0 }, bad[] = { 0, 3 }, twice[] = { 1, 1 };
	struct crm_err e = { 0 };
	struct crmp_file *f = NULL;
	unsigned char *out;
	size_t len = 0, i, dir;
	int rc;

	(void)state;
	out = encode_sorted(key, 2, &len, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(crmp_open_mem(out, len, "sorted", &f, &e), 0);
	assert_int_equal(crmp_table_info(f, 0)->n_sort, 2);
	assert_int_equal(crmp_table_info(f, 0)->sort[0], 2);
	assert_int_equal(crmp_table_info(f, 0)->sort[1], 0);
	crmp_close(f);
	/* The entry: name "t", 3 rows, 3 columns, then the key 2 columns: 2, 0. */
	dir = (size_t)out[24] | (size_t)out[25] << 8;
	assert_memory_equal(out + dir, "\x01t\x03\x03\x02\x02\x00", 7);
	/* Name column 3 instead of 0 (and mend the checksums): damage. */
	out[dir + 6] = 3;
	for (i = 0; i < 4; i++)
		out[36 + i] = (unsigned char)(crc32(0, out + dir, (uInt)(len - dir)) >> (8 * i));
	for (i = 0; i < 4; i++)
		out[60 + i] = (unsigned char)(crc32(0, out, 60) >> (8 * i));
	assert_int_equal(crmp_open_mem(out, len, "sorted", &f, &e), CRM_E_CORRUPT);
	assert_non_null(strstr(e.msg, "sort column"));
	free(out);
	assert_null(encode_sorted(bad, 2, &len, &rc));
	assert_int_equal(rc, CRM_E_INTERNAL);
	assert_null(encode_sorted(twice, 2, &len, &rc));
	assert_int_equal(rc, CRM_E_INTERNAL);
}

/*
 * A version 1 file (no sort key in the directory) still reads: the same
 * file as version 2 with an empty key, its key byte taken out and the
 * header mended, gives the same values and no key.
 */
static void version_1_still_read(void **state)
{
	struct crm_err e = { 0 };
	struct crmp_file *f = NULL;
	int64_t back[3];
	unsigned char *out;
	size_t len = 0, i, dir, flen;
	uint32_t crc;
	int rc;

	(void)state;
	out = encode_sorted(NULL, 0, &len, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(out[8], 2);
	dir = (size_t)out[24] | (size_t)out[25] << 8;
	assert_int_equal(out[dir + 4], 0); /* "t", rows, columns, then the empty key */
	memmove(out + dir + 4, out + dir + 5, len - dir - 5);
	flen = len - 1;
	out[8] = 1;
	out[32] = (unsigned char)(len - 1 - dir); /* directories this small: one byte */
	out[40] = (unsigned char)(flen & 0xff);
	out[41] = (unsigned char)(flen >> 8);
	crc = (uint32_t)crc32(0, out + dir, (uInt)(flen - dir));
	for (i = 0; i < 4; i++)
		out[36 + i] = (unsigned char)(crc >> (8 * i));
	crc = (uint32_t)crc32(0, out, 60);
	for (i = 0; i < 4; i++)
		out[60 + i] = (unsigned char)(crc >> (8 * i));
	assert_int_equal(crmp_open_mem(out, flen, "v1", &f, &e), 0);
	assert_int_equal(crmp_table_info(f, 0)->n_sort, 0);
	assert_int_equal(crmp_read_int(f, 0, 1, back, NULL, &e), 0);
	assert_true(back[0] == 9 && back[1] == 8 && back[2] == 7);
	crmp_close(f);
	/* Version 3 is refused. */
	out[8] = 3;
	crc = (uint32_t)crc32(0, out, 60);
	for (i = 0; i < 4; i++)
		out[60 + i] = (unsigned char)(crc >> (8 * i));
	assert_int_equal(crmp_open_mem(out, flen, "v3", &f, &e), CRM_E_CORRUPT);
	free(out);
}

/*
 * Planes whose byte count is impossible (over 8, or more bytes than the
 * chunk holds) are damage, not a read past the chunk.
 */
static void bad_planes_detected(void **state)
{
	static const int64_t v[4] = { 100, 300, 200, 5000 };
	static const unsigned char bytes[] = { 9, 2 };
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
	struct crmp_file *f = NULL;
	unsigned char *out = NULL, raw[64], *p;
	uLongf zlen;
	size_t len = 0, i, k, dir, at;
	int64_t back[4];

	(void)state;
	assert_int_equal(crmp_writer_table(w, "t", 4, &e), 0);
	assert_int_equal(crmp_writer_int(w, "x", v, NULL, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &out, &len, &e), 0);
	crmp_writer_free(w);
	assert_int_equal(crmp_open_mem(out, len, "planes", &f, &e), 0);
	assert_int_equal(crmp_table_info(f, 0)->cols[0].enc, CRMP_PLANES);
	assert_int_equal(crmp_table_info(f, 0)->cols[0].raw, 1 + 1 + 1 + 4); /* scale 100, lo 1, B 1 */
	crmp_close(f);
	for (k = 0; k < sizeof(bytes); k++) {
		/* The same chunk with B replaced, recompressed; the directory mended. */
		unsigned char good[7] = { 100, 2, 1, 0, 2, 1, 49 };
		unsigned char *file = malloc(len + 64);

		good[2] = bytes[k];
		zlen = sizeof(raw);
		assert_int_equal(compress2(raw, &zlen, good, sizeof(good), 1), Z_OK);
		memcpy(file, out, 64);
		memcpy(file + 64, raw, zlen);
		dir = 64 + zlen;
		p = file + dir;
		memcpy(p, "\x01t\x04\x01\x00\x01x\x01\x06\x00\x40", 11);
		p += 11;
		*p++ = (unsigned char)zlen;
		*p++ = sizeof(good);
		for (i = 0; i < 4; i++)
			*p++ = (unsigned char)(crc32(0, raw, (uInt)zlen) >> (8 * i));
		at = (size_t)(p - file);
		file[24] = (unsigned char)dir;
		file[25] = 0;
		file[32] = (unsigned char)(at - dir);
		file[40] = (unsigned char)at;
		file[41] = 0;
		for (i = 0; i < 4; i++)
			file[36 + i] = (unsigned char)(crc32(0, file + dir, (uInt)(at - dir)) >> (8 * i));
		for (i = 0; i < 4; i++)
			file[60 + i] = (unsigned char)(crc32(0, file, 60) >> (8 * i));
		assert_int_equal(crmp_open_mem(file, at, "planes", &f, &e), 0);
		assert_int_equal(crmp_read_int(f, 0, 0, back, NULL, &e), CRM_E_CORRUPT);
		assert_non_null(strstr(e.msg, "bad planes"));
		memset(&e, 0, sizeof(e));
		crmp_close(f);
		free(file);
	}
	free(out);
}

/*
 * Days of a column of times round-trip: local days a timezone puts an
 * hour or a day away from the UTC day, times before 1970 (the UTC day
 * rounds down), and days that are no day of their time at all.
 */
static void days_round_trip(void **state)
{
	enum { N = 5000 };
	static int64_t t[N], d[N], back[N];
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
	struct crmp_file *f = NULL;
	unsigned char *out = NULL;
	size_t len = 0, i;

	(void)state;
	for (i = 0; i < N; i++) {
		t[i] = (int64_t)((i * 2654435761u) % 4000000) - 1000000; /* some before 1970 */
		d[i] = (t[i] + (i % 3 ? 10 * 3600 : -5 * 3600) - 86399) / 86400; /* local days, roughly */
	}
	d[7] = INT64_MIN;
	d[8] = INT64_MAX;
	assert_int_equal(crmp_writer_table(w, "t", N, &e), 0);
	assert_int_equal(crmp_writer_int(w, "at", t, NULL, &e), 0);
	assert_int_equal(crmp_writer_days(w, "day", d, 0, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &out, &len, &e), 0);
	crmp_writer_free(w);
	assert_int_equal(crmp_open_mem(out, len, "days", &f, &e), 0);
	assert_int_equal(crmp_table_info(f, 0)->cols[1].enc, CRMP_DAYS);
	assert_int_equal(crmp_read_int(f, 0, 1, back, NULL, &e), 0);
	for (i = 0; i < N; i++)
		assert_true(back[i] == d[i]);
	assert_int_equal(crmp_check_all(f, &e), 0);
	crmp_close(f);
	free(out);
}

/* The writer refuses days of a column it cannot stand on. */
static void days_need_times(void **state)
{
	static const int64_t v[2] = { 1, 2 };
	static const uint8_t some[2] = { 1, 0 };
	static const char *const sv[2] = { "a", "b" };
	static const uint32_t sl[2] = { 1, 1 };
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);

	(void)state;
	assert_int_equal(crmp_writer_table(w, "t", 2, &e), 0);
	assert_int_equal(crmp_writer_int(w, "a", v, some, &e), 0);     /* 0: with a present array */
	assert_int_equal(crmp_writer_str(w, "s", sv, sl, &e), 0);      /* 1: a string */
	assert_int_equal(crmp_writer_int(w, "b", v, NULL, &e), 0);     /* 2: fine */
	assert_int_equal(crmp_writer_days(w, "d0", v, 0, &e), CRM_E_INTERNAL);
	assert_int_equal(crmp_writer_days(w, "d1", v, 1, &e), CRM_E_INTERNAL);
	assert_int_equal(crmp_writer_days(w, "d9", v, 9, &e), CRM_E_INTERNAL);
	assert_int_equal(crmp_writer_days(w, "d2", v, 2, &e), 0);
	assert_int_equal(crmp_writer_days(w, "dd", v, 3, &e), CRM_E_INTERNAL); /* days of days */
	crmp_writer_free(w);
}

/* One column of a crafted file: its chunk before compression. */
struct craft_col {
	const char *name;
	int type, enc;
	unsigned nulls;
	const unsigned char *raw;
	size_t raw_len;
};

/* A version 2 file of one table "t" of `rows` rows and the columns given, checksums right. */
static unsigned char *craft(const struct craft_col *cols, size_t n, unsigned rows, size_t *len)
{
	unsigned char *file = calloc(1, 4096), *p;
	size_t i, k, at = 64, dir;
	uLongf zlen;
	size_t offs[8], zl[8];

	for (i = 0; i < n; i++) {
		zlen = 4096 - at - 512;
		assert_int_equal(compress2(file + at, &zlen, cols[i].raw, (uLong)cols[i].raw_len, 1), Z_OK);
		offs[i] = at;
		zl[i] = zlen;
		at += zlen;
	}
	dir = at;
	p = file + dir;
	memcpy(p, "\x01t", 2);
	p += 2;
	*p++ = (unsigned char)rows;
	*p++ = (unsigned char)n;
	*p++ = 0; /* no sort key */
	for (i = 0; i < n; i++) {
		uint32_t crc = (uint32_t)crc32(0, file + offs[i], (uInt)zl[i]);
		size_t nl = strlen(cols[i].name);

		*p++ = (unsigned char)nl;
		memcpy(p, cols[i].name, nl);
		p += nl;
		*p++ = (unsigned char)cols[i].type;
		*p++ = (unsigned char)cols[i].enc;
		*p++ = (unsigned char)cols[i].nulls;
		if (offs[i] >= 128) /* varint: offsets < 16384 */
			*p++ = (unsigned char)(offs[i] | 0x80);
		*p++ = (unsigned char)(offs[i] >> (offs[i] >= 128 ? 7 : 0));
		*p++ = (unsigned char)zl[i];
		*p++ = (unsigned char)cols[i].raw_len;
		for (k = 0; k < 4; k++)
			*p++ = (unsigned char)(crc >> (8 * k));
	}
	at = (size_t)(p - file);
	memcpy(file, "\x89" "CRMP\r\n\x1a", 8);
	file[8] = 2;
	file[12] = 1;
	file[20] = 1;
	file[24] = (unsigned char)dir;
	file[25] = (unsigned char)(dir >> 8);
	file[32] = (unsigned char)(at - dir);
	file[40] = (unsigned char)at;
	file[41] = (unsigned char)(at >> 8);
	for (k = 0; k < 4; k++)
		file[36 + k] = (unsigned char)(crc32(0, file + dir, (uInt)(at - dir)) >> (8 * k));
	for (k = 0; k < 4; k++)
		file[60 + k] = (unsigned char)(crc32(0, file, 60) >> (8 * k));
	*len = at;
	return file;
}

/*
 * A days column naming itself, a column past the end, a column with
 * nulls, a string column or another days column, or with an unknown
 * mode, is damage; the same file naming its times reads.
 */
static void bad_days_detected(void **state)
{
	/* Times 86400, 172800 (delta, scale 86400: 1 1); with 1 null: presence 1 1 1, then 1. */
	static const unsigned char times[] = { 0x80, 0xa3, 0x05, 0x02, 0x02 };
	static const unsigned char holey[] = { 1, 1, 0, 1, 2 };
	static const unsigned char strs[] = { 1, 1, 'a', 0, 0 };         /* dictionary "a", codes 0 0 */
	static const unsigned char days_ok[] = { 0, 6, 1, 0, 0 };        /* of 0, planes: scale 1, m 0, B 0 */
	static const unsigned char of[6][5] = {
		{ 3, 6, 1, 0, 0 }, { 9, 6, 1, 0, 0 }, { 1, 6, 1, 0, 0 },
		{ 2, 6, 1, 0, 0 }, { 4, 6, 1, 0, 0 }, { 0, 9, 1, 0, 0 },
	};
	struct craft_col cols[5] = {
		{ "at", CRMP_INT, CRMP_DELTA, 0, times, sizeof(times) },
		{ "h", CRMP_INT, CRMP_DELTA, 1, holey, sizeof(holey) },
		{ "s", CRMP_STR, CRMP_DICT, 0, strs, sizeof(strs) },
		{ "d", CRMP_INT, CRMP_DAYS, 0, days_ok, sizeof(days_ok) },
		{ "e", CRMP_INT, CRMP_DAYS, 0, days_ok, sizeof(days_ok) },
	};
	struct crm_err e = { 0 };
	struct crmp_file *f = NULL;
	int64_t back[2];
	unsigned char *file;
	size_t len, i;

	(void)state;
	file = craft(cols, 5, 2, &len);
	assert_int_equal(crmp_open_mem(file, len, "days", &f, &e), 0);
	assert_int_equal(crmp_read_int(f, 0, 3, back, NULL, &e), 0);
	assert_true(back[0] == 1 && back[1] == 2);
	crmp_close(f);
	free(file);
	for (i = 0; i < 6; i++) {
		cols[3].raw = of[i];
		file = craft(cols, 5, 2, &len);
		assert_int_equal(crmp_open_mem(file, len, "days", &f, &e), 0);
		assert_int_equal(crmp_read_int(f, 0, 3, back, NULL, &e), CRM_E_CORRUPT);
		assert_non_null(strstr(e.msg, "days"));
		memset(&e, 0, sizeof(e));
		crmp_close(f);
		free(file);
	}
}

/*
 * Integer columns of few distinct values spread over a wide range (price
 * lists) are dictionaries, with nulls too; one distinct value more than
 * a sixteenth of the values, or values that fit planes of one byte, are
 * not.
 */
static void int_dict_round_trip(void **state)
{
	enum { N = 4800 };
	static int64_t v[N], back[N];
	static uint8_t present[N], pback[N];
	static const struct {
		int enc;
		size_t distinct;  /* values taken, spread 1000 apart (1: 0..distinct-1) */
		int spread, holes;
	} cases[] = {
		{ CRMP_DICT, 300, 1000, 0 },
		{ CRMP_DICT, 200, 1000, 1 },           /* with nulls: a sixteenth of the present values */
		{ CRMP_DICT, 300, -1000, 0 },          /* negative */
		{ CRMP_DICT, N / 16, 1000, 0 },        /* the most there may be */
		{ CRMP_PLANES, N / 16 + 1, 1000, 0 },  /* one more */
		{ CRMP_PLANES, 30, 1, 0 },             /* planes of one byte */
	};
	size_t i, c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct crm_err e = { 0 };
		struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);
		struct crmp_file *f = NULL;
		unsigned char *out = NULL;
		size_t len = 0;

		for (i = 0; i < N; i++) {
			/* Every value at least once; the rest at random among them. */
			size_t k = i < cases[c].distinct ? i : (i * 2654435761u >> 8) % cases[c].distinct;

			v[i] = (int64_t)k * cases[c].spread * 7 + 13;
			present[i] = !cases[c].holes || i % 9 != 5;
		}
		assert_int_equal(crmp_writer_table(w, "t", N, &e), 0);
		assert_int_equal(crmp_writer_int(w, "x", v, cases[c].holes ? present : NULL, &e), 0);
		assert_int_equal(crmp_writer_encode(w, &out, &len, &e), 0);
		crmp_writer_free(w);
		assert_int_equal(crmp_open_mem(out, len, "dict", &f, &e), 0);
		assert_int_equal(crmp_table_info(f, 0)->cols[0].enc, cases[c].enc);
		assert_int_equal(crmp_read_int(f, 0, 0, back, pback, &e), 0);
		for (i = 0; i < N; i++) {
			assert_int_equal(pback[i], present[i] || !cases[c].holes);
			assert_true(!pback[i] || back[i] == v[i]);
		}
		crmp_close(f);
		free(out);
	}
}

/*
 * An integer dictionary bigger than its column, empty for values, not
 * strictly ascending, with a code past its end or a negative one, or an
 * unknown block encoding, is damage.
 */
static void bad_int_dict_detected(void **state)
{
	/* 2 values: dictionary D, values block (mode, scale, ...), codes block. */
	static const unsigned char good[] = { 2, 2, 1, 10, 2, 6, 1, 0, 1, 0, 1 };
	static const unsigned char bad[][11] = {
		{ 3, 2, 1, 10, 2, 6, 1, 0, 1, 0, 1 },    /* D 3 > 2 values */
		{ 0, 2, 1, 6, 1, 0, 1, 0, 1 },           /* D 0 */
		{ 2, 2, 1, 10, 0, 6, 1, 0, 1, 0, 1 },    /* 5, 5 */
		{ 2, 2, 1, 10, 2, 6, 1, 0, 1, 0, 2 },    /* code 2 */
		{ 2, 2, 1, 10, 2, 6, 1, 1, 1, 0, 1 },    /* code -1 */
		{ 2, 9, 1, 10, 2, 6, 1, 0, 1, 0, 1 },    /* mode 9 */
	};
	static const size_t bad_len[] = { 11, 9, 11, 11, 11, 11 };
	struct craft_col col = { "x", CRMP_INT, CRMP_DICT, 0, good, sizeof(good) };
	struct crm_err e = { 0 };
	struct crmp_file *f = NULL;
	int64_t back[2];
	unsigned char *file;
	size_t len, i;

	(void)state;
	file = craft(&col, 1, 2, &len);
	assert_int_equal(crmp_open_mem(file, len, "dict", &f, &e), 0);
	assert_int_equal(crmp_read_int(f, 0, 0, back, NULL, &e), 0);
	assert_true(back[0] == 5 && back[1] == 6);
	crmp_close(f);
	free(file);
	for (i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		col.raw = bad[i];
		col.raw_len = bad_len[i];
		file = craft(&col, 1, 2, &len);
		assert_int_equal(crmp_open_mem(file, len, "dict", &f, &e), 0);
		assert_int_equal(crmp_read_int(f, 0, 0, back, NULL, &e), CRM_E_CORRUPT);
		memset(&e, 0, sizeof(e));
		crmp_close(f);
		free(file);
	}
}

/* xorshift64, for the random columns below. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One column both ways, strings and digit keys: the same bytes. */
static void same_both_ways(const char *prefix, const char *const *vals, const uint32_t *lens,
			   const int64_t *keys, const uint8_t *present, size_t rows)
{
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	struct crm_err e = { 0 };
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, 24290);

	assert_int_equal(crmp_writer_table(w, "t", rows, &e), 0);
	assert_int_equal(crmp_writer_str(w, "id", vals, lens, &e), 0);
	assert_int_equal(crmp_writer_encode(w, &a, &alen, &e), 0);
	crmp_writer_free(w);
	w = crmp_writer_new(CRMP_PERIOD, 24290);
	assert_int_equal(crmp_writer_table(w, "t", rows, &e), 0);
	assert_int_equal(crmp_writer_digits(w, "id", prefix, (uint32_t)strlen(prefix), keys, present,
					    &e), 0);
	assert_int_equal(crmp_writer_encode(w, &b, &blen, &e), 0);
	crmp_writer_free(w);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
}

/*
 * Random columns of digit keys against their strings: prefixes that end
 * in digits or are empty, no digits at all, one width or many, leading
 * zeros or none, up to 8 digits (encoded from the keys) or more
 * (through the strings), few or many distinct values, sorted or not,
 * absent rows, sizes on both sides of the dictionary paths' thresholds.
 */
static void short_keys_as_strings(void **state)
{
	static const char *const prefixes[] = { "", "c", "c1", "ab0", "id-" };
	static const size_t sizes[] = { 0, 1, 2, 17, 1000, 5000 };
	enum { MAXR = 5000 };
	char (*text)[40] = malloc(MAXR * sizeof(*text));
	const char **vals = malloc(MAXR * sizeof(*vals));
	uint32_t *lens = malloc(MAXR * sizeof(*lens));
	int64_t *keys = malloc(MAXR * sizeof(*keys));
	uint8_t *present = malloc(MAXR);
	uint64_t seed = 0x243f6a8885a308d3ULL;
	int round;

	(void)state;
	assert_true(text && vals && lens && keys && present);
	for (round = 0; round < 300; round++) {
		const char *prefix = prefixes[rnd(&seed) % 5];
		size_t rows = sizes[rnd(&seed) % 6], r;
		unsigned lo = (unsigned)(rnd(&seed) % 10), hi = lo + (unsigned)(rnd(&seed) % 4);
		uint64_t distinct = 1 + rnd(&seed) % (rnd(&seed) % 2 ? 30 : 100000);
		int zeros = rnd(&seed) % 2, sorted = rnd(&seed) % 3 == 0;
		unsigned absent = (unsigned)(rnd(&seed) % 3);
		size_t plen = strlen(prefix);

		if (hi > CRMP_DIGITS_MAX)
			hi = CRMP_DIGITS_MAX;
		for (r = 0; r < rows; r++) {
			uint64_t v = (sorted ? r * distinct / (rows ? rows : 1) : rnd(&seed) % distinct);
			unsigned width = lo + (unsigned)(v % (hi - lo + 1)), d;
			char digits[CRMP_DIGITS_MAX + 1];

			/* The digits of v in `width` places; no leading zero when !zeros. */
			for (d = width; d > 0; d--) {
				digits[d - 1] = (char)('0' + v % 10);
				v /= 10;
			}
			if (!zeros && width > 1 && digits[0] == '0')
				digits[0] = '1';
			snprintf(text[r], sizeof(text[r]), "%s%.*s", prefix, (int)width, digits);
			lens[r] = (uint32_t)strlen(text[r]);
			keys[r] = crmp_digits_key(text[r] + plen, lens[r] - (uint32_t)plen);
			present[r] = absent == 0 || (absent == 1 && rnd(&seed) % 10 != 0);
			vals[r] = present[r] ? text[r] : NULL;
		}
		same_both_ways(prefix, vals, lens, keys, present, rows);
	}
	free(text);
	free(vals);
	free(lens);
	free(keys);
	free(present);
}

/*
 * Ids given as digit keys (crmp_writer_digits) give the bytes of the same
 * ids given as strings: widths that grew ("c999999", "c1000000"),
 * leading zeros, one width only (numbered), many distinct values
 * (front-coded), few (dictionary), absent rows. Keys order as the digits'
 * bytes and give the digits back.
 */
static void digits_as_strings(void **state)
{
	static char text[ROWS][32];
	static const char *vals[ROWS];
	static uint32_t lens[ROWS];
	static int64_t keys[ROWS];
	static uint8_t present[ROWS];
	size_t i, mode;

	(void)state;
	for (mode = 0; mode < 4; mode++) {
		for (i = 0; i < ROWS; i++) {
			uint64_t v = (uint64_t)((i * 7919) % (mode == 2 ? 20 : 2000));

			present[i] = mode == 3 || i % 17 != 4;
			if (mode == 1)
				snprintf(text[i], sizeof(text[i]), "c%06llu", (unsigned long long)v);
			else
				snprintf(text[i], sizeof(text[i]), "c%0*llu", i % 3 ? 6 : 7,
					 (unsigned long long)(i % 5 ? v : v + 999990));
			vals[i] = present[i] ? text[i] : NULL;
			lens[i] = (uint32_t)strlen(text[i]);
			keys[i] = crmp_digits_key(text[i] + 1, lens[i] - 1);
		}
		same_both_ways("c", vals, lens, keys, mode == 3 ? NULL : present, ROWS);
	}
	for (i = 1; i < ROWS; i++) {
		int bytes = strcmp(text[i - 1] + 1, text[i] + 1);
		char back[CRMP_DIGITS_MAX];

		assert_int_equal((keys[i - 1] > keys[i]) - (keys[i - 1] < keys[i]),
				 (bytes > 0) - (bytes < 0));
		assert_int_equal(crmp_key_digits(keys[i], back), lens[i] - 1);
		assert_memory_equal(back, text[i] + 1, lens[i] - 1);
	}
	assert_true(crmp_digits_key("999999999999999", 15) > crmp_digits_key("99999999999999", 14));
	assert_true(crmp_digits_key("999999999999999", 15) > 0);
	assert_true(crmp_digits_key("1", 1) > crmp_digits_key("09999", 5));
	{
		char back[CRMP_DIGITS_MAX];

		assert_int_equal(crmp_key_digits(crmp_digits_key("012345678901234", 15), back), 15);
		assert_memory_equal(back, "012345678901234", 15);
		assert_int_equal(crmp_key_digits(crmp_digits_key("7", 1), back), 1);
		assert_int_equal(back[0], '7');
	}
	assert_true(crmp_number_key(42, 4) == crmp_digits_key("0042", 4));
	assert_true(crmp_digits_key("0", 1) > crmp_digits_key("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(canonical_bytes),
		cmocka_unit_test(truncation_detected),
		cmocka_unit_test(bit_flips_detected),
		cmocka_unit_test(damage_names_table_and_column),
		cmocka_unit_test(numbered_given_as_numbers),
		cmocka_unit_test(numbered_reader_declines),
		cmocka_unit_test(big_table_two_threads),
		cmocka_unit_test(row_count_capped),
		cmocka_unit_test(varints_near_and_far_from_the_end),
		cmocka_unit_test(numbered_width_is_a_bound),
		cmocka_unit_test(many_distinct_strings),
		cmocka_unit_test(coded_as_strings),
		cmocka_unit_test(int_blocks_delta_or_planes),
		cmocka_unit_test(sort_key_round_trip),
		cmocka_unit_test(version_1_still_read),
		cmocka_unit_test(bad_planes_detected),
		cmocka_unit_test(days_round_trip),
		cmocka_unit_test(days_need_times),
		cmocka_unit_test(bad_days_detected),
		cmocka_unit_test(int_dict_round_trip),
		cmocka_unit_test(bad_int_dict_detected),
		cmocka_unit_test(digits_as_strings),
		cmocka_unit_test(short_keys_as_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
