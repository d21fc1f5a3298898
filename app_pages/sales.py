"""Sales: from gross to net, orders and baskets by channel, statuses, fulfilment, products."""
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import kpilib
from kpilib import formatting
import ui
from ui.plan import Cards, Frame, chosen, read

f = ui.require_filters()
ui.header("Sales", ui.cancelled_words())
if not ui.need("orders", what="sales"):
    st.stop()
for said in ui.outdated(("orders", "order_items")):
    st.warning(said, icon=":material/update:")
lines = ui.has("order_items")
CARDS = ("net_sales", "orders", "aov", "units_per_order", "cancellation_rate")
STEPS = ("gross_sales", "discounts", "returns", "net_sales", "shipping", "tax", "total_sales")
MEASURES = ["net_sales", "orders", "aov", *(["units_per_order"] if lines else [])]
by = chosen("sales_grain", ui.grain_default())
measure = chosen("sales_measure", "net_sales", MEASURES)
read(Cards(CARDS), *map(Frame, STEPS), Cards(("discounts", "discount_rate", "returns")),
     Frame(measure, f, (by, "channel")), Frame("orders_by_status"),
     Cards(("fulfilment_days", "shipped_within_1d", "shipped_within_2d", "shipped_within_5d")),
     *((Frame("top_products", f, None, 15), Frame("top_categories")) if lines else ()))

ui.show_sql("net_sales")
ui.missing_note(ui.metrics(CARDS))

# Gross → net → total: returns here are refunds made in the period (the accounting view). A
# step the exports do not fill (no refunds uploaded, no tax column) is left out and named,
# never drawn as 0.
steps = {n: ui.value(n) or 0.0 for n in STEPS}
unfilled = set(ui.facts().unfilled) | ({"returns"} if not ui.has("refunds") else set())
WATERFALL = [("gross_sales", "Gross sales", "absolute", 1),
             ("discounts", "Discounts", "relative", -1),
             ("returns", "Returns", "relative", -1), ("net_sales", "Net sales", "total", 1),
             ("shipping", "Shipping", "relative", 1), ("tax", "Tax", "relative", 1),
             ("total_sales", "Total sales", "total", 1)]
# A step the sidebar's category, device or country cannot split (shipping and tax are the
# order's): left out and named, not drawn as €0.00 under a total of the other steps.
unsplit = {n: d for n in STEPS for d in kpilib.kpi.refused(kpilib.get(n), f)[:1]}
shown = [w for w in WATERFALL if w[0] not in unfilled and w[0] not in unsplit]
fig = go.Figure(go.Waterfall(
    x=[label for _, label, _, _ in shown], measure=[m for _, _, m, _ in shown],
    y=[0 if m == "total" else sign * steps[n] for n, _, m, sign in shown],
    text=[formatting.label(sign * steps[n] if m != "total" else steps[n], "money", ui.currency())
          for n, _, m, sign in shown],
    hovertext=[ui.fmt(sign * steps[n] if m != "total" else steps[n], "money")
               for n, _, m, sign in shown], hoverinfo="x+text",
    textposition="outside", constraintext="none", connector={"line": {"color": "#9aa0a6"}}))
fig.update_layout(title="From gross to net sales", showlegend=False)
fig.update_yaxes(**ui.tick_format("money"))
ui.chart(fig, key="sales_waterfall")
missing_steps = [label.lower() for n, label, _, _ in WATERFALL if n in unfilled]
st.caption(ui.definition("net_sales") + " " + ui.definition("total_sales")
           + (f" Not in the exports uploaded, so left out: {', '.join(missing_steps)}."
              if missing_steps else "")
           + "".join(f" Not split by {d}, so left out: " + ", ".join(
                         label.lower() for n, label, _, _ in WATERFALL if unsplit.get(n) == d)
                     + "." for d in dict.fromkeys(unsplit.values())))
ui.metrics(("discounts", "discount_rate", "returns"), columns=4)

by = ui.grain("sales_grain")
name = st.segmented_control("Over time", MEASURES, default="net_sales", key="sales_measure",
                            format_func=lambda n: kpilib.get(n).label) or "net_sales"
status = ui.kpi("orders_by_status")
ui.trend(name, by, key="sales_trend_by_channel", title=f"{kpilib.get(name).label} by channel",
         split=True)

left, right = st.columns(2)
with left:
    if ui.reason("orders_by_status"):
        # Not a bar of "Paid" for every order: the export gave no status (UCI).
        st.markdown("**Orders by status**")
        st.info(ui.reason("orders_by_status"))
    else:
        status["status"] = status["status"].str.replace("_", " ").str.capitalize()
        fig = px.bar(status, x="orders", y="status", orientation="h", title="Orders by status",
                     text_auto=",.0f")
        fig.update_yaxes(title=None, categoryorder="total ascending")
        fig.update_xaxes(title=None)
        ui.chart(fig, key="orders_by_status")
with right:
    st.markdown("**Fulfilment**")
    if ui.reason("fulfilment_days"):
        # No shipped dates: one sentence for the four cards.
        st.info(ui.reason("fulfilment_days"))
    else:
        ui.metrics(("fulfilment_days", "shipped_within_1d"))
        ui.metrics(("shipped_within_2d", "shipped_within_5d"))

st.subheader("Top products and categories")
if not lines:
    ui.missing_note(tables=("order_items",), what="top products and categories")
    st.stop()
products, cats = ui.kpi("top_products", f, None, 15), ui.kpi("top_categories")
# UCI: credit notes that name no order leave each product's returns unknown, not its units and
# sales; a category column of "uncategorised" on every row says nothing (the chart beside it
# says which export brings categories).
unmatched = ui.unmatched_refunds("top_products")
table = {"Product": products["product_name"], "SKU": products["sku"]}
if ui.has_categories(products):
    table["Category"] = products["category"]
table["Units"] = products["units"]
if unmatched:
    table["Sales before returns"] = products["sales"]
else:
    table |= {"Net sales": products["net_sales"], "Returns": products["returns"]}
a, b = st.columns([3, 2])
with a:
    ui.table("top_products", pd.DataFrame(table),
             {"Units": "count", "Sales before returns": "money", "Net sales": "money",
              "Returns": "money"})
with b:
    if ui.categorised(cats):
        shown = ui.top_and_other(cats, "category", "net_sales", sums=("net_sales",))
        fig = px.bar(shown.iloc[::-1], x="net_sales", y="category", orientation="h",
                     title="Net sales by category, by order date"
                     + ("" if ui.maturity("top_categories", f.start, f.end).final
                        else " (not final)"), text_auto=True,
                     height=max(350, 60 + 26 * len(shown)))
        ui.bar_text(fig, "money")
        fig.update_yaxes(title=None)
        fig.update_xaxes(title=None, **ui.tick_format("money"))
        ui.chart(fig, key="categories")
st.caption(unmatched[1] if unmatched
           else ui.definition("top_products") + " " + ui.not_final("top_products"))
