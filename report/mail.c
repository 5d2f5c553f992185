/*
 * mail.c - the mail stage: one MIME message per distribution list, sent by
 * SMTP(S) through libcurl, and the sent ledger that makes re-runs safe.
 *
 * Owns: <data_dir>/sent/ (KEY.sent ledger entries and KEY.pdf archive copies)
 * and <data_dir>/outbox/ (dry runs). Reads the period's report (rendering it
 * with rep_publish() unless its stamp says nothing it reads changed) and the metrics
 * files of the period and the month before for the headline numbers.
 *
 * A report is attached only when rep_publish rendered it whole: a section
 * whose data is missing says so in the PDF, and a section that fails
 * (a damaged file) fails the render, which writes nothing and stops this
 * list and the run before anything is sent (tests/e2e/9006).
 *
 * A list with `segment =` gets that segment's report (rep_publish_segment)
 * and that segment's headline numbers.
 *
 * Does not: queue or spool mail (the SMTP server does that), or send in
 * parallel. The ledger entry and archive copy are prepared before sending
 * and committed by two renames the moment the server accepts; only a crash
 * inside that window (microseconds) makes the next run send the message
 * once more, with the same Message-ID, so mail clients show it once. SMTP
 * offers no way to ask a server whether it already has a message, so this
 * window cannot be closed from the client side.
 */
#include "mail.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "text.h"
#include "fmt.h"
#include "fsx.h"
#include "log.h"
#include "period.h"
#include "publish.h"
#include "rep_seg.h"
#include "sha256.h"

#include "banned.h"

#define MSG_MAX (MAIL_PDF_MAX / 3 * 4 + (8u << 20)) /* the message: PDF in base64 plus text */
#define METRICS_MAX (256u << 20)
#define PATH_MAX_ 4200

/* ---- encodings ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of `len` bytes, no line breaks. */
static int b64_flat(struct buf *b, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		char q[4];

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < len ? b64[v & 63] : '=';
		if (buf_append(b, q, 4))
			return -1;
	}
	return 0;
}

int mail_base64(struct buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t off;

	/* 57 input bytes make exactly 76 characters (RFC 2045 6.8). */
	for (off = 0; off < len; off += 57) {
		size_t n = len - off < 57 ? len - off : 57;

		if (b64_flat(b, p + off, n) || buf_append(b, "\r\n", 2))
			return -1;
	}
	return 0;
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Length of the UTF-8 sequence starting with byte c (1 for a stray byte). */
static size_t utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/*
 * RFC 2047 words, one per line, each line at most 76 characters: the first
 * shares its line with "Name: " (`used` characters), the others start with
 * a space. 12 characters are "=?UTF-8?B?" and "?=".
 */
static int encode_words(struct buf *b, const char *s, size_t used)
{
	size_t len = strlen(s), off = 0;
	int first = 1;

	while (off < len) {
		size_t lead = first ? used : 1;
		size_t max = lead + 12 + 4 < 76 ? (76 - lead - 12) / 4 * 3 : 3;
		size_t n = 0;

		while (off + n < len) {
			size_t c = utf8_len((unsigned char)s[off + n]);

			if (off + n + c > len)
				c = len - off - n;
			if (n + c > max && n > 0)
				break;
			n += c;
		}
		if ((!first && buf_append(b, "\r\n ", 3)) || buf_append(b, "=?UTF-8?B?", 10) ||
		    b64_flat(b, (const unsigned char *)s + off, n) || buf_append(b, "?=", 2))
			return -1;
		first = 0;
		off += n;
	}
	return 0;
}

int mail_header(struct buf *b, const char *name, const char *value)
{
	if (buf_append(b, name, strlen(name)) || buf_append(b, ": ", 2))
		return -1;
	if (is_ascii(value) ? buf_append(b, value, strlen(value)) :
	    encode_words(b, value, strlen(name) + 2))
		return -1;
	return buf_append(b, "\r\n", 2);
}

int mail_subject(const char *tpl, const char *title, const char *period, const char *lang,
		 int restated, char *out, size_t n)
{
	static const char *const names[] = { "{title}", "{period}", "{lang}" };
	const char *vals[3];
	size_t o = 0;
	const char *p;

	vals[0] = title;
	vals[1] = period;
	vals[2] = lang;
	for (p = tpl; *p;) {
		const char *add = p;
		size_t len = 1, k;

		for (k = 0; k < 3; k++)
			if (strncmp(p, names[k], strlen(names[k])) == 0) {
				add = vals[k];
				len = strlen(vals[k]);
				p += strlen(names[k]) - 1;
				break;
			}
		if (o + len >= n)
			return -1;
		memcpy(out + o, add, len);
		o += len;
		p++;
	}
	if (restated) {
		if (o + 11 >= n)
			return -1;
		memcpy(out + o, " (restated)", 11);
		o += 11;
	}
	out[o] = '\0';
	return strpbrk(out, "\r\n") ? -1 : 0;
}

/* ---- keys, ids, dates ---- */

/* The bare address: "Name <a@b>" -> "a@b". */
static void bare_address(const char *a, char *out, size_t n)
{
	const char *lt = strrchr(a, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt)
		snprintf(out, n, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, n, "%s", a);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mail_ledger_key(const char *period, const char *tpl, const char *lang,
		    char *const *to, size_t n_to, char *out)
{
	return mail_list_key(period, tpl, lang, NULL, to, n_to, out);
}

int mail_list_key(const char *period, const char *tpl, const char *lang, const char *segment,
		  char *const *to, size_t n_to, char *out)
{
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	char **sorted = calloc(n_to ? n_to : 1, sizeof(*sorted));
	struct sha256 c;
	size_t i;
	int rc = 0;

	if (!sorted)
		return -1;
	for (i = 0; i < n_to && rc == 0; i++) {
		char *s, *q;

		sorted[i] = s = malloc(strlen(to[i]) + 1);
		if (!s) {
			rc = -1;
			break;
		}
		bare_address(to[i], s, strlen(to[i]) + 1);
		for (q = s; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
	}
	if (rc == 0) {
		qsort(sorted, n_to, sizeof(*sorted), cmp_str);
		sha256_init(&c);
		for (i = 0; i < n_to; i++)
			sha256_update(&c, sorted[i], strlen(sorted[i]) + 1);
		/*
		 * After the addresses, behind a byte no address has, so a list
		 * without a segment keeps the key it always had.
		 */
		if (segment) {
			sha256_update(&c, "\001", 1);
			sha256_update(&c, segment, strlen(segment) + 1);
		}
		sha256_final(&c, d);
		sha256_hex(d, hex);
		if ((size_t)snprintf(out, MAIL_KEY_MAX, "%s-%s-%s-%.16s", period, tpl, lang, hex) >=
		    MAIL_KEY_MAX)
			rc = -1;
	}
	for (i = 0; i < n_to; i++)
		free(sorted[i]);
	free(sorted);
	return rc;
}

int mail_message_id(const char *key, const char *pdf_sha, const char *from, char *out, size_t n)
{
	char addr[512], hex[SHA256_HEX_LEN + 1];
	const char *at, *dom = "localhost";
	struct sha256 c;
	unsigned char d[SHA256_LEN];

	bare_address(from, addr, sizeof(addr));
	at = strrchr(addr, '@');
	if (at && at[1] && !strpbrk(at + 1, " <>\r\n"))
		dom = at + 1;
	sha256_init(&c);
	sha256_update(&c, key, strlen(key) + 1);
	sha256_update(&c, pdf_sha, strlen(pdf_sha));
	sha256_final(&c, d);
	sha256_hex(d, hex);
	return (size_t)snprintf(out, n, "<%.32s.crmetl@%s>", hex, dom) >= n ? -1 : 0;
}

int mail_date(time_t t, char *out, size_t n)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return -1;
	/* Not strftime: %a and %b follow the locale; RFC 5322 wants English. */
	return (size_t)snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
				tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
				tm.tm_min, tm.tm_sec) >= n ? -1 : 0;
}

static void iso_time(time_t t, char *out, size_t n)
{
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, n, "1970-01-01T00:00:00Z");
}

