/*
 * cfg.c - pipeline.conf: the INI reader, the validator, secret references.
 *
 * Owns the struct cfg it builds and nothing else. The text is copied once
 * and cut into lines in place; a line is a section header, a key = value
 * pair, a comment or blank, and values are checked as they are read. A
 * section is checked as a whole when the next one starts, because its keys
 * come in any order ("map.x" cannot be checked before "entity"), and the
 * file as a whole at the end (at least one source, [mail] inheritance,
 * defaults).
 *
 * It deliberately does not open sources, expand globs, connect anywhere or
 * read secrets while parsing: references are resolved only on request by
 * cfg_secret_resolve(), so a config can be checked on a machine that lacks
 * the credentials. The one file it looks at is the timezone's zone file,
 * because a misspelt zone would otherwise shift every period boundary.
 */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text.h"

#include "banned.h"

/* Named ceilings (cfg.h lists them for users). */
#define CFG_MAX_BYTES (1024 * 1024)
#define SECRET_MAX_BYTES (64 * 1024)
#define MAX_SOURCES 256
#define MAX_HEADERS 64
#define MAX_MAILS 64
#define MAX_TO 256
#define MAX_MAPS 64      /* map.* keys waiting for the section's entity */
#define MAX_NAME 64      /* source, mail list and template names */
#define MAX_KEYS 16      /* fixed keys per section (bits of parser.seen) */
#define EDIT_MAX 64      /* longer words get no "did you mean" */

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
#define TZ_CHARS NAME_CHARS "+/"
/* RFC 9110 token characters, for header names. */
#define TOKEN_CHARS NAME_CHARS "!#$%&'*+.^`|~"
#define ENV_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

#define DEFAULT_SUBJECT "{title} {period} ({lang})"

/* ---- allocation, with the tests' fault hook ---- */

static unsigned long fail_countdown; /* 0 = off; see cfg_fault_alloc() */

void cfg_fault_alloc(unsigned long n)
{
	fail_countdown = n;
}

static int fault(void)
{
	return fail_countdown != 0 && --fail_countdown == 0;
}

static void *xmalloc(size_t n)
{
	return fault() ? NULL : malloc(n ? n : 1);
}

static void *xrealloc(void *ptr, size_t n)
{
	return fault() ? NULL : realloc(ptr, n ? n : 1);
}

