#!/bin/bash
# A normalize killed with SIGKILL at random moments never leaves a torn or
# half-written period file visible; the next run repairs the state and
# gives files identical to an uninterrupted run.
. "$SRCDIR/tests/e2e/lib.sh"

fixtures_conf ref >ref.conf
fixtures_conf >p.conf
run 0 "$CRMETL" normalize -q --config ref.conf
run 0 "$CRMETL" normalize -q --config p.conf

check_visible() {
	for f in var/periods/*.crmp; do
		"$CRMETL" inspect "$f" >/dev/null 2>inspect.err || { cat inspect.err; fail "torn file $f visible after kill $1"; }
	done
}

RANDOM=42
for i in $(seq 1 12); do
	"$CRMETL" normalize -q --force --config p.conf 2>/dev/null &
	pid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	check_visible "$i"
done

# The next run sweeps what the killed runs left and ends where a clean run
# ends; among it, surely, a cache entry a dead run was writing.
sh -c 'exit 0' &
dead=$!
wait $dead
mkdir -p var/cache
touch "var/cache/2024-05.rows.tmp.$dead"
run 0 "$CRMETL" normalize -q --config p.conf
for f in ref/periods/*; do
	same "$f" "var/periods/$(basename "$f")"
done
[ "$(ls var/periods | wc -l)" -eq "$(ls ref/periods | wc -l)" ] || fail "extra files in var/periods: $(ls var/periods)"
left=$(ls var/tmp 2>/dev/null)
[ -z "$left" ] || fail "leftovers in var/tmp: $left"
left=$(ls var/cache | grep '\.tmp\.')
[ -z "$left" ] || fail "leftovers in var/cache: $left"
