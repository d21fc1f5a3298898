"""Every KPI recomputed with plain pandas from the demo generator's frames.

Independent of the SQL, the store and ingest: if both agree on generated data, neither has a
bug the other lacks. Returns {group: value}; the group is 'total', a period start or a channel.
``cancelled``: the store's convention for cancelled orders, "excluded" (they count only in the
cancellation rate) or "shopify" (a sale on the order day, returned whole on the day cancelled).
"""
from __future__ import annotations

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


def _sum(df, col, date_col, f, by, channel_col="channel"):
    sel = df[_mask(df, date_col, f, channel_col)]
    return sel.groupby(_key(sel, date_col, by, channel_col))[col].sum().to_dict()


def _ratio(num: dict, den: dict) -> dict:
    return {k: (num.get(k, 0) / d if d else None) for k, d in den.items()}


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


def _customer_orders(shop, cancelled="excluded"):
    v = _valid(shop, cancelled)
    v = v[v.customer_id.notna()].sort_values(["ordered_at", "order_id"])
    first = v.groupby("customer_id").first()
    v = v.assign(acq=v.customer_id.map(first["channel"]),
                 is_first=v.order_id.isin(first["order_id"]))
    return v


def _per_customer(shop, f, by, cancelled="excluded"):
    v = _customer_orders(shop, cancelled)
    sel = v[_mask(v, "ordered_at", f, "acq")]
    key = _key(sel, "ordered_at", by, "acq")
    return sel.assign(key=key).groupby(["key", "customer_id"])["is_first"].any().reset_index()


