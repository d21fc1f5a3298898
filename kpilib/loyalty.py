"""Customer KPIs. First orders come from the whole history (the `customer_first` view), never
from the filtered window; guest orders (no customer id) are left out; the channel filter selects
customers by acquisition channel (the channel of their first valid order)."""
from .dimensions import Measure
from .kpi import Kpi
from .measures import total
from .rollup_reads import FREQUENCY

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

# customer_orders has each order's previous and second-previous order day of the same
# customer (whole history). In a group (the period, or each day / week / month of it) a
# customer's first order there is the one whose previous order is before the group's start or
# does not exist: one row per customer, so counting those rows counts the customers without
# grouping by customer. It is their first order ever (a new customer) when there is no previous
# one, and a returning customer's otherwise; a customer's second order in the group is the one
# whose previous order is in the group and the one before that is not.
FIRST_THERE = "(prev_day is null or prev_day < {group_start})"
RETURNING_THERE = "prev_day < {group_start}"
SECOND_THERE = ("(prev_day >= {group_start} "
                "and (prev2_day is null or prev2_day < {group_start}))")


# Rows counted as sums of n (1 per order; orders per day, channel and previous two order days
# in the rollup), so the same SQL reads either.
def _count(where: str | None = None) -> str:
    return f"coalesce(sum(n) filter (where {where}), 0)" if where else "sum(n)"


CUSTOMERS = Kpi(
    name="customers", label="Customers", unit="count",
    definition="Distinct identified customers with a valid order in the period (guest orders "
               "excluded). The channel filter selects customers by acquisition channel.",
    sql=f"""select {{key}} as key, {_count(FIRST_THERE)} as value
            from customer_orders {WHERE} group by all""",
    rollup=True,
)
NEW_CUSTOMERS = total(
    "new_customers", "New customers", "count",
    "Customers whose first valid order ever (whole history, not just the period) was "
    "placed in the period.",
    # acquisitions: customers by the day and channel of their first valid order (a rollup).
    Measure("acquisitions", "customers"), history=True)
RETURNING_CUSTOMERS = Kpi(
    name="returning_customers", label="Returning customers", unit="count",
    definition="Customers with a valid order in the period who had ordered before it (Shopify's "
               "'returning customer').",
    sql=f"""select {{key}} as key, {_count(RETURNING_THERE)} as value
            from customer_orders {WHERE} group by all""",
    rollup=True, history=True,
)
RETURNING_CUSTOMER_RATE = Kpi(
    name="returning_customer_rate", label="Returning-customer rate", unit="ratio",
    definition="Returning customers ÷ customers in the period: the share of the period's "
               "customers who had ordered before it (Shopify's definition).",
    sql=f"""select {{key}} as key, {_count(RETURNING_THERE)} as numerator,
                   {_count(FIRST_THERE)} as denominator,
                   {_count(RETURNING_THERE)}
                       / nullif({_count(FIRST_THERE)}, 0) as value
            from customer_orders {WHERE} group by all""",
    ratio=True, empty=None, rollup=True, history=True,
)

GUEST_ORDERS = total(
    "guest_orders", "Guest orders", "count",
    "Valid orders without a customer id (guest checkouts): counted in order KPIs, "
    "left out of customer KPIs.", Measure("valid_orders", "guests"))

REPEAT_PURCHASE_RATE = Kpi(
    name="repeat_purchase_rate", label="Repeat-purchase rate", unit="ratio",
    definition="Customers with two or more valid orders in the period ÷ customers in the period "
               "(unlike the returning-customer rate, orders before the period do not count).",
    sql=f"""select {{key}} as key, {_count(SECOND_THERE)} as numerator,
                   {_count(FIRST_THERE)} as denominator,
                   {_count(SECOND_THERE)}
                       / nullif({_count(FIRST_THERE)}, 0) as value
            from customer_orders {WHERE} group by all""",
    ratio=True, empty=None, rollup=True,
)
ORDERS_PER_CUSTOMER = Kpi(
    name="orders_per_customer", label="Orders per customer", unit="decimal",
    definition="Valid orders of identified customers in the period ÷ those customers (guest "
               "orders excluded).",
    sql=f"""select {{key}} as key, {_count()} as numerator,
                   {_count(FIRST_THERE)} as denominator,
                   {_count()} / nullif({_count(FIRST_THERE)}, 0) as value
            from customer_orders {WHERE} group by all""",
    ratio=True, empty=None, rollup=True,
)

