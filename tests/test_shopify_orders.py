"""Shopify's orders export as a merchant's Shopify Analytics reads it: UTM tags in every form
the export carries them, app ids as sources, tips apart from sales, refunds split into goods,
shipping and tax, discount codes and campaigns kept. Tiny real-shaped exports in
tests/data/formats (the export's own columns), hand-counted figures, and the figures by day,
month and channel against an independent pandas reading of the same files."""
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kpilib import KPIS, Filters, Store, run
from kpilib.ingest import ingest
from test_oracle import check

FORMATS = Path(__file__).parent / "data" / "formats"
TIPS_REFUNDS = FORMATS / "shopify_orders_tips_refunds.csv"
MAY_JUNE = Filters(date(2024, 5, 1), date(2024, 6, 30))


def load(tmp_path, *files, **settings):
    store = Store(tmp_path / "s")
    if settings:
        store.update_settings(settings)
    report = ingest(store, list(files))
    return store, report


def q(store, sql):
    return store.connect().execute(sql).fetchall()


# --- 1. UTM tags, app ids, sms --------------------------------------------------------------
# order → (channel, utm_campaign), read from the files by hand.
CHANNELS = {
    "#3001": ("paid_search", "Brand Search"),     # "utm_source: google" lines
    "#3002": ("paid_social", "May_Retargeting"),  # "utm_source=facebook" lines, medium cpc
    "#3003": ("email", "May Newsletter"),         # Klaviyo / email in _elevar_visitor_info JSON
    "#3004": ("sms", None),                       # attentive / sms in Tags
    "#3005": ("app", None),                       # Source 5776891: an app id, no UTM
    "#3006": ("app", None),
    "#3007": ("paid_social", None),  # empty UTM attributes; instagram / paid in Tags
    "#3008": ("unknown", None),                   # Source web, no UTM
    "#3009": ("organic_search", None),            # google / organic in escaped JSON
    "#3010": ("app", None),                       # Source 2329312
    "#4001": ("paid_search", "Spring Sale"),      # Landing Site query string, %20
    "#4002": ("paid_social", "retarget may"),     # Referring Site query string, +
    "#4003": ("email", None),       # Note Attributes (klaviyo / email) before Landing Site
    "#4004": ("unknown", None),                   # URLs without UTM tags
}


def test_utm_tags_in_every_form_the_export_carries(tmp_path):
    store, report = load(tmp_path, FORMATS / "shopify_orders_utm.csv",
                         FORMATS / "shopify_orders_landing_site.csv")
    got = {o: (ch, camp) for o, ch, camp in
           q(store, "select order_id, channel, utm_campaign from orders")}
    assert got == CHANNELS
    # The app ids are listed, most orders first, for the user to map them.
    assert ("shopify_orders_utm.csv: Source 5776891 (2 orders), 2329312 (1 order) are app ids, "
            "not a channel: shown as channel 'app'. Map each to a channel in Settings (channel "
            "mapping) for the next uploads; to apply it to this one, undo it and upload it "
            "again") in report.warnings
    # 'app' is a known label: not also listed as a channel outside the standard list.
    assert not any("outside the standard list" in n for f in report for n in f.notes)


def test_app_ids_and_sms_mapped_in_settings(tmp_path):
    store, report = load(tmp_path, FORMATS / "shopify_orders_utm.csv",
                         channel_map={"5776891": "affiliate", "sms": "email"})
    got = dict(q(store, "select order_id, channel from orders"))
    assert (got["#3005"], got["#3006"], got["#3010"]) == ("affiliate", "affiliate", "app")
    assert got["#3004"] == "email"        # the shop counts text messages as e-mail
    assert got["#3001"] == "paid_search"  # channels the mapping does not name are kept
    assert [w for w in report.warnings if "app id" in w] == [
        "shopify_orders_utm.csv: Source 2329312 (1 order) is an app id, not a channel: shown "
        "as channel 'app'. Map it to a channel in Settings (channel mapping) for the next "
        "uploads; to apply it to this one, undo it and upload it again"]


