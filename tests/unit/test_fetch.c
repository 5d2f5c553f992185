/*
 * test_fetch.c - unit tests of the fetch stage's pure parts: credential
 * stripping for logs, Retry-After, backoff, what is worth a retry, the
 * current.meta record, and fetch_current() on a real directory. The
 * transfers themselves are tested end to end against real servers
 * (tests/e2e/1*-fetch-*.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fetch.h"
#include "text.h"
#include "fsx.h"

static void redact_userinfo(void **state)
{
	char out[256];

	(void)state;
	assert_string_equal(text_url_redact("https://user:secret@crm.example/x.csv", out, sizeof(out)),
			    "https://crm.example/x.csv");
	assert_string_equal(text_url_redact("http://tok@crm.example:8080/a?b=c", out, sizeof(out)),
			    "http://crm.example:8080/a?b=c");
	/* The last '@' of the authority ends the userinfo ("p@ss" unescaped). */
	assert_string_equal(text_url_redact("https://u:p@ss@h/x", out, sizeof(out)), "https://h/x");
	/* An '@' in the path or query is not userinfo. */
	assert_string_equal(text_url_redact("https://h/a@b?c=d@e", out, sizeof(out)), "https://h/a@b?c=d@e");
	assert_string_equal(text_url_redact("file:///srv/x.csv", out, sizeof(out)), "file:///srv/x.csv");
	assert_string_equal(text_url_redact("no scheme", out, sizeof(out)), "no scheme");
}

static void redact_truncates(void **state)
{
	char out[12];

	(void)state;
	assert_string_equal(text_url_redact("https://u:p@host.example/long", out, sizeof(out)), "https://hos");
	assert_string_equal(text_url_redact("https://host.example/long", out, sizeof(out)), "https://hos");
}

static void retry_after_seconds(void **state)
{
	(void)state;
	assert_int_equal(fetch_retry_after("1", 0), 1);
	assert_int_equal(fetch_retry_after(" 30 ", 0), 30);
	assert_int_equal(fetch_retry_after("0", 0), 0);
	assert_int_equal(fetch_retry_after("86400", 0), FETCH_RETRY_AFTER_MAX);
	assert_int_equal(fetch_retry_after("99999999999999999999999", 0), FETCH_RETRY_AFTER_MAX);
	assert_int_equal(fetch_retry_after("-1", 0), -1);
	assert_int_equal(fetch_retry_after("1.5", 0), -1);
	assert_int_equal(fetch_retry_after("12abc", 0), -1);
	assert_int_equal(fetch_retry_after("", 0), -1);
	assert_int_equal(fetch_retry_after("soon", 0), -1);
}

static void retry_after_dates(void **state)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 (RFC 9110's example). */
	const time_t t = 784111777;

	(void)state;
	assert_int_equal(fetch_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t - 20), 20);
	assert_int_equal(fetch_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", t - 5), 5); /* RFC 850 */
	assert_int_equal(fetch_retry_after("Sun Nov  6 08:49:37 1994", t - 7), 7);      /* asctime */
	assert_int_equal(fetch_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t + 100), 0);
	assert_int_equal(fetch_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t - 100000), FETCH_RETRY_AFTER_MAX);
}

static void backoff_grows_and_caps(void **state)
{
	unsigned r;

	(void)state;
	/* rnd = 0: exactly half; rnd = max: (almost) all of it. */
	assert_int_equal(fetch_backoff_ms(0, 200, 60000, 0), 100);
	assert_int_equal(fetch_backoff_ms(1, 200, 60000, 0), 200);
	assert_int_equal(fetch_backoff_ms(2, 200, 60000, 0), 400);
	assert_in_range(fetch_backoff_ms(0, 200, 60000, 0xffffffffUL), 199, 200);
	assert_int_equal(fetch_backoff_ms(30, 200, 60000, 0), 30000);
	assert_int_equal(fetch_backoff_ms(1000, 200, 60000, 0), 30000);
	assert_in_range(fetch_backoff_ms(1000, 200, 60000, 0xffffffffUL), 59999, 60000);
	assert_int_equal(fetch_backoff_ms(3, 0, 60000, 12345), 0);
	for (r = 0; r < 10; r++) {
		long lo = 1000L << r < 60000 ? (1000L << r) / 2 : 30000;
		long hi = 1000L << r < 60000 ? 1000L << r : 60000;

		assert_in_range(fetch_backoff_ms(r, 1000, 60000, 0x9e3779b9UL * (r + 1)), lo, hi);
	}
}

