"""Stock KPIs, from `inventory` snapshots (carried forward day by day) and the order lines of
valid orders. The channel filter applies to sales (velocity, price); category and SKU search
filter the SKUs."""
from .dimensions import Measure
from .kpi import Kpi
from .measures import ratio, total
from .rollup_reads import LOST, WHOLE_MONTHS, edge_days, edge_points, edge_sum, on_days
from .rollups import SKU_MEASURES

# Per SKU: stock at the end, sales in the period and in the 30 days ending with it, in-stock
# and out-of-stock days in the period, the units sold on in-stock days, and whether it sold in
# the 90 days ending with the period (dead stock): sold within the end's month up to the end
# (sku_running's running total there), or its last day sold before that month (sku_cum's
# last_sold) 89 days before the end or later. Units are never negative (ingest refuses them),
# so no units in 90 days is no day sold in them: a 90-day sum read up to 3 more rows per SKU
# (the day before its start, two months of sku_cum), 3 of 5 over the last 30 days.
# Each window is the running totals per SKU and month (sku_cum) through the month before its
# end's, less those through the month before its start's, plus the running total within the
# end's month at the end, less the one within the start's month the day before the start
# (sku_running; kpilib.filters.month_edges): a few rows per SKU, however long the period.
# Every window ends on the day the stock is read, so each adds one day of sku_running at most
# (a day there costs a Parquet row group; a month's total read at its last day cost one more
# each). With a channel filter, sales are read from the rollups by SKU, channel and month /
# day instead.
WINDOWS = ("p", "w30")


def _measures(w: str) -> tuple[str, ...]:
    return SKU_MEASURES if w == "p" else ("q",)


def _points() -> str:
    """(window, sign, day, source): the rows whose signed sum is each window's measures —
    sku_cum's running totals (at the rollup's last month at most) and sku_running's."""
    rows = [f"('{w}', 1, ${w}_m1, 'cum'), ('{w}', -1, ${w}_m0, 'cum'), "
            f"('{w}', -1, ${w}_e0, 'run'), ('{w}', 1, $end, 'run')" for w in WINDOWS]
    # The stock on hand at the end: the day's row in sku_running, at the last snapshot at most.
    rows.append("('end', 0, $end, 'run')")
    # The months taken at sku_cum's last one at most, the stock's day at the last snapshot
    # (subqueries beside the values, not in them: Spark allows none there).
    return f"""select w, sign, case when source = 'cum' then least(t.day, m.last)
                                    when w = 'end' then least(t.day, k.last)
                                    else t.day end as day, source
               from (values {', '.join(rows)}) t(w, sign, day, source),
                    (select max(day) as last from sku_cum) m,
                    (select max(last_day) as last from stock_monthly) k"""


def _runs() -> str:
    """Per SKU, every window's measures over all channels, from a few rows per SKU. A day
    several windows read (the period's end is each one's) is read once, with a sign per
    window: sums of products instead of one filtered sum per window and measure. A day whose
    signs cancel (a window within one month: both sku_cum rows the same) is not read."""
    edge_days = on_days([(-1, f"${w}_e0") for w in WINDOWS] + [(1, "$end")]
                        + [(0, "least($end, (select max(last_day) from stock_monthly))")],
                        "r.day")
    cols = ", ".join(SKU_MEASURES)
    signs = ", ".join(f"sum(sign) filter (where w = '{w}')::int as {w}" for w in WINDOWS)
    nonzero = " or ".join(f"{w} <> 0" for w in WINDOWS)
    pick = ", ".join(f"p.{w} as s_{w}" for w in WINDOWS)
    sums = ", ".join(f"coalesce(sum(s_{w} * {c}), 0) as {w}_{c}"
                     for w in WINDOWS for c in _measures(w))
    return f"""
        with pts as (select * from (select source, day, {signs}, bool_or(w = 'end') as at_end
                                    from ({_points()}) group by all)
                     where at_end or {nonzero}),
        rows as (select c.sku, {pick}, {cols}, false as at_end, null as on_hand,
                        false as on_end from sku_cum c
                 join pts p on p.day = c.day and p.source = 'cum'
                 union all
                 select r.sku, {pick}, {cols}, p.at_end, r.on_hand, r.day = $end
                 from sku_running r
                 join pts p on p.day = r.day and p.source = 'run'
                 where {edge_days})
        select sku, {sums}, max(on_hand) filter (where at_end) as on_hand,
               -- units sold in the end's month up to the end
               coalesce(max(q) filter (where on_end), 0) as end_month_q
        from rows group by sku"""


