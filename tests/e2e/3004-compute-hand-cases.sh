#!/bin/bash
# Hand-computed cases beyond fixtures/tiny: (A) every kind of metric on one
# small month (reactivation, contractual churn in the activity model,
# engagement, email rates, CSAT mean, empty NPS, ticket medians, SLA, CAC per
# channel, funnel, CLV and its ratios, survival); (B) the same data one
# month after the last fact (an empty period: nulls, never 0 or NaN);
# (C) churn_model = contractual in America/New_York with DST: months and
# end(P) are local.
. "$SRCDIR/tests/e2e/lib.sh"

conf() { # dir, extra [pipeline] lines, extra [metrics] lines
	{
		printf '[pipeline]\ndata_dir = var\n%s\n' "$2"
		for ent in customers orders spend surveys tickets interactions leads; do
			printf '[source.%s]\nentity = %s\nfile = %s.csv\n' "$ent" "$ent" "$ent"
		done
		[ -z "$3" ] || printf '[metrics]\n%s\n' "$3"
	} >"$1/pipeline.conf"
}

# expect DIR PERIOD: every line on stdin is a row of DIR/var/metrics/PERIOD.csv
expect() {
	local line
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		grep -qxF -- "$2,$line" "$1/var/metrics/$2.csv" || {
			grep -F -- "$(echo "$line" | cut -d, -f1-3)," "$1/var/metrics/$2.csv" >&2
			fail "$1 $2: missing row '$2,$line'"
		}
	done
}

