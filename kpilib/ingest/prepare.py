"""Recognise which canonical table a file holds, type its values and validate every row.

Column headers from files never enter SQL: the raw table's columns are c0, c1, … (see
readers.py) and only canonical names (code constants) are written into queries.

Each row that cannot be stored is rejected with a reason (value not a number, date that does not
parse, required value missing, negative count, unknown status, duplicate key). By default one
rejected row refuses the whole file, with a message naming the column and example rows; with
``allow_partial`` the valid rows go on and the rejected ones are reported (and downloadable).
"""
from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from ..channels import KNOWN, label_sql
from ..export import safe_text
from ..formatting import plural
from ..schema import MONEY, NON_NEGATIVE, TABLES, Table
from .clock import Clock, clock_sql, read_clock
from .errors import IngestError
from .readers import RawInput

_counter = itertools.count()

STATUS_MAP = {
    "placed": ("placed", "pending", "new", "open", "on-hold", "on_hold", "unpaid", "created",
               "pending_payment", "awaiting_payment"),
    "paid": ("paid", "authorized", "processing", "approved", "invoiced"),
    "fulfilled": ("fulfilled", "complete", "completed", "unshipped"),
    "shipped": ("shipped", "in_transit", "partially_shipped", "partially_fulfilled"),
    "delivered": ("delivered",),
    "cancelled": ("cancelled", "canceled", "voided", "failed", "unavailable", "expired"),
    "refunded": ("refunded",),
    "partially_refunded": ("partially_refunded",),
}
_STATUS_CASE = "case " + " ".join(
    f"when s in ({', '.join(repr(v) for v in raws)}) then '{canon}'"
    for canon, raws in STATUS_MAP.items()) + " end"
# An export holds a handful of statuses: each distinct one is mapped once (status_key →
# status_canon) and joined, instead of this case evaluated on every row (~0.85 s of a 1 M-row
# orders file).
_STATUS_MAP_SQL = ("select status_key, "
                   + _STATUS_CASE.replace(" s ", " lower(replace(trim({key}), ' ', '_')) ")
                   + " as status_canon from (select distinct status as status_key from {typed})")
# A status the user mapped (column-mapping editor: raw text → a status above, in any of its
# spellings) is read as what it was mapped to; the lists are parameters.
_USER_STATUS = ("coalesce(list_extract($status_to, list_position($status_from, status_key)), "
                "status_key)")
_SPELLINGS = {v for raws in STATUS_MAP.values() for v in raws}

# A customer id that is an e-mail address or a phone number is personal data: it is stored as a
# salted hash (the salt is the store's, in settings.json), whichever way the file was read, so
# a store committed to git holds none. Digits with an optional +, spaces, dashes, parentheses.
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_PHONE = r"^\+?[0-9 ()-]+$"


def salted_hash_sql(x: str) -> str:
    """SQL for the stored stand-in of a personal identifier ``x`` (SQL): 16 hex characters of
    SHA-256 of the shop's salt ($salt) and the value."""
    return f"substr(sha256($salt || {x}), 1, 16)"


def _digits(x: str) -> str:
    return f"regexp_replace({x}, '[^0-9]', '', 'g')"


def _personal_sql(x: str) -> tuple[str, str]:
    """SQL conditions: ``x`` is an e-mail address; ``x`` is a phone number (8–15 digits)."""
    # Cheap tests first: a file of short ids is told in ~0.03 s a million rows, not ~0.2 s.
    return (f"contains({x}, '@') and regexp_full_match({x}, '{_EMAIL}')",
            f"length({x}) >= 8 and regexp_full_match({x}, '{_PHONE}') "
            f"and length({_digits(x)}) between 8 and 15")


def customer_id_sql(x: str) -> str:
    """SQL for the customer id stored for the value ``x`` (SQL): e-mail addresses (any case)
    and phone numbers (any punctuation) hashed with :func:`salted_hash_sql`, anything else
    as it is."""
    email, phone = _personal_sql(x)
    return (f"case when {email} then {salted_hash_sql(f'lower({x})')} "
            f"when {phone} then {salted_hash_sql(_digits(x))} else {x} end")


# A time followed by where its clock is: a UTC offset (+01:00, -0500, -05, Z) or a zone's name
# (" UTC", " America/New_York"). DuckDB's cast to TIMESTAMP drops any of them silently, so
# whatever follows the time is taken as one, and a value DuckDB cannot then read is refused.
_TIME_WITH_OFFSET = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([+-]\d|[A-Za-z]).*$"
# An offset past ±14:00 is no clock's (DuckDB reads +25 as 25 hours).
_NO_OFFSET = r"[+-](1[5-9]|[2-9]\d)(:?\d{2}){0,2}$"
MAX_REJECTED_CSV = 100_000
# Tables whose every column outside the key is a count or an amount: rows of one key at a finer
# grain (ads within a campaign) add up to it.
SUMMED = ("marketing_spend",)


def norm_header(name: str) -> str:
    name = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", name).strip("_")


@dataclass
class Rejection:
    column: str | None   # header in the file
    reason: str
    rows: int
    examples: list[tuple[int, str]]


@dataclass
class Rejected:
    """Rows an importer left out of the table it made (:func:`reject_rows`): why, how many,
    and the rows as the file had them (CSV)."""
    rejections: list[Rejection]
    rows: int
    csv: str


