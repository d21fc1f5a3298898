"""The KPI declaration and the one function that runs a KPI."""
from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from . import dimensions
from .dimensions import SOURCES, SPLITS
from .filters import Filters, clause

# times: a multiple (ROAS 3.2×); decimal: an average count (1.93 units per order)
UNITS = ("count", "decimal", "money", "ratio", "times", "days")

# Columns qualified: an unqualified name a subquery's table lacks would bind to the outer row
# (customer_orders as held in memory has no order_id), and every order would match.
CUSTOMER_TYPE = ("case when order_id in (select f.first_order_id from customer_first f) "
                 "then 'new' when order_id in (select o.order_id from orders o "
                 "where o.customer_id is not null) then 'returning' end")

# The only text ever substituted into KPI SQL: code constants keyed by the grouping asked for.
# Weeks and months by date arithmetic: 2.4× cheaper than date_trunc(…)::date, evaluated on
# every row of a customer KPI (two million orders of a large shop).
GROUPINGS = {
    None: "'total'",
    "day": "day",
    "week": "(day - (isodow(day) - 1)::int)",
    "month": "(day - (day(day) - 1)::int)",
    "channel": "channel",
    "device": "device",
    "category": "category",
    # Only for KPIs whose every source has them (kpilib.dimensions.Source.groups).
    "country": "country",
    "discount_code": "discount_code",
    "campaign": "campaign",
    # Read from the order lines (kpilib.dimensions.LINE_GROUPS): a product is its SKU.
    "product": "sku",
    # Whether the row's order is its customer's first valid order over the whole history
    # (new) or a later one (returning); a guest's has none. By the order, so that it is the
    # same in any period and the parts of two periods compare.
    "customer_type": CUSTOMER_TYPE,
}
PERIODS = ("day", "week", "month")
# {group_start} in KPI SQL: the first day of the row's group (the period, or the part of it in
# the row's day / week / month), for "before the group" conditions.
GROUP_STARTS = {
    None: "$start",
    "day": "day",
    "week": "greatest($start, (day - (isodow(day) - 1)::int))",
    "month": "greatest($start, (day - (day(day) - 1)::int))",
}


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
    # Written with sums only (sum(n), never count(*)) over orders / valid_orders /
    # valid_refunds: it then reads the daily rollups when the filters allow (rollups.py).
    rollup: bool = False
    # A first step several KPIs share (the stock page's per-SKU figures): ``sql`` reads its
    # result as ``base``, computed once per connection and filters (see :func:`_base`).
    base: str = ""
    # Its value over a period is the sum of its daily values (for a ratio: of the daily
    # numerators and denominators, value = numerator ÷ denominator), so any period is
    # answered from its daily series (:func:`from_daily`). tests/test_registry.py checks it.
    additive: bool = False
    # The stored tables without which it has no meaningful value (kpilib.caveats.needs):
    # by default, those its SQL reads but refunds and products.
    needs: tuple[str, ...] | None = None
    # "return": counted by order date with refunds, so it is not final while orders of the
    # period are inside the return window (kpilib.caveats.maturity); "month": a cohort table
    # whose cells are not final until their month is over (kpilib.caveats.cohort_final).
    window: str | None = None
    # (lowest meaningful value, why a value below it is not meaningful): a negative cart
    # abandonment means purchases the export records without a cart step.
    floor: tuple[float, str] | None = None
    # Counts customers' orders before the period (returning customers): unknown for a period
    # that starts on or before the first stored order, where no earlier order can be seen.
    history: bool = False
    # The measures it is made of (kpilib/measures.py declares most KPIs from them): it reads
    # the daily rollups, or is additive over days, only if every measure allows it, or its
    # declaration is refused here, with the reason.
    measures: tuple[dimensions.Measure, ...] = ()
    # ``sql`` as declared, its sources named ``{src:NAME}`` (kpilib/dimensions.py); ``sql``
    # itself reads them unfiltered but for the period and channels, for the code that reads
    # which views a KPI uses (cache keys, caveats).
    template: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        unknown = set(dimensions.sources(self.sql)) - SOURCES.keys()
        assert not unknown, f"{self.name}: unknown sources {sorted(unknown)}"
        object.__setattr__(self, "template", self.sql)
        object.__setattr__(self, "sql", dimensions.render(self.sql, _unsplit))
        assert self.unit in UNITS, self.unit
        assert "{key}" in self.sql or (self.table and not self.by), \
            f"{self.name}: sql must group by {{key}}"
        assert set(self.by) <= set(GROUPINGS) - {None}, self.by
        assert not (self.ratio and self.empty is not None), f"{self.name}: a ratio has no empty"
        assert not (self.table and self.ratio), f"{self.name}: a table is not a ratio"
        assert not (self.rollup and "count(" in self.sql), f"{self.name}: use sum(n)"
        assert not self.additive or (not self.table and "day" in self.by), self.name
        assert self.window in (None, "return", "month"), self.window
        for m in self.measures:
            reason = m.rollup_reason()
            if self.rollup and reason:
                raise ValueError(f"{self.name} cannot read the daily rollups: {reason}.")
            if self.additive and not m.additive:
                raise ValueError(f"{self.name} is not additive over days: {m.sql} is no sum.")


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


