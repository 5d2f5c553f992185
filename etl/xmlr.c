/*
 * xmlr.c - streaming XML record reader on libxml2's xmlTextReader (see
 * xmlr.h for the contract).
 *
 * Owns: the libxml2 reader, copies of the wanted names, one value buffer,
 * and a small queue of start-tag lines. Borrows the input stream. Does not
 * build trees, expand entities, read DTDs or touch libxml2's global state
 * beyond xmlInitParser and the thread's error handlers, which point at the
 * reader only while xmlr_open/xmlr_next run (see route_begin).
 *
 * Why a byte scanner next to libxml2: libxml2 parses ahead of the reader in
 * chunks, so xmlTextReaderGetParserLineNumber() is the line of the parser,
 * not of the node (often tens of lines further), and a node's own line is
 * the line of the end of its start tag, capped at 65535. The bytes handed to
 * libxml2 pass through io_read(), where a tiny lexer (text, tags with quoted
 * attribute values, comments, CDATA, PIs) notes the line of every start tag.
 * Without a DTD every start tag becomes exactly one element node, in order,
 * so the reader pops one line per element node. The same lexer sees "<!D"
 * and refuses the input before libxml2 has parsed any DTD. It only works on
 * ASCII-compatible bytes; for UTF-16/32 it stays off (see xmlr.h, Limits).
 */
#include "xmlr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>

#include "banned.h"

/*
 * No network, no entity substitution, no DTD loading or validation, no
 * XML_PARSE_HUGE (keeps libxml2's 10 MB text and 256 depth limits).
 * COMPACT stores short text inside the node: fewer allocations.
 */
#define XMLR_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_COMPACT)

/* Pending start-tag lines: beyond this the lines are given up, not memory. */
#define XMLR_MAX_PENDING (1u << 20)

/* libxml2 2.12 made the error passed to structured handlers const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *xmlr_xerr;
#else
typedef xmlErrorPtr xmlr_xerr;
#endif

/* States of the line scanner (see the file comment). */
enum scan_state {
	SC_TEXT,        /* character data */
	SC_LT,          /* just after '<' */
	SC_BANG,        /* just after "<!" */
	SC_BANG_DASH,   /* just after "<!-" */
	SC_COMMENT,     /* inside <!-- ... --> */
	SC_CDATA,       /* inside <![CDATA[ ... ]]> */
	SC_PI,          /* inside <? ... ?> */
	SC_DECL,        /* inside </...> or a stray <!x ...> */
	SC_TAG,         /* inside a start tag */
	SC_TAG_DQ,      /* inside "..." in a start tag */
	SC_TAG_SQ       /* inside '...' in a start tag */
};

struct xmlr {
	xmlTextReaderPtr reader;  /* owned */
	struct ins *in;           /* borrowed */
	char *record;             /* owned copy of opts->record */
	char *names[REC_MAX_FIELDS]; /* owned copies, NULL = never matches */
	int alias[REC_MAX_FIELDS];   /* earlier index with the same name, or -1 */
	size_t n;
	size_t max_depth, max_value;

	/* Bytes and the scanner (io_read). */
	uint64_t fed;             /* bytes handed to libxml2 */
	int started;              /* the reader has returned a node */
	int eof;                  /* the document ended cleanly */
	int scan_decided;         /* first bytes looked at */
	int scan;                 /* scanner on: lines come from the queue */
	enum scan_state st;
	int run;                  /* dashes, brackets or '?' just seen */
	long line;                /* scanner: line at the end of the bytes seen */
	long lt_line;             /* line of the last '<' */
	long *q;                  /* ring of start-tag lines, owned */
	size_t q_cap, q_head, q_len;

	/* Errors: the first one is kept and returned from then on. */
	int rc;                   /* sticky: 0, or the negative code */
	struct crm_err fail;      /* what rc means */
	int io_rc;                /* io_read failed with this code */
	int x_fatal;              /* libxml2 reported XML_ERR_FATAL */
	long x_line;
	char x_msg[400];          /* first fatal (or else error) message */

