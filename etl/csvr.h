/*
 * csvr.h - a streaming RFC 4180 CSV reader for CRM exports.
 *
 * The reader splits text; it never converts or validates values (the
 * normalizer does). It pulls bytes through an input stream (struct ins, so
 * plain and gzip files read the same), keeps one buffer, and hands out each
 * record as the values of the columns it was asked for (struct rec).
 *
 * Invariants
 * - Memory is one buffer of at most max_record + block_size + 67 bytes
 *   (2 MiB + 67 with the defaults) plus at most 24 bytes per header column:
 *   bounded whatever the file size or its line lengths.
 * - Values point into that buffer (no copy for unquoted fields; quoted fields
 *   are unescaped in place) and are NUL-terminated. They are borrowed: valid
 *   until the next csvr_next() or csvr_free().
 * - rec->line is the 1-based physical line where a record starts; lines are
 *   counted by LF bytes, including LFs inside quoted fields, so they match
 *   what `sed -n Np` shows. They strictly increase from record to record.
 * - The same bytes give the same records whatever the block size and
 *   whether the file was gzip-compressed. (Only where a damaged gzip stream
 *   is noticed depends on the block size: records before it are the same.)
 *
 * Lexical rules (RFC 4180, plus what real exports do)
 * - Records end at LF or CRLF outside quotes; a last line without a line end
 *   is still a record. A CR not followed by LF is an ordinary byte (kept),
 *   except a CR that is the very last byte of the input, which ends the line.
 *   Inside quotes CR and LF are kept as they are.
 * - A field starting with '"' is quoted: it ends at the next lone '"'; a
 *   doubled "" inside stands for one '"'. Spaces are never trimmed: ` "a"`
 *   is an unquoted field containing a quote (malformed, see below).
 * - Blank lines (a line end alone, LF or CRLF) are skipped everywhere, also
 *   before the header and in a one-column file; `""` alone on a line is a
 *   record with one empty field.
 * - A UTF-8 BOM (EF BB BF) at the very start of the input is skipped.
 * - An empty field has len 0 (quoted or not); a column missing from the
 *   header has val NULL. Both mean "missing" to the normalizer.
 * - Values may contain any byte, NUL included: use len, not strlen.
 *
 * Malformed records are not errors: csvr_next() returns them with rec->bad
 * set, rec->reason saying why, and every val NULL; reading goes on.
 *
 *   reason                              resync (next record starts)
 *   "expected N fields, found M"        after the record's line end
 *   "quote inside unquoted field"       after the line end (the stray quote
 *                                       is data: it opens no quoted field)
 *   "text after closing quote"          after the line end (rest of the
 *                                       field read as unquoted text)
 *   "field longer than N bytes"         after the line end (N = max_field,
 *                                       counted after unescaping)
 *   "unterminated quoted field"         at end of input (nothing follows)
 *   "record longer than N bytes"        after the first LF found at or past
 *                                       byte N of the record, quotes
 *                                       ignored (N = max_record)
 *
 * When a record has several faults the over-long one wins, then the first
 * fault met from left to right, then a wrong field count. A record's length
 * counts its bytes (quotes and delimiters included) up to, not including,
 * its line end. A stray '"' opening a field pairs with the next quote in the
 * file, so the lines in between read as one record, usually bad; if no
 * quote closes it within max_record bytes the record is over-long, and
 * reading resumes at the next LF past that point.
 *
 * Header
 * - The first non-blank record. Column names are matched exactly as written
 *   (after unescaping; no trimming, case-sensitive). Empty names never match
 *   and may repeat; any other repeated name is an error. A wanted name that
 *   is NULL, empty or absent from the header gets column -1.
 *
 * Lifecycle
 *   csvr_open() -> csvr_next()... until 0 or < 0 -> csvr_free();
 *   then the caller closes the input stream (borrowed by the reader).
 *   After csvr_next() returned < 0 every later call returns the same code.
 */
#ifndef CRM_CSVR_H
#define CRM_CSVR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ins.h"
#include "rec.h"

#define CSVR_DEFAULT_FIELD (64u * 1024)          /* max_field when 0 */
#define CSVR_DEFAULT_RECORD (1024u * 1024)       /* max_record when 0 */
#define CSVR_DEFAULT_BLOCK (1024u * 1024)        /* block_size when 0 */
#define CSVR_LIMIT_RECORD (1024u * 1024 * 1024)  /* largest max_record */
#define CSVR_LIMIT_BLOCK (64u * 1024 * 1024)     /* largest block_size */

struct csvr_opts {
	char delimiter;     /* field separator, ',' when 0; not '"', CR or LF */
	size_t max_field;   /* bytes of one value, CSVR_DEFAULT_FIELD when 0 */
	size_t max_record;  /* bytes of one record, CSVR_DEFAULT_RECORD when 0,
			     * at most CSVR_LIMIT_RECORD */
	size_t block_size;  /* bytes asked of ins_read per refill,
			     * CSVR_DEFAULT_BLOCK when 0, at most CSVR_LIMIT_BLOCK;
			     * tests use tiny values to move block edges (slow:
			     * a record cut by a block edge is scanned again) */
};

struct csvr;

/*
 * Read the header row from `in` (borrowed: the caller closes it after
 * csvr_free) and resolve `names` (n <= REC_MAX_FIELDS export column names,
 * in canonical-field order; copied, need not outlive the call) to column
 * positions. `opts` may be NULL (all defaults). A name absent from the
 * header is not an error: csvr_column() returns -1 for it.
 *
 * Errors (*out stays NULL): CRM_E_INPUT for an input without a header row
 * ("no header row"), a malformed header ("malformed header: <reason>"), or a
 * repeated column name (field = the name), each with where = ins_name(in)
 * and the header's line; CRM_E_CONFIG for invalid options; CRM_E_INTERNAL
 * for n > REC_MAX_FIELDS; CRM_E_NOMEM; any read error of `in`.
 */
int csvr_open(struct ins *in, const struct csvr_opts *opts,
	      const char *const *names, size_t n, struct csvr **out,
	      struct crm_err *e);

/* Column index (0-based) of names[i] in the header, or -1 (also for i >= n). */
int csvr_column(const struct csvr *r, size_t i);

/* Number of columns of the header: every good record has exactly this many. */
size_t csvr_n_columns(const struct csvr *r);

/*
 * Next record. Returns 1 and fills *rec: rec->val[i]/len[i] for names[i]
 * (i < n; entries from n to REC_MAX_FIELDS are NULL/0), rec->line, and for a
 * malformed record rec->bad = 1 with rec->reason (borrowed, valid until the
 * next call) and all val NULL. Returns 0 at the end of input (and again on
 * later calls), or a negative CRM_E_* on a read or decompression error, with
 * `e` filled (where = input name, line = where reading stopped).
 */
int csvr_next(struct csvr *r, struct rec *rec, struct crm_err *e);

/* Records returned so far by csvr_next, good and bad (blank lines excluded). */
uint64_t csvr_records(const struct csvr *r);

/* Free the reader (not the input stream). Accepts NULL. */
void csvr_free(struct csvr *r);

#endif
