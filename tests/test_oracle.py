"""Every registered KPI against its pandas oracle on the generated demo shop: totals, each
grouping, with and without a channel filter. Money to the cent, ratios to 1e-9."""
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from helpers import connection
from kpilib import KPIS, Filters, registry, run, stock
from kpilib.kpi import refused
from oracle import _refunds, oracle

FILTERS = {
    "whole history": Filters(date(2025, 5, 1), date(2026, 10, 31)),
    "one month": Filters(date(2025, 11, 1), date(2025, 11, 30)),
    "quarter, two channels": Filters(date(2026, 4, 1), date(2026, 6, 30),
                                     ("email", "paid_social")),
    # Partial months at both ends: what a monthly rollup answers and the days around it.
    "weeks across months, two channels": Filters(date(2026, 2, 11), date(2026, 4, 19),
                                                 ("organic_search", "email")),
}


def compare(kpi, got: dict, want: dict):
    tol = 0.005 if kpi.unit == "money" and not kpi.ratio else 1e-9
    for k, w in want.items():
        g = got.get(k)
        if w is None:
            assert g is None or math.isnan(g), (k, g)
        else:
            assert g is not None and math.isclose(g, w, rel_tol=1e-9, abs_tol=tol), (k, g, w)
    # Groups the oracle does not have are empty periods: 0, or no value for a ratio.
    for k in got.keys() - want.keys():
        assert got[k] == kpi.empty or (kpi.empty is None and math.isnan(got[k])), (k, got[k])


# Stock KPIs have their own pandas comparison in test_stock.py (they need day-by-day stock).
STOCK = {k.name for k in stock.KPIS}
CASES = [(name, by) for name, k in KPIS.items() if not k.table and name not in STOCK
         for by in (None, "day", "week", "month", "channel") if by is None or by in k.by]


# Each KPI's total under every filter set; each grouping under the sets whose edges test it
# (weeks and months cut at both ends, days and channels under a channel filter), not all
# four: the suite's time on two cores, at no loss of a case that differs.
GROUPED_UNDER = {None: tuple(FILTERS), "day": ("quarter, two channels",),
                 "week": ("weeks across months, two channels",),
                 "month": ("whole history", "weeks across months, two channels"),
                 "channel": ("one month", "quarter, two channels")}


@pytest.mark.parametrize("name,by,fname", [(n, by, fname) for n, by in CASES
                                           for fname in GROUPED_UNDER[by]])
def test_kpi_matches_pandas(demo_store, demo_shop, name, fname, by):
    """Both paths — the rollups (where the KPI and filters allow) and the rows — against an
    independent pandas computation."""
    check(name, demo_shop, demo_store, FILTERS[fname], by)


def check(name, shop, store, f, by):
    """KPI ``name`` on ``store`` read both ways equals the oracle's on ``shop``, under the
    store's convention for cancelled orders."""
    kpi = KPIS[name]
    want = oracle(name, shop, f, by, store.settings["cancelled_orders"])
    if by is None and not want:
        want = {"total": kpi.empty}
    con = connection(store)
    for rollups in (True, False):
        df = run(con, kpi, f, by, rollups=rollups)
        key = {None: None, "channel": "channel"}.get(by, "period")
        compare(kpi, dict(zip(df[key] if key else ["total"], df["value"])), want)


# Device and country filters (issue 29): each KPI that takes them against the oracle, which
# keeps the rows of those devices and countries (a refund's and a line's: its order's).
SPLIT_FILTERS = {
    "one month, mobile in France": Filters(date(2025, 11, 1), date(2025, 11, 30),
                                           devices=("mobile",), countries=("FR",)),
    "quarter, two channels, desktop and tablet": Filters(
        date(2026, 4, 1), date(2026, 6, 30), ("email", "paid_social"),
        devices=("desktop", "tablet")),
    "weeks across months, Belgium and Germany": Filters(date(2026, 2, 11), date(2026, 4, 19),
                                                        countries=("BE", "DE")),
}


@pytest.mark.parametrize("name,by,fname", [
    (n, by, fname) for n, by in CASES for i, (fname, f) in enumerate(SPLIT_FILTERS.items())
    if not refused(KPIS[n], f)
    # Totals under each; a grouping under one, in turn (by its place in the KPI's groupings).
    and (by is None or i == KPIS[n].by.index(by) % len(SPLIT_FILTERS))])
