"""Customer KPIs. First orders come from the whole history (the `customer_first` view), never
from the filtered window; guest orders (no customer id) are left out; the channel filter selects
customers by acquisition channel (the channel of their first valid order)."""
from .kpi import Kpi

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

# The period's customers per group, counted once for the five KPIs that read them (Kpi.base):
# all of them, the returning ones (first order ever before the period), those with two or more
# orders in it, and their orders.
CUSTOMERS_BASE = f"""
    select key, count(*) as customers, count(*) filter (where not has_first) as returners,
           count(*) filter (where orders >= 2) as repeaters, sum(orders) as orders
    from (select {{key}} as key, customer_no, bool_or(is_first) as has_first,
                 count(*) as orders
          from customer_orders {WHERE} group by all)
    group by key"""

CUSTOMERS = Kpi(
    name="customers", label="Customers", unit="count",
    definition="Distinct identified customers with a valid order in the period (guest orders "
               "excluded). The channel filter selects customers by acquisition channel.",
    base=CUSTOMERS_BASE, sql="select key, customers as value from base",
)
NEW_CUSTOMERS = Kpi(
    name="new_customers", label="New customers", unit="count",
    definition="Customers whose first valid order ever (whole history, not just the period) was "
               "placed in the period.",
    # Each customer's first valid order is one row of customer_first: no need to read orders.
    sql=f"""select {{key}} as key, count(*) as value
            from (select first_day as day, acquisition_channel as channel from customer_first)
            {WHERE} group by all""",
)
RETURNING_CUSTOMERS = Kpi(
    name="returning_customers", label="Returning customers", unit="count",
    definition="Customers with a valid order in the period who had ordered before it (Shopify's "
               "'returning customer').",
    base=CUSTOMERS_BASE,
    sql="select key, returners as value from base",
)
RETURNING_CUSTOMER_RATE = Kpi(
    name="returning_customer_rate", label="Returning-customer rate", unit="ratio",
    definition="Returning customers ÷ customers in the period: the share of the period's "
               "customers who had ordered before it (Shopify's definition).",
    base=CUSTOMERS_BASE,
    sql="""select key, returners as numerator, customers as denominator,
                  returners / nullif(customers, 0) as value from base""",
    ratio=True, empty=None,
)

GUEST_ORDERS = Kpi(
    name="guest_orders", label="Guest orders", unit="count",
    definition="Valid orders without a customer id (guest checkouts): counted in order KPIs, "
               "left out of customer KPIs.",
    sql=f"""select {{key}} as key, count(*) as value from valid_orders {WHERE}
            and customer_id is null group by all""",
)

REPEAT_PURCHASE_RATE = Kpi(
    name="repeat_purchase_rate", label="Repeat-purchase rate", unit="ratio",
    definition="Customers with two or more valid orders in the period ÷ customers in the period "
               "(unlike the returning-customer rate, orders before the period do not count).",
    base=CUSTOMERS_BASE,
    sql="""select key, repeaters as numerator, customers as denominator,
                  repeaters / nullif(customers, 0) as value from base""",
    ratio=True, empty=None,
)
ORDERS_PER_CUSTOMER = Kpi(
    name="orders_per_customer", label="Orders per customer", unit="decimal",
    definition="Valid orders of identified customers in the period ÷ those customers (guest "
               "orders excluded).",
    base=CUSTOMERS_BASE,
    sql="""select key, orders as numerator, customers as denominator,
                  orders / nullif(customers, 0) as value from base""",
    ratio=True, empty=None,
)

# Cohorts: customers whose first valid order ever falls in the period, grouped by that month;
# the channel filter (and split) is their acquisition channel. Months run to the latest order.
_COHORTS = """
    with c as (select customer_no, date_trunc('month', first_day)::date as cohort,
                      acquisition_channel as channel
               from customer_first
               where first_day between $start and $end
                 and in_filter(acquisition_channel, $channels)),
         size as (select {key} as key, cohort, count(*) as customers from c group by all),
         o as (select c.customer_no, c.cohort, c.channel,
                      date_diff('month', c.cohort, date_trunc('month', co.day)::date) as k,
                      co.order_id, co.gross_sales - co.discounts as amount
               from c join customer_orders co using (customer_no))"""
