#!/bin/bash
# 0103-gen-fixtures-fresh: the committed fixtures/small is exactly what the
# command in fixtures/README.md generates, so it never drifts from gen.c.
# gzip files are compared by content and header: the compressed stream of a
# zlib other than Debian's (e.g. zlib-ng) may differ for the same bytes.
. "$SRCDIR/tests/e2e/lib.sh"

readme="$SRCDIR/fixtures/README.md"
cmdline=$(sed -n 's/^    fixtures\/gen \(.*\) --out fixtures\/small$/\1/p' "$readme")
[ -n "$cmdline" ] || fail "no '    fixtures/gen ... --out fixtures/small' line in fixtures/README.md"
# shellcheck disable=SC2086
run 0 "$GEN" $cmdline --out fresh

committed="$SRCDIR/fixtures/small"
[ "$(cd "$committed" && ls | grep -v '^README' )" = "$(ls fresh)" ] ||
	fail "file lists differ: committed '$(ls "$committed" | tr '\n' ' ')', fresh '$(ls fresh | tr '\n' ' ')'"
for f in fresh/*; do
	n=$(basename "$f")
	case "$n" in
	*.gz)
		gunzip -c "$f" >new.plain || fail "fresh $n does not gunzip"
		gunzip -c "$committed/$n" >old.plain || fail "committed $n does not gunzip"
		cmp -s new.plain old.plain || fail "fixtures/small/$n content drifted: regenerate it (see fixtures/README.md)"
		[ "$(head -c 10 "$f" | od -An -tx1)" = "$(head -c 10 "$committed/$n" | od -An -tx1)" ] ||
			fail "fixtures/small/$n gzip header differs"
		;;
	*)
		cmp -s "$f" "$committed/$n" || fail "fixtures/small/$n drifted from the generator: regenerate it (see fixtures/README.md)"
		;;
	esac
done
exit 0
