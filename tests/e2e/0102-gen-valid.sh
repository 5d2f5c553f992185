#!/bin/bash
# 0102-gen-valid: a generated set is valid per EXPORTS.md (checked by the
# independent tests/e2e/check_exports.py), its XML and gzip copies hold the
# same records, its data make the metrics non-trivial, and --bad-rate rows
# are exactly the rows the validator rejects, with every kind of reason.
. "$SRCDIR/tests/e2e/lib.sh"
CHECK="$SRCDIR/tests/e2e/check_exports.py"

run 0 "$GEN" --seed 3 --customers 300 --xml tickets --xml leads --xml customers \
	--xml surveys --gzip orders --gzip surveys --out v
for e in customers orders spend surveys tickets interactions leads; do
	[ -f "v/$e.csv" ] || fail "missing v/$e.csv"
	[ "$(wc -l <"v/$e.csv")" -gt 10 ] || fail "v/$e.csv has almost no rows"
done
run 0 python3 "$CHECK" --canonical v
contains err " 0 rejected"

# gzip copies: the same bytes; XML copies: the same records.
for e in orders surveys; do
	gunzip -c "v/$e.csv.gz" >"$e.plain" || fail "v/$e.csv.gz does not gunzip"
	same "$e.plain" "v/$e.csv"
done
for e in tickets leads customers surveys; do
	python3 "$CHECK" --dump "v/$e.csv" >"$e.csv.rec" || fail "cannot dump v/$e.csv"
	python3 "$CHECK" --dump "v/$e.xml" >"$e.xml.rec" || fail "cannot dump v/$e.xml"
	[ -s "$e.csv.rec" ] || fail "no records dumped from v/$e.csv"
	same "$e.csv.rec" "$e.xml.rec"
done
# Both XML forms (attributes and child elements) are exercised.
contains v/tickets.xml '<ticket ticket_id="'
contains v/tickets.xml '<ticket><ticket_id>'

# The distribution makes every metric of METRICS.md non-trivial.
python3 - <<'PY' || fail "the generated data are too uniform for the metrics"
import csv, collections, datetime
def rows(name):
    with open("v/" + name + ".csv", newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))
C, O, P, S, T, I, L = (rows(n) for n in ("customers", "orders", "spend", "surveys", "tickets", "interactions", "leads"))
def has_all(values, want, what):
    missing = set(want) - set(values)
    assert not missing, "%s lacks %s" % (what, sorted(missing))
channels = ["organic", "paid_search", "social", "referral", "email", "affiliate"]
has_all([c["channel"] for c in C], channels + [""], "customers.channel")
has_all([c["region"] for c in C], ["East", "West", "North", "South", ""], "customers.region")
has_all([c["tier"] for c in C], ["bronze", "silver", "gold", "platinum", ""], "customers.tier")
ids = {c["customer_id"] for c in C}
assert len(ids) < len(C), "no re-exported (duplicate) customer rows"
churn = [c for c in C if c["churn_date"]]
assert len(churn) >= 5, "too few churn_date"
assert any(c["churn_date"][:7] == c["signup_date"][:7] for c in churn), "nobody churns in the month they join"
assert sum(1 for c in C if c["referred_by"]) >= 10, "too few referrals"
assert all(c["referred_by"] in ids for c in C if c["referred_by"]), "referrer unknown"
assert any(c["signup_date"] < "2024-01-01" for c in C), "nobody signs up before the start"
has_all([o["status"] for o in O], ["completed", "", "refunded", "cancelled"], "orders.status")
assert all(o["amount"].startswith("-") for o in O if o["status"] == "refunded"), "refund with a positive amount"
assert any(o["cost"] == "" for o in O), "no order without cost"
assert {o["customer_id"] for o in O} - ids, "no derived customer (orders of an unlisted customer)"
assert 8 * len(ids) <= len(O) <= 12 * len(ids), "orders per customer off the 10 target: %d" % len(O)
assert 18 * len(ids) <= len(I) <= 25 * len(ids), "interactions per customer off the 21 target: %d" % len(I)
# Some customers go quiet: last completed order more than 90 days before the end.
last = {}
for o in O:
    if o["status"] in ("", "completed"):
        last[o["customer_id"]] = max(last.get(o["customer_id"], ""), o["ordered_at"][:10])
