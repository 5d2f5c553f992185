/*
 * lineage.c - write and read period lineage records (lineage.h; the text
 * format is in docs/period-format.md, "Lineage records").
 *
 * Text, not binary: the record is small (a line per export file and per
 * restated table), operators read it, and the verify command copies it as
 * is. The reader parses a private copy in place: fields are cut at tabs,
 * unescaped where they lie, and the structs point into that copy.
 * Nothing here knows how normalize computes the figures.
 */
#include "lineage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsx.h"
#include "period.h"

#include "banned.h"

#define MAGIC "crmetl lineage"
#define MAX_FIELDS 12

/* ------------------------------------------------------------ building */

void lineage_release(struct lineage *l)
{
	if (!l)
		return;
	free(l->files);
	free(l->changes);
	free(l->text);
	memset(l, 0, sizeof(*l));
}

/*
 * Make room for element n of an array of `size`-byte elements. Capacity is
 * not stored: it is 8, 16, 32, ..., so the array is full exactly when n
 * is 0 or a power of two of at least 8.
 */
static int grow(void **arr, size_t n, size_t size)
{
	void *a;

	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return 0;
	a = realloc(*arr, (n ? n * 2 : 8) * size);
	if (!a)
		return -1;
	*arr = a;
	return 0;
}

int lineage_add_file(struct lineage *l, const struct lineage_file *f, struct crm_err *e)
{
	if (grow((void **)&l->files, l->n_files, sizeof(*f)))
		return err_set(e, CRM_E_NOMEM, "out of memory building a lineage record");
	l->files[l->n_files++] = *f;
	return 0;
}

int lineage_add_change(struct lineage *l, const struct lineage_change *c, struct crm_err *e)
{
	if (grow((void **)&l->changes, l->n_changes, sizeof(*c)))
		return err_set(e, CRM_E_NOMEM, "out of memory building a lineage record");
	l->changes[l->n_changes++] = *c;
	return 0;
}

uint32_t lineage_next_seq(const struct lineage *l)
{
	return l->n_changes ? l->changes[l->n_changes - 1].seq + 1 : 1;
}

/* ------------------------------------------------------------ writing */

/* A tab, then the field with tab, newline, carriage return and backslash escaped. */
static void put_field(struct buf *out, const char *s)
{
	const char *p;

	buf_put_u8(out, '\t');
	for (p = s ? s : ""; *p; p++) {
		const char *esc = *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r"
				  : *p == '\\' ? "\\\\" : NULL;

		if (esc)
			buf_append(out, esc, 2);
		else
			buf_put_u8(out, (unsigned char)*p);
	}
}

static void put_total(struct buf *out, int has, int64_t v)
{
	if (has)
		buf_printf(out, "\t%" PRId64, v);
	else
		buf_append(out, "\t-", 2);
}

int lineage_format(const struct lineage *l, struct buf *out, struct crm_err *e)
{
	char period[PERIOD_TEXT_MAX];
	size_t i;

	buf_printf(out, MAGIC "\t%d\nperiod\t%s\n", LINEAGE_VERSION, period_format(l->period, period));
	for (i = 0; i < l->n_files; i++) {
		const struct lineage_file *f = &l->files[i];

		buf_append(out, "file", 4);
		put_field(out, f->source);
		put_field(out, f->entity);
		put_field(out, f->location);
		buf_printf(out, "\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64, f->sha256, f->bytes,
			   f->rows_read, f->rows_rejected);
		put_field(out, f->table);
		buf_printf(out, "\t%" PRIu64 "\n", f->kept);
	}
	for (i = 0; i < l->n_changes; i++) {
		const struct lineage_change *c = &l->changes[i];

		buf_printf(out, "restated\t%" PRIu32 "\t%s", c->seq, c->when);
		put_field(out, c->table);
		buf_printf(out, "\t%" PRIu64 "\t%" PRIu64, c->old_rows, c->new_rows);
		put_total(out, c->has_total, c->old_total);
		put_total(out, c->has_total, c->new_total);
		buf_put_u8(out, '\n');
	}
	buf_printf(out, "end\t%zu\t%zu\n", l->n_files, l->n_changes);
	if (out->failed)
		return err_set(e, CRM_E_NOMEM, "out of memory formatting a lineage record");
	return 0;
}

int lineage_write(const char *path, const struct lineage *l, int *changed, struct crm_err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, LINEAGE_MAX_BYTES);
	rc = lineage_format(l, &b, e);
	if (rc == 0)
		rc = fsx_write_if_changed(path, b.data, b.len, changed, e);
	buf_release(&b);
	return rc;
}

/* ------------------------------------------------------------ reading */

struct parser {
	const char *where;
	long line;
	char *f[MAX_FIELDS];
	size_t n;
	struct crm_err *e;
};

static int bad(struct parser *p, const char *what, const char *value)
{
	return err_at(p->e, CRM_E_CORRUPT, p->where, p->line, NULL, "damaged lineage record: %s '%.80s'",
		      what, value ? value : "");
}

