"""Overview: how is the shop doing? Cards vs the previous period and last year, alerts, the
trend and the channels."""
import itertools
from datetime import date, timedelta
from operator import itemgetter

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import kpilib
import ui
from kpilib import alerts, forecast, report
from ui.plan import Cards, Frame, chosen, read

f = ui.require_filters()
prev_words, ly_words = f.comparison_words()
ui.header("Overview", f"arrows: change vs {prev_words}; last year: {ly_words}")
for said in ui.outdated(("orders", "order_items")):
    st.warning(said, icon=":material/update:")
CARDS = ("net_sales", "orders", "aov", "sessions", "conversion_rate", "new_customers",
         "returning_customer_rate", "mer", "return_rate_value", "stockout_rate")
BY_CHANNEL = ("net_sales", "orders", "sessions", "conversion_rate", "aov")
# Refunds or stock snapshots alone fill none of these: no trend to pick.
CHOICES = [n for n in ("net_sales", "orders", "sessions", "conversion_rate", "aov",
                       "new_customers", "spend") if not ui.reason(n)]
spark = "day" if f.days <= 92 else "week"
shown = [n for n in CARDS if not ui.missing(n)]
# MER is the card that reads ad spend, and it needs orders too: a shop that uploaded only
# spend (or spend and traffic) sees its spend, beside the sentence naming what fills the rest.
if "mer" not in shown and not ui.missing("spend"):
    shown.append("spend")
trend_kpi = chosen("trend_kpi", CHOICES[0] if CHOICES else None, CHOICES)
read(Cards(tuple(shown), spark_by=spark, last_year=True),
     *(Frame(trend_kpi, g, spark) for g in (f, f.previous_period()) if trend_kpi),
     *(Frame(n, by="channel") for n in BY_CHANNEL))
for i in range(0, len(shown), 5):
    ui.metrics(shown[i:i + 5], spark_by=spark, last_year=True, columns=5, why=True)
ui.missing_note([n for n in CARDS if ui.missing(n)])
# Month-end forecasts sit on the cards of the month to date only: under the last 30 days'
# figure a month's forecast would read as that period's. Said, when the month is still open.
as_of = ui.facts().as_of
over = forecast.ended(as_of)
said = st.empty()   # in a place of its own, as the alerts below (they come and go)
if over and f.end == as_of and set(shown) & set(forecast.KPIS):
    # A month the calendar has left: its forecasts say what its missing days would have
    # made had the shop sold as usual, not where a month in progress is heading.
    said.caption(over[0].upper() + over[1:] + "." + (
        " The forecasts say what the month would have made had it sold as usual on them."
        if forecast.month_to_date(f, as_of) else ""))
elif f.end == as_of and as_of < forecast.month_end(as_of.replace(day=1)) \
        and not forecast.month_to_date(f, as_of) and set(shown) & set(forecast.KPIS):
    said.caption(f"{as_of:%B} is not over: pick **Month to date** to see where it is heading "
                 "(month-end forecasts with their 80 % range).")


def unusual_text(r: dict) -> str:
    unit = kpilib.get(r["kpi"]).unit
    # A plain link (not st.page_link, which adds to the current query parameters): it opens
    # the page on that day with the same channels, in a new tab.
    return (f"[{r['label']} {ui.fmt(r['value'], unit, compact=True)}]({r['page']}) "
            f"{r['direction']} the usual {ui.fmt(r['low'], unit, compact=True)} – "
            f"{ui.fmt(r['high'], unit, compact=True)}")


# Alerts: KPIs behind their month's target, then days outside what the same weekday looked
# like over the previous 8 weeks. Each links to its page with the filters set.
behind = [p for p in ui.pacing().values() if p.behind]
unusual = ui.unusual_days()
n_days = unusual["day"].nunique()
# They come and go with the filters: in a slot that is always there, so that the sections
# below keep their place in the page and the browser updates them in place. Without it, a
# switch between a period with alerts and one without (Last 30 ⇄ 90 days) shifted the
# trend, the table and the report by one and the browser drew each of them anew.
alerts_slot = st.empty()
if not (behind or n_days):
    # Said, not left out: a period without alerts read as alerts switched off, or (a shop
    # with a month of data) as a quiet month where no day could be judged.
    alerts_slot.caption(":material/notifications_none: " + alerts.quiet_text(
        ui.alerts_judged_from(), f.start, f.end, bool(ui.goals())))
