#!/bin/bash
# A fetch killed (SIGKILL) in the middle of a download leaves current.meta
# naming the previous body, intact; the partial download is only ever a
# temporary file, which the next successful fetch sweeps away. Also: the
# max_bytes ceiling holds when the server sends no Content-Length (the
# write callback stops it), and a complete chunked body is stored whole.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

start_httpd h
B=http://127.0.0.1:$PORT
{ conf_head; source_sec orders "$B/chunked/spend.csv"; } >a.conf
run 0 "$CRMETL" fetch --config a.conf
same "var/raw/orders/$(meta_val orders sha256)" www/spend.csv
raw_sums >before

{ conf_head; source_sec orders "$B/drip/orders.csv?s=3"; } >b.conf
"$CRMETL" fetch --config b.conf 2>killed.err &
pid=$!
for i in $(seq 1 40); do
	[ -n "$(find var/raw/orders -name 'incoming.tmp.*' -size +1k)" ] && break
	sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
tmp=$(find var/raw/orders -name 'incoming.tmp.*')
[ -n "$tmp" ] || fail "no partial download seen (killed too late?)"
# What the normalizer reads is unchanged: the meta and the body it names.
[ -e "var/raw/orders/current.meta" ] || fail "current.meta gone"
raw_sums | grep -v 'incoming.tmp' >after
same before after

# The next run completes and sweeps the dead run's temporary file.
run 0 "$CRMETL" fetch --config b.conf
same "var/raw/orders/$(meta_val orders sha256)" www/orders.csv
[ "$(ls var/raw/orders | wc -l)" -eq 2 ] || fail "left in var/raw/orders: $(ls var/raw/orders)"

# A 304 also sweeps temporaries of dead processes (and leaves a live one's alone).
echo partial >var/raw/orders/incoming.tmp.999999
sleep 1000 &
live=$!
echo partial >"var/raw/orders/incoming.tmp.$live"
run 0 "$CRMETL" fetch --config b.conf
contains err "source 'orders' unchanged (304)"
[ ! -e var/raw/orders/incoming.tmp.999999 ] || fail "dead temporary not swept on 304"
[ -e "var/raw/orders/incoming.tmp.$live" ] || fail "a live process's temporary was removed"
kill "$live"
rm "var/raw/orders/incoming.tmp.$live"

# max_bytes without Content-Length: cut by the write callback, earlier data kept.
raw_sums >before
{ conf_head; source_sec orders "$B/chunked/customers.csv" "max_bytes = 8K"; } >c.conf
run 4 "$CRMETL" fetch --config c.conf
contains err "cannot fetch source 'orders': the export is larger than max_bytes (8192 bytes) ($B/chunked/customers.csv)"
[ "$(requests h.log '^GET /chunked/customers.csv')" -eq 1 ] || fail "size overflow retried"
raw_sums >after
same before after
exit 0
