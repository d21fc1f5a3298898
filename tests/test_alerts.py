"""The anomaly band: same weekday over the previous 8 weeks, mean ± 2 standard deviations."""
from datetime import date, timedelta

import pandas as pd

from kpilib.alerts import history_start, outside_band

START, END = date(2025, 3, 3), date(2025, 3, 16)


def series(values_by_day: dict) -> pd.DataFrame:
    days = pd.date_range(history_start(START), END, freq="D")
    # Weekly pattern: Mondays 200, other days 100, with a little wobble so bands have width.
    base = [200 if d.day_of_week == 0 else 100 for d in days]
    wobble = [(i % 3) - 1 for i in range(len(days))]
    v = pd.Series([b + w for b, w in zip(base, wobble)], index=days)
    for d, x in values_by_day.items():
        v[pd.Timestamp(d)] = x
    return pd.DataFrame({"period": v.index.date, "value": v.values})


def test_planted_outlier_is_found_and_the_weekly_pattern_is_not():
    got = outside_band(series({date(2025, 3, 12): 150}), START, END)
    # Mondays at 200 are normal for Mondays; the Wednesday at 150 is not.
    assert got["day"].tolist() == [date(2025, 3, 12)]
    row = got.iloc[0]
    assert row["direction"] == "above" and 99 <= row["expected"] <= 101
    assert row["low"] < 100 < row["high"] < 150 and row["severity"] > 2


def test_a_drop_is_found():
    got = outside_band(series({date(2025, 3, 10): 20}), START, END)
    assert got[["day", "direction"]].values.tolist() == [[date(2025, 3, 10), "below"]]


def test_days_without_eight_weeks_of_history_are_not_judged():
    s = series({})
    s = s[s["period"] >= START - timedelta(days=14)]     # only 2 weeks of history
    assert outside_band(s, START, END).empty
