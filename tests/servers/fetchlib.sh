# fetchlib.sh - helpers for the fetch end-to-end scripts (tests/e2e/1*-fetch-*.sh).
# Source it after tests/e2e/lib.sh:  . "$SRCDIR/tests/servers/fetchlib.sh"
#
# Starts tests/servers/httpd.py on 127.0.0.1 (killed on EXIT), serving ./www,
# which is filled with the small fixtures. Backoffs are made short
# (CRMETL_FETCH_BACKOFF_MS=50) so retries cost milliseconds; Retry-After
# is still honoured in full.

command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed"; exit 77; }
export CRMETL_FETCH_BACKOFF_MS=${CRMETL_FETCH_BACKOFF_MS:-50}
HTTPD_PIDS=
trap 'for p in $HTTPD_PIDS; do kill "$p" 2>/dev/null; done' EXIT

mkdir -p www
cp "$SRCDIR"/fixtures/small/customers.csv "$SRCDIR"/fixtures/small/orders.csv \
   "$SRCDIR"/fixtures/small/orders.csv.gz "$SRCDIR"/fixtures/small/spend.csv \
   "$SRCDIR"/fixtures/small/tickets.xml www/

# start_httpd NAME [httpd.py options]: serve ./www; sets PORT, logs requests to NAME.log.
start_httpd() {
	local name=$1 i
	shift
	rm -f "$name.port"
	python3 "$SRCDIR/tests/servers/httpd.py" --root www --port-file "$name.port" \
		--log "$name.log" "$@" 2>"$name.stderr" &
	HTTPD_PIDS="$HTTPD_PIDS $!"
	for i in $(seq 1 100); do
		[ -s "$name.port" ] && break
		sleep 0.05
	done
	[ -s "$name.port" ] || { cat "$name.stderr" >&2; fail "test server $name did not start"; }
	PORT=$(cat "$name.port")
}

# requests LOG PATTERN: how many logged requests match the extended regex.
requests() {
	grep -cE -- "$2" "$1" || true
}

# raw_sums: sha256sum of every file under var/raw (to prove nothing changed).
raw_sums() {
	(cd var/raw && find . -type f | sort | xargs sha256sum)
}

# conf_head [CONCURRENCY]: the [pipeline] and [fetch] part of a configuration.
conf_head() {
	printf '[pipeline]\ndata_dir = var\n\n[fetch]\nconcurrency = %s\n\n' "${1:-4}"
}

# source NAME URL [extra key = value lines...]: one [source.NAME] section.
source_sec() {
	local name=$1 url=$2
	shift 2
	printf '[source.%s]\nentity = orders\nurl = %s\n' "$name" "$url"
	for l in "$@"; do printf '%s\n' "$l"; done
	printf '\n'
}

# meta_val SOURCE KEY: a value of var/raw/SOURCE/current.meta.
meta_val() {
	sed -n "s/^$2 = //p" "var/raw/$1/current.meta"
}
