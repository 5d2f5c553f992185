# smtplib.sh - a real SMTP server for the mail end-to-end scripts
# (tests/e2e/7*-mail-*.sh). Source it after tests/e2e/lib.sh:
#     . "$SRCDIR/tests/servers/smtplib.sh"
#
# Debian's python3-aiosmtpd, started as
#     python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox DIR
# stores every message it accepts as one file in the Maildir DIR/new. The
# server is killed on EXIT. Backoffs are made short (CRMETL_MAIL_BACKOFF_MS)
# so a test of a server that is down costs milliseconds.

# The Python that has aiosmtpd (a pyenv python3 first on PATH may not).
SMTP_PY=
for py in python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import aiosmtpd' 2>/dev/null; then
		SMTP_PY=$py
		break
	fi
done
[ -n "$SMTP_PY" ] || { echo "python3-aiosmtpd is not installed"; exit 77; }
export CRMETL_MAIL_BACKOFF_MS=${CRMETL_MAIL_BACKOFF_MS:-20}
SMTPD_PID=   # the server started last
SMTPD_ALL=   # every server started (killed on EXIT)
trap 'for p in $SMTPD_ALL; do kill "$p" 2>/dev/null; done' EXIT

# free_port: a TCP port nobody listens on now.
free_port() {
	"$SMTP_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_smtpd DIR [PORT]: serve the Maildir DIR on PORT (default: a free
# one); sets SMTP_PORT and waits until the port accepts connections.
start_smtpd() {
	local dir=$1 i
	SMTP_PORT=${2:-$(free_port)}
	mkdir -p "$dir/tmp" "$dir/new" "$dir/cur"
	"$SMTP_PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$dir" \
		2>>smtpd.stderr &
	SMTPD_PID=$!
	SMTPD_ALL="$SMTPD_ALL $SMTPD_PID"
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	cat smtpd.stderr >&2
	fail "smtp server did not start on port $SMTP_PORT"
}

# start_flaky DIR [smtpflaky.py options]: like start_smtpd, but a server
# that refuses the first messages (tests/servers/smtpflaky.py).
start_flaky() {
	local dir=$1 i
	shift
	SMTP_PORT=$(free_port)
	rm -f flaky.ready
	"$SMTP_PY" "$SRCDIR/tests/servers/smtpflaky.py" --maildir "$dir" --port "$SMTP_PORT" \
		--ready flaky.ready "$@" 2>>smtpd.stderr &
	SMTPD_PID=$!
	SMTPD_ALL="$SMTPD_ALL $SMTPD_PID"
	for i in $(seq 1 100); do
		[ -e flaky.ready ] && return 0
		sleep 0.05
	done
	cat smtpd.stderr >&2
	fail "flaky smtp server did not start on port $SMTP_PORT"
}

# stop_smtpd: kill the server started last and wait until it is gone.
stop_smtpd() {
	[ -n "$SMTPD_PID" ] || return 0
	kill "$SMTPD_PID" 2>/dev/null
	wait "$SMTPD_PID" 2>/dev/null
	SMTPD_PID=
}

# mail_count DIR: messages delivered to the Maildir DIR and not yet seen.
mail_count() {
	find "$1/new" -type f | wc -l
}

# new_mail DIR: the path of the one unseen message (fails unless exactly one).
new_mail() {
	[ "$(mail_count "$1")" -eq 1 ] || fail "expected one new message in $1, found $(mail_count "$1")"
	find "$1/new" -type f
}

# mail_seen DIR: mark every message as seen (moves them to DIR/cur).
mail_seen() {
	find "$1/new" -type f -exec mv {} "$1/cur/" \;
}

# start_smtptls MODE DIR CERT KEY USER PASSWORD_FILE: an SMTP server with
# TLS (MODE starttls or smtps) that requires AUTH as USER
# (tests/servers/smtptls.py); sets SMTP_PORT, logs to smtptls.stderr.
start_smtptls() {
	local mode=$1 dir=$2 i
	SMTP_PORT=$(free_port)
	rm -f smtptls.ready
	"$SMTP_PY" "$SRCDIR/tests/servers/smtptls.py" --mode "$mode" --maildir "$dir" \
		--port "$SMTP_PORT" --cert "$3" --key "$4" --user "$5" --password-file "$6" \
		--ready smtptls.ready 2>>smtptls.stderr &
	SMTPD_PID=$!
	SMTPD_ALL="$SMTPD_ALL $SMTPD_PID"
	for i in $(seq 1 100); do
		[ -e smtptls.ready ] && return 0
		sleep 0.05
	done
	cat smtptls.stderr >&2
	fail "tls smtp server ($mode) did not start on port $SMTP_PORT"
}