def test_split_kpi_matches_pandas(demo_store, demo_shop, name, fname, by):
    check(name, demo_shop, demo_store, SPLIT_FILTERS[fname], by)


def test_the_split_oracle_cases_cover_the_sales_and_traffic_kpis():
    from kpilib.kpi import takes
    split = {n for n, _ in CASES if "countries" in takes(KPIS[n])}
    assert {"net_sales", "orders", "aov", "returns", "return_rate_value", "total_sales",
            "units_per_order", "cancellation_rate"} <= split
    assert {"sessions", "conversion_rate"} <= {n for n, _ in CASES
                                               if "devices" in takes(KPIS[n])}


@pytest.fixture(scope="module")
def shopify_store(demo_store, tmp_path_factory):
    """The demo shop under Shopify's convention for cancelled orders: each a sale on its day,
    returned whole on the day it was cancelled (some the next day, some the next month)."""
    import shutil

    from kpilib import Store
    path = tmp_path_factory.mktemp("shopify") / "store"
    shutil.copytree(demo_store.path, path)
    store = Store(path)
    store.update_settings({"cancelled_orders": "shopify"})
    return store


# A KPI that reads no view the convention changes gives the same figures under both
# (kpilib.registry.follows_cancelled, from the views its SQL reads): checked above.
@pytest.mark.parametrize("fname", ["whole history", "weeks across months, two channels"])
@pytest.mark.parametrize("name,by", [(n, by) for n, by in CASES
                                     if registry.follows_cancelled(KPIS[n])])
def test_kpi_matches_pandas_counting_cancelled_orders(shopify_store, demo_shop, name, fname,
                                                      by):
    check(name, demo_shop, shopify_store, FILTERS[fname], by)


# --- paused campaigns: spend rows of 0.00 --------------------------------------------------
# (channel, first day, last day) set to 0.00: a week and a day of paid search inside the
# periods above, a whole month of affiliate ("one month"), a month of paid social inside
# "quarter, two channels".
PAUSES = [("paid_social", date(2025, 11, 10), date(2025, 11, 16)),
          ("affiliate", date(2025, 11, 1), date(2025, 11, 30)),
          ("paid_social", date(2026, 5, 1), date(2026, 5, 31)),
          ("paid_search", date(2026, 3, 2), date(2026, 3, 2))]


@pytest.fixture(scope="module")
def paused(demo_shop, tmp_path_factory):
    from dataclasses import replace

    from kpilib import Store, demo
    spend = demo_shop.marketing_spend.copy()
    day = pd.to_datetime(spend["date"])
    for channel, first, last in PAUSES:
        spend.loc[(spend.channel == channel) & (day >= pd.Timestamp(first))
                  & (day <= pd.Timestamp(last)), "spend"] = 0.0
    shop = replace(demo_shop, marketing_spend=spend)
    store = Store(tmp_path_factory.mktemp("paused") / "store")
    demo.write(store, shop)
    return shop, store


@pytest.mark.parametrize("fname", FILTERS)
@pytest.mark.parametrize("name,by", [(n, by) for n in ("roas", "paid_revenue")
                                     for by in (None, "day", "week", "month", "channel")])
def test_paused_campaigns_match_pandas(paused, name, fname, by):
    """Channels whose spend in a group is 0.00 count in no ROAS total, on both paths."""
    shop, store = paused
    check(name, shop, store, FILTERS[fname], by)


# --- table KPIs ------------------------------------------------------------------------------
# Under either convention for cancelled orders: left out, or counted as Shopify does.
CONVENTIONS = pytest.mark.parametrize("cancelled", ["excluded", "shopify"])


@pytest.fixture
def stores(request):
    return lambda cancelled: request.getfixturevalue(
        {"excluded": "demo_store", "shopify": "shopify_store"}[cancelled])


def _valid(shop, cancelled="excluded"):
    o = shop.orders
    return o if cancelled == "shopify" else o[o.status != "cancelled"]


def _first_orders(shop, cancelled="excluded"):
    v = _valid(shop, cancelled)
    v = v[v.customer_id.notna()].sort_values(["ordered_at", "order_id"])
    return v.groupby("customer_id").first()


@pytest.mark.parametrize("fname", ["whole history", "quarter, two channels",
                                   "weeks across months, two channels"])
