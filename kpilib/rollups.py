"""Rollups: what the KPIs read instead of recomputing it on every query.

Built at ingest from the stored tables, kept in the store beside them (Parquet, one file per
month where the rollup has a day) and committed with the upload that changed them.

* **Materialised views** (customer_first, customer_orders, sales_lines, inventory_daily,
  sku_info) hold exactly the rows their view would compute; when a store has none yet (written
  by an older version) the view is computed as before. KPIs read them by the view's name:
  nothing in a KPI changes.
* **Aggregates** (orders_daily, refunds_daily, customer_orders_daily, …) hold orders and
  refunds summed by day, channel, device and status / reason (customers' orders: by day,
  acquisition channel and previous order days). In the `rollup` schema they are exposed under
  the base views' names (`orders`, `valid_orders`, `customer_orders`, …) with the same
  columns, ``n`` being the number of rows summed (1 per row in the base views). A KPI
  declared with ``rollup=True`` is written with sums only (``sum(n)``, never ``count(*)``), so its one SQL text gives the same
  result on either; :func:`kpilib.kpi.run` reads the aggregates whenever the filters allow
  (no product category or search, no grouping finer than day × channel × device).

* **Monthly sums by SKU** (stock_monthly, sku_sales_monthly, sku_monthly) answer the stock
  page's per-SKU figures for a period's whole months; its first and last partial months are
  read day by day (kpilib/stock.py; the SQL reading them: kpilib/rollup_reads.py).

A rollup is stale when a stored table its SQL reads changes (kpilib.store.views.READS).
How much is rebuilt after an upload: only the changed months when the change is to the tables
whose months make the rollup's months (an orders upload → those months of orders_daily), else
the whole rollup (small, or depending on the whole history: first orders, carried-forward stock).
"""
from __future__ import annotations

from dataclasses import dataclass

from .rollup_reads import FREQUENCY, LOST
from .schema import TABLES


@dataclass(frozen=True)
class Rollup:
    name: str
    sql: str                   # over the derived views, computed (never over rollups)
    # The stored tables whose change makes it stale are those its SQL reads
    # (kpilib.store.views.READS).
    # A change to these alone rebuilds only the months changed (their rows of a month make
    # the rollup's month); a change to any other dependency rebuilds everything.
    by_month: frozenset[str] = frozenset()
    partitioned: bool = True   # one file per month of `month_of`
    # The date column whose month names the file. A rollup by another column than `day`
    # (customers by their first order's month) has months that are not its tables' months:
    # it is never read or rebuilt one month of orders at a time.
    month_of: str = "day"
    # Written in the order its SQL gives (by day), so that looking up a few days reads a few
    # row groups: one thread writes it (DuckDB's parallel writers interleave rows).
    ordered: bool = False
    # Running totals (:func:`cumulative`): a change to the by_month tables rebuilds every month
    # from the first one changed, with this SQL — the same rows as ``sql`` from the month
    # ``$since`` on, continued from the rollup's own stored rows of the month before
    # (``_earlier``) instead of summed again from the first month.
    since: str = ""


# customer_no: a number per customer, because counting distinct customers over integers is
# about twice as fast as over their ids. In customer-id order (RFM breaks ties by it) and
# CUSTOMER_NO_STEP apart: a customer who appears later is numbered between its neighbours, so
# the others keep theirs (Store's incremental build of the customer rollups).
CUSTOMER_NO_STEP = 1 << 32
# Each customer's first valid order by (time, order id), ranked with a window (the same SQL
# on Spark, which has no k-smallest aggregate). `{only}`: the incremental build restricts it
# to the customers an upload touched (CUSTOMERS_OF). Nothing in a row depends on the
# customer's later orders (their second order is customer_orders' row of rank 2): stored by
# the month of the first order, an appended month adds its new customers to its own month.
_CUSTOMER_FIRST = """
    with r as (select customer_id, order_id, ordered_at, channel,
                      row_number() over (partition by customer_id
                                         order by ordered_at, order_id) as rn
               from valid_orders where customer_id is not null{only})
    select customer_id, {number} as customer_no, order_id as first_order_id,
           ordered_at as first_ordered_at, cast(ordered_at as date) as first_day,
           channel as acquisition_channel
    from r where rn = 1"""
