"""Read an export (CSV, Parquet, .xlsx) into a DuckDB table of text columns plus `_row`.

Everything is read as text first so that validation can name the exact rows whose values do not
parse; `_row` is the row number a spreadsheet would show (the header is row 1).
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import duckdb

from .errors import IngestError

if TYPE_CHECKING:
    from .prepare import Rejected

_counter = itertools.count()


@dataclass
class RawInput:
    name: str          # what the user calls it: file name, plus the sheet for workbooks
    table: str         # DuckDB temp table with VARCHAR columns and `_row`
    columns: list[str]  # header as in the file
    rows: int
    # An importer's table (canonical columns): canonical column → what in the file it was
    # read from, the file's own header or words ("Quantity × UnitPrice"); a column missing
    # here has no source in the file (a constant or a row number).
    origin: dict[str, str] | None = None
    # The currencies a format implies for a table without a currency column (ad spend).
    currencies: list[str] | None = None
    # The last row, when the file ends in the middle of it (an interrupted export or
    # download): its values are not the ones exported.
    cut_row: int | None = None
    # An importer's table: canonical columns the export does not record at all (no checkout
    # event in an event export), stored empty rather than 0, and rows the importer left out
    # before making its own (an aggregating importer cannot pass them on to be rejected).
    untracked: frozenset[str] = field(default_factory=frozenset)
    rejected: Rejected | None = None
    # CSV lines that could not be split into the header's columns: (row number, the fields
    # found); see readers._read_csv.
    malformed: list[tuple[int, list[str]]] = field(default_factory=list)
    # A CSV's separator: a file separated by ';' writes decimal commas (prepare.decimal_mark).
    sep: str | None = None
    # A file without a NUL byte (readers._scan): no value to look for NUL characters in.
    nul_free: bool = False


MAX_LINE = 1 << 20  # bytes; a longer line is refused: no export writes one, a zip bomb does
# Lines up to MAX_LINE reach Python's csv module (lines set aside, the last line, the start of
# a line refused as too long, up to 2 · MAX_LINE): its own limit is 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_LINE))


def _sniff_bytes(path: Path, name: str) -> str | None:
    """Refuse what is not a table at all; return the encoding of UTF-16 text, None for text
    of one byte a character (its encoding is told by ``_scan``)."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if not head.strip():
        raise IngestError(name, "the file is empty.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # Excel's "Unicode text" export
    # UTF-16 without its byte-order mark: the latin text of an export has a NUL in every
    # other byte (after each character in little-endian order, before it in big-endian);
    # binary data has NULs anywhere.
    even, odd = head[:4096:2], head[1:4096:2]
    for text, other, encoding in ((even, odd, "utf-16-le"), (odd, even, "utf-16-be")):
        if len(other) >= 8 and other.count(0) >= 0.7 * len(other) and text.count(0) == 0:
            return encoding
    # Binary data is full of control bytes; a text export may carry a few NULs in its values
    # (padding), which prepare removes and names.
    if len(re.findall(rb"[\x00-\x08\x0e-\x1f]", head[:4096])) > max(8, len(head[:4096]) // 100):
        raise IngestError(name, "this is not a text file (it contains binary data). Export it "
                                "again as CSV, Excel (.xlsx) or Parquet.")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise IngestError(name, "this is a web page, not a data export (it was probably saved "
                                "from the browser instead of downloaded). Use the platform's "
                                "Export button and upload that file.")
    return None


def _scan(path: Path) -> tuple[bool, tuple[int, int] | None, bool]:
    """Read the whole file once, MAX_LINE bytes at a time, whatever its lines: whether it is
    UTF-8 (a Latin-1 byte may come first after millions of rows), the first line of
    MAX_LINE bytes or more, as (line number, offset of its start), if there is one, and
    whether it holds a NUL byte (looked for here in ~10 ms, where looking in every value of
    a 1 M-row file costs 0.1 s)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, start, pos, nul = True, 0, 0, False
    with open(path, "rb") as f:
        while chunk := f.read(MAX_LINE):
            nul = nul or b"\0" in chunk
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            # A line inside one chunk is shorter than the chunk: only lines running across
            # a chunk's edge need measuring.
            first, last = _line_breaks(chunk)
            if pos + (len(chunk) if first < 0 else first) - start >= MAX_LINE:
                return utf8, (_line_at(path, start), start), nul
            if first >= 0:
                start = pos + last + 1
            pos += len(chunk)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return utf8, None, nul


def _line_at(path: Path, offset: int) -> int:
    """The number of the line starting at byte ``offset``: counted once a long line is found,
    not on every scan (counting each chunk's line breaks cost 0.15 s of a 95 MB file)."""
    line, pos, cr = 1, 0, False
    with open(path, "rb") as f:
        while pos < offset and (chunk := f.read(min(MAX_LINE, offset - pos))):
            line += (chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
                     - (cr and chunk.startswith(b"\n")))
            pos, cr = pos + len(chunk), chunk.endswith(b"\r")
    return line


def _line_breaks(chunk: bytes) -> tuple[int, int]:
    """Where the first and the last line break of ``chunk`` are (-1 without one): `\\n`, or `\\r`
    alone as old Mac spreadsheets end their lines."""
    first = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
    return min(first, default=-1), max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))


def _head_lines(path: Path, n: int) -> list[str]:
    """The first ``n`` lines, from at most MAX_LINE characters (a line cut there is left out)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.read(MAX_LINE)
    lines = head.split("\n")
    if len(head) == MAX_LINE or not lines[-1]:
        lines.pop()
    return [ln + "\n" for ln in lines[:n]]


def _preamble_lines(path: Path) -> tuple[int, str | None]:
    """Lines above the header, and the separator when the file names it. Above the header:
    Excel's `sep=;` line (which names it), '#' comments (GA4 reports) and title lines (Google
    Ads reports start with the report name and the date range), recognised as lines without
    any separator above lines that have some."""
    lines = _head_lines(path, 30)
    sep = re.fullmatch(r'"?sep=(.)"?\s*', lines[0].lstrip("\ufeff"), re.I) if lines else None
    if sep:
        return 1, sep[1]
    fields = [max(len(re.findall(d, ln)) for d in (",", ";", "\t")) if ln.strip() else -1
              for ln in lines]
    n = 0
    while n < len(lines) - 1 and (lines[n].lstrip("\ufeff").startswith("#") or fields[n] == -1
                                  or (fields[n] == 0 and max(fields[n + 1:n + 6]) > 0
                                      and n < 5)):
        n += 1
    return n, None


def _separator(header: str) -> str:
    return max((",", ";", "\t"), key=header.count)


def _too_long(path: Path, name: str, line: int, start: int, skip: int,
              sep: str | None) -> IngestError:
    """The error for a line of MAX_LINE bytes or more, naming its column when one value alone
    is that long."""
    limit = f"{MAX_LINE >> 20} MB"
    advice = "no export holds values that long: check that this is the file you meant."
    if line <= skip + 1:
        return IngestError(name, f"row {line}, where the header should be, is over {limit} "
                                 f"long; {advice}")
    header = _head_lines(path, skip + 1)[skip:]
    sep = sep or _separator(header[0] if header else ",")
    with open(path, "rb") as f:
        f.seek(start)
        head = f.read(2 * MAX_LINE)
    end = _line_breaks(head)[0]
    text = head[:end if end >= 0 else None].decode("utf-8", errors="replace")
    names = next(csv.reader(header, delimiter=sep), [])
    values = next(csv.reader([text], delimiter=sep), [])
    for column, value in zip(names, values):
        if len(value.encode()) >= MAX_LINE:
            return IngestError(name, f"a value over {limit} on row {line}; {advice}", column)
    return IngestError(name, f"row {line} is over {limit} long; {advice}")


def _to_utf8(path: Path, workdir: Path, encoding: str) -> Path:
    """DuckDB reads UTF-8 only: re-encode a Windows-1252 or UTF-16 export, streaming."""
    out = workdir / f"utf8_{next(_counter)}.csv"
    errors = _C1 if encoding == "cp1252" else "replace"
    with open(path, encoding=encoding, errors=errors, newline="") as src, \
            open(out, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 22):
            dst.write(chunk)
    return out


# Text that is not UTF-8 is read as Windows-1252, which Excel and Windows write: Latin-1 with
# punctuation (– ’ € …) where Latin-1 has control codes. Its five unassigned bytes are read as
# Latin-1 reads them, as browsers do.
_C1 = "kpilib-latin1"
codecs.register_error(_C1, lambda e: (e.object[e.start:e.end].decode("latin-1"), e.end))


# Quotes doubled inside a quoted field ("12"" screen") stand for one quote. DuckDB 2.0's
# lenient mode (strict_mode=False, needed for ragged exports) keeps them doubled unless the
# escape character is given.
RFC4180 = {"quotechar": '"', "escapechar": '"'}


def read(con: duckdb.DuckDBPyConnection, path: str | Path, name: str | None = None,
         workdir: Path | None = None) -> list[RawInput]:
    path = Path(path)
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _read_zip(con, path, name, workdir or path.parent)
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(con, path, name)
    if suffix == ".parquet":
        try:
            rel = con.read_parquet(str(path))
        except duckdb.Error:
            raise IngestError(name, "this is not a readable Parquet file (it is damaged, cut "
                                    "short or not Parquet at all).") from None
        return [_to_text_table(con, rel, name)]
    workdir = workdir or path.parent
    if encoding := _sniff_bytes(path, name):
        path = _to_utf8(path, workdir, encoding)
    utf8, long_line, nul = _scan(path)
    skip, sep = _preamble_lines(path)
    if long_line:
        raise _too_long(path, name, *long_line, skip, sep)
    if not utf8:
        path = _to_utf8(path, workdir, "cp1252")
    try:
        result = _read_csv(con, path, name, skip, sep)
    except duckdb.Error as e:
        raise IngestError(name, f"the file could not be read as a table ({_first_line(e)}). "
                                "Check that it is a CSV export with one header line.")
    if result.rows == 0 and not result.malformed:
        raise IngestError(name, "the file has a header but no rows.")
    if _ends_mid_row(path, skip, sep):
        result.cut_row = skip + 1 + result.rows
    result.sep = sep or _separator(next(iter(_head_lines(path, skip + 1)[skip:]), ","))
    result.nul_free = not nul
    return [result]


def _ends_mid_row(path: Path, header_line: int, sep: str | None) -> bool:
    """Whether the file (UTF-8) stops in the middle of its last row: no line break after it
    and fewer fields than the header. A last line with an odd number of quotes ends a quoted
    field that spans lines, so its fields cannot be counted alone: not judged."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (1 << 16)))
        tail = f.read()
    if not tail or tail.endswith((b"\n", b"\r")) or b"\n" not in tail:
        return False
    last = tail.rsplit(b"\n", 1)[1].decode("utf-8", errors="replace")
    if last.count('"') % 2:
        return False
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        header = next(itertools.islice(f, header_line, None), "")
    sep = sep or _separator(header)
    count = lambda line: len(next(csv.reader([line], delimiter=sep), []))  # noqa: E731
    return count(last) < count(header.rstrip("\r\n"))


