/*
 * fetch.c - the fetch stage: libcurl downloads into <data_dir>/raw (see
 * fetch.h for the layout and its crash guarantees).
 *
 * Owns, per source with a url, one "job": a curl easy handle, its request
 * headers (secrets resolved just before the run and wiped after), a
 * temporary file the body streams into while it is hashed, and the state of
 * its retries. All jobs run in one curl multi handle, at most
 * cfg->fetch_concurrency transfers at a time; a job waiting out a backoff
 * holds no slot. Nothing here parses the exports: bodies are stored as
 * received (gzip files stay gzip; the normalizer looks at magic bytes).
 *
 * Deliberately not done: resuming partial downloads (a cut body is thrown
 * away and fetched again; exports are small next to the cost of getting a
 * resume wrong), caching across sources, proxies beyond libcurl's own
 * environment variables, and any switch to turn TLS verification off.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "fsx.h"
#include "text.h"
#include "log.h"
#include "sha256.h"

#include "banned.h"

#define USER_AGENT "crmetl/0.1"
#define TMP_PREFIX "incoming.tmp."

enum job_state { JOB_WAIT, JOB_ACTIVE, JOB_DONE };
enum job_outcome { OUT_NONE, OUT_DOWNLOADED, OUT_UNCHANGED, OUT_FAILED };

struct job {
	const struct cfg_source *src; /* borrowed from the config */
	char url[2048];               /* src->url without credentials, for logs and meta */
	char dir[4096];               /* <data_dir>/raw/<source> */
	char tmp[4200];               /* the temporary body file of the attempt */
	int is_file;                  /* file:// (no HTTP status, no validators) */
	int fd;                       /* open temporary file, or -1 */
	CURL *h;                      /* owned easy handle */
	struct curl_slist *headers;   /* owned; holds resolved secrets: wiped before freeing */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's message of the attempt */

	struct fetch_meta old;        /* current.meta before the run */
	int has_old;                  /* old is valid and its body exists */
	int conditional;              /* validators were sent */

	/* One attempt. */
	struct sha256 sha;
	unsigned long long bytes;     /* body bytes written */
	int too_big;                  /* the body passed max_bytes */
	int io_errno;                 /* writing the temporary file failed */
	long cur_status;              /* status line of the response being read */
	char etag[512];               /* validators and hints of the last response */
	char last_modified[128];
	char retry_after[128];
	char content_encoding[64];

	unsigned attempts;            /* started so far */
	long long next_ms;            /* monotonic ms before which no retry starts */
	long long start_ms;           /* first attempt */
	enum job_state state;
	enum job_outcome outcome;
	struct crm_err err;           /* why it failed */
};

long fetch_retry_after(const char *value, time_t now)
{
	const char *p = value;
	long secs;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p >= '0' && *p <= '9') {
		unsigned long long v = 0;

		for (; *p >= '0' && *p <= '9'; p++)
			if (v < 1000000000ULL)
				v = v * 10 + (unsigned long long)(*p - '0');
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return -1;
		secs = v > FETCH_RETRY_AFTER_MAX ? FETCH_RETRY_AFTER_MAX : (long)v;
		return secs;
	}
	if (!*p)
		return -1;
	{
		time_t t = curl_getdate(p, NULL);

		if (t == (time_t)-1)
			return -1;
		if (t <= now)
			return 0;
		return t - now > FETCH_RETRY_AFTER_MAX ? FETCH_RETRY_AFTER_MAX : (long)(t - now);
	}
}