	/* The record being read. */
	int in_rec;
	int rec_depth;            /* reader depth of the record element */
	int cur;                  /* field being captured, or -1 */
	int cur_depth;            /* reader depth of its element */
	size_t cur_off;           /* where its value starts in vbuf */
	size_t cur_stored;        /* bytes stored (leading space skipped) */
	size_t cur_ws;            /* trailing whitespace among them */
	int cur_ws_lost;          /* trailing whitespace not stored (cap) */
	int bad;
	char reason[192];
	unsigned present;         /* bit i: names[i] seen in this record */
	size_t off[REC_MAX_FIELDS], len[REC_MAX_FIELDS];
	long rec_line, last_line;
	char *vbuf;               /* values of this record, owned */
	size_t vbuf_len, vbuf_cap, vbuf_limit;
	uint64_t records;
};

static int is_xml_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Record the reader's first fatal error (where = the input's name). */
static int fail(struct xmlr *r, int code, long line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct xmlr *r, int code, long line, const char *fmt, ...)
{
	char msg[sizeof(r->fail.msg)];
	va_list ap;

	if (r->rc)
		return r->rc;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->rc = code;
	err_at(&r->fail, code, ins_name(r->in), line, NULL, "%s", msg);
	return code;
}

/* ---- line scanner --------------------------------------------------- */

static int q_push(struct xmlr *r, long line)
{
	if (r->q_len == r->q_cap) {
		size_t cap = r->q_cap ? r->q_cap * 2 : 64;
		long *q;
		size_t i;

		if (cap > XMLR_MAX_PENDING) {
			/* Far ahead of the reader: cannot be a sane document. */
			r->scan = 0;
			r->q_len = 0;
			return 0;
		}
		q = malloc(cap * sizeof(*q));
		if (!q)
			return -1;
		for (i = 0; i < r->q_len; i++)
			q[i] = r->q[(r->q_head + i) % r->q_cap];
		free(r->q);
		r->q = q;
		r->q_cap = cap;
		r->q_head = 0;
	}
	r->q[(r->q_head + r->q_len) % r->q_cap] = line;
	r->q_len++;
	return 0;
}

static int q_pop(struct xmlr *r, long *line)
{
	if (!r->scan || r->q_len == 0)
		return 0;
	*line = r->q[r->q_head];
	r->q_head = (r->q_head + 1) % r->q_cap;
	r->q_len--;
	return 1;
}

/*
 * UTF-16/32 and EBCDIC start with a NUL, a BOM byte or EBCDIC '<' (0x4C):
 * their '<' and LF are not single bytes, so the scanner stays off. Any
 * other document worth reading starts with '<', whitespace or a UTF-8 BOM.
 */
static void scan_decide(struct xmlr *r, const unsigned char *p, size_t n)
{
	r->scan_decided = 1;
	r->scan = !(n >= 1 && (p[0] == 0x00 || p[0] == 0xFE || p[0] == 0xFF || p[0] == 0x4C)) &&
		  !(n >= 2 && p[1] == 0x00);
}

