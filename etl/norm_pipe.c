/*
 * norm_pipe.c - normalize, pass 1 on three threads: a parser thread splits
 * the records of one export file (CSV or XML) and copies their values
 * into raw batches; a validator thread validates them and encodes the good
 * ones as spill payloads, into batches of items; the calling thread takes
 * those in order and keeps each record (quarantine, customers map, spill
 * files). When parsing and validating were one stage, the slowest of
 * pass 1, parsing took about a third of its time (perf, 1M bench set):
 * apart, they run on both cores beside the keeper. (The parser's reads
 * also hash each export for its lineage: ins_open_tapped.)
 *
 * Why this split is safe: the parser touches only its reader. The
 * validator touches only what no keeper of the same file changes.
 * Validating customers and orders reads no customer (check_row), and only
 * their keepers change the customers map; the other entities read it, and
 * their keepers do not change it. The validator notes the shapes of the
 * non-customer entity it reads; keepers note only the customers' shapes.
 * One file at a time, the threads joined at its end, so a file sees every
 * effect of the files before it, as in a serial run. Records are kept in
 * file order whatever the thread timing: the output is the same bytes as
 * a serial run's.
 *
 * With a single usable CPU (cpus_usable) one thread parses and validates,
 * as the copy into raw batches and the hand-overs would only cost there.
 *
 * Memory: PIPE_BATCHES batches of each kind, of at most PIPE_DATA bytes
 * and PIPE_ITEMS records (more bytes only for one huge record), whatever
 * the file size.
 */
#include "norm_int.h"

#include <stdlib.h>
#include <string.h>

#include "cpus.h"

#include "banned.h"

#define PIPE_BATCHES 4
#define PIPE_DATA ((size_t)1 << 20)
#define PIPE_ITEMS 16384
#define VALUE_MAX 200              /* bytes of a rejected value kept (the quarantine cuts there) */

struct batch {
	struct pitem items[PIPE_ITEMS];
	size_t n_items;
	unsigned char *data;           /* owned, PIPE_DATA bytes (more for one huge record) */
	size_t len, cap;
};

/*
 * A record as the parser read it, its values copied into the raw batch's
 * data (NUL-terminated, as the readers give them).
 */
struct rawrec {
	long line;
	uint32_t off[SCHEMA_MAX_FIELDS];   /* value of each field in data, or NO_VALUE */
	uint32_t len[SCHEMA_MAX_FIELDS];
	uint32_t reason_off;               /* bad: its reason in data, or NO_VALUE */
	uint8_t bad;
};

#define NO_VALUE UINT32_MAX

struct rawbatch {
	struct rawrec items[PIPE_ITEMS];
	size_t n_items;
	unsigned char *data;           /* owned, PIPE_DATA bytes (more for one huge record) */
	size_t len, cap;
};

/*
 * Batches handed from one thread to the next, in order: a ring of
 * PIPE_BATCHES, under pipe.lock.
 */
struct queue {
	uint64_t filled, taken;        /* batches handed over / given back */
	int done;                      /* the producer has finished */
	int stop;                      /* the consumer failed: the producer stops */
};

struct pipe {
	struct norm *n;
	const struct tab_def *t;
	size_t n_fields;               /* fields of the entity: values of a record */
	int (*next)(void *src, struct rec *rec, struct crm_err *e);
	void *src;

	struct rawbatch raw[PIPE_BATCHES];  /* parser -> validator */
	struct batch b[PIPE_BATCHES];       /* validator -> keeper */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct queue rawq, itemq;      /* under lock */
	int rc, parse_rc;              /* results of the validator and of the parser */
	struct crm_err err, parse_err; /* their errors */

	/* Validator-side state. */
	int32_t month_lo, month_hi;    /* days [lo, hi) of month_of, the last month placed */
	int month_of;
	uint8_t strs[TAB_MAX_COLS];    /* string columns whose shapes are noted (see add_good) */
	size_t n_strs;
	uint8_t coded[TAB_MAX_COLS];   /* per column: its few values are spilled as indexes */
};

/*
 * Room for `len` more bytes after `used` in a batch's data (*data of *cap
 * bytes): at least PIPE_DATA, more only for one big record; -1 out of memory.
 */
static int data_room(unsigned char **data, size_t *cap, size_t used, size_t len)
{
	unsigned char *d;
	size_t want;

	if (*cap - used >= len)
		return 0;
	want = used + len > PIPE_DATA ? used + len : PIPE_DATA;
	if (!(d = realloc(*data, want)))
		return -1;
	*data = d;
	*cap = want;
	return 0;
}

