"""Shopify admin exports: "Export orders" (one row per line item, order fields on the order's
first row only) and the products export (one row per variant)."""
from __future__ import annotations

from dataclasses import dataclass

from ...channels import label_sql, source_medium_sql
from ...formatting import plural
from ...schema import MONEY
from ..prepare import salted_hash_sql
from . import Columns, Context, emit, read_numbers, said

MARKETPLACES = ("amazon", "ebay", "etsy", "zalando", "cdiscount", "walmart")


# Where an order's UTM tags may be, most trusted first: note attributes written by the
# storefront or a tracking app, then the URLs Shopify recorded. Source, medium and campaign are
# read together from the first of them that has a source or a medium.
UTM_FIELDS = ("note_attributes", "landing_site", "referring_site", "tags")
URLS = ("landing_site", "referring_site")


def _utm(key: str, text: str, url: bool) -> str:
    """SQL: the first non-empty value of UTM ``key`` in ``text``, in any of the spellings the
    export carries: ``utm_source: x`` (a note attribute's line), ``utm_source=x`` (a tag or a
    query string) and ``"utm_source":"x"`` (JSON written by a tracking app, escaped or not).
    A URL's value is percent-decoded."""
    # ``key`` is a code constant; the value ends at a quote, a line end or the next parameter.
    pattern = rf'(?i)(?:^|[^a-z0-9_]){key}\\?"?[ \t]*[:=][ \t]*\\?"?([^"\\\r\n&#,;]*)'
    found = (f"list_filter(regexp_extract_all({text}, '{pattern}', 1), "
             "lambda v: trim(v) <> '')[1]")
    if url:
        found = f"try(url_decode(replace({found}, '+', ' ')))"
    return f"nullif(trim({found}), '')"


def _first_tagged(c: Columns) -> tuple[str, str, str]:
    """SQL for an order's utm_source, utm_medium and utm_campaign (over the per-order columns
    named as in UTM_FIELDS)."""
    there = [f for f in UTM_FIELDS if c.has(f)]
    vals = {f: {k: _utm(f"utm_{k}", f, f in URLS) for k in ("source", "medium", "campaign")}
            for f in there}
    if not there:
        return ("cast(null as varchar)",) * 3

    def pick(k: str) -> str:
        whens = " ".join(f"when coalesce({v['source']}, {v['medium']}) is not null "
                         f"then {v[k]}" for v in vals.values())
        return f"case {whens} end"

    campaign = f"coalesce({pick('campaign')}, {', '.join(v['campaign'] for v in vals.values())})"
    return pick("source"), pick("medium"), campaign


