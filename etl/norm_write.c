/*
 * norm_write.c - normalize, pass 3: each month's rows into canonical order
 * and a period file (written on parallel threads, one month each, only when
 * its bytes change), then the customers dimension.
 */
#include "norm_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cpus.h"
#include "fsx.h"
#include "lineage.h"
#include "log.h"
#include "period.h"
#include "sortx.h"
#include "val.h"

#include "banned.h"

/* ------------------------------------------------------------ pass 3: write */

/*
 * How pass 3 holds a string column (from the run's struct strshape): as
 * numbers, as a one-byte code per row into the few owned values (kinds,
 * channels: a pointer and a length a row took 12 bytes, to fault in, move
 * in the sort and compare when encoding), or as pointers to copies in the
 * table's string arena (general). A general column may still be
 * numbered within one month (ids whose width grows over the years): it is
 * learnt while loading and then kept as numbers too, since reading the
 * strings back after the sort costs a cache miss per value; its copies
 * and pointers are then dropped before the sort.
 */
enum strmode { SM_GENERAL, SM_NUMBERED, SM_FEW };

/*
 * Copies of the general strings of a table, in blocks that never move
 * (rows point into them). The spill file is then read a block at a time
 * instead of whole: the copies take the bytes of the strings alone, a
 * fraction of the spill records they come from.
 */
#define ARENA_BLOCK ((size_t)1 << 20)

struct strarena {
	char **blocks;           /* owned, each owned */
	size_t n, cap;
	size_t used;             /* bytes used in the last block */
	size_t last;             /* size of the last block */
};

static void arena_release(struct strarena *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}

/* A copy of s[0..len) that stays put until arena_release, or NULL. */
static const char *arena_copy(struct strarena *a, const char *s, uint32_t len)
{
	char *p;

	if (!a->n || a->last - a->used < len) {
		size_t size = len > ARENA_BLOCK ? len : ARENA_BLOCK;

		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 16;
			char **b = realloc(a->blocks, cap * sizeof(*b));

			if (!b)
				return NULL;
			a->blocks = b;
			a->cap = cap;
		}
		if (!(a->blocks[a->n] = malloc(size)))
			return NULL;
		a->n++;
		a->used = 0;
		a->last = size;
	}
	p = a->blocks[a->n - 1] + a->used;
	memcpy(p, s, len);
	a->used += len;
	return p;
}

/* The rows of one table of one month, column by column. */
struct cols {
	const struct tab_def *t;
	const struct strshape *shape;  /* the table's column shapes, or NULL: all general */
	size_t rows, cap;
	size_t present_strs[TAB_MAX_COLS]; /* present values per string column */
	struct strshape month[TAB_MAX_COLS]; /* numbered shape of general columns this month */
	uint8_t dkeys[TAB_MAX_COLS];   /* general column held as digit keys (see to_digit_keys) */
	int64_t *iv[TAB_MAX_COLS];     /* integers; numbered strings' numbers */
	uint8_t *pres[TAB_MAX_COLS];
	const char **sv[TAB_MAX_COLS]; /* general strings */
	uint32_t *sl[TAB_MAX_COLS];
	uint8_t *code[TAB_MAX_COLS];   /* few-valued strings: index in shape few[], or CRMP_CODE_ABSENT */
	uint8_t rank[TAB_MAX_COLS][FEW_VALUES]; /* few value -> its place in byte order, for the sort */
	struct strarena arena;         /* copies of general strings (pass 3), else empty */
	int copy;                      /* general strings are copied into `arena` */
	uint8_t plan[TAB_MAX_COLS];    /* enum plan of each column, for loading */
	const int *keys;               /* the sort key in use: t's keys or alt_keys (cols_sort) */
	size_t n_keys;
	int32_t first_day;             /* of the month loaded (spill days count from it) */
};

/* How loading fills a column (str_mode, decided once per table). */
enum plan { PL_INT, PL_DAYOF, PL_NUMBERED, PL_FEW, PL_GENERAL };

static void cols_release(struct cols *c)
{
	size_t i;

	for (i = 0; i < TAB_MAX_COLS; i++) {
		free(c->iv[i]);
		free(c->pres[i]);
		free(c->sv[i]);
		free(c->sl[i]);
		free(c->code[i]);
	}
	arena_release(&c->arena);
	memset(c, 0, sizeof(*c));
}

static int is_str_col(const struct cols *c, size_t i)
{
	return tab_col_type(c->t->cols[i].kind) == CRMP_STR;
}

static enum strmode str_mode(const struct cols *c, size_t i)
{
	if (!c->shape || !is_str_col(c, i))
		return SM_GENERAL;
	if (c->shape[i].numbered == 1)
		return SM_NUMBERED;
	return c->shape[i].n_few <= FEW_VALUES ? SM_FEW : SM_GENERAL;
}

/*
 * The numbered shape of a string column held as numbers, or NULL. A month
 * where it has no value at all goes the string way (all absent), as
 * crmp_writer_str would decide.
 */
static const struct strshape *num_shape(const struct cols *c, size_t i)
{
	enum strmode m = str_mode(c, i);

	if (m == SM_NUMBERED)
		return &c->shape[i];
	if (m == SM_GENERAL && is_str_col(c, i) && c->month[i].numbered == 1)
		return &c->month[i];
	return NULL;
}

static int is_numbered(const struct cols *c, size_t i)
{
	return num_shape(c, i) != NULL;
}

/*
 * Whether a string column is held as numbers in iv that order as its text
 * and are equal when it is (numbered, or digit keys): sorted as integers.
 */
static int as_numbers(const struct cols *c, size_t i)
{
	return is_numbered(c, i) || c->dkeys[i];
}

static int is_coded(const struct cols *c, size_t i)
{
	return is_str_col(c, i) && str_mode(c, i) == SM_FEW;
}

/* The string of row r of a coded column, or NULL when absent. */
static const char *few_str(const struct cols *c, size_t i, size_t r, uint32_t *len)
{
	uint8_t k = c->code[i][r];

	*len = k == CRMP_CODE_ABSENT ? 0 : c->shape[i].few_len[k];
	return k == CRMP_CODE_ABSENT ? NULL : c->shape[i].few[k];
}

/* Learn a general column's shape this month; its number while it is numbered. */
static void learn_number(struct strshape *h, const char *s, uint32_t len, int64_t *num)
{
	uint32_t d = 0;

	*num = 0;
	if (h->numbered == 0) {
		while (d < len && s[len - 1 - d] >= '0' && s[len - 1 - d] <= '9')
			d++;
		h->numbered = -1;
		if (d < 1 || d > 18 || len - d >= sizeof(h->prefix))
			return;
		memcpy(h->prefix, s, len - d);
		h->plen = len - d;
		h->width = d;
		h->numbered = 1;
	}
	if (h->numbered == 1 && norm_shape_number(h, s, len, num))
		h->numbered = -1;
}

/* Size every column for `cap` rows, holding each as its mode needs. */
static int cols_reserve(struct cols *c, size_t cap)
{
	size_t i;

	if (cap <= c->cap)
		return 0;
	for (i = 0; i < c->t->n_cols; i++) {
		void *a = realloc(c->pres[i], cap);

		if (!a)
			return -1;
		c->pres[i] = a;
		norm_huge(a, cap);
		if (is_coded(c, i)) {
			if (!(a = realloc(c->code[i], cap)))
				return -1;
			c->code[i] = a;
			norm_huge(a, cap);
			continue;
		}
		if (!(a = realloc(c->iv[i], cap * sizeof(int64_t))))
			return -1;
		c->iv[i] = a;
		norm_huge(a, cap * sizeof(int64_t));
		if (!is_str_col(c, i) || str_mode(c, i) == SM_NUMBERED)
			continue;
		if (!(a = realloc(c->sv[i], cap * sizeof(char *))))
			return -1;
		c->sv[i] = a;
		norm_huge(a, cap * sizeof(char *));
		if (!(a = realloc(c->sl[i], cap * sizeof(uint32_t))))
			return -1;
		c->sl[i] = a;
		norm_huge(a, cap * sizeof(uint32_t));
	}
	c->cap = cap;
	return 0;
}

static int digit_key_of(const struct strshape *h, const char *s, uint32_t len, int64_t *key);
static int to_digit_keys(struct cols *c, size_t i, size_t k, const char *s, uint32_t len);

