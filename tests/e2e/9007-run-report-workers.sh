#!/bin/bash
# The report stage of a backfill renders in several processes at once: the
# reports are those of a one-at-a-time render (byte for byte), and when
# reports fail the run stops with the error of the earliest failed period,
# as a one-at-a-time render would, and keeps the reports before it.
. "$SRCDIR/tests/e2e/lib.sh"

export SOURCE_DATE_EPOCH=1767225600
fixtures_conf >p.conf
run 0 "$CRMETL" run --from 2025-01 --to 2025-06 --no-mail --config p.conf
[ "$(ls var/reports/*.pdf | wc -l)" -eq 6 ] || fail "expected 6 reports: $(ls var/reports)"

# one at a time, with `crmetl report`, into a copy: the same bytes
cp -r var one
sed 's|^data_dir = .*|data_dir = one|' p.conf >one.conf
grep -q '^data_dir = one' one.conf || fail "cannot point the copy's configuration at one/"
rm -f one/reports/*.pdf
for p in 2025-01 2025-02 2025-03 2025-04 2025-05 2025-06; do
	run 0 "$CRMETL" report --period $p --config one.conf
	same var/reports/$p-executive-en.pdf one/reports/$p-executive-en.pdf
done

# damage the metrics of 2025-05 and 2025-04 (a worker each when there are
# two); a report reads earlier months too, so 2025-06 fails as well
for p in 2025-05 2025-04; do
	printf 'garbage,"unterminated\n' >>var/metrics/$p.csv
done
rm -f var/reports/*.pdf
run 8 "$CRMETL" run --from 2025-01 --to 2025-06 --no-mail --config p.conf
contains err "(var/metrics/2025-04.csv:"
lacks err "2025-05.csv:"
for p in 2025-01 2025-02 2025-03; do
	same var/reports/$p-executive-en.pdf one/reports/$p-executive-en.pdf
done
for p in 2025-04 2025-05 2025-06; do
	[ ! -f var/reports/$p-executive-en.pdf ] || fail "a report of damaged metrics was written ($p)"
done
echo ok
