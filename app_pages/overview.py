"""Overview: how is the shop doing? Cards with their change, the trend, the channels."""
import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui

f = ui.require_filters()
ui.header("Overview", "changes are against the previous period of the same length")
spark = "day" if f.days <= 92 else "week"
for row in (("net_sales", "orders", "aov", "sessions", "conversion_rate"),
            ("new_customers", "returning_customer_rate", "returns", "spend", "roas")):
    for col, name in zip(st.columns(len(row)), row):
        with col:
            ui.metric(name, spark_by=spark)

CHOICES = ("net_sales", "orders", "sessions", "conversion_rate", "aov", "new_customers", "spend")
name = st.selectbox("Trend", CHOICES, format_func=lambda n: kpilib.get(n).label, key="trend_kpi")
k = kpilib.get(name)
by = "day" if f.days <= 92 else "week"
now, before = ui.kpi(name, by=by), ui.kpi(name, f.previous_period(), by)
fig = go.Figure()
fig.add_scatter(x=now["period"], y=now["value"], name="This period", mode="lines+markers")
# The previous period drawn on this period's dates, so the two lines can be compared day by day.
fig.add_scatter(x=now["period"][: len(before)], y=before["value"][: len(now)],
                name="Previous period", mode="lines", line=dict(dash="dot", color="#9aa0a6"))
fig.update_layout(title=f"{k.label} by {by}", hovermode="x unified")
fig.update_yaxes(**ui.tick_format(k.unit))
ui.chart(fig, key="overview_trend")
st.caption(k.definition)

st.subheader("By channel")
ui.table("channels", ui.by_channel_table(["net_sales", "orders", "sessions", "conversion_rate",
                                          "aov"]))