/* Room for `len` more bytes in the batch; -1 out of memory. */
static int batch_room(struct batch *b, size_t len)
{
	return data_room(&b->data, &b->cap, b->len, len);
}

/* Whether a batch of n_items and len bytes is handed over before a record of `need` bytes. */
static int full(size_t n_items, size_t len, size_t need)
{
	return n_items == PIPE_ITEMS || (n_items > 0 && len + need > PIPE_DATA);
}

static uint32_t batch_put(struct batch *b, const void *p, size_t len)
{
	uint32_t off = (uint32_t)b->len;

	memcpy(b->data + b->len, p, len);
	b->len += len;
	return off;
}

/* The period of a local day, remembering the last month (reader side). */
static int pipe_period(struct pipe *pp, int32_t day)
{
	int64_t y;
	int m, d;

	if (day >= pp->month_lo && day < pp->month_hi)
		return pp->month_of;
	tz_civil_from_days(day, &y, &m, &d);
	pp->month_of = (int)(y * 12 + m - 1);
	pp->month_lo = (int32_t)(day - (d - 1));
	pp->month_hi = (int32_t)tz_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1);
	return pp->month_of;
}

/* A rejected record into the batch: its field, value and reason copied. */
static int add_bad(struct batch *b, long line, const struct bad *bad)
{
	size_t vlen = bad->value ? (bad->len > VALUE_MAX ? VALUE_MAX : bad->len) : 0;
	size_t rlen = strlen(bad->reason);
	struct pitem *it;

	if (batch_room(b, vlen + rlen + 1))
		return -1;
	it = &b->items[b->n_items++];
	memset(it, 0, sizeof(*it));
	it->bad = 1;
	it->line = line;
	it->field = bad->field;
	it->has_value = bad->value != NULL;
	it->len = (uint32_t)vlen;
	it->off = batch_put(b, bad->value ? bad->value : "", vlen);
	it->reason_off = batch_put(b, bad->reason, rlen + 1);
	return 0;
}

/*
 * The dedupe bucket of a row's id, and the id's key (struct direct) in
 * *key. A keyed id's bucket comes from its key, which is cheaper to mix
 * than the id's bytes: every occurrence of an id has the same key.
 */
static int id_bucket(struct pipe *pp, const struct row *r, int64_t *key)
{
	*key = norm_ids_key(&pp->n->direct.ent[pp->t->entity], pp->t, r);
	if (*key >= 0)
		return (int)(((uint64_t)*key * 0x9e3779b97f4a7c15ull >> 32) % N_BUCKETS);
	return (int)(hmap_hash(r->sv[0], r->sl[0]) % N_BUCKETS);
}

/* A valid record into the batch: noted, encoded, its spill file chosen. */
static int add_good(struct pipe *pp, struct batch *b, const struct row *r)
{
	const struct tab_def *t = pp->t;
	int8_t few[TAB_MAX_COLS];
	struct pitem *it;
	size_t j, c;
	int period, k;

	memset(few, -1, sizeof(few));
	for (j = 0; j < pp->n_strs; j++) {
		c = pp->strs[j];
		if (!r->present[c])
			continue;
		k = norm_shape_note(&pp->n->shape[t->entity][c], r->sv[c], r->sl[c]);
		if (pp->coded[c])
			few[c] = (int8_t)k;
	}
	period = t->time_col >= 0 ? pipe_period(pp, (int32_t)r->iv[t->time_col]) : 0;
	if (batch_room(b, norm_row_most(t, r)))
		return -1;
	it = &b->items[b->n_items++];
	memset(it, 0, sizeof(*it));
	it->off = (uint32_t)b->len;
	it->len = (uint32_t)norm_encode_row(b->data + b->len, t, r,
					    t->time_col >= 0 ? pp->month_lo : 0, few);
	b->len += it->len;
	it->bucket = -1;
	it->key = -1;
	it->period = period;
	if (t->id_cols > 0)
		it->bucket = id_bucket(pp, r, &it->key);
	return 0;
}

/*
 * The string columns whose shapes the validator notes (not the customers':
 * their keeper notes those), and which of them spill their few values as
 * indexes: not ids and customer ids, which passes 1 and 2 read from
 * payloads as bytes.
 */
