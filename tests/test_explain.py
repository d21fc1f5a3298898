"""What changed (kpilib/explain.py): hand-counted decompositions on a tiny shop, the mix shift
that lowers a rate while every channel's rises, a property test that every breakdown adds up
to the change on random periods and filters of the demo shop, and the command line.

The tiny shop (tests/data/explain/), 3 March 2025 compared with 4 March 2025:

    orders   3 Mar: o1 email 50.00 (2 × 25.00), o2 email 50.00 (1 × 50.00)
             4 Mar: o3 email 60.00 (2 × 30.00), o4 paid social 40.00 (1 × 40.00),
                    o5 paid social 80.00 − 20.00 discount (2 × 40.00)
    refunds  4 Mar: r1 30.00 on o4 (paid social)
    traffic  sessions → views → cart → checkout → purchase
             3 Mar: email 100 → 50 → 20 → 12 → 10,  paid social 100 → 40 → 8 → 2 → 1
             4 Mar: email  20 → 10 →  5 →  4 →  3,  paid social 380 → 150 → 30 → 12 → 8
"""
import json
import math
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from helpers import cli
from kpilib import Filters, Store
from kpilib import explain as ex
from kpilib.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "tests" / "data" / "explain"
MAR3 = Filters(date(2025, 3, 3), date(2025, 3, 3))
MAR4 = Filters(date(2025, 3, 4), date(2025, 3, 4))


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("explain") / "store")
    ingest(store, sorted(SHOP.glob("*.csv")))
    return store


@pytest.fixture(scope="module")
def orders_only(tmp_path_factory) -> Store:
    """The same shop without its traffic export."""
    store = Store(tmp_path_factory.mktemp("explain") / "store")
    ingest(store, [SHOP / n for n in ("orders.csv", "order_items.csv", "refunds.csv")])
    return store


def close(a, b, tol=1e-12):
    assert math.isclose(a, b, rel_tol=0, abs_tol=tol), (a, b)


def effects(rows, key="driver"):
    return {r[key]: r["effect"] for r in rows}


# --- the arithmetic --------------------------------------------------------------------------
def test_shapley_of_a_product_by_hand():
    """x·y from (2, 3) to (4, 5): x's effect ½[(4·3 − 2·3) + (4·5 − 2·5)] = ½(6 + 10) = 8,
    y's ½[(2·5 − 2·3) + (4·5 − 4·3)] = ½(4 + 8) = 6; 8 + 6 = 20 − 6."""
    assert ex.shapley(lambda x, y: x * y, [2, 3], [4, 5]) == [8, 6]


def test_mix_rate_by_hand_and_a_member_new_in_the_period():
    """A: rate 0.1 → 0.2 on a share ½ → ¼; B new (share 0 → ¾, rate 0.4, its own rate in
    both periods: all of its contribution is mix).
    A: mix r̄Δs = 0.15 × −0.25 = −0.0375, rate s̄Δr = 0.375 × 0.1 = 0.0375.
    B: mix 0.4 × 0.75 = 0.3, rate 0. Sum 0.3 = (¼·0.2 + ¾·0.4) − (½·0.1 + ½·x)… with B's
    denominator 0 before, the ratio before is A's alone: 0.1 (B's share 0); after 0.35."""
    split = ex.mix_rate({"A": (0.1, 50.0), "B": (math.nan, 0.0), "C": (0.1, 50.0)},
                        {"A": (0.2, 25.0), "B": (0.4, 75.0)})
    close(split["A"][0], -0.0375)
    close(split["A"][1], 0.0375)
    close(split["B"][0], 0.3)
    close(split["B"][1], 0.0)
    # C (gone): rate unknown after, taken as before: mix 0.1 × −½ = −0.05, rate 0.
    close(split["C"][0], -0.05)
    assert sum(sum(v) for v in split.values()) == pytest.approx(
        (0.25 * 0.2 + 0.75 * 0.4) - (0.5 * 0.1 + 0.5 * 0.1), abs=1e-15)


def test_to_cents_adds_up_exactly():
    """95.8333 − 41.6667 + 25.8333 − 30 rounds to 95.83 − 41.67 + 25.83 − 30.00 = 49.99:
    the cent lost goes to the largest effect."""
    assert ex.to_cents([575 / 6, -125 / 3, 155 / 6, -30.0], 50.0) == [95.84, -41.67, 25.83,
                                                                         -30.0]


# --- by formula --------------------------------------------------------------------------------
def test_net_sales_by_formula_by_hand(shop):
    """Net sales 100.00 → 130.00 (160.00 of goods − 30.00 returned), +30.00.
    sessions s 200 → 400, orders per session c 2/200 = 0.01 → 3/400 = 0.0075, AOV a 50 →
    160/3, returns r 0 → 30. The product s·c·a at its 8 corners (0 = 3 Mar, 1 = 4 Mar):
    000 100, s 200, c 75, a 106.67, sc 150, sa 213.33, ca 80, sca 160. Shapley with weights
    ⅓ (none or both others switched) and ⅙ (one):
      s: ⅓(200 − 100) + ⅙(150 − 75) + ⅙(213.33 − 106.67) + ⅓(160 − 80) = 812.5 / 9 = 90.28
      c: ⅓(75 − 100) + ⅙(150 − 200) + ⅙(80 − 106.67) + ⅓(160 − 213.33) = −350 / 9 = −38.89
      a: ⅓(106.67 − 100) + ⅙(213.33 − 200) + ⅙(80 − 75) + ⅓(160 − 150) = 77.5 / 9 = 8.61
      r: −30.00 (a term on its own); 90.28 − 38.89 + 8.61 − 30.00 = 30.00."""
    out = ex.explain(shop.connect(), "net_sales", MAR4, MAR3)
    assert (out["current"], out["compared"], out["change"]) == (130.0, 100.0, 30.0)
    assert out["formula"].startswith("Net sales = sessions × blended conversion rate")
    assert effects(out["drivers"]) == {
        "blended_conversion_rate.denominator": 90.28, "blended_conversion_rate": -38.89,
        "aov": 8.61, "returns": -30.0}
    assert [d["effect"] for d in out["drivers"]] == [90.28, -38.89, -30.0, 8.61]  # ranked


