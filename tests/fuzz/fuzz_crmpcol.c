/*
 * fuzz_crmpcol.c - fuzz target for the period file reader's column decoders.
 *
 * fuzz_crmp mutates whole files, whose checksums turn nearly every
 * mutation away before a decoder sees it. Here the input is the raw
 * content of one column (after decompression), wrapped in a file that is
 * valid in every other respect (docs/period-format.md, version 2): a
 * table "t" of two columns, an integer column "ref" (all 0: what a days
 * column may refer to) and the fuzzed column "c". The first 5 bytes of
 * the input choose the rows (2 bytes), the nulls (2 bytes, modulo
 * rows + 1) and the column's type and encoding (1 byte); the rest is
 * the chunk's content, deflated here and checksummed.
 *
 * Properties: decoding never crashes or reads out of bounds (the
 * sanitizers watch); a failure is CRM_E_CORRUPT with a message; decoded
 * string codes index the dictionary; numbered and string readings agree.
 * The seed corpus holds real columns of the fixtures' period files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "crmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD 64
#define MAX_ROWS 4096 /* enough for every encoding's paths, small enough to be fast */

/* Every (type, encoding) pair the format defines. */
static const unsigned char kinds[][2] = {
	{ CRMP_INT, CRMP_PLAIN }, { CRMP_INT, CRMP_DELTA }, { CRMP_INT, CRMP_DICT },
	{ CRMP_INT, CRMP_PLANES }, { CRMP_INT, CRMP_DAYS }, { CRMP_STR, CRMP_DICT },
	{ CRMP_STR, CRMP_FRONT }, { CRMP_STR, CRMP_NUMBERED },
};

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A column entry of the directory at p; returns the end. */
static unsigned char *put_column(unsigned char *p, const char *name, int type, int enc,
				 uint64_t nulls, uint64_t offset, uint64_t stored, uint64_t raw,
				 uint32_t crc)
{
	*p++ = (unsigned char)strlen(name);
	memcpy(p, name, strlen(name));
	p += strlen(name);
	*p++ = (unsigned char)type;
	*p++ = (unsigned char)enc;
	p = put_varint(p, nulls);
	p = put_varint(p, offset);
	p = put_varint(p, stored);
	p = put_varint(p, raw);
	put_le(p, crc, 4);
	return p + 4;
}

/* Deflate src[0..n) at dst (compressBound(n) bytes of room); the stored size. */
static uLongf deflate_at(unsigned char *dst, const unsigned char *src, size_t n)
{
	uLongf len = compressBound((uLong)n);

	if (compress2(dst, &len, n ? src : (const unsigned char *)"", (uLong)n, 1) != Z_OK)
		abort();
	return len;
}

/*
 * The whole file: header, the ref column's chunk, the fuzzed chunk, the
 * directory. *len gets its size; the caller frees it.
 */
static unsigned char *build(uint64_t rows, uint64_t nulls, int type, int enc,
			    const unsigned char *raw, size_t n, size_t *len)
{
	size_t ref_n = 1 + rows; /* scale 1, then a zero varint per row */
	unsigned char *ref = calloc(ref_n, 1);
	unsigned char *f = malloc(HEAD + compressBound((uLong)ref_n) + compressBound((uLong)n) + 256);
	unsigned char *p, *dir;
	uLongf s1, s2;

	if (!ref || !f)
		abort();
	ref[0] = 1;
	s1 = deflate_at(f + HEAD, ref, ref_n);
	s2 = deflate_at(f + HEAD + s1, raw, n);
	dir = p = f + HEAD + s1 + s2;
	*p++ = 1;
	*p++ = 't';
	p = put_varint(p, rows);
	p = put_varint(p, 2);
	p = put_varint(p, 0); /* no sort key: the fuzzed column need not be in order */
	p = put_column(p, "ref", CRMP_INT, CRMP_PLAIN, 0, HEAD, s1, ref_n,
		       (uint32_t)crc32(0, f + HEAD, (uInt)s1));
	p = put_column(p, "c", type, enc, nulls, HEAD + s1, s2, n,
		       (uint32_t)crc32(0, f + HEAD + s1, (uInt)s2));
	memset(f, 0, HEAD);
	memcpy(f, "\x89" "CRMP\r\n\x1a", 8);
	put_le(f + 8, 2, 2);                         /* major; minor 0 */
	put_le(f + 12, 1, 4);                        /* a period file */
	put_le(f + 16, 2024 * 12, 4);
	put_le(f + 20, 1, 4);                        /* tables */
	put_le(f + 24, (uint64_t)(dir - f), 8);
	put_le(f + 32, (uint64_t)(p - dir), 4);
	put_le(f + 36, crc32(0, dir, (uInt)(p - dir)), 4);
	put_le(f + 40, (uint64_t)(p - f), 8);
	put_le(f + 60, crc32(0, f, 60), 4);
	*len = (size_t)(p - f);
	free(ref);
	return f;
}

static void check_int(const struct crmp_file *f, uint64_t rows)
{
	int64_t *v = malloc((rows ? rows : 1) * sizeof(*v));
	uint8_t *pres = malloc(rows ? rows : 1);
	struct crm_err e = { 0 };

	if (!v || !pres)
		abort();
	if (crmp_read_int(f, 0, 1, v, pres, &e) != 0 && (e.code != CRM_E_CORRUPT || !e.msg[0]))
		abort();
	free(v);
	free(pres);
}

static void check_str(const struct crmp_file *f, uint64_t rows)
{
	int64_t *nums = malloc((rows ? rows : 1) * sizeof(*nums));
	struct crmp_numbered shape;
	struct crmp_strs s;
	struct crm_err e = { 0 };
	uint64_t r;
	int rc, nrc;

	memset(&s, 0, sizeof(s));
	if (!nums)
		abort();
	rc = crmp_read_str(f, 0, 1, &s, &e);
	if (rc != 0 && (e.code != CRM_E_CORRUPT || !e.msg[0]))
		abort();
	for (r = 0; rc == 0 && r < rows; r++)
		if (s.codes[r] != UINT32_MAX && s.codes[r] >= s.n_dict)
			abort();
	memset(&e, 0, sizeof(e));
	nrc = crmp_read_numbered(f, 0, 1, nums, NULL, &shape, &e);
	/* Both readers decode the same chunk: one cannot fail where the other did not. */
	if ((nrc == 0 && rc != 0) || (nrc != 0 && nrc != 1 && (rc == 0 || e.code != CRM_E_CORRUPT)))
		abort();
	crmp_strs_release(&s);
	free(nums);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crmp_file *f = NULL;
	struct crm_err e = { 0 };
	uint64_t rows, nulls;
	unsigned char *file;
	size_t len;
	int type, enc;

	if (size < 5)
		return 0;
	rows = (uint64_t)(data[0] | data[1] << 8) % (MAX_ROWS + 1);
	nulls = (uint64_t)(data[2] | data[3] << 8) % (rows + 1);
	type = kinds[data[4] % (sizeof(kinds) / sizeof(kinds[0]))][0];
	enc = kinds[data[4] % (sizeof(kinds) / sizeof(kinds[0]))][1];
	file = build(rows, nulls, type, enc, data + 5, size - 5, &len);
	if (crmp_open_mem(file, len, "fuzz", &f, &e) != 0) {
		if (e.code != CRM_E_CORRUPT || !e.msg[0])
			abort();
	} else {
		if (crmp_table_info(f, 0)->rows != rows)
			abort();
		if (type == CRMP_INT)
			check_int(f, rows);
		else
			check_str(f, rows);
		crmp_close(f);
	}
	free(file);
	return 0;
}
