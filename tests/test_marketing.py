"""Marketing KPIs on the tiny shop, counted by hand."""
from datetime import date

import pandas as pd
import pytest

from helpers import FEB, MAR, check, grouped, only, total
from kpilib import Filters

# February spend: paid_search 20 + 30, paid_social 40, display 10.
# Attributed revenue (gross − discounts, valid orders): paid_search o2 50 + o3 72 = 122,
# paid_social o7 100 (o5 cancelled), email o6 30, direct o4 40.
CASES = [
    ("spend", FEB, 100.0),
    ("spend", only(FEB, "paid_search"), 50.0),
    ("attributed_revenue", FEB, 292.0),              # 122 + 100 + 30 + 40
    ("attributed_revenue", only(FEB, "paid_search"), 122.0),
    ("roas", only(FEB, "paid_search"), 122 / 50),    # 2.44
    ("roas", FEB, (122 + 100 + 0) / 100),            # channels with spend only: 2.22
    ("roas", only(FEB, "email"), None),              # orders but no spend: no ROAS
    ("roas", only(FEB, "display"), 0.0),             # spend but no orders: 0
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_marketing_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_roas_by_channel_lists_channels_with_spend(tiny_store):
    got = grouped(tiny_store, "roas", FEB, "channel")
    assert got == {"display": 0.0, "paid_search": 2.44, "paid_social": 2.5}


# February spend rows: paid_search 20 (1000 impressions, 50 clicks) and 30 (2000, 60),
# paid_social 40 (5000, 0 clicks), display 10 (3000, 5). New customers in February: bob
# (acquired through paid_search) and dave (paid_social).
MORE = [
    ("cpc", FEB, 100 / 115),                          # (20 + 30 + 40 + 10) / (50 + 60 + 0 + 5)
    ("cpc", only(FEB, "paid_social"), None),          # a zero-click row: no cost per click
    ("ctr", only(FEB, "paid_social"), 0.0),           # 0 / 5000
    ("ctr", FEB, 115 / 11000),
    ("cac", FEB, 100 / 2),                            # blended: all spend / all new customers
    ("cac", only(FEB, "paid_search"), 50.0),          # 50 / bob
    ("cac", only(FEB, "paid_social"), 40.0),          # 40 / dave
    ("cac", only(FEB, "email"), None),                # no spend: no CAC
    ("cac", only(FEB, "display"), None),              # spend but nobody acquired
    ("mer", FEB, 262 / 100),                          # net sales / spend, shop-wide
    ("mer", only(FEB, "display"), 262 / 100),         # the channel filter does not apply
    ("mer_inverse", FEB, 100 / 262),
]


@pytest.mark.parametrize("name,f,expected", MORE)
def test_more_marketing_by_hand(tiny_store, name, f, expected):
    check(total(tiny_store, name, f), expected)


def test_unmatched_spend_and_channel_mapping(store_copy):
    from kpilib import get, run
    t = run(store_copy.connect(), get("unmatched_spend"), FEB)
    assert t[["channel", "spend"]].values.tolist() == [["display", 10.0]]
    store_copy.update_settings({"channel_map": {"display": "paid_search"}})
    assert run(store_copy.connect(), get("unmatched_spend"), FEB).empty
    check(total(store_copy, "roas", only(FEB, "paid_search")), 122 / 60)


def test_payback_on_a_three_customer_cohort(tmp_path):
    """paid_social spends 90 in January 2025 and acquires a (10), b (20) and c (15): CAC 30.
    c's order is later refunded 6. a buys 30 in February, b 24 in March; email acquires d
    but has no spend, so no payback.
    Cumulative revenue per customer: M0 (10 + 20 + 15 − 6) / 3 = 13, M1 69 / 3 = 23,
    M2 93 / 3 = 31 ≥ 30: pays back in month 2."""
    from datetime import date

    from kpilib import Filters, Store, get, run
    from kpilib.ingest import ingest
    from kpilib.marketing import payback_months
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,customer_id,channel,status,gross_sales,discounts\n"
        "1,2025-01-05,a,paid_social,paid,10,0\n2,2025-01-06,b,paid_social,paid,20,0\n"
        "3,2025-01-07,c,paid_social,paid,15,0\n4,2025-02-10,a,email,paid,30,0\n"
        "5,2025-03-10,b,direct,paid,24,0\n6,2025-01-08,d,email,paid,50,0\n")
    (tmp_path / "refunds.csv").write_text("order_id,refunded_at,amount\n3,2025-02-20,6\n")
    (tmp_path / "spend.csv").write_text("date,channel,campaign,spend\n"
                                        "2025-01-01,paid_social,a,40\n2025-01-15,paid_social,b,50\n")
    store = Store(tmp_path / "s")
    ingest(store, sorted(tmp_path.glob("*.csv")))
    t = run(store.connect(), get("payback"), Filters(date(2025, 1, 1), date(2025, 1, 31)))
    assert t["channel"].unique().tolist() == ["paid_social"]
    assert [round(v, 6) for v in t["revenue_per_customer"]] == [13.0, 23.0, 31.0]
    assert t["cac"].iat[0] == 30.0
    [row] = payback_months(t).to_dict("records")
    assert (row["customers"], row["payback_month"]) == (3, 2)
    early = run(store.connect(), get("payback"), Filters(date(2025, 1, 1), date(2025, 1, 31)))
    early = early[early["k"] < 2]
    assert payback_months(early)["payback_month"].tolist() == [None]     # not yet


