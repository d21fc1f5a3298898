"""Every KPI by name. Pages, the command line, the README glossary and the tests read it."""
from . import funnel, loyalty, marketing, returns, sales, stock, traffic
from .kpi import Kpi

DOMAINS = (traffic, funnel, sales, returns, loyalty, stock, marketing)
KPIS: dict[str, Kpi] = {k.name: k for m in DOMAINS for k in m.KPIS}


def get(name: str) -> Kpi:
    try:
        return KPIS[name]
    except KeyError:
        raise KeyError(f"unknown KPI {name!r}; known: {', '.join(KPIS)}") from None


# The store's convention for cancelled orders (settings "cancelled_orders"), in the words every
# definition of a KPI that follows it ends with in the app.
CANCELLED = {
    "excluded": "Cancelled orders are left out (they count only in the cancellation rate).",
    "shopify": "Cancelled orders count as Shopify counts them: a sale on the order day, given "
               "back whole (goods, shipping and tax) on the day they were cancelled.",
}
# The same, in the few words a page's header line has room for.
CANCELLED_SHORT = {
    "excluded": "cancelled orders excluded (they count only in the cancellation rate)",
    "shopify": "cancelled orders counted as Shopify does (sold, then returned when cancelled)",
}


def follows_cancelled(k: Kpi) -> bool:
    """Whether ``k`` reads the store's convention for cancelled orders (through any view or
    rollup it reads)."""
    from .store import _closure

    return "conventions" in _closure(k.sql + k.base)


def definition(k: Kpi, cancelled: str | None = None) -> str:
    """``k``'s definition, ending with the convention for cancelled orders in force
    (``cancelled``, the store's setting) when it follows it."""
    if cancelled is None or not follows_cancelled(k):
        return k.definition
    return f"{k.definition} {CANCELLED[cancelled]}"


UNIT_WORDS = {"count": "count", "decimal": "number", "money": "money", "ratio": "%",
              "times": "×", "days": "days"}


def _lower(sentence: str) -> str:
    return sentence[0].lower() + sentence[1:]


def glossary_markdown() -> str:
    """The README glossary, generated from the registry (a test keeps the README in step)."""
    lines = [f"KPIs marked † follow the store's convention for cancelled orders. By default, "
             f"{_lower(CANCELLED['excluded'])} Set to Shopify's (on the Settings page, or "
             f"`\"cancelled_orders\": \"shopify\"` in the store's `settings.json`), "
             f"{_lower(CANCELLED['shopify'])} The help on each card says which is in force.",
             "", "| KPI | name | unit | definition |", "|---|---|---|---|"]
    lines += [f"| {k.label}{' †' if follows_cancelled(k) else ''} | `{k.name}` | "
              f"{UNIT_WORDS[k.unit]} | {k.definition} |" for k in KPIS.values()]
    return "\n".join(lines) + "\n"
