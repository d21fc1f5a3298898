"""The Plotly figures every page shares, in one style."""

from __future__ import annotations

import textwrap

import pandas as pd
import plotly.express as px
import streamlit as st

import kpilib
from kpilib import caveats, formatting
from ui.session import currency, facts, missing, reason
from ui.filters import current_filters
from ui.plan import kpi
from ui.components import channel_label, missing_note


def tick_format(unit: str) -> dict:
    if unit == "ratio":
        return {"tickformat": ".1%"}
    if unit == "money":
        return {"tickprefix": formatting.symbol(currency()), "tickformat": ",.0f"}
    if unit == "times":
        return {"ticksuffix": "×", "tickformat": ",.1f"}
    if unit == "decimal":
        return {"tickformat": ",.2f"}
    return {"tickformat": ",.0f"}


def bar_text(fig, unit: str):
    """Each bar's value written on it as the axis writes it (money with its currency sign)."""
    t = tick_format(unit)
    for trace in fig.data:
        axis = "x" if trace.orientation == "h" else "y"
        trace.texttemplate = (f"{t.get('tickprefix', '')}%{{{axis}:{t['tickformat']}}}"
                              f"{t.get('ticksuffix', '')}")


def chart(fig, key: str):
    draw_chart(styled(fig), key)


# Characters of a chart title on one line: what a 390 px phone shows whole.
TITLE_LINE = 42


def styled(fig):
    """``fig`` in the style every chart of the app has (changed in place and returned)."""
    formatting.plain_figure(fig)
    # Labels inside narrow bars are otherwise turned sideways to fit.
    fig.update_traces(textangle=0, selector={"type": "bar"})
    # The legend under the plot, across: at the right it took half a phone's width. Lower
    # under an x-axis title, which sits below the tick labels (the LTV chart's "Months since
    # the first order" was written over its legend).
    titled = bool(fig.layout.xaxis.title.text)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), legend_title_text="",
                      legend=dict(orientation="h", yanchor="top", y=-0.25 if titled else -0.12,
                                  x=0, xanchor="left"))
    fig.update_traces(cliponaxis=False, selector={"type": "waterfall"})
    title = fig.layout.title.text
    if title and len(title) > TITLE_LINE and "<br>" not in title:
        # Plotly does not wrap a title: a phone showed "…(paid channel" and no more. As many
        # lines as it takes: a second line of 52 characters still lost "…acquisition"'s end.
        lines = textwrap.wrap(title, TITLE_LINE - 1)   # each cut before the 42nd character
        fig.update_layout(title_text="<br>".join(lines), margin_t=40 + 24 * (len(lines) - 1))
    if fig.layout.hovermode is None:
        fig.update_layout(hovermode="x unified")
    return fig


def draw_chart(fig, key: str):
    """A figure already :func:`styled` (one shared by every session, built once: drawing it
    leaves it unchanged)."""
    st.plotly_chart(fig, key=key, width="stretch",
                    config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}})


def trend(name: str, by: str, key: str, title: str | None = None, split: bool = False,
          filters: kpilib.Filters | None = None) -> bool:
    """A KPI over time: one line, or stacked areas per channel when ``split``. A KPI the
    store cannot give is the sentence naming the export that fills it (or why it is
    unknown) instead; False then, so that a caption about the chart is not left under it."""
    k = kpilib.get(name)
    if missing(name):
        missing_note([name])
        return False
    if reason(name, filters):
        st.info(f"{k.label}: {reason(name, filters)}")
        return False
    f = filters or current_filters()
    partial = caveats.partial_note(k, facts(), f.start, f.end)
    if partial:
        st.caption(partial)
    if split:
        df = kpi(name, filters, by=(by, "channel"))
        if len(df) and set(df["channel"]) == {"unknown"}:
            # Orders with no channel (UCI): one area labelled "Unknown" under a title "by
            # channel" read as a channel of that name selling everything.
            st.caption(f"{k.label} is not split by channel: the orders export gives no order "
                       "a channel.")
            split, title = False, k.label
    if split:
        df["channel"] = df["channel"].map(channel_label)
        if k.ratio or k.unit == "decimal":
            # Averages and rates do not add up across channels: one line each.
            fig = px.line(df, x="period", y="value", color="channel", title=title or k.label)
        else:
            # Stacked areas cannot show a negative day (refunds above sales); stacked bars can.
            # Months are totals, bars too: one month's areas drew nothing, three drew a slope
            # through weeks that have no figure of their own.
            draw = px.bar if (df["value"] < 0).any() or by == "month" or \
                df["period"].nunique() < 3 else px.area
            fig = draw(df, x="period", y="value", color="channel", title=title or k.label)
    else:
        df = kpi(name, filters, by=by)
        fig = px.line(df, x="period", y="value", title=title or k.label, markers=by != "day")
    # From 0, as the Overview's trend: a scale cut near the lowest day makes a dip a fall.
    fig.update_yaxes(title=None, rangemode="tozero", **tick_format(k.unit))
    fig.update_xaxes(title=None)
    period_axis(fig, by, df["period"])
    chart(fig, key)
    part_periods_note(by, f)
    return True


