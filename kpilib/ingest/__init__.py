"""Ingest exports into the store: read → recognise (platform importer, saved column mapping or
canonical columns) → type → validate → report with a diff → one atomic write.

Nothing is written unless every file is valid (or, with ``allow_partial``, unless the rows that
are kept are valid); a file whose exact content is already stored is reported and skipped.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import datetime
from decimal import Decimal
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..formatting import month_words, plural, symbol
from ..schema import TABLES, WORDS
from ..settings import chosen, currency_to_adopt, reporting_currency
from ..store import (DEFAULT_SETTINGS, DISK_FULL, DiskFull, Source, Store, alive,
                     disk_full, read_stored, sha256_file)
from . import clock, drift, versions
from .errors import IngestError
from .importers import Context, groups, registry
from .prepare import (Prepared, malformed, malformed_csv, norm_header, prepare,
                      spread_over_month)
from .readers import RawInput, read

__all__ = ["IngestError", "FileReport", "Report", "ingest", "preview"]


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
    fmt: str | None = None    # the platform format recognised, if any
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)
    rejected_csv: str | None = None

    def summary(self) -> str:
        if self.unchanged:
            return f"{self.name}: already stored (same content), nothing changed."
        span = f", {self.first} to {self.last}" if self.first else ""
        how = f" ({self.fmt})" if self.fmt else ""
        text = f"{self.name}: {plural(self.rows, 'row')} of {self.table}{span}{how}"
        if self.rejected:
            text += f"; {plural(self.rejected, 'row')} rejected"
        if self.ignored:
            text += f"; ignored columns: {', '.join(self.ignored)}"
        if self.notes:
            text += f"; {'; '.join(self.notes)}"
        return text + "."


@dataclass
class Report:
    files: list[FileReport]
    diff: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    committed: bool = False
    # The zone the files' UTC offsets imply, on a first upload into a store still on the
    # default timezone: proposed, or adopted (``ingest(adopt_timezone=True)``) and said why.
    timezone: str | None = None
    timezone_adopted: bool = False
    timezone_reason: str = ""
    # The reporting currency a first orders upload sets (kpilib.settings.currency_to_adopt).
    currency: str | None = None
    currency_of: str = "orders"   # what said it: the orders, else the ad spend uploaded

    def __iter__(self):
        return iter(self.files)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.files[i]

    def currency_note(self) -> str:
        """The reporting currency this upload sets, in a sentence ("" when none)."""
        if not self.currency:
            return ""
        return (f"Reporting currency set to {self.currency}"
                f"{'' if self.committed else ' when stored'}, the currency of the "
                f"{self.currency_of} uploaded.")

    @property
    def changes_nothing(self) -> bool:
        """Every month the files fill is already stored exactly so (a re-export of them)."""
        return all(d.get("same") for d in self.diff)

    def changes(self) -> list[str]:
        return [diff_line(d) for d in self.diff]

    def text(self) -> str:
        lines = [f.summary() for f in self.files]
        if self.timezone_adopted:
            lines.append(f"timezone: {self.timezone}"
                         f"{'' if self.committed else ' (set when stored)'}, "
                         f"{self.timezone_reason}")
        if self.currency:
            lines.append(self.currency_note())
        for f in self.files:
            lines += [f"  rejected: {r}" for r in f.rejections]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.diff:
            lines.append("changes against the store:")
            lines += [f"  {line}" for line in self.changes()]
        return "\n".join(lines)


# The diff's measures that are amounts; the others count (units, sessions).
_MONEY = {"sales (gross − discounts)", "returns", "spend"}


def diff_line(d: dict) -> str:
    """"Orders of Mar 2025: 1,204 → 1,210 rows, sales (gross − discounts) +£312.40": the
    table and month as a manager names them (not "2025-03 order_items"), amounts in the
    currency ``d["currency"]`` (none when nothing says it), counts whole, and a month the
    upload leaves exactly as stored said so, not "+0.00"."""
    what = f"{WORDS.get(d['table'], d['table']).capitalize()} of {month_words(d['month'])}"
    if d.get("same"):
        return f"{what}: {plural(d['rows_after'], 'row')}, unchanged"
    text = f"{what}: {d['rows_before']:,} → {plural(d['rows_after'], 'row')}"
    if d["measure"] and d["after"] is not None:
        delta = d["after"] - (d["before"] or 0)
        sign = "+" if delta >= 0 else "-"
        if d["measure"] in _MONEY:
            amount = f"{symbol(d.get('currency'))}{abs(delta):,.2f}"
        else:
            amount = f"{abs(delta):,.0f}"
        text += f", {d['measure']} {sign}{amount}"
    return text


def _report(p: Prepared, notes: list[str]) -> FileReport:
    return FileReport(p.name, p.table, p.rows, p.first, p.last, p.months, p.mapping, p.ignored,
                      p.notes + notes, fmt=p.fmt, rejected=p.rejected,
                      rejections=[f"{r.column + ': ' if r.column else ''}{r.reason} "
                                  f"({plural(r.rows, 'row')})" for r in p.rejections],
                      rejected_csv=p.rejected_csv)


def _connect(tmp: str) -> duckdb.DuckDBPyConnection:
    # A database file, not memory, with a memory cap: a large export spills to disk instead of
    # exhausting RAM.
    con = duckdb.connect(str(Path(tmp) / "ingest.duckdb"))
    con.execute("set TimeZone = 'UTC'")
    con.execute("set memory_limit = '1GB'")
    con.execute("set preserve_insertion_order = true")
    con.execute("set temp_directory = $d", {"d": str(Path(tmp) / "spill")})
    return con


def _workdir(what: str) -> tempfile.TemporaryDirectory:
    """A temporary folder named after this process, once those of processes that died
    without removing theirs (killed mid-ingest) are removed: nothing else would."""
    for old in Path(tempfile.gettempdir()).glob("kpilib-*"):
        m = re.fullmatch(r"kpilib-(?:ingest|preview)-(\d+)-.*", old.name)
        try:
            # Its last change, as the time its process was already running: a process
            # started later under the same pid is another one.
            if m and not alive(int(m[1]), old.stat().st_mtime):
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return tempfile.TemporaryDirectory(prefix=f"kpilib-{what}-{os.getpid()}-")


def preview(path: str | Path, name: str | None = None, rows: int = 5) -> list[dict]:
    """Headers and first rows of each table in a file, for the column-mapping editor."""
    with _workdir("preview") as tmp:
        con = _connect(tmp)
        try:
            out = []
            for raw in read(con, path, name or Path(path).name, Path(tmp)):
                df = con.table(raw.table).project("* exclude (_row)").limit(int(rows)).df()
                df.columns = raw.columns
                out.append({"name": raw.name, "columns": raw.columns, "sample": df})
            return out
        finally:
            con.close()


def ingest(store: Store, files: list[str | Path | tuple[str | Path, str]], *,
           dry_run: bool = False, allow_partial: bool = False, spend_channel: str | None = None,
           snapshot_date: str | None = None, spend_month: str | None = None,
           mappings: dict[str, tuple] | None = None,
           save_mappings: dict[str, str] | None = None, adopt_timezone: bool = False,
           after_stage=None, progress=None) -> Report:
    """Validate ``files`` (paths, or (path, display name) pairs) and add them to ``store``.

    ``mappings`` maps a file's display name to (table, {canonical column: header}) for files
    whose columns were mapped by hand, or (table, columns, {raw status: canonical status}) with
    its unknown statuses mapped too; ``save_mappings`` (display name → mapping name) keeps
    them in the store once the upload is committed, so next month's export is recognised.
    ``spend_month`` (YYYY-MM) is the month of ad reports without dates. ``adopt_timezone``: on
    a first upload into a store still on the default timezone, read the files in (and keep)
    the zone their UTC offsets imply. Raises :class:`IngestError` for the first invalid file;
    the store is then untouched.
    """
    progress = progress or (lambda fraction, text: None)
    mappings = mappings or {}
    if spend_month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", spend_month):
        raise IngestError("upload", f"the month of ad reports without dates must be written "
                                    f"like 2025-03, not {spend_month!r}.")
    files_reports: list[FileReport] = []
    with _workdir("ingest") as tmp:
        con = _connect(tmp)
        try:
            settings = store.settings
            seen: set[str] = set()
            salt = settings.get("salt") or uuid.uuid4().hex
            raws: list[tuple[RawInput, str]] = []
            for n, item in enumerate(files):
                path, name = item if isinstance(item, tuple) else (item, Path(item).name)
                path = Path(path)
                progress(0.4 * n / max(len(files), 1), f"Reading {name}")
                if not path.exists():
                    raise IngestError(name, "no such file.")
                if path.is_dir():
                    raise IngestError(name, "this is a folder, not a file: name the files in "
                                            "it (for example exports/*.csv).")
                digest = sha256_file(path)
                # A file an older importer read is read again (kpilib.ingest.versions).
                if versions.stored(store, digest):
                    seen.add(name)
                    # Read anyway when it may belong to a group of related files (Olist).
                    if not _could_group(path):
                        files_reports.append(FileReport(name, None, 0, unchanged=True))
                        continue
                raws += [(raw, digest) for raw in read(con, path, name, Path(tmp))]
            progress(0.45, "Checking every row")
            digest_of = {raw.name: d for raw, d in raws}
            # CSV lines that do not split into the header's columns refuse their file, unless
            # skipped (then told with the file's other rejected rows).
            broken = {raw.name: raw for raw, _ in raws if raw.malformed}
            for raw in broken.values():
                if not allow_partial or raw.rows == 0:
                    # The fields found in full, not cut as an example value is.
                    r = malformed(raw)
                    it = "it" if r.rows == 1 else "them"
                    found = "; ".join(f"row {n} has {text}" for n, text in r.examples[:3])
                    more = f" (and {r.rows - 3:,} more)" if r.rows > 3 else ""
                    then = f", or skip {it} and store the other rows." if raw.rows else \
                        ": no other line is left to store."
                    raise IngestError(raw.name, f"{r.reason}: {found}{more}. Correct {it} in the "
                                                f"file{then}")
            tz = settings["timezone"]
            first = tz == DEFAULT_SETTINGS["timezone"] and store.is_empty()
            while True:
                ctx = Context(salt=salt, spend_channel=spend_channel, tz=tz,
                              snapshot_date=snapshot_date, allow_partial=allow_partial,
                              channel_map=dict(settings.get("channel_map", {})),
                              spend_month=spend_month)
                prepared, unchanged, consumed = _recognise_and_prepare(
                    con, store, raws, ctx, tz, mappings, allow_partial, seen)
                clocks = _clocks(prepared)
                samples = [s for c in clocks.values() for s in c.samples]
                zone = clock.guess(samples) if any(c.differ for c in clocks.values()) else None
                if not (adopt_timezone and first and zone and zone != tz):
                    break
                # Read again in the shop's zone: a first upload, nothing stored depends on it.
                tz = zone
            files_reports += [FileReport(n, None, 0, unchanged=True) for n in unchanged]
            by_table: dict[str, list[Prepared]] = {}
            sources = []
            importers = {i.name for i in (*registry(), *groups())}
            for p, source_name in prepared:
                by_table.setdefault(p.table, []).append(p)
                files_reports.append(_report(p, [n.split(": ", 1)[1] for n in ctx.notes
                                                 if n.startswith(p.name + ": ")]))
                if source_name in broken:
                    # Said once, on the first table read from the file.
                    _skipped_lines(files_reports[-1], broken.pop(source_name))
                # (not a column mapping: a format of the user's own, which no change alters)
                importer = p.fmt if p.fmt in importers else None
                sources.append(Source(p.name, digest_of.get(source_name, ""), p.table, p.rows,
                                      p.months, importer, versions.version(importer)))
            # Files read only to join others (Olist customers): recorded, so that uploading
            # the same set again is recognised.
            sources += [Source(n, digest_of[n], "", 0) for n in consumed]
            staged = {t: _union(con, t, ps) for t, ps in by_table.items()}
            if "order_items" in staged:
                _date_order_lines(con, store, staged,
                                  ", ".join(p.name for p in by_table["order_items"]))
            report = Report(files_reports)
            report.warnings = [n for n in ctx.notes if not any(
                n.startswith(p.name + ": ") for p, _ in prepared)]
            if first and tz != settings["timezone"]:
                report.timezone, report.timezone_adopted = tz, True
                report.timezone_reason = (
                    f"a guess from the files' UTC offsets ({clock.offsets(samples)}): days and "
                    "months follow the shop's clock. If the shop is in another zone with other "
                    "rules, undo, set its timezone in Settings and upload again.")
            elif first and zone:
                report.timezone = zone
            report.warnings += _clock_warnings(prepared, clocks, tz, zone, first,
                                               store.is_empty())
            months = {t: {m for p in ps for m in p.months} for t, ps in by_table.items()}
            currencies = {t: {c for p in ps for c in p.currencies} for t, ps in by_table.items()}
            report.currency = currency_to_adopt(store, currencies.get("orders", set()),
                                                currencies.get("marketing_spend", set()))
            report.currency_of = "orders" if currencies.get("orders") else "ad spend"
            if report.currency:
                settings = {**settings, "currency": report.currency}
            elif any(currencies.values()) and "currency" not in chosen(store):
                # A store that never said its currency is in the one its orders are in.
                settings = {**settings, "currency": reporting_currency(store, latest=True)}
            report.warnings += _warnings(con, store, staged, months, currencies, settings)
            report.warnings += drift.warnings(con, store, staged)
            progress(0.6, "Comparing with what is stored")
            report.diff = store.diff(con, staged) if staged else []
            # The currency the dashboard shows once this is stored (an upload's orders in
            # the default one set nothing: the stored orders then say it).
            ours = currencies.get("orders", set())
            shown = report.currency or reporting_currency(store, latest=True) or \
                (next(iter(ours)) if len(ours) == 1 and not store.files("orders") else None)
            for d in report.diff:
                d["currency"] = shown
            report.warnings += [
                f"{plural(n, _NOUNS.get(t, f'row of {t}'), _MANY.get(t))} moved from "
                f"{_month_words(a)} to {_month_words(b)}: the upload dates "
                f"{'it' if n == 1 else 'them'} there, and the newest upload wins"
                for t, a, b, n in store.moved(con, staged)]
            if staged and not dry_run:
                progress(0.7, "Writing")
                # The write's own steps (each table, each rollup) fill 0.7 → 0.99 of the bar.
                update = {**({} if "salt" in settings else {"salt": salt}),
                          **({"timezone": tz} if report.timezone_adopted else {}),
                          **({"currency": report.currency} if report.currency else {})}
                store.write(con, staged, sources, after_stage=after_stage,
                            settings_update=update or None,
                            progress=lambda x, text: progress(0.7 + 0.29 * x, text))
                report.committed = True
                headers = {raw.name: raw.columns for raw, _ in raws}
                for file_name, mapping_name in (save_mappings or {}).items():
                    if file_name in mappings and file_name in headers:
                        table, columns, *statuses = mappings[file_name]
                        store.save_mapping(mapping_name, table, columns, headers[file_name],
                                           *statuses)
            progress(1.0, "Done")
            return report
        except (OSError, duckdb.Error) as e:
            # Reading spills to the temporary folder: its disk may fill too.
            if disk_full(e):
                raise DiskFull(DISK_FULL) from e
            if isinstance(e, OSError):
                raise
            # A file DuckDB cannot process is bad input, not a crash: say so in one line.
            raise IngestError("upload", f"could not be processed ({str(e).splitlines()[0]}).")
        finally:
            con.close()


def _skipped_lines(report: FileReport, raw) -> None:
    r = malformed(raw)
    report.rejected += r.rows
    report.rejections.insert(0, f"{r.reason} ({', '.join(f'row {n}' for n, _ in r.examples)}"
                                f"{', …' if r.rows > len(r.examples) else ''})")
    report.rejected_csv = malformed_csv(raw, report.rejected_csv)


def _could_group(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".zip") and "olist" in path.name.lower()


def _recognise_and_prepare(con, store, raws, ctx, tz, mappings, allow_partial, seen):
    """Each raw table → Prepared tables, through a group importer, a hand mapping, a saved
    mapping, a platform importer or the canonical column names, in that order.

    Returns (prepared tables with their source name, names unchanged, names only joined)."""
    out: list[tuple[Prepared, str]] = []
    unchanged: list[str] = []
    consumed: list[str] = []
    left = [r for r, _ in raws]
    for imp in groups():
        mine = imp.match_group(left)
        left = [r for r in left if r not in mine]
        if not mine:
            continue
        if all(r.name in seen for r in mine):
            unchanged += [r.name for r in mine]
            continue
        converted = imp.convert_group(con, mine, ctx)
        for table, canon in converted:
            out.append((prepare(con, canon, tz, table=table, allow_partial=allow_partial,
                                fmt=imp.name, salt=ctx.salt), canon.name))
        used = {canon.name for _, canon in converted}
        consumed += [r.name for r in mine if r.name not in used]
    for raw in left:
        if raw.name in seen:
            unchanged.append(raw.name)
            continue
        headers = [norm_header(h) for h in raw.columns]
        saved = store.mapping_for(raw.columns)
        if raw.name in mappings:
            table, mapping, *statuses = mappings[raw.name]
            out.append((prepare(con, raw, tz, table=table, mapping=mapping,
                                allow_partial=allow_partial, fmt="column mapping", salt=ctx.salt,
                                statuses=statuses[0] if statuses else None), raw.name))
        elif saved:
            name, m = saved
            out.append((prepare(con, raw, tz, table=m["table"], mapping=m["columns"],
                                allow_partial=allow_partial, fmt=f"saved mapping '{name}'",
                                salt=ctx.salt, statuses=m.get("statuses")), raw.name))
        elif imp := next((i for i in registry() if i.match(headers)), None):
            for table, canon in imp.convert(con, raw, ctx):
                p = prepare(con, canon, tz, table=table, allow_partial=allow_partial,
                            fmt=imp.name, salt=ctx.salt)
                if canon.name in ctx.monthly:
                    spread_over_month(con, p)
                out.append((p, raw.name))
        else:
            out.append((prepare(con, raw, tz, allow_partial=allow_partial, salt=ctx.salt),
                        raw.name))
    return out, unchanged, consumed


def _union(con, table: str, parts: list[Prepared]) -> str:
    if len(parts) == 1:
        return parts[0].relation
    spec = TABLES[table]
    rel = con.table(parts[0].relation).select(*spec.names)
    for p in parts[1:]:
        rel = rel.union(con.table(p.relation).select(*spec.names))
    name = f"staged_{table}"
    rel.create(name)
    keys = ", ".join(spec.key)
    dup = (con.table(name)
           .aggregate(f"concat_ws(' / ', {keys}) as k, count(*) as n", keys)
           .filter("n > 1").select("k").limit(3).fetchall())
    if dup:
        raise IngestError(", ".join(p.name for p in parts),
                          f"these files hold the same {table} rows more than once (e.g. "
                          f"{', '.join(repr(d[0]) for d in dup)}); upload one of them.")
    return name


def _date_order_lines(con, store: Store, staged: dict[str, str], names: str) -> None:
    """Order lines are stored in their order's month: lines without a date take it from their
    order, in this upload (first) or in the store."""
    items = con.table(staged["order_items"])
    if not items.filter("ordered_at is null").aggregate("count(*)").fetchall()[0][0]:
        return
    sources = []
    if "orders" in staged:
        sources.append(con.table(staged["orders"]).project("order_id, ordered_at, 0 as rank"))
    files = [str(f) for f in store.files("orders")]
    if files:
        sources.append(con.read_parquet(files).project("order_id, ordered_at, 1 as rank"))
    if sources:
        dates = sources[0]
        for more in sources[1:]:
            dates = dates.union(more)
        dates = dates.aggregate("order_id, arg_min(ordered_at, rank) as order_at", "order_id")
        items = items.join(dates, "order_id", how="left").project(", ".join(
            c if c != "ordered_at" else "coalesce(ordered_at, order_at) as ordered_at"
            for c in items.columns))
        items.create("dated_order_items")
        staged["order_items"] = "dated_order_items"
        items = con.table("dated_order_items")
    missing = items.filter("ordered_at is null")
    bad = missing.order("_row").select("_row", "order_id").limit(5).fetchall()
    if bad:
        n = missing.aggregate("count(*)").fetchall()[0][0]
        said = ("1 line belongs to an order that is neither in this upload nor stored, so "
                "its month is unknown: upload the orders export with it (or first).") \
            if n == 1 else \
            (f"{plural(n, 'line')} belong to orders that are neither in this upload nor stored, "
             "so their month is unknown: upload the orders export with them (or first).")
        raise IngestError(names, said, "order_id", bad)


def _warnings(con, store: Store, staged: dict[str, str], months: dict[str, set[str]],
              currencies: dict[str, set[str]], settings: dict) -> list[str]:
    """What is worth a look but not a reason to refuse: checked against upload and store
    (``months``: each staged table's months; ``currencies``: the currencies each staged
    table's files are in, as their currency column or their format says)."""
    out = []

    def ids(table: str, only: set[str] | None = None) -> str | None:
        """A view of the order ids in ``table``, stored (in the months ``only``, if given) and
        uploaded (None: there are none). Compared in DuckDB: millions of ids never come into
        Python."""
        parts = []
        files = [str(f) for f in store.files(table, months=only)]
        if files:
            con.read_parquet(files).select("order_id").create_view(f"_stored_{table}_ids")
            parts.append(f"select order_id from _stored_{table}_ids")
        if table in staged:
            parts.append(f"select order_id from {staged[table]}")
        if not parts:
            return None
        # Names only, from code: a canonical table name and the staging tables made here.
        con.execute(f"create or replace temp view _{table}_ids as {' union all '.join(parts)}")
        return f"_{table}_ids"

    def unknown(rel: str, known: str | None) -> tuple[int, list[str]]:
        """Distinct order ids of ``rel`` missing from ``known`` (None: nothing is known, as
        in a store without orders): how many, and three of them."""
        where = "" if known is None else \
            f"where order_id not in (select order_id from {known} where order_id is not null)"
        return con.execute(f"""
            select count(*), coalesce(list(order_id order by order_id)[1:3], [])
            from (select distinct order_id from {rel} {where})""").fetchall()[0]

    if "orders" in staged:
        # Lines are stored in their order's month (_date_order_lines), so an order's lines
        # are looked for in its month only: a month's upload then reads that month's stored
        # lines, not every line of the shop's history (~0.5 s for five million lines).
        items = ids("order_items", months["orders"])
        if items:
            n, some = unknown(staged["orders"], items)
            if n:
                out.append(f"{plural(n, 'order')} {'has' if n == 1 else 'have'} no order "
                           f"lines {_some(n, some)}")
    for table, what in (("orders", "orders are"), ("marketing_spend", "ad spend is")):
        ours = settings["currency"]
        other = sorted(currencies.get(table, set()) - {ours})
        if not ours and len(other) > 1:
            # No currency said, and two in one upload: added up as one unless converted.
            out.append(f"{what} in {' and '.join(other)} and no reporting currency is set: "
                       f"amounts are not converted, so {' and '.join(other)} amounts would be "
                       "added up as one currency. Set the reporting currency in Settings, or "
                       "convert the amounts before uploading")
        elif ours and other:
            out.append(f"{what} in {', '.join(other)} but the reporting currency is {ours}: "
                       f"amounts are not converted, so each {' or '.join(other)} amount would "
                       f"count as the same number of {ours} ({symbol(other[0])}10.00 as "
                       f"{symbol(ours)}10.00). Set the reporting currency"
                       f"{' to ' + other[0] if len(other) == 1 else ''} in Settings, or convert "
                       "the amounts before uploading")
    if "refunds" in staged:
        known = ids("orders")
        n, some = unknown(staged["refunds"], known)
        if n == 1:
            out.append(f"1 refund points to an order that is not stored {_some(n, some)}; it "
                       "counts as a return on channel 'unknown'")
        elif n:
            out.append(f"{plural(n, 'refund')} point to orders that are not stored "
                       f"{_some(n, some)}; they count as returns on channel 'unknown'")
    if "refunds" in staged:
        out += _refunds_above_their_order(con, store, staged)
    for table, rel in staged.items():
        col = TABLES[table].date_column
        if col:
            # Before 1900: 1899-12-30 is the day an empty date cell of Excel shows.
            future, old, first = con.table(rel).aggregate(
                f"count(*) filter (where cast({col} as date) > current_date), "
                f"count(*) filter (where {col} < date '1900-01-01'), "
                f"min({col})::date::varchar").fetchall()[0]
            for n, when in ((future, "in the future"), (old, f"before 1900 ({first})")):
                if n:
                    out.append(f"{plural(n, 'row')} of {table} {'is' if n == 1 else 'are'} "
                               f"dated {when}")
    return out


# What an order came to, and what a refund gives back: goods, shipping and tax.
_ORDER_TOTAL = ("gross_sales - discounts + coalesce(shipping, 0) + coalesce(tax, 0) "
                "+ coalesce(tips, 0)")
_REFUNDED = "amount + coalesce(shipping, 0) + coalesce(tax, 0)"


def _refunds_above_their_order(con, store: Store, staged: dict[str, str]) -> list[str]:
    """Refunds of more than their order came to (five times it: a typo, or another order's
    id): worth a look, not a reason to refuse. The order as uploaded, else as stored."""
    parts = []
    if "orders" in staged:
        parts.append(f"select order_id, {_ORDER_TOTAL} as total, 0 as rank "
                     f"from {staged['orders']}")
    files = [str(f) for f in store.files("orders")]
    if files:
        # Read by name: files stored before tips were in the contract lack the column.
        read_stored(con, files, "_orders").create_view("_stored_orders_totals")
        parts.append(f"select order_id, {_ORDER_TOTAL} as total, 1 as rank "
                     "from _stored_orders_totals")
    if not parts:
        return []
    n, some = con.execute(f"""
        with o as (select order_id, arg_min(total, rank) as total
                   from ({' union all '.join(parts)}) group by order_id),
             r as (select refund_id, order_id, {_REFUNDED} as refunded from {staged['refunds']})
        select count(*), list([refund_id, order_id, refunded::varchar, total::varchar]
                              order by refund_id)[1:3]
        from r join o using (order_id) where refunded > total""").fetchall()[0]
    if not n:
        return []
    said = ", ".join(f"{r}: {Decimal(x):,.2f} on order {o} of {Decimal(t):,.2f}"
                     for r, o, x, t in some)
    return [f"1 refund is more than its order's total ({said})" if n == 1 else
            f"{plural(n, 'refund')} are more than their orders' totals "
            f"({'' if n == len(some) else 'e.g. '}{said})"]


# What a table's rows are called in a sentence.
_NOUNS = {"orders": "order", "refunds": "refund", "order_items": "order line"}
_MANY = {t: f"rows of {t}" for t in TABLES}


def _month_words(month: str) -> str:
    """2025-03 → March 2025."""
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


def _clocks(prepared) -> dict[str, clock.Clock]:
    """Each table's UTC offsets over the files uploaded (see clock.py)."""
    out: dict[str, clock.Clock] = {}
    for p, _ in prepared:
        if p.clock:
            out[p.table] = out[p.table] + p.clock if p.table in out else p.clock
    return out


def _clock_warnings(prepared, clocks: dict[str, clock.Clock], tz: str, zone: str | None,
                    first: bool, empty: bool) -> list[str]:
    """How many rows fall on another day (and month) in the store's timezone than on the
    clock the files are written in, and which zone would keep them there."""
    # Lines follow their order: said once, for the orders.
    moved = {t: c for t, c in clocks.items() if c.differ
             and not (t == "order_items" and clocks.get("orders"))}
    if not moved:
        return []
    files = sorted({name for p, name in prepared if p.table in moved and p.clock})
    samples = [s for c in moved.values() for s in c.samples]
    noun = {t: _NOUNS.get(t, f"row of {t}") for t in moved}
    counts = "; ".join(
        f"{c.days:,} of {plural(c.rows, noun[t])} {'falls' if c.days == 1 else 'fall'} on "
        f"another day than on the files' clock ({c.months:,} of them in another month)"
        for t, c in moved.items() if c.days) or \
        f"no {noun[next(iter(moved))]} falls on another day yet (times near midnight would)"
    text = (f"the times in {', '.join(files)} carry {clock.offsets(samples)}, not the store's "
            f"timezone ({tz}): {counts}")
    if zone and first:
        text += (f". {zone} has these offsets on these dates, so it is probably the shop's "
                 "timezone (a guess; Settings lists every zone): with it, days and months "
                 "follow the shop's clock, as in the platform's own reports")
    elif zone and empty:
        text += (f". {zone} has these offsets on these dates (a guess): if it is the shop's "
                 "timezone, choose it in Settings before storing")
    elif zone:
        text += (f". {zone} has these offsets (a guess). The store already holds data read "
                 f"in {tz}, so its timezone is kept: a change in Settings would apply to later "
                 "uploads only")
    return [text]


def _some(n: int, some: list[str]) -> str:
    """Examples in brackets: all of them when they are all there are."""
    return f"({'' if n == len(some) else 'e.g. '}{', '.join(some)})"
