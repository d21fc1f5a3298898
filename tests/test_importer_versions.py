"""Uploads record their importer's version; a store an older importer wrote names the export
to upload again (kpilib.ingest.versions)."""
import json
from pathlib import Path

from kpilib import Store
from kpilib.ingest import ingest, versions

FORMATS = Path(__file__).parent / "data" / "formats"
UCI = FORMATS / "online_retail.csv"   # orders of Nov and Dec 2011, one credit note (Nov)


def uci_store(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    ingest(store, [UCI], allow_partial=True)
    return store


def rewrite_sources(store: Store, change) -> None:
    """The manifest as an older app wrote it: each source changed by ``change``."""
    path = store.path / "manifest.json"
    m = json.loads(path.read_text())
    for ing in m["ingests"]:
        for s in ing["sources"]:
            change(s)
    path.write_text(json.dumps(m))


def test_an_upload_records_its_importer_and_version(tmp_path):
    store = uci_store(tmp_path)
    sources = store.sources()
    # One file, three tables: orders, order lines and refunds, each from UCI's importer.
    assert {(s["table"], s["importer"], s["importer_version"]) for s in sources} == {
        ("orders", "UCI Online Retail", 4), ("order_items", "UCI Online Retail", 4),
        ("refunds", "UCI Online Retail", 4)}
    assert versions.outdated(store) == []
    # A canonical CSV is no importer's: nothing an importer change alters.
    tiny = Store(tmp_path / "tiny")
    ingest(tiny, [Path(__file__).parent / "data" / "tiny" / "orders.csv"])
    assert [s["importer"] for s in tiny.sources()] == [None]
    assert versions.outdated(tiny) == []


def test_an_older_importers_upload_is_named_with_what_to_do(tmp_path):
    store = uci_store(tmp_path)
    # Written by version 3: only the credit notes' country (version 4) is missing.
    rewrite_sources(store, lambda s: s.update(importer_version=3))
    [old] = versions.outdated(store)
    assert old.file == "online_retail.csv"
    assert old.months == {"refunds": ["2011-11"]}   # the one credit note, C574500
    assert old.sentence(("refunds",)) == (
        "Your UCI Online Retail export online_retail.csv was imported by an older version, "
        "which put every return under \"No country recorded\": upload it again on the Data "
        "page.")
    assert old.sentence(("orders",)) is None
    # Uploaded again, it is read again (not skipped as already stored), and is current.
    report = ingest(store, [UCI], allow_partial=True)
    assert not any(f.unchanged for f in report.files)
    assert versions.outdated(store) == []
    # A third time it is the same content read by the same importer: skipped.
    assert all(f.unchanged for f in ingest(store, [UCI], allow_partial=True).files)


def test_a_manifest_from_before_versions_opens_and_tells_uci_by_its_credit_notes(tmp_path):
    store = uci_store(tmp_path)
    rewrite_sources(store, lambda s: (s.pop("importer"), s.pop("importer_version")))
    assert len(store.sources()) == 3 and store.version > 0   # still opens
    [old] = versions.outdated(store)
    # Orders of Nov and Dec 2011 (and their lines) were counted with stock adjustments:
    # rows an upload again keeps, so their months are deleted first.
    assert old.months == {"orders": ["2011-11", "2011-12"],
                          "order_items": ["2011-11", "2011-12"], "refunds": ["2011-11"]}
    assert old.sentence() == (
        "Your UCI Online Retail export online_retail.csv was imported by an older version, "
        "which counted stock adjustments (free lines, no customer) as orders, showed a "
        "cancellation rate of 0.00 % (the export has no order status: it is not tracked) and "
        "put every return under \"No country recorded\": delete its months of orders and "
        "order lines (Nov 2011, Dec 2011) on the Data page, then upload it again.")


def as_before_currencies(store: Store) -> Store:
    """The store as an app older than the reporting currency's adoption wrote it: no currency
    in its settings, no importer on its uploads, no currency on its orders (UCI's importer did
    not write one)."""
    import duckdb
    path = store.path / "settings.json"
    settings = json.loads(path.read_text())
    settings.pop("currency")
    path.write_text(json.dumps(settings))
    rewrite_sources(store, lambda s: (s.pop("importer"), s.pop("importer_version")))
    for f in store.files("orders"):
        tmp = f.with_suffix(".tmp")
        duckdb.execute(f"copy (select * replace (cast(null as varchar) as currency) "
                       f"from read_parquet('{f}')) to '{tmp}' (format parquet)")
        tmp.replace(f)
    return store


def test_a_store_that_never_said_its_currency_is_in_its_exports_currency(tmp_path):
    """A UCI store from before uploads set the reporting currency showed its pounds as euros
    (the default). Its uploads say GBP: UCI's export is in GBP, told by its credit notes when
    the manifest names no importer; an Olist store's orders say BRL; a store of ad spend alone
    whose export names no currency says nothing, so no symbol rather than a wrong one."""
    from kpilib.settings import chosen, reporting_currency
    store = as_before_currencies(uci_store(tmp_path / "uci"))
    assert "currency" not in chosen(store) and store.settings["currency"] == "EUR"
    assert versions.importers(store) == {"UCI Online Retail"}
    assert reporting_currency(store) == "GBP"
    # A currency chosen in Settings is the shop's, whatever its exports.
    store.update_settings({"currency": "USD"})
    assert reporting_currency(store) == "USD"
    olist = Store(tmp_path / "olist" / "store")
    ingest(olist, sorted((FORMATS / "olist").glob("*.csv")))
    path = olist.path / "settings.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items()
                                if k != "currency"}))
    assert reporting_currency(olist) == "BRL"
    spend = Store(tmp_path / "spend" / "store")
    # (Facebook's ad export names no currency; Google Ads' names its own, which it sets.)
    ingest(spend, [FORMATS / "facebook_ads_by_ad.csv"], spend_month="2017-08")
    assert reporting_currency(spend) is None
