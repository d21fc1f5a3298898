"""Traffic KPIs on the tiny shop, counted by hand."""
from datetime import date

import pytest

from helpers import FEB, check, grouped, only, total

# February rows: paid_search mobile 100/2, paid_search desktop 50/2, email 40/1,
# paid_search mobile (4 Feb) 200/3, direct 0/0 (sessions/purchases).
CASES = [
    ("sessions", FEB, 390),                              # 100 + 50 + 40 + 200 + 0
    ("sessions", only(FEB, "paid_search"), 350),         # 100 + 50 + 200
    ("users", FEB, 305),                                 # 80 + 45 + 30 + 150
    ("new_users", FEB, 195),                             # 60 + 30 + 5 + 100
    ("conversion_rate", FEB, 8 / 390),                   # (2 + 2 + 1 + 3) / 390
    ("conversion_rate", only(FEB, "paid_search"), 0.02),  # 7 / 350
    ("conversion_rate", only(FEB, "direct"), None),      # 0 / 0: no value, not 0
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_traffic_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_conversion_is_a_ratio_of_sums(tiny_store):
    from kpilib import get, run
    df = run(tiny_store.connect(), get("conversion_rate"), FEB)
    assert (df["numerator"].iat[0], df["denominator"].iat[0]) == (8, 390)
    # The mean of the daily rates (5/190 and 3/200) would be 0.0207…, not 8/390 = 0.0205…
    check(df["value"].iat[0], 8 / 390)


def test_sessions_by_day_and_device(tiny_store):
    by_day = grouped(tiny_store, "sessions", FEB, "day")
    assert len(by_day) == 28 and by_day[date(2025, 2, 3)] == 190 and by_day[date(2025, 2, 4)] == 200
    assert sum(by_day.values()) == 390
    assert grouped(tiny_store, "sessions", FEB, "device") == {"desktop": 50, "mobile": 340}


def test_conversion_by_channel(tiny_store):
    got = grouped(tiny_store, "conversion_rate", FEB, "channel")
    assert got.keys() == {"direct", "email", "paid_search"}
    check(got["direct"], None)
    check(got["email"], 1 / 40)
    check(got["paid_search"], 7 / 350)
