/*
 * norm.c - the normalize stage (see norm.h for the three passes).
 *
 * Owns: the spill directory <data_dir>/tmp/normalize-<pid> (removed at the
 * end, also on failure), quarantine files, period files and the customers
 * dimension. Does not fetch (fetch stage) and computes no metric: rows are
 * validated and placed, never aggregated.
 *
 * This file runs the stage and passes 1 and 2; validation is in
 * norm_check.c, spill files in norm_spill.c, pass 3 in norm_write.c.
 */
#include "norm_int.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpus.h"
#include "csvr.h"
#include "fetch.h"
#include "fsx.h"
#include "inputs.h"
#include "ins.h"
#include "log.h"
#include "text.h"
#include "xmlr.h"

#include "banned.h"

/* ------------------------------------------------------------ helpers */

char *norm_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (s) {
		memcpy(s, a, la);
		s[la] = '/';
		memcpy(s + la + 1, b, lb + 1);
	}
	return s;
}

/*
 * Ask for huge pages under a big array that is about to be filled: pass 2
 * and 3 allocate and fill hundreds of megabytes of such arrays, and
 * faulting them in 4 KiB at a time cost more system time than reading
 * the spill files. Only the 2 MiB-aligned middle can be huge; a hint,
 * so a refusal changes nothing.
 */
