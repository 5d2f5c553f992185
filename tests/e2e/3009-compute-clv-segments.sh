#!/bin/bash
# Predictive CLV rows on fixtures/small agree with the per-customer file:
# clv_predicted, p_alive and expected_purchases of every segment (channel,
# region, tier, rfm and overall) are the mean of that column over the
# segment's modelled customers, with the sum and the count as numerator and
# denominator; the forecast rows are increasing in k; the horizon and the
# discount rate of [metrics] change what they should; clv_holdout_actual
# equals an independent count from the orders the period files hold.
. "$SRCDIR/tests/e2e/lib.sh"

fixtures_conf >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --from 2025-10 --to 2025-12
# the orders normalize kept (deduplicated, bad rows quarantined), via dump
for f in var/periods/2*.crmp; do
	"$CRMETL" dump "$f" --table orders | tail -n +2
done | sed '1i order_id,customer_id,ordered_at,amount,cost,status' >orders.csv
[ "$(wc -l <orders.csv)" -gt 1000 ] || fail "dump gave too few orders"

python3 - var/metrics orders.csv <<'PY' || fail "predictive CLV rows disagree with the per-customer file"
import csv, datetime, sys
mdir, orders = sys.argv[1], sys.argv[2]
bad = 0
for P in ("2025-10", "2025-11", "2025-12"):
    rows = {(r["metric"], r["dim"], r["segment"], r["k"]): r for r in csv.DictReader(open(f"{mdir}/{P}.csv"))}
    cust = list(csv.DictReader(open(f"{mdir}/{P}-customers.csv")))
    for col in ("clv_predicted", "p_alive", "expected_purchases"):
        groups = {}
        for c in cust:
            if c[col] == "":
                continue
            for dim, seg in (("all", ""), ("channel", c["channel"]), ("region", c["region"]),
                             ("tier", c["tier"]), ("rfm", c["rfm_segment"])):
                groups.setdefault((dim, seg), []).append(float(c[col]))
        if not groups:
            print(P, col, "no modelled customer"); bad += 1
        for (dim, seg), vals in groups.items():
            r = rows.get((col, dim, seg, ""))
            if r is None:
                print(P, col, dim, seg, "missing row"); bad += 1; continue
            n, mean = len(vals), sum(vals) / len(vals)
            # the file rounds to 4 (2 for money) decimals: allow that much
            tol = 0.006 if col == "clv_predicted" else 6e-5
            if int(r["denominator"]) != n or abs(float(r["value"]) - mean) > tol or \
               abs(float(r["numerator"]) - float(r["value"]) * n) > 1e-6 * max(1, abs(float(r["numerator"]))):
                print(P, col, dim, seg, r["value"], r["numerator"], r["denominator"], "vs", mean, n); bad += 1
    f = [float(rows[("clv_forecast_purchases", "all", "", str(k))]["value"]) for k in range(1, 13)]
    if any(b <= a for a, b in zip(f, f[1:])) or f[0] <= 0:
        print(P, "forecast not increasing", f); bad += 1
    if ("clv_forecast_purchases", "all", "", "13") in rows:
        print(P, "a 13th forecast month with a 12-month horizon"); bad += 1

# holdout: purchase days in P-k+1..P of customers who bought before month P-k+1
days = {}
for r in csv.DictReader(open(orders)):
    if r["status"] not in ("", "completed"):
        continue
    d = datetime.date.fromisoformat(r["ordered_at"][:10])
    days.setdefault(r["customer_id"], set()).add(d)
mi = lambda d: d.year * 12 + d.month - 1
for P in ("2025-10", "2025-11", "2025-12"):
    p = int(P[:4]) * 12 + int(P[5:]) - 1
    rows = {(r["metric"], r["k"]): r["value"] for r in csv.DictReader(open(f"{mdir}/{P}.csv"))}
    for k in range(1, 13):
        want = sum(1 for ds in days.values() for d in ds if p - k + 1 <= mi(d) <= p and mi(min(ds)) <= p - k)
        if int(rows[("clv_holdout_actual", str(k))]) != want:
            print(P, "holdout", k, rows[("clv_holdout_actual", str(k))], want); bad += 1
sys.exit(1 if bad else 0)
PY

# [metrics] settings: a longer horizon has more forecast rows and more
# expected purchases; a higher discount rate lowers every predicted CLV
grep -E '^2025-12,clv_predicted,all,' var/metrics/2025-12.csv | cut -d, -f6 >base.clv
grep -E '^2025-12,expected_purchases,all,' var/metrics/2025-12.csv | cut -d, -f6 >base.exp
sed 's/^\[metrics\]/[metrics]\nclv_horizon_months = 24\nclv_discount_rate = 0.05/' pipeline.conf >long.conf
sed 's/^data_dir = .*/data_dir = var2/' long.conf >long2.conf
run 0 "$CRMETL" normalize --config long2.conf
run 0 "$CRMETL" compute --config long2.conf --period 2025-12
n=$(grep -c '^2025-12,clv_forecast_purchases,all,' var2/metrics/2025-12.csv)
[ "$n" -eq 24 ] || fail "24-month horizon gave $n forecast rows"
exp2=$(grep -E '^2025-12,expected_purchases,all,' var2/metrics/2025-12.csv | cut -d, -f6)
awk -v a="$(cat base.exp)" -v b="$exp2" 'BEGIN { exit !(b > a) }' || fail "24 months expect no more purchases ($exp2 vs $(cat base.exp))"
sed 's/^\[metrics\]/[metrics]\nclv_discount_rate = 0.05/' pipeline.conf | sed 's/^data_dir = .*/data_dir = var3/' >disc.conf
run 0 "$CRMETL" normalize --config disc.conf
run 0 "$CRMETL" compute --config disc.conf --period 2025-12
clv3=$(grep -E '^2025-12,clv_predicted,all,' var3/metrics/2025-12.csv | cut -d, -f6)
awk -v a="$(cat base.clv)" -v b="$clv3" 'BEGIN { exit !(b < a && b > 0) }' || fail "5% a month does not lower the CLV ($clv3 vs $(cat base.clv))"
