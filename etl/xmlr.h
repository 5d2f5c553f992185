/*
 * xmlr.h - a safe streaming reader of XML exports, one record at a time.
 *
 * An XML export is one element per record, its fields given as attributes
 * or as child elements (EXPORTS.md, "XML form"):
 *
 *     <export entity="orders">
 *       <order order_id="o-1" amount="129.90"/>
 *       <order><order_id>o-2</order_id><amount> 15.00 </amount></order>
 *     </export>
 *
 * The reader splits text; it never converts or validates values (the
 * normalizer does). It pulls bytes through an input stream (struct ins, so
 * plain and gzip files read the same) into libxml2's xmlTextReader, and
 * hands out each record as the values of the fields it was asked for
 * (struct rec), exactly like the CSV reader (csvr.h).
 *
 * Invariants
 * - Streaming: libxml2 frees each record's nodes once read; memory is the
 *   parser's look-ahead (a few KB, plus at most one text node of up to
 *   10 MB, libxml2's own limit without XML_PARSE_HUGE) and one value
 *   buffer of at most n * (max_value + 1) bytes: bounded whatever the size
 *   of the file.
 * - Values are NUL-terminated UTF-8 (libxml2 converts declared encodings
 *   such as ISO-8859-1), never contain NUL, and are borrowed: valid until
 *   the next xmlr_next() or xmlr_free().
 * - rec->line is the 1-based line of the '<' that opens the record's start
 *   tag, counting LF bytes (what `sed -n Np` shows), also past line 65535.
 *   Lines never go backwards.
 * - The same bytes give the same records whether gzip-compressed or not.
 *
 * What is read
 * - A record is an element named exactly opts->record (the qualified name
 *   as written, prefix included, case-sensitive), wherever it is outside
 *   another record. Everything else outside records (the root <export>,
 *   wrapper elements, text, comments, PIs) is skipped.
 * - A field names[i] is an attribute of the record element or a direct child
 *   element <names[i]>text</names[i]> of it. Child text is the concatenation
 *   of its text and CDATA pieces with the predefined entities (&amp; &lt;
 *   &gt; &quot; &apos;) and character references (&#233; &#xE9;) resolved,
 *   then with XML whitespace (space, tab, CR, LF) trimmed at both ends.
 *   Attribute values are not trimmed (beyond XML's own attribute-value
 *   normalization, which turns tab/CR/LF into spaces).
 * - <amount/>, <amount></amount>, <amount>  </amount> and amount="" give a
 *   value of len 0; a field given nowhere has val NULL (both are "missing").
 * - Unknown attributes and children (and anything inside them, and text or
 *   attributes of field elements) are ignored. Names NULL or "" never match;
 *   a name wanted twice (two fields mapped to one element) gets the same
 *   value at both positions.
 *
 * Bad records (returned with rec->bad = 1, rec->reason, every val NULL;
 * reading goes on after the record's end tag). The first fault met wins:
 *
 *   reason                                     when
 *   "field 'F' given twice"                    attribute and child, or two
 *                                              children of the same name
 *   "field 'F' longer than N bytes"            value (after trimming) over
 *                                              max_value
 *   "element 'E' inside field 'F'"             a field with element content
 *   "record element 'R' inside a record"       nested records, at any depth
 *
 * Fatal errors (xmlr_next returns < 0, e filled with where = ins_name(in),
 * line, message; every later call returns the same code):
 *
 *   CRM_E_INPUT "malformed XML: <libxml2's message>"   not well-formed
 *                                          (line = where libxml2 noticed)
 *   CRM_E_INPUT "DTDs are not allowed"     any <!DOCTYPE ...> (in UTF-16/32
 *                                          libxml2 may stop first with its
 *                                          own "malformed XML: ..." error)
 *   CRM_E_INPUT "elements nested deeper than N levels"   (N = max_depth;
 *                                          fatal rather than a bad record
 *                                          so the limit really bounds work)
 *   CRM_E_INPUT "no root element in the first N bytes"   (N = 1 MiB: the
 *                                          prolog is held in memory)
 *   any code of a failed ins_read (CRM_E_IO, damaged gzip's CRM_E_INPUT):
 *                                          propagated, with the stream's
 *                                          own message in its crm_err
 *   CRM_E_NOMEM                            allocation failure
 *
 * libxml2 parses a little ahead of the records handed out, so after a fatal
 * error the records just before it may not have been returned: a caller
 * treats the whole file as failed.
 *
 * Safety (the files come from outside)
 * - No network (XML_PARSE_NONET), no entity substitution (no XML_PARSE_NOENT),
 *   no external DTD or entity loading, no validation, no XInclude, libxml2's
 *   default size limits kept (no XML_PARSE_HUGE).
 * - A DOCTYPE is rejected outright, so no entity is ever declared: "billion
 *   laughs" and external entities (file://, http://) fail before expansion
 *   or loading. In ASCII-compatible encodings (UTF-8, ISO-8859-x, ...) the
 *   byte scanner that counts lines sees "<!D" and stops the input before
 *   libxml2 parses a DTD at all; in UTF-16/32 libxml2 parses the DTD (never
 *   expanding or loading an entity) and the DOCTYPE node is rejected.
 * - libxml2's messages never reach stderr: the reader's structured handler
 *   gets them, and while xmlr_open/xmlr_next run the thread's structured
 *   and generic handlers point at the reader too (some encoding and I/O
 *   errors have no parser context); the previous handlers are put back
 *   before returning. (libxml2 >= 2.12: only the reader's handler.)
 * - Nesting is limited to max_depth; values to max_value.
 *
 * Limits
 * - UTF-16/UTF-32 documents (recognised by their first bytes) are read, but
 *   rec->line is then libxml2's line of the end of the start tag, stuck at
 *   65535 past that line. Stateful 7-bit encodings (UTF-7, ISO-2022-*) are
 *   not supported: lines may be wrong and their text could look like a DTD.
 * - libxml2 caps nesting at 256 by itself, hence XMLR_LIMIT_DEPTH.
 * - xmlr never calls xmlCleanupParser (the program does at exit); it calls
 *   xmlInitParser, which is idempotent.
 *
 * Lifecycle
 *   xmlr_open() -> xmlr_next()... until 0 or < 0 -> xmlr_free();
 *   then the caller closes the input stream (borrowed by the reader).
 */
