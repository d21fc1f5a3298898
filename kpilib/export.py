"""Tables as CSV and Excel files a manager can open safely.

A cell that starts with =, +, -, @ (or a tab / carriage return) is read as a formula by
spreadsheet programs: a product or campaign name such as =HYPERLINK("http://…") would run.
Such text cells get a leading apostrophe, which spreadsheets show as plain text. Numbers are
left alone (a negative amount stays a number)."""
from __future__ import annotations

import io

import pandas as pd

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str)
                                    and v.startswith(DANGEROUS) else v)
    out.columns = [("'" + c) if isinstance(c, str) and c.startswith(DANGEROUS) else c
                   for c in out.columns]
    return out


def to_csv(df: pd.DataFrame) -> bytes:
    # UTF-8 with a BOM: Excel then shows accents and € correctly when the file is opened.
    return neutralise(df).to_csv(index=False).encode("utf-8-sig")


def to_excel(df: pd.DataFrame, sheet: str = "data") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        neutralise(df).to_excel(writer, index=False, sheet_name=sheet[:31])
    return buf.getvalue()