/* ---- headline numbers ---- */

struct headline {
	const char *metric;
	const char *en, *zh;
	enum fmt_kind kind;
};

static const struct headline heads[] = {
	{ "revenue", "Revenue", "\xe6\x94\xb6\xe5\x85\xa5", FMT_MONEY },
	{ "customers_end", "Customers at month end", "\xe6\x9c\x9f\xe6\x9c\xab\xe5\xae\xa2\xe6\x88\xb7\xe6\x95\xb0", FMT_COUNT },
	{ "new_customers", "New customers", "\xe6\x96\xb0\xe5\xae\xa2\xe6\x88\xb7", FMT_COUNT },
	{ "churn_rate", "Churn rate", "\xe6\xb5\x81\xe5\xa4\xb1\xe7\x8e\x87", FMT_PERCENT },
	{ "nps", "NPS", "NPS", FMT_NPS },
};
#define N_HEADS (sizeof(heads) / sizeof(heads[0]))

struct numbers {
	double cur[N_HEADS], prev[N_HEADS];
	int has_cur[N_HEADS], has_prev[N_HEADS];
};

/* Split a CSV line of plain fields (no quotes) into at most `max` fields. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		f[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

/* Pick the headline rows (dim/segment, no k) out of a metrics CSV held in text. */
static void pick(char *text, const char *dim, const char *seg, double *v, int *has)
{
	char *line = text, *nl;

	for (; line && *line; line = nl ? nl + 1 : NULL) {
		char *f[8];
		size_t i, n;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strchr(line, '"') || (n = split(line, f, 8)) < 6)
			continue;
		if (strcmp(f[2], dim) || strcmp(f[3], seg) || f[4][0])
			continue;
		for (i = 0; i < N_HEADS; i++)
			if (strcmp(f[1], heads[i].metric) == 0 && f[5][0]) {
				char *end;

				v[i] = strtod(f[5], &end);
				has[i] = *end == '\0' || *end == '\r';
			}
	}
}

/* Read a metrics file; *sha gets its sha256 hex. A missing file is not an error here. */
static int read_numbers(const char *path, const char *dim, const char *seg, double *v, int *has,
			char *sha, struct crm_err *e)
{
	unsigned char *text = NULL;
	size_t len;
	int rc = fsx_read_file(path, METRICS_MAX, &text, &len, e);

	if (rc == CRM_E_INPUT && e->sys_errno == ENOENT) {
		err_clear(e);
		if (sha)
			sha[0] = '\0';
		return 0;
	}
	if (rc)
		return rc;
	if (sha)
		sha256_hex_of(text, len, sha);
	pick((char *)text, dim, seg, v, has);
	free(text);
	return 0;
}

/* ---- message bodies ---- */

struct letter {
	const struct cfg *cfg;
	const struct cfg_mail *m;
	const char *period, *prev_period, *tpl, *lang, *pdf_name;
	const char *subject, *date, *msgid;
	int restated;
	struct numbers num;
	const unsigned char *pdf;
	size_t pdf_len;
};

/* One headline as "Label: value (change vs P-1)" pieces. */
static void headline_text(const struct letter *l, size_t i, char *val, size_t n, char *chg,
			  size_t nc)
{
	int sign;
	char c[FMT_MAX];

	fmt_value(val, n, heads[i].kind, l->num.cur[i], l->cfg->currency);
	if (!l->num.has_prev[i]) {
		snprintf(chg, nc, "no figure for %s", l->prev_period);
		return;
	}
	fmt_change(c, sizeof(c), heads[i].kind, l->num.cur[i], l->num.prev[i], &sign);
	snprintf(chg, nc, "%s vs %s", c, l->prev_period);
}

static int zh(const struct letter *l)
{
	return strcmp(l->lang, "zh") == 0;
}

