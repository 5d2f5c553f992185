#!/bin/bash
# Cross-check on real data: the IBM Telco churn sample (contractual model;
# signup = 2024-01-01 minus tenure months, churn_date = 2023-12-31 for
# Churn = Yes, P = 2023-12) gives Kaplan-Meier curves, Greenwood bands and
# median lifetimes, overall and per contract (tier), equal to an
# independent Python computation.
. "$SRCDIR/tests/e2e/lib.sh"

src="$SRCDIR/../shared/data/telco/WA_Fn-UseC_-Telco-Customer-Churn.csv"
[ -f "$src" ] || src=/work/shared/data/telco/WA_Fn-UseC_-Telco-Customer-Churn.csv
[ -f "$src" ] || { echo "no Telco data: skipped"; exit 77; }

mkdir in
python3 - "$src" in/customers.csv <<'PY'
import csv, sys
with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as o:
    w = csv.writer(o, lineterminator="\n")
    w.writerow(["customer_id", "signup_date", "channel", "region", "tier", "referred_by", "churn_date"])
    for r in csv.DictReader(f):
        t = int(r["tenure"])
        y, m = divmod(2024 * 12 - t, 12)
        w.writerow([r["customerID"], "%04d-%02d-01" % (y, m + 1), r["InternetService"],
                    "", r["Contract"], "", "2023-12-31" if r["Churn"] == "Yes" else ""])
PY
for ent in orders spend surveys tickets interactions leads; do
	head -n 1 "$SRCDIR/fixtures/tiny/cac/$ent.csv" >"in/$ent.csv"
done
{
	printf '[pipeline]\ndata_dir = var\ntimezone = UTC\n'
	for ent in customers orders spend surveys tickets interactions leads; do
		printf '[source.%s]\nentity = %s\nfile = in/%s.csv\n' "$ent" "$ent" "$ent"
	done
	printf '[metrics]\nchurn_model = contractual\n'
} >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --period 2023-12
python3 - in/customers.csv var/metrics/2023-12.json <<'PY' || fail "survival differs from the independent Kaplan-Meier"
import csv, json, math, sys, datetime
end = datetime.date(2024, 1, 1)
groups = {("all", ""): []}
for r in csv.DictReader(open(sys.argv[1], newline="")):
    s = datetime.date.fromisoformat(r["signup_date"])
    if s >= end:
        continue
    if r["churn_date"]:
        item = ((datetime.date.fromisoformat(r["churn_date"]) - s).days, 1)
    else:
        item = ((end - s).days, 0)
    groups[("all", "")].append(item)
    groups.setdefault(("tier", r["tier"]), []).append(item)
    groups.setdefault(("channel", r["channel"]), []).append(item)
want = {}
for (dim, seg), items in groups.items():
    times = sorted(set(t for t, e in items if e))
    S, gw, curve = 1.0, 0.0, []
    for t in times:
        n = sum(1 for u, e in items if u >= t)
        d = sum(1 for u, e in items if u == t and e)
        S *= 1 - d / n
        gw = gw + d / (n * (n - d)) if d < n else 0
        curve.append((t, S, gw if S > 0 else 0))
    def at(k):
        s, g = 1.0, 0.0
        for t, s2, g2 in curve:
            if t <= k:
                s, g = s2, g2
        return s, g
    longest = max(t for t, e in items)
    for k in list(range(30, longest + 1, 30)) + [365, 730]:
        s, g = at(k)
        se = s * math.sqrt(g)
        want[(dim, seg, k)] = (s, max(0.0, s - 1.959963984540054 * se), min(1.0, s + 1.959963984540054 * se))
    med = next((t for t, s, g in curve if s <= 0.5), None)
    want[(dim, seg, "median")] = med
got = {}
for r in json.load(open(sys.argv[2]))["rows"]:
    if r["metric"] == "survival" and r["dim"] in ("all", "tier", "channel"):
        got[(r["dim"], r["segment"], r["k"])] = (r["value"], r["low"], r["high"])
    if r["metric"] == "median_lifetime_days" and r["dim"] in ("all", "tier", "channel"):
        got[(r["dim"], r["segment"], "median")] = r["value"]
bad = 0
for key in sorted(set(want) | set(got), key=str):
    a, b = want.get(key), got.get(key)
    if isinstance(a, tuple) and isinstance(b, tuple):
        ok = all(abs(x - y) <= 1e-12 * max(1, abs(x)) for x, y in zip(a, b))
    else:
        ok = a == b
    if not ok:
        bad += 1
        if bad <= 10:
            print("differs:", key, "want", a, "got", b)
print(len(want), "values,", bad, "differ")
sys.exit(1 if bad or len(want) < 100 else 0)
PY
