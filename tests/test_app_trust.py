"""What a manager could misread on screen, found by walking the app as one: each test pins
the sentence or the missing comparison that keeps a figure from misleading."""
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def opened(store, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("KPILIB_STORE", str(store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_previous_period_before_the_first_order_is_not_compared(tiny_store, monkeypatch):
    """Tiny shop, 6 Jan – 6 Feb 2025; the previous period, 5 Dec – 5 Jan, starts before the
    first stored order (o1, 5 Jan), so who was new then cannot be told. The period: alice
    (o2, ordered before: returning) and bob (o3, first order: new); the guest o4 is no
    customer. Returning-customer rate 1 / 2 = 50 %. Against the previous period (alice's
    first order: 0 %) it would read "+50.00 pp", a jump that is only the store's start."""
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-01-06", "2025-02-06"])
    card = next(m for m in at.metric if m.label.startswith("Returning-customer rate"))
    assert card.value == "50.00 %"
    assert card.delta in (None, "", "–"), card.delta
    captions = [c.value for c in at.caption]
    # It holds one day of orders of 32, which is no baseline for any card: net sales of o1
    # alone would read as a jump too (the walkthrough's UCI March: "+2,601 %" against the
    # one stored day of the 30 before).
    said = ("Not compared: 5 Dec 2024 – 5 Jan 2025 starts before the first stored order "
            "(05 Jan 2025): only 1 of its 32 days is in the exports, so it is no baseline.")
    # Said once under each row whose cards it holds back, naming them, not under each card:
    # "Not compared (Net sales, Orders, Average order value (before returns)): 5 Dec …".
    lifted = [c for c in captions if c.endswith(said.removeprefix("Not compared:"))]
    assert len(lifted) >= 2 and said not in lifted, lifted
    assert "Not compared (Net sales, Orders, " in lifted[0], lifted
    net = next(m for m in at.metric if m.label.startswith("Net sales"))
    assert net.delta in (None, "", "–"), net.delta
    # A previous period that starts on the first order's day holds every day of orders, but
    # not who had ordered before it: net sales compared, customers' rates not.
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-04", "2025-03-05"])
    assert next(m for m in at.metric if m.label.startswith("Net sales")).delta
    card = next(m for m in at.metric if m.label.startswith("Returning-customer rate"))
    assert card.delta in (None, "", "–"), card.delta
    assert "Not compared (New customers, Returning-customer rate): in the previous period " \
        "new and returning customers cannot be told apart (no order is stored before 05 Jan " \
        "2025)." in [c.value for c in at.caption]
    # A period the store can tell is still compared: 10 Feb – 2 Mar (bob returning; dave
    # and carol new, her o5 cancelled: 1 / 3) against 20 Jan – 9 Feb (alice returning, bob
    # new: 1 / 2): 33.33 % − 50 % = −16.67 pp.
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-10", "2025-03-02"])
    card = next(m for m in at.metric if m.label.startswith("Returning-customer rate"))
    assert (card.value, card.delta) == ("33.33 %", "-16.67 pp"), (card.value, card.delta)
    # But 36 days of orders before 10 Feb are no year: the card says what "new" rests on.
    assert "Only 1 month of orders before this period (from 05 Jan 2025): a customer who " \
        "ordered before then counts as new." in [c.value for c in at.caption]


def test_a_previous_period_a_day_short_is_compared_and_says_on_which_days(tiny_store,
                                                                          monkeypatch):
    """Tiny shop, first order 5 Jan 2025. 1 Feb – 2 Mar (28 + 2 = 30 days) against 2 – 31 Jan:
    5 – 31 Jan is 27 of its 30 days (≥ 24, 80 %: a baseline), so net sales are compared, and
    the card says on how many days ("-12.3 %" against a period a day short read as like for
    like in a walkthrough)."""
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-01", "2025-03-02"])
    net = next(m for m in at.metric if m.label.startswith("Net sales"))
    assert net.delta and net.delta != "–", net.delta
    said = "Previous period compared on 27 of its 30 days: no order is stored before 05 Jan 2025."
    assert said in [c.value for c in at.caption], [c.value for c in at.caption]
    # A previous period holding every day says nothing of the kind.
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-10", "2025-03-02"])
    assert not any(c.value.startswith("Previous period compared on") for c in at.caption)


def test_the_heading_names_every_filter_that_narrows_the_page(demo_store, monkeypatch):
    """On a phone the sidebar is folded away: the heading under the title is all that says
    the figures are mobile orders in Germany, not the whole shop's."""
    at = opened(demo_store, monkeypatch, devices="mobile", countries="DE", channels="email")
    heading = at.main.caption[0].value
    assert "October 2026 · Email · mobile · DE · arrows" in heading, heading
    at = opened(demo_store, monkeypatch)
    assert "2026 · all channels · arrows" in at.main.caption[0].value


def page(at, name: str):
    return at.switch_page(f"app_pages/{name}.py").run()


def texts(at) -> str:
    return " ".join(e.value for e in [*at.info, *at.caption, *at.markdown])


def test_a_filter_a_page_cannot_take_is_said_not_read_as_no_data(demo_store, monkeypatch):
    """The demo shop's traffic has devices but no country; spend has neither. Each page says
    once what it cannot split, instead of "no sessions" or "No ad spend in this period"
    beside €91,692 of spend."""
    at = page(opened(demo_store, monkeypatch, countries="DE"), "funnel")
    assert "Sessions and the funnel's steps cannot be split by country" in texts(at)
    assert "no sessions" not in texts(at) and "No channel has traffic" not in texts(at)
    at = page(opened(demo_store, monkeypatch, countries="DE"), "traffic")
    assert "Sessions and users cannot be split by country" in texts(at)
    assert not at.dataframe
    at = page(opened(demo_store, monkeypatch, devices="mobile"), "traffic")
    assert "cannot be split" not in texts(at) and at.dataframe   # traffic has devices
    for filters in ({"devices": "mobile"}, {"countries": "DE"},
                    {"categories": "Shoes"}):
        at = page(opened(demo_store, monkeypatch, **filters), "marketing")
        assert "Ad spend, ROAS, MER and CAC cannot be split by" in texts(at), filters
        assert "No ad spend" not in texts(at)
        assert "Clear the " in texts(at)
    assert not at.exception


def test_stock_is_the_whole_shops_whatever_the_channel(demo_store, monkeypatch):
    """Stock is one pool: email's sales alone against the whole stock read 49 days of cover
    where the shop had 6. A sidebar category still narrows the stock (it has a category)."""
    shop = {m.label: m.value for m in page(opened(demo_store, monkeypatch), "stock").metric}
    at = page(opened(demo_store, monkeypatch, channels="email"), "stock")
    assert {m.label: m.value for m in at.metric} == shop
    assert "Stock is shared by every channel" in texts(at)
    at = page(opened(demo_store, monkeypatch, categories="Shoes"), "stock")
    assert "No stock snapshot" not in texts(at)
    shoes = {m.label: m.value for m in at.metric}
    assert shoes["Units on hand"] != shop["Units on hand"], (shoes, shop)


def test_an_export_that_ends_early_is_said_above_the_figures(tmp_path, monkeypatch):
    """One order of 10.00 each day of 1–28 March 2025 and on 3 April (an export cut short,
    as Olist's last days): the last 30 days' net sales (5 March – 3 April: 25 × 10.00 =
    €250.00) fall against the 30 before, and the page says first that 29 March – 2 April
    have no order at all."""
    from datetime import date, timedelta

    from kpilib import Store
    from kpilib.ingest import ingest

    f = tmp_path / "orders.csv"
    days = [date(2025, 3, 1) + timedelta(days=i) for i in range(28)] + [date(2025, 4, 3)]
    f.write_text("order_id,ordered_at,status,gross_sales,discounts\n" + "".join(
        f"o{n},{d.isoformat()} 12:00:00,paid,10.00,0.00\n" for n, d in enumerate(days)))
    store = Store(tmp_path / "store")
    ingest(store, [f])
    at = opened(store, monkeypatch)
    assert any(m.label == "Net sales" and m.value == "250.00" for m in at.metric)
    said = [w.value for w in at.warning]
    assert any("No order on 5 of the last 6 days of the period (29 Mar – 2 Apr 2025)" in w
               and "the export may end early" in w for w in said), said


def test_the_waterfall_leaves_out_what_a_category_cannot_split(demo_store, monkeypatch):
    """Shipping and tax are the order's, not a product category's: under the sidebar's Shoes
    they were drawn as €0.00 beside a total labelled €0.00. Now left out, and said."""
    import json

    at = page(opened(demo_store, monkeypatch, categories="Shoes"), "sales")
    fall = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if json.loads(e.proto.spec)["layout"]["title"]["text"] == "From gross to net sales")
    assert fall["data"][0]["x"] == ["Gross sales", "Discounts", "Returns", "Net sales"]
    assert "Not split by category, so left out: shipping, tax, total sales." in texts(at)
    at = page(opened(demo_store, monkeypatch), "sales")
    fall = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if json.loads(e.proto.spec)["layout"]["title"]["text"] == "From gross to net sales")
    assert "Total sales" in fall["data"][0]["x"]
    # Three digits on the bar, the cent in its hover: Plotly shrank "€534,626" to fit a bar
    # of seven on a 390 px phone until it could not be read.
    bar = dict(zip(fall["data"][0]["x"], zip(fall["data"][0]["text"], fall["data"][0]["hovertext"])))
    cards = {m.label: m.value for m in at.metric}
    text, hover = bar["Net sales"]
    cents = float(hover.lstrip("€").replace(",", ""))
    assert hover.count(".") == 1 and round(cents) == int(cards["Net sales"].lstrip("€").replace(",", ""))
    assert text == f"€{cents / 1e3:.3g} k", (text, hover)
    assert fall["data"][0]["constraintext"] == "none"


def test_cac_under_a_channel_filter_is_named_for_its_channels(tiny_store, monkeypatch):
    """February 2025 of the tiny shop. Blended: all spend 20 + 30 + 40 + 10 = 100 ÷ all new
    customers (bob's o3, dave's o7; carol's o5 cancelled, alice new in January) = €50.00.
    With paid search chosen, the card takes the filter: its spend 50 ÷ bob = €50.00; with
    paid search and paid social, (50 + 40) ÷ (bob, dave) = €45.00 — neither is "blended"."""
    feb = {"period": "Custom", "dates": ["2025-02-01", "2025-02-28"]}

    def cards(**params):
        at = page(opened(tiny_store, monkeypatch, **feb, **params), "marketing")
        return {m.label: m.value for m in at.metric}

    assert cards()["Blended CAC"] == "€50.00"
    one = cards(channels="paid_search")
    assert one["CAC of Paid search"] == "€50.00" and "Blended CAC" not in one, one
    two = cards(channels=["paid_search", "paid_social"])
    assert two["CAC of Paid search and Paid social"] == "€45.00", two


def test_paid_revenue_under_a_channel_filter_is_named_for_its_channels(tiny_store,
                                                                      monkeypatch):
    """February 2025 of the tiny shop. Email had no ad spend: its revenue with ad spend is
    €0.00, which "Revenue of paid channels" read as "email sold nothing" (bob's o6, €30, was
    an email order). Paid search (spend 50) had o2 50 − 0 and o3 80 − 8: €122.00."""
    feb = {"period": "Custom", "dates": ["2025-02-01", "2025-02-28"]}

    def cards(**params):
        at = page(opened(tiny_store, monkeypatch, **feb, **params), "marketing")
        return {m.label: m.value for m in at.metric}

    email = cards(channels="email")
    assert email["Revenue of Email with ad spend"] == "€0.00", email
    assert "Revenue of paid channels" not in email
    assert cards(channels="paid_search")["Revenue of Paid search with ad spend"] == "€122.00"
    assert "Revenue of paid channels" in cards()


def test_a_links_dates_outside_the_data_are_said_to_be_replaced(tiny_store, monkeypatch):
    """The tiny shop holds 5 Jan – 2 Mar 2025. A link's custom dates outside it are dropped by
    the date widget, which falls back to the last 30 days (1 Feb – 2 Mar): the page says so,
    naming both, instead of showing February as if it were what the link asked for."""
    def warned(dates):
        at = opened(tiny_store, monkeypatch, period="Custom", dates=dates)
        return at, [w.value for w in at.warning]

    at, said = warned(["2020-01-01", "2020-01-31"])
    assert "01 Feb – 02 Mar 2025 · all channels" in at.main.caption[0].value
    assert ("The link asked for January 2020; the stored data covers 05 Jan – 02 Mar "
            "2025, so this page shows 01 Feb – 02 Mar 2025 instead.") in said, said
    assert any("The link asked for “nope”, which is no date range" in w
               for w in warned(["nope"])[1])
    # Dates inside the data are shown as asked, without a word; other dates chosen in the
    # sidebar afterwards drop the sentence.
    assert not [w for w in warned(["2025-02-01", "2025-02-10"])[1] if "The link" in w]
    at.sidebar.date_input(key="dates").set_value(("2025-02-03", "2025-02-09")).run()
    assert not [w.value for w in at.warning if "The link" in w.value]


def test_phones_are_told_a_table_scrolls_and_get_no_unreadable_cell_labels(demo_store,
                                                                          monkeypatch):
    """At 390 px (Chromium), the customer segments' table showed three of its columns with
    nothing saying more lay to the right, and the cohort heatmap's cell labels were a few
    pixels high. A caption under each table too wide for a phone, shown on narrow screens
    only (by app.py's style, checked in Chromium at 390 and 1440 px); the heatmap's labels
    hidden there, its colour bar and a tap giving the share."""
    import pandas as pd

    from ui.components import NARROW_CSS, _width

    at = page(opened(demo_store, monkeypatch), "loyalty")
    hints = [c.value for c in at.caption if "sideways" in c.value]
    assert hints == [":material/swipe_left: Scroll the table sideways for more columns."]
    assert any("colour bar gives each cell's share" in c.value for c in at.caption)
    styles = [e.proto.body for e in at.get("html")]
    assert NARROW_CSS.removeprefix("<style>").removesuffix("</style>") in " ".join(styles)
    assert "@media (max-width: 640px) {.st-key-cohort_heatmap .heatmaplayer text" in NARROW_CSS
    # Segment and customers fit a phone: 16 + 7.5 × 9 ("Customers") + 16 + 7.5 × 7 ("Segment")
    # = 152 px of 350.
    assert _width(pd.DataFrame({"Segment": ["New"], "Customers": [486]})) == 152


def test_marketing_under_a_channel_without_spend_or_alone(tiny_store, monkeypatch):
    """February 2025 of the tiny shop: email had no spend (its o6 sold €30.00), so its
    "Revenue of paid channels €0.00" is said to mean no spend, not no sales; with paid search
    alone the budget's shares would all be 100 %, so they are not drawn; with paid search and
    paid social they are shares among the two (spend 50 / 90 and 40 / 90)."""
    import json

    from test_app import numbers
    feb = {"period": "Custom", "dates": ["2025-02-01", "2025-02-28"]}

    def marketing(**params):
        return page(opened(tiny_store, monkeypatch, **feb, **params), "marketing")

    def budget(at):
        return [json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if "Budget" in json.loads(e.proto.spec)["layout"]["title"]["text"]]

    at = marketing(channels="email")
    assert any(i.value.startswith("No ad spend on Email in this period, so no ROAS, no CAC "
                                  "and no revenue with ad spend") for i in at.info)
    assert "€0.00 below means that, not that nothing was sold" in texts(at)
    assert "No ad spend in this period." not in texts(at)   # said once
    assert "No ad spend on" not in texts(marketing())
    at = marketing(channels="paid_search")
    assert budget(at) == [] and "with one channel with spend chosen, each would be 100 %" \
        in texts(at)
    [chart] = budget(marketing(channels=["paid_search", "paid_social"]))
    assert chart["layout"]["title"]["text"].endswith("(paid channels among the channels chosen)")
    spend = next(t for t in chart["data"] if t["name"] == "Share of ad spend")
    assert sorted(round(x, 4) for x in numbers(spend["x"])) == [round(40 / 90, 4),
                                                                round(50 / 90, 4)]


def test_a_previous_period_with_no_stored_order_is_not_a_rise_from_nothing(tiny_store,
                                                                            monkeypatch):
    """5 – 31 Jan 2025 of the tiny shop against 9 Dec 2024 – 4 Jan 2025, before its first
    order (o1, 5 Jan): net sales are not "+100 %" from €0.00; the card says why, briefly."""
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-01-05", "2025-01-31"])
    card = next(m for m in at.metric if m.label == "Net sales")
    assert card.delta in (None, "", "–"), card.delta
    captions = [c.value for c in at.caption]
    assert "Not compared: no order is stored before 05 Jan 2025, so 9 Dec 2024 – 4 Jan " \
        "2025 has nothing to compare with." in captions, captions


def charts(at) -> dict:
    """The page's Plotly figures by title."""
    import json
    specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    return {s["layout"]["title"]["text"].replace("<br>", " "): s for s in specs}


def test_customers_first_seen_in_the_export_are_not_called_new(tiny_store, monkeypatch):
    """Tiny shop, 5 Jan – 6 Feb 2025: the period starts on the first stored order (o1, alice,
    5 Jan), so the cards say new and returning are unknown (caveats). The bars, the cohort
    rows and captions on the same page must not call alice "new" either: she is first seen
    in this export. A later period, 10 Feb – 2 Mar, can tell (orders before it are stored)."""
    at = page(opened(tiny_store, monkeypatch, period="Custom",
                     dates=["2025-01-05", "2025-02-06"]), "loyalty")
    assert "Unknown: no order is stored before 05 Jan 2025" in texts(at)
    figs = charts(at)
    assert "New and returning customers" not in figs, list(figs)
    bars = figs["Customers first seen and seen before"]
    assert {t["name"] for t in bars["data"]} == {"First seen in this export",
                                                 "Seen before in this export"}
    heat = figs["Share of each cohort ordering again, month by month"]
    # Cohorts up to the period's end: Jan 2025 (alice) and Feb 2025 (bob, 4 Feb; dave's
    # first order, 20 Feb, is after it). January holds the first stored order; February has
    # January's orders before it.
    assert list(heat["data"][0]["y"]) == ["Jan 2025 (1, first seen)", "Feb 2025 (1)"]
    assert "The Jan 2025 cohort is every customer first seen in this export" in texts(at)
    ltv = figs["Lifetime value per customer, by cohort"]
    assert {t["name"] for t in ltv["data"] if t.get("showlegend") is not False} >= {
        "Jan 2025 (first seen)"}, [t["name"] for t in ltv["data"]]
    assert "Not split into new and returning" in texts(at)
    at = page(opened(tiny_store, monkeypatch, period="Custom",
                     dates=["2025-02-10", "2025-03-02"]), "loyalty")
    assert "New and returning customers" in charts(at)
    assert "Not split into new and returning" not in texts(at)


def test_a_store_an_older_importer_wrote_names_the_export_to_upload_again(tmp_path,
                                                                          monkeypatch):
    """A UCI month stored before the credit notes kept their country: the Data page and
    After-sales say which export to upload again, once; Sales (no refund figure changed by
    it) does not."""
    import json

    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "online_retail.csv"],
           allow_partial=True)
    path = store.path / "manifest.json"
    m = json.loads(path.read_text())
    for s in m["ingests"][0]["sources"]:
        s["importer_version"] = 3
    path.write_text(json.dumps(m))
    said = ("Your UCI Online Retail export online_retail.csv was imported by an older version, "
            "which put every return under \"No country recorded\": upload it again on the Data "
            "page.")
    at = opened(store, monkeypatch)
    for name, where in (("data", "below"), ("returns", "on the Data page")):
        at = page(at, name)
        assert [w.value for w in at.warning].count(said.replace("on the Data page", where)) \
            == 1, (name, at.warning)
    for name in ("sales", "overview", "loyalty"):
        at = page(at, name)
        assert not [w for w in at.warning if "older version" in w.value], name
    # Stored by version 1, before stock adjustments were left out of the orders: the
    # Overview's orders and AOV and the Customers page's guests are off too, and say so.
    import shutil
    old = Store(shutil.copytree(store.path, tmp_path / "older"))
    for s in m["ingests"][0]["sources"]:
        s["importer_version"] = 1
    (old.path / "manifest.json").write_text(json.dumps(m))
    at = opened(old, monkeypatch)
    for name in ("overview", "loyalty"):
        at = page(at, name)
        assert any("counted stock adjustments (free lines, no customer) as orders" in w.value
                   for w in at.warning), (name, [w.value for w in at.warning])


