"""The month-end forecast, its range and its backtest, worked out by hand on tiny shops."""
from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import cli
from kpilib import Store, caveats, forecast
from kpilib.forecast import backtest, estimate, interval, project, run_rate
from kpilib.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent


def series(first: date, last: date, value) -> pd.Series:
    """A daily series indexed by date, ``value(day)`` each day."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return pd.Series([float(value(d)) for d in days], index=days)


def block(d: date) -> int:
    """1 a day, 3 on each month's last 7 days. Those 7 days hold every weekday once, so any
    8 weeks of whole such blocks weigh every weekday the same: the pace is the run-rate."""
    last = forecast.month_end(d.replace(day=1))
    return 3 if (last - d).days < 7 else 1


# Saturday 4 January 2025 to 30 June, then 1–10 July at 1 a day. Starting on a Saturday, the
# first 8-week history (4–31 January, 4 whole weeks) is weekday-neutral too.
BLOCKS = series(date(2025, 1, 4), date(2025, 7, 10),
                lambda d: 1 if d.month == 7 else block(d))
JULY_10 = date(2025, 7, 10)
# Each complete month as of any day d ≤ n − 7: d to date, share d/n, forecast n; the month
# ends at (n − 7) × 1 + 7 × 3 = n + 14. Actual ÷ forecast: February 42/28, March 45/31,
# April 44/30, May 45/31, June 44/30.
RATIOS = [42 / 28, 45 / 31, 44 / 30, 45 / 31, 44 / 30]


def t_range(value, ratios, t):
    """The range by hand: mean of the logs ± t × their sample spread × √(1 + 1/n)."""
    logs = [math.log(r) for r in ratios]
    n = len(logs)
    mean = sum(logs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    half = t * sd * math.sqrt(1 + 1 / n)
    return value * math.exp(mean - half), value * math.exp(mean + half)


def test_pace_by_hand_is_the_targets_pace():
    """The pattern of tests/test_targets.py: 2 a weekday and 1 a weekend day over the 8 weeks
    before March 2025, then 1 a day on 1–9 March. March's weights: 5 Saturdays + 5 Sundays
    (1) + 5 Mondays (2) + 4 × Tuesday..Friday (2) = 52; to Sunday 9 March 14. Forecast
    9 ÷ 14/52 = 33.43, the target pacing's; no year of history, so the pace alone."""
    s = series(date(2025, 1, 4), date(2025, 3, 9),
               lambda d: 1 if d.month == 3 else 2 if d.weekday() < 5 else 1)
    actual, value, method = estimate(s, date(2025, 3, 1), date(2025, 3, 9))
    assert actual == 9 and math.isclose(value, 9 * 52 / 14) and method == forecast.PACE
    # The plain run-rate ignores the weekdays: 9 ÷ 9/31 = 31.
    assert run_rate(s, date(2025, 3, 1), date(2025, 3, 9)) == 31


def test_last_year_steadies_the_pace_by_hand():
    """A year back: 1 a day on the 28 days before 2 March 2024 (1 March 2025 − 364 days) and 2
    a day on the 31 days from 2 March 2024: last year the month ran at 62 ÷ 28 of the four
    weeks before it. This year 3 a day from 1 January (weekday-neutral weights) and 5 a day on
    1–7 March: 35 to date, share 7/31.
    Expected month from the prior: 28 × 3 = 84 grown 62/28 → 186.
    Rest of the month: (1 − 7/31) × (35 + 0.5 × 186) ÷ (7/31 + 0.5) = 24/31 × 128 ÷ (22.5/31)
    = 24 × 128 ÷ 22.5 = 136.53; forecast 35 + 136.53 = 171.53 (the pace alone: 155)."""
    def value(d):
        if d.year == 2024:
            return 2 if date(2024, 3, 2) <= d <= date(2024, 4, 1) else 1
        return 5 if d >= date(2025, 3, 1) else 3
    s = series(date(2024, 1, 1), date(2025, 3, 7), value)
    actual, got, method = estimate(s, date(2025, 3, 1), date(2025, 3, 7))
    assert actual == 35 and method == forecast.PACE_LAST_YEAR
    assert math.isclose(got, 35 + 24 * 128 / 22.5)


