#!/bin/bash
# Two guards of the mail stage of crmetl run, against a real SMTP server:
# 1. two lists that send the same report to the same people, each for its
#    own segment, are two deliveries (the segment is in the ledger key),
#    and neither is sent again by the next run;
# 2. a report with a section that fails (a damaged lineage record under the
#    full template) is never mailed: the render fails as a whole (status
#    8), nothing reaches the server or the ledger, whether run renders it
#    or mail does for a list of its own; once repaired it is sent once;
# 3. a --force re-send refused by the server keeps the earlier delivery's
#    ledger entry, so the next run does not send it again.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

P=2025-06
start_smtpd mbox

# 1. Same recipients, same template and language, two segments.
fixtures_conf seg >seg.conf
cat >>seg.conf <<CONF
[mail]
url = smtp://127.0.0.1:$SMTP_PORT
from = reports@example.com
to = ceo@example.com
segment = region=East
[mail.west]
to = ceo@example.com
segment = region=West
CONF
run 0 "$CRMETL" run --period $P --config seg.conf
[ "$(mail_count mbox)" -eq 2 ] || fail "expected one message per segment, got $(mail_count mbox)"
[ "$(ls seg/sent/*.sent | wc -l)" -eq 2 ] || fail "expected two ledger entries: $(ls seg/sent)"
run 0 "$CRMETL" run --period $P --config seg.conf
[ "$(mail_count mbox)" -eq 2 ] || fail "a second run sent again"
[ "$(grep -c "already sent" err)" -eq 2 ] || fail "both lists should be found in the ledger"
mail_seen mbox

# 2. The full template has a lineage appendix; its record is damaged.
fixtures_conf >p.conf
sed -i 's/^template = executive/template = full/' p.conf
grep -q '^template = full' p.conf || fail "the report template was not switched to full"
cat >>p.conf <<CONF
[mail]
url = smtp://127.0.0.1:$SMTP_PORT
from = reports@example.com
to = cfo@example.com
CONF
run 0 "$CRMETL" run --period $P --no-mail --config p.conf
PDF=var/reports/$P-full-en.pdf
[ -f $PDF ] || fail "no full report"
cp $PDF before.pdf
cp var/periods/$P.lineage lineage.good
head -c 100 lineage.good >var/periods/$P.lineage
run 8 "$CRMETL" run --period $P --config p.conf
contains err "damaged lineage record"
contains err "run: FAILED"
lacks err "mail: [mail] sent"
[ "$(mail_count mbox)" -eq 0 ] || fail "a report whose section failed was mailed"
[ -z "$(ls var/sent 2>/dev/null)" ] || fail "the ledger was written: $(ls var/sent)"
same before.pdf $PDF # the failed render replaced nothing

# mail renders a list's own template itself: the same failure, nothing sent.
cat >>p.conf <<CONF
[mail.zh]
to = cfo@example.com
lang = zh
CONF
run 8 "$CRMETL" mail --period $P --config p.conf
contains err "damaged lineage record"
[ "$(mail_count mbox)" -eq 0 ] || fail "mail sent a report whose section failed"
[ ! -e var/reports/$P-full-zh.pdf ] || fail "a failed render left a report"

# Repaired: each list gets its report once.
cp lineage.good var/periods/$P.lineage
run 0 "$CRMETL" run --period $P --config p.conf
[ "$(mail_count mbox)" -eq 2 ] || fail "expected 2 messages once repaired, got $(mail_count mbox)"

# 3. A re-send (--force) that the server refuses after the whole message
#    keeps the record of the delivery that happened: the next run sends
#    nothing, and nothing is left half-recorded.
cp var/sent/$P-full-en-*.sent ledger.before
start_flaky refusing --fail -1 --code "554 5.6.0 refused"
sed "s|^url = smtp://127.0.0.1:[0-9]*|url = smtp://127.0.0.1:$SMTP_PORT|" p.conf >refusing.conf
run 6 "$CRMETL" mail --period $P --force --config refusing.conf
contains err "554"
same ledger.before var/sent/$P-full-en-*.sent
left=$(ls var/sent | grep -E 'pending|previous|unconfirmed')
[ -z "$left" ] || fail "left in sent/: $left"
run 0 "$CRMETL" mail --period $P --config p.conf
contains err "0 sent, 2 already sent"
[ "$(mail_count mbox)" -eq 2 ] || fail "sent again after a refused re-send"
exit 0
