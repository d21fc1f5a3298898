"""Sales KPIs, from `orders` and `refunds`. Cancelled orders never count as sales."""
from .kpi import Kpi

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

ORDERS = Kpi(
    name="orders", label="Orders", unit="count",
    definition="Orders placed in the period, cancelled orders excluded.",
    sql=f"select {{key}} as key, count(*) as value from valid_orders {WHERE} group by all",
    by=("day", "week", "month", "channel", "device"),
)
GROSS_SALES = Kpi(
    name="gross_sales", label="Gross sales", unit="money",
    definition="Value of the products sold (quantity × unit price) before discounts, shipping and "
               "tax, for orders placed in the period; cancelled orders excluded.",
    sql=f"select {{key}} as key, sum(gross_sales) as value from valid_orders {WHERE} group by all",
)
DISCOUNTS = Kpi(
    name="discounts", label="Discounts", unit="money",
    definition="Discounts granted on orders placed in the period; cancelled orders excluded.",
    sql=f"select {{key}} as key, sum(discounts) as value from valid_orders {WHERE} group by all",
    better="down",
)
RETURNS = Kpi(
    name="returns", label="Returns", unit="money",
    definition="Money refunded in the period, dated by the refund date (the accounting view), "
               "counted against the order's channel. Refunds of cancelled orders are left out: "
               "those orders were never counted as sales.",
    sql=f"select {{key}} as key, sum(amount) as value from valid_refunds {WHERE} group by all",
    better="down",
)
NET_SALES = Kpi(
    name="net_sales", label="Net sales", unit="money",
    definition="Gross sales − discounts of orders placed in the period − refunds made in the "
               "period. Excludes shipping and tax. An order marked refunded is subtracted once, "
               "through its refund rows.",
    sql=f"""select {{key}} as key, sum(amount) as value from (
                select day, channel, gross_sales - discounts as amount from valid_orders
                union all
                select day, channel, -amount from valid_refunds
            ) {WHERE} group by all""",
)
AOV = Kpi(
    name="aov", label="Average order value", unit="money",
    definition="(Gross sales − discounts) ÷ orders, cancelled orders excluded (Shopify's "
               "definition since 2023: no shipping, no tax, no later refunds).",
    sql=f"""select {{key}} as key, sum(gross_sales - discounts) as numerator,
                   count(*) as denominator,
                   sum(gross_sales - discounts) / nullif(count(*), 0) as value
            from valid_orders {WHERE} group by all""",
    by=("day", "week", "month", "channel", "device"),
    ratio=True, empty=None,
)

KPIS = (ORDERS, GROSS_SALES, DISCOUNTS, RETURNS, NET_SALES, AOV)
