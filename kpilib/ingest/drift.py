"""Drift between months: how an upload's months differ in shape from the stored month before
them (a column the earlier exports had and this one lacks, a column suddenly empty much more
often, channels that appear or vanish) and how much a restated month moves the totals already
stored. Warnings only: they never refuse a file. Each uploaded month reads one stored month
(the one before it) and, when it restates stored rows, itself: the cost follows the upload, not
the history.
"""
from __future__ import annotations

from decimal import Decimal

from ..formatting import plural
from ..schema import TABLES
from ..store import MEASURES, Store

# Columns whose filling is compared month to month. Keys and dates are always there; shipped
# and delivered dates fill in as orders ship, so a recent month always has fewer of them.
COLUMNS = {
    "orders": ("customer_id", "channel", "currency", "discounts", "shipping", "tax", "device",
               "country"),
    "order_items": ("product_name", "category"),
    "refunds": ("sku", "quantity", "reason"),
    "traffic": ("channel", "device", "users", "new_users"),
    "marketing_spend": ("channel", "campaign", "impressions", "clicks"),
}
# What an empty value is stored as where ingest fills a default (prepare._normalised), and how
# a sentence names it.
EMPTY = {"channel": ("channel = 'unknown'", "'unknown'"),
         "device": ("device = 'unknown'", "'unknown'"),
         "campaign": ("campaign = ''", "empty"),
         "discounts": ("discounts = 0", "0")}
# A column whose share of empty values grows by this much (20 percentage points) is said.
JUMP = 0.2
# A channel with less than this share of a month's rows comes and goes: not a change of the
# channel list.
CHANNEL_SHARE = 0.01
# A restated month whose stored total moves by more than this is said.
RESTATED = Decimal("0.01")


def warnings(con, store: Store, staged: dict[str, str]) -> list[str]:
    """The drift of each staged table's months against the stored ones (``staged``: table →
    the relation about to be written, canonical columns)."""
    out = []
    for table, rel in staged.items():
        spec = TABLES[table]
        if spec.date_column is None:
            continue
        stored = store.months(table)
        month_of = f"strftime({spec.date_column}, '%Y-%m')"
        months = [r[0] for r in con.execute(
            f"select distinct {month_of} from {rel} order by 1").fetchall()]
        for month in months:
            before = max((m for m in stored if m < month), default=None)
            if before is None and month not in stored:
                continue
            # The month's rows, read in place ($m is the month): never copied.
            upload = f"(select * from {rel} where {month_of} = $m)"
            if before is not None:
                _stored(con, "_drift_before", store, table, before)
                out += _shape(con, table, month, upload, before)
            if month in stored and table in MEASURES:
                _stored(con, "_drift_month", store, table, month)
                out += _restated(con, table, month, upload)
    return out


def _ask(con, sql: str, month: str) -> list[tuple]:
    return con.execute(sql, {"m": month} if "$m" in sql else None).fetchall()


def _stored(con, view: str, store: Store, table: str, month: str) -> None:
    con.read_parquet([str(f) for f in store.files(table, months={month})]) \
        .create_view(view, replace=True)


def _shape(con, table: str, month: str, upload: str, before: str) -> list[str]:
    """Columns and channels of the upload's ``month`` (the query ``upload``) against the
    stored month ``before`` (_drift_before)."""
    cols = COLUMNS.get(table, ())
    empty = [f"count(*) filter (where {c} is null"
             f"{' or ' + EMPTY[c][0] if c in EMPTY else ''})" for c in cols]

    def shares(rel: str) -> list[float]:
        n, *counts = _ask(con, f"select count(*), {', '.join(empty)} from {rel}", month)[0]
        return [e / n for e in counts] if n else []

    now, then = shares(upload), shares("_drift_before")
    out = []
    for c, e_now, e_then in zip(cols, now, then):
        what = EMPTY.get(c, (None, "empty"))[1]
        if e_now == 1 and e_then < 1:
            out.append(f"{table} {month} has no {c} (the column is missing or {what} on every "
                       f"row), where {before} had it on {_pct(1 - e_then)} of rows")
        elif e_now - e_then >= JUMP:
            out.append(f"{table} {month}: {c} is {what} on {_pct(e_now)} of rows, against "
                       f"{_pct(e_then)} in {before}")
    if "channel" in TABLES[table].names:
        out += _channels(con, table, month, upload, before)
    return out


def _channels(con, table: str, month: str, upload: str, before: str) -> list[str]:
    def listed(rel: str) -> set[str]:
        return {r[0] for r in _ask(
            con, f"select channel from {rel} where channel <> 'unknown' group by channel "
                 f"having count(*) >= {CHANNEL_SHARE} * (select count(*) from {rel})", month)}

    def seen(rel: str) -> set[str]:
        return {r[0] for r in _ask(con, f"select distinct channel from {rel}", month)}

    new = sorted(listed(upload) - seen("_drift_before"))
    gone = sorted(listed("_drift_before") - seen(upload))
    parts = ([f"new channel{'s' * (len(new) > 1)} {', '.join(new)}"] if new else []) + \
        ([f"no {', '.join(gone)} any more"] if gone else [])
    if not parts:
        return []
    return [f"{table} {month}: {'; '.join(parts)} (against {before}); a changed channel "
            "mapping or UTM tagging would read as one channel ending and another starting"]


def _restated(con, table: str, month: str, upload: str) -> list[str]:
    """How much the upload's rows that replace stored rows of ``month`` (same key; the query
    ``upload``) move the month's stored total (_drift_month)."""
    label, measure = MEASURES[table]
    keys = ", ".join(TABLES[table].key)
    total, n, old = _ask(con, f"select (select {measure} from _drift_month), count(*), "
                              f"{measure} from _drift_month semi join {upload} u using ({keys})",
                         month)[0]
    if not n:
        return []
    new = _ask(con, f"select {measure} from {upload} u semi join _drift_month using ({keys})",
               month)[0][0]
    # Exact: money is DECIMAL, and a change of exactly 1 % is not more than 1 %.
    total, delta = Decimal(str(total or 0)), Decimal(str(new or 0)) - Decimal(str(old or 0))
    if not total or abs(delta) <= RESTATED * abs(total):
        return []
    return [f"{table} {month} restated: the upload replaces {plural(n, 'stored row')} and "
            f"changes the month's {label} by {delta:+,.2f} "
            f"({_pct(float(delta / total), '+.1%')} of {total:,.2f})"]


def _pct(x: float, spec: str = ".0%") -> str:
    return format(x, spec).replace("%", " %")
