#!/usr/bin/env python3
# make.py - writes the hand-made metrics files the report tests read:
# 2024-06.csv .. 2025-06.csv in the output shape of METRICS.md. Values are
# invented but consistent (churn_rate = churned / customers_start, ...), and
# 2025-06 holds round figures the tests look for: churn_rate 103/2500 =
# 0.0412 (shown as 4.1%), NPS 317/1000 = 31.7 (shown as 32), revenue
# 1284530.25 (shown as $1,284,530). Run it from this directory to refresh.
#
# Predictive CLV rows (clv_* and the model parameters): none in 2024-06 and
# 2024-07, a fit that failed (null parameters) in 2024-08, the models from
# 2024-09 on, with 12-month forecasts, so the holdout of 2025-06 is h = 9
# months (2024-09's forecast against the actuals of 2024-10 .. 2025-06).
# 2025-06 has the CDNOW parameters of METRICS.md and a per-customer file,
# 2025-06-customers.csv, with the model's columns.
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


CDNOW = {"bgnbd_r": 0.242594150135163, "bgnbd_alpha": 4.41359212062927,
         "bgnbd_a": 0.792919156718225, "bgnbd_b": 2.42589479157398,
         "bgnbd_ll": -9582.42919432765, "gg_p": 6.24965944003479,
         "gg_q": 3.74425587768387, "gg_gamma": 15.4435079920183, "gg_ll": -4367.05227812413}
FIRST_FIT = 3  # 2024-09


def modelled_of(i, end):
    return int(end * 0.8) + i


def forecast(i, end, k):
    """Expected repeat purchase days of month i's modelled customers over k months."""
    return modelled_of(i, end) * 0.31 * (1 - math.exp(-0.21 * k)) / 0.21 * 0.2


def clv_rows(i, end, add):
    if i < FIRST_FIT - 1:
        return
    params = ("bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "bgnbd_ll",
              "gg_p", "gg_q", "gg_gamma", "gg_ll")
    if i < FIRST_FIT:  # the fit failed: null parameters, nothing else
        for p in params:
            add(p, "all", "", "")
        return
    for p in params:
        v = CDNOW[p] if i == 12 else CDNOW[p] * (1 + 0.01 * (i - 12))
        add(p, "all", "", repr(v))
    n = modelled_of(i, end)
    means = {"clv_predicted": 212.37 + 1.5 * i, "p_alive": 0.61 - 0.004 * i,
             "expected_purchases": 1.83 + 0.01 * i}
    for metric, mean in means.items():
        total = mean * n if metric != "clv_predicted" else round(mean * n, 2)
        add(metric, "all", "", repr(total / n), repr(total), str(n))
        for dim, shares in (("channel", CHANNELS), ("region", REGIONS), ("tier", TIERS)):
            for seg, share in shares.items():
                m, f = int(n * share), 1.0 + (share - 0.25)
                add(metric, dim, seg, repr(mean * f), repr(mean * f * m), str(m))
    for k in range(1, 13):
        add("clv_forecast_purchases", "all", "", repr(forecast(i, end, k)), k=str(k))
    holdout_rows(i, add)


ENDS = {}  # customers_end by month index, for the holdout rows


def holdout_rows(i, add):
    # the actual of k months up to month i, by the customers modelled at i - k:
    # their forecast, off by a few percent either way, as a whole number
    for k in range(1, min(12, i + 1) + 1):
        j = i - k
        base = forecast(j, ENDS.get(j, 2400), k)
        add("clv_holdout_actual", "all", "", str(int(round(base * (1 + 0.06 * math.sin(3 * k + j))))), k=str(k))


RFM = ["champions", "loyal", "at_risk", "cant_lose", "hibernating", "new", "about_to_sleep"]


def write_customers():
    """2025-06-customers.csv: 60 customers, 4 without a purchase (not modelled)."""
    head = ("customer_id,channel,region,tier,signup_day,in_base,churn_day,recency_days,"
            "frequency,monetary,r_score,f_score,m_score,rfm_segment,revenue_12m,net_profit_12m,"
            "x,t_x,T,mean_spend,expected_purchases,p_alive,clv_predicted")
    lines = [head]
    for n in range(60):
        cid = "c%04d" % (1000 + n * 7 % 60)
        ch = list(CHANNELS)[n % 4]
        rg = list(REGIONS)[n % 4]
        tr = list(TIERS)[n % 3]
        seg = RFM[n % len(RFM)]
        rev = round(150 + (n * 37 % 23) * 97.25 + (n % 5) * 0.5, 2)
        if n % 15 == 14:  # no purchase: no model columns
            lines.append("%s,%s,%s,%s,2025-05-02,1,,,0,0.00,,,,none,0.00,0.00,,,,,,," % (cid, ch, rg, tr))
            continue
        x = n * 5 % 9
        t_x = round(x * 3.5 + 0.5 * (n % 3), 4) if x else 0
        T = round(t_x + 4 + n % 20, 4)
        spend = round(30 + (n * 11 % 17) * 4.5, 2) if x else ""
        p_alive = 1.0 if x == 0 else round(0.97 - (n * 13 % 31) / 31.0, 6)
        exp_p = round(p_alive * (0.4 + x * 0.35), 6)
        clv = round(exp_p * (spend if x else 40.0) * 0.95, 2)
        lines.append([cid, ch, rg, tr, seg, rev, x, t_x, T, spend, exp_p, p_alive, clv])
    # a tie on predicted CLV inside the top 10: c1044 takes c1025's value
    # and must be listed after it (ties: the smaller id first)
    by_id = {l[0]: l for l in lines[1:] if not isinstance(l, str)}
    by_id["c1044"][12] = by_id["c1025"][12]
    with open("2025-06-customers.csv", "w") as f:
        for l in lines:
            if isinstance(l, str):
                f.write(l + "\n")
                continue
            cid, ch, rg, tr, seg, rev, x, t_x, T, spend, exp_p, p_alive, clv = l
            f.write("%s,%s,%s,%s,2024-01-15,1,,%d,%d,%.2f,3,3,3,%s,%.2f,%.2f,%d,%s,%s,%s,%s,%s,%.2f\n" % (
                cid, ch, rg, tr, 12 + int(T * 3) % 200, x + 1, rev, seg, rev, rev * 0.4, x, t_x, T,
                ("%.2f" % spend) if spend != "" else "", repr(exp_p), repr(p_alive), clv))


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
    ENDS[i] = end
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

    def add(metric, dim, seg, value, num="", den="", k=""):
        rows.append((metric, dim, seg, value, num, den, k))

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
                str(promoters - detractors), str(responses), "")
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
    clv_rows(i, end, add)
    rows.sort(key=lambda r: (r[0], r[1], r[2], int(r[6]) if r[6] else -1))
    with open(P + ".csv", "w") as f:
        f.write("period,metric,dim,segment,k,value,numerator,denominator\n")
        for r in rows:
            f.write("%s,%s,%s,%s,%s,%s,%s,%s\n" % (P, r[0], r[1], r[2], r[6], r[3], r[4], r[5]))
    start = end

write_customers()
