#!/bin/bash
# bench/run.sh - the benchmark behind `make bench`: prints figures, asserts
# nothing (speed is measured here, never in timed tests).
#
# Generates the large data set once into $BENCH_CACHE (default bench-cache/:
# 1,000,000 customers over 24 months, about 10 M orders and 21 M
# interactions, 1.7 GB of CSV), with its gzip -6 size, then times a full
# normalize into a fresh data directory and reports throughput, peak memory
# and the size of the period files against the CSV and its gzip; then
# times compute of every period from those files and the full report of
# the last one; then normalize and compute of a set three times as big.
set -eu
CRMETL=${CRMETL:-./crmetl}
GEN=${GEN:-fixtures/gen}
CACHE=${BENCH_CACHE:-bench-cache}
CUSTOMERS=${BENCH_CUSTOMERS:-1000000}
set_dir="$CACHE/set-$CUSTOMERS"

if [ ! -f "$set_dir/.done" ]; then
	echo "bench: generating $CUSTOMERS customers into $set_dir (once)"
	rm -rf "$set_dir"
	mkdir -p "$CACHE"
	"$GEN" --seed 2024 --customers "$CUSTOMERS" --months 24 --start 2024-01 --out "$set_dir" >/dev/null
	touch "$set_dir/.done"
fi
if [ ! -f "$set_dir/.gzip6" ]; then
	echo "bench: measuring gzip -6 of the CSV (once)"
	total=0
	for f in "$set_dir"/*.csv; do
		n=$(gzip -6 -c "$f" | wc -c)
		total=$((total + n))
	done
	echo "$total" >"$set_dir/.gzip6"
fi
if [ ! -f "$set_dir/.gzip6-tables" ]; then
	echo "bench: measuring gzip -6 of each CSV (once)"
	for f in "$set_dir"/*.csv; do
		printf '%s %s\n' "$(basename "$f" .csv)" "$(gzip -6 -c "$f" | wc -c)"
	done >"$set_dir/.gzip6-tables.tmp"
	mv "$set_dir/.gzip6-tables.tmp" "$set_dir/.gzip6-tables"
fi
csv_bytes=$(cat "$set_dir"/*.csv | wc -c)
gz_bytes=$(cat "$set_dir/.gzip6")
rows=$(cat "$set_dir"/*.csv | wc -l)

work=$(mktemp -d "${TMPDIR:-/tmp}/crmetl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# conf DATA_DIR SET_DIR: a configuration reading the seven exports of a set.
conf() {
	local abs
	abs=$(cd "$2" && pwd)
	printf '[pipeline]\ndata_dir = %s\n' "$1"
	for ent in customers orders spend surveys tickets interactions leads; do
		printf '[source.%s]\nentity = %s\nfile = %s/%s.csv\n' "$ent" "$ent" "$abs" "$ent"
	done
}
conf "$work/var" "$set_dir" >"$work/bench.conf"

echo "bench: normalize of $((csv_bytes / 1000000)) MB of CSV ($rows lines), $(nproc) cores"
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" normalize -v --config "$work/bench.conf" 2>"$work/log"
grep -E 'pass|normalize: (read|periods)' "$work/log" | sed 's/^[^ ]* crmetl [a-z]*: /  /'
read -r wall user sys rss <"$work/time"
period_bytes=$(cat "$work"/var/periods/*.crmp | wc -c)
awk -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" -v csv="$csv_bytes" \
    -v rows="$rows" -v gz="$gz_bytes" -v pb="$period_bytes" 'BEGIN {
	printf "normalize: %.2f s wall, %.2f s user, %.2f s sys\n", wall, user, sys
	printf "throughput: %.1f MB/s of CSV (wall), %.1f MB/s per CPU-second, %.2f M rows/s\n",
	       csv / 1e6 / wall, csv / 1e6 / (user + sys), rows / 1e6 / wall
	printf "peak memory: %.1f MB resident\n", rss / 1024
	printf "sizes: CSV %.1f MB, gzip -6 %.1f MB, period files %.1f MB (%.3f of gzip, %.3f of CSV)\n",
	       csv / 1e6, gz / 1e6, pb / 1e6, pb / gz, pb / csv
}'

# Each table's share: its chunks in every period file (the customers
# table is the dimension file) against the gzip -6 of its own CSV.
for f in "$work"/var/periods/*.crmp; do "$CRMETL" inspect "$f"; done |
	awk -v gzf="$set_dir/.gzip6-tables" '
	BEGIN { while ((getline l < gzf) > 0) { split(l, a, " "); gz[a[1]] = a[2] } }
	$1 == "table" { t = $2; sub(/:$/, "", t) }
	$2 == "integer" || $2 == "string" { b[t] += $6 }
	END { for (t in gz) if (b[t] > 0)
		printf "  %-13s period files %7.1f MB, %.3f of its gzip -6 (%.1f MB)\n", t, b[t] / 1e6, b[t] / gz[t], gz[t] / 1e6 }' |
	sort

# What the nightly run's normalize does when a night adds data: one more
# order in the last month, here a second orders export of one row (the
# exports of a real night are rewritten in full: every input changed).
# In a copy of the data directory, so that what follows is not affected.
echo "bench: nightly normalize, one more order in the last month (in a copy of the data directory)"
cp -r "$work/var" "$work/var-nightly"
last_month=$(ls "$work"/var/periods/ | grep -E '^[0-9]{4}-[0-9]{2}\.crmp$' | tail -n 1 | cut -c1-7)
some_customer=$(sed -n '2s/,.*//p' "$set_dir/customers.csv")
printf 'order_id,customer_id,ordered_at,amount,cost,status\nbench-late-1,%s,%s-15T12:00:00Z,12.34,,completed\n' \
	"$some_customer" "$last_month" >"$work/late-orders.csv"
{
	sed "s|^data_dir = .*|data_dir = $work/var-nightly|" "$work/bench.conf"
	printf '[source.late_orders]\nentity = orders\nfile = %s/late-orders.csv\n' "$work"
} >"$work/nightly-norm.conf"
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" normalize -v --config "$work/nightly-norm.conf" 2>"$work/log"
grep -E 'normalize: periods' "$work/log" | sed 's/^[^ ]* crmetl [a-z]*: /  /'
read -r wall user sys rss <"$work/time"
awk -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" 'BEGIN {
	printf "nightly normalize: %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB\n", wall, user, sys, rss / 1024
}'
rm -rf "$work/var-nightly"

