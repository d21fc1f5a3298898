"""Exports: hostile text stays text in CSV and Excel; numbers stay numbers."""
import csv
import io
import re

import pandas as pd
from openpyxl import load_workbook

from kpilib.export import neutralise, to_csv, to_excel

HOSTILE = ['=HYPERLINK("http://a")', "+1+1", "-2+3", "@SUM(A1)", "x' OR 1=1 --",
           "<script>alert(1)</script>", "a" * 10_000, "\tTAB"]


def frame():
    return pd.DataFrame({"campaign": HOSTILE, "spend": [-5.0, 1, 2, 3, 4, 5, 6, 7]})


def test_neutralise_only_formula_like_text():
    out = neutralise(frame())
    assert out["campaign"].tolist()[:4] == ["'" + v for v in HOSTILE[:4]]
    assert out["campaign"].tolist()[4:7] == HOSTILE[4:7]
    assert out["spend"].tolist()[0] == -5.0


def test_csv_round_trip_keeps_text_and_numbers():
    back = pd.read_csv(io.BytesIO(to_csv(frame())), encoding="utf-8-sig")
    assert back["campaign"][0] == "'=HYPERLINK(\"http://a\")"
    assert back["campaign"][6] == "a" * 10_000 and back["spend"][0] == -5.0


def test_excel_has_no_formula():
    ws = load_workbook(io.BytesIO(to_excel(frame()))).active
    cells = [ws.cell(row=r, column=1) for r in range(2, 10)]
    assert all(c.data_type == "s" for c in cells)          # strings, never formulas ('f')
    assert cells[0].value == "'=HYPERLINK(\"http://a\")"
    assert ws.cell(row=2, column=2).value == -5


def channels():
    # Two channels of a period: net sales, orders, conversion, and changes vs the previous one.
    return (pd.DataFrame({"Channel": ["Paid search", "Email"], "Net sales": [1234.5, 99.999],
                          "Orders": [12.0, 3.0], "Conversion": [0.0205, 0.1],
                          "vs previous": [0.125, None], "Conversion vs previous": [0.46, -1.5]}),
            {"Net sales": "money", "Orders": "count", "Conversion": "ratio",
             "vs previous": "change", "Conversion vs previous": "pp"})


def test_csv_holds_numbers_with_units_in_the_headers():
    back = pd.read_csv(io.BytesIO(to_csv(*channels(), currency="BRL")), encoding="utf-8-sig")
    assert back.columns.tolist() == ["Channel", "Net sales (BRL)", "Orders", "Conversion (%)",
                                     "vs previous (%)", "Conversion vs previous (pp)"]
    # Money to the cent, counts whole, rates in percent (2.05 % → 2.05), changes as numbers.
    assert back["Net sales (BRL)"].tolist() == [1234.5, 100.0]
    assert back["Orders"].tolist() == [12, 3] and back["Orders"].dtype.kind == "i"
    assert back["Conversion (%)"].tolist() == [2.05, 10.0]
    assert back["vs previous (%)"].iloc[0] == 12.5 and pd.isna(back["vs previous (%)"].iloc[1])
    assert back["Conversion vs previous (pp)"].tolist() == [0.46, -1.5]
    # Every text field quoted; a line break inside a name is a space (no reader sees a row).
    text = to_csv(pd.DataFrame({"name": ["a\rb"], "n": [1.0]}), {"n": "count"}).decode("utf-8-sig")
    assert text.splitlines() == ['"name","n"', '"a b",1']


def test_excel_holds_numbers_with_number_formats():
    ws = load_workbook(io.BytesIO(to_excel(*channels()[:1], "channels", channels()[1],
                                           currency="EUR"))).active
    assert [c.value for c in ws[1]] == ["Channel", "Net sales (EUR)", "Orders", "Conversion (%)",
                                        "vs previous (%)", "Conversion vs previous (pp)"]
    net, orders, conv, change = ws["B2"], ws["C2"], ws["D2"], ws["E2"]
    # The value a spreadsheet adds up, shown as the page shows it.
    assert (net.value, net.number_format) == (1234.5, '"€"#,##0.00;-"€"#,##0.00')
    assert (orders.value, orders.number_format) == (12, "#,##0")
    assert (conv.value, conv.number_format) == (0.0205, "0.00%")
    assert change.value == 0.125 and change.number_format.startswith("+0.0%")
    assert ws["E3"].value is None


