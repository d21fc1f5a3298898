"""UCI "Online Retail" transaction files (one row per invoice line), both namings:
InvoiceNo/UnitPrice/CustomerID (2010–2011) and Invoice/Price/Customer ID ("Online Retail II").

Rules: invoices starting with C are cancellations/returns → refunds (dated on the credit note;
the original invoice is not given, so they carry the credit note's number); A… invoices are
bad-debt adjustments and lines with a negative quantity outside C invoices are stock
adjustments: neither is a sale. Nor is an invoice whose product lines are all at price 0 and
that names no customer: the warehouse's stock corrections ("check", "found", "Unknown",
"adjustment", "had been put aside"), 765 of them in 2010–2011. Non-product codes (POST, DOT,
M, D, BANK CHARGES, AMAZONFEE, …) are not products: postage becomes shipping. CustomerID may
be a float ("17850.0") or missing (a guest). There is no channel in these files. Amounts are
in pounds sterling (a UK shop).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...formatting import plural
from ...schema import MONEY
from . import Columns, Context, emit, read_numbers

NON_PRODUCT = ("POST", "DOT", "M", "D", "S", "B", "C2", "CRUK", "PADS", "BANK CHARGES",
               "AMAZONFEE", "ADJUST", "ADJUST2", "TEST001", "TEST002")
POSTAGE = ("POST", "DOT", "C2")
CURRENCY = "GBP"


@dataclass(frozen=True)
class _OnlineRetail:
    name: str = "UCI Online Retail"

    def match(self, headers: list[str]) -> bool:
        h = set(headers)
        return {"stockcode", "quantity"} <= h and bool({"invoiceno", "invoice"} & h) \
            and bool({"invoicedate"} & h) and bool({"unitprice", "price"} & h)

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        invoice, date = c.name("invoiceno", "invoice"), c.name("invoicedate")
        qty, price = c.name("quantity"), c.name("unitprice", "price")
        value = f"{qty} × {price}"
        non_product = ", ".join(f"'{x}'" for x in NON_PRODUCT)
        postage = ", ".join(f"'{x}'" for x in POSTAGE)
        price_col = "unitprice" if c.has("unitprice") else "price"
        num, keep, rejected = read_numbers(con, raw, c, {"quantity": "BIGINT",
                                                         price_col: MONEY}, ctx.allow_partial,
                                                 ctx.notes)
        lines = f"lines_{raw.table}"   # read once: four queries use them
        con.execute(f"""create or replace temp table {lines} as
            select _row, {c.first('invoiceno', 'invoice')} as invoice,
                   upper({c['stockcode']}) as code, {c['description']} as description,
                   {num['quantity']} as qty, {num[price_col]} as price,
                   {c['invoicedate']} as ts, {c['country']} as country,
                   -- "17850.0", "17850,0" (a decimal comma) and "17850" are the same customer
                   regexp_replace({c.first('customerid', 'customer_id')}, '[.,]0+$', '')
                       as customer
            from {raw.table} where {keep}""")
        lines = f"select * from {lines}"
        product = f"code not in ({non_product})"
        # A free gift beside priced lines is part of a sale, and so is an invoice of free goods
        # for a named customer; a bad price is not zero here, so validation reports it.
        adjustments = f"""
            select invoice from l
            where not starts_with(invoice, 'C') and not starts_with(invoice, 'A')
              and {product} and qty > 0
            group by invoice
            having max(customer) is null and bool_and(coalesce(price = 0, false))"""
        sale = ("not starts_with(invoice, 'C') and not starts_with(invoice, 'A') "
                f"and invoice not in ({adjustments})")
        orders_sql = f"""
            with l as ({lines})
            select min(_row) as _row, invoice as order_id, arg_min(ts, _row) as ordered_at,
                   max(customer) as customer_id, 'paid' as status,
                   '{CURRENCY}' as currency,
                   sum(qty * price) filter (where {product} and qty > 0) as gross_sales,
                   0 as discounts,
                   coalesce(sum(qty * price) filter (where code in ({postage})), 0) as shipping,
                   max(country) as country
            from l where {sale} group by invoice
            having count(*) filter (where {product} and qty > 0) > 0"""
        orders = emit(con, raw.name, orders_sql,
                      ["order_id", "ordered_at", "customer_id", "status", "currency",
                       "gross_sales", "discounts", "shipping", "country"],
                      source="orders", origin={
                          "order_id": invoice, "ordered_at": date,
                          "customer_id": c.name("customerid", "customer_id"),
                          "gross_sales": f"{value} of the product lines",
                          "shipping": f"{value} of the postage lines "
                                      f"({', '.join(POSTAGE)} in {c.name('stockcode')})",
                          "country": c.name("country")})
        # No order status in these files (a cancellation is a C… credit note, stored as a
        # refund): every order is stored 'paid', and its raw status left empty to say so
        # (kpilib.caveats: no cancellation rate).
        orders.untracked = frozenset({"status_raw"})
        items_sql = f"""
            with l as ({lines})
            select _row, invoice as order_id,
                   row_number() over (partition by invoice order by _row) as line,
                   code as sku, qty as quantity, price as unit_price,
                   description as product_name, ts as ordered_at
            from l where {sale} and {product} and (qty > 0 or qty is null)"""
        items = emit(con, raw.name, items_sql, ["order_id", "line", "sku", "quantity",
                                                 "unit_price", "product_name", "ordered_at"],
                     source="order lines", rejected=rejected, origin={
                         "order_id": invoice, "sku": c.name("stockcode"), "quantity": qty,
                         "unit_price": price, "product_name": c.name("description"),
                         "ordered_at": date})
        refunds_sql = f"""
            with l as ({lines})
            select min(_row) as _row, invoice as refund_id, invoice as order_id,
                   arg_min(ts, _row) as refunded_at, -sum(qty * price) as amount,
                   -sum(qty) as quantity, 'cancellation / return' as reason,
                   max(country) as refund_country
            from l where starts_with(invoice, 'C') and {product} group by invoice
            having sum(qty * price) < 0"""
        refunds = emit(con, raw.name, refunds_sql,
                       ["refund_id", "order_id", "refunded_at", "amount", "quantity", "reason",
                        "refund_country"],
                       source="refunds", origin={
                           "refund_id": f"{invoice} of the credit notes (C…)",
                           "order_id": f"{invoice} of the credit note (the original invoice "
                                       "is not in the file)",
                           "refunded_at": date, "amount": f"{value}, sign reversed",
                           "quantity": f"{qty}, sign reversed",
                           "refund_country": f"{c.name('country')} of the credit note"})
        ctx.notes.append(f"{raw.name}: no channel in this format (orders are 'unknown'); "
                         "credit notes (C…) are stored as refunds without their original "
                         "invoice")
        n = con.execute(f"with l as ({lines}) select count(*) from ({adjustments})"
                        ).fetchall()[0][0]
        if n:
            verb = "is a stock adjustment" if n == 1 else "are stock adjustments"
            ctx.notes.append(f"{raw.name}: {plural(n, 'invoice')} with only zero-priced lines "
                             f"and no customer {verb}, not {'an order' if n == 1 else 'orders'}")
        # A month without credit notes has no refunds, which is no reason to refuse it.
        return [("orders", orders), ("order_items", items)] + \
            ([("refunds", refunds)] if refunds.rows else [])


IMPORTER = _OnlineRetail()
