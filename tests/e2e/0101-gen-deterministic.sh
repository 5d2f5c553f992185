#!/bin/bash
# 0101-gen-deterministic: the fixture generator gives the same bytes for the
# same arguments (CSV, XML, gzip and bad-rows.csv), other bytes for another
# seed, spoils rows without moving the good ones, and has a clean command line.
. "$SRCDIR/tests/e2e/lib.sh"

args="--customers 200 --months 14 --start 2023-11 --xml tickets --xml leads --gzip orders --gzip interactions"
run 0 "$GEN" --seed 7 $args --out a
run 0 "$GEN" --seed 7 $args --out b
run 0 "$GEN" --seed=7 $(echo "$args" | sed 's/--customers 200/--customers=200/') --out=c
run 0 "$GEN" --seed 8 $args --out d

[ "$(ls a | wc -l)" -eq 11 ] || fail "expected 7 CSV + 2 XML + 2 gzip files, got: $(ls a | tr '\n' ' ')"
[ "$(ls a)" = "$(ls b)" ] || fail "file lists differ between two runs"
for f in a/*; do
	n=$(basename "$f")
	same "$f" "b/$n"
	same "$f" "c/$n"
done
[ ! -e a/bad-rows.csv ] || fail "bad-rows.csv written without --bad-rate"

# Another seed: every file changes.
for f in a/*.csv; do
	n=$(basename "$f")
	if cmp -s "$f" "d/$n"; then fail "seed 7 and seed 8 give the same $n"; fi
done

# Bad rows are deterministic too, and replace rows in place: every line not
# listed in bad-rows.csv is the same as without --bad-rate (customers.csv
# gets extra rows instead, so it is left out here).
run 0 "$GEN" --seed 7 $args --bad-rate 0.05 --out e
run 0 "$GEN" --seed 7 $args --bad-rate 0.05 --out f
for x in e/*; do same "$x" "f/$(basename "$x")"; done
[ -s e/bad-rows.csv ] || fail "no bad-rows.csv with --bad-rate 0.05"
python3 - <<'PY' || fail "good rows moved when bad rows were added"
import csv
bad = {}
with open("e/bad-rows.csv", newline="") as fh:
    for r in csv.DictReader(fh):
        bad.setdefault(r["file"], set()).add(int(r["line"]))
for name in ("orders.csv", "spend.csv", "surveys.csv", "tickets.csv", "interactions.csv"):
    clean = open("a/" + name, "rb").read().split(b"\n")
    spoiled = open("e/" + name, "rb").read().split(b"\n")
    assert len(clean) == len(spoiled), name
    diff = {i + 1 for i, (x, y) in enumerate(zip(clean, spoiled)) if x != y}
    assert diff == bad.get(name, set()), (name, sorted(diff ^ bad.get(name, set()))[:5])
PY

# --help: usage on stdout, exit 0.
run 0 "$GEN" --help
contains out "usage: gen"
contains out "--bad-rate"
[ ! -s err ] || fail "--help wrote to stderr"

# Bad options: exit 2, and the message names the option and the problem.
bad_option() {
	# (not "want": lib.sh's run uses that name)
	opt=$1
	shift
	run 2 "$GEN" "$@"
	contains err "$opt"
	[ ! -s out ] || fail "'$*' wrote to stdout"
}
bad_option "--customers" --customers 0 --out x
bad_option "--customers" --customers 12x --out x
bad_option "--customers" --customers -5 --out x
bad_option "--months" --months 0 --out x
bad_option "--start" --start 2024-13 --out x
bad_option "--start" --start 2024-1 --out x
bad_option "--seed" --seed abc --out x
bad_option "--bad-rate" --bad-rate 1.5 --out x
bad_option "--bad-rate" --bad-rate 0,5 --out x
bad_option "--xml" --xml widgets --out x
bad_option "--gzip" --gzip "" --out x
bad_option "--bogus" --bogus --out x
bad_option "--out" --customers 5
bad_option "--seed" --out x --seed
[ ! -e x ] || fail "a failed run created its output directory"
exit 0
