/*
 * sortx.h - sorting that C11's qsort cannot do: with a context pointer
 * (thread-safe, no globals), stable, and a radix sort for 64-bit keys.
 *
 * Used for canonical row order in period files and for dictionaries.
 * Memory: sortx_indexes one scratch array of n indexes per call;
 * sortx_by_key two of n (key, index) pairs, 16 bytes per row.
 */
#ifndef CRM_SORTX_H
#define CRM_SORTX_H

#include <stddef.h>
#include <stdint.h>

/* Comparison of items a and b (indexes into the caller's data). */
typedef int (*sortx_cmp)(uint32_t a, uint32_t b, const void *ctx);

/* Stable merge sort of the index array idx[n]; 0, or -1 when out of memory. */
int sortx_indexes(uint32_t *idx, size_t n, sortx_cmp cmp, const void *ctx);

/*
 * Stable LSD radix sort of idx[n] by keys[idx[i]] (unsigned 64-bit), then
 * each run of equal keys by `cmp` when it is not NULL. 0, or -1 when out
 * of memory.
 */
int sortx_by_key(uint32_t *idx, size_t n, const uint64_t *keys, sortx_cmp cmp,
		 const void *ctx);

/*
 * Stable LSD radix sort of v[n] by bits 32..63 (the key; callers keep a
 * row number or payload in the low half), one counting pass per byte that
 * differs. tmp is scratch of n values, or NULL to allocate it. 0, or -1
 * when out of memory.
 */
int sortx_high32(uint64_t *v, uint64_t *tmp, size_t n);

#endif
