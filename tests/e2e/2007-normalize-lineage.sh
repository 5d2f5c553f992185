#!/bin/bash
# Every period file gets a lineage record (docs/period-format.md, "Lineage
# records"): the SHA-256 and size of each export file that fed it, whole-file
# rows read and rejected, rows kept in the period; unchanged inputs rewrite
# nothing; late data adds numbered restatement lines and keeps the old ones.
. "$SRCDIR/tests/e2e/lib.sh"

mkdir in
cp "$SRCDIR"/fixtures/small/customers.csv in/
cp "$SRCDIR"/fixtures/small/orders.csv in/orders-1.csv
# One bad row: rejected, counted for the whole file.
echo "bad-1,c000001,not-a-time,1.00,," >>in/orders-1.csv
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
run 0 "$CRMETL" normalize
n_periods=$(ls var/periods/*.crmp | grep -vc customers.crmp)
[ "$(ls var/periods/*.lineage | wc -l)" -eq "$n_periods" ] || fail "not one lineage per period file"

lin=var/periods/2024-05.lineage
head -n 2 "$lin" >head
printf 'crmetl lineage\t1\nperiod\t2024-05\n' >want
same head want
# The orders file's line: field by field against independent tools.
line=$(grep -P '^file\torders\t' "$lin") || fail "no orders line in $lin"
IFS=$'\t' read -r kind src ent loc sha bytes read rej table kept <<<"$line"
[ "$ent" = orders ] && [ "$loc" = in/orders-1.csv ] && [ "$table" = orders ] ||
	fail "wrong source fields: $line"
[ "$sha" = "$(sha256sum in/orders-1.csv | cut -d' ' -f1)" ] || fail "sha256 $sha"
[ "$bytes" = "$(wc -c <in/orders-1.csv)" ] || fail "bytes $bytes"
[ "$read" = "$(($(wc -l <in/orders-1.csv) - 1))" ] || fail "rows read $read"
[ "$rej" = 1 ] || fail "rows rejected $rej"
run 0 "$CRMETL" dump var/periods/2024-05.crmp --table orders
[ "$kept" = "$(($(wc -l <out) - 1))" ] || fail "rows kept $kept"
# Customers: the ones who signed up in the period.
cline=$(grep -P '^file\tcustomers\t' "$lin") || fail "no customers line"
[ "$(echo "$cline" | cut -f5)" = "$(sha256sum in/customers.csv | cut -d' ' -f1)" ] ||
	fail "customers sha256"
signups=$(awk -F, 'NR > 1 && substr($2, 1, 7) == "2024-05"' in/customers.csv | wc -l)
[ "$(echo "$cline" | cut -f10)" = "$signups" ] || fail "customers kept: $cline, want $signups"
grep -q '^restated' "$lin" && fail "restatement without late data"
tail -n 1 "$lin" | grep -qP '^end\t2\t0$' || fail "bad end line"

# Unchanged inputs: nothing rewritten, not even the lineage.
sha256sum var/periods/* >before
sleep 1
touch -d '2000-01-01' var/periods/*.lineage
run 0 "$CRMETL" normalize
contains err "nothing to do"
sha256sum -c --quiet before || fail "files changed"
[ -z "$(find var/periods -name '*.lineage' -newermt 2001-01-01)" ] || fail "a lineage was rewritten"
# --force rebuilds with the same bytes, lineage included.
run 0 "$CRMETL" normalize --force
sha256sum -c --quiet before || fail "--force changed files"

# Late data for 2024-05: one restatement line per table, numbered 1.
cust=$(echo "$line" >/dev/null; awk -F, 'NR == 2 {print $2}' in/orders-1.csv)
{
	echo "order_id,customer_id,ordered_at,amount,cost,status"
	echo "late-1,$cust,2024-05-20T10:00:00Z,100.00,40.00,completed"
} >in/orders-2.csv
run 0 "$CRMETL" normalize
contains err "restated 2024-05: orders"
grep -P "^restated\t1\t[0-9T:-]{19}Z\torders\t$kept\t$((kept + 1))\t-?[0-9]+\t-?[0-9]+$" "$lin" >r1 ||
	fail "no restatement of orders in $lin"
old_total=$(cut -f7 r1)
new_total=$(cut -f8 r1)
[ "$((new_total - old_total))" = 1000000 ] || fail "total changed by $((new_total - old_total))"
grep -qP "^restated\t1\t.*\tinteractions\t([0-9]+)\t\1\t-\t-$" "$lin" || fail "no interactions line"
grep -qP "^file\torders\torders\tin/orders-2.csv\t$(sha256sum in/orders-2.csv | cut -d' ' -f1)\t[0-9]+\t1\t0\torders\t1$" "$lin" ||
	fail "no line for the late file"
# Periods that did not change keep their record.
grep -v -e 2024-05 before | grep lineage | sha256sum -c --quiet || fail "other lineages changed"

# More late data: restatement 2 is added, 1 is kept.
echo "late-2,$cust,2024-05-21T10:00:00Z,50.00,,completed" >>in/orders-2.csv
sleep 1
run 0 "$CRMETL" normalize
grep -qP "^restated\t1\t.*\torders\t$kept\t$((kept + 1))\t" "$lin" || fail "restatement 1 lost"
grep -qP "^restated\t2\t.*\torders\t$((kept + 1))\t$((kept + 2))\t" "$lin" || fail "no restatement 2"
tail -n 1 "$lin" | grep -qP '^end\t3\t12$' || { cat "$lin" >&2; fail "bad end line after 2 restatements"; }
