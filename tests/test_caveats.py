"""kpilib.caveats: a figure the exports cannot give is unknown with a reason, not 0; a figure
still inside its return window is not final. Worked out by hand on tiny stores."""
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from helpers import cli
from kpilib import Filters, Store, get, run
from kpilib.caveats import (Facts, cohort_final, facts, gap_note, mark_final, maturity,
                            missing, partial_note, reason, short_history, spend_note,
                            trailing_gap, value_reason)
from kpilib.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny"
FORMATS = ROOT / "tests" / "data" / "formats"


def store_of(tmp_path, *files) -> Store:
    store = Store(tmp_path / "s")
    ingest(store, list(files), allow_partial=True)
    return store


def test_facts_of_the_tiny_shop(tiny_store):
    f = facts(tiny_store.connect())
    assert f.tables == {"orders", "order_items", "refunds", "traffic", "marketing_spend",
                        "inventory", "products"}
    # Last valid order o8 on 2 March 2025; the first one o1 on 5 January.
    assert (f.as_of, f.orders_from) == (date(2025, 3, 2), date(2025, 1, 5))
    assert f.refunds_linked and f.identified and not f.untracked
    assert all(reason(k, f) is None for k in map(get, ("net_sales", "sessions", "roas",
                                                       "return_rate_value", "on_hand")))


def test_an_orders_only_store_names_the_exports_it_lacks(tmp_path):
    # UCI Online Retail's shape: invoices, their lines and credit notes (C489449) that name no
    # invoice of the file.
    store = store_of(tmp_path, FORMATS / "online_retail_ii.csv")
    f = facts(store.connect())
    assert f.tables == {"orders", "order_items", "refunds"} and not f.refunds_linked
    assert missing(get("sessions"), f) == ("traffic",)
    assert reason(get("sessions"), f).startswith("Needs a traffic export")
    assert missing(get("mer"), f) == ("marketing_spend",)
    assert missing(get("stockout_rate"), f) == ("inventory",)
    assert reason(get("net_sales"), f) is None and reason(get("returns"), f) is None
    # The credit notes cannot be dated by order: no return rate rather than 0.00 %.
    for name in ("return_rate_value", "return_rate_orders", "returns_by_order_date"):
        assert reason(get(name), f).startswith("Unknown: the refunds uploaded do not say")


def test_traffic_and_spend_only_stores(tmp_path):
    traffic = facts(store_of(tmp_path / "t", TINY / "traffic.csv").connect())
    assert traffic.tables == {"traffic"} and traffic.as_of == date(2025, 3, 1)
    assert reason(get("conversion_rate"), traffic) is None
    assert reason(get("net_sales"), traffic).startswith("Needs an orders export")
    assert missing(get("blended_conversion_rate"), traffic) == ("orders",)
    spend = facts(store_of(tmp_path / "s", TINY / "marketing_spend.csv").connect())
    assert spend.tables == {"marketing_spend"}
    assert reason(get("spend"), spend) is None and reason(get("cpc"), spend) is None
    # ROAS and CAC need orders: with none, every channel would read ROAS 0.
    assert missing(get("roas"), spend) == ("orders",) and missing(get("cac"), spend) == ("orders",)


def test_a_step_the_traffic_export_does_not_track(tmp_path):
    f = tmp_path / "ga4.csv"
    f.write_text("date,channel,sessions,product_views,add_to_carts,checkouts,purchases\n"
                 "2025-02-03,email,100,50,10,0,3\n2025-02-04,email,80,40,8,0,2\n")
    known = facts(store_of(tmp_path, f).connect())
    assert known.untracked == {"checkouts"}
    assert reason(get("cart_to_checkout_rate"), known).startswith("Not tracked")
    assert reason(get("checkout_rate"), known).startswith("Not tracked")
    assert reason(get("view_to_cart_rate"), known) is None     # (10 + 8) / (50 + 40)


NO_DISCOUNT = ("Not tracked: the orders export has no discount column (no stored order has a "
               "discount), so this would read 0 by mistake.")
NO_STATUS = "Not tracked: the orders export has no order status, so cancellations cannot be told."


