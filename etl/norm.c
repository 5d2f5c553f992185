/*
 * norm.c - the normalize stage (see norm.h for the three passes).
 *
 * Owns: the spill directory <data_dir>/tmp/normalize-<pid> (removed at the
 * end, also on failure), quarantine files, period files and the customers
 * dimension. Does not fetch (fetch stage) and computes no metric: rows are
 * validated and placed, never aggregated.
 *
 * Spill records: u8 entity, varint period, varint payload length, payload.
 * The payload is the table's columns in order (tables.c), each a presence
 * byte then a zigzag varint (integers) or a varint length and the bytes
 * (strings). Id columns come first in every table, so the dedupe key of a
 * record is its entity byte plus a prefix of its payload.
 */
#include "norm.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crmp.h"
#include "csvr.h"
#include "fetch.h"
#include "fsx.h"
#include "hmap.h"
#include "inputs.h"
#include "ins.h"
#include "log.h"
#include "period.h"
#include "rec.h"
#include "sortx.h"
#include "tables.h"
#include "tz.h"
#include "val.h"
#include "xmlr.h"

#include "banned.h"

#define N_BUCKETS 16
#define SPILL_MAX ((size_t)1 << 31)  /* one bucket or month held in memory */
#define TEXT_MAX 255                 /* channel, region, tier values */
#define NO_DAY INT32_MIN

/* A validated row, columns as in its table (tables.h). */
struct row {
	int64_t iv[TAB_MAX_COLS];
	const char *sv[TAB_MAX_COLS];
	uint32_t sl[TAB_MAX_COLS];
	uint8_t present[TAB_MAX_COLS];
};

/* One customer of the dimension. Strings are offsets + 1 into `strs` (0 = none). */
struct cust {
	int32_t signup_day;  /* NO_DAY: derived customer without a completed order yet */
	int32_t churn_day;   /* NO_DAY: none */
	uint32_t attr[4];    /* channel, region, tier, referred_by */
	uint8_t derived;
};

struct spill {
	FILE *f;
	char *path;
};

struct norm {
	const struct cfg *cfg;
	const struct norm_opts *opts;
	struct norm_stats *st;
	struct tz *tz;
	char *tmp_dir, *periods_dir, *quarantine_dir;

	struct hmap cust_ids;    /* customer_id -> index in custs */
	struct cust *custs;
	size_t n_custs, cap_custs;
	struct hmap strs;        /* interned customer attribute strings */
	char last_id[SCHEMA_ID_MAX];  /* the last customer id found known */
	uint32_t last_id_len;         /* its length, or UINT32_MAX for none */

	struct spill buckets[N_BUCKETS];
	struct spill *months;    /* indexed by period - month_base */
	int month_base, n_months;
	int first, last;         /* months with data, -1 when none */
	struct buf rec;          /* scratch for one encoded record */

	FILE *quarantine;        /* of the source being read */
	char *quarantine_tmp, *quarantine_path;
};

/* ------------------------------------------------------------ helpers */

static char *join(const char *a, const char *b)
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

static int nomem(struct crm_err *e)
{
	return err_set(e, CRM_E_NOMEM, "out of memory while normalizing");
}