def _read_csv(con, path: Path, name: str, skip: int, sep: str | None = None) -> RawInput:
    """A CSV file read strictly: a line with more fields than the header (an unquoted comma
    inside a value) is set aside in ``RawInput.malformed`` with its row number, never cut to
    the header's width (which read "12,50" as 12 and moved the next value along). A short line
    (a truncated last line) is padded with empty values, which validation then names."""
    try:
        rel = con.read_csv(str(path), header=True, all_varchar=True, skiprows=skip,
                           max_line_size=MAX_LINE, **({"delimiter": sep} if sep else {}),
                           **RFC4180)
        if len(rel.columns) == 1 and any(d in rel.columns[0] for d in ",;\t"):
            raise duckdb.InvalidInputException("the sniffer found no separator")
        return _to_text_table(con, rel, name, first_row=skip + 2)
    except duckdb.InvalidInputException as e:
        # Lines were measured, but not rows: a quoted value may span lines. DuckDB counts
        # its rows wrong then, so the row is named by its start.
        if "Maximum line size" in str(e):
            start = str(e).split("Original Line: ", 1)[-1][:40]
            raise IngestError(name, f"a row is over {MAX_LINE >> 20} MB long (a quoted value "
                                    f"spanning lines?): the one that starts {start!r}. No "
                                    "export holds values that long: check that this is the "
                                    "file you meant.") from None
    # Some line does not split like the others. The separator and header are found past such
    # lines, then the file is read serially (DuckDB's parallel reader can lose the lines around
    # a rejected one): each line split into the header's columns, short ones padded, longer
    # ones set aside with their line number.
    delim, header = con.execute(
        "select Delimiter, [c.name for c in Columns] from sniff_csv($p, skip=$s, header=true, "
        f"quote='\"', escape='\"', ignore_errors=true{', delim=$d' if sep else ''})",
        {"p": str(path), "s": skip, **({"d": sep} if sep else {})}).fetchall()[0]
    n = next(_counter)
    errors, scans = f"csv_errors_{n}", f"csv_scans_{n}"
    rel = con.read_csv(str(path), header=False, skiprows=skip + 1, auto_detect=False,
                       columns={f"c{i}": "VARCHAR" for i in range(len(header))},
                       delimiter=delim, null_padding=True, parallel=False, store_rejects=True,
                       rejects_table=errors, rejects_scan=scans, **RFC4180)
    result = _to_text_table(con, rel, name, first_row=skip + 2)
    result.columns = list(header)
    lines = con.execute(f"select line, any_value(csv_line) from {errors} group by line "
                        "order by line").fetchall()
    con.execute(f"drop table {errors}; drop table {scans}")
    if lines:
        _set_aside(con, result, lines, delim, skip + 2)
    return result


