#!/bin/bash
# compute on fixtures/small: two runs give identical files; --from/--to over
# 24 periods and one period alone give byte-identical metrics for that
# period; the default range covers the first customer to the last order;
# every JSON file parses and matches its CSV row for row.
. "$SRCDIR/tests/e2e/lib.sh"

fx="$SRCDIR/fixtures/small"
fixtures_conf >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --from 2024-01 --to 2025-12
contains err "periods 2024-01..2025-12: 24 written (0 restated)"
cp -r var/metrics range1
run 0 "$CRMETL" compute --from 2024-01 --to 2025-12
for f in range1/*; do
	same "$f" "var/metrics/$(basename "$f")"
done
rm -r var/metrics
run 0 "$CRMETL" compute --period 2025-06
for f in 2025-06.csv 2025-06.json 2025-06-customers.csv; do
	same "range1/$f" "var/metrics/$f"
done
n=$(ls var/metrics | grep -vc computed.txt)
[ "$n" -eq 3 ] || fail "--period wrote $n files"
# Default range: first month with a customer or order .. last month with an order.
rm -r var/metrics
run 0 "$CRMETL" compute
contains err "written"
first=$(ls var/metrics/*.csv | grep -v customers | head -n 1)
last=$(ls var/metrics/*.csv | grep -v customers | tail -n 1)
for f in var/metrics/2024-0[1-9].csv var/metrics/2024-1*.csv var/metrics/2025-*.csv; do
	same "$f" "range1/$(basename "$f")"
done
python3 - "$first" "$last" var/metrics <<'PY' || fail "JSON/CSV check failed"
import csv, glob, json, sys, os
for path in sorted(glob.glob(os.path.join(sys.argv[3], "*.json"))):
    rows = json.load(open(path))["rows"]
    with open(path[:-5] + ".csv", newline="") as f:
        crows = list(csv.DictReader(f))
    assert len(rows) == len(crows), path
    keys = []
    for j, c in zip(rows, crows):
        for k in ("metric", "dim", "segment"):
            assert j[k] == c[k], (path, j, c)
        assert (c["k"] == "" and j["k"] is None) or int(c["k"]) == j["k"], (path, j, c)
        for k in ("value", "numerator", "denominator"):
            if c[k] == "":
                assert j[k] is None, (path, k, j, c)
            else:
                assert float(c[k]) == j[k], (path, k, j, c)
        if "low" in j:
            assert j["low"] <= j["high"], (path, j)
        keys.append((c["metric"], c["dim"], c["segment"], int(c["k"]) if c["k"] else -1))
    assert keys == sorted(keys), path + ": not sorted"
    assert len(set(keys)) == len(keys), path + ": duplicate rows"
# customers_end(P-1) = customers_start(P)
def val(p, metric, dim="all", seg=""):
    with open(os.path.join(sys.argv[3], p + ".csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["metric"] == metric and r["dim"] == dim and r["segment"] == seg:
                return r["value"]
files = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(sys.argv[3], "[0-9][0-9][0-9][0-9]-[0-9][0-9].csv")))
for a, b in zip(files, files[1:]):
    assert val(a, "customers_end") == val(b, "customers_start"), (a, b)
PY

# A late order dated in 2024-03 restates 2024-03, and the run says so.
cp "$fx/orders.csv" late-orders.csv
printf 'late1,%s,2024-03-15T12:00:00Z,1234.56,,completed\n' \
	"$(sed -n '2s/^[^,]*,\([^,]*\),.*/\1/p' "$fx/orders.csv")" >>late-orders.csv
sed "s|file = $fx/orders.csv.gz|file = late-orders.csv|" pipeline.conf >late.conf
run 0 "$CRMETL" normalize --config late.conf
run 0 "$CRMETL" compute --config late.conf --period 2024-03
contains err "2024-03 restated"
contains err "1 written (1 restated)"
run 0 "$CRMETL" compute --config late.conf --period 2024-03
contains err "nothing to do"
run 0 "$CRMETL" compute --config late.conf --period 2024-03 --force
contains err "1 written (0 restated)"

# A damaged period file fails the run (status 8) naming the file; nothing
# of a half-computed period is left behind.
rm -rf var/metrics
cp var/periods/2024-06.crmp saved.crmp
# (in the header: a column crmetl compute does not read could hide a damaged chunk)
printf '\x55' | dd of=var/periods/2024-06.crmp bs=1 seek=41 conv=notrunc 2>/dev/null
run 8 "$CRMETL" compute --from 2024-01 --to 2024-12
contains err "damaged period file"
contains err "2024-06.crmp"
[ ! -e var/metrics/2024-01.csv ] || fail "metrics written despite a damaged period file"
cp saved.crmp var/periods/2024-06.crmp
# Without period files compute says so (status of a missing input).
rm -rf var/periods
run 1 "$CRMETL" compute --period 2024-06
contains err "period files"
