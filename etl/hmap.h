/*
 * hmap.h - a hash map from byte strings to 32-bit values.
 *
 * Open addressing with linear probing over a power-of-two table of slots;
 * keys are copied into an internal arena, so callers may pass borrowed
 * bytes. Used where the pipeline must remember ids: known customers,
 * deduplication, joins in compute. No deletion (not needed: maps die
 * with their stage). Memory: about 16 bytes a slot plus the key bytes.
 *
 * Lifecycle: hmap_init() -> hmap_put/get... -> hmap_release().
 */
#ifndef CRM_HMAP_H
#define CRM_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	uint64_t hash;   /* 0 = empty (real hashes are forced non-zero) */
	uint32_t key;    /* offset of the key in the arena */
	uint32_t value;
};

struct hmap {
	struct hmap_slot *slots; /* owned */
	size_t mask;             /* slots - 1 */
	size_t count;
	unsigned char *arena;    /* owned: key bytes, each preceded by a u16 length */
	size_t arena_len, arena_cap;
};

uint64_t hmap_hash(const void *key, size_t len);

void hmap_init(struct hmap *m);
void hmap_release(struct hmap *m);

/* Value for key, or NULL. The pointer is valid until the next put. */
uint32_t *hmap_get(const struct hmap *m, const void *key, size_t len);

/*
 * Insert or find key (len <= 65535). Returns a pointer to its value, set to
 * `value` if the key is new (*is_new = 1), or NULL when out of memory.
 * `key_off`, if not NULL, receives the key's arena offset (for hmap_key):
 * a stable handle to the stored copy, which makes the map an interner too.
 */
uint32_t *hmap_put(struct hmap *m, const void *key, size_t len, uint32_t value, int *is_new,
		   uint32_t *key_off);

/*
 * Start loading the slot where key would be found, for a lookup soon: a
 * caller with many keys to look up hides the cache misses behind each
 * other. Changes nothing.
 */
void hmap_prefetch(const struct hmap *m, const void *key, size_t len);

/* The key stored at arena offset `off` (see hmap_slot.key) and its length. */
const unsigned char *hmap_key(const struct hmap *m, uint32_t off, size_t *len);

#endif
