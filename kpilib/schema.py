"""The data contract: canonical tables, their columns, keys and partitioning.

Everything downstream (ingest, store views, KPIs, templates) reads these constants, so a column
is declared once. Names here are code constants and are the only identifiers that reach SQL text.
"""
from __future__ import annotations

from dataclasses import dataclass

# Status vocabulary from KPIS.md; raw platform values are kept in `status_raw`.
STATUSES = ("placed", "paid", "fulfilled", "shipped", "delivered", "cancelled", "refunded",
            "partially_refunded")

MONEY = "DECIMAL(18,2)"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type: VARCHAR, BIGINT, DATE, TIMESTAMP, DECIMAL(18,2)
    required: bool = True
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]          # natural key: unique within a file, upsert key in the store
    date_column: str | None       # partitions the table by month; None = one partition
    description: str

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def C(name, type_, required=True, *aliases):
    return Column(name, type_, required, tuple(aliases))


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("orders", (
        C("order_id", "VARCHAR", True, "order", "order_number", "id"),
        C("ordered_at", "TIMESTAMP", True, "created_at", "order_date", "date"),
        C("customer_id", "VARCHAR", False, "customer"),
        C("channel", "VARCHAR", False, "source", "marketing_channel"),
        C("status", "VARCHAR", True, "order_status"),
        C("status_raw", "VARCHAR", False),
        C("currency", "VARCHAR", False),
        C("gross_sales", MONEY, True, "subtotal", "gross"),
        C("discounts", MONEY, True, "discount", "discount_amount"),
        C("shipping", MONEY, False, "shipping_amount"),
        C("tax", MONEY, False, "taxes"),
        # Tips are not sales of goods: apart, like shipping (Shopify's "Tip" line).
        C("tips", MONEY, False, "tip"),
        C("device", "VARCHAR", False),
        C("country", "VARCHAR", False),
        C("shipped_at", "TIMESTAMP", False),
        C("delivered_at", "TIMESTAMP", False),
        # When a cancelled order was cancelled: the day of its return under Shopify's
        # convention for cancelled orders (a store setting).
        C("cancelled_at", "TIMESTAMP", False, "canceled_at", "cancellation_date"),
        C("discount_code", "VARCHAR", False),
        C("utm_campaign", "VARCHAR", False, "campaign"),
    ), ("order_id",), "ordered_at", "One row per order."),
    Table("order_items", (
        C("order_id", "VARCHAR"),
        C("line", "BIGINT", False, "line_number", "line_no"),
        C("sku", "VARCHAR", True, "product_id", "variant_sku"),
        C("quantity", "BIGINT", True, "qty"),
        C("unit_price", MONEY, True, "price"),
        C("product_name", "VARCHAR", False, "name", "title"),
        C("category", "VARCHAR", False),
        C("ordered_at", "TIMESTAMP", False),
    ), ("order_id", "line"), "ordered_at", "One row per order line."),
    Table("refunds", (
        C("refund_id", "VARCHAR", False),
        C("order_id", "VARCHAR"),
        C("refunded_at", "TIMESTAMP", True, "refund_date", "date"),
        # The goods returned; refunded shipping and tax apart where the export tells them.
        C("amount", MONEY, True, "refund_amount"),
        C("shipping", MONEY, False, "refunded_shipping"),
        C("tax", MONEY, False, "refunded_tax"),
        C("sku", "VARCHAR", False),
        C("quantity", "BIGINT", False),
        C("reason", "VARCHAR", False),
        # The refund's own country, for a refund whose order has none (a UCI credit note names
        # no invoice); a stored order's country comes first. Not "country": refunds are joined
        # to their order's (kpilib/dimensions.py), and two columns of one name pick either.
        C("refund_country", "VARCHAR", False, "country"),
    ), ("refund_id",), "refunded_at", "One row per refund."),
    Table("traffic", (
        C("date", "DATE", True, "day"),
        C("channel", "VARCHAR", True, "default_channel_group", "session_default_channel_group"),
        C("device", "VARCHAR", False, "device_category"),
        C("sessions", "BIGINT"),
        C("users", "BIGINT", False, "total_users"),
        C("new_users", "BIGINT", False),
        C("product_views", "BIGINT", True, "views", "item_views"),
        C("add_to_carts", "BIGINT", True, "adds_to_cart", "add_to_cart"),
        C("checkouts", "BIGINT", True, "begin_checkout"),
        C("purchases", "BIGINT", True, "transactions"),
    ), ("date", "channel", "device"), "date", "Sessions and funnel steps by day and channel."),
    Table("inventory", (
        C("date", "DATE", True, "snapshot_date"),
        C("sku", "VARCHAR"),
        C("on_hand", "BIGINT", True, "stock", "available", "quantity_on_hand"),
    ), ("date", "sku"), "date", "Stock on hand per SKU, one snapshot per day."),
    Table("products", (
        C("sku", "VARCHAR"),
        C("product_name", "VARCHAR", False, "name", "title"),
        C("category", "VARCHAR", False, "product_type"),
        C("unit_cost", MONEY, False, "cost", "cost_per_item"),
        C("price", MONEY, False),
    ), ("sku",), None, "One row per SKU."),
    Table("marketing_spend", (
        C("date", "DATE", True, "day"),
        C("channel", "VARCHAR"),
        C("campaign", "VARCHAR", False, "campaign_name"),
        C("spend", MONEY, True, "cost", "amount_spent", "spent"),
        C("impressions", "BIGINT", False, "impr"),
        C("clicks", "BIGINT", False),
        # What the ad platform counts as conversions (purchases it claims), kept to reconcile
        # with the shop's orders; fractional where the platform shares one out (Google Ads).
        C("conversions", "DECIMAL(18,2)", False, "purchases", "website_purchases",
          "approved_conversion"),
    ), ("date", "channel", "campaign"), "date", "Advertising spend by day, channel and campaign."),
)}

# Each table as a manager names it, for sentences ("order lines of Mar 2011").
WORDS = {"orders": "orders", "order_items": "order lines", "refunds": "refunds",
         "traffic": "traffic", "marketing_spend": "ad spend", "inventory": "stock snapshots",
         "products": "products"}

# Counts that can never be negative: a negative value is an export error, not a return.
NON_NEGATIVE = {
    "traffic": ("sessions", "users", "new_users", "product_views", "add_to_carts", "checkouts",
                "purchases"),
    "inventory": (),  # negative on-hand exists (oversold) and is handled by the stock KPIs
    "marketing_spend": ("spend", "impressions", "clicks", "conversions"),
    "orders": ("gross_sales",),
    "order_items": ("quantity",),
    "refunds": ("amount",),
    "products": (),
}


def template_csv(table: str) -> str:
    """An empty CSV with the canonical header, for users preparing a file by hand."""
    return ",".join(TABLES[table].names) + "\n"
