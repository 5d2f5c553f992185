#!/bin/bash
# A month keeps its period file only while its rows are the same
# (etl/norm_reuse.c). Rows spill a string column's first values as indexes
# into the run's few values, so correcting the first-seen value of a
# column to a value never seen before leaves the spill bytes as they were:
# the month must still be rebuilt and restated, with the corrected value,
# the bytes a fresh run gives. Both for a column of few values and for one
# of more than the few (whose first values still travel as indexes).
. "$SRCDIR/tests/e2e/lib.sh"

# case DIR KINDS OLD NEW: KINDS distinct kinds, the first row's OLD
# corrected to NEW (seen nowhere else).
case_of() {
	local dir=$1 kinds=$2 old=$3 new=$4 i
	mkdir -p "$dir/in"
	{
		echo 'customer_id,signup_date,channel,region,tier,referred_by,churn_date'
		for i in $(seq 1 50); do printf 'c%03d,2024-01-01,organic,East,gold,,\n' "$i"; done
	} >"$dir/in/customers.csv"
	{
		echo 'customer_id,occurred_at,kind'
		echo "c001,2024-01-05T10:00:00Z,$old"
		for i in $(seq 1 200); do
			printf 'c%03d,2024-%02d-%02dT11:00:00Z,k%d\n' $((i % 50 + 1)) $((i % 2 + 2)) \
				$((i % 27 + 1)) $((i % kinds + 1))
		done
	} >"$dir/in/interactions.csv"
	printf '[pipeline]\ndata_dir = %s/var\n[source.customers]\nentity = customers\nfile = %s/in/customers.csv\n[source.interactions]\nentity = interactions\nfile = %s/in/interactions.csv\n' \
		"$PWD/$dir" "$PWD/$dir" "$PWD/$dir" >"$dir/var.conf"
	sed "s|/var$|/fresh|" "$dir/var.conf" >"$dir/fresh.conf"
	run 0 "$CRMETL" normalize -c "$dir/var.conf"
	[ -f "$dir/var/periods/2024-01.crmp" ] || fail "$dir: no 2024-01"
	sed -i "2s/,$old\$/,$new/" "$dir/in/interactions.csv"
	contains "$dir/in/interactions.csv" "c001,2024-01-05T10:00:00Z,$new"
	run 0 "$CRMETL" normalize -c "$dir/var.conf"
	contains err "restated"
	run 0 "$CRMETL" dump "$dir/var/periods/2024-01.crmp" --table interactions
	contains out ",$new"
	lacks out ",$old"
	run 0 "$CRMETL" normalize -c "$dir/fresh.conf"
	for f in "$dir"/fresh/periods/*.crmp; do
		same "$f" "$dir/var/periods/${f##*/}"
	done
}

case_of few 4 k1 k7      # kinds k1..k4: a column of few values
case_of many 40 call chat  # 41 kinds: past the few, "call" still an index
