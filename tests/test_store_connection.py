"""kpilib/store/connection.py: a DuckDB connection over the store's files, the small tables
kept in a file between connections, files of older versions read."""
import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from helpers import FEB, ORDER_HEADER, total, write_csv
from kpilib import Store
from kpilib.ingest import ingest


def test_empty_store_has_typed_empty_views(tmp_path):
    con = Store(tmp_path / "none").connect()
    assert con.execute("select count(*) from orders").fetchall() == [(0,)]
    assert total(Store(tmp_path / "none"), "net_sales", FEB) == 0


# --- the small tables' database file (cache/) ------------------------------------------------
def cache_files(store: Store) -> list[Path]:
    return sorted((store.path / "cache").glob("memory-*.duckdb"))


def rows(con, table: str) -> list[tuple]:
    return con.execute(f"select * from {table} order by all").fetchall()


def test_connect_reads_the_small_tables_from_a_file_built_once(store_copy, monkeypatch):
    """The first connect writes the tables kept in memory to cache/, later ones attach it
    instead of loading them from Parquet: same rows, no second build."""
    for f in cache_files(store_copy):   # the copied store's
        f.unlink()
    con = store_copy.connect()
    [built] = cache_files(store_copy)
    assert con.execute("select count(*) from duckdb_databases() where database_name = 'cached'"
                       ).fetchall() == [(1,)]
    # Loaded into memory instead (the file left out): the same rows, table by table.
    monkeypatch.setattr(Store, "_memory_file", lambda self, loads: None)
    plain = store_copy.connect()
    monkeypatch.undo()
    for table in ("orders_daily", "customer_orders", "sku_cum", "_products", "cohort_orders"):
        assert rows(con, table) == rows(plain, table), table
    assert rows(con, "customer_orders") and "order_id" not in \
        [c[0] for c in con.execute("describe customer_orders").fetchall()]

    def no_build(*a):
        raise AssertionError("built again")

    monkeypatch.setattr("kpilib.store.connection._load", no_build)
    again = store_copy.connect()
    assert cache_files(store_copy) == [built]
    assert rows(again, "orders_daily") == rows(con, "orders_daily")
    assert total(store_copy, "orders", FEB) == 5


