#!/bin/bash
# Cross-check on fixtures/small (400 customers, 27 months, refunds,
# cancellations, churn_dates, a derived customer, timestamps with offsets):
# the base counts, orders and revenue of every period, overall and per
# channel, equal an independent Python reading of METRICS.md straight from
# the CSV exports.
. "$SRCDIR/tests/e2e/lib.sh"

fx="$SRCDIR/fixtures/small"
{
	printf '[pipeline]\ndata_dir = var\ntimezone = UTC\n'
	for ent in customers orders spend surveys tickets interactions leads; do
		printf '[source.%s]\nentity = %s\nfile = %s/%s.csv\n' "$ent" "$ent" "$fx" "$ent"
	done
} >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --from 2024-01 --to 2025-12
python3 - "$fx" var/metrics <<'PY' || fail "differs from the independent computation"
import csv, datetime, os, sys
from decimal import Decimal
fx, out = sys.argv[1], sys.argv[2]
def day(s):
    if len(s) == 10:
        return datetime.date.fromisoformat(s)
    t = datetime.datetime.fromisoformat(s.replace(" ", "T"))
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc)
    return t.date()
cust = {}
for r in csv.DictReader(open(os.path.join(fx, "customers.csv"), newline="")):
    cust[r["customer_id"]] = r
orders = {}
for r in csv.DictReader(open(os.path.join(fx, "orders.csv"), newline="")):
    orders[r["order_id"]] = r
ords = []
for r in orders.values():
    st = r["status"] or "completed"
    if st == "cancelled":
        continue
    ords.append((r["customer_id"], day(r["ordered_at"]), Decimal(r["amount"]), st == "completed"))
first = {}
for c, d, a, done in ords:
    if done and (c not in first or d < first[c]):
        first[c] = d
people = {}
for c in set(cust) | set(x[0] for x in ords):
    r = cust.get(c)
    s = day(r["signup_date"]) if r and r["signup_date"] else None
    if c in first and (s is None or first[c] < s):
        s = first[c]
    if s is None:
        continue
    ch = (r["channel"] or "unknown") if r else "unknown"
    cd = day(r["churn_date"]) if r and r["churn_date"] else None
    people[c] = (s, cd, ch)
done_days = {}
for c, d, a, done in ords:
    if done:
        done_days.setdefault(c, []).append(d)
def in_base(c, b):
    s, cd, ch = people[c]
    if s >= b:
        return False
    if cd is not None:
        return cd >= b
    last = max([s] + [d for d in done_days.get(c, []) if d < b])
    return last + datetime.timedelta(days=90) >= b
bad = compared = 0
for y in (2024, 2025):
    for m in range(1, 13):
        p = "%04d-%02d" % (y, m)
        b0 = datetime.date(y, m, 1)
        b1 = datetime.date(y + (m == 12), m % 12 + 1, 1)
        want = {}
        def add(metric, seg, v):
            for key in (("all", ""), ("channel", seg)):
                want[(metric,) + key] = want.get((metric,) + key, 0) + v
        for c, (s, cd, ch) in people.items():
            i0, i1 = in_base(c, b0), in_base(c, b1)
            add("customers_start", ch, i0)
            add("customers_end", ch, i1)
            add("churned", ch, i0 and not i1)
            add("retained", ch, i0 and i1)
            add("new_customers", ch, b0 <= s < b1)
            add("reactivated", ch, s < b0 and not i0 and i1)
        n_orders, buyers = {}, {}
        for c, d, a, done in ords:
            if not (b0 <= d < b1):
                continue
            ch = people[c][2] if c in people else "unknown"
            add("revenue", ch, a)
            if done:
                add("orders", ch, 1)
                n_orders[c] = n_orders.get(c, 0) + 1
        for c in n_orders:
            add("buyers", people[c][2], 1)
        got = {}
        for r in csv.DictReader(open(os.path.join(out, p + ".csv"), newline="")):
            key = (r["metric"], r["dim"], r["segment"])
            if key in want:
                got[key] = Decimal(r["value"]) if r["metric"] == "revenue" else int(r["value"])
        for key, v in want.items():
            compared += 1
            if got.get(key) != v:
                bad += 1
                if bad <= 10:
                    print(p, key, "want", v, "got", got.get(key))
# RFM at end(2025-06) over 2024-07..2025-06, per customer (P-customers.csv).
b1, w0 = datetime.date(2025, 7, 1), datetime.date(2024, 7, 1)
R, F, M = {}, {}, {}
for c, d, a, done in ords:
    if not (w0 <= d < b1) or c not in people:
        continue
    M[c] = M.get(c, 0) + a
    if done:
        F[c] = F.get(c, 0) + 1
        R[c] = min(R.get(c, 10**9), (b1 - d).days)
def money(d):  # exact, at least two decimals (val_format_money)
    i, _, f = format(d, "f").partition(".")
    return i + "." + f.rstrip("0").ljust(2, "0")
scored = sorted(c for c in F)
def scores(key):
    order = sorted(scored, key=lambda c: (key(c), c))
    return {c: 1 + 5 * i // len(order) for i, c in enumerate(order)}
rs, fs, ms = scores(lambda c: -R[c]), scores(lambda c: F[c]), scores(lambda c: M[c])
seg = {}
for names, pairs in (("hibernating", "11 12 21 22"), ("at_risk", "13 14 23 24"), ("cant_lose", "15 25"),
                     ("about_to_sleep", "31 32"), ("need_attention", "33"), ("loyal", "34 35 44 45"),
                     ("promising", "41"), ("new", "51"), ("potential_loyalist", "42 43 52 53"),
                     ("champions", "54 55")):
    for pr in pairs.split():
        seg[pr] = names
rows = list(csv.DictReader(open(os.path.join(out, "2025-06-customers.csv"), newline="")))
assert [r["customer_id"] for r in rows] == sorted(r["customer_id"] for r in rows), "not sorted"
for r in rows:
    c = r["customer_id"]
    compared += 1
    if c in F:
        want_r = (str(R[c]), str(F[c]), money(M[c]), str(rs[c]), str(fs[c]), str(ms[c]),
                  seg["%d%d" % (rs[c], fs[c])])
    else:
        want_r = ("", "0", None, "", "", "", "none")
    got_r = (r["recency_days"], r["frequency"], r["monetary"] if c in F else None, r["r_score"],
             r["f_score"], r["m_score"], r["rfm_segment"])
    if want_r != got_r:
        bad += 1
        if bad <= 10:
            print("rfm", c, "want", want_r, "got", got_r)
assert len(rows) == sum(1 for c, v in people.items() if v[0] < b1), "customer rows"
print(compared, "values,", bad, "differ")
sys.exit(1 if bad or compared < 1000 else 0)
PY