@dataclass
class Prepared:
    name: str
    table: str           # canonical table name
    relation: str        # DuckDB temp table with the canonical columns, typed and normalised
    rows: int            # accepted rows
    mapping: dict[str, str]   # canonical column -> header in the file (or words, see origin)
    ignored: list[str]
    first: str | None = None  # first and last date, ISO
    last: str | None = None
    months: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rejected: int = 0         # rows left out (with allow_partial)
    rejected_csv: str | None = None
    fmt: str | None = None    # platform format, when an importer recognised one
    currencies: list[str] = field(default_factory=list)   # what the amounts are in, if said
    clock: Clock | None = None   # the UTC offsets of its date column, if it has any


def detect(raw: RawInput, mapping: dict[str, str] | None = None,
           table: str | None = None) -> tuple[Table, dict[str, int]]:
    """The canonical table the header matches, and canonical column -> index in the file.

    ``mapping`` (canonical column -> header), when given, decides the columns it names."""
    headers = [norm_header(h) for h in raw.columns]
    if mapping:
        spec = TABLES[table] if table else None
        found = {c: raw.columns.index(h) for c, h in mapping.items() if h in raw.columns}
        if spec is None:
            raise IngestError(raw.name, "a column mapping needs its table.")
        missing = [c for c in spec.required if c not in found]
        if missing:
            raise IngestError(raw.name, f"the column mapping for '{spec.name}' leaves required "
                              f"column{'' if len(missing) == 1 else 's'} "
                              f"{', '.join(repr(m) for m in missing)} unmapped.")
        return spec, found
    best, best_score, tie = None, None, False
    closest = None
    candidates = [TABLES[table]] if table else TABLES.values()
    for spec in candidates:
        found: dict[str, int] = {}
        for col in spec.columns:
            for cand in (col.name, *col.aliases):
                if cand in headers and headers.index(cand) not in found.values():
                    found[col.name] = headers.index(cand)
                    break
        missing = [c for c in spec.required if c not in found]
        score = (len(found), len(spec.required))
        if not missing:
            if best_score is None or score > best_score:
                best, best_score, tie = (spec, found), score, False
            elif score == best_score:
                tie = True
        elif closest is None or (len(found), -len(missing)) > closest[0]:
            closest = ((len(found), -len(missing)), spec, missing, found)
    if best is None:
        msg = "could not tell which table this file holds. "
        if closest and closest[0][0] > 0:
            _, spec, missing, found = closest
            msg += (f"It looks closest to '{spec.name}' but has no column "
                    f"{', '.join(repr(m) for m in missing)}. ")
        msg += f"Columns found: {', '.join(repr(c) for c in raw.columns[:20])}."
        err = IngestError(raw.name, msg, unrecognised=True, remedy=(
            "Map the columns on the Data page, or download a template there to see the "
            "expected columns."))
        if closest and closest[0][0] > 0:
            # The column mapping opens on the table named, with the columns recognised.
            err.table, err.columns = spec.name, {c: raw.columns[i] for c, i in found.items()}
        raise err
    if tie:
        raise IngestError(raw.name, "the columns match more than one table; rename the columns "
                                    "to the template's names or map them on the Data page.")
    return best


def _nuls(con, raw: str, found: dict[str, int]) -> dict[str, tuple[int, list[int]]]:
    """The columns whose values hold NUL characters (some exports pad fields with them; they
    are nothing a reader sees, and spreadsheets and Excel files refuse them): column → (how
    many values, their first rows)."""
    counts = con.execute("select " + ", ".join(f"count_if(contains(c{i}, chr(0)))"
                                               for i in found.values()) + f" from {raw}"
                         ).fetchall()[0]
    return {c: (n, [r[0] for r in con.execute(
                f"select _row from {raw} where contains(c{i}, chr(0)) order by 1 limit 5"
            ).fetchall()]) for (c, i), n in zip(found.items(), counts) if n}


_DAY_MONTH = "^\\d{1,2}[/.-]\\d{1,2}[/.-]\\d{2,4}"
_DAY_MONTH_AMONG_ISO = ("is written day/month or month/day (like 02/03/2025) where the column's "
                        "other dates are written YYYY-MM-DD, so which number is the day cannot "
                        "be told: write it as YYYY-MM-DD.")


def _date_format(con, raw: str, col: str) -> tuple[str | None, str | None]:
    """Pick how a date column is written: ISO, YYYYMMDD, or day/month vs month/day.

    Returns (strptime formats or None for ISO, a note for the report). Refuses a column that
    mixes day-first and month-first dates: no single reading of it can be right."""
    not_iso = (f"try_cast({col} as timestamp) is null "
               f"and not regexp_matches({col}, '{_TIME_WITH_OFFSET}')")
    # A clean export (ISO dates) stops here: one scan of casts, no pattern matching on each row
    # (~0.4 s of a 1 M-row file).
    if not con.execute(f"select 1 from {raw} where nullif(trim({col}), '') is not null "
                       f"and {not_iso} limit 1").fetchall():
        offsets = con.execute(f"select 1 from {raw} where regexp_matches({col}, "
                              f"'{_TIME_WITH_OFFSET}') limit 1").fetchall()
        return (None if offsets else "naive"), None
    q = (f"select count(*) filter (where {not_iso}),"
         f" count(*) filter (where regexp_matches({col}, '^\\d{{8}}$')),"
         f" count(*) filter (where regexp_matches({col}, '{_DAY_MONTH}')),"
         f" count(*) filter (where try_cast(regexp_extract({col}, '^(\\d{{1,2}})[/.-]', 1) as int) > 12),"
         f" count(*) filter (where try_cast(regexp_extract({col}, '^\\d{{1,2}}[/.-](\\d{{1,2}})[/.-]', 1) as int) > 12)"
         f", count(*) from {raw} where nullif(trim({col}), '') is not null")
    not_iso, ymd, dmy, first_gt12, second_gt12, n = con.execute(q).fetchall()[0]
    if ymd == not_iso:
        return "%Y%m%d", None
    # A few 02/03/2025 among ISO dates are the odd ones (refused, see _DAY_MONTH_AMONG_ISO);
    # ISO dates among day/month ones mean one day only and are read as such (_naive_sql).
    if dmy > n - not_iso:
        if first_gt12 and second_gt12:
            raise IngestError("", "mixes day/month and month/day dates (some rows have a day "
                                  "above 12 first, others second), so no single reading is "
                                  "right. Export the file again with ISO dates (YYYY-MM-DD).")
        order = ("%m", "%d") if second_gt12 else ("%d", "%m")
        if second_gt12:
            note = "dates were read as month/day (a day above 12 comes second)"
        elif first_gt12:
            note = "dates were read as day/month (a day above 12 comes first)"
        else:
            note = "dates like 03/04 were read as day/month (no day above 12 tells otherwise)"
        fmts = []
        for year in ("%Y", "%y"):
            d = f"{order[0]}/{order[1]}/{year}"
            fmts += [d + " %H:%M:%S", d + " %H:%M", d]
        return "|".join(fmts), note
    return None, None


