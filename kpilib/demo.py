"""A deterministic demo shop, so every page shows real charts before any upload.

A European fashion-and-home shop selling in EUR: 8 marketing channels, seasonality (November and
December peaks, summer dip, Black Friday), a weekday pattern, 2–3 % conversion, repeat customers
(mostly through email and direct), guest checkouts, cancellations, full and partial refunds,
stock-outs of SKUs whose supplier is slow, and paid channels whose sessions grow slower than their
spend (diminishing returns). Money is generated in integer cents so every sum is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

# channel: base daily sessions at scale 1, purchase rate per session, share of orders from
# returning customers, share of new users.
CHANNELS = {
    "organic_search": (1100, 0.022, 0.30, 0.65),
    "paid_search": (700, 0.028, 0.20, 0.75),
    "paid_social": (500, 0.013, 0.12, 0.80),
    "email": (260, 0.045, 0.80, 0.10),
    "direct": (600, 0.034, 0.55, 0.35),
    "affiliate": (150, 0.030, 0.20, 0.70),
    "referral": (120, 0.020, 0.25, 0.60),
    "marketplace": (200, 0.040, 0.10, 0.85),
}
# Paid channels: base daily spend at scale 1. Sessions follow spend ** ELASTICITY.
SPEND = {"paid_search": 420.0, "paid_social": 650.0, "affiliate": 110.0}
CAMPAIGNS = {"paid_search": ("brand", "generic", "shopping"),
             "paid_social": ("prospecting", "retargeting"),
             "affiliate": ("cashback", "vouchers")}
ELASTICITY = 0.7
BUDGET_GROWTH = 0.035  # per month: spend grows faster than the sessions it buys
DEVICES = {"mobile": (0.55, 0.8), "desktop": (0.38, 1.35), "tablet": (0.07, 1.0)}
SEASON = (0.85, 0.80, 0.90, 0.95, 1.00, 0.95, 0.85, 0.80, 0.95, 1.05, 1.35, 1.45)
WEEKDAY = (1.10, 1.05, 1.00, 1.00, 0.95, 0.85, 1.05)
CATEGORIES = {"Dresses": 59, "Tops": 29, "Shoes": 79, "Accessories": 19, "Home": 39,
              "Beauty": 24}
COUNTRIES = {"FR": 0.55, "BE": 0.12, "DE": 0.10, "ES": 0.08, "IT": 0.08, "NL": 0.07}
REASONS = ("wrong size", "damaged", "not as described", "changed mind", "late delivery")


@dataclass
class DemoShop:
    orders: pd.DataFrame
    order_items: pd.DataFrame
    refunds: pd.DataFrame
    traffic: pd.DataFrame
    inventory: pd.DataFrame
    products: pd.DataFrame
    marketing_spend: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return dict(vars(self))


def default_end(today: date | None = None) -> date:
    """The last day of the previous month: monthly exports stop there."""
    today = today or date.today()
    return today.replace(day=1) - timedelta(days=1)


def _black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    return nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 22)


def generate(months: int = 18, scale: float = 1.0, seed: int = 7,
             end: date | None = None, skus: int = 150, lines: float = 0.6) -> DemoShop:
    """``scale`` multiplies traffic and orders; ``skus`` is the catalogue size and ``lines``
    the mean number of extra lines per order (the benchmark's large shop raises all three)."""
    rng = np.random.default_rng(seed)
    end = end or default_end()
    first = end.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    days = pd.date_range(first, end, freq="D")
    n_days = len(days)
    month_idx = (days.year - first.year) * 12 + days.month - first.month
    season = np.array([SEASON[m - 1] for m in days.month])
    weekday = np.array([WEEKDAY[d] for d in days.day_of_week])
    bf = np.zeros(n_days)
    for y in sorted(set(days.year)):
        b = pd.Timestamp(_black_friday(y))
        bf += np.where((days >= b - pd.Timedelta(days=2)) & (days <= b + pd.Timedelta(days=3)),
                       0.8, 0.0)
    demand = (1 + 0.015 * month_idx) * season * weekday * (1 + bf)

    # --- products --------------------------------------------------------------------------
    cats = list(CATEGORIES)
    n_skus = skus
    sku_cat = rng.integers(0, len(cats), n_skus)
    price_c = np.round(np.array([CATEGORIES[cats[c]] for c in sku_cat])
                       * rng.lognormal(0, 0.35, n_skus), 0) * 100 - 10  # e.g. 49.90
    price_c = np.maximum(price_c, 490).astype(np.int64)
    cost_c = (price_c * rng.uniform(0.35, 0.55, n_skus)).round().astype(np.int64)
    skus = [f"SKU-{i:04d}" for i in range(1, n_skus + 1)]
    adjectives = ("Classic", "Linen", "Velvet", "Organic", "Vintage", "Urban", "Soft", "Bold")
    singular = {"Dresses": "dress", "Tops": "top", "Shoes": "shoes", "Accessories": "scarf",
                "Home": "cushion", "Beauty": "soap"}
    names = [f"{adjectives[i % len(adjectives)]} {singular[cats[c]]} {i:03d}"
             for i, c in enumerate(sku_cat, 1)]
    popularity = 1 / np.arange(1, n_skus + 1) ** 0.9
    popularity = rng.permutation(popularity / popularity.sum())
    products = pd.DataFrame({"sku": skus, "product_name": names,
                             "category": [cats[c] for c in sku_cat],
                             "unit_cost": cost_c / 100, "price": price_c / 100})

    # --- spend and traffic -----------------------------------------------------------------
    traffic_rows, spend_rows = [], []
    ch_sessions = {}
    for ch, (base, *_rest) in CHANNELS.items():
        noise = rng.lognormal(0, 0.08, n_days)
        if ch in SPEND:
            budget = SPEND[ch] * scale * (1 + BUDGET_GROWTH) ** month_idx * season * (1 + bf / 2)
            spend = np.round(budget * rng.lognormal(0, 0.1, n_days), 2)
            # Diminishing returns: sessions per euro fall as the budget grows.
            k = base * scale / (SPEND[ch] * scale) ** ELASTICITY
            sessions = k * spend ** ELASTICITY * weekday * noise
            camps = CAMPAIGNS[ch]
            split = rng.dirichlet(np.ones(len(camps)) * 4, n_days)
            for j, camp in enumerate(camps):
                cs = np.round(spend * split[:, j], 2)
                clicks = rng.poisson(sessions * split[:, j] * 1.08)
                spend_rows.append(pd.DataFrame({
                    "date": days.date, "channel": ch, "campaign": camp, "spend": cs,
                    "impressions": rng.poisson(clicks / rng.uniform(0.008, 0.03) + 1),
                    "clicks": clicks}))
        else:
            sessions = base * scale * demand * noise
        ch_sessions[ch] = rng.poisson(np.maximum(sessions, 0))

    for ch, (base, conv, ret_share, new_share) in CHANNELS.items():
        for dev, (share, conv_mult) in DEVICES.items():
            s = rng.binomial(ch_sessions[ch], share)
            p_buy = np.clip(conv * conv_mult * (season ** 0.5) * rng.lognormal(0, 0.05, n_days),
                            0, 0.5)
            pv = rng.binomial(s, 0.62)
            atc = rng.binomial(pv, np.clip(p_buy * 3.3 / 0.62, 0, 1))
            co = rng.binomial(atc, np.clip(1.75 / 3.3, 0, 1))
            pu = rng.binomial(co, 1 / 1.75)
            users = rng.binomial(s, 0.83)
            traffic_rows.append(pd.DataFrame({
                "date": days.date, "channel": ch, "device": dev, "sessions": s,
                "users": users, "new_users": rng.binomial(users, new_share),
                "product_views": pv, "add_to_carts": atc, "checkouts": co, "purchases": pu}))
    traffic = pd.concat(traffic_rows, ignore_index=True)
    marketing_spend = pd.concat(spend_rows, ignore_index=True)

    # --- orders: one per purchase, at a time of day weighted towards the evening -------------
    rep = traffic.loc[traffic.purchases > 0, ["date", "channel", "device", "purchases"]]
    o = rep.loc[rep.index.repeat(rep.purchases)].reset_index(drop=True)
    hours = rng.choice(24, len(o), p=_hour_weights())
    secs = hours * 3600 + rng.integers(0, 3600, len(o))
    o["ordered_at"] = pd.to_datetime(o["date"]) + pd.to_timedelta(secs, unit="s")
    o = o.sort_values("ordered_at", kind="stable").reset_index(drop=True)
    n = len(o)
    o["order_id"] = [f"{100001 + i}" for i in range(n)]

    # Customers: guests, returning customers picked with a preference for recent ones, and new.
    ret_share = o["channel"].map({c: v[2] for c, v in CHANNELS.items()}).to_numpy()
    guest = rng.random(n) < 0.07
    wants_return = rng.random(n) < ret_share
    cust = np.full(n, -1)
    next_id = 0
    day_codes = o["date"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, day_codes[1:] != day_codes[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        existing = next_id
        for i in range(a, b):
            if guest[i]:
                continue
            if wants_return[i] and existing > 20:
                back = int(rng.exponential(existing * 0.35))
                cust[i] = existing - 1 - min(back, existing - 1)
            else:
                cust[i] = next_id
                next_id += 1
    o["customer_id"] = pd.array([f"C{c:06d}" if c >= 0 else None for c in cust], dtype="string")
    o["country"] = rng.choice(list(COUNTRIES), n, p=list(COUNTRIES.values()))
    o["currency"] = "EUR"

    # --- order lines, with stock: a SKU out of stock is not sold that day -----------------
    n_lines = 1 + np.minimum(rng.poisson(lines, n), 4)
    li_order = np.repeat(np.arange(n), n_lines)
    li_sku = rng.choice(n_skus, len(li_order), p=popularity)
    li_qty = 1 + (rng.random(len(li_order)) < 0.15) + (rng.random(len(li_order)) < 0.04)
    li_day = np.repeat(o["date"].to_numpy(), n_lines)
    expected_daily = popularity * n * 1.2 * n_lines.mean() / n_days
    slow_supplier = rng.random(n_skus) < 0.12
    # A few SKUs stop selling four months before the end (a trend passed) and keep their
    # stock: the dead stock the Stock page must find.
    discontinued = rng.choice(n_skus, 6, replace=False)
    cutoff = n_days - 120
    lead = np.where(slow_supplier, 35, 10)
    on_hand = np.ceil(expected_daily * 45).astype(np.int64) + 5
    arriving: dict[int, np.ndarray] = {}
    inv_rows = np.zeros((n_days, n_skus), dtype=np.int64)
    pending = np.zeros(n_skus, dtype=bool)
    # Lines are sorted by day; every calendar day gets its slice (empty on a day without
    # orders, which a small shop has) so stock is recorded for every day.
    day_index = np.searchsorted(days.date, li_day)
    starts = np.searchsorted(day_index, np.arange(n_days))
    ends = np.searchsorted(day_index, np.arange(n_days), side="right")
    for d_i, (a, b) in enumerate(zip(starts, ends)):
        if d_i in arriving:
            on_hand += arriving.pop(d_i)
        sku_today = li_sku[a:b]
        qty_today = li_qty[a:b]
        if d_i >= cutoff:
            gone = np.isin(sku_today, discontinued)
            sku_today[gone] = rng.choice(np.setdiff1d(np.arange(n_skus), discontinued), gone.sum())
        for _pass in range(2):
            cum = _running_sums(qty_today, sku_today)
            short = cum > on_hand[sku_today]
            if not short.any():
                break
            candidates = on_hand > expected_daily * 3
            if d_i >= cutoff:
                candidates[discontinued] = False
            in_stock = np.flatnonzero(candidates)
            sku_today[short] = rng.choice(in_stock, short.sum())
        sold = np.bincount(sku_today, weights=qty_today, minlength=n_skus).astype(np.int64)
        on_hand = np.maximum(on_hand - sold, 0)
        inv_rows[d_i] = on_hand
        reorder = (on_hand < expected_daily * 14) & ~pending
        if d_i >= cutoff:
            reorder[discontinued] = False
        if reorder.any():
            qty = np.where(reorder, np.ceil(expected_daily * 45).astype(np.int64) + 5, 0)
            due = d_i + lead
            for dd in np.unique(due[reorder]):
                arriving[int(dd)] = arriving.get(int(dd), 0) + np.where(due == dd, qty, 0)
            pending |= reorder
        arrived = on_hand > expected_daily * 14
        pending &= ~arrived
        li_sku[a:b] = sku_today
    inventory = pd.DataFrame({"date": np.repeat(days.date, n_skus),
                              "sku": np.tile(skus, n_days),
                              "on_hand": inv_rows.reshape(-1)})

    li_price = price_c[li_sku]
    # Black Friday week: list prices cut by 20 % on a third of the lines.
    li_bf = np.repeat(bf, 1)[np.searchsorted(days.date, li_day)] > 0
    li_price = np.where(li_bf & (rng.random(len(li_price)) < 0.33),
                        (li_price * 0.8).round(), li_price).astype(np.int64)
    line_no = np.arange(len(li_order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    order_items = pd.DataFrame({
        "order_id": o["order_id"].to_numpy()[li_order], "line": line_no,
        "sku": np.array(skus)[li_sku], "quantity": li_qty.astype(np.int64),
        "unit_price": li_price / 100,
        "product_name": np.array(names)[li_sku],
        "category": np.array([cats[c] for c in sku_cat])[li_sku],
        "ordered_at": o["ordered_at"].to_numpy()[li_order]})
    gross_c = np.bincount(li_order, weights=li_qty * li_price, minlength=n).astype(np.int64)

    # Discounts: codes on a quarter of orders (more through email), deeper on Black Friday.
    o_bf = bf[np.searchsorted(days.date, o["date"].to_numpy())] > 0
    code = rng.random(n) < np.where(o["channel"] == "email", 0.45, 0.22)
    rate = np.where(o_bf, 0.2, 0.1) * (code | (o_bf & (rng.random(n) < 0.5)))
    disc_c = np.round(gross_c * rate).astype(np.int64)
    ship_c = np.where(gross_c - disc_c < 6000, 490, 0)
    tax_c = np.round((gross_c - disc_c + ship_c) * 0.2).astype(np.int64)
    o["gross_sales"], o["discounts"] = gross_c / 100, disc_c / 100
    o["shipping"], o["tax"] = ship_c / 100, tax_c / 100

    # --- status, shipping, refunds ---------------------------------------------------------
    end_ts = pd.Timestamp(end) + pd.Timedelta(days=1)
    cancel_p = np.where(o["channel"] == "marketplace", 0.045, 0.022)
    cancelled = rng.random(n) < cancel_p
    december = o["ordered_at"].dt.month.to_numpy() == 12
    ship_delay = pd.to_timedelta(rng.lognormal(np.log(np.where(december, 40, 24)), 0.5, n),
                                 unit="h")
    shipped_at = o["ordered_at"] + ship_delay
    delivered_at = shipped_at + pd.to_timedelta(rng.uniform(24, 96, n), unit="h")
    is_shipped = ~cancelled & (shipped_at < end_ts)
    is_delivered = is_shipped & (delivered_at < end_ts)
    o["shipped_at"] = shipped_at.where(is_shipped)
    o["delivered_at"] = delivered_at.where(is_delivered)
    # Cancelled before shipping, half way to when it would have shipped (no draw of its own:
    # the shop's other figures stay as they were); on the order's moment if that is after the
    # end.
    cancel_at = o["ordered_at"] + ship_delay / 2
    o["cancelled_at"] = cancel_at.where(cancel_at < end_ts, o["ordered_at"]).where(cancelled)
    status = np.where(cancelled, "cancelled",
                      np.where(is_delivered, "delivered", np.where(is_shipped, "shipped", "paid")))

    refund_at = delivered_at + pd.to_timedelta(rng.uniform(2, 25, n), unit="D")
    refunded = is_delivered & (rng.random(n) < 0.07) & (refund_at < end_ts)
    partial = refunded & (n_lines > 1) & (rng.random(n) < 0.5)
    status = np.where(refunded, np.where(partial, "partially_refunded", "refunded"), status)
    o["status"] = status
    first_line = np.cumsum(n_lines) - n_lines
    r_idx = np.flatnonzero(refunded)
    # Full refunds give back what the customer paid for the goods; partial ones, the first line.
    full_amt = gross_c - disc_c
    line_amt = (li_qty * li_price)[first_line] * (1 - rate)
    amt_c = np.where(partial, np.round(line_amt), full_amt)[r_idx].astype(np.int64)
    refunds = pd.DataFrame({
        "refund_id": [f"R{i}" for i in o["order_id"].to_numpy()[r_idx]],
        "order_id": o["order_id"].to_numpy()[r_idx],
        "refunded_at": refund_at.to_numpy()[r_idx].astype("datetime64[s]"),
        "amount": amt_c / 100,
        "sku": np.where(partial[r_idx], np.array(skus)[li_sku[first_line[r_idx]]], None),
        "quantity": pd.Series(li_qty[first_line[r_idx]], dtype="Int64").where(partial[r_idx]),
        "reason": rng.choice(REASONS, len(r_idx), p=(0.35, 0.12, 0.2, 0.23, 0.1))})
    o["status_raw"] = o["status"]
    orders = o[["order_id", "ordered_at", "customer_id", "channel", "status", "status_raw",
                "currency",
                "gross_sales", "discounts", "shipping", "tax", "device", "country",
                "shipped_at", "delivered_at", "cancelled_at"]].copy()
    for col in ("ordered_at", "shipped_at", "delivered_at", "cancelled_at"):
        orders[col] = orders[col].dt.floor("s")
    return DemoShop(orders=orders, order_items=order_items, refunds=refunds, traffic=traffic,
                    inventory=inventory, products=products, marketing_spend=marketing_spend)


def _running_sums(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each value plus the values before it with the same key (a grouped cumulative sum:
    pandas' took a third of the demo's generation, called once or twice a day)."""
    order = np.argsort(keys, kind="stable")
    v, k = values[order], keys[order]
    sums = np.cumsum(v)
    first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])[:len(k)]   # each key's first row
    start = np.repeat(first, np.diff(np.r_[first, len(k)]))
    out = np.empty_like(sums)
    out[order] = sums - sums[start] + v[start]
    return out


def _hour_weights() -> np.ndarray:
    w = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 5, 5, 6, 7, 8, 9, 10, 9, 6, 4],
                 dtype=float)
    return w / w.sum()


def write(store, shop: DemoShop, progress=None) -> dict:
    """Write the demo shop into ``store`` (through the same atomic path as any upload);
    ``progress(fraction, text)`` as for :meth:`Store.write`."""
    import duckdb

    from .store import Source

    con = duckdb.connect()
    staged, sources = {}, []
    for name, df in shop.tables().items():
        con.register(f"demo_{name}", df)
        staged[name] = f"demo_{name}"
        sources.append(Source(name="demo shop", sha256="demo", table=name, rows=len(df)))
    return store.write(con, staged, sources, progress=progress)
