"""Customers: new and returning, repeat purchases, cohorts, lifetime value and RFM segments.
First orders and acquisition channels come from the whole history."""
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui
from kpilib import caveats
from kpilib.formatting import plural
from ui.plan import Cards, Frame, chosen, read

f = ui.require_filters()
if not ui.has("orders"):
    ui.header("Customers")
    ui.missing_note(tables=("orders",), what="customers, cohorts and segments")
    st.stop()
CARDS = ("customers", "new_customers", "returning_customer_rate", "repeat_purchase_rate",
         "orders_per_customer")
by = chosen("loyalty_grain", ui.grain_default())
split = chosen("cohort_split", False)
channel = chosen("cohort_channel", None) if split else None
# Cohorts need history: the twelve months ending with the period's end.
cf = ui.history(ui.only(f, channel) if channel else f, 12)
# Without customer ids the page ends under its header: nothing but the guest orders to read.
read(Frame("guest_orders"), *() if ui.reason("customers") else (
    Cards(CARDS),
    *(Frame(n, by=by) for n in ("new_customers", "returning_customers",
                                "returning_customer_rate")),
    *([Frame("new_customers", by="channel")] if split else []),
    *(Frame(n, cf) for n in ("cohort_retention", "cohort_ltv", "days_to_second_order")),
    Frame("rfm_segments")))
unsplit = caveats.customers_unsplit(kpilib.get("customers"), f)
# Under a filter the page cannot apply it shows no figure, so no guest count either: it
# would be the one figure on the page, and of the filter's orders only.
guests = 0 if unsplit else int(ui.value("guest_orders") or 0)
ui.header("Customers", (f"{plural(guests, 'guest order')} (no customer id) counted in sales "
                        "but not here · " if guests else "") + "channel = acquisition channel")
for said in ui.outdated(("orders",)):
    st.warning(said, icon=":material/update:")
if ui.reason("customers"):
    st.info(unsplit or ui.reason("customers"))
    st.stop()
ui.show_sql("customers")
ui.metrics(CARDS)

by = ui.grain("loyalty_grain")
# Where the cards say new and returning are unknown (an export that starts mid-history), the
# same bars are customers first seen in the export and seen in it before.
unseen = caveats.first_seen(ui.facts(), f.start)
kinds = ("First seen in this export", "Seen before in this export") if unseen else \
    ("New", "Returning")
new = ui.kpi("new_customers", by=by).assign(kind=kinds[0])
ret = ui.kpi("returning_customers", by=by).assign(kind=kinds[1])
both = pd.concat([new, ret])
fig = px.bar(both, x="period", y="value", color="kind",
             title="Customers first seen and seen before" if unseen
             else "New and returning customers",
             color_discrete_map=dict(zip(kinds, ("#4c78a8", "#f58518"))))
fig.update_yaxes(title=None, **ui.tick_format("count"))
fig.update_xaxes(title=None)
ui.period_axis(fig, by, both["period"])
ui.chart(fig, key="new_vs_returning")
short = caveats.short_history(ui.facts(), f.start)
st.caption((f"Not split into new and returning: {unseen}. " if unseen else "")
           + (f"New and returning: {short}. " if short else "")
           + ui.definition("returning_customer_rate") + " "
           + ui.definition("repeat_purchase_rate"))

st.subheader("Cohorts")
split = st.toggle("Split by acquisition channel", key="cohort_split")
channel = None
if split:
    options = ui.kpi("new_customers", by="channel").query("value > 0")["channel"].tolist()
    channel = st.selectbox("Acquisition channel", options, key="cohort_channel",
                           format_func=ui.channel_label)
cf = ui.history(ui.only(f, channel) if channel else f, 12)
# A cohort of a month that starts on or before the first stored order holds every customer
# first seen in it, new or not (caveats.first_seen, as the cards).
first = ui.facts().orders_from
seen_cohort = first and cf.start <= first and caveats.first_seen(ui.facts(), first.replace(day=1))
# fmt_range names a calendar month alone ("March 2011"): "between March 2011" read wrong.
span = ui.fmt_range(cf.start, cf.end)
st.caption(f"Customers whose first order was {'in' if ' – ' not in span else 'between'} {span}."
           + (f" The {first:%b %Y} cohort is every customer first seen in this export, not "
              f"only new ones: {seen_cohort}." if seen_cohort else ""))
retention, ltv, gaps = (ui.kpi(n, cf) for n in ("cohort_retention", "cohort_ltv",
                                                "days_to_second_order"))
segments = ui.kpi("rfm_segments")
if retention.empty:
    st.info("No customer placed a first order in this period.")