def test_each_channels_change_split_by_the_same_formula(shop):
    """Email: sessions 100 → 20, orders per session 0.02 → 0.05, AOV 50 → 60, no returns; net
    100 → 60. s·c·a at its corners: 000 100, s 20, c 250, a 120, sc 50, sa 24, ca 300, sca 60:
      s: ⅓(20 − 100) + ⅙(50 − 250) + ⅙(24 − 120) + ⅓(60 − 300) = −156
      c: ⅓(250 − 100) + ⅙(50 − 20) + ⅙(300 − 120) + ⅓(60 − 24) = 97
      a: ⅓(120 − 100) + ⅙(24 − 20) + ⅙(300 − 250) + ⅓(60 − 50) = 19;  −156 + 97 + 19 = −40.
    Paid social: sessions 100 → 380, orders per session 0 → 2/380, no AOV before (kept at
    50), returns 0 → 30; every corner with c = 0 is 0, s·c·a = 100 and s⁰·c¹·a = 26.32:
      s: ⅙(100 − 26.32) + ⅓(100 − 26.32) = 36.84;  c: ⅓·26.32 + ⅙·100 + ⅙·26.32 + ⅓·100
      = 63.16;  a: 0;  returns −30;  70.00."""
    out = ex.explain(shop.connect(), "net_sales", MAR4, MAR3)
    rows = {r["member"]: r for r in out["by"]["channel"]}
    assert effects(rows["email"]["drivers"]) == {
        "blended_conversion_rate.denominator": -156.0, "blended_conversion_rate": 97.0,
        "aov": 19.0, "returns": 0.0}
    assert effects(rows["paid_social"]["drivers"]) == {
        "blended_conversion_rate.denominator": 36.84, "blended_conversion_rate": 63.16,
        "aov": 0.0, "returns": -30.0}
    assert ex.member_text("channel", rows["email"], "Net sales", "money") == (
        "Email: net sales €100.00 → €60.00: −€40.00 (80 fewer sessions: −€156.00; blended "
        "conversion rate 2.00 % → 5.00 %: +€97.00)")


def test_net_sales_without_traffic_is_orders_times_aov(orders_only):
    """No traffic export: net sales = orders × AOV − returns. Orders o 2 → 3, AOV a 50 →
    160/3; o·a at its corners: 100, o 150, a 106.67, oa 160.
      o: ½[(150 − 100) + (160 − 106.67)] = 51.67;  a: ½[(106.67 − 100) + (160 − 150)] = 8.33;
      returns −30.00; 51.67 + 8.33 − 30.00 = 30.00."""
    out = ex.explain(orders_only.connect(), "net_sales", MAR4, MAR3)
    assert out["formula"] == "Net sales = orders × average order value − returns"
    assert effects(out["drivers"]) == {"orders": 51.67, "aov": 8.33, "returns": -30.0}


def test_aov_by_formula_and_by_channel_by_hand(shop):
    """AOV 100/2 = 50.00 → 160/3 = 53.33 (+3.33) = units per order u × price per unit p −
    discount per order d: u 3/2 → 5/3, p 100/3 → 180/5 = 36, d 0 → 20/3.
      u: ½[(5/3·100/3 − 50) + (60 − 3/2·36)] = ½(5.56 + 6) = 52/9 = 5.78
      p: ½[(54 − 50) + (60 − 55.56)] = 38/9 = 4.22;  d: −20/3 = −6.67;  sum 3.33.
    By channel: email 2 orders at 50 → 1 order at 60, paid social none → 2 at 50 (its rate
    before taken as after's). Shares of orders: email 1 → ⅓, paid social 0 → ⅔.
      email: mix r̄Δs = 55 × −⅔ = −36.67, rate s̄Δr = ⅔ × 10 = 6.67: −30.00
      paid social: mix 50 × ⅔ = 33.33, rate 0: +33.33;  −30.00 + 33.33 = 3.33."""
    out = ex.explain(shop.connect(), "aov", MAR4, MAR3)
    assert (out["current"], out["compared"], out["change"]) == (53.33, 50.0, 3.33)
    assert effects(out["drivers"]) == {"units_per_order": 5.78,
                                       "gross_sales/units_per_order.numerator": 4.22,
                                       "discounts/orders": -6.67}
    rows = {r["member"]: r for r in out["by"]["channel"]}
    assert (rows["email"]["effect"], rows["email"]["mix_effect"],
            rows["email"]["rate_effect"]) == (-30.0, -36.67, 6.67)
    assert (rows["paid_social"]["effect"], rows["paid_social"]["mix_effect"],
            rows["paid_social"]["rate_effect"]) == (33.33, 33.33, 0.0)
    # Orders carry no device: no device split, said in a sentence.
    assert "device" not in out["by"] and "device" in out["not_split"]
    # The dimensions left out, said once for each reason.
    assert ex.split_note(out) == (
        "Not split by device, country or new vs returning customers: the exports record none "
        "in these periods. Not split by category or product: it is a figure of whole orders, "
        "and an order can hold several products of several categories: no split of it is "
        "exact.")


