/*
 * norm_spill.c - normalize: spill files, the on-disk queues between passes.
 *
 * A spill record: u8 entity (its high bit set for a direct record, which
 * skipped the dedupe buckets: struct direct), varint period, varint file
 * (index in norm.files, for lineage), varint payload length, payload.
 * In a month's spill, which holds one table of one month, the entity and
 * period are the file's: a record there is a varint file * 2 + direct,
 * the payload length and the payload (4 bytes less a record: of ~31).
 * The payload is one byte with a bit per column (1: present), then the
 * present columns of the table in order (tables.c): a zigzag varint
 * (integers), or for strings a varint h: when h is even the h / 2 bytes
 * of the value follow, when odd the value is the column's few value
 * (struct strshape) of index h / 2, which takes a byte where "web_visit"
 * took ten (never for ids and customer ids, which passes 1 and 2 read
 * from payloads, nor for customers). A day derived
 * from a time (TK_DAYOF) is stored as days since the first of the
 * record's month, one byte. Id columns come first in every table and are
 * never absent, so the dedupe key of a record is its entity byte plus the
 * payload bytes after the presence byte up to the end of the ids. Spill
 * files live in the run's own directory and are unlinked when closed.
 */
#include "norm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "period.h"

#include "banned.h"

/* ------------------------------------------------------------ spill files */

#define DIRECT_FLAG 0x80         /* in the entity byte: struct srec.direct */

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

/* The most bytes a row's payload can take: encode it into that much room. */
size_t norm_row_most(const struct tab_def *t, const struct row *r)
{
	size_t c, most = 1 + t->n_cols * 10;

	for (c = 0; c < t->n_cols; c++)
		most += r->present[c] ? r->sl[c] : 0;
	return most;
}

/*
 * Encode a row at p, which has norm_row_most() bytes of room; returns the
 * bytes written. Written in place (this runs for every row): no buffer
 * between the row and the batch it goes to. `first_day` is the first day
 * of the row's month (for TK_DAYOF). `few`, unless NULL, gives for each
 * column the index of its value among the column's few values (struct
 * strshape), or -1: such a value is stored as that index.
 */
size_t norm_encode_row(unsigned char *p, const struct tab_def *t, const struct row *r,
		       int32_t first_day, const int8_t *few)
{
	unsigned char *start = p, mask = 0;
	size_t c;

	for (c = 0; c < t->n_cols; c++)
		mask |= (unsigned char)((r->present[c] != 0) << c);
	*p++ = mask;
	for (c = 0; c < t->n_cols; c++) {
		if (!r->present[c])
			continue;
		if (t->cols[c].kind == TK_DAYOF) {
			p = put_varint(p, buf_zigzag(r->iv[c] - first_day));
		} else if (tab_col_type(t->cols[c].kind) == CRMP_INT) {
			p = put_varint(p, buf_zigzag(r->iv[c]));
		} else if (few && few[c] >= 0) {
			p = put_varint(p, (uint64_t)few[c] << 1 | 1);
		} else {
			p = put_varint(p, (uint64_t)r->sl[c] << 1);
			norm_copy(p, (const unsigned char *)r->sv[c], r->sl[c]);
			p += r->sl[c];
		}
	}
	return (size_t)(p - start);
}

/*
 * The next present column's value from a payload: an integer (zigzagged)
 * in *v, or a string at *s of *v bytes: 0; or a string stored as the
 * index *v among its column's few values: 1. -1 on a damaged record.
 */
static int next_value(const unsigned char **p, const unsigned char *end, int is_str, uint64_t *v,
		      const char **s)
{
	uint64_t h;

	if (norm_varint(p, end, &h))
		return -1;
	*v = is_str ? h >> 1 : h;
	if (!is_str)
		return 0;
	if (h & 1)
		return 1;
	if (*v > (uint64_t)(end - *p))
		return -1;
	*s = (const char *)*p;
	*p += *v;
	return 0;
}

/*
 * Decode a payload into a row (strings point into the payload); -1 on a
 * damaged spill record (only a bug or a full disk can cause one). Only
 * for customers and orders, whose string columns (ids, customer ids) are
 * never stored as few values: one that is counts as damage.
 */