else:
    # Targets are counted only where some are set (Settings).
    counts = ([f"{len(behind)} behind target"] if ui.goals() else []) + \
        [f"{n_days} unusual day{'s' if n_days != 1 else ''}"]
    with alerts_slot.container(), st.expander("Alerts: " + ", ".join(counts), expanded=True):
        for p in behind:
            k = kpilib.get(p.kpi)
            start = date.fromisoformat(p.month + "-01")
            text = (f"**{k.label}** is behind its {start:%B} target of "
                    f"{ui.fmt(p.target, k.unit, compact=True)}: {ui.pace_text(p, colour=False)}")
            end = start + timedelta(days=p.days - 1)
            st.markdown(f":material/flag: [{text}]"
                        f"({alerts.page_link(p.kpi, start, end, f.channels)})")
            st.button(f"Why? {k.label}", key=f"why_{p.kpi}_{p.month}", type="tertiary",
                      icon=":material/troubleshoot:", on_click=ui.open_why,
                      args=(p.kpi, start, end))
        # The most unusual days first, one line each with every KPI unusual that day. As
        # plain rows: pandas' itertuples and groupby cost ~1 ms a day, a tenth of the page's
        # script on the last 90 days.
        shown = unusual[unusual["rank"] <= 5].sort_values("rank", kind="stable")
        for _, day_rows in itertools.groupby(shown.to_dict("records"), itemgetter("rank")):
            rows = list(day_rows)
            day = rows[0]["day"]
            # A record day is news, not a warning: the warning sign for a day where some
            # KPI moved the bad way only.
            icon = ":green[:material/trending_up:]" if all(r["good"] for r in rows) else \
                ":orange[:material/warning:]"
            st.markdown(f"{icon} **{day:%a %d %b}** — unusual for a {day:%A}: "
                        + " · ".join(map(unusual_text, rows)))
            # What made each of them unusual, against the same weekday a week before. One
            # row of buttons, not a column each (and two empty ones): fewer blocks to send and
            # draw on every click.
            row = st.container(horizontal=True)
            for r in rows:
                row.button(f"Why? {r['label']}", key=f"why_{r['kpi']}_{day:%Y%m%d}",
                           type="tertiary", icon=":material/troubleshoot:", on_click=ui.open_why,
                           args=(r["kpi"], day, day))
        # Each kind of alert explained only where it can be shown: a shop with no targets
        # read what "behind target" means under a list of unusual days alone.
        st.caption(" ".join(text for text, shown in [
            (f"The 5 most unusual of {n_days} days are shown.", n_days > 5),
            ("Behind target: the month-to-date pace (on the month to date, the month-end "
             "forecast) is more than 2 % short of the month's target (Settings).", ui.goals()),
            ("Unusual day: its net sales, orders, sessions or conversion rate left the usual "
             "range for that weekday: the average of the same weekday over the previous 8 "
             "weeks, give or take three times how much those 8 days varied (3 standard "
             "deviations) and never less than ± 30 %. The days furthest outside it come "
             "first; a day with less than 8 weeks of stored data before it is not judged. "
             "Click one to open its page on that day.", n_days)] if shown))