def _set_aside(con, raw: RawInput, lines, delim: str, first_row: int) -> None:
    """Keep ``lines`` (line number, text) as ``raw.malformed`` with the fields found, and give
    the rows read the row numbers of the file: the lines set aside left gaps."""
    # Line r_j (the j-th set aside) follows g_j = r_j - j - (first_row - 1) rows that were
    # read: the k-th row read comes after every line with g_j < k.
    gaps: dict[int, int] = {}
    for j, (line, text) in enumerate(lines, start=1):
        gaps[line - j - (first_row - 1)] = j
        fields = next(csv.reader(io.StringIO(text.strip("\r\n")), delimiter=delim), [])
        raw.malformed.append((line, fields))
    con.execute(f"""
        create or replace temp table {raw.table} as
        select t.* replace (t._row + coalesce(g.j, 0) as _row)
        from {raw.table} t asof left join (select unnest($g) as g, unnest($j) as j) g
          on t._row - {int(first_row) - 1} > g.g
        order by _row""", {"g": list(gaps), "j": list(gaps.values())})


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300]


def _to_text_table(con, rel, name, first_row: int = 2) -> RawInput:
    """Copy into a temp table whose columns are c0, c1, …: header text from a file never
    becomes part of a query; ``RawInput.columns[i]`` keeps the header of ``c{i}``."""
    table = f"raw_{next(_counter)}"
    columns = [str(c) for c in rel.columns]
    aliases = [f"c{i}" for i in range(len(columns))]
    con.register(f"{table}_src", rel)
    cols = ", ".join(f"cast({a} as varchar) as {a}" for a in aliases)
    con.execute(f"create temp table {table} as select {cols} "
                f"from {table}_src as src({', '.join(aliases)})")
    # Each row's number from its rowid (the rows are stored in the file's order): a
    # row_number() window would number them on one thread (0.3 s more for a 1 M-row file).
    con.execute(f"alter table {table} add column _row bigint")
    con.execute(f"update {table} set _row = rowid + {int(first_row)}")
    con.unregister(f"{table}_src")
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return RawInput(name, table, columns, rows)


