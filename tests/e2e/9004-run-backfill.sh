#!/bin/bash
# A backfill of 24 periods builds each period file, metrics file and report
# once and mails nothing (a real SMTP server is configured and listening);
# a second identical backfill rewrites nothing (same inodes, times and
# sizes); re-running an old period after later ones exist, kept or forced,
# gives metrics and a report byte-identical to that period's first build in
# a fresh data directory, and verify agrees; so does a period run alone
# with a template whose trends span 36 months.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

export SOURCE_DATE_EPOCH=1767225600
start_smtpd mbox
fixtures_conf >p.conf
printf '[mail]\nurl = smtp://127.0.0.1:%s\nfrom = reports@example.com\nto = ceo@example.com\n' "$SMTP_PORT" >>p.conf
PERIODS=$(python3 -c 'print(" ".join("%d-%02d" % (2024 + i // 12, i % 12 + 1) for i in range(24)))')
[ "$(echo $PERIODS | wc -w)" -eq 24 ] || fail "expected 24 periods: $PERIODS"

# identities: path, inode, modification time and size of every output file.
identities() {
	(cd var && find periods metrics reports -type f -printf '%p %i %T@ %s\n' | sort)
}
summary() { ls -t var/runs/*.json | head -n 1; }
# stage_value KEY: a value of a stage in the latest run summary ("STAGE.KEY").
stage_value() {
	python3 -c 'import json,sys
r = json.load(open(sys.argv[1])); st, key = sys.argv[2].split(".")
print([s for s in r["stages"] if s["name"] == st][0].get(key))' "$(summary)" "$1"
}

run 0 "$CRMETL" run --from 2024-01 --to 2025-12 --config p.conf
contains err "skipped (a --from/--to backfill)"
[ "$(mail_count mbox)" -eq 0 ] || fail "a backfill mailed $(mail_count mbox) messages"
for p in $PERIODS; do
	for f in periods/$p.crmp metrics/$p.csv metrics/$p.json metrics/$p-customers.csv \
		reports/$p-executive-en.pdf; do
		[ -s "var/$f" ] || fail "the backfill did not build $f"
	done
	n=$(grep -c "report: wrote var/reports/$p-executive-en.pdf" err)
	[ "$n" -eq 1 ] || fail "the report of $p was rendered $n times"
done
# compute covers the 12 months before the first period too (the report compares with them).
contains err "run: compute: 36 metrics files written"
[ "$(stage_value report.reports)" = 24 ] || fail "the summary counts $(stage_value report.reports) reports"
identities >first

# The same backfill again: nothing read, computed, rendered or written.
run 0 "$CRMETL" run --from 2024-01 --to 2025-12 --config p.conf
contains err "inputs unchanged"
[ "$(stage_value compute.metrics_files_written)" = 0 ] || fail "compute wrote metrics files again"
[ "$(grep -c 'nothing changed since it was rendered: kept' err)" -eq 24 ] || fail "not every report was kept"
lacks err "report: wrote"
[ "$(stage_value report.reports)" = 0 ] && [ "$(stage_value report.reports_unchanged)" = 24 ] ||
	fail "the summary does not say the reports were kept"
identities >second
diff first second >&2 || fail "a second identical backfill rewrote files"
[ "$(mail_count mbox)" -eq 0 ] || fail "the second backfill mailed"

# The first build of 2024-06, alone in a fresh data directory.
fixtures_conf fresh >fresh.conf
run 0 "$CRMETL" run --period 2024-06 --config fresh.conf

# check_old: 2024-06 in var equals the fresh first build, byte for byte.
check_old() {
	for f in metrics/2024-06.csv metrics/2024-06.json metrics/2024-06-customers.csv \
		reports/2024-06-executive-en.pdf periods/2024-06.crmp; do
		cmp -s "fresh/$f" "var/$f" || fail "$1: var/$f differs from the first build in fresh/"
	done
}
check_old "after the backfill"

# Re-running the old period now that later ones exist: kept as it is...
cp var/metrics/2025-12.csv later.csv
run 0 "$CRMETL" run --period 2024-06 --no-mail --config p.conf
contains err "report: 2024-06-executive-en: nothing changed since it was rendered: kept"
identities >third
diff first third >&2 || fail "re-running an old period rewrote files"
# ... and rebuilt with --force: the same bytes again; later months untouched.
run 0 "$CRMETL" run --period 2024-06 --no-mail --force --config p.conf
contains err "report: wrote var/reports/2024-06-executive-en.pdf"
check_old "after a forced re-run"
same later.csv var/metrics/2025-12.csv
run 0 "$CRMETL" verify --period 2024-06 --config p.conf
run 0 "$CRMETL" verify --period 2025-12 --config p.conf
[ "$(mail_count mbox)" -eq 0 ] || fail "mail was sent"

# A template whose trends span 36 months (next to the config, so it wins):
# 2025-06 run alone gives the report a backfill gives, because run
# computes as many months before its periods as the trends show.
mkdir -p templates
sed 's/months="12"/months="36"/g' "$SRCDIR/templates/executive.xml" >templates/long.xml
grep -q 'months="36"' templates/long.xml || fail "no trend section to lengthen"
fixtures_conf alone | sed 's/^template = executive/template = long/' >alone.conf
fixtures_conf backfill | sed 's/^template = executive/template = long/' >backfill.conf
run 0 "$CRMETL" run --period 2025-06 --config alone.conf
run 0 "$CRMETL" run --from 2024-01 --to 2025-12 --config backfill.conf
same alone/reports/2025-06-long-en.pdf backfill/reports/2025-06-long-en.pdf
exit 0