/* The period (month) holding local day `day`. */
static int period_of_day(int32_t day)
{
	int64_t y;
	int m, d;

	tz_civil_from_days(day, &y, &m, &d);
	return (int)(y * 12 + m - 1);
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
	n->quarantine_path = join(n->quarantine_dir, name);
	snprintf(name, sizeof(name), "%s.csv.tmp.%ld", source, (long)getpid());
	n->quarantine_tmp = join(n->quarantine_dir, name);
	if (!n->quarantine_path || !n->quarantine_tmp)
		return nomem(e);
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

/* ------------------------------------------------------------ customers */

/* Intern a customer attribute: a stable handle (offset + 1) into n->strs. */
static uint32_t intern(struct norm *n, const char *s, uint32_t len)
{
	uint32_t off;
	int is_new;

	if (!hmap_put(&n->strs, s, len, 0, &is_new, &off))
		return UINT32_MAX;
	return off + 1;
}

/* Find or create the customer `id`; returns its index or -1 (out of memory). */
static long customer_slot(struct norm *n, const char *id, uint32_t len, int *is_new)
{
	uint32_t *v = hmap_put(&n->cust_ids, id, len, (uint32_t)n->n_custs, is_new, NULL);

	if (!v)
		return -1;
	if (*is_new) {
		if (n->n_custs == n->cap_custs) {
			size_t cap = n->cap_custs ? n->cap_custs * 2 : 4096;
			struct cust *c = realloc(n->custs, cap * sizeof(*c));

			if (!c)
				return -1;
			n->custs = c;
			n->cap_custs = cap;
		}
		memset(&n->custs[n->n_custs], 0, sizeof(n->custs[0]));
		n->custs[n->n_custs].signup_day = NO_DAY;
		n->custs[n->n_custs].churn_day = NO_DAY;
		n->n_custs++;
	}
	return (long)*v;
}

/* A valid customers row: the last valid occurrence of an id wins. */
static int keep_customer(struct norm *n, const struct row *r, struct crm_err *e)
{
	int is_new, i;
	long k = customer_slot(n, r->sv[0], r->sl[0], &is_new);
	struct cust *c;

	if (k < 0)
		return nomem(e);
	if (!is_new)
		n->st->duplicates++;
	c = &n->custs[k];
	c->signup_day = (int32_t)r->iv[1];
	c->churn_day = r->present[6] ? (int32_t)r->iv[6] : NO_DAY;
	c->derived = 0;
	for (i = 0; i < 4; i++) {
		c->attr[i] = r->present[2 + i] ? intern(n, r->sv[2 + i], r->sl[2 + i]) : 0;
		if (c->attr[i] == UINT32_MAX)
			return nomem(e);
	}
	return 0;
}

/*
 * Exports often list a customer's rows together, so the last id looked up
 * is remembered: a memcmp instead of a hash-table probe that misses cache.
 */
static int known_customer(struct norm *n, const char *id, uint32_t len)
{
	if (len == n->last_id_len && len <= SCHEMA_ID_MAX && memcmp(id, n->last_id, len) == 0)
		return 1;
	if (!hmap_get(&n->cust_ids, id, len))
		return 0;
	if (len <= SCHEMA_ID_MAX) {
		memcpy(n->last_id, id, len);
		n->last_id_len = len;
	}
	return 1;
}

/* ------------------------------------------------------------ validation */

struct bad {
	const char *field;
	const char *value;
	size_t len;
	const char *reason;
	char text[160];
};

static int reject(struct bad *b, const char *field, const char *value, size_t len,
		  const char *reason)
{
	b->field = field;
	b->value = value;
	b->len = len;
	b->reason = reason;
	return -1;
}

static int check_string(const struct schema_field *f, const char *s, size_t len, struct bad *b)
{
	size_t i;

	if (f->type == FT_ID && len > SCHEMA_ID_MAX)
		return reject(b, f->name, s, len, "id longer than 64 bytes");
	if (f->type == FT_TEXT && len > TEXT_MAX)
		return reject(b, f->name, s, len, "value longer than 255 bytes");
	if (f->type == FT_WORD) {
		if (len > SCHEMA_ID_MAX)
			return reject(b, f->name, s, len, "word longer than 64 bytes");
		for (i = 0; i < len; i++) {
			char c = s[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '_' || c == '-'))
				return reject(b, f->name, s, len, "not a word (letters, digits, '_', '-')");
		}
	}
	return 0;
}

static int parse_enum(const struct schema_field *f, const char *s, size_t len, int64_t *out,
		      struct bad *b)
{
	int64_t i;

	for (i = 0; f->values[i]; i++)
		if (strlen(f->values[i]) == len && memcmp(f->values[i], s, len) == 0) {
			*out = i;
			return 0;
		}
	snprintf(b->text, sizeof(b->text), "not one of the allowed values for %s", f->name);
	return reject(b, f->name, s, len, b->text);
}

/* Convert one present field into column c of the row. */
static int parse_column(struct norm *n, const struct tab_col *col, const struct schema_field *f,
			const char *s, size_t len, struct row *r, int c, int32_t *day_of,
			struct bad *b)
{
	const char *why = NULL;
	int32_t day = 0;
	long iv = 0;

	switch (col->kind) {
	case TK_STR:
		if (check_string(f, s, len, b))
			return -1;
		r->sv[c] = s;
		r->sl[c] = (uint32_t)len;
		return 0;
	case TK_TIME:
		if (val_timestamp(s, len, n->tz, &r->iv[c], &day, &why))
			return reject(b, f->name, s, len, why);
		day_of[col->field] = day;
		return 0;
	case TK_DAYOF:
		r->iv[c] = day_of[col->field];
		return 0;
	case TK_DATE:
		if (val_date(s, len, n->tz, &day, &why))
			return reject(b, f->name, s, len, why);
		r->iv[c] = day;
		return 0;
	case TK_MONEY:
		if (val_money(s, len, &r->iv[c], &why))
			return reject(b, f->name, s, len, why);
		return 0;
	case TK_ENUM:
		return parse_enum(f, s, len, &r->iv[c], b);
	case TK_INT:
		if (val_int(s, len, &iv, &why))
			return reject(b, f->name, s, len, why);
		r->iv[c] = iv;
		return 0;
	case TK_FLAG:
		r->iv[c] = 0;
		return 0;
	}
	return 0;
}

