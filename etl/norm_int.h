/*
 * norm_int.h - what the files of the normalize stage share (norm*.c);
 * nothing else includes it but their unit tests. norm.h is the stage's
 * public face.
 */
#ifndef CRM_NORM_INT_H
#define CRM_NORM_INT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "crmp.h"
#include "hmap.h"
#include "inputs.h"
#include "norm.h"
#include "rec.h"
#include "sha256.h"
#include "tables.h"
#include "tz.h"

#define N_BUCKETS 32             /* pass 2 holds two at once, 1/32 of the ids each */
#define SPILL_MAX ((size_t)1 << 31)  /* one bucket or month held in memory */
#define TEXT_MAX 255                 /* channel, region, tier values */
#define NO_DAY INT32_MIN

/* A validated row, columns as in its table (tables.h). */
struct row {
	int64_t iv[TAB_MAX_COLS];
	const char *sv[TAB_MAX_COLS];
	uint32_t sl[TAB_MAX_COLS];
	uint8_t present[TAB_MAX_COLS];
};

/* One customer of the dimension. Strings are offsets + 1 into `strs` (0 = none). */
struct cust {
	int32_t signup_day;  /* NO_DAY: derived customer without a completed order yet */
	int32_t churn_day;   /* NO_DAY: none */
	uint32_t attr[4];    /* channel, region, tier, referred_by */
	uint8_t derived;
	uint16_t file;       /* index in norm.files of the row that won (not for derived) */
};

/* An export file read, for the lineage records (lineage.h). */
struct norm_file {
	size_t source;             /* index in cfg->sources */
	char *location;            /* owned: the path, or the URL without credentials */
	char sha256[SHA256_HEX_LEN + 1];
	uint64_t bytes;            /* size of the file as stored */
	const struct inputs_file *input; /* NULL, or its entry in norm.inputs (hashed while
					    read, or before: sha256 is copied from there) */
	uint64_t rows_read, rows_rejected;
};

#define NORM_MAX_FILES 65535       /* norm_file indexes are 16 bits in struct cust */

/*
 * Customers by number: exports usually number their ids ("c000123"), so
 * an id made of the prefix of the first one seen and its number in at
 * least as many digits (zero-padded to exactly that many) is kept in a
 * plain array indexed by its number: 4 bytes a customer, mostly in
 * cache, and the id is never stored (norm_num_id gives it back). Other
 * ids, and numbers too far past the customer count, are in the hash map
 * cust_ids; an id is in one of the two, never both.
 */
#define NUMIDX_ID_MAX 40         /* prefix (< 16 bytes) and up to 20 digits */

struct numidx {
	char prefix[16];
	uint32_t plen, width;    /* prefix bytes and least digits; width 0: not set yet */
	uint32_t *slot;          /* owned: [number] -> customer index + 1, or 0 */
	size_t len;
	uint64_t outside;        /* numbered ids past the array: in the hash map */
};

/*
 * How the values of one string column of a table look over the whole run,
 * noted in pass 1 for every row sent to a spill file, so pass 3 knows
 * before loading a month how to hold each column:
 * - numbered: every value is `prefix` + exactly `width` digits, so the
 *   column is kept and sorted as numbers (crmp_writer_numbered writes the
 *   bytes the strings would give) and its strings are never stored;
 * - few distinct values (<= FEW_VALUES): rows point at the owned copies
 *   here, so the month's spill data can be freed once loaded.
 */
#define FEW_VALUES 32
#define FEW_GUESS 256            /* see norm_shape_few */

struct strshape {
	int numbered;            /* 1 while every value so far fits, -1 once one did not, 0 before any */
	char prefix[16];
	uint32_t plen, width;
	size_t n_few;            /* values in few[], FEW_VALUES + 1 once there were more */
	char *few[FEW_VALUES];   /* owned copies */
	uint32_t few_len[FEW_VALUES];
	uint8_t guess[FEW_GUESS];  /* few_guess(value) -> index in few[] + 1 of the
				      first value added there, 0: none */
};

/*
 * Pass 3 memory: a worker reserves what loading a table will take before
 * it loads, and waits while the other workers hold too much, so the peak
 * stays near `limit` whatever the month sizes (one table bigger than the
 * limit still runs, alone).
 */
