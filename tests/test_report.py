"""The monthly report: self-contained HTML holding the month's numbers; hostile names are text."""
import re
from html.parser import HTMLParser
from pathlib import Path

from helpers import cli
from kpilib import Store
from kpilib.ingest import ingest
from kpilib.report import build

ROOT = Path(__file__).resolve().parent.parent


class Values(HTMLParser):
    """Collects the KPI card values (data-kpi) and every table cell's text."""

    def __init__(self):
        super().__init__()
        self.kpis, self.cells, self.scripts, self._kpi, self._cell = {}, [], 0, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._kpi = a.get("data-kpi")
        self._cell = tag == "td"
        self.scripts += tag == "script" and "src" in a

    def handle_data(self, data):
        if self._kpi:
            self.kpis[self._kpi] = data
        if self._cell:
            self.cells.append(data)

    def handle_endtag(self, tag):
        self._kpi, self._cell = None, False


def test_report_holds_the_months_numbers(tiny_store):
    html = build(tiny_store.connect(), "2025-02")
    p = Values()
    p.feed(html)
    # February 2025 of the tiny shop, counted in test_sales.py / test_traffic.py
    assert p.kpis["net_sales"] == "€262.00" and p.kpis["orders"] == "5"
    assert p.kpis["sessions"] == "390" and p.kpis["mer"] == "2.62×"
    assert "Paid search" in p.cells and "€122.00" in p.cells        # channel table, in words
    assert "Leather boots" in p.cells                                 # top products
    assert p.scripts == 0 and "plotly" in html.lower()                # no external script


def test_report_shows_targets(store_copy, tmp_path):
    from kpilib.targets import Target

    html = build(store_copy.connect(), "2025-02", goals=[Target("net_sales", "2025-02", 524),
                                                        Target("orders", "2025-03", 9)])
    # February: net sales 262 of a 524 target = 50 %; March's orders target is not February's.
    assert '<div class="delta target" data-kpi="net_sales">target €524.00: 50 %</div>' in html
    assert 'data-kpi="orders">target' not in html
    store_copy.update_settings({"targets": [
        {"kpi": "net_sales", "month": "2025-02", "channel": None, "value": 524}]})
    out = tmp_path / "feb.html"
    cli("report", "--month", "2025-02", "--store", store_copy.path, "--out", out)
    assert "target €524.00: 50 %" in out.read_text()


def test_hostile_names_are_printed_as_text(tmp_path):
    hostile = '<script>alert(1)</script>'
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,channel,status,gross_sales,discounts\n"
        f'1,2025-02-03,"{hostile}",paid,10,0\n')
    (tmp_path / "order_items.csv").write_text(
        f'order_id,line,sku,quantity,unit_price,product_name\n1,1,"=HYPERLINK(""x"")",1,10,"{hostile}"\n')
    store = Store(tmp_path / "s")
    ingest(store, sorted(tmp_path.glob("*.csv")))
    html = build(store.connect(), "2025-02")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_command(tiny_store, tmp_path):
    out = tmp_path / "feb.html"
    p = cli("report", "--month", "2025-02", "--store", tiny_store.path, "--out", out)
    assert "report for 2025-02 written" in p.stdout and out.stat().st_size > 100_000
    bad = cli("report", "--month", "Feb", "--store", tiny_store.path, "--out", out, ok=False)
    assert bad.returncode == 2 and "is not a month like 2026-03" in bad.stderr


def test_roas_beside_net_sales_says_it_is_before_returns(tiny_store):
    """March 2025 of the tiny shop: paid social's net sales are o8's 70.00 − r3's 25.00 (o7's
    return, refunded 3 March) = €45.00, while ROAS divides o8's 70.00 before returns. A column
    headed only "ROAS" beside net sales reads as net sales ÷ spend."""
    p = Values()
    html = build(tiny_store.connect(), "2025-03")
    p.feed(html)
    assert "€45.00" in p.cells
    assert "<th>ROAS on revenue before returns</th>" in html
    assert "<th>ROAS</th>" not in html


def figures(html: str) -> list[dict]:
    """The layout of each Plotly figure the report draws."""
    import json

    out, dec = [], json.JSONDecoder()
    for part in html.split("Plotly.newPlot(")[1:]:
        rest = part[part.index(",") + 1:].lstrip()          # after the div's id
        _data, end = dec.raw_decode(rest)
        out.append(dec.raw_decode(rest[end:].lstrip(", \n"))[0])
    return out


