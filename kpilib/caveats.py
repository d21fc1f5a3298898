"""When a figure does not mean what it seems to: a KPI the store's exports cannot give (no
traffic uploaded: sessions are unknown, not 0), a rate whose parts cannot be known (credit notes
that name no order: no return rate by order date), and a figure that is not final yet (orders
still inside their return window). The pages, the report and the command line all ask here, so
a figure is shown with the same caveat everywhere."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb

from .dimensions import SPLITS, sources
from .filters import Filters
from .formatting import channel_words, plural
from .kpi import Kpi, refused
from .periods import month_close, stored_span
from .store import tables_read

# The export that fills each stored table, as a manager would look for it.
EXPORTS = {
    "orders": "an orders export (Shopify, UCI Online Retail, Olist, the orders template, or "
              "any other with its columns mapped on the Data page)",
    "order_items": "order lines (in the Shopify orders export, or the order_items template)",
    "refunds": "refunds (in the Shopify orders export, or the refunds template)",
    "traffic": "a traffic export (a GA4 report, or sessions / events)",
    "marketing_spend": "ad spend (Google Ads or Meta reports, or the marketing_spend template)",
    "inventory": "stock snapshots (an inventory export: date, SKU, units on hand)",
    "products": "a products export",
}
# Tables a KPI reads without needing them: no refund stored lowers nothing that is shown as
# known (net sales of a shop without refunds), and products only name and cost SKUs.
OPTIONAL = frozenset({"refunds", "products"})
# The funnel's step columns (kpilib.funnel), in order.
STEP_COLUMNS = ("product_views", "add_to_carts", "checkouts", "purchases")
STEP_WORDS = {"product_views": "product views", "add_to_carts": "add-to-cart",
              "checkouts": "checkout", "purchases": "purchase"}
# Figures that only repeat what one order column says, and why they cannot when no stored order
# has it (Facts.unfilled): UCI and Olist give no discount, so every order is stored with 0 (sums
# stay right); UCI gives no order status (a cancellation is a credit note, stored as a refund).
NOT_TRACKED = {
    "discounts": (("discounts", "discount_rate"),
                  "the orders export has no discount column (no stored order has a discount), "
                  "so this would read 0 by mistake."),
    "status": (("cancellation_rate", "orders_by_status"),
               "the orders export has no order status, so cancellations cannot be told."),
    # UCI: every order's channel is unknown, so a channel's spend has no revenue to set
    # against it, and "map paid_search to your orders' channel" would credit it every sale.
    "channel": (("roas", "attributed_revenue", "paid_revenue", "payback", "unmatched_spend"),
                "the orders export has no channel (every order's is unknown), so no revenue "
                "can be set against a channel's ad spend; MER (net sales ÷ all ad spend) can."),
}
# Optional traffic columns a KPI sums, which one month's export may have and the next lack (a
# GA4 report without users): over a period mixing such days the sum is of some days only.
OPTIONAL_SUMS = {"users": "users", "new_users": "new users"}


@dataclass(frozen=True)
class Facts:
    """What the store holds that decides whether a figure means what it says; read once per
    store version (:func:`facts`)."""
    tables: frozenset[str]          # stored tables with at least one row
    as_of: date | None              # the latest day with data (kpilib.periods.data_span)
    refunds_linked: bool = True     # some refund names an order that is stored
    # Funnel steps the traffic export never reports: every row 0, or empty (an event export
    # without such events)
    untracked: frozenset[str] = frozenset()
    identified: bool = True         # some valid order has a customer id
    orders_from: date | None = None  # the first day with a valid order
    shipped: bool = True            # some valid order has a shipped date
    # Optional order columns the orders export never fills (Olist: no tax), so 0 there is
    # "not in the export"; "discounts" when no valid order has one, "status" when no order
    # has the export's own status (NOT_TRACKED)
    unfilled: frozenset[str] = frozenset()
    # For each of OPTIONAL_SUMS missing on some day with traffic: the runs of traffic days with
    # it and without it, as (column, has it, first day, last day).
    runs: tuple[tuple[str, bool, date, date], ...] = ()
    # The dimensions of the orders (device, country) no stored order has: a filter on one
    # would find no order, so the figures of orders and refunds are not split by it.
    unsplit: frozenset[str] = frozenset()
    # The last day with a valid order, and the runs of days without one between the first
    # and that day, as (first day, last day): see trailing_gap.
    orders_to: date | None = None
    order_gaps: tuple[tuple[date, date], ...] = ()
    # The first day of each dated export but the orders' (orders_from): traffic, ad spend,
    # refunds. A period that starts before it holds part of that data or none.
    starts: tuple[tuple[str, date], ...] = ()
    # The first and last day of the ad-spend exports (all channels), and the paid channels
    # that bring orders or sessions but have no ad spend stored (see spend_note).
    spend_span: tuple[date, date] | None = None
    unspent: frozenset[str] = frozenset()
    # Each channel's first and last day of ad spend, as (channel, first, last): one export
    # that stops before the others (a Google Ads file to the 20th, Meta's to the 30th).
    spend_spans: tuple[tuple[str, date, date], ...] = ()
    # The latest day any export holds: as_of is its month's end when it stops a day or two
    # short of it (kpilib.periods.month_close); the days between are held by no export.
    stored_to: date | None = None


def facts(con: duckdb.DuckDBPyConnection) -> Facts:
    """The store's :class:`Facts`, from the small tables a connection holds in memory."""
    row = con.cursor().execute("""
        select (select count(*) from (select 1 from orders_daily limit 1)),
               (select count(*) from (select 1 from units_daily limit 1)),
               (select count(*) from (select 1 from valid_refunds limit 1)),
               (select count(*) from (select 1 from traffic limit 1)),
               (select count(*) from (select 1 from marketing_spend limit 1)),
               (select count(*) from (select 1 from snapshot_days limit 1)),
               (select count(*) from (select 1 from products limit 1)),
               (select count(*) from (select 1 from valid_refunds
                                      where order_day is not null limit 1)),
               (select count(*) from (select 1 from acquisitions limit 1)),
               (select sum(product_views) from traffic), (select sum(add_to_carts) from traffic),
               (select sum(checkouts) from traffic), (select sum(purchases) from traffic),
               (select min(day) from valid_orders_daily),
               (select sum(shipped) from valid_orders_daily),
               (select count(shipping) from valid_orders_daily),
               (select count(tax) from valid_orders_daily),
               -- (an order without a device is stored as 'unknown')
               (select count(*) from (select 1 from orders where device <> 'unknown' limit 1)),
               (select count(*) from (select 1 from orders where country is not null limit 1)),
               (select count(*) from (select 1 from valid_orders_daily
                                      where discounts <> 0 limit 1)),
               (select count(*) from (select 1 from orders where status_raw is not null
                                      limit 1)),
               (select min(day) from traffic), (select min(day) from marketing_spend),
               (select min(day) from refunds_daily),
               (select count(*) from (select 1 from valid_orders_daily
                                      where channel <> 'unknown' limit 1))
        """).fetchall()[0]
    names = ("orders", "order_items", "refunds", "traffic", "marketing_spend", "inventory",
             "products")
    tables = frozenset(n for n, there in zip(names, row[:7]) if there)
    span = stored_span(con)
    untracked = frozenset(c for c, total in zip(STEP_COLUMNS, row[9:13])
                          if "traffic" in tables and not total)
    return Facts(tables=tables, as_of=month_close(span[1]) if span else None,
                 stored_to=span[1] if span else None,
                 refunds_linked=not row[2] or bool(row[7]), untracked=untracked,
                 identified=not row[0] or bool(row[8]), orders_from=row[13],
                 shipped=not row[0] or bool(row[14]),
                 unfilled=frozenset(c for c, n in zip(
                     ("shipping", "tax", "discounts", "status", "channel"),
                     row[15:17] + row[19:21] + row[24:25]) if row[0] and not n),
                 runs=_runs(con) if "traffic" in tables else (),
                 unsplit=frozenset(d for d, n in zip(("device", "country"), row[17:19])
                                   if row[0] and not n),
                 starts=tuple((t, d) for t, d in zip(("traffic", "marketing_spend", "refunds"),
                                                     row[21:24]) if d is not None),
                 **_order_days(con), **(_spend(con) if "marketing_spend" in tables else {}))


