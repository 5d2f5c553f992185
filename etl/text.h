/*
 * text.h - small string helpers shared by the config and the command line.
 *
 * Only what two modules need; nothing here allocates.
 */
#ifndef CRM_TEXT_H
#define CRM_TEXT_H

#include <stddef.h>

/* Levenshtein distance between a and b (bytes), or `cap` + 1 when larger. */
size_t text_edit_distance(const char *a, const char *b, size_t cap);

/*
 * The candidate closest to `word` among the NULL-terminated `candidates`,
 * if it is near enough to be a plausible typo (distance <= 2, and less than
 * half the word's length); NULL otherwise.
 */
const char *text_suggest(const char *word, const char *const *candidates);

#endif
