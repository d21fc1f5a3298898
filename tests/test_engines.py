"""kpilib.engines: which engine runs the KPIs — the caller's choice, then KPILIB_ENGINE, then
the store's settings, then DuckDB — and its Spark master; the sentence when Java is missing.
(The Spark session itself: tests/test_spark.py.)"""
import shutil

import duckdb
import pytest

from kpilib import engines
from kpilib.spark import EngineError


@pytest.fixture
def lake(store_copy, monkeypatch):
    monkeypatch.delenv("KPILIB_ENGINE", raising=False)
    monkeypatch.delenv("KPILIB_SPARK_MASTER", raising=False)
    store_copy.update_settings({"engine": {"name": "Spark ", "master": "spark://lake:7077",
                                           "tables": {"orders": "s3a://lake/orders/"}}})
    return store_copy


def test_the_first_choice_given_wins(lake, monkeypatch):
    # The settings' name, trimmed and in lower case, with their master and tables.
    assert engines.engine_settings(lake) == {"name": "spark", "master": "spark://lake:7077",
                                             "tables": {"orders": "s3a://lake/orders/"}}
    monkeypatch.setenv("KPILIB_ENGINE", "duckdb")
    assert engines.engine_settings(lake)["name"] == "duckdb"              # the environment
    assert engines.engine_settings(lake, "spark")["name"] == "spark"      # the caller
    monkeypatch.setenv("KPILIB_SPARK_MASTER", "local[4]")
    assert engines.engine_settings(lake)["master"] == "local[4]"
    assert engines.engine_settings(lake, master="spark://x:1")["master"] == "spark://x:1"


def test_without_a_choice_duckdb_on_the_stores_own_files(store_copy, monkeypatch):
    monkeypatch.delenv("KPILIB_ENGINE", raising=False)
    monkeypatch.delenv("KPILIB_SPARK_MASTER", raising=False)
    assert engines.engine_settings(store_copy) == {"name": "duckdb", "master": "local[2]"}
    assert isinstance(engines.connect(store_copy), duckdb.DuckDBPyConnection)
    with pytest.raises(EngineError, match="unknown engine 'oracle'; choose from duckdb, spark"):
        engines.engine_settings(store_copy, "Oracle")


def test_engine_choice_and_messages(demo_store, monkeypatch):
    from kpilib import engines, spark

    monkeypatch.delenv("KPILIB_ENGINE", raising=False)
    assert engines.engine_settings(demo_store)["name"] == "duckdb"
    monkeypatch.setenv("KPILIB_ENGINE", "spark")
    assert engines.engine_settings(demo_store)["name"] == "spark"
    assert engines.engine_settings(demo_store, "duckdb")["name"] == "duckdb"   # caller wins
    with pytest.raises(spark.EngineError, match="unknown engine 'oracle'"):
        engines.engine_settings(demo_store, "oracle")
    # No Java: a sentence saying what to install, before any JVM is started.
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(spark.EngineError, match="Java runtime"):
        engines.connect(demo_store, "spark")
