/*
 * norm_ids.c - normalize: ids that skip the dedupe buckets (struct direct
 * in norm_int.h).
 *
 * Pass 1 sent every record with an id through one of the 32 buckets and
 * pass 2 moved each survivor on to its month's spill file: a write and a
 * read of every order, survey, ticket and lead more than their month
 * files take, for ids that nearly all occur once. Here a bitmap of the
 * ids seen so far, by number, lets the first occurrence of a numbered id
 * go straight to its month (the keeper's choice, in reading order), and
 * only the later ones through a bucket, where pass 2 keeps the last as
 * before. The first occurrence loses whenever a later one exists (the
 * last in reading order wins), so pass 3 drops a direct record whose id
 * has its `dup` bit. Ids that are not numbered as the entity's first one,
 * or whose key is past the keeper's limit, take the buckets as before:
 * the rows that survive are the same either way.
 *
 * Orders of derived customers always take a bucket: pass 2 gives those
 * customers their signup from the orders that survive there. The keeper
 * knows them by their ids, kept here too (numbered ones in a bitmap).
 *
 * Threads: norm_ids_key runs on pass 1's validator thread and alone sets
 * an entity's prefix and width; the keeper reads and sets only the bits.
 * Pass 3 only reads.
 */
#include "norm_int.h"

#include <string.h>
#include <sys/mman.h>

#include "banned.h"

#define KEY_DIGITS_MAX 12        /* numbers under 10^12 < 2^40: keys stay far from overflow */
#define SECOND_BITS 4            /* the second id column's value, 0..15, in the key's low bits */
#define CUST_KEYS_MAX ((int64_t)1 << 26)  /* derived customer numbers in the bitmap */

/* Prefix and digit count from the first id (no trailing digits, or too many: not numbered). */
static void learn(struct idbits *b, const char *s, uint32_t len)
{
	uint32_t d = 0;

	while (d < len && s[len - 1 - d] >= '0' && s[len - 1 - d] <= '9')
		d++;
	b->state = -1;
	if (d >= 1 && d <= KEY_DIGITS_MAX && len - d < sizeof(b->prefix)) {
		memcpy(b->prefix, s, len - d);
		b->plen = len - d;
		b->width = d;
		b->state = 1;
	}
}

/* The number of an id of the learnt shape, or -1. */
static int64_t number_of(const struct idbits *b, const char *s, uint32_t len)
{
	int64_t v;

	if (b->state <= 0 || norm_prefixed_number(b->prefix, b->plen, b->width, s, len, &v))
		return -1;
	return v;
}

/* Whether the ids of table t can have keys: one string id, or one and a small integer. */
static int keyed_table(const struct tab_def *t)
{
	if (t->entity == ENT_CUSTOMERS || t->id_cols < 1 || t->id_cols > 2 ||
	    tab_col_type(t->cols[0].kind) != CRMP_STR)
		return 0;
	return t->id_cols == 1 || t->cols[1].kind == TK_ENUM || t->cols[1].kind == TK_INT;
}

/* The key of a number and the second id column's value (if any); -1 when out of range. */
static int64_t key_of(const struct tab_def *t, int64_t num, int64_t second)
{
	if (num < 0)
		return -1;
	if (t->id_cols == 1)
		return num;
	return second >= 0 && second < (1 << SECOND_BITS) ? num << SECOND_BITS | second : -1;
}

/*
 * The key of a validated row's id, or -1 (not numbered as the entity's
 * first id). The first id of the entity sets the shape (validator thread).
 */
int64_t norm_ids_key(struct idbits *b, const struct tab_def *t, const struct row *r)
{
	if (b->state == 0) {
		if (!keyed_table(t)) {
			b->state = -1;
			return -1;
		}
		learn(b, r->sv[0], r->sl[0]);
	}
	if (b->state < 0)
		return -1;
	return key_of(t, number_of(b, r->sv[0], r->sl[0]), t->id_cols > 1 ? r->iv[1] : 0);
}

/* The key of a spill payload's id, as norm_ids_key gave it for the row; -1 when damaged. */
static int64_t payload_key(const struct idbits *b, const struct tab_def *t,
			   const unsigned char *p, const unsigned char *end)
{
	const unsigned char *s;
	uint64_t len, second = 0;

	if (p >= end || (~*p & ((1u << t->id_cols) - 1)))
		return -1;
	p++;
	/* an id keeps its bytes: an even varint, twice their length (norm_spill.c) */
	if (norm_varint(&p, end, &len) || (len & 1) || (len /= 2) > (uint64_t)(end - p))
		return -1;
	s = p;
	p += len;
	if (t->id_cols > 1 && norm_varint(&p, end, &second))
		return -1;
	return key_of(t, number_of(b, (const char *)s, (uint32_t)len), buf_unzigzag(second));
}