long fetch_backoff_ms(unsigned retry, long base_ms, long cap_ms, unsigned long rnd)
{
	long d = base_ms < 0 ? 0 : base_ms;
	unsigned i;

	for (i = 0; i < retry && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	/* Equal jitter: spread retries of many clients, yet never retry at once. */
	return d / 2 + (long)((double)(d - d / 2) * ((double)(rnd & 0xffffffffUL) / 4294967296.0));
}

int fetch_retryable(int curl_code, long status)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return status == 408 || status == 429 || (status >= 500 && status <= 599);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* ---- current.meta ---- */

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static int meta_set(char *dst, size_t n, const char *val, size_t len)
{
	if (len >= n)
		return -1;
	memcpy(dst, val, len);
	dst[len] = '\0';
	return 0;
}

int fetch_meta_parse(const char *text, size_t len, const char *where, struct fetch_meta *m,
		     struct crm_err *e)
{
	const char *p = text, *end = text + len;
	int have_sha = 0, have_size = 0;
	long line = 0;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *eq, *k_end, *v;
		size_t klen, vlen;
		char key[32];
		int bad = 0;

		line++;
		eq = memchr(p, '=', (size_t)(eol - p));
		if (eol == p) {
			p = eol + 1;
			continue;
		}
		if (!eq || memchr(p, '\0', (size_t)(eol - p)))
			return err_at(e, CRM_E_CORRUPT, where, line, NULL, "damaged fetch record: expected 'key = value'");
		for (k_end = eq; k_end > p && k_end[-1] == ' '; k_end--)
			;
		for (v = eq + 1; v < eol && *v == ' '; v++)
			;
		klen = (size_t)(k_end - p);
		vlen = (size_t)(eol - v);
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\r'))
			vlen--;
		if (klen == 0 || klen >= sizeof(key))
			return err_at(e, CRM_E_CORRUPT, where, line, NULL, "damaged fetch record: bad key");
		memcpy(key, p, klen);
		key[klen] = '\0';
		if (strcmp(key, "url") == 0) {
			bad = meta_set(m->url, sizeof(m->url), v, vlen);
		} else if (strcmp(key, "sha256") == 0) {
			bad = meta_set(m->sha256, sizeof(m->sha256), v, vlen) || !is_hex64(m->sha256);
			have_sha = 1;
		} else if (strcmp(key, "size") == 0 || strcmp(key, "status") == 0) {
			char num[24];
			char *nend;
			unsigned long long u;

			bad = meta_set(num, sizeof(num), v, vlen) || vlen == 0 ||
			      strspn(num, "0123456789") != vlen;
			if (!bad) {
				errno = 0;
				u = strtoull(num, &nend, 10);
				bad = errno != 0;
				if (key[1] == 'i')
					m->size = u, have_size = 1;
				else if (u > 999)
					bad = 1;
				else
					m->status = (long)u;
			}
		} else if (strcmp(key, "fetched_at") == 0) {
			bad = meta_set(m->fetched_at, sizeof(m->fetched_at), v, vlen);
		} else if (strcmp(key, "etag") == 0) {
			bad = meta_set(m->etag, sizeof(m->etag), v, vlen);
		} else if (strcmp(key, "last_modified") == 0) {
			bad = meta_set(m->last_modified, sizeof(m->last_modified), v, vlen);
		} /* else: a key from a newer version; ignored */
		if (bad)
			return err_at(e, CRM_E_CORRUPT, where, line, key, "damaged fetch record: bad value of '%s'", key);
		p = nl ? nl + 1 : end;
	}
	if (!have_sha)
		return err_at(e, CRM_E_CORRUPT, where, 0, "sha256", "damaged fetch record: no sha256");
	if (!have_size)
		return err_at(e, CRM_E_CORRUPT, where, 0, "size", "damaged fetch record: no size");
	return 0;
}

int fetch_meta_format(const struct fetch_meta *m, char *buf, size_t n)
{
	int len = snprintf(buf, n,
			   "url = %s\nsha256 = %s\nsize = %llu\nfetched_at = %s\n"
			   "etag = %s\nlast_modified = %s\nstatus = %ld\n",
			   m->url, m->sha256, m->size, m->fetched_at, m->etag, m->last_modified,
			   m->status);

	return len < 0 || (size_t)len >= n ? -1 : len;
}

static int valid_source_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

int fetch_meta_read(const char *data_dir, const char *source, struct fetch_meta *m,
		    struct crm_err *e)
{
	char path[4200];
	unsigned char *text = NULL;
	size_t len;
	int rc;