def test_discounts_and_cancellations_the_uci_export_does_not_have(tmp_path):
    """UCI gives neither a discount nor an order status (a cancellation there is a C… credit
    note, stored as a refund): their cards say so instead of "€0.00" and "0.00 %"; every other
    figure keeps its value."""
    store = store_of(tmp_path, FORMATS / "online_retail_ii.csv")
    known = facts(store.connect())
    assert {"discounts", "status"} <= known.unfilled
    assert [reason(get(n), known) for n in ("discounts", "discount_rate", "cancellation_rate",
                                            "orders_by_status")] == \
        [NO_DISCOUNT, NO_DISCOUNT, NO_STATUS, NO_STATUS]
    # Orders 489434 (12 × 6.95 + 12 × 6.75 = 164.40), 489435 (12 × 2.55 = 30.60) and 489437
    # (6 × 2.95 = 17.70): gross 212.70, no discount; credit note C489449 returns 12 × 2.95 =
    # 35.40: net sales 212.70 − 0 − 35.40 = 177.30. 489436 (−24 at 0.00) is no order.
    f = Filters(date(2009, 12, 1), date(2009, 12, 31))
    con = store.connect()
    assert [float(run(con, get(n), f).value.iloc[0]) for n in
            ("orders", "gross_sales", "discounts", "net_sales", "aov")] == \
        pytest.approx([3, 212.70, 0, 177.30, 212.70 / 3])
    assert all(reason(get(n), known) is None for n in ("orders", "gross_sales", "net_sales",
                                                        "aov", "returns"))
    # Stored as every sum needs them: discount 0, status 'paid', the raw status empty.
    assert con.execute("select distinct discounts, status, status_raw from orders").fetchall() \
        == [(0, "paid", None)]


def test_discounts_and_statuses_the_exports_have(tmp_path, tiny_store):
    # Olist: statuses (delivered, canceled…) but no discount; the tiny shop has both.
    olist = facts(store_of(tmp_path, *sorted((FORMATS / "olist").glob("*.csv"))).connect())
    assert "discounts" in olist.unfilled and "status" not in olist.unfilled
    assert reason(get("discount_rate"), olist) == NO_DISCOUNT
    assert reason(get("cancellation_rate"), olist) is None
    tiny = facts(tiny_store.connect())
    assert not {"discounts", "status"} & tiny.unfilled
    assert reason(get("discounts"), tiny) is None and reason(get("cancellation_rate"), tiny) is None


def test_negative_cart_abandonment_is_not_meaningful():
    k = get("cart_abandonment_rate")
    # 3 purchases of sessions that never added to cart, 2 that did: 1 − 5 / 2 = −150 %.
    assert value_reason(k, 1 - 5 / 2).startswith("Not meaningful")
    assert value_reason(k, 0.0) is None and value_reason(k, 0.8) is None
    assert value_reason(k, None) is None and value_reason(get("aov"), -5.0) is None


def test_returning_customers_need_orders_before_the_period(tiny_store):
    f = facts(tiny_store.connect())
    rate = get("returning_customer_rate")
    # The first order is stored on 5 January 2025: a period from then on sees no earlier order.
    assert reason(rate, f, date(2025, 1, 1)).startswith("Unknown: no order is stored before")
    assert reason(rate, f, date(2025, 1, 5)) is not None
    assert reason(rate, f, date(2025, 1, 6)) is None
    # Nor which customers are new: every customer of the first stored month would look new.
    assert reason(get("new_customers"), f, date(2025, 1, 1)) is not None
    assert reason(get("new_customers"), f, date(2025, 1, 6)) is None


def test_customers_unknown_when_every_order_is_a_guest(tmp_path):
    f = tmp_path / "orders.csv"
    f.write_text("order_id,ordered_at,status,gross_sales,discounts\n"
                 "g1,2025-02-03 10:00:00,paid,10,0\ng2,2025-02-04 10:00:00,paid,20,0\n")
    known = facts(store_of(tmp_path, f).connect())
    assert not known.identified
    assert reason(get("customers"), known).startswith("Unknown: no order has a customer id")
    assert reason(get("cac"), Facts(frozenset({"orders", "marketing_spend"}), None,
                                    identified=False)) is not None
    assert reason(get("orders"), known) is None


def test_cohort_cells_are_final_once_their_month_is_over():
    # The March 2025 cohort's month 1 is April: over on 30 April, and its orders' return
    # window (30 days) closes on 30 May.
    assert not cohort_final(date(2025, 3, 1), 1, date(2025, 4, 29))
    assert cohort_final(date(2025, 3, 1), 1, date(2025, 4, 30))
    assert not cohort_final(date(2025, 3, 1), 1, date(2025, 5, 29), 30)
    assert cohort_final(date(2025, 3, 1), 1, date(2025, 5, 30), 30)
    # k counts across the year: December 2024 + 2 = February 2025.
    assert cohort_final(date(2024, 12, 1), 2, date(2025, 2, 28))