void norm_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	uintptr_t start = ((uintptr_t)p + HUGE_MIN / 2 - 1) & ~(uintptr_t)(HUGE_MIN / 2 - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(HUGE_MIN / 2 - 1);

	if (p && len >= HUGE_MIN && end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

int norm_nomem(struct crm_err *e)
{
	return err_set(e, CRM_E_NOMEM, "out of memory while normalizing");
}

/* The period (month) holding local day `day`. */
int norm_period_of_day(int32_t day)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(day, &y, &m, &d);
	return (int)(y * 12 + m - 1);
}

/* The first local day of a period (month): spill records count their days from it. */
int32_t norm_first_day(int period)
{
	int64_t y = period >= 0 ? period / 12 : -((11 - (int64_t)period) / 12);

	return (int32_t)tz_days_from_civil(y, (int)(period - y * 12) + 1, 1);
}

static void csv_field(FILE *f, const char *s, size_t len)
{
	size_t i;

	if (len == 0 || strcspn(s, ",\"\r\n") >= len) {
		fwrite(s, 1, len, f);
		return;
	}
	fputc('"', f);
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

/* ------------------------------------------------------------ quarantine */

static int quarantine_open(struct norm *n, const char *source, struct crm_err *e)
{
	char name[300];

	snprintf(name, sizeof(name), "%s.csv", source);
	n->quarantine_path = norm_join(n->quarantine_dir, name);
	snprintf(name, sizeof(name), "%s.csv.tmp.%ld", source, (long)getpid());
	n->quarantine_tmp = norm_join(n->quarantine_dir, name);
	if (!n->quarantine_path || !n->quarantine_tmp)
		return norm_nomem(e);
	n->quarantine = fopen(n->quarantine_tmp, "w");
	if (!n->quarantine)
		return err_sys(e, CRM_E_IO, errno, n->quarantine_tmp, "cannot create");
	fputs("file,line,field,value,reason\n", n->quarantine);
	return 0;
}

/* Finish the current quarantine file: publish it (commit) or drop it. */
static int quarantine_close(struct norm *n, int commit, struct crm_err *e)
{
	int rc = 0;

	if (n->quarantine) {
		if ((fflush(n->quarantine) != 0 || fsync(fileno(n->quarantine)) != 0) && commit)
			rc = err_sys(e, CRM_E_IO, errno, n->quarantine_tmp, "cannot write");
		fclose(n->quarantine);
		n->quarantine = NULL;
		if (rc == 0 && commit && rename(n->quarantine_tmp, n->quarantine_path) != 0)
			rc = err_sys(e, CRM_E_IO, errno, n->quarantine_path, "cannot replace");
		if (rc || !commit)
			unlink(n->quarantine_tmp);
		if (rc == 0 && commit)
			rc = fsx_sync_parent(n->quarantine_path, e);
	}
	free(n->quarantine_tmp);
	free(n->quarantine_path);
	n->quarantine_tmp = n->quarantine_path = NULL;
	return rc;
}

static void quarantine_row(struct norm *n, const char *file, long line, const char *field,
			   const char *value, size_t len, const char *reason)
{
	FILE *f = n->quarantine;

	n->st->rows_rejected++;
	n->files[n->cur_file].rows_rejected++;
	csv_field(f, file, strlen(file));
	fprintf(f, ",%ld,", line);
	csv_field(f, field ? field : "", field ? strlen(field) : 0);
	fputc(',', f);
	/* Values are cut at 200 bytes: enough to see what was wrong. */
	csv_field(f, value ? value : "", value ? (len > 200 ? 200 : len) : 0);
	fputc(',', f);
	csv_field(f, reason, strlen(reason));
	fputc('\n', f);
}

/* ------------------------------------------------------------ pass 1: read */

/*
 * Orders of an unknown customer create a derived customer (METRICS.md).
 * *derived: whether the order's customer is (or now becomes) derived.
 */
static int note_order_customer(struct norm *n, const char *id, uint32_t len, int *derived,
			       struct crm_err *e)
{
	int is_new;
	long k;

	if (norm_known_customer(n, id, len)) {
		*derived = n->st->derived_customers && norm_ids_derived(&n->direct, id, len);
		return 0;
	}
	k = norm_customer_slot(n, id, len, &is_new);
	if (k < 0)
		return norm_nomem(e);
	n->custs[k].derived = 1;
	n->st->derived_customers++;
	*derived = 1;
	/* Its id goes into the dimension: its shape counts there (struct strshape). */
	norm_shape_note(&n->shape[ENT_CUSTOMERS][0], id, len);
	return norm_ids_add_derived(&n->direct, id, len) ? norm_nomem(e) : 0;
}

/* Export names wanted from a source: map.<field> or the canonical name. */
static void wanted_names(const struct cfg_source *src, const char **names)
{
	const struct schema_entity_def *ent = schema_entity(src->entity);
	size_t i;

	for (i = 0; i < ent->n_fields; i++)
		names[i] = src->map[i] ? src->map[i] : ent->fields[i].name;
}

struct reader {
	struct csvr *csv;
	struct xmlr *xml;
};

static int reader_open(const struct cfg_source *src, struct ins *in, const char **names,
		       struct reader *rd, struct crm_err *e)
{
	const struct schema_entity_def *ent = schema_entity(src->entity);
	size_t i;
	int rc;

	memset(rd, 0, sizeof(*rd));
	if (src->format == CFG_FMT_XML) {
		struct xmlr_opts xo = { .record = src->record };

		return xmlr_open(in, &xo, names, ent->n_fields, &rd->xml, e);
	} else {
		struct csvr_opts co = { .delimiter = src->delimiter };

		rc = csvr_open(in, &co, names, ent->n_fields, &rd->csv, e);
		if (rc)
			return rc;
	}
	/* A CSV without a required column cannot give one good row: stop at once. */
	for (i = 0; i < ent->n_fields; i++)
		if (ent->fields[i].required && csvr_column(rd->csv, i) < 0)
			return err_at(e, CRM_E_INPUT, ins_name(in), 1, names[i],
				      "export has no column '%s' for required field %s", names[i],
				      ent->fields[i].name);
	return 0;
}

static int reader_next(struct reader *rd, struct rec *rec, struct crm_err *e)
{
	return rd->csv ? csvr_next(rd->csv, rec, e) : xmlr_next(rd->xml, rec, e);
}

static void reader_close(struct reader *rd)
{
	csvr_free(rd->csv);
	xmlr_free(rd->xml);
}

/*
 * Start the lineage entry of an export file, described by inputs_describe
 * (or found since). Its hash is computed while it is read (read_file)
 * unless the description has it already.
 */
static int add_file(struct norm *n, const struct cfg_source *src, const char *path,
		    struct crm_err *e)
{
	size_t k = (size_t)(src - n->cfg->sources);
	const struct inputs_file *in = inputs_find(&n->inputs, k, path);
	struct norm_file *f;
	char url[2048];

	if (n->n_files == NORM_MAX_FILES)
		return err_set(e, CRM_E_INPUT, "more than %d export files", NORM_MAX_FILES);
	if (!(f = realloc(n->files, (n->n_files + 1) * sizeof(*f))))
		return norm_nomem(e);
	n->files = f;
	f = &f[n->n_files];
	memset(f, 0, sizeof(*f));
	f->source = k;
	f->input = in;
	if (in) {
		f->bytes = in->size;
		memcpy(f->sha256, in->sha256, sizeof(f->sha256));
	}
	f->location = strdup(src->file ? path : text_url_redact(src->url, url, sizeof(url)));
	n->cur_file = (uint32_t)n->n_files++;
	return f->location ? 0 : norm_nomem(e);
}

/* Whether the file being read still needs its hash (then read_file computes it). */
static int needs_hash(const struct norm *n)
{
	const struct norm_file *f = &n->files[n->cur_file];

	return !f->input || inputs_unhashed(f->input);
}

static void hash_tap(void *ctx, const void *data, size_t len)
{
	sha256_update(ctx, data, len);
}

/* The hash of the file just read through `in`, tapped into `sha`, into its entries. */
static int take_hash(struct norm *n, struct ins *in, struct sha256 *sha, struct buf *text,
		     struct crm_err *e)
{
	struct norm_file *f = &n->files[n->cur_file];
	unsigned char digest[SHA256_LEN];
	int rc = ins_drain(in);

	if (rc)
		return rc;
	sha256_final(sha, digest);
	sha256_hex(digest, f->sha256);
	if (!f->input) {
		f->bytes = ins_raw_bytes(in);
		return 0;
	}
	return inputs_set_hash(&n->inputs, text, f->input, f->sha256, ins_raw_bytes(in), e);
}

static int reader_next_cb(void *rd, struct rec *rec, struct crm_err *e)
{
	return reader_next(rd, rec, e);
}

/* What keeping the records of one export file needs (pass 1, calling thread). */
struct keeper {
	struct norm *n;
	const struct tab_def *t;
	const char *path;
};

/*
 * Keys of ids below this take the direct way (struct direct): the bitmap
 * of an entity takes up to 16 MB at this limit (2 bits a key), a few MB
 * at the 1M-customer bench size. Ids past it take the buckets.
 */
#ifndef DIRECT_KEYS_MAX
#define DIRECT_KEYS_MAX ((int64_t)1 << 26)
#endif

/*
 * A spill record into its dedupe bucket, or its month's file: records
 * without an id, and the first occurrence of a keyed id (norm_ids_route)
 * unless `pinned` (an order of a derived customer).
 */
static int spill_item(struct norm *n, const struct tab_def *t, const struct pitem *it,
		      const unsigned char *payload, int pinned, struct crm_err *e)
{
	int direct = 0;
	struct spill *s;

	if (it->bucket >= 0 &&
	    (direct = norm_ids_route(&n->direct, (int)t->entity, it->key, DIRECT_KEYS_MAX, pinned)) < 0)
		return norm_nomem(e);
	s = it->bucket >= 0 && !direct ? &n->buckets[it->bucket]
				       : norm_month_spill(n, it->period, (int)t->entity, e);
	if (!s)
		return e->code;
	return norm_spill_put(s, &(struct srec){ (int)t->entity, it->period, n->cur_file, payload,
						  it->len, direct }, e);
}

/* Keep one record of the file, in file order (see norm_pipe.c). */
static int keep_item(void *ctx, const struct pitem *it, const unsigned char *data,
		     struct crm_err *e)
{
	struct keeper *k = ctx;
	struct norm *n = k->n;
	const unsigned char *p = data + it->off;
	struct row row;
	int rc = 0, derived = 0;

	n->st->rows_read++;
	n->files[n->cur_file].rows_read++;
	if ((n->st->rows_read & 0xfffff) == 0)
		log_progress("normalize: %llu rows read", (unsigned long long)n->st->rows_read);
	if (it->bad) {
		quarantine_row(n, k->path, it->line, it->field, it->has_value ? (const char *)p : NULL,
			       it->len, (const char *)data + it->reason_off);
		return 0;
	}
	if (k->t->entity == ENT_CUSTOMERS) {
		if (norm_decode_row(p, p + it->len, k->t, &row, 0))
			return err_set(e, CRM_E_INTERNAL, "damaged record of pass 1");
		return norm_keep_customer(n, &row, e);
	}
	if (k->t->entity == ENT_ORDERS) {
		const char *id;
		uint32_t len;

		if (norm_payload_str(p, p + it->len, k->t, 1, &id, &len) || !id)
			return err_set(e, CRM_E_INTERNAL, "damaged record of pass 1");
		rc = note_order_customer(n, id, len, &derived, e);
	}
	return rc ? rc : spill_item(n, k->t, it, p, derived, e);
}

/*
 * Read one export file: parse, validate and keep its records, and hash
 * its bytes in the same read when its hash is still wanted (the inputs'
 * description `text` and the file's lineage entry get it).
 */
static int read_file(struct norm *n, const struct cfg_source *src, const char *path,
		     struct buf *text, struct crm_err *e)
{
	const struct tab_def *t = tab_for_entity(src->entity);
	const char *names[SCHEMA_MAX_FIELDS];
	struct keeper k = { n, t, path };
	struct reader rd = { 0 };
	struct ins *in = NULL;
	struct sha256 sha;
	int rc, hashed = 0;

	wanted_names(src, names);
	rc = add_file(n, src, path, e);
	if (rc == 0 && (hashed = needs_hash(n)) != 0) {
		sha256_init(&sha);
		rc = ins_open_tapped(path, hash_tap, &sha, &in, e);
	} else if (rc == 0) {
		rc = ins_open(path, &in, e);
	}
	if (rc == 0)
		rc = reader_open(src, in, names, &rd, e);
	if (rc == 0)
		rc = norm_pipe_run(n, t, reader_next_cb, &rd, keep_item, &k, e);
	if (rc == 0 && hashed)
		rc = take_hash(n, in, &sha, text, e);
	if (in) {
		n->st->files++;
		n->st->bytes += ins_content_bytes(in);
	}
	reader_close(&rd);
	ins_close(in);
	return rc;
}

static int read_source(struct norm *n, const struct cfg_source *src, struct buf *text,
		       struct crm_err *e)
{
	glob_t g;
	size_t i;
	int rc = 0, grc;

	if (!src->file) {
		/* A fetched source: the body the fetch stage stored last. */
		char *path = NULL;

		rc = fetch_current(n->cfg->data_dir, src->name, &path, e);
		if (rc == 0)
			rc = quarantine_open(n, src->name, e);
		if (rc == 0)
			rc = read_file(n, src, path, text, e);
		free(path);
		if (rc)
			quarantine_close(n, 0, e);
		return rc ? rc : quarantine_close(n, 1, e);
	}
	grc = glob(src->file, GLOB_ERR, NULL, &g);
	if (grc == GLOB_NOMATCH)
		return err_at(e, CRM_E_INPUT, src->file, 0, NULL, "no export file found for source '%s'",
			      src->name);
	if (grc != 0)
		return err_sys(e, CRM_E_IO, errno, src->file, "cannot list export files");
	rc = quarantine_open(n, src->name, e);
	for (i = 0; rc == 0 && i < g.gl_pathc; i++) {
		log_debug("normalize: reading %s (source %s)", g.gl_pathv[i], src->name);
		rc = read_file(n, src, g.gl_pathv[i], text, e);
	}
	globfree(&g);
	if (rc)
		quarantine_close(n, 0, e);
	return rc ? rc : quarantine_close(n, 1, e);
}

/*
 * Customers first, then orders (which may create derived customers), then
 * the rest, which are checked against both. `text` is the inputs'
 * description, whose hashes are filled in as the files are read.
 */
static int read_sources(struct norm *n, struct buf *text, struct crm_err *e)
{
	int pass, rc = 0;
	size_t i;

	for (pass = 0; pass < 3 && rc == 0; pass++)
		for (i = 0; i < n->cfg->n_sources && rc == 0; i++) {
			const struct cfg_source *src = &n->cfg->sources[i];
			int order = src->entity == ENT_CUSTOMERS ? 0 : src->entity == ENT_ORDERS ? 1 : 2;

			if (order == pass)
				rc = read_source(n, src, text, e);
		}
	log_progress_end();
	return rc;
}

/* ------------------------------------------------------------ pass 2: dedupe */

/* One spill record as found in a buffer. */

/*
 * The derived customers alone, by id: few, so their map stays in cache
 * while every surviving order is looked up in it (the map of all
 * customers would miss the cache on nearly every order).
 */
static int map_one_derived(void *ctx, const char *id, uint32_t len, uint32_t k)
{
	struct norm *n = ctx;
	int is_new;

	if (!n->custs[k].derived)
		return 0;
	return hmap_put(&n->derived, id, len, k, &is_new, NULL) ? 0 : -1;
}

static int map_derived(struct norm *n, struct crm_err *e)
{
	if (n->st->derived_customers && norm_each_customer(n, map_one_derived, n))
		return norm_nomem(e);
	return 0;
}

/* A surviving order may give a derived customer its signup day. */
static void note_signup(struct norm *n, const struct row *r)
{
	uint32_t *v;
	struct cust *c;

	if (r->present[6] && r->iv[6] != 0) /* refunded or cancelled */
		return;
	v = hmap_get(&n->derived, r->sv[1], r->sl[1]);
	if (!v)
		return;
	c = &n->custs[*v];
	if (c->derived && (c->signup_day == NO_DAY || r->iv[3] < c->signup_day))
		c->signup_day = (int32_t)r->iv[3];
}

/*
 * The dedupe key of a record: its entity and the bytes of its id columns
 * (after the presence byte, in *key). Ids are never absent.
 */
static int record_key(const struct srec *r, const unsigned char **key, size_t *klen)
{
	const struct tab_def *t = tab_for_entity((enum schema_entity)r->entity);
	const unsigned char *p = r->payload, *end = r->payload + r->len;
	size_t c;
	uint64_t v;

	if (p >= end || (~*p & ((1u << t->id_cols) - 1)))
		return -1;
	*key = ++p;
	/* Only the id columns are looked at: skip over them, decode nothing. */
	for (c = 0; c < (size_t)t->id_cols; c++) {
		if (norm_varint(&p, end, &v))
			return -1;
		if (tab_col_type(t->cols[c].kind) == CRMP_STR) {
			/* ids keep their bytes: an even varint, twice their length */
			if ((v & 1) || v / 2 > (uint64_t)(end - p))
				return -1;
			p += v / 2;
		}
	}
	*klen = (size_t)(p - *key);
	return *klen > 65000 ? -1 : 0;
}

/*
 * A hash of a short key, eight bytes at a time (ids are ~10 bytes: a
 * byte-at-a-time hash costs more than the probe). Only compared within
 * one run, so it need not be stable across versions.
 */
static uint64_t key_hash(const unsigned char *p, size_t len, unsigned entity)
{
	const unsigned char *key = p;
	uint64_t h = 0x9e3779b97f4a7c15ull * (entity + 1) ^ len, w;
	size_t all = len;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = len ? norm_tail_word(key, all, len) : 0;
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return h;
}

/*
 * The ids of one bucket: open addressing over 16-byte slots that point
 * into the loaded bucket itself, so no key is copied (a general map would
 * copy every key into its arena). With ids that are not numbered (which
 * all take the buckets, norm_ids.c) a bucket holds ~1 M ids at the bench
 * size, so almost every probe misses the cache: records are hashed a few
 * ahead of their probe and their slots prefetched (DEDUPE_AHEAD).
 */
struct dslot {
	uint32_t tag;              /* high hash bits, entity folded in */
	uint32_t klen;             /* key bytes | entity << 24; 0: empty slot */
	uint32_t off;              /* key = payload at data + off */
	uint32_t rec;              /* record number of the latest occurrence */
};

#define DEDUPE_AHEAD 8

struct dkey {
	const unsigned char *key;
	uint32_t klen, rec;        /* klen as in dslot */
	uint64_t hash;
};

/* Record number of the earlier occurrence of this key, or UINT32_MAX when new. */
static uint32_t dedupe_probe(struct dslot *slots, size_t mask, const unsigned char *data,
			     const struct dkey *k)
{
	uint32_t tag = (uint32_t)(k->hash >> 32);
	size_t i;

	for (i = k->hash & mask; slots[i].klen; i = (i + 1) & mask) {
		struct dslot *s = &slots[i];

		if (s->tag == tag && s->klen == k->klen &&
		    norm_same(data + s->off, k->key, k->klen & 0xffffff)) {
			uint32_t before = s->rec;

			s->rec = k->rec;
			return before;
		}
	}
	slots[i] = (struct dslot){ tag, k->klen, (uint32_t)(k->key - data), k->rec };
	return UINT32_MAX;
}

/*
 * Mark every record of a bucket that a later one with the same id
 * replaces. Keys are queued DEDUPE_AHEAD deep: hashed and their slot
 * prefetched on entry, probed on exit. The entity is part of the key (an
 * order and a lead may share an id without being duplicates).
 */
static int mark_duplicates(uint64_t *dups, struct spill *bucket, const unsigned char *data,
			   size_t len, uint32_t count, struct dslot *slots, size_t mask,
			   uint8_t *dropped, struct crm_err *e)
{
	struct dkey q[DEDUPE_AHEAD];
	const unsigned char *p = data, *end = data + len;
	uint32_t i, before;
	struct srec r;
	size_t klen;

	for (i = 0; i < count + DEDUPE_AHEAD; i++) {
		struct dkey *k = &q[i % DEDUPE_AHEAD];

		if (i >= DEDUPE_AHEAD && (before = dedupe_probe(slots, mask, data, k)) != UINT32_MAX) {
			dropped[before] = 1;
			(*dups)++;
		}
		if (i >= count)
			continue;
		if (norm_next_srec(&p, end, &r) != 1 || record_key(&r, &k->key, &klen))
			return norm_damaged_spill(bucket, e);
		k->klen = (uint32_t)klen | (uint32_t)r.entity << 24;
		k->rec = i;
		k->hash = key_hash(k->key, klen, (unsigned)r.entity);
		__builtin_prefetch(&slots[k->hash & mask], 1);
	}
	/* `count` is what was written: more bytes than its records is damage too. */
	return p == end ? 0 : norm_damaged_spill(bucket, e);
}

/*
 * Pass 2 runs a bucket per worker thread. Finding the duplicates of a
 * bucket (loading it, probing its ids: cache misses) needs nothing shared;
 * moving the survivors into the month files does, so one worker moves at
 * a time (`move`) while the other finds. Buckets then reach the month
 * files in no fixed order, which changes no byte written: the rows of
 * every deduplicated table have distinct sort keys (their ids are in
 * them), so pass 3 puts them in the same order whatever order they came.
 */
struct dedupe {
	struct norm *n;
	pthread_mutex_t lock;      /* next, failed, err, dups */
	pthread_mutex_t move;      /* month files, derived customers */
	int next;                  /* next bucket to take */
	int failed;                /* bucket of the first error (lowest), or N_BUCKETS */
	struct crm_err err;
	uint64_t dups;
	unsigned splits;           /* buckets split so far: names their parts (under lock) */
};

/* Whether an order's customer is a derived one (its id read, nothing decoded). */
static int of_derived(const struct norm *n, const struct srec *r)
{
	const char *id;
	uint32_t len;

	return norm_payload_str(r->payload, r->payload + r->len, tab_for_entity(ENT_ORDERS), 1, &id,
				&len) == 0 &&
	       id && hmap_get(&n->derived, id, len) != NULL;
}

/* Move the survivors of a bucket to their months (under dd->move). */
static int move_survivors(struct norm *n, const unsigned char *data, size_t len, uint32_t count,
			  const uint8_t *dropped, struct crm_err *e)
{
	const unsigned char *p = data, *end = data + len;
	struct srec r;
	struct row row;
	uint32_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < count && norm_next_srec(&p, end, &r) == 1; i++) {
		struct spill *m;

		if (dropped[i])
			continue;
		/*
		 * Only derived customers take a signup from orders: most runs have
		 * none, and few orders are theirs, so the order is decoded only
		 * once its customer is found among them.
		 */
		if (r.entity == ENT_ORDERS && n->st->derived_customers && of_derived(n, &r)) {
			norm_decode_row(r.payload, r.payload + r.len, tab_for_entity(ENT_ORDERS), &row,
					norm_first_day(r.period));
			note_signup(n, &row);
		}
		m = norm_month_spill(n, r.period, r.entity, e);
		rc = m ? norm_spill_put(m, &r, e) : e->code;
	}
	return rc;
}

/*
 * What a pass 2 worker keeps from one bucket to the next: buckets are of
 * similar size, and memory freed and allocated again for each would be
 * faulted in and zeroed by the kernel 32 times.
 */
struct dscratch {
	unsigned char *data;       /* the bucket's records */
	size_t data_cap;
	struct dslot *slots;       /* its ids */
	size_t slots_cap;          /* slots allocated */
	uint8_t *dropped;          /* per record: replaced by a later one */
	size_t dropped_cap;
};

static void dscratch_release(struct dscratch *ds)
{
	free(ds->data);
	free(ds->slots);
	free(ds->dropped);
	memset(ds, 0, sizeof(*ds));
}

/* Zeroed room for `count` records and `slots` slots; -1 out of memory. */
static int dscratch_reserve(struct dscratch *ds, size_t count, size_t slots)
{
	if (slots > ds->slots_cap) {
		free(ds->slots);
		ds->slots_cap = 0;
		if (!(ds->slots = malloc(slots * sizeof(*ds->slots))))
			return -1;
		ds->slots_cap = slots;
		norm_huge(ds->slots, slots * sizeof(*ds->slots));
	}
	if (count > ds->dropped_cap) {
		free(ds->dropped);
		ds->dropped_cap = 0;
		if (!(ds->dropped = malloc(count)))
			return -1;
		ds->dropped_cap = count;
	}
	memset(ds->slots, 0, slots * sizeof(*ds->slots));
	memset(ds->dropped, 0, count);
	return 0;
}

/*
 * A bucket is loaded whole, with its ids' slots (about twice its bytes)
 * and a byte per record, on each of two workers: one larger than this
 * (a bigger input than the 32 buckets were sized for) is split first, so
 * pass 2 stays within its share of the memory target whatever the input
 * size. At the 1M-customer bench size buckets would be ~17 MB if no id
 * skipped them (none is split); its numbered ids leave them nearly empty.
 */
#ifndef BUCKET_LOAD_MAX
#define BUCKET_LOAD_MAX ((uint64_t)24 << 20)
#endif
#define SPLIT_WAYS 8             /* parts of a split bucket, by 3 bits of the key hash */
#define SPLIT_DEPTH_MAX 8        /* 3 * 8 bits: past that, one id fills the part (loaded anyway) */

static int dedupe_bucket(struct dedupe *dd, struct spill *bucket, struct dscratch *ds,
			 unsigned depth, struct crm_err *e);

/* Where the records of a bucket being split go. */
struct splitter {
	struct spill *bucket;
	struct spill part[SPLIT_WAYS];
	unsigned shift;            /* the part is hash >> shift & (SPLIT_WAYS - 1) */
	struct crm_err *e;
};

static int split_record(void *ctx, const struct srec *r)
{
	struct splitter *sp = ctx;
	const unsigned char *key;
	size_t klen;
	uint64_t h;

	if (record_key(r, &key, &klen))
		return norm_damaged_spill(sp->bucket, sp->e);
	/*
	 * The bucket was chosen by another hash (hmap_hash) and slots use the
	 * low bits of this one: its top bits spread the ids of a bucket evenly.
	 */
	h = key_hash(key, klen, (unsigned)r->entity);
	return norm_spill_put(&sp->part[h >> sp->shift & (SPLIT_WAYS - 1)], r, sp->e);
}

/*
 * Split a bucket too big to load into SPLIT_WAYS parts by its ids' hash,
 * keeping record order within each part, then deduplicate each part:
 * every occurrence of an id lands in the same part, in the same order.
 */
static int dedupe_split(struct dedupe *dd, struct spill *bucket, struct dscratch *ds,
			unsigned depth, struct crm_err *e)
{
	struct splitter sp = { bucket, { { 0 } }, 61 - 3 * depth, e };
	unsigned id, k;
	char name[64];
	int rc = 0;

	for (k = 0; k < SPLIT_WAYS; k++)
		sp.part[k].fd = -1;
	pthread_mutex_lock(&dd->lock);
	id = dd->splits++;
	pthread_mutex_unlock(&dd->lock);
	log_debug("normalize: splitting a bucket of %llu bytes in %d (depth %u)",
		  (unsigned long long)bucket->bytes, SPLIT_WAYS, depth);
	for (k = 0; rc == 0 && k < SPLIT_WAYS; k++) {
		snprintf(name, sizeof(name), "split-%u-%u", id, k);
		rc = norm_spill_open(&sp.part[k], dd->n->tmp_dir, name, BUCKET_IOBUF, e);
	}
	if (rc == 0)
		rc = norm_spill_each(bucket, split_record, &sp, e);
	norm_spill_close(bucket);
	for (k = 0; k < SPLIT_WAYS; k++) {
		if (rc == 0)
			rc = dedupe_bucket(dd, &sp.part[k], ds, depth + 1, e);
		norm_spill_close(&sp.part[k]);
	}
	return rc;
}

/*
 * Keep the last occurrence of each id in a bucket (records are in input
 * order: later sources, later files of a glob, later rows come later) and
 * move the survivors into their months.
 */
static int dedupe_bucket(struct dedupe *dd, struct spill *bucket, struct dscratch *ds,
			 unsigned depth, struct crm_err *e)
{
	size_t len = 0, mask = 0;
	uint64_t dups = 0;
	long count = 0;
	int rc;

	if (bucket->bytes > BUCKET_LOAD_MAX && depth < SPLIT_DEPTH_MAX)
		return dedupe_split(dd, bucket, ds, depth, e);
	rc = norm_spill_load(bucket, &ds->data, &ds->data_cap, &len, e);
	/* The records written there, counted then: mark_duplicates checks they fill it. */
	count = (long)bucket->records;
	if (rc == 0 && (len > UINT32_MAX || bucket->records > UINT32_MAX))
		rc = norm_damaged_spill(bucket, e);
	/* At most half full: probes stay short. */
	while (rc == 0 && mask + 1 < 2 * (size_t)count + 2)
		mask = mask * 2 + 1;
	if (rc == 0 && dscratch_reserve(ds, (size_t)count + 1, mask + 1))
		rc = norm_nomem(e);
	if (rc == 0)
		rc = mark_duplicates(&dups, bucket, ds->data, len, (uint32_t)count, ds->slots, mask,
				     ds->dropped, e);
	if (rc == 0) {
		pthread_mutex_lock(&dd->move);
		rc = move_survivors(dd->n, ds->data, len, (uint32_t)count, ds->dropped, e);
		dd->dups += dups;
		pthread_mutex_unlock(&dd->move);
	}
	norm_spill_close(bucket);
	return rc;
}

static void *dedupe_worker(void *arg)
{
	struct dedupe *dd = arg;
	struct dscratch ds = { 0 };

	for (;;) {
		struct crm_err e = { 0 };
		int i, rc;

		pthread_mutex_lock(&dd->lock);
		i = dd->failed == N_BUCKETS && dd->next < N_BUCKETS ? dd->next++ : -1;
		pthread_mutex_unlock(&dd->lock);
		if (i < 0)
			break;
		rc = dedupe_bucket(dd, &dd->n->buckets[i], &ds, 0, &e);
		if (rc == 0)
			continue;
		pthread_mutex_lock(&dd->lock);
		if (i < dd->failed) { /* the error of the lowest bucket, as a serial run finds it */
			dd->failed = i;
			dd->err = e;
			dd->err.code = rc;
		}
		pthread_mutex_unlock(&dd->lock);
	}
	dscratch_release(&ds);
	return NULL;
}

/* Pass 2 on two threads (memory: a bucket each), or here when none starts. */
static int dedupe_all(struct norm *n, struct crm_err *e)
{
	struct dedupe dd = { n, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, 0, N_BUCKETS,
			     { 0 }, 0, 0 };
	int cores = cpus_usable();
	pthread_t th[2];
	int i, started = 0;

	for (i = 0; i < (cores > 1 ? 2 : 1); i++)
		if (pthread_create(&th[i], NULL, dedupe_worker, &dd) == 0)
			started++;
	if (started == 0)
		dedupe_worker(&dd);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	/* And the direct records that later ones replace (pass 3 leaves them out). */
	n->st->duplicates += dd.dups + n->direct.dropped;
	if (dd.failed < N_BUCKETS) {
		*e = dd.err;
		return dd.err.code;
	}
	return 0;
}

/* ------------------------------------------------------------ the stage */

/* The pid in a name ending in "-PID" or ".tmp.PID", or 0. */
static long leftover_pid(const char *name, const char *marker)
{
	const char *p = strstr(name, marker);
	char *end;
	long pid;

	if (!p)
		return 0;
	pid = strtol(p + strlen(marker), &end, 10);
	return *end == '\0' && pid > 0 ? pid : 0;
}

static int pid_is_dead(long pid)
{
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove a spill directory and the files in it (they are all ours). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = norm_join(dir, de->d_name);
		if (path)
			unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/*
 * A run killed with SIGKILL leaves its spill directory and perhaps a
 * temporary period file behind; neither is ever read, but they take space.
 * Sweep those of processes that no longer exist.
 */
static void sweep_leftovers(const char *dir, const char *marker, int is_tree)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		long pid = leftover_pid(de->d_name, marker);
		char *path;

		if (!pid || !pid_is_dead(pid) || !(path = norm_join(dir, de->d_name)))
			continue;
		log_debug("normalize: removing %s, left by a run that was stopped", path);
		if (is_tree)
			remove_tree(path);
		else
			unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
}

/* Sweep what runs killed earlier left in data_dir (see sweep_leftovers). */
static void sweep(const struct cfg *cfg)
{
	static const char *const dirs[] = { "tmp", "periods", "quarantine", "cache" };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *dir = norm_join(cfg->data_dir, dirs[i]);

		if (dir)
			sweep_leftovers(dir, i == 0 ? "normalize-" : ".tmp.", i == 0);
		free(dir);
	}
}

