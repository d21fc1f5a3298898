"""Apache Spark as a second engine: the same KPI SQL, written once in DuckDB's dialect, run by
a Spark session when a shop's history lives in a data lake.

Each query is transpiled by sqlglot (DuckDB → Spark SQL), after a few rewrites where the two
engines differ in meaning, not in spelling (see :func:`transpile`). Values stay parameters:
``$name`` becomes Spark's ``:name`` marker, bound through ``spark.sql(query, args=...)``.

:class:`SparkConnection` offers the part of DuckDB's connection interface kpilib uses
(``cursor()``, then ``execute`` / ``fetchall`` / ``fetchnumpy`` / ``df``), so ``kpilib.run``
and the pages run on either engine. The store's tables and rollups (Parquet files, one per
month) are registered as temporary views under the names DuckDB gives them; a table can
instead be read from another Parquet location or a catalog table (the engine settings).

Only pyspark and a Java runtime are needed, and only when Spark is chosen
(``requirements-spark.txt``); nothing here is imported otherwise.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .rollups import ROLLUP_VIEWS, ROLLUPS
from .schema import TABLES
from .store import DERIVED_VIEWS, READS, Store, current, empty_select


class EngineError(RuntimeError):
    """The chosen engine cannot run here (not installed, no Java, a query it cannot run)."""


# --- DuckDB SQL → Spark SQL ------------------------------------------------------------------
def _macros() -> dict:
    """The macros of the store's views (in_filter): name → (parameters,
    body), expanded into each query, since Spark has no SQL macros."""
    import sqlglot

    out = {}
    for sql in DERIVED_VIEWS:
        m = re.match(r"\s*create macro (\w+)\(([^)]*)\) as\s+(.*)$", sql, re.S)
        if m:
            params = [p.strip() for p in m.group(2).split(",")]
            out[m.group(1)] = (params, sqlglot.parse_one(m.group(3), read="duckdb"))
    return out


# The views that also exist as daily sums (kpilib.rollups.ROLLUP_VIEWS): `set search_path`
# has no Spark equivalent, so the rollup path reads them under a prefixed name.
ROLLUP_NAMES = frozenset(re.match(r"create view rollup\.(\w+)", v).group(1)
                         for v in ROLLUP_VIEWS if v.startswith("create view"))
PREFIX = "rollup__"


@lru_cache(maxsize=4096)
def transpile(sql: str, lists: frozenset[str] = frozenset(), rollup: bool = False) -> str:
    """``sql`` (DuckDB) as Spark SQL. ``lists``: the parameters bound to lists; ``rollup``:
    read the daily-sum views (DuckDB's ``set search_path = 'rollup,main'``).

    Rewrites beyond sqlglot's translation, each where the meaning differs:
    * the store's macros are expanded (Spark has none);
    * ``a / b`` divides as doubles: DuckDB's ``/`` on decimals gives a double, Spark's a
      decimal rounded to 6 places (a return rate would differ in the 7th digit);
    * ``isodow`` is Spark's DAYOFWEEK_ISO (sqlglot's default mapping is off by a day);
    * ``len`` of a list parameter is ``size``, and list parameters are typed (an empty list
      binds as an array of nothing);
    * CTE ``materialized`` hints are dropped (Spark has no such hint).
    """
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    macros = _macros()

    def expand(node):
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in macros:
            params, body = macros[str(node.this).lower()]
            args = {p: a.transform(expand) for p, a in zip(params, node.expressions)}
            new = body.transform(
                lambda n: args[n.name].copy()
                if isinstance(n, exp.Column) and not n.table and n.name in args else n)
            return exp.Paren(this=new.transform(expand))
        return node

    tree = tree.transform(expand)
    # The rest edits nodes in place (a node transform() replaces is not visited again, and
    # these nest: a division inside a division).
    for node in list(tree.find_all(exp.Placeholder)):
        if node.name in lists:
            node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("array<string>")))
    for node in list(tree.find_all(exp.Length)):
        if isinstance(node.this, exp.Cast) and isinstance(node.this.this, exp.Placeholder):
            node.replace(exp.ArraySize(this=node.this.copy()))
    for node in list(tree.find_all(exp.Div)):
        node.set("this", exp.Cast(this=node.this.copy(), to=exp.DataType.build("double")))
    for node in list(tree.find_all(exp.DayOfWeekIso)):
        node.replace(exp.Extract(this=exp.var("DAYOFWEEK_ISO"), expression=node.this.copy()))
    for node in tree.find_all(exp.CTE):
        node.set("materialized", None)
    if rollup:
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for node in list(tree.find_all(exp.Table)):
            if not node.db and node.name in ROLLUP_NAMES and node.name not in ctes:
                alias = node.alias or node.name
                node.set("this", exp.to_identifier(PREFIX + node.name))
                node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return tree.sql(dialect="spark")


# --- the session and its views ---------------------------------------------------------------
_SESSION = threading.Lock()


def _require() -> None:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as e:
        raise EngineError(
            "The Spark engine needs pyspark and sqlglot, which are not installed: "
            "pip install -r requirements-spark.txt (the DuckDB engine needs neither).") from e
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EngineError(
            "The Spark engine needs a Java runtime (17 or newer), and none was found: install "
            "one (on Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.")


def session(master: str = "local[2]", conf: dict | None = None):
    """The process's Spark session (started once: a JVM per process)."""
    _require()
    from pyspark.sql import SparkSession

    with _SESSION:
        builder = (SparkSession.builder.master(master).appName("kpilib")
                   # Timestamps are shop time already (the store holds naive times).
                   .config("spark.sql.session.timeZone", "UTC")
                   # DuckDB's semantics: a bad cast or a division by zero gives null.
                   .config("spark.sql.ansi.enabled", "false")
                   .config("spark.ui.enabled", "false")
                   # No progress bars in the app's log or around the command line's JSON.
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "4")
                   # Not a spark-warehouse folder in whatever directory the app started from
                   # (a real catalog sets its own in conf).
                   .config("spark.sql.warehouse.dir",
                           str(Path(tempfile.gettempdir()) / "kpilib-spark-warehouse")))
        for k, v in (conf or {}).items():
            builder = builder.config(k, str(v))
        spark = builder.getOrCreate()
        # Failed queries raise (EngineError, with Spark's reason); no log of them too.
        spark.sparkContext.setLogLevel("FATAL")
        return spark