def test_periods_marked_final_one_by_one(tiny_store):
    rate = get("return_rate_value")
    f = Filters(date(2025, 1, 1), date(2025, 3, 31))
    df = mark_final(rate, run(tiny_store.connect(), rate, f, "month"), f.start, f.end,
                    date(2025, 3, 2), 30, "month")
    # As of 2 March with a 30-day window: 31 Jan + 30 = 2 Mar (final); 28 Feb + 30 > 2 Mar.
    assert df["final"].tolist() == [True, False, False]
    m = maturity(rate, f.start, f.end, date(2025, 3, 2), 30)
    # Open: the days d with d + 30 > 2 March (31 January + 30 = 2 March is not), so
    # 1 February … 31 March = 28 + 31 = 59 days.
    assert (m.final, m.open_days) == (False, 59)
    # A KPI without a window is left as it was.
    assert "final" not in mark_final(get("net_sales"), df.drop(columns="final"), f.start, f.end,
                                     date(2025, 3, 2), 30).columns


def test_cli_says_why_and_whether_final(tmp_path, tiny_store):
    store = store_of(tmp_path, FORMATS / "online_retail_ii.csv")
    out = json.loads(cli("kpi", "sessions", "--store", store.path).stdout)
    assert out == [{"value": None,
                    "reason": "Needs a traffic export (a GA4 report, or sessions / events)."}]
    out = json.loads(cli("kpi", "return_rate_value", "--store", store.path).stdout)
    assert out[0]["value"] is None and out[0]["reason"].startswith("Unknown: the refunds")
    out = json.loads(cli("kpi", "return_rate_value", "--store", tiny_store.path, "--by", "month",
                         "--start", "2025-01-01", "--end", "2025-02-28").stdout)
    # As of 2 March (the last order): January final, February still inside the window.
    assert [(r["period"], r["final"]) for r in out] == [("2025-01-01", True),
                                                        ("2025-02-01", False)]
    assert out[1]["value"] == pytest.approx(55 / 320)        # r2 30 + r3 25 of €320 gross
    # A KPI without a window carries no "final" (its output is unchanged).
    assert "final" not in json.loads(cli("kpi", "net_sales", "--store", tiny_store.path).stdout)[0]


def test_users_over_months_with_and_without_the_column(tmp_path):
    """GA4 exports of March (with Total users and New users) and April (without them): users
    over both months are March's, and said to be; April's alone are unknown, not 0."""
    drift = FORMATS / "drift"
    store = store_of(tmp_path, drift / "ga4_2025_03.csv", drift / "ga4_2025_04.csv")
    known = facts(store.connect())
    # Traffic days 1, 2, 31 March with users; 1 and 30 April without.
    assert known.runs == (
        ("new_users", True, date(2025, 3, 1), date(2025, 3, 31)),
        ("new_users", False, date(2025, 4, 1), date(2025, 4, 30)),
        ("users", True, date(2025, 3, 1), date(2025, 3, 31)),
        ("users", False, date(2025, 4, 1), date(2025, 4, 30)))
    users, march, both = get("users"), (date(2025, 3, 1), date(2025, 3, 31)), \
        (date(2025, 3, 1), date(2025, 4, 30))
    # March: 80 + 35 + 55 + 45
    assert run(store.connect(), users, Filters(*both))["value"].iat[0] == 215
    assert reason(users, known, *both) is None
    assert partial_note(users, known, *both) == (
        "Users: 1 Mar – 31 Mar 2025 only; the traffic export has no users column for "
        "1 Apr – 30 Apr 2025.")
    assert partial_note(users, known, *march) is None and reason(users, known, *march) is None
    assert reason(get("new_users"), known, date(2025, 4, 1), date(2025, 4, 30)) == (
        "Unknown: the traffic export has no new users column for 1 Apr – 30 Apr 2025.")
    # Sessions are in both exports: nothing to say.
    assert partial_note(get("sessions"), known, *both) is None
    # A store whose traffic always had users keeps no runs (facts stay small).
    assert facts(store_of(tmp_path / "t", TINY / "traffic.csv").connect()).runs == ()


# --- an export that ends before the period does ----------------------------------------------
def _facts(days: list[date]) -> Facts:
    """The facts of a shop with a valid order on each of ``days`` (sorted), nothing else."""
    gaps = tuple((a + timedelta(days=1), b - timedelta(days=1))
                 for a, b in zip(days, days[1:]) if (b - a).days > 1)
    return Facts(tables=frozenset({"orders"}), as_of=days[-1], orders_from=days[0],
                 orders_to=days[-1], order_gaps=gaps)


def _march(*more: int) -> list[date]:
    """An order every day of 1–28 March 2025, then on the days of April ``more``."""
    return [date(2025, 3, d) for d in range(1, 29)] + [date(2025, 4, d) for d in more]


