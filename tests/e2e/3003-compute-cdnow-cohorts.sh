#!/bin/bash
# Cross-check on real data: the CDNOW purchase log (orders only, so every
# customer is derived, signup = first purchase) gives the cohort matrices
# (active share, retained share under the 90-day activity model, cumulative
# revenue per customer) that an independent Python computation gives.
. "$SRCDIR/tests/e2e/lib.sh"

src="$SRCDIR/../shared/data/cdnow/CDNOW_master.txt"
[ -f "$src" ] || src=/work/shared/data/cdnow/CDNOW_master.txt
[ -f "$src" ] || { echo "no CDNOW data: skipped"; exit 77; }

mkdir in
awk 'BEGIN { print "order_id,customer_id,ordered_at,amount,cost,status" }
     NF == 4 && $2 ~ /^[0-9]+$/ { printf "o%d,%s,%s-%s-%s,%.2f,,\n", NR, $1, substr($2, 1, 4), substr($2, 5, 2), substr($2, 7, 2), $4 }' \
	"$src" >in/orders.csv
for ent in customers spend surveys tickets interactions leads; do
	head -n 1 "$SRCDIR/fixtures/tiny/cac/$ent.csv" >"in/$ent.csv"
done
{
	printf '[pipeline]\ndata_dir = var\ntimezone = UTC\n'
	for ent in customers orders spend surveys tickets interactions leads; do
		printf '[source.%s]\nentity = %s\nfile = in/%s.csv\n' "$ent" "$ent" "$ent"
	done
} >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --period 1998-06
python3 - "$src" var/metrics/1998-06.csv <<'PY' || fail "cohort matrices differ from the independent computation"
import csv, sys, datetime
from fractions import Fraction
from decimal import Decimal
orders = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 4 or not f[1].isdigit():
        continue
    d = datetime.date(int(f[1][:4]), int(f[1][4:6]), int(f[1][6:]))
    orders.setdefault(f[0], []).append((d, Decimal(f[3]).quantize(Decimal("0.01"))))
def month_end(y, m):  # first day of the next month
    return datetime.date(y + (m == 12), m % 12 + 1, 1)
months = [(1997, m) for m in range(1, 13)] + [(1998, m) for m in range(1, 7)]
want = {}
cohorts = {}
for cid, os_ in orders.items():
    first = min(d for d, _ in os_)
    cohorts.setdefault((first.year, first.month), []).append(os_)
for (cy, cm), members in cohorts.items():
    ci = months.index((cy, cm))
    size = len(members)
    for k, (y, m) in enumerate(months[ci:]):
        end = month_end(y, m)
        active = sum(1 for os_ in members if any(d.year == y and d.month == m for d, _ in os_))
        retained = 0
        rev = Decimal(0)
        for os_ in members:
            last = max(d for d, _ in os_ if d < end)
            if last + datetime.timedelta(days=90) >= end:
                retained += 1
            rev += sum((a for d, a in os_ if d < end), Decimal(0))
        seg = "%04d-%02d" % (cy, cm)
        want[("cohort_active_share", seg, k)] = (float(Fraction(active, size)), str(active), str(size))
        want[("cohort_retained_share", seg, k)] = (float(Fraction(retained, size)), str(retained), str(size))
        want[("cohort_revenue_per_customer", seg, k)] = (float(Fraction(rev) / size), "%.2f" % rev, str(size))
got = {}
for r in csv.DictReader(open(sys.argv[2], newline="")):
    if r["dim"] == "cohort":
        got[(r["metric"], r["segment"], int(r["k"]))] = (float(r["value"]), r["numerator"], r["denominator"])
bad = 0
for key in sorted(set(want) | set(got)):
    if want.get(key) != got.get(key):
        bad += 1
        if bad <= 10:
            print("differs:", key, "want", want.get(key), "got", got.get(key))
print(len(want), "cells,", bad, "differ")
sys.exit(1 if bad or len(want) != 3 * (18 + 17 + 16) else 0)
PY
