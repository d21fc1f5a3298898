"""Marketing ROI: where next month's budget should go."""
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots
import streamlit as st

import ui
from kpilib import caveats
from kpilib.channels import CHANNELS
from ui.plan import Cards, Frame, chosen, read
from kpilib.marketing import payback_months
from kpilib.formatting import md_plain, plural

f = ui.require_filters()
ui.header("Marketing ROI", "revenue is attributed to the channel recorded on each order")
store, _ = ui.active_store()
READ_ONLY = "The shop's settings are read-only on the shared link."
if not ui.need("marketing_spend", what="marketing ROI (spend, ROAS, CAC, payback)") \
        or not ui.split_by(("spend",), "ad spend, ROAS, MER and CAC"):
    st.stop()
ui.show_sql("roas")
# Without orders there is spend to show but no revenue to set against it.
sales = ui.has("orders")
prev, months = f.previous_period(), ui.history(f, 12)
BY_CHANNEL = ("roas", "spend", "attributed_revenue", "paid_revenue", "new_customers", "cac",
              "cpc", "ctr")
# Spend, the revenue ROAS counts and ROAS side by side: spend × ROAS = that revenue (the revenue
# of channels without spend would not reconcile, so it is not a card).
ROWS = (("spend", "paid_revenue", "roas",
         "mer_inverse" if sales and chosen("mer_inverse", False) else "mer"), ("cac", "cpc", "ctr"))
read(*map(Cards, ROWS), *(Frame(n, f, "channel") for n in BY_CHANNEL),
     *(Frame(n, prev, "channel") for n in ("roas", "spend")),
     *((Frame("unmatched_spend"), Frame("roas", months, ("month", "channel")),
        Frame("payback", months)) if sales else ()))

# Orders without a channel (UCI) have no revenue to set against a channel's spend: ROAS,
# attributed revenue and payback are said not tracked, and no mapping is offered (mapping
# paid_search to "unknown" would credit it every sale). MER still holds.
attributable = sales and not ui.reason("roas")
unmatched = ui.kpi("unmatched_spend") if attributable else pd.DataFrame()
if not unmatched.empty:
    with st.container(border=True):
        st.warning("Some spend is on channels that no order has, so their ROAS reads 0: "
                   + ", ".join(f"{md_plain(c)} ({ui.fmt_money(s)})" for c, s in
                               zip(unmatched["channel"], unmatched["spend"]))
                   + ". Map each to the channel your orders use:")
        mapping = dict(store.settings.get("channel_map", {}))
        cols = st.columns(min(len(unmatched), 4))
        for i, channel in enumerate(unmatched["channel"]):
            target = cols[i % len(cols)].selectbox(md_plain(channel), [None, *CHANNELS],
                                                   key=f"map_spend_{channel}",
                                                   format_func=lambda c: "choose…" if c is None
                                                   else ui.channel_label(c))
            if target:
                mapping[channel] = target
        if st.button("Save the channel mapping", key="save_channel_map",
                     disabled=not ui.can_change(), help=None if ui.can_change() else READ_ONLY):
            store.update_settings({"channel_map": mapping})
            st.rerun()

inverse = sales and st.toggle("Show MER as spend ÷ revenue (Triple Whale's convention)",
                             key="mer_inverse")
spend_rows = ui.kpi("spend", by="channel")
if f.channels and not (spend_rows["value"] > 0).any():
    # "Revenue of paid channels €0.00" under Email alone read as "email earned nothing".
    st.info(f"No ad spend on {', '.join(map(ui.channel_label, f.channels))} in this period, "
            "so no ROAS, no CAC and no revenue with ad spend (€0.00 below means that, "
            "not that nothing was sold): its sales are on the Sales page.")
gone = []
for row in (("spend", "paid_revenue", "roas", "mer_inverse" if inverse else "mer"), ROWS[1]):
    gone += ui.metrics(row, columns=4)
ui.missing_note(gone)
if attributable and not f.channels and "cac" not in gone:
    # €22 blended beside €31 – €130 per paid channel read as a contradiction.
    st.caption("Blended CAC sets all ad spend against every new customer, those who came "
               "through unpaid channels (organic search, direct, email…) too: it is not what "
               "a customer from a paid channel costs, which the Channels table below gives "
               "channel by channel.")