echo "bench: compute of every period from those period files"
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" compute -v --config "$work/bench.conf" 2>"$work/log"
grep -E 'compute: periods' "$work/log" | sed 's/^[^ ]* crmetl [a-z]*: /  /'
read -r wall user sys rss <"$work/time"
awk -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" 'BEGIN {
	printf "compute: %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB\n", wall, user, sys, rss / 1024
}'
# the predictive CLV fits inside that compute: all periods, and the last one's
# (their times add up; two periods' fits, and each period's two, run at once)
awk '/fit of [0-9]+ customers/ { t += $(NF - 1); n++ } END {
	printf "clv fits: %d fits taking %.2f s in all (bg/nbd and gamma-gamma of every period, several at once)\n", n, t
}' "$work/log"
grep -E 'fit of [0-9]+ customers' "$work/log" | tail -n 2 | sed 's/^[^ ]* crmetl [a-z]*: compute: /  last period /'

# The nightly case: one period, the last, which still reads every period
# file for its history (--force: the stamp would skip it).
last_period=$(ls "$work"/var/periods/ | grep -E '^[0-9]{4}-[0-9]{2}\.crmp$' | tail -n 1 | cut -c1-7)
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" compute -v --force --period "$last_period" \
	--config "$work/bench.conf" 2>"$work/log"
read -r wall user sys rss <"$work/time"
awk -v p="$last_period" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" 'BEGIN {
	printf "compute of one period (%s): %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB\n", p, wall, user, sys, rss / 1024
}'
grep -E 'read the dimension' "$work/log" | sed 's/^[^ ]* crmetl [a-z]*: /  /'

# What the nightly run's compute stage does: the new period and the 12
# before it, which its report compares with. A new period file changes
# compute's stamp; here another [metrics] setting does (the period files
# stay), and the new period's fits are dropped from the cache, so the 12
# months before it take theirs from cache/ and the last one is fitted.
first_nightly=$(ls "$work"/var/periods/ | grep -E '^[0-9]{4}-[0-9]{2}\.crmp$' | tail -n 13 | head -n 1 | cut -c1-7)
{ cat "$work/bench.conf"; printf '[metrics]\ninactivity_days = 91\n'; } >"$work/nightly.conf"
rm -f "$work/var/cache/$last_period.fit"
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" compute -v --from "$first_nightly" --to "$last_period" \
	--config "$work/nightly.conf" 2>"$work/log"
read -r wall user sys rss <"$work/time"
awk -v a="$first_nightly" -v b="$last_period" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" \
	-v hits="$(grep -c 'come from' "$work/log")" 'BEGIN {
	printf "nightly compute (%s..%s, %d of 13 fits from the cache): %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB\n", a, b, hits, wall, user, sys, rss / 1024
}'

echo "bench: the full report of the last period"
last=$(ls "$work"/var/metrics/ | grep -E '^[0-9]{4}-[0-9]{2}\.csv$' | tail -n 1 | cut -c1-7)
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" report --template full --period "$last" \
	--config "$work/bench.conf" 2>"$work/log"
read -r wall user sys rss <"$work/time"
pdf="$work/var/reports/$last-full-en.pdf"
awk -v wall="$wall" -v rss="$rss" -v size="$(wc -c <"$pdf")" 'BEGIN {
	printf "report: %.2f s wall, peak memory %.1f MB, %.1f KB PDF\n", wall, rss / 1024, size / 1024
}'

