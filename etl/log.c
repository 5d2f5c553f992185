/*
 * log.c - the logger behind log.h: a level, a stream, a timestamp, a line.
 *
 * Process-wide state is deliberate here: logging is the one service every
 * module may use, and main() configures it once before any work starts.
 * Threads may log (compute fits beside its main walk): a line is written
 * under the stream's lock, so lines never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static enum log_level threshold = LOG_INFO;
static FILE *out;
static int progress_shown; /* a progress line is on screen */

void log_init(enum log_level level, FILE *stream)
{
	threshold = level;
	out = stream;
}

enum log_level log_get_level(void)
{
	return threshold;
}

static FILE *stream(void)
{
	return out ? out : stderr;
}

static void clear_progress(FILE *f)
{
	if (progress_shown) {
		fputs("\r\033[K", f);
		progress_shown = 0;
	}
}

static void vlog(enum log_level level, const char *name, const char *fmt, va_list ap)
{
	FILE *f = stream();
	char stamp[32];
	struct tm tm;
	time_t now;

	if (level > threshold)
		return;
	flockfile(f);
	clear_progress(f);
	now = time(NULL);
	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		stamp[0] = '\0';
	fprintf(f, "%s crmetl %s: ", stamp, name);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
	funlockfile(f);
}

#define DEFINE_LOG(fn, level, name)                  \
	void fn(const char *fmt, ...)                \
	{                                            \
		va_list ap;                          \
		va_start(ap, fmt);                   \
		vlog(level, name, fmt, ap);          \
		va_end(ap);                          \
	}

DEFINE_LOG(log_error, LOG_ERROR, "error")
DEFINE_LOG(log_warn, LOG_WARN, "warning")
DEFINE_LOG(log_info, LOG_INFO, "info")
DEFINE_LOG(log_debug, LOG_DEBUG, "debug")

void log_progress(const char *fmt, ...)
{
	FILE *f = stream();
	va_list ap;

	if (threshold < LOG_INFO || !isatty(fileno(f)))
		return;
	flockfile(f);
	fputs("\r\033[K", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fflush(f);
	progress_shown = 1;
	funlockfile(f);
}

void log_progress_end(void)
{
	FILE *f = stream();

	flockfile(f);
	clear_progress(f);
	fflush(f);
	funlockfile(f);
}
