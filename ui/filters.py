"""The shared filters in the sidebar, bound to the URL (a copied link reopens the same view),
and the periods pages derive from them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import streamlit as st

import kpilib
from kpilib import dimensions, engines, formatting
from kpilib.forecast import month_end
from kpilib.periods import PRESETS, preset_range
from ui.session import (_connection, _forget, _private, _span, active_store, facts,
                        shared_mode)


@st.cache_data(show_spinner=False)
def _channels(path: str, version: str) -> list[str]:
    return dimensions.channels(_connection(path, version))


def sidebar_filters() -> kpilib.Filters | None:
    """Draw the shared filters once (app.py) and return them; None when there is no data.

    Each widget is bound to a URL query parameter, so a copied link reopens the same view.
    """
    store, is_demo = active_store()
    span = _span(str(store.path), store.fingerprint)
    if span is None:
        st.session_state["filters"] = None
        return None
    first, last = span
    sb = st.sidebar
    # Monthly exports: data to a month's last day opens on that month ("Last month"), which
    # the last 30 days would cut the 1st off (the walkthrough's 02 – 31 March read as March:
    # £656,294 of its £680,591).
    month_over = (last + timedelta(days=1)).day == 1
    preset = sb.selectbox("Period", PRESETS, index=PRESETS.index("Last month") if month_over
                          else 1, key="period", bind="query-params")
    if preset == "Custom":
        default = (max(first, last - timedelta(days=29)), last)
        # Read before the widget: it drops a link's dates outside min/max without a word.
        asked = None if "dates" in st.session_state else st.query_params.get_all("dates")
        picked = sb.date_input("Dates", value=default, min_value=first, max_value=last,
                               key="dates", bind="query-params", format="YYYY-MM-DD")
        start, end = (picked + (picked[0],))[:2] if picked else default
        if asked:
            _remember_replaced(asked, (first, last), (start, end))
    else:
        start, end = preset_range(preset, last)
        # Trimmed to the data's first day, unless the whole range lies before it (last month
        # of a store that starts this month): then it stays as it is, and empty.
        start = max(start, first) if end >= first else start
    options = _channels(str(store.path), store.fingerprint)
    if "channels" not in st.session_state:
        # Bound by hand, not with bind="query-params": that binding writes the displayed label
        # ("Paid search") into the URL, and links must carry the canonical name (paid_search).
        st.session_state["channels"] = [c for c in st.query_params.get_all("channels")
                                        if c in options]
    channels = sb.multiselect("Channels", options, key="channels",
                              format_func=formatting.channel_words, placeholder="All channels")
    if channels:
        st.query_params["channels"] = channels
    else:
        st.query_params.pop("channels", None)
    filters = kpilib.Filters(start, end, tuple(channels), **_split_filters(sb, store))
    prev = filters.previous_period()
    sb.caption(f"{fmt_range(start, end)} · compared with {fmt_range(prev.start, prev.end)}")
    # The last day an export holds, not the month's end the presets close on (month_close).
    sb.caption(f"Data from {first:%d %b %Y} to {facts().stored_to:%d %b %Y}.")
    engine = engines.engine_settings(store)
    if engine["name"] != "duckdb":
        sb.caption(f"Computed by Spark ({engine['master']}).")
    if shared_mode() and store.path == Path(_private()):
        sb.info("You are looking at **your own uploads**, private to this browser tab.")
        if sb.button("Back to the shop's data", key="discard_private"):
            _forget(str(store.path))
            Path(store.path).mkdir()
            st.rerun()
    elif is_demo:
        sb.info("You are looking at the **demo shop**. Upload your own exports on the Data "
                "page to replace it.")
    st.session_state["filters"] = filters
    return filters


# The device, country and category filters: widget key, URL parameter, label, placeholder.
SPLIT_WIDGETS = {"devices": ("devices", "Devices", "All devices"),
                 "countries": ("countries", "Countries", "All countries"),
                 "categories": ("product_categories", "Product categories", "All categories")}


@st.cache_data(show_spinner=False)
def _members(path: str, version: str, split: str) -> list[str]:
    return dimensions.members(_connection(path, version), split)


def _split_filters(sb, store) -> dict[str, tuple[str, ...]]:
    """The device, country and product-category multiselects, each drawn when the store holds
    more than one member, bound to the URL by hand as the channels are (``?countries=FR``).
    Every page applies them; a figure whose data lacks the dimension says so."""
    chosen = {}
    for split, (key, label, placeholder) in SPLIT_WIDGETS.items():
        options = _members(str(store.path), store.fingerprint, split)
        if len(options) < 2:
            continue
        if key not in st.session_state:
            st.session_state[key] = [m for m in st.query_params.get_all(split) if m in options]
        picked = sb.multiselect(label, options, key=key, placeholder=placeholder)
        if picked:
            st.query_params[split] = picked
        else:
            st.query_params.pop(split, None)
        chosen[split] = tuple(picked)
    return chosen


def _remember_replaced(asked: list[str], span: tuple[date, date],
                       shown: tuple[date, date]) -> None:
    """Keep, for :func:`replaced_dates`, the sentence saying a link's dates were not shown."""
    try:
        days = [date.fromisoformat(d) for d in asked]
        wanted = fmt_range(days[0], days[-1])
        same = (days[0], days[-1]) == shown
    except ValueError:
        wanted = f"“{formatting.md_plain(', '.join(asked))}”, which is no date range"
        same = False
    if not same:
        st.session_state["dates_replaced"] = (
            shown, f"The link asked for {wanted}; the stored data covers "
                   f"{fmt_range(*span)}, so this page shows {fmt_range(*shown)} instead.")