@pytest.mark.parametrize("source,medium,channel", [
    ("klaviyo", "email", "email"), ("Klaviyo", "", "email"), ("attentive", "", "sms"),
    ("klaviyo", "sms", "sms"), ("postscript", "sms", "sms"), ("facebook", "cpc", "paid_social"),
    ("ig", "paid", "paid_social"), ("google", "cpc", "paid_search"), ("bing", "ppc", "paid_search"),
    ("google", "organic", "organic_search"), ("facebook", "referral", "organic_social"),
])
def test_source_medium_pairs_map_as_ga4_pairs_do(source, medium, channel):
    import duckdb

    from kpilib.channels import source_medium_sql
    assert duckdb.sql(f"select {source_medium_sql('$s', '$m')}",
                      params={"s": source, "m": medium}).fetchall()[0][0] == channel


# --- 2, 4, 7. Tips, refunds, discount codes and campaigns -----------------------------------
@pytest.fixture(scope="module")
def shop_store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("shopify") / "s")
    ingest(store, [TIPS_REFUNDS])
    return store


def test_tips_are_apart_from_sales(shop_store):
    # #2001: Linen shirt 1 × 40 and a Tip line of 5; #2006: Wool socks 1 × 10 and a Tip of 2.
    assert q(shop_store, "select order_id, gross_sales, discounts, tips from orders "
                         "where order_id in ('#2001', '#2006') order by 1") == [
        ("#2001", Decimal("40.00"), Decimal("4.00"), Decimal("5.00")),
        ("#2006", Decimal("10.00"), Decimal("1.00"), Decimal("2.00"))]
    # The tip is no order line (no units, no product); the shirt keeps its line number.
    assert q(shop_store, "select order_id, line, sku from order_items "
                         "where order_id in ('#2001', '#2006') order by 1, 2") == [
        ("#2001", 1, "SHIRT-M"), ("#2006", 1, "SOCKS")]
    # The order's discount of 4 lies wholly on the shirt, none on the tip.
    assert q(shop_store, "select sku, discount_share from sales_lines "
                         "where order_id = '#2001'") == [("SHIRT-M", 4)]
    top = run(shop_store.connect(), KPIS["top_products"], MAY_JUNE)
    assert set(top["sku"]) == {"SHIRT-M", "SOCKS", "MUG", "LAMP"} and top["units"].sum() == 8


def test_refunds_are_split_into_goods_shipping_and_tax(shop_store):
    assert q(shop_store, "select order_id, amount, shipping, tax from refunds order by 1") == [
        # Whole refund 38.00 = goods 30.00 + shipping 5.00 + tax 3.00 (Total 30 + 5 + 3).
        ("#2002", Decimal("30.00"), Decimal("5.00"), Decimal("3.00")),
        # 22.00 of an order with Subtotal 60.00 and Taxes 6.00: goods with their tax, 22 × 6 /
        # 66 = 2.00 tax, 20.00 goods; nothing beyond the goods, so no shipping.
        ("#2003", Decimal("20.00"), Decimal("0.00"), Decimal("2.00")),
        # 140.00 of 120 + 10 shipping + 12 tax: goods and tax 132.00 (tax 12.00), then 8.00 of
        # the shipping.
        ("#2004", Decimal("120.00"), Decimal("8.00"), Decimal("12.00")),
        # Whole refund 11.90 = goods 10 − 1 discount = 9.00 + tax 0.90 + the tip 2.00, which
        # is no return of goods.
        ("#2006", Decimal("9.00"), Decimal("0.00"), Decimal("0.90"))]


def test_prices_that_include_tax_keep_it_in_the_goods_refunded(tmp_path):
    # Total = Subtotal + Shipping: the Taxes column is inside the prices (gross sales hold it
    # too), so a refund returns the goods with their tax and nothing counts as tax refunded.
    store, _ = load(tmp_path, FORMATS / "shopify_orders_tax_included.csv")
    assert q(store, "select order_id, amount, shipping, tax from refunds order by 1") == [
        ("#5001", Decimal("120.00"), Decimal("10.00"), Decimal("0.00")),   # 130 = 120 + 10
        ("#5002", Decimal("50.00"), Decimal("0.00"), Decimal("0.00"))]     # half the goods
    # The fully refunded lamp nets to 0 (120 − 120); the vases to 100 − 50.
    assert run(store.connect(), KPIS["net_sales"], MAY_JUNE)["value"][0] == 50


