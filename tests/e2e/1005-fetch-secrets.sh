#!/bin/bash
# Request headers from secret references: header.Authorization = env:CRM_TOKEN
# and = file:PATH (mode 0600) both reach the server; the token appears in no
# log line (even with -v), no error and no stored file. An unset variable is
# a configuration error (exit 3) before any request; no header is a 401.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/fetchlib.sh"

export CRM_TOKEN="s3cr3t-Tok3n-$$-$RANDOM"
start_httpd h # the server reads CRM_TOKEN to know what to expect
B=http://127.0.0.1:$PORT
printf 'Bearer %s\n' "$CRM_TOKEN" >token
chmod 600 token
{
	conf_head
	source_sec envtok "$B/auth/orders.csv" "header.Authorization = env:CRM_AUTH"
	source_sec filetok "$B/auth/spend.csv" "header.Authorization = file:token" "header.X-Extra = env:CRM_AUTH"
} >p.conf
export CRM_AUTH="Bearer $CRM_TOKEN"
run 0 "$CRMETL" fetch -v --config p.conf
contains err "source 'envtok' downloaded"
contains err "source 'filetok' downloaded"
[ "$(requests h.log '^GET /auth/.* auth=yes')" -eq 2 ] || fail "Authorization not sent: $(cat h.log)"
lacks err "$CRM_TOKEN"
lacks h.log "$CRM_TOKEN"
left=$(grep -rl -- "$CRM_TOKEN" var || true)
[ -z "$left" ] || fail "token stored in $left"

# Second run: still authorised, now with validators: 304.
run 0 "$CRMETL" fetch -v --config p.conf
contains err "source 'envtok' unchanged (304)"
lacks err "$CRM_TOKEN"

# A failure with the header set names the source and status, never the token.
{
	conf_head
	source_sec envtok "$B/status/403" "header.Authorization = env:CRM_AUTH"
} >fail.conf
run 4 "$CRMETL" fetch -v --config fail.conf
contains err "cannot fetch source 'envtok': HTTP status 403"
lacks err "$CRM_TOKEN"

# Unset variable: configuration error naming the reference, no request made.
: >h.log
unset CRM_AUTH
run 3 "$CRMETL" fetch --config p.conf
contains err "environment variable 'CRM_AUTH' is not set"
[ ! -s h.log ] || fail "requests made despite a configuration error: $(cat h.log)"

# A secret file readable by others is refused.
chmod 644 token
{
	conf_head
	source_sec filetok "$B/auth/spend.csv" "header.Authorization = file:token"
} >file.conf
run 3 "$CRMETL" fetch --config file.conf
contains err "readable or writable by group or others"
lacks err "$CRM_TOKEN"

# No header at all: 401, earlier data intact.
raw_sums >before
{
	conf_head
	source_sec envtok "$B/auth/orders.csv"
} >none.conf
run 4 "$CRMETL" fetch --config none.conf
contains err "cannot fetch source 'envtok': HTTP status 401 ($B/auth/orders.csv)"
raw_sums >after
same before after
exit 0
