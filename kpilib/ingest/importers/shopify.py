"""Shopify admin exports: "Export orders" (one row per line item, order fields on the order's
first row only) and the products export (one row per variant)."""
from __future__ import annotations

from dataclasses import dataclass

from ...channels import label_sql, source_medium_sql
from ...formatting import plural
from ..prepare import salted_hash_sql
from . import Columns, Context, emit

MARKETPLACES = ("amazon", "ebay", "etsy", "zalando", "cdiscount", "walmart")


@dataclass(frozen=True)
class _Orders:
    name: str = "Shopify orders export"

    def match(self, headers: list[str]) -> bool:
        return {"name", "financial_status", "lineitem_quantity", "lineitem_price",
                "created_at"} <= set(headers)

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        # Order-level fields sit on the first line of each order: take them per order.
        o = (f"select _row, {c['name']} as name, {c['email']} as email, "
             f"lower({c['financial_status']}) as fin, lower({c['fulfillment_status']}) as ful, "
             f"{c['currency']} as currency, {c['discount_amount']} as discounts, "
             f"{c['shipping']} as shipping, {c['taxes']} as tax, {c['created_at']} as created_at, "
             f"{c['cancelled_at']} as cancelled_at, {c['fulfilled_at']} as fulfilled_at, "
             f"{c['refunded_amount']} as refunded, lower({c['source']}) as source, "
             f"lower(concat_ws(' ', {c['tags']}, {c['note_attributes']})) as tags, "
             f"{c['shipping_country']} as country, "
             f"try_cast({c['lineitem_quantity']} as bigint) as qty, "
             f"try_cast({c['lineitem_price']} as decimal(18,2)) as price, "
             f"{c['lineitem_quantity']} as qty_text, {c['lineitem_price']} as price_text, "
             f"coalesce({c['lineitem_sku']}, {c['lineitem_name']}) as sku, "
             f"{c['lineitem_name']} as product_name from {raw.table}")
        utm_s = "nullif(regexp_extract(tags, 'utm_source[:=]\\s*([\\w.()-]+)', 1), '')"
        utm_m = "nullif(regexp_extract(tags, 'utm_medium[:=]\\s*([\\w.()-]+)', 1), '')"
        market = " or ".join(f"source like '%{m}%'" for m in MARKETPLACES)
        channel = (f"case when {utm_s} is not null or {utm_m} is not null "
                   f"then {source_medium_sql(utm_s, utm_m)} "
                   f"when {market} then 'marketplace' "
                   "when source = 'shopify_draft_order' then 'direct' "
                   "when source in ('web', 'iphone', 'android') or source is null then 'unknown' "
                   f"else {label_sql('source')} end")
        orders_sql = f"""
            with l as ({o}), ord as (
                select name, min(_row) as _row, max(email) as email, max(fin) as fin,
                       max(ful) as ful, max(currency) as currency, max(discounts) as discounts,
                       max(shipping) as shipping, max(tax) as tax, max(created_at) as created_at,
                       max(cancelled_at) as cancelled_at, max(fulfilled_at) as fulfilled_at,
                       max(refunded) as refunded, max(source) as source, max(tags) as tags,
                       max(country) as country,
                       -- gross sales derive from the lines, as the data contract says
                       sum(qty * price) as gross,
                       bool_or(qty is null or price is null) as bad_line
                from l group by name)
            select _row, name as order_id, created_at as ordered_at,
                   {salted_hash_sql('lower(trim(email))')} as customer_id,
                   {channel} as channel,
                   case when cancelled_at is not null or fin = 'voided' then 'cancelled'
                        when fin in ('refunded', 'partially_refunded') then fin
                        when ful = 'fulfilled' then 'fulfilled'
                        when ful = 'partial' then 'shipped'
                        when fin in ('paid', 'partially_paid') then 'paid'
                        when fin in ('pending', 'authorized') then 'placed'
                        else fin end as status,
                   concat_ws(' / ', fin, ful) as status_raw, currency,
                   case when bad_line then null else gross end as gross_sales,
                   coalesce(discounts, '0') as discounts, shipping, tax, country,
                   fulfilled_at as shipped_at
            from ord"""
        cols = ["order_id", "ordered_at", "customer_id", "channel", "status", "status_raw",
                "currency", "gross_sales", "discounts", "shipping", "tax", "country",
                "shipped_at"]
        orders = emit(con, raw.name, orders_sql, cols, {"salt": ctx.salt}, "orders",
                      _orders_origin(c))
        items_sql = f"""
            with l as ({o})
            select _row, name as order_id,
                   row_number() over (partition by name order by _row) as line, sku,
                   qty_text as quantity, price_text as unit_price, product_name,
                   max(created_at) over (partition by name) as ordered_at
            from l"""
        items = emit(con, raw.name, items_sql, ["order_id", "line", "sku", "quantity",
                                                 "unit_price", "product_name", "ordered_at"],
                     source="order lines", origin={
                         "order_id": c.name("name"),
                         "sku": _either(c.name("lineitem_sku"), c.name("lineitem_name")),
                         "quantity": c.name("lineitem_quantity"),
                         "unit_price": c.name("lineitem_price"),
                         "product_name": c.name("lineitem_name"),
                         "ordered_at": c.name("created_at")})
        # Lines first: a bad quantity or price is then reported on the line that has it.
        out = [("order_items", items), ("orders", orders)]
        # The export gives a refunded amount but no refund date: the refund is dated on the
        # cancellation if there is one, else on the order date, and the report says so.
        refunds_sql = f"""
            with l as ({o}), ord as (
                select name, min(_row) as _row, max(created_at) as created_at,
                       max(cancelled_at) as cancelled_at, max(refunded) as refunded
                from l group by name)
            select _row, 'shopify-' || name as refund_id, name as order_id,
                   coalesce(cancelled_at, created_at) as refunded_at, refunded as amount
            from ord where try_cast(refunded as decimal(18,2)) > 0"""
        refunds = emit(con, raw.name, refunds_sql,
                       ["refund_id", "order_id", "refunded_at", "amount"], source="refunds",
                       origin={"refund_id": f"{c.name('name')}, prefixed shopify-",
                               "order_id": c.name("name"),
                               "refunded_at": _either(c.name("cancelled_at"),
                                                      c.name("created_at")),
                               "amount": c.name("refunded_amount")})
        if refunds.rows:
            n = refunds.rows
            ctx.notes.append(f"{raw.name}: Shopify's orders export has no refund dates; "
                             f"{plural(n, 'refund')} {'is' if n == 1 else 'are'} dated on "
                             f"{'its' if n == 1 else 'their'} order (or cancellation) date")
            out.append(("refunds", refunds))
        return out