def _unsplit(source: dimensions.Source) -> str:
    """A source under the period and channel filters alone (what :attr:`Kpi.sql` shows)."""
    channel = f" and {source.dims['channel']}" if "channel" in source.dims else ""
    other = f" and {source.where}" if source.where else ""
    return f"{source.view} where day between $start and $end{channel}{other}"


# The dimensions the daily rollups keep: a finer grouping or a product filter needs the rows.
ROLLUP_BY = ("day", "week", "month", "channel", "device")


def uses_rollup(kpi: Kpi, filters: Filters, by=None) -> bool:
    """Whether ``kpi`` reads the daily rollups under ``filters``: declared to, grouped no finer
    than they are, and every device or country filter set kept by the rollup of each of its
    sources (a country filter reads the rows)."""
    dims = by if isinstance(by, tuple) else (by,) if by else ()
    active = {dim for f, dim in SPLITS.items() if getattr(filters, f)}
    # Grouped by device: each source's rollup must keep it too (refunds' does not).
    active |= {d for d in dims if d not in PERIODS and d != "channel"}
    return (kpi.rollup and not filters.categories and not filters.search
            and all(d in ROLLUP_BY for d in dims)
            and all(active <= SOURCES[s].rollup for s in dimensions.sources(kpi.template)))


class FilterNotApplicable(ValueError):
    """A filter asked of a KPI whose sources do not carry its dimension: refused, because the
    answer would be the unfiltered figure presented as the filtered one."""


def takes(kpi: Kpi) -> frozenset[str]:
    """The filters of :data:`SPLITS` that ``kpi`` applies: those every source it names as
    ``{src:NAME}`` carries, and those whose parameter its hand-written SQL (or its shared first
    step) reads."""
    names = dimensions.sources(kpi.template)
    declared = frozenset.intersection(*(SOURCES[n].takes for n in names)) if names \
        else frozenset()
    return declared | frozenset(f for f in SPLITS
                                if re.search(rf"\${f}\b", kpi.sql + kpi.base))


def refused(kpi: Kpi, filters: Filters) -> list[str]:
    """The dimensions ``filters`` select (device, country, category) that ``kpi`` cannot be
    split by."""
    return [SPLITS[f] for f in SPLITS if getattr(filters, f) and f not in takes(kpi)]


def check_filters(kpi: Kpi, filters: Filters) -> None:
    """Raise :class:`FilterNotApplicable` when ``filters`` select a device, country or category
    that ``kpi`` cannot be split by."""
    dims = refused(kpi, filters)
    if dims:
        raise FilterNotApplicable(f"{kpi.label} is not split by {' or '.join(dims)}.")


