"""Date-range presets and the span of the stored data."""
from __future__ import annotations

from datetime import date, timedelta

import duckdb

PRESETS = ("Last 7 days", "Last 30 days", "Last 90 days", "Month to date", "Last month",
           "Year to date", "Custom")


def preset_range(preset: str, anchor: date) -> tuple[date, date]:
    """The range a preset means when the latest day with data is ``anchor``.

    Presets end at the latest day with data, not at today: a shop loading monthly exports
    would otherwise look at empty days after its last export.
    """
    if preset.startswith("Last ") and preset.endswith(" days"):
        n = int(preset.split()[1])
        return anchor - timedelta(days=n - 1), anchor
    if preset == "Month to date":
        return anchor.replace(day=1), anchor
    if preset == "Last month":
        # The last whole month of the data: a monthly export ends on the 30th of November,
        # and its last month is November, not October.
        end = anchor if (anchor + timedelta(days=1)).day == 1 else \
            anchor.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "Year to date":
        return anchor.replace(month=1, day=1), anchor
    raise ValueError(f"unknown preset {preset!r}; choose from {PRESETS}")


# A monthly export that stops this many days short of its month's end still closes the month:
# UCI's April orders end on Thursday the 28th (Friday the 29th a bank holiday, the shop shut on
# Saturdays). Two days, not three: Olist's September 2018 (1 order in 3 days, then nothing)
# stays a cut export. The days it stretches over get a caveat (caveats.trailing_gap).
GRACE_DAYS = 2


def month_close(last: date, today: date | None = None) -> date:
    """The day the period presets end on when the latest stored day is ``last``: its month's
    last day when ``last`` is at most GRACE_DAYS short of it (the month is then over: "Last
    month" is it, no forecast is made of it), else ``last``. Never while the month is still
    running (``today``, the real date, within it): a shop exporting daily on the 30th has
    data to the 29th of a month that is not over."""
    end = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if (today or date.today()) <= end:
        return last
    return end if (end - last).days <= GRACE_DAYS else last


def stored_span(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """First day with orders, traffic or spend, and the latest day any of those exports holds
    (a valid order's: a cancelled order dated after the last sale, as Olist's last row is,
    would otherwise open the Overview on an empty month); None for a store with nothing
    dated. Traffic and spend count as much as orders: a shop closed on the month's last days
    still has its visits and ad spend on them, and a month they cover is over. A store of
    refunds or stock snapshots alone spans their days (beside orders they do not extend it:
    refunds of a month's orders come in the weeks after). Daily sums, held in memory: the
    app's first page waits for this."""
    row = con.cursor().execute("""
        select coalesce(least((select min(day) from orders_daily),
                              (select min(day) from traffic),
                              (select min(day) from marketing_spend)),
                        least((select min(day) from refunds_daily),
                              (select min(date) from snapshot_days))),
               coalesce(greatest((select max(day) from valid_orders_daily),
                                 (select max(day) from traffic),
                                 (select max(day) from marketing_spend)),
                        (select max(day) from orders_daily),
                        greatest((select max(day) from refunds_daily),
                                 (select max(date) from snapshot_days)))""").fetchall()[0]
    return None if row[0] is None else (row[0], row[1])


def data_span(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """:func:`stored_span`, its end closed to the month's end (:func:`month_close`): the days
    the presets, the report's months and the date picker cover."""
    span = stored_span(con)
    return None if span is None else (span[0], month_close(span[1]))


def calendar(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """First and last day any stored table has a row on (refunds and stock snapshots
    included): the span an additive KPI's daily series covers (kpilib.kpi.from_daily)."""
    row = con.cursor().execute("""
        select min(lo), max(hi) from (
            select min(day) as lo, max(day) as hi from orders_daily
            union all select min(day), max(day) from refunds_daily
            union all select min(day), max(day) from traffic
            union all select min(day), max(day) from marketing_spend
            union all select min(date), max(date) from snapshot_days)""").fetchall()[0]
    return None if row[0] is None else (row[0], row[1])