/* -1 out of memory, -2 when a value does not have the shape pass 1 saw (a bug: damaged spill). */
static int add_str(struct cols *c, size_t i, size_t k, const struct row *r)
{
	enum strmode m = str_mode(c, i);

	if (m == SM_NUMBERED) {
		c->iv[i][k] = 0;
		if (!r->present[i])
			return 0;
		c->present_strs[i]++;
		return norm_shape_number(&c->shape[i], r->sv[i], r->sl[i], &c->iv[i][k]) ? -2 : 0;
	}
	if (m == SM_FEW) {
		int few = r->present[i] ? norm_shape_few_index(&c->shape[i], r->sv[i], r->sl[i]) : 0;

		c->code[i][k] = r->present[i] ? (uint8_t)few : CRMP_CODE_ABSENT;
		c->present_strs[i] += r->present[i] != 0;
		return few < 0 ? -2 : 0;
	}
	c->sv[i][k] = NULL;
	c->sl[i][k] = r->sl[i];
	if (m == SM_GENERAL)
		c->iv[i][k] = 0;
	if (!r->present[i])
		return 0;
	c->present_strs[i]++;
	if (c->month[i].numbered >= 0) {
		int was = c->month[i].numbered;

		learn_number(&c->month[i], r->sv[i], r->sl[i], &c->iv[i][k]);
		if (was == 1 && c->month[i].numbered < 0)
			to_digit_keys(c, i, k, r->sv[i], r->sl[i]);
	} else if (c->dkeys[i] && digit_key_of(&c->month[i], r->sv[i], r->sl[i], &c->iv[i][k])) {
		c->dkeys[i] = 0; /* every row has its string here: nothing to rebuild */
	}
	c->sv[i][k] = c->copy ? arena_copy(&c->arena, r->sv[i], r->sl[i]) : r->sv[i];
	return c->sv[i][k] ? 0 : -1;
}

/* Add a row: 0, -1 out of memory, -2 a string of an unexpected shape. */
static int cols_add(struct cols *c, const struct row *r)
{
	size_t i, k = c->rows;
	int rc;

	if (k == c->cap && cols_reserve(c, c->cap ? c->cap * 2 : 1024))
		return -1;
	for (i = 0; i < c->t->n_cols; i++) {
		c->pres[i][k] = r->present[i];
		if (!is_str_col(c, i))
			c->iv[i][k] = r->iv[i];
		else if ((rc = add_str(c, i, k, r)) != 0)
			return rc == -1 ? -1 : -2;
	}
	c->rows++;
	return 0;
}

/* Whether the columns still point into the spill data they were loaded from. */
static int needs_data(const struct cols *c)
{
	size_t i;

	for (i = 0; i < c->t->n_cols; i++)
		if (is_str_col(c, i) && str_mode(c, i) == SM_GENERAL && !as_numbers(c, i))
			return 1;
	return 0;
}

static int cmp_str(const char *a, uint32_t la, const char *b, uint32_t lb)
{
	int r;

	if (!a || !b)
		return (a != NULL) - (b != NULL);
	r = memcmp(a, b, la < lb ? la : lb);
	return r ? r : (la > lb) - (la < lb);
}

/* Comparison of rows i and j by the table's sort key from its key `from` on. */
static int cmp_keys(const struct cols *c, size_t from, uint32_t i, uint32_t j)
{
	size_t k;

	for (k = from; k < c->n_keys; k++) {
		int col = c->keys[k], r;

		if (is_coded(c, (size_t)col)) {
			/* Distinct few values: their order decides, absent first. */
			int a = c->code[col][i] == CRMP_CODE_ABSENT ? -1 : c->rank[col][c->code[col][i]];
			int b = c->code[col][j] == CRMP_CODE_ABSENT ? -1 : c->rank[col][c->code[col][j]];

			r = (a > b) - (a < b);
		} else if (is_str_col(c, col) && !as_numbers(c, (size_t)col)) {
			r = cmp_str(c->sv[col][i], c->sl[col][i], c->sv[col][j], c->sl[col][j]);
		} else {
			/* Numbered strings: same prefix and width, so numbers order as the text. */
			int64_t a = c->pres[col][i] ? c->iv[col][i] : INT64_MIN;
			int64_t b = c->pres[col][j] ? c->iv[col][j] : INT64_MIN;

			r = (a > b) - (a < b);
		}
		if (r)
			return r;
	}
	/* Equal keys: rows are equal in every column that matters; keep input order. */
	return (i > j) - (i < j);
}

/* Full comparison of rows i and j by the table's sort key. */
static int cmp_rows(uint32_t i, uint32_t j, const void *ctx)
{
	return cmp_keys(ctx, 0, i, j);
}

/*
 * The same for rows whose first keys are known equal (an integer or a
 * number, so the radix key was the whole value): each key read is a
 * cache miss in a big table, so the first is not read again.
 */
static int cmp_rest(uint32_t i, uint32_t j, const void *ctx)
{
	return cmp_keys(ctx, 1, i, j);
}

/* Byte b of the string of row r (0 past its end or when absent). */
static unsigned str_byte(const struct cols *c, size_t col, size_t r, size_t b)
{
	const char *s = c->sv[col] ? c->sv[col][r] : NULL;
	uint32_t len = c->sv[col] ? c->sl[col][r] : 0;

	if (is_coded(c, col))
		s = few_str(c, col, r, &len);
	return s && b < len ? (unsigned char)s[b] : 0;
}

/*
 * The first sort key as an unsigned number with the same order: integers
 * with the sign bit flipped (absent = smallest), strings by their first
 * eight bytes, big-endian, zero-padded. Ties go to cmp_rows.
 */
static uint64_t *primary_keys(const struct cols *c)
{
	uint64_t *keys = malloc((c->rows ? c->rows : 1) * sizeof(*keys));
	int col = c->keys[0];
	size_t i, b;

	norm_huge(keys, c->rows * sizeof(*keys));
	for (i = 0; keys && i < c->rows; i++) {
		if (!is_str_col(c, (size_t)col) || as_numbers(c, (size_t)col)) {
			keys[i] = c->pres[col][i] ? (uint64_t)c->iv[col][i] ^ ((uint64_t)1 << 63) : 0;
			continue;
		}
		keys[i] = 0;
		for (b = 0; b < 8; b++)
			keys[i] = keys[i] << 8 | str_byte(c, (size_t)col, i, b);
	}
	return keys;
}

/*
 * Put column k in the order perm gives, gathering into `scratch` (8 bytes
 * a row) and copying back: the columns keep their memory, so no fresh
 * pages are faulted in per column and table.
 */
static void permute(struct cols *c, size_t k, const uint32_t *perm, void *scratch)
{
	size_t n = c->rows, i;
	uint8_t *p8 = scratch;
	uint32_t *p32 = scratch;
	uint64_t *p64 = scratch;

	if (n == 0) /* no arrays at all */
		return;
	/* Most columns have every value: then presence is the same in any order. */
	if (memchr(c->pres[k], 0, n)) {
		for (i = 0; i < n; i++)
			p8[i] = c->pres[k][perm[i]];
		memcpy(c->pres[k], p8, n);
	}
	if (is_coded(c, k)) {
		for (i = 0; i < n; i++)
			p8[i] = c->code[k][perm[i]];
		memcpy(c->code[k], p8, n);
		return;
	}
	/* Numbered strings travel as their numbers; their sv/sl are not used again. */
	if (!is_str_col(c, k) || as_numbers(c, k)) {
		for (i = 0; i < n; i++)
			p64[i] = (uint64_t)c->iv[k][perm[i]];
		memcpy(c->iv[k], p64, n * sizeof(*p64));
		return;
	}
	for (i = 0; i < n; i++)
		p64[i] = (uint64_t)(uintptr_t)c->sv[k][perm[i]];
	for (i = 0; i < n; i++)
		c->sv[k][i] = (const char *)(uintptr_t)p64[i];
	for (i = 0; i < n; i++)
		p32[i] = c->sl[k][perm[i]];
	memcpy(c->sl[k], p32, n * sizeof(*p32));
}