def test_after_sales_shows_returns_by_country_where_the_shop_has_countries(tmp_path,
                                                                           tiny_store,
                                                                           monkeypatch):
    """UCI's fixture: one credit note, C574500 on 4 Nov 2011, Netherlands, 1 × £4.95: it
    names no stored order, so its own country counts (refunds.refund_country). The tiny
    shop's orders have no country: no table, and no empty one."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "online_retail.csv"],
           allow_partial=True)
    at = page(opened(store, monkeypatch, period="Custom", dates=["2011-11-01", "2011-11-30"]),
              "returns")
    assert "Returns by country" in [h.value for h in at.subheader]
    table = next(d.value for d in at.dataframe if "Country" in d.value.columns)
    assert table.values.tolist() == [["Netherlands", "£4.95", "100.00 %"]]
    at = page(opened(tiny_store, monkeypatch, period="Custom",
                     dates=["2025-02-01", "2025-02-28"]), "returns")
    assert "Returns by country" not in [h.value for h in at.subheader]
    assert not [d for d in at.dataframe if "Country" in d.value.columns]


def test_customers_under_a_device_filter_say_why_not_one_line(demo_store, monkeypatch):
    """Customers' figures count each customer once; a device is an order's or a session's.
    "Not split by device." alone left the page one line long, without why or what to do."""
    at = page(opened(demo_store, monkeypatch, devices="mobile"), "loyalty")
    said = [i.value for i in at.info]
    assert said == ["Customers' figures are not split by device: each customer counts once, "
                    "and a device belongs to a session or an order (one customer orders from "
                    "several). Clear the device filter in the sidebar to see them; Sales and "
                    "After-sales apply it to orders."], said
    # The header counted the filter's guest orders "not here": the one figure on a page
    # that shows none (the demo shop's mobile guests), read as if it were the page's.
    assert "guest order" not in at.caption[0].value, at.caption[0].value
    assert "guest order" in page(opened(demo_store, monkeypatch), "loyalty").caption[0].value


def test_the_stock_page_has_one_categories_filter_the_sidebars(demo_store, monkeypatch):
    """A page-level "Categories" box beside the sidebar's "Product categories": two filters
    of one name, and the page's silently won. The sidebar's (in the URL) applies."""
    at = page(opened(demo_store, monkeypatch), "stock")
    assert [m.label for m in at.main.multiselect] == []
    everything = next(m.value for m in at.metric if m.label == "Units on hand")
    at = page(opened(demo_store, monkeypatch, categories="Shoes"), "stock")
    shoes = next(m.value for m in at.metric if m.label == "Units on hand")
    assert int(shoes.replace(",", "")) < int(everything.replace(",", ""))


def test_orders_by_status_is_not_a_bar_of_paid_when_the_export_has_no_status(tmp_path,
                                                                             monkeypatch):
    """UCI Online Retail gives no order status: every order is stored 'paid' with its raw
    status empty. The Sales page drew "Paid 1,380" beside a card saying status is not
    tracked (the walkthrough's UCI March); now the sentence, not the bar."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "online_retail.csv"],
           allow_partial=True)
    at = page(opened(store, monkeypatch, period="Custom", dates=["2011-11-01", "2011-11-30"]),
              "sales")
    assert "Orders by status" not in charts(at)
    assert any("the orders export has no order status" in i.value for i in at.info), \
        [i.value for i in at.info]


