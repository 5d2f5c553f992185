/*
 * norm_write.c - normalize, pass 3: each month's rows into canonical order
 * and a period file (written on parallel threads, one month each, only when
 * its bytes change), then the customers dimension.
 */
#include "norm_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsx.h"
#include "lineage.h"
#include "log.h"
#include "period.h"
#include "sortx.h"
#include "val.h"

#include "banned.h"

/* ------------------------------------------------------------ pass 3: write */

/*
 * How a string column's values look so far, learnt row by row while the
 * month is loaded (in spill order, while each value is in cache):
 * - numbered: all "prefix + exactly width digits": kept as numbers too, so
 *   sorting and writing never read the strings again (after the sort they
 *   lie scattered over the whole month: a cache miss each);
 * - few distinct values: each row points at the first copy of its value,
 *   so the writer's dictionary finds them in cache.
 */
#define FEW_VALUES 32

struct strshape {
	int numbered;            /* 1 while every value so far fits, -1 once one did not, 0 before any */
	char prefix[16];
	uint32_t plen, width;
	size_t n_few;            /* distinct values in few[], or FEW_VALUES + 1 once too many */
	const char *few[FEW_VALUES];
	uint32_t few_len[FEW_VALUES];
};

/* The rows of one table of one month, column by column. */
struct cols {
	const struct tab_def *t;
	size_t rows, cap;
	int64_t *iv[TAB_MAX_COLS];     /* integers; numbered strings' numbers */
	uint8_t *pres[TAB_MAX_COLS];
	const char **sv[TAB_MAX_COLS];
	uint32_t *sl[TAB_MAX_COLS];
	struct strshape shape[TAB_MAX_COLS];
};

static void cols_release(struct cols *c)
{
	size_t i;

	for (i = 0; i < TAB_MAX_COLS; i++) {
		free(c->iv[i]);
		free(c->pres[i]);
		free(c->sv[i]);
		free(c->sl[i]);
	}
	memset(c, 0, sizeof(*c));
}

static int is_str_col(const struct cols *c, size_t i)
{
	return tab_col_type(c->t->cols[i].kind) == CRMP_STR;
}

/* A string column that is numbered from its first row to its last. */
static int is_numbered(const struct cols *c, size_t i)
{
	return is_str_col(c, i) && c->shape[i].numbered == 1;
}

/* Size every column for `cap` rows: integers need values, strings pointers, lengths and numbers. */
static int cols_reserve(struct cols *c, size_t cap)
{
	size_t i;

	if (cap <= c->cap)
		return 0;
	for (i = 0; i < c->t->n_cols; i++) {
		void *a = realloc(c->pres[i], cap);

		if (!a)
			return -1;
		c->pres[i] = a;
		if (!(a = realloc(c->iv[i], cap * sizeof(int64_t))))
			return -1;
		c->iv[i] = a;
		if (!is_str_col(c, i))
			continue;
		if (!(a = realloc(c->sv[i], cap * sizeof(char *))))
			return -1;
		c->sv[i] = a;
		if (!(a = realloc(c->sl[i], cap * sizeof(uint32_t))))
			return -1;
		c->sl[i] = a;
	}
	c->cap = cap;
	return 0;
}

/* Its number when `s` has the column's numbered shape (taking the shape from the first value). */
static int shape_number(struct strshape *h, const char *s, uint32_t len, int64_t *num)
{
	uint32_t d = 0, k;
	int64_t v = 0;

	if (h->numbered == 0) {
		while (d < len && s[len - 1 - d] >= '0' && s[len - 1 - d] <= '9')
			d++;
		if (d == 0 || d > 18 || len - d >= sizeof(h->prefix))
			return -1;
		memcpy(h->prefix, s, len - d);
		h->plen = len - d;
		h->width = d;
		h->numbered = 1;
	}
	if (len != h->plen + h->width || memcmp(s, h->prefix, h->plen) != 0)
		return -1;
	for (k = h->plen; k < len; k++) {
		unsigned digit = (unsigned char)s[k] - '0';

		if (digit > 9)
			return -1;
		v = v * 10 + digit;
	}
	*num = v;
	return 0;
}

