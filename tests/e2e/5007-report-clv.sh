#!/bin/bash
# report: the predictive CLV section (kind "clv") over the hand-made
# metrics of tests/e2e/data/report, in English and Chinese. What the PDF
# shows is worked out here independently from the CSV files with awk and
# sort: the model parameters, the headline means, the holdout month and
# its predicted and actual totals, the top customers by predicted CLV and
# the valuable customers with P(alive) under 50%. Then the cases without
# data: no model rows, a failed fit, a customers file of an older compute
# (no model columns), and a damaged one.
. "$SRCDIR/tests/e2e/lib.sh"

for t in qpdf pdfinfo pdftotext awk; do
	command -v $t >/dev/null || { echo "$t not installed (make deps)"; exit 77; }
done
mkdir -p var/metrics templates
cp "$SRCDIR"/tests/e2e/data/report/*.csv var/metrics/
cat >templates/clv.xml <<'EOF'
<report>
  <title lang="en">CLV</title><title lang="zh">客户价值</title>
  <section kind="clv">
    <title lang="en">Predictive customer lifetime value</title>
    <title lang="zh">预测客户终身价值</title>
  </section>
</report>
EOF
: >c.csv
printf '[pipeline]\ndata_dir = var\n[source.c]\nentity = customers\nfile = c.csv\n' >pipeline.conf
export SOURCE_DATE_EPOCH=1751349600
m=var/metrics/2025-06.csv
cm=var/metrics/2025-06-customers.csv

for lang in en zh; do
	run 0 "$CRMETL" report --template clv --period 2025-06 --lang $lang
	pdf=var/reports/2025-06-clv-$lang.pdf
	qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
	pdftotext -layout "$pdf" text.$lang
	qpdf --json --json-key=outlines "$pdf" >outline.$lang
done
contains outline.en '"title": "Predictive customer lifetime value"'
contains outline.zh '"title": "预测客户终身价值"'

# thousands separators as the report writes them
sep() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
val() { awk -F, -v f="$2" -v id="$3" '$2 == id && $3 == "all" && $5 == "" { print $f }' "$1"; }

# parameters: 4 decimals, log-likelihoods 2 with separators
for name in r:bgnbd_r alpha:bgnbd_alpha a:bgnbd_a b:bgnbd_b p:gg_p q:gg_q gamma:gg_gamma; do
	v=$(awk -v v="$(val $m 6 "${name#*:}")" 'BEGIN { printf "%.4f", v }')
	grep -qE "(^| )${name%%:*} +$v( |$)" text.en || fail "parameter ${name%%:*} is not $v"
done
for id in bgnbd_ll gg_ll; do
	v=$(awk -v v="$(val $m 6 $id)" 'BEGIN { printf "%.2f", v }' | sep)
	grep -qE "log-likelihood +$v( |$)" text.en || fail "$id is not $v"
	grep -qE "对数似然 +$v( |$)" text.zh || fail "$id is not $v in Chinese"
done

# headline means per modelled customer, and how many were modelled
clv=$(awk -v v="$(val $m 6 clv_predicted)" 'BEGIN { printf "$%.2f", v }')
alive=$(awk -v v="$(val $m 6 p_alive)" 'BEGIN { printf "%.1f%%", v * 100 }')
exp=$(awk -v v="$(val $m 6 expected_purchases)" 'BEGIN { printf "%.2f", v }')
grep -qE "^ *\\$clv +$alive +$exp *$" text.en || fail "headline is not $clv $alive $exp"
n=$(val $m 8 clv_predicted | sep)
contains text.en "$n customers modelled"
contains text.zh "建模客户 $n 位"

# holdout: the latest of the 12 months before 2025-06 with a forecast
h=0
for k in 12 11 10 9 8 7 6 5 4 3 2 1; do
	p=$(awk -v k=$k 'BEGIN { m = 2025 * 12 + 5 - k; printf "%04d-%02d", int(m / 12), m % 12 + 1 }')
	if [ -f var/metrics/$p.csv ] && grep -q ",clv_forecast_purchases,all,," var/metrics/$p.csv; then
		h=$k fitted=$p
		break
	fi
done
[ "$h" -gt 0 ] || fail "no holdout month in the test data"
pred=$(awk -F, -v h=$h '$2 == "clv_forecast_purchases" && $5 == h { printf "%.1f", $6 }' var/metrics/$fitted.csv)
act=$(awk -F, -v h=$h '$2 == "clv_holdout_actual" && $5 == h { print $6 }' $m)
chg=$(awk -v a="$act" -v p="$pred" 'BEGIN { c = (a - p) / p * 100; printf "%s%.1f%%", (c > 0 ? "+" : ""), c }')
contains text.en "2025-06: Predicted $pred, Actual $act ($chg)"
contains text.zh "2025-06: 预测 $pred, 实际 $act ($chg)"
n=$(val var/metrics/$fitted.csv 8 clv_predicted | sep)
contains text.en "The model of $fitted against what its $n customers did in the $h months since."

# top 10 by predicted CLV (ties: the smaller id first), with x, P(alive), expected purchases
cols='NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }'
awk -F, "$cols"' $c["clv_predicted"] != "" { print $c["clv_predicted"], $c["customer_id"], $c["x"],
	$c["p_alive"], $c["expected_purchases"] }' $cm | sort -k1,1gr -k2,2 | head -10 >best
[ "$(wc -l <best)" -eq 10 ] || fail "fewer than 10 modelled customers in the test data"
i=0
while read -r v id x pa ep; do
	i=$((i + 1))
	row=$(awk -v i=$i -v id=$id -v x=$x -v pa=$pa -v ep=$ep -v v=$v \
		'BEGIN { printf "^ *%d +%s +.* %d +%.1f%% +%.2f +\\$%.2f *$", i, id, x, pa * 100, ep, v }')
	grep -qE "$row" text.en || { grep -E "^ *$i +c" text.en; fail "best row $i is not /$row/"; }
done <best
modelled=$(awk -F, "$cols"' $c["clv_predicted"] != ""' $cm | wc -l)
contains text.en "The 10 of $modelled modelled customers with the highest predicted CLV."

# P(alive) under 50%, by revenue over 12 months (then CLV, then id)
awk -F, "$cols"' $c["clv_predicted"] != "" && $c["p_alive"] < 0.5 { print $c["revenue_12m"],
	$c["clv_predicted"], $c["customer_id"], $c["p_alive"] }' $cm | sort -k1,1gr -k2,2gr -k3,3 >fading
first=$(head -1 fading)
set -- $first
rev=$(awk -v v="$1" 'BEGIN { printf "%.0f", v }' | sep)
row=$(awk -v id=$3 -v rev="$rev" -v pa=$4 -v v=$2 \
	'BEGIN { printf "^ *1 +%s +.* \\$%s +%.1f%% +\\$%.2f *$", id, rev, pa * 100, v }')
grep -E "$row" text.en >/dev/null || fail "first customer probably lost is not /$row/"
contains text.en "The 10 of $(wc -l <fading) customers with P(alive) under 50%"
for s in "预测与实际复购（累计）" "预测终身价值最高的客户" "可能已流失的高价值客户"; do
	contains text.zh "$s"
done

# a long horizon (compute allows up to 120 months): the headline names it
cp $m m.orig
awk -F, -v OFS=, '$2 == "clv_forecast_purchases" && $5 == 12 { for (k = 13; k <= 120; k++) { $5 = k; print } }' \
	m.orig >>$m
run 0 "$CRMETL" report --template clv --period 2025-06
pdftotext -layout var/reports/2025-06-clv-en.pdf t
contains t "Predicted CLV, next 120 months"
cp m.orig $m

# no model rows at all (2024-07): the section says so
run 0 "$CRMETL" report --template clv --period 2024-07
pdftotext -layout var/reports/2024-07-clv-en.pdf t
contains t "No predictive CLV for this period"
# a failed fit (2024-08: null parameters), no holdout, no customers file
run 0 "$CRMETL" report --template clv --period 2024-08
pdftotext -layout var/reports/2024-08-clv-en.pdf t
contains t "The models could not be fitted for this period"
contains t "No holdout yet"
contains t "No per-customer predictions for this period."
grep -qE "(^| )r +n/a( |$)" t || fail "a null parameter is not n/a"

# a customers file of an older compute: no model columns, no lists, no error
cp $cm full-customers.csv
cut -d, -f1-16 full-customers.csv >$cm
run 0 "$CRMETL" report --template clv --period 2025-06
pdftotext -layout var/reports/2025-06-clv-en.pdf t
contains t "No per-customer predictions for this period."
contains t "2025-06: Predicted $pred"
# a damaged one: the report fails naming the file, line and column
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "p_alive") c = i }
	NR == 5 { $c = "high" } 1' full-customers.csv >$cm
run 8 "$CRMETL" report --template clv --period 2025-06
contains err "2025-06-customers.csv:5"
contains err "p_alive"
