"""Marketing ROI: what each paid channel costs and what it brings back."""
import plotly.express as px
import streamlit as st

import ui

f = ui.require_filters()
ui.header("Marketing ROI")
cols = st.columns(3)
for col, name in zip(cols, ("spend", "attributed_revenue", "roas")):
    with col:
        ui.metric(name)

roas = ui.kpi("roas", by="channel")
if roas.empty:
    st.info("No ad spend in this period: upload ad-platform spend exports on the Data page.")
    st.stop()
roas["channel"] = roas["channel"].map(ui.channel_label)
left, right = st.columns(2)
with left:
    fig = px.bar(roas.sort_values("value"), x="value", y="channel", orientation="h",
                 title="ROAS by channel (attributed revenue ÷ spend)", text_auto=".2f")
    fig.add_vline(x=1, line_dash="dot", annotation_text="revenue = spend",
                  annotation_position="bottom right")
    fig.update_xaxes(title=None)
    fig.update_yaxes(title=None)
    ui.chart(fig, key="roas_by_channel")
with right:
    ui.trend("spend", ui.grain("marketing_grain"), key="spend_by_channel",
             title="Spend by channel", split=True)

table = roas.rename(columns={"channel": "Channel"})
table["Spend"] = table["denominator"].map(lambda v: ui.fmt(v, "money"))
table["Attributed revenue"] = table["numerator"].map(lambda v: ui.fmt(v, "money"))
table["ROAS"] = table["value"].map(lambda v: "–" if v != v else f"{v:.2f}")
st.dataframe(table[["Channel", "Spend", "Attributed revenue", "ROAS"]], hide_index=True,
             width="stretch")
st.caption(ui.definition("roas"))