def test_chart_axes_make_room_for_their_labels_whoever_builds_the_report(tiny_store):
    """The app's download builds the report with streamlit imported, which makes Streamlit's
    template Plotly's default: its axes keep the report's fixed 40 px left margin, and at the
    demo shop's full size (€130,000 a day, measured in Chromium) the labels lost their first
    digits. Both charts draw with Plotly's template and axes that widen the margin."""
    import plotly.io as pio
    import streamlit  # noqa: F401  (as in the app)

    assert pio.templates.default == "streamlit"
    layouts = figures(build(tiny_store.connect(), "2025-02"))
    assert [lay["title"]["text"] for lay in layouts] == ["Net sales by day", "Sessions by channel"]
    for lay in layouts:
        assert lay["yaxis"]["automargin"] is True and lay["xaxis"]["automargin"] is True


def test_the_report_fits_a_phone(tiny_store):
    """Opened on a 390 px phone (Chromium), the report was laid out 980 px wide and shrunk,
    its five cards a row cut at the right, and its tables wider than the screen: now two
    cards a row, and each table scrolls inside its own box (the page stays 390 px wide,
    measured on the demo shop at 25 %)."""
    html = build(tiny_store.connect(), "2025-02")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert ".cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }" in html
    assert html.count('<div class="wide"><table>') == 2


def test_a_month_not_over_is_compared_on_its_days_with_data(tmp_path):
    """One order a day, each €10: every day of March 2024, 1 – 28 February 2025 and 1 – 3
    March 2025, where the data ends. March 2025's report had 3 orders against all February's
    28 (−89.3 %) and all March 2024's 31 (−90.3 %): a fall that is only the export's end. Its
    3 days are compared with the same days of the month before, 1 – 3 Feb (3 orders), and 364
    days back, 2 – 4 Mar 2024 (3): no change."""
    from datetime import date, timedelta
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)] + \
        [date(2025, 2, 1) + timedelta(days=i) for i in range(31)]
    rows = "".join(f"o{i},{d} 12:00,paid,10,0\n" for i, d in enumerate(days))
    (tmp_path / "orders.csv").write_text("order_id,ordered_at,status,gross_sales,discounts\n"
                                         + rows)
    store = Store(tmp_path / "store")
    ingest(store, [tmp_path / "orders.csv"])
    html = build(store.connect(), "2025-03")
    assert 'data-kpi="orders">3</div>' in html
    assert "1 – 3 Mar vs previous period 0.0 % · vs last year 0.0 %" in html
    assert "89.3" not in html and "90.3" not in html
    assert ("01 Mar – 31 Mar 2025, not over: the data ends on 03 Mar, so its 3 days are "
            "compared with the same days of the month before (01 Feb – 03 Feb 2025) and with "
            "the same days "
            "364 days back (02 Mar – 04 Mar 2024), not with whole months.") in html
    # Its daily chart stops on 3 March: the days after are no sales of 0.
    days = re.search(r'"x":\[([^\]]*)\]', html.split("Net sales by day")[0])
    assert days and days.group(1).count(",") == 2, days
    # A month that is over is compared with whole months, as before.
    assert "compared with the month before (01 Jan – 31 Jan 2025)" in build(
        store.connect(), "2025-02")


def test_top_products_and_what_changed_by_product_name_their_net_sales_apart(tiny_store):
    """February 2025 of the tiny shop. Leather boots (o7, 20 Feb): 120.00 − 20.00 discount.
    Top products subtract the refunds on the month's orders whenever made: r3's 25.00
    (3 March) → €75.00. The net sales card and "What changed" subtract refunds made in
    February: none on o7 → €100.00. One label ("Net sales") named both (the demo shop's
    Velvet shoes 074: €66,788.43 and €65,634.97); each now says which it is."""
    html = build(tiny_store.connect(), "2025-02")
    top = html[html.index("<h2>Top products</h2>"):html.index("<h2>What changed</h2>")]
    changed = html[html.index("<h2>What changed</h2>"):]
    assert "<th>Net sales of the month&#x27;s orders, so far</th>" in top
    assert "<th>Net sales</th>" not in top
    assert '<td data-label="Net sales of the month&#x27;s orders, so far">€75.00</td>' in top
    assert "refunds on those lines, whenever made" in top
    assert ("By product (net sales as on the card: refunds made in February 2025):" in changed)
    assert "Leather boots (SKU-F): net sales €0.00 → €100.00: +€100.00" in changed
    # What a driver's part is, as the app's Why? says (ui/why.py).
    assert "Each driver&#x27;s part is the average of what changing it alone" in changed