/* Sort a run of rows whose radix keys are equal by the whole key (stable). */
static int sort_ties(uint32_t *idx, size_t n, const struct cols *c)
{
	int col = c->keys[0];
	sortx_cmp cmp = !is_str_col(c, (size_t)col) || as_numbers(c, (size_t)col) ? cmp_rest : cmp_rows;
	size_t i, j;

	if (n > 16)
		return sortx_indexes(idx, n, cmp, c);
	for (i = 1; i < n; i++) {
		uint32_t x = idx[i];

		for (j = i; j > 0 && cmp(idx[j - 1], x, c) > 0; j--)
			idx[j] = idx[j - 1];
		idx[j] = x;
	}
	return 0;
}

/* Bits needed to hold values 0..v. */
static unsigned bit_width(uint64_t v)
{
	return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

/*
 * The bits of the radix key that the first key leaves free (above the row
 * number, 32 - its width) take the top bits of the second key when that
 * is an integer or a number: (second - smallest + 1, absent 0) >> *shift.
 * Rows tied on the first key (~15% of the interactions of a month share
 * their second) are then nearly all told apart by the radix sort instead
 * of by cmp_rest, whose reads of the second key miss the cache. Returns
 * the smallest second key, with *shift, or *shift = 64 when the second key
 * cannot be used (then no bits are taken).
 */
static int64_t second_prefix(const struct cols *c, unsigned free_bits, unsigned *shift)
{
	int first = c->keys[0], col = c->n_keys > 1 ? c->keys[1] : -1;
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	uint64_t span;
	size_t i;
	unsigned w;

	*shift = 64;
	/* A string first key's radix key is only its first bytes: its ties are not equal keys. */
	if (is_str_col(c, (size_t)first) && !as_numbers(c, (size_t)first))
		return 0;
	if (col < 0 || free_bits == 0 || (is_str_col(c, (size_t)col) && !as_numbers(c, (size_t)col)))
		return 0;
	for (i = 0; i < c->rows; i++) {
		if (!c->pres[col][i])
			continue;
		lo = c->iv[col][i] < lo ? c->iv[col][i] : lo;
		hi = c->iv[col][i] > hi ? c->iv[col][i] : hi;
	}
	if (lo > hi)
		return 0; /* all absent: nothing to tell apart */
	span = (uint64_t)hi - (uint64_t)lo;
	if (span == UINT64_MAX)
		return 0;
	w = bit_width(span + 1);
	*shift = w > free_bits ? w - free_bits : 0;
	return lo;
}

/*
 * The order of the rows when the first keys span less than 2^32: each
 * row's key less the smallest (and the top of its second key, see
 * second_prefix), above its row number, radix sorted as one 64-bit word
 * (no indirection: the passes read memory in order; tmp holds n words),
 * then runs of equal radix keys by the rest of the key. 1 when the span
 * is too wide (the caller sorts another way), 0, or -1 out of memory.
 */
static int sort_narrow(uint64_t *keys, uint64_t *tmp, size_t n, uint32_t *perm,
		       const struct cols *c)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t i, start;
	unsigned free_bits, shift;
	int64_t lo2;
	int col2 = c->n_keys > 1 ? c->keys[1] : -1;

	for (i = 0; i < n; i++) {
		lo = keys[i] < lo ? keys[i] : lo;
		hi = keys[i] > hi ? keys[i] : hi;
	}
	if (n > UINT32_MAX || hi - lo > UINT32_MAX)
		return 1;
	free_bits = 32 - bit_width(hi - lo);
	lo2 = second_prefix(c, free_bits, &shift);
	for (i = 0; i < n; i++) {
		uint64_t k = (keys[i] - lo) << free_bits;

		if (shift < 64 && c->pres[col2][i])
			k |= ((uint64_t)c->iv[col2][i] - (uint64_t)lo2 + 1) >> shift;
		keys[i] = k << 32 | i;
	}
	if (sortx_high32(keys, tmp, n))
		return -1;
	for (i = 0; i < n; i++)
		perm[i] = (uint32_t)keys[i];
	/* A string first key's radix key is only its first 8 bytes: its ties need the rest. */
	if (c->n_keys < 2 && (!is_str_col(c, (size_t)c->keys[0]) || as_numbers(c, (size_t)c->keys[0])))
		return 0;
	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && keys[i] >> 32 == keys[start] >> 32; i++)
			;
		if (i - start > 1 && sort_ties(perm + start, i - start, c))
			return -1;
	}
	return 0;
}

/* The byte order of each coded column's few values (cmp_keys compares codes by it). */
static void rank_few(struct cols *c)
{
	size_t i, k, j;

	for (i = 0; i < c->t->n_cols; i++) {
		const struct strshape *h = &c->shape[i];

		if (!is_coded(c, i))
			continue;
		for (k = 0; k < h->n_few; k++) {
			c->rank[i][k] = 0;
			for (j = 0; j < h->n_few; j++)
				c->rank[i][k] += cmp_str(h->few[j], h->few_len[j], h->few[k],
							 h->few_len[k]) < 0;
		}
	}
}

/*
 * The order of the rows by c->keys into perm (identity when no row), or
 * -1 out of memory. The columns are not moved.
 */
static int sort_perm(struct cols *c, uint32_t *perm, uint64_t *scratch)
{
	uint64_t *keys = primary_keys(c);
	size_t i;
	int got;

	if (!keys)
		return -1;
	got = c->rows ? sort_narrow(keys, scratch, c->rows, perm, c) : 0;
	if (got > 0) {
		for (i = 0; i < c->rows; i++)
			perm[i] = (uint32_t)i;
		got = sortx_by_key(perm, c->rows, keys, cmp_rows, c) ? -1 : 0;
	}
	free(keys);
	return got;
}

/* Whether column k is in the table's sort key or its other one. */
static int is_key(const struct tab_def *t, size_t k)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++)
		if (t->keys[i] == (int)k)
			return 1;
	for (i = 0; i < t->n_alt_keys; i++)
		if (t->alt_keys[i] == (int)k)
			return 1;
	return 0;
}

/*
 * Whether column k counts in order_cost: the key columns of either
 * order that are integers or ids held as numbers (numbered) or digit
 * keys. (The other columns cost about the same in either order, and the
 * days of a time cost nothing in both.)
 */
static int costed(const struct cols *c, size_t k)
{
	if (!is_key(c->t, k))
		return 0;
	if (!is_str_col(c, k))
		return 1;
	return c->dkeys[k] || (is_numbered(c, k) && c->present_strs[k]);
}

/* The number the digits of a digit key make (crmp_digits_key: digit + 1 a nibble). */
static uint64_t key_number(int64_t key)
{
	uint64_t n = 0, k = (uint64_t)key;
	int shift;

	for (shift = 56; shift >= 0 && (k >> shift & 15); shift -= 4)
		n = n * 10 + (k >> shift & 15) - 1;
	return n;
}

/*
 * What the rows cost in the order perm gives, as docs/period-format.md
 * defines it: for every COST_STRIDE-th row, the bit width of the zigzag
 * difference between its value and the row's before, in each costed
 * column where both are present. A stand-in for the compressed size,
 * which would take encoding the table twice: ids counted up by one cost
 * 2 bits a row, random ones 20 or more. Every row would be no better a
 * guide, and each is a cache miss or two in every costed column (a
 * month's orders: 0.4 s of CPU over the bench's 28 months).
 */
#define COST_STRIDE 16

static uint64_t order_cost(const struct cols *c, const uint32_t *perm)
{
	uint64_t cost = 0, x, y, d;
	size_t k, i;

	for (k = 0; k < c->t->n_cols; k++) {
		const int64_t *v = c->iv[k];
		const uint8_t *p = c->pres[k];

		if (!costed(c, k))
			continue;
		for (i = COST_STRIDE; i < c->rows; i += COST_STRIDE) {
			size_t a = perm[i - 1], b = perm[i];

			if (!p[a] || !p[b])
				continue;
			x = c->dkeys[k] ? key_number(v[a]) : (uint64_t)v[a];
			y = c->dkeys[k] ? key_number(v[b]) : (uint64_t)v[b];
			d = y - x;
			cost += bit_width(d >> 63 ? ~(d << 1) : d << 1);
		}
	}
	return cost;
}

/*
 * Sort rows into canonical order by permuting every column: by the
 * table's key or, for a table with another (customer order), by that one
 * when it costs less (order_cost). Both orders are found from the rows
 * as loaded and only the one kept moves the columns.
 */
