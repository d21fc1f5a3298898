"""Hostile names — SQL, HTML, spreadsheet formulas, 10 000 characters — are stored, filtered on,
displayed and exported as the plain text they are, on every path."""
from __future__ import annotations

import csv
import html.parser
import io
import shutil
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from kpilib import Filters, Store, export, get, run
from kpilib.formatting import md_plain, plain_figure
from kpilib.ingest import ingest
from kpilib.report import build

TINY = Path(__file__).parent / "data" / "tiny"
APP = str(Path(__file__).resolve().parent.parent / "app.py")
SQL = "x' OR 1=1 --"
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://a")'
LONG = "L" * 10_000
# How the contract normalises a free channel label: lower case, runs of spaces/dashes → "_".
SQL_CHANNEL = "x'_or_1=1_"
FEB = Filters(date(2025, 2, 1), date(2025, 2, 28))


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> Store:
    """The tiny shop with o3 (€72 net) sold on a channel called x' OR 1=1 --, products named
    <script>…, =HYPERLINK(…) and 10 000 L's, and categories x' OR 1=1 -- and <script>…"""
    src = tmp_path_factory.mktemp("hostile_src")
    for f in TINY.glob("*.csv"):
        shutil.copy(f, src / f.name)

    def rewrite(name: str, change):
        rows = list(csv.reader(open(src / name, newline="")))
        for r in rows[1:]:
            change(r)
        with open(src / name, "w", newline="") as f:
            csv.writer(f).writerows(rows)

    rewrite("orders.csv", lambda r: r.__setitem__(3, SQL) if r[0] == "o3" else None)
    names = {"SKU-A": SCRIPT, "SKU-B": FORMULA, "SKU-C": LONG}
    CATEGORY = {"SKU-A": SQL, "SKU-B": SCRIPT}
    rewrite("order_items.csv", lambda r: (r.__setitem__(5, names.get(r[2], r[5])),
                                          r.__setitem__(6, CATEGORY.get(r[2], r[6]))))
    rewrite("products.csv", lambda r: (r.__setitem__(1, names.get(r[0], r[1])),
                                       r.__setitem__(2, CATEGORY.get(r[0], r[2]))))
    rewrite("marketing_spend.csv", lambda r: r.__setitem__(2, SCRIPT))
    store = Store(tmp_path_factory.mktemp("hostile") / "store")
    ingest(store, sorted(src.glob("*.csv")))
    return store


def test_filtering_on_a_sql_like_channel_is_a_plain_value(hostile_store):
    con = hostile_store.connect()
    assert run(con, get("net_sales"), FEB, "channel").set_index("channel")["value"][
        SQL_CHANNEL] == 72.0
    # Only o3's net sales (80 − 8), not every order as "OR 1=1" would give.
    assert run(con, get("net_sales"), Filters(FEB.start, FEB.end, (SQL_CHANNEL,)))[
        "value"].iat[0] == 72.0
    assert run(con, get("net_sales"), Filters(FEB.start, FEB.end, (SQL,)))["value"].iat[0] == 0
    # Category and product search are values too: SKU-A (category x' OR 1=1 --) alone.
    cats = Filters(FEB.start, FEB.end, categories=(SQL,))
    assert run(con, get("units_sold"), cats)["value"].iat[0] == 1           # o3's one SKU-A
    assert run(con, get("units_sold"), Filters(FEB.start, FEB.end, search=SQL))[
        "value"].iat[0] == 0
    assert run(con, get("units_sold"), Filters(FEB.start, FEB.end, search="<script>"))[
        "value"].iat[0] == 1


def test_products_are_stored_and_exported_as_typed(hostile_store):
    top = run(hostile_store.connect(), get("top_products"), FEB)
    assert {SCRIPT, FORMULA, LONG} <= set(top["product_name"])
    rows = list(csv.DictReader(io.StringIO(export.to_csv(top).decode("utf-8-sig"))))
    exported = {r["product_name"] for r in rows}
    # The formula is kept as text with a leading apostrophe; the rest exactly as named.
    assert {SCRIPT, "'" + FORMULA, LONG} <= exported
    book = openpyxl.load_workbook(io.BytesIO(export.to_excel(top, "top")))
    cells = {c.value for row in book.active.iter_rows() for c in row}
    assert {SCRIPT, "'" + FORMULA, LONG} <= cells
    assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)


