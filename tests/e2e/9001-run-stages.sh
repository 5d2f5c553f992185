#!/bin/bash
# crmetl run fetches the url sources, normalizes, computes and renders the
# report in one locked run; without a [mail] section there is nothing to
# send and the run succeeds; with one it stops with status 9 (mail is not
# built yet), keeping what the stages before it did.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

cp "$SRCDIR"/fixtures/small/*.csv "$SRCDIR"/fixtures/small/*.gz "$SRCDIR"/fixtures/small/*.xml www/
start_httpd h
sed "s|^file = fixtures/small/\\(.*\\)|url = http://127.0.0.1:$PORT/plain/\\1|" "$SRCDIR/pipeline.conf" >p.conf

run 0 "$CRMETL" run --period 2025-06 --config p.conf
contains err "run: periods 2025-06..2025-06"
contains err "downloaded"
contains err "run: normalize: 14551 rows read"
contains err "run: compute: 13 metrics files written"
contains err "report: wrote var/reports/2025-06-executive-en.pdf"
contains err "no [mail] section in the configuration, nothing to send"
contains err "run: done"
[ -f var/periods/2025-06.crmp ] || fail "normalize did not run"
[ -f var/metrics/2025-06.csv ] || fail "compute did not run"
[ -f var/raw/orders/current.meta ] || fail "fetch did not run"

[ -f var/reports/2025-06-executive-en.pdf ] || fail "report did not run"
qpdf --check var/reports/2025-06-executive-en.pdf >/dev/null || fail "the report is not a valid PDF"

# The second run fetches nothing new and finds the inputs unchanged.
run 0 "$CRMETL" run --period 2025-06 --config p.conf
contains err "unchanged (304)"
contains err "run: normalize: inputs unchanged"

# With a [mail] section the run stops before mail (not built yet), reports written.
printf '[mail]\nurl = smtp://127.0.0.1:2525\nfrom = r@example.com\nto = ceo@example.com\n' >>p.conf
run 9 "$CRMETL" run --period 2025-06 --config p.conf
contains err "the mail stage is not built yet"
run 0 "$CRMETL" run --period 2025-06 --no-mail --config p.conf
contains err "skipped (--no-mail)"
