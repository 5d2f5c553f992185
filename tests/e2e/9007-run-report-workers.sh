#!/bin/bash
# The report stage of a backfill renders in several processes at once: the
# reports are those of a one-at-a-time render (byte for byte), and when
# reports fail the run stops with the error of the earliest failed period
# (the one a one-at-a-time render stops at) and keeps the reports before
# it. A run killed during its report stage leaves no worker behind holding
# the lock and renders nothing after.
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

# SIGKILL the run while its workers render: none of them survives it
fixtures_conf >k.conf
sed -i 's|^data_dir = .*|data_dir = kvar|' k.conf
grep -q '^data_dir = kvar' k.conf || fail "cannot point k.conf at kvar/"
run 0 "$CRMETL" run --from 2024-01 --to 2025-12 --no-mail --config k.conf
KCONF=$PWD/k.conf # an absolute path: pgrep below must find this run's processes only

# Start the backfill and SIGKILL it once a report is written: 0 when the
# kill landed during the report stage, 1 when the run ended first.
kill_in_reports() {
	rm -rf kvar/reports kvar/stamps
	"$CRMETL" run --from 2024-01 --to 2025-12 --no-mail --config "$KCONF" 2>bg.err &
	bg=$!
	for i in $(seq 1 3000); do
		grep -q "report: wrote" bg.err && break
		kill -0 $bg 2>/dev/null || break
		sleep 0.01
	done
	# kill -9 also succeeds on a child that exited but was not waited for:
	# with all 24 reports written, the kill came after the stage's work
	kill -9 $bg 2>/dev/null || { wait $bg; return 1; }
	wait $bg 2>/dev/null
	[ "$(ls kvar/reports/*.pdf 2>/dev/null | wc -l)" -lt 24 ]
}

killed=0
for attempt in 1 2 3 4 5; do
	if kill_in_reports; then
		killed=1
		break
	fi
	echo "note: attempt $attempt: the run ended before it could be killed; again"
done
[ $killed -eq 1 ] || fail "five runs ended before the kill: the report stage was never killed"
# SIGKILL reaches the workers as their parent dies; give it a moment,
# then nothing may be rendered any more
sleep 0.05
before=$(ls kvar/reports | wc -l)
for i in $(seq 1 200); do
	pgrep -f -- "--config $KCONF" >/dev/null || break
	sleep 0.01
done
! pgrep -f -- "--config $KCONF" >/dev/null || fail "report workers outlived their run: $(pgrep -af -- "--config $KCONF")"
sleep 0.3
[ "$(ls kvar/reports | wc -l)" -eq "$before" ] ||
	fail "reports were written after the run was killed ($before, then $(ls kvar/reports | wc -l))"
run 0 "$CRMETL" run --period 2025-06 --no-mail --config k.conf
echo ok
