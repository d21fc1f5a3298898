"""Settings kept with the shop's data (settings.json in the store)."""
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

import kpilib
import ui
from kpilib import targets
from kpilib.channels import CHANNELS
from kpilib.registry import CANCELLED, CANCELLED_SHORT

st.title("Settings")
store, is_demo = ui.active_store()
if not ui.can_change():
    st.info("This is a shared link: the shop's settings are shown read-only.")
elif is_demo:
    st.info("These settings belong to the demo shop until you upload your own data.")
s = store.settings
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "DKK", "NOK", "PLN", "BRL"]

with st.form("settings"):
    zones = sorted(available_timezones())
    tz = st.selectbox("Shop timezone", zones, index=zones.index(s["timezone"])
                      if s["timezone"] in zones else zones.index("UTC"), key="set_timezone",
                      help="Timestamps with a UTC offset are converted to this timezone when "
                           "they are uploaded; a day is a day in this timezone. Data already "
                           "stored keeps the timezone it was uploaded with.")
    # The currency amounts are shown in (one a store never chose is the one its orders are
    # in; none when nothing says, and saving then leaves it unset).
    ours = ui.currency()
    currencies = CURRENCIES if ours in CURRENCIES else [ours, *CURRENCIES]
    currency = st.selectbox("Reporting currency", currencies, key="set_currency",
                            index=currencies.index(ours),
                            format_func=lambda c: "Not set" if c is None else c,
                            help="Amounts are shown in it; uploads in another currency are "
                                 "flagged (no conversion without an exchange-rate table).")
    window = st.number_input("Return window (days)", min_value=0, max_value=365, step=1,
                             value=int(s["return_window_days"]), key="set_return_window",
                             help="Months whose orders can still be returned are marked "
                                  "'not final' on the After-sales page.")
    # The two conventions: Shopify's matches its sales reports (a cancelled order is a sale,
    # then a return); the default keeps cancellations out of sales and in their own rate.
    conventions = list(CANCELLED_SHORT)
    cancelled = st.radio(
        "Cancelled orders", conventions, key="set_cancelled_orders",
        index=conventions.index(s["cancelled_orders"]),
        format_func=lambda c: {"excluded": "Leave them out of sales (default)",
                               "shopify": "Count them as Shopify does"}[c],
        help=f"Leave them out: {CANCELLED['excluded']} Count them as Shopify does, so that "
             f"gross sales, orders, returns and net sales by day and month match Shopify's "
             f"sales reports: {CANCELLED['shopify']} Returns, return rates and refund reasons then "
             f"include the cancellations (reason 'cancelled'), and orders and customers count "
             f"them. Changing this recomputes every figure from the stored data.")
    target = st.number_input("ROAS target", min_value=0.0, step=0.5, key="set_roas_target",
                             value=float(s.get("roas_target", 2.0)))
    st.markdown("**Channel mapping** — names in your exports renamed to the channel your "
                "orders use: spend channels (e.g. *facebook* → *paid social*), and from the "
                "next upload on, a Shopify order's app id or channel (*5776891* → *affiliate*, "
                "*sms* → *email*).")
    mapping = st.data_editor(
        pd.DataFrame({"from": list(s.get("channel_map", {})),
                      "to": list(s.get("channel_map", {}).values())}, dtype="string"),
        num_rows="dynamic", width="stretch", key="set_channel_map", column_config={
            "from": st.column_config.TextColumn("Channel or app id in the export",
                                                required=True),
            "to": st.column_config.SelectboxColumn("Channel on orders", options=list(CHANNELS),
                                                   required=True)})
    # A phone (390 px) shows each editor's first columns, even empty, and nothing said there
    # are more: the tables' hint, on narrow screens.
    ui.scroll_hint(None, "channel_map")
    st.markdown("**Monthly targets** — for the whole shop, or for one channel. The Overview "
                "shows each KPI's month-to-date pace against its target (weighted by the shop's "
                "weekday pattern) and lists the KPIs behind it.")
    # Rates are typed in percent (2.5), and kept as the fraction every KPI uses (0.025).
    PERCENT = {n for n in targets.KINDS if kpilib.get(n).unit == "ratio"}
    ALL = "all"   # the editor's word for "the whole shop" (None in the settings)
    saved = pd.DataFrame([{**t, "channel": t["channel"] or ALL,
                           "value": t["value"] * (100 if t["kpi"] in PERCENT else 1)}
                          for t in s.get("targets", [])],
                         columns=["kpi", "month", "channel", "value"])
    goals = st.data_editor(
        saved.astype({"kpi": "string", "month": "string", "channel": "string",
                      "value": "float64"}),
        num_rows="dynamic", width="stretch", key="set_targets", column_config={
            "kpi": st.column_config.SelectboxColumn(
                "KPI", options=list(targets.KINDS), required=True,
                format_func=lambda n: kpilib.get(n).label),
            "month": st.column_config.TextColumn(
                "Month", required=True, validate=r"^\d{4}-(0[1-9]|1[0-2])$",
                default=f"{ui.data_end():%Y-%m}" if st.session_state.get("filters") else None,
                help="YYYY-MM, e.g. 2026-11"),
            "channel": st.column_config.SelectboxColumn(
                "Channel", options=[ALL, *CHANNELS], default=ALL,
                format_func=lambda c: "All channels" if c == ALL else ui.channel_label(c)),
            "value": st.column_config.NumberColumn("Target", min_value=0, required=True,
                                                   format="localized",
                                                   help="Money in the reporting currency, "
                                                        "rates in % (2.5 means 2.5 %)")})
    ui.scroll_hint(None, "targets")
    if st.form_submit_button("Save", type="primary", disabled=not ui.can_change()):
        rows = mapping.dropna()
        try:
            rows_in = goals.astype(object).where(goals.notna(), None).to_dict("records")
            goals = targets.parse([{**r, "channel": None if r["channel"] == ALL else r["channel"],
                                    "value": r["value"] / 100 if r["kpi"] in PERCENT and
                                    isinstance(r["value"], float) else r["value"]}
                                   for r in rows_in])
        except ValueError as e:
            st.error(f"Targets not saved: {e}. Nothing was changed.")
            st.stop()
        store.update_settings({
            "targets": targets.to_settings(goals),
            "timezone": tz, **({"currency": currency} if currency else {}),
            "return_window_days": int(window),
            "roas_target": float(target), "cancelled_orders": cancelled,
            "channel_map": {str(a).strip().lower(): b for a, b in zip(rows["from"], rows["to"])
                            if str(a).strip()}})
        st.success("Saved.")
