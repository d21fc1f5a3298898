"""What pages draw besides charts: KPI cards, tables with their downloads, headers, the notes
naming a missing export, and the formatting they share."""

from __future__ import annotations

import base64
import html
from datetime import date

import pandas as pd
import streamlit as st

import kpilib
from kpilib import caveats, export, forecast, formatting, targets
from kpilib.dimensions import SPLITS
from kpilib.kpi import refused
from ui.session import (_connection, active_store, currency, facts, has, maturity, missing, reason,
                        setting)
from ui.filters import SPLIT_WIDGETS, current_filters, fmt_range, open_why, replaced_dates
from ui.plan import (Cards, Frame, _compare_shared, kpi, month_forecast, pacing, read,
                     value)


def missing_note(names=(), tables=(), what: str | None = None) -> None:
    """One sentence in place of what the store cannot show: each export to upload, once, with
    what it fills, and a link to the Data page. ``names``: KPIs; ``tables``: the tables a part of
    a page needs, described by ``what``."""
    fills: dict[str, list[str]] = {}
    for n in names:
        for t in missing(n):
            fills.setdefault(t, []).append(kpilib.get(n).label)
    for t in set(tables) - facts().tables:
        fills.setdefault(t, []).insert(0, what or "this")
    if not fills:
        return
    parts = [f"{caveats.EXPORTS[t]} for {_words(list(dict.fromkeys(fills[t])))}"
             for t in caveats.EXPORTS if t in fills]
    with st.container(border=True):
        st.markdown(":material/upload_file: Upload " + "; ".join(parts) + ".")
        st.page_link("app_pages/data.py", label="Open the Data page",
                     icon=":material/arrow_forward:")


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def need(*tables: str, what: str) -> bool:
    """Whether the store holds ``tables``; if not, the sentence saying which exports fill
    ``what`` (a part of a page) in its place."""
    if has(*tables):
        return True
    missing_note(tables=tables, what=what)
    return False


def split_by(names: tuple[str, ...], what: str) -> bool:
    """Whether the sidebar's device, country and category filters apply to ``names``, the
    figures ``what`` (a page or a part of one) is made of; if not, the sentence saying so.
    Never the refusal read as "no data": Marketing under a device filter once said "No ad
    spend in this period" beside €91,692 of spend."""
    f = current_filters()
    dims = list(dict.fromkeys(d for n in names for d in refused(kpilib.get(n), f)))
    if not dims:
        return True
    widgets = [SPLIT_WIDGETS[s][1] for s, d in SPLITS.items() if d in dims]
    st.info(f"{what[0].upper()}{what[1:]} cannot be split by {' or '.join(dims)}: the exports "
            f"that hold them do not record it. Clear the {' and '.join(widgets)} filter in "
            f"the sidebar to see them; the other pages apply it to what records it.")
    return False


channel_label = formatting.channel_words


def fmt(v: float | None, unit: str, compact: bool = False) -> str:
    """A KPI value in the shop's reporting currency."""
    return formatting.fmt(v, unit, currency(), compact)


change = formatting.change


change_value = formatting.change_value


