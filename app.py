"""Entry point: routes the pages and draws the shared filters once, for every page."""
import streamlit as st

import ui

st.set_page_config(page_title="Shop KPIs", page_icon=":material/storefront:", layout="wide")

page = st.navigation({
    "Overview": [st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True)],
    "Acquisition": [st.Page("app_pages/traffic.py", title="Traffic", icon=":material/traffic:"),
                    st.Page("app_pages/funnel.py", title="Funnel", icon=":material/filter_alt:"),
                    st.Page("app_pages/marketing.py", title="Marketing ROI", icon=":material/euro:")],
    "Sales & customers": [
        st.Page("app_pages/sales.py", title="Sales", icon=":material/receipt_long:"),
        st.Page("app_pages/returns.py", title="After-sales", icon=":material/assignment_return:"),
        st.Page("app_pages/loyalty.py", title="Customers", icon=":material/group:")],
    "Operations": [st.Page("app_pages/stock.py", title="Stock", icon=":material/inventory_2:")],
    "Data": [st.Page("app_pages/data.py", title="Data", icon=":material/upload_file:")],
})
ui.sidebar_filters()
page.run()
