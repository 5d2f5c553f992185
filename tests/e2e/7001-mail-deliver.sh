#!/bin/bash
# crmetl mail against a real SMTP server (aiosmtpd on 127.0.0.1): the report
# of 2025-06 arrives with the right headers, a text and an HTML body with
# the headline numbers and the PDF attached byte for byte; the ledger stops a
# second send, --force sends again, --dry-run writes an .eml and sends
# nothing; a second list in Chinese gets an RFC 2047 subject and its
# segment's numbers and report (region East); a restated period is sent again and says so; a server
# that is down gives status 6, keeps the PDF and records nothing, and the
# next run delivers; --resend sends the archived PDF even after the report
# was re-rendered with other bytes.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

CHECK="$SMTP_PY $SRCDIR/tests/servers/smtpcheck.py"
PDF=var/reports/2025-06-executive-en.pdf
ZH=var/reports/2025-06-executive-zh-region-East.pdf  # the east list: its segment's report

# Real metrics and a real report from the bundled fixtures.
fixtures_conf >p.conf
run 0 "$CRMETL" normalize --config p.conf
run 0 "$CRMETL" compute --config p.conf
run 0 "$CRMETL" report --config p.conf --period 2025-06
[ -f $PDF ] || fail "no report"

start_smtpd mbox
PORT1=$SMTP_PORT
cat >>p.conf <<CONF

[mail]
url = smtp://127.0.0.1:$SMTP_PORT
from = reports@example.com
to = ceo@example.com, cfo@example.com
user = env:SMTP_USER
password = env:SMTP_PASSWORD

[mail.east]
to = east.lead@example.com
segment = region=East
lang = zh
subject = 客户指标 {period} ({lang})
CONF
# aiosmtpd offers no AUTH, so libcurl does not log in; the secrets must
# still be resolved and never appear anywhere.
export SMTP_USER=report-bot SMTP_PASSWORD=pa55-never-logged