def metrics(names, filters: kpilib.Filters | None = None, spark_by: str | None = None,
            last_year: bool = False, columns: int | None = None, why: bool = False
            ) -> list[str]:
    """A row of KPI cards (see metric) in ``columns`` columns (one per card by default), their
    figures read together first. A KPI the store's exports cannot give is left out of the row
    and returned, for :func:`missing_note` to name the export that fills it. ``why``: each
    card with a value has a "Why?" button opening :func:`why_view`."""
    store = active_store()[0]
    gone, notes, cards = _cards(str(store.path), store.fingerprint, tuple(names),
                                filters or current_filters(), spark_by, last_year)
    # The sentences above and under the row come and go with the filters: each in a place
    # that is always there (st.empty shows nothing), so that what follows keeps its place in
    # the page and the browser updates it instead of drawing it anew.
    above = st.empty()
    if notes:
        with above.container():
            for text in notes:
                st.info(text)
    once: dict[str, list[str]] = {}
    if cards:
        n = columns or len(cards)
        # A full row of boxed cards: each column is the card's box (st.columns' border), not a
        # bordered container inside it. The same boxes, ten blocks fewer on the Overview for
        # the server to send and the browser to draw on every click (bench/README.md). A row
        # with empty columns keeps boxes of its own: a bordered column would show empty.
        whole = len(cards) == n and all(last_year or c["spark"] is not None for c in cards)
        once = shared_reasons(cards)
        # A row of fewer cards than columns: the room left as one column, not one each. A
        # phone stacks columns, and each empty one was a gap (50–80 px under UCI's three).
        spec = [1] * len(cards) + ([n - len(cards)] if n > len(cards) else [])
        for col, card in zip(st.columns(spec, border=whole), cards):
            with col:
                _draw({**card, "captions": [c for c in card["captions"] if c not in once]},
                      last_year, why, box=col if whole else None)
    under = st.empty()
    if once:
        with under.container():
            for text, labels in once.items():
                st.caption(text if len(labels) == len(cards) else
                           f"Not compared ({', '.join(labels)}):"
                           f"{text.removeprefix('Not compared:')}")
    return list(gone)


def shared_reasons(cards: list[dict]) -> dict[str, list[str]]:
    """The "Not compared: …" captions several cards of a row share, with those cards' labels:
    said once under the row (four identical paragraphs under UCI's first month's cards)."""
    labels: dict[str, list[str]] = {}
    for card in cards:
        for text in card["captions"]:
            if text.startswith("Not compared:"):
                labels.setdefault(text, []).append(card["label"])
    return {text: names for text, names in labels.items() if len(names) > 1}


@st.cache_data(max_entries=500, show_spinner=False)
def _cards(path: str, version: str, names: tuple, f: kpilib.Filters, spark_by: str | None,
           last_year: bool) -> tuple[list[str], list[str], list[dict]]:
    """What a row of cards shows: the KPIs left out, the sentences drawn above the row and
    each card (see _card). Cached for every session (st.cache_data is global): viewers of a
    hosted link on the same filters compute a row once, and a card that is a cache hit costs
    no pandas. Everything a card shows follows from the store (data and settings, both in
    ``version``) and the filters."""
    gone = [n for n in names if missing(n)]
    names = [n for n in names if n not in gone]
    notes = []
    # Cards unknown for one reason (fulfilment without shipped dates): one sentence, not four.
    same: dict[str, list[str]] = {}
    for n in names:
        why = reason(n, f)
        if why:
            same.setdefault(why, []).append(n)
    for why, group in same.items():
        if len(group) > 1:
            notes.append(f"{_words([kpilib.get(n).label for n in group])}: {why}")
            names = [n for n in names if n not in group]
    if not names:
        return gone, notes, []
    read(Cards(tuple(names), f, spark_by, last_year))
    return gone, notes, [_card(n, f, spark_by, last_year) for n in names]


def not_final(name: str, filters: kpilib.Filters | None = None) -> str:
    """"Not final: 12 of 30 days still inside the 30-day return window." for a KPI whose
    period is still open; "" once final."""
    f = filters or current_filters()
    m = maturity(name, f.start, f.end)
    return "" if m.final else f"Not final: {caveats.open_text(m, f.days)}."


def mark_final(name: str, df: pd.DataFrame, filters: kpilib.Filters | None = None,
               by: str | None = None) -> pd.DataFrame:
    """``df`` (KPI ``name``'s frame) with a ``final`` column (kpilib.caveats.mark_final)."""
    f = filters or current_filters()
    return caveats.mark_final(kpilib.get(name), df, f.start, f.end, facts().as_of,
                              setting("return_window_days"), by)


def metric(name: str, filters: kpilib.Filters | None = None, spark_by: str | None = None,
           last_year: bool = False):
    """A KPI card: value, change vs the previous period (and, if asked, vs last year), the
    definition as help. A value that is not meaningful is "–" with the reason under it; a value
    that is not final (return window still open) shows that instead of a change, and its
    sparkline only the days that are final."""
    _draw(_card(name, filters or current_filters(), spark_by, last_year), last_year)