# A workbook is read whole, at about five bytes of memory a byte of its XML (a 2 MB .xlsx
# holding one 400 MB cell took 2.2 GB): a larger one is refused before it is read.
MAX_WORKBOOK = 128 << 20


def _read_excel(con, path: Path, name: str) -> list[RawInput]:
    import pandas as pd

    try:
        with zipfile.ZipFile(path) as zf:
            size = sum(m.file_size for m in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        size = 0  # not a zip: openpyxl says what it is below
    if size > MAX_WORKBOOK:
        raise IngestError(name, f"this workbook unpacks to {size >> 20:,} MB, more than the "
                                f"{MAX_WORKBOOK >> 20} MB a workbook can be read in: save it as "
                                "CSV (File › Save As › CSV UTF-8) and upload that.")
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str)
    except Exception as e:  # openpyxl raises many kinds for a broken workbook
        raise IngestError(name, f"this is not a readable Excel workbook ({_first_line(e)}).")
    merged = _merged_cells(path)
    out = []
    for sheet, df in sheets.items():
        _fill_down(df, merged.get(sheet, []))
        df = df.dropna(how="all")
        if df.empty:
            continue
        df.columns = [str(c) for c in df.columns]
        label = name if len(sheets) == 1 else f"{name} [sheet {sheet}]"
        out.append(_to_text_table(con, con.from_df(df.astype("string")), label))
    if not out:
        raise IngestError(name, "every sheet of this workbook is empty.")
    return out