def test_chart_labels_are_escaped_for_plotly():
    import plotly.express as px

    df = pd.DataFrame({"product": [SCRIPT, "<a href='http://a'>x</a>", LONG, LONG + "2"],
                       "value": [1, 2, 3, 4], "channel": [SQL, "<b>c</b>", "a", "a"]})
    fig = plain_figure(px.bar(df, x="value", y="product", color="channel", orientation="h"))
    ys = [y for t in fig.data for y in t.y]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ys
    assert not any("<" in y for y in ys)
    # Two long names that start alike stay two bars (not shortened into one label).
    assert LONG in ys and LONG + "2" in ys
    names = [t.name for t in fig.data]
    assert "&lt;b&gt;c&lt;/b&gt;" in names and SQL in names
    assert all("<b>c</b>" not in t.hovertemplate for t in fig.data)
    short = plain_figure(px.bar(pd.DataFrame({"p": [LONG], "v": [1]}), x="v", y="p"))
    assert short.data[0].y[0] == "L" * 80 + "…"


@pytest.mark.parametrize("text", [SQL, SCRIPT, FORMULA, "*bold* [link](http://a) :red[x] $x$"])
def test_markdown_text_prints_as_typed(text):
    import re

    safe = md_plain(text)
    # Every punctuation mark is escaped (CommonMark prints "\\*" as "*"), and undoing the
    # escapes gives the text back.
    assert not re.search(r"(?<!\\)[*_\[\]<>:$`]", safe.replace("\\\\", ""))
    assert re.sub(r"\\(.)", r"\1", safe) == text


def test_report_shows_names_as_text(hostile_store):
    page = build(hostile_store.connect(), "2025-02")
    tags = []

    class Tags(html.parser.HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)

    Tags().feed(page)
    # One <script> for the inlined Plotly library, and the charts' own: never the product's.
    assert html.escape(SCRIPT) in page and "<script>alert(1)" not in page
    assert html.escape(FORMULA, quote=True) in page or html.escape(FORMULA) in page
    assert "alert(1)</script>" not in page.replace(html.escape(SCRIPT), "")
    assert "a" not in [t for t in tags if t == "a"]


def test_pages_show_hostile_names_as_text(hostile_store, monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(hostile_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    at.sidebar.multiselect(key="channels").set_value([SQL_CHANNEL]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Net sales"] == "€72.00"
    # The page header names the channel with its Markdown escaped.
    assert "X\\' or 1\\=1" in at.caption[0].value
    at.sidebar.multiselect(key="channels").set_value([]).run()
    at.switch_page("app_pages/sales.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = pd.concat([d.value for d in at.dataframe]).astype(str).to_numpy().ravel()
    # A formula is shown behind an apostrophe, as the table's own CSV and a copy of its cells
    # then carry it: text to a spreadsheet.
    assert SCRIPT in shown and "'" + FORMULA in shown and LONG in shown
    assert FORMULA not in shown
    for chart in at.get("plotly_chart"):
        assert "<script>" not in chart.proto.spec


def test_the_browser_shows_hostile_names_as_text(hostile_store):
    from browser import app_server, browser, require_browser, shot, wait_drawn

    require_browser()
    dialogs = []
    with app_server(hostile_store.path) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1600})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{url}/sales?period=Last+month")
        wait_drawn(page)
        labels = page.locator('[data-testid="stPlotlyChart"] svg text').all_text_contents()
        assert SCRIPT in labels and SQL in labels        # category axis, exactly as named
        page.goto(f"{url}/?period=Last+month&channels={SQL_CHANNEL}")
        wait_drawn(page)
        # The header names the channel from the link, and the numbers are that channel's.
        assert page.get_by_text("X' or 1=1").count() > 0
        assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "€72.00"
        shot(page, "hostile_overview")
        assert not dialogs and page.locator('[data-testid="stException"]').count() == 0


# issue 28 item 2: every CSV the app or the command line writes neutralises formulas.
CALC = "Nice shirt\r=cmd|' /C calc'!A0"


def formula_cells(text: str) -> list[str]:
    """Cells of a CSV a spreadsheet could run: starting with = + - @ (after spaces), or a
    tab / CR, and not a plain number (-5 runs nothing)."""
    import re
    cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
    return [c for c in cells if c.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))
            and not re.fullmatch(r"[+-]?[\d.,]+", c)]


