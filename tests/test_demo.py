"""The demo shop looks like a real shop: the things every page needs to show are there."""
from datetime import date

import pandas as pd

from kpilib import demo


def test_demo_is_deterministic():
    a = demo.generate(months=2, scale=0.02, seed=3, end=date(2026, 1, 31))
    b = demo.generate(months=2, scale=0.02, seed=3, end=date(2026, 1, 31))
    pd.testing.assert_frame_equal(a.orders, b.orders)


def test_demo_shop_is_realistic(demo_shop):
    o, t, s = demo_shop.orders, demo_shop.traffic, demo_shop.marketing_spend
    assert t.date.min() == date(2025, 5, 1) and t.date.max() == date(2026, 10, 31)  # 18 months
    assert t.channel.nunique() == 8
    conv = t.purchases.sum() / t.sessions.sum()
    assert 0.02 <= conv <= 0.03
    # Purchases in traffic are the orders: blended and session conversion agree.
    assert len(o) == t.purchases.sum()
    status = o.status.value_counts(normalize=True)
    assert 0.01 < status["cancelled"] < 0.06 and "refunded" in status and "partially_refunded" in status
    ident = o[o.customer_id.notna() & (o.status != "cancelled")]
    repeat = (ident.groupby("customer_id").size() >= 2).mean()
    assert 0.1 < repeat < 0.5
    assert 0.03 < o.customer_id.isna().mean() < 0.12          # guest checkouts
    assert (demo_shop.inventory.on_hand <= 0).any()            # stock-outs happen
    month = pd.to_datetime(o.ordered_at).dt.month
    assert (month == 12).sum() > 1.2 * (month == 2).sum()      # seasonality
    weekday = pd.to_datetime(t.date).dt.day_of_week
    by_wd = t.groupby(weekday).sessions.sum()
    assert by_wd[0] > by_wd[5] * 1.15                          # Mondays busier than Saturdays
    # Falling returns on ads: revenue per euro of paid search is lower in the last quarter.
    ps_rev = o[(o.channel == "paid_search") & (o.status != "cancelled")]
    q = lambda d: (pd.to_datetime(d) >= "2026-08-01")  # noqa: E731
    ps_spend = s[s.channel == "paid_search"]
    late = ps_rev[q(ps_rev.ordered_at)].gross_sales.sum() / ps_spend[q(ps_spend.date)].spend.sum()
    early = ps_rev[~q(ps_rev.ordered_at)].gross_sales.sum() / ps_spend[~q(ps_spend.date)].spend.sum()
    assert late < early


def test_demo_money_is_consistent(demo_shop):
    items = demo_shop.order_items
    gross = (items.quantity * items.unit_price).groupby(items.order_id).sum().round(2)
    o = demo_shop.orders.set_index("order_id")
    assert (gross.reindex(o.index) - o.gross_sales).abs().max() < 0.005
    r = demo_shop.refunds.merge(demo_shop.orders, on="order_id")
    assert (r.amount <= r.gross_sales - r.discounts + 0.005).all()
    assert (r.refunded_at >= r.ordered_at).all()
