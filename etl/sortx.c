/*
 * sortx.c - context-passing merge sort and 64-bit radix sort (see sortx.h).
 *
 * Why not qsort: it takes no context (the comparator would need a global,
 * which two threads cannot share) and it is not stable. Why radix: rows are
 * ordered by a time first, and eight byte-wide counting passes over
 * 100,000s of keys beat n log n comparator calls by a wide margin; passes
 * whose byte is the same for every key are skipped.
 */
#include "sortx.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static void merge_pass(const uint32_t *src, uint32_t *dst, size_t n, size_t width,
		       sortx_cmp cmp, const void *ctx)
{
	size_t lo;

	for (lo = 0; lo < n; lo += 2 * width) {
		size_t mid = lo + width < n ? lo + width : n;
		size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
		size_t i = lo, j = mid, k = lo;

		while (i < mid && j < hi)
			dst[k++] = cmp(src[j], src[i], ctx) < 0 ? src[j++] : src[i++];
		while (i < mid)
			dst[k++] = src[i++];
		while (j < hi)
			dst[k++] = src[j++];
	}
}

static void insertion(uint32_t *idx, size_t n, sortx_cmp cmp, const void *ctx)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		uint32_t v = idx[i];

		for (j = i; j > 0 && cmp(v, idx[j - 1], ctx) < 0; j--)
			idx[j] = idx[j - 1];
		idx[j] = v;
	}
}

int sortx_indexes(uint32_t *idx, size_t n, sortx_cmp cmp, const void *ctx)
{
	uint32_t *tmp, *src = idx, *dst;
	size_t width, i;

	if (n <= 16) {
		insertion(idx, n, cmp, ctx);
		return 0;
	}
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -1;
	/* Runs of 16 by insertion, then merges bottom-up. */
	for (i = 0; i < n; i += 16)
		insertion(idx + i, n - i < 16 ? n - i : 16, cmp, ctx);
	dst = tmp;
	for (width = 16; width < n; width *= 2) {
		uint32_t *t;

		merge_pass(src, dst, n, width, cmp, ctx);
		t = src;
		src = dst;
		dst = t;
	}
	if (src != idx)
		memcpy(idx, src, n * sizeof(*idx));
	free(tmp);
	return 0;
}

/* A 32-bit key and its index, moved together so the passes read memory in order. */
struct kv {
	uint32_t key, idx;
};

/*
 * Stable LSD radix sort of a[0..n) by key (b is scratch of n): one
 * counting pass per byte that differs among the keys; the histograms of
 * all four bytes come from one read. Returns the array holding the result.
 */
static struct kv *radix_pairs(struct kv *a, struct kv *b, size_t n, uint32_t differ)
{
	size_t count[4][256], i;
	int pass;

	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
		for (pass = 0; pass < 4; pass++)
			count[pass][(a[i].key >> (pass * 8)) & 0xff]++;
	for (pass = 0; pass < 4; pass++) {
		unsigned shift = (unsigned)pass * 8;
		size_t sum = 0, c, k;
		struct kv *t;

		if (((differ >> shift) & 0xff) == 0)
			continue; /* every key has the same byte here */
		for (k = 0; k < 256; k++) {
			c = count[pass][k];
			count[pass][k] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			b[count[pass][(a[i].key >> shift) & 0xff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	return a;
}

/*
 * Keys minus the smallest keep their order. Most key sets span less than
 * 2^32 (days, counts, ranks, money of a customer) and take one 32-bit
 * sort of 8-byte pairs; wider ones a sort by the low half, then a stable
 * one by the high half.
 */
int sortx_by_key(uint32_t *idx, size_t n, const uint64_t *keys, sortx_cmp cmp,
		 const void *ctx)
{
	struct kv *a = malloc((n ? n : 1) * sizeof(*a)), *b = malloc((n ? n : 1) * sizeof(*b));
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t i, start;
	int half;

	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	for (i = 0; i < n; i++) {
		lo = keys[idx[i]] < lo ? keys[idx[i]] : lo;
		hi = keys[idx[i]] > hi ? keys[idx[i]] : hi;
	}
	for (half = 0; half < 2 && (half == 0 || (hi - lo) >> 32); half++) {
		uint32_t all_or = 0, all_and = UINT32_MAX;
		struct kv *r;

		for (i = 0; i < n; i++) {
			a[i].key = (uint32_t)((keys[idx[i]] - lo) >> (half * 32));
			a[i].idx = idx[i];
			all_or |= a[i].key;
			all_and &= a[i].key;
		}
		r = radix_pairs(a, b, n, all_or ^ all_and);
		for (i = 0; i < n; i++)
			idx[i] = r[i].idx;
	}
	free(a);
	free(b);
	if (!cmp)
		return 0;
	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && keys[idx[i]] == keys[idx[start]]; i++)
			;
		if (i - start > 1 && sortx_indexes(idx + start, i - start, cmp, ctx))
			return -1;
	}
	return 0;
}

int sortx_high32(uint64_t *v, uint64_t *tmp, size_t n)
{
	uint64_t *own = tmp ? NULL : malloc((n ? n : 1) * sizeof(*own));
	uint64_t *src = v, *dst = tmp ? tmp : own, *t;
	size_t (*count)[256] = calloc(4, sizeof(*count));
	size_t i, b, sum;

	if (!dst || !count) {
		free(own);
		free(count);
		return -1;
	}
	/* the histograms of all four bytes from one read */
	for (i = 0; i < n; i++)
		for (b = 0; b < 4; b++)
			count[b][(v[i] >> (32 + 8 * b)) & 0xff]++;
	for (b = 0; b < 4 && n; b++) {
		unsigned shift = (unsigned)(32 + 8 * b);

		if (count[b][(v[0] >> shift) & 0xff] == n)
			continue; /* every key has the same byte here */
		for (i = 0, sum = 0; i < 256; i++) {
			size_t k = count[b][i];

			count[b][i] = sum;
			sum += k;
		}
		for (i = 0; i < n; i++)
			dst[count[b][(src[i] >> shift) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(own);
	free(count);
	return 0;
}