def test_last_years_shape_of_the_month_is_kept_by_hand():
    """As above, but last year's month sold most in its last week (a Black Friday): 2 a day on
    2–25 March 2024 (48) and 9 a day on 26 March – 1 April (63), 111 in all. Its first 7
    days held 14 of 111; the weekday weights say 7/31. The share elapsed is half of each:
    (7/31 + 14/111) / 2 = (777 + 434) / 6882 = 1211/6882.
    Expected from the prior: 28 × 3 = 84 grown 111/28 → 333.
    Rest: (1 − 1211/6882) × (35 + 0.5 × 333) ÷ (1211/6882 + 0.5) = 5671 × 201.5 ÷ 4652
    = 245.64; forecast 280.64 (with the weekday weights alone: 35 + 24 × 201.5 ÷ 22.5 =
    249.93)."""
    def value(d):
        if d.year == 2024:
            return 9 if date(2024, 3, 26) <= d <= date(2024, 4, 1) else \
                2 if date(2024, 3, 2) <= d else 1
        return 5 if d >= date(2025, 3, 1) else 3
    s = series(date(2024, 1, 1), date(2025, 3, 7), value)
    actual, got, method = estimate(s, date(2025, 3, 1), date(2025, 3, 7))
    assert actual == 35 and method == forecast.PACE_LAST_YEAR
    assert math.isclose(got, 35 + 5671 * 201.5 / 4652)


def test_a_complete_month_is_its_actual():
    s = series(date(2025, 1, 4), date(2025, 3, 31), lambda d: 2)
    assert estimate(s, date(2025, 3, 1), date(2025, 3, 31)) == (62, 62, forecast.ACTUAL)


def test_backtest_and_range_by_hand():
    """Backtest of the block shop as of 10 July: February to June (January has no 4 weeks
    before it). Errors as of days 7, 14 and 21 alike: 14 ÷ (n + 14) — February 14/42, March
    and May 14/45, April and June 14/44 —, and the run-rate's the same (weekday-neutral).
    A range needs 3 months before: May (from February–April) and June (February–May), each
    as of 3 days, 6 forecasts, each inside (its own ratio is among the earlier ones')."""
    b = backtest(BLOCKS, JULY_10)
    mape = (14 / 42 + 2 * 14 / 45 + 2 * 14 / 44) / 5
    assert b.months == 5 and math.isclose(b.mape, mape) and math.isclose(b.run_rate_mape, mape)
    assert b.ranged == 6 and b.coverage == 1
    assert {d: f["forecasts"] for d, f in b.by_day.items()} == {7: 5, 14: 5, 21: 5}
    # July as of the 10th: 10 to date, share 10/31, forecast 31. Its range from the five
    # months as of their 10th (the same ratios): t(4 degrees of freedom, 90 %) = 1.533.
    f = project(BLOCKS, "orders", date(2025, 7, 1), JULY_10)
    assert (f.actual, f.value, f.method, f.note) == (10, 31, forecast.PACE, None)
    low, high = t_range(31, RATIOS, 1.533)
    assert math.isclose(f.low, low) and math.isclose(f.high, high)
    assert f.low < 45 < f.high  # July is heading for 31 + 14 = 45, as every month before


def test_interval_needs_three_months():
    assert interval(100, [1.1, 0.9]) == (None, None)
    # Three ratios 1.1, 1.0, 0.9: t(2 degrees of freedom, 90 %) = 1.886.
    low, high = interval(100, [1.1, 1.0, 0.9])
    assert (low, high) == pytest.approx(t_range(100, [1.1, 1.0, 0.9], 1.886))
    # Too short a history says so instead of a range.
    f = project(BLOCKS.loc[:date(2025, 4, 10)], "orders", date(2025, 4, 1), date(2025, 4, 10))
    assert f.value == 30 and f.low is None and f.high is None
    assert f.note == ("No range: 2 complete months before this one to measure the forecast's "
                      "error against; it takes 3.")
    # The card's words: no range yet, not "a range after 3 months" (read as made from 3).
    assert forecast.range_text(f, lambda v: f"{v:.0f}") == (
        "forecast 30 (no range yet: it takes 3 complete months)")


