"""Small helpers shared by the KPI tests."""
from __future__ import annotations

import hashlib
import math
from datetime import date
from pathlib import Path

import pandas as pd

from kpilib import Filters, get, run

FEB = Filters(date(2025, 2, 1), date(2025, 2, 28))
MAR = Filters(date(2025, 3, 1), date(2025, 3, 31))
JAN = Filters(date(2025, 1, 1), date(2025, 1, 31))


def only(f: Filters, *channels: str) -> Filters:
    return Filters(f.start, f.end, channels)


def both(con, name: str, f: Filters, by=None):
    """The KPI read from the rollups (when it can) and from the rows: they must agree exactly."""
    fast, rows = run(con, get(name), f, by), run(con, get(name), f, by, rollups=False)
    if get(name).table:   # rows tied on the sort order may come in either order
        fast, rows = (d.sort_values(list(d.columns), ignore_index=True) for d in (fast, rows))
    pd.testing.assert_frame_equal(fast, rows, check_exact=False, rtol=1e-12, atol=1e-9)
    return fast


def total(store, name: str, f: Filters) -> float | None:
    v = both(store.connect(), name, f)["value"].iat[0]
    return None if math.isnan(v) else v


def grouped(store, name: str, f: Filters, by: str) -> dict:
    df = both(store.connect(), name, f, by)
    key = "period" if by in ("day", "week", "month") else by
    return {k: (None if math.isnan(v) else v) for k, v in zip(df[key], df["value"])}


def check(actual, expected):
    if expected is None:
        assert actual is None
    else:
        assert actual is not None and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9), \
            (actual, expected)


# Stores written and compared by the store's tests (test_store*.py).
def snapshot(store) -> dict:
    """Every file of the store with its content hash: 'byte-identical' made checkable."""
    return {str(p.relative_to(store.path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.path.rglob("*")) if p.is_file()}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ORDER_HEADER = "order_id,ordered_at,customer_id,channel,status,gross_sales,discounts\n"


def without_version(m: dict) -> dict:
    """The manifest's record of the data: rollups are rebuilt (new files, same rows) and
    compared by their contents where it matters."""
    rows = {name: {month: p["rows"] for month, p in parts.items()}
            for name, parts in m.get("rollups", {}).items()}
    return {**{k: v for k, v in m.items() if k not in ("version", "rollups")},
            "rollup_rows": rows}