# --- a paused campaign: spend rows of 0.00 ---------------------------------------------------
@pytest.fixture(scope="module")
def paused_store(tmp_path_factory):
    """March 2025 (Monday 3 March starts a week). Spend: paid_search 0.00 on 3 Mar (paused)
    and 50 on 4 Mar; paid_social 100 on 3 Mar and 0.00 on 4 Mar; affiliate 0.00 on 3 Mar and
    nothing else; display 20 on 10 Mar. Orders (gross − discounts): paid_search 1,150 on 3 Mar,
    100 on 4 Mar and 40 on 10 Mar; paid_social 54 on 3 Mar and 30 on 4 Mar (and a cancelled
    999); affiliate 200 on 5 Mar; email 500 on 10 Mar (no spend row at all)."""
    from kpilib import Store
    from kpilib.ingest import ingest
    folder = tmp_path_factory.mktemp("paused")
    (folder / "orders.csv").write_text(
        "order_id,ordered_at,channel,status,gross_sales,discounts\n"
        "1,2025-03-03 10:00,paid_search,paid,1200,50\n2,2025-03-03 11:00,paid_social,paid,54,0\n"
        "3,2025-03-04 10:00,paid_search,paid,100,0\n4,2025-03-04 12:00,paid_social,paid,30,0\n"
        "5,2025-03-04 13:00,paid_social,cancelled,999,0\n"
        "6,2025-03-05 10:00,affiliate,paid,200,0\n7,2025-03-10 10:00,email,paid,500,0\n"
        "8,2025-03-10 11:00,paid_search,paid,40,0\n")
    (folder / "spend.csv").write_text(
        "date,channel,campaign,spend\n2025-03-03,paid_search,brand,0.00\n"
        "2025-03-04,paid_search,brand,50.00\n2025-03-03,paid_social,prospecting,100.00\n"
        "2025-03-04,paid_social,prospecting,0.00\n2025-03-03,affiliate,vouchers,0.00\n"
        "2025-03-10,display,banners,20.00\n")
    store = Store(folder / "store")
    ingest(store, sorted(folder.glob("*.csv")))
    return store