# The customers an upload touched: a temporary table `_touched(customer_id)` of the build.
CUSTOMERS_OF = " and customer_id in (select customer_id from _touched)"
CUSTOMER_FIRST = _CUSTOMER_FIRST.format(
    only="", number=f"row_number() over (order by customer_id) * {CUSTOMER_NO_STEP}")
# Numbered by the build (existing customers keep their number).
CUSTOMER_FIRST_OF = _CUSTOMER_FIRST.format(only=CUSTOMERS_OF, number="null::bigint")

# Each order's place in its customer's history, so that customer KPIs count and sum rows
# instead of grouping ~a million customers (kpilib/loyalty.py): prev_day / prev2_day, the days
# of the previous and second-previous valid orders; nth, its rank; cum_net, gross − discounts
# of the customer's orders up to this one; cum_refunded, the refunds on those orders (whenever
# made); prev_value, cum_net − cum_refunded of the previous order (for rfm_daily's rows of
# it). Nothing in a row depends on the customer's later orders (no next order day): a month
# appended leaves every earlier month's rows as they were, so an upload writes its own months
# only. The order after a row is the customer's row of rank nth + 1 (its prev_day is the row's
# day), which is how the RFM list finds a customer's last order up to a day.
_CUSTOMER_ORDERS = """
    select o.order_id, f.customer_no, o.day, f.acquisition_channel as channel, 1 as n,
           o.gross_sales, o.discounts,
           lag(o.day) over w as prev_day, lag(o.day, 2) over w as prev2_day,
           row_number() over w as nth,
           -- 18 digits (a customer's spend stays far below 10^16): sums over a million
           -- customers then run on 64-bit integers.
           (sum(o.gross_sales - o.discounts) over upto)::decimal(18, 2) as cum_net,
           (sum(coalesce(r.refunded, 0)) over upto)::decimal(18, 2) as cum_refunded,
           (sum(o.gross_sales - o.discounts - coalesce(r.refunded, 0)) over upto
            - (o.gross_sales - o.discounts - coalesce(r.refunded, 0)))::decimal(18, 2)
               as prev_value
    from valid_orders o join customer_first f using (customer_id)
    left join (select order_id, sum(amount) as refunded from valid_refunds group by all) r
      using (order_id){where}
    -- two windows: Spark takes no frame on lag
    window w as (partition by f.customer_no order by o.ordered_at, o.order_id),
           upto as (partition by f.customer_no order by o.ordered_at, o.order_id
                    rows between unbounded preceding and current row)"""

CUSTOMER_ORDERS = _CUSTOMER_ORDERS.format(where="")
CUSTOMER_ORDERS_OF = _CUSTOMER_ORDERS.format(where="\n    where" + CUSTOMERS_OF.removeprefix(" and"))
# The same rows for orders that all come after every stored one (a month appended), each
# customer's history continued from their last stored row (`_last_rows`: customer_no, day,
# prev_day, nth, cum_net, cum_refunded; none for a customer new to the store) instead of
# ranked and summed again over all their orders: a 1 M-row month then reads its own orders,
# not the ~3 M stored (Store's incremental build, kpilib/store/customers.py). k, lag1, lag2,
# net and refunded: the order's rank, previous days and running sums within the new orders.
CUSTOMER_ORDERS_CONTINUED = """
    with o as (select o.order_id, f.customer_no, o.day, o.ordered_at,
                      f.acquisition_channel as channel, o.gross_sales, o.discounts,
                      coalesce(r.refunded, 0) as refunded
               from valid_orders o join customer_first f using (customer_id)
               left join (select order_id, sum(amount) as refunded from valid_refunds
                          group by all) r using (order_id)
               where""" + CUSTOMERS_OF.removeprefix(" and") + """),
    k as (select *, row_number() over w as k, lag(day) over w as lag1,
                 lag(day, 2) over w as lag2,
                 sum(gross_sales - discounts) over upto as net,
                 sum(refunded) over upto as refunded_upto
          from o
          window w as (partition by customer_no order by ordered_at, order_id),
                 upto as (partition by customer_no order by ordered_at, order_id
                          rows between unbounded preceding and current row))
    select k.order_id, k.customer_no, k.day, k.channel, 1 as n, k.gross_sales, k.discounts,
           case when k.k = 1 then e.day else k.lag1 end as prev_day,
           case k.k when 1 then e.prev_day when 2 then e.day else k.lag2 end as prev2_day,
           coalesce(e.nth, 0) + k.k as nth,
           (coalesce(e.cum_net, 0) + k.net)::decimal(18, 2) as cum_net,
           (coalesce(e.cum_refunded, 0) + k.refunded_upto)::decimal(18, 2) as cum_refunded,
           (coalesce(e.cum_net - e.cum_refunded, 0) + k.net - k.refunded_upto
            - (k.gross_sales - k.discounts - k.refunded))::decimal(18, 2) as prev_value
    from k left join _last_rows e using (customer_no)"""

