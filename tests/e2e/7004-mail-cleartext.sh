#!/bin/bash
# Credentials never cross the network in clear: a [mail] with a user and
# password on smtp:// to a server on another address that offers no
# STARTTLS is refused at once (status 6, "no STARTTLS" named, nothing sent,
# nothing recorded, the secrets in no output); the same list without
# credentials delivers; to a relay on this machine (127.0.0.1, as in 7001)
# credentials without TLS are allowed.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

# an address of this machine that is not loopback, for a server "elsewhere"
ADDR=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | grep -v '^127\.' | head -n 1)
[ -n "$ADDR" ] || { echo "no non-loopback IPv4 address to serve on"; exit 77; }

fixtures_conf >p.conf
run 0 "$CRMETL" normalize --config p.conf
run 0 "$CRMETL" compute --config p.conf --period 2025-06
run 0 "$CRMETL" report --config p.conf --period 2025-06

# aiosmtpd on $ADDR: plain SMTP, no STARTTLS
PORT=$(free_port)
mkdir -p mbox/tmp mbox/new mbox/cur
"$SMTP_PY" -m aiosmtpd -n -l "$ADDR:$PORT" -c aiosmtpd.handlers.Mailbox mbox 2>>smtpd.stderr &
SMTPD_ALL="$SMTPD_ALL $!"
for i in $(seq 1 100); do
	(exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null && break
	sleep 0.05
done
(exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null || { cat smtpd.stderr; fail "no server on $ADDR:$PORT"; }

export SMTP_USER=report-bot SMTP_PASSWORD=pa55-not-in-clear
cp p.conf base.conf
printf '\n[mail]\nurl = smtp://%s:%s\nfrom = reports@example.com\nto = ceo@example.com\nuser = env:SMTP_USER\npassword = env:SMTP_PASSWORD\n' \
	"$ADDR" "$PORT" >>p.conf
run 6 "$CRMETL" mail --config p.conf --period 2025-06
contains err "no STARTTLS, and credentials go only over TLS"
contains err "after 1 attempt"
lacks err "pa55-not-in-clear"
[ "$(mail_count mbox)" -eq 0 ] || fail "a message was sent without TLS"
! ls var/sent/*.sent >/dev/null 2>&1 || fail "a refused send was recorded: $(ls var/sent)"
if grep -rqF "pa55-not-in-clear" var; then fail "the password was written under var/"; fi

# without credentials nothing secret is at stake: delivered in clear
cp base.conf p.conf
printf '\n[mail]\nurl = smtp://%s:%s\nfrom = reports@example.com\nto = ceo@example.com\n' "$ADDR" "$PORT" >>p.conf
run 0 "$CRMETL" mail --config p.conf --period 2025-06
[ "$(mail_count mbox)" -eq 1 ] || fail "expected 1 message, got $(mail_count mbox)"
[ "$(ls var/sent/*.sent | wc -l)" -eq 1 ] || fail "expected 1 ledger entry"
echo ok
