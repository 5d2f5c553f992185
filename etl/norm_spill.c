/*
 * norm_spill.c - normalize: spill files, the on-disk queues between passes.
 *
 * A spill record: u8 entity, varint period, varint file (index in
 * norm.files, for lineage), varint payload length, payload.
 * The payload is the table's columns in order (tables.c), each a presence
 * byte then a zigzag varint (integers) or a varint length and the bytes
 * (strings). Id columns come first in every table, so the dedupe key of a
 * record is its entity byte plus a prefix of its payload. Spill files live
 * in the run's own directory and are unlinked when closed.
 */
#include "norm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsx.h"
#include "period.h"

#include "banned.h"

/* ------------------------------------------------------------ spill files */

static void encode_row(struct buf *b, const struct tab_def *t, const struct row *r)
{
	size_t c;

	for (c = 0; c < t->n_cols; c++) {
		buf_put_u8(b, r->present[c]);
		if (!r->present[c])
			continue;
		if (tab_col_type(t->cols[c].kind) == CRMP_INT) {
			buf_put_varint(b, buf_zigzag(r->iv[c]));
		} else {
			buf_put_varint(b, r->sl[c]);
			buf_append(b, r->sv[c], r->sl[c]);
		}
	}
}

/*
 * Decode a payload into a row (strings point into the payload). Returns the
 * bytes used by the first `stop` columns in *prefix (the dedupe key), or -1
 * on a damaged spill record (only a bug or a full disk can cause one).
 */
int norm_decode_row(const unsigned char *p, const unsigned char *end, const struct tab_def *t,
		      struct row *r, size_t stop, size_t *prefix)
{
	const unsigned char *start = p;
	size_t c;
	uint64_t v;

	for (c = 0; c < t->n_cols; c++) {
		if (c == stop && prefix)
			*prefix = (size_t)(p - start);
		if (p >= end)
			return -1;
		r->present[c] = *p++;
		r->sv[c] = NULL;
		r->sl[c] = 0;
		r->iv[c] = 0;
		if (!r->present[c])
			continue;
		if (buf_get_varint(&p, end, &v))
			return -1;
		if (tab_col_type(t->cols[c].kind) == CRMP_INT) {
			r->iv[c] = buf_unzigzag(v);
		} else {
			if (v > (uint64_t)(end - p))
				return -1;
			r->sv[c] = (const char *)p;
			r->sl[c] = (uint32_t)v;
			p += v;
		}
	}
	if (c == stop && prefix)
		*prefix = (size_t)(p - start);
	return p == end ? 0 : -1;
}

/*
 * `bufsize` bytes of stdio buffer, owned by the spill: glibc ignores the
 * size given to setvbuf without a buffer and writes 4 KiB at a time.
 */
int norm_spill_open(struct spill *s, const char *dir, const char *name, size_t bufsize,
		    struct crm_err *e)
{
	s->path = norm_join(dir, name);
	if (!s->path)
		return norm_nomem(e);
	s->iobuf = malloc(bufsize);
	if (!s->iobuf)
		return norm_nomem(e);
	s->f = fopen(s->path, "w+");
	if (!s->f)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot create spill file");
	setvbuf(s->f, s->iobuf, _IOFBF, bufsize);
	return 0;
}

void norm_spill_close(struct spill *s)
{
	if (s->f)
		fclose(s->f);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s->iobuf);
	s->f = NULL;
	s->path = NULL;
	s->iobuf = NULL;
	s->records = s->bytes = 0;
}

int norm_spill_put(struct spill *s, const struct srec *r, struct crm_err *e)
{
	unsigned char head[32];
	size_t h = 0;
	uint64_t vals[3] = { (uint64_t)r->period, r->file, r->len }, v;
	int i;

	head[h++] = (unsigned char)r->entity;
	for (i = 0; i < 3; i++)
		for (v = vals[i];; v >>= 7) {
			head[h++] = (unsigned char)(v < 0x80 ? v : (v & 0x7f) | 0x80);
			if (v < 0x80)
				break;
		}
	if (fwrite(head, 1, h, s->f) != h || fwrite(r->payload, 1, r->len, s->f) != r->len)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot write spill file");
	s->records++;
	s->bytes += h + r->len;
	return 0;
}

