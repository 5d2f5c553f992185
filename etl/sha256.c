/*
 * sha256.c - SHA-256 after FIPS 180-4 section 6.2 (see sha256.h).
 *
 * The portable compression function is written for clarity. Normalize
 * hashes every export (gigabytes) for its lineage records, so on x86-64
 * CPUs with the SHA extensions (sha_ni) blocks go through those
 * instructions instead: about six times faster, chosen once at run time.
 * Owns nothing; does not do HMAC or any other construction.
 */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "banned.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; k = h[7];
	for (i = 0; i < 64; i++) {
		t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

#ifdef SHA256_X86
/*
 * The SHA extensions keep the state as two vectors, ABEF and CDGH;
 * sha256rnds2 does two rounds, sha256msg1/msg2 the message schedule four
 * words at a time (Intel SHA extensions reference, "SHA-256 rounds").
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_ni(uint32_t h[8], const unsigned char *p, size_t blocks)
{
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1), efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8), cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
	__m128i m[4], fe_ba, dchg;

	for (; blocks; blocks--, p += 64) {
		__m128i save_abef = abef, save_cdgh = cdgh;
		int g;

		for (g = 0; g < 16; g++) {
			__m128i wk;

			if (g < 4) {
				m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), swap);
			} else {
				/* W[t] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]), four at a time */
				__m128i x = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);

				x = _mm_add_epi32(x, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
				m[g & 3] = _mm_sha256msg2_epu32(x, m[(g + 3) & 3]);
			}
			wk = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
		}
		abef = _mm_add_epi32(abef, save_abef);
		cdgh = _mm_add_epi32(cdgh, save_cdgh);
	}
	fe_ba = _mm_shuffle_epi32(abef, 0x1B);
	dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(fe_ba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, fe_ba, 8));
}

/* 1 when the CPU has the SHA extensions and SSSE3/SSE4.1 (asked once). */
static int have_sha_ni(void)
{
	static int known = -1;
	unsigned a, b, c, d;

	if (known < 0) {
		int sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1);
		int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));

		known = sse && sha; /* a benign race: every thread computes the same value */
	}
	return known;
}
#endif

static int accel = 1; /* sha256_set_accel */

int sha256_set_accel(int on)
{
	int was = accel;

	accel = on;
	return was;
}

/* Compress `blocks` consecutive 64-byte blocks. */
static void compress_blocks(uint32_t h[8], const unsigned char *p, size_t blocks)
{
#ifdef SHA256_X86
	if (accel && have_sha_ni()) {
		compress_ni(h, p, blocks);
		return;
	}
#endif
	for (; blocks; blocks--, p += 64)
		compress(h, p);
}

void sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(c->h, iv, sizeof(iv));
	c->bytes = 0;
	c->fill = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->bytes += len;
	if (c->fill) {
		size_t take = 64 - c->fill;

		if (take > len)
			take = len;
		memcpy(c->block + c->fill, p, take);
		c->fill += take;
		p += take;
		len -= take;
		if (c->fill < 64)
			return;
		compress_blocks(c->h, c->block, 1);
		c->fill = 0;
	}
	compress_blocks(c->h, p, len / 64);
	p += len / 64 * 64;
	len %= 64;
	if (len) {
		memcpy(c->block, p, len);
		c->fill = len;
	}
}

void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN])
{
	uint64_t bits = c->bytes * 8;
	int i;

	c->block[c->fill++] = 0x80;
	if (c->fill > 56) {
		memset(c->block + c->fill, 0, 64 - c->fill);
		compress_blocks(c->h, c->block, 1);
		c->fill = 0;
	}
	memset(c->block + c->fill, 0, 56 - c->fill);
	for (i = 0; i < 8; i++)
		c->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	compress_blocks(c->h, c->block, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
	memset(c->block, 0, sizeof(c->block));
	c->fill = 0;
}

char *sha256_hex(const unsigned char digest[SHA256_LEN], char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_LEN; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[SHA256_HEX_LEN] = '\0';
	return hex;
}

char *sha256_hex_of(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256 c;
	unsigned char d[SHA256_LEN];

	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, d);
	return sha256_hex(d, hex);
}
