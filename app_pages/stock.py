"""Stock: what to reorder, what is stuck, and what stock-outs cost."""
from dataclasses import replace

import pandas as pd
import plotly.express as px
import streamlit as st

import ui
from ui.plan import Cards, Frame, read

DEAD_SHOWN = 50
f = ui.require_filters()
if not ui.has("inventory"):
    ui.header("Stock")
    ui.missing_note(tables=("inventory",), what="stock on hand, stock-outs and reorders")
    st.stop()
# Stock is one pool for every channel, device and country: days of cover from email's sales
# alone against the whole shop's stock read 49 days where the shop had 6.
shop = replace(f, channels=(), devices=(), countries=())
interval = ui.value("snapshot_interval_days", replace(shop, categories=()))
if interval is None:
    ui.header("Stock")
    st.info("No stock snapshot on or before the end of this period.")
    st.stop()
every = {1: "daily", 7: "weekly"}.get(round(interval), f"every {interval:.0f} days")
ui.header("Stock", f"{every} stock snapshots, carried forward between them")

# The sidebar's product categories (shared with the URL) narrow this page too: a second
# "Categories" box here, beside it, left a user guessing which applied.
search = st.text_input("SKU or product contains", key="stock_search")
sf = replace(shop, search=search)
narrowed = [w for w, on in (("channel", f.channels), ("device", f.devices),
                            ("country", f.countries)) if on]
if narrowed:
    st.caption(f"Stock is shared by every {' and '.join(narrowed)}: this page counts the "
               f"whole shop's stock and sales, whatever the {' and '.join(narrowed)} filter.")
ROWS = (("on_hand", "stock_value", "days_of_cover", "sell_through_rate"),
        ("stockout_rate", "dead_stock", "dead_stock_value", "lost_revenue_stockout"))
by = "day" if f.days <= 62 else "week"
history = ui.history(sf, 6)
# No tables below a row of cards the store cannot fill (snapshots alone).
sells = not any(ui.missing(n) for row in ROWS for n in row)
read(*(Cards(row, sf) for row in ROWS), Frame("stockout_rate", sf, by), *(
    Frame("reorder_skus", sf, None, 20), Frame("sell_through_rate", sf, "category"),
    Frame("abc_classes", sf), Frame("dead_stock_skus", sf, None, DEAD_SHOWN),
    Frame("lost_revenue_by_month", history),
    Frame("lost_revenue_stockout", sf, "category"), Frame("lost_revenue_skus", sf, None, 10),
) if sells else ())
ui.show_sql("on_hand", sf)

gone = ui.metrics(ROWS[0], sf)
gone += ui.metrics(ROWS[1], sf)
if gone:
    # Snapshots alone: what is on hand and out of stock, not what sells.
    ui.missing_note(gone)
    ui.trend("stockout_rate", by, key="stockout_trend", title="Stock-out rate", filters=sf)
    st.stop()

reorder, cat, abc, dead, found, by_cat, top = (ui.kpi(*a) for a in (
    ("reorder_skus", sf, None, 20), ("sell_through_rate", sf, "category"), ("abc_classes", sf),
    ("dead_stock_skus", sf, None, DEAD_SHOWN), ("lost_revenue_by_month", history),
    ("lost_revenue_stockout", sf, "category"), ("lost_revenue_skus", sf, None, 10)))

st.subheader("Reorder first")
st.caption(ui.definition("reorder_skus"))
# The download is every SKU's figures, computed only when clicked.
ui.table("stock_reorder", raw=ui.later("stock_by_sku", filters=sf), df=pd.DataFrame({
    "Product": reorder["product_name"], "SKU": reorder["sku"], "Category": reorder["category"],
    "On hand": reorder["on_hand"], "Sold per day (30 d)": reorder["avg_daily_units"],
    "Days of cover": reorder["days_of_cover"], "Sold in period": reorder["units_sold"],
    "Stock-out days": reorder["oos_days"]}),
    units={"On hand": "count", "Sold per day (30 d)": "decimal", "Days of cover": "days",
           "Sold in period": "count", "Stock-out days": "count"})

