/*
 * hmap.c - byte-string hash map (see hmap.h).
 *
 * The hash takes eight bytes a step (a multiply and a shift each), then
 * a finalizer that mixes the high bits down because the table index takes
 * the low bits. Byte-at-a-time FNV-1a took five times as long on 30-byte
 * ids, and with text ids hashing was a third of the lookups' cost. Keys
 * are ids from CRM exports, not adversarial inputs to a server: a bad
 * distribution costs time, never correctness, and nothing written depends
 * on the hash values.
 */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define MIX 0xbf58476d1ce4e5b9ull

uint64_t hmap_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len * MIX, w;
	size_t i;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * MIX;
		h ^= h >> 29;
	}
	if (len) {
		for (w = 0, i = 0; i < len; i++)
			w |= (uint64_t)p[i] << 8 * i;
		h = (h ^ w) * MIX;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h ? h : 1;
}

void hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void hmap_release(struct hmap *m)
{
	free(m->slots);
	free(m->arena);
	memset(m, 0, sizeof(*m));
}

const unsigned char *hmap_key(const struct hmap *m, uint32_t off, size_t *len)
{
	const unsigned char *p = m->arena + off;

	*len = (size_t)p[0] | (size_t)p[1] << 8;
	return p + 2;
}

static int key_equal(const struct hmap *m, const struct hmap_slot *s, const void *key, size_t len)
{
	size_t klen;
	const unsigned char *k = hmap_key(m, s->key, &klen);

	return klen == len && memcmp(k, key, len) == 0;
}

uint32_t *hmap_get(const struct hmap *m, const void *key, size_t len)
{
	uint64_t h;
	size_t i;

	if (!m->slots)
		return NULL;
	h = hmap_hash(key, len);
	for (i = h & m->mask; m->slots[i].hash; i = (i + 1) & m->mask)
		if (m->slots[i].hash == h && key_equal(m, &m->slots[i], key, len))
			return &m->slots[i].value;
	return NULL;
}

void hmap_prefetch(const struct hmap *m, const void *key, size_t len)
{
	if (m->slots)
		__builtin_prefetch(&m->slots[hmap_hash(key, len) & m->mask]);
}

static int grow(struct hmap *m)
{
	size_t n = m->slots ? (m->mask + 1) * 2 : 1024, i;
	struct hmap_slot *s = calloc(n, sizeof(*s));

	if (!s)
		return -1;
	for (i = 0; m->slots && i <= m->mask; i++) {
		size_t j;

		if (!m->slots[i].hash)
			continue;
		for (j = m->slots[i].hash & (n - 1); s[j].hash; j = (j + 1) & (n - 1))
			;
		s[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->mask = n - 1;
	return 0;
}

static int arena_add(struct hmap *m, const void *key, size_t len, uint32_t *off)
{
	if (m->arena_len + len + 2 > UINT32_MAX)
		return -1;
	if (m->arena_len + len + 2 > m->arena_cap) {
		size_t cap = m->arena_cap ? m->arena_cap * 2 : 65536;
		unsigned char *a;

		while (cap < m->arena_len + len + 2)
			cap *= 2;
		a = realloc(m->arena, cap);
		if (!a)
			return -1;
		m->arena = a;
		m->arena_cap = cap;
	}
	*off = (uint32_t)m->arena_len;
	m->arena[m->arena_len] = (unsigned char)len;
	m->arena[m->arena_len + 1] = (unsigned char)(len >> 8);
	memcpy(m->arena + m->arena_len + 2, key, len);
	m->arena_len += len + 2;
	return 0;
}

uint32_t *hmap_put(struct hmap *m, const void *key, size_t len, uint32_t value, int *is_new,
		   uint32_t *key_off)
{
	uint64_t h = hmap_hash(key, len);
	size_t i;

	*is_new = 0;
	if (len > 65535)
		return NULL;
	/* Keep the load under 1/2 so probes stay short. */
	if ((!m->slots || (m->count + 1) * 2 > m->mask + 1) && grow(m))
		return NULL;
	for (i = h & m->mask; m->slots[i].hash; i = (i + 1) & m->mask)
		if (m->slots[i].hash == h && key_equal(m, &m->slots[i], key, len))
			goto found;
	if (arena_add(m, key, len, &m->slots[i].key))
		return NULL;
	m->slots[i].hash = h;
	m->slots[i].value = value;
	m->count++;
	*is_new = 1;
found:
	if (key_off)
		*key_off = m->slots[i].key;
	return &m->slots[i].value;
}