static int setup(struct norm *n, struct crm_err *e)
{
	char name[64];
	int rc;

	n->first = n->last = -1;
	n->last_id_len = UINT32_MAX;
	for (int k = 0; k < ENT_COUNT; k++) {
		const struct tab_def *t = tab_for_entity((enum schema_entity)k);

		n->cust_col[k] = -1;
		for (size_t c = 0; c < t->n_cols; c++)
			if (strcmp(t->cols[c].name, "customer_id") == 0)
				n->cust_col[k] = (int)c;
	}
	hmap_init(&n->cust_ids);
	hmap_init(&n->derived);
	hmap_init(&n->strs);
	rc = tz_load(n->cfg->timezone, &n->tz, e);
	if (rc)
		return rc;
	snprintf(name, sizeof(name), "tmp/normalize-%ld", (long)getpid());
	n->tmp_dir = norm_join(n->cfg->data_dir, name);
	n->periods_dir = norm_join(n->cfg->data_dir, "periods");
	n->quarantine_dir = norm_join(n->cfg->data_dir, "quarantine");
	if (!n->tmp_dir || !n->periods_dir || !n->quarantine_dir)
		return norm_nomem(e);
	rc = fsx_mkdirs(n->tmp_dir, e);
	if (rc == 0)
		rc = fsx_mkdirs(n->periods_dir, e);
	if (rc == 0)
		rc = fsx_mkdirs(n->quarantine_dir, e);
	if (rc == 0 && norm_reuse_init(n) != 0)
		rc = norm_nomem(e);

	for (int i = 0; rc == 0 && i < N_BUCKETS; i++) {
		snprintf(name, sizeof(name), "bucket-%02d", i);
		rc = norm_spill_open(&n->buckets[i], n->tmp_dir, name, BUCKET_IOBUF, e);
	}
	return rc;
}

