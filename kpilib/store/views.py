"""The business views every connection creates over the stored tables (their SQL), and what
each view, macro and rollup reads: for cache keys, the connections that need only some, and
the definition a stored rollup was built under."""
from __future__ import annotations

import re
from functools import lru_cache

from ..rollups import CANCELLED_AS_SALES, ROLLUPS, SECOND_ORDERS
from ..schema import TABLES
from ..settings import DEFAULT_SETTINGS
from .manifest import UNPARTITIONED


# Derived views, built from code constants only. `day` is the shop-time calendar day every KPI
# filters and groups on, whatever the table's own date column is called.
DERIVED_VIEWS = (
    "create macro in_filter(x, lst) as (len(lst) = 0 or list_contains(lst, x))",
    # n: the number of rows, 1 here and the count of rows summed in the rollups, so a KPI
    # written with sum(n) reads either (see rollups.py).
    # shipped / shipped_<n>d: 1 when shipped (within n × 24 hours), for sums that the daily
    # rollup keeps too.
    # guests: 1 for an order without a customer id (guest checkout).
    """create view orders as
       select *, cast(ordered_at as date) as day, 1 as n, (customer_id is null)::int as guests,
              (shipped_at is not null)::int as shipped,
              coalesce((shipped_at - ordered_at <= interval 1 day)::int, 0) as shipped_1d,
              coalesce((shipped_at - ordered_at <= interval 2 day)::int, 0) as shipped_2d,
              coalesce((shipped_at - ordered_at <= interval 5 day)::int, 0) as shipped_5d
       from _orders""",
    # The orders that count: all but cancelled ones, or all under Shopify's convention.
    "create view valid_orders as select * from orders "
    f"where status <> 'cancelled' or {CANCELLED_AS_SALES}",
    # Shipped valid orders and how long they took, to the hour (the fulfilment-time median is
    # then read from a histogram: rollup shipping_daily).
    """create view shipping_times as
       select day, channel, device,
              round(date_diff('second', ordered_at, shipped_at) / 3600)::int as hours, 1 as n
       from valid_orders where shipped_at is not null""",
    "create view order_items as select * from _order_items",
    "create view refunds as select *, cast(refunded_at as date) as day, 1 as n from _refunds",
    "create view traffic as select *, date as day from _traffic",
    "create view inventory as select *, date as day from _inventory",
    "create view products as select * from _products",
    # Spend channels renamed by the channel-mapping setting ('facebook' → 'paid_social').
    """create view marketing_spend as
       select s.* exclude (channel), coalesce(m.to_channel, s.channel) as channel, s.date as day
       from _marketing_spend s left join channel_map m on m.from_channel = s.channel""",
    # First valid order over the whole history: new/returning customers and the acquisition
    # channel must never be derived from the filtered window. (A rollup: see rollups.py.)
    "customer_first",
    # Refunds count against the order's channel; refunds of cancelled orders are not returns
    # (the order never counted as a sale, or, under Shopify's convention, it is returned whole
    # on its cancellation day instead). A refund whose order is not stored still counts.
    # (A rollup, with the order's day and customer.)
    "valid_refunds",
    # Valid orders of identified customers; `channel` is the customer's acquisition channel, so
    # the channel filter selects customers by where they came from. (A rollup.)
    "customer_orders",
    # Customers by the day and channel of their first order, with the days to their second
    # (rollup: second_orders_daily).
    SECOND_ORDERS,
    # Order lines of valid orders, with each line's share of its order's discount (by line
    # value), for sales by product and category. (A rollup.)
    "sales_lines",
    # Each refund spread over the lines it concerns: the refunded SKU's lines when the refund
    # names one, else every line of the order, by line value. A refund whose lines are not
    # stored keeps its whole amount (category 'uncategorised'), so totals never change.
    # (A rollup.)
    "refund_lines",
    # One stock level per SKU and day: snapshots (daily, weekly or a single one) carried
    # forward to the latest snapshot date, so stock-outs are counted on every day. (A rollup.)
    "inventory_daily",
    # Every SKU that is stocked, sold or listed, with its name, category, cost and price.
    # (A rollup.)
    "sku_info",
    # Each SKU-day with its category and whether it was out of stock (rollup: stock_daily).
    """create view stock_days as
       select d.day, i.category, 1 as n, (d.on_hand <= 0)::int as stockouts, i.sku,
              i.product_name
       from inventory_daily d join sku_info i using (sku)""",
    # Each valid order with what was refunded on it, whenever (rollup: orders_daily).
    """create view order_returns as
       select o.day, o.channel, o.device, o.country, o.discount_code, 1 as n, o.gross_sales,
              coalesce(r.refunded, 0) as refunded, (r.order_id is not null)::int as refunded_orders
       from valid_orders o
       left join (select order_id, sum(amount) as refunded from valid_refunds group by order_id) r
         using (order_id)""",
    # Valid orders' goods by category (sales figures under a category filter): each order
    # line's value and share of the order's discount, and the goods of an order its stored
    # lines do not account for (no lines, or lines summing to another gross) 'uncategorised',
    # so the categories' parts add up to the whole. Joined on the day too (a line's day is its
    # order's): a period's filter then reaches both sides, not a sum over every order ever
    # (2 s → 0.3 s at 0.25 scale, 500 k orders). Each line's share of a discount as an exact
    # decimal (to 1e-10): summed as floats, in whatever order the threads meet, the same
    # discounts came to 72.3 or 72.30000000000001 from one run to the next.
    """create view category_sales as
       select l.order_id, l.day, l.channel, l.device, o.country, o.discount_code, l.category,
              l.line_value as gross_sales,
              coalesce(l.discount_share, 0)::decimal(38, 10) as discounts, l.sku
       from sales_lines l
       join (select order_id, day, country, discount_code from valid_orders) o
         using (order_id, day)
       union all
       select o.order_id, o.day, o.channel, o.device, o.country, o.discount_code,
              'uncategorised',
              o.gross_sales - coalesce(l.gross, 0), o.discounts - coalesce(l.discounts, 0),
              null
       from valid_orders o
       left join (select order_id, day, sum(line_value) as gross,
                         sum(coalesce(discount_share, 0)::decimal(38, 10)) as discounts
                  from sales_lines group by order_id, day) l using (order_id, day)
       where l.order_id is null or o.gross_sales <> l.gross
          or abs(o.discounts - l.discounts) >= 0.005""",
    # Refunded goods by line (refunds by category or product), each line's share of a refund
    # as an exact decimal, for the same reason.
    """create view refund_goods as
       select refund_id, order_id, day, order_day, channel, sku, reason, category,
              amount::decimal(38, 10) as amount
       from refund_lines""",
)


