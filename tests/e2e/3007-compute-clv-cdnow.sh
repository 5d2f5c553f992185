#!/bin/bash
# Predictive CLV through the whole pipeline on real data: the CDNOW
# 2,357-customer sample loaded as canonical orders, normalized and computed.
# - period 1997-09 (the papers' 39-week calibration) reproduces the
#   published maximum-likelihood estimates to 0.1%: BG/NBD r, alpha, a, b
#   and its log-likelihood, Gamma-Gamma p, q, gamma;
# - the same log with same-day rows merged gives the same parameter rows;
# - per customer x, t_x, T, mean spend, P(alive), expected purchases and
#   predicted CLV equal an independent Python computation from the fitted
#   parameters (closed form and its own hypergeometric series);
# - clv_holdout_actual equals an independent count for every month and k,
#   and predicted vs actual repeat purchases over the holdout are printed.
. "$SRCDIR/tests/e2e/lib.sh"

src="$SRCDIR/../shared/data/cdnow/CDNOW_sample.txt"
[ -f "$src" ] || src=/work/shared/data/cdnow/CDNOW_sample.txt
[ -f "$src" ] || { echo "no CDNOW sample: skipped"; exit 77; }

# $1: directory; $2: 1 to merge same-day rows into one order
load() {
	mkdir -p "$1/in"
	awk -v merge="$2" 'BEGIN { print "order_id,customer_id,ordered_at,amount,cost,status" }
	    NF == 5 {
		d = substr($3, 1, 4) "-" substr($3, 5, 2) "-" substr($3, 7, 2)
		if (!merge) { printf "o%d,s%s,%s,%.2f,,\n", NR, $2, d, $5; next }
		k = $2 "," d
		if (!(k in cents)) order[++n] = k
		cents[k] += int($5 * 100 + 0.5)
	    }
	    END { for (i = 1; i <= n; i++) { split(order[i], f, ","); printf "m%d,s%s,%s,%d.%02d,,\n", i, f[1], f[2], int(cents[order[i]] / 100), cents[order[i]] % 100 } }' \
		"$src" >"$1/in/orders.csv"
	for ent in customers spend surveys tickets interactions leads; do
		head -n 1 "$SRCDIR/fixtures/tiny/cac/$ent.csv" >"$1/in/$ent.csv"
	done
	{
		printf '[pipeline]\ndata_dir = var\ntimezone = UTC\n'
		for ent in customers orders spend surveys tickets interactions leads; do
			printf '[source.%s]\nentity = %s\nfile = in/%s.csv\n' "$ent" "$ent" "$ent"
		done
	} >"$1/pipeline.conf"
	(cd "$1" && run 0 "$CRMETL" normalize && run 0 "$CRMETL" compute --from 1997-09 --to 1998-06) || exit 1
}
load raw 0
load merged 1
[ "$(wc -l <merged/in/orders.csv)" -lt "$(wc -l <raw/in/orders.csv)" ] || fail "nothing was merged"

params='^1997-09,(bgnbd|gg)_'
grep -E "$params" raw/var/metrics/1997-09.csv >raw.params
[ "$(wc -l <raw.params)" -eq 9 ] || fail "expected 9 parameter rows, got $(wc -l <raw.params)"
grep -E "$params" merged/var/metrics/1997-09.csv >merged.params
same raw.params merged.params

python3 - raw/var/metrics raw/in/orders.csv <<'PY' || fail "predictive CLV differs from the published fit or the independent computation"
import csv, datetime, math, sys
mdir, orders = sys.argv[1], sys.argv[2]

def rows(period):
    out = {}
    for r in csv.DictReader(open(f"{mdir}/{period}.csv")):
        out[(r["metric"], r["dim"], r["segment"], r["k"])] = r
    return out

cal = rows("1997-09")
par = {m: float(cal[(m, "all", "", "")]["value"]) for m in
       ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "bgnbd_ll", "gg_p", "gg_q", "gg_gamma")}
published = {"bgnbd_r": 0.2426, "bgnbd_alpha": 4.4135, "bgnbd_a": 0.7929, "bgnbd_b": 2.4258,
             "bgnbd_ll": -9582.43, "gg_p": 6.2496, "gg_q": 3.7442, "gg_gamma": 15.4435}
bad = 0
for k, want in published.items():
    rel = abs(par[k] - want) / abs(want)
    print(f"{k:12s} {par[k]:.6f} published {want} (relative {rel:.1e})")
    if rel > 1e-3:
        bad += 1

