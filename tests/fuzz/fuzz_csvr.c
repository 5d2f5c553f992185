/*
 * fuzz_csvr.c - libFuzzer target for the CSV reader (etl/csvr.c).
 *
 * Input: byte 0 picks the delimiter, byte 1 the limits and a small block
 * size, the rest is the file (plain, or gzip when it starts with 1f 8b).
 * Properties checked, beyond "no crash":
 * - block independence: reading with the default block and with a block of
 *   1..16 bytes gives the same header outcome and the same records;
 * - line numbers strictly increase from record to record;
 * - a reference reader (below: slow, whole input in memory, written straight
 *   from the rules in csvr.h) agrees on every record: line, bad or good,
 *   reason, field count == header width for good records, and each value;
 * - round trip: the good records' values, written back with every field
 *   quoted, read again to the same values on the expected lines.
 *
 * No main() here: tests/fuzz/replay.c provides one to run the saved corpus
 * as a plain C program. A failed property prints what differs and aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvr.h"
#include "err.h"
#include "ins.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...) do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_csvr: %s:%d: check failed: %s: ", \
				__FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

static const char *const names[] = { "a", "b", "c", "id", "x\"y", "" };
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

/* ---- what a read produced ---- */

struct frec {
	long line;
	int bad;
	char reason[96];
	char *val[NNAMES]; /* owned copies, NULL when absent */
	size_t len[NNAMES];
};

struct fread_result {
	int open_rc;
	char open_msg[512];
	size_t ncols;
	int col[NNAMES];
	int next_rc;       /* last csvr_next result: 0 or < 0 */
	struct frec *recs;
	size_t n, cap;
};

static void result_free(struct fread_result *f)
{
	size_t i, j;

	for (i = 0; i < f->n; i++)
		for (j = 0; j < NNAMES; j++)
			free(f->recs[i].val[j]);
	free(f->recs);
	memset(f, 0, sizeof(*f));
}

static void read_all(const uint8_t *data, size_t size, const struct csvr_opts *o,
		     struct fread_result *f)
{
	struct crm_err e = { 0 };
	struct ins *in;
	struct csvr *r;
	struct rec rec;
	size_t i;
	int rc;

	memset(f, 0, sizeof(*f));
	CHECK(ins_open_mem(data, size, "fuzz.csv", &in, &e) == 0, "%s", e.msg);
	f->open_rc = csvr_open(in, o, names, NNAMES, &r, &e);
	if (f->open_rc) {
		CHECK(r == NULL && e.code == f->open_rc, "open error not reported");
		snprintf(f->open_msg, sizeof(f->open_msg), "%s", e.msg);
		ins_close(in);
		return;
	}
	f->ncols = csvr_n_columns(r);
	CHECK(f->ncols > 0, "a header has at least one column");
	for (i = 0; i < NNAMES; i++) {
		f->col[i] = csvr_column(r, i);
		CHECK(f->col[i] < (int)f->ncols, "column out of range");
	}
	while ((rc = csvr_next(r, &rec, &e)) == 1) {
		struct frec *x;

		if (f->n == f->cap) {
			f->cap = f->cap ? 2 * f->cap : 16;
			f->recs = xrealloc(f->recs, f->cap * sizeof(*f->recs));
		}
		x = &f->recs[f->n++];
		memset(x, 0, sizeof(*x));
		x->line = rec.line;
		x->bad = rec.bad;
		CHECK(!rec.bad == !rec.reason, "reason iff bad");
		if (rec.reason)
			snprintf(x->reason, sizeof(x->reason), "%s", rec.reason);
		for (i = 0; i < REC_MAX_FIELDS; i++) {
			if (i >= NNAMES || rec.bad || f->col[i] < 0) {
				CHECK(rec.val[i] == NULL && rec.len[i] == 0, "value %zu should be absent", i);
				continue;
			}
			CHECK(rec.val[i] != NULL, "value %zu missing", i);
			CHECK(rec.val[i][rec.len[i]] == '\0', "value not NUL-terminated");
			CHECK(rec.len[i] <= (o->max_field ? o->max_field : CSVR_DEFAULT_FIELD),
			      "value over max_field");
			x->val[i] = xmalloc(rec.len[i] + 1);
			memcpy(x->val[i], rec.val[i], rec.len[i] + 1);
			x->len[i] = rec.len[i];
		}
	}
	f->next_rc = rc;
	CHECK(rc <= 0, "csvr_next returned %d", rc);
	CHECK(rc == 0 || e.code == rc, "read error not reported");
	if (rc == 0)
		CHECK(csvr_next(r, &rec, &e) == 0, "end of input is not sticky");
	CHECK(csvr_records(r) == f->n, "record count");
	csvr_free(r);
	ins_close(in);
}

