"""ui.why: the Why? view, opened from a card, an alert or a link (AppTest), and in Chromium
at 1440 and 390 px. The breakdowns themselves are kpilib.explain's (tests/test_explain.py,
whose tiny shops and fixtures these tests share)."""
import json

import pytest

from kpilib import Store
from test_explain import ROOT, customers_shop, shop  # noqa: F401 (the shops, as fixtures)

APP = str(ROOT / "app.py")
ON_MAR4 = {"period": "Custom", "dates": ["2025-03-04", "2025-03-04"]}


def app(store, monkeypatch, **params):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KPILIB_STORE", str(store.path))
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in {**ON_MAR4, **params}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at) -> str:
    import re
    # As read: Markdown escapes and the word joiners that keep a sign with its amount gone.
    return "\n".join(re.sub(r"\\(.)", r"\1", m.value).replace("\u2060", "")
                     for m in at.markdown)


def test_a_deep_link_opens_the_why_view(shop, monkeypatch):
    """?why=conversion_rate on 4 March: the mix shift, in words, with its waterfall and
    table."""
    at = app(shop, monkeypatch, why="conversion_rate")
    said = texts(at)
    assert ("Conversion rate (analytics) fell from 5.50 % to 2.75 % (−2.75 pp) against "
            "3 Mar 2025.") in said
    assert "Email: conversion rate (analytics) 10.00 % → 15.00 %: −4.25 pp" in said
    waterfall = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
                 if json.loads(c.proto.spec)["data"][0]["type"] == "waterfall"]
    assert len(waterfall) == 1
    assert waterfall[0]["data"][0]["y"][0] == "Before"
    # From 0, as a bar chart of a change must be: 5.50 % and 2.75 % are not drawn 4 : 1.
    assert waterfall[0]["layout"]["xaxis"]["range"][0] == 0
    table = next(d.value for d in at.dataframe if "Effect" in d.value.columns)
    assert list(table["Channel"]) == ["Email", "Paid social"]
    assert list(table["Effect"]) == ["-4.25 pp", "+1.50 pp"]


def test_the_why_view_ranks_products_and_customer_types(customers_shop, monkeypatch):
    """?why=net_sales on 4 March of the shop with customers: a tab and a ranked table by
    product (named) and by new vs returning customers, the figures counted above."""
    at = app(customers_shop, monkeypatch, why="net_sales")
    assert [t.label for t in at.tabs] == ["By channel", "By category", "By product",
                                          "By new vs returning customers"]
    tables = {tuple(d.value.columns)[0]: d.value for d in at.dataframe
              if "Effect" in d.value.columns}
    assert list(tables["Product"]["Product"]) == ["Canvas shoes (SKU-C)", "Silk top (SKU-B)",
                                                  "Linen top (SKU-A)"]
    assert list(tables["Product"]["Effect"]) == ["€126.00", "-€70.00", "-€2.00"]
    assert list(tables["New vs returning customers"]["New vs returning customers"]) == [
        "Returning customers (a later order)", "Guests (no customer id)",
        "New customers (first order)"]
    assert list(tables["New vs returning customers"]["Effect"]) == ["€30.00", "€20.00",
                                                                    "€4.00"]
    assert "Canvas shoes (SKU-C): net sales €0.00 → €126.00: +€126.00" in texts(at)


def test_a_card_opens_the_why_view_and_last_year_is_one_click(shop, monkeypatch):
    at = app(shop, monkeypatch)
    assert "Net sales rose" not in texts(at)
    at.button(key="why_net_sales").click().run()
    assert at.query_params["why"] == "net_sales"
    assert "Net sales rose from €100.00 to €130.00 (+€30.00) against 3 Mar 2025." in texts(at)
    assert "Sessions 200 → 400: +€90.28" in texts(at)
    # Last year (5 March 2024, 364 days back): nothing stored then, so no "rise from €0.00".
    at.segmented_control(key="why_vs").set_value("last_year").run()
    assert not at.exception
    assert at.query_params["why_vs"] == "last_year"
    assert ("Net sales: nothing to explain. Not compared: no order is stored before "
            "03 Mar 2025, so 5 Mar 2024 has nothing to compare with.") in texts(at)
    assert "Net sales rose" not in texts(at)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_why_view_in_chromium(demo_store, width):
    """A card's "Why?" in a real browser, on a desktop and a phone: the dialog opens with its
    waterfall, the link carries it, and it is saved as a screenshot to look at
    (tests/screenshots/why_net_sales_<width>.png)."""
    from playwright.sync_api import expect

    from browser import SHOTS, app_server, browser, require_browser, settled, wait_drawn

    require_browser()
    with app_server(demo_store.path) as url, browser() as b:
        # Tall enough for the whole dialog in one screenshot.
        page = b.new_page(viewport={"width": width, "height": 2600 if width > 400 else 4200})
        page.goto(f"{url}/?period=Last+month")
        wait_drawn(page)
        page.get_by_role("button", name="Why?").first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Net sales rose from", timeout=60_000)
        dialog.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(timeout=60_000)
        expect(dialog).to_contain_text("By channel")
        expect(dialog).to_contain_text("On the same days")
        assert "why=net_sales" in page.url
        settled(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        dialog.screenshot(path=str(SHOTS / f"why_net_sales_{width}.png"))
        # The splits by what was sold and who bought it, each its own tab and ranked table.
        for tab, shot, first in (("By product", "product", "All other products"),
                                 ("By new vs returning customers", "customers",
                                  "Returning customers")):
            dialog.get_by_role("tab", name=tab).click()
            panel = dialog.get_by_role("tabpanel").filter(has_text=first)
            expect(panel).to_be_visible(timeout=30_000)
            panel.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
            settled(page)
            dialog.screenshot(path=str(SHOTS / f"why_net_sales_{shot}_{width}.png"))
        # The same view from its link, in a new tab.
        other = b.new_page(viewport={"width": width, "height": 1200})
        other.goto(page.url)
        expect(other.get_by_role("dialog")).to_contain_text("Net sales rose from",
                                                            timeout=60_000)


def test_a_kpi_behind_target_opens_on_its_month_to_date(shop, tmp_path, monkeypatch):
    """Net sales of March 2025 with a target of 10,000: behind it after 4 days. Its Why? is
    1–4 March against the same days of February, when nothing was stored: said, not a rise
    from €0.00."""
    import shutil as sh

    store = Store(sh.copytree(shop.path, tmp_path / "store"))
    store.update_settings({"targets": [
        {"kpi": "net_sales", "month": "2025-03", "channel": None, "value": 10000}]})
    at = app(store, monkeypatch, period="Month to date")
    at.button(key="why_net_sales_2025-03").click().run()
    assert not at.exception
    assert (at.query_params["why_from"], at.query_params["why_to"]) == ("2025-03-01",
                                                                        "2025-03-04")
    assert ("Net sales: nothing to explain. Not compared: no order is stored before "
            "03 Mar 2025, so 1 Feb – 4 Feb 2025 has nothing to compare with.") in texts(at)


def test_an_unusual_day_is_explained_against_the_week_before(demo_store, monkeypatch):
    """The demo shop's Saturday 10 October 2026 is unusual (Last 30 days); its Why? compares it
    with Saturday 3 October."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.button(key="why_net_sales_20261010").click().run()
    assert not at.exception
    assert at.query_params["why_from"] == at.query_params["why_to"] == "2026-10-10"
    assert at.segmented_control(key="why_vs").value == "week"
    assert "against 3 Oct 2026." in texts(at)
