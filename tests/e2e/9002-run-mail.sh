#!/bin/bash
# The nightly run ends by mailing the report to a real SMTP server on
# 127.0.0.1; the next run sends nothing (the ledger), a backfill mails
# nothing, and the summary counts what was sent.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

start_smtpd mbox
fixtures_conf >p.conf
printf '[mail]\nurl = smtp://127.0.0.1:%s\nfrom = reports@example.com\nto = ceo@example.com, cfo@example.com\n' "$SMTP_PORT" >>p.conf

run 0 "$CRMETL" run --period 2025-06 --config p.conf
[ "$(ls mbox/new | wc -l)" -eq 1 ] || fail "expected one message, got $(ls mbox/new | wc -l)"
msg=$(ls mbox/new/* | head -n 1)
"$SMTP_PY" - "$msg" var/reports/2025-06-executive-en.pdf <<'PY' || fail "the message is not right"
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
assert m["From"] == "reports@example.com", m["From"]
assert "ceo@example.com" in m["To"] and "cfo@example.com" in m["To"], m["To"]
assert "2025-06" in m["Subject"], m["Subject"]
pdfs = [p for p in m.iter_attachments() if p.get_content_type() == "application/pdf"]
assert len(pdfs) == 1, [p.get_content_type() for p in m.iter_attachments()]
assert pdfs[0].get_content() == open(sys.argv[2], "rb").read(), "attachment differs from the report"
PY
last=$(ls var/runs/*.json | tail -n 1)
"$SMTP_PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); m=[s for s in r["stages"] if s["name"]=="mail"][0]; assert m["status"]=="ok" and m["sent"]==1, m' "$last" ||
	fail "the run summary does not count the message"

# Again: nothing is sent twice.
run 0 "$CRMETL" run --period 2025-06 --config p.conf
[ "$(ls mbox/new | wc -l)" -eq 1 ] || fail "a second run sent again"

# A backfill builds reports and mails nothing.
run 0 "$CRMETL" run --from 2025-04 --to 2025-05 --config p.conf
contains err "skipped (a --from/--to backfill)"
[ -f var/reports/2025-04-executive-en.pdf ] && [ -f var/reports/2025-05-executive-en.pdf ] ||
	fail "the backfill did not build its reports"
[ "$(ls mbox/new | wc -l)" -eq 1 ] || fail "a backfill sent mail"
