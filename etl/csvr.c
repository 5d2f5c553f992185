/*
 * csvr.c - streaming RFC 4180 CSV reader (see csvr.h for the rules).
 *
 * Owns one byte buffer and one array of field boundaries; borrows the input
 * stream. Does not convert values, map canonical fields or log: it splits.
 *
 * Design, for speed (the normalizer budget leaves the reader a few ns/byte):
 * - Bytes arrive in blocks through ins_read into buf[]. A record is parsed
 *   where it lies. Unquoted values are never copied: the NUL is written over
 *   the delimiter or line end that follows them; quoted values with doubled
 *   quotes are unescaped in place (it only shrinks).
 * - Parsing a record is two steps. scan() reads without writing: it finds
 *   every field's boundaries (offsets from the record start) and the record
 *   end, or reports that the buffer ended first. Only then are the wanted
 *   columns finalized (unescaped, NUL-terminated). Because scan() never
 *   writes, a record cut by the end of the buffer is simply moved to the
 *   buffer start, more bytes are read, and the record is scanned again from
 *   its start: no resumable state machine, and the rescan costs at most one
 *   record per block.
 * - Unquoted fields are scanned 64 bytes at a time: one bit mask of the
 *   special bytes (delimiter, quote, LF) per 64-byte window, SSE2 where the
 *   compiler has it, then count-trailing-zeros per field. Typical exports
 *   have ~10-byte fields, so a byte loop would pay a mispredicted exit per
 *   field; this pays ~1 mask per record. buf[len] always holds an LF
 *   sentinel, so the search needs no bounds check. Quoted fields use memchr.
 * - Over-long records are detected from the record start (not from where a
 *   block happened to end), so results do not depend on the block size.
 */
#include "csvr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * The scanner looks for special bytes (delimiter, quote, LF) 64 at a time:
 * a 64-bit mask per 64-byte window aligned on the buffer start, found with
 * SSE2 compares where available. CR is not special: an LF looks back for it.
 * The buffer carries WIN_PAD bytes past its sentinel so a window never reads
 * outside the allocation.
 */
#define WIN 64
#define WIN_PAD (WIN + 1)
#define WIN_NONE ((size_t)-1)

/* clear_values sizes both arrays of a struct rec with one number. */
_Static_assert(sizeof(((struct rec *)0)->val) == sizeof(((struct rec *)0)->len),
	       "rec->val and rec->len differ in size");

/* Field boundaries of the record being read, relative to its first byte. */
struct csvr_fld {
	uint32_t off;   /* first byte of the value (after an opening quote) */
	uint32_t len;   /* raw bytes, doubled quotes not yet collapsed */
	uint32_t flags; /* FLD_* */
};

enum {
	FLD_PLAIN = 0,  /* unquoted, or quoted without "" inside */
	FLD_ESC = 1     /* quoted with "" inside: unescape before use */
};

enum scan_rc { SCAN_DONE, SCAN_MORE, SCAN_NOMEM };

enum bad_kind {
	BAD_NONE,
	BAD_QUOTE,      /* quote inside unquoted field */
	BAD_AFTER,      /* text after closing quote */
	BAD_FIELD,      /* field longer than max_field */
	BAD_UNTERM,     /* unterminated quoted field */
	BAD_WIDTH,      /* wrong number of fields */
	BAD_RECORD      /* record longer than max_record */
};

/* read_record() results besides 0 (end) and < 0 (error). */
enum { REC_READ = 1, REC_OVERLONG = 2 };

struct csvr {
	struct ins *in;              /* borrowed */
	unsigned char *buf;          /* owned, cap + WIN_PAD bytes */
	size_t cap;                  /* bytes buf can hold before the sentinel */
	size_t cap_max;              /* ceiling of cap: max_record + block + 2 */
	size_t len;                  /* bytes held; buf[len] == '\n' sentinel */
	size_t pos;                  /* offset of the next unread record */
	int eof;                     /* ins_read returned 0 */
	int failed;                  /* sticky CRM_E_* of a read error, or 0 */
	long line;                   /* physical line of buf[pos], 1-based */
	uint64_t records;            /* records returned (good + bad) */

	size_t block, max_field, max_record;
	size_t rec_bytes;            /* sizeof rec->val and of rec->len, see clear_values */
	unsigned char delim;
	size_t woff;                 /* offset of the cached window, or WIN_NONE */
	uint64_t wmask;              /* special bytes of that window */

