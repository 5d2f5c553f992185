/*
 * err.h - the one error convention of crmetl.
 *
 * A function that can fail returns int: 0 on success or a negative CRM_E_*
 * code, and fills a caller-owned struct crm_err saying what failed and where
 * (file or URL, line, field or table/chunk, errno or HTTP status). The setters
 * return the code, so an error exit is one statement:
 *
 *     return err_at(e, CRM_E_CONFIG, path, line, key, "unknown key '%s'", key);
 *
 * The first error recorded wins: callers may add context with err_context()
 * but never replace the root cause. Only main() turns a code into an exit
 * status (err_exit_status). This module never logs and never exits.
 */
#ifndef CRM_ERR_H
#define CRM_ERR_H

#include <stddef.h>

/* Status codes. Each family maps to one documented exit status. */
enum crm_code {
	CRM_OK = 0,
	CRM_E_INTERNAL = -1,    /* our own bug or an unexpected condition */
	CRM_E_USAGE = -2,       /* bad command line */
	CRM_E_CONFIG = -3,      /* bad or unreadable configuration */
	CRM_E_FETCH = -4,       /* a source could not be fetched */
	CRM_E_DATA = -5,        /* data quality: too many rejected rows */
	CRM_E_MAIL = -6,        /* a report could not be delivered */
	CRM_E_LOCKED = -7,      /* another run holds the data_dir lock */
	CRM_E_CORRUPT = -8,     /* a damaged period or metrics file */
	CRM_E_UNAVAILABLE = -9, /* a stage that is not built yet */
	CRM_E_IO = -10,         /* reading or writing a file failed */
	CRM_E_NOMEM = -11,      /* out of memory or past a size ceiling */
	CRM_E_INPUT = -12       /* an input file is missing or unusable */
};

/* What went wrong. Zero-initialise it (struct crm_err e = {0}) before use. */
struct crm_err {
	int code;            /* 0 or CRM_E_* */
	int sys_errno;       /* errno of a failed system call, or 0 */
	long status;         /* HTTP/SMTP status, or 0 */
	long line;           /* 1-based line in `where`, or 0 when not known */
	char where[512];     /* file path or URL (credentials removed), or "" */
	char field[128];     /* config key, field, or table/chunk, or "" */
	char msg[512];       /* lowercase, no final period, failure first */
};

/* Record an error unless one is already recorded; returns `code`. */
int err_set(struct crm_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, with the place: where (may be NULL), line (0 = none), field (may be NULL). */
int err_at(struct crm_err *e, int code, const char *where, long line,
	   const char *field, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Same as err_set, and remembers errno (call right after the failing call). */
int err_sys(struct crm_err *e, int code, int sys_errno, const char *where,
	    const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Fill in `where` / `line` if the recorded error has none yet; returns e->code. */
int err_context(struct crm_err *e, const char *where, long line);

/* Forget the recorded error (for code that retries or skips a bad row). */
void err_clear(struct crm_err *e);

/*
 * Format the error for a human, e.g.
 *   cannot parse amount '12,3' (orders.csv:418, field total)
 * Writes at most `n` bytes including the NUL; returns `buf`.
 */
char *err_format(const struct crm_err *e, char *buf, size_t n);

/* The process exit status for a code (see docs/operations.md). */
int err_exit_status(int code);

/* A short name for a code: "usage", "config", ... */
const char *err_code_name(int code);

/* Our own bug: print file:line and abort. */
#define CRM_BUG(...) err_bug(__FILE__, __LINE__, __VA_ARGS__)
void err_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#endif
