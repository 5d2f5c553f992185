#!/bin/bash
# A string column held as text (too many distinct ids, not one numbered
# shape) with no value at all in some month: loading kept no text for it
# (it waits for a value to show its shape), so it must be written as all
# absent, not from whatever its unwritten arrays held. Then: dump reads a
# column as the type its table gives it, so a file whose column has
# another type is refused as damage instead of crashing dump.
. "$SRCDIR/tests/e2e/lib.sh"

{
	echo "customer_id,signup_date,channel,region,tier,referred_by,churn_date"
	for i in $(seq 1 40); do echo "c$i,2024-01-01,organic,East,gold,,"; done
} >customers.csv
{
	echo "lead_id,stage,stage_at,channel,customer_id"
	for i in 1 2 3 4 5; do echo "l$i,lead,2024-01-0${i}T10:00:00Z,organic,"; done
	for i in $(seq 1 40); do printf 'm%d,won,2024-02-%02dT10:00:00Z,organic,c%d\n' "$i" $((i % 28 + 1)) "$i"; done
} >leads.csv
cat >a.conf <<CONF
[pipeline]
data_dir = a
[source.customers]
entity = customers
file = $PWD/customers.csv
[source.leads]
entity = leads
file = $PWD/leads.csv
CONF

run 0 "$CRMETL" normalize --config a.conf
run 0 "$CRMETL" dump a/periods/2024-01.crmp --table leads
cat >want <<'CSV'
lead_id,stage,stage_at,channel,customer_id
l1,lead,2024-01-01T10:00:00Z,organic,
l2,lead,2024-01-02T10:00:00Z,organic,
l3,lead,2024-01-03T10:00:00Z,organic,
l4,lead,2024-01-04T10:00:00Z,organic,
l5,lead,2024-01-05T10:00:00Z,organic,
CSV
same out want
run 0 "$CRMETL" dump a/periods/2024-02.crmp --table leads
[ "$(grep -c ',won,.*,organic,c[0-9]*$' out)" -eq 40 ] || fail "2024-02 lacks its 40 won leads"

# The leads' stage column made a string column, every checksum right.
python3 - a/periods/2024-01.crmp bad.crmp <<'PY'
import struct, sys, zlib
data = bytearray(open(sys.argv[1], 'rb').read())
dir_off, dir_len = struct.unpack_from('<QI', data, 24)
at = data.index(b'\x05stage', dir_off) + 6
assert data[at] == 1, 'stage is not an integer column'
data[at] = 2
data[at + 1] = 3  # a string dictionary
struct.pack_into('<I', data, 36, zlib.crc32(data[dir_off:dir_off + dir_len]))
struct.pack_into('<I', data, 60, zlib.crc32(data[:60]))
open(sys.argv[2], 'wb').write(data)
PY
run 8 "$CRMETL" dump bad.crmp --table leads
contains err "column has the wrong type"
