#!/bin/bash
# Normalize odd but valid exports (BOM, CRLF, quotes, embedded newlines,
# DST gap and overlap in a non-UTC zone, negative amounts, 4 fraction
# digits, a derived customer, a duplicate id) and check every value that
# comes back out of the period files, in CSV, XML and gzip forms.
. "$SRCDIR/tests/e2e/lib.sh"

mkdir -p in
printf '\xef\xbb\xbfcustomer_id,signup_date,channel,region,tier,referred_by,churn_date\r\n' >in/customers.csv
printf 'c1,2024-03-09,"paid, search",East,gold,,\r\n' >>in/customers.csv
printf 'c2,2024-03-10T01:30:00,organic,"We""st",,c1,2024-11-03 01:30:00\r\n' >>in/customers.csv
printf 'c3,2024-03-10,email,"North\r\nSide",silver,,\r\n' >>in/customers.csv
printf 'c1,2024-03-08,paid_search,East,gold,,\r\n' >>in/customers.csv

cat >in/orders.csv <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
o1,c1,2024-03-10T02:30:00,129.9,,
o2,c2,2024-03-31T23:30:00-04:00,-15.0000,0.5,refunded
o3,c9,2024-04-01T03:59:59Z,0.0001,,completed
o4,c3,2024-11-03 01:30:00,10,2.25,cancelled
CSV

write_conf() { # orders-file format
	cat >pipeline.conf <<CONF
[pipeline]
data_dir = var
timezone = America/New_York
[source.customers]
entity = customers
file = in/customers.csv
[source.orders]
entity = orders
file = $1
CONF
}

expect_orders() {
	run 0 "$CRMETL" dump var/periods/2024-03.crmp --table orders
	cat >want <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
o1,c1,2024-03-10T07:30:00Z,129.90,,
o2,c2,2024-04-01T03:30:00Z,-15.00,0.50,refunded
o3,c9,2024-04-01T03:59:59Z,0.0001,,completed
CSV
	diff want out || fail "orders of 2024-03 differ ($1)"
	run 0 "$CRMETL" dump var/periods/2024-11.crmp --table orders
	printf 'order_id,customer_id,ordered_at,amount,cost,status\no4,c3,2024-11-03T05:30:00Z,10.00,2.25,cancelled\n' >want
	diff want out || fail "orders of 2024-11 differ ($1)"
}

write_conf in/orders.csv
run 0 "$CRMETL" normalize
contains err "read 8 rows from 2 files"
contains err "replaced 1 duplicates, derived 1 customers"
contains err "periods 2024-03..2024-11: 9 written"
expect_orders csv

run 0 "$CRMETL" dump var/periods/customers.crmp --table customers
cat >want <<'CSV'
customer_id,signup_date,channel,region,tier,referred_by,churn_date
c1,2024-03-08,paid_search,East,gold,,
c2,2024-03-10,organic,"We""st",,c1,2024-11-03
c3,2024-03-10,email,"North
Side",silver,,
c9,2024-03-31,,,,,
CSV
tr -d '\r' <out >out.lf
diff want out.lf || fail "customers differ"

# A period in between holds empty tables.
run 0 "$CRMETL" dump var/periods/2024-06.crmp --table orders
[ "$(wc -l <out)" -eq 1 ] || fail "2024-06 should have no orders"

# Unchanged inputs: nothing is read or written.
cp var/periods/2024-03.crmp before.crmp
touch -d '2000-01-01' var/periods/2024-03.crmp
run 0 "$CRMETL" normalize
contains err "inputs unchanged since the last run: nothing to do"
[ "$(stat -c %Y var/periods/2024-03.crmp)" -lt 1000000000 ] || fail "2024-03 was rewritten"
# Changed bytes that change no row (a blank line): a full run rewrites nothing.
printf '\r\n' >>in/customers.csv
run 0 "$CRMETL" normalize
contains err "0 written (0 restated), 9 unchanged"
[ "$(stat -c %Y var/periods/2024-03.crmp)" -lt 1000000000 ] || fail "2024-03 was rewritten"
# --force writes everything again, with the same bytes.
run 0 "$CRMETL" normalize --force
contains err "9 written (0 restated)"
same var/periods/2024-03.crmp before.crmp

# The same orders as gzip and as XML give the same period files.
gzip -6 -c in/orders.csv >in/orders.bin
mkdir xml && cd xml || exit 1
cat >orders.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<export entity="orders">
  <order order_id="o1" customer_id="c1" ordered_at="2024-03-10T02:30:00" amount="129.9"/>
  <order><order_id>o2</order_id><customer_id>c2</customer_id>
    <ordered_at>2024-03-31T23:30:00-04:00</ordered_at><amount>-15.0000</amount>
    <cost>0.5</cost><status>refunded</status></order>
  <order order_id="o3" customer_id="c9" ordered_at="2024-04-01T03:59:59Z" amount="0.0001" status="completed"/>
  <order order_id="o4" customer_id="c3" ordered_at="2024-11-03 01:30:00" amount="10" cost="2.25" status="cancelled"/>
</export>
XML
cd .. || exit 1
for f in in/orders.bin xml/orders.xml; do
	rm -rf var
	write_conf "$f"
	[ "$f" = xml/orders.xml ] && printf 'format = xml\nrecord = order\n' >>pipeline.conf
	run 0 "$CRMETL" normalize
	expect_orders "$f"
	same var/periods/2024-03.crmp before.crmp
done