struct membudget {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	uint64_t used, limit;    /* bytes */
};

/*
 * Tables only: each worker's period file (compressed chunks, then the
 * encoded file while it is published, up to ~40 MB a month at the bench
 * size) comes on top. At 160 MiB two workers peaked at 241 MB (1M set);
 * 128 MiB leaves room below 256 MB and still lets the two workers load
 * most tables side by side.
 */
#define PASS3_MEMORY ((uint64_t)128 << 20)

/*
 * A spill file, written through its own buffer with write(2) and read
 * back with pread(2): stdio would take a lock and copy once more per
 * record, and tens of millions of records pass through here.
 */
struct spill {
	int fd;                  /* valid while `path` is set */
	char *path;              /* owned; NULL: not open */
	unsigned char *iobuf;    /* owned write buffer of `iocap` bytes */
	size_t iocap, iolen;
	uint64_t records;        /* records written */
	uint64_t bytes;          /* bytes written */
	int month;               /* a month's spill of one table: records without entity and period */
	int entity, period;      /* a month spill's */
};

/*
 * Ids that skip the dedupe buckets (norm_ids.c). Nearly every id occurs
 * once, so a record whose id is a number (the id's prefix and digit
 * count as the entity's first id has them) goes straight to its month's
 * spill file the first time its id is seen, marked "direct", and only
 * later occurrences go through a bucket. A later occurrence always wins
 * over the first, so pass 3 drops a direct record whose id was seen
 * again (its bit in `dup`). Keys are the id's number, times 16 plus the
 * second id column when there is one (leads: the stage).
 */
struct idbits {
	char prefix[16];
	uint32_t plen, width;    /* prefix bytes and digits */
	int state;               /* 0: no id seen yet, 1: prefix and width set, -1: not numbered */
	uint64_t *bits;          /* owned (mapped): per 64 keys a word of `seen` then one of `dup` */
	size_t words;            /* words of bits (two per 64 keys), for every key of the limit */
	int any_dup;             /* some dup bit is set: pass 3 must look */
};

struct direct {
	struct idbits ent[ENT_COUNT];  /* record ids by entity: key set in pass 1 by the validator */
	struct idbits cust;            /* derived customers' ids by number (orders' keeper) */
	struct hmap cust_other;        /* derived customers' ids that are not numbered so */
	uint64_t dropped;              /* direct records that a later occurrence replaces */
};

#define BUCKET_IOBUF ((size_t)1 << 17)  /* 32 buckets */
#define MONTH_IOBUF ((size_t)1 << 16)   /* a file per table and month: ~150 at once */

struct norm {
	const struct cfg *cfg;
	const struct norm_opts *opts;
	struct norm_stats *st;
	struct tz *tz;
	char *tmp_dir, *periods_dir, *quarantine_dir;

	struct hmap cust_ids;    /* customer_id -> index in custs, ids not in num */
	struct numidx num;       /* numbered ids -> index in custs */
	struct hmap derived;     /* customer_id -> index, derived customers only (pass 2) */
	struct strshape shape[ENT_COUNT][TAB_MAX_COLS];  /* string columns, see struct strshape */
	struct cust *custs;
	size_t n_custs, cap_custs;
	struct hmap strs;        /* interned customer attribute strings */
	int cust_col[ENT_COUNT]; /* column customer_id of each table, or -1 */
	char last_id[SCHEMA_ID_MAX];  /* the last customer id found known */
	uint32_t last_id_len;         /* its length, or UINT32_MAX for none */

	struct spill buckets[N_BUCKETS];
	struct direct direct;    /* ids that skip the buckets (norm_ids.c) */
	struct spill *months;    /* [(period - month_base) * ENT_COUNT + entity] */
	int month_base, n_months;
	int first, last;         /* months with data, -1 when none */

	struct inputs_files inputs;  /* files found by inputs_describe, hashed by then or
					during pass 1 (inputs_hash_files) */
	struct norm_file *files; /* files read, in reading order */
	size_t n_files;
	uint32_t cur_file;       /* index of the file being read in pass 1 */
	uint64_t *signups;       /* [period - first][file]: customers whose signup is in the period */
	struct membudget *mem;   /* pass 3 only */
	char run_time[24];       /* UTC time of this run, for restatement lines */
	char *reuse_dir;         /* <data_dir>/cache, or NULL: every month is rebuilt (norm_reuse.c) */
	char reuse_salt[SHA256_HEX_LEN + 1]; /* this program's identity, for the keys there */