# ---- case A: 2024-05, UTC
mkdir a
cat >a/customers.csv <<'CSV'
customer_id,signup_date,channel,region,tier,referred_by,churn_date
c1,2024-01-10,web,East,gold,,
c2,2024-05-05,web,West,,c1,
c3,2024-05-20,ads,East,,,
c4,2023-12-01,ads,West,,,2024-05-15
c5,2024-01-01,web,,,,
CSV
cat >a/orders.csv <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
o1,c1,2024-04-20T10:00:00Z,100.00,40.00,
o2,c1,2024-05-02T10:00:00Z,50.00,20.00,completed
o3,c2,2024-05-05T10:00:00Z,30.00,10.00,completed
o4,c5,2024-05-31T23:00:00Z,20.00,,completed
CSV
cat >a/spend.csv <<'CSV'
date,channel,purpose,amount
2024-05-01,web,acquisition,300.00
2024-05-02,ads,acquisition,100.00
2024-05-03,web,retention,50.00
CSV
cat >a/surveys.csv <<'CSV'
response_id,customer_id,responded_at,kind,score
s1,c1,2024-05-10T10:00:00Z,csat,5
s2,c2,2024-05-11T10:00:00Z,csat,3
s3,,2024-05-12T10:00:00Z,csat,4
CSV
cat >a/tickets.csv <<'CSV'
ticket_id,customer_id,opened_at,first_response_at,resolved_at,kind
t1,c1,2024-05-02T10:00:00Z,2024-05-02T11:30:00Z,2024-05-03T10:00:00Z,complaint
t2,c3,2024-05-25T00:00:00Z,2024-05-25T03:00:00Z,,question
t3,c4,2024-05-10T00:00:00Z,,2024-05-12T00:00:01Z,complaint
t4,c5,2024-05-31T20:00:00Z,2024-06-01T01:00:00Z,,complaint
CSV
cat >a/interactions.csv <<'CSV'
customer_id,occurred_at,kind
c1,2024-05-03T10:00:00Z,web_visit
c1,2024-05-04T10:00:00Z,email_open
c1,2024-05-04T09:00:00Z,email_sent
c2,2024-05-06T10:00:00Z,email_sent
c2,2024-05-07T10:00:00Z,email_click
c5,2024-04-30T10:00:00Z,web_visit
c4,2024-05-10T10:00:00Z,call
CSV
cat >a/leads.csv <<'CSV'
lead_id,stage,stage_at,channel,customer_id
l1,lead,2024-05-01T00:00:00Z,,
l1,mql,2024-05-02T00:00:00Z,,
l2,lead,2024-05-03T00:00:00Z,,
l3,mql,2024-05-04T00:00:00Z,,
l1,won,2024-05-20T00:00:00Z,,c2
CSV
conf a "timezone = UTC" ""
run 0 "$CRMETL" normalize --config a/pipeline.conf
run 0 "$CRMETL" compute --config a/pipeline.conf --period 2024-05
# Base at 05-01: c1 (last 04-20), c4 (churn_date 05-15 >= 05-01); c5 is out
# (01-01 + 90 = 03-31). At 06-01: c1, c2, c3, c5 (ordered 05-31), not c4.
# during = 2 + 2 new + 1 reactivated = 5 (c1 c4 c2 c3 c5).
expect a 2024-05 <<'ROWS'
customers_start,all,,,2,,
new_customers,all,,,2,,
churned,all,,,1,,
reactivated,all,,,1,,
retained,all,,,1,,
customers_end,all,,,4,,
customer_growth_rate,all,,,1,2,2
churn_rate,all,,,0.5,1,2
retention_rate,all,,,0.5,1,2
buyers,all,,,3,,
orders,all,,,3,,
revenue,all,,,100.00,,
aov,all,,,33.333333333333336,100.00,3
returning_rate,all,,,0.3333333333333333,1,3
repeat_purchase_rate,all,,,0,0,3
net_profit,all,,,70.00,,
referral_rate,all,,,0.5,1,2
interaction_frequency,all,,,1.3333333333333333,4,3
engagement_rate,all,,,0.6,3,5
email_open_rate,all,,,0.5,1,2
email_click_rate,all,,,0.5,1,2
csat,all,,,0.6666666666666666,2,3
csat_mean,all,,,4,12,3
nps,all,,,,0,0
nps_moe95,all,,,,,
complaint_rate,all,,,0.6,3,5
complaint_resolution_rate,all,,,0.3333333333333333,1,3
first_response_hours,all,,,2.25,,
resolution_hours,all,,,36.000138888888884,,
cac,all,,,200,400.00,2
cac,channel,web,,300,300.00,1
cac,channel,ads,,100,100.00,1
retention_cost,all,,,50,50.00,1
funnel_lead,all,,,2,,
funnel_mql,all,,,2,,
funnel_sql,all,,,0,,
funnel_won,all,,,1,,
funnel_mql_conversion,all,,,1,2,2
funnel_sql_conversion,all,,,0,0,2
funnel_opportunity_conversion,all,,,,0,0
funnel_won_conversion,all,,,,1,0
conversion_rate,all,,,0.5,1,2
customers_start,channel,ads,,1,,
customers_start,channel,web,,1,,
reactivated,channel,web,,1,,
reactivated,region,unknown,,1,,
new_customers,tier,unknown,,2,,
customers_end,tier,gold,,1,,
clv,all,,,100,,
clv_margin,all,,,65,,
ltv_cac,all,,,0.325,,
cac_payback_months,all,,,55.38461538461539,,
loyalty_index,all,,,38.888888888888886,,
median_lifetime_days,all,,,166,,
survival,all,,150,1,,
survival,all,,365,0,,
survival,all,,730,0,,
cohort_active_share,cohort,2024-01,4,1,2,2
cohort_retained_share,cohort,2024-01,2,0.5,1,2
cohort_retained_share,cohort,2024-01,4,1,2,2
cohort_revenue_per_customer,cohort,2024-01,4,85,170.00,2
ROWS
lacks a/var/metrics/2024-05.csv ",survival,all,,180,"
# RFM over 2023-06..2024-05, n = 3 scored, score = 1 + floor(5 i / 3) = 1, 2, 4:
# R (most days first) c1 30, c2 27, c5 1; F c2 1, c5 1 (ties by id), c1 2;
# M c5 20, c2 30, c1 150. Segments c1 (1,4) at_risk, c2 (2,1) hibernating,
# c5 (4,2) potential_loyalist; c3 and c4 have no order: none.
expect a 2024-05 <<'ROWS'
rfm_count,rfm,at_risk,,1,,
rfm_count,rfm,hibernating,,1,,
rfm_count,rfm,potential_loyalist,,1,,
rfm_count,rfm,none,,2,,
rfm_revenue_share,rfm,at_risk,,0.75,150.00,200.00
customers_end,rfm,at_risk,,1,,
customers_start,rfm,none,,1,,
ROWS
# Predictive CLV inputs at L = 2024-05-31: c1 bought on 04-20 and 05-02
# (x 1, t_x 12/7, T 41/7 weeks, repeat day 50.00); c2 once on 05-05 (T 26/7);
# c5 once on L itself (T 0); c3, c4 never. Three buyers, one repeat: too
# few to fit (30 and 10 are needed), so the predictions stay empty.
cat >want <<'CSV'
customer_id,channel,region,tier,signup_day,in_base,churn_day,recency_days,frequency,monetary,r_score,f_score,m_score,rfm_segment,revenue_12m,net_profit_12m,x,t_x,T,mean_spend,expected_purchases,p_alive,clv_predicted
c1,web,East,gold,2024-01-10,1,,30,2,150.00,1,4,4,at_risk,150.00,90.00,1,1.7143,5.8571,50.0000,,,
c2,web,West,unknown,2024-05-05,1,,27,1,30.00,2,1,2,hibernating,30.00,20.00,0,0.0000,3.7143,,,,
c3,ads,East,unknown,2024-05-20,1,,,0,0.00,,,,none,0.00,0.00,,,,,,,
c4,ads,West,unknown,2023-12-01,0,2024-05-15,,0,0.00,,,,none,0.00,0.00,,,,,,,
c5,web,unknown,unknown,2024-01-01,1,,1,1,20.00,4,2,1,potential_loyalist,20.00,20.00,0,0.0000,0.0000,,,,
CSV
diff want a/var/metrics/2024-05-customers.csv || fail "2024-05-customers.csv differs"
grep -q ',nan\|,inf' a/var/metrics/2024-05.csv && fail "nan or inf in the output"

