"""Benchmark: every page's KPI set on a large shop, DuckDB + rollups against its peers.

    python bench/bench.py                 # the large shop of issue #10 (~10 min the first time)
    python bench/bench.py --scale 0.05    # a small shop, about a minute
    python bench/bench.py --browser       # also: app start, filter click → redraw, app memory
    python bench/bench.py --only first-start --repeat 5   # a fresh clone's first start

The peers (bench/peers.py and bench_peers): pandas and polars over the same daily rollups,
raw DuckDB over the Parquet files without rollups, and the floor (one column summed over the
largest table). The store is built once with the demo generator into bench/.stores/ and
reused. Not a test: it prints medians, min–max, ratios and the machine's load beside them;
bench/README.md quotes them.
"""
from __future__ import annotations

import argparse
import inspect
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from kpilib import (Filters, Read, Store, demo, from_daily, get, prepare, run,  # noqa: E402
                    run_many, run_together)
from kpilib.ingest import ingest  # noqa: E402
from kpilib.kpi import clear_bases  # noqa: E402

import peers  # noqa: E402  (bench/peers.py, beside this file)

END = date(2026, 10, 31)
# scale 1.0: ~2 M orders, ~5 M order lines, 20 000 SKUs × 730 daily snapshots, 24 months.
ORDERS_SCALE, SKUS = 23.0, 20_000


