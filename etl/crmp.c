/*
 * crmp.c - period file writer and reader (docs/period-format.md).
 *
 * The writer owns no column data: it borrows the caller's arrays and only
 * encodes at commit (or flush), so a period is held in memory once; the
 * columns of a big table are encoded on two threads, appended in order.
 * The reader keeps the file's bytes and decodes a column when asked; every
 * length, offset, count and checksum is checked against the bytes
 * actually present before use (a damaged file is an error, never a crash).
 */
#include "crmp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "cpus.h"
#include "fsx.h"
#include "hmap.h"
#include "sortx.h"

#include "banned.h"

#define HEADER_SIZE 64
#define ZLEVEL 1
#define MAJOR 2   /* written; a reader also takes MAJOR_OLD (no sort fields) */
#define MAJOR_OLD 1
#define MAX_FILE ((uint64_t)1 << 36)

static const unsigned char magic[8] = { 0x89, 'C', 'R', 'M', 'P', '\r', '\n', 0x1a };

/* ---------------------------------------------------------------- writer */

struct wcol {
	char name[64];
	enum crmp_type type;
	const int64_t *ivals;
	const uint8_t *present;   /* integers */
	const char *const *svals; /* strings: NULL = absent */
	const uint32_t *lens;
	int numbered;             /* strings given as numbers in ivals/present */
	int digits;               /* strings given as digit keys in ivals/present, after prefix */
	const uint8_t *codes;     /* strings given as codes into svals/lens (crmp_writer_coded) */
	unsigned n_codes;         /* ... which then hold the n_codes values */
	const char *prefix;       /* ... after this prefix */
	uint32_t plen;
	unsigned width;
	int days_of;              /* days of the times in column days_of - 1 (0: not days) */
	const int64_t *times;     /* ... whose values these are (borrowed) */
};

struct wtable {
	char name[64];
	uint64_t rows;
	size_t n_sort;                  /* the sort key: columns, most significant first */
	uint8_t sort[CRMP_MAX_COLUMNS];
	size_t n_cols;
	struct wcol cols[CRMP_MAX_COLUMNS];
};

struct crmp_writer {
	enum crmp_kind kind;
	int period;
	size_t n_tables;
	size_t n_flushed;          /* tables already encoded into file and dir */
	int started;               /* file and dir initialised */
	struct buf file, dir;      /* the file so far (header zeroed) and its directory */
	struct wtable tables[CRMP_MAX_TABLES];
};

struct crmp_writer *crmp_writer_new(enum crmp_kind kind, int period)
{
	struct crmp_writer *w = calloc(1, sizeof(*w));

	if (w) {
		w->kind = kind;
		w->period = period;
	}
	return w;
}

void crmp_writer_free(struct crmp_writer *w)
{
	if (w && w->started) {
		buf_release(&w->file);
		buf_release(&w->dir);
	}
	free(w);
}

static int valid_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	return 1;
}

int crmp_writer_table(struct crmp_writer *w, const char *name, uint64_t rows,
		      struct crm_err *e)
{
	struct wtable *t;

	if (rows > CRMP_MAX_ROWS)
		return err_set(e, CRM_E_NOMEM, "table '%s' has %llu rows; a period file holds at most %llu "
			       "a table", name, (unsigned long long)rows, (unsigned long long)CRMP_MAX_ROWS);
	if (w->n_tables >= CRMP_MAX_TABLES || !valid_name(name))
		return err_set(e, CRM_E_INTERNAL, "cannot add table '%s' to a period file", name);
	t = &w->tables[w->n_tables++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->rows = rows;
	return 0;
}

int crmp_writer_sorted(struct crmp_writer *w, const int *cols, size_t n, struct crm_err *e)
{
	struct wtable *t = w->n_tables ? &w->tables[w->n_tables - 1] : NULL;
	size_t i;

	if (!t || w->n_flushed == w->n_tables || n > CRMP_MAX_COLUMNS)
		return err_set(e, CRM_E_INTERNAL, "cannot give a sort key here");
	for (i = 0; i < n; i++) {
		if (cols[i] < 0 || cols[i] >= CRMP_MAX_COLUMNS)
			return err_set(e, CRM_E_INTERNAL, "bad sort column %d", cols[i]);
		t->sort[i] = (uint8_t)cols[i];
	}
	t->n_sort = n;
	return 0;
}

static struct wcol *add_col(struct crmp_writer *w, const char *name, struct crm_err *e)
{
	struct wtable *t = w->n_tables ? &w->tables[w->n_tables - 1] : NULL;
	struct wcol *c;