# --- by dimension: the mix shift ----------------------------------------------------------------
def test_a_rate_falls_while_every_channel_converts_better(shop):
    """Conversion 11/200 = 5.50 % → 11/400 = 2.75 % (−2.75 pp), though email rose 10 % → 15 %
    and paid social 1 % → 8/380 = 2.105 %: traffic moved to the weaker channel (shares of
    sessions ½, ½ → 0.05, 0.95).
      email:       mix 0.125 × −0.45 = −5.625 pp;  rate 0.275 × 0.05 = +1.375 pp
      paid social: mix (0.01 + 8/380)/2 × 0.45 = +0.6987 pp;
                   rate 0.725 × (8/380 − 0.01) = +0.8013 pp
    Rates +2.18 pp, mix −4.93 pp: −2.75 pp."""
    out = ex.explain(shop.connect(), "conversion_rate", MAR4, MAR3)
    close(out["change"], 0.0275 - 0.055)
    rows = {r["member"]: r for r in out["by"]["channel"]}
    close(rows["email"]["mix_effect"], -0.05625)
    close(rows["email"]["rate_effect"], 0.01375)
    close(rows["paid_social"]["mix_effect"], (0.01 + 8 / 380) / 2 * 0.45)
    close(rows["paid_social"]["rate_effect"], 0.725 * (8 / 380 - 0.01))
    assert all(r["rate_effect"] > 0 for r in rows.values())
    assert sum(r["mix_effect"] for r in rows.values()) < out["change"] < 0
    close(sum(r["effect"] for r in rows.values()), out["change"])
    # In words, as the page shows it.
    text = ex.member_text("channel", rows["email"], "Conversion rate", "ratio")
    assert text == ("Email: conversion rate 10.00 % → 15.00 %: −4.25 pp (+1.37 pp from its own "
                    "rate, −5.62 pp from its share)")


def test_conversion_by_funnel_steps_adds_up(shop):
    """Conversion = views/sessions × cart/views × checkout/cart × purchase/checkout:
    90/200 · 28/90 · 14/28 · 11/14 = 11/200 before, 160/400 · 35/160 · 16/35 · 11/16 after."""
    out = ex.explain(shop.connect(), "conversion_rate", MAR4, MAR3)
    assert sorted(d["label"] for d in out["drivers"]) == [
        "Add to cart → checkout", "Checkout → purchase", "Product views → add to cart",
        "Sessions → product views"]
    close(sum(d["effect"] for d in out["drivers"]), out["change"])
    views = next(d for d in out["drivers"] if d["driver"] == "product_views/sessions")
    close(views["compared"], 90 / 200)
    close(views["current"], 160 / 400)


def test_missing_days_are_named_as_a_cause(shop):
    """4–5 March against 3–4 March: nothing stored on 5 March (after the upload's days); each
    missing upload said. (Days missing from the period compared: the next test.)"""
    f = Filters(date(2025, 3, 4), date(2025, 3, 5))
    out = ex.explain(shop.connect(), "net_sales", f, Filters(date(2025, 3, 3), date(2025, 3, 4)))
    gaps = [c for c in out["causes"] if c["kind"] == "missing_days"]
    assert [(c["table"], c["period"], c["days"]) for c in gaps] == [
        ("orders", "this period", ["2025-03-05"]), ("traffic", "this period", ["2025-03-05"])]
    assert gaps[0]["text"].startswith("No orders stored on 1 day of this period (5 Mar 2025)")


def test_a_period_compared_that_starts_before_the_data_is_no_baseline(shop):
    """4–5 March against 2–3 March: the first stored order is on 3 March, so the period
    compared holds one day of two, and a change from it would read as a rise from half a
    period (the walkthrough's "+2,601 %" against 1 stored day of 30). It was explained, with
    2 March named a missing day."""
    f = Filters(date(2025, 3, 4), date(2025, 3, 5))
    out = ex.explain(shop.connect(), "net_sales", f, f.previous_period())
    assert out["reason"] == ("Not compared: 2 Mar – 3 Mar 2025 starts before the first "
                             "stored order (03 Mar 2025): only 1 of its 2 days is in the "
                             "exports, so it is no baseline."), out["reason"]
    assert out["drivers"] == [] and out["change"] is None


def test_a_week_with_nothing_is_a_gap_a_quiet_day_is_not(tmp_path):
    """Orders on 1, 20 and 22 March: 2–19 March (18 days) is a gap, 21 March a quiet day.
    15–22 March against 7–14 March: 15–19 March missing in the period, 7–14 in the one
    compared; 21 March not named."""
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,channel,status,gross_sales,discounts\n"
        "a,2025-03-01 10:00:00,email,paid,10.00,0.00\n"
        "b,2025-03-20 10:00:00,email,paid,10.00,0.00\n"
        "c,2025-03-22 10:00:00,email,paid,10.00,0.00\n")
    store = Store(tmp_path / "store")
    ingest(store, [tmp_path / "orders.csv"])
    f = Filters(date(2025, 3, 15), date(2025, 3, 22))
    out = ex.explain(store.connect(), "orders", f, f.previous_period())
    gaps = {c["period"]: c["days"] for c in out["causes"] if c["kind"] == "missing_days"}
    assert gaps == {"this period": [f"2025-03-{d}" for d in range(15, 20)],
                    "the period compared": [f"2025-03-{d:02d}" for d in range(7, 15)]}