# The whole nightly job over the 24 months of the set, from the CSV exports
# into a fresh data directory: normalize, compute, report of each month (no
# mail), as `crmetl run --from --to` does a backfill.
echo "bench: crmetl run --from 2024-01 --to 2025-12 (no mail) into a fresh data directory"
sed "s|^data_dir = .*|data_dir = $work/runvar|" "$work/bench.conf" >"$work/run.conf"
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" run -q --from 2024-01 --to 2025-12 \
	--no-mail --config "$work/run.conf" 2>"$work/log" || { tail -n 5 "$work/log"; exit 1; }
read -r wall user sys rss <"$work/time"
awk -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" -v n="$(ls "$work"/runvar/reports/*.pdf | wc -l)" 'BEGIN {
	printf "run: %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB, %d reports\n", wall, user, sys, rss / 1024, n
}'
# each stage's own time, from the newest run summary
stages() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("  stages: " + ", ".join("%s %.2f s" % (s["name"], s.get("seconds", 0)) for s in r["stages"]))' \
		"$(ls -t "$work"/runvar/runs/*.json | head -n 1)" || true
}
stages

# The night after: the scheduled job's own case, `crmetl run` of the last
# month when one more order arrived in it (the late export of the nightly
# normalize above): normalize keeps the 27 unchanged months' files, compute
# redoes the month and the 12 before it (their fits from cache/), one report.
echo "bench: nightly crmetl run --period $last after that, one more order in $last (no mail)"
{ cat "$work/run.conf"; printf '[source.late_orders]\nentity = orders\nfile = %s/late-orders.csv\n' "$work"; } \
	>"$work/night-run.conf"
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" run -q --period "$last" \
	--no-mail --config "$work/night-run.conf" 2>"$work/log" || { tail -n 5 "$work/log"; exit 1; }
read -r wall user sys rss <"$work/time"
awk -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" 'BEGIN {
	printf "nightly run: %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB\n", wall, user, sys, rss / 1024
}'
stages

# Predictive CLV on the full CDNOW log (23,570 customers), the papers'
# 39-week calibration (period 1997-09).
cdnow=${CDNOW:-../shared/data/cdnow/CDNOW_master.txt}
if [ -f "$cdnow" ]; then
	echo "bench: predictive CLV fit on the full CDNOW log"
	mkdir -p "$work/cdnow"
	awk 'BEGIN { print "order_id,customer_id,ordered_at,amount,cost,status" }
	     NF == 4 && $2 ~ /^[0-9]+$/ { printf "o%d,%s,%s-%s-%s,%.2f,,\n", NR, $1, substr($2, 1, 4), substr($2, 5, 2), substr($2, 7, 2), $4 }' \
		"$cdnow" >"$work/cdnow/orders.csv"
	{
		printf '[pipeline]\ndata_dir = %s/cdnow/var\n' "$work"
		printf '[source.orders]\nentity = orders\nfile = %s/cdnow/orders.csv\n' "$work"
	} >"$work/cdnow.conf"
	"$CRMETL" normalize -q --config "$work/cdnow.conf"
	"$CRMETL" compute -v --period 1997-09 --config "$work/cdnow.conf" 2>"$work/log"
	grep -E 'fit of [0-9]+ customers' "$work/log" | sed 's/^[^ ]* crmetl [a-z]*: compute: /  /'
	grep -E '^1997-09,(bgnbd|gg)_' "$work/cdnow/var/metrics/1997-09.csv" | cut -d, -f2,6 | tr '\n' ' ' | sed 's/^/  /; s/ $/\n/'
fi

# Memory at scale: the target is normalize under 256 MB whatever the input
# size, which the 1M set above cannot show. Three times the customers over
# two months (1.2 GB of CSV, generated once; months of 3-6 M rows, ids
# outgrowing their width). BENCH_SCALE=0 skips it.
if [ "${BENCH_SCALE:-1}" != 0 ]; then
	big="$CACHE/scale-3000000"
	if [ ! -f "$big/.done" ]; then
		echo "bench: generating 3,000,000 customers over two months into $big (once)"
		rm -rf "$big"
		"$GEN" --seed 2024 --customers 3000000 --months 2 --start 2025-11 --out "$big" >/dev/null
		touch "$big/.done"
	fi
	conf "$work/bigvar" "$big" >"$work/big.conf"
	echo "bench: 3,000,000 customers, two months ($(($(cat "$big"/*.csv | wc -c) / 1000000)) MB of CSV)"
	for stage in normalize compute; do
		/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$CRMETL" "$stage" -q --config "$work/big.conf"
		read -r wall user sys rss <"$work/time"
		awk -v s="$stage" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" 'BEGIN {
			printf "scale %s: %.2f s wall, %.2f s user, %.2f s sys, peak memory %.1f MB\n", s, wall, user, sys, rss / 1024
		}'
	done
	rm -rf "$work/bigvar"
fi