def test_no_look_ahead():
    """Days after the as-of day, in the month and in the months after, change nothing: the
    estimate and the backtest see only the days up to each as-of day."""
    future = BLOCKS.copy()
    future.loc[date(2025, 3, 8):] *= 1000
    # March as of the 7th, then the whole forecast of March with its backtest.
    assert estimate(future, date(2025, 3, 1), date(2025, 3, 7)) == \
        estimate(BLOCKS, date(2025, 3, 1), date(2025, 3, 7))
    assert project(future, "orders", date(2025, 3, 1), date(2025, 3, 7)) == \
        project(BLOCKS, "orders", date(2025, 3, 1), date(2025, 3, 7))
    # Each backtest month as of its 7th sees its first 7 days only: spoiling the rest of May
    # changes May's actual (its error), not its forecast.
    spoiled = BLOCKS.copy()
    spoiled.loc[date(2025, 5, 8):date(2025, 5, 31)] *= 1000
    by_month = {t.month: t for t in forecast.trials(spoiled, [date(2025, 5, 1)], 7)}
    assert by_month[date(2025, 5, 1)].forecast == 31
    assert forecast.trials(spoiled, [date(2025, 5, 1)], 7)[0].actual > 1000
    # A month's range comes from the months complete before it: spoiling June leaves May's.
    months = forecast.backtest_months(BLOCKS, JULY_10)
    june = BLOCKS.copy()
    june.loc[date(2025, 6, 8):] *= 1000

    def may(s):
        return next(t for t in forecast.trials(s, months, 7) if t.month == date(2025, 5, 1))
    assert may(june).low is not None and (may(june).low, may(june).high) == \
        (may(BLOCKS).low, may(BLOCKS).high)


def test_beats_the_run_rate_on_the_demo_shop(demo_store):
    """The demo shop's backtest (its complete months before October 2026, as of days 7, 14
    and 21): the forecast's mean absolute percentage error is below the plain run-rate's."""
    con = demo_store.connect()
    for name in ("net_sales", "orders", "new_customers"):
        b = forecast.forecast(con, name, "2026-10", date(2026, 10, 31)).backtest
        assert b.months >= 12 and b.mape < b.run_rate_mape, (name, b)
        # The range is a fair 80 %: within 10 points of it on the shop's own months.
        assert 0.7 <= b.coverage <= 0.95, (name, b)


def test_refuses_what_it_cannot_forecast(uci_month_store, demo_store):
    with pytest.raises(ValueError, match="Needs a traffic export"):
        forecast.forecast(uci_month_store.connect(), "sessions", "2011-11", date(2011, 11, 9))
    with pytest.raises(ValueError, match="summed KPIs"):
        forecast.forecast(demo_store.connect(), "aov", "2026-10", date(2026, 10, 9))
    with pytest.raises(ValueError, match="before 2026-11"):
        forecast.forecast(demo_store.connect(), "orders", "2026-11", date(2026, 10, 9))
    with pytest.raises(ValueError, match="not a month"):
        forecast.forecast(demo_store.connect(), "orders", "2026-13", date(2026, 10, 9))


@pytest.fixture(scope="module")
def block_store(tmp_path_factory) -> Store:
    """The block shop as orders: one order of 100 a day, three on each month's last 7 days."""
    rows = ["order_id,ordered_at,customer_id,channel,status,currency,gross_sales,discounts"]
    for day, n in BLOCKS.items():
        for i in range(int(n)):
            rows.append(f"o{day:%m%d}{i},{day} 12:00:00,c{day:%m%d}{i},email,delivered,EUR,"
                        "100,0")
    path = tmp_path_factory.mktemp("blocks") / "orders.csv"
    path.write_text("\n".join(rows) + "\n")
    store = Store(path.parent / "store")
    ingest(store, [path])
    return store


def test_cli_forecast(block_store):
    """The block shop through the store and the command line: July as of its last day with
    data (the 10th), 10 orders of 100 → net sales forecast 3,100, range as by hand."""
    out = json.loads(cli("forecast", "net_sales", "--month", "2025-07", "--store",
                         block_store.path).stdout)
    low, high = t_range(3100, RATIOS, 1.533)
    assert out["as_of"] == "2025-07-10" and out["actual"] == 1000 and out["value"] == 3100
    assert out["low"] == round(low, 2) and out["high"] == round(high, 2)
    assert out["method"] == "weekday_pace" and out["note"] is None
    mape = (14 / 42 + 2 * 14 / 45 + 2 * 14 / 44) / 5
    assert out["backtest"]["months"] == 5 and out["backtest"]["mape"] == round(mape, 4)
    assert out["backtest"]["coverage"] == 1 and out["backtest"]["ranged"] == 6
    assert set(out["backtest"]["by_day"]) == {"7", "14", "21"}
    # As of an earlier day, and a month without data: exit 2 with a sentence.
    early = json.loads(cli("forecast", "orders", "--month", "2025-07", "--as-of", "2025-07-05",
                           "--store", block_store.path).stdout)
    assert (early["actual"], early["value"]) == (5, 31)
    p = cli("forecast", "orders", "--month", "2025-08", "--store", block_store.path, ok=False)
    assert p.returncode == 2 and "before 2025-08" in p.stderr
    p = cli("forecast", "aov", "--month", "2025-07", "--store", block_store.path, ok=False)
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_pure_functions_take_no_store():
    """What the page and the report cache: a numpy-free float, so JSON and st.cache_data
    take it as it is."""
    f = project(BLOCKS, "orders", date(2025, 7, 1), JULY_10)
    assert all(not isinstance(v, np.generic) for v in (f.value, f.low, f.high, f.actual))