	FILE *quarantine;        /* of the source being read */
	char *quarantine_tmp, *quarantine_path;
};

/* One spill record as found in a buffer. */
struct srec {
	int entity, period;
	uint32_t file;           /* index in norm.files of the file it came from */
	const unsigned char *payload;
	size_t len;
	int direct;              /* sent to its month in pass 1, not deduplicated (struct direct) */
};

/*
 * One record of a batch of pass 1 (norm_pipe.c), its bytes in the batch's
 * data: a good one's spill payload, or a rejected one's value (at most
 * 200 bytes) and reason (NUL-terminated).
 */
struct pitem {
	long line;               /* rejected: line where the record starts */
	uint32_t off, len;       /* payload, or value */
	uint32_t reason_off;     /* rejected: the reason */
	const char *field;       /* rejected: static field name, or NULL */
	int period;              /* good, with a time column: its month */
	int bucket;              /* good: dedupe bucket, or -1 for its month's file */
	int64_t key;             /* good: key of its id (struct direct), or -1 */
	uint8_t bad;
	uint8_t has_value;       /* rejected: a value was given (may be empty) */
};

/* Why a record is rejected: field, value (borrowed) and reason. */
struct bad {
	const char *field;
	const char *value;
	size_t len;
	const char *reason;
	char text[160];
};

/*
 * A varint of 2 to 8 bytes from one little-endian word `w` (its first
 * byte >= 0x80): 0 with *out and *n (bytes), or -1 when the word holds
 * no last byte. No loop: the stop byte is found from the high bits, the
 * bytes past it are masked off and the 7-bit groups are packed by three
 * shift-and-merge steps (pairs, then fours, then eights).
 */
static inline int norm_varint_word(uint64_t w, uint64_t *out, unsigned *n)
{
	uint64_t stop = ~w & 0x8080808080808080ull, x;

	if (!stop)
		return -1;
	*n = (unsigned)__builtin_ctzll(stop) / 8 + 1;
	x = w & 0x7f7f7f7f7f7f7f7full;
	if (*n < 8)
		x &= ((uint64_t)1 << (8 * *n)) - 1;
	x = (x & 0x007f007f007f007full) | (x & 0x7f007f007f007f00ull) >> 1;
	x = (x & 0x00003fff00003fffull) | (x & 0x3fff00003fff0000ull) >> 2;
	*out = (x & 0x000000000fffffffull) | (x & 0x0fffffff00000000ull) >> 4;
	return 0;
}

/*
 * A varint of a spill record, which this run wrote itself: most are one
 * byte, so that case is tried first; times (5 bytes), periods and lengths
 * past 127 take norm_varint_word when 8 bytes are there to read, since a
 * byte loop mispredicts its exit on every such value. 0, or -1 past `end`
 * or over 10 bytes.
 */
static inline int norm_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
	const unsigned char *q = *p;
	uint64_t v = 0;
	unsigned shift;

	if (q < end && *q < 0x80) {
		*out = *q;
		*p = q + 1;
		return 0;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (end - q >= 8) {
		uint64_t w;
		unsigned n;

		memcpy(&w, q, 8);
		if (norm_varint_word(w, out, &n) == 0) {
			*p = q + n;
			return 0;
		}
	}
#endif
	for (shift = 0; q < end && shift < 70; shift += 7) {
		v |= (uint64_t)(*q & 0x7f) << shift;
		if (!(*q++ & 0x80)) {
			*out = v;
			*p = q;
			return 0;
		}
	}
	return -1;
}

/*
 * Copy n bytes as memcpy does. Spill records and their string values are
 * a few to a few dozen bytes, and tens of millions of each are copied: a
 * memcpy of a variable length is a call each time, where two fixed-size
 * copies that overlap in the middle (up to 64 bytes) are a load and a
 * store each, inline. Reads and writes only src[0..n) and dst[0..n).
 */
