"""Platform exports → canonical tables. Each importer is a small module that recognises its
platform from the header and rewrites the file, in SQL, into text tables with canonical column
names; typing and validation then happen as for any canonical file (prepare.py).

Single-file importers expose ``match(headers)`` and ``convert(con, raw, ctx)``; group importers
(Olist's related CSVs) expose ``match_group(raws)`` and ``convert_group(con, raws, ctx)``.
``convert`` returns ``[(table, RawInput)]``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ...schema import MONEY
from ..prepare import (Rejected, _codes, _number_sql, decimal_mark, norm_header,
                       number_checks, reject_rows)
from ..readers import RawInput

_counter = itertools.count()


@dataclass
class Context:
    salt: str
    spend_channel: str | None = None   # channel of an ad-spend export that has none
    tz: str = "UTC"                    # shop timezone, for importers that roll up by day
    snapshot_date: str | None = None   # date of a stock snapshot file that has none
    allow_partial: bool = False        # rows an importer cannot use are left out, not refused
    # Settings' channel mapping (label → channel), for exports that name a channel by a label
    # of their own (a Shopify app id).
    channel_map: dict[str, str] = field(default_factory=dict)
    spend_month: str | None = None     # month (YYYY-MM) of an ad report that has no dates
    notes: list[str] = field(default_factory=list)
    # Tables (by name) whose rows are a month's totals dated on its first day, to be spread
    # over the month's days once validated.
    monthly: set[str] = field(default_factory=set)


class Columns:
    """Raw column references (c0, c1, …) by normalised header, for writing importer SQL."""

    def __init__(self, raw: RawInput):
        self.raw = raw
        self.index = {norm_header(h): i for i, h in reversed(list(enumerate(raw.columns)))}

    def has(self, *names: str) -> bool:
        return all(n in self.index for n in names)

    def __getitem__(self, name: str) -> str:
        """The trimmed text of a column, NULL when empty; a missing column is NULL."""
        if name not in self.index:
            return "cast(null as varchar)"
        return f"nullif(trim(c{self.index[name]}), '')"

    def first(self, *names: str) -> str:
        return next((self[n] for n in names if n in self.index), "cast(null as varchar)")

    def name(self, *names: str) -> str | None:
        """The file's own header of the first of ``names`` it has; None when it has none."""
        return next((self.raw.columns[self.index[n]] for n in names if n in self.index), None)


def read_numbers(con, raw: RawInput, c: Columns, types: dict[str, str], allow_partial: bool,
                 notes: list[str] | None = None) -> tuple[dict[str, str], str, Rejected | None]:
    """The export's number columns (normalised header → MONEY or BIGINT) read as a file's own
    columns are (prepare): one decimal mark for them all, told from their values (1,65 and
    "1.234,56" whatever the separator), thousands separators, currency symbols. Returns each
    column's SQL value (NULL when empty), the condition keeping the rows whose values all
    read, and the rows left out for one that does not (:func:`reject_rows`, which refuses
    the file unless ``allow_partial``): refused by the export's header and value, before an
    importer derives an empty total from them. How numbers that read either way ("1,650"
    alone) were read is added to ``notes`` (the importer's Context.notes)."""
    types = {n: t for n, t in types.items() if n in c.index}
    comma, point, either = decimal_mark(con, raw, [f"c{c.index[n]}" for n in types])
    if either and notes is not None:
        notes.append(f"{raw.name}: {either}")
    values, rules = {}, []
    for n, t in types.items():
        text, header = c[n], c.name(n)
        codes = t == MONEY and _codes(con, raw.table, f"c{c.index[n]}")
        values[n] = value = _number_sql(text, t, comma, codes)
        own = number_checks(t, text, point, header)
        rules += [(header, reason, f"{value} is null and {cond}", text) for reason, cond in own]
        kind = "whole numbers" if t == "BIGINT" else "numbers"
        rules.append((header, f"not {kind}", f"{text} is not null and {value} is null"
                      + "".join(f" and not ({cond})" for _r, cond in own), text))
    # Nearly every export reads whole: one plain scan tells, before the rules are run row by row.
    unread = " or ".join(f"({c[n]} is not null and {v} is null)" for n, v in values.items())
    if not values or not con.execute(f"select 1 from {raw.table} where {unread} limit 1"
                                     ).fetchall():
        return values, "true", None
    keep, rejected = reject_rows(con, raw, rules, allow_partial)
    return values, keep, rejected


def said(text: str, *headers: str | None) -> str | None:
    """``text`` with the file's headers in its {} places; None when one of them is missing."""
    return None if None in headers else text.format(*headers)


def emit(con, name: str, select: str, columns: list[str], params: dict | None = None,
         source: str | None = None, origin: dict[str, str | None] | None = None,
         currencies: list[str] | None = None, rejected: Rejected | None = None) -> RawInput:
    """A text table with canonical column names (as c0…cn plus _row) from ``select``, whose
    output columns must be named after ``columns`` and include _row.

    ``origin`` says what in the file each column was read from (see RawInput.origin; None
    values are dropped); ``currencies``, what the format implies the amounts are in;
    ``rejected``, the file's rows left out (prepare.reject_rows)."""
    table = f"imp_{next(_counter)}"
    cols = ", ".join(f"cast({c} as varchar) as c{i}" for i, c in enumerate(columns))
    con.execute(f"create temp table {table} as select {cols}, _row from ({select})",
                params or {})
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return RawInput(name if source is None else f"{name} ({source})", table, list(columns), rows,
                    {c: o for c, o in (origin or {}).items() if o}, currencies,
                    rejected=rejected)


def registry():
    from . import ads, ga4, online_retail, sessions, shopify, snapshot
    return [shopify.ORDERS, shopify.PRODUCTS, online_retail.IMPORTER, ads.GOOGLE, ads.META,
            ads.UNDATED, ga4.IMPORTER, sessions.EVENTS, sessions.SESSIONS, snapshot.IMPORTER]


def groups():
    from . import olist
    return [olist.IMPORTER]
