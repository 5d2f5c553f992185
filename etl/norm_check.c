/*
 * norm_check.c - normalize: the customers map and the validation of each
 * record against EXPORTS.md (types, required fields, enumerations, score
 * ranges, references to known customers). A rejected record gets a field,
 * a value and a reason for the quarantine; nothing here writes files.
 */
#include "norm_int.h"

#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "val.h"

#include "banned.h"

/* Intern a customer attribute: a stable handle (offset + 1) into n->strs. */
static uint32_t intern(struct norm *n, const char *s, uint32_t len)
{
	uint32_t off;
	int is_new;

	if (!hmap_put(&n->strs, s, len, 0, &is_new, &off))
		return UINT32_MAX;
	return off + 1;
}

/* ------------------------------------------------------------ numbered ids */

/*
 * The number of `id` when it is the index's prefix and then its number
 * written in at least `width` digits, zero-padded to exactly `width`
 * (so "c000123" and, past c999999, "c1000000" both are, but "c0001234"
 * is not): 0 and *num set, or -1. Only such ids give back their own
 * bytes from prefix, width and number (norm_num_id), so only they may
 * live in the array alone. At most 18 digits: more could wrap the
 * number (c18446744073709551617 would be c000001).
 */
static int num_of(const struct numidx *x, const char *id, uint32_t len, uint64_t *num)
{
	uint32_t i;
	uint64_t v = 0;

	if (x->width == 0 || len < x->plen + x->width || len - x->plen > 18 ||
	    !norm_same(id, x->prefix, x->plen))
		return -1;
	if (len > x->plen + x->width && id[x->plen] == '0')
		return -1;
	for (i = x->plen; i < len; i++) {
		unsigned d = (unsigned char)id[i] - '0';

		if (d > 9)
			return -1;
		v = v * 10 + d;
	}
	*num = v;
	return 0;
}

/* The id of number `num` (num_of's inverse) into out (NUMIDX_ID_MAX bytes); its length. */
uint32_t norm_num_id(const struct numidx *x, uint64_t num, char *out)
{
	char digits[20];
	uint32_t d = 0, len = x->plen, pad;

	do {
		digits[d++] = (char)('0' + num % 10);
		num /= 10;
	} while (num);
	memcpy(out, x->prefix, x->plen);
	for (pad = d < x->width ? x->width - d : 0; pad > 0; pad--)
		out[len++] = '0';
	while (d)
		out[len++] = digits[--d];
	return len;
}

/* Take the shape of the first id that ends in 1 to 18 digits after at most 15 bytes. */
static void num_shape(struct numidx *x, const char *id, uint32_t len)
{
	uint32_t w = 0;

	while (w < len && id[len - 1 - w] >= '0' && id[len - 1 - w] <= '9')
		w++;
	if (w == 0 || w > 18 || len - w >= sizeof(x->prefix))
		return;
	memcpy(x->prefix, id, len - w);
	x->plen = len - w;
	x->width = w;
}

/*
 * Index customer k under its number: 1 when it is, 0 when its id has
 * not the shape or its number is too far (then the caller puts it in the
 * hash map), -1 out of memory. The array grows to a number only while it
 * stays near the customer count (sparse numbers would waste memory);
 * numbers beyond are counted in `outside`, and then a miss in the array
 * must ask the hash map.
 */
static int num_add(struct norm *n, const char *id, uint32_t len, size_t k)
{
	struct numidx *x = &n->num;
	uint64_t num;

	if (x->width == 0)
		num_shape(x, id, len);
	if (num_of(x, id, len, &num))
		return 0;
	if (num >= x->len) {
		size_t want = x->len ? x->len : 4096;
		uint32_t *a;

		/* Before the doubling: it must never see a number near 2^64. */
		if (num > 4 * (uint64_t)n->n_custs + 65536) {
			x->outside++;
			return 0;
		}
		while (want <= num)
			want *= 2;
		if (!(a = realloc(x->slot, want * sizeof(*a))))
			return -1;
		memset(a + x->len, 0, (want - x->len) * sizeof(*a));
		x->slot = a;
		x->len = want;
	}
	x->slot[num] = (uint32_t)k + 1;
	return 1;
}

/* Index of customer `id`, or -1 when unknown. */
long norm_find_customer(const struct norm *n, const char *id, uint32_t len)
{
	const struct numidx *x = &n->num;
	uint64_t num;
	uint32_t *v;

	if (num_of(x, id, len, &num) == 0) {
		if (num < x->len && x->slot[num])
			return (long)x->slot[num] - 1;
		if (x->outside == 0)
			return -1;
	}
	v = hmap_get(&n->cust_ids, id, len);
	return v ? (long)*v : -1;
}

/* ------------------------------------------------------------ customers */

/* Room for one more customer, set to "nothing known yet". */
static int new_customer(struct norm *n)
{
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
	return 0;
}

/*
 * Find or create the customer `id`; returns its index or -1 (out of
 * memory). A new one goes into the array of numbers when it can, and
 * into the hash map only when not: at millions of customers the map's
 * slots and key copies were two thirds of normalize's memory.
 */
long norm_customer_slot(struct norm *n, const char *id, uint32_t len, int *is_new)
{
	long found = norm_find_customer(n, id, len);
	int in_array;

	*is_new = 0;
	if (found >= 0)
		return found;
	if (new_customer(n) || (in_array = num_add(n, id, len, n->n_custs)) < 0)
		return -1;
	if (!in_array) {
		int put_new;

		if (!hmap_put(&n->cust_ids, id, len, (uint32_t)n->n_custs, &put_new, NULL))
			return -1;
	}
	*is_new = 1;
	return (long)n->n_custs++;
}