/*
 * Same outcome and records. A damaged gzip stream fails wherever the reads
 * happen to reach the damage (with a large block, maybe already in
 * csvr_open), so with `damaged` set both reads must fail and the records
 * each returned before failing must be a prefix of the other's.
 */
static void same_results(const struct fread_result *x, const struct fread_result *y,
			 int damaged, const char *what)
{
	size_t i, j, n;

	if (damaged) {
		CHECK(!(x->open_rc || x->next_rc) == !(y->open_rc || y->next_rc),
		      "%s: one read failed, the other did not", what);
		if (x->open_rc || y->open_rc)
			return; /* one stopped in csvr_open: nothing to compare */
		if (!x->next_rc && !y->next_rc)
			damaged = 0;
	}
	if (!damaged) {
		CHECK(x->open_rc == y->open_rc, "%s: open %d vs %d", what, x->open_rc, y->open_rc);
		CHECK(strcmp(x->open_msg, y->open_msg) == 0, "%s: '%s' vs '%s'", what,
		      x->open_msg, y->open_msg);
	}
	if (x->open_rc || y->open_rc)
		return;
	CHECK(x->ncols == y->ncols, "%s: width", what);
	n = x->n < y->n ? x->n : y->n;
	if (!damaged) {
		CHECK(x->next_rc == y->next_rc, "%s: end %d vs %d", what, x->next_rc, y->next_rc);
		CHECK(x->n == y->n, "%s: %zu vs %zu records", what, x->n, y->n);
	}
	for (i = 0; i < n; i++) {
		const struct frec *a = &x->recs[i], *b = &y->recs[i];

		CHECK(a->line == b->line, "%s: record %zu line %ld vs %ld", what, i, a->line, b->line);
		CHECK(a->bad == b->bad, "%s: record %zu (line %ld) bad %d vs %d", what, i,
		      a->line, a->bad, b->bad);
		CHECK(strcmp(a->reason, b->reason) == 0, "%s: line %ld '%s' vs '%s'", what,
		      a->line, a->reason, b->reason);
		for (j = 0; j < NNAMES; j++) {
			CHECK(!a->val[j] == !b->val[j], "%s: line %ld value %zu presence", what,
			      a->line, j);
			CHECK(a->len[j] == b->len[j] &&
			      (!a->len[j] || memcmp(a->val[j], b->val[j], a->len[j]) == 0),
			      "%s: line %ld value %zu differs", what, a->line, j);
		}
	}
}

/* ---- reference reader: the rules of csvr.h, the slow and obvious way ---- */

enum { R_OK, R_QUOTE, R_AFTER, R_FIELD, R_UNTERM, R_WIDTH, R_RECORD };

struct rrec {
	int bad;
	size_t nf;
	size_t le;       /* where the line end starts (record length = le - start) */
	size_t next;     /* first byte of the next record */
	char *vals;      /* decoded values, back to back; owned */
	size_t *off, *len; /* per field; owned */
};

static void rrec_free(struct rrec *x)
{
	free(x->vals);
	free(x->off);
	free(x->len);
	memset(x, 0, sizeof(*x));
}

