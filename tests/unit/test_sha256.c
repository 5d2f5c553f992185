/*
 * test_sha256.c - SHA-256 against the FIPS 180-2 appendix B vectors, fed
 * whole and in every awkward chunking around the 64-byte block and the
 * 56-byte padding boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static const char *hash_chunked(const void *data, size_t len, size_t chunk, char hex[65])
{
	const unsigned char *p = data;
	struct sha256 c;
	unsigned char d[SHA256_LEN];
	size_t off;

	sha256_init(&c);
	for (off = 0; off < len; off += chunk)
		sha256_update(&c, p + off, len - off < chunk ? len - off : chunk);
	sha256_final(&c, d);
	return sha256_hex(d, hex);
}

/* FIPS 180-2 B.1: "abc". */
static void vector_abc(void **state)
{
	char hex[65];

	(void)state;
	assert_string_equal(sha256_hex_of("abc", 3, hex),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(hash_chunked("abc", 3, 1, hex),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* FIPS 180-2 B.2: the 448-bit message (two blocks after padding). */
static void vector_448_bits(void **state)
{
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char want[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	char hex[65];
	size_t chunk;

	(void)state;
	assert_int_equal(strlen(msg), 56);
	for (chunk = 1; chunk <= 57; chunk++)
		assert_string_equal(hash_chunked(msg, 56, chunk, hex), want);
}

/* FIPS 180-2 B.3: one million 'a'. */
static void vector_million_a(void **state)
{
	static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	char *a = malloc(1000000);
	char hex[65];

	(void)state;
	assert_non_null(a);
	memset(a, 'a', 1000000);
	assert_string_equal(sha256_hex_of(a, 1000000, hex), want);
	assert_string_equal(hash_chunked(a, 1000000, 4096, hex), want);
	assert_string_equal(hash_chunked(a, 1000000, 63, hex), want);
	assert_string_equal(hash_chunked(a, 1000000, 65, hex), want);
	free(a);
}

static void empty_message(void **state)
{
	char hex[65];

	(void)state;
	assert_string_equal(sha256_hex_of("", 0, hex),
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Lengths around the padding edge (55, 56, 63, 64, 65 bytes) against known values. */
static void padding_edges(void **state)
{
	static const struct {
		size_t len;
		const char *hex;
	} cases[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
	};
	char buf[65], hex[65];
	size_t i, chunk;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (chunk = 1; chunk <= cases[i].len; chunk++)
			assert_string_equal(hash_chunked(buf, cases[i].len, chunk, hex), cases[i].hex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vector_abc),
		cmocka_unit_test(vector_448_bits),
		cmocka_unit_test(vector_million_a),
		cmocka_unit_test(empty_message),
		cmocka_unit_test(padding_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