def _spend(con: duckdb.DuckDBPyConnection) -> dict:
    """Facts.spend_span and Facts.unspent."""
    lo, hi, unspent = con.cursor().execute("""
        select (select min(day) from marketing_spend), (select max(day) from marketing_spend),
               (select list(distinct channel) from (
                    select channel from valid_orders_daily union all
                    select channel from traffic)
                where list_contains($paid, channel)
                  and channel not in (select distinct channel from marketing_spend))
        """, {"paid": list(PAID)}).fetchall()[0]
    spans = con.cursor().execute("select channel, min(day), max(day) from marketing_spend "
                                 "group by channel order by channel").fetchall()
    return {"spend_span": (lo, hi), "unspent": frozenset(unspent or ()),
            "spend_spans": tuple(spans)}


def _order_days(con: duckdb.DuckDBPyConnection) -> dict:
    """Facts.orders_to and Facts.order_gaps, from the days of the daily rollup held in memory
    (one a day with orders: a few hundred; the gaps found here, as any engine can)."""
    days = [r[0] for r in con.cursor().execute(
        "select distinct day from valid_orders_daily order by 1").fetchall()]
    one = timedelta(days=1)
    return {"orders_to": days[-1] if days else None,
            "order_gaps": tuple((a + one, b - one) for a, b in zip(days, days[1:])
                                if (b - a).days > 1)}


