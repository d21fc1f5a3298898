"""kpilib.measures: KPIs declared from measures; whether they read the daily rollups and are
additive follows from the measures, and a wrong claim is refused at declaration."""
import math
from dataclasses import replace

import pytest

from helpers import FEB, both
from kpilib import KPIS, get, run
from kpilib.dimensions import Measure
from kpilib.measures import ratio, total


def test_a_count_chosen_by_a_summed_column_cannot_claim_the_rollups():
    """Orders with a discount, ``sum(n) filter (where discounts > 0)``: the daily rollup sums
    the discounts of a day's orders, so it would count a day's every order as discounted.
    Claimed as reading the rollups, it is refused with the reason; left to the measures, it
    reads the rows."""
    discounted = Measure("valid_orders", "n", where="discounts > 0")
    with pytest.raises(ValueError, match=r"^discounted_orders cannot read the daily rollups: "
                                         r"coalesce\(sum\(n\) filter \(where discounts > 0\), 0\) "
                                         r"chooses rows by discounts, which the rollup sums"):
        total("discounted_orders", "Discounted orders", "count", "…", discounted, rollup=True)
    k = total("discounted_orders", "Discounted orders", "count", "…", discounted)
    assert not k.rollup and k.additive


@pytest.mark.parametrize("measure,flag,reason", [
    (Measure("valid_orders", "customer_id"), "rollup", "reads customer_id, which the rollup "
                                                       "does not sum"),
    (Measure("valid_orders", "gross_sales", agg="median"), "rollup", "is no sum"),
    (Measure("valid_orders", "gross_sales", agg="median"), "additive", "is not additive"),
    (Measure("traffic", "sessions"), "rollup", "traffic has no daily rollup"),
])
def test_wrong_speed_claims_are_refused(measure, flag, reason):
    with pytest.raises(ValueError, match=reason):
        total("x", "X", "count", "…", measure, **{flag: True})


def test_speed_flags_follow_from_the_measures():
    # Sums of summed columns over a source with a rollup: both; traffic has none.
    assert get("net_sales").rollup and get("net_sales").additive
    assert get("cancellation_rate").rollup   # chosen by status, which the rollup keeps
    assert not get("sessions").rollup and get("sessions").additive
    assert all(m.additive for k in KPIS.values() for m in k.measures if k.additive)


def test_discount_rate(tiny_store):
    """February's valid orders (tests/data/tiny: o2, o3, o4, o6, o7; o5 cancelled): discounts
    0 + 8 + 0 + 0 + 20 = 28 over gross 50 + 80 + 40 + 30 + 120 = 320 → 0.0875. Tops: o3's
    SKU-A line, 50, with its share of o3's 8 discount by value 8 × 50 / 80 = 5 → 0.1."""
    con = tiny_store.connect()
    got = both(con, "discount_rate", FEB)
    assert (got["numerator"].iat[0], got["denominator"].iat[0]) == (28, 320)
    assert got["value"].iat[0] == 28 / 320
    tops = run(con, get("discount_rate"), replace(FEB, categories=("Tops",)))
    assert math.isclose(tops["value"].iat[0], 0.1)
    # Paid search (o2, o3): 8 / 130
    by = both(con, "discount_rate", FEB, "channel").set_index("channel")["value"]
    assert by["paid_search"] == 8 / 130


def test_the_inverse_of_mer_is_derived_from_it(demo_store):
    from datetime import date

    from kpilib import Filters
    con = demo_store.connect()
    f = Filters(date(2026, 1, 1), date(2026, 3, 31))
    mer, inv = run(con, get("mer"), f, "month"), run(con, get("mer_inverse"), f, "month")
    assert list(inv["numerator"]) == list(mer["denominator"])
    assert list(inv["denominator"]) == list(mer["numerator"])
    assert all(math.isclose(a * b, 1) for a, b in zip(mer["value"], inv["value"]))


def test_a_ratio_is_five_lines_of_declaration():
    """discount_rate: the issue's measure of how cheap a new ratio is to declare."""
    import inspect

    from kpilib import sales
    text = inspect.getsource(sales)
    start = text.index("DISCOUNT_RATE = ratio(")
    lines = text[start:text.index("\n", text.index(")\n", start))].splitlines()
    assert len(lines) <= 5, lines
