"""Benchmark: every page's KPI set on a large shop, DuckDB + rollups against plain pandas.

    python bench/bench.py                 # the large shop of issue #10 (~10 min the first time)
    python bench/bench.py --scale 0.05    # a small shop, about a minute
    python bench/bench.py --browser       # also: app start, filter click → redraw, app memory
    python bench/bench.py --only first-start --repeat 5   # a fresh clone's first start

The store is built once with the demo generator into bench/.stores/ and reused. Not a test:
it prints medians, min–max and ratios with the machine's core count; bench/README.md quotes them.
"""
from __future__ import annotations

import argparse
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
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from kpilib import (Filters, Read, Store, demo, from_daily, get, prepare, run,  # noqa: E402
                    run_many, run_together)
from kpilib.demo import DemoShop  # noqa: E402
from kpilib.ingest import ingest  # noqa: E402
from kpilib.kpi import clear_bases  # noqa: E402

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
# What a manager looks at: the app's default (the last 30 days), the whole history (the 24
# months the large shop holds) and one channel over one quarter.
VIEWS = {"last 30 days": Filters(END - timedelta(days=29), END),
         "whole history": Filters(date(END.year - 2, END.month + 1, 1), END),
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


def record(store: Store, views: dict[str, Filters]) -> dict[tuple[str, str], list[Call]]:
    """Every KPI each page asks for under each view: the app itself, run in AppTest with the
    view's filters set in the sidebar, with each ``kpilib.run`` it makes logged, and each
    period it derives from a daily series (the caches emptied before each page, so a page's
    set is all it needs). The benchmark then times exactly these calls: its page sets cannot
    drift from the pages."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import kpilib
    from kpilib.periods import calendar

    span = calendar(store.connect())
    calls: list[Call] = []
    real, real_daily, real_prepare = kpilib.run, kpilib.from_daily, kpilib.prepare
    real_together, real_many = kpilib.run_together, kpilib.run_many

    def logged(con, kpi, filters, by=None, **kw):
        calls.append(Call(kpi.name, filters, by, kw.get("limit")))
        return real(con, kpi, filters, by, **kw)

    def derived(kpi, days, filters, by=None):
        series = replace(filters, start=span[0], end=span[1])
        calls.append(Call(kpi.name, filters, by, series=series))
        return real_daily(kpi, days, filters, by)

    def prepared(con, kpi, filters):
        calls.append(Call(kpi.name, filters[0], prepare=tuple(filters)))
        return real_prepare(con, kpi, filters)

    def together(con, kpis, filters, by=None, **kw):
        calls.append(Call("", filters, by, together=tuple(k.name for k in kpis)))
        return real_together(con, kpis, filters, by, **kw)

    def many(con, reads):
        calls.append(Call("", reads[0].filters, many=tuple(
            Call(r.kpis[0].name, r.filters, r.by, r.limit) if len(r.kpis) == 1 else
            Call("", r.filters, r.by, together=tuple(k.name for k in r.kpis)) for r in reads)))
        return real_many(con, reads)

    os.environ["KPILIB_STORE"] = str(store.path)
    kpilib.run, kpilib.from_daily, kpilib.prepare = logged, derived, prepared
    kpilib.run_together, kpilib.run_many = together, many
    out = {}
    try:
        for vname, f in views.items():
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.run()
            at.sidebar.selectbox(key="period").set_value("Custom").run()
            at.sidebar.date_input(key="dates").set_value((f.start, f.end)).run()
            at.sidebar.multiselect(key="channels").set_value(list(f.channels)).run()
            for page in PAGE_NAMES:
                st.cache_data.clear()
                # and what the session read ahead (ui.prefetch): each page reads all it shows
                at.session_state["_prefetched"] = {}
                calls.clear()
                at.switch_page(str(ROOT / "app_pages" / f"{page}.py")).run()
                assert not at.exception, [e.value for e in at.exception]
                assert at.session_state["filters"] == f, at.session_state["filters"]
                out[(page, vname)] = list(calls)
    finally:
        kpilib.run, kpilib.from_daily, kpilib.prepare = real, real_daily, real_prepare
        kpilib.run_together, kpilib.run_many = real_together, real_many
    return out


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


def bench_without_rollups(store: Store, sets: dict, repeat: int) -> None:
    print("\n== The same sets reading the rows (daily sums off), whole history ==")
    for page in ("overview", "sales", "marketing"):
        con = store.connect()
        calls = sets[(page, "whole history")]
        page_set(con, calls, rollups=False)
        xs = [page_set(con, calls, rollups=False) for _ in range(max(1, repeat // 3))]
        print(f"{page:10s} {fmt(xs)}", flush=True)


def load_pandas(store: Store) -> DemoShop:
    con = duckdb.connect()
    frames = {}
    for table in ("orders", "order_items", "refunds", "traffic", "inventory", "products",
                  "marketing_spend"):
        files = [str(f) for f in store.files(table)]
        frames[table] = con.read_parquet(files).df() if files else pd.DataFrame()
    return DemoShop(**frames)


def bench_pandas(store: Store, sets: dict, repeat: int, full: bool) -> None:
    """The oracle the tests compare with (tests/oracle.py): each KPI from the raw frames.
    On the large shop only the whole-history view is timed (pandas needs minutes per page)."""
    from oracle import oracle

    from kpilib import stock

    print("\n== pandas (tests/oracle.py) against DuckDB + rollups, same KPIs, same data ==")
    t = time.perf_counter()
    shop = load_pandas(store)
    print(f"loading the tables into pandas: {time.perf_counter() - t:.1f} s (not counted)")
    con = store.connect()
    # What the oracle computes: every single-valued KPI but the stock ones (their pandas
    # version is in tests/test_stock.py), by nothing, a period or a channel.
    skip = {k.name for k in stock.KPIS} | {"payback", "unmatched_spend"}
    total_pd = total_db = 0.0
    for page in PAGE_NAMES:
        for vname in ["whole history"] if full else list(VIEWS):
            def kept(name: str) -> bool:
                return not get(name).table and name not in skip
            def only(c: Call) -> Call | None:
                if c.many:
                    many = tuple(filter(None, map(only, c.many)))
                    return replace(c, many=many) if many else None
                if isinstance(c.by, tuple) or c.prepare:
                    return None
                if c.together:
                    together = tuple(n for n in c.together if kept(n))
                    return replace(c, together=together) if together else None
                return c if kept(c.kpi) else None
            # DuckDB's side as the page runs it, KPIs read together and side by side included.
            items = list(filter(None, map(only, sets[(page, vname)])))
            # What the page shows: every call but the daily series it derives periods from
            # (pandas computes each period itself).
            fetched = {(c.kpi, c.series) for c in items if c.series is not None}
            answers = [c for c in each_kpi(items)
                       if (c.kpi, c.filters) not in fetched or c.by != "day"]
            if not answers:
                continue
            pd_times, db_times = [], []
            for _ in range(max(1, repeat // 5)):
                t = time.perf_counter()
                for c in answers:
                    oracle(c.kpi, shop, c.filters, c.by)
                pd_times.append(time.perf_counter() - t)
                db_times.append(page_set(con, items))
            p, d = statistics.median(pd_times), statistics.median(db_times)
            total_pd, total_db = total_pd + p, total_db + d
            print(f"{page:10s} {vname:26s} {len(answers):3d} KPIs  pandas {p * 1000:8.0f} ms  "
                  f"duckdb {d * 1000:6.1f} ms  ratio {p / d:6.1f}×", flush=True)
    print(f"{'all pages':37s}       pandas {total_pd * 1000:8.0f} ms  duckdb "
          f"{total_db * 1000:6.1f} ms  ratio {total_pd / total_db:6.1f}×")


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
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)

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
        pid = subprocess.run(["pgrep", "-f", "streamlit run"], capture_output=True,
                             text=True).stdout.split()
        peak = [int(line.split()[1]) for p in pid if Path(f"/proc/{p}").exists()
                for line in Path(f"/proc/{p}/status").read_text().splitlines()
                if line.startswith("VmHWM")]
        if peak:
            print(f"peak memory of the app process after every page: {max(peak) / 1024:.0f} MB")

    with browser() as b, tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        for label, script, then in (("the app", None, clicks_and_memory),
                                    ("a bare Streamlit app (title + one chart)", bare, None)):
            # One browser profile and port per app: the second and later starts find
            # Streamlit's scripts in the browser's cache, as a manager's browser does.
            context, port = b.new_context(viewport={"width": 1400, "height": 1000}), free_port()
            up, first = _launch(context, store, port, script, then)
            again = [_launch(context, store, port, script)[1] for _ in range(3)]
            context.close()
            print(f"{label}: from launch to the first page drawn {first:.1f} s in a new "
                  f"browser profile (server up after {up:.1f} s); {fmt_s(again)} in a "
                  "browser that has opened it before (median of 3)")


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
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--only", choices=["pages", "pandas", "ingest", "browser", "first-start"],
                    help="run one part")
    ap.add_argument("--port", type=int, help="first-start: the server's port (else a free one)")
    args = ap.parse_args()
    if args.only == "first-start":   # needs no benchmark store
        bench_first_start(args.repeat, args.port)
        return
    store = build(args.scale, args.rebuild)
    con = store.connect()
    counts = {t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
              for t in ("orders", "order_items", "customer_first", "traffic", "inventory")}
    sessions = con.execute("select sum(sessions) from traffic").fetchall()[0][0]
    print(f"machine: {os.cpu_count()} cores · duckdb {duckdb.__version__} · pandas "
          f"{pd.__version__}\nstore: {store.path} · " + ", ".join(
              f"{k} {v:,}" for k, v in counts.items()) + f" · sessions {sessions:,}")
    if args.only in (None, "pages", "pandas"):
        t = time.perf_counter()
        sets = record(store, VIEWS)
        print(f"each page's KPI calls recorded from the app in {time.perf_counter() - t:.0f} s")
    if args.only in (None, "pages"):
        bench_pages(store, sets, args.repeat)
        bench_without_rollups(store, sets, args.repeat)
    if args.only in (None, "pandas") and not args.skip_pandas:
        bench_pandas(store, sets, args.repeat, full=args.scale >= 0.5)
    if args.only in (None, "ingest"):
        bench_ingest(store, max(1000, int(1_000_000 * args.scale)))
    if args.browser or args.only == "browser":
        bench_browser(store, 10)


if __name__ == "__main__":
    main()