def _naive_sql(col: str, fmts: str | None) -> str:
    """The text ``col`` read as a time without offset, written as ``fmts`` says."""
    if fmts == "%Y%m%d":
        return f"try_strptime({col}, '%Y%m%d')"
    if fmts and fmts != "naive":
        fl = ", ".join(f"'{f}'" for f in fmts.split("|"))
        return (f"coalesce(try_strptime(regexp_replace({col}, '[.-]', '/', 'g'), [{fl}]), "
                f"try_cast({col} as timestamp))")
    return f"try_cast({col} as timestamp)"


def instant_sql(col: str) -> str:
    """The text ``col``, a time with a UTC offset or zone, as a TIMESTAMPTZ (NULL when it
    cannot be read). DuckDB reads every offset form, but not after a space."""
    return (f"case when not regexp_matches({col}, '{_NO_OFFSET}') then try_cast(regexp_replace("
            f"{col}, '\\s+([+-]\\d|Z$)', '\\1') as timestamptz) end")


def _parse_time_sql(col: str, fmts: str | None) -> str:
    """Naive timestamps are shop time; ones with a UTC offset are converted to shop time."""
    naive = _naive_sql(col, fmts)
    if fmts == "naive":
        # ISO text and no value with a UTC offset in the column: one cast, no pattern matching.
        return naive
    return (f"case when regexp_matches({col}, '{_TIME_WITH_OFFSET}') "
            f"then timezone($tz, {instant_sql(col)}) else {naive} end")


def _whole(text: str) -> str:
    d = f"try_cast({text} as double)"
    return f"case when {d} = floor({d}) then try_cast({d} as bigint) end"


# Besides digits, a number may carry a sign, a currency symbol before or after it, a currency
# code where its column's values carry one (_codes), spaces (also non-breaking) and thousands
# separators in groups of three. Anything else makes it no number: a letter among the digits
# is a typo ("1O0", "12.5O"), and stripping it would read 10 or 12.50.
_SPACES = "[\\s\\x{00A0}\\x{2007}\\x{202F}]+"
_SYMBOL = "^([+-]?)\\s*\\p{Sc}\\s*|\\s*\\p{Sc}$"
_CODE = "^([+-]?)\\s*[A-Z]{3}\\s*|\\s*[A-Z]{3}$"
_CODED = "^[+-]?\\s*[A-Z]{3}\\s*[-+.,0-9]|[.,0-9]\\s*[A-Z]{3}$"


def _number_sql(col: str, type_: str, decimal_comma: bool, codes: bool = False) -> str:
    group, point = (".", ",") if decimal_comma else (",", ".")
    v = f"trim(regexp_replace({col}, '{_SPACES}', ' ', 'g'))"
    # Accounting writes a negative in brackets: (12.00) is -12.00, then read as any number.
    v = f"regexp_replace({v}, '^\\(\\s*(.*?)\\s*\\)$', '-\\1')"
    v = f"regexp_replace({v}, '{_SYMBOL}', '\\1', 'g')"
    if codes:
        v = f"regexp_replace({v}, '{_CODE}', '\\1', 'g')"
    # "1.2.3", "12-3" and, with decimal points, "12,50" (1,250 or 12.50?) stay invalid.
    # Quotes are doubled: the patterns are SQL strings.
    number = (f"^[+-]?(\\d+|\\d{{1,3}}(\\{group}\\d{{3}})+|\\d{{1,3}}([ ''’]\\d{{3}})+)"
              f"(\\{point}\\d*)?$|^[+-]?\\{point}\\d+$")
    digits = f"regexp_replace({v}, '[\\{group} ''’]', '', 'g')"
    if decimal_comma:
        digits = f"replace({digits}, ',', '.')"
    text = f"case when regexp_matches({v}, '{number}') then {digits} end"
    slow = _whole(text) if type_ == "BIGINT" else f"try_cast({text} as {type_})"
    if decimal_comma:
        return slow
    # Plain numbers (nearly every value of a large export) skip the rest.
    plain = f"regexp_full_match({col}, '-?[0-9]+(\\.[0-9]+)?')"
    fast = _whole(col) if type_ == "BIGINT" else f"try_cast({col} as {type_})"
    return f"case when {plain} then {fast} else {slow} end"


def _codes(con, raw: str, c: str) -> bool:
    """Whether the amounts of column ``c`` carry a currency code ("EUR 40"): most of its first
    thousand values do. Where the column holds plain numbers, a code on one value makes it
    no number, as a typo does."""
    n, coded = con.execute(
        f"select count(*), count(*) filter (where regexp_matches(v, '{_CODED}')) from "
        f"(select trim({c}) as v from {raw} where nullif(trim({c}), '') is not null "
        "limit 1000)").fetchall()[0]
    return coded * 2 > n