/* The customers map and everything keyed by it (once the dimension has what it needs). */
void norm_release_customers(struct norm *n)
{
	free(n->custs);
	free(n->num.slot);
	n->custs = NULL;
	memset(&n->num, 0, sizeof(n->num)); /* no length left over an array gone */
	n->n_custs = n->cap_custs = 0;
	hmap_release(&n->cust_ids);
	hmap_release(&n->derived);
	hmap_release(&n->strs);
}

static void teardown(struct norm *n)
{
	int i;

	quarantine_close(n, 0, &(struct crm_err){ 0 });
	for (i = 0; i < N_BUCKETS; i++)
		norm_spill_close(&n->buckets[i]);
	for (i = 0; i < n->n_months * ENT_COUNT; i++)
		norm_spill_close(&n->months[i]);
	if (n->tmp_dir)
		rmdir(n->tmp_dir);
	free(n->months);
	free(n->tmp_dir);
	free(n->periods_dir);
	free(n->reuse_dir);
	free(n->quarantine_dir);
	norm_release_customers(n);
	norm_ids_release(&n->direct);
	for (i = 0; i < (int)n->n_files; i++)
		free(n->files[i].location);
	free(n->files);
	free(n->signups);
	inputs_files_release(&n->inputs);
	for (i = 0; i < ENT_COUNT * TAB_MAX_COLS; i++)
		norm_shape_release(&n->shape[i / TAB_MAX_COLS][i % TAB_MAX_COLS]);
	tz_free(n->tz);
}

