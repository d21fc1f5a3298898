"""A month the exports hold is a month the app reports: the data's last day is the latest day
any export holds, and a finished month opens on itself (third walkthrough: UCI's April orders
end on the 28th, its traffic and spend on the 30th)."""
from datetime import date

import pytest

from kpilib import Store
from kpilib.ingest import ingest
from test_app import cards, start

ORDERS = ("order_id,ordered_at,status,gross_sales,discounts\n"
          "a,2025-03-01 10:00:00,paid,10,0\n"
          "b,2025-03-15 10:00:00,paid,20,0\n"
          "c,2025-03-31 10:00:00,paid,40,0\n")
APRIL = ("d,2025-04-01 10:00:00,paid,5,0\n"
         "e,2025-04-28 10:00:00,paid,8,0\n")
TRAFFIC = ("date,channel,sessions,product_views,add_to_carts,checkouts,purchases\n"
           "2025-03-01,email,100,50,20,10,1\n"
           "2025-04-01,email,10,5,2,1,1\n"
           "2025-04-29,email,5,3,1,0,0\n"
           "2025-04-30,email,7,3,1,0,0\n")


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Store]:
    root = tmp_path_factory.mktemp("months")
    (root / "march.csv").write_text(ORDERS)
    (root / "april.csv").write_text(ORDERS + APRIL)
    (root / "traffic.csv").write_text(TRAFFIC)
    out = {"march": Store(root / "march"), "walk": Store(root / "walk")}
    ingest(out["march"], [root / "march.csv"])
    ingest(out["walk"], [root / "april.csv", root / "traffic.csv"])
    return out


def test_data_to_a_months_last_day_opens_on_that_month(stores, monkeypatch):
    """March uploaded alone: the default view is March, not 2 – 31 March."""
    at = start(stores["march"], monkeypatch)
    assert at.sidebar.selectbox(key="period").value == "Last month"
    # a + b + c = 10 + 20 + 40; the last 30 days (2 – 31 March) would leave out a's 10.
    assert cards(at)["Net sales"] == "70.00" and cards(at)["Orders"] == "3"
    assert at.caption[0].value.startswith("March 2025 · all channels")
    assert at.sidebar.caption[0].value == "March 2025 · compared with February 2025"


def test_traffic_stored_after_the_last_order_closes_the_month(stores, monkeypatch):
    """Orders to 28 April, traffic to the 30th: April is over, reported and the default."""
    at = start(stores["walk"], monkeypatch)
    assert at.sidebar.selectbox(key="period").value == "Last month"
    # April: sessions 10 + 5 + 7 (29 and 30 April included), orders d + e.
    assert cards(at)["Sessions"] == "22" and cards(at)["Net sales"] == "13.00"
    assert at.sidebar.caption[1].value == "Data from 01 Mar 2025 to 30 Apr 2025."
    # April can be reported; nothing says it is not over, nor forecasts it.
    assert at.selectbox(key="report_month").options == ["2025-04", "2025-03"]
    words = " ".join(c.value for c in at.caption)
    assert "not over" not in words and "forecast" not in words
    at.sidebar.selectbox(key="period").set_value("Month to date").run()
    assert not at.exception and cards(at)["Sessions"] == "22"
    assert "forecast" not in " ".join(c.value for c in at.caption)


def test_data_short_of_a_months_end_keeps_the_last_30_days(stores, tmp_path, monkeypatch):
    """Orders to 15 March: the month is not over, the default stays the last 30 days (14 Feb –
    15 March: a and b, 10 + 20)."""
    (tmp_path / "o.csv").write_text(ORDERS.replace("2025-03-31", "2025-02-10"))
    store = Store(tmp_path / "s")
    ingest(store, [tmp_path / "o.csv"])
    at = start(store, monkeypatch)
    assert at.sidebar.selectbox(key="period").value == "Last 30 days"
    assert cards(at)["Net sales"] == "30.00"
    assert at.selectbox(key="report_month").options == ["2025-02"]
    assert date(2025, 3, 15).strftime("%d %b %Y") in at.sidebar.caption[1].value


def test_a_link_to_the_whole_month_shows_it(stores, monkeypatch):
    """The walkthrough's link for 01 – 30 April was cut to the 28th ("the stored data covers
    01 Mar – 28 Apr"), though traffic is stored to the 30th."""
    from test_app_trust import opened
    at = opened(stores["walk"], monkeypatch, period="Custom",
                dates=["2025-04-01", "2025-04-30"])
    assert not [w.value for w in at.warning if "The link asked for" in w.value]
    assert at.main.caption[0].value.startswith("April 2025 · all channels")
    assert cards(at)["Sessions"] == "22"   # 10 + 5 + 7