# The same counted by day, acquisition channel and previous two order days (a quarter of
# the rows): the customer counts of kpilib/loyalty.py need no more.
CUSTOMER_ORDERS_DAILY = """
    select day, channel, prev_day, prev2_day, sum(n) as n from customer_orders group by all"""

# Customers whose last order up to a day X is on day `order_day`, for RFM (kpilib/loyalty.py),
# as signed rows: each order counts +1 from its own day on, and −1 from the day of the
# customer's next order on (when the order stops being the last), with its rank, frequency
# score and net revenue so far. Summed over the rows with day ≤ X, by order_day, acquisition
# channel and frequency: the customers whose last order up to X is on that day, their orders
# and net revenue. A row's `day` is when it takes effect, so the rows an order causes lie in
# its own month (its +1, and its previous order's −1): an appended month adds rows to its
# month only. An order and its customer's next one on the same day cancel out (zero sums).
RFM_DAILY = f"""
    select day, order_day, channel, f, sum(customers)::bigint as customers,
           sum(orders)::bigint as orders, sum(revenue) as revenue
    from (select day, day as order_day, channel, {FREQUENCY} as f, 1 as customers,
                 nth as orders, cum_net - cum_refunded as revenue
          from customer_orders
          union all
          select day, prev_day, channel, {FREQUENCY.replace("nth", "(nth - 1)")}, -1,
                 -(nth - 1), -prev_value
          from customer_orders where prev_day is not null)
    group by all"""

# Whether cancelled orders count as sales (Shopify's convention, a store setting): a one-row
# table every connection creates from the settings (kpilib/store/connection.py).
CANCELLED_AS_SALES = "(select cancelled_as_sales from conventions)"

# Under Shopify's convention a cancelled order is a sale on its day, then a return of the
# whole order on the day it was cancelled (its order day when the export gives no date): the
# goods after discounts, the shipping and the tax, as Shopify's sales reports take it back.
# The refund rows stored for it are left out under either convention, so nothing counts twice.
_CANCELLATION = {"refund_id": "'cancelled-' || o.order_id", "order_id": "o.order_id",
                 "refunded_at": "coalesce(o.cancelled_at, o.ordered_at)",
                 "amount": "o.gross_sales - o.discounts", "shipping": "o.shipping",
                 "tax": "o.tax", "reason": "'cancelled'"}
# Every column of refunds, named: Spark puts a USING join's column first in `r.*`, and the
# two halves are united by position.
VALID_REFUNDS = f"""
    select {", ".join(f"r.{c.name}" for c in TABLES["refunds"].columns)}, r.day,
           coalesce(o.channel, 'unknown') as channel, 1 as n, o.day as order_day, f.customer_no
    from refunds r left join orders o using (order_id)
    left join customer_first f on f.customer_id = o.customer_id
    where o.status is distinct from 'cancelled'
    union all
    select {", ".join(f"{_CANCELLATION.get(c.name, f'cast(null as {c.type})')} as {c.name}"
                      for c in TABLES["refunds"].columns)},
           cast(coalesce(o.cancelled_at, o.ordered_at) as date) as day, o.channel, 1 as n,
           o.day as order_day, f.customer_no
    from orders o left join customer_first f on f.customer_id = o.customer_id
    where o.status = 'cancelled' and {CANCELLED_AS_SALES}"""

