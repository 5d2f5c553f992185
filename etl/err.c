/*
 * err.c - recording and formatting errors (see err.h for the convention).
 *
 * Owns nothing but the caller's struct crm_err; never allocates, so it still
 * works when memory has run out.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t n, const char *src)
{
	size_t len;

	if (!src) {
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int vrecord(struct crm_err *e, int code, const char *where, long line,
		   const char *field, const char *fmt, va_list ap)
{
	if (!e || e->code != 0)
		return e ? e->code : code;
	e->code = code;
	e->sys_errno = 0;
	e->status = 0;
	e->line = line;
	copy_str(e->where, sizeof(e->where), where);
	copy_str(e->field, sizeof(e->field), field);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

int err_set(struct crm_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrecord(e, code, NULL, 0, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int err_at(struct crm_err *e, int code, const char *where, long line,
	   const char *field, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrecord(e, code, where, line, field, fmt, ap);
	va_end(ap);
	return rc;
}

int err_sys(struct crm_err *e, int code, int sys_errno, const char *where,
	    const char *fmt, ...)
{
	va_list ap;
	int first = e && e->code == 0;
	int rc;

	va_start(ap, fmt);
	rc = vrecord(e, code, where, 0, NULL, fmt, ap);
	va_end(ap);
	if (first)
		e->sys_errno = sys_errno;
	return rc;
}

int err_context(struct crm_err *e, const char *where, long line)
{
	if (!e->where[0])
		copy_str(e->where, sizeof(e->where), where);
	if (!e->line)
		e->line = line;
	return e->code;
}

void err_clear(struct crm_err *e)
{
	memset(e, 0, sizeof(*e));
}

char *err_format(const struct crm_err *e, char *buf, size_t n)
{
	size_t len;

	if (n == 0)
		return buf;
	len = (size_t)snprintf(buf, n, "%s", e->msg[0] ? e->msg : err_code_name(e->code));
	if (len >= n)
		return buf;
	if (e->sys_errno)
		len += (size_t)snprintf(buf + len, n - len, ": %s", strerror(e->sys_errno));
	if (len >= n || (!e->where[0] && !e->field[0]))
		return buf;
	len += (size_t)snprintf(buf + len, n - len, " (");
	if (len < n && e->where[0])
		len += (size_t)snprintf(buf + len, n - len, "%s", e->where);
	if (len < n && e->where[0] && e->line > 0)
		len += (size_t)snprintf(buf + len, n - len, ":%ld", e->line);
	if (len < n && e->field[0])
		len += (size_t)snprintf(buf + len, n - len, "%sfield %s",
					e->where[0] ? ", " : "", e->field);
	if (len < n)
		snprintf(buf + len, n - len, ")");
	return buf;
}

/* Exit statuses are a contract with schedulers and monitoring: see docs/operations.md. */
static const struct {
	int code;
	int status;
	const char *name;
} codes[] = {
	{ CRM_OK, 0, "ok" },
	{ CRM_E_INTERNAL, 1, "internal error" },
	{ CRM_E_IO, 1, "i/o error" },
	{ CRM_E_NOMEM, 1, "out of memory" },
	{ CRM_E_INPUT, 1, "input error" },
	{ CRM_E_USAGE, 2, "usage error" },
	{ CRM_E_CONFIG, 3, "configuration error" },
	{ CRM_E_FETCH, 4, "fetch error" },
	{ CRM_E_DATA, 5, "data-quality error" },
	{ CRM_E_MAIL, 6, "delivery error" },
	{ CRM_E_LOCKED, 7, "data directory locked" },
	{ CRM_E_CORRUPT, 8, "damaged file" },
	{ CRM_E_UNAVAILABLE, 9, "not available" },
};

int err_exit_status(int code)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].status;
	return 1;
}

const char *err_code_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "unknown error";
}

void err_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
