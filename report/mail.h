/*
 * mail.h - deliver the report of a period to every distribution list.
 *
 * Invariants:
 * - A report is mailed once per (period, template, lang, recipients, segment): before
 *   sending, the ledger entry (message id, time, sha256 of the PDF and of the
 *   metrics file) and an archive copy of exactly the bytes sent are written
 *   as <data_dir>/sent/KEY.sent.pending and KEY.pdf.pending; when the server
 *   accepts they are renamed to KEY.sent and KEY.pdf (a kill between the
 *   acceptance and the renames, a window of microseconds, is the one case
 *   in which the next run sends a second copy, same Message-ID). A re-run finds
 *   the entry and skips the list, unless the period's metrics changed since
 *   (a restatement: sent again, "restated" in the subject and the body) or
 *   force is set.
 * - A failed delivery leaves nothing new in sent/ (the pending files are
 *   removed, an entry a re-send would have replaced is put back) and keeps
 *   the report; the next run tries again.
 * - Secrets (user, password) are resolved only for the transfer, wiped
 *   after it, and never logged.
 *
 * KEY is "P-TEMPLATE-LANG-H" where H is 16 hex digits of the sha256 of the
 * recipient addresses, lowercased and sorted (so the order in the config does
 * not matter), and of the list's segment when it has one.
 *
 * Lifecycle: mail_deliver() does everything for one period. The other
 * functions are the pure pieces it is made of, exposed for the unit tests.
 */
#ifndef CRM_MAIL_H
#define CRM_MAIL_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct cfg;
struct cfg_mail;
struct buf;

#define MAIL_KEY_MAX 128          /* ledger key with its NUL */
#define MAIL_PDF_MAX (64u << 20)  /* largest report attached, bytes */
#define MAIL_RETRIES 4            /* further attempts after a transient failure */
#define MAIL_BACKOFF_MS 2000      /* first backoff (CRMETL_MAIL_BACKOFF_MS overrides) */
#define MAIL_BACKOFF_MAX_MS 60000

struct mail_opts {
	int dry_run;  /* write <data_dir>/outbox/KEY.eml instead of sending; ledger untouched */
	int force;    /* send even if the ledger says it was sent */
	int resend;   /* send the archived sent/KEY.pdf again, never re-render */
	time_t now;   /* the Date header and ledger time; 0 = time(NULL) */
};

struct mail_stats {
	int sent;     /* messages delivered */
	int skipped;  /* lists already served */
	int written;  /* .eml files written (dry run) */
};

/*
 * Mail the report of `period` to every list of cfg->mails (none: nothing to
 * do). The report <data_dir>/reports/P-TEMPLATE-LANG.pdf is rendered with
 * rep_publish() unless it is there and nothing it reads changed since it was
 * rendered (rep_report_fresh; not with
 * resend). Lists are served in order; a list whose delivery fails (after
 * MAIL_RETRIES retries of transient failures) does not stop the others, and
 * the first such failure is returned: CRM_E_MAIL naming the list, the URL
 * (without credentials) and the SMTP code (e->status) or curl error. Any
 * other error (missing metrics, disk) stops at once.
 */
int mail_deliver(const struct cfg *cfg, int period, const struct mail_opts *o,
		 struct mail_stats *st, struct crm_err *e);

/* ---- the pieces (unit tests) ---- */

/* Append base64 of `len` bytes in lines of 76 characters ending in CRLF. */
int mail_base64(struct buf *b, const void *data, size_t len);

/*
 * Append a header "Name: value" and CRLF. A value with non-ASCII bytes
 * becomes RFC 2047 encoded-words (=?UTF-8?B?...?=, never splitting a
 * UTF-8 sequence), folded so no line passes 76 characters.
 */
int mail_header(struct buf *b, const char *name, const char *value);

/*
 * Expand a subject template: {title} {period} {lang}; any other {...} is
 * copied as is. `restated` appends " (restated)". Returns 0, or -1 when it
 * does not fit in `n` bytes or holds a line break.
 */
int mail_subject(const char *tpl, const char *title, const char *period, const char *lang,
		 int restated, char *out, size_t n);

/* The ledger key "P-TEMPLATE-LANG-H" (see above) into out[MAIL_KEY_MAX]. */
int mail_ledger_key(const char *period, const char *tpl, const char *lang,
		    char *const *to, size_t n_to, char *out);

/*
 * The same for a list with a segment ("region=East", or NULL for none: then
 * the key is mail_ledger_key's). The segment goes into H, so two lists that
 * send the same template and language to the same people, each filtered
 * to its own segment, are two deliveries.
 */
int mail_list_key(const char *period, const char *tpl, const char *lang, const char *segment,
		  char *const *to, size_t n_to, char *out);

/*
 * "<H.crmetl@DOMAIN>": H is hex of sha256 over the key and the PDF's sha256,
 * DOMAIN the domain of `from` (or "localhost"). Same inputs, same id.
 */
int mail_message_id(const char *key, const char *pdf_sha, const char *from, char *out, size_t n);

/* RFC 5322 date in UTC, e.g. "Tue, 24 Nov 2026 20:22:26 +0000". */
int mail_date(time_t t, char *out, size_t n);

/*
 * 1 when the host of an smtp(s):// URL (without userinfo) is this machine:
 * "localhost", an IPv4 address in 127.0.0.0/8, or the IPv6 loopback ::1,
 * written as addresses (inet_pton), not names that merely look like them.
 */
int mail_url_loopback(const char *url);

#endif