def _merged_cells(path: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    """Each sheet's merged ranges (min column, min row, max column, max row), read from the
    end of its XML: openpyxl's read-only mode, which keeps a large workbook out of memory, does
    not give them."""
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    ref = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+\d+:[A-Z]+\d+)\"")
    out = {}
    try:
        wb = openpyxl.load_workbook(path, read_only=True)
        for ws in wb.worksheets:
            found, tail = [], b""
            with ws._get_source() as src:
                while chunk := src.read(1 << 20):
                    # A tag cut between two chunks is whole in the tail carried over (one
                    # found twice is one range: a set).
                    text = tail + chunk
                    found += ref.findall(text)
                    tail = text[-200:]
            out[ws.title] = [range_boundaries(r.decode()) for r in set(found)]
        wb.close()
    except Exception:  # a workbook pandas read but openpyxl cannot: read without merges
        return {}
    return out


def _fill_down(df, ranges) -> None:
    """A value merged down a column (one date or status for a block of rows) belongs to every
    row of the block, as the spreadsheet shows it. Row 1 is the header: row r is df row r − 2."""
    for col, top, _last_col, bottom in ranges:
        if top >= 2 and bottom > top and col <= df.shape[1] and top - 2 < len(df):
            df.iloc[top - 1:bottom - 1, col - 1] = df.iloc[top - 2, col - 1]


MAX_UNZIPPED = 8 << 30  # a zip that would unpack to more is refused (zip bomb)
READABLE = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".parquet")
DEFLATE64 = 9  # Windows Explorer's method for large files, which zipfile cannot unpack
# The names 7-Zip and WinZip give methods zipfile may not unpack, for the message.
METHODS = {6: "Implode", 93: "Zstandard", 95: "XZ", 97: "WavPack", 98: "PPMd"}