# Customers by the day and channel of their first valid order and how long until their second,
# in buckets (kpilib/loyalty.py, time to second order). A view (the rows, n = 1) and its
# daily sums.
SECOND_ORDERS = """create view second_orders as
    with d as (select f.first_day as day, f.acquisition_channel as channel,
                      date_diff('day', f.first_day, s.day) as days
               from customer_first f
               left join (select customer_no, day from customer_orders where nth = 2) s
                 using (customer_no))
    select day, channel, 1 as n,
           case when days is null then 'not yet' when days <= 7 then '0–7 days'
                when days <= 30 then '8–30 days' when days <= 60 then '31–60 days'
                when days <= 90 then '61–90 days' when days <= 180 then '91–180 days'
                when days <= 365 then '181–365 days' else 'over a year' end as bucket,
           coalesce(days, 100000) as sort
    from d"""
SECOND_ORDERS_DAILY = """
    select day, channel, bucket, min(sort) as sort, sum(n) as n from second_orders
    group by all"""

# New customers by the day and channel of their first valid order.
ACQUISITIONS = """
    select first_day as day, acquisition_channel as channel, count(*) as customers
    from customer_first group by all"""

# Customers active and their net revenue (refunds whenever made, by order date) per
# acquisition channel, first-order day and order month: cohorts and payback (a few 10 k rows).
COHORT_ORDERS = """
    with r as (select order_id, sum(amount) as refunded from valid_refunds group by all)
    select co.channel, f.first_day, date_trunc('month', co.day)::date as month,
           count(distinct co.customer_no) as active,
           sum(co.gross_sales - co.discounts - coalesce(r.refunded, 0)) as revenue
    from customer_orders co join customer_first f using (customer_no)
    left join r using (order_id)
    group by all"""

SALES_LINES = """
    select i.order_id, i.line, i.sku,
           coalesce(i.product_name, p.product_name, i.sku) as product_name,
           coalesce(i.category, p.category, 'uncategorised') as category,
           i.quantity, i.quantity * i.unit_price as line_value,
           o.discounts * (i.quantity * i.unit_price)
               / nullif(sum(i.quantity * i.unit_price) over (partition by i.order_id), 0)
               as discount_share,
           o.day, o.channel, o.device, o.customer_id
    from order_items i join valid_orders o using (order_id)
    left join products p using (sku)"""

REFUND_LINES = """
    with m as (
        select r.refund_id, r.order_id, r.day, r.channel, r.amount, r.reason,
               coalesce(l.sku, r.sku) as sku, l.category, l.line_value, l.day as order_day,
               sum(l.line_value) over (partition by r.refund_id) as base
        from valid_refunds r
        left join sales_lines l
          on l.order_id = r.order_id and (r.sku is null or r.sku = l.sku))
    select refund_id, order_id, day, order_day, channel, sku, reason,
           coalesce(category, 'uncategorised') as category,
           case when base > 0 then amount * line_value / base else amount end as amount
    from m"""

# Sales by product: each order's lines of a SKU with the refunds on them (whenever made),
# summed by SKU × category × channel × day of the order (kpilib/sales.py: top products and
# categories), then by month.
PRODUCT_DAILY = """
    with l as (select order_id, sku, channel, day, any_value(product_name) as product_name,
                      any_value(category) as category, sum(quantity) as units,
                      sum(line_value) as gross, sum(coalesce(discount_share, 0)) as discount
               from sales_lines group by order_id, sku, channel, day),
         r as (select order_id, sku, sum(amount) as refunded from refund_lines
               where order_day is not null group by all)
    select sku, day, channel, category, max(product_name) as product_name,
           sum(units) as units, sum(gross) as gross, sum(discount) as discount,
           sum(coalesce(r.refunded, 0)) as refunded
    from l left join r using (order_id, sku) group by all"""
PRODUCT_MONTHLY = """
    select sku, date_trunc('month', day)::date as day, channel, category,
           max(product_name) as product_name, sum(units) as units, sum(gross) as gross,
           sum(discount) as discount, sum(refunded) as refunded
    from product_daily group by all"""
# By category: a few rows a day, so any period is read day by day.
CATEGORY_DAILY = """
    select category, day, channel, sum(units) as units, sum(gross) as gross,
           sum(discount) as discount, sum(refunded) as refunded
    from product_daily group by all"""

