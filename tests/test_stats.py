"""The significance test used to say whether a change in conversion is beyond noise."""
import pandas as pd
import pytest

from kpilib.stats import compare_rates, two_proportions, wilson


@pytest.mark.parametrize("a,b,significant", [
    ((200, 10_000), (260, 10_000), True),    # z = 2.83, p = 0.005
    ((20, 1_000), (26, 1_000), False),       # same rates, 10× fewer sessions: p = 0.37
    ((0, 0), (5, 100), False),               # nothing to compare with
])
def test_two_proportion_test(a, b, significant):
    assert two_proportions(*a, *b).significant is significant


def test_two_proportion_values():
    c = two_proportions(200, 10_000, 260, 10_000)
    # pooled p = 460/20000 = 0.023; se = √(0.023 × 0.977 × 2/10000) = 0.0021199…; z = 0.006/se
    assert c.z == pytest.approx(2.830, abs=1e-3) and c.p_value == pytest.approx(0.00465, abs=1e-5)


def test_wilson_interval():
    lo, hi = wilson(200, 10_000)
    assert lo == pytest.approx(0.01743, abs=1e-5) and hi == pytest.approx(0.02294, abs=1e-5)
    assert wilson(0, 0) is None


def test_compare_rates_per_channel():
    now = pd.DataFrame({"channel": ["a", "b", "c"], "numerator": [260, 26, 5],
                        "denominator": [10_000, 1_000, 100], "value": [0.026, 0.026, 0.05]})
    before = pd.DataFrame({"channel": ["a", "b"], "numerator": [200, 20],
                           "denominator": [10_000, 1_000], "value": [0.02, 0.02]})
    got = compare_rates(now, before).set_index("channel")
    assert got.loc["a", "significant"] and not got.loc["b", "significant"]
    assert got.loc["a", "change_pp"] == pytest.approx(0.6)
    assert pd.isna(got.loc["c", "rate_before"]) and not got.loc["c", "significant"]