@dataclass(frozen=True)
class _Orders:
    name: str = "Shopify orders export"

    def match(self, headers: list[str]) -> bool:
        return {"name", "financial_status", "lineitem_quantity", "lineitem_price",
                "created_at"} <= set(headers)

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        # Shopify's tip line: a line item named "Tip" without a SKU. Not a sale of goods: kept
        # apart (the order's tips), out of the order lines, gross sales and units.
        tip = (f"(lower({c['lineitem_name']}) = 'tip' and {c['lineitem_sku']} is null)")
        num, keep, rejected = read_numbers(con, raw, c, {
            "lineitem_quantity": "BIGINT", "lineitem_price": MONEY, "discount_amount": MONEY,
            "shipping": MONEY, "taxes": MONEY, "refunded_amount": MONEY, "subtotal": MONEY,
            "total": MONEY}, ctx.allow_partial, ctx.notes)
        n = lambda name: num.get(name, "cast(null as decimal(18,2))")  # noqa: E731
        # Order-level fields sit on the first line of each order: take them per order.
        o = (f"select _row, {c['name']} as name, {c['email']} as email, "
             f"lower({c['financial_status']}) as fin, lower({c['fulfillment_status']}) as ful, "
             f"{c['currency']} as currency, {n('discount_amount')} as discounts, "
             f"{n('shipping')} as shipping, {n('taxes')} as tax, {c['created_at']} as created_at, "
             f"{c['cancelled_at']} as cancelled_at, {c['fulfilled_at']} as fulfilled_at, "
             f"{n('refunded_amount')} as refunded, {c['source']} as source_raw, "
             f"{n('subtotal')} as subtotal, {n('total')} as total, "
             f"{c['discount_code']} as discount_code, "
             + "".join(f"{c[f]} as {f}, " for f in UTM_FIELDS) +
             f"{c['shipping_country']} as country, {tip} is true as is_tip, "
             f"{n('lineitem_quantity')} as qty, {n('lineitem_price')} as price, "
             f"coalesce({c['lineitem_sku']}, {c['lineitem_name']}) as sku, "
             f"{c['lineitem_name']} as product_name from {raw.table} where {keep}")
        per_order = f"""
            with l as ({o})
            select name, min(_row) as _row, max(email) as email, max(fin) as fin,
                   max(ful) as ful, max(currency) as currency, max(discounts) as discounts,
                   max(shipping) as shipping, max(tax) as tax, max(created_at) as created_at,
                   max(cancelled_at) as cancelled_at, max(fulfilled_at) as fulfilled_at,
                   max(refunded) as refunded, max(source_raw) as source_raw,
                   lower(max(source_raw)) as source, max(subtotal) as subtotal,
                   max(total) as total, max(discount_code) as discount_code,
                   {", ".join(f"max({f}) as {f}" for f in UTM_FIELDS)},
                   max(country) as country,
                   -- gross sales derive from the lines, as the data contract says; tips apart
                   coalesce(sum(qty * price) filter (where not is_tip), 0) as gross,
                   coalesce(sum(qty * price) filter (where is_tip), 0) as tips,
                   bool_or(qty is null or price is null) as bad_line
            from l group by name"""
        market = " or ".join(f"source like '%{m}%'" for m in MARKETPLACES)
        # The channel mapping of Settings names an app id (or any source or channel) by the
        # channel the shop counts it in.
        mapped = ("cast($map_to as varchar[])"
                  "[list_position(cast($map_from as varchar[]), {})]")
        found = (f"case when utm_source is not null or utm_medium is not null "
                 f"then {source_medium_sql('utm_source', 'utm_medium')} "
                 # A bare number is the id of the app that placed the order, not a channel.
                 f"when regexp_matches(source, '^[0-9]+$') "
                 f"then coalesce({mapped.format('source')}, 'app') "
                 f"when {market} then 'marketplace' "
                 "when source = 'shopify_draft_order' then 'direct' "
                 "when source in ('web', 'iphone', 'android') or source is null then 'unknown' "
                 f"else {label_sql('source')} end")
        params = {"map_from": list(ctx.channel_map), "map_to": list(ctx.channel_map.values())}
        utm_s, utm_m, utm_c = _first_tagged(c)
        # One row per order, with its UTM tags and channel (a code-made name, as raw.table;
        # replaced when the files are read again in the shop's timezone).
        per = f"{raw.table}_orders"
        con.execute(f"""create or replace temp table {per} as
                        select *, {found} as found from (
                            select *, {utm_s} as utm_source, {utm_m} as utm_medium,
                                   {utm_c} as utm_campaign from ({per_order}))""", params)
        orders_sql = f"""
            select _row, name as order_id, created_at as ordered_at,
                   {salted_hash_sql('lower(trim(email))')} as customer_id,
                   coalesce({mapped.format('found')}, found) as channel,
                   case when cancelled_at is not null or fin = 'voided' then 'cancelled'
                        when fin in ('refunded', 'partially_refunded') then fin
                        when ful = 'fulfilled' then 'fulfilled'
                        when ful = 'partial' then 'shipped'
                        when fin in ('paid', 'partially_paid') then 'paid'
                        when fin in ('pending', 'authorized') then 'placed'
                        else fin end as status,
                   concat_ws(' / ', fin, ful) as status_raw, currency,
                   case when bad_line then null else gross end as gross_sales,
                   coalesce(discounts, 0) as discounts, shipping, tax,
                   case when bad_line then null else tips end as tips, country,
                   fulfilled_at as shipped_at, cancelled_at, discount_code, utm_campaign
            from {per}"""
        cols = ["order_id", "ordered_at", "customer_id", "channel", "status", "status_raw",
                "currency", "gross_sales", "discounts", "shipping", "tax", "tips", "country",
                "shipped_at", "cancelled_at", "discount_code", "utm_campaign"]
        orders = emit(con, raw.name, orders_sql, cols, {"salt": ctx.salt, **params}, "orders",
                      _orders_origin(c))
        # Line numbers count the tip line too: a line keeps its number (its key in the store)
        # whether or not a tip follows it.
        items_sql = f"""
            with l as ({o}), n as (
                select *, row_number() over (partition by name order by _row) as line,
                       max(created_at) over (partition by name) as ordered_at
                from l)
            select _row, name as order_id, line, sku, qty as quantity,
                   price as unit_price, product_name, ordered_at
            from n where not is_tip"""
        items = emit(con, raw.name, items_sql, ["order_id", "line", "sku", "quantity",
                                                 "unit_price", "product_name", "ordered_at"],
                     source="order lines", rejected=rejected, origin={
                         "order_id": c.name("name"),
                         "sku": _either(c.name("lineitem_sku"), c.name("lineitem_name")),
                         "quantity": c.name("lineitem_quantity"),
                         "unit_price": c.name("lineitem_price"),
                         "product_name": c.name("lineitem_name"),
                         "ordered_at": c.name("created_at")})
        # Lines first: a bad quantity or price is then reported on the line that has it.
        out = [("order_items", items), ("orders", orders)]
        refunds = emit(con, raw.name, REFUNDS_SQL.format(orders=per),
                       ["refund_id", "order_id", "refunded_at", "amount", "shipping", "tax"],
                       source="refunds", origin=_refunds_origin(c))
        if refunds.rows:
            n = refunds.rows
            ctx.notes.append(f"{raw.name}: Shopify's orders export has no refund dates; "
                             f"{plural(n, 'refund')} {'is' if n == 1 else 'are'} dated on "
                             f"{'its' if n == 1 else 'their'} order (or cancellation) date")
            out.append(("refunds", refunds))
        apps = con.execute(f"""
            select source_raw, count(*) from {per}
            where found = 'app' and regexp_matches(source, '^[0-9]+$')
            group by all order by 2 desc, 1""").fetchall()
        if apps:
            ids = ", ".join(f"{a} ({plural(n, 'order')})" for a, n in apps)
            ctx.notes.append(
                f"{raw.name}: Source {ids} {'is an app id' if len(apps) == 1 else 'are app ids'}"
                f", not a channel: shown as channel 'app'. Map "
                f"{'it' if len(apps) == 1 else 'each'} to a channel in Settings (channel "
                "mapping) for the next uploads; to apply it to this one, undo it and upload "
                "it again")
        return out