# How far back the shop's usual longest run of days without an order is looked for, the
# fewest days before a run that say what is usual (a new shop's first weeks do not), and the
# share of them with orders that says the shop sells most days (UCI's shop, closed on
# Saturdays, does; a shop of a few orders a month does not: a week without one says nothing).
USUAL_DAYS = 90
USUAL_AT_LEAST = 14
MOST_DAYS = 0.75
# At most this many days with orders may follow a run of empty days that ends a period (and
# fewer than the run's own days): Olist's export stops on 28 Aug 2018 but for one order on
# 3 Sep. More than that, and the shop was closed a while, then sold again.
STRAGGLERS = 2


@dataclass(frozen=True)
class Gap:
    """Days without an order at the end of a period (:func:`trailing_gap`)."""
    runs: tuple[tuple[date, date], ...]   # the runs of days without one, in the period
    span: int                             # days from the first of them to the period's end
    usual: int                            # the longest run of such days in the days before
    before: int                           # how many days before were looked at
    # The runs reach past the last day any export holds, into days the month was closed over
    # (kpilib.periods.month_close): the orders stop there, whatever the shop's usual gaps.
    closed: bool = False

    @property
    def empty(self) -> int:
        return sum((hi - lo).days + 1 for lo, hi in self.runs)

    def touches(self, start: date, end: date) -> bool:
        """Whether a day of [start, end] is one of the runs (a row of a daily series)."""
        return any(lo <= end and hi >= start for lo, hi in self.runs)


def trailing_gap(f: Facts, start: date, end: date) -> Gap | None:
    """The days without an order at the end of [start, end], when they say the orders export
    may end early rather than that the shop sold nothing: a run of days without a valid order
    longer than any in the (up to) 90 days before it, which had orders on 3 days in 4 at
    least, with at most 2 days with orders after it in the period (and fewer than its own
    days). The earliest such run counts, with the runs after it. None when there is none, or
    fewer than 14 days of orders before it."""
    if f.orders_to is None or f.orders_from is None:
        return None
    after_last = f.orders_to + timedelta(days=1)
    runs = [*f.order_gaps, *([(after_last, end)] if end >= after_last else [])]
    closed = _closed_gap(f, start, end, after_last)
    if closed:
        return closed
    inside = [(max(lo, start), min(hi, end), lo) for lo, hi in runs if lo <= end and hi >= start]
    for i, (lo, hi, began) in enumerate(inside):
        days = (hi - lo).days + 1
        later = sum((h - low).days + 1 for low, h, _ in inside[i + 1:])
        selling = (end - hi).days - later      # days with orders after the run
        first = max(began - timedelta(days=USUAL_DAYS), f.orders_from)
        before = (began - first).days
        if selling > min(STRAGGLERS, days - 1) or before < USUAL_AT_LEAST:
            continue
        empty = [(min(h, began - timedelta(days=1)) - max(low, first)).days + 1
                 for low, h in f.order_gaps if h >= first and low < began]
        usual = max(empty, default=0)
        if days > usual and sum(empty) <= (1 - MOST_DAYS) * before:
            return Gap(tuple((a, b) for a, b, _ in inside[i:]), (end - lo).days + 1, usual,
                       before)
    return None


def _closed_gap(f: Facts, start: date, end: date, after_last: date) -> Gap | None:
    """The days after the last order, when the period reaches past the last day any export
    holds (a month closed a day or two early: kpilib.periods.month_close) and one of them is
    a weekday the shop sold on in the 90 days before: its figures may lack those days'
    orders. (UCI's April orders stop on Thursday the 28th: Friday the 29th is a selling day;
    a month that ends on a Saturday the shop never sells on gets no caveat.)"""
    if f.stored_to is None or not f.stored_to < end <= f.as_of or end < after_last:
        return None
    lo = max(after_last, start)
    first = max(after_last - timedelta(days=USUAL_DAYS), f.orders_from)
    before = (after_last - first).days
    if before < USUAL_AT_LEAST:
        return None
    empty = {lo_ + timedelta(days=i) for lo_, hi_ in f.order_gaps
             for i in range((hi_ - lo_).days + 1)}
    selling = {(first + timedelta(days=i)).weekday() for i in range(before)
               if first + timedelta(days=i) not in empty}
    if not any((lo + timedelta(days=i)).weekday() in selling
               for i in range((end - lo).days + 1)):
        return None
    return Gap(((lo, end),), (end - lo).days + 1, 0, before, closed=True)


def to_date(filters: Filters, as_of: date | None) -> Filters:
    """The days of a period a comparison reads: those up to the last day with data (the
    report of a month not over: 1 – 3 December), so that both the previous period and last
    year are the same number of days (26 – 28 November, 364 days back) and not a whole month
    against three days, a fall that is only the export's end. The period itself when it ends
    on or before that day."""
    if as_of is None or not filters.start <= as_of < filters.end:
        return filters
    return replace(filters, end=as_of)