static inline void norm_copy(unsigned char *dst, const unsigned char *src, size_t n)
{
	if (n >= 32 && n <= 64) {
		memcpy(dst, src, 32);
		memcpy(dst + n - 32, src + n - 32, 32);
	} else if (n >= 16 && n < 32) {
		memcpy(dst, src, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8 && n < 16) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		memcpy(dst, src, n);
	}
}

/*
 * Whether a[0..n) and b[0..n) are the same bytes, as memcmp(...) == 0,
 * inline: ids compared per row (the last customer looked up, a dedupe
 * key's slot) are a few to 16 bytes, and a memcmp of a variable length
 * is a call each time. Up to 16 bytes, two words that overlap in the
 * middle. Reads only a[0..n) and b[0..n).
 */
static inline int norm_same(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	if (n >= 8 && n <= 16) {
		uint64_t x0, y0, x1, y1;

		memcpy(&x0, x, 8);
		memcpy(&y0, y, 8);
		memcpy(&x1, x + n - 8, 8);
		memcpy(&y1, y + n - 8, 8);
		return x0 == y0 && x1 == y1;
	}
	if (n >= 4 && n < 8) {
		uint32_t x0, y0, x1, y1;

		memcpy(&x0, x, 4);
		memcpy(&y0, y, 4);
		memcpy(&x1, x + n - 4, 4);
		memcpy(&y1, y + n - 4, 4);
		return x0 == y0 && x1 == y1;
	}
	if (n < 4) {
		for (i = 0; i < n; i++)
			if (x[i] != y[i])
				return 0;
		return 1;
	}
	return memcmp(a, b, n) == 0;
}

/*
 * The last `tail` (1 to 7) bytes of p[0..n) as a word, zero-extended, as
 * a memcpy into a zeroed word gives them (the row and key hashes end so).
 * A memcpy of a variable length is a call, and nearly every row and key
 * has such a tail: when there are 8 bytes or more, the 8 ending at the
 * end are loaded and shifted instead. Reads only p[0..n).
 */
static inline uint64_t norm_tail_word(const unsigned char *p, size_t n, size_t tail)
{
	uint64_t w = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n >= 8) {
		memcpy(&w, p + n - 8, 8);
		return w >> (8 * (8 - tail));
	}
#endif
	memcpy(&w, p + n - tail, tail);
	return w;
}

/* norm.c: small helpers */
char *norm_join(const char *a, const char *b);
int norm_nomem(struct crm_err *e);
#define HUGE_MIN ((size_t)4 << 20)   /* arrays from this size get huge pages (norm_huge) */
void norm_huge(void *p, size_t len);
int norm_period_of_day(int32_t day);
int32_t norm_first_day(int period);

void norm_release_customers(struct norm *n);

/* norm_check.c: customers and validation */
long norm_customer_slot(struct norm *n, const char *id, uint32_t len, int *is_new);
int norm_keep_customer(struct norm *n, const struct row *r, struct crm_err *e);
int norm_known_customer(struct norm *n, const char *id, uint32_t len);
long norm_find_customer(const struct norm *n, const char *id, uint32_t len);
uint32_t norm_num_id(const struct numidx *x, uint64_t num, char *out);
void norm_prefetch_customer(const struct norm *n, const char *id, uint32_t len);
int norm_customer_field(const struct norm *n, const struct tab_def *t);
typedef int norm_customer_fn(void *ctx, const char *id, uint32_t len, uint32_t k);
int norm_each_customer(const struct norm *n, norm_customer_fn *fn, void *ctx);
int norm_validate(struct norm *n, const struct tab_def *t, const struct rec *rec,
		  struct row *r, struct bad *b);

/* norm_spill.c: spill files */
int norm_decode_row(const unsigned char *p, const unsigned char *end, const struct tab_def *t,
		    struct row *r, int32_t first_day);
int norm_spill_open(struct spill *s, const char *dir, const char *name, size_t bufsize,
		    struct crm_err *e);
void norm_spill_close(struct spill *s);
int norm_spill_seal(struct spill *s, struct crm_err *e);
int norm_spill_put(struct spill *s, const struct srec *r, struct crm_err *e);
struct spill *norm_month_spill(struct norm *n, int period, int entity, struct crm_err *e);
size_t norm_row_most(const struct tab_def *t, const struct row *r);
size_t norm_encode_row(unsigned char *p, const struct tab_def *t, const struct row *r,
		       int32_t first_day, const int8_t *few);