# How a point of each grain is written under a chart of a few of them.
PERIOD_TICKS = {"day": "%d %b %Y", "week": "%d %b %Y", "month": "%b %Y"}


def period_axis(fig, by: str, periods) -> None:
    """A chart by day, week or month of three points or fewer, labelled by its points:
    Plotly's own ticks for them are hours ("23:59:59.999 Sep 30, 2026" under last month by
    month). More points keep Plotly's ticks, which a phone fits."""
    points = sorted(pd.to_datetime(pd.Series(list(periods))).dropna().unique())
    if by in PERIOD_TICKS and 0 < len(points) <= 3:
        fig.update_xaxes(tickvals=points,
                         ticktext=[pd.Timestamp(p).strftime(PERIOD_TICKS[by]) for p in points])


def part_periods_note(by: str, filters: kpilib.Filters | None = None) -> None:
    """Under a chart by week or month: which of its points cover fewer days than the others
    (the dates cut them), so that a short week's sum is not read as a fall."""
    f = filters or current_filters()
    note = caveats.part_periods_text(by, f.start, f.end)
    # In a place that is always there: a period with part weeks and one without keep what
    # follows in its place in the page (the browser updates it, bench/README.md).
    slot = st.empty()
    if note:
        slot.caption(note)


def cohort_curves(df: pd.DataFrame, y: str, title: str, key: str, x_title: str,
                  extra=None, named=None):
    """One line per cohort (``cohort``, ``k``, ``y``, ``final``), readable with a dozen
    cohorts: colours from light (oldest) to dark (latest), the part not final dashed.
    ``extra(fig, cohort, rows, colour)`` adds a cohort's own lines (payback's CAC);
    ``named(cohort)`` names a cohort in the legend (its month, by default)."""
    import plotly.colors
    import plotly.graph_objects as go

    cohorts = sorted(df["cohort"].unique())
    colours = plotly.colors.sample_colorscale(
        "Blues", [0.35 + 0.65 * i / max(len(cohorts) - 1, 1) for i in range(len(cohorts))])
    fig = go.Figure()
    for cohort, colour in zip(cohorts, colours):
        rows = df[df["cohort"] == cohort].sort_values("k")
        name = named(cohort) if named else f"{cohort:%b %Y}"
        done = rows[rows["final"]]
        # The open part starts from the last final point, so the line does not break.
        open_ = rows[~rows["final"]] if done.empty else rows[rows["k"] >= done["k"].max()]
        hover = f"{name}, month %{{x}}: %{{y:,.2f}}<extra></extra>"
        fig.add_scatter(x=done["k"], y=done[y], name=name, legendgroup=name, mode="lines+markers",
                        line={"color": colour}, hovertemplate=hover)
        if len(open_) > (0 if done.empty else 1):
            fig.add_scatter(x=open_["k"], y=open_[y], name=f"{name} (not final)",
                            legendgroup=name, showlegend=done.empty, mode="lines+markers",
                            line={"color": colour, "dash": "dot"},
                            marker={"symbol": "circle-open"},
                            hovertemplate=hover.replace("<extra>", " (not final)<extra>"))
        if extra:
            extra(fig, cohort, rows, colour)
    fig.update_layout(title=title, hovermode="closest")
    fig.update_xaxes(title=x_title, dtick=1)
    # From 0: a scale from €95 drew €97 against €117 as a fivefold gap.
    fig.update_yaxes(title=None, rangemode="tozero", **tick_format("money"))
    chart(fig, key)
