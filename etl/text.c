/*
 * text.c - edit distance and "did you mean" suggestions (see text.h).
 *
 * Names are short (keys, commands), so the classic two-row dynamic
 * programme is plenty; words longer than 64 bytes are never suggested for.
 */
#include "text.h"

#include <string.h>

#include "banned.h"

#define TEXT_WORD_MAX 64

size_t text_edit_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t prev[TEXT_WORD_MAX + 1], cur[TEXT_WORD_MAX + 1];

	if (la > TEXT_WORD_MAX || lb > TEXT_WORD_MAX)
		return cap + 1;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		size_t row_min;

		cur[0] = i;
		row_min = cur[0];
		for (j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? sub : del;
			if (ins < cur[j])
				cur[j] = ins;
			if (cur[j] < row_min)
				row_min = cur[j];
		}
		if (row_min > cap)
			return cap + 1;
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *text_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = 3, len = strlen(word);

	for (; *candidates; candidates++) {
		size_t d = text_edit_distance(word, *candidates, 2);

		if (d < best_d && 2 * d <= len) {
			best = *candidates;
			best_d = d;
		}
	}
	return best;
}
