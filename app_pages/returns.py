"""After-sales: refunds, return rates by channel and category, reasons, and which months are
not final yet."""
import pandas as pd
import plotly.express as px
import streamlit as st

import ui
from kpilib.returns import not_final_months

f = ui.require_filters()
ui.header("After-sales")
dating = st.segmented_control(
    "Date returns by", ["refund date", "order date"], default="refund date", key="returns_dating",
    help="Refund date: the accounting view, money refunded in the period. Order date: the "
         "cohort view, refunds of the orders placed in the period, whenever they came.")
returns = "returns" if dating != "order date" else "returns_by_order_date"
ui.metrics((returns, "return_rate_value", "return_rate_orders", "cancellation_rate"))

window = ui.setting("return_window_days")
year = f.trailing_months(12)
monthly = ui.kpi(returns, year, by="month")
open_months = not_final_months(monthly["period"].tolist(), ui.data_end(), window)
monthly["state"] = ["not final" if m in open_months else "final" for m in monthly["period"]]
monthly["month"] = monthly["period"].map(lambda m: f"{m:%b %Y}")
fig = px.bar(monthly, x="month", y="value", color="state",
             title=f"Returns by month, {ui.fmt_range(year.start, year.end)}",
             color_discrete_map={"final": "#4c78a8", "not final": "#bab0ac"})
fig.update_yaxes(title=None, **ui.tick_format("money"))
fig.update_xaxes(title=None, type="category")
ui.chart(fig, key="returns_by_month")
if open_months:
    st.caption(f"Months marked *not final* still have orders inside the {window}-day return "
               "window: their returns will grow. (The window is a setting.)")

left, right = st.columns(2)
with left:
    rate = st.segmented_control("Return rate by", ["value", "orders"], default="value",
                                key="return_rate_kind") or "value"
    by_channel = ui.kpi(f"return_rate_{rate}", by="channel").dropna(subset=["value"])
    by_channel["channel"] = by_channel["channel"].map(ui.channel_label)
    fig = px.bar(by_channel.sort_values("value"), x="value", y="channel", orientation="h",
                 title=f"Return rate ({rate}) by channel", text_auto=".1%")
    fig.update_xaxes(title=None, **ui.tick_format("ratio"))
    fig.update_yaxes(title=None)
    ui.chart(fig, key="return_rate_by_channel")
with right:
    cats = ui.kpi("top_categories").dropna(subset=["return_rate"])
    fig = px.bar(cats.sort_values("return_rate"), x="return_rate", y="category",
                 orientation="h", title="Return rate (value) by category", text_auto=".1%")
    fig.update_xaxes(title=None, **ui.tick_format("ratio"))
    fig.update_yaxes(title=None)
    ui.chart(fig, key="return_rate_by_category")

reasons = ui.kpi("refund_reasons")
if len(reasons) > 1 or (len(reasons) == 1 and reasons["reason"].iat[0] != "not given"):
    st.subheader("Why customers return")
    ui.table("refund_reasons", pd.DataFrame({"Reason": reasons["reason"],
                               "Refunds": reasons["refunds"].map(ui.fmt_count),
                               "Amount": reasons["amount"].map(ui.fmt_money)}))
st.caption(ui.definition(returns) + " " + ui.definition("return_rate_value"))
