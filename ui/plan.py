"""The query plan: a page declares at its top what it shows (:class:`Cards`, :class:`Frame`)
and :func:`read` reads all of it at once — each KPI frame once, side by side in one batch,
a period of an additive KPI derived from its daily series — cached by (store, data version of
the tables read, KPI, filters, grouping). Cards, tables and charts drawn after it find their
frames read; a frame no plan declared is read on its own, so a plan is only ever a speed-up.
"""

from __future__ import annotations

import functools
import math
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date

import pandas as pd
import streamlit as st

import kpilib
from kpilib import alerts, forecast, targets
from kpilib.kpi import PERIODS, period_starts, refused
from kpilib.periods import calendar
from kpilib.store import tables_read
from ui.session import _connection, _span, active_store, facts, missing, reason
from ui.filters import current_filters


@dataclass(frozen=True)
class Cards:
    """A row of KPI cards (components.metrics): each KPI over the period and the one before,
    over last year's if asked, and by ``spark_by`` for its sparkline."""
    names: tuple[str, ...]
    filters: kpilib.Filters | None = None   # None: the sidebar's
    spark_by: str | None = None
    last_year: bool = False


@dataclass(frozen=True)
class Frame:
    """A chart's or a table's frame: what ``kpi(name, filters, by, limit)`` returns."""
    name: str
    filters: kpilib.Filters | None = None   # None: the sidebar's
    by: str | tuple[str, str] | None = None
    limit: int | None = None


def read(*items: Cards | Frame) -> None:
    """Read what a page shows, all at once: the shared steps its cards read from, then every
    frame side by side (kpilib.run_many), each once however often it is declared. A card
    the store cannot give (a missing export, kpilib.caveats.reason) reads nothing: it says
    why instead. A frame is read as declared: declare only what the page draws."""
    asks = []
    for item in items:
        f = item.filters or current_filters()
        if isinstance(item, Cards):
            # Their shared steps (the stock page's per-SKU step of the period and of the one
            # compared with) are computed by the batch's first reads, side by side, not
            # before the batch: a thread done with the shorter one goes on to other frames.
            asks += _card_asks(_shown(item.names, f), f, item.spark_by, item.last_year)
        else:
            asks.append((item.name, f, item.by, item.limit))
    _read_ahead(asks)


def chosen(key: str, default, options=None):
    """The value widget ``key`` will have when it is drawn further down the page (its state
    from the last run, else ``default``), so that the page's plan can be declared at its top.
    Only ever a guess for speed: a frame declared for another value is read when drawn."""
    got = st.session_state.get(key)
    return default if got is None or (options is not None and got not in options) else got


def _shown(names, f: kpilib.Filters) -> list[str]:
    # A card the store's exports cannot give, or whose figure would mean nothing, reads
    # nothing (components._card).
    return [n for n in names if not missing(n) and not reason(n, f)]


def _card_asks(names, f: kpilib.Filters, spark_by: str | None, last_year: bool) -> list:
    """What a row of cards of ``names`` (each with a value) reads: the period, the one before,
    last year's and the sparkline's grouping."""
    periods = (f, f.previous_period(), *([f.last_year()] if last_year else []))
    asks = [(n, g, None, None) for g in periods for n in _single(names, None)]
    if spark_by:
        asks += [(n, f, spark_by, None) for n in _single(names, spark_by)]
    return asks


# The lists recording() hands out, each receiving every Step the planner takes meanwhile.
_LISTENERS: list[list] = []
# Bumped by clear(): a session's frames read before it are not used after.
_EPOCH = [0]


@dataclass(frozen=True)
class Step:
    """One read of the planner, as recording() reports it. ``kind``: "many" (``reads`` side
    by side, kpilib.run_many), "run" (one read, kpilib.run), "prepare" (the shared step of
    ``reads[0]``'s KPI under each of ``filters``, kpilib.prepare), "derive" (``reads[0]``
    computed from the daily series read under ``filters[0]``, kpilib.from_daily). (The
    month's pacing runs its KPIs in kpilib.targets, past the plan.)"""
    kind: str
    reads: tuple[kpilib.Read, ...] = ()
    filters: tuple[kpilib.Filters, ...] = ()


