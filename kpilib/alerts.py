"""Days that fall outside their expected band: a day is compared with the same weekday over the
previous 8 weeks: mean ± 2 standard deviations of those 8 values, and never narrower than ± 15 %
of the mean, so a growing shop is not flagged every day for being a little above its past."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
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
    days without 8 weeks of history, or whose history never varies, are not judged.

    Every day at once in numpy (a row of 8 past values per day): a loop over the days in pandas
    cost ~50 ms for each of the Overview's four series."""
    cols = ["day", "value", "expected", "low", "high", "direction", "severity"]
    days = pd.to_datetime(daily["period"]).to_numpy().astype("datetime64[D]")
    values = daily["value"].to_numpy(dtype=float)
    first, last = np.datetime64(history_start(start), "D"), np.datetime64(end, "D")
    keep = (days >= first) & (days <= last)
    # The series on a calendar from the first day of history: a day without a row is empty.
    grid = np.full(int((last - first).astype(int)) + 1, np.nan)
    grid[(days[keep] - first).astype(int)] = values[keep]
    at = np.arange(int((np.datetime64(start, "D") - first).astype(int)), len(grid))
    if not len(at):
        return pd.DataFrame(columns=cols)
    past = np.stack([grid[at - 7 * w] for w in range(1, WEEKS + 1)])   # WEEKS × days
    value = grid[at]
    judged = ~np.isnan(value) & ~np.isnan(past).any(axis=0)
    mean = past.mean(axis=0)
    std = past.std(axis=0, ddof=1)
    judged &= std != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.maximum(WIDTH * std, MIN_RELATIVE * np.abs(mean))
        low, high = mean - half, mean + half
        out = judged & ((value < low) | (value > high))
        # How many standard deviations away: the order alerts are listed in.
        severity = np.abs(value - mean) / std
    return pd.DataFrame({
        "day": [d.item() for d in first + at[out].astype("timedelta64[D]")],
        "value": value[out], "expected": mean[out], "low": low[out], "high": high[out],
        "direction": np.where(value[out] > high[out], "above", "below"),
        "severity": severity[out]}, columns=cols)
