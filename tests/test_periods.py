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
