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
    3 days are compared with 26 – 28 Feb (3 orders) and 364 days back, 2 – 4 Mar 2024 (3):
    no change."""
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
            "compared with as many days before (26 Feb – 28 Feb 2025) and with the same days "
            "364 days back (02 Mar – 04 Mar 2024), not with whole months.") in html
    # Its daily chart stops on 3 March: the days after are no sales of 0.
    days = re.search(r'"x":\[([^\]]*)\]', html.split("Net sales by day")[0])
    assert days and days.group(1).count(",") == 2, days
    # A month that is over is compared with whole months, as before.
    assert "compared with the month before (01 Jan – 31 Jan 2025)" in build(
        store.connect(), "2025-02")