def test_no_order_on_the_last_days_of_the_period():
    # Olist's shape: orders every day, none 29 Mar – 2 Apr, a straggler on 3 April.
    f = _facts(_march(3))
    gap = trailing_gap(f, date(2025, 3, 4), date(2025, 4, 3))
    # 5 empty days of the 6 from 29 March to 3 April; the 28 days before (1–28 March, since
    # the store starts there) had no empty day.
    assert (gap.runs, gap.empty, gap.span, gap.usual, gap.before) == \
        (((date(2025, 3, 29), date(2025, 4, 2)),), 5, 6, 0, 28)
    assert gap_note(f, date(2025, 3, 4), date(2025, 4, 3)) == (
        "No order on 5 of the last 6 days of the period (29 Mar – 2 Apr 2025), where the 28 "
        "days before had an order every day: the export may end early.")
    # Ending on 2 April (a custom range), every one of its last 5 days is empty.
    assert gap_note(f, date(2025, 3, 4), date(2025, 4, 2)).startswith(
        "No order on the last 5 days of the period (29 Mar – 2 Apr 2025)")
    # After the store's last order: 29 March – 5 April, 8 days, the last 2 after 3 April.
    assert trailing_gap(f, date(2025, 3, 7), date(2025, 4, 5)).runs == (
        (date(2025, 3, 29), date(2025, 4, 2)), (date(2025, 4, 4), date(2025, 4, 5)))
    assert gap_note(f, date(2025, 3, 7), date(2025, 4, 5)).startswith(
        "No order on 7 of the last 8 days of the period (29 Mar – 2 Apr 2025 and 4 Apr – "
        "5 Apr 2025)")
    # A period that ends on 28 March has no empty day at all.
    assert trailing_gap(f, date(2025, 3, 1), date(2025, 3, 28)) is None


def test_a_shop_that_sold_again_or_does_not_sell_most_days():
    # Orders 3, 4 and 5 April after the 5 empty days: closed a while, then selling again (3 days
    # with orders after the run, more than 2): no note. Two days after it still say one.
    f = _facts(_march(3, 4, 5))
    assert trailing_gap(f, date(2025, 3, 7), date(2025, 4, 5)) is None
    assert trailing_gap(f, date(2025, 3, 6), date(2025, 4, 4)).span == 7   # 29 Mar – 4 Apr
    # Orders every day of 1–28 March but Sundays (2, 9, 16, 23): 24 of 28 days, 1 empty day
    # in a row is usual, so Saturday 29 March says nothing; 29–30 March (2 days) is longer.
    closed = _facts([d for d in _march() if d.weekday() != 6])
    assert trailing_gap(closed, date(2025, 3, 1), date(2025, 3, 29)) is None
    assert gap_note(closed, date(2025, 3, 1), date(2025, 3, 30)) == (
        "No order on the last 2 days of the period (29 Mar – 30 Mar 2025), where the 28 days "
        "before had at most 1 day in a row without one: the export may end early.")
    # An order every third day (1, 4, …, 28 March: 10 of 28 days, fewer than 3 in 4): a shop
    # of few orders; 29 March – 10 April (13 days) says nothing of its export.
    sparse = _facts([date(2025, 3, d) for d in range(1, 29, 3)])
    assert trailing_gap(sparse, date(2025, 3, 12), date(2025, 4, 10)) is None
    # Orders on 25–28 March only: 4 days are too few to say what is usual.
    assert trailing_gap(_facts([date(2025, 3, d) for d in range(25, 29)]),
                        date(2025, 3, 1), date(2025, 4, 2)) is None


def test_the_gap_from_a_store_and_in_the_command_line(tmp_path):
    # The orders template: one order of 10.00 each day of 1–28 March and on 3 April.
    f = tmp_path / "orders.csv"
    f.write_text("order_id,ordered_at,status,gross_sales,discounts\n" + "".join(
        f"o{n},{d.isoformat()} 12:00:00,paid,10.00,0.00\n" for n, d in enumerate(_march(3))))
    store = store_of(tmp_path, f)
    known = facts(store.connect())
    assert (known.orders_to, known.order_gaps) == (date(2025, 4, 3),
                                                   ((date(2025, 3, 29), date(2025, 4, 2)),))
    # The last 31 days (4 March – 3 April): orders on 4–28 March (25) and 3 April, 26 × 10.00,
    # and the note on the figure.
    out = json.loads(cli("kpi", "net_sales", "--store", store.path, "--start", "2025-03-04")
                     .stdout)
    assert out == [{"value": 260.0, "note": gap_note(known, date(2025, 3, 4), date(2025, 4, 3))}]
    # By week: only the weeks with the empty days carry it (24 Mar – 30 Mar, 31 Mar – 3 Apr).
    out = json.loads(cli("kpi", "orders", "--store", store.path, "--start", "2025-03-10",
                         "--by", "week").stdout)
    assert [(r["period"], r["value"], bool(r.get("note"))) for r in out] == [
        ("2025-03-10", 7, False), ("2025-03-17", 7, False), ("2025-03-24", 5, True),
        ("2025-03-31", 1, True)]