class SparkConnection:
    """A store's tables, views and rollups in a Spark session of their own (so two store
    versions never share temporary views), and DuckDB's connection interface over it."""

    KEEP_BASES = 8

    def __init__(self, store: Store, master: str = "local[2]", tables: dict | None = None,
                 conf: dict | None = None):
        self.store = store
        self.spark = session(master, conf).newSession()
        self._bases: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self._register(tables or {})

    def _register(self, locations: dict) -> None:
        spark, manifest = self.spark, self.store.manifest
        files = self.store._files(manifest["tables"])
        for name in TABLES:
            where = locations.get(name)
            if where:   # a Parquet folder (every file in it) or file, or a catalog table
                df = spark.read.options(recursiveFileLookup="true", mergeSchema="true") \
                    .parquet(where) \
                    if "/" in where or where.endswith(".parquet") else spark.table(where)
            elif files.get(name):
                df = spark.read.option("mergeSchema", "true").parquet(*files[name])
            else:
                df = spark.sql(transpile(empty_select(name)))
            # An optional column the files (written before it was added) or the lake's table
            # lack is null, as DuckDB reads them (kpilib.store.read_stored).
            for col in TABLES[name].columns:
                if col.name not in df.columns:
                    kind = "string" if col.type == "VARCHAR" else col.type.lower()
                    df = df.selectExpr("*", f"cast(null as {kind}) as {col.name}")
            df.createOrReplaceTempView("_" + name)
        mapping = list(self.store.settings.get("channel_map", {}).items())
        spark.createDataFrame(mapping or [], "from_channel string, to_channel string") \
            .createOrReplaceTempView("channel_map")
        settings = self.store.settings
        spark.createDataFrame([(settings["cancelled_orders"] == "shopify",)],
                              "cancelled_as_sales boolean").createOrReplaceTempView("conventions")
        # Rollups built from tables read elsewhere would not match them: computed instead.
        external = set(locations)
        built = {n: f for n, f in self.store._files(current(manifest, settings)).items()
                 if f and not (READS[n] & external)}
        for sql in DERIVED_VIEWS + tuple(r for r in ROLLUPS if r not in DERIVED_VIEWS):
            if sql in ROLLUPS:
                if sql in built:
                    spark.read.parquet(*built[sql]).createOrReplaceTempView(sql)
                else:
                    self._view(sql, ROLLUPS[sql].sql)
            elif sql.startswith("create view"):
                name, body = re.match(r"\s*create view (\w+) as\s+(.*)$", sql, re.S).groups()
                self._view(name, body)
        for sql in ROLLUP_VIEWS:
            m = re.match(r"\s*create view rollup\.(\w+) as\s+(.*)$", sql, re.S)
            if m:
                self._view(PREFIX + m.group(1), m.group(2))

    def _view(self, name: str, body: str) -> None:
        # name and body: the store's view and rollup definitions (code constants).
        self.spark.sql(f"create or replace temporary view {name} as {transpile(body)}")

    # DuckDB's interface, as far as kpilib uses it.
    def cursor(self) -> "SparkCursor":
        return SparkCursor(self)

    def execute(self, sql: str, params: dict | None = None) -> "SparkCursor":
        return self.cursor().execute(sql, params)

    def materialize(self, name: str, sql: str, params: dict) -> str:
        """A shared first step (kpilib.kpi._base) as a cached temporary view, the oldest of
        :attr:`KEEP_BASES` dropped."""
        with self._lock:
            if name not in self._bases:
                df = self.spark.sql(transpile(sql, _lists(params)), args=_args(params))
                df.cache().createOrReplaceTempView(name)
                self._bases[name] = df
                while len(self._bases) > self.KEEP_BASES:
                    old, frame = self._bases.popitem(last=False)
                    frame.unpersist()
                    self.spark.catalog.dropTempView(old)
            self._bases.move_to_end(name)
        return name

    def clear_bases(self) -> None:
        with self._lock:
            for name, frame in self._bases.items():
                frame.unpersist()
                self.spark.catalog.dropTempView(name)
            self._bases.clear()

    def close(self) -> None:
        self.clear_bases()