@dataclass(frozen=True)
class _Products:
    name: str = "Shopify products export"

    def match(self, headers: list[str]) -> bool:
        return {"handle", "variant_sku", "variant_price"} <= set(headers)

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        sql = f"""
            select _row, {c['variant_sku']} as sku,
                   max({c['title']}) over (partition by {c['handle']}) as product_name,
                   max({c.first('type', 'product_category')}) over (partition by {c['handle']})
                       as category,
                   {c['cost_per_item']} as unit_cost, {c['variant_price']} as price
            from {raw.table} where {c['variant_sku']} is not null"""
        return [("products", emit(con, raw.name, sql,
                                  ["sku", "product_name", "category", "unit_cost", "price"],
                                  origin={"sku": c.name("variant_sku"),
                                          "product_name": c.name("title"),
                                          "category": c.name("type", "product_category"),
                                          "unit_cost": c.name("cost_per_item"),
                                          "price": c.name("variant_price")}))]


def _either(*headers: str | None) -> str | None:
    """Columns read in turn, the first that has a value: "Lineitem sku, else Lineitem name"."""
    return ", else ".join(h for h in headers if h) or None


def _orders_origin(c: Columns) -> dict[str, str | None]:
    tagged = " / ".join(h for h in (c.name("tags"), c.name("note_attributes")) if h)
    status = [c.name(n) for n in ("financial_status", "fulfillment_status", "cancelled_at")]
    return {
        "order_id": c.name("name"), "ordered_at": c.name("created_at"),
        "customer_id": c.name("email") and f"{c.name('email')}, hashed",
        "channel": _either(tagged and f"utm_source / utm_medium in {tagged}", c.name("source")),
        "status": ", ".join(h for h in status if h),
        "status_raw": " / ".join(h for h in status[:2] if h),
        "currency": c.name("currency"),
        "gross_sales": f"{c.name('lineitem_quantity')} × {c.name('lineitem_price')}",
        "discounts": c.name("discount_amount"), "shipping": c.name("shipping"),
        "tax": c.name("taxes"), "country": c.name("shipping_country"),
        "shipped_at": c.name("fulfilled_at")}


ORDERS, PRODUCTS = _Orders(), _Products()