/* Rules that span fields: survey score ranges, references to customers. */
static int check_row(struct norm *n, const struct tab_def *t, struct row *r, struct bad *b)
{
	int c;

	if (t->entity == ENT_SURVEYS) {
		int nps = r->iv[4] == 0;
		int64_t lo = nps ? 0 : 1, hi = nps ? 10 : 5;

		if (r->iv[5] < lo || r->iv[5] > hi) {
			snprintf(b->text, sizeof(b->text), "score out of range %d-%d for %s", (int)lo,
				 (int)hi, nps ? "nps" : "csat");
			return reject(b, "score", NULL, 0, b->text);
		}
	}
	if (t->entity == ENT_CUSTOMERS || t->entity == ENT_ORDERS || t->entity == ENT_SPEND)
		return 0;
	for (c = 0; c < (int)t->n_cols; c++)
		if (strcmp(t->cols[c].name, "customer_id") == 0 && r->present[c] &&
		    !known_customer(n, r->sv[c], r->sl[c]))
			return reject(b, "customer_id", r->sv[c], r->sl[c], "unknown customer");
	return 0;
}

/* Validate a record into a row; -1 with *b filled when it must be rejected. */
static int validate(struct norm *n, const struct tab_def *t, const struct rec *rec,
		    struct row *r, struct bad *b)
{
	const struct schema_entity_def *ent = schema_entity(t->entity);
	int32_t day_of[SCHEMA_MAX_FIELDS] = { 0 };
	size_t c;

	if (rec->bad)
		return reject(b, NULL, NULL, 0, rec->reason ? rec->reason : "malformed record");
	for (c = 0; c < t->n_cols; c++) {
		const struct tab_col *col = &t->cols[c];
		const struct schema_field *f = col->field >= 0 ? &ent->fields[col->field] : NULL;
		const char *s = f ? rec->val[col->field] : NULL;
		size_t len = f ? rec->len[col->field] : 0;

		r->present[c] = 1;
		r->sv[c] = NULL;
		r->sl[c] = 0;
		r->iv[c] = 0;
		if (col->kind == TK_FLAG || col->kind == TK_DAYOF) {
			parse_column(n, col, f, s, len, r, (int)c, day_of, b);
			continue;
		}
		if (!s || len == 0) {
			if (f->required)
				return reject(b, f->name, NULL, 0, "required field is missing");
			r->present[c] = 0;
			continue;
		}
		if (parse_column(n, col, f, s, len, r, (int)c, day_of, b))
			return -1;
	}
	return check_row(n, t, r, b);
}

/* ------------------------------------------------------------ spill files */

static void encode_row(struct buf *b, const struct tab_def *t, const struct row *r)
{
	size_t c;

	for (c = 0; c < t->n_cols; c++) {
		buf_put_u8(b, r->present[c]);
		if (!r->present[c])
			continue;
		if (tab_col_type(t->cols[c].kind) == CRMP_INT) {
			buf_put_varint(b, buf_zigzag(r->iv[c]));
		} else {
			buf_put_varint(b, r->sl[c]);
			buf_append(b, r->sv[c], r->sl[c]);
		}
	}
}

/*
 * Decode a payload into a row (strings point into the payload). Returns the
 * bytes used by the first `stop` columns in *prefix (the dedupe key), or -1
 * on a damaged spill record (only a bug or a full disk can cause one).
 */
static int decode_row(const unsigned char *p, const unsigned char *end, const struct tab_def *t,
		      struct row *r, size_t stop, size_t *prefix)
{
	const unsigned char *start = p;
	size_t c;
	uint64_t v;

	for (c = 0; c < t->n_cols; c++) {
		if (c == stop && prefix)
			*prefix = (size_t)(p - start);
		if (p >= end)
			return -1;
		r->present[c] = *p++;
		r->sv[c] = NULL;
		r->sl[c] = 0;
		r->iv[c] = 0;
		if (!r->present[c])
			continue;
		if (buf_get_varint(&p, end, &v))
			return -1;
		if (tab_col_type(t->cols[c].kind) == CRMP_INT) {
			r->iv[c] = buf_unzigzag(v);
		} else {
			if (v > (uint64_t)(end - p))
				return -1;
			r->sv[c] = (const char *)p;
			r->sl[c] = (uint32_t)v;
			p += v;
		}
	}
	if (c == stop && prefix)
		*prefix = (size_t)(p - start);
	return p == end ? 0 : -1;
}

static int spill_open(struct spill *s, const char *dir, const char *name, struct crm_err *e)
{
	s->path = join(dir, name);
	if (!s->path)
		return nomem(e);
	s->f = fopen(s->path, "w+");
	if (!s->f)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot create spill file");
	setvbuf(s->f, NULL, _IOFBF, 1 << 18);
	return 0;
}

