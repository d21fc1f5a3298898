"""Traffic: where visitors come from, how each channel converts, and what changed."""
import pandas as pd
import plotly.express as px
import streamlit as st

import kpilib
import ui
from kpilib.stats import compare_rates
from ui.plan import Cards, Frame, chosen, read

f = ui.require_filters()
ui.header("Traffic")
if not ui.need("traffic", what="traffic by channel") \
        or not ui.split_by(("sessions",), "sessions and users"):
    st.stop()
CARDS = ("sessions", "users", "new_users", "conversion_rate")
MEASURES = ["sessions", "users", "new_users"]
spark = "day" if f.days <= 92 else "week"
prev, ly = f.previous_period(), f.last_year()
# Orders and net sales come from the orders export: columns only when it is uploaded.
sales = ui.has("orders")
read(Cards(CARDS, spark_by=spark),
     Frame(chosen("traffic_measure", "sessions", MEASURES), f,
           (chosen("traffic_grain", ui.grain_default()), "channel")),
     *(Frame("sessions", g, "channel") for g in (f, prev, ly)),
     *(Frame("conversion_rate", g, "channel") for g in (f, prev)),
     *(Frame(n, f, "channel") for n in ("orders", "net_sales") if sales),
     *(Frame(n, f, "device") for n in ("sessions", "conversion_rate")))

ui.show_sql("sessions")
ui.metrics(CARDS, spark_by=spark)

left, right = st.columns(2)
with right:
    measure = st.segmented_control("Measure", MEASURES,
                                   default="sessions", key="traffic_measure",
                                   format_func=lambda n: kpilib.get(n).label) or "sessions"
with left:
    by = ui.grain("traffic_grain")
ui.trend(measure, by, key="traffic_by_channel",
         title=f"{kpilib.get(measure).label} by channel", split=True)

st.subheader("Channels")
now_s = ui.kpi("sessions", by="channel").set_index("channel")["value"]
prev_s = ui.kpi("sessions", prev, "channel").set_index("channel")["value"]
ly_s = ui.kpi("sessions", ly, "channel").set_index("channel")["value"]
conv = compare_rates(ui.kpi("conversion_rate", by="channel"),
                     ui.kpi("conversion_rate", prev, "channel")).set_index("channel")
tracked = not ui.reason("conversion_rate")
orders = ui.kpi("orders", by="channel").set_index("channel")["value"] if sales else {}
net = ui.kpi("net_sales", by="channel").set_index("channel")["value"] if sales else {}
channels = [c for c in now_s.sort_values(ascending=False).index]
rows = []
for c in channels:
    s = now_s.get(c, 0.0)
    rows.append({
        "Channel": ui.channel_label(c),
        "Sessions": s,
        "Share": s / now_s.sum() if now_s.sum() else None,
        "Sessions vs previous": ui.change_value(s, prev_s.get(c), "count"),
        "Sessions vs last year": ui.change_value(s, ly_s.get(c), "count"),
        **({"Conversion": conv["rate_now"].get(c),
            "Conversion vs previous": conv["change_pp"].get(c),
            "Beyond noise?": ui.verdict(conv.loc[c]) if c in conv.index else ""}
           if tracked else {}),
        **({"Orders": orders.get(c, 0.0), "Net sales": net.get(c, 0.0)} if sales else {}),
    })
# A comparison with no stored period behind it (no traffic a year ago) is left out, not a
# column of dashes.
rows = pd.DataFrame(rows)
rows = rows.drop(columns=[c for c in ("Sessions vs previous", "Sessions vs last year")
                          if c in rows and rows[c].isna().all()])
ui.table("traffic_channels", rows, {
    "Sessions": "count", "Share": "ratio", "Sessions vs previous": "change",
    "Sessions vs last year": "change", "Orders": "count", "Net sales": "money",
    **({"Conversion": "ratio", "Conversion vs previous": "pp"} if tracked else {})})
st.caption(f"Previous period: {ui.fmt_range(prev.start, prev.end)}; last year: "
           f"{ui.fmt_range(ly.start, ly.end)}. " + kpilib.get("conversion_rate").definition)

devices = ui.kpi("sessions", by="device")
devices = devices[devices["device"] != "unknown"]
if len(devices) > 1:
    st.subheader("Devices")
    a, b = st.columns(2)
    devices["device"] = devices["device"].str.capitalize()
    fig = px.pie(devices, names="device", values="value", title="Sessions by device", hole=0.5)
    with a:
        ui.chart(fig, key="sessions_by_device")
    dconv = ui.kpi("conversion_rate", by="device")
    dconv = dconv[dconv["device"] != "unknown"].assign(device=lambda d: d["device"].str.capitalize())
    fig = px.bar(dconv, x="device", y="value", title="Conversion rate by device", text_auto=".2%")
    fig.update_yaxes(title=None, **ui.tick_format("ratio"))
    fig.update_xaxes(title=None)
    with b:
        ui.chart(fig, key="conversion_by_device")