	if (!valid_source_name(source))
		return err_set(e, CRM_E_INPUT, "invalid source name '%s'", source);
	if ((size_t)snprintf(path, sizeof(path), "%s/raw/%s/%s", data_dir, source, FETCH_META_NAME) >=
	    sizeof(path))
		return err_at(e, CRM_E_IO, data_dir, 0, NULL, "path too long");
	rc = fsx_read_file(path, FETCH_META_MAX, &text, &len, e);
	if (rc == CRM_E_INPUT && e->sys_errno == ENOENT) {
		err_clear(e);
		return err_at(e, CRM_E_INPUT, path, 0, NULL,
			      "source '%s' has not been fetched yet (run 'crmetl fetch')", source);
	}
	if (rc)
		return rc;
	rc = fetch_meta_parse((const char *)text, len, path, m, e);
	free(text);
	return rc;
}

int fetch_current(const char *data_dir, const char *source, char **path, struct crm_err *e)
{
	struct fetch_meta m;
	struct stat st;
	char *p;
	size_t n;
	int rc;

	*path = NULL;
	rc = fetch_meta_read(data_dir, source, &m, e);
	if (rc)
		return rc;
	n = strlen(data_dir) + strlen(source) + 80;
	p = malloc(n);
	if (!p)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	snprintf(p, n, "%s/raw/%s/%s", data_dir, source, m.sha256);
	if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = err_at(e, CRM_E_CORRUPT, p, 0, NULL,
			    "stored copy of source '%s' is missing (run 'crmetl fetch')", source);
		free(p);
		return rc;
	}
	if ((unsigned long long)st.st_size != m.size) {
		rc = err_at(e, CRM_E_CORRUPT, p, 0, NULL,
			    "stored copy of source '%s' has %llu bytes, its record says %llu (run 'crmetl fetch')",
			    source, (unsigned long long)st.st_size, m.size);
		free(p);
		return rc;
	}
	*path = p;
	return 0;
}

/* ---- clocks, randomness, time stamps ---- */

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static unsigned long next_rand(unsigned long *state)
{
	unsigned long x = *state & 0xffffffffUL;

	x ^= (x << 13) & 0xffffffffUL;
	x ^= x >> 17;
	x ^= (x << 5) & 0xffffffffUL;
	*state = x ? x : 0x9e3779b9UL;
	return *state;
}

static void utc_now(char *buf, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm))
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, n, "1970-01-01T00:00:00Z");
}

/* CRMETL_FETCH_BACKOFF_MS: the first backoff, ms (tests make it short). */
static long backoff_base(void)
{
	const char *s = getenv("CRMETL_FETCH_BACKOFF_MS");
	char *end;
	long v;

	if (!s || !*s)
		return FETCH_BACKOFF_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > FETCH_BACKOFF_MAX_MS) {
		log_warn("fetch: ignoring CRMETL_FETCH_BACKOFF_MS='%s' (expected 0 to %d)", s,
			 FETCH_BACKOFF_MAX_MS);
		return FETCH_BACKOFF_MS;
	}
	return v;
}

/* ---- libcurl callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct job *j = userp;
	size_t n = size * nmemb;

	/* Error pages are not exports: read and drop them. */
	if (!j->is_file && j->cur_status != 200)
		return n;
	if (n > j->src->max_bytes - j->bytes) {
		j->too_big = 1;
		return 0;
	}
	if (fsx_write_all(j->fd, data, n) != 0) {
		j->io_errno = errno;
		return 0;
	}
	sha256_update(&j->sha, data, n);
	j->bytes += n;
	return n;
}

