"""After-sales KPIs on the tiny shop, counted by hand.

Refunds: r1 10 (o1, January), r2 30 (o6, February, the whole order), r3 25 (o7, a February order,
refunded in March), r4 60 (o5, cancelled: never a return).
"""
from datetime import date

import pytest

from helpers import FEB, MAR, check, only, total
from kpilib import get

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


def test_return_window_marks_recent_periods_not_final():
    from kpilib.caveats import maturity
    rate = get("return_rate_value")
    jan, feb, mar = ((date(2025, m, 1), date(2025, m, d)) for m, d in ((1, 31), (2, 28), (3, 31)))
    # Data ends on 15 March: an order of day d can be refunded until d + 30, so January is
    # final (31 Jan + 30 = 2 Mar ≤ 15 Mar) and February's days from 14 Feb on are open
    # (14 Feb + 30 = 16 Mar > 15 Mar): 14 … 28 February, 15 days.
    assert maturity(rate, *jan, date(2025, 3, 15), 30).final
    feb_open = maturity(rate, *feb, date(2025, 3, 15), 30)
    assert (feb_open.final, feb_open.open_days) == (False, 15)
    # 31 March + 30 days = 30 April: on 29 April one day of March is open, on 30 April none.
    assert maturity(rate, *mar, date(2025, 4, 29), 30).open_days == 1
    assert maturity(rate, *mar, date(2025, 4, 30), 30).final
    # Dated by the refund, a closed period is final however recent.
    assert maturity(get("returns"), *mar, date(2025, 3, 31), 30).final