COHORT_RETENTION = Kpi(
    name="cohort_retention", label="Cohort retention", unit="ratio", table=True,
    definition="Customers grouped by the month of their first valid order (the cohort); cell "
               "(cohort, k) = share of the cohort with a valid order in the k-th month after "
               "it (month 0 is 100 %).",
    sql=_COHORTS + """
        select {key} as key, cohort, k, count(distinct customer_no) as active,
               any_value(size.customers) as cohort_size,
               count(distinct customer_no) / any_value(size.customers) as value
        from o join size using (cohort) where size.key = {key}
        group by all order by all""",
    by=("channel",),
)
COHORT_LTV = Kpi(
    name="cohort_ltv", label="Cohort lifetime value", unit="money", table=True,
    definition="Cell (cohort, k) = cumulative net revenue (gross − discounts − refunds, by "
               "order date) of the cohort's valid orders up to the k-th month after the first "
               "order ÷ customers in the cohort.",
    sql=_COHORTS + """,
         r as (select order_id, sum(amount) as refunded from valid_refunds group by all),
         m as (select {key} as key, cohort, k, sum(amount - coalesce(refunded, 0)) as revenue
               from o left join r using (order_id) group by all)
        select m.key, m.cohort, m.k, size.customers as cohort_size,
               sum(m.revenue) over (partition by m.key, m.cohort order by m.k)
                   / size.customers as value
        from m join size on size.key = m.key and size.cohort = m.cohort
        order by all""",
    by=("channel",),
)
DAYS_TO_SECOND_ORDER = Kpi(
    name="days_to_second_order", label="Time to second order", unit="days", table=True,
    definition="For customers whose first valid order falls in the period, the days between "
               "their first and second valid orders (whole history), in buckets; customers "
               "without a second order are counted as 'not yet'.",
    # The second order's time is kept in customer_first: no need to read the orders.
    sql="""with d as (select acquisition_channel as channel,
                             date_diff('day', first_ordered_at, second_ordered_at) as days
                      from customer_first
                      where first_day between $start and $end
                        and in_filter(acquisition_channel, $channels))
           select {key} as key,
                  case when days is null then 'not yet' when days <= 7 then '0–7 days'
                       when days <= 30 then '8–30 days' when days <= 60 then '31–60 days'
                       when days <= 90 then '61–90 days' when days <= 180 then '91–180 days'
                       when days <= 365 then '181–365 days' else 'over a year' end as bucket,
                  min(coalesce(days, 100000)) as sort, count(*) as customers
           from d group by all order by sort""",
    by=("channel",),
)

# RFM as of the end of the period. Recency scored in quintiles; frequency scored on fixed
# order counts (most customers order once, so quintiles of frequency would be meaningless).
_RFM = """
    with base as (
        select customer_no, any_value(customer_id) as customer_id,
               any_value(channel) as channel,
               date_diff('day', max(day), $end) as recency_days, count(*) as orders,
               sum(gross_sales - discounts) - coalesce(sum(refunded), 0) as revenue
        from customer_orders
        left join (select order_id, sum(amount) as refunded from valid_refunds
                   where day <= $end group by all) using (order_id)
        where day <= $end and in_filter(channel, $channels)
        group by customer_no),
    scored as (
        select *, 6 - ntile(5) over (order by recency_days) as r,
               case when orders >= 6 then 5 when orders >= 4 then 4 else orders end as f
        from base),
    seg as (
        select *, case
            when r >= 4 and f >= 4 then 'Champions'
            when r >= 2 and f >= 3 then 'Loyal'
            when r >= 4 and f = 1 then 'New'
            when r >= 3 and f <= 2 then 'Promising'
            when r = 1 and f >= 4 then 'Cannot lose them'
            when r <= 2 and f >= 3 then 'At risk'
            when r = 2 and f <= 2 then 'About to sleep'
            else 'Lost' end as segment
        from scored)"""
RFM_SEGMENTS = Kpi(
    name="rfm_segments", label="RFM segments", unit="count", table=True,
    definition="Customers as of the end of the period, by recency (quintiles of days since "
               "their last valid order, 5 = most recent) and frequency (1, 2, 3, 4–5, 6+ "
               "valid orders): Champions (R≥4, F≥4), Loyal (R≥2, F≥3), New (R≥4, one order), "
               "Promising (R≥3, ≤2 orders), Cannot lose them (R=1, F≥4), At risk (R≤2, F≥3), "
               "About to sleep (R=2, ≤2 orders), Lost (the rest); revenue net of refunds.",
    sql=_RFM + """
        select {key} as key, segment, count(*) as customers, sum(revenue) as revenue,
               avg(orders) as orders_per_customer, avg(recency_days) as avg_recency_days
        from seg group by all order by revenue desc""",
    by=("channel",),
)
RFM_CUSTOMERS = Kpi(
    name="rfm_customers", label="RFM customer list", unit="count", table=True,
    definition="Every customer with their RFM segment, recency, orders and net revenue as of "
               "the end of the period (for an e-mail campaign export).",
    sql=_RFM + """
        select {key} as key, customer_id, segment, channel as acquisition_channel,
               recency_days, orders, revenue
        from seg order by segment, revenue desc""",
    by=("channel",),
)

KPIS = (CUSTOMERS, NEW_CUSTOMERS, RETURNING_CUSTOMERS, RETURNING_CUSTOMER_RATE,
        REPEAT_PURCHASE_RATE, ORDERS_PER_CUSTOMER, GUEST_ORDERS, COHORT_RETENTION, COHORT_LTV,
        DAYS_TO_SECOND_ORDER, RFM_SEGMENTS, RFM_CUSTOMERS)
