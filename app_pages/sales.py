"""Sales: orders, revenue and average basket, over time and by channel."""
import streamlit as st

import ui

f = ui.require_filters()
ui.header("Sales", "cancelled orders excluded")
cols = st.columns(5)
for col, name in zip(cols, ("gross_sales", "discounts", "returns", "net_sales", "aov")):
    with col:
        ui.metric(name)

by = ui.grain("sales_grain")
ui.trend("net_sales", by, key="net_sales_by_channel", title="Net sales by channel", split=True)
left, right = st.columns(2)
with left:
    ui.trend("orders", by, key="orders_trend")
with right:
    ui.trend("aov", by, key="aov_trend")

st.subheader("By channel")
st.dataframe(ui.by_channel_table(["net_sales", "gross_sales", "discounts", "returns", "orders",
                                  "aov"]), hide_index=True, width="stretch")
st.caption(ui.definition("net_sales"))
