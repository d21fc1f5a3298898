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


UNIT_WORDS = {"count": "count", "decimal": "number", "money": "money", "ratio": "%",
              "times": "×", "days": "days"}


def glossary_markdown() -> str:
    """The README glossary, generated from the registry (a test keeps the README in step)."""
    lines = ["| KPI | name | unit | definition |", "|---|---|---|---|"]
    lines += [f"| {k.label} | `{k.name}` | {UNIT_WORDS[k.unit]} | {k.definition} |"
              for k in KPIS.values()]
    return "\n".join(lines) + "\n"