static void ref_record(const uint8_t *d, size_t n, size_t s, unsigned char delim,
		       size_t max_field, struct rrec *x)
{
	size_t i = s, vlen = 0, fstart, fcap = 8;

	memset(x, 0, sizeof(*x));
	x->vals = xmalloc(n - s + 1);
	x->off = xmalloc(fcap * sizeof(size_t));
	x->len = xmalloc(fcap * sizeof(size_t));
	for (;;) {
		int last = 0;

		fstart = i;
		x->off[x->nf] = vlen;
		if (i < n && d[i] == '"') {
			i++;
			for (;;) {
				if (i >= n) {
					if (!x->bad)
						x->bad = R_UNTERM;
					x->le = x->next = n;
					last = 1;
					goto field_end;
				}
				if (d[i] == '"') {
					if (i + 1 < n && d[i + 1] == '"') {
						x->vals[vlen++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				x->vals[vlen++] = (char)d[i++];
			}
			if (i >= n) {
				x->le = x->next = n;
				last = 1;
				goto field_end;
			}
			if (d[i] == delim) {
				i++;
				goto field_end;
			}
			if (d[i] == '\n') {
				x->le = i;
				x->next = i + 1;
				last = 1;
				goto field_end;
			}
			if (d[i] == '\r' && (i + 1 == n || d[i + 1] == '\n')) {
				x->le = i;
				x->next = i + 1 == n ? n : i + 2;
				last = 1;
				goto field_end;
			}
			if (!x->bad)
				x->bad = R_AFTER;
		}
		for (;;) {
			if (i >= n || d[i] == '\n') {
				x->le = i;
				x->next = i < n ? i + 1 : n;
				if (i > fstart && d[i - 1] == '\r') {
					x->le = i - 1; /* CRLF, or a CR ending the input */
					vlen--;
				}
				last = 1;
				break;
			}
			if (d[i] == delim) {
				i++;
				break;
			}
			if (d[i] == '"' && !x->bad)
				x->bad = R_QUOTE;
			x->vals[vlen++] = (char)d[i++];
		}
field_end:
		x->len[x->nf] = vlen - x->off[x->nf];
		if (!x->bad && x->len[x->nf] > max_field)
			x->bad = R_FIELD;
		x->nf++;
		if (last)
			return;
		if (x->nf == fcap) {
			fcap *= 2;
			x->off = xrealloc(x->off, fcap * sizeof(size_t));
			x->len = xrealloc(x->len, fcap * sizeof(size_t));
		}
	}
}

static size_t ref_lines(const uint8_t *d, size_t from, size_t to)
{
	size_t k = 0;

	for (; from < to; from++)
		k += d[from] == '\n';
	return k;
}

/*
 * Next non-blank record from *pos: 0 at the end, else 1 with *x filled
 * (x->bad = R_RECORD for an over-long one, already skipped), *line its
 * first line; *pos and *cur_line move past it.
 */
static int ref_next(const uint8_t *d, size_t n, size_t *pos, long *cur_line,
		    unsigned char delim, size_t max_field, size_t max_record,
		    struct rrec *x, long *line)
{
	for (;;) {
		size_t s = *pos;

		if (s >= n)
			return 0;
		ref_record(d, n, s, delim, max_field, x);
		if (x->le == s) { /* blank line */
			*cur_line += (long)ref_lines(d, s, x->next);
			*pos = x->next;
			rrec_free(x);
			continue;
		}
		*line = *cur_line;
		if (x->le - s > max_record) {
			size_t k = s + max_record;

			while (k < n && d[k] != '\n')
				k++;
			x->bad = R_RECORD;
			x->next = k < n ? k + 1 : n;
		}
		*cur_line += (long)ref_lines(d, s, x->next);
		*pos = x->next;
		return 1;
	}
}

static const char *ref_reason(int bad, size_t max_field, size_t max_record, size_t width,
			      size_t nf, char *buf, size_t n)
{
	switch (bad) {
	case R_QUOTE:
		return "quote inside unquoted field";
	case R_AFTER:
		return "text after closing quote";
	case R_UNTERM:
		return "unterminated quoted field";
	case R_FIELD:
		snprintf(buf, n, "field longer than %zu bytes", max_field);
		return buf;
	case R_RECORD:
		snprintf(buf, n, "record longer than %zu bytes", max_record);
		return buf;
	case R_WIDTH:
		snprintf(buf, n, "expected %zu fields, found %zu", width, nf);
		return buf;
	}
	return "";
}

/* Compare a plain (not gzip) read against the reference. */
static void check_reference(const uint8_t *d, size_t n, unsigned char delim,
			    size_t max_field, size_t max_record,
			    const struct fread_result *f)
{
	struct rrec hdr, x;
	size_t pos = 0, i, j, k = 0, width;
	long cur_line = 1, line;
	char buf[128], msg[300];

	if (n >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	if (!ref_next(d, n, &pos, &cur_line, delim, max_field, max_record, &hdr, &line)) {
		CHECK(f->open_rc == CRM_E_INPUT && strcmp(f->open_msg, "no header row") == 0,
		      "reference: no header row; reader: %d '%s'", f->open_rc, f->open_msg);
		return;
	}
	if (hdr.bad) {
		snprintf(msg, sizeof(msg), "malformed header: %s",
			 ref_reason(hdr.bad, max_field, max_record, 0, 0, buf, sizeof(buf)));
		CHECK(f->open_rc == CRM_E_INPUT && strcmp(f->open_msg, msg) == 0,
		      "reference: '%s'; reader: %d '%s'", msg, f->open_rc, f->open_msg);
		rrec_free(&hdr);
		return;
	}
	width = hdr.nf;
	for (i = 0; i < width; i++)
		for (j = i + 1; j < width; j++)
			if (hdr.len[i] && hdr.len[i] == hdr.len[j] &&
			    memcmp(hdr.vals + hdr.off[i], hdr.vals + hdr.off[j], hdr.len[i]) == 0) {
				CHECK(f->open_rc == CRM_E_INPUT &&
				      strncmp(f->open_msg, "duplicate column '", 18) == 0,
				      "reference: duplicate; reader: %d '%s'", f->open_rc, f->open_msg);
				rrec_free(&hdr);
				return;
			}
	CHECK(f->open_rc == 0, "reference: good header; reader: %d '%s'", f->open_rc, f->open_msg);
	CHECK(f->ncols == width, "width %zu vs reference %zu", f->ncols, width);
	for (i = 0; i < NNAMES; i++) {
		int want = -1;
		size_t nl = strlen(names[i]);

		for (j = 0; nl && j < width && want < 0; j++)
			if (hdr.len[j] == nl && memcmp(hdr.vals + hdr.off[j], names[i], nl) == 0)
				want = (int)j;
		CHECK(f->col[i] == want, "column of '%s': %d vs reference %d", names[i],
		      f->col[i], want);
	}
	rrec_free(&hdr);
	while (ref_next(d, n, &pos, &cur_line, delim, max_field, max_record, &x, &line)) {
		const struct frec *a;

		CHECK(k < f->n, "reference has more records (line %ld)", line);
		a = &f->recs[k++];
		if (!x.bad && x.nf != width)
			x.bad = R_WIDTH;
		CHECK(a->line == line, "record %zu: line %ld vs reference %ld", k - 1, a->line, line);
		CHECK(!a->bad == !x.bad, "line %ld: bad %d vs reference %d", line, a->bad, x.bad);
		if (x.bad) {
			const char *want = ref_reason(x.bad, max_field, max_record, width, x.nf,
						      buf, sizeof(buf));

			CHECK(strcmp(a->reason, want) == 0, "line %ld: '%s' vs reference '%s'",
			      line, a->reason, want);
		} else {
			for (i = 0; i < NNAMES; i++) {
				int c = f->col[i];

				if (c < 0)
					continue;
				CHECK(a->len[i] == x.len[c] &&
				      memcmp(a->val[i], x.vals + x.off[c], x.len[c]) == 0,
				      "line %ld: value of '%s' differs from reference", line, names[i]);
			}
		}
		rrec_free(&x);
	}
	CHECK(k == f->n, "reader has more records than the reference");
}

/* ---- round trip ---- */

struct out {
	char *s;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = 2 * (o->len + n + 1);
		o->s = xrealloc(o->s, o->cap);
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
}

static void put_quoted(struct out *o, const char *s, size_t n)
{
	size_t i;

	put(o, "\"", 1);
	for (i = 0; i < n; i++) {
		put(o, s + i, 1);
		if (s[i] == '"')
			put(o, "\"", 1);
	}
	put(o, "\"", 1);
}

static void round_trip(const struct fread_result *f, const struct csvr_opts *o)
{
	struct out w = { 0 };
	struct crm_err e = { 0 };
	struct csvr_opts o2 = *o;
	struct ins *in;
	struct csvr *r;
	struct rec rec;
	size_t i, k, present = 0, goods = 0;
	long line = 2;
	int first, rc;

	for (i = 0; i < NNAMES; i++)
		if (f->col[i] >= 0)
			present++;
	if (!present)
		return;
	first = 1;
	for (i = 0; i < NNAMES; i++) {
		if (f->col[i] < 0)
			continue;
		if (!first)
			put(&w, (const char *)&o->delimiter, 1);
		put_quoted(&w, names[i], strlen(names[i]));
		first = 0;
	}
	put(&w, "\n", 1);
	for (k = 0; k < f->n; k++) {
		if (f->recs[k].bad)
			continue;
		first = 1;
		for (i = 0; i < NNAMES; i++) {
			if (f->col[i] < 0)
				continue;
			if (!first)
				put(&w, (const char *)&o->delimiter, 1);
			put_quoted(&w, f->recs[k].val[i], f->recs[k].len[i]);
			first = 0;
		}
		put(&w, k % 2 ? "\r\n" : "\n", k % 2 ? 2 : 1);
	}
	o2.max_record = w.len + 16 < CSVR_LIMIT_RECORD ? w.len + 16 : CSVR_LIMIT_RECORD;
	o2.block_size = 65536;
	CHECK(ins_open_mem(w.s ? w.s : "", w.len, "rt.csv", &in, &e) == 0, "%s", e.msg);
	rc = csvr_open(in, &o2, names, NNAMES, &r, &e);
	CHECK(rc == 0, "round trip: open failed: %s", e.msg);
	CHECK(csvr_n_columns(r) == present, "round trip: width");
	for (k = 0; k < f->n; k++) {
		const struct frec *a = &f->recs[k];

		if (a->bad)
			continue;
		CHECK(csvr_next(r, &rec, &e) == 1, "round trip: record of line %ld missing", a->line);
		CHECK(!rec.bad, "round trip: line %ld: %s", rec.line, rec.reason);
		CHECK(rec.line == line, "round trip: line %ld, expected %ld", rec.line, line);
		for (i = 0; i < NNAMES; i++) {
			if (f->col[i] < 0) {
				CHECK(rec.val[i] == NULL, "round trip: absent column");
				continue;
			}
			CHECK(rec.val[i] && rec.len[i] == a->len[i] &&
			      memcmp(rec.val[i], a->val[i], a->len[i]) == 0,
			      "round trip: value '%s' of line %ld differs", names[i], a->line);
			line += (long)ref_lines((const uint8_t *)a->val[i], 0, a->len[i]);
		}
		line++;
		goods++;
	}
	CHECK(csvr_next(r, &rec, &e) == 0, "round trip: extra record");
	CHECK(csvr_records(r) == goods, "round trip: count");
	csvr_free(r);
	ins_close(in);
	free(w.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = { ',', ';', '\t', '|' };
	static const size_t fields[] = { 0, 8, 3, 0 };
	static const size_t records[] = { 0, 64, 16, 32 };
	struct csvr_opts o = { 0 };
	struct fread_result big, small;
	struct ins *probe;
	struct crm_err e = { 0 };
	int gz;
	size_t i;

	if (size < 2)
		return 0;
	o.delimiter = delims[data[0] & 3];
	o.max_field = fields[(data[1] >> 4) & 3];
	o.max_record = records[(data[1] >> 4) & 3];
	data += 2;
	size -= 2;

	CHECK(ins_open_mem(data, size, "probe", &probe, &e) == 0, "%s", e.msg);
	gz = ins_is_gzip(probe);
	ins_close(probe);

	/* 64 KiB holds any input the fuzzer makes, like the 1 MiB default, but
	 * allocates less per run. */
	o.block_size = 65536;
	read_all(data, size, &o, &big);
	o.block_size = 1 + (data[-1] & 15);
	read_all(data, size, &o, &small);
	o.block_size = 65536;
	same_results(&big, &small, gz, "small blocks");
	result_free(&small);

	for (i = 1; i < big.n; i++)
		CHECK(big.recs[i].line > big.recs[i - 1].line, "lines go backwards at record %zu", i);
	if (big.open_rc == 0 && big.n)
		CHECK(big.recs[0].line >= 2, "a record before its header line");

	if (!gz) {
		CHECK(big.next_rc == 0, "plain memory input cannot fail");
		check_reference(data, size, (unsigned char)o.delimiter,
				o.max_field ? o.max_field : CSVR_DEFAULT_FIELD,
				o.max_record ? o.max_record : CSVR_DEFAULT_RECORD, &big);
	}
	if (big.open_rc == 0)
		round_trip(&big, &o);
	result_free(&big);
	return 0;
}
