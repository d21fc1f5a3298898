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

import numpy as np  # noqa: E402

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


def rows(shop: str, store: Store, notes: list[str]):
    """A table row per summed KPI the store has, then one for all of them together (every
    KPI's forecasts pooled: whether the method beats the run-rate on the shop's history, not
    on one KPI's 33 forecasts), with the paired difference's standard error beside it."""
    con = store.connect()
    known, last = caveats.facts(con), data_span(con)[1]
    pooled: dict[int, list] = {d: [] for d in forecast.CHECK_DAYS}
    for name in forecast.KPIS:
        if caveats.reason(get(name), known):
            continue
        # The day after the data: every complete month is backtested.
        s = forecast.daily(con, name, Filters(last, last), last)
        as_of = last + timedelta(days=1)
        months = forecast.backtest_months(s, as_of)
        by_day = {d: forecast.trials(s, months, d) for d in forecast.CHECK_DAYS}
        for d, ts in by_day.items():
            pooled[d] += ts
        yield row(shop, get(name).label, len(months), by_day)
    yield row(shop, "**all of the above**", len(months), pooled)
    diffs = np.array([abs(t.run_rate - t.actual) / t.actual - t.error
                      for ts in pooled.values() for t in ts])
    se = diffs.std(ddof=1) / np.sqrt(len(diffs))
    notes.append(f"{shop}: the forecast's error is {diffs.mean() * 100:.2f} points below the "
                 f"run-rate's over {len(diffs)} forecasts, ± {se * 100:.2f} (the standard error "
                 "of the paired differences; a floor, as the KPIs of one month move together)")


def row(shop: str, label: str, months: int, by_day: dict) -> str:
    every = forecast._figures([t for ts in by_day.values() for t in ts])
    days = " / ".join(f"{forecast._figures(by_day[d])['mape']:.1%}" for d in forecast.CHECK_DAYS)
    return (f"| {shop} | {label} | {months} | {every['mape']:.1%} | "
            f"{every['run_rate_mape']:.1%} | {1 - every['mape'] / every['run_rate_mape']:+.0%} | "
            f"{days} | {every['coverage']:.0%} ({every['ranged']}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, help="where to build the stores (kept)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kpilib-forecast-"))
    work.mkdir(parents=True, exist_ok=True)
    print("| shop | KPI | months | forecast off by | run-rate off by | less error | "
          "as of day 7 / 14 / 21 | inside its 80 % range |")
    print("|---|---|---|---|---|---|---|---|")
    notes: list[str] = []
    for shop, store in (("demo shop", demo_store(work)), ("UCI Online Retail", uci_store(work))):
        for line in rows(shop, store, notes):
            print(line.replace("%", " %"), flush=True)
    print()
    print("\n".join(notes))


if __name__ == "__main__":
    main()