def test_marketing_on_orders_without_a_channel_offers_no_mapping(tmp_path, monkeypatch):
    """UCI orders have no channel (every one 'unknown'); with Google Ads spend uploaded the
    page said "their ROAS reads 0: paid_search … Map each to the channel your orders use",
    which would credit paid search with every sale. Now ROAS, the revenue with ad spend and
    the mapping are said not tracked; spend and MER stay."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "online_retail.csv"],
           allow_partial=True)
    (tmp_path / "spend.csv").write_text("date,channel,spend\n2011-11-10,paid_search,120.00\n")
    ingest(store, [tmp_path / "spend.csv"])
    at = page(opened(store, monkeypatch, period="Custom", dates=["2011-11-01", "2011-11-30"]),
              "marketing")
    assert not [w for w in at.warning if "Map each" in w.value]
    assert any(i.value.startswith("Not tracked: the orders export has no channel")
               for i in at.info), [i.value for i in at.info]
    cards = {m.label: m.value for m in at.metric}
    assert cards["Ad spend"] == "£120.00" and "MER" in " ".join(cards), cards
    assert "ROAS by month" not in " ".join(charts(at))
    assert not at.number_input, "a ROAS target for a ROAS that cannot be measured"


def test_amounts_are_shown_in_no_currency_the_data_is_not_in(tmp_path, monkeypatch):
    """A UCI store written before uploads set the reporting currency (no currency in its
    settings, none on its orders, no importer in its manifest) showed its pounds as "€"; it
    shows "£", as its export is in GBP. A store of ad spend alone whose export names no
    currency says none: its amounts have no symbol, and the Data page says where to set one
    (Google Ads' names its own: tests/test_ingest.py)."""
    from test_importer_versions import FORMATS, as_before_currencies, uci_store

    from kpilib import Store
    from kpilib.ingest import ingest
    from kpilib.settings import chosen
    uci = as_before_currencies(uci_store(tmp_path / "uci"))
    at = opened(uci, monkeypatch, period="Custom", dates=["2011-11-01", "2011-12-09"])
    card = next(m for m in at.metric if m.label.startswith("Net sales"))
    assert card.value.startswith("£"), card.value
    assert "Set your shop's currency" not in texts(page(at, "data"))
    spend = Store(tmp_path / "spend" / "store")
    ingest(spend, [FORMATS / "facebook_ads_by_ad.csv"], spend_month="2017-08")
    at = page(opened(spend, monkeypatch), "marketing")
    card = next(m for m in at.metric if m.label.startswith("Ad spend"))
    assert card.value[:1].isdigit(), card.value
    assert "Set your shop's currency in Settings" in texts(page(at, "data"))
    # Settings offers it unset; saving the timezone leaves it so, not "EUR" by default.
    at = page(at, "settings")
    assert at.selectbox(key="set_currency").value is None
    at.selectbox(key="set_timezone").set_value("Europe/Paris")
    at.button[0].click().run()
    assert spend.settings["timezone"] == "Europe/Paris" and "currency" not in chosen(spend)
    # And a UCI store's is preset to GBP, the currency its orders are in.
    assert page(opened(uci, monkeypatch), "settings").selectbox(key="set_currency").value \
        == "GBP"


def test_deleting_a_month_of_an_upload_says_once_that_the_whole_upload_goes(tmp_path,
                                                                            monkeypatch):
    """online_retail.csv holds orders and order lines of Nov and Dec 2011 and a credit note
    of Nov: 5 months of tables from one upload. Deleting its November orders alone left its
    December and its lines standing, and the page asked for each month in turn; now the
    page names what goes and why, and one click deletes the whole upload (one undo)."""
    from test_importer_versions import uci_store
    store = uci_store(tmp_path)
    assert {t: list(store.months(t)) for t in ("orders", "order_items", "refunds")} == {
        "orders": ["2011-11", "2011-12"], "order_items": ["2011-11", "2011-12"],
        "refunds": ["2011-11"]}
    at = page(opened(store, monkeypatch), "data")
    at.selectbox(key="del_table").set_value("orders")
    at.selectbox(key="del_month").set_value("2011-11").run()
    said = [c.value.replace("\\", "") for c in at.caption if "whole upload" in c.value]
    assert len(said) == 1, said
    assert "Orders of Nov 2011 were stored by the upload of online_retail.csv" in said[0]
    # Said in what the manager knows (the export, its months), not "5 months of tables".
    assert ("also holds orders of Dec 2011; order lines of Nov 2011 and Dec 2011; refunds of "
            "Nov 2011. Deleting removes the whole upload: one part") in said[0], said[0]
    rows = sum(n for t in ("orders", "order_items", "refunds") for n in store.months(t).values())
    at.button(key="delete").click().run()
    assert not at.exception
    assert [s.value.replace("\\", "") for s in at.success] == [
        "Deleted: the upload of online_retail.csv: orders of Nov 2011 and Dec 2011; order lines "
        f"of Nov 2011 and Dec 2011; refunds of Nov 2011 ({rows:,} rows). Undo brings it back."]
    assert not any(store.months(t) for t in ("orders", "order_items", "refunds"))
    store.undo()
    assert list(store.months("order_items")) == ["2011-11", "2011-12"]


def test_the_after_sales_page_says_how_shopify_dates_refunds_only_to_shopify_shops(
        tiny_store, tmp_path, monkeypatch):
    """The tiny shop's orders and refunds are the template's CSVs: nothing of Shopify's, yet
    its After-sales page explained how Shopify's export dates refunds. A shop that uploaded a
    Shopify orders export is told."""
    from kpilib import Store
    from kpilib.ingest import ingest
    shopify = "Shopify's orders export gives one refunded amount per order"
    at = page(opened(tiny_store, monkeypatch), "returns")
    assert "Goods refunded in the period" in texts(at)
    assert shopify not in texts(at)
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "shopify_orders.csv"])
    at = page(opened(store, monkeypatch), "returns")
    assert shopify in texts(at)


