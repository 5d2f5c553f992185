#!/bin/bash
# compute keeps each period's CLV fits in <data_dir>/cache (fitc.h) and
# takes them from there when the same program sees the same model inputs
# again: the outputs and messages are then those of a refit (--force);
# late data for one customer means a new fit; a damaged cache file is
# fitted again and replaced; another executable fits again; and without a
# cache directory compute still works.
. "$SRCDIR/tests/e2e/lib.sh"

# Every metrics file kept in cached/ is the same bytes as var/metrics' (the stamp aside).
same_as_cached() {
	local f
	for f in cached/*; do
		case $f in */computed.txt) continue ;; esac
		same "$f" "var/metrics/$(basename "$f")"
	done
}

fixtures_conf >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute -v
lacks err "come from"
[ -f var/cache/2025-06.fit ] || fail "no var/cache/2025-06.fit"
n=$(grep -c "bg/nbd fit of" err)
[ "$n" -gt 0 ] || fail "no bg/nbd fit in the log"

# Another [metrics] setting: compute runs again, but the CLV inputs are
# the same, so every fit comes from the cache.
sed 's/^inactivity_days = 90/inactivity_days = 60/' pipeline.conf >p60.conf
grep -q '^inactivity_days = 60' p60.conf || fail "sed did not change the setting"
run 0 "$CRMETL" compute --config p60.conf -v
m=$(grep -c "come from" err)
[ "$m" -eq "$n" ] || fail "$m of $n periods' fits came from the cache"
cp -r var/metrics cached
# what it says, but for the debug lines and those naming restated periods
grep -v " debug: \| restated" err | sed 's/^[^ ]* //' >said-cached
run 0 "$CRMETL" compute --config p60.conf --force -v
lacks err "come from"
same_as_cached
grep -v " debug: \| restated" err | sed 's/^[^ ]* //' | grep -v "periods .* written" >said-fitted
grep -v "periods .* written" said-cached >said-cached2
same said-cached2 said-fitted

# A damaged entry is a miss: fitted again, and the entry replaced.
echo "crmetl fit cache 1" >var/cache/2025-06.fit
sed 's/^inactivity_days = 90/inactivity_days = 45/' pipeline.conf >p45.conf
run 0 "$CRMETL" compute --config p45.conf --period 2025-06 -v
lacks err "come from"
contains err "2025-06: bg/nbd fit of"
contains var/cache/2025-06.fit "end"
run 0 "$CRMETL" compute --config p60.conf --period 2025-06 -v
contains err "2025-06: the fits of these"

# Another executable (a copy: another file) never reuses them.
cp "$CRMETL" ./crmetl-copy
run 0 ./crmetl-copy compute --config p45.conf --period 2025-06 -v
lacks err "come from"

# No cache directory to be had (a file in its place): compute works all the same.
rm -rf var/cache
echo "not a directory" >var/cache
run 0 "$CRMETL" compute --config p60.conf --force -v
contains err "the clv fits are not kept between computes"
same_as_cached

# Late data for the buyer with the largest id (last in the fits' input
# order) in 2025-05: the inputs of 2025-06 changed, so it is fitted again
# although the cache holds its fits of the data before.
rm -f var/cache
run 0 "$CRMETL" compute --config p60.conf --force
[ -f var/cache/2025-06.fit ] || fail "no var/cache/2025-06.fit"
mkdir late
cp "$SRCDIR"/fixtures/small/*.csv late/
zcat "$SRCDIR/fixtures/small/orders.csv.gz" >late/orders.csv
who=$(awk -F, 'NR > 1 && $3 < "2025-05" { print $2 }' late/orders.csv | sort | tail -1)
echo "late-1,$who,2025-05-20T10:00:00Z,12.34,,completed" >>late/orders.csv
sed "s|= .*orders.csv.gz|= $PWD/late/orders.csv|" p60.conf >late.conf
run 0 "$CRMETL" normalize --config late.conf
run 0 "$CRMETL" compute --config late.conf --period 2025-06 -v
lacks err "2025-06: the fits of these"
contains err "2025-06: bg/nbd fit of"
cp -r var/metrics late-cached
run 0 "$CRMETL" compute --config late.conf --period 2025-06 --force
for f in late-cached/2025-06*; do
	same "$f" "var/metrics/$(basename "$f")"
done