	struct csvr_fld *flds;       /* owned, fcap entries */
	size_t fcap;
	size_t nstore;               /* boundaries kept for fields < nstore */
	int grow_fields;             /* header: grow flds instead of dropping */
	size_t ncols;                /* header width */

	size_t n;                    /* wanted names */
	int col[REC_MAX_FIELDS];     /* column of names[i], or -1 */
	size_t ucol[REC_MAX_FIELDS]; /* distinct wanted columns ... */
	size_t ufirst[REC_MAX_FIELDS]; /* ... and the first i asking for each */
	size_t nu;
	size_t dup_to[REC_MAX_FIELDS]; /* names[dup_to[k]] repeats the column */
	size_t dup_from[REC_MAX_FIELDS]; /* of names[dup_from[k]] */
	size_t ndup;

	/* Result of the last scan(). */
	size_t s_reclen;             /* bytes before the line end */
	size_t s_next;               /* offset of the next record in buf */
	size_t s_nf;                 /* fields seen */
	size_t s_nl;                 /* LF bytes consumed, line end included */
	int s_bad;                   /* enum bad_kind */

	char reason[96];             /* rec->reason when formatted */
};

#if defined(__SSE2__)
struct specials {
	__m128i delim, quote, lf;
};

static inline void specials_init(struct specials *sp, unsigned char delim)
{
	sp->delim = _mm_set1_epi8((char)delim);
	sp->quote = _mm_set1_epi8('"');
	sp->lf = _mm_set1_epi8('\n');
}

static inline uint64_t window_mask(const struct specials *sp, const unsigned char *w)
{
	uint64_t m = 0;
	int k;

	for (k = 0; k < WIN / 16; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(w + 16 * k));
		__m128i t = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp->delim),
						      _mm_cmpeq_epi8(x, sp->quote)),
					 _mm_cmpeq_epi8(x, sp->lf));

		m |= (uint64_t)(unsigned)_mm_movemask_epi8(t) << (16 * k);
	}
	return m;
}
#else
struct specials {
	unsigned char delim;
};

static inline void specials_init(struct specials *sp, unsigned char delim)
{
	sp->delim = delim;
}

static inline uint64_t window_mask(const struct specials *sp, const unsigned char *w)
{
	uint64_t m = 0;
	int k;

	for (k = 0; k < WIN; k++)
		m |= (uint64_t)(w[k] == sp->delim || w[k] == '"' || w[k] == '\n') << k;
	return m;
}
#endif

/* First special byte at or after p (the sentinel guarantees one). */
static inline const unsigned char *find_special(const struct specials *sp,
						const unsigned char *buf,
						const unsigned char *p,
						size_t *woff, uint64_t *wmask)
{
	size_t off = (size_t)(p - buf);
	size_t w = off & ~(size_t)(WIN - 1);
	uint64_t m;

	if (w != *woff) {
		*woff = w;
		*wmask = window_mask(sp, buf + w);
	}
	m = *wmask & (~(uint64_t)0 << (off & (WIN - 1)));
	while (!m) {
		w += WIN;
		*woff = w;
		*wmask = m = window_mask(sp, buf + w);
	}
	return buf + w + (size_t)__builtin_ctzll(m);
}

