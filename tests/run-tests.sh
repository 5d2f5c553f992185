#!/bin/sh
# run-tests.sh - run the unit test binaries given as arguments, then every
# tests/e2e/*.sh script, and print one closing line "N passed, N failed".
#
# Unit binaries are cmocka programs: each of their cases counts. An e2e
# script counts once: exit 0 passes, 77 skips, anything else fails. Each
# script runs in its own scratch directory ($SCRATCH) with CRMETL, GEN and
# SRCDIR set; its output is shown only when it fails (or with VERBOSE=1).
# TESTS=pattern runs only the e2e scripts whose name contains the pattern.
set -u

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export SRCDIR CRMETL GEN
passed=0
failed=0
skipped=0
failures=
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for bin in "$@"; do
	"$bin" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed before cmocka could count
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ] || [ "${VERBOSE:-0}" = 1 ]; then
		cat "$log"
	fi
	[ "$f" -ne 0 ] && failures="$failures $(basename "$bin")"
	echo "unit: $(basename "$bin"): $p passed, $f failed"
done

for t in "$SRCDIR"/tests/e2e/[0-9]*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	case "$name" in *"${TESTS:-}"*) ;; *) continue ;; esac
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/crmetl-e2e.XXXXXX")
	export SCRATCH
	(cd "$SCRATCH" && bash "$t") >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "e2e: $name: ok"
		[ "${VERBOSE:-0}" = 1 ] && cat "$log"
		rm -rf "$SCRATCH"
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "e2e: $name: skipped ($(tail -n 1 "$log"))"
		rm -rf "$SCRATCH"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		echo "e2e: $name: FAILED (exit $rc, scratch kept in $SCRATCH)"
		sed 's/^/    /' "$log"
	fi
done

[ -n "$failures" ] && echo "failed:$failures"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