# The SKUs the category and search filters keep, and, with a channel filter, the sales of the
# days outside the period's whole months.
_INPUTS = f"""
    with info as (
        select * from sku_info
        where in_filter(category, $categories)
          and ($search = '' or contains(lower(sku || ' ' || product_name), $search))),
    edge_sold as (   -- q_in_stock: units sold on in-stock days (the rate of lost sales)
        select sku, day, q as quantity, v as line_value, net, q_in_stock
        from ({edge_days("sku_sales_daily")}) where in_filter(channel, $channels))"""
SKU_STATS = _INPUTS + f""",
    runs as ({_runs()}),
    -- The last day each SKU sold before the end's month (sku_cum's last month at most).
    sold_before as (
        select sku, last_sold from sku_cum
        where day = least($p_m1, (select max(day) from sku_cum))),
    -- With a channel filter, that channel's sales per SKU (the runs are every channel's).
    sold as (
        select sku, sum(q) as units_sold, sum(v) as gross, sum(net) as revenue,
               sum(q_in_stock) as units_in_stock_days
        from (select sku, q, v, net, q_in_stock from sku_sales_monthly
              where len($channels) > 0 and list_contains($channels, channel) and {WHOLE_MONTHS}
              union all
              select sku, quantity, line_value, net, q_in_stock from edge_sold
              where len($channels) > 0)
        group by sku),
    recent as (
        select sku, sum(q) filter (where day >= $end - 29) as units_30d, sum(q) as units_90d
        from sku_sales_daily
        where len($channels) > 0 and list_contains($channels, channel)
          and day between $end - 89 and $end
        group by sku),
    -- One join to the runs, each figure picked from them or from the channel's sales: the
    -- runs joined once per figure cost ~9 ms of a ~50 ms step.
    per as (
        select info.sku, info.product_name, info.category, info.unit_cost,
               coalesce(r.on_hand, 0) as on_hand, r.on_hand is not null as stocked,
               coalesce(if(len($channels) = 0, r.p_q, so.units_sold), 0) as units_sold,
               coalesce(if(len($channels) = 0, r.p_net, so.revenue), 0) as revenue,
               -- A window that is the period (the last 30 days) is the period's sum, not
               -- summed again: the optimizer drops the window's.
               coalesce(if(len($channels) = 0, if($start = $end - 29, r.p_q, r.w30_q),
                           rc.units_30d), 0) / 30.0 as avg_daily_units,
               if(len($channels) = 0,
                  coalesce(r.end_month_q, 0) > 0 or coalesce(sb.last_sold >= $end - 89, false),
                  coalesce(rc.units_90d, 0) > 0) as sold_90d,
               coalesce(if(len($channels) = 0, r.p_v, so.gross)
                        / nullif(if(len($channels) = 0, r.p_q, so.units_sold), 0), info.price)
                   as avg_price,
               -- Stock days only for SKUs with a snapshot in the period.
               if(r.p_n > 0, r.p_n, null) as sku_days, if(r.p_n > 0, r.p_oos, null) as oos_days,
               if(r.p_n > 0, r.p_in_stock, null) as in_stock_days,
               coalesce(if(len($channels) = 0, r.p_q_in_stock, so.units_in_stock_days), 0)
                   as units_in_stock_days
        from info left join runs r using (sku) left join sold so using (sku)
        left join recent rc using (sku) left join sold_before sb using (sku)),
    sku as (
        select *, 'total' as key0,
               greatest(on_hand, 0) as units_on_hand,
               greatest(on_hand, 0) * unit_cost as stock_value,
               case when on_hand <= 0 then 0
                    when avg_daily_units = 0 then null
                    else on_hand / avg_daily_units end as days_of_cover,
               stocked and on_hand > 0 and not sold_90d as dead,
               case when in_stock_days > 0
                    then units_in_stock_days / in_stock_days * oos_days * avg_price
               end as lost_revenue
        from per)"""