# ---- case B: the month after the last fact is an empty period.
run 0 "$CRMETL" compute --config a/pipeline.conf --period 2024-06
expect a 2024-06 <<'ROWS'
orders,all,,,0,,
buyers,all,,,0,,
revenue,all,,,0.00,,
aov,all,,,,0.00,0
purchase_frequency,all,,,,0,0
net_profit_per_buyer,all,,,,0.00,0
new_customers,all,,,0,,
referral_rate,all,,,,0,0
cac,all,,,,0.00,0
csat,all,,,,0,0
funnel_mql_conversion,all,,,,0,0
conversion_rate,all,,,,0,0
first_response_hours,all,,,,,
loyalty_index,all,,,,,
customers_start,all,,,4,,
ROWS

# ---- case C: contractual model in New York (DST began 2024-03-10).
mkdir c
cat >c/customers.csv <<'CSV'
customer_id,signup_date,channel,region,tier,referred_by,churn_date
d1,2023-12-01,,,,,
d2,2024-03-31,,,,,
CSV
cat >c/orders.csv <<'CSV'
order_id,customer_id,ordered_at,amount,cost,status
o1,d1,2024-04-01T03:30:00Z,10.00,,
o2,d2,2024-03-01T04:59:59Z,5.00,,
CSV
cat >c/tickets.csv <<'CSV'
ticket_id,customer_id,opened_at,first_response_at,resolved_at,kind
t1,d1,2024-03-30T12:00:00Z,,2024-04-01T03:00:00Z,complaint
CSV
for ent in spend surveys interactions leads; do cp "a/$ent.csv" "c/$ent.csv"; sed -i '2,$d' "c/$ent.csv"; done
conf c "timezone = America/New_York" "churn_model = contractual"
run 0 "$CRMETL" normalize --config c/pipeline.conf
run 0 "$CRMETL" compute --config c/pipeline.conf --period 2024-03
# o1 is 03-31 23:30 EDT (March); o2 is 02-29 23:59:59 EST, so d2 signs up
# in February. Contractual: d1 never leaves though it has not ordered for
# 90 days. t1 resolved 03:00Z < end(P) = 04:00Z.
expect c 2024-03 <<'ROWS'
customers_start,all,,,2,,
new_customers,all,,,0,,
customers_end,all,,,2,,
churned,all,,,0,,
revenue,all,,,10.00,,
orders,all,,,1,,
buyers,all,,,1,,
complaint_resolution_rate,all,,,1,1,1
ROWS
