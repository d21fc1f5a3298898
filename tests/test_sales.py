"""Sales KPIs on the tiny shop (tests/data/tiny), every number counted by hand."""
from datetime import date

import pytest

from helpers import FEB, JAN, MAR, check, grouped, only, total

# February valid orders: o2 50/0, o3 80/8, o4 40/0 (guest), o6 30/0, o7 120/20; o5 is cancelled.
# Refunds dated in February: r2 30 (o6). r4 60 belongs to cancelled o5: not a return.
CASES = [
    ("orders", FEB, 5),                          # o2 o3 o4 o6 o7
    ("orders", JAN, 1),                          # o1
    ("orders", only(FEB, "paid_search"), 2),     # o2, o3 ('Paid Search' normalised)
    ("orders", only(FEB, "paid_social"), 1),     # o7 (o5 cancelled)
    ("gross_sales", FEB, 320.0),                 # 50 + 80 + 40 + 30 + 120
    ("discounts", FEB, 28.0),                    # 8 + 20
    ("returns", FEB, 30.0),                      # r2; r4 is on a cancelled order
    ("returns", MAR, 25.0),                      # r3, partial refund of a February order
    ("returns", only(FEB, "paid_social"), 0.0),  # r4 excluded, r3 is in March
    ("net_sales", FEB, 262.0),                   # 320 − 28 − 30
    ("net_sales", JAN, 80.0),                    # 100 − 10 − 10
    ("net_sales", MAR, 45.0),                    # o8 70 − r3 25
    ("net_sales", only(FEB, "email"), 0.0),      # o6 30 − r2 30: refunded once, not twice
    ("aov", FEB, 58.4),                          # (320 − 28) / 5
    ("aov", only(FEB, "paid_search"), 61.0),     # (50 + 72) / 2
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_sales_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_aov_without_orders_has_no_value(tiny_store):
    # 0 orders: AOV is 0 ÷ 0, shown as "–", never 0.
    check(total(tiny_store, "aov", only(FEB, "marketplace")), None)
    check(total(tiny_store, "orders", only(FEB, "marketplace")), 0)


def test_net_sales_by_channel(tiny_store):
    # paid_search: 50 + 72; direct: 40; email: 30 − 30; paid_social: 100
    assert grouped(tiny_store, "net_sales", FEB, "channel") == {
        "direct": 40.0, "email": 0.0, "paid_search": 122.0, "paid_social": 100.0}


def test_orders_by_week_fills_empty_weeks(tiny_store):
    # Weeks start on Monday: 27 Jan (no February day with orders before 3 Feb), 3 Feb: o2 o3 o4,
    # 10 Feb: o6 (o5 cancelled), 17 Feb: o7, 24 Feb: none.
    assert grouped(tiny_store, "orders", FEB, "week") == {
        date(2025, 1, 27): 0, date(2025, 2, 3): 3, date(2025, 2, 10): 1, date(2025, 2, 17): 1,
        date(2025, 2, 24): 0}


def test_net_sales_by_month(tiny_store):
    from kpilib import Filters
    q1 = Filters(date(2025, 1, 1), date(2025, 3, 31))
    assert grouped(tiny_store, "net_sales", q1, "month") == {
        date(2025, 1, 1): 80.0, date(2025, 2, 1): 262.0, date(2025, 3, 1): 45.0}