static char *xmemdup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	if (d) {
		if (n)
			memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

/* Overwrite memory that held a secret; volatile so it is not optimised out. */
static void wipe(void *ptr, size_t n)
{
	volatile unsigned char *p = ptr;

	while (n--)
		*p++ = 0;
}

/* ---- small string helpers ---- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_ws(char *s)
{
	while (is_ws(*s))
		s++;
	return s;
}

static char *trim(char *s)
{
	size_t n;

	s = skip_ws(s);
	n = strlen(s);
	while (n > 0 && is_ws(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int all_of(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with_ci(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= MAX_NAME && all_of(s, NAME_CHARS);
}

/* ---- the parser ---- */

enum sec_kind { SEC_PIPELINE, SEC_SOURCE, SEC_FETCH, SEC_METRICS, SEC_REPORT, SEC_MAIL, SEC_COUNT };

struct pending_map {
	char *key;   /* owned "map.FIELD" */
	char *value; /* owned export name, moved into cfg_source.map at section end */
	long line;
};

struct parser;

struct section_def {
	const char *name;         /* "pipeline"; for SEC_SOURCE the prefix "source" */
	enum sec_kind kind;
	const char *const *keys;  /* fixed keys, NULL-terminated, index = bit in seen */
	int (*set)(struct parser *p, int k, const char *key, char *val);
};

struct parser {
	struct cfg *cfg;
	struct crm_err *e;
	const char *path;      /* for messages */
	const char *base;      /* directory for relative paths, NULL = keep them */
	long line;             /* line being read, 1-based */

	/* The section being read; sec is NULL before the first header. */
	const struct section_def *sec;
	char label[80];        /* "[source.orders]", for messages */
	long sec_line;
	unsigned seen;         /* bit k: fixed key k given */
	long seen_line[MAX_KEYS];
	size_t cur;            /* index of the current source or mail */
	struct pending_map maps[MAX_MAPS];
	size_t n_maps;

	long once_line[SEC_COUNT]; /* header line of [pipeline], [fetch], ..., [mail] */
};

static int vperr(struct parser *p, long line, const char *field, const char *fmt, va_list ap)
{
	char msg[sizeof(p->e->msg)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return err_at(p->e, CRM_E_CONFIG, p->path, line, field, "%s", msg);
}

/* A config error on the current line. */
__attribute__((format(printf, 3, 4)))
static int perr(struct parser *p, const char *field, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vperr(p, p->line, field, fmt, ap);
	va_end(ap);
	return rc;
}

/* A config error on another line (a section header, an earlier map key). */
__attribute__((format(printf, 4, 5)))
static int perr_at(struct parser *p, long line, const char *field, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vperr(p, line, field, fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(struct parser *p)
{
	return err_at(p->e, CRM_E_NOMEM, p->path, p->line, NULL, "out of memory");
}

static struct cfg_source *cur_source(struct parser *p)
{
	return &p->cfg->sources[p->cur];
}

static struct cfg_mail *cur_mail(struct parser *p)
{
	return &p->cfg->mails[p->cur];
}

/* ---- value setters ---- */

static int set_str(struct parser *p, char **dst, const char *val)
{
	char *d = xstrdup(val);

	if (!d)
		return nomem(p);
	free(*dst);
	*dst = d;
	return 0;
}

/* base + "/" + rel, or rel itself when there is no base or it is absolute. */
static char *join_path(const char *base, const char *rel)
{
	size_t n;
	char *d;

	if (!base || rel[0] == '/')
		return xstrdup(rel);
	n = strlen(base) + strlen(rel) + 2;
	d = xmalloc(n);
	if (d)
		snprintf(d, n, "%s%s%s", base,
			 base[0] && base[strlen(base) - 1] == '/' ? "" : "/", rel);
	return d;
}

static int set_path(struct parser *p, char **dst, const char *key, const char *val)
{
	char *d;

	if (has_ctl(val))
		return perr(p, key, "invalid %s (control characters in a path)", key);
	d = join_path(p->base, val);
	if (!d)
		return nomem(p);
	free(*dst);
	*dst = d;
	return 0;
}

/* One line of text (titles and subjects end up in mail headers). */
static int set_line(struct parser *p, char **dst, const char *key, const char *val)
{
	if (has_ctl(val))
		return perr(p, key, "invalid %s (must be one line without control characters)", key);
	return set_str(p, dst, val);
}

static int set_name(struct parser *p, char **dst, const char *key, const char *val)
{
	if (!valid_name(val))
		return perr(p, key, "invalid %s '%s' (expected 1 to 64 of A-Z a-z 0-9 _ -)", key, val);
	return set_str(p, dst, val);
}

static int set_lang(struct parser *p, char **dst, const char *key, const char *val)
{
	if (strcmp(val, "en") != 0 && strcmp(val, "zh") != 0)
		return perr(p, key, "invalid %s '%s' (expected en or zh)", key, val);
	return set_str(p, dst, val);
}

/* Whole number in [min, max]: digits only, then strtol (no sign, no spaces). */
static int set_long(struct parser *p, const char *key, const char *val,
		    long min, long max, long *out)
{
	char *end;
	long v;

	if (!val[0] || !all_of(val, "0123456789") || strlen(val) > 18)
		goto bad;
	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	return perr(p, key, "invalid %s '%s' (expected a whole number from %ld to %ld)",
		    key, val, min, max);
}

static int set_int(struct parser *p, const char *key, const char *val, int min, int max, int *out)
{
	long v = 0;
	int rc = set_long(p, key, val, min, max, &v);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

/*
 * Strict non-negative decimal "12" or "0.015". Not strtod: it would take
 * "nan", "inf", hex, exponents and the locale's decimal comma.
 */
static int parse_decimal(const char *s, double *out)
{
	unsigned long long ip = 0, fp = 0, scale = 1;
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (++n > 9)
			return -1;
		ip = ip * 10 + (unsigned)(*s - '0');
	}
	if (n == 0)
		return -1;
	if (*s == '.') {
		for (s++, n = 0; *s >= '0' && *s <= '9'; s++) {
			if (++n > 12)
				return -1;
			fp = fp * 10 + (unsigned)(*s - '0');
			scale *= 10;
		}
		if (n == 0)
			return -1;
	}
	if (*s)
		return -1;
	*out = (double)ip + (double)fp / (double)scale;
	return 0;
}

/* Byte count with an optional K, M or G (powers of 1024) suffix. */
static int set_size(struct parser *p, const char *key, const char *val, unsigned long long *out)
{
	const unsigned long long max = 1ULL << 40;
	size_t digits = strspn(val, "0123456789");
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (digits == 0 || digits > 15)
		goto bad;
	if (val[digits]) {
		const char *sfx = strchr("KkMmGg", val[digits]);

		if (!sfx || val[digits + 1])
			goto bad;
		shift = 10 * (unsigned)(1 + (sfx - "KkMmGg") / 2);
	}
	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || end != val + digits || v == 0 || v > (max >> shift))
		goto bad;
	*out = v << shift;
	return 0;
bad:
	return perr(p, key, "invalid %s '%s' (expected a size from 1 to 1024G, with an optional K, M or G suffix)",
		    key, val);
}

/*
 * A URL with one of `schemes`. Credentials in it are refused before
 * anything else, and without echoing the URL: they belong in env: or file:
 * references.
 */
static int check_url(struct parser *p, const char *key, const char *val,
		     const char *const *schemes, const char *expect, const char *cred_hint)
{
	const char *sep = strstr(val, "://");
	const char *const *s;

	if (sep) {
		const char *auth = sep + 3;

		if (memchr(auth, '@', strcspn(auth, "/?#")))
			return perr(p, key, "credentials in %s refused (%s)", key, cred_hint);
	}
	if (has_ctl(val) || strchr(val, ' '))
		return perr(p, key, "invalid %s '%s' (spaces or control characters)", key, val);
	for (s = schemes; *s; s++)
		if (strncasecmp(val, *s, strlen(*s)) == 0 && val[strlen(*s)])
			return 0;
	return perr(p, key, "invalid %s '%s' (expected %s)", key, val, expect);
}

/*
 * A bare address: one '@' with text on both sides, none of the characters
 * that would let a value smuggle a second recipient or header into a mail.
 */
static int check_address(struct parser *p, const char *key, const char *a)
{
	const char *at = strchr(a, '@');
	const char *c;

	for (c = a; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("<>()[],;:\\\"", *c))
			goto bad;
	if (!at || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > 254)
		goto bad;
	return 0;
bad:
	return perr(p, key, "invalid address '%s' in %s (expected name@domain)", a, key);
}

int cfg_is_secret_ref(const char *value)
{
	if (!value)
		return 0;
	if (starts_with(value, "env:")) {
		const char *name = value + 4;

		return name[0] && !(name[0] >= '0' && name[0] <= '9') && all_of(name, ENV_CHARS);
	}
	if (starts_with(value, "file:"))
		return value[5] != '\0' && !has_ctl(value + 5);
	return 0;
}

/*
 * A secret reference; a relative file: path is made relative to the config
 * like any other path. Messages never quote the value: if it is not a
 * reference, it may well be the secret itself.
 */
static int set_secret(struct parser *p, char **dst, const char *key, const char *val)
{
	char *path, *d;
	size_t n;

	if (!cfg_is_secret_ref(val)) {
		if (starts_with(val, "env:"))
			return perr(p, key, "invalid secret reference in %s (env: needs a variable name of letters, digits and '_')", key);
		if (starts_with(val, "file:"))
			return perr(p, key, "invalid secret reference in %s (file: needs a path)", key);
		return perr(p, key, "plain value refused for %s (secrets must come from env:NAME or file:PATH)", key);
	}
	if (!starts_with(val, "file:"))
		return set_str(p, dst, val);
	path = join_path(p->base, val + 5);
	if (!path)
		return nomem(p);
	n = strlen(path) + 6;
	d = xmalloc(n);
	if (d)
		snprintf(d, n, "file:%s", path);
	free(path);
	if (!d)
		return nomem(p);
	free(*dst);
	*dst = d;
	return 0;
}

/* ---- [pipeline] ---- */

enum { P_DATA_DIR, P_TIMEZONE, P_CURRENCY, P_MAX_REJECT };
static const char *const pipeline_keys[] = {
	"data_dir", "timezone", "currency", "max_reject_ratio", NULL
};

/*
 * "UTC" or a zone file that exists. The name becomes part of a path, so it
 * is checked for ".." and a leading '/' before it is looked up, and the
 * file must start with the TZif magic (zoneinfo also holds zone.tab,
 * leapseconds and such).
 */
static int check_timezone(struct parser *p, const char *key, const char *tz)
{
	const char *dir = getenv("TZDIR");
	char path[4096], magic[4];
	struct stat st;
	int fd, ok = 0;

	if (strcmp(tz, "UTC") == 0)
		return 0;
	if (strlen(tz) > 128 || tz[0] == '/' || strstr(tz, "..") || !all_of(tz, TZ_CHARS))
		return perr(p, key, "invalid timezone '%s' (expected UTC or an IANA name such as Europe/Paris)", tz);
	if (!dir || !dir[0])
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tz) >= sizeof(path))
		return perr(p, key, "unknown timezone '%s' (zone directory path too long)", tz);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		     read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
		     memcmp(magic, "TZif", 4) == 0;
		close(fd);
	}
	if (!ok)
		return perr(p, key, "unknown timezone '%s' (no zone file in %s)", tz, dir);
	return 0;
}

