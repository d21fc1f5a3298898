"""Targets and month-to-date pacing, worked out by hand on a shop with a plain weekday pattern."""
from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from kpilib import Filters, Store
from kpilib.ingest import ingest
from kpilib.targets import (Target, month_pacing, month_share, pace, parse, target_for,
                            to_settings, weekday_weights)

HEADER = "order_id,ordered_at,customer_id,channel,status,currency,gross_sales,discounts,shipping,tax"


@pytest.fixture(scope="module")
def weekly_store(tmp_path_factory) -> Store:
    """8 weeks before March 2025 (4 Jan – 28 Feb): 2 email orders of 100 on each weekday, 1 on
    Saturdays and Sundays. March 1–9: 1 order of 100 a day, every other one paid search."""
    rows, n = [HEADER], 0

    def order(day: date, channel: str):
        nonlocal n
        n += 1
        rows.append(f"o{n},{day} 12:00:00,c{n},{channel},delivered,EUR,100,0,0,0")

    day = date(2025, 1, 4)
    while day <= date(2025, 2, 28):
        for _ in range(2 if day.weekday() < 5 else 1):
            order(day, "email")
        day += timedelta(days=1)
    for i in range(9):
        order(date(2025, 3, 1) + timedelta(days=i), "paid_search" if i % 2 else "email")
    path = tmp_path_factory.mktemp("weekly") / "orders.csv"
    path.write_text("\n".join(rows) + "\n")
    store = Store(path.parent / "store")
    ingest(store, [path])
    return store


def test_weekday_weights_and_share_by_hand(weekly_store):
    from kpilib import get, run

    hist = run(weekly_store.connect(), get("orders"),
               Filters(date(2025, 1, 4), date(2025, 2, 28)), "day")
    assert weekday_weights(hist) == [2, 2, 2, 2, 2, 1, 1]
    # March 2025 starts on a Saturday. Weights of the whole month: 5 Saturdays + 5 Sundays (1 each)
    # + 5 Mondays (2) + 4 × Tuesday..Friday (2) = 5 + 5 + 10 + 32 = 52. To Sunday 9 March:
    # Sat 1 + Sun 1 + Mon..Fri 10 + Sat 1 + Sun 1 = 14.
    assert math.isclose(month_share([2, 2, 2, 2, 2, 1, 1], date(2025, 3, 1), date(2025, 3, 9)),
                        14 / 52)
    # Without a pattern every day weighs the same: 9 of 31 days.
    assert math.isclose(month_share([1] * 7, date(2025, 3, 1), date(2025, 3, 9)), 9 / 31)


def test_sum_pacing_by_hand(weekly_store):
    targets = [Target("orders", "2025-03", 40)]
    f = Filters(date(2025, 3, 1), date(2025, 3, 9))
    p = pace(weekly_store.connect(), "orders", targets, f, last_day=date(2025, 3, 9))
    # 9 orders to date; expected 40 × 14/52 = 10.77; forecast 9 ÷ 14/52 = 33.43, 84 % of 40.
    assert p.actual == 9 and p.days == 9 and p.days_in_month == 31
    assert math.isclose(p.expected, 40 * 14 / 52)
    assert math.isclose(p.forecast, 9 * 52 / 14)
    assert math.isclose(p.ratio, 9 * 52 / 14 / 40) and p.behind
    # The same 9 orders against a target of 30 are ahead (33.4 > 30).
    p = pace(weekly_store.connect(), "orders", [Target("orders", "2025-03", 30)], f,
             date(2025, 3, 9))
    assert not p.behind


