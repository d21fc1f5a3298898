"""Is a change in a rate beyond noise? A two-proportion z-test and Wilson intervals, in plain
Python (no SciPy) so the default install stays light."""
from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Comparison:
    rate_a: float | None
    rate_b: float | None
    z: float | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        """True when the difference is beyond noise at 95 % (two-sided)."""
        return self.p_value is not None and self.p_value < 0.05


def two_proportions(x_a: float, n_a: float, x_b: float, n_b: float) -> Comparison:
    """Pooled two-proportion z-test of x_a/n_a (before) against x_b/n_b (after)."""
    if not n_a or not n_b:
        return Comparison(x_a / n_a if n_a else None, x_b / n_b if n_b else None, None, None)
    pa, pb = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return Comparison(pa, pb, None, None)
    z = (pb - pa) / se
    return Comparison(pa, pb, z, math.erfc(abs(z) / math.sqrt(2)))


def wilson(x: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for x successes out of n (95 % by default)."""
    if not n:
        return None
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def compare_rates(now, before, key: str = "channel"):
    """Per group, a rate now against before (frames from run() of a ratio KPI, split by
    ``key``): both rates, the change in points and whether it is beyond noise at 95 %."""
    import pandas as pd

    m = pd.merge(now, before, on=key, how="outer", suffixes=("_now", "_before")).fillna(
        {"numerator_now": 0, "denominator_now": 0, "numerator_before": 0,
         "denominator_before": 0})
    rows = []
    for r in m.itertuples():
        c = two_proportions(r.numerator_before, r.denominator_before, r.numerator_now,
                            r.denominator_now)
        rows.append({key: getattr(r, key), "rate_now": c.rate_b, "rate_before": c.rate_a,
                     "change_pp": None if c.rate_a is None or c.rate_b is None
                     else (c.rate_b - c.rate_a) * 100,
                     "p_value": c.p_value, "significant": c.significant})
    return pd.DataFrame(rows, columns=[key, "rate_now", "rate_before", "change_pp", "p_value",
                                       "significant"])
