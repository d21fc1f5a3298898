"""Customers: new and returning, with first orders taken from the whole history."""
import pandas as pd
import plotly.express as px
import streamlit as st

import ui

f = ui.require_filters()
guests = ui.value("guest_orders")
ui.header("Customers", f"{ui.fmt(guests, 'count')} guest orders (no customer id) are not counted "
                       "here")
cols = st.columns(4)
for col, name in zip(cols, ("customers", "new_customers", "returning_customers",
                            "returning_customer_rate")):
    with col:
        ui.metric(name)

by = ui.grain("loyalty_grain")
new = ui.kpi("new_customers", by=by).assign(kind="New")
ret = ui.kpi("returning_customers", by=by).assign(kind="Returning")
fig = px.bar(pd.concat([new, ret]), x="period", y="value", color="kind",
             title="New and returning customers",
             color_discrete_map={"New": "#4c78a8", "Returning": "#f58518"})
fig.update_yaxes(title=None, **ui.tick_format("count"))
fig.update_xaxes(title=None)
ui.chart(fig, key="new_vs_returning")
ui.trend("returning_customer_rate", by, key="returning_rate_trend")

st.subheader("By acquisition channel")
st.dataframe(ui.by_channel_table(["customers", "new_customers", "returning_customers",
                                  "returning_customer_rate"]), hide_index=True, width="stretch")
st.caption("A customer's acquisition channel is the channel of their first order ever. "
           + ui.definition("returning_customer_rate"))
