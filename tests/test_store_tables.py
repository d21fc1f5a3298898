"""kpilib/store/tables.py: an upload's rows into the stored tables, month by month, rows
re-dated into another month moved."""
from datetime import date

import duckdb
import pandas as pd

from helpers import FEB, ORDER_HEADER, snapshot, total, without_version, write_csv
from kpilib import Filters, Store, demo
from kpilib.ingest import ingest
from kpilib.rollups import ROLLUPS
from kpilib.schema import TABLES


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
    assert "Orders of Mar 2025: 2 → 1 row, sales (gross − discounts) -10.00" in changes
    assert "Refunds of Mar 2025: 1 → 0 rows, returns -5.00" in changes
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
