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


@pytest.fixture(scope="module")
def brl_store(demo_store, tmp_path_factory):
    """The demo shop reporting in BRL: a currency written as a code ("BRL 53,412") on cards."""
    import shutil

    from kpilib import Store
    store = Store(shutil.copytree(demo_store.path, tmp_path_factory.mktemp("brl") / "store"))
    store.update_settings({"currency": "BRL"})
    return store


# (store fixture, pages whose charts must draw): on orders only, the traffic pages hold the
# sentence naming the export instead.
SHOPS = {"demo": set(PAGES.values()) - {"data", "settings"},
         "brl_store": {"overview", "marketing"},   # the most money cards, and spend's
         "uci_month_store": {"overview", "sales", "returns", "loyalty"}}


@pytest.mark.parametrize("shop", list(SHOPS))
def test_every_page_renders_without_errors(shop, request, chromium):
    """Every page at 1440 and 390 px: no error box, charts drawn, and every card's label,
    value and change shown whole (not cut to "Returning-custom…" or "BRL 53,4…")."""
    store = request.getfixturevalue("demo_store" if shop == "demo" else shop)
    paths = {p: n for p, n in PAGES.items() if shop != "brl_store" or n in SHOPS[shop]}
    with app_server(store.path) as url:
        for width in (1440, 390):
            page = chromium.new_page(viewport={"width": width, "height": 2000})
            for path, name in paths.items():
                page.goto(f"{url}/{path}")
                wait_drawn(page, charts=name in SHOPS[shop])
                assert page.locator('[data-testid="stException"]').count() == 0, name
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, name
                values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
                assert not any(v in ("nan", "None", "") for v in values), (name, values)
                cut = page.locator(
                    '[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"], '
                    '[data-testid="stMetricValue"] *, [data-testid="stMetricDelta"] div'
                ).evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth)"
                               ".map(e => e.innerText)")
                assert not cut, (shop, width, name, cut)
                shot(page, f"{shop}_{name}_{width}")
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


def other_shop(folder: Path) -> Path:
    """A viewer's own export: three orders of €111 in June 2025."""
    f = folder / "my_orders.csv"
    f.write_text("order_id,ordered_at,customer_id,channel,status,currency,gross_sales,discounts\n"
                 + "".join(f"m{i},2025-06-0{i} 10:00:00,c{i},email,paid,EUR,111,0\n"
                           for i in (1, 2, 3)))
    return f


def test_shared_link_keeps_each_sessions_uploads_private(tmp_path, tiny_store, chromium):
    """Two browsers on one shared link: A's upload is A's alone, the shop's store is not
    touched, and A's private store is deleted when A goes away."""
    from playwright.sync_api import expect

    sessions = tmp_path / "sessions"
    sessions.mkdir()
    version = tiny_store.version
    env = {"KPILIB_SHARED": "1", "TMPDIR": str(sessions)}
    with app_server(tiny_store.path, env) as url:
        a, b = chromium.new_context(), chromium.new_context()
        page_a, page_b = a.new_page(), b.new_page()
        page_b.goto(url)
        wait_drawn(page_b)
        shop_sales = card(page_b, "Net sales")

        page_a.goto(f"{url}/data")
        wait_drawn(page_a, charts=False)
        expect(page_a.get_by_text("This is a shared link")).to_be_visible()
        page_a.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            str(other_shop(tmp_path)))
        page_a.get_by_role("button", name="Add to the store").click(timeout=60_000)
        expect(page_a.get_by_text("Stored.")).to_be_visible(timeout=60_000)
        page_a.get_by_role("link", name="Overview", exact=True).click()
        wait_drawn(page_a)
        expect(page_a.get_by_text("your own uploads")).to_be_visible()
        assert card(page_a, "Net sales") == "€333.00" and card(page_a, "Orders") == "3"
        shot(page_a, "shared_private_upload")

        page_b.reload()
        wait_drawn(page_b)
        assert card(page_b, "Net sales") == shop_sales != "€333.00"
        assert page_b.get_by_text("your own uploads").count() == 0
        assert tiny_store.version == version            # the shop's store is read-only
        private = list(sessions.glob("kpilib-session-*/manifest.json"))
        assert len(private) == 1, private               # B uploaded nothing

        a.close()                                       # A closes the tab
        for _ in range(100):
            if not private[0].exists():
                break
            page_b.wait_for_timeout(200)
        assert not private[0].exists(), "a closed session's uploads must be deleted"
        b.close()


def test_password_gate(tmp_path, tiny_store, chromium):
    from playwright.sync_api import expect

    secrets = tmp_path / "secrets.toml"
    secrets.write_text('password = "open sesame"\n')
    with app_server(tiny_store.path, args=("--secrets.files", str(secrets))) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/?period=Last+month")
        box = page.get_by_label("Password", exact=True)
        expect(box).to_be_visible(timeout=60_000)
        # Before signing in: no number, no menu, no filter.
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        shot(page, "sign_in")
        box.fill("guess")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong password.")).to_be_visible(timeout=30_000)
        assert page.locator('[data-testid="stMetric"]').count() == 0
        page.get_by_label("Password", exact=True).fill("open sesame")
        page.get_by_role("button", name="Sign in").click()
        wait_drawn(page)
        assert card(page, "Net sales") == "€262.00"     # February 2025, the link's period
        page.close()


