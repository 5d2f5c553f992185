/*
 * norm_reuse.c - normalize: a month whose rows did not change keeps its
 * period file without being rebuilt.
 *
 * Why: the nightly run reads exports that grew by a day, so pass 3 used
 * to load, sort, encode and deflate every month again only to find the
 * same bytes for all but the last month or two: most of pass 3's time
 * (about 5 s of 12 at a million customers) went on proving "unchanged".
 *
 * What a period file's bytes depend on: the month's deduplicated rows
 * (its spill files; pass 3 sorts them, so not on their order), the shapes
 * of the string columns learnt over every month of the run (they choose
 * the encodings), the currency and timezone in its meta table, and the
 * program that writes it. The key of a month is a SHA-256 over all of
 * that: the program's identity (stamp_program), the settings, the
 * shapes, and per table the count of rows and two 64-bit sums of a hash
 * of each row. Sums, because the order rows reach a month's spill depends
 * on thread timing; two lanes, so that rows changed by accident give the
 * same key with a chance near 2^-128. The hash is not cryptographic: an
 * export crafted to collide could keep a month stale, which whoever
 * writes the exports can do more simply anyway.
 *
 * <data_dir>/cache/YYYY-MM.rows holds the key of the period file last
 * written or found unchanged, and that file's size and CRC-32. When both
 * still hold the month is unchanged. The file is read for its CRC (a
 * fraction of the cost of building it) rather than trusted by its inode
 * and times, so that a file damaged or edited in place is still rebuilt,
 * as it was before this shortcut. The entry is written after the period
 * file and its lineage, so it never names a file that is not there;
 * anything else (no entry, another key, a torn entry) rebuilds the month.
 */
#include "norm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsx.h"
#include "log.h"
#include "period.h"
#include "sha256.h"
#include "stamp.h"

#include "banned.h"

#define REUSE_HEAD "crmetl period rows 1\n"
#define REUSE_MAX 512 /* bytes: an entry is about 160 */

/* Two odd constants from the golden ratio and a prime-ish mix: spread the bits. */
#define LANE_A 0x9e3779b97f4a7c15ULL
#define LANE_B 0xc2b2ae3d27d4eb4fULL

static inline uint64_t rotl(uint64_t v, unsigned r)
{
	return v << r | v >> (64 - r);
}

/* A bijection in which every input bit reaches every output bit. */
static inline uint64_t avalanche(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ULL;
	h ^= h >> 27;
	h *= 0x81dadef4bc2dd44dULL;
	h ^= h >> 33;
	return h;
}

/*
 * Each step of lane a is a bijection of the state for a given word and
 * of the word for a given state, so two rows of one length that differ
 * anywhere always end in different states: only rows of different
 * lengths can collide, by chance.
 */
void norm_rowsum_add(struct rowsum *s, const struct srec *r)
{
	const unsigned char *p = r->payload;
	size_t n = r->len;
	uint64_t a = LANE_A ^ n, b = LANE_B ^ ((uint64_t)r->entity << 32 | n), w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		a = rotl((a ^ w) * LANE_A, 29);
		b = rotl((b + w) * LANE_B, 31);
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		a = rotl((a ^ w) * LANE_A, 29);
		b = rotl((b + w) * LANE_B, 31);
	}
	s->rows++;
	s->a += avalanche(a);
	s->b += avalanche(b ^ rotl(a, 17));
}

int norm_reuse_init(struct norm *n)
{
	struct crm_err e = { 0 };
	struct stamp st;
	char msg[512];

	n->reuse_dir = NULL;
	stamp_init(&st);
	stamp_text(&st, REUSE_HEAD);
	if (stamp_program(&st) != 0) {
		log_info("normalize: no /proc/self/exe: every month is rebuilt");
		return 0;
	}
	stamp_hex(&st, n->reuse_salt);
	if (!(n->reuse_dir = norm_join(n->cfg->data_dir, "cache")))
		return -1;
	if (fsx_mkdirs(n->reuse_dir, &e) != 0) {
		log_warn("normalize: every month is rebuilt: %s", err_format(&e, msg, sizeof(msg)));
		free(n->reuse_dir);
		n->reuse_dir = NULL;
	}
	return 0;
}

static void hash_text(struct sha256 *h, const char *s, size_t len)
{
	uint64_t l = len;

	sha256_update(h, &l, sizeof(l));
	sha256_update(h, s, len);
}

