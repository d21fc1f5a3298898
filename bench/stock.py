"""The Stock page's KPI set on stores of different catalogue sizes (issue 30: ≤ 100 ms at
20 k SKUs, ≤ 150 ms at 40 k).

The set is recorded from the app itself, as `bench/bench.py` records every page's (the Stock
page in AppTest with a view's filters set, every query logged), then timed warm with the
filters changed (another view's set in between, so nothing is reused), on a new connection.
Printed per store: its SKU count, each view's median and min–max, the median CPU time of the
process (every DuckDB thread's: on a shared machine the wall time measures the other workers
too), and `/proc/loadavg` before and after.

    python bench/stock.py --store bench/.stores/scale-1 --store /tmp/skus-40k --repeat 10
    python bench/stock.py --page loyalty --store bench/.stores/scale-1   # the Customers page

A 40 k-SKU store: `bench/bench.py`'s large shop with ``skus=40_000`` (see `build` below).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from bench import END, ORDERS_SCALE, VIEWS, page_set, record  # noqa: E402

from kpilib import demo  # noqa: E402
from kpilib.store import Store  # noqa: E402


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def build(path: Path, skus: int) -> Store:
    """The large shop's 24 months and orders (bench.py's ``build``) with ``skus`` SKUs."""
    shop = demo.generate(months=24, scale=ORDERS_SCALE, seed=7, end=END, skus=skus, lines=1.5)
    demo.write(Store(path), shop)
    return Store(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, action="append", required=True)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--page", default="stock", choices=bench.PAGE_NAMES,
                    help="another page's set the same way (loyalty: the Customers page)")
    ap.add_argument("--build-skus", type=int,
                    help="first write the large shop with this many SKUs into the (one) store")
    args = ap.parse_args()
    if args.build_skus:
        build(args.store[0], args.build_skus)
    page = args.page
    names = list(VIEWS)
    for path in args.store:
        store = Store(path)
        con = store.connect()
        skus = con.execute("select count(*) from sku_info").fetchall()[0][0]
        sets = record(store, VIEWS, (page,))
        print(f"{path}: {skus:,} SKUs, the {page} page", flush=True)
        for i, view in enumerate(names):
            other = sets[(page, names[(i + 1) % len(names)])]
            load = loadavg()
            con = store.connect()
            warm, cpu = [], []
            for _ in range(args.repeat):
                page_set(con, other)
                t = time.process_time()
                warm.append(page_set(con, sets[(page, view)]) * 1000)
                cpu.append((time.process_time() - t) * 1000)
            print(f"  {view:26s} {len(sets[(page, view)]):3d} calls  "
                  f"{statistics.median(warm):6.1f} ms ({min(warm):.1f}–{max(warm):.1f})  "
                  f"CPU {statistics.median(cpu):6.1f} ms  load {load} → {loadavg()}", flush=True)


if __name__ == "__main__":
    main()