def test_discount_codes_and_campaigns_are_kept(shop_store):
    assert q(shop_store, "select order_id, discount_code, utm_campaign from orders "
                         "where discount_code is not null or utm_campaign is not null "
                         "order by 1") == [
        ("#2001", "SPRING10", "May Sale"), ("#2004", None, "brand"),
        ("#2006", "SOCKS10", "june-drop")]


# Valid orders #2001–#2004 and #2006 (#2005 is cancelled), refunds dated on their orders:
#   gross 40 + 30 + 60 + 120 + 10 = 260; discounts 4 + 1 = 5
#   returns (goods) 30 + 20 + 120 + 9 = 179; net 260 − 5 − 179 = 76
#   shipping (6 + 5 + 5 + 10) − (5 + 8) = 13
#   tax (3.6 + 3 + 6 + 12 + 0.9) − (3 + 2 + 12 + 0.9) = 7.6
#   tips 5 + 2 = 7 (not in total sales); total 76 + 13 + 7.6 = 96.6
#   AOV (260 − 5) ÷ 5 = 51; units 1 + 2 + 3 + 1 + 1 = 8 (no tip), 8 ÷ 5 = 1.6 per order
# May (#2001, #2002): net 40 − 4 − 30 = 6 + 30 = 36; total 36 + (11 − 5) + (6.6 − 3) = 45.6
# June: net 190 − 1 − 149 = 40; total 40 + (15 − 8) + (18.9 − 14.9) = 51
@pytest.mark.parametrize("name,by,want", [
    ("orders", None, 5), ("gross_sales", None, 260), ("discounts", None, 5),
    ("returns", None, 179), ("net_sales", None, 76), ("shipping", None, 13), ("tax", None, 7.6),
    ("tips", None, 7), ("total_sales", None, 96.6), ("aov", None, 51),
    ("units_per_order", None, 1.6),
    ("net_sales", "month", {date(2024, 5, 1): 36, date(2024, 6, 1): 40}),
    ("total_sales", "month", {date(2024, 5, 1): 45.6, date(2024, 6, 1): 51}),
    ("net_sales", "channel", {"email": 36, "paid_social": 0, "app": 40, "paid_search": 0,
                              "sms": 0}),
])
def test_hand_counted_figures(shop_store, name, by, want):
    con = shop_store.connect()
    for rollups in (True, False):
        df = run(con, KPIS[name], MAY_JUNE, by, rollups=rollups)
        if by is None:
            assert df["value"][0] == pytest.approx(want, abs=0.005)
        else:
            key = "channel" if by == "channel" else "period"
            got = {(k.date() if hasattr(k, "date") else k): v
                   for k, v in zip(df[key], df["value"])}
            assert got == pytest.approx(want, abs=0.005)


# --- the same figures from an independent pandas reading of the export ---------------------
# The channel of each order, read by hand from its UTM tags and Source.
CHANNEL_OF = {"#2001": "email", "#2002": "paid_social", "#2003": "app", "#2004": "paid_search",
              "#2005": "unknown", "#2006": "sms"}