static void plan_strings(struct pipe *pp)
{
	const struct tab_def *t = pp->t;
	size_t c;

	for (c = 0; c < t->n_cols && t->entity != ENT_CUSTOMERS; c++) {
		if (t->cols[c].kind != TK_STR)
			continue;
		pp->strs[pp->n_strs++] = (uint8_t)c;
		pp->coded[c] = (int)c >= t->id_cols && (int)c != pp->n->cust_col[t->entity];
	}
}

/*
 * Hand a filled batch of queue q over and wait for a free one; 0 with the
 * index of the batch to fill next, or 1 when told to stop.
 */
static int hand_over(struct pipe *pp, struct queue *q, size_t *next)
{
	int stop;

	pthread_mutex_lock(&pp->lock);
	q->filled++;
	pthread_cond_broadcast(&pp->cond);
	while (!q->stop && q->filled - q->taken >= PIPE_BATCHES)
		pthread_cond_wait(&pp->cond, &pp->lock);
	stop = q->stop;
	*next = (size_t)(q->filled % PIPE_BATCHES);
	pthread_mutex_unlock(&pp->lock);
	return stop;
}

/* The producer of q has finished: with the batch it was filling when it has records. */
static void finish(struct pipe *pp, struct queue *q, size_t pending, int *rc_out, int rc)
{
	pthread_mutex_lock(&pp->lock);
	if (pending)
		q->filled++;
	*rc_out = rc < 0 ? rc : 0;
	q->done = 1;
	pthread_cond_broadcast(&pp->cond);
	pthread_mutex_unlock(&pp->lock);
}

/* The index of the next filled batch of q, or -1 when its producer has finished. */
static long take(struct pipe *pp, struct queue *q)
{
	long i = -1;

	pthread_mutex_lock(&pp->lock);
	while (!q->done && q->filled == q->taken)
		pthread_cond_wait(&pp->cond, &pp->lock);
	if (q->filled > q->taken)
		i = (long)(q->taken % PIPE_BATCHES);
	pthread_mutex_unlock(&pp->lock);
	return i;
}

/* Give a batch of q back; `stop` tells its producer to stop. */
static void give_back(struct pipe *pp, struct queue *q, int stop)
{
	pthread_mutex_lock(&pp->lock);
	q->taken++;
	q->stop |= stop;
	pthread_cond_broadcast(&pp->cond);
	pthread_mutex_unlock(&pp->lock);
}

/* Tell the producer of q to stop without giving a batch back. */
static void stop_producer(struct pipe *pp, struct queue *q)
{
	pthread_mutex_lock(&pp->lock);
	q->stop = 1;
	pthread_cond_broadcast(&pp->cond);
	pthread_mutex_unlock(&pp->lock);
}

/* ------------------------------------------------------------ parser */

/*
 * Where a record's values lie: CSV values sit side by side in the
 * reader's buffer, so one copy of the span [*lo, *lo + *span) takes them
 * all (a call per value cost more than the bytes); XML values, or a span
 * with much between them, are copied one by one. Returns the bytes the
 * record will take in the raw batch.
 */
static size_t raw_need(const struct pipe *pp, const struct rec *rec, uintptr_t *lo, size_t *span)
{
	uintptr_t a = UINTPTR_MAX, z = 0;
	size_t i, sum = 0;

	*span = 0;
	if (rec->bad)
		return (rec->reason ? strlen(rec->reason) : 0) + 1;
	for (i = 0; i < pp->n_fields; i++) {
		uintptr_t v = (uintptr_t)rec->val[i];

		if (!rec->val[i])
			continue;
		a = v < a ? v : a;
		z = v + rec->len[i] + 1 > z ? v + rec->len[i] + 1 : z;
		sum += rec->len[i] + 1;
	}
	if (sum && z - a <= 2 * sum + 256) {
		*lo = a;
		*span = z - a;
		return *span;
	}
	return sum;
}

/* Room for `len` more bytes in a raw batch; -1 out of memory. */
static int raw_room(struct rawbatch *b, size_t len)
{
	return data_room(&b->data, &b->cap, b->len, len);
}