@dataclass(frozen=True)
class Query:
    """What :func:`run` executes: ``sql`` with ``params``, with the daily rollups first on the
    search path when ``rollup``, after the shared first step is stored as the table ``base``
    (when the KPI has one)."""
    sql: str
    params: dict
    rollup: bool = False
    base: str = ""


def query(kpi: Kpi, filters: Filters, by: str | tuple[str, str] | None = None,
          rollups: bool = True, rows: dict[str, str] | None = None,
          limit: int | None = None, inline: bool = False) -> Query:
    """The query :func:`run` executes for these arguments (see there); also what
    :func:`script` shows. ``inline``: the shared step computed within it, not stored
    (:func:`run_many`)."""
    check_filters(kpi, filters)
    dims = _dims(kpi, by)
    period = next((d for d in dims if d in PERIODS), None)
    sql = _sql(kpi, by, period, filters)
    base = _base_name(kpi.base, filters) if kpi.base and not inline else ""
    if kpi.base:
        sql = _with_base(base or f"({kpi.base})", sql)
    params = filters.params(sql)
    if rows:
        assert kpi.table and all(c.isidentifier() for c in rows), rows   # names from code
        sql = f"select * from ({sql}) where " + " and ".join(
            f'"{c}" = $row_{i}' for i, c in enumerate(rows))
        params.update({f"row_{i}": v for i, v in enumerate(rows.values())})
    if limit is not None:
        assert kpi.table, kpi.name
        sql += " limit $row_limit"
        params["row_limit"] = int(limit)
    return Query(sql, params, rollups and uses_rollup(kpi, filters, by), base)


def script(kpi: Kpi, filters: Filters, by: str | tuple[str, str] | None = None,
           rollups: bool = True) -> str:
    """The statements :func:`run` executes for ``kpi`` under ``filters``, each ending with
    ``;``, then their parameters, one ``-- $name = value`` line each, the value a DuckDB
    literal: what ``python -m kpilib sql`` prints and the app's "Show SQL" shows."""
    q = query(kpi, filters, by, rollups)
    statements, params = [], {}
    if q.base:
        # Before the search path is set: the shared step reads the rows, not the rollups.
        statements.append(f"create or replace table {q.base} as {kpi.base}")
        params.update(filters.params(kpi.base))
    if q.rollup:
        statements.append("set search_path = 'rollup,main'")
    statements.append(q.sql)
    params.update(q.params)
    return "".join(f"{s.strip()};\n" for s in statements) + "".join(
        f"-- ${k} = {literal(v)}\n" for k, v in params.items())


def literal(v) -> str:
    """``v`` (a parameter's value) as a DuckDB literal, on one line."""
    if v is None:
        return "NULL"
    if isinstance(v, date):
        return f"DATE '{v.isoformat()}'"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(literal, v)) + "]::VARCHAR[]"
    text = "'" + str(v).replace("'", "''") + "'"
    # A line break in a value would end its comment line.
    return re.sub(r"[\x00-\x1f]", lambda m: f"' || chr({ord(m[0])}) || '", text)


def run(con: duckdb.DuckDBPyConnection, kpi: Kpi, filters: Filters,
        by: str | tuple[str, str] | None = None, rollups: bool = True,
        rows: dict[str, str] | None = None, limit: int | None = None,
        inline: bool = False) -> pd.DataFrame:
    """Run ``kpi`` under ``filters``.

    Without ``by``: one row (``value``, plus ``numerator``/``denominator`` for ratios).
    With ``by``: one row per group, the group column named ``period`` (the first day of the
    day/week/month; every period of the range is present) or ``channel``/``device``. A pair such
    as ``("week", "channel")`` gives both columns.

    ``rows`` keeps only a table's rows whose columns equal the values given (the customers of
    one RFM segment), in DuckDB, so a million-row table is never built to be filtered.
    ``limit`` keeps a table's first rows (the top 15 of 20 000 products): no full sort, and no
    frame built for rows nobody reads.

    A device, country or category filter the KPI does not apply raises
    :class:`FilterNotApplicable`.
    """
    q = query(kpi, filters, by, rollups, rows, limit, inline)
    dims = _dims(kpi, by)
    if q.base:
        _base(con, kpi.base, filters)
    cur = con.cursor()  # one cursor per query: the connection is shared across threads
    if q.rollup:
        # Unqualified orders / valid_orders / valid_refunds now name the daily aggregates.
        cur.execute("set search_path = 'rollup,main'")
    try:
        _execute(con, cur, q.sql, q.params, q.base and kpi.base, filters)
        if kpi.table:
            df = cur.df()
        else:
            fetched = _fetch(cur, dims)
    finally:
        cur.close()
    if kpi.table:
        if "key" in df:
            # The group is the key, unless the table names it already (stock by category).
            df = df.drop(columns="key") if not dims or dims[0] in df \
                else df.rename(columns={"key": dims[0]})
        return df.reset_index(drop=True)
    return _shape(kpi, filters, dims, fetched)


