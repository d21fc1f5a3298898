"""After-sales: refunds, return rates by channel and category, reasons, and which months are
not final yet."""
import pandas as pd
import plotly.express as px
import streamlit as st

import kpilib
import ui
from kpilib import caveats
from kpilib.returns import notes
from ui.plan import Cards, Frame, chosen, read

f = ui.require_filters()
ui.header("After-sales", ui.cancelled_words())
for said in ui.outdated(("orders", "refunds")):
    st.warning(said, icon=":material/update:")
if not ui.has("refunds"):
    if not ui.need("orders", what="returns and cancellations"):
        st.stop()
    # The cancellation rate needs orders only.
    ui.metrics(("cancellation_rate",), columns=4)
    ui.missing_note(tables=("refunds",), what="returns and return rates")
    st.stop()
# Refunds without orders (a refunds export uploaded first): the money refunded and why are
# known; anything by order date, rates and cancellations need the orders.
orders = ui.has("orders")
DATINGS = ["refund date", "order date"]
RATES = ["value", "orders"]
year = ui.history(f, 12)


def returns_kpi(dating: str) -> str:
    return "returns" if dating != "order date" else "returns_by_order_date"


def cards(returns: str) -> tuple[str, ...]:
    return (returns, "return_rate_value", "return_rate_orders", "cancellation_rate") \
        if orders else (returns,)


def zero_written(fig, values) -> None:
    """A rate is written inside its bar: a row with no returns has no bar, and showed a name
    and nothing, read as a figure missing. Its 0.0 % is written beside the axis."""
    fig.update_traces(textposition=["outside" if v == 0 else "auto" for v in values])


planned = returns_kpi(chosen("returns_dating", DATINGS[0], DATINGS) if orders else DATINGS[0])
# Returns by country where the shop's orders have one (UCI's credit notes carry their own).
countries = "country" not in ui.facts().unsplit
read(Cards(cards(planned)), Frame(planned, year, "month"), Frame("refund_reasons"),
     *((Frame(planned, f, "country"),) if countries else ()),
     *((Frame(f"return_rate_{chosen('return_rate_kind', 'value', RATES)}", by="channel"),
        Frame("top_categories")) if orders else ()))

ui.show_sql("returns")
dating = st.segmented_control(
    "Date returns by", DATINGS, default="refund date", key="returns_dating",
    help="Refund date: the accounting view, money refunded in the period. Order date: the "
         "cohort view, refunds of the orders placed in the period, whenever they came.") \
    if orders else "refund date"
returns = returns_kpi(dating)
ui.metrics(cards(returns), columns=None if orders else 4)
if not orders:
    ui.missing_note(tables=("orders",), what="return rates, returns by order date and "
                                             "cancellations")

window = ui.setting("return_window_days")
as_of = ui.facts().as_of
monthly = ui.kpi(returns, year, by="month")
if ui.reason(returns):
    st.info(ui.reason(returns))
else:
    def state(month) -> str:
        if caveats.month_end(month) > as_of:
            return "month not over"
        # Dated by order: grows while the month's orders are inside the return window.
        return "final" if ui.maturity(returns, month, caveats.month_end(month)).final \
            else "not final"

    monthly["state"] = monthly["period"].map(state)
    monthly["month"] = monthly["period"].map(lambda m: f"{m:%b %Y}")
    fig = px.bar(monthly, x="month", y="value", color="state",
                 title=f"{kpilib.get(returns).label} by month, "
                       f"{ui.fmt_range(year.start, year.end)}",
                 color_discrete_map={"final": "#4c78a8", "not final": "#bab0ac",
                                     "month not over": "#dcdcdc"})
    fig.update_yaxes(title=None, **ui.tick_format("money"))
    fig.update_xaxes(title=None, type="category")
    # A legend of one entry ("final") says nothing, and on a phone it lay over the months'
    # labels: shown when the bars differ, or when they are all of another kind (UCI's one
    # month, not over: a grey bar that nothing explained without it).
    fig.update_layout(showlegend=set(monthly["state"]) != {"final"})
    ui.chart(fig, key="returns_by_month")
    if (monthly["state"] == "not final").any():
        st.caption(f"Months marked *not final* still have orders inside the {window}-day "
                   "return window: their returns will grow. (The window is a setting.)")

