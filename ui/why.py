"""The "Why?" view: what made a figure change (kpilib.explain), opened by ?why=KPI."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import date

import pandas as pd
import streamlit as st

import kpilib
from kpilib import caveats, formatting
from ui.session import _connection, _facts, active_store, currency, facts, setting
from ui.filters import close_why, fmt_range
from ui.components import channel_label, fmt, table
from ui.charts import chart, tick_format


# The "Why?" view: opened by ?why=KPI (and ?why_from=…&why_to=YYYY-MM-DD for other days than
# the page's: an unusual day, a month behind its target), so a link reopens it; the period
# compared with is ?why_vs.
WHY_VS = {"previous": "the previous period", "last_year": "last year",
          "week": "the same weekday a week before"}


@st.cache_data(max_entries=200, show_spinner=False)
def _explained(path: str, version: str, name: str, f: kpilib.Filters,
               compared: kpilib.Filters, window: int, currency: str | None) -> dict:
    from kpilib import explain

    return explain.explain(_connection(path, version), name, f, compared,
                           known=_facts(path, version), window_days=window, currency=currency)


def explanation(name: str, f: kpilib.Filters, compared: kpilib.Filters) -> dict:
    """kpilib.explain.explain of KPI ``name``, cached per store version for every session."""
    store = active_store()[0]
    return _explained(str(store.path), store.fingerprint, name, f, compared,
                      setting("return_window_days"), currency())


def why_request(f: kpilib.Filters):
    """(KPI, filters, comparison choices) the URL asks the "Why?" view for, or None."""
    name = st.query_params.get("why")
    if name not in kpilib.KPIS or kpilib.get(name).table:
        return None
    try:
        start, end = (date.fromisoformat(st.query_params.get(p, "")) for p in ("why_from",
                                                                              "why_to"))
        # Days past the data's end are not compared with days that had data
        # (kpilib.caveats.to_date).
        g = caveats.to_date(replace(f, start=start, end=end), facts().as_of)
    except ValueError:   # none given, or not dates, or the wrong way round: the page's period
        return name, f, ("previous", "last_year")
    return name, g, (("week",) if g.days == 1 else ()) + ("previous", "last_year")


def why_view(f: kpilib.Filters) -> None:
    """The "Why?" dialog, when the URL asks for it (:func:`why_request`)."""
    asked = why_request(f)
    if asked is None:
        return
    name, g, choices = asked
    _why_dialog(name, g, choices)


@st.dialog("What changed", width="large", on_dismiss=close_why)
def _why_dialog(name: str, f: kpilib.Filters, choices: tuple[str, ...]) -> None:
    import plotly.graph_objects as go

    from kpilib import explain

    k = kpilib.get(name)
    if "why_vs" not in st.session_state:
        asked = st.query_params.get("why_vs")
        st.session_state["why_vs"] = asked if asked in choices else choices[0]
    vs = st.segmented_control("Compared with", choices, key="why_vs",
                              format_func=WHY_VS.get) or choices[0]
    st.query_params["why_vs"] = vs
    compared = {"week": explain.week_before, "previous": lambda g: g.previous_period(),
                "last_year": lambda g: g.last_year()}[vs](f)
    try:
        out = explanation(name, f, compared)
    except kpilib.FilterNotApplicable as e:
        st.info(str(e))
        return
    cur = currency()
    st.markdown(f"**{_nobreak(formatting.md_plain(explain.headline(out, cur), 400))}**")
    st.caption(f"{fmt_range(f.start, f.end)} against {fmt_range(compared.start, compared.end)}"
               + (f" · {', '.join(map(channel_label, f.channels))}" if f.channels else ""))
    if out["change"] is None:
        return
    for note in out["notes"]:
        st.caption(note)
    unit = k.unit
    if out["formula"]:
        drivers = out["drivers"]
        st.markdown(f"**{formatting.md_plain(out['formula'], 300)}**")
        labels = [f"{'Before' if vs != 'last_year' else 'Last year'}",
                  *[d["label"] for d in drivers], "Now"]
        # Read top to bottom, labels on the left: long driver names fit a phone's width.
        levels = [out["compared"]]
        for d in drivers:
            levels.append(levels[-1] + d["effect"])
        low, high = min(levels + [out["current"]]), max(levels + [out["current"]])
        pad = (high - low) * 0.35 or abs(high) * 0.1 or 1
        fig = go.Figure(go.Waterfall(
            orientation="h", y=labels,
            measure=["absolute", *["relative"] * len(drivers), "total"],
            x=[out["compared"], *[d["effect"] for d in drivers], out["current"]],
            text=[fmt(out["compared"], unit, compact=True),
                  *[explain.effect_text(unit, d["effect"], cur) for d in drivers],
                  fmt(out["current"], unit, compact=True)],
            # Before and Now inside their bars (long, from 0); each change beside its own.
            textposition=["inside", *["outside"] * len(drivers), "inside"],
            connector={"line": {"color": "#bbb"}},
            increasing={"marker": {"color": "#2e7d32" if k.better != "down" else "#c62828"}},
            decreasing={"marker": {"color": "#c62828" if k.better != "down" else "#2e7d32"}},
            totals={"marker": {"color": "#5f6b7a"}}))
        fig.update_layout(showlegend=False, hovermode="closest",
                          height=120 + 48 * len(labels))
        # From 0: an axis from the bars' ends drew "Now" four times "Before" for a rise of
        # half. A small change is a thin bar, its figure written beside it; room on the right
        # for those figures on a phone.
        room = max(pad, 0.6 * abs(high))
        fig.update_xaxes(title=None, range=[0 if low >= 0 else low - pad, high + room],
                         **tick_format(unit))
        # A driver is named by its KPI's label ("Average order value (before returns)"):
        # wrapped, so that on a phone it leaves the bars and their figures room (tick text:
        # the escaped category names would show "<br>").
        fig.update_yaxes(title=None, autorange="reversed", tickmode="array", tickvals=labels,
                         ticktext=["<br>".join(textwrap.wrap(formatting.plain(t), 20))
                                   for t in labels])
        chart(fig, key=f"why_waterfall_{name}")
        st.caption("Each driver's part is the average of what changing it alone would have "
                   "done, over every sequence the drivers could be changed in (Shapley): the parts "
                   "add up to the change exactly.")
        for d in drivers:
            if d["effect"]:
                st.markdown(_line(explain.driver_text(d, unit, cur)))
        if out.get("conversion"):
            # "3.16 %" kept on one line of a phone.
            st.info(formatting.md_plain(out["conversion"].replace(" %", "\u00a0%"), 400),
                    icon=":material/info:")
    if out["by"]:
        tabs = st.tabs([f"By {explain.DIMENSIONS[d]}" for d in out["by"]])
        for tab, (d, rows) in zip(tabs, out["by"].items()):
            with tab:
                for r in rows[:3]:
                    st.markdown(_line(explain.member_text(d, r, k.label, unit, cur,
                                                          out.get("names"),
                                                          bool(out.get("first_seen")))))
                df, units = _why_table(d, rows, k, out.get("names"),
                                       bool(out.get("first_seen")))
                # Every line shown: the products beyond the top 10 are the last one.
                table(f"why_{name}_by_{d}", df, units, filters=f, height="content")
                if k.ratio:
                    st.caption("For a rate, each member's part is its own rate's change "
                               "(weighted by its average share) plus the change of its share "
                               "(weighted by its average rate): traffic moving to a weaker "
                               "channel lowers the rate even when every channel improves.")
    if out["not_split"]:
        st.caption(explain.split_note(out))
    if out["causes"]:
        st.markdown("**On the same days**")
        for c in out["causes"]:
            st.markdown(_line(c["text"]))


def _line(text: str) -> str:
    """A sentence of the "Why?" view as a Markdown list item."""
    return "- " + _nobreak(formatting.md_plain(text, 400))


def _nobreak(text: str) -> str:
    """A sign kept with its amount: a phone's line would break between "+" and "€1,417.75"."""
    import re

    return re.sub(r"([+−±])(?=[^\s])", "\\1\u2060", text)


