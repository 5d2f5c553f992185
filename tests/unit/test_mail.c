/*
 * test_mail.c - the pure pieces of the mail stage: base64 line lengths,
 * RFC 2047 header encoding, subject templates, ledger keys, Message-IDs
 * and RFC 5322 dates. Delivery itself is tested end to end
 * (tests/e2e/7001-mail-deliver.sh, against a real SMTP server).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mail.h"

/* The buffer as a C string (appends a NUL). */
static const char *str(struct buf *b)
{
	buf_append(b, "", 1);
	b->len--;
	return (const char *)b->data;
}

static int b64_val(char c)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(t, c);

	return c && p ? (int)(p - t) : -1;
}

/* Decode base64 text (line breaks skipped) into out; returns the length. */
static size_t unb64(const char *s, size_t len, unsigned char *out)
{
	unsigned v = 0;
	int bits = 0;
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int d = b64_val(s[i]);

		if (d < 0)
			continue;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(v >> bits);
		}
	}
	return n;
}

static void base64_vectors(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mail_base64(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(mail_base64(&b, "M", 1), 0);
	assert_int_equal(mail_base64(&b, "Ma", 2), 0);
	assert_int_equal(mail_base64(&b, "Man", 3), 0);
	assert_string_equal(str(&b), "TQ==\r\nTWE=\r\nTWFu\r\n");
	buf_release(&b);
}

/* Every line is exactly 76 characters but the last, and all end in CRLF. */
static void base64_line_lengths(void **state)
{
	static const size_t sizes[] = { 56, 57, 58, 114, 1000, 4097 };
	unsigned char data[4097], back[4097];
	size_t k, i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct buf b;
		const char *p, *end;
		size_t lines = 0;

		buf_init(&b, 1 << 20);
		assert_int_equal(mail_base64(&b, data, sizes[k]), 0);
		p = str(&b);
		end = p + b.len;
		while (p < end) {
			const char *crlf = strstr(p, "\r\n");

			assert_non_null(crlf);
			lines++;
			if (crlf + 2 < end)
				assert_int_equal(crlf - p, 76);
			else
				assert_true(crlf - p <= 76 && crlf - p > 0);
			p = crlf + 2;
		}
		assert_int_equal(lines, (sizes[k] + 56) / 57);
		assert_int_equal(unb64((const char *)b.data, b.len, back), sizes[k]);
		assert_memory_equal(back, data, sizes[k]);
		buf_release(&b);
	}
}

static void header_ascii_as_is(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(mail_header(&b, "Subject", "Customer metrics 2025-06 (en)"), 0);
	assert_string_equal(str(&b), "Subject: Customer metrics 2025-06 (en)\r\n");
	buf_release(&b);
}

/* Non-ASCII: encoded-words, lines under 78, UTF-8 sequences never split. */
static void header_encoded_words(void **state)
{
	/* 40 times U+5BA2 (3 bytes each) after some ASCII: several words. */
	char value[200] = "Report ";
	struct buf b;
	const char *p;
	size_t i, words = 0;
	unsigned char all[256];
	size_t n_all = 0;

	(void)state;
	for (i = 0; i < 40; i++)
		strcat(value, "\xe5\xae\xa2"); /* test code: banned.h is not included */
	buf_init(&b, 1 << 20);
	assert_int_equal(mail_header(&b, "Subject", value), 0);
	p = str(&b);
	assert_true(strncmp(p, "Subject: =?UTF-8?B?", 19) == 0);
	for (;;) {
		const char *eol = strstr(p, "\r\n");
		const char *w;

		assert_non_null(eol);
		assert_true(eol - p <= 76);
		for (w = p; (w = strstr(w, "=?UTF-8?B?")) && w < eol;) {
			const char *q = strstr(w, "?=");
			unsigned char dec[64];
			size_t n;

			assert_non_null(q);
			n = unb64(w + 10, (size_t)(q - w - 10), dec);
			assert_true(n > 0 && n <= 48);
			/* A word starts on a character: no continuation byte first. */
			assert_true((dec[0] & 0xc0) != 0x80);
			memcpy(all + n_all, dec, n);
			n_all += n;
			words++;
			w = q + 2;
		}
		if (eol[2] != ' ')
			break;
		p = eol + 2;
	}
	assert_true(words >= 3);
	assert_int_equal(n_all, strlen(value));
	assert_memory_equal(all, value, n_all);
	buf_release(&b);
}