BY = ("category",)
# What the per-SKU KPIs share, computed once per filters (Kpi.base) and read as `base`.
SKU_BASE = SKU_STATS + " select * from sku"
# ABC classes (only the two KPIs that show them rank the SKUs): A while the cumulative share
# of net revenue is ≤ 80 %, B ≤ 95 %, C the rest.
_ABC = """
    with ranked as (
        select *, sum(revenue) over (order by revenue desc, sku rows unbounded preceding)
                  / nullif((select sum(revenue) from base), 0) as cum_share
        from base),
    abc as (
        select *, case when revenue > 0 and cum_share <= 0.8 then 'A'
                       when revenue > 0 and cum_share <= 0.95 then 'B' else 'C' end as abc_class
        from ranked)"""


def _sum(name, label, unit, expr, definition, **kw) -> Kpi:
    return Kpi(name=name, label=label, unit=unit, definition=definition, by=BY,
               sql=f"select {{key}} as key, {expr} as value from base group by all", base=SKU_BASE,
               **kw)


ON_HAND = _sum("on_hand", "Units on hand", "count", "sum(units_on_hand)",
               "Units in stock at the latest snapshot on or before the end of the period, "
               "summed over SKUs (negative stock counts as 0).", needs=("inventory",))
STOCK_VALUE = _sum("stock_value", "Stock value", "money", "sum(stock_value)",
                   "Units on hand × unit cost (from the products table); SKUs without a cost "
                   "are left out.", better=None, needs=("inventory", "products"))
UNITS_SOLD = _sum("units_sold", "Units sold", "count", "sum(units_sold)",
                  "Units in the order lines of valid orders placed in the period.")
AVG_DAILY_UNITS = _sum("avg_daily_units", "Units sold per day", "decimal",
                       "sum(avg_daily_units)",
                       "Units sold in the 30 days ending on the last day of the period ÷ 30.")
DAYS_OF_COVER = Kpi(
    name="days_of_cover", label="Days of cover", unit="days", by=BY,
    definition="Units on hand ÷ units sold per day (last 30 days): how long the stock lasts at "
               "the current pace. 0 when nothing is on hand; no value when nothing sold.",
    base=SKU_BASE, sql=""" select {key} as key, sum(units_on_hand) as numerator,
                               sum(avg_daily_units) as denominator,
                               case when sum(units_on_hand) <= 0 then 0
                                    else sum(units_on_hand) / nullif(sum(avg_daily_units), 0)
                               end as value
                        from base group by all""",
    ratio=True, empty=None)
SELL_THROUGH = Kpi(
    name="sell_through_rate", label="Sell-through rate", unit="ratio", by=BY,
    definition="Units sold in the period ÷ (units sold + units on hand at the end).",
    base=SKU_BASE, sql=""" select {key} as key, sum(units_sold) as numerator,
                               sum(units_sold) + sum(units_on_hand) as denominator,
                               sum(units_sold) / nullif(sum(units_sold) + sum(units_on_hand), 0)
                                   as value
                        from base group by all""",
    ratio=True, empty=None)
DEAD_STOCK = _sum("dead_stock", "Dead-stock SKUs", "count", "count(*) filter (where dead)",
                  "SKUs with stock on hand at the end of the period and no unit sold in the 90 "
                  "days ending then.", better="down")
DEAD_STOCK_VALUE = _sum("dead_stock_value", "Dead-stock value", "money",
                        "coalesce(sum(stock_value) filter (where dead), 0)",
                        "Stock value (at cost) of the dead-stock SKUs: money tied up in stock "
                        "that does not sell.", better="down",
                        needs=("inventory", "orders", "order_items", "products"))
LOST_REVENUE = _sum("lost_revenue_stockout", "Revenue lost to stock-outs (estimate)", "money",
                    "coalesce(sum(lost_revenue), 0)",
                    "Per SKU: units sold per in-stock day × out-of-stock days × average unit "
                    "price in the period, summed. With a channel filter, sales and prices are "
                    "that channel's.", better="down")