/* The first copy of a value of a column with few distinct values, or s itself. */
static const char *few_value(struct strshape *h, const char *s, uint32_t len)
{
	size_t k;

	if (h->n_few > FEW_VALUES)
		return s;
	for (k = 0; k < h->n_few; k++)
		if (h->few_len[k] == len && memcmp(h->few[k], s, len) == 0)
			return h->few[k];
	if (h->n_few == FEW_VALUES) {
		h->n_few++; /* too many: stop looking */
		return s;
	}
	h->few[h->n_few] = s;
	h->few_len[h->n_few++] = len;
	return s;
}

static void add_str(struct cols *c, size_t i, size_t k, const struct row *r)
{
	struct strshape *h = &c->shape[i];

	c->sv[i][k] = NULL;
	c->sl[i][k] = r->sl[i];
	c->iv[i][k] = 0;
	if (!r->present[i])
		return;
	if (h->numbered >= 0 && shape_number(h, r->sv[i], r->sl[i], &c->iv[i][k]))
		h->numbered = -1;
	c->sv[i][k] = h->numbered < 0 ? few_value(h, r->sv[i], r->sl[i]) : r->sv[i];
}

static int cols_add(struct cols *c, const struct row *r)
{
	size_t i, k = c->rows;

	if (k == c->cap && cols_reserve(c, c->cap ? c->cap * 2 : 1024))
		return -1;
	for (i = 0; i < c->t->n_cols; i++) {
		c->pres[i][k] = r->present[i];
		if (!is_str_col(c, i))
			c->iv[i][k] = r->iv[i];
		else
			add_str(c, i, k, r);
	}
	c->rows++;
	return 0;
}

static int cmp_str(const char *a, uint32_t la, const char *b, uint32_t lb)
{
	int r;

	if (!a || !b)
		return (a != NULL) - (b != NULL);
	r = memcmp(a, b, la < lb ? la : lb);
	return r ? r : (la > lb) - (la < lb);
}

/* Full comparison of rows i and j by the table's sort key. */
static int cmp_rows(uint32_t i, uint32_t j, const void *ctx)
{
	const struct cols *c = ctx;
	size_t k;

	for (k = 0; k < c->t->n_keys; k++) {
		int col = c->t->keys[k], r;

		if (is_str_col(c, col) && !is_numbered(c, (size_t)col)) {
			r = cmp_str(c->sv[col][i], c->sl[col][i], c->sv[col][j], c->sl[col][j]);
		} else {
			/* Numbered strings: same prefix and width, so numbers order as the text. */
			int64_t a = c->pres[col][i] ? c->iv[col][i] : INT64_MIN;
			int64_t b = c->pres[col][j] ? c->iv[col][j] : INT64_MIN;

			r = (a > b) - (a < b);
		}
		if (r)
			return r;
	}
	/* Equal keys: rows are equal in every column that matters; keep input order. */
	return (i > j) - (i < j);
}

/*
 * The first sort key as an unsigned number with the same order: integers
 * with the sign bit flipped (absent = smallest), strings by their first
 * eight bytes, big-endian, zero-padded. Ties go to cmp_rows.
 */
static uint64_t *primary_keys(const struct cols *c)
{
	uint64_t *keys = malloc((c->rows ? c->rows : 1) * sizeof(*keys));
	int col = c->t->keys[0];
	size_t i, b;

	for (i = 0; keys && i < c->rows; i++) {
		if (!is_str_col(c, (size_t)col) || is_numbered(c, (size_t)col)) {
			keys[i] = c->pres[col][i] ? (uint64_t)c->iv[col][i] ^ ((uint64_t)1 << 63) : 0;
			continue;
		}
		keys[i] = 0;
		for (b = 0; b < 8; b++)
			keys[i] = keys[i] << 8 |
				  (c->sv[col][i] && b < c->sl[col][i] ? (unsigned char)c->sv[col][i][b] : 0);
	}
	return keys;
}