def gap_note(f: Facts, start: date, end: date) -> str | None:
    """"No order on the last 5 days of the period (29 Aug – 2 Sep 2018), …: the export may end
    early.", said of a period whose figures of orders stop short (:func:`trailing_gap`); None
    otherwise."""
    gap = trailing_gap(f, start, end)
    if gap is None:
        return None
    if gap.empty == gap.span:
        days = "the last day" if gap.span == 1 else f"the last {gap.span:,} days"
    else:
        days = f"{gap.empty:,} of the last {gap.span:,} days"
    if gap.closed:
        last = gap.runs[0][0] - timedelta(days=1)
        return (f"No order on {days} of the period ({days_text(list(gap.runs))}): the orders "
                f"export ends on {last.day} {last:%b}. If the shop sold on those days, upload "
                "their orders.")
    usual = "an order every day" if not gap.usual else \
        f"at most {plural(gap.usual, 'day')} in a row without one"
    return (f"No order on {days} of the period ({days_text(list(gap.runs))}), where the "
            f"{gap.before:,} days before had {usual}: the export may end early.")


def _runs(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, bool, date, date], ...]:
    """Facts.runs: consecutive traffic days with and without each optional column, for the
    columns some day lacks (one pass over the daily traffic rows, held in memory)."""
    has = ", ".join(f"count({c}) > 0 as {c}" for c in OPTIONAL_SUMS)
    runs = " union all ".join(f"""
        select '{c}' as col, {c} as has, min(date) as lo, max(date) as hi
        from (select date, {c}, row_number() over (order by date)
                                - row_number() over (partition by {c} order by date) as run
              from days) r
        group by {c}, run""" for c in OPTIONAL_SUMS)
    rows = con.cursor().execute(f"with days as (select date, {has} from traffic group by date) "
                                f"{runs} order by col, lo").fetchall()
    lacking = {c for c, has, _lo, _hi in rows if not has}
    return tuple((c, bool(has), lo, hi) for c, has, lo, hi in rows if c in lacking)


def needs(kpi: Kpi) -> frozenset[str]:
    """The stored tables without which ``kpi`` has no meaningful value: those it declares, else
    those its SQL reads but :data:`OPTIONAL`."""
    if kpi.needs is not None:
        return frozenset(kpi.needs)
    return tables_read(kpi.sql + kpi.base) - OPTIONAL


def missing(kpi: Kpi, f: Facts) -> tuple[str, ...]:
    """The tables ``kpi`` needs that the store lacks, in a stable order."""
    return tuple(t for t in EXPORTS if t in needs(kpi) - f.tables)


# What a dated export holds a row of, for "no … is stored before".
ROWS = {"orders": "order", "order_items": "order", "traffic": "day of traffic",
        "marketing_spend": "day of ad spend", "refunds": "refund"}


# The share of a period's days an export must hold for the period to be a baseline: 27 of
# 31 days is one (an export's first order on 5 January may be a shop closed over New Year;
# the days missing are named in "Why?"), 1 of 30 ("+2,601 %") is not.
COVERED = 0.8


def starts_later(kpi: Kpi, f: Facts, start: date) -> list[tuple[str, date]]:
    """(table, its first stored day) of each export ``kpi`` needs whose data starts after
    ``start``."""
    firsts = dict(f.starts, orders=f.orders_from, order_items=f.orders_from)
    return [(t, firsts[t]) for t in sorted(needs(kpi) & ROWS.keys())
            if firsts.get(t) is not None and start < firsts[t]]


def before_data(kpi: Kpi, f: Facts, start: date, end: date,
                since: date | None = None) -> str | None:
    """Why [start, end] is no baseline for ``kpi``: it starts before the first stored day of an
    export the KPI needs (an export that starts later), so its figure is 0, or a few days'
    worth, for want of data, and a change from it would read as a rise from nothing
    ("+2,601 %" against one stored day of thirty); or, against a period starting ``since``,
    it has far less order history before it (:func:`thin_history`). None when it is a
    baseline."""
    span, days = days_text([(start, end)]), (end - start).days + 1
    for table, first in starts_later(kpi, f, start):
        if end < first:
            return (f"No {ROWS[table]} is stored before {first:%d %b %Y}, so {span} has "
                    "nothing to compare with.")
        held = (end - first).days + 1
        # A sum of a part is a part; a rate or an average of one day is no period's either
        # (UCI's first morning: AOV "+19.1 %" against the one stored day of thirty).
        if held < COVERED * days:   # a few days short: a baseline, the days a cause
            return (f"{span} starts before the first stored {ROWS[table]} "
                    f"({first:%d %b %Y}): only {held} of its {days} days "
                    f"{'is' if held == 1 else 'are'} in the exports, so it is no baseline.")
    return thin_history(kpi, f, start, end, since)


def partly_before(kpi: Kpi, f: Facts, start: date, end: date) -> str | None:
    """The days a baseline is compared on when it starts a few days before an export's first
    stored day but holds enough of them to be one (:func:`before_data`): "-12.3 %" against a
    period missing a day read as a like-for-like change. None when it holds every day (or is
    no baseline at all)."""
    if before_data(kpi, f, start, end):
        return None
    days = (end - start).days + 1
    for table, first in starts_later(kpi, f, start):
        held = (end - first).days + 1
        return (f"compared on {held} of its {days} days: no {ROWS[table]} is stored before "
                f"{first:%d %b %Y}")
    return None