if not (spend_rows["value"] > 0).any():
    if not f.channels:   # with channels chosen, said above the cards
        st.info("No ad spend in this period.")
    st.stop()
roas = ui.kpi("roas", by="channel")

target = st.number_input("ROAS target", min_value=0.0, step=0.5, key="roas_target",
                         value=float(store.settings.get("roas_target", 2.0)),
                         help="Channels under it are highlighted. Saved with the shop's settings.",
                         disabled=not ui.can_change()) if attributable else None
if attributable and target != store.settings.get("roas_target", 2.0) and ui.can_change():
    store.update_settings({"roas_target": target})


def by_channel(name, filters=None):
    return ui.kpi(name, filters, "channel").set_index("channel")["value"]


# Budget view: where the money goes against what comes back.
spend = by_channel("spend")
channels = [c for c in spend.index if spend[c] > 0]
if attributable:
    revenue = by_channel("attributed_revenue")
    # Revenue shares among the paid channels only: they add up to 100 %, as the spend shares do.
    paid = by_channel("paid_revenue")
    new = by_channel("new_customers")
parts = {"Share of ad spend": [spend[c] / spend.sum() for c in channels]}
if attributable:
    parts["Share of attributed revenue"] = [paid.get(c, 0) / paid.sum() if paid.sum() else 0
                                            for c in channels]
    # Among the same channels as the spend and revenue shares: of every new customer (organic
    # and email too) Paid search's 36 of 119 read as 30 % beside its 67 % of paid revenue,
    # where it brought 36 of the paid channels' 53.
    acquired = sum(new.get(c, 0) for c in channels)
    parts["Share of new customers"] = [new.get(c, 0) / acquired if acquired else 0
                                       for c in channels]
shares = pd.DataFrame({"channel": [ui.channel_label(c) for c in channels] * len(parts),
                       "share": [v for values in parts.values() for v in values],
                       "of": [k for k in parts for _ in channels]})
left, right = st.columns(2)
with left:
    if not f.channels and len(channels) == 1:
        # One grey bar at 100 % said it as a chart.
        st.markdown(f"**Share of ad spend by channel**  \nAll the ad spend in these dates "
                    f"({ui.fmt_money(spend.sum())}) is on {ui.channel_label(channels[0])}: "
                    "no other channel to compare it with.")
    elif f.channels and len(channels) < 2:
        # One channel's shares of itself are 100 % each: not a comparison.
        st.caption("Shares of spend, revenue and new customers compare channels: with one "
                   "channel with spend chosen, each would be 100 %. Choose more channels, or "
                   "all, to see them.")
    else:
        among = " among the channels chosen" if f.channels else ""
        fig = px.bar(shares, x="share", y="channel", color="of", barmode="group",
                     orientation="h",
                     title=(f"Budget: spend against what it brings (paid channels{among})"
                            if attributable else f"Share of ad spend by channel{among}"),
                     color_discrete_sequence=["#bab0ac", "#4c78a8", "#f58518"])
        fig.update_xaxes(title=None, **ui.tick_format("ratio"))
        fig.update_yaxes(title=None)
        ui.chart(fig, key="budget_shares")
with right:
    if sales and not attributable:
        st.markdown("**ROAS by channel**")
        st.info(ui.reason("roas"))
    elif sales:
        # Under target as the bar is labelled (two decimals): 1.9987 is written "2.00×", and
        # a red "2.00×" beside a 2.0× target read as a wrong colour.
        r = roas.assign(label=roas["channel"].map(ui.channel_label),
                        below=roas["value"].fillna(0).round(2) < target).sort_values("value")
        fig = go.Figure(go.Bar(x=r["value"], y=r["label"], orientation="h",
                               marker_color=["#e45756" if b else "#4c78a8" for b in r["below"]],
                               text=[f"{v:.2f}×" for v in r["value"]], textposition="auto"))
        fig.add_vline(x=target, line_dash="dot", annotation_text=f"target {target:.1f}×",
                      annotation_position="bottom right")
        fig.update_layout(title="ROAS by channel (red: under target)")
        fig.update_xaxes(**ui.tick_format("times"))
        ui.chart(fig, key="roas_by_channel")
    else:
        ui.missing_note(["roas"])