# Cohorts: customers whose first valid order ever falls in the period, grouped by that month;
# the channel filter (and split) is their acquisition channel. Months run to the latest order.
# cohort_orders (a rollup) holds, per acquisition channel, first-order day and order month,
# the customers active and their net revenue: a customer has one of each, so sums are exact.
_COHORTS = """
    with c as (select channel, date_trunc('month', first_day)::date as cohort,
                      date_diff('month', date_trunc('month', first_day)::date, month) as k,
                      active, revenue
               from cohort_orders
               where first_day between $start and $end and in_filter(channel, $channels)),
         size as (select {key} as key, date_trunc('month', day)::date as cohort,
                         sum(customers)::bigint as customers
                  from acquisitions
                  where day between $start and $end and in_filter(channel, $channels)
                  group by all),
         o as (select {key} as key, cohort, k, sum(active)::bigint as active,
                      sum(revenue) as revenue
               from c group by all)"""
COHORT_RETENTION = Kpi(
    name="cohort_retention", label="Cohort retention", unit="ratio", table=True,
    definition="Customers grouped by the month of their first valid order (the cohort); cell "
               "(cohort, k) = share of the cohort with a valid order in the k-th month after "
               "it (month 0 is 100 %).",
    sql=_COHORTS + """
        select o.key, o.cohort, o.k, o.active, size.customers as cohort_size,
               o.active / size.customers as value
        from o join size using (key, cohort) order by all""",
    by=("channel",), window="month",
)
COHORT_LTV = Kpi(
    name="cohort_ltv", label="Cohort lifetime value", unit="money", table=True,
    definition="Cell (cohort, k) = cumulative net revenue (gross − discounts − refunds, by "
               "order date) of the cohort's valid orders up to the k-th month after the first "
               "order ÷ customers in the cohort.",
    sql=_COHORTS + """
        select o.key, o.cohort, o.k, size.customers as cohort_size,
               sum(o.revenue) over (partition by o.key, o.cohort order by o.k)
                   / size.customers as value
        from o join size using (key, cohort) order by all""",
    by=("channel",), window="return",
)
DAYS_TO_SECOND_ORDER = Kpi(
    name="days_to_second_order", label="Time to second order", unit="days", table=True,
    definition="For customers whose first valid order falls in the period, the days between "
               "their first and second valid orders (whole history), in buckets; customers "
               "without a second order are counted as 'not yet'.",
    # second_orders: each customer's first-order day and acquisition channel, with the bucket
    # of days to the second order (a view of customer_first; rollups.py).
    sql=f"""select {{key}} as key, bucket, min(sort) as sort, sum(n)::bigint as customers
            from second_orders {WHERE} group by all order by sort""",
    by=("channel",), rollup=True,
)

# RFM as of the end of the period. Recency scored in quintiles (ties in customer-id order, which
# customer_no follows); frequency scored on fixed order counts (most customers order once, so
# quintiles of frequency would be meaningless).
def _tile(i: str) -> str:
    """ntile(5) of the ``i``-th row (0-based) of ``total`` rows: the first ``rem`` = total % 5
    tiles have ``q`` + 1 = total // 5 + 1 rows, the others ``q``."""
    i = f"({i})"
    return (f"case when {i} < rem * (q + 1) then {i} // (q + 1) + 1 "
            f"else ({i} - rem * (q + 1)) // greatest(q, 1) + rem + 1 end")