/* Put column k in the order perm gives, one column at a time (memory). */
static int permute(struct cols *c, size_t k, const uint32_t *perm)
{
	size_t n = c->cap ? c->cap : 1, i;
	uint8_t *pres = malloc(n);

	if (!pres)
		return -1;
	for (i = 0; i < c->rows; i++)
		pres[i] = c->pres[k][perm[i]];
	free(c->pres[k]);
	c->pres[k] = pres;
	/* Numbered strings travel as their numbers; their sv/sl are not used again. */
	if (!is_str_col(c, k) || is_numbered(c, k)) {
		int64_t *iv = malloc(n * sizeof(*iv));

		if (!iv)
			return -1;
		for (i = 0; i < c->rows; i++)
			iv[i] = c->iv[k][perm[i]];
		free(c->iv[k]);
		c->iv[k] = iv;
	} else {
		const char **sv = malloc(n * sizeof(*sv));
		uint32_t *sl = malloc(n * sizeof(*sl));

		if (!sv || !sl) {
			free(sv);
			free(sl);
			return -1;
		}
		for (i = 0; i < c->rows; i++) {
			sv[i] = c->sv[k][perm[i]];
			sl[i] = c->sl[k][perm[i]];
		}
		free(c->sv[k]);
		free(c->sl[k]);
		c->sv[k] = sv;
		c->sl[k] = sl;
	}
	return 0;
}

/* Sort rows into canonical order by permuting every column. */
static int cols_sort(struct cols *c)
{
	uint32_t *perm = malloc((c->rows ? c->rows : 1) * sizeof(*perm));
	uint64_t *keys = primary_keys(c);
	size_t i, k;
	int rc = -1;

	if (c->rows == 0) {
		rc = 0;
		goto out;
	}

	if (!perm || !keys)
		goto out;
	for (i = 0; i < c->rows; i++)
		perm[i] = (uint32_t)i;
	if (sortx_by_key(perm, c->rows, keys, cmp_rows, c))
		goto out;
	for (k = 0; k < c->t->n_cols; k++)
		if (permute(c, k, perm))
			goto out;
	rc = 0;
out:
	free(perm);
	free(keys);
	return rc;
}

static int add_table(struct crmp_writer *w, const struct cols *c, struct crm_err *e)
{
	size_t k;
	int rc = crmp_writer_table(w, c->t->name, c->rows, e);

	for (k = 0; rc == 0 && k < c->t->n_cols; k++) {
		const struct strshape *h = &c->shape[k];

		if (is_numbered(c, k))
			rc = crmp_writer_numbered(w, c->t->cols[k].name, h->prefix, h->plen, h->width,
						  c->iv[k], c->pres[k], e);
		else if (is_str_col(c, k))
			rc = crmp_writer_str(w, c->t->cols[k].name, c->sv[k], c->sl[k], e);
		else
			rc = crmp_writer_int(w, c->t->cols[k].name, c->iv[k],
					     c->t->cols[k].nullable ? c->pres[k] : NULL, e);
	}
	return rc;
}

/* The meta table's columns: the writer borrows them until it encodes. */
struct meta {
	uint32_t klen[4], vlen[4];
	const char *vals[4];
};

/* The meta table: key/value strings saying what the file holds. */
static int add_meta(struct crmp_writer *w, const struct norm *n, const char *what,
		    struct meta *m, struct crm_err *e)
{
	static const char *const keys[] = { "currency", "format", "period", "timezone" };
	uint32_t *klen = m->klen, *vlen = m->vlen;
	const char **vals = m->vals;
	int i, rc;

	vals[0] = n->cfg->currency;
	vals[1] = "crmetl period 1";
	vals[2] = what;
	vals[3] = n->cfg->timezone;
	for (i = 0; i < 4; i++) {
		klen[i] = (uint32_t)strlen(keys[i]);
		vlen[i] = (uint32_t)strlen(vals[i]);
	}
	rc = crmp_writer_table(w, "meta", 4, e);
	if (rc == 0)
		rc = crmp_writer_str(w, "key", keys, klen, e);
	if (rc == 0)
		rc = crmp_writer_str(w, "value", vals, vlen, e);
	return rc;
}

/* The first money column of a table, or -1: its sum is the table's total. */
static int money_col(const struct tab_def *t)
{
	size_t c;

	for (c = 0; c < t->n_cols; c++)
		if (t->cols[c].kind == TK_MONEY)
			return (int)c;
	return -1;
}