@CONVENTIONS
def test_cohort_retention_matches_pandas(stores, demo_shop, fname, cancelled):
    f = FILTERS[fname]
    first = _first_orders(demo_shop, cancelled)
    month = pd.to_datetime(first.ordered_at).dt.to_period("M")
    day = pd.to_datetime(first.ordered_at).dt.normalize()
    sel = first[(day >= pd.Timestamp(f.start)) & (day <= pd.Timestamp(f.end))
                & (first.channel.isin(f.channels) if f.channels else True)]
    v = _valid(demo_shop, cancelled)
    v = v[v.customer_id.isin(sel.index)]
    om, cm = pd.to_datetime(v.ordered_at).dt.to_period("M"), month.reindex(v.customer_id)
    # Months since the cohort's month: (year × 12 + month) of each, subtracted.
    k = pd.Series((om.dt.year * 12 + om.dt.month).to_numpy()
                  - (cm.dt.year * 12 + cm.dt.month).to_numpy(), index=v.index)
    active = v.assign(k=k.values, cohort=month.reindex(v.customer_id).to_numpy()).groupby(
        ["cohort", "k"]).customer_id.nunique()
    size = month.reindex(sel.index).value_counts()
    want = {(c.start_time.date(), kk): a / size[c] for (c, kk), a in active.items()}
    t = run(stores(cancelled).connect(), KPIS["cohort_retention"], f)
    got = {(c.date() if hasattr(c, "date") else c, kk): val
           for c, kk, val in t[["cohort", "k", "value"]].itertuples(index=False)}
    assert got.keys() == want.keys()
    for key, w in want.items():
        assert math.isclose(got[key], w, rel_tol=1e-9), key


def _cohort(shop, f, cancelled="excluded"):
    """The customers first acquired in the period (on its channels) and their valid orders."""
    first = _first_orders(shop, cancelled)
    day = pd.to_datetime(first.ordered_at).dt.normalize()
    sel = first[(day >= pd.Timestamp(f.start)) & (day <= pd.Timestamp(f.end))
                & (first.channel.isin(f.channels) if f.channels else True)]
    v = _valid(shop, cancelled)
    return sel, v[v.customer_id.isin(sel.index)]


@pytest.mark.parametrize("fname", ["whole history", "weeks across months, two channels"])
@CONVENTIONS
def test_cohort_ltv_matches_pandas(stores, demo_shop, fname, cancelled):
    f = FILTERS[fname]
    sel, v = _cohort(demo_shop, f, cancelled)
    cohort = pd.to_datetime(sel.ordered_at).dt.to_period("M")
    refunded = _refunds(demo_shop, cancelled).groupby("order_id").amount.sum()
    v = v.assign(cohort=cohort.reindex(v.customer_id).to_numpy(),
                 net=v.gross_sales - v.discounts - v.order_id.map(refunded).fillna(0))
    v["k"] = [(m - c).n for m, c in zip(pd.to_datetime(v.ordered_at).dt.to_period("M"),
                                        v.cohort)]
    size = cohort.value_counts()
    per = v.groupby(["cohort", "k"]).net.sum()
    cum = per.groupby(level=0).cumsum()
    want = {(c.start_time.date(), k): x / size[c] for (c, k), x in cum.items()}
    t = run(stores(cancelled).connect(), KPIS["cohort_ltv"], f)
    got = {(c.date() if hasattr(c, "date") else c, k): x
           for c, k, x in t[["cohort", "k", "value"]].itertuples(index=False)}
    assert got.keys() == want.keys() and len(want) > 10
    for key, w in want.items():
        assert math.isclose(got[key], w, rel_tol=1e-9, abs_tol=1e-6), key


@pytest.mark.parametrize("fname", ["whole history", "weeks across months, two channels"])
@CONVENTIONS
def test_days_to_second_order_matches_pandas(stores, demo_shop, fname, cancelled):
    sel, v = _cohort(demo_shop, FILTERS[fname], cancelled)
    v = v.sort_values(["ordered_at", "order_id"])
    second = v.groupby("customer_id").ordered_at.nth(1)
    second = pd.Series(second.values, index=v.loc[second.index, "customer_id"])
    # Calendar days between the two order dates (DuckDB's date_diff('day', …)).
    days = (pd.to_datetime(second).dt.normalize()
            - pd.to_datetime(sel.ordered_at.reindex(second.index)).dt.normalize()).dt.days
    t = run(stores(cancelled).connect(), KPIS["days_to_second_order"], FILTERS[fname])
    got = dict(zip(t.bucket, t.customers))
    assert got.pop("not yet") == len(sel) - len(second)
    assert sum(got.values()) == len(second)
    assert got.get("0–7 days", 0) == (days <= 7).sum()
    assert got.get("over a year", 0) == (days > 365).sum()