static void spill_close(struct spill *s)
{
	if (s->f)
		fclose(s->f);
	if (s->path)
		unlink(s->path);
	free(s->path);
	s->f = NULL;
	s->path = NULL;
}

static int spill_put(struct spill *s, int entity, int period, const unsigned char *payload,
		     size_t len, struct crm_err *e)
{
	unsigned char head[24];
	size_t h = 0;
	uint64_t vals[2] = { (uint64_t)period, len }, v;
	int i;

	head[h++] = (unsigned char)entity;
	for (i = 0; i < 2; i++)
		for (v = vals[i];; v >>= 7) {
			head[h++] = (unsigned char)(v < 0x80 ? v : (v & 0x7f) | 0x80);
			if (v < 0x80)
				break;
		}
	if (fwrite(head, 1, h, s->f) != h || fwrite(payload, 1, len, s->f) != len)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot write spill file");
	return 0;
}

/* The spill file of a month, opened on first use. */
static struct spill *month_spill(struct norm *n, int period, struct crm_err *e)
{
	char name[32];
	struct spill *s;

	if (n->n_months == 0 || period < n->month_base || period >= n->month_base + n->n_months) {
		int lo = n->n_months ? (period < n->month_base ? period : n->month_base) : period;
		int hi = n->n_months ? (period >= n->month_base + n->n_months ? period
					 : n->month_base + n->n_months - 1) : period;
		struct spill *m = calloc((size_t)(hi - lo + 1), sizeof(*m));

		if (!m) {
			nomem(e);
			return NULL;
		}
		if (n->n_months)
			memcpy(m + (n->month_base - lo), n->months, (size_t)n->n_months * sizeof(*m));
		free(n->months);
		n->months = m;
		n->month_base = lo;
		n->n_months = hi - lo + 1;
	}
	s = &n->months[period - n->month_base];
	if (!s->f) {
		char text[PERIOD_TEXT_MAX];

		snprintf(name, sizeof(name), "month-%s", period_format(period, text));
		if (spill_open(s, n->tmp_dir, name, e))
			return NULL;
	}
	if (n->first < 0 || period < n->first)
		n->first = period;
	if (period > n->last)
		n->last = period;
	return s;
}

/* Place a valid non-customer row: into a dedupe bucket, or its month. */
static int keep_row(struct norm *n, const struct tab_def *t, const struct row *r,
		    struct crm_err *e)
{
	int period = period_of_day((int32_t)r->iv[t->time_col]);
	struct spill *s;

	n->rec.len = 0;
	encode_row(&n->rec, t, r);
	if (n->rec.failed)
		return nomem(e);
	if (t->id_cols > 0) {
		uint64_t h = hmap_hash(r->sv[0], r->sl[0]);

		s = &n->buckets[h % N_BUCKETS];
	} else if (!(s = month_spill(n, period, e))) {
		return e->code;
	}
	return spill_put(s, (int)t->entity, period, n->rec.data, n->rec.len, e);
}

/* ------------------------------------------------------------ pass 1: read */

/* Orders of an unknown customer create a derived customer (METRICS.md). */
static int note_order_customer(struct norm *n, const struct row *r, struct crm_err *e)
{
	int is_new;
	long k;

	if (known_customer(n, r->sv[1], r->sl[1]))
		return 0;
	k = customer_slot(n, r->sv[1], r->sl[1], &is_new);
	if (k < 0)
		return nomem(e);
	n->custs[k].derived = 1;
	n->st->derived_customers++;
	return 0;
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

static int read_file(struct norm *n, const struct cfg_source *src, const char *path,
		     struct crm_err *e)
{
	const struct tab_def *t = tab_for_entity(src->entity);
	const char *names[SCHEMA_MAX_FIELDS];
	struct reader rd = { 0 };
	struct ins *in = NULL;
	struct rec rec;
	struct row row;
	struct bad bad;
	int rc;

	wanted_names(src, names);
	rc = ins_open(path, &in, e);
	if (rc == 0)
		rc = reader_open(src, in, names, &rd, e);
	while (rc == 0 && (rc = reader_next(&rd, &rec, e)) == 1) {
		rc = 0;
		n->st->rows_read++;
		if ((n->st->rows_read & 0xfffff) == 0)
			log_progress("normalize: %llu rows read", (unsigned long long)n->st->rows_read);
		if (validate(n, t, &rec, &row, &bad)) {
			quarantine_row(n, path, rec.line, bad.field, bad.value, bad.len, bad.reason);
			continue;
		}
		if (src->entity == ENT_CUSTOMERS)
			rc = keep_customer(n, &row, e);
		else if (src->entity == ENT_ORDERS && (rc = note_order_customer(n, &row, e)) == 0)
			rc = keep_row(n, t, &row, e);
		else if (src->entity != ENT_ORDERS)
			rc = keep_row(n, t, &row, e);
	}
	if (in) {
		n->st->files++;
		n->st->bytes += ins_content_bytes(in);
	}
	reader_close(&rd);
	ins_close(in);
	return rc;
}

static int read_source(struct norm *n, const struct cfg_source *src, struct crm_err *e)
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
			rc = read_file(n, src, path, e);
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
		rc = read_file(n, src, g.gl_pathv[i], e);
	}
	globfree(&g);
	if (rc)
		quarantine_close(n, 0, e);
	return rc ? rc : quarantine_close(n, 1, e);
}