/* Sum of the first money column of table `name` in an old period file. */
static int64_t old_total(const struct crmp_file *f, const struct tab_def *td)
{
	struct crm_err e = { 0 };
	int mc = money_col(td), t = crmp_find_table(f, td->name);
	int c = t >= 0 && mc >= 0 ? crmp_find_column(f, t, td->cols[mc].name) : -1;
	uint64_t rows = t >= 0 ? crmp_table_info(f, (size_t)t)->rows : 0, i;
	int64_t *v = c >= 0 ? malloc((rows ? rows : 1) * sizeof(*v)) : NULL, sum = 0;

	if (v && crmp_read_int(f, t, c, v, NULL, &e) == 0)
		for (i = 0; i < rows; i++)
			sum += v[i];
	free(v);
	return sum;
}

static int64_t new_total(const struct cols *c)
{
	int mc = money_col(c->t);
	int64_t sum = 0;
	size_t i;

	for (i = 0; mc >= 0 && i < c->rows; i++)
		if (c->pres[mc][i])
			sum += c->iv[mc][i];
	return sum;
}

/*
 * What changed when an existing period file is replaced (a restatement):
 * rows and totals per table, old -> new, into the lineage record (one line
 * per table) and the log (tables whose rows changed, order amounts).
 */
static int restatement(const char *path, const struct cols *tabs, const char *name,
		       const char *when, struct lineage *lin, struct crm_err *e)
{
	struct crmp_file *old = NULL;
	struct crm_err ignored = { 0 };
	struct lineage_change ch;
	char line[768], a[32], b[32];
	size_t len = 0, k;
	uint32_t seq = lineage_next_seq(lin);
	int rc = 0;

	if (crmp_open(path, &old, &ignored) != 0) {
		log_warn("normalize: replacing unreadable %s", path);
		return 0;
	}
	line[0] = '\0';
	for (k = ENT_ORDERS; rc == 0 && k < ENT_COUNT; k++) {
		int t = crmp_find_table(old, tabs[k].t->name);

		memset(&ch, 0, sizeof(ch));
		ch.seq = seq;
		memcpy(ch.when, when, LINEAGE_TIME_LEN); /* run_time has exactly this shape */
		ch.table = tabs[k].t->name;
		ch.old_rows = t >= 0 ? crmp_table_info(old, (size_t)t)->rows : 0;
		ch.new_rows = tabs[k].rows;
		ch.has_total = money_col(tabs[k].t) >= 0;
		ch.old_total = ch.has_total ? old_total(old, tabs[k].t) : 0;
		ch.new_total = ch.has_total ? new_total(&tabs[k]) : 0;
		rc = lineage_add_change(lin, &ch, e);
		if (ch.old_rows != ch.new_rows && len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s %llu -> %llu rows;",
						ch.table, (unsigned long long)ch.old_rows,
						(unsigned long long)ch.new_rows);
		if (k == ENT_ORDERS) {
			val_format_money(ch.old_total, a);
			val_format_money(ch.new_total, b);
		}
	}
	crmp_close(old);
	log_info("normalize: restated %s:%s order amounts %s -> %s", name, line, a, b);
	return rc;
}

/* What writing one month did; months are written in parallel, then added up. */
struct month_out {
	int period;
	int rc;
	struct crm_err err;
	int written, unchanged, restated;
	uint64_t kept[ENT_COUNT];
};

/*
 * Write the period file unless it already holds these bytes (--force writes
 * anyway). Replacing different bytes is a restatement, said in the log.
 */
static int publish(const struct norm *n, struct crmp_writer *w, const char *path,
		   const struct cols *tabs, const char *name, struct month_out *mo,
		   struct lineage *lin, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int rc = crmp_writer_encode(w, &data, &len, e), existed = access(path, F_OK) == 0;

	if (rc == 0 && existed && fsx_same_content(path, data, len) && !n->opts->force) {
		mo->unchanged++;
		free(data);
		return 0;
	}
	if (rc == 0 && existed && !fsx_same_content(path, data, len)) {
		mo->restated++;
		rc = restatement(path, tabs, name, n->run_time, lin, e);
	}
	if (rc == 0)
		rc = fsx_write_atomic(path, data, len, e);
	if (rc == 0) {
		mo->written++;
		log_debug("normalize: wrote %s (%zu bytes)", path, len);
	}
	free(data);
	return rc;
}

static int in_range(const struct norm *n, int period)
{
	return !n->opts->has_range || (period >= n->opts->from && period <= n->opts->to);
}