static int cols_sort(struct cols *c)
{
	size_t n = c->rows ? c->rows : 1, k;
	uint32_t *perm = malloc(n * sizeof(*perm)), *alt = NULL;
	uint64_t *scratch = malloc(n * sizeof(*scratch));
	int rc = -1;

	c->keys = c->t->keys;
	c->n_keys = c->t->n_keys;
	if (!perm || !scratch)
		goto out;
	rank_few(c);
	norm_huge(perm, n * sizeof(*perm));
	norm_huge(scratch, n * sizeof(*scratch));
	if (sort_perm(c, perm, scratch))
		goto out;
	if (c->t->n_alt_keys && c->rows > 1) {
		if (!(alt = malloc(n * sizeof(*alt))))
			goto out;
		c->keys = c->t->alt_keys;
		c->n_keys = c->t->n_alt_keys;
		if (sort_perm(c, alt, scratch))
			goto out;
		if (order_cost(c, alt) < order_cost(c, perm)) {
			free(perm);
			perm = alt;
		} else {
			free(alt);
			c->keys = c->t->keys;
			c->n_keys = c->t->n_keys;
		}
		alt = NULL;
	}
	for (k = 0; k < c->t->n_cols; k++)
		permute(c, k, perm, scratch);
	rc = 0;
out:
	free(perm);
	free(alt);
	free(scratch);
	return rc;
}

/*
 * A numbered or general column without a value this month: written as
 * the absent strings it holds (what crmp_writer_str decides for them).
 * Loading wrote no strings for it (a general column keeps numbers until
 * a value shows its shape, and none came), so whatever its sv and sl
 * hold is replaced. The arrays live until the table is flushed, in the
 * cols.
 */
static int add_absent(struct crmp_writer *w, const struct cols *c, size_t k, struct crm_err *e)
{
	struct cols *mc = (struct cols *)c;
	size_t n = c->rows ? c->rows : 1;

	free(mc->sv[k]);
	free(mc->sl[k]);
	mc->sv[k] = calloc(n, sizeof(char *));
	mc->sl[k] = calloc(n, sizeof(uint32_t));
	if (!mc->sv[k] || !mc->sl[k])
		return norm_nomem(e);
	return crmp_writer_str(w, c->t->cols[k].name, c->sv[k], c->sl[k], e);
}

/*
 * The column of times a day column (TK_DAYOF) is the local day of, when
 * it comes before it and has no nulls (crmp_writer_days), else -1.
 */
static int days_of(const struct tab_def *t, size_t k)
{
	size_t j;

	if (t->cols[k].kind != TK_DAYOF)
		return -1;
	for (j = 0; j < k; j++)
		if (t->cols[j].kind == TK_TIME && t->cols[j].field == t->cols[k].field &&
		    !t->cols[j].nullable)
			return (int)j;
	return -1;
}

static int add_table(struct crmp_writer *w, const struct cols *c, struct crm_err *e)
{
	size_t k;
	int rc = crmp_writer_table(w, c->t->name, c->rows, e);

	if (rc == 0)
		rc = crmp_writer_sorted(w, c->keys, c->n_keys, e);
	for (k = 0; rc == 0 && k < c->t->n_cols; k++) {
		if (c->dkeys[k]) {
			rc = crmp_writer_digits(w, c->t->cols[k].name, c->month[k].prefix,
						c->month[k].plen, c->iv[k], c->pres[k], e);
		} else if (is_numbered(c, k) && c->present_strs[k]) {
			const struct strshape *h = num_shape(c, k);

			rc = crmp_writer_numbered(w, c->t->cols[k].name, h->prefix, h->plen, h->width,
						  c->iv[k], c->pres[k], e);
		} else if (is_numbered(c, k) ||
			   (is_str_col(c, k) && str_mode(c, k) == SM_GENERAL &&
			    !c->present_strs[k])) {
			rc = add_absent(w, c, k, e);
		} else if (is_coded(c, k)) {
			const struct strshape *h = &c->shape[k];

			rc = crmp_writer_coded(w, c->t->cols[k].name, (const char *const *)h->few,
					       h->few_len, (unsigned)h->n_few, c->code[k], e);
		} else if (is_str_col(c, k)) {
			rc = crmp_writer_str(w, c->t->cols[k].name, c->sv[k], c->sl[k], e);
		} else if (days_of(c->t, k) >= 0 && !c->t->cols[k].nullable) {
			rc = crmp_writer_days(w, c->t->cols[k].name, c->iv[k], days_of(c->t, k), e);
		} else {
			rc = crmp_writer_int(w, c->t->cols[k].name, c->iv[k],
					     c->t->cols[k].nullable ? c->pres[k] : NULL, e);
		}
	}
	return rc;
}

/* The meta table's columns: the writer borrows them until it encodes. */
struct meta {
	uint32_t klen[4], vlen[4];
	const char *vals[4];
};

/* The meta table: key/value strings saying what the file holds. */
static int add_meta(struct crmp_writer *w, const struct norm *n, const char *what,
		    struct meta *m, struct crm_err *e)
{
	static const char *const keys[] = { "currency", "format", "period", "timezone" };
	static const int by_key[] = { 0 };
	uint32_t *klen = m->klen, *vlen = m->vlen;
	const char **vals = m->vals;
	int i, rc;

	vals[0] = n->cfg->currency;
	vals[1] = "crmetl period 2";
	vals[2] = what;
	vals[3] = n->cfg->timezone;
	for (i = 0; i < 4; i++) {
		klen[i] = (uint32_t)strlen(keys[i]);
		vlen[i] = (uint32_t)strlen(vals[i]);
	}
	rc = crmp_writer_table(w, "meta", 4, e);
	if (rc == 0)
		rc = crmp_writer_sorted(w, by_key, 1, e);
	if (rc == 0)
		rc = crmp_writer_str(w, "key", keys, klen, e);
	if (rc == 0)
		rc = crmp_writer_str(w, "value", vals, vlen, e);
	return rc;
}

/* The first money column of a table, or -1: its sum is the table's total. */
static int money_col(const struct tab_def *t)
{
	size_t c;

	for (c = 0; c < t->n_cols; c++)
		if (t->cols[c].kind == TK_MONEY)
			return (int)c;
	return -1;
}

/* Sum of the first money column of table `name` in an old period file. */
static int64_t old_total(const struct crmp_file *f, const struct tab_def *td)
{
	struct crm_err e = { 0 };
	int mc = money_col(td), t = crmp_find_table(f, td->name);
	int c = t >= 0 && mc >= 0 ? crmp_find_column(f, t, td->cols[mc].name) : -1;
	uint64_t rows = t >= 0 ? crmp_table_info(f, (size_t)t)->rows : 0, i;
	int64_t *v = c >= 0 ? malloc((rows ? rows : 1) * sizeof(*v)) : NULL, sum = 0;

	if (v && crmp_read_int(f, t, c, v, NULL, &e) == 0)
		for (i = 0; i < rows; i++)
			sum += v[i];
	free(v);
	return sum;
}

static int64_t new_total(const struct cols *c)
{
	int mc = money_col(c->t);
	int64_t sum = 0;
	size_t i;

	for (i = 0; mc >= 0 && i < c->rows; i++)
		if (c->pres[mc][i])
			sum += c->iv[mc][i];
	return sum;
}

/* What the new file of a month holds per table, kept after its columns are freed. */
struct month_sum {
	uint64_t rows[ENT_COUNT];
	int64_t total[ENT_COUNT];
};

/*
 * What changed when an existing period file is replaced (a restatement):
 * rows and totals per table, old -> new, into the lineage record (one line
 * per table) and the log (tables whose rows changed, order amounts).
 */
static int restatement(const char *path, const struct month_sum *sum, const char *name,
		       const char *when, struct lineage *lin, struct crm_err *e)
{
	struct crmp_file *old = NULL;
	struct crm_err ignored = { 0 };
	struct lineage_change ch;
	char line[768], a[32], b[32];
	size_t len = 0, k;
	uint32_t seq = lineage_next_seq(lin);
	int rc = 0;

	if (crmp_open(path, &old, &ignored) != 0) {
		log_warn("normalize: replacing unreadable %s", path);
		return 0;
	}
	line[0] = '\0';
	for (k = ENT_ORDERS; rc == 0 && k < ENT_COUNT; k++) {
		const struct tab_def *td = tab_for_entity((enum schema_entity)k);
		int t = crmp_find_table(old, td->name);

		memset(&ch, 0, sizeof(ch));
		ch.seq = seq;
		memcpy(ch.when, when, LINEAGE_TIME_LEN); /* run_time has exactly this shape */
		ch.table = td->name;
		ch.old_rows = t >= 0 ? crmp_table_info(old, (size_t)t)->rows : 0;
		ch.new_rows = sum->rows[k];
		ch.has_total = money_col(td) >= 0;
		ch.old_total = ch.has_total ? old_total(old, td) : 0;
		ch.new_total = ch.has_total ? sum->total[k] : 0;
		rc = lineage_add_change(lin, &ch, e);
		if (ch.old_rows != ch.new_rows && len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s %llu -> %llu rows;",
						ch.table, (unsigned long long)ch.old_rows,
						(unsigned long long)ch.new_rows);
		if (k == ENT_ORDERS) {
			val_format_money(ch.old_total, a);
			val_format_money(ch.new_total, b);
		}
	}
	crmp_close(old);
	log_info("normalize: restated %s:%s order amounts %s -> %s", name, line, a, b);
	return rc;
}

