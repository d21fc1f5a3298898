"""Entry point: routes the pages and draws the shared filters once, for every page."""
import streamlit as st

import ui
from kpilib import formatting

st.set_page_config(page_title="Shop KPIs", page_icon=":material/storefront:", layout="wide")
# KPI card labels wrap instead of ending in "…": five cards a row cut "Returning-customer rate"
# to "Returning-custom…". A card's value is at most a fifth of the card's width high, so a value
# of 5 ems (kpilib.formatting.CARD_EMS: "R$486,719", "CHF 16.2 k") shows whole in a row of five
# on a 1280 px laptop. (A style-only st.html takes no room on the page.)
st.html("<style>[data-testid='stMetricLabel'] .stMarkdownEllipsis, "
        "[data-testid='stMetricLabel'] p {white-space: normal;} "
        "[data-testid='stMetric'] {container-type: inline-size;} "
        "[data-testid='stMetricValue'] {font-size: min(2.25rem, 20cqi);}</style>"
        # One element, not two: each is sent and drawn again on every click.
        + ui.NARROW_CSS)


def page(name: str, title: str, icon: str, **kw):
    return st.Page(f"app_pages/{name}.py", title=title, icon=f":material/{icon}:", **kw)


NOT_FOUND = "_not_found"


def not_found():
    """Run by no one: a link to a page that does not exist (/nope) resolves to it, and is sent
    on to the Overview below. Without it Streamlit answers with a modal dialog, which covers
    the password box."""


PAGES = {
    "Overview": [page("overview", "Overview", "dashboard", default=True)],
    "Acquisition": [page("traffic", "Traffic", "traffic"), page("funnel", "Funnel", "filter_alt"),
                    page("marketing", "Marketing ROI", "campaign")],
    "Sales & customers": [page("sales", "Sales", "receipt_long"),
                          page("returns", "After-sales", "assignment_return"),
                          page("loyalty", "Customers", "group")],
    "Operations": [page("stock", "Stock", "inventory_2")],
    "Data": [page("data", "Data", "upload_file"), page("settings", "Settings", "settings")],
}

# Every exception below is one plain sentence for the viewer (ui.error_boundary); the page
# is drawn from one version of the store, looked up once (ui.pinned_store).
with ui.error_boundary(), ui.pinned_store():
    # Nothing but the sign-in is drawn (no menu, no filters, no number) until it is passed.
    allowed = ui.signed_in()
    pages = dict(PAGES)
    unknown = ui.unknown_path({p.url_path for ps in PAGES.values() for p in ps})
    if unknown:
        pages["Overview"] = [*PAGES["Overview"], st.Page(
            not_found, title="Page not found", url_path=unknown, visibility="hidden")]
    nav = st.navigation(pages, position="sidebar" if allowed else "hidden")
    if not allowed:
        st.stop()
    if unknown and nav.url_path == unknown:
        # Before the filters bind the query parameters to their widgets: the link's filters
        # carry over.
        st.session_state[NOT_FOUND] = unknown
        st.switch_page(PAGES["Overview"][0], query_params=st.query_params.to_dict())
    if NOT_FOUND in st.session_state:
        # The name comes from the link: plain text, not Markdown.
        gone = formatting.md_plain(st.session_state.pop(NOT_FOUND))
        st.toast(f"There is no page “/{gone}”: here is the Overview.", icon=":material/info:")
    ui.up_to_date()
    ui.sidebar_filters()
    nav.run()
