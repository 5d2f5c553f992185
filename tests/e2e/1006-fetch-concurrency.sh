#!/bin/bash
# Several sources in one run go through the curl multi interface at most
# [fetch] concurrency at a time: with 6 slow sources the server never sees
# more requests in flight than the limit, and it does see the limit reached
# (so they really overlap). A source waiting out a backoff holds no slot.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

start_httpd h
B=http://127.0.0.1:$PORT
conf() { # CONCURRENCY
	conf_head "$1"
	for i in 1 2 3 4 5 6; do source_sec "s$i" "$B/slow/orders.csv?s=0.4&n=$i"; done
}
max_inflight() {
	sed 's/.* inflight=\([0-9]*\).*/\1/' h.log | sort -n | tail -n 1
}

conf 2 >two.conf
run 0 "$CRMETL" fetch --config two.conf
contains err "6 downloaded"
[ "$(max_inflight)" -eq 2 ] || fail "limit 2: max in flight $(max_inflight): $(cat h.log)"
for i in 1 2 3 4 5 6; do
	same "var/raw/s$i/$(meta_val "s$i" sha256)" www/orders.csv
done

: >h.log
conf 6 >six.conf
start=$(date +%s.%N)
run 0 "$CRMETL" fetch --config six.conf
secs=$(python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$start")
contains err "6 unchanged"
[ "$(max_inflight)" -eq 6 ] || fail "limit 6: max in flight $(max_inflight): $(cat h.log)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.4 else 1)" "$secs" || fail "6 x 0.4 s took $secs s: not concurrent"

# Backoff holds no slot: with concurrency 1, a source retrying after a 503
# (Retry-After: 1) lets another one download in the meantime.
: >h.log
{
	conf_head 1
	source_sec flaky "$B/flaky/orders.csv?fail=1&after=1"
	source_sec other "$B/slow/spend.csv?s=0.2"
} >one.conf
run 0 "$CRMETL" fetch --config one.conf
[ "$(sed -n 2p h.log | cut -d' ' -f2)" = "/slow/spend.csv?s=0.2" ] || fail "slot held while backing off: $(cat h.log)"
[ "$(requests h.log '^GET /flaky/')" -eq 2 ] || fail "flaky: $(cat h.log)"
exit 0
