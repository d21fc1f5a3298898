"""The KPI declaration and the one function that runs a KPI."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from .filters import Filters

UNITS = ("count", "money", "ratio", "days")

# The only text ever substituted into KPI SQL: code constants keyed by the grouping asked for.
GROUPINGS = {
    None: "'total'",
    "day": "day",
    "week": "date_trunc('week', day)::date",
    "month": "date_trunc('month', day)::date",
    "channel": "channel",
    "device": "device",
}
PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class Kpi:
    """One KPI, declared once.

    ``sql`` returns one row per group with columns ``key`` and ``value`` (and ``numerator``,
    ``denominator`` for ratios). It filters with ``$start``/``$end``/``$channels`` and groups by
    ``{key}``, which :func:`run` replaces with one of :data:`GROUPINGS`.
    """
    name: str
    label: str
    unit: str
    definition: str
    sql: str
    by: tuple[str, ...] = ("day", "week", "month", "channel")
    # A ratio also returns its numerator and denominator, and has no value when the
    # denominator is 0.
    ratio: bool = False
    # What a period with no rows is worth: 0 for sums and counts, nothing for ratios and for
    # columns an export may lack.
    empty: float | None = 0

    def __post_init__(self):
        assert self.unit in UNITS, self.unit
        assert "{key}" in self.sql, f"{self.name}: sql must group by {{key}}"
        assert set(self.by) <= set(GROUPINGS) - {None}, self.by
        assert not (self.ratio and self.empty is not None), f"{self.name}: a ratio has no empty"


def period_starts(start: date, end: date, by: str) -> list[date]:
    """Every period start from the one holding ``start`` to the one holding ``end``."""
    if by == "day":
        first, step = start, lambda d: d + timedelta(days=1)
    elif by == "week":
        first, step = start - timedelta(days=start.weekday()), lambda d: d + timedelta(days=7)
    else:
        first = start.replace(day=1)
        step = lambda d: (d.replace(day=28) + timedelta(days=4)).replace(day=1)  # noqa: E731
    out = []
    while first <= end:
        out.append(first)
        first = step(first)
    return out


def run(con: duckdb.DuckDBPyConnection, kpi: Kpi, filters: Filters,
        by: str | None = None) -> pd.DataFrame:
    """Run ``kpi`` under ``filters``.

    Without ``by``: one row (``value``, plus ``numerator``/``denominator`` for ratios).
    With ``by``: one row per group, the group column named ``period`` (the first day of the
    day/week/month, every period of the range present) or ``channel``/``device``.
    """
    if by is not None and by not in kpi.by:
        raise ValueError(f"{kpi.name} cannot be split by {by!r}; choose from {kpi.by}")
    sql = kpi.sql.replace("{key}", GROUPINGS[by])
    cur = con.cursor()  # one cursor per query: the connection is shared across threads
    try:
        df = cur.execute(sql, filters.params(sql)).df()
    finally:
        cur.close()
    cols = ["value", "numerator", "denominator"] if kpi.ratio else ["value"]
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    if by is None:
        if df.empty:
            df = pd.DataFrame([{c: float("nan") for c in cols}])
        if kpi.empty is not None:
            df["value"] = df["value"].fillna(kpi.empty)
        if kpi.ratio:
            df[["numerator", "denominator"]] = df[["numerator", "denominator"]].fillna(0.0)
        return df[cols].reset_index(drop=True)
    name = "period" if by in PERIODS else by
    df = df.rename(columns={"key": name})
    if by in PERIODS:
        df[name] = pd.to_datetime(df[name]).dt.date
        full = pd.DataFrame({name: period_starts(filters.start, filters.end, by)})
        df = full.merge(df, on=name, how="left")
        if kpi.empty is not None:
            df["value"] = df["value"].fillna(kpi.empty)
        if kpi.ratio:
            df[["numerator", "denominator"]] = df[["numerator", "denominator"]].fillna(0.0)
        return df[[name, *cols]]
    return df[[name, *cols]].sort_values(name, ignore_index=True)
