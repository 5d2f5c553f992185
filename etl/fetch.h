/*
 * fetch.h - the fetch stage: download every source that has a url
 * (http://, https://, file://) into <data_dir>/raw/<source>/.
 *
 * Invariants (a contract with the normalizer and with operators):
 *
 *   <data_dir>/raw/<source>/<sha256hex>   a fetched body, named by the
 *                                         SHA-256 of its bytes, stored as
 *                                         received (a gzip file stays gzip;
 *                                         a gzip Content-Encoding is undone)
 *   <data_dir>/raw/<source>/current.meta  "key = value" lines naming the
 *                                         current body (struct fetch_meta)
 *
 * A body is written to a temporary file in the same directory, fsynced,
 * renamed to its hash and the directory fsynced; only then is current.meta
 * replaced atomically, and only after that are older bodies removed. A
 * crash at any point leaves current.meta naming a body that exists. A
 * failed fetch changes nothing in the directory (its temporary file is
 * removed). A 304 Not Modified changes nothing either: fetched_at stays the
 * time the stored body was downloaded.
 *
 * Lifecycle: fetch_run() once per run; fetch_current() whenever a stage
 * needs a source's body. Everything else here is a pure helper exported
 * for the unit tests.
 */
#ifndef CRM_FETCH_H
#define CRM_FETCH_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct cfg;

/* Name of the meta file in each source's raw directory. */
#define FETCH_META_NAME "current.meta"
/* Largest current.meta read back (a bigger one is damaged). */
#define FETCH_META_MAX 65536
/* Redirects followed before giving up. */
#define FETCH_MAX_REDIRECTS 5
/* Longest wait honoured from a Retry-After header, seconds. */
#define FETCH_RETRY_AFTER_MAX 120
/* Backoff before the first retry, milliseconds (CRMETL_FETCH_BACKOFF_MS overrides). */
#define FETCH_BACKOFF_MS 1000
/* Longest computed backoff between two attempts, milliseconds. */
#define FETCH_BACKOFF_MAX_MS 60000
/* Low-speed limit: fail a transfer slower than this many bytes/s ... */
#define FETCH_LOW_SPEED_BYTES 1024
/* ... for this many seconds. */
#define FETCH_LOW_SPEED_S 30

/* What one fetch_run did (filled in on failure too). */
struct fetch_stats {
	unsigned sources;          /* sources with a url */
	unsigned downloaded;       /* a new body was stored (or the same bytes again) */
	unsigned unchanged;        /* 304 Not Modified: stored copy kept */
	unsigned failed;           /* gave up; earlier data kept */
	unsigned retries;          /* attempts after the first, all sources */
	unsigned long long bytes;  /* body bytes received by successful downloads */
	double seconds;            /* wall time of the stage */
};

/* The parsed current.meta. Strings are "" when absent. */
struct fetch_meta {
	char url[2048];            /* the source url, credentials removed */
	char sha256[65];           /* 64 lowercase hex digits: the body's name */
	unsigned long long size;   /* body bytes */
	char fetched_at[32];       /* UTC, e.g. 2026-11-24T19:30:00Z: when the body was downloaded */
	char etag[512];            /* ETag of the response, as sent (quotes included) */
	char last_modified[128];   /* Last-Modified of the response */
	long status;               /* HTTP status (200), or 0 for file:// */
};

/*
 * Fetch every source with a url, at most cfg->fetch_concurrency at once
 * (libcurl multi interface), each with conditional GET, timeouts, retries
 * with backoff and the size ceiling of its configuration. Logs one line
 * per source. All sources are attempted; if any failed, returns the first
 * failure (in configuration order), normally CRM_E_FETCH naming the
 * source, the URL (credentials removed) and the HTTP status or curl error.
 * A secret reference that cannot be resolved is CRM_E_CONFIG before any
 * transfer starts. `st` may be NULL.
 */
int fetch_run(const struct cfg *cfg, struct fetch_stats *st, struct crm_err *e);

/*
 * The path of the current body of `source` under data_dir, as a heap
 * string the caller frees. CRM_E_INPUT "source 'x' has not been fetched
 * yet (run 'crmetl fetch')" when there is no current.meta; CRM_E_CORRUPT
 * when current.meta is damaged or names a body that is missing or has the
 * wrong size.
 */
int fetch_current(const char *data_dir, const char *source, char **path, struct crm_err *e);

/* Read <data_dir>/raw/<source>/current.meta (CRM_E_INPUT if missing). */
int fetch_meta_read(const char *data_dir, const char *source, struct fetch_meta *m,
		    struct crm_err *e);

/*
 * Parse meta text of `len` bytes. Unknown keys are ignored (newer
 * versions may add some); sha256 and size are required. `where` names the
 * file in errors. Errors: CRM_E_CORRUPT.
 */
int fetch_meta_parse(const char *text, size_t len, const char *where, struct fetch_meta *m,
		     struct crm_err *e);

/* Format `m` as meta text into buf; returns the length, or -1 if it does not fit. */
int fetch_meta_format(const struct fetch_meta *m, char *buf, size_t n);


/*
 * Seconds to wait from a Retry-After value (delay-seconds or an HTTP-date,
 * RFC 9110 10.2.3) at time `now`: 0 for a date in the past, at most
 * FETCH_RETRY_AFTER_MAX; -1 when the value is not valid.
 */
long fetch_retry_after(const char *value, time_t now);

/*
 * Milliseconds to wait before retry number `retry` (0 = first retry):
 * base_ms * 2^retry capped at cap_ms, then "equal jitter": half of it
 * fixed, the other half scaled by rnd (uniform over 0..2^32-1).
 */
long fetch_backoff_ms(unsigned retry, long base_ms, long cap_ms, unsigned long rnd);

/*
 * 1 if an attempt that ended with libcurl result `curl_code` (a CURLcode)
 * and HTTP status `status` (0 if none) is worth retrying: connection
 * errors, timeouts, a body cut short, 408, 429 and 5xx. Never other 4xx,
 * TLS verification failures, size ceilings or redirect limits.
 */
int fetch_retryable(int curl_code, long status);

#endif
