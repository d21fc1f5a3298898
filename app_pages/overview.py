"""Overview: how is the shop doing? Cards vs the previous period and last year, alerts, the
trend and the channels."""
from dataclasses import replace
from datetime import date, timedelta
from urllib.parse import urlencode

import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui
from kpilib import report
from kpilib.alerts import history_start, outside_band

f = ui.require_filters()
ui.header("Overview", "arrows: change vs the previous period of the same length; last year: "
                      "the same days 364 days back (same weekdays)")
spark = "day" if f.days <= 92 else "week"
for row in (("net_sales", "orders", "aov", "sessions", "conversion_rate"),
            ("new_customers", "returning_customer_rate", "mer", "return_rate_value",
             "stockout_rate")):
    ui.metrics(row, spark_by=spark, last_year=True)

# Alerts: KPIs behind their month's target, then days outside what the same weekday looked
# like over the previous 8 weeks. Each links to its page with the filters set.
PAGE = {"net_sales": "sales", "gross_sales": "sales", "orders": "sales", "aov": "sales",
        "sessions": "traffic", "conversion_rate": "traffic", "new_customers": "loyalty",
        "returning_customer_rate": "loyalty", "mer": "marketing", "roas": "marketing",
        "cac": "marketing", "spend": "marketing", "return_rate_value": "returns",
        "stockout_rate": "stock"}


def link(page: str, start, end) -> str:
    params = {"period": "Custom", "dates": [start.isoformat(), end.isoformat()]}
    if f.channels:
        params["channels"] = list(f.channels)
    # A plain link (not st.page_link, which adds to the current query parameters): it opens
    # the page on those days with the same channels, in a new tab.
    return f"{page}?{urlencode(params, doseq=True)}"


behind = [p for p in ui.pacing().values() if p.behind]
days = []
for name in ("net_sales", "orders", "sessions", "conversion_rate"):
    daily = ui.kpi(name, replace(f, start=history_start(f.start)), "day")
    for r in outside_band(daily, f.start, f.end).itertuples():
        days.append((r.day, name, r))
if behind or days:
    with st.expander(f"Alerts: {len(behind)} behind target, {len(days)} unusual day(s)",
                     expanded=True):
        for p in behind:
            k = kpilib.get(p.kpi)
            start = date.fromisoformat(p.month + "-01")
            text = (f"**{k.label}** is behind its {start:%B} target of "
                    f"{ui.fmt(p.target, k.unit, compact=True)}: {ui.pace_text(p, colour=False)}")
            st.markdown(f":material/flag: [{text}]"
                        f"({link(PAGE[p.kpi], start, start + timedelta(days=p.days - 1))})")
        # The largest surprises first.
        for day, name, r in sorted(days, key=lambda a: -a[2].severity)[:5]:
            k = kpilib.get(name)
            text = (f"**{day:%a %d %b}** — {k.label} {ui.fmt(r.value, k.unit)} is {r.direction} "
                    f"the usual {ui.fmt(max(r.low, 0), k.unit)} – {ui.fmt(r.high, k.unit)} "
                    f"for a {day:%A}")
            st.markdown(f":material/warning: [{text}]({link(PAGE[name], day, day)})")
        more = f"The 5 largest of {len(days)} unusual days are shown. " if len(days) > 5 else ""
        st.caption(more + "Behind target: the month-to-date pace is more than 2 % short of the "
                   "month's target (Settings). A day is unusual when it falls outside the mean ± 2 "
                   "standard deviations (at least ± 15 %) of the same weekday over the previous "
                   "8 weeks. Click one to open its page on those days.")

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

st.subheader("Monthly management report")
months = ui.months()
month = st.selectbox("Month", months, key="report_month",
                     help="KPI cards with comparisons, the main charts, the channel table, top "
                          "products and room for comments, in one HTML file (print it to PDF "
                          "from the browser).")
st.download_button("Download the report (HTML)", icon=":material/description:",
                   data=lambda: report.build(ui.connection(), month, goals=ui.goals(),
                                             currency=ui.currency()).encode("utf-8"),
                   file_name=f"report_{month}.html", mime="text/html", key="report_download")