def _edge_month(month: str, points: list[tuple[int, str]]) -> str:
    """Per SKU, sku_running's measures over the edge days ``points`` give, as ``month``."""
    sums = ", ".join(f"{edge_sum(c, points)} as {c}"
                     for c in ("q", "v", "q_in_stock", "oos", "in_stock"))
    return f"select sku, {month} as month, {sums} from sku_running where {on_days(points)} " \
           "group by sku"


# Each month of the period on its own (the first and last cut to it), from the monthly rollups
# and the edge days: the lost-revenue chart's months in one pass instead of one per month.
LOST_REVENUE_BY_MONTH = Kpi(
    name="lost_revenue_by_month", label="Revenue lost to stock-outs by month", unit="money",
    definition="Revenue lost to stock-outs (as above) in each calendar month of the period, "
               "each month on its own: its units sold per in-stock day, out-of-stock days and "
               "average price.",
    sql=_INPUTS + f""",
    edge_run as (   -- the days outside the whole months: the first and the last month's part
        {_edge_month("date_trunc('month', $start)::date", edge_points()[:2])}
        union all
        {_edge_month("date_trunc('month', $end)::date", edge_points()[2:])}),
    edge as (       -- with a channel filter, that channel's sales
        select r.sku, r.month,
               case when len($channels) = 0 then r.q else s.q end as q,
               case when len($channels) = 0 then r.v else s.v end as v,
               case when len($channels) = 0 then r.q_in_stock else s.q_in_stock end
                   as q_in_stock,
               r.oos, r.in_stock
        from edge_run r
        left join (select sku, date_trunc('month', day)::date as month, sum(quantity) as q,
                          sum(line_value) as v, sum(q_in_stock) as q_in_stock
                   from edge_sold where len($channels) > 0 group by all) s using (sku, month)),
    sku_months as (  -- per SKU, the whole months (with a search or a channel) and the edges
        select sku, day as month, q, v, q_in_stock, oos, in_stock from sku_month
        where len($channels) = 0 and $search <> '' and {WHOLE_MONTHS}
        union all
        select d.sku, d.day, s.q, s.v, s.q_in_stock, d.oos, d.in_stock
        from stock_monthly d
        left join (select sku, day, sum(q) as q, sum(v) as v, sum(q_in_stock) as q_in_stock
                   from sku_sales_monthly
                   where list_contains($channels, channel) and {WHOLE_MONTHS} group by all) s
          using (sku, day)
        -- (one channel without a search: the monthly rollup below)
        where (len($channels) > 1 or len($channels) = 1 and $search <> '')
          and {WHOLE_MONTHS.replace("day ", "d.day ")}
        union all
        select * from edge)
    select month, coalesce(sum(lost), 0) as value from (
        -- Whole months without a search, over all channels or for one: summed by category at
        -- ingest.
        select day as month, lost from stock_lost_monthly
        where $search = '' and in_filter(category, $categories) and {WHOLE_MONTHS}
          and (len($channels) = 0 and channel is null
               or len($channels) = 1 and list_contains($channels, channel))
        union all
        select month, {LOST} as lost from sku_months semi join info using (sku))
    group by all order by month""",
    table=True, by=(), better="down")

# Stock-outs over time: SKU-days of the carried-forward daily stock.
STOCKOUTS = Measure("stock_days", "stockouts")
STOCKOUT_SKU_DAYS = total(
    "stockout_sku_days", "Stock-out SKU-days", "count",
    "Days × SKUs with nothing (or less than nothing) on hand in the period; between "
    "two snapshots the last one holds.", STOCKOUTS,
    by=("day", "week", "month", "category"), better="down", needs=("inventory",))
STOCKOUT_RATE = ratio(
    "stockout_rate", "Stock-out rate", STOCKOUTS, Measure("stock_days", "n"),
    "Stock-out SKU-days ÷ all SKU-days in the period (each SKU counted from its "
    "first snapshot).", by=("day", "week", "month", "category"), better="down",
    needs=("inventory",))

