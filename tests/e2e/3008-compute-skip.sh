#!/bin/bash
# compute skips work whose inputs did not change (metrics/computed.txt):
# a second compute does nothing and leaves every file alone; --force
# computes again; a missing output, another [metrics] setting, a period
# outside what was computed, a period file changed by late data, or
# outputs of an older engine each make it compute again; a crmetl run with
# unchanged inputs skips it too.
. "$SRCDIR/tests/e2e/lib.sh"

fixtures_conf >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --from 2025-01 --to 2025-12
contains err "12 written"
[ -f var/metrics/computed.txt ] || fail "no computed.txt"
stat -c '%n %i %Y' var/metrics/* >before

run 0 "$CRMETL" compute --from 2025-01 --to 2025-12
contains err "compute: nothing to do"
lacks err "written"
stat -c '%n %i %Y' var/metrics/* >after
same before after
# a part of what was computed is covered too
run 0 "$CRMETL" compute --period 2025-06
contains err "nothing to do"

run 0 "$CRMETL" compute --from 2025-01 --to 2025-12 --force
contains err "12 written"
run 0 "$CRMETL" compute --period 2025-06
contains err "nothing to do"

# an output gone
rm var/metrics/2025-06-customers.csv
run 0 "$CRMETL" compute --period 2025-06
contains err "1 written"
[ -f var/metrics/2025-06-customers.csv ] || fail "2025-06-customers.csv not rebuilt"

# a period never computed
run 0 "$CRMETL" compute --period 2024-12
contains err "1 written"
run 0 "$CRMETL" compute --period 2025-03
contains err "nothing to do"

# another setting of [metrics]
sed 's/^inactivity_days = 90/inactivity_days = 60/' pipeline.conf >p60.conf
grep -q '^inactivity_days = 60' p60.conf || fail "sed did not change the setting"
run 0 "$CRMETL" compute --config p60.conf --period 2025-06
contains err "1 written"
run 0 "$CRMETL" compute --config p60.conf --period 2025-06
contains err "nothing to do"

# late data: a period file changes, so compute runs again
mkdir late
cp "$SRCDIR"/fixtures/small/*.csv late/
zcat "$SRCDIR/fixtures/small/orders.csv.gz" >late/orders.csv
echo "late-1,$(sed -n 2p late/customers.csv | cut -d, -f1),2025-06-15T10:00:00Z,12.34,,completed" >>late/orders.csv
sed "s|= .*orders.csv.gz|= $PWD/late/orders.csv|" p60.conf >late.conf
run 0 "$CRMETL" normalize --config late.conf
run 0 "$CRMETL" compute --config late.conf --period 2025-06
contains err "1 written"

# the default range: recorded as "all"
run 0 "$CRMETL" compute --config late.conf
contains err "written"
contains var/metrics/computed.txt "computed all"
run 0 "$CRMETL" compute --config late.conf
contains err "nothing to do"

# the nightly run with unchanged inputs skips the stage
run 0 "$CRMETL" run --config late.conf --period 2025-06 --no-mail
run 0 "$CRMETL" run --config late.conf --period 2025-06 --no-mail
contains err "run: compute: nothing changed since the last compute"

# outputs of an older crmetl: another engine version in the stamp
run 0 "$CRMETL" compute --config late.conf
contains err "nothing to do"
sed -i 's/^engine [0-9]*$/engine 1/' var/metrics/computed.txt
grep -q '^engine 1$' var/metrics/computed.txt || fail "sed did not change the engine line"
run 0 "$CRMETL" compute --config late.conf
contains err "written"
lacks err "nothing to do"