static int put(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

static int put_html(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++)
		rc = *s == '<' ? put(b, "&lt;") : *s == '>' ? put(b, "&gt;") :
		     *s == '&' ? put(b, "&amp;") : *s == '"' ? put(b, "&quot;") :
		     buf_append(b, s, 1);
	return rc;
}

static const char *restated_note(const struct letter *l)
{
	return zh(l) ? "\xe6\xb3\xa8\xe6\x84\x8f\xef\xbc\x9a\xe6\x9c\xac\xe6\x9c\x9f\xe6\x95\xb0"
		       "\xe6\x8d\xae\xe5\xb7\xb2\xe6\x9b\xb4\xe6\xad\xa3 (restated)" :
		       "Note: this period was restated since the report was last sent; these "
		       "figures replace the earlier ones.";
}

static int text_body(const struct letter *l, struct buf *b)
{
	size_t i;
	int rc = put(b, l->subject);

	rc = rc || put(b, "\r\n\r\n");
	if (l->m->segment)
		rc = rc || put(b, "Segment: ") || put(b, l->m->segment) || put(b, "\r\n\r\n");
	for (i = 0; i < N_HEADS && rc == 0; i++) {
		char val[FMT_MAX], chg[FMT_MAX + 32];

		if (!l->num.has_cur[i])
			continue;
		headline_text(l, i, val, sizeof(val), chg, sizeof(chg));
		rc = put(b, zh(l) ? heads[i].zh : heads[i].en) || put(b, ": ") || put(b, val) ||
		     put(b, " (") || put(b, chg) || put(b, ")\r\n");
	}
	if (l->restated)
		rc = rc || put(b, "\r\n") || put(b, restated_note(l)) || put(b, "\r\n");
	rc = rc || put(b, "\r\nThe full report is attached: ") || put(b, l->pdf_name) ||
	     put(b, "\r\n\r\n-- \r\ncrmetl\r\n");
	return rc;
}

static int html_body(const struct letter *l, struct buf *b)
{
	size_t i;
	int rc = put(b, "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><title>");

	rc = rc || put_html(b, l->subject) || put(b, "</title></head>\r\n<body>\r\n<h1>") ||
	     put_html(b, l->subject) || put(b, "</h1>\r\n");
	if (l->m->segment)
		rc = rc || put(b, "<p>Segment: ") || put_html(b, l->m->segment) || put(b, "</p>\r\n");
	rc = rc || put(b, "<table>\r\n");
	for (i = 0; i < N_HEADS && rc == 0; i++) {
		char val[FMT_MAX], chg[FMT_MAX + 32];

		if (!l->num.has_cur[i])
			continue;
		headline_text(l, i, val, sizeof(val), chg, sizeof(chg));
		rc = put(b, "<tr><th align=\"left\">") || put_html(b, zh(l) ? heads[i].zh : heads[i].en) ||
		     put(b, "</th><td align=\"right\">") || put_html(b, val) || put(b, "</td><td>") ||
		     put_html(b, chg) || put(b, "</td></tr>\r\n");
	}
	rc = rc || put(b, "</table>\r\n");
	if (l->restated)
		rc = rc || put(b, "<p><strong>") || put_html(b, restated_note(l)) || put(b, "</strong></p>\r\n");
	rc = rc || put(b, "<p>The full report is attached: ") || put_html(b, l->pdf_name) ||
	     put(b, "</p>\r\n</body></html>\r\n");
	return rc;
}

/* ---- the MIME message ---- */

static int part_head(struct buf *b, const char *bnd, const char *type)
{
	return put(b, "--") || put(b, bnd) || put(b, "\r\nContent-Type: ") || put(b, type) ||
	       put(b, "\r\n");
}

/* A text part: UTF-8 in base64 (safe for any byte and any line length). */
static int text_part(struct buf *b, const char *bnd, const char *type, const struct buf *body)
{
	return part_head(b, bnd, type) || put(b, "Content-Transfer-Encoding: base64\r\n\r\n") ||
	       mail_base64(b, body->data, body->len);
}

static int top_headers(const struct letter *l, struct buf *b, const char *bnd)
{
	struct buf to;
	size_t i;
	int rc;

	buf_init(&to, 64 * 1024);
	for (i = 0; i < l->m->n_to; i++)
		if ((i && put(&to, ", ")) || put(&to, l->m->to[i]))
			break;
	rc = to.failed || buf_append(&to, "", 1) ||
	     mail_header(b, "From", l->m->from) || mail_header(b, "To", (const char *)to.data) ||
	     mail_header(b, "Date", l->date) || mail_header(b, "Message-ID", l->msgid) ||
	     mail_header(b, "Subject", l->subject) || mail_header(b, "MIME-Version", "1.0") ||
	     put(b, "Content-Type: multipart/mixed; boundary=\"") || put(b, bnd) ||
	     put(b, "\"\r\nX-Mailer: crmetl\r\n\r\nThis is a MIME message.\r\n");
	buf_release(&to);
	return rc;
}

static int build_message(const struct letter *l, struct buf *b)
{
	char mixed[64], alt[64], type[320], disp[340];
	struct buf text, html;
	int rc;

	/* '=' never occurs inside base64 lines, so these cannot clash with a body. */
	snprintf(mixed, sizeof(mixed), "=_crmetl_mixed_%.18s", l->msgid + 1);
	snprintf(alt, sizeof(alt), "=_crmetl_alt_%.18s", l->msgid + 1);
	snprintf(type, sizeof(type), "application/pdf; name=\"%s\"", l->pdf_name);
	snprintf(disp, sizeof(disp), "Content-Disposition: attachment; filename=\"%s\"\r\n", l->pdf_name);
	buf_init(&text, 1 << 20);
	buf_init(&html, 1 << 20);
	rc = text_body(l, &text) || html_body(l, &html) || top_headers(l, b, mixed) ||
	     put(b, "--") || put(b, mixed) ||
	     put(b, "\r\nContent-Type: multipart/alternative; boundary=\"") || put(b, alt) ||
	     put(b, "\"\r\n\r\n") ||
	     text_part(b, alt, "text/plain; charset=UTF-8", &text) ||
	     text_part(b, alt, "text/html; charset=UTF-8", &html) ||
	     put(b, "--") || put(b, alt) || put(b, "--\r\n") ||
	     part_head(b, mixed, type) || put(b, disp) ||
	     put(b, "Content-Transfer-Encoding: base64\r\n\r\n") ||
	     mail_base64(b, l->pdf, l->pdf_len) || put(b, "--") || put(b, mixed) || put(b, "--\r\n");
	buf_release(&text);
	buf_release(&html);
	return rc || b->failed ? -1 : 0;
}

