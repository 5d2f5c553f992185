/*
 * log.h - plain-words logging to stderr.
 *
 * One line per event: "2026-11-24T18:41:52Z crmetl info: message". The level
 * is set once by main() from -q / -v; everything below it is dropped. Lines go
 * to stderr only, so stdout stays clean for data (dump, inspect). Secrets must
 * never be passed here: log the reference ("env:NAME"), never its value.
 *
 * The progress line (log_progress) is drawn only when stderr is a terminal
 * and the level is at least info; it is rewritten in place with '\r' and
 * cleared by the next ordinary log line.
 */
#ifndef CRM_LOG_H
#define CRM_LOG_H

#include <stdio.h>

enum log_level {
	LOG_QUIET = 0, /* -q: errors only */
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,  /* default */
	LOG_DEBUG = 3  /* -v */
};

/* Set the threshold and the stream (NULL = stderr). */
void log_init(enum log_level level, FILE *stream);
enum log_level log_get_level(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Redraw the progress line (terminal only); log_progress_end() clears it. */
void log_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_progress_end(void);

/* Seconds on the monotonic clock: differences time the work a log line reports. */
double log_seconds(void);

#endif