/* What writing one month did; months are written in parallel, then added up. */
struct month_out {
	int period;
	int rc;
	struct crm_err err;
	int written, unchanged, restated, reencoded;
	uint64_t kept[ENT_COUNT];
};

/*
 * Write the period file unless it already holds these bytes (--force writes
 * anyway). Replacing different bytes is a restatement, said in the log.
 * *at gets the size and CRC-32 of the bytes now at path (for norm_reuse.c:
 * from memory, not read back).
 */
static int publish(const struct norm *n, struct crmp_writer *w, const char *path,
		   const struct month_sum *sum, const char *name, struct month_out *mo,
		   struct lineage *lin, struct reuse_file *at, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = crmp_writer_encode(w, &data, &len, e), existed = access(path, F_OK) == 0;
	int same = rc == 0 && existed && fsx_same_content(path, data, len);

	if (rc == 0) {
		at->size = len;
		at->crc = crc32_z(0, data, len);
	}
	if (same && !n->opts->force) {
		mo->unchanged++;
		free(data);
		return 0;
	}
	/*
	 * Other bytes with the same rows (a file of an older format, say) are
	 * re-encoded, not restated: a false restatement would reach the
	 * lineage, the report and the mail subject.
	 */
	if (rc == 0 && existed && !same && norm_reuse_same_rows(path, data, len)) {
		mo->reencoded++;
		log_debug("normalize: %s re-encoded: the same rows in other bytes", name);
	} else if (rc == 0 && existed && !same) {
		mo->restated++;
		rc = restatement(path, sum, name, n->run_time, lin, e);
	}
	if (rc == 0)
		rc = fsx_write_atomic(path, data, len, e);
	if (rc == 0) {
		mo->written++;
		log_debug("normalize: wrote %s (%zu bytes)", path, len);
	}
	free(data);
	return rc;
}

static int in_range(const struct norm *n, int period)
{
	return !n->opts->has_range || (period >= n->opts->from && period <= n->opts->to);
}

/* Customers of file `file` whose signup falls in `period` (see count_signups). */
static uint64_t signups(const struct norm *n, int period, size_t file)
{
	return n->signups ? n->signups[(size_t)(period - n->first) * n->n_files + file] : 0;
}

/*
 * Start the lineage of a period: the restatements of its previous record
 * (kept alive in *old, which the new one borrows from) and a line per file
 * with rows kept in it. A damaged old record loses its history, said in
 * the log; it never stops the run.
 */
static int lineage_start(const struct norm *n, int period, const char *path, const uint64_t *kept,
			 struct lineage *old, struct lineage *lin, struct crm_err *e)
{
	struct crm_err le = { 0 };
	char msg[1024];
	size_t i;
	int rc = 0;

	memset(lin, 0, sizeof(*lin));
	lin->period = period;
	if (lineage_read(path, old, &le) != 0 && !(le.code == CRM_E_INPUT && le.sys_errno == ENOENT))
		log_warn("normalize: restatement history lost: %s", err_format(&le, msg, sizeof(msg)));
	for (i = 0; rc == 0 && i < old->n_changes; i++)
		rc = lineage_add_change(lin, &old->changes[i], e);
	for (i = 0; rc == 0 && i < n->n_files; i++) {
		const struct norm_file *f = &n->files[i];
		const struct cfg_source *src = &n->cfg->sources[f->source];
		struct lineage_file lf;

		memset(&lf, 0, sizeof(lf));
		lf.kept = src->entity == ENT_CUSTOMERS ? signups(n, period, i) : kept[i];
		if (lf.kept == 0)
			continue;
		lf.source = src->name;
		lf.entity = schema_entity(src->entity)->name;
		lf.location = f->location;
		memcpy(lf.sha256, f->sha256, sizeof(lf.sha256));
		lf.bytes = f->bytes;
		lf.rows_read = f->rows_read;
		lf.rows_rejected = f->rows_rejected;
		lf.table = tab_for_entity(src->entity)->name;
		rc = lineage_add_file(lin, &lf, e);
	}
	return rc;
}

/* Loading one table: where rows go and what they are counted against. */
struct loader {
	const struct norm *n;
	struct spill *s;
	struct cols *c;
	uint64_t *kept;
	struct rowsum *sum;      /* NULL: the month's key is known already */
	struct crm_err *e;
};

static void plan_columns(struct cols *c)
{
	size_t i;

	for (i = 0; i < c->t->n_cols; i++) {
		enum strmode m = str_mode(c, i);

		c->plan[i] = c->t->cols[i].kind == TK_DAYOF ? PL_DAYOF : !is_str_col(c, i) ? PL_INT
			     : m == SM_NUMBERED ? PL_NUMBERED : m == SM_FEW ? PL_FEW : PL_GENERAL;
	}
}

/*
 * Whether a general column still looks numbered this month: then only its
 * numbers (iv) are written, and its sv/sl pages are never touched; once it
 * does not, only sv/sl are (its numbers are dropped after loading). At 12
 * or 8 bytes a row of fresh pages, the side not written saves the page
 * faults of hundreds of MB over the bench's customer_id columns.
 */
static int month_numbered(const struct cols *c, size_t i)
{
	return c->month[i].numbered >= 0;
}

/* Whether loading still writes a general column's numbers (numbered or digit keys). */
static int holds_numbers(const struct cols *c, size_t i)
{
	return month_numbered(c, i) || c->dkeys[i];
}

/* An absent value in column i of row k. */
static void add_absent_value(struct cols *c, size_t i, size_t k)
{
	int general = c->plan[i] == PL_GENERAL, numbers = general && holds_numbers(c, i);

	c->pres[i][k] = 0;
	if (c->plan[i] == PL_FEW) {
		c->code[i][k] = CRMP_CODE_ABSENT;
		return;
	}
	if (!general || numbers)
		c->iv[i][k] = 0;
	if (general && !numbers) {
		c->sv[i][k] = NULL;
		c->sl[i][k] = 0;
	}
}

/*
 * A general column numbered so far this month keeps its values as numbers
 * only (holds_numbers), since most such columns stay numbered and their
 * copies would be dropped after loading anyway. When a value breaks the
 * shape, the strings of the rows before it are made: absent rows get
 * none, present ones their text rebuilt from their numbers (numbered
 * means exactly the prefix and the number in `width` digits, zero-padded;
 * a digit key holds its digits) - every present row before the break had
 * that shape.
 */
static int rebuild_deferred(struct cols *c, size_t i, size_t upto)
{
	const struct strshape *h = &c->month[i];
	char text[sizeof(h->prefix) + 20];
	size_t r;
	uint32_t d, len;

	memcpy(text, h->prefix, h->plen);
	for (r = 0; r < upto; r++) {
		uint64_t v = (uint64_t)c->iv[i][r];

		c->sv[i][r] = NULL;
		c->sl[i][r] = 0;
		if (!c->pres[i][r])
			continue;
		if (c->dkeys[i]) {
			len = h->plen + crmp_key_digits(c->iv[i][r], text + h->plen);
		} else {
			for (d = h->width; d > 0; d--, v /= 10)
				text[h->plen + d - 1] = (char)('0' + v % 10);
			len = h->plen + h->width;
		}
		c->sl[i][r] = len;
		if (!(c->sv[i][r] = arena_copy(&c->arena, text, len)))
			return -1;
	}
	c->dkeys[i] = 0;
	return 0;
}

