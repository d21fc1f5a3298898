"""kpilib.kpi: an additive KPI's periods from its daily series equal the query's; KPIs read
together, or side by side, equal each read on its own."""
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from helpers import FEB
from kpilib import (KPIS, FilterNotApplicable, Filters, Read, from_daily, get, run, run_many,
                    run_together, script)
from kpilib.kpi import refused, takes
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


def test_reads_side_by_side_equal_each_read_alone(demo_store, monkeypatch):
    """run_many: each read's frames, in the order asked, exactly as run (a table, its first
    rows) or run_together gives them — the stock page's tables over its per-SKU step under
    two filters at once, daily series, cards — with the reads truly run on several threads."""
    import threading

    import kpilib.kpi as kpi_module
    con = demo_store.connect()
    f, g = FILTERS[1], FILTERS[4]
    reads = [Read((get("reorder_skus"),), f, limit=20), Read((get("abc_classes"),), g),
             Read((get("sell_through_rate"), get("lost_revenue_stockout")), f, "category"),
             Read((get("net_sales"), get("orders"), get("aov")), f, "day"),
             Read((get("dead_stock_skus"),), f, limit=3),
             # (g's category would be refused: ROAS is not split by category)
             Read((get("roas"),), replace(g, categories=()), "channel"),
             Read((get("lost_revenue_by_month"),), f.trailing_months(6))]
    # The first two queries wait for each other: one after the other, the first would wait
    # in vain (BrokenBarrierError).
    both = threading.Barrier(2, timeout=20)
    real_run, started = kpi_module.run, []

    def run_logged(*args, **kw):
        started.append(threading.get_ident())
        if len(started) <= 2:
            both.wait()
        return real_run(*args, **kw)

    monkeypatch.setattr(kpi_module, "run", run_logged)
    monkeypatch.setattr(kpi_module.os, "cpu_count", lambda: 2)
    got = run_many(con, reads)
    assert len(set(started[:2])) == 2, started
    assert [len(frames) for frames in got] == [1, 1, 2, 3, 1, 1, 1]
    for r, frames in zip(reads, got):
        want = ([real_run(con, r.kpis[0], r.filters, r.by, limit=r.limit)] if len(r.kpis) == 1
                else run_together(con, list(r.kpis), r.filters, r.by))
        for k, frame, w in zip(r.kpis, frames, want):
            pd.testing.assert_frame_equal(frame, w, check_exact=True, obj=k.name)
    assert len(got[0][0]) == 20 and len(got[4][0]) <= 3
    assert run_many(con, []) == []


def test_a_filter_the_kpi_does_not_take_is_refused(tiny_store):
    """Sessions by country would be the whole shop's traffic presented as France's (the
    analytics export has no country): refused with a sentence, by every entry point that runs
    a KPI."""
    con = tiny_store.connect()
    fr = replace(FEB, countries=("FR",))
    with pytest.raises(FilterNotApplicable, match=r"^Sessions is not split by country\.$"):
        run(con, get("sessions"), fr)
    with pytest.raises(FilterNotApplicable, match="Sessions is not split by country."):
        run_together(con, [get("sessions"), get("orders")], fr)
    with pytest.raises(FilterNotApplicable, match="Sessions is not split by country."):
        run_many(con, [Read((get("sessions"),), fr)])
    with pytest.raises(FilterNotApplicable, match="Sessions is not split by country."):
        from_daily(get("sessions"), run(con, get("sessions"), FEB, "day"), fr)
    with pytest.raises(FilterNotApplicable, match="Ad spend is not split by device or country."):
        run(con, get("spend"), replace(fr, devices=("mobile",)))
    with pytest.raises(FilterNotApplicable, match="Sessions is not split by category."):
        script(get("sessions"), replace(FEB, categories=("Tops",)))
    # A FilterNotApplicable is a ValueError: the command line's exit 2 with the sentence.
    assert issubclass(FilterNotApplicable, ValueError)
    # No filter, no refusal: Feb's net sales as before.
    assert run(con, get("net_sales"), FEB)["value"].iat[0] == 262.0


def test_which_filters_a_kpi_takes_is_read_from_its_sources():
    # The stock KPIs read $categories in their SQL or their shared per-SKU step.
    assert takes(get("stockout_sku_days")) == takes(get("on_hand")) == {"categories"}
    # Sales read orders (device, country) and, under a category filter, their lines.
    assert takes(get("net_sales")) == {"devices", "countries", "categories"}
    assert takes(get("orders")) == {"devices", "countries"}
    # The traffic table's rows carry a device, no country: blended conversion (orders ÷
    # sessions) takes what both carry.
    assert takes(get("sessions")) == takes(get("cart_abandonment_rate")) == {"devices"}
    assert takes(get("blended_conversion_rate")) == {"devices"}
    assert takes(get("customers")) == takes(get("mer")) == frozenset()
    assert refused(get("on_hand"), replace(FEB, categories=("Tops",))) == []
    assert refused(get("orders"), replace(FEB, categories=("Tops",), countries=("FR",))) == \
        ["category"]


def test_the_stock_kpis_still_take_categories(tiny_store):
    """On hand at the end of February, from the 2 Feb snapshot: SKU-A (Tops) 4, SKU-B
    (Accessories) 3. Stock-out SKU-days in February: SKU-B had 0 on 1 Feb, 3 from 2 Feb on
    (carried forward); SKU-A never ran out: Tops 0, Accessories 1."""
    con = tiny_store.connect()
    tops, acc = replace(FEB, categories=("Tops",)), replace(FEB, categories=("Accessories",))
    assert [run(con, get("on_hand"), f)["value"].iat[0] for f in (FEB, tops, acc)] == [7, 4, 3]
    assert [run(con, get("stockout_sku_days"), f)["value"].iat[0]
            for f in (FEB, tops, acc)] == [1, 0, 1]
    got = run_together(con, [get("on_hand"), get("stockout_sku_days")], tops)
    assert [g["value"].iat[0] for g in got] == [4, 0]
