"""Every page runs on a real store through AppTest; the shared filters drive the numbers."""
import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import TINY
from test_ui_components import sparkline_path

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["overview", "traffic", "funnel", "marketing", "sales", "returns", "loyalty", "stock",
         "data", "settings"]


def start(store, monkeypatch) -> AppTest:
    monkeypatch.setenv("KPILIB_STORE", str(store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def unescape(text: str) -> str:
    """Text as the reader sees it: Markdown escapes removed."""
    return re.sub(r"\\(.)", r"\1", text)


def shown(element) -> str:
    return unescape(element.value)


def cards(at) -> dict:
    return {m.label: m.value for m in at.metric}


def chart(at, title: str) -> dict:
    """The Plotly figure (as JSON) of the chart titled ``title``."""
    specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"]["title"]["text"].replace("<br>", " ") == title)


def numbers(values) -> list:
    """A trace's numbers: Plotly writes numeric arrays as base64 typed arrays."""
    if isinstance(values, dict):
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_demo_shop(demo_store, monkeypatch, page):
    at = start(demo_store, monkeypatch)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if page not in ("data", "settings"):
        assert at.get("plotly_chart"), "every analysis page draws charts"
        assert all(m.value not in ("nan", "") for m in at.metric)


def test_channel_filter_changes_overview_numbers(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()   # February 2025
    c = cards(at)
    assert (c["Net sales"], c["Orders"], c["Sessions"]) == ("€262.00", "5", "390")
    assert c["Average order value (before returns)"] == "€58.40"
    assert c["Conversion rate (analytics)"] == "2.05 %"
    assert c["MER"] == "2.62×" and c["New customers"] == "2"             # 262 / 100
    at.sidebar.multiselect(key="channels").set_value(["paid_search"]).run()
    c = cards(at)
    # paid_search in February: o2 50 + o3 (80 − 8); 350 sessions, 7 purchases; spend 50.
    assert (c["Net sales"], c["Orders"], c["Sessions"]) == ("€122.00", "2", "350")
    # MER is shop-wide, and its card says so beside the filtered ones.
    assert c["Conversion rate (analytics)"] == "2.00 %" and c["MER (all channels)"] == "2.62×"
    assert c["New customers"] == "1"                                   # bob
    assert "Paid search" in at.caption[0].value


def test_filters_are_kept_across_pages(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.sidebar.multiselect(key="channels").set_value(["email"]).run()
    at.switch_page("app_pages/traffic.py").run()
    assert at.sidebar.multiselect(key="channels").value == ["email"]
    assert cards(at)["Sessions"] == "40"


def test_zero_denominator_shows_a_dash(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.sidebar.multiselect(key="channels").set_value(["direct"]).run()
    c = cards(at)
    assert c["Conversion rate (analytics)"] == "–" and c["Returning-customer rate"] == "–"
    assert c["Orders"] == "1"


def test_custom_dates_from_the_url(tiny_store, monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(tiny_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["period"] = "Custom"
    at.query_params["dates"] = ["2025-02-03", "2025-02-04"]
    at.run()
    assert not at.exception
    assert cards(at)["Sessions"] == "390" and cards(at)["Orders"] == "2"


def test_empty_store_opens_on_demo_notice(tmp_path, monkeypatch, demo_store):
    # An empty user store shows the demo shop (here pointed at the test demo store).
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    at = start(type(demo_store)(tmp_path / "empty"), monkeypatch)
    assert any("demo shop" in i.value for i in at.sidebar.info)


def upload(at, *files):
    at.file_uploader[0].set_value([(Path(f).name, Path(f).read_bytes(), "text/csv")
                                   for f in files]).run()


def test_data_page_check_then_confirm(tmp_path, monkeypatch, demo_store):
    from kpilib import Store
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    at = start(Store(tmp_path / "mine"), monkeypatch)
    at.switch_page("app_pages/data.py").run()
    tiny = Path(__file__).parent / "data" / "tiny"
    upload(at, tiny / "orders.csv", tiny / "refunds.csv")
    assert not at.exception, [e.value for e in at.exception]
    assert any("orders.csv: 8 rows of orders" in shown(s) for s in at.success)
    changes = next(d.value["change"].tolist() for d in at.dataframe if "change" in d.value)
    assert "Orders of Feb 2025: 0 → 6 rows, sales (gross − discounts) +€292.00" in changes
    assert Store(tmp_path / "mine").is_empty()          # nothing written before confirming
    at.button(key="confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not Store(tmp_path / "mine").is_empty()
    assert any("Stored." in s.value for s in at.success)
    # Locally, the store's folder is said.
    assert any(str(tmp_path / "mine") in c.value for c in at.caption)


def test_data_page_says_what_a_deletion_and_an_undo_did_once(tmp_path, monkeypatch,
                                                           demo_store):
    """After Delete or Undo the page reran and said nothing. It says once what went or came
    back, in the manager's words (the export, the months, the rows), and a re-export of what
    is stored offers nothing to add."""
    from kpilib import Store
    from kpilib.ingest import ingest
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    f = tmp_path / "ads_march.csv"
    f.write_text("date,channel,campaign,spend\n2025-03-01,paid_search,brand,10\n"
                 "2025-03-02,paid_search,brand,12\n")
    store = Store(tmp_path / "mine")
    ingest(store, [f])
    at = start(store, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    at.selectbox(key="del_table").set_value("marketing_spend")
    at.selectbox(key="del_month").set_value("2025-03").run()
    at.button(key="delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # Said under the button pressed: above both boxes, a 390 px phone showed it ~500 px
    # higher than the Delete button the manager had just pressed.
    assert [shown(s) for s in box(at, "delete").success] == [
        "Deleted: ad spend of Mar 2025 (2 rows). Undo brings them back."]
    assert len(at.success) == 1
    assert store.is_empty()
    # The Undo box names what it would undo the same way.
    assert any(shown(c).startswith("The deletion of ad spend of Mar 2025 (")
               for c in at.caption), [c.value for c in at.caption]
    at.button(key="undo").click().run()
    assert [shown(s) for s in box(at, "undo").success] == [
        "Undone: the deletion of ad spend of Mar 2025. Back as before it: ad spend of Mar 2025 "
        "(2 rows)."]
    assert len(at.success) == 1
    assert store.months("marketing_spend") == {"2025-03": 2}
    at.run()
    assert not at.success, "said once"
    at.button(key="undo").click().run()          # the upload itself: its month goes
    assert [shown(s) for s in at.success] == [
        "Undone: the upload of ads_march.csv. Removed: ad spend of Mar 2025."]
    assert store.is_empty()


def box(at, button: str):
    """The column of the Data page holding the button keyed ``button``."""
    return next(c for c in at.columns if button in [b.key for b in c.button])


def test_data_page_names_tables_and_months_as_a_manager_does(tmp_path, monkeypatch,
                                                             demo_store):
    """What is stored, its source files and the Delete box said "order_items", "2025-02";
    they say "order lines", "Feb 2025". The stored table, seven columns, is too wide for a
    phone and says it scrolls, as the other pages' tables do; the ad-spend channel's default
    fits a 390 px box, which cut "(Google Ads: paid search, Meta: p"."""
    from kpilib import Store
    from kpilib.ingest import ingest
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    store = Store(tmp_path / "mine")
    ingest(store, [TINY / "orders.csv"])
    ingest(store, [TINY / "order_items.csv", TINY / "inventory.csv"])
    ingest(store, [TINY / "marketing_spend.csv"])
    store.delete_month("marketing_spend", "2025-02")
    at = start(store, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    grid = next(d.value for d in at.dataframe if "Month" in d.value)
    assert list(grid.columns) == ["Month", "orders", "order lines", "refunds", "traffic",
                                  "stock snapshots", "ad spend"]
    assert grid["Month"].tolist()[:2] == ["Jan 2025", "Feb 2025"]
    # Under the stored table, the source files and the uploads (each wider than a phone).
    assert [c.value for c in at.caption if "sideways" in c.value] == \
        [":material/swipe_left: Scroll the table sideways for more columns."] * 3
    # The Uploads log said "deleted marketing_spend 2025-02" and "orders 2025-01, orders
    # 2025-02, orders 2025-03"; three months or more one after the other are a range.
    log = next(d.value for d in at.dataframe if "tables and months" in d.value)
    assert log[["what", "tables and months"]].values.tolist() == [
        ["Deleted ad spend of Feb 2025", "ad spend of Feb 2025"],
        ["marketing_spend.csv", "ad spend of Feb 2025"],
        ["inventory.csv, order_items.csv",
         "order lines of Jan 2025 – Mar 2025; stock snapshots of Feb 2025"],
        ["orders.csv", "orders of Jan 2025 – Mar 2025"]]
    files = next(d.value for d in at.dataframe if "files" in d.value)
    assert files[["table", "month"]].values.tolist()[:4] == [
        ["orders", "Jan 2025"], ["orders", "Feb 2025"], ["orders", "Mar 2025"],
        ["order lines", "Jan 2025"]]
    assert "Order lines" in at.selectbox(key="del_table").options
    assert at.selectbox(key="del_month").options[:2] == ["Jan 2025", "Feb 2025"]
    # Chromium at 390 px cut the box after 53 characters ("As the platform says (Google
    # Ads: paid search, Meta: p"); 42 show whole (screenshot, 390 px).
    said = at.selectbox(key="spend_channel").options[0]
    assert said == "Google Ads: paid search; Meta: paid social" and len(said) <= 50


def test_data_page_offers_nothing_to_add_for_a_re_export(tmp_path, monkeypatch, demo_store):
    from kpilib import Store
    from kpilib.ingest import ingest
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    tiny = Path(__file__).parent / "data" / "tiny"
    store = Store(tmp_path / "mine")
    ingest(store, [tiny / "orders.csv"])
    at = start(store, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    again = tmp_path / "orders_march.csv"   # the same rows, saved with Windows line ends
    again.write_bytes((tiny / "orders.csv").read_bytes().replace(b"\n", b"\r\n"))
    upload(at, again)
    assert not at.exception, [e.value for e in at.exception]
    assert "Nothing to add: what these files hold is already stored, unchanged." in \
        [i.value for i in at.info]
    assert "confirm" not in [b.key for b in at.button]
    # The note of what can be uploaded names no importer the app lacks.
    note = next(c.value for c in at.caption if c.value.startswith("Shopify orders"))
    assert "any other export (WooCommerce…) once you map its columns" in note
    # Nor does the Overview's note of the export that fills a missing card.
    from kpilib.caveats import EXPORTS
    assert "WooCommerce" not in EXPORTS["orders"] and "mapped" in EXPORTS["orders"]


def test_data_page_proposes_the_shops_timezone(tmp_path, monkeypatch, demo_store):
    """A first upload whose UTC offsets are not the store's timezone: the warning counts the
    orders that change day and month, a button takes the zone the offsets imply, and the
    check, run again in it, finds every order on the day the export writes."""
    from kpilib import Store
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    at = start(Store(tmp_path / "mine"), monkeypatch)
    at.switch_page("app_pages/data.py").run()
    upload(at, Path(__file__).parent / "data" / "formats" / "shopify_orders_new_york.csv")
    assert not at.exception, [e.value for e in at.exception]
    [w] = [shown(w) for w in at.warning if "files' clock" in shown(w)]
    assert "4 of 7 orders fall on another day" in w and "America/New_York" in w
    at.button(key="adopt_timezone").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert Store(tmp_path / "mine").settings["timezone"] == "America/New_York"
    assert not [w for w in at.warning if "files' clock" in shown(w)]
    assert "adopt_timezone" not in [b.key for b in at.button]
    changes = next(d.value["change"].tolist() for d in at.dataframe if "change" in d.value)
    assert any(c.startswith("Orders of Jan 2024: 0 → 1 row") for c in changes)   # #2001
    assert Store(tmp_path / "mine").is_empty()          # nothing stored until confirmed


def test_data_page_says_which_columns_of_the_file_were_read(tmp_path, monkeypatch, demo_store):
    from kpilib import Store
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    mine = Store(tmp_path / "mine")
    # Euros chosen in Settings: a first upload in pounds no longer sets the currency, it warns.
    mine.update_settings({"currency": "EUR"})
    at = start(mine, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    f = tmp_path / "uci_2010_12.csv"
    f.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                 "Country\n536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,"
                 "17850.0,United Kingdom\n")
    upload(at, f)
    assert not at.exception and not at.error, [e.value for e in at.error]
    used = [t.value for t in at.table if "column in the file" in t.value]
    orders = {unescape(k): unescape(v)
              for k, v in zip(used[0]["read as"], used[0]["column in the file"])}
    assert orders == {"order_id": "InvoiceNo", "ordered_at": "InvoiceDate",
                      "customer_id": "CustomerID",
                      "gross_sales": "Quantity × UnitPrice of the product lines",
                      "shipping": "Quantity × UnitPrice of the postage lines (POST, DOT, C2 "
                                  "in StockCode)", "country": "Country"}
    assert any("1 row of orders" in shown(s) for s in at.success)
    assert any("orders are in GBP but the reporting currency is EUR" in shown(w)
               and "Settings" in shown(w) for w in at.warning)


def test_data_page_bad_file_and_mapping_editor(tmp_path, monkeypatch, demo_store):
    from kpilib import Store
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    at = start(Store(tmp_path / "mine"), monkeypatch)
    at.switch_page("app_pages/data.py").run()
    bad = Path(__file__).parent / "data" / "bad"
    upload(at, bad / "negative_sessions.csv")
    assert "negative_sessions.csv: column 'sessions': cannot be negative" in shown(at.error[0])
    f = tmp_path / "till.csv"
    f.write_text("Beleg,Datum,Zustand,Brutto,Rabatt\nK1,2025-02-01,paid,10.00,0\n")
    upload(at, f)
    assert "could not tell which table" in shown(at.error[0])
    at.selectbox(key="map_table_till.csv").set_value("orders").run()
    for col, header in {"order_id": "Beleg", "ordered_at": "Datum", "status": "Zustand",
                        "gross_sales": "Brutto", "discounts": "Rabatt"}.items():
        at.selectbox(key=f"map_till.csv_orders_{col}").set_value(header).run()
    at.button(key="map_go_till.csv").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("till.csv: 1 row of orders" in shown(s) for s in at.success)


def test_data_page_wrong_columns_message_and_editor_agree(tmp_path, monkeypatch, demo_store):
    """A file of Name, Colour, Weight: the message named 'products' and said "Map the columns
    on the Data page" (the page the manager is on), while the editor below opened on orders,
    asking for five columns. It opens on products, with Name read as the product name, and
    asks for the one column the message names; the command line still says where to go."""
    from kpilib import Store
    from kpilib.ingest import IngestError, ingest
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    f = tmp_path / "wrong_columns.csv"
    f.write_text("Name,Colour,Weight\nA,red,1.5\nB,blue,2\n")
    at = start(Store(tmp_path / "mine"), monkeypatch)
    at.switch_page("app_pages/data.py").run()
    upload(at, f)
    said = shown(at.error[0])
    assert "It looks closest to 'products' but has no column 'sku'." in said
    assert said.endswith("Map its columns below, or download a template at the foot of this "
                         "page to see the expected columns."), said
    assert "Data page" not in said
    assert at.selectbox(key="map_table_wrong_columns.csv").value == "products"
    assert at.selectbox(key="map_wrong_columns.csv_products_product_name").value == "Name"
    assert any(shown(c) == "Still to map: sku" for c in at.caption), [c.value for c in at.caption]
    with pytest.raises(IngestError) as e:
        ingest(Store(tmp_path / "cli"), [f], dry_run=True)
    assert str(e.value).endswith("Map the columns on the Data page, or download a template "
                                 "there to see the expected columns.")


def test_data_page_maps_unknown_statuses(tmp_path, monkeypatch, demo_store):
    """A WooCommerce export: its columns mapped by hand, then its wc-… statuses, one choice
    each; stored with the mapping for next month."""
    from kpilib import Store
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    store = Store(tmp_path / "mine")
    at = start(store, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    upload(at, Path(__file__).parent / "data" / "formats" / "woocommerce_orders.csv")
    name = "woocommerce_orders.csv"
    assert "could not tell which table" in shown(at.error[0])
    for col, header in {"order_id": "order_id", "ordered_at": "order_date", "status": "status",
                        "gross_sales": "order_subtotal", "discounts": "discount_total",
                        "customer_id": "billing_email"}.items():
        at.selectbox(key=f"map_{name}_orders_{col}").set_value(header).run()
    at.button(key=f"map_go_{name}").click().run()
    assert "has statuses that mean nothing to the dashboard" in shown(at.error[0])
    # The columns stay as mapped; one choice per unknown status, and none made yet.
    assert at.selectbox(key=f"map_{name}_orders_gross_sales").value == "order_subtotal"
    assert at.button(key=f"map_go_{name}").disabled
    assert any("Still to map: status 'wc-cancelled'" in shown(c) for c in at.caption)
    for raw, canon in {"wc-completed": "fulfilled", "wc-processing": "paid",
                       "wc-on-hold": "placed", "wc-refunded": "refunded",
                       "wc-cancelled": "cancelled"}.items():
        at.selectbox(key=f"map_{name}_status_{raw}").set_value(canon).run()
    at.button(key=f"map_go_{name}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any(f"{name}: 5 rows of orders" in shown(s) for s in at.success)
    at.button(key="confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    saved = store.mappings["woocommerce_orders"]
    assert saved["statuses"]["wc-completed"] == "fulfilled"
    assert store.connect().execute("select count(*) from orders where status = 'fulfilled'"
                                   ).fetchall() == [(1,)]


def test_data_page_asks_the_month_of_an_ad_report_without_dates(tmp_path, monkeypatch,
                                                                 demo_store):
    from kpilib import Store
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    at = start(Store(tmp_path / "mine"), monkeypatch)
    at.switch_page("app_pages/data.py").run()
    upload(at, Path(__file__).parent / "data" / "formats" / "facebook_ads_by_ad.csv")
    assert "'Month of ad reports without dates'" in shown(at.error[0])
    at.text_input(key="spend_month").input("2017-08").run()
    assert not at.error, [e.value for e in at.error]
    said = " ".join(shown(s) for s in at.success)
    assert "93 rows of marketing_spend, 2017-08-01 to 2017-08-31" in said
    assert "spread evenly over its 31 days" in said


def test_funnel_page_compare_modes(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/funnel.py").run()
    c = cards(at)
    assert c["Cart abandonment"] == "80.49 %"            # 1 − 8/41
    table = at.dataframe[0].value
    assert table["Sessions"].tolist() == ["390", "235", "41", "22", "8"]
    for mode in ("Periods", "Every channel"):
        at.segmented_control(key="funnel_compare").set_value(mode).run()
        assert not at.exception, [e.value for e in at.exception]
    every = at.dataframe[1].value
    assert every.set_index("Channel").loc["Email", "Conversion"] == "2.50 %"   # 1/40


def test_traffic_table_says_whether_a_change_is_beyond_noise(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/traffic.py").run()
    t = at.dataframe[0].value.set_index("Channel")
    assert t.loc["Paid search", "Sessions"] == "350" and t.loc["Paid search", "Share"] == "89.74 %"
    # No traffic in January: nothing to compare with.
    assert t.loc["Paid search", "Conversion vs previous"] == "–"


def test_after_sales_switch_between_refund_and_order_dates(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/returns.py").run()
    assert cards(at)["Returns"] == "€30.00"                      # r2, refunded in February
    at.segmented_control(key="returns_dating").set_value("order date").run()
    # r2 + r3 (o7, March refund); February's orders are inside the return window on 2 March.
    assert cards(at)["Returns (by order date), so far"] == "€55.00"
    assert cards(at)["Return rate (orders), so far"] == "40.00 %"
    assert at.dataframe[0].value["Reason"].tolist() == ["changed mind"]


def test_sales_page_numbers(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/sales.py").run()
    c = cards(at)
    assert (c["Units per order"], c["Cancellation rate"], c["Fulfilment time"]) == \
        ("1.20", "16.67 %", "1.8 days")
    assert at.dataframe[0].value["SKU"].tolist()[:2] == ["SKU-F", "SKU-B"]
    # Every order shipped within 5 days in January and February: no change, drawn gray and
    # without an arrow; a fall in a rate that should rise stays red with its arrow down.
    delta = {m.label: m.proto for m in at.metric}
    GRAY, RED, NONE, DOWN = 2, 0, 2, 0   # MetricProto.MetricColor / MetricDirection
    flat, fall = delta["Shipped within 5 days"], delta["Shipped within 1 day"]
    assert (flat.delta, flat.color, flat.direction) == ("0.00 pp", GRAY, NONE)
    assert (fall.delta, fall.color, fall.direction) == ("-75.00 pp", RED, DOWN)
    charts = {c["layout"]["title"]["text"].replace("<br>", " "): c["data"]
              for c in (json.loads(e.proto.spec) for e in at.get("plotly_chart"))}
    # Money on bars carries its currency; no bar's label is turned sideways.
    # February's orders are still inside the 30-day return window on 2 March: not final.
    assert charts["Net sales by category, by order date (not final)"][0]["texttemplate"] == "€%{x:,.0f}"
    assert all(t.get("textangle") == 0 for d in charts.values() for t in d
               if t["type"] == "bar")


def _reads(tiny_store, monkeypatch, page: str):
    """The page opened from empty caches, with what it reads one KPI at a time (name, by)
    and the KPIs it reads together (one tuple per query), and its batches read side by side
    (kpilib.run_many: each read as one of those)."""
    import kpilib
    from ui import plan
    alone, together, batches = [], [], []
    real_run, real_together, real_many = kpilib.run, kpilib.run_together, kpilib.run_many

    def run(con, kpi, filters, by=None, **kw):
        alone.append((kpi.name, by))
        return real_run(con, kpi, filters, by, **kw)

    def run_together(con, kpis, filters, by=None, **kw):
        together.append(tuple(k.name for k in kpis))
        return real_together(con, kpis, filters, by, **kw)

    def run_many(con, reads, **kw):
        batches.append([(r.kpis[0].name, r.by) if len(r.kpis) == 1 else
                        tuple(k.name for k in r.kpis) for r in reads])
        for r in reads:
            (alone.append((r.kpis[0].name, r.by)) if len(r.kpis) == 1 else
             together.append(tuple(k.name for k in r.kpis)))
        return real_many(con, reads, **kw)

    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    monkeypatch.setattr(kpilib, "run", run)
    monkeypatch.setattr(kpilib, "run_together", run_together)
    monkeypatch.setattr(kpilib, "run_many", run_many)
    plan.clear()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, alone, together, batches


def test_a_row_of_cards_is_read_in_one_query(tiny_store, monkeypatch):
    """The sales page's cards and waterfall: their KPIs read together (ui.plan.read), none on
    its own, and the numbers are the same as read one by one (tests/test_kpi.py)."""
    at, alone, together, _ = _reads(tiny_store, monkeypatch, "sales")
    cards_row = {"net_sales", "orders", "aov", "units_per_order", "cancellation_rate"}
    steps = {"gross_sales", "discounts", "returns", "shipping", "tax", "total_sales"}
    # their daily series, in one query
    assert any(cards_row | steps <= set(t) for t in together), together
    # (net sales by day × channel, the trend, is a query of its own)
    assert not [a for a in alone if a[0] in cards_row | steps and a[1] in (None, "day")]
    assert cards(at)["Net sales"] == "€262.00"


def test_stock_cards_are_read_from_their_shared_step_together(tiny_store, monkeypatch):
    """The stock page's cards read from the per-SKU step: in one query per period (the
    period, the one before), none on its own, side by side with the tables and charts below
    (tests/test_plan.py bounds the page's queries)."""
    at, alone, together, batches = _reads(tiny_store, monkeypatch, "stock")
    first = {"on_hand", "stock_value", "days_of_cover", "sell_through_rate"}
    second = {"dead_stock", "dead_stock_value", "lost_revenue_stockout"}
    assert sum(first | second <= set(t) for t in together) == 2, together
    assert not [a for a in alone if a[0] in first | second and a[1] is None], alone
    tables = {("reorder_skus", None), ("abc_classes", None), ("dead_stock_skus", None),
              ("lost_revenue_by_month", None), ("lost_revenue_skus", None),
              ("sell_through_rate", "lost_revenue_stockout")}
    assert [b for b in batches if tables <= set(b)
            and sum(isinstance(r, tuple) and first <= set(r) for r in b) == 2], batches
    # tests/data/tiny/inventory.csv's last snapshot (2 Feb, carried to the end of February):
    # SKU-A 4 + SKU-B 3 = 7.
    assert cards(at)["Units on hand"] == "7"


@pytest.mark.parametrize("page, batch", [
    ("sales", {("orders_by_status", None), ("top_products", None), ("top_categories", None)}),
    ("loyalty", {("cohort_retention", None), ("cohort_ltv", None),
                 ("days_to_second_order", None), ("rfm_segments", None)})])
def test_tables_below_the_cards_are_read_side_by_side(tiny_store, monkeypatch, page, batch):
    """A page's tables and charts: one batch of reads (kpilib.run_many), none of them read
    again on its own when drawn."""
    at, alone, _, batches = _reads(tiny_store, monkeypatch, page)
    assert any(batch <= set(b) for b in batches), batches
    assert all(alone.count(a) == 1 for a in batch), alone


def test_customers_page_cohorts_and_rfm_download(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/loyalty.py").run()
    assert "1 guest order (no customer id)" in at.caption[0].value
    assert cards(at)["Repeat-purchase rate"] == "33.33 %"
    at.toggle(key="cohort_split").set_value(True).run()
    at.selectbox(key="cohort_channel").set_value("paid_social").run()
    assert not at.exception, [e.value for e in at.exception]
    segments = at.dataframe[0].value
    assert segments["Segment"].tolist() == ["Promising", "New"]
    # Two months of orders (from 5 Jan 2025) up to 28 Feb: "Lost" would be weeks old.
    assert any(c.value.startswith("Only 55 days of orders are stored up to 28 Feb 2025: "
                                  "recency is ranked among those days") for c in at.caption), \
        [c.value for c in at.caption]
    labels = [b.proto.label for b in at.get("download_button")]
    assert "The 2 customers of 'Promising' · CSV" in labels
    assert "The 2 customers of 'Promising' · Excel" in labels


def test_stock_page_filters(tiny_store, demo_store, monkeypatch):
    at = start(demo_store, monkeypatch)
    at.switch_page("app_pages/stock.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "daily stock snapshots" in at.caption[0].value
    lost = {c["layout"]["title"]["text"]: c["data"][0].get("texttemplate")
            for c in (json.loads(e.proto.spec) for e in at.get("plotly_chart"))}
    assert (lost["By month"], lost["By category (this period)"]) == \
        ("€%{y:,.0f}", "€%{x:,.0f}")
    everything = cards(at)["Units on hand"]
    at.sidebar.multiselect(key="product_categories").set_value(["Shoes"]).run()
    shoes = cards(at)["Units on hand"]
    assert int(shoes.replace(",", "")) < int(everything.replace(",", ""))
    at.text_input(key="stock_search").set_value("no such product").run()
    assert cards(at)["Units on hand"] == "0"
    # A store without stock snapshots says so instead of showing empty charts.
    at2 = start(tiny_store, monkeypatch)
    at2.switch_page("app_pages/stock.py").run()
    assert not at2.exception


def test_marketing_page_mapping_target_and_mer(store_copy, monkeypatch):
    at = start(store_copy, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/marketing.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "display (€10.00)" in at.warning[0].value
    c = cards(at)
    assert (c["MER"], c["Blended CAC"], c["ROAS"]) == ("2.62×", "€50.00", "2.22×")
    # Side by side, spend × ROAS = the revenue shown: paid_search 122 + paid_social 100 +
    # display 0 (email's 30 and direct's 40 have no spend) = 222 = 100 × 2.22.
    assert (c["Ad spend"], c["Revenue of paid channels"]) == ("€100.00", "€222.00")
    assert "Attributed revenue" not in c
    # February has 27 days of orders before it (from 5 Jan): the table's new customers and
    # CAC say so, as Blended CAC's card does.
    assert ("New customers and CAC: only 27 days of orders before this period (from 05 Jan "
            "2025): a customer who ordered before then counts as new, so CAC may read low."
            in [x.value for x in at.caption]), [x.value for x in at.caption]
    # The budget's revenue shares are of those 222, so the paid channels' add up to 100 %.
    budget = chart(at, "Budget: spend against what it brings (paid channels)")
    revenue = next(t for t in budget["data"] if t["name"] == "Share of attributed revenue")
    assert dict(zip(revenue["y"], numbers(revenue["x"]))) == pytest.approx(
        {"Display": 0.0, "Paid search": 122 / 222, "Paid social": 100 / 222})
    # One month of spend: a tick a month, not Plotly's milliseconds around it.
    by_month = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                    if json.loads(e.proto.spec)["layout"]["title"]["text"].startswith(
                        "ROAS by month"))
    assert (by_month["layout"]["xaxis"]["dtick"], by_month["layout"]["xaxis"]["tickformat"]) \
        == ("M1", "%b %Y")
    at.toggle(key="mer_inverse").set_value(True).run()
    assert cards(at)["Ad spend ÷ net sales"] == "38.17 %"          # 100 / 262
    at.selectbox(key="map_spend_display").set_value("paid_search").run()
    at.button(key="save_channel_map").click().run()
    assert not at.warning and store_copy.settings["channel_map"] == {"display": "paid_search"}
    table = at.dataframe[0].value.set_index("Channel")
    assert table.loc["Paid search", "ROAS"] == "2.03×"              # 122 / (50 + 10)
    at.number_input(key="roas_target").set_value(3.0).run()
    assert store_copy.settings["roas_target"] == 3.0


def test_payback_chart_gives_each_cohort_its_own_cac(demo_store, monkeypatch):
    """A year of cohorts: one panel each, holding the cohort's curve and its CAC (named in the
    hover "CAC Mar 2026", at the cohort's CAC), labelled with the cohort and that CAC."""
    at = start(demo_store, monkeypatch)
    at.switch_page("app_pages/marketing.py").run()
    assert not at.exception, [e.value for e in at.exception]
    from kpilib.formatting import fmt
    picked = at.selectbox(key="payback_channel")
    label = picked.format_func(picked.value)
    spec = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if "revenue per acquired customer" in json.loads(e.proto.spec)["layout"]
                ["title"]["text"])
    panels = {}
    for t in spec["data"]:
        panels.setdefault((t.get("xaxis", "x"), t.get("yaxis", "y")), []).append(t)
    assert len(panels) >= 12
    table = at.dataframe[-1].value
    # "Nov 2025, 6 months of orders before": the panel is named by the month.
    cac = {(ch, acq.split(",")[0]): c
           for ch, acq, c in table[["Channel", "Acquired in", "CAC"]].itertuples(index=False)}
    labels = {(a["xref"].removesuffix(" domain"), a["yref"].removesuffix(" domain")): a["text"]
              for a in spec["layout"]["annotations"] if a["xref"].endswith(" domain")}
    for axes, (curve, line) in panels.items():
        assert line["name"] == f"CAC {curve['name']}" and line["line"]["dash"] == "dot"
        [value] = set(numbers(line["y"]))
        shown = cac[(label, curve["name"])]
        assert fmt(value, "money") == shown
        assert labels[axes].startswith(f"<b>{curve['name']}</b> · CAC {shown}<br>")


def test_settings_page_saves(store_copy, monkeypatch):
    at = start(store_copy, monkeypatch)
    at.switch_page("app_pages/settings.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="set_timezone").set_value("Europe/Paris")
    at.selectbox(key="set_currency").set_value("GBP")
    at.number_input(key="set_return_window").set_value(14)
    at.button[0].click().run()
    s = store_copy.settings
    assert (s["timezone"], s["currency"], s["return_window_days"]) == ("Europe/Paris", "GBP", 14)
    at.switch_page("app_pages/overview.py").run()
    assert cards(at)["Net sales"].startswith("£")


def test_settings_count_cancelled_orders_as_shopify_does(store_copy, monkeypatch):
    """The convention for cancelled orders is chosen on the Settings page; Sales says which is
    in force and counts by it. February of the tiny shop: o2, o3, o4, o6, o7 valid and o5
    (60.00, no cancellation date) cancelled. Shopify's way: 6 orders, and o5 sold and given
    back on 10 Feb, so net sales stay (50 + 72 + 40 + 30 + 100) − 30 = 262."""
    at = start(store_copy, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()   # February 2025
    at.switch_page("app_pages/sales.py").run()
    assert "cancelled orders excluded" in at.caption[0].value
    assert (cards(at)["Orders"], cards(at)["Net sales"]) == ("5", "€262.00")
    at.switch_page("app_pages/settings.py").run()
    at.radio(key="set_cancelled_orders").set_value("shopify")
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    assert store_copy.settings["cancelled_orders"] == "shopify"
    at.switch_page("app_pages/sales.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "cancelled orders counted as Shopify does" in at.caption[0].value
    assert (cards(at)["Orders"], cards(at)["Net sales"]) == ("6", "€262.00")
    orders = next(m for m in at.metric if m.label == "Orders")
    assert orders.help.endswith("on the day they were cancelled.")
    assert cards(at)["Cancellation rate"] == "16.67 %"   # 1 of 6 either way


def test_overview_last_year_and_alerts(demo_store, monkeypatch):
    at = start(demo_store, monkeypatch)
    assert len(at.metric) == 10
    ly = [c.value for c in at.caption if c.value.startswith("vs last year:")]
    assert len(ly) == 7 and all(v != "vs last year: –" for v in ly[:5])
    # New customers and the returning-customer rate: the shop's first orders are in May
    # 2025, so October 2025 had 5 months of them where October 2026 has a year.
    thin = [c.value for c in at.caption if c.value.startswith("Not compared with last year")]
    assert len(thin) == 2 and "had only 5 months of orders stored before it" in thin[0], thin
    # The return rate of October (the default: data to 31 October) is still inside its 30-day
    # return window on 30 of its 31 days (2 – 31 October): not compared, no arrow.
    assert "Not compared: 30 of 31 days still inside the 30-day return window." in \
        [c.value for c in at.caption]
    rate = next(m for m in at.metric if m.label == "Return rate (value), so far")
    assert rate.proto.delta == "not final" and rate.proto.color == 2   # gray
    # The demo shop's Black Friday days (26 Nov – 1 Dec 2025) are far outside ordinary weeks:
    # they are the largest surprises, listed first, one line a day.
    at.sidebar.selectbox(key="period").set_value("Custom").run()
    at.sidebar.date_input(key="dates").set_value((date(2025, 11, 24), date(2025, 12, 7))).run()
    lines = [m.value for m in at.markdown if "above the usual" in m.value]
    assert len(lines) == 5
    assert "?period=Custom&dates=2025-11-" in lines[0] or "dates=2025-12-01" in lines[0]
    days = [re.search(r"\*\*\w{3} (\d\d \w{3})\*\*", line).group(1) for line in lines]
    assert len(set(days)) == 5
    assert set(days) <= {"26 Nov", "27 Nov", "28 Nov", "29 Nov", "30 Nov", "01 Dec"}
    # Sales far above their range are news, not a warning: each such day has the upward
    # trend's sign; a warning sign only where some KPI moved the bad way.
    unusual = [m.value for m in at.markdown if "unusual for a" in m.value]
    for line in unusual:
        bad = "below the usual" in line
        assert line.startswith(":orange[:material/warning:]" if bad else
                               ":green[:material/trending_up:]"), line
    assert all(line.startswith(":green[") for line in lines if "below" not in line)
    # Counted in days (7: the six days above and 2 Dec), not in KPI-days (12); no target is
    # set, so none is said to be behind.
    assert [e.label for e in at.expander if e.label.startswith("Alerts:")] == [
        "Alerts: 7 unusual days"]
    assert any("The 5 most unusual of 7 days are shown." in c.value for c in at.caption)


def test_overview_shows_the_sql_of_the_trend_and_each_page_of_its_headline(tiny_store,
                                                                           monkeypatch):
    """The "Show SQL" expanders hold what `python -m kpilib sql` prints (kpilib.script) for the
    KPI shown, under the page's filters: the Overview's trend KPI by day, a page's headline."""
    from kpilib import Filters, get, script

    def sql_shown():
        # Closed, an expander holds nothing (its SQL is drawn once opened): opened, as a
        # click on it would, and drawn again.
        closed = [e for e in at.expander if e.label == "Show SQL"]
        assert closed and not [c for e in closed for c in e.code]
        keys = [k for k in at.session_state if str(k).startswith("show_sql_")]
        for k in keys:
            at.session_state[k] = True
        at.run()
        shown = [c.value for e in at.expander if e.label == "Show SQL" for c in e.code]
        for k in keys:
            at.session_state[k] = False
        at.run()
        return shown

    def want(*args):   # st.code drops the last line break
        return [script(*args).rstrip("\n")]

    at = start(tiny_store, monkeypatch)
    # The default period: the 30 days ending on the latest day with data (2 March).
    f = Filters(date(2025, 2, 1), date(2025, 3, 2))
    assert sql_shown() == want(get("net_sales"), f, "day")
    at.selectbox(key="trend_kpi").set_value("sessions").run()
    assert sql_shown() == want(get("sessions"), f, "day")
    assert "from traffic" in sql_shown()[0] and "-- $start = DATE '2025-02-01'" in sql_shown()[0]
    at.switch_page("app_pages/sales.py").run()
    assert sql_shown() == want(get("net_sales"), f)
    at.switch_page("app_pages/stock.py").run()
    at.sidebar.multiselect(key="product_categories").set_value(["Tops"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert sql_shown() == want(get("on_hand"), Filters(f.start, f.end, categories=("Tops",)))


def test_overview_judges_no_day_of_a_store_with_one_month(tmp_path, monkeypatch):
    # The days before a store's first day are not the shop's: read as zeros, they made most
    # days of a first month look unusual.
    from kpilib import Store, demo
    store = Store(tmp_path / "store")
    demo.write(store, demo.generate(months=1, scale=0.05, seed=11, end=date(2026, 10, 31)))
    at = start(store, monkeypatch)
    assert not [e.label for e in at.expander if "unusual" in e.label]
    assert not [m.value for m in at.markdown if "the usual" in m.value]


def test_overview_offers_the_monthly_report(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    # Data runs to 2 March 2025: February is the latest complete month, offered first.
    assert at.selectbox(key="report_month").options[:2] == ["2025-02", "2025-01"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the report (HTML)" in labels


def test_overview_paces_targets_and_settings_keep_them(store_copy, monkeypatch):
    store_copy.update_settings({"targets": [
        {"kpi": "net_sales", "month": "2025-02", "channel": None, "value": 1000.0},
        {"kpi": "conversion_rate", "month": "2025-02", "channel": None, "value": 0.02}]})
    at = start(store_copy, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()   # February 2025, complete
    captions = [c.value for c in at.caption if "target" in c.value]
    # February is over: net sales 262 of 1,000 (26 %), conversion 8 / 390 = 2.05 % of 2 % (103 %).
    assert "Feb target €1,000 · final €262.00 :red[(26 % of target)]" in captions
    assert "Feb target 2.00 % · final 2.05 % :green[(103 % of target)]" in captions
    behind = [m.value for m in at.markdown if "behind its February target" in m.value]
    assert len(behind) == 1 and "Net sales" in behind[0]
    assert "sales?period=Custom&dates=2025-02-01&dates=2025-02-28" in behind[0]
    # The Settings page shows rates in percent and saves them back unchanged.
    at.switch_page("app_pages/settings.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.get("arrow_data_frame")
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    assert store_copy.settings["targets"] == [
        {"kpi": "conversion_rate", "month": "2025-02", "channel": None, "value": 0.02},
        {"kpi": "net_sales", "month": "2025-02", "channel": None, "value": 1000.0}], shown


def test_password_gate_shows_nothing_until_signed_in(tiny_store, monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(tiny_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["password"] = "open sesame"
    at.run()
    assert not at.metric and not at.sidebar.selectbox and at.text_input(key="sign_in_password")
    at.text_input(key="sign_in_password").set_value("open sesam")
    at.button[0].click().run()
    assert "Wrong password." in at.error[0].value and not at.metric
    at.text_input(key="sign_in_password").set_value("open sesame")
    at.button[0].click().run()
    assert len(at.metric) == 10 and not at.error


def test_oidc_sign_in_when_auth_is_configured(tiny_store, monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(tiny_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback",
                          "cookie_secret": "not-a-secret",
                          "google": {"client_id": "x", "client_secret": "y",
                                     "server_metadata_url": "https://example.invalid/.well-known"}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.metric and [b.label for b in at.button] == ["Sign in with Google"]


def test_open_without_secrets(tiny_store, monkeypatch):
    at = start(tiny_store, monkeypatch)
    assert len(at.metric) == 10 and not at.text_input


def test_shared_mode_reads_the_shop_and_keeps_uploads_private(tmp_path, store_copy,
                                                               monkeypatch):
    monkeypatch.setenv("KPILIB_SHARED", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)        # TMPDIR is read again
    version = store_copy.version
    at = start(store_copy, monkeypatch)
    at.switch_page("app_pages/settings.py").run()
    assert "read-only" in at.info[0].value and at.button[0].disabled
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.switch_page("app_pages/marketing.py").run()
    assert at.number_input(key="roas_target").disabled
    at.switch_page("app_pages/data.py").run()
    # A viewer is not told where the server keeps the shop's files, nor their own uploads.
    assert "The shop: version" in next(c.value for c in at.caption if "version" in c.value)
    assert not [c.value for c in at.caption if str(store_copy.path) in c.value]
    f = tmp_path / "mine.csv"
    f.write_text("order_id,ordered_at,customer_id,channel,status,currency,gross_sales,discounts\n"
                 "m1,2025-06-01 10:00:00,c1,email,paid,EUR,111,0\n")
    upload(at, f)
    at.button(key="confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert store_copy.version == version
    private = list(tmp_path.glob("kpilib-session-*"))
    assert len(private) == 1 and (private[0] / "manifest.json").exists()
    assert "Your uploads: version" in next(c.value for c in at.caption if "version" in c.value)
    assert not [c.value for c in at.caption
                if str(private[0]) in c.value or str(store_copy.path) in c.value]
    at.switch_page("app_pages/overview.py").run()
    # "Last month" of a store that starts in June is May: empty, not an error.
    assert cards(at)["Net sales"] == "€0.00" and not at.exception
    at.sidebar.selectbox(key="period").set_value("Last 30 days").run()
    assert cards(at)["Net sales"] == "€111.00"
    assert "your own uploads" in at.sidebar.info[0].value
    # Settings of one's own uploads can be changed; the shop's are untouched.
    at.switch_page("app_pages/settings.py").run()
    assert not at.button[0].disabled
    at.sidebar.button(key="discard_private").click().run()
    at.switch_page("app_pages/overview.py").run()
    assert cards(at)["Net sales"] != "€111.00" and not at.sidebar.info


def test_a_second_viewer_on_the_same_filters_computes_no_card(tmp_path, tiny_store,
                                                               monkeypatch):
    """A hosted link with many viewers (issue 28): the cards, the alerts and the channel table
    one viewer's Overview computed are served to the next viewer of the same store and
    filters, who judges no card again (caveats.maturity) and looks for no unusual day."""
    from kpilib import alerts, caveats
    monkeypatch.setenv("KPILIB_SHARED", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)        # TMPDIR is read again
    first = start(tiny_store, monkeypatch)
    calls = []
    for module, name in ((caveats, "maturity"), (alerts, "unusual_days")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _r=real, _n=name, **k:
                            calls.append(_n) or _r(*a, **k))
    second = start(tiny_store, monkeypatch)
    assert calls == []
    assert cards(second) == cards(first) and len(cards(first)) == 10
    assert [c.value for c in second.caption] == [c.value for c in first.caption]


def test_card_values_fit_their_card():
    """A large shop's net sales (€12,268,981) was cut to "€12,26…" in a five-card row: cards
    write millions short; tables and downloads keep every digit."""
    from kpilib.formatting import fmt
    assert fmt(12_268_981.4, "money", compact=True) == "€12.27 M"
    assert fmt(-1_500_000, "money", compact=True) == "-€1.50 M"
    assert fmt(3_140_000, "count", compact=True) == "3.14 M"
    assert fmt(999_999.6, "money", compact=True) == "€1,000,000"
    assert fmt(12_268_981.4, "money") == "€12,268,981.40"
    assert fmt(0.5, "ratio", compact=True) == "50.00 %"
    # Longer currencies: a symbol where there is one (R$), else thousands, so that no value is
    # wider than a card shows (5 ems: app.py sizes the font to the card).
    from kpilib.formatting import CARD_EMS, card_width
    assert fmt(53_412.1, "money", "BRL", compact=True) == "R$53,412"
    assert fmt(16_234, "money", "CHF", compact=True) == "CHF 16.2 k"
    assert fmt(-1_500_000, "money", "CHF", compact=True) == "-CHF 1.5 M"
    assert all(card_width(fmt(v, "money", c, compact=True)) <= CARD_EMS
               for c in ("EUR", "BRL", "CHF", "JPY", "XYZ")
               for v in (999.99, 53_412.1, 486_719, 999_999.6, 12_345_678, -98_765_432))


# --- partial stores: what a shop's first uploads give ------------------------------------------
ANALYSIS = ["overview", "traffic", "funnel", "marketing", "sales", "returns", "loyalty", "stock"]
# The pages that must name an export to upload, for each partial store.
NOTE_ON = {
    "orders only": {"overview", "traffic", "funnel", "marketing", "stock"},
    "traffic only": {"overview", "marketing", "sales", "returns", "loyalty", "stock"},
    "spend only": {"overview", "traffic", "funnel", "marketing", "sales", "returns", "loyalty",
                   "stock"},
    # Refunds (or stock, or products) alone: every page names the orders export at least.
    "refunds only": set(ANALYSIS),
    "stock only": set(ANALYSIS),
    "products only": set(ANALYSIS),
}


@pytest.fixture(scope="module")
def partial_stores(tmp_path_factory, uci_month_store):
    """Orders only: one month of the real UCI Online Retail export (conftest.py); traffic only
    and spend only: three months of the demo shop's analytics and ad-platform rows; refunds,
    stock or products only: the tiny fixtures."""
    from kpilib import Store, demo
    from kpilib.ingest import ingest
    root = tmp_path_factory.mktemp("partial")
    shop = demo.generate(months=3, scale=0.05, seed=5, end=date(2026, 10, 31)).tables()
    shop["traffic"].to_csv(root / "traffic.csv", index=False)
    shop["marketing_spend"].to_csv(root / "spend.csv", index=False)
    for table in ("refunds", "inventory", "products"):
        shutil.copy(TINY / f"{table}.csv", root)
    stores = {"orders only": uci_month_store}
    for name, file in (("traffic only", "traffic.csv"), ("spend only", "spend.csv"),
                       ("refunds only", "refunds.csv"), ("stock only", "inventory.csv"),
                       ("products only", "products.csv")):
        stores[name] = Store(root / name.replace(" ", "_"))
        ingest(stores[name], [root / file])
    return stores


def empty_charts(at) -> list[str]:
    """Titles of charts with nothing drawn (no trace with a point)."""
    out = []
    for e in at.get("plotly_chart"):
        spec = json.loads(e.proto.spec)
        points = [v for t in spec["data"] for k in ("x", "y", "z", "values") for v in
                  (t.get(k) or [])] if spec["data"] else []
        if not any(p is not None for p in points):
            out.append(spec["layout"].get("title", {}).get("text", "?"))
    return out


@pytest.mark.parametrize("kind", list(NOTE_ON))
def test_every_page_is_useful_on_a_partial_store(partial_stores, monkeypatch, kind):
    at = start(partial_stores[kind], monkeypatch)
    for page in ANALYSIS:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (kind, page, [e.value for e in at.exception])
        assert not at.error, (kind, page, [e.value for e in at.error])
        assert not empty_charts(at), (kind, page, empty_charts(at))
        links = [p.proto.page for p in at.get("page_link")]
        assert ("data" in links) == (page in NOTE_ON[kind]), (kind, page, links)
        # Never a zero standing in for "not uploaded": no Sessions 0, no empty ROAS.
        values = cards(at)
        if kind == "orders only":
            assert "Sessions" not in values and "ROAS" not in values, (page, values)
        if kind != "orders only":
            assert "Net sales" not in values and "Orders" not in values, (page, values)


def test_a_trend_by_channel_of_orders_without_a_channel_is_one_line(partial_stores,
                                                                      monkeypatch):
    """UCI's orders have no channel: the Sales trend "by channel" drew one area named
    Unknown, read as a channel of that name selling everything. One line, said why."""
    at = start(partial_stores["orders only"], monkeypatch)
    at.switch_page("app_pages/sales.py").run()
    trend = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                 if "Net sales" in json.loads(e.proto.spec)["layout"]["title"]["text"]
                 and "gross" not in json.loads(e.proto.spec)["layout"]["title"]["text"])
    assert trend["layout"]["title"]["text"] == "Net sales", trend["layout"]["title"]
    assert len(trend["data"]) == 1 and not trend["data"][0].get("name"), trend["data"]
    assert "Net sales is not split by channel: the orders export gives no order a channel." \
        in [c.value for c in at.caption]


def test_cohorts_of_one_month_say_in_that_month(partial_stores, monkeypatch):
    """UCI's November 2011 alone: the cohorts' span is one calendar month, named: "whose first
    order was in November 2011", not "between November 2011"."""
    at = start(partial_stores["orders only"], monkeypatch)
    at.switch_page("app_pages/loyalty.py").run()
    said = [c.value for c in at.caption if c.value.startswith("Customers whose first order")]
    assert said and said[0].startswith("Customers whose first order was in November 2011."), said


def test_refunds_stock_or_products_alone_show_what_they_hold(partial_stores, monkeypatch):
    at = start(partial_stores["refunds only"], monkeypatch)
    at.switch_page("app_pages/returns.py").run()
    # The 30 days to 3 March 2025 (tiny/refunds.csv): r2 30 + r4 60 + r3 25 (r1 is in January);
    # no stored order says a currency, so none is printed.
    assert cards(at) == {"Returns": "115.00"}
    assert "for return rates, returns by order date and cancellations" in \
        " ".join(shown(m) for m in at.markdown)
    assert at.get("plotly_chart") and len(at.dataframe) == 1   # by month; the reasons
    at = start(partial_stores["stock only"], monkeypatch)
    at.switch_page("app_pages/stock.py").run()
    # 2 February: SKU-A 4 + SKU-B 3. Without products no SKU has a cost: no €0.00 stock value.
    assert cards(at)["Units on hand"] == "7" and "Stock value" not in cards(at)
    assert "a products export for Stock value" in " ".join(shown(m) for m in at.markdown)
    at = start(partial_stores["products only"], monkeypatch)
    assert at.info[0].value.startswith("Only products are stored")
    at.switch_page("app_pages/data.py").run()
    assert "Products: 6 SKUs; nothing dated yet." in [m.value for m in at.markdown]


def test_users_card_over_months_with_and_without_the_column(tmp_path, monkeypatch):
    """March's GA4 export has users, April's has none: users over both are March's and the
    card says so; over April alone they are unknown, not 0."""
    from kpilib import Store
    from kpilib.ingest import ingest
    drift = TINY.parent / "formats" / "drift"
    store = Store(tmp_path / "s")
    ingest(store, [drift / f for f in ("ga4_2025_03.csv", "ga4_2025_04.csv",
                                       "orders_2025_03.csv", "orders_2025_04.csv")])
    at = start(store, monkeypatch)
    at.switch_page("app_pages/traffic.py").run()
    at.sidebar.selectbox(key="period").set_value("Custom").run()
    # The orders end on 22 April (order 1104), the traffic on the 30th.
    at.sidebar.date_input(key="dates").set_value((date(2025, 3, 1), date(2025, 4, 22))).run()
    users = next(m for m in at.metric if m.label == "Users")
    # 80 + 35 + 55 + 45 in March; sessions 100 + 40 + 60 + 50 + 90 + 30 (1 April).
    assert (users.value, cards(at)["Sessions"]) == ("215", "370") and not users.delta
    captions = [c.value for c in at.caption]
    assert "Users: 1 Mar – 31 Mar 2025 only; the traffic export has no users column for " \
        "1 Apr – 22 Apr 2025." in captions
    at.sidebar.date_input(key="dates").set_value((date(2025, 4, 1), date(2025, 4, 22))).run()
    assert cards(at)["Users"] == "–"
    assert "Unknown: the traffic export has no users column for 1 Apr – 22 Apr 2025." in \
        [c.value for c in at.caption]
    at.sidebar.date_input(key="dates").set_value((date(2025, 3, 1), date(2025, 3, 31))).run()
    assert cards(at)["Users"] == "215"   # March: all there
    assert not [c.value for c in at.caption if "users column" in c.value]


def test_orders_only_overview_says_what_is_missing_and_why(partial_stores, monkeypatch):
    at = start(partial_stores["orders only"], monkeypatch)
    c = cards(at)
    # November 2011 (the data's last month; "Last 30 days" trimmed to its first day).
    assert c["Orders"] == "2,752" and c["Return rate (value)"] == "–"
    notes = " ".join(shown(m) for m in at.markdown)
    # Each export named once, with what it fills.
    assert "Upload a traffic export (a GA4 report, or sessions / events) for Sessions and " \
        "Conversion rate (analytics)" in notes
    assert "for MER" in notes and "units on hand) for Stock-out rate" in notes
    captions = " ".join(c.value for c in at.caption)
    # The credit notes name no stored invoice: no return rate rather than 0.00 %.
    assert "do not say which stored order they refund" in captions
    # No order before 1 November 2011: who is new and who came back cannot be seen; the two
    # cards say so in one sentence.
    assert "New customers" not in c and "Returning-customer rate" not in c
    assert any(i.value.startswith("New customers and Returning-customer rate: Unknown: no order "
                                  "is stored before 01 Nov 2011") for i in at.info)
    # One month of history: no day has 8 weeks behind it, so no alert.
    assert not [e for e in at.expander if "unusual" in e.label]


def test_data_page_says_another_upload_holds_the_store(tmp_path, monkeypatch, demo_store):
    """Issue 28: a second writer is refused with a message, not a traceback."""
    import re
    import signal
    import subprocess
    import sys

    from kpilib import Store
    from kpilib import store as st
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(demo_store.path))
    monkeypatch.setattr(st.manifest, "LOCK_WAIT", 0.2)
    mine = Store(tmp_path / "mine")
    at = start(mine, monkeypatch)
    at.switch_page("app_pages/data.py").run()
    upload(at, Path(__file__).parent / "data" / "tiny" / "orders.csv")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[2]); "
         "from kpilib import Store\nwith Store(sys.argv[1]).writing():\n"
         " print('holding', flush=True); time.sleep(120)",
         str(mine.path), str(Path(__file__).resolve().parent.parent)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        at.button(key="confirm").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(re.fullmatch(r"Nothing was stored: another upload is in progress since "
                                rf"\d\d:\d\d \(pid {holder.pid}\): try again when it has "
                                "finished.", shown(e)) for e in at.error), \
            [shown(e) for e in at.error]
        assert mine.is_empty()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_overview_sparklines_are_images_not_charts(demo_store, monkeypatch):
    """Ten Vega-Lite charts (st.metric's chart_data) cost a browser ~0.14 s on every redraw;
    the cards' lines are one small image each, with what they show in words."""
    at = start(demo_store, monkeypatch)
    assert len(at.metric) == 10 and not any(m.proto.chart_data for m in at.metric)
    lines = [h.proto.body for h in at.html if 'alt="' in h.proto.body]
    # Every card (October, the default: the return rate's line holds its 1 October, the one
    # day past its return window).
    assert len(lines) == 10
    net = next(h for h in lines if 'alt="Net sales by day, 31 days: lowest €' in h)
    assert sparkline_path(net).count(" L") == 30   # 31 days, 31 points


def test_trend_chart_built_once_for_every_session(store_copy, monkeypatch):
    """Viewers of a hosted link on the same filters share the trend chart: built once."""
    import plotly.graph_objects as go

    built = []
    add = go.Figure.add_scatter
    monkeypatch.setattr(go.Figure, "add_scatter",
                        lambda self, *a, **kw: built.append(1) or add(self, *a, **kw))
    first, second = start(store_copy, monkeypatch), start(store_copy, monkeypatch)
    assert len(built) == 2   # this period and the previous one, once
    assert chart(first, "Net sales by day") == chart(second, "Net sales by day")


def test_uci_top_products_show_names_and_sales_not_unknown(tmp_path, monkeypatch):
    """UCI's credit notes name no stored invoice, so each product's returns are unknown; the
    Sales page withheld the whole table as "Unknown" though units and sales are known, and
    would have shown a Category column of "uncategorised" on every row (UCI has none).
    536370: ALARM CLOCK 24 × £3.75 = £90.00; 536366: two hand warmers, 6 × £1.85 = £11.10."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "s")
    ingest(store, [Path(__file__).parent / "data/formats/online_retail_credit_notes.csv"])
    at = start(store, monkeypatch)
    at.switch_page("app_pages/sales.py").run()
    assert not at.exception, [e.value for e in at.exception]
    top = next(d.value for d in at.dataframe if "Product" in d.value)
    assert list(top.columns) == ["Product", "SKU", "Units", "Sales before returns"]
    assert top["Product"].tolist()[0] == "ALARM CLOCK BAKELIKE PINK"
    assert top["Sales before returns"].tolist() == ["£90.00", "£11.10", "£11.10"]
    assert not [i for i in at.info if i.value.startswith("Top products: Unknown")]
    assert "Returns are not taken off: the refunds uploaded do not say which stored order " \
        "they refund" in " ".join(c.value for c in at.caption)


def test_marketing_cards_say_the_ad_spend_covers_part_of_the_period(tmp_path, monkeypatch):
    """UCI's invoices (1 Nov – 8 Dec 2011) and a Google Ads export of 1 and 2 December: a
    Blended CAC of £30.00 (£10 + £20 ÷ 1 new customer, 13256) and MER 1.18× (£35.40 ÷ £30)
    over 1 – 8 Dec carried no word that the spend covers 2 of its 8 days, nor that "new"
    customers are first seen after one month of orders."""
    from kpilib import Store
    from kpilib.ingest import ingest
    ads = tmp_path / "google_ads.csv"
    ads.write_text("Campaign report\n1 December 2011 - 2 December 2011\n"
                   "Day,Campaign,Currency code,Cost,Impr.,Clicks\n"
                   "2011-12-01,Brand - UK,GBP,10.00,1000,50\n"
                   "2011-12-02,Brand - UK,GBP,20.00,2000,60\n")
    store = Store(tmp_path / "s")
    ingest(store, [TINY.parent / "formats" / "online_retail.csv", ads], allow_partial=True)
    at = start(store, monkeypatch)
    at.switch_page("app_pages/marketing.py").run()
    at.sidebar.selectbox(key="period").set_value("Custom").run()
    at.sidebar.date_input(key="dates").set_value((date(2011, 12, 1), date(2011, 12, 8))).run()
    assert not at.exception, [e.value for e in at.exception]
    c = cards(at)
    assert (c["Blended CAC"], c["MER"]) == ("£30.00", "1.18×")
    captions = [c.value for c in at.caption]
    for label, what in (("MER", "net sales"), ("Blended CAC", "new customers")):
        assert (f"Ad spend is stored for 2 of the period's 8 days (1 Dec – 2 Dec 2011), while "
                f"{label} counts the {what} of all 8: upload the other days' ad spend if ads "
                "ran then.") in captions
    assert [c for c in captions if c.startswith("Only 1 month of orders before this period")]