_SEGMENT = """case
    when r >= 4 and f >= 4 then 'Champions'
    when r >= 2 and f >= 3 then 'Loyal'
    when r >= 4 and f = 1 then 'New'
    when r >= 3 and f <= 2 then 'Promising'
    when r = 1 and f >= 4 then 'Cannot lose them'
    when r <= 2 and f >= 3 then 'At risk'
    when r = 2 and f <= 2 then 'About to sleep'
    else 'Lost' end"""


def _no_later(row: str, nth: str) -> str:
    """Whether the order ``row`` (an alias; ``nth``, its rank) is its customer's last up to the
    end: the customer's next order (rank nth + 1, on or after its day) is not by the end.
    Checked on the few rows that need it where possible: DuckDB checks it with a join against
    every row checked (0.4 s over the two million orders of a large shop)."""
    return f"""not exists (select 1 from customer_orders nx
                       where nx.customer_no = {row}.customer_no and nx.nth = {nth} + 1
                         and nx.day <= $end)"""


# Refunds made after the end on orders up to it (counted in cum_refunded).
_LATE = """select customer_no, sum(amount) as amount from valid_refunds
           where day > $end and order_day <= $end and customer_no is not null group by all"""
# Recency quintiles without sorting every customer: customers counted per recency day give
# where each tile starts; a day whose customers all fall in one tile is scored whole, and only
# the few days a tile boundary cuts are ranked by customer (that rank breaks the ties, as
# ntile(5) over (order by recency_days, customer_no) would). Below: where each tile starts,
# from the customers per recency day (`days`), and the tiles of each day's first and last
# customer.
_TILES = f"""
        select recency_days, before, q, rem, {_tile("before")} as first_tile,
               {_tile("before + cnt - 1")} as last_tile
        from (select *, total // 5 as q, total % 5 as rem
              from (select recency_days, cnt,
                           sum(cnt) over (order by recency_days rows unbounded preceding) - cnt
                               as before,
                           sum(cnt) over () as total
                    from days))"""
_RFM = f"""
    with last as (   -- each customer's last valid order up to the end: one row per customer
        select customer_no, channel, date_diff('day', day, $end) as recency_days,
               nth as orders, cum_net - cum_refunded as revenue
        -- every customer's: against the next orders by the end, one join
        from customer_orders o
        anti join (select customer_no, nth - 1 as nth from customer_orders
                   where day <= $end and nth > 1) nx using (customer_no, nth)
        where day <= $end and in_filter(channel, $channels)),
    late as ({_LATE}),
    base as materialized (
        select l.customer_no, l.channel, l.recency_days, l.orders,
               l.revenue + coalesce(late.amount, 0) as revenue,
               {FREQUENCY.replace("nth", "orders")} as f
        from last l left join late using (customer_no)),
    days as (select recency_days, count(*) as cnt from base group by all),
    tiles as ({_TILES}),
    scored as (
        select b.*, 6 - t.first_tile as r
        from base b join tiles t using (recency_days) where t.first_tile = t.last_tile
        union all
        select b.*, 6 - {_tile("t.before + row_number() over (partition by b.recency_days "
                               "order by b.customer_no) - 1")} as r
        from base b join tiles t using (recency_days) where t.first_tile <> t.last_tile),
    seg as (select *, {_SEGMENT} as segment from scored)"""