/*
 * Customers first, then orders (which may create derived customers), then
 * the rest, which are checked against both.
 */
static int read_sources(struct norm *n, struct crm_err *e)
{
	int pass, rc = 0;
	size_t i;

	for (pass = 0; pass < 3 && rc == 0; pass++)
		for (i = 0; i < n->cfg->n_sources && rc == 0; i++) {
			const struct cfg_source *src = &n->cfg->sources[i];
			int order = src->entity == ENT_CUSTOMERS ? 0 : src->entity == ENT_ORDERS ? 1 : 2;

			if (order == pass)
				rc = read_source(n, src, e);
		}
	log_progress_end();
	return rc;
}

/* ------------------------------------------------------------ pass 2: dedupe */

/* One spill record as found in a buffer. */
struct srec {
	int entity, period;
	const unsigned char *payload;
	size_t len;
};

static int next_srec(const unsigned char **p, const unsigned char *end, struct srec *r)
{
	uint64_t period, len;

	if (*p >= end)
		return 0;
	r->entity = *(*p)++;
	if (r->entity >= ENT_COUNT || buf_get_varint(p, end, &period) ||
	    buf_get_varint(p, end, &len) || len > (uint64_t)(end - *p))
		return -1;
	r->period = (int)period;
	r->payload = *p;
	r->len = (size_t)len;
	*p += len;
	return 1;
}

/* Read a whole spill file back (it was written by this run). */
static int spill_load(struct spill *s, unsigned char **data, size_t *len, struct crm_err *e)
{
	*data = NULL;
	*len = 0;
	if (!s->f)
		return 0;
	if (fflush(s->f) != 0)
		return err_sys(e, CRM_E_IO, errno, s->path, "cannot write spill file");
	return fsx_read_file(s->path, SPILL_MAX, data, len, e);
}

static int damaged_spill(const struct spill *s, struct crm_err *e)
{
	return err_at(e, CRM_E_INTERNAL, s->path, 0, NULL, "spill file is damaged");
}

/* A surviving order may give a derived customer its signup day. */
static void note_signup(struct norm *n, const struct row *r)
{
	uint32_t *k;
	struct cust *c;

	if (r->present[6] && r->iv[6] != 0) /* refunded or cancelled */
		return;
	k = hmap_get(&n->cust_ids, r->sv[1], r->sl[1]);
	if (!k)
		return;
	c = &n->custs[*k];
	if (c->derived && (c->signup_day == NO_DAY || r->iv[3] < c->signup_day))
		c->signup_day = (int32_t)r->iv[3];
}

/* The dedupe key of a record: its entity byte and its id columns' bytes. */
static int record_key(const struct srec *r, unsigned char *key, size_t *klen)
{
	const struct tab_def *t = tab_for_entity((enum schema_entity)r->entity);
	const unsigned char *p = r->payload, *end = r->payload + r->len;
	size_t c, prefix;
	uint64_t v;

	/* Only the id columns are looked at: skip over them, decode nothing. */
	for (c = 0; c < (size_t)t->id_cols; c++) {
		if (p >= end)
			return -1;
		if (!*p++)
			continue;
		if (buf_get_varint(&p, end, &v))
			return -1;
		if (tab_col_type(t->cols[c].kind) == CRMP_STR) {
			if (v > (uint64_t)(end - p))
				return -1;
			p += v;
		}
	}
	prefix = (size_t)(p - r->payload);
	if (prefix > 65000)
		return -1;
	key[0] = (unsigned char)r->entity;
	memcpy(key + 1, r->payload, prefix);
	*klen = prefix + 1;
	return 0;
}

/*
 * Keep the last occurrence of each id in a bucket (records are in input
 * order: later sources, later files of a glob, later rows come later) and
 * move the survivors into their months.
 */
