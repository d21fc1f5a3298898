"""Overview: how is the shop doing? Cards vs the previous period and last year, alerts, the
trend and the channels."""
from dataclasses import replace
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
    for col, name in zip(st.columns(len(row)), row):
        with col:
            ui.metric(name, spark_by=spark, last_year=True)

# Alerts: days outside what the same weekday looked like over the previous 8 weeks.
WATCH = {"net_sales": "sales", "orders": "sales", "sessions": "traffic",
         "conversion_rate": "traffic"}
alerts = []
for name, page in WATCH.items():
    daily = ui.kpi(name, replace(f, start=history_start(f.start)), "day")
    for r in outside_band(daily, f.start, f.end).itertuples():
        alerts.append((r.day, name, page, r))
if alerts:
    with st.expander(f"Alerts: {len(alerts)} day(s) outside the usual range", expanded=True):
        # The largest surprises first.
        for day, name, page, r in sorted(alerts, key=lambda a: -a[3].severity)[:5]:
            k = kpilib.get(name)
            text = (f"**{day:%a %d %b}** — {k.label} {ui.fmt(r.value, k.unit)} is {r.direction} "
                    f"the usual {ui.fmt(max(r.low, 0), k.unit)} – {ui.fmt(r.high, k.unit)} "
                    f"for a {day:%A}")
            params = {"period": "Custom", "dates": [day.isoformat(), day.isoformat()]}
            if f.channels:
                params["channels"] = list(f.channels)
            # A plain link (not st.page_link, which adds to the current query parameters): it
            # opens the page on that day with the same channels, in a new tab.
            st.markdown(f":material/warning: [{text}]({page}?{urlencode(params, doseq=True)})")
        more = f"The 5 largest of {len(alerts)} are shown. " if len(alerts) > 5 else ""
        st.caption(more + "A day is flagged when it falls outside the mean ± 2 standard "
                   "deviations (at least ± 15 %) of the same weekday over the previous 8 weeks; "
                   "click one to open its page on that day.")

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
                   data=lambda: report.build(ui.connection(), month,
                                             currency=ui.currency()).encode("utf-8"),
                   file_name=f"report_{month}.html", mime="text/html", key="report_download")