@contextmanager
def recording():
    """Every read the planner makes inside the block (of any session), as a list of
    :class:`Step`: what a page's first draw reads, for the benchmark (bench/bench.py) and
    the query budgets (tests/test_plan.py). A read answered from a cache is no step:
    :func:`clear` first."""
    steps: list[Step] = []
    _LISTENERS.append(steps)
    try:
        yield steps
    finally:
        _LISTENERS.remove(steps)


def _note(step: Step) -> None:
    for steps in _LISTENERS:
        steps.append(step)


def clear() -> None:
    """Forget every KPI frame read so far, in every session (st.cache_data and each
    session's frames read ahead): the next draw reads afresh."""
    st.cache_data.clear()
    _pace.cache_clear()
    _EPOCH[0] += 1


def _fetched() -> dict:
    """This session's frames read ahead, by (store, data version, KPI, filters, grouping,
    limit), kept until a batch would overflow them."""
    epoch, got = st.session_state.get(_FETCHED, (None, None))
    if epoch != _EPOCH[0]:
        got = {}
        st.session_state[_FETCHED] = (_EPOCH[0], got)
    return got


@st.cache_data(max_entries=2000, show_spinner=False)
def _kpi(path: str, data_version: str, name: str, filters: kpilib.Filters, by: str | None,
         limit: int | None, _version: str):
    # Keyed by the version of the tables this KPI reads (_version, the whole store's, is not
    # part of the key): an upload of stock snapshots leaves every cached sales figure valid.
    _note(Step("run", (kpilib.Read((kpilib.get(name),), filters, by, limit),)))
    return kpilib.run(_connection(path, _version), kpilib.get(name), filters, by, limit=limit)


def _keys(name: str, store: kpilib.Store | None = None) -> tuple[str, str, str]:
    """The active store's path, the version of the tables KPI ``name`` reads, the store's."""
    store = store or active_store()[0]
    path, version = str(store.path), store.fingerprint
    k = kpilib.get(name)
    return path, _data_version(path, version, tables_read(k.sql + k.base)), version


def _query(name: str, f: kpilib.Filters, by, path: str, version: str
           ) -> tuple[kpilib.Filters, object, bool]:
    """The filters and grouping KPI ``name`` is read with to answer (f, by), and whether the
    answer is derived from it: an additive KPI's periods (the cards, their comparisons,
    sparklines and trends) come from its daily series over the store's whole calendar, read
    once per filter but the dates — changing the dates costs no query."""
    if kpilib.get(name).additive and by in (None, *PERIODS):
        span = _calendar(path, version)
        if span:
            return replace(f, start=span[0], end=span[1]), "day", True
    return f, by, False


def kpi(name: str, filters: kpilib.Filters | None = None, by: str | None = None,
        limit: int | None = None) -> pd.DataFrame:
    """A KPI as a small frame, cached by (store, version of the tables it reads, KPI, filters,
    grouping). ``limit``: a table's first rows only."""
    path, deps, version = _keys(name)
    f = filters or current_filters()
    if refused(kpilib.get(name), f):
        return _not_split(name, f, by, limit)
    qf, qby, derived = _query(name, f, by, path, version)
    got = _fetched().get((path, deps, name, qf, qby, limit))
    if got is None:
        got = _kpi(path, deps, name, qf, qby, limit, version)
    if derived:
        _note(Step("derive", (kpilib.Read((kpilib.get(name),), f, by),), (qf,)))
        return kpilib.from_daily(kpilib.get(name), got, f, by)
    return got.copy()


# The session state's key of the frames read ahead (_fetched).
_FETCHED = "_prefetched"


@st.cache_data(max_entries=500, show_spinner=False)
def _many(path: str, reads: tuple, _version: str) -> list[list[pd.DataFrame]]:
    # Each read: its KPIs' data versions (the key, like _kpi's), names, filters, grouping and
    # limit.
    reads = [kpilib.Read(tuple(map(kpilib.get, names)), f, by, limit)
             for _, names, f, by, limit in reads]
    _note(Step("many", tuple(reads)))
    return kpilib.run_many(_connection(path, _version), reads)


