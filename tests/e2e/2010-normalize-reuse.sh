#!/bin/bash
# A month whose rows did not change keeps its period file without being
# rebuilt (etl/norm_reuse.c, cache/YYYY-MM.rows): a night's late order
# rebuilds its own month only, and every period file and lineage record is
# what rebuilding every month gives. A torn entry, a period file replaced
# or damaged behind normalize's back, another executable, --force, a new
# id shape or an unusable cache directory rebuild as before.
. "$SRCDIR/tests/e2e/lib.sh"

mkdir in
cp "$SRCDIR"/fixtures/small/customers.csv in/
cp "$SRCDIR"/fixtures/small/orders.csv in/orders-1.csv
conf() {
	printf '[pipeline]\ndata_dir = %s\n[source.customers]\nentity = customers\n' "$1"
	printf 'file = in/customers.csv\n[source.orders]\nentity = orders\nfile = in/orders-*.csv\n'
}
conf var >pipeline.conf
run 0 "$CRMETL" normalize
n=$(ls var/periods/*.crmp | grep -vc customers.crmp)
[ "$(ls var/cache/*.rows | wc -l)" -eq "$n" ] || fail "not one entry per period file"
lacks err "unchanged: the same rows"

# Every period file and lineage record of $1 and $2 are the same, apart
# from the run time on restatement lines.
same_periods() {
	local f b
	[ "$(ls "$1"/periods | wc -l)" -eq "$(ls "$2"/periods | wc -l)" ] || fail "$1, $2: other files"
	for f in "$1"/periods/*.crmp; do
		same "$f" "$2/periods/${f##*/}"
	done
	for f in "$1"/periods/*.lineage; do
		b=${f##*/}
		sed 's/^\(restated\t[0-9]*\t\)[^\t]*/\1TIME/' "$f" >"a-$b"
		sed 's/^\(restated\t[0-9]*\t\)[^\t]*/\1TIME/' "$2/periods/$b" >"b-$b"
		same "a-$b" "b-$b"
	done
}

# A night: a second export with one late order in 2024-05.
cust=$(sed -n '2s/,.*//p' in/customers.csv)
{
	echo "order_id,customer_id,ordered_at,amount,cost,status"
	echo "o9000001,$cust,2024-05-20T10:00:00Z,100.00,40.00,completed"
} >in/orders-2.csv
cp -r var before
run 0 "$CRMETL" normalize -v
contains err "1 written (1 restated), $((n - 1)) unchanged"
contains err "2024-06 unchanged: the same rows"
lacks err "2024-05 unchanged: the same rows"
# The reused months' lineage names today's files: the new export is there.
grep -q "in/orders-2.csv" var/periods/2024-05.lineage || fail "2024-05 lineage lacks the new file"
grep -q "$(sha256sum in/customers.csv | cut -d' ' -f1)" var/periods/2024-06.lineage ||
	fail "2024-06 lineage"

# The same night with no entries: every month rebuilt, the same files.
cp -r before full
rm -r full/cache
conf full >full.conf
run 0 "$CRMETL" normalize -v --config full.conf
lacks err "unchanged: the same rows"
contains err "1 written (1 restated), $((n - 1)) unchanged"
same_periods var full
# And from nothing: the same period files.
conf fresh >fresh.conf
run 0 "$CRMETL" normalize --config fresh.conf
for f in var/periods/*.crmp; do same "$f" "fresh/periods/${f##*/}"; done

# Entries that do not hold: a torn one, and a period file replaced by
# another month's bytes. The inputs change too, or nothing would be read.
echo "o9000002,$cust,2024-09-20T10:00:00Z,10.00,,completed" >>in/orders-2.csv
# and a corrected amount of a December order: as many rows as before.
grep -m 1 ',2024-12-1[0-9]T.*,completed$' in/orders-1.csv |
	awk -F, 'BEGIN { OFS = "," } { $4 = "123.45"; print }' >>in/orders-2.csv
head -c 40 var/cache/2024-06.rows >torn && mv torn var/cache/2024-06.rows
cp var/periods/2024-11.crmp var/periods/2024-08.crmp
# and a byte changed in place, the file's times put back.
cp -p var/periods/2025-01.crmp kept.crmp
printf 'X' | dd of=var/periods/2025-01.crmp bs=1 seek=100 conv=notrunc 2>/dev/null
touch -r kept.crmp var/periods/2025-01.crmp
cmp -s kept.crmp var/periods/2025-01.crmp && fail "the byte did not change"
run 0 "$CRMETL" normalize -v
lacks err "2024-06 unchanged: the same rows"
lacks err "2024-08 unchanged: the same rows"
lacks err "2024-09 unchanged: the same rows"
lacks err "2024-12 unchanged: the same rows"
contains err "2024-10 unchanged: the same rows"
contains err "restated 2024-08:"
contains err "restated 2024-12: order amounts"
lacks err "2025-01 unchanged: the same rows"
contains err "4 written (4 restated), $((n - 4)) unchanged"
[ "$(grep -c . var/cache/2024-06.rows)" -eq 4 ] || fail "the torn entry was not replaced"
rm -r fresh
run 0 "$CRMETL" normalize --config fresh.conf
for f in var/periods/*.crmp; do same "$f" "fresh/periods/${f##*/}"; done

# Another executable (a copy: another identity) rebuilds every month.
echo "o9000003,$cust,2024-09-21T10:00:00Z,10.00,,completed" >>in/orders-2.csv
cp "$CRMETL" ./crmetl-copy
run 0 ./crmetl-copy normalize -v
lacks err "unchanged: the same rows"
contains err "1 written (1 restated), $((n - 1)) unchanged"
# So does --force, which rewrites every file.
run 0 "$CRMETL" normalize -v --force
lacks err "unchanged: the same rows"
contains err "$n written (0 restated), 0 unchanged"

# An id of a new shape makes the order ids general in every month: every
# key changes, and every month is rebuilt to the same bytes.
echo "late-5,$cust,2024-09-23T10:00:00Z,10.00,,completed" >>in/orders-2.csv
run 0 "$CRMETL" normalize -v
lacks err "unchanged: the same rows"
contains err "1 written (1 restated), $((n - 1)) unchanged"
run 0 "$CRMETL" normalize -v --period 2024-10 --force
contains err "1 written (0 restated), 0 unchanged"
echo "o9000005,$cust,2024-09-24T10:00:00Z,10.00,,completed" >>in/orders-2.csv
run 0 "$CRMETL" normalize -v
contains err "2024-10 unchanged: the same rows"
contains err "1 written (1 restated), $((n - 1)) unchanged"

# No usable cache directory: said, and every month is rebuilt.
echo "o9000004,$cust,2024-09-22T10:00:00Z,10.00,,completed" >>in/orders-2.csv
rm -r var/cache
touch var/cache
run 0 "$CRMETL" normalize -v
contains err "every month is rebuilt"
lacks err "unchanged: the same rows"
contains err "1 written (1 restated), $((n - 1)) unchanged"
rm -r fresh
run 0 "$CRMETL" normalize --config fresh.conf
for f in var/periods/*.crmp; do same "$f" "fresh/periods/${f##*/}"; done
