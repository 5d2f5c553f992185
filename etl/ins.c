/*
 * ins.c - plain and gzip input streams (see ins.h).
 *
 * Gzip is detected by content, not by name: CRM exports arrive as
 * "export.csv" served with Content-Encoding, as ".gz" files, or renamed by
 * hand, and the magic bytes are the only reliable sign.
 */
#include "ins.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "banned.h"

#define INS_BLOCK (256 * 1024)

struct ins {
	int fd;                 /* -1 for a memory stream */
	const unsigned char *mem; /* memory stream: the data (borrowed) */
	size_t mem_len, mem_pos;
	unsigned char *raw;     /* read buffer: owned for files, borrowed for memory */
	int own_raw;            /* raw was malloc'ed here */
	size_t raw_len, raw_pos;
	int eof;                /* no more raw bytes */
	int gzip;
	int z_ready;            /* z was initialised */
	z_stream z;
	int failed;             /* sticky error code, or 0 */
	struct crm_err *e;
	uint64_t raw_bytes, content_bytes;
	char *name;             /* owned */
	ins_tap_fn *tap;        /* sees every byte read from the file, or NULL */
	void *tap_ctx;
	int drained;            /* ins_drain read the rest: no more content */
};

/* `n` bytes just read from the file at p: counted, and shown to the tap. */
static void got_raw(struct ins *in, const unsigned char *p, size_t n)
{
	in->raw_bytes += (uint64_t)n;
	if (in->tap && n)
		in->tap(in->tap_ctx, p, n);
}

static struct ins *ins_alloc(const char *name, struct crm_err *e)
{
	struct ins *in = calloc(1, sizeof(*in));

	if (!in || !(in->name = strdup(name))) {
		free(in);
		err_set(e, CRM_E_NOMEM, "out of memory opening '%s'", name);
		return NULL;
	}
	in->fd = -1;
	in->e = e;
	return in;
}

/* Refill raw[] from the file or memory; returns bytes available or <0. */
static ssize_t refill(struct ins *in)
{
	ssize_t n;

	if (in->raw_pos < in->raw_len || in->eof)
		return (ssize_t)(in->raw_len - in->raw_pos);
	if (in->fd < 0) {
		/* Memory streams hand out their buffer directly. */
		in->raw = (unsigned char *)(uintptr_t)in->mem;
		in->raw_len = in->mem_len;
		in->raw_pos = in->mem_pos;
		in->mem_pos = in->mem_len;
		in->eof = 1;
		in->raw_bytes = in->mem_len;
		return (ssize_t)(in->raw_len - in->raw_pos);
	}
	do
		n = read(in->fd, in->raw, INS_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return in->failed = err_sys(in->e, CRM_E_IO, errno, in->name, "cannot read");
	if (n == 0)
		in->eof = 1;
	in->raw_len = (size_t)n;
	in->raw_pos = 0;
	got_raw(in, in->raw, (size_t)n);
	return n;
}

static int start(struct ins *in)
{
	ssize_t n = refill(in);

	if (n < 0)
		return (int)n;
	/* Two bytes decide; a one-byte file is plain text. */
	if (n == 1 && !in->eof && in->fd >= 0) {
		/* Short read: read once more so the magic check sees two bytes. */
		ssize_t m;

		memmove(in->raw, in->raw + in->raw_pos, 1);
		do
			m = read(in->fd, in->raw + 1, INS_BLOCK - 1);
		while (m < 0 && errno == EINTR);
		if (m < 0)
			return in->failed = err_sys(in->e, CRM_E_IO, errno, in->name, "cannot read");
		in->raw_len = 1 + (size_t)m;
		in->raw_pos = 0;
		got_raw(in, in->raw + 1, (size_t)m);
		n = (ssize_t)in->raw_len;
	}
	if (n >= 2 && in->raw[in->raw_pos] == 0x1f && in->raw[in->raw_pos + 1] == 0x8b) {
		in->gzip = 1;
		/* 15 + 16: zlib window, gzip wrapper only. */
		if (inflateInit2(&in->z, 15 + 16) != Z_OK)
			return in->failed = err_set(in->e, CRM_E_NOMEM, "cannot start gunzip of '%s'", in->name);
		in->z_ready = 1;
	}
	return 0;
}

static int open_file(const char *path, ins_tap_fn *tap, void *ctx, struct ins **out,
		     struct crm_err *e)
{
	struct ins *in = ins_alloc(path, e);
	int rc;

	*out = NULL;
	if (!in)
		return CRM_E_NOMEM;
	in->raw = malloc(INS_BLOCK);
	in->own_raw = in->raw != NULL;
	if (!in->raw) {
		ins_close(in);
		return err_set(e, CRM_E_NOMEM, "out of memory opening '%s'", path);
	}
	in->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0) {
		rc = err_sys(e, errno == ENOENT ? CRM_E_INPUT : CRM_E_IO, errno, path, "cannot open");
		ins_close(in);
		return rc;
	}
	in->tap = tap;
	in->tap_ctx = ctx;
	rc = start(in);
	if (rc) {
		ins_close(in);
		return rc;
	}
	*out = in;
	return 0;
}

