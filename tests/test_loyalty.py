"""Customer KPIs on the tiny shop, counted by hand.

alice: o1 (Jan, email) then o2 (Feb) → acquired by email, returning in February.
bob:   o3 (Feb, paid_search), o6 (Feb) → new in February.
carol: o5 (Feb, cancelled), o8 (Mar) → her first *valid* order is in March: new in March.
dave:  o7 (Feb, paid_social) → new in February.
o4 is a guest order (no customer id).
"""
from datetime import date

import pytest

from helpers import FEB, JAN, MAR, check, grouped, only, total

CASES = [
    ("customers", FEB, 3),                                # alice, bob, dave; guest and carol out
    ("new_customers", FEB, 2),                            # bob, dave
    ("returning_customers", FEB, 1),                      # alice: first order in January
    ("returning_customer_rate", FEB, 1 / 3),
    ("new_customers", MAR, 1),                            # carol: cancelled o5 is not a first order
    ("new_customers", JAN, 1),                            # alice
    ("guest_orders", FEB, 1),                             # o4
    # The channel filter selects customers by acquisition channel, from the whole history:
    ("customers", only(FEB, "email"), 1),                 # alice (her February order is paid_search)
    ("customers", only(FEB, "paid_search"), 1),           # bob (o6 is email, still bob)
    ("returning_customers", only(FEB, "email"), 1),
    ("new_customers", only(FEB, "paid_social"), 1),       # dave; carol's o5 is cancelled
    ("returning_customer_rate", only(FEB, "marketplace"), None),  # 0 customers
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_loyalty_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_first_orders_come_from_whole_history(tiny_store):
    # In a window that starts in February, alice is still returning: o1 is before the window.
    from kpilib import Filters
    f = Filters(date(2025, 2, 3), date(2025, 2, 3))
    check(total(tiny_store, "new_customers", f), 0)
    check(total(tiny_store, "returning_customers", f), 1)


def test_customers_by_acquisition_channel(tiny_store):
    assert grouped(tiny_store, "customers", FEB, "channel") == {
        "email": 1, "paid_search": 1, "paid_social": 1}


def test_new_customers_by_week(tiny_store):
    # bob on 4 Feb (week of 3 Feb), dave on 20 Feb (week of 17 Feb)
    got = grouped(tiny_store, "new_customers", FEB, "week")
    assert got[date(2025, 2, 3)] == 1 and got[date(2025, 2, 17)] == 1 and sum(got.values()) == 2