/* ---- SMTP ---- */

/*
 * The ledger commit (see send_and_commit): the prepared archive copy and
 * ledger entry are renamed to their real names, archive first so a ledger
 * entry always has its PDF; uncommit renames them back.
 */
struct commit {
	const char *from[2], *to[2];
	const char *prev[2]; /* links to the entry being replaced, restored by uncommit */
	int done;      /* both renamed */
	int sys_errno; /* of a failed rename */
};

static void commit_now(struct commit *c)
{
	int i;

	for (i = 0; i < 2; i++)
		if (rename(c->from[i], c->to[i]) != 0) {
			c->sys_errno = errno;
			return;
		}
	c->done = 1;
}

/*
 * The renames undone; the entry they replaced (a report sent before, sent
 * again with --force or restated) is linked back, so a refused re-send
 * does not forget the delivery that did happen.
 */
static void uncommit(struct commit *c)
{
	int i;

	if (c && c->done) {
		rename(c->to[1], c->from[1]);
		rename(c->to[0], c->from[0]);
		for (i = 0; i < 2; i++)
			link(c->prev[i], c->to[i]); /* ENOENT: nothing was replaced */
		c->done = 0;
	}
}

struct upload {
	const unsigned char *p;
	size_t len, off;
	struct commit *c; /* committed when the data runs out, or NULL */
};

/*
 * Only after the last byte has been handed over here does libcurl send the
 * end-of-data line, without which no server delivers the message. So the
 * ledger is committed as the last byte goes, just before the message
 * becomes complete: a kill from then on finds it recorded as sent (see
 * send_and_commit).
 */
static size_t on_read(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct upload *u = userp;
	size_t n = size * nmemb;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(ptr, u->p + u->off, n);
	u->off += n;
	if (u->off == u->len && u->c && !u->c->done) {
		commit_now(u->c);
		if (!u->c->done)
			return CURL_READFUNC_ABORT; /* not recorded: do not complete it */
	}
	return n;
}

static const char *list_name(const struct cfg_mail *m, char *out, size_t n)
{
	snprintf(out, n, m->name[0] ? "mail.%s" : "mail", m->name);
	return out;
}

/* Transient: connection trouble, time-outs, and 4xx SMTP replies (RFC 5321 4.2.1). */
static int transient(CURLcode cc, long code)
{
	if (code >= 400 && code < 500)
		return 1;
	if (code >= 500)
		return 0;
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	       cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR ||
	       cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING;
}

struct secrets {
	char *user, *password; /* owned, wiped on release; NULL when not configured */
};

static void secrets_release(struct secrets *s)
{
	if (s->user)
		explicit_bzero(s->user, strlen(s->user));
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->user);
	free(s->password);
	s->user = s->password = NULL;
}

static int secrets_load(const struct cfg *cfg, const struct cfg_mail *m, struct secrets *s,
			struct crm_err *e)
{
	int rc = 0;

	s->user = s->password = NULL;
	if (m->user && (rc = cfg_secret_resolve(m->user, &s->user, e)))
		return err_context(e, cfg->path, m->line);
	if (m->password && (rc = cfg_secret_resolve(m->password, &s->password, e))) {
		secrets_release(s);
		return err_context(e, cfg->path, m->line);
	}
	return rc;
}

int mail_url_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n, i;

	if (!h)
		return 0;
	h += 3;
	if (*h == '[') {
		h++;
		n = strcspn(h, "]");
		if (h[n] != ']' || n >= sizeof(host))
			return 0;
		memcpy(host, h, n);
		host[n] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	n = strcspn(h, ":/?#");
	if (n == 0 || n >= sizeof(host))
		return 0;
	for (i = 0; i < n; i++)
		host[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] - 'A' + 'a' : h[i]);
	host[n] = '\0';
	if (!strcmp(host, "localhost"))
		return 1;
	/* a dotted quad only: "127.1.2.3.4" or "127.0.0.1." would go to the resolver */
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/*
 * Credentials never cross the network in clear: with a user or password
 * on smtp://, STARTTLS is required (libcurl's CURLUSESSL_ALL) unless the
 * server is on this machine (a local relay). Otherwise STARTTLS is used
 * when the server offers it. smtps:// is TLS from the start either way.
 */
static long tls_level(const char *url, const struct secrets *s)
{
	if ((s->user || s->password) && strncasecmp(url, "smtp://", 7) == 0 && !mail_url_loopback(url))
		return (long)CURLUSESSL_ALL;
	return (long)CURLUSESSL_TRY;
}

#define SETOPT(opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(h, opt, val); } while (0)

/*
 * One attempt; fills *code with the last SMTP reply code and errbuf. `c`
 * (or NULL) is committed as the data ends (on_read) and undone when the
 * server does not accept the message after all.
 */
