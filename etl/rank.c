/*
 * rank.c - ranks of 64-bit keys among their distinct values (rank.h).
 *
 * An open-addressing table (linear probing, Fibonacci hashing) numbers the
 * distinct keys in order of first sight; it doubles at half full. The
 * distinct keys are then sorted with sortx's radix sort, so a rank is the
 * key's place in ascending order, whatever order the rows came in.
 */
#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "sortx.h"

#include "banned.h"

#define RANK_EMPTY UINT32_MAX
#define RANK_FIRST_LOG2 7 /* 128 slots to start */

static size_t slot_of(const struct rank *r, uint64_t key)
{
	return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> r->shift);
}

/* An empty table of 2^lg slots, the keys seen so far entered again. */
static int rank_table(struct rank *r, unsigned lg)
{
	size_t slots = (size_t)1 << lg, mask = slots - 1, i, h;

	free(r->slot_key);
	free(r->slot_id);
	r->slot_key = malloc(slots * sizeof(*r->slot_key));
	r->slot_id = malloc(slots * sizeof(*r->slot_id));
	if (!r->slot_key || !r->slot_id)
		return -1;
	for (i = 0; i < slots; i++)
		r->slot_id[i] = RANK_EMPTY;
	r->shift = 64 - lg;
	for (i = 0; i < r->n; i++) {
		for (h = slot_of(r, r->keys[i]); r->slot_id[h] != RANK_EMPTY; h = (h + 1) & mask)
			;
		r->slot_key[h] = r->keys[i];
		r->slot_id[h] = (uint32_t)i;
	}
	return 0;
}

int rank_init(struct rank *r)
{
	memset(r, 0, sizeof(*r));
	r->cap = 64;
	r->keys = malloc(r->cap * sizeof(*r->keys));
	if (r->keys && rank_table(r, RANK_FIRST_LOG2) == 0)
		return 0;
	rank_release(r);
	return -1;
}

void rank_release(struct rank *r)
{
	free(r->slot_key);
	free(r->slot_id);
	free(r->keys);
	memset(r, 0, sizeof(*r));
}

int rank_add(struct rank *r, uint64_t key, uint32_t *id)
{
	size_t mask = ((size_t)1 << (64 - r->shift)) - 1, h;

	for (h = slot_of(r, key); r->slot_id[h] != RANK_EMPTY; h = (h + 1) & mask)
		if (r->slot_key[h] == key) {
			*id = r->slot_id[h];
			return 0;
		}
	if (r->n >= RANK_MAX_KEYS)
		return -1;
	if (r->n == r->cap) {
		uint64_t *nk = realloc(r->keys, 2 * r->cap * sizeof(*nk));

		if (!nk)
			return -1;
		r->keys = nk;
		r->cap *= 2;
	}
	r->slot_key[h] = key;
	r->slot_id[h] = (uint32_t)r->n;
	*id = (uint32_t)r->n;
	r->keys[r->n++] = key;
	/* at half full, twice the slots */
	if (2 * r->n > mask + 1 && rank_table(r, 65 - r->shift))
		return -1;
	return 0;
}

int rank_finish(struct rank *r, uint32_t *ids, size_t m)
{
	size_t k = r->n ? r->n : 1, i;
	uint32_t *ord = malloc(k * sizeof(*ord)), *rank = malloc(k * sizeof(*rank));
	uint64_t *sorted = malloc(k * sizeof(*sorted));
	int rc = -1;

	if (!ord || !rank || !sorted)
		goto out;
	for (i = 0; i < r->n; i++)
		ord[i] = (uint32_t)i;
	if (sortx_by_key(ord, r->n, r->keys, NULL, NULL))
		goto out;
	for (i = 0; i < r->n; i++) {
		rank[ord[i]] = (uint32_t)i;
		sorted[i] = r->keys[ord[i]];
	}
	for (i = 0; i < m; i++)
		ids[i] = rank[ids[i]];
	free(r->keys);
	r->keys = sorted;
	sorted = NULL;
	rc = 0;
out:
	free(ord);
	free(rank);
	free(sorted);
	return rc;
}