#ifndef CRM_XMLR_H
#define CRM_XMLR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ins.h"
#include "rec.h"

#define XMLR_DEFAULT_DEPTH 64                  /* max_depth when 0 */
#define XMLR_DEFAULT_VALUE (64u * 1024)        /* max_value when 0 */
#define XMLR_LIMIT_DEPTH 256                   /* largest max_depth */
#define XMLR_LIMIT_VALUE (16u * 1024 * 1024)   /* largest max_value */
#define XMLR_PROLOG_MAX (1024u * 1024)         /* bytes before the root */

struct xmlr_opts {
	const char *record; /* record element name, e.g. "order" (required;
			     * borrowed for the call only) */
	size_t max_depth;   /* element nesting, the root counting 1;
			     * XMLR_DEFAULT_DEPTH when 0, at most
			     * XMLR_LIMIT_DEPTH */
	size_t max_value;   /* bytes of one value (after trimming),
			     * XMLR_DEFAULT_VALUE when 0, at most
			     * XMLR_LIMIT_VALUE */
};

struct xmlr;

/*
 * Start reading `in` (borrowed: the caller closes it after xmlr_free)
 * through xmlReaderForIO. `names` (n <= REC_MAX_FIELDS field names, in
 * canonical-field order; copied, need not outlive the call) are the fields
 * wanted: rec->val[i] is the value of names[i].
 *
 * Errors (*out stays NULL): CRM_E_CONFIG for a missing record name or
 * limits out of range; CRM_E_INTERNAL for n > REC_MAX_FIELDS or NULL
 * arguments; CRM_E_NOMEM. Problems of the input itself (even in its first
 * bytes, which libxml2 reads here) are reported by xmlr_next.
 */
int xmlr_open(struct ins *in, const struct xmlr_opts *opts,
	      const char *const *names, size_t n, struct xmlr **out,
	      struct crm_err *e);

/*
 * Next record. Returns 1 and fills *rec: rec->val[i]/len[i] for names[i]
 * (i < n; entries from n to REC_MAX_FIELDS are NULL/0), rec->line, and for a
 * bad record rec->bad = 1 with rec->reason (borrowed, valid until the next
 * call) and all val NULL. Returns 0 at the end of the document (and again
 * on later calls), or a negative CRM_E_* (see "Fatal errors") with `e`
 * filled unless it already holds an error.
 */
int xmlr_next(struct xmlr *r, struct rec *rec, struct crm_err *e);

/* Records returned so far by xmlr_next, good and bad. */
uint64_t xmlr_records(const struct xmlr *r);

/* Free the reader (not the input stream). Accepts NULL. */
void xmlr_free(struct xmlr *r);

#endif