def build(scale: float, rebuild: bool) -> Store:
    path = ROOT / "bench" / ".stores" / f"scale-{scale:g}"
    if path.exists() and not rebuild and (path / "manifest.json").exists():
        store, t = Store(path), time.perf_counter()
        if store.refresh_rollups():   # a store from before the newest rollups
            print(f"missing rollups built in {time.perf_counter() - t:.0f} s", flush=True)
        return store
    shutil.rmtree(path, ignore_errors=True)
    t = time.perf_counter()
    shop = demo.generate(months=24, scale=ORDERS_SCALE * scale, seed=7, end=END,
                         skus=max(150, int(SKUS * scale)), lines=1.5)
    print(f"generated in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    demo.write(Store(path), shop)
    print(f"written (with rollups) in {time.perf_counter() - t:.0f} s", flush=True)
    return Store(path)


# --- each page's KPI set, as the page asks for it ----------------------------------------
PAGE_NAMES = ("overview", "traffic", "funnel", "marketing", "sales", "returns", "loyalty",
              "stock")
# What a manager looks at: the last 30 days (the app's default when the data stops mid-month;
# this shop's ends on 31 October, a month's last day, so the app opens on October: one day
# more, the same daily series: bench/README), the whole history (the 24 months the large shop
# holds) and one channel over one quarter.
def months_back(end: date, months: int) -> date:
    """The first day of the ``months`` calendar months that end with ``end``'s month."""
    m = end.year * 12 + end.month - months   # months since year 0, of the first month
    return date(m // 12, m % 12 + 1, 1)


VIEWS = {"last 30 days": Filters(END - timedelta(days=29), END),
         "whole history": Filters(months_back(END, 24), END),
         "one channel, one quarter": Filters(date(2026, 7, 1), date(2026, 9, 30), ("email",))}


@dataclass(frozen=True)
class Call:
    kpi: str
    filters: Filters
    by: object = None
    limit: int | None = None
    # A period answered from a daily series the page already read (kpilib.from_daily): the
    # filters that series was read with.
    series: Filters | None = None
    # kpilib.prepare: the shared step computed under these filters at once.
    prepare: tuple[Filters, ...] = ()
    # kpilib.run_together: these KPIs read in one query (kpi is then empty).
    together: tuple[str, ...] = ()
    # kpilib.run_many: these calls (each a run or a run_together) side by side.
    many: tuple["Call", ...] = ()


def each_kpi(calls: list[Call]) -> list[Call]:
    """The calls with those reading several KPIs together split into one per KPI."""
    calls = [m for c in calls for m in (c.many or [c])]
    return [replace(c, kpi=n, together=()) for c in calls for n in (c.together or [c.kpi])]


def record(store: Store, views: dict[str, Filters], pages: tuple[str, ...] = PAGE_NAMES
           ) -> dict[tuple[str, str], list[Call]]:
    """Every KPI each page asks for under each view: the app itself, run in AppTest with the
    view's filters set in the sidebar, each read of its query plan recorded (ui.plan.recording:
    the queries, the shared steps and the periods derived from a daily series; its caches
    emptied before each page by ui.plan.clear, so a page's set is all it needs). The benchmark
    then times exactly these calls: its page sets cannot drift from the pages."""
    from streamlit.testing.v1 import AppTest

    from kpilib import targets
    from ui import plan

    os.environ["KPILIB_STORE"] = str(store.path)
    real_goals, real_run = targets.from_settings, targets.run
    # The benchmark's shops have no targets: a target on every KPI that takes one, so the
    # pages' pacing queries are part of what is timed, as in a shop that set them.
    targets.from_settings = lambda settings: bench_targets(views)
    out = {}
    try:
        for vname, f in views.items():
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.run()
            at.sidebar.selectbox(key="period").set_value("Custom").run()
            at.sidebar.date_input(key="dates").set_value((f.start, f.end)).run()
            at.sidebar.multiselect(key="channels").set_value(list(f.channels)).run()
            for page in pages:
                plan.clear()
                with plan.recording() as steps:
                    # The pacing under every card row runs its KPIs in kpilib.targets, past
                    # the plan: each of them recorded as a read of its own.
                    def paced(con, kpi, filters, by=None, **kw):
                        steps.append(plan.Step("run", (Read((kpi,), filters, by),)))
                        return real_run(con, kpi, filters, by, **kw)
                    targets.run = paced
                    at.switch_page(str(ROOT / "app_pages" / f"{page}.py")).run()
                assert not at.exception, [e.value for e in at.exception]
                assert at.session_state["filters"] == f, at.session_state["filters"]
                out[(page, vname)] = [call for s in steps if (call := as_call(s))]
    finally:
        targets.from_settings, targets.run = real_goals, real_run
    return out


def as_call(step) -> Call | None:
    """A step of a page's query plan (ui.plan.Step) as the call the benchmark times."""
    def one(r: Read) -> Call:
        if len(r.kpis) == 1:
            return Call(r.kpis[0].name, r.filters, r.by, r.limit)
        return Call("", r.filters, r.by, together=tuple(k.name for k in r.kpis))
    r = step.reads[0] if step.reads else None
    if step.kind == "many":
        return Call("", r.filters, many=tuple(map(one, step.reads)))
    if step.kind == "run":
        return one(r)
    if step.kind == "prepare":
        return Call(r.kpis[0].name, step.filters[0], prepare=step.filters)
    if step.kind == "derive":
        return Call(r.kpis[0].name, r.filters, r.by, series=step.filters[0])
    return None


def bench_targets(views: dict[str, Filters]) -> list:
    """A target for every KPI that takes one, in the month each view ends in, for the whole
    shop and for each channel a view picks (a level paces one channel's target)."""
    from kpilib.targets import KINDS, Target

    months = {f"{f.end:%Y-%m}" for f in views.values()}
    channels = {None} | {c for f in views.values() for c in f.channels}
    return [Target(k, m, 1.0, c) for k in KINDS for m in sorted(months)
            for c in sorted(channels, key=str)]


def page_set(con, calls: list[Call], rollups: bool = True) -> float:
    """Run a page's calls as the page does: queries, and periods from the daily series."""
    clear_bases(con)   # the per-SKU step shared by the stock KPIs is timed too
    t = time.perf_counter()
    series = {}

    def keep(c: Call, frames) -> None:   # the daily series the periods are derived from
        if c.by == "day":
            series.update({(n, c.filters): d for n, d in zip(c.together or [c.kpi], frames)})

    for c in calls:
        if c.prepare:
            prepare(con, get(c.kpi), list(c.prepare))
        elif c.many:
            reads = [Read(tuple(map(get, m.together or [m.kpi])), m.filters, m.by, m.limit)
                     for m in c.many]
            for m, frames in zip(c.many, run_many(con, reads, rollups=rollups)):
                keep(m, frames)
        elif c.together:
            keep(c, run_together(con, [get(n) for n in c.together], c.filters, c.by,
                                 rollups=rollups))
        elif c.series is not None:
            from_daily(get(c.kpi), series[(c.kpi, c.series)], c.filters, c.by)
        else:
            keep(c, [run(con, get(c.kpi), c.filters, c.by, rollups=rollups, limit=c.limit)])
    return time.perf_counter() - t


def fmt(xs: list[float]) -> str:
    ms = [x * 1000 for x in xs]
    return f"{statistics.median(ms):7.1f} ms  ({min(ms):.1f}–{max(ms):.1f})"


def bench_pages(store: Store, sets: dict, repeat: int) -> None:
    print("\n== Each page's full KPI set (DuckDB + rollups) ==")
    print(f"{'page':10s} {'view':26s} {'KPIs':>4s} {'cold':>8s}   "
          "warm, filters changed: median (min–max)")
    names = list(VIEWS)
    for page in PAGE_NAMES:
        for i, vname in enumerate(names):
            other = sets[(page, names[(i + 1) % len(names)])]
            con = store.connect()
            cold = page_set(con, sets[(page, vname)])
            warm = []
            for _ in range(repeat):
                # Another view in between: no result of this one is reused.
                page_set(con, other)
                warm.append(page_set(con, sets[(page, vname)]))
            print(f"{page:10s} {vname:26s} {len(sets[(page, vname)]):4d} {cold * 1000:6.0f} ms"
                  f"   {fmt(warm)}", flush=True)


def raw_connection(store: Store) -> duckdb.DuckDBPyConnection:
    """DuckDB over the store's Parquet files alone: no table held in memory, every rollup a view
    computed again by each query that reads it (the store's own fallback for rollups not built
    yet). With ``rollups=False`` the KPIs' SQL then reads the rows, as it would without them."""
    return store._open(store._files(store.manifest["tables"]), {}, memory=False)


# The floor: one column summed over the largest stored table (its column from code).
FLOOR_COLUMNS = {"inventory": "on_hand", "order_items": "quantity", "orders": "gross_sales",
                 "traffic": "sessions", "refunds": "amount", "marketing_spend": "spend"}


def floor_query(store: Store):
    """A function timing the floor, and what it sums."""
    table = max(FLOOR_COLUMNS, key=lambda t: sum(store.months(t).values()))
    files, column = [str(f) for f in store.files(table)], FLOOR_COLUMNS[table]
    con = duckdb.connect()

    def timed() -> float:
        t = time.perf_counter()
        con.read_parquet(files).aggregate(f"sum({column})").fetchall()
        return time.perf_counter() - t
    rows = sum(store.months(table).values())
    return timed, f"sum({column}) over {table}'s {rows:,} rows"


def covered(calls: list[Call]) -> list[Call]:
    """The calls (KPIs read together or side by side split apart where needed) whose every
    KPI the peers compute (bench/peers.py), as the page makes them."""
    def keep(c: Call) -> Call | None:
        if c.many:
            many = tuple(filter(None, map(keep, c.many)))
            return replace(c, many=many) if many else None
        if c.prepare or c.limit is not None:
            return None
        if c.together:
            together = tuple(n for n in c.together if peers.covers(n, c.filters, c.by))
            return replace(c, together=together) if together else None
        return c if peers.covers(c.kpi, c.filters, c.by) else None
    return list(filter(None, map(keep, calls)))


def check_peers(con, frames: dict, items: list[Call]) -> int:
    """Every KPI value the peers compute for ``items`` equals kpilib's, to the cent: else
    AssertionError (a peer that computed something else would be timed for nothing)."""
    asked = list(dict.fromkeys((c.kpi, c.filters, c.by) for c in each_kpi(items)))
    for engine, fr in frames.items():
        for (name, f, by), got in zip(asked, peers.page(fr, engine, asked)):
            peers.check(name, got, run(con, get(name), f, by), by)
    return len(asked)


def bench_peers(store: Store, sets: dict, repeat: int, raw: bool) -> None:
    """Each page's KPI set, DuckDB with its rollups as the app runs it, against three peers:
    pandas and polars computing the KPIs they cover from the same daily rollups (bench/peers.py),
    raw DuckDB over the Parquet files with no rollup, and the floor. Runs alternate (the
    order rotates each round); the machine's 1-minute load is printed beside each figure."""
    print("\n== Each page against its peers (warm; median; ratio = peer ÷ DuckDB with rollups) ==")
    frames, loads = {}, []
    for engine in ("pandas", "polars"):
        t = time.perf_counter()
        frames[engine] = peers.load(store, engine)
        loads.append(f"{engine} {time.perf_counter() - t:.1f} s")
    print("the daily rollups and small tables loaded into memory once (not counted, as "
          "DuckDB's): " + ", ".join(loads))
    con, raw_con = store.connect(), raw_connection(store) if raw else None
    floor, what = floor_query(store)
    floor()
    floors, totals = [], defaultdict(float)
    # Raw DuckDB computes every rollup again per query (10–20 s a page on the small shop,
    # minutes on the large one): timed once per page, on the large shop only if asked and on
    # the whole history only.
    large = store_rows(store) >= 500_000
    raw_views = [] if not raw else ["whole history"] if large else list(VIEWS)
    for page in PAGE_NAMES:
        for vname in VIEWS:
            calls = sets[(page, vname)]
            items = covered(calls)
            checked = check_peers(con, frames, items)
            asked = [(c.kpi, c.filters, c.by) for c in each_kpi(items)]
            runners = {
                "duckdb": lambda: page_set(con, calls),
                "covered": lambda: page_set(con, items),
                "pandas": lambda: _timed(peers.page, frames["pandas"], "pandas", asked),
                "polars": lambda: _timed(peers.page, frames["polars"], "polars", asked),
                "floor": floor,
                # The switch the KPIs have: daily sums off, the other rollups kept.
                "sums off": lambda: page_set(con, calls, rollups=False),
                "raw": lambda: page_set(raw_con, calls, rollups=False),
            }
            times, cpu, load = defaultdict(list), defaultdict(list), []
            names = list(runners)
            for r in range(repeat):
                k = r % len(names)
                for name in names[k:] + names[:k]:   # alternate: each first in turn
                    if name == "raw" and ("raw" in times or vname not in raw_views):
                        continue
                    if name == "sums off" and large and "sums off" in times:
                        continue   # ~10–20 s a page on the large shop: once
                    load.append(float(_load()))
                    c = time.process_time()
                    times[name].append(runners[name]())
                    # CPU seconds of this process, every thread: on a machine shared with
                    # other work, less at its mercy than the wall clock.
                    cpu[name].append(time.process_time() - c)
            m = {n: statistics.median(x) for n, x in times.items()}
            mc = {n: statistics.median(x) for n, x in cpu.items()}
            floors += times["floor"]
            for n in m:
                totals[(vname, n)] += m[n]
                totals[(vname, n, "cpu")] += mc[n]
            rawtext = f"{m['raw'] * 1000:7.0f} ms ({m['raw'] / m['duckdb']:5.1f}×)" \
                if "raw" in m else "not timed"
            print(f"{page:10s} {vname:26s} page {m['duckdb'] * 1000:6.1f} ms · daily sums off "
                  f"{m['sums off'] * 1000:6.0f} ms ({m['sums off'] / m['duckdb']:4.1f}×) · "
                  f"no rollups {rawtext} · floor "
                  f"{m['floor'] * 1000:5.1f} ms (page = {m['duckdb'] / m['floor']:4.1f} floors)"
                  f" · the {checked} KPI calls the peers cover (values checked): DuckDB "
                  f"{m['covered'] * 1000:5.1f} ms, pandas {m['pandas'] * 1000:6.1f} ms "
                  f"({m['pandas'] / m['covered']:4.1f}×), polars {m['polars'] * 1000:6.1f} ms "
                  f"({m['polars'] / m['covered']:4.1f}×) · load "
                  f"{min(load):.1f}–{max(load):.1f} · CPU: page {mc['duckdb'] * 1000:.0f} ms, "
                  f"sums off {mc['sums off'] * 1000:.0f} ms, covered {mc['covered'] * 1000:.0f}"
                  f" ms, pandas {mc['pandas'] * 1000:.0f} ms, polars {mc['polars'] * 1000:.0f}"
                  f" ms, floor {mc['floor'] * 1000:.0f} ms"
                  + (f", no rollups {mc['raw'] * 1000:.0f} ms" if "raw" in mc else ""),
                  flush=True)
    print(f"floor: {what}, {fmt(floors)}")
    for vname in VIEWS:
        t = {n: totals[(vname, n)]
             for n in ("duckdb", "sums off", "raw", "covered", "pandas", "polars")}
        rawtext = f"{t['raw'] * 1000:.0f} ms ({t['raw'] / t['duckdb']:.1f}×)" \
            if vname in raw_views else "not timed"
        print(f"all pages, {vname}: DuckDB {t['duckdb'] * 1000:.0f} ms, daily sums off "
              f"{t['sums off'] * 1000:.0f} ms ({t['sums off'] / t['duckdb']:.1f}×), no rollups "
              f"{rawtext}; covered KPIs: DuckDB "
              f"{t['covered'] * 1000:.0f} ms, pandas {t['pandas'] * 1000:.0f} ms "
              f"({t['pandas'] / t['covered']:.1f}×), polars {t['polars'] * 1000:.0f} ms "
              f"({t['polars'] / t['covered']:.1f}×)")
        c = {n: totals[(vname, n, "cpu")] for n in ("duckdb", "sums off", "covered", "pandas",
                                                    "polars")}
        print(f"  CPU: DuckDB {c['duckdb'] * 1000:.0f} ms, daily sums off "
              f"{c['sums off'] * 1000:.0f} ms ({c['sums off'] / c['duckdb']:.1f}×); covered "
              f"KPIs: DuckDB {c['covered'] * 1000:.0f} ms, pandas {c['pandas'] * 1000:.0f} ms "
              f"({c['pandas'] / c['covered']:.1f}×), polars {c['polars'] * 1000:.0f} ms "
              f"({c['polars'] / c['covered']:.1f}×)")


def _timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def store_rows(store: Store) -> int:
    return sum(store.months("orders").values())


def bench_ingest(store: Store, rows: int) -> None:
    """A one-month orders export of ``rows`` rows into a copy of the store."""
    print(f"\n== Ingest: one month, {rows:,} orders (CSV) into the store ==")
    work = ROOT / "bench" / ".stores" / "ingest"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(store.path, work / "store")
    csv = work / "orders_2026-11.csv"
    con = store.connect()
    # October's orders, repeated with new ids to ``rows`` rows, spread over November.
    con.execute("""create temp table october as select * from orders
                   where day >= date '2026-10-01'""")
    con.sql("""select 'N' || i as order_id,
                      timestamp '2026-11-01' + to_seconds(i * 2592000 // $rows) as ordered_at,
                      'C' || (i % 300000) as customer_id, channel, status, currency,
                      gross_sales, discounts, shipping, tax, device, country
               from (select o.*, row_number() over () as i
                     from range(($rows // (select count(*) from october)) + 1)
                     cross join october o)
               where i <= $rows""", params={"rows": rows}).write_csv(str(csv))
    copy = Store(work / "store")
    times = []
    for i in range(3):
        t = time.perf_counter()
        ingest(copy, [csv])
        times.append(time.perf_counter() - t)
        copy.undo()
    print(f"ingest of {csv.stat().st_size / 1e6:.0f} MB, {rows:,} rows: {fmt(times)} "
          "(validate, store, rebuild the month's rollups; median of 3)")
    with ingest_steps() as steps:
        t = time.perf_counter()
        ingest(copy, [csv])
        total = time.perf_counter() - t
    copy.undo()   # outside: taking an upload back rebuilds its rollups too
    print(f"where a fourth run's {total:.1f} s went (steps over 100 ms; a rollup's time is its "
          "computing and writing, its connections are counted apart):")
    for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.1:
            print(f"  {seconds * 1000:7,.0f} ms  {step}")
    shutil.rmtree(work, ignore_errors=True)


@contextmanager
def ingest_steps():
    """Seconds spent in each step of an ingest, by wrapping the functions that do them (a
    rollup's files are written by one of two methods, which are given its name)."""
    import kpilib.ingest as ingest_module
    import kpilib.store as store_module

    spent: dict[str, float] = defaultdict(float)
    undo = []
    inner = [0.0]   # the time of the timed calls inside the one running: counted apart

    def wrap(owner, attr: str, label=None):
        # A class's own attribute, as defined (a staticmethod stays one), wherever in its bases.
        original = (inspect.getattr_static(owner, attr) if isinstance(owner, type)
                    else getattr(owner, attr))

        def timed(*args, **kw):
            t, outer = time.perf_counter(), inner[0]
            inner[0] = 0.0
            try:
                return original(*args, **kw)
            finally:
                took = time.perf_counter() - t
                spent[label(args) if label else attr] += took - inner[0]
                inner[0] = outer + took
        setattr(owner, attr, timed)
        undo.append((owner, attr, original))

    S = store_module.Store
    for attr in ("_stage_rollup_part", "_stage_rollup_months"):
        wrap(S, attr, lambda args: f"rollup {args[2]}")
    # A running total continued from its month before (Rollup.since): args[2] is the rollup.
    wrap(S, "_stage_since", lambda args: f"rollup {args[2].name}")
    wrap(S, "_open", lambda args: "connections for the rollups (Store._open)")
    wrap(S, "_write_partition", lambda args: "writing the table's partitions")
    wrap(S, "diff", lambda args: "the diff against the store")
    wrap(ingest_module, "read", lambda args: "reading the file")
    wrap(ingest_module, "_recognise_and_prepare", lambda args: "typing and validating")
    wrap(ingest_module, "_warnings", lambda args: "warnings (orders without lines, …)")
    try:
        yield spent
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


# The floor under the app's start-up: Streamlit drawing a title and one Plotly chart.
BARE_APP = """import plotly.express as px
import streamlit as st
st.title("Bare")
st.plotly_chart(px.line(x=[1, 2, 3], y=[1, 3, 2]))
"""


def _launch(context, store: Store, port: int, script: Path | None = None, then=None):
    """Seconds from launching the server to its first page drawn in ``context`` (a browser
    profile: fresh, or one that has seen the app before and cached its scripts), and to the
    server answering. ``then(page, url)`` runs before the server stops."""
    from browser import ROOT as APP_ROOT
    from browser import app_server

    t0 = time.perf_counter()
    with app_server(store.path, port=port, script=script or APP_ROOT / "app.py") as url:
        up = time.perf_counter() - t0
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                               timeout=60_000)
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        drawn = time.perf_counter() - t0
        if then:
            then(page, url)
        page.close()
    return up, drawn


def bench_browser(store: Store, clicks: int) -> None:
    import tempfile

    from browser import browser, free_port, wait_drawn

    print("\n== The app in Chromium on this store ==")

    def clicks_and_memory(page, url):
        box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
        times = []
        for i in range(clicks):
            box.click()
            option = ("Last 90 days", "Last 30 days")[i % 2]
            page.get_by_role("option", name=option, exact=True).click()
            t = time.perf_counter()
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]',
                                   timeout=10_000, state="attached")
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                                   timeout=60_000)
            page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg')
            times.append(time.perf_counter() - t)
        print(f"period changed → Overview redrawn: {fmt(times)} (median of {clicks})")
        for name in ("traffic", "funnel", "marketing", "sales", "returns", "loyalty", "stock"):
            page.goto(f"{url}/{name}")
            wait_drawn(page)
        # The server this benchmark started, not any `streamlit run` on the machine.
        peak = [int(line.split()[1]) for p in servers()
                for line in Path(f"/proc/{p}/status").read_text().splitlines()
                if line.startswith("VmHWM")]
        if len(peak) == 1:
            print(f"peak memory of the app's server process after every page: "
                  f"{peak[0] / 1024:.0f} MB")
        else:
            print(f"peak memory not read: {len(peak)} servers started by this process")

    with browser() as b, tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        apps = {"the app": (None, clicks_and_memory),
                "a bare Streamlit app (title + one chart)": (bare, None)}
        # One browser profile and port per app: the second and later starts find Streamlit's
        # scripts in the browser's cache, as a manager's browser does.
        contexts = {label: (b.new_context(viewport={"width": 1400, "height": 1000}),
                            free_port()) for label in apps}
        first, up, again = {}, {}, defaultdict(list)
        # The app and the bare app alternately, so that both see the same machine.
        for r in range(4):
            for label, (script, then) in apps.items():
                context, port = contexts[label]
                load = _load()
                u, drawn = _launch(context, store, port, script, then if r == 0 else None)
                if r == 0:
                    first[label], up[label] = drawn, u
                else:
                    again[label].append(drawn)
                print(f"  {label}: {drawn:.1f} s ({'new profile' if r == 0 else 'seen before'}"
                      f"; load {load})", flush=True)
        for label in apps:
            contexts[label][0].close()
            print(f"{label}: from launch to the first page drawn {first[label]:.1f} s in a new "
                  f"browser profile (server up after {up[label]:.1f} s); {fmt_s(again[label])} "
                  "in a browser that has opened it before (median of 3)")


