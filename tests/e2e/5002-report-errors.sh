#!/bin/bash
# report: clear errors and the documented exit status for a broken
# template (3, naming the file and line; a wrong encoding in one line), an
# unknown template (3), a missing metrics directory and a missing period
# (1, naming the file), and a damaged metrics file (8); nothing is written
# then.
. "$SRCDIR/tests/e2e/lib.sh"

mkdir -p var templates
cp "$SRCDIR"/templates/executive.xml templates/
: >c.csv
printf '[pipeline]\ndata_dir = var\n[source.c]\nentity = customers\nfile = c.csv\n' >pipeline.conf

# no metrics at all
run 1 "$CRMETL" report --config pipeline.conf
contains err "no metrics to report"
contains err "var/metrics"

mkdir -p var/metrics
cp "$SRCDIR"/tests/e2e/data/report/2025-0[56].csv var/metrics/

# a period without metrics
run 1 "$CRMETL" report --config pipeline.conf --period 2025-07
contains err "no metrics for period 2025-07"
contains err "var/metrics/2025-07.csv"

# a template that is not well-formed XML: file and line
line=$(grep -n '^  </section>' templates/executive.xml | sed -n 2p | cut -d: -f1)
sed "${line}s|</section>|</sectio>|" templates/executive.xml >templates/broken.xml
run 3 "$CRMETL" report --config pipeline.conf --template broken
contains err "templates/broken.xml:$line"
contains err "bad template"

# a well-formed template with a mistyped metric: file, line, suggestion
sed 's|<metric id="churn_rate" format="percent" good="down"/>|<metric id="churn_rat"/>|' \
	templates/executive.xml >templates/typo.xml
line=$(grep -n 'churn_rat"' templates/typo.xml | cut -d: -f1)
run 3 "$CRMETL" report --config pipeline.conf --template typo
contains err "templates/typo.xml:$line"
contains err "unknown metric 'churn_rat' (did you mean 'churn_rate'?)"

# a section without its Chinese title
sed '/核心指标/d' templates/executive.xml >templates/notitle.xml
run 3 "$CRMETL" report --config pipeline.conf --template notitle
contains err "lacks a <title lang=\"zh\">"

# a template whose declared encoding does not match its bytes: one clear
# line on stderr, the conversion named, none of libxml2's own printing
sed '1s/encoding="UTF-8"/encoding="EUC-JP"/' templates/executive.xml >templates/enc.xml
run 3 "$CRMETL" report --config pipeline.conf --template enc
[ "$(wc -l <err)" -eq 1 ] || { cat err; fail "more than one line on stderr"; }
contains err "templates/enc.xml"
contains err "input conversion failed"

# an unknown template
run 3 "$CRMETL" report --config pipeline.conf --template nosuch
contains err "templates/nosuch.xml"

# a damaged metrics file
printf 'period,metric,dim,segment,k,value,numerator,denominator\n2025-06,churn_rate,all,,,abc,,\n' \
	>var/metrics/2025-06.csv
run 8 "$CRMETL" report --config pipeline.conf --period 2025-06
contains err "2025-06.csv:2"

[ ! -e var/reports ] || [ -z "$(ls var/reports)" ] || fail "a report was written after an error"