def test_customers_figures_say_why_a_device_country_or_category_does_not_split_them():
    from kpilib import get
    from kpilib.caveats import customers_unsplit
    jan = Filters(date(2025, 1, 1), date(2025, 1, 31))
    mobile = Filters(jan.start, jan.end, devices=("mobile",))
    assert customers_unsplit(get("customers"), mobile) == (
        "Customers' figures are not split by device: each customer counts once, and a device "
        "belongs to a session or an order (one customer orders from several). Clear the device "
        "filter in the sidebar to see them; Sales and After-sales apply it to orders.")
    both = Filters(jan.start, jan.end, devices=("mobile",), countries=("DE",))
    assert "not split by device or country:" in customers_unsplit(get("cohort_retention"), both)
    assert customers_unsplit(get("customers"), jan) is None        # no such filter
    assert customers_unsplit(get("orders"), mobile) is None        # orders are split by it


def test_a_period_less_than_a_year_after_the_first_order_says_what_new_rests_on():
    """Orders from 2 Oct 2011 (UCI's two-month store): November starts 30 days later, about
    1 month (30 / 30.44); 2 Oct itself is first_seen's (unknown), not this; 1 Oct 2012, 365
    days later, has a year before it: no caveat. 1 Jun 2012: 243 days, 8 months."""
    from datetime import date

    from kpilib.caveats import Facts, first_seen, short_history
    f = Facts(tables=frozenset({"orders"}), as_of=date(2011, 11, 30),
              orders_from=date(2011, 10, 2))
    assert short_history(f, date(2011, 11, 1)) == (
        "only 1 month of orders before this period (from 02 Oct 2011): a customer who "
        "ordered before then counts as new")
    assert short_history(f, date(2011, 10, 2)) is None and first_seen(f, date(2011, 10, 2))
    assert short_history(f, date(2012, 10, 1)) is None
    assert short_history(f, date(2012, 6, 1)).startswith("only 8 months of orders")
    # A period starting the day after the first order has a day of history, not "1 month".
    assert short_history(f, date(2011, 10, 3)).startswith("only 1 day of orders before")
    assert short_history(f, None) is None


def test_rfm_says_lost_is_relative_with_less_than_a_year_of_orders():
    """Orders from 1 Dec 2010 (UCI's first month): up to 31 Dec 2010, 31 days (1 – 31 Dec)
    are stored, so the customers ranked least recent bought at most 31 days before; up to
    30 Nov 2011, 365 days: a year, no caveat; up to 29 Nov 2011, 364 days: still said."""
    from kpilib.caveats import short_recency
    f = Facts(tables=frozenset({"orders"}), as_of=date(2011, 12, 9),
              orders_from=date(2010, 12, 1))
    assert short_recency(f, date(2010, 12, 31)) == (
        "Only 31 days of orders are stored up to 31 Dec 2010: recency is ranked among those "
        "days, so 'Lost', 'About to sleep', 'At risk' and 'Cannot lose them' (the least "
        "recent fifths) are customers whose last order is at most 31 days old, not customers "
        "gone for good.")
    assert short_recency(f, date(2011, 11, 30)) is None
    assert short_recency(f, date(2011, 11, 29)).startswith("Only 364 days")
    assert short_recency(f, date(2010, 11, 30)) is None   # before any order: no segment
    assert short_recency(replace(f, orders_from=None), date(2010, 12, 31)) is None


