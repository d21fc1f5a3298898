"""KPI values and changes as a manager reads them: shared by the pages and the report."""
from __future__ import annotations

import math

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency + " ")


def fmt(v: float | None, unit: str, currency: str = "EUR", compact: bool = False) -> str:
    """No value is a dash, never 0 or 'nan'; ``compact`` drops cents from large amounts."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if unit == "ratio":
        return f"{v:.2%}".replace("%", " %")
    if unit == "money":
        sign = "-" if v < 0 else ""
        digits = 0 if compact and abs(v) >= 1000 else 2
        return f"{sign}{symbol(currency)}{abs(v):,.{digits}f}"
    if unit == "days":
        return f"{v:,.1f} days"
    if unit == "times":
        return f"{v:,.2f}×"
    if unit == "decimal":
        return f"{v:,.2f}"
    return f"{v:,.0f}"


def change(current: float | None, previous: float | None, unit: str) -> str | None:
    """Change vs a comparison period: relative for amounts, in points for ratios, a difference
    for multiples; None when there is nothing to compare with."""
    if current is None or previous is None:
        return None
    if unit == "ratio":
        return f"{(current - previous) * 100:+.2f} pp"
    if unit == "times":
        return f"{current - previous:+.2f}×"
    if previous == 0:
        return None
    return f"{(current - previous) / abs(previous):+.1%}".replace("%", " %")
