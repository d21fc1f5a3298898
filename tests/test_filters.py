"""kpilib.filters: the filter object every KPI takes — the periods it is compared with, the
WHERE clause of a source and the parameters a query uses (never SQL text from a value)."""
from dataclasses import replace
from datetime import date

import pytest

from kpilib import Filters
from kpilib.dimensions import SOURCES
from kpilib.filters import whole_months

FEB = Filters(date(2025, 2, 1), date(2025, 2, 28))


def f(**kw) -> Filters:
    return replace(FEB, **kw)


def test_a_selection_is_sorted_once_and_a_backward_period_refused():
    # Two equal selections are one cache key, whatever their order and repeats.
    a = f(channels=("email", "direct", "email"), countries=("FR", "BE"))
    assert a.channels == ("direct", "email") and a.countries == ("BE", "FR")
    assert a == f(channels=("direct", "email"), countries=("BE", "FR")) and hash(a) == hash(
        f(channels=("email", "direct"), countries=("FR", "BE")))
    with pytest.raises(ValueError, match="after end"):
        Filters(date(2025, 3, 1), date(2025, 2, 28))


def test_whole_months_are_compared_with_calendar_months():
    feb = Filters(date(2025, 2, 1), date(2025, 2, 28))
    # "Last month" against the month before (all of January, 31 days, not the 28 days before)
    # and against February 2024 (29 days: a leap year), not 364 days back.
    prev, ly = feb.previous_period(), feb.last_year()
    assert (prev.start, prev.end) == (date(2025, 1, 1), date(2025, 1, 31))
    assert (ly.start, ly.end) == (date(2024, 2, 1), date(2024, 2, 29))
    q1 = Filters(date(2025, 1, 1), date(2025, 3, 31))
    assert (q1.previous_period().start, q1.previous_period().end) == (date(2024, 10, 1),
                                                                      date(2024, 12, 31))
    assert q1.comparison_words() == ("the 3 months before", "the same months last year")
    # Any other range: the same number of days before, and 364 days back (same weekdays).
    part = Filters(date(2025, 2, 3), date(2025, 2, 28))
    assert part.whole_months == 0
    assert (part.previous_period().start, part.previous_period().end) == (date(2025, 1, 8),
                                                                          date(2025, 2, 2))
    assert part.last_year().start == date(2024, 2, 5)


def test_a_month_to_date_is_compared_with_the_same_days_of_the_month_before():
    """1 – 28 April 2011 against 1 – 28 March (the walkthrough's UCI April was compared with
    4 – 31 March: -19.9 % where the same days give -12.4 %); 1 – 15 January against 1 – 15
    December; 1 – 30 March against the 30 days before, February having no 29th or 30th."""
    apr = Filters(date(2011, 4, 1), date(2011, 4, 28))
    assert (apr.previous_period().start, apr.previous_period().end) == (date(2011, 3, 1),
                                                                        date(2011, 3, 28))
    assert apr.comparison_words()[0] == "the same days of the month before"
    jan = Filters(date(2026, 1, 1), date(2026, 1, 15)).previous_period()
    assert (jan.start, jan.end) == (date(2025, 12, 1), date(2025, 12, 15))
    mar = Filters(date(2026, 3, 1), date(2026, 3, 30))
    assert (mar.previous_period().start, mar.previous_period().end) == (date(2026, 1, 30),
                                                                        date(2026, 2, 28))
    assert mar.comparison_words()[0] == "the same number of days before"
    # Its filters go with it.
    assert apr.previous_period().channels == () and Filters(
        date(2011, 4, 1), date(2011, 4, 9), channels=("email",)).previous_period().channels == (
        "email",)


def test_trailing_months_reach_back_to_the_first_of_a_month():
    # 15 Nov 2025 – 10 Jan 2026, 6 months of history: Jan, Dec, Nov, Oct, Sep, Aug → 1 Aug 2025.
    f6 = Filters(date(2025, 11, 15), date(2026, 1, 10)).trailing_months(6)
    assert (f6.start, f6.end) == (date(2025, 8, 1), date(2026, 1, 10))
    # A period already longer keeps its start.
    assert Filters(date(2024, 1, 1), date(2026, 1, 10)).trailing_months(6).start == date(2024, 1, 1)