left, right = st.columns(2)
with left:
    ui.trend("stockout_rate", by, key="stockout_trend", title="Stock-out rate", filters=sf)
with right:
    if ui.categorised(cat):
        # The 15 categories with the most units, the rest as one.
        cat = ui.top_and_other(cat.dropna(subset=["value"]), "category", "denominator",
                               sums=("numerator", "denominator"),
                               ratio=("value", "numerator", "denominator"))
        fig = px.bar(cat.sort_values("value"), x="value", y="category", orientation="h",
                     title="Sell-through by category", text_auto=".0%",
                     height=max(350, 60 + 26 * len(cat)))
        fig.update_xaxes(title=None, **ui.tick_format("ratio"))
        fig.update_yaxes(title=None)
        ui.chart(fig, key="sell_through_by_category")

st.subheader("ABC classes")
ui.table("stock_abc_classes", pd.DataFrame({
    "Class": abc["abc_class"], "SKUs": abc["skus"], "Net revenue": abc["revenue"],
    "Stock value": abc["stock_value"]}),
    {"SKUs": "count", "Net revenue": "money", "Stock value": "money"})
st.caption(ui.definition("abc_classes"))

st.subheader("Dead stock")
if dead.empty:
    st.write("No SKU has stock without a sale in the last 90 days.")
else:
    ui.table("stock_dead", raw=ui.later("dead_stock_skus", filters=sf), df=pd.DataFrame({
        "Product": dead["product_name"], "SKU": dead["sku"], "Category": dead["category"],
        "On hand": dead["on_hand"], "Value at cost": dead["stock_value"]}),
        units={"On hand": "count", "Value at cost": "money"})
    n = ui.value("dead_stock", sf) or 0
    if n > len(dead):
        st.caption(f"The {len(dead)} with the most value tied up, of {ui.fmt_count(n)}; the "
                   "downloads have them all.")

st.subheader("Revenue lost to stock-outs (estimates)")
found = dict(zip(pd.to_datetime(found["month"]).dt.date, found["value"]))
months = pd.date_range(history.start.replace(day=1), sf.end, freq="MS").date
lost = pd.DataFrame({"month": [f"{m:%b %Y}" for m in months],
                     "value": [found.get(m, 0.0) for m in months]})
left, right = st.columns(2)
with left:
    fig = px.bar(lost, x="month", y="value", title="By month", text_auto=True)
    ui.bar_text(fig, "money")
    fig.update_yaxes(title=None, **ui.tick_format("money"))
    fig.update_xaxes(title=None, type="category")
    ui.chart(fig, key="lost_by_month")
with right:
    if ui.categorised(by_cat):
        by_cat = ui.top_and_other(by_cat, "category", "value", sums=("value",))
        fig = px.bar(by_cat.iloc[::-1], x="value", y="category", orientation="h",
                     title="By category (this period)", text_auto=True,
                     height=max(350, 60 + 26 * len(by_cat)))
        ui.bar_text(fig, "money")
        fig.update_xaxes(title=None, **ui.tick_format("money"))
        fig.update_yaxes(title=None)
        ui.chart(fig, key="lost_by_category")
if top.empty:
    st.write("No SKU lost revenue to a stock-out in this period.")
else:
    ui.table("stock_lost_revenue", raw=ui.later("lost_revenue_skus", filters=sf),
             df=pd.DataFrame({"Product": top["product_name"], "SKU": top["sku"],
                              "Stock-out days": top["oos_days"],
                              "Revenue lost (estimate)": top["lost_revenue"]}),
             units={"Stock-out days": "count", "Revenue lost (estimate)": "money"},
             estimates=("Revenue lost (estimate)",))
st.caption(ui.definition("lost_revenue_stockout"))
