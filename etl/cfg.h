/*
 * cfg.h - pipeline.conf: parse, validate, and resolve secret references.
 *
 * Format (INI style, DESIGN.md): "[section]" headers, "key = value" lines,
 * comments from '#' or ';' at the start of a line or after white space in an
 * unquoted value. A value may be double-quoted (escapes \" \\ \n \t; '#'
 * inside is literal) or single-quoted (taken literally). Sections:
 * [pipeline], [source.NAME] (one per export), [fetch], [metrics], [report],
 * [mail] and [mail.NAME] (further distribution lists). Unknown sections or
 * keys, a key or section given twice, a missing required key and a bad value
 * are errors naming the file, line and key, with the closest known key
 * suggested for a typo. An empty value is an error (quote a ';' or '#'
 * delimiter: delimiter = ";").
 *
 * Relative paths (data_dir, file, ca_file, and the PATH of file:PATH secret
 * references) are resolved against the directory of the configuration file,
 * so a cron job may run from anywhere.
 *
 * A [mail.NAME] section takes url, from, user, password, subject, template
 * and lang from [mail] when it does not set them itself; to and segment are
 * its own.
 *
 * Limits: the file at most 1 MiB, 256 sources, 64 headers per source, 64
 * mail sections, 256 addresses per list; names of sources, mail lists and
 * templates are 1..64 of [A-Za-z0-9_-].
 *
 * Secrets (header.*, mail user and password) are kept as their references
 * ("env:NAME" or "file:PATH") and resolved only when needed by
 * cfg_secret_resolve(); the resolved text is never stored in struct cfg and
 * must never be logged.
 *
 * Lifecycle: cfg_load() or cfg_parse() returns a heap struct cfg owned by the
 * caller; cfg_free() releases it and everything it points to (accepts NULL).
 */
#ifndef CRM_CFG_H
#define CRM_CFG_H

#include <stddef.h>

#include "err.h"
#include "schema.h"

enum cfg_format { CFG_FMT_CSV, CFG_FMT_XML };
enum cfg_churn_model { CFG_CHURN_ACTIVITY, CFG_CHURN_CONTRACTUAL };

/* A key = value pair kept in file order (headers). */
struct cfg_kv {
	char *key;   /* owned */
	char *value; /* owned; for headers an unresolved secret reference */
	int line;    /* line in the config file */
};

struct cfg_source {
	char *name;                 /* owned: NAME of [source.NAME] */
	int line;                   /* line of the section header */
	enum schema_entity entity;  /* required */
	char *file;                 /* owned path or glob (resolved), or NULL */
	char *url;                  /* owned http(s):// or file:// URL, or NULL */
	enum cfg_format format;     /* default from the file/url name */
	char delimiter;             /* CSV field separator, default ',' */
	char *record;               /* owned XML record element, default per entity */
	char *map[SCHEMA_MAX_FIELDS]; /* owned export name per canonical field, or NULL */
	struct cfg_kv *headers;     /* owned array: key = Name of header.Name, value = secret ref */
	size_t n_headers;
	char *ca_file;              /* owned resolved path, or NULL */
	long timeout_s;             /* whole transfer, seconds, 1..3600, default 300 */
	long connect_timeout_s;     /* connection set-up, seconds, 1..600, default 30 */
	long retries;               /* further attempts after a failure, 0..20, default 4 */
	unsigned long long max_bytes; /* download ceiling, bytes, 1..1024 GiB, default 4 GiB */
};

struct cfg_mail {
	char *name;      /* owned: "" for [mail], NAME for [mail.NAME] */
	int line;
	char *url;       /* owned smtp:// or smtps:// URL */
	char *from;      /* owned address */
	char **to;       /* owned array of n_to (>= 1) owned addresses */
	size_t n_to;
	char *user;      /* owned secret reference or NULL */
	char *password;  /* owned secret reference or NULL */
	char *subject;   /* owned template, default "{title} {period} ({lang})" */
	char *template;  /* owned, or NULL = [report] template */
	char *lang;      /* owned "en"/"zh", or NULL = [report] lang */
	char *segment;   /* owned "dim=value" filter, e.g. "region=East", or NULL;
			    dim is channel, region, tier or rfm */
	char *ca_file;   /* owned resolved path of CA certificates, or NULL =
			    the system's */
};

struct cfg {
	char *path;              /* owned: the file it was read from */
	char *dir;               /* owned: directory relative paths start from */

	/* [pipeline] */
	char *data_dir;          /* default "var" (resolved) */
	char *timezone;          /* IANA name, default "UTC" */
	char *currency;          /* ISO 4217 code, default "USD" */
	double max_reject_ratio; /* 0..1, default 0.01 */

	struct cfg_source *sources; /* owned array, in file order (>= 1) */
	size_t n_sources;

	/* [fetch] */
	int fetch_concurrency;   /* parallel downloads, 1..32, default 4 */

	/* [metrics] */
	enum cfg_churn_model churn_model; /* default activity */
	int inactivity_days;              /* days, 1..3650, default 90 */
	int sla_hours;                    /* hours, 1..8760, default 48 */
	int max_lifespan_years;           /* years, 1..100, default 10 */
	double loyalty_weights[3];        /* csat, repeat, referral; default 1 1 1 */
	int clv_horizon_months;           /* predictive CLV horizon, 1..120, default 12 */
	double clv_discount_rate;         /* monthly, 0..1, default 0.01 */

	/* [report] */
	char *report_template;   /* default "executive" */
	char *report_lang;       /* "en" or "zh", default "en" */
	char *report_title;      /* default "Customer metrics" */

	struct cfg_mail *mails;  /* owned array: [mail] first if present */
	size_t n_mails;
};

/*
 * Read and validate a configuration file (at most 1 MiB); relative paths
 * start from its directory. A missing or unreadable file is CRM_E_CONFIG
 * with sys_errno set.
 */
int cfg_load(const char *path, struct cfg **out, struct crm_err *e);

/*
 * Parse configuration text of `len` bytes (it may hold any bytes; NUL is an
 * error). `path` names it in messages (NULL = "(config)"); `base_dir` is
 * where relative paths start (NULL or "." = keep them as written). Used by
 * cfg_load, the tests and the fuzzer. Errors: CRM_E_CONFIG with where, line
 * and field (the key) filled in, or CRM_E_NOMEM; *out is then NULL.
 */
int cfg_parse(const char *text, size_t len, const char *path,
	      const char *base_dir, struct cfg **out, struct crm_err *e);

void cfg_free(struct cfg *cfg);

/* Find a source by name, or NULL. */
const struct cfg_source *cfg_source_by_name(const struct cfg *cfg, const char *name);

/*
 * Resolve a secret reference: "env:NAME" reads the environment variable
 * (unset or empty is an error); "file:PATH" reads the file, which must be a
 * regular file not readable or writable by group or others, and strips one
 * trailing newline. On success *out is a heap string the caller frees (and
 * should wipe). Errors name the reference, never the secret.
 */
int cfg_secret_resolve(const char *ref, char **out, struct crm_err *e);

/* 1 if `value` is a well-formed "env:NAME" or "file:PATH" reference. */
int cfg_is_secret_ref(const char *value);

/*
 * Tests only: make the n-th memory allocation of this module from now on
 * fail (1 = the next one), then disarm; 0 disarms. Process-wide, not
 * thread-safe. Lets the unit tests prove every error path frees what it made.
 */
void cfg_fault_alloc(unsigned long n);

#endif