def test_an_overview_of_ad_spend_alone_shows_the_spend(tmp_path, monkeypatch):
    """A shop that uploaded only its Google Ads report (1 – 2 Feb 2025: 1,234.50 + 80.25 +
    95.00 = 1,409.75) had an Overview of no card at all: MER, the card that reads spend,
    needs orders too. It shows its spend, and names the export that fills the rest."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "google_ads.csv"])
    at = opened(store, monkeypatch)
    # In the euros its "Currency code" names.
    assert [(m.label, m.value) for m in at.metric] == [("Ad spend", "€1,410")]
    assert "Upload an orders export" in " ".join(m.value for m in at.markdown)


def test_a_why_link_past_the_datas_end_compares_the_days_with_data(tiny_store, monkeypatch):
    """The tiny shop's data ends on 2 Mar 2025 (its last valid order, o8). A Why? link over 1
    Feb – 31 Mar compared those two months, 29 days of them past the data, with the two whole
    months before (1 Dec – 31 Jan); it explains 1 Feb – 2 Mar against the 30 days before, 2 –
    31 Jan."""
    at = opened(tiny_store, monkeypatch, why="orders", why_from="2025-02-01",
                why_to="2025-03-31")
    said = " ".join(m.value for m in at.markdown)
    assert "against 2 Jan – 31 Jan 2025" in said, said


def test_the_returning_rate_line_says_why_it_runs_above_its_card(demo_store, monkeypatch):
    """A customer ordering on 3 and 20 March is returning on the 20th's point of the line but
    not in March's card (she had not ordered before March): on UCI's first month the card
    read 2 % beside a line up to 43 %. The line says what each point counts, and that a day
    of few customers may fall below the card (the demo shop's days at 0 %, beside 32.77 %)."""
    at = page(opened(demo_store, monkeypatch), "loyalty")
    assert ("Each day's rate: its customers who had ordered before that day, so over the "
            "period it runs above the card's, whose customers had ordered before the whole "
            "period (a day of few customers may fall below it).") in [c.value for c in at.caption]
    # Its lifetime value curves end dashed (months inside the return window); no cohort
    # month of the heatmap is still running, so none is starred and no "*" is explained.
    assert "dashed: not final yet" in texts(at) and "\\*" not in texts(at)


def test_captions_of_customer_charts_not_drawn_are_not_left_behind(uci_month_store,
                                                                    monkeypatch):
    """UCI's one month of orders: with nothing stored before it, the returning-customer rate
    is unknown (a box says why) and no cohort has a second month (no lifetime value curves).
    The caption explaining the rate's line, and "* and dashed: not final yet", went on
    describing a chart and marks that were not there."""
    at = page(opened(uci_month_store, monkeypatch), "loyalty")
    assert any(i.value.startswith("Returning-customer rate: Unknown") for i in at.info)
    assert "Each day's rate" not in texts(at)
    assert any(i.value.startswith("Lifetime value curves start once") for i in at.info)
    # November is over: its one cohort month is final, nothing starred or dashed to explain.
    assert "not final yet" not in texts(at) and "dashed" not in texts(at)
    # Nor what the curves' cells are: there are none.
    assert "Cell (cohort, k) = cumulative net revenue" not in texts(at)


def test_the_cohort_marks_explained_are_those_drawn(tiny_store, monkeypatch):
    """The tiny shop's orders end on 2 March 2025, a month its data has not seen the end of:
    a cohort cell of March is starred ("100.00 % *") and the lifetime value curves end
    dashed, so both marks are explained."""
    at = page(opened(tiny_store, monkeypatch), "loyalty")
    [heatmap] = [json.loads(e.proto.spec) for e in at.get("plotly_chart")
                 if "Share of each cohort" in json.loads(e.proto.spec)["layout"]["title"]["text"]]
    assert any(c.endswith(" *") for row in heatmap["data"][0]["text"] for c in row)
    assert "\\* and dashed: not final yet" in texts(at)


def test_last_year_with_far_less_order_history_is_not_compared(tmp_path, monkeypatch):
    """March 2026 on the Overview against March 2025, which had 59 days of orders before it
    against a year (helpers.thin_history_store): returning-customer rate 1 / 2 against 1 / 3
    read "vs last year: +16.67 pp", the history growing. The card says why it is not
    compared; the previous month (0 / 1) is, +50.00 pp."""
    from helpers import THIN_HISTORY_SAID, thin_history_store
    at = opened(thin_history_store(tmp_path), monkeypatch, period="Custom",
                dates=["2026-03-01", "2026-03-31"])
    card = next(m for m in at.metric if m.label.startswith("Returning-customer rate"))
    assert (card.value, card.delta) == ("50.00 %", "+50.00 pp"), (card.value, card.delta)
    captions = [c.value for c in at.caption]
    said = f"Not compared with last year: {THIN_HISTORY_SAID[0].lower()}{THIN_HISTORY_SAID[1:]}"
    # Returning-customer rate's and new customers' cards.
    assert captions.count(said) == 2, captions
    assert not any("16.67" in c for c in captions), captions


def test_why_names_the_stock_pages_lost_revenue_as_an_estimate_with_shares(demo_store,
                                                                           monkeypatch):
    """Why? for net sales said "Revenue lost to stock-outs: €90,442.27 …; most of it" three
    SKUs that the Stock page's table gave as 22 % of it: an estimate shown to the cent, and a
    "most" that was not. It now names the largest with each one's share, rounded as an
    estimate, and the SKUs and their figures are the Stock page's table's for the period."""
    import re
    from datetime import date

    import pytest

    from kpilib import Filters, caveats, explain
    f = Filters(date(2026, 9, 1), date(2026, 10, 31))
    con = demo_store.connect()
    out = explain.explain(con, "net_sales", f, f.previous_period(), caveats.facts(con))
    lost = next(c for c in out["causes"] if c["kind"] == "stockouts")
    total = lost["current"]
    top = lost["items"][:3]
    assert "most of it" not in lost["text"] and "estimated" in lost["text"]
    # No figure to the cent: the total and each SKU's to two significant figures.
    assert not re.search(r"\d\.\d\d\b", lost["text"]), lost["text"]
    assert explain.about(total, "EUR") in lost["text"]
    for i in top:
        assert i["share"] == pytest.approx(i["lost_revenue"] / total, abs=1e-6)
        assert (f"{i['product_name']} ({i['oos_days']:.0f} days out of stock, "
                f"{explain.about(i['lost_revenue'], 'EUR')}, {i['share']:.0%}".replace("%", " %")
                in lost["text"]), lost["text"]
    at = opened(demo_store, monkeypatch, period="Custom", dates=["2026-09-01", "2026-10-31"])
    at.switch_page("app_pages/stock.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "Revenue lost (estimate)" in d.value.columns)
    assert table["SKU"].tolist()[:3] == [i["sku"] for i in top]
    # An estimate there too: whole euros to two significant figures, as Why? rounds them.
    assert table["Revenue lost (estimate)"].tolist()[:3] == [
        explain.about(i["lost_revenue"], "EUR").removeprefix("about ") for i in top]
    assert not any(re.search(r"\.\d\d$", v) for v in table["Revenue lost (estimate)"])
    card = next(m for m in at.metric if m.label.startswith("Revenue lost"))
    assert card.value == f"€{total:,.0f}", (card.value, total)


def test_payback_says_it_is_on_revenue_before_costs(demo_store, monkeypatch):
    """The demo's affiliate cohorts all "pay back" in month 0: their CAC (Dec 2025 in the
    full demo: €6,216.80 ÷ 186 customers = €33.42) is under their first month's revenue
    (€78.30 a customer). Right on revenue, as the definition has it; read as profit it is
    not, so the table, its chart and its heading say revenue."""
    at = opened(demo_store, monkeypatch)
    at.switch_page("app_pages/marketing.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[-1].value
    assert "Pays back on revenue (before costs)" in table.columns, table.columns
    # A cohort of the period's last month has 1 month observed, not "1 months".
    assert not table[table.columns[-1]].str.contains(r"\b1 months").any()
    assert "Payback on revenue by acquisition channel" in [h.value for h in at.subheader]
    spec = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if "revenue per acquired customer" in json.loads(e.proto.spec)["layout"]
                ["title"]["text"])
    said = [a["text"] for a in spec["layout"]["annotations"] if "CAC" in a["text"]]
    assert said and not any("paid back" in t for t in said), said
    assert any("before costs" in c.value for c in at.caption)


def trend(at) -> dict:
    """The Overview trend chart's spec."""
    return next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if " by " in json.loads(e.proto.spec)["layout"]["title"]["text"]
                and len(json.loads(e.proto.spec)["data"]) <= 2)


def test_the_trend_names_no_previous_line_it_does_not_draw(tiny_store, monkeypatch):
    """5 – 31 Jan 2025 of the tiny shop: the previous period (9 Dec – 4 Jan) is before its
    first order (o1, 5 Jan), so no previous line is drawn, and the legend said "Previous
    period" beside the one line there is. 10 Feb – 2 Mar has one (20 Jan – 9 Feb)."""
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-01-05", "2025-01-31"])
    assert [t["name"] for t in trend(at)["data"]] == ["This period"]
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-10", "2025-03-02"])
    assert [t["name"] for t in trend(at)["data"]] == ["This period", "Previous period"]


def test_one_channel_with_spend_is_said_not_charted(tiny_store, monkeypatch):
    """3 – 4 Feb 2025 of the tiny shop: paid search's €20 + €30 is all the ad spend, so its
    share of it was one bar at 100 %. Said in a sentence instead; 3 – 6 Feb (three channels)
    is charted."""
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-03", "2025-02-04"])
    at.switch_page("app_pages/marketing.py").run()
    assert not at.exception, [e.value for e in at.exception]
    titles = [json.loads(e.proto.spec)["layout"]["title"]["text"]
              for e in at.get("plotly_chart")]
    assert not any(t.startswith(("Budget", "Share of ad spend")) for t in titles), titles
    assert any("All the ad spend in these dates (€50.00) is on Paid search" in m.value
               for m in at.markdown), [m.value for m in at.markdown]
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-02-03", "2025-02-06"])
    at.switch_page("app_pages/marketing.py").run()
    assert any(json.loads(e.proto.spec)["layout"]["title"]["text"].startswith("Budget")
               for e in at.get("plotly_chart"))


def test_last_year_before_the_first_order_is_not_said_twice(tiny_store, monkeypatch):
    """5 – 31 Jan 2025 of the tiny shop: the previous period and last year are both before
    its first order. The previous period's caption says it; last year's is a plain "–"."""
    at = opened(tiny_store, monkeypatch, period="Custom", dates=["2025-01-05", "2025-01-31"])
    captions = [c.value for c in at.caption]
    assert "vs last year: –" in captions
    assert not any(c.startswith("Not compared with last year") for c in captions), captions


def test_a_channel_filter_on_orders_without_a_channel_is_not_a_sale_of_nothing(tmp_path,
                                                                             monkeypatch):
    """UCI's orders have no channel: under the sidebar's Email, net sales read "£0.00" and
    orders 0 (the walkthrough's), as if email sold nothing. Now not tracked, said."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, [Path(__file__).parent / "data" / "formats" / "online_retail.csv"],
           allow_partial=True)
    # Email is a channel of the traffic export (the sidebar offers it).
    (tmp_path / "traffic.csv").write_text(
        "date,channel,sessions,product_views,add_to_carts,checkouts,purchases\n"
        "2011-11-10,email,40,20,6,3,2\n")
    ingest(store, [tmp_path / "traffic.csv"])
    at = opened(store, monkeypatch, period="Custom", dates=["2011-11-01", "2011-11-30"],
                channels="email")
    assert next(m for m in at.metric if m.label == "Sessions").value == "40"
    assert not [m for m in at.metric if m.label.startswith(("Net sales", "Orders"))]
    assert "Net sales, Orders and Average order value (before returns): Not tracked: the " \
        "orders export has no channel (every order's is unknown), so its orders cannot be " \
        "picked by channel." in [i.value for i in at.info]


def test_the_why_view_says_which_conversion_rate_its_driver_is(tmp_path, monkeypatch):
    """Net sales on 4 March 2025 against the 3rd (tests/data/explain): the waterfall's driver
    is the blended conversion rate, 3 orders ÷ 400 sessions = 0.75 %, where the Overview's
    Conversion rate (analytics) card reads (3 + 8) ÷ (20 + 380) = 2.75 %. Said under it."""
    from kpilib import Store
    from kpilib.ingest import ingest
    store = Store(tmp_path / "store")
    ingest(store, sorted((Path(__file__).parent / "data" / "explain").glob("*.csv")))
    at = opened(store, monkeypatch, why="net_sales", why_from="2025-03-04",
                why_to="2025-03-04", why_vs="previous")
    # Markdown escapes; the percentages' spaces are non-breaking.
    said = [i.value.replace("\\", "").replace("\u00a0", " ") for i in at.info]
    assert [s for s in said if s.startswith(
        "Blended conversion rate here: orders in the orders export ÷ sessions, 0.75 % in the "
        "period. The Conversion rate (analytics) card is another figure, 2.75 %")], said


def test_marketing_channel_table_withholds_cac_where_the_card_does(tiny_store, tmp_path,
                                                                    monkeypatch):
    """The tiny shop's orders start on 5 Jan 2025; with ad spend in January, the period 5 – 31
    Jan starts on the first stored order, so a customer's first order there may not be their
    first: the Blended CAC card says "Unknown", and the channels' table showed a CAC per
    channel all the same. Its new customers and CAC are now blank, and said why."""
    import shutil

    from kpilib import Store
    from kpilib.ingest import ingest
    shutil.copytree(tiny_store.path, tmp_path / "store")
    store = Store(tmp_path / "store")
    (tmp_path / "spend.csv").write_text("date,channel,spend\n2025-01-10,paid_search,40.00\n")
    ingest(store, [tmp_path / "spend.csv"])
    at = page(opened(store, monkeypatch, period="Custom", dates=["2025-01-05", "2025-01-31"]),
              "marketing")
    card = next(m for m in at.metric if m.label == "Blended CAC")
    assert card.value == "–", card.value
    table = at.dataframe[0].value.set_index("Channel")
    assert set(table["CAC"]) == {"–"} and set(table["New customers"]) == {"–"}, table
    assert ("New customers and CAC unknown: no order is stored before 05 Jan 2025, so whether "
            "a customer had ordered before cannot be seen (pick a later period, or upload "
            "earlier months)." in [c.value for c in at.caption]), [c.value for c in at.caption]


def test_payback_marks_the_cohorts_first_seen_in_the_export(demo_store, monkeypatch):
    """The first month of the demo's orders (May 2025 here) is a cohort of every customer
    first seen in the export, and its CAC is spread over customers who may have ordered
    before (the cohort heatmap says so on the Customers page; the payback table did not);
    the months after it are cohorts of new customers."""
    from kpilib import caveats
    first = caveats.facts(demo_store.connect()).orders_from
    at = page(opened(demo_store, monkeypatch, period="Custom",
                     dates=["2025-06-01", "2025-08-31"]), "marketing")
    table = at.dataframe[-1].value
    acquired = set(table["Acquired in"])
    assert f"{first:%b %Y}, first seen" in acquired, acquired
    assert [a for a in acquired if "first seen" in a] == [f"{first:%b %Y}, first seen"]
    # The months after it have a month or two of orders before them: said beside each, as
    # the channels' table says it of CAC.
    assert {"Jun 2025, 1 month of history", "Jul 2025, 2 months of history"} <= acquired, \
        acquired
    assert any(c.value.startswith("Cohorts with less than a year of orders before them")
               for c in at.caption)
    assert any(c.value.startswith(f"The {first:%b %Y} cohorts are every customer first seen "
                                  "in this export, not only new ones (no order is stored "
                                  f"before {first:%d %b %Y}") for c in at.caption), \
        [c.value for c in at.caption]


def test_month_ticks_fit_a_phone_and_lifetime_value_starts_at_zero(demo_store, monkeypatch):
    """A walker on a 390 px phone read "Dec 2", "Jan 2" under ROAS by month: a tick a month
    as "%b %Y" was cut. Over a year Plotly's own ticks are kept (a few, the year under the
    first). And the lifetime-value curves started their
    scale at €95, drawing €97 against €117 as a fivefold gap: they start at 0."""
    at = page(opened(demo_store, monkeypatch), "marketing")
    # Blended CAC under every paid channel's own is said, not left to look contradictory.
    assert any(c.value.startswith("Blended CAC sets all ad spend against every new customer")
               for c in at.caption)
    roas = next(s for t, s in charts(at).items() if t.startswith("ROAS by month"))
    assert "dtick" not in roas["layout"]["xaxis"] and "tickformat" not in roas["layout"]["xaxis"]
    at = page(at, "loyalty")
    ltv = charts(at)["Lifetime value per customer, by cohort"]
    assert ltv["layout"]["yaxis"]["rangemode"] == "tozero"


def test_a_roas_written_as_its_target_is_not_drawn_under_it(demo_store, tmp_path, monkeypatch):
    """ROAS by channel colours a bar red under the target and writes it with two decimals: a
    ROAS of 1.9987 was "2.00×" in red beside a 2.0× target. It is judged as written. On the
    demo shop, a channel whose ROAS rounds up (v < round(v, 2)) gets exactly that target: its
    bar is blue; a channel more than half a hundredth under stays red."""
    import shutil

    from kpilib import Store
    from test_app import numbers

    def bars(at) -> tuple[dict, dict]:
        [chart] = [json.loads(e.proto.spec) for e in at.get("plotly_chart")
                   if json.loads(e.proto.spec)["layout"]["title"]["text"].startswith(
                       "ROAS by channel (red")]
        [bar] = chart["data"]
        return dict(zip(bar["y"], numbers(bar["x"]))), dict(zip(bar["y"], bar["marker"]["color"]))

    store = Store(shutil.copytree(demo_store.path, tmp_path / "store"))
    values, _ = bars(page(opened(store, monkeypatch), "marketing"))
    # The highest such (Affiliate's 1.9987, the one seen): a channel below it stays red.
    label, v = max(((c, v) for c, v in values.items() if round(v, 2) > v), key=lambda cv: cv[1])
    store.update_settings({"roas_target": round(v, 2)})
    values, colours = bars(page(opened(store, monkeypatch), "marketing"))
    assert colours[label] == "#4c78a8", (label, v)
    under = [c for c, x in values.items() if x < round(v, 2) - 0.005]
    assert under and all(colours[c] == "#e45756" for c in under)


def test_a_channel_with_no_returns_is_written_zero_not_left_blank(demo_store, monkeypatch):
    """After-sales' return rate by channel wrote each rate inside its bar: a channel with no
    returns has no bar, so its row showed a name and nothing. The demo shop's last month has
    such channels (Affiliate, Direct…): their 0.0 % is written beside the axis."""
    from test_app import numbers

    at = page(opened(demo_store, monkeypatch), "returns")
    for by in ("channel", "category"):
        [bar] = [json.loads(e.proto.spec)["data"][0] for e in at.get("plotly_chart")
                 if f" by {by}" in json.loads(e.proto.spec)["layout"]["title"]["text"]]
        where = dict(zip(numbers(bar["x"]), bar["textposition"]))
        assert where.pop(0.0) == "outside" and where and set(where.values()) == {"auto"}, by


def test_settings_editors_say_they_scroll_on_a_phone(store_copy, monkeypatch):
    """At 390 px (Chromium) the Settings' channel mapping and targets editors showed their
    first columns, "Chann" and "Targ" cut, even with no row, and nothing said more lay to the
    right. Each has the tables' hint, shown on narrow screens only (NARROW_CSS)."""
    at = page(opened(store_copy, monkeypatch), "settings")
    assert sum("sideways" in c.value for c in at.caption) == 2


