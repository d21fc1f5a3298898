"""Sales KPIs, from `orders` and `refunds`. Cancelled orders count as the store's setting says
(kpilib.registry.CANCELLED)."""
from .dimensions import Measure
from .kpi import Kpi
from .measures import difference, ratio, total
from .rollup_reads import WHOLE_MONTHS, edge_days, whole_months
from .rollups import PRODUCT_MEASURES

WHERE = "where day between $start and $end and in_filter(channel, $channels)"
ORDERS_ALL = "{src:orders}"
BY_DEVICE = ("day", "week", "month", "channel", "device")

# The measures, each declared once (kpilib/dimensions.py): valid orders, their goods (by
# category, the order lines'), refunds and their goods (by category, spread over the lines).
N = Measure("valid_orders", "n")
GROSS = Measure("order_goods", "gross_sales")
DISCOUNT = Measure("order_goods", "discounts")
GOODS_NET = Measure("order_goods", "gross_sales - discounts")
REFUNDED = Measure("refunded_goods", "amount")

ORDERS = total(
    "orders", "Orders", "count", "Orders placed in the period, by the day they were placed.",
    N, by=BY_DEVICE)
GROSS_SALES = total(
    "gross_sales", "Gross sales", "money",
    "Value of the products sold (quantity × unit price) before discounts, shipping and "
    "tax, for orders placed in the period.", GROSS)
DISCOUNTS = total(
    "discounts", "Discounts", "money", "Discounts granted on orders placed in the period.",
    DISCOUNT, better="down")
DISCOUNT_RATE = ratio(
    "discount_rate", "Discount rate", DISCOUNT, GROSS,
    "Discounts ÷ gross sales of the orders placed in the period.", better="down")
NET_SALES = difference(
    "net_sales", "Net sales", GOODS_NET, REFUNDED,
    "Gross sales − discounts of orders placed in the period − refunds made in the "
    "period. Excludes shipping and tax. An order marked refunded is subtracted once, "
    "through its refund rows.")
AOV = ratio(
    "aov", "Average order value (before returns)",
    Measure("valid_orders", "gross_sales - discounts"), N,
    "(Gross sales − discounts) ÷ orders (Shopify's "
    "definition since 2023: no shipping, no tax, no later refunds). Net sales ÷ "
    "orders is lower by the returns: net sales subtract them, this does not.",
    unit="money", by=BY_DEVICE)

# Refunded shipping and tax are subtracted on the refund's day, as Shopify's reports do:
# returns are goods only (net sales), and the waterfall gross → net → total still adds up.
SHIPPING = difference(
    "shipping", "Shipping", Measure("valid_orders", "shipping"),
    Measure("valid_refunds", "shipping"),
    "Shipping charged on orders placed in the period, less shipping refunded in the "
    "period (where the export tells it apart from the goods).", better=None)
TAX = difference(
    "tax", "Tax", Measure("valid_orders", "tax"), Measure("valid_refunds", "tax"),
    "Tax charged on orders placed in the period, less tax refunded in the period "
    "(where the export tells it apart from the goods).", better=None)
TIPS = total(
    "tips", "Tips", "money",
    "Tips customers added to the orders placed in the period (Shopify's tip line). "
    "Not a sale of goods: in no sales figure, AOV, units "
    "or product, and no discount is spread onto them. A refunded tip is not "
    "subtracted.", Measure("valid_orders", "tips"), better=None)
TOTAL_SALES = difference(
    "total_sales", "Total sales",
    Measure("valid_orders", "gross_sales - discounts + coalesce(shipping, 0) + coalesce(tax, 0)"),
    Measure("valid_refunds", "amount + coalesce(shipping, 0) + coalesce(tax, 0)"),
    "Net sales + shipping + tax (each net of its refunds): what customers paid for "
    "their orders, after refunds. Tips are not included.")
UNITS_PER_ORDER = ratio(
    "units_per_order", "Units per order", Measure("sales_lines", "quantity"), N,
    "Units in the order lines of valid orders placed in the period ÷ those orders.",
    unit="decimal", by=BY_DEVICE)
CANCELLATION_RATE = ratio(
    "cancellation_rate", "Cancellation rate",
    Measure("orders", "n", where="status = 'cancelled'"), Measure("orders", "n"),
    "Cancelled orders ÷ all orders placed in the period, whichever way the other "
    "figures count them.", by=BY_DEVICE, better="down")
