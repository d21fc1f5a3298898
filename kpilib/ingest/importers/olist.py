"""Olist (Brazilian marketplace) public dataset: related CSVs uploaded together, joined into
the canonical tables. customer_id is per order in Olist; customer_unique_id is the person, so it
becomes our customer id. Every order comes through the marketplace: channel 'marketplace'."""
from __future__ import annotations

from dataclasses import dataclass

from ...formatting import plural
from ...schema import MONEY
from ..errors import IngestError
from ..prepare import norm_header
from . import Columns, Context, emit, read_numbers

SIGNATURES = {
    "orders": {"order_id", "customer_id", "order_status", "order_purchase_timestamp"},
    "items": {"order_id", "order_item_id", "product_id", "price", "freight_value"},
    "customers": {"customer_id", "customer_unique_id"},
    "products": {"product_id", "product_category_name"},
    "translation": {"product_category_name", "product_category_name_english"},
    "payments": {"order_id", "payment_sequential", "payment_value"},
    "reviews": {"review_id", "order_id", "review_score"},
    "sellers": {"seller_id", "seller_zip_code_prefix"},
}
STATUS = {"delivered": "delivered", "shipped": "shipped", "canceled": "cancelled",
          "unavailable": "cancelled", "invoiced": "paid", "processing": "paid",
          "created": "placed", "approved": "paid"}


def _kind(raw) -> str | None:
    h = {norm_header(x) for x in raw.columns}
    for kind, sig in SIGNATURES.items():
        if sig <= h and not (kind == "customers" and "order_status" in h):
            return kind
    return None


