"""After-sales KPIs: refunds, return rates and reasons. Returns are dated by the refund date
(the accounting view) or by the order date (the cohort view); a cancelled order's own refund rows
are never returns (the order counts as the store's setting says: kpilib.registry.CANCELLED),
and an order marked refunded is subtracted once, through its refund rows."""
from .kpi import Kpi

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

RETURNS = Kpi(
    name="returns", label="Returns", unit="money",
    definition="Goods refunded in the period, dated by the refund date (the accounting view), "
               "counted against the order's channel; refunded shipping and tax count in "
               "shipping and tax, as in Shopify's reports. The export's refunds of a cancelled "
               "order are left out, so that nothing counts twice. Shopify's orders export gives "
               "one refunded amount per order and no refund date, so its refunds are dated on "
               "the order (or cancellation) date, and a partial refund is taken as goods with "
               "their tax (in the order's proportion), then shipping, then the tip: an "
               "approximation where a refund returned shipping without the goods.",
    sql=f"select {{key}} as key, sum(amount) as value from valid_refunds {WHERE} group by all",
    better="down", rollup=True, additive=True, needs=("refunds",),
)
RETURNS_BY_ORDER_DATE = Kpi(
    name="returns_by_order_date", label="Returns (by order date)", unit="money",
    definition="Money refunded on the orders placed in the period, whenever the refund was "
               "made (the cohort view: recent periods still grow while their return window is "
               "open).",
    sql=f"select {{key}} as key, sum(refunded) as value from order_returns {WHERE} group by all",
    better="down", rollup=True, additive=True, needs=("orders", "refunds"), window="return",
)
RETURN_RATE_VALUE = Kpi(
    name="return_rate_value", label="Return rate (value)", unit="ratio",
    definition="Refunds on the orders placed in the period ÷ their gross sales (by order date).",
    sql=f"""select {{key}} as key, sum(refunded) as numerator, sum(gross_sales) as denominator,
                   sum(refunded) / nullif(sum(gross_sales), 0) as value
            from order_returns {WHERE} group by all""",
    by=("day", "week", "month", "channel", "device"), ratio=True, empty=None, better="down",
    rollup=True, additive=True, needs=("orders", "refunds"), window="return",
)
RETURN_RATE_ORDERS = Kpi(
    name="return_rate_orders", label="Return rate (orders)", unit="ratio",
    definition="Valid orders placed in the period with at least one refund ÷ valid orders "
               "placed in the period.",
    sql=f"""select {{key}} as key, sum(refunded_orders) as numerator, sum(n) as denominator,
                   sum(refunded_orders) / nullif(sum(n), 0) as value
            from order_returns {WHERE} group by all""",
    by=("day", "week", "month", "channel", "device"), ratio=True, empty=None, better="down",
    rollup=True, additive=True, needs=("orders", "refunds"), window="return",
)
REFUND_REASONS = Kpi(
    name="refund_reasons", label="Refund reasons", unit="money", table=True,
    definition="Refunds made in the period by the reason the export gives ('not given' when "
               "empty): how many and how much.",
    sql=f"""select {{key}} as key, coalesce(nullif(trim(reason), ''), 'not given') as reason,
                   sum(n) as refunds, sum(amount) as amount
            from valid_refunds {WHERE} group by all order by amount desc""",
    by=("channel",), rollup=True, needs=("refunds",),
)

KPIS = (RETURNS, RETURNS_BY_ORDER_DATE, RETURN_RATE_VALUE, RETURN_RATE_ORDERS,
        REFUND_REASONS)

