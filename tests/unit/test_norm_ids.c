/*
 * test_norm_ids.c - ids that skip the dedupe buckets (norm_ids.c): where
 * the keeper sends each occurrence of an id, which direct records pass 3
 * drops (the key it reads from a spill payload must be the one the
 * validator took from the row), the derived customers' ids, and the
 * direct flag's way through a spill file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "norm_int.h"

/* A row of `entity` with string id `id` (and stage for leads); other columns absent. */
static void id_row(struct row *r, enum schema_entity entity, const char *id, int64_t stage)
{
	memset(r, 0, sizeof(*r));
	r->present[0] = 1;
	r->sv[0] = id;
	r->sl[0] = (uint32_t)strlen(id);
	if (tab_for_entity(entity)->id_cols > 1) {
		r->present[1] = 1;
		r->iv[1] = stage;
	}
}

/* The record the validator would encode for that row, as pass 3 reads it back. */
static struct srec id_srec(unsigned char *buf, enum schema_entity entity, const struct row *r,
			   int direct)
{
	const struct tab_def *t = tab_for_entity(entity);
	struct srec s = { (int)entity, 0, 0, buf, norm_encode_row(buf, t, r, 0, NULL), direct };

	return s;
}

static void route_occurrences(void **state)
{
	struct direct d;

	(void)state;
	memset(&d, 0, sizeof(d));
	/* first occurrences go direct; a later one goes to a bucket and drops the first */
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 5, 1000, 0), 1);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 6, 1000, 0), 1);
	assert_int_equal(d.dropped, 0);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 5, 1000, 0), 0);
	assert_int_equal(d.dropped, 1);
	/* a third occurrence replaces the second in pass 2, not another direct one */
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 5, 1000, 0), 0);
	assert_int_equal(d.dropped, 1);
	/* the same key of another entity is another id */
	assert_int_equal(norm_ids_route(&d, ENT_TICKETS, 5, 1000, 0), 1);
	/* a pinned first occurrence takes a bucket, and so do the later ones */
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 7, 1000, 1), 0);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 7, 1000, 0), 0);
	assert_int_equal(d.dropped, 1);
	/* no key, or one past the limit: always a bucket */
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, -1, 1000, 0), 0);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 1000, 1000, 0), 0);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 999, 1000, 0), 1);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, 999, 1000, 0), 0);
	assert_int_equal(d.dropped, 2);
	norm_ids_release(&d);
}

static void drop_what_recurs(void **state)
{
	unsigned char buf[256];
	struct direct d;
	struct row r;
	struct srec s;
	int64_t k5, k6;

	(void)state;
	memset(&d, 0, sizeof(d));
	id_row(&r, ENT_ORDERS, "o00005", 0);
	k5 = norm_ids_key(&d.ent[ENT_ORDERS], tab_for_entity(ENT_ORDERS), &r);
	assert_int_equal(k5, 5);
	id_row(&r, ENT_ORDERS, "o00006", 0);
	k6 = norm_ids_key(&d.ent[ENT_ORDERS], tab_for_entity(ENT_ORDERS), &r);
	assert_int_equal(k6, 6);
	/* another prefix or digit count has no key */
	id_row(&r, ENT_ORDERS, "o0006", 0);
	assert_int_equal(norm_ids_key(&d.ent[ENT_ORDERS], tab_for_entity(ENT_ORDERS), &r), -1);
	id_row(&r, ENT_ORDERS, "x00006", 0);
	assert_int_equal(norm_ids_key(&d.ent[ENT_ORDERS], tab_for_entity(ENT_ORDERS), &r), -1);

	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, k5, 1 << 20, 0), 1);
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, k6, 1 << 20, 0), 1);
	id_row(&r, ENT_ORDERS, "o00005", 0);
	s = id_srec(buf, ENT_ORDERS, &r, 1);
	assert_int_equal(norm_ids_dropped(&d, &s), 0);  /* no id recurred yet */
	assert_int_equal(norm_ids_route(&d, ENT_ORDERS, k5, 1 << 20, 0), 0);
	assert_int_equal(norm_ids_dropped(&d, &s), 1);
	s.direct = 0;                                      /* the later one, moved by pass 2 */
	assert_int_equal(norm_ids_dropped(&d, &s), 0);
	id_row(&r, ENT_ORDERS, "o00006", 0);
	s = id_srec(buf, ENT_ORDERS, &r, 1);
	assert_int_equal(norm_ids_dropped(&d, &s), 0);
	norm_ids_release(&d);
}

/* Leads: the id is the lead and its stage. */
static void two_id_columns(void **state)
{
	unsigned char buf[256];
	struct direct d;
	struct row r;
	struct srec s;
	int64_t k;

	(void)state;
	memset(&d, 0, sizeof(d));
	id_row(&r, ENT_LEADS, "l123", 2);
	k = norm_ids_key(&d.ent[ENT_LEADS], tab_for_entity(ENT_LEADS), &r);
	assert_true(k >= 0);
	id_row(&r, ENT_LEADS, "l123", 3);
	assert_int_not_equal(norm_ids_key(&d.ent[ENT_LEADS], tab_for_entity(ENT_LEADS), &r), k);
	assert_int_equal(norm_ids_route(&d, ENT_LEADS, k, 1 << 20, 0), 1);
	assert_int_equal(norm_ids_route(&d, ENT_LEADS, k, 1 << 20, 0), 0);
	id_row(&r, ENT_LEADS, "l123", 2);
	s = id_srec(buf, ENT_LEADS, &r, 1);
	assert_int_equal(norm_ids_dropped(&d, &s), 1);
	id_row(&r, ENT_LEADS, "l123", 3);
	s = id_srec(buf, ENT_LEADS, &r, 1);
	assert_int_equal(norm_ids_dropped(&d, &s), 0);
	/* a damaged payload is said so */
	s.len = 2;
	assert_int_equal(norm_ids_dropped(&d, &s), -1);
	norm_ids_release(&d);
}

