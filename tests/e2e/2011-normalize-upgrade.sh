#!/bin/bash
# After an upgrade: the inputs name the program (periods/inputs.txt), so a
# new crmetl builds every month again even when no export changed, and a
# period file of an older format holding the same rows is re-encoded, not
# restated (no restatement in its lineage, hence none in its report or
# mail). Other rows are still a restatement.
. "$SRCDIR/tests/e2e/lib.sh"

fixtures_conf >pipeline.conf
run 0 "$CRMETL" normalize
grep -q '^program [0-9a-f]\{64\}$' var/periods/inputs.txt || fail "inputs.txt names no program"
run 0 "$CRMETL" normalize
contains err "inputs unchanged"

# 2023-10 as an older crmetl wrote it (format 1, the same rows), 2023-11
# replaced by that file too (other rows); "a new crmetl" is a copy.
v1="$SRCDIR/tests/fuzz/corpus/crmp/small-2023-10.crmp"
[ "$(od -An -tx1 -j8 -N2 "$v1" | tr -d ' ')" = 0100 ] || fail "the corpus file is not format 1"
cp "$v1" var/periods/2023-10.crmp
cp "$v1" var/periods/2023-11.crmp
cp "$CRMETL" ./crmetl-new
run 0 ./crmetl-new normalize -v
lacks err "inputs unchanged"
contains err "2023-10 re-encoded: the same rows in other bytes"
contains err "1 period files rewritten in this crmetl's encoding with the same rows"
lacks err "restated 2023-10"
contains err "restated 2023-11"
grep -q '^restated' var/periods/2023-10.lineage && fail "2023-10 has a restatement"
grep -q '^restated' var/periods/2023-11.lineage || fail "2023-11 has no restatement"
sed "s|^data_dir = .*|data_dir = fresh|" pipeline.conf >fresh.conf
run 0 "$CRMETL" normalize --config fresh.conf
for f in var/periods/*.crmp; do same "$f" "fresh/periods/${f##*/}"; done

# inspect tells the two formats apart, and names the sort key format 2 states.
run 0 "$CRMETL" inspect "$v1"
contains out "format: version 1.0"
contains out "sorted by: (not stated)"
run 0 "$CRMETL" inspect var/periods/2023-10.crmp
contains out "format: version 2.0"
lacks out "(not stated)"
run 0 "$CRMETL" inspect var/periods/customers.crmp
contains out "sorted by: customer_id"