def test_the_budgets_shares_are_all_among_the_paid_channels(demo_store, monkeypatch):
    """Marketing's budget chart: spend and revenue shares among the channels with spend, and
    new customers' among all channels. Paid search's 36 of the 119 new customers read "30 %"
    beside its 67 % of the paid channels' revenue, where it brought 36 of their 53. Each of the
    three groups of bars now adds up to 100 % of the same channels."""
    from test_app import numbers

    at = page(opened(demo_store, monkeypatch), "marketing")
    [chart] = [json.loads(e.proto.spec) for e in at.get("plotly_chart")
               if json.loads(e.proto.spec)["layout"]["title"]["text"].startswith("Budget")]
    sums = {t["name"]: sum(numbers(t["x"])) for t in chart["data"]}
    assert set(sums) == {"Share of ad spend", "Share of attributed revenue",
                         "Share of new customers"}
    assert all(abs(v - 1) < 1e-9 for v in sums.values()), sums


def test_a_weekly_chart_says_which_weeks_the_dates_cut(demo_store, monkeypatch):
    """The funnel's step rates week by week over October 2026: its first point is 1–4 Oct
    (Thursday to Sunday), and Checkout → purchase read ~38 % there against 50–60 % in the
    whole weeks; over the last 90 days the same week, whole, reads ~53 %. The chart says which
    weeks are part weeks; so does the Sales trend over the last 90 days, by week and month."""
    at = page(opened(demo_store, monkeypatch), "funnel")
    assert ("The first and last weeks are part weeks (1 Oct – 4 Oct 2026 and 26 Oct – 31 Oct "
            "2026 only)") in texts(at)
    # 3 Aug – 31 Oct 2026: by week (the default over 90 days), Monday 3 Aug starts a week
    # and Saturday 31 Oct ends one a day short; by month, August is cut.
    at = page(opened(demo_store, monkeypatch, period="Last 90 days"), "sales")
    assert "The last week is a part week (26 Oct – 31 Oct 2026 only)" in texts(at)
    at.segmented_control(key="sales_grain").set_value("month").run()
    assert "The first month is a part month (3 Aug – 31 Aug 2026 only)" in texts(at)


