"""The store: atomic writes, upsert by natural key, recovery after an interrupted write."""
import hashlib
import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from helpers import FEB, total
from kpilib import Filters
from kpilib import Store, demo
from kpilib.ingest import ingest
from kpilib.rollups import ROLLUPS
from kpilib.schema import TABLES


def snapshot(store: Store) -> dict:
    """Every file of the store with its content hash: 'byte-identical' made checkable."""
    return {str(p.relative_to(store.path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.path.rglob("*")) if p.is_file()}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ORDER_HEADER = "order_id,ordered_at,customer_id,channel,status,gross_sales,discounts\n"


def test_store_layout_and_manifest(tiny_store):
    m = tiny_store.manifest
    assert m["tables"]["orders"].keys() == {"2025-01", "2025-02", "2025-03"}
    assert m["tables"]["orders"]["2025-02"]["rows"] == 6       # o2..o7
    assert m["tables"]["products"]["all"]["rows"] == 6
    for parts in m["tables"].values():
        for p in parts.values():
            assert (tiny_store.path / p["file"]).exists()
    src = {s["name"]: s for s in tiny_store.sources()}
    assert src["orders.csv"]["rows"] == 8 and len(src["orders.csv"]["sha256"]) == 64
    assert src["orders.csv"]["months"] == ["2025-01", "2025-02", "2025-03"]


def test_interrupted_write_leaves_store_unchanged(store_copy, tmp_path):
    before = snapshot(store_copy)
    f = write_csv(tmp_path / "more.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,99,0\n")

    def crash():
        raise KeyboardInterrupt("simulated crash after staging")

    with pytest.raises(KeyboardInterrupt):
        ingest(store_copy, [f], after_stage=crash)
    assert snapshot(store_copy) == before
    check_total = total(store_copy, "orders", FEB)
    assert check_total == 5


def test_recover_removes_files_of_an_uncommitted_write(store_copy):
    before = snapshot(store_copy)
    # What a process killed between moving files and replacing the manifest leaves behind:
    orphan = store_copy.path / "parts" / "orders" / "month=2025-02" / "part-dead.parquet"
    orphan.write_bytes(b"PAR1")
    (store_copy.path / ".staging" / "x").mkdir(parents=True)
    (store_copy.path / "manifest.json.tmp").write_text("{")
    store_copy.recover()
    assert snapshot(store_copy) == before


def test_newer_export_replaces_rows_by_key_and_keeps_the_rest(store_copy, tmp_path):
    # o6 is re-exported with a new amount and o9 is new; every other February order stays.
    f = write_csv(tmp_path / "feb_update.csv", ORDER_HEADER
                  + "o6,2025-02-12 20:00,bob,email,refunded,45,0\n"
                  + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    ingest(store_copy, [f])
    assert total(store_copy, "orders", FEB) == 6                 # 5 + o9
    assert total(store_copy, "gross_sales", FEB) == 320 + 15 + 10  # o6 30 → 45, o9 +10
    assert store_copy.manifest["tables"]["orders"]["2025-02"]["rows"] == 7
    assert store_copy.manifest["tables"]["orders"]["2025-01"]["rows"] == 1


def test_same_file_twice_changes_nothing(store_copy):
    before = snapshot(store_copy)
    from conftest import TINY
    reports = ingest(store_copy, [TINY / "orders.csv"])
    assert [r.unchanged for r in reports] == [True]
    assert "nothing changed" in reports[0].summary()
    assert snapshot(store_copy) == before


def test_previous_partition_files_are_kept_for_undo(store_copy, tmp_path):
    old = store_copy.manifest["tables"]["orders"]["2025-02"]["file"]
    ingest(store_copy, [write_csv(tmp_path / "u.csv", ORDER_HEADER
                                  + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")])
    rec = store_copy.manifest["ingests"][-1]
    assert rec["partitions"]["orders"]["2025-02"]["old"] == old
    assert (store_copy.path / old).exists()
    store_copy.recover()
    assert (store_copy.path / old).exists()


def test_empty_store_has_typed_empty_views(tmp_path):
    con = Store(tmp_path / "none").connect()
    assert con.execute("select count(*) from orders").fetchall() == [(0,)]
    assert total(Store(tmp_path / "none"), "net_sales", FEB) == 0


# --- killed at a random point: the store is as before or fully updated, never between --------
KILL_CHILD = """
import sys
sys.path.insert(0, {root!r})
from kpilib import Store
from kpilib.ingest import ingest
ingest(Store(sys.argv[1]), sys.argv[2:])
"""


def content(store: Store) -> dict:
    """What the store holds, independent of file names: rows and a hash of every table."""
    store.recover()
    con = store.connect()
    from kpilib.schema import TABLES
    return {t: con.execute(f"select count(*), coalesce(sum(hash(columns(*))), 0) "
                           f"from (select * from {t})").fetchall()[0] for t in TABLES}


def test_sigkill_mid_ingest_leaves_before_or_after(tmp_path, tiny_store, demo_shop):
    import random
    import shutil
    import signal
    import subprocess
    import sys
    import time

    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("orders", "order_items", "traffic"):
        getattr(demo_shop, name).to_csv(exports / f"{name}.csv", index=False)
    files = [str(p) for p in sorted(exports.glob("*.csv"))]
    root = str(Path(__file__).resolve().parent.parent)
    child = [sys.executable, "-c", KILL_CHILD.format(root=root)]

    def fresh(name):
        shutil.copytree(tiny_store.path, tmp_path / name)
        return Store(tmp_path / name)

    before = content(fresh("reference_before"))
    ref = fresh("reference_after")
    t0 = time.time()
    subprocess.run([*child, str(ref.path), *files], check=True, timeout=300)
    duration = time.time() - t0
    after = content(ref)
    assert after != before

    # A killed process cannot remove its temporary folder: keep them in the test's own.
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    rng = random.Random(4)
    for i in range(6):
        store = fresh(f"killed_{i}")
        p = subprocess.Popen([*child, str(store.path), *files], env=env)
        time.sleep(rng.uniform(0.2, duration * 1.1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        got = content(store)  # content() recovers first, as the next writer would
        # Which of the two it is depends on when the kill landed; both are correct.
        assert got in (before, after), f"kill {i}: the store is between two states"
        assert not (store.path / ".staging").exists()


def without_version(m: dict) -> dict:
    """The manifest's record of the data: rollups are rebuilt (new files, same rows) and
    compared by their contents where it matters."""
    rows = {name: {month: p["rows"] for month, p in parts.items()}
            for name, parts in m.get("rollups", {}).items()}
    return {**{k: v for k, v in m.items() if k not in ("version", "rollups")},
            "rollup_rows": rows}


def test_undo_restores_the_store_exactly(store_copy, tmp_path):
    before_files = {k: v for k, v in snapshot(store_copy).items() if k.startswith("parts/")}
    before = without_version(store_copy.manifest)
    f = write_csv(tmp_path / "feb_update.csv", ORDER_HEADER
                  + "o6,2025-02-12 20:00,bob,email,refunded,45,0\n"
                  + "o9,2025-04-14 10:00,erin,email,paid,10,0\n")
    ingest(store_copy, [f])
    assert total(store_copy, "gross_sales", FEB) == 335
    store_copy.undo()
    assert without_version(store_copy.manifest) == before
    assert {k: v for k, v in snapshot(store_copy).items() if k.startswith("parts/")} == before_files
    assert total(store_copy, "gross_sales", FEB) == 320
    assert "2025-04" not in store_copy.months("orders")


def test_delete_month_and_undo(store_copy):
    before = without_version(store_copy.manifest)
    store_copy.delete_month("orders", "2025-02")
    assert total(store_copy, "orders", FEB) == 0
    assert "2025-02" not in store_copy.months("orders")
    store_copy.undo()
    assert without_version(store_copy.manifest) == before
    assert total(store_copy, "orders", FEB) == 5


def test_undo_with_nothing_to_undo(tmp_path):
    with pytest.raises(ValueError, match="nothing to undo"):
        Store(tmp_path / "empty").undo()


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


# --- writing: progress, and months not stored yet in one pass ---------------------------------
def small_shop(end: date):
    return demo.generate(months=3, scale=0.02, seed=3, end=end)


def test_write_tells_its_progress_up_to_stored(tmp_path):
    shop = small_shop(date(2026, 1, 31))
    calls = []
    demo.write(Store(tmp_path / "s"), shop, progress=lambda f, text: calls.append((f, text)))
    fractions, texts = [f for f, _ in calls], [t for _, t in calls]
    assert fractions == sorted(set(fractions))       # rising, never twice the same
    assert fractions[0] == 0 and fractions[-1] == 1.0 and texts[-1] == "Stored"
    assert [t for t in texts if t.startswith("Storing")] == \
        [f"Storing {table.replace('_', ' ')}…" for table in shop.tables()]
    built = [t for t in texts if t.startswith("Building the daily sums")]
    assert len(built) == len(ROLLUPS) and "(1 of 32: customer first)" in built[0]


def test_months_written_in_one_pass_are_the_months_written_one_by_one(tmp_path, monkeypatch):
    """A first upload writes its months in one pass per table; the files hold what writing them
    month by month gives (same rows, types, counts), in date order. A later upload that
    overlaps a stored month merges that one and writes its new months in one pass."""
    first, later = small_shop(date(2026, 1, 31)), small_shop(date(2026, 3, 31))  # Jan twice
    # Another shop's orders: the generator numbers every shop's from 100001, and a key is
    # unique across the table (one stored in November would move to the later shop's month).
    for name in ("orders", "order_items", "refunds"):
        df = getattr(later, name)
        for key in {"order_id", "refund_id"} & set(df.columns):
            df[key] = "L" + df[key]
    one, each = Store(tmp_path / "one"), Store(tmp_path / "each")
    for shop in (first, later):
        demo.write(one, shop)
        with monkeypatch.context() as m:
            m.setattr(Store, "_write_months", lambda *a: {})   # every month on its own
            demo.write(each, shop)
    for table, spec in TABLES.items():
        a, b = one.manifest["tables"][table], each.manifest["tables"][table]
        assert {m: p["rows"] for m, p in a.items()} == {m: p["rows"] for m, p in b.items()}
        for month in a:
            x, y = (duckdb.read_parquet(str(s.path / parts[month]["file"]),
                                        hive_partitioning=False).df()
                    for s, parts in ((one, a), (each, b)))
            assert len(x) == a[month]["rows"]
            if spec.date_column:
                assert x[spec.date_column].is_monotonic_increasing, (table, month)
            pd.testing.assert_frame_equal(x.sort_values(list(x.columns), ignore_index=True),
                                          y.sort_values(list(y.columns), ignore_index=True))
    assert sorted(one.manifest["tables"]["orders"]) == \
        ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]


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


def test_a_rollup_is_redefined_when_a_table_it_reads_gains_a_column(monkeypatch):
    """valid_refunds keeps every column of refunds: stored before refunds had shipping and
    tax, it lacks them, so a new column makes it another definition."""
    from dataclasses import replace

    from kpilib import store as st
    before = st.definition("valid_refunds"), st.definition("customer_first")
    fewer = replace(TABLES["refunds"], columns=TABLES["refunds"].columns[:-1])
    monkeypatch.setitem(TABLES, "refunds", fewer)
    st.definition.cache_clear()
    try:
        assert st.definition("valid_refunds") != before[0]
        assert st.definition("customer_first") == before[1]   # reads no refunds
    finally:
        monkeypatch.undo()
        st.definition.cache_clear()


# --- issue 28: a key is unique across the whole table, not within a month ---------------------
MARCH_APRIL = Filters(date(2025, 3, 1), date(2025, 4, 30))
MARCH = Filters(date(2025, 3, 1), date(2025, 3, 31))
APRIL = Filters(date(2025, 4, 1), date(2025, 4, 30))
REFUND_HEADER = "refund_id,order_id,refunded_at,amount\n"


def redated_store(tmp_path) -> Store:
    """V1 (10.00) on the last evening of March, V2 (20.00) mid-March; V2's refund R1 (5.00)
    on 31 March."""
    store = Store(tmp_path / "redated")
    ingest(store, [write_csv(tmp_path / "march.csv", ORDER_HEADER
                             + "V1,2025-03-31 23:30,ann,email,paid,10,0\n"
                             + "V2,2025-03-15 12:00,ben,email,paid,20,0\n"),
                   write_csv(tmp_path / "refunds_march.csv", REFUND_HEADER
                             + "R1,V2,2025-03-31 22:00,5\n")])
    return store


def test_a_row_redated_into_another_month_replaces_the_stored_one(tmp_path):
    """The platform re-exports V1 dated 1 April and R1 dated 1 April (a late edit, another
    clock): the newest upload wins and each is stored once, in its new month."""
    store = redated_store(tmp_path)
    before = without_version(store.manifest)
    assert total(store, "orders", MARCH_APRIL) == 2 and total(store, "gross_sales", MARCH) == 30
    report = ingest(store, [write_csv(tmp_path / "april.csv", ORDER_HEADER
                                      + "V1,2025-04-01 00:30,ann,email,paid,10,0\n"),
                            write_csv(tmp_path / "refunds_april.csv", REFUND_HEADER
                                      + "R1,V2,2025-04-01 09:00,5\n")])
    # Orders: V2 in March, V1 in April: 2, not 3 (V1 counted in both months); gross 20 + 10
    # = 30, not 40.
    assert total(store, "orders", MARCH_APRIL) == 2
    assert total(store, "gross_sales", MARCH_APRIL) == 30
    assert total(store, "orders", MARCH) == 1 and total(store, "gross_sales", MARCH) == 20
    assert total(store, "orders", APRIL) == 1 and total(store, "gross_sales", APRIL) == 10
    # Refunds: R1 once, in April: 5, not 10; March has none left.
    assert total(store, "returns", MARCH_APRIL) == 5
    assert total(store, "returns", MARCH) == 0 and total(store, "returns", APRIL) == 5
    assert store.months("orders") == {"2025-03": 1, "2025-04": 1}
    assert store.months("refunds") == {"2025-04": 1}   # March's only refund left: no file
    assert "1 order moved from March 2025 to April 2025" in report.text()
    assert "1 refund moved from March 2025 to April 2025" in report.text()
    # The diff says what happens to the month the rows leave, too.
    changes = report.changes()
    assert "2025-03 orders: 2 → 1 row, sales (gross − discounts) -10.00" in changes
    assert "2025-03 refunds: 1 → 0 rows, returns -5.00" in changes
    # One upload: one undo brings back March as it was, both tables.
    store.undo()
    assert without_version(store.manifest) == before
    assert total(store, "orders", MARCH_APRIL) == 2 and total(store, "gross_sales", MARCH) == 30
    assert total(store, "returns", MARCH) == 5 and total(store, "returns", APRIL) == 0


def test_only_months_whose_keys_may_hold_the_upload_are_read(tmp_path):
    """Each month's lowest and highest key are in the manifest: a stored month whose range
    holds no uploaded key is not opened (here it could not be); one written before the ranges
    were kept is read whatever it holds."""
    store = redated_store(tmp_path)                      # March: V1, V2
    ingest(store, [write_csv(tmp_path / "jan.csv", ORDER_HEADER
                             + "A1,2025-01-10 10:00,ann,email,paid,1,0\n")])
    assert store.manifest["tables"]["orders"]["2025-03"]["keys"] == ["V1", "V2"]
    [january] = store.files("orders", months={"2025-01"})
    kept = january.read_bytes()
    january.write_bytes(b"not parquet")
    april = write_csv(tmp_path / "april.csv", ORDER_HEADER
                      + "V1,2025-04-01 00:30,ann,email,paid,10,0\n")
    assert "1 order moved from March 2025 to April 2025" in \
        ingest(store, [april], dry_run=True).text()
    january.write_bytes(kept)   # the rollups of customers' first orders read every month
    m = store.manifest
    del m["tables"]["orders"]["2025-03"]["keys"]         # as an older version wrote it
    store._commit(m)
    ingest(store, [april])
    assert store.months("orders") == {"2025-01": 1, "2025-03": 1, "2025-04": 1}
    assert store.manifest["tables"]["orders"]["2025-03"]["keys"] == ["V2", "V2"]


def test_a_redated_row_moves_whatever_month_it_comes_back_in(tmp_path):
    """Re-dated back again (April → March, with a new amount), and uploaded together with
    another March order: still one V1, the newest amount."""
    store = redated_store(tmp_path)
    ingest(store, [write_csv(tmp_path / "april.csv", ORDER_HEADER
                             + "V1,2025-04-01 00:30,ann,email,paid,10,0\n")])
    report = ingest(store, [write_csv(tmp_path / "back.csv", ORDER_HEADER
                                      + "V1,2025-03-31 23:45,ann,email,paid,12,0\n"
                                      + "V3,2025-03-20 10:00,cid,email,paid,7,0\n")])
    # March: V2 20 + V1 12 + V3 7 = 39 over 3 orders; April: none left.
    assert total(store, "orders", MARCH_APRIL) == 3
    assert total(store, "gross_sales", MARCH) == 39 and total(store, "orders", APRIL) == 0
    assert "1 order moved from April 2025 to March 2025" in report.text()
    assert "2025-04" not in store.months("orders")


def test_a_redated_order_takes_its_stored_lines_with_it(tmp_path):
    """V1's lines are stored in March with it; V1 comes back dated 1 April without them (an
    orders export alone): its lines move to April too, so sales by product follow the order."""
    store = redated_store(tmp_path)
    ingest(store, [write_csv(tmp_path / "lines.csv", "order_id,line,sku,quantity,unit_price\n"
                             "V1,1,A,2,3.00\nV1,2,B,1,4.00\nV2,1,A,4,5.00\n")])
    assert store.months("order_items") == {"2025-03": 3}
    ingest(store, [write_csv(tmp_path / "april.csv", ORDER_HEADER
                             + "V1,2025-04-01 00:30,ann,email,paid,10,0\n")])
    # March: V2's line only; April: V1's two lines, 2 + 1 = 3 units (before: none, its
    # lines left in March with no order of March to join).
    assert store.months("order_items") == {"2025-03": 1, "2025-04": 2}
    assert total(store, "units_sold", APRIL) == 3 and total(store, "units_sold", MARCH) == 4
    assert store.connect().sql("select ordered_at::varchar from order_items where order_id = "
                               "'V1'").fetchall() == [("2025-04-01 00:30:00",)] * 2
    store.undo()
    assert store.months("order_items") == {"2025-03": 3}
    assert total(store, "units_sold", MARCH) == 7 and total(store, "units_sold", APRIL) == 0


# --- issue 28: the store keeps what undo needs, and no more ------------------------------------
def store_files(store: Store) -> list[str]:
    """Every data file (cache/ is derived and cleans itself)."""
    return sorted(str(p.relative_to(store.path)) for p in store.path.rglob("*")
                  if p.is_file() and p.relative_to(store.path).parts[0] != "cache")


def test_ingest_and_undo_cycles_leave_a_bounded_number_of_files(store_copy, tmp_path):
    """Each upload supersedes some fifty rollup files, and each undo as many: the next write
    deletes those no manifest refers to, so 13 cycles leave what one left."""
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    counts = []
    for _ in range(13):
        ingest(store_copy, [f])
        store_copy.undo()
        counts.append(len(store_files(store_copy)))
    assert counts[-1] == counts[0], counts
    assert total(store_copy, "orders", FEB) == 5


def test_undo_reaches_back_as_many_uploads_as_the_setting_says(store_copy, tmp_path):
    """undo_uploads = 3: five uploads of one February order each; the three last can be
    undone, one by one, and the files only the two first could restore are deleted."""
    store_copy._save_settings({"undo_uploads": 3})
    feb = store_copy.manifest["tables"]["orders"]["2025-02"]["file"]
    for i in range(5):
        ingest(store_copy, [write_csv(tmp_path / f"u{i}.csv", ORDER_HEADER
                                      + f"n{i},2025-02-14 10:00,erin,email,paid,10,0\n")])
    assert total(store_copy, "orders", FEB) == 10           # 5 + n0..n4
    ingest(store_copy, [write_csv(tmp_path / "stock.csv", "date,sku,on_hand\n2025-02-01,A,1\n")])
    # Superseded February files: the tiny store's and those of n0..n4 minus the live one.
    # Six uploads in all; the three last (n3, n4, stock) are undoable, so only n3's and n4's
    # previous files (after n2, after n3) are kept beside the live file (after n4).
    february = sorted((store_copy.path / "parts" / "orders" / "month=2025-02").iterdir())
    assert len(february) == 3 and not (store_copy.path / feb).exists()
    for left in (10, 9, 8):     # stock, then n4, then n3 taken back: 5 + n0..n2 left
        store_copy.undo()
        assert total(store_copy, "orders", FEB) == left
    with pytest.raises(ValueError, match="only the last 3 uploads can be undone"):
        store_copy.undo()
    assert total(store_copy, "orders", FEB) == 8


# --- issue 28: one writer at a time -------------------------------------------------------------
HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from kpilib import Store
with Store(sys.argv[1]).writing():
    print("holding", flush=True)
    time.sleep(120)
"""
WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from kpilib import Store, store as st
from kpilib.ingest import ingest
st.manifest.LOCK_WAIT = float(sys.argv[2])
try:
    ingest(Store(sys.argv[1]), sys.argv[3:], after_stage=lambda: time.sleep(1.5))
except st.StoreBusy as e:
    print("refused:", e)
else:
    print("stored")
"""
ROOT = Path(__file__).resolve().parent.parent


def hold(store: Store):
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT)), str(store.path)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "holding\n"
    return p


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(store_copy, tmp_path,
                                                                 monkeypatch):
    import re
    import signal
    from kpilib import store as st

    holder = hold(store_copy)
    before = snapshot(store_copy)
    monkeypatch.setattr(st.manifest, "LOCK_WAIT", 0.3)
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    try:
        with pytest.raises(st.StoreBusy) as e:
            ingest(store_copy, [f])
        assert re.fullmatch(r"another upload is in progress since \d\d:\d\d "
                            rf"\(pid {holder.pid}\): try again when it has finished\.",
                            str(e.value)), str(e.value)
        with pytest.raises(st.StoreBusy):
            store_copy.undo()
        assert snapshot(store_copy) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The holder is gone without releasing it: its lock is stale and taken over.
    assert (store_copy.path / st.LOCK).exists()
    ingest(store_copy, [f])
    assert total(store_copy, "orders", FEB) == 6
    assert not (store_copy.path / st.LOCK).exists()


@pytest.mark.parametrize("wait", [0, 30])
def test_two_writers_at_once(store_copy, tmp_path, wait):
    """Two processes upload at the same moment, each holding its write open 1.5 s: with no
    wait the second is refused with the holder's pid; with a wait it stores after the first.
    Either way nobody's files are deleted by the other and every figure is right."""
    import subprocess
    import sys
    files = [write_csv(tmp_path / f"w{i}.csv", ORDER_HEADER
                       + f"w{i},2025-02-14 10:00,erin,email,paid,{10 * (i + 1)},0\n")
             for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT)),
                               str(store_copy.path), str(wait), str(f)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in files]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    said = [out.strip() for out, _ in outs]
    stored = [i for i, s in enumerate(said) if s == "stored"]
    if wait:
        assert stored == [0, 1], said
    else:
        assert len(stored) == 1, said
        [refused] = [s for s in said if s != "stored"]
        other = procs[stored[0]].pid
        assert refused.startswith("refused: another upload is in progress since ") and \
            f"(pid {other})" in refused, said
    # Feb: the 5 stored orders (gross 320) and each upload that was stored (w0 10, w1 20).
    assert total(store_copy, "orders", FEB) == 5 + len(stored)
    assert total(store_copy, "gross_sales", FEB) == 320 + sum(10 * (i + 1) for i in stored)
    assert not (store_copy.path / ".staging").exists()


# --- issue 28: what a killed ingest leaves, a full disk ------------------------------------------
STALLED = """
import sys, time
sys.path.insert(0, {root!r})
from kpilib import Store
from kpilib.ingest import ingest
ingest(Store(sys.argv[1]), sys.argv[2:],
       after_stage=lambda: (print("staged", flush=True), time.sleep(120)))
"""


def test_the_next_write_removes_what_a_killed_ingest_left(store_copy, tmp_path):
    import signal
    import subprocess
    import sys
    from kpilib import store as st

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    p = subprocess.Popen([sys.executable, "-c", STALLED.format(root=str(ROOT)),
                          str(store_copy.path), str(f)], env=env, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "staged\n"   # files staged, the manifest not yet replaced
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert list(tmp.iterdir()) and (store_copy.path / ".staging").exists()
    assert (store_copy.path / st.LOCK).exists()
    # Another ingest, in another process, with the same temporary folder.
    g = write_csv(tmp_path / "o10.csv", ORDER_HEADER
                  + "o10,2025-02-15 10:00,erin,email,paid,10,0\n")
    subprocess.run([sys.executable, "-m", "kpilib", "ingest", "--store", str(store_copy.path),
                    str(g)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    assert list(tmp.iterdir()) == []
    assert not (store_copy.path / ".staging").exists()
    assert not (store_copy.path / st.LOCK).exists()
    assert total(store_copy, "orders", FEB) == 6     # 5 + o10; o9 was never committed


@pytest.mark.parametrize("error", [
    OSError(28, "No space left on device"),
    # DuckDB's, with the extra information its errors carry as JSON.
    duckdb.IOException('IO Error: Could not write file "/srv/shop/.staging/x/part.parquet": '
                       'No space left on device {"errno":"28","exception_type":"IO"}'),
], ids=["python", "duckdb"])
def test_a_full_disk_says_so_first(store_copy, tmp_path, monkeypatch, error):
    from kpilib import store as st

    before = snapshot(store_copy)

    def full(*a, **k):
        raise error

    monkeypatch.setattr(Store, "_write_partition", full)
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    with pytest.raises(st.DiskFull) as e:
        ingest(store_copy, [f])
    assert str(e.value).startswith("The disk is full: ")
    assert "/srv" not in str(e.value) and "{" not in str(e.value)
    assert snapshot(store_copy) == before
