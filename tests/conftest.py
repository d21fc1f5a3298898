"""Shared fixtures: small deterministic stores built with the demo generator or tiny CSVs."""
from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit import config as st_config

from kpilib import Store, demo
from kpilib.ingest import ingest

# A page's exception reaches the test (AppTest's at.exception, the browser's error box) instead
# of the plain sentence viewers get (ui.error_boundary); a test of that sentence unsets it.
# And in full: the hosted setting in .streamlit/config.toml ("none") would redact it, in
# AppTest (this process) and in the servers the browser tests start.
os.environ.setdefault("KPILIB_DEBUG", "1")
os.environ.setdefault("STREAMLIT_CLIENT_SHOW_ERROR_DETAILS", "full")
st_config.set_option("client.showErrorDetails", "full")

TESTS = Path(__file__).parent
TINY = TESTS / "data" / "tiny"
DEMO_END = date(2026, 10, 31)


@pytest.fixture(scope="session")
def demo_shop():
    """The demo shop at 5 % scale: small enough to recompute every KPI in pandas."""
    return demo.generate(months=18, scale=0.05, seed=11, end=DEMO_END)


@pytest.fixture(scope="session")
def demo_store(demo_shop, tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("demo") / "store")
    demo.write(store, demo_shop)
    return store


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Store:
    """The hand-countable fixtures in tests/data/tiny, ingested through the real ingest path."""
    store = Store(tmp_path_factory.mktemp("tiny") / "store")
    ingest(store, sorted(TINY.glob("*.csv")))
    return store


REAL = TESTS.parent.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def uci_month_store(tmp_path_factory) -> Store:
    """A shop's usual first upload: one month of orders only, the real UCI Online Retail
    export of November 2011 (invoices, lines and credit notes; no channel, traffic or spend)."""
    import pandas as pd
    if not REAL.exists():
        pytest.skip("../shared/realdata is not beside the project")
    root = tmp_path_factory.mktemp("uci")
    uci = pd.read_parquet(REAL / "online_retail" / "online_retail_2010_2011.parquet")
    when = pd.to_datetime(uci["InvoiceDate"])
    uci[(when >= "2011-11-01") & (when < "2011-12-01")].to_csv(root / "uci.csv", index=False)
    store = Store(root / "store")
    ingest(store, [root / "uci.csv"], allow_partial=True)
    return store


@pytest.fixture
def store_copy(tmp_path, tiny_store) -> Store:
    """A private copy of the tiny store that a test may write to."""
    shutil.copytree(tiny_store.path, tmp_path / "store")
    return Store(tmp_path / "store")


# Two workers take a test file each at a time, in this order: the files that run longest start
# first, so that neither worker is left with one at the end while the other waits (xdist's own
# order, by the number of tests in a file, put the browser files last). Seconds as measured on
# 2 cores, 2026-12-05; a file not listed runs after these, in name order.
LONGEST_FIRST = ["test_spark.py", "test_browser.py", "test_oracle.py", "test_store.py",
                 "test_ingest.py", "test_app.py", "test_rollups.py", "test_cli.py",
                 "test_hosted.py", "test_kpi.py", "test_ui_why.py", "test_importers.py",
                 "test_shopify_orders.py", "test_registry.py", "test_events.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