/* Count a month's rows per table first: exact sizes, no doubling, no copies. */
static int presize(struct cols *tabs, const unsigned char *data, size_t len, struct crm_err *e)
{
	size_t count[ENT_COUNT] = { 0 }, k;
	const unsigned char *p = data, *end = data + len;
	struct srec r;

	while (norm_next_srec(&p, end, &r) == 1)
		count[r.entity]++;
	for (k = ENT_ORDERS; k < ENT_COUNT; k++)
		if (count[k] && cols_reserve(&tabs[k], count[k]))
			return norm_nomem(e);
	return 0;
}

/* Customers of file `file` whose signup falls in `period` (see count_signups). */
static uint64_t signups(const struct norm *n, int period, size_t file)
{
	return n->signups ? n->signups[(size_t)(period - n->first) * n->n_files + file] : 0;
}

/*
 * Start the lineage of a period: the restatements of its previous record
 * (kept alive in *old, which the new one borrows from) and a line per file
 * with rows kept in it. A damaged old record loses its history, said in
 * the log; it never stops the run.
 */
static int lineage_start(const struct norm *n, int period, const char *path, const uint64_t *kept,
			 struct lineage *old, struct lineage *lin, struct crm_err *e)
{
	struct crm_err le = { 0 };
	char msg[1024];
	size_t i;
	int rc = 0;

	memset(lin, 0, sizeof(*lin));
	lin->period = period;
	if (lineage_read(path, old, &le) != 0 && !(le.code == CRM_E_INPUT && le.sys_errno == ENOENT))
		log_warn("normalize: restatement history lost: %s", err_format(&le, msg, sizeof(msg)));
	for (i = 0; rc == 0 && i < old->n_changes; i++)
		rc = lineage_add_change(lin, &old->changes[i], e);
	for (i = 0; rc == 0 && i < n->n_files; i++) {
		const struct norm_file *f = &n->files[i];
		const struct cfg_source *src = &n->cfg->sources[f->source];
		struct lineage_file lf;

		memset(&lf, 0, sizeof(lf));
		lf.kept = src->entity == ENT_CUSTOMERS ? signups(n, period, i) : kept[i];
		if (lf.kept == 0)
			continue;
		lf.source = src->name;
		lf.entity = schema_entity(src->entity)->name;
		lf.location = f->location;
		memcpy(lf.sha256, f->sha256, sizeof(lf.sha256));
		lf.bytes = f->bytes;
		lf.rows_read = f->rows_read;
		lf.rows_rejected = f->rows_rejected;
		lf.table = tab_for_entity(src->entity)->name;
		rc = lineage_add_file(lin, &lf, e);
	}
	return rc;
}

/* Load a month's spill file into columns, counting the rows kept per file. */
static int load_month(const struct norm *n, struct spill *s, struct cols *tabs, uint64_t *kept,
		      unsigned char **data, struct crm_err *e)
{
	const unsigned char *p, *end;
	struct srec r;
	struct row row;
	size_t len = 0;
	int got, rc = 0;

	*data = NULL;
	if (s)
		rc = norm_spill_load(s, data, &len, e);
	rc = rc ? rc : presize(tabs, *data, len, e);
	for (p = *data, end = *data + len; rc == 0 && (got = norm_next_srec(&p, end, &r)) != 0;) {
		if (got < 0 || r.entity == ENT_CUSTOMERS || r.file >= n->n_files ||
		    norm_decode_row(r.payload, r.payload + r.len, tabs[r.entity].t, &row, 0, NULL))
			rc = norm_damaged_spill(s, e);
		else if (cols_add(&tabs[r.entity], &row))
			rc = norm_nomem(e);
		else
			kept[r.file]++;
	}
	return rc;
}

static int write_month(const struct norm *n, int period, struct month_out *mo,
		       struct crm_err *e)
{
	struct spill *s = (period >= n->month_base && period < n->month_base + n->n_months)
				  ? &n->months[period - n->month_base] : NULL;
	struct cols tabs[ENT_COUNT];
	struct crmp_writer *w = NULL;
	struct lineage lin = { 0 }, old = { 0 };
	struct meta meta;
	unsigned char *data = NULL;
	uint64_t *kept = calloc(n->n_files + 1, sizeof(*kept));
	char text[PERIOD_TEXT_MAX], name[32], *path = NULL, *lpath = NULL;
	size_t k;
	int rc = kept ? 0 : norm_nomem(e);

