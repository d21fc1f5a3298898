"""Funnel: where each channel loses its visitors, session → purchase."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui
from kpilib.funnel import STEPS, steps
from ui.plan import Cards, Frame, chosen, read

f = ui.require_filters()
ui.header("Funnel", "each step counts the sessions that reached it")
if not ui.need("traffic", what="the funnel") \
        or not ui.split_by(("sessions",), "sessions and the funnel's steps"):
    st.stop()
CARDS = ("conversion_rate", "view_to_cart_rate", "cart_to_checkout_rate",
         "checkout_to_purchase_rate", "cart_abandonment_rate")
MODES = ["Two channels", "Periods", "Every channel"]
WEEKLY = [n for n in ("product_view_rate", "view_to_cart_rate", "cart_to_checkout_rate",
                      "checkout_to_purchase_rate") if not ui.reason(n)]
mode = chosen("funnel_compare", MODES[0], MODES)
# Each step's count over the period (over the periods compared: the same daily series), by
# channel for the channels compared, the blended conversion and the step rates by week.
read(Cards(CARDS), *(Frame(n) for n, _ in STEPS),
     *(Frame(n, by="channel") for n, _ in STEPS if mode != "Periods"),
     *([Frame("blended_conversion_rate")] if ui.has("orders") else []),
     *(Frame(n, by="week") for n in WEEKLY))

ui.show_sql("conversion_rate")
ui.metrics(CARDS)

untracked = ui.facts().untracked
tracked = [(name, label) for name, label in STEPS if name not in untracked]
if untracked:
    st.caption("Not tracked by the traffic export: "
               + ", ".join(label for name, label in STEPS if name in untracked)
               + ". Each step is compared with the last tracked step before it.")


SHORT = {"sessions": "Session", "product_views": "view", "add_to_carts": "cart",
         "checkouts": "checkout", "purchases": "purchase"}


def funnel_trace(counts: dict, name: str | None = None) -> go.Funnel:
    return go.Funnel(y=[label for _, label in tracked], x=[counts[n] for n, _ in tracked],
                     name=name, textinfo="value+percent previous",
                     texttemplate="%{value:,.0f}<br>%{percentPrevious:.1%} of previous")


def funnel_chart(counts: dict, title: str, key: str) -> None:
    """The funnel of ``counts``; a period without sessions says so (a funnel of zeros would
    read 100 % at every step)."""
    if not counts["sessions"]:
        st.info(f"{title}: no sessions.")
        return
    fig = go.Figure(funnel_trace(counts))
    fig.update_layout(title=title)
    ui.chart(fig, key=key)


counts = ui.step_counts()
table = steps(counts, untracked)
funnel_chart(counts, "Sessions reaching each step", "funnel")


RATES = {"From previous step": "ratio", "Drop-off": "ratio", "Of all sessions": "ratio"}
shown = pd.DataFrame({
    "Step": table["step"], "Sessions": table["sessions"],
    "From previous step": table["step_conversion"], "Drop-off": table["drop_off"],
    "Of all sessions": table["of_sessions"]})
if untracked:
    shown["Note"] = ["" if t else "not tracked by the export" for t in table["tracked"]]
ui.table("funnel_steps", shown, {"Sessions": "count", **RATES})
if ui.has("orders"):
    blended = ui.value("blended_conversion_rate")
    st.caption(f"Blended conversion (orders from the order export ÷ sessions): "
               f"{ui.fmt(blended, 'ratio')}. " + ui.definition("blended_conversion_rate"))

st.subheader("Compare")
mode = st.segmented_control("Compare", MODES, default=MODES[0],
                            key="funnel_compare") or MODES[0]
# Each channel's steps, as the filters narrowed to it would count them.
by_channel = ui.step_counts(by="channel") if mode != "Periods" else None
if mode == "Two channels":
    options = by_channel["sessions"][by_channel["sessions"] > 0].sort_values(
        ascending=False).index.tolist()
    if not options:
        st.info("No channel has traffic in this period.")
    elif len(options) < 2:
        st.info(f"Only one channel has traffic in this period: "
                f"{ui.channel_label(options[0])}.")
    else:
        a, b = st.columns(2)
        first = a.selectbox("Channel", options, index=0, key="funnel_a",
                            format_func=ui.channel_label)
        second = b.selectbox("against", options, index=1, key="funnel_b",
                             format_func=ui.channel_label)
        for col, channel in zip((a, b), (first, second)):
            with col:
                funnel_chart(by_channel.loc[channel].to_dict(), ui.channel_label(channel),
                             f"funnel_channel_{'ab'[(a, b).index(col)]}")
elif mode == "Periods":
    periods = {"This period": f, "Previous period": f.previous_period(),
               "Last year": f.last_year()}
    for col, (name, p) in zip(st.columns(3), periods.items()):
        with col:
            funnel_chart(ui.step_counts(p), f"{name}<br><sup>{ui.fmt_range(p.start, p.end)}</sup>",
                         f"funnel_period_{name}")
else:
    rows = []
    for channel in by_channel.index:
        t = steps(by_channel.loc[channel].to_dict(), untracked).set_index("step")
        rows.append({"Channel": ui.channel_label(channel),
                     # each tracked step from the tracked step before it
                     **{f"{SHORT[a]} → {SHORT[b]}": t.loc[label, "step_conversion"]
                        for (a, _), (b, label) in zip(tracked, tracked[1:])},
                     "Conversion": t["of_sessions"].iat[-1],
                     "Sessions": t["sessions"].iat[0]})
    ui.table("funnel_by_channel", rows, {
        **{f"{SHORT[a]} → {SHORT[b]}": "ratio" for (a, _), (b, _) in zip(tracked, tracked[1:])},
        "Conversion": "ratio", "Sessions": "count"})

if WEEKLY:
    st.subheader("Step rates by week")
    trend = pd.concat([ui.kpi(n, by="week").assign(step=kpilib.get(n).label) for n in WEEKLY])
    fig = go.Figure([go.Scatter(x=d["period"], y=d["value"], name=s, mode="lines+markers")
                     for s, d in trend.groupby("step", sort=False)])
    fig.update_layout(title="Step conversion, week by week")
    # From 0, as every trend: a scale from 10 % made a few points' change a swing.
    fig.update_yaxes(rangemode="tozero", **ui.tick_format("ratio"))
    ui.period_axis(fig, "week", trend["period"])
    ui.chart(fig, key="funnel_trend")
    ui.part_periods_note("week")
st.caption(kpilib.funnel.__doc__.split("\n\n")[1].replace("\n", " "))
