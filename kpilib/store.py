"""The store: one folder of Parquet files (one per table per month) and a manifest.

Layout::

    <store>/manifest.json                              the only source of truth for what is stored
    <store>/parts/<table>/month=YYYY-MM/part-<txn>.parquet
    <store>/.staging/<txn>/...                         files of an ingest not yet committed
    <store>/cache/memory-<key>.duckdb                  the small tables, for a fast connect

A write stages every new partition file, moves the files into ``parts/`` under fresh names (never
over an existing file), and commits by atomically replacing ``manifest.json``. Until that replace,
readers and the manifest still see the previous store; files left behind by an interrupted write
are not referenced by the manifest and are removed by :meth:`Store.recover`. Replaced partition
files are kept (referenced from the ingest log) so the last ``undo_uploads`` uploads (a setting)
can be undone exactly; older ones no longer can, and the files only they referred to go, as do
superseded rollups (an undo rebuilds its rollups).

One writer at a time: a write holds ``write.lock`` (its pid, host and start time) from start to
commit. Another waits :data:`LOCK_WAIT` seconds, then is refused (:class:`StoreBusy`); the lock
of a process that died is taken over. Readers never wait.

``cache/`` holds derived data only: a DuckDB database of the small tables and rollups a
connection reads (:data:`IN_MEMORY`), named by what it was built from, rebuilt when that
changes and safe to delete.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from .formatting import plural
from .rollups import (CANCELLED_AS_SALES, CUSTOMER_FIRST_OF, CUSTOMER_NO_STEP,
                      CUSTOMER_ORDERS_OF, ROLLUP_VIEWS, ROLLUPS, SECOND_ORDERS, stale)
from .schema import TABLES

MANIFEST = "manifest.json"
SETTINGS = "settings.json"
MAPPINGS = "mappings.json"
# cancelled_orders: "excluded" (they count only in the cancellation rate) or "shopify" (a sale
# on the order day, returned whole on the day it was cancelled).
CANCELLED_ORDERS = ("excluded", "shopify")
# undo_uploads: how many of the last uploads (and deletions) can be undone; the files only
# older ones could restore are deleted.
DEFAULT_SETTINGS = {"timezone": "UTC", "currency": "EUR", "return_window_days": 30,
                    "cancelled_orders": "excluded", "undo_uploads": 10}
LOCK = "write.lock"
# Seconds a second writer waits for the first to finish before it is refused: a tiny upload,
# not a large shop's (minutes), whose user is better told than left waiting.
LOCK_WAIT = 10.0
FORMAT = 1
# Read into memory when the app connects: small however large the shop (a row per day ×
# channel × device, per campaign, per SKU, per customer).
IN_MEMORY = {"traffic", "marketing_spend", "products", "orders_daily", "refunds_daily",
             "valid_orders_daily", "units_daily", "shipping_daily", "category_daily",
             "sku_month", "stock_lost_monthly", "sku_cum", "product_cum", "product_names",
             "second_orders_daily", "snapshot_days",
             "acquisitions", "stock_daily", "sku_info", "stock_monthly", "sku_monthly",
             "cohort_orders", "valid_refunds", "customer_orders_daily",
             "rfm_daily"}
# Rollups held in memory without the columns only other rollups' builds read: the customer
# KPIs scan a customer's every order, 2 M rows for a large shop, several times a page.
IN_MEMORY_NARROW = {"customer_orders": ("order_id", "gross_sales", "discounts")}
UNPARTITIONED = "all"
# The database file those tables are kept in between connections (Store._memory_file): its
# name changes with what it holds, this format and DuckDB's version (a newer DuckDB may write
# a file an older one cannot read).
CACHE = "cache"
CACHE_FORMAT = 2   # 2: marketing_spend has conversions
# The share of Store.write's progress given to the tables, the rest to the rollups (the demo
# shop: ~0.6 s of CPU against ~2 s).
TABLES_SHARE = 0.25

# Derived views, built from code constants only. `day` is the shop-time calendar day every KPI
# filters and groups on, whatever the table's own date column is called.
DERIVED_VIEWS = (
    "create macro in_filter(x, lst) as (len(lst) = 0 or list_contains(lst, x))",
    # n: the number of rows, 1 here and the count of rows summed in the rollups, so a KPI
    # written with sum(n) reads either (see rollups.py).
    # shipped / shipped_<n>d: 1 when shipped (within n × 24 hours), for sums that the daily
    # rollup keeps too.
    # guests: 1 for an order without a customer id (guest checkout).
    """create view orders as
       select *, cast(ordered_at as date) as day, 1 as n, (customer_id is null)::int as guests,
              (shipped_at is not null)::int as shipped,
              coalesce((shipped_at - ordered_at <= interval 1 day)::int, 0) as shipped_1d,
              coalesce((shipped_at - ordered_at <= interval 2 day)::int, 0) as shipped_2d,
              coalesce((shipped_at - ordered_at <= interval 5 day)::int, 0) as shipped_5d
       from _orders""",
    # The orders that count: all but cancelled ones, or all under Shopify's convention.
    "create view valid_orders as select * from orders "
    f"where status <> 'cancelled' or {CANCELLED_AS_SALES}",
    # Shipped valid orders and how long they took, to the hour (the fulfilment-time median is
    # then read from a histogram: rollup shipping_daily).
    """create view shipping_times as
       select day, channel, device,
              round(date_diff('second', ordered_at, shipped_at) / 3600)::int as hours, 1 as n
       from valid_orders where shipped_at is not null""",
    "create view order_items as select * from _order_items",
    "create view refunds as select *, cast(refunded_at as date) as day, 1 as n from _refunds",
    "create view traffic as select *, date as day from _traffic",
    "create view inventory as select *, date as day from _inventory",
    "create view products as select * from _products",
    # Spend channels renamed by the channel-mapping setting ('facebook' → 'paid_social').
    """create view marketing_spend as
       select s.* exclude (channel), coalesce(m.to_channel, s.channel) as channel, s.date as day
       from _marketing_spend s left join channel_map m on m.from_channel = s.channel""",
    # First valid order over the whole history: new/returning customers and the acquisition
    # channel must never be derived from the filtered window. (A rollup: see rollups.py.)
    "customer_first",
    # Refunds count against the order's channel; refunds of cancelled orders are not returns
    # (the order never counted as a sale, or, under Shopify's convention, it is returned whole
    # on its cancellation day instead). A refund whose order is not stored still counts.
    # (A rollup, with the order's day and customer.)
    "valid_refunds",
    # Customers by the day and channel of their first order, with the days to their second
    # (rollup: second_orders_daily).
    SECOND_ORDERS,
    # Valid orders of identified customers; `channel` is the customer's acquisition channel, so
    # the channel filter selects customers by where they came from. (A rollup.)
    "customer_orders",
    # Order lines of valid orders, with each line's share of its order's discount (by line
    # value), for sales by product and category. (A rollup.)
    "sales_lines",
    # Each refund spread over the lines it concerns: the refunded SKU's lines when the refund
    # names one, else every line of the order, by line value. A refund whose lines are not
    # stored keeps its whole amount (category 'uncategorised'), so totals never change.
    # (A rollup.)
    "refund_lines",
    # One stock level per SKU and day: snapshots (daily, weekly or a single one) carried
    # forward to the latest snapshot date, so stock-outs are counted on every day. (A rollup.)
    "inventory_daily",
    # Every SKU that is stocked, sold or listed, with its name, category, cost and price.
    # (A rollup.)
    "sku_info",
    # Each SKU-day with its category and whether it was out of stock (rollup: stock_daily).
    """create view stock_days as
       select d.day, i.category, 1 as n, (d.on_hand <= 0)::int as stockouts, i.sku,
              i.product_name
       from inventory_daily d join sku_info i using (sku)""",
    # Each valid order with what was refunded on it, whenever (rollup: orders_daily).
    """create view order_returns as
       select o.day, o.channel, o.device, o.country, o.discount_code, 1 as n, o.gross_sales,
              coalesce(r.refunded, 0) as refunded, (r.order_id is not null)::int as refunded_orders
       from valid_orders o
       left join (select order_id, sum(amount) as refunded from valid_refunds group by order_id) r
         using (order_id)""",
    # Valid orders' goods by category (sales figures under a category filter): each order
    # line's value and share of the order's discount, and the goods of an order its stored
    # lines do not account for (no lines, or lines summing to another gross) 'uncategorised',
    # so the categories' parts add up to the whole. Joined on the day too (a line's day is its
    # order's): a period's filter then reaches both sides, not a sum over every order ever
    # (2 s → 0.3 s at 0.25 scale, 500 k orders). Each line's share of a discount as an exact
    # decimal (to 1e-10): summed as floats, in whatever order the threads meet, the same
    # discounts came to 72.3 or 72.30000000000001 from one run to the next.
    """create view category_sales as
       select l.order_id, l.day, l.channel, l.device, o.country, o.discount_code, l.category,
              l.line_value as gross_sales,
              coalesce(l.discount_share, 0)::decimal(38, 10) as discounts, l.sku
       from sales_lines l
       join (select order_id, day, country, discount_code from valid_orders) o
         using (order_id, day)
       union all
       select o.order_id, o.day, o.channel, o.device, o.country, o.discount_code,
              'uncategorised',
              o.gross_sales - coalesce(l.gross, 0), o.discounts - coalesce(l.discounts, 0),
              null
       from valid_orders o
       left join (select order_id, day, sum(line_value) as gross,
                         sum(coalesce(discount_share, 0)::decimal(38, 10)) as discounts
                  from sales_lines group by order_id, day) l using (order_id, day)
       where l.order_id is null or o.gross_sales <> l.gross
          or abs(o.discounts - l.discounts) >= 0.005""",
    # Refunded goods by line (refunds by category or product), each line's share of a refund
    # as an exact decimal, for the same reason.
    """create view refund_goods as
       select refund_id, order_id, day, order_day, channel, sku, reason, category,
              amount::decimal(38, 10) as amount
       from refund_lines""",
)


# The stored tables each view reads, for cache keys (Kpi.tables).
READS = {
    "orders": {"orders"}, "valid_orders": {"orders"}, "order_items": {"order_items"},
    "refunds": {"refunds"}, "valid_refunds": {"refunds", "orders"}, "traffic": {"traffic"},
    "inventory": {"inventory"}, "products": {"products"},
    "marketing_spend": {"marketing_spend"}, "customer_first": {"orders"},
    "customer_orders": {"orders", "refunds"},
    "sales_lines": {"order_items", "orders", "products"},
    "refund_lines": {"refunds", "orders", "order_items", "products"},
    "inventory_daily": {"inventory"}, "sku_info": {"inventory", "order_items", "products"},
    "stock_days": {"inventory", "order_items", "products"},
    "order_returns": {"orders", "refunds"}, "stock_monthly": {"inventory"},
    "category_sales": {"orders", "order_items", "products"},
    "refund_goods": {"refunds", "orders", "order_items", "products"},
    "sku_sales_monthly": {"orders", "order_items", "inventory"},
    "sku_sales_daily": {"orders", "order_items", "inventory"},
    "sku_monthly": {"orders", "order_items", "inventory"},
    "product_monthly": {"orders", "order_items", "products", "refunds"},
    "orders_daily": {"orders", "refunds"}, "refunds_daily": {"orders", "refunds"},
    "valid_orders_daily": {"orders", "refunds"}, "shipping_times": {"orders"},
    "second_orders": {"orders"}, "second_orders_daily": {"orders"},
    "sku_cum": {"orders", "order_items", "inventory"},
    "sku_month": {"orders", "order_items", "inventory"},
    "stock_lost_monthly": {"orders", "order_items", "inventory", "products"},
    "sku_running": {"orders", "order_items", "inventory"},
    "snapshot_days": {"inventory"},
    "product_cum": {"orders", "order_items", "products", "refunds"},
    "product_names": {"orders", "order_items", "products", "refunds"},
    "shipping_daily": {"orders"},
    "product_daily": {"orders", "order_items", "products", "refunds"},
    "category_daily": {"orders", "order_items", "products", "refunds"},
    "units_daily": {"orders", "order_items", "products"},
    "stock_daily": {"inventory", "order_items", "products"},
    "cohort_orders": {"orders", "refunds"}, "acquisitions": {"orders"},
    "customer_orders_daily": {"orders"}, "rfm_daily": {"orders", "refunds"},
}


def _created(sql: str) -> str:
    """The view, macro or rollup a DERIVED_VIEWS entry creates."""
    m = re.match(r"\s*create (?:view|macro) (\w+)", sql)
    return m.group(1) if m else sql


# What each view, macro and rollup refers to, for the connections that need only some.
_BODIES = {**{_created(v): v for v in DERIVED_VIEWS if v not in ROLLUPS},
           **{name: r.sql for name, r in ROLLUPS.items()}}


@lru_cache(maxsize=256)
def _closure(sql: str) -> frozenset[str]:
    """The views, macros, rollups and stored tables (`_orders`…) ``sql`` reads, transitively."""
    names = set(_BODIES) | {"_" + t for t in TABLES} | {"channel_map", "conventions"}
    found, todo = set(), [sql]
    while todo:
        for name in re.findall(r"\b[a-z_][a-z0-9_]*\b", todo.pop()):
            if name in names and name not in found:
                found.add(name)
                todo.append(_BODIES.get(name, ""))
    return frozenset(found)


@lru_cache(maxsize=None)
def definition(name: str, cancelled: str = DEFAULT_SETTINGS["cancelled_orders"]) -> str:
    """Changes when the rollup's SQL does, or that of a view or rollup it reads, or the
    convention for cancelled orders where it reads it: a rollup stored under another definition
    (by an older version, or before the setting changed) is not read, and is rebuilt by the
    next write or refresh."""
    import hashlib

    reads = sorted(_closure(ROLLUPS[name].sql) - {name})
    # A stored table by its columns: one added to the contract is in a rollup reading `*`.
    text = ROLLUPS[name].sql + "".join(
        definition(n, cancelled) if n in ROLLUPS
        else f"conventions(cancelled_orders={cancelled})" if n == "conventions"
        else _BODIES.get(n) or _columns(n) for n in reads)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _columns(name: str) -> str:
    table = TABLES.get(name.removeprefix("_"))
    return name if table is None else f"{name}({', '.join(table.names)})"


def current(manifest: dict, settings: dict | None = None) -> dict[str, dict]:
    """The stored rollups built with today's definitions, the store's ``settings`` and
    today's layout (the ones a connection may read): one stored as a single file and now
    partitioned by month, or the reverse, is rebuilt whole, never added to month by month."""
    defs = manifest.get("rollup_defs", {})
    cancelled = {**DEFAULT_SETTINGS, **(settings or {})}["cancelled_orders"]
    return {n: parts for n, parts in manifest.get("rollups", {}).items()
            if n in ROLLUPS and defs.get(n) == definition(n, cancelled)
            and (UNPARTITIONED in parts) != ROLLUPS[n].partitioned}


@lru_cache(maxsize=1024)
def tables_read(sql: str) -> frozenset[str]:
    """The stored tables a query reads, through the views it names."""
    import re

    names = set(re.findall(r"\b(?:from|join)\s+([a-z_]+)", sql))
    return frozenset().union(*(READS.get(n, set()) for n in names))


# Each table's main measure, for the before/after diff of an upload.
MEASURES = {
    "orders": ("sales (gross − discounts)",
               "sum(gross_sales - discounts) filter (where status <> 'cancelled')"),
    "order_items": ("units", "sum(quantity)"),
    "refunds": ("returns", "sum(amount)"),
    "traffic": ("sessions", "sum(sessions)"),
    "inventory": ("units on hand", "sum(on_hand)"),
    "marketing_spend": ("spend", "sum(spend)"),
}


def _next_month(month: str) -> str:
    y, m = map(int, month.split("-"))
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


@contextmanager
def _scratch(con: duckdb.DuckDBPyConnection):
    """An empty in-memory database, current on ``con`` for one rollup build, then dropped
    with what the build created: attaching one costs ~0.3 ms, a new connection ~11 ms, and
    an upload builds some forty rollups and months."""
    name = f"_build_{uuid.uuid4().hex[:12]}"   # hex digits only: safe as an identifier
    con.execute(f"attach ':memory:' as {name}")
    con.execute(f"use {name}")
    try:
        yield
    finally:
        con.execute("use memory")
        con.execute(f"detach {name}")
        con.execute("reset threads")   # an ordered rollup is written on one (_computed)


def read_stored(con: duckdb.DuckDBPyConnection, paths: list[str], name: str):
    """The Parquet files of ``name`` (a stored table as ``_orders``, or a rollup) as one
    relation. A table's files written before an optional column was added to the contract lack
    it: read by name, and the column is null in them (and everywhere, if every file lacks it)."""
    table = TABLES.get(name.removeprefix("_")) if name.startswith("_") else None
    if table is None:
        return con.read_parquet(paths)
    rel = con.read_parquet(paths, union_by_name=True)
    have = set(rel.columns)
    if all(c.name in have for c in table.columns):
        return rel
    return rel.project(", ".join(c.name if c.name in have else f"cast(null as {c.type}) as {c.name}"
                                 for c in table.columns))


def _load(con: duckdb.DuckDBPyConnection, loads: list[tuple[list[str], str]]) -> None:
    """Each (Parquet files, name) of ``loads`` as a table of ``con``'s database, read side by
    side, largest first: two cores load a large shop's ~25 tables in ~0.7 s instead of
    ~0.95 s."""
    def load(paths_name: tuple[list[str], str]) -> None:
        paths, name = paths_name
        cur = con.cursor()
        try:
            # A relation, not SQL text: paths never have to be quoted into a query.
            rel = read_stored(cur, paths, name)
            if name in IN_MEMORY_NARROW:
                rel = rel.project(duckdb.StarExpression(exclude=IN_MEMORY_NARROW[name]))
            rel.create(name)
        finally:
            cur.close()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(load, sorted(loads, key=lambda pn: -sum(map(os.path.getsize, pn[0])))))


def _month_of(path: str) -> str | None:
    m = re.search(r"[/\\]month=(\d{4}-\d{2})[/\\]", path)
    return m.group(1) if m else None


def _months_changed(name: str, before: list[str] | None, after: list[str]
                    ) -> tuple[set[str], list[str]] | None:
    """A rollup partitioned by month of which an upload changed a few months: those months,
    and their files now (Store._memory_file reloads only them). None: load it whole (a table,
    a rollup in one file, or most of its months changed)."""
    if before is None or name not in ROLLUPS or not ROLLUPS[name].partitioned:
        return None
    old, new = ({_month_of(p): p for p in paths} for paths in (before, after))
    if None in old or None in new:
        return None
    changed = {m for m in old.keys() | new.keys() if old.get(m) != new.get(m)}
    if 2 * len(changed) > len(new):
        return None
    return changed, [new[m] for m in sorted(changed) if m in new]


def _reload_months(con, name: str, months: set[str], paths: list[str]) -> None:
    """The rows of ``months`` of table ``name`` (a partitioned rollup, by ``day``) taken out,
    those of ``paths`` (the months' files now) put in."""
    for m in sorted(months):
        # name: a rollup's name (a code constant).
        con.execute(f"delete from {name} where day >= $lo and day < $hi",
                    {"lo": date.fromisoformat(m + "-01"),
                     "hi": date.fromisoformat(_next_month(m) + "-01")})
    if paths:
        rel = read_stored(con, paths, name)
        if name in IN_MEMORY_NARROW:
            rel = rel.project(duckdb.StarExpression(exclude=IN_MEMORY_NARROW[name]))
        rel.insert_into(name)


def _in_memory(files: dict[str, list[str]], rollups: dict[str, list[str]]
               ) -> list[tuple[list[str], str]]:
    """The (Parquet files, name) of the tables and rollups a connection keeps in memory."""
    return [(paths, "_" + t) for t, paths in files.items()
            if t in IN_MEMORY and t in TABLES and paths] + \
        [(paths, r) for r, paths in rollups.items()
         if (r in IN_MEMORY or r in IN_MEMORY_NARROW) and paths]


def _movable(spec) -> bool:
    """Whether a row of the table can move to another month: its date is not in its key."""
    return spec.date_column is not None and spec.date_column not in spec.key


def _key_range(con, spec, part: Path) -> list[str] | None:
    """The lowest and highest first key column in a partition file (Store.moves)."""
    lo, hi = con.execute(f"select min({spec.key[0]}), max({spec.key[0]}) from read_parquet($f)",
                         {"f": str(part)}).fetchall()[0]
    return None if lo is None else [lo, hi]


def _num(v):
    return None if v is None else float(v)


def empty_select(table: str) -> str:
    cols = ", ".join(f"cast(null as {c.type}) as {c.name}" for c in TABLES[table].columns)
    return f"select {cols} limit 0"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _summary(manifest: Path) -> tuple[int, bool]:
    """The manifest's version and whether the store holds nothing. The app asks for both for
    every KPI it shows (its cache key), and a large shop's manifest takes ~0.7 ms to parse:
    parsed once per content (read, ~0.05 ms, and looked up), not 250 times a page."""
    return _parsed_summary(_read(manifest))


@lru_cache(maxsize=8)
def _parsed_summary(data: bytes | None) -> tuple[int, bool]:
    if data is None:
        return 0, True
    m = json.loads(data)
    return m["version"], not any(m["tables"].values())


def _digest(settings: Path) -> str:
    return hashlib.sha256(_read(settings) or b"").hexdigest()[:12]


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rows(parquet: Path) -> int:
    """A written file's row count, from its footer: a count query costs ~2 ms a file, and a
    store's rollups are some 400 files."""
    import pyarrow.parquet

    return pyarrow.parquet.read_metadata(parquet).num_rows


def _words(name: str) -> str:
    return name.replace("_", " ")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StoreError(ValueError):
    """A write the store refused, in a sentence for the user; the store is as it was."""


class StoreBusy(StoreError):
    pass


class DiskFull(StoreError):
    pass


def disk_full(e: BaseException) -> bool:
    """Python's ENOSPC, or DuckDB's IO error saying it (in its text only)."""
    return (isinstance(e, OSError) and e.errno == errno.ENOSPC) or \
        (isinstance(e, duckdb.Error) and "No space left on device" in str(e))


DISK_FULL = ("The disk is full: the upload could not be written, and nothing was stored (the "
             "data is as it was). Free some disk space, then try again.")


def alive(pid: int, since: float | None = None) -> bool:
    """Whether process ``pid`` still runs (and, if ``since`` is given, is the one that was
    running then, not a later process given the same number)."""
    if not isinstance(pid, int) or pid <= 0:   # 0 and -1 would mean process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:   # Windows: no such process
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True   # not Linux: the pid is all there is to go on
    if stat[0] == "Z":   # killed, not yet reaped by its parent
        return False
    if since is not None:
        boot = next(float(line.split()[1]) for line in
                    Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
        started = boot + int(stat[19]) / os.sysconf("SC_CLK_TCK")
        return started <= since + 1
    return True


def _holder(lock: Path) -> dict | None:
    """Who holds the lock (pid, host, since), or None when nobody does."""
    try:
        return json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}   # unreadable: never written by this version, so not taken over


# The stores each thread holds the lock of, and how deeply (a write calls recover, which
# takes it too).
_HELD = threading.local()


def _locked(method):
    """``method`` writes: it holds the store's write lock, and a full disk is said first."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.writing():
            try:
                return method(self, *args, **kwargs)
            except (OSError, duckdb.Error) as e:
                if disk_full(e):
                    raise DiskFull(DISK_FULL) from e
                raise
    return locked


@dataclass
class Source:
    """A file that contributed rows: shown in the data inventory, used to spot re-uploads."""
    name: str
    sha256: str
    table: str
    rows: int
    months: list[str] = field(default_factory=list)


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # --- reading ---------------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        try:
            with open(self.path / MANIFEST, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {"format": FORMAT, "version": 0, "tables": {}, "ingests": []}

    @property
    def settings(self) -> dict:
        """Shop settings kept with the data (timezone, reporting currency)."""
        try:
            with open(self.path / SETTINGS, encoding="utf-8") as f:
                return {**DEFAULT_SETTINGS, **json.load(f)}
        except FileNotFoundError:
            return dict(DEFAULT_SETTINGS)

    @property
    def version(self) -> int:
        """Increases with every commit: the UI's cache key."""
        return _summary(self.path / MANIFEST)[0]

    def is_empty(self) -> bool:
        return _summary(self.path / MANIFEST)[1]

    def files(self, table: str, manifest: dict | None = None,
              months: set[str] | None = None) -> list[Path]:
        """The table's stored files, of ``months`` only if given."""
        parts = (manifest or self.manifest)["tables"].get(table, {})
        return [self.path / p["file"] for m, p in sorted(parts.items())
                if months is None or m in months]

    def months(self, table: str) -> dict[str, int]:
        return {m: p["rows"] for m, p in sorted(self.manifest["tables"].get(table, {}).items())}

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per canonical table, the derived views
        (read from their rollups when the store has them) and the `rollup` schema."""
        manifest = self.manifest
        return self._open(self._files(manifest["tables"]),
                          self._files(current(manifest, self.settings)), memory=True)

    def _memory_path(self, loads: list[tuple[list[str], str]]) -> Path:
        key = hashlib.sha256(json.dumps(
            [CACHE_FORMAT, duckdb.__version__, sorted(IN_MEMORY_NARROW.items()),
             sorted((name, [os.path.relpath(p, self.path) for p in paths])
                    for paths, name in loads)]).encode()).hexdigest()[:20]
        return self.path / CACHE / f"memory-{key}.duckdb"

    def _memory_file(self, loads: list[tuple[list[str], str]],
                     previous: list[tuple[list[str], str]] | None = None) -> Path | None:
        """A DuckDB file holding ``loads`` (the Parquet files of each table or rollup kept in
        memory), built on the first connect that needs it — or by the write that changed them
        (:meth:`_refresh_cache`), from the file of ``previous`` (the loads before it) with only
        the tables whose files changed loaded again. Built once per upload, ~1.6 s for a large
        shop against the ~0.8 s of loading them into memory, which every other connect then
        saves. None when it can be neither read nor written (a read-only store): the tables
        are then loaded into memory."""
        final = self._memory_path(loads)
        folder = final.parent
        if final.exists():
            return final
        tmp = folder / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            folder.mkdir(exist_ok=True)
            old = self._memory_path(previous) if previous else None
            todo = loads
            if old is not None and old.exists():
                shutil.copyfile(old, tmp)
                kept = {name: paths for paths, name in previous}
                todo = [(paths, name) for paths, name in loads if kept.get(name) != paths]
            con = self._connect(str(tmp))
            try:
                if todo is not loads:
                    months = {n: _months_changed(n, kept.get(n), paths) for paths, n in todo}
                    # name: a canonical table or rollup name (code constants).
                    for name in ({n for _, n in previous} - {n for _, n in loads}) | \
                            {n for n, m in months.items() if m is None}:
                        con.execute(f"drop table if exists {name}")
                    for name, changed in months.items():
                        if changed is not None:
                            _reload_months(con, name, *changed)
                    todo = [(paths, n) for paths, n in todo if months[n] is None]
                _load(con, todo)
                con.execute("checkpoint")
            finally:
                con.close()
            # Another process may have built the same file meanwhile: either is right.
            os.replace(tmp, final)
        except (OSError, duckdb.Error):
            for f in (tmp, Path(f"{tmp}.wal")):
                try:
                    f.unlink(missing_ok=True)
                except OSError:
                    pass
            return None
        for old in folder.iterdir():
            # The files of earlier uploads (a connection that has one open keeps reading it;
            # not on Windows), and what a process killed while building left (an hour old:
            # not one another process is writing now).
            try:
                if old != final and (old.name.startswith("memory-")
                                     or time.time() - old.stat().st_mtime > 3600):
                    old.unlink()
            except OSError:
                pass
        return final

    def _loads(self, manifest: dict) -> list[tuple[list[str], str]]:
        """The (Parquet files, name) a connection to ``manifest`` keeps in memory."""
        return _in_memory(self._files(manifest["tables"]),
                          self._files(current(manifest, self.settings)))

    def _refresh_cache(self, manifest: dict, before: dict) -> None:
        """The file of small tables for ``manifest``, made by the write from the one of
        ``before`` (only the tables it changed loaded again), so that the first reader after
        an upload does not build it (~1.6 s for a large shop, 3–8 s on a busy machine). Only
        where a reader built one before: a store nobody opened gets none."""
        try:
            previous = self._loads(before)
            if previous and self._memory_path(previous).exists():
                self._memory_file(self._loads(manifest), previous)
        except (OSError, duckdb.Error, ValueError):
            pass   # committed all the same: the next reader builds it

    def _files(self, section: dict, tmp: dict | None = None) -> dict[str, list[str]]:
        tmp = tmp or {}
        return {name: [str(tmp.get(p["file"], self.path / p["file"]))
                       for _, p in sorted(parts.items())] for name, parts in section.items()}

    @staticmethod
    def _connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(database)
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        con.execute("set parquet_metadata_cache = true")
        return con

    def _open(self, files: dict[str, list[str]], rollups: dict[str, list[str]] | None = None,
              memory: bool = False, only: str | None = None,
              con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
        """``memory``: the small tables and rollups are loaded into DuckDB's memory (tens of
        MB for a large shop) instead of being read from Parquet by every query. ``only``: a
        query; just the views and tables it reads are created (a rollup's build needs a
        connection per month it rebuilds, and binding sixty views costs ~0.1 s each time).
        ``con``: create them in its current database (see :func:`_scratch`) instead of a new
        connection's."""
        needed = _closure(only) if only is not None else None
        con = con or self._connect()
        rollups = rollups or {}
        loaded: set[str] = set()
        if memory:
            loads = _in_memory(files, rollups)
            cached = self._memory_file(loads) if loads else None
            if cached:
                try:
                    # Read from the file where they wait between connections (~0.06 s), not
                    # loaded from Parquet on every connect (~0.8 s for a large shop, which
                    # the app's first page waits for); as fast to query.
                    con.execute("attach $path as cached (read_only)", {"path": str(cached)})
                except duckdb.Error:
                    # Unreadable (cut short by a full disk, say): built again next time.
                    try:
                        cached.unlink(missing_ok=True)
                    except OSError:   # open elsewhere (Windows): the tables load into memory
                        pass
                    cached = None
            if cached:
                for _, name in loads:
                    # name: a canonical table or rollup name (code constants).
                    con.execute(f"create view {name} as from cached.main.{name}")
            else:
                _load(con, loads)
            loaded = {name for _, name in loads}

        def attach(paths: list[str], name: str):
            if name not in loaded:
                read_stored(con, paths, name).create_view(name)

        for name in TABLES:
            if needed is not None and "_" + name not in needed:
                continue
            if files.get(name):
                attach(files[name], "_" + name)
            else:
                con.execute(f"create view _{name} as {empty_select(name)}")
        settings = self.settings
        con.execute("create table channel_map (from_channel varchar, to_channel varchar)")
        for source, target in settings.get("channel_map", {}).items():
            con.execute("insert into channel_map values ($f, $t)", {"f": source, "t": target})
        con.execute("create table conventions as select $shopify as cancelled_as_sales",
                    {"shopify": settings["cancelled_orders"] == "shopify"})
        for sql in DERIVED_VIEWS + tuple(r for r in ROLLUPS if r not in DERIVED_VIEWS):
            if needed is not None and _created(sql) not in needed:
                continue
            if sql not in ROLLUPS:
                con.execute(sql)
            elif rollups.get(sql):
                attach(rollups[sql], sql)
            elif sql in rollups:
                # Built, but without rows here (a month it has no file for, when one month is
                # rebuilt): empty, never computed again from the whole history.
                con.execute(f"create view {sql} as select * from ({ROLLUPS[sql].sql}) "
                            "where false")
            else:   # not built (yet): computed on every query, the same rows
                con.execute(f"create view {sql} as {ROLLUPS[sql].sql}")
        if needed is None:
            for sql in ROLLUP_VIEWS:
                con.execute(sql)
        return con

    def data_version(self, tables: frozenset[str]) -> str:
        """Changes only when one of ``tables`` (or a setting) changes: a KPI's cache key, so an
        upload of stock snapshots keeps every cached sales figure."""
        parts = self.manifest["tables"]
        text = json.dumps({t: parts.get(t, {}) for t in sorted(tables)}, sort_keys=True)
        return hashlib.sha256(text.encode() + self.fingerprint.split("-", 1)[1].encode()
                              ).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """Changes with every commit and every settings change: the UI's cache key."""
        return f"{self.version}-{_digest(self.path / SETTINGS)}"

    def sources(self) -> list[dict]:
        return [s for ing in self.manifest["ingests"] for s in ing["sources"]]

    def seen(self, sha256: str) -> dict | None:
        """The ingest that already stored a file with this content, if any."""
        for ing in self.manifest["ingests"]:
            if any(s["sha256"] == sha256 for s in ing["sources"]):
                return ing
        return None

    # --- writing ---------------------------------------------------------------------------
    @contextmanager
    def writing(self):
        """Hold the store's write lock (see the module's docstring); re-entered freely by the
        thread holding it."""
        held = _HELD.__dict__.setdefault("stores", {})
        key = str(self.path.resolve())
        if held.get(key):
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                         "token": uuid.uuid4().hex})
        deadline = time.monotonic() + LOCK_WAIT
        while not self._take(lock, me):
            holder = _holder(lock)
            if holder is None:
                continue   # released meanwhile
            # Unreadable ({}): not one this version wrote (it links a written file in place).
            if not holder or holder.get("host") == socket.gethostname() and not alive(
                    holder.get("pid", -1), holder.get("since")):
                self._drop_stale(lock, holder)
                continue
            if time.monotonic() >= deadline:
                since = datetime.fromtimestamp(holder.get("since", 0)).strftime("%H:%M")
                raise StoreBusy(f"another upload is in progress since {since} (pid "
                                f"{holder.get('pid')}): try again when it has finished.")
            time.sleep(0.1)
        held[key] = 1
        try:
            yield
        finally:
            held[key] = 0
            if _holder(lock) == json.loads(me):
                lock.unlink(missing_ok=True)

    def _take(self, lock: Path, me: str) -> bool:
        """Create the lock file with ``me`` in it, atomically: written beside, then linked in
        its place, which fails if it exists (so no one ever reads it half written)."""
        tmp = self.path / f".{LOCK}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(me, encoding="utf-8")
        try:
            os.link(tmp, lock)
            return True
        except (FileExistsError, FileNotFoundError):   # taken; or tmp removed by recover
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _drop_stale(self, lock: Path, holder: dict) -> None:
        """Remove a dead process's lock, unless another waiter took it over meanwhile (then
        the file moved aside is theirs, and goes back)."""
        aside = self.path / f".{LOCK}.stale.{uuid.uuid4().hex[:8]}"
        try:
            os.rename(lock, aside)
        except FileNotFoundError:
            return
        if _holder(aside) != holder:
            try:
                os.link(aside, lock)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def recover(self, spare: set[str] = frozenset()) -> None:
        """Remove what an interrupted write left behind, and the files no undo can reach (a
        superseded rollup, a partition only an upload too old to undo could restore); the
        committed store is untouched. ``spare``: files kept as well (the previous manifest's,
        which a connection opened before the last commit may still read)."""
        with self.writing():
            shutil.rmtree(self.path / ".staging", ignore_errors=True)
            (self.path / f"{MANIFEST}.tmp").unlink(missing_ok=True)
            for f in self.path.glob(f".{LOCK}.*"):   # a waiter killed while it took the lock
                f.unlink(missing_ok=True)
            keep = {str(self.path / f) for f in self._referenced(self.manifest) | set(spare)}
            for folder in (self.path / "parts", self.path / "rollups"):
                if not folder.exists():
                    continue
                for f in folder.rglob("*.parquet"):
                    if str(f) not in keep:
                        f.unlink()
                for d in sorted(folder.rglob("*"), reverse=True):
                    if d.is_dir() and not any(d.iterdir()):
                        d.rmdir()

    @staticmethod
    def _referenced(manifest: dict) -> set[str]:
        files = {p["file"] for section in ("tables", "rollups")
                 for parts in manifest.get(section, {}).values() for p in parts.values()}
        for ing in manifest["ingests"]:
            for months in ing["partitions"].values():
                files.update(v["old"] for v in months.values() if v["old"])
        return files

    def _forget(self, manifest: dict) -> None:
        """Uploads before the last ``undo_uploads`` can no longer be undone: their record
        stays (what was uploaded, to spot a file sent twice), without the files it could
        restore."""
        keep = max(int(self.settings["undo_uploads"]), 0)
        for record in manifest["ingests"][:len(manifest["ingests"]) - keep]:
            if record.get("undo", True):
                record["undo"] = False
                for months in record["partitions"].values():
                    for change in months.values():
                        change["old"] = change["old_entry"] = None

    def _committed(self, manifest: dict, before: dict) -> None:
        """Commit ``manifest``, then remove what no undo can reach, but for the files
        ``before`` (the manifest it replaces) read: a connection opened on it a moment ago
        may still be reading them, until the next write."""
        self._forget(manifest)
        self._commit(manifest)
        self.recover(spare={p["file"] for section in ("tables", "rollups")
                            for parts in before.get(section, {}).values()
                            for p in parts.values()})
        self._refresh_cache(manifest, before)

    @_locked
    def write(self, con: duckdb.DuckDBPyConnection, staged: dict[str, str],
              sources: list[Source], *, after_stage=None,
              settings_update: dict | None = None, progress=None) -> dict:
        """Upsert the rows of each staged table into the store, atomically.

        ``staged`` maps a canonical table to the name of a table in ``con`` holding its new rows
        (canonical columns, typed, normalised). Rows replace stored rows with the same natural
        key; every other stored row is kept. ``after_stage`` is a test hook called once the new
        files are staged and before anything is committed. ``progress(fraction, text)`` is
        told what is being written, the fraction rising to 1.0 when it is committed.
        Returns the ingest record added to the manifest.
        """
        progress = progress or (lambda fraction, text: None)
        self.recover()
        manifest, before = self.manifest, self.manifest
        txn = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        staging = self.path / ".staging" / txn
        moves: list[tuple[Path, Path]] = []
        record = {"id": txn, "at": _now(), "sources": [vars(s) for s in sources],
                  "partitions": {}}
        try:
            staged = self._carry_lines(con, staged, manifest["tables"])
            for i, (table, source_name) in enumerate(staged.items()):
                progress(TABLES_SHARE * i / len(staged), f"Storing {_words(table)}…")
                spec = TABLES[table]
                rel_name = self._stage_view(con, table, source_name)
                stored = manifest["tables"].setdefault(table, {})
                months = self._months_of(con, rel_name, spec.date_column)
                new = {m for m in months if m and m not in stored} if spec.date_column else set()
                # Months not stored yet, in one pass when there are several (a first upload,
                # the demo shop): a query per month costs ~10 ms however small the month.
                one_pass = (self._write_months(con, spec, rel_name, new,
                                                staging / "months" / table, txn)
                            if len(new) > 1 else {})
                # The months re-dated rows leave are rewritten without them, in this commit.
                left = {m for m, _, _ in self.moves(con, table, rel_name, stored)} - \
                    set(months)
                for month in [*months, *sorted(left)]:
                    rel_part = f"parts/{table}/month={month}/part-{txn}.parquet"
                    old = stored.get(month)
                    if month in one_pass:
                        tmp, rows = one_pass[month]
                    else:
                        tmp = staging / rel_part
                        tmp.parent.mkdir(parents=True, exist_ok=True)
                        rows = self._write_partition(con, spec, rel_name, month,
                                                     self.path / old["file"] if old else None,
                                                     tmp)
                    change = record["partitions"].setdefault(table, {})[month] = {
                        "new": rel_part, "old": old["file"] if old else None,
                        "old_entry": old}
                    if month in left and rows == 0:
                        # Every row moved out: the month is gone, as after a deletion.
                        change["new"] = None
                        del stored[month]
                        continue
                    moves.append((tmp, self.path / rel_part))
                    stored[month] = {"file": rel_part, "rows": rows,
                                     "sources": sorted({*(old or {}).get("sources", []),
                                                        *(s.name for s in sources
                                                          if s.table == table)})}
                    if _movable(spec):
                        stored[month]["keys"] = _key_range(con, spec, tmp)
            changed = {t: set(ms) for t, ms in record["partitions"].items()}
            self._stage_rollups(manifest, changed, staging, txn, moves,
                                lambda f, text: progress(TABLES_SHARE + (1 - TABLES_SHARE) * f,
                                                         text), before=before)
            if after_stage:
                after_stage()
            if settings_update:
                self._save_settings(settings_update)
            for tmp, final in moves:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            manifest["version"] += 1
            manifest["ingests"].append(record)
            self._committed(manifest, before)
        except BaseException:
            self.recover()
            raise
        progress(1.0, "Stored")
        return record

    # --- rollups -----------------------------------------------------------------------------
    def _commit_rollups(self, manifest: dict, changed: dict[str, set[str]],
                        before: dict | None = None) -> None:
        """Rebuild what ``changed`` made stale and commit it with ``manifest``, atomically
        (``before``: the manifest it replaces, by default the one committed now)."""
        before = self.manifest if before is None else before
        txn = "r" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + \
            uuid.uuid4().hex[:8]
        staging = self.path / ".staging" / txn
        moves: list[tuple[Path, Path]] = []
        try:
            self._stage_rollups(manifest, changed, staging, txn, moves, before=before)
            for tmp, final in moves:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            manifest["version"] += 1
            self._committed(manifest, before)
        except BaseException:
            self.recover()
            raise

    @_locked
    def refresh_rollups(self) -> bool:
        """Build the rollups this store lacks or holds under an older definition (a store
        written by an older version); True if any were built."""
        self.recover()
        manifest = self.manifest
        if set(ROLLUPS) <= set(current(manifest, self.settings)):
            return False
        self._commit_rollups(manifest, {})
        return True

    def _stage_rollups(self, manifest: dict, changed: dict[str, set[str]], staging: Path,
                       txn: str, moves: list[tuple[Path, Path]], progress=None,
                       before: dict | None = None) -> None:
        """Write the rollups ``changed`` made stale into ``staging`` and point ``manifest`` at
        them (the caller moves and commits). A store without rollups gets all of them.
        ``progress(fraction, text)``: told before each rollup, the fraction below 1.
        ``before``: the manifest committed now, whose customer rollups are then updated for
        the customers ``changed`` touched only (:class:`_Customers`)."""
        if "rollups" not in manifest:
            changed = {t: set(parts) for t, parts in manifest["tables"].items()}
            manifest["rollups"] = {}
        tables, built = manifest["tables"], manifest["rollups"]
        todo = stale(changed)
        # A rollup added or redefined since the store was written is built whole.
        settings = self.settings
        ok = current(manifest, settings)
        customers = _Customers.of(self, before, manifest, changed,
                                  {n for n in todo if n in ok}, ok, settings)
        todo = {n: todo.get(n) if n in ok else None for n in ROLLUPS if n in todo or n not in ok}
        # Each rollup is built over the ones before it that are fresh (kept or just rebuilt),
        # so sales_lines is not recomputed to build sku_sales_monthly.
        fresh = [n for n in ROLLUPS if n in built and n not in todo]
        defs = manifest.setdefault("rollup_defs", {})
        tmp: dict[str, Path] = {}   # the files staged so far, by the name they will have
        seen = 0                    # of the moves, those already in tmp
        by_parts: set[str] = set()  # the unpartitioned ones updated, not built whole
        con = self._connect()
        try:
            for i, (name, months) in enumerate(todo.items()):
                if progress:
                    progress(i / len(todo), f"Building the daily sums ({i + 1} of "
                                            f"{len(todo)}: {_words(name)})…")
                rollup = ROLLUPS[name]
                entry = built.setdefault(name, {})
                defs[name] = definition(name, settings["cancelled_orders"])
                tmp.update((final.relative_to(self.path).as_posix(), t)
                           for t, final in moves[seen:])
                seen = len(moves)
                # Only what the rollup reads: listing every staged file for each of some
                # thirty rollups cost more than building the small ones.
                reads = _closure(rollup.sql + "\n" + rollup.since)
                read = {t: p for t, p in tables.items() if "_" + t in reads}
                read_fresh = {n: built[n] for n in fresh if n in reads}
                if customers and customers.stage(con, name, entry, read, read_fresh, tmp,
                                                 staging, txn, moves):
                    fresh.append(name)
                    by_parts.add(name)
                    continue
                if self._by_order(con, name, changed, before, todo, ok, by_parts, entry, read,
                                  read_fresh, tmp, staging, txn, moves):
                    fresh.append(name)
                    by_parts.add(name)
                    continue
                if rollup.since and months and entry:
                    months = self._stage_since(con, rollup, min(months), entry, read,
                                               read_fresh, tmp, staging, txn, moves)
                if months is None:
                    with _scratch(con):
                        self._open(self._files(read, tmp), self._files(read_fresh, tmp),
                                   only=rollup.sql, con=con)
                        entry.clear()
                        rel = self._computed(con, rollup)
                        if rollup.partitioned:
                            self._stage_rollup_months(rel, name, entry, staging, txn, moves)
                        else:
                            self._stage_rollup_part(rel, name, UNPARTITIONED, entry, staging,
                                                    txn, moves)
                for month in sorted(months or ()):
                    # Only that month's files of the partitioned tables and rollups: lines and
                    # orders of a month are stored in the same month (lines are dated by their
                    # order), and so are their daily rollups.
                    def of_month(parts: dict) -> dict:
                        return {month: parts[month]} if month in parts else {}
                    with _scratch(con):
                        self._open(
                            self._files({t: of_month(p) if t in rollup.by_month else p
                                         for t, p in read.items()}, tmp),
                            self._files({n: of_month(p) if ROLLUPS[n].partitioned else p
                                         for n, p in read_fresh.items()}, tmp),
                            only=rollup.sql, con=con)
                        entry.pop(month, None)
                        self._stage_rollup_part(self._computed(con, rollup), name, month,
                                                entry, staging, txn, moves)
                fresh.append(name)
        finally:
            con.close()

    def _by_order(self, con, name, changed, before, todo, ok, by_parts, entry, read,
                  read_fresh, tmp, staging, txn, moves) -> bool:
        """Stage a rollup of BY_ORDER for the orders in the changed months only (their rows
        computed again, the others kept); False when it is to be built whole: a change to
        another table it reads, no stored build, customers numbered afresh, or a rollup it
        reads built whole."""
        rollup = ROLLUPS[name]
        if name not in BY_ORDER or before is None or name not in ok or not entry \
                or not set(changed) & rollup.depends <= BY_ORDER[name]:
            return False
        for dep in ("customer_first", *read_fresh):
            # Rebuilt whole: maybe other numbers (customer_first), other rows in any month.
            if dep in todo and dep not in by_parts and todo[dep] is None:
                return False
        files = [str(tmp.get(p["file"], self.path / p["file"]))
                 for t in BY_ORDER[name] & set(changed)
                 for section in (before["tables"], read)
                 for m, p in section.get(t, {}).items() if m in changed[t]]
        months = {m for t in BY_ORDER[name] & set(changed) for m in changed[t]}

        def of_months(parts: dict) -> dict:
            return {m: p for m, p in parts.items() if m in months}
        [old] = [str(self.path / p["file"]) for p in entry.values()]
        with _scratch(con):
            if files:
                con.execute(f"create table _orders_of as select distinct order_id from "
                            f"read_parquet($f, {_PARTS}) where order_id is not null",
                            {"f": files})
            else:
                con.execute("create table _orders_of (order_id varchar)")
            self._open(self._files({t: of_months(p) if t in BY_ORDER[name] else p
                                    for t, p in read.items()}, tmp),
                       self._files({n: of_months(p) if ROLLUPS[n].partitioned else p
                                    for n, p in read_fresh.items()}, tmp),
                       only=rollup.sql, con=con)
            rel = con.sql(f"""
                select * from read_parquet($old, hive_partitioning = false)
                anti join _orders_of using (order_id)
                union all by name
                select * from ({rollup.sql}) semi join _orders_of using (order_id)""",
                          params={"old": old})
            entry.clear()
            self._stage_rollup_part(rel, name, UNPARTITIONED, entry, staging, txn, moves)
        return True

    def _stage_since(self, con, rollup, changed: str, entry: dict, tables: dict, fresh: dict,
                     tmp: dict, staging: Path, txn: str, moves: list) -> set | None:
        """Rebuild a running-totals rollup from the month ``changed`` (or the month after its
        last, if later months are added) on, continued from its stored month before
        (Rollup.since). Returns the months still to build one by one (none), or None when
        the rollup must be built whole: its last month moved back (a deletion, an undo)."""
        stored = sorted(entry)
        since = min(changed, _next_month(stored[-1]))
        before = [m for m in stored if m < since]
        with _scratch(con):
            self._open(self._files(tables, tmp), self._files(fresh, tmp), only=rollup.since,
                       con=con)
            # The stored rows of the month before, or none (no key started earlier).
            earlier = con.read_parquet([str(self.path / entry[before[-1] if before
                                                               else stored[0]]["file"])])
            (earlier if before else earlier.limit(0)).create_view("_earlier")
            con.sql(rollup.since, params={"since": date.fromisoformat(since + "-01")}
                    ).create("_since")
            rows, last = con.table("_since").aggregate("count(*), max(day)").fetchall()[0]
            if (last.strftime("%Y-%m") if rows else before[-1] if before else "") < stored[-1]:
                return None
            for m in stored:
                if m >= since:
                    del entry[m]
            self._stage_rollup_months(con.table("_since"), rollup.name, entry, staging, txn,
                                      moves)
        return set()

    @staticmethod
    def _computed(con: duckdb.DuckDBPyConnection, rollup) -> duckdb.DuckDBPyRelation:
        """The rollup's rows to write. An ordered one is computed in parallel into a temporary
        table, then written by one thread, which keeps the order."""
        if not rollup.ordered:
            return con.sql(rollup.sql)
        con.sql(rollup.sql).create("_ordered")
        con.execute("set threads = 1")
        return con.table("_ordered")

    def _stage_rollup_months(self, rel, name, entry, staging, txn, moves) -> None:
        """All months of a rollup in one pass (DuckDB writes a file per month, in parallel:
        2.5× faster than a filtered write per month)."""
        out = staging / "rollups" / name / ("all-" + txn)
        out.parent.mkdir(parents=True, exist_ok=True)
        rel.select(duckdb.StarExpression(), duckdb.FunctionExpression(
            "strftime", duckdb.ColumnExpression("day"), duckdb.ConstantExpression("%Y-%m")
        ).alias("_month")).filter(duckdb.ColumnExpression("day").isnotnull()).to_parquet(
            str(out), partition_by=["_month"], filename_pattern=f"part-{txn}_{{i}}",
            compression="zstd")
        for part in sorted(out.iterdir()) if out.exists() else []:
            month = part.name.split("=", 1)[1]
            [written] = part.glob("*.parquet")   # one file per month
            rel_part = f"rollups/{name}/month={month}/{written.name}"
            rows = _rows(written)
            moves.append((written, self.path / rel_part))
            entry[month] = {"file": rel_part, "rows": rows}

    def _stage_rollup_part(self, rel, name, month, entry, staging, txn, moves) -> None:
        rel_part = f"rollups/{name}/month={month}/part-{txn}.parquet"
        out = staging / rel_part
        out.parent.mkdir(parents=True, exist_ok=True)
        rel.write_parquet(str(out), compression="zstd")
        rows = _rows(out)
        if rows == 0 and month != UNPARTITIONED:
            out.unlink()
            return
        moves.append((out, self.path / rel_part))
        entry[month] = {"file": rel_part, "rows": rows}

    def _months_of(self, con, rel_name: str, date_column: str | None) -> list[str]:
        if date_column is None:
            return [UNPARTITIONED]
        rows = con.execute(
            f"select distinct strftime({date_column}, '%Y-%m') from {rel_name} order by 1"
        ).fetchall()
        return [r[0] for r in rows]

    def _merged_sql(self, spec, rel_name, month, old_file) -> tuple[str, dict]:
        """The partition after the upload: new rows, plus stored rows whose key is not new."""
        cols = ", ".join(spec.names)
        new = f"select {cols} from {rel_name}"
        params = {}
        if spec.date_column:
            new += f" where strftime({spec.date_column}, '%Y-%m') = $month"
            params["month"] = month
        if old_file is None:
            return new, params
        params["old"] = str(old_file)
        keys = ", ".join(spec.key)
        # By name onto the contract's empty table: a file written before an optional column
        # was added has it null.
        old = (f"select * from ({empty_select(spec.name)}) "
               "union all by name select * from read_parquet($old)")
        # A key is unique across the table: a stored row whose key the upload holds in any
        # month goes, so a row re-dated into another month is not kept twice.
        return (f"with new as ({new}) select * from new union all "
                f"select {cols} from ({old}) anti join (select {keys} from {rel_name}) "
                f"using ({keys})"), params

    def moves(self, con, table: str, rel_name: str,
              stored: dict | None = None) -> list[tuple[str, str, int]]:
        """Stored rows the upload re-dates into another month: (from month, to month, rows).
        Only the stored months whose range of keys (kept in the manifest) holds an uploaded
        key are read, their key and date columns only: the cost follows the upload, not the
        shop's history (ids rise with time, so a month's upload meets a month or two)."""
        redated = self._redated(con, table, rel_name, stored)
        if redated is None:
            return []
        return redated.aggregate("m_from, m_to, count(*)", "m_from, m_to").order(
            "m_from, m_to").fetchall()

    def _redated(self, con, table: str, rel_name: str, stored: dict | None = None):
        """The stored rows the upload re-dates into another month, as a relation: their key,
        ``m_from`` and ``m_to`` (the months), ``dated`` (the new date); None when none can be."""
        spec = TABLES[table]
        if not _movable(spec):
            return None   # the date is part of the key: a re-dated row is another row
        parts = self.manifest["tables"].get(table, {}) if stored is None else stored
        # Months written before their key range was kept are read whatever it is.
        months = {m for m, p in parts.items() if not p.get("keys")}
        ranges = [{"m": m, "lo": p["keys"][0], "hi": p["keys"][1]}
                  for m, p in parts.items() if p.get("keys")]
        if ranges:
            months |= {m for (m,) in con.execute(
                f"select distinct r.m from (select unnest($ranges, recursive := true)) r "
                f"join (select distinct {spec.key[0]} as k from {rel_name}) u "
                "on u.k between r.lo and r.hi", {"ranges": ranges}).fetchall()}
        files = [str(self.path / parts[m]["file"]) for m in sorted(months)]
        if not files:
            return None
        keys, when = ", ".join(spec.key), spec.date_column
        return con.read_parquet(files).select(f"{keys}, {when}").set_alias("old").join(
            con.table(rel_name).select(f"{keys}, {when}").set_alias("new"), keys).select(
            f"{keys}, strftime(old.{when}, '%Y-%m') as m_from, "
            f"strftime(new.{when}, '%Y-%m') as m_to, new.{when} as dated").filter(
            "m_from <> m_to")

    def _carry_lines(self, con, staged: dict[str, str], tables: dict) -> dict[str, str]:
        """``staged`` with the stored lines of the orders it re-dates into another month,
        re-dated with them (lines are stored in their order's month, and the month-by-month
        rollups join a month's lines to that month's orders): the upload's own lines of those
        orders win. Only the months those orders leave are read."""
        if "orders" not in staged or not tables.get("order_items"):
            return staged
        orders = self._stage_view(con, "orders", staged["orders"])
        redated = self._redated(con, "orders", orders, tables.get("orders", {}))
        if redated is None:
            return staged
        redated.create("_redated_orders")
        months = {m for (m,) in con.execute(
            "select distinct m_from from _redated_orders").fetchall()} & set(tables["order_items"])
        if not months:
            return staged
        files = [str(self.path / tables["order_items"][m]["file"]) for m in sorted(months)]
        cols = ", ".join(f"r.dated as {c}" if c == "ordered_at" else f"l.{c}"
                         for c in TABLES["order_items"].names)
        lines = read_stored(con, files, "_order_items").set_alias("l").join(
            con.table("_redated_orders").set_alias("r"), "order_id").select(cols)
        if "order_items" in staged:
            new = con.table(self._stage_view(con, "order_items", staged["order_items"]))
            lines = lines.join(new.select("order_id, line"), "order_id, line", how="anti"
                               ).union(new)
        lines.create("_carried_lines")
        return {**staged, "order_items": "_carried_lines"}

    @staticmethod
    def _write_months(con, spec, rel_name, months: set[str], out: Path,
                      txn: str) -> dict[str, tuple[Path, int]]:
        """The rows of ``months`` (none stored yet) in one pass, a file per month under
        ``out``, ordered as :meth:`_write_partition` orders them: each month's file and rows."""
        order = spec.date_column
        con.execute(f"create or replace temp table _part as select *, "
                    f"strftime({order}, '%Y-%m') as _month from {rel_name} "
                    f"where list_contains($months, strftime({order}, '%Y-%m')) order by {order}",
                    {"months": sorted(months)})
        out.parent.mkdir(parents=True, exist_ok=True)
        threads = int(con.execute("select current_setting('threads')").fetchall()[0][0])
        con.execute("set threads = 1")   # parallel writers would interleave the rows
        try:
            con.table("_part").to_parquet(str(out), partition_by=["_month"],
                                          filename_pattern=f"part-{txn}_{{i}}",
                                          compression="zstd")
        finally:
            con.execute(f"set threads = {threads}")   # the caller's connection, as it was
        rows = dict(con.execute("select _month, count(*) from _part group by 1").fetchall())
        con.execute("drop table _part")
        return {m: (next((out / f"_month={m}").glob("*.parquet")), n) for m, n in rows.items()}

    def _write_partition(self, con, spec, rel_name, month, old_file, out) -> int:
        query, params = self._merged_sql(spec, rel_name, month, old_file)
        order = spec.date_column or spec.key[0]
        con.execute(f"create or replace temp table _part as {query} order by {order}", params)
        part = con.table("_part")
        part.write_parquet(str(out), compression="zstd")
        rows = con.execute("select count(*) from _part").fetchall()[0][0]
        con.execute("drop table _part")
        return rows

    def diff(self, con, staged: dict[str, str]) -> list[dict]:
        """What an upload would change, month by month: rows and the table's main measure
        before and after (nothing is written)."""
        out = []
        for table, source_name in staged.items():
            spec = TABLES[table]
            rel_name = self._stage_view(con, table, source_name)
            stored = self.manifest["tables"].get(table, {})
            measure = MEASURES.get(table)
            months = self._months_of(con, rel_name, spec.date_column)
            left = {m for m, _, _ in self.moves(con, table, rel_name)} - set(months)
            for month in [*months, *sorted(left)]:
                old = stored.get(month)
                old_file = self.path / old["file"] if old else None
                query, params = self._merged_sql(spec, rel_name, month, old_file)
                m_sql = measure[1] if measure else "null"
                after = con.execute(f"select count(*), {m_sql} from ({query})", params
                                    ).fetchall()[0]
                before = (0, None)
                if old_file:
                    before = con.execute(f"select count(*), {m_sql} from read_parquet($f)",
                                         {"f": str(old_file)}).fetchall()[0]
                out.append({"table": table, "month": month, "rows_before": before[0],
                            "rows_after": after[0], "measure": measure[0] if measure else None,
                            "before": _num(before[1]),
                            # A month every row leaves (re-dated) measures 0, not unknown.
                            "after": _num(after[1]) if after[0] else _num(before[1]) and 0.0})
        return out

    def moved(self, con, staged: dict[str, str]) -> list[tuple[str, str, str, int]]:
        """Stored rows an upload re-dates into another month: (table, from, to, rows)."""
        return [(table, *move) for table, source_name in staged.items()
                for move in self.moves(con, table, self._stage_view(con, table, source_name))]

    def _stage_view(self, con, table: str, source_name: str) -> str:
        spec = TABLES[table]
        rel_name = f"_new_{table}"
        have = set(con.table(source_name).columns)
        # Whatever the source's types, the store holds the canonical ones.
        con.execute(f"create or replace temp view {rel_name} as select "
                    + ", ".join(f"cast({c.name if c.name in have else 'null'} "
                                f"as {c.type}) as {c.name}" for c in spec.columns)
                    + f" from {source_name}")
        return rel_name

    # --- undo, delete, saved column mappings ---------------------------------------------
    @_locked
    def undo(self) -> dict:
        """Take back the last upload or deletion: every partition it rewrote gets its previous
        file back (rows and sources as they were)."""
        self.recover()
        manifest = self.manifest
        if not manifest["ingests"]:
            raise ValueError("there is nothing to undo")
        if manifest["ingests"][-1].get("undo") is False:
            raise ValueError(f"only the last {plural(self.settings['undo_uploads'], 'upload')} "
                             "can be undone (the setting undo_uploads), and every one of them "
                             "has been")
        record = manifest["ingests"].pop()
        for table, months in record["partitions"].items():
            for month, change in months.items():
                if change["old"]:
                    manifest["tables"].setdefault(table, {})[month] = change["old_entry"]
                else:
                    manifest["tables"].get(table, {}).pop(month, None)
        self._commit_rollups(manifest, {t: set(ms) for t, ms in record["partitions"].items()})
        self.recover()  # the undone upload's files are no longer referenced
        return record

    @_locked
    def delete_month(self, table: str, month: str) -> dict:
        """Remove one table's month; the files are kept so undo can bring them back."""
        self.recover()
        manifest = self.manifest
        entry = manifest["tables"].get(table, {}).get(month)
        if entry is None:
            raise ValueError(f"{table} has no stored month {month}")
        record = {"id": "delete-" + uuid.uuid4().hex[:8], "at": _now(), "sources": [],
                  "action": f"deleted {table} {month}",
                  "partitions": {table: {month: {"new": None, "old": entry["file"],
                                                 "old_entry": entry}}}}
        del manifest["tables"][table][month]
        manifest["ingests"].append(record)
        self._commit_rollups(manifest, {table: {month}})
        return record

    @property
    def mappings(self) -> dict:
        try:
            with open(self.path / MAPPINGS, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    @_locked
    def save_mapping(self, name: str, table: str, columns: dict[str, str],
                     headers: list[str], statuses: dict[str, str] | None = None) -> None:
        """Remember how a file's columns (and statuses the dashboard does not know: raw →
        canonical) map to a table, so next month's export is read alone."""
        self.path.mkdir(parents=True, exist_ok=True)
        mappings = self.mappings
        mappings[name] = {"table": table, "columns": columns, "headers": list(headers)}
        if statuses:
            mappings[name]["statuses"] = statuses
        self._write_json(MAPPINGS, mappings)

    def mapping_for(self, headers: list[str]) -> tuple[str, dict] | None:
        for name, m in self.mappings.items():
            if m["headers"] == list(headers):
                return name, m
        return None

    @_locked
    def update_settings(self, values: dict) -> None:
        """Save ``values`` into the settings. A new convention for cancelled orders rebuilds
        the rollups that read it, committed as any write: until then a connection reads none
        built under the other convention (:func:`current`) but computes them from the rows,
        and one interrupted is finished by the next write or refresh."""
        if values.get("cancelled_orders", DEFAULT_SETTINGS["cancelled_orders"]) \
                not in CANCELLED_ORDERS:
            raise ValueError(f"cancelled_orders is one of {', '.join(CANCELLED_ORDERS)}")
        before = self.settings["cancelled_orders"]
        self._save_settings(values)
        if self.settings["cancelled_orders"] != before and "rollups" in self.manifest:
            self.refresh_rollups()

    def _save_settings(self, values: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        stored = {}
        if (self.path / SETTINGS).exists():
            stored = json.loads((self.path / SETTINGS).read_text(encoding="utf-8"))
        stored.update(values)
        self._write_json(SETTINGS, stored)

    def _commit(self, manifest: dict) -> None:
        self._write_json(MANIFEST, manifest)

    def _write_json(self, name: str, data: dict) -> None:
        """Write beside, flush to disk, then swap in: a reader sees the old file or the new."""
        tmp = self.path / f"{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)


# Stored tables' files read in SQL: by name (older files lack newer columns), and without
# DuckDB's guess at a `month` column from the folder names.
_PARTS = "union_by_name = true, hive_partitioning = false"
# Rebuilt for the customers an upload touched only (_Customers); valid_refunds is read too.
CUSTOMER_ROLLUPS = ("customer_first", "customer_orders", "customer_orders_daily", "rfm_daily",
                    "cohort_orders")
# Unpartitioned rollups whose every row follows one order (order_id): after a change to these
# tables alone, the rows of the orders in their changed months (before or after) are
# computed again, from those months' files (an order's lines are in its month), and the
# others kept (Store._by_order).
BY_ORDER = {"valid_refunds": frozenset({"orders"}),
            "refund_lines": frozenset({"orders", "order_items"})}
# The columns of customer_orders a daily sum of it reads (those not named read them all).
SUMS_READ = {"customer_orders_daily": "day, channel, prev_day, prev2_day, n"}
# Customers an upload may touch and still have them updated one by one, if above a quarter of
# the shop's (_Customers._touch).
TOUCHED_AT_MOST = 10_000


class _Customers:
    """The customer rollups of an upload (an undo, a deletion) of orders or refunds, updated
    for the customers it touched instead of built again for every customer: a customer's first
    order, number, ranks, previous and next orders, running sums and cohort depend on that
    customer's orders (and their refunds) alone. Touched: an order in a changed month of
    orders, in the stored file or the new one, or an order a changed month of refunds refunds.
    Their rows are computed again from their orders; every other customer's rows are kept, and
    the months of customer_orders they have no row in keep their files (customer_orders_daily
    and rfm_daily, sums by day of it, are rebuilt in the months it rewrote). cohort_orders
    counts distinct customers per group, one group per customer and month: the touched
    customers' rows before are taken out of it and their rows after added. A build from
    scratch gives the same rows (tests/test_rollups.py), customer numbers aside: a new customer
    is numbered between its neighbours (CUSTOMER_NO_STEP), and when two neighbours have no
    number left between them, everything is built again (numbered afresh)."""

    def __init__(self, store: "Store", old: dict[str, dict], before: dict, after: dict,
                 changed: dict[str, set[str]], stale: set[str]):
        self.store, self.old, self.changed = store, old, changed
        self.before, self.after = before["tables"], after["tables"]
        self.stale = stale
        self.touched = False
        self.failed = False
        self.rewritten: set[str] | None = None   # the months of customer_orders rewritten
        self.sums: dict[str, set[str]] = {}      # of them, those each daily sum rebuilds

    @classmethod
    def of(cls, store: "Store", before: dict | None, after: dict,
           changed: dict[str, set[str]], stale: set[str], ok: dict,
           settings: dict) -> "_Customers | None":
        """None when they are built whole: no manifest before (a first write, a refresh), a
        change to no orders or refunds, or a customer rollup not stored (or redefined)."""
        if before is None or not {"orders", "refunds"} & set(changed):
            return None
        old = current(before, settings)
        need = {*CUSTOMER_ROLLUPS, "valid_refunds"}
        if not (need <= set(old) and need <= set(ok) and stale & set(CUSTOMER_ROLLUPS)):
            return None
        return cls(store, old, before, after, changed, stale)

    def _path(self, file: str, tmp: dict) -> str:
        return str(tmp.get(file, self.store.path / file))

    def _old(self, name: str) -> list[str]:
        return [str(self.store.path / p["file"]) for _, p in sorted(self.old[name].items())]

    def stage(self, con, name: str, entry: dict, read: dict, read_fresh: dict, tmp: dict,
              staging: Path, txn: str, moves: list) -> bool:
        """Stage rollup ``name`` for the touched customers; False when it is to be built
        whole."""
        if name not in CUSTOMER_ROLLUPS or name not in self.stale or self.failed:
            return False
        if name not in ("customer_first", "customer_orders") and self.rewritten is None:
            return False   # customer_orders was built whole
        if not self.touched:
            self._touch(con, tmp)
            if self.failed:
                return False
        return getattr(self, "_" + name)(con, name, entry, read, read_fresh, tmp, staging, txn,
                                         moves)

    def _touch(self, con, tmp: dict) -> None:
        """The touched customers' ids: temporary table ``_touched``."""
        self.touched = True

        def files(section: dict, table: str, months) -> list[str]:
            return [self._path(section[table][m]["file"], tmp)
                    for m in sorted(months) if m in section.get(table, {})]
        before, after = self.before, self.after
        orders = files(before, "orders", self.changed.get("orders", ())) + \
            files(after, "orders", self.changed.get("orders", ()))
        refunds = files(before, "refunds", self.changed.get("refunds", ())) + \
            files(after, "refunds", self.changed.get("refunds", ()))
        parts, params = [], {}
        if orders:
            parts.append(f"select customer_id from read_parquet($orders, {_PARTS})")
            params["orders"] = orders
        if refunds:
            parts.append(f"select o.customer_id from read_parquet($all_orders, {_PARTS}) o "
                         f"semi join read_parquet($refunds, {_PARTS}) r using (order_id)")
            params["refunds"] = refunds
            params["all_orders"] = sorted({*orders, *(self._path(p["file"], tmp) for p in
                                                      after.get("orders", {}).values())})
        con.execute("create or replace temp table _touched as select distinct customer_id from ("
                    + " union all ".join(parts or ["select null::varchar as customer_id"])
                    + ") where customer_id is not null", params)
        # A month touching most customers (a 1 M-row month of a shop of 1.2 M customers) costs
        # more customer by customer than built whole; the threshold is a guess, not measured.
        touched = con.execute("select count(*) from _touched").fetchall()[0][0]
        customers = self.old["customer_first"][UNPARTITIONED]["rows"]
        if touched > max(TOUCHED_AT_MOST, customers / 4):
            self.failed = True
            return
        # Their orders, read once for customer_first and customer_orders (each read every
        # order of the shop for them: ~0.3 s of CPU at the large shop).
        files = [self._path(p["file"], tmp) for _, p in sorted(after.get("orders", {}).items())]
        if files:
            read_stored(con, files, "_orders").join(con.table("_touched"), "customer_id",
                                                     how="semi").create_view("_touched_rows")
        else:
            con.sql(empty_select("orders")).create_view("_touched_rows")
        con.execute("create or replace temp table _touched_orders as from _touched_rows")

    def _customer_first(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        store = self.store
        [old] = self._old(name)
        with _scratch(con):
            store._open(store._files(read, tmp), store._files(read_fresh, tmp),
                        only=CUSTOMER_FIRST_OF, con=con)
            con.table("_touched_orders").create_view("_orders")   # theirs only
            con.sql(CUSTOMER_FIRST_OF).create("_t")
            con.read_parquet([old]).create("_old")
            cols = ", ".join(con.table("_old").columns)
            # Numbers for customers new to the store, between their numbered neighbours'
            # (in id order, found by as-of joins: a window over every customer costs 15×):
            # k of them in a gap (lo, hi) get lo + (hi - lo) · i / (k + 1), after the last
            # one lo + i · CUSTOMER_NO_STEP. Neighbours among the customers stored before,
            # those this change removes (an undo) included: a gap between them lies within
            # the gap between the customers kept.
            con.execute(f"""
                create table _numbers as
                with t as (select t.customer_id, o.customer_no
                           from _t t left join _old o using (customer_id)),
                g as (select n.customer_id, coalesce(a.customer_no, 0) as lo,
                             b.customer_no as hi
                      from (from t where customer_no is null) n
                      asof left join _old a on n.customer_id >= a.customer_id
                      asof left join _old b on n.customer_id <= b.customer_id),
                r as (select *, row_number() over (partition by lo order by customer_id) as i,
                             count(*) over (partition by lo) as k
                      from g)
                select customer_id, hi is not null and hi - lo <= k as cramped,
                       case when hi is null then lo + i * {CUSTOMER_NO_STEP}
                            else lo + ((hi - lo)::hugeint * i // (k + 1))::bigint
                       end as customer_no
                from r
                union all
                select customer_id, false, customer_no from t where customer_no is not null""")
            if con.execute("select bool_or(cramped) from _numbers").fetchall()[0][0]:
                self.failed = True
                return False
            rel = con.sql(f"""select {cols} from _old anti join _touched using (customer_id)
                              union all
                              select {cols} from (select t.* exclude (customer_no), n.customer_no
                                                  from _t t join _numbers n using (customer_id))""")
            entry.clear()
            store._stage_rollup_part(rel, name, UNPARTITIONED, entry, staging, txn, moves)
        return True

    def _customer_orders(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        store = self.store
        [old_first] = self._old("customer_first")
        with _scratch(con):
            store._open(store._files(read, tmp), store._files(read_fresh, tmp),
                        only=CUSTOMER_ORDERS_OF, con=con)
            con.table("_touched_orders").create_view("_orders")   # theirs only
            con.execute(f"create or replace temp table _new_t as {CUSTOMER_ORDERS_OF}")
        con.execute("create or replace temp table _old_nos as select customer_no from "
                    f"read_parquet($f, {_PARTS}) semi join _touched using (customer_id)",
                    {"f": old_first})
        old = self.old[name]
        if old:
            con.execute(f"create or replace temp table _old_t as from read_parquet($f, {_PARTS})"
                        " semi join _old_nos using (customer_no)", {"f": self._old(name)})
        else:   # no customer's order stored yet (guests only)
            con.execute("create or replace temp table _old_t as from _new_t limit 0")
        # The months whose rows of touched customers changed (a next order day, a rank…),
        # and for each daily sum of them, the months whose columns it reads changed: a
        # returning customer's previous order gets a next order day, in any month, which
        # customer_orders_daily does not read.
        def changed(cols: str) -> set[str]:
            return {m for (m,) in con.execute(
                f"select distinct strftime(day, '%Y-%m') from ("
                f"(select {cols} from _old_t except all select {cols} from _new_t) union all "
                f"(select {cols} from _new_t except all select {cols} from _old_t))"
                " where day is not null").fetchall()}
        months = sorted(changed("*"))
        self.rewritten = set(months)
        self.sums = {n: changed(cols) for n, cols in SUMS_READ.items()}
        if not months:
            return True
        con.execute("create or replace temp table _months as select unnest($m) as m",
                    {"m": months})
        files = [str(store.path / old[m]["file"]) for m in months if m in old]
        rel = con.table("_new_t").filter(
            "strftime(day, '%Y-%m') in (select m from _months)")
        if files:
            rel = con.read_parquet(files).join(con.table("_old_nos"), "customer_no",
                                               how="anti").union(rel)
        for m in months:
            entry.pop(m, None)
        store._stage_rollup_months(rel, name, entry, staging, txn, moves)
        return True

    def _by_month(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        """A rollup summing customer_orders by day: its months customer_orders rewrote."""
        store, rollup = self.store, ROLLUPS[name]
        months = self.sums.get(name, self.rewritten)
        for m in months:
            entry.pop(m, None)
        if months:
            fresh = {**read_fresh, "customer_orders": {
                m: p for m, p in read_fresh["customer_orders"].items() if m in months}}
            with _scratch(con):
                store._open(store._files(read, tmp), store._files(fresh, tmp), only=rollup.sql,
                            con=con)
                store._stage_rollup_months(con.sql(rollup.sql), name, entry, staging, txn,
                                           moves)
        return True

    _customer_orders_daily = _rfm_daily = _by_month

    def _cohort_orders(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        """The touched customers' groups before taken out, after added (a customer counts
        once in the group of their acquisition channel, first-order day and order month)."""
        [old] = self._old(name)
        [old_first] = self._old("customer_first")
        [old_refunds] = self._old("valid_refunds")
        fresh = self.store._files(read_fresh, tmp)
        [new_first], [new_refunds] = fresh["customer_first"], fresh["valid_refunds"]
        stored = con.read_parquet([old])
        typed = ", ".join(f"{c}::{t} as {c}" for c, t in zip(stored.columns, stored.types))

        def groups(rows: str, first: str, refunds: str, sign: str) -> str:
            # rows, first and refunds: code constants (a table, a parameter's name).
            return f"""
                select co.channel, f.first_day, date_trunc('month', co.day)::date as month,
                       {sign}count(distinct co.customer_no) as active,
                       {sign}sum(co.gross_sales - co.discounts - coalesce(r.refunded, 0))
                           as revenue
                from {rows} co join read_parquet(${first}, {_PARTS}) f using (customer_no)
                left join (select order_id, sum(amount) as refunded
                           from read_parquet(${refunds}, {_PARTS}) semi join {rows}
                             using (order_id)
                           group by all) r using (order_id)
                group by all"""
        con.execute(f"""
            create or replace temp table _cohort as
            with d as (select channel, first_day, month, sum(active) as active,
                              sum(revenue) as revenue
                       from ({groups('_new_t', 'new_first', 'new_refunds', '')}
                             union all
                             {groups('_old_t', 'old_first', 'old_refunds', '-')})
                       group by all),
            m as (select coalesce(c.channel, d.channel) as channel,
                         coalesce(c.first_day, d.first_day) as first_day,
                         coalesce(c.month, d.month) as month,
                         coalesce(c.active, 0) + coalesce(d.active, 0) as active,
                         coalesce(c.revenue, 0) + coalesce(d.revenue, 0) as revenue
                  from read_parquet($old, {_PARTS}) c full join d
                    on c.channel is not distinct from d.channel
                   and c.first_day is not distinct from d.first_day
                   and c.month is not distinct from d.month)
            select {typed} from m where active > 0""",
                    {"old": old, "new_first": new_first, "new_refunds": new_refunds,
                     "old_first": old_first, "old_refunds": old_refunds})
        entry.clear()
        self.store._stage_rollup_part(con.table("_cohort"), name, UNPARTITIONED, entry,
                                      staging, txn, moves)
        return True