	memset(tabs, 0, sizeof(tabs));
	for (k = ENT_ORDERS; k < ENT_COUNT; k++)
		tabs[k].t = tab_for_entity((enum schema_entity)k);
	rc = rc ? rc : load_month(n, s, tabs, kept, &data, e);
	period_format(period, text);
	snprintf(name, sizeof(name), "%s.crmp", text);
	w = crmp_writer_new(CRMP_PERIOD, period);
	if (rc == 0 && !w)
		rc = norm_nomem(e);
	if (rc == 0)
		rc = add_meta(w, n, text, &meta, e);
	for (k = ENT_ORDERS; rc == 0 && k < ENT_COUNT; k++) {
		if (cols_sort(&tabs[k]))
			rc = norm_nomem(e);
		else
			rc = add_table(w, &tabs[k], e);
		mo->kept[k] += tabs[k].rows;
	}
	if (rc == 0 && !(path = norm_join(n->periods_dir, name)))
		rc = norm_nomem(e);
	snprintf(name, sizeof(name), "%s.lineage", text);
	if (rc == 0 && !(lpath = norm_join(n->periods_dir, name)))
		rc = norm_nomem(e);
	if (rc == 0)
		rc = lineage_start(n, period, lpath, kept, &old, &lin, e);
	if (rc == 0)
		rc = publish(n, w, path, tabs, text, mo, &lin, e);
	/* After the period file: the record describes what is there. */
	if (rc == 0)
		rc = lineage_write(lpath, &lin, NULL, e);
	crmp_writer_free(w);
	for (k = 0; k < ENT_COUNT; k++)
		cols_release(&tabs[k]);
	lineage_release(&lin);
	lineage_release(&old);
	free(kept);
	free(data);
	free(path);
	free(lpath);
	if (s)
		norm_spill_close(s);
	return rc;
}

/* The customers dimension, sorted by customer_id. */
int norm_write_dimension(struct norm *n, struct crm_err *e)
{
	const struct tab_def *t = tab_for_entity(ENT_CUSTOMERS);
	struct cols c = { 0 };
	struct crmp_writer *w = NULL;
	struct meta meta;
	struct row row;
	char *path = NULL;
	size_t i, k;
	int rc = 0;

	c.t = t;
	for (i = 0; rc == 0 && i <= n->cust_ids.mask && n->cust_ids.slots; i++) {
		const struct hmap_slot *slot = &n->cust_ids.slots[i];
		const struct cust *cu;
		size_t len;

		if (!slot->hash)
			continue;
		cu = &n->custs[slot->value];
		memset(&row, 0, sizeof(row));
		row.sv[0] = (const char *)hmap_key(&n->cust_ids, slot->key, &len);
		row.sl[0] = (uint32_t)len;
		row.present[0] = 1;
		row.iv[1] = cu->signup_day;
		row.present[1] = cu->signup_day != NO_DAY;
		for (k = 0; k < 4; k++) {
			row.present[2 + k] = cu->attr[k] != 0;
			if (cu->attr[k]) {
				row.sv[2 + k] = (const char *)hmap_key(&n->strs, cu->attr[k] - 1, &len);
				row.sl[2 + k] = (uint32_t)len;
			}
		}
		row.iv[6] = cu->churn_day;
		row.present[6] = cu->churn_day != NO_DAY;
		row.iv[7] = cu->derived;
		row.present[7] = 1;
		if (cols_add(&c, &row))
			rc = norm_nomem(e);
	}
	if (rc == 0 && cols_sort(&c))
		rc = norm_nomem(e);
	n->st->kept[ENT_CUSTOMERS] = c.rows;
	if (rc == 0 && !(w = crmp_writer_new(CRMP_DIMENSION, 0)))
		rc = norm_nomem(e);
	if (rc == 0)
		rc = add_meta(w, n, "dimension", &meta, e);
	if (rc == 0)
		rc = add_table(w, &c, e);
	if (rc == 0 && !(path = norm_join(n->periods_dir, "customers.crmp")))
		rc = norm_nomem(e);
	if (rc == 0) {
		int changed = 0;

		rc = crmp_writer_commit(w, path, &changed, e);
		if (rc == 0 && changed)
			log_debug("normalize: wrote %s", path);
	}
	free(path);
	crmp_writer_free(w);
	cols_release(&c);
	return rc;
}