def test_a_kpi_table_is_described_in_words():
    from kpilib.export import described
    df, units = described(pd.DataFrame({"sku": ["A"], "on_hand": [3], "stock_value": [9.5],
                                        "acquisition_channel": ["paid_search"],
                                        "days_of_cover": [4.2], "odd_thing": [1.5]}))
    assert df.columns.tolist() == ["SKU", "On hand", "Stock value at cost",
                                   "Acquisition channel", "Days of cover", "Odd thing"]
    assert units == {"SKU": None, "On hand": "count", "Stock value at cost": "money",
                     "Acquisition channel": None, "Days of cover": "days", "Odd thing": "decimal"}
    assert df["Acquisition channel"].tolist() == ["Paid search"]
    # "Days of cover" is not written "Days of cover (days)".
    assert to_csv(df, units).decode("utf-8-sig").splitlines()[0].split(",")[4] == '"Days of cover"'


# issue 28 item 2: what the hostile probe wrote into a product name, and the usual payloads.
CALC = "Nice shirt\r=cmd|' /C calc'!A0"
PAYLOADS = [CALC, '=HYPERLINK("http://x","y")', "@SUM(1)", "+1+1", "-1+1", "\t=1+1",
            "line\n@SUM(1)", "a\x0bb", "c\x00d", "\u2028=1", "＝1+1", " =1+1", "-1", "-12.50"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def hostile() -> pd.DataFrame:
    return pd.DataFrame({"Product": PAYLOADS, "Net sales": [-1.0] + [2.0] * (len(PAYLOADS) - 1)})


def starts_a_formula(text: str) -> bool:
    """What a spreadsheet could read as a formula: a cell starting with = + - @ (after
    spaces), unless it is a plain number (-1, -12.50), which runs nothing."""
    t = text.lstrip(" ")
    return t.startswith(FORMULA_START) and not re.fullmatch(r"[+-]?[\d.,]+", t)


def test_no_csv_cell_or_line_starts_a_formula():
    text = to_csv(hostile(), {"Net sales": "money"}).decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
    assert not [c for c in cells if starts_a_formula(c)], cells
    # A reader that breaks lines anywhere a line could end (CR, LF, U+2028…) still sees one
    # header and one line a row: no line of its own starting with =cmd.
    assert len(text.splitlines()) == 1 + len(PAYLOADS), text.splitlines()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # "Nice shirt\r=cmd…" stays one cell, its CR a space; formulas behind an apostrophe.
    assert rows[1] == ["Nice shirt =cmd|' /C calc'!A0", "-1.0"]
    assert [r[0] for r in rows[2:9]] == ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(1)", "'+1+1",
                                         "'-1+1", "' =1+1", "line @SUM(1)", "a b"]
    assert [r[0] for r in rows[9:]] == ["c d", "' =1", "'＝1+1", "' =1+1", "-1", "-12.50"]
    # Every text field quoted, numbers not: -1 as a number stays a number.
    assert text.splitlines()[1] == '"Nice shirt =cmd|\' /C calc\'!A0",-1.0'
    assert '"-1",2.0' in text


def test_excel_with_control_characters_is_a_valid_file_without_formulas():
    ws = load_workbook(io.BytesIO(to_excel(hostile(), "top", {"Net sales": "money"}))).active
    values = [ws.cell(row=r, column=1) for r in range(2, 2 + len(PAYLOADS))]
    assert all(c.data_type == "s" for c in values)     # strings, never formulas ('f')
    assert not [c.value for c in values if starts_a_formula(c.value)]
    assert [c.value for c in values][7:9] == ["a b", "c d"]        # \x0b, \x00: spaces
    assert ws.cell(row=2, column=2).value == -1