def _read_ahead(asks) -> None:
    """Read (name, filters, by, limit) as kpi() would, the single-valued KPIs of one filters
    and grouping in one query (kpilib.run_together), each table in its own, all of them side
    by side (kpilib.run_many); kpi() then finds them read."""
    store = active_store()[0]
    fetched = _fetched()
    groups: dict[tuple, list[tuple[str, tuple]]] = {}
    for name, f, by, limit in asks:
        k = kpilib.get(name)
        if refused(k, f):   # no query: kpi() gives it no value (the card says why)
            continue
        path, deps, version = _keys(name, store)
        qf, qby, _ = _query(name, f, by, path, version)
        key = (path, deps, name, qf, qby, limit)
        if key not in fetched:
            # A table, or a KPI split two ways, is a query of its own (kpilib.run).
            alone = k.table or isinstance(qby, tuple)
            group = groups.setdefault((qf, qby, limit, name if alone else None), [])
            if (name, key) not in group:
                group.append((name, key))
    if not groups:
        return
    if len(fetched) + sum(map(len, groups.values())) > 200:
        fetched.clear()
    items = _first_steps_first(list(groups.items()))
    frames = _many(str(store.path), tuple(
        (tuple(key[1] for _, key in got), tuple(n for n, _ in got), qf, qby, limit)
        for (qf, qby, limit, _), got in items), store.fingerprint)
    for (_, got), read in zip(items, frames):
        fetched.update({key: frame for (_, key), frame in zip(got, read)})


def _first_steps_first(items: list) -> list:
    """The batch's reads in the order the pool takes them: first one read of each shared step
    (kpilib.Kpi.base) under each filters, which computes it; then the reads that need none;
    then the other reads of a shared step, which wait for it if it is not yet computed."""
    seen = set()

    def rank(item) -> int:
        (qf, _, _, _), got = item
        steps = {(kpilib.get(name).base, qf) for name, _ in got} - {("", qf)}
        if not steps:
            return 1
        first = bool(steps - seen)
        seen.update(steps)
        return 0 if first else 2
    return [item for _, item in sorted(((rank(i), n), i) for n, i in enumerate(items))]


def _not_split(name: str, f: kpilib.Filters, by, limit) -> pd.DataFrame:
    """What KPI ``name`` shows under filters it cannot take (a country for sessions): no
    value, never the unfiltered figure — a table of no rows, every period empty."""
    k = kpilib.get(name)
    if k.table:   # its columns, from a query of no rows over the filters it takes
        return kpi(name, replace(f, devices=(), countries=(), categories=()), by, limit=0)
    cols = ["value", "numerator", "denominator"] if k.ratio else ["value"]
    dims = by if isinstance(by, tuple) else (by,) if by else ()
    if not dims:
        return pd.DataFrame({c: [math.nan] for c in cols})
    if dims == (by,) and by in PERIODS:
        periods = period_starts(f.start, f.end, by)
        return pd.DataFrame({"period": periods, **{c: math.nan for c in cols}})
    names = ["period" if d in PERIODS else d for d in dims]
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in cols else object)
                         for c in names + cols})


def _single(names, by) -> list[str]:
    # The single-valued KPIs that can be split so (a table is a frame of its own).
    return [n for n in dict.fromkeys(names) if not kpilib.get(n).table
            and (by is None or by in kpilib.get(n).by)]


def _compare_shared(base: str, f: kpilib.Filters) -> None:
    """Compute the shared step ``base`` for the period and for the one compared with, side
    by side: once per filters, under the name of the first KPI declaring it (one cache entry
    for all the cards reading it). Nothing when the page's plan read a card over it for both
    periods already: its batch computed what it needed (kpilib.run_many stores no step that
    one query alone reads)."""
    names = [n for n, k in kpilib.KPIS.items() if k.base == base]
    got = _fetched()
    for name in names:
        path, deps, _ = _keys(name)
        if all((path, deps, name, g, None, None) in got for g in (f, f.previous_period())):
            return
    path, deps, version = _keys(names[0])
    _compared(path, deps, names[0], f, version)


@st.cache_data(max_entries=200, show_spinner=False)
def _compared(path: str, data_version: str, name: str, filters: kpilib.Filters, _version: str):
    # Once per key, like the figures it prepares: their cache hits then cost no query.
    _note(Step("prepare", (kpilib.Read((kpilib.get(name),), filters),),
               (filters, filters.previous_period())))
    kpilib.prepare(_connection(path, _version), kpilib.get(name),
                   [filters, filters.previous_period()])


@functools.lru_cache(maxsize=64)
def _calendar(path: str, version: str):
    # Asked for every additive KPI shown (~100 times a page): a plain memo, as _data_version.
    return calendar(_connection(path, version))