def test_a_filter_the_kpi_cannot_apply_is_refused(shop):
    from kpilib import FilterNotApplicable
    # Net sales takes a device (its orders carry one); customers are counted whatever the device.
    with pytest.raises(FilterNotApplicable, match="New customers is not split by device"):
        ex.explain(shop.connect(), "new_customers",
                   Filters(MAR4.start, MAR4.end, devices=("mobile",)), MAR3)


# --- by product, category and new vs returning customers -------------------------------------
# tests/data/explain_customers/, 3 March 2025 compared with 4 March 2025 (c1's first order o0 on
# 1 March makes c1 a returning customer):
#   3 Mar  o1 c2 new        Linen top A 1 × 20 + Silk top B 1 × 30            = 50.00
#          o2 c1 returning  Silk top B 1 × 30                                 = 30.00
#   4 Mar  o3 c3 new        A 1 × 20 + Canvas shoes C 2 × 20 = 60.00 − 6.00 discount, shared by
#                           line value: A 20/60 × 6 = 2.00, C 40/60 × 6 = 4.00
#          o4 c1 returning  C 3 × 30                                          = 90.00
#          o5 guest         B 1 × 20                                          = 20.00
#          r1 30.00 refunded on o2's Silk top (a returning customer's order of 3 March)
# Net sales 3 Mar 50 + 30 = 80.00; 4 Mar 54 + 90 + 20 − 30 = 134.00: +54.00.
CUSTOMERS = ROOT / "tests" / "data" / "explain_customers"


@pytest.fixture(scope="module")
def customers_shop(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("explain") / "store")
    ingest(store, sorted(CUSTOMERS.glob("*.csv")))
    return store


def _split(out, d):
    return {r["member"]: (r["compared"], r["current"], r["effect"]) for r in out["by"][d]}


def test_net_sales_by_product_category_and_customer_type_by_hand(customers_shop):
    """By product: A 20 → 20 − 2 = 18 (−2), B 30 + 30 = 60 → 20 − 30 refunded = −10 (−70),
    C 0 → 40 − 4 + 90 = 126 (+126); −2 − 70 + 126 = 54. By category: Tops (A, B) 80 → 8
    (−72), Shoes (C) 0 → 126 (+126). By customer: new o1 50 → o3 54 (+4), returning o2 30 →
    o4 90 − r1 30 = 60 (+30), guests 0 → o5 20 (+20); 4 + 30 + 20 = 54."""
    out = ex.explain(customers_shop.connect(), "net_sales", MAR4, MAR3)
    assert (out["compared"], out["current"], out["change"]) == (80.0, 134.0, 54.0)
    assert _split(out, "product") == {"SKU-C": (0.0, 126.0, 126.0),
                                      "SKU-B": (60.0, -10.0, -70.0), "SKU-A": (20.0, 18.0, -2.0)}
    assert [r["member"] for r in out["by"]["product"]] == ["SKU-C", "SKU-B", "SKU-A"]  # ranked
    assert _split(out, "category") == {"Shoes": (0.0, 126.0, 126.0), "Tops": (80.0, 8.0, -72.0)}
    assert _split(out, "customer_type") == {"returning": (30.0, 60.0, 30.0),
                                            None: (0.0, 20.0, 20.0), "new": (50.0, 54.0, 4.0)}
    # Orders × AOV − returns, for each customer type: returning o 1 → 1, a 30 → 90, returns
    # 0 → 30: orders 0, AOV +60, returns −30.
    returning = next(r for r in out["by"]["customer_type"] if r["member"] == "returning")
    assert effects(returning["drivers"]) == {"orders": 0.0, "aov": 60.0, "returns": -30.0}
    assert out["names"] == {"SKU-A": "Linen top", "SKU-B": "Silk top", "SKU-C": "Canvas shoes"}
    said = ex.text(out)
    assert "Canvas shoes (SKU-C): net sales €0.00 → €126.00: +€126.00" in said
    assert "Returning customers (a later order): net sales €30.00 → €60.00: +€30.00" in said
    assert "Guests (no customer id): net sales €0.00 → €20.00: +€20.00" in said


def test_aov_by_customer_type_mix_and_rate_by_hand(customers_shop):
    """AOV (gross − discounts) ÷ orders: 3 Mar 80 / 2 = 40.00, 4 Mar 164 / 3 = 54.67
    (+14.67). Shares of orders ½, ½ → ⅓, ⅓, ⅓; mix r̄Δs, rate s̄Δr (s̄ = 5/12):
      new 50 → 54: mix 52 × −⅙ = −8.67, rate 5/12 × 4 = 1.67;       −7.00
      returning 30 → 90: mix 60 × −⅙ = −10.00, rate 5/12 × 60 = 25.00; 15.00
      guests none → 20 (their own rate before too): mix 20 × ⅓ = 6.67, rate 0;  6.67
    −7.00 + 15.00 + 6.67 = 14.67."""
    out = ex.explain(customers_shop.connect(), "aov", MAR4, MAR3)
    assert (out["compared"], out["current"], out["change"]) == (40.0, 54.67, 14.67)
    split = {r["member"]: (r["effect"], r["mix_effect"], r["rate_effect"])
             for r in out["by"]["customer_type"]}
    assert split == {"returning": (15.0, -10.0, 25.0), "new": (-7.0, -8.67, 1.67),
                     None: (6.67, 6.67, 0.0)}


