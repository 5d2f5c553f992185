#!/bin/bash
# The per-customer file with awkward texts: ids that need CSV quotes
# ("a,b", q"x), a 64-byte id, segment values of 15, 16, 17, 40 and 250
# bytes and quoted ones (the writer copies short values in fixed 16-byte
# blocks), a signup in 1901 (outside the date table), a refund and an
# amount with 4 decimals. Every line must parse back, as CSV, into the
# customer's own id and segment values, with the columns of the header.
. "$SRCDIR/tests/e2e/lib.sh"

long=$(printf 'y%.0s' $(seq 250))
id64=$(printf 'x%.0s' $(seq 64))
cat >customers.csv <<CSV
customer_id,signup_date,channel,region,tier,referred_by,churn_date
c1,2024-01-10,web,East,gold,,
"a,b",2024-02-05,a-channel-name-that-is-quite-long-40-chars,"North, far",exactly16bytes16,c1,
"q""x",2023-05-20,ads,"Say ""hi""",seventeen-bytes-1,,
$id64,1901-12-01,web,West,fifteen-bytes15,,2024-05-15
c5,2024-01-01,web,,,,
c6,2022-01-01,$long,"$long,",",$long",,
CSV
cat >orders.csv <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
o1,c1,2024-04-20T10:00:00Z,100.00,40.00,
o2,c1,2024-05-02T10:00:00Z,50.00,20.00,completed
o3,"a,b",2024-05-05T10:00:00Z,30.00,10.00,completed
o4,c5,2024-05-31T23:00:00Z,20.00,,completed
o5,"q""x",2024-03-31T23:00:00Z,-20.5,,completed
o6,c6,2024-03-31T23:00:00Z,1234567.8912,,refunded
CSV
printf '[pipeline]\ndata_dir = var\n[source.customers]\nentity = customers\nfile = customers.csv\n[source.orders]\nentity = orders\nfile = orders.csv\n' >pipeline.conf
run 0 "$CRMETL" normalize
run 0 "$CRMETL" compute --from 2024-01 --to 2024-06
python3 - customers.csv var/metrics <<'PY' || fail "the per-customer files do not read back"
import csv, glob, os, sys
src = {r["customer_id"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
files = sorted(glob.glob(os.path.join(sys.argv[2], "2024-0?-customers.csv")))
assert len(files) == 6, files
seen = set()
for f in files:
    rows = list(csv.reader(open(f, newline="")))
    head = rows[0]
    assert head[:5] == ["customer_id", "channel", "region", "tier", "signup_day"], head
    for r in rows[1:]:
        assert len(r) == len(head), (f, r)
        c = src[r[0]]
        for col in ("channel", "region", "tier"):
            got = r[head.index(col)]
            want = c[col] or "unknown"  # an empty segment value is reported as "unknown"
            assert got == want, (f, col, got, want)
        seen.add(r[0])
    ids = [r[0] for r in rows[1:]]
    assert ids == sorted(ids, key=lambda s: s.encode()), (f, ids)
assert seen == set(src), seen ^ set(src)
PY
contains var/metrics/2024-06-customers.csv "1901-12-01"