/*
 * The spill file of one table of a month, opened on first use. One file
 * per table, not per month: pass 3 then holds one table at a time.
 */
struct spill *norm_month_spill(struct norm *n, int period, int entity, struct crm_err *e)
{
	char name[48];
	struct spill *s;

	if (n->n_months == 0 || period < n->month_base || period >= n->month_base + n->n_months) {
		int lo = n->n_months ? (period < n->month_base ? period : n->month_base) : period;
		int hi = n->n_months ? (period >= n->month_base + n->n_months ? period
					 : n->month_base + n->n_months - 1) : period;
		struct spill *m = calloc((size_t)(hi - lo + 1) * ENT_COUNT, sizeof(*m));

		if (!m) {
			norm_nomem(e);
			return NULL;
		}
		if (n->n_months)
			memcpy(m + (size_t)(n->month_base - lo) * ENT_COUNT, n->months,
			       (size_t)n->n_months * ENT_COUNT * sizeof(*m));
		free(n->months);
		n->months = m;
		n->month_base = lo;
		n->n_months = hi - lo + 1;
	}
	s = &n->months[(size_t)(period - n->month_base) * ENT_COUNT + (size_t)entity];
	if (!s->f) {
		char text[PERIOD_TEXT_MAX];

		snprintf(name, sizeof(name), "month-%s-%d", period_format(period, text), entity);
		if (norm_spill_open(s, n->tmp_dir, name, MONTH_IOBUF, e))
			return NULL;
	}
	if (n->first < 0 || period < n->first)
		n->first = period;
	if (period > n->last)
		n->last = period;
	return s;
}

/* ------------------------------------------------------------ column shapes */

/* Note one value of a string column (see struct strshape). */
void norm_shape_note(struct strshape *h, const char *s, uint32_t len)
{
	size_t k;
	int64_t num;

	if (h->numbered == 0) {
		uint32_t d = 0;

		while (d < len && s[len - 1 - d] >= '0' && s[len - 1 - d] <= '9')
			d++;
		h->numbered = -1;
		if (d >= 1 && d <= 18 && len - d < sizeof(h->prefix)) {
			memcpy(h->prefix, s, len - d);
			h->plen = len - d;
			h->width = d;
			h->numbered = 1;
		}
	} else if (h->numbered > 0 && norm_shape_number(h, s, len, &num)) {
		h->numbered = -1;
	}
	if (h->n_few > FEW_VALUES || norm_shape_few(h, s, len))
		return;
	if (h->n_few == FEW_VALUES || !(h->few[h->n_few] = malloc(len ? len : 1))) {
		h->n_few = FEW_VALUES + 1; /* too many (or no memory): rows keep their own bytes */
		return;
	}
	memcpy(h->few[h->n_few], s, len);
	k = h->n_few++;
	h->few_len[k] = len;
}

/* Its number when `s` has the numbered shape: 0, or -1. */
int norm_shape_number(const struct strshape *h, const char *s, uint32_t len, int64_t *num)
{
	uint32_t k;
	int64_t v = 0;

	if (len != h->plen + h->width || memcmp(s, h->prefix, h->plen) != 0)
		return -1;
	for (k = h->plen; k < len; k++) {
		unsigned digit = (unsigned char)s[k] - '0';

		if (digit > 9)
			return -1;
		v = v * 10 + digit;
	}
	*num = v;
	return 0;
}

/* The owned copy of `s` among the few values, or NULL. */
const char *norm_shape_few(const struct strshape *h, const char *s, uint32_t len)
{
	size_t k;

	for (k = 0; k < h->n_few && k < FEW_VALUES; k++)
		if (h->few_len[k] == len && memcmp(h->few[k], s, len) == 0)
			return h->few[k];
	return NULL;
}

void norm_shape_release(struct strshape *h)
{
	size_t k;

	for (k = 0; k < h->n_few && k < FEW_VALUES; k++)
		free(h->few[k]);
	memset(h, 0, sizeof(*h));
}