# The export gives one refunded amount per order, shipping and tax included, and no refund
# dates. The amount is split into goods returned, shipping and tax where the export allows: a
# whole refund returns the goods (after discounts), the shipping and the tax charged; a part
# of one is taken as goods with their tax (in the order's proportion), then shipping, then the
# tip. Taxes count apart only when charged on top of the prices (Total = Subtotal + Shipping +
# Taxes); prices that include tax keep it in the goods and shipping. Dated on the cancellation
# if there is one, else on the order date (the report says so).
REFUNDS_SQL = """
    with o as (
        select *, refunded as r, coalesce(shipping, 0) as s, coalesce(tax, 0) as t,
               gross - coalesce(discounts, 0) as g, subtotal as sub, total as tot
        from {orders}),
    ontop as (
        select *, case when sub is null or tot is null
                            or abs(sub + s + t + tips - tot) <= abs(sub + s + tips - tot)
                       then t else 0 end as t_on_top
        from o),
    goods as (
        select *, least(r, g + t_on_top) as gt from ontop),
    split as (
        select *, case when g + t_on_top > 0
                       then round(gt * t_on_top / (g + t_on_top), 2)::decimal(18,2)
                       else 0 end as tax_back,
                  least(r - gt, s) as ship_back
        from goods),
    parts as (
        select *, r - tax_back - ship_back - least(r - gt - ship_back, tips) as goods_back
        from split)
    select _row, 'shopify-' || name as refund_id, name as order_id,
           coalesce(cancelled_at, created_at) as refunded_at,
           goods_back as amount, ship_back as shipping, tax_back as tax
    from parts where r > 0"""


@dataclass(frozen=True)
class _Products:
    name: str = "Shopify products export"

    def match(self, headers: list[str]) -> bool:
        return {"handle", "variant_sku", "variant_price"} <= set(headers)

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        num, keep, rejected = read_numbers(con, raw, c, {
            "cost_per_item": MONEY, "variant_price": MONEY}, ctx.allow_partial, ctx.notes)
        n = lambda name: num.get(name, "cast(null as decimal(18,2))")  # noqa: E731
        variants = f"v_{raw.table}"
        # Product fields sit on each handle's first row; a row with neither SKU, price nor
        # option value holds only an image. A variant without a SKU is keyed by the name the
        # orders export gives its lines (title, " - " and its option values), as order lines
        # without a SKU are (see _Orders).
        con.execute(f"""
            create or replace temp table {variants} as
            with r as (
                select _row, {c['variant_sku']} as sku, {n('cost_per_item')} as unit_cost,
                       {n('variant_price')} as price,
                       concat_ws(' / ', {c['option1_value']}, {c['option2_value']},
                                 {c['option3_value']}) as options,
                       max({c['title']}) over h as title, max({c['type']}) over h as type,
                       max({c['product_category']}) over h as taxonomy
                from {raw.table} where {keep} window h as (partition by {c['handle']}))
            select *, row_number() over (partition by sku order by _row) as nth
            from (select _row, sku is null as no_sku, title as product_name, unit_cost, price,
                         coalesce(sku, case when options in ('', 'Default Title') then title
                                            else concat_ws(' - ', title, options) end) as sku,
                         coalesce(type, nullif(trim(regexp_extract(taxonomy, '[^>]*$')), ''),
                                  'uncategorised') as category
                  from r where sku is not null or price is not null or options <> '')""")
        _note_skus(con, variants, raw.name, ctx)
        # One product per SKU: Shopify lets several variants share one, and the first wins.
        sql = f"""select _row, sku, product_name, category, unit_cost, price
                  from {variants} where nth = 1"""
        return [("products", emit(con, raw.name, sql,
                                  ["sku", "product_name", "category", "unit_cost", "price"],
                                  rejected=rejected, origin={"sku": _either(c.name("variant_sku"),
                                                         c.name("title") and
                                                         f"{c.name('title')} - option values"),
                                          "product_name": c.name("title"),
                                          "category": _either(
                                              c.name("type"), c.name("product_category") and
                                              f"the last part of {c.name('product_category')}"),
                                          "unit_cost": c.name("cost_per_item"),
                                          "price": c.name("variant_price")}))]


