"""KPIs made of measures: one measure, a ratio of two, or a difference of sums. The SQL is
generated from the measures (kpilib/dimensions.py), and so are whether the KPI reads the daily
rollups and whether it is additive over days: a declaration cannot claim either wrongly.

Hand-written SQL stays for the KPIs no such shape describes (customer counts over their
history, RFM, cohorts, medians from a histogram, the stock page's per-SKU figures), declared
with :class:`kpilib.kpi.Kpi` directly.
"""
from __future__ import annotations

from .dimensions import SOURCES, Measure
from .kpi import Kpi


BY = ("day", "week", "month", "channel")


def _speed(measures: tuple[Measure, ...], kw: dict) -> dict:
    """``rollup`` and ``additive`` as the measures allow, unless the declaration says (then
    :class:`Kpi` checks it); the groupings declared, and the dimensions every measure's
    source can be grouped by (country, discount code, campaign)."""
    kw.setdefault("rollup", all(m.rollup_reason() is None for m in measures))
    kw.setdefault("additive", all(m.additive for m in measures))
    by = kw.get("by", BY)
    kw["by"] = by + tuple(d for d in ("country", "discount_code", "campaign")
                          if all(d in SOURCES[m.source].groups for m in measures)
                          and d not in by)
    return kw


def _part(m: Measure, alias: str) -> str:
    return f"select {{key}} as key, {m.sql} as {alias} from {{src:{m.source}}} group by all"


def total(name: str, label: str, unit: str, definition: str, m: Measure, **kw) -> Kpi:
    """A KPI that is one measure."""
    sql = _part(m, "value")
    return Kpi(name=name, label=label, unit=unit, definition=definition, sql=sql,
               measures=(m,), **_speed((m,), kw))


def ratio(name: str, label: str, numerator: Measure, denominator: Measure, definition: str,
          unit: str = "ratio", **kw) -> Kpi:
    """numerator ÷ denominator, each summed over the period (a ratio of sums); no value when
    the denominator is 0. Measures of two sources are each read from their own, then matched
    by group (a group without the denominator's rows has no value)."""
    n, d = numerator, denominator
    if n.source == d.source:
        sql = f"""select {{key}} as key, {n.sql} as numerator, {d.sql} as denominator,
                         {n.sql} / nullif({d.sql}, 0) as value
                  from {{src:{n.source}}} group by all"""
    else:
        sql = f"""with d as ({_part(d, "denominator")}), n as ({_part(n, "numerator")})
                  select key, coalesce(numerator, 0) as numerator, denominator,
                         coalesce(numerator, 0) / nullif(denominator, 0) as value
                  from d left join n using (key)"""
    return Kpi(name=name, label=label, unit=unit, definition=definition, sql=sql, ratio=True,
               empty=None, measures=(n, d), **_speed((n, d), kw))


def difference(name: str, label: str, plus: Measure, minus: Measure, definition: str,
               unit: str = "money", **kw) -> Kpi:
    """``plus`` − ``minus``, sums over their own sources (sales by order date less refunds
    by refund date), grouped alike: one aggregation over both sources' rows, as cheap as a
    sum over one."""
    assert all(m.agg == "sum" and not m.where for m in (plus, minus)), name
    sql = f"""select key, sum(value) as value from (
                  select {{key}} as key, {plus.expr} as value from {{src:{plus.source}}}
                  union all
                  select {{key}} as key, -({minus.expr}) from {{src:{minus.source}}}
              ) group by key"""
    return Kpi(name=name, label=label, unit=unit, definition=definition, sql=sql,
               measures=(plus, minus), **_speed((plus, minus), kw))


def inverse(of: Kpi, name: str, label: str, definition: str, unit: str = "ratio",
            **kw) -> Kpi:
    """A ratio KPI the other way up (MER's spend ÷ net sales): derived from ``of``'s query,
    its denominator over its numerator."""
    assert of.ratio, of.name
    sql = f"""select key, denominator as numerator, numerator as denominator,
                     denominator / nullif(numerator, 0) as value
              from ({of.template})"""
    kw.setdefault("by", tuple(b for b in of.by if b in BY))
    for flag in ("rollup", "additive"):
        kw.setdefault(flag, getattr(of, flag))
    return Kpi(name=name, label=label, unit=unit, definition=definition, sql=sql,
               ratio=True, empty=None, measures=of.measures, **kw)