def test_a_baseline_with_far_less_order_history_is_no_baseline():
    """First stored order 1 Jun 2025 (the demo shop's). Sep – Nov 2026 has a year and more of
    orders before it; the same months of 2025 have 92 days (30 + 31 + 31), so more of their
    returning customers count as new: "+12.56 pp" was the history growing. A baseline missing
    at least twice as much of the year as the period shown is none: 365 − 92 = 273 missing
    against 0. December 2025 (183 days, 182 missing) against November (153, 212 missing):
    2 × 182 = 364 > 212, compared. At the edge, a baseline with 65 days (300 missing) against a
    period with 215 (150 missing: 2 × 150 = 300 ≤ 300) is not compared; with 214 (151 missing:
    302 > 300) it is."""
    from kpilib.caveats import before_data, thin_history
    f = Facts(tables=frozenset({"orders"}), as_of=date(2026, 11, 30),
              orders_from=date(2025, 6, 1))
    rate = get("returning_customer_rate")
    said = ("1 Sep – 30 Nov 2025 had only 3 months of orders stored before it, where this "
            "period has a year: more of its customers count as new.")
    assert before_data(rate, f, date(2025, 9, 1), date(2025, 11, 30), date(2026, 9, 1)) == said
    assert before_data(get("new_customers"), f, date(2025, 9, 1), date(2025, 11, 30),
                       date(2026, 9, 1)) == said
    # Net sales do not rest on who ordered before; nor is a period without one compared with.
    assert before_data(get("net_sales"), f, date(2025, 9, 1), date(2025, 11, 30),
                       date(2026, 9, 1)) is None
    assert before_data(rate, f, date(2025, 9, 1), date(2025, 11, 30)) is None
    assert thin_history(rate, f, date(2025, 11, 1), date(2025, 11, 30),
                        date(2025, 12, 1)) is None
    # 1 Jun + 65 days = 5 Aug 2025; + 215 days = 2 Jan 2026; + 214 days = 1 Jan 2026.
    assert thin_history(rate, f, date(2025, 8, 5), date(2025, 8, 31),
                        date(2026, 1, 2)) == (
        "5 Aug – 31 Aug 2025 had only 2 months of orders stored before it, where this "
        "period has 7 months: more of its customers count as new.")
    assert thin_history(rate, f, date(2025, 8, 5), date(2025, 8, 31),
                        date(2026, 1, 1)) is None
    # A year and more on both sides is compared; a baseline from the first order on is
    # first_seen's (reason: unknown), not this.
    assert thin_history(rate, f, date(2026, 6, 1), date(2026, 6, 30), date(2026, 9, 1)) is None
    assert thin_history(rate, f, date(2025, 6, 1), date(2025, 6, 30), date(2026, 9, 1)) is None


def test_a_period_that_starts_before_an_export_is_no_baseline():
    """Traffic stored from 1 March 2025. Sessions over 31 Jan – 1 Mar hold 1 day of 30 (no
    baseline); over 1 – 28 Feb none (nothing to compare with); over 27 Feb – 29 Mar, 29 days
    of 31 (≥ 80 %: a baseline, the two days named in "Why?"). Net sales need orders, which
    this store does not say start later: no reason."""
    from kpilib.caveats import before_data, partly_before
    f = Facts(tables=frozenset({"traffic", "orders"}), as_of=date(2025, 3, 31),
              orders_from=date(2025, 1, 1), starts=(("traffic", date(2025, 3, 1)),))
    assert before_data(get("sessions"), f, date(2025, 1, 31), date(2025, 3, 1)) == (
        "31 Jan – 1 Mar 2025 starts before the first stored day of traffic (01 Mar 2025): "
        "only 1 of its 30 days is in the exports, so it is no baseline.")
    assert before_data(get("sessions"), f, date(2025, 2, 1), date(2025, 2, 28)) == (
        "No day of traffic is stored before 01 Mar 2025, so 1 Feb – 28 Feb 2025 has nothing "
        "to compare with.")
    assert before_data(get("sessions"), f, date(2025, 2, 27), date(2025, 3, 29)) is None
    # Compared, and on which days: 1 – 29 March of 27 Feb – 29 Mar (2 + 29 = 31 days).
    assert partly_before(get("sessions"), f, date(2025, 2, 27), date(2025, 3, 29)) == (
        "compared on 29 of its 31 days: no day of traffic is stored before 01 Mar 2025")
    assert partly_before(get("sessions"), f, date(2025, 1, 31), date(2025, 3, 1)) is None
    assert partly_before(get("sessions"), f, date(2025, 3, 1), date(2025, 3, 29)) is None
    assert before_data(get("net_sales"), f, date(2025, 1, 31), date(2025, 3, 1)) is None
    # A rate over the one day held is no baseline either (UCI's AOV "+19.1 %" against 1 day).
    assert before_data(get("conversion_rate"), f, date(2025, 1, 31), date(2025, 3, 1)) == (
        "31 Jan – 1 Mar 2025 starts before the first stored day of traffic (01 Mar 2025): "
        "only 1 of its 30 days is in the exports, so it is no baseline.")


def uci_with_two_days_of_ads(tmp_path) -> Store:
    """UCI's invoices of 1 Nov – 8 Dec 2011 and a Google Ads export (one channel, paid search)
    of 1 and 2 December only: £10.00 + £20.00 = £30.00."""
    ads = tmp_path / "google_ads.csv"
    ads.write_text("Campaign report\n1 December 2011 - 2 December 2011\n"
                   "Day,Campaign,Currency code,Cost,Impr.,Clicks\n"
                   "2011-12-01,Brand - UK,GBP,10.00,1000,50\n"
                   "2011-12-02,Brand - UK,GBP,20.00,2000,60\n")
    return store_of(tmp_path, FORMATS / "online_retail.csv", ads)


