"""Small helpers shared by the KPI tests."""
from __future__ import annotations

import hashlib
import io
import math
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path

import pandas as pd

from kpilib import Filters, get, run

FEB = Filters(date(2025, 2, 1), date(2025, 2, 28))
MAR = Filters(date(2025, 3, 1), date(2025, 3, 31))
JAN = Filters(date(2025, 1, 1), date(2025, 1, 31))


_CONNECTIONS: dict = {}


def connection(store):
    """One connection per store version, kept: opening one (the views, the small tables) costs
    more than most of the queries the big parametrized tests run on it."""
    key = (str(store.path), store.version, repr(sorted(store.settings.items())))
    if key not in _CONNECTIONS:
        if len(_CONNECTIONS) >= 8:
            _CONNECTIONS.pop(next(iter(_CONNECTIONS))).close()
        _CONNECTIONS[key] = store.connect()
    return _CONNECTIONS[key]


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


ROOT = Path(__file__).resolve().parent.parent


def cli(*args, ok: bool = True) -> subprocess.CompletedProcess:
    """``python -m kpilib ARGS`` run in this process (``kpilib.__main__.main``, as the module
    runs it): its exit code, standard output and error, without a second of Python start-up per
    call. An exception the command line would have let out fails the test here too.
    ``cli_process`` runs the real thing."""
    from kpilib.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:   # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    p = subprocess.CompletedProcess(["python", "-m", "kpilib", *map(str, args)], code,
                                    out.getvalue(), err.getvalue())
    assert (p.returncode == 0) == ok, p.stderr
    return p


def cli_process(*args, ok: bool = True) -> subprocess.CompletedProcess:
    """``python -m kpilib ARGS`` in a process of its own, from the project's folder."""
    p = subprocess.run([sys.executable, "-m", "kpilib", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert (p.returncode == 0) == ok, p.stderr
    return p


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


# A shop whose first order is on 1 Jan 2025, for a baseline with little order history: March
# 2025 has 59 days before it (31 + 28), March 2026 a year and more. March 2025: alice
# returning (o1), bob and carol new: 1 / 3. February 2026: dave new: 0 / 1. March 2026: alice
# returning, erin new: 1 / 2.
THIN_HISTORY_ORDERS = """order_id,ordered_at,customer_id,status,gross_sales,discounts
o1,2025-01-01 10:00,alice,paid,10,0
o2,2025-03-10 10:00,alice,paid,10,0
o3,2025-03-12 10:00,bob,paid,10,0
o4,2025-03-20 10:00,carol,paid,10,0
o5,2026-02-05 10:00,dave,paid,10,0
o6,2026-03-03 10:00,alice,paid,10,0
o7,2026-03-31 10:00,erin,paid,10,0
"""
THIN_HISTORY_SAID = ("1 Mar – 31 Mar 2025 had only 2 months of orders stored before it, where "
                     "this period has a year: more of its customers count as new.")


def thin_history_store(folder: Path):
    from kpilib import Store
    from kpilib.ingest import ingest
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.csv").write_text(THIN_HISTORY_ORDERS)
    store = Store(folder / "store")
    ingest(store, [folder / "orders.csv"])
    return store
