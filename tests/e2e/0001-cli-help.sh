#!/bin/bash
# The command line: help for the program and every command, version, and
# clear usage errors with exit status 2.
. "$SRCDIR/tests/e2e/lib.sh"

run 0 "$CRMETL" --help
for c in run fetch normalize compute report mail verify inspect dump; do
	contains out "  $c "
done
contains out "exit status:"
contains out "9  the stage asked for is not built yet"
lacks err "error"

run 0 "$CRMETL" --version
grep -Eq '^crmetl [0-9]+\.[0-9]+\.[0-9]+$' out || fail "bad version line: $(cat out)"

for c in run fetch normalize compute report mail verify inspect dump; do
	run 0 "$CRMETL" "$c" --help
	contains out "usage: crmetl $c"
	contains out "-h, --help"
	run 0 "$CRMETL" help "$c"
	contains out "usage: crmetl $c"
done
run 0 "$CRMETL" report -h
contains out "--lang en|zh"

# No command: the help goes to stderr and the status says usage.
run 2 "$CRMETL"
contains err "usage: crmetl COMMAND"