static size_t count_nl(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	size_t k = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/*
 * Header only: room for more field boundaries. A header with more fields
 * than max_record + 2 is over-long anyway (it is rejected once scanned), so
 * past that the extra fields are counted but not kept.
 */
static int grow_fields(struct csvr *r)
{
	size_t ncap = r->fcap * 2;
	struct csvr_fld *f;

	if (ncap > r->max_record + 2)
		ncap = r->max_record + 2;
	if (ncap <= r->fcap)
		return 0;
	f = realloc(r->flds, ncap * sizeof(*f));
	if (!f)
		return -1;
	r->flds = f;
	r->fcap = ncap;
	r->nstore = ncap;
	return 0;
}

/*
 * Find the fields and the end of the record starting at buf[rs], without
 * writing into the buffer. SCAN_MORE: the buffer ends before the record does
 * (or before the byte that decides, e.g. what follows a quote or CR in the
 * last position) and more input exists.
 */
static enum scan_rc scan(struct csvr *r, size_t rs)
{
	const unsigned char *const buf = r->buf;
	const unsigned char *const base = buf + rs;
	const unsigned char *const end = buf + r->len;
	const unsigned char delim = r->delim;
	const size_t max_field = r->max_field;
	const int eof = r->eof, grow = r->grow_fields;
	struct csvr_fld *fld = r->flds;
	size_t nstore = r->nstore;
	size_t woff = r->woff;
	uint64_t wmask = r->wmask;
	const unsigned char *p = base, *fs, *fe, *q, *next;
	size_t nf = 0, nl = 0, nesc;
	uint32_t flags;
	int bad = BAD_NONE;
	struct specials sp;

	specials_init(&sp, delim);
next_field:
	if (*p == '"' && p < end) {
		const unsigned char *c = p + 1;

		nesc = 0;
		for (;;) {
			q = memchr(c, '"', (size_t)(end - c));
			if (!q) {
				if (!eof)
					return SCAN_MORE;
				nl += count_nl(c, (size_t)(end - c));
				if (!bad)
					bad = BAD_UNTERM;
				fs = fe = p = next = end;
				nesc = 0;
				flags = FLD_PLAIN;
				goto last_field;
			}
			if (q + 1 == end && !eof)
				return SCAN_MORE;
			nl += count_nl(c, (size_t)(q - c));
			if (q + 1 < end && q[1] == '"') {
				nesc++;
				c = q + 2;
				continue;
			}
			break;
		}
		fs = p + 1;
		fe = q;
		flags = nesc ? FLD_ESC : FLD_PLAIN;
		p = q + 1;
		if (p == end) {
			next = p;
			goto last_field;
		}
		if (*p == delim) {
			p++;
			goto field_done;
		}
		if (*p == '\n') {
			next = p + 1;
			goto last_field;
		}
		if (*p == '\r') {
			if (p + 1 == end) {
				if (!eof)
					return SCAN_MORE;
				next = end; /* a CR ending the input ends the line */
				goto last_field;
			}
			if (p[1] == '\n') {
				next = p + 2;
				goto last_field;
			}
		}
		/* Keep reading the rest as unquoted text to find the field end. */
		if (!bad)
			bad = BAD_AFTER;
		goto unquoted;
	}
	fs = p;
	nesc = 0;
	flags = FLD_PLAIN;
unquoted:
	for (;;) {
		p = find_special(&sp, buf, p, &woff, &wmask);
		if (*p == delim) {
			fe = p++;
			goto field_done;
		}
		if (*p == '\n') {
			if (p < end)
				next = p + 1;
			else if (!eof)
				return SCAN_MORE;
			else
				next = p;
			/* CRLF, or a CR ending the input: the CR is not data. */
			fe = p > fs && p[-1] == '\r' ? p - 1 : p;
			p = fe;
			goto last_field;
		}
		/* A quote inside an unquoted field: data, but the record is bad. */
		if (!bad)
			bad = BAD_QUOTE;
		p++;
	}

field_done:
	if (nf >= nstore && grow) {
		if (grow_fields(r) < 0)
			return SCAN_NOMEM;
		fld = r->flds;
		nstore = r->nstore;
	}
	if (nf < nstore) {
		fld[nf].off = (uint32_t)(fs - base);
		fld[nf].len = (uint32_t)(fe - fs);
		fld[nf].flags = flags;
	}
	if ((size_t)(fe - fs) - nesc > max_field && !bad)
		bad = BAD_FIELD;
	nf++;
	goto next_field;

last_field:
	/* fe ends the value, p is where the line end starts, next after it. */
	if (nf >= nstore && grow) {
		if (grow_fields(r) < 0)
			return SCAN_NOMEM;
		fld = r->flds;
		nstore = r->nstore;
	}
	if (nf < nstore) {
		fld[nf].off = (uint32_t)(fs - base);
		fld[nf].len = (uint32_t)(fe - fs);
		fld[nf].flags = flags;
	}
	if ((size_t)(fe - fs) - nesc > max_field && !bad)
		bad = BAD_FIELD;
	nf++;
	if (next > p && next[-1] == '\n')
		nl++;
	r->woff = woff;
	r->wmask = wmask;
	r->s_reclen = (size_t)(p - base);
	r->s_next = (size_t)(next - buf);
	r->s_nf = nf;
	r->s_nl = nl;
	r->s_bad = bad;
	return SCAN_DONE;
}

/* Collapse "" to " in place; returns the new length. */
static size_t unescape(unsigned char *start, size_t n)
{
	unsigned char *s = start, *w = start, *end = start + n, *q;

	while (s < end) {
		q = memchr(s, '"', (size_t)(end - s));
		if (!q) {
			memmove(w, s, (size_t)(end - s));
			w += end - s;
			break;
		}
		memmove(w, s, (size_t)(q + 1 - s));
		w += q + 1 - s;
		s = q + 2; /* skip the second quote of the pair */
	}
	return (size_t)(w - start);
}

/* Make field `col` of the record at rs a NUL-terminated value. */
static const char *finalize(struct csvr *r, size_t rs, size_t col, size_t *len)
{
	const struct csvr_fld *f = &r->flds[col];
	unsigned char *s = r->buf + rs + f->off;
	size_t n = f->len;

	if (f->flags == FLD_ESC)
		n = unescape(s, n);
	s[n] = '\0';
	*len = n;
	return (const char *)s;
}

/*
 * Move the unread bytes to the buffer start and read one more block. The
 * caller guarantees len - pos <= max_record + 1, so the block always fits
 * under cap_max.
 */
static int refill(struct csvr *r, struct crm_err *e)
{
	size_t keep = r->len - r->pos, got = 0;
	ssize_t n;

	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, keep);
		r->len = keep;
		r->pos = 0;
	}
	if (r->cap - r->len < r->block) {
		size_t ncap = r->cap * 2;
		unsigned char *nb;

		if (ncap < r->len + r->block)
			ncap = r->len + r->block;
		if (ncap > r->cap_max)
			ncap = r->cap_max;
		if (ncap - r->len < r->block)
			CRM_BUG("csv buffer ceiling %zu below %zu + %zu", r->cap_max, r->len, r->block);
		nb = realloc(r->buf, ncap + WIN_PAD);
		if (!nb)
			return err_at(e, CRM_E_NOMEM, ins_name(r->in), r->line, NULL,
				      "out of memory for a %zu-byte csv buffer", ncap);
		/* Windows may look at bytes never read into: define them. */
		memset(nb + r->cap + WIN_PAD, 0, ncap - r->cap);
		r->buf = nb;
		r->cap = ncap;
	}
	r->woff = WIN_NONE; /* the bytes moved */
	while (got < r->block) {
		n = ins_read(r->in, r->buf + r->len, r->block - got);
		if (n < 0) {
			r->buf[r->len] = '\n';
			return err_at(e, (int)n, ins_name(r->in), r->line, NULL, "cannot read input");
		}
		if (n == 0) {
			r->eof = 1;
			break;
		}
		r->len += (size_t)n;
		got += (size_t)n;
	}
	r->buf[r->len] = '\n';
	return 0;
}

