"""The KPI declaration and the one function that runs a KPI."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from .filters import Filters

# times: a multiple (ROAS 3.2×); decimal: an average count (1.93 units per order)
UNITS = ("count", "decimal", "money", "ratio", "times", "days")

# The only text ever substituted into KPI SQL: code constants keyed by the grouping asked for.
GROUPINGS = {
    None: "'total'",
    "day": "day",
    "week": "date_trunc('week', day)::date",
    "month": "date_trunc('month', day)::date",
    "channel": "channel",
    "device": "device",
    "category": "category",
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
    # Which way is good news: "up", "down" (returns, discounts) or None (spend: neither).
    better: str | None = "up"
    # What a period with no rows is worth: 0 for sums and counts, nothing for ratios and for
    # columns an export may lack.
    empty: float | None = 0
    # A table KPI (cohort matrix, segments, top products) returns its own columns instead of
    # one value per group; ``by`` then adds a grouping column to them.
    table: bool = False

    def __post_init__(self):
        assert self.unit in UNITS, self.unit
        assert "{key}" in self.sql or (self.table and not self.by), \
            f"{self.name}: sql must group by {{key}}"
        assert set(self.by) <= set(GROUPINGS) - {None}, self.by
        assert not (self.ratio and self.empty is not None), f"{self.name}: a ratio has no empty"
        assert not (self.table and self.ratio), f"{self.name}: a table is not a ratio"


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


def _grouping(by: str | tuple[str, ...] | None) -> str:
    if not isinstance(by, tuple):
        return GROUPINGS[by]
    # Two dimensions at once (period × channel): one struct key, unpacked by run().
    return "struct_pack(" + ", ".join(
        f"{'period' if b in PERIODS else b} := {GROUPINGS[b]}" for b in by) + ")"


def run(con: duckdb.DuckDBPyConnection, kpi: Kpi, filters: Filters,
        by: str | tuple[str, str] | None = None) -> pd.DataFrame:
    """Run ``kpi`` under ``filters``.

    Without ``by``: one row (``value``, plus ``numerator``/``denominator`` for ratios).
    With ``by``: one row per group, the group column named ``period`` (the first day of the
    day/week/month; every period of the range is present) or ``channel``/``device``. A pair such
    as ``("week", "channel")`` gives both columns.
    """
    dims = by if isinstance(by, tuple) else (by,) if by else ()
    for d in dims:
        if d not in kpi.by:
            raise ValueError(f"{kpi.name} cannot be split by {d!r}; choose from {kpi.by}")
    if len(dims) > 2 or (len(dims) == 2 and sum(d in PERIODS for d in dims) != 1):
        raise ValueError(f"split by one period and one other dimension, not {by!r}")
    sql = kpi.sql.replace("{key}", _grouping(by))
    cur = con.cursor()  # one cursor per query: the connection is shared across threads
    try:
        df = cur.execute(sql, filters.params(sql)).df()
    finally:
        cur.close()
    if kpi.table:
        if "key" in df:
            df = df.drop(columns="key") if not dims else df.rename(columns={"key": dims[0]})
        return df.reset_index(drop=True)
    cols = ["value", "numerator", "denominator"] if kpi.ratio else ["value"]
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    if not dims:
        if df.empty:
            df = pd.DataFrame([{c: float("nan") for c in cols}])
        return _fill(kpi, df)[cols].reset_index(drop=True)
    names = ["period" if d in PERIODS else d for d in dims]
    if len(dims) == 1:
        df = df.rename(columns={"key": names[0]})
    else:
        keys = pd.DataFrame(df["key"].tolist(), columns=names, index=df.index)
        df = pd.concat([keys, df.drop(columns="key")], axis=1)
    period = next((d for d in dims if d in PERIODS), None)
    if period is None:
        return df[[*names, *cols]].sort_values(names, ignore_index=True)
    df["period"] = pd.to_datetime(df["period"]).dt.date
    full = pd.DataFrame({"period": period_starts(filters.start, filters.end, period)})
    other = [n for n in names if n != "period"]
    if other:
        # Every period for every group that appears, so stacked charts have no holes.
        full = full.merge(df[other].drop_duplicates(), how="cross")
    df = _fill(kpi, full.merge(df, on=names, how="left"))
    return df[[*names, *cols]].sort_values([*other, "period"], ignore_index=True)


def _fill(kpi: Kpi, df: pd.DataFrame) -> pd.DataFrame:
    """Groups with no rows: sums and counts are 0, ratios have no value (0 of 0)."""
    if kpi.empty is not None:
        df["value"] = df["value"].fillna(kpi.empty)
    if kpi.ratio:
        df[["numerator", "denominator"]] = df[["numerator", "denominator"]].fillna(0.0)
    return df