static void derived_customers(void **state)
{
	struct direct d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_false(norm_ids_derived(&d, "c1000000", 8));
	assert_int_equal(norm_ids_add_derived(&d, "c1000000", 8), 0);
	assert_int_equal(norm_ids_add_derived(&d, "zz-top", 6), 0);
	assert_true(norm_ids_derived(&d, "c1000000", 8));
	assert_true(norm_ids_derived(&d, "zz-top", 6));
	assert_false(norm_ids_derived(&d, "c1000001", 8));
	assert_false(norm_ids_derived(&d, "c000001", 7));
	assert_false(norm_ids_derived(&d, "zz-tip", 6));
	norm_ids_release(&d);
}

/* The direct flag survives a spill file, and the entity stays what it was. */
static void flag_through_spill(void **state)
{
	char dir[] = "/tmp/test_norm_ids.XXXXXX";
	const unsigned char payload[3] = { 1, 1, 'x' };
	unsigned char *data = NULL;
	const unsigned char *p;
	struct crm_err e = { 0 };
	struct spill s;
	struct srec r;
	size_t cap = 0, len = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(norm_spill_open(&s, dir, "spill", 4096, &e), 0);
	assert_int_equal(norm_spill_put(&s, &(struct srec){ ENT_LEADS, 300, 2, payload, 3, 1 }, &e), 0);
	assert_int_equal(norm_spill_put(&s, &(struct srec){ ENT_LEADS, 300, 2, payload, 3, 0 }, &e), 0);
	assert_int_equal(norm_spill_load(&s, &data, &cap, &len, &e), 0);
	p = data;
	assert_int_equal(norm_next_srec(&p, data + len, &r), 1);
	assert_int_equal(r.entity, ENT_LEADS);
	assert_int_equal(r.direct, 1);
	assert_int_equal(r.period, 300);
	assert_int_equal(norm_next_srec(&p, data + len, &r), 1);
	assert_int_equal(r.entity, ENT_LEADS);
	assert_int_equal(r.direct, 0);
	assert_int_equal(norm_next_srec(&p, data + len, &r), 0);
	free(data);
	norm_spill_close(&s);
	rmdir(dir);
}

struct seen {
	int n;
	struct srec r[4];
};

static int collect(void *ctx, const struct srec *r)
{
	struct seen *sn = ctx;

	if (sn->n < 4)
		sn->r[sn->n] = *r;
	sn->n++;
	return 0;
}

/* A month's spill stores no entity and period: they come back from the file. */
static void month_spill_heads(void **state)
{
	char dir[] = "/tmp/test_norm_ids.XXXXXX";
	const unsigned char payload[3] = { 1, 2, 'x' };
	struct crm_err e = { 0 };
	struct seen sn = { 0 };
	struct norm n;
	struct spill *s;

	(void)state;
	memset(&n, 0, sizeof(n));
	n.first = n.last = -1;
	assert_non_null(mkdtemp(dir));
	n.tmp_dir = dir;
	s = norm_month_spill(&n, 24300, ENT_TICKETS, &e);
	assert_non_null(s);
	assert_int_equal(norm_spill_put(s, &(struct srec){ ENT_TICKETS, 24300, 300, payload, 3, 1 },
					&e), 0);
	assert_int_equal(norm_spill_put(s, &(struct srec){ ENT_TICKETS, 24300, 5, payload, 3, 0 },
					&e), 0);
	/* file 300 * 2 + 1 takes two bytes, the length one: 3 + 3, then 1 + 1 + 3 */
	assert_int_equal(s->bytes, 11);
	assert_int_equal(norm_spill_each(s, collect, &sn, &e), 0);
	assert_int_equal(sn.n, 2);
	assert_int_equal(sn.r[0].entity, ENT_TICKETS);
	assert_int_equal(sn.r[0].period, 24300);
	assert_int_equal(sn.r[0].file, 300);
	assert_int_equal(sn.r[0].direct, 1);
	assert_int_equal(sn.r[0].len, 3);
	assert_int_equal(sn.r[1].file, 5);
	assert_int_equal(sn.r[1].direct, 0);
	/* a bucket keeps the full head */
	norm_spill_close(s);
	free(n.months);
	memset(&sn, 0, sizeof(sn));
	{
		struct spill b;

		memset(&b, 0, sizeof(b));
		assert_int_equal(norm_spill_open(&b, dir, "bucket", 4096, &e), 0);
		assert_int_equal(norm_spill_put(&b, &(struct srec){ ENT_TICKETS, 24300, 300, payload,
								 3, 1 }, &e), 0);
		/* entity, period 24300 (3 bytes), file 300 (2), length, payload: 4 more than a month's */
		assert_int_equal(b.bytes, 10);
		assert_int_equal(norm_spill_each(&b, collect, &sn, &e), 0);
		assert_int_equal(sn.r[0].period, 24300);
		assert_int_equal(sn.r[0].direct, 1);
		norm_spill_close(&b);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_occurrences),
		cmocka_unit_test(drop_what_recurs),
		cmocka_unit_test(two_id_columns),
		cmocka_unit_test(derived_customers),
		cmocka_unit_test(flag_through_spill),
		cmocka_unit_test(month_spill_heads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
