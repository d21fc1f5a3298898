"""Stock KPIs, from `inventory` snapshots (carried forward day by day) and the order lines of
valid orders. The channel filter applies to sales (velocity, price); category and SKU search
filter the SKUs."""
from .kpi import Kpi

# Per SKU: stock at the end, sales in the period / the last 30 and 90 days, in-stock and
# out-of-stock days in the period, and the units sold on in-stock days.
SKU_STATS = """
    with info as (
        select * from sku_info
        where in_filter(category, $categories)
          and ($search = '' or contains(lower(sku || ' ' || product_name), $search))),
    sales as (
        select sku, day, sum(quantity) as q, sum(line_value) as v,
               sum(line_value - coalesce(discount_share, 0)) as net
        from sales_lines where in_filter(channel, $channels) group by all),
    sold as (
        select sku,
               sum(q) filter (where day between $start and $end) as units_sold,
               sum(v) filter (where day between $start and $end) as gross,
               sum(net) filter (where day between $start and $end) as revenue,
               sum(q) filter (where day between $end - 29 and $end) as units_30d,
               sum(q) filter (where day between $end - 89 and $end) as units_90d
        from sales group by sku),
    stock_end as (
        select sku, arg_max(on_hand, day) as on_hand from inventory_daily
        where day <= $end group by sku),
    days as (
        select i.sku, count(*) as sku_days,
               count(*) filter (where i.on_hand <= 0) as oos_days,
               count(*) filter (where i.on_hand > 0) as in_stock_days,
               coalesce(sum(s.q) filter (where i.on_hand > 0), 0) as units_in_stock_days
        from inventory_daily i left join sales s on s.sku = i.sku and s.day = i.day
        where i.day between $start and $end group by i.sku),
    per as (
        select info.sku, info.product_name, info.category, info.unit_cost,
               coalesce(e.on_hand, 0) as on_hand, e.sku is not null as stocked,
               coalesce(so.units_sold, 0) as units_sold, coalesce(so.revenue, 0) as revenue,
               coalesce(so.units_30d, 0) / 30.0 as avg_daily_units,
               coalesce(so.units_90d, 0) as units_90d,
               coalesce(so.gross / nullif(so.units_sold, 0), info.price) as avg_price,
               d.sku_days, d.oos_days, d.in_stock_days, d.units_in_stock_days
        from info left join sold so using (sku) left join stock_end e using (sku)
        left join days d using (sku)),
    ranked as (
        select *, sum(revenue) over (order by revenue desc, sku rows unbounded preceding)
                  / nullif(sum(revenue) over (), 0) as cum_share
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


def _sum(name, label, unit, expr, definition, **kw) -> Kpi:
    return Kpi(name=name, label=label, unit=unit, definition=definition, by=BY,
               sql=SKU_STATS + f" select {{key}} as key, {expr} as value from sku group by all",
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
    sql=SKU_STATS + """ select {key} as key, sum(units_on_hand) as numerator,
                               sum(avg_daily_units) as denominator,
                               case when sum(units_on_hand) <= 0 then 0
                                    else sum(units_on_hand) / nullif(sum(avg_daily_units), 0)
                               end as value
                        from sku group by all""",
    ratio=True, empty=None)
SELL_THROUGH = Kpi(
    name="sell_through_rate", label="Sell-through rate", unit="ratio", by=BY,
    definition="Units sold in the period ÷ (units sold + units on hand at the end).",
    sql=SKU_STATS + """ select {key} as key, sum(units_sold) as numerator,
                               sum(units_sold) + sum(units_on_hand) as denominator,
                               sum(units_sold) / nullif(sum(units_sold) + sum(units_on_hand), 0)
                                   as value
                        from sku group by all""",
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
    sql=SKU_STATS + """
        select {key} as key, sku, product_name, category, on_hand, stock_value, units_sold,
               revenue, avg_daily_units, days_of_cover,
               units_sold / nullif(units_sold + units_on_hand, 0) as sell_through_rate,
               abc_class, dead, oos_days, sku_days, lost_revenue
        from sku order by days_of_cover asc nulls last, sku""",
    by=BY)
ABC_CLASSES = Kpi(
    name="abc_classes", label="ABC classes", unit="count", table=True,
    definition="SKUs ranked by net revenue in the period (gross − discounts, by line value): A "
               "while the cumulative share is ≤ 80 %, B ≤ 95 %, C the rest (unsold SKUs are "
               "C); with their revenue and stock value.",
    sql=SKU_STATS + """
        select {key} as key, abc_class, count(*) as skus, sum(revenue) as revenue,
               coalesce(sum(stock_value), 0) as stock_value
        from sku group by all order by abc_class""",
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

KPIS = (SNAPSHOT_INTERVAL, ON_HAND, STOCK_VALUE, UNITS_SOLD, AVG_DAILY_UNITS, DAYS_OF_COVER, SELL_THROUGH,
        STOCKOUT_SKU_DAYS, STOCKOUT_RATE, DEAD_STOCK, DEAD_STOCK_VALUE, LOST_REVENUE,
        STOCK_BY_SKU, ABC_CLASSES)