@functools.lru_cache(maxsize=1024)
def _data_version(path: str, version: str, tables: frozenset[str]) -> str:
    # The manifest is read once per store version, not once per KPI on every rerun (a plain
    # memo: st.cache_data's own lookup costs ~0.3 ms, asked ~100 times a page).
    return kpilib.Store(path).data_version(tables)


def value(name: str, filters: kpilib.Filters | None = None) -> float | None:
    v = kpi(name, filters)["value"].iat[0]
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


@st.cache_data(show_spinner=False)
def _first_days(path: str, version: str):
    return alerts.first_days(_connection(path, version))


def alerts_judged_from() -> date | None:
    """The first day the Overview's unusual days can be found on (kpilib.alerts.judged_from)."""
    store = active_store()[0]
    return alerts.judged_from(_first_days(str(store.path), store.fingerprint))


def unusual_days(filters: kpilib.Filters | None = None) -> pd.DataFrame:
    """The days of the period whose watched KPIs left their usual range
    (kpilib.alerts.unusual_days), computed once per store version and filters for every
    session."""
    store = active_store()[0]
    return _unusual(str(store.path), store.fingerprint, filters or current_filters())


@st.cache_data(max_entries=200, show_spinner=False)
def _unusual(path: str, version: str, f: kpilib.Filters) -> pd.DataFrame:
    history = replace(f, start=alerts.history_start(f.start))
    return alerts.unusual_days({n: kpi(n, history, "day") for n in alerts.WATCHED},
                               _first_days(path, version), f.start, f.end, f.channels)


@functools.lru_cache(maxsize=2048)
def _pace(path: str, version: str, filters: kpilib.Filters, name: str) -> targets.Pace | None:
    # One KPI's, so that a page pays for the paces it shows: the Stock page's one card with a
    # target paced all fourteen (19 of its 26 queries). A plain memo, as _calendar (asked by
    # every card), emptied by clear().
    return targets.pace(_connection(path, version), name,
                        targets.from_settings(kpilib.Store(path).settings), filters,
                        _span(path, version)[1])


def pacing(filters: kpilib.Filters | None = None,
           names: tuple[str, ...] | None = None) -> dict[str, targets.Pace]:
    """Month-to-date pacing of every KPI with a target for the month the filters end in (of
    ``names`` only, when given). Where the month-end forecast is shown (month_forecast), a sum
    is on pace for that forecast: one month-end figure on a card and in the alerts, not two."""
    store, _ = active_store()
    f = filters or current_filters()
    path, version = str(store.path), store.fingerprint
    paces = {n: p for n in targets.KINDS if names is None or n in names
             if (p := _pace(path, version, f, n))}
    for name, p in paces.items():
        fc = month_forecast(name, f)
        if fc is not None and fc.value is not None:
            paces[name] = replace(p, forecast=fc.value)
    return paces


def month_forecast(name: str, filters: kpilib.Filters | None = None) -> forecast.Forecast | None:
    """The month-end forecast of a summed KPI when the period is the month to date of a month
    the data has not finished; None otherwise (kpilib.forecast.month_to_date), or when the
    store or the filters give the KPI no figure."""
    f = filters or current_filters()
    if name not in forecast.KPIS or not forecast.month_to_date(f, facts().as_of) \
            or reason(name, f) or refused(kpilib.get(name), f) \
            or forecast.cut_short(facts(), name, f.start, f.end):
        return None
    store, _ = active_store()
    return _month_forecast(str(store.path), store.fingerprint, name, f)


@st.cache_data(max_entries=500, show_spinner=False)
def _month_forecast(path: str, version: str, name: str, f: kpilib.Filters) -> forecast.Forecast:
    # The KPI's daily series over the store's calendar: the one the cards' figures come from
    # (_query), so it is read once for both.
    span = _calendar(path, version)
    daily = forecast.series_of(kpi(name, replace(f, start=span[0]), "day"))
    return forecast.project(daily, name, f.start, f.end)


def step_counts(filters: kpilib.Filters | None = None, by: str | None = None):
    """Sessions at each funnel step: a dict (step KPI → count), or a frame indexed by ``by``."""
    from kpilib.funnel import STEPS

    if by is None:
        return {name: value(name, filters) or 0.0 for name, _ in STEPS}
    return pd.concat([kpi(name, filters, by).set_index(by)["value"].rename(name)
                      for name, _ in STEPS], axis=1).fillna(0.0)
