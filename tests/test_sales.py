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
    ("net_sales", FEB, 262.0),                   # 320 − 28 − 30
    ("net_sales", JAN, 80.0),                    # 100 − 10 − 10
    ("net_sales", MAR, 45.0),                    # o8 70 − r3 25
    ("net_sales", only(FEB, "email"), 0.0),      # o6 30 − r2 30: refunded once, not twice
    ("aov", FEB, 58.4),                          # (320 − 28) / 5
    ("aov", only(FEB, "paid_search"), 61.0),     # (50 + 72) / 2
    ("shipping", FEB, 15.0),                     # 5 + 0 + 5 + 5 + 0
    ("tax", FEB, 61.4),                          # 11 + 14.40 + 9 + 7 + 20
    ("total_sales", FEB, 338.4),                 # net 262 + 15 + 61.40
    ("units_per_order", FEB, 6 / 5),             # o2 1, o3 2, o4 1, o6 1, o7 1 units
    ("cancellation_rate", FEB, 1 / 6),           # o5 of o2..o7
    ("cancellation_rate", JAN, 0.0),
    # shipped after 1.5 (o2), 5 (o3), 0.5 (o6) and 2 (o7) days; o4 has not shipped
    ("fulfilment_days", FEB, 1.75),
    ("shipped_within_1d", FEB, 1 / 4),
    ("shipped_within_2d", FEB, 3 / 4),
    ("shipped_within_5d", FEB, 1.0),
    ("fulfilment_days", only(FEB, "direct"), None),
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


def table(store, name, f, by=None):
    from kpilib import get, run
    return run(store.connect(), get(name), f, by)


def test_orders_by_status(tiny_store):
    got = dict(table(tiny_store, "orders_by_status", FEB)[["status", "orders"]].values)
    assert got == {"delivered": 3, "paid": 1, "cancelled": 1, "refunded": 1}


def test_top_products_by_hand(tiny_store):
    # o3's discount 8 splits 5 / 3 over A (50) and C (30); r2 (30, no SKU) takes o6's only line
    # (C); r3 (25) takes o7's only line (F).
    t = table(tiny_store, "top_products", FEB)
    assert list(zip(t.sku, t.net_sales.round(2))) == [
        ("SKU-F", 75.0), ("SKU-B", 50.0), ("SKU-A", 45.0), ("SKU-D", 40.0), ("SKU-C", 27.0)]
    assert t.net_sales.sum() == pytest.approx(320 - 28 - 55)   # orders of February, by order date
    assert t.set_index("sku").loc["SKU-C", "units"] == 2


def test_top_categories_by_hand(tiny_store):
    t = table(tiny_store, "top_categories", FEB).set_index("category")
    assert t.index.tolist() == ["Accessories", "Shoes", "Tops", "Home"]
    assert t.loc["Accessories", "net_sales"] == pytest.approx(77)     # B 50 + C 27 + C 0
    assert t.loc["Accessories", "return_rate"] == pytest.approx(30 / 110)
    assert t.loc["Shoes", "return_rate"] == pytest.approx(25 / 120)