def read_export(path: Path, channels: dict = CHANNEL_OF, zone: str = "UTC") -> SimpleNamespace:
    """The export read with pandas alone: order fields from each order's first row, times in
    shop time (``zone``), tips by the line's name, refunds split by the rule the README
    states and dated on the cancellation, else the order."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", np.nan)
    qty, price = df["Lineitem quantity"].astype(int), df["Lineitem price"].astype(float)
    tip = (df["Lineitem name"] == "Tip") & df["Lineitem sku"].isna()
    df = df.assign(value=qty * price, goods=(qty * price).where(~tip, 0),
                   tip=(qty * price).where(tip, 0), qty=qty)
    first = df.groupby("Name", sort=False).first()
    money = {c: first[c].astype(float).fillna(0) for c in
             ("Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount")}
    def shop_time(column):
        return pd.to_datetime(first[column], utc=True).dt.tz_convert(zone).dt.tz_localize(None)

    orders = pd.DataFrame({
        "order_id": first.index, "ordered_at": shop_time("Created at"),
        "cancelled_at": shop_time("Cancelled at"),
        "customer_id": first["Email"], "channel": first.index.map(channels),
        "status": np.where(first["Cancelled at"].notna()
                           | (first["Financial Status"] == "voided"), "cancelled", "valid"),
        "gross_sales": df.groupby("Name", sort=False)["goods"].sum(),
        "discounts": money["Discount Amount"], "shipping": money["Shipping"],
        "tax": money["Taxes"], "tips": df.groupby("Name", sort=False)["tip"].sum(),
        "shipped_at": pd.NaT}).reset_index(drop=True)
    refunds = []
    for o in orders.itertuples():
        r = money["Refunded Amount"][o.order_id]
        if r <= 0:
            continue
        sub, total = money["Subtotal"][o.order_id], money["Total"][o.order_id]
        on_top = (abs(sub + o.shipping + o.tax + o.tips - total)
                  <= abs(sub + o.shipping + o.tips - total))
        t, g = (o.tax if on_top else 0), o.gross_sales - o.discounts
        with_tax = min(r, g + t)
        tax = round(with_tax * t / (g + t), 2) if g + t else 0
        shipping = min(r - with_tax, o.shipping)
        tipped = min(r - with_tax - shipping, o.tips)
        when = o.ordered_at if pd.isna(o.cancelled_at) else o.cancelled_at
        refunds.append({"order_id": o.order_id, "refunded_at": when,
                        "amount": r - tax - shipping - tipped, "shipping": shipping, "tax": tax})
    items = df[~tip].rename(columns={"Name": "order_id", "qty": "quantity"})
    return SimpleNamespace(orders=orders, refunds=pd.DataFrame(refunds),
                           order_items=items[["order_id", "quantity"]], traffic=pd.DataFrame())


NAMES = ("orders", "gross_sales", "discounts", "returns", "net_sales", "shipping", "tax", "tips",
         "total_sales", "aov", "units_per_order", "cancellation_rate", "returns_by_order_date",
         "return_rate_value")


@pytest.mark.parametrize("f", [MAY_JUNE, Filters(date(2024, 5, 31), date(2024, 6, 1)),
                               Filters(date(2024, 5, 1), date(2024, 6, 30), ("app", "sms"))],
                         ids=["two months", "two days", "two channels"])
@pytest.mark.parametrize("by", [None, "day", "month", "channel"])
@pytest.mark.parametrize("name", NAMES)
def test_figures_match_an_independent_pandas_reading(shop_store, name, by, f):
    check(name, read_export(TIPS_REFUNDS), shop_store, f, by)


# --- 5. Cancelled orders: left out (the default) or counted as Shopify does (Settings) -------
NEW_YORK = FORMATS / "shopify_orders_new_york.csv"
YEAR = Filters(date(2024, 1, 1), date(2024, 12, 31))
# Each order's channel, read by hand from its Source (no UTM tags).
NEW_YORK_CHANNELS = {"#2001": "unknown", "#2002": "marketplace", "#2003": "unknown",
                     "#2004": "direct", "#2005": "unknown", "#2006": "unknown",
                     "#2007": "unknown"}


@pytest.fixture(scope="module", params=["excluded", "shopify"])
def new_york(tmp_path_factory, request):
    """The New York shop's export stored in its own timezone under either convention."""
    store = Store(tmp_path_factory.mktemp("new-york") / "s")
    store.update_settings({"cancelled_orders": request.param})
    ingest(store, [NEW_YORK], adopt_timezone=True)
    return store


def test_cancellation_dates_are_kept(new_york):
    # Cancelled at, in shop time: #2005 at 09:00 −04:00, #2006 at 10:00 −05:00.
    assert q(new_york, "select order_id, status, cancelled_at from orders "
                       "where cancelled_at is not null order by 1") == [
        ("#2005", "cancelled", datetime(2024, 7, 6, 9, 0)),
        ("#2006", "cancelled", datetime(2024, 12, 2, 10, 0))]


