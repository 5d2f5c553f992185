#!/bin/bash
# crmetl verify rebuilds a period aside and finds the published files
# identical after a run (one source fetched over file://, so raw/ is an
# input too, and a second report in Chinese); a tampered metrics file,
# period file or report, or a missing one, exits 8 naming it; verify
# changes nothing published, removes its scratch folder, and takes the lock.
. "$SRCDIR/tests/e2e/lib.sh"

fixtures_conf | sed "s|^file = $SRCDIR/fixtures/small/leads.csv|url = file://$SRCDIR/fixtures/small/leads.csv|" >p.conf
grep -q '^url = file://' p.conf || fail "the leads source was not turned into a url"
P=2025-06
run 0 "$CRMETL" run --period $P --config p.conf
[ -f var/raw/leads/current.meta ] || fail "the run did not fetch the leads export"
run 0 "$CRMETL" report --period $P --lang zh --config p.conf

# Everything the period's verify may look at, except the lock and run logs.
snapshot() {
	(cd var && find . -path ./runs -prune -o -type f ! -name .lock ! -name crmetl.prom -print |
		sort | xargs sha256sum) >"$1"
}
snapshot before

run 0 "$CRMETL" verify --period $P --config p.conf
for f in periods/$P.crmp metrics/$P.csv metrics/$P.json metrics/$P-customers.csv \
	reports/$P-executive-en.pdf reports/$P-executive-zh.pdf; do
	contains out "same     $f"
done
[ "$(grep -c . out)" -eq 6 ] || fail "expected 6 files compared, got: $(cat out)"
contains err "6 published files identical to their rebuild"
snapshot after
cmp -s before after || { diff before after >&2; fail "verify changed published files"; }
[ -z "$(ls -A var/tmp 2>/dev/null)" ] || fail "scratch left behind: $(ls -A var/tmp)"

# A report rendered at another time still verifies: its own date is used.
SOURCE_DATE_EPOCH=1000000000 run 0 "$CRMETL" report --period $P --config p.conf
run 0 "$CRMETL" verify --period $P --config p.conf
snapshot before

# tamper FILE: keep a copy to put back with untamper.
tamper() { cp "var/$1" saved; }
untamper() { cp saved "var/$1"; }

# A changed number in the metrics CSV: the file and its line.
f=metrics/$P.csv
tamper $f
awk -F, 'BEGIN { OFS = "," } NR == 7 { $6 = $6 "1" } { print }' saved >"var/$f"
cmp -s saved "var/$f" && fail "the metrics file was not changed"
run 8 "$CRMETL" verify --period $P --config p.conf
contains out "DIFFERS  $f: first difference at line 7"
contains out "published: $(sed -n 7p "var/$f")"
contains out "rebuilt:   $(sed -n 7p saved)"
contains err "1 of 6 published files differ from their rebuild: $f (line 7)"
untamper $f

# One flipped byte in the period file.
f=periods/$P.crmp
tamper $f
printf 'Z' | dd of="var/$f" bs=1 seek=300 conv=notrunc 2>/dev/null
cmp -s saved "var/$f" && fail "the period file was not changed"
run 8 "$CRMETL" verify --period $P --config p.conf
contains out "DIFFERS  $f: first difference at byte 300"
contains err "$f (byte 300)"
untamper $f

# A changed byte in a report (its content, not its dates).
f=reports/$P-executive-en.pdf
tamper $f
size=$(stat -c %s "var/$f")
printf 'Z' | dd of="var/$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s saved "var/$f" && fail "the report was not changed"
run 8 "$CRMETL" verify --period $P --config p.conf
contains out "DIFFERS  $f: first difference at byte $((size / 2))"
contains out "same     reports/$P-executive-zh.pdf"
contains err "$f (byte $((size / 2)))"
untamper $f

# A published file gone: named as missing.
f=metrics/$P.json
tamper $f
rm "var/$f"
run 8 "$CRMETL" verify --period $P --config p.conf
contains out "MISSING  $f: not published"
contains err "$f (not published)"
untamper $f

# Back to the published state: identical again, and nothing else changed.
run 0 "$CRMETL" verify --period $P --config p.conf
snapshot after
cmp -s before after || { diff before after >&2; fail "published files changed"; }

# A scratch folder left by a killed verify is swept by the next one.
mkdir -p var/tmp/verify-999999/metrics
echo x >var/tmp/verify-999999/metrics/x.csv
run 0 "$CRMETL" verify --period $P --config p.conf
[ ! -e var/tmp/verify-999999 ] || fail "a killed verify's scratch folder was not swept"

# A segment's report is not one of the reports verified, even when its
# name reads like another template and language (value "zh").
cp var/reports/$P-executive-en.pdf var/reports/$P-executive-en-tier-zh.pdf
run 0 "$CRMETL" verify --period $P --config p.conf
lacks out "tier-zh"
rm var/reports/$P-executive-en-tier-zh.pdf

# Nothing published for a period: status 1, nothing rebuilt.
run 1 "$CRMETL" verify --period 2021-01 --config p.conf
contains err "nothing published for period 2021-01"

# The data directory lock: another holder makes verify exit 7.
hold_lock var
holder=$HOLDER
run 7 "$CRMETL" verify --period $P --config p.conf
kill -9 $holder
wait $holder 2>/dev/null
exit 0