def _draw(card: dict, boxed: bool, why: bool = False, box=None) -> None:
    """``box``: the bordered container to draw the card in, if it has one already."""
    # A card with a sparkline is boxed: the line is drawn under the metric, inside its box.
    boxed = boxed or card["spark"] is not None
    if box is None:
        box = st.container(border=True) if boxed else st.container()
    box.metric(card["label"], card["value"], delta=card["delta"], help=card["help"],
               border=not boxed, delta_color=card["delta_color"],
               delta_arrow=card["delta_arrow"])
    if card["spark"] is not None:
        box.html(sparkline(card["spark"], _spark_colour(card), card["spark_label"]))
    for text in card["captions"]:
        box.caption(text)
    if why and card["value"] != "–":
        box.button("Why?", key=f"why_{card['name']}", type="tertiary",
                   icon=":material/troubleshoot:", on_click=open_why, args=(card["name"],),
                   help="What made this figure change: its drivers, each channel's part and "
                        "what else happened on the same days.")


# Streamlit's own colours for a metric's delta (light theme), so the line matches its arrow.
SPARK_COLOURS = {"good": "#09ab3b", "bad": "#ff2b2b", "off": "#a3a8b8"}


def _spark_colour(card: dict) -> str:
    """The delta's colour, as st.metric colours its own chart: by the delta's sign and
    ``delta_color``."""
    delta, how = card["delta"], card["delta_color"]
    if delta is None or how == "off" or delta[:1] not in "+-":
        return SPARK_COLOURS["off"]
    good = (delta[:1] == "+") == (how == "normal")
    return SPARK_COLOURS["good" if good else "bad"]


def sparkline(values: list[float], colour: str, label: str) -> str:
    """A card's trend as one small SVG image: st.metric's own chart is a Vega-Lite chart per
    card, ~15 ms of a browser's time each on every redraw (ten cards on the Overview), where
    an image costs next to nothing. ``label`` is its text for screen readers. (An image, not
    inline SVG: st.html keeps no <svg>.)"""
    lo, hi = min(values), max(values)
    n = len(values)
    # 100 × 30 units, stretched to the card's width; the stroke keeps its width.
    xs = [100 * i / (n - 1) for i in range(n)] if n > 1 else [0, 100]
    ys = [28 - 26 * (v - lo) / (hi - lo) if hi > lo else 15 for v in values]
    path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys if n > 1 else ys * 2))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 30" '
           f'preserveAspectRatio="none"><path d="{path}" fill="none" stroke="{colour}" '
           f'stroke-width="2" stroke-linejoin="round" vector-effect="non-scaling-stroke"/></svg>')
    return (f'<img alt="{html.escape(label)}" src="data:image/svg+xml;base64,'
            f'{base64.b64encode(svg.encode()).decode()}" style="display:block;width:100%;'
            f'height:36px">')