static void what_is_retried(void **state)
{
	(void)state;
	assert_true(fetch_retryable(CURLE_OK, 503));
	assert_true(fetch_retryable(CURLE_OK, 500));
	assert_true(fetch_retryable(CURLE_OK, 429));
	assert_true(fetch_retryable(CURLE_OK, 408));
	assert_false(fetch_retryable(CURLE_OK, 404));
	assert_false(fetch_retryable(CURLE_OK, 401));
	assert_false(fetch_retryable(CURLE_OK, 403));
	assert_false(fetch_retryable(CURLE_OK, 400));
	assert_true(fetch_retryable(CURLE_COULDNT_CONNECT, 0));
	assert_true(fetch_retryable(CURLE_OPERATION_TIMEDOUT, 0));
	assert_true(fetch_retryable(CURLE_PARTIAL_FILE, 200));
	assert_true(fetch_retryable(CURLE_GOT_NOTHING, 0));
	assert_true(fetch_retryable(CURLE_RECV_ERROR, 0));
	assert_false(fetch_retryable(CURLE_PEER_FAILED_VERIFICATION, 0));
	assert_false(fetch_retryable(CURLE_SSL_CACERT_BADFILE, 0));
	assert_false(fetch_retryable(CURLE_TOO_MANY_REDIRECTS, 0));
	assert_false(fetch_retryable(CURLE_FILESIZE_EXCEEDED, 0));
	assert_false(fetch_retryable(CURLE_WRITE_ERROR, 200));
	assert_false(fetch_retryable(CURLE_UNSUPPORTED_PROTOCOL, 0));
	assert_false(fetch_retryable(CURLE_FILE_COULDNT_READ_FILE, 0));
}

#define SHA_A "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void meta_round_trip(void **state)
{
	struct fetch_meta m, back;
	struct crm_err e = { 0 };
	char text[4096];
	int len;

	(void)state;
	memset(&m, 0, sizeof(m));
	snprintf(m.url, sizeof(m.url), "https://crm.example/export/orders.csv.gz");
	snprintf(m.sha256, sizeof(m.sha256), SHA_A);
	m.size = 4294967296ULL;
	snprintf(m.fetched_at, sizeof(m.fetched_at), "2026-11-24T19:30:00Z");
	snprintf(m.etag, sizeof(m.etag), "W/\"a = b\"");
	snprintf(m.last_modified, sizeof(m.last_modified), "Tue, 24 Nov 2026 19:30:00 GMT");
	m.status = 200;
	len = fetch_meta_format(&m, text, sizeof(text));
	assert_true(len > 0);
	assert_non_null(strstr(text, "sha256 = " SHA_A "\n"));
	assert_non_null(strstr(text, "fetched_at = 2026-11-24T19:30:00Z\n"));
	assert_int_equal(fetch_meta_parse(text, (size_t)len, "m", &back, &e), 0);
	assert_string_equal(back.url, m.url);
	assert_string_equal(back.sha256, m.sha256);
	assert_true(back.size == m.size);
	assert_string_equal(back.fetched_at, m.fetched_at);
	assert_string_equal(back.etag, m.etag); /* '=' inside a value survives */
	assert_string_equal(back.last_modified, m.last_modified);
	assert_int_equal(back.status, 200);
	assert_int_equal(fetch_meta_format(&m, text, 40), -1);
}

static void meta_lenient_where_safe(void **state)
{
	static const char text[] = "sha256 = " SHA_A "\r\n\nsize=12\nfuture_key = whatever\netag =\nstatus = 0";
	struct fetch_meta m;
	struct crm_err e = { 0 };

	(void)state;
	assert_int_equal(fetch_meta_parse(text, strlen(text), "m", &m, &e), 0);
	assert_true(m.size == 12);
	assert_string_equal(m.etag, "");
	assert_string_equal(m.url, "");
	assert_int_equal(m.status, 0);
}