def replaced_dates(f: kpilib.Filters) -> str:
    """The sentence saying the link's dates were replaced, while the page still shows the
    dates put in their place ("" once other dates are chosen)."""
    shown, text = st.session_state.get("dates_replaced", (None, ""))
    if shown != (f.start, f.end):
        # Other dates chosen since: the link's are forgotten.
        st.session_state.pop("dates_replaced", None)
        return ""
    return text


def current_filters() -> kpilib.Filters:
    return st.session_state["filters"]


def require_filters() -> kpilib.Filters:
    """The page's filters, or a friendly stop when the store holds nothing to show."""
    f = st.session_state.get("filters")
    if f is None:
        if active_store()[0].is_empty():
            st.info("No data yet: upload your exports on the Data page.")
        else:
            # Products alone: they name and cost SKUs, and date nothing.
            st.info("Only products are stored: they name and cost the SKUs but fill no "
                    "figure by themselves. Upload orders, traffic, ad spend or stock snapshots "
                    "on the Data page.")
        st.page_link("app_pages/data.py", label="Open the Data page",
                     icon=":material/arrow_forward:")
        st.stop()
    return f


def fmt_range(start: date, end: date) -> str:
    if start.day == 1 and end == month_end(start):
        # A calendar month by its name: "01 Mar – 31 Mar 2011" reads as any 31 days.
        return f"{start:%B %Y}"
    if start == end:
        return f"{start:%d %b %Y}"
    if start.year == end.year:
        return f"{start:%d %b} – {end:%d %b %Y}"
    return f"{start:%d %b %Y} – {end:%d %b %Y}"


def months() -> list[str]:
    """Every month with data, latest complete month first (the month a report is made for)."""
    store, _ = active_store()
    first, last = _span(str(store.path), store.fingerprint)
    out, m = [], first.replace(day=1)
    while m <= last:
        out.append(f"{m:%Y-%m}")
        m = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
    complete = [x for x in out if x != f"{last:%Y-%m}" or
                (last + timedelta(days=1)).day == 1]
    return list(reversed(complete or out))


def history(f: kpilib.Filters, months: int) -> kpilib.Filters:
    """The ``months`` calendar months ending with the period (Filters.trailing_months), from
    the first stored day at the earliest: months before it would read as zeros."""
    t = f.trailing_months(months)
    return replace(t, start=min(max(t.start, data_start()), f.start))


def data_start():
    store, _ = active_store()
    return _span(str(store.path), store.fingerprint)[0]


def data_end():
    store, _ = active_store()
    return _span(str(store.path), store.fingerprint)[1]


def only(f: kpilib.Filters, channel: str) -> kpilib.Filters:
    """The same filters, narrowed to one channel."""
    from dataclasses import replace

    return replace(f, channels=(channel,))


_WHY = ("why", "why_from", "why_to", "why_vs")


def open_why(name: str, start: date | None = None, end: date | None = None) -> None:
    """Open the "Why?" view of KPI ``name``: over the page's period, or from ``start`` to
    ``end`` (one day: an unusual day, compared with the same weekday a week before)."""
    close_why()
    st.query_params["why"] = name
    if start is not None:
        st.query_params["why_from"] = start.isoformat()
        st.query_params["why_to"] = (end or start).isoformat()


def close_why() -> None:
    for p in _WHY:
        st.query_params.pop(p, None)
    st.session_state.pop("why_vs", None)
