#!/bin/bash
# Late data for a built period rebuilds that period alone and is reported
# as a restatement; the latest export of an id wins; --period rebuilds
# exactly the period asked for.
. "$SRCDIR/tests/e2e/lib.sh"

mkdir in
cp "$SRCDIR"/fixtures/small/customers.csv in/
cp "$SRCDIR"/fixtures/small/orders.csv in/orders-1.csv
cat >pipeline.conf <<'CONF'
[pipeline]
data_dir = var
[source.customers]
entity = customers
file = in/customers.csv
[source.orders]
entity = orders
file = in/orders-*.csv
CONF
run 0 "$CRMETL" normalize
contains err "0 restated"
sha256sum var/periods/*.crmp >before

# A later export: two late orders in 2024-05 and a corrected amount for an
# order of 2024-07 (the later file wins).
fix=$(awk -F, '$3 ~ /^2024-07-1/ && $6 != "refunded" && $6 != "cancelled" {print; exit}' in/orders-1.csv)
[ -n "$fix" ] || fail "no July order to correct"
id=$(echo "$fix" | cut -d, -f1)
cust=$(echo "$fix" | cut -d, -f2)
{
	echo "order_id,customer_id,ordered_at,amount,cost,status"
	echo "late-1,$cust,2024-05-20T10:00:00Z,100.00,40.00,completed"
	echo "late-2,$cust,2024-05-21T10:00:00Z,50.00,,"
	echo "$fix" | awk -F, 'BEGIN{OFS=","} {$4="999.99"; print}'
} >in/orders-2.csv
run 0 "$CRMETL" normalize
contains err "restated 2024-05: orders"
contains err "restated 2024-07:"
contains err "2 written (2 restated)"
contains err "replaced 2 duplicates"
run 0 "$CRMETL" dump var/periods/2024-07.crmp --table orders
grep -q "^$id,.*,999.99," out || fail "the later export did not win for $id"
# Every other period is untouched.
grep -v -e 2024-05 -e 2024-07 before | sha256sum -c --quiet || fail "other periods changed"

# --period rebuilds that period only, even when others would change.
echo "late-3,$cust,2024-09-02T10:00:00Z,10.00,,completed" >>in/orders-2.csv
echo "late-4,$cust,2024-10-02T10:00:00Z,10.00,,completed" >>in/orders-2.csv
cp var/periods/2024-10.crmp oct.crmp
run 0 "$CRMETL" normalize --period 2024-09
contains err "restated 2024-09"
contains err "1 written (1 restated), 0 unchanged"
same var/periods/2024-10.crmp oct.crmp
