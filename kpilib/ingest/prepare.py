"""Recognise which canonical table a file holds, type its values and validate them.

Column headers from files never enter SQL: the raw table's columns are c0, c1, … (see
readers.py) and only canonical names (code constants) are written into queries.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import duckdb

from ..schema import MONEY, NON_NEGATIVE, TABLES, Table
from .errors import IngestError
from .readers import RawInput

_counter = itertools.count()

STATUS_MAP = {
    "placed": ("placed", "pending", "new", "open", "on-hold", "on_hold", "unpaid",
               "pending_payment", "awaiting_payment"),
    "paid": ("paid", "authorized", "processing", "approved", "invoiced"),
    "fulfilled": ("fulfilled", "complete", "completed", "unshipped"),
    "shipped": ("shipped", "in_transit", "partially_shipped"),
    "delivered": ("delivered",),
    "cancelled": ("cancelled", "canceled", "voided", "failed", "unavailable", "expired"),
    "refunded": ("refunded",),
    "partially_refunded": ("partially_refunded",),
}
_STATUS_CASE = "case " + " ".join(
    f"when s in ({', '.join(repr(v) for v in raws)}) then '{canon}'"
    for canon, raws in STATUS_MAP.items()) + " end"

_TIME_WITH_OFFSET = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([+-]\d{2}:?\d{2}|Z)$"


def norm_header(name: str) -> str:
    name = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", name).strip("_")


@dataclass
class Prepared:
    name: str
    table: str           # canonical table name
    relation: str        # DuckDB temp table with the canonical columns, typed and normalised
    rows: int
    mapping: dict[str, str]   # canonical column -> header in the file
    ignored: list[str]
    first: str | None = None  # first and last date, ISO
    last: str | None = None
    months: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def detect(raw: RawInput) -> tuple[Table, dict[str, int]]:
    """The canonical table the header matches, and canonical column -> index in the file."""
    headers = [norm_header(h) for h in raw.columns]
    best, best_score, tie = None, None, False
    closest = None
    for spec in TABLES.values():
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
            closest = ((len(found), -len(missing)), spec, missing)
    if best is None:
        msg = "could not tell which table this file holds. "
        if closest and closest[0][0] > 0:
            _, spec, missing = closest
            msg += (f"It looks closest to '{spec.name}' but has no column "
                    f"{', '.join(repr(m) for m in missing)}. ")
        msg += (f"Columns found: {', '.join(repr(c) for c in raw.columns[:20])}. Download a "
                "template from the Data page to see the expected columns.")
        raise IngestError(raw.name, msg)
    if tie:
        raise IngestError(raw.name, "the columns match more than one table; rename the columns "
                                    "to the template's names.")
    return best


def _date_format(con, raw: str, col: str) -> tuple[str | None, str | None]:
    """Pick how a date column is written: ISO, YYYYMMDD, or day/month vs month/day.

    Returns (strptime formats or None for ISO, a note for the report). Refuses a column that
    mixes day-first and month-first dates: no single reading of it can be right."""
    q = (f"select count(*) filter (where try_cast({col} as timestamp) is null "
         f"  and not regexp_matches({col}, '{_TIME_WITH_OFFSET}')),"
         f" count(*) filter (where regexp_matches({col}, '^\\d{{8}}$')),"
         f" count(*) filter (where regexp_matches({col}, '^\\d{{1,2}}[/.-]\\d{{1,2}}[/.-]\\d{{2,4}}')),"
         f" count(*) filter (where try_cast(regexp_extract({col}, '^(\\d{{1,2}})[/.-]', 1) as int) > 12),"
         f" count(*) filter (where try_cast(regexp_extract({col}, '^\\d{{1,2}}[/.-](\\d{{1,2}})[/.-]', 1) as int) > 12)"
         f" from {raw} where nullif(trim({col}), '') is not null")
    not_iso, ymd, dmy, first_gt12, second_gt12 = con.execute(q).fetchall()[0]
    if not_iso == 0:
        return None, None
    if ymd == not_iso:
        return "%Y%m%d", None
    if dmy:
        if first_gt12 and second_gt12:
            raise IngestError("", "mixes day/month and month/day dates (some rows have a day "
                                  "above 12 first, others second), so no single reading is "
                                  "right. Export the file again with ISO dates (YYYY-MM-DD).")
        order = ("%m", "%d") if second_gt12 else ("%d", "%m")
        note = None
        if not first_gt12 and not second_gt12:
            note = "dates like 03/04 were read as day/month (no day above 12 tells otherwise)"
        fmts = []
        for year in ("%Y", "%y"):
            d = f"{order[0]}/{order[1]}/{year}"
            fmts += [d + " %H:%M:%S", d + " %H:%M", d]
        return "|".join(fmts), note
    return None, None


def _parse_time_sql(col: str, fmts: str | None) -> str:
    """Naive timestamps are shop time; ones with a UTC offset are converted to shop time."""
    if fmts == "%Y%m%d":
        naive = f"try_strptime({col}, '%Y%m%d')"
    elif fmts:
        fl = ", ".join(f"'{f}'" for f in fmts.split("|"))
        naive = f"try_strptime(regexp_replace({col}, '[.-]', '/', 'g'), [{fl}])"
    else:
        naive = f"try_cast({col} as timestamp)"
    aware = (f"timezone($tz, try_cast(regexp_replace({col}, '\\s*([+-]\\d{{2}}):?(\\d{{2}})$', "
             f"'\\1:\\2') as timestamptz))")
    return f"case when regexp_matches({col}, '{_TIME_WITH_OFFSET}') then {aware} else {naive} end"


def _number_sql(col: str, type_: str, decimal_comma: bool) -> str:
    # Currency symbols, spaces (also non-breaking) and apostrophes go; what is left must parse.
    s = f"regexp_replace({col}, '[^0-9,.\\-]', '', 'g')"
    s = f"replace(replace({s}, '.', ''), ',', '.')" if decimal_comma else f"replace({s}, ',', '')"
    if type_ == "BIGINT":
        d = f"try_cast(nullif({s}, '') as double)"
        return f"case when {d} = floor({d}) then {d}::bigint end"
    return f"try_cast(nullif({s}, '') as {type_})"


def _decimal_comma(con, raw: str, cols: list[str]) -> bool:
    if not cols:
        return False
    comma = " + ".join(f"count(*) filter (where regexp_matches({c}, ',\\d{{1,2}}$'))" for c in cols)
    dot = " + ".join(f"count(*) filter (where regexp_matches({c}, '\\.\\d{{1,2}}$'))" for c in cols)
    n_comma, n_dot = con.execute(f"select {comma}, {dot} from {raw}").fetchall()[0]
    return n_comma > 0 and n_dot == 0


def _normalised(spec: Table, c: str) -> str:
    """Normalisation rules from the data contract, as SQL over the typed column `c`."""
    if c == "channel":
        return ("coalesce(nullif(regexp_replace(lower(trim(channel)), '\\s+', '_', 'g'), ''), "
                "'unknown')")
    if c == "device":
        return "coalesce(nullif(lower(trim(device)), ''), 'unknown')"
    if c == "currency":
        return "upper(trim(currency))"
    if c == "status":
        return _STATUS_CASE.replace(" s ", " lower(replace(trim(status), ' ', '_')) ")
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


def prepare(con: duckdb.DuckDBPyConnection, raw: RawInput, tz: str = "UTC") -> Prepared:
    spec, found = detect(raw)
    src = raw.table
    money_cols = [f"c{found[c.name]}" for c in spec.columns
                  if c.name in found and c.type in (MONEY, "BIGINT")]
    decimal_comma = _decimal_comma(con, src, money_cols)
    notes = ["numbers use a decimal comma"] if decimal_comma else []
    exprs, checks = [], []
    for col in spec.columns:
        if col.name not in found:
            exprs.append(f"cast(null as {col.type}) as {col.name}")
            continue
        x = f"nullif(trim(c{found[col.name]}), '')"
        if col.type == "VARCHAR":
            sql = x
        elif col.type in ("DATE", "TIMESTAMP"):
            try:
                fmts, note = _date_format(con, src, f"c{found[col.name]}")
            except IngestError as e:
                raise IngestError(raw.name, str(e).removeprefix(": "),
                                  column=raw.columns[found[col.name]]) from None
            if note:
                notes.append(f"{raw.columns[found[col.name]]}: {note}")
            sql = _parse_time_sql(x, fmts)
            if col.type == "DATE":
                sql = f"cast({sql} as date)"
        else:
            sql = _number_sql(x, col.type, decimal_comma)
        exprs.append(f"{sql} as {col.name}")
        checks.append((col, x))
    typed = f"typed_{next(_counter)}"
    params = {"tz": tz}
    used = lambda q: {k: v for k, v in params.items() if f"${k}" in q}  # noqa: E731
    q = f"create temp table {typed} as select _row, {', '.join(exprs)} from {src}"
    con.execute(q, used(q))

    problems = []
    for col, x in checks:
        header = raw.columns[found[col.name]]
        if col.type != "VARCHAR":
            bad = con.execute(
                f"select r._row, {x} from {src} r join {typed} t using (_row) "
                f"where {x} is not null and t.{col.name} is null order by r._row limit 5"
            ).fetchall()
            if bad:
                n = con.execute(f"select count(*) from {src} r join {typed} t using (_row) "
                                f"where {x} is not null and t.{col.name} is null").fetchall()[0][0]
                kind = {"DATE": "dates", "TIMESTAMP": "dates"}.get(col.type, "numbers")
                problems.append(IngestError(raw.name, f"{n} value(s) are not {kind}.",
                                            header, bad))
                continue
        if col.required:
            bad = con.execute(f"select _row, null from {typed} where {col.name} is null "
                              "order by _row limit 5").fetchall()
            if bad:
                problems.append(IngestError(raw.name, "is required but empty.", header, bad))
    if problems:
        raise _combine(raw.name, problems)

    out = f"prepared_{next(_counter)}"
    norm = ", ".join(f"{_normalised(spec, c.name)} as {c.name}" for c in spec.columns)
    con.execute(f"create temp table {out} as select _row, {norm} from {typed}")
    _validate(con, raw, spec, found, out)

    rows = con.execute(f"select count(*) from {out}").fetchall()[0][0]
    prepared = Prepared(raw.name, spec.name, out, rows,
                        {c: raw.columns[i] for c, i in found.items()},
                        [h for i, h in enumerate(raw.columns) if i not in found.values()],
                        notes=notes)
    if spec.date_column:
        first, last = con.execute(f"select min({spec.date_column})::date::varchar, "
                                  f"max({spec.date_column})::date::varchar from {out}").fetchall()[0]
        prepared.first, prepared.last = first, last
        prepared.months = [r[0] for r in con.execute(
            f"select distinct strftime({spec.date_column}, '%Y-%m') from {out} order by 1"
        ).fetchall()]
    return prepared


def _validate(con, raw: RawInput, spec: Table, found: dict[str, int], rel: str) -> None:
    header = lambda c: raw.columns[found[c]] if c in found else c  # noqa: E731
    if spec.name == "orders":
        bad = con.execute(f"select _row, status_raw from {rel} where status is null "
                          "order by _row limit 5").fetchall()
        if bad:
            raise IngestError(raw.name, "has statuses that mean nothing to the dashboard. "
                              f"Known statuses: {', '.join(STATUS_MAP)}.", header("status"), bad)
        currencies = [r[0] for r in con.execute(
            f"select distinct currency from {rel} where currency is not null order by 1"
        ).fetchall()]
        if len(currencies) > 1:
            raise IngestError(raw.name, f"orders are in several currencies ({', '.join(currencies)})"
                              " and no exchange-rate table is loaded; export one currency per "
                              "file or convert the amounts first.", header("currency"))
    for c in NON_NEGATIVE.get(spec.name, ()):
        bad = con.execute(f"select _row, {c} from {rel} where {c} < 0 order by _row limit 5"
                          ).fetchall()
        if bad:
            raise IngestError(raw.name, "cannot be negative.", header(c), bad)
    keys = ", ".join(spec.key)
    dup = con.execute(
        f"select min(_row), max(_row), concat_ws(' / ', {keys}) as k, count(*) from {rel} "
        f"group by {keys} having count(*) > 1 order by 1 limit 5").fetchall()
    if dup:
        n = con.execute(f"select count(*) from (select {keys} from {rel} group by {keys} "
                        "having count(*) > 1)").fetchall()[0][0]
        raise IngestError(
            raw.name, f"{n} key(s) appear more than once (a row must be unique by "
            f"{' + '.join(spec.key)}); remove the duplicates or export again.",
            ", ".join(header(k) for k in spec.key if k in found),
            [(r[0], f"{r[2]} (also row {r[1]})") for r in dup])


def _combine(name: str, problems: list[IngestError]) -> IngestError:
    if len(problems) == 1:
        return problems[0]
    err = IngestError(name, " ".join(str(p).removeprefix(f"{name}: ") for p in problems))
    err.column = problems[0].column
    err.examples = problems[0].examples
    return err