/*
 * Call fn with every customer's id and index: the numbered ones in the
 * order of their numbers, then those of the hash map in its order.
 */
int norm_each_customer(const struct norm *n, norm_customer_fn *fn, void *ctx)
{
	const struct numidx *x = &n->num;
	char id[NUMIDX_ID_MAX];
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < x->len; i++)
		if (x->slot[i])
			rc = fn(ctx, id, norm_num_id(x, i, id), x->slot[i] - 1);
	for (i = 0; rc == 0 && n->cust_ids.slots && i <= n->cust_ids.mask; i++) {
		const struct hmap_slot *slot = &n->cust_ids.slots[i];
		size_t len;
		const char *key;

		if (!slot->hash)
			continue;
		key = (const char *)hmap_key(&n->cust_ids, slot->key, &len);
		rc = fn(ctx, key, (uint32_t)len, slot->value);
	}
	return rc;
}

/* The dimension is written from these values: note their shapes (struct strshape). */
static void note_shapes(struct norm *n, const struct row *r)
{
	const struct tab_def *t = tab_for_entity(ENT_CUSTOMERS);
	size_t c;

	for (c = 0; c < t->n_cols; c++)
		if (r->present[c] && tab_col_type(t->cols[c].kind) == CRMP_STR)
			norm_shape_note(&n->shape[ENT_CUSTOMERS][c], r->sv[c], r->sl[c]);
}

/* A valid customers row: the last valid occurrence of an id wins. */
int norm_keep_customer(struct norm *n, const struct row *r, struct crm_err *e)
{
	int is_new, i;
	long k = norm_customer_slot(n, r->sv[0], r->sl[0], &is_new);
	struct cust *c;

	if (k < 0)
		return norm_nomem(e);
	if (!is_new)
		n->st->duplicates++;
	note_shapes(n, r);
	c = &n->custs[k];
	c->signup_day = (int32_t)r->iv[1];
	c->churn_day = r->present[6] ? (int32_t)r->iv[6] : NO_DAY;
	c->derived = 0;
	c->file = (uint16_t)n->cur_file;
	for (i = 0; i < 4; i++) {
		c->attr[i] = r->present[2 + i] ? intern(n, r->sv[2 + i], r->sl[2 + i]) : 0;
		if (c->attr[i] == UINT32_MAX)
			return norm_nomem(e);
	}
	return 0;
}

/*
 * Exports often list a customer's rows together, so the last id looked up
 * is remembered: a compare instead of a hash-table probe that misses cache.
 */
int norm_known_customer(struct norm *n, const char *id, uint32_t len)
{
	if (len == n->last_id_len && len <= SCHEMA_ID_MAX && norm_same(id, n->last_id, len))
		return 1;
	if (norm_find_customer(n, id, len) < 0)
		return 0;
	if (len <= SCHEMA_ID_MAX) {
		memcpy(n->last_id, id, len);
		n->last_id_len = len;
	}
	return 1;
}

/*
 * Start loading where norm_known_customer will look for `id` (the array
 * slot of its number, or its hash map slot): pass 1 looks up the customer
 * of every survey, ticket, interaction and lead, and with text ids or
 * millions of customers nearly each lookup missed the cache.
 */
void norm_prefetch_customer(const struct norm *n, const char *id, uint32_t len)
{
	const struct numidx *x = &n->num;
	uint64_t num;

	if (num_of(x, id, len, &num) == 0) {
		if (num < x->len)
			__builtin_prefetch(&x->slot[num]);
		if (x->outside == 0)
			return;
	}
	hmap_prefetch(&n->cust_ids, id, len);
}

/* Whether rows of table t must name a known customer (check_row). */
static int refers_to_customer(const struct tab_def *t)
{
	return t->entity != ENT_CUSTOMERS && t->entity != ENT_ORDERS && t->entity != ENT_SPEND;
}

/* The field of table t's records that check_row looks up among the customers, or -1. */
int norm_customer_field(const struct norm *n, const struct tab_def *t)
{
	int c = n->cust_col[t->entity];

	return refers_to_customer(t) && c >= 0 ? t->cols[c].field : -1;
}

/* ------------------------------------------------------------ validation */


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

/*
 * Whether the allowed value v (NUL-terminated) is s[0..len): a byte loop
 * that stops at the first difference or at v's end, where strlen and
 * memcmp were two calls for each value tried, on most rows of orders,
 * tickets, surveys and leads.
 */
static int enum_is(const char *v, const char *s, size_t len)
{
	size_t k;

	for (k = 0; k < len && v[k] != '\0' && v[k] == s[k]; k++)
		;
	return k == len && v[k] == '\0';
}

static int parse_enum(const struct schema_field *f, const char *s, size_t len, int64_t *out,
		      struct bad *b)
{
	int64_t i;

	for (i = 0; f->values[i]; i++)
		if (enum_is(f->values[i], s, len)) {
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
	if (!refers_to_customer(t))
		return 0;
	c = n->cust_col[t->entity];
	if (c >= 0 && r->present[c] && !norm_known_customer(n, r->sv[c], r->sl[c]))
		return reject(b, "customer_id", r->sv[c], r->sl[c], "unknown customer");
	return 0;
}

/* Validate a record into a row; -1 with *b filled when it must be rejected. */
int norm_validate(struct norm *n, const struct tab_def *t, const struct rec *rec,
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
