"""Shared fixtures: small deterministic stores built with the demo generator or tiny CSVs."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from kpilib import Store, demo
from kpilib.ingest import ingest

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


@pytest.fixture
def store_copy(tmp_path, tiny_store) -> Store:
    """A private copy of the tiny store that a test may write to."""
    shutil.copytree(tiny_store.path, tmp_path / "store")
    return Store(tmp_path / "store")
