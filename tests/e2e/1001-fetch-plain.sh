#!/bin/bash
# Fetching from a real HTTP server on 127.0.0.1: each export is stored under
# its sha256 with a current.meta record; gzip files are kept as they are and
# a gzip Content-Encoding is undone; redirects are followed; file:// works.
# A second run sends the validators, gets 304 and downloads nothing; a
# changed export is downloaded again and replaces the old body.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

start_httpd h
B=http://127.0.0.1:$PORT
{
	conf_head
	source_sec orders "$B/plain/orders.csv"
	source_sec gzfile "$B/plain/orders.csv.gz"
	source_sec gzenc "$B/gz/orders.csv"
	source_sec redir "$B/redirect/3/spend.csv"
	source_sec local "file://$PWD/www/tickets.xml" "format = xml" "record = ticket"
} >p.conf

run 0 "$CRMETL" fetch --config p.conf
for s in orders gzfile gzenc redir local; do
	contains err "source '$s' downloaded"
done
contains err "fetch: 5 sources in"
contains err "5 downloaded"

# Layout: the body is named by its sha256 and current.meta points at it.
check_body() { # SOURCE ORIGINAL
	local sum
	sum=$(sha256sum <"$2" | cut -d' ' -f1)
	[ "$(meta_val "$1" sha256)" = "$sum" ] || fail "$1: sha256 in meta is not that of $2"
	same "var/raw/$1/$sum" "$2"
	[ "$(meta_val "$1" size)" = "$(wc -c <"$2" | tr -d ' ')" ] || fail "$1: size in meta"
	[ "$(ls "var/raw/$1" | wc -l)" -eq 2 ] || fail "$1: expected the body and current.meta, got $(ls "var/raw/$1")"
	meta_val "$1" fetched_at | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' ||
		fail "$1: fetched_at is not UTC ISO 8601"
}
check_body orders www/orders.csv
check_body gzfile www/orders.csv.gz
check_body gzenc www/orders.csv
check_body redir www/spend.csv
check_body local www/tickets.xml
[ "$(meta_val orders url)" = "$B/plain/orders.csv" ] || fail "url in meta"
[ "$(meta_val orders status)" = 200 ] || fail "status in meta"
[ "$(meta_val local status)" = 0 ] || fail "file:// status in meta"
meta_val orders etag | grep -q '^"[0-9a-f]\{16\}"$' || fail "etag in meta: $(meta_val orders etag)"
[ -n "$(meta_val orders last_modified)" ] || fail "no last_modified in meta"
# The gzip file stays gzip (magic bytes 1f 8b) ...
[ "$(head -c 2 "var/raw/gzfile/$(meta_val gzfile sha256)" | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
	fail "gzip file not stored as is"
# ... and the gzip transfer encoding was asked for and undone.
grep -E '^GET /gz/orders.csv ' h.log | grep -q 'ae=[^ ]*gzip' || fail "no Accept-Encoding: gzip sent"
# Redirects: /redirect/3 -> 2 -> 1 -> 0 -> /plain/spend.csv, one request each.
[ "$(requests h.log '^GET /redirect/')" -eq 4 ] || fail "redirect requests: $(cat h.log)"
for p in /plain/orders.csv /plain/orders.csv.gz /gz/orders.csv /plain/spend.csv; do
	[ "$(requests h.log "^GET $p ")" -eq 1 ] || fail "$p requested $(requests h.log "^GET $p ") times"
done

# Second run: validators sent, 304, nothing downloaded, nothing rewritten.
raw_sums | grep -v '/local/' >before
cp h.log h1.log
run 0 "$CRMETL" fetch --config p.conf
for s in orders gzfile gzenc redir; do
	contains err "source '$s' unchanged (304)"
done
contains err "source 'local' downloaded"
contains err "same content as before"
contains err "4 unchanged"
tail -n +"$(($(wc -l <h1.log) + 1))" h.log >h2.log
[ "$(requests h2.log ' inm="[0-9a-f]{16}" ims=[A-Z][a-z][a-z],_')" -eq "$(wc -l <h2.log)" ] ||
	fail "second run requests without If-None-Match / If-Modified-Since: $(cat h2.log)"
[ "$(requests h2.log '^GET /plain/orders.csv ')" -eq 1 ] || fail "orders requested twice in run 2"
raw_sums | grep -v '/local/' >after
same before after

# The export changes: downloaded again, the old body is removed after the meta moved.
old=$(meta_val orders sha256)
echo "9999,extra,row" >>www/orders.csv
run 0 "$CRMETL" fetch --config p.conf
contains err "source 'orders' downloaded"
check_body orders www/orders.csv
[ "$(meta_val orders sha256)" != "$old" ] || fail "meta still names the old body"
[ ! -e "var/raw/orders/$old" ] || fail "old body not removed"

# A file:// export that is not there is a named failure (and is not retried).
raw_sums >before
{ conf_head; source_sec local "file://$PWD/www/nosuch.xml" "format = xml" "record = ticket"; } >gone.conf
run 4 "$CRMETL" fetch --config gone.conf
contains err "cannot fetch source 'local': Couldn't open file $PWD/www/nosuch.xml (curl error 37) (file://$PWD/www/nosuch.xml)"
lacks err "retry"
raw_sums >after
same before after
exit 0
