/*
 * buf.c - growable buffers and varints (see buf.h).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_clear(struct buf *b)
{
	b->len = 0;
	b->failed = 0;
}

unsigned char *buf_take(struct buf *b, size_t *len)
{
	unsigned char *d = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t want, cap;
	unsigned char *d;

	if (b->failed)
		return -1;
	if (n <= b->cap - b->len)
		return 0;
	if (n > b->max || b->len > b->max - n) {
		b->failed = 1;
		return -1;
	}
	want = b->len + n;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	d = realloc(b->data, cap);
	if (!d) {
		b->failed = 1;
		return -1;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return b->failed ? -1 : 0;
	if (buf_reserve(b, n))
		return -1;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

int buf_put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	return buf_append(b, &c, 1);
}

int buf_put_u32le(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	return buf_append(b, c, 4);
}

int buf_put_varint(struct buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (unsigned char)v;
	return buf_append(b, tmp, n);
}

int buf_get_varint_any(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
	const unsigned char *q = *p;
	uint64_t v = 0;
	unsigned shift = 0;

	/* A varint ends by its 10th byte (below), so with 10 bytes left no bound check is needed. */
	if (end - q >= 10)
		end = q + 10;
	while (q < end) {
		unsigned char c = *q++;

		if (shift == 63 && c > 1)
			return -1; /* more than 64 bits */
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			if (c == 0 && shift > 0)
				return -1; /* redundant zero group: not canonical */
			*p = q;
			*out = v;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	/* Room for the text and vsnprintf's NUL, which is not counted. */
	if (n < 0 || buf_reserve(b, (size_t)n + 1))
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}