/*
 * The record at pos is longer than max_record: drop it through the first LF
 * at or after its byte max_record (quotes ignored: a stray quote must not
 * swallow the file). Leaves pos and line after it.
 */
static int skip_overlong(struct csvr *r, struct crm_err *e)
{
	size_t nl = count_nl(r->buf + r->pos, r->max_record);
	size_t p = r->pos + r->max_record;
	const unsigned char *q;
	int rc;

	for (;;) {
		q = memchr(r->buf + p, '\n', r->len - p);
		if (q) {
			r->pos = (size_t)(q - r->buf) + 1;
			nl++;
			break;
		}
		r->pos = r->len;
		if (r->eof)
			break;
		rc = refill(r, e);
		if (rc < 0)
			return rc;
		p = r->pos;
	}
	r->line += (long)nl;
	return 0;
}

/*
 * Scan the next non-blank record. Returns REC_READ (s_* describe it, pos
 * and line still at its start), REC_OVERLONG (already skipped; *line0 is
 * where it started), 0 at the end of input, or < 0 on error.
 */
static int read_record(struct csvr *r, long *line0, struct crm_err *e)
{
	int rc;

	r->buf[r->len] = '\n'; /* a finalized last value may have taken it */
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				return 0;
			rc = refill(r, e);
			if (rc < 0)
				return rc;
			continue;
		}
		switch (scan(r, r->pos)) {
		case SCAN_NOMEM:
			return err_at(e, CRM_E_NOMEM, ins_name(r->in), r->line, NULL,
				      "out of memory for csv header fields");
		case SCAN_MORE:
			/* A record of max_record bytes may still need its CRLF. */
			if (r->len - r->pos >= r->max_record + 2)
				goto overlong;
			rc = refill(r, e);
			if (rc < 0)
				return rc;
			continue;
		case SCAN_DONE:
			break;
		}
		if (r->s_reclen == 0) { /* blank line */
			r->line += (long)r->s_nl;
			r->pos = r->s_next;
			continue;
		}
		if (r->s_reclen > r->max_record)
			goto overlong;
		*line0 = r->line;
		return REC_READ;
	}