def _with_base(name: str, sql: str) -> str:
    """``sql`` reading the shared step stored as the table ``name`` as ``base``."""
    rest = sql.lstrip()
    # The KPI's own common table expressions follow the shared step's.
    rest = ", " + rest[4:] if rest[:5].lower() == "with " else " " + rest
    return f"with base as (from {name}){rest}"


def _execute(con, cur, sql: str, params: dict, base: str | None, filters: Filters) -> None:
    try:
        cur.execute(sql, params)
    except duckdb.CatalogException:
        if not base:
            raise
        # Another session's filters pushed this shared step out between its creation and
        # this query (the connection is shared): compute it again (same name), once.
        _base(con, base, filters)
        cur.execute(sql, params)


def _dims(kpi: Kpi, by) -> tuple[str, ...]:
    dims = by if isinstance(by, tuple) else (by,) if by else ()
    for d in dims:
        if d not in kpi.by:
            raise ValueError(f"{kpi.name} cannot be split by {d!r}; choose from {kpi.by}")
    if len(dims) > 2 or (len(dims) == 2 and sum(d in PERIODS for d in dims) != 1):
        raise ValueError(f"split by one period and one other dimension, not {by!r}")
    return dims


def _sql(kpi: Kpi, by, period: str | None, filters: Filters) -> str:
    return _render(kpi.template, by, period, filters.splits)


@functools.lru_cache(maxsize=4096)
def _render(template: str, by, period: str | None, splits: frozenset[str]) -> str:
    # Code constants only, keyed by which filters are set (never their values): a page asks
    # for sixty KPIs, each rendered once.
    dims = by if isinstance(by, tuple) else (by,) if by else ()
    sql = dimensions.render(template, lambda s: clause(s, splits, dims))
    return sql.replace("{key}", _grouping(by)).replace("{group_start}", GROUP_STARTS[period])


def _fetch(cur, dims: tuple[str, ...]):
    if dims == ("day",):
        # Hundreds of days (a daily series): numpy columns, not a tuple per row.
        return cur.fetchnumpy()
    # A few rows: plain tuples are much cheaper than a DataFrame round trip, and the few
    # milliseconds matter on a page that asks for sixty KPIs.
    return [d[0] for d in cur.description], cur.fetchall()


def _shape(kpi: Kpi, filters: Filters, dims: tuple[str, ...], fetched) -> pd.DataFrame:
    """The frame :func:`run` returns, from the query's numpy columns (a daily series) or its
    column names and rows."""
    cols = ["value", "numerator", "denominator"] if kpi.ratio else ["value"]
    if dims == ("day",):
        return _days(kpi, fetched, filters, cols)
    names_out, rows = fetched
    at = [names_out.index(c) for c in cols]
    key_at = names_out.index("key")
    names = ["period" if d in PERIODS else d for d in dims]
    # A pair of dimensions comes back as one struct key {period, channel}.
    key = (lambda k: (k["period"], k[names[1]])) if len(dims) == 2 else (lambda k: k)
    found = {key(r[key_at]): [_float(r[i]) for i in at] for r in rows}
    nothing = [float("nan")] * len(cols)
    if not dims:
        values = next(iter(found.values()), nothing)
        return _frame(kpi, {}, [values], cols)
    period = next((d for d in dims if d in PERIODS), None)
    if period is None:
        keys = sorted(found, key=lambda k: (k is None, k))
        return _frame(kpi, {names[0]: keys}, [found[k] for k in keys], cols)
    periods = period_starts(filters.start, filters.end, period)
    if len(dims) == 1:
        return _frame(kpi, {"period": periods}, [found.get(p, nothing) for p in periods], cols)
    # Every period for every group that appears, so stacked charts have no holes.
    others = sorted({k[1] for k in found}, key=lambda k: (k is None, k))
    grid = [(o, p) for o in others for p in periods]
    return _frame(kpi, {"period": [p for _, p in grid], names[1]: [o for o, _ in grid]},
                  [found.get((p, o), nothing) for o, p in grid], cols)


