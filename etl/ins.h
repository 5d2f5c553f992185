/*
 * ins.h - input streams: a file read in blocks, gunzipped on the fly when it
 * starts with the gzip magic bytes (1f 8b), whatever its name.
 *
 * The CSV and XML readers pull bytes through this interface and never know
 * whether the file was compressed. Memory is one read buffer and, for gzip,
 * one inflate state: bounded whatever the file size. Concatenated gzip
 * members (as `cat a.gz b.gz` makes) are read as one stream.
 *
 * Errors are sticky: after a failed read every later read fails too, and
 * the error (file name, errno or zlib message) is in the struct crm_err
 * given to ins_open.
 *
 * A stream may also show every byte it reads from its file to a "tap"
 * (ins_open_tapped): normalize hashes each export for its lineage that
 * way, reading it once for both instead of twice (a copy out of the page
 * cache per byte, ~2 GB a run at the bench size).
 *
 * Lifecycle: ins_open() -> ins_read()... -> ins_close() (accepts NULL).
 */
#ifndef CRM_INS_H
#define CRM_INS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct ins;

/* Open `path` for reading ("-" is not supported: inputs are files). */
int ins_open(const char *path, struct ins **out, struct crm_err *e);

/* Called with each block read from a file (before any gunzip), in file order. */
typedef void ins_tap_fn(void *ctx, const void *data, size_t len);

/* Open as ins_open, every byte read from the file shown to tap(ctx, ...). */
int ins_open_tapped(const char *path, ins_tap_fn *tap, void *ctx, struct ins **out,
		    struct crm_err *e);

/*
 * Read the bytes of the file not read yet, for the tap alone (a reader
 * may stop before the end, e.g. after an XML root element), so that the
 * tap has seen the whole file; ins_raw_bytes is then its size. The stream
 * hands out no more content afterwards. 0, or a negative CRM_E_* code as
 * ins_read.
 */
int ins_drain(struct ins *in);

/* Wrap a memory buffer (borrowed, must outlive the stream): tests, fuzzing. */
int ins_open_mem(const void *data, size_t len, const char *name, struct ins **out,
		 struct crm_err *e);

/*
 * Read up to `cap` bytes of (decompressed) content into buf. Returns the
 * number of bytes read, 0 at the end, or a negative CRM_E_* code after
 * filling the error given to ins_open.
 */
ssize_t ins_read(struct ins *in, void *buf, size_t cap);

/* The name given at open (borrowed, valid until ins_close). */
const char *ins_name(const struct ins *in);

int ins_is_gzip(const struct ins *in);
uint64_t ins_raw_bytes(const struct ins *in);     /* bytes read from the file */
uint64_t ins_content_bytes(const struct ins *in); /* bytes handed out */

void ins_close(struct ins *in);

#endif