st.subheader("Channels")
spend_before, cpc, ctr = by_channel("spend", prev), by_channel("cpc"), by_channel("ctr")
table = pd.DataFrame({"Channel": [ui.channel_label(c) for c in channels],
                      "Spend": [spend[c] for c in channels],
                      "Spend vs previous": [ui.change_value(spend[c], spend_before.get(c), "money")
                                            for c in channels]})
units = {"Spend": "money", "Spend vs previous": "change"}
if attributable:
    roas_now, roas_before = by_channel("roas"), by_channel("roas", prev)
    cac = by_channel("cac")
    table["Attributed revenue"] = [revenue.get(c, 0.0) for c in channels]
    table["ROAS"] = [roas_now.get(c) for c in channels]
    table["ROAS vs previous"] = [ui.change_value(roas_now.get(c), roas_before.get(c), "times")
                                 for c in channels]
    # New customers and CAC withheld where the cards withhold them (no order stored before
    # the period: a first order in the store may not be the customer's first).
    unknown = ui.reason("cac")
    table["New customers"] = [None if unknown else new.get(c, 0.0) for c in channels]
    table["CAC"] = [None if unknown else cac.get(c) for c in channels]
    units |= {"Attributed revenue": "money", "ROAS": "times", "ROAS vs previous": "times_change",
              "New customers": "count", "CAC": "money"}
table["CPC"], table["CTR"] = [cpc.get(c) for c in channels], [ctr.get(c) for c in channels]
ui.table("marketing_channels", table, units | {"CPC": "money", "CTR": "ratio"})
st.caption(ui.definition("roas") + " " + ui.definition("cac") if attributable
           else ui.definition("cpc") + " " + ui.definition("ctr"))
if attributable:
    short = caveats.short_history(ui.facts(), f.start)
    if unknown:
        st.caption("New customers and CAC unknown: " + unknown.removeprefix("Unknown: "))
    elif short:
        st.caption(f"New customers and CAC: {short}, so CAC may read low.")
if not attributable:
    st.stop()

by_month = ui.kpi("roas", months, ("month", "channel")).dropna(subset=["value"])
by_month["channel"] = by_month["channel"].map(ui.channel_label)
# Streamlit's colours without its reds: beside "ROAS by channel (red: under target)", a
# channel drawn red (the third) read as under target every month.
fig = px.line(by_month, x="period", y="value", color="channel", markers=True,
              title=f"ROAS by month, {ui.fmt_range(months.start, months.end)}",
              color_discrete_sequence=["#0068c9", "#83c9ff", "#29b09d", "#7defa1", "#ff8700",
                                       "#ffd16a", "#6d3fc0", "#d5dae5"])
# Named as on ROAS by channel: a dotted line alone was a target nobody was told about.
fig.add_hline(y=target, line_dash="dot", annotation_text=f"target {target:.1f}×",
              annotation_position="bottom right")
fig.update_yaxes(title=None, rangemode="tozero", **ui.tick_format("times"))
# A month a tick: with one month of spend Plotly's own ticks were milliseconds around it.
# A month a tick for a few months: with one month of spend Plotly's own ticks were
# milliseconds around it. Over more, Plotly's own ticks ("Jan" and the year under the first),
# which a phone fits: a year of "Dec 2025" ticks was cut to "Dec 2" there.
if by_month["period"].nunique() <= 3:
    fig.update_xaxes(dtick="M1", tickformat="%b %Y")
fig.update_xaxes(title=None)
ui.chart(fig, key="roas_by_month")


PAYS_BACK = "Pays back on revenue (before costs)"