/* Months with data start at the first signup too: a base can exist before its first order. */
static void widen_to_signups(struct norm *n)
{
	size_t i;

	for (i = 0; i < n->n_custs; i++) {
		int p;

		if (n->custs[i].signup_day == NO_DAY)
			continue;
		p = norm_period_of_day(n->custs[i].signup_day);
		if (n->first < 0 || p < n->first)
			n->first = p;
		if (p > n->last)
			n->last = p;
	}
}

/*
 * Customers are not in period files, but their signups give each period
 * its new customers: count them per period and per customers file, once,
 * before the months are written in parallel.
 */
static int count_signups(struct norm *n, struct crm_err *e)
{
	size_t i;

	if (n->first < 0 || n->n_files == 0)
		return 0;
	n->signups = calloc((size_t)(n->last - n->first + 1) * n->n_files, sizeof(*n->signups));
	if (!n->signups)
		return norm_nomem(e);
	for (i = 0; i < n->n_custs; i++) {
		const struct cust *c = &n->custs[i];

		if (!c->derived && c->signup_day != NO_DAY && c->file < n->n_files)
			n->signups[(size_t)(norm_period_of_day(c->signup_day) - n->first) * n->n_files +
				   c->file]++;
	}
	return 0;
}

/* Months are independent: workers take the next one until none is left. */
struct pool {
	const struct norm *n;
	struct month_out *out;
	int count;
	int next;              /* next month to take, under `lock` */
	pthread_mutex_t lock;
};

static void *worker(void *arg)
{
	struct pool *pl = arg;

	for (;;) {
		struct month_out *mo;
		int i;

		pthread_mutex_lock(&pl->lock);
		i = pl->next < pl->count ? pl->next++ : -1;
		pthread_mutex_unlock(&pl->lock);
		if (i < 0)
			return NULL;
		mo = &pl->out[i];
		mo->rc = write_month(pl->n, mo->period, mo, &mo->err);
		if (mo->rc) { /* stop taking months: the run fails anyway */
			pthread_mutex_lock(&pl->lock);
			pl->next = pl->count;
			pthread_mutex_unlock(&pl->lock);
		}
	}
}

/* Worker threads: the cores, at most 4 (each holds one month in memory). */
static int n_workers(int months)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int w = cores < 1 ? 1 : cores > 4 ? 4 : (int)cores;

	return w < months ? w : months;
}

int norm_write_periods(struct norm *n, struct crm_err *e)
{
	struct pool pl = { n, NULL, 0, 0, PTHREAD_MUTEX_INITIALIZER };
	pthread_t threads[4];
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	int p, i, k, started = 0, rc = 0;

	widen_to_signups(n);
	if (count_signups(n, e))
		return e->code;
	if (n->opts->has_range && (n->first < 0 || n->opts->to < n->first || n->opts->from > n->last))
		log_warn("normalize: no data in %s..%s", period_format(n->opts->from, a),
			 period_format(n->opts->to, b));
	pl.out = calloc(n->first >= 0 ? (size_t)(n->last - n->first + 1) : 1, sizeof(*pl.out));
	if (!pl.out)
		return norm_nomem(e);
	for (p = n->first; n->first >= 0 && p <= n->last; p++)
		if (in_range(n, p))
			pl.out[pl.count++].period = p;
	for (i = 0; i < n_workers(pl.count); i++)
		if (pthread_create(&threads[i], NULL, worker, &pl) == 0)
			started++;
	if (started == 0)
		worker(&pl); /* no thread could start: do the work here */
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	/* Report the first failed month, in month order, like a serial run would. */
	for (i = 0; i < pl.count && rc == 0; i++) {
		struct month_out *mo = &pl.out[i];

		if (mo->rc) {
			*e = mo->err;
			rc = mo->rc;
		}
		n->st->periods_written += mo->written;
		n->st->periods_unchanged += mo->unchanged;
		n->st->periods_restated += mo->restated;
		for (k = 0; k < ENT_COUNT; k++)
			n->st->kept[k] += mo->kept[k];
	}
	free(pl.out);
	return rc;
}
