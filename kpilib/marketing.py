"""Marketing KPIs, from `marketing_spend` and `orders`."""
from .dimensions import Measure
from .formatting import channel_words
from .kpi import Kpi
from .measures import inverse, ratio, total

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

SPEND = total(
    "spend", "Ad spend", "money",
    "Advertising spend in the period, from the ad platforms' exports.",
    Measure("marketing_spend", "spend"), better=None)
ATTRIBUTED_REVENUE = total(
    "attributed_revenue", "Attributed revenue", "money",
    "Gross sales − discounts of valid orders whose channel is the channel (last-touch "
    "as the order export records it).", Measure("valid_orders", "gross_sales - discounts"))
# Spend and attributed revenue of each channel in each group, and per group the channels
# that had spend in it: a paused campaign exports rows of 0.00, and its channel's orders must
# not count as a return on spend (ROAS and the revenue shown beside it read the same `paid`).
PAID = f"""with sp as (select {{key}} as key, channel, sum(spend) as spend
                       from marketing_spend {WHERE} group by all),
                rev as (select {{key}} as key, channel, sum(gross_sales - discounts) as revenue
                        from valid_orders {WHERE} group by all),
                paid as (select key, sum(coalesce(revenue, 0)) filter (where spend > 0)
                                    as revenue,
                                sum(spend) as spend
                         from sp left join rev using (key, channel) group by key)"""
PAID_REVENUE = Kpi(
    name="paid_revenue", label="Revenue of paid channels", unit="money",
    definition="Gross sales − discounts of valid orders on the channels that had spend (> 0) "
               "in the period, or in each day, week or month shown: what ROAS divides by "
               "spend, so spend × ROAS gives it. A channel with no spend rows, or only rows of "
               "0.00 (a paused campaign), does not count.",
    sql=f"{PAID}\n            select key, coalesce(revenue, 0) as value from paid",
    rollup=True,
)
ROAS = Kpi(
    name="roas", label="ROAS", unit="times",
    definition="Return on ad spend: revenue of paid channels ÷ spend. Totals add up only "
               "channels that had spend (> 0) in the period, or in each day, week or month "
               "shown; a channel with orders but no spend has no ROAS, a channel with spend "
               "and no orders has ROAS 0.",
    sql=f"""{PAID}
            select key, coalesce(revenue, 0) as numerator, spend as denominator,
                   coalesce(revenue, 0) / nullif(spend, 0) as value
            from paid""",
    ratio=True, empty=None, rollup=True,
)

MER = Kpi(
    name="mer", label="MER", unit="times",
    definition="Marketing efficiency ratio: net sales of the whole shop ÷ all ad spend in the "
               "period (Polar's direction; the channel filter does not apply: it is shop-wide).",
    sql="""with n as (select {key} as key, sum(amount) as net from (
                    select day, gross_sales - discounts as amount from valid_orders
                    union all select day, -amount from valid_refunds)
                where day between $start and $end group by all),
                s as (select {key} as key, sum(spend) as spend from marketing_spend
                      where day between $start and $end group by all)
           select key, coalesce(net, 0) as numerator, spend as denominator,
                  coalesce(net, 0) / nullif(spend, 0) as value
           from s full join n using (key)""",
    by=("day", "week", "month"), ratio=True, empty=None, rollup=True, additive=True,
)
MER_INVERSE = inverse(
    MER, "mer_inverse", "Ad spend ÷ net sales",
    "The inverse convention of MER (Triple Whale's): all ad spend ÷ net sales of the "
    "whole shop, as a share of revenue spent on ads.", better="down")
CAC = Kpi(
    name="cac", label="Blended CAC", unit="money",
    definition="Customer acquisition cost: spend ÷ new customers acquired through the channel "
               "(first valid order ever in the period, on that channel). Blended (no channel "
               "filter): all spend ÷ all new customers. No value for a channel without spend.",
    sql=f"""with s as (select {{key}} as key, sum(spend) as spend from marketing_spend {WHERE}
                       group by all),
                 n as (select {{key}} as key, sum(customers) as customers
                       from acquisitions {WHERE} group by all)
            select key, coalesce(spend, 0) as numerator, coalesce(customers, 0) as denominator,
                   case when spend > 0 then spend / nullif(customers, 0) end as value
            from s full outer join n using (key)""",
    ratio=True, empty=None, better="down", history=True,
)
CPC = ratio(
    "cpc", "CPC", Measure("marketing_spend", "spend", where="clicks is not null"),
    Measure("marketing_spend", "clicks"),
    "Cost per click: spend ÷ clicks, over the spend rows that report clicks.",
    unit="money", better="down")
CTR = ratio(
    "ctr", "CTR", Measure("marketing_spend", "clicks", where="impressions is not null"),
    Measure("marketing_spend", "impressions", where="clicks is not null"),
    "Click-through rate: clicks ÷ impressions, over the spend rows that report both.")