/* Copy a header value if it is printable text that fits; drop it otherwise. */
static void keep_header(char *dst, size_t n, const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return;
	if (len >= n || memchr(v, 0x7f, len))
		return;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
	struct job *j = userp;
	size_t n = size * nmemb, len = n, nlen;
	const char *colon, *v;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', len);

		/* A new response (after a redirect or a 100): forget the last one's headers. */
		j->cur_status = 0;
		if (sp && (size_t)(line + len - sp) >= 4) {
			int d;

			for (d = 1; d <= 3 && sp[d] >= '0' && sp[d] <= '9'; d++)
				j->cur_status = j->cur_status * 10 + (sp[d] - '0');
		}
		j->etag[0] = j->last_modified[0] = j->retry_after[0] = j->content_encoding[0] = '\0';
		return n;
	}
	colon = memchr(line, ':', len);
	if (!colon)
		return n;
	nlen = (size_t)(colon - line);
	for (v = colon + 1; v < line + len && (*v == ' ' || *v == '\t'); v++)
		;
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	len = line + len > v ? (size_t)(line + len - v) : 0;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
	if (IS("ETag"))
		keep_header(j->etag, sizeof(j->etag), v, len);
	else if (IS("Last-Modified"))
		keep_header(j->last_modified, sizeof(j->last_modified), v, len);
	else if (IS("Retry-After"))
		keep_header(j->retry_after, sizeof(j->retry_after), v, len);
	else if (IS("Content-Encoding"))
		keep_header(j->content_encoding, sizeof(j->content_encoding), v, len);
#undef IS
	return n;
}

/* ---- one job ---- */

static void wipe_headers(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static void job_release(struct job *j, CURLM *multi)
{
	if (j->h) {
		if (j->state == JOB_ACTIVE)
			curl_multi_remove_handle(multi, j->h);
		curl_easy_cleanup(j->h);
		j->h = NULL;
	}
	wipe_headers(j->headers);
	j->headers = NULL;
	if (j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
		unlink(j->tmp);
	}
}

/* Add "Name: value" to the request headers; the value may be a secret. */
static int add_header(struct job *j, const char *name, const char *value, struct crm_err *e)
{
	size_t n = strlen(name) + strlen(value) + 3;
	struct curl_slist *l;
	char *line = malloc(n);

	if (!line)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	snprintf(line, n, "%s: %s", name, value);
	l = curl_slist_append(j->headers, line);
	explicit_bzero(line, n);
	free(line);
	if (!l)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	j->headers = l;
	return 0;
}

static int build_headers(struct job *j, const struct cfg *cfg, struct crm_err *e)
{
	size_t i;
	int rc;

	for (i = 0; i < j->src->n_headers; i++) {
		const struct cfg_kv *kv = &j->src->headers[i];
		char *secret = NULL;

		rc = cfg_secret_resolve(kv->value, &secret, e);
		if (rc)
			return err_context(e, cfg->path, kv->line);
		if (strpbrk(secret, "\r\n")) {
			explicit_bzero(secret, strlen(secret));
			free(secret);
			return err_at(e, CRM_E_CONFIG, cfg->path, kv->line, kv->key,
				      "the value of header '%s' (%s) contains a line break", kv->key, kv->value);
		}
		rc = add_header(j, kv->key, secret, e);
		explicit_bzero(secret, strlen(secret));
		free(secret);
		if (rc)
			return rc;
	}
	if (j->conditional && j->old.etag[0] && (rc = add_header(j, "If-None-Match", j->old.etag, e)))
		return rc;
	if (j->conditional && j->old.last_modified[0] &&
	    (rc = add_header(j, "If-Modified-Since", j->old.last_modified, e)))
		return rc;
	return 0;
}

/* Read the previous current.meta; keep it only if its body is really there. */
static void load_old(struct job *j, const struct cfg *cfg)
{
	struct crm_err e = { 0 };
	char body[4200];
	struct stat st;
	char msg[1024];

	if (fetch_meta_read(cfg->data_dir, j->src->name, &j->old, &e) != 0) {
		if (e.code != CRM_E_INPUT)
			log_warn("fetch: ignoring the previous fetch of source '%s': %s", j->src->name,
				 err_format(&e, msg, sizeof(msg)));
		return;
	}
	snprintf(body, sizeof(body), "%s/%s", j->dir, j->old.sha256);
	if (stat(body, &st) != 0 || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size != j->old.size) {
		log_warn("fetch: stored copy of source '%s' is missing or damaged; downloading it again",
			 j->src->name);
		return;
	}
	j->has_old = 1;
	/* Validators describe one resource: after a url change they mean nothing. */
	j->conditional = !j->is_file && strcmp(j->old.url, j->url) == 0 &&
			 (j->old.etag[0] || j->old.last_modified[0]);
}

#define SETOPT(opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(j->h, opt, val); } while (0)

static int job_setup(struct job *j, const struct cfg *cfg, const struct cfg_source *src,
		     struct crm_err *e)
{
	CURLcode cc = CURLE_OK;
	int rc;

	j->src = src;
	j->fd = -1;
	text_url_redact(src->url, j->url, sizeof(j->url));
	j->is_file = strncasecmp(src->url, "file://", 7) == 0;
	if ((size_t)snprintf(j->dir, sizeof(j->dir), "%s/raw/%s", cfg->data_dir, src->name) >= sizeof(j->dir))
		return err_at(e, CRM_E_IO, cfg->data_dir, 0, NULL, "path too long");
	snprintf(j->tmp, sizeof(j->tmp), "%s/" TMP_PREFIX "%ld", j->dir, (long)getpid());
	rc = fsx_mkdirs(j->dir, e);
	if (rc)
		return rc;
	load_old(j, cfg);
	rc = build_headers(j, cfg, e);
	if (rc)
		return rc;
	j->h = curl_easy_init();
	if (!j->h)
		return err_set(e, CRM_E_NOMEM, "cannot create a libcurl handle");
	SETOPT(CURLOPT_URL, src->url);
	SETOPT(CURLOPT_PRIVATE, (void *)j);
	SETOPT(CURLOPT_ERRORBUFFER, j->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, (void *)j);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, (void *)j);
	SETOPT(CURLOPT_HTTPHEADER, j->headers);
	SETOPT(CURLOPT_USERAGENT, USER_AGENT);
	SETOPT(CURLOPT_CONNECTTIMEOUT, src->connect_timeout_s);
	SETOPT(CURLOPT_TIMEOUT, src->timeout_s);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, (long)FETCH_LOW_SPEED_BYTES);
	SETOPT(CURLOPT_LOW_SPEED_TIME, (long)FETCH_LOW_SPEED_S);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)src->max_bytes);
	SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
	SETOPT(CURLOPT_PROTOCOLS_STR, j->is_file ? "file" : "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (src->ca_file)
		SETOPT(CURLOPT_CAINFO, src->ca_file);
	if (cc != CURLE_OK)
		return err_at(e, CRM_E_INTERNAL, j->url, 0, NULL, "cannot set up the transfer of source '%s': %s",
			      src->name, curl_easy_strerror(cc));
	return 0;
}

