"""The one filter object every KPI takes. It becomes DuckDB parameters, never SQL text."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .dimensions import LINE_GROUPS, SPLITS, Source


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    channels: tuple[str, ...] = ()      # empty = all channels
    devices: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    search: str = ""                    # SKU or product name contains this (stock pages)

    def __post_init__(self):
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        for name in ("channels", "devices", "countries", "categories"):
            # Sorted tuples: two equal selections are one cache key.
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def whole_months(self) -> int:
        """How many calendar months the period is, when it is whole months (1 March – 30 April:
        2); 0 otherwise."""
        if self.start.day != 1 or _next_month(self.end) != self.end + timedelta(days=1):
            return 0
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def previous_period(self) -> "Filters":
        """The period compared with: the same number of calendar months before when the period
        is whole months (March against February, not against the 31 days before), else the same
        number of days, ending the day before ``start``."""
        if self.whole_months:
            return replace(self, start=_months_back(self.start, self.whole_months),
                           end=self.start - timedelta(days=1))
        before = self.month_to_date_before()
        if before:
            return replace(self, start=before[0], end=before[1])
        return replace(self, start=self.start - timedelta(days=self.days),
                       end=self.start - timedelta(days=1))

    def month_to_date_before(self) -> tuple[date, date] | None:
        """For a month to date (1 – 28 April), the same days of the month before (1 – 28 March):
        against the 28 days before (4 – 31 March) a shop whose month starts strong would
        read a fall every month. None for another period, or when the month before is
        shorter (1 – 30 March: February has no 29th and 30th to compare; days before then)."""
        if self.start.day != 1 or (self.end.year, self.end.month) != \
                (self.start.year, self.start.month):
            return None
        first = _months_back(self.start, 1)
        if self.end.day > (self.start - first).days:
            return None
        return first, first + timedelta(days=self.end.day - 1)

    def last_year(self) -> "Filters":
        """The same calendar months a year before when the period is whole months; else the
        days 364 days back, so weekdays line up."""
        if self.whole_months:
            return replace(self, start=_months_back(self.start, 12),
                           end=_months_back(_next_month(self.end), 12) - timedelta(days=1))
        return replace(self, start=self.start - timedelta(days=364),
                       end=self.end - timedelta(days=364))

    def comparison_words(self) -> tuple[str, str]:
        """How the previous period and last year are chosen, in words (captions, the report)."""
        if self.whole_months:
            n = self.whole_months
            return (("the month before" if n == 1 else f"the {n} months before"),
                    ("the same month last year" if n == 1 else "the same months last year"))
        if self.month_to_date_before():
            return ("the same days of the month before",
                    "the same days 364 days back (same weekdays)")
        return "the same number of days before", "the same days 364 days back (same weekdays)"

    def trailing_months(self, n: int) -> "Filters":
        """The ``n`` calendar months ending with the month of ``end`` (through ``end``): for
        views that need history, such as cohorts and monthly returns."""
        first = self.end.replace(day=1)
        for _ in range(n - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        return replace(self, start=min(first, self.start))

    @property
    def splits(self) -> frozenset[str]:
        """The dimensions these filters select members of (device, country, category)."""
        return frozenset(dim for name, dim in SPLITS.items() if getattr(self, name))

    def where(self, source: Source, by: tuple[str, ...] = ()) -> tuple[str, dict]:
        """``source``'s view and the WHERE clause keeping its rows under these filters, with
        the parameters it refers to (Datasette's ``(sql, params)``): see :func:`clause`."""
        sql = clause(source, self.splits, by)
        return sql, self.params(sql)

    def params(self, sql: str) -> dict:
        """The parameters ``sql`` refers to (DuckDB refuses parameters a query does not use):
        the filters, and the whole months and edge days of the period and of the 30 and 90
        days ending with it (:func:`whole_months`)."""
        values = {"start": self.start, "end": self.end, "channels": list(self.channels),
                  "devices": list(self.devices), "countries": list(self.countries),
                  "categories": list(self.categories), "search": self.search.strip().lower()}
        for prefix, start in (("p", self.start), ("w30", self.end - timedelta(days=29)),
                              ("w90", self.end - timedelta(days=89))):
            values.update(whole_months(prefix, start, self.end))
            values.update(month_edges(prefix, start, self.end))
        used = set(re.findall(r"\$([a-z_0-9]+)", sql))
        unknown = used - values.keys()
        if unknown:
            raise KeyError(f"query uses unknown parameters {sorted(unknown)}")
        return {k: v for k, v in values.items() if k in used}


def clause(source: Source, splits: frozenset[str], by: tuple[str, ...] = ()) -> str:
    """``source``'s view and the WHERE clause keeping its rows: the period, the channels, and
    each dimension of ``splits`` (the device, country or category filters set). Under a
    category filter a source with order lines reads them; grouped ``by`` its order's country
    or discount code, a source of refunds or lines joins them on. A dimension the source does
    not carry is an error: the KPI should have refused it (:func:`kpilib.kpi.check_filters`).
    The text depends on which filters are set, never on their values (parameters)."""
    lines = "category" in splits or set(by) & LINE_GROUPS
    view = source.lines if lines and source.lines else source.view
    if source.wide and set(by) & source.groups - LINE_GROUPS - {"customer_type"}:
        view = source.wide.format(view=view)
    bits = ["day between $start and $end"]
    if "channel" in source.dims:
        bits.append(source.dims["channel"])
    for dim in SPLITS.values():
        if dim in splits:
            if dim not in source.dims:
                raise ValueError(f"{source.view} is not split by {dim}")
            bits.append(source.dims[dim])
    if source.where:
        bits.append(source.where)
    return f"{view} where " + " and ".join(bits)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _months_back(first: date, n: int) -> date:
    """The 1st of the month ``n`` months before ``first`` (a 1st)."""
    m = first.year * 12 + first.month - 1 - n
    return date(m // 12, m % 12 + 1, 1)


def _month_before(d: date) -> date:
    return (d.replace(day=1) - timedelta(days=1)).replace(day=1)


def whole_months(prefix: str, start: date, end: date) -> dict[str, date | None]:
    """The days a monthly rollup and its daily rows split [``start``, ``end``] at, as
    parameters named ``<prefix>_…``. Worked out here rather than by SQL macros of ``$start``
    and ``$end``: binding those cost ~14 ms of the stock page's per-SKU query.

    * ``first`` – ``after``: the whole months (none when equal), ``first`` the first 1st on or
      after ``start``, ``after`` the 1st after the last whole month;
    * ``last``, ``before``: the 1sts of the last whole month and of the month before the first
      (the rows of a running total whose difference is the sum over the whole months;
      rollups.py);
    * ``e1`` − ``e0``, + ``e2``: the days of running totals within a month that give the
      days outside the whole months — the first month's part (to ``e1``, from after ``e0``;
      none when ``start`` is a 1st) and the last month's (to ``e2`` = ``end``, when ``end``
      is past the whole months). A missing day is None: it matches no row.
    """
    first = start if start.day == 1 else _next_month(start)
    after = max((end + timedelta(days=1)).replace(day=1), first)
    cut = start < first
    return {f"{prefix}_first": first, f"{prefix}_after": after,
            f"{prefix}_last": _month_before(after), f"{prefix}_before": _month_before(first),
            f"{prefix}_e0": start - timedelta(days=1) if cut else None,
            f"{prefix}_e1": min(first - timedelta(days=1), end) if cut else None,
            f"{prefix}_e2": end if after <= end else None}


def month_edges(prefix: str, start: date, end: date) -> dict[str, date]:
    """With ``<prefix>_e0`` (:func:`whole_months`), the points whose signed sum is a measure
    over [``start``, ``end``] read mostly from running totals by month (kpilib/stock.py): the
    totals through the month before ``end``'s (``m1``, +) and through the month before
    ``start``'s (``m0``, −), then the running totals within a month at ``end`` (+) and at the
    day before ``start`` (``e0``, −; none when ``start`` is a 1st). No month-end day is read
    day by day: a month's total is its row of the monthly running totals."""
    return {f"{prefix}_m1": _month_before(end), f"{prefix}_m0": _month_before(start)}