overlong:
	*line0 = r->line;
	rc = skip_overlong(r, e);
	return rc < 0 ? rc : REC_OVERLONG;
}

static const char *reason_text(struct csvr *r, int bad, size_t nf)
{
	switch (bad) {
	case BAD_QUOTE:
		return "quote inside unquoted field";
	case BAD_AFTER:
		return "text after closing quote";
	case BAD_UNTERM:
		return "unterminated quoted field";
	case BAD_FIELD:
		snprintf(r->reason, sizeof(r->reason), "field longer than %zu bytes", r->max_field);
		return r->reason;
	case BAD_RECORD:
		snprintf(r->reason, sizeof(r->reason), "record longer than %zu bytes", r->max_record);
		return r->reason;
	case BAD_WIDTH:
		snprintf(r->reason, sizeof(r->reason), "expected %zu fields, found %zu", r->ncols, nf);
		return r->reason;
	}
	return "malformed record";
}

static int fail(struct csvr *r, int rc, struct crm_err *e)
{
	r->failed = rc;
	err_context(e, ins_name(r->in), r->line);
	return rc;
}

/*
 * Every value and length of a record NULL/0 before the found ones are
 * set. The size comes from the reader, not sizeof: for a constant 128
 * bytes GCC inlines `rep stos`, whose start-up cost was half of
 * csvr_next's time (tens of millions of records), where memset's own
 * vector stores take a few cycles.
 */
static void clear_values(const struct csvr *r, struct rec *rec)
{
	memset(rec->val, 0, r->rec_bytes);
	memset(rec->len, 0, r->rec_bytes);
}

int csvr_next(struct csvr *r, struct rec *rec, struct crm_err *e)
{
	size_t i;
	long line0 = 0;
	int rc, bad;

	if (r->failed) {
		err_at(e, r->failed, ins_name(r->in), r->line, NULL,
		       "cannot read input after an earlier error");
		return r->failed;
	}
	rc = read_record(r, &line0, e);
	if (rc < 0)
		return fail(r, rc, e);
	if (rc == 0)
		return 0;
	r->records++;
	rec->line = line0;
	if (rc == REC_OVERLONG) {
		bad = BAD_RECORD;
	} else {
		bad = r->s_bad;
		if (!bad && r->s_nf != r->ncols)
			bad = BAD_WIDTH;
	}
	clear_values(r, rec);
	if (bad) {
		rec->bad = 1;
		rec->reason = reason_text(r, bad, r->s_nf);
		if (rc == REC_OVERLONG)
			return 1;
	} else {
		rec->bad = 0;
		rec->reason = NULL;
		for (i = 0; i < r->nu; i++)
			rec->val[r->ufirst[i]] = finalize(r, r->pos, r->ucol[i],
							  &rec->len[r->ufirst[i]]);
		for (i = 0; i < r->ndup; i++) {
			rec->val[r->dup_to[i]] = rec->val[r->dup_from[i]];
			rec->len[r->dup_to[i]] = rec->len[r->dup_from[i]];
		}
	}
	r->line += (long)r->s_nl;
	r->pos = r->s_next;
	return 1;
}

struct hname {
	const char *s;
	size_t len;
	size_t col;
};

static int hname_cmp(const void *a, const void *b)
{
	const struct hname *x = a, *y = b;
	int c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->s, y->s, x->len);
	if (c)
		return c;
	return x->col < y->col ? -1 : x->col > y->col;
}

/* Resolve the header just scanned at pos: names, duplicates, wanted columns. */
static int use_header(struct csvr *r, const char *const *names, size_t n,
		      struct crm_err *e)
{
	struct hname *h;
	size_t i, j;
	int rc = 0;

	r->ncols = r->s_nf;
	h = malloc(r->ncols * sizeof(*h));
	if (!h)
		return err_set(e, CRM_E_NOMEM, "out of memory reading the csv header");
	for (i = 0; i < r->ncols; i++) {
		h[i].s = finalize(r, r->pos, i, &h[i].len);
		h[i].col = i;
	}
	for (i = 0; i < n; i++) {
		size_t want = names[i] ? strlen(names[i]) : 0;

		r->col[i] = -1;
		for (j = 0; want && j < r->ncols; j++) {
			if (h[j].len == want && memcmp(h[j].s, names[i], want) == 0) {
				r->col[i] = (int)j;
				break;
			}
		}
		if (r->col[i] < 0)
			continue;
		for (j = 0; j < r->nu; j++)
			if (r->ucol[j] == (size_t)r->col[i])
				break;
		if (j == r->nu) {
			r->ucol[r->nu] = (size_t)r->col[i];
			r->ufirst[r->nu++] = i;
		} else {
			r->dup_to[r->ndup] = i;
			r->dup_from[r->ndup++] = r->ufirst[j];
		}
	}
	qsort(h, r->ncols, sizeof(*h), hname_cmp);
	for (i = 1; i < r->ncols; i++) {
		if (h[i].len > 0 && h[i].len == h[i - 1].len &&
		    memcmp(h[i].s, h[i - 1].s, h[i].len) == 0) {
			rc = err_at(e, CRM_E_INPUT, ins_name(r->in), r->line, h[i].s,
				    "duplicate column '%.*s' in header",
				    (int)(h[i].len > 100 ? 100 : h[i].len), h[i].s);
			break;
		}
	}
	free(h);
	return rc;
}

