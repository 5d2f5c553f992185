/*
 * fuzz_xmlr.c - libFuzzer target for the XML record reader (xmlr.h).
 *
 * Reads every record of the input (record "order", four field names, small
 * limits so they are reached) and checks properties, not only "no crash":
 * - xmlr_next returns 1, 0 or a negative code, and a negative code is
 *   sticky, recorded in the crm_err, and one the reader documents;
 * - lines are >= 1 and never go backwards;
 * - a bad record has a reason and no values; a good one has no reason and
 *   values that are NUL-terminated, NUL-free and at most max_value bytes;
 *   entries past n are NULL;
 * - xmlr_records counts what was returned;
 * - reading the same bytes again gives the same digest (determinism), and
 *   the gzip-compressed bytes end the same way (same records when the
 *   document is well-formed).
 *
 * No main(): link with libFuzzer (-fsanitize=fuzzer) or a replay driver.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "ins.h"
#include "xmlr.h"

#include "banned.h"

#define MAX_VALUE 64
#define N_NAMES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[N_NAMES] = { "order_id", "customer_id", "amount", "status" };

struct outcome {
	int rc;            /* final return: 0 or negative */
	uint64_t records;
	uint32_t digest;   /* over every record returned */
};

static uint32_t mix(uint32_t h, const void *p, size_t n)
{
	return (uint32_t)crc32(h, p, (uInt)n);
}

static void read_all(const uint8_t *data, size_t size, struct outcome *out)
{
	struct xmlr_opts o = { "order", 16, MAX_VALUE };
	struct crm_err e = { 0 };
	struct ins *in = NULL;
	struct xmlr *r = NULL;
	struct rec rec;
	long last = 0;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ins_open_mem(data, size, "fuzz.xml", &in, &e) != 0)
		abort(); /* memory streams cannot fail to open */
	if (xmlr_open(in, &o, names, N_NAMES, &r, &e) != 0)
		abort();
	while ((rc = xmlr_next(r, &rec, &e)) == 1) {
		out->records++;
		if (rec.line < 1 || rec.line < last)
			abort();
		last = rec.line;
		out->digest = mix(out->digest, &rec.line, sizeof(rec.line));
		out->digest = mix(out->digest, &rec.bad, sizeof(rec.bad));
		if (rec.bad) {
			if (!rec.reason || !rec.reason[0])
				abort();
			out->digest = mix(out->digest, rec.reason, strlen(rec.reason));
		} else if (rec.reason) {
			abort();
		}
		for (i = 0; i < REC_MAX_FIELDS; i++) {
			if (!rec.val[i]) {
				if (rec.len[i] != 0)
					abort();
				continue;
			}
			if (rec.bad || i >= N_NAMES || rec.len[i] > MAX_VALUE ||
			    rec.val[i][rec.len[i]] != '\0' || memchr(rec.val[i], 0, rec.len[i]))
				abort();
			out->digest = mix(out->digest, &i, sizeof(i));
			out->digest = mix(out->digest, rec.val[i], rec.len[i]);
		}
	}
	out->rc = rc;
	if (rc < 0) {
		if (rc != CRM_E_INPUT && rc != CRM_E_NOMEM && rc != CRM_E_IO)
			abort();
		if (e.code != rc || !e.msg[0])
			abort();
		if (xmlr_next(r, &rec, &e) != rc || rec.val[0])
			abort();
		out->digest = mix(out->digest, e.msg, strlen(e.msg));
		out->digest = mix(out->digest, &e.line, sizeof(e.line));
	} else if (rc != 0 || xmlr_next(r, &rec, &e) != 0) {
		abort();
	}
	if (xmlr_records(r) != out->records)
		abort();
	xmlr_free(r);
	ins_close(in);
}

/* gzip (windowBits 31) of the input, or NULL when zlib declines. */
static unsigned char *gzip(const uint8_t *data, size_t size, size_t *out_len)
{
	size_t cap = size + size / 100 + 1024;
	unsigned char *out = malloc(cap);
	z_stream z;

	if (!out)
		return NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b, g;
	unsigned char *gz;
	size_t gz_len;

	read_all(data, size, &a);
	read_all(data, size, &b);
	if (a.rc != b.rc || a.records != b.records || a.digest != b.digest)
		abort();
	/* Plain input starting with the gzip magic would be read as gzip. */
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return 0;
	gz = gzip(data, size, &gz_len);
	if (!gz)
		return 0;
	read_all(gz, gz_len, &g);
	/* Other read sizes may move where libxml2 stops on malformed input,
	 * not whether it stops, nor any record of a well-formed document. */
	if ((g.rc == 0) != (a.rc == 0))
		abort();
	if (a.rc == 0 && (g.records != a.records || g.digest != a.digest))
		abort();
	free(gz);
	return 0;
}
