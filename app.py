"""Entry point: routes the pages and draws the shared filters once, for every page."""
import streamlit as st

import ui

st.set_page_config(page_title="Shop KPIs", page_icon=":material/storefront:", layout="wide")
# KPI card labels wrap instead of ending in "…": five cards a row cut "Returning-customer rate"
# to "Returning-custom…". (A style-only st.html takes no room on the page.)
st.html("<style>[data-testid='stMetricLabel'] .stMarkdownEllipsis, "
        "[data-testid='stMetricLabel'] p {white-space: normal;}</style>")


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