int norm_decode_row(const unsigned char *p, const unsigned char *end, const struct tab_def *t,
		    struct row *r, int32_t first_day)
{
	unsigned mask;
	size_t c;
	uint64_t v;

	if (p >= end)
		return -1;
	mask = *p++;
	for (c = 0; c < t->n_cols; c++) {
		int is_str = tab_col_type(t->cols[c].kind) != CRMP_INT;

		r->present[c] = (uint8_t)(mask >> c & 1);
		r->sv[c] = NULL;
		r->sl[c] = 0;
		r->iv[c] = 0;
		if (!r->present[c])
			continue;
		if (next_value(&p, end, is_str, &v, &r->sv[c]) != 0)
			return -1;
		if (is_str)
			r->sl[c] = (uint32_t)v;
		else
			r->iv[c] = buf_unzigzag(v) + (t->cols[c].kind == TK_DAYOF ? first_day : 0);
	}
	return p == end ? 0 : -1;
}

/*
 * String column `col` of a payload, the columns before it skipped, not
 * decoded: 0 with *s (NULL when absent) and *len, or -1 when damaged (or
 * stored as one of few values: ids and customer ids never are).
 */
int norm_payload_str(const unsigned char *p, const unsigned char *end, const struct tab_def *t,
		     size_t col, const char **s, uint32_t *len)
{
	unsigned mask;
	size_t c;
	uint64_t v;

	if (p >= end)
		return -1;
	mask = *p++;
	for (c = 0; c <= col && c < t->n_cols; c++) {
		int is_str = tab_col_type(t->cols[c].kind) != CRMP_INT, got;

		*s = NULL;
		*len = 0;
		if (!(mask >> c & 1))
			continue;
		if ((got = next_value(&p, end, is_str, &v, s)) < 0 || (got > 0 && c == col))
			return -1;
		if (is_str && got == 0)
			*len = (uint32_t)v;
	}
	return c == col + 1 && tab_col_type(t->cols[col].kind) == CRMP_STR ? 0 : -1;
}

int norm_spill_open(struct spill *s, const char *dir, const char *name, size_t bufsize,
		    struct crm_err *e)
{
	s->fd = -1;
	s->iolen = 0;
	s->month = 0;            /* full heads unless norm_month_spill says otherwise */
	s->path = norm_join(dir, name);
	if (!s->path)
		return norm_nomem(e);
	s->iobuf = malloc(bufsize);
	if (!s->iobuf)
		return norm_nomem(e);
	s->iocap = bufsize;
	s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot create spill file");
	return 0;
}

void norm_spill_close(struct spill *s)
{
	if (s->path && s->fd >= 0)
		close(s->fd);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s->iobuf);
	s->fd = -1;
	s->path = NULL;
	s->iobuf = NULL;
	s->iocap = s->iolen = 0;
	s->records = s->bytes = 0;
}