INVENTORY_DAILY = """
    with b as (select sku, min(date) as first from inventory group by sku),
         g as (select sku, d::date as day   -- cast outside: Spark's explode nests in nothing
               from (select sku, unnest(generate_series(first, (select max(date) from inventory),
                                                        interval 1 day)) as d from b))
    select g.sku, g.day,
           last_value(i.on_hand ignore nulls) over (partition by g.sku order by g.day)
               as on_hand
    from g left join inventory i on i.sku = g.sku and i.date = g.day"""

ORDERS_DAILY = """
    with r as (select order_id, sum(amount) as refunded from valid_refunds group by order_id)
    select day, channel, device, status, count(*) as n,
           sum(gross_sales) as gross_sales, sum(discounts) as discounts,
           sum(shipping) as shipping, sum(tax) as tax, sum(tips) as tips,
           coalesce(sum(r.refunded), 0) as refunded, count(r.order_id) as refunded_orders,
           sum(shipped) as shipped, sum(shipped_1d) as shipped_1d,
           sum(shipped_2d) as shipped_2d, sum(shipped_5d) as shipped_5d, sum(guests) as guests
    from orders left join r using (order_id) group by all"""

# The same without the status (summed over the statuses that count: all but cancelled, or all
# under Shopify's convention): what nearly every sales KPI reads, a quarter of the rows and no
# string comparison per row.
VALID_ORDERS_DAILY = f"""
    select day, channel, device, sum(n) as n, sum(gross_sales) as gross_sales,
           sum(discounts) as discounts, sum(shipping) as shipping, sum(tax) as tax,
           sum(tips) as tips, sum(refunded) as refunded, sum(refunded_orders) as refunded_orders,
           sum(shipped) as shipped, sum(shipped_1d) as shipped_1d,
           sum(shipped_2d) as shipped_2d, sum(shipped_5d) as shipped_5d, sum(guests) as guests
    from orders_daily where status <> 'cancelled' or {CANCELLED_AS_SALES} group by all"""

# Shipped orders by how many hours they took: the fulfilment-time median from a histogram.
SHIPPING_DAILY = """
    select day, channel, device, hours, sum(n)::bigint as n from shipping_times group by all"""

# Units sold by day, channel and device (units per order without reading every line).
UNITS_DAILY = """
    select day, channel, device, sum(quantity) as quantity from sales_lines group by all"""

# SKU-days by category: stock-outs without reading every SKU's every day.
STOCK_DAILY = """
    select d.day, i.category, count(*) as n, count(*) filter (where d.on_hand <= 0) as stockouts
    from inventory_daily d join sku_info i using (sku) group by all"""

# SKU × month: the stock page's per-SKU figures over whole months (kpilib/stock.py).
STOCK_MONTHLY = """
    select sku, date_trunc('month', day)::date as day, count(*) as n,
           count(*) filter (where on_hand <= 0) as oos, count(*) filter (where on_hand > 0)
           as in_stock, max(day) as last_day
    from inventory_daily group by all"""

# Sales by SKU, day and channel; q_in_stock: the units sold on days the SKU was in stock (lost
# sales to stock-outs). Then by month.
SKU_SALES_DAILY = """
    select l.sku, l.day, l.channel,
           sum(l.quantity) as q, sum(l.line_value) as v,
           sum(l.line_value - coalesce(l.discount_share, 0)) as net,
           coalesce(sum(l.quantity) filter (where i.on_hand > 0), 0) as q_in_stock
    from sales_lines l left join inventory_daily i on i.sku = l.sku and i.day = l.day
    group by all"""
# last_sold: the month's last day with units sold (none: null), carried by sku_cum.
SKU_SALES_MONTHLY = """
    select sku, date_trunc('month', day)::date as day, channel, sum(q) as q, sum(v) as v,
           sum(net) as net, sum(q_in_stock) as q_in_stock,
           max(day) filter (where q > 0) as last_sold
    from sku_sales_daily group by all"""

# The same over all channels: what a period without a channel filter reads (a third the rows).
SKU_MONTHLY = """
    select sku, day, sum(q) as q, sum(v) as v, sum(net) as net, sum(q_in_stock) as q_in_stock,
           max(last_sold) as last_sold
    from sku_sales_monthly group by all"""

