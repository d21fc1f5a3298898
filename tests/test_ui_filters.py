"""ui.filters: the period written in headings, the history a chart reads, one channel's
filters. (The sidebar's widgets and the URL: tests/test_app_filters.py, through AppTest.)"""
from datetime import date

from kpilib import Filters
from ui import filters as uf


def test_a_range_in_words():
    assert uf.fmt_range(date(2025, 3, 4), date(2025, 3, 4)) == "04 Mar 2025"
    assert uf.fmt_range(date(2025, 2, 3), date(2025, 3, 4)) == "03 Feb – 04 Mar 2025"
    assert uf.fmt_range(date(2024, 12, 30), date(2025, 1, 5)) == "30 Dec 2024 – 05 Jan 2025"
    # A calendar month by its name (a leap February too); a month less a day by its dates.
    assert uf.fmt_range(date(2011, 3, 1), date(2011, 3, 31)) == "March 2011"
    assert uf.fmt_range(date(2028, 2, 1), date(2028, 2, 29)) == "February 2028"
    assert uf.fmt_range(date(2011, 3, 2), date(2011, 3, 31)) == "02 Mar – 31 Mar 2011"
    assert uf.fmt_range(date(2011, 4, 1), date(2011, 4, 29)) == "01 Apr – 29 Apr 2011"


def test_history_starts_no_earlier_than_the_data(monkeypatch):
    f = Filters(date(2025, 11, 15), date(2026, 1, 10), devices=("mobile",))
    # 6 months ending January: from 1 Aug 2025, but the data start on 20 Sep.
    monkeypatch.setattr(uf, "data_start", lambda: date(2025, 9, 20))
    h = uf.history(f, 6)
    assert (h.start, h.end, h.devices) == (date(2025, 9, 20), date(2026, 1, 10), ("mobile",))
    monkeypatch.setattr(uf, "data_start", lambda: date(2025, 7, 1))
    assert uf.history(f, 6).start == date(2025, 8, 1)
    # Data starting inside the period: the period itself, never less.
    monkeypatch.setattr(uf, "data_start", lambda: date(2025, 12, 1))
    assert uf.history(f, 6).start == date(2025, 11, 15)


def test_only_one_channel_keeps_the_other_filters():
    f = Filters(date(2025, 2, 1), date(2025, 2, 28), ("email", "direct"), countries=("FR",))
    assert uf.only(f, "paid_search") == Filters(date(2025, 2, 1), date(2025, 2, 28),
                                                ("paid_search",), countries=("FR",))