RFM_SEGMENTS = Kpi(
    name="rfm_segments", label="RFM segments", unit="count", table=True,
    definition="Customers as of the end of the period, by recency (quintiles of days since "
               "their last valid order, 5 = most recent) and frequency (1, 2, 3, 4–5, 6+ "
               "valid orders): Champions (R≥4, F≥4), Loyal (R≥2, F≥3), New (R≥4, one order), "
               "Promising (R≥3, ≤2 orders), Cannot lose them (R=1, F≥4), At risk (R≤2, F≥3), "
               "About to sleep (R=2, ≤2 orders), Lost (the rest); revenue net of refunds.",
    # Customers counted per recency day and frequency (a few thousand groups, summed from
    # rfm_daily): the days a tile boundary cuts are ranked customer by customer, the others
    # scored whole; the per-customer scoring of rfm_customers gives the same segments and
    # sums (tests/test_oracle.py).
    sql=f"""
    with late as ({_LATE}),
    -- Each order up to the end, as if it were its customer's last (checked where read).
    last as not materialized (
        select o.customer_no, o.channel, o.day, date_diff('day', o.day, $end) as recency_days,
               o.nth as orders,
               o.cum_net - o.cum_refunded + coalesce(x.amount, 0) as revenue,
               {FREQUENCY.replace("nth", "o.nth")} as f
        from customer_orders o left join late x using (customer_no)
        where o.day <= $end and in_filter(o.channel, $channels)),
    -- Customers by the day of their last order up to the end, from rfm_daily's signed rows
    -- in effect by then, plus the late refunds on them. A group whose rows cancel out holds
    -- no customer (their later orders are all by the end).
    grp as (
        select channel, date_diff('day', order_day, $end) as recency_days, f, customers,
               orders, revenue
        from rfm_daily
        where day <= $end and in_filter(channel, $channels)
        union all
        select l.channel, l.recency_days, l.f, 0, 0, x.amount
        from last l join late x using (customer_no) where {_no_later("l", "l.orders")}),
    agg as (select {{key}} as key, recency_days, f, sum(customers) as customers,
                   sum(revenue) as revenue, sum(orders) as orders
            from grp group by all having sum(customers) > 0),
    days as (select recency_days, sum(customers) as cnt from agg group by all),
    tiles as ({_TILES}),
    scored as (
        select a.key, 6 - t.first_tile as r, a.f, a.customers, a.revenue, a.orders,
               a.recency_days * a.customers as recency
        from agg a join tiles t using (recency_days) where t.first_tile = t.last_tile
        union all
        select {{key}}, 6 - {_tile("c.before + row_number() over (partition by c.recency_days "
                                   "order by c.customer_no) - 1")},
               c.f, 1, c.revenue, c.orders, c.recency_days
        -- joined on the order day, not the recency computed from it: the few days' rows are
        -- then picked in the scan instead of computing every customer's recency
        from (select l.*, t.before, t.q, t.rem
              from last l join (select *, $end - recency_days::int as day from tiles
                                where first_tile <> last_tile) t using (day)
              where {_no_later("l", "l.orders")}) c)
    select key, {_SEGMENT} as segment, sum(customers)::bigint as customers,
           sum(revenue) as revenue, sum(orders) / sum(customers) as orders_per_customer,
           sum(recency) / sum(customers) as avg_recency_days
    from scored group by all order by revenue desc""",
    by=("channel",),
)
RFM_CUSTOMERS = Kpi(
    name="rfm_customers", label="RFM customer list", unit="count", table=True,
    definition="Every customer with their RFM segment, recency, orders and net revenue as of "
               "the end of the period (for an e-mail campaign export).",
    sql=_RFM + """
        select {key} as key, f.customer_id, segment, channel as acquisition_channel,
               recency_days, orders, revenue
        from seg join customer_first f using (customer_no)
        order by segment, revenue desc, f.customer_id""",
    by=("channel",),
)

KPIS = (CUSTOMERS, NEW_CUSTOMERS, RETURNING_CUSTOMERS, RETURNING_CUSTOMER_RATE,
        REPEAT_PURCHASE_RATE, ORDERS_PER_CUSTOMER, GUEST_ORDERS, COHORT_RETENTION, COHORT_LTV,
        DAYS_TO_SECOND_ORDER, RFM_SEGMENTS, RFM_CUSTOMERS)