def test_top_products_take_the_apps_caveat_when_refunds_name_no_order(tmp_path):
    """UCI's credit notes (C536379…) have numbers of their own: no refund names a stored order,
    so net sales by order date cannot be known. The report once listed the products' sales
    as net, as if nothing were refunded, then withheld the whole table; units and sales before
    returns are known, so they are shown, so labelled, without a Category column that would
    read "uncategorised" on every row. 536370: 24 × €3.75 = €90.00; hand warmers 6 × €1.85."""
    store = Store(tmp_path / "s")
    ingest(store, [ROOT / "tests/data/formats/online_retail_credit_notes.csv"])
    html = build(store.connect(), "2010-12")
    top = html[html.index("<h2>Top products</h2>"):html.index("<h2>What changed</h2>")]
    assert ("<th>Product</th><th>SKU</th><th>Units</th><th>Sales before returns</th>") in top
    assert '<td data-label="Sales before returns">€90.00</td>' in top
    assert "Net sales" not in top and "uncategorised" not in top
    assert ("Returns are not taken off: the refunds uploaded do not say which stored order "
            "they refund") in top
    # No traffic and no ad spend uploaded: the channel table's columns of them are named with
    # the reason, as the cards are, not silently dropped.
    channels = html[html.index("<h2>Channels</h2>"):html.index("<h2>Top products</h2>")]
    assert "<p class=\"delta\">Sessions: Needs a traffic export" in channels
    assert "<p class=\"delta\">Ad spend: Needs ad spend" in channels


def test_a_card_says_why_the_previous_period_is_not_compared(tiny_store):
    """February 2025 against January: the tiny shop's first order is o1 on 5 January, so in
    January new and returning customers cannot be told apart (the app's card says so); net
    sales are compared (January has o1: 100 − 10 − r1's 10 = 80 → 262, +227.5 %)."""
    html = build(tiny_store.connect(), "2025-02")
    cards = html[:html.index("<h2>Channels</h2>")]
    new = cards[cards.index('data-kpi="new_customers"'):]
    new = new[:new.index('<div class="card')]
    assert ("vs previous period – · vs last year –<br>Not compared with the previous period: "
            "in the period new and returning customers cannot be told apart (no order is "
            "stored before 05 Jan 2025).") in new
    net = cards[cards.index('data-kpi="net_sales"'):]
    net = net[:net.index('<div class="card')]
    assert "vs previous period +227.5 %" in net and "Not compared" not in net


def test_title_is_the_shops_name_or_says_what_the_report_is(tiny_store, store_copy, tmp_path):
    """No shop name among the settings: "Shop — February 2025" named nobody's shop."""
    html = build(tiny_store.connect(), "2025-02")
    assert "<title>Monthly report — February 2025</title>" in html
    assert "<h1>Monthly report — February 2025</h1>" in html
    assert "<h1>Tiny &amp; Co — monthly report, February 2025</h1>" in build(
        tiny_store.connect(), "2025-02", shop="Tiny & Co")
    store_copy.update_settings({"shop_name": "Tiny & Co"})
    out = tmp_path / "feb.html"
    cli("report", "--month", "2025-02", "--store", store_copy.path, "--out", out)
    assert "<h1>Tiny &amp; Co — monthly report, February 2025</h1>" in out.read_text()


def test_a_counts_formula_parts_are_whole_numbers_adding_up_to_its_change():
    """The demo shop's November: orders 4,335 → 6,783 (+2,448), sessions' part +1,753.9 and
    orders per session's +694.1 (Shapley means). Whole: 1,754 + 694 = 2,448. Two parts of
    +0.5 of a change of +1: the larger-first rule gives the first the order, 1 + 0 = 1. Per
    member too: organic search +629 = 484.5 + 144.5 → 485 + 144."""
    from kpilib.report import whole_counts

    out = {"unit": "count", "change": 2448.0,
           "drivers": [{"driver": "sessions", "effect": 1753.9},
                       {"driver": "orders_per_session", "effect": 694.1}],
           "by": {"channel": [{"member": "organic_search", "effect": 629.0,
                               "drivers": [{"driver": "sessions", "effect": 484.5},
                                           {"driver": "ops", "effect": 144.5}]},
                              {"member": "email", "effect": 1.0}]}}
    got = whole_counts(out)
    assert [d["effect"] for d in got["drivers"]] == [1754, 694]
    assert [d["effect"] for d in got["by"]["channel"][0]["drivers"]] == [485, 144]
    assert got["by"]["channel"][1] == {"member": "email", "effect": 1.0}
    half = whole_counts({"unit": "count", "change": 1.0, "by": {},
                         "drivers": [{"effect": 0.5}, {"effect": 0.5}]})
    assert sum(d["effect"] for d in half["drivers"]) == 1
    money = {"unit": "money", "change": 1.0, "drivers": [{"effect": 0.5}], "by": {}}
    assert whole_counts(money) is money