STOCK_BY_SKU = Kpi(
    name="stock_by_sku", label="Stock by SKU", unit="count", table=True,
    definition="Every SKU with stock on hand, value, units sold (period, last 30 days per day), "
               "days of cover, sell-through, ABC class (A while the cumulative share of net "
               "revenue is ≤ 80 %, B ≤ 95 %, C the rest), dead stock, stock-out days and "
               "revenue lost to them.",
    base=SKU_BASE, sql=_ABC + """
        select {key} as key, sku, product_name, category, on_hand, stock_value, units_sold,
               revenue, avg_daily_units, days_of_cover,
               units_sold / nullif(units_sold + units_on_hand, 0) as sell_through_rate,
               abc_class, dead, oos_days, sku_days, lost_revenue
        from abc order by days_of_cover asc nulls last, sku""",
    by=BY)
ABC_CLASSES = Kpi(
    name="abc_classes", label="ABC classes", unit="count", table=True,
    definition="SKUs ranked by net revenue in the period (gross − discounts, by line value): A "
               "while the cumulative share is ≤ 80 %, B ≤ 95 %, C the rest (unsold SKUs are "
               "C); with their revenue and stock value.",
    base=SKU_BASE, sql=_ABC + """
        select {key} as key, abc_class, count(*) as skus, sum(revenue) as revenue,
               coalesce(sum(stock_value), 0) as stock_value
        from abc group by all order by abc_class""",
    by=BY)

# The page's three SKU lists, each its own few rows (a list of 20,000 SKUs into pandas cost
# ~40 ms a filter change, to show twenty of them); the whole table is stock_by_sku.
def _sku_list(name, label, unit, definition, cols, where, order, better="up") -> Kpi:
    return Kpi(name=name, label=label, unit=unit, definition=definition, table=True, by=(),
               base=SKU_BASE, better=better,
               sql=f"select sku, product_name, category, {cols} from base where {where} "
                   f"order by {order}")


REORDER_SKUS = _sku_list(
    "reorder_skus", "Reorder first", "days",
    "SKUs that sold in the period or in the last 30 days, lowest days of cover first (units "
    "on hand ÷ units sold per day over the last 30 days); those that sold only before the "
    "last 30 days have no cover value and come last.",
    "on_hand, avg_daily_units, days_of_cover, units_sold, oos_days",
    "units_sold + avg_daily_units > 0", "days_of_cover asc nulls last, sku")
DEAD_STOCK_SKUS = _sku_list(
    "dead_stock_skus", "Dead stock by value", "money",
    "The dead-stock SKUs (stock on hand at the end of the period, no unit sold in the 90 days "
    "ending then), most value at cost first.",
    "on_hand, stock_value", "dead", "stock_value desc nulls last, sku", better="down")
LOST_REVENUE_SKUS = _sku_list(
    "lost_revenue_skus", "Revenue lost to stock-outs by SKU", "money",
    "The SKUs that lost revenue to stock-outs in the period (as above), most lost first, with "
    "their out-of-stock days.",
    "oos_days, lost_revenue", "lost_revenue > 0", "lost_revenue desc, sku", better="down")

SNAPSHOT_INTERVAL = Kpi(
    name="snapshot_interval_days", label="Days between stock snapshots", unit="days",
    definition="Median days between consecutive stock snapshot dates up to the end of the "
               "period (1 = daily snapshots, 7 = weekly); days in between carry the last "
               "snapshot forward.",
    sql="""select {key} as key, median(gap) as value from (
               select 'total' as category,
                      date_diff('day', lag(date) over (order by date), date) as gap
               from snapshot_days where date <= $end)
           where gap is not null group by all""",
    by=(), empty=None, better=None)

KPIS = (SNAPSHOT_INTERVAL, ON_HAND, STOCK_VALUE, UNITS_SOLD, AVG_DAILY_UNITS, DAYS_OF_COVER,
        SELL_THROUGH,
        STOCKOUT_SKU_DAYS, STOCKOUT_RATE, DEAD_STOCK, DEAD_STOCK_VALUE, LOST_REVENUE,
        LOST_REVENUE_BY_MONTH, STOCK_BY_SKU, ABC_CLASSES, REORDER_SKUS, DEAD_STOCK_SKUS,
        LOST_REVENUE_SKUS)
