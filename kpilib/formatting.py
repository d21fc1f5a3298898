"""KPI values and changes as a manager reads them: shared by the pages and the report."""
from __future__ import annotations

import math

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency + " ")


def fmt(v: float | None, unit: str, currency: str = "EUR", compact: bool = False) -> str:
    """No value is a dash, never 0 or 'nan'; ``compact`` (KPI cards) drops cents from large
    amounts and writes millions as "€12.27 M", which a card shows whole."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if compact and unit in ("money", "count") and abs(v) >= 1_000_000:
        sign = "-" if v < 0 else ""
        return f"{sign}{symbol(currency) if unit == 'money' else ''}{abs(v) / 1e6:,.2f} M"
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


def plural(n: int, one: str, many: str | None = None) -> str:
    """A count and its noun: "1 row", "2,000 rows" (``many`` when adding an s is wrong)."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def change(current: float | None, previous: float | None, unit: str) -> str | None:
    """Change vs a comparison period: relative for amounts, in points for ratios, a difference
    for multiples; None when there is nothing to compare with."""
    if current is None or previous is None:
        return None
    if unit == "ratio":
        text = f"{(current - previous) * 100:+.2f} pp"
    elif unit == "times":
        text = f"{current - previous:+.2f}×"
    elif previous == 0:
        return None
    else:
        text = f"{(current - previous) / abs(previous):+.1%}".replace("%", " %")
    # A change that rounds to nothing has no direction: "-0.0 %" would be a red arrow down.
    return text if any(c in "123456789" for c in text) else text[1:]


def is_flat(delta: str | None) -> bool:
    """A change (as :func:`change` writes it) that shows no difference: no sign."""
    return delta is not None and delta[:1] not in "+-"


# Plotly reads a subset of HTML in every label (<b>, <br>, <a href>, <span style>): text from
# the data is escaped so a product called <b>x</b> or <a href=…> shows exactly as it is named.
LABEL_MAX = 80


def plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _labels(values):
    if values is None or not any(isinstance(v, str) for v in values):
        return values
    out = [plain(v) if isinstance(v, str) else v for v in values]
    short = [v[:LABEL_MAX] + "…" if isinstance(v, str) and len(v) > LABEL_MAX + 1 else v
             for v in out]
    # Shortened only while every label stays distinct: two long names must stay two bars.
    return short if len(set(map(str, short))) == len(set(map(str, out))) else out


def plain_figure(fig):
    """Escape (and shorten beyond 80 characters) the data's text in a Plotly figure: category
    values, trace names, pie labels and the group values Plotly Express writes into hovers."""
    for trace in fig.data:
        for attr in ("x", "y", "labels", "text", "ids"):
            if attr in trace and trace[attr] is not None and not isinstance(trace[attr], str):
                values = list(trace[attr])
                fixed = _labels(values)
                if fixed is not values:
                    trace[attr] = fixed
        name = trace["name"] if "name" in trace else None
        if isinstance(name, str) and plain(name) != name or \
                isinstance(name, str) and len(name) > LABEL_MAX + 1:
            short = _labels([name])[0]
            if trace["hovertemplate"]:
                trace["hovertemplate"] = trace["hovertemplate"].replace(name, short)
            trace["name"] = short
            if "legendgroup" in trace and trace["legendgroup"] == name:
                trace["legendgroup"] = short
    for axis in ("xaxis", "yaxis"):
        order = fig.layout[axis].categoryarray
        if order is not None:
            fig.layout[axis].categoryarray = _labels(list(order))
    return fig


def md_plain(text: object, limit: int = 200) -> str:
    """Text from the data made safe to put inside Markdown (Streamlit's captions, warnings,
    widget labels): every punctuation mark is backslash-escaped so `*`, `[link](…)`, `<b>`,
    `:red[…]` or `$…$` print as typed, and very long names are shortened."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[:limit] + "…"
    return "".join("\\" + c if c in _MD_PUNCT else c for c in s)


_MD_PUNCT = set("\\`*_{}[]()#+-.!|<>~:$=&\"'/%^@")
