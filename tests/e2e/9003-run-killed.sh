#!/bin/bash
# Three nightly runs (2025-04, 05, 06), each mailing its report to two lists
# on a real SMTP server, are killed with SIGKILL at random moments and
# started again until 6 kills per night landed inside a run. In the end periods/, metrics/ and
# reports/ are byte-identical to uninterrupted runs in another data
# directory (reports rendered with SOURCE_DATE_EPOCH), no temporary file is
# left, and the server received every report exactly once (no double send,
# none lost) with the bytes of the final report attached.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/servers/smtplib.sh"

export SOURCE_DATE_EPOCH=1767225600
PERIODS="2025-04 2025-05 2025-06"
KILLS_PER_PERIOD=6   # landed inside a run
MAX_TRIES=30         # per period (a kill may come after the run ended)

# conf DATA_DIR PORT: the fixtures with an English and a Chinese list.
conf() {
	fixtures_conf "$1"
	printf '[mail]\nurl = smtp://127.0.0.1:%s\nfrom = reports@example.com\nto = ceo@example.com\n' "$2"
	printf '[mail.zh]\nto = cfo@example.com\nlang = zh\n'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The reference: the same nights, never interrupted, to their own server.
start_smtpd refbox
conf ref "$SMTP_PORT" >ref.conf
declare -A took    # ms of the uninterrupted run of each period
for p in $PERIODS; do
	t0=$(now_ms)
	run 0 "$CRMETL" run --period "$p" --config ref.conf
	took[$p]=$(($(now_ms) - t0))
done
[ "$(mail_count refbox)" -eq 6 ] || fail "the reference runs sent $(mail_count refbox) messages, expected 6"

start_smtpd mbox
conf var "$SMTP_PORT" >p.conf
RANDOM=${KILL_SEED:-$$}
echo "kill seed $RANDOM; uninterrupted runs: ${took[*]} ms"
landed=0
for p in $PERIODS; do
	n=0
	tries=0
	bound=${took[$p]}
	while [ $n -lt $KILLS_PER_PERIOD ] && [ $tries -lt $MAX_TRIES ]; do
		tries=$((tries + 1))
		"$CRMETL" run --period "$p" --config p.conf >>killed.log 2>&1 &
		pid=$!
		# Anywhere in a run as long as the uninterrupted one; once work is
		# done and kept, re-runs are shorter: a run that ended before its
		# kill halves the bound.
		ms=$((RANDOM % (bound + 1)))
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		st=$?
		[ "$st" -eq 137 ] || [ "$st" -eq 0 ] || { cat killed.log; fail "run $p exited $st"; }
		[ "$st" -eq 137 ] && n=$((n + 1))
		[ "$st" -eq 0 ] && [ "$bound" -gt 10 ] && bound=$((bound / 2))
		echo "$p try $tries at ${ms} ms: $([ "$st" -eq 137 ] && echo killed || echo finished first)"
	done
	landed=$((landed + n))
	run 0 "$CRMETL" run --period "$p" --config p.conf
done
echo "$landed kills landed inside a run; what the re-runs found of interrupted mail:"
grep -h "an earlier run was stopped" killed.log | sed 's/^[^ ]* //' 
[ "$landed" -ge 15 ] || fail "only $landed kills landed inside a run: the test did not test"

# Outputs: byte for byte, and nothing else (no temporary file) in these directories.
for d in periods metrics reports; do
	diff -r "ref/$d" "var/$d" >diff.out 2>&1 || { cat diff.out; fail "var/$d differs from an uninterrupted run"; }
done
left=$(find var -name '*.tmp.*' -o -path 'var/tmp/*' | head)
[ -z "$left" ] || fail "temporary files left behind: $left"
left=$(find var/sent -name '*.pending' -o -name '*.unconfirmed' -o -name '*.previous')
[ -z "$left" ] || fail "unsettled deliveries left in sent/: $left"

# Mail: each (period, list) exactly once, the same messages as the reference.
"$SMTP_PY" - mbox refbox var/reports <<'PY' || fail "the mail received is not each report exactly once"
import email, email.policy, os, sys
def load(box):
    out = []
    for d in ("new", "cur"):
        for f in sorted(os.listdir(os.path.join(box, d))):
            with open(os.path.join(box, d, f), "rb") as fh:
                out.append(email.message_from_binary_file(fh, policy=email.policy.default))
    return out
got, ref = load(sys.argv[1]), load(sys.argv[2])
ids = [m["Message-ID"] for m in got]
dups = sorted({i for i in ids if ids.count(i) > 1})
assert not dups, "sent more than once: %s" % dups
assert sorted(ids) == sorted(m["Message-ID"] for m in ref), (sorted(ids), sorted(m["Message-ID"] for m in ref))
keys = sorted((m["To"], str(m["Subject"])) for m in got)
assert len(set(keys)) == 6, keys
for m in got:
    pdf = [p for p in m.iter_attachments() if p.get_content_type() == "application/pdf"][0]
    with open(os.path.join(sys.argv[3], pdf.get_filename()), "rb") as fh:
        assert pdf.get_content() == fh.read(), "%s: attachment differs from the report" % pdf.get_filename()
print("%d messages, each once" % len(got))
PY

# And a further night sends nothing more.
run 0 "$CRMETL" run --period 2025-06 --config p.conf
[ "$(mail_count mbox)" -eq 6 ] || fail "a run after the last one sent mail again"
exit 0
