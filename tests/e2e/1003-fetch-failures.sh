#!/bin/bash
# Every way a transfer can go wrong is a named failure, never data, and
# never damages what an earlier run stored: a body cut short (chunked, then
# the connection closes), a Content-Length larger than the body, a refused
# connection (retried, then named), a server
# stalling past `timeout`, 404, 401 without the bearer token, too many
# redirects, a redirect to file://, an export over max_bytes. All are run
# at once; each is reported with its source, URL and status or curl error;
# exit status 4; the raw directory is byte for byte as before.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

start_httpd h
B=http://127.0.0.1:$PORT
names="cut liar stall missing auth loop proto big refused"
# A port nobody listens on (bound, then released).
DEAD=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
{
	conf_head 9
	for s in $names; do source_sec "$s" "$B/plain/orders.csv"; done
} >good.conf
run 0 "$CRMETL" fetch --config good.conf
contains err "9 downloaded"
raw_sums >before

{
	conf_head 9
	source_sec refused "http://127.0.0.1:$DEAD/plain/orders.csv" "retries = 2"
	source_sec cut "$B/cut/orders.csv" "retries = 1"
	source_sec liar "$B/liar/orders.csv" "retries = 0"
	source_sec stall "$B/stall/orders.csv?s=20" "timeout = 2" "retries = 0"
	source_sec missing "$B/plain/nosuch.csv"
	source_sec auth "$B/auth/orders.csv"
	source_sec loop "$B/redirect/6/orders.csv"
	source_sec proto "$B/redirect-to?u=file:///etc/passwd"
	source_sec big "$B/plain/orders.csv?v=2" "max_bytes = 1K"
} >bad.conf
: >h.log
start=$(date +%s)
run 4 "$CRMETL" fetch --config bad.conf
[ $(($(date +%s) - start)) -lt 8 ] || fail "failures took too long"

# Named: source, URL (as configured), and the status or curl error.
contains err "cannot fetch source 'cut': transfer closed with outstanding read data remaining (curl error 18) after 2 attempts ($B/cut/orders.csv)"
[ "$(requests h.log '^GET /cut/')" -eq 2 ] || fail "cut body not retried once: $(cat h.log)"
contains err "cannot fetch source 'liar': transfer closed with 1000 bytes remaining to read (curl error 18) ($B/liar/orders.csv)"
grep -q "cannot fetch source 'stall': Operation timed out after 2[0-9]* milliseconds with 0 bytes received (curl error 28) ($B/stall/orders.csv?s=20)" err ||
	fail "stall: $(cat err)"
contains err "cannot fetch source 'missing': HTTP status 404 ($B/plain/nosuch.csv)"
[ "$(requests h.log '^GET /plain/nosuch.csv ')" -eq 1 ] || fail "404 retried"
contains err "cannot fetch source 'auth': HTTP status 401 ($B/auth/orders.csv)"
[ "$(requests h.log '^GET /auth/')" -eq 1 ] || fail "401 retried"
contains err "cannot fetch source 'loop': Maximum (5) redirects followed (curl error 47) ($B/redirect/6/orders.csv)"
grep "cannot fetch source 'proto':" err | grep -q "curl error 1)" || fail "redirect to file:// not refused: $(cat err)"
contains err "cannot fetch source 'big': the export is larger than max_bytes (1024 bytes) ($B/plain/orders.csv?v=2)"
contains err "cannot fetch source 'refused': Failed to connect to 127.0.0.1 port $DEAD after"
contains err "(curl error 7) after 3 attempts (http://127.0.0.1:$DEAD/plain/orders.csv)"
[ "$(grep -c "source 'refused': Failed to connect.*; retry" err)" -eq 2 ] || fail "refused connection not retried twice"
contains err "0 downloaded (0 bytes), 0 unchanged, 9 failed"
tail -n 1 err | grep -q "error: cannot fetch source 'refused'.*; 8 other sources failed too" || fail "last line: $(tail -n 1 err)"

# Earlier data intact, and no temporary file left behind.
raw_sums >after
same before after
left=$(find var/raw -name '*.tmp.*')
[ -z "$left" ] || fail "temporary files left: $left"

# The same sources fetch fine again afterwards (and, unchanged, get 304).
run 0 "$CRMETL" fetch --config good.conf
contains err "9 unchanged"
exit 0