def _lists(params: dict) -> frozenset[str]:
    return frozenset(k for k, v in params.items() if isinstance(v, (list, tuple)))


def _args(params: dict) -> dict:
    """Parameters for spark.sql: lists as array(...) columns (typed in the query)."""
    from pyspark.sql import functions as F

    return {k: F.array(*[F.lit(x) for x in v]) if isinstance(v, (list, tuple)) else v
            for k, v in params.items()}


class SparkCursor:
    def __init__(self, con: SparkConnection):
        self.con, self.rollup = con, False
        self.description, self._rows, self._types = None, [], []

    def execute(self, sql: str, params: dict | None = None) -> "SparkCursor":
        if re.match(r"\s*set search_path\s*=\s*'rollup,main'\s*$", sql):
            self.rollup = True
            return self
        params = params or {}
        try:
            df = self.con.spark.sql(transpile(sql, _lists(params), self.rollup),
                                    args=_args(params))
            rows = df.collect()
        except Exception as e:  # Spark's own errors (AnalysisException…) carry the reason
            reason = next((line for line in str(e).splitlines() if line.strip()), repr(e))
            raise EngineError(f"Spark could not run this query: {reason}") from e
        self.description = [(f.name, str(f.dataType)) for f in df.schema.fields]
        self._types = [f.dataType.simpleString() for f in df.schema.fields]
        self._rows = [tuple(r) for r in rows]
        return self

    def fetchall(self) -> list[tuple]:
        return list(self._rows)

    def fetchnumpy(self) -> dict:
        out = {}
        for i, (name, _) in enumerate(self.description):
            values = [r[i] for r in self._rows]
            if self._types[i] in ("date", "timestamp", "timestamp_ntz"):
                out[name] = np.array(values, dtype="datetime64[D]")
            else:
                out[name] = np.array([np.nan if v is None else float(v) for v in values])
        return out

    def df(self) -> pd.DataFrame:
        """The rows as DuckDB's df() gives them: decimals as floats, dates as datetimes."""
        names = [d[0] for d in self.description]
        frame = pd.DataFrame.from_records(self._rows, columns=names)
        for name, kind in zip(names, self._types):
            if kind.startswith("decimal") or kind == "double":
                frame[name] = frame[name].map(
                    lambda v: np.nan if v is None else float(v) if isinstance(v, Decimal)
                    else v).astype("float64")
            elif kind == "date":
                frame[name] = pd.to_datetime(frame[name])
        return frame

    def close(self) -> None:
        self._rows = []

