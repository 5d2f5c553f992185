#!/bin/bash
# 0104-gen-tiny-cases: every hand-made case in fixtures/tiny is valid per the
# independent validator, holds all seven exports, has a notes.md and an
# expected.csv in the METRICS.md shape, sorted as METRICS.md sorts; and the
# cases written by make_cases.py are what it writes today.
. "$SRCDIR/tests/e2e/lib.sh"
CHECK="$SRCDIR/tests/e2e/check_exports.py"
TINY="$SRCDIR/fixtures/tiny"

n=0
for d in "$TINY"/*/; do
	name=$(basename "$d")
	n=$((n + 1))
	run 0 python3 "$CHECK" --canonical "$d"
	for e in customers orders spend surveys tickets interactions leads; do
		[ -f "$d/$e.csv" ] || fail "$name lacks $e.csv"
	done
	[ -s "$d/notes.md" ] || fail "$name lacks notes.md"
	[ "$(head -n 1 "$d/expected.csv")" = "period,metric,dim,segment,k,value,numerator,denominator" ] ||
		fail "$name/expected.csv header"
	tail -n +2 "$d/expected.csv" >rows
	[ -s rows ] || fail "$name/expected.csv has no rows"
	awk -F, 'NF != 8 { exit 1 }' rows || fail "$name/expected.csv: a row without 8 fields"
	[ "$(cut -d, -f1 rows | sort -u | wc -l)" -eq 1 ] || fail "$name/expected.csv: more than one period"
	LC_ALL=C sort -t, -k2,2 -k3,3 -k4,4 -k5,5n rows >sorted
	same rows sorted
done
[ "$n" -ge 11 ] || fail "only $n tiny cases"

# make_cases.py output is committed: it must not drift.
mkdir tiny
cp "$TINY/make_cases.py" tiny/
run 0 python3 tiny/make_cases.py
for f in tiny/*/*.csv; do
	same "$f" "$TINY/${f#tiny/}"
done
exit 0
