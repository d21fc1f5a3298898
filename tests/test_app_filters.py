"""The sidebar's device, country and product-category filters (issue 29): bound to the URL,
applied on every page, and a card whose data lacks the dimension says so instead of showing
the unfiltered figure."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import TESTS
from kpilib import Store
from kpilib.ingest import ingest
from test_app import APP, cards, start

PAGES = ["overview", "traffic", "funnel", "marketing", "sales", "returns", "loyalty", "stock"]


@pytest.fixture(scope="module")
def split_store(tmp_path_factory) -> Store:
    """tests/data/split (see tests/test_dimensions.py for its figures by hand)."""
    store = Store(tmp_path_factory.mktemp("split") / "store")
    ingest(store, sorted((TESTS / "data" / "split").glob("*.csv")))
    return store


def test_the_filters_are_the_stores_members_and_change_the_cards(split_store, monkeypatch):
    # The default period, the 30 days to 7 Feb 2025, holds all of it.
    at = start(split_store, monkeypatch)
    assert at.sidebar.multiselect(key="devices").options == ["desktop", "mobile"]
    assert at.sidebar.multiselect(key="countries").options == ["DE", "FR"]
    assert set(at.sidebar.multiselect(key="product_categories").options) >= {"Bags", "Home",
                                                                             "Tops"}
    # February: net sales 212, France 120 (tests/test_dimensions.py); the CSVs name no
    # currency, so none is printed (kpilib.settings.reporting_currency).
    assert cards(at)["Net sales"] == "212.00"
    at.sidebar.multiselect(key="countries").set_value(["FR"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert cards(at)["Net sales"] == "120.00" and cards(at)["Orders"] == "2"
    assert at.query_params["countries"] in ("FR", ["FR"])
    # The analytics export has no country, nor customers and spend: no number, one sentence
    # for the cards of that row that cannot be split so.
    assert "Sessions" not in cards(at) and "Net sales" in cards(at)
    note = next(i.value for i in at.info if "Not split by country." in i.value)
    assert "Sessions" in note and "Conversion rate" in note
    at.sidebar.multiselect(key="countries").set_value([]).run()
    at.sidebar.multiselect(key="product_categories").set_value(["Tops"]).run()
    assert cards(at)["Net sales"] == "87.00"       # Tops: 120 − 12 − 21
    assert "product_categories" not in at.query_params and at.query_params["categories"] in \
        ("Tops", ["Tops"])


def test_a_link_with_filters_opens_them(split_store, monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(split_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["devices"] = ["mobile"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.multiselect(key="devices").value == ["mobile"]
    assert cards(at)["Net sales"] == "112.00"      # a1 and a3: 180 − 18 − 50


def test_a_store_whose_orders_have_no_country_shows_no_country_filter(tiny_store, monkeypatch):
    """tests/data/tiny: orders without device or country, traffic by device. The devices
    filter is there (traffic has two); net sales under it say the orders give none."""
    at = start(tiny_store, monkeypatch)
    assert "countries" not in [m.key for m in at.sidebar.multiselect]
    at.sidebar.multiselect(key="devices").set_value(["mobile"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Net sales" not in cards(at)
    assert any("Net sales" in i.value and "the orders export gives no order's device" in i.value
               for i in at.info)
    assert cards(at)["Sessions"] not in ("–", "0")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_under_every_filter(demo_store, monkeypatch, page):
    """Device, country and category chosen at once: every page draws, its figures filtered or
    saying they are not split so — no error, no unfiltered figure."""
    at = start(demo_store, monkeypatch)
    at.sidebar.multiselect(key="devices").set_value(["mobile"]).run()
    at.sidebar.multiselect(key="countries").set_value(["FR", "BE"]).run()
    cats = at.sidebar.multiselect(key="product_categories").options
    at.sidebar.multiselect(key="product_categories").set_value(cats[:1]).run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    for m in at.metric:
        assert m.value != "nan"