def _download(page, button, after_reload=None) -> str:
    """The text of the file a download button gives."""
    return _download_file(page, button, after_reload)[0].read_text(encoding="utf-8-sig")  # BOM


def _download_file(page, button, after_reload=None) -> tuple[Path, str]:
    """The file a download button gives, and the name the browser is told to save it as."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    button.scroll_into_view_if_needed()
    # Two full runs (of many, both on a loaded machine) saw no download: once the click gave
    # none within 30 s, once the button stayed disabled (greyed, as while the app reconnects)
    # for the whole 60 s. A user waits for it and clicks again; the file must still be right,
    # and a button that never downloads still fails.
    for attempt in range(2):
        try:
            # expect() says "still disabled" as an AssertionError, not a timeout: caught too
            # (a full run on 2 cores, 2026-12-05, saw it disabled for the first 120 s).
            expect(button).to_be_enabled(timeout=60_000)
            with page.expect_download(timeout=20_000) as info:
                button.click()
            break
        except (PlaywrightTimeout, AssertionError):
            if attempt:
                raise
            # A third run (clean clone, 2026-12-05 evening) saw the Stock page's button
            # greyed for 120 s: a user would reload a page greyed that long, so does this.
            page.reload()
            if after_reload:    # a hosted link asks for its password again
                after_reload(page)
            wait_drawn(page)
            button.scroll_into_view_if_needed()
    return Path(info.value.path()), info.value.suggested_filename


def test_show_sql_is_drawn_once_opened(tiny_store, chromium):
    """A closed "Show SQL" holds nothing (its SQL is not sent on every click of a filter);
    a click on it draws the trend's SQL under the page's dates."""
    with app_server(tiny_store.path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?period=Last+month")
        wait_drawn(page)
        code = page.locator('[data-testid="stCode"]')
        assert code.count() == 0
        page.get_by_text("Show SQL").first.click()
        code.first.wait_for(timeout=20_000)
        assert "-- $start = DATE '2025-02-01'" in code.first.inner_text()


def test_customer_list_download_is_built_on_click(tiny_store, chromium):
    """The RFM customer list is computed only when its button is clicked, outside the script
    run (no session there): the file must still hold that segment's customers, as filtered."""
    with app_server(tiny_store.path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/loyalty?period=Last+month")
        wait_drawn(page)
        text = _download(page, page.get_by_role(
            "button", name=re.compile("customers of 'Promising' · CSV")))
        lines = text.strip().splitlines()
        assert lines[0].startswith('"Customer id","Segment"') and len(lines) == 3, text
        assert all(',"Promising",' in line for line in lines[1:])


def test_the_reorder_download_has_every_sku_not_the_twenty_shown(demo_store, chromium):
    """The page reads the reorder list's twenty rows; its download, computed on click with the
    page's filters, is every SKU's figures (stock_by_sku), lowest cover first."""
    skus = demo_store.connect().execute("select count(*) from sku_info").fetchall()[0][0]
    with app_server(demo_store.path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/stock?period=Last+month")
        wait_drawn(page)
        assert page.get_by_text("Reorder first").count() >= 1
        text = _download(page, page.get_by_role("button", name="Download · CSV").first)
        lines = text.strip().splitlines()
        assert lines[0].startswith('"SKU","Product","Category","On hand"') and \
            len(lines) == skus + 1 > 21, (lines[0], len(lines), skus)


def test_downloads_add_up_in_a_spreadsheet(tiny_store, chromium):
    """The Overview's channel table downloads as numbers (CSV and Excel), headers in words with
    their unit, named after the table and the period."""
    import pandas as pd

    with app_server(tiny_store.path) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?period=Last+month")
        wait_drawn(page)
        path, name = _download_file(page, page.get_by_role("button", name="Download · CSV").first)
        assert name == "overview_channels_2025-02-01_2025-02-28.csv"
        csv = pd.read_csv(path, encoding="utf-8-sig").set_index("Channel")
        # February 2025, paid search: o2 50 + o3 (80 − 8) = 122 net, 2 orders, 7 / 350 sessions.
        assert csv.loc["Paid search", "Net sales (EUR)"] == 122.0
        assert csv.loc["Paid search", "Orders"] == 2
        assert csv.loc["Paid search", "Conversion rate (analytics, %)"] == 2.0
        path, name = _download_file(page,
                                    page.get_by_role("button", name="Download · Excel").first)
        assert name == "overview_channels_2025-02-01_2025-02-28.xlsx"
        xlsx = pd.read_excel(path).set_index("Channel")
        assert xlsx.loc["Paid search", "Net sales (EUR)"] == 122.0
        assert xlsx.loc["Paid search", "Conversion rate (analytics, %)"] == 0.02
        page.close()