static void subject_template(void **state)
{
	char out[128];

	(void)state;
	assert_int_equal(mail_subject("{title} {period} ({lang})", "Customer metrics", "2025-06", "en", 0,
				      out, sizeof(out)), 0);
	assert_string_equal(out, "Customer metrics 2025-06 (en)");
	assert_int_equal(mail_subject("{period}: {title}", "KPIs", "2025-06", "zh", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "2025-06: KPIs (restated)");
	/* Unknown and unclosed variables are copied as they are. */
	assert_int_equal(mail_subject("{x} {period", "t", "2025-06", "en", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "{x} {period");
	assert_int_equal(mail_subject("{period}{period}", "t", "2025-06", "en", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "2025-062025-06");
	/* Too long, or a line break (header injection): refused. */
	assert_int_equal(mail_subject("{title}", "Customer metrics", "2025-06", "en", 0, out, 10), -1);
	assert_int_equal(mail_subject("{title}", "a\r\nBcc: x@y", "2025-06", "en", 0, out, sizeof(out)), -1);
}

static void ledger_key(void **state)
{
	char a0[] = "ceo@example.com", a1[] = "cfo@example.com";
	char b0[] = "CFO@Example.com", b1[] = "Boss <ceo@example.com>";
	char *a[] = { a0, a1 }, *b[] = { b0, b1 }, *c[] = { a0 };
	char ka[MAIL_KEY_MAX], kb[MAIL_KEY_MAX], kc[MAIL_KEY_MAX], kd[MAIL_KEY_MAX];

	(void)state;
	assert_int_equal(mail_ledger_key("2025-06", "executive", "en", a, 2, ka), 0);
	assert_int_equal(mail_ledger_key("2025-06", "executive", "en", b, 2, kb), 0);
	assert_int_equal(mail_ledger_key("2025-06", "executive", "en", c, 1, kc), 0);
	assert_int_equal(mail_ledger_key("2025-06", "executive", "zh", a, 2, kd), 0);
	assert_int_equal(strlen(ka), strlen("2025-06-executive-en-") + 16);
	assert_true(strncmp(ka, "2025-06-executive-en-", 21) == 0);
	assert_string_equal(ka, kb);      /* order, case and display names do not matter */
	assert_string_not_equal(ka, kc);  /* other recipients, other key */
	assert_string_equal(ka + 21, kd + 21); /* same recipients, same hash ... */
	assert_string_not_equal(ka, kd);       /* ... but another language */
	assert_true(strncmp(kd, "2025-06-executive-zh-", 21) == 0);
}

static void message_id(void **state)
{
	const char *sha1 = "ad1ba85d3016749cde11eed655b4e954de20a47a3bf865cd4cc6cbd214ed2ff9";
	const char *sha2 = "5d617bca98aa04e24c58a74d8f10001ef231d994d9dfd653aa10a156b2e3d7e3";
	char a[320], b[320], c[320], d[320], f[320];

	(void)state;
	assert_int_equal(mail_message_id("2025-06-executive-en-0123456789abcdef", sha1, "reports@example.com", a, sizeof(a)), 0);
	assert_int_equal(mail_message_id("2025-06-executive-en-0123456789abcdef", sha1, "reports@example.com", b, sizeof(b)), 0);
	assert_int_equal(mail_message_id("2025-06-executive-en-0123456789abcdef", sha2, "reports@example.com", c, sizeof(c)), 0);
	assert_int_equal(mail_message_id("2025-07-executive-en-0123456789abcdef", sha1, "reports@example.com", d, sizeof(d)), 0);
	assert_int_equal(mail_message_id("2025-06-executive-en-0123456789abcdef", sha1, "nobody", f, sizeof(f)), 0);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_int_equal(strlen(a), 1 + 32 + strlen(".crmetl@example.com>"));
	assert_true(a[0] == '<' && strcmp(a + 33, ".crmetl@example.com>") == 0);
	assert_true(strcmp(f + 33, ".crmetl@localhost>") == 0);
	assert_int_equal(mail_message_id("k", sha1, "a@b.c", a, 20), -1);
}

static void rfc5322_date(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(mail_date(0, out, sizeof(out)), 0);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
	assert_int_equal(mail_date(1795551963, out, sizeof(out)), 0);
	assert_string_equal(out, "Tue, 24 Nov 2026 20:26:03 +0000");
	assert_int_equal(mail_date(1795551963, out, 10), -1);
}

/* Which SMTP servers count as this machine (credentials may go without TLS). */
static void loopback_hosts(void **state)
{
	static const char *const yes[] = {
		"smtp://localhost", "smtp://LOCALHOST:25", "smtp://127.0.0.1:2525", "smtp://127.9.8.7/",
		"smtp://[::1]:25", "smtps://[0:0:0:0:0:0:0:1]",
	};
	static const char *const no[] = {
		"smtp://127.0.0.1.", "smtp://127.999.1.1", "smtp://127.1.2.3.4", "smtp://127.1",
		"smtp://127.0.0.1.example.com", "smtp://localhost.example.com", "smtp://mail.example.com",
		"smtp://192.0.2.2:25", "smtp://[::2]", "smtp://[::ffff:127.0.0.1]", "smtp://[::1",
		"smtp://", "localhost",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!mail_url_loopback(yes[i]))
			fail_msg("%s should be this machine", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (mail_url_loopback(no[i]))
			fail_msg("%s should not be this machine", no[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base64_vectors),
		cmocka_unit_test(base64_line_lengths),
		cmocka_unit_test(header_ascii_as_is),
		cmocka_unit_test(header_encoded_words),
		cmocka_unit_test(subject_template),
		cmocka_unit_test(ledger_key),
		cmocka_unit_test(message_id),
		cmocka_unit_test(rfc5322_date),
		cmocka_unit_test(loopback_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