def steps_read(kpi: Kpi) -> tuple[str, ...]:
    """The funnel step columns ``kpi`` sums (from its SQL)."""
    return tuple(c for c in STEP_COLUMNS if f"sum({c})" in kpi.sql)


# The rollups that hold identified customers only (guest orders left out).
CUSTOMER_SOURCES = ("customer_orders", "acquisitions", "customer_first", "cohort_orders",
                    "second_orders", "rfm_daily")


def reads_customers(kpi: Kpi) -> bool:
    return bool(re.search(rf"\b(?:from|join)\s+(?:{'|'.join(CUSTOMER_SOURCES)})\b", kpi.sql))


# Why a customer's figure takes no device, country or category filter: it counts each
# customer once (kpilib.loyalty reads the customers' rollups, one row a customer and day),
# and these belong to each of their orders.
PER_ORDER = {"device": "a device belongs to a session or an order (one customer orders from "
                       "several)",
             "country": "a country belongs to an order (one customer orders to several)",
             "category": "a category belongs to an order's lines (one customer buys several)"}


def customers_unsplit(kpi: Kpi, filters: Filters) -> str | None:
    """Why a customer's ``kpi`` is not split by the device, country or category ``filters``
    select, in words (the short "Not split by device." of :func:`reason` says what, not why);
    None for a KPI that is split by them, or that counts no customers."""
    dims = refused(kpi, filters)
    if not dims or not reads_customers(kpi):
        return None
    return (f"Customers' figures are not split by {' or '.join(dims)}: each customer counts "
            f"once, and {'; '.join(PER_ORDER[d] for d in dims)}. Clear the "
            f"{' and '.join(dims)} filter in the sidebar to see them; Sales and After-sales "
            "apply it to orders.")


def reason(kpi: Kpi, f: Facts, start: date | None = None,
           end: date | None = None, filters: Filters | None = None) -> str | None:
    """Why ``kpi`` has no meaningful value in this store (over a period from ``start`` to
    ``end``, when given), in a sentence; None when it has one. A property of what was uploaded,
    not of the filters but for the period's days, and for the device, country or category
    ``filters`` select that its data does not carry ("Not split by country.": its figure
    would be the unfiltered one)."""
    gone = missing(kpi, f)
    if gone:
        return "Needs " + " and ".join(EXPORTS[t] for t in gone) + "."
    dims = refused(kpi, filters) if filters is not None else []
    if dims:
        return f"Not split by {' or '.join(dims)}."
    chosen = [SPLITS[s] for s in SPLITS if filters is not None and getattr(filters, s)]
    empty = [d for d in chosen if d in f.unsplit]
    if empty and set(sources(kpi.template)) - {"traffic"}:
        return (f"Not split by {' or '.join(empty)}: the orders export gives no order's "
                f"{' or '.join(empty)}.")
    if filters is not None and filters.channels and "channel" in f.unfilled \
            and "$channels" in kpi.sql \
            and set(sources(kpi.template)) - {"traffic", "marketing_spend"}:
        # UCI's orders are all 'unknown': Email's "£0.00" beside its 5,976 sessions read as
        # "email sold nothing".
        return ("Not tracked: the orders export has no channel (every order's is unknown), "
                "so its orders cannot be picked by channel.")
    lacking = coverage(kpi, f, start, end)
    if lacking and not lacking[1]:
        return (f"Unknown: the traffic export has no {OPTIONAL_SUMS[lacking[0]]} column for "
                f"{days_text(lacking[2])}.")
    untracked = [STEP_WORDS[c] for c in steps_read(kpi) if c in f.untracked]
    if untracked:
        return (f"Not tracked: the traffic export records no {' or '.join(untracked)} step "
                "(every row is 0 or empty), so this rate would read 0 % by mistake.")
    said = [why for c, (names, why) in NOT_TRACKED.items()
            if kpi.name in names and c in f.unfilled]
    if said:
        return f"Not tracked: {said[0]}"
    if kpi.window == "return" and not f.refunds_linked and kpi.name not in REFUND_COLUMNS:
        return ("Unknown: the refunds uploaded do not say which stored order they refund "
                "(credit notes with numbers of their own), so they cannot be matched to the "
                "orders of the period.")
    if not f.shipped and re.search(r"\bshipp(?:ed|ing_times)", kpi.sql):
        return ("Unknown: the orders export has no shipped date (shipped_at), so how fast "
                "orders leave cannot be measured.")
    if reads_customers(kpi) and not f.identified:
        return ("Unknown: no order has a customer id or e-mail, so customers cannot be told "
                "apart (every order is a guest order).")
    seen = first_seen(f, start) if kpi.history else None
    if seen:
        return f"Unknown: {seen} (pick a later period, or upload earlier months)."
    return None


# Table KPIs whose refund columns alone need refunds matched to orders: with credit notes that
# name no stored order (UCI) their other columns (units, sales before returns) still stand, so
# the table is shown without these columns rather than withheld whole.
REFUND_COLUMNS = {"top_products": ("net_sales", "returns")}


