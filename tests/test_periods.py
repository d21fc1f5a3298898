"""kpilib.periods: the days the store spans."""
from datetime import date

import pytest

from kpilib import Store
from kpilib.periods import calendar, data_span


def test_data_span_and_calendar_of_the_tiny_shop(tiny_store, tmp_path):
    con = tiny_store.connect()
    # Orders 5 Jan – 2 Mar 2025 (o1, o8), traffic 3 Feb – 1 Mar, spend 3 – 6 Feb.
    assert data_span(con) == (date(2025, 1, 5), date(2025, 3, 2))
    # The calendar also counts refunds (r3 on 3 Mar) and stock snapshots (from 1 Feb).
    assert calendar(con) == (date(2025, 1, 5), date(2025, 3, 3))
    empty = Store(tmp_path / "empty").connect()
    assert data_span(empty) is None and calendar(empty) is None


def test_presets_end_on_the_latest_day_any_export_holds(tmp_path):
    """Olist's last row is a cancelled order weeks after the last sale: "Last 30 days" must
    end on the last sale, not on an empty month. Traffic (or spend) stored after the last
    order counts: the walkthrough's April orders end on the 28th, its traffic and spend on
    the 30th, and April is over."""
    from kpilib.ingest import ingest
    f = tmp_path / "orders.csv"
    f.write_text("order_id,ordered_at,status,gross_sales,discounts\n"
                 "a,2025-03-10 10:00:00,paid,10,0\nb,2025-04-20 10:00:00,cancelled,20,0\n")
    t = tmp_path / "traffic.csv"
    t.write_text("date,channel,sessions,product_views,add_to_carts,checkouts,purchases\n"
                 "2025-03-01,email,10,5,2,1,1\n2025-03-25,email,10,5,2,1,1\n")
    store = Store(tmp_path / "s")
    ingest(store, [f, t])
    # First day: traffic's 1 March; last: the traffic of 25 March (not the cancelled order of
    # 20 April).
    assert data_span(store.connect()) == (date(2025, 3, 1), date(2025, 3, 25))
    # Orders alone: the valid order's day.
    orders = Store(tmp_path / "o")
    ingest(orders, [f])
    assert data_span(orders.connect()) == (date(2025, 3, 10), date(2025, 3, 10))
    # Traffic alone: its last day.
    only = Store(tmp_path / "t")
    ingest(only, [t])
    assert data_span(only.connect()) == (date(2025, 3, 1), date(2025, 3, 25))


@pytest.mark.parametrize("last, end", [
    (date(2011, 4, 30), date(2011, 4, 30)),   # the month's last day
    (date(2011, 4, 29), date(2011, 4, 30)),   # 1 day short
    (date(2011, 4, 28), date(2011, 4, 30)),   # 2 days short: UCI's April orders
    (date(2011, 4, 27), date(2011, 4, 27)),   # 3 days short: the month is not over
    (date(2018, 9, 3), date(2018, 9, 3)),     # Olist's cut September: 27 days short
    (date(2028, 2, 27), date(2028, 2, 29)),   # leap February, 2 days short
    (date(2027, 2, 26), date(2027, 2, 28)),   # February 2027 has 28 days: 28 − 26 = 2
    (date(2027, 2, 25), date(2027, 2, 25)),   # 28 − 25 = 3
])
def test_a_month_closes_when_the_data_stops_at_most_two_days_short(last, end):
    from kpilib.periods import month_close
    assert month_close(last, today=date(2030, 1, 1)) == end


def test_a_month_still_running_is_not_closed():
    """Data to 28 April looked at on 30 April (a daily export): April is not over, whatever
    the days left; on 1 May it is."""
    from kpilib.periods import month_close
    assert month_close(date(2011, 4, 28), today=date(2011, 4, 30)) == date(2011, 4, 28)
    assert month_close(date(2011, 4, 29), today=date(2011, 4, 29)) == date(2011, 4, 29)
    assert month_close(date(2011, 4, 28), today=date(2011, 5, 1)) == date(2011, 4, 30)


def test_an_orders_export_two_days_short_closes_its_month(tmp_path):
    """Orders to 28 Apr, nothing later stored: the span ends on 30 April (April is over),
    the stored data on the 28th."""
    from kpilib.ingest import ingest
    from kpilib.periods import stored_span
    f = tmp_path / "orders.csv"
    f.write_text("order_id,ordered_at,status,gross_sales,discounts\n"
                 "a,2011-04-01 10:00:00,paid,10,0\nb,2011-04-28 10:00:00,paid,20,0\n")
    store = Store(tmp_path / "s")
    ingest(store, [f])
    con = store.connect()
    assert data_span(con) == (date(2011, 4, 1), date(2011, 4, 30))
    assert stored_span(con) == (date(2011, 4, 1), date(2011, 4, 28))


def test_last_month_is_the_last_whole_month_of_the_data():
    """Data to 30 Nov 2026 (a monthly export, opened on 5 December): "Last month" is
    November, the walkthrough saw October. Data to 4 Dec: November. To 29 Feb 2028 (leap
    year): February. Mid-month, 15 Mar 2025: February."""
    from kpilib.periods import preset_range
    assert preset_range("Last month", date(2026, 11, 30)) == (date(2026, 11, 1),
                                                               date(2026, 11, 30))
    assert preset_range("Last month", date(2026, 12, 4)) == (date(2026, 11, 1),
                                                              date(2026, 11, 30))
    assert preset_range("Last month", date(2028, 2, 29)) == (date(2028, 2, 1),
                                                              date(2028, 2, 29))
    assert preset_range("Last month", date(2025, 3, 15)) == (date(2025, 2, 1),
                                                              date(2025, 2, 28))