# A decimal mark: a point or comma followed by one or two digits that end the number (a
# currency may follow). Three digits are a thousands group (1,250), not decimals.
_POINT = "\\.\\d{1,2}[^0-9.,]*$"
_COMMA = ",\\d{1,2}[^0-9.,]*$"


def _decimal_comma(con, raw: str, cols: list[str]) -> tuple[bool, tuple[int, str, str] | None]:
    """Whether the file's numbers have a decimal comma (none has a decimal point and some a
    comma), and where it has decimal points, the first (row, column, value) with one."""
    if not cols:
        return False, None
    point = _first(con, raw, cols, _POINT)
    if point:
        return False, (point[0], cols[point[1]], point[2])
    return bool(_first(con, raw, cols, _COMMA)), None


def _first(con, raw: str, cols: list[str], pattern: str) -> tuple | None:
    """The first (row, index in ``cols``, value) matching ``pattern``."""
    # The first match ends the scan: a file with decimal points says so in its first row.
    found = con.execute(" union all ".join(
        f"(select _row, {i}, {c} from {raw} where regexp_matches({c}, '{pattern}') "
        f"order by _row limit 1)" for i, c in enumerate(cols))).fetchall()
    return min(found) if found else None


# One comma before three digits, and no other mark: 1,650 with a thousands comma or 1.65
# with a decimal comma (a price to the tenth of a cent, a weight).
_EITHER = "^[^0-9,.]*\\d{1,3},\\d{3}[^0-9.,]*$"


def decimal_mark(con, raw: RawInput, cols: list[str]
                 ) -> tuple[bool, tuple[int, str, str] | None, str | None]:
    """:func:`_decimal_comma` of ``raw``'s columns ``cols`` (c0…), with the file's header
    naming the decimal point's column, and where no amount tells the decimal mark but some
    read either way ("1,650" alone), how they are read, said: a decimal comma in a file
    separated by ';' (spreadsheets that save so write decimal commas), else a thousands
    comma (returned as the third value, a note for the upload's report)."""
    comma, point = _decimal_comma(con, raw.table, cols)
    if point:
        point = (point[0], raw.columns[int(point[1][1:])], point[2])
    if comma or point or not cols:
        return comma, point, None
    either = _first(con, raw.table, cols, _EITHER)
    if not either:
        return False, None, None
    row, i, value = either
    comma = raw.sep == ";"
    value = value.strip()
    column = raw.columns[int(cols[i][1:])]
    number = re.search(r"\d{1,3},\d{3}", value)[0]
    # 1.65 and 1650: the two readings, as plainly apart as they can be written.
    decimal, thousands = str(Decimal(number.replace(",", ".")).normalize()), \
        number.replace(",", "")
    if comma:
        return True, None, (
            f"{value!r} ({column}, row {row}) and numbers like it read as {decimal}, not "
            f"{thousands}: no amount has another decimal mark, and a file separated by ';' "
            "writes decimal commas. If thousands were meant, save the file with decimal "
            "points")
    return False, None, (
        f"{value!r} ({column}, row {row}) and numbers like it read as {thousands}, not "
        f"{decimal}: no amount in the file has a decimal mark that tells. If {decimal} was "
        "meant, save the file with decimal points")


def number_checks(type_: str, text: str, point: tuple[int, str, str] | None,
                  header: str) -> list[tuple[str, str]]:
    """The reasons of their own that the values ``text`` (SQL) of a number column ``header``
    are refused for where they do not read, before "not numbers": (reason, SQL condition).
    ``point`` is the file's first decimal point, as (row, column header, value)."""
    own = [(PERCENT, f"contains({text}, '%')")] if type_ == MONEY else []
    if point:
        row, column, value = point
        where = "" if column == header else f" in {column!r}"
        own.append((f"has a decimal comma where the file's amounts have a decimal point (row "
                    f"{row}: {value!r}{where}), so which is meant cannot be told: write every "
                    "amount with the same decimal mark.", f"regexp_matches({text}, '{_COMMA}')"))
    return own


def _normalised(spec: Table, c: str, hashed: bool = False) -> str:
    """Normalisation rules from the data contract, as SQL over the typed column `c`
    (``hashed``: the customer ids include e-mail addresses or phone numbers)."""
    if c == "customer_id" and hashed:
        return customer_id_sql(c)
    if c == "device":
        return "coalesce(nullif(lower(trim(device)), ''), 'unknown')"
    if c == "currency":
        return "upper(trim(currency))"
    if c == "status":
        return "status_canon"   # the orders' status map, joined (prepare)
    if c == "status_raw":
        return "coalesce(status_raw, status)"
    if c == "campaign":
        return "coalesce(campaign, '')"
    if spec.name == "order_items" and c == "line":
        return "coalesce(line, row_number() over (partition by order_id order by _row))"
    if spec.name == "refunds" and c == "refund_id":
        return ("coalesce(refund_id, order_id || '|' || strftime(refunded_at, '%Y-%m-%dT%H:%M:%S')"
                " || '|' || amount::varchar)")
    if spec.name == "orders" and c == "discounts":
        return "coalesce(discounts, 0)"
    return c