def _card(name: str, f: kpilib.Filters, spark_by: str | None, last_year: bool) -> dict:
    """What :func:`metric` draws, as plain values (cached with its row by _cards)."""
    k = kpilib.get(name)
    label = k.label
    if f.channels and "$channels" not in k.sql + k.base:
        # Shop-wide whatever the channel filter: said on the card, beside filtered cards.
        label += " (all channels)"
    label = kpilib.marketing.filtered_label(name, f.channels) or label
    card = {"name": name, "label": label, "value": "–", "delta": None, "help": help_text(k),
            "spark": None,
            "delta_color": "normal", "delta_arrow": "auto", "captions": []}
    why = reason(name, f)
    if why:
        return {**card, "captions": [why]}
    if k.base:
        _compare_shared(k.base, f)
    now, before = value(name, f), value(name, f.previous_period())
    why = caveats.value_reason(k, now)
    if why:
        return {**card, "captions": [why]}
    prev = f.previous_period()
    # A period the store cannot tell (customers' KPIs before the first stored order) is not
    # a baseline: "+37 pp" against it would read as a jump.
    no_baseline = caveats.before_data(k, facts(), prev.start, prev.end, f.start)
    unknown_before = reason(name, prev) or no_baseline
    if caveats.value_reason(k, before) or unknown_before:
        before = None
    as_of, window = facts().as_of, setting("return_window_days")
    m = caveats.maturity(k, f.start, f.end, as_of, window)
    delta = change(now, before, k.unit) if m.final else caveats.open_text(m, f.days, short=True)
    # A sum of a column some days' exports lack (users in March, not April): said, and not
    # compared with a period that has it on other days.
    partial = caveats.partial_note(k, facts(), f.start, f.end)
    partial_before = caveats.coverage(k, facts(), prev.start, prev.end)
    if partial or partial_before:
        delta = None
    if not m.final:
        card["label"] += ", so far"
    if spark_by:
        series = kpi(name, f, spark_by)
        if not m.final:
            # Only the periods already final: the open ones would read as an improvement.
            series = caveats.mark_final(k, series, f.start, f.end, as_of, window, spark_by)
            series = series[series["final"]]
        card["spark"] = series["value"].fillna(0).tolist() or None
        if card["spark"]:
            # What a screen reader says of the line: its span, lowest and highest point.
            card["spark_label"] = (
                f"{card['label']} by {spark_by}, {formatting.plural(len(series), spark_by)}: "
                f"lowest {fmt(min(card['spark']), k.unit, compact=True)}, highest "
                f"{fmt(max(card['spark']), k.unit, compact=True)}")
    color = {"up": "normal", "down": "inverse", None: "off"}[k.better]
    flat = formatting.is_flat(delta) or not m.final
    card.update(value=fmt(now, k.unit, compact=True), delta=delta or None,
                help=_exact(now, k) + card["help"], delta_color="off" if flat else color,
                delta_arrow="off" if flat else "auto")
    captions = card["captions"]
    if partial:
        captions.append(partial)
    elif partial_before and before is not None:
        column, _have, without = partial_before
        captions.append(f"Not compared: the previous period has no "
                        f"{caveats.OPTIONAL_SUMS[column]} on {caveats.days_text(without)}.")
    if not m.final:
        captions.append(f"Not compared: {caveats.open_text(m, f.days)}.")
    elif unknown_before:
        first = facts().orders_from
        captions.append(
            f"Not compared: {no_baseline[0].lower()}{no_baseline[1:]}" if no_baseline
            # Its days may all be stored (UCI sells nothing on 1 October, a Saturday): what
            # is missing is the orders before them, that tell a new customer from a returning.
            else f"Not compared: in the previous period new and returning customers cannot "
                 f"be told apart (no order is stored before {first:%d %b %Y})."
            if k.history and first
            else f"Not compared with the previous period: {unknown_before}")
    partly = None if unknown_before or before is None or not m.final or partial_before \
        else caveats.partly_before(k, facts(), prev.start, prev.end)
    if partly:
        captions.append(f"Previous period {partly}.")
    short = caveats.short_history(facts(), f.start) if k.history else None
    if short:
        captions.append(short[0].upper() + short[1:] + ".")
    spend = caveats.spend_note(k, facts(), f.start, f.end)
    if spend:
        captions.append(spend)
    if m.final and last_year:
        ly = value(name, f.last_year())
        ly_before = caveats.before_data(k, facts(), f.last_year().start, f.last_year().end,
                                        f.start)
        ly = None if caveats.value_reason(k, ly) or reason(name, f.last_year()) or ly_before \
            else ly
        # Said where the last year holds orders and only less history: before the first
        # order the previous period's caption says so already, on every card.
        thin = caveats.thin_history(k, facts(), f.last_year().start, f.last_year().end,
                                    f.start)
        captions.append(f"Not compared with last year: {thin[0].lower()}{thin[1:]}"
                        if thin else f"vs last year: {change(now, ly, k.unit) or '–'}")
    fc = month_forecast(name, f)
    if fc is not None and fc.value is not None:
        captions.append(forecast_caption(fc))
        card["help"] += "\n\n" + forecast.accuracy_text(fc)
    p = pacing(f, (name,)).get(name)
    if p is not None:
        captions.append(target_caption(p))
    return card


def _exact(v: float | None, k) -> str:
    """The exact value, for a card's help when the card shows it shortened (€1.43 M)."""
    short, full = fmt(v, k.unit, compact=True), fmt(v, k.unit)
    return "" if short == full else f"**{formatting.md_plain(full)}**\n\n"