PAYBACK = Kpi(
    name="payback", label="Payback on revenue by acquisition channel", unit="money",
    table=True,
    definition="For the customers a channel acquired in a month (first valid order ever): "
               "cumulative net revenue per customer (gross − discounts − refunds, by order date) "
               "month by month since, against the channel's CAC that month (its spend ÷ those "
               "customers, both over the month's days inside the period); the payback month "
               "is the first month the revenue reaches the CAC ('not yet' until then). On "
               "revenue, before costs: the goods, shipping and fees are not taken off, so "
               "paying back in profit takes longer.",
    # cohort_orders: net revenue by acquisition channel, first-order day and order month.
    sql="""with size as (select channel, date_trunc('month', day)::date as cohort,
                                sum(customers)::bigint as customers
                         from acquisitions
                         where day between $start and $end and in_filter(channel, $channels)
                         group by all),
                -- The same days and channels as the customers: a cohort month the period
                -- cuts counts only its days inside, for its spend as for its customers.
                spend as (select channel, date_trunc('month', day)::date as cohort,
                                 sum(spend) as spend
                          from marketing_spend
                          where day between $start and $end and in_filter(channel, $channels)
                          group by all),
                m as (select channel, date_trunc('month', first_day)::date as cohort,
                             date_diff('month', date_trunc('month', first_day)::date, month)
                                 as k,
                             sum(revenue) as revenue
                      from cohort_orders
                      where first_day between $start and $end and in_filter(channel, $channels)
                      group by all),
                grid as (select size.channel, size.cohort, size.customers,
                                spend.spend / size.customers as cac,
                                unnest(range(0, date_diff('month', size.cohort,
                                    (select date_trunc('month', max(day)) from orders_daily))
                                    + 1))
                                    as k
                         from size join spend using (channel, cohort) where spend.spend > 0)
           select grid.channel, grid.cohort, grid.k, grid.customers, grid.cac,
                  sum(coalesce(m.revenue, 0)) over (partition by grid.channel, grid.cohort
                                                    order by grid.k) / grid.customers
                      as revenue_per_customer
           from grid left join m using (channel, cohort, k)
           order by all""",
    by=(), window="return",
)
UNMATCHED_SPEND = Kpi(
    name="unmatched_spend", label="Spend on channels without orders", unit="money", table=True,
    definition="Spend rows in the period whose channel never appears on an order (for example "
               "'facebook' in the ads export and 'paid_social' in the orders): their ROAS "
               "would be 0 by mistake. Map them to an order channel in the settings.",
    sql="""select {key} as key, channel, sum(spend) as spend, count(*) as rows
           from marketing_spend
           where day between $start and $end
             -- the orders' channels from their daily sums (thousands of rows, not millions)
             and channel not in (select distinct channel from orders_daily)
           group by all order by spend desc""",
    by=(),
)

KPIS = (SPEND, ATTRIBUTED_REVENUE, PAID_REVENUE, ROAS, MER, MER_INVERSE, CAC, CPC, CTR,
        PAYBACK, UNMATCHED_SPEND)


def payback_months(payback):
    """From the payback table: per channel and cohort, the first month in which revenue per
    customer reached the CAC (None: not yet)."""
    import pandas as pd

    rows = []
    for (channel, cohort), g in payback.groupby(["channel", "cohort"], sort=True):
        done = g[g["revenue_per_customer"] >= g["cac"]]
        rows.append({"channel": channel, "cohort": cohort, "customers": g["customers"].iat[0],
                     "cac": g["cac"].iat[0], "months_observed": len(g),
                     "payback_month": int(done["k"].iat[0]) if len(done) else None})
    return pd.DataFrame(rows, columns=["channel", "cohort", "customers", "cac",
                                       "months_observed", "payback_month"])


# Cards whose figure, under a channel filter, is the chosen channels' and not what the label
# says of the whole shop: both sides of CAC take the filter, and paid revenue counts those of
# the chosen channels that had spend. "Revenue of paid channels €0.00" under Email alone read
# as "Email sold nothing", where it had no ad spend.
FILTERED_LABELS = {"cac": "CAC of {}", "paid_revenue": "Revenue of {} with ad spend"}


def filtered_label(name: str, channels) -> str | None:
    """The label of KPI ``name`` under a filter on ``channels`` ("CAC of Email", "Revenue of
    Email with ad spend"); None when its own label says it."""
    if not channels or name not in FILTERED_LABELS:
        return None
    said = [channel_words(c) for c in channels]
    words = said[0] if len(said) == 1 else " and ".join(said) if len(said) == 2 else \
        f"the {len(said)} channels chosen"
    return FILTERED_LABELS[name].format(words)
