/*
 * log.c - the logger behind log.h: a level, a stream, a timestamp, a line.
 *
 * Process-wide state is deliberate here: logging is the one service every
 * module may use, and main() configures it once before any work starts.
 * Threads and processes may log (compute fits beside its main walk, the
 * report workers of a run): each line is one write (vlog).
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

/*
 * A line is formatted whole and written with one fwrite: stderr is
 * unbuffered, so that is one write(2), and lines of several processes (the
 * report workers) or threads do not interleave. Longer lines are cut.
 */
#define LOG_LINE_MAX 4096

static void vlog(enum log_level level, const char *name, const char *fmt, va_list ap)
{
	FILE *f = stream();
	char line[LOG_LINE_MAX];
	struct tm tm;
	time_t now;
	size_t n = 0;
	int k;

	if (level > threshold)
		return;
	now = time(NULL);
	if (gmtime_r(&now, &tm))
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	k = snprintf(line + n, sizeof(line) - n, " crmetl %s: ", name);
	n += k > 0 ? (size_t)k : 0;
	if (n < sizeof(line)) {
		k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* cut: the newline must fit */
	line[n++] = '\n';
	flockfile(f);
	clear_progress(f);
	fwrite(line, 1, n, f);
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

double log_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
