"""The monthly management report: one self-contained HTML file (KPI cards with comparisons,
the main charts, top products, the channel table, room for comments). Every value that comes
from the data is escaped: a product called <script> prints as text."""
from __future__ import annotations

import html
import math
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import plotly.graph_objects as go

from . import caveats, explain, forecast, formatting, targets
from .filters import Filters
from .formatting import channel_words, fmt
from .kpi import run
from .registry import get
from .schema import WORDS

CARDS = ("net_sales", "orders", "aov", "sessions", "conversion_rate", "new_customers",
         "returning_customer_rate", "mer", "return_rate_value", "stockout_rate")
CHANNEL_COLUMNS = ("net_sales", "orders", "sessions", "conversion_rate", "spend", "roas")
# ROAS divides revenue before returns (KPIS.md), while the net sales beside it are after
# returns: a reader dividing one by the spend would find another figure.
HEADERS = {"roas": "ROAS on revenue before returns"}


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


def not_compared(k, other: Filters, known: caveats.Facts, since: date) -> str | None:
    """Why ``other`` is no baseline for ``k`` against the month starting ``since``, in the
    app card's words (ui.components._card): a period the store cannot tell (no order stored
    yet, no export, a traffic column it lacks, far less order history); "+37 pp" against it
    would read as a jump. None when it is one."""
    first = known.orders_from
    no_baseline = caveats.before_data(k, known, other.start, other.end, since)
    if no_baseline:
        return no_baseline[0].lower() + no_baseline[1:].rstrip(".")
    why = caveats.reason(k, known, other.start, other.end)
    if why and k.history and first:
        return ("in the period new and returning customers cannot be told apart (no order "
                f"is stored before {first:%d %b %Y})")
    if why:
        return why[0].lower() + why[1:].rstrip(".")
    lacking = caveats.coverage(k, known, other.start, other.end)
    if lacking:
        return (f"the period has no {caveats.OPTIONAL_SUMS[lacking[0]]} on "
                f"{caveats.days_text(lacking[2])}")
    return None


def _compared(con, k, now: float | None, other: Filters, known: caveats.Facts,
              since: date) -> str:
    """The change against ``other``, or "–" where it is no baseline (:func:`not_compared`)."""
    if not_compared(k, other, known, since):
        return "–"
    before = _value(con, k.name, other)
    return "–" if caveats.value_reason(k, before) else change(now, before, k.unit)


# Distinct colours for up to a dozen channels (Plotly's "Safe" qualitative palette, readable
# by colour-blind readers).
PALETTE = ("#88CCEE", "#CC6677", "#DDCC77", "#117733", "#332288", "#AA4499", "#44AA99",
           "#999933", "#882255", "#661100", "#6699CC", "#888888")


