"""Settings kept with the shop's data (settings.json in the store)."""
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

import ui
from kpilib.channels import CHANNELS

st.title("Settings")
store, is_demo = ui.active_store()
if is_demo:
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
    currencies = CURRENCIES if s["currency"] in CURRENCIES else [s["currency"], *CURRENCIES]
    currency = st.selectbox("Reporting currency", currencies, key="set_currency",
                            index=currencies.index(s["currency"]),
                            help="Amounts are shown in it; uploads in another currency are "
                                 "flagged (no conversion without an exchange-rate table).")
    window = st.number_input("Return window (days)", min_value=0, max_value=365, step=1,
                             value=int(s["return_window_days"]), key="set_return_window",
                             help="Months whose orders can still be returned are marked "
                                  "'not final' on the After-sales page.")
    target = st.number_input("ROAS target", min_value=0.0, step=0.5, key="set_roas_target",
                             value=float(s.get("roas_target", 2.0)))
    st.markdown("**Channel mapping** — spend channels renamed to the channel your orders use "
                "(e.g. *facebook* → *paid social*).")
    mapping = st.data_editor(
        pd.DataFrame({"from": list(s.get("channel_map", {})),
                      "to": list(s.get("channel_map", {}).values())}, dtype="string"),
        num_rows="dynamic", width="stretch", key="set_channel_map", column_config={
            "from": st.column_config.TextColumn("Channel in the spend export", required=True),
            "to": st.column_config.SelectboxColumn("Channel on orders", options=list(CHANNELS),
                                                   required=True)})
    if st.form_submit_button("Save", type="primary"):
        rows = mapping.dropna()
        store.update_settings({
            "timezone": tz, "currency": currency, "return_window_days": int(window),
            "roas_target": float(target),
            "channel_map": {str(a).strip().lower(): b for a, b in zip(rows["from"], rows["to"])
                            if str(a).strip()}})
        st.success("Saved.")
