"""Marketing KPIs on the tiny shop, counted by hand."""
import pytest

from helpers import FEB, check, grouped, only, total

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
