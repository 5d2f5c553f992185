/*
 * fuzz_val.c - libFuzzer target for the value parsers (etl/val.c).
 *
 * The whole input is one field, given to val_money, val_int, val_timestamp
 * and val_date, in UTC and (when the system has it) America/New_York, so
 * the DST paths of etl/tz.c get fuzzed too. Besides "no crash, no read past
 * len" (the input buffer is exactly sized under ASan) it checks properties:
 * - money: format(parse(x)) reads back to the same units, and formatting
 *   again gives the same text;
 * - integers: the decimal text of the value reads back to it;
 * - timestamps: the formatted UTC text reads back to the same instant, and
 *   its local day in the zone matches val_date() of the same input;
 * - dates: the formatted day reads back to the same day (a plain date is
 *   zone-independent);
 * - every refusal carries a reason, and parsing is deterministic.
 *
 * No main(): link with libFuzzer (-fsanitize=fuzzer) or the replay driver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tz.h"
#include "val.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tz *zones[2];
static size_t n_zones;

static void check(int ok, const char *what, const uint8_t *data, size_t size)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_val: property failed: %s, input '%.*s'\n", what, (int)size,
		(const char *)data);
	abort();
}

static void load_zones(void)
{
	static const char *const names[] = { "UTC", "America/New_York" };
	struct crm_err e = { 0 };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct tz *tz = NULL;

		err_clear(&e);
		if (tz_load(names[i], &tz, &e) == 0)
			zones[n_zones++] = tz;
	}
	if (n_zones == 0) {
		fprintf(stderr, "fuzz_val: cannot load UTC: %s\n", e.msg);
		abort();
	}
}

static void fuzz_money(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *reason = NULL;
	char buf[VAL_MONEY_TEXT_MAX], again[VAL_MONEY_TEXT_MAX];
	int64_t v, back, v2;
	size_t n;

	if (val_money(s, size, &v, &reason) != 0) {
		check(reason != NULL && reason[0] != '\0', "money refusal has a reason", data, size);
		return;
	}
	check(v != INT64_MIN, "money within range", data, size);
	n = val_format_money(v, buf);
	check(n < VAL_MONEY_TEXT_MAX && n == strlen(buf), "money text length", data, size);
	check(val_money(buf, n, &back, &reason) == 0, "formatted money reads back", data, size);
	check(back == v, "money round trip is exact", data, size);
	val_format_money(back, again);
	check(strcmp(buf, again) == 0, "money format is canonical", data, size);
	check(val_money(s, size, &v2, &reason) == 0 && v2 == v, "money is deterministic", data, size);
}

static void fuzz_int(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *reason = NULL;
	char buf[32];
	long v, back;
	int n;

	if (val_int(s, size, &v, &reason) != 0) {
		check(reason != NULL && reason[0] != '\0', "int refusal has a reason", data, size);
		return;
	}
	check(v >= -999999999 && v <= 999999999, "int within 9 digits", data, size);
	n = snprintf(buf, sizeof(buf), "%ld", v);
	check(val_int(buf, (size_t)n, &back, &reason) == 0 && back == v, "int round trip", data, size);
}

static void fuzz_time(const uint8_t *data, size_t size, const struct tz *tz)
{
	const char *s = (const char *)data, *reason = NULL;
	char buf[VAL_TIMESTAMP_TEXT_MAX], dbuf[VAL_DAY_TEXT_MAX];
	int64_t t, back;
	int32_t day, dday, back_day;
	size_t n;
	int rt, rd;

	rt = val_timestamp(s, size, tz, &t, &day, &reason);
	if (rt != 0)
		check(reason != NULL && reason[0] != '\0', "timestamp refusal has a reason", data, size);
	rd = val_date(s, size, tz, &dday, &reason);
	if (rd != 0)
		check(reason != NULL && reason[0] != '\0', "date refusal has a reason", data, size);
	check(rt == rd, "timestamp and date accept the same texts", data, size);
	if (rt != 0)
		return;
	check(t >= VAL_UTC_MIN && t <= VAL_UTC_MAX, "timestamp within range", data, size);
	check(day == tz_day_of(tz, t), "local day is the instant's day", data, size);
	if (size != 10)
		check(dday == day, "a date field keeps the timestamp's local day", data, size);
	n = val_format_timestamp(t, buf);
	check(n == 20, "timestamp text length", data, size);
	check(val_timestamp(buf, n, tz, &back, &back_day, &reason) == 0, "formatted timestamp reads back",
	      data, size);
	check(back == t && back_day == day, "timestamp round trip", data, size);
	if (dday < -719528 || dday > 2932896)
		return; /* 0000-01-01T00:00Z is still -0001-12-31 in New York */
	n = val_format_day(dday, dbuf);
	check(n == 10 && val_date(dbuf, n, tz, &back_day, &reason) == 0 && back_day == dday,
	      "day round trip", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i;

	if (n_zones == 0)
		load_zones();
	if (size > 256)
		return 0;
	fuzz_money(data, size);
	fuzz_int(data, size);
	for (i = 0; i < n_zones; i++)
		fuzz_time(data, size, zones[i]);
	return 0;
}