/*
 * What of a string column's shape can change its bytes: pass 3 holds it
 * as numbers of the run's numbered shape, as codes of its few values, or
 * as strings whose encoding depends on this month's values alone (as
 * str_mode in norm_write.c decides). So an id of a new shape elsewhere,
 * which makes a column general, does not make every month a new key.
 */
static void hash_shape(struct sha256 *h, const struct strshape *sh)
{
	size_t i;

	if (sh->numbered == 1) {
		int64_t width = sh->width;

		hash_text(h, "numbered", 8);
		hash_text(h, sh->prefix, sh->plen < sizeof(sh->prefix) ? sh->plen : sizeof(sh->prefix));
		sha256_update(h, &width, sizeof(width));
	} else if (sh->n_few <= FEW_VALUES) {
		hash_text(h, "few", 3);
		for (i = 0; i < sh->n_few; i++)
			hash_text(h, sh->few[i], sh->few_len[i]);
	} else {
		hash_text(h, "general", 7);
	}
}

void norm_reuse_key(const struct norm *n, int period, const struct rowsum *sums,
		   char key[SHA256_HEX_LEN + 1])
{
	unsigned char d[SHA256_LEN];
	struct sha256 h;
	int64_t p = period;
	size_t k, c;

	sha256_init(&h);
	hash_text(&h, n->reuse_salt, strlen(n->reuse_salt));
	sha256_update(&h, &p, sizeof(p));
	hash_text(&h, n->cfg->currency, strlen(n->cfg->currency));
	hash_text(&h, n->cfg->timezone, strlen(n->cfg->timezone));
	for (k = ENT_ORDERS; k < ENT_COUNT; k++) {
		const struct tab_def *t = tab_for_entity((enum schema_entity)k);
		uint64_t three[3] = { sums[k].rows, sums[k].a, sums[k].b };

		sha256_update(&h, three, sizeof(three));
		for (c = 0; c < t->n_cols; c++)
			if (tab_col_type(t->cols[c].kind) == CRMP_STR)
				hash_shape(&h, &n->shape[k][c]);
	}
	sha256_final(&h, d);
	sha256_hex(d, key);
}

/* cache/YYYY-MM.rows, or NULL (no cache, or no memory). */
static char *entry_path(const struct norm *n, int period)
{
	char text[PERIOD_TEXT_MAX], name[32];

	if (!n->reuse_dir)
		return NULL;
	snprintf(name, sizeof(name), "%s.rows", period_format(period, text));
	return norm_join(n->reuse_dir, name);
}

/* The entry of `key` for the period file at `path` as text; -1 when it cannot be read. */
static int entry_text(const char *key, const char *path, char *text, size_t cap)
{
	struct crm_err e = { 0 };
	unsigned long long size;
	unsigned long crc;
	int len;

	if (fsx_file_crc32(path, &size, &crc, &e) != 0)
		return -1;
	len = snprintf(text, cap, REUSE_HEAD "key %s\nfile %llu %08lx\nend\n", key, size, crc);
	return len < 0 || (size_t)len >= cap ? -1 : len;
}

int norm_reuse_found(const struct norm *n, int period)
{
	char *path = entry_path(n, period);
	int found = path && access(path, F_OK) == 0;

	free(path);
	return found;
}

int norm_reuse_same(const struct norm *n, int period, const char *key, const char *period_path)
{
	char text[REUSE_MAX], want[REUSE_MAX], *path = entry_path(n, period);
	size_t len;
	int wl, same = 0;

	if (path && fsx_read_small(path, text, sizeof(text), &len) == 0 &&
	    (wl = entry_text(key, period_path, want, sizeof(want))) >= 0)
		same = len == (size_t)wl && memcmp(text, want, len) == 0;
	free(path);
	return same;
}

void norm_reuse_save(const struct norm *n, int period, const char *key, const char *period_path)
{
	char text[REUSE_MAX], *path = entry_path(n, period);
	int len;

	if (!path)
		return;
	/* A lost entry costs one rebuild of the month, so a failure is only logged. */
	if ((len = entry_text(key, period_path, text, sizeof(text))) < 0 ||
	    fsx_replace_unsynced(path, text, (size_t)len))
		log_debug("normalize: could not keep %s", path);
	free(path);
}