def run_together(con: duckdb.DuckDBPyConnection, kpis: list[Kpi], filters: Filters,
                 by: str | None = None, rollups: bool = True,
                 inline: bool = False) -> list[pd.DataFrame]:
    """What ``[run(con, k, filters, by) for k in kpis]`` returns, from one query per kind of
    source (the daily sums, the rows, or a shared step): a row of cards, or a page's daily
    series, costs one query instead of one each (14 daily series: ~28 → ~14 ms; the stock
    page's seven cards over its per-SKU step, ~12 → ~8 ms a period). Single-valued KPIs
    only, no table.

    Each KPI's rows come tagged with its position and its columns in their own slots (the
    others null), so every value keeps its SQL type and converts exactly as run's would."""
    assert not isinstance(by, tuple), by
    dims = (by,) if by else ()
    period = by if by in PERIODS else None
    groups: dict[tuple[bool, str | None], list[int]] = {}
    for i, k in enumerate(kpis):
        assert not k.table, k.name
        check_filters(k, filters)
        _dims(k, by)   # each KPI can be split so
        groups.setdefault((rollups and uses_rollup(k, filters, by), k.base), []).append(i)
    out: list[pd.DataFrame | None] = [None] * len(kpis)
    for (rollup, base), members in groups.items():
        slots = [["value", "numerator", "denominator"] if kpis[i].ratio else ["value"]
                 for i in members]
        # Built from code only (each KPI's SQL, slot names from its position); every value
        # is a parameter, as in run().
        selects = []
        for j, i in enumerate(members):
            cols = [f"{c} as _{m}_{c}" if m == j else f"null as _{m}_{c}"
                    for m, names in enumerate(slots) for c in names]
            selects.append(f"select {j} as _kpi, key, {', '.join(cols)} "
                           f"from ({_sql(kpis[i], by, period, filters)})")
        sql = "\nunion all\n".join(selects)
        if base:
            sql = _with_base(f"({base})" if inline else _base(con, base, filters), sql)
        cur = con.cursor()
        if rollup:
            cur.execute("set search_path = 'rollup,main'")
        try:
            _execute(con, cur, sql, filters.params(sql), None if inline else base, filters)
            fetched = _fetch(cur, dims)
        finally:
            cur.close()
        for j, (i, names) in enumerate(zip(members, slots)):
            if dims == ("day",):
                mask = fetched["_kpi"] == j
                part = {"key": fetched["key"][mask],
                        **{c: fetched[f"_{j}_{c}"][mask] for c in names}}
            else:
                names_out, rows = fetched
                at = [names_out.index("key")] + [names_out.index(f"_{j}_{c}") for c in names]
                part = (["key", *names], [tuple(r[a] for a in at) for r in rows if r[0] == j])
            out[i] = _shape(kpis[i], filters, dims, part)
    return out


