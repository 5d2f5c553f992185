#!/bin/bash
# Mail over TLS with SMTP AUTH, against aiosmtpd servers that require both
# (tests/servers/smtptls.py) with a certificate from a private CA made here
# with openssl: STARTTLS on smtp:// and TLS from the start on smtps://.
# Without [mail] ca_file the certificate is refused (status 6, nothing sent,
# nothing recorded); with it the message arrives over TLS, logged in with
# the user from env: and the password from a 0600 file:, the PDF attached
# byte for byte; a [mail.NAME] on the same server uses [mail]'s ca_file; a
# wrong password is refused (6) without retries; no secret is logged.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"
command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed"; exit 77; }

CHECK="$SMTP_PY $SRCDIR/tests/servers/smtpcheck.py"
P=2025-06
PDF=var/reports/$P-executive-en.pdf

# A private CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=crmetl mail test CA" -keyout ca.key -out ca.pem \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	2>openssl.err || { cat openssl.err; fail "cannot make the CA"; }
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
	-keyout srv.key -out srv.csr 2>>openssl.err || fail "cannot make the server key"
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile srv.ext \
	-out srv.pem 2>>openssl.err || { cat openssl.err; fail "cannot sign the server certificate"; }

# The account: user from the environment, password from a file only we may read.
SECRET='s3cret-pw-never-logged'
printf '%s\n' "$SECRET" >pw
chmod 600 pw
export SMTP_USER=report-bot

fixtures_conf >base.conf
run 0 "$CRMETL" run --period $P --no-mail --config base.conf
[ -f $PDF ] || fail "no report"

# conf URL [CA_FILE_LINE]: the fixtures with one [mail] list and a [mail.cfo].
conf() {
	cat base.conf
	printf '[mail]\nurl = %s\nfrom = reports@example.com\nto = ceo@example.com\n' "$1"
	printf 'user = env:SMTP_USER\npassword = file:pw\n%s\n' "${2:-}"
	printf '[mail.cfo]\nto = cfo@example.com\n'
}

# no_secret: the password appears in no output and nowhere under var/.
no_secret() {
	lacks err "$SECRET"
	lacks out "$SECRET"
	if grep -rqF "$SECRET" var; then fail "the password was written under var/"; fi
}

for mode in starttls smtps; do
	box=box-$mode
	start_smtptls $mode $box srv.pem srv.key report-bot pw
	scheme=smtp
	[ $mode = smtps ] && scheme=smtps
	url=$scheme://127.0.0.1:$SMTP_PORT
	rm -rf var/sent

	# Without ca_file the system's CAs do not know ours: refused, not retried, nothing recorded.
	conf "$url" >p.conf
	run 6 "$CRMETL" mail --period $P --config p.conf
	contains err "cannot deliver the report to [mail] after 1 attempt"
	grep -qiE "certificate|SSL" err || fail "$mode: the error does not say the certificate was refused: $(cat err)"
	[ "$(mail_count $box)" -eq 0 ] || fail "$mode: a message was delivered without verification"
	[ -z "$(ls var/sent 2>/dev/null)" ] || fail "$mode: a refused delivery wrote the ledger: $(ls var/sent)"
	no_secret

	# With ca_file: both lists delivered over TLS, logged in as report-bot.
	conf "$url" "ca_file = $PWD/ca.pem" >p.conf
	run 0 "$CRMETL" mail --period $P --config p.conf
	contains err "mail: $P: 2 sent"
	[ "$(mail_count $box)" -eq 2 ] || fail "$mode: expected 2 messages, got $(mail_count $box)"
	[ "$(grep -c 'smtptls: stored tls=yes auth=report-bot' smtptls.stderr)" -eq 2 ] ||
		{ cat smtptls.stderr; fail "$mode: not stored over TLS after AUTH"; }
	msg=$(grep -l "^To: ceo@example.com" $box/new/*) || fail "$mode: nothing for ceo"
	$CHECK "$msg" --header "Subject=Customer metrics $P (en)" --attachment att.pdf ||
		fail "$mode: the message is not right"
	same att.pdf $PDF
	grep -q "^To: cfo@example.com" $box/new/* || fail "$mode: [mail.cfo] got nothing"
	no_secret
	run 0 "$CRMETL" mail --period $P --config p.conf
	[ "$(mail_count $box)" -eq 2 ] || fail "$mode: a second run sent again"

	# A wrong password: 535, permanent, exit 6 at once, nothing sent.
	printf 'wrong-password\n' >pw.bad
	chmod 600 pw.bad
	sed 's|^password = file:pw$|password = file:pw.bad|' p.conf >bad.conf
	run 6 "$CRMETL" mail --period $P --force --config bad.conf
	contains err "after 1 attempt"
	contains err "535"
	[ "$(mail_count $box)" -eq 2 ] || fail "$mode: sent with a wrong password"
	grep -q "smtptls: auth refused report-bot" smtptls.stderr || fail "$mode: the server saw no refused AUTH"
	lacks err "wrong-password"
	stop_smtpd
	mv smtptls.stderr smtptls-$mode.stderr
done
exit 0