	if (!t || w->n_flushed == w->n_tables || t->n_cols >= CRMP_MAX_COLUMNS || !valid_name(name)) {
		err_set(e, CRM_E_INTERNAL, "cannot add column '%s' to a period file", name);
		return NULL;
	}
	c = &t->cols[t->n_cols++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

int crmp_writer_int(struct crmp_writer *w, const char *name, const int64_t *values,
		    const uint8_t *present, struct crm_err *e)
{
	struct wcol *c = add_col(w, name, e);

	if (!c)
		return e->code;
	c->type = CRMP_INT;
	c->ivals = values;
	c->present = present;
	return 0;
}

int crmp_writer_days(struct crmp_writer *w, const char *name, const int64_t *values, int ref,
		     struct crm_err *e)
{
	struct wtable *t = w->n_tables ? &w->tables[w->n_tables - 1] : NULL;
	const struct wcol *r = t && ref >= 0 && (size_t)ref < t->n_cols ? &t->cols[ref] : NULL;
	struct wcol *c;

	if (!r || r->type != CRMP_INT || r->present || r->numbered || r->digits || r->days_of)
		return err_set(e, CRM_E_INTERNAL, "column '%s' cannot hold days of column %d", name,
			       ref);
	if (!(c = add_col(w, name, e)))
		return e->code;
	c->type = CRMP_INT;
	c->ivals = values;
	c->days_of = ref + 1;
	c->times = r->ivals;
	return 0;
}

int crmp_writer_str(struct crmp_writer *w, const char *name, const char *const *vals,
		    const uint32_t *lens, struct crm_err *e)
{
	struct wcol *c = add_col(w, name, e);

	if (!c)
		return e->code;
	c->type = CRMP_STR;
	c->svals = vals;
	c->lens = lens;
	return 0;
}

int crmp_writer_numbered(struct crmp_writer *w, const char *name, const char *prefix,
			 uint32_t plen, unsigned width, const int64_t *nums,
			 const uint8_t *present, struct crm_err *e)
{
	struct wcol *c = add_col(w, name, e);

	if (!c)
		return e->code;
	if (width < 1 || width > 18 || (plen && prefix[plen - 1] >= '0' && prefix[plen - 1] <= '9'))
		return err_set(e, CRM_E_INTERNAL, "bad numbered column '%s'", name);
	c->type = CRMP_STR;
	c->numbered = 1;
	c->ivals = nums;
	c->present = present;
	c->prefix = prefix;
	c->plen = plen;
	c->width = width;
	return 0;
}

int crmp_writer_coded(struct crmp_writer *w, const char *name, const char *const *vals,
		      const uint32_t *lens, unsigned n_vals, const uint8_t *codes,
		      struct crm_err *e)
{
	struct wcol *c = add_col(w, name, e);

	if (!c)
		return e->code;
	if (n_vals > CRMP_MAX_CODES)
		return err_set(e, CRM_E_INTERNAL, "too many values in coded column '%s'", name);
	c->type = CRMP_STR;
	c->svals = vals;
	c->lens = lens;
	c->codes = codes;
	c->n_codes = n_vals;
	return 0;
}

int crmp_writer_digits(struct crmp_writer *w, const char *name, const char *prefix,
		       uint32_t plen, const int64_t *keys, const uint8_t *present,
		       struct crm_err *e)
{
	struct wcol *c = add_col(w, name, e);

	if (!c)
		return e->code;
	c->type = CRMP_STR;
	c->digits = 1;
	c->ivals = keys;
	c->present = present;
	c->prefix = prefix;
	c->plen = plen;
	return 0;
}

int64_t crmp_digits_key(const char *d, uint32_t n)
{
	uint64_t k = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		k = k << 4 | (uint64_t)(d[i] - '0' + 1);
	return (int64_t)(k << 4 * (CRMP_DIGITS_MAX - n));
}

int64_t crmp_number_key(uint64_t number, unsigned width)
{
	char d[CRMP_DIGITS_MAX];
	unsigned i;

	for (i = width; i > 0; i--, number /= 10)
		d[i - 1] = (char)('0' + number % 10);
	return crmp_digits_key(d, width);
}

/* The digits a key holds: zero groups below the last digit are padding; a digit's group is 1..10. */
static unsigned key_digit_count(int64_t key)
{
	uint64_t k = (uint64_t)key;

	return k ? CRMP_DIGITS_MAX - (unsigned)__builtin_ctzll(k) / 4 : 0;
}

unsigned crmp_key_digits(int64_t key, char *out)
{
	uint64_t k = (uint64_t)key;
	unsigned n = key_digit_count(key), i;

	for (i = 0; i < n; i++)
		out[i] = (char)('0' + (k >> 4 * (CRMP_DIGITS_MAX - 1 - i) & 15) - 1);
	return n;
}

static int is_present(const struct wcol *c, uint64_t i)
{
	if (c->type == CRMP_INT || c->numbered || c->digits)
		return !c->present || c->present[i];
	if (c->codes)
		return c->codes[i] != CRMP_CODE_ABSENT;
	return c->svals[i] != NULL;
}

/* Presence runs: present, absent, present, ... adding up to rows. */
static uint64_t put_presence(struct buf *b, const struct wcol *c, uint64_t rows)
{
	uint64_t i = 0, nulls = 0;
	int want = 1;

	while (i < rows) {
		uint64_t run = 0;

		while (i < rows && is_present(c, i) == want) {
			run++;
			i++;
		}
		if (!want)
			nulls += run;
		buf_put_varint(b, run);
		want = !want;
	}
	return nulls;
}

static uint64_t count_nulls(const struct wcol *c, uint64_t rows)
{
	uint64_t i, n = 0;

	for (i = 0; i < rows; i++)
		n += !is_present(c, i);
	return n;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/*
 * The scale of an integer block: the greatest common divisor of the
 * magnitudes. Once a divisor is known, a value that is a multiple of it
 * (nearly all: money in cents) costs one remainder instead of a whole
 * gcd; the scan stops as soon as the divisor is 1.
 */
static uint64_t int_scale(const int64_t *v, size_t n)
{
	uint64_t scale = 0;
	size_t i;

	for (i = 0; i < n && scale != 1; i++) {
		uint64_t m = magnitude(v[i]);

		if (scale == 0 || m % scale != 0)
			scale = gcd64(scale, m);
	}
	return scale == 0 || scale > (uint64_t)INT64_MAX ? 1 : scale;
}

/*
 * Exact division by the scale without a divide instruction per value:
 * every value is a multiple of the scale, so shifting out its factors of
 * two and multiplying by the inverse of its odd part modulo 2^64 gives the
 * same quotient as `/` (signs included). Divisions cost tens of cycles and
 * money columns have millions of values.
 */
struct exact_div {
	unsigned shift;
	uint64_t inverse;
};

static struct exact_div exact_div_of(uint64_t scale)
{
	struct exact_div d;
	uint64_t odd;
	int i;

	d.shift = (unsigned)__builtin_ctzll(scale);
	odd = scale >> d.shift;
	d.inverse = odd; /* right to 3 bits; each Newton step doubles that */
	for (i = 0; i < 5; i++)
		d.inverse *= 2 - odd * d.inverse;
	return d;
}

static int64_t exact_quotient(int64_t v, struct exact_div d)
{
	/* An arithmetic shift (GCC and clang define >> on negatives so). */
	return (int64_t)((uint64_t)(v >> d.shift) * d.inverse);
}

/* Bytes of the varint of v, without a loop. */
static size_t varint_len(uint64_t v)
{
	return 1 + (size_t)(63 - __builtin_clzll(v | 1)) / 7;
}

/* A varint at p (room for 10 bytes is the caller's); returns the byte after it. */
static unsigned char *varint_at(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

/*
 * The delta varints of v[n] divided by the scale, appended to b a block
 * of values at a time (room for the longest varints of a block, so the
 * buffer grows as for the exact size); the smallest and largest quotient
 * are found on the way (planes need them; 0 and 0 when n = 0).
 */
#define DELTA_BLOCK 4096

static void put_delta_range(struct buf *b, const int64_t *v, size_t n, struct exact_div d,
			    int64_t *lo, int64_t *hi)
{
	int64_t prev = 0;
	size_t i = 0, stop;

	*lo = n ? INT64_MAX : 0;
	*hi = n ? INT64_MIN : 0;
	while (i < n) {
		unsigned char *p;

		stop = n - i > DELTA_BLOCK ? i + DELTA_BLOCK : n;
		if (buf_reserve(b, (stop - i) * 10))
			return;
		for (p = b->data + b->len; i < stop; i++) {
			int64_t x = exact_quotient(v[i], d);

			*lo = x < *lo ? x : *lo;
			*hi = x > *hi ? x : *hi;
			p = varint_at(p, buf_zigzag((int64_t)((uint64_t)x - (uint64_t)prev)));
			prev = x;
		}
		b->len = (size_t)(p - b->data);
	}
}

/* Bytes that hold hi - lo (0..8). */
static unsigned plane_bytes(int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	unsigned bytes = 0;

	while (bytes < 8 && span >> (8 * bytes))
		bytes++;
	return bytes;
}

/*
 * The planes of v[n] divided by the scale, whose quotients lie in
 * [lo, hi]: lo (a zigzag varint), the bytes B (0..8) that hi - lo takes,
 * then byte 0 of every q - lo, byte 1 of every q - lo, ... (B runs of n
 * bytes). Deflate then gives each run its own code (its blocks are a few
 * thousand values): the low bytes of prices and random ids are nearly
 * uniform, the high ones skewed, which one code over mixed varint bytes
 * cannot exploit.
 */
static void put_planes(struct buf *b, const int64_t *v, size_t n, struct exact_div d,
		       int64_t lo, int64_t hi)
{
	unsigned bytes = plane_bytes(lo, hi), k;
	unsigned char *p;
	size_t i;

	buf_put_varint(b, buf_zigzag(lo));
	buf_put_u8(b, bytes);
	if (bytes == 0)
		return;
	if (n > CRMP_MAX_RAW / bytes || buf_reserve(b, n * bytes)) {
		b->failed = 1;
		return;
	}
	p = b->data + b->len;
	for (i = 0; i < n; i++) {
		uint64_t u = (uint64_t)exact_quotient(v[i], d) - (uint64_t)lo;

		for (k = 0; k < bytes; k++)
			p[k * n + i] = (unsigned char)(u >> (8 * k));
	}
	b->len += n * bytes;
}

/*
 * An integer block: the common divisor ("scale", so money in 1/10000 units
 * that is really in cents costs no bits) then the values divided by it,
 * as differences to the previous one (delta) when their varints take at
 * most 7/8 of the bytes of the planes, else as planes. Returns the
 * encoding used.
 *
 * Most columns of time-ordered rows (times, ids) are delta: they are
 * written at once while the range is found, and only a column without a
 * trend (prices, random ids, enumerations) is written again. A delta that
 * saves only a little still loses to planes: its varints mix the uniform
 * low bits of every value with the rest. Plain varints are read (version 1
 * files) but no longer written: planes code them smaller.
 */
#define DELTA_GAIN_NUM 7
#define DELTA_GAIN_DEN 8

static enum crmp_enc put_int_block_sized(struct buf *b, const int64_t *v, size_t n,
					 unsigned *bytes)
{
	uint64_t scale = int_scale(v, n);
	struct exact_div d = exact_div_of(scale);
	int64_t lo, hi;
	size_t start;

	buf_put_varint(b, scale);
	start = b->len;
	put_delta_range(b, v, n, d, &lo, &hi);
	*bytes = plane_bytes(lo, hi);
	if (b->failed || (uint64_t)(b->len - start) * DELTA_GAIN_DEN <=
				 (uint64_t)n * *bytes * DELTA_GAIN_NUM)
		return CRMP_DELTA;
	b->len = start;
	put_planes(b, v, n, d, lo, hi);
	return CRMP_PLANES;
}

static enum crmp_enc put_int_block(struct buf *b, const int64_t *v, size_t n)
{
	unsigned bytes;

	return put_int_block_sized(b, v, n, &bytes);
}

/* The present values of a column, gathered (caller frees). */
static int64_t *present_ints(const struct wcol *c, uint64_t rows, size_t *n)
{
	int64_t *v = malloc((rows ? rows : 1) * sizeof(*v));
	uint64_t i;

	*n = 0;
	for (i = 0; v && i < rows; i++)
		if (is_present(c, i))
			v[(*n)++] = c->ivals[i];
	return v;
}

/* One byte naming the integer block's encoding, then the block. */
static void put_block_with_mode(struct buf *b, const int64_t *v, size_t n)
{
	/* The block goes to a side buffer: its mode byte comes first. */
	struct buf blk;

	buf_init(&blk, CRMP_MAX_RAW);
	buf_put_u8(b, put_int_block(&blk, v, n));
	buf_append(b, blk.data, blk.len);
	if (blk.failed)
		b->failed = 1;
	buf_release(&blk);
}

/*
 * Integer dictionaries. Prices come from price lists: a month's amounts
 * take some 26,000 values out of a range ten times wider, which planes
 * code at 2.4 bytes a value and codes into the sorted distinct values at
 * 1.7. A column whose block is planes of 2 bytes or more becomes a
 * dictionary when it has at most one distinct value in IDICT_DIV: the
 * set of values is counted in a hash table that gives up past that many,
 * so a column of times costs only its first sixteenth.
 */
#define IDICT_DIV 16
#define IDICT_EMPTY UINT32_MAX

struct iset {
	int64_t *keys;
	uint32_t *code;           /* code of keys[i] (0 while counting); IDICT_EMPTY: free slot */
	size_t n, limit;          /* distinct values so far, and at most */
	unsigned bits;            /* 2^bits slots */
};

static size_t iset_slot(const struct iset *s, int64_t v)
{
	size_t i = (size_t)(((uint64_t)v * 0x9e3779b97f4a7c15ULL) >> (64 - s->bits));
	size_t mask = ((size_t)1 << s->bits) - 1;

	while (s->code[i] != IDICT_EMPTY && s->keys[i] != v)
		i = (i + 1) & mask;
	return i;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * The distinct values of v[n] into *vals (ascending, *d of them; caller
 * frees) and the set coding each; 1 when there are more than n /
 * IDICT_DIV (nothing returned), -1 out of memory.
 */
static int iset_build(struct iset *s, const int64_t *v, size_t n, int64_t **vals, size_t *d)
{
	size_t i, k;

	memset(s, 0, sizeof(*s));
	s->limit = n / IDICT_DIV;
	for (s->bits = 4; ((size_t)1 << s->bits) < 2 * s->limit + 2; s->bits++)
		;
	s->keys = malloc(sizeof(*s->keys) << s->bits);
	s->code = malloc(sizeof(*s->code) << s->bits);
	if (!s->keys || !s->code)
		return -1;
	memset(s->code, 0xff, sizeof(*s->code) << s->bits);
	for (i = 0; i < n; i++) {
		k = iset_slot(s, v[i]);
		if (s->code[k] != IDICT_EMPTY)
			continue;
		if (s->n == s->limit)
			return 1;
		s->keys[k] = v[i];
		s->code[k] = 0;
		s->n++;
	}
	if (!(*vals = malloc((s->n ? s->n : 1) * sizeof(**vals))))
		return -1;
	for (i = 0, k = 0; k < ((size_t)1 << s->bits); k++)
		if (s->code[k] != IDICT_EMPTY)
			(*vals)[i++] = s->keys[k];
	qsort(*vals, s->n, sizeof(**vals), cmp_i64);
	for (i = 0; i < s->n; i++)
		s->code[iset_slot(s, (*vals)[i])] = (uint32_t)i;
	*d = s->n;
	return 0;
}

static void iset_release(struct iset *s)
{
	free(s->keys);
	free(s->code);
}

/*
 * The dictionary of v[n] when it qualifies (see IDICT_DIV): a varint D,
 * the D distinct values ascending as an integer block with its encoding
 * byte, then a code per value the same way. 1 when it does not qualify
 * (b untouched), 0, or -1 out of memory.
 */
static int put_int_dict(struct buf *b, const int64_t *v, size_t n)
{
	struct iset s;
	int64_t *vals = NULL, *codes = NULL;
	size_t d = 0, i;
	int rc = iset_build(&s, v, n, &vals, &d);

	if (rc == 0 && !(codes = malloc((n ? n : 1) * sizeof(*codes))))
		rc = -1;
	if (rc == 0) {
		for (i = 0; i < n; i++)
			codes[i] = s.code[iset_slot(&s, v[i])];
		buf_put_varint(b, d);
		put_block_with_mode(b, vals, d);
		put_block_with_mode(b, codes, n);
	}
	free(codes);
	free(vals);
	iset_release(&s);
	return rc;
}

/* An integer block, or the dictionary of the values (docs/period-format.md). */
static enum crmp_enc put_ints_or_dict(struct buf *b, const int64_t *v, size_t n,
				      const struct wcol *c, struct crm_err *e)
{
	size_t start = b->len;
	unsigned bytes;
	enum crmp_enc enc = put_int_block_sized(b, v, n, &bytes);
	int rc;

	if (enc != CRMP_PLANES || bytes < 2)
		return enc;
	b->len = start;
	rc = put_int_dict(b, v, n);
	if (rc < 0)
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
	if (rc != 1)
		return CRMP_DICT;
	b->len = start; /* not a dictionary: the planes again */
	return put_int_block(b, v, n);
}

/* Floor of t / SECONDS_PER_DAY (rounding down for times before 1970). */
#define SECONDS_PER_DAY 86400

static int64_t day_of_time(int64_t t)
{
	return t / SECONDS_PER_DAY - (t % SECONDS_PER_DAY < 0);
}

/*
 * A column of days of another column's times: its number, then each
 * day's difference to the UTC day of its time, which the timezone keeps
 * at -1, 0 or 1 (wrap-around arithmetic: any value round-trips). In
 * customer order the days themselves are at random (5 bits a row); their
 * differences cost nothing.
 */
static enum crmp_enc encode_days(struct buf *b, const struct wcol *c, uint64_t rows,
				 struct crm_err *e)
{
	int64_t *d = malloc((rows ? rows : 1) * sizeof(*d));
	uint64_t i;

	if (!d) {
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
		return CRMP_DAYS;
	}
	for (i = 0; i < rows; i++)
		d[i] = (int64_t)((uint64_t)c->ivals[i] - (uint64_t)day_of_time(c->times[i]));
	buf_put_varint(b, (uint64_t)(c->days_of - 1));
	put_block_with_mode(b, d, (size_t)rows);
	free(d);
	return CRMP_DAYS;
}

static enum crmp_enc encode_ints(struct buf *b, const struct wcol *c, uint64_t rows,
				 struct crm_err *e)
{
	size_t n;
	int64_t *v;
	enum crmp_enc enc;

	if (c->days_of)
		return encode_days(b, c, rows, e);
	if (!c->present) /* no nulls: the values as given, no copy (columns are big) */
		return put_ints_or_dict(b, c->ivals, (size_t)rows, c, e);
	v = present_ints(c, rows, &n);
	if (!v) {
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
		return CRMP_PLAIN;
	}
	enc = put_ints_or_dict(b, v, n, c, e);
	free(v);
	return enc;
}

static int str_cmp(const char *a, uint32_t la, const char *b, uint32_t lb)
{
	int r = memcmp(a, b, la < lb ? la : lb);

	return r ? r : (la > lb) - (la < lb);
}

/*
 * Numbered strings: every value is one common prefix followed by 1..18
 * digits, either all of one width W (leading zeros kept) or all without
 * leading zeros (W = 0). Ids such as "o0001234" are nearly always this,
 * and as numbers they cost a byte or two instead of their text.
 * Returns 1 and the prefix length and width when the column qualifies.
 */
static int numbered(const struct wcol *c, uint64_t rows, uint32_t *plen, unsigned *width)
{
	const char *first = NULL;
	uint32_t flen = 0;
	int same_width = 1, zeros = 0;
	unsigned w = 0;
	uint64_t r;

	for (r = 0; r < rows; r++) {
		const char *s = c->svals[r];
		uint32_t len, d;

		if (!s)
			continue;
		len = c->lens[r];
		for (d = 0; d < len && s[len - 1 - d] >= '0' && s[len - 1 - d] <= '9'; d++)
			;
		if (d == 0 || d > 18)
			return 0;
		if (!first) {
			first = s;
			flen = len - d;
			w = d;
		} else if (len - d != flen || memcmp(s, first, flen) != 0) {
			return 0;
		}
		same_width &= d == w;
		zeros |= d > 1 && s[len - d] == '0';
	}
	if (!first || (!same_width && zeros))
		return 0;
	*plen = flen;
	*width = same_width ? w : 0;
	return 1;
}

/* The numbered encoding: prefix, width, then the numbers as an integer block. */
static void put_numbered(struct buf *b, const char *prefix, uint32_t plen, unsigned width,
			 const int64_t *v, size_t n)
{
	buf_put_varint(b, plen);
	buf_append(b, prefix, plen);
	buf_put_u8(b, width);
	put_block_with_mode(b, v, n);
}

static enum crmp_enc encode_numbered(struct buf *b, const struct wcol *c, uint64_t rows,
				     uint32_t plen, unsigned width, struct crm_err *e)
{
	int64_t *v = malloc((rows ? rows : 1) * sizeof(*v));
	const char *prefix = NULL;
	size_t n = 0;
	uint64_t r;

	if (!v) {
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
		return CRMP_NUMBERED;
	}
	for (r = 0; r < rows; r++) {
		const char *s = c->svals[r];
		int64_t x = 0;
		uint32_t k;

		if (!s)
			continue;
		prefix = s;
		for (k = plen; k < c->lens[r]; k++)
			x = x * 10 + (s[k] - '0');
		v[n++] = x;
	}
	put_numbered(b, prefix, plen, width, v, n);
	free(v);
	return CRMP_NUMBERED;
}

/* A column given as numbers (crmp_writer_numbered): gather the present ones. */
static enum crmp_enc encode_given_numbers(struct buf *b, const struct wcol *c, uint64_t rows,
					  struct crm_err *e)
{
	size_t n;
	int64_t *v;

	if (!c->present) { /* no nulls: the numbers as given, no copy */
		put_numbered(b, c->prefix, c->plen, c->width, c->ivals, (size_t)rows);
		return CRMP_NUMBERED;
	}
	if (!(v = present_ints(c, rows, &n))) {
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
		return CRMP_NUMBERED;
	}
	put_numbered(b, c->prefix, c->plen, c->width, v, n);
	free(v);
	return CRMP_NUMBERED;
}
/* The sorted distinct values of a string column: a dictionary. */
struct dict {
	uint32_t *code;   /* per row: code in first-seen order (absent rows: unused) */
	uint64_t *first;  /* per distinct value, in first-seen order: a row holding it */
	size_t cap_first; /* entries allocated in first (grown as values appear) */
	uint32_t *rank;   /* first-seen code -> code in sorted order */
	size_t n;
};

#define DICT_SMALL 16

static int cmp_first(uint32_t a, uint32_t b, const void *ctx)
{
	const struct wcol *c = ((const void *const *)ctx)[0];
	const uint64_t *first = ((const void *const *)ctx)[1];

	return str_cmp(c->svals[first[a]], c->lens[first[a]], c->svals[first[b]], c->lens[first[b]]);
}

/*
 * Equal strings. The normalizer hands columns of few values as pointers
 * to one copy of each, so the same pointer settles most comparisons
 * before any byte is read.
 */
static int same_str(const struct wcol *c, uint64_t r, uint64_t s)
{
	return c->lens[r] == c->lens[s] &&
	       (c->svals[r] == c->svals[s] || memcmp(c->svals[r], c->svals[s], c->lens[r]) == 0);
}

/* Room for more distinct values: most columns have a handful, not one a row. */
static int grow_first(struct dict *d)
{
	size_t cap = d->cap_first ? d->cap_first * 2 : 64;
	uint64_t *f = realloc(d->first, cap * sizeof(*f));

	if (!f)
		return -1;
	d->first = f;
	d->cap_first = cap;
	return 0;
}

/*
 * Code every row in one pass: the previous row's value and a short list of
 * values are tried before the hash map, since most string columns that
 * reach here (channels, kinds) have a handful of distinct values. Stops
 * and returns 1 once there are more than `most` distinct values (the
 * column will not be a dictionary), or 2 when the short list overflows
 * and `sort_many` is set (the caller sorts instead, dict_by_sort); -1
 * out of memory.
 */
static int code_rows(struct dict *d, const struct wcol *c, uint64_t rows, size_t most,
		     int sort_many)
{
	struct hmap map;
	uint64_t r, prev = UINT64_MAX;
	int rc = 0, is_new;

	hmap_init(&map);
	for (r = 0; r < rows && rc == 0; r++) {
		size_t k = d->n;
		uint32_t *v;

		if (!c->svals[r])
			continue;
		if (prev != UINT64_MAX && same_str(c, r, prev)) {
			d->code[r] = d->code[prev];
			prev = r;
			continue;
		}
		if (d->n <= DICT_SMALL) {
			for (k = 0; k < d->n && !same_str(c, r, d->first[k]); k++)
				;
		}
		if (k == d->n && d->n == DICT_SMALL && sort_many) {
			rc = 2;
			break;
		}
		if (k == d->n && d->n >= DICT_SMALL) {
			if (d->n == DICT_SMALL) /* the short list overflows: move it to the map */
				for (k = 0; k < DICT_SMALL; k++)
					if (!hmap_put(&map, c->svals[d->first[k]], c->lens[d->first[k]],
						      (uint32_t)k, &is_new, NULL))
						rc = -1;
			v = hmap_put(&map, c->svals[r], c->lens[r], (uint32_t)d->n, &is_new, NULL);
			if (!v) {
				rc = -1;
				break;
			}
			k = *v;
		}
		if (k == d->n && d->n == most)
			rc = 1;
		else if (k == d->n && d->n == d->cap_first && grow_first(d))
			rc = -1;
		else if (k == d->n)
			d->first[d->n++] = r;
		d->code[r] = (uint32_t)k;
		prev = r;
	}
	hmap_release(&map);
	return rc;
}

/*
 * The first eight bytes of each distinct value, big-endian and
 * zero-padded: a radix key with the byte order of the values, so only
 * values sharing their first eight bytes are compared whole (ids are
 * mostly shorter than that). Caller frees.
 */
/* Bytes from..from+8 of s[0..len), big-endian, zero past its end: a radix key in byte order. */
static uint64_t radix_key(const char *s, uint32_t len, uint32_t from)
{
	uint64_t k = 0;
	uint32_t i;

	for (i = from; i < from + 8; i++)
		k = k << 8 | (i < len ? (unsigned char)s[i] : 0);
	return k;
}

static uint64_t *dict_keys(const struct dict *d, const struct wcol *c)
{
	uint64_t *keys = malloc((d->n ? d->n : 1) * sizeof(*keys));
	size_t k;

	for (k = 0; keys && k < d->n; k++)
		keys[k] = radix_key(c->svals[d->first[k]], c->lens[d->first[k]], 0);
	return keys;
}

/*
 * Ids whose digits outgrew their width ("c999999", then "c1000000") are
 * no longer numbered, but they are still one prefix and digits. Such a
 * column's dictionary is found by sorting numbers instead of hashing
 * strings: the digits of a value, each plus one and padded with zeros to
 * the most digits any value has, read in base 11, order as the bytes do
 * (a digit string that is a prefix of another comes first) and differ
 * when the values differ. With at most 9 digits the key takes 32 bits and
 * the row number the other 32 of one word, sorted by radix.
 */
#define DIGITS_MOST 9
#define DIGITS_MIN_ROWS 4096      /* below this the hash map is as quick */

/* Prefix length and most digits when every value is one prefix and 1..9 digits. */
static int digits_shape(const struct wcol *c, uint64_t rows, uint32_t *plen, unsigned *most)
{
	const char *first = NULL;
	uint32_t flen = 0, len, k;
	unsigned m = 0;
	uint64_t r;

	for (r = 0; r < rows; r++) {
		const char *s = c->svals[r];

		if (!s)
			continue;
		len = c->lens[r];
		if (!first) {
			for (k = len; k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9'; k--)
				;
			first = s;
			flen = k;
		}
		if (len <= flen || len - flen > DIGITS_MOST || memcmp(s, first, flen) != 0)
			return 0;
		for (k = flen; k < len; k++)
			if (s[k] < '0' || s[k] > '9')
				return 0;
		m = len - flen > m ? len - flen : m;
	}
	*plen = flen;
	*most = m;
	return first != NULL;
}

static uint64_t digits_key(const char *d, uint32_t n, unsigned most)
{
	uint64_t k = 0;
	unsigned i;

	for (i = 0; i < most; i++)
		k = k * 11 + (i < n ? (uint64_t)(d[i] - '0') + 1 : 0);
	return k;
}

/*
 * build_dict for a column of prefix and digits (digits_shape): codes are
 * given in sorted order already (rank is the identity). Same results.
 */
static int dict_by_digits(struct dict *d, const struct wcol *c, uint64_t rows, uint64_t present,
			  uint32_t plen, unsigned most)
{
	uint64_t *v = malloc((present ? present : 1) * sizeof(*v));
	size_t n = 0, i, distinct = 0;
	uint64_t r;
	int rc = -1;

	if (!v)
		return -1;
	for (r = 0; r < rows; r++)
		if (c->svals[r])
			v[n++] = digits_key(c->svals[r] + plen, c->lens[r] - plen, most) << 32 | r;
	/* Rows sorted by this column (the customers dimension) need no sort. */
	for (i = 1; i < n && v[i - 1] < v[i]; i++)
		;
	if (i < n && sortx_high32(v, NULL, n))
		goto out;
	for (i = 0; i < n; i++)
		distinct += i == 0 || v[i] >> 32 != v[i - 1] >> 32;
	rc = 1;
	if (distinct * 2 > present)
		goto out;
	rc = -1;
	d->first = malloc((distinct ? distinct : 1) * sizeof(*d->first));
	d->rank = malloc((distinct ? distinct : 1) * sizeof(*d->rank));
	if (!d->first || !d->rank)
		goto out;
	d->cap_first = distinct;
	for (i = 0; i < n; i++) {
		if (i == 0 || v[i] >> 32 != v[i - 1] >> 32) {
			d->first[d->n] = (uint32_t)v[i];
			d->rank[d->n] = (uint32_t)d->n;
			d->n++;
		}
		d->code[(uint32_t)v[i]] = (uint32_t)(d->n - 1);
	}
	rc = 0;
out:
	free(v);
	return rc;
}

/*
 * Strings of many distinct values (ids that are no prefix and digits:
 * UUIDs, account codes) are found by sorting the rows rather than hashing
 * them: a radix sort on eight bytes after the prefix all values share,
 * whole strings compared only where those tie, then one walk over the
 * sorted rows. A hash map's probe and key copy per row made encoding
 * such a column of 1.5 M rows take 1.3 to 2.5 times as long (on the
 * bench set with text ids, hmap_put was 16% of normalize's CPU).
 * Codes are given in sorted order (rank is the identity); the same
 * results as code_rows. Returns as build_dict.
 */
#define DICT_SORT_MIN_ROWS 4096   /* below this the hash map is as quick */

static int cmp_rows(uint32_t a, uint32_t b, const void *ctx)
{
	const struct wcol *c = ctx;

	return str_cmp(c->svals[a], c->lens[a], c->svals[b], c->lens[b]);
}

/*
 * The bytes every present value of column c starts with: the radix key
 * is taken after them, or ids that share a prefix longer than the key
 * ("0035g00000...", "account-...") would all tie on it.
 */
static uint32_t shared_prefix(const struct wcol *c, uint64_t rows)
{
	const char *first = NULL;
	uint32_t n = 0, k;
	uint64_t r;

	for (r = 0; r < rows; r++) {
		const char *s = c->svals[r];

		if (!s)
			continue;
		if (!first) {
			first = s;
			n = c->lens[r];
			continue;
		}
		if (c->lens[r] >= n && memcmp(s, first, n) == 0)
			continue;
		for (k = 0; k < n && k < c->lens[r] && s[k] == first[k]; k++)
			;
		n = k;
	}
	return n;
}

/*
 * Sorting rows by their values: a radix key of the 8 bytes after the
 * prefix all share, big-endian and zero-padded, in key order of bytes.
 */
struct rowsort {
	uint32_t *idx;      /* present rows, sorted by key (then by value where ordered) */
	uint64_t *keys;     /* per row */
	size_t n;
	int ordered;        /* ties are in value order too */
};

static void rowsort_release(struct rowsort *rs)
{
	free(rs->idx);
	free(rs->keys);
}

/*
 * The present rows of column c sorted by key only (ties in row order);
 * rows that arrive sorted by value (the customers dimension) are left
 * as they are and marked ordered. 0, or -1 out of memory.
 */
static int rowsort_by_key(struct rowsort *rs, const struct wcol *c, uint64_t rows,
			  uint64_t present)
{
	uint32_t skip = shared_prefix(c, rows);
	uint64_t r;

	memset(rs, 0, sizeof(*rs));
	rs->idx = malloc((present ? present : 1) * sizeof(*rs->idx));
	rs->keys = malloc((rows ? rows : 1) * sizeof(*rs->keys));
	if (!rs->idx || !rs->keys)
		return -1;
	for (r = 0; r < rows; r++) {
		rs->keys[r] = 0;
		if (!c->svals[r])
			continue;
		rs->keys[r] = radix_key(c->svals[r], c->lens[r], skip);
		rs->idx[rs->n++] = (uint32_t)r;
	}
	rs->ordered = 1;
	for (r = 1; r < rs->n && rs->ordered; r++) {
		uint64_t a = rs->keys[rs->idx[r - 1]], b = rs->keys[rs->idx[r]];

		rs->ordered = a < b || (a == b && cmp_rows(rs->idx[r - 1], rs->idx[r], c) <= 0);
	}
	if (!rs->ordered && sortx_by_key(rs->idx, rs->n, rs->keys, NULL, NULL))
		return -1;
	return 0;
}

/* Sort each run of equal keys by value (cmp_rows): then idx is in value order. */
static int rowsort_ties(struct rowsort *rs, const struct wcol *c)
{
	size_t a = 0, b;

	while (!rs->ordered && a < rs->n) {
		for (b = a + 1; b < rs->n && rs->keys[rs->idx[b]] == rs->keys[rs->idx[a]]; b++)
			;
		if (b - a > 1 && sortx_indexes(rs->idx + a, b - a, cmp_rows, c))
			return -1;
		a = b;
	}
	rs->ordered = 1;
	return 0;
}

/* Whether sorted row i starts a new value: keys that differ settle it without the strings. */
static int new_value(const struct wcol *c, const struct rowsort *rs, size_t i)
{
	const uint32_t *idx = rs->idx;

	return i == 0 || rs->keys[idx[i]] != rs->keys[idx[i - 1]] || !same_str(c, idx[i], idx[i - 1]);
}

static size_t count_keys(const struct rowsort *rs)
{
	size_t i, n = 0;

	for (i = 0; i < rs->n; i++)
		n += i == 0 || rs->keys[rs->idx[i]] != rs->keys[rs->idx[i - 1]];
	return n;
}

static int dict_by_sort(struct dict *d, const struct wcol *c, uint64_t rows, uint64_t present)
{
	struct rowsort rs;
	size_t i, distinct = 0;
	int rc = -1;

	if (rowsort_by_key(&rs, c, rows, present))
		goto out;
	/* Distinct keys are at most the distinct values: too many settles it before any tie is sorted. */
	rc = 1;
	if (count_keys(&rs) * 2 > present)
		goto out;
	rc = -1;
	if (rowsort_ties(&rs, c))
		goto out;
	for (i = 0; i < rs.n; i++)
		distinct += new_value(c, &rs, i);
	rc = 1;
	if (distinct * 2 > present)
		goto out;
	rc = -1;
	free(d->first);
	d->n = 0;
	d->first = malloc((distinct ? distinct : 1) * sizeof(*d->first));
	d->rank = malloc((distinct ? distinct : 1) * sizeof(*d->rank));
	if (!d->first || !d->rank)
		goto out;
	d->cap_first = distinct;
	for (i = 0; i < rs.n; i++) {
		if (new_value(c, &rs, i)) {
			d->first[d->n] = rs.idx[i];
			d->rank[d->n] = (uint32_t)d->n;
			d->n++;
		}
		d->code[rs.idx[i]] = (uint32_t)(d->n - 1);
	}
	rc = 0;
out:
	rowsort_release(&rs);
	return rc;
}

/*
 * The sorted distinct values of a column of `present` values: 0, 1 when
 * it has too many for a dictionary (more than half its values: the
 * canonical encoding is then front-coded and no sort is needed), -1 out
 * of memory.
 */
static int build_dict(struct dict *d, const struct wcol *c, uint64_t rows, uint64_t present)
{
	uint32_t *order = NULL;
	uint64_t *keys = NULL;
	const void *ctx[2];
	uint32_t plen;
	unsigned most;
	size_t k;
	int rc;

	d->n = 0;
	d->code = malloc((rows ? rows : 1) * sizeof(*d->code));
	d->first = NULL;
	d->cap_first = 0;
	d->rank = NULL;
	if (!d->code)
		return -1;
	if (present >= DIGITS_MIN_ROWS && digits_shape(c, rows, &plen, &most))
		return dict_by_digits(d, c, rows, present, plen, most);
	if (grow_first(d))
		return -1;
	rc = code_rows(d, c, rows, (size_t)(present / 2), present >= DICT_SORT_MIN_ROWS);
	if (rc == 2)
		return dict_by_sort(d, c, rows, present);
	if (rc != 0)
		return rc;
	rc = -1;
	order = malloc((d->n ? d->n : 1) * sizeof(*order));
	d->rank = malloc((d->n ? d->n : 1) * sizeof(*d->rank));
	keys = dict_keys(d, c);
	if (!order || !d->rank || !keys)
		goto out;
	for (k = 0; k < d->n; k++)
		order[k] = (uint32_t)k;
	ctx[0] = c;
	ctx[1] = d->first;
	if (sortx_by_key(order, d->n, keys, cmp_first, ctx))
		goto out;
	for (k = 0; k < d->n; k++)
		d->rank[order[k]] = (uint32_t)k;
	rc = 0;
out:
	free(keys);
	free(order);
	return rc;
}

static void dict_release(struct dict *d)
{
	free(d->code);
	free(d->first);
	free(d->rank);
}

/*
 * The code of every present row, written straight into the buffer after
 * reserving their exact size: a column of millions of rows (kinds) would
 * otherwise make a call and a copy per row.
 */
static void put_codes(struct buf *b, const struct wcol *c, const struct dict *d, uint64_t rows)
{
	unsigned char *p;
	size_t need = 0;
	uint64_t r;

	for (r = 0; r < rows; r++)
		if (c->svals[r])
			need += varint_len(d->rank[d->code[r]]);
	if (buf_reserve(b, need))
		return;
	p = b->data + b->len;
	for (r = 0; r < rows; r++)
		if (c->svals[r])
			p = varint_at(p, d->rank[d->code[r]]);
	b->len = (size_t)(p - b->data);
}

static void encode_dict(struct buf *b, const struct wcol *c, const struct dict *d, uint64_t rows)
{
	uint64_t *sorted = malloc((d->n ? d->n : 1) * sizeof(*sorted));
	size_t k;

	if (!sorted) {
		b->failed = 1;
		return;
	}
	for (k = 0; k < d->n; k++)
		sorted[d->rank[k]] = d->first[k];
	buf_put_varint(b, d->n);
	for (k = 0; k < d->n; k++) {
		buf_put_varint(b, c->lens[sorted[k]]);
		buf_append(b, c->svals[sorted[k]], c->lens[sorted[k]]);
	}
	put_codes(b, c, d, rows);
	free(sorted);
}

static void encode_front(struct buf *b, const struct wcol *c, uint64_t rows)
{
	const char *prev = NULL;
	uint32_t prev_len = 0;
	uint64_t i;

	for (i = 0; i < rows; i++) {
		uint32_t shared = 0, len;

		if (!c->svals[i])
			continue;
		len = c->lens[i];
		while (prev && shared < len && shared < prev_len && prev[shared] == c->svals[i][shared])
			shared++;
		buf_put_varint(b, shared);
		buf_put_varint(b, len - shared);
		buf_append(b, c->svals[i] + shared, len - shared);
		prev = c->svals[i];
		prev_len = len;
	}
}

/*
 * A coded column as the strings it stands for (svals/lens per row), for
 * the encodings coded columns rarely take (numbered, front-coded): the
 * general path then decides and writes, so the bytes are the same by
 * construction. *strs holds the arrays; the caller frees both.
 */
static int decode_codes(const struct wcol *c, uint64_t rows, struct wcol *strs)
{
	const char **vals = malloc((rows ? rows : 1) * sizeof(*vals));
	uint32_t *lens = malloc((rows ? rows : 1) * sizeof(*lens));
	uint64_t r;

	*strs = *c;
	strs->codes = NULL;
	strs->svals = vals;
	strs->lens = lens;
	if (!vals || !lens)
		return -1;
	for (r = 0; r < rows; r++) {
		int absent = c->codes[r] == CRMP_CODE_ABSENT;

		vals[r] = absent ? NULL : c->svals[c->codes[r]];
		lens[r] = absent ? 0 : c->lens[c->codes[r]];
	}
	return 0;
}

static enum crmp_enc encode_strs(struct buf *b, const struct wcol *c, uint64_t rows,
				 struct crm_err *e);

static enum crmp_enc encode_decoded(struct buf *b, const struct wcol *c, uint64_t rows,
				    struct crm_err *e)
{
	struct wcol strs;
	enum crmp_enc enc = CRMP_FRONT;

	if (decode_codes(c, rows, &strs))
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
	else
		enc = encode_strs(b, &strs, rows, e);
	free((void *)strs.svals);
	free((void *)strs.lens);
	return enc;
}

/*
 * The values a coded column uses, in byte order: sorted[0..*n) are codes,
 * rank[code] the position of each used one. Insertion sort: a few dozen
 * values at most.
 */
static void sort_used_codes(const struct wcol *c, const uint64_t *count, uint8_t *sorted,
			    uint8_t *rank, unsigned *n)
{
	unsigned k, j;

	*n = 0;
	for (k = 0; k < c->n_codes; k++) {
		if (!count[k])
			continue;
		for (j = *n; j > 0 && str_cmp(c->svals[sorted[j - 1]], c->lens[sorted[j - 1]],
					      c->svals[k], c->lens[k]) > 0; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = (uint8_t)k;
		(*n)++;
	}
	for (j = 0; j < *n; j++)
		rank[sorted[j]] = (uint8_t)j;
}

/*
 * A coded column (crmp_writer_coded): a dictionary of the values used,
 * straight from the codes, when the canonical encoding is a dictionary
 * (D * 2 <= present values, and not numbered); else through the strings.
 */
static enum crmp_enc encode_coded(struct buf *b, const struct wcol *c, uint64_t rows,
				  struct crm_err *e)
{
	uint64_t count[CRMP_MAX_CODES + 1] = { 0 }, present = 0, need = 0, r;
	uint8_t sorted[CRMP_MAX_CODES], rank[CRMP_MAX_CODES + 1];
	unsigned n, k;
	struct wcol used = *c;
	const char *uv[CRMP_MAX_CODES];
	uint32_t ul[CRMP_MAX_CODES];
	uint32_t plen;
	unsigned width;
	unsigned char *p;

	for (r = 0; r < rows; r++)
		count[c->codes[r]]++;
	sort_used_codes(c, count, sorted, rank, &n);
	for (k = 0; k < n; k++) {
		uv[k] = c->svals[sorted[k]];
		ul[k] = c->lens[sorted[k]];
		present += count[sorted[k]];
		need += count[sorted[k]] * varint_len(k);
		if (ul[k] > CRMP_MAX_STRING) {
			err_set(e, CRM_E_INTERNAL, "string of %u bytes in column '%s'", ul[k], c->name);
			return CRMP_FRONT;
		}
	}
	/* numbered() on the values used decides as on every row: it only compares them. */
	used.codes = NULL;
	used.svals = uv;
	used.lens = ul;
	if (numbered(&used, n, &plen, &width) || (uint64_t)n * 2 > present)
		return encode_decoded(b, c, rows, e);
	buf_put_varint(b, n);
	for (k = 0; k < n; k++) {
		buf_put_varint(b, ul[k]);
		buf_append(b, uv[k], ul[k]);
	}
	if (buf_reserve(b, need))
		return CRMP_DICT;
	rank[CRMP_CODE_ABSENT] = 0; /* not written */
	p = b->data + b->len;
	for (r = 0; r < rows; r++)
		if (c->codes[r] != CRMP_CODE_ABSENT)
			p = varint_at(p, rank[c->codes[r]]);
	b->len = (size_t)(p - b->data);
	return CRMP_DICT;
}

/*
 * Digit keys of at most 8 digits need only their top 32 bits (key >> 28),
 * which order them as their strings do: room for a row number beside
 * them in one 64-bit word (sortx_high32).
 */
#define KEY_SHORT_SHIFT (4 * (CRMP_DIGITS_MAX - 8))

/* The present keys all short (and how many are present), or 0. */
static int keys_short(const struct wcol *c, uint64_t rows, uint64_t *present)
{
	uint64_t r, n = 0, low = 0;

	for (r = 0; r < rows; r++)
		if (!c->present || c->present[r]) {
			low |= (uint64_t)c->ivals[r] & (((uint64_t)1 << KEY_SHORT_SHIFT) - 1);
			n++;
		}
	*present = n;
	return low == 0;
}

/*
 * Whether numbered() would take the strings the keys stand for. Every
 * string is the prefix and the key's digits, so the run of digits that
 * ends it is the key's, after any the prefix ends with (pd of them); the
 * part before that run is the same in every row. What is left of
 * numbered()'s test: a run of 1 to 18 digits, all of one length, or no
 * leading zero among runs of 2 or more digits.
 */
static int keys_numbered(const struct wcol *c, uint64_t rows)
{
	uint32_t pd = 0;
	unsigned w = 0, d;
	int first = 1, same_width = 1, zeros = 0;
	uint64_t r;

	while (pd < c->plen && c->prefix[c->plen - 1 - pd] >= '0' && c->prefix[c->plen - 1 - pd] <= '9')
		pd++;
	for (r = 0; r < rows; r++) {
		char lead;

		if (c->present && !c->present[r])
			continue;
		d = key_digit_count(c->ivals[r]) + pd;
		if (d == 0 || d > 18)
			return 0;
		if (first)
			w = d;
		first = 0;
		lead = pd ? c->prefix[c->plen - pd] : (char)('0' + ((uint64_t)c->ivals[r] >> 56) - 1);
		same_width &= d == w;
		zeros |= d > 1 && lead == '0';
	}
	return !first && (same_width || !zeros);
}

/* encode_front over the strings of the keys, made one at a time. */
static void front_keys(struct buf *b, const struct wcol *c, uint64_t rows)
{
	char dig[2][CRMP_DIGITS_MAX];
	unsigned len[2] = { 0, 0 }, cur = 0, shared;
	int first = 1;
	uint64_t r;

	for (r = 0; r < rows; r++) {
		if (c->present && !c->present[r])
			continue;
		len[cur] = crmp_key_digits(c->ivals[r], dig[cur]);
		if (first) {
			buf_put_varint(b, 0);
			buf_put_varint(b, c->plen + len[cur]);
			buf_append(b, c->prefix, c->plen);
			buf_append(b, dig[cur], len[cur]);
		} else {
			for (shared = 0; shared < len[cur] && shared < len[!cur] &&
					 dig[cur][shared] == dig[!cur][shared];
			     shared++)
				;
			buf_put_varint(b, c->plen + shared);
			buf_put_varint(b, len[cur] - shared);
			buf_append(b, dig[cur] + shared, len[cur] - shared);
		}
		first = 0;
		cur = !cur;
	}
}

/*
 * The dictionary encoding (encode_dict) of short keys: sorted distinct
 * strings, then each present row's rank among them, found by sorting
 * (key, row) words. `v` holds the n present rows' words (freed here).
 */
static int dict_keys_short(struct buf *b, const struct wcol *c, uint64_t rows, uint64_t *v,
			   size_t n, size_t distinct)
{
	uint32_t *code = malloc((rows ? rows : 1) * sizeof(*code)), rank = 0;
	char dig[CRMP_DIGITS_MAX];
	unsigned char *p;
	size_t i, need = 0;
	uint64_t r;

	if (!code) {
		free(v);
		return -1;
	}
	buf_put_varint(b, distinct);
	for (i = 0; i < n; i++) {
		if (i > 0 && v[i] >> 32 != v[i - 1] >> 32)
			rank++;
		if (i == 0 || v[i] >> 32 != v[i - 1] >> 32) {
			unsigned len = crmp_key_digits(c->ivals[(uint32_t)v[i]], dig);

			buf_put_varint(b, c->plen + len);
			buf_append(b, c->prefix, c->plen);
			buf_append(b, dig, len);
		}
		code[(uint32_t)v[i]] = rank;
	}
	free(v);
	for (r = 0; r < rows; r++)
		if (!c->present || c->present[r])
			need += varint_len(code[r]);
	if (buf_reserve(b, need) == 0) {
		p = b->data + b->len;
		for (r = 0; r < rows; r++)
			if (!c->present || c->present[r])
				p = varint_at(p, code[r]);
		b->len = (size_t)(p - b->data);
	}
	free(code);
	return 0;
}

/*
 * Short digit keys encoded straight from the keys, with the bytes the
 * strings would give (test_crmp short_keys_as_strings): numbered() says no
 * (the caller checked), and then, as build_dict decides, front-coded when
 * more than half the present values are distinct, else a dictionary.
 * The strings were 21 bytes a row more at once (a month of 6 M
 * interactions: a third of pass 3's peak memory at 3 M customers).
 */
static enum crmp_enc encode_short_keys(struct buf *b, const struct wcol *c, uint64_t rows,
				       uint64_t present, struct crm_err *e)
{
	uint64_t *v = malloc((present ? present : 1) * sizeof(*v)), r;
	size_t n = 0, i, distinct = 0;

	if (!v)
		goto nomem;
	for (r = 0; r < rows; r++)
		if (!c->present || c->present[r])
			v[n++] = ((uint64_t)c->ivals[r] >> KEY_SHORT_SHIFT) << 32 | r;
	for (i = 1; i < n && v[i - 1] < v[i]; i++)
		;
	if (i < n && sortx_high32(v, NULL, n)) {
		free(v);
		goto nomem;
	}
	for (i = 0; i < n; i++)
		distinct += i == 0 || v[i] >> 32 != v[i - 1] >> 32;
	if (distinct * 2 > n) {
		free(v);
		front_keys(b, c, rows);
		return CRMP_FRONT;
	}
	if (dict_keys_short(b, c, rows, v, n, distinct) == 0)
		return CRMP_DICT;
nomem:
	err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
	return CRMP_FRONT;
}

/*
 * Digit keys made into their strings in row order, in one block: the
 * general path then decides and writes, so the bytes are
 * crmp_writer_str's by construction, and it reads the strings in order
 * instead of wherever the caller's copies were before its sort.
 */
static enum crmp_enc encode_key_strings(struct buf *b, const struct wcol *c, uint64_t rows,
					struct crm_err *e)
{
	size_t room = (size_t)rows * (c->plen + CRMP_DIGITS_MAX) + 1, at = 0;
	char *text = malloc(room);
	const char **vals = malloc((rows ? rows : 1) * sizeof(*vals));
	uint32_t *lens = malloc((rows ? rows : 1) * sizeof(*lens));
	struct wcol strs = *c;
	enum crmp_enc enc = CRMP_FRONT;
	uint64_t r;

	if (!text || !vals || !lens) {
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
		goto out;
	}
	for (r = 0; r < rows; r++) {
		vals[r] = NULL;
		lens[r] = 0;
		if (c->present && !c->present[r])
			continue;
		vals[r] = text + at;
		memcpy(text + at, c->prefix, c->plen);
		lens[r] = c->plen + crmp_key_digits(c->ivals[r], text + at + c->plen);
		at += lens[r];
	}
	strs.digits = 0;
	strs.svals = vals;
	strs.lens = lens;
	enc = encode_strs(b, &strs, rows, e);
out:
	free(text);
	free(vals);
	free(lens);
	return enc;
}

/*
 * A column of digit keys (crmp_writer_digits): short keys that are not
 * numbered go straight to their encoding; the others, rarer (more than 8
 * digits, or numbered after all), through their strings.
 */
static enum crmp_enc encode_digit_keys(struct buf *b, const struct wcol *c, uint64_t rows,
				       struct crm_err *e)
{
	uint64_t present;

	if (keys_short(c, rows, &present) && !keys_numbered(c, rows))
		return encode_short_keys(b, c, rows, present, e);
	return encode_key_strings(b, c, rows, e);
}

static enum crmp_enc encode_strs(struct buf *b, const struct wcol *c, uint64_t rows,
				 struct crm_err *e)
{
	struct dict d;
	uint64_t i, n = 0;
	uint32_t plen;
	unsigned width;
	enum crmp_enc enc = CRMP_FRONT;

	if (c->numbered)
		return encode_given_numbers(b, c, rows, e);
	if (c->codes)
		return encode_coded(b, c, rows, e);
	if (c->digits)
		return encode_digit_keys(b, c, rows, e);
	for (i = 0; i < rows; i++) {
		if (!c->svals[i])
			continue;
		n++;
		if (c->lens[i] > CRMP_MAX_STRING) {
			err_set(e, CRM_E_INTERNAL, "string of %u bytes in column '%s'", c->lens[i], c->name);
			return CRMP_FRONT;
		}
	}
	if (numbered(c, rows, &plen, &width))
		return encode_numbered(b, c, rows, plen, width, e);
	switch (build_dict(&d, c, rows, n)) {
	case 0:
		enc = CRMP_DICT;
		encode_dict(b, c, &d, rows);
		break;
	case 1:
		encode_front(b, c, rows);
		break;
	default:
		err_set(e, CRM_E_NOMEM, "out of memory encoding column '%s'", c->name);
	}
	dict_release(&d);
	return enc;
}

static void put_name(struct buf *b, const char *name)
{
	size_t n = strlen(name);

	buf_put_u8(b, (unsigned)n);
	buf_append(b, name, n);
}

static void put_u16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	put_u16(p, v & 0xffff);
	put_u16(p + 2, v >> 16);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

/* One column encoded and compressed, before it is appended to the file. */
struct colout {
	struct buf chunk;          /* the compressed chunk */
	enum crmp_enc enc;
	uint64_t nulls, raw;       /* absent values; bytes before compression */
	int rc;
	struct crm_err err;
};

/*
 * Which deflate strategy suits an encoding. Plain integers (prices that
 * repeat) and front-coded strings (shared suffixes) gain from deflate's
 * match search. The other encodings leave mostly noise plus runs of equal
 * bytes: Z_RLE codes those as well or better at about twice the speed
 * (measured on the bench's period files: smaller and 2.1x faster).
 */
static int strategy_of(enum crmp_enc enc)
{
	return enc == CRMP_PLAIN || enc == CRMP_FRONT ? Z_DEFAULT_STRATEGY : Z_RLE;
}

/* compress2 with a strategy; *len is the room at dst in, the bytes out. */
static int deflate_chunk(Bytef *dst, uLongf *len, const Bytef *src, uLong n, int strategy)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, ZLEVEL, Z_DEFLATED, 15, 8, strategy) != Z_OK)
		return Z_MEM_ERROR;
	z.next_in = (Bytef *)src; /* zlib's API is not const; it does not write */
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)*len;
	rc = deflate(&z, Z_FINISH);
	*len = z.total_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? Z_OK : Z_BUF_ERROR;
}

/* Encode and compress one column into o (o->rc and o->err say how it went). */
static void encode_column(const struct wcol *given, uint64_t rows, struct colout *o)
{
	struct crm_err *e = &o->err;
	struct wcol all = *given;
	const struct wcol *c = given;
	struct buf raw;
	uLongf stored;

	buf_init(&raw, CRMP_MAX_RAW);
	buf_init(&o->chunk, CRMP_MAX_RAW);
	o->nulls = count_nulls(c, rows);
	if (o->nulls)
		put_presence(&raw, c, rows);
	else if (c->present) { /* all present: the values need no gathering */
		all.present = NULL;
		c = &all;
	}
	/*
	 * Room for a few bytes a value at once: the buffer does not grow (and
	 * copy) by doubling, and pages never written cost nothing.
	 */
	if (rows < CRMP_MAX_RAW / 8)
		buf_reserve(&raw, (size_t)rows * 4 + 64);
	o->enc = c->type == CRMP_INT ? encode_ints(&raw, c, rows, e) : encode_strs(&raw, c, rows, e);
	if (e->code)
		goto out;
	if (raw.failed) {
		err_set(e, CRM_E_NOMEM, "column '%s' is too large to encode", c->name);
		goto out;
	}
	o->raw = raw.len;
	stored = compressBound(raw.len);
	if (buf_reserve(&o->chunk, stored)) {
		err_set(e, CRM_E_NOMEM, "out of memory writing column '%s'", c->name);
		goto out;
	}
	if (deflate_chunk(o->chunk.data, &stored, raw.data ? raw.data : (const Bytef *)"",
			  raw.len, strategy_of(o->enc)) != Z_OK) {
		err_set(e, CRM_E_INTERNAL, "cannot compress column '%s'", c->name);
		goto out;
	}
	o->chunk.len = stored;
out:
	o->rc = e->code;
	buf_release(&raw);
}

/* Append an encoded column: its chunk to `file`, its entry to `dir`. */
static int append_column(struct buf *file, struct buf *dir, const struct wcol *c,
			 const struct colout *o, struct crm_err *e)
{
	size_t offset = file->len;

	if (buf_append(file, o->chunk.data ? o->chunk.data : (const unsigned char *)"", o->chunk.len))
		return err_set(e, CRM_E_NOMEM, "out of memory writing column '%s'", c->name);
	put_name(dir, c->name);
	buf_put_u8(dir, c->type);
	buf_put_u8(dir, o->enc);
	buf_put_varint(dir, o->nulls);
	buf_put_varint(dir, offset);
	buf_put_varint(dir, o->chunk.len);
	buf_put_varint(dir, o->raw);
	buf_put_u32le(dir, (uint32_t)crc32(0, file->data + offset, (uInt)o->chunk.len));
	return 0;
}

/*
 * The columns of a big table are encoded and compressed on two threads
 * (one when the process may use only one CPU, cpus.h):
 * deflate is most of the cost of writing a period file, the columns are
 * independent, and a month's biggest table often has the machine to
 * itself (the normalizer's memory budget keeps others waiting). Each
 * column lands in its own buffer; they are appended in column order, so
 * the bytes do not depend on which thread did what.
 */
#define PARALLEL_ROWS 65536

struct coljobs {
	const struct wtable *tab;
	struct colout *out;        /* [tab->n_cols] */
	pthread_mutex_t lock;
	size_t next;               /* next column to take, under lock */
};

static void *column_worker(void *arg)
{
	struct coljobs *j = arg;

	for (;;) {
		size_t c;

		pthread_mutex_lock(&j->lock);
		c = j->next < j->tab->n_cols ? j->next++ : SIZE_MAX;
		pthread_mutex_unlock(&j->lock);
		if (c == SIZE_MAX)
			return NULL;
		encode_column(&j->tab->cols[c], j->tab->rows, &j->out[c]);
	}
}

/* Encode every column of a table into out[], on a helper thread too when it pays. */
static void encode_columns(const struct wtable *tab, struct colout *out)
{
	struct coljobs j = { tab, out, PTHREAD_MUTEX_INITIALIZER, 0 };
	pthread_t th;
	int helper = tab->rows >= PARALLEL_ROWS && tab->n_cols > 1 && cpus_usable() >= 2 &&
		     pthread_create(&th, NULL, column_worker, &j) == 0;

	column_worker(&j);
	if (helper)
		pthread_join(th, NULL);
	pthread_mutex_destroy(&j.lock);
}

static int write_table(struct crmp_writer *w, const struct wtable *tab, struct crm_err *e)
{
	struct colout *out = calloc(tab->n_cols ? tab->n_cols : 1, sizeof(*out));
	size_t c;
	int rc = 0;

	if (!out)
		return err_set(e, CRM_E_NOMEM, "out of memory encoding table '%s'", tab->name);
	for (c = 0; c < tab->n_sort; c++) /* checked here: columns are added after the key */
		if (tab->sort[c] >= tab->n_cols || memchr(tab->sort, tab->sort[c], c)) {
			free(out);
			return err_set(e, CRM_E_INTERNAL, "bad sort key of table '%s'", tab->name);
		}
	put_name(&w->dir, tab->name);
	buf_put_varint(&w->dir, tab->rows);
	buf_put_varint(&w->dir, tab->n_cols);
	buf_put_varint(&w->dir, tab->n_sort);
	for (c = 0; c < tab->n_sort; c++)
		buf_put_varint(&w->dir, tab->sort[c]);
	encode_columns(tab, out);
	/* The first failed column in column order, as a serial run would report. */
	for (c = 0; c < tab->n_cols && rc == 0; c++) {
		if (out[c].rc) {
			*e = out[c].err;
			rc = out[c].rc;
		} else {
			rc = append_column(&w->file, &w->dir, &tab->cols[c], &out[c], e);
		}
	}
	for (c = 0; c < tab->n_cols; c++)
		buf_release(&out[c].chunk);
	free(out);
	return rc;
}

/* Encode the tables added since the last flush; their columns are no longer borrowed. */
int crmp_writer_flush(struct crmp_writer *w, struct crm_err *e)
{
	size_t t;
	int rc = 0;

	if (!w->started) {
		w->started = 1;
		buf_init(&w->file, (size_t)MAX_FILE);
		buf_init(&w->dir, 1 << 20);
		if (buf_reserve(&w->file, HEADER_SIZE))
			return err_set(e, CRM_E_NOMEM, "out of memory encoding a period file");
		memset(w->file.data, 0, HEADER_SIZE);
		w->file.len = HEADER_SIZE;
	}
	for (t = w->n_flushed; t < w->n_tables && rc == 0; t++)
		rc = write_table(w, &w->tables[t], e);
	w->n_flushed = t;
	if (rc == 0 && (w->dir.failed || w->file.failed))
		rc = err_set(e, CRM_E_NOMEM, "out of memory encoding a period file");
	return rc;
}

int crmp_writer_encode(struct crmp_writer *w, unsigned char **out, size_t *len,
		       struct crm_err *e)
{
	struct buf *file = &w->file, *dir = &w->dir;
	unsigned char *h;
	int rc = w->started && !file->data ? err_set(e, CRM_E_INTERNAL, "period file encoded twice")
					   : crmp_writer_flush(w, e);

	if (rc)
		return rc;
	h = file->data;
	memcpy(h, magic, 8);
	put_u16(h + 8, MAJOR);
	put_u16(h + 10, 0);
	put_u32(h + 12, (uint32_t)w->kind);
	put_u32(h + 16, (uint32_t)w->period);
	put_u32(h + 20, (uint32_t)w->n_tables);
	put_u64(h + 24, file->len);
	put_u32(h + 32, (uint32_t)dir->len);
	put_u32(h + 36, (uint32_t)crc32(0, dir->data, (uInt)dir->len));
	put_u64(h + 40, file->len + dir->len);
	put_u32(h + 60, (uint32_t)crc32(0, h, 60));
	if (buf_append(file, dir->data, dir->len))
		return err_set(e, CRM_E_NOMEM, "out of memory encoding a period file");
	*out = buf_take(file, len);
	/* The writer is spent: nothing more can be added or encoded. */
	buf_release(dir);
	w->n_flushed = w->n_tables = CRMP_MAX_TABLES;
	return 0;
}

int crmp_writer_commit(struct crmp_writer *w, const char *path, int *changed,
		       struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = crmp_writer_encode(w, &data, &len, e);

	if (rc == 0)
		rc = fsx_write_if_changed(path, data, len, changed, e);
	free(data);
	return rc;
}

/* ---------------------------------------------------------------- reader */

struct crmp_file {
	char *name;
	unsigned char *data;
	size_t len;
	unsigned major, minor;
	enum crmp_kind kind;
	int period;
	size_t n_tables;
	struct crmp_table_info tables[CRMP_MAX_TABLES];
};

/* One place reports damage, so every check names file, table and column. */
#define CORRUPT(f, t, c, ...) corrupt(e, f, t, c, __LINE__, __VA_ARGS__)

static int corrupt(struct crm_err *e, const struct crmp_file *f, const char *table,
		   const char *col, int src_line, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int corrupt(struct crm_err *e, const struct crmp_file *f, const char *table,
		   const char *col, int src_line, const char *fmt, ...)
{
	char what[512], field[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(field, sizeof(field), "%s%s%s", table ? table : "", col ? "." : "", col ? col : "");
	(void)src_line; /* kept for debugging builds: see CORRUPT() */
	return err_at(e, CRM_E_CORRUPT, f->name, 0, field[0] ? field : NULL,
		      "damaged period file: %s", what);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int get_name(const unsigned char **p, const unsigned char *end, char *out)
{
	size_t n, i;

	if (*p >= end)
		return -1;
	n = **p;
	if (n == 0 || n > 63 || (size_t)(end - *p - 1) < n)
		return -1;
	for (i = 0; i < n; i++) {
		char ch = (char)(*p)[1 + i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return -1;
		out[i] = ch;
	}
	out[n] = '\0';
	*p += 1 + n;
	return 0;
}

static int parse_header(struct crmp_file *f, uint64_t *dir_off, uint32_t *dir_len,
			struct crm_err *e)
{
	const unsigned char *h = f->data;
	size_t i;

	if (f->len < HEADER_SIZE)
		return CORRUPT(f, NULL, NULL, "file is %zu bytes, shorter than the header", f->len);
	if (memcmp(h, magic, 8) != 0)
		return CORRUPT(f, NULL, NULL, "not a period file (bad magic)");
	if (get_u32(h + 60) != (uint32_t)crc32(0, h, 60))
		return CORRUPT(f, NULL, NULL, "header checksum mismatch");
	f->major = (unsigned)(h[8] | h[9] << 8);
	f->minor = (unsigned)(h[10] | h[11] << 8);
	if (f->major != MAJOR && f->major != MAJOR_OLD)
		return CORRUPT(f, NULL, NULL, "unsupported major version %u", f->major);
	f->kind = (enum crmp_kind)get_u32(h + 12);
	if (f->kind != CRMP_PERIOD && f->kind != CRMP_DIMENSION)
		return CORRUPT(f, NULL, NULL, "unknown file kind %u", (unsigned)f->kind);
	f->period = (int)get_u32(h + 16);
	f->n_tables = get_u32(h + 20);
	if (f->n_tables > CRMP_MAX_TABLES)
		return CORRUPT(f, NULL, NULL, "%zu tables (at most %d)", f->n_tables, CRMP_MAX_TABLES);
	for (i = 48; i < 60; i++)
		if (h[i])
			return CORRUPT(f, NULL, NULL, "reserved header bytes are not zero");
	*dir_off = get_u64(h + 24);
	*dir_len = get_u32(h + 32);
	if (get_u64(h + 40) != f->len || *dir_off < HEADER_SIZE || *dir_off > f->len ||
	    f->len - *dir_off != *dir_len)
		return CORRUPT(f, NULL, NULL, "file is %zu bytes, header says %llu (truncated?)", f->len,
			       (unsigned long long)get_u64(h + 40));
	if (get_u32(h + 36) != (uint32_t)crc32(0, f->data + *dir_off, *dir_len))
		return CORRUPT(f, NULL, NULL, "directory checksum mismatch");
	return 0;
}

static int parse_column(struct crmp_file *f, struct crmp_table_info *t, struct crmp_col_info *c,
			const unsigned char **p, const unsigned char *end, uint64_t *next_chunk,
			uint64_t dir_off, struct crm_err *e)
{
	if (get_name(p, end, c->name))
		return CORRUPT(f, t->name, NULL, "bad column name in the directory");
	if (end - *p < 2)
		return CORRUPT(f, t->name, c->name, "directory cut short");
	c->type = (enum crmp_type)(*p)[0];
	c->enc = (enum crmp_enc)(*p)[1];
	*p += 2;
	if (!((c->type == CRMP_INT && (c->enc == CRMP_PLAIN || c->enc == CRMP_DELTA ||
				       c->enc == CRMP_PLANES || c->enc == CRMP_DAYS ||
				       c->enc == CRMP_DICT)) ||
	      (c->type == CRMP_STR && (c->enc == CRMP_DICT || c->enc == CRMP_FRONT ||
				       c->enc == CRMP_NUMBERED))))
		return CORRUPT(f, t->name, c->name, "unknown type %d or encoding %d", c->type, c->enc);
	if (buf_get_varint(p, end, &c->nulls) || buf_get_varint(p, end, &c->offset) ||
	    buf_get_varint(p, end, &c->stored) || buf_get_varint(p, end, &c->raw) || end - *p < 4)
		return CORRUPT(f, t->name, c->name, "directory cut short");
	c->crc = get_u32(*p);
	*p += 4;
	if (c->nulls > t->rows || c->raw > CRMP_MAX_RAW)
		return CORRUPT(f, t->name, c->name, "impossible null count or size");
	if (c->offset != *next_chunk || c->stored > dir_off || c->offset > dir_off - c->stored)
		return CORRUPT(f, t->name, c->name, "chunk at %llu+%llu lies outside its place",
			       (unsigned long long)c->offset, (unsigned long long)c->stored);
	*next_chunk = c->offset + c->stored;
	return 0;
}

/* A table's sort key: a count, then that many distinct column indexes. */
static int parse_sort(struct crmp_file *f, struct crmp_table_info *t, const unsigned char **p,
		      const unsigned char *end, struct crm_err *e)
{
	uint64_t n, col;
	size_t i;

	if (buf_get_varint(p, end, &n))
		return CORRUPT(f, t->name, NULL, "directory cut short");
	if (n > t->n_cols)
		return CORRUPT(f, t->name, NULL, "sort key of %llu columns", (unsigned long long)n);
	for (i = 0; i < n; i++) {
		if (buf_get_varint(p, end, &col))
			return CORRUPT(f, t->name, NULL, "directory cut short");
		if (col >= t->n_cols || memchr(t->sort, (int)col, i))
			return CORRUPT(f, t->name, NULL, "bad sort column %llu", (unsigned long long)col);
		t->sort[i] = (uint8_t)col;
	}
	t->n_sort = (size_t)n;
	return 0;
}

static int parse_directory(struct crmp_file *f, uint64_t dir_off, uint32_t dir_len,
			   struct crm_err *e)
{
	const unsigned char *p = f->data + dir_off, *end = p + dir_len;
	uint64_t next_chunk = HEADER_SIZE, n;
	size_t i, j;
	int rc;

	for (i = 0; i < f->n_tables; i++) {
		struct crmp_table_info *t = &f->tables[i];

		if (get_name(&p, end, t->name))
			return CORRUPT(f, NULL, NULL, "bad table name in the directory");
		if (buf_get_varint(&p, end, &t->rows) || buf_get_varint(&p, end, &n))
			return CORRUPT(f, t->name, NULL, "directory cut short");
		if (t->rows > CRMP_MAX_ROWS)
			return CORRUPT(f, t->name, NULL, "%llu rows, more than the %llu a table may have",
				       (unsigned long long)t->rows, (unsigned long long)CRMP_MAX_ROWS);
		if (n == 0 || n > CRMP_MAX_COLUMNS)
			return CORRUPT(f, t->name, NULL, "impossible column count");
		t->n_cols = (size_t)n;
		if (f->major != MAJOR_OLD && (rc = parse_sort(f, t, &p, end, e)))
			return rc;
		for (j = 0; j < t->n_cols; j++) {
			rc = parse_column(f, t, &t->cols[j], &p, end, &next_chunk, dir_off, e);
			if (rc)
				return rc;
		}
	}
	if (p != end)
		return CORRUPT(f, NULL, NULL, "%zu stray bytes after the directory", (size_t)(end - p));
	if (next_chunk != dir_off)
		return CORRUPT(f, NULL, NULL, "unaccounted bytes between chunks and directory");
	return 0;
}

/* Check and open `data` (len bytes), which the file owns from here on, also on failure. */
static int open_owned(unsigned char *data, size_t len, const char *name,
		      struct crmp_file **out, struct crm_err *e)
{
	struct crmp_file *f = calloc(1, sizeof(*f));
	uint64_t dir_off = 0;
	uint32_t dir_len = 0;
	int rc;

	*out = NULL;
	if (!f || !(f->name = strdup(name))) {
		free(data);
		crmp_close(f);
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", name);
	}
	f->data = data;
	f->len = len;
	rc = parse_header(f, &dir_off, &dir_len, e);
	if (rc == 0)
		rc = parse_directory(f, dir_off, dir_len, e);
	if (rc) {
		crmp_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

int crmp_open_mem(const void *data, size_t len, const char *name,
		  struct crmp_file **out, struct crm_err *e)
{
	unsigned char *copy = malloc(len ? len : 1);

	*out = NULL;
	if (!copy)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", name);
	memcpy(copy, data, len);
	return open_owned(copy, len, name, out, e);
}

/* The file's bytes are read once and kept as read: a copy cost a page fault per 4 KiB. */
int crmp_open(const char *path, struct crmp_file **out, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fsx_read_file(path, (size_t)MAX_FILE, &data, &len, e);
	if (rc)
		return rc;
	return open_owned(data, len, path, out, e);
}

void crmp_close(struct crmp_file *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->data);
	free(f);
}

enum crmp_kind crmp_kind(const struct crmp_file *f) { return f->kind; }
int crmp_period(const struct crmp_file *f) { return f->period; }
uint64_t crmp_file_size(const struct crmp_file *f) { return f->len; }

void crmp_version(const struct crmp_file *f, unsigned *major, unsigned *minor)
{
	*major = f->major;
	*minor = f->minor;
}
size_t crmp_n_tables(const struct crmp_file *f) { return f->n_tables; }

const struct crmp_table_info *crmp_table_info(const struct crmp_file *f, size_t i)
{
	return i < f->n_tables ? &f->tables[i] : NULL;
}

int crmp_find_table(const struct crmp_file *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n_tables; i++)
		if (strcmp(f->tables[i].name, name) == 0)
			return (int)i;
	return -1;
}

int crmp_find_column(const struct crmp_file *f, int t, const char *name)
{
	size_t j;

	if (t < 0 || (size_t)t >= f->n_tables)
		return -1;
	for (j = 0; j < f->tables[t].n_cols; j++)
		if (strcmp(f->tables[t].cols[j].name, name) == 0)
			return (int)j;
	return -1;
}

/* A decoded chunk: its raw bytes and a cursor past the presence runs. */
struct chunk {
	unsigned char *raw;
	const unsigned char *p, *end;
};

static int inflate_chunk(const struct crmp_file *f, const struct crmp_table_info *t,
			 const struct crmp_col_info *c, struct chunk *k, struct crm_err *e)
{
	uLongf got = (uLongf)c->raw;

	k->raw = malloc(c->raw ? c->raw : 1);
	if (!k->raw)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	if ((uint32_t)crc32(0, f->data + c->offset, (uInt)c->stored) != c->crc)
		return CORRUPT(f, t->name, c->name, "chunk checksum mismatch");
	if (uncompress(k->raw, &got, f->data + c->offset, (uLong)c->stored) != Z_OK || got != c->raw)
		return CORRUPT(f, t->name, c->name, "chunk does not inflate to %llu bytes",
			       (unsigned long long)c->raw);
	k->p = k->raw;
	k->end = k->raw + c->raw;
	return 0;
}

/* Read presence runs into present[] (may be NULL); checks they add up. */
static int read_presence(const struct crmp_file *f, const struct crmp_table_info *t,
			 const struct crmp_col_info *c, struct chunk *k, uint8_t *present,
			 struct crm_err *e)
{
	uint64_t row = 0, nulls = 0, run;
	int want = 1, first = 1;

	if (c->nulls == 0) {
		if (present)
			memset(present, 1, t->rows);
		return 0;
	}
	while (row < t->rows) {
		if (buf_get_varint(&k->p, k->end, &run) || run > t->rows - row || (run == 0 && !first))
			return CORRUPT(f, t->name, c->name, "bad presence runs");
		if (present)
			memset(present + row, want, run);
		if (!want)
			nulls += run;
		row += run;
		want = !want;
		first = 0;
	}
	if (nulls != c->nulls)
		return CORRUPT(f, t->name, c->name, "presence runs count %llu nulls, directory says %llu",
			       (unsigned long long)nulls, (unsigned long long)c->nulls);
	return 0;
}

static int check_col(const struct crmp_file *f, int t, int c, enum crmp_type type,
		     struct crm_err *e)
{
	if (t < 0 || (size_t)t >= f->n_tables || c < 0 || (size_t)c >= f->tables[t].n_cols)
		return err_set(e, CRM_E_INTERNAL, "no such table or column in '%s'", f->name);
	if (f->tables[t].cols[c].type != type)
		return CORRUPT(f, f->tables[t].name, f->tables[t].cols[c].name, "column has the wrong type");
	return 0;
}

/*
 * The planes of n values (put_planes) into out[]: the smallest value,
 * then the bytes of each value's difference to it, a plane at a time.
 */
static int read_planes(const struct crmp_file *f, const struct crmp_table_info *ti,
		       const struct crmp_col_info *ci, struct chunk *k, int64_t *out, uint64_t n,
		       struct crm_err *e)
{
	uint64_t lo, i;
	unsigned bytes, b;

	if (buf_get_varint(&k->p, k->end, &lo) || k->p == k->end)
		return CORRUPT(f, ti->name, ci->name, "planes cut short");
	bytes = *k->p++;
	if (bytes > 8 || (bytes && n > (uint64_t)(k->end - k->p) / bytes))
		return CORRUPT(f, ti->name, ci->name, "bad planes (%u bytes of %llu values)", bytes,
			       (unsigned long long)n);
	lo = (uint64_t)buf_unzigzag(lo);
	for (i = 0; i < n; i++)
		out[i] = (int64_t)lo;
	for (b = 0; b < bytes; b++, k->p += n)
		for (i = 0; i < n; i++)
			out[i] = (int64_t)((uint64_t)out[i] + ((uint64_t)k->p[i] << (8 * b)));
	return 0;
}

/*
 * Read an integer block of n values (scale, then plain, delta or planes
 * values) into out[], which holds them contiguously.
 */
static int read_int_block(const struct crmp_file *f, const struct crmp_table_info *ti,
			  const struct crmp_col_info *ci, struct chunk *k, enum crmp_enc enc,
			  int64_t *out, uint64_t n, struct crm_err *e)
{
	uint64_t scale, i, v;
	int64_t prev = 0, x;
	int rc;

	if (buf_get_varint(&k->p, k->end, &scale) || scale == 0 || scale > (uint64_t)INT64_MAX)
		return CORRUPT(f, ti->name, ci->name, "bad integer scale");
	if (enc == CRMP_PLANES) {
		if ((rc = read_planes(f, ti, ci, k, out, n, e)) != 0)
			return rc;
		for (i = 0; scale > 1 && i < n; i++)
			if (__builtin_mul_overflow(out[i], (int64_t)scale, &out[i]))
				return CORRUPT(f, ti->name, ci->name, "value %llu overflows",
					       (unsigned long long)i);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (buf_get_varint(&k->p, k->end, &v))
			return CORRUPT(f, ti->name, ci->name, "values cut short at value %llu",
				       (unsigned long long)i);
		prev = enc == CRMP_DELTA ? (int64_t)((uint64_t)prev + (uint64_t)buf_unzigzag(v))
					 : buf_unzigzag(v);
		if (scale == 1) {
			out[i] = prev;
			continue;
		}
		if (__builtin_mul_overflow(prev, (int64_t)scale, &x))
			return CORRUPT(f, ti->name, ci->name, "value %llu overflows", (unsigned long long)i);
		out[i] = x;
	}
	return 0;
}

/*
 * The values of a days column (encode_days) into values[rows]: the
 * column of times it names (checked: another integer column without
 * nulls that is not days itself) decoded first, then the differences.
 */
static int read_days(const struct crmp_file *f, int t, const struct crmp_col_info *ci,
		     struct chunk *k, int64_t *values, struct crm_err *e)
{
	const struct crmp_table_info *ti = &f->tables[t];
	const struct crmp_col_info *ri;
	uint64_t ref, i;
	int64_t *times;
	unsigned mode;
	int rc;

	if (buf_get_varint(&k->p, k->end, &ref) || ref >= ti->n_cols || k->p == k->end)
		return CORRUPT(f, ti->name, ci->name, "days of no column");
	ri = &ti->cols[ref];
	if (ci->nulls || ri == ci || ri->type != CRMP_INT || ri->enc == CRMP_DAYS || ri->nulls)
		return CORRUPT(f, ti->name, ci->name, "days of column '%s', which cannot be",
			       ri->name);
	mode = *k->p++;
	if (mode != CRMP_PLAIN && mode != CRMP_DELTA && mode != CRMP_PLANES)
		return CORRUPT(f, ti->name, ci->name, "bad days mode %u", mode);
	if (!(times = malloc((ti->rows ? ti->rows : 1) * sizeof(*times))))
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	rc = crmp_read_int(f, t, (int)ref, times, NULL, e);
	if (rc == 0)
		rc = read_int_block(f, ti, ci, k, (enum crmp_enc)mode, values, ti->rows, e);
	for (i = 0; rc == 0 && i < ti->rows; i++)
		values[i] = (int64_t)((uint64_t)values[i] + (uint64_t)day_of_time(times[i]));
	free(times);
	return rc;
}

/* An integer block preceded by its encoding byte (1, 2 or 6). */
static int read_block_with_mode(const struct crmp_file *f, const struct crmp_table_info *ti,
				const struct crmp_col_info *ci, struct chunk *k, int64_t *out,
				uint64_t n, struct crm_err *e)
{
	unsigned mode;

	if (k->p == k->end)
		return CORRUPT(f, ti->name, ci->name, "integer block cut short");
	mode = *k->p++;
	if (mode != CRMP_PLAIN && mode != CRMP_DELTA && mode != CRMP_PLANES)
		return CORRUPT(f, ti->name, ci->name, "bad integer block mode %u", mode);
	return read_int_block(f, ti, ci, k, (enum crmp_enc)mode, out, n, e);
}

/*
 * The n values of an integer dictionary (put_int_dict) into values[]:
 * D <= n distinct values, strictly ascending, then a code < D per value.
 */
static int read_int_dict(const struct crmp_file *f, const struct crmp_table_info *ti,
			 const struct crmp_col_info *ci, struct chunk *k, int64_t *values,
			 uint64_t n, struct crm_err *e)
{
	uint64_t d, i;
	int64_t *vals;
	int rc;

	if (buf_get_varint(&k->p, k->end, &d) || d > n || (d == 0 && n > 0))
		return CORRUPT(f, ti->name, ci->name, "bad dictionary size");
	if (!(vals = malloc((d ? d : 1) * sizeof(*vals))))
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	rc = read_block_with_mode(f, ti, ci, k, vals, d, e);
	for (i = 1; rc == 0 && i < d; i++)
		if (vals[i - 1] >= vals[i])
			rc = CORRUPT(f, ti->name, ci->name, "dictionary not strictly ascending");
	if (rc == 0)
		rc = read_block_with_mode(f, ti, ci, k, values, n, e);
	for (i = 0; rc == 0 && i < n; i++) {
		if (values[i] < 0 || (uint64_t)values[i] >= d)
			rc = CORRUPT(f, ti->name, ci->name, "dictionary code out of range");
		else
			values[i] = vals[values[i]];
	}
	free(vals);
	return rc;
}

int crmp_read_int(const struct crmp_file *f, int t, int c, int64_t *values,
		  uint8_t *present, struct crm_err *e)
{
	const struct crmp_table_info *ti;
	const struct crmp_col_info *ci;
	struct chunk k = { 0 };
	uint8_t *pres = present;
	uint64_t i, j;
	int rc = check_col(f, t, c, CRMP_INT, e);

	if (rc)
		return rc;
	ti = &f->tables[t];
	ci = &ti->cols[c];
	if (!pres && !(pres = malloc(ti->rows ? ti->rows : 1))) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
		goto out;
	}
	rc = inflate_chunk(f, ti, ci, &k, e);
	if (rc == 0)
		rc = read_presence(f, ti, ci, &k, pres, e);
	/* Present values arrive packed: read them to the front, then spread out. */
	if (rc == 0 && ci->enc == CRMP_DAYS)
		rc = read_days(f, t, ci, &k, values, e);
	else if (rc == 0 && ci->enc == CRMP_DICT)
		rc = read_int_dict(f, ti, ci, &k, values, ti->rows - ci->nulls, e);
	else if (rc == 0)
		rc = read_int_block(f, ti, ci, &k, ci->enc, values, ti->rows - ci->nulls, e);
	if (rc == 0 && ci->nulls) {
		j = ti->rows - ci->nulls;
		for (i = ti->rows; i-- > 0;)
			values[i] = pres[i] ? values[--j] : 0;
	}
	if (rc == 0 && k.p != k.end)
		rc = CORRUPT(f, ti->name, ci->name, "stray bytes after the last value");
out:
	free(k.raw);
	if (pres != present)
		free(pres);
	return rc;
}

void crmp_strs_release(struct crmp_strs *s)
{
	free(s->dict);
	free(s->lens);
	free(s->codes);
	free(s->bytes);
	memset(s, 0, sizeof(*s));
}

/* Read a dictionary: D values, strictly ascending. */
static int read_dict(const struct crmp_file *f, const struct crmp_table_info *ti,
		     const struct crmp_col_info *ci, struct chunk *k, struct crmp_strs *s,
		     struct crm_err *e)
{
	uint64_t d, i, len;
	size_t used = 0;

	if (buf_get_varint(&k->p, k->end, &d) || d > ti->rows - ci->nulls || d > (uint64_t)(k->end - k->p))
		return CORRUPT(f, ti->name, ci->name, "bad dictionary size");
	s->n_dict = (uint32_t)d;
	s->dict = malloc((d ? d : 1) * sizeof(*s->dict));
	s->lens = malloc((d ? d : 1) * sizeof(*s->lens));
	/* The values plus a NUL each fit in the chunk's own size. */
	s->bytes = malloc((size_t)(k->end - k->p) + d + 1);
	if (!s->dict || !s->lens || !s->bytes)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	for (i = 0; i < d; i++) {
		if (buf_get_varint(&k->p, k->end, &len) || len > CRMP_MAX_STRING ||
		    len > (uint64_t)(k->end - k->p))
			return CORRUPT(f, ti->name, ci->name, "dictionary value %llu cut short",
				       (unsigned long long)i);
		memcpy(s->bytes + used, k->p, len);
		s->bytes[used + len] = '\0';
		s->dict[i] = s->bytes + used;
		s->lens[i] = (uint32_t)len;
		if (i > 0 && str_cmp(s->dict[i - 1], s->lens[i - 1], s->dict[i], s->lens[i]) >= 0)
			return CORRUPT(f, ti->name, ci->name, "dictionary is not strictly ascending");
		used += len + 1;
		k->p += len;
	}
	return 0;
}

static int read_dict_codes(const struct crmp_file *f, const struct crmp_table_info *ti,
			   const struct crmp_col_info *ci, struct chunk *k, const uint8_t *pres,
			   struct crmp_strs *s, struct crm_err *e)
{
	uint64_t i, code;

	for (i = 0; i < ti->rows; i++) {
		if (!pres[i]) {
			s->codes[i] = UINT32_MAX;
			continue;
		}
		if (buf_get_varint(&k->p, k->end, &code) || code >= s->n_dict)
			return CORRUPT(f, ti->name, ci->name, "bad dictionary code at row %llu",
				       (unsigned long long)i);
		s->codes[i] = (uint32_t)code;
	}
	return 0;
}

/*
 * Front-coded values become a dictionary of their own: one entry per
 * present row in row order, which is what callers expect (they index
 * through codes), though not sorted or distinct; n_dict counts rows.
 */
static int read_front(const struct crmp_file *f, const struct crmp_table_info *ti,
		      const struct crmp_col_info *ci, struct chunk *k, const uint8_t *pres,
		      struct crmp_strs *s, struct crm_err *e)
{
	uint64_t i, n = ti->rows - ci->nulls, shared, rest, idx = 0;
	size_t used = 0, cap = (size_t)(k->end - k->p) + 1;
	const char *prev = NULL;
	uint32_t prev_len = 0;

	s->n_dict = (uint32_t)n;
	s->dict = malloc((n ? n : 1) * sizeof(*s->dict));
	s->lens = malloc((n ? n : 1) * sizeof(*s->lens));
	s->bytes = malloc(cap);
	if (!s->dict || !s->lens || !s->bytes)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	for (i = 0; i < ti->rows; i++) {
		char *dst;

		if (!pres[i]) {
			s->codes[i] = UINT32_MAX;
			continue;
		}
		if (buf_get_varint(&k->p, k->end, &shared) || buf_get_varint(&k->p, k->end, &rest) ||
		    shared > prev_len || rest > (uint64_t)(k->end - k->p) || shared + rest > CRMP_MAX_STRING)
			return CORRUPT(f, ti->name, ci->name, "bad front-coded value at row %llu",
				       (unsigned long long)i);
		/* Grow storage: shared bytes are copied again, so it may exceed the chunk. */
		if (used + shared + rest + 1 > cap) {
			size_t ncap = (cap + shared + rest + 1) * 2;
			char *nb = realloc(s->bytes, ncap);
			uint64_t j;

			if (!nb)
				return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
			for (j = 0; j < idx; j++)
				s->dict[j] = nb + (s->dict[j] - s->bytes);
			prev = prev ? nb + (prev - s->bytes) : NULL;
			s->bytes = nb;
			cap = ncap;
		}
		dst = s->bytes + used;
		if (shared)
			memcpy(dst, prev, shared);
		memcpy(dst + shared, k->p, rest);
		dst[shared + rest] = '\0';
		k->p += rest;
		s->dict[idx] = dst;
		s->lens[idx] = (uint32_t)(shared + rest);
		s->codes[i] = (uint32_t)idx++;
		prev = dst;
		prev_len = (uint32_t)(shared + rest);
		used += shared + rest + 1;
	}
	return 0;
}

/*
 * Decimal digits of v, zero-padded to `width` (0: none), NUL-terminated;
 * returns the digit count. Hand-rolled: this runs once per id read, tens
 * of millions of times, where snprintf would dominate.
 */
static int put_digits(char *dst, uint64_t v, unsigned width)
{
	char tmp[20];
	int n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while ((unsigned)n < width)
		tmp[n++] = '0';
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = '\0';
	return n;
}

/* Numbered strings come back as one dictionary entry per present row. */
/* The head of a numbered chunk: prefix (pointing into the chunk), width, block mode. */
static int numbered_head(const struct crmp_file *f, const struct crmp_table_info *ti,
			 const struct crmp_col_info *ci, struct chunk *k,
			 const unsigned char **prefix, uint64_t *plen, unsigned *width,
			 unsigned *mode, struct crm_err *e)
{
	if (buf_get_varint(&k->p, k->end, plen) || *plen > CRMP_MAX_STRING - 18 ||
	    (uint64_t)(k->end - k->p) < *plen + 2)
		return CORRUPT(f, ti->name, ci->name, "bad numbered prefix");
	*prefix = k->p;
	k->p += *plen;
	*width = *k->p++;
	*mode = *k->p++;
	if (*width > 18 || (*mode != CRMP_PLAIN && *mode != CRMP_DELTA && *mode != CRMP_PLANES))
		return CORRUPT(f, ti->name, ci->name, "bad numbered width or mode");
	return 0;
}

/*
 * The largest number a numbered value of `width` digits may hold (0: any
 * width): a bound, not a digit count, since this runs once per id read,
 * tens of millions of times, where counting digits by division dominated.
 */
static int64_t numbered_max(unsigned width)
{
	int64_t most = 9;

	if (width == 0 || width > 18)
		return 999999999999999999LL;
	while (--width)
		most = most * 10 + 9;
	return most;
}

static int read_numbered(const struct crmp_file *f, const struct crmp_table_info *ti,
			 const struct crmp_col_info *ci, struct chunk *k, const uint8_t *pres,
			 struct crmp_strs *s, struct crm_err *e)
{
	uint64_t plen, i, n = ti->rows - ci->nulls, idx = 0;
	const unsigned char *prefix;
	unsigned width, mode;
	int64_t *nums = NULL;
	size_t used = 0;
	int rc = numbered_head(f, ti, ci, k, &prefix, &plen, &width, &mode, e);

	if (rc)
		return rc;
	nums = malloc((n ? n : 1) * sizeof(*nums));
	s->n_dict = (uint32_t)n;
	s->dict = malloc((n ? n : 1) * sizeof(*s->dict));
	s->lens = malloc((n ? n : 1) * sizeof(*s->lens));
	s->bytes = malloc((size_t)n * (plen + 20) + 1);
	if (!nums || !s->dict || !s->lens || !s->bytes) {
		free(nums);
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	}
	rc = read_int_block(f, ti, ci, k, (enum crmp_enc)mode, nums, n, e);
	for (i = 0; rc == 0 && i < ti->rows; i++) {
		char *dst = s->bytes + used;
		int len;

		if (!pres[i]) {
			s->codes[i] = UINT32_MAX;
			continue;
		}
		if (nums[idx] < 0 || nums[idx] > 999999999999999999LL) {
			rc = CORRUPT(f, ti->name, ci->name, "numbered value out of range");
			break;
		}
		memcpy(dst, prefix, plen);
		len = put_digits(dst + plen, (uint64_t)nums[idx], width);
		if (width && len != (int)width) {
			rc = CORRUPT(f, ti->name, ci->name, "numbered value wider than %u digits", width);
			break;
		}
		s->dict[idx] = dst;
		s->lens[idx] = (uint32_t)(plen + (uint64_t)len);
		s->codes[i] = (uint32_t)idx++;
		used += plen + (size_t)len + 1;
	}
	free(nums);
	return rc;
}

/* Spread the n present values of `vals` over rows (absent rows get 0), from the end. */
static void spread(int64_t *vals, const uint8_t *pres, uint64_t rows, uint64_t n)
{
	uint64_t i = rows;

	while (i-- > 0)
		vals[i] = pres[i] ? vals[--n] : 0;
}

int crmp_read_numbered(const struct crmp_file *f, int t, int c, int64_t *nums,
		       uint8_t *present, struct crmp_numbered *shape, struct crm_err *e)
{
	const struct crmp_table_info *ti;
	const struct crmp_col_info *ci;
	struct chunk k = { 0 };
	const unsigned char *prefix;
	uint64_t plen, i, n;
	unsigned width, mode;
	uint8_t *pres = NULL;
	int rc = check_col(f, t, c, CRMP_STR, e);

	if (rc)
		return rc;
	ti = &f->tables[t];
	ci = &ti->cols[c];
	if (ci->enc != CRMP_NUMBERED)
		return 1;
	n = ti->rows - ci->nulls;
	pres = present ? present : malloc(ti->rows ? ti->rows : 1);
	if (!pres)
		return err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
	rc = inflate_chunk(f, ti, ci, &k, e);
	if (rc == 0)
		rc = read_presence(f, ti, ci, &k, pres, e);
	if (rc == 0)
		rc = numbered_head(f, ti, ci, &k, &prefix, &plen, &width, &mode, e);
	if (rc == 0 && plen >= sizeof(shape->prefix))
		rc = 1; /* a prefix this long: read it as text */
	if (rc == 0)
		rc = read_int_block(f, ti, ci, &k, (enum crmp_enc)mode, nums, n, e);
	if (rc == 0) {
		int64_t most = numbered_max(width);

		for (i = 0; i < n; i++)
			if (nums[i] < 0 || nums[i] > most)
				break;
		if (i < n)
			rc = CORRUPT(f, ti->name, ci->name, "numbered value out of range");
	}
	if (rc == 0 && k.p != k.end)
		rc = CORRUPT(f, ti->name, ci->name, "stray bytes after the last value");
	if (rc == 0) {
		spread(nums, pres, ti->rows, n);
		memcpy(shape->prefix, prefix, plen);
		shape->prefix[plen] = '\0';
		shape->plen = (uint32_t)plen;
		shape->width = width;
	}
	free(k.raw);
	if (pres != present)
		free(pres);
	return rc;
}

int crmp_read_str(const struct crmp_file *f, int t, int c, struct crmp_strs *out,
		  struct crm_err *e)
{
	const struct crmp_table_info *ti;
	const struct crmp_col_info *ci;
	struct chunk k = { 0 };
	uint8_t *pres = NULL;
	int rc = check_col(f, t, c, CRMP_STR, e);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	ti = &f->tables[t];
	ci = &ti->cols[c];
	pres = malloc(ti->rows ? ti->rows : 1);
	out->codes = malloc((ti->rows ? ti->rows : 1) * sizeof(*out->codes));
	if (!pres || !out->codes) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory reading '%s'", f->name);
		goto out;
	}
	rc = inflate_chunk(f, ti, ci, &k, e);
	if (rc == 0)
		rc = read_presence(f, ti, ci, &k, pres, e);
	if (rc == 0 && ci->enc == CRMP_DICT) {
		rc = read_dict(f, ti, ci, &k, out, e);
		if (rc == 0)
			rc = read_dict_codes(f, ti, ci, &k, pres, out, e);
	} else if (rc == 0 && ci->enc == CRMP_NUMBERED) {
		rc = read_numbered(f, ti, ci, &k, pres, out, e);
	} else if (rc == 0) {
		rc = read_front(f, ti, ci, &k, pres, out, e);
	}
	if (rc == 0 && k.p != k.end)
		rc = CORRUPT(f, ti->name, ci->name, "stray bytes after the last value");
out:
	free(k.raw);
	free(pres);
	if (rc)
		crmp_strs_release(out);
	return rc;
}

int crmp_check_all(const struct crmp_file *f, struct crm_err *e)
{
	size_t t, c;
	int rc = 0;

	for (t = 0; t < f->n_tables && rc == 0; t++) {
		const struct crmp_table_info *ti = &f->tables[t];
		int64_t *vals = malloc((ti->rows ? ti->rows : 1) * sizeof(*vals));

		if (!vals)
			return err_set(e, CRM_E_NOMEM, "out of memory checking '%s'", f->name);
		for (c = 0; c < ti->n_cols && rc == 0; c++) {
			if (ti->cols[c].type == CRMP_INT) {
				rc = crmp_read_int(f, (int)t, (int)c, vals, NULL, e);
			} else {
				struct crmp_strs s;

				rc = crmp_read_str(f, (int)t, (int)c, &s, e);
				if (rc == 0)
					crmp_strs_release(&s);
			}
		}
		free(vals);
	}
	return rc;
}