static void expect_bad_meta(const char *text, const char *reason)
{
	struct fetch_meta m;
	struct crm_err e = { 0 };

	assert_int_equal(fetch_meta_parse(text, strlen(text), "raw/x/current.meta", &m, &e), CRM_E_CORRUPT);
	assert_string_equal(e.where, "raw/x/current.meta");
	if (!strstr(e.msg, reason))
		fail_msg("'%s' lacks '%s'", e.msg, reason);
}

static void meta_damaged(void **state)
{
	char big[3000];

	(void)state;
	expect_bad_meta("size = 1\n", "no sha256");
	expect_bad_meta("sha256 = " SHA_A "\n", "no size");
	expect_bad_meta("sha256 = abc\nsize = 1\n", "bad value of 'sha256'");
	expect_bad_meta("sha256 = " SHA_A "0\nsize = 1\n", "bad value of 'sha256'");
	expect_bad_meta("sha256 = BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\nsize = 1\n",
			"bad value of 'sha256'");
	expect_bad_meta("sha256 = " SHA_A "\nsize = -1\n", "bad value of 'size'");
	expect_bad_meta("sha256 = " SHA_A "\nsize = 99999999999999999999999\n", "bad value of 'size'");
	expect_bad_meta("sha256 = " SHA_A "\nsize = 1\nstatus = 1000\n", "bad value of 'status'");
	expect_bad_meta("sha256 = " SHA_A "\nsize = 1\ngarbage\n", "expected 'key = value'");
	expect_bad_meta(" = x\n", "bad key");
	memset(big, 'x', sizeof(big));
	memcpy(big, "url = ", 6);
	big[sizeof(big) - 1] = '\0';
	expect_bad_meta(big, "bad value of 'url'");
}

/* fetch_current() against a real directory, as the normalizer uses it. */
static void current_body(void **state)
{
	char dir[] = "/tmp/test_fetch.XXXXXX";
	char p[512], meta[512];
	struct crm_err e = { 0 };
	char *path = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(fetch_current(dir, "orders", &path, &e), CRM_E_INPUT);
	assert_null(path);
	assert_string_equal(e.msg, "source 'orders' has not been fetched yet (run 'crmetl fetch')");

	snprintf(p, sizeof(p), "%s/raw/orders", dir);
	assert_int_equal(fsx_mkdirs(p, &e), 0);
	snprintf(meta, sizeof(meta), "%s/raw/orders/current.meta", dir);
	snprintf(p, sizeof(p), "url = file:///x\nsha256 = %s\nsize = 3\n", SHA_A);
	assert_int_equal(fsx_write_atomic(meta, p, strlen(p), &e), 0);
	err_clear(&e);
	assert_int_equal(fetch_current(dir, "orders", &path, &e), CRM_E_CORRUPT);
	assert_non_null(strstr(e.msg, "is missing"));

	snprintf(p, sizeof(p), "%s/raw/orders/%s", dir, SHA_A);
	assert_int_equal(fsx_write_atomic(p, "abcd", 4, &e), 0);
	err_clear(&e);
	assert_int_equal(fetch_current(dir, "orders", &path, &e), CRM_E_CORRUPT);
	assert_non_null(strstr(e.msg, "has 4 bytes"));

	assert_int_equal(fsx_write_atomic(p, "abc", 3, &e), 0);
	err_clear(&e);
	assert_int_equal(fetch_current(dir, "orders", &path, &e), 0);
	assert_string_equal(path, p);
	free(path);

	/* A name that could leave raw/ is refused before any path is built. */
	err_clear(&e);
	assert_int_equal(fetch_current(dir, "../orders", &path, &e), CRM_E_INPUT);
	assert_null(path);

	unlink(p);
	unlink(meta);
	snprintf(p, sizeof(p), "%s/raw/orders", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/raw", dir);
	rmdir(p);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(redact_userinfo),
		cmocka_unit_test(redact_truncates),
		cmocka_unit_test(retry_after_seconds),
		cmocka_unit_test(retry_after_dates),
		cmocka_unit_test(backoff_grows_and_caps),
		cmocka_unit_test(what_is_retried),
		cmocka_unit_test(meta_round_trip),
		cmocka_unit_test(meta_lenient_where_safe),
		cmocka_unit_test(meta_damaged),
		cmocka_unit_test(current_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