assert sum(1 for d in last.values() if d < "2025-10-01") >= 20, "nobody goes quiet"
has_all([(p["channel"], p["purpose"]) for p in P], [(c, "acquisition") for c in channels] + [("email", "retention")], "spend")
has_all([s["kind"] for s in S], ["nps", "csat"], "surveys.kind")
assert any(s["customer_id"] == "" for s in S), "no anonymous survey"
nps = collections.Counter(int(s["score"]) for s in S if s["kind"] == "nps")
assert nps[9] + nps[10] and nps[7] + nps[8] and sum(nps[k] for k in range(7)), "NPS lacks a class"
has_all([int(s["score"]) for s in S if s["kind"] == "csat"], [1, 2, 3, 4, 5], "csat scores")
has_all([t["kind"] for t in T], ["complaint", "request", "question"], "tickets.kind")
assert any(t["resolved_at"] == "" for t in T), "no unresolved ticket"
assert any(t["first_response_at"] == "" for t in T), "no ticket without response"
def ts(v):
    v = v.replace(" ", "T")
    if len(v) == 19:
        v += "+00:00"
    return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
solved = [(ts(t["opened_at"]), ts(t["resolved_at"])) for t in T if t["resolved_at"]]
assert any((b - a).total_seconds() > 48 * 3600 for a, b in solved), "no ticket resolved after 48 h"
assert any(a.astimezone(datetime.timezone.utc).month != b.astimezone(datetime.timezone.utc).month for a, b in solved), "no ticket resolved after its month"
kinds = collections.Counter(i["kind"] for i in I)
has_all(kinds, ["web_visit", "email_sent", "email_open", "email_click", "social", "app_session", "call"], "interactions.kind")
assert kinds["email_sent"] > kinds["email_open"] > kinds["email_click"] > 0, "email funnel not decreasing"
assert set(kinds) - {"web_visit", "email_sent", "email_open", "email_click", "social", "app_session", "call"}, "no other word kind"
has_all([l["stage"] for l in L], ["lead", "mql", "sql", "opportunity", "won", "lost"], "leads.stage")
won = [l for l in L if l["stage"] == "won"]
assert won and all(l["customer_id"] in ids for l in won), "won lead without a known customer"
assert all(l["customer_id"] == "" for l in L if l["stage"] != "won"), "customer_id on a stage other than won"
forms = [o["ordered_at"] for o in O]
assert any(f.endswith("Z") for f in forms) and any("+08:00" in f for f in forms) \
    and any(f[10] == " " for f in forms) and any("." in f for f in forms), "timestamp forms missing"
PY

# Odd but valid CSV: a BOM, quoted ids, quoted empty fields, a quoted newline.
[ "$(head -c 3 v/surveys.csv | od -An -tx1 | tr -d ' ')" = efbbbf ] || fail "surveys.csv has no BOM"
grep -q '^o[0-9]*,"c[0-9]*",' v/orders.csv || fail "no quoted customer id in orders.csv"
grep -q ',"",' v/orders.csv v/surveys.csv v/customers.csv || fail "no quoted empty field"
grep -q '"trade show$' v/leads.csv || fail "no quoted field with a newline in leads.csv"

# --bad-rate: the validator rejects exactly the rows of bad-rows.csv.
run 0 "$GEN" --seed 3 --customers 300 --bad-rate 0.02 --out bad
[ -f bad/bad-rows.csv ] || fail "no bad-rows.csv"
run 0 python3 "$CHECK" --canonical --manifest bad/bad-rows.csv bad
[ "$(head -n 1 bad/bad-rows.csv)" = "file,line,reason" ] || fail "bad-rows.csv header"
tail -n +2 bad/bad-rows.csv >listed
sort -t, -k1,1 -k2,2n listed >sorted
same listed sorted
n=$(wc -l <listed)
total=$(cat bad/*.csv | wc -l)
[ "$n" -gt $((total / 100)) ] && [ "$n" -lt $((total * 4 / 100)) ] || fail "$n bad rows of $total lines for a rate of 0.02"
for reason in money_separator money_currency money_space money_fraction ts_basic \
	ts_one_digit ts_hour24 ts_second60 ts_offset_colon ts_offset_range \
	missing_required enum score_range score_type id_length unknown_customer field_count; do
	grep -q ",$reason\$" listed || fail "no bad row of kind $reason"
done
# The manifest check itself bites: drop one line and it must fail.
sed '2d' bad/bad-rows.csv >short.csv
run 1 python3 "$CHECK" --canonical --manifest short.csv bad
contains err "rejected, not in the manifest"
exit 0
