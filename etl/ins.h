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