def test_rejected_rows_csv_holds_no_formula(tmp_path):
    """The rejected rows come back as the user wrote them, except that no cell can run: the
    formulas behind an apostrophe, the CR a space (one line a row), -5 as written."""
    head = "order_id,ordered_at,customer_id,channel,status,currency,gross_sales,discounts\n"
    f, g = tmp_path / "orders.csv", tmp_path / "orders_ragged.csv"
    f.write_text(head +
                 # row 2: not a date; row 3 stored; row 4: not a number.
                 f'"{FORMULA.replace(chr(34), 2 * chr(34))}",yesterday,c1,email,paid,EUR,10,-5\n'
                 "ok1,2025-02-01 10:00,c2,email,paid,EUR,20,0\n"
                 f'x2,2025-02-02 10:00,"{CALC}",@SUM(1),paid,EUR,1O,0\n', newline="")
    # Row 3: a field too many (the rejected CSV's second writer).
    g.write_text(head + "ok2,2025-02-01 10:00,c2,email,paid,EUR,20,0\n"
                 "x3,2025-02-03 10:00,c3,email,paid,EUR,10,0,+1+1\n", newline="")
    r, q = ingest(Store(tmp_path / "s"), [f, g], allow_partial=True).files
    assert (r.rejected, q.rejected) == (2, 1)
    for text in (r.rejected_csv, q.rejected_csv):
        assert formula_cells(text) == [], text
    assert len(r.rejected_csv.splitlines()) == 3, r.rejected_csv.splitlines()  # header, 2 rows
    rows = {row[0]: row for row in csv.reader(io.StringIO(r.rejected_csv, newline=""))}
    assert rows["2"][2:] == ["'" + FORMULA, "yesterday", "c1", "email", "paid", "EUR", "10", "-5"]
    assert rows["4"][2:6] == ["x2", "2025-02-02 10:00", "Nice shirt =cmd|' /C calc'!A0",
                              "'@SUM(1)"]
    assert list(csv.reader(io.StringIO(q.rejected_csv)))[1][-1] == "'+1+1"


def test_the_command_line_csv_holds_no_formula(hostile_store, tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "kpilib", "kpi", "top_products", "--store",
                          str(hostile_store.path), "--start", "2025-02-01", "--end",
                          "2025-02-28", "--format", "csv"], capture_output=True, text=True,
                         cwd=Path(APP).parent, timeout=120, check=True).stdout
    assert formula_cells(out) == [] and "'" + FORMULA in {
        r["product_name"] for r in csv.DictReader(io.StringIO(out))}


@pytest.fixture(scope="module")
def probe_store(tmp_path_factory) -> Store:
    """The tiny shop with SKU-A named as the hostile probe named it (a CR, then =cmd…) and
    SKU-B named =HYPERLINK(…)."""
    src = tmp_path_factory.mktemp("probe_src")
    names = {"SKU-A": CALC, "SKU-B": FORMULA}
    for f in TINY.glob("*.csv"):
        rows = list(csv.reader(open(f, newline="")))
        col = rows[0].index("product_name") if "product_name" in rows[0] else None
        for r in rows[1:]:
            if col is not None:
                r[col] = names.get(r[rows[0].index("sku")], r[col])
        with open(src / f.name, "w", newline="") as out:
            csv.writer(out).writerows(rows)
    store = Store(tmp_path_factory.mktemp("probe") / "store")
    ingest(store, sorted(src.glob("*.csv")))
    return store


def test_a_shared_link_downloads_tables_that_run_nothing(probe_store, tmp_path):
    """On a hosted link, the Sales page's top products download as a CSV whose bytes hold no
    line break inside a name and no formula, and so does the CSV of the table's own toolbar."""
    from browser import app_server, browser, require_browser, wait_drawn
    from test_browser import _download_file

    require_browser()
    env = {"KPILIB_SHARED": "1", "TMPDIR": str(tmp_path)}
    with app_server(probe_store.path, env) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1600})
        # No file picker in a headless browser: the table's CSV then downloads as a link does.
        page.add_init_script("delete window.showSaveFilePicker")
        page.goto(f"{url}/sales?period=Last+month")
        wait_drawn(page)
        path, _ = _download_file(page, page.locator(".st-key-csv_top_products button"))
        data = path.read_bytes()
        assert b"\r" not in data, data
        text = data.decode("utf-8-sig")
        assert formula_cells(text) == [], text
        names = {r["Product"] for r in csv.DictReader(io.StringIO(text))}
        assert {"Nice shirt =cmd|' /C calc'!A0", "'" + FORMULA} <= names, names
        # The table's own CSV (written in the browser from the cells shown, quoted only around
        # commas, quotes and LF) holds the names as the page shows them: neutralised.
        table = page.locator('[data-testid="stDataFrame"]').filter(has_text="Nice shirt")
        table.hover()
        path, _ = _download_file(page, table.get_by_role("button", name="Download as CSV"))
        own = path.read_bytes()
        assert b"\r" not in own, own
        assert formula_cells(own.decode("utf-8-sig")) == [], own