if orders:
    not_final = "" if ui.maturity("return_rate_value", f.start, f.end).final else " (not final)"
    left, right = st.columns(2)
    with left:
        rate = st.segmented_control("Return rate by", RATES, default="value",
                                    key="return_rate_kind") or "value"
        if ui.reason(f"return_rate_{rate}"):
            st.info(ui.reason(f"return_rate_{rate}"))
        else:
            by_channel = ui.kpi(f"return_rate_{rate}", by="channel").dropna(subset=["value"])
            by_channel["channel"] = by_channel["channel"].map(ui.channel_label)
            by_channel = by_channel.sort_values("value")
            fig = px.bar(by_channel, x="value", y="channel",
                         orientation="h", text_auto=".1%",
                         title=f"Return rate ({rate}) by channel{not_final}")
            zero_written(fig, by_channel["value"])
            fig.update_xaxes(title=None, **ui.tick_format("ratio"))
            fig.update_yaxes(title=None)
            ui.chart(fig, key="return_rate_by_channel")
    with right:
        if ui.reason("top_categories"):
            ui.missing_note(["top_categories"])
        elif ui.reason("return_rate_value"):
            st.info(ui.reason("return_rate_value"))
        else:
            cats = ui.kpi("top_categories")
            if ui.categorised(cats):
                # The 15 largest categories by sales, the rest as one.
                cats = ui.top_and_other(cats, "category", "gross_sales",
                                        sums=("gross_sales", "returns"),
                                        ratio=("return_rate", "returns", "gross_sales"))
                cats = cats.dropna(subset=["return_rate"]).sort_values("return_rate")
                fig = px.bar(cats, x="return_rate", y="category",
                             orientation="h", text_auto=".1%",
                             title=f"Return rate (value) by category{not_final}",
                             height=max(350, 60 + 26 * len(cats)))
                zero_written(fig, cats["return_rate"])
                fig.update_xaxes(title=None, **ui.tick_format("ratio"))
                fig.update_yaxes(title=None)
                ui.chart(fig, key="return_rate_by_category")
    if ui.not_final("return_rate_value") and not ui.reason("return_rate_value"):
        st.caption(ui.not_final("return_rate_value") + " The return rates of these dates will "
                   "still grow.")

by_country = ui.kpi(returns, by="country") if countries and not ui.reason(returns) else None
# Shown where some return has a country: none is no table (refunds alone, or a store an
# older importer wrote: its sentence above says to upload again).
if by_country is not None and by_country.loc[by_country["value"] != 0, "country"].notna().any():
    st.subheader("Returns by country")
    by_country = by_country[by_country["value"] != 0].sort_values("value", ascending=False)
    st.caption(f"{kpilib.get(returns).label} by the refunded order's country, or the refund's "
               "own where it names no stored order (a credit note). Countries without returns "
               "are left out.")
    ui.table(f"{returns}_by_country", pd.DataFrame({
        "Country": by_country["country"].fillna("No country recorded"),
        "Returns": by_country["value"],
        "Share of returns": by_country["value"] / by_country["value"].sum()}),
        {"Returns": "money", "Share of returns": "ratio"})

reasons = ui.kpi("refund_reasons")
if len(reasons) > 1 or (len(reasons) == 1 and reasons["reason"].iat[0] != "not given"):
    st.subheader("Why customers return")
    st.caption("Refunds made in the period, by the reason the export gives.")
    ui.table("refund_reasons", pd.DataFrame({"Reason": reasons["reason"],
                                             "Refunds": reasons["refunds"],
                                             "Amount": reasons["amount"]}),
             {"Refunds": "count", "Amount": "money"})
st.caption(" ".join([ui.definition(returns), *notes(ui.importers())])
           + (" " + ui.definition("return_rate_value") if orders else ""))
