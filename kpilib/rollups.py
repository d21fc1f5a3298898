"""Rollups: what the KPIs read instead of recomputing it on every query.

Built at ingest from the stored tables, kept in the store beside them (Parquet, one file per
month where the rollup has a day) and committed with the upload that changed them.

* **Materialised views** (customer_first, sales_lines, inventory_daily) hold exactly the rows
  their view would compute; when a store has none yet (written by an older version) the view is
  computed as before. KPIs read them by the view's name: nothing in a KPI changes.
* **Aggregates** (orders_daily, refunds_daily) hold orders and refunds summed by day, channel,
  device and status / reason. In the `rollup` schema they are exposed under the base
  views' names (`orders`, `valid_orders`, `valid_refunds`) with the same columns, ``n`` being the
  number of rows summed (1 per row in the base views). A KPI declared with ``rollup=True`` is
  written with sums only (``sum(n)``, never ``count(*)``), so its one SQL text gives the same
  result on either; :func:`kpilib.kpi.run` reads the aggregates whenever the filters allow
  (no product category or search, no grouping finer than day × channel × device).

How much is rebuilt after an upload: ``month`` rollups only the months of the changed tables,
``all`` the whole rollup (small, or depends on the whole history).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rollup:
    name: str
    sql: str                   # over the derived views, computed (never over rollups)
    depends: frozenset[str]    # stored tables whose change makes it stale
    rebuild: str               # "month": only the months changed; "all": everything
    partitioned: bool = True   # one file per month of `day`


CUSTOMER_FIRST = """
    select customer_id,
           arg_min(order_id, (ordered_at, order_id)) as first_order_id,
           min(ordered_at) as first_ordered_at,
           cast(min(ordered_at) as date) as first_day,
           arg_min(channel, (ordered_at, order_id)) as acquisition_channel
    from valid_orders where customer_id is not null
    group by customer_id"""

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
    select day, channel, device, status, count(*) as n,
           sum(gross_sales) as gross_sales, sum(discounts) as discounts,
           sum(shipping) as shipping, sum(tax) as tax
    from orders group by all"""

REFUNDS_DAILY = """
    select day, channel, reason, count(*) as n, sum(amount) as amount
    from valid_refunds group by all"""

ROLLUPS = {r.name: r for r in (
    Rollup("customer_first", CUSTOMER_FIRST, frozenset({"orders"}), "all", partitioned=False),
    Rollup("sales_lines", SALES_LINES, frozenset({"orders", "order_items", "products"}),
           "month"),
    Rollup("inventory_daily", INVENTORY_DAILY, frozenset({"inventory"}), "all"),
    Rollup("orders_daily", ORDERS_DAILY, frozenset({"orders"}), "month"),
    Rollup("refunds_daily", REFUNDS_DAILY, frozenset({"orders", "refunds"}), "all"),
)}
MATERIALISED = ("customer_first", "sales_lines", "inventory_daily")

# The aggregates under the base views' names, for KPIs declared with rollup=True.
ROLLUP_VIEWS = (
    "create schema rollup",
    "create view rollup.orders as select * from orders_daily",
    "create view rollup.valid_orders as select * from orders_daily where status <> 'cancelled'",
    "create view rollup.valid_refunds as select * from refunds_daily",
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
        # products are one partition ("all"): a rename reaches every month of sales lines.
        out[r.name] = None if r.rebuild == "all" or "all" in months else months
    return out