static int set_pipeline(struct parser *p, int k, const char *key, char *val)
{
	struct cfg *c = p->cfg;
	double d;
	int rc;

	switch (k) {
	case P_DATA_DIR:
		return set_path(p, &c->data_dir, key, val);
	case P_TIMEZONE:
		rc = check_timezone(p, key, val);
		return rc ? rc : set_str(p, &c->timezone, val);
	case P_CURRENCY:
		if (strlen(val) != 3 || !all_of(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
			return perr(p, key, "invalid currency '%s' (expected an ISO 4217 code such as USD)", val);
		return set_str(p, &c->currency, val);
	case P_MAX_REJECT:
		if (parse_decimal(val, &d) != 0 || d > 1.0)
			return perr(p, key, "invalid max_reject_ratio '%s' (expected a decimal from 0 to 1)", val);
		c->max_reject_ratio = d;
		return 0;
	}
	CRM_BUG("pipeline key %d", k);
}

/* ---- [source.NAME] ---- */

enum {
	S_ENTITY, S_FILE, S_URL, S_FORMAT, S_DELIMITER, S_RECORD, S_CA_FILE,
	S_TIMEOUT, S_CONNECT_TIMEOUT, S_MAX_BYTES, S_RETRIES
};
static const char *const source_keys[] = {
	"entity", "file", "url", "format", "delimiter", "record", "ca_file",
	"timeout", "connect_timeout", "max_bytes", "retries", NULL
};
static const char *const source_schemes[] = { "http://", "https://", "file://", NULL };

static int set_entity(struct parser *p, const char *key, const char *val)
{
	const char *names[ENT_COUNT + 1];
	const char *near;
	int i = schema_entity_by_name(val);

	if (i >= 0) {
		cur_source(p)->entity = (enum schema_entity)i;
		return 0;
	}
	for (i = 0; i < ENT_COUNT; i++)
		names[i] = schema_entity((enum schema_entity)i)->name;
	names[ENT_COUNT] = NULL;
	near = text_suggest(val, names);
	if (near)
		return perr(p, key, "unknown entity '%s' (did you mean '%s'?)", val, near);
	return perr(p, key, "unknown entity '%s' (expected customers, orders, spend, surveys, tickets, interactions or leads)", val);
}

/* One byte; "\t" or "tab" spelled out, since a bare TAB is trimmed away. */
static int set_delimiter(struct parser *p, const char *key, const char *val)
{
	char c = val[0];

	if (strcmp(val, "\\t") == 0 || strcasecmp(val, "tab") == 0)
		c = '\t';
	else if (strlen(val) != 1 || c == '"' || (unsigned char)c >= 0x7f ||
		 ((unsigned char)c < 0x20 && c != '\t'))
		return perr(p, key, "invalid delimiter '%s' (expected one character other than '\"', or \\t or tab)", val);
	cur_source(p)->delimiter = c;
	return 0;
}

/* An XML element name, optionally with a namespace prefix. */
static int set_record(struct parser *p, const char *key, const char *val)
{
	char c = val[0];

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') ||
	    !all_of(val, NAME_CHARS ".:") || strlen(val) > 128)
		return perr(p, key, "invalid record '%s' (expected an XML element name)", val);
	return set_str(p, &cur_source(p)->record, val);
}

static int set_source(struct parser *p, int k, const char *key, char *val)
{
	struct cfg_source *s = cur_source(p);
	int rc;

	switch (k) {
	case S_ENTITY:
		return set_entity(p, key, val);
	case S_FILE:
		return set_path(p, &s->file, key, val);
	case S_URL:
		rc = check_url(p, key, val, source_schemes, "http://, https:// or file://",
			       "use header.Authorization = env:NAME or file:PATH");
		return rc ? rc : set_str(p, &s->url, val);
	case S_FORMAT:
		if (strcmp(val, "csv") == 0)
			s->format = CFG_FMT_CSV;
		else if (strcmp(val, "xml") == 0)
			s->format = CFG_FMT_XML;
		else
			return perr(p, key, "invalid format '%s' (expected csv or xml)", val);
		return 0;
	case S_DELIMITER:
		return set_delimiter(p, key, val);
	case S_RECORD:
		return set_record(p, key, val);
	case S_CA_FILE:
		return set_path(p, &s->ca_file, key, val);
	case S_TIMEOUT:
		return set_long(p, key, val, 1, 3600, &s->timeout_s);
	case S_CONNECT_TIMEOUT:
		return set_long(p, key, val, 1, 600, &s->connect_timeout_s);
	case S_MAX_BYTES:
		return set_size(p, key, val, &s->max_bytes);
	case S_RETRIES:
		return set_long(p, key, val, 0, 20, &s->retries);
	}
	CRM_BUG("source key %d", k);
}

/* map.FIELD waits for the section's end: entity may come after it. */
static int add_map(struct parser *p, const char *key, const char *val)
{
	struct pending_map *m;
	size_t i;

	for (i = 0; i < p->n_maps; i++)
		if (strcmp(p->maps[i].key, key) == 0)
			return perr(p, key, "key '%s' given twice in %s (first at line %ld)",
				    key, p->label, p->maps[i].line);
	if (p->n_maps == MAX_MAPS)
		return perr(p, key, "too many map keys in %s (at most %d)", p->label, MAX_MAPS);
	m = &p->maps[p->n_maps];
	m->key = xstrdup(key);
	m->value = xstrdup(val);
	m->line = p->line;
	p->n_maps++; /* counted even when half made, so parser_release frees it */
	if (!m->key || !m->value)
		return nomem(p);
	return 0;
}

static int add_header(struct parser *p, const char *key, const char *val)
{
	struct cfg_source *s = cur_source(p);
	const char *name = key + strlen("header.");
	struct cfg_kv *kv;
	size_t i;
	int rc;

	if (!name[0] || !all_of(name, TOKEN_CHARS) || strlen(name) > 100)
		return perr(p, key, "invalid header name '%s' (expected letters, digits and !#$%%&'*+-.^_`|~)", name);
	for (i = 0; i < s->n_headers; i++)
		if (strcasecmp(s->headers[i].key, name) == 0)
			return perr(p, key, "header '%s' given twice in %s (first at line %d)",
				    name, p->label, s->headers[i].line);
	if (s->n_headers == MAX_HEADERS)
		return perr(p, key, "too many headers in %s (at most %d)", p->label, MAX_HEADERS);
	kv = xrealloc(s->headers, (s->n_headers + 1) * sizeof(*kv));
	if (!kv)
		return nomem(p);
	s->headers = kv;
	kv = &s->headers[s->n_headers++];
	memset(kv, 0, sizeof(*kv));
	kv->line = (int)p->line;
	rc = set_secret(p, &kv->value, key, val);
	if (rc)
		return rc;
	return set_str(p, &kv->key, name);
}

/* xml for a name ending in .xml or .xml.gz, else csv; a URL's query is not part of its name. */
static enum cfg_format format_from_name(const char *name, int is_url)
{
	size_t n = is_url ? strcspn(name, "?#") : strlen(name);

	if (ends_with_ci(name, n, ".xml") || ends_with_ci(name, n, ".xml.gz"))
		return CFG_FMT_XML;
	return CFG_FMT_CSV;
}

static int finish_maps(struct parser *p, struct cfg_source *s)
{
	const struct schema_entity_def *def = schema_entity(s->entity);
	const char *names[SCHEMA_MAX_FIELDS + 1];
	size_t i;

	for (i = 0; i < def->n_fields; i++)
		names[i] = def->fields[i].name;
	names[def->n_fields] = NULL;
	for (i = 0; i < p->n_maps; i++) {
		struct pending_map *m = &p->maps[i];
		const char *field = m->key + strlen("map.");
		int idx = schema_field_index(s->entity, field);
		const char *near;

		if (idx < 0) {
			near = text_suggest(field, names);
			if (near)
				return perr_at(p, m->line, m->key, "unknown field '%s' of entity %s in %s (did you mean 'map.%s'?)",
					       field, def->name, p->label, near);
			return perr_at(p, m->line, m->key, "unknown field '%s' of entity %s in %s",
				       field, def->name, p->label);
		}
		s->map[idx] = m->value;
		m->value = NULL;
	}
	return 0;
}

static int finish_source(struct parser *p)
{
	struct cfg_source *s = cur_source(p);

	if (!(p->seen & (1u << S_ENTITY)))
		return perr_at(p, p->sec_line, "entity", "missing key 'entity' in %s", p->label);
	if (s->file && s->url)
		return perr_at(p, p->sec_line, "url", "conflicting keys 'file' and 'url' in %s (give one of them)", p->label);
	if (!s->file && !s->url)
		return perr_at(p, p->sec_line, "file", "missing key 'file' or 'url' in %s", p->label);
	if (!(p->seen & (1u << S_FORMAT)))
		s->format = s->url ? format_from_name(s->url, 1) : format_from_name(s->file, 0);
	if (!s->record && set_str(p, &s->record, schema_entity(s->entity)->record))
		return p->e->code;
	return finish_maps(p, s);
}

/* ---- [fetch], [metrics], [report] ---- */

enum { F_CONCURRENCY };
static const char *const fetch_keys[] = { "concurrency", NULL };

static int set_fetch(struct parser *p, int k, const char *key, char *val)
{
	if (k == F_CONCURRENCY)
		return set_int(p, key, val, 1, 32, &p->cfg->fetch_concurrency);
	CRM_BUG("fetch key %d", k);
}

enum {
	M_CHURN_MODEL, M_INACTIVITY_DAYS, M_SLA_HOURS, M_MAX_LIFESPAN, M_LOYALTY,
	M_CLV_HORIZON, M_CLV_DISCOUNT
};
static const char *const metrics_keys[] = {
	"churn_model", "inactivity_days", "sla_hours", "max_lifespan_years",
	"loyalty_weights", "clv_horizon_months", "clv_discount_rate", NULL
};

/* Three non-negative decimals "csat, repeat, referral", not all zero. */
static int set_loyalty(struct parser *p, const char *key, const char *val)
{
	char *work = xstrdup(val), *s = work;
	double w[3];
	int i, rc = 0;

	if (!work)
		return nomem(p);
	/* the copy is cut up; messages quote val as written */
	for (i = 0; i < 3; i++) {
		char *comma = strchr(s, ',');

		if ((comma != NULL) != (i < 2))
			goto bad;
		if (comma)
			*comma = '\0';
		if (parse_decimal(trim(s), &w[i]) != 0 || w[i] > 1000.0)
			goto bad;
		s = comma ? comma + 1 : s;
	}
	if (w[0] == 0 && w[1] == 0 && w[2] == 0)
		rc = perr(p, key, "invalid loyalty_weights '%s' (all zero; at least one must be positive)", val);
	else
		memcpy(p->cfg->loyalty_weights, w, sizeof(w));
	goto out;
bad:
	rc = perr(p, key, "invalid loyalty_weights '%s' (expected three decimals from 0 to 1000 such as 1,1,1)", val);
out:
	free(work);
	return rc;
}

static int set_metrics(struct parser *p, int k, const char *key, char *val)
{
	struct cfg *c = p->cfg;

	switch (k) {
	case M_CHURN_MODEL:
		if (strcmp(val, "activity") == 0)
			c->churn_model = CFG_CHURN_ACTIVITY;
		else if (strcmp(val, "contractual") == 0)
			c->churn_model = CFG_CHURN_CONTRACTUAL;
		else
			return perr(p, key, "invalid churn_model '%s' (expected activity or contractual)", val);
		return 0;
	case M_INACTIVITY_DAYS:
		return set_int(p, key, val, 1, 3650, &c->inactivity_days);
	case M_SLA_HOURS:
		return set_int(p, key, val, 1, 8760, &c->sla_hours);
	case M_MAX_LIFESPAN:
		return set_int(p, key, val, 1, 100, &c->max_lifespan_years);
	case M_LOYALTY:
		return set_loyalty(p, key, val);
	case M_CLV_HORIZON:
		return set_int(p, key, val, 1, 120, &c->clv_horizon_months);
	case M_CLV_DISCOUNT:
		/* a monthly rate: 0.01 is 1% a month; above 100% a month is a typo */
		if (parse_decimal(val, &c->clv_discount_rate) != 0 || c->clv_discount_rate > 1.0)
			return perr(p, key, "invalid clv_discount_rate '%s' (expected a monthly rate from 0 to 1 such as 0.01)", val);
		return 0;
	}
	CRM_BUG("metrics key %d", k);
}

enum { R_TEMPLATE, R_LANG, R_TITLE };
static const char *const report_keys[] = { "template", "lang", "title", NULL };

static int set_report(struct parser *p, int k, const char *key, char *val)
{
	struct cfg *c = p->cfg;

	switch (k) {
	case R_TEMPLATE:
		return set_name(p, &c->report_template, key, val);
	case R_LANG:
		return set_lang(p, &c->report_lang, key, val);
	case R_TITLE:
		return set_line(p, &c->report_title, key, val);
	}
	CRM_BUG("report key %d", k);
}

/* ---- [mail] and [mail.NAME] ---- */

enum {
	ML_URL, ML_FROM, ML_TO, ML_USER, ML_PASSWORD, ML_SUBJECT, ML_TEMPLATE,
	ML_LANG, ML_SEGMENT, ML_CA_FILE
};
static const char *const mail_keys[] = {
	"url", "from", "to", "user", "password", "subject", "template", "lang",
	"segment", "ca_file", NULL
};
static const char *const mail_schemes[] = { "smtp://", "smtps://", NULL };

/* "a@x, b@y": each address checked, none empty. */
static int set_to(struct parser *p, const char *key, char *val)
{
	struct cfg_mail *m = cur_mail(p);
	char *s = val;
	int rc;

	for (;;) {
		char *comma = strchr(s, ',');
		char *addr, **to;

		if (comma)
			*comma = '\0';
		addr = trim(s);
		if (!addr[0])
			return perr(p, key, "empty address in %s", key);
		rc = check_address(p, key, addr);
		if (rc)
			return rc;
		if (m->n_to == MAX_TO)
			return perr(p, key, "too many addresses in %s (at most %d)", key, MAX_TO);
		to = xrealloc(m->to, (m->n_to + 1) * sizeof(*to));
		if (!to)
			return nomem(p);
		m->to = to;
		to[m->n_to] = xstrdup(addr);
		if (!to[m->n_to])
			return nomem(p);
		m->n_to++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

/* "dim=value", stored without the spaces around '='. */
static int set_segment(struct parser *p, const char *key, const char *val)
{
	static const char *const dims[] = { "channel", "region", "tier", "rfm", NULL };
	struct cfg_mail *m = cur_mail(p);
	char *work = xstrdup(val), *eq, *dim, *v;
	const char *const *d;
	size_t n;
	int rc = 0;

	if (!work)
		return nomem(p);
	eq = strchr(work, '=');
	if (!eq || has_ctl(work))
		goto bad;
	*eq = '\0';
	dim = trim(work);
	v = trim(eq + 1);
	for (d = dims; *d && strcmp(*d, dim) != 0; d++)
		;
	if (!*d || !v[0])
		goto bad;
	n = strlen(dim) + strlen(v) + 2;
	free(m->segment);
	m->segment = xmalloc(n);
	if (!m->segment)
		rc = nomem(p);
	else
		snprintf(m->segment, n, "%s=%s", dim, v);
	goto out;
bad:
	rc = perr(p, key, "invalid segment '%s' (expected dim=value with dim channel, region, tier or rfm)", val);
out:
	free(work);
	return rc;
}

static int set_mail(struct parser *p, int k, const char *key, char *val)
{
	struct cfg_mail *m = cur_mail(p);
	int rc;

	switch (k) {
	case ML_URL:
		rc = check_url(p, key, val, mail_schemes, "smtp:// or smtps://",
			       "use user and password = env:NAME or file:PATH");
		return rc ? rc : set_str(p, &m->url, val);
	case ML_FROM:
		rc = check_address(p, key, val);
		return rc ? rc : set_str(p, &m->from, val);
	case ML_TO:
		return set_to(p, key, val);
	case ML_USER:
		return set_secret(p, &m->user, key, val);
	case ML_PASSWORD:
		return set_secret(p, &m->password, key, val);
	case ML_SUBJECT:
		return set_line(p, &m->subject, key, val);
	case ML_TEMPLATE:
		return set_name(p, &m->template, key, val);
	case ML_LANG:
		return set_lang(p, &m->lang, key, val);
	case ML_SEGMENT:
		return set_segment(p, key, val);
	case ML_CA_FILE:
		return set_path(p, &m->ca_file, key, val);
	}
	CRM_BUG("mail key %d", k);
}

static const struct section_def sections[SEC_COUNT] = {
	[SEC_PIPELINE] = { "pipeline", SEC_PIPELINE, pipeline_keys, set_pipeline },
	[SEC_SOURCE] = { "source", SEC_SOURCE, source_keys, set_source },
	[SEC_FETCH] = { "fetch", SEC_FETCH, fetch_keys, set_fetch },
	[SEC_METRICS] = { "metrics", SEC_METRICS, metrics_keys, set_metrics },
	[SEC_REPORT] = { "report", SEC_REPORT, report_keys, set_report },
	[SEC_MAIL] = { "mail", SEC_MAIL, mail_keys, set_mail },
};

/* ---- sections ---- */

static void free_maps(struct parser *p)
{
	size_t i;

	for (i = 0; i < p->n_maps; i++) {
		free(p->maps[i].key);
		free(p->maps[i].value);
	}
	p->n_maps = 0;
}

/* Check the section just read as a whole; called at each header and at the end. */
static int finish_section(struct parser *p)
{
	int rc = 0;

	if (!p->sec)
		return 0;
	if (p->sec->kind == SEC_SOURCE)
		rc = finish_source(p);
	else if (p->sec->kind == SEC_MAIL && !(p->seen & (1u << ML_TO)))
		rc = perr_at(p, p->sec_line, "to", "missing key 'to' in %s", p->label);
	free_maps(p);
	p->sec = NULL;
	p->seen = 0;
	return rc;
}

static void begin(struct parser *p, enum sec_kind kind, const char *name)
{
	p->sec = &sections[kind];
	p->sec_line = p->line;
	p->seen = 0;
	snprintf(p->label, sizeof(p->label), "[%s]", name);
}

static int open_source(struct parser *p, const char *name, const char *full)
{
	struct cfg *c = p->cfg;
	struct cfg_source *s;
	size_t i;

	for (i = 0; i < c->n_sources; i++)
		if (strcmp(c->sources[i].name, name) == 0)
			return perr(p, NULL, "section '[%s]' given twice (first at line %d)", full, c->sources[i].line);
	if (c->n_sources == MAX_SOURCES)
		return perr(p, NULL, "too many [source.NAME] sections (at most %d)", MAX_SOURCES);
	s = xrealloc(c->sources, (c->n_sources + 1) * sizeof(*s));
	if (!s)
		return nomem(p);
	c->sources = s;
	p->cur = c->n_sources++;
	s = &c->sources[p->cur];
	memset(s, 0, sizeof(*s));
	s->line = (int)p->line;
	s->delimiter = ',';
	s->timeout_s = 300;
	s->connect_timeout_s = 30;
	s->retries = 4;
	s->max_bytes = 4ULL << 30;
	begin(p, SEC_SOURCE, full);
	return set_str(p, &s->name, name);
}

/* name is "" for [mail]. */
static int open_mail(struct parser *p, const char *name, const char *full)
{
	struct cfg *c = p->cfg;
	struct cfg_mail *m;
	size_t i;

	for (i = 0; i < c->n_mails; i++)
		if (c->mails[i].name && strcmp(c->mails[i].name, name) == 0)
			return perr(p, NULL, "section '[%s]' given twice (first at line %d)", full, c->mails[i].line);
	if (c->n_mails == MAX_MAILS)
		return perr(p, NULL, "too many [mail] sections (at most %d)", MAX_MAILS);
	m = xrealloc(c->mails, (c->n_mails + 1) * sizeof(*m));
	if (!m)
		return nomem(p);
	c->mails = m;
	p->cur = c->n_mails++;
	m = &c->mails[p->cur];
	memset(m, 0, sizeof(*m));
	m->line = (int)p->line;
	begin(p, SEC_MAIL, full);
	return set_str(p, &m->name, name);
}

static int unknown_section(struct parser *p, const char *name)
{
	static const char *const fixed[] = { "pipeline", "fetch", "metrics", "report", "mail", NULL };
	static const char *const prefixed[] = { "source", "mail", NULL };
	char pre[EDIT_MAX + 1];
	const char *dot = strchr(name, '.');
	const char *near = NULL;

	if (dot && (size_t)(dot - name) <= EDIT_MAX) {
		memcpy(pre, name, (size_t)(dot - name));
		pre[dot - name] = '\0';
		near = text_suggest(pre, prefixed);
		if (near)
			return perr(p, NULL, "unknown section '[%s]' (did you mean '[%s.%s]'?)", name, near, dot + 1);
	}
	near = text_suggest(name, fixed);
	if (near)
		return perr(p, NULL, "unknown section '[%s]' (did you mean '[%s]'?)", name, near);
	if (text_suggest(name, (const char *const[]){ "source", NULL }))
		return perr(p, NULL, "unknown section '[%s]' (did you mean '[source.NAME]'?)", name);
	return perr(p, NULL, "unknown section '[%s]' (expected [pipeline], [source.NAME], [fetch], [metrics], [report], [mail] or [mail.NAME])", name);
}

static int open_section(struct parser *p, const char *name)
{
	const char *dot = strchr(name, '.');
	int k;

	if (dot && (starts_with(name, "source.") || starts_with(name, "mail."))) {
		if (!valid_name(dot + 1))
			return perr(p, NULL, "invalid section name '[%s]' (the part after '.' is 1 to 64 of A-Z a-z 0-9 _ -)", name);
		if (name[0] == 's')
			return open_source(p, dot + 1, name);
		return open_mail(p, dot + 1, name);
	}
	if (strcmp(name, "source") == 0)
		return perr(p, NULL, "section '[source]' needs a name (e.g. '[source.orders]')");
	for (k = 0; k < SEC_COUNT; k++) {
		if (k == SEC_SOURCE || strcmp(name, sections[k].name) != 0)
			continue;
		if (k == SEC_MAIL)
			return open_mail(p, "", name);
		if (p->once_line[k])
			return perr(p, NULL, "section '[%s]' given twice (first at line %ld)", name, p->once_line[k]);
		p->once_line[k] = p->line;
		begin(p, (enum sec_kind)k, name);
		return 0;
	}
	return unknown_section(p, name);
}

/* "[name]", optionally followed by a comment. */
static int parse_header(struct parser *p, char *s)
{
	char *close = strchr(s, ']');
	char *rest, *name;
	int rc;

	if (!close)
		return perr(p, NULL, "missing ']' in section header");
	rest = skip_ws(close + 1);
	if (*rest && *rest != '#' && *rest != ';')
		return perr(p, NULL, "unexpected text after section header");
	*close = '\0';
	name = trim(s + 1);
	if (!name[0])
		return perr(p, NULL, "empty section name");
	rc = finish_section(p);
	return rc ? rc : open_section(p, name);
}

/* ---- keys and values ---- */

/*
 * A quoted value, unescaped in place. Messages name the key, never the
 * text: this may be a plain password about to be refused.
 */
static int parse_quoted(struct parser *p, const char *key, char *v, char **val)
{
	char quote = *v, *r = v + 1, *w = v, *rest;

	for (; *r != quote; r++) {
		if (*r == '\0')
			return perr(p, key, "missing closing quote in value of '%s'", key);
		if (quote == '"' && *r == '\\') {
			switch (*++r) {
			case '"': *w++ = '"'; break;
			case '\\': *w++ = '\\'; break;
			case 'n': *w++ = '\n'; break;
			case 't': *w++ = '\t'; break;
			case '\0':
				return perr(p, key, "missing closing quote in value of '%s'", key);
			default:
				return perr(p, key, "unknown escape in value of '%s' (use \\\" \\\\ \\n or \\t, or single quotes)", key);
			}
			continue;
		}
		*w++ = *r;
	}
	rest = skip_ws(r + 1);
	if (*rest && *rest != '#' && *rest != ';')
		return perr(p, key, "unexpected text after the closing quote of '%s'", key);
	*w = '\0';
	*val = v;
	return 0;
}

/*
 * The text after '='. Unquoted, a '#' or ';' after white space starts a
 * comment, including the white space right after '=': "delimiter = ;" is
 * empty, so such a delimiter must be quoted.
 */
static int parse_value(struct parser *p, const char *key, char *s, char **val)
{
	char *v = skip_ws(s), *q;

	if (*v == '"' || *v == '\'')
		return parse_quoted(p, key, v, val);
	for (q = v; *q; q++) {
		if ((*q == '#' || *q == ';') && q > s && is_ws(q[-1])) {
			*q = '\0';
			break;
		}
	}
	*val = trim(v);
	return 0;
}

static int key_index(const char *const *keys, const char *key)
{
	int k;

	for (k = 0; keys[k]; k++)
		if (strcmp(keys[k], key) == 0)
			return k;
	return -1;
}

static int unknown_key(struct parser *p, const char *key)
{
	const char *near = text_suggest(key, p->sec->keys);
	const char *dot = strchr(key, '.');

	if (!near && p->sec->kind == SEC_SOURCE && dot && (size_t)(dot - key) <= EDIT_MAX) {
		static const char *const prefixes[] = { "map", "header", NULL };
		char pre[EDIT_MAX + 1];

		memcpy(pre, key, (size_t)(dot - key));
		pre[dot - key] = '\0';
		near = text_suggest(pre, prefixes);
		if (near)
			return perr(p, key, "unknown key '%s' in %s (did you mean '%s%s'?)", key, p->label, near, dot);
	}
	if (near)
		return perr(p, key, "unknown key '%s' in %s (did you mean '%s'?)", key, p->label, near);
	return perr(p, key, "unknown key '%s' in %s", key, p->label);
}

static int set_key(struct parser *p, const char *key, char *val)
{
	const struct section_def *d = p->sec;
	int k = key_index(d->keys, key);

	if (k >= 0 && (p->seen & (1u << k)))
		return perr(p, key, "key '%s' given twice in %s (first at line %ld)",
			    key, p->label, p->seen_line[k]);
	if (k < 0 && !(d->kind == SEC_SOURCE && (starts_with(key, "map.") || starts_with(key, "header."))))
		return unknown_key(p, key);
	if (!val[0]) {
		if (strcmp(key, "delimiter") == 0)
			return perr(p, key, "missing value for 'delimiter' (quote a ';' or '#': delimiter = \";\")");
		return perr(p, key, "missing value for '%s'", key);
	}
	if (k < 0 && starts_with(key, "map."))
		return add_map(p, key, val);
	if (k < 0)
		return add_header(p, key, val);
	p->seen |= 1u << k;
	p->seen_line[k] = p->line;
	return d->set(p, k, key, val);
}

static int parse_pair(struct parser *p, char *s)
{
	char *eq = strchr(s, '=');
	char *key, *val = NULL;
	const char *c;
	int rc;

	/* Not quoted: "password: hunter2" is a line the user meant as a pair. */
	if (!eq)
		return perr(p, NULL, "cannot parse line (expected '[section]', 'key = value' or a comment)");
	*eq = '\0';
	key = trim(s);
	if (!key[0])
		return perr(p, NULL, "missing key before '='");
	for (c = key; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return perr(p, NULL, "invalid key '%s' (keys are ASCII without spaces)", key);
	if (!p->sec)
		return perr(p, key, "key '%s' outside any section (start one with '[pipeline]' or '[source.NAME]')", key);
	rc = parse_value(p, key, eq + 1, &val);
	return rc ? rc : set_key(p, key, val);
}

/* One line, NUL-terminated in place; n excludes the '\n'. */
static int parse_line(struct parser *p, char *s, size_t n)
{
	size_t i;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return perr(p, NULL, "invalid control character 0x%02x in line", c);
	}
	s = skip_ws(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_header(p, s);
	return parse_pair(p, s);
}

static int parse_lines(struct parser *p, char *s, size_t len)
{
	char *end = s + len;
	int rc = 0;

	/* A BOM is what Windows editors write first; it is not part of line 1. */
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (s < end && rc == 0) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		char *eol = nl ? nl : end;

		p->line++;
		rc = parse_line(p, s, (size_t)(eol - s));
		s = nl ? nl + 1 : end;
	}
	return rc;
}

/* ---- the file as a whole ---- */

static int inherit(struct parser *p, char **dst, const char *src)
{
	return *dst || !src ? 0 : set_str(p, dst, src);
}

/* [mail] goes first; [mail.NAME] lists take what they lack from it. */
static int finish_mails(struct parser *p)
{
	struct cfg *c = p->cfg;
	const struct cfg_mail *top = NULL;
	size_t i;

	for (i = 0; i < c->n_mails; i++) {
		if (c->mails[i].name[0] == '\0' && i > 0) {
			struct cfg_mail m = c->mails[i];

			memmove(&c->mails[1], &c->mails[0], i * sizeof(m));
			c->mails[0] = m;
		}
	}
	if (c->n_mails && c->mails[0].name[0] == '\0')
		top = &c->mails[0];
	for (i = 0; i < c->n_mails; i++) {
		struct cfg_mail *m = &c->mails[i];
		const char *dot = m->name[0] ? "." : "";

		if (top && m != top &&
		    (inherit(p, &m->url, top->url) || inherit(p, &m->from, top->from) ||
		     inherit(p, &m->user, top->user) || inherit(p, &m->password, top->password) ||
		     inherit(p, &m->subject, top->subject) || inherit(p, &m->template, top->template) ||
		     inherit(p, &m->lang, top->lang)))
			return p->e->code;
		if (!m->url)
			return perr_at(p, m->line, "url", "missing key 'url' in [mail%s%s]", dot, m->name);
		if (!m->from)
			return perr_at(p, m->line, "from", "missing key 'from' in [mail%s%s]", dot, m->name);
		if (inherit(p, &m->subject, DEFAULT_SUBJECT))
			return p->e->code;
	}
	return 0;
}

static int finish_file(struct parser *p)
{
	struct cfg *c = p->cfg;

	if (c->n_sources == 0)
		return err_at(p->e, CRM_E_CONFIG, p->path, 0, NULL,
			      "no [source.NAME] section (at least one source is required)");
	if (!c->data_dir && set_path(p, &c->data_dir, "data_dir", "var"))
		return p->e->code;
	if (inherit(p, &c->timezone, "UTC") || inherit(p, &c->currency, "USD") ||
	    inherit(p, &c->report_template, "executive") || inherit(p, &c->report_lang, "en") ||
	    inherit(p, &c->report_title, "Customer metrics"))
		return p->e->code;
	return finish_mails(p);
}

static int cfg_new(struct parser *p, const char *path, const char *base_dir)
{
	struct cfg *c = xmalloc(sizeof(*c));

	if (!c)
		return nomem(p);
	memset(c, 0, sizeof(*c));
	p->cfg = c;
	c->max_reject_ratio = 0.01;
	c->fetch_concurrency = 4;
	c->churn_model = CFG_CHURN_ACTIVITY;
	c->inactivity_days = 90;
	c->sla_hours = 48;
	c->max_lifespan_years = 10;
	c->loyalty_weights[0] = c->loyalty_weights[1] = c->loyalty_weights[2] = 1.0;
	c->clv_horizon_months = 12;
	c->clv_discount_rate = 0.01;
	if (set_str(p, &c->path, path) || set_str(p, &c->dir, base_dir ? base_dir : "."))
		return p->e->code;
	return 0;
}

int cfg_parse(const char *text, size_t len, const char *path,
	      const char *base_dir, struct cfg **out, struct crm_err *e)
{
	struct parser p;
	char *buf = NULL;
	int rc;

	memset(&p, 0, sizeof(p));
	*out = NULL;
	p.e = e;
	p.path = path ? path : "(config)";
	p.base = base_dir && strcmp(base_dir, ".") != 0 ? base_dir : NULL;
	if (len > CFG_MAX_BYTES) {
		rc = err_at(e, CRM_E_CONFIG, p.path, 0, NULL, "config is bigger than 1 MiB");
		goto out;
	}
	rc = cfg_new(&p, p.path, base_dir);
	if (rc)
		goto out;
	buf = xmemdup(len ? text : "", len);
	if (!buf) {
		rc = nomem(&p);
		goto out;
	}
	rc = parse_lines(&p, buf, len);
	if (rc == 0)
		rc = finish_section(&p);
	if (rc == 0)
		rc = finish_file(&p);
out:
	free_maps(&p);
	free(buf);
	if (rc) {
		cfg_free(p.cfg);
		return rc;
	}
	*out = p.cfg;
	return 0;
}

/* ---- files ---- */

/*
 * Read all of fd into one buffer of max + 1 bytes, allocated once so a
 * secret is never left behind in a freed, smaller buffer. Returns 0,
 * -1 with errno set, or 1 when the content is bigger than max.
 */
static int read_all(int fd, size_t max, char **out, size_t *len)
{
	char *buf = xmalloc(max + 1);
	size_t n = 0;

	*out = NULL;
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	while (n <= max) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			wipe(buf, n);
			free(buf);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		wipe(buf, n);
		free(buf);
		return 1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* The directory part of path: "." for a bare name, "/" for "/x". */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xmemdup(path, (size_t)(slash - path));
}

int cfg_load(const char *path, struct cfg **out, struct crm_err *e)
{
	char *text = NULL, *dir = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, CRM_E_CONFIG, errno, path, "cannot open config file");
	rc = read_all(fd, CFG_MAX_BYTES, &text, &len);
	if (rc < 0) {
		rc = errno == ENOMEM ? err_at(e, CRM_E_NOMEM, path, 0, NULL, "out of memory")
				     : err_sys(e, CRM_E_CONFIG, errno, path, "cannot read config file");
		goto out;
	}
	if (rc > 0) {
		rc = err_at(e, CRM_E_CONFIG, path, 0, NULL, "config file is bigger than 1 MiB");
		goto out;
	}
	dir = dir_of(path);
	if (!dir) {
		rc = err_at(e, CRM_E_NOMEM, path, 0, NULL, "out of memory");
		goto out;
	}
	rc = cfg_parse(text, len, path, dir, out, e);
out:
	close(fd);
	free(text);
	free(dir);
	return rc;
}

/* ---- secrets ---- */

static int secret_from_env(const char *ref, char **out, struct crm_err *e)
{
	const char *name = ref + 4;
	const char *v = getenv(name);
	size_t n;

	if (!v || !v[0])
		return err_at(e, CRM_E_CONFIG, NULL, 0, NULL,
			      "environment variable '%s' is not set (secret reference '%s')", name, ref);
	n = strlen(v);
	if (n > SECRET_MAX_BYTES)
		return err_at(e, CRM_E_CONFIG, NULL, 0, NULL,
			      "environment variable '%s' is bigger than 64 KiB (secret reference '%s')", name, ref);
	*out = xmemdup(v, n);
	if (!*out)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	return 0;
}

/*
 * The file is checked through the open descriptor, so what is checked is
 * what is read. Symbolic links are followed: secret stores (Kubernetes
 * volumes, systemd credentials) hand them out that way.
 */
static int secret_from_file(const char *path, char **out, struct crm_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_sys(e, CRM_E_CONFIG, errno, path, "cannot open secret file");
	if (fstat(fd, &st) != 0) {
		rc = err_sys(e, CRM_E_CONFIG, errno, path, "cannot stat secret file");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_at(e, CRM_E_CONFIG, path, 0, NULL, "secret file '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = err_at(e, CRM_E_CONFIG, path, 0, NULL,
			    "secret file '%s' is readable or writable by group or others (mode %04o; chmod 600 it)",
			    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	rc = read_all(fd, SECRET_MAX_BYTES, &buf, &len);
	if (rc < 0) {
		rc = errno == ENOMEM ? err_set(e, CRM_E_NOMEM, "out of memory")
				     : err_sys(e, CRM_E_CONFIG, errno, path, "cannot read secret file");
		goto out;
	}
	if (rc > 0) {
		rc = err_at(e, CRM_E_CONFIG, path, 0, NULL, "secret file '%s' is bigger than 64 KiB", path);
		goto out;
	}
	/* Editors end files with a newline that is not part of the secret. */
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0)
		rc = err_at(e, CRM_E_CONFIG, path, 0, NULL, "secret file '%s' is empty", path);
	else if (memchr(buf, '\0', len))
		rc = err_at(e, CRM_E_CONFIG, path, 0, NULL, "secret file '%s' contains a NUL byte", path);
	if (rc == 0) {
		*out = buf;
		buf = NULL;
	}
out:
	if (buf) {
		wipe(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

int cfg_secret_resolve(const char *ref, char **out, struct crm_err *e)
{
	*out = NULL;
	/* Not quoted: a malformed reference may be a pasted secret. */
	if (!cfg_is_secret_ref(ref))
		return err_set(e, CRM_E_CONFIG, "invalid secret reference (expected env:NAME or file:PATH)");
	if (starts_with(ref, "env:"))
		return secret_from_env(ref, out, e);
	return secret_from_file(ref + 5, out, e);
}

/* ---- lookup and release ---- */

const struct cfg_source *cfg_source_by_name(const struct cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; cfg && i < cfg->n_sources; i++)
		if (cfg->sources[i].name && strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	return NULL;
}

static void source_release(struct cfg_source *s)
{
	size_t i;

	free(s->name);
	free(s->file);
	free(s->url);
	free(s->record);
	for (i = 0; i < SCHEMA_MAX_FIELDS; i++)
		free(s->map[i]);
	for (i = 0; i < s->n_headers; i++) {
		free(s->headers[i].key);
		free(s->headers[i].value);
	}
	free(s->headers);
	free(s->ca_file);
}

static void mail_release(struct cfg_mail *m)
{
	size_t i;

	free(m->name);
	free(m->url);
	free(m->from);
	for (i = 0; i < m->n_to; i++)
		free(m->to[i]);
	free(m->to);
	free(m->user);
	free(m->password);
	free(m->subject);
	free(m->template);
	free(m->lang);
	free(m->segment);
	free(m->ca_file);
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_sources; i++)
		source_release(&cfg->sources[i]);
	free(cfg->sources);
	for (i = 0; i < cfg->n_mails; i++)
		mail_release(&cfg->mails[i]);
	free(cfg->mails);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->data_dir);
	free(cfg->timezone);
	free(cfg->currency);
	free(cfg->report_template);
	free(cfg->report_lang);
	free(cfg->report_title);
	free(cfg);
}