def _ntile(i: int, rows: int, n: int) -> int:
    """SQL's ntile(n) for the i-th row (0-based) of ``rows``: the first rows % n tiles have
    one row more."""
    q, r = divmod(rows, n)
    return i // (q + 1) + 1 if i < r * (q + 1) else (i - r * (q + 1)) // q + r + 1


@pytest.mark.parametrize("fname", ["whole history", "weeks across months, two channels"])
@CONVENTIONS
def test_rfm_customers_match_pandas(stores, demo_shop, fname, cancelled):
    f = FILTERS[fname]
    end = pd.Timestamp(f.end)
    first = _first_orders(demo_shop, cancelled)
    v = _valid(demo_shop, cancelled)
    v = v[v.customer_id.notna()].assign(day=lambda d: pd.to_datetime(d.ordered_at).dt.normalize())
    v = v[(v.day <= end) & (v.customer_id.map(first.channel).isin(f.channels)
                            if f.channels else True)]
    r = _refunds(demo_shop, cancelled)
    r = r[pd.to_datetime(r.refunded_at).dt.normalize() <= end].groupby("order_id").amount.sum()
    c = v.assign(net=v.gross_sales - v.discounts - v.order_id.map(r).fillna(0)).groupby(
        "customer_id").agg(last=("day", "max"), orders=("order_id", "size"), revenue=("net", "sum"))
    c["recency_days"] = (end - c["last"]).dt.days
    c = c.reset_index().sort_values(["recency_days", "customer_id"], ignore_index=True)
    c["r"] = [6 - _ntile(i, len(c), 5) for i in range(len(c))]
    c["f"] = c.orders.clip(upper=3).where(c.orders < 4, c.orders.map(lambda o: 5 if o >= 6 else 4))
    demo_store = stores(cancelled)
    t = run(demo_store.connect(), KPIS["rfm_customers"], f).set_index("customer_id")
    c = c.set_index("customer_id")
    assert sorted(t.index) == sorted(c.index) and len(c) > 100
    assert (t.recency_days == c.recency_days.reindex(t.index)).all()
    assert (t.orders == c.orders.reindex(t.index)).all()
    assert ((t.revenue - c.revenue.reindex(t.index)).abs() < 1e-6).all()
    rf = c.reindex(t.index)
    r_, f_ = rf.r, rf.f
    want = np.select([(r_ >= 4) & (f_ >= 4), (r_ >= 2) & (f_ >= 3), (r_ >= 4) & (f_ == 1),
                      (r_ >= 3) & (f_ <= 2), (r_ == 1) & (f_ >= 4), (r_ <= 2) & (f_ >= 3),
                      (r_ == 2) & (f_ <= 2)],
                     ["Champions", "Loyal", "New", "Promising", "Cannot lose them", "At risk",
                      "About to sleep"], "Lost")
    assert (t.segment.to_numpy() == want).all()
    seg = run(demo_store.connect(), KPIS["rfm_segments"], f).set_index("segment")
    assert t.segment.value_counts().to_dict() == seg.customers.to_dict()
    # The segments' sums (from customers counted by day, with the refunds made after the end
    # added) equal the customers' own: revenue to the cent, orders and recency exactly.
    by = t.groupby("segment")
    assert (by.revenue.sum() - seg.revenue).abs().max() < 0.005
    assert (by.orders.mean() - seg.orders_per_customer).abs().max() < 1e-9
    assert (by.recency_days.mean() - seg.avg_recency_days).abs().max() < 1e-9


