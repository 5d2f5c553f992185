/*
 * text.h - small string helpers shared by the config and the command line.
 *
 * Only what two modules need; nothing here allocates.
 */
#ifndef CRM_TEXT_H
#define CRM_TEXT_H

#include <stddef.h>

/*
 * Edit distance between a and b (bytes: insertions, deletions,
 * substitutions and swaps of neighbours), or `cap` + 1 when larger.
 */
size_t text_edit_distance(const char *a, const char *b, size_t cap);

/*
 * The candidate closest to `word` among the NULL-terminated `candidates`,
 * if near enough to be a plausible typo (one edit for candidates of up to
 * three bytes, two for longer ones); NULL otherwise.
 */
const char *text_suggest(const char *word, const char *const *candidates);

/*
 * `url` without its user and password ("https://u:p@h/x" -> "https://h/x"),
 * for logs and messages; written into out (n bytes), which is returned.
 */
char *text_url_redact(const char *url, char *out, size_t n);

#endif
