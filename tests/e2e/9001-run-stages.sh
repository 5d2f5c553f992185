#!/bin/bash
# crmetl run fetches the url sources, normalizes, computes and renders the
# report in one locked run; without a [mail] section there is nothing to
# send and the run succeeds; with an unreachable mail server it fails with
# status 6, keeping what the stages before it did.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

cp "$SRCDIR"/fixtures/small/*.csv "$SRCDIR"/fixtures/small/*.gz "$SRCDIR"/fixtures/small/*.xml www/
start_httpd h
sed "s|^file = fixtures/small/\\(.*\\)|url = http://127.0.0.1:$PORT/plain/\\1|" "$SRCDIR/pipeline.conf" >p.conf

run 0 "$CRMETL" run --period 2025-06 --config p.conf
contains err "run: periods 2025-06..2025-06"
contains err "downloaded"
contains err "run: normalize: 14551 rows read"
contains err "run: compute: 13 metrics files written"
contains err "report: wrote var/reports/2025-06-executive-en.pdf"
contains err "no [mail] section in the configuration, nothing to send"
contains err "run: ok in"
[ -f var/periods/2025-06.crmp ] || fail "normalize did not run"
[ -f var/metrics/2025-06.csv ] || fail "compute did not run"
[ -f var/raw/orders/current.meta ] || fail "fetch did not run"

[ -f var/reports/2025-06-executive-en.pdf ] || fail "report did not run"
qpdf --check var/reports/2025-06-executive-en.pdf >/dev/null || fail "the report is not a valid PDF"

# The second run fetches nothing new and finds the inputs unchanged.
run 0 "$CRMETL" run --period 2025-06 --config p.conf
contains err "unchanged (304)"
contains err "run: normalize: inputs unchanged"

# With a [mail] section whose server is down the run fails with status 6,
# the report kept; --no-mail skips mail.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[mail]\nurl = smtp://127.0.0.1:%s\nfrom = r@example.com\nto = ceo@example.com\n' "$port" >>p.conf
CRMETL_MAIL_BACKOFF_MS=20 run 6 "$CRMETL" run --period 2025-06 --config p.conf
[ -f var/reports/2025-06-executive-en.pdf ] || fail "the report was not kept"
run 0 "$CRMETL" run --period 2025-06 --no-mail --config p.conf
contains err "skipped (--no-mail)"

# Every run leaves a summary in runs/ and a Prometheus textfile.
n=$(ls var/runs/*.json | wc -l)
[ "$n" -ge 4 ] || fail "expected a summary per run, found $n"
last=$(ls var/runs/*.json | tail -n 1)
python3 - "$last" <<'PY' || fail "bad run summary $last"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["periods"] == {"from": "2025-06", "to": "2025-06"}, r["periods"]
assert r["status"] == "ok" and r["exit_status"] == 0 and r["error"] is None, r
names = [s["name"] for s in r["stages"]]
assert names == ["fetch", "normalize", "compute", "report", "mail"], names
st = {s["name"]: s for s in r["stages"]}
assert st["fetch"]["unchanged"] == 7, st["fetch"]
assert st["normalize"]["inputs_unchanged"] == 1, st["normalize"]
assert st["mail"]["status"] == "skipped", st["mail"]
PY
contains var/crmetl.prom "crmetl_last_run_success 1"
# One failure so far: the run whose mail server was down (status 6).
contains var/crmetl.prom "crmetl_failures_total 1"
ok_time=$(awk '$1 == "crmetl_last_success_timestamp_seconds" {print $2}' var/crmetl.prom)

# A failed run (the server is gone) says so in both, keeping the last success time.
for p in $HTTPD_PIDS; do kill "$p"; done
wait 2>/dev/null
sleep 1.1
run 4 "$CRMETL" run --period 2025-06 --no-mail --config p.conf
contains err "run: FAILED"
contains var/crmetl.prom "crmetl_last_run_success 0"
contains var/crmetl.prom "crmetl_failures_total 2"
contains var/crmetl.prom "crmetl_last_run_exit_status 4"
contains var/crmetl.prom "crmetl_last_success_timestamp_seconds $ok_time"
last=$(ls var/runs/*.json | tail -n 1)
python3 - "$last" <<'PY' || fail "bad failed-run summary $last"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "failed" and r["exit_status"] == 4, r
assert "cannot fetch" in r["error"], r["error"]
st = {s["name"]: s["status"] for s in r["stages"]}
assert st == {"fetch": "failed", "normalize": "skipped", "compute": "skipped",
              "report": "skipped", "mail": "skipped"}, st
PY