def pace_text(p: targets.Pace, colour: bool = True) -> str:
    """"on pace for €460k (92 %)": where the month is heading against its target."""
    unit = kpilib.get(p.kpi).unit
    if p.ratio is None:
        return "no pace yet"
    word = ("final" if p.days == p.days_in_month else
            "on pace for" if targets.KINDS[p.kpi] == "sum" else "so far")
    ratio = f"({p.ratio * 100:.0f} % of target)"
    if colour:
        ratio = f":{'red' if p.behind else 'green'}[{ratio}]"
    return f"{word} {fmt(p.forecast, unit, compact=True)} {ratio}"


def target_caption(p: targets.Pace) -> str:
    month = date.fromisoformat(p.month + "-01")
    return (f"{month:%b} target {fmt(p.target, kpilib.get(p.kpi).unit, compact=True)} · "
            f"{pace_text(p)}")


def forecast_caption(fc: forecast.Forecast) -> str:
    """"Nov forecast €16.3k, 80 % chance: €12.7k – €20.2k"."""
    unit = kpilib.get(fc.kpi).unit
    month = date.fromisoformat(fc.month + "-01")
    return f"{month:%b} " + forecast.range_text(fc, lambda v: fmt(v, unit, compact=True))


def verdict(row) -> str:
    """Whether a conversion change (kpilib.stats.compare_rates) is beyond noise (95 %)."""
    if row["change_pp"] is None or row["change_pp"] != row["change_pp"]:
        return ""
    return "beyond noise" if row["significant"] else "within noise"


def fmt_money(v) -> str:
    return fmt(v, "money")


def fmt_count(v) -> str:
    return fmt(v, "count")


def cancelled_words() -> str | None:
    """How the figures count cancelled orders in this store, for a page's header line; None
    where the orders export has no status (UCI): no order is cancelled there, and "they count
    only in the cancellation rate" stood over a cancellation rate "Not tracked"."""
    from kpilib.registry import CANCELLED_SHORT

    if "status" in facts().unfilled:
        return None
    return CANCELLED_SHORT[setting("cancelled_orders")]


def help_text(k) -> str:
    """A card's help: the KPI's definition, with the store's convention for cancelled orders
    where the KPI follows it."""
    from kpilib.registry import definition

    return definition(k, setting("cancelled_orders"))


def later(name: str, rows: dict[str, str] | None = None,
          filters: kpilib.Filters | None = None):
    """A KPI table computed only when a download button calls for it, only its ``rows`` (a
    customer list can be a million rows: never held by the page or the cache). The button's
    callable runs outside the script (no session, no cache), so the store and the filters are
    fixed now."""
    store, _ = active_store()
    con = _connection(str(store.path), store.fingerprint)
    filters = filters or current_filters()
    return lambda: kpilib.run(con, kpilib.get(name), filters, rows=rows)