def test_orders_are_not_split_by_product_and_say_why(customers_shop):
    """An order of a Linen top and a Silk top is one order: no part of it is either's. By
    customer: new 1 → 1, returning 1 → 1, guests 0 → 1."""
    out = ex.explain(customers_shop.connect(), "orders", MAR4, MAR3)
    assert {"product", "category"} <= set(out["not_split"])
    assert "several products" in out["not_split_why"]["product"]
    assert "Not split by category or product: it is a figure of whole orders" in \
        ex.split_note(out)
    assert _split(out, "customer_type") == {None: (0.0, 1.0, 1.0), "new": (1.0, 1.0, 0.0),
                                            "returning": (1.0, 1.0, 0.0)}


def test_units_per_order_by_customer_type_counts_the_guests_units(customers_shop):
    """Units ÷ orders, two sources matched by member: the guests' member (no customer type)
    must find its units too. 3 Mar new 2/1, returning 1/1: 3/2; 4 Mar new 3/1, returning 3/1,
    guests 1/1: 7/3 (+5/6). Shares ½, ½ → ⅓ each (s̄ = 5/12):
      new 2 → 3: mix 2.5 × −⅙ = −5/12, rate 5/12 × 1 = 5/12: 0
      returning 1 → 3: mix 2 × −⅙ = −⅓, rate 5/12 × 2 = ⅚: ½
      guests none → 1: mix 1 × ⅓ = ⅓, rate 0: ⅓;   0 + ½ + ⅓ = ⅚."""
    out = ex.explain(customers_shop.connect(), "units_per_order", MAR4, MAR3)
    close(out["change"], 5 / 6)
    split = {r["member"]: r for r in out["by"]["customer_type"]}
    assert set(split) == {"new", "returning", None}
    for member, (mix, rate) in {"new": (-5 / 12, 5 / 12), "returning": (-1 / 3, 5 / 6),
                                None: (1 / 3, 0.0)}.items():
        close(split[member]["mix_effect"], mix)
        close(split[member]["rate_effect"], rate)


def test_the_products_beyond_the_top_are_one_line_that_adds_up(customers_shop, monkeypatch):
    """With one product shown: Canvas shoes +126.00, and all other products (A −2.00, B
    −70.00) one line of −72.00, 20 + 60 = 80.00 → 18 − 10 = 8.00; 126 − 72 = 54."""
    monkeypatch.setattr(ex, "TOP_PRODUCTS", 1)
    out = ex.explain(customers_shop.connect(), "net_sales", MAR4, MAR3)
    rows = out["by"]["product"]
    assert [(r["member"], r["compared"], r["current"], r["effect"]) for r in rows] == [
        ("SKU-C", 0.0, 126.0, 126.0), (ex.OTHER_PRODUCTS, 80.0, 8.0, -72.0)]
    assert ex.member_text("product", rows[1], "Net sales", "money") == (
        "All other products (2 products): net sales €80.00 → €8.00: −€72.00")


# --- every breakdown adds up, on the demo shop ------------------------------------------------
KPIS = ("net_sales", "orders", "aov", "conversion_rate", "sessions", "new_customers", "mer",
        "roas", "returning_customer_rate", "return_rate_value", "stockout_rate", "returns",
        "discount_rate", "units_per_order")
CHANNELS = ("email", "paid_search", "paid_social", "organic_search", "direct")


def _adds_up(rows, change, unit, key):
    total = sum(r["effect"] for r in rows)
    if unit in ("money", "count"):
        # To the cent: the effects are whole cents adding up to the change.
        assert round(total * 100) == round(change * 100), (key, total, change)
        assert all(round(r["effect"] * 100) == pytest.approx(r["effect"] * 100, abs=1e-6)
                   for r in rows)
    else:
        assert abs(total - change) <= 1e-9, (key, total, change)
    for r in rows:
        if r.get("mix_effect") is not None:
            assert abs(r["mix_effect"] + r["rate_effect"] - r["effect"]) <= 1e-9 + (
                0.0051 if unit in ("money", "count") else 0)


def _cases(n: int, seed: int = 31):
    rng = random.Random(seed)
    first, last = date(2025, 7, 1), date(2026, 10, 31)
    for i in range(n):
        days = rng.choice([1, 7, 14, 30, 31, 61])
        start = first + timedelta(days=rng.randrange((last - first).days - days))
        f = Filters(start, start + timedelta(days=days - 1),
                    tuple(rng.sample(CHANNELS, rng.choice([0, 0, 1, 2]))),
                    ("mobile",) if rng.random() < 0.25 else (),
                    ("FR",) if rng.random() < 0.25 else ())
        # Every KPI in turn, each in several cases.
        yield f, rng.choice(ex.COMPARE), [KPIS[(4 * i + j) % len(KPIS)] for j in range(4)]


@pytest.mark.parametrize("f,compare,names", list(_cases(8)))
def test_every_breakdown_adds_up_to_the_change(demo_store, f, compare, names):
    from kpilib import FilterNotApplicable, get
    from kpilib.kpi import takes

    con = demo_store.connect()
    for name in names:
        try:
            out = ex.explain(con, name, f, ex.compared_filters(f, compare))
        except FilterNotApplicable:
            assert {"devices", "countries"} & ({"devices"} if f.devices else set()
                                               | ({"countries"} if f.countries else set())) \
                - takes(get(name))
            continue
        if out["change"] is None:
            assert out["reason"]
            continue
        _adds_up(out["drivers"], out["change"], out["unit"], (name, "drivers"))
        for d, rows in out["by"].items():
            _adds_up(rows, out["change"], out["unit"], (name, d))
            assert not [r for r in rows if r["member"] == ex.REST], (name, d)
            for r in rows:
                if "drivers" in r:
                    _adds_up(r["drivers"], r["effect"], out["unit"], (name, d, r["member"]))
        # The sales KPIs are split by what was sold and who bought it, where they can be.
        split = {"product", "category", "customer_type"} & set(get(name).by)
        assert split <= set(out["by"]) | set(out["not_split"]), name
        assert len(out["by"].get("product", [])) <= ex.TOP_PRODUCTS + 1
        if name in ("net_sales", "returns", "discount_rate") and out["current"] \
                and out["compared"]:   # a day without returns has no member to split
            assert {"product", "category", "customer_type"} <= set(out["by"]), (name, f)
        if name in ("orders", "aov", "units_per_order"):
            assert "customer_type" in out["by"] and out["not_split_why"]["product"], name


