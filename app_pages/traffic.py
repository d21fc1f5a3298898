"""Traffic: where visitors come from and how each channel converts."""
import plotly.express as px
import streamlit as st

import ui

f = ui.require_filters()
ui.header("Traffic")
cols = st.columns(4)
for col, name in zip(cols, ("sessions", "users", "new_users", "conversion_rate")):
    with col:
        ui.metric(name)

by = ui.grain("traffic_grain")
ui.trend("sessions", by, key="sessions_by_channel", title="Sessions by channel", split=True)

left, right = st.columns(2)
with left:
    conv = ui.kpi("conversion_rate", by="channel").dropna(subset=["value"])
    conv["channel"] = conv["channel"].map(ui.channel_label)
    fig = px.bar(conv.sort_values("value"), x="value", y="channel", orientation="h",
                 title="Conversion rate by channel", text_auto=".2%")
    fig.update_xaxes(title=None, **ui.tick_format("ratio"))
    fig.update_yaxes(title=None)
    ui.chart(fig, key="conversion_by_channel")
with right:
    ui.trend("conversion_rate", by, key="conversion_trend", title="Conversion rate")

st.subheader("Channels")
table = ui.by_channel_table(["sessions", "conversion_rate", "orders", "net_sales"])
sessions = ui.kpi("sessions", by="channel").set_index("channel")["value"]
share = (sessions / sessions.sum()).rename(lambda c: ui.channel_label(c))
table.insert(2, "Share of sessions", table["Channel"].map(share).map(lambda v: ui.fmt(v, "ratio")))
st.dataframe(table, hide_index=True, width="stretch")
st.caption(ui.definition("conversion_rate"))
