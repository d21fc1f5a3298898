"""Funnel KPIs, the significance test and the session/event roll-ups, counted by hand."""
from datetime import date
from pathlib import Path

import pytest

from helpers import FEB, check, grouped, only, total
from kpilib import Filters, Store
from kpilib.funnel import steps
from kpilib.ingest import ingest

FORMATS = Path(__file__).parent / "data" / "formats"
FEB3 = Filters(date(2025, 2, 3), date(2025, 2, 28))

# February traffic rows (sessions/views/carts/checkouts/purchases):
# 100/60/10/5/2, 50/30/6/4/2, 40/25/5/3/1 (email), 200/120/20/10/3, 0/0/0/0/0 (direct)
CASES = [
    ("product_views", FEB, 235),                      # 60 + 30 + 25 + 120
    ("add_to_carts", FEB, 41),                        # 10 + 6 + 5 + 20
    ("checkouts", FEB, 22),                           # 5 + 4 + 3 + 10
    ("purchases", FEB, 8),
    ("product_view_rate", FEB, 235 / 390),
    ("add_to_cart_rate", FEB, 41 / 390),
    ("checkout_rate", FEB, 22 / 390),
    ("view_to_cart_rate", FEB, 41 / 235),
    ("cart_to_checkout_rate", FEB, 22 / 41),
    ("checkout_to_purchase_rate", FEB, 8 / 22),
    ("cart_abandonment_rate", FEB, 1 - 8 / 41),       # 33 / 41
    ("cart_abandonment_rate", only(FEB, "email"), 1 - 1 / 5),
    ("cart_abandonment_rate", only(FEB, "direct"), None),   # no carts: no value
    # Traffic starts on 3 February: the blended rate has no value for all of February…
    ("blended_conversion_rate", FEB, None),
    # …and from 3 February it is valid orders o2 o3 o4 o6 o7 over 390 sessions.
    ("blended_conversion_rate", FEB3, 5 / 390),
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_funnel_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_step_rates_by_device(tiny_store):
    got = grouped(tiny_store, "view_to_cart_rate", FEB, "device")
    check(got["mobile"], (10 + 5 + 20) / (60 + 25 + 120))
    check(got["desktop"], 6 / 30)


def test_funnel_table():
    t = steps({"sessions": 390, "product_views": 235, "add_to_carts": 41, "checkouts": 22,
               "purchases": 8})
    assert t["step"].tolist() == ["Sessions", "Product view", "Add to cart", "Checkout",
                                  "Purchase"]
    assert t["sessions"].tolist() == [390, 235, 41, 22, 8]
    check(t["step_conversion"][2], 41 / 235)
    check(t["drop_off"][4], 1 - 8 / 22)
    check(t["of_sessions"][4], 8 / 390)
    empty = steps({})
    assert empty["sessions"].tolist() == [0] * 5 and empty["of_sessions"].isna().all()


def q(store, sql):
    return store.connect().execute(sql).fetchall()


def test_session_rows_roll_up_to_days(tmp_path):
    store = Store(tmp_path / "s")
    [r] = ingest(store, [FORMATS / "sessions.csv"])
    assert r.fmt == "session-level rows"
    assert q(store, "select date::varchar, channel, device, sessions, users, new_users, "
                    "product_views, add_to_carts, checkouts, purchases from traffic order by all") == [
        ("2025-02-01", "email", "desktop", 1, 1, 0, 1, 1, 0, 0),         # s3 (23:50)
        ("2025-02-01", "paid_search", "mobile", 2, 2, 2, 2, 1, 1, 1),    # s1, s2
        ("2025-02-02", "email", "desktop", 1, 1, 1, 1, 0, 0, 1),         # s4: purchase, no cart
        ("2025-02-02", "unknown", "mobile", 1, 0, 0, 0, 0, 0, 0)]        # s5: no channel


def test_event_rows_roll_up_by_the_day_the_session_started(tmp_path):
    store = Store(tmp_path / "s")
    [r] = ingest(store, [FORMATS / "events.csv"])
    assert r.fmt == "event-level rows"
    assert q(store, "select date::varchar, channel, sessions, product_views, add_to_carts, "
                    "checkouts, purchases from traffic order by all") == [
        # session a starts 1 Feb 23:58 and buys after midnight: it belongs to 1 February
        ("2025-02-01", "paid_search", 1, 1, 1, 1, 1),
        ("2025-02-02", "direct", 1, 0, 0, 0, 0),          # c: a page view only
        ("2025-02-02", "email", 1, 1, 0, 0, 1)]           # b: purchase without a cart event


def test_event_day_is_the_shop_day(tmp_path):
    store = Store(tmp_path / "s")
    store.update_settings({"timezone": "America/New_York"})
    ingest(store, [FORMATS / "events.csv"])
    # 23:58 UTC is 18:58 in New York; 10:00 and 11:00 UTC are 05:00 and 06:00.
    assert q(store, "select date::varchar, sum(sessions) from traffic group by 1 order by 1") == [
        ("2025-02-01", 1), ("2025-02-02", 2)]


def test_events_with_bad_time_are_refused(tmp_path):
    from kpilib.ingest import IngestError
    f = tmp_path / "events.csv"
    f.write_text("event_time,event_type,session_id\n2025-02-01 10:00,view,a\nsoon,cart,a\n")
    with pytest.raises(IngestError, match="column 'event_time'.*row 3: 'soon'"):
        ingest(Store(tmp_path / "s"), [f])