int ins_open(const char *path, struct ins **out, struct crm_err *e)
{
	return open_file(path, NULL, NULL, out, e);
}

int ins_open_tapped(const char *path, ins_tap_fn *tap, void *ctx, struct ins **out,
		    struct crm_err *e)
{
	return open_file(path, tap, ctx, out, e);
}

int ins_drain(struct ins *in)
{
	ssize_t n;

	if (in->failed)
		return in->failed;
	in->raw_pos = in->raw_len;
	while (!in->eof) {
		if ((n = refill(in)) < 0)
			return (int)n;
		in->raw_pos = in->raw_len;
	}
	in->drained = 1;
	return 0;
}

int ins_open_mem(const void *data, size_t len, const char *name, struct ins **out,
		 struct crm_err *e)
{
	struct ins *in = ins_alloc(name, e);
	int rc;

	*out = NULL;
	if (!in)
		return CRM_E_NOMEM;
	in->mem = data;
	in->mem_len = len;
	rc = start(in);
	if (rc) {
		ins_close(in);
		return rc;
	}
	*out = in;
	return 0;
}

static ssize_t read_plain(struct ins *in, unsigned char *buf, size_t cap)
{
	ssize_t avail;
	size_t n;

	/* A big read of a file with nothing buffered goes straight to the caller: one copy less. */
	if (in->fd >= 0 && in->raw_pos == in->raw_len && !in->eof && cap >= INS_BLOCK) {
		ssize_t got;

		do
			got = read(in->fd, buf, cap);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return in->failed = err_sys(in->e, CRM_E_IO, errno, in->name, "cannot read");
		if (got == 0)
			in->eof = 1;
		got_raw(in, buf, (size_t)got);
		return got;
	}
	avail = refill(in);

	if (avail <= 0)
		return avail;
	n = (size_t)avail < cap ? (size_t)avail : cap;
	memcpy(buf, in->raw + in->raw_pos, n);
	in->raw_pos += n;
	return (ssize_t)n;
}

static ssize_t read_gzip(struct ins *in, unsigned char *buf, size_t cap)
{
	/* zlib counts in uInt: hand out at most 1 GiB per call. */
	if (cap > (1u << 30))
		cap = 1u << 30;
	in->z.next_out = buf;
	in->z.avail_out = (uInt)cap;
	while (in->z.avail_out > 0) {
		ssize_t avail = refill(in);
		int zrc;

		if (avail < 0)
			return avail;
		if (avail == 0) {
			if (in->z_ready == 2) /* ended cleanly at a member boundary */
				break;
			return in->failed = err_at(in->e, CRM_E_INPUT, in->name, 0, NULL,
						   "gzip data is truncated");
		}
		if (in->z_ready == 2) {
			/* Another member follows (concatenated gzip). */
			if (inflateReset(&in->z) != Z_OK)
				return in->failed = err_set(in->e, CRM_E_INTERNAL, "inflateReset failed");
			in->z_ready = 1;
		}
		in->z.next_in = in->raw + in->raw_pos;
		in->z.avail_in = (uInt)avail;
		zrc = inflate(&in->z, Z_NO_FLUSH);
		in->raw_pos = (size_t)(in->z.next_in - in->raw);
		if (zrc == Z_STREAM_END) {
			in->z_ready = 2;
		} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			return in->failed = err_at(in->e, CRM_E_INPUT, in->name, 0, NULL,
						   "damaged gzip data: %s", in->z.msg ? in->z.msg : "inflate failed");
		}
		if (zrc == Z_STREAM_END || (size_t)in->z.avail_out < cap)
			break; /* hand out what we have */
	}
	return (ssize_t)(cap - in->z.avail_out);
}

ssize_t ins_read(struct ins *in, void *buf, size_t cap)
{
	ssize_t n;

	if (in->failed)
		return in->failed;
	if (cap == 0 || in->drained)
		return 0;
	n = in->gzip ? read_gzip(in, buf, cap) : read_plain(in, buf, cap);
	if (n > 0)
		in->content_bytes += (uint64_t)n;
	return n;
}

const char *ins_name(const struct ins *in)
{
	return in->name;
}

int ins_is_gzip(const struct ins *in)
{
	return in->gzip;
}

uint64_t ins_raw_bytes(const struct ins *in)
{
	return in->raw_bytes;
}

uint64_t ins_content_bytes(const struct ins *in)
{
	return in->content_bytes;
}

void ins_close(struct ins *in)
{
	if (!in)
		return;
	if (in->z_ready)
		inflateEnd(&in->z);
	if (in->fd >= 0)
		close(in->fd);
	if (in->own_raw)
		free(in->raw);
	free(in->name);
	free(in);
}
