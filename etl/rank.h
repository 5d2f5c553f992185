/*
 * rank.h - ranks of 64-bit keys among their distinct values, without a
 * comparison per key: a hash table numbers each distinct key as it is
 * first seen, then only the distinct keys are sorted and those numbers
 * become ranks (0 = the smallest key).
 *
 * For columns with few distinct values among many rows (model inputs in
 * whole days, (x, T) pairs): one hash probe per row in a table that
 * stays in cache, instead of a sort of all the rows.
 *
 * Lifecycle: rank_init -> rank_add per row -> rank_finish -> read keys[]
 * -> rank_release. Not thread-safe per object; objects are independent.
 */
#ifndef CRM_RANK_H
#define CRM_RANK_H

#include <stddef.h>
#include <stdint.h>

struct rank {
	uint64_t *slot_key;  /* per slot: a key */
	uint32_t *slot_id;   /* per slot: its first-seen number, or RANK_EMPTY */
	unsigned shift;      /* 64 - log2(slots) */
	uint64_t *keys;      /* distinct keys: first-seen order; ascending after rank_finish */
	size_t n, cap;       /* distinct keys, room in keys */
};

/* 0, or -1 when out of memory. */
int rank_init(struct rank *r);
void rank_release(struct rank *r);

/* Numbers are 32-bit, and UINT32_MAX marks an empty slot. */
#define RANK_MAX_KEYS ((size_t)UINT32_MAX - 1)

/*
 * The first-seen number of key in *id (0, 1, ... in order of first sight);
 * -1 when out of memory or when key would be distinct key RANK_MAX_KEYS + 1.
 */
int rank_add(struct rank *r, uint64_t key, uint32_t *id);

/*
 * Sorts keys[0..n) ascending and turns the first-seen numbers ids[0..m)
 * into ranks among them. 0, or -1 when out of memory. No rank_add after.
 */
int rank_finish(struct rank *r, uint32_t *ids, size_t m);

#endif