def run_periods(con: duckdb.DuckDBPyConnection, kpi: Kpi, periods: list[Filters],
                by: str) -> list[pd.DataFrame]:
    """What ``[run(con, kpi, p, by) for p in periods]`` returns, from one query over the days
    from the first period's start to the last's end, by day and ``by``, each period's days
    summed in the same query (exact decimals, as run's sums): the rows and what a grouping
    joins to them (every customer's first order, by customer type) read once instead of once
    per period. For a KPI additive over days, periods differing only in their dates."""
    assert kpi.additive and by not in PERIODS, (kpi.name, by)
    assert len({replace(p, start=periods[0].start, end=periods[0].end) for p in periods}) == 1
    span = replace(periods[0], start=min(p.start for p in periods),
                   end=max(p.end for p in periods))
    q = query(kpi, span, ("day", by))
    cols = ["numerator", "denominator"] if kpi.ratio else ["value"]
    # Built from code only (column and parameter names from positions); the days are
    # parameters.
    parts = []
    for i in range(len(periods)):
        within = f"key.period between $part{i}_first and $part{i}_last"
        parts += [f"count(*) filter (where {within}) as _{i}_n"]
        parts += [f"sum({c}) filter (where {within}) as _{i}_{c}" for c in cols]
    sql = f"select key.{by} as key, {', '.join(parts)} from ({q.sql}) group by all"
    params = {**q.params, **{f"part{i}_{e}": d for i, p in enumerate(periods)
                             for e, d in (("first", p.start), ("last", p.end))}}
    if kpi.base:
        _base(con, kpi.base, span)
    cur = con.cursor()
    if q.rollup:
        cur.execute("set search_path = 'rollup,main'")
    try:
        _execute(con, cur, sql, params, kpi.base, span)
        rows = cur.fetchall()
    finally:
        cur.close()
    out, width = [], 1 + len(cols)
    for i, p in enumerate(periods):
        mine = [(r[0], *r[1 + i * width + 1:1 + (i + 1) * width]) for r in rows
                if r[1 + i * width]]
        if kpi.ratio:   # the value of a ratio of sums: its parts' quotient, as from_daily's
            mine = [(key, None if not den else _float(num) / _float(den), num, den)
                    for key, num, den in mine]
        names = ["key", "value", "numerator", "denominator"] if kpi.ratio else ["key", "value"]
        out.append(_shape(kpi, p, (by,), (names, mine)))
    return out


@dataclass(frozen=True)
class Read:
    """One query of a page: ``run`` of one KPI (a table, with its ``limit``), or
    ``run_together`` of several."""
    kpis: tuple[Kpi, ...]
    filters: Filters
    by: str | None = None
    limit: int | None = None


def run_many(con: duckdb.DuckDBPyConnection, reads: list[Read], rollups: bool = True
             ) -> list[list[pd.DataFrame]]:
    """Each read's frames (a list of one for a single KPI), the queries run side by side, one
    per core: a page's dozen small queries (a few ms each, most on one thread) then take
    ~0.6 of their time one after another. Each query takes its own cursor, as in run().

    A shared step (:attr:`Kpi.base`) that one read alone uses under its filters, and that
    this connection has not stored, is computed within that read's query instead of stored
    first: the stock page's period before, read by its row of cards only, then costs no
    table written and only the columns the cards read (~15 of ~75 ms of CPU at 20 k SKUs)."""
    def steps(r: Read) -> set:
        return {(k.base, r.filters) for k in r.kpis if k.base}

    uses = Counter(s for r in reads for s in steps(r))
    stored = _COMPUTED.get(con, {}) if not hasattr(con, "materialize") else None

    inline = [stored is not None and bool(steps(r)) and not any(k.rollup for k in r.kpis)
              and all(uses[s] == 1 and _base_name(*s) not in stored for s in steps(r))
              for r in reads]

    def one(i: int) -> list[pd.DataFrame]:
        r = reads[i]
        if len(r.kpis) == 1:
            return [run(con, r.kpis[0], r.filters, r.by, rollups=rollups, limit=r.limit,
                        inline=inline[i])]
        assert r.limit is None, r
        return run_together(con, list(r.kpis), r.filters, r.by, rollups=rollups,
                            inline=inline[i])

    workers = min(len(reads), os.cpu_count() or 1)
    if workers <= 1:
        return [one(i) for i in range(len(reads))]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(reads))))


