#!/bin/bash
# Every fuzz corpus replays cleanly through its target (properties are
# checked inside the targets), and each libFuzzer target, when built,
# runs briefly from its corpus without finding anything.
. "$SRCDIR/tests/e2e/lib.sh"

[ -n "${REPLAY_DIR:-}" ] || { echo "REPLAY_DIR not set (run through make test)"; exit 77; }
for src in "$SRCDIR"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	corpus="$SRCDIR/tests/fuzz/corpus/$name"
	[ -d "$corpus" ] || fail "no corpus for fuzz target $name"
	run 0 "$REPLAY_DIR/replay_$name" "$corpus"
	contains out "replayed"
	if [ -x "${FUZZ_DIR:-}/fuzz_$name" ]; then
		mkdir -p "work-$name"
		run 0 "$FUZZ_DIR/fuzz_$name" -max_total_time="${FUZZ_QUICK:-5}" "work-$name" "$corpus"
		contains err "Done"
	fi
done