def test_pacing_follows_the_filters(weekly_store):
    con = weekly_store.connect()
    targets = [Target("orders", "2025-03", 40), Target("orders", "2025-03", 20, "email"),
               Target("orders", "2025-03", 10, "paid_search"),
               Target("aov", "2025-03", 120), Target("aov", "2025-03", 90, "email")]
    # Email only: 5 orders (1, 3, 5, 7, 9 March); its history is the whole history (all email).
    p = pace(con, "orders", targets, Filters(date(2025, 3, 1), date(2025, 3, 9), ("email",)),
             date(2025, 3, 9))
    assert p.target == 20 and p.actual == 5 and math.isclose(p.forecast, 5 * 52 / 14)
    # A level: AOV to date is 100 against 120 — behind; against email's 90 — ahead.
    p = pace(con, "aov", targets, Filters(date(2025, 3, 1), date(2025, 3, 9)), date(2025, 3, 9))
    assert p.actual == 100 and p.forecast == 100 and math.isclose(p.ratio, 100 / 120) and p.behind
    p = pace(con, "aov", targets, Filters(date(2025, 3, 1), date(2025, 3, 9), ("email",)),
             date(2025, 3, 9))
    assert p.target == 90 and not p.behind
    # The month is the one holding the end of the range, capped at the latest day with data.
    ps = month_pacing(con, targets, Filters(date(2025, 2, 1), date(2025, 3, 31)),
                      date(2025, 3, 9))
    assert [(p.kpi, p.days) for p in ps] == [("orders", 9), ("aov", 9)]
    # No target for February: nothing to pace.
    assert month_pacing(con, targets, Filters(date(2025, 2, 1), date(2025, 2, 28)),
                        date(2025, 3, 9)) == []


def test_pacing_under_a_category_paces_only_the_kpis_split_by_category(tiny_store):
    """A category filter: sessions are not split by category, so their target is not paced
    against a figure of the whole shop; net sales are (Tops in February: o3's SKU-A line, 50
    less its share of o3's discount, 8 × 50 / 80 = 5, no refund on it: 45), and so is the
    stock-out rate (SKU-A never ran out in February, 0 stock-out SKU-days)."""
    targets = [Target("sessions", "2025-02", 500), Target("net_sales", "2025-02", 1000),
               Target("stockout_rate", "2025-02", 0.1)]
    tops = Filters(date(2025, 2, 1), date(2025, 2, 28), categories=("Tops",))
    ps = month_pacing(tiny_store.connect(), targets, tops, date(2025, 3, 2))
    assert [(p.kpi, p.actual) for p in ps] == [("net_sales", 45.0), ("stockout_rate", 0.0)]
    ps = month_pacing(tiny_store.connect(), targets, Filters(tops.start, tops.end),
                      date(2025, 3, 2))
    assert [p.kpi for p in ps] == ["net_sales", "sessions", "stockout_rate"]


def test_a_lower_is_better_kpi_paces_the_other_way():
    from kpilib.targets import Pace

    # Return rate 10 % against a 8 % target: 8/10 = 80 % of pace — behind.
    assert Pace("return_rate_value", "2025-03", 0.08, 0.10, 0.08, 0.10, 0.3, 9, 31).behind
    assert not Pace("return_rate_value", "2025-03", 0.08, 0.07, 0.08, 0.07, 0.3, 9, 31).behind


def test_target_for_channels():
    ts = [Target("orders", "2025-03", 40), Target("orders", "2025-03", 20, "email"),
          Target("orders", "2025-03", 10, "paid_search"), Target("aov", "2025-03", 90, "email")]
    assert target_for(ts, "orders", "2025-03", ()) == 40
    assert target_for(ts, "orders", "2025-03", ("email", "paid_search")) == 30
    assert target_for(ts, "orders", "2025-03", ("email", "direct")) is None
    assert target_for(ts, "aov", "2025-03", ("email",)) == 90
    assert target_for(ts, "aov", "2025-03", ()) is None
    assert target_for(ts, "orders", "2025-04", ()) is None


@pytest.mark.parametrize("row, message", [
    ({"kpi": "customers", "month": "2025-03", "value": 1}, "can be set for"),
    ({"kpi": "orders", "month": "2025-13", "value": 1}, "month must look like"),
    ({"kpi": "orders", "month": "March", "value": 1}, "month must look like"),
    ({"kpi": "orders", "month": "2025-03", "value": "lots"}, "must be a number"),
    ({"kpi": "orders", "month": "2025-03", "value": -5}, "0 or more"),
    ({"kpi": "orders", "month": "2025-03", "value": float("nan")}, "0 or more"),
])
def test_bad_targets_are_named(row, message):
    with pytest.raises(ValueError, match=message):
        parse([row])


def test_targets_round_trip_and_duplicates():
    ts = parse([{"kpi": "orders", "month": "2025-03", "value": "40", "channel": ""},
                {"kpi": "orders", "month": "2025-03", "value": 20, "channel": "email"}])
    assert ts == [Target("orders", "2025-03", 40.0), Target("orders", "2025-03", 20.0, "email")]
    assert parse(to_settings(ts)) == ts
    with pytest.raises(ValueError, match="set twice"):
        parse(to_settings(ts) * 2)
