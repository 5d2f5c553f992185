#!/bin/bash
# Pass 2 splits a bucket too big to load by its ids' hash (etl/norm.c,
# BUCKET_LOAD_MAX 24 MB; the bench's buckets stay under it). SPLIT_CRMETL
# is crmetl built with a 1 KB limit, so every bucket of this small set is
# split, most of them twice: its period files must be the bytes crmetl
# writes, with the same duplicates replaced by the later export.
. "$SRCDIR/tests/e2e/lib.sh"

[ -n "${SPLIT_CRMETL:-}" ] && [ -x "$SPLIT_CRMETL" ] || { echo "SPLIT_CRMETL not built"; exit 77; }

"$GEN" --seed 7 --customers 3000 --months 3 --start 2024-01 --out data >/dev/null ||
	fail "gen failed"
# a later export of every 7th order with 1.00 more: the later source wins
awk -F, 'NR == 1 { print; next } NR % 7 == 0 { $4 = sprintf("%.2f", $4 + 1); print }' OFS=, \
	data/orders.csv >data/orders-late.csv
late=$(($(wc -l <data/orders-late.csv) - 1))
[ "$late" -gt 100 ] || fail "only $late late orders"

conf() {
	printf '[pipeline]\ndata_dir = %s\n' "$1"
	for ent in customers orders spend surveys tickets interactions leads; do
		printf '[source.%s]\nentity = %s\nfile = %s/data/%s.csv\n' "$ent" "$ent" "$PWD" "$ent"
	done
	printf '[source.late]\nentity = orders\nfile = %s/data/orders-late.csv\n' "$PWD"
}
conf a >a.conf
conf b >b.conf

run 0 "$CRMETL" normalize -v --config a.conf
cp err a.err
lacks a.err "splitting a bucket"
run 0 "$SPLIT_CRMETL" normalize -v --config b.conf
cp err b.err
contains b.err "splitting a bucket"
contains b.err "(depth 1)"

# the same survivors, the same bytes (the set has duplicates of its own)
dups=$(sed -n 's/.*replaced \([0-9]*\) duplicates.*/\1/p' a.err)
[ -n "$dups" ] && [ "$dups" -ge "$late" ] || fail "replaced '$dups' duplicates, $late late orders"
contains b.err "replaced $dups duplicates"
# inputs.txt names the program, which is another one
diff -r -x inputs.txt a/periods b/periods >diff.out ||
	{ cat diff.out >&2; fail "split buckets changed the period files"; }
diff <(grep -v '^program ' a/periods/inputs.txt) <(grep -v '^program ' b/periods/inputs.txt) ||
	fail "split buckets changed inputs.txt"

# and the survivors are the later export's: a late order of 2024-02
row=$(grep -m 1 ',2024-02-' data/orders-late.csv) || fail "no late order in 2024-02"
"$CRMETL" dump a/periods/2024-02.crmp --table orders >orders.csv || fail "dump failed"
id=${row%%,*}
amount=$(echo "$row" | cut -d, -f4)
grep -q "^$id,.*,$amount," orders.csv || fail "order $id lacks the later amount $amount: $(grep "^$id," orders.csv)"
echo ok