def test_whole_months_and_edge_days_by_hand():
    # 11 Feb – 19 Apr 2025: March whole (first 1 Mar, after 1 Apr); the days of February by
    # running totals to 28 Feb less those to 10 Feb; April's 1–19 to the 19th.
    assert whole_months("p", date(2025, 2, 11), date(2025, 4, 19)) == {
        "p_first": date(2025, 3, 1), "p_after": date(2025, 4, 1), "p_last": date(2025, 3, 1),
        "p_before": date(2025, 2, 1), "p_e0": date(2025, 2, 10), "p_e1": date(2025, 2, 28),
        "p_e2": date(2025, 4, 19)}
    # 11 – 20 Feb: no whole month (first = after = 1 Mar); the days to the 20th less those to
    # the 10th; nothing after.
    assert whole_months("p", date(2025, 2, 11), date(2025, 2, 20)) == {
        "p_first": date(2025, 3, 1), "p_after": date(2025, 3, 1), "p_last": date(2025, 2, 1),
        "p_before": date(2025, 2, 1), "p_e0": date(2025, 2, 10), "p_e1": date(2025, 2, 20),
        "p_e2": None}
    # March and April whole: no edge days.
    assert whole_months("p", date(2025, 3, 1), date(2025, 4, 30)) == {
        "p_first": date(2025, 3, 1), "p_after": date(2025, 5, 1), "p_last": date(2025, 4, 1),
        "p_before": date(2025, 2, 1), "p_e0": None, "p_e1": None, "p_e2": None}


def test_params_are_those_the_query_uses():
    g = Filters(date(2025, 2, 11), date(2025, 4, 19), ("email",))
    # The 30 days ending 19 Apr start 21 Mar (19 + 11 days back in April and March): the first
    # whole month after is April. The 90 days start 20 Jan: February is the first whole month.
    sql = "select $start, $channels, $p_first, $w30_first, $w90_first where $devices = []"
    assert g.params(sql) == {"start": date(2025, 2, 11), "channels": ["email"], "devices": [],
                             "p_first": date(2025, 3, 1), "w30_first": date(2025, 4, 1),
                             "w90_first": date(2025, 2, 1)}
    with pytest.raises(KeyError, match=r"unknown parameters \['country'\]"):
        g.params("select $start where $country = 'FR'")


@pytest.mark.parametrize("source,kw,sql", [
    ("valid_orders", {}, "valid_orders where day between $start and $end "
                         "and in_filter(channel, $channels)"),
    ("valid_orders", {"countries": ("FR",)},
     "valid_orders where day between $start and $end and in_filter(channel, $channels) "
     "and in_filter(country, $countries)"),
    ("valid_refunds", {"devices": ("mobile",)},
     "valid_refunds where day between $start and $end and in_filter(channel, $channels) "
     "and order_id in (select order_id from orders where in_filter(device, $devices))"),
    ("order_goods", {"categories": ("Tops",)},
     "category_sales where day between $start and $end and in_filter(channel, $channels) "
     "and in_filter(category, $categories)"),
    ("refunded_goods", {"categories": ("Tops",)},
     "refund_goods where day between $start and $end and in_filter(channel, $channels) "
     "and in_filter(category, $categories)"),
])
def test_where_gives_sql_and_parameters(source, kw, sql):
    got, params = f(channels=("email",), **kw).where(SOURCES[source])
    assert got == sql
    want = {"start": FEB.start, "end": FEB.end, "channels": ["email"]}
    want.update({k: list(v) for k, v in kw.items()})
    assert params == want
    with pytest.raises(ValueError, match="not split by country"):
        f(countries=("FR",)).where(SOURCES["traffic"])