def downloads(df, name: str, label: str | None = None, units: dict | None = None,
              filters: kpilib.Filters | None = None):
    """CSV and Excel of a table (numbers with their ``units``), or of what a :func:`later`
    callable returns (its columns described by kpilib.export), built only when clicked: numbers
    as numbers, headers in words with their unit, the file named after the table and the
    period (``channels_2026-10-01_2026-10-31.csv``); formula-like text is neutralised. The
    callables run outside the script run: what they need is fixed now."""
    label = label or name.replace("_", " ")
    f = filters or current_filters()
    stem = f"{name}_{f.start:%Y-%m-%d}_{f.end:%Y-%m-%d}"
    cur = currency()

    def frame():
        return export.described(df()) if callable(df) else (df, units or {})

    row = st.container(horizontal=True)
    row.download_button(f"{label} · CSV", lambda: export.to_csv(*frame(), currency=cur),
                        file_name=f"{stem}.csv", mime="text/csv", key=f"csv_{name}",
                        icon=":material/download:")
    row.download_button(f"{label} · Excel",
                        lambda: export.to_excel(frame()[0], name, frame()[1], currency=cur),
                        key=f"xlsx_{name}", file_name=f"{stem}.xlsx", icon=":material/download:",
                        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def table(name: str, df, units: dict | None = None, raw=None,
          filters: kpilib.Filters | None = None, height="auto", estimates=()):
    """A table on a page: ``df`` holds numbers, ``units`` the unit of each number column
    (kpilib.export: a KPI unit, or a change "change" / "pp" / "times_change"). Shown formatted
    for reading; downloaded as those numbers (or as ``raw``, a :func:`later` callable for every
    row). ``estimates``: money columns shown as estimates (formatting.estimate: "€4,200")."""
    if name in kpilib.KPIS and reason(name, filters):
        st.info(f"{kpilib.get(name).label}: {reason(name, filters)}")
        return
    df = pd.DataFrame(df)
    units = units or {}
    shown = df.copy()
    cur = currency()
    for c, unit in units.items():
        if c not in df:
            continue
        shown[c] = df[c].map(lambda v: formatting.estimate(v, cur)) if c in estimates else \
            df[c].map(lambda v, u=unit: formatting.cell(v, u, cur))
    # Names as a spreadsheet must get them: the table's own "Download as CSV" and a copy of
    # its cells carry the names shown, and would write a formula or a CR raw.
    for c in [c for c in shown.columns if c not in units]:
        shown[c] = shown[c].map(export.safe_text)
    st.dataframe(shown, hide_index=True, width="stretch", height=height)
    scroll_hint(shown, name)
    downloads(df if raw is None else raw, name, "Download", units=units, filters=filters)


def scroll_hint(shown: pd.DataFrame | None, name: str) -> None:
    """Under a table too wide for a phone, shown on narrow screens only (NARROW_CSS): a phone
    shows the first columns and nothing says there are more. ``shown`` None: always (an
    editor, whose row numbers, header icons and wider cells a phone never fits)."""
    if shown is None or _width(shown) > PHONE_WIDTH:
        st.container(key=f"narrow_table_{name}").caption(
            ":material/swipe_left: Scroll the table sideways for more columns.")


# What a table may take on a 390 px phone, and what a character takes in it: the grid's
# font is ~7.5 px a character, each cell has 8 px padding on either side.
PHONE_WIDTH, CHAR_PX, CELL_PX = 350, 7.5, 16

# Rules for screens up to 640 px (app.py): a container keyed "narrow_…" (the hint under wide
# tables) shows there only, and the cohort heatmap's cell labels, a few pixels high on a
# phone, give way to its colour bar.
NARROW_CSS = ("<style>@media (min-width: 641px) {[class*='st-key-narrow_'] "
              "{display: none;}} @media (max-width: 640px) {.st-key-cohort_heatmap "
              ".heatmaplayer text {display: none;}}</style>")


def _width(df: pd.DataFrame) -> float:
    """Roughly how wide ``df`` draws: each column as wide as its longest text."""
    return sum(CELL_PX + CHAR_PX * max([len(str(c))] + [len(str(v)) for v in df[c]])
               for c in df.columns)


def definition(name: str) -> str:
    return kpilib.get(name).definition


def by_channel_table(names: list[str], filters: kpilib.Filters | None = None
                     ) -> tuple[pd.DataFrame, dict]:
    """KPIs side by side, one row per channel (those the store can give), and their units
    (for :func:`table`); computed once per store version and filters for every session."""
    store = active_store()[0]
    return _by_channel(str(store.path), store.fingerprint, tuple(names),
                       filters or current_filters())


@st.cache_data(max_entries=200, show_spinner=False)
def _by_channel(path: str, version: str, names: tuple, f: kpilib.Filters
                ) -> tuple[pd.DataFrame, dict]:
    names = [n for n in names if not reason(n, f)]
    if not names:
        return pd.DataFrame(), {}
    read(*(Frame(n, f, "channel") for n in names))
    frames = [kpi(n, f, by="channel").set_index("channel")["value"].rename(n) for n in names]
    df = pd.concat(frames, axis=1).reset_index()
    for n in names:
        # A channel absent from a sum's rows sold or spent nothing: 0, not "no value".
        if kpilib.get(n).empty is not None:
            df[n] = df[n].fillna(kpilib.get(n).empty)
    df = df.sort_values(names[0], ascending=False, na_position="last")
    out = pd.DataFrame({"Channel": df["channel"].map(channel_label)})
    for n in names:
        out[kpilib.get(n).label] = df[n].to_numpy()
    return out.reset_index(drop=True), {kpilib.get(n).label: kpilib.get(n).unit for n in names}


TOP = 15


def top_and_other(df: pd.DataFrame, label: str, by: str, sums=(), ratio=None,
                  n: int = TOP) -> pd.DataFrame:
    """The ``n`` rows with the largest ``by`` and one "Other (k)" row for the rest, so a chart
    of 300 categories stays readable: its ``sums`` columns added up, and ``ratio`` (column,
    numerator, denominator) recomputed from them."""
    df = df.sort_values(by, ascending=False, na_position="last")
    if len(df) <= n + 1:
        return df
    rest = df.iloc[n:]
    other = {label: f"Other ({len(rest):,})", **{c: rest[c].sum() for c in sums}}
    if ratio:
        col, num, den = ratio
        other[col] = rest[num].sum() / rest[den].sum() if rest[den].sum() else float("nan")
    return pd.concat([df.iloc[:n], pd.DataFrame([other])], ignore_index=True)


def has_categories(df: pd.DataFrame) -> bool:
    return caveats.has_categories(df["category"])


def categorised(cats: pd.DataFrame) -> bool:
    """Whether the products have categories to split by (not all "uncategorised"); says which
    export brings them when they have none."""
    if has_categories(cats):
        return True
    st.info("No product categories: upload a products export with a category (product type) "
            "column on the Data page to see this by category.")
    return False


def grain_default() -> str:
    """The grain that keeps a chart of the sidebar's period readable."""
    days = current_filters().days
    return "day" if days <= 62 else "week" if days <= 370 else "month"


def grain(key: str) -> str:
    """Day / week / month picker, :func:`grain_default` at first."""
    default = grain_default()
    picked = st.segmented_control("Show by", ["day", "week", "month"], default=default,
                                  key=key, format_func=str.capitalize)
    return picked or default


def header(title: str, caption: str | None = None):
    f = current_filters()
    st.title(title)
    st.caption(f"{fmt_range(f.start, f.end)} · {filters_words(f)}"
               + (f" · {caption}" if caption else ""))
    # An export cut short reads as a fall on every card: said first (Olist's last days).
    moved = replaced_dates(f)
    if moved:
        st.warning(moved, icon=":material/date_range:")
    gap = caveats.gap_note(facts(), f.start, f.end)
    if gap:
        st.warning(gap, icon=":material/event_busy:")


def filters_words(f: kpilib.Filters) -> str:
    """"Email · mobile · FR, DE": every filter that narrows the page, in the heading, where a
    phone's collapsed sidebar cannot hide that the figures are not the whole shop's."""
    words = [", ".join(formatting.md_plain(channel_label(c)) for c in f.channels)
             if f.channels else "all channels"]
    words += [", ".join(formatting.md_plain(m) for m in getattr(f, s))
              for s in SPLIT_WIDGETS if getattr(f, s)]
    return " · ".join(words)


@st.cache_data(show_spinner=False)
def _script(name: str, filters: kpilib.Filters, by: str | None) -> str:
    try:
        return kpilib.script(kpilib.get(name), filters, by)
    except kpilib.FilterNotApplicable as e:
        return f"-- {e}\n"


def show_sql(name: str, filters: kpilib.Filters | None = None, by: str | None = None) -> None:
    """A collapsed "Show SQL" expander: the SQL KPI ``name`` runs under the filters, then its
    parameters, exactly as ``python -m kpilib sql`` prints it (kpilib.script)."""
    f = filters or current_filters()
    # Filled only once opened (a rerun of the page or fragment): closed, its highlighted SQL
    # was still sent and drawn on every click of a filter, whose dates it names.
    box = st.expander("Show SQL", expanded=False, key=f"show_sql_{name}_{by}",
                      on_change="rerun")
    if box.open:
        with box:
            st.caption(f"{kpilib.get(name).label}, {fmt_range(f.start, f.end)}")
            st.code(_script(name, f, by), language="sql")
