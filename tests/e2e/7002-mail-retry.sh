#!/bin/bash
# crmetl mail retries transient SMTP replies (451) with backoff and then
# delivers once; a permanent reply (554) is not retried: status 6 naming the
# list, the server and the SMTP code, nothing in the ledger, and a second
# list is still served.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

fixtures_conf >p.conf
run 0 "$CRMETL" normalize --config p.conf
run 0 "$CRMETL" compute --config p.conf --from 2025-05 --to 2025-06
cp p.conf base.conf

# 1. Two 451 answers, then the message is stored: delivered once, after retries.
start_flaky mbox --fail 2
printf '\n[mail]\nurl = smtp://127.0.0.1:%s\nfrom = reports@example.com\nto = ceo@example.com\n' \
	"$SMTP_PORT" >>p.conf
run 0 "$CRMETL" mail --config p.conf --period 2025-06
contains err "attempt 1 failed"
contains err "SMTP reply 451"
contains err "attempt 2 failed"
lacks err "attempt 3 failed"
contains err "mail: 2025-06: 1 sent"
[ "$(mail_count mbox)" -eq 1 ] || fail "expected one message, got $(mail_count mbox)"
[ "$(ls var/sent/*.sent | wc -l)" -eq 1 ] || fail "no ledger entry"
stop_smtpd

# 2. A permanent 554: one attempt, status 6, the SMTP code named, ledger
#    untouched; the second list (another, working server) still gets its mail.
start_smtpd good
GOOD=$SMTP_PORT
start_flaky bad --fail -1 --code "554 5.7.1 relay denied"
cp base.conf p.conf
printf '\n[mail]\nurl = smtp://127.0.0.1:%s\nfrom = reports@example.com\nto = ceo@example.com\n' \
	"$SMTP_PORT" >>p.conf
printf '\n[mail.ok]\nurl = smtp://127.0.0.1:%s\nto = cfo@example.com\n' "$GOOD" >>p.conf
rm -rf var/sent
run 6 "$CRMETL" mail --config p.conf --period 2025-06
contains err "cannot deliver the report to [mail] after 1 attempt:"
contains err "SMTP reply 554"
contains err "smtp://127.0.0.1:$SMTP_PORT"
lacks err "retrying"
contains err "[mail.ok] sent 2025-06-executive-en.pdf to 1 recipient"
[ "$(mail_count good)" -eq 1 ] || fail "the working list got no mail"
[ "$(mail_count bad)" -eq 0 ] || fail "the refusing server stored a message"
[ "$(ls var/sent/*.sent | wc -l)" -eq 1 ] || fail "expected only the working list in the ledger"
[ -f var/reports/2025-06-executive-en.pdf ] || fail "the report was not kept"
exit 0
