"""The conversion funnel: session → product view → add to cart → checkout → purchase.

Each step counts the sessions that reached it, as the analytics export or the roll-up of
session/event rows reports them. A session can purchase without a cart event (real exports
have such sessions): it counts in purchases and not in add-to-carts, so a step rate can exceed
100 % on small numbers. That is reported, not hidden.
"""
from __future__ import annotations

import math

import pandas as pd

from .dimensions import Measure
from .kpi import Kpi
from .measures import ratio, total

# The sources, filtered by every dimension they carry (kpilib/dimensions.py): blended
# conversion takes the device filter (orders and traffic both carry it), not the country.
TRAFFIC, VALID = "{src:traffic}", "{src:valid_orders}"
BY = ("day", "week", "month", "channel", "device")

# (count KPI, label) in funnel order.
STEPS = (("sessions", "Sessions"), ("product_views", "Product view"),
         ("add_to_carts", "Add to cart"), ("checkouts", "Checkout"), ("purchases", "Purchase"))


def _count(name: str, label: str, what: str) -> Kpi:
    return total(name, label, "count",
                 f"Sessions that {what} in the period (each session counts once per "
                 "step, whatever the steps before it).", Measure("traffic", name), by=BY)


def _rate(name: str, label: str, num: str, den: str, definition: str) -> Kpi:
    return ratio(name, label, Measure("traffic", num), Measure("traffic", den), definition,
                 by=BY)


PRODUCT_VIEWS = _count("product_views", "Product-view sessions", "viewed a product")
ADD_TO_CARTS = _count("add_to_carts", "Add-to-cart sessions", "added to cart")
CHECKOUTS = _count("checkouts", "Checkout sessions", "began a checkout")
PURCHASES = _count("purchases", "Purchase sessions", "purchased")

PRODUCT_VIEW_RATE = _rate("product_view_rate", "Product-view rate", "product_views", "sessions",
                          "Sessions that viewed a product ÷ sessions.")
ADD_TO_CART_RATE = _rate("add_to_cart_rate", "Add-to-cart rate", "add_to_carts", "sessions",
                         "Sessions that added to cart ÷ sessions.")
CHECKOUT_RATE = _rate("checkout_rate", "Checkout rate", "checkouts", "sessions",
                      "Sessions that began a checkout ÷ sessions.")
VIEW_TO_CART = _rate("view_to_cart_rate", "View → cart", "add_to_carts", "product_views",
                     "Step conversion: sessions that added to cart ÷ sessions that viewed a "
                     "product; drop-off is 1 − this.")
CART_TO_CHECKOUT = _rate("cart_to_checkout_rate", "Cart → checkout", "checkouts", "add_to_carts",
                         "Step conversion: sessions that began a checkout ÷ sessions that added "
                         "to cart; drop-off is 1 − this.")
CHECKOUT_TO_PURCHASE = _rate("checkout_to_purchase_rate", "Checkout → purchase", "purchases",
                             "checkouts", "Step conversion: sessions that purchased ÷ sessions "
                             "that began a checkout; drop-off is 1 − this.")
CART_ABANDONMENT = Kpi(
    name="cart_abandonment_rate", label="Cart abandonment", unit="ratio",
    definition="1 − sessions that purchased ÷ sessions that added to cart.",
    sql=f"""select {{key}} as key, sum(add_to_carts) - sum(purchases) as numerator,
                   sum(add_to_carts) as denominator,
                   1 - sum(purchases) / nullif(sum(add_to_carts), 0) as value
            from {TRAFFIC} group by all""",
    by=BY, ratio=True, empty=None, better="down", additive=True,
    floor=(0.0, "Not meaningful: more sessions purchased than added to cart (the export records "
                "purchases without a cart step), so abandonment would read below 0 %."))
# Orders from the order export over sessions from the analytics export, as Polar labels it:
# shown only when both exports cover the whole period, else the ratio would mix coverage.
BLENDED_CONVERSION = Kpi(
    name="blended_conversion_rate", label="Blended conversion rate", unit="ratio",
    definition="Valid orders (order export) ÷ sessions (analytics export), labelled 'blended' "
               "because the two come from different tools; no value unless both exports cover "
               "the whole period.",
    sql=f"""with o as (select {{key}} as key, sum(n) as orders from {VALID}
                       group by all),
                 s as (select {{key}} as key, sum(sessions) as sessions from {TRAFFIC}
                       group by all),
                 covered as (select (select min(day) from orders) <= $start
                                and (select max(day) from orders) >= $end
                                and (select min(day) from traffic) <= $start
                                and (select max(day) from traffic) >= $end as ok)
            select key, coalesce(orders, 0) as numerator, sessions as denominator,
                   case when (select ok from covered)
                        then coalesce(orders, 0) / nullif(sessions, 0) end as value
            from s left join o using (key)""",
    by=BY, ratio=True, empty=None, rollup=True)

KPIS = (PRODUCT_VIEWS, ADD_TO_CARTS, CHECKOUTS, PURCHASES, PRODUCT_VIEW_RATE, ADD_TO_CART_RATE,
        CHECKOUT_RATE, VIEW_TO_CART, CART_TO_CHECKOUT, CHECKOUT_TO_PURCHASE, CART_ABANDONMENT,
        BLENDED_CONVERSION)


def steps(counts: dict[str, float], untracked=()) -> pd.DataFrame:
    """The funnel table from the step counts (KPI name → sessions): sessions at each step,
    conversion from the step before, drop-off, and share of all sessions. A step the export
    does not track (``untracked``: its column names) has no figures, and the next step is
    compared with the last tracked one (``tracked`` False)."""
    rows, before = [], None
    first = counts.get(STEPS[0][0]) or 0
    for name, label in STEPS:
        if name in untracked:
            rows.append({"step": label, "sessions": math.nan, "step_conversion": math.nan,
                         "drop_off": math.nan, "of_sessions": math.nan, "tracked": False})
            continue
        n = counts.get(name) or 0
        step = n / before if before else (1.0 if before is None else math.nan)
        rows.append({"step": label, "sessions": n,
                     "step_conversion": step,
                     "drop_off": 1 - step if not math.isnan(step) else math.nan,
                     "of_sessions": n / first if first else math.nan, "tracked": True})
        before = n
    return pd.DataFrame(rows)