def from_daily(kpi: Kpi, days: pd.DataFrame, filters: Filters,
               by: str | None = None) -> pd.DataFrame:
    """What ``run(con, kpi, filters, by)`` returns (``by``: None or a period), computed from
    ``days``, the KPI's frame by day over a span holding the period, under the same filters
    but the dates: an additive KPI's periods, comparisons and sparklines then cost no query.
    Days outside the span have no rows, as in the store. (numpy, not pandas: a page derives
    dozens of periods.)"""
    assert kpi.additive and by in (None, *PERIODS), (kpi.name, by)
    check_filters(kpi, filters)
    cols = ["value", "numerator", "denominator"] if kpi.ratio else ["value"]
    # run(..., "day") gives every day of its range, in order.
    first = np.datetime64(days["period"].iat[0], "D") if len(days) else np.datetime64(0, "D")
    day = first + np.arange(len(days)).astype("timedelta64[D]")
    assert not len(days) or day[-1] == np.datetime64(days["period"].iat[-1], "D"), "not daily"
    keep = (day >= np.datetime64(filters.start)) & (day <= np.datetime64(filters.end))
    day = day[keep]
    if by is None:
        keys = np.zeros(len(day), dtype="datetime64[D]")
    elif by == "day":
        keys = day
    elif by == "week":   # back to Monday (1 January 1970 was a Thursday)
        keys = day - ((day.astype("int64") + 3) % 7).astype("timedelta64[D]")
    else:
        keys = day.astype("datetime64[M]").astype("datetime64[D]")
    groups, at = np.unique(keys, return_inverse=True)
    sums = {}
    for c in (["numerator", "denominator"] if kpi.ratio else ["value"]):
        x = days[c].to_numpy(dtype="float64")[keep]
        total = np.bincount(at, weights=np.nan_to_num(x), minlength=len(groups))
        # A group whose days are all empty stays empty (users without a users column).
        seen = np.bincount(at, weights=~np.isnan(x), minlength=len(groups))
        sums[c] = np.where(seen > 0, total, np.nan)
    if kpi.ratio:
        num, den = sums["numerator"], sums["denominator"]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(den != 0, num / den, np.nan)
        rows = np.column_stack([value, num, den])
    elif kpi.unit == "money":
        # Whole cents summed as floats, back to the nearest float to the exact total (what
        # the SQL's exact decimal sum gives).
        rows = np.round(sums["value"], 2)[:, None]
    else:
        rows = sums["value"][:, None]
    found = dict(zip(groups.astype(object), rows.tolist()))
    nothing = [float("nan")] * len(cols)
    if by is None:
        return _frame(kpi, {}, [next(iter(found.values()), nothing)], cols)
    periods = period_starts(filters.start, filters.end, by)
    return _frame(kpi, {"period": periods}, [found.get(p, nothing) for p in periods], cols)


# The shared first steps computed on each connection, oldest first (a connection holds one
# store version, so a table stays right as long as the connection lives). Kept in Python, not
# in a table of the database: looking a name up there cost a query (0.7 ms) per KPI, ~20 on
# the stock page.
KEEP_BASES = 8
_BASES = threading.Lock()
# connection → {table name: set once the table is there}
_COMPUTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _base_name(sql: str, filters: Filters, params: dict | None = None) -> str:
    """The table name of the shared step ``sql`` under ``filters`` (whose ``params`` for it,
    when already made): the same step, the same name, on every connection."""
    params = filters.params(sql) if params is None else params
    key = hashlib.sha256((sql + repr(sorted(params.items()))).encode())
    return f"_base_{key.hexdigest()[:20]}"   # hex digits only: safe as an identifier


