"""How far off the month-end forecast has been, against the plain run-rate, on the demo shop
and on UCI Online Retail: the figures in the README's "Month-end forecast" section.

    python bench/forecast.py [--work DIR]

Builds both stores in DIR (a temporary folder by default; kept there, and reused, when given):
the demo shop as the app builds it in December 2026 (seed 7, full scale, the 18 months to 30
November 2026) and the UCI Online Retail export from ../shared/realdata, ingested as a shop
would upload it. Then, for every summed KPI each store has, reruns the forecast on each
complete month as of its 7th, 14th and 21st with only the days before then
(kpilib.forecast.backtest) and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpilib import Filters, Store, caveats, demo, forecast, get  # noqa: E402
from kpilib.ingest import ingest  # noqa: E402
from kpilib.periods import data_span  # noqa: E402

UCI = ROOT.parent / "shared" / "realdata" / "online_retail" / "online_retail_2010_2011.parquet"


def demo_store(work: Path) -> Store:
    store = Store(work / "demo")
    if store.is_empty():
        demo.write(store, demo.generate(months=18, scale=1.0, seed=7, end=date(2026, 11, 30)))
    return store


def uci_store(work: Path) -> Store:
    import pandas as pd

    store = Store(work / "uci")
    if store.is_empty():
        pd.read_parquet(UCI).to_csv(work / "uci.csv", index=False)
        ingest(store, [work / "uci.csv"], allow_partial=True)
    return store


def rows(shop: str, store: Store):
    con = store.connect()
    known, last = caveats.facts(con), data_span(con)[1]
    for name in forecast.KPIS:
        if caveats.reason(get(name), known):
            continue
        # The day after the data: every complete month is backtested.
        b = forecast.backtest(forecast.daily(con, name, Filters(last, last), last),
                              last + timedelta(days=1))
        days = " / ".join(f"{b.by_day[d]['mape']:.1%}" for d in forecast.CHECK_DAYS)
        yield (f"| {shop} | {get(name).label} | {b.months} | {b.mape:.1%} | "
               f"{b.run_rate_mape:.1%} | {1 - b.mape / b.run_rate_mape:+.0%} | {days} | "
               f"{b.coverage:.0%} ({b.ranged}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, help="where to build the stores (kept)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kpilib-forecast-"))
    work.mkdir(parents=True, exist_ok=True)
    print("| shop | KPI | months | forecast off by | run-rate off by | less error | "
          "as of day 7 / 14 / 21 | inside its 80 % range |")
    print("|---|---|---|---|---|---|---|---|")
    for shop, store in (("demo shop", demo_store(work)), ("UCI Online Retail", uci_store(work))):
        for row in rows(shop, store):
            print(row.replace("%", " %"), flush=True)


if __name__ == "__main__":
    main()