def servers() -> list[int]:
    """The pids of the Streamlit servers this process started (tests/browser.py's app_server
    runs each as a child of this process)."""
    me, out = str(os.getpid()), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if fields[1] == me and b"streamlit" in cmd and b"run" in cmd:
            out.append(int(stat.parent.name))
    return out


def bench_first_start(rounds: int, port: int | None = None) -> None:
    """A newcomer's first minute: a fresh clone (no demo shop, no __pycache__), `streamlit run
    app.py` in it as the README says, a browser that never opened the app; seconds from the
    launch to the Overview's chart drawn, the server's CPU seconds by then, and the machine's
    load (1-minute average) before and after, which the figures depend on. Then the same
    clone started again (the demo shop written, a new browser profile): what the build adds."""
    import tempfile

    from browser import browser, free_port

    print("\n== First start on a fresh clone: the demo shop built, then the Overview ==")
    first, cpu, again = [], [], []

    def launch(b, clone: Path) -> tuple[float, float]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KPILIB_")}
        url = f"http://127.0.0.1:{port or free_port()}"
        t0 = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", url.rsplit(":", 1)[1], "--server.address", "127.0.0.1"],
            cwd=clone, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            context = b.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            while True:   # the server's port opens ~0.5 s after the launch
                try:
                    page.goto(url)
                    break
                except Exception:
                    if time.perf_counter() - t0 > 60:
                        raise
                    time.sleep(0.1)
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                                   timeout=120_000)
            page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=120_000)
            drawn = time.perf_counter() - t0
            stat = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1]
            context.close()
            return drawn, sum(map(int, stat.split()[11:13])) / os.sysconf("SC_CLK_TCK")
        finally:
            server.terminate()
            server.wait(10)

    with browser() as b:
        for i in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                clone = Path(tmp) / "clone"
                subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
                load = _load()
                drawn, seconds = launch(b, clone)
                first.append(drawn)
                cpu.append(seconds)
                again.append(launch(b, clone)[0])
            print(f"  round {i + 1}: Overview drawn after {first[-1]:.1f} s (server CPU "
                  f"{cpu[-1]:.1f} s), started again {again[-1]:.1f} s; load {load} → {_load()}",
                  flush=True)
    print(f"first start, launch → Overview drawn: {fmt_s(first)}, server CPU {fmt_s(cpu)}; "
          f"the next start {fmt_s(again)} (median of {rounds})")


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def fmt_s(xs: list[float]) -> str:
    return f"{statistics.median(xs):.1f} s ({min(xs):.1f}–{max(xs):.1f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="1.0: the large shop (~2 M orders); 0.05: a minute's run")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--rebuild", action="store_true", help="regenerate the store")
    ap.add_argument("--browser", action="store_true",
                    help="also time app start, a filter click and the app's memory")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--raw", action="store_true", help="peers: also DuckDB with no rollups at "
                    "all (every rollup computed by each query; minutes a page on the large "
                    "shop); on by itself below 500,000 orders")
    ap.add_argument("--only", choices=["pages", "peers", "ingest", "browser", "first-start"],
                    help="run one part")
    ap.add_argument("--views", nargs="+", choices=list(VIEWS), metavar="VIEW",
                    help=f"time these views only (of: {', '.join(VIEWS)})")
    ap.add_argument("--port", type=int, help="first-start: the server's port (else a free one)")
    args = ap.parse_args()
    if args.only == "first-start":   # needs no benchmark store
        bench_first_start(args.repeat, args.port)
        return
    for name in set(VIEWS) - set(args.views or VIEWS):
        del VIEWS[name]
    store = build(args.scale, args.rebuild)
    con = store.connect()
    counts = {t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
              for t in ("orders", "order_items", "customer_first", "traffic", "inventory")}
    sessions = con.execute("select sum(sessions) from traffic").fetchall()[0][0]
    print(f"machine: {os.cpu_count()} cores · duckdb {duckdb.__version__} · pandas "
          f"{pd.__version__} · polars {_version('polars')}\nstore: {store.path} · " + ", ".join(
              f"{k} {v:,}" for k, v in counts.items()) + f" · sessions {sessions:,}")
    if args.only in (None, "pages", "peers"):
        t = time.perf_counter()
        sets = record(store, VIEWS)
        print(f"each page's KPI calls recorded from the app in {time.perf_counter() - t:.0f} s")
    if args.only in (None, "pages"):
        bench_pages(store, sets, args.repeat)
    if args.only in (None, "peers") and not args.skip_peers:
        bench_peers(store, sets, args.repeat, args.raw or store_rows(store) < 500_000)
    if args.only in (None, "ingest"):
        bench_ingest(store, max(1000, int(1_000_000 * args.scale)))
    if args.browser or args.only == "browser":
        bench_browser(store, 10)


if __name__ == "__main__":
    main()
