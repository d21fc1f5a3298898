"""Every KPI recomputed with plain pandas from the demo generator's frames.

Independent of the SQL, the store and ingest: if both agree on generated data, neither has a
bug the other lacks. Returns {group: value}; the group is 'total', a period start or a channel.
``cancelled``: the store's convention for cancelled orders, "excluded" (they count only in the
cancellation rate) or "shopify" (a sale on the order day, returned whole on the day cancelled).

The KPIs are declared in ``ORACLE`` the way kpilib declares them — a sum of a frame's column by
its date column, a ratio of two entries, a formula of entries — but written again here from
KPIS.md in pandas, never read from kpilib's declarations: independence is the point.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pandas as pd

from kpilib import Filters


def _day(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.normalize()


def _mask(df: pd.DataFrame, date_col: str, f: Filters, channel_col: str = "channel"):
    d = _day(df[date_col])
    m = (d >= pd.Timestamp(f.start)) & (d <= pd.Timestamp(f.end))
    if f.channels:
        m &= df[channel_col].isin(f.channels)
    # Device and country: the row's own, or its order's (refunds, lines).
    for col, chosen in (("device", f.devices), ("country", f.countries)):
        if chosen:
            m &= df[col].isin(chosen)
    return m


def _key(df: pd.DataFrame, date_col: str, by: str | None, channel_col: str = "channel"):
    d = _day(df[date_col])
    if by is None:
        return pd.Series("total", index=df.index)
    if by == "day":
        return d.dt.date
    if by == "week":
        return (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.date
    if by == "month":
        return d.dt.to_period("M").dt.start_time.dt.date
    return df[channel_col]


def _ratio(num: dict, den: dict) -> dict:
    return {k: (num.get(k, 0) / d if d else None) for k, d in den.items()}


# --- the frames: each KPI's rows, before the period, filters and grouping ------------------

def _valid(shop, cancelled="excluded"):
    o = shop.orders if cancelled == "shopify" else shop.orders[shop.orders.status != "cancelled"]
    return o.assign(net=lambda o: o.gross_sales - o.discounts)


def _refunds(shop, cancelled="excluded"):
    # An export without devices or countries (the Shopify fixture's reading): none.
    o = shop.orders[["order_id", "channel", "status", "device", "country"]]
    # Refunded shipping and tax: none where the refunds do not tell them apart.
    r = shop.refunds.reindex(columns=[*shop.refunds.columns,
                                      *{"shipping", "tax"} - set(shop.refunds.columns)])
    r = r.merge(o, on="order_id", how="left")
    r = r[r.status != "cancelled"].copy()
    r["channel"] = r["channel"].fillna("unknown")
    if cancelled == "shopify":
        # Each cancelled order given back whole (goods after discounts, shipping, tax) on the
        # day it was cancelled, or on its order day without a cancellation date.
        c = shop.orders[shop.orders.status == "cancelled"]
        when = c.get("cancelled_at", pd.Series(pd.NaT, index=c.index))
        r = pd.concat([r, pd.DataFrame({
            "order_id": c.order_id, "channel": c.channel, "status": c.status,
            "device": c.device, "country": c.country,
            "refunded_at": when.fillna(c.ordered_at), "amount": c.gross_sales - c.discounts,
            "shipping": c.shipping, "tax": c.tax, "reason": "cancelled"})], ignore_index=True)
    return r


def _orders(shop, cancelled):
    # Total sales: goods after discounts, shipping and tax (each missing counted 0).
    v = _valid(shop, cancelled)
    return v.assign(n=1, tips=v.get("tips", 0),
                    total=v.net + v.shipping.fillna(0) + v.tax.fillna(0))


def _all_orders(shop, cancelled):
    o = shop.orders
    return o.assign(n=1, cancelled=(o.status == "cancelled").astype(int))


def _refund_rows(shop, cancelled):
    r = _refunds(shop, cancelled)
    return r.assign(total=r.amount + r.shipping.fillna(0) + r.tax.fillna(0))


def _refunded_orders(shop, cancelled):
    """Valid orders with what was refunded of each, by order date."""
    refunded = _refunds(shop, cancelled).groupby("order_id")["amount"].sum()
    v = _valid(shop, cancelled)
    return v.assign(refunded=v.order_id.map(refunded).fillna(0),
                    has_refund=v.order_id.isin(refunded.index).astype(int), n=1)


def _lines(shop, cancelled):
    v = _valid(shop, cancelled)
    return shop.order_items.merge(v[["order_id", "ordered_at", "channel", "device", "country"]],
                                  on="order_id", suffixes=("_line", ""))


def _shipped(shop, cancelled):
    v = _valid(shop, cancelled)
    return v[v.shipped_at.notna()].assign(
        days=lambda d: (d.shipped_at - d.ordered_at).dt.total_seconds() / 86400, n=1)


def _customer_orders(shop, cancelled="excluded"):
    """Identified customers' valid orders, each with its customer's acquisition channel."""
    v = _valid(shop, cancelled)
    v = v[v.customer_id.notna()].sort_values(["ordered_at", "order_id"])
    first = v.groupby("customer_id").first()
    return v.assign(acq=v.customer_id.map(first["channel"]),
                    is_first=v.order_id.isin(first["order_id"]), n=1)


# name: (rows(shop, cancelled), date column, channel column)
FRAMES = {
    "traffic": (lambda shop, cancelled: shop.traffic, "date", "channel"),
    "orders": (_orders, "ordered_at", "channel"),
    "all_orders": (_all_orders, "ordered_at", "channel"),
    "refunds": (_refund_rows, "refunded_at", "channel"),
    "refunded_orders": (_refunded_orders, "ordered_at", "channel"),
    "lines": (_lines, "ordered_at", "channel"),
    "shipped": (_shipped, "ordered_at", "channel"),
    # Customer KPIs: the channel filter and grouping by acquisition channel.
    "customer_orders": (_customer_orders, "ordered_at", "acq"),
    "spend": (lambda shop, cancelled: shop.marketing_spend, "date", "channel"),
}


class _Query:
    """One KPI's question: a shop, filters, a grouping. Calling it with an entry (a name in
    ORACLE or an entry itself) answers {group: value}."""

    def __init__(self, shop, f: Filters, by, cancelled, frames=None):
        self.shop, self.f, self.by, self.cancelled = shop, f, by, cancelled
        self.frames = {} if frames is None else frames
        self.answers = {}

    def __call__(self, entry):
        if isinstance(entry, str):
            if entry not in self.answers:
                self.answers[entry] = ORACLE[entry](self)
            return self.answers[entry]
        return entry(self)

    def rows(self, frame: str):
        """The frame's rows in the period and filters, and each one's group."""
        if frame not in self.frames:
            rows, _, _ = FRAMES[frame]
            self.frames[frame] = rows(self.shop, self.cancelled)
        df, (_, date_col, channel_col) = self.frames[frame], FRAMES[frame]
        sel = df[_mask(df, date_col, self.f, channel_col)]
        return sel, _key(sel, date_col, self.by, channel_col)

    def shop_wide(self):
        return _Query(self.shop, replace(self.f, channels=()), self.by, self.cancelled,
                      self.frames)


# --- the kinds of entry ---------------------------------------------------------------------

def total(frame: str, column: str, where=None):
    """The sum of ``column`` over the frame's rows (those ``where`` keeps), by its date."""
    def answer(q):
        sel, key = q.rows(frame)
        if where is not None:
            keep = where(sel)
            sel, key = sel[keep], key[keep]
        return sel.groupby(key)[column].sum().to_dict()
    return answer


