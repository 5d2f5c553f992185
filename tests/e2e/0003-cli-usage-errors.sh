#!/bin/bash
# Usage errors name what is wrong and exit 2; they never touch the config.
. "$SRCDIR/tests/e2e/lib.sh"

run 2 "$CRMETL" run --period 2025-13
contains err "invalid period '2025-13': month must be 01 to 12"
lacks err "pipeline.conf"

run 2 "$CRMETL" compute --from 2025-05 --to 2025-01
contains err "--from 2025-05 is after --to 2025-01"

run 2 "$CRMETL" compute --from 2025-05
contains err "--from needs --to"

run 2 "$CRMETL" rnu
contains err "unknown command 'rnu'"

run 2 "$CRMETL" normalise
contains err "did you mean 'normalize'?"

run 2 "$CRMETL" run --perod 2025-01
contains err "unknown option '--perod' for run"

run 2 "$CRMETL" report --lang fr
contains err "expected one of en, zh"

run 2 "$CRMETL" verify
contains err "verify needs --period"

run 2 "$CRMETL" dump
contains err "dump needs a FILE argument"

run 2 "$CRMETL" -x run
contains err "unknown option '-x'"

# Log lines carry a time and a level.
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z crmetl error: ' err || fail "no timestamped error line"
