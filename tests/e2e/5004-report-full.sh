#!/bin/bash
# report: the full template (every section kind, tables by channel, region,
# tier and an RFM table with no data) in both languages: qpdf --check, page
# count, outline entries for every section, and a segment row of each table
# (the predictive CLV section itself is checked by 5007).
. "$SRCDIR/tests/e2e/lib.sh"

for t in qpdf pdfinfo pdftotext; do
	command -v $t >/dev/null || { echo "$t not installed (make deps)"; exit 77; }
done
mkdir -p var/metrics templates
cp "$SRCDIR"/tests/e2e/data/report/*.csv var/metrics/
cp "$SRCDIR"/templates/full.xml templates/
: >c.csv
printf '[pipeline]\ndata_dir = var\ncurrency = EUR\n[source.c]\nentity = customers\nfile = c.csv\n[report]\ntemplate = full\nlang = zh\n' >pipeline.conf
export SOURCE_DATE_EPOCH=1751349600

# template and language from the config; --lang overrides
run 0 "$CRMETL" report --config pipeline.conf --period 2025-06
run 0 "$CRMETL" report --config pipeline.conf --period 2025-06 --lang en
for lang in en zh; do
	pdf=var/reports/2025-06-full-$lang.pdf
	[ -f "$pdf" ] || fail "no $pdf"
	qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
	pdfinfo "$pdf" >info
	contains info "Pages:           10"
	qpdf --json --json-key=outlines "$pdf" >outline
	[ "$(grep -c '"title":' outline)" -eq 17 ] || { cat outline; fail "$pdf: expected 17 outline entries"; }
done
pdftotext -layout var/reports/2025-06-full-en.pdf text
for s in "Growth and value" "Economics and service" "By channel" "By region" "By tier" \
	"By RFM segment" "No data for this period." "Service and engagement" \
	"EUR 1,284,530" "4.1 h" "Page 10 of 10" "Predictive customer lifetime value" \
	"Predicted value by channel" "Data quality and lineage" "No lineage record for this period"; do
	contains text "$s"
done
grep -E '^ *East ' text | grep -q 'EUR 436,740' || fail "region table lacks East revenue"
grep -E '^ *gold ' text | grep -q '2.3%' || fail "tier table lacks gold churn"
# predicted value by channel: web's mean CLV, P(alive) and expected purchases
row=$(awk -F, '$3 == "channel" && $4 == "web" && $2 ~ /^(clv_predicted|p_alive|expected_purchases)$/ {
	v[$2] = $6 } END { printf "^ *web +EUR %.2f +%.1f%% +%.2f *$", v["clv_predicted"],
	v["p_alive"] * 100, v["expected_purchases"] }' var/metrics/2025-06.csv)
grep -qE "$row" text || fail "channel CLV table: no line /$row/"
qpdf --json --json-key=outlines var/reports/2025-06-full-zh.pdf >outline
contains outline '"title": "按 RFM 客户分群"'
