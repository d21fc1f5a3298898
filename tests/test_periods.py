"""kpilib.periods: the days the store spans."""
from datetime import date

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


def test_presets_end_on_the_last_valid_order(tmp_path):
    """Olist's last row is a cancelled order weeks after the last sale: "Last 30 days" must
    end on the last sale, not on an empty month."""
    from kpilib.ingest import ingest
    f = tmp_path / "orders.csv"
    f.write_text("order_id,ordered_at,status,gross_sales,discounts\n"
                 "a,2025-03-10 10:00:00,paid,10,0\nb,2025-04-20 10:00:00,cancelled,20,0\n")
    t = tmp_path / "traffic.csv"
    t.write_text("date,channel,sessions,product_views,add_to_carts,checkouts,purchases\n"
                 "2025-03-01,email,10,5,2,1,1\n2025-03-25,email,10,5,2,1,1\n")
    store = Store(tmp_path / "s")
    ingest(store, [f, t])
    # First day: traffic's 1 March; last: the valid order of 10 March (not the cancelled one
    # of 20 April, nor the traffic of 25 March: orders come first).
    assert data_span(store.connect()) == (date(2025, 3, 1), date(2025, 3, 10))
    # Traffic alone: its last day.
    only = Store(tmp_path / "t")
    ingest(only, [t])
    assert data_span(only.connect()) == (date(2025, 3, 1), date(2025, 3, 25))


def test_whole_months_are_compared_with_calendar_months():
    from kpilib import Filters
    feb = Filters(date(2025, 2, 1), date(2025, 2, 28))
    # "Last month" against the month before (all of January, 31 days, not the 28 days before)
    # and against February 2024 (29 days: a leap year), not 364 days back.
    prev, ly = feb.previous_period(), feb.last_year()
    assert (prev.start, prev.end) == (date(2025, 1, 1), date(2025, 1, 31))
    assert (ly.start, ly.end) == (date(2024, 2, 1), date(2024, 2, 29))
    q1 = Filters(date(2025, 1, 1), date(2025, 3, 31))
    assert (q1.previous_period().start, q1.previous_period().end) == (date(2024, 10, 1),
                                                                      date(2024, 12, 31))
    assert q1.comparison_words() == ("the 3 months before", "the same months last year")
    # Any other range: the same number of days before, and 364 days back (same weekdays).
    part = Filters(date(2025, 2, 3), date(2025, 2, 28))
    assert part.whole_months == 0
    assert (part.previous_period().start, part.previous_period().end) == (date(2025, 1, 8),
                                                                          date(2025, 2, 2))
    assert part.last_year().start == date(2024, 2, 5)