@pytest.mark.parametrize("name", ["net_sales", "aov", "returns", "discount_rate"])
def test_two_adjacent_periods_read_at_once_are_each_periods_own_figures(demo_store, name):
    """kpilib.kpi.run_periods (the "Why?" view's splits of two adjacent periods, one query):
    the very frames run gives each period, to the last bit, for every split the KPI has; a
    member with rows in one period only is absent from the other's, as in run's (the filters:
    one channel, so that some products sell in one period only)."""
    from kpilib import get, run
    from kpilib.kpi import run_periods

    con = demo_store.connect()
    k = get(name)
    now = Filters(date(2026, 10, 1), date(2026, 10, 9), ("email",))
    before = ex.compared_filters(now, "previous")
    for d in [d for d in ("country", "category", "product", "customer_type") if d in k.by]:
        got = run_periods(con, k, [now, before], d)
        for frame, g in zip(got, (now, before)):
            want = run(con, k, g, d)
            assert frame.equals(want), (name, d, g, frame, want)
        assert set(got[0][d]) != set(got[1][d]) or d != "product", "members all in both"


def test_the_demo_shop_explains_every_card(demo_store):
    """October 2026 against September: each Overview card's change has drivers, a split and,
    for sales, causes from the other exports."""
    f = Filters(date(2026, 10, 1), date(2026, 10, 31))
    con = demo_store.connect()
    out = ex.explain(con, "net_sales", f, f.previous_period())
    assert out["formula"].startswith("Net sales = sessions")
    assert {c["kind"] for c in out["causes"]} >= {"stockouts", "spend", "traffic", "discounts"}
    assert set(out["by"]) == {"channel", "country", "category", "product", "customer_type"}
    assert len(out["by"]["product"]) == ex.TOP_PRODUCTS + 1   # the rest as one line
    for name in KPIS:
        assert ex.explain(con, name, f, f.previous_period())["change"] is not None, name
    # Money in the causes is in the shop's currency: "Ad spend on paid search rose by
    # €11,988.84" was written in a pound shop (the walkthrough's UCI with Google Ads).
    money = [c["text"] for c in ex.explain(con, "net_sales", f, f.previous_period(),
                                           currency="GBP")["causes"]
             if c["kind"] in ("spend", "stockouts", "discounts")]
    assert money and all("£" in t and "€" not in t for t in money), money


# --- the command line -----------------------------------------------------------------------
def test_cli_explain_json(shop):
    out = json.loads(cli("explain", "net_sales", "--store", shop.path, "--start", "2025-03-04",
                         "--end", "2025-03-04", "--format", "json").stdout)
    assert {"kpi", "current", "compared", "change", "drivers", "by", "causes"} <= set(out)
    assert (out["kpi"], out["current"], out["compared"], out["change"]) == (
        "net_sales", 130.0, 100.0, 30.0)
    assert (out["start"], out["compared_start"]) == ("2025-03-04", "2025-03-03")
    assert [{k: d[k] for k in ("driver", "effect")} for d in out["drivers"]] == [
        {"driver": "blended_conversion_rate.denominator", "effect": 90.28},
        {"driver": "blended_conversion_rate", "effect": -38.89},
        {"driver": "returns", "effect": -30.0}, {"driver": "aov", "effect": 8.61}]
    assert [{k: v for k, v in r.items() if k != "drivers"} for r in out["by"]["channel"]] == [
        {"member": "paid_social", "current": 70.0, "compared": 0.0, "effect": 70.0,
         "mix_effect": None, "rate_effect": None},
        {"member": "email", "current": 60.0, "compared": 100.0, "effect": -40.0,
         "mix_effect": None, "rate_effect": None}]
    assert [(d["driver"], d["effect"]) for d in out["by"]["channel"][1]["drivers"]] == [
        ("blended_conversion_rate.denominator", -156.0), ("blended_conversion_rate", 97.0),
        ("aov", 19.0), ("returns", 0.0)]


def test_cli_explain_refuses_what_it_cannot_split(shop):
    p = cli("explain", "new_customers", "--store", shop.path, "--device", "mobile", ok=False)
    assert p.returncode == 2 and p.stdout == ""
    assert "New customers is not split by device" in p.stderr
    p = cli("explain", "net_sales", "--store", shop.path, "--compare", "lastyear", ok=False)
    assert p.returncode == 2


def test_cli_explain_text(shop):
    out = cli("explain", "conversion_rate", "--store", shop.path, "--start", "2025-03-04",
              "--end", "2025-03-04", "--format", "text").stdout
    assert out.startswith("Conversion rate (analytics) fell from 5.50 % to 2.75 % (−2.75 pp) "
                          "against 3 Mar 2025.")
    assert "Email: conversion rate (analytics) 10.00 % → 15.00 %" in out