def _note_skus(con, variants: str, name: str, ctx: Context) -> None:
    """The report lists SKUs shared by several variants and variants without a SKU."""
    shared = con.execute(f"""
        select sku, list(_row order by _row) from {variants} group by sku
        having count(*) > 1 order by min(_row)""").fetchall()
    if shared:
        some = "; ".join(f"{sku}: rows {_rows(rows)}" for sku, rows in shared[:5])
        more = "; …" if len(shared) > 5 else ""
        ctx.notes.append(f"{name}: {plural(len(shared), 'SKU')} "
                         f"{'is' if len(shared) == 1 else 'are'} on several variants "
                         f"({some}{more}): each is stored once, with its first row's title, "
                         "category, cost and price")
    empty = con.execute(f"select list(_row order by _row), list(sku order by _row)[1:5] "
                        f"from {variants} where no_sku").fetchall()[0]
    if empty[0]:
        n = len(empty[0])
        more = ", …" if n > 5 else ""
        ctx.notes.append(f"{name}: {plural(n, 'variant')} {'has' if n == 1 else 'have'} no SKU "
                         f"(rows {_rows(empty[0])}): stored under the name Shopify's orders "
                         f"export gives {'its' if n == 1 else 'their'} lines "
                         f"({', '.join(empty[1])}{more})")


def _rows(rows: list[int]) -> str:
    """Row numbers in words: "4", "4 and 7", "4, 7, 9, 12, 15 …"."""
    if len(rows) > 5:
        return ", ".join(map(str, rows[:5])) + " …"
    return " and ".join([", ".join(map(str, rows[:-1])), str(rows[-1])]) if len(rows) > 1 \
        else str(rows[0])


def _either(*headers: str | None) -> str | None:
    """Columns read in turn, the first that has a value: "Lineitem sku, else Lineitem name"."""
    return ", else ".join(h for h in headers if h) or None


def _orders_origin(c: Columns) -> dict[str, str | None]:
    tagged = " / ".join(h for h in (c.name(f) for f in UTM_FIELDS) if h)
    status = [c.name(n) for n in ("financial_status", "fulfillment_status", "cancelled_at")]
    return {
        "order_id": c.name("name"), "ordered_at": c.name("created_at"),
        "customer_id": c.name("email") and f"{c.name('email')}, hashed",
        "channel": _either(tagged and f"utm_source / utm_medium in {tagged}", c.name("source")),
        "status": ", ".join(h for h in status if h),
        "status_raw": " / ".join(h for h in status[:2] if h),
        "currency": c.name("currency"),
        "gross_sales": f"{c.name('lineitem_quantity')} × {c.name('lineitem_price')}"
                       + (f", 'Tip' lines ({c.name('lineitem_name')}) apart"
                          if c.name("lineitem_name") else ""),
        "discounts": c.name("discount_amount"), "shipping": c.name("shipping"),
        "tax": c.name("taxes"),
        "tips": said("{} × {} of the 'Tip' lines ({})", c.name("lineitem_quantity"),
                     c.name("lineitem_price"), c.name("lineitem_name")),
        "country": c.name("shipping_country"), "shipped_at": c.name("fulfilled_at"),
        "cancelled_at": c.name("cancelled_at"), "discount_code": c.name("discount_code"),
        "utm_campaign": tagged and f"utm_campaign in {tagged}"}


def _refunds_origin(c: Columns) -> dict[str, str | None]:
    money = _either(c.name("refunded_amount"))
    return {"refund_id": f"{c.name('name')}, prefixed shopify-", "order_id": c.name("name"),
            "refunded_at": _either(c.name("cancelled_at"), c.name("created_at")),
            "amount": money and f"{money} less the refunded shipping and tax",
            "shipping": said("{} of a refund beyond the goods, up to {}", money,
                             c.name("shipping")),
            "tax": said("{} of the refund, in the order's share of {}", money, c.name("taxes"))}


ORDERS, PRODUCTS = _Orders(), _Products()