# SKU × day: running sums within each month of sales over all channels and of stock days, for
# every day of every month the SKU has stock or sales in. The sums over any run of days inside
# one month are then the difference of two rows per SKU, so the stock page's edge days (the
# last 30 days, say) cost two lookups instead of a month of rows (kpilib/stock.py). Beside
# them the day's stock (none before the SKU's first snapshot), read with the same lookups.
SKU_RUNNING = """
    with s as (select sku, day, sum(q) as q, sum(v) as v, sum(net) as net,
                      sum(q_in_stock) as q_in_stock
               from sku_sales_daily group by all),
    i as (select sku, day, on_hand, (on_hand <= 0)::int as oos, (on_hand > 0)::int as in_stock
          from inventory_daily),
    m as (select coalesce(i.sku, s.sku) as sku, coalesce(i.day, s.day) as day, s.q, s.v,
                 s.net, s.q_in_stock, (i.sku is not null)::int as n, i.oos, i.in_stock,
                 i.on_hand
          from i full join s using (sku, day)),
    grid as (select sku, d::date as day
             from (select sku, unnest(generate_series(month, last_day(month), interval 1 day))
                              as d
                   from (select distinct sku, date_trunc('month', day)::date as month
                         from m)))
    select g.sku, g.day,
           (sum(coalesce(m.q, 0)) over w)::bigint as q,
           (sum(coalesce(m.v, 0)) over w)::decimal(18, 2) as v,
           sum(coalesce(m.net, 0)) over w as net,
           (sum(coalesce(m.q_in_stock, 0)) over w)::bigint as q_in_stock,
           (sum(coalesce(m.n, 0)) over w)::int as n,
           (sum(coalesce(m.oos, 0)) over w)::int as oos,
           (sum(coalesce(m.in_stock, 0)) over w)::int as in_stock,
           m.on_hand
    from grid g left join m using (sku, day)
    window w as (partition by g.sku, date_trunc('month', g.day) order by g.day
                 rows unbounded preceding)
    order by g.day, g.sku"""


def cumulative(monthly: str, keys: str, measures: tuple[str, ...],
               latest: tuple[str, ...] = ()) -> str:
    """Running totals of a monthly rollup (``monthly``: SQL with ``keys``, ``day`` — the first of
    the month — and ``measures``), a row for every key and month from the key's first month to
    the last month of all: the sums over any run of whole months are then the difference of two
    rows per key (:func:`whole_months`), however many months the period spans. ``latest``:
    columns carried as their greatest value so far instead (a last day)."""
    cols = ", ".join([f"sum(coalesce(m.{c}, 0)) over w as {c}" for c in measures]
                     + [f"max(m.{c}) over w as {c}" for c in latest])
    return f"""
    with m as ({monthly}),
    grid as (select {keys}, d::date as day
             from (select k.{keys}, unnest(generate_series(k.first, l.last, interval 1 month))
                              as d
                   from (select {keys}, min(day) as first from m group by {keys}) k,
                        (select max(day) as last from m) l))
    select g.{keys}, g.day, {cols}
    from grid g left join m using ({keys}, day)
    window w as (partition by g.{keys} order by g.day rows unbounded preceding)
    order by g.day, g.{keys}"""


def cumulative_since(monthly: str, keys: str, measures: tuple[str, ...],
                     latest: tuple[str, ...] = ()) -> str:
    """:func:`cumulative`'s rows from the month ``$since`` on, each key's running totals
    continued from its row of the month before (``_earlier``, the stored rollup's): an upload
    of the latest month computes that month's rows, not two years of them again. No row when
    ``monthly`` has none from ``$since`` on (the last month of all is then before it)."""
    cols = ", ".join([f"coalesce(e.{c}, 0) + sum(coalesce(m.{c}, 0)) over w as {c}"
                      for c in measures]
                     + [f"greatest(e.{c}, max(m.{c}) over w) as {c}" for c in latest])
    return f"""
    with m as (select * from ({monthly}) where day >= $since),
    k as (select {keys}, min(day) as first from m group by {keys}
          union all
          select {keys}, $since from _earlier),
    grid as (select {keys}, d::date as day
             from (select k.{keys}, unnest(generate_series(min(k.first), l.last,
                                                           interval 1 month)) as d
                   from k, (select max(day) as last from m) l group by k.{keys}, l.last))
    select g.{keys}, g.day, {cols}
    from grid g left join m using ({keys}, day) left join _earlier e using ({keys})
    window w as (partition by g.{keys} order by g.day rows unbounded preceding)
    order by g.day, g.{keys}"""