MAR3 = Filters(date(2025, 3, 3), date(2025, 3, 3))
# A channel counts in a total only where its spend in that group is > 0.
PAUSED = [
    # 3 Mar: paid_search's 1,150 has only a 0.00 spend row: paid_social alone, 54 / 100
    # (was (1150 + 54) / 100 = 12.04).
    ("roas", MAR3, 54 / 100),
    ("paid_revenue", MAR3, 54.0),
    ("roas", only(MAR3, "paid_search"), None),          # 0 spend: no ROAS
    ("paid_revenue", only(MAR3, "paid_search"), 0.0),
    # March: paid_search 1150 + 100 + 40 = 1290 (spend 50), paid_social 54 + 30 = 84 (100),
    # display 0 (20); affiliate (0.00 only) and email (no spend) left out:
    # 1374 / 170 (was (1374 + 200) / 170).
    ("roas", MAR, 1374 / 170),
    ("paid_revenue", MAR, 1374.0),
    ("attributed_revenue", MAR, 2074.0),                # every channel: 1374 + 200 + 500
    ("roas", only(MAR, "affiliate", "paid_social"), 84 / 100),
    ("paid_revenue", only(MAR, "affiliate", "paid_social"), 84.0),
]


@pytest.mark.parametrize("name,f,expected", PAUSED)
def test_channels_without_spend_count_in_no_total(paused_store, name, f, expected):
    check(total(paused_store, name, f), expected)


# By group: 3 Mar 54 / 100; 4 Mar paid_search 100 / 50 (paid_social's 30 had 0.00);
# 10 Mar display 0 / 20 (email and paid_search had no spend that day); other days no spend.
# Week of 3 Mar: paid_search 1150 + 100 (50), paid_social 84 (100), affiliate out:
# 1334 / 150; week of 10 Mar: display 0 / 20.
GROUPED = [
    ("day", {date(2025, 3, 3): 0.54, date(2025, 3, 4): 2.0, date(2025, 3, 10): 0.0}),
    ("week", {date(2025, 3, 3): 1334 / 150, date(2025, 3, 10): 0.0}),
    ("month", {date(2025, 3, 1): 1374 / 170}),
    ("channel", {"affiliate": None, "display": 0.0, "paid_search": 1290 / 50,
                 "paid_social": 84 / 100}),
]


@pytest.mark.parametrize("by,expected", GROUPED)
def test_roas_by_group_leaves_out_channels_without_spend_in_the_group(paused_store, by,
                                                                       expected):
    got = grouped(paused_store, "roas", MAR, by)
    for key, want in expected.items():
        check(got.pop(key), want)
    assert all(v is None for v in got.values()), got       # days and weeks without spend


@pytest.mark.parametrize("store_name", ["paused_store", "tiny_store", "demo_store"])
@pytest.mark.parametrize("by", [None, "day", "week", "month", "channel"])
def test_paid_revenue_is_the_roas_numerator(request, store_name, by):
    """The Marketing ROI cards show spend, paid revenue and ROAS side by side: spend × ROAS
    must be the revenue shown, for every filter and grouping, on both paths."""
    from kpilib import get, run
    con = request.getfixturevalue(store_name).connect()
    filters = [MAR, MAR3, only(MAR, "affiliate", "paid_social"), FEB, only(FEB, "email"),
               Filters(date(2025, 11, 15), date(2026, 1, 15)),
               Filters(date(2026, 4, 1), date(2026, 6, 30), ("email", "paid_social"))]
    for f in filters:
        for rollups in (True, False):
            roas = run(con, get("roas"), f, by, rollups=rollups)
            paid = run(con, get("paid_revenue"), f, by, rollups=rollups)
            pd.testing.assert_series_equal(paid["value"], roas["numerator"], check_names=False)
            spend = run(con, get("spend"), f, by, rollups=rollups)
            pd.testing.assert_series_equal(spend["value"], roas["denominator"],
                                           check_names=False)
            if by == "channel":
                assert paid["channel"].tolist() == spend["channel"].tolist()


