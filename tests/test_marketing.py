"""Marketing KPIs on the tiny shop, counted by hand."""
import pytest

from helpers import FEB, check, grouped, only, total

# February spend: paid_search 20 + 30, paid_social 40, display 10.
# Attributed revenue (gross − discounts, valid orders): paid_search o2 50 + o3 72 = 122,
# paid_social o7 100 (o5 cancelled), email o6 30, direct o4 40.
CASES = [
    ("spend", FEB, 100.0),
    ("spend", only(FEB, "paid_search"), 50.0),
    ("attributed_revenue", FEB, 292.0),              # 122 + 100 + 30 + 40
    ("attributed_revenue", only(FEB, "paid_search"), 122.0),
    ("roas", only(FEB, "paid_search"), 122 / 50),    # 2.44
    ("roas", FEB, (122 + 100 + 0) / 100),            # channels with spend only: 2.22
    ("roas", only(FEB, "email"), None),              # orders but no spend: no ROAS
    ("roas", only(FEB, "display"), 0.0),             # spend but no orders: 0
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_marketing_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_roas_by_channel_lists_channels_with_spend(tiny_store):
    got = grouped(tiny_store, "roas", FEB, "channel")
    assert got == {"display": 0.0, "paid_search": 2.44, "paid_social": 2.5}
