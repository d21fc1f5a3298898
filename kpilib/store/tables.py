"""An upload's rows written into the stored tables: upserted month by month (rows replace the
stored rows with the same key), rows re-dated into another month moved, and what an upload
would change (its diff)."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..schema import TABLES
from .connection import _rows, empty_select, read_stored
from .manifest import UNPARTITIONED, Source, _locked, _now, note_rollups

# The share of Store.write's progress given to the tables, the rest to the rollups (the demo
# shop: ~0.6 s of CPU against ~2 s).
TABLES_SHARE = 0.25

# Each table's main measure, for the before/after diff of an upload.
MEASURES = {
    "orders": ("sales (gross − discounts)",
               "sum(gross_sales - discounts) filter (where status <> 'cancelled')"),
    "order_items": ("units", "sum(quantity)"),
    "refunds": ("returns", "sum(amount)"),
    "traffic": ("sessions", "sum(sessions)"),
    "inventory": ("units on hand", "sum(on_hand)"),
    "marketing_spend": ("spend", "sum(spend)"),
}


def _movable(spec) -> bool:
    """Whether a row of the table can move to another month: its date is not in its key."""
    return spec.date_column is not None and spec.date_column not in spec.key


def _key_range(con, spec, part: Path) -> list[str] | None:
    """The lowest and highest first key column in a partition file (Store.moves)."""
    lo, hi = con.execute(f"select min({spec.key[0]}), max({spec.key[0]}) from read_parquet($f)",
                         {"f": str(part)}).fetchall()[0]
    return None if lo is None else [lo, hi]


def _num(v):
    return None if v is None else float(v)


def _words(name: str) -> str:
    return name.replace("_", " ")


class Tables:
    """A part of :class:`kpilib.store.Store`."""

    @_locked
    def write(self, con: duckdb.DuckDBPyConnection, staged: dict[str, str],
              sources: list[Source], *, after_stage=None,
              settings_update: dict | None = None, progress=None) -> dict:
        """Upsert the rows of each staged table into the store, atomically.

        ``staged`` maps a canonical table to the name of a table in ``con`` holding its new rows
        (canonical columns, typed, normalised). Rows replace stored rows with the same natural
        key; every other stored row is kept. ``after_stage`` is a test hook called once the new
        files are staged and before anything is committed. ``progress(fraction, text)`` is
        told what is being written, the fraction rising to 1.0 when it is committed.
        Returns the ingest record added to the manifest.
        """
        progress = progress or (lambda fraction, text: None)
        self._clear_leftovers()
        manifest, before = self.manifest, self.manifest
        txn = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        staging = self.path / ".staging" / txn
        moves: list[tuple[Path, Path]] = []
        record = {"id": txn, "at": _now(), "sources": [vars(s) for s in sources],
                  "partitions": {}}
        try:
            staged = self._carry_lines(con, staged, manifest["tables"])
            for i, (table, source_name) in enumerate(staged.items()):
                progress(TABLES_SHARE * i / len(staged), f"Storing {_words(table)}…")
                spec = TABLES[table]
                rel_name = self._stage_view(con, table, source_name)
                stored = manifest["tables"].setdefault(table, {})
                months = self._months_of(con, rel_name, spec.date_column)
                new = {m for m in months if m and m not in stored} if spec.date_column else set()
                # Months not stored yet, in one pass when there are several (a first upload,
                # the demo shop): a query per month costs ~10 ms however small the month.
                one_pass = (self._write_months(con, spec, rel_name, new,
                                                staging / "months" / table, txn)
                            if len(new) > 1 else {})
                # The months re-dated rows leave are rewritten without them, in this commit.
                left = {m for m, _, _ in self.moves(con, table, rel_name, stored)} - \
                    set(months)
                for month in [*months, *sorted(left)]:
                    rel_part = f"parts/{table}/month={month}/part-{txn}.parquet"
                    old = stored.get(month)
                    if month in one_pass:
                        tmp, rows = one_pass[month]
                    else:
                        tmp = staging / rel_part
                        tmp.parent.mkdir(parents=True, exist_ok=True)
                        rows = self._write_partition(con, spec, rel_name, month,
                                                     self.path / old["file"] if old else None,
                                                     tmp)
                    change = record["partitions"].setdefault(table, {})[month] = {
                        "new": rel_part, "old": old["file"] if old else None,
                        "old_entry": old}
                    if month in left and rows == 0:
                        # Every row moved out: the month is gone, as after a deletion.
                        change["new"] = None
                        del stored[month]
                        continue
                    moves.append((tmp, self.path / rel_part))
                    stored[month] = {"file": rel_part, "rows": rows,
                                     "sources": sorted({*(old or {}).get("sources", []),
                                                        *(s.name for s in sources
                                                          if s.table == table)})}
                    if _movable(spec):
                        stored[month]["keys"] = _key_range(con, spec, tmp)
            changed = {t: set(ms) for t, ms in record["partitions"].items()}
            self._stage_rollups(manifest, changed, staging, txn, moves,
                                lambda f, text: progress(TABLES_SHARE + (1 - TABLES_SHARE) * f,
                                                         text), before=before)
            note_rollups(record, before, manifest)
            if after_stage:
                after_stage()
            if settings_update:
                self._save_settings(settings_update)
            for tmp, final in moves:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            manifest["version"] += 1
            manifest["ingests"].append(record)
            self._committed(manifest, before)
        except BaseException:
            self.recover()
            raise
        progress(1.0, "Stored")
        return record

    def _months_of(self, con, rel_name: str, date_column: str | None) -> list[str]:
        if date_column is None:
            return [UNPARTITIONED]
        rows = con.execute(
            f"select distinct strftime({date_column}, '%Y-%m') from {rel_name} order by 1"
        ).fetchall()
        return [r[0] for r in rows]

    def _merged_sql(self, spec, rel_name, month, old_file) -> tuple[str, dict]:
        """The partition after the upload: new rows, plus stored rows whose key is not new."""
        cols = ", ".join(spec.names)
        new = f"select {cols} from {rel_name}"
        params = {}
        if spec.date_column:
            new += f" where strftime({spec.date_column}, '%Y-%m') = $month"
            params["month"] = month
        if old_file is None:
            return new, params
        params["old"] = str(old_file)
        keys = ", ".join(spec.key)
        # By name onto the contract's empty table: a file written before an optional column
        # was added has it null.
        old = (f"select * from ({empty_select(spec.name)}) "
               "union all by name select * from read_parquet($old)")
        # A key is unique across the table: a stored row whose key the upload holds in any
        # month goes, so a row re-dated into another month is not kept twice.
        return (f"with new as ({new}) select * from new union all "
                f"select {cols} from ({old}) anti join (select {keys} from {rel_name}) "
                f"using ({keys})"), params

    def moves(self, con, table: str, rel_name: str,
              stored: dict | None = None) -> list[tuple[str, str, int]]:
        """Stored rows the upload re-dates into another month: (from month, to month, rows).
        Only the stored months whose range of keys (kept in the manifest) holds an uploaded
        key are read, their key and date columns only: the cost follows the upload, not the
        shop's history (ids rise with time, so a month's upload meets a month or two)."""
        redated = self._redated(con, table, rel_name, stored)
        if redated is None:
            return []
        return redated.aggregate("m_from, m_to, count(*)", "m_from, m_to").order(
            "m_from, m_to").fetchall()

    def _redated(self, con, table: str, rel_name: str, stored: dict | None = None):
        """The stored rows the upload re-dates into another month, as a relation: their key,
        ``m_from`` and ``m_to`` (the months), ``dated`` (the new date); None when none can be."""
        spec = TABLES[table]
        if not _movable(spec):
            return None   # the date is part of the key: a re-dated row is another row
        parts = self.manifest["tables"].get(table, {}) if stored is None else stored
        # Months written before their key range was kept are read whatever it is.
        months = {m for m, p in parts.items() if not p.get("keys")}
        ranges = [{"m": m, "lo": p["keys"][0], "hi": p["keys"][1]}
                  for m, p in parts.items() if p.get("keys")]
        if ranges:
            # The upload's lowest and highest key first: ids rise with time, so a new month's
            # usually lie above (or apart from) every stored month's, and the 1 M keys of a
            # large upload are then not joined to the ranges (0.12 s, four times an upload).
            lo, hi = con.execute(f"select min({spec.key[0]}), max({spec.key[0]}) "
                                 f"from {rel_name}").fetchall()[0]
            ranges = [r for r in ranges if lo is not None and r["lo"] <= hi and lo <= r["hi"]]
        if ranges:
            months |= {m for (m,) in con.execute(
                f"select distinct r.m from (select unnest($ranges, recursive := true)) r "
                f"join (select distinct {spec.key[0]} as k from {rel_name}) u "
                "on u.k between r.lo and r.hi", {"ranges": ranges}).fetchall()}
        files = [str(self.path / parts[m]["file"]) for m in sorted(months)]
        if not files:
            return None
        keys, when = ", ".join(spec.key), spec.date_column
        return con.read_parquet(files).select(f"{keys}, {when}").set_alias("old").join(
            con.table(rel_name).select(f"{keys}, {when}").set_alias("new"), keys).select(
            f"{keys}, strftime(old.{when}, '%Y-%m') as m_from, "
            f"strftime(new.{when}, '%Y-%m') as m_to, new.{when} as dated").filter(
            "m_from <> m_to")

    def _carry_lines(self, con, staged: dict[str, str], tables: dict) -> dict[str, str]:
        """``staged`` with the stored lines of the orders it re-dates into another month,
        re-dated with them (lines are stored in their order's month, and the month-by-month
        rollups join a month's lines to that month's orders): the upload's own lines of those
        orders win. Only the months those orders leave are read."""
        if "orders" not in staged or not tables.get("order_items"):
            return staged
        orders = self._stage_view(con, "orders", staged["orders"])
        redated = self._redated(con, "orders", orders, tables.get("orders", {}))
        if redated is None:
            return staged
        redated.create("_redated_orders")
        months = {m for (m,) in con.execute(
            "select distinct m_from from _redated_orders").fetchall()} & set(tables["order_items"])
        if not months:
            return staged
        files = [str(self.path / tables["order_items"][m]["file"]) for m in sorted(months)]
        cols = ", ".join(f"r.dated as {c}" if c == "ordered_at" else f"l.{c}"
                         for c in TABLES["order_items"].names)
        lines = read_stored(con, files, "_order_items").set_alias("l").join(
            con.table("_redated_orders").set_alias("r"), "order_id").select(cols)
        if "order_items" in staged:
            new = con.table(self._stage_view(con, "order_items", staged["order_items"]))
            lines = lines.join(new.select("order_id, line"), "order_id, line", how="anti"
                               ).union(new)
        lines.create("_carried_lines")
        return {**staged, "order_items": "_carried_lines"}

    @staticmethod
    def _write_months(con, spec, rel_name, months: set[str], out: Path,
                      txn: str) -> dict[str, tuple[Path, int]]:
        """The rows of ``months`` (none stored yet) in one pass, a file per month under
        ``out``, ordered as :meth:`_write_partition` orders them: each month's file and rows."""
        order = spec.date_column
        con.execute(f"create or replace temp table _part as select *, "
                    f"strftime({order}, '%Y-%m') as _month from {rel_name} "
                    f"where list_contains($months, strftime({order}, '%Y-%m')) order by {order}",
                    {"months": sorted(months)})
        out.parent.mkdir(parents=True, exist_ok=True)
        threads = int(con.execute("select current_setting('threads')").fetchall()[0][0])
        con.execute("set threads = 1")   # parallel writers would interleave the rows
        try:
            con.table("_part").to_parquet(str(out), partition_by=["_month"],
                                          filename_pattern=f"part-{txn}_{{i}}",
                                          compression="zstd")
        finally:
            con.execute(f"set threads = {threads}")   # the caller's connection, as it was
        rows = dict(con.execute("select _month, count(*) from _part group by 1").fetchall())
        con.execute("drop table _part")
        return {m: (next((out / f"_month={m}").glob("*.parquet")), n) for m, n in rows.items()}

    def _write_partition(self, con, spec, rel_name, month, old_file, out) -> int:
        query, params = self._merged_sql(spec, rel_name, month, old_file)
        order = spec.date_column or spec.key[0]
        # Sorted as it is written: a table of it first cost 0.1 s of a 1 M-row month.
        con.sql(f"{query} order by {order}", params=params).write_parquet(str(out),
                                                                        compression="zstd")
        return _rows(out)

    def diff(self, con, staged: dict[str, str]) -> list[dict]:
        """What an upload would change, month by month: rows and the table's main measure
        before and after (nothing is written)."""
        out = []
        for table, source_name in staged.items():
            spec = TABLES[table]
            rel_name = self._stage_view(con, table, source_name)
            stored = self.manifest["tables"].get(table, {})
            measure = MEASURES.get(table)
            cols = ", ".join(spec.names)
            months = self._months_of(con, rel_name, spec.date_column)
            left = {m for m, _, _ in self.moves(con, table, rel_name)} - set(months)
            for month in [*months, *sorted(left)]:
                old = stored.get(month)
                old_file = self.path / old["file"] if old else None
                query, params = self._merged_sql(spec, rel_name, month, old_file)
                m_sql = measure[1] if measure else "null"
                after = con.execute(f"select count(*), {m_sql} from ({query})", params
                                    ).fetchall()[0]
                before = (0, None)
                same = False
                if old_file:
                    before = con.execute(f"select count(*), {m_sql} from read_parquet($f)",
                                         {"f": str(old_file)}).fetchall()[0]
                    # Only a month whose count and total did not move is compared row by
                    # row: a re-export of stored months then says it changes nothing.
                    same = before == after and not con.execute(
                        f"select count(*) from (({query}) except all (select {cols} from "
                        f"(select * from ({empty_select(spec.name)}) union all by name "
                        "select * from read_parquet($f))))", {**params, "f": str(old_file)}
                    ).fetchall()[0][0]
                out.append({"table": table, "month": month, "rows_before": before[0],
                            "rows_after": after[0], "measure": measure[0] if measure else None,
                            "before": _num(before[1]),
                            # A month every row leaves (re-dated) measures 0, not unknown.
                            "after": _num(after[1]) if after[0] else _num(before[1]) and 0.0,
                            "same": same})
        return out

    def moved(self, con, staged: dict[str, str]) -> list[tuple[str, str, str, int]]:
        """Stored rows an upload re-dates into another month: (table, from, to, rows)."""
        return [(table, *move) for table, source_name in staged.items()
                for move in self.moves(con, table, self._stage_view(con, table, source_name))]

    def _stage_view(self, con, table: str, source_name: str) -> str:
        spec = TABLES[table]
        rel_name = f"_new_{table}"
        have = set(con.table(source_name).columns)
        # Whatever the source's types, the store holds the canonical ones.
        con.execute(f"create or replace temp view {rel_name} as select "
                    + ", ".join(f"cast({c.name if c.name in have else 'null'} "
                                f"as {c.type}) as {c.name}" for c in spec.columns)
                    + f" from {source_name}")
        return rel_name

