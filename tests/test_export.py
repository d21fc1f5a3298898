"""Exports: hostile text stays text in CSV and Excel; numbers stay numbers."""
import io

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