def test_returns_by_month_has_a_legend_only_when_its_bars_differ(demo_store, tiny_store,
                                                                  tmp_path, monkeypatch):
    """The demo shop's returns by refund date are final in every month: a legend of one entry
    ("final") said nothing and lay over the months' labels at 390 px. The tiny shop's March
    is not over: its bars differ, and the legend says how. A shop of one month not over (UCI's
    December 2010, to the 23rd) had one grey bar that nothing explained: the legend says."""
    def chart(store) -> dict:
        at = page(opened(store, monkeypatch), "returns")
        [spec] = [json.loads(e.proto.spec) for e in at.get("plotly_chart")
                  if " by month" in json.loads(e.proto.spec)["layout"]["title"]["text"]]
        return spec

    demo = chart(demo_store)
    assert {t["name"] for t in demo["data"]} == {"final"}
    assert demo["layout"]["showlegend"] is False
    tiny = chart(tiny_store)
    assert len(tiny["data"]) > 1 and tiny["layout"]["showlegend"] is True
    # One kind of bar that is not "final" (a shop whose only month, March 2025, runs to its
    # 3rd: the tiny shop's o8 of 2 March, refunded €20 on the 3rd): the legend is what says
    # why it is grey.
    import shutil

    from kpilib import Store
    from kpilib.ingest import ingest

    orders = (Path(__file__).parent / "data" / "tiny" / "orders.csv").read_text().splitlines()
    (tmp_path / "orders.csv").write_text(
        "\n".join([orders[0]] + [x for x in orders if x.startswith("o8,")]) + "\n")
    (tmp_path / "refunds.csv").write_text("refund_id,order_id,refunded_at,amount,reason\n"
                                          "r9,o8,2025-03-03 10:00:00,20.00,damaged\n")
    march = Store(tmp_path / "march")
    ingest(march, [tmp_path / "orders.csv", tmp_path / "refunds.csv"])
    one = chart(march)
    assert [t["name"] for t in one["data"]] == ["month not over"]
    assert one["layout"]["showlegend"] is True
    shutil.rmtree(tmp_path / "march")