@pytest.mark.parametrize("view", FILTERS)
@CONVENTIONS
def test_top_categories_match_pandas(stores, demo_shop, view, cancelled):
    f = FILTERS[view]
    v = _valid(demo_shop, cancelled)
    if f.channels:
        v = v[v.channel.isin(f.channels)]
    day = pd.to_datetime(v.ordered_at).dt.normalize()
    v = v[(day >= pd.Timestamp(f.start)) & (day <= pd.Timestamp(f.end))]
    lines = demo_shop.order_items.merge(v[["order_id", "discounts", "gross_sales"]],
                                        on="order_id")
    lines["value"] = lines.quantity * lines.unit_price
    lines["disc"] = lines.discounts * lines.value / lines.groupby("order_id").value.transform("sum")
    # Refunds (of valid orders) spread over their SKU's lines, else the whole order, by value.
    r = _refunds(demo_shop, cancelled)
    r = r[r.order_id.isin(v.order_id)]
    alloc = []
    for rf in r.itertuples():
        ls = lines[lines.order_id == rf.order_id]
        if isinstance(rf.sku, str):
            ls = ls[ls.sku == rf.sku]
        alloc += [(c, rf.amount * val / ls.value.sum()) for c, val in zip(ls.category, ls.value)]
    refunded = pd.DataFrame(alloc, columns=["category", "amount"]).groupby("category").amount.sum()
    net = (lines.value - lines.disc).groupby(lines.category).sum() - refunded.reindex(
        lines.category.unique()).fillna(0)
    t = run(stores(cancelled).connect(), KPIS["top_categories"], f).set_index("category")
    assert t.index.tolist() == net.sort_values(ascending=False).index.tolist()
    gross = lines.value.groupby(lines.category).sum()
    for c, w in net.items():
        assert math.isclose(t.loc[c, "net_sales"], w, abs_tol=0.01), c
        # A cancelled order's lines counted under Shopify's convention (their net is 0).
        assert math.isclose(t.loc[c, "gross_sales"], gross[c], abs_tol=0.01), c


def test_orders_by_status_matches_pandas(demo_store, demo_shop):
    f = FILTERS["one month"]
    o = demo_shop.orders
    day = pd.to_datetime(o.ordered_at).dt.normalize()
    want = o[(day >= pd.Timestamp(f.start)) & (day <= pd.Timestamp(f.end))].status.value_counts()
    t = run(demo_store.connect(), KPIS["orders_by_status"], f)
    assert dict(zip(t.status, t.orders)) == want.to_dict()


@pytest.mark.parametrize("f", [Filters(date(2025, 11, 15), date(2026, 1, 15)),
                               Filters(date(2026, 2, 11), date(2026, 4, 19),
                                       ("paid_search", "affiliate"))])
@CONVENTIONS
def test_payback_matches_pandas(stores, demo_shop, f, cancelled):
    """A period cut mid-month: each cohort's spend and customers over the same days."""
    sel, v = _cohort(demo_shop, f, cancelled)
    cohort = pd.to_datetime(sel.ordered_at).dt.to_period("M")
    size = sel.groupby([sel.channel, cohort]).size().rename_axis(["channel", "cohort"])
    s = demo_shop.marketing_spend
    day = pd.to_datetime(s.date)
    s = s[(day >= pd.Timestamp(f.start)) & (day <= pd.Timestamp(f.end))
          & (s.channel.isin(f.channels) if f.channels else True)]
    spend = s.groupby([s.channel, pd.to_datetime(s.date).dt.to_period("M")]).spend.sum(
    ).rename_axis(["channel", "cohort"])
    cac = (spend[spend > 0] / size).dropna()
    refunded = _refunds(demo_shop, cancelled).groupby("order_id").amount.sum()
    v = v.assign(channel=sel.channel.reindex(v.customer_id).to_numpy(),
                 cohort=cohort.reindex(v.customer_id).to_numpy(),
                 net=v.gross_sales - v.discounts - v.order_id.map(refunded).fillna(0))
    v["k"] = [(m - c).n for m, c in zip(pd.to_datetime(v.ordered_at).dt.to_period("M"),
                                        v.cohort)]
    per = v.groupby(["channel", "cohort", "k"]).net.sum()
    last = pd.to_datetime(demo_shop.orders.ordered_at).max().to_period("M")
    want = {}
    for (channel, c), x in cac.items():
        total = 0.0
        for k in range((last - c).n + 1):
            total += per.get((channel, c, k), 0.0)
            want[(channel, c.start_time.date(), k)] = (size[(channel, c)], x,
                                                       total / size[(channel, c)])
    t = run(stores(cancelled).connect(), KPIS["payback"], f)
    got = {(ch, c.date() if hasattr(c, "date") else c, k): (n, x, r)
           for ch, c, k, n, x, r in t[["channel", "cohort", "k", "customers", "cac",
                                       "revenue_per_customer"]].itertuples(index=False)}
    assert got.keys() == want.keys() and len(want) > 10
    for key, (n, x, r) in want.items():
        assert got[key][0] == n, key
        assert math.isclose(got[key][1], x, rel_tol=1e-9), key
        assert math.isclose(got[key][2], r, rel_tol=1e-9, abs_tol=1e-6), key