def _why_table(dimension: str, rows: list[dict], k, names: dict | None = None,
               first_seen: bool = False) -> tuple[pd.DataFrame, dict]:
    """The ranked table of one dimension: numbers, and their units for :func:`table`."""
    from kpilib import explain

    effect_unit = {"ratio": "pp", "times": "times_change"}.get(k.unit, k.unit)
    scale = 100 if k.unit == "ratio" else 1
    df = pd.DataFrame({
        explain.DIMENSIONS[dimension].capitalize(): [
            explain.member_words(dimension, r["member"], names, first_seen) for r in rows],
        # The effect next to the name: on a phone the columns after it scroll out of view.
        "Effect": [r["effect"] * scale for r in rows],
        "Before": [r["compared"] for r in rows], "Now": [r["current"] for r in rows]})
    units = {"Before": k.unit, "Now": k.unit, "Effect": effect_unit}
    if any(r.get("drivers") for r in rows):
        # A sum's member split by the formula: what moved it most, in words.
        df["Mostly"] = [explain.driver_phrase(r["drivers"][0], k.unit, currency())
                        if r.get("drivers") else "" for r in rows]
    if k.ratio:
        df["Of which its share"] = [None if r["mix_effect"] is None else r["mix_effect"] * scale
                                    for r in rows]
        df["Of which its rate"] = [None if r["rate_effect"] is None
                                   else r["rate_effect"] * scale for r in rows]
        units.update({"Of which its share": effect_unit, "Of which its rate": effect_unit})
    return df, units