def prepare(con: duckdb.DuckDBPyConnection, raw: RawInput, tz: str = "UTC", *,
            table: str | None = None, mapping: dict[str, str] | None = None,
            allow_partial: bool = False, fmt: str | None = None, salt: str | None = None,
            statuses: dict[str, str] | None = None) -> Prepared:
    """Type and validate ``raw`` as a canonical table. ``salt`` hashes customer ids that are
    e-mail addresses or phone numbers; ``statuses`` maps raw statuses the dashboard does not
    know (the column-mapping editor's) to canonical ones."""
    try:
        spec, found = detect(raw, mapping, table)
    except IngestError:
        if raw.rows == 0:
            raise IngestError(raw.name, "the file has a header but no rows.") from None
        raise
    early = raw.rejected
    if raw.rows == 0:
        raise _combine(raw.name, early.rejections) if early else \
            IngestError(raw.name, "the file has a header but no rows.")
    src = raw.table
    header = lambda c: raw.columns[found[c]] if c in found else c  # noqa: E731
    money_cols = [f"c{found[c.name]}" for c in spec.columns
                  if c.name in found and c.type in (MONEY, "BIGINT")]
    decimal_comma, point, either = decimal_mark(con, raw, money_cols)
    notes = [either] if either else ["numbers use a decimal comma"] if decimal_comma else []
    nuls = {} if raw.nul_free else _nuls(con, src, found)
    notes += [f"{header(c)}: NUL characters removed from {plural(n, 'value')} "
              f"({'row' if n == 1 else 'rows'} {', '.join(map(str, rows))}"
              f"{', …' if n > len(rows) else ''})" for c, (n, rows) in nuls.items()]
    exprs, checks = [], []
    typed_sql: dict[str, str] = {}
    clock_fmts = None   # how the date column is written, when its times may carry an offset
    iso_dates = set()   # date columns read as ISO whose values are not all ISO
    for col in spec.columns:
        if col.name not in found:
            exprs.append(f"cast(null as {col.type}) as {col.name}")
            continue
        text = f"c{found[col.name]}"
        if col.name in nuls:
            text = f"replace({text}, chr(0), '')"
        x = f"nullif(trim({text}), '')"
        if col.type == "VARCHAR":
            sql = x
        elif col.type in ("DATE", "TIMESTAMP"):
            try:
                fmts, note = _date_format(con, src, f"c{found[col.name]}")
            except IngestError as e:
                raise IngestError(raw.name, str(e).removeprefix(": "),
                                  column=header(col.name)) from None
            if note:
                notes.append(f"{header(col.name)}: {note}")
            sql = _parse_time_sql(x, fmts)
            if fmts is None:
                iso_dates.add(col.name)
            if col.name == spec.date_column and col.type == "TIMESTAMP" and \
                    fmts not in ("naive", "%Y%m%d"):
                clock_fmts = fmts or ""
            if col.type == "DATE":
                sql = f"cast({sql} as date)"
        else:
            codes = col.type == MONEY and _codes(con, src, f"c{found[col.name]}")
            sql = _number_sql(x, col.type, decimal_comma, codes)
        typed_sql[col.name] = sql
        exprs.append(f"{sql} as {col.name}")
        checks.append((col, x))
    params = {"tz": tz}
    used = lambda q: {k: v for k, v in params.items() if f"${k}" in q}  # noqa: E731
    # The raw text of every typed column is kept beside its value (as _raw_<name>) so that
    # the checks below scan one table once, without re-parsing or joining.
    raws = [f"{x} as _raw_{col.name}" for col, x in checks if col.type != "VARCHAR"]
    typed = f"typed_{next(_counter)}"
    q = f"create temp table {typed} as select _row, {', '.join(exprs + raws)} from {src}"
    con.execute(q, used(q))

    # Every reason a row cannot be stored: (column header, reason, SQL condition, value shown).
    rules: list[tuple[str, str, str, str]] = []
    for col, x in checks:
        h = header(col.name)
        raw_text = col.name if col.type == "VARCHAR" else f"_raw_{col.name}"
        if col.type != "VARCHAR":
            kind = "dates" if col.type in ("DATE", "TIMESTAMP") else \
                "whole numbers" if col.type == "BIGINT" else "numbers"
            # Rows not read for a reason of their own are named for it, not as "not numbers".
            own = []
            if col.name in iso_dates:
                own.append((_DAY_MONTH_AMONG_ISO, f"regexp_matches({raw_text}, '{_DAY_MONTH}')"))
            if col.type in (MONEY, "BIGINT"):
                own += number_checks(col.type, raw_text, point, h)
            for reason, cond in own:
                rules.append((h, reason, f"{col.name} is null and {cond}", raw_text))
            rules.append((h, f"not {kind}",
                          f"{raw_text} is not null and {col.name} is null"
                          + "".join(f" and not ({cond})" for _r, cond in own), raw_text))
        if col.required and col.name not in raw.untracked:
            rules.append((h, "is required but empty.", f"{raw_text} is null", "null"))
    for c in NON_NEGATIVE.get(spec.name, ()):
        if c in found:
            rules.append((header(c), "cannot be negative.", f"{c} < 0", f"_raw_{c}"))
    status_join, unknown_statuses = "", []
    if spec.name == "orders":
        smap = f"smap_{next(_counter)}"
        wrong = sorted(v for v in (statuses or {}).values()
                       if str(v).strip().lower().replace(" ", "_") not in _SPELLINGS)
        if wrong:
            raise IngestError(raw.name, f"statuses can be mapped to {', '.join(STATUS_MAP)}, "
                              f"not {', '.join(repr(w) for w in wrong)}.")
        mapped = {"status_from": list(statuses), "status_to": list(statuses.values())} \
            if statuses else {}
        con.execute(f"create temp table {smap} as " + _STATUS_MAP_SQL.format(
            typed=typed, key=_USER_STATUS if mapped else "status_key"), mapped)
        status_join = f" left join {smap} on status_key is not distinct from status"
        rules.append((header("status"), "has statuses that mean nothing to the dashboard "
                      f"(known statuses: {', '.join(STATUS_MAP)}); map each to one of them in "
                      "the column mapping (Data page).",
                      "status is not null and status_canon is null", "status"))
        unknown_statuses = [r[0] for r in con.execute(
            f"select status_key from {smap} where status_key is not null and status_canon is null"
            " order by 1 limit 50").fetchall()]

    rejected = f"rejected_{next(_counter)}"
    # One scan: each row's broken rules as a list, unnested into (row, rule, value).
    if rules:
        flags = ", ".join(f"case when {cond} then {{'rule': {i}, 'value': "
                          f"cast({shown} as varchar)}} end"
                          for i, (_h, _r, cond, shown) in enumerate(rules))
        q = (f"create temp table {rejected} as select _row, b.rule, b.value from ("
             f"select _row, unnest(list_filter([{flags}], lambda x: x is not null)) as b "
             f"from {typed}{status_join})")
    else:
        q = f"create temp table {rejected} as select 0::bigint as _row, 0 as rule, " \
            "''::varchar as value limit 0"
    con.execute(q)
    rejections = (early.rejections if early else []) + \
        _summarise(con, rejected, [(h, r) for h, r, _c, _s in rules])

    out = f"prepared_{next(_counter)}"
    # One scan that stops at the first e-mail or phone number: a file of plain ids is not hashed.
    hashed = "customer_id" in found and bool(con.execute(
        f"select 1 from {typed} where {' or '.join(_personal_sql('customer_id'))} limit 1"
    ).fetchall())
    # A column the export does not record stays empty: no default stands in for it (UCI gives
    # no order status, so none is made up from the one its importer has to store).
    norm = ", ".join(
        f"{c.name if c.name in raw.untracked else _normalised(spec, c.name, hashed)} as {c.name}"
        for c in spec.columns if c.name != "channel")
    if hashed:
        if not salt:
            raise ValueError("customer ids that are e-mail addresses or phone numbers need the "
                             "store's salt")
        params["salt"] = salt
    lookup = ""
    if "channel" in spec.names:
        # Channel labels are few: map each distinct label once, then join.
        chmap = f"chmap_{next(_counter)}"
        con.execute(f"create temp table {chmap} as select raw, {label_sql('raw')} as channel "
                    f"from (select distinct channel as raw from {typed})")
        norm += ", m.channel as channel"
        lookup = f" left join {chmap} m on m.raw is not distinct from t.channel"
    q = (f"create temp table {out} as select _row, {norm} from {typed} t{lookup}"
         f"{status_join} where _row not in (select _row from {rejected})")
    con.execute(q, used(q))
    summed = _sum_finer_rows(con, spec, out, raw, [i for i in range(len(raw.columns))
                                                   if i not in found.values()])
    if summed:
        notes.append(f"rows by ad, ad set or audience summed by {' × '.join(spec.key)}: "
                     f"{summed[0]:,} → {plural(summed[1], 'row')}")
    dup = _duplicates(con, spec, out, rejected, len(rules))
    if dup:
        key_headers = ", ".join(header(k) for k in spec.key if k in found) or None
        appear = "appears" if dup[0] == 1 else "appear"
        rejections.append(Rejection(key_headers, f"{plural(dup[0], 'key')} {appear} more than "
                                    f"once (a row must be unique by {' + '.join(spec.key)}); "
                                    "remove the duplicates or export again.", dup[1], dup[2]))
        con.execute(f"delete from {out} where _row in (select _row from {rejected} "
                    f"where rule = {len(rules)})")
    if rejections and not allow_partial:
        err = _combine(raw.name, rejections)
        # A file read by its columns (not a platform's importer) can have its statuses mapped.
        if raw.origin is None and unknown_statuses:
            err.table, err.statuses = spec.name, unknown_statuses
            err.columns = {c: raw.columns[i] for c, i in found.items()}
        raise err
    currencies = _currencies(con, raw, spec, header, out)
    clock = None
    if clock_fmts is not None:
        # The rows kept only: "4 of 7 orders" are orders stored.
        text = f"_raw_{spec.date_column}"
        # The file's own clock: DuckDB's cast drops the offset (its strptime formats have none).
        q = clock_sql(typed, spec.date_column, _naive_sql(text, clock_fmts or None),
                      f"timezone('UTC', {instant_sql(text)})",
                      f"regexp_matches({text}, '{_TIME_WITH_OFFSET}')",
                      kept=f"_row in (select _row from {out})")
        clock = read_clock(con.execute(q, used(q)).fetchall())

    rows = con.execute(f"select count(*) from {out}").fetchall()[0][0]
    if rows == 0:
        raise _combine(raw.name, rejections) if rejections else \
            IngestError(raw.name, "the file has a header but no rows.")
    # An importer's columns are canonical already: say what in the file each was read from.
    mapping = {c: raw.columns[i] for c, i in found.items()} if raw.origin is None else \
        {c: raw.origin[c] for c in found if c in raw.origin}
    if hashed and raw.origin is None:
        mapping["customer_id"] += ", hashed"
    prepared = Prepared(raw.name, spec.name, out, rows, mapping,
                        # An importer's other columns are its own (ads' row details).
                        [] if raw.origin is not None else
                        [h for i, h in enumerate(raw.columns) if i not in found.values()],
                        notes=notes, rejections=rejections, fmt=fmt, currencies=currencies,
                        clock=clock)
    if rejections:
        reasons = [(h, _row_reason(r)) for h, r, *_ in rules] + \
            [(dup and rejections[-1].column, "duplicate key")]
        own = con.execute(f"select count(distinct _row) from {rejected}").fetchall()[0][0]
        prepared.rejected = own + (early.rows if early else 0)
        # The rows an importer left out are the file's, its table's rows have other columns:
        # each set under its own header (an aggregating importer's counts are not rejected).
        prepared.rejected_csv = "\n".join(
            ([early.csv] if early else []) +
            ([_rejected_csv(con, raw, rejected, reasons)] if own else []))
    if spec.date_column:
        first, last = con.execute(f"select min({spec.date_column})::date::varchar, "
                                  f"max({spec.date_column})::date::varchar from {out}"
                                  ).fetchall()[0]
        prepared.first, prepared.last = first, last
        prepared.months = [r[0] for r in con.execute(
            f"select distinct strftime({spec.date_column}, '%Y-%m') from {out} order by 1"
        ).fetchall()]
    unknown = [r[0] for r in con.execute(
        f"select distinct channel from {out} where channel is not null order by 1").fetchall()
        if r[0] not in KNOWN] if "channel" in spec.names else []
    if unknown:
        prepared.notes.append(f"channels outside the standard list: {', '.join(unknown[:8])}")
    return prepared