FULFILMENT_DAYS = Kpi(
    name="fulfilment_days", label="Fulfilment time", unit="days",
    definition="Median days from order to shipment (each order timed to the nearest hour), for "
               "valid orders placed in the period that have shipped.",
    # The median of a histogram of hours: of N orders, the mean of the ((N + 1) // 2)-th and
    # the (N // 2 + 1)-th shortest (the middle one, or the two middle ones).
    sql=f"""with h as (select {{key}} as key, hours, sum(n)::bigint as n
                       from {{src:shipping_times}} group by all),
                 c as (select key, hours,
                              sum(n) over (partition by key order by hours
                                           rows unbounded preceding) as upto,
                              sum(n) over (partition by key) as total
                       from h)
            select key, (min(hours) filter (where upto >= (total + 1) // 2)
                         + min(hours) filter (where upto >= total // 2 + 1)) / 48.0 as value
            from c group by all""",
    by=("day", "week", "month", "channel", "device"), empty=None, better="down", rollup=True,
)



def _shipped_within(days: int) -> Kpi:
    return ratio(
        f"shipped_within_{days}d", f"Shipped within {days} day{'s' * (days > 1)}",
        Measure("valid_orders", f"shipped_{days}d"), Measure("valid_orders", "shipped"),
        f"Shipped orders that left within {days} × 24 hours of being placed ÷ "
        "shipped orders, for valid orders placed in the period.")


SHIPPED_1D, SHIPPED_2D, SHIPPED_5D = (_shipped_within(d) for d in (1, 2, 5))

ORDERS_BY_STATUS = Kpi(
    name="orders_by_status", label="Orders by status", unit="count", table=True,
    definition="Orders placed in the period by their current status (placed, paid, fulfilled, "
               "shipped, delivered, cancelled, refunded, partially refunded).",
    sql=f"""select {{key}} as key, status, sum(n) as orders from {ORDERS_ALL}
            group by all order by orders desc""",
    by=("channel",), rollup=True,
)
# Sales by product in the period: its whole months from a monthly rollup (running totals over
# all channels when no channel is picked), the days before and after them from the daily one;
# by category, day by day. Refunds are spread onto the lines they concern, whenever made.
_MEASURES = "units, gross, discount, refunded"
TOP_PRODUCTS = Kpi(
    name="top_products", label="Top products", unit="money", table=True,
    definition="Products by net sales of the orders placed in the period: line value − its "
               "share of the order's discount − refunds on that line (whenever refunded).",
    # {key} is 'total' unless split by channel: the running totals over all channels
    # (product_cum: two rows per SKU) answer only an unsplit view of every channel.
    sql=f"""with whole as ({whole_months("product_cum", "sku", PRODUCT_MEASURES)}),
            pl as (
                select * from (select sku, null::varchar as channel, {_MEASURES} from whole)
                where len($channels) = 0 and {{key}} = 'total'
                  and (units <> 0 or gross <> 0 or refunded <> 0)
                union all
                select sku, channel, {_MEASURES} from product_monthly
                where (len($channels) > 0 or {{key}} <> 'total') and in_filter(channel, $channels)
                  and {WHOLE_MONTHS}
                union all
                select sku, channel, {_MEASURES} from ({edge_days("product_daily")})
                where in_filter(channel, $channels)),
            per as (select {{key}} as key, sku, sum(units) as units, sum(gross) as gross_sales,
                           sum(gross - discount) as sales,
                           sum(gross - discount - refunded) as net_sales, sum(refunded) as returns
                    from pl group by all)
            select key, sku, n.product_name, n.category, units, gross_sales, sales, net_sales,
                   returns
            from per left join product_names n using (sku) order by net_sales desc, sku""",
    by=("channel",), window="return",
)
TOP_CATEGORIES = Kpi(
    name="top_categories", label="Top categories", unit="money", table=True,
    definition="Categories by net sales of the orders placed in the period (as for products), "
               "with their return rate: refunds on those lines ÷ their value.",
    sql=f"""select {{key}} as key, category, sum(units) as units, sum(gross) as gross_sales,
                   sum(gross - discount - refunded) as net_sales, sum(refunded) as returns,
                   sum(refunded) / nullif(sum(gross), 0) as return_rate
            from category_daily {WHERE} group by all order by net_sales desc, category""",
    by=("channel",), window="return",
)
KPIS = (ORDERS, GROSS_SALES, DISCOUNTS, DISCOUNT_RATE, NET_SALES, SHIPPING, TAX, TIPS, TOTAL_SALES,
        AOV, UNITS_PER_ORDER, CANCELLATION_RATE, FULFILMENT_DAYS, SHIPPED_1D, SHIPPED_2D,
        SHIPPED_5D, ORDERS_BY_STATUS, TOP_PRODUCTS, TOP_CATEGORIES)

