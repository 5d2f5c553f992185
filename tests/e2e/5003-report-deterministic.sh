#!/bin/bash
# report: the same metrics and SOURCE_DATE_EPOCH give the same PDF bytes,
# in both languages; another date changes only the dates.
. "$SRCDIR/tests/e2e/lib.sh"

mkdir -p var/metrics templates
cp "$SRCDIR"/tests/e2e/data/report/*.csv var/metrics/
cp "$SRCDIR"/templates/executive.xml templates/
: >c.csv
printf '[pipeline]\ndata_dir = var\n[source.c]\nentity = customers\nfile = c.csv\n' >pipeline.conf

for lang in en zh; do
	SOURCE_DATE_EPOCH=1751349600 run 0 "$CRMETL" report --config pipeline.conf --lang $lang
	cp var/reports/2025-06-executive-$lang.pdf a.pdf
	sleep 1
	SOURCE_DATE_EPOCH=1751349600 run 0 "$CRMETL" report --config pipeline.conf --lang $lang
	same a.pdf var/reports/2025-06-executive-$lang.pdf
	SOURCE_DATE_EPOCH=1751436000 run 0 "$CRMETL" report --config pipeline.conf --lang $lang
	cmp -s a.pdf var/reports/2025-06-executive-$lang.pdf && fail "the creation date is not written"
done

# a bad SOURCE_DATE_EPOCH is a usage error
SOURCE_DATE_EPOCH=yesterday run 2 "$CRMETL" report --config pipeline.conf
contains err "SOURCE_DATE_EPOCH"