def _base(con: duckdb.DuckDBPyConnection, sql: str, filters: Filters) -> str:
    """The name of a table holding ``sql`` run under ``filters`` on this connection's
    database: created on first use, reused by every KPI sharing that step, the oldest dropped
    beyond :data:`KEEP_BASES`. A page's nine stock KPIs then cost one per-SKU pass, not nine.
    Two threads may compute two of them at once (:func:`prepare`); one asking for a table
    another is computing waits for it."""
    params = filters.params(sql)
    name = _base_name(sql, filters, params)
    if hasattr(con, "materialize"):   # another engine keeps its own (kpilib.spark)
        return con.materialize(name, sql, params)
    with _BASES:
        names = _COMPUTED.setdefault(con, {})
        ready = names.get(name)
        mine = ready is None
        if mine:
            names[name] = ready = threading.Event()
    if not mine:
        ready.wait()
        return name
    cur = con.cursor()
    try:
        # name: "_base_" and hex digits; sql: a KPI's code constant; every value a parameter.
        cur.execute(f"create or replace table {name} as {sql}", params)
    except BaseException:
        with _BASES:
            names.pop(name, None)
        raise
    finally:
        ready.set()
        cur.close()
    with _BASES:
        stale = [n for n, e in names.items() if e.is_set()][:-KEEP_BASES]
        for n in stale:
            del names[n]
    if stale:
        cur = con.cursor()
        try:
            for n in stale:
                # A query reading it now fails and computes it again (run()).
                cur.execute(f"drop table if exists {n}")
        finally:
            cur.close()
    return name


def prepare(con: duckdb.DuckDBPyConnection, kpi: Kpi, filters: list[Filters]) -> None:
    """Compute ``kpi``'s shared first step under each of ``filters`` at once, a thread each:
    a card's period and the one it is compared with are two per-SKU passes on the stock page,
    and two cores do both in ~0.7 of the time. Nothing to do for a KPI without one."""
    if not kpi.base:
        return
    for f in filters:
        check_filters(kpi, f)
    todo = list(dict.fromkeys(filters))
    if len(todo) == 1:
        _base(con, kpi.base, todo[0])
        return
    with ThreadPoolExecutor(len(todo)) as pool:
        list(pool.map(lambda f: _base(con, kpi.base, f), todo))


def clear_bases(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every shared step computed on this connection (the benchmark times them)."""
    if hasattr(con, "clear_bases"):
        return con.clear_bases()
    with _BASES:
        cur = con.cursor()
        try:
            for name in _COMPUTED.pop(con, {}):
                cur.execute(f"drop table if exists {name}")
        finally:
            cur.close()


def _days(kpi: Kpi, arrays: dict, filters: Filters, cols: list[str]) -> pd.DataFrame:
    """The frame of a KPI by day, every day of the range, from the query's numpy columns."""
    first = np.datetime64(filters.start, "D")
    days = first + np.arange(filters.days).astype("timedelta64[D]")
    grid = np.full((filters.days, len(cols)), np.nan)
    at = (arrays["key"].astype("datetime64[D]") - first).astype("int64")
    for i, c in enumerate(cols):
        x = arrays[c]
        # Empty values come as masked arrays, or as objects (None) beside numbers.
        x = np.ma.filled(x.astype("float64"), np.nan) if np.ma.isMaskedArray(x) else \
            np.array([np.nan if v is None else v for v in x], dtype="float64") \
            if x.dtype == object else x.astype("float64")
        grid[at, i] = x
    return _frame(kpi, {"period": days.astype(object)}, grid, cols)


def _float(v) -> float:
    return float("nan") if v is None else float(v)


def _frame(kpi: Kpi, keys: dict, values: list[list[float]], cols: list[str]) -> pd.DataFrame:
    """The result frame, with groups that had no rows filled in: sums and counts are 0, ratios
    have no value (0 of 0). Filled in numpy before the one DataFrame is built: a page asks for
    sixty KPIs, and pandas column assignments cost more than the queries."""
    data = dict(keys)
    grid = np.asarray(values, dtype="float64").reshape(len(values), len(cols))
    for i, c in enumerate(cols):
        col = grid[:, i]
        if c == "value" and kpi.empty is not None:
            col = np.where(np.isnan(col), kpi.empty, col)
        elif c != "value":
            col = np.nan_to_num(col, nan=0.0)
        data[c] = col
    return pd.DataFrame(data)