def build(con: duckdb.DuckDBPyConnection, month: str, shop: str | None = None,
          currency: str = "EUR", goals: list[targets.Target] = (),
          window_days: int = 30) -> str:
    """The report for ``month``, titled with the ``shop``'s name when the settings hold one;
    ``goals`` (the store's targets) add each card's target;
    ``window_days``: the return window (a figure still inside it is marked not final)."""
    f = month_filters(month)
    e = html.escape
    known = caveats.facts(con)
    # A month not over is compared on its days with data (caveats.to_date).
    days = caveats.to_date(f, known.as_of)
    prev, ly = days.previous_period(), days.last_year()
    cards, missing, forecasts = [], [], []
    for name in CARDS:
        k = get(name)
        if caveats.missing(k, known):
            missing.append(name)
            continue
        why = caveats.reason(k, known, f.start, f.end)
        now = None if why else _value(con, name, f)
        why = why or caveats.value_reason(k, now)
        m = caveats.maturity(k, f.start, f.end, known.as_of, window_days)
        fc = None if why else _month_forecast(con, name, f, known.as_of)
        forecasts += [fc] if fc else []
        partial = None if why else caveats.partial_note(k, known, f.start, f.end)
        if why:
            delta = e(why)
        elif not m.final:
            # A figure still inside its return window is not compared: it would read as news.
            delta = e("not final: " + caveats.open_text(m, f.days))
        elif partial:
            delta = e(partial)
        else:
            so_far = now if days is f else _value(con, name, days)
            delta = (f'{e(_days_words(days)) + " " if days is not f else ""}'
                     f'vs previous period {e(_compared(con, k, so_far, prev, known, f.start))}'
                     f' · vs last year {e(_compared(con, k, so_far, ly, known, f.start))}')
            for words, other in (("the previous period", prev), ("last year", ly)):
                before = not_compared(k, other, known, f.start)
                # Last year's other reasons (no order stored then) go without saying: the
                # previous period's says the store's start.
                if before and (other is prev or caveats.thin_history(
                        k, known, other.start, other.end, f.start)):
                    delta += f"<br>{e(f'Not compared with {words}: {before}.')}"
        short = None if why else caveats.short_history(known, f.start) if k.history else None
        if short:
            delta += f'<br>{e(short[0].upper() + short[1:])}.'
        spend = None if why else caveats.spend_note(k, known, f.start, f.end)
        if spend:
            delta += f"<br>{e(spend)}"
        label = k.label + (", so far" if not m.final and not why else "")
        cards.append(
            f'<div class="card"><div class="label">{e(label)}</div>'
            f'<div class="value" data-kpi="{name}">{e(fmt(None if why else now, k.unit, currency))}'
            f'</div><div class="delta">{delta}</div>'
            f'{_forecast(fc, currency)}{_target(con, name, goals, f, currency, fc)}</div>')
    if missing:
        cards.append('<div class="card missing">Not in this report, for lack of data: '
                     + e("; ".join(f"{get(n).label} ({WORDS[t]})" for n in missing
                                   for t in caveats.missing(get(n), known)[:1])) + "</div>")
    figures, unknown = [], []
    for name in ("net_sales", "sessions"):
        why = None if caveats.missing(get(name), known) else \
            caveats.reason(get(name), known, f.start, f.end)
        if why:
            # A chart the app would not draw is named with its reason, not drawn as 0.
            unknown.append(f'<p class="delta">{e(get(name).label)} by day: {e(why)}</p>')
    if "orders" in known.tables and not caveats.reason(get("net_sales"), known, f.start, f.end):
        # To the data's last day: the days after it are not sales of 0.
        daily = run(con, get("net_sales"), days, "day")
        trend = go.Figure(go.Scatter(x=daily["period"], y=daily["value"], mode="lines+markers"))
        trend.update_layout(title="Net sales by day", height=320,
                            margin=dict(l=40, r=20, t=50, b=30))
        trend.update_yaxes(tickprefix=formatting.symbol(currency), tickformat=",.0f")
        figures.append(trend)
    if "traffic" in known.tables and not caveats.reason(get("sessions"), known, f.start, f.end):
        by_ch = run(con, get("sessions"), days, ("day", "channel"))
        # One distinct colour per channel, named in words, as on the app's pages.
        traffic = go.Figure([go.Scatter(x=g["period"], y=g["value"], name=channel_words(c),
                                        stackgroup="one", line={"color": colour})
                             for (c, g), colour in zip(by_ch.groupby("channel"),
                                                       PALETTE * 3)])
        traffic.update_layout(title="Sessions by channel", height=320,
                              margin=dict(l=40, r=20, t=50, b=30))
        formatting.plain_figure(traffic)
        figures.append(traffic)
    for fig in figures:
        # Plotly's own look, whoever builds the report: under the app, Plotly's default is
        # Streamlit's template, whose axes keep the fixed 40 px margin and cut "€130,000" to
        # "30,000" in the download. Automargin makes room for the widest tick label.
        fig.update_layout(template="plotly")
        fig.update_xaxes(automargin=True)
        fig.update_yaxes(automargin=True)
    charts = "".join(fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
                     for i, fig in enumerate(figures))

    columns = [n for n in CHANNEL_COLUMNS
               if not caveats.reason(get(n), known, f.start, f.end)]
    # A column left out is named with its reason, as the cards' are.
    left_out = "".join(f'<p class="delta">{e(HEADERS.get(n, get(n).label))}: '
                       f'{e(caveats.reason(get(n), known, f.start, f.end))}</p>'
                       for n in CHANNEL_COLUMNS if n not in columns)
    frames = {n: run(con, get(n), f, "channel").set_index("channel")["value"]
              for n in columns}
    channels = sorted(set().union(*[set(v.index) for v in frames.values()]),
                      key=lambda c: -(frames.get("net_sales", {}).get(c, 0) or 0))
    heads = [HEADERS.get(n, get(n).label) for n in columns]
    rows = "".join(row([channel_words(c), *(fmt(_none(frames[n].get(c)), get(n).unit, currency)
                                            for n in columns)], ["Channel", *heads])
                   for c in channels)
    title = e(f"{shop} — monthly report, {f.start:%B %Y}" if shop
              else f"Monthly report — {f.start:%B %Y}")
    gap = caveats.gap_note(known, f.start, f.end)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
 .cards {{ display: grid; grid-template-columns: repeat(5, 1fr); gap: .8rem; }}
 .card {{ border: 1px solid #ddd; border-radius: 8px; padding: .7rem; }}
 .label {{ color: #666; font-size: .85rem; }} .value {{ font-size: 1.5rem; font-weight: 600; }}
 .delta {{ color: #666; font-size: .75rem; }}
 table {{ border-collapse: collapse; width: 100%; margin: 1rem 0; }}
 td, th {{ border-bottom: 1px solid #eee; padding: .35rem; text-align: left; }}
 .comments {{ border: 1px dashed #bbb; min-height: 8rem; padding: .7rem; }}
 .wide {{ overflow-x: auto; }}
 .warning {{ background: #fff4e5; border-left: 4px solid #f0a020; padding: .5rem .7rem; }}
 @media (max-width: 640px) {{ body {{ margin: 1rem; }}
   .cards {{ grid-template-columns: repeat(2, minmax(0, 1fr)); }}
   .value {{ font-size: 1.05rem; }}
   /* A phone cut the tables at their fourth column, and a scrolling box hid the rest from a
      printout or a screenshot: each row becomes a block, each cell a line named by its
      column. */
   .wide table, .wide tr, .wide td {{ display: block; width: auto; }}
   .wide tbody {{ display: block; }}
   .wide tr.head {{ display: none; }}
   .wide tr {{ border-bottom: 1px solid #ddd; padding: .4rem 0; }}
   .wide td {{ border: 0; padding: .1rem 0; display: flex; justify-content: space-between;
              gap: 1rem; text-align: right; }}
   .wide td::before {{ content: attr(data-label); color: #666; text-align: left; }}
   .wide td:first-child {{ font-weight: 600; }}
   .wide td:first-child::before {{ content: none; }} }}
 @media print {{ .cards {{ grid-template-columns: repeat(5, 1fr); }} }}
</style></head><body>
<h1>{title}</h1>
{f'<p class="warning">{e(gap)}</p>' if gap else ""}
<p>{_compared_words(f, days, prev, ly)}</p>
<div class="cards">{''.join(cards)}</div>
{_accuracy(forecasts)}
{charts}{"".join(unknown)}
<h2>Channels</h2>{table(["Channel", *heads], rows)}{left_out}
<h2>Top products</h2>{_top_products(con, f, known, currency, window_days)}
<h2>What changed</h2>{commentary(con, days, prev, known, currency, window_days)}
<h2>Comments</h2><div class="comments" contenteditable="true">Write the month's comments
here before printing or saving.</div>
</body></html>"""


def _days_words(days: Filters) -> str:
    """"1 – 3 Dec": the days of a month not over that its cards compare."""
    return f"{days.start.day} – {days.end:%d %b}".replace(" 0", " ")


def _compared_words(f: Filters, days: Filters, prev: Filters, ly: Filters) -> str:
    """What the cards are compared with, in a sentence under the title."""
    if days is f:
        return (f"{f.start:%d %b} – {f.end:%d %b %Y}; compared with the month before "
                f"({prev.start:%d %b} – {prev.end:%d %b %Y}) and with the same month last year "
                f"({ly.start:%d %b} – {ly.end:%d %b %Y}).")
    return (f"{f.start:%d %b} – {f.end:%d %b %Y}, not over: the data ends on {days.end:%d %b}, "
            f"so its {formatting.plural(days.days, 'day')} are compared with "
            f"{days.comparison_words()[0]} ({prev.start:%d %b} – {prev.end:%d %b %Y}) and with "
            f"the same days 364 days back "
            f"({ly.start:%d %b} – {ly.end:%d %b %Y}), not with whole months.")


# The top products' net sales are those of the month's orders, less the refunds on them whenever
# made (the Sales page's table); the cards' and "What changed"'s subtract the refunds made in
# the month, whatever the order's date. One label for both read as a contradiction (the demo
# shop's Velvet shoes 074: €66,788.43 here, €65,634.97 under "By product", November 2026).
TOP_NET = "Net sales of the month's orders"


def _top_products(con, f: Filters, known: caveats.Facts, currency: str,
                  window_days: int) -> str:
    """The top products table, or why the app shows none (kpilib.caveats.reason)."""
    e = html.escape
    k = get("top_products")
    why = caveats.reason(k, known, f.start, f.end)
    if why:
        return f'<p class="delta">{e(k.label)}: {e(why)}</p>'
    m = caveats.maturity(k, f.start, f.end, known.as_of, window_days)
    top = run(con, k, f, limit=10)
    unmatched = caveats.unmatched_refunds(k, known)
    cats = caveats.has_categories(top["category"])
    heads = ["Product", "SKU", *(["Category"] if cats else []), "Units",
             "Sales before returns" if unmatched else
             TOP_NET + ("" if m.final else ", so far")]
    rows = "".join(row([str(r.product_name), str(r.sku), *([str(r.category)] if cats else []),
                        f"{r.units:,.0f}",
                        fmt(r.sales if unmatched else r.net_sales, "money", currency)], heads)
                   for r in top.itertuples())
    if unmatched:
        return table(heads, rows) + f'<p class="delta">{e(unmatched[1])}</p>'
    note = (f"{TOP_NET}: their line value − their share of the order's discount − refunds on "
            f"those lines, whenever made. The net sales of the cards and of \u201cWhat "
            f"changed\u201d subtract the refunds made in {f.start:%B %Y} instead, whatever "
            "the order's date: a product's two figures differ by its refunds."
            + ("" if m.final else f" Not final: {caveats.open_text(m, f.days)}."))
    return table(heads, rows) + f'<p class="delta">{e(note)}</p>'


def row(cells: list[str], heads: list[str]) -> str:
    """A table row; each cell carries its column's name, which a phone shows beside it."""
    e = html.escape
    return "<tr>" + "".join(f'<td data-label="{e(h)}">{e(c)}</td>'
                            for c, h in zip(cells, heads)) + "</tr>"


def table(heads: list[str], rows: str) -> str:
    return ('<div class="wide"><table><tr class="head">'
            + "".join(f"<th>{html.escape(h)}</th>" for h in heads) + f"</tr>{rows}</table></div>")


def _month_forecast(con, name: str, f: Filters, as_of: date | None):
    """Where a summed KPI's month is heading, when the data stops inside it."""
    if name not in forecast.KPIS or as_of is None or not f.start <= as_of < f.end:
        return None
    fc = forecast.forecast(con, name, f"{f.start:%Y-%m}", as_of)
    return fc if fc.value is not None else None


def _forecast(fc, currency: str) -> str:
    if fc is None:
        return ""
    unit = get(fc.kpi).unit
    text = forecast.range_text(fc, lambda v: fmt(v, unit, currency, compact=True))
    return (f'<div class="delta forecast" data-kpi="{fc.kpi}" '
            f'title="{html.escape(forecast.accuracy_text(fc))}">{fc.as_of:%d %b}: '
            f'{html.escape(text)}</div>')


def _accuracy(forecasts) -> str:
    """Under the cards: how the month-end forecasts are made and how far off they have been."""
    if not forecasts:
        return ""
    how = " ".join(dict.fromkeys(forecast.method_text(fc) for fc in forecasts))
    lines = "".join(f"<li>{html.escape(get(fc.kpi).label)}: "
                    f"{html.escape(forecast.backtest_text(fc))}</li>" for fc in forecasts)
    over = forecast.ended(forecasts[0].as_of)
    # A month the calendar has left: what its missing days would have made, not where it
    # is heading.
    lead = (f"{html.escape(over[0].upper() + over[1:])}. Forecasts of what the month would "
            "have made had it sold as usual on them" if over
            else f"The month is not over: forecasts as of {forecasts[0].as_of:%d %b}")
    return (f'<p class="delta">{lead}, each with the range the month ends in 4 times out '
            f'of 5 if it errs as the shop\'s earlier months did. {html.escape(how)}</p>'
            f'<ul class="delta">{lines}</ul>')


# The figures the report's commentary explains against the month before (kpilib/explain.py).
COMMENTARY = ("net_sales", "orders", "conversion_rate")


def commentary(con, f: Filters, prev: Filters, known: caveats.Facts, currency: str,
               window_days: int) -> str:
    """What moved each of :data:`COMMENTARY` since the month before, in sentences: its
    drivers, the channels that moved it most and what else happened on the same days."""
    e = html.escape
    parts, seen = [], set()
    for name in COMMENTARY:
        if caveats.missing(get(name), known):
            continue
        out = explain.explain(con, name, f, prev, known, window_days, currency=currency)
        body = ""
        # The dimensions a figure is not split by are the app's and the CLI's concern.
        out = whole_counts({**out, "not_split": []})
        for title, items in explain.sections(out, currency):
            if name == "net_sales" and title in ("By product", "By category"):
                # Not the top products' figure (TOP_NET): said where both are shown.
                title += f" (net sales as on the card: refunds made in {f.start:%B %Y})"
            # Causes shared by several figures (the same stock-outs) are said once.
            items = [i for i in items if i not in seen]
            seen.update(items)
            if items and title:
                body += (f"<p>{e(title)}:</p><ul>"
                         + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
                if title == out["formula"]:
                    body += f'<p class="delta">{e(shapley_note(out["unit"]))}</p>'
            elif items:
                body += "".join(f'<p class="delta">{e(i)}</p>' for i in items)
        parts.append(f'<div class="why" data-kpi="{name}"><p><b>'
                     f"{e(explain.headline(out, currency))}</b></p>{body}</div>")
    return "".join(parts) or "<p>Nothing to explain: no orders or traffic stored.</p>"


def shapley_note(unit: str) -> str:
    """What a driver's part is, as the app's Why? says under its waterfall (ui/why.py)."""
    return ("Each driver's part is the average of what changing it alone would have done, over "
            "every sequence the drivers could be changed in (Shapley): the parts add up to the "
            "change exactly" + (", rounded to whole numbers." if unit == "count" else "."))


def whole_counts(out: dict) -> dict:
    """``out`` (kpilib.explain.explain) with a count's formula parts in whole numbers that
    still add up to its change: a count changes by whole orders, and "Sessions: +1,753.9"
    read as a count with decimals (the Shapley share is a mean over the sequences of switching)."""
    if out.get("unit") != "count":
        return out

    def whole(drivers: list[dict], change) -> list[dict]:
        if not drivers or change is None or change != round(change):
            return drivers
        # to_cents rounds to hundredths: the same rule on hundredths of the effects.
        effects = explain.to_cents([d["effect"] / 100 for d in drivers], change / 100)
        return [{**d, "effect": round(v * 100)} for d, v in zip(drivers, effects)]

    return {**out, "drivers": whole(out.get("drivers") or [], out.get("change")),
            "by": {d: [{**r, "drivers": whole(r["drivers"], r.get("effect"))}
                       if r.get("drivers") else r for r in rows]
                   for d, rows in (out.get("by") or {}).items()}}


def _target(con, name: str, goals, f: Filters, currency: str, fc=None) -> str:
    p = targets.pace(con, name, list(goals), f, f.end) if name in targets.KINDS else None
    if p is not None and fc is not None:
        # A month not over yet: the target against where it is heading, not against the
        # days so far.
        p = replace(p, forecast=fc.value)
    if p is None or p.ratio is None:
        return ""
    unit = get(name).unit
    return (f'<div class="delta target" data-kpi="{name}">target '
            f'{html.escape(fmt(p.target, unit, currency))}: {p.ratio * 100:.0f} %</div>')


def _none(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
