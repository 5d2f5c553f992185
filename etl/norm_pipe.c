/*
 * norm_pipe.c - normalize, pass 1 on two threads: a reader thread parses
 * and validates the records of one export file and encodes the good ones
 * as spill payloads, in batches; the calling thread takes the batches in
 * order and keeps each record (quarantine, customers map, spill files).
 *
 * Why this split is safe: the reader touches only what no keeper of the
 * same file changes. Validating customers and orders reads no customer
 * (check_row), and only their keepers change the customers map; the other
 * entities read it, and their keepers do not change it. The reader notes
 * the shapes of the non-customer entity it reads; keepers note only the
 * customers' shapes. One file at a time, the reader joined at its end, so
 * a file sees every effect of the files before it, as in a serial run.
 * Records are kept in file order whatever the thread timing: the output
 * is the same bytes as a serial run's.
 *
 * Memory: PIPE_BATCHES batches of at most PIPE_DATA bytes and PIPE_ITEMS
 * records, whatever the file size.
 */
#include "norm_int.h"

#include <stdlib.h>
#include <string.h>

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

struct pipe {
	struct norm *n;
	const struct tab_def *t;
	int (*next)(void *src, struct rec *rec, struct crm_err *e);
	void *src;

	struct batch b[PIPE_BATCHES];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t filled, taken;        /* batches handed over / given back, under lock */
	int done;                      /* the reader has finished (rc says how), under lock */
	int stop;                      /* the keeper failed: the reader stops, under lock */
	int rc;                        /* the reader's result */
	struct crm_err err;            /* the reader's error */

	/* Reader-side state. */
	int32_t month_lo, month_hi;    /* days [lo, hi) of month_of, the last month placed */
	int month_of;
};

/* Room for `len` more bytes in the batch; -1 out of memory. */
static int batch_room(struct batch *b, size_t len)
{
	unsigned char *d;
	size_t cap;

	if (b->cap - b->len >= len)
		return 0;
	cap = b->len + len > PIPE_DATA ? b->len + len : PIPE_DATA;
	if (!(d = realloc(b->data, cap)))
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Whether the batch should be handed over before a record of `len` bytes. */
static int batch_full(const struct batch *b, size_t len)
{
	return b->n_items == PIPE_ITEMS || (b->n_items > 0 && b->len + len > PIPE_DATA);
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

/* A valid record into the batch: noted, encoded, its spill file chosen. */
static int add_good(struct pipe *pp, struct batch *b, const struct row *r)
{
	const struct tab_def *t = pp->t;
	struct pitem *it;
	size_t c;
	int period;

	if (t->entity != ENT_CUSTOMERS)
		for (c = 0; c < t->n_cols; c++)
			if (r->present[c] && t->cols[c].kind == TK_STR)
				norm_shape_note(&pp->n->shape[t->entity][c], r->sv[c], r->sl[c]);
	period = t->time_col >= 0 ? pipe_period(pp, (int32_t)r->iv[t->time_col]) : 0;
	if (batch_room(b, norm_row_most(t, r)))
		return -1;
	it = &b->items[b->n_items++];
	memset(it, 0, sizeof(*it));
	it->off = (uint32_t)b->len;
	it->len = (uint32_t)norm_encode_row(b->data + b->len, t, r,
					    t->time_col >= 0 ? pp->month_lo : 0);
	b->len += it->len;
	it->bucket = -1;
	it->period = period;
	if (t->id_cols > 0)
		it->bucket = (int)(hmap_hash(r->sv[0], r->sl[0]) % N_BUCKETS);
	return 0;
}

/* Hand a filled batch over and wait for a free one; 0, or 1 when told to stop. */
static int hand_over(struct pipe *pp)
{
	int stop;

	pthread_mutex_lock(&pp->lock);
	pp->filled++;
	pthread_cond_broadcast(&pp->cond);
	while (!pp->stop && pp->filled - pp->taken >= PIPE_BATCHES)
		pthread_cond_wait(&pp->cond, &pp->lock);
	stop = pp->stop;
	pthread_mutex_unlock(&pp->lock);
	return stop;
}

static void *reader_main(void *arg)
{
	struct pipe *pp = arg;
	struct batch *b = &pp->b[0];
	struct rec rec;
	struct row row;
	struct bad bad;
	int rc;

	while ((rc = pp->next(pp->src, &rec, &pp->err)) == 1) {
		size_t need = rec.bad ? VALUE_MAX + 128 : 4096;

		if (batch_full(b, need)) {
			if (hand_over(pp)) {
				b = NULL;
				break;
			}
			b = &pp->b[pp->filled % PIPE_BATCHES];
			b->n_items = 0;
			b->len = 0;
		}
		if (norm_validate(pp->n, pp->t, &rec, &row, &bad))
			rc = add_bad(b, rec.line, &bad);
		else
			rc = add_good(pp, b, &row);
		if (rc) {
			rc = norm_nomem(&pp->err);
			break;
		}
	}
	pthread_mutex_lock(&pp->lock);
	if (b && b->n_items)
		pp->filled++;
	pp->rc = rc < 0 ? rc : 0;
	pp->done = 1;
	pthread_cond_broadcast(&pp->cond);
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* The next filled batch, or NULL when the reader has finished. */
static struct batch *take(struct pipe *pp)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&pp->lock);
	while (!pp->done && pp->filled == pp->taken)
		pthread_cond_wait(&pp->cond, &pp->lock);
	if (pp->filled > pp->taken)
		b = &pp->b[pp->taken % PIPE_BATCHES];
	pthread_mutex_unlock(&pp->lock);
	return b;
}

static void give_back(struct pipe *pp, int stop)
{
	pthread_mutex_lock(&pp->lock);
	pp->taken++;
	pp->stop |= stop;
	pthread_cond_broadcast(&pp->cond);
	pthread_mutex_unlock(&pp->lock);
}

static void pipe_release(struct pipe *pp)
{
	size_t i;

	for (i = 0; i < PIPE_BATCHES; i++)
		free(pp->b[i].data);
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
	struct batch *b;
	pthread_t th;
	size_t i;
	int rc = 0;

	if (!pp)
		return norm_nomem(e);
	pp->n = n;
	pp->t = t;
	pp->next = next;
	pp->src = src;
	pp->month_lo = 1;
	pp->month_hi = 0;
	pthread_mutex_init(&pp->lock, NULL);
	pthread_cond_init(&pp->cond, NULL);
	for (i = 0; i < PIPE_BATCHES; i++)
		if (batch_room(&pp->b[i], PIPE_DATA))
			rc = norm_nomem(e);
	if (rc == 0 && pthread_create(&th, NULL, reader_main, pp) != 0)
		rc = err_set(e, CRM_E_INTERNAL, "cannot start the reader thread");
	if (rc) {
		pipe_release(pp);
		free(pp);
		return rc;
	}
	while ((b = take(pp)) != NULL) {
		for (i = 0; rc == 0 && i < b->n_items; i++)
			rc = keep(ctx, &b->items[i], b->data, e);
		give_back(pp, rc != 0);
	}
	pthread_join(th, NULL);
	if (rc == 0 && pp->rc) {
		*e = pp->err;
		rc = pp->rc;
	}
	pipe_release(pp);
	free(pp);
	return rc;
}