# --- the monthly report -------------------------------------------------------------------------
def test_report_says_what_changed(demo_store):
    """The report's commentary is the same explanation: October 2026 against September."""
    from kpilib import caveats, report

    con = demo_store.connect()
    html = report.build(con, "2026-10")
    section = html[html.index("<h2>What changed</h2>"):html.index("<h2>Comments</h2>")]
    f = report.month_filters("2026-10")
    out = ex.explain(con, "net_sales", f, f.previous_period(), caveats.facts(con))
    assert ex.headline(out).replace("(", "") in section.replace("(", "")
    assert 'data-kpi="orders"' in section and 'data-kpi="conversion_rate"' in section
    # Causes shared by the figures are said once.
    lost = next(c["text"] for c in out["causes"] if c["kind"] == "stockouts")
    assert section.count(lost.split(";")[0]) == 1


def test_a_period_before_the_first_stored_order_is_nothing_to_compare_with(tiny_store):
    """UCI's November alone, against October: net sales "rose from €0.00" was the walkthrough's
    finding. The tiny shop's first order is o1 on 5 January 2025; January against December
    2024 (no order stored) has no change, and says why."""
    con = tiny_store.connect()
    jan = Filters(date(2025, 1, 1), date(2025, 1, 31))
    out = ex.explain(con, "net_sales", jan, jan.previous_period())
    assert out["change"] is None and out["drivers"] == [] and out["by"] == {}
    assert out["reason"] == ("Not compared: no order is stored before 05 Jan 2025, so "
                             "1 Dec – 31 Dec 2024 has nothing to compare with.")
    assert ex.headline(out).startswith("Net sales: nothing to explain. Not compared: no order")
    # A compared period with one stored day is a baseline (the missing days are a cause).
    feb = Filters(date(2025, 2, 4), date(2025, 3, 6))
    assert ex.explain(con, "net_sales", feb, feb.previous_period())["change"] is not None
    # Traffic alone is not judged by the orders' first day.
    assert ex.explain(con, "sessions", jan, jan.previous_period()).get("reason") != \
        out["reason"]


def test_new_and_returning_are_first_seen_where_a_period_starts_with_the_first_order(
        customers_shop):
    """The Customers page's rule (caveats.first_seen) in the Why? split: 1–2 March starts on
    the first stored order (o0, 1 March), so c1's o0 there is a first order *here*, not
    known to be a first order ever. 1–2 Mar: o0 c1 40.00, first seen. 3–4 Mar: first seen
    o1 50 + o3 54 = 104, seen before o2 30 + o4 90 − r1 30 = 90, guests o5 20. The members
    stay "new"/"returning" (the JSON is stable); their words change and a note says why.
    3 against 4 March (after the first order) keeps "New customers" (the test above)."""
    con = customers_shop.connect()
    out = ex.explain(con, "net_sales", Filters(date(2025, 3, 3), date(2025, 3, 4)),
                     Filters(date(2025, 3, 1), date(2025, 3, 2)))
    assert _split(out, "customer_type") == {"new": (40.0, 104.0, 64.0),
                                            "returning": (0.0, 90.0, 90.0),
                                            None: (0.0, 20.0, 20.0)}
    assert out["first_seen"].startswith("no order is stored before 01 Mar 2025")
    said = ex.text(out)
    assert "First seen in this export: net sales" in said
    assert "New customers (first order)" not in said
    assert any(n.startswith("New and returning customers: no order is stored before")
               for n in out["notes"])
    later = ex.explain(con, "net_sales", MAR4, MAR3)
    assert later["first_seen"] is None and "First seen" not in ex.text(later)


def test_a_split_the_filter_takes_is_not_said_to_be_missing():
    """Net sales take the device filter (mobile + desktop + tablet add up to the total) but
    the Why? view ranks them by channel, country…, not device: it said "the store does not
    hold net sales split that way" beside a sidebar filter that splits them. New customers
    take no device filter: for them it is true."""
    from kpilib import get
    assert ex.not_split_why(get("net_sales"), "device") == (
        "this view does not rank net sales by it; the sidebar's device filter shows each "
        "one's figure")
    assert ex.not_split_why(get("new_customers"), "device") == (
        "the store does not hold new customers split that way")
    # A store whose orders record no device (UCI) has no device filter to point to.
    from kpilib.caveats import Facts
    uci = Facts(tables=frozenset({"orders"}), as_of=None,
                unsplit=frozenset({"device", "country"}))
    assert ex.not_split_why(get("net_sales"), "device", uci) == (
        "the exports record none in these periods")


def test_a_drivers_name_is_its_kpis_label_and_a_tiny_effect_is_not_a_change():
    """The Why? of net sales named "orders per session" what its Funnel card calls "Blended
    conversion rate"; and a conversion effect of 0.00004 (0.004 pp) read "+0.00 pp", a change
    of nothing with a sign."""
    from kpilib import get
    labels = {f.of: f.label for f in ex.FORMULAS["net_sales"][0].factors}
    assert labels["blended_conversion_rate"] == get("blended_conversion_rate").label
    assert labels["aov"] == get("aov").label
    assert "orders per session" not in ex.FORMULAS["orders"][0].text
    assert ex.effect_text("ratio", 0.00004) == "+0.004 pp"      # 0.00004 × 100 = 0.004
    assert ex.effect_text("ratio", -0.0012) == "−0.12 pp"
    assert ex.effect_text("ratio", 1e-8) == "no change"           # 0.000001 pp
    assert ex.effect_text("money", 0.004) == "no change"          # under a cent
    assert ex.effect_text("times", 0.003) == "+0.003×"


