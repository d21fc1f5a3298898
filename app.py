"""Entry point: routes the pages and draws the shared filters once, for every page."""
import streamlit as st

import ui

st.set_page_config(page_title="Shop KPIs", page_icon=":material/storefront:", layout="wide")
# KPI card labels wrap instead of ending in "…": five cards a row cut "Returning-customer rate"
# to "Returning-custom…". A card's value is at most a fifth of the card's width high, so a value
# of 5 ems (kpilib.formatting.CARD_EMS: "R$486,719", "CHF 16.2 k") shows whole in a row of five
# on a 1280 px laptop. (A style-only st.html takes no room on the page.)
st.html("<style>[data-testid='stMetricLabel'] .stMarkdownEllipsis, "
        "[data-testid='stMetricLabel'] p {white-space: normal;} "
        "[data-testid='stMetric'] {container-type: inline-size;} "
        "[data-testid='stMetricValue'] {font-size: min(2.25rem, 20cqi);}</style>")


def page(name: str, title: str, icon: str, **kw):
    return st.Page(f"app_pages/{name}.py", title=title, icon=f":material/{icon}:", **kw)


# Nothing but the sign-in is drawn (no menu, no filters, no number) until it is passed.
allowed = ui.signed_in()
nav = st.navigation({
    "Overview": [page("overview", "Overview", "dashboard", default=True)],
    "Acquisition": [page("traffic", "Traffic", "traffic"), page("funnel", "Funnel", "filter_alt"),
                    page("marketing", "Marketing ROI", "euro")],
    "Sales & customers": [page("sales", "Sales", "receipt_long"),
                          page("returns", "After-sales", "assignment_return"),
                          page("loyalty", "Customers", "group")],
    "Operations": [page("stock", "Stock", "inventory_2")],
    "Data": [page("data", "Data", "upload_file"), page("settings", "Settings", "settings")],
}, position="sidebar" if allowed else "hidden")
if not allowed:
    st.stop()
ui.sidebar_filters()
nav.run()