def unmatched_refunds(kpi: Kpi, f: Facts) -> tuple[tuple[str, ...], str] | None:
    """(the columns of ``kpi`` to leave out, why in a sentence) when refunds cannot be matched
    to orders; None when every column stands."""
    if f.refunds_linked or kpi.name not in REFUND_COLUMNS:
        return None
    return REFUND_COLUMNS[kpi.name], (
        "Returns are not taken off: the refunds uploaded do not say which stored order they "
        "refund (credit notes with numbers of their own).")


def has_categories(categories) -> bool:
    """Whether some of ``categories`` (a column of a products table) names one: goods without
    a category in the exports are 'uncategorised' (kpilib.rollups), and a column of it on every
    row (UCI's export has none) tells nothing."""
    return any(isinstance(c, str) and c != "uncategorised" for c in categories)


# Channels that are bought by the click or the view: one with orders or sessions and no ad
# spend stored is missing from "all ad spend" (a Google Ads export uploaded, not Meta's).
PAID = ("paid_search", "paid_social", "display")
# KPIs that set all ad spend against the whole shop's sales or new customers (MER, CAC): what
# they count on days or channels without stored spend, in a sentence.
SPEND_AGAINST = {"mer": "net sales", "mer_inverse": "net sales", "cac": "new customers"}


def spend_note(kpi: Kpi, f: Facts, start: date | None, end: date | None) -> str | None:
    """What the ad spend behind ``kpi`` (:data:`SPEND_AGAINST`) leaves out over [start, end]:
    days of the orders export outside the ad-spend exports' first to last day (a Google Ads
    export of 20 days of a 30-day month sets 30 days of sales against 20 days of spend), paid
    channels with orders or sessions but no spend stored. Said, not withheld: whether ads ran
    on those days or channels only the shop knows. None when neither."""
    if kpi.name not in SPEND_AGAINST or f.spend_span is None or start is None or end is None \
            or f.orders_from is None or f.orders_to is None:
        return None
    lo, hi = max(start, f.orders_from), min(end, f.orders_to)
    if lo > hi:
        return None
    said = []
    first, last = max(lo, f.spend_span[0]), min(hi, f.spend_span[1])
    days, held = (hi - lo).days + 1, max(0, (last - first).days + 1)
    what = SPEND_AGAINST[kpi.name]
    # None of them: no spend, so no figure to qualify ("No ad spend in this period.").
    if 0 < held < days:
        said.append(f"Ad spend is stored for {held:,} of the period's {days:,} days "
                    f"({days_text([(first, last)])}), "
                    f"while {kpi.label} counts the {what} of all {days:,}: upload the other "
                    "days' ad spend if ads ran then.")
    if held:
        # A channel whose spend stops before the others' in the period: its own export
        # ended part-way (a Google Ads file to the 20th, Meta's to the 30th), and its cost is
        # short for the days after. One that starts later is more often a campaign launched
        # then; one with no spend in the period did not spend: neither is said.
        for channel, lo_c, hi_c in f.spend_spans:
            a, b = max(first, lo_c), min(last, hi_c)
            if a <= b < last:
                said.append(f"{channel_words(channel)}'s ad spend stops on {b.day} {b:%b %Y}, "
                            f"the other ad spend runs to {last.day} {last:%b %Y}: upload the "
                            "rest of its export if its ads ran then.")
    if f.unspent:
        one = len(f.unspent) == 1
        names = " and ".join(channel_words(c) for c in sorted(f.unspent))
        said.append(f"No ad spend is stored for {names}, which {'has' if one else 'have'} "
                    f"orders or sessions: {kpi.label} leaves {'its' if one else 'their'} "
                    "ad cost out.")
    return " ".join(said) or None


def first_seen(f: Facts, start: date | None) -> str | None:
    """Why customers whose first stored order is on or after ``start`` cannot be called new:
    from the first stored order on, a customer's first order in the store may not be their
    first (an export that starts mid-history, as UCI's). The clause a page says in place of
    new and returning, or beside a cohort ("first seen in this export"); None when the days
    before ``start`` hold orders to tell by."""
    if start is None or f.orders_from is None or start > f.orders_from:
        return None
    return (f"no order is stored before {f.orders_from:%d %b %Y}, so whether a customer had "
            "ordered before cannot be seen")


# Orders before a period that tell most returning customers from new ones: a year, so a
# customer who buys once a year is seen before. With less, "new" counts customers whose
# earlier orders predate the export (UCI, November 2011 after one stored month: 1,045 "new",
# 323 really new in the full export).
HISTORY_DAYS = 365