def payback_curves(curve, summary, title):
    """One channel's cohorts as small multiples, oldest first: each panel holds one cohort's
    cumulative revenue per customer and its own CAC (dotted), labelled with the cohort, its
    CAC and when it pays back, so a year of cohorts never shares one tangle of lines."""
    cohorts = sorted(curve["cohort"].unique())
    # Two a row: four were unreadable on a phone (390 px).
    cols = min(len(cohorts), 2)
    rows = -(-len(cohorts) // cols)
    pays = summary.set_index("cohort")
    last = int(curve["k"].max())
    # Panels on one scale from 0, with room at the top for each panel's label.
    top = 1.3 * max(curve["revenue_per_customer"].max(), curve["cac"].max())
    money = ui.tick_format("money").get("tickprefix", "")
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes="all",
                        vertical_spacing=0.25 / rows, horizontal_spacing=0.03)
    for i, cohort in enumerate(cohorts):
        g, name = curve[curve["cohort"] == cohort], f"{cohort:%b %Y}"
        at = {"row": i // cols + 1, "col": i % cols + 1}
        fig.add_scatter(x=g["k"], y=g["revenue_per_customer"], name=name, mode="lines+markers",
                        line={"color": "#4c78a8"}, showlegend=False,
                        hovertemplate=f"{money}%{{y:,.2f}} per customer", **at)
        # Across the whole panel, a point a month: a cohort of one month still shows its CAC.
        cac = pays.at[cohort, "cac"]
        fig.add_scatter(x=list(range(last + 1)), y=[cac] * (last + 1), name=f"CAC {name}",
                        mode="lines", line={"color": "#e45756", "dash": "dot", "width": 1.5},
                        showlegend=False, hovertemplate=f"{money}%{{y:,.2f}}", **at)
        m = pays.at[cohort, "payback_month"]
        # Short enough for half a phone's width.
        when = "revenue < CAC so far" if pd.isna(m) else f"revenue ≥ CAC in M{int(m)}"
        fig.add_annotation(text=f"<b>{name}</b> · CAC {ui.fmt(cac, 'money', compact=True)}"
                                f"<br>{when}",
                           xref="x domain", yref="y domain", x=0.02, y=0.98, xanchor="left",
                           yanchor="top", showarrow=False, font_size=11, **at)
    for i in range(len(cohorts), rows * cols):     # the last row's empty cells
        fig.update_xaxes(visible=False, row=i // cols + 1, col=i % cols + 1)
        fig.update_yaxes(visible=False, row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(title=title, height=100 + 170 * rows)
    fig.update_xaxes(range=[-0.3, last + 0.3], dtick=1 if last <= 6 else 3)
    fig.update_xaxes(title="Months since acquisition", row=rows)
    fig.update_yaxes(range=[0, top], **ui.tick_format("money"))
    return fig


st.subheader("Payback on revenue by acquisition channel")
pay = ui.kpi("payback", months)
if pay.empty:
    st.write("No customer was acquired through a channel with spend in these months.")
else:
    summary = payback_months(pay)

    def seen(c) -> str | None:
        # A cohort of a month that starts on or before the first stored order holds every
        # customer first seen in it, new or not: its CAC is spread over too many customers.
        return caveats.first_seen(ui.facts(), pd.Timestamp(c).date().replace(day=1))

    def before(c) -> str | None:
        # Less than a year of orders before it: some of its "new" customers had ordered.
        return caveats.history_words(ui.facts(), pd.Timestamp(c).date().replace(day=1))

    def acquired(c) -> str:
        return f"{c:%b %Y}" + (", first seen" if seen(c) else
                               f", {before(c)} of history" if before(c) else "")
    ui.table("payback", pd.DataFrame({
        "Channel": summary["channel"].map(ui.channel_label),
        "Acquired in": summary["cohort"].map(acquired),
        "Customers": summary["customers"], "CAC": summary["cac"],
        # Revenue, not profit: "month 0" for a cohort whose first orders' revenue covers
        # its CAC (the demo's affiliates) read as paid back in profit.
        PAYS_BACK: [f"month {int(m)}" if m == m and m is not None else
                    f"not yet ({plural(n, 'month')} observed)"
                    for m, n in zip(summary["payback_month"], summary["months_observed"])]}),
        {"Customers": "count", "CAC": "money"}, filters=months)
    pick = st.selectbox("Curve for", sorted(pay["channel"].unique()), key="payback_channel",
                        format_func=ui.channel_label)
    ui.chart(payback_curves(pay[pay["channel"] == pick], summary[summary["channel"] == pick],
                            f"{ui.channel_label(pick)}: revenue per acquired customer (line) "
                            "against CAC (dotted), by month of acquisition"),
             key="payback_curve")
    st.caption(ui.definition("payback"))
    if unseen := next(filter(None, map(seen, summary["cohort"])), None):
        first = ui.facts().orders_from
        st.caption(f"The {first:%b %Y} cohorts are every customer first seen in this export, "
                   f"not only new ones ({unseen}): their CAC reads low and they pay back "
                   "sooner than new customers would.")
    if any(map(before, summary["cohort"])):
        st.caption("Cohorts with less than a year of orders before them (said beside the "
                   "month) count a customer who ordered before the first stored order as "
                   "new: their CAC may read low.")
