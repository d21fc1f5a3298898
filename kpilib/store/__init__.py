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
files, and the rollup files an upload replaced, are kept (referenced from the ingest log) so the
last ``undo_uploads`` uploads (a setting) can be undone exactly, their rollups put back (built
again if a rollup was rebuilt since); older ones no longer can, and the files only they
referred to go.

One writer at a time: a write holds ``write.lock`` (its pid, host and start time) from start to
commit. Another waits :data:`LOCK_WAIT` seconds, then is refused (:class:`StoreBusy`); the lock
of a process that died is taken over. Readers never wait.

``cache/`` holds derived data only: a DuckDB database of the small tables and rollups a
connection reads (:data:`IN_MEMORY`), named by what it was built from, rebuilt when that
changes and safe to delete.

By job: :mod:`.manifest` (the manifest, the lock, commits, undo), :mod:`.tables` (an upload's
rows into the stored tables), :mod:`.views` (the business views' SQL and what each reads),
:mod:`.connection` (a DuckDB connection over the files), :mod:`.builds` and
:mod:`.customers` (rollup builds), :mod:`.settings` (the shop's settings and column mappings).
"""
from __future__ import annotations

from pathlib import Path

from ..settings import CANCELLED_ORDERS, DEFAULT_SETTINGS, MAPPINGS, SETTINGS
from .builds import BY_ORDER, Builds
from .connection import (CACHE, CACHE_FORMAT, IN_MEMORY, IN_MEMORY_NARROW, Connections,
                         empty_select, read_stored)
from .customers import CUSTOMER_ROLLUPS, SUMS_READ, TOUCHED_AT_MOST, _Customers
from .manifest import (DISK_FULL, FORMAT, LOCK, LOCK_WAIT, MANIFEST, UNPARTITIONED, DiskFull,
                       Manifest, Source, StoreBusy, StoreError, alive, disk_full, sha256_file,
                       writes)
from .settings import Settings
from .tables import MEASURES, TABLES_SHARE, Tables
from .views import (DERIVED_VIEWS, READS, _closure, current, definition, tables_read)


class Store(Manifest, Settings, Connections, Tables, Builds):
    """The store in folder ``path``, its methods by job in the classes it is made of."""

    def __init__(self, path: str | Path):
        self.path = Path(path)


# Read where they are used: a test changing LOCK_WAIT, say, patches kpilib.store.manifest's.
__all__ = ["BY_ORDER", "CACHE", "CACHE_FORMAT", "CANCELLED_ORDERS", "CUSTOMER_ROLLUPS",
           "DEFAULT_SETTINGS", "DERIVED_VIEWS", "DISK_FULL", "FORMAT", "IN_MEMORY",
           "IN_MEMORY_NARROW", "LOCK", "LOCK_WAIT", "MANIFEST", "MAPPINGS", "MEASURES", "READS",
           "SETTINGS", "SUMS_READ", "TABLES_SHARE", "TOUCHED_AT_MOST", "UNPARTITIONED",
           "DiskFull", "Source", "Store", "StoreBusy", "StoreError", "_Customers", "_closure",
           "alive", "current", "definition", "disk_full", "empty_select", "read_stored",
           "sha256_file", "tables_read", "writes"]
