/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming.
 *
 * Used by the fetch stage to name stored exports by their content. A
 * small, portable implementation: no allocation, no global state, any
 * number of update calls of any size.
 *
 * Lifecycle: sha256_init() -> sha256_update()* -> sha256_final(); the
 * context may be reused after sha256_init() again.
 */
#ifndef CRM_SHA256_H
#define CRM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32            /* digest bytes */
#define SHA256_HEX_LEN 64        /* lowercase hex digits, without the NUL */

struct sha256 {
	uint32_t h[8];           /* chaining state */
	uint64_t bytes;          /* message length so far, bytes */
	unsigned char block[64]; /* partial block */
	size_t fill;             /* bytes in block, 0..63 */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Write the 32-byte digest; the context must be re-initialised to reuse it. */
void sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN]);

/* Digest as 64 lowercase hex digits plus NUL into `hex`; returns hex. */
char *sha256_hex(const unsigned char digest[SHA256_LEN], char hex[SHA256_HEX_LEN + 1]);

/*
 * Whether blocks may go through the CPU's SHA instructions when it has
 * them (the default, 1) or always through the portable code (0): for
 * tests that compare the two. Returns the previous setting.
 */
int sha256_set_accel(int on);

/* One-shot: hex digest of `len` bytes. */
char *sha256_hex_of(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);

#endif
