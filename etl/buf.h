/*
 * buf.h - growable byte buffers with a ceiling, and LEB128 varints.
 *
 * A buffer grows by doubling up to its `max`; past it an append fails with
 * CRM_E_NOMEM instead of eating the machine. The bytes are owned by the
 * buffer until buf_take() hands them over.
 *
 * Lifecycle: buf_init() -> appends -> buf_release() (or buf_take()).
 */
#ifndef CRM_BUF_H
#define CRM_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	unsigned char *data; /* owned, or NULL while empty */
	size_t len;          /* bytes used */
	size_t cap;          /* bytes allocated */
	size_t max;          /* ceiling on cap */
	int failed;          /* an append hit the ceiling or malloc failed */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Empty it for reuse, keeping its memory. */
void buf_clear(struct buf *b);
/* Hand the bytes over (caller frees); the buffer is empty afterwards. */
unsigned char *buf_take(struct buf *b, size_t *len);

/* Make room for `n` more bytes; 0 or -1 (and b->failed set). */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_put_u8(struct buf *b, unsigned v);
int buf_put_u32le(struct buf *b, uint32_t v);
int buf_put_varint(struct buf *b, uint64_t v);
/* Append printf-formatted text (no NUL counted in len). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes a varint of v takes (1..10). */
static inline size_t buf_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint64_t buf_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t buf_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* buf_get_varint() for any length; call that instead. */
int buf_get_varint_any(const unsigned char **p, const unsigned char *end, uint64_t *out);

/*
 * Read a varint from [*p, end): at most 10 bytes, no redundant trailing
 * zero group. Returns 0 and advances *p, or -1 on a bad or cut varint.
 * Inline for canonical values of one to three bytes: period files decode
 * tens of millions of varints per compute, most of them codes, days,
 * money and small deltas of that size, where the call cost as much as the
 * decoding. Anything else (longer, cut short, not canonical) takes
 * buf_get_varint_any, which applies every check.
 */
static inline int buf_get_varint(const unsigned char **p, const unsigned char *end,
				 uint64_t *out)
{
	const unsigned char *q = *p;

	if (q < end && q[0] < 0x80) {
		*out = q[0];
		*p = q + 1;
		return 0;
	}
	/* q[0] >= 0x80 from here; a last byte of 0 would be a redundant group */
	if (end - q >= 2 && q[1] < 0x80 && q[1] != 0) {
		*out = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
		*p = q + 2;
		return 0;
	}
	if (end - q >= 3 && q[1] >= 0x80 && q[2] < 0x80 && q[2] != 0) {
		*out = (uint64_t)(q[0] & 0x7f) | (uint64_t)(q[1] & 0x7f) << 7 | (uint64_t)q[2] << 14;
		*p = q + 3;
		return 0;
	}
	return buf_get_varint_any(p, end, out);
}

#endif