# SKU × month: sales over all channels and stock days in one row (the stock page's per-SKU
# figures for whole months), and its running totals (sku_cum: whole months in two rows per
# SKU, kpilib/stock.py).
SKU_MEASURES = ("q", "v", "net", "q_in_stock", "n", "oos", "in_stock")
SKU_MONTH = """
    select sku, day, sum(q) as q, sum(v) as v, sum(net) as net, sum(q_in_stock) as q_in_stock,
           sum(n) as n, sum(oos) as oos, sum(in_stock) as in_stock, max(last_sold) as last_sold
    from (select sku, day, q, v, net, q_in_stock, 0 as n, 0 as oos, 0 as in_stock, last_sold
          from sku_monthly
          union all
          select sku, day, 0, 0, 0, 0, n, oos, in_stock, null from stock_monthly)
    group by all"""
# Beside the running totals, the last day units were sold up to each month's end: whether a
# SKU sold in the 90 days ending on a day is then its row of the month before that day's and
# the day's running total within its month (kpilib/stock.py), not a 90-day sum.
SKU_CUM = cumulative("select * from sku_month", "sku", SKU_MEASURES, latest=("last_sold",))
SKU_CUM_SINCE = cumulative_since("select * from sku_month", "sku", SKU_MEASURES,
                                 latest=("last_sold",))
# By month and category, over all channels (channel null) and for each channel on its own (that
# channel's sales, the SKU's stock days): the lost-revenue chart's whole months in a few rows,
# with no channel filter or with one channel (with two, per SKU: the formula is not a sum).
STOCK_LOST_MONTHLY = f"""
    select m.day, i.category, null::varchar as channel, sum({LOST}) as lost
    from sku_month m join sku_info i using (sku) group by all
    union all
    select m.day, i.category, m.channel, sum({LOST}) as lost
    from (select s.sku, s.day, s.channel, s.q, s.v, s.q_in_stock, d.oos, d.in_stock
          from sku_sales_monthly s join stock_monthly d using (sku, day)) m
    join sku_info i using (sku) group by all"""

# Sales by product over all channels, as running totals (top products over whole months),
# and each product's name and category (as its order lines give them).
PRODUCT_MEASURES = ("units", "gross", "discount", "refunded")
_PRODUCT_MONTHS = """
    select sku, day, sum(units) as units, sum(gross) as gross, sum(discount) as discount,
           sum(refunded) as refunded
    from product_monthly group by all"""
PRODUCT_CUM = cumulative(_PRODUCT_MONTHS, "sku", PRODUCT_MEASURES)
PRODUCT_CUM_SINCE = cumulative_since(_PRODUCT_MONTHS, "sku", PRODUCT_MEASURES)
# The name and category of the latest month (a product renamed shows its new name); the
# greatest of that month's, so that an incremental build and one from scratch agree.
PRODUCT_NAMES = """
    select sku, arg_max(product_name, (day, product_name)) as product_name,
           arg_max(category, (day, category)) as category
    from product_monthly group by sku"""

# The days stock snapshots were taken (how often the shop counts its stock).
SNAPSHOT_DAYS = "select date, count(*) as skus from inventory group by date"

SKU_INFO = """
    select s.sku, coalesce(p.product_name, l.product_name, s.sku) as product_name,
           coalesce(p.category, l.category, 'uncategorised') as category, p.unit_cost,
           coalesce(p.price, l.price) as price
    from (select sku from inventory union select sku from order_items
          union select sku from products) s
    left join products p on p.sku = s.sku
    left join (select sku, any_value(product_name) as product_name,
                      any_value(category) as category, max(unit_price) as price
               from order_items group by sku) l on l.sku = s.sku"""

