"""Stock KPIs, from `inventory` snapshots (carried forward day by day) and the order lines of
valid orders. The channel filter applies to sales (velocity, price); category and SKU search
filter the SKUs."""
from .kpi import Kpi
from .rollups import SKU_MEASURES, edge_days, whole_months

# Per SKU: stock at the end, sales in the period / the last 30 and 90 days, in-stock and
# out-of-stock days in the period, and the units sold on in-stock days.
# The period's whole months are read from the monthly rollups — running totals per SKU over all
# channels (sku_cum: two rows per SKU, however long the period), a row per SKU, channel and
# month with a channel filter (sku_sales_monthly) — and only the days before its first / after
# its last whole month from the daily rows: two years read ~40 k rows, not 14 M SKU-days.
SKU_STATS = f"""
    with info as (
        select * from sku_info
        where in_filter(category, $categories)
          and ($search = '' or contains(lower(sku || ' ' || product_name), $search))),
    edge_lines as ({edge_days("sales_lines")}),
    edge_stock as ({edge_days("inventory_daily")}),
    whole as ({whole_months("sku_cum", "sku", SKU_MEASURES)}),
    sold as (
        select sku, sum(q) as units_sold, sum(v) as gross, sum(net) as revenue,
               sum(q_in_stock) as units_in_stock_days
        from (select sku, q, v, net, q_in_stock from whole where len($channels) = 0
              union all
              select sku, q, v, net, q_in_stock from sku_sales_monthly
              where len($channels) > 0 and list_contains($channels, channel)
                and day >= first_whole_month($start) and day < after_whole_months($start, $end)
              union all
              select l.sku, l.quantity, l.line_value,
                     l.line_value - coalesce(l.discount_share, 0),
                     case when i.on_hand > 0 then l.quantity else 0 end
              from edge_lines l left join edge_stock i on i.sku = l.sku and i.day = l.day
              where in_filter(l.channel, $channels))
        group by sku),
    recent as (
        select sku, sum(quantity) filter (where day >= $end - 29) as units_30d,
               sum(quantity) as units_90d
        from sales_lines
        where in_filter(channel, $channels) and day between $end - 89 and $end group by sku),
    stock_end as (  -- every SKU has a row per day from its first snapshot to the last one
        select sku, on_hand from inventory_daily
        where day = least($end, (select max(last_day) from stock_monthly))),
    days as (
        select sku, sum(n) as sku_days, sum(oos) as oos_days, sum(in_stock) as in_stock_days
        from (select sku, n, oos, in_stock from whole
              union all
              select sku, 1, (on_hand <= 0)::int, (on_hand > 0)::int from edge_stock)
        group by sku),
    per as (
        select info.sku, info.product_name, info.category, info.unit_cost,
               coalesce(e.on_hand, 0) as on_hand, e.sku is not null as stocked,
               coalesce(so.units_sold, 0) as units_sold, coalesce(so.revenue, 0) as revenue,
               coalesce(r.units_30d, 0) / 30.0 as avg_daily_units,
               coalesce(r.units_90d, 0) as units_90d,
               coalesce(so.gross / nullif(so.units_sold, 0), info.price) as avg_price,
               d.sku_days, d.oos_days, d.in_stock_days,
               coalesce(so.units_in_stock_days, 0) as units_in_stock_days
        from info left join sold so using (sku) left join recent r using (sku)
        left join stock_end e using (sku)
        left join days d using (sku)),
    ranked as (
        select *, sum(revenue) over (order by revenue desc, sku rows unbounded preceding)
                  / nullif((select sum(revenue) from per), 0) as cum_share
        from per),
    sku as (
        select *, 'total' as key0,
               greatest(on_hand, 0) as units_on_hand,
               greatest(on_hand, 0) * unit_cost as stock_value,
               case when on_hand <= 0 then 0
                    when avg_daily_units = 0 then null
                    else on_hand / avg_daily_units end as days_of_cover,
               case when revenue > 0 and cum_share <= 0.8 then 'A'
                    when revenue > 0 and cum_share <= 0.95 then 'B' else 'C' end as abc_class,
               stocked and on_hand > 0 and units_90d = 0 as dead,
               case when in_stock_days > 0
                    then units_in_stock_days / in_stock_days * oos_days * avg_price
               end as lost_revenue
        from ranked)"""

BY = ("category",)
# What the per-SKU KPIs share, computed once per filters (Kpi.base) and read as `base`.
SKU_BASE = SKU_STATS + " select * from sku"


