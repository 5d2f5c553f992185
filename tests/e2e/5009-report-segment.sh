#!/bin/bash
# report --segment DIM=VALUE: the report drawn from one segment's rows
# (tests/e2e/data/report), written beside the overall one as
# P-TEMPLATE-LANG-DIM-VALUE.pdf. Checked with pdftotext against values
# taken from the metrics files with awk: the segment in the title, its
# revenue, customers and churn as the scorecard writes them and their
# change, "no data" where compute has no per-segment rows, the CLV lists
# cut to the segment's customers. Then: the overall report is untouched,
# the same bytes twice, no scratch left, clear errors; a killed render's
# scratch is swept by the next.
. "$SRCDIR/tests/e2e/lib.sh"

for t in qpdf pdftotext awk; do
	command -v $t >/dev/null || { echo "$t not installed (make deps)"; exit 77; }
done
mkdir -p var/metrics templates
cp "$SRCDIR"/tests/e2e/data/report/*.csv var/metrics/
cp "$SRCDIR"/templates/executive.xml templates/
: >c.csv
printf '[pipeline]\ndata_dir = var\n[source.c]\nentity = customers\nfile = c.csv\n' >pipeline.conf
export SOURCE_DATE_EPOCH=1751349600
m=var/metrics/2025-06.csv
sep() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
seg() { awk -F, -v f="$1" -v id="$2" -v d="$3" -v s="$4" '$2 == id && $3 == d && $4 == s && $5 == "" { print $f }' "${5:-$m}"; }

run 0 "$CRMETL" report --period 2025-06
cp var/reports/2025-06-executive-en.pdf overall.pdf
run 0 "$CRMETL" report --period 2025-06 --segment region=East
pdf=var/reports/2025-06-executive-en-region-East.pdf
[ -f "$pdf" ] || fail "no $pdf"
contains err "moved to $pdf"
qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
same overall.pdf var/reports/2025-06-executive-en.pdf
pdftotext -layout "$pdf" text
contains text "Customer metrics | Region: East | June 2025"
pdfinfo "$pdf" | grep -q "^Subject: *Customer metrics | Region: East, 2025-06" || fail "subject lacks the segment"

# the scorecard: East's revenue, customers and churn rate, and the changes
rev=$(awk -v v="$(seg 6 revenue region East)" 'BEGIN { printf "$%.0f", v }' | sep)
cust=$(seg 6 customers_end region East | sep)
churn=$(awk -v v="$(seg 6 churn_rate region East)" 'BEGIN { printf "%.1f%%", v * 100 }')
grep -qE "^ *\\$rev +$cust *$" text || fail "scorecard: no '$rev $cust' (East revenue, customers)"
grep -qE "^ *n/a +$churn *$" text || fail "scorecard: East churn is not $churn"
chg=$(awk -v a="$(seg 6 revenue region East)" -v b="$(seg 6 revenue region East var/metrics/2025-05.csv)" \
	'BEGIN { c = (a - b) / b * 100; printf "%s%.1f%%", (c > 0 ? "+" : ""), c }')
grep -qE "^ *\\$chg vs prior month" <(sed 's/^ *//' text) || fail "revenue change is not $chg"
# metrics compute has only overall (new customers here) and segment tables read n/a / no data
grep -A2 "New customers" text | grep -q "n/a" || fail "new customers is not n/a for a segment"
grep -A2 "Customers by channel" text | grep -q "No data for this period." || fail "channel table not 'no data'"
lacks text "1,284,530"

# the CLV page: the segment's mean, the lists hold the segment's customers only
clv=$(awk -v v="$(seg 6 clv_predicted region East)" 'BEGIN { printf "$%.2f", v }')
contains text "$clv"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["customer_id"], $c["region"] }' \
	var/metrics/2025-06-customers.csv >regions
ids=$(grep -oE "^ *[0-9]+ +c[0-9]{4} " text | awk '{ print $2 }')
[ -n "$ids" ] || fail "no customers listed for East"
for id in $ids; do
	[ "$(awk -v id=$id '$1 == id { print $2 }' regions)" = East ] || fail "$id is not in region East"
done
best=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	$c["region"] == "East" && $c["clv_predicted"] != "" { print $c["clv_predicted"], $c["customer_id"] }' \
	var/metrics/2025-06-customers.csv | sort -k1,1gr -k2,2 | head -1 | cut -d' ' -f2)
grep -qE "^ *1 +$best " text || fail "the top East customer is not $best"

# Chinese, another dim; the same bytes twice
run 0 "$CRMETL" report --period 2025-06 --segment tier=gold --lang zh
pdf=var/reports/2025-06-executive-zh-tier-gold.pdf
[ -f "$pdf" ] || fail "no $pdf"
if [ -d /usr/share/poppler/cMap/Adobe-GB1 ]; then
	pdftotext -enc UTF-8 -layout "$pdf" text.zh
	contains text.zh "Customer metrics | 客户等级：gold | 2025年6月"
fi
cp "$pdf" first.pdf
run 0 "$CRMETL" report --period 2025-06 --segment tier=gold --lang zh
same first.pdf "$pdf"
[ ! -e var/tmp ] || [ -z "$(ls -A var/tmp)" ] || fail "scratch left in var/tmp: $(ls var/tmp)"

# errors: an unknown segment, a bad spec; nothing written
run 1 "$CRMETL" report --period 2025-06 --segment region=Atlantis
contains err "no metrics of segment region=Atlantis in period 2025-06"
run 2 "$CRMETL" report --period 2025-06 --segment colour=red
contains err "invalid segment 'colour=red'"
run 2 "$CRMETL" report --period 2025-06 --segment region=
ls var/reports | grep -q Atlantis && fail "a report was written for an unknown segment"
[ ! -e var/tmp ] || [ -z "$(ls -A var/tmp)" ] || fail "scratch left after an error"

# the view of a render that was killed (its process is gone) is swept by
# the next one; the view of a live process is left alone
mkdir -p var/periods && : >var/periods/keep # the views link to it: the sweep must not follow
sh -c 'exit 0' &
dead=$!
wait $dead
sleep 60 &
alive=$!
for p in $dead $alive; do
	mkdir -p var/tmp/segment-$p/metrics var/tmp/segment-$p/reports
	: >var/tmp/segment-$p/metrics/2025-06.csv
	ln -s ../../periods var/tmp/segment-$p/periods
done
run 0 "$CRMETL" report --period 2025-06 --segment region=East
[ ! -e var/tmp/segment-$dead ] || fail "the view of a stopped render was left: $(ls -R var/tmp)"
[ -e var/tmp/segment-$alive/metrics/2025-06.csv ] || fail "the view of a live process was removed"
[ -e var/periods/keep ] || fail "the sweep removed what a view links to"
kill $alive 2>/dev/null
wait $alive 2>/dev/null || true