/* Undo put_field's escapes in place; -1 on a stray backslash or control byte. */
static int unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if ((unsigned char)*s < 0x20)
			return -1;
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		s++;
		if (*s == 't')
			*w++ = '\t';
		else if (*s == 'n')
			*w++ = '\n';
		else if (*s == 'r')
			*w++ = '\r';
		else if (*s == '\\')
			*w++ = '\\';
		else
			return -1;
	}
	*w = '\0';
	return 0;
}

/* Cut one line into tab-separated fields (escapes still in place). */
static int split(struct parser *p, char *line)
{
	p->n = 0;
	for (;;) {
		char *tab = strchr(line, '\t');

		if (p->n == MAX_FIELDS)
			return bad(p, "too many fields in line", NULL);
		p->f[p->n++] = line;
		if (!tab)
			return 0;
		*tab = '\0';
		line = tab + 1;
	}
}

/* A decimal number without sign or leading zeros (a plain "0" is fine). */
static int get_u64(struct parser *p, size_t i, uint64_t *out)
{
	const char *s = p->f[i];
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return bad(p, "bad number", s);
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return bad(p, "bad number", p->f[i]);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int get_total(struct parser *p, size_t i, int *has, int64_t *out)
{
	const char *s = p->f[i];
	uint64_t v;
	int neg = s[0] == '-' && s[1], rc;

	*has = strcmp(s, "-") != 0;
	*out = 0;
	if (!*has)
		return 0;
	p->f[i] += neg;
	rc = get_u64(p, i, &v);
	p->f[i] -= neg;
	if (rc || v > (uint64_t)INT64_MAX)
		return rc ? rc : bad(p, "bad total", s);
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int get_text(struct parser *p, size_t i, const char **out)
{
	if (!p->f[i][0] || unescape(p->f[i]))
		return bad(p, "bad text field", p->f[i]);
	*out = p->f[i];
	return 0;
}

static int is_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < SHA256_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

/* YYYY-MM-DDTHH:MM:SSZ: digits where digits go, the rest literal. */
static int is_time(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return 0;
	return s[i] == '\0';
}

static int parse_file(struct parser *p, struct lineage *l)
{
	struct lineage_file f;
	int rc;

	memset(&f, 0, sizeof(f));
	if (p->n != 10)
		return bad(p, "wrong number of fields in file line", p->f[0]);
	if (!is_sha256(p->f[4]))
		return bad(p, "bad sha256", p->f[4]);
	memcpy(f.sha256, p->f[4], SHA256_HEX_LEN + 1);
	rc = get_text(p, 1, &f.source);
	rc = rc ? rc : get_text(p, 2, &f.entity);
	rc = rc ? rc : get_text(p, 3, &f.location);
	rc = rc ? rc : get_u64(p, 5, &f.bytes);
	rc = rc ? rc : get_u64(p, 6, &f.rows_read);
	rc = rc ? rc : get_u64(p, 7, &f.rows_rejected);
	rc = rc ? rc : get_text(p, 8, &f.table);
	rc = rc ? rc : get_u64(p, 9, &f.kept);
	if (rc == 0 && (f.rows_rejected > f.rows_read || f.kept > f.rows_read - f.rows_rejected))
		rc = bad(p, "more rows rejected or kept than read in", f.location);
	return rc ? rc : lineage_add_file(l, &f, p->e);
}

static int parse_change(struct parser *p, struct lineage *l)
{
	struct lineage_change c;
	uint64_t seq;
	int has_old, rc;

	memset(&c, 0, sizeof(c));
	if (p->n != 8)
		return bad(p, "wrong number of fields in restated line", p->f[0]);
	rc = get_u64(p, 1, &seq);
	if (rc == 0 && (seq == 0 || seq > UINT32_MAX ||
			(l->n_changes && seq != l->changes[l->n_changes - 1].seq &&
			 seq != (uint64_t)l->changes[l->n_changes - 1].seq + 1) ||
			(!l->n_changes && seq != 1)))
		rc = bad(p, "restatement out of sequence", p->f[1]);
	if (rc == 0 && !is_time(p->f[2]))
		rc = bad(p, "bad time", p->f[2]);
	if (rc)
		return rc;
	c.seq = (uint32_t)seq;
	memcpy(c.when, p->f[2], LINEAGE_TIME_LEN + 1);
	rc = get_text(p, 3, &c.table);
	rc = rc ? rc : get_u64(p, 4, &c.old_rows);
	rc = rc ? rc : get_u64(p, 5, &c.new_rows);
	rc = rc ? rc : get_total(p, 6, &has_old, &c.old_total);
	rc = rc ? rc : get_total(p, 7, &c.has_total, &c.new_total);
	if (rc == 0 && has_old != c.has_total)
		rc = bad(p, "one total without the other for", c.table);
	return rc ? rc : lineage_add_change(l, &c, p->e);
}

static int parse_end(struct parser *p, const struct lineage *l)
{
	uint64_t files, changes;
	int rc;

	if (p->n != 3)
		return bad(p, "wrong number of fields in end line", p->f[0]);
	rc = get_u64(p, 1, &files);
	rc = rc ? rc : get_u64(p, 2, &changes);
	if (rc == 0 && (files != l->n_files || changes != l->n_changes))
		rc = bad(p, "line counts do not match the end line", p->f[1]);
	return rc;
}

/* The two header lines: magic and version, then the period. */
static int parse_head(struct parser *p, char **lines, struct lineage *l)
{
	struct crm_err ignored = { 0 };
	int rc;

	p->line = 1;
	rc = split(p, lines[0]);
	if (rc == 0 && (p->n != 2 || strcmp(p->f[0], MAGIC) != 0))
		return bad(p, "not a lineage record: first line", lines[0]);
	if (rc == 0 && strcmp(p->f[1], "1") != 0)
		return err_at(p->e, CRM_E_CORRUPT, p->where, 1, NULL,
			      "unsupported lineage version '%.20s' (this crmetl reads version %d)",
			      p->f[1], LINEAGE_VERSION);
	p->line = 2;
	rc = rc ? rc : split(p, lines[1]);
	if (rc == 0 && (p->n != 2 || strcmp(p->f[0], "period") != 0 ||
			period_parse(p->f[1], "period", &l->period, &ignored) != 0))
		rc = bad(p, "bad period line", p->f[0]);
	return rc;
}

/* Cut text into lines; the last must end with a newline (else truncated). */
static char **cut_lines(char *text, size_t len, size_t *n)
{
	size_t i, count = 0, k = 0;
	char **lines;

	for (i = 0; i < len; i++)
		count += text[i] == '\n';
	lines = malloc((count ? count : 1) * sizeof(*lines));
	if (!lines)
		return NULL;
	for (i = 0; i < len && k < count; k++) {
		char *nl = memchr(text + i, '\n', len - i);

		lines[k] = text + i;
		*nl = '\0';
		i = (size_t)(nl - text) + 1;
	}
	*n = count;
	return lines;
}

static int parse_lines(struct parser *p, char **lines, size_t n, struct lineage *l)
{
	size_t i;
	int rc = 0, ended = 0;

	if (n < 3)
		return err_at(p->e, CRM_E_CORRUPT, p->where, (long)n, NULL,
			      "damaged lineage record: truncated");
	rc = parse_head(p, lines, l);
	for (i = 2; rc == 0 && i < n; i++) {
		p->line = (long)i + 1;
		if (ended)
			return bad(p, "text after the end line", lines[i]);
		rc = split(p, lines[i]);
		if (rc)
			break;
		if (strcmp(p->f[0], "file") == 0 && l->n_changes == 0)
			rc = parse_file(p, l);
		else if (strcmp(p->f[0], "restated") == 0)
			rc = parse_change(p, l);
		else if (strcmp(p->f[0], "end") == 0 && (ended = 1))
			rc = parse_end(p, l);
		else
			rc = bad(p, "unexpected line", p->f[0]);
	}
	if (rc == 0 && !ended)
		rc = err_at(p->e, CRM_E_CORRUPT, p->where, (long)n, NULL,
			    "damaged lineage record: truncated (no end line)");
	return rc;
}

int lineage_parse(const char *text, size_t len, const char *where, struct lineage *out,
		  struct crm_err *e)
{
	struct parser p = { where, 0, { 0 }, 0, e };
	char **lines = NULL;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > LINEAGE_MAX_BYTES)
		return err_at(e, CRM_E_CORRUPT, where, 0, NULL, "damaged lineage record: too big");
	if (memchr(text, '\0', len))
		return err_at(e, CRM_E_CORRUPT, where, 0, NULL, "damaged lineage record: NUL byte");
	if (!(out->text = malloc(len + 1)))
		return err_set(e, CRM_E_NOMEM, "out of memory reading a lineage record");
	memcpy(out->text, text, len);
	out->text[len] = '\0';
	if (len && text[len - 1] != '\n')
		rc = err_at(e, CRM_E_CORRUPT, where, 0, NULL,
			    "damaged lineage record: truncated (no final newline)");
	else if (!(lines = cut_lines(out->text, len, &n)))
		rc = err_set(e, CRM_E_NOMEM, "out of memory reading a lineage record");
	else
		rc = parse_lines(&p, lines, n, out);
	free(lines);
	if (rc)
		lineage_release(out);
	return rc;
}

int lineage_read(const char *path, struct lineage *out, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = fsx_read_file(path, LINEAGE_MAX_BYTES, &data, &len, e);
	if (rc == 0)
		rc = lineage_parse((const char *)data, len, path, out, e);
	free(data);
	return rc;
}