def test_an_upload_gets_a_new_file_and_the_old_one_goes(store_copy, tmp_path):
    store_copy.connect()
    [old] = cache_files(store_copy)
    ingest(store_copy, [write_csv(tmp_path / "u.csv", ORDER_HEADER
                                  + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")])
    assert total(store_copy, "orders", FEB) == 6      # 5 + o9, read through the new file
    [new] = cache_files(store_copy)
    assert new != old and not old.exists()
    store_copy.undo()
    assert total(store_copy, "orders", FEB) == 5


def test_an_upload_brings_the_file_of_small_tables_up_to_date(store_copy, tmp_path,
                                                              monkeypatch):
    """The write makes the new file itself, from the old one with only the tables it changed
    loaded again: the first connect after an upload builds nothing, and reads what a build
    from scratch holds. A store nobody has opened gets none."""
    import kpilib.store.connection as connection

    store_copy.connect()
    [old] = cache_files(store_copy)
    loaded: list[str] = []
    load = connection._load
    monkeypatch.setattr(connection, "_load",
                        lambda con, loads: (loaded.extend(n for _, n in loads), load(con, loads)))
    reload = connection._reload_months
    by_month: list[tuple[str, set[str]]] = []
    monkeypatch.setattr(connection, "_reload_months", lambda con, name, months, paths: (
        by_month.append((name, months)), reload(con, name, months, paths)))
    ingest(store_copy, [write_csv(tmp_path / "u.csv", ORDER_HEADER
                                  + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")])
    [new] = cache_files(store_copy)
    assert new != old and not old.exists()
    # An orders upload: the order and customer sums again, not the stock or traffic ones;
    # the daily sums of orders in February only (1 of 3 months: its rows taken out and
    # loaded again), the customers' first orders whole (one file).
    assert ("orders_daily", {"2025-02"}) in by_month and "orders_daily" not in loaded
    assert "cohort_orders" in loaded
    assert not {"_traffic", "_products", "stock_daily", "stock_monthly"} & set(loaded)

    def no_build(*a):
        raise AssertionError("built again")

    monkeypatch.setattr(connection, "_load", no_build)
    con = store_copy.connect()
    assert total(store_copy, "orders", FEB) == 6
    monkeypatch.undo()
    new.unlink()
    fresh = store_copy.connect()                   # built from the Parquet files alone
    for name, in con.execute("select table_name from duckdb_tables() "
                             "where database_name = 'cached'").fetchall():
        assert rows(con, name) == rows(fresh, name), name
    store_copy.undo()                              # an undo makes its file too
    [undone] = cache_files(store_copy)
    monkeypatch.setattr(connection, "_load", no_build)
    assert total(store_copy, "orders", FEB) == 5
    monkeypatch.undo()
    undone.unlink()
    ingest(store_copy, [tmp_path / "u.csv"])
    assert cache_files(store_copy) == []           # nobody reads this store: no file


def test_a_damaged_or_unwritable_cache_falls_back_to_memory(store_copy):
    store_copy.connect()
    [f] = cache_files(store_copy)
    f.write_bytes(b"not a database")                  # cut short by a full disk, say
    assert total(store_copy, "orders", FEB) == 5      # loaded into memory, the file dropped
    assert not f.exists()
    assert total(store_copy, "orders", FEB) == 5 and cache_files(store_copy) == [f]  # rebuilt
    # A store the app may not write to (read-only folder): no file, same figures.
    for g in cache_files(store_copy):
        g.unlink()
    (store_copy.path / "cache").rmdir()
    (store_copy.path / "cache").write_text("a file where the folder would go")
    assert total(store_copy, "gross_sales", FEB) == 320
    assert not list(store_copy.path.glob("cache*/*")) and \
        not list(store_copy.path.glob(".memory-*"))


def test_a_new_file_clears_what_a_killed_build_left(store_copy, tmp_path):
    store_copy.connect()
    folder = store_copy.path / "cache"
    stale, busy = folder / ".memory-x.duckdb.dead.tmp", folder / ".memory-y.duckdb.busy.tmp"
    for f in (stale, busy):
        f.write_bytes(b"half a database")
    os.utime(stale, (1, 1))                           # written in 1970: nobody is on it
    ingest(store_copy, [write_csv(tmp_path / "u.csv", ORDER_HEADER
                                  + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")])
    store_copy.connect()                              # builds the upload's file
    assert not stale.exists()
    assert busy.exists()                              # another process may be writing it
    assert len(cache_files(store_copy)) == 1


# Columns added to the contract since a store was written (orders.tips, refunds.shipping…).
NEWER = {"orders": ("tips", "discount_code", "utm_campaign", "cancelled_at"),
         "refunds": ("shipping", "tax")}


def test_a_store_written_before_columns_were_added_reads_them_as_empty(store_copy, tmp_path):
    """An older version's files lack the columns added since: they read as null, its rollups
    (built over the older columns) are rebuilt, and an upload merges into its months."""
    from kpilib import KPIS, Filters, run

    f = Filters(date(2025, 1, 1), date(2025, 3, 31))
    names = ("net_sales", "shipping", "tax", "total_sales", "tips", "returns")
    want = {n: run(store_copy.connect(), KPIS[n], f, "month") for n in names}
    con = duckdb.connect()
    for table, gone in NEWER.items():
        for part in store_copy.files(table):
            con.read_parquet(str(part)).project(duckdb.StarExpression(exclude=gone)) \
                .write_parquet(f"{part}.tmp")
            os.replace(f"{part}.tmp", part)
    m = store_copy.manifest
    m["rollup_defs"] = {n: "older" for n in m["rollup_defs"]}   # as its version defined them
    store_copy._commit(m)
    shutil.rmtree(store_copy.path / "cache", ignore_errors=True)
    assert "tips" not in con.read_parquet(str(store_copy.files("orders")[0])).columns
    assert store_copy.refresh_rollups()
    for n in names:
        pd.testing.assert_frame_equal(run(store_copy.connect(), KPIS[n], f, "month"), want[n])
    # February's stored file lacks the new columns; the upload's rows have them.
    ingest(store_copy, [write_csv(tmp_path / "o9.csv", "order_id,ordered_at,status,gross_sales,"
                                  "discounts,tips\no9,2025-02-14 10:00,paid,10,0,1.50\n")])
    assert total(store_copy, "orders", FEB) == 6
    assert store_copy.connect().execute(
        "select order_id, tips from orders where day between '2025-02-01' and '2025-02-28' "
        "and (tips is not null or order_id = 'o2') order by 1").fetchall() == [
        ("o2", None), ("o9", Decimal("1.50"))]
