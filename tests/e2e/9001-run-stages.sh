#!/bin/bash
# crmetl run fetches the url sources, normalizes, computes, in one locked run;
# it stops with status 9 at the first stage not built yet, keeping what
# the stages before it did.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

cp "$SRCDIR"/fixtures/small/*.csv "$SRCDIR"/fixtures/small/*.gz "$SRCDIR"/fixtures/small/*.xml www/
start_httpd h
sed "s|^file = fixtures/small/\\(.*\\)|url = http://127.0.0.1:$PORT/plain/\\1|" "$SRCDIR/pipeline.conf" >p.conf

run 9 "$CRMETL" run --period 2025-06 --config p.conf
contains err "run: periods 2025-06..2025-06"
contains err "downloaded"
contains err "run: normalize: 14551 rows read"
contains err "run: compute: 1 metrics files written"
contains err "not built yet"
[ -f var/periods/2025-06.crmp ] || fail "normalize did not run"
[ -f var/metrics/2025-06.csv ] || fail "compute did not run"
[ -f var/raw/orders/current.meta ] || fail "fetch did not run"

# The second run fetches nothing new and finds the inputs unchanged.
run 9 "$CRMETL" run --period 2025-06 --config p.conf
contains err "unchanged (304)"
contains err "run: normalize: inputs unchanged"