def test_last_year_with_far_less_order_history_is_not_explained(tmp_path):
    """March 2026's returning-customer rate (1 / 2) against March 2025's (1 / 3), which had 59
    days of orders before it against a year: "rose from 33.33 % to 50.00 %" was the history
    growing (helpers.thin_history_store). February 2026 (0 / 1) is explained."""
    from helpers import THIN_HISTORY_SAID, thin_history_store
    con = thin_history_store(tmp_path).connect()
    mar = Filters(date(2026, 3, 1), date(2026, 3, 31))
    out = ex.explain(con, "returning_customer_rate", mar, mar.last_year())
    assert out["change"] is None
    assert out["reason"] == "Not compared: " + THIN_HISTORY_SAID[0].lower() + \
        THIN_HISTORY_SAID[1:]
    assert ex.explain(con, "returning_customer_rate", mar, mar.previous_period())["change"] \
        == pytest.approx(0.5)   # 1 / 2 − 0 / 1


def test_no_spend_cause_against_days_before_the_spend_export(tmp_path):
    """Orders every day of March and April 2025 (€10 each), ad spend from 1 April only
    (€5 a day). April 1–10 against 1–10 March: "ad spend on email rose by €50.00 (€0.00 →
    €50.00)" would be a March never uploaded, so no spend cause; with March's spend stored
    (€3 a day: €30 → €50) the rise is one."""
    from datetime import timedelta
    days = [date(2025, 3, 1) + timedelta(days=i) for i in range(61)]
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,channel,status,gross_sales,discounts\n"
        + "".join(f"o{i},{d} 12:00:00,email,paid,10.00,0.00\n" for i, d in enumerate(days)))
    (tmp_path / "spend.csv").write_text(
        "date,channel,spend\n" + "".join(f"{d},email,5.00\n" for d in days if d.month == 4))
    store = Store(tmp_path / "store")
    ingest(store, [tmp_path / "orders.csv", tmp_path / "spend.csv"])
    f = Filters(date(2025, 4, 1), date(2025, 4, 10))
    out = ex.explain(store.connect(), "net_sales", f, f.previous_period())
    assert out["change"] == 0 and not [c for c in out["causes"] if c["kind"] == "spend"]
    (tmp_path / "march.csv").write_text(
        "date,channel,spend\n" + "".join(f"{d},email,3.00\n" for d in days if d.month == 3))
    ingest(store, [tmp_path / "march.csv"])
    out = ex.explain(store.connect(), "net_sales", f, f.previous_period())
    assert [c["text"] for c in out["causes"] if c["kind"] == "spend"] == [
        "Ad spend on email rose by €20.00 (€30.00 → €50.00)."]


def test_the_blended_conversion_driver_is_told_from_the_analytics_card(shop):
    """Net sales on 4 March: its driver is the blended conversion rate, 3 orders ÷ 400
    sessions = 0.75 %; the Overview's Conversion rate (analytics) card is (3 + 8) purchases ÷
    (20 + 380) sessions = 2.75 %. The Why? showed the first beside the card's figure without
    saying which was which, nor that they differ on purpose."""
    out = ex.explain(shop.connect(), "net_sales", MAR4, MAR3)
    assert out["conversion"] == (
        "Blended conversion rate here: orders in the orders export ÷ sessions, 0.75 % in the "
        "period. The Conversion rate (analytics) card is another figure, 2.75 %: purchases ÷ "
        "sessions, both counted by the analytics tool. They differ on purpose, as the two "
        "tools count purchases differently (trackers blocked, orders cancelled later or placed "
        "by phone).")
    # Under the drivers in the command line's text and the report, too.
    assert ex.sections(out)[0][1][-1] == out["conversion"]
    # The analytics card's own Why? is named as the card is, and needs no such sentence.
    card = ex.explain(shop.connect(), "conversion_rate", MAR4, MAR3)
    assert card["formula"].startswith("Conversion rate (analytics) = ")
    assert card["conversion"] is None


def test_the_others_line_counts_the_products_the_rest_line_holds():
    """Three products shown, then 7 more named ones and "(all other products)" holding 134:
    the sentence says 141 others, not 8 (the walkthrough's November report)."""
    from kpilib.explain import OTHER_PRODUCTS, sections
    row = lambda m, e, **k: {"member": m, "current": None, "compared": None,  # noqa: E731
                             "effect": e, "mix_effect": None, "rate_effect": None, **k}
    rows = [row(f"p{i}", 10.0 - i) for i in range(10)] + [row(OTHER_PRODUCTS, 5.0, members=134)]
    out = {"change": sum(r["effect"] for r in rows), "unit": "money", "formula": None,
           "drivers": [], "by": {"product": rows}, "causes": [], "notes": [], "not_split": [],
           "label": "Net sales", "names": {}, "first_seen": None}
    said = dict(sections(out))["By product"]
    # 7 named (7 + 6 + … + 1 = 28) + 5 of the 134 = €33.00.
    assert said[-1] == "141 others: +€33.00", said


def test_asking_for_a_split_the_exports_do_not_record_says_so(uci_month_store):
    """UCI's orders have no device: `explain --by device` pointed to "the sidebar's device
    filter", which such a store does not show."""
    nov, octo = Filters(date(2011, 11, 1), date(2011, 11, 30)), Filters(date(2011, 10, 1),
                                                                        date(2011, 10, 31))
    with pytest.raises(ValueError, match="^Net sales is not split by device: the exports "
                                         "record none in these periods$"):
        ex.explain(uci_month_store.connect(), "net_sales", nov, octo, dimensions=("device",))
