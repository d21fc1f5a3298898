"""Customer KPIs on the tiny shop, counted by hand.

alice: o1 (Jan, email) then o2 (Feb) → acquired by email, returning in February.
bob:   o3 (Feb, paid_search), o6 (Feb) → new in February.
carol: o5 (Feb, cancelled), o8 (Mar) → her first *valid* order is in March: new in March.
dave:  o7 (Feb, paid_social) → new in February.
o4 is a guest order (no customer id).
"""
from datetime import date

import pytest

from kpilib import Filters, get, run

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
    ("repeat_purchase_rate", FEB, 1 / 3),                 # bob (o3, o6) of alice, bob, dave
    ("orders_per_customer", FEB, 4 / 3),                  # o2 o3 o6 o7; the guest o4 left out
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


Q1 = Filters(date(2025, 1, 1), date(2025, 3, 31))


def table(store, name, f, by=None):
    from kpilib import get, run
    return run(store.connect(), get(name), f, by)


def test_cohort_retention_by_hand(tiny_store):
    # Cohorts: January = alice (orders in Jan and Feb); February = bob, dave; March = carol
    # (her cancelled February order does not make her a February customer).
    t = table(tiny_store, "cohort_retention", Q1)
    got = {(c.strftime("%Y-%m"), k): (a, n) for c, k, a, n in
           t[["cohort", "k", "active", "cohort_size"]].itertuples(index=False)}
    assert got == {("2025-01", 0): (1, 1), ("2025-01", 1): (1, 1), ("2025-02", 0): (2, 2),
                   ("2025-03", 0): (1, 1)}


def test_cohort_ltv_by_hand(tiny_store):
    t = table(tiny_store, "cohort_ltv", Q1)
    got = {(c.strftime("%Y-%m"), k): round(v, 2) for c, k, v in
           t[["cohort", "k", "value"]].itertuples(index=False)}
    # alice: o1 90 − r1 10 = 80, then + o2 50; February: bob 72 + (30 − 30), dave 100 − 25,
    # over 2 customers; carol: 70.
    assert got == {("2025-01", 0): 80.0, ("2025-01", 1): 130.0, ("2025-02", 0): 73.5,
                   ("2025-03", 0): 70.0}


def test_cohorts_split_by_acquisition_channel(tiny_store):
    t = table(tiny_store, "cohort_retention", Q1, "channel")
    assert set(zip(t.channel, t.cohort.astype(str))) == {
        ("email", "2025-01-01"), ("paid_search", "2025-02-01"), ("paid_social", "2025-02-01"),
        ("paid_social", "2025-03-01")}


def test_days_to_second_order(tiny_store):
    t = table(tiny_store, "days_to_second_order", Q1)
    # alice 5 Jan → 3 Feb (29 days), bob 4 → 12 Feb (8 days); dave and carol: not yet
    assert dict(zip(t.bucket, t.customers)) == {"8–30 days": 2, "not yet": 2}


def test_rfm_by_hand(tiny_store):
    # As of 28 February: recency dave 8, bob 16, alice 25 days → R 5, 4, 3; orders 1, 2, 2.
    t = table(tiny_store, "rfm_segments", FEB).set_index("segment")
    assert t["customers"].to_dict() == {"Promising": 2, "New": 1}
    assert t.loc["Promising", "revenue"] == pytest.approx(130 + 72)   # alice, bob
    assert t.loc["New", "revenue"] == pytest.approx(100)               # r3 is in March
    c = table(tiny_store, "rfm_customers", FEB).set_index("customer_id")
    assert c.loc["dave", "segment"] == "New" and c.loc["alice", "recency_days"] == 25


def test_one_segments_customers_only(tiny_store):
    """rows= filters the table in DuckDB (the download of one segment), as a parameter."""
    con = tiny_store.connect()
    t = run(con, get("rfm_customers"), FEB, rows={"segment": "Promising"})
    assert sorted(t["customer_id"]) == ["alice", "bob"]
    assert run(con, get("rfm_customers"), FEB, rows={"segment": "x' or 1=1 --"}).empty


def test_cohort_sizes_are_whole_numbers(tiny_store):
    """Cohort sizes label the heatmap rows ("Nov 2025 (83,000)"): counts, never 83,000.0."""
    con = tiny_store.connect()
    for name, col in (("cohort_retention", "cohort_size"), ("cohort_ltv", "cohort_size"),
                      ("payback", "customers")):
        assert run(con, get(name), FEB)[col].dtype.kind == "i", name
