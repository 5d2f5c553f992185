#!/bin/bash
# Ids whose shape changes inside a month: a column held as numbers while
# it looks numbered (pass 3 keeps no text for it) must give back the exact
# text of the rows before the value that breaks the shape (leading zeros,
# other widths), and sort them by text.
. "$SRCDIR/tests/e2e/lib.sh"

cat >customers.csv <<'CSV'
customer_id,signup_date,channel,region,tier,referred_by,churn_date
c1,2024-01-01,organic,East,gold,,
c2,2024-01-02,paid,West,gold,c1,
CSV
cat >orders.csv <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
a001,c1,2024-01-05T10:00:00Z,10.00,5.00,completed
a002,c2,2024-01-04T10:00:00Z,11.00,5.00,completed
a0003,c1,2024-01-03T10:00:00Z,12.00,5.00,completed
b7,c2,2024-01-06T10:00:00Z,13.00,5.00,
a009,c1,2024-01-02T10:00:00Z,14.00,5.00,refunded
a010,c1,2024-02-05T10:00:00Z,10.00,5.00,completed
a011,c2,2024-02-04T10:00:00Z,11.00,5.00,completed
q01,c2,2024-04-05T10:00:00Z,11.00,5.00,completed
q02,c2,2024-04-05T10:00:00Z,12.00,5.00,completed
q1,c2,2024-04-05T10:00:00Z,13.00,5.00,completed
q000000000000000009,c2,2024-04-05T10:00:00Z,14.00,5.00,completed
CSV
cat >a.conf <<CONF
[pipeline]
data_dir = a
[source.customers]
entity = customers
file = $PWD/customers.csv
[source.orders]
entity = orders
file = $PWD/orders.csv
CONF

run 0 "$CRMETL" normalize --config a.conf
run 0 "$CRMETL" dump a/periods/2024-01.crmp --table orders
cat >want <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
a009,c1,2024-01-02T10:00:00Z,14.00,5.00,refunded
a0003,c1,2024-01-03T10:00:00Z,12.00,5.00,completed
a002,c2,2024-01-04T10:00:00Z,11.00,5.00,completed
a001,c1,2024-01-05T10:00:00Z,10.00,5.00,completed
b7,c2,2024-01-06T10:00:00Z,13.00,5.00,
CSV
same out want
run 0 "$CRMETL" dump a/periods/2024-04.crmp --table orders
cat >want <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
q000000000000000009,c2,2024-04-05T10:00:00Z,14.00,5.00,completed
q01,c2,2024-04-05T10:00:00Z,11.00,5.00,completed
q02,c2,2024-04-05T10:00:00Z,12.00,5.00,completed
q1,c2,2024-04-05T10:00:00Z,13.00,5.00,completed
CSV
same out want

# The dimension, sorted by customer_id alone, with ids alike in their
# first 8 bytes (a radix key's width): in byte order all the same.
{
	echo "customer_id,signup_date,channel,region,tier,referred_by,churn_date"
	awk 'BEGIN { for (i = 1; i <= 60; i++) {
		x = (i * 7919) % 1000003; id = "customer-"
		for (k = 0; k < 6; k++) { id = id substr("abcdefghij", x % 10 + 1, 1); x = int(x / 10) }
		print id ",2024-01-05,organic,West,gold,,"
	} }'
} >long-ids.csv
printf '[pipeline]\ndata_dir = l\n[source.customers]\nentity = customers\nfile = %s\n' \
	"$PWD/long-ids.csv" >l.conf
run 0 "$CRMETL" normalize --config l.conf
run 0 "$CRMETL" dump l/periods/customers.crmp --table customers
sed 1d out | cut -d, -f1 >ids
LC_ALL=C sort ids >sorted
same ids sorted
[ "$(wc -l <ids)" -ge 60 ] || fail "only $(wc -l <ids) customers"
