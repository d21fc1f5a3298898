"""Rollups: what the KPIs read instead of recomputing it on every query.

Built at ingest from the stored tables, kept in the store beside them (Parquet, one file per
month where the rollup has a day) and committed with the upload that changed them.

* **Materialised views** (customer_first, customer_orders, sales_lines, inventory_daily) hold exactly the rows
  their view would compute; when a store has none yet (written by an older version) the view is
  computed as before. KPIs read them by the view's name: nothing in a KPI changes.
* **Aggregates** (orders_daily, refunds_daily) hold orders and refunds summed by day, channel,
  device and status / reason. In the `rollup` schema they are exposed under the base
  views' names (`orders`, `valid_orders`, `valid_refunds`) with the same columns, ``n`` being the
  number of rows summed (1 per row in the base views). A KPI declared with ``rollup=True`` is
  written with sums only (``sum(n)``, never ``count(*)``), so its one SQL text gives the same
  result on either; :func:`kpilib.kpi.run` reads the aggregates whenever the filters allow
  (no product category or search, no grouping finer than day × channel × device).

How much is rebuilt after an upload: only the changed months when the change is to the tables
whose months make the rollup's months (an orders upload → those months of orders_daily), else
the whole rollup (small, or depending on the whole history: first orders, carried-forward stock).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rollup:
    name: str
    sql: str                   # over the derived views, computed (never over rollups)
    depends: frozenset[str]    # stored tables whose change makes it stale
    # A change to these alone rebuilds only the months changed (their rows of a month make
    # the rollup's month); a change to any other dependency rebuilds everything.
    by_month: frozenset[str] = frozenset()
    partitioned: bool = True   # one file per month of `day`


CUSTOMER_FIRST = """
    select customer_id,
           arg_min(order_id, (ordered_at, order_id)) as first_order_id,
           min(ordered_at) as first_ordered_at,
           cast(min(ordered_at) as date) as first_day,
           arg_min(channel, (ordered_at, order_id)) as acquisition_channel
    from valid_orders where customer_id is not null
    group by customer_id"""

CUSTOMER_ORDERS = """
    select o.order_id, o.customer_id, o.ordered_at, o.day, o.channel as order_channel,
           f.acquisition_channel as channel, o.order_id = f.first_order_id as is_first,
           o.gross_sales, o.discounts
    from valid_orders o join customer_first f using (customer_id)"""

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

INVENTORY_DAILY = """
    with b as (select sku, min(date) as first from inventory group by sku),
         g as (select sku, unnest(generate_series(first, (select max(date) from inventory),
                                                   interval 1 day))::date as day from b)
    select g.sku, g.day,
           last_value(i.on_hand ignore nulls) over (partition by g.sku order by g.day)
               as on_hand
    from g left join inventory i on i.sku = g.sku and i.date = g.day"""

ORDERS_DAILY = """
    with r as (select order_id, sum(amount) as refunded from valid_refunds group by order_id)
    select day, channel, device, status, count(*) as n,
           sum(gross_sales) as gross_sales, sum(discounts) as discounts,
           sum(shipping) as shipping, sum(tax) as tax,
           coalesce(sum(r.refunded), 0) as refunded, count(r.order_id) as refunded_orders
    from orders left join r using (order_id) group by all"""

# SKU-days by category: stock-outs without reading every SKU's every day.
STOCK_DAILY = """
    select d.day, i.category, count(*) as n, count(*) filter (where d.on_hand <= 0) as stockouts
    from inventory_daily d join sku_info i using (sku) group by all"""

REFUNDS_DAILY = """
    select day, channel, reason, count(*) as n, sum(amount) as amount
    from valid_refunds group by all"""

ROLLUPS = {r.name: r for r in (
    Rollup("customer_first", CUSTOMER_FIRST, frozenset({"orders"}), partitioned=False),
    Rollup("customer_orders", CUSTOMER_ORDERS, frozenset({"orders"})),
    Rollup("sales_lines", SALES_LINES, frozenset({"orders", "order_items", "products"}),
           frozenset({"orders", "order_items"})),
    Rollup("inventory_daily", INVENTORY_DAILY, frozenset({"inventory"})),
    Rollup("orders_daily", ORDERS_DAILY, frozenset({"orders", "refunds"}),
           frozenset({"orders"})),
    Rollup("refunds_daily", REFUNDS_DAILY, frozenset({"orders", "refunds"})),
    Rollup("stock_daily", STOCK_DAILY, frozenset({"inventory", "products", "order_items"})),
)}
MATERIALISED = ("customer_first", "sales_lines", "inventory_daily")

# The aggregates under the base views' names, for KPIs declared with rollup=True.
ROLLUP_VIEWS = (
    "create schema rollup",
    "create view rollup.orders as select * from orders_daily",
    "create view rollup.valid_orders as select * from orders_daily where status <> 'cancelled'",
    "create view rollup.valid_refunds as select * from refunds_daily",
    """create view rollup.order_returns as
       select day, channel, device, n, gross_sales, refunded, refunded_orders
       from orders_daily where status <> 'cancelled'""",
    # sku and product_name are empty: a SKU search never reads the rollups.
    """create view rollup.stock_days as select day, category, n, stockouts,
              null::varchar as sku, null::varchar as product_name from stock_daily""",
)


def stale(changed: dict[str, set[str]]) -> dict[str, set[str] | None]:
    """Which rollups an upload makes stale: name → the months to rebuild (None: all of it).
    ``changed`` maps each stored table that changed to its changed months."""
    out: dict[str, set[str] | None] = {}
    for r in ROLLUPS.values():
        touched = [t for t in r.depends if t in changed]
        if not touched:
            continue
        months: set[str] = set().union(*(changed[t] for t in touched))
        by_month = set(touched) <= r.by_month and "all" not in months
        out[r.name] = months if by_month else None
    return out
