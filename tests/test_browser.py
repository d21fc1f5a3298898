"""The app in a real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""
import re
from pathlib import Path

import pytest

from browser import app_server, browser, require_browser, shot, wait_drawn

PAGES = {"": "overview", "traffic": "traffic", "funnel": "funnel", "marketing": "marketing",
         "sales": "sales", "returns": "returns", "stock": "stock",
         "loyalty": "loyalty", "data": "data", "settings": "settings"}


@pytest.fixture(scope="module")
def chromium():
    require_browser()
    with browser() as b:
        yield b


def card(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_deep_link_on_a_fresh_server_keeps_filters_across_pages(tiny_store, chromium):
    from playwright.sync_api import expect

    with app_server(tiny_store.path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        # A link copied from another browser, opened on a server that has never run a page.
        page.goto(f"{url}/traffic?channels=email&period=Last+month")
        wait_drawn(page)
        chips = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"] [data-tag]')
        expect(chips).to_have_text(["Email"])
        expect(page.locator("h1")).to_have_text("Traffic")
        assert card(page, "Sessions") == "40"          # email, February 2025
        shot(page, "deep_link_traffic_email")

        page.get_by_role("link", name="Sales", exact=True).click()
        expect(page.locator("h1")).to_have_text("Sales")
        wait_drawn(page)
        expect(chips).to_have_text(["Email"])
        assert re.search(r"channels=email", page.url) and "Last+month" in page.url
        # email in February: o6 (30), refunded 30 the same month.
        assert card(page, "Net sales") == "€0.00"
        assert card(page, "Orders") == "1"
        shot(page, "deep_link_sales_email")
        page.close()


def test_every_page_renders_without_errors(demo_store, chromium):
    with app_server(demo_store.path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 2000})
        for path, name in PAGES.items():
            page.goto(f"{url}/{path}")
            wait_drawn(page, charts=name not in ("data", "settings"))
            assert page.locator('[data-testid="stException"]').count() == 0, name
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0, name
            if name not in ("data", "settings"):
                assert page.locator('[data-testid="stPlotlyChart"] .main-svg').count() > 0, name
            values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            assert not any(v in ("nan", "None", "") for v in values), (name, values)
            shot(page, name)
        page.close()


def test_upload_in_the_browser(tmp_path, demo_store, chromium):
    from playwright.sync_api import expect

    tiny = Path(__file__).parent / "data" / "tiny"
    fmt = Path(__file__).parent / "data" / "formats"
    with app_server(tmp_path / "mine", {"KPILIB_DEMO_STORE": str(demo_store.path)}) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/data")
        wait_drawn(page, charts=False)
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            [str(tiny / "orders.csv"), str(tiny / "traffic.csv"), str(fmt / "google_ads.csv")])
        expect(page.get_by_text("Changes against what is stored")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("orders.csv: 8 rows of orders")).to_be_visible()
        wait_drawn(page, charts=False)
        shot(page, "data_upload_report")
        page.get_by_role("button", name="Add to the store").click()
        expect(page.get_by_text("Stored.")).to_be_visible(timeout=60_000)
        wait_drawn(page, charts=False)
        shot(page, "data_upload_done")
        page.close()