int norm_payload_str(const unsigned char *p, const unsigned char *end, const struct tab_def *t,
		     size_t col, const char **s, uint32_t *len);
int norm_next_srec(const unsigned char **p, const unsigned char *end, struct srec *r);
int norm_spill_load(struct spill *s, unsigned char **data, size_t *cap, size_t *len,
		    struct crm_err *e);
int norm_spill_each(struct spill *s, int (*fn)(void *ctx, const struct srec *r), void *ctx,
		    struct crm_err *e);
int norm_damaged_spill(const struct spill *s, struct crm_err *e);

/* norm_reuse.c: months whose rows did not change keep their period file */
struct rowsum {
	uint64_t rows, a, b;     /* rows, and two sums of a hash of each */
};

void norm_rowsum_add(struct rowsum *s, const struct srec *r);
int norm_reuse_init(struct norm *n);
void norm_reuse_key(const struct norm *n, int period, const struct rowsum *sums,
		   char key[SHA256_HEX_LEN + 1]);
int norm_reuse_found(const struct norm *n, int period);
int norm_reuse_same(const struct norm *n, int period, const char *key, const char *period_path);
/* A period file as an entry names it. */
struct reuse_file {
	unsigned long long size;
	unsigned long crc;       /* CRC-32 (zlib's) of its bytes */
};

void norm_reuse_save(const struct norm *n, int period, const char *key,
		     const struct reuse_file *file);
int norm_reuse_same_rows(const char *old_path, const unsigned char *data, size_t len);

/* norm_spill.c: shapes of string columns */
int norm_shape_note(struct strshape *h, const char *s, uint32_t len);

/*
 * The number of `s` when it is `prefix` and then exactly `width` digits:
 * 0, or -1. Inline: every id of every row passes here in pass 1 and
 * again in pass 3, and prefixes are a byte or a few ("c"), which a loop
 * compares faster than a call.
 */
static inline int norm_prefixed_number(const char *prefix, uint32_t plen, uint32_t width,
				       const char *s, uint32_t len, int64_t *num)
{
	uint32_t k;
	int64_t v = 0;

	if (len != plen + width)
		return -1;
	for (k = 0; k < plen; k++)
		if (s[k] != prefix[k])
			return -1;
	for (; k < len; k++) {
		unsigned digit = (unsigned char)s[k] - '0';

		if (digit > 9)
			return -1;
		v = v * 10 + digit;
	}
	*num = v;
	return 0;
}

/* Its number when `s` has the numbered shape: 0, or -1. */
static inline int norm_shape_number(const struct strshape *h, const char *s, uint32_t len,
				    int64_t *num)
{
	return norm_prefixed_number(h->prefix, h->plen, h->width, s, len, num);
}

const char *norm_shape_few(const struct strshape *h, const char *s, uint32_t len);
int norm_shape_few_index(const struct strshape *h, const char *s, uint32_t len);
void norm_shape_release(struct strshape *h);

/* norm_ids.c: ids that skip the dedupe buckets (struct direct) */
int64_t norm_ids_key(struct idbits *b, const struct tab_def *t, const struct row *r);
int norm_ids_route(struct direct *d, int entity, int64_t key, int64_t max, int pinned);
int norm_ids_dropped(const struct direct *d, const struct srec *r);
int norm_ids_add_derived(struct direct *d, const char *id, uint32_t len);
int norm_ids_derived(const struct direct *d, const char *id, uint32_t len);
void norm_ids_release(struct direct *d);

/* norm_pipe.c: pass 1 of one export file on two threads */
int norm_pipe_run(struct norm *n, const struct tab_def *t,
		  int (*next)(void *src, struct rec *rec, struct crm_err *e), void *src,
		  int (*keep)(void *ctx, const struct pitem *it, const unsigned char *data,
			      struct crm_err *e),
		  void *ctx, struct crm_err *e);

/* norm_write.c: pass 3, period files and the customers dimension */
int norm_plan_periods(struct norm *n, struct crm_err *e);
int norm_write_periods(struct norm *n, struct crm_err *e);
int norm_write_dimension(struct norm *n, struct crm_err *e);

#endif
