"""Funnel: where each channel loses its visitors, session → purchase."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui
from kpilib.funnel import STEPS, steps

f = ui.require_filters()
ui.header("Funnel", "each step counts the sessions that reached it")
ui.metrics(("conversion_rate", "view_to_cart_rate", "cart_to_checkout_rate",
            "checkout_to_purchase_rate", "cart_abandonment_rate"))

counts = ui.step_counts()
table = steps(counts)
labels = [label for _, label in STEPS]


def funnel_trace(values: list[float], name: str | None = None) -> go.Funnel:
    return go.Funnel(y=labels, x=values, name=name, textinfo="value+percent previous",
                     texttemplate="%{value:,.0f}<br>%{percentPrevious:.1%} of previous")


fig = go.Figure(funnel_trace(table["sessions"].tolist()))
fig.update_layout(title="Sessions reaching each step")
ui.chart(fig, key="funnel")
shown = pd.DataFrame({
    "Step": table["step"],
    "Sessions": table["sessions"].map(lambda v: ui.fmt(v, "count")),
    "From previous step": table["step_conversion"].map(lambda v: ui.fmt(v, "ratio")),
    "Drop-off": table["drop_off"].map(lambda v: ui.fmt(v, "ratio")),
    "Of all sessions": table["of_sessions"].map(lambda v: ui.fmt(v, "ratio")),
})
ui.table("funnel_steps", shown)
blended = ui.value("blended_conversion_rate")
st.caption(f"Blended conversion (orders from the order export ÷ sessions): "
           f"{ui.fmt(blended, 'ratio')}. " + ui.definition("blended_conversion_rate"))

st.subheader("Compare")
mode = st.segmented_control("Compare", ["Two channels", "Periods", "Every channel"],
                            default="Two channels", key="funnel_compare") or "Two channels"
if mode == "Two channels":
    options = ui.kpi("sessions", by="channel").sort_values("value", ascending=False)["channel"]
    options = options.tolist()
    if len(options) < 2:
        st.info("Only one channel has traffic in this period.")
    else:
        a, b = st.columns(2)
        first = a.selectbox("Channel", options, index=0, key="funnel_a",
                            format_func=ui.channel_label)
        second = b.selectbox("against", options, index=1, key="funnel_b",
                             format_func=ui.channel_label)
        for col, channel in zip((a, b), (first, second)):
            fig = go.Figure(funnel_trace(list(ui.step_counts(ui.only(f, channel)).values())))
            fig.update_layout(title=ui.channel_label(channel))
            with col:
                ui.chart(fig, key=f"funnel_channel_{'ab'[(a, b).index(col)]}")
elif mode == "Periods":
    periods = {"This period": f, "Previous period": f.previous_period(),
               "Last year": f.last_year()}
    for col, (name, p) in zip(st.columns(3), periods.items()):
        fig = go.Figure(funnel_trace(list(ui.step_counts(p).values())))
        fig.update_layout(title=f"{name}<br><sup>{ui.fmt_range(p.start, p.end)}</sup>")
        with col:
            ui.chart(fig, key=f"funnel_period_{name}")
else:
    by_channel = ui.step_counts(by="channel")
    rows = []
    for channel in by_channel.index:
        t = steps(by_channel.loc[channel].to_dict())
        rows.append({"Channel": ui.channel_label(channel),
                     **{s: ui.fmt(v, "ratio") for s, v in zip(
                         ["Session → view", "View → cart", "Cart → checkout",
                          "Checkout → purchase"], t["step_conversion"][1:])},
                     "Conversion": ui.fmt(t["of_sessions"].iat[-1], "ratio"),
                     "Sessions": ui.fmt(t["sessions"].iat[0], "count")})
    ui.table("funnel_by_channel", rows)

st.subheader("Step rates by week")
rates = ("product_view_rate", "view_to_cart_rate", "cart_to_checkout_rate",
         "checkout_to_purchase_rate")
trend = pd.concat([ui.kpi(n, by="week").assign(step=kpilib.get(n).label) for n in rates])
fig = go.Figure([go.Scatter(x=d["period"], y=d["value"], name=s, mode="lines+markers")
                 for s, d in trend.groupby("step", sort=False)])
fig.update_layout(title="Step conversion, week by week")
fig.update_yaxes(**ui.tick_format("ratio"))
ui.chart(fig, key="funnel_trend")
st.caption(kpilib.funnel.__doc__.split("\n\n")[1].replace("\n", " "))