# Stored tables a view or rollup's SQL reaches but that it does not read, left out of READS
# (so out of its cache key, its rebuilds, the exports its KPIs need): the table, the columns
# by which it would reach it (which its SQL never names: tests/test_store_views.py), and why.
NARROWED = {
    "sku_sales_daily": ("products", ("product_name", "category"),
                        "it sums sales_lines' quantities and values by SKU, not the names "
                        "and categories the product list gives them"),
    "customer_orders_daily": ("refunds", ("cum_refunded",),
                              "it counts customer_orders by day and previous order days, not "
                              "what was refunded on them"),
    "second_orders": ("refunds", ("cum_refunded", "prev_value"),
                      "it reads the day of customers' second orders in customer_orders, not "
                      "what was refunded on them"),
    "second_orders_daily": ("refunds", ("cum_refunded", "prev_value"),
                            "it sums second_orders"),
}


def _created(sql: str) -> str:
    """The view, macro or rollup a DERIVED_VIEWS entry creates."""
    m = re.match(r"\s*create (?:view|macro) (\w+)", sql)
    return m.group(1) if m else sql


# What each view, macro and rollup refers to, for the connections that need only some.
_BODIES = {**{_created(v): v for v in DERIVED_VIEWS if v not in ROLLUPS},
           **{name: r.sql for name, r in ROLLUPS.items()}}

_STORED = {"_" + t: t for t in TABLES}


@lru_cache(maxsize=None)
def _reads(name: str) -> frozenset[str]:
    """The stored tables view, macro or rollup ``name`` reads, from its SQL and those of the
    views and rollups it names, less what NARROWED leaves out."""
    found: set[str] = set()
    for ref in set(re.findall(r"\b[a-z_][a-z0-9_]*\b", _BODIES[name])) - {name}:
        if ref in _STORED:
            found.add(_STORED[ref])
        elif ref in _BODIES:
            found |= _reads(ref)
    return frozenset(found - {NARROWED[name][0]} if name in NARROWED else found)


# The stored tables each view and rollup reads: for cache keys (Kpi.tables), the exports a
# KPI needs (kpilib.caveats) and the rollups an upload makes stale (kpilib.store.builds).
READS = {name: _reads(name) for name in _BODIES}


@lru_cache(maxsize=256)
def _closure(sql: str) -> frozenset[str]:
    """The views, macros, rollups and stored tables (`_orders`…) ``sql`` reads, transitively."""
    names = set(_BODIES) | {"_" + t for t in TABLES} | {"channel_map", "conventions"}
    found, todo = set(), [sql]
    while todo:
        for name in re.findall(r"\b[a-z_][a-z0-9_]*\b", todo.pop()):
            if name in names and name not in found:
                found.add(name)
                todo.append(_BODIES.get(name, ""))
    return frozenset(found)


@lru_cache(maxsize=None)
def definition(name: str, cancelled: str = DEFAULT_SETTINGS["cancelled_orders"]) -> str:
    """Changes when the rollup's SQL does, or that of a view or rollup it reads, or the
    convention for cancelled orders where it reads it: a rollup stored under another definition
    (by an older version, or before the setting changed) is not read, and is rebuilt by the
    next write or refresh."""
    import hashlib

    reads = sorted(_closure(ROLLUPS[name].sql) - {name})
    # A stored table by its columns: one added to the contract is in a rollup reading `*`.
    text = ROLLUPS[name].sql + "".join(
        definition(n, cancelled) if n in ROLLUPS
        else f"conventions(cancelled_orders={cancelled})" if n == "conventions"
        else _BODIES.get(n) or _columns(n) for n in reads)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _columns(name: str) -> str:
    table = TABLES.get(name.removeprefix("_"))
    return name if table is None else f"{name}({', '.join(table.names)})"


def current(manifest: dict, settings: dict | None = None) -> dict[str, dict]:
    """The stored rollups built with today's definitions, the store's ``settings`` and
    today's layout (the ones a connection may read): one stored as a single file and now
    partitioned by month, or the reverse, is rebuilt whole, never added to month by month."""
    defs = manifest.get("rollup_defs", {})
    cancelled = {**DEFAULT_SETTINGS, **(settings or {})}["cancelled_orders"]
    return {n: parts for n, parts in manifest.get("rollups", {}).items()
            if n in ROLLUPS and defs.get(n) == definition(n, cancelled)
            and (UNPARTITIONED in parts) != ROLLUPS[n].partitioned}


@lru_cache(maxsize=1024)
def tables_read(sql: str) -> frozenset[str]:
    """The stored tables a query reads, through the views it names."""
    import re

    names = set(re.findall(r"\b(?:from|join)\s+([a-z_]+)", sql))
    return frozenset().union(*(READS.get(n, set()) for n in names))


