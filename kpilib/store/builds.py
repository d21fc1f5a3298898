"""Rollup builds: what an upload (an undo, a deletion, a refresh) made stale rebuilt and
staged with it, whole, by month, from a month on (running totals), by order, or by customer
(kpilib.store.customers)."""
from __future__ import annotations

import os
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from ..rollups import ROLLUPS
from .connection import _PARTS, _rows, _scratch
from .customers import _Customers, note_ids
from .manifest import UNPARTITIONED, _locked, _next_month, note_rollups
from .tables import _words
from .views import READS, _closure, current, definition

# Unpartitioned rollups whose every row follows one order (order_id): after a change to these
# tables alone, the rows of the orders in their changed months (before or after) are
# computed again, from those months' files (an order's lines are in its month), and the
# others kept (Store._by_order).
BY_ORDER = {"valid_refunds": frozenset({"orders"}),
            "refund_lines": frozenset({"orders", "order_items"})}

# Unpartitioned rollups holding each key's row of its latest month in a rollup by month (that
# rollup, the key): after months appended later than every stored one, the keys in them get
# those months' rows and the others keep theirs (Store._appended; product_names read every
# month of product_monthly, ~0.5 s of CPU at the large shop).
LATEST = {"product_names": ("product_monthly", "sku")}


def _by_day(name: str) -> bool:
    """A rollup stored by month of its rows' day: a month of orders makes its month."""
    return ROLLUPS[name].partitioned and ROLLUPS[name].month_of == "day"


def stale(changed: dict[str, set[str]]) -> dict[str, set[str] | None]:
    """Which rollups an upload makes stale: name → the months to rebuild (None: all of it).
    ``changed`` maps each stored table that changed to its changed months."""
    out: dict[str, set[str] | None] = {}
    for r in ROLLUPS.values():
        touched = [t for t in READS[r.name] if t in changed]
        if not touched:
            continue
        months: set[str] = set().union(*(changed[t] for t in touched))
        by_month = set(touched) <= r.by_month and "all" not in months
        out[r.name] = months if by_month else None
    return out