else:
    retention = ui.mark_final("cohort_retention", retention, cf)
    # Every month since the cohort's first: a month in which nobody ordered again is 0 %, not
    # a missing column (Olist's M5); months not reached yet stay empty.
    last = ui.facts().as_of
    ks = range(0, min(int(retention["k"].max()), 12) + 1)
    grid = retention.pivot(index="cohort", columns="k", values="value").reindex(columns=ks)
    final = retention.pivot(index="cohort", columns="k", values="final").reindex(columns=ks)
    for c in grid.index:
        reached = (last.year - c.year) * 12 + last.month - c.month
        grid.loc[c, [k for k in ks if k <= reached]] = grid.loc[c, [k for k in ks
                                                                 if k <= reached]].fillna(0.0)
    sizes = retention.groupby("cohort")["cohort_size"].first()
    def seen(c) -> str:
        return ", first seen" if caveats.first_seen(ui.facts(), pd.Timestamp(c).date()) else ""

    labels = [f"{c:%b %Y} ({sizes[c]:,}{seen(c)})" for c in grid.index]
    # A month not over yet is marked *: its share will still grow.
    fig = go.Figure(go.Heatmap(z=grid.values, x=[f"M{k}" for k in grid.columns], y=labels,
                               colorscale="Blues", zmin=0, zmax=max(0.3, grid.iloc[:, 1:].max().max()
                                                                    if grid.shape[1] > 1 else 1),
                               text=[[(ui.fmt(v, "ratio") + (" *" if ok == 0 else ""))
                                      if v == v else "" for v, ok in zip(row, oks)]
                                     for row, oks in zip(grid.values, final.values)],
                               texttemplate="%{text}", hovertemplate="%{y} %{x}: %{text}<extra>"
                                                                     "</extra>",
                               colorbar={"tickformat": ".0%"}))
    fig.update_layout(title="Share of each cohort ordering again, month by month",
                      yaxis={"autorange": "reversed"}, height=120 + 28 * len(grid))
    ui.chart(fig, key="cohort_heatmap")
    st.container(key="narrow_cohort_heatmap").caption(
        "On a narrow screen the colour bar gives each cell's share: tap a cell for its figure.")
    curves = ltv["k"].max() > 0
    if curves:
        ltv = ui.mark_final("cohort_ltv", ltv, cf)
        ui.cohort_curves(ltv, "value",
                         "Lifetime value per customer, by cohort", "cohort_ltv",
                         x_title="Months since the first order",
                         named=lambda c: f"{c:%b %Y}" + (f" ({seen(c)[2:]})" if seen(c) else ""))
    else:
        st.info("Lifetime value curves start once a cohort has a month after its first one: "
                "every cohort here is in its first month.")
    # The marks said only where some are drawn: "dashed" under the box saying there are no
    # curves, or "*" beside a heatmap of final months, named what the page did not show.
    marks = [m for m, shown in [("\\*", (final == 0).any(axis=None)),
                                ("dashed", curves and not ltv["final"].all())] if shown]
    st.caption((" and ".join(marks) + ": not final yet (the month is not over, or its orders "
                "are still inside the return window). " if marks else "")
               + ui.definition("cohort_retention")
               + (" " + ui.definition("cohort_ltv") if curves else ""))

left, right = st.columns(2)
with left:
    waiting = gaps.loc[gaps["bucket"] == "not yet", "customers"].sum()
    gaps = gaps[gaps["bucket"] != "not yet"]
    if gaps.empty:
        st.markdown("**Time from first to second order**")
        st.info("No customer of these cohorts has ordered a second time yet.")
    else:
        fig = px.bar(gaps, x="bucket", y="customers", text_auto=",.0f",
                     title="Time from first seen to second order" if seen_cohort
                     else "Time from first to second order")
        fig.update_xaxes(title=None)
        fig.update_yaxes(title=None)
        ui.chart(fig, key="days_to_second_order")
    st.caption(f"{ui.fmt_count(waiting)} customers of these cohorts have not ordered again yet.")
with right:
    # The card's 2 % beside a line up to 43 % read as a contradiction (UCI's first month).
    # Said under the line only: under the box saying why there is none, it described nothing.
    if ui.trend("returning_customer_rate", by, key="returning_rate_trend"):
        # "Runs above" read false beside a small shop's days at 0 %: over the period it
        # does, a day of a few customers may not.
        st.caption(f"Each {by}'s rate: its customers who had ordered before that {by}, so "
                   "over the period it runs above the card's, whose customers had ordered "
                   f"before the whole period (a {by} of few customers may fall below it).")

st.subheader("RFM segments")
st.caption(ui.definition("rfm_segments") + (f" 'New' is one stored order: {unseen}."
                                            if unseen else ""))
if short := caveats.short_recency(ui.facts(), f.end):
    st.caption(short)
ui.table("rfm_segments", pd.DataFrame({
    "Segment": segments["segment"], "Customers": segments["customers"],
    "Net revenue": segments["revenue"], "Orders per customer": segments["orders_per_customer"],
    "Days since last order": segments["avg_recency_days"]}),
    {"Customers": "count", "Net revenue": "money", "Orders per customer": "decimal",
     "Days since last order": "count"})
pick = st.selectbox("Customer list for a campaign", segments["segment"].tolist(), key="rfm_pick")
count = int(segments.set_index("segment").loc[pick, "customers"])
ui.downloads(ui.later("rfm_customers", {"segment": pick}),
             f"customers_{pick.lower().replace(' ', '_')}", f"The {count:,} customers of '{pick}'")