# In New York time: #2001 40 + 5 shipping + 1.60 tax on 31 Jan, #2002 25 on 15 Feb
# (marketplace), #2003 52.50 on 9 Mar, #2004 37.50 on 30 Jun (direct), #2007 85 − 8.50 + 5
# shipping on 15 Dec; cancelled: #2005 60 − 6 = 54 on 4 Jul (cancelled 6 Jul), #2006 80 − 8 =
# 72 on 30 Nov (cancelled 2 Dec; its refund row of 72 is no return under either convention).
# Left out: orders 5; gross 40 + 25 + 52.5 + 37.5 + 85 = 240; discounts 8.50; net 231.50;
#   total 231.50 + 10 + 1.60 = 243.10; AOV 231.50 ÷ 5 = 46.30; customers ann, ben, cal: 3.
# Shopify's: orders 7; gross 240 + 60 + 80 = 380; discounts 8.50 + 6 + 8 = 22.50; returns
#   54 on 6 Jul and 72 on 2 Dec; net 380 − 22.50 − 126 = 231.50 and total 243.10, as above;
#   AOV (380 − 22.50) ÷ 7 = 51.07; customers ann, ben, cal, dee: 4; orders with a return 2 ÷ 7.
# Net by month: January 40, February 25, March 52.50, June 37.50, then left out: December
#   76.50; Shopify's: July 54 − 54 = 0, November 72, December 76.50 − 72 = 4.50.
# The cancellation rate is 2 ÷ 7 under both.
MONTHS = {m: date(2024, m, 1) for m in range(1, 13)}
NEW_YORK_FIGURES = {
    ("orders", None): {"excluded": 5, "shopify": 7},
    ("gross_sales", None): {"excluded": 240, "shopify": 380},
    ("discounts", None): {"excluded": 8.5, "shopify": 22.5},
    ("returns", None): {"excluded": 0, "shopify": 126},
    ("net_sales", None): {"excluded": 231.5, "shopify": 231.5},
    ("total_sales", None): {"excluded": 243.1, "shopify": 243.1},
    ("aov", None): {"excluded": 46.3, "shopify": 357.5 / 7},
    ("customers", None): {"excluded": 3, "shopify": 4},
    ("return_rate_orders", None): {"excluded": 0, "shopify": 2 / 7},
    ("cancellation_rate", None): {"excluded": 2 / 7, "shopify": 2 / 7},
    ("returns", "day"): {"excluded": {},
                         "shopify": {date(2024, 7, 6): 54, date(2024, 12, 2): 72}},
    ("net_sales", "month"): {
        "excluded": {MONTHS[1]: 40, MONTHS[2]: 25, MONTHS[3]: 52.5, MONTHS[6]: 37.5,
                     MONTHS[12]: 76.5},
        "shopify": {MONTHS[1]: 40, MONTHS[2]: 25, MONTHS[3]: 52.5, MONTHS[6]: 37.5,
                    MONTHS[11]: 72, MONTHS[12]: 4.5}},
    ("net_sales", "channel"): {"excluded": {"unknown": 169, "marketplace": 25, "direct": 37.5},
                               "shopify": {"unknown": 169, "marketplace": 25, "direct": 37.5}},
}


@pytest.mark.parametrize("name,by", NEW_YORK_FIGURES)
def test_cancelled_orders_by_hand(new_york, name, by):
    want = NEW_YORK_FIGURES[name, by][new_york.settings["cancelled_orders"]]
    con = new_york.connect()
    for rollups in (True, False):
        df = run(con, KPIS[name], YEAR, by, rollups=rollups)
        if by is None:
            assert df["value"][0] == pytest.approx(want, abs=0.005), rollups
        else:
            key = "channel" if by == "channel" else "period"
            got = {(k.date() if hasattr(k, "date") else k): v
                   for k, v in zip(df[key], df["value"]) if v}
            assert got == pytest.approx(want, abs=0.005), rollups


@pytest.mark.parametrize("by", [None, "day", "month", "channel"])
@pytest.mark.parametrize("name", NAMES + ("return_rate_orders", "customers"))
def test_cancelled_orders_match_an_independent_pandas_reading(new_york, name, by):
    if by not in (None, *KPIS[name].by):
        pytest.skip(f"{name} is not split by {by}")
    check(name, read_export(NEW_YORK, NEW_YORK_CHANNELS, "America/New_York"), new_york, YEAR,
          by)
