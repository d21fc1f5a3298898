"""Ingest exports into the store: read → recognise → type → validate → one atomic write.

Nothing is written unless every file is valid; a file whose exact content is already stored is
reported as unchanged and skipped.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..schema import TABLES
from ..store import Source, Store, sha256_file
from .errors import IngestError
from .prepare import Prepared, prepare
from .readers import read

__all__ = ["IngestError", "FileReport", "ingest"]


@dataclass
class FileReport:
    name: str
    table: str | None
    rows: int
    first: str | None = None
    last: str | None = None
    months: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchanged: bool = False   # the same content is already in the store

    def summary(self) -> str:
        if self.unchanged:
            return f"{self.name}: already stored (same content), nothing changed."
        span = f", {self.first} to {self.last}" if self.first else ""
        text = f"{self.name}: {self.rows:,} rows of {self.table}{span}"
        if self.ignored:
            text += f"; ignored columns: {', '.join(self.ignored)}"
        if self.notes:
            text += f"; {'; '.join(self.notes)}"
        return text + "."


def _report(p: Prepared) -> FileReport:
    return FileReport(p.name, p.table, p.rows, p.first, p.last, p.months, p.mapping, p.ignored,
                      p.notes)


def ingest(store: Store, files: list[str | Path | tuple[str | Path, str]],
           dry_run: bool = False, after_stage=None) -> list[FileReport]:
    """Validate ``files`` (paths, or (path, display name) pairs) and add them to ``store``.

    Raises :class:`IngestError` for the first invalid file; the store is then untouched.
    """
    reports: list[FileReport] = []
    with tempfile.TemporaryDirectory(prefix="kpilib-ingest-") as tmp:
        # A database file, not memory: a large export spills to disk instead of exhausting RAM.
        con = duckdb.connect(str(Path(tmp) / "ingest.duckdb"))
        try:
            con.execute("set TimeZone = 'UTC'")
            con.execute("set preserve_insertion_order = true")
            tz = store.settings["timezone"]
            by_table: dict[str, list[Prepared]] = {}
            sources: list[Source] = []
            for item in files:
                path, name = item if isinstance(item, tuple) else (item, Path(item).name)
                path = Path(path)
                if not path.exists():
                    raise IngestError(name, "no such file.")
                digest = sha256_file(path)
                if store.seen(digest):
                    reports.append(FileReport(name, None, 0, unchanged=True))
                    continue
                for raw in read(con, path, name, Path(tmp)):
                    p = prepare(con, raw, tz)
                    by_table.setdefault(p.table, []).append(p)
                    reports.append(_report(p))
                    sources.append(Source(p.name, digest, p.table, p.rows, p.months))
            staged = {t: _union(con, t, ps) for t, ps in by_table.items()}
            if staged and not dry_run:
                store.write(con, staged, sources, after_stage=after_stage)
        except duckdb.Error as e:
            # A file DuckDB cannot process is bad input, not a crash: say so in one line.
            raise IngestError("upload", f"could not be processed ({str(e).splitlines()[0]}).")
        finally:
            con.close()
    return reports


def _union(con, table: str, parts: list[Prepared]) -> str:
    if len(parts) == 1:
        return parts[0].relation
    cols = ", ".join(TABLES[table].names)
    name = f"staged_{table}"
    con.execute(f"create temp table {name} as "
                + " union all ".join(f"select {cols} from {p.relation}" for p in parts))
    keys = ", ".join(TABLES[table].key)
    dup = con.execute(f"select concat_ws(' / ', {keys}) from {name} group by {keys} "
                      "having count(*) > 1 limit 3").fetchall()
    if dup:
        raise IngestError(", ".join(p.name for p in parts),
                          f"these files hold the same {table} rows more than once (e.g. "
                          f"{', '.join(repr(d[0]) for d in dup)}); upload one of them.")
    return name