@st.cache_resource(max_entries=200, show_spinner=False)
def trend_figure(path: str, version: str, name: str, f: kpilib.Filters, by: str) -> go.Figure:
    """The trend chart, built once per store version (data and settings) and filters for
    every session: ~10 ms of a rerun's server time, and the same for every viewer of a
    hosted link who asks for it. Shared, so never changed after it is built."""
    k = kpilib.get(name)
    now, before = ui.kpi(name, f, by=by), ui.kpi(name, f.previous_period(), by)
    fig = go.Figure()
    fig.add_scatter(x=now["period"], y=now["value"], name="This period", mode="lines+markers")
    # The previous period drawn on this period's dates, so the two lines can be compared day
    # by day. Days before the first stored day are unknown, not 0: left out.
    shifted = before["value"].where(before["period"] >= ui.data_start())
    if shifted[: len(now)].notna().any():
        # (None of it stored: a legend entry for a line not drawn.)
        fig.add_scatter(x=now["period"][: len(before)], y=shifted[: len(now)],
                        name="Previous period", mode="lines",
                        line=dict(dash="dot", color="#9aa0a6"))
    fig.update_layout(title=f"{k.label} by {by}", hovermode="x unified")
    # From 0: over a week, a scale from €200 drew a dip of a fifth as a fall to nothing.
    fig.update_yaxes(rangemode="tozero", **ui.tick_format(k.unit))
    fig = ui.styled(fig)
    fig.update_layout(margin=fixed_margins(pd.concat([now["value"], shifted]), k.unit))
    return fig


# Plotly lays out a chart whose legend and tick labels may push its margins twice on every
# redraw: once to measure what they need, then again with those margins (~30 ms of the
# browser's time a click on the Overview, bench/README.md). The trend's margins, fixed: what
# Plotly worked out for it (79 px at the bottom for the dates and the legend under them) and
# room for the widest y tick label at ~6.5 px a character of Plotly's 12 px font; 20 px at
# the right for the last date's label on a phone.
def fixed_margins(values: pd.Series, unit: str) -> dict:
    t = ui.tick_format(unit)
    # The top tick may lie above the data (Plotly pads the range, then rounds to a tick):
    # 1.25 × the largest value is as long as it can be.
    top = 1.25 * (values.abs().max() if values.notna().any() else 1)
    widest = (f"{t.get('tickprefix', '')}{top:{t['tickformat']}}{t.get('ticksuffix', '')}"
              + ("−" if (values < 0).any() else ""))
    return dict(l=round(14 + 6.5 * len(widest)), r=20, b=79, autoexpand=False)


# The trend's and the report's pickers depend on nothing below them: each section is a
# fragment, so picking another KPI or month reruns that section alone, not the cards, alerts
# and table above it (the sidebar's filters still rerun the whole page). A fragment's rerun
# is outside app.py's error boundary: each has its own.
@st.fragment
def trend_section():
    with ui.error_boundary():
        name = st.selectbox("Trend", CHOICES, format_func=lambda n: kpilib.get(n).label,
                            key="trend_kpi")
        k = kpilib.get(name)
        store = ui.active_store()[0]
        ui.draw_chart(trend_figure(str(store.path), store.fingerprint, name, f, spark),
                      key="overview_trend")
        ui.part_periods_note(spark)
        st.caption(ui.help_text(k))
        ui.show_sql(name, by=spark)


if CHOICES:
    trend_section()

channels, units = ui.by_channel_table(list(BY_CHANNEL))
if not channels.empty:
    st.subheader("By channel")
    ui.table("overview_channels", channels, units)


@st.fragment
def report_section():
    with ui.error_boundary():
        st.subheader("Monthly management report")
        month = st.selectbox("Month", ui.months(), key="report_month",
                             help="KPI cards with comparisons, the main charts, the channel "
                                  "table, top products and room for comments, in one HTML file "
                                  "(print it to PDF from the browser).")
        # What the report needs, fixed now: the button's callable runs outside the script
        # run, where session state and session-scoped caches cannot be reached (a shared
        # link).
        con, goals, currency = ui.connection(), ui.goals(), ui.currency()
        window = ui.setting("return_window_days")
        st.download_button("Download the report (HTML)", icon=":material/description:",
                           data=lambda: report.build(con, month, goals=goals, currency=currency,
                                                     window_days=window).encode("utf-8"),
                           file_name=f"report_{month}.html", mime="text/html",
                           key="report_download")


report_section()

# "Why?" from a card or an alert (or a link carrying ?why=KPI): what made the figure change.
ui.why_view(f)
