"""After-sales KPIs: refunds, return rates and reasons. Returns are dated by the refund date
(the accounting view) or by the order date (the cohort view); a cancelled order's own refund rows
are never returns (the order counts as the store's setting says: kpilib.registry.CANCELLED),
and an order marked refunded is subtracted once, through its refund rows."""
from .dimensions import Measure
from .kpi import Kpi
from .measures import ratio, total

BY_DEVICE = ("day", "week", "month", "channel", "device")
# What was refunded on each valid order, whenever (kpilib/store/views.py: order_returns).
REFUNDED_ON_ORDERS = Measure("order_returns", "refunded")

RETURNS = total(
    "returns", "Returns", "money",
    "Goods refunded in the period, dated by the refund date (the accounting view), "
    "counted against the order's channel; refunded shipping and tax count in "
    "shipping and tax. The export's refunds of a cancelled "
    "order are left out, so that nothing counts twice.",
    Measure("refunded_goods", "amount"), better="down", needs=("refunds",))
# What an export's refunds are, said beside the returns only to a shop that uploaded it (by
# the importer that read it, kpilib.ingest.versions.importers): a shop that never used
# Shopify was told how Shopify's refunds are dated.
NOTES = {
    "Shopify orders export":
        "As in Shopify's reports, refunded shipping and tax are not returns. Shopify's orders "
        "export gives one refunded amount per order and no refund date, so "
        "its refunds are dated on the order (or cancellation) date, and a partial refund is "
        "taken as goods with their tax (in the order's proportion), then shipping, then the "
        "tip: an approximation where a refund returned shipping without the goods.",
}


def notes(importers: set[str]) -> list[str]:
    """The notes on returns of the exports a store holds (:data:`NOTES`)."""
    return [text for importer, text in NOTES.items() if importer in importers]
RETURNS_BY_ORDER_DATE = total(
    "returns_by_order_date", "Returns (by order date)", "money",
    "Money refunded on the orders placed in the period, whenever the refund was "
    "made (the cohort view: recent periods still grow while their return window is "
    "open).", REFUNDED_ON_ORDERS, better="down", needs=("orders", "refunds"), window="return")
RETURN_RATE_VALUE = ratio(
    "return_rate_value", "Return rate (value)", REFUNDED_ON_ORDERS,
    Measure("order_returns", "gross_sales"),
    "Refunds on the orders placed in the period ÷ their gross sales (by order date).",
    by=BY_DEVICE, better="down", needs=("orders", "refunds"), window="return")
RETURN_RATE_ORDERS = ratio(
    "return_rate_orders", "Return rate (orders)", Measure("order_returns", "refunded_orders"),
    Measure("order_returns", "n"),
    "Valid orders placed in the period with at least one refund ÷ valid orders "
    "placed in the period.",
    by=BY_DEVICE, better="down", needs=("orders", "refunds"), window="return")
REFUND_REASONS = Kpi(
    name="refund_reasons", label="Refund reasons", unit="money", table=True,
    definition="Refunds made in the period by the reason the export gives ('not given' when "
               "empty): how many and how much.",
    sql=f"""select {{key}} as key, coalesce(nullif(trim(reason), ''), 'not given') as reason,
                   sum(n) as refunds, sum(amount) as amount
            from {{src:valid_refunds}} group by all order by amount desc""",
    by=("channel",), rollup=True, needs=("refunds",),
)

KPIS = (RETURNS, RETURNS_BY_ORDER_DATE, RETURN_RATE_VALUE, RETURN_RATE_ORDERS,
        REFUND_REASONS)

