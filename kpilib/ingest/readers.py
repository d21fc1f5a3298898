"""Read an export (CSV, Parquet, .xlsx) into a DuckDB table of text columns plus `_row`.

Everything is read as text first so that validation can name the exact rows whose values do not
parse; `_row` is the row number a spreadsheet would show (the header is row 1).
"""
from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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


def _sniff_bytes(path: Path, name: str) -> str:
    """Refuse what is not a table at all; return the text encoding of the file."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if not head.strip():
        raise IngestError(name, "the file is empty.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # Excel's "Unicode text" export
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
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        # A multi-byte character cut at the 1 MiB boundary is still UTF-8.
        if e.start >= len(head) - 3:
            return "utf-8"
        return "latin-1"


def _preamble_lines(path: Path, encoding: str) -> int:
    """Lines above the header: '#' comments (GA4 reports) and title lines (Google Ads reports
    start with the report name and the date range), recognised as lines without any separator
    above lines that have some."""
    with open(path, encoding=encoding, errors="replace") as f:
        lines = list(itertools.islice(f, 30))
    fields = [max(len(re.findall(d, ln)) for d in (",", ";", "\t")) if ln.strip() else -1
              for ln in lines]
    n = 0
    while n < len(lines) - 1 and (lines[n].lstrip("\ufeff").startswith("#") or fields[n] == -1
                                  or (fields[n] == 0 and max(fields[n + 1:n + 6]) > 0
                                      and n < 5)):
        n += 1
    return n


def _to_utf8(path: Path, workdir: Path, encoding: str) -> Path:
    """DuckDB reads UTF-8 only: re-encode a Latin-1 or UTF-16 export, streaming."""
    out = workdir / f"utf8_{next(_counter)}.csv"
    encoding = "utf-16" if encoding == "utf-16" else "latin-1"
    with open(path, encoding=encoding, newline="") as src, \
            open(out, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 22):
            dst.write(chunk)
    return out


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
    encoding = _sniff_bytes(path, name)
    skip = _preamble_lines(path, encoding)
    if encoding != "utf-8":
        path = _to_utf8(path, workdir or path.parent, encoding)
    try:
        result = _read_csv(con, path, name, skip)
    except duckdb.Error as e:
        raise IngestError(name, f"the file could not be read as a table ({_first_line(e)}). "
                                "Check that it is a CSV export with one header line.")
    if result.rows == 0 and not result.malformed:
        raise IngestError(name, "the file has a header but no rows.")
    if _ends_mid_row(path, skip):
        result.cut_row = skip + 1 + result.rows
    return [result]


def _ends_mid_row(path: Path, header_line: int) -> bool:
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
    sep = max((",", ";", "\t"), key=header.count)
    count = lambda line: len(next(csv.reader([line], delimiter=sep), []))  # noqa: E731
    return count(last) < count(header.rstrip("\r\n"))


def _read_csv(con, path: Path, name: str, skip: int) -> RawInput:
    """A CSV file read strictly: a line with more fields than the header (an unquoted comma
    inside a value) is set aside in ``RawInput.malformed`` with its row number, never cut to
    the header's width (which read "12,50" as 12 and moved the next value along). A short line
    (a truncated last line) is padded with empty values, which validation then names."""
    try:
        rel = con.read_csv(str(path), header=True, all_varchar=True, skiprows=skip, **RFC4180)
        if len(rel.columns) == 1 and any(d in rel.columns[0] for d in ",;\t"):
            raise duckdb.InvalidInputException("the sniffer found no separator")
        return _to_text_table(con, rel, name, first_row=skip + 2)
    except duckdb.InvalidInputException:
        pass
    # Some line does not split like the others. The separator and header are found past such
    # lines, then the file is read serially (DuckDB's parallel reader can lose the lines around
    # a rejected one): each line split into the header's columns, short ones padded, longer
    # ones set aside with their line number.
    delim, header = con.execute(
        "select Delimiter, [c.name for c in Columns] from sniff_csv($p, skip=$s, header=true, "
        "quote='\"', escape='\"', ignore_errors=true)", {"p": str(path), "s": skip}).fetchall()[0]
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
    con.execute(f"create temp table {table} as select {cols}, "
                f"(row_number() over () + {int(first_row) - 1})::bigint as _row "
                f"from {table}_src as src({', '.join(aliases)})")
    con.unregister(f"{table}_src")
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return RawInput(name, table, columns, rows)


def _read_excel(con, path: Path, name: str) -> list[RawInput]:
    import pandas as pd

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


def _read_zip(con, path: Path, name: str, workdir: Path) -> list[RawInput]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise IngestError(name, f"this is not a readable zip archive ({e}).") from None
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
        for i, m in enumerate(usable):
            target = workdir / f"zip_{next(_counter)}{Path(m.filename).suffix.lower()}"
            with zf.open(m) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 22):
                    dst.write(chunk)
            out += read(con, target, f"{name} › {Path(m.filename).name}", workdir)
        return out