def test_a_shop_without_order_statuses_is_not_told_how_cancellations_count(
        demo_store, uci_month_store, monkeypatch):
    """UCI's orders carry no status: Sales and After-sales said "cancelled orders excluded
    (they count only in the cancellation rate)" over a cancellation rate "Not tracked". The
    demo shop's orders have statuses: its pages still say it."""
    for name in ("sales", "returns"):
        heading = page(opened(uci_month_store, monkeypatch), name).main.caption[0].value
        assert heading == "November 2011 · all channels", heading
        heading = page(opened(demo_store, monkeypatch), name).main.caption[0].value
        assert heading.endswith("cancelled orders excluded (they count only in the "
                                "cancellation rate)"), heading


def test_roas_by_month_draws_no_channel_in_the_red_of_under_target(demo_store, monkeypatch):
    """Beside "ROAS by channel (red: under target)", ROAS by month drew its third channel
    (Paid social) in Streamlit's red (seen in Chromium), read as under target every month."""
    at = page(opened(demo_store, monkeypatch), "marketing")
    [chart] = [json.loads(e.proto.spec) for e in at.get("plotly_chart")
               if json.loads(e.proto.spec)["layout"]["title"]["text"].startswith("ROAS by month")]
    # Its target line is named, as on ROAS by channel.
    assert [a["text"] for a in chart["layout"]["annotations"]] == ["target 2.0×"]
    # Plotly Express's own colours in the figure are replaced by Streamlit's (whose third is
    # red) in the browser: the chart gives colours of its own, none of them red.
    colours = [t["line"]["color"].lower() for t in chart["data"]]
    assert len(chart["data"]) >= 3
    assert colours == ["#0068c9", "#83c9ff", "#29b09d", "#7defa1", "#ff8700", "#ffd16a",
                       "#6d3fc0", "#d5dae5"][:len(colours)]


