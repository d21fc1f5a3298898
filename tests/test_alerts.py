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


def _by_loop(daily: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """The band day by day in plain pandas, as defined: the oracle for outside_band."""
    s = pd.Series(daily["value"].to_numpy(dtype=float), index=pd.to_datetime(daily["period"]))
    rows = []
    for day in pd.date_range(start, end, freq="D"):
        if day not in s.index or pd.isna(s[day]):
            continue
        past = s.reindex([day - pd.Timedelta(weeks=w) for w in range(1, 9)]).dropna()
        if len(past) < 8 or past.std() == 0:
            continue
        half = max(2 * past.std(), 0.15 * abs(past.mean()))
        low, high = past.mean() - half, past.mean() + half
        if not low <= s[day] <= high:
            rows.append({"day": day.date(), "value": s[day], "expected": past.mean(),
                         "low": low, "high": high,
                         "direction": "above" if s[day] > high else "below",
                         "severity": abs(s[day] - past.mean()) / past.std()})
    return pd.DataFrame(rows, columns=["day", "value", "expected", "low", "high", "direction",
                                       "severity"])


def test_the_band_on_random_series_with_gaps_matches_a_day_by_day_loop():
    import numpy as np
    rng = np.random.default_rng(5)
    start, end = date(2025, 3, 3), date(2025, 6, 30)
    days = pd.date_range(history_start(start), end, freq="D")
    for trial in range(5):
        v = rng.normal(100, 12, len(days)) * np.where(days.day_of_week == 5, 1.6, 1.0)
        v[rng.random(len(days)) < 0.03] = np.nan                 # days with no value
        v[rng.random(len(days)) < 0.02] *= 3                     # spikes
        if trial == 1:
            # A history that never varies is not judged, even under a day three times it.
            v[:70] = 100.0
            v[60] = 300.0
        daily = pd.DataFrame({"period": days.date, "value": v})
        if trial == 2:
            daily = daily.iloc[20:]                              # starts late: some unjudged
        got, want = outside_band(daily, start, end), _by_loop(daily, start, end)
        assert len(want) > 0 or trial == 2
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False,
                                      rtol=1e-9)