/* The digit key of s[0..len) when it is the month's prefix and 1 to 15 digits: 0, or -1. */
static int digit_key_of(const struct strshape *h, const char *s, uint32_t len, int64_t *key)
{
	uint32_t k;

	if (len <= h->plen || len - h->plen > CRMP_DIGITS_MAX || memcmp(s, h->prefix, h->plen))
		return -1;
	for (k = h->plen; k < len; k++)
		if (s[k] < '0' || s[k] > '9')
			return -1;
	*key = crmp_digits_key(s + h->plen, len - h->plen);
	return 0;
}

/*
 * A numbered general column whose value s at row k has more or fewer
 * digits than the others ("c999999", then "c1000000": ids outgrow their
 * width as the business grows) but the same prefix goes on as digit keys
 * (crmp_digits_key: they order and compare as the digits do), its numbers
 * so far turned into keys: sorting and encoding then never read the
 * strings, which a month of a million such ids made cache miss after
 * cache miss. Only after a numbered shape was learnt (its prefix and
 * width). 0, or -1 when s does not fit (the column becomes strings).
 */
static int to_digit_keys(struct cols *c, size_t i, size_t k, const char *s, uint32_t len)
{
	const struct strshape *h = &c->month[i];
	size_t r;

	if (h->width > CRMP_DIGITS_MAX || digit_key_of(h, s, len, &c->iv[i][k]))
		return -1;
	for (r = 0; r < k; r++)
		if (c->pres[i][r])
			c->iv[i][r] = crmp_number_key((uint64_t)c->iv[i][r], h->width);
	c->dkeys[i] = 1;
	return 0;
}

/* A present string value s[0..len) in column i of row k: 0, -1 out of memory, -2 damaged. */
static int add_str_value(struct cols *c, size_t i, size_t k, const char *s, uint32_t len)
{
	c->present_strs[i]++;
	switch ((enum plan)c->plan[i]) {
	case PL_NUMBERED:
		return norm_shape_number(&c->shape[i], s, len, &c->iv[i][k]) ? -2 : 0;
	case PL_FEW: {
		int few = norm_shape_few_index(&c->shape[i], s, len);

		c->code[i][k] = (uint8_t)few;
		return few < 0 ? -2 : 0;
	}
	case PL_GENERAL:
		if (month_numbered(c, i)) {
			int was = c->month[i].numbered;

			learn_number(&c->month[i], s, len, &c->iv[i][k]);
			if (month_numbered(c, i))
				return 0;
			if (was == 1 && to_digit_keys(c, i, k, s, len) == 0)
				return 0;
			if (rebuild_deferred(c, i, k)) /* this value broke the shape */
				return -1;
		} else if (c->dkeys[i]) {
			if (digit_key_of(&c->month[i], s, len, &c->iv[i][k]) == 0)
				return 0;
			if (rebuild_deferred(c, i, k))
				return -1;
		}
		c->sl[i][k] = len;
		c->sv[i][k] = arena_copy(&c->arena, s, len);
		return c->sv[i][k] ? 0 : -1;
	case PL_INT:
	case PL_DAYOF:
		break;
	}
	return -2;
}

/*
 * Decode a spill payload straight into the columns (the path of every row
 * of every month: no struct row in between): 0, -1 out of memory, -2 damaged.
 */
static int load_payload(struct cols *c, const unsigned char *p, const unsigned char *end)
{
	size_t i, k = c->rows;
	const char *s;
	unsigned mask;
	uint32_t len;
	uint64_t v;
	int rc;

	if (k == c->cap && cols_reserve(c, c->cap ? c->cap * 2 : 1024))
		return -1;
	if (p >= end)
		return -2;
	mask = *p++;
	for (i = 0; i < c->t->n_cols; i++) {
		if (!(mask >> i & 1)) {
			add_absent_value(c, i, k);
			continue;
		}
		c->pres[i][k] = 1;
		if (norm_varint(&p, end, &v))
			return -2;
		if (c->plan[i] == PL_INT || c->plan[i] == PL_DAYOF) {
			c->iv[i][k] = buf_unzigzag(v) + (c->plan[i] == PL_DAYOF ? c->first_day : 0);
			continue;
		}
		if (v & 1) {
			/*
			 * The index of one of the column's few values (norm_spill.c):
			 * a few-valued column takes it as its code, unlooked-up.
			 */
			const struct strshape *h = c->shape ? &c->shape[i] : NULL;

			v >>= 1;
			if (!h || v >= FEW_VALUES || v >= h->n_few)
				return -2;
			if (c->plan[i] == PL_FEW) {
				c->present_strs[i]++;
				c->code[i][k] = (uint8_t)v;
				continue;
			}
			s = h->few[v];
			len = h->few_len[v];
		} else {
			v >>= 1;
			if (v > (uint64_t)(end - p))
				return -2;
			s = (const char *)p;
			len = (uint32_t)v;
			p += v;
		}
		if ((rc = add_str_value(c, i, k, s, len)) != 0)
			return rc;
	}
	if (p != end)
		return -2;
	c->rows++;
	return 0;
}

static int load_record(void *ctx, const struct srec *r)
{
	struct loader *ld = ctx;
	int got;

	if (r->entity != (int)ld->c->t->entity || r->file >= ld->n->n_files)
		return norm_damaged_spill(ld->s, ld->e);
	if ((got = norm_ids_dropped(&ld->n->direct, r)) != 0)
		return got < 0 ? norm_damaged_spill(ld->s, ld->e) : 0;
	if ((got = load_payload(ld->c, r->payload, r->payload + r->len)) != 0)
		return got == -1 ? norm_nomem(ld->e) : norm_damaged_spill(ld->s, ld->e);
	ld->kept[r->file]++;
	if (ld->sum)
		norm_rowsum_add(ld->sum, r);
	return 0;
}

/*
 * A general column found numbered this month travels as numbers: drop its
 * string pointers before the sort (they are not read again); one that is
 * not drops the numbers learnt while it looked numbered.
 */
static void drop_numbered_strings(struct cols *c)
{
	size_t i;

	for (i = 0; i < c->t->n_cols; i++)
		if (is_str_col(c, i) && str_mode(c, i) == SM_GENERAL && as_numbers(c, i)) {
			free(c->sv[i]);
			free(c->sl[i]);
			c->sv[i] = NULL;
			c->sl[i] = NULL;
		} else if (is_str_col(c, i) && str_mode(c, i) == SM_GENERAL) {
			free(c->iv[i]); /* the numbers it would have had */
			c->iv[i] = NULL;
		}
}

/*
 * Load one table of a month from its spill file into columns (sized from
 * the spill's record count: no doubling), counting the rows kept per
 * export file. The file is streamed a block at a time; general strings
 * are copied into the table's arena, which goes as soon as every string
 * turned out to be a number or one of a few owned values.
 */
static int load_table(const struct norm *n, struct spill *s, struct cols *c, uint64_t *kept,
		      struct rowsum *sum, struct crm_err *e)
{
	struct loader ld = { n, s, c, kept, sum, e };
	int rc;

	if (!s)
		return 0;
	if (s->records && cols_reserve(c, s->records))
		return norm_nomem(e);
	c->copy = 1;
	plan_columns(c);
	rc = norm_spill_each(s, load_record, &ld, e);
	drop_numbered_strings(c);
	if (!needs_data(c))
		arena_release(&c->arena);
	return rc;
}

/*
 * What loading, sorting and encoding a table will hold at most (an
 * estimate, bytes): ~14 bytes a value in columns and in the writer's
 * working arrays, 16 a row to sort, ~12 for string copies.
 */
static uint64_t table_cost(const struct spill *s, const struct tab_def *t)
{
	return s ? s->records * (t->n_cols * 14 + 28) : 0;
}

static void budget_take(struct membudget *mb, uint64_t bytes)
{
	if (!mb)
		return;
	pthread_mutex_lock(&mb->lock);
	while (mb->used > 0 && mb->used + bytes > mb->limit)
		pthread_cond_wait(&mb->freed, &mb->lock);
	mb->used += bytes;
	pthread_mutex_unlock(&mb->lock);
}

static void budget_give(struct membudget *mb, uint64_t bytes)
{
	if (!mb)
		return;
	pthread_mutex_lock(&mb->lock);
	mb->used -= bytes;
	pthread_cond_broadcast(&mb->freed);
	pthread_mutex_unlock(&mb->lock);
}

