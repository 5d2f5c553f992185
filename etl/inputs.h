/*
 * inputs.h - what a normalize run reads, written down so the next run can
 * tell whether anything changed, and so every period can name the exact
 * bytes it came from (lineage.h).
 *
 * The description is plain text: the settings that shape period files
 * (timezone, currency, each source's entity, format and mapping) and, for
 * every export file a source's glob finds, its path, size and SHA-256. Two
 * runs over the same inputs give the same text byte for byte, so "nothing
 * changed" is a string comparison; reading a file for its hash costs far
 * less than parsing it. Fetched bodies are not read at all: the fetch
 * stage names them by their SHA-256 already (fetch.h).
 */
#ifndef CRM_INPUTS_H
#define CRM_INPUTS_H

#include <stddef.h>

#include "buf.h"
#include "cfg.h"
#include "err.h"
#include "sha256.h"

/* One export file found, in the order normalize reads a source's files. */
struct inputs_file {
	size_t source;                    /* index in cfg->sources */
	char *path;                       /* owned: the file (a fetched source's stored body) */
	unsigned long long size;          /* bytes of the file as stored */
	char sha256[SHA256_HEX_LEN + 1];  /* of those bytes, lowercase hex; "" until hashed */
	size_t text_at;                   /* where the hash goes in the description, or SIZE_MAX */
};

struct inputs_files {
	struct inputs_file *v;            /* owned */
	size_t n;
};

/*
 * Append the description of cfg's inputs to `out` (initialised by the
 * caller) and, when `files` is not NULL, list the files found in it
 * (release with inputs_files_release, also after a failure).
 *
 * With `hash` 0 (needs `files`), export files on disk are only looked
 * at (their size), not read: their hashes are left to inputs_hash_files,
 * which writes them into the same `out` and `files` (placeholders of
 * INPUTS_UNHASHED until then) or inputs_set_hash. Hashing reads every
 * byte of every export, so a run that will parse them anyway hashes each
 * file as it parses it, in the same read.
 */
int inputs_describe(const struct cfg *cfg, struct buf *out, struct inputs_files *files,
		    int hash, struct crm_err *e);

/* The placeholder byte of a hash not computed yet (SHA256_HEX_LEN of them). */
#define INPUTS_UNHASHED '?'

/*
 * Hash the files inputs_describe left unhashed, in order, filling their
 * entries and their place in `out`. A file whose size changed since it
 * was described is an error (the description would not match the bytes).
 * Touches nothing else.
 */
int inputs_hash_files(struct inputs_files *files, struct buf *out, struct crm_err *e);

/*
 * Whether entry `f` still waits for its hash (inputs_hash_files or
 * inputs_set_hash fill it in).
 */
int inputs_unhashed(const struct inputs_file *f);

/*
 * Give entry `f` of `files` the hash of its bytes computed while they
 * were read for another purpose (normalize parses and hashes each export
 * in one read: ins_open_tapped), filling its place in `out` as
 * inputs_hash_files would. `size` is how many bytes were hashed: another
 * size than the one described is an error, as there.
 */
int inputs_set_hash(struct inputs_files *files, struct buf *out, const struct inputs_file *f,
		    const char hex[SHA256_HEX_LEN + 1], unsigned long long size, struct crm_err *e);

/*
 * Whether `old` (a description written by an earlier run) can equal the
 * unhashed description `now`: the same text, hashes not compared where
 * `now` has none yet. 0 means the inputs certainly changed.
 */
int inputs_may_match(const struct buf *now, const unsigned char *old, size_t len);

void inputs_files_release(struct inputs_files *files);

/* The entry for `path` of source `source`, or NULL. */
const struct inputs_file *inputs_find(const struct inputs_files *files, size_t source,
				      const char *path);

/* Size and SHA-256 (hex) of a file's bytes, read in blocks. */
int inputs_hash_file(const char *path, unsigned long long *size,
		     char hex[SHA256_HEX_LEN + 1], struct crm_err *e);

#endif