static long count_lf(const unsigned char *p, const unsigned char *end)
{
	long n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/*
 * Run the lexer over the next bytes. Text and quoted attribute values are
 * skipped with memchr; LFs are counted lazily, up to each '<' (the only
 * place a line is needed) and at the end of the chunk. Returns 0, or -1
 * after recording why the input is refused.
 */
static int scan_bytes(struct xmlr *r, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *mark = p, *hit;
	enum scan_state st = r->st;
	int run = r->run;

	while (p < end) {
		unsigned char c;

		switch (st) {
		case SC_TEXT:
			hit = memchr(p, '<', (size_t)(end - p));
			if (!hit) {
				p = end;
				continue;
			}
			r->line += count_lf(mark, hit);
			mark = hit;
			r->lt_line = r->line;
			st = SC_LT;
			p = hit + 1;
			continue;
		case SC_TAG_DQ:
		case SC_TAG_SQ:
			hit = memchr(p, st == SC_TAG_DQ ? '"' : '\'', (size_t)(end - p));
			if (!hit) {
				p = end;
				continue;
			}
			st = SC_TAG;
			p = hit + 1;
			continue;
		default:
			break;
		}
		c = *p++;
		switch (st) {
		case SC_LT:
			if (c == '!') {
				st = SC_BANG;
			} else if (c == '?') {
				st = SC_PI;
				run = 0;
			} else if (c == '/') {
				st = SC_DECL;
			} else {
				if (q_push(r, r->lt_line) < 0) {
					fail(r, CRM_E_NOMEM, r->lt_line, "out of memory reading XML");
					goto refuse;
				}
				st = c == '>' ? SC_TEXT : c == '"' ? SC_TAG_DQ : c == '\'' ? SC_TAG_SQ : SC_TAG;
			}
			break;
		case SC_BANG:
			if (c == 'D') {
				fail(r, CRM_E_INPUT, r->lt_line, "DTDs are not allowed");
				goto refuse;
			}
			st = c == '-' ? SC_BANG_DASH : c == '[' ? SC_CDATA : SC_DECL;
			run = 0;
			break;
		case SC_BANG_DASH:
			st = c == '-' ? SC_COMMENT : SC_DECL;
			run = 0;
			break;
		case SC_COMMENT:
			/* "--->" ends like "-->": run saturates at 2. */
			if (c == '>' && run >= 2)
				st = SC_TEXT;
			run = c == '-' ? (run < 2 ? run + 1 : 2) : 0;
			break;
		case SC_CDATA:
			if (c == '>' && run >= 2)
				st = SC_TEXT;
			run = c == ']' ? (run < 2 ? run + 1 : 2) : 0;
			break;
		case SC_PI:
			if (c == '>' && run)
				st = SC_TEXT;
			run = c == '?';
			break;
		case SC_DECL:
			if (c == '>')
				st = SC_TEXT;
			break;
		case SC_TAG:
			if (c == '>')
				st = SC_TEXT;
			else if (c == '"')
				st = SC_TAG_DQ;
			else if (c == '\'')
				st = SC_TAG_SQ;
			break;
		case SC_TEXT:
		case SC_TAG_DQ:
		case SC_TAG_SQ:
			break; /* handled above */
		}
	}
	r->line += count_lf(mark, end);
	r->st = st;
	r->run = run;
	return 0;
refuse:
	r->io_rc = r->rc;
	return -1;
}

/* xmlInputReadCallback: bytes from the stream, seen by the scanner first. */
static int io_read(void *ctx, char *buf, int len)
{
	struct xmlr *r = ctx;
	ssize_t got;

	if (r->io_rc)
		return -1;
	if (!r->started && r->fed > XMLR_PROLOG_MAX) {
		r->io_rc = fail(r, CRM_E_INPUT, r->line, "no root element in the first %u bytes",
				XMLR_PROLOG_MAX);
		return -1;
	}
	if (len <= 0)
		return 0;
	got = ins_read(r->in, buf, (size_t)len);
	if (got < 0) {
		/* The stream filled its own crm_err; keep its code. */
		r->io_rc = fail(r, (int)got, 0, "cannot read XML from '%s'", ins_name(r->in));
		return -1;
	}
	if (got == 0)
		return 0;
	if (!r->scan_decided)
		scan_decide(r, (const unsigned char *)buf, (size_t)got);
	if (r->scan && scan_bytes(r, (const unsigned char *)buf, (size_t)got) < 0)
		return -1;
	r->fed += (uint64_t)got;
	return (int)got;
}

/* xmlStructuredErrorFunc: keep the first fatal error (else the first error). */
static void on_xml_error(void *ctx, xmlr_xerr xe)
{
	struct xmlr *r = ctx;
	size_t len;

	if (!xe || xe->level < XML_ERR_ERROR || r->x_fatal)
		return;
	if (xe->level != XML_ERR_FATAL && r->x_msg[0])
		return;
	r->x_fatal = xe->level == XML_ERR_FATAL;
	r->x_line = xe->line;
	len = xe->message ? strlen(xe->message) : 0;
	if (len >= sizeof(r->x_msg))
		len = sizeof(r->x_msg) - 1;
	if (len)
		memcpy(r->x_msg, xe->message, len);
	while (len > 0 && is_xml_space((unsigned char)r->x_msg[len - 1]))
		len--;
	r->x_msg[len] = '\0';
	if (!r->x_msg[0])
		snprintf(r->x_msg, sizeof(r->x_msg), "libxml2 error %d", xe->code);
}

/*
 * libxml2 raises some errors without a parser context (encoding conversion,
 * I/O, and anything while the reader is being created): those skip the
 * reader's handler and go to the thread's, which prints on stderr. While
 * xmlr runs libxml2 the thread's handler is ours; it is put back after.
 * (2.12 deprecated reading the thread's handler; there such errors may
 * still be printed, but the reader's own handler still reports them.)
 */
struct route {
#if LIBXML_VERSION < 21200
	xmlStructuredErrorFunc fn;
	void *ctx;
	xmlGenericErrorFunc gen_fn;
	void *gen_ctx;
#else
	int unused;
#endif
};

#if LIBXML_VERSION < 21200
/* xmlGenericErrorFunc: plain-text complaints ("xmlParseChunk: encoder
 * error"), kept only when nothing better was reported. */
static void on_generic_error(void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void on_generic_error(void *ctx, const char *fmt, ...)
{
	struct xmlr *r = ctx;
	va_list ap;
	size_t len;

	if (r->x_msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->x_msg, sizeof(r->x_msg), fmt, ap);
	va_end(ap);
	len = strlen(r->x_msg);
	while (len > 0 && is_xml_space((unsigned char)r->x_msg[len - 1]))
		r->x_msg[--len] = '\0';
	r->x_line = 0;
}
#endif

static void route_begin(struct xmlr *r, struct route *s)
{
#if LIBXML_VERSION < 21200
	s->fn = xmlStructuredError;
	s->ctx = xmlStructuredErrorContext;
	s->gen_fn = xmlGenericError;
	s->gen_ctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(r, on_xml_error);
	xmlSetGenericErrorFunc(r, on_generic_error);
#else
	(void)r;
	s->unused = 0;
#endif
}

static void route_end(const struct route *s)
{
#if LIBXML_VERSION < 21200
	xmlSetStructuredErrorFunc(s->ctx, s->fn);
	xmlSetGenericErrorFunc(s->gen_ctx, s->gen_fn);
#else
	(void)s;
#endif
}

/* ---- values --------------------------------------------------------- */

static int vbuf_reserve(struct xmlr *r, size_t extra)
{
	size_t need = r->vbuf_len + extra, cap;
	char *p;

	if (need <= r->vbuf_cap)
		return 0;
	if (need > r->vbuf_limit)
		CRM_BUG("xmlr value buffer past its ceiling (%zu > %zu)", need, r->vbuf_limit);
	cap = r->vbuf_cap ? r->vbuf_cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > r->vbuf_limit)
		cap = r->vbuf_limit;
	p = realloc(r->vbuf, cap);
	if (!p)
		return fail(r, CRM_E_NOMEM, r->rec_line, "out of memory reading XML");
	r->vbuf = p;
	r->vbuf_cap = cap;
	return 0;
}

/* Mark the record bad unless it already is (the first fault wins). */
static void set_bad(struct xmlr *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_bad(struct xmlr *r, const char *fmt, ...)
{
	va_list ap;

	if (r->bad)
		return;
	r->bad = 1;
	r->cur = -1;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* Names in reasons come from the file: %.64s keeps the reason readable. */
static void bad_too_long(struct xmlr *r, size_t i)
{
	set_bad(r, "field '%.64s' longer than %zu bytes", r->names[i], r->max_value);
}

static int find_name(const struct xmlr *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->names[i] && r->names[i][0] == name[0] && strcmp(r->names[i], name) == 0)
			return (int)i;
	return -1;
}

/* Store a whole value (attribute or empty element) for field i. */
static int store_value(struct xmlr *r, int i, const char *v, size_t len)
{
	if (r->present & (1u << i)) {
		set_bad(r, "field '%.64s' given twice", r->names[i]);
		return 0;
	}
	r->present |= 1u << i;
	if (len > r->max_value) {
		bad_too_long(r, (size_t)i);
		return 0;
	}
	if (vbuf_reserve(r, len + 1) < 0)
		return r->rc;
	memcpy(r->vbuf + r->vbuf_len, v, len);
	r->vbuf[r->vbuf_len + len] = '\0';
	r->off[i] = r->vbuf_len;
	r->len[i] = len;
	r->vbuf_len += len + 1;
	return 0;
}

/*
 * Append child text to the field being captured: leading whitespace is
 * never stored, trailing whitespace is stored (it may turn out to be
 * inner) but not counted, and not stored either past max_value, where any
 * later non-space byte makes the value too long.
 */
static int append_text(struct xmlr *r, const unsigned char *t, size_t len)
{
	size_t i = 0, room;

	while (r->cur_stored == 0 && i < len && is_xml_space(t[i]))
		i++;
	if (i == len)
		return 0;
	room = r->max_value - r->cur_stored; /* stored never passes max_value */
	if (vbuf_reserve(r, (len - i < room ? len - i : room) + 1) < 0)
		return r->rc;
	for (; i < len; i++) {
		unsigned char c = t[i];

		if (is_xml_space(c)) {
			if (r->cur_stored < r->max_value) {
				r->vbuf[r->cur_off + r->cur_stored++] = (char)c;
				r->cur_ws++;
			} else {
				r->cur_ws_lost = 1;
			}
			continue;
		}
		if (r->cur_ws_lost || r->cur_stored >= r->max_value) {
			bad_too_long(r, (size_t)r->cur);
			return 0;
		}
		r->vbuf[r->cur_off + r->cur_stored++] = (char)c;
		r->cur_ws = 0;
	}
	r->vbuf_len = r->cur_off + r->cur_stored;
	return 0;
}

static void end_field(struct xmlr *r)
{
	size_t i = (size_t)r->cur, len = r->cur_stored - r->cur_ws;

	r->vbuf[r->cur_off + len] = '\0'; /* room: reserved with the text */
	r->off[i] = r->cur_off;
	r->len[i] = len;
	r->vbuf_len = r->cur_off + len + 1;
	r->cur = -1;
}

static int begin_field(struct xmlr *r, int i, int depth)
{
	if (r->present & (1u << i)) {
		set_bad(r, "field '%.64s' given twice", r->names[i]);
		return 0;
	}
	r->present |= 1u << i;
	if (vbuf_reserve(r, 1) < 0)
		return r->rc;
	r->cur = i;
	r->cur_depth = depth;
	r->cur_off = r->vbuf_len;
	r->cur_stored = 0;
	r->cur_ws = 0;
	r->cur_ws_lost = 0;
	return 0;
}

/* The record element's start tag: its attributes. */
static int begin_record(struct xmlr *r, int depth, long line)
{
	int rc = 0;

	r->in_rec = 1;
	r->rec_depth = depth;
	r->rec_line = line;
	r->bad = 0;
	r->reason[0] = '\0';
	r->present = 0;
	r->vbuf_len = 0;
	r->cur = -1;
	while (rc == 0 && xmlTextReaderMoveToNextAttribute(r->reader) == 1) {
		const char *name = (const char *)xmlTextReaderConstName(r->reader);
		const char *val;
		int i;

		if (!name || (i = find_name(r, name)) < 0)
			continue;
		val = (const char *)xmlTextReaderConstValue(r->reader);
		rc = store_value(r, i, val ? val : "", val ? strlen(val) : 0);
		if (r->bad)
			break;
	}
	xmlTextReaderMoveToElement(r->reader);
	return rc;
}

static void emit(struct xmlr *r, struct rec *rec)
{
	size_t i;

	memset(rec, 0, sizeof(*rec));
	/* Lines are 1-based and never go backwards, even if a fallback line
	 * (libxml2's, or -1 when it has none) is coarser. */
	if (r->rec_line < r->last_line)
		r->rec_line = r->last_line;
	if (r->rec_line < 1)
		r->rec_line = 1;
	r->last_line = r->rec_line;
	rec->line = r->rec_line;
	if (r->bad) {
		rec->bad = 1;
		rec->reason = r->reason;
	} else {
		for (i = 0; i < r->n; i++) {
			if (r->alias[i] >= 0) { /* find_name() only matches the first */
				rec->val[i] = rec->val[r->alias[i]];
				rec->len[i] = rec->len[r->alias[i]];
			} else if (r->present & (1u << i)) {
				rec->val[i] = r->vbuf + r->off[i];
				rec->len[i] = r->len[i];
			}
		}
	}
	r->in_rec = 0;
	r->records++;
}

/* ---- public API ----------------------------------------------------- */

int xmlr_open(struct ins *in, const struct xmlr_opts *opts,
	      const char *const *names, size_t n, struct xmlr **out,
	      struct crm_err *e)
{
	struct route route;
	struct xmlr *r;
	size_t i;
	int rc;

	if (!out)
		return err_set(e, CRM_E_INTERNAL, "xmlr_open: no result pointer");
	*out = NULL;
	if (!in || !opts || (n > 0 && !names))
		return err_set(e, CRM_E_INTERNAL, "xmlr_open: NULL argument");
	if (n > REC_MAX_FIELDS)
		return err_set(e, CRM_E_INTERNAL, "xmlr_open: %zu fields, at most %d", n, REC_MAX_FIELDS);
	if (!opts->record || !opts->record[0])
		return err_at(e, CRM_E_CONFIG, ins_name(in), 0, NULL, "XML record element name is missing");
	if (opts->max_depth > XMLR_LIMIT_DEPTH)
		return err_at(e, CRM_E_CONFIG, ins_name(in), 0, NULL, "XML depth limit %zu is over %d",
			      opts->max_depth, XMLR_LIMIT_DEPTH);
	if (opts->max_value > XMLR_LIMIT_VALUE)
		return err_at(e, CRM_E_CONFIG, ins_name(in), 0, NULL, "XML value limit %zu is over %u",
			      opts->max_value, XMLR_LIMIT_VALUE);

	xmlInitParser();
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, CRM_E_NOMEM, "out of memory opening '%s'", ins_name(in));
	r->in = in;
	r->n = n;
	r->max_depth = opts->max_depth ? opts->max_depth : XMLR_DEFAULT_DEPTH;
	r->max_value = opts->max_value ? opts->max_value : XMLR_DEFAULT_VALUE;
	r->vbuf_limit = (n ? n : 1) * (r->max_value + 1);
	r->line = 1;
	r->cur = -1;
	rc = CRM_E_NOMEM;
	if (!(r->record = strdup(opts->record)))
		goto out;
	for (i = 0; i < n; i++) {
		size_t j;

		r->alias[i] = -1;
		if (!names[i] || !names[i][0])
			continue;
		for (j = 0; j < i && r->alias[i] < 0; j++)
			if (r->names[j] && strcmp(r->names[j], names[i]) == 0)
				r->alias[i] = (int)j;
		if (r->alias[i] < 0 && !(r->names[i] = strdup(names[i])))
			goto out;
	}

	/* Creating the reader already reads the first bytes and may complain
	 * (unsupported encoding) before the reader has a handler. */
	route_begin(r, &route);
	r->reader = xmlReaderForIO(io_read, NULL, r, ins_name(in), NULL, XMLR_PARSE_OPTIONS);
	route_end(&route);
	if (!r->reader) {
		/* An input problem is reported by the first xmlr_next. */
		if (!r->rc && r->x_msg[0])
			fail(r, CRM_E_INPUT, r->x_line, "malformed XML: %s", r->x_msg);
		if (!r->rc)
			goto out; /* allocation failure */
	} else {
		xmlTextReaderSetStructuredErrorHandler(r->reader, on_xml_error, r);
	}
	*out = r;
	return 0;
out:
	xmlr_free(r);
	return err_set(e, rc, "out of memory opening '%s'", ins_name(in));
}

/* The error libxml2 reported (or the reader's failure without one). */
static int xml_failed(struct xmlr *r)
{
	if (r->io_rc)
		return r->rc;
	if (r->x_msg[0])
		return fail(r, CRM_E_INPUT,
			    r->x_line ? r->x_line : xmlTextReaderGetParserLineNumber(r->reader),
			    "malformed XML: %s", r->x_msg);
	return fail(r, CRM_E_INPUT, xmlTextReaderGetParserLineNumber(r->reader), "malformed XML");
}

/* Line of the element node just read (pops one scanner line). */
static long node_line(struct xmlr *r)
{
	long line;

	if (q_pop(r, &line))
		return line;
	return xmlGetLineNo(xmlTextReaderCurrentNode(r->reader));
}

static int on_element(struct xmlr *r, struct rec *rec, int *done)
{
	const char *name = (const char *)xmlTextReaderConstName(r->reader);
	int depth = xmlTextReaderDepth(r->reader);
	int empty = xmlTextReaderIsEmptyElement(r->reader) == 1;
	long line = node_line(r);
	int i, rc;

	if (depth < 0 || !name)
		return fail(r, CRM_E_INTERNAL, line, "libxml2 reader lost its position");
	if ((size_t)depth + 1 > r->max_depth)
		return fail(r, CRM_E_INPUT, line, "elements nested deeper than %zu levels", r->max_depth);
	if (!r->in_rec) {
		if (strcmp(name, r->record) != 0)
			return 0;
		rc = begin_record(r, depth, line);
		if (rc)
			return rc;
		if (empty) {
			emit(r, rec);
			*done = 1;
		}
		return 0;
	}
	if (strcmp(name, r->record) == 0) {
		set_bad(r, "record element '%.64s' inside a record", r->record);
		return 0;
	}
	if (r->bad)
		return 0;
	if (r->cur >= 0) {
		set_bad(r, "element '%.64s' inside field '%.64s'", name, r->names[r->cur]);
		return 0;
	}
	if (depth != r->rec_depth + 1 || (i = find_name(r, name)) < 0)
		return 0; /* unknown child, or inside one */
	rc = begin_field(r, i, depth);
	if (rc == 0 && r->cur >= 0 && empty)
		end_field(r);
	return rc;
}

int xmlr_next(struct xmlr *r, struct rec *rec, struct crm_err *e)
{
	struct route route;
	int done = 0, rc = 0;

	memset(rec, 0, sizeof(*rec));
	if (r->rc || r->eof)
		goto out;
	route_begin(r, &route);
	while (!r->rc && !done) {
		int got, type;

		if (!r->reader)
			CRM_BUG("xmlr without a reader nor an error");
		got = xmlTextReaderRead(r->reader);
		if (r->io_rc || r->x_fatal || got < 0) {
			xml_failed(r);
			break;
		}
		if (got == 0) {
			if (r->in_rec) /* libxml2 would have said so */
				fail(r, CRM_E_INPUT, r->line, "malformed XML: document ends inside a record");
			r->eof = 1;
			break;
		}
		r->started = 1;
		type = xmlTextReaderNodeType(r->reader);
		switch (type) {
		case XML_READER_TYPE_ELEMENT:
			rc = on_element(r, rec, &done);
			break;
		case XML_READER_TYPE_END_ELEMENT:
			if (!r->in_rec)
				break;
			if (r->cur >= 0 && xmlTextReaderDepth(r->reader) == r->cur_depth)
				end_field(r);
			else if (xmlTextReaderDepth(r->reader) == r->rec_depth) {
				emit(r, rec);
				done = 1;
			}
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_WHITESPACE:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
			if (r->in_rec && r->cur >= 0 && !r->bad) {
				const xmlChar *t = xmlTextReaderConstValue(r->reader);

				if (t)
					rc = append_text(r, t, strlen((const char *)t));
			}
			break;
		case XML_READER_TYPE_ENTITY_REFERENCE:
			/* Cannot happen without a DTD; never expand one. */
			if (r->in_rec && r->cur >= 0)
				set_bad(r, "entity reference inside field '%.64s'", r->names[r->cur]);
			break;
		case XML_READER_TYPE_DOCUMENT_TYPE:
			/* The scanner is off (UTF-16/32): libxml2 parsed the DTD
			 * but expanded and loaded nothing. */
			fail(r, CRM_E_INPUT, xmlTextReaderGetParserLineNumber(r->reader),
			     "DTDs are not allowed");
			break;
		default:
			break; /* comments, PIs, ... */
		}
		if (rc)
			break;
	}
	route_end(&route);
out:
	if (r->rc) {
		memset(rec, 0, sizeof(*rec));
		if (e && e->code == 0)
			*e = r->fail;
		return r->rc;
	}
	return done;
}

uint64_t xmlr_records(const struct xmlr *r)
{
	return r->records;
}

void xmlr_free(struct xmlr *r)
{
	size_t i;

	if (!r)
		return;
	if (r->reader)
		xmlFreeTextReader(r->reader);
	for (i = 0; i < REC_MAX_FIELDS; i++)
		free(r->names[i]);
	free(r->record);
	free(r->q);
	free(r->vbuf);
	free(r);
}
