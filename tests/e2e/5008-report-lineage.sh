#!/bin/bash
# report: the data-quality and lineage appendix (kind "lineage") over data
# normalized here: two orders exports (with bad rows) and late data that
# restates a month. What the PDF shows is checked against independent
# tools: sha256sum and wc for each file, awk over the quarantine for the
# rejected rows by reason, awk over `crmetl dump` for the restated amount.
# Then: two renders give the same bytes; credentials in a recorded URL are
# never printed; a period without a record says so; a damaged record
# fails the report naming it.
. "$SRCDIR/tests/e2e/lib.sh"

for t in qpdf pdftotext sha256sum awk; do
	command -v $t >/dev/null || { echo "$t not installed (make deps)"; exit 77; }
done
mkdir in templates
cp "$SRCDIR"/fixtures/small/customers.csv in/
gzip -dc "$SRCDIR"/fixtures/small/orders.csv.gz >in/orders-1.csv
# two rejected rows in 2024-05's files, for two reasons
echo "bad-1,c000001,not-a-time,1.00,," >>in/orders-1.csv
echo "bad-2,c000001,2024-05-03T10:00:00Z,abc,," >>in/orders-1.csv
cat >pipeline.conf <<'CONF'
[pipeline]
data_dir = var
[source.customers]
entity = customers
file = in/customers.csv
[source.orders]
entity = orders
file = in/orders-*.csv
CONF
cat >templates/lin.xml <<'EOF'
<report>
  <title lang="en">Lineage</title><title lang="zh">数据来源</title>
  <section kind="lineage">
    <title lang="en">Data quality and lineage</title>
    <title lang="zh">数据质量与数据来源</title>
  </section>
</report>
EOF
run 0 "$CRMETL" normalize
# late data: a second export with one more May order restates 2024-05
head -1 in/orders-1.csv >in/orders-2.csv
echo "late-1,c000002,2024-05-21T10:00:00Z,99.50,," >>in/orders-2.csv
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --from 2024-05 --to 2024-06
lin=var/periods/2024-05.lineage
grep -q '^restated' $lin || fail "the late order did not restate 2024-05"

export SOURCE_DATE_EPOCH=1751349600
for lang in en zh; do
	run 0 "$CRMETL" report --template lin --period 2024-05 --lang $lang
	pdf=var/reports/2024-05-lin-$lang.pdf
	qpdf --check "$pdf" >out 2>&1 || { cat out; fail "qpdf --check $pdf"; }
	pdftotext -layout "$pdf" text.$lang
done
contains text.zh "数据质量与数据来源"
contains text.zh "本期数据重述"

# every export file: location, counts, and its hash and size as sha256sum and wc see them
n=0
for f in in/customers.csv in/orders-1.csv in/orders-2.csv; do
	IFS=$'\t' read -r _ src ent loc sha bytes read rej table kept < <(grep -P "^file\t[^\t]*\t[^\t]*\t$f\t" $lin) ||
		fail "$f is not in $lin"
	n=$((n + 1))
	[ "$sha" = "$(sha256sum $f | cut -d' ' -f1)" ] || fail "$lin: wrong sha256 for $f"
	sep=$(echo "$read $rej $kept $(wc -c <$f)" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
	set -- $sep
	grep -qE "^ *$src +$ent +$f +$1 +$2 +$3 *$" text.en || fail "no row '$src $ent $f $1 $2 $3'"
	grep -qE "sha256 $sha +\| +$4 bytes +\| +into table $table" text.en ||
		fail "no 'sha256 $sha | $4 bytes | into table $table'"
done
read -r files read rej kept < <(awk -F'\t' '$1 == "file" { n++; r += $7; j += $8; k += $10 }
	END { print n, r, j, k }' $lin)
[ "$files" -eq $n ] || fail "$lin lists $files files, expected $n"
pct=$(awk -v j=$rej -v r=$read 'BEGIN { printf "%.2f%%", j / r * 100 }')
sum=$(echo "$read $rej $kept" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
set -- $sum
contains text.en "3 export files fed this period: $1 rows read, $2 rejected ($pct), $3 kept in the period."

# rejected rows by reason, from the quarantine file, with the first row of each
awk -F, 'NR > 1 { k = $3 "|" $5; if (!(k in c)) { o[++n] = k; w[k] = $1 ":" $2 " '"'"'" $4 "'"'"'" } c[k]++ }
	END { for (i = 1; i <= n; i++) { split(o[i], a, "|"); print a[1] "|" a[2] "|" c[o[i]] "|" w[o[i]] } }' \
	var/quarantine/orders.csv >reasons
[ "$(wc -l <reasons)" -eq 2 ] || fail "expected 2 reasons in the quarantine"
while IFS='|' read -r field reason cnt where; do
	grep -qF "$where" <(tr -s ' ' <text.en) || fail "no first row '$where'"
	grep -E "^ *orders +$field +$reason +$cnt " text.en >/dev/null || fail "no reason row '$field $reason $cnt'"
done <reasons

# the restatement: 2024-05's orders, rows and amounts before and after
IFS=$'\t' read -r _ seq when table old new oldt newt < <(grep -P '^restated\t1\t[^\t]*\torders\t' $lin)
run 0 "$CRMETL" dump var/periods/2024-05.crmp --table orders
rows=$(($(wc -l <out) - 1))
[ "$new" -eq "$rows" ] && [ "$old" -eq $((rows - 1)) ] || fail "restated rows $old -> $new, dump has $rows"
amount=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "amount") c = i; next } { s += $c }
	END { printf "%.2f", s }' out | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
before=$(awk -v t=$oldt 'BEGIN { printf "%.2f", t / 10000 }' | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
when=$(echo "$when" | sed 's/T/ /; s/Z$//')
grep -E "^ *1 +$when +orders +$old -> $new +\\\$$before -> \\\$$amount *$" text.en >/dev/null ||
	fail "no restatement row '1 $when orders $old -> $new \$$before -> \$$amount'"
# unchanged tables are not listed
grep -E "^ *1 +$when +(spend|surveys|tickets|interactions|leads) " text.en && fail "unchanged table listed"

# the same data, the same bytes
cp var/reports/2024-05-lin-zh.pdf first.pdf
run 0 "$CRMETL" report --template lin --period 2024-05 --lang zh
same first.pdf var/reports/2024-05-lin-zh.pdf

# a period without a record; a damaged record
rm var/periods/2024-06.lineage
run 0 "$CRMETL" report --template lin --period 2024-06
pdftotext -layout var/reports/2024-06-lin-en.pdf t
contains t "No lineage record for this period"
cp $lin good.lineage
sed -i 's/^end\t/end\t9/' $lin
run 8 "$CRMETL" report --template lin --period 2024-05
contains err "2024-05.lineage"

# a recorded URL with credentials: only host and path are printed
sha=$(printf 'x' | sha256sum | cut -d' ' -f1)
awk -v OFS='\t' -F'\t' -v sha=$sha '$1 == "file" && $2 == "customers" {
	$4 = "https://report-user:s3cr3t-token@crm.example/export/customers.csv"; $5 = sha } 1' good.lineage >$lin
run 0 "$CRMETL" report --template lin --period 2024-05
pdftotext -layout var/reports/2024-05-lin-en.pdf t
contains t "https://crm.example/export/customers.csv"
lacks t "s3cr3t"
lacks t "report-user"
