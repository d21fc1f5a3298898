"""Monthly targets and month-to-date pacing.

A target is a value for one KPI in one month, for the whole shop or for one channel, kept in the
store's settings. Pacing answers "will we make it?" part-way through a month:

* a **sum** (net sales, orders, sessions…) is expected to grow with the days elapsed, weighted by
  the shop's weekday pattern — a Monday that usually sells twice what a Sunday sells counts
  twice. The pattern is the mean of each weekday over the 8 weeks before the month (equal
  weights when there is no history). Expected to date = target × weight of the elapsed days ÷
  weight of the whole month; the forecast is the value to date ÷ that same share.
* a **level** (conversion rate, AOV, MER…) is simply its month-to-date value against the target,
  in the direction that is good news for that KPI.
"""
from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import pandas as pd

from .filters import Filters
from .kpi import refused, run
from .registry import get

# The KPIs a target can be set for, and how they pace.
KINDS = {
    "net_sales": "sum", "gross_sales": "sum", "orders": "sum", "sessions": "sum",
    "new_customers": "sum", "spend": "sum",
    "conversion_rate": "level", "aov": "level", "returning_customer_rate": "level",
    "mer": "level", "roas": "level", "cac": "level", "return_rate_value": "level",
    "stockout_rate": "level",
}
HISTORY_WEEKS = 8
# Within 2 % of the target counts as on track: a target is a plan, not a measurement.
TOLERANCE = 0.02
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Target:
    kpi: str
    month: str          # "YYYY-MM"
    value: float
    channel: str | None = None   # None: the whole shop


def parse(rows: list[dict]) -> list[Target]:
    """Targets from settings or the editor; a ValueError says which row is wrong and why."""
    out, seen = [], set()
    for i, r in enumerate(rows, 1):
        name, month = str(r.get("kpi") or "").strip(), str(r.get("month") or "").strip()
        channel = str(r.get("channel") or "").strip() or None
        if name not in KINDS:
            raise ValueError(f"row {i}: a target can be set for {', '.join(KINDS)}, "
                             f"not {name!r}")
        if not MONTH.match(month):
            raise ValueError(f"row {i}: month must look like 2026-11, not {month!r}")
        try:
            value = float(r.get("value"))
        except (TypeError, ValueError):
            raise ValueError(f"row {i}: the target must be a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"row {i}: the target must be a number of 0 or more")
        if (name, month, channel) in seen:
            raise ValueError(f"row {i}: {name} {month} {channel or 'all channels'} is set twice")
        seen.add((name, month, channel))
        out.append(Target(name, month, value, channel))
    return out


def from_settings(settings: dict) -> list[Target]:
    return parse(settings.get("targets", []))


def to_settings(targets: list[Target]) -> list[dict]:
    return [{"kpi": t.kpi, "month": t.month, "channel": t.channel, "value": t.value}
            for t in sorted(targets, key=lambda t: (t.month, t.kpi, t.channel or ""))]


def target_for(targets: list[Target], name: str, month: str,
               channels: tuple[str, ...]) -> float | None:
    """The target that applies to what the filters show, if any.

    All channels: the shop's target. Channels picked: a sum adds up the targets of the channels
    picked (each must have one); a level needs exactly one channel with a target.
    """
    mine = {t.channel: t.value for t in targets if t.kpi == name and t.month == month}
    if not channels:
        return mine.get(None)
    if not all(c in mine for c in channels):
        return None
    if KINDS[name] == "sum":
        return sum(mine[c] for c in channels)
    return mine[channels[0]] if len(channels) == 1 else None


@dataclass(frozen=True)
class Pace:
    kpi: str
    month: str
    target: float
    actual: float | None     # month to date
    expected: float          # where the month should be by now (the target itself for a level)
    forecast: float | None   # the month's end at the current pace (the value itself for a level)
    share: float             # of the month's weight elapsed (1.0 for a complete month)
    days: int                # days elapsed
    days_in_month: int

    @property
    def ratio(self) -> float | None:
        """Pace as a fraction of the target, > 1 is good news whichever way the KPI points."""
        if self.forecast is None or self.target == 0:
            return None
        if get(self.kpi).better == "down":
            return self.target / self.forecast if self.forecast else None
        return self.forecast / self.target

    @property
    def behind(self) -> bool:
        return self.ratio is not None and self.ratio < 1 - TOLERANCE


def weekday_weights(history: pd.DataFrame) -> list[float]:
    """Mean value of each weekday (Monday first) in ``history`` (``period``, ``value``); equal
    weights when a weekday is missing or the history sums to nothing."""
    if history.empty:
        return [1.0] * 7
    days = pd.to_datetime(history["period"])
    means = history["value"].astype(float).groupby(days.dt.day_of_week).mean()
    if len(means) < 7 or not means.sum() > 0 or (means < 0).any():
        return [1.0] * 7
    return [float(means[i]) for i in range(7)]


def month_share(weights: list[float], month_start: date, as_of: date) -> float:
    """The share of the month's weight in the days from ``month_start`` to ``as_of``."""
    n = calendar.monthrange(month_start.year, month_start.month)[1]
    days = [month_start + timedelta(days=i) for i in range(n)]
    total = sum(weights[d.weekday()] for d in days)
    return sum(weights[d.weekday()] for d in days if d <= as_of) / total


def pace(con: duckdb.DuckDBPyConnection, name: str, targets: list[Target], filters: Filters,
         last_day: date) -> Pace | None:
    """Pacing of ``name`` in the month holding ``filters.end`` (capped at the latest day with
    data), under the filters' channels and other choices; None without a target."""
    as_of = min(filters.end, last_day)
    month_start = as_of.replace(day=1)
    month = f"{month_start:%Y-%m}"
    target = target_for(targets, name, month, filters.channels)
    if target is None or refused(get(name), filters):
        # A KPI the filters' category (or device, country) does not split has no figure to
        # pace under them.
        return None
    n = calendar.monthrange(month_start.year, month_start.month)[1]
    mtd = replace(filters, start=month_start, end=as_of)
    k = get(name)
    actual = run(con, k, mtd)["value"].iat[0]
    actual = None if pd.isna(actual) else float(actual)
    if KINDS[name] == "level":
        share = (as_of - month_start).days + 1
        return Pace(name, month, target, actual, target, actual, share / n, share, n)
    history = run(con, k, replace(filters, start=month_start - timedelta(weeks=HISTORY_WEEKS),
                                  end=month_start - timedelta(days=1)), "day")
    share = month_share(weekday_weights(history), month_start, as_of)
    actual = actual or 0.0
    # share is 0 only when every elapsed day is a weekday the shop never sells on.
    return Pace(name, month, target, actual, target * share, actual / share if share else None,
                share,
                (as_of - month_start).days + 1, n)


def month_pacing(con: duckdb.DuckDBPyConnection, targets: list[Target], filters: Filters,
                 last_day: date) -> list[Pace]:
    """Every KPI with a target for the month in view, in the order of :data:`KINDS`."""
    return [p for name in KINDS if (p := pace(con, name, targets, filters, last_day))]