def test_a_chart_of_one_month_draws_it_and_names_it(demo_store, monkeypatch):
    """Sales over last month (October 2026) shown by month: one month of stacked areas drew
    nothing, under ticks in hours ("23:59:59.999 Sep 30, 2026"); Customers' bars were named
    "00:00:00 Oct 1, 2026". Months are drawn as bars, and a chart of three points or fewer is
    labelled by them. The funnel's weekly rates start at 0, as every trend."""
    def charts(name: str, grain_key: str | None = None) -> dict[str, dict]:
        at = page(opened(demo_store, monkeypatch, period="Last month"), name)
        if grain_key:
            at.segmented_control(key=grain_key).set_value("month").run()
        return {json.loads(e.proto.spec)["layout"]["title"]["text"]: json.loads(e.proto.spec)
                for e in at.get("plotly_chart")}

    sales = charts("sales", "sales_grain")["Net sales by channel"]
    assert {t["type"] for t in sales["data"]} == {"bar"}
    assert sales["layout"]["xaxis"]["ticktext"] == ["Oct 2026"]
    [customers] = [c for t, c in charts("loyalty", "loyalty_grain").items()
                   if t.startswith("New and returning") or t.startswith("Customers first")]
    assert customers["layout"]["xaxis"]["ticktext"] == ["Oct 2026"]
    funnel = charts("funnel")["Step conversion, week by week"]
    assert funnel["layout"]["yaxis"]["rangemode"] == "tozero"
