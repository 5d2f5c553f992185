#!/bin/bash
# Ids of many shapes, drawn at random (fixed seeds): fixed-width numbers,
# numbers outgrowing their width, no leading zeros, bare digits, more
# digits than a digit key holds, long prefixes, words, and mixtures; in
# months where a column has every value, some, or none. Pass 3 holds such
# columns as numbers, digit keys, a few codes or text, switching as values
# break a shape; whatever it chose, every month's dump must give back
# exactly the rows exported (as a set), in the order its table states.
. "$SRCDIR/tests/e2e/lib.sh"

for seed in 1 2 3 4 5 6 7 8; do
	mkdir "s$seed"
	python3 - "$seed" "s$seed" <<'PY' || fail "cannot generate seed $seed"
import random, sys
seed, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(seed)

def family(rng):
    kind = rng.choice(['fixed', 'outgrow', 'nolead', 'digits', 'huge', 'longprefix',
                       'words', 'mixed'])
    def make(i):
        k = kind if kind != 'mixed' else rng.choice(['fixed', 'nolead', 'words', 'huge'])
        if k == 'fixed': return 'c%06d' % i
        if k == 'outgrow': return 'c%06d' % (999990 + i) if i % 3 else 'c%06d' % i
        if k == 'nolead': return 'c%d' % i
        if k == 'digits': return '%d' % (i * 7)
        if k == 'huge': return 'h%019d' % (i * 1000003)
        if k == 'longprefix': return 'customer-account-%d' % i
        return 'w-' + ''.join(rng.choice('abcxyz') for _ in range(rng.randint(1, 6))) + str(i)
    return kind, make

_, cust = family(rng)
ids = sorted({cust(i) for i in range(1, rng.choice([20, 45, 120]))})
with open(out + '/customers.csv', 'w') as f:
    f.write('customer_id,signup_date,channel,region,tier,referred_by,churn_date\n')
    for c in ids:
        f.write('%s,2024-01-01,organic,East,gold,,\n' % c)

months = ['2024-01', '2024-02', '2024-03']
fill = [rng.choice([0.0, 0.3, 1.0]) for _ in months]   # share of surveys with a customer
_, oid = family(rng)
_, rid = family(rng)
orders, surveys, n = [], [], 0
for m, share in zip(months, fill):
    for _ in range(rng.randint(5, 60)):
        n += 1
        t = '%s-%02dT%02d:%02d:00Z' % (m, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 3))
        orders.append('%s,%s,%s,%d.%02d,1.00,completed' % (oid(n), rng.choice(ids), t,
                                                          rng.randint(1, 99), rng.randint(0, 99)))
        who = rng.choice(ids) if rng.random() < share else ''
        surveys.append('%s,%s,%s,nps,%d' % (rid(n), who, t, rng.randint(0, 10)))
def uniq(rows):   # one row per id: the export has no duplicates to settle
    seen, keep = set(), []
    for r in rows:
        if r.split(',')[0] not in seen:
            seen.add(r.split(',')[0])
            keep.append(r)
    return keep
with open(out + '/orders.csv', 'w') as f:
    f.write('order_id,customer_id,ordered_at,amount,cost,status\n' + '\n'.join(uniq(orders)) + '\n')
with open(out + '/surveys.csv', 'w') as f:
    f.write('response_id,customer_id,responded_at,kind,score\n' + '\n'.join(uniq(surveys)) + '\n')
PY
	cat >"s$seed.conf" <<CONF
[pipeline]
data_dir = d$seed
[source.customers]
entity = customers
file = $PWD/s$seed/customers.csv
[source.orders]
entity = orders
file = $PWD/s$seed/orders.csv
[source.surveys]
entity = surveys
file = $PWD/s$seed/surveys.csv
CONF
	run 0 "$CRMETL" normalize --config "s$seed.conf"
	for m in 2024-01 2024-02 2024-03; do
		for t in orders surveys; do
			run 0 "$CRMETL" dump "d$seed/periods/$m.crmp" --table "$t"
			mv out "d$seed/$m.$t.csv"
		done
	done
	run 0 "$CRMETL" dump "d$seed/periods/customers.crmp" --table customers
	mv out "d$seed/customers.csv"
	python3 - "s$seed" "d$seed" <<'PY' || fail "seed $seed: a dump differs from its export (scratch: $PWD)"
import sys
src, got = sys.argv[1], sys.argv[2]
def rows(path):
    with open(path) as f:
        return f.read().splitlines()[1:]
def check(name, want, have, orders):
    if sorted(want) != sorted(have):
        sys.exit('%s: rows differ: only exported %s, only dumped %s'
                 % (name, sorted(set(want) - set(have))[:3], sorted(set(have) - set(want))[:3]))
    b = [tuple(x.encode() for x in r.split(',')) for r in have]
    if not any(b == sorted(b, key=k) for k in orders):
        sys.exit('%s: rows not in a stated order: %s' % (name, have[:5]))
for m in ['2024-01', '2024-02', '2024-03']:
    for t, time_col, orders in [
            ('orders', 2, [lambda r: (r[2], r[0]), lambda r: (r[1], r[2], r[0])]),
            ('surveys', 2, [lambda r: (r[2], r[0])])]:
        want = [r for r in rows('%s/%s.csv' % (src, t)) if r.split(',')[time_col].startswith(m)]
        check('%s %s' % (m, t), want, rows('%s/%s.%s.csv' % (got, m, t)), orders)
check('customers', rows(src + '/customers.csv'), rows(got + '/customers.csv'),
      [lambda r: (r[0],)])
PY
done