@pytest.fixture(scope="module")
def open_month_store(tmp_path_factory) -> Store:
    """The demo shop with its data stopping on Wednesday 18 November 2026, a net sales target
    for November."""
    from kpilib import demo
    store = Store(tmp_path_factory.mktemp("open") / "store")
    demo.write(store, demo.generate(months=18, scale=0.05, seed=11, end=date(2026, 11, 18)))
    store.update_settings({"targets": [{"kpi": "net_sales", "month": "2026-11",
                                        "channel": None, "value": 30000.0}]})
    return store


@pytest.fixture
def in_november(monkeypatch):
    """Looked at on 19 November 2026, the day after the data's last: a month in progress."""
    monkeypatch.setattr(forecast, "_today", lambda: date(2026, 11, 19))


def test_overview_cards_forecast_the_month_to_date(open_month_store, monkeypatch, in_november):
    from streamlit.testing.v1 import AppTest

    from kpilib.formatting import fmt
    monkeypatch.setenv("KPILIB_STORE", str(open_month_store.path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # The last 30 days (the default): no month-end figure under a 30-day one; a sentence says
    # where it is.
    assert not [c.value for c in at.caption if "80\u00a0% chance:" in c.value]
    assert any(c.value.startswith("November is not over: pick **Month to date**")
               for c in at.caption)
    at.sidebar.selectbox(key="period").set_value("Month to date").run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    want = forecast.forecast(open_month_store.connect(), "net_sales", "2026-11",
                             date(2026, 11, 18))
    money = lambda v: fmt(v, "money", "EUR", compact=True)   # noqa: E731
    assert "Nov " + forecast.range_text(want, money) in captions
    # Net sales, orders, sessions and new customers: the summed cards.
    assert len([c for c in captions if c.startswith("Nov forecast") and "80\u00a0% chance:" in c]) == 4
    assert not any("is not over" in c for c in captions)
    card = next(m for m in at.metric if m.label == "Net sales")
    assert "off by" in card.help and "run-rate" in card.help and "80 % range" in card.help
    # The target is paced on the same month-end figure, not on a second one.
    target = next(c for c in captions if c.startswith("Nov target €30,000"))
    assert f"on pace for {money(want.value)}" in target


def test_forecast_on_the_cards_in_chromium(open_month_store):
    """The Overview of the month to date at 1440 and 390 px in Chromium: each summed card
    shows its forecast and range whole (screenshots in tests/screenshots/forecast_*.png)."""
    from browser import app_server, browser, require_browser, shot, wait_drawn
    require_browser()
    with app_server(open_month_store.path) as url, browser() as chromium:
        for width in (1440, 390):
            page = chromium.new_page(viewport={"width": width, "height": 1400})
            page.goto(f"{url}/?period=Month+to+date")
            wait_drawn(page)
            assert page.locator('[data-testid="stException"]').count() == 0
            texts = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
            ranges = [t for t in texts if t.startswith("Nov forecast") and "80\u00a0% chance:" in t]
            assert len(ranges) == 4, texts
            cut = page.locator('[data-testid="stCaptionContainer"]').evaluate_all(
                "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.innerText)")
            assert not cut, (width, cut)
            shot(page, f"forecast_overview_{width}")
            page.close()


def test_the_report_of_a_month_not_over_forecasts_it(open_month_store, in_november):
    """November 2026, data to the 18th: each summed card has its forecast, the target is
    measured against it (24,530 ÷ 30,000 = 82 %), and the record is written under the cards.
    October, over, has none."""
    from kpilib.formatting import fmt
    from kpilib.report import build
    from kpilib.targets import Target
    con = open_month_store.connect()
    goals = [Target("net_sales", "2026-11", 30000.0)]
    page = build(con, "2026-11", goals=goals)
    want = forecast.forecast(con, "net_sales", "2026-11", date(2026, 11, 18))
    text = forecast.range_text(want, lambda v: fmt(v, "money", "EUR", compact=True))
    assert f"18 Nov: {text}" in page
    assert page.count('class="delta forecast"') == 4     # net sales, orders, sessions, new
    assert f"target €30,000.00: {want.value / 30000 * 100:.0f} %" in page
    assert "The month is not over: forecasts as of 18 Nov" in page and "off by" in page
    assert 'class="delta forecast"' not in build(con, "2026-10", goals=goals)


def test_a_month_the_calendar_has_left_is_not_called_in_progress(open_month_store,
                                                                   monkeypatch):
    """The same data to 18 November looked at on 6 December: November is over, 12 days
    (19 – 30 Nov) are not in the exports. The Overview does not say "November is not over";
    it says where the exports stop, and on the month to date the forecasts say what the
    missing days would have made (UCI's December 2010 stops on the 23rd: the shop closed for
    Christmas, and "Dec forecast £1.02 M" read as a month in progress). So does the report."""
    from streamlit.testing.v1 import AppTest

    from kpilib.report import build
    monkeypatch.setattr(forecast, "_today", lambda: date(2026, 12, 6))
    said = ("The exports stop on 18 Nov 2026, 12 days before November ended: upload the rest "
            "of the month if the shop sold on those days.")
    monkeypatch.setenv("KPILIB_STORE", str(open_month_store.path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    captions = [c.value for c in at.caption]
    assert said in captions and not any("is not over" in c for c in captions), captions
    at.sidebar.selectbox(key="period").set_value("Month to date").run()
    captions = [c.value for c in at.caption]
    assert said + " The forecasts say what the month would have made had it sold as usual " \
        "on them." in captions, captions
    page = build(open_month_store.connect(), "2026-11")
    assert "The exports stop on 18 Nov 2026, 12 days before November ended" in page
    assert "The month is not over" not in page
    # While the calendar is in the month, or when the data reaches its end, nothing is said.
    assert forecast.ended(date(2010, 12, 23), today=date(2026, 12, 6)).startswith(
        "the exports stop on 23 Dec 2010, 8 days before December ended")
    assert forecast.ended(date(2010, 12, 23), today=date(2010, 12, 31)) is None
    assert forecast.ended(date(2010, 12, 31), today=date(2026, 12, 6)) is None
    assert forecast.ended(date(2010, 12, 30), today=date(2026, 12, 6)).startswith(
        "the exports stop on 30 Dec 2010, 1 day before")


@pytest.mark.parametrize("start, end, as_of, shown", [
    (date(2026, 11, 1), date(2026, 11, 18), date(2026, 11, 18), True),    # month to date
    (date(2026, 10, 20), date(2026, 11, 18), date(2026, 11, 18), False),  # last 30 days
    (date(2026, 11, 1), date(2026, 11, 10), date(2026, 11, 18), False),   # not to the data's end
    (date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 30), False),   # the month is over
    (date(2026, 11, 1), date(2026, 11, 18), None, False),                 # nothing dated
])
def test_a_forecast_is_shown_for_the_month_to_date_only(start, end, as_of, shown):
    from kpilib import Filters
    assert forecast.month_to_date(Filters(start, end), as_of) is shown


def test_no_forecast_where_the_orders_export_ends_early(tmp_path):
    """An order every day 1 – 29 Aug 2018, none 30 Aug – 2 Sep, one on 3 Sep (Olist's last
    days): the month to date 1 – 3 Sep holds 1 order, and its pace would "forecast" ~10
    orders, or 278 new customers on Olist. The gap (4 days against none in the 29 before)
    says the export may end early, so no forecast is made, by the command line or the card
    (ui.plan.month_forecast asks the same cut_short). 1 – 29 Aug, an order every day, is
    whole: a forecast."""
    rows = [f"o{d},2018-08-{d:02d} 10:00:00,c{d},paid,10,0" for d in range(1, 30)]
    rows.append("o99,2018-09-03 10:00:00,c99,paid,10,0")
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,customer_id,status,gross_sales,discounts\n" + "\n".join(rows)
        + "\n")
    store = Store(tmp_path / "s")
    ingest(store, [tmp_path / "orders.csv"])
    con = store.connect()
    with pytest.raises(ValueError, match="Orders: no forecast: no order on 2 of the last 3 "
                                         "days"):
        forecast.forecast(con, "orders", "2018-09", date(2018, 9, 3))
    assert forecast.cut_short(caveats.facts(con), "sessions", date(2018, 9, 1),
                              date(2018, 9, 3)) is None     # reads no orders
    fc = forecast.forecast(con, "orders", "2018-08", date(2018, 8, 29))
    assert fc.actual == 29
