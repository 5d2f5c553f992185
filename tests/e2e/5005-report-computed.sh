#!/bin/bash
# report over metrics computed by `crmetl compute` from fixtures/small
# (not hand-made files): both templates and languages render and pass
# qpdf --check, and the headline values pdftotext finds are those of the
# metrics file, rounded here independently with awk. Skipped while the
# compute stage is not built (exit status 9).
. "$SRCDIR/tests/e2e/lib.sh"

for t in qpdf pdftotext awk; do
	command -v $t >/dev/null || { echo "$t not installed (make deps)"; exit 77; }
done
fixtures_conf >pipeline.conf
mkdir templates
cp "$SRCDIR"/templates/*.xml templates/
run 0 "$CRMETL" normalize
"$CRMETL" compute --from 2024-01 --to 2025-12 >out 2>err
rc=$?
[ $rc -eq 9 ] && { echo "compute not built yet"; exit 77; }
[ $rc -eq 0 ] || { cat err; fail "compute exited $rc"; }

m=var/metrics/2025-12.csv
val() { awk -F, -v id="$1" '$2 == id && $3 == "all" { print $6 }' "$m"; }
churn=$(val churn_rate | awk '{ printf "%.1f%%", $1 * 100 }')
nps=$(val nps | awk '{ printf "%d", ($1 < 0 ? $1 - 0.5 : $1 + 0.5) }')
customers=$(val customers_end | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
export SOURCE_DATE_EPOCH=1767225600
for tpl in executive full; do
	for lang in en zh; do
		run 0 "$CRMETL" report --template $tpl --lang $lang # the latest period: 2025-12
		pdf=var/reports/2025-12-$tpl-$lang.pdf
		qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
	done
done
pdftotext -layout var/reports/2025-12-executive-en.pdf text
contains text "$churn"
contains text "$customers"
grep -A2 "Net promoter score (NPS)" text | grep -qE "(^| )$nps( |$)" || { cat text; fail "NPS not shown as $nps"; }
