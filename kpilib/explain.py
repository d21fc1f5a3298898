"""What changed: a KPI's change between two periods split into parts that add up to it exactly.

* **by formula**: the KPI written as a product (or ratio) of other KPIs — net sales = sessions ×
  orders per session × AOV − returns — and the change shared among those drivers by the
  Shapley decomposition: each driver's effect is the mean, over every order in which the
  drivers could be switched from the compared period's value to the current one, of the change
  switching it makes. Exact (the effects sum to the change), the same whatever order the
  drivers are listed in, and defined when a driver is 0, where log-mean Divisia's logarithms
  are not;
* **by dimension**: each channel's, device's… share of the change: its own change for a sum;
  for a ratio (conversion, AOV) a rate effect Σ s̄ᵢ Δrᵢ and a mix effect Σ r̄ᵢ Δsᵢ, with sᵢ the
  member's share of the denominator and midpoint weights, which sum exactly to the change (a
  conversion rate can fall because traffic moved to a weaker channel while every channel
  converted better);
* **candidate causes** from the store's other data on the same days: stock-outs, spend and
  traffic by channel, discounts, days with nothing uploaded.

Every figure comes from a KPI of the registry run through :func:`kpilib.kpi.run_many`: no
business rule here but the arithmetic. Money and counts are given to the cent, their effects
rounded so that they still add up to the change to the cent; rates are not rounded (1e-9).
Whatever a formula or a split does not explain (numbers that do not reconcile, a member with
no denominator) is its own line, never spread onto the others."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import combinations
from typing import Callable

from . import caveats
from .filters import Filters
from .formatting import channel_words, estimate, fmt, plural, symbol
from .dimensions import SPLITS
from .kpi import (FilterNotApplicable, Read, check_filters, run, run_many, run_periods,
                  takes)
from .registry import get
from .schema import WORDS

# The dimensions a change is split by, in words. A KPI is split by those its declaration lists
# in ``by``: once the store splits sales by country (kpilib.kpi.GROUPINGS and the KPI's
# ``by``), the country split appears here with no other change. Add a dimension with a line.
DIMENSIONS = {"channel": "channel", "device": "device", "country": "country",
              "category": "category", "product": "product",
              "customer_type": "new vs returning customers"}
COMPARE = ("previous", "last_year")
# Products shown one by one (the largest effects); the others are one line, so that the parts
# still add up to the change.
TOP_PRODUCTS = 10
OTHER_PRODUCTS = "(all other products)"
# Why a KPI of orders cannot be split by what an order holds several of: one order counts once,
# so its count (or its value per order) has no part per product. Said in ``not_split_why``.
PER_ORDER = ("it is a figure of whole orders, and an order can hold several products of "
             "several categories: no split of it is exact")
# The line holding what a formula or a split leaves unexplained.
REST = "(not attributable)"
# Units given to the cent (money, and counts: a formula gives fractions of an order).
CENTS = ("money", "count")


# --- the arithmetic ---------------------------------------------------------------------------
def shapley(f: Callable[..., float], before: list[float], after: list[float]) -> list[float]:
    """Each factor's effect on ``f(*after) − f(*before)``: the mean, over every order of
    switching the factors one at a time from ``before`` to ``after``, of the change switching
    factor i makes (Shapley). The effects sum to the change."""
    k = len(before)
    memo: dict[frozenset, float] = {}

    def at(switched: frozenset) -> float:
        if switched not in memo:
            memo[switched] = f(*(after[i] if i in switched else before[i] for i in range(k)))
        return memo[switched]

    effects = []
    for i in range(k):
        others = [j for j in range(k) if j != i]
        total = 0.0
        for r in range(k):
            weight = math.factorial(r) * math.factorial(k - r - 1) / math.factorial(k)
            for s in combinations(others, r):
                total += weight * (at(frozenset(s) | {i}) - at(frozenset(s)))
        effects.append(total)
    return effects


def mix_rate(before: dict, after: dict) -> dict:
    """For a ratio R = Σ sᵢ rᵢ (rᵢ a member's value, sᵢ its share of the denominator), each
    member's (mix effect r̄ᵢ Δsᵢ, rate effect s̄ᵢ Δrᵢ), bars the midpoints of the two periods:
    they sum to its contribution sᵢ¹rᵢ¹ − sᵢ⁰rᵢ⁰ exactly. ``before`` and ``after`` map each
    member to (value, denominator). A member without a denominator in one period takes the
    other period's rate (its whole contribution is mix); without one in either, it has none.
    """
    total0 = sum(d for _, d in before.values())
    total1 = sum(d for _, d in after.values())
    if not total0 or not total1:
        return {}   # no member has a denominator: nothing to split (the rest line says it)
    out = {}
    for m in dict.fromkeys([*before, *after]):
        r0, d0 = before.get(m, (math.nan, 0.0))
        r1, d1 = after.get(m, (math.nan, 0.0))
        r0 = r1 if not d0 or _nan(r0) else r0
        r1 = r0 if not d1 or _nan(r1) else r1
        if _nan(r0):
            out[m] = (0.0, 0.0)
            continue
        s0, s1 = d0 / total0, d1 / total1
        out[m] = ((r0 + r1) / 2 * (s1 - s0), (s0 + s1) / 2 * (r1 - r0))
    return out


def to_cents(effects: list[float], change: float) -> list[float]:
    """``effects`` rounded to the cent so that they add up to ``change`` (a whole number of
    cents) exactly: the cents rounding loses go to the largest effects, one each."""
    cents = [round(e * 100) for e in effects]
    short = round(change * 100) - sum(cents)
    order = sorted(range(len(effects)), key=lambda i: -abs(effects[i]))
    for n in range(abs(short)):
        cents[order[n % len(order)]] += 1 if short > 0 else -1
    return [c / 100 for c in cents]


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# --- formulas ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """A driver: a KPI's value (``"aov"``), or its numerator or denominator
    (``"roas.denominator"``), divided by ``over`` when given (same notation)."""
    of: str
    label: str
    unit: str
    over: str | None = None

    def kpis(self) -> set[str]:
        return {p.split(".")[0] for p in (self.of, self.over) if p}


@dataclass(frozen=True)
class Formula:
    text: str
    factors: tuple[Factor, ...]
    value: Callable[..., float]


_SESSIONS = Factor("blended_conversion_rate.denominator", "Sessions", "count")
# Blended: the orders export's orders ÷ the analytics export's sessions; no value unless both
# cover the period (kpilib.funnel), so a half-covered period falls back to the next formula.
# A driver that is a KPI is named by its declaration's label, as its card is: the Why? of net
# sales said "orders per session" for the figure its Funnel card calls "Blended conversion
# rate", beside an Overview card "Conversion rate (analytics)", which is another figure.
_PER_SESSION = Factor("blended_conversion_rate", get("blended_conversion_rate").label, "ratio")
_AOV = Factor("aov", get("aov").label, "money")
_RETURNS = Factor("returns", get("returns").label, "money")


# The formulas of each KPI, the first one the store can fill is used.
def _quotient(name: str, text: str, numerator: str, denominator: str, unit: str) -> tuple:
    """A ratio KPI's one formula: its numerator ÷ its denominator, both of ``unit``."""
    return (Formula(text, (Factor(f"{name}.numerator", numerator, unit),
                           Factor(f"{name}.denominator", denominator, unit)),
                    lambda n, d: n / d),)


FORMULAS: dict[str, tuple[Formula, ...]] = {
    "net_sales": (
        Formula("Net sales = sessions × blended conversion rate × average order value − returns",
                (_SESSIONS, _PER_SESSION, _AOV, _RETURNS), lambda s, c, a, r: s * c * a - r),
        Formula("Net sales = orders × average order value − returns",
                (Factor("orders", "Orders", "count"), _AOV, _RETURNS),
                lambda o, a, r: o * a - r)),
    "orders": (Formula("Orders = sessions × blended conversion rate", (_SESSIONS, _PER_SESSION),
                       lambda s, c: s * c),),
    "aov": (Formula("Average order value = units per order × price per unit − discount per "
                    "order",
                    (Factor("units_per_order", "Units per order", "decimal"),
                     Factor("gross_sales", "Price per unit (gross)", "money",
                            over="units_per_order.numerator"),
                     Factor("discounts", "Discount per order", "money", over="orders")),
                    lambda u, p, d: u * p - d),),
    "new_customers": (Formula("New customers = sessions × new customers per session",
                              (Factor("sessions", "Sessions", "count"),
                               Factor("new_customers", "New customers per session", "ratio",
                                      over="sessions")),
                              lambda s, r: s * r),),
    "mer": _quotient("mer", "MER = net sales ÷ ad spend", "Net sales (all channels)",
                     "Ad spend (all channels)", "money"),
    "roas": _quotient("roas", "ROAS = revenue of paid channels ÷ ad spend",
                      "Revenue of paid channels", "Ad spend", "money"),
    "return_rate_value": _quotient(
        "return_rate_value", "Return rate = refunds on the period's orders ÷ their gross sales",
        "Refunds on the period's orders", "Gross sales of the period's orders", "money"),
    "returning_customer_rate": _quotient(
        "returning_customer_rate", "Returning-customer rate = returning customers ÷ customers",
        "Returning customers", "Customers", "count"),
    "stockout_rate": _quotient("stockout_rate", "Stock-out rate = stock-out SKU-days ÷ SKU-days",
                               "Stock-out SKU-days", "SKU-days", "count"),
}
# The funnel's steps: the analytics conversion rate is the product of its step rates.
_STEPS = (("sessions", "sessions"), ("product_views", "product views"),
          ("add_to_carts", "add to cart"), ("checkouts", "checkout"), ("purchases", "purchase"))


def _funnel(untracked: frozenset[str]) -> Formula:
    """Conversion = the product of the step rates of the tracked steps (a step the export does
    not track is skipped: REES46's views → cart → purchase)."""
    steps = [s for s in _STEPS if s[0] not in untracked]
    factors = tuple(Factor(b, f"{wa.capitalize()} → {wb}", "ratio", over=a)
                    for (a, wa), (b, wb) in zip(steps, steps[1:]))
    # Named as its card is: the blended conversion rate is another figure.
    return Formula(f"{get('conversion_rate').label} = "
                   + " × ".join(f.label.lower() for f in factors),
                   factors, lambda *rates: math.prod(rates))


def formulas(name: str, known: caveats.Facts) -> tuple[Formula, ...]:
    if name == "conversion_rate":
        return (_funnel(known.untracked),)
    return FORMULAS.get(name, ())


# --- reading the KPIs -------------------------------------------------------------------------
def _usable(name: str, f: Filters, known: caveats.Facts) -> bool:
    k = get(name)
    try:
        check_filters(k, f)
    except FilterNotApplicable:
        return False
    return caveats.reason(k, known, f.start, f.end) is None and not k.table


def _read(con, asks: list[tuple[str, Filters, str | None]]) -> list:
    """The frames of (KPI, filters, by) read side by side, one query per filters and grouping
    (kpilib.kpi.run_many)."""
    groups: dict[tuple, list[int]] = {}
    for i, (name, f, by) in enumerate(asks):
        groups.setdefault((f, by), []).append(i)
    items = list(groups.items())
    frames = run_many(con, [Read(tuple(get(asks[i][0]) for i in members), f, by)
                            for (f, by), members in items])
    out: list = [None] * len(asks)
    for (_, members), read in zip(items, frames):
        for i, frame in zip(members, read):
            out[i] = frame
    return out


def _pick(row: dict, ref: str) -> float:
    name, _, part = ref.partition(".")
    v = row[name].get(part or "value")
    return math.nan if _nan(v) else float(v)


def _factor(row: dict, x: Factor) -> float | None:
    """A driver's value in one period: NaN when it is 0 ÷ 0 there (no orders: no AOV; what
    it multiplies is 0 then), None when it has no value for another reason (orders without
    sessions; the blended conversion of a period the traffic export does not cover): the
    formula does not apply then."""
    value = _pick(row, x.of)
    if x.over:
        den = _pick(row, x.over)
        return value / den if den else math.nan if not value else None
    name, _, part = x.of.partition(".")
    if _nan(value) and not part and get(name).ratio:
        nothing = not row[name].get("numerator") and not row[name].get("denominator")
        return math.nan if nothing else None
    return value


def _row(frame) -> dict:
    return {c: (None if _nan(v) else float(v)) for c, v in frame.iloc[0].items()}


def _money(v: float, unit: str) -> float:
    return round(v, 2) if unit in CENTS else v


# --- explain -----------------------------------------------------------------------------------
def compared_filters(f: Filters, compare: str) -> Filters:
    if compare not in COMPARE:
        raise ValueError(f"--compare is previous or last_year, not {compare!r}")
    return f.previous_period() if compare == "previous" else f.last_year()


def explain(con, name: str, f: Filters, compared: Filters, known: caveats.Facts | None = None,
            window_days: int = 30, dimensions: tuple[str, ...] | None = None,
            currency: str | None = "EUR") -> dict:
    """KPI ``name``'s change from ``compared`` to ``f``, explained (see the module): ``kpi``,
    ``current``, ``compared``, ``change``, ``formula``, ``drivers`` [{driver, label, unit,
    current, compared, effect}], ``by`` {dimension: [{member, current, compared, effect,
    mix_effect, rate_effect}]}, ``not_split`` (the dimensions of :data:`DIMENSIONS` it cannot
    be split by), ``causes`` [{kind, text, …}] and ``notes`` (sentences: a figure not final,
    a sum of some days only). A KPI without a value in either period has no change:
    ``change`` is None with a ``reason``.

    ``dimensions``: the splits wanted (the command line's ``--by``), by default every one of
    :data:`DIMENSIONS`; one the KPI is not split by raises a ValueError saying why.

    A device, country or category filter the KPI does not apply raises
    :class:`kpilib.FilterNotApplicable`, as :func:`kpilib.run` does."""
    k = get(name)
    known = known or caveats.facts(con)
    for d in dimensions or ():
        if d not in k.by:
            raise ValueError(f"{k.label} is not split by {DIMENSIONS[d]}: "
                             f"{not_split_why(k, d, known)}")
    if k.table:
        raise ValueError(f"{name} is a table, not one figure: nothing to explain")
    check_filters(k, f)
    out = {"kpi": name, "label": k.label, "unit": k.unit, "better": k.better,
           "start": f.start, "end": f.end, "compared_start": compared.start,
           "compared_end": compared.end, "current": None, "compared": None, "change": None,
           "formula": None, "drivers": [], "by": {}, "not_split": [], "not_split_why": {},
           "names": {}, "causes": [], "notes": [], "first_seen": None, "conversion": None}
    why = caveats.reason(k, known, f.start, f.end) or caveats.reason(
        k, known, compared.start, compared.end)
    # As the cards say it (ui.components._card).
    before = caveats.before_data(k, known, compared.start, compared.end, f.start)
    why = why or before and f"Not compared: {before[0].lower()}{before[1:]}"
    if why:
        return {**out, "reason": why}
    now, then = (_row(x) for x in _read(con, [(name, f, None), (name, compared, None)]))
    if _nan(now["value"]) or _nan(then["value"]):
        return {**out, "current": now["value"], "compared": then["value"],
                "reason": f"{k.label} has no value in "
                          f"{'the period' if _nan(now['value']) else 'the period compared'}."}
    current, before = _money(now["value"], k.unit), _money(then["value"], k.unit)
    # Rounded after the values are (the change shown is the difference of the values shown);
    # effects are computed exactly, then rounded to add up to it.
    change = _money(current - before, k.unit)
    exact = (now["value"] - then["value"], change)
    out.update(current=current, compared=before, change=change)
    for period, g in (("", f), (" compared", compared)):
        m = caveats.maturity(k, g.start, g.end, known.as_of, window_days)
        if not m.final:
            out["notes"].append(f"Not final: {caveats.open_text(m, g.days)} in the period"
                                f"{period}; refunds still to come will change it.")
        partial = caveats.partial_note(k, known, g.start, g.end)
        if partial:   # users summed over the days whose export has the column
            out["notes"].append(f"In the period{period}: {partial}")
    formula, out["drivers"] = _drivers(con, k, f, compared, known, now, then, exact)
    out["formula"] = formula and formula.text
    out["conversion"] = _two_conversions(con, out["drivers"], f, known)
    out["by"], lacking = _dimensions(con, k, f, compared, exact, dimensions)
    if "product" in out["by"]:
        out["by"]["product"] = _top_products(out["by"]["product"], k.unit)
        out["names"] = _product_names(con, [r["member"] for r in out["by"]["product"]])
    if formula is not None and not k.ratio:
        for d, rows in out["by"].items():
            _member_drivers(con, formula, d, rows, f, compared, known, k.unit)
    seen = "customer_type" in out["by"] and caveats.first_seen(
        known, min(f.start, compared.start))
    if seen:
        out["first_seen"] = seen
        out["notes"].append(f"New and returning customers: {seen}; a customer's first order "
                            "here is called first seen.")
    elif "customer_type" in out["by"]:
        short = caveats.short_history(known, min(f.start, compared.start))
        if short:
            out["notes"].append(f"New and returning customers: {short}.")
    out["not_split"] = lacking
    out["not_split_why"] = {d: not_split_why(k, d, known) for d in lacking}
    out["causes"] = causes(con, name, f, compared, known, currency)
    return out


def _two_conversions(con, drivers: list[dict], f: Filters, known) -> str | None:
    """Which conversion rate a driver is, when it is the blended one and the analytics one
    (the Overview's card) has a value too: two figures a manager would otherwise take for one
    that disagrees with itself (3.16 % here, 3.24 % on the card). None otherwise."""
    blended = next((d for d in drivers if d["driver"] == "blended_conversion_rate"), None)
    if blended is None or not _usable("conversion_rate", f, known):
        return None
    card = _row(_read(con, [("conversion_rate", f, None)])[0])["value"]
    if card is None:
        return None
    label, analytics = get("blended_conversion_rate").label, get("conversion_rate").label
    return (f"{label} here: orders in the orders export ÷ sessions, "
            f"{fmt(blended['current'], 'ratio')} in the period. The {analytics} card is "
            f"another figure, {fmt(card, 'ratio')}: purchases ÷ sessions, both counted by the "
            "analytics tool. They differ on purpose, as the two tools count purchases "
            "differently (trackers blocked, orders cancelled later or placed by phone).")


def _drivers(con, k, f: Filters, compared: Filters, known, now: dict, then: dict,
             exact: tuple[float, float]) -> tuple[Formula | None, list[dict]]:
    """The first of ``k``'s formulas the store fills under these filters, and its drivers'
    effects; a KPI without one is its own single driver. ``exact``: the change, exact and
    as shown."""
    whole = [{"driver": k.name, "label": k.label, "unit": k.unit, "current": now["value"],
              "compared": then["value"], "effect": exact[1]}]
    for formula in formulas(k.name, known):
        names = _names(formula)
        if not all(_usable(n, g, known) for n in names for g in (f, compared)):
            continue
        frames = _read(con, [(n, g, None) for g in (f, compared) for n in names])
        rows = [{n: _row(x) for n, x in zip(names, frames[i:i + len(names)])}
                for i in (0, len(names))]
        drivers = _apply(formula, *rows)
        if drivers is not None:
            return formula, _close(drivers, exact, k.unit, "driver")
    return None, whole


def _names(formula: Formula) -> list[str]:
    return sorted(set().union(*(x.kpis() for x in formula.factors)))


def _apply(formula: Formula, now: dict, then: dict) -> list[dict] | None:
    """Each driver of ``formula`` with its values and its effect (unrounded), from the KPIs'
    rows of the two periods; None when a driver has no value (see :func:`_factor`)."""
    after, before = ([_factor(r, x) for x in formula.factors] for r in (now, then))
    if None in after + before or any(_nan(a) and _nan(b) for a, b in zip(after, before)):
        return None
    # A driver without a value in one period (no orders: no AOV) keeps the other's: its
    # own effect is 0, and what it multiplies is 0 in that period anyway.
    after = [b if _nan(a) else a for a, b in zip(after, before)]
    before = [a if _nan(b) else b for a, b in zip(after, before)]
    try:
        effects = shapley(formula.value, before, after)
    except ZeroDivisionError:
        return None
    return [{"driver": x.of if not x.over else f"{x.of}/{x.over}", "label": x.label,
             "unit": x.unit, "current": a, "compared": b, "effect": e}
            for x, a, b, e in zip(formula.factors, after, before, effects)]


def _close(rows: list[dict], exact: tuple[float, float], unit: str, key: str) -> list[dict]:
    """``rows`` with what they leave of the change (``exact``: exact, and as shown) as a last
    line of its own when more than float rounding, their effects to the cent for money and
    counts (adding up to the change shown), the largest first."""
    change = exact[1]
    rest = exact[0] - sum(r["effect"] for r in rows)
    scale = max([1.0, *(abs(r[c]) for r in rows for c in ("current", "compared")
                        if isinstance(r.get(c), float) and not math.isnan(r[c]))])
    # A tenth of a cent for money and counts (the sums are exact decimals, read as floats);
    # for rates, float error far below the 1e-9 promised.
    tolerance = 0.001 if unit in CENTS else 1e-11 * scale
    if abs(rest) > tolerance:
        rows = rows + [{key: REST, "label": "Not attributable", "current": None,
                        "compared": None, "effect": rest,
                        **({"mix_effect": None, "rate_effect": None} if key == "member"
                           else {"unit": unit})}]
    if unit in CENTS:
        for r, e in zip(rows, to_cents([r["effect"] for r in rows], change)):
            r["effect"] = e
        for r in rows:
            for c in ("mix_effect", "rate_effect"):
                if r.get(c) is not None:
                    r[c] = round(r[c], 2)
        # Mix and rate stay exact parts of a member's effect to the cent.
        for r in rows:
            if r.get("mix_effect") is not None:
                r["rate_effect"] = round(r["effect"] - r["mix_effect"], 2)
    return sorted(rows, key=lambda r: (r[key] == REST, -abs(r["effect"])))


def _dimensions(con, k, f: Filters, compared: Filters, exact: tuple[float, float],
                wanted: tuple[str, ...] | None = None):
    """{dimension: rows} for the dimensions ``k`` is split by (of ``wanted``), and those it
    is not."""
    asked = [d for d in DIMENSIONS if wanted is None or d in wanted]
    dims = [d for d in asked if d in k.by]
    shared = [d for d in dims if d in SHARED_SCAN and _adjacent(k, f, compared)]
    asks = [(k.name, g, d) for d in dims if d not in shared for g in (f, compared)]
    frames = dict(zip([(d, g) for _, g, d in asks], _read(con, asks)))
    for d in shared:
        frames[d, f], frames[d, compared] = run_periods(con, k, [f, compared], d)
    out = {}
    for d in dims:
        now, then = frames[d, f], frames[d, compared]
        if set(now[d]) | set(then[d]) <= {None, "unknown"}:
            continue   # the export records none (orders without a device): no split
        if k.ratio:
            pairs = [{m: (v, den) for m, v, den in zip(x[d], x["value"], x["denominator"])
                      if den} for x in (then, now)]
            split = mix_rate(*pairs)
            rows = [{"member": m, "current": pairs[1].get(m, (None,))[0],
                     "compared": pairs[0].get(m, (None,))[0], "effect": mix + rate,
                     "mix_effect": mix, "rate_effect": rate}
                    for m, (mix, rate) in split.items()]
        else:
            values = [dict(zip(x[d], x["value"])) for x in (then, now)]
            rows = [{"member": m, "current": values[1].get(m, 0.0),
                     "compared": values[0].get(m, 0.0),
                     "effect": values[1].get(m, 0.0) - values[0].get(m, 0.0),
                     "mix_effect": None, "rate_effect": None}
                    for m in dict.fromkeys([*values[0], *values[1]])]
        # A member without a value (guests' orders, goods without a product) is None, not
        # the NaN a frame holds (JSON has none); money and counts to the cent, as the KPI's
        # own figures (a sum of lines' shares of discounts came to 5031.6900000000005).
        rows = [{**r, "member": None if _nan(r["member"]) else r["member"],
                 **{c: None if _nan(r[c]) else _money(float(r[c]), k.unit)
                    for c in ("current", "compared")}}
                for r in rows]
        out[d] = _close(rows, exact, k.unit, "member")
    return out, [d for d in asked if d not in out]


# The splits read from the rows, not the daily rollups: for two adjacent periods, one query
# (kpilib.kpi.run_periods) reads the rows, and for new vs returning customers every customer's
# first order, once rather than once per period. At 0.25 scale (net sales, 30 days against
# the 30 before, CPU): by customer type 0.45 → 0.23 s, category 0.25 → 0.14 s, product
# 0.27 → 0.23 s, country 0.08 → 0.05 s.
SHARED_SCAN = ("country", "category", "product", "customer_type")


def _adjacent(k, f: Filters, compared: Filters) -> bool:
    """Whether both periods are read by one query (kpilib.kpi.run_periods): ``k`` sums over
    days and the periods are adjacent or overlap (the previous period; not last year, whose
    months between would be read for nothing), under the same other filters."""
    first, last = min(f.start, compared.start), max(f.end, compared.end)
    return (k.additive and replace(compared, start=f.start, end=f.end) == f
            and (last - first).days + 1 <= f.days + compared.days)


def _top_products(rows: list[dict], unit: str) -> list[dict]:
    """The :data:`TOP_PRODUCTS` products of largest effect, and the others as one line whose
    effect (and mix and rate effects) is the sum of theirs: the parts still add up to the
    change (to the cent: the lines are whole cents, so is their sum)."""
    shown = [r for r in rows if r["member"] != REST]
    if len(shown) <= TOP_PRODUCTS + 1:
        return rows
    rest = shown[TOP_PRODUCTS:] + [r for r in rows if r["member"] == REST]
    other = {"member": OTHER_PRODUCTS, "current": None, "compared": None,
             "effect": sum(r["effect"] for r in rest), "mix_effect": None, "rate_effect": None,
             "members": len(rest)}
    for c in ("current", "compared"):
        if unit not in ("ratio", "times") and all(r[c] is not None for r in rest):
            other[c] = sum(r[c] for r in rest)   # a sum's parts: the products' own figures
    if all(r["mix_effect"] is not None for r in rest):
        other["mix_effect"] = sum(r["mix_effect"] for r in rest)
        other["rate_effect"] = sum(r["rate_effect"] for r in rest)
    if unit in CENTS:
        for c in ("effect", "mix_effect", "rate_effect", "current", "compared"):
            if other[c] is not None:
                other[c] = round(other[c], 2)
    return shown[:TOP_PRODUCTS] + [other]


def _product_names(con, skus: list) -> dict:
    """{sku: product name} of the SKUs shown (their names as the top-products table gives
    them)."""
    skus = [s for s in skus if isinstance(s, str) and s != OTHER_PRODUCTS]
    if not skus:
        return {}
    rows = con.cursor().execute(
        "select sku, max(product_name) from sku_info where list_contains($skus, sku) "
        "group by sku", {"skus": skus}).fetchall()
    return {sku: name for sku, name in rows if name and name != sku}


def not_split_why(k, dimension: str, known: caveats.Facts | None = None) -> str:
    """Why ``k`` has no split by ``dimension``, in a clause that does not name it (the
    dimensions left out for one reason are said in one sentence: :func:`split_note`)."""
    if dimension in k.by or (known is not None and dimension in known.unsplit):
        # No stored order has one: there is no such filter in the sidebar to point to either.
        # Split so, but every row's member is unrecorded (orders without a device).
        return "the exports record none in these periods"
    if dimension in ("product", "category") and "customer_type" in k.by:
        # Split by its orders' customers but not by their lines: a figure of whole orders.
        return PER_ORDER
    filter_of = {dim: name for name, dim in SPLITS.items()}.get(dimension)
    if filter_of in takes(k):
        # The filter applies (its figures add up to the shop's): only this view's ranked
        # split is not read. Saying "not held" contradicted the sidebar's filter.
        return (f"this view does not rank {k.label.lower()} by it; the sidebar's "
                f"{dimension} filter shows each one's figure")
    return f"the store does not hold {k.label.lower()} split that way"


def _member_drivers(con, formula: Formula, d: str, rows: list[dict], f: Filters,
                    compared: Filters, known, unit: str) -> None:
    """Each member's change of a sum split by the same formula (paid social's net sales by
    its sessions, blended conversion rate, AOV and returns), as ``drivers`` on its row, when every
    driver's KPI is split by ``d``; a member whose drivers have no value (orders without
    sessions) is left whole."""
    names = _names(formula)
    if not all(d in get(n).by and _usable(n, g, known) for n in names for g in (f, compared)):
        return
    frames = _read(con, [(n, g, d) for g in (f, compared) for n in names])
    by_member = [{n: {m: dict(zip(x.columns, vals)) for m, *vals in
                      zip(x[d], *(x[c] for c in x.columns))}
                  for n, x in zip(names, frames[i:i + len(names)])}
                 for i in (0, len(names))]
    empty = {"value": None, "numerator": 0.0, "denominator": 0.0}
    for r in rows:
        if r["member"] == REST:
            continue
        now, then = ({n: {c: _plain(v) for c, v in part[n].get(r["member"], empty).items()
                          if c in ("value", "numerator", "denominator")}
                      for n in names} for part in by_member)
        for n in names:   # a sum's member without rows is 0, as the KPI's frame fills it
            for part in (now, then):
                if part[n].get("value") is None and not get(n).ratio \
                        and get(n).empty is not None:
                    part[n]["value"] = float(get(n).empty)
        drivers = _apply(formula, now, then)
        if drivers is None:
            continue
        exact = (sum(x["effect"] for x in drivers), r["effect"])
        rest = r["effect"] - exact[0]
        if abs(rest) > (0.006 if unit in CENTS else 1e-9):
            continue   # the drivers do not reconcile with the member's figure: not shown
        r["drivers"] = _close(drivers, (r["effect"], r["effect"]), unit, "driver")


def _plain(v):
    return None if _nan(v) else float(v)


# --- candidate causes --------------------------------------------------------------------------
# The KPIs each kind of cause bears on.
SALES = {"net_sales", "orders", "aov", "gross_sales", "conversion_rate", "blended_conversion_rate",
         "new_customers", "mer", "roas", "units_per_order"}
STOCK_CAUSE = SALES - {"aov"}
SPEND_CAUSE = {"net_sales", "orders", "sessions", "new_customers", "mer", "roas", "cac",
               "conversion_rate"}
TRAFFIC_CAUSE = {"net_sales", "orders", "new_customers", "conversion_rate", "mer",
                 "aov", "blended_conversion_rate"}
DISCOUNT_CAUSE = {"net_sales", "orders", "aov", "gross_sales", "mer", "roas"}
# The table a KPI's daily figure reads, and the count that is 0 on a day with nothing stored.
DAILY = {"orders": "orders", "traffic": "sessions", "marketing_spend": "spend"}
# Their daily tables (the first and last day stored), and how many empty days in a row are a
# gap rather than a quiet day.
DAILY_TABLES = {"orders": "orders_daily", "traffic": "traffic",
                "marketing_spend": "marketing_spend"}
WEEK = 7


def causes(con, name: str, f: Filters, compared: Filters, known: caveats.Facts,
           currency: str | None = "EUR") -> list[dict]:
    """What else the store says about the same days, as sentences with their figures (money
    in ``currency``: "€11,988.84" in a pound shop was a walkthrough's): days with nothing
    stored, stock-outs, spend and traffic by channel, discounts. Each only where it bears on
    ``name`` and the store holds its data."""
    out = _gaps(con, name, f, compared, known)
    if name in STOCK_CAUSE and _usable("lost_revenue_stockout", f, known):
        out += _stockouts(con, f, compared, currency)
    # Not against days before the export's first: "ad spend rose by £11,988.84 (£0.00 → …)"
    # for a March whose spend was never uploaded.
    if name in SPEND_CAUSE and _usable("spend", f, known) and not caveats.before_data(
            get("spend"), known, compared.start, compared.end):
        out += _by_channel(con, "spend", f, compared, "spend", currency)
    if name in TRAFFIC_CAUSE and _usable("sessions", f, known) and not caveats.before_data(
            get("sessions"), known, compared.start, compared.end):
        out += _by_channel(con, "sessions", f, compared, "traffic", currency)
    if name in DISCOUNT_CAUSE and _usable("discounts", f, known):
        out += _discounts(con, f, compared, currency)
    return out


def _gaps(con, name: str, f: Filters, compared: Filters, known) -> list[dict]:
    """Days of either period with nothing stored in a table the KPI reads: before its first
    stored day or after its last, or a week or more in a row with nothing (a month not
    uploaded reads as a fall; a shop closed on Sundays is not flagged). The whole shop's
    days, whatever the channels picked: an upload is of every channel."""
    k = get(name)
    tables = [t for t in DAILY if t in caveats.needs(k) or
              any(t in caveats.needs(get(n)) for fm in formulas(name, known)
                  for x in fm.factors for n in x.kpis())]
    whole = Filters(min(f.start, compared.start), max(f.end, compared.end))
    tables = [t for t in tables if t in known.tables and _usable(DAILY[t], whole, known)]
    if not tables:
        return []
    frames = _read(con, [(DAILY[t], whole, "day") for t in tables])
    # Table names from DAILY_TABLES only.
    spans = con.cursor().execute("select " + ", ".join(
        f"(select min(day) from {DAILY_TABLES[t]}), (select max(day) from {DAILY_TABLES[t]})"
        for t in tables)).fetchall()[0]
    out = []
    for i, (t, daily) in enumerate(zip(tables, frames)):
        lo, hi = spans[2 * i], spans[2 * i + 1]
        days = list(daily["period"])
        empty = [not v for v in daily["value"]]
        missing = {d for d, e in zip(days, empty) if e and (lo is None or d < lo or d > hi)}
        run: list = []
        for d, e in zip(days + [None], empty + [False]):
            if e:
                run.append(d)
                continue
            if len(run) >= WEEK:
                missing.update(run)
            run = []
        for which, g in (("this period", f), ("the period compared", compared)):
            gone = sorted(d for d in missing if g.start <= d <= g.end)
            if not gone:
                continue
            shown = ", ".join(f"{d.day} {d:%b %Y}" for d in gone[:5]) + \
                (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
            out.append({"kind": "missing_days", "table": t, "period": which,
                        "days": [d.isoformat() for d in gone],
                        "text": f"No {WORDS[t]} stored on "
                                f"{plural(len(gone), 'day')} of {which} ({shown}): a "
                                "missing upload reads as a fall."})
    return out


def _stockouts(con, f: Filters, compared: Filters, currency: str | None) -> list[dict]:
    """Revenue lost to stock-outs in both periods, and the SKUs that lost most with their
    share of it. An estimate (units sold per in-stock day × days out of stock × price), said
    as one and rounded as one: "€90,442.27" read as a figure counted to the cent. The same
    KPIs as the Stock page's, so the same figures, but for a channel filter: stock is the
    whole shop's there, and this counts the chosen channels' sales (said)."""
    lost_now, lost_then = _read(con, [("lost_revenue_stockout", f, None),
                                      ("lost_revenue_stockout", compared, None)])
    now, then = _row(lost_now)["value"] or 0.0, _row(lost_then)["value"] or 0.0
    if not now and not then:
        return []
    top = run(con, get("lost_revenue_skus"), f, limit=5)
    items = [{"sku": r.sku, "product_name": r.product_name, "oos_days": _plain(r.oos_days),
              "lost_revenue": round(float(r.lost_revenue), 2),
              "share": float(r.lost_revenue) / now if now else None}
             for r in top.itertuples()]
    named = "; ".join(f"{i['product_name'] or i['sku']} "
                      f"({plural(int(i['oos_days'] or 0), 'day')} out of stock, "
                      f"{about(i['lost_revenue'], currency)}, {_share(i['share'])} of it)"
                      for i in items[:3])
    whose = " from the chosen channels' sales (the Stock page counts the whole shop's)" \
        if f.channels else ""
    return [{"kind": "stockouts", "current": round(now, 2), "compared": round(then, 2),
             "change": round(now - then, 2), "items": items,
             "text": f"Revenue lost to stock-outs, estimated{whose}: "
                     f"{about(now, currency)} against {about(then, currency)} in the period "
                     "compared" + (f"; the largest: {named}." if named else ".")}]


def about(v: float, currency: str | None) -> str:
    """An estimate in money, to two significant figures and whole units: "about €92,000"."""
    return f"about {estimate(v, currency)}" if v else estimate(v, currency)


def _share(s: float | None) -> str:
    if s is None:
        return "–"
    return "under 1 %" if s < 0.005 else f"{s:.0%}".replace("%", " %")


def _by_channel(con, name: str, f: Filters, compared: Filters, kind: str,
                currency: str | None) -> list[dict]:
    now, then = _read(con, [(name, f, "channel"), (name, compared, "channel")])
    a, b = (dict(zip(x["channel"], x["value"])) for x in (now, then))
    changes = sorted(((c, a.get(c, 0.0) - b.get(c, 0.0)) for c in dict.fromkeys([*a, *b])),
                     key=lambda x: -abs(x[1]))
    unit = get(name).unit
    out = []
    for c, d in changes[:3]:
        if not d:
            continue
        if kind == "traffic":
            text = (f"{channel_words(c)} sent {fmt(abs(d), 'count')} "
                    f"{'more' if d > 0 else 'fewer'} sessions ({fmt(b.get(c, 0.0), 'count')} → "
                    f"{fmt(a.get(c, 0.0), 'count')}).")
        else:
            text = (f"Ad spend on {channel_words(c).lower()} "
                    f"{'rose' if d > 0 else 'fell'} by {fmt(abs(d), 'money', currency)} "
                    f"({fmt(b.get(c, 0.0), 'money', currency)} → {fmt(a.get(c, 0.0), 'money', currency)}).")
        out.append({"kind": kind, "channel": c, "current": _money(a.get(c, 0.0), unit),
                    "compared": _money(b.get(c, 0.0), unit), "change": _money(d, unit),
                    "text": text})
    return out


def _discounts(con, f: Filters, compared: Filters, currency: str | None) -> list[dict]:
    frames = _read(con, [(n, g, None) for g in (f, compared) for n in ("discounts",
                                                                       "gross_sales")])
    d1, g1, d0, g0 = (_row(x)["value"] or 0.0 for x in frames)
    if not d1 and not d0:
        return []
    s1, s0 = (d / g if g else math.nan for d, g in ((d1, g1), (d0, g0)))
    if not g0 or not g1:
        text = (f"Discounts: {fmt(d1, 'money', currency)} against {fmt(d0, 'money', currency)} in the period "
                f"compared, which had {'no' if not g0 else 'some'} sales.")
    else:
        # Half as much again of gross sales given away: worth asking about a promotion.
        text = (f"Discounts were {fmt(s1, 'ratio')} of gross sales ({fmt(d1, 'money', currency)}) "
                f"against {fmt(s0, 'ratio')} ({fmt(d0, 'money', currency)}) in the period compared"
                + (": a promotion?" if s1 > s0 * 1.5 else "."))
    return [{"kind": "discounts", "current": round(d1, 2), "compared": round(d0, 2),
             "change": round(d1 - d0, 2), "share": _plain(s1), "compared_share": _plain(s0),
             "text": text}]


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# --- in words ----------------------------------------------------------------------------------
CUSTOMER_TYPES = {"new": "New customers (first order)",
                  "returning": "Returning customers (a later order)",
                  None: "Guests (no customer id)"}
# The same where a period starts with the first stored order (caveats.first_seen): a first
# order in the store may not be the customer's first, as the Customers page says it.
SEEN_TYPES = {**CUSTOMER_TYPES, "new": "First seen in this export",
              "returning": "Seen before in this export"}


def member_words(dimension: str, member, names: dict | None = None,
                 first_seen: bool = False) -> str:
    if member == REST:
        return "Not attributable to one " + DIMENSIONS[dimension]
    if dimension == "customer_type":
        return (SEEN_TYPES if first_seen else CUSTOMER_TYPES).get(member, str(member))
    if member == OTHER_PRODUCTS:
        return "All other products"
    if member is None:
        # Goods of orders whose lines are not stored: in no product, still in the total.
        return f"No {DIMENSIONS[dimension]} recorded"
    if dimension == "product" and names and names.get(member):
        return f"{names[member]} ({member})"
    return channel_words(member) if dimension in ("channel", "device") else str(member)


def effect_text(unit: str, effect: float, currency: str = "EUR") -> str:
    """An effect as a change of the KPI: "−€3,400.00", "+0.12 pp", "+0.03×", "−12 orders";
    one too small for those decimals with as many more as show it ("+0.004 pp", up to 4),
    and "no change" for one that rounds to nothing even so ("+0.00 pp" read as a change)."""
    sign = "+" if effect > 0 else "−" if effect < 0 else "±"
    size = abs(effect) * (100 if unit == "ratio" else 1)
    usual = {"ratio": 2, "times": 2, "money": 2, "decimal": 2, "days": 1}.get(
        unit, 1 if effect != round(effect) else 0)
    digits = next((d for d in range(usual, max(usual, 4) + 1) if round(size, d)), None)
    if digits is None or unit not in ("ratio", "times") and digits > usual:
        return "no change"
    if unit == "count" and effect != round(effect):
        return f"{sign}{size:,.1f}"   # a formula's part of a count: 23.4 orders
    if unit == "ratio":
        return f"{sign}{size:.{digits}f} pp"
    if unit == "times":
        return f"{sign}{size:.{digits}f}×"
    return sign + fmt(size, unit, currency).lstrip("-")


def member_text(dimension: str, row: dict, k_label: str, unit: str, currency: str = "EUR",
                names: dict | None = None, first_seen: bool = False) -> str:
    """One line of the ranked table in words: "Paid social: net sales €12,300.00 →
    €8,900.00: −€3,400.00" (for a ratio, with the part its mix and its rate explain)."""
    who = member_words(dimension, row["member"], names, first_seen)
    total = effect_text(unit, row["effect"], currency)
    if row["member"] == REST or (row["member"] == OTHER_PRODUCTS and row["current"] is None):
        return f"{who}: {total}"
    if row["member"] == OTHER_PRODUCTS:
        who = f"{who} ({plural(row['members'], 'product')})"
    then, now = (fmt(row[c], unit, currency) for c in ("compared", "current"))
    text = f"{who}: {k_label.lower()} {then} → {now}: {total}"
    parts = [d for d in row.get("drivers", []) if d["driver"] != REST and d["effect"]]
    if parts:
        text += " (" + "; ".join(driver_phrase(d, unit, currency) for d in parts[:2]) + ")"
    if row.get("mix_effect") is not None:
        text += (f" ({effect_text(unit, row['rate_effect'], currency)} from its own rate, "
                 f"{effect_text(unit, row['mix_effect'], currency)} from its share)")
    return text


def driver_phrase(row: dict, unit: str, currency: str = "EUR") -> str:
    """A driver's part in a member's change: "1,200 fewer sessions: −€3,400.00",
    "blended conversion rate 2.10 % → 2.40 %: +€812.00"."""
    effect = effect_text(unit, row["effect"], currency)
    if row["label"] == "Sessions":
        moved = row["current"] - row["compared"]
        return (f"{fmt(abs(moved), 'count')} {'more' if moved > 0 else 'fewer'} sessions: "
                f"{effect}")
    return (f"{row['label'][0].lower()}{row['label'][1:]} "
            f"{fmt(row['compared'], row['unit'], currency)} → "
            f"{fmt(row['current'], row['unit'], currency)}: {effect}")


def driver_text(row: dict, unit: str, currency: str = "EUR") -> str:
    """"Sessions 12,000 → 10,800: −€3,400.00"."""
    if row["driver"] == REST:
        return f"Not attributable: {effect_text(unit, row['effect'], currency)}"
    return (f"{row['label']} {fmt(row['compared'], row['unit'], currency)} → "
            f"{fmt(row['current'], row['unit'], currency)}: "
            f"{effect_text(unit, row['effect'], currency)}")


def headline(out: dict, currency: str = "EUR") -> str:
    """"Net sales rose from €13,982.07 to €16,584.83 (+€2,602.76) against 1 Sep – 30 Sep
    2026.", or why there is nothing to explain."""
    unit, label = out["unit"], out["label"]
    against = caveats.days_text([(out["compared_start"], out["compared_end"])])
    if out["change"] is None:
        return f"{label}: nothing to explain. {out.get('reason', '')}".strip()
    verb = "rose" if out["change"] > 0 else "fell" if out["change"] < 0 else "did not change"
    return (f"{label} {verb} from {fmt(out['compared'], unit, currency)} to "
            f"{fmt(out['current'], unit, currency)} "
            f"({effect_text(unit, out['change'], currency)}) against {against}.")


def sections(out: dict, currency: str = "EUR", top: int = 3) -> list[tuple[str, list[str]]]:
    """The explanation as (title, sentences) a manager reads: the formula's drivers, the
    ``top`` members of each dimension, the candidate causes; the notes last, untitled."""
    if out["change"] is None:
        return []
    unit, said = out["unit"], []
    if out["formula"]:
        said.append((out["formula"], [driver_text(d, unit, currency) for d in out["drivers"]]
                     + ([out["conversion"]] if out.get("conversion") else [])))
    for d, rows in out["by"].items():
        members = [member_text(d, r, out["label"], unit, currency, out.get("names"),
                               bool(out.get("first_seen")))
                   for r in rows[:top]]
        if len(rows) > top:
            rest = sum(r["effect"] for r in rows[top:])
            # The products' "(all other products)" line holds many: "8 others" counted it as one
            # where it was 134 products.
            members.append(f"{plural(sum(r.get('members', 1) for r in rows[top:]), 'other')}: "
                           f"{effect_text(unit, _money(rest, unit), currency)}")
        said.append((f"By {DIMENSIONS[d]}", members))
    if out["causes"]:
        said.append(("On the same days", [c["text"] for c in out["causes"]]))
    notes = out["notes"] + ([split_note(out)] if out["not_split"] else [])
    if notes:
        said.append(("", notes))
    return said


def split_note(out: dict) -> str:
    """"Not split by device or country: …": the dimensions left out, in a sentence for each
    reason."""
    why = out.get("not_split_why") or {}
    reasons: dict[str, list[str]] = {}
    for d in out["not_split"]:
        reasons.setdefault(why.get(d) or f"the store does not hold {out['label'].lower()} "
                           "split that way", []).append(DIMENSIONS[d])
    return " ".join(f"Not split by {_words(ds)}: {r}." for r, ds in reasons.items())


def text(out: dict, currency: str = "EUR", top: int = 3) -> str:
    """The explanation as plain text (``python -m kpilib explain --format text``)."""
    said = [headline(out, currency)]
    for title, items in sections(out, currency, top):
        said += [f"{title}:", *(f"  {i}" for i in items)] if title else items
    return "\n".join(said)


def week_before(f: Filters) -> Filters:
    """The same days a week before: what an unusual day is explained against (one of the 8
    weekdays its usual range is made of)."""
    return replace(f, start=f.start - timedelta(days=7), end=f.end - timedelta(days=7))