/* Copy a record into the raw batch, which has room for raw_need() bytes. */
static void raw_add(const struct pipe *pp, struct rawbatch *b, const struct rec *rec,
		    uintptr_t lo, size_t span)
{
	struct rawrec *it = &b->items[b->n_items++];
	size_t i, at = b->len;

	it->line = rec->line;
	it->bad = rec->bad != 0;
	it->reason_off = NO_VALUE;
	if (rec->bad) {
		size_t rlen = rec->reason ? strlen(rec->reason) : 0;

		if (rec->reason) {
			it->reason_off = (uint32_t)at;
			memcpy(b->data + at, rec->reason, rlen + 1);
		}
		b->len += rlen + 1;
		return;
	}
	if (span)
		memcpy(b->data + at, (const void *)lo, span);
	for (i = 0; i < pp->n_fields; i++) {
		it->off[i] = NO_VALUE;
		it->len[i] = (uint32_t)rec->len[i];
		if (!rec->val[i])
			continue;
		if (span) {
			it->off[i] = (uint32_t)(at + ((uintptr_t)rec->val[i] - lo));
			continue;
		}
		it->off[i] = (uint32_t)b->len;
		memcpy(b->data + b->len, rec->val[i], rec->len[i]);
		b->data[b->len + rec->len[i]] = '\0';
		b->len += rec->len[i] + 1;
	}
	if (span)
		b->len += span;
}

static void *parser_main(void *arg)
{
	struct pipe *pp = arg;
	struct rawbatch *b = &pp->raw[0];
	struct rec rec;
	size_t next;
	int rc;

	while ((rc = pp->next(pp->src, &rec, &pp->parse_err)) == 1) {
		uintptr_t lo = 0;
		size_t span, need = raw_need(pp, &rec, &lo, &span);

		if (full(b->n_items, b->len, need)) {
			if (hand_over(pp, &pp->rawq, &next)) {
				b = NULL;
				break;
			}
			b = &pp->raw[next];
			b->n_items = 0;
			b->len = 0;
		}
		if (raw_room(b, need)) {
			rc = norm_nomem(&pp->parse_err);
			break;
		}
		raw_add(pp, b, &rec, lo, span);
	}
	finish(pp, &pp->rawq, b ? b->n_items : 0, &pp->parse_rc, rc);
	return NULL;
}

/* ------------------------------------------------------------ validator */

/* A raw record as the readers gave it, its values in the raw batch. */
static void raw_rec(const struct pipe *pp, const struct rawbatch *b, const struct rawrec *it,
		    struct rec *rec)
{
	size_t i;

	rec->line = it->line;
	rec->bad = it->bad;
	rec->reason = it->reason_off == NO_VALUE ? NULL : (const char *)b->data + it->reason_off;
	for (i = 0; i < pp->n_fields && !it->bad; i++) {
		rec->val[i] = it->off[i] == NO_VALUE ? NULL : (const char *)b->data + it->off[i];
		rec->len[i] = it->len[i];
	}
}

/*
 * Validate and encode one record into the batch *bp, handing it over
 * first when full; 0, 1 when told to stop, or -1 out of memory.
 */
static int validate_one(struct pipe *pp, const struct rec *rec, struct batch **bp)
{
	struct batch *b = *bp;
	struct row row;
	struct bad bad;
	size_t next;

	if (full(b->n_items, b->len, rec->bad ? VALUE_MAX + 128 : 4096)) {
		if (hand_over(pp, &pp->itemq, &next)) {
			*bp = NULL;
			return 1;
		}
		b = *bp = &pp->b[next];
		b->n_items = 0;
		b->len = 0;
	}
	if (norm_validate(pp->n, pp->t, rec, &row, &bad) ? add_bad(b, rec->line, &bad)
							  : add_good(pp, b, &row))
		return -1;
	return 0;
}

/*
 * How many records ahead the customer a record refers to is prefetched:
 * enough for the misses to overlap, few enough to stay in cache.
 */
#define PREFETCH_AHEAD 8

static void prefetch_customer(const struct pipe *pp, const struct rawbatch *rb, size_t i,
			      int field)
{
	const struct rawrec *it = &rb->items[i];

	if (!it->bad && it->off[field] != NO_VALUE)
		norm_prefetch_customer(pp->n, (const char *)rb->data + it->off[field], it->len[field]);
}

/* Validate and encode one raw batch; 0, 1 when told to stop, or -1 out of memory. */
static int validate_batch(struct pipe *pp, const struct rawbatch *rb, struct batch **bp)
{
	int field = norm_customer_field(pp->n, pp->t), rc = 0;
	struct rec rec;
	size_t i;

	memset(&rec, 0, sizeof(rec));
	for (i = 0; field >= 0 && i < PREFETCH_AHEAD && i < rb->n_items; i++)
		prefetch_customer(pp, rb, i, field);
	for (i = 0; rc == 0 && i < rb->n_items; i++) {
		if (field >= 0 && i + PREFETCH_AHEAD < rb->n_items)
			prefetch_customer(pp, rb, i + PREFETCH_AHEAD, field);
		raw_rec(pp, rb, &rb->items[i], &rec);
		rc = validate_one(pp, &rec, bp);
	}
	return rc;
}