/* Place a valid non-customer row: into a dedupe bucket, or its month. */
int norm_keep_row(struct norm *n, const struct tab_def *t, const struct row *r,
		    struct crm_err *e)
{
	int period = norm_period_of_day((int32_t)r->iv[t->time_col]);
	struct spill *s;
	size_t c;

	for (c = 0; c < t->n_cols; c++)
		if (r->present[c] && tab_col_type(t->cols[c].kind) == CRMP_STR)
			norm_shape_note(&n->shape[t->entity][c], r->sv[c], r->sl[c]);
	n->rec.len = 0;
	encode_row(&n->rec, t, r);
	if (n->rec.failed)
		return norm_nomem(e);
	if (t->id_cols > 0) {
		uint64_t h = hmap_hash(r->sv[0], r->sl[0]);

		s = &n->buckets[h % N_BUCKETS];
	} else if (!(s = norm_month_spill(n, period, (int)t->entity, e))) {
		return e->code;
	}
	return norm_spill_put(s, &(struct srec){ (int)t->entity, period, n->cur_file, n->rec.data,
						  n->rec.len }, e);
}



int norm_next_srec(const unsigned char **p, const unsigned char *end, struct srec *r)
{
	uint64_t period, file, len;

	if (*p >= end)
		return 0;
	r->entity = *(*p)++;
	if (r->entity >= ENT_COUNT || buf_get_varint(p, end, &period) ||
	    buf_get_varint(p, end, &file) || file > NORM_MAX_FILES ||
	    buf_get_varint(p, end, &len) || len > (uint64_t)(end - *p))
		return -1;
	r->period = (int)period;
	r->file = (uint32_t)file;
	r->payload = *p;
	r->len = (size_t)len;
	*p += len;
	return 1;
}

/*
 * Call fn for every record of a spill file, in order, reading it a block
 * at a time: only the block is in memory (records point into it, valid
 * during the call). A record cut by the block end is moved to the front
 * and completed by the next read.
 */
int norm_spill_each(struct spill *s, int (*fn)(void *ctx, const struct srec *r), void *ctx,
		    struct crm_err *e)
{
	size_t cap = (size_t)1 << 20, have = 0, got;
	unsigned char *buf = malloc(cap), *grown;
	int rc = 0, eof = 0;

	if (!buf)
		return norm_nomem(e);
	if (fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0)
		rc = err_sys(e, CRM_E_IO, errno, s->path, "cannot read spill file");
	while (rc == 0 && !eof) {
		const unsigned char *p = buf, *end;
		struct srec r;

		got = fread(buf + have, 1, cap - have, s->f);
		if (got == 0 && ferror(s->f))
			rc = err_sys(e, CRM_E_IO, errno, s->path, "cannot read spill file");
		eof = got == 0;
		have += got;
		end = buf + have;
		for (;;) { /* a record cut short leaves p where it starts */
			const unsigned char *q = p;

			if (rc || norm_next_srec(&q, end, &r) != 1)
				break;
			p = q;
			rc = fn(ctx, &r);
		}
		/* What is left is a record cut by the block end (or damage, seen at the end). */
		have = (size_t)(end - p);
		memmove(buf, p, have);
		if (rc == 0 && eof && have)
			rc = norm_damaged_spill(s, e);
		if (rc == 0 && have == cap) { /* a record longer than the block */
			if (cap * 2 > SPILL_MAX || !(grown = realloc(buf, cap * 2)))
				rc = norm_damaged_spill(s, e);
			else {
				buf = grown;
				cap *= 2;
			}
		}
	}
	free(buf);
	return rc;
}

/* Read a whole spill file back (it was written by this run). */
int norm_spill_load(struct spill *s, unsigned char **data, size_t *len, struct crm_err *e)
{
	*data = NULL;
	*len = 0;
	if (!s->f)
		return 0;
	if (fflush(s->f) != 0)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot write spill file");
	return fsx_read_file(s->path, SPILL_MAX, data, len, e);
}

int norm_damaged_spill(const struct spill *s, struct crm_err *e)
{
	return err_at(e, CRM_E_INTERNAL, s->path, 0, NULL, "spill file is damaged");
}