@dataclass(frozen=True)
class _Olist:
    name: str = "Olist dataset"

    def match_group(self, raws):
        return [r for r in raws if _kind(r)]

    def convert_group(self, con, raws, ctx: Context):
        by = {}
        for r in raws:
            by[_kind(r)] = r
        if "orders" not in by:
            if set(by) & {"items", "customers"}:
                raise IngestError(raws[0].name, "this Olist file needs olist_orders_dataset.csv "
                                  "in the same upload (with the customers and order items files)")
            return []
        if "customers" not in by or "items" not in by:
            raise IngestError(by["orders"].name, "upload the Olist orders together with "
                              "olist_customers_dataset.csv and olist_order_items_dataset.csv: "
                              "customers give the person behind each order, items the amounts.")
        o, i, cu = Columns(by["orders"]), Columns(by["items"]), Columns(by["customers"])
        status = "case " + " ".join(f"when '{k}' then '{v}'" for k, v in STATUS.items()) + " end"
        num, keep, rejected = read_numbers(con, by["items"], i, {
            "price": MONEY, "freight_value": MONEY}, ctx.allow_partial, ctx.notes)
        items = f"""select {i['order_id']} as order_id, {i['order_item_id']} as line,
                           {i['product_id']} as sku, {num['price']} as price,
                           {num['freight_value']} as freight, _row
                    from {by['items'].table} where {keep}"""
        orders_sql = f"""
            with it as (select order_id, sum(price) as gross, sum(freight) as freight
                        from ({items}) group by order_id),
                 cu as (select {cu['customer_id']} as cid, {cu['customer_unique_id']} as uid
                        from {by['customers'].table})
            select o._row, {o['order_id']} as order_id,
                   {o['order_purchase_timestamp']} as ordered_at, cu.uid as customer_id,
                   'marketplace' as channel,
                   {status.replace('case ', f"case lower({o['order_status']}) ")} as status,
                   {o['order_status']} as status_raw, 'BRL' as currency,
                   coalesce(it.gross, 0) as gross_sales, 0 as discounts,
                   coalesce(it.freight, 0) as shipping,
                   {o['order_delivered_carrier_date']} as shipped_at,
                   {o['order_delivered_customer_date']} as delivered_at
            from {by['orders'].table} o
            left join it on it.order_id = {o['order_id']}
            left join cu on cu.cid = {o['customer_id']}"""
        items_file = by["items"].name
        out = [("orders", emit(con, by["orders"].name, orders_sql,
                               ["order_id", "ordered_at", "customer_id", "channel", "status",
                                "status_raw", "currency", "gross_sales", "discounts",
                                "shipping", "shipped_at", "delivered_at"], origin={
                                   "order_id": o.name("order_id"),
                                   "ordered_at": o.name("order_purchase_timestamp"),
                                   "customer_id": f"{cu.name('customer_unique_id')} of "
                                                  f"{by['customers'].name}",
                                   "status": o.name("order_status"),
                                   "status_raw": o.name("order_status"),
                                   "gross_sales": f"{i.name('price')} of {items_file}, summed "
                                                  "per order",
                                   "shipping": f"{i.name('freight_value')} of {items_file}, "
                                               "summed per order",
                                   "shipped_at": o.name("order_delivered_carrier_date"),
                                   "delivered_at": o.name("order_delivered_customer_date")}))]
        n_without = con.execute(
            f"select count(*) from {by['orders'].table} o where not exists (select 1 from "
            f"({items}) i where i.order_id = {o['order_id']})").fetchall()[0][0]
        if n_without:
            ctx.notes.append(f"{by['orders'].name}: {plural(n_without, 'order')} "
                             f"{'has' if n_without == 1 else 'have'} no items (gross sales 0)")
        category, cat_join, prod, cat_origin = "cast(null as varchar)", "", None, None
        if "products" in by:
            prod = _products_sql(by)
            category, cat_join = "p.category", f"left join ({prod}) p on p.sku = i.sku"
            cat_origin = _category_origin(by, elsewhere=True)
        items_sql = f"""
            select i._row, i.order_id, i.line, i.sku, 1 as quantity, i.price as unit_price,
                   {category} as category, o.ordered_at
            from ({items}) i
            left join (select {o['order_id']} as oid, {o['order_purchase_timestamp']}
                       as ordered_at from {by['orders'].table}) o on o.oid = i.order_id
            {cat_join}"""
        out.append(("order_items", emit(con, by["items"].name, items_sql,
                                        ["order_id", "line", "sku", "quantity", "unit_price",
                                         "category", "ordered_at"], rejected=rejected, origin={
                                            "order_id": i.name("order_id"),
                                            "line": i.name("order_item_id"),
                                            "sku": i.name("product_id"),
                                            "unit_price": i.name("price"),
                                            "category": cat_origin,
                                            "ordered_at": f"{o.name('order_purchase_timestamp')}"
                                                          f" of {by['orders'].name}"})))
        if prod:
            out.append(("products", emit(con, by["products"].name, prod, ["sku", "category"],
                                         origin={"sku": Columns(by["products"]).name("product_id"),
                                                 "category": _category_origin(by, False)})))
        joined = [r.name for k, r in by.items() if k in ("customers", "translation")]
        ctx.notes.append(f"used to join the Olist tables: {', '.join(joined)}")
        ignored = [r.name for k, r in by.items() if k in ("payments", "reviews", "sellers")]
        if ignored:
            ctx.notes.append(f"not needed for the dashboard, read but not stored: "
                             f"{', '.join(ignored)}")
        return out


def _category_origin(by, elsewhere: bool) -> str:
    """Where a product's category comes from, said in the products file or (``elsewhere``)
    in another one."""
    text = Columns(by["products"]).name("product_category_name")
    if elsewhere:
        text += f" of {by['products'].name}"
    if "translation" in by:
        text += f" (in English from {by['translation'].name})"
    return text


def _products_sql(by) -> str:
    """Products with their category in English when the translation file came along."""
    p = Columns(by["products"])
    if "translation" in by:
        t = Columns(by["translation"])
        return (f"select p._row, {p['product_id']} as sku, coalesce(t.en, "
                f"{p['product_category_name']}) as category from {by['products'].table} p "
                f"left join (select {t['product_category_name']} as pt, "
                f"{t['product_category_name_english']} as en from {by['translation'].table}) t "
                f"on t.pt = {p['product_category_name']}")
    return (f"select _row, {p['product_id']} as sku, {p['product_category_name']} as category "
            f"from {by['products'].table}")


IMPORTER = _Olist()
