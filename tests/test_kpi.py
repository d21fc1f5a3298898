"""kpilib.kpi: an additive KPI's periods from its daily series equal the query's; KPIs read
together equal each read on its own."""
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from helpers import FEB
from kpilib import KPIS, Filters, from_daily, get, run, run_together
from kpilib.periods import calendar

ADDITIVE = [n for n, k in KPIS.items() if k.additive]
FILTERS = [Filters(date(2025, 5, 1), date(2026, 10, 31)),                 # whole history
           Filters(date(2026, 2, 11), date(2026, 4, 19), ("email", "organic_search")),
           Filters(date(2025, 11, 24), date(2025, 11, 30)),               # Black Friday week
           Filters(date(2026, 10, 20), date(2026, 11, 15)),               # past the data
           Filters(date(2026, 7, 1), date(2026, 9, 30), categories=("Tops",))]


def test_additive_kpis_are_declared():
    # The page KPIs asked for with comparisons and sparklines, and none that cannot be.
    assert {"net_sales", "orders", "aov", "sessions", "conversion_rate", "spend", "mer",
            "return_rate_value", "stockout_rate", "new_customers"} <= set(ADDITIVE)
    assert not {"customers", "returning_customer_rate", "fulfilment_days", "roas", "cac",
                "blended_conversion_rate", "on_hand"} & set(ADDITIVE)


@pytest.mark.parametrize("name", ADDITIVE)
def test_periods_from_the_daily_series_equal_the_query(demo_store, name):
    """Both paths (daily sums and rows): any period, grouped by nothing, day, week or month,
    from one daily series over the store's calendar is what the KPI's query returns."""
    con = demo_store.connect()
    kpi, span = get(name), calendar(con)
    for f in FILTERS:
        if f.categories and "category" not in kpi.by:
            continue
        for rollups in (True, False):
            days = run(con, kpi, replace(f, start=span[0], end=span[1]), "day",
                       rollups=rollups)
            for by in (None, "day", "week", "month"):
                want = run(con, kpi, f, by, rollups=rollups)
                got = from_daily(kpi, days, f, by)
                pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12,
                                              atol=1e-9)


def test_money_sums_are_whole_cents(tiny_store):
    # February's net sales by hand: 320 − 28 − 30 = 262 (tests/test_sales.py); from the days.
    con = tiny_store.connect()
    days = run(con, get("net_sales"), Filters(date(2025, 1, 1), date(2025, 3, 31)), "day")
    assert from_daily(get("net_sales"), days, FEB)["value"].iat[0] == 262.0


SINGLE = [k for k in KPIS.values() if not k.table]


@pytest.mark.parametrize("by", [None, "day", "week", "month", "channel", "category"])
def test_kpis_read_together_equal_each_read_alone(demo_store, by):
    """Every single-valued KPI that can be split so, read in one query per kind of source
    (daily sums, rows or a shared step), gives exactly the frame its own query gives — values, types,
    groups, empty periods — under every filter, with the daily sums on and off."""
    con = demo_store.connect()
    kpis = [k for k in SINGLE if by is None or by in k.by]
    assert len(kpis) >= 2, by
    for f in FILTERS:
        if f.categories:
            kpis_f = [k for k in kpis if "category" in k.by]
        else:
            kpis_f = kpis
        for rollups in (True, False):
            got = run_together(con, kpis_f, f, by, rollups=rollups)
            assert len(got) == len(kpis_f)
            for k, frame in zip(kpis_f, got):
                want = run(con, k, f, by, rollups=rollups)
                pd.testing.assert_frame_equal(frame, want, check_exact=True, obj=k.name)


def test_kpis_read_together_keep_their_order_and_refuse_tables(demo_store):
    con = demo_store.connect()
    f = FILTERS[1]
    # daily sums, rows and the stock's shared step mixed
    names = ["aov", "on_hand", "sessions", "orders", "lost_revenue_stockout", "roas", "net_sales"]
    got = run_together(con, [get(n) for n in names], f)
    for n, frame in zip(names, got):
        pd.testing.assert_frame_equal(frame, run(con, get(n), f), check_exact=True, obj=n)
    assert run_together(con, [], f) == []
    with pytest.raises(AssertionError):
        run_together(con, [get("top_products")], f)
    with pytest.raises(ValueError):     # sessions cannot be split by product category
        run_together(con, [get("stockout_rate"), get("sessions")], f, "category")