def test_mer_and_cac_say_how_much_of_the_period_the_ad_spend_covers(tmp_path):
    """MER and CAC set the whole period's sales and new customers against the spend stored:
    ads of 2 of the 8 days of 1 – 8 Dec (orders to 8 Dec) read as a real CAC of £30.00
    (£30.00 ÷ 1 new customer: 13256 on 8 Dec; 14646 ordered on 1 Nov) and MER 1.18×
    (579000: 12 × £2.95 = £35.40 ÷ £30.00). Said on both; not on net sales or spend."""
    con = uci_with_two_days_of_ads(tmp_path).connect()
    f, dec = facts(con), Filters(date(2011, 12, 1), date(2011, 12, 8))
    assert run(con, get("cac"), dec)["value"].iat[0] == 30.0
    assert run(con, get("mer"), dec)["value"].iat[0] == pytest.approx(35.4 / 30)
    assert spend_note(get("mer"), f, dec.start, dec.end) == (
        "Ad spend is stored for 2 of the period's 8 days (1 Dec – 2 Dec 2011), while MER "
        "counts the net sales of all 8: upload the other days' ad spend if ads ran then.")
    assert spend_note(get("cac"), f, dec.start, dec.end).startswith(
        "Ad spend is stored for 2 of the period's 8 days (1 Dec – 2 Dec 2011), while Blended "
        "CAC counts the new customers of all 8")
    assert spend_note(get("net_sales"), f, dec.start, dec.end) is None
    # 1 – 2 Dec: the spend covers every day.
    assert spend_note(get("mer"), f, dec.start, date(2011, 12, 2)) is None
    # The command line says it beside the figure too.
    out = json.loads(cli("kpi", "cac", "--store", tmp_path / "s", "--start", "2011-12-01",
                         "--end", "2011-12-08").stdout)
    assert out[0]["value"] == 30.0
    assert out[0]["note"].startswith("Ad spend is stored for 2 of the period's 8 days")


def test_cac_counts_first_seen_customers_as_new_customers_do(tmp_path):
    """CAC's new customers are first orders in the store: on a period that starts with the
    first stored order (1 Nov 2011) none can be told from a returning one, so CAC is unknown,
    as New customers is; a month later it carries the short-history caveat."""
    f = facts(uci_with_two_days_of_ads(tmp_path).connect())
    nov = reason(get("cac"), f, date(2011, 11, 1), date(2011, 11, 30))
    assert nov == reason(get("new_customers"), f, date(2011, 11, 1), date(2011, 11, 30))
    assert nov.startswith("Unknown: no order is stored before 01 Nov 2011")
    assert get("cac").history   # the card then adds short_history, as on New customers
    assert short_history(f, date(2011, 12, 1)).startswith(
        "only 1 month of orders before this period (from 01 Nov 2011)")


def test_a_paid_channel_with_sessions_and_no_spend_is_named(tmp_path):
    """The tiny shop has paid-social orders; with only the paid-search rows of
    its spend stored (a Google Ads export, not Meta's), MER leaves paid social's cost out."""
    import pandas as pd
    spend = pd.read_csv(TINY / "marketing_spend.csv")
    spend[spend["channel"] == "paid_search"].to_csv(tmp_path / "marketing_spend.csv",
                                                    index=False)
    store = store_of(tmp_path, TINY / "orders.csv", TINY / "traffic.csv",
                     tmp_path / "marketing_spend.csv")
    f = facts(store.connect())
    assert "paid_social" in f.unspent and "paid_search" not in f.unspent
    note = spend_note(get("mer"), f, date(2025, 2, 3), date(2025, 2, 4))
    assert "No ad spend is stored for Paid social" in note and "MER leaves" in note


def test_a_channel_whose_ad_spend_stops_before_the_others_is_named(tiny_store):
    """The tiny shop's spend: paid search on 3 – 4 Feb, paid social on 5 Feb, display on 6 Feb
    2025. Over February MER sets paid search's cost of 2 days against sales of every day the
    spend covers (3 – 6 Feb): its export may have stopped on the 4th. Paid social's stops on
    the 5th; display's runs to the last day. Over 3 – 4 Feb nothing stops early (paid
    social, which starts later, is a launch, not a gap)."""
    f = facts(tiny_store.connect())
    note = spend_note(get("mer"), f, date(2025, 2, 1), date(2025, 2, 28))
    assert ("Paid search's ad spend stops on 4 Feb 2025, the other ad spend runs to 6 Feb "
            "2025: upload the rest of its export if its ads ran then." in note), note
    assert "Paid social's ad spend stops on 5 Feb 2025" in note and "Display's" not in note
    assert "stops on" not in (spend_note(get("mer"), f, date(2025, 2, 3), date(2025, 2, 4))
                              or "")


