#!/bin/bash
# One run at a time per data directory: a second run exits at once with
# status 7 naming the holder; a killed holder never blocks the next run.
. "$SRCDIR/tests/e2e/lib.sh"

fixtures_conf >p.conf
mkdir -p var
# A holder in one process (so SIGKILL ends it): Python's flock is flock(2).
hold_lock var
holder=$HOLDER
run 7 "$CRMETL" normalize --config p.conf
contains err "another crmetl run holds the lock on 'var'"
kill -9 $holder
wait $holder 2>/dev/null
run 0 "$CRMETL" normalize -q --config p.conf

# A real crmetl holder is named by pid and command.
"$CRMETL" normalize --force --config p.conf 2>/dev/null &
sleep 0.05
"$CRMETL" normalize --config p.conf >out 2>err
status=$?
wait
if [ "$status" -eq 7 ]; then
	grep -Eq "pid [0-9]+, crmetl normalize, started [0-9T:-]+Z" err || fail "holder not named: $(cat err)"
else
	[ "$status" -eq 0 ] || fail "second run exited $status"
fi
