"""A hosted link (KPILIB_SHARED=1, a password) in a real headless Chromium: the downloads
work, a failing page shows a plain sentence, an unknown path still lets a viewer sign in."""
import re

import pytest

from browser import app_server, browser, require_browser, shot, wait_drawn
from test_browser import _download, _download_file, card

PASSWORD = "open sesame"


@pytest.fixture(scope="module")
def chromium():
    require_browser()
    with browser() as b:
        yield b


def hosted(store, tmp_path, extra_env=None):
    """The app as hosted for viewers: shared mode, a password, private stores under tmp_path."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'password = "{PASSWORD}"\n')
    sessions = tmp_path / "sessions"
    sessions.mkdir(exist_ok=True)
    # As .streamlit/config.toml has it (tests/conftest.py asks for full details).
    env = {"KPILIB_SHARED": "1", "TMPDIR": str(sessions),
           "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "none", **(extra_env or {})}
    return app_server(store, env, args=("--secrets.files", str(secrets)))


def sign_in(page):
    from playwright.sync_api import expect

    box = page.get_by_label("Password", exact=True)
    expect(box).to_be_visible(timeout=60_000)
    box.fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_report_and_table_downloads_on_a_hosted_link(tiny_store, tmp_path, chromium):
    """The report's button and the tables' CSV / Excel buttons build their files outside the
    script run: on a hosted link they must not reach the session (MediaFileStorageError)."""
    import pandas as pd

    with hosted(tiny_store.path, tmp_path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?period=Last+month")
        sign_in(page)
        wait_drawn(page)
        assert card(page, "Net sales") == "€262.00"
        path, name = _download_file(page, page.get_by_role("button", name="Download · CSV").first,
                                    sign_in)
        assert name == "overview_channels_2025-02-01_2025-02-28.csv"
        csv = pd.read_csv(path, encoding="utf-8-sig").set_index("Channel")
        assert csv.loc["Paid search", "Net sales (EUR)"] == 122.0   # o2 50 + o3 (80 − 8)
        path, _ = _download_file(page, page.get_by_role("button", name="Download · Excel").first,
                                 sign_in)
        assert pd.read_excel(path).set_index("Channel").loc["Paid search", "Orders"] == 2
        # The report last: three full runs on a loaded machine (2026-12-05) saw every table's
        # button stay disabled for minutes after it, even after a reload (cause not found;
        # said in the note).
        page.get_by_test_id("stSelectbox").filter(has_text="Month").scroll_into_view_if_needed()
        html = _download(page, page.get_by_role("button", name="Download the report (HTML)"),
                         sign_in)
        # February 2025 (the latest complete month, the selectbox's default), as on the card:
        # net sales = o2 50 + o3 (80 − 8) + o4 40 + o6 30 + o7 (120 − 20) − refund r2 30 = 262
        # (o5 is cancelled, so its refund r4 is left out too); orders 5 (o2, o3, o4, o6, o7).
        assert "<html" in html[:200].lower() and "February 2025" in html
        assert re.search(r'data-kpi="net_sales">€262\.00<', html), html[:3000]
        assert re.search(r'data-kpi="orders">5<', html)
        shot(page, "hosted_downloads")
        page.close()


@pytest.fixture
def broken_store(store_copy):
    """The tiny store with its daily order sums damaged (a disk fault, a half-copied folder):
    the Overview's cards read them, so the page fails part-way."""
    import shutil

    for f in store_copy.path.glob("rollups/orders_daily/**/*.parquet"):
        f.write_bytes(b"not a parquet file")
    # Derived from the files, and read instead of them once built (kpilib/store.py).
    shutil.rmtree(store_copy.path / "cache", ignore_errors=True)
    return store_copy


def test_a_failing_page_says_so_plainly_and_logs_the_traceback(broken_store, monkeypatch,
                                                               caplog):
    from streamlit.testing.v1 import AppTest

    import ui
    from test_app import APP

    monkeypatch.setenv("KPILIB_STORE", str(broken_store.path))
    # With KPILIB_DEBUG (the tests' default) the page's exception reaches the test...
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.exception, "the damaged store must fail the Overview"
    # ...without it, the viewer reads one sentence and the server's log has the traceback.
    monkeypatch.delenv("KPILIB_DEBUG")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [ui.PAGE_FAILED]
    failed = [r for r in caplog.records if r.name == "kpilib.app"]
    assert failed and failed[0].exc_info and str(broken_store.path) in caplog.text


def test_a_failing_page_on_a_hosted_link_shows_no_traceback(broken_store, tmp_path, chromium):
    from playwright.sync_api import expect

    import ui

    with hosted(broken_store.path, tmp_path, {"KPILIB_DEBUG": ""}) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        sign_in(page)
        expect(page.get_by_text(ui.PAGE_FAILED)).to_be_visible(timeout=60_000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        text = page.locator('[data-testid="stApp"]').inner_text()
        assert page.locator('[data-testid="stException"]').count() == 0
        for leak in ("Traceback", "/work/", "/tmp/", str(broken_store.path), "parquet",
                     "duckdb", "Error:"):
            assert leak not in text, leak
        shot(page, "hosted_page_failed")
        page.close()


def test_an_unknown_path_on_a_hosted_link_still_signs_in(tiny_store, tmp_path, chromium):
    """Streamlit answers /nope with a modal "Page not found" dialog, which made the password
    box under it inert: the link now opens the sign-in, then the Overview with its filters."""
    from playwright.sync_api import expect

    with hosted(tiny_store.path, tmp_path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/nope?period=Last+month")
        sign_in(page)
        wait_drawn(page)
        expect(page.locator("h1")).to_have_text("Overview")
        assert page.get_by_role("dialog").count() == 0
        assert card(page, "Net sales") == "€262.00"     # February 2025, the link's period
        assert page.url.endswith("/?period=Last+month"), page.url
        page.close()
