/*
 * tz.h - IANA time zones read from TZif files, and civil-date arithmetic.
 *
 * Invariants
 * - Instants are int64 seconds since 1970-01-01T00:00:00Z without leap
 *   seconds (POSIX time). "Local" seconds are the same count on the local
 *   wall clock: local day * 86400 + seconds into that day.
 * - Day numbers are days since 1970-01-01 (negative before), in the
 *   proleptic Gregorian calendar.
 * - A loaded zone is immutable: every query takes a const pointer, keeps no
 *   cache and no global state, so one zone may be shared by threads. libc's
 *   TZ / tzset() / localtime state is never touched.
 * - Zones are defined for any instant: before a zone's first transition the
 *   first time type applies (RFC 8536), after the last one the POSIX TZ
 *   footer rule does. Instants beyond +-2^50 s (about 35 million years) are
 *   clamped to that range.
 *
 * Lifecycle: tz_load() -> queries -> tz_free().
 *
 * Speed: the footer rule is expanded into explicit transitions up to the
 * year 2100 at load time, and transitions of 1900..2100 are indexed by
 * 12-day buckets, so tz_offset_at() is a bucket read plus, rarely, a step;
 * outside that range it is a binary search (or the footer rule evaluated).
 */
#ifndef CRM_TZ_H
#define CRM_TZ_H

#include <stdint.h>

#include "err.h"

struct tz;

/* Longest zone name accepted ("America/Argentina/ComodRivadavia" is 32). */
#define TZ_NAME_MAX 255

/* Largest TZif file accepted (real ones are under 4 KiB). */
#define TZ_FILE_MAX (1024 * 1024)

/*
 * Load zone `name`. "UTC" needs no file. Any other name is read from
 * $TZDIR/NAME, or /usr/share/zoneinfo/NAME when TZDIR is unset or empty.
 * A name that is empty, longer than TZ_NAME_MAX, starts with '/', or has a
 * byte outside [A-Za-z0-9_+/-] (so never "..") is refused without touching
 * the file system.
 *
 * Accepts TZif versions 1 to 4 (and later ones, read as version 4); for
 * version 2 and later the 64-bit block and the POSIX TZ footer are used.
 * Every count, index and offset is checked against the file size and the
 * RFC 8536 limits; a damaged file is an error, never a crash. Files with
 * leap-second records ("right/" zones) are refused: their clock is not
 * POSIX time.
 *
 * Errors: CRM_E_CONFIG (bad or unknown name, damaged or unsupported file;
 * field "timezone"), CRM_E_IO (the file could not be read), CRM_E_NOMEM.
 * On success *out is a new zone the caller frees with tz_free().
 */
int tz_load(const char *name, struct tz **out, struct crm_err *e);

/* Free a zone; NULL is fine. */
void tz_free(struct tz *tz);

/* The name given to tz_load(); valid until tz_free(). */
const char *tz_name(const struct tz *tz);

/* UTC offset in seconds (east positive) at UTC instant t. */
long tz_offset_at(const struct tz *tz, int64_t t);

/*
 * The UTC instant of local wall-clock time `local` (EXPORTS.md): a local
 * time that does not exist (DST gap) moves forward by the gap, i.e. it is
 * read with the offset in force before the gap (New York 2024-03-10 02:30
 * -> 07:30Z = 03:30 EDT); an ambiguous one (overlap) takes the first
 * occurrence (2024-11-03 01:30 -> 05:30Z, EDT).
 */
int64_t tz_local_to_utc(const struct tz *tz, int64_t local);

/* Local day number of UTC instant t (saturated to the int32 range). */
int32_t tz_day_of(const struct tz *tz, int64_t t);

/*
 * UTC instant at which local day `day` starts: 00:00 local, or the first
 * instant of that day when midnight falls in a gap (Sao Paulo 2018-11-04
 * starts at 01:00 local = 03:00Z): the first instant whose local time is
 * >= 00:00 of that day. Equals tz_local_to_utc(day * 86400) except when a
 * gap spans midnight without starting at it (then it is the end of the gap).
 */
int64_t tz_day_start(const struct tz *tz, int32_t day);

/*
 * Civil dates (proleptic Gregorian, astronomical years: 0 = 1 BC), after
 * Howard Hinnant's "chrono-compatible low-level date algorithms". Valid for
 * |y| up to about 2^50; m is 1..12, d is 1..31 and is not checked against
 * the month (2024-02-30 gives the day after 2024-02-29).
 */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* 1 if y is a Gregorian leap year. */
int tz_is_leap(int64_t y);

/* Days in month m (1..12) of year y; 0 for a month out of range. */
int tz_days_in_month(int64_t y, int m);

/* Day of the week of a day number: 0 = Sunday ... 6 = Saturday. */
int tz_weekday(int64_t days);

#endif