static int dedupe_bucket(struct norm *n, struct spill *bucket, struct crm_err *e)
{
	static unsigned char key[65536];
	unsigned char *data = NULL;
	uint8_t *dropped = NULL;
	const unsigned char *p, *end;
	struct hmap last;
	struct srec r;
	struct row row;
	size_t len = 0, klen, count = 0;
	uint32_t i, *v;
	int got, is_new, rc;

	hmap_init(&last);
	rc = spill_load(bucket, &data, &len, e);
	/* A record has at least 3 bytes: that bounds the count. */
	if (rc == 0 && !(dropped = calloc(len / 3 + 1, 1)))
		rc = nomem(e);
	/* First pass: an id seen again drops its earlier record. */
	for (p = data, end = data + len, i = 0; rc == 0 && (got = next_srec(&p, end, &r)) != 0; i++) {
		if (got < 0 || record_key(&r, key, &klen))
			rc = damaged_spill(bucket, e);
		else if (!(v = hmap_put(&last, key, klen, i, &is_new, NULL)))
			rc = nomem(e);
		else if (!is_new) {
			dropped[*v] = 1;
			*v = i;
			n->st->duplicates++;
		}
		count++;
	}
	hmap_release(&last);
	/* Second pass: move the survivors to their months. */
	for (p = data, i = 0; rc == 0 && i < count && next_srec(&p, end, &r) == 1; i++) {
		struct spill *m;

		if (dropped[i])
			continue;
		if (r.entity == ENT_ORDERS) {
			decode_row(r.payload, r.payload + r.len, tab_for_entity(ENT_ORDERS), &row, 0, NULL);
			note_signup(n, &row);
		}
		m = month_spill(n, r.period, e);
		rc = m ? spill_put(m, r.entity, r.period, r.payload, r.len, e) : e->code;
	}
	free(dropped);
	free(data);
	spill_close(bucket);
	return rc;
}

/* ------------------------------------------------------------ pass 3: write */