# independent per-customer inputs from the log
days = {}
spend = {}
for r in csv.DictReader(open(orders)):
    d = datetime.date.fromisoformat(r["ordered_at"])
    c = r["customer_id"]
    days.setdefault(c, set()).add(d)
    spend[(c, d)] = spend.get((c, d), 0) + round(float(r["amount"]) * 100)
L = datetime.date(1997, 9, 30)
r_, al, a, b = par["bgnbd_r"], par["bgnbd_alpha"], par["bgnbd_a"], par["bgnbd_b"]
p, q, g = par["gg_p"], par["gg_q"], par["gg_gamma"]

def hyp2f1(A, B, C, z):
    s = term = 1.0
    for k in range(100000):
        term *= (A + k) * (B + k) / ((C + k) * (k + 1)) * z
        s += term
        if abs(term) < 1e-15 * abs(s):
            return s
    raise SystemExit("2F1 did not converge")

def expected(x, tx, T, t):  # Fader, Hardie & Lee (2005) equation 10
    z = t / (al + T + t)
    num = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r_ + x) * hyp2f1(r_ + x, b + x, a + b + x - 1, z))
    return num / (1 + (x > 0) * a / (b + x - 1) * ((al + T) / (al + tx)) ** (r_ + x))

def palive(x, tx, T):
    return 1.0 if x == 0 else 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r_ + x))

M = 365.25 / 12 / 7
checked = 0
for r in csv.DictReader(open(f"{mdir}/1997-09-customers.csv")):
    c = r["customer_id"]
    ds = sorted(d for d in days[c] if d <= L)
    x = len(ds) - 1
    tx = (ds[-1] - ds[0]).days / 7
    T = (L - ds[0]).days / 7
    ms = sum(spend[(c, d)] for d in ds[1:]) / 100 / x if x else None
    pa = palive(x, tx, T)
    ex = expected(x, tx, T, 12 * M)
    zbar = ms if x else 0
    es = p * (g + x * zbar) / (p * x + q - 1)
    clv = sum((expected(x, tx, T, m * M) - expected(x, tx, T, (m - 1) * M)) * es / 1.01 ** m
              for m in range(1, 13))
    got = (int(r["x"]), float(r["t_x"]), float(r["T"]), float(r["p_alive"]),
           float(r["expected_purchases"]), float(r["clv_predicted"]))
    want = (x, round(tx, 4), round(T, 4), round(pa, 4), round(ex, 4), round(clv, 2))
    if got[:3] != want[:3] or abs(got[3] - want[3]) > 1.5e-4 or abs(got[4] - want[4]) > 1.5e-4 \
       or abs(got[5] - want[5]) > 0.015 or (x and abs(float(r["mean_spend"]) - ms) > 1e-4):
        print("customer", c, "got", got, "want", want, r["mean_spend"], ms)
        bad += 1
    checked += 1
print(f"{checked} customers checked")
if checked != 2357:
    bad += 1

# holdout: purchase days in months P-k+1..P of customers who bought before month P-k+1
months = [(1997, m) for m in range(9, 13)] + [(1998, m) for m in range(1, 7)]
def mi(d):
    return (d.year - 1997) * 12 + d.month - 1
for (y, m) in months:
    got = rows(f"{y:04d}-{m:02d}")
    P = mi(datetime.date(y, m, 1))
    for k in range(1, 13):
        want = sum(1 for c, ds in days.items() for d in ds
                   if P - k + 1 <= mi(d) <= P and mi(min(ds)) <= P - k)
        key = ("clv_holdout_actual", "all", "", str(k))
        if k > P:
            if key in got:
                bad += 1
            continue
        if int(got[key]["value"]) != want:
            print("holdout", y, m, k, got[key]["value"], want)
            bad += 1
f9 = float(cal[("clv_forecast_purchases", "all", "", "9")]["value"])
a9 = int(rows("1998-06")[("clv_holdout_actual", "all", "", "9")]["value"])
print(f"holdout 1997-10..1998-06: predicted {f9:.1f} repeat purchase days, actual {a9}")
for k in range(1, 10):
    y, m = months[k]
    fk = float(cal[("clv_forecast_purchases", "all", "", str(k))]["value"])
    ak = int(rows(f"{y:04d}-{m:02d}")[("clv_holdout_actual", "all", "", str(k))]["value"])
    print(f"  through {y:04d}-{m:02d}: predicted {fk:8.1f}  actual {ak:5d}")
sys.exit(1 if bad else 0)
PY
