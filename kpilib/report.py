"""The monthly management report: one self-contained HTML file (KPI cards with comparisons,
the main charts, top products, the channel table, room for comments). Every value that comes
from the data is escaped: a product called <script> prints as text."""
from __future__ import annotations

import html
import math
from datetime import date, timedelta

import duckdb
import plotly.graph_objects as go

from . import formatting, targets
from .filters import Filters
from .formatting import fmt
from .kpi import run
from .registry import get

CARDS = ("net_sales", "orders", "aov", "sessions", "conversion_rate", "new_customers",
         "returning_customer_rate", "mer", "return_rate_value", "stockout_rate")
CHANNEL_COLUMNS = ("net_sales", "orders", "sessions", "conversion_rate", "spend", "roas")


def month_filters(month: str) -> Filters:
    """'2026-03' → 1 to 31 March 2026."""
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError:
        raise ValueError(f"{month!r} is not a month like 2026-03") from None
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return Filters(first, last)


def _value(con, name: str, f: Filters) -> float | None:
    v = run(con, get(name), f)["value"].iat[0]
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def change(now: float | None, before: float | None, unit: str) -> str:
    return formatting.change(now, before, unit) or "–"


def build(con: duckdb.DuckDBPyConnection, month: str, shop: str = "Shop",
          currency: str = "EUR", goals: list[targets.Target] = ()) -> str:
    """The report for ``month``; ``goals`` (the store's targets) add each card's target."""
    f = month_filters(month)
    prev, ly = f.previous_period(), f.last_year()
    e = html.escape
    cards = []
    for name in CARDS:
        k = get(name)
        now = _value(con, name, f)
        cards.append(
            f'<div class="card"><div class="label">{e(k.label)}</div>'
            f'<div class="value" data-kpi="{name}">{e(fmt(now, k.unit, currency))}</div>'
            f'<div class="delta">vs previous period {e(change(now, _value(con, name, prev), k.unit))}'
            f' · vs last year {e(change(now, _value(con, name, ly), k.unit))}</div>'
            f'{_target(con, name, goals, f, currency)}</div>')
    daily = run(con, get("net_sales"), f, "day")
    trend = go.Figure(go.Scatter(x=daily["period"], y=daily["value"], mode="lines+markers"))
    trend.update_layout(title="Net sales by day", height=320, margin=dict(l=40, r=20, t=50, b=30))
    by_ch = run(con, get("sessions"), f, ("day", "channel"))
    traffic = go.Figure([go.Scatter(x=g["period"], y=g["value"], name=str(c), stackgroup="one")
                         for c, g in by_ch.groupby("channel")])
    traffic.update_layout(title="Sessions by channel", height=320,
                          margin=dict(l=40, r=20, t=50, b=30))
    formatting.plain_figure(traffic)
    charts = trend.to_html(full_html=False, include_plotlyjs="inline") + \
        traffic.to_html(full_html=False, include_plotlyjs=False)

    frames = {n: run(con, get(n), f, "channel").set_index("channel")["value"]
              for n in CHANNEL_COLUMNS}
    channels = sorted(set().union(*[set(v.index) for v in frames.values()]),
                      key=lambda c: -(frames["net_sales"].get(c, 0) or 0))
    head = "".join(f"<th>{e(get(n).label)}</th>" for n in CHANNEL_COLUMNS)
    rows = "".join(
        f"<tr><td>{e(str(c))}</td>" + "".join(
            f"<td>{e(fmt(_none(frames[n].get(c)), get(n).unit, currency))}</td>"
            for n in CHANNEL_COLUMNS) + "</tr>" for c in channels)
    top = run(con, get("top_products"), f, limit=10)
    products = "".join(
        f"<tr><td>{e(str(r.product_name))}</td><td>{e(str(r.sku))}</td>"
        f"<td>{e(str(r.category))}</td><td>{r.units:,.0f}</td>"
        f"<td>{e(fmt(r.net_sales, 'money', currency))}</td></tr>" for r in top.itertuples())
    title = f"{e(shop)} — {f.start:%B %Y}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
 .cards {{ display: grid; grid-template-columns: repeat(5, 1fr); gap: .8rem; }}
 .card {{ border: 1px solid #ddd; border-radius: 8px; padding: .7rem; }}
 .label {{ color: #666; font-size: .85rem; }} .value {{ font-size: 1.5rem; font-weight: 600; }}
 .delta {{ color: #666; font-size: .75rem; }}
 table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
 td, th {{ border-bottom: 1px solid #eee; padding: .35rem; text-align: left; }}
 .comments {{ border: 1px dashed #bbb; min-height: 8rem; padding: .7rem; }}
 @media print {{ .cards {{ grid-template-columns: repeat(5, 1fr); }} }}
</style></head><body>
<h1>{title}</h1>
<p>{f.start:%d %b} – {f.end:%d %b %Y}; compared with {prev.start:%d %b} – {prev.end:%d %b %Y}
and with last year ({ly.start:%d %b} – {ly.end:%d %b %Y}, same weekdays).</p>
<div class="cards">{''.join(cards)}</div>
{charts}
<h2>Channels</h2><table><tr><th>Channel</th>{head}</tr>{rows}</table>
<h2>Top products</h2><table><tr><th>Product</th><th>SKU</th><th>Category</th><th>Units</th>
<th>Net sales</th></tr>{products}</table>
<h2>Comments</h2><div class="comments" contenteditable="true">Write the month's comments
here before printing or saving.</div>
</body></html>"""


def _target(con, name: str, goals, f: Filters, currency: str) -> str:
    p = targets.pace(con, name, list(goals), f, f.end) if name in targets.KINDS else None
    if p is None or p.ratio is None:
        return ""
    unit = get(name).unit
    return (f'<div class="delta target" data-kpi="{name}">target '
            f'{html.escape(fmt(p.target, unit, currency))}: {p.ratio * 100:.0f} %</div>')


def _none(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
