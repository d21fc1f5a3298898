"""Unusual days, for the Overview and `python -m kpilib alerts`: a day is compared with the
same weekday over the previous 8 weeks: mean ± 3 standard deviations of those 8 values, and
never narrower than ± 30 % of the mean, so a growing shop is not flagged every day for being
a little above its past.

The width was measured on every month of the demo shop (default scale, and the tests' 5 %
scale): outside November (Black Friday) at most 5 unusual days a month, 1.6 and 2.2 on average,
and all six Black Friday days of 2025 still flagged. Mean ± 2 sd, at least ± 15 %, gave up to
16 in an ordinary month; ± 3 sd, at least ± 25 %, up to 6."""
from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import duckdb
import numpy as np
import pandas as pd

from .registry import get

WEEKS = 8
WIDTH = 3.0
MIN_RELATIVE = 0.30

# The KPIs watched, each with the table whose first stored day is the KPI's first day: before
# it a daily series reads zeros that are not the shop's (net sales subtracts refunds, but
# orders decide where it starts). All four are final once their day is over; an alert must
# never be raised on a figure that is not (a return rate still grows while its return window
# is open), so add no such KPI here.
WATCHED = {"net_sales": "orders_daily", "orders": "orders_daily", "sessions": "traffic",
           "conversion_rate": "traffic"}

# The page that shows each KPI: alerts link there, on their days.
PAGE = {"net_sales": "sales", "gross_sales": "sales", "orders": "sales", "aov": "sales",
        "sessions": "traffic", "conversion_rate": "traffic", "new_customers": "loyalty",
        "returning_customer_rate": "loyalty", "mer": "marketing", "roas": "marketing",
        "cac": "marketing", "spend": "marketing", "return_rate_value": "returns",
        "stockout_rate": "stock"}

COLUMNS = ["day", "rank", "kpi", "label", "value", "low", "high", "expected", "direction",
           "distance", "good", "page"]


def history_start(start: date) -> date:
    """How far back a daily series must go for the first day of the range to have its band."""
    return start - timedelta(days=7 * WEEKS)


def judged_from(first: dict[str, date | None]) -> date | None:
    """The first day any watched KPI is judged on (``first``: first_days): WEEKS weeks after
    its first stored day. None: nothing stored to judge."""
    days = [d for d in first.values() if d is not None]
    return min(days) + timedelta(days=7 * WEEKS) if days else None


def quiet_text(since: date | None, start: date, end: date, targets: bool) -> str:
    """What the Overview says where it has no alert for [start, end]: that none was found,
    or that its days could not be judged (``since``: judged_from), so that no alert is not
    read as alerts switched off, or as a quiet month in a shop too new to tell."""
    how = f"a day is judged against the same weekday over the {WEEKS} weeks before it"
    if since is None or since > end:
        return (f"No unusual days can be found in these dates yet: {how}, and these dates "
                "have less stored data before them" + (f" (days from {since.day} "
                                                       f"{since:%b %Y} on are judged)"
                                                       if since else "") + ".")
    judged = "these dates" if since <= start else \
        f"{since.day} {since:%b} – {end.day} {end:%b %Y}"
    return (f"No alerts: no day of {judged} left its weekday's usual range"
            + (" and no KPI is behind its month's target" if targets else "")
            + (f" (before {since.day} {since:%b}, less than {WEEKS} weeks of data: not judged)"
               if since > start else "") + ".")


def page_link(kpi: str, start: date, end: date, channels=()) -> str:
    """The app link that opens KPI ``kpi``'s page on [start, end] with these channels."""
    params = {"period": "Custom", "dates": [start.isoformat(), end.isoformat()]}
    if channels:
        params["channels"] = list(channels)
    return f"{PAGE[kpi]}?{urlencode(params, doseq=True)}"


def first_days(con: duckdb.DuckDBPyConnection) -> dict[str, date | None]:
    """The first stored day of each watched KPI's table (None: the table is empty), in one
    query over the small daily tables."""
    tables = sorted(set(WATCHED.values()))
    # Table names are code constants, never a user's.
    row = con.cursor().execute(
        "select " + ", ".join(f"(select min(day) from {t})" for t in tables)).fetchall()[0]
    first = dict(zip(tables, row))
    return {name: first[t] for name, t in WATCHED.items()}


def outside_band(daily: pd.DataFrame, start: date, end: date,
                 first: date | None = None) -> pd.DataFrame:
    """``daily`` has one row per day (``period``, ``value``) from ``history_start(start)`` to
    ``end``. Returns the days in [start, end] whose value is outside their band, with the band;
    days without 8 weeks of history on or after ``first`` (the first stored day: rows before it
    are not data, whatever they hold), or whose history never varies, are not judged.
    ``distance``: how far beyond the band's edge, in half-widths of the band (0 at the edge).

    Every day at once in numpy (a row of 8 past values per day): a loop over the days in pandas
    cost ~50 ms for each of the Overview's four series."""
    cols = ["day", "value", "expected", "low", "high", "direction", "distance"]
    days = pd.to_datetime(daily["period"]).to_numpy().astype("datetime64[D]")
    values = daily["value"].to_numpy(dtype=float)
    first_history, last = np.datetime64(history_start(start), "D"), np.datetime64(end, "D")
    keep = (days >= first_history) & (days <= last)
    if first is not None:
        keep &= days >= np.datetime64(first, "D")
    # The series on a calendar from the first day of history: a day without a row is empty.
    grid = np.full(int((last - first_history).astype(int)) + 1, np.nan)
    grid[(days[keep] - first_history).astype(int)] = values[keep]
    at = np.arange(int((np.datetime64(start, "D") - first_history).astype(int)), len(grid))
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
        distance = np.abs(value - mean) / half - 1
    return pd.DataFrame({
        "day": [d.item() for d in first_history + at[out].astype("timedelta64[D]")],
        "value": value[out], "expected": mean[out], "low": low[out], "high": high[out],
        "direction": np.where(value[out] > high[out], "above", "below"),
        "distance": distance[out]}, columns=cols)


def unusual_days(series: dict[str, pd.DataFrame], first: dict[str, date | None], start: date,
                 end: date, channels=()) -> pd.DataFrame:
    """The unusual days of [start, end], one row per day × KPI unusual that day (``COLUMNS``):
    ``series`` maps each watched KPI to its daily frame from ``history_start(start)`` to
    ``end``, ``first`` to its first stored day (``first_days``). Days are ranked (1 = most
    unusual) by the largest distance of their KPIs; within a day, the most unusual KPI first.
    ``low`` is never below 0: none of the watched KPIs is usually negative. ``good``: the
    KPI left its range the way it is better to move (sales above it), not a warning."""
    rows = [{"kpi": name, **r}
            for name in WATCHED if first.get(name) is not None
            for r in outside_band(series[name], start, end, first[name]).to_dict("records")]
    worst: dict = {}
    for r in rows:
        worst[r["day"]] = max(worst.get(r["day"], 0), r["distance"])
    # Plain Python: a handful of rows, and pandas' groupby and sort cost ~10 ms every rerun.
    rows.sort(key=lambda r: (-worst[r["day"]], r["day"], -r["distance"]))
    rank: dict = {}
    for r in rows:
        k = get(r["kpi"])
        r.update(rank=rank.setdefault(r["day"], len(rank) + 1), low=max(r["low"], 0.0),
                 label=k.label, good=k.better == {"above": "up", "below": "down"}[r["direction"]],
                 page=page_link(r["kpi"], r["day"], r["day"], channels))
    return pd.DataFrame(rows, columns=COLUMNS)
