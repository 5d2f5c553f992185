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
 * same key with a chance far below 2^-64. The hash is not cryptographic: an
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
 *
 * When a rebuilt file's bytes differ from the old file's, norm_reuse_same_rows
 * decides whether that is a restatement: the same rows in every table
 * (the same sums over decoded rows, in any order and encoding) mean a
 * file re-encoded by another crmetl, not late data.
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

/* Odd multipliers with their bits spread (the first is 2^64 over the golden ratio). */
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

/* One step of a row's chain (lane a of norm_rowsum_add): a bijection of the state per value. */
static inline uint64_t chain(uint64_t state, uint64_t v)
{
	return rotl((state ^ v) * LANE_A, 29);
}

/*
 * Each step of a lane is a bijection of the state for a given word and of
 * the word for a given state, so two rows of one length that differ in
 * one word always end in different states; other pairs collide only by
 * chance, and then in both lanes at once by a far smaller one.
 */
void norm_rowsum_add(struct rowsum *s, const struct srec *r)
{
	const unsigned char *p = r->payload;
	size_t n = r->len, tail = n & 7;
	uint64_t a = LANE_A ^ n, b = LANE_B ^ ((uint64_t)r->entity << 32 | n), w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		a = chain(a, w);
		b = rotl((b + w) * LANE_B, 31);
	}
	if (tail) {
		w = norm_tail_word(r->payload, r->len, tail);
		a = chain(a, w);
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
 * Whatever the mode, a row spilled before the column passed FEW_VALUES
 * values carries its value as an index into few[] (norm_shape_note): the
 * row sums see the index only, so the values the indexes stand for are
 * hashed too, else a corrected export whose new value took the old one's
 * index kept the stale month.
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
	} else {
		hash_text(h, "general", 7);
	}
	for (i = 0; i < sh->n_few && i < FEW_VALUES && sh->few[i]; i++)
		hash_text(h, sh->few[i], sh->few_len[i]);
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

/* The entry of `key` for `file` as text; its length, or -1. */
static int entry_text(const char *key, const struct reuse_file *file, char *text, size_t cap)
{
	int len = snprintf(text, cap, REUSE_HEAD "key %s\nfile %llu %08lx\nend\n", key,
			   file->size, file->crc);

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
	struct crm_err e = { 0 };
	struct reuse_file now;
	size_t len;
	int wl, same = 0;

	if (path && fsx_read_small(path, text, sizeof(text), &len) == 0 &&
	    fsx_file_crc32(period_path, &now.size, &now.crc, &e) == 0 &&
	    (wl = entry_text(key, &now, want, sizeof(want))) >= 0)
		same = len == (size_t)wl && memcmp(text, want, len) == 0;
	free(path);
	return same;
}

void norm_reuse_save(const struct norm *n, int period, const char *key,
		     const struct reuse_file *file)
{
	char text[REUSE_MAX], *path = entry_path(n, period);
	int len;

	if (!path)
		return;
	/* A lost entry costs one rebuild of the month, so a failure is only logged. */
	if ((len = entry_text(key, file, text, sizeof(text))) < 0 ||
	    fsx_replace_unsynced(path, text, (size_t)len))
		log_debug("normalize: could not keep %s", path);
	free(path);
}

/* ------------------------------------------- same rows in another encoding */

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = LANE_B ^ n, w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = chain(h, w);
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = chain(h, w);
	}
	return avalanche(h);
}

/* Add column c of table t of f to every row's chain; 0, or -1 when it cannot be read. */
static int chain_column(const struct crmp_file *f, int t, int c, uint64_t rows, uint64_t *acc)
{
	const struct crmp_table_info *ti = crmp_table_info(f, (size_t)t);
	struct crm_err e = { 0 };
	uint64_t r;

	if (ti->cols[c].type == CRMP_INT) {
		int64_t *v = malloc((rows ? rows : 1) * sizeof(*v));
		uint8_t *pres = malloc(rows ? rows : 1);
		int rc = v && pres ? crmp_read_int(f, t, c, v, pres, &e) : -1;

		for (r = 0; rc == 0 && r < rows; r++)
			acc[r] = chain(chain(acc[r], pres[r]), (uint64_t)v[r]);
		free(v);
		free(pres);
		return rc ? -1 : 0;
	} else {
		struct crmp_strs s;
		uint64_t *dh;
		uint32_t i;

		memset(&s, 0, sizeof(s));
		if (crmp_read_str(f, t, c, &s, &e) != 0)
			return -1;
		if (!(dh = malloc((s.n_dict ? s.n_dict : 1) * sizeof(*dh)))) {
			crmp_strs_release(&s);
			return -1;
		}
		for (i = 0; i < s.n_dict; i++)
			dh[i] = hash_bytes(s.dict[i], s.lens[i]);
		for (r = 0; r < rows; r++)
			acc[r] = s.codes[r] == UINT32_MAX ? chain(acc[r], 0)
							  : chain(chain(acc[r], 1), dh[s.codes[r]]);
		free(dh);
		crmp_strs_release(&s);
		return 0;
	}
}