# 1. Both lists get their message; the zh report is rendered on the way.
run 0 "$CRMETL" mail --config p.conf --period 2025-06
contains err "mail: 2025-06: 2 sent, 0 already sent"
contains err "rendering $ZH first"
lacks err "pa55-never-logged"
[ "$(mail_count mbox)" -eq 2 ] || fail "expected 2 messages, got $(mail_count mbox)"
[ "$(ls var/sent/*.sent | wc -l)" -eq 2 ] || fail "expected 2 ledger entries"
grep -rqF "pa55-never-logged" var && fail "a secret was written under var/"
EN=$(grep -l "^X-RcptTo: ceo@example.com, cfo@example.com" mbox/new/*) || fail "no message to ceo and cfo"
CN=$(grep -l "^X-RcptTo: east.lead@example.com" mbox/new/*) || fail "no message to east"
MID=$(sed -n 's/^message_id = //p' var/sent/2025-06-executive-en-*.sent)
echo "$MID" | grep -qE '^<[0-9a-f]{32}\.crmetl@example\.com>$' || fail "odd message id '$MID'"
$CHECK "$EN" --header "From=reports@example.com" --header "To=ceo@example.com, cfo@example.com" \
	--header "Subject=Customer metrics 2025-06 (en)" --header "Message-ID=$MID" \
	--header "MIME-Version=1.0" --filename 2025-06-executive-en.pdf --attachment att.pdf \
	--text 'Revenue: $19,361 (+10.6% vs 2025-05)' --text 'Customers at month end: 174' \
	--text 'New customers: 18' --text 'Churn rate: 10.1% (-0.3 pp vs 2025-05)' --text 'NPS: 50' \
	--html '<td align="right">$19,361</td>' --html '<td align="right">174</td>' \
	|| fail "the English message is not right"
same att.pdf $PDF
# The Date is now, as RFC 5322 writes it.
"$SMTP_PY" - "$EN" <<'PY' || fail "the Date header is not the time of sending"
import email, email.utils, sys, time
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
d = email.utils.parsedate_to_datetime(m["Date"]).timestamp()
sys.exit(0 if abs(d - time.time()) < 300 and m["Date"].endswith("+0000") else 1)
PY
$CHECK "$CN" --header "Subject=客户指标 2025-06 (zh)" --header "To=east.lead@example.com" \
	--filename 2025-06-executive-zh-region-East.pdf --attachment att-zh.pdf --text '流失率: 3.9%' \
	|| fail "the Chinese message is not right"
grep -q '^Subject: =?UTF-8?B?' "$CN" || fail "the Chinese subject is not an encoded-word"
same att-zh.pdf $ZH
pdftotext -enc UTF-8 $ZH - | grep -q 'East' || fail "the east list's report does not name its segment"
mail_seen mbox

# 2. A second run sends nothing.
run 0 "$CRMETL" mail --config p.conf --period 2025-06
contains err "already sent on"
contains err "mail: 2025-06: 0 sent, 2 already sent"
[ "$(mail_count mbox)" -eq 0 ] || fail "the second run sent again"

# 3. --force sends again (same Message-ID: same report, same recipients).
run 0 "$CRMETL" mail --config p.conf --period 2025-06 --force
[ "$(mail_count mbox)" -eq 2 ] || fail "--force did not send both lists again"
grep -qF "Message-ID: $MID" $(grep -l "^X-RcptTo: ceo@" mbox/new/*) || fail "the message id changed"
mail_seen mbox

# 4. --dry-run writes .eml files with CRLF lines, sends nothing, leaves the ledger.
(cd var/sent && sha256sum -- *) >ledger.before
run 0 "$CRMETL" mail --config p.conf --period 2025-06 --dry-run
contains err "2 written to the outbox"
[ "$(mail_count mbox)" -eq 0 ] || fail "--dry-run sent mail"
(cd var/sent && sha256sum -- *) >ledger.after
same ledger.before ledger.after
EML=$(ls var/outbox/2025-06-executive-en-*.eml) || fail "no .eml in var/outbox"
$CHECK "$EML" --crlf --header "Message-ID=$MID" --attachment att-eml.pdf || fail "the .eml is not right"
same att-eml.pdf $PDF

# 5. A restated period (its metrics changed since it was sent) is sent
#    again, re-rendered, and says so in the subject and the body.
sed -i 's/^2025-06,revenue,all,,,19361.27,/2025-06,revenue,all,,,20100.5,/' var/metrics/2025-06.csv
grep -q '^2025-06,revenue,all,,,20100.5,' var/metrics/2025-06.csv || fail "could not restate"
run 0 "$CRMETL" mail --config p.conf --period 2025-06
contains err "rendering $PDF first"
contains err "restated"
[ "$(mail_count mbox)" -eq 2 ] || fail "the restated period was not sent to both lists"
EN=$(grep -l "^X-RcptTo: ceo@" mbox/new/*)
$CHECK "$EN" --header "Subject=Customer metrics 2025-06 (en) (restated)" \
	--text 'Revenue: $20,100' --text 'restated' --html 'restated' --attachment att2.pdf \
	|| fail "the restated message is not right"
same att2.pdf $PDF
mail_seen mbox
run 0 "$CRMETL" mail --config p.conf --period 2025-06
[ "$(mail_count mbox)" -eq 0 ] || fail "the restated period was sent twice"

# 6. Server down: status 6 naming list, url and error; PDF kept, ledger untouched.
stop_smtpd
(cd var/sent && sha256sum -- *) >ledger.before
run 6 "$CRMETL" mail --config p.conf --period 2025-07
contains err "cannot deliver the report to [mail] after 5 attempts"
contains err "smtp://127.0.0.1:$PORT1"
contains err "retrying in"
lacks err "pa55-never-logged"
[ -f var/reports/2025-07-executive-en.pdf ] || fail "the 2025-07 report was not kept"
(cd var/sent && sha256sum -- *) >ledger.after
same ledger.before ledger.after
ls var/sent | grep -q 2025-07 && fail "a failed delivery wrote the ledger"

# ... the server is back: the next run delivers.
start_smtpd mbox "$PORT1"
run 0 "$CRMETL" mail --config p.conf --period 2025-07
contains err "mail: 2025-07: 2 sent"
[ "$(mail_count mbox)" -eq 2 ] || fail "the retry did not deliver"
EN=$(grep -l "^X-RcptTo: ceo@" mbox/new/*)
$CHECK "$EN" --header "Subject=Customer metrics 2025-07 (en)" --attachment att3.pdf || fail "2025-07 message"
same att3.pdf var/reports/2025-07-executive-en.pdf
mail_seen mbox

# 7. --resend sends the archived PDF as it was sent, even after the report
#    was re-rendered with other bytes (another creation date).
cp var/sent/2025-06-executive-en-*.pdf archived.pdf
same archived.pdf $PDF
SOURCE_DATE_EPOCH=1000000000 run 0 "$CRMETL" report --config p.conf --period 2025-06
cmp -s archived.pdf $PDF && fail "the re-rendered report has the same bytes"
run 0 "$CRMETL" mail --config p.conf --period 2025-06 --resend
[ "$(mail_count mbox)" -eq 2 ] || fail "--resend did not send"
EN=$(grep -l "^X-RcptTo: ceo@" mbox/new/*)
$CHECK "$EN" --attachment att4.pdf || fail "the resent message is not right"
same att4.pdf archived.pdf
mail_seen mbox

# A resend without an archive is an error that says so.
run 1 "$CRMETL" mail --config p.conf --period 2025-05 --resend
contains err "nothing to resend"
exit 0
