"""Tables as CSV and Excel files a manager can open safely and add up.

Numbers stay numbers: money and counts as plain numbers, rates as percent (12.5 in a column
headed "Share (%)" in CSV; 0.125 shown as 12.50 % by the cell's number format in Excel), each
header in words with its unit ("Net sales (EUR)").

A cell that starts with =, +, -, @ (or a tab / carriage return) is read as a formula by
spreadsheet programs: a product or campaign name such as =HYPERLINK("http://…") would run.
Such text cells get a leading apostrophe, which spreadsheets show as plain text; every text
field of a CSV is quoted. A line break inside a name would start a new row for a program
that splits lines before it reads quotes ("Nice shirt\r=cmd|…"), and XML, hence Excel, holds
no control character at all: in text, every one becomes a space. Numbers are left alone (a
negative amount stays a number)."""
from __future__ import annotations

import csv
import io
import re

import pandas as pd

from .formatting import channel_words, symbol

# Full-width forms too: spreadsheets in Asian locales read ＝ as =.
DANGEROUS = ("=", "+", "-", "@", "＝", "＋", "－", "＠")
# Control characters (C0, DEL, C1, NUL among them) and the Unicode line and paragraph
# separators: anything a reader might take for the end of a line, or XML refuses.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A sign, digits and separators are a number to a spreadsheet, which runs nothing: kept as
# written, so a rejected amount "-12.50" goes back into the upload as the user typed it.
_NUMBER = re.compile(r"[+-]?[\d.,]+")

# Units of a table's columns (formatting.cell): a KPI's units, and the changes between two
# periods: "change" (relative, 0.12 = +12 %), "pp" (percentage points), "times_change" (×).
PERCENT = ("ratio", "change")
HEADER_UNIT = {"ratio": "%", "change": "%", "pp": "pp", "days": "days", "times": "×",
               "times_change": "×"}

# Column names of KPI tables (kpilib) in words, with their unit (None: text), for downloads
# of a KPI's own frame (every SKU's figures, a customer list).
COLUMNS = {
    "sku": ("SKU", None), "product_name": ("Product", None), "category": ("Category", None),
    "channel": ("Channel", None), "acquisition_channel": ("Acquisition channel", None),
    "customer_id": ("Customer id", None), "segment": ("Segment", None),
    "abc_class": ("ABC class", None), "on_hand": ("On hand", "count"),
    "units_on_hand": ("On hand", "count"), "stock_value": ("Stock value at cost", "money"),
    "unit_cost": ("Unit cost", "money"), "units_sold": ("Units sold", "count"),
    "units_sold_30d": ("Units sold, last 30 days", "count"),
    "avg_daily_units": ("Sold per day (30 d)", "decimal"),
    "days_of_cover": ("Days of cover", "days"), "sell_through": ("Sell-through", "ratio"),
    "sell_through_rate": ("Sell-through", "ratio"), "oos_days": ("Stock-out days", "count"),
    "lost_revenue": ("Revenue lost to stock-outs", "money"), "revenue": ("Net revenue", "money"),
    "net_revenue": ("Net revenue", "money"), "recency_days": ("Days since last order", "count"),
    "orders": ("Orders", "count"), "units": ("Units", "count"),
    "gross_sales": ("Gross sales", "money"), "net_sales": ("Net sales", "money"),
    "returns": ("Returns", "money"), "dead": ("Dead stock", None),
    "last_sale": ("Last sale", None), "first_day": ("First day", None),
    "sku_days": ("SKU-days on record", "count"),
}
# Channels in words, as on the pages ("Paid search").
CHANNEL_COLUMNS = ("channel", "acquisition_channel")


def safe_text(value):
    """``value`` as a spreadsheet must be given it: in text, control characters as spaces and a
    formula (after any spaces) behind an apostrophe; anything else as it is."""
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub(" ", value)
    if value.lstrip().startswith(DANGEROUS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_text)
    out.columns = [safe_text(c) for c in out.columns]
    return out


def described(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """A KPI's own frame with its columns in words (:data:`COLUMNS`) and their units; a
    column not listed keeps its name in words, a number counted as a decimal."""
    names, units = {}, {}
    df = df.assign(**{c: df[c].map(channel_words) for c in CHANNEL_COLUMNS if c in df})
    for c in df.columns:
        label, unit = COLUMNS.get(c, (str(c).replace("_", " ").capitalize(), "auto"))
        if unit == "auto":
            unit = "decimal" if pd.api.types.is_numeric_dtype(df[c]) \
                and not pd.api.types.is_bool_dtype(df[c]) else None
        names[c], units[label] = label, unit
    return df.rename(columns=names), units


def header(name: str, unit: str | None, currency: str) -> str:
    """"Net sales (EUR)", "Share (%)", "Conversion rate (analytics, %)", "Orders": a column's
    header with its unit."""
    text = currency if unit == "money" else HEADER_UNIT.get(unit)
    if text is None or text in name.lower():   # "Days of cover", not "… (days)"
        return name
    return f"{name[:-1]}, {text})" if name.endswith(")") else f"{name} ({text})"


def _numbers(df: pd.DataFrame, units: dict, currency: str, percent_as_points: bool
             ) -> pd.DataFrame:
    out = df.copy()
    for c, unit in units.items():
        if c not in out or unit is None:
            continue
        col = pd.to_numeric(out[c], errors="coerce").astype("float64")
        if unit in PERCENT and percent_as_points:
            col = col * 100
        # As many decimals as a reader uses: cents, a percent to 1/10,000 (2.6477 %).
        col = col.round(2 if unit in ("money", "count") else 4)
        out[c] = col.astype("Int64") if unit == "count" and col.dropna().mod(1).eq(0).all() \
            else col
    return out.rename(columns={c: header(c, units.get(c), currency) for c in out.columns})


def to_csv(df: pd.DataFrame, units: dict | None = None, currency: str = "EUR") -> bytes:
    """CSV with numbers as plain numbers (rates in percent), headers with units, every text
    field quoted. UTF-8 with a BOM: Excel then shows accents and € correctly."""
    out = _numbers(neutralise(df), units or {}, currency, percent_as_points=True)
    return out.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8-sig")


# Excel number formats by unit (openpyxl), the currency's symbol inserted.
EXCEL_FORMATS = {"count": "#,##0", "decimal": "#,##0.00", "days": "#,##0.0",
                 "ratio": "0.00%", "change": "+0.0%;-0.0%;0.0%", "pp": '+0.00" pp";-0.00" pp"',
                 "times": '0.00"×"', "times_change": '+0.00"×";-0.00"×"'}


def to_excel(df: pd.DataFrame, sheet: str = "data", units: dict | None = None,
             currency: str = "EUR") -> bytes:
    """One sheet; numbers as numbers with number formats (money in the currency, rates as
    percent), headers with units."""
    units = units or {}
    out = _numbers(neutralise(df), units, currency, percent_as_points=False)
    money = f'"{symbol(currency)}"#,##0.00;-"{symbol(currency)}"#,##0.00'
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        out.to_excel(writer, index=False, sheet_name=sheet[:31])
        ws = writer.sheets[sheet[:31]]
        for i, c in enumerate(df.columns, start=1):
            unit = units.get(c)
            fmt = money if unit == "money" else EXCEL_FORMATS.get(unit)
            width = max(len(str(out.columns[i - 1])), 10) + 2
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width, 60)
            if fmt:
                for row in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    row[0].number_format = fmt
    return buf.getvalue()