def short_recency(f: Facts, end: date) -> str | None:
    """Why RFM's "Lost" may not be lost: recency is ranked among the customers' last orders
    (quintiles), so with less than a year of orders stored up to ``end`` the "longest since an
    order" may be a few weeks (UCI after one month: "Lost" customers 20–30 days since their
    last order). The sentence the RFM table says under it; None with a year or more."""
    if f.orders_from is None or end < f.orders_from:
        return None
    days = (end - f.orders_from).days + 1
    if days >= HISTORY_DAYS:
        return None
    return (f"Only {plural(days, 'day')} of orders are stored up to {end:%d %b %Y}: recency is "
            "ranked among those days, so 'Lost', 'About to sleep', 'At risk' and 'Cannot "
            "lose them' (the least recent fifths) are customers whose last order is at most "
            f"{plural(days, 'day')} old, not customers gone for good.")


def _history(f: Facts, start: date) -> int:
    """Days of orders stored before ``start``, up to :data:`HISTORY_DAYS`."""
    return min(max((start - f.orders_from).days, 0), HISTORY_DAYS)


def _span(days: int) -> str:
    # "1 month" for the one day before a period starting on 2 March read as a month of history.
    return plural(days, "day") if days < 28 else plural(round(days / 30.44), "month")


def thin_history(kpi: Kpi, f: Facts, start: date, end: date,
                 since: date | None) -> str | None:
    """Why [start, end] is no baseline for new and returning customers (``kpi.history``)
    against a period starting ``since``: :func:`short_history` applies to it, and not, or at
    most half as much, to the period shown: the year of orders missing before it is at least
    twice the period's. With less history, more of its returning customers count as new, so
    a change reads as customers coming back more: the demo's Sep – Nov 2026 has a year, the
    same months of 2025 three months ("+12.56 pp"; 0 missing against 273 days). Where both
    lack much of it (10 Feb against 20 Jan in a shop's first weeks; December against November
    in its first year: 182 days missing against 212) it is compared, each period with its
    own caveat. None when it is a baseline, or the store cannot tell at all
    (:func:`first_seen`, said by :func:`reason`)."""
    if since is None or not kpi.history or f.orders_from is None or start <= f.orders_from \
            or since <= f.orders_from:
        return None
    then, now = _history(f, start), _history(f, since)
    if then >= HISTORY_DAYS or 2 * (HISTORY_DAYS - now) > HISTORY_DAYS - then:
        return None
    # Short: said on a card.
    return (f"{days_text([(start, end)])} had only {_span(then)} of orders stored before it, "
            f"where this period has {'a year' if now >= HISTORY_DAYS else _span(now)}: more "
            "of its customers count as new.")


def short_history(f: Facts, start: date | None) -> str | None:
    """The caveat on new and returning customers over a period that starts less than a
    year after the first stored order (and after it: on or before it they are unknown,
    :func:`first_seen`); None otherwise."""
    if start is None or f.orders_from is None or start <= f.orders_from \
            or (start - f.orders_from).days >= HISTORY_DAYS:
        return None
    return (f"only {_span((start - f.orders_from).days)} of orders before this period "
            f"(from {f.orders_from:%d %b %Y}): a customer who ordered before then counts "
            "as new")


def history_words(f: Facts, start: date | None) -> str | None:
    """The orders stored before ``start`` in words ("5 months") where :func:`short_history`
    applies: a cohort's label in a table ("Jul 2025, 1 month of history")."""
    if short_history(f, start) is None:
        return None
    return _span((start - f.orders_from).days)


def coverage(kpi: Kpi, f: Facts, start: date | None, end: date | None):
    """The first optional column ``kpi`` sums that some traffic days of [start, end] lack:
    (column, runs of days with it, runs without it), each clipped to the period; None when
    every traffic day of the period has the KPI's columns (or it sums none)."""
    if start is None or end is None:
        return None
    for c in OPTIONAL_SUMS:
        if f"sum({c})" not in kpi.sql:
            continue
        clipped = [(has, max(lo, start), min(hi, end)) for col, has, lo, hi in f.runs
                   if col == c and lo <= end and hi >= start]
        without = [(lo, hi) for has, lo, hi in clipped if not has]
        if without:
            return c, [(lo, hi) for has, lo, hi in clipped if has], without
    return None


def partial_note(kpi: Kpi, f: Facts, start: date | None, end: date | None) -> str | None:
    """"Users: 1 Mar – 31 Mar 2025 only; …": said of a sum over a period of which some traffic
    days lack the column summed (the sum is of the other days), None otherwise."""
    lacking = coverage(kpi, f, start, end)
    if not lacking or not lacking[1]:
        return None
    c, have, without = lacking
    return (f"{kpi.label}: {days_text(have)} only; the traffic export has no "
            f"{OPTIONAL_SUMS[c]} column for {days_text(without)}.")