static int check_rejects(const struct norm *n, struct crm_err *e)
{
	const struct norm_stats *st = n->st;
	double ratio = st->rows_read ? (double)st->rows_rejected / (double)st->rows_read : 0;

	if (st->rows_rejected)
		log_warn("normalize: rejected %llu of %llu rows (%.2f%%); reasons in %s/",
			 (unsigned long long)st->rows_rejected, (unsigned long long)st->rows_read,
			 100 * ratio, n->quarantine_dir);
	if (ratio > n->cfg->max_reject_ratio)
		return err_set(e, CRM_E_DATA,
			       "rejected %llu of %llu rows (%.2f%%), more than max_reject_ratio %g: "
			       "no period file was changed",
			       (unsigned long long)st->rows_rejected, (unsigned long long)st->rows_read,
			       100 * ratio, n->cfg->max_reject_ratio);
	return 0;
}

/* Seconds on a clock (CPU time of the process, or wall time), for the debug log of each pass. */
static double clock_seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The end of a pass in the debug log: CPU and wall seconds since the run started. */
static void log_pass(const char *what, double wall0)
{
	log_debug("normalize: %s done at %.2f s CPU, %.2f s wall", what,
		  clock_seconds(CLOCK_PROCESS_CPUTIME_ID), clock_seconds(CLOCK_MONOTONIC) - wall0);
}