def ratio(num, den):
    """The groups of the denominator; none where it is 0."""
    return lambda q: _ratio(q(num), q(den))


def less(a, b):
    """``a`` − ``b`` in the groups of either (a missing side counts 0)."""
    def answer(q):
        out = dict(q(a))
        for k, x in q(b).items():
            out[k] = out.get(k, 0) - x
        return out
    return answer


def derived(formula, *parts):
    """``formula`` of the parts in the groups of the first; a missing part counts 0, a part
    without value or a division by 0 gives none."""
    def answer(q):
        values = [q(p) for p in parts]
        out = {}
        for k in values[0]:
            xs = [v.get(k, 0) for v in values]
            try:
                out[k] = None if None in xs else formula(*map(float, xs))
            except ZeroDivisionError:
                out[k] = None
        return out
    return answer


def shop_wide(entry):
    """``entry`` over every channel, whatever the channel filter."""
    return lambda q: q.shop_wide()(entry)


# --- the few KPIs that need their own pandas -------------------------------------------------

def _blended_conversion_rate(q):
    # None unless both orders and traffic cover the whole period.
    od, td = _day(q.shop.orders.ordered_at), pd.to_datetime(q.shop.traffic.date)
    start, end = pd.Timestamp(q.f.start), pd.Timestamp(q.f.end)
    covered = od.min() <= start and od.max() >= end and td.min() <= start and td.max() >= end
    return {k: (x if covered else None) for k, x in q(ratio("orders", "sessions")).items()}


def _fulfilment_days(q):
    # The median, each order timed to the nearest hour (halves away from zero, as SQL's round).
    sel, key = q.rows("shipped")
    hours = sel.days * 24
    return (np.sign(hours) * np.floor(hours.abs() + 0.5) / 24).groupby(key).median().to_dict()


def _per_customer(q):
    """Per group and customer: whether the customer's first order is in it."""
    sel, key = q.rows("customer_orders")
    return sel.groupby([key.rename("key"), "customer_id"])["is_first"].any().reset_index()


def customers(which):
    """Customers with an order in the group: all, new (their first order in it), returning."""
    def answer(q):
        pc = _per_customer(q)
        pc = pc if which == "all" else pc[pc.is_first == (which == "new")]
        return pc.groupby("key").size().to_dict()
    return answer


def _repeat_customers(q):
    sel, key = q.rows("customer_orders")
    per = sel.groupby([key, "customer_id"]).size()
    return (per >= 2).groupby(level=0).sum().to_dict()


