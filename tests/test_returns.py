"""After-sales KPIs on the tiny shop, counted by hand.

Refunds: r1 10 (o1, January), r2 30 (o6, February, the whole order), r3 25 (o7, a February order,
refunded in March), r4 60 (o5, cancelled: never a return).
"""
from datetime import date

import pytest

from helpers import FEB, MAR, check, only, total

CASES = [
    ("returns", FEB, 30.0),                      # r2; r4 is on a cancelled order
    ("returns", MAR, 25.0),                      # r3, partial refund of a February order
    ("returns", only(FEB, "paid_social"), 0.0),  # r4 excluded, r3 is in March
    ("returns_by_order_date", FEB, 55.0),        # r2 30 (o6) + r3 25 (o7, refunded in March)
    ("returns_by_order_date", MAR, 0.0),         # r3 is on a February order
    ("return_rate_value", FEB, 55 / 320),
    ("return_rate_orders", FEB, 2 / 5),          # o6, o7
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_returns_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def table(store, name, f, by=None):
    from kpilib import get, run
    return run(store.connect(), get(name), f, by)


def test_refund_reasons(tiny_store):
    t = table(tiny_store, "refund_reasons", FEB)
    assert t[["reason", "refunds", "amount"]].values.tolist() == [["changed mind", 1, 30.0]]


def test_return_window_marks_recent_months_not_final():
    from kpilib.returns import not_final_months
    months = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    # Data ends on 15 March: February's window (28 Feb + 30 days) is still open.
    assert not_final_months(months, date(2025, 3, 15), 30) == {date(2025, 2, 1), date(2025, 3, 1)}
    # 31 March + 30 days = 30 April: March is final from then on.
    assert not_final_months(months, date(2025, 4, 29), 30) == {date(2025, 3, 1)}
    assert not_final_months(months, date(2025, 4, 30), 30) == set()