/*
 * The bitmap of keys below `max`, mapped whole on first use; -1 out of
 * memory. The kernel gives zeroed pages as they are first touched, so
 * only the range of keys in use takes memory, and nothing is copied as
 * it grows. (Grown by realloc on the heap, it sat above what pass 1 frees
 * there and kept tens of MB of freed memory from going back: +20 MB
 * peak on the bench.)
 */
static int bits_map(struct idbits *b, int64_t max)
{
	size_t words = ((size_t)(max - 1) / 64 + 1) * 2;
	void *p;

	if (b->bits)
		return 0;
	p = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	b->bits = p;
	b->words = words;
	return 0;
}

static void bits_unmap(struct idbits *b)
{
	if (b->bits)
		munmap(b->bits, b->words * sizeof(uint64_t));
	b->bits = NULL;
	b->words = 0;
}

/*
 * Where the keeper sends a record of `entity` whose id has `key`: 1 to its
 * month, as the first occurrence of its id, 0 through its bucket (a later
 * occurrence, an id without a key or with one of `max` or more, or a
 * `pinned` record, which must be deduplicated in pass 2), -1 out of memory.
 * A later occurrence marks the id `dup`; a pinned first one too, since no
 * direct record of its id exists for pass 3 to drop.
 */
int norm_ids_route(struct direct *d, int entity, int64_t key, int64_t max, int pinned)
{
	struct idbits *b = &d->ent[entity];
	uint64_t bit, *w;

	if (key < 0 || key >= max)
		return 0;
	if (bits_map(b, max))
		return -1;
	w = &b->bits[(size_t)key / 64 * 2];
	bit = (uint64_t)1 << (key & 63);
	if (!(w[0] & bit)) {
		w[0] |= bit;
		if (!pinned)
			return 1;
	} else if (!(w[1] & bit)) {
		d->dropped++;    /* the direct first occurrence, dropped in pass 3 */
	} else {
		return 0;
	}
	w[1] |= bit;
	b->any_dup = 1;
	return 0;
}

/*
 * Whether pass 3 drops a month record: a direct one whose id occurred
 * again. 1 or 0; -1 when the record is damaged.
 */
int norm_ids_dropped(const struct direct *d, const struct srec *r)
{
	const struct idbits *b = &d->ent[r->entity];
	int64_t key;

	if (!r->direct || !b->any_dup)
		return 0;
	key = payload_key(b, tab_for_entity((enum schema_entity)r->entity), r->payload,
			  r->payload + r->len);
	if (key < 0)
		return -1;
	if ((size_t)key / 64 * 2 >= b->words)
		return 0;
	return (int)(b->bits[(size_t)key / 64 * 2 + 1] >> (key & 63) & 1);
}

/* Note a derived customer's id; -1 out of memory. */
int norm_ids_add_derived(struct direct *d, const char *id, uint32_t len)
{
	struct idbits *b = &d->cust;
	int64_t num;
	int is_new;

	if (b->state == 0)
		learn(b, id, len);
	num = number_of(b, id, len);
	if (num >= 0 && num < CUST_KEYS_MAX) {
		if (bits_map(b, CUST_KEYS_MAX))
			return -1;
		b->bits[(size_t)num / 64 * 2] |= (uint64_t)1 << (num & 63);
		return 0;
	}
	return hmap_put(&d->cust_other, id, len, 0, &is_new, NULL) ? 0 : -1;
}

/* Whether a customer id is one noted by norm_ids_add_derived. */
int norm_ids_derived(const struct direct *d, const char *id, uint32_t len)
{
	const struct idbits *b = &d->cust;
	int64_t num = number_of(b, id, len);

	if (num >= 0 && num < CUST_KEYS_MAX)
		return (size_t)num / 64 * 2 < b->words &&
		       (b->bits[(size_t)num / 64 * 2] >> (num & 63) & 1);
	return d->cust_other.count && hmap_get(&d->cust_other, id, len) != NULL;
}

void norm_ids_release(struct direct *d)
{
	int k;

	for (k = 0; k < ENT_COUNT; k++)
		bits_unmap(&d->ent[k]);
	bits_unmap(&d->cust);
	hmap_release(&d->cust_other);
	memset(d, 0, sizeof(*d));
}