#undef SETOPT

static int start_attempt(struct job *j, CURLM *multi, long long now)
{
	CURLMcode mc;

	j->errbuf[0] = '\0';
	j->bytes = 0;
	j->too_big = 0;
	j->io_errno = 0;
	j->cur_status = 0;
	j->etag[0] = j->last_modified[0] = j->retry_after[0] = j->content_encoding[0] = '\0';
	sha256_init(&j->sha);
	j->fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (j->fd < 0)
		return err_sys(&j->err, CRM_E_IO, errno, j->tmp, "cannot create the download file of source '%s'",
			       j->src->name);
	if (j->attempts++ == 0)
		j->start_ms = now;
	mc = curl_multi_add_handle(multi, j->h);
	if (mc != CURLM_OK)
		return err_at(&j->err, CRM_E_INTERNAL, j->url, 0, NULL, "cannot start the transfer of source '%s': %s",
			      j->src->name, curl_multi_strerror(mc));
	j->state = JOB_ACTIVE;
	return 0;
}

/* Drop the attempt's temporary file. */
static void discard_tmp(struct job *j)
{
	if (j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
	}
	unlink(j->tmp);
}

/* A leftover "<name>.tmp.<pid>" of a process that is gone. */
static int stale_tmp(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	char *end;
	long pid;

	if (!t)
		return 0;
	errno = 0;
	pid = strtol(t + 5, &end, 10);
	if (errno || *end || pid <= 0)
		return 0;
	return pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* After current.meta names `keep`: remove older bodies and dead temporaries. */
static void sweep(struct job *j, const char *keep)
{
	DIR *d = opendir(j->dir);
	struct dirent *de;
	int removed = 0;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[4400];

		if (!((strlen(de->d_name) == 64 && is_hex64(de->d_name) && strcmp(de->d_name, keep) != 0) ||
		      stale_tmp(de->d_name)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
		if (unlink(path) == 0)
			removed++;
		else
			log_warn("fetch: cannot remove old copy '%s': %s", path, strerror(errno));
	}
	closedir(d);
	if (removed) {
		struct crm_err e = { 0 };
		char meta[4200];

		snprintf(meta, sizeof(meta), "%s/%s", j->dir, FETCH_META_NAME);
		fsx_sync_parent(meta, &e);
	}
}

/* The body is complete: name it by its hash, then point current.meta at it. */
static int commit(struct job *j)
{
	unsigned char digest[SHA256_LEN];
	struct fetch_meta m;
	char body[4400], meta[4200], text[4096];
	int len, rc, saved = 0;

	if (fsync(j->fd) != 0)
		saved = errno;
	if (close(j->fd) != 0 && !saved)
		saved = errno;
	j->fd = -1;
	if (saved) {
		unlink(j->tmp);
		return err_sys(&j->err, CRM_E_IO, saved, j->tmp, "cannot write the download of source '%s'",
			       j->src->name);
	}
	memset(&m, 0, sizeof(m));
	sha256_final(&j->sha, digest);
	sha256_hex(digest, m.sha256);
	snprintf(m.url, sizeof(m.url), "%s", j->url);
	m.size = j->bytes;
	utc_now(m.fetched_at, sizeof(m.fetched_at));
	if (!j->is_file) {
		snprintf(m.etag, sizeof(m.etag), "%s", j->etag);
		snprintf(m.last_modified, sizeof(m.last_modified), "%s", j->last_modified);
		m.status = j->cur_status;
	}
	snprintf(body, sizeof(body), "%s/%s", j->dir, m.sha256);
	if (rename(j->tmp, body) != 0) {
		saved = errno;
		unlink(j->tmp);
		return err_sys(&j->err, CRM_E_IO, saved, body, "cannot store the download of source '%s'",
			       j->src->name);
	}
	rc = fsx_sync_parent(body, &j->err);
	if (rc)
		return rc;
	len = fetch_meta_format(&m, text, sizeof(text));
	if (len < 0)
		return err_at(&j->err, CRM_E_INTERNAL, j->url, 0, NULL, "fetch record of source '%s' too long",
			      j->src->name);
	snprintf(meta, sizeof(meta), "%s/%s", j->dir, FETCH_META_NAME);
	rc = fsx_write_atomic(meta, text, (size_t)len, &j->err);
	if (rc)
		return rc;
	sweep(j, m.sha256);
	if (j->has_old && strcmp(j->old.sha256, m.sha256) == 0)
		j->has_old = 2; /* same bytes as before: say so in the log */
	return 0;
}

/* Explain a failed attempt into j->err (first call wins). */
static void describe_failure(struct job *j, CURLcode cc, long status)
{
	const char *name = j->src->name;
	char after[48] = "";
	int rc;

	if (j->attempts > 1)
		snprintf(after, sizeof(after), " after %u attempts", j->attempts);
	if (j->io_errno) {
		err_sys(&j->err, CRM_E_IO, j->io_errno, j->tmp, "cannot write the download of source '%s'", name);
		return;
	}
	if (j->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		err_at(&j->err, CRM_E_FETCH, j->url, 0, NULL,
		       "cannot fetch source '%s': the export is larger than max_bytes (%llu bytes)",
		       name, j->src->max_bytes);
		return;
	}
	if (cc != CURLE_OK) {
		rc = err_at(&j->err, CRM_E_FETCH, j->url, 0, NULL, "cannot fetch source '%s': %s (curl error %d)%s",
			    name, j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc), (int)cc, after);
	} else if (status == 304) {
		rc = err_at(&j->err, CRM_E_FETCH, j->url, 0, NULL,
			    "cannot fetch source '%s': HTTP status 304 to a request without validators", name);
	} else {
		rc = err_at(&j->err, CRM_E_FETCH, j->url, 0, NULL, "cannot fetch source '%s': HTTP status %ld%s",
			    name, status, after);
	}
	if (rc == CRM_E_FETCH && j->err.status == 0)
		j->err.status = status;
}

struct run {
	CURLM *multi;
	long base_ms;           /* first backoff */
	unsigned long rnd;      /* jitter state */
	unsigned active;        /* transfers in the multi handle */
	unsigned remaining;     /* jobs not done */
	struct fetch_stats *st;
};

static void job_done(struct run *r, struct job *j, enum job_outcome outcome, long long now)
{
	double secs = (double)(now - j->start_ms) / 1000.0;
	char msg[1200];

	j->state = JOB_DONE;
	j->outcome = outcome;
	r->remaining--;
	switch (outcome) {
	case OUT_DOWNLOADED:
		r->st->downloaded++;
		r->st->bytes += j->bytes;
		log_info("fetch: source '%s' downloaded %llu bytes in %.2f s%s%s (%s)", j->src->name, j->bytes, secs,
			 j->attempts > 1 ? ", after retries" : "",
			 j->has_old == 2 ? ", same content as before" : "", j->url);
		break;
	case OUT_UNCHANGED:
		r->st->unchanged++;
		log_info("fetch: source '%s' unchanged (304) (%s)", j->src->name, j->url);
		break;
	default:
		r->st->failed++;
		log_error("fetch: %s", err_format(&j->err, msg, sizeof(msg)));
		break;
	}
}

/* A transfer ended: keep the body, retry, or give up. */
static void attempt_done(struct run *r, struct job *j, CURLcode cc)
{
	long status = 0;
	long long now;
	curl_off_t clen = -1;

	curl_multi_remove_handle(r->multi, j->h);
	r->active--;
	j->state = JOB_WAIT;
	now = mono_ms();
	if (!j->is_file)
		curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK && (j->is_file || status == 200)) {
		/* libcurl checks Content-Length itself; this guards its corner cases. */
		if (!j->is_file && !j->content_encoding[0] &&
		    curl_easy_getinfo(j->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen) == CURLE_OK &&
		    clen >= 0 && (unsigned long long)clen != j->bytes) {
			discard_tmp(j);
			err_at(&j->err, CRM_E_FETCH, j->url, 0, NULL,
			       "cannot fetch source '%s': body of %llu bytes does not match Content-Length %lld",
			       j->src->name, j->bytes, (long long)clen);
			job_done(r, j, OUT_FAILED, now);
			return;
		}
		job_done(r, j, commit(j) == 0 ? OUT_DOWNLOADED : OUT_FAILED, now);
		return;
	}
	discard_tmp(j);
	if (cc == CURLE_OK && status == 304 && j->conditional) {
		sweep(j, j->old.sha256); /* leftovers of a killed run; current.meta untouched */
		job_done(r, j, OUT_UNCHANGED, now);
		return;
	}
	if (!j->io_errno && !j->too_big && fetch_retryable((int)cc, status) &&
	    j->attempts <= (unsigned long)j->src->retries) {
		long wait = fetch_backoff_ms(j->attempts - 1, r->base_ms, FETCH_BACKOFF_MAX_MS, next_rand(&r->rnd));
		long ra = cc == CURLE_OK && j->retry_after[0] ? fetch_retry_after(j->retry_after, time(NULL)) : -1;
		char why[CURL_ERROR_SIZE + 64];

		if (ra >= 0 && ra * 1000 > wait)
			wait = ra * 1000;
		if (cc != CURLE_OK)
			snprintf(why, sizeof(why), "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc));
		else
			snprintf(why, sizeof(why), "HTTP status %ld", status);
		log_warn("fetch: source '%s': %s; retry %u of %ld in %.2f s (%s)", j->src->name, why, j->attempts,
			 j->src->retries, (double)wait / 1000.0, j->url);
		r->st->retries++;
		j->next_ms = now + wait;
		return;
	}
	describe_failure(j, cc, status);
	job_done(r, j, OUT_FAILED, now);
}

static int transfer_all(struct run *r, struct job *jobs, size_t n, unsigned limit)
{
	while (r->remaining > 0) {
		long long now = mono_ms(), wake = -1;
		struct CURLMsg *msg;
		int running, left;
		size_t i;
		CURLMcode mc;

		for (i = 0; i < n && r->active < limit; i++) {
			struct job *j = &jobs[i];

			if (j->state != JOB_WAIT || j->next_ms > now)
				continue;
			if (start_attempt(j, r->multi, now) != 0) {
				discard_tmp(j);
				job_done(r, j, OUT_FAILED, now);
				continue;
			}
			r->active++;
		}
		mc = curl_multi_perform(r->multi, &running);
		if (mc != CURLM_OK)
			return mc;
		while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
			char *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			attempt_done(r, (struct job *)(void *)priv, msg->data.result);
		}
		if (r->remaining == 0)
			break;
		/* Sleep until a socket is ready or the next retry is due. */
		now = mono_ms();
		for (i = 0; i < n; i++)
			if (jobs[i].state == JOB_WAIT && r->active < limit &&
			    (wake < 0 || jobs[i].next_ms < wake))
				wake = jobs[i].next_ms;
		wake = wake < 0 ? 1000 : wake - now;
		if (wake < 0)
			wake = 0;
		if (wake > 1000)
			wake = 1000;
		if (wake > 0 || r->active > 0) {
			mc = curl_multi_poll(r->multi, NULL, 0, (int)wake, NULL);
			if (mc != CURLM_OK)
				return mc;
		}
	}
	return CURLM_OK;
}

