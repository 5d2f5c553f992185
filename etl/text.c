/*
 * text.c - edit distance and "did you mean" suggestions (see text.h).
 *
 * Names are short (keys, commands), so the classic dynamic programme is
 * plenty; words longer than 64 bytes are never suggested for.
 */
#include "text.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

#define TEXT_WORD_MAX 64

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * Optimal string alignment: Levenshtein plus swaps of adjacent bytes, so
 * "tiemzone" is one edit from "timezone", as a typist would count it.
 */
size_t text_edit_distance(const char *a, const char *b, size_t cap)
{
	size_t rows[3][TEXT_WORD_MAX + 1];
	size_t *pp = rows[0], *prev = rows[1], *cur = rows[2], *t;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > TEXT_WORD_MAX || lb > TEXT_WORD_MAX)
		return cap + 1;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t v = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]));

			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *text_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	for (; *candidates; candidates++) {
		/* Short names allow one edit, others two. */
		size_t limit = strlen(*candidates) <= 3 ? 1 : 2;
		size_t d = text_edit_distance(word, *candidates, limit);

		if (d <= limit && d < best_d) {
			best = *candidates;
			best_d = d;
		}
	}
	return best;
}

char *text_url_redact(const char *url, char *out, size_t n)
{
	const char *sep = strstr(url, "://");
	size_t len;

	if (n == 0)
		return out;
	if (sep) {
		const char *auth = sep + 3;
		size_t hostlen = strcspn(auth, "/?#");
		const char *at = NULL, *p;

		for (p = auth; p < auth + hostlen; p++)
			if (*p == '@')
				at = p;
		if (at) {
			snprintf(out, n, "%.*s%s", (int)(auth - url), url, at + 1);
			return out;
		}
	}
	len = strlen(url);
	if (len >= n)
		len = n - 1;
	memcpy(out, url, len);
	out[len] = '\0';
	return out;
}