def test_every_table_cell_is_on_a_390_px_phone(tiny_store, tmp_path):
    """Chromium at 390 px: the channel table lost its Sessions column and everything after it
    (its box scrolled, which a screenshot or a printout does not). Every cell now lies inside
    the screen, named by its column; at 1440 px the tables keep their header rows."""
    from browser import browser, require_browser

    require_browser()
    out = tmp_path / "feb.html"
    out.write_text(build(tiny_store.connect(), "2025-02"), encoding="utf-8")
    with browser() as b:
        page = b.new_page(viewport={"width": 390, "height": 800})
        page.goto(out.as_uri())
        cells = page.eval_on_selector_all(
            ".wide td", "tds => tds.map(td => [td.getBoundingClientRect().right, "
                        "getComputedStyle(td, '::before').content])")
        assert len(cells) == 5 * 7 + 5 * 5          # 5 channels × 7 columns, 5 products × 5
        assert max(right for right, _ in cells) <= 390
        assert '"Sessions"' in {label for _, label in cells}
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.set_viewport_size({"width": 1440, "height": 900})
        assert page.locator(".wide tr.head").first.is_visible()


def test_last_year_with_far_less_order_history_is_not_compared(tmp_path):
    """March 2026 against March 2025, which has 59 days of orders before it (first order 1 Jan
    2025) against a year: its returning-customer rate 1 / 3 (alice returning, bob and carol
    new) read "+16.67 pp" against March 2026's 1 / 2, and its new customers 2 against 1 read
    "−50.0 %". Not compared, with why; February 2026 (dave new: 0 / 1) still is, +50.00 pp."""
    from helpers import THIN_HISTORY_SAID, thin_history_store
    html = build(thin_history_store(tmp_path).connect(), "2026-03")
    for name in ("returning_customer_rate", "new_customers"):
        card = html[html.index(f'data-kpi="{name}"'):]
        card = card[:card.index('<div class="card')]
        assert "vs last year –" in card and "16.67" not in card and "50.0 %" not in card, card
        assert f"Not compared with last year: {THIN_HISTORY_SAID[0].lower()}" \
            f"{THIN_HISTORY_SAID[1:]}" in card.replace("&#x27;", "'"), card
    card = html[html.index('data-kpi="returning_customer_rate"'):]
    assert "vs previous period +50.00 pp" in card[:card.index('<div class="card')]


def test_an_export_that_may_end_early_is_said_at_the_top(tmp_path):
    """An order every day from 1 January to 20 February 2025, none after: February's last 8
    days (21 – 28 Feb) are a longer run without an order than any of the 51 days before
    (1 Jan – 20 Feb, none), as the app's page header says (caveats.gap_note)."""
    from datetime import date, timedelta

    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(51)]
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,status,gross_sales,discounts\n"
        + "".join(f"o{i},{d} 10:00:00,paid,10,0\n" for i, d in enumerate(days)))
    store = Store(tmp_path / "s")
    ingest(store, [tmp_path / "orders.csv"])
    html = build(store.connect(), "2025-02")
    assert ('<p class="warning">No order on the last 8 days of the period (21 Feb – 28 Feb '
            '2025), where the 51 days before had an order every day: the export may end '
            'early.</p>') in html


def test_mer_card_says_the_ad_spend_covers_part_of_the_month(tmp_path):
    """UCI's invoices of November 2011 (1 Nov – 14 Nov stored, then 8 Dec) and a Google Ads
    export of 1 – 3 November only: the report's MER set 30 days of net sales against 3 days
    of spend, as the app's card did, with no word."""
    ads = tmp_path / "google_ads.csv"
    ads.write_text("Campaign report\n1 November 2011 - 3 November 2011\n"
                   "Day,Campaign,Currency code,Cost,Impr.,Clicks\n"
                   "2011-11-01,Brand - UK,GBP,10.00,1000,50\n"
                   "2011-11-02,Brand - UK,GBP,20.00,2000,60\n"
                   "2011-11-03,Brand - UK,GBP,30.00,2000,60\n")
    store = Store(tmp_path / "s")
    ingest(store, [ROOT / "tests/data/formats/online_retail.csv", ads], allow_partial=True)
    html = build(store.connect(), "2011-11")
    mer = html[html.index('data-kpi="mer"'):]
    mer = mer[:mer.index('<div class="card')]
    assert ("Ad spend is stored for 3 of the period&#x27;s 30 days (1 Nov – 3 Nov 2011), while "
            "MER counts the net sales of all 30") in mer