def test_payback_over_a_period_cut_mid_month(tmp_path):
    """Period 15 Jan – 15 Mar 2025. paid_social spends 60 on 5 Jan (before it), 30 on 20 Jan,
    40 on 10 Feb, 20 on 10 Mar and 50 on 25 Mar (after it); paid_search spends 100 on 2 Jan
    only. First orders: paid_social a on 6 Jan (before), b 8 on 21 Jan, c 10 on 25 Jan, d 50
    on 12 Feb, e 25 on 12 Mar, f on 20 Mar (after); paid_search g on 18 Jan. b buys 20 more
    on 15 Feb (by email: the acquisition channel counts).
    Spend and customers over the same days: Jan cohort 30 / 2 (b, c) = CAC 15 (was the whole
    month's (60 + 30) / 2 = 45); Feb 40 / 1 = 40; Mar 20 / 1 = 20 (was (20 + 50) / 1 = 70).
    paid_search's January has no spend inside the period: no cohort (was CAC 100).
    Revenue per customer: Jan M0 (8 + 10) / 2 = 9, M1 (18 + 20) / 2 = 19 ≥ 15: month 1;
    Feb M0 50 ≥ 40 and Mar M0 25 ≥ 20: month 0."""
    from kpilib import Store, get, run
    from kpilib.ingest import ingest
    from kpilib.marketing import payback_months
    (tmp_path / "orders.csv").write_text(
        "order_id,ordered_at,customer_id,channel,status,gross_sales,discounts\n"
        "1,2025-01-06,a,paid_social,paid,5,0\n2,2025-01-21,b,paid_social,paid,8,0\n"
        "3,2025-01-25,c,paid_social,paid,10,0\n4,2025-02-12,d,paid_social,paid,50,0\n"
        "5,2025-03-12,e,paid_social,paid,25,0\n6,2025-03-20,f,paid_social,paid,7,0\n"
        "7,2025-01-18,g,paid_search,paid,60,0\n8,2025-02-15,b,email,paid,20,0\n")
    (tmp_path / "spend.csv").write_text(
        "date,channel,campaign,spend\n2025-01-05,paid_social,a,60\n2025-01-20,paid_social,a,30\n"
        "2025-02-10,paid_social,a,40\n2025-03-10,paid_social,a,20\n2025-03-25,paid_social,a,50\n"
        "2025-01-02,paid_search,b,100\n")
    store = Store(tmp_path / "s")
    ingest(store, sorted(tmp_path.glob("*.csv")))
    period = Filters(date(2025, 1, 15), date(2025, 3, 15))
    for f in (period, only(period, "paid_social")):
        t = run(store.connect(), get("payback"), f)
        summary = payback_months(t)
        assert summary["channel"].unique().tolist() == ["paid_social"]
        assert summary[["customers", "cac", "payback_month"]].values.tolist() == \
            [[2, 15.0, 1], [1, 40.0, 0], [1, 20.0, 0]]
        jan = t[t["cohort"] == pd.Timestamp(2025, 1, 1)]
        assert [round(v, 6) for v in jan["revenue_per_customer"]] == [9.0, 19.0, 19.0]
    assert run(store.connect(), get("payback"), only(period, "paid_search")).empty


@pytest.mark.parametrize("name,channels,label", [
    ("paid_revenue", (), None),                       # its own label: all paid channels
    ("paid_revenue", ("email",), "Revenue of Email with ad spend"),
    ("cac", ("paid_search", "paid_social"), "CAC of Paid search and Paid social"),
    ("cac", ("email", "sms", "display"), "CAC of the 3 channels chosen"),
    ("spend", ("email",), None),                      # "Ad spend" says it under any filter
])
def test_a_card_under_a_channel_filter_is_named_for_its_channels(name, channels, label):
    from kpilib.marketing import filtered_label
    assert filtered_label(name, channels) == label