/* The spill of table k of a month, or NULL when the month has no rows there. */
static struct spill *month_spill(const struct norm *n, int period, enum schema_entity k)
{
	struct spill *s;

	if (period < n->month_base || period >= n->month_base + n->n_months)
		return NULL;
	s = &n->months[(size_t)(period - n->month_base) * ENT_COUNT + k];
	return s->path ? s : NULL;
}

/*
 * One table of a month: load, sort, hand to the writer and let it encode
 * at once, so only one table's columns are in memory at a time. The rows
 * are added to `rs` (unless NULL) for the month's key.
 */
static int write_table(const struct norm *n, int period, enum schema_entity k,
		       struct crmp_writer *w, struct month_sum *sum, uint64_t *kept,
		       struct rowsum *rs, struct crm_err *e)
{
	struct spill *s = month_spill(n, period, k);
	struct cols c;
	uint64_t cost;
	int rc;

	memset(&c, 0, sizeof(c));
	c.t = tab_for_entity(k);
	c.shape = n->shape[k];
	c.first_day = norm_first_day(period);
	cost = table_cost(s, c.t);
	budget_take(n->mem, cost);
	rc = load_table(n, s, &c, kept, rs, e);
	if (rc == 0 && cols_sort(&c))
		rc = norm_nomem(e);
	if (rc == 0)
		rc = add_table(w, &c, e);
	if (rc == 0)
		rc = crmp_writer_flush(w, e);
	sum->rows[k] = c.rows;
	sum->total[k] = new_total(&c);
	cols_release(&c);
	budget_give(n->mem, cost);
	if (s)
		norm_spill_close(s);
	return rc;
}

/* A month's rows counted and hashed without loading them (see norm_reuse.c). */
struct scanner {
	const struct norm *n;
	struct spill *s;
	int entity;
	struct rowsum *sum;
	uint64_t *kept;
	struct crm_err *e;
};

static int scan_record(void *ctx, const struct srec *r)
{
	struct scanner *sc = ctx;
	int dropped;

	if (r->entity != sc->entity || r->file >= sc->n->n_files)
		return norm_damaged_spill(sc->s, sc->e);
	if ((dropped = norm_ids_dropped(&sc->n->direct, r)) != 0)
		return dropped < 0 ? norm_damaged_spill(sc->s, sc->e) : 0;
	norm_rowsum_add(sc->sum, r);
	sc->kept[r->file]++;
	return 0;
}

static int scan_month(const struct norm *n, int period, struct rowsum *sums, uint64_t *kept,
		      struct crm_err *e)
{
	size_t k;
	int rc = 0;

	for (k = ENT_ORDERS; rc == 0 && k < ENT_COUNT; k++) {
		struct scanner sc = { n, month_spill(n, period, (enum schema_entity)k), (int)k,
				      &sums[k], kept, e };

		if (sc.s)
			rc = norm_spill_each(sc.s, scan_record, &sc, e);
	}
	return rc;
}

/* What one month's file and lineage are built from and where they go. */
struct month_job {
	int period;
	char text[PERIOD_TEXT_MAX];
	char *path, *lpath;      /* owned: YYYY-MM.crmp and YYYY-MM.lineage */
	uint64_t *kept;          /* owned: rows kept per export file */
	struct rowsum sums[ENT_COUNT];
	char key[SHA256_HEX_LEN + 1]; /* of the month's rows (norm_reuse.c), once keyed */
	int keyed;
	struct reuse_file file;  /* the period file published */
};

/*
 * Write the month's lineage: the files its rows came from (kept[]) and
 * the restatements, the old ones and, when `w` replaces a different file,
 * a new one. `w` NULL: the period file stays as it is.
 */
static int write_lineage(const struct norm *n, struct month_job *j, struct crmp_writer *w,
			 const struct month_sum *sum, struct month_out *mo, struct crm_err *e)
{
	struct lineage lin = { 0 }, old = { 0 };
	int rc = lineage_start(n, j->period, j->lpath, j->kept, &old, &lin, e);

	if (rc == 0 && w)
		rc = publish(n, w, j->path, sum, j->text, mo, &lin, &j->file, e);
	/* After the period file: the record describes what is there. */
	if (rc == 0)
		rc = lineage_write(j->lpath, &lin, NULL, e);
	lineage_release(&lin);
	lineage_release(&old);
	return rc;
}

/* Build the month's period file from its spills and publish it unless unchanged. */
static int build_month(const struct norm *n, struct month_job *j, struct month_out *mo,
		       struct crm_err *e)
{
	struct crmp_writer *w = crmp_writer_new(CRMP_PERIOD, j->period);
	struct month_sum sum;
	struct meta meta;
	size_t k;
	int rc = w ? 0 : norm_nomem(e);

	memset(&sum, 0, sizeof(sum));
	if (rc == 0)
		rc = add_meta(w, n, j->text, &meta, e);
	if (rc == 0)
		rc = crmp_writer_flush(w, e); /* meta is on this stack frame's struct */
	for (k = ENT_ORDERS; rc == 0 && k < ENT_COUNT; k++) {
		rc = write_table(n, j->period, (enum schema_entity)k, w, &sum, j->kept,
				 j->keyed ? NULL : &j->sums[k], e);
		mo->kept[k] += sum.rows[k];
	}
	if (rc == 0)
		rc = write_lineage(n, j, w, &sum, mo, e);
	crmp_writer_free(w);
	return rc;
}

/*
 * When the month was built before from rows that hash the same and its
 * file is still the one written then, it stays (*reused = 1): only its
 * lineage (which names today's export files) is written.
 */
static int reuse_month(const struct norm *n, struct month_job *j, struct month_out *mo,
		       int *reused, struct crm_err *e)
{
	size_t k;
	int rc;

	*reused = 0;
	if (n->opts->force || !norm_reuse_found(n, j->period))
		return 0;
	if ((rc = scan_month(n, j->period, j->sums, j->kept, e)) != 0)
		return rc;
	norm_reuse_key(n, j->period, j->sums, j->key);
	j->keyed = 1;
	if (!norm_reuse_same(n, j->period, j->key, j->path)) {
		memset(j->kept, 0, n->n_files * sizeof(*j->kept)); /* counted again while loading */
		return 0;
	}
	*reused = 1;
	for (k = ENT_ORDERS; k < ENT_COUNT; k++) {
		struct spill *s = month_spill(n, j->period, (enum schema_entity)k);

		mo->kept[k] += j->sums[k].rows;
		if (s)
			norm_spill_close(s);
	}
	mo->unchanged++;
	log_debug("normalize: %s unchanged: the same rows as when its file was written", j->text);
	return write_lineage(n, j, NULL, NULL, mo, e);
}

static int write_month(const struct norm *n, int period, struct month_out *mo,
		       struct crm_err *e)
{
	struct month_job j;
	char name[32];
	int rc = 0, reused = 0;

	memset(&j, 0, sizeof(j));
	j.period = period;
	period_format(period, j.text);
	snprintf(name, sizeof(name), "%s.crmp", j.text);
	j.path = norm_join(n->periods_dir, name);
	snprintf(name, sizeof(name), "%s.lineage", j.text);
	j.lpath = norm_join(n->periods_dir, name);
	j.kept = calloc(n->n_files + 1, sizeof(*j.kept));
	if (!j.path || !j.lpath || !j.kept)
		rc = norm_nomem(e);
	if (rc == 0)
		rc = reuse_month(n, &j, mo, &reused, e);
	if (rc == 0 && !reused)
		rc = build_month(n, &j, mo, e);
	if (rc == 0 && !reused) {
		if (!j.keyed)
			norm_reuse_key(n, period, j.sums, j.key);
		norm_reuse_save(n, period, j.key, &j.file);
	}
	free(j.kept);
	free(j.path);
	free(j.lpath);
	return rc;
}

/* Where norm_write_dimension's rows go, one customer at a time. */
struct dim_add {
	const struct norm *n;
	struct cols *c;
};

