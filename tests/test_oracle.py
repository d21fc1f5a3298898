"""Every registered KPI against its pandas oracle on the generated demo shop: totals, each
grouping, with and without a channel filter. Money to the cent, ratios to 1e-9."""
import math
from datetime import date

import pytest

from kpilib import KPIS, Filters, run
from oracle import oracle

FILTERS = {
    "whole history": Filters(date(2025, 5, 1), date(2026, 10, 31)),
    "one month": Filters(date(2025, 11, 1), date(2025, 11, 30)),
    "quarter, two channels": Filters(date(2026, 4, 1), date(2026, 6, 30),
                                     ("email", "paid_social")),
}


def compare(kpi, got: dict, want: dict):
    tol = 0.005 if kpi.unit == "money" and not kpi.ratio else 1e-9
    for k, w in want.items():
        g = got.get(k)
        if w is None:
            assert g is None or math.isnan(g), (k, g)
        else:
            assert g is not None and math.isclose(g, w, rel_tol=1e-9, abs_tol=tol), (k, g, w)
    # Groups the oracle does not have are empty periods: 0, or no value for a ratio.
    for k in got.keys() - want.keys():
        assert got[k] == kpi.empty or (kpi.empty is None and math.isnan(got[k])), (k, got[k])


@pytest.mark.parametrize("by", [None, "day", "week", "month", "channel"])
@pytest.mark.parametrize("fname", FILTERS)
@pytest.mark.parametrize("name", KPIS)
def test_kpi_matches_pandas(demo_store, demo_shop, name, fname, by):
    kpi, f = KPIS[name], FILTERS[fname]
    if by and by not in kpi.by:
        pytest.skip(f"{name} is not split by {by}")
    df = run(demo_store.connect(), kpi, f, by)
    key = {None: None, "channel": "channel"}.get(by, "period")
    got = dict(zip(df[key] if key else ["total"], df["value"]))
    want = oracle(name, demo_shop, f, by)
    if by is None and not want:
        want = {"total": kpi.empty}
    compare(kpi, got, want)
