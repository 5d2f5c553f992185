#!/bin/bash
# report: the executive template over hand-made metrics files
# (tests/e2e/data/report, made by make.py there), in English and Chinese,
# checked with independent tools: qpdf --check, pdfinfo (pages, title,
# date), pdftotext (section titles and headline values as the report
# writes them) and qpdf --json (the outline).
. "$SRCDIR/tests/e2e/lib.sh"

for t in qpdf pdfinfo pdftotext; do
	command -v $t >/dev/null || { echo "$t not installed (make deps)"; exit 77; }
done
mkdir -p var/metrics templates
cp "$SRCDIR"/tests/e2e/data/report/*.csv var/metrics/
cp "$SRCDIR"/templates/executive.xml templates/
: >c.csv
printf '[pipeline]\ndata_dir = var\n[source.c]\nentity = customers\nfile = c.csv\n' >pipeline.conf
export SOURCE_DATE_EPOCH=1751349600 # 2025-07-01 06:00 UTC

# English, the period given
run 0 "$CRMETL" report --config pipeline.conf --period 2025-06
pdf=var/reports/2025-06-executive-en.pdf
[ -f "$pdf" ] || fail "no $pdf"
qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
pdfinfo "$pdf" >info
contains info "Pages:           3"
contains info "Title:           Executive summary 2025-06"
contains info "Page size:       595.276 x 841.89 pts (A4)"
contains info "CreationDate:    Tue Jul  1 06:00:00 2025 UTC"
pdftotext -layout "$pdf" text
for s in "Executive summary" "Headline metrics" "Customers by channel" "Twelve-month trends" \
	"Churn rate" "4.1%" "\$1,284,530" "2,555" "95.9%" "Page 1 of 3" "Page 3 of 3" \
	"Period 2025-06 | generated 2025-07-01 06:00 UTC" "-0.2 pp" "vs a year ago"; do
	contains text "$s"
done
# NPS 31.7 is written 32, on the scorecard and in the channel table
grep -A2 "Net promoter score (NPS)" text | grep -qE '(^| )32( |$)' || { cat text; fail "NPS not shown as 32"; }
grep -E '^ *web ' text | grep -q '\$488,121' || fail "channel table lacks web revenue"
lacks text "0.0412"
grep -qE '(^|[^0-9.])31\.7([^%0-9]|$)' text && fail "NPS written as 31.7"
qpdf --json --json-key=outlines "$pdf" >outline
for s in '"title": "Headline metrics"' '"title": "Customers by channel"' '"title": "Twelve-month trends"' \
	'"title": "Customer value outlook"'; do
	contains outline "$s"
done

# Chinese, the period by default (the latest metrics file)
run 0 "$CRMETL" report --config pipeline.conf --lang zh
pdf=var/reports/2025-06-executive-zh.pdf
[ -f "$pdf" ] || fail "no $pdf"
qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
pdfinfo "$pdf" >info
contains info "Pages:           3"
contains info "Title:           管理层摘要 2025-06"
qpdf --json --json-key=outlines "$pdf" >outline
for s in '"title": "核心指标"' '"title": "各渠道客户"' '"title": "近十二个月趋势"' '"title": "客户价值展望"'; do
	contains outline "$s"
done
if [ -d /usr/share/poppler/cMap/Adobe-GB1 ]; then
	pdftotext -enc UTF-8 -layout "$pdf" text
	for s in "管理层摘要" "核心指标" "各渠道客户" "近十二个月趋势" "流失率" "较去年同期" \
		"4.1%" "\$1,284,530" "第 1 页，共 3 页" "客户价值展望"; do
		contains text "$s"
	done
else
	# Without poppler-data pdftotext cannot map GBK-EUC-H: look for the
	# GBK bytes of a title in the uncompressed content streams instead.
	echo "poppler-data missing: Chinese text checked as GBK bytes"
	qpdf --qdf --object-streams=disable "$pdf" plain.pdf
	gbk=$(printf '核心指标' | iconv -f UTF-8 -t GBK | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
	LC_ALL=C grep -qaF "$(printf '核心指标' | iconv -f UTF-8 -t GBK)" plain.pdf ||
		fail "no GBK text $gbk in $pdf"
fi
