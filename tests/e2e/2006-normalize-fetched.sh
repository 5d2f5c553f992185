#!/bin/bash
# Sources with a url are normalized from what fetch stored: fetched over
# HTTP, the period files equal those made from the same files on disk;
# an unfetched source is a clear error; a 304 changes nothing.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

cp "$SRCDIR"/fixtures/small/*.csv "$SRCDIR"/fixtures/small/*.gz "$SRCDIR"/fixtures/small/*.xml www/
start_httpd h
B=http://127.0.0.1:$PORT
fixtures_conf disk >disk.conf
sed "s|^data_dir = var|data_dir = var|; s|^file = fixtures/small/\\(.*\\)|url = $B/plain/\\1|" "$SRCDIR/pipeline.conf" >p.conf
grep -q "^url = " p.conf || fail "no url sources in p.conf"

run 1 "$CRMETL" normalize --config p.conf
contains err "has not been fetched yet"

run 0 "$CRMETL" fetch --config p.conf
run 0 "$CRMETL" normalize --config p.conf
run 0 "$CRMETL" normalize --config disk.conf
for f in disk/periods/*.crmp; do
	same "$f" "var/periods/$(basename "$f")"
done

# Nothing changed upstream: fetch gets 304s and normalize has nothing to do.
run 0 "$CRMETL" fetch --config p.conf
run 0 "$CRMETL" normalize --config p.conf
contains err "inputs unchanged since the last run"