int csvr_open(struct ins *in, const struct csvr_opts *opts,
	      const char *const *names, size_t n, struct csvr **out,
	      struct crm_err *e)
{
	static const struct csvr_opts defaults;
	struct csvr *r;
	long line0 = 0;
	int rc;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (n > REC_MAX_FIELDS)
		return err_set(e, CRM_E_INTERNAL, "csv reader asked for %zu columns, at most %d",
			       n, REC_MAX_FIELDS);
	if (opts->delimiter == '"' || opts->delimiter == '\r' || opts->delimiter == '\n')
		return err_at(e, CRM_E_CONFIG, ins_name(in), 0, "delimiter",
			      "invalid csv delimiter (a quote or line end)");
	if (opts->max_record > CSVR_LIMIT_RECORD || opts->block_size > CSVR_LIMIT_BLOCK)
		return err_at(e, CRM_E_CONFIG, ins_name(in), 0, NULL,
			      "csv limits too large (record at most %u, block at most %u bytes)",
			      CSVR_LIMIT_RECORD, CSVR_LIMIT_BLOCK);
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, CRM_E_NOMEM, "out of memory opening a csv reader");
	r->in = in;
	r->line = 1;
	r->delim = (unsigned char)(opts->delimiter ? opts->delimiter : ',');
	r->max_field = opts->max_field ? opts->max_field : CSVR_DEFAULT_FIELD;
	r->max_record = opts->max_record ? opts->max_record : CSVR_DEFAULT_RECORD;
	r->block = opts->block_size ? opts->block_size : CSVR_DEFAULT_BLOCK;
	r->rec_bytes = sizeof(((struct rec *)NULL)->val);
	r->cap_max = r->max_record + 2 + r->block;
	r->cap = 2 * r->block < r->cap_max ? 2 * r->block : r->cap_max;
	r->woff = WIN_NONE;
	r->n = n;
	r->fcap = 16;
	r->nstore = r->fcap;
	r->grow_fields = 1;
	r->buf = calloc(1, r->cap + WIN_PAD);
	r->flds = malloc(r->fcap * sizeof(*r->flds));
	if (!r->buf || !r->flds) {
		csvr_free(r);
		return err_set(e, CRM_E_NOMEM, "out of memory opening a csv reader");
	}
	r->buf[0] = '\n';

	/* Three bytes decide on a BOM, even when blocks are tiny. */
	while (r->len < 3 && !r->eof) {
		rc = refill(r, e);
		if (rc < 0)
			goto out;
	}
	if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
		r->pos = 3;

	rc = read_record(r, &line0, e);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		rc = err_at(e, CRM_E_INPUT, ins_name(in), 0, NULL, "no header row");
		goto out;
	}
	if (rc == REC_OVERLONG || r->s_bad) {
		rc = err_at(e, CRM_E_INPUT, ins_name(in), line0, NULL, "malformed header: %s",
			    reason_text(r, rc == REC_OVERLONG ? BAD_RECORD : r->s_bad, 0));
		goto out;
	}
	rc = use_header(r, names, n, e);
	if (rc < 0)
		goto out;
	r->line += (long)r->s_nl;
	r->pos = r->s_next;
	r->nstore = r->ncols;
	r->grow_fields = 0;
	*out = r;
	return 0;
out:
	csvr_free(r);
	return rc;
}

int csvr_column(const struct csvr *r, size_t i)
{
	return i < r->n ? r->col[i] : -1;
}

size_t csvr_n_columns(const struct csvr *r)
{
	return r->ncols;
}

uint64_t csvr_records(const struct csvr *r)
{
	return r->records;
}

void csvr_free(struct csvr *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->flds);
	free(r);
}