def _read_zip(con, path: Path, name: str, workdir: Path) -> list[RawInput]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise IngestError(name, "this is not a readable zip archive (it is damaged or cut "
                                "short, or not a zip at all): download it again.") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        for m in members:
            parts = m.filename.replace("\\", "/").split("/")
            if m.filename.startswith("/") or ".." in parts or ":" in parts[0]:
                raise IngestError(name, f"the archive holds a file with an unsafe path "
                                        f"({m.filename!r}); nothing was extracted.")
        if sum(m.file_size for m in members) > MAX_UNZIPPED:
            raise IngestError(name, "the archive would unpack to more than 8 GB.")
        usable = [m for m in members if Path(m.filename).suffix.lower() in READABLE
                  and not Path(m.filename).name.startswith((".", "__MACOSX"))
                  and "__MACOSX" not in m.filename]
        if not usable:
            raise IngestError(name, "the archive holds no CSV, Excel or Parquet file.")
        out = []
        for m in usable:
            target = workdir / f"zip_{next(_counter)}{Path(m.filename).suffix.lower()}"
            label = f"{name} › {Path(m.filename).name}"
            _unpack(zf, path, m, target, name, label)
            out += read(con, target, label, workdir)
        return out


def _unpack(zf: zipfile.ZipFile, path: Path, m: zipfile.ZipInfo, target: Path, name: str,
            label: str) -> None:
    """Stream one member to ``target``, a MiB at a time whatever it holds. A text file stops
    a little past a line too long to read (a small zip can hold gigabytes of one line): the
    reader then refuses that line by its row, from what was unpacked."""
    if m.flag_bits & 1:
        raise IngestError(name, f"the archive is password-protected ({m.filename!r}): unzip "
                                "it with its password and upload the files inside.")
    text = Path(m.filename).suffix.lower() in (".csv", ".txt", ".tsv")
    try:
        with open(target, "wb") as dst, contextlib.ExitStack() as stack:
            if m.compress_type == DEFLATE64:
                chunks = _inflate64(path, m)
            else:
                src = stack.enter_context(zf.open(m))
                chunks = iter(lambda: src.read(1 << 20), b"")
            run = 0  # bytes since the last line break
            for chunk in chunks:
                dst.write(chunk)
                if text:
                    last = _line_breaks(chunk)[1]
                    run = len(chunk) - last - 1 if last >= 0 else run + len(chunk)
                    # Four times the limit: a UTF-16 line takes two bytes a character.
                    if run >= 4 * MAX_LINE:
                        break
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError):
        raise IngestError(label, "damaged in the archive (it does not unpack to what was "
                                 "packed): download the archive again.") from None
    except NotImplementedError:  # zipfile knows no such method
        method = METHODS.get(m.compress_type, f"method {m.compress_type}")
        raise IngestError(name, f"{m.filename!r} is packed with a compression method this "
                                f"dashboard cannot read ({method}): unzip it and upload the "
                                "files inside.") from None


def _inflate64(path: Path, m: zipfile.ZipInfo) -> Iterator[bytes]:
    """Unpack a Deflate64 member (which zipfile cannot) with inflate64, checked as zipfile
    checks the others: size and CRC."""
    import inflate64

    with open(path, "rb") as f:
        f.seek(m.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile("no local header")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        f.seek(m.header_offset + 30 + name_length + extra_length)
        inflater, left, size, crc = inflate64.Inflater(), m.compress_size, 0, 0
        # 16 KiB packed unpack to 16 MB at most (Deflate64 packs 1,000 to 1 at best).
        while left and not inflater.eof:
            packed = f.read(min(left, 1 << 14))
            if not packed:
                raise EOFError
            left -= len(packed)
            data = inflater.inflate(packed)
            size, crc = size + len(data), zlib.crc32(data, crc)
            if size > m.file_size:
                raise zipfile.BadZipFile("longer than said")
            yield data
    if size != m.file_size or crc != m.CRC:
        raise zipfile.BadZipFile("bad CRC")