REFUNDS_DAILY = """
    select day, channel, reason, count(*) as n, sum(amount) as amount,
           sum(shipping) as shipping, sum(tax) as tax
    from valid_refunds group by all"""

# In build order: a rollup is built from the fresh rollups before it (sales_lines before
# sku_sales_monthly), never from a stale one.
ROLLUPS = {r.name: r for r in (
    Rollup("customer_first", CUSTOMER_FIRST, month_of="first_day"),
    Rollup("valid_refunds", VALID_REFUNDS, partitioned=False),
    Rollup("customer_orders", CUSTOMER_ORDERS),
    Rollup("customer_orders_daily", CUSTOMER_ORDERS_DAILY),
    Rollup("rfm_daily", RFM_DAILY),
    Rollup("second_orders_daily", SECOND_ORDERS_DAILY, partitioned=False),
    Rollup("acquisitions", ACQUISITIONS, partitioned=False),
    Rollup("cohort_orders", COHORT_ORDERS, partitioned=False),
    Rollup("sales_lines", SALES_LINES, frozenset({"orders", "order_items"})),
    Rollup("refund_lines", REFUND_LINES, partitioned=False),
    Rollup("product_daily", PRODUCT_DAILY, frozenset({"orders", "order_items"})),
    Rollup("product_monthly", PRODUCT_MONTHLY, frozenset({"orders", "order_items"})),
    Rollup("category_daily", CATEGORY_DAILY, frozenset({"orders", "order_items"})),
    Rollup("inventory_daily", INVENTORY_DAILY),
    Rollup("snapshot_days", SNAPSHOT_DAYS, partitioned=False),
    Rollup("sku_info", SKU_INFO, partitioned=False),
    Rollup("orders_daily", ORDERS_DAILY, frozenset({"orders"})),
    Rollup("valid_orders_daily", VALID_ORDERS_DAILY, frozenset({"orders"})),
    Rollup("shipping_daily", SHIPPING_DAILY, frozenset({"orders"})),
    Rollup("units_daily", UNITS_DAILY, frozenset({"orders", "order_items"})),
    Rollup("refunds_daily", REFUNDS_DAILY),
    Rollup("stock_daily", STOCK_DAILY),
    Rollup("stock_monthly", STOCK_MONTHLY),
    Rollup("sku_sales_daily", SKU_SALES_DAILY, frozenset({"orders", "order_items"})),
    Rollup("sku_sales_monthly", SKU_SALES_MONTHLY, frozenset({"orders", "order_items"})),
    Rollup("sku_monthly", SKU_MONTHLY, frozenset({"orders", "order_items"})),
    Rollup("sku_running", SKU_RUNNING, frozenset({"orders", "order_items"}), ordered=True),
    Rollup("sku_month", SKU_MONTH, frozenset({"orders", "order_items"})),
    # By category of sku_info, which an order-lines upload may change for every month.
    Rollup("stock_lost_monthly", STOCK_LOST_MONTHLY, frozenset({"orders"})),
    Rollup("sku_cum", SKU_CUM, frozenset({"orders", "order_items"}), since=SKU_CUM_SINCE),
    Rollup("product_cum", PRODUCT_CUM, frozenset({"orders", "order_items"}),
           since=PRODUCT_CUM_SINCE),
    Rollup("product_names", PRODUCT_NAMES, partitioned=False),
)}

# The aggregates under the base views' names, for KPIs declared with rollup=True.
ROLLUP_VIEWS = (
    "create schema rollup",
    "create view rollup.orders as select * from orders_daily",
    "create view rollup.valid_orders as select * from valid_orders_daily",
    "create view rollup.sales_lines as select * from units_daily",
    "create view rollup.shipping_times as select * from shipping_daily",
    "create view rollup.second_orders as select * from second_orders_daily",
    "create view rollup.customer_orders as select * from customer_orders_daily",
    "create view rollup.valid_refunds as select * from refunds_daily",
    """create view rollup.order_returns as
       select day, channel, device, n, gross_sales, refunded, refunded_orders
       from valid_orders_daily""",
    # sku and product_name are empty: a SKU search never reads the rollups.
    """create view rollup.stock_days as select day, category, n, stockouts,
              null::varchar as sku, null::varchar as product_name from stock_daily""",
)