def reject_rows(con, raw: RawInput, rules: list[tuple[str | None, str, str, str]],
                allow_partial: bool, params: dict | None = None) -> tuple[str, Rejected | None]:
    """The rows of ``raw`` (a file as read) that an importer cannot use, by ``rules``: (the
    file's header or None, reason, SQL condition over the raw columns, SQL of the value
    shown). As :func:`prepare` rejects a row, the file is refused for them, or with
    ``allow_partial`` they are left out and reported with the importer's table
    (``emit(rejected=...)``). Returns the SQL condition that keeps the other rows;
    ``params``, the conditions' SQL parameters."""
    flags = ", ".join(f"case when {cond} then {{'rule': {i}, 'value': "
                      f"cast({shown} as varchar)}} end"
                      for i, (_h, _r, cond, shown) in enumerate(rules))
    table = f"rejected_{next(_counter)}"
    con.execute(f"create temp table {table} as select _row, b.rule, b.value from ("
                f"select _row, unnest(list_filter([{flags}], lambda x: x is not null)) as b "
                f"from {raw.table})", params or {})
    rejections = _summarise(con, table, [(h, r) for h, r, _c, _s in rules])
    if not rejections:
        return "true", None
    if not allow_partial:
        raise _combine(raw.name, rejections)
    rows = con.execute(f"select count(distinct _row) from {table}").fetchall()[0][0]
    csv_text = _rejected_csv(con, raw, table, [(h, _row_reason(r)) for h, r, _c, _s in rules])
    return f"_row not in (select _row from {table})", Rejected(rejections, rows, csv_text)