def oracle(name: str, shop, f: Filters, by: str | None = None,
           cancelled: str = "excluded") -> dict:
    if not {"device", "country"} <= set(shop.orders.columns):
        # An export without devices or countries (the Shopify fixture's reading): none.
        import copy
        shop = copy.copy(shop)
        shop.orders = shop.orders.assign(
            **{c: None for c in ("device", "country") if c not in shop.orders.columns})
    t, v = shop.traffic, _valid(shop, cancelled)
    if name in ("sessions", "users", "new_users"):
        return _sum(t, name, "date", f, by)
    if name == "conversion_rate":
        return _ratio(_sum(t, "purchases", "date", f, by), _sum(t, "sessions", "date", f, by))
    if name in ("product_views", "add_to_carts", "checkouts", "purchases"):
        return _sum(t, name, "date", f, by)
    rates = {"product_view_rate": ("product_views", "sessions"),
             "add_to_cart_rate": ("add_to_carts", "sessions"),
             "checkout_rate": ("checkouts", "sessions"),
             "view_to_cart_rate": ("add_to_carts", "product_views"),
             "cart_to_checkout_rate": ("checkouts", "add_to_carts"),
             "checkout_to_purchase_rate": ("purchases", "checkouts")}
    if name in rates:
        num, den = rates[name]
        return _ratio(_sum(t, num, "date", f, by), _sum(t, den, "date", f, by))
    if name == "cart_abandonment_rate":
        r = _ratio(_sum(t, "purchases", "date", f, by), _sum(t, "add_to_carts", "date", f, by))
        return {k: (None if v is None else 1 - v) for k, v in r.items()}
    if name == "blended_conversion_rate":
        od, td = _day(shop.orders.ordered_at), pd.to_datetime(t.date)
        covered = (od.min() <= pd.Timestamp(f.start) and od.max() >= pd.Timestamp(f.end)
                   and td.min() <= pd.Timestamp(f.start) and td.max() >= pd.Timestamp(f.end))
        r = _ratio(_sum(v.assign(n=1), "n", "ordered_at", f, by), _sum(t, "sessions", "date", f, by))
        return {k: (x if covered else None) for k, x in r.items()}
    if name == "orders":
        return _sum(v.assign(n=1), "n", "ordered_at", f, by)
    if name in ("gross_sales", "discounts"):
        return _sum(v, name, "ordered_at", f, by)
    if name == "discount_rate":
        return _ratio(_sum(v, "discounts", "ordered_at", f, by),
                      _sum(v, "gross_sales", "ordered_at", f, by))
    if name in ("shipping", "tax"):
        # Charged by order date, less what refunds gave back, by refund date.
        out = _sum(v, name, "ordered_at", f, by)
        for k, amount in _sum(_refunds(shop, cancelled), name, "refunded_at", f, by).items():
            out[k] = out.get(k, 0) - amount
        return out
    if name == "tips":
        return _sum(v.assign(tips=v.get("tips", 0)), "tips", "ordered_at", f, by)
    if name == "total_sales":
        out = _sum(v.assign(t=v.net + v.shipping.fillna(0) + v.tax.fillna(0)), "t", "ordered_at",
                   f, by)
        r = _refunds(shop, cancelled)
        r = r.assign(t=r.amount + r.shipping.fillna(0) + r.tax.fillna(0))
        for k, amount in _sum(r, "t", "refunded_at", f, by).items():
            out[k] = out.get(k, 0) - amount
        return out
    if name == "units_per_order":
        lines = shop.order_items.merge(v[["order_id", "ordered_at", "channel", "device",
                                          "country"]], on="order_id",
                                       suffixes=("_line", ""))
        return _ratio(_sum(lines, "quantity", "ordered_at", f, by),
                      _sum(v.assign(n=1), "n", "ordered_at", f, by))
    if name == "cancellation_rate":
        o = shop.orders.assign(n=1, c=(shop.orders.status == "cancelled").astype(int))
        return _ratio(_sum(o, "c", "ordered_at", f, by), _sum(o, "n", "ordered_at", f, by))
    refunded = _refunds(shop, cancelled).groupby("order_id")["amount"].sum()
    vr = v.assign(refunded=v.order_id.map(refunded).fillna(0),
                  has_refund=v.order_id.isin(refunded.index).astype(int), n=1)
    if name == "returns_by_order_date":
        return {k: x for k, x in _sum(vr, "refunded", "ordered_at", f, by).items()}
    if name == "return_rate_value":
        return _ratio(_sum(vr, "refunded", "ordered_at", f, by),
                      _sum(vr, "gross_sales", "ordered_at", f, by))
    if name == "return_rate_orders":
        return _ratio(_sum(vr, "has_refund", "ordered_at", f, by),
                      _sum(vr, "n", "ordered_at", f, by))
    shipped = v[v.shipped_at.notna()].assign(
        days=lambda d: (d.shipped_at - d.ordered_at).dt.total_seconds() / 86400, n=1)
    if name == "fulfilment_days":
        # Each order timed to the nearest hour (halves away from zero, as SQL's round).
        hours = shipped.days * 24
        sel = shipped.assign(days=np.sign(hours) * np.floor(hours.abs() + 0.5) / 24)
        sel = sel[_mask(sel, "ordered_at", f)]
        return sel.groupby(_key(sel, "ordered_at", by))["days"].median().to_dict()
    if name.startswith("shipped_within_"):
        d = int(name.removeprefix("shipped_within_").removesuffix("d"))
        s = shipped.assign(ok=(shipped.days <= d).astype(int))
        return _ratio(_sum(s, "ok", "ordered_at", f, by), _sum(s, "n", "ordered_at", f, by))
    if name == "attributed_revenue":
        return _sum(v, "net", "ordered_at", f, by)
    if name == "returns":
        return _sum(_refunds(shop, cancelled), "amount", "refunded_at", f, by)
    if name == "net_sales":
        out = _sum(v, "net", "ordered_at", f, by)
        refunds = _refunds(shop, cancelled)
        for k, amount in _sum(refunds, "amount", "refunded_at", f, by).items():
            out[k] = out.get(k, 0) - amount
        return out
    if name == "aov":
        return _ratio(_sum(v, "net", "ordered_at", f, by), _sum(v.assign(n=1), "n", "ordered_at", f, by))
    if name == "guest_orders":
        return _sum(v[v.customer_id.isna()].assign(n=1), "n", "ordered_at", f, by)
    if name in ("repeat_purchase_rate", "orders_per_customer"):
        co = _customer_orders(shop, cancelled)
        sel = co[_mask(co, "ordered_at", f, "acq")]
        per = sel.assign(key=_key(sel, "ordered_at", by, "acq")).groupby(["key", "customer_id"]
                                                                         ).size()
        customers = per.groupby(level=0).size().to_dict()
        if name == "orders_per_customer":
            return _ratio(per.groupby(level=0).sum().to_dict(), customers)
        return _ratio((per >= 2).groupby(level=0).sum().to_dict(), customers)
    if name in ("customers", "new_customers", "returning_customers", "returning_customer_rate"):
        pc = _per_customer(shop, f, by, cancelled)
        allc = pc.groupby("key").size().to_dict()
        new = pc[pc.is_first].groupby("key").size().to_dict()
        ret = pc[~pc.is_first].groupby("key").size().to_dict()
        return {"customers": allc, "new_customers": new, "returning_customers": ret,
                "returning_customer_rate": _ratio(ret, allc)}[name]
    if name == "spend":
        return _sum(shop.marketing_spend, "spend", "date", f, by)
    if name in ("roas", "paid_revenue"):
        s, ms = shop.marketing_spend, _mask(shop.marketing_spend, "date", f)
        sp = s[ms].assign(key=_key(s[ms], "date", by)).groupby(["key", "channel"])["spend"].sum()
        vm = _mask(v, "ordered_at", f)
        rev = v[vm].assign(key=_key(v[vm], "ordered_at", by)).groupby(["key", "channel"])["net"].sum()
        # Only the channels with spend in the group (a paused campaign's 0.00 rows are none).
        rev = rev.reindex(sp[sp > 0].index).fillna(0)
        num, den = rev.groupby(level=0).sum().to_dict(), sp.groupby(level=0).sum().to_dict()
        if name == "paid_revenue":
            return {k: num.get(k, 0) for k in den}
        return _ratio(num, den)
    if name in ("mer", "mer_inverse"):
        from dataclasses import replace
        shop_wide = replace(f, channels=())
        net = oracle("net_sales", shop, shop_wide, by, cancelled)
        spend = _sum(shop.marketing_spend, "spend", "date", shop_wide, by)
        if name == "mer":
            return {k: net.get(k, 0) / sp if sp else None for k, sp in spend.items()}
        return {k: sp / net.get(k, 0) if net.get(k, 0) else None for k, sp in spend.items()}
    if name == "cac":
        spend = _sum(shop.marketing_spend, "spend", "date", f, by)
        pc = _per_customer(shop, f, by, cancelled)
        new = pc[pc.is_first].groupby("key").size().to_dict()
        return {k: (spend[k] / new[k] if spend.get(k) and new.get(k) else None)
                for k in set(spend) | set(new)}
    ms = shop.marketing_spend
    if name == "cpc":
        clicked = ms[ms.clicks.notna()]
        return _ratio(_sum(clicked, "spend", "date", f, by), _sum(clicked, "clicks", "date", f, by))
    if name == "ctr":
        both = ms[ms.clicks.notna() & ms.impressions.notna()]
        return _ratio(_sum(both, "clicks", "date", f, by), _sum(both, "impressions", "date", f, by))
    raise KeyError(f"no oracle for {name}")
