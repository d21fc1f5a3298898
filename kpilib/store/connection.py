"""Opening a DuckDB connection over the store: a view per stored table over its Parquet files,
the business views, the rollups (read from their files when built), and the small tables and
rollups kept in a DuckDB file (``cache/``) between connections."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

from ..rollups import ROLLUP_VIEWS, ROLLUPS
from ..schema import TABLES
from .manifest import _next_month
from .views import DERIVED_VIEWS, _closure, _created, current

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
IN_MEMORY_NARROW = {"customer_orders": ("order_id", "gross_sales", "discounts",
                                        "prev_value")}
# The database file those tables are kept in between connections (Store._memory_file): its
# name changes with what it holds, this format and DuckDB's version (a newer DuckDB may write
# a file an older one cannot read).
CACHE = "cache"
CACHE_FORMAT = 2   # 2: marketing_spend has conversions
# Stored tables' files read in SQL: by name (older files lack newer columns), and without
# DuckDB's guess at a `month` column from the folder names.
_PARTS = "union_by_name = true, hive_partitioning = false"


def _rows(parquet: Path) -> int:
    """A written file's row count, from its footer: a count query costs ~2 ms a file, and a
    store's rollups are some 400 files."""
    import pyarrow.parquet

    return pyarrow.parquet.read_metadata(parquet).num_rows


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
    if before is None or name not in ROLLUPS or not ROLLUPS[name].partitioned \
            or ROLLUPS[name].month_of != "day":
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


def empty_select(table: str) -> str:
    cols = ", ".join(f"cast(null as {c.type}) as {c.name}" for c in TABLES[table].columns)
    return f"select {cols} limit 0"


class Connections:
    """A part of :class:`kpilib.store.Store`."""

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