static CURLcode attempt(const struct cfg_mail *m, const char *ca_file, const struct secrets *s,
			struct curl_slist *rcpt, const struct buf *msg, struct commit *c,
			long *code, char *errbuf)
{
	struct upload u = { msg->data, msg->len, 0, c };
	char from[512];
	CURLcode cc = CURLE_OK;
	CURL *h = curl_easy_init();

	*code = 0;
	errbuf[0] = '\0';
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	bare_address(m->from, from, sizeof(from));
	SETOPT(CURLOPT_URL, m->url);
	SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SETOPT(CURLOPT_USE_SSL, tls_level(m->url, s));
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file) /* a private CA instead of the system's (verification stays on) */
		SETOPT(CURLOPT_CAINFO, ca_file);
	SETOPT(CURLOPT_CONNECTTIMEOUT, 30L);
	SETOPT(CURLOPT_TIMEOUT, 300L);
	SETOPT(CURLOPT_MAIL_FROM, from);
	SETOPT(CURLOPT_MAIL_RCPT, rcpt);
	SETOPT(CURLOPT_READFUNCTION, on_read);
	SETOPT(CURLOPT_READDATA, (void *)&u);
	SETOPT(CURLOPT_UPLOAD, 1L);
	SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
	if (s->user)
		SETOPT(CURLOPT_USERNAME, s->user);
	if (s->password)
		SETOPT(CURLOPT_PASSWORD, s->password);
	if (cc == CURLE_OK)
		cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	if (!(cc == CURLE_OK && (*code == 0 || *code / 100 == 2)))
		uncommit(c);
	curl_easy_cleanup(h);
	return cc;
}

#undef SETOPT

