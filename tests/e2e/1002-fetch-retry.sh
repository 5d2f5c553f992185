#!/bin/bash
# Retries: 503 with Retry-After twice then 200 succeeds after exactly 3
# requests, waiting out Retry-After each time; 429 is retried too; a 500
# that persists gives up after `retries`; 404 is never retried. The stage
# still fetches every source, then fails with exit status 4 naming the
# source, the URL and the status.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

start_httpd h
B=http://127.0.0.1:$PORT
{
	conf_head
	source_sec flaky "$B/flaky/orders.csv?fail=2&after=1&code=503"
	source_sec limited "$B/flaky/spend.csv?fail=1&after=none&code=429"
	source_sec broken "$B/status/500" "retries = 1"
	source_sec missing "$B/status/404"
} >p.conf

start=$(date +%s.%N)
run 4 "$CRMETL" fetch --config p.conf
secs=$(python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$start")

# flaky: 503, 503, 200 = 3 requests, at least 1 s apart (Retry-After: 1).
[ "$(requests h.log '^GET /flaky/orders.csv')" -eq 3 ] || fail "flaky: $(cat h.log)"
grep '^GET /flaky/orders.csv' h.log | sed 's/.* t=//' | awk 'NR > 1 && $1 - prev < 0.95 { bad = 1 } { prev = $1 } END { exit bad }' ||
	fail "Retry-After not honoured: $(grep flaky/orders h.log)"
contains err "source 'flaky': HTTP status 503; retry 1 of 4 in 1.00 s"
contains err "source 'flaky': HTTP status 503; retry 2 of 4 in 1.00 s"
contains err "source 'flaky' downloaded 212781 bytes"
same "var/raw/flaky/$(meta_val flaky sha256)" www/orders.csv

# limited: 429 without Retry-After, then 200 (backoff only).
[ "$(requests h.log '^GET /flaky/spend.csv')" -eq 2 ] || fail "limited: $(cat h.log)"
contains err "source 'limited': HTTP status 429; retry 1 of 4"
contains err "source 'limited' downloaded"

# broken: retries = 1 -> 2 requests, then a named failure.
[ "$(requests h.log '^GET /status/500 ')" -eq 2 ] || fail "broken: $(cat h.log)"
contains err "cannot fetch source 'broken': HTTP status 500 after 2 attempts ($B/status/500)"

# missing: 404 is final at once.
[ "$(requests h.log '^GET /status/404 ')" -eq 1 ] || fail "404 retried: $(cat h.log)"
contains err "cannot fetch source 'missing': HTTP status 404 ($B/status/404)"

# Summary, then the stage's error (the first failed source) as the last line.
contains err "4 sources in"
contains err "2 downloaded"
contains err "2 failed, 4 retries"
tail -n 1 err | grep -q "error: cannot fetch source 'broken': HTTP status 500 after 2 attempts; 1 other source failed too ($B/status/500)" ||
	fail "last line: $(tail -n 1 err)"
[ ! -e var/raw/broken/current.meta ] && [ ! -e var/raw/missing/current.meta ] || fail "meta for a failed source"
left=$(find var/raw/broken var/raw/missing -type f)
[ -z "$left" ] || fail "leftovers: $left"

# Retry-After of 1 s twice: the run took 2 s or more, and not much more.
python3 -c "import sys; s = float(sys.argv[1]); sys.exit(0 if 1.9 <= s < 6 else 1)" "$secs" || fail "run took $secs s"
exit 0
