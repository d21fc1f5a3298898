"""KPI values and changes as a manager reads them: shared by the pages and the report."""
from __future__ import annotations

import math
from datetime import date

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "BRL": "R$",
           "CAD": "CA$", "AUD": "A$", "INR": "₹", "CNY": "CN¥", "KRW": "₩", "MXN": "MX$"}
# How wide a card's value may be, in ems of its font: the app sizes the font to a fifth of the
# card's width at most (app.py), so a value of 5 ems shows whole in any row of cards at any
# screen width ("BRL 16.2 k" was cut in a five-card row at 1440 px, "€486,719" at 1280).
CARD_EMS = 5.0
# Approximate glyph widths in ems (the app's sans-serif): narrow punctuation, wide capitals.
_NARROW, _WIDE = set(",.: "), set("MWmw@%")


def card_width(text: str) -> float:
    """A value's width in ems, near enough to tell whether a card shows it whole."""
    return sum(0.25 if c in _NARROW else 0.85 if c in _WIDE else
               0.62 if c.isalpha() and c.isupper() else 0.55 for c in text)


def symbol(currency: str | None) -> str:
    """"€", "R$", "SEK "; nothing for a shop whose currency nothing says (kpilib.settings)."""
    if not currency:
        return ""
    return SYMBOLS.get(currency, currency + " ")


def fmt(v: float | None, unit: str, currency: str = "EUR", compact: bool = False) -> str:
    """No value is a dash, never 0 or 'nan'; ``compact`` (KPI cards) drops cents from large
    amounts and writes millions as "€12.27 M", which a card shows whole."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if compact and unit in ("money", "count"):
        short = _card(v, unit, currency)
        if short:
            return short
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


def estimate(v: float | None, currency: str | None = "EUR") -> str:
    """An estimated amount of money to two significant figures and whole units, "€92,000":
    cents would claim a precision an estimate has not."""
    if _missing(v):
        return "–"
    if not v:
        return f"{symbol(currency)}0"
    r = round(v, min(0, 1 - math.floor(math.log10(abs(v)))))
    return f"{'-' if r < 0 else ''}{symbol(currency)}{abs(r):,.0f}"


def label(v: float, unit: str, currency: str = "EUR") -> str:
    """A bar's label to three digits, "€535 k", "-€28.1 k": on a 390 px phone Plotly shrank
    "€534,626" to fit a waterfall's bar until it could not be read."""
    a, sign = abs(v), "-" if v < 0 else ""
    if unit not in ("money", "count") or a < 1000:
        return fmt(v, unit, currency, compact=True)
    s = symbol(currency) if unit == "money" else ""
    return sign + s + (f"{a / 1e3:.3g} k" if a < 999_500 else f"{a / 1e6:.3g} M")


def month_words(month: str) -> str:
    """A stored month as a manager reads it: "2011-03" is "Mar 2011"; products, stored whole
    ("all"), are "all months"."""
    if month == "all":
        return "all months"
    y, m = map(int, month.split("-"))
    return f"{date(y, m, 1):%b %Y}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """A count and its noun: "1 row", "2,000 rows" (``many`` when adding an s is wrong)."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def channel_words(channel) -> str:
    """paid_search → "Paid search": a channel as the pages and the report write it."""
    return str(channel).replace("_", " ").capitalize()


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _card(v: float, unit: str, currency: str) -> str | None:
    """A money or count value short enough for a card, or None when it fits as it is: whole
    units, then thousands ("R$53.4 k"), then millions ("€12.27 M"); the exact value is the
    card's tooltip."""
    sign, s = "-" if v < 0 else "", symbol(currency) if unit == "money" else ""
    a = abs(v)
    millions = (f"{a / 1e6:,.2f} M", f"{a / 1e6:,.1f} M", *((f"{a / 1e6:,.0f} M",)
                                                           if a >= 10e6 else ()))
    if a < 1000:
        ladder = (f"{a:,.2f}", f"{a:,.0f}")
    elif a < 999_500:
        ladder = (f"{a:,.0f}", f"{a / 1e3:,.1f} k", f"{a / 1e3:,.0f} k", *millions)
    elif a < 1_000_000:
        ladder = (f"{a:,.0f}", *millions)
    else:
        # Millions always short (a card of €12.27 M reads at a glance).
        ladder = millions
    fits = [t for t in ladder if card_width(sign + s + t) <= CARD_EMS]
    text = sign + s + (fits[0] if fits else ladder[-1])
    return None if unit == "count" and text == f"{sign}{a:,.0f}" or text == f"{sign}{s}{a:,.2f}" \
        else text


def change_unit(unit: str) -> str:
    """The unit of a change of a KPI of ``unit`` (export.py): points for ratios, a difference
    for multiples, relative for amounts."""
    return {"ratio": "pp", "times": "times_change"}.get(unit, "change")


def change_value(current: float | None, previous: float | None, unit: str) -> float | None:
    """Change vs a comparison period, as a number of :func:`change_unit`: points (+0.46 for
    2.05 % → 2.51 %), a difference of multiples, or a relative change (0.12 = +12 %); None
    when there is nothing to compare with."""
    if _missing(current) or _missing(previous):
        return None
    if unit == "ratio":
        return (current - previous) * 100
    if unit == "times":
        return current - previous
    return None if previous == 0 else (current - previous) / abs(previous)


def cell(v, unit: str | None, currency: str = "EUR") -> str:
    """A table cell as a manager reads it: a KPI value (:func:`fmt`), a change with its sign
    ("+12.3 %", "+0.46 pp", "+0.25×"), or text."""
    if unit is None:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
    if unit in ("change", "pp", "times_change"):
        if _missing(v):
            return "–"
        text = {"change": f"{v:+.1%}".replace("%", " %"), "pp": f"{v:+.2f} pp",
                "times_change": f"{v:+.2f}×"}[unit]
        # A change that rounds to nothing has no direction: "-0.0 %" would be a red arrow down.
        return text if any(c in "123456789" for c in text) else text[1:]
    return fmt(v, unit, currency)


def change(current: float | None, previous: float | None, unit: str) -> str | None:
    """Change vs a comparison period as text (:func:`change_value`, :func:`cell`): None when
    there is nothing to compare with."""
    v = change_value(current, previous, unit)
    return None if v is None else cell(v, change_unit(unit))


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
