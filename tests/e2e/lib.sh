# lib.sh - helpers for end-to-end scripts (source it: . "$SRCDIR/tests/e2e/lib.sh").
#
# Every script runs in a fresh scratch directory ($SCRATCH, the cwd) with
# CRMETL (the binary under test), GEN (fixture generator) and SRCDIR (the
# repository) set. A script fails at the first failed check: `fail` prints
# what was expected and exits 1.
set -u

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# fixtures_conf [DATA_DIR]: the shipped pipeline.conf on stdout, with the
# bundled fixtures named by absolute path (so it works from the scratch
# directory) and data_dir set to DATA_DIR (default var).
fixtures_conf() {
	sed "s|^data_dir = var|data_dir = ${1:-var}|; s|= fixtures/|= $SRCDIR/fixtures/|" "$SRCDIR/pipeline.conf"
}

# run EXPECTED_STATUS CMD...: run CMD, keep stdout/stderr in ./out and ./err,
# and fail unless it exits with EXPECTED_STATUS.
run() {
	local want=$1 got
	shift
	"$@" >out 2>err
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "--- stdout" >&2; cat out >&2
		echo "--- stderr" >&2; cat err >&2
		fail "'$*' exited $got, expected $want"
	fi
}

# contains FILE TEXT: FILE has TEXT (fixed string) somewhere.
contains() {
	grep -qF -- "$2" "$1" || { echo "--- $1" >&2; cat "$1" >&2; fail "$1 lacks '$2'"; }
}

# lacks FILE TEXT: FILE does not have TEXT.
lacks() {
	if grep -qF -- "$2" "$1"; then
		echo "--- $1" >&2; cat "$1" >&2; fail "$1 has '$2'"
	fi
}

# same FILE1 FILE2: byte-identical.
same() {
	cmp -s "$1" "$2" || fail "$1 and $2 differ"
}

# expect_output NAME: compare ./out and ./err with $SRCDIR/tests/e2e/NAME.out
# and NAME.err when those exist (lines may use shell globs). With
# REFRESH=1 the expected files are rewritten from this run instead.
expect_output() {
	local s exp n_exp n_got i pat line
	for s in out err; do
		exp="$SRCDIR/tests/e2e/$1.$s"
		if [ "${REFRESH:-0}" = 1 ]; then
			cp "$s" "$exp"
			continue
		fi
		[ -f "$exp" ] || continue
		n_exp=$(wc -l <"$exp")
		n_got=$(wc -l <"$s")
		[ "$n_exp" -eq "$n_got" ] || { diff "$exp" "$s" >&2; fail "$s of $1: $n_got lines, expected $n_exp"; }
		i=0
		while IFS= read -r pat <&3 && IFS= read -r line <&4; do
			i=$((i + 1))
			# shellcheck disable=SC2254
			case "$line" in $pat) ;; *) diff "$exp" "$s" >&2; fail "$s of $1 line $i: '$line' does not match '$pat'" ;; esac
		done 3<"$exp" 4<"$s"
	done
}

# hold_lock DIR: a process (Python's flock is flock(2)) that holds the
# data_dir lock DIR/.lock for 30 s; sets HOLDER to its pid and returns once
# the lock is taken (a fixed sleep is not enough on a loaded machine).
hold_lock() {
	local i
	rm -f "$1/.lock.held"
	python3 -c "import fcntl, sys, time; f = open(sys.argv[1] + '/.lock', 'a'); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[1] + '/.lock.held', 'w').close(); time.sleep(30)" "$1" &
	HOLDER=$!
	for i in $(seq 1 200); do
		[ -e "$1/.lock.held" ] && { rm -f "$1/.lock.held"; return 0; }
		sleep 0.05
	done
	fail "the lock holder did not take the lock on $1"
}