class Builds:
    """A part of :class:`kpilib.store.Store`."""

    def _commit_rollups(self, manifest: dict, changed: dict[str, set[str]],
                        before: dict | None = None, record: dict | None = None) -> None:
        """Rebuild what ``changed`` made stale and commit it with ``manifest``, atomically
        (``before``: the manifest it replaces, by default the one committed now; ``record``:
        the deletion's, which keeps what its undo restores)."""
        before = self.manifest if before is None else before
        txn = "r" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + \
            uuid.uuid4().hex[:8]
        staging = self.path / ".staging" / txn
        moves: list[tuple[Path, Path]] = []
        try:
            self._stage_rollups(manifest, changed, staging, txn, moves, before=before)
            if record is not None:
                note_rollups(record, before, manifest)
            for tmp, final in moves:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            manifest["version"] += 1
            self._committed(manifest, before)
        except BaseException:
            self.recover()
            raise

    @_locked
    def refresh_rollups(self) -> bool:
        """Build the rollups this store lacks or holds under an older definition (a store
        written by an older version); True if any were built."""
        self.recover()
        manifest = self.manifest
        if set(ROLLUPS) <= set(current(manifest, self.settings)):
            self._note_first_ids(manifest)
            return False
        self._commit_rollups(manifest, {})
        return True

    def _note_first_ids(self, manifest: dict) -> None:
        """A store written before the ranges of customer ids were kept (note_ids) gets them
        once, committed without a new version (no data changed): ~0.1 s at the large shop,
        against reading every stored customer on each upload."""
        entry = manifest.get("rollups", {}).get("customer_first", {})
        lacking = {m: str(self.path / p["file"]) for m, p in entry.items() if "ids" not in p}
        if not lacking:
            return
        try:
            con = self._connect()
            try:
                note_ids(con, entry, lacking)
            finally:
                con.close()
            self._commit(manifest)
        except (OSError, duckdb.Error):
            pass   # a store it cannot write: its uploads read those months, as before

    def _stage_rollups(self, manifest: dict, changed: dict[str, set[str]], staging: Path,
                       txn: str, moves: list[tuple[Path, Path]], progress=None,
                       before: dict | None = None) -> None:
        """Write the rollups ``changed`` made stale into ``staging`` and point ``manifest`` at
        them (the caller moves and commits). A store without rollups gets all of them.
        ``progress(fraction, text)``: told before each rollup, the fraction below 1.
        ``before``: the manifest committed now, whose customer rollups are then updated for
        the customers ``changed`` touched only (:class:`_Customers`)."""
        if "rollups" not in manifest:
            changed = {t: set(parts) for t, parts in manifest["tables"].items()}
            manifest["rollups"] = {}
        tables, built = manifest["tables"], manifest["rollups"]
        todo = stale(changed)
        # A rollup added or redefined since the store was written is built whole.
        settings = self.settings
        ok = current(manifest, settings)
        customers = _Customers.of(self, before, manifest, changed,
                                  {n for n in todo if n in ok}, ok, settings)
        todo = {n: todo.get(n) if n in ok else None for n in ROLLUPS if n in todo or n not in ok}
        # Each rollup is built over the ones before it that are fresh (kept or just rebuilt),
        # so sales_lines is not recomputed to build sku_sales_monthly.
        fresh = [n for n in ROLLUPS if n in built and n not in todo]
        defs = manifest.setdefault("rollup_defs", {})
        tmp: dict[str, Path] = {}   # the files staged so far, by the name they will have
        seen = 0                    # of the moves, those already in tmp
        by_parts: set[str] = set()  # the unpartitioned ones updated, not built whole
        con = self._connect()
        try:
            for i, (name, months) in enumerate(todo.items()):
                if progress:
                    progress(i / len(todo), f"Building the daily sums ({i + 1} of "
                                            f"{len(todo)}: {_words(name)})…")
                rollup = ROLLUPS[name]
                entry = built.setdefault(name, {})
                defs[name] = definition(name, settings["cancelled_orders"])
                tmp.update((final.relative_to(self.path).as_posix(), t)
                           for t, final in moves[seen:])
                seen = len(moves)
                # Only what the rollup reads: listing every staged file for each of some
                # thirty rollups cost more than building the small ones.
                reads = _closure(rollup.sql + "\n" + rollup.since)
                read = {t: p for t, p in tables.items() if "_" + t in reads}
                read_fresh = {n: built[n] for n in fresh if n in reads}
                if customers and customers.stage(con, name, entry, read, read_fresh, tmp,
                                                 staging, txn, moves):
                    fresh.append(name)
                    by_parts.add(name)
                    continue
                if self._appended(con, name, todo, before, ok, entry, read_fresh, tmp, staging,
                                  txn, moves) or \
                        self._by_order(con, name, changed, before, todo, ok, by_parts, entry, read,
                                       read_fresh, tmp, staging, txn, moves):
                    fresh.append(name)
                    by_parts.add(name)
                    continue
                if rollup.since and months and entry:
                    months = self._stage_since(con, rollup, min(months), entry, read,
                                               read_fresh, tmp, staging, txn, moves)
                if months is None:
                    with _scratch(con):
                        self._open(self._files(read, tmp), self._files(read_fresh, tmp),
                                   only=rollup.sql, con=con)
                        entry.clear()
                        rel = self._computed(con, rollup)
                        if rollup.partitioned:
                            written = self._stage_rollup_months(rel, name, entry, staging, txn,
                                                                moves)
                            if name == "customer_first":
                                note_ids(con, entry, written)
                        else:
                            self._stage_rollup_part(rel, name, UNPARTITIONED, entry, staging,
                                                    txn, moves)
                for month in sorted(months or ()):
                    # Only that month's files of the partitioned tables and rollups: lines and
                    # orders of a month are stored in the same month (lines are dated by their
                    # order), and so are their daily rollups.
                    def of_month(parts: dict) -> dict:
                        return {month: parts[month]} if month in parts else {}
                    with _scratch(con):
                        self._open(
                            self._files({t: of_month(p) if t in rollup.by_month else p
                                         for t, p in read.items()}, tmp),
                            self._files({n: of_month(p) if _by_day(n) else p
                                         for n, p in read_fresh.items()}, tmp),
                            only=rollup.sql, con=con)
                        entry.pop(month, None)
                        self._stage_rollup_part(self._computed(con, rollup), name, month,
                                                entry, staging, txn, moves)
                fresh.append(name)
        finally:
            con.close()

    def _appended(self, con, name, todo, before, ok, entry, read_fresh, tmp, staging, txn,
                  moves) -> bool:
        """Stage a rollup of LATEST from the months appended to the rollup it reads; False
        when it is to be built whole (a month changed that is not after every stored one)."""
        if name not in LATEST or before is None or name not in ok or not entry:
            return False
        source, key = LATEST[name]
        months, stored = todo.get(source), before.get("rollups", {}).get(source)
        if not months or not stored or source not in read_fresh or \
                min(months) <= max(stored):
            return False
        [old] = [str(self.path / p["file"]) for p in entry.values()]
        fresh = {source: {m: p for m, p in read_fresh[source].items() if m in months}}
        with _scratch(con):
            self._open({}, self._files(fresh, tmp), only=ROLLUPS[name].sql, con=con)
            # source, key: code constants.
            rel = con.sql(f"""
                select * from read_parquet($old, hive_partitioning = false)
                anti join (select distinct {key} from {source}) using ({key})
                union all by name
                select * from ({ROLLUPS[name].sql})""", params={"old": old})
            entry.clear()
            self._stage_rollup_part(rel, name, UNPARTITIONED, entry, staging, txn, moves)
        return True

    def _by_order(self, con, name, changed, before, todo, ok, by_parts, entry, read,
                  read_fresh, tmp, staging, txn, moves) -> bool:
        """Stage a rollup of BY_ORDER for the orders in the changed months only (their rows
        computed again, the others kept); False when it is to be built whole: a change to
        another table it reads, no stored build, customers numbered afresh, or a rollup it
        reads built whole."""
        rollup = ROLLUPS[name]
        if name not in BY_ORDER or before is None or name not in ok or not entry \
                or not set(changed) & READS[name] <= BY_ORDER[name]:
            return False
        for dep in ("customer_first", *read_fresh):
            # Rebuilt whole: maybe other numbers (customer_first), other rows in any month.
            if dep in todo and dep not in by_parts and todo[dep] is None:
                return False
        files = [str(tmp.get(p["file"], self.path / p["file"]))
                 for t in BY_ORDER[name] & set(changed)
                 for section in (before["tables"], read)
                 for m, p in section.get(t, {}).items() if m in changed[t]]
        months = {m for t in BY_ORDER[name] & set(changed) for m in changed[t]}

        def of_months(parts: dict) -> dict:
            return {m: p for m, p in parts.items() if m in months}
        [old] = [str(self.path / p["file"]) for p in entry.values()]
        with _scratch(con):
            if files:
                con.execute(f"create table _orders_of as select distinct order_id from "
                            f"read_parquet($f, {_PARTS}) where order_id is not null",
                            {"f": files})
            else:
                con.execute("create table _orders_of (order_id varchar)")
            self._open(self._files({t: of_months(p) if t in BY_ORDER[name] else p
                                    for t, p in read.items()}, tmp),
                       self._files({n: of_months(p) if _by_day(n) else p
                                    for n, p in read_fresh.items()}, tmp),
                       only=rollup.sql, con=con)
            con.sql(f"select * from ({rollup.sql}) semi join _orders_of using (order_id)"
                    ).create("_of_orders")
            stored = con.read_parquet(old, hive_partitioning=False)
            if not con.table("_of_orders").limit(1).fetchall() and not stored.join(
                    con.table("_orders_of"), "order_id", how="semi").limit(1).fetchall():
                # None of those orders refunded or cancelled (as a refund), before or after:
                # the file is kept (rewriting 140 k rows cost 0.3 s of a 1 M-row month).
                return True
            rel = con.sql("""
                select * from read_parquet($old, hive_partitioning = false)
                anti join _orders_of using (order_id)
                union all by name
                from _of_orders""", params={"old": old})
            entry.clear()
            self._stage_rollup_part(rel, name, UNPARTITIONED, entry, staging, txn, moves)
        return True

    def _stage_since(self, con, rollup, changed: str, entry: dict, tables: dict, fresh: dict,
                     tmp: dict, staging: Path, txn: str, moves: list) -> set | None:
        """Rebuild a running-totals rollup from the month ``changed`` (or the month after its
        last, if later months are added) on, continued from its stored month before
        (Rollup.since). Returns the months still to build one by one (none), or None when
        the rollup must be built whole: its last month moved back (a deletion, an undo)."""
        stored = sorted(entry)
        since = min(changed, _next_month(stored[-1]))
        before = [m for m in stored if m < since]
        with _scratch(con):
            self._open(self._files(tables, tmp), self._files(fresh, tmp), only=rollup.since,
                       con=con)
            # The stored rows of the month before, or none (no key started earlier).
            earlier = con.read_parquet([str(self.path / entry[before[-1] if before
                                                               else stored[0]]["file"])])
            (earlier if before else earlier.limit(0)).create_view("_earlier")
            con.sql(rollup.since, params={"since": date.fromisoformat(since + "-01")}
                    ).create("_since")
            rows, last = con.table("_since").aggregate("count(*), max(day)").fetchall()[0]
            if (last.strftime("%Y-%m") if rows else before[-1] if before else "") < stored[-1]:
                return None
            for m in stored:
                if m >= since:
                    del entry[m]
            self._stage_rollup_months(con.table("_since"), rollup.name, entry, staging, txn,
                                      moves)
        return set()

    @staticmethod
    def _computed(con: duckdb.DuckDBPyConnection, rollup) -> duckdb.DuckDBPyRelation:
        """The rollup's rows to write. An ordered one is computed in parallel into a temporary
        table, then written by one thread, which keeps the order."""
        if not rollup.ordered:
            return con.sql(rollup.sql)
        con.sql(rollup.sql).create("_ordered")
        con.execute("set threads = 1")
        return con.table("_ordered")

    def _stage_rollup_months(self, rel, name, entry, staging, txn, moves,
                             months: list[str] | None = None) -> dict[str, str]:
        """All months of a rollup in one pass (DuckDB writes a file per month, in parallel:
        2.5× faster than a filtered write per month). Returns each month's staged file.
        ``months``: the months ``rel``'s rows are in, when the caller knows them."""
        day = duckdb.ColumnExpression(ROLLUPS[name].month_of)
        if months is not None and len(months) == 1:
            # One month (an appended one): a plain write, 0.3 s faster than a partitioned one
            # for a 1 M-row month of customer_orders.
            [month] = months
            self._stage_rollup_part(rel.filter(day.isnotnull()), name, month, entry, staging,
                                    txn, moves)
            return {month: str(moves[-1][0])} if month in entry else {}
        out = staging / "rollups" / name / ("all-" + txn)
        out.parent.mkdir(parents=True, exist_ok=True)
        rel.select(duckdb.StarExpression(), duckdb.FunctionExpression(
            "strftime", day, duckdb.ConstantExpression("%Y-%m")
        ).alias("_month")).filter(day.isnotnull()).to_parquet(
            str(out), partition_by=["_month"], filename_pattern=f"part-{txn}_{{i}}",
            compression="zstd")
        staged = {}
        for part in sorted(out.iterdir()) if out.exists() else []:
            month = part.name.split("=", 1)[1]
            [written] = part.glob("*.parquet")   # one file per month
            rel_part = f"rollups/{name}/month={month}/{written.name}"
            rows = _rows(written)
            moves.append((written, self.path / rel_part))
            entry[month] = {"file": rel_part, "rows": rows}
            staged[month] = str(written)
        return staged

    def _stage_rollup_part(self, rel, name, month, entry, staging, txn, moves) -> None:
        rel_part = f"rollups/{name}/month={month}/part-{txn}.parquet"
        out = staging / rel_part
        out.parent.mkdir(parents=True, exist_ok=True)
        rel.write_parquet(str(out), compression="zstd")
        rows = _rows(out)
        if rows == 0 and month != UNPARTITIONED:
            out.unlink()
            return
        moves.append((out, self.path / rel_part))
        entry[month] = {"file": rel_part, "rows": rows}