/* The rows of one table of one month, column by column. */
struct cols {
	const struct tab_def *t;
	size_t rows, cap;
	int64_t *iv[TAB_MAX_COLS];
	uint8_t *pres[TAB_MAX_COLS];
	const char **sv[TAB_MAX_COLS];
	uint32_t *sl[TAB_MAX_COLS];
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

/* Size every column for `cap` rows: integers need values, strings pointers and lengths. */
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
		if (!is_str_col(c, i)) {
			if (!(a = realloc(c->iv[i], cap * sizeof(int64_t))))
				return -1;
			c->iv[i] = a;
			continue;
		}
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

static int cols_add(struct cols *c, const struct row *r)
{
	size_t i, k = c->rows;

	if (k == c->cap && cols_reserve(c, c->cap ? c->cap * 2 : 1024))
		return -1;
	for (i = 0; i < c->t->n_cols; i++) {
		c->pres[i][k] = r->present[i];
		if (!is_str_col(c, i)) {
			c->iv[i][k] = r->iv[i];
		} else {
			c->sv[i][k] = r->present[i] ? r->sv[i] : NULL;
			c->sl[i][k] = r->sl[i];
		}
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

		if (tab_col_type(c->t->cols[col].kind) == CRMP_STR) {
			r = cmp_str(c->sv[col][i], c->sl[col][i], c->sv[col][j], c->sl[col][j]);
		} else {
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
		if (tab_col_type(c->t->cols[col].kind) == CRMP_INT) {
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
	if (!is_str_col(c, k)) {
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
		if (tab_col_type(c->t->cols[k].kind) == CRMP_STR)
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

/* Sum of the amount column (index 4) of orders, old file or new rows. */
static int64_t old_revenue(const struct crmp_file *f)
{
	struct crm_err e = { 0 };
	int t = crmp_find_table(f, "orders"), c = crmp_find_column(f, t, "amount");
	uint64_t rows = t >= 0 ? crmp_table_info(f, (size_t)t)->rows : 0, i;
	int64_t *v = malloc((rows ? rows : 1) * sizeof(*v)), sum = 0;

	if (v && c >= 0 && crmp_read_int(f, t, c, v, NULL, &e) == 0)
		for (i = 0; i < rows; i++)
			sum += v[i];
	free(v);
	return sum;
}

/*
 * Say what changed when an existing period file is replaced (a
 * restatement): rows per table and order revenue, old -> new.
 */
static void log_restatement(const char *path, const struct cols *tabs, const char *name)
{
	struct crm_err e = { 0 };
	struct crmp_file *old = NULL;
	char line[768], a[32], b[32];
	size_t len = 0, k, i;
	int64_t revenue = 0;

	if (crmp_open(path, &old, &e) != 0) {
		log_warn("normalize: replacing unreadable %s", path);
		return;
	}
	line[0] = '\0';
	for (k = ENT_ORDERS; k < ENT_COUNT && len < sizeof(line); k++) {
		int t = crmp_find_table(old, tabs[k].t->name);
		uint64_t before = t >= 0 ? crmp_table_info(old, (size_t)t)->rows : 0;

		if (before != tabs[k].rows)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s %llu -> %zu rows;",
						tabs[k].t->name, (unsigned long long)before, tabs[k].rows);
	}
	for (i = 0; i < tabs[ENT_ORDERS].rows; i++)
		revenue += tabs[ENT_ORDERS].iv[4][i];
	val_format_money(old_revenue(old), a);
	val_format_money(revenue, b);
	crmp_close(old);
	log_info("normalize: restated %s:%s order amounts %s -> %s", name, line, a, b);
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
		   struct crm_err *e)
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
		log_restatement(path, tabs, name);
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

	while (next_srec(&p, end, &r) == 1)
		count[r.entity]++;
	for (k = ENT_ORDERS; k < ENT_COUNT; k++)
		if (count[k] && cols_reserve(&tabs[k], count[k]))
			return nomem(e);
	return 0;
}

static int write_month(const struct norm *n, int period, struct month_out *mo,
		       struct crm_err *e)
{
	struct spill *s = (period >= n->month_base && period < n->month_base + n->n_months)
				  ? &n->months[period - n->month_base] : NULL;
	struct cols tabs[ENT_COUNT];
	struct crmp_writer *w = NULL;
	struct meta meta;
	unsigned char *data = NULL;
	const unsigned char *p, *end;
	char text[PERIOD_TEXT_MAX], name[32], *path = NULL;
	struct srec r;
	struct row row;
	size_t len = 0, k;
	int got, rc = 0;

	memset(tabs, 0, sizeof(tabs));
	for (k = ENT_ORDERS; k < ENT_COUNT; k++)
		tabs[k].t = tab_for_entity((enum schema_entity)k);
	if (s)
		rc = spill_load(s, &data, &len, e);
	rc = rc ? rc : presize(tabs, data, len, e);
	for (p = data, end = data + len; rc == 0 && (got = next_srec(&p, end, &r)) != 0;) {
		if (got < 0 || r.entity == ENT_CUSTOMERS ||
		    decode_row(r.payload, r.payload + r.len, tabs[r.entity].t, &row, 0, NULL))
			rc = damaged_spill(s, e);
		else if (cols_add(&tabs[r.entity], &row))
			rc = nomem(e);
	}
	period_format(period, text);
	snprintf(name, sizeof(name), "%s.crmp", text);
	w = crmp_writer_new(CRMP_PERIOD, period);
	if (rc == 0 && !w)
		rc = nomem(e);
	if (rc == 0)
		rc = add_meta(w, n, text, &meta, e);
	for (k = ENT_ORDERS; rc == 0 && k < ENT_COUNT; k++) {
		if (cols_sort(&tabs[k]))
			rc = nomem(e);
		else
			rc = add_table(w, &tabs[k], e);
		mo->kept[k] += tabs[k].rows;
	}
	if (rc == 0 && !(path = join(n->periods_dir, name)))
		rc = nomem(e);
	if (rc == 0)
		rc = publish(n, w, path, tabs, text, mo, e);
	crmp_writer_free(w);
	for (k = 0; k < ENT_COUNT; k++)
		cols_release(&tabs[k]);
	free(data);
	free(path);
	if (s)
		spill_close(s);
	return rc;
}

/* The customers dimension, sorted by customer_id. */
static int write_dimension(struct norm *n, struct crm_err *e)
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
			rc = nomem(e);
	}
	if (rc == 0 && cols_sort(&c))
		rc = nomem(e);
	n->st->kept[ENT_CUSTOMERS] = c.rows;
	if (rc == 0 && !(w = crmp_writer_new(CRMP_DIMENSION, 0)))
		rc = nomem(e);
	if (rc == 0)
		rc = add_meta(w, n, "dimension", &meta, e);
	if (rc == 0)
		rc = add_table(w, &c, e);
	if (rc == 0 && !(path = join(n->periods_dir, "customers.crmp")))
		rc = nomem(e);
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
		path = join(dir, de->d_name);
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

		if (!pid || !pid_is_dead(pid) || !(path = join(dir, de->d_name)))
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
	static const char *const dirs[] = { "tmp", "periods", "quarantine" };
	size_t i;

	for (i = 0; i < 3; i++) {
		char *dir = join(cfg->data_dir, dirs[i]);

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
	buf_init(&n->rec, 1 << 20);
	hmap_init(&n->cust_ids);
	hmap_init(&n->strs);
	rc = tz_load(n->cfg->timezone, &n->tz, e);
	if (rc)
		return rc;
	snprintf(name, sizeof(name), "tmp/normalize-%ld", (long)getpid());
	n->tmp_dir = join(n->cfg->data_dir, name);
	n->periods_dir = join(n->cfg->data_dir, "periods");
	n->quarantine_dir = join(n->cfg->data_dir, "quarantine");
	if (!n->tmp_dir || !n->periods_dir || !n->quarantine_dir)
		return nomem(e);
	rc = fsx_mkdirs(n->tmp_dir, e);
	if (rc == 0)
		rc = fsx_mkdirs(n->periods_dir, e);
	if (rc == 0)
		rc = fsx_mkdirs(n->quarantine_dir, e);

	for (int i = 0; rc == 0 && i < N_BUCKETS; i++) {
		snprintf(name, sizeof(name), "bucket-%02d", i);
		rc = spill_open(&n->buckets[i], n->tmp_dir, name, e);
	}
	return rc;
}

static void teardown(struct norm *n)
{
	int i;

	quarantine_close(n, 0, &(struct crm_err){ 0 });
	for (i = 0; i < N_BUCKETS; i++)
		spill_close(&n->buckets[i]);
	for (i = 0; i < n->n_months; i++)
		spill_close(&n->months[i]);
	if (n->tmp_dir)
		rmdir(n->tmp_dir);
	free(n->months);
	free(n->tmp_dir);
	free(n->periods_dir);
	free(n->quarantine_dir);
	free(n->custs);
	hmap_release(&n->cust_ids);
	hmap_release(&n->strs);
	buf_release(&n->rec);
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

/* Months with data start at the first signup too: a base can exist before its first order. */
static void widen_to_signups(struct norm *n)
{
	size_t i;

	for (i = 0; i < n->n_custs; i++) {
		int p;

		if (n->custs[i].signup_day == NO_DAY)
			continue;
		p = period_of_day(n->custs[i].signup_day);
		if (n->first < 0 || p < n->first)
			n->first = p;
		if (p > n->last)
			n->last = p;
	}
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

static int write_periods(struct norm *n, struct crm_err *e)
{
	struct pool pl = { n, NULL, 0, 0, PTHREAD_MUTEX_INITIALIZER };
	pthread_t threads[4];
	char a[PERIOD_TEXT_MAX], b[PERIOD_TEXT_MAX];
	int p, i, k, started = 0, rc = 0;

	widen_to_signups(n);
	if (n->opts->has_range && (n->first < 0 || n->opts->to < n->first || n->opts->from > n->last))
		log_warn("normalize: no data in %s..%s", period_format(n->opts->from, a),
			 period_format(n->opts->to, b));
	pl.out = calloc(n->first >= 0 ? (size_t)(n->last - n->first + 1) : 1, sizeof(*pl.out));
	if (!pl.out)
		return nomem(e);
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

/* CPU time of the process, for the debug log of each pass. */
static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Whether the inputs are described exactly as the last complete run left
 * them (periods/inputs.txt) and that run's output is still there: then
 * there is nothing to do.
 */
static int inputs_unchanged(const struct cfg *cfg, const struct buf *now, char **path)
{
	struct crm_err ignored = { 0 };
	unsigned char *old = NULL;
	size_t len = 0;
	char *dir = join(cfg->data_dir, "periods"), *dim = dir ? join(dir, "customers.crmp") : NULL;
	int same = 0;

	*path = dir ? join(dir, "inputs.txt") : NULL;
	if (*path && dim && access(dim, F_OK) == 0 &&
	    fsx_read_file(*path, 1 << 26, &old, &len, &ignored) == 0)
		same = len == now->len && memcmp(old, now->data, len) == 0;
	free(old);
	free(dim);
	free(dir);
	return same;
}

int norm_run(const struct cfg *cfg, const struct norm_opts *opts, struct norm_stats *st,
	     struct crm_err *e)
{
	struct norm n;
	struct buf inputs;
	char *inputs_path = NULL;
	int rc, i;

	memset(&n, 0, sizeof(n));
	memset(st, 0, sizeof(*st));
	st->first_period = st->last_period = -1;
	buf_init(&inputs, 1 << 26);
	sweep(cfg);
	rc = inputs_describe(cfg, &inputs, e);
	if (rc == 0 && inputs_unchanged(cfg, &inputs, &inputs_path) && !opts->force && !opts->has_range) {
		st->unchanged_inputs = 1;
		goto done;
	}
	n.cfg = cfg;
	n.opts = opts;
	n.st = st;
	if (rc == 0)
		rc = setup(&n, e);
	if (rc == 0)
		rc = read_sources(&n, e);
	log_debug("normalize: pass 1 (read and validate) done at %.2f s", cpu_seconds());
	for (i = 0; rc == 0 && i < N_BUCKETS; i++)
		rc = dedupe_bucket(&n, &n.buckets[i], e);
	log_debug("normalize: pass 2 (deduplicate) done at %.2f s", cpu_seconds());
	if (rc == 0)
		rc = check_rejects(&n, e);
	if (rc == 0)
		rc = write_periods(&n, e);
	log_debug("normalize: pass 3 (period files) done at %.2f s", cpu_seconds());
	if (rc == 0)
		rc = write_dimension(&n, e);
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