static void *validator_main(void *arg)
{
	struct pipe *pp = arg;
	struct batch *b = &pp->b[0];
	long i;
	int rc = 0;

	while (rc == 0 && (i = take(pp, &pp->rawq)) >= 0) {
		rc = validate_batch(pp, &pp->raw[i], &b);
		if (rc < 0)
			rc = norm_nomem(&pp->err);
		give_back(pp, &pp->rawq, rc != 0);
	}
	/* Stopped early: the parser may wait for a batch to fill. */
	if (rc)
		stop_producer(pp, &pp->rawq);
	finish(pp, &pp->itemq, b ? b->n_items : 0, &pp->rc, rc);
	return NULL;
}

/*
 * Parser and validator in one thread, for a single usable CPU: there the
 * split only adds the copy into raw batches and the hand-overs.
 */
static void *direct_main(void *arg)
{
	struct pipe *pp = arg;
	struct batch *b = &pp->b[0];
	struct rec rec;
	int rc, vrc = 0;

	while ((rc = pp->next(pp->src, &rec, &pp->parse_err)) == 1) {
		vrc = validate_one(pp, &rec, &b);
		if (vrc < 0)
			vrc = norm_nomem(&pp->err);
		if (vrc)
			break;
	}
	pp->parse_rc = rc < 0 ? rc : 0;
	finish(pp, &pp->itemq, b ? b->n_items : 0, &pp->rc, vrc);
	return NULL;
}

static void pipe_release(struct pipe *pp)
{
	size_t i;

	for (i = 0; i < PIPE_BATCHES; i++) {
		free(pp->b[i].data);
		free(pp->raw[i].data);
	}
	pthread_mutex_destroy(&pp->lock);
	pthread_cond_destroy(&pp->cond);
}

int norm_pipe_run(struct norm *n, const struct tab_def *t,
		  int (*next)(void *src, struct rec *rec, struct crm_err *e), void *src,
		  int (*keep)(void *ctx, const struct pitem *it, const unsigned char *data,
			      struct crm_err *e),
		  void *ctx, struct crm_err *e)
{
	struct pipe *pp = calloc(1, sizeof(*pp));
	pthread_t parser, validator;
	size_t i;
	long k;
	int rc = 0, split = cpus_usable() > 1;

	if (!pp)
		return norm_nomem(e);
	pp->n = n;
	pp->t = t;
	pp->n_fields = schema_entity(t->entity)->n_fields;
	pp->next = next;
	pp->src = src;
	pp->month_lo = 1;
	pp->month_hi = 0;
	plan_strings(pp);
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->cond, NULL);
	for (i = 0; i < PIPE_BATCHES; i++)
		if (batch_room(&pp->b[i], PIPE_DATA) || (split && raw_room(&pp->raw[i], PIPE_DATA)))
			rc = norm_nomem(e);
	if (rc == 0 && split && pthread_create(&parser, NULL, parser_main, pp) != 0)
		rc = err_set(e, CRM_E_INTERNAL, "cannot start the parser thread");
	if (rc == 0 && pthread_create(&validator, NULL, split ? validator_main : direct_main, pp) != 0) {
		rc = err_set(e, CRM_E_INTERNAL, "cannot start the validator thread");
		stop_producer(pp, &pp->rawq);
		if (split)
			pthread_join(parser, NULL);
	}
	if (rc) {
		pipe_release(pp);
		free(pp);
		return rc;
	}
	while ((k = take(pp, &pp->itemq)) >= 0) {
		struct batch *b = &pp->b[k];

		for (i = 0; rc == 0 && i < b->n_items; i++)
			rc = keep(ctx, &b->items[i], b->data, e);
		give_back(pp, &pp->itemq, rc != 0);
	}
	pthread_join(validator, NULL);
	if (split)
		pthread_join(parser, NULL);
	/* The first error in record order: a record kept, validated, then read. */
	if (rc == 0 && pp->rc) {
		*e = pp->err;
		rc = pp->rc;
	}
	if (rc == 0 && pp->parse_rc) {
		*e = pp->parse_err;
		rc = pp->parse_rc;
	}
	pipe_release(pp);
	free(pp);
	return rc;
}