def malformed(raw: RawInput) -> Rejection:
    """The CSV lines of ``raw`` that do not split into its header's columns, as one
    rejection naming each row and the fields found there."""
    n, width = len(raw.malformed), len(raw.columns)
    does = "does" if n == 1 else "do"
    return Rejection(None, f"{plural(n, 'line')} {does} not split into the header's {width} "
                           "columns (a comma inside a value that is not in quotes?)", n,
                     [(line, _cut(f"{plural(len(fields), 'field')}: {' | '.join(fields)}"))
                      for line, fields in raw.malformed[:5]])


def _cut(text: str, n: int = 240) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def malformed_csv(raw: RawInput, csv_text: str | None) -> str:
    """``csv_text`` (the rejected rows, see _rejected_csv) with ``raw``'s malformed lines
    added, each with the fields found."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC)
    if not csv_text:
        w.writerow(map(safe_text, ["row", "reason", *raw.columns]))
    for line, fields in raw.malformed[:MAX_REJECTED_CSV]:
        w.writerow([line, f"{plural(len(fields), 'field')} where the header has "
                          f"{len(raw.columns)}", *map(safe_text, fields)])
    return (csv_text or "") + buf.getvalue()


def _summarise(con, rejected: str, rules: list[tuple[str, str]]) -> list[Rejection]:
    out = []
    for rule, n in con.execute(f"select rule, count(*) from {rejected} group by rule "
                               "order by rule").fetchall():
        ex = con.execute(f"select _row, value from {rejected} where rule = $r order by _row "
                         "limit 5", {"r": rule}).fetchall()
        h, reason = rules[rule]
        if reason in _NOT:
            reason = f"1 value is not {_NOT[reason]}." if n == 1 else \
                f"{n:,} values are {reason}."
        elif reason == PERCENT:
            more = "" if n == 1 else f", and so {'is' if n == 2 else 'are'} " \
                f"{plural(n - 1, 'more value')}"
            reason = f"{ex[0][1]} {reason[:-1]}{more}."
        out.append(Rejection(h, reason, n, [(r, None if v == "null" else v) for r, v in ex]))
    return out


def spread_over_month(con, p: Prepared) -> None:
    """A month's ad spend without days (rows dated on the month's first day) spread evenly
    over the month's days, amounts to the cent and counts in whole units that add up to the
    month's: ROAS, MER and CPC by month stay exact, and a daily chart shows the month's
    average each day, not every euro on the 1st."""
    spec = TABLES[p.table]

    def share(col: str, scale: int) -> str:
        # Day k of n gets floor((k + 1)·x / n) − floor(k·x / n), x in cents (or units).
        x = f"round({col} * {scale})::hugeint"
        return f"cast((((k + 1) * {x}) // n - (k * {x}) // n) / {scale} as {spec.column(col).type})"

    cols = ", ".join(c if c in spec.key and c != "date" else
                     "(date + k::int) as date" if c == "date" else
                     f"{share(c, 100 if spec.column(c).type.startswith('DECIMAL') else 1)} as {c}"
                     for c in spec.names)
    out = f"spread_{next(_counter)}"
    con.execute(f"""create temp table {out} as
        select _row, {cols} from (
            select *, unnest(range(n)) as k from (
                select *, date_diff('day', date, (date + interval 1 month)::date) as n
                from {p.relation}))""")
    p.relation = out
    p.rows, p.first, p.last = con.execute(
        f"select count(*), min(date)::varchar, max(date)::varchar from {out}").fetchall()[0]
    p.notes.append(f"no days in the file: the month's spend is spread evenly over its "
                   f"{int(p.last[-2:])} days")


def _sum_finer_rows(con, spec: Table, rel: str, raw: RawInput, others: list[int]):
    """Ad spend reported by ad (or ad set, age band…) is the sum of its rows: rows of one key
    that differ in a column outside the table (``others``, the file's column indexes) are
    summed into one. Rows that differ in nothing else stay duplicates (``_duplicates``): the
    file does not say which is right. Returns (rows, rows after) when any were summed."""
    if spec.name not in SUMMED or not others:
        return None
    keys = ", ".join(spec.key)
    detail = "[" + ", ".join(f"r.c{i}" for i in others) + "]"
    parts = f"parts_{next(_counter)}"
    con.execute(f"create temp table {parts} as select {keys} from {rel} join {raw.table} r "
                f"using (_row) group by all "
                f"having count(*) > 1 and count(distinct {detail}) = count(*)")
    if not con.execute(f"select count(*) from {parts}").fetchall()[0][0]:
        return None
    sums = ", ".join(f"sum({c}) as {c}" for c in spec.names if c not in spec.key)
    con.execute(f"create temp table {parts}_sum as select min(_row) as _row, {keys}, {sums} "
                f"from {rel} semi join {parts} using ({keys}) group by all")
    before = con.execute(f"select count(*) from {rel}").fetchall()[0][0]
    con.execute(f"delete from {rel} where _row in (select _row from {rel} semi join {parts} "
                f"using ({keys}))")
    con.execute(f"insert into {rel} by name select * from {parts}_sum")
    return before, con.execute(f"select count(*) from {rel}").fetchall()[0][0]


def _duplicates(con, spec: Table, rel: str, rejected: str, rule: int):
    """Reject every row of a key that appears twice: the file does not say which is right."""
    keys = ", ".join(spec.key)
    dup = con.execute(
        f"select min(_row), max(_row), concat_ws(' / ', {keys}) as k, count(*) from {rel} "
        f"group by {keys} having count(*) > 1 order by 1 limit 5").fetchall()
    if not dup:
        return None
    n_keys = con.execute(f"select count(*) from (select {keys} from {rel} group by {keys} "
                         "having count(*) > 1)").fetchall()[0][0]
    con.execute(f"insert into {rejected} select _row, {rule}, concat_ws(' / ', {keys}) from "
                f"(select *, count(*) over (partition by {keys}) as n from {rel}) where n > 1")
    n_rows = con.execute(f"select count(*) from {rejected} where rule = {rule}").fetchall()[0][0]
    return n_keys, n_rows, [(r[0], f"{r[2]} (also row {r[1]})") for r in dup]


def _currencies(con, raw: RawInput, spec: Table, header, rel: str) -> list[str]:
    """The currencies the file's amounts are in: its currency column, else what its format
    implies (an importer says so), else none known."""
    if "currency" not in spec.names:
        return list(raw.currencies or [])
    currencies = [r[0] for r in con.execute(
        f"select distinct currency from {rel} where currency is not null order by 1"
    ).fetchall()]
    if len(currencies) > 1:
        raise IngestError(raw.name, f"orders are in several currencies ({', '.join(currencies)})"
                          " and no exchange-rate table is loaded; export one currency per "
                          "file or convert the amounts first.", header("currency"))
    return currencies or list(raw.currencies or [])


# A percentage where an amount is expected: said with the value ("12% is a percentage, …").
PERCENT = "is a percentage, not an amount."

# A type rule's reason ("not dates") said of one value.
_NOT = {"not dates": "a date", "not whole numbers": "a whole number", "not numbers": "a number"}


def _row_reason(reason: str) -> str:
    """A rule's reason said of one row: "not dates" → "not a date"."""
    return f"not {_NOT[reason]}" if reason in _NOT else reason.rstrip(".")


def _rejected_csv(con, raw: RawInput, rejected: str, rules) -> str:
    """The rejected rows as the user sent them, with the row number and every reason."""
    cols = ", ".join(f"r.c{i}" for i in range(len(raw.columns)))
    rows = con.execute(
        f"select x._row, list(distinct x.rule order by x.rule), {cols} from {rejected} x "
        f"join {raw.table} r using (_row) group by all order by x._row "
        f"limit {MAX_REJECTED_CSV}").fetchall()
    buf = io.StringIO()
    # Opened in a spreadsheet to be fixed: its cells must not run (kpilib.export).
    w = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC)
    w.writerow(map(safe_text, ["row", "reason", *raw.columns]))
    for row, rule_ids, *values in rows:
        reasons = "; ".join(f"{rules[i][0]}: {rules[i][1]}" if rules[i][0] else rules[i][1]
                            for i in rule_ids)
        w.writerow([row, safe_text(reasons), *map(safe_text, values)])
    return buf.getvalue()


def _combine(name: str, rejections: list[Rejection]) -> IngestError:
    errors = [IngestError(name, r.reason, r.column, r.examples) for r in rejections]
    if len(errors) == 1:
        return errors[0]
    err = IngestError(name, " ".join(str(e).removeprefix(f"{name}: ") for e in errors))
    err.column, err.examples = errors[0].column, errors[0].examples
    return err