static int write_all(struct spill *s, const unsigned char *p, size_t n, struct crm_err *e)
{
	while (n > 0) {
		ssize_t w = write(s->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_sys(e, CRM_E_IO, w < 0 ? errno : ENOSPC, s->path,
				       "cannot write spill file");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write out what the buffer holds. */
static int spill_flush(struct spill *s, struct crm_err *e)
{
	int rc = s->iolen ? write_all(s, s->iobuf, s->iolen, e) : 0;

	s->iolen = 0;
	return rc;
}

/* No more records will come: write out the buffer and free it (pass 3 only reads). */
int norm_spill_seal(struct spill *s, struct crm_err *e)
{
	int rc = s->path ? spill_flush(s, e) : 0;

	free(s->iobuf);
	s->iobuf = NULL;
	s->iocap = 0;
	return rc;
}

/* A record's head (entity, period, file, length) at p; returns the byte after it. */
static unsigned char *put_head(const struct spill *s, unsigned char *p, const struct srec *r)
{
	if (s->month) {
		p = put_varint(p, (uint64_t)r->file << 1 | (r->direct != 0));
		return put_varint(p, r->len);
	}
	*p++ = (unsigned char)(r->entity | (r->direct ? DIRECT_FLAG : 0));
	p = put_varint(p, (uint64_t)r->period);
	p = put_varint(p, r->file);
	return put_varint(p, r->len);
}

int norm_spill_put(struct spill *s, const struct srec *r, struct crm_err *e)
{
	unsigned char head[32];
	size_t h;

	/* 31 bytes cover any head: the common case builds it in place. */
	if (s->iocap - s->iolen < 31 + r->len && spill_flush(s, e))
		return e->code;
	if (31 + r->len > s->iocap) { /* bigger than the buffer: straight out */
		h = (size_t)(put_head(s, head, r) - head);
		if (write_all(s, head, h, e) || write_all(s, r->payload, r->len, e))
			return e->code;
	} else {
		unsigned char *p = put_head(s, s->iobuf + s->iolen, r);

		norm_copy(p, r->payload, r->len);
		h = (size_t)(p - (s->iobuf + s->iolen));
		s->iolen += h + r->len;
	}
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
	if (!s->path) {
		char text[PERIOD_TEXT_MAX];

		snprintf(name, sizeof(name), "month-%s-%d", period_format(period, text), entity);
		if (norm_spill_open(s, n->tmp_dir, name, MONTH_IOBUF, e))
			return NULL;
		s->month = 1;
		s->entity = entity;
		s->period = period;
	}
	if (n->first < 0 || period < n->first)
		n->first = period;
	if (period > n->last)
		n->last = period;
	return s;
}

/* ------------------------------------------------------------ column shapes */

static unsigned few_guess(const char *s, uint32_t len);

/*
 * Note one value of a string column (see struct strshape). Returns the
 * value's index among the column's few values, or -1 (none, or more
 * values than FEW_VALUES came before it). An index, once given, stays
 * that value's.
 */
int norm_shape_note(struct strshape *h, const char *s, uint32_t len)
{
	size_t k;
	int64_t num;
	int few;

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
	if (h->n_few > FEW_VALUES)
		return -1;
	if ((few = norm_shape_few_index(h, s, len)) >= 0)
		return few;
	if (h->n_few == FEW_VALUES || !(h->few[h->n_few] = malloc(len ? len : 1))) {
		h->n_few = FEW_VALUES + 1; /* too many (or no memory): rows keep their own bytes */
		return -1;
	}
	memcpy(h->few[h->n_few], s, len);
	k = h->n_few++;
	h->few_len[k] = len;
	if (!h->guess[few_guess(s, len)])
		h->guess[few_guess(s, len)] = (uint8_t)(k + 1);
	return (int)k;
}

/* Where a value's index is guessed: its length, first and last bytes. */
static unsigned few_guess(const char *s, uint32_t len)
{
	unsigned char a = len ? (unsigned char)s[0] : 0, z = len ? (unsigned char)s[len - 1] : 0;

	return (len * 7u + a * 31u + z) % FEW_GUESS;
}

/*
 * Whether few value k is s[0..len): inline (norm_same), not by a call,
 * since kinds and channels are short words compared on every row.
 */
static int few_is(const struct strshape *h, size_t k, const char *s, uint32_t len)
{
	return h->few_len[k] == len && norm_same(h->few[k], s, len);
}

/*
 * The index of `s` among the few values, or -1 (norm_shape_few: its
 * owned copy, or NULL). Every value of a few-valued column of every row
 * passes here (pass 1 and pass 3): the guessed index is right for nearly
 * all (kinds and channels differ in length or first or last byte), the
 * others are searched in order.
 */
int norm_shape_few_index(const struct strshape *h, const char *s, uint32_t len)
{
	unsigned g = h->guess[few_guess(s, len)];
	size_t k;

	if (g && g - 1 < h->n_few && few_is(h, g - 1, s, len))
		return (int)g - 1;
	for (k = 0; k < h->n_few && k < FEW_VALUES; k++)
		if (few_is(h, k, s, len))
			return (int)k;
	return -1;
}

const char *norm_shape_few(const struct strshape *h, const char *s, uint32_t len)
{
	int k = norm_shape_few_index(h, s, len);

	return k < 0 ? NULL : h->few[k];
}

void norm_shape_release(struct strshape *h)
{
	size_t k;

	for (k = 0; k < h->n_few && k < FEW_VALUES; k++)
		free(h->few[k]);
	memset(h, 0, sizeof(*h));
}

int norm_next_srec(const unsigned char **p, const unsigned char *end, struct srec *r)
{
	uint64_t period, file, len;

	if (*p >= end)
		return 0;
	r->entity = **p & ~DIRECT_FLAG;
	r->direct = **p >> 7;
	(*p)++;
	if (r->entity >= ENT_COUNT || norm_varint(p, end, &period) ||
	    norm_varint(p, end, &file) || file > NORM_MAX_FILES ||
	    norm_varint(p, end, &len) || len > (uint64_t)(end - *p))
		return -1;
	r->period = (int)period;
	r->file = (uint32_t)file;
	r->payload = *p;
	r->len = (size_t)len;
	*p += len;
	return 1;
}

/* The next record of a month's spill (short heads: see the top); as norm_next_srec. */
static int next_month_srec(const struct spill *s, const unsigned char **p,
			   const unsigned char *end, struct srec *r)
{
	uint64_t file, len;

	if (*p >= end)
		return 0;
	if (norm_varint(p, end, &file) || file / 2 > NORM_MAX_FILES ||
	    norm_varint(p, end, &len) || len > (uint64_t)(end - *p))
		return -1;
	r->entity = s->entity;
	r->period = s->period;
	r->file = (uint32_t)(file / 2);
	r->direct = (int)(file & 1);
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
	size_t cap = (size_t)1 << 20, have = 0;
	unsigned char *buf = malloc(cap), *grown;
	uint64_t off = 0;
	int rc = 0, eof = 0;

	if (!buf)
		return norm_nomem(e);
	rc = spill_flush(s, e);
	while (rc == 0 && !eof) {
		const unsigned char *p = buf, *end;
		struct srec r;
		ssize_t got = pread(s->fd, buf + have, cap - have, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = err_sys(e, CRM_E_IO, errno, s->path, "cannot read spill file");
			break;
		}
		eof = got == 0;
		off += (uint64_t)got;
		have += (size_t)got;
		end = buf + have;
		for (;;) { /* a record cut short leaves p where it starts */
			const unsigned char *q = p;

			if (rc || (s->month ? next_month_srec(s, &q, end, &r)
					    : norm_next_srec(&q, end, &r)) != 1)
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

/*
 * Read a whole spill file back (it was written by this run) into *data,
 * a buffer of *cap bytes that is grown as needed and kept by the caller
 * for the next file: pass 2 reads 32 buckets of similar size, and fresh
 * memory for each would be faulted in and zeroed each time.
 */
int norm_spill_load(struct spill *s, unsigned char **data, size_t *cap, size_t *len,
		    struct crm_err *e)
{
	size_t got = 0;

	*len = 0;
	if (!s->path)
		return 0;
	if (spill_flush(s, e))
		return e->code;
	if (s->bytes > SPILL_MAX)
		return err_at(e, CRM_E_INTERNAL, s->path, 0, NULL, "spill file larger than %zu bytes",
			      SPILL_MAX);
	if (s->bytes > *cap || !*data) {
		size_t want = s->bytes ? (size_t)s->bytes : 1;

		free(*data);
		*cap = 0;
		if (!(*data = malloc(want)))
			return norm_nomem(e);
		*cap = want;
		norm_huge(*data, want);
	}
	while (got < s->bytes) {
		ssize_t n = pread(s->fd, *data + got, (size_t)s->bytes - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? err_sys(e, CRM_E_IO, errno, s->path, "cannot read spill file")
				     : norm_damaged_spill(s, e);
		got += (size_t)n;
	}
	*len = got;
	return 0;
}

int norm_damaged_spill(const struct spill *s, struct crm_err *e)
{
	return err_at(e, CRM_E_INTERNAL, s->path, 0, NULL, "spill file is damaged");
}