int fetch_run(const struct cfg *cfg, struct fetch_stats *st_out, struct crm_err *e)
{
	struct fetch_stats st_local;
	struct fetch_stats *st = st_out ? st_out : &st_local;
	struct run r = { 0 };
	struct job *jobs = NULL;
	long long t0 = mono_ms();
	size_t i, n = 0;
	CURLMcode mc;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].url)
			n++;
	st->sources = (unsigned)n;
	if (n == 0)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, CRM_E_INTERNAL, "cannot initialise libcurl");
	jobs = calloc(n, sizeof(*jobs));
	r.multi = curl_multi_init();
	if (!jobs || !r.multi) {
		n = 0;
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		jobs[i].fd = -1;
	n = 0;
	for (i = 0; i < cfg->n_sources; i++) {
		if (!cfg->sources[i].url)
			continue;
		rc = job_setup(&jobs[n++], cfg, &cfg->sources[i], e);
		if (rc)
			goto out;
	}
	r.base_ms = backoff_base();
	r.rnd = ((unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16) ^ (unsigned long)t0) & 0xffffffffUL;
	next_rand(&r.rnd);
	r.remaining = (unsigned)n;
	r.st = st;
	log_debug("fetch: %zu sources, at most %d at once, first backoff %ld ms", n, cfg->fetch_concurrency,
		  r.base_ms);
	mc = transfer_all(&r, jobs, n, cfg->fetch_concurrency > 0 ? (unsigned)cfg->fetch_concurrency : 1);
	if (mc != CURLM_OK) {
		rc = err_set(e, CRM_E_INTERNAL, "libcurl multi interface failed: %s", curl_multi_strerror(mc));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (jobs[i].outcome != OUT_FAILED)
			continue;
		if (e->code == 0)
			*e = jobs[i].err;
		rc = e->code ? e->code : CRM_E_FETCH;
		if (st->failed > 1) {
			size_t len = strlen(e->msg);

			snprintf(e->msg + len, sizeof(e->msg) - len, "; %u other source%s failed too", st->failed - 1,
				 st->failed > 2 ? "s" : "");
		}
		break;
	}
out:
	for (i = 0; jobs && i < n; i++)
		job_release(&jobs[i], r.multi);
	if (r.multi)
		curl_multi_cleanup(r.multi);
	free(jobs);
	curl_global_cleanup();
	st->seconds = (double)(mono_ms() - t0) / 1000.0;
	return rc;
}