/* The time now, UTC, as in restatement lines: 2026-11-24T21:40:00Z. */
static void utc_now(char *out, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm) || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, n, "1970-01-01T00:00:00Z");
}

/*
 * The description the last complete run left (at `path`,
 * periods/inputs.txt), if that run's output is still there: 1 with *old
 * (caller frees), else 0.
 */
static int old_inputs(const struct cfg *cfg, const char *path, unsigned char **old, size_t *len)
{
	struct crm_err ignored = { 0 };
	char *dir = norm_join(cfg->data_dir, "periods"), *dim = dir ? norm_join(dir, "customers.crmp") : NULL;
	int have = 0;

	*old = NULL;
	*len = 0;
	if (path && dim && access(dim, F_OK) == 0)
		have = fsx_read_file(path, 1 << 26, old, len, &ignored) == 0;
	free(dim);
	free(dir);
	return have;
}

/*
 * Whether there is nothing to do: the inputs are described exactly as the
 * last complete run left them. Only then are the exports hashed before
 * the run: when a name, size or setting differs already, the hashes are
 * not needed to decide and are computed while pass 1 parses, in the same
 * read of each file (read_file).
 */
static int inputs_unchanged(const struct cfg *cfg, struct inputs_files *files, struct buf *now,
			    const char *path, int *rc, struct crm_err *e)
{
	unsigned char *old = NULL;
	size_t len = 0;
	int same = 0;

	if (old_inputs(cfg, path, &old, &len) && inputs_may_match(now, old, len)) {
		*rc = inputs_hash_files(files, now, e);
		same = *rc == 0 && len == now->len && memcmp(old, now->data, len) == 0;
	}
	free(old);
	return same;
}

