#!/bin/bash
# Every kind of bad row lands in quarantine with a reason, exactly the rows
# the generator spoiled; past max_reject_ratio the run fails with status 5
# and leaves every period file as it was.
. "$SRCDIR/tests/e2e/lib.sh"

"$GEN" --seed 7 --customers 300 --bad-rate 0.02 --out in >/dev/null || fail "generator failed"
conf() {
	cat >pipeline.conf <<CONF
[pipeline]
data_dir = var
max_reject_ratio = $1
CONF
	for ent in customers orders spend surveys tickets interactions leads; do
		printf '[source.%s]\nentity = %s\nfile = in/%s.csv\n' "$ent" "$ent" "$ent" >>pipeline.conf
	done
}

conf 0.05
run 0 "$CRMETL" normalize
contains err "warning: normalize: rejected"

# The quarantined (file, line) pairs are exactly the spoiled rows.
tail -n +2 in/bad-rows.csv | cut -d, -f1,2 | sort >want
for f in var/quarantine/*.csv; do
	python3 - "$f" <<'PY'
import csv, os, sys
with open(sys.argv[1], newline='') as fh:
    r = csv.reader(fh)
    next(r)
    for row in r:
        file, line, field, value, reason = row
        assert reason, row
        print("%s,%s" % (os.path.basename(file), line))
PY
done | sort >got
diff want got || fail "quarantine differs from the generator's list of bad rows"

# Reasons are plain words, and name the field when there is one.
contains var/quarantine/orders.csv "amount"
grep -q "unknown customer" var/quarantine/*.csv || fail "no unknown-customer reason"
grep -q "required field is missing" var/quarantine/*.csv || fail "no missing-field reason"
grep -qi "expected .* fields" var/quarantine/*.csv || fail "no field-count reason"

# Too many rejects: exit 5, and no period file changes.
sha256sum var/periods/* >before
rm var/periods/2024-05.crmp
conf 0.001
run 5 "$CRMETL" normalize
contains err "more than max_reject_ratio 0.001"
contains err "no period file was changed"
[ ! -e var/periods/2024-05.crmp ] || fail "a failed run wrote a period file"
grep -v 2024-05 before | sha256sum -c --quiet || fail "a failed run changed period files"