def _sum(name, label, unit, expr, definition, **kw) -> Kpi:
    return Kpi(name=name, label=label, unit=unit, definition=definition, by=BY,
               sql=f"select {{key}} as key, {expr} as value from base group by all", base=SKU_BASE,
               **kw)


ON_HAND = _sum("on_hand", "Units on hand", "count", "sum(units_on_hand)",
               "Units in stock at the latest snapshot on or before the end of the period, "
               "summed over SKUs (negative stock counts as 0).")
STOCK_VALUE = _sum("stock_value", "Stock value", "money", "sum(stock_value)",
                   "Units on hand × unit cost (from the products table); SKUs without a cost "
                   "are left out.", better=None)
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
                        "that does not sell.", better="down")
LOST_REVENUE = _sum("lost_revenue_stockout", "Revenue lost to stock-outs", "money",
                    "coalesce(sum(lost_revenue), 0)",
                    "Per SKU: units sold per in-stock day × out-of-stock days × average unit "
                    "price in the period, summed. With a channel filter, sales and prices are "
                    "that channel's.", better="down")

# Stock-outs over time: SKU-days of the carried-forward daily stock.
_SKU_DAYS = """
    select {key} as key, sum(stockouts) as numerator, sum(n) as denominator,
           sum(stockouts) / nullif(sum(n), 0) as value
    from stock_days
    where day between $start and $end and in_filter(category, $categories)
      and ($search = '' or contains(lower(sku || ' ' || product_name), $search))
    group by all"""
STOCKOUT_SKU_DAYS = Kpi(
    name="stockout_sku_days", label="Stock-out SKU-days", unit="count",
    definition="Days × SKUs with nothing (or less than nothing) on hand in the period; between "
               "two snapshots the last one holds.",
    sql=_SKU_DAYS.replace("sum(stockouts) / nullif(sum(n), 0) as value",
                          "sum(stockouts) as value"),
    by=("day", "week", "month", "category"), better="down", rollup=True)
STOCKOUT_RATE = Kpi(
    name="stockout_rate", label="Stock-out rate", unit="ratio",
    definition="Stock-out SKU-days ÷ all SKU-days in the period (each SKU counted from its "
               "first snapshot).",
    sql=_SKU_DAYS, by=("day", "week", "month", "category"), ratio=True, empty=None,
    better="down", rollup=True)

STOCK_BY_SKU = Kpi(
    name="stock_by_sku", label="Stock by SKU", unit="count", table=True,
    definition="Every SKU with stock on hand, value, units sold (period, last 30 days per day), "
               "days of cover, sell-through, ABC class (A while the cumulative share of net "
               "revenue is ≤ 80 %, B ≤ 95 %, C the rest), dead stock, stock-out days and "
               "revenue lost to them.",
    base=SKU_BASE, sql="""
        select {key} as key, sku, product_name, category, on_hand, stock_value, units_sold,
               revenue, avg_daily_units, days_of_cover,
               units_sold / nullif(units_sold + units_on_hand, 0) as sell_through_rate,
               abc_class, dead, oos_days, sku_days, lost_revenue
        from base order by days_of_cover asc nulls last, sku""",
    by=BY)
ABC_CLASSES = Kpi(
    name="abc_classes", label="ABC classes", unit="count", table=True,
    definition="SKUs ranked by net revenue in the period (gross − discounts, by line value): A "
               "while the cumulative share is ≤ 80 %, B ≤ 95 %, C the rest (unsold SKUs are "
               "C); with their revenue and stock value.",
    base=SKU_BASE, sql="""
        select {key} as key, abc_class, count(*) as skus, sum(revenue) as revenue,
               coalesce(sum(stock_value), 0) as stock_value
        from base group by all order by abc_class""",
    by=BY)

SNAPSHOT_INTERVAL = Kpi(
    name="snapshot_interval_days", label="Days between stock snapshots", unit="days",
    definition="Median days between consecutive stock snapshot dates up to the end of the "
               "period (1 = daily snapshots, 7 = weekly); days in between carry the last "
               "snapshot forward.",
    sql="""select {key} as key, median(gap) as value from (
               select 'total' as category, date - lag(date) over (order by date) as gap
               from (select distinct date from inventory where date <= $end))
           where gap is not null group by all""",
    by=(), empty=None, better=None)

KPIS = (SNAPSHOT_INTERVAL, ON_HAND, STOCK_VALUE, UNITS_SOLD, AVG_DAILY_UNITS, DAYS_OF_COVER,
        SELL_THROUGH,
        STOCKOUT_SKU_DAYS, STOCKOUT_RATE, DEAD_STOCK, DEAD_STOCK_VALUE, LOST_REVENUE,
        STOCK_BY_SKU, ABC_CLASSES)