/*
 * Two sums over the rows of table t of f, each row's columns taken in the
 * order of `names` (the new file's): 0, or -1 when a column is missing,
 * of another type, or unreadable.
 */
static int table_sums(const struct crmp_file *f, int t, const struct crmp_table_info *names,
		      uint64_t sum[2])
{
	const struct crmp_table_info *ti = crmp_table_info(f, (size_t)t);
	uint64_t *acc = malloc((ti->rows ? ti->rows : 1) * sizeof(*acc)), r;
	size_t k;
	int rc = acc ? 0 : -1;

	for (r = 0; acc && r < ti->rows; r++)
		acc[r] = LANE_A;
	for (k = 0; rc == 0 && k < names->n_cols; k++) {
		int c = crmp_find_column(f, t, names->cols[k].name);

		rc = c < 0 || ti->cols[c].type != names->cols[k].type ? -1
								  : chain_column(f, t, c, ti->rows, acc);
	}
	sum[0] = sum[1] = 0;
	for (r = 0; rc == 0 && r < ti->rows; r++) {
		sum[0] += avalanche(acc[r]);
		sum[1] += avalanche(acc[r] ^ LANE_B);
	}
	free(acc);
	return rc;
}

/* The meta table's pairs of f but `format` (keys and values, each a string column). */
struct pairs {
	struct crmp_strs k, v;
	uint64_t rows;
};

static int read_pairs(const struct crmp_file *f, struct pairs *p)
{
	struct crm_err e = { 0 };
	int t = crmp_find_table(f, "meta");
	int ck = t >= 0 ? crmp_find_column(f, t, "key") : -1;
	int cv = t >= 0 ? crmp_find_column(f, t, "value") : -1;

	memset(p, 0, sizeof(*p));
	if (ck < 0 || cv < 0 || crmp_table_info(f, (size_t)t)->cols[ck].type != CRMP_STR ||
	    crmp_table_info(f, (size_t)t)->cols[cv].type != CRMP_STR)
		return -1;
	p->rows = crmp_table_info(f, (size_t)t)->rows;
	return crmp_read_str(f, t, ck, &p->k, &e) || crmp_read_str(f, t, cv, &p->v, &e) ? -1 : 0;
}

static const char *pair_at(const struct crmp_strs *s, uint64_t r)
{
	return s->codes[r] == UINT32_MAX ? "" : s->dict[s->codes[r]];
}

/* Whether every pair of a but `format` is in b. */
static int pairs_within(const struct pairs *a, const struct pairs *b)
{
	uint64_t i, j;

	for (i = 0; i < a->rows; i++) {
		int found = strcmp(pair_at(&a->k, i), "format") == 0;

		for (j = 0; !found && j < b->rows; j++)
			found = strcmp(pair_at(&a->k, i), pair_at(&b->k, j)) == 0 &&
				strcmp(pair_at(&a->v, i), pair_at(&b->v, j)) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * The same settings and period in the meta tables: the format version is
 * what a new encoding changes, so it alone may differ.
 */
static int same_meta(const struct crmp_file *old, const struct crmp_file *now)
{
	struct pairs a = { 0 }, b = { 0 };
	int same = read_pairs(old, &a) == 0 && read_pairs(now, &b) == 0 && pairs_within(&a, &b) &&
		   pairs_within(&b, &a);

	crmp_strs_release(&a.k);
	crmp_strs_release(&a.v);
	crmp_strs_release(&b.k);
	crmp_strs_release(&b.v);
	return same;
}

/* 1 when old and new hold the same tables with the same columns and rows. */
static int same_tables(const struct crmp_file *old, const struct crmp_file *now)
{
	size_t i, n = crmp_n_tables(now);

	if (crmp_n_tables(old) != n || !same_meta(old, now))
		return 0;
	for (i = 0; i < n; i++) {
		const struct crmp_table_info *ti = crmp_table_info(now, i);
		int to = crmp_find_table(old, ti->name);
		uint64_t a[2], b[2];

		if (strcmp(ti->name, "meta") == 0)
			continue;
		if (to < 0 || crmp_table_info(old, (size_t)to)->rows != ti->rows ||
		    crmp_table_info(old, (size_t)to)->n_cols != ti->n_cols ||
		    table_sums(old, to, ti, a) || table_sums(now, (int)i, ti, b) || a[0] != b[0] ||
		    a[1] != b[1])
			return 0;
	}
	return 1;
}

int norm_reuse_same_rows(const char *old_path, const unsigned char *data, size_t len)
{
	struct crmp_file *old = NULL, *now = NULL;
	struct crm_err e = { 0 };
	int same = crmp_open(old_path, &old, &e) == 0 &&
		   crmp_open_mem(data, len, old_path, &now, &e) == 0 && same_tables(old, now);

	crmp_close(old);
	crmp_close(now);
	return same;
}
