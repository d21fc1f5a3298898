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


@pytest.mark.parametrize("name,mobile,desktop,whole", [
    ("sessions", 340, 50, 390),            # mobile 100 + 40 + 200; desktop 50 + 0
    ("purchases", 6, 2, 8),                # mobile 2 + 1 + 3; desktop 2 + 0
    ("add_to_carts", 35, 6, 41),           # mobile 10 + 5 + 20; desktop 6 + 0
    ("conversion_rate", 6 / 340, 2 / 50, 8 / 390),
])
def test_the_device_filter_splits_the_traffic_kpis(tiny_store, name, mobile, desktop, whole):
    """Each device's figure, and the devices together add up to the whole shop (numerators
    and denominators for a rate), as the split by device gives them."""
    from dataclasses import replace

    from kpilib import get, run
    con = tiny_store.connect()
    frames = {d: run(con, get(name), replace(FEB, devices=d)) for d in
              [("mobile",), ("desktop",), ("desktop", "mobile"), ()]}
    for d, want in [(("mobile",), mobile), (("desktop",), desktop),
                    (("desktop", "mobile"), whole), ((), whole)]:
        check(frames[d]["value"].iat[0], want)
    split = run(con, get(name), FEB, "device").set_index("device")
    cols = ["numerator", "denominator"] if get(name).ratio else ["value"]
    for c in cols:
        assert frames[("mobile",)][c].iat[0] + frames[("desktop",)][c].iat[0] == \
            frames[()][c].iat[0] == split[c].sum()
        assert frames[("mobile",)][c].iat[0] == split.loc["mobile", c]
