"""Sales: from gross to net, orders and baskets by channel, statuses, fulfilment, products."""
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui

f = ui.require_filters()
ui.header("Sales", "cancelled orders excluded (they count only in the cancellation rate)")
if not ui.need("orders", what="Sales"):
    st.stop()
ui.missing_note(ui.metrics(("net_sales", "orders", "aov", "units_per_order",
                            "cancellation_rate")))
lines = ui.has("order_items")

# Gross → net → total: returns here are refunds made in the period (the accounting view).
STEPS = ("gross_sales", "discounts", "returns", "net_sales", "shipping", "tax", "total_sales")
ui.prefetch(STEPS)
steps = {n: ui.value(n) or 0.0 for n in STEPS}
fig = go.Figure(go.Waterfall(
    x=["Gross sales", "Discounts", "Returns", "Net sales", "Shipping", "Tax", "Total sales"],
    measure=["absolute", "relative", "relative", "total", "relative", "relative", "total"],
    y=[steps["gross_sales"], -steps["discounts"], -steps["returns"], 0, steps["shipping"],
       steps["tax"], 0],
    text=[ui.fmt(v, "money", compact=True) for v in (
        steps["gross_sales"], -steps["discounts"], -steps["returns"], steps["net_sales"],
        steps["shipping"], steps["tax"], steps["total_sales"])],
    textposition="outside", connector={"line": {"color": "#9aa0a6"}}))
fig.update_layout(title="From gross to net sales", showlegend=False)
fig.update_yaxes(**ui.tick_format("money"))
ui.chart(fig, key="sales_waterfall")
st.caption(ui.definition("net_sales") + " " + ui.definition("total_sales"))

by = ui.grain("sales_grain")
name = st.segmented_control("Over time", ["net_sales", "orders", "aov",
                                         *(["units_per_order"] if lines else [])],
                            default="net_sales", key="sales_measure",
                            format_func=lambda n: kpilib.get(n).label) or "net_sales"
# The charts and tables below, read side by side (the trend's frame for ui.trend).
_, status, *tops = ui.kpis((name, f, (by, "channel")), ("orders_by_status",),
                          *((("top_products", f, None, 15), ("top_categories",)) if lines else ()))
ui.trend(name, by, key="sales_trend_by_channel", title=f"{kpilib.get(name).label} by channel",
         split=True)

left, right = st.columns(2)
with left:
    status["status"] = status["status"].str.replace("_", " ").str.capitalize()
    fig = px.bar(status, x="orders", y="status", orientation="h", title="Orders by status",
                 text_auto=",.0f")
    fig.update_yaxes(title=None, categoryorder="total ascending")
    fig.update_xaxes(title=None)
    ui.chart(fig, key="orders_by_status")
with right:
    st.markdown("**Fulfilment**")
    ui.metrics(("fulfilment_days", "shipped_within_1d"))
    ui.metrics(("shipped_within_2d", "shipped_within_5d"))

st.subheader("Top products and categories")
if not lines:
    ui.missing_note(tables=("order_items",), what="Top products and categories")
    st.stop()
products, cats = tops
a, b = st.columns([3, 2])
with a:
    ui.table("top_products", pd.DataFrame({
        "Product": products["product_name"], "SKU": products["sku"],
        "Category": products["category"], "Units": products["units"],
        "Net sales": products["net_sales"], "Returns": products["returns"]}),
        {"Units": "count", "Net sales": "money", "Returns": "money"})
with b:
    if ui.categorised(cats):
        shown = ui.top_and_other(cats, "category", "net_sales", sums=("net_sales",))
        fig = px.bar(shown.iloc[::-1], x="net_sales", y="category", orientation="h",
                     title="Net sales by category"
                     + ("" if ui.maturity("top_categories", f.start, f.end).final
                        else " (not final)"), text_auto=True,
                     height=max(350, 60 + 26 * len(shown)))
        ui.bar_text(fig, "money")
        fig.update_yaxes(title=None)
        fig.update_xaxes(title=None, **ui.tick_format("money"))
        ui.chart(fig, key="categories")
st.caption(ui.definition("top_products") + " " + ui.not_final("top_products"))
