"""Which engine runs the KPIs: DuckDB, embedded (the default), or Apache Spark for a shop whose
history lives in a data lake (kpilib/spark.py). The same KPI SQL runs on either.

Chosen by, first to last: the caller (``--engine`` on the command line), the KPILIB_ENGINE
environment variable, the store's settings (``"engine": {"name": "spark", "master":
"spark://host:7077", "tables": {"orders": "s3a://lake/orders/"}, "conf": {...}}`` in
settings.json). ``tables`` says where a canonical table lives when it is not the store's own
Parquet files: a Parquet folder or a catalog table; KPILIB_SPARK_MASTER overrides the master.
"""
from __future__ import annotations

import os

from .spark import EngineError
from .store import Store

ENGINES = ("duckdb", "spark")


def engine_settings(store: Store, engine: str | None = None,
                    master: str | None = None) -> dict:
    cfg = dict(store.settings.get("engine") or {})
    cfg["name"] = (engine or os.environ.get("KPILIB_ENGINE") or cfg.get("name")
                   or "duckdb").strip().lower()
    if cfg["name"] not in ENGINES:
        raise EngineError(f"unknown engine {cfg['name']!r}; choose from {', '.join(ENGINES)}")
    cfg["master"] = master or os.environ.get("KPILIB_SPARK_MASTER") or cfg.get("master") \
        or "local[2]"
    return cfg


def connect(store: Store, engine: str | None = None, master: str | None = None):
    """A connection KPIs run on (kpilib.run, the pages): DuckDB's, or a Spark session's view
    of the same store with DuckDB's connection interface."""
    cfg = engine_settings(store, engine, master)
    if cfg["name"] == "duckdb":
        return store.connect()
    from .spark import SparkConnection

    return SparkConnection(store, cfg["master"], cfg.get("tables"), cfg.get("conf"))