static long backoff_base(void)
{
	const char *s = getenv("CRMETL_MAIL_BACKOFF_MS");
	char *end;
	long v;

	if (!s || !*s)
		return MAIL_BACKOFF_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 0 || v > MAIL_BACKOFF_MAX_MS ? MAIL_BACKOFF_MS : v;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

static int rcpt_list(const struct cfg_mail *m, struct curl_slist **out)
{
	struct curl_slist *l = NULL, *n;
	size_t i;

	for (i = 0; i < m->n_to; i++) {
		char a[512];

		bare_address(m->to[i], a, sizeof(a));
		n = curl_slist_append(l, a);
		if (!n) {
			curl_slist_free_all(l);
			return -1;
		}
		l = n;
	}
	*out = l;
	return 0;
}

/*
 * The CA certificates a list trusts: its own ca_file, else that of [mail]
 * when the list sends through the same server (a [mail.NAME] without url
 * inherits [mail]'s, and its CA goes with it), else the system's (NULL).
 */
static const char *list_ca_file(const struct cfg *cfg, const struct cfg_mail *m)
{
	const struct cfg_mail *top = cfg->n_mails && !cfg->mails[0].name[0] ? &cfg->mails[0] : NULL;

	if (m->ca_file)
		return m->ca_file;
	if (top && top != m && top->ca_file && top->url && m->url && strcmp(top->url, m->url) == 0)
		return top->ca_file;
	return NULL;
}

/*
 * Send with retries; CRM_E_MAIL naming the list, URL and SMTP code or curl
 * error. `c` (or NULL) is committed as the message is completed (on_read)
 * and stays so only when the server accepts it.
 */
static int smtp_send(const struct cfg *cfg, const struct cfg_mail *m, const struct buf *msg,
		     struct commit *c, struct crm_err *e)
{
	char url[1024], lname[80], errbuf[CURL_ERROR_SIZE], reply[80] = "";
	struct curl_slist *rcpt = NULL;
	struct secrets s;
	long code = 0, delay = backoff_base();
	CURLcode cc = CURLE_OK;
	int i, n, rc;

	text_url_redact(m->url, url, sizeof(url));
	list_name(m, lname, sizeof(lname));
	if ((rc = secrets_load(cfg, m, &s, e)) != 0)
		return rc;
	if (rcpt_list(m, &rcpt)) {
		secrets_release(&s);
		return err_set(e, CRM_E_NOMEM, "out of memory");
	}
	for (i = 0; i <= MAIL_RETRIES; i++) {
		if (i) {
			log_warn("mail: [%s] attempt %d failed (%s, SMTP reply %ld): retrying in %ld ms",
				 lname, i, errbuf[0] ? errbuf : curl_easy_strerror(cc), code, delay);
			sleep_ms(delay);
			delay = delay * 2 > MAIL_BACKOFF_MAX_MS ? MAIL_BACKOFF_MAX_MS : delay * 2;
		}
		cc = attempt(m, list_ca_file(cfg, m), &s, rcpt, msg, c, &code, errbuf);
		if ((cc == CURLE_OK && (code == 0 || code / 100 == 2)) || !transient(cc, code))
			break;
	}
	curl_slist_free_all(rcpt);
	secrets_release(&s);
	if (cc == CURLE_OK && (code == 0 || code / 100 == 2))
		return 0;
	n = i > MAIL_RETRIES ? i : i + 1;
	if (code)
		snprintf(reply, sizeof(reply), " (SMTP reply %ld)", code);
	if (cc == CURLE_USE_SSL_FAILED)
		snprintf(reply, sizeof(reply), " (no STARTTLS, and credentials go only over TLS)");
	rc = err_at(e, CRM_E_MAIL, url, 0, lname, "cannot deliver the report to [%s] after %d attempt%s: %s%s",
		    lname, n, n > 1 ? "s" : "", errbuf[0] ? errbuf : curl_easy_strerror(cc), reply);
	e->status = code;
	return rc;
}

/* ---- the ledger ---- */

struct paths {
	char report[PATH_MAX_], ledger[PATH_MAX_], archive[PATH_MAX_], eml[PATH_MAX_];
	char ledger_pending[PATH_MAX_], archive_pending[PATH_MAX_], unconfirmed[PATH_MAX_];
	char ledger_prev[PATH_MAX_], archive_prev[PATH_MAX_];
	char metrics[PATH_MAX_], prev_metrics[PATH_MAX_];
};

static int make_paths(const struct cfg *cfg, const struct cfg_mail *m, int period,
		      const char *key, const char *pt, const char *pp, const char *tpl,
		      const char *lang, struct paths *p, struct crm_err *e)
{
	const char *d = cfg->data_dir;

	/* a list with a segment gets that segment's report (rep_seg.h) */
	if (m->segment &&
	    rep_segment_report_path(cfg, period, tpl, lang, m->segment, p->report, PATH_MAX_, e))
		return e->code;
	if ((!m->segment &&
	     (size_t)snprintf(p->report, PATH_MAX_, "%s/reports/%s-%s-%s.pdf", d, pt, tpl, lang) >= PATH_MAX_) ||
	    (size_t)snprintf(p->ledger, PATH_MAX_, "%s/sent/%s.sent", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->archive, PATH_MAX_, "%s/sent/%s.pdf", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->ledger_pending, PATH_MAX_, "%s/sent/%s.sent.pending", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->archive_pending, PATH_MAX_, "%s/sent/%s.pdf.pending", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->unconfirmed, PATH_MAX_, "%s/sent/%s.unconfirmed", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->ledger_prev, PATH_MAX_, "%s/sent/%s.sent.previous", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->archive_prev, PATH_MAX_, "%s/sent/%s.pdf.previous", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->eml, PATH_MAX_, "%s/outbox/%s.eml", d, key) >= PATH_MAX_ ||
	    (size_t)snprintf(p->metrics, PATH_MAX_, "%s/metrics/%s.csv", d, pt) >= PATH_MAX_ ||
	    (size_t)snprintf(p->prev_metrics, PATH_MAX_, "%s/metrics/%s.csv", d, pp) >= PATH_MAX_)
		return err_at(e, CRM_E_IO, d, 0, NULL, "path too long");
	return 0;
}

/*
 * Read a ledger entry: *found = 0 when there is none; the value of
 * "metrics_sha256 = " into msha and of "sent_at = " into when.
 */
static int ledger_read(const char *path, int *found, char *msha, char *when, size_t nwhen,
		       struct crm_err *e)
{
	unsigned char *text = NULL;
	size_t len;
	const char *v;
	int rc = fsx_read_file(path, 64 * 1024, &text, &len, e);

	*found = 0;
	msha[0] = when[0] = '\0';
	if (rc == CRM_E_INPUT && e->sys_errno == ENOENT) {
		err_clear(e);
		return 0;
	}
	if (rc)
		return rc;
	*found = 1;
	if ((v = strstr((char *)text, "metrics_sha256 = ")) != NULL)
		snprintf(msha, SHA256_HEX_LEN + 1, "%.*s", (int)strcspn(v + 17, "\r\n"), v + 17);
	if ((v = strstr((char *)text, "sent_at = ")) != NULL)
		snprintf(when, nwhen, "%.*s", (int)strcspn(v + 10, "\r\n"), v + 10);
	free(text);
	return 0;
}

/* The ledger entry as it will be once sent, written to KEY.sent.pending. */
static int ledger_write(const struct paths *p, const struct cfg_mail *m, const char *msgid,
			time_t now, const char *pdf_sha, const char *msha, struct crm_err *e)
{
	char when[32], url[1024];
	struct buf b;
	size_t i;
	int rc;

	iso_time(now, when, sizeof(when));
	text_url_redact(m->url, url, sizeof(url));
	buf_init(&b, 1 << 20);
	put(&b, "message_id = ");
	put(&b, msgid);
	put(&b, "\nsent_at = ");
	put(&b, when);
	put(&b, "\npdf_sha256 = ");
	put(&b, pdf_sha);
	put(&b, "\nmetrics_sha256 = ");
	put(&b, msha);
	put(&b, "\nurl = ");
	put(&b, url);
	put(&b, "\nto = ");
	for (i = 0; i < m->n_to; i++)
		put(&b, m->to[i]), put(&b, i + 1 < m->n_to ? ", " : "\n");
	rc = b.failed ? err_set(e, CRM_E_NOMEM, "out of memory") :
			fsx_write_atomic(p->ledger_pending, b.data, b.len, e);
	buf_release(&b);
	return rc;
}

/* ---- one list ---- */

/*
 * The report to attach: rendered again unless its stamp says nothing it
 * reads changed since (publish.c), so a restated month or a damaged input
 * is never hidden behind an older PDF.
 */
static int ensure_report(const struct cfg *cfg, int period, const char *tpl, const char *lang,
			 const char *segment, const struct paths *p, struct crm_err *e)
{
	int rendered;

	if (segment) { /* drawn anew each time: a list's segment has no freshness stamp */
		log_info("mail: rendering %s first", p->report);
		return rep_publish_segment(cfg, period, tpl, lang, segment, e);
	}
	if (rep_report_fresh(cfg, period, tpl, lang))
		return 0;
	log_info("mail: rendering %s first", p->report);
	return rep_publish_if_changed(cfg, period, tpl, lang, 1, &rendered, e);
}

struct job {
	const struct cfg *cfg;
	const struct cfg_mail *m;
	const struct mail_opts *o;
	int period;
	char pt[PERIOD_TEXT_MAX], pp[PERIOD_TEXT_MAX];
	const char *tpl, *lang;
	char key[MAIL_KEY_MAX], lname[80];
	struct paths p;
	char msha[SHA256_HEX_LEN + 1], old_msha[SHA256_HEX_LEN + 1], sent_at[40];
	int in_ledger;
	struct numbers num;
};

/* Headline numbers of the list's segment ("all" without one). */
static int load_numbers(struct job *j, struct numbers *n, struct crm_err *e)
{
	char dim[64] = "all", seg[256] = "";
	const char *eq = j->m->segment ? strchr(j->m->segment, '=') : NULL;
	int rc;

	if (eq) {
		snprintf(dim, sizeof(dim), "%.*s", (int)(eq - j->m->segment), j->m->segment);
		snprintf(seg, sizeof(seg), "%s", eq + 1);
	}
	memset(n, 0, sizeof(*n));
	rc = read_numbers(j->p.metrics, dim, seg, n->cur, n->has_cur, j->msha, e);
	if (rc == 0 && !j->msha[0])
		return err_at(e, CRM_E_INPUT, j->p.metrics, 0, NULL,
			      "no metrics for %s: nothing to mail (run crmetl compute first)", j->pt);
	if (rc == 0)
		rc = read_numbers(j->p.prev_metrics, dim, seg, n->prev, n->has_prev, NULL, e);
	return rc;
}

static int pdf_load(struct job *j, unsigned char **pdf, size_t *len, struct crm_err *e)
{
	int rc;

	if (j->o->resend) {
		rc = fsx_read_file(j->p.archive, MAIL_PDF_MAX, pdf, len, e);
		if (rc == CRM_E_INPUT && e->sys_errno == ENOENT) {
			err_clear(e);
			return err_at(e, CRM_E_INPUT, j->p.archive, 0, j->lname,
				      "nothing to resend: [%s] was never sent the %s report", j->lname, j->pt);
		}
		return rc;
	}
	rc = ensure_report(j->cfg, j->period, j->tpl, j->lang, j->m->segment, &j->p, e);
	return rc ? rc : fsx_read_file(j->p.report, MAIL_PDF_MAX, pdf, len, e);
}

/*
 * Sending is a small protocol with the files of sent/, so that a kill at
 * any moment neither loses a report nor sends it twice, as far as SMTP
 * allows (it has no way to ask a server whether it already has a message):
 *
 *   1. write KEY.pdf.pending and KEY.sent.pending (the archive copy and
 *      ledger entry as they will be), and the marker KEY.unconfirmed;
 *   2. send; as libcurl takes the last byte, before it sends the
 *      end-of-data line, rename the two pending files to KEY.pdf and
 *      KEY.sent (on_read);
 *   3. the server's 2xx reply: remove the marker. Any other outcome renames
 *      the files back and removes all three: nothing recorded, retried.
 *
 * An entry already there (a --force or restated re-send) is kept as hard
 * links KEY.sent.previous and KEY.pdf.previous until the outcome is known,
 * and put back when the server refuses.
 *
 * A kill before 2 leaves *.pending: the message was never complete, the
 * next run sends it. A kill after 2 leaves KEY.sent and the marker: the
 * server had or was about to have the complete message, which it processes
 * on its own time, so it counts as sent (the next run says so with a
 * warning) rather than being sent twice. The one gap is a kill between the
 * renames and libcurl writing the end-of-data line (microseconds), or the
 * server refusing the finished message just as the process is killed: the
 * report is then recorded but not delivered; the warning names it and
 * `crmetl mail --period P --force` sends it.
 */
/* Hard links to the entry this send replaces (see above); none there is fine. */
static int keep_previous(const struct job *j, struct crm_err *e)
{
	const char *from[2] = { j->p.ledger, j->p.archive };
	const char *to[2] = { j->p.ledger_prev, j->p.archive_prev };
	int i;

	for (i = 0; i < 2; i++) {
		unlink(to[i]);
		if (link(from[i], to[i]) != 0 && errno != ENOENT)
			return err_sys(e, CRM_E_IO, errno, to[i], "cannot keep the ledger entry");
	}
	return 0;
}

static int record_pending(struct job *j, const unsigned char *pdf, size_t pdf_len,
			  const char *pdf_sha, const char *msgid, time_t now, struct crm_err *e)
{
	int rc = fsx_write_atomic(j->p.archive_pending, pdf, pdf_len, e);

	rc = rc ? rc : ledger_write(&j->p, j->m, msgid, now, pdf_sha,
				    j->o->resend && j->in_ledger ? j->old_msha : j->msha, e);
	rc = rc ? rc : fsx_write_atomic(j->p.unconfirmed, "", 0, e);
	return rc ? rc : keep_previous(j, e);
}

static void drop_pending(const struct job *j)
{
	unlink(j->p.archive_pending);
	unlink(j->p.ledger_pending);
	unlink(j->p.unconfirmed);
	unlink(j->p.ledger_prev);
	unlink(j->p.archive_prev);
}

/* What an earlier run killed while sending to this list left (see above). */
static void settle_interrupted(const struct job *j)
{
	if (access(j->p.ledger_pending, F_OK) == 0) {
		/* killed while putting a replaced entry back: finish that */
		if (access(j->p.ledger, F_OK) != 0 && link(j->p.ledger_prev, j->p.ledger) == 0)
			link(j->p.archive_prev, j->p.archive);
		log_warn("mail: [%s] an earlier run was stopped before its message of %s-%s-%s was "
			 "complete: it was not delivered", j->lname, j->pt, j->tpl, j->lang);
		drop_pending(j);
	} else if (access(j->p.unconfirmed, F_OK) == 0) {
		log_warn("mail: [%s] an earlier run was stopped after handing %s-%s-%s to the server, "
			 "before its reply: counted as sent ('crmetl mail --period %s --force' sends it "
			 "again if it did not arrive)", j->lname, j->pt, j->tpl, j->lang, j->pt);
		unlink(j->p.unconfirmed);
	}
	unlink(j->p.ledger_prev);
	unlink(j->p.archive_prev);
}

/* Send, committing the ledger as the message is completed (see above). */
static int send_and_commit(struct job *j, const struct buf *msg, const char *name,
			   struct crm_err *e)
{
	struct commit c = { { j->p.archive_pending, j->p.ledger_pending },
			    { j->p.archive, j->p.ledger },
			    { j->p.archive_prev, j->p.ledger_prev }, 0, 0 };
	int rc = smtp_send(j->cfg, j->m, msg, &c, e);

	if (rc == 0 && !c.done)
		CRM_BUG("mail: %s accepted without its ledger commit", name);
	if (c.sys_errno)
		log_error("mail: [%s] cannot record %s in %s before completing the message (%s): "
			  "not sent", j->lname, name, j->p.ledger, strerror(c.sys_errno));
	if (rc) {
		drop_pending(j); /* not delivered: nothing recorded, the next run sends */
		return rc;
	}
	unlink(j->p.unconfirmed);
	unlink(j->p.ledger_prev);
	unlink(j->p.archive_prev);
	/* The renames, durable across a power loss; they are visible already. */
	if (fsx_sync_parent(j->p.ledger, &(struct crm_err){ 0 }) != 0)
		log_warn("mail: [%s] cannot sync %s: a power loss now could forget this delivery",
			 j->lname, j->p.ledger);
	return 0;
}

/* Build the message for a loaded PDF, then write it to the outbox or send it. */
static int compose_and_go(struct job *j, const unsigned char *pdf, size_t pdf_len,
			  struct mail_stats *st, struct crm_err *e)
{
	struct letter l;
	char subject[1024], date[64], msgid[320], pdf_sha[SHA256_HEX_LEN + 1], name[256];
	const char *base;
	time_t now = j->o->now ? j->o->now : time(NULL);
	struct buf msg;
	int rc;

	memset(&l, 0, sizeof(l));
	l.cfg = j->cfg, l.m = j->m, l.period = j->pt, l.prev_period = j->pp, l.tpl = j->tpl;
	l.lang = j->lang, l.pdf = pdf, l.pdf_len = pdf_len;
	l.restated = !j->o->resend && j->in_ledger && strcmp(j->old_msha, j->msha) != 0;
	l.num = j->num;
	/* the attachment is named after the report's file */
	base = strrchr(j->p.report, '/');
	snprintf(name, sizeof(name), "%.255s", base ? base + 1 : j->p.report);
	sha256_hex_of(pdf, pdf_len, pdf_sha);
	if (mail_subject(j->m->subject, j->cfg->report_title, j->pt, j->lang, l.restated, subject,
			 sizeof(subject)) || mail_date(now, date, sizeof(date)) ||
	    mail_message_id(j->key, pdf_sha, j->m->from, msgid, sizeof(msgid)))
		return err_at(e, CRM_E_CONFIG, j->cfg->path, j->m->line, "subject",
			      "cannot build the subject of [%s]: too long or has a line break", j->lname);
	l.subject = subject, l.date = date, l.msgid = msgid, l.pdf_name = name;
	buf_init(&msg, MSG_MAX);
	if (build_message(&l, &msg)) {
		buf_release(&msg);
		return err_set(e, CRM_E_NOMEM, "cannot build the message for [%s]: out of memory", j->lname);
	}
	if (j->o->dry_run) {
		rc = fsx_write_atomic(j->p.eml, msg.data, msg.len, e);
		if (rc == 0) {
			st->written++;
			log_info("mail: [%s] dry run: wrote %s (%zu bytes), nothing sent", j->lname,
				 j->p.eml, msg.len);
		}
	} else {
		rc = record_pending(j, pdf, pdf_len, pdf_sha, msgid, now, e);
		rc = rc ? rc : send_and_commit(j, &msg, name, e);
		if (rc == 0) {
			st->sent++;
			log_info("mail: [%s] sent %s to %zu recipient%s%s (%s)", j->lname, name,
				 j->m->n_to, j->m->n_to > 1 ? "s" : "", l.restated ? ", restated" : "", msgid);
		}
	}
	buf_release(&msg);
	return rc;
}

static int mkdir_for(const char *file, struct crm_err *e)
{
	char dir[PATH_MAX_];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return fsx_mkdirs(dir, e);
}

static int deliver_one(struct job *j, struct mail_stats *st, struct crm_err *e)
{
	unsigned char *pdf = NULL;
	size_t pdf_len = 0;
	int rc;

	list_name(j->m, j->lname, sizeof(j->lname));
	if (mail_list_key(j->pt, j->tpl, j->lang, j->m->segment, j->m->to, j->m->n_to, j->key))
		return err_set(e, CRM_E_NOMEM, "cannot make the ledger key of [%s]", j->lname);
	if ((rc = make_paths(j->cfg, j->m, j->period, j->key, j->pt, j->pp, j->tpl, j->lang, &j->p, e)))
		return rc;
	if (!j->o->dry_run)
		settle_interrupted(j);
	if ((rc = ledger_read(j->p.ledger, &j->in_ledger, j->old_msha, j->sent_at, sizeof(j->sent_at), e)) ||
	    (rc = load_numbers(j, &j->num, e)))
		return rc;
	if (j->in_ledger && strcmp(j->old_msha, j->msha) == 0 && !j->o->force && !j->o->resend &&
	    !j->o->dry_run) {
		log_info("mail: [%s] %s-%s-%s already sent on %s (%s); --force sends it again", j->lname,
			 j->pt, j->tpl, j->lang, j->sent_at, j->p.ledger);
		st->skipped++;
		return 0;
	}
	if ((rc = mkdir_for(j->o->dry_run ? j->p.eml : j->p.ledger, e)) ||
	    (rc = pdf_load(j, &pdf, &pdf_len, e)))
		return rc;
	rc = compose_and_go(j, pdf, pdf_len, st, e);
	free(pdf);
	return rc;
}

int mail_deliver(const struct cfg *cfg, int period, const struct mail_opts *o,
		 struct mail_stats *st, struct crm_err *e)
{
	struct crm_err failed = { 0 }; /* the first list that could not be served */
	size_t i;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (cfg->n_mails == 0) {
		log_info("mail: no [mail] section in the configuration, nothing to send");
		return 0;
	}
	/*
	 * A list that cannot be reached does not keep the others from their
	 * mail: each list gets its own crm_err (first error wins), a delivery
	 * failure is logged and kept, any other error stops at once.
	 */
	for (i = 0; i < cfg->n_mails; i++) {
		struct crm_err le = { 0 };
		char msg[1200];
		struct job j;

		memset(&j, 0, sizeof(j));
		j.cfg = cfg, j.m = &cfg->mails[i], j.o = o, j.period = period;
		j.tpl = j.m->template ? j.m->template : cfg->report_template;
		j.lang = j.m->lang ? j.m->lang : cfg->report_lang;
		period_format(period, j.pt);
		period_format(period - 1, j.pp);
		rc = deliver_one(&j, st, &le);
		if (rc == 0)
			continue;
		if (rc != CRM_E_MAIL) {
			if (!e->code)
				*e = le;
			return rc;
		}
		if (failed.code)
			log_error("mail: %s", err_format(&le, msg, sizeof(msg)));
		else
			failed = le;
	}
	if (failed.code && !e->code)
		*e = failed;
	return failed.code;
}
