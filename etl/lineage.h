/*
 * lineage.h - the lineage record of a period: <data_dir>/periods/P.lineage.
 *
 * Written by normalize beside every period file it writes or checks; read
 * by the report stage (data-quality appendix) and copied by verify. It
 * says which export files fed period P (source, entity, path or redacted
 * URL, SHA-256 and size of the file's bytes, whole-file rows read and
 * rejected, rows kept in P), and every restatement of P (old and new row
 * counts and totals per table), history carried over from the previous
 * record. The text format is specified in docs/period-format.md
 * ("Lineage records"); this module owns it and nothing else.
 *
 * Invariants: the same lineage gives the same bytes (lineage_format);
 * restatements are numbered 1, 2, ... in the order they happened, and all
 * lines of one restatement share its number and time.
 *
 * Lifecycle: fill a struct lineage (arrays from malloc, or from
 * lineage_read) -> lineage_write / lineage_format -> lineage_release.
 */
#ifndef CRM_LINEAGE_H
#define CRM_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "sha256.h"

#define LINEAGE_VERSION 1
#define LINEAGE_MAX_BYTES ((size_t)16 << 20) /* a bigger record is damaged */
#define LINEAGE_TIME_LEN 20                  /* "2026-11-24T21:40:00Z" */

/* One export file that fed the period. Strings: borrowed, or into lineage.text. */
struct lineage_file {
	const char *source;    /* [source.NAME] of the configuration */
	const char *entity;    /* customers, orders, ... */
	const char *location;  /* file path, or the URL without credentials */
	char sha256[SHA256_HEX_LEN + 1];  /* of the file's bytes as stored (gzip stays gzip) */
	uint64_t bytes;        /* size of the file, bytes */
	uint64_t rows_read;    /* records in the whole file, good and bad */
	uint64_t rows_rejected;/* of those, sent to quarantine */
	const char *table;     /* table its kept rows went to */
	uint64_t kept;         /* rows of this file kept in the period (customers: signups in it) */
};

/* One table of one restatement. */
struct lineage_change {
	uint32_t seq;          /* restatement number, 1 for the first */
	char when[LINEAGE_TIME_LEN + 1];  /* UTC time of the run that restated */
	const char *table;
	uint64_t old_rows, new_rows;
	int has_total;         /* the table has a money column */
	int64_t old_total, new_total;  /* sum of its first money column, 1/10000 units */
};

struct lineage {
	int period;            /* months since year 0 (period.h) */
	struct lineage_file *files;     /* malloc'ed array, owned */
	size_t n_files;
	struct lineage_change *changes; /* malloc'ed array, owned */
	size_t n_changes;
	char *text;            /* NULL or owned: what lineage_read's strings point into */
};

/* Release what a lineage owns (arrays and text, not borrowed strings); NULL is fine. */
void lineage_release(struct lineage *l);

/* Append a file or a change (the array grows); 0 or CRM_E_NOMEM. */
int lineage_add_file(struct lineage *l, const struct lineage_file *f, struct crm_err *e);
int lineage_add_change(struct lineage *l, const struct lineage_change *c, struct crm_err *e);

/* The next restatement number: one past the last one recorded. */
uint32_t lineage_next_seq(const struct lineage *l);

/* Append the canonical text of `l` to out; 0, or CRM_E_NOMEM (ceiling). */
int lineage_format(const struct lineage *l, struct buf *out, struct crm_err *e);

/*
 * Write `l` to path atomically, leaving the file alone when it already
 * holds the same bytes (*changed = 0; 1 when written; changed may be NULL).
 */
int lineage_write(const char *path, const struct lineage *l, int *changed, struct crm_err *e);

/*
 * Parse `len` bytes of lineage text (`where` names it in errors) into
 * *out, which owns a copy of the text afterwards. Every line is checked;
 * errors are CRM_E_CORRUPT with the line number, e.g. "bad sha256
 * 'xyz'"; an unknown version is CRM_E_CORRUPT too. On error *out is empty.
 */
int lineage_parse(const char *text, size_t len, const char *where, struct lineage *out,
		  struct crm_err *e);

/* Read and parse a file; CRM_E_INPUT if it does not exist. */
int lineage_read(const char *path, struct lineage *out, struct crm_err *e);

#endif