/*
 * Hash what pass 1 did not read (a described file gone from its glob by
 * the time pass 1 globbed again: hashing it then fails, and the run with
 * it, since its inputs changed under it) and give the hashes to the
 * lineage entries that took theirs from the description before it had
 * them. The error of pass 1, if any, comes first.
 */
static int hash_rest(struct norm *n, struct buf *text, int rc, struct crm_err *e)
{
	size_t i;

	if (rc == 0)
		rc = inputs_hash_files(&n->inputs, text, e);
	for (i = 0; rc == 0 && i < n->n_files; i++)
		if (n->files[i].input)
			memcpy(n->files[i].sha256, n->files[i].input->sha256, sizeof(n->files[i].sha256));
	return rc;
}

int norm_run(const struct cfg *cfg, const struct norm_opts *opts, struct norm_stats *st,
	     struct crm_err *e)
{
	struct norm n;
	struct buf inputs;
	char *inputs_path = NULL;
	double wall0 = clock_seconds(CLOCK_MONOTONIC);
	int rc, i;

	memset(&n, 0, sizeof(n));
	memset(st, 0, sizeof(*st));
#ifdef __GLIBC__
	/*
	 * Pass 3 allocates and frees column arrays of megabytes on two threads.
	 * glibc raises its mmap threshold after each such free, so later arrays
	 * come from the threads' heaps, which are not given back: resident
	 * memory crept up month after month. A fixed threshold keeps big
	 * blocks in their own mappings, returned on free.
	 */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
	st->first_period = st->last_period = -1;
	buf_init(&inputs, 1 << 26);
	sweep(cfg);
	rc = inputs_describe(cfg, &inputs, &n.inputs, 0, e);
	inputs_path = norm_join(cfg->data_dir, "periods/inputs.txt");
	if (rc == 0 && !opts->force && !opts->has_range &&
	    inputs_unchanged(cfg, &n.inputs, &inputs, inputs_path, &rc, e) && rc == 0) {
		st->unchanged_inputs = 1;
		inputs_files_release(&n.inputs);
		goto done;
	}
	utc_now(n.run_time, sizeof(n.run_time));
	n.cfg = cfg;
	n.opts = opts;
	n.st = st;
	if (rc == 0)
		rc = setup(&n, e);
	if (rc == 0)
		rc = hash_rest(&n, &inputs, read_sources(&n, &inputs, e), e);
	log_pass("pass 1 (read and validate)", wall0);
	if (rc == 0)
		rc = map_derived(&n, e);
	if (rc == 0)
		rc = dedupe_all(&n, e);
	for (i = 0; rc == 0 && i < n.n_months * ENT_COUNT; i++)
		rc = norm_spill_seal(&n.months[i], e);
	log_pass("pass 2 (deduplicate)", wall0);
	if (rc == 0)
		rc = check_rejects(&n, e);
	/*
	 * The dimension first: then the customers map can go before the
	 * months are written in parallel (memory).
	 */
	if (rc == 0)
		rc = norm_plan_periods(&n, e);
	if (rc == 0)
		rc = norm_write_dimension(&n, e);
	log_pass("customers dimension", wall0);
	norm_release_customers(&n);
	if (rc == 0)
		rc = norm_write_periods(&n, e);
	log_pass("pass 3 (period files)", wall0);
	if (rc == 0 && st->periods_reencoded)
		log_info("normalize: %d period files rewritten in this crmetl's encoding with the same "
			 "rows (no restatement)", st->periods_reencoded);
	/*
	 * Record the inputs only after a complete run; a partial one (--period)
	 * leaves other periods as they were, so the next full run must look.
	 */
	if (inputs_path && rc == 0 && !opts->has_range)
		rc = fsx_write_atomic(inputs_path, inputs.data, inputs.len, e);
	else if (inputs_path && rc == 0)
		unlink(inputs_path);
	st->first_period = n.first;
	st->last_period = n.last;
	teardown(&n);
done:
	buf_release(&inputs);
	free(inputs_path);
	return rc;
}