def test_top_products_on_the_command_line_leave_out_what_refunds_cannot_fill(tmp_path):
    """UCI's credit notes name no stored invoice: the command line listed each product's net
    sales as its sales, nothing refunded. 536370: 24 × 3.75 = 90.00 before returns."""
    store = store_of(tmp_path, FORMATS / "online_retail_credit_notes.csv")
    out = cli("kpi", "top_products", "--store", store.path)
    rows = json.loads(out.stdout)
    assert rows[0]["product_name"] == "ALARM CLOCK BAKELIKE PINK" and rows[0]["sales"] == 90.0
    assert "net_sales" not in rows[0] and "returns" not in rows[0]
    assert "note: Returns are not taken off" in out.stderr


def test_days_a_month_is_closed_over_without_an_order():
    """UCI's April 2011 orders export, alone: orders every day but Saturdays from 1 March,
    none over Easter (Fri 22 – Mon 25 April), the last on Thursday 28 April. April is closed
    on the 30th (kpilib.periods.month_close), so its figures lack whatever Friday the 29th
    sold: said, though 2 empty days are no longer than Easter's 4."""
    days = [date(2011, 3, 1) + timedelta(days=i) for i in range(59)]   # 1 Mar – 28 Apr
    days = [d for d in days if d.weekday() != 5
            and not date(2011, 4, 22) <= d <= date(2011, 4, 25)]
    orders_only = replace(_facts(days), as_of=date(2011, 4, 30), stored_to=date(2011, 4, 28))
    april = (date(2011, 4, 1), date(2011, 4, 30))
    gap = trailing_gap(orders_only, *april)
    # 90 days back reach 1 March (the first order): 1 March – 28 April is 59 days.
    assert (gap.runs, gap.closed, gap.before) == (
        ((date(2011, 4, 29), date(2011, 4, 30)),), True, 59)
    assert gap_note(orders_only, *april) == (
        "No order on the last 2 days of the period (29 Apr – 30 Apr 2011): the orders export "
        "ends on 28 Apr. If the shop sold on those days, upload their orders.")
    # Up to the last order, nothing is missing.
    assert trailing_gap(orders_only, date(2011, 4, 1), date(2011, 4, 28)) is None
    # Traffic stored to the 30th: the shop was open and sold nothing, as over Easter.
    walk = replace(orders_only, stored_to=date(2011, 4, 30))
    assert trailing_gap(walk, *april) is None
    # Orders to Friday 29th: the 30th is a Saturday, a day the shop never sells on.
    friday = replace(_facts(days + [date(2011, 4, 29)]), as_of=date(2011, 4, 30),
                     stored_to=date(2011, 4, 29))
    assert trailing_gap(friday, *april) is None


def test_part_weeks_and_months_are_the_first_and_last_the_dates_cut():
    """Weeks run Monday to Sunday (kpi.GROUPINGS). October 2026 starts on a Thursday and ends
    on a Saturday: its first week shown is 1–4 Oct (4 of 7 days), its last 26–31 Oct (6 of 7).
    5–25 Oct runs Monday to Sunday: no part week. 6–8 Oct is one part week. Months: 5 Nov
    2025 – 31 Oct 2026 cuts November alone; whole months cut none; by day nothing is cut."""
    from kpilib.caveats import part_periods, part_periods_text

    d = date
    assert part_periods("week", d(2026, 10, 1), d(2026, 10, 31)) == [
        (d(2026, 10, 1), d(2026, 10, 4)), (d(2026, 10, 26), d(2026, 10, 31))]
    assert part_periods("week", d(2026, 10, 5), d(2026, 10, 25)) == []
    assert part_periods("week", d(2026, 10, 6), d(2026, 10, 8)) == [
        (d(2026, 10, 6), d(2026, 10, 8))]
    assert part_periods("month", d(2025, 11, 5), d(2026, 10, 31)) == [
        (d(2025, 11, 5), d(2025, 11, 30))]
    assert part_periods("month", d(2025, 11, 1), d(2026, 10, 31)) == []
    assert part_periods("day", d(2026, 10, 1), d(2026, 10, 31)) == []
    assert part_periods_text("week", d(2026, 10, 1), d(2026, 10, 31)) == (
        "The first and last weeks are part weeks (1 Oct – 4 Oct 2026 and 26 Oct – 31 Oct 2026 "
        "only): a sum there covers fewer days than a whole week, a rate rests on fewer days.")
    assert part_periods_text("month", d(2026, 1, 1), d(2026, 2, 20)).startswith(
        "The last month is a part month (1 Feb – 20 Feb 2026 only)")
