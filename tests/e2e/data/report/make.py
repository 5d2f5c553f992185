#!/usr/bin/env python3
# make.py - writes the hand-made metrics files the report tests read:
# 2024-06.csv .. 2025-06.csv in the output shape of METRICS.md. Values are
# invented but consistent (churn_rate = churned / customers_start, ...), and
# 2025-06 holds round figures the tests look for: churn_rate 103/2500 =
# 0.0412 (shown as 4.1%), NPS 317/1000 = 31.7 (shown as 32), revenue
# 1284530.25 (shown as $1,284,530). Run it from this directory to refresh.
import math

REGIONS = {"East": 0.34, "North": 0.18, "South": 0.21, "West": 0.27}
TIERS = {"bronze": 0.55, "gold": 0.12, "silver": 0.33}
CHANNELS = {"email": 0.12, "partner": 0.18, "store": 0.30, "web": 0.40}


def month(i):
    y, m = divmod(2024 * 12 + 5 + i, 12)
    return "%04d-%02d" % (y, m + 1)


def ratio(n, d):
    return (repr(n / d) if d else ""), str(n), str(d)


def money(v):
    return "%.2f" % v


def churn_of(i, start):
    return int(start * (0.052 - 0.0009 * i) + (i % 2) * 3)


def new_of(i):
    return 100 + 3 * i + (12 if i % 3 == 0 else 0)


# The first month's base is chosen so that customers_end of 2025-05 is
# exactly 2500 = customers_start of 2025-06 (METRICS.md: always equal).
# reactivated of 2025-05 takes up the last few customers of difference.
REACT = {}
for first in range(1000, 3000):
    s = first
    for i in range(12):
        s = s + new_of(i) + 10 + i % 4 - churn_of(i, s)
    if abs(s - 2500) <= 5:
        REACT[11] = 10 + 11 % 4 + 2500 - s
        break
else:
    raise SystemExit("no first base gives 2500")
start = first
for i in range(13):
    P = month(i)
    last = i == 12
    new = new_of(i)
    churned = 103 if last else churn_of(i, start)
    assert not last or start == 2500
    react = REACT.get(i, 10 + i % 4)
    end = start + new + react - churned
    retained = start - churned
    buyers = int(end * 0.46)
    orders = int(buyers * 1.38)
    revenue = 1284530.25 if last else round(820000 * (1.035 ** i) * (1 + 0.04 * math.sin(i)), 2)
    cost = revenue * 0.61
    promoters, detractors, responses = (517, 200, 1000) if last else (480 + 3 * i, 240 - 2 * i, 1000)
    csat_ok, csat_n = 720 + 4 * i, 900
    repeat = int(buyers * (0.27 + 0.004 * i))
    leads, won = 1500 + 20 * i, 140 + 4 * i
    spend = 150000 + 1000 * i
    rows = []

    def add(metric, dim, seg, value, num="", den=""):
        rows.append((metric, dim, seg, value, num, den))

    add("customers_start", "all", "", str(start))
    add("new_customers", "all", "", str(new))
    add("churned", "all", "", str(churned))
    add("reactivated", "all", "", str(react))
    add("retained", "all", "", str(retained))
    add("customers_end", "all", "", str(end))
    add("buyers", "all", "", str(buyers))
    add("orders", "all", "", str(orders))
    add("churn_rate", "all", "", *ratio(churned, start))
    add("retention_rate", "all", "", *ratio(retained, start))
    add("customer_growth_rate", "all", "", *ratio(end - start, start))
    add("revenue", "all", "", money(revenue))
    add("net_profit", "all", "", money(revenue - cost))
    add("aov", "all", "", repr(revenue / orders))
    add("repeat_purchase_rate", "all", "", *ratio(repeat, buyers))
    add("nps", "all", "", *ratio(100 * (promoters - detractors), responses))
    rows[-1] = ("nps", "all", "", repr(100 * (promoters - detractors) / responses),
                str(promoters - detractors), str(responses))
    add("csat", "all", "", *ratio(csat_ok, csat_n))
    add("conversion_rate", "all", "", *ratio(won, leads))
    cac = spend / new
    add("cac", "all", "", repr(cac))
    clv = 1150 + 12 * i
    add("clv", "all", "", repr(float(clv)))
    add("first_response_hours", "all", "", repr(round(6.5 - 0.2 * i, 2)))
    add("complaint_rate", "all", "", *ratio(40 - i, start + new + react))
    add("engagement_rate", "all", "", *ratio(int((start + new) * (0.41 + 0.005 * i)), start + new + react))
    add("ltv_cac", "all", "", repr(clv * 0.39 / cac))
    for ch, share in CHANNELS.items():
        c_start = int(start * share)
        c_churn = int(churned * share * (1.3 if ch == "partner" else 0.9 if ch == "store" else 1.0))
        c_new = int(new * share)
        add("customers_end", "channel", ch, str(c_start + c_new - c_churn))
        add("new_customers", "channel", ch, str(c_new))
        add("churn_rate", "channel", ch, *ratio(c_churn, c_start))
        add("revenue", "channel", ch, money(revenue * share * (1.1 if ch == "store" else 0.95)))
        r_p, r_d = int(promoters * share), int(detractors * share * (1.4 if ch == "partner" else 1))
        add("nps", "channel", ch, repr(100 * (r_p - r_d) / int(responses * share)),
            str(r_p - r_d), str(int(responses * share)))
    for dim, shares in (("region", REGIONS), ("tier", TIERS)):
        for seg, share in shares.items():
            add("customers_end", dim, seg, str(int(end * share)))
            add("revenue", dim, seg, money(revenue * share * (1.25 if seg == "gold" else 1.0)))
            c_start = int(start * share)
            add("churn_rate", dim, seg, *ratio(int(churned * share * (0.6 if seg == "gold" else 1.1)), c_start))
            add("nps", dim, seg, repr(round(31.7 * (0.8 + share), 1)) if last else repr(24.0 + i * 0.5))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    with open(P + ".csv", "w") as f:
        f.write("period,metric,dim,segment,k,value,numerator,denominator\n")
        for r in rows:
            f.write("%s,%s,%s,%s,,%s,%s,%s\n" % (P, r[0], r[1], r[2], r[3], r[4], r[5]))
    start = end
