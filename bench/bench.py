"""Benchmark: every page's KPI set on a large shop, DuckDB + rollups against plain pandas.

    python bench/bench.py                 # the large shop of issue #10 (~10 min the first time)
    python bench/bench.py --scale 0.05    # a small shop, about a minute
    python bench/bench.py --browser       # also: app start, filter click → redraw, app memory

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
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from kpilib import Filters, Store, demo, get, run  # noqa: E402
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


# --- each page's KPI set: (kpi, which filters, grouping), as the page asks for them ----------
F, PREV, LY, HIST = "f", "prev", "ly", "hist"
CARDS = [(n, w, None) for n in ("net_sales", "orders", "aov", "sessions", "conversion_rate",
                                "new_customers", "returning_customer_rate", "mer",
                                "return_rate_value", "stockout_rate") for w in (F, PREV, LY)]
PAGES = {
    "overview": CARDS + [(n, F, "week") for n, _, _ in CARDS[::3]]
    + [(n, HIST, "day") for n in ("net_sales", "orders", "sessions", "conversion_rate")]
    + [("net_sales", F, "week"), ("net_sales", PREV, "week")]
    + [(n, F, "channel") for n in ("net_sales", "orders", "sessions", "conversion_rate", "aov")],
    "traffic": [(n, w, None) for n in ("sessions", "users", "new_users", "conversion_rate")
                for w in (F, PREV)]
    + [("sessions", F, ("week", "channel"))]
    + [(n, w, "channel") for n in ("sessions", "conversion_rate", "orders", "net_sales")
       for w in (F, PREV, LY)]
    + [("sessions", F, "device"), ("conversion_rate", F, "device")],
    "funnel": [(n, w, None) for n in ("sessions", "product_views", "add_to_carts", "checkouts",
                                      "purchases", "cart_abandonment_rate",
                                      "blended_conversion_rate") for w in (F, PREV)]
    + [(n, F, "channel") for n in ("sessions", "product_views", "add_to_carts", "checkouts",
                                   "purchases")]
    + [(n, F, "week") for n in ("product_view_rate", "add_to_cart_rate", "checkout_rate")],
    "marketing": [(n, w, None) for n in ("spend", "attributed_revenue", "roas", "mer", "cac",
                                         "cpc", "ctr") for w in (F, PREV)]
    + [(n, F, "channel") for n in ("spend", "attributed_revenue", "roas", "cac",
                                   "new_customers")]
    + [("roas", HIST, ("month", "channel")), ("payback", HIST, None),
       ("unmatched_spend", F, None)],
    "sales": [(n, w, None) for n in ("gross_sales", "discounts", "net_sales", "total_sales",
                                     "orders", "aov", "units_per_order", "cancellation_rate")
              for w in (F, PREV)]
    + [("net_sales", F, ("week", "channel")), ("orders_by_status", F, None),
       ("fulfilment_days", F, None), ("shipped_within_1d", F, None),
       ("shipped_within_2d", F, None), ("shipped_within_5d", F, None),
       ("top_products", F, None), ("top_categories", F, None)]
    + [(n, F, "channel") for n in ("orders", "aov", "units_per_order")],
    "returns": [(n, w, None) for n in ("returns", "return_rate_value", "return_rate_orders")
                for w in (F, PREV)]
    + [("returns", HIST, "month"), ("returns_by_order_date", HIST, "month"),
       ("return_rate_value", F, "channel"), ("refund_reasons", F, None),
       ("top_categories", F, None)],
    "loyalty": [(n, w, None) for n in ("customers", "new_customers", "returning_customers",
                                       "returning_customer_rate", "repeat_purchase_rate",
                                       "orders_per_customer") for w in (F, PREV)]
    + [("new_customers", F, "week"), ("returning_customers", F, "week"),
       ("cohort_retention", F, None), ("cohort_ltv", F, None),
       ("days_to_second_order", F, None), ("rfm_segments", F, None)],
    "stock": [(n, w, None) for n in ("on_hand", "stock_value", "days_of_cover",
                                     "sell_through_rate", "stockout_rate", "dead_stock_value")
              for w in (F, PREV)]
    + [("stock_by_sku", F, None), ("stockout_sku_days", F, "week"), ("abc_classes", F, None),
       ("dead_stock", F, None), ("lost_revenue_stockout", F, "category")],
}


def filters_for(f: Filters, which: str) -> Filters:
    if which == PREV:
        return f.previous_period()
    if which == LY:
        return f.last_year()
    if which == HIST:   # the alerts' 8 weeks of history before the range
        return replace(f, start=f.start - timedelta(weeks=8))
    return f


# Two views a manager switches between, and the filter changes timed "warm".
VIEWS = {"whole history": Filters(END.replace(year=END.year - 2, day=1) + timedelta(days=1),
                                  END),
         "one channel, one quarter": Filters(date(2026, 7, 1), date(2026, 9, 30), ("email",))}
CHANGES = [Filters(END - timedelta(days=29), END), Filters(date(2026, 1, 1), END),
           Filters(date(2026, 4, 1), date(2026, 6, 30), ("paid_search", "paid_social")),
           Filters(date(2025, 11, 1), date(2025, 11, 30))]


def page_set(con, page: str, f: Filters, rollups: bool = True) -> float:
    clear_bases(con)   # the per-SKU step shared by the stock KPIs is timed too
    t = time.perf_counter()
    for name, which, by in PAGES[page]:
        run(con, get(name), filters_for(f, which), by, rollups=rollups)
    return time.perf_counter() - t


def fmt(xs: list[float]) -> str:
    ms = [x * 1000 for x in xs]
    return f"{statistics.median(ms):7.1f} ms  ({min(ms):.1f}–{max(ms):.1f})"


def bench_pages(store: Store, repeat: int) -> dict:
    print("\n== Each page's full KPI set (DuckDB + rollups) ==")
    print(f"{'page':10s} {'view':26s} {'cold':>10s}   warm, filters changed: median (min–max)")
    out = {}
    for page in PAGES:
        for vname, view in VIEWS.items():
            con = store.connect()
            cold = page_set(con, page, view)
            warm = []
            for i in range(repeat):
                # A different filter each time, then the view: no result is reused.
                page_set(con, page, CHANGES[i % len(CHANGES)])
                warm.append(page_set(con, page, view))
            out[(page, vname)] = warm
            print(f"{page:10s} {vname:26s} {cold * 1000:8.0f} ms   {fmt(warm)}", flush=True)
    return out


def bench_without_rollups(store: Store, repeat: int) -> None:
    print("\n== The same sets reading the rows (rollups off), whole history ==")
    for page in ("overview", "sales", "marketing"):
        con = store.connect()
        page_set(con, page, VIEWS["whole history"], rollups=False)
        xs = [page_set(con, page, VIEWS["whole history"], rollups=False)
              for _ in range(max(1, repeat // 3))]
        print(f"{page:10s} {fmt(xs)}", flush=True)


def load_pandas(store: Store) -> DemoShop:
    con = duckdb.connect()
    frames = {}
    for table in ("orders", "order_items", "refunds", "traffic", "inventory", "products",
                  "marketing_spend"):
        files = [str(f) for f in store.files(table)]
        frames[table] = con.read_parquet(files).df() if files else pd.DataFrame()
    return DemoShop(**frames)


def bench_pandas(store: Store, repeat: int, full: bool) -> None:
    """The oracle the tests compare with (tests/oracle.py): each KPI from the raw frames.
    On the large shop only the whole-history view is timed (pandas needs minutes per page)."""
    from oracle import oracle

    print("\n== pandas (tests/oracle.py) against DuckDB + rollups, same KPIs, same data ==")
    t = time.perf_counter()
    shop = load_pandas(store)
    print(f"loading the tables into pandas: {time.perf_counter() - t:.1f} s (not counted)")
    con = store.connect()
    total_pd = total_db = 0.0
    for page in ("overview", "traffic", "funnel", "sales", "marketing", "returns", "loyalty"):
        items = [(n, w, by) for n, w, by in PAGES[page] if not isinstance(by, tuple)
                 and not get(n).table and n not in ("stockout_rate", "payback",
                                                    "unmatched_spend")]
        for vname, view in list(VIEWS.items())[:1 if full else None]:
            pd_times, db_times = [], []
            for _ in range(max(1, repeat // 5)):
                t = time.perf_counter()
                for n, w, by in items:
                    oracle(n, shop, filters_for(view, w), by)
                pd_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                for n, w, by in items:
                    run(con, get(n), filters_for(view, w), by)
                db_times.append(time.perf_counter() - t)
            p, d = statistics.median(pd_times), statistics.median(db_times)
            total_pd, total_db = total_pd + p, total_db + d
            print(f"{page:10s} {vname:26s} {len(items):3d} KPIs  pandas {p * 1000:8.0f} ms  "
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
    shutil.rmtree(work, ignore_errors=True)


def bench_browser(store: Store, clicks: int) -> None:
    from browser import app_server, browser, wait_drawn

    print("\n== The app in Chromium on this store ==")
    t0 = time.perf_counter()
    with app_server(store.path) as url, browser() as b:
        started = time.perf_counter() - t0
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        t = time.perf_counter()
        page.goto(url)
        wait_drawn(page)
        first = time.perf_counter() - t - 0.5        # wait_drawn settles for 0.5 s
        print(f"server up {started:.1f} s; first page (Overview) drawn {first:.2f} s after "
              f"opening it; {started + first:.1f} s from launch")
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
        pid = subprocess.run(["pgrep", "-f", "streamlit run"], capture_output=True,
                             text=True).stdout.split()
        peak = [int(line.split()[1]) for p in pid
                for line in Path(f"/proc/{p}/status").read_text().splitlines()
                if line.startswith("VmHWM")] if pid else []
        for name in ("traffic", "funnel", "marketing", "sales", "returns", "loyalty", "stock"):
            page.goto(f"{url}/{name}")
            wait_drawn(page)
        if pid:
            peak = [int(line.split()[1]) for p in pid if Path(f"/proc/{p}").exists()
                    for line in Path(f"/proc/{p}/status").read_text().splitlines()
                    if line.startswith("VmHWM")]
            print(f"peak memory of the app process after every page: {max(peak) / 1024:.0f} MB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="1.0: the large shop (~2 M orders); 0.05: a minute's run")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--rebuild", action="store_true", help="regenerate the store")
    ap.add_argument("--browser", action="store_true",
                    help="also time app start, a filter click and the app's memory")
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--only", choices=["pages", "pandas", "ingest", "browser"],
                    help="run one part")
    args = ap.parse_args()
    store = build(args.scale, args.rebuild)
    con = store.connect()
    counts = {t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
              for t in ("orders", "order_items", "customer_first", "traffic", "inventory")}
    sessions = con.execute("select sum(sessions) from traffic").fetchall()[0][0]
    print(f"machine: {os.cpu_count()} cores · duckdb {duckdb.__version__} · pandas "
          f"{pd.__version__}\nstore: {store.path} · " + ", ".join(
              f"{k} {v:,}" for k, v in counts.items()) + f" · sessions {sessions:,}")
    if args.only in (None, "pages"):
        bench_pages(store, args.repeat)
        bench_without_rollups(store, args.repeat)
    if args.only in (None, "pandas") and not args.skip_pandas:
        bench_pandas(store, args.repeat, full=args.scale >= 0.5)
    if args.only in (None, "ingest"):
        bench_ingest(store, max(1000, int(1_000_000 * args.scale)))
    if args.browser or args.only == "browser":
        bench_browser(store, 10)


if __name__ == "__main__":
    main()