def part_periods(by: str | None, start: date | None, end: date | None
                 ) -> list[tuple[date, date]]:
    """The weeks (Monday to Sunday, as KPIs group them) or months of a chart by ``by`` that
    the dates ``start``–``end`` cut: each as (its first day shown, its last day shown). Only
    the first and the last can be."""
    if by not in ("week", "month") or start is None or end is None or start > end:
        return []

    def first(d: date) -> date:
        return d - timedelta(days=d.weekday()) if by == "week" else d.replace(day=1)

    def last(d: date) -> date:
        return first(d) + timedelta(days=6) if by == "week" else \
            (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    ends = [(start, min(last(start), end))] if first(start) != start else []
    if last(end) != end and (first(end) > start or not ends):
        ends.append((max(first(end), start), end))
    return ends


def part_periods_text(by: str | None, start: date | None, end: date | None) -> str | None:
    """"The first and last weeks are part weeks (1 Oct – 4 Oct and 26 Oct – 31 Oct 2026
    only): …" under a chart by week or month whose first or last point covers fewer days than
    the others (None when none does): a sum there reads as a fall, a rate rests on fewer
    days."""
    cut = part_periods(by, start, end)
    if not cut:
        return None
    which = "first and last " if len(cut) == 2 else \
        "" if cut[0] == (start, end) else "first " if cut[0][0] == start else "last "
    return (f"The {which}{by}{'s are' if len(cut) == 2 else ' is a'} part {by}"
            f"{'s' if len(cut) == 2 else ''} ({days_text(cut)} only): a sum there covers "
            f"fewer days than a whole {by}, a rate rests on fewer days.")


def days_text(runs: list[tuple[date, date]]) -> str:
    """Runs of days as a reader says them: "1 Mar – 31 Mar 2025", "2 Apr 2025"."""
    def one(lo: date, hi: date) -> str:
        if lo == hi:
            return f"{lo.day} {lo:%b %Y}"
        first = f"{lo.day} {lo:%b}" + (f" {lo.year}" if lo.year != hi.year else "")
        return f"{first} – {hi.day} {hi:%b %Y}"
    said = [one(lo, hi) for lo, hi in runs]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def value_reason(kpi: Kpi, value: float | None) -> str | None:
    """Why this one value of ``kpi`` is not meaningful (None when it is): a value below the
    KPI's declared floor, such as a negative cart abandonment."""
    if kpi.floor is None or value is None or value != value or value >= kpi.floor[0]:
        return None
    return kpi.floor[1]


@dataclass(frozen=True)
class Maturity:
    final: bool
    open_days: int = 0        # days of the period whose window is still open
    window_days: int = 0


def maturity(kpi: Kpi, start: date, end: date, as_of: date | None,
             window_days: int) -> Maturity:
    """Whether ``kpi`` over [start, end] is final as of ``as_of`` (the latest day with data):
    a figure by order date that counts refunds (``window="return"``) still grows while orders
    of the period are inside the return window: an order of day d can be refunded until
    d + window. A figure dated by the refund (net sales, returns) is final once its days are
    over."""
    if kpi.window != "return" or as_of is None:
        return Maturity(True)   # a cohort table's cells: cohort_final
    # Days d of the period with d + window > as_of.
    first_open = max(start, as_of - timedelta(days=window_days) + timedelta(days=1))
    open_days = max(0, (end - first_open).days + 1)
    return Maturity(open_days == 0, open_days, window_days)


def open_text(m: Maturity, days: int, short: bool = False) -> str:
    """Why a figure over ``days`` days is not final: "12 of 30 days still inside the 30-day
    return window" (``short``, in place of a card's change: "not final", the card's caption
    saying the rest: with the days open it was cut off in a card of a row of five)."""
    if short:
        return "not final"
    return (f"{m.open_days:,} of {days:,} day{'s' * (days != 1)} still inside the "
            f"{m.window_days}-day return window")


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def cohort_final(cohort: date, k: int, as_of: date | None, window_days: int = 0) -> bool:
    """Whether cell (cohort, k) of a cohort table is final: month cohort + k is over by
    ``as_of`` (and, for revenue net of refunds by order date, its orders' return window too)."""
    if as_of is None:
        return True
    m = cohort.year * 12 + cohort.month - 1 + int(k)
    return month_end(date(m // 12, m % 12 + 1, 1)) + timedelta(days=window_days) <= as_of


def period_end(start: date, by: str | None, last: date) -> date:
    """The last day of the ``by`` period starting ``start`` (run()'s ``period``), within the
    filters' ``last`` day."""
    if by == "day":
        end = start
    elif by == "week":
        end = start + timedelta(days=6)
    elif by == "month":
        end = month_end(start)
    else:
        end = last
    return min(end, last)


def mark_final(kpi: Kpi, df, start: date, end: date, as_of: date | None, window_days: int,
               by: str | None = None):
    """``df`` (what run() returned for ``kpi``) with a ``final`` column, for a KPI declared
    with a window: per cohort cell, per period, or the whole range."""
    if kpi.window is None:
        return df
    days = window_days if kpi.window == "return" else 0
    if {"cohort", "k"} <= set(df.columns):
        final = [cohort_final(c, k, as_of, days) for c, k in zip(df["cohort"], df["k"])]
    elif "period" in df.columns:
        final = [maturity(kpi, max(p, start), period_end(p, by, end), as_of, days).final
                 for p in df["period"]]
    else:
        final = [maturity(kpi, start, end, as_of, days).final] * len(df)
    return df.assign(final=final)
