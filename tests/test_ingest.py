"""Ingest: every bad file gets a message naming the file, the column and example rows, and the
store stays byte-identical; the accepted variants of real exports are read right."""
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from kpilib import Store
from kpilib.ingest import IngestError, ingest
from test_store import snapshot

DATA = Path(__file__).parent / "data"

# file → fragments the message must contain (the file name is always checked).
BAD = {
    "missing_column.csv": ["closest to 'orders'", "'status'"],
    "unknown_columns.csv": ["could not tell which table", "'foo'", "template"],
    "wrong_type_amount.csv": ["column 'gross_sales'", "not numbers", "row 3: 'twelve'"],
    "bad_dates.csv": ["column 'ordered_at'", "2 value(s) are not dates", "row 3: '2025-13-45'",
                      "row 4: 'yesterday'"],
    "mixed_day_month.csv": ["column 'ordered_at'", "mixes day/month and month/day"],
    "duplicate_keys.csv": ["column 'order_id'", "more than once", "row 2: 'b1 (also row 4)'"],
    "duplicate_traffic_rows.csv": ["more than once", "2025-02-01 / email / mobile"],
    "negative_sessions.csv": ["column 'sessions'", "cannot be negative", "row 3: '-4'"],
    "empty.csv": ["the file is empty"],
    "header_only.csv": ["header but no rows"],
    "unknown_status.csv": ["column 'status'", "row 3: 'teleported'", "known statuses"],
    "several_currencies.csv": ["several currencies (EUR, USD)"],
    "required_empty.csv": ["column 'order_id'", "required but empty", "row 3"],
    "truncated_last_line.csv": ["column 'ordered_at'", "row 3: '2025-02-0'"],
    "page_saved_from_browser.csv": ["web page", "Export"],
    "binary_junk.csv": ["not a text file"],
    "broken_workbook.xlsx": ["not a readable Excel workbook"],
    "broken.parquet": ["not a readable Parquet file"],
}


def test_corpus_is_complete():
    assert sorted(p.name for p in (DATA / "bad").iterdir()) == sorted(BAD)


@pytest.mark.parametrize("name", BAD)
def test_bad_input_gets_a_clear_message_and_changes_nothing(store_copy, name):
    before = snapshot(store_copy)
    with pytest.raises(IngestError) as e:
        ingest(store_copy, [DATA / "bad" / name])
    msg = str(e.value)
    assert msg.startswith(name + ":"), msg
    for fragment in BAD[name]:
        assert fragment in msg, msg
    assert "Traceback" not in msg and "\n" not in msg
    assert snapshot(store_copy) == before


def test_one_bad_file_in_an_upload_writes_nothing(store_copy):
    before = snapshot(store_copy)
    with pytest.raises(IngestError, match="wrong_type_amount.csv"):
        ingest(store_copy, [DATA / "good" / "utf8_bom.csv", DATA / "bad" / "wrong_type_amount.csv"])
    assert snapshot(store_copy) == before


def rows(store: Store, sql: str):
    return store.connect().execute(sql).fetchall()


def test_semicolons_and_decimal_commas(tmp_path):
    store = Store(tmp_path / "s")
    [r] = ingest(store, [DATA / "good" / "semicolon_decimal_comma.csv"])
    assert "decimal comma" in r.summary()
    assert rows(store, "select order_id, channel, gross_sales, discounts from orders order by 1") == [
        ("g1", "email", Decimal("1234.50"), Decimal("10.00")),
        ("g2", "email", Decimal("99.90"), Decimal("0.00"))]


def test_currency_symbols_and_thousands_separators(tmp_path):
    store = Store(tmp_path / "s")
    ingest(store, [DATA / "good" / "currency_symbols.csv"])
    assert rows(store, "select gross_sales from orders order by 1") == [
        (Decimal("99.90"),), (Decimal("1234.50"),)]


def test_latin1_and_bom(tmp_path):
    store = Store(tmp_path / "s")
    ingest(store, [DATA / "good" / "latin1.csv", DATA / "good" / "utf8_bom.csv"])
    assert rows(store, "select customer_id, channel from orders order by 1") == [
        ("Zoé", "référencement_naturel"), ("c1", "email")]


def test_offsets_are_converted_to_shop_time(tmp_path):
    store = Store(tmp_path / "s")
    store.path.mkdir(parents=True)
    (store.path / "settings.json").write_text('{"timezone": "Europe/Paris"}')
    ingest(store, [DATA / "good" / "utc_offsets.csv"])
    # 23:59:04 at UTC−7 is 06:59:04 UTC, 08:59:04 in Paris (summer time); 05:00Z is 07:00.
    assert rows(store, "select ordered_at from orders order by 1") == [
        (datetime(2025, 6, 1, 7, 0),), (datetime(2025, 6, 1, 8, 59, 4),)]


def test_day_first_dates_are_said(tmp_path):
    store = Store(tmp_path / "s")
    [r] = ingest(store, [DATA / "good" / "day_first_dates.csv"])
    assert rows(store, "select ordered_at from orders order by 1") == [
        (datetime(2025, 1, 31, 10, 0),), (datetime(2025, 2, 1, 0, 0),)]
    assert r.first == "2025-01-31" and r.months == ["2025-01", "2025-02"]


def test_ga4_comment_lines_and_compact_dates(tmp_path):
    store = Store(tmp_path / "s")
    [r] = ingest(store, [DATA / "good" / "ga4_style_traffic.csv"])
    assert r.table == "traffic" and r.rows == 2
    assert rows(store, "select date::varchar, channel, sessions from traffic order by 1") == [
        ("2025-02-01", "organic_search", 100), ("2025-02-02", "organic_search", 120)]


def test_excel_and_parquet(tmp_path):
    df = pd.read_csv(DATA / "tiny" / "orders.csv", dtype=str)
    df.to_excel(tmp_path / "orders.xlsx", index=False)
    pd.read_csv(DATA / "tiny" / "traffic.csv").to_parquet(tmp_path / "traffic.parquet")
    store = Store(tmp_path / "s")
    reports = ingest(store, [tmp_path / "orders.xlsx", tmp_path / "traffic.parquet"])
    assert [(r.table, r.rows) for r in reports] == [("orders", 8), ("traffic", 6)]
    assert rows(store, "select sum(gross_sales) from valid_orders") == [(Decimal("490.00"),)]


def test_dry_run_validates_without_writing(tmp_path):
    store = Store(tmp_path / "s")
    [r] = ingest(store, [DATA / "tiny" / "orders.csv"], dry_run=True)
    assert (r.table, r.rows, r.first, r.last) == ("orders", 8, "2025-01-05", "2025-03-02")
    assert not store.path.exists() or store.is_empty()


def test_report_says_what_was_understood(tmp_path):
    f = tmp_path / "export.csv"
    f.write_text("Order ID,Created At,Status,Subtotal,Discount,Note\nx1,2025-02-01,paid,10,0,hi\n")
    [r] = ingest(Store(tmp_path / "s"), [f], dry_run=True)
    assert r.mapping == {"order_id": "Order ID", "ordered_at": "Created At", "status": "Status",
                         "gross_sales": "Subtotal", "discounts": "Discount"}
    assert r.ignored == ["Note"]
