"""Command line: python -m kpilib {demo,ingest,kpi,sql,alerts,list}. Its arguments and JSON output are a
public interface for scripts and scheduled jobs: change them only compatibly."""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from datetime import date, timedelta

from . import KPIS, Filters, Store, alerts, caveats, export, get, run, script, targets
from . import forecast
from .engines import ENGINES, EngineError, connect
from .explain import DIMENSIONS as EXPLAIN_BY
from .ingest import IngestError, ingest
from .periods import data_span
from .schema import TABLES
from .settings import reporting_currency, store_path


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-31") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kpilib",
                                 description="E-commerce KPIs over a store of exports.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the demo shop into a store")
    p.add_argument("--store")
    p.add_argument("--months", type=int, default=18)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end", type=_date, help="last day (default: end of last month)")

    p = sub.add_parser("ingest", help="validate exports and add them to the store")
    p.add_argument("files", nargs="+")
    p.add_argument("--store")
    p.add_argument("--dry-run", action="store_true",
                   help="print the validation report and the changes, write nothing")
    p.add_argument("--skip-invalid", action="store_true",
                   help="store the valid rows and skip rejected ones (default: refuse the file)")
    p.add_argument("--spend-channel", help="channel of ad-spend exports that have none "
                                           "(default: paid_search for Google Ads, paid_social "
                                           "for Meta)")

    p.add_argument("--as-of", type=_date, help="date of stock snapshot files without a date "
                                                "column (default: the date in the file name)")
    p.add_argument("--spend-month", metavar="YYYY-MM",
                   help="month of ad reports without dates (e.g. by ad): their spend is spread "
                        "evenly over the month's days")

    p = sub.add_parser("undo", help="take back the last upload or deletion")
    p.add_argument("--store")

    p = sub.add_parser("delete", help="delete one month of one table (undo brings it back)")
    p.add_argument("table", choices=list(TABLES))
    p.add_argument("month", help="YYYY-MM, or 'all' for products")
    p.add_argument("--store")

    p = sub.add_parser("kpi", help="compute one KPI")
    _kpi_args(p)
    p.add_argument("--format", choices=["json", "csv"], default="json")
    _engine_args(p)

    p = sub.add_parser("sql", help="the SQL one KPI runs, with its parameters")
    _kpi_args(p)

    p = sub.add_parser("alerts", help="the unusual days, as the Overview lists them")
    p.add_argument("--store")
    p.add_argument("--start", type=_date, help="first day (default: 30 days before --end)")
    p.add_argument("--end", type=_date, help="last day (default: latest day with data)")
    p.add_argument("--channel", action="append", default=[], help="repeat for several")
    p.add_argument("--format", choices=["json", "csv"], default="json")

    p = sub.add_parser(
        "forecast", help="where a summed KPI's month is heading, with an 80 %% range",
        description="Month-end forecast of a summed KPI: the weekday-weighted pace of the "
                    "month to date, steadied by the 28 days before the month grown as the same "
                    "days grew last year (once a year is stored). Its 80 % range and its "
                    "backtest come from the same forecast rerun on each earlier complete month "
                    "as of the same day (days 7, 14 and 21 for the backtest), with only the "
                    "days before then: mape is its mean absolute percentage error, "
                    "run_rate_mape the plain run-rate's (value to date ÷ share of days "
                    "elapsed), coverage how often the month landed inside its range. Fewer "
                    "than 3 earlier complete months: no range (low and high null, a note).")
    p.add_argument("name", choices=forecast.KPIS)
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--as-of", type=_date, help="the last day known (default: the latest day "
                                                "with data, within the month)")
    p.add_argument("--store")
    p.add_argument("--channel", action="append", default=[], help="repeat for several")
    p.add_argument("--format", choices=["json"], default="json")
    p = sub.add_parser("explain", help="what changed: a KPI's change split into parts that add "
                                       "up to it exactly")
    _kpi_args(p, by=False)
    p.add_argument("--compare", choices=["previous", "last_year"], default="previous",
                   help="the period compared with (default: the previous period)")
    p.add_argument("--by", action="append", choices=list(EXPLAIN_BY),
                   help="split the change by this only (repeat for several; default: every "
                        "split the KPI has)")
    p.add_argument("--format", choices=["json", "text"], default="json")

    p = sub.add_parser("report", help="the monthly management report as one HTML file")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--store")
    p.add_argument("--out", required=True, help="where to write the .html file")
    _engine_args(p)

    sub.add_parser("list", help="every KPI with its definition")
    sub.add_parser("glossary", help="the KPI glossary as a Markdown table (for the README)")

    args = ap.parse_args(argv)
    try:
        if "store" in args and store_path(args.store).exists() \
                and not store_path(args.store).is_dir():
            raise ValueError(f"{store_path(args.store)} is a file, not a store: give --store "
                             "a folder (a new one for a new store)")
        return COMMANDS[args.command](args)
    except (IngestError, EngineError, ValueError, KeyError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2


def _demo(args) -> int:
    from . import demo

    store = Store(store_path(args.store))
    if not store.is_empty():
        raise ValueError(f"{store.path} already holds data; give an empty --store")
    shop = demo.generate(months=args.months, scale=args.scale, seed=args.seed, end=args.end)
    demo.write(store, shop)
    print(f"demo shop written to {store.path}: {len(shop.orders):,} orders, "
          f"{int(shop.traffic.sessions.sum()):,} sessions, "
          f"{shop.traffic.date.min()} to {shop.traffic.date.max()}")
    return 0


def _ingest(args) -> int:
    store = Store(store_path(args.store))
    report = ingest(store, args.files, dry_run=args.dry_run, allow_partial=args.skip_invalid,
                    spend_channel=args.spend_channel, spend_month=args.spend_month,
                    snapshot_date=args.as_of.isoformat() if args.as_of else None,
                    adopt_timezone=True)
    print(report.text())
    if args.dry_run:
        print("dry run: nothing was written.")
    return 0


def _undo(args) -> int:
    record = Store(store_path(args.store)).undo()
    what = record.get("action") or ", ".join(sorted({s["name"] for s in record["sources"]}))
    print(f"undone: {what} ({record['at']})")
    return 0


def _delete(args) -> int:
    Store(store_path(args.store)).delete_month(args.table, args.month)
    print(f"deleted {args.table} {args.month} (python -m kpilib undo brings it back)")
    return 0


def _kpi_args(p, by: bool = True) -> None:
    p.add_argument("name")
    p.add_argument("--store")
    p.add_argument("--start", type=_date, help="first day (default: 30 days before --end)")
    p.add_argument("--end", type=_date, help="last day (default: latest day with data)")
    p.add_argument("--channel", action="append", default=[], help="repeat for several")
    # A KPI whose sources do not carry the dimension refuses these (exit 2), rather than
    # answer with the unfiltered figure.
    p.add_argument("--device", action="append", default=[], help="repeat for several")
    p.add_argument("--country", action="append", default=[], help="repeat for several")
    p.add_argument("--category", action="append", default=[], help="repeat for several")
    if by:
        p.add_argument("--by", choices=["day", "week", "month", "channel", "device",
                                        "category", "country", "campaign", "discount_code",
                                        "product", "customer_type"])


def _filters(args, start: date, end: date) -> Filters:
    return Filters(start, end, tuple(args.channel), tuple(args.device), tuple(args.country),
                   tuple(args.category))


def _engine_args(p) -> None:
    p.add_argument("--engine", choices=ENGINES,
                   help="duckdb (default) or spark (pip install -r requirements-spark.txt)")
    p.add_argument("--spark-master", help="Spark master URL (default local[2])")


def _range(args, store: Store, con) -> tuple[date, date]:
    """--start and --end, by default the 30 days ending on the latest day with data."""
    end = args.end
    if end is None:
        span = data_span(con)
        if span is None:
            raise ValueError(f"the store {store.path} is empty; give --end or ingest data")
        end = span[1]
    return args.start or end - timedelta(days=29), end


def _kpi(args) -> int:
    kpi = get(args.name)
    store = Store(store_path(args.store))
    con = connect(store, args.engine, args.spark_master)
    start, end = _range(args, store, con)
    filters = _filters(args, start, end)
    df = run(con, kpi, filters, args.by)
    known = caveats.facts(con)
    # A figure the store cannot give, or not meaningful, is null with the reason; one still
    # inside its return window says it is not final (kpilib/caveats.py).
    why = caveats.reason(kpi, known, start, end, filters)
    if why and kpi.table:
        print(f"note: {why}", file=sys.stderr)
        df = df.iloc[0:0]
    unmatched = caveats.unmatched_refunds(kpi, known)
    if unmatched:   # the columns refunds cannot fill left out, not shown as nothing refunded
        print(f"note: {unmatched[1]}", file=sys.stderr)
        df = df.drop(columns=list(unmatched[0]))
    df = caveats.mark_final(kpi, df, start, end, known.as_of,
                            store.settings["return_window_days"], args.by)
    if not kpi.table:
        # Each period's own days: April without a users column has no users, March has.
        days = [(max(p, start), caveats.period_end(p, args.by, end)) for p in df["period"]] \
            if "period" in df else [(start, end)] * len(df)
        reasons = [why or caveats.reason(kpi, known, *d) or caveats.value_reason(kpi, v)
                   for v, d in zip(df["value"], days)]
        if any(reasons):
            df["value"] = [None if r else v for v, r in zip(df["value"], reasons)]
            df["reason"] = reasons
        # A sum of some days only (the others' export lacks the column) says which; a figure
        # of orders whose last days have none, that the export may end early.
        gap = caveats.trailing_gap(known, start, end) if "orders" in caveats.needs(kpi) \
            else None
        notes = [None if r else caveats.partial_note(kpi, known, *d)
                 or caveats.spend_note(kpi, known, *d)
                 or (caveats.gap_note(known, start, end) if gap and gap.touches(*d) else None)
                 for r, d in zip(reasons, days)]
        if any(notes):
            df["note"] = notes
    if "period" in df:
        df["period"] = df["period"].map(date.isoformat)
    if kpi.unit == "money" and not kpi.table:
        df["value"] = df["value"].astype("float64").round(2)
    records = [{k: _plain(v) for k, v in rec.items()} for rec in df.to_dict("records")]
    if args.format == "json":
        print(json.dumps(records, ensure_ascii=False))
    else:
        # Often opened in a spreadsheet: no cell may run there (kpilib.export).
        export.neutralise(df).to_csv(sys.stdout, index=False)
    return 0


def _sql(args) -> int:
    kpi = get(args.name)
    store = Store(store_path(args.store))
    start, end = _range(args, store, connect(store))
    print(script(kpi, _filters(args, start, end), args.by), end="")
    return 0


def _alerts(args) -> int:
    store = Store(store_path(args.store))
    con = connect(store)
    start, end = _range(args, store, con)
    f = Filters(start, end, tuple(args.channel))   # checks the range
    history = replace(f, start=alerts.history_start(start))
    series = {n: run(con, get(n), history, "day") for n in alerts.WATCHED}
    df = alerts.unusual_days(series, alerts.first_days(con), start, end, args.channel)
    df["day"] = df["day"].map(date.isoformat)
    # Cents and hundredths of an order are enough for a message; rates keep their decimals.
    digits = [6 if get(n).unit == "ratio" else 2 for n in df["kpi"]]
    for c in ("value", "low", "high", "expected"):
        df[c] = [round(float(v), d) for v, d in zip(df[c], digits)]
    df = df.drop(columns="distance")
    if args.format == "json":
        print(json.dumps([{k: _plain(v) for k, v in rec.items()}
                          for rec in df.to_dict("records")], ensure_ascii=False))
    else:
        export.neutralise(df).to_csv(sys.stdout, index=False)
    return 0


def _explain(args) -> int:
    from . import explain

    kpi = get(args.name)
    store = Store(store_path(args.store))
    con = connect(store)
    start, end = _range(args, store, con)
    f = _filters(args, start, end)
    out = explain.explain(con, kpi.name, f, explain.compared_filters(f, args.compare),
                          window_days=store.settings["return_window_days"],
                          dimensions=tuple(args.by) if args.by else None,
                          currency=reporting_currency(store))
    if args.format == "text":
        print(explain.text(out, reporting_currency(store)))
        return 0
    print(json.dumps(_json(out), ensure_ascii=False))
    return 0


def _json(v):
    """``v`` (dicts and lists of plain values) as JSON values (:func:`_plain`)."""
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    return _plain(v)


def _plain(v):
    """A JSON value: dates as YYYY-MM-DD, no NaN (null), numbers as numbers."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "isoformat"):
        text = v.isoformat()
        return text[:10] if text.endswith("T00:00:00") or len(text) == 10 else text
    if hasattr(v, "item"):  # numpy scalars
        return _plain(v.item())
    if isinstance(v, (int, float, str, bool)):
        return v
    return float(v)  # Decimal


def _forecast(args) -> int:
    store = Store(store_path(args.store))
    con = connect(store)
    as_of = args.as_of
    if as_of is None:
        span = data_span(con)
        if span is None:
            raise ValueError(f"the store {store.path} is empty; give --as-of or ingest data")
        as_of = min(span[1], forecast.month_end(forecast.first_day(args.month)))
    f = Filters(as_of, as_of, tuple(args.channel))
    print(json.dumps(forecast.forecast(con, args.name, args.month, as_of, f).as_dict(),
                     ensure_ascii=False))
    return 0


def _report(args) -> int:
    from pathlib import Path

    from .report import build

    store = Store(store_path(args.store))
    html = build(connect(store, args.engine, args.spark_master), args.month,
                 currency=reporting_currency(store),
                 shop=store.settings.get("shop_name"),
                 goals=targets.from_settings(store.settings),
                 window_days=store.settings["return_window_days"])
    Path(args.out).write_text(html, encoding="utf-8")
    print(f"report for {args.month} written to {args.out} ({len(html) // 1024:,} KB)")
    return 0


def _list(args) -> int:
    for k in KPIS.values():
        print(f"{k.name} ({k.unit}) - {k.label}: {k.definition}")
    return 0


def _glossary(args) -> int:
    from .registry import glossary_markdown

    print(glossary_markdown(), end="")
    return 0


COMMANDS = {"demo": _demo, "ingest": _ingest, "kpi": _kpi, "sql": _sql, "alerts": _alerts,
            "list": _list, "glossary": _glossary, "undo": _undo, "delete": _delete, "report": _report}
COMMANDS["forecast"] = _forecast
COMMANDS["explain"] = _explain

if __name__ == "__main__":
    sys.exit(main())