static int add_customer(void *ctx, const char *id, uint32_t len, uint32_t k)
{
	struct dim_add *d = ctx;
	const struct cust *cu = &d->n->custs[k];
	struct row row;
	size_t i, slen;

	memset(&row, 0, sizeof(row));
	row.sv[0] = id;
	row.sl[0] = len;
	row.present[0] = 1;
	row.iv[1] = cu->signup_day;
	row.present[1] = cu->signup_day != NO_DAY;
	for (i = 0; i < 4; i++) {
		row.present[2 + i] = cu->attr[i] != 0;
		if (cu->attr[i]) {
			row.sv[2 + i] = (const char *)hmap_key(&d->n->strs, cu->attr[i] - 1, &slen);
			row.sl[2 + i] = (uint32_t)slen;
		}
	}
	row.iv[6] = cu->churn_day;
	row.present[6] = cu->churn_day != NO_DAY;
	row.iv[7] = cu->derived;
	row.present[7] = 1;
	return cols_add(d->c, &row);
}

/*
 * The customers dimension, sorted by customer_id. General strings are
 * copied as the rows are added (ids of numbered customers exist only
 * while norm_each_customer passes them, the others are in the map), so
 * the map can go before the sort.
 */
int norm_write_dimension(struct norm *n, struct crm_err *e)
{
	const struct tab_def *t = tab_for_entity(ENT_CUSTOMERS);
	struct cols c = { 0 };
	struct dim_add d = { n, &c };
	struct crmp_writer *w = NULL;
	struct meta meta;
	char *path = NULL;
	int rc = 0;

	c.t = t;
	c.shape = n->shape[ENT_CUSTOMERS];
	c.copy = 1;
	/* Exact size: doubling would hold two copies while the map is still there. */
	if (n->n_custs && cols_reserve(&c, n->n_custs))
		rc = norm_nomem(e);
	if (rc == 0 && norm_each_customer(n, add_customer, &d))
		rc = norm_nomem(e);
	norm_release_customers(n);

	if (rc == 0 && cols_sort(&c))
		rc = norm_nomem(e);
	n->st->kept[ENT_CUSTOMERS] = c.rows;
	if (rc == 0 && !(w = crmp_writer_new(CRMP_DIMENSION, 0)))
		rc = norm_nomem(e);
	if (rc == 0)
		rc = add_meta(w, n, "dimension", &meta, e);
	if (rc == 0)
		rc = add_table(w, &c, e);
	if (rc == 0 && !(path = norm_join(n->periods_dir, "customers.crmp")))
		rc = norm_nomem(e);
	if (rc == 0) {
		int changed = 0;

		rc = crmp_writer_commit(w, path, &changed, e);
		if (rc == 0 && changed)
			log_debug("normalize: wrote %s", path);
	}
	free(path);
	crmp_writer_free(w);
	cols_release(&c);
	return rc;
}


/* Months with data start at the first signup too: a base can exist before its first order. */
static void widen_to_signups(struct norm *n)
{
	size_t i;

	for (i = 0; i < n->n_custs; i++) {
		int p;

		if (n->custs[i].signup_day == NO_DAY)
			continue;
		p = norm_period_of_day(n->custs[i].signup_day);
		if (n->first < 0 || p < n->first)
			n->first = p;
		if (p > n->last)
			n->last = p;
	}
}

/*
 * Customers are not in period files, but their signups give each period
 * its new customers: count them per period and per customers file, once,
 * before the months are written in parallel.
 */
static int count_signups(struct norm *n, struct crm_err *e)
{
	size_t i;

	if (n->first < 0 || n->n_files == 0)
		return 0;
	n->signups = calloc((size_t)(n->last - n->first + 1) * n->n_files, sizeof(*n->signups));
	if (!n->signups)
		return norm_nomem(e);
	for (i = 0; i < n->n_custs; i++) {
		const struct cust *c = &n->custs[i];

		if (!c->derived && c->signup_day != NO_DAY && c->file < n->n_files)
			n->signups[(size_t)(norm_period_of_day(c->signup_day) - n->first) * n->n_files +
				   c->file]++;
	}
	return 0;
}

/* Before the customers are released: the months with data and their signups. */
int norm_plan_periods(struct norm *n, struct crm_err *e)
{
	widen_to_signups(n);
	return count_signups(n, e);
}

/* Months are independent: workers take the next one until none is left. */
struct pool {
	const struct norm *n;
	struct month_out *out;
	int count;
	int next;              /* next month to take (index in order), under `lock` */
	pthread_mutex_t lock;
	int *order;            /* owned: indexes in out, biggest month first */
};

/* Bytes of a month's spill files: what writing it will cost, roughly. */
static uint64_t month_bytes(const struct norm *n, int period)
{
	uint64_t sum = 0;
	int k;

	if (period < n->month_base || period >= n->month_base + n->n_months)
		return 0;
	for (k = 0; k < ENT_COUNT; k++)
		sum += n->months[(size_t)(period - n->month_base) * ENT_COUNT + (size_t)k].bytes;
	return sum;
}

/*
 * Months are taken biggest first: they grow with the business (the last
 * is ~20 times the first at the bench size), and in calendar order the
 * biggest came last, one worker writing it while the other had nothing
 * left to take. Which worker writes a month changes no byte of it.
 */
static void order_months(struct pool *pl)
{
	uint64_t *key = malloc((size_t)(pl->count ? pl->count : 1) * sizeof(*key));
	int i, j;

	for (i = 0; i < pl->count; i++) {
		pl->order[i] = i;
		if (key)
			key[i] = month_bytes(pl->n, pl->out[i].period);
	}
	/* Insertion sort: a few dozen months; calendar order among equal sizes. */
	for (i = 1; key && i < pl->count; i++) {
		int x = pl->order[i];

		for (j = i; j > 0 && key[pl->order[j - 1]] < key[x]; j--)
			pl->order[j] = pl->order[j - 1];
		pl->order[j] = x;
	}
	free(key);
}

static void *worker(void *arg)
{
	struct pool *pl = arg;

	for (;;) {
		struct month_out *mo;
		int i;

		pthread_mutex_lock(&pl->lock);
		i = pl->next < pl->count ? pl->order[pl->next++] : -1;
		pthread_mutex_unlock(&pl->lock);
		if (i < 0)
			return NULL;
		mo = &pl->out[i];
		mo->rc = write_month(pl->n, mo->period, mo, &mo->err);
		if (mo->rc) { /* stop taking months: the run fails anyway */
			pthread_mutex_lock(&pl->lock);
			pl->next = pl->count;
			pthread_mutex_unlock(&pl->lock);
		}
	}
}

/* Worker threads: the usable CPUs, at most 4 (each holds one table of one month in memory). */
static int n_workers(int months)
{
	int cores = cpus_usable(), w = cores > 4 ? 4 : cores;

	return w < months ? w : months;
}

int norm_write_periods(struct norm *n, struct crm_err *e)
{
	struct pool pl = { n, NULL, 0, 0, PTHREAD_MUTEX_INITIALIZER, NULL };
	struct membudget mb = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, PASS3_MEMORY };
	pthread_t threads[4];
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	int p, i, k, started = 0, rc = 0;

	if (n->opts->has_range && (n->first < 0 || n->opts->to < n->first || n->opts->from > n->last))
		log_warn("normalize: no data in %s..%s", period_format(n->opts->from, a),
			 period_format(n->opts->to, b));
	pl.out = calloc(n->first >= 0 ? (size_t)(n->last - n->first + 1) : 1, sizeof(*pl.out));
	pl.order = calloc(n->first >= 0 ? (size_t)(n->last - n->first + 1) : 1, sizeof(*pl.order));
	if (!pl.out || !pl.order) {
		free(pl.out);
		free(pl.order);
		return norm_nomem(e);
	}
	n->mem = &mb;
	for (p = n->first; n->first >= 0 && p <= n->last; p++)
		if (in_range(n, p))
			pl.out[pl.count++].period = p;
	order_months(&pl);
	for (i = 0; i < n_workers(pl.count); i++)
		if (pthread_create(&threads[i], NULL, worker, &pl) == 0)
			started++;
	if (started == 0)
		worker(&pl); /* no thread could start: do the work here */
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	/* Report the first failed month, in month order, like a serial run would. */
	for (i = 0; i < pl.count && rc == 0; i++) {
		struct month_out *mo = &pl.out[i];

		if (mo->rc) {
			*e = mo->err;
			rc = mo->rc;
		}
		n->st->periods_written += mo->written;
		n->st->periods_unchanged += mo->unchanged;
		n->st->periods_restated += mo->restated;
		n->st->periods_reencoded += mo->reencoded;
		for (k = 0; k < ENT_COUNT; k++)
			n->st->kept[k] += mo->kept[k];
	}
	n->mem = NULL;
	free(pl.out);
	free(pl.order);
	return rc;
}
