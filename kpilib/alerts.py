"""Days that fall outside their expected band: a day is compared with the same weekday over the
previous 8 weeks: mean ± 2 standard deviations of those 8 values, and never narrower than ± 15 %
of the mean, so a growing shop is not flagged every day for being a little above its past."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

WEEKS = 8
WIDTH = 2.0
MIN_RELATIVE = 0.15


def history_start(start: date) -> date:
    """How far back a daily series must go for the first day of the range to have its band."""
    return start - timedelta(days=7 * WEEKS)


def outside_band(daily: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """``daily`` has one row per day (``period``, ``value``) from ``history_start(start)`` to
    ``end``. Returns the days in [start, end] whose value is outside their band, with the band;
    days without 8 weeks of history, or whose history never varies, are not judged."""
    s = pd.Series(daily["value"].to_numpy(dtype=float), index=pd.to_datetime(daily["period"]))
    rows = []
    for day in pd.date_range(start, end, freq="D"):
        if day not in s.index or pd.isna(s[day]):
            continue
        past = s.reindex([day - pd.Timedelta(weeks=w) for w in range(1, WEEKS + 1)]).dropna()
        if len(past) < WEEKS or past.std() == 0:
            continue
        half = max(WIDTH * past.std(), MIN_RELATIVE * abs(past.mean()))
        low, high = past.mean() - half, past.mean() + half
        if not low <= s[day] <= high:
            rows.append({"day": day.date(), "value": s[day], "expected": past.mean(),
                         "low": low, "high": high,
                         "direction": "above" if s[day] > high else "below",
                         # how many standard deviations away: the order alerts are listed in
                         "severity": abs(s[day] - past.mean()) / past.std()})
    return pd.DataFrame(rows, columns=["day", "value", "expected", "low", "high", "direction",
                                       "severity"])