def _paid_revenue(q):
    """Net sales of the channels with spend in the group (a paused campaign's 0.00 rows are
    none), in the groups with spend rows."""
    s, skey = q.rows("spend")
    v, vkey = q.rows("orders")
    sp = s.groupby([skey, s.channel])["spend"].sum()
    rev = v.groupby([vkey, v.channel])["net"].sum().reindex(sp[sp > 0].index).fillna(0)
    num = rev.groupby(level=0).sum().to_dict()
    return {k: num.get(k, 0) for k in sp.groupby(level=0).sum().to_dict()}


def _cac(q):
    # None in a group without spend or without new customers.
    spend, new = q("spend"), q("new_customers")
    return {k: (spend[k] / new[k] if spend.get(k) and new.get(k) else None)
            for k in set(spend) | set(new)}


def _clicked(s):
    return s.clicks.notna()


def _clicked_and_seen(s):
    return s.clicks.notna() & s.impressions.notna()


def _within(days: int):
    return lambda s: s.days <= days


ORACLE = {
    # Traffic and funnel
    "sessions": total("traffic", "sessions"),
    "users": total("traffic", "users"),
    "new_users": total("traffic", "new_users"),
    "product_views": total("traffic", "product_views"),
    "add_to_carts": total("traffic", "add_to_carts"),
    "checkouts": total("traffic", "checkouts"),
    "purchases": total("traffic", "purchases"),
    "conversion_rate": ratio("purchases", "sessions"),
    "product_view_rate": ratio("product_views", "sessions"),
    "add_to_cart_rate": ratio("add_to_carts", "sessions"),
    "checkout_rate": ratio("checkouts", "sessions"),
    "view_to_cart_rate": ratio("add_to_carts", "product_views"),
    "cart_to_checkout_rate": ratio("checkouts", "add_to_carts"),
    "checkout_to_purchase_rate": ratio("purchases", "checkouts"),
    "cart_abandonment_rate": derived(lambda a, p: 1 - p / a, "add_to_carts", "purchases"),
    "blended_conversion_rate": _blended_conversion_rate,
    # Sales: by order date, less refunds by refund date
    "orders": total("orders", "n"),
    "gross_sales": total("orders", "gross_sales"),
    "discounts": total("orders", "discounts"),
    "discount_rate": ratio("discounts", "gross_sales"),
    "attributed_revenue": total("orders", "net"),
    "returns": total("refunds", "amount"),
    "net_sales": less("attributed_revenue", "returns"),
    "shipping": less(total("orders", "shipping"), total("refunds", "shipping")),
    "tax": less(total("orders", "tax"), total("refunds", "tax")),
    "tips": total("orders", "tips"),
    "total_sales": less(total("orders", "total"), total("refunds", "total")),
    "aov": ratio("attributed_revenue", "orders"),
    "units_per_order": ratio(total("lines", "quantity"), "orders"),
    "cancellation_rate": ratio(total("all_orders", "cancelled"), total("all_orders", "n")),
    "guest_orders": total("orders", "n", where=lambda o: o.customer_id.isna()),
    # Returns by order date, fulfilment
    "returns_by_order_date": total("refunded_orders", "refunded"),
    "return_rate_value": ratio("returns_by_order_date", "gross_sales"),
    "return_rate_orders": ratio(total("refunded_orders", "has_refund"), "orders"),
    "fulfilment_days": _fulfilment_days,
    "shipped_within_1d": ratio(total("shipped", "n", where=_within(1)), total("shipped", "n")),
    "shipped_within_2d": ratio(total("shipped", "n", where=_within(2)), total("shipped", "n")),
    "shipped_within_5d": ratio(total("shipped", "n", where=_within(5)), total("shipped", "n")),
    # Customers, by acquisition channel
    "customers": customers("all"),
    "new_customers": customers("new"),
    "returning_customers": customers("returning"),
    "returning_customer_rate": ratio("returning_customers", "customers"),
    "repeat_purchase_rate": ratio(_repeat_customers, "customers"),
    "orders_per_customer": ratio(total("customer_orders", "n"), "customers"),
    # Marketing
    "spend": total("spend", "spend"),
    "paid_revenue": _paid_revenue,
    "roas": ratio("paid_revenue", "spend"),
    "mer": ratio(shop_wide("net_sales"), shop_wide("spend")),
    "mer_inverse": derived(lambda s, n: s / n, shop_wide("spend"), shop_wide("net_sales")),
    "cac": _cac,
    "cpc": ratio(total("spend", "spend", where=_clicked), total("spend", "clicks", where=_clicked)),
    "ctr": ratio(total("spend", "clicks", where=_clicked_and_seen),
                 total("spend", "impressions", where=_clicked_and_seen)),
}


def oracle(name: str, shop, f: Filters, by: str | None = None,
           cancelled: str = "excluded") -> dict:
    if name not in ORACLE:
        raise KeyError(f"no oracle for {name}")
    if not {"device", "country"} <= set(shop.orders.columns):
        # An export without devices or countries (the Shopify fixture's reading): none.
        shop = copy.copy(shop)
        shop.orders = shop.orders.assign(
            **{c: None for c in ("device", "country") if c not in shop.orders.columns})
    return _Query(shop, f, by, cancelled)(name)
