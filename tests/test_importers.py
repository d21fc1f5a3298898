"""Each platform importer on a tiny real-shaped export, and on the real public files in
../shared/realdata checked against totals computed independently here."""
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from kpilib import Filters, Store, get, run
from kpilib.ingest import IngestError, ingest, preview

FORMATS = Path(__file__).parent / "data" / "formats"
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"


def load(tmp_path, *files, **kw):
    store = Store(tmp_path / "s")
    report = ingest(store, list(files), **kw)
    return store, report


def q(store, sql):
    return store.connect().execute(sql).fetchall()


def test_shopify_orders(tmp_path):
    store, report = load(tmp_path, FORMATS / "shopify_orders.csv")
    assert {f.fmt for f in report} == {"Shopify orders export"}
    rows = q(store, "select order_id, ordered_at, channel, status, gross_sales, discounts, "
                    "shipping, tax from orders order by 1")
    assert rows == [
        # 23:59:04 at UTC−7 is 06:59:04 UTC; lines 1 × 30 + 2 × 10; UTM tags → paid_search
        ("#1001", datetime(2023, 6, 1, 6, 59, 4), "paid_search", "fulfilled", Decimal("50.00"),
         Decimal("5.00"), Decimal("5.00"), Decimal("4.00")),
        ("#1002", datetime(2023, 6, 1, 15, 59), "unknown", "refunded", Decimal("20.00"),
         Decimal("0.00"), Decimal("5.00"), Decimal("2.00")),
        ("#1003", datetime(2023, 6, 3, 19, 0), "direct", "cancelled", Decimal("15.00"),
         Decimal("0.00"), Decimal("0.00"), Decimal("1.50")),
        ("#1004", datetime(2023, 6, 4, 17, 0), "marketplace", "paid", Decimal("12.00"),
         Decimal("0.00"), Decimal("0.00"), Decimal("1.20"))]
    cust = dict(q(store, "select order_id, customer_id from orders"))
    # Same e-mail in another case and with a trailing space: one customer; a guest has none.
    assert cust["#1001"] == cust["#1003"] != cust["#1002"] and cust["#1004"] is None
    assert len(cust["#1001"]) == 16 and "example" not in str(q(store, "select * from orders"))
    assert q(store, "select order_id, line, sku, quantity, unit_price from order_items "
                    "where order_id = '#1001' order by line") == [
        ("#1001", 1, "SHIRT-M", 1, Decimal("30.00")), ("#1001", 2, "SOCKS", 2, Decimal("10.00"))]
    # Refunded Amount 27.00 of a whole refund: the goods 20.00, shipping 5.00 and tax 2.00.
    assert q(store, "select order_id, amount, shipping, tax from refunds") == [
        ("#1002", Decimal("20.00"), Decimal("5.00"), Decimal("2.00"))]
    assert any("no refund dates" in w for w in report.warnings)


def _shopify_by_pandas(path, zone: str) -> pd.DataFrame:
    """Valid orders of a Shopify orders export read with pandas alone: day in ``zone``,
    channel from the source (the fixture has no UTM tags), gross and discounts."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["value"] = df["Lineitem quantity"].astype(int) * df["Lineitem price"].astype(float)
    first = df.drop_duplicates("Name").set_index("Name")
    o = pd.DataFrame({
        "day": pd.to_datetime(first["Created at"], format="%Y-%m-%d %H:%M:%S %z", utc=True)
                 .dt.tz_convert(zone).dt.date,
        "channel": first["Source"].map({"amazon": "marketplace",
                                        "shopify_draft_order": "direct"}).fillna("unknown"),
        "gross": df.groupby("Name")["value"].sum(),
        "discounts": first["Discount Amount"].astype(float),
        "cancelled": (first["Cancelled at"] != "") | (first["Financial Status"] == "voided")})
    return o[~o.cancelled]


@pytest.mark.parametrize("by", ["day", "month", "channel"])
def test_shopify_figures_follow_the_shops_clock(tmp_path, by):
    """Orders and sales (gross − discounts) by day, month and channel of the New York shop's
    export, stored in the zone its offsets imply, against a pandas reading of the file."""
    from kpilib import Filters, get, run

    store = Store(tmp_path / "s")
    ingest(store, [FORMATS / "shopify_orders_new_york.csv"], adopt_timezone=True)
    want = _shopify_by_pandas(FORMATS / "shopify_orders_new_york.csv", "America/New_York")
    key = {"day": want.day, "month": want.day.map(lambda d: d.replace(day=1)),
           "channel": want.channel}[by]
    want = want.assign(key=key, net_sales=want.gross - want.discounts).groupby("key").agg(
        orders=("gross", "size"), gross_sales=("gross", "sum"),
        discounts=("discounts", "sum"), net_sales=("net_sales", "sum"))
    # By hand, by month: January 40 (#2001, 23:30 on the 31st), February 25, March 52.50,
    # June 37.50 (#2004, 20:30 on the 30th), December 85 − 8.50; July's and November's orders
    # were cancelled (the one refund is #2006's: not a return).
    if by == "month":
        assert want.net_sales.to_dict() == {date(2024, m, 1): v for m, v in (
            (1, 40.0), (2, 25.0), (3, 52.5), (6, 37.5), (12, 76.5))}
    f = Filters(date(2024, 1, 1), date(2024, 12, 31))
    con = store.connect()
    for kpi in want.columns:
        got = run(con, get(kpi), f, by=by)
        got = got[got.value != 0]
        keys = got["channel"] if by == "channel" else got.period
        assert dict(zip(keys, got.value.astype(float))) == pytest.approx(
            want[kpi][want[kpi] != 0].to_dict()), kpi


def test_shopify_salt_is_kept_so_customers_match_next_month(tmp_path):
    store, _ = load(tmp_path, FORMATS / "shopify_orders.csv")
    salt = store.settings["salt"]
    first = q(store, "select customer_id from orders where order_id = '#1001'")
    assert salt and len(salt) == 32
    ingest(store, [(FORMATS / "shopify_orders.csv", "again.csv")])
    assert store.settings["salt"] == salt
    assert q(store, "select customer_id from orders where order_id = '#1001'") == first


def test_shopify_products(tmp_path):
    store, _ = load(tmp_path, FORMATS / "shopify_products.csv")
    assert q(store, "select sku, product_name, category, unit_cost, price from products "
                    "order by 1") == [
        ("SHIRT-M", "Linen shirt", "Tops", Decimal("12.00"), Decimal("30.00")),
        ("SHIRT-S", "Linen shirt", "Tops", Decimal("12.00"), Decimal("30.00")),
        ("SOCKS", "Socks", "Accessories", Decimal("3.50"), Decimal("10.00"))]


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_shopify_products_with_shared_and_empty_skus(tmp_path, skip_invalid):
    """Today's export: one SKU on two products, variants without a SKU, an image-only row, a
    Type, a Product Category and neither."""
    store, report = load(tmp_path, FORMATS / "shopify_products_2024.csv",
                         allow_partial=skip_invalid)
    assert q(store, "select sku, product_name, category, unit_cost, price from products "
                    "order by 1") == [
        # rows 7 and 4: no SKU, stored under the name the orders export gives their lines
        # (title − option values; a single "Default Title" variant is the title alone)
        ("Gift card - 25", "Gift card", "uncategorised", None, Decimal("25.00")),
        ("Linen shirt - L", "Linen shirt", "Tops", Decimal("13.00"), Decimal("32.00")),
        # no Type: the last segment of Product Category (…> Drinkware > Mugs); no cost
        ("MUG", "Mug", "Mugs", None, Decimal("12.00")),
        # rows 3 and 6: the first (linen-shirt's variant M), not the bundle's 55.00
        ("SHIRT-M", "Linen shirt", "Tops", Decimal("12.00"), Decimal("30.00")),
        ("SHIRT-S", "Linen shirt", "Tops", Decimal("12.00"), Decimal("30.00")),
        # rows 8 and 9: the first, "Socks", not the archived "Socks (old)"
        ("SOCKS", "Socks", "Accessories", Decimal("3.50"), Decimal("10.00"))]
    # 9 rows: 8 variants (row 5 holds only an image) → 6 SKUs
    assert (report[0].rows, report[0].rejected) == (6, 0)
    notes = report[0].summary()
    assert "2 SKUs are on several variants (SHIRT-M: rows 3 and 6; SOCKS: rows 8 and 9)" \
        in notes
    assert "2 variants have no SKU (rows 4 and 7)" in notes
    assert "Linen shirt - L" in notes and "Gift card - 25" in notes


def test_online_retail_rules(tmp_path):
    store, report = load(tmp_path, FORMATS / "online_retail_ii.csv")
    assert q(store, "select order_id, customer_id, gross_sales, shipping, country from orders "
                    "order by 1") == [
        # 12 × 6.95 + 12 × 6.75; POST is shipping, not a product; "13085.0" is customer 13085
        ("489434", "13085", Decimal("164.40"), Decimal("18.00"), "United Kingdom"),
        ("489435", None, Decimal("30.60"), Decimal("0.00"), "United Kingdom"),     # guest
        ("489437", "13085", Decimal("17.70"), Decimal("0.00"), "United Kingdom")]
    # 489436 (negative quantity at price 0) is a stock adjustment, A506401 a bad-debt entry.
    assert q(store, "select refund_id, amount, quantity from refunds") == [
        ("C489449", Decimal("35.40"), 12)]
    assert q(store, "select count(*), sum(quantity) from order_items") == [(4, 42)]


def test_ga4_source_medium(tmp_path):
    store, report = load(tmp_path, FORMATS / "ga4_source_medium.csv")
    assert q(store, "select channel, sum(sessions) from traffic group by 1 order by 1") == [
        ("direct", 30), ("email", 20), ("organic_search", 80), ("other", 5),
        ("paid_search", 100), ("paid_social", 40)]
    # The grand-total row at the bottom is not a day.
    assert q(store, "select sum(sessions), sum(purchases) from traffic") == [(275, 7)]
    assert "weird.site / banner-x" in report[0].summary()


@pytest.mark.parametrize("file,channel,spend,clicks", [
    ("google_ads.csv", "paid_search", Decimal("1409.75"), 1070),   # total row dropped
    ("meta_ads.csv", "paid_social", Decimal("115.10"), 210),       # empty clicks: null
])
def test_ad_spend(tmp_path, file, channel, spend, clicks):
    store, report = load(tmp_path, FORMATS / file)
    assert q(store, "select channel, sum(spend), sum(clicks), count(*) from marketing_spend "
                    "group by 1") == [(channel, spend, clicks, 3)]


def test_ad_spend_channel_asked_at_upload(tmp_path):
    store, _ = load(tmp_path, FORMATS / "google_ads.csv", spend_channel="display")
    assert q(store, "select distinct channel from marketing_spend") == [("display",)]


def test_ad_report_by_ad_without_dates(tmp_path):
    """Facebook's ad-level export as in Kaggle's "sales conversion optimization" data: no
    date, no channel, one row per ad. The month is asked; the ads of each campaign
    (xyz_campaign_id) are summed and spread over the month's days."""
    src = FORMATS / "facebook_ads_by_ad.csv"
    with pytest.raises(IngestError, match="no dates: say which month"):
        load(tmp_path, src)
    store, report = load(tmp_path, src, spend_month="2017-08")
    assert q(store, "select campaign, channel, sum(spend), sum(impressions), sum(clicks), "
                    "sum(conversions), count(*) from marketing_spend group by all "
                    "order by 1") == [
        # 254.05 + 122.40 + 0; 1,194,718 + 637,648 + 24,362; 141 + 67; 14 + 5 + 1 approved
        ("1178", "paid_social", Decimal("376.45"), 1856728, 208, Decimal("20.00"), 31),
        # 1.43 + 1.82 + 0 + 1.25 + 1.29; 7,350 + 17,861 + 693 + 4,259 + 4,133; 5 clicks;
        # 1 + 1 approved (Total_Conversion, enquiries, is not kept)
        ("916", "paid_social", Decimal("5.79"), 34296, 5, Decimal("2.00"), 31),
        ("936", "paid_social", Decimal("2.71"), 8715, 2, Decimal("0.00"), 31)]
    assert "rows by ad, ad set or audience summed by date × channel × campaign: 10 → 3 rows" \
        in report[0].summary()
    # Spend by month and by channel, against the file read with pandas; by day, each day is
    # the month's average to a cent a campaign (no 384.95 on the 1st).
    df = pd.read_csv(src)
    total, clicks = df.Spent.sum(), df.Clicks.sum()
    con, f = store.connect(), Filters(date(2017, 8, 1), date(2017, 8, 31))
    assert run(con, get("spend"), f, "month").value.tolist() == pytest.approx([total])
    assert run(con, get("spend"), f, "channel").set_index("channel").value.to_dict() == \
        pytest.approx({"paid_social": total})
    assert run(con, get("cpc"), f, "month").value.tolist() == pytest.approx([total / clicks])
    days = run(con, get("spend"), f, "day")
    assert len(days) == 31 and days.value.sum() == pytest.approx(total)
    assert all(abs(v - total / 31) <= 0.03 for v in days.value)
    # The channel chosen at upload wins over Facebook's default.
    store, _ = load(tmp_path / "b", src, spend_month="2017-08", spend_channel="display")
    assert q(store, "select distinct channel from marketing_spend") == [("display",)]
    # A report by campaign from no platform we know: the channel is asked too. February 2025
    # has 28 days: 28.00 is 1.00 a day, 3 clicks fall on 3 of them.
    f = tmp_path / "tiktok.csv"
    f.write_text("Campaign name,Cost,Impressions,Clicks\nSpring,28.00,2800,3\n")
    with pytest.raises(IngestError, match="which marketing channel"):
        load(tmp_path / "c", f, spend_month="2025-02")
    store, _ = load(tmp_path / "c", f, spend_month="2025-02", spend_channel="paid_social")
    assert q(store, "select count(*), min(spend), max(spend), sum(clicks), max(clicks) "
                    "from marketing_spend") == [(28, Decimal("1.00"), Decimal("1.00"), 3, 1)]


def test_meta_report_by_ad_is_summed_by_day_and_campaign(tmp_path):
    """Ads Manager exported by ad: the same days and campaigns as meta_ads.csv (by campaign)
    and the same totals; rows that differ in nothing but their numbers stay refused."""
    store, report = load(tmp_path, FORMATS / "meta_ads_by_ad.csv")
    assert "summed by date × channel × campaign: 5 → 3 rows" in report[0].summary()
    assert q(store, "select date, campaign, spend, impressions, clicks, conversions "
                    "from marketing_spend order by 1, 2") == [
        (date(2025, 2, 1), "Prospecting - Lookalike", Decimal("45.10"), 12000, 130,
         Decimal("3.00")),                                  # Video A 30.10 + Carousel B 15.00
        (date(2025, 2, 1), "Retargeting", Decimal("20.00"), 3000, 80, Decimal("4.00")),
        (date(2025, 2, 2), "Prospecting - Lookalike", Decimal("50.00"), 13000, 130,
         Decimal("2.00"))]                                  # 28.00 + 22.00
    by_campaign, _ = load(tmp_path / "c", FORMATS / "meta_ads.csv")
    assert q(store, "select sum(spend), sum(impressions) from marketing_spend") == \
        q(by_campaign, "select sum(spend), sum(impressions) from marketing_spend")
    f = tmp_path / "twice.csv"
    lines = (FORMATS / "meta_ads_by_ad.csv").read_text().splitlines()
    f.write_text("\n".join(lines + [lines[1].replace("30.10", "31.10")]) + "\n")
    with pytest.raises(IngestError, match="more than once"):
        load(tmp_path / "d", f)


def test_a_store_written_before_conversions_reads_on(tmp_path):
    """Spend files stored before marketing_spend had conversions: read with it empty, and
    merged with a newer upload of the same month."""
    import duckdb
    store, _ = load(tmp_path, FORMATS / "google_ads.csv")
    [part] = store.files("marketing_spend")
    duckdb.sql(f"copy (select * exclude (conversions) from read_parquet('{part}')) "
               f"to '{part}.old' (format parquet)")
    Path(f"{part}.old").replace(part)
    for cached in (store.path / "cache").glob("*"):
        cached.unlink()
    assert q(store, "select sum(spend), count(conversions) from marketing_spend") == [
        (Decimal("1409.75"), 0)]
    ingest(store, [FORMATS / "meta_ads_by_ad.csv"])     # February again, another channel
    assert q(store, "select channel, sum(spend), sum(conversions) from marketing_spend "
                    "group by 1 order by 1") == [
        ("paid_search", Decimal("1409.75"), None), ("paid_social", Decimal("115.10"),
                                                    Decimal("9.00"))]


def test_olist_joined(tmp_path):
    store, report = load(tmp_path, *sorted((FORMATS / "olist").glob("*.csv")))
    assert q(store, "select order_id, customer_id, channel, status, gross_sales, shipping "
                    "from orders order by 1") == [
        ("o1", "u1", "marketplace", "delivered", Decimal("29.99"), Decimal("8.72")),
        ("o2", "u1", "marketplace", "delivered", Decimal("148.69"), Decimal("30.76")),
        ("o3", "u2", "marketplace", "cancelled", Decimal("45.00"), Decimal("12.79")),
        ("o4", "u3", "marketplace", "cancelled", Decimal("0.00"), Decimal("0.00"))]
    assert q(store, "select sku, category from products order by 1") == [
        ("p1", "perfumery"), ("p2", "bed_bath_table")]
    assert "1 order has no order lines (o4)" in report.warnings
    # u1 ordered twice (two Olist customer ids, one person); u2's and u3's only orders were
    # cancelled or unavailable, so they are not customers.
    assert q(store, "select customer_id, first_order_id from customer_first") == [("u1", "o1")]


def test_olist_orders_alone_is_refused(tmp_path):
    from kpilib.ingest import IngestError
    with pytest.raises(IngestError, match="together with olist_customers_dataset.csv"):
        load(tmp_path, FORMATS / "olist" / "olist_orders_dataset.csv")


def uci_sales(df: pd.DataFrame):
    """UCI Online Retail read with pandas, independently of the importer: (invoice numbers,
    whether each row is a non-credit product line, whether each row is a sold line)."""
    inv = df.InvoiceNo.astype(str)
    code = df.StockCode.astype(str).str.upper()
    product = ~code.isin(["POST", "DOT", "M", "D", "S", "B", "C2", "CRUK", "PADS", "BANK CHARGES",
                          "AMAZONFEE", "ADJUST", "ADJUST2", "TEST001", "TEST002"])
    lines = ~inv.str.startswith(("C", "A")) & product & (df.Quantity > 0)
    # Stock adjustments: invoices whose product lines are all free and name no customer.
    by_invoice = df[lines].assign(free=df.UnitPrice == 0).groupby(inv[lines])
    adjust = by_invoice.free.all() & by_invoice.CustomerID.apply(lambda c: c.isna().all())
    return inv, product, lines & ~inv.isin(adjust[adjust].index)


def uci_reading(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders (day, order net of nothing) and credit notes (day, amount) of a UCI file."""
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str})
    inv, product, sale = uci_sales(df)
    day = pd.to_datetime(df.InvoiceDate).dt.date
    value = df.Quantity * df.UnitPrice
    orders = pd.DataFrame({"order": inv, "day": day, "gross": value})[sale] \
        .groupby("order").agg(day=("day", "first"), gross=("gross", "sum"))
    credit = inv.str.startswith("C") & product
    refunds = pd.DataFrame({"day": day, "amount": -value})[credit]
    return orders.assign(channel="unknown"), refunds.assign(channel="unknown")


def test_online_retail_stock_adjustments_are_not_orders(tmp_path):
    """November–December 2011 as the real export writes it: the warehouse's "check",
    "found", "Unknown", "adjustment" and "had been put aside" invoices (every line at price 0,
    no customer) are not orders; a free gift beside a sale is, and so is 578841, free goods
    for customer 13256."""
    src = FORMATS / "online_retail.csv"
    store, report = load(tmp_path, src)
    assert q(store, "select order_id, customer_id, gross_sales, shipping from orders "
                    "order by 1") == [
        ("573500", "14646", Decimal("40.35"), Decimal("0.00")),    # 2 × 12.75 + 3 × 4.95
        ("573501", "12415", Decimal("35.70"), Decimal("0.00")),    # 1 × 0 (gift) + 6 × 5.95
        ("574100", None, Decimal("17.70"), Decimal("0.00")),       # 6 × 2.95, a guest
        ("578841", "13256", Decimal("0.00"), Decimal("0.00")),     # 12,540 free stickers
        ("579000", "14646", Decimal("35.40"), Decimal("15.00"))]   # 12 × 2.95 + postage
    # 573751, 573881 (two lines), 574073, 574438 and 576109; 574200 (−24 at 0) and 574277
    # (Manual only) were never orders.
    assert "online_retail.csv: 5 invoices with only zero-priced lines and no customer are " \
           "stock adjustments, not orders" in report.warnings
    assert report.currency == "GBP" and store.settings["currency"] == "GBP"
    assert q(store, "select count(*), sum(quantity) from order_items") == [(7, 2 + 3 + 1 + 6
                                                                            + 6 + 12540 + 12)]
    # By day, month and channel, the KPIs against the file read with pandas.
    orders, refunds = uci_reading(src)
    f = Filters(date(2011, 11, 1), date(2011, 12, 31))
    con = store.connect()
    for by in ("day", "month", "channel"):
        def key(df):
            d = pd.to_datetime(df.day)
            return {"day": d.dt.date, "month": d.dt.to_period("M").dt.start_time.dt.date,
                    "channel": df.channel}[by]
        net = orders.groupby(key(orders)).gross.sum().sub(
            refunds.groupby(key(refunds)).amount.sum(), fill_value=0)
        for name, want in (("orders", orders.groupby(key(orders)).size()), ("net_sales", net)):
            got = run(con, get(name), f, by)
            # Days without an order or a refund are 0.
            got = {k: v for k, v in zip(got["channel" if by == "channel" else "period"],
                                        got["value"]) if v or k in want}
            assert got == pytest.approx(want.to_dict(), abs=0.005), (name, by)
    # Hand-counted: 3 orders in November (76.05 + 17.70 − 4.95 returned) and 2 in December.
    months = run(con, get("net_sales"), f, "month")
    assert dict(zip(months.period, months.value)) == {
        date(2011, 11, 1): pytest.approx(88.80), date(2011, 12, 1): pytest.approx(35.40)}


@pytest.mark.skipif(not REAL.exists(), reason="../shared/realdata is not beside the project")
def test_real_online_retail_totals(tmp_path):
    src = REAL / "online_retail" / "online_retail_2010_2011.parquet"
    store, _ = load(tmp_path, src)
    df = pd.read_parquet(src)
    inv, product, sale = uci_sales(df)
    value = (df.Quantity * df.UnitPrice.round(2))
    assert q(store, "select count(*) from orders")[0][0] == inv[sale].nunique()
    assert q(store, "select sum(quantity) from order_items")[0][0] == df.Quantity[sale].sum()
    # Net quantity: units sold minus units credited back on C… invoices.
    credit = inv.str.startswith("C") & product
    net = q(store, "select (select sum(quantity) from order_items) - "
                   "(select sum(quantity) from refunds)")[0][0]
    assert net == df.Quantity[sale | credit].sum()
    got = float(q(store, "select sum(gross_sales) from orders")[0][0])
    assert got == pytest.approx(value[sale].sum(), abs=0.01)
    returns = -value[inv.str.startswith("C") & product].sum()
    assert float(q(store, "select sum(amount) from refunds")[0][0]) == pytest.approx(returns,
                                                                                    abs=0.01)
    # Returns by country as the export has them: each credit note under its own Country.
    credits = df[inv.str.startswith("C") & product]
    want = (-value[credits.index]).groupby(credits.Country).sum()
    f = Filters(date(2010, 12, 1), date(2011, 12, 9))
    got = run(store.connect(), get("returns"), f, "country").set_index("country")["value"]
    assert {k: float(v) for k, v in got.items() if v} == pytest.approx(
        {k: v for k, v in want.items() if round(v, 2)}, abs=0.01)
    guests = df[sale & df.CustomerID.isna()].InvoiceNo.nunique()
    assert q(store, "select count(*) from orders where customer_id is null")[0][0] == guests
    # November 2011: 2,864 invoices with a product line, of which 112 stock adjustments. The
    # 2,752 orders left are the 2,751 invoices with a priced product line and 578841, free
    # stickers for customer 13256 (the 2,769 also counted 18 invoices of postage,
    # manual or bank charges alone, which sell no product).
    nov = df.InvoiceDate.dt.strftime("%Y-%m") == "2011-11"
    assert inv[sale & nov].nunique() == 2752
    assert q(store, "select count(*) from orders where strftime(ordered_at, '%Y-%m') = "
                    "'2011-11'")[0][0] == 2752


@pytest.mark.skipif(not REAL.exists(), reason="../shared/realdata is not beside the project")
def test_real_olist_totals(tmp_path):
    files = sorted((REAL / "olist").glob("*.csv"))
    store, _ = load(tmp_path, *files)
    orders = pd.read_csv(REAL / "olist" / "olist_orders_dataset.csv")
    items = pd.read_csv(REAL / "olist" / "olist_order_items_dataset.csv")
    customers = pd.read_csv(REAL / "olist" / "olist_customers_dataset.csv")
    assert q(store, "select count(*) from orders")[0][0] == len(orders)
    assert float(q(store, "select sum(gross_sales) from orders")[0][0]) == \
        pytest.approx(items.price.sum(), abs=0.01)
    valid = orders[~orders.order_status.isin(["canceled", "unavailable"])]
    people = valid.merge(customers, on="customer_id").customer_unique_id.nunique()
    assert q(store, "select count(*) from customer_first")[0][0] == people


# --- what the report says was read ------------------------------------------------------------
UCI_2010 = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
            "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
            "536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850.0,United Kingdom\n")


def test_columns_used_name_the_uci_files_own_columns(tmp_path):
    f = tmp_path / "uci_2010_12.csv"
    f.write_text(UCI_2010)
    _, report = load(tmp_path, f, dry_run=True)
    by = {r.name: r.mapping for r in report}
    assert by["uci_2010_12.csv (orders)"] == {
        "order_id": "InvoiceNo", "ordered_at": "InvoiceDate", "customer_id": "CustomerID",
        "gross_sales": "Quantity × UnitPrice of the product lines",
        "shipping": "Quantity × UnitPrice of the postage lines (POST, DOT, C2 in StockCode)",
        "country": "Country"}
    assert by["uci_2010_12.csv (order lines)"] == {
        "order_id": "InvoiceNo", "sku": "StockCode", "quantity": "Quantity",
        "unit_price": "UnitPrice", "product_name": "Description", "ordered_at": "InvoiceDate"}
    # The other naming (Online Retail II) is named as that file spells it.
    _, report = load(tmp_path / "ii", FORMATS / "online_retail_ii.csv", dry_run=True)
    orders = report[0].mapping
    assert (orders["order_id"], orders["customer_id"]) == ("Invoice", "Customer ID")
    assert orders["gross_sales"] == "Quantity × Price of the product lines"


def test_columns_used_name_the_shopify_exports_own_columns(tmp_path):
    _, report = load(tmp_path, FORMATS / "shopify_orders.csv", FORMATS / "shopify_products.csv",
                     dry_run=True)
    by = {r.name: r.mapping for r in report}
    orders = by["shopify_orders.csv (orders)"]
    assert orders["order_id"] == "Name" and orders["ordered_at"] == "Created at"
    assert orders["gross_sales"] == ("Lineitem quantity × Lineitem price, 'Tip' lines "
                                     "(Lineitem name) apart")
    assert orders["customer_id"] == "Email, hashed"
    assert orders["channel"] == "utm_source / utm_medium in Note Attributes / Tags, else Source"
    assert "device" not in orders          # no such column in the export: not listed
    assert by["shopify_orders.csv (order lines)"]["sku"] == "Lineitem sku, else Lineitem name"
    assert by["shopify_products.csv"] == {"sku": "Variant SKU, else Title - option values",
                                          "product_name": "Title",
                                          "category": "Type", "unit_cost": "Cost per item",
                                          "price": "Variant Price"}


@pytest.mark.parametrize("files", [
    ["shopify_orders.csv"], ["shopify_products.csv"], ["shopify_products_2024.csv"],
    ["online_retail_ii.csv"], ["online_retail.csv"], ["ga4_source_medium.csv"],
    ["google_ads.csv"], ["meta_ads.csv"], ["meta_ads_by_ad.csv"], ["sessions.csv"],
    ["events.csv"], sorted(p.name for p in (FORMATS / "olist").glob("*.csv"))])
def test_every_importer_names_the_files_columns(tmp_path, files):
    """Each column read is said in the file's own words: every entry names one of the
    file's headers, and none is only the canonical name again (unless the file spells it
    so)."""
    paths = [FORMATS / ("olist" if f.startswith(("olist", "product_")) else "") / f
             for f in files]
    headers = {h for p in paths for t in preview(p) for h in t["columns"]}
    _, report = load(tmp_path, *paths, dry_run=True)
    for r in report:
        assert r.mapping, r.name
        for canonical, said in r.mapping.items():
            assert any(h in said for h in headers) or said == "one session per row", \
                (r.name, canonical, said)
            assert said != canonical or canonical in headers, (r.name, canonical)


# --- currencies the format implies --------------------------------------------------------
def _currency_warnings(report):
    return [w for w in report.warnings if "currency" in w]


@pytest.mark.parametrize("files,currency", [
    (["online_retail_ii.csv"], "GBP"),                    # the format says pounds
    (["olist/*.csv"], "BRL"),                             # the format says reais
    (["shopify_orders.csv"], "USD"),                      # the Currency column
    (["shopify_orders_utm.csv"], None),                   # EUR: already the reporting one
])
def test_a_first_orders_upload_sets_the_reporting_currency(tmp_path, files, currency):
    paths = [p for f in files for p in sorted(FORMATS.glob(f))]
    store, report = load(tmp_path, *paths, dry_run=True)
    assert report.currency == currency
    assert store.settings["currency"] == "EUR"            # a dry run changes nothing
    assert not _currency_warnings(report)
    if currency:
        assert f"Reporting currency set to {currency} when stored, the currency of the " \
               "orders uploaded." in report.text()
    _, report = load(tmp_path, *paths)
    assert store.settings["currency"] == (currency or "EUR")
    assert (f"Reporting currency set to {currency}, the currency of the orders uploaded."
            in report.text()) == bool(currency)
    assert not _currency_warnings(report)


def test_uci_in_a_shop_that_chose_euros_is_warned_about_not_converted(tmp_path):
    store = Store(tmp_path / "s")
    store.update_settings({"currency": "EUR"})            # chosen in Settings
    _, report = load(tmp_path, FORMATS / "online_retail_ii.csv")
    assert report.currency is None and store.settings["currency"] == "EUR"
    assert _currency_warnings(report) == [
        "orders are in GBP but the reporting currency is EUR: amounts are not converted, so "
        "each GBP amount would count as the same number of EUR (£10.00 as €10.00). Set the "
        "reporting currency to GBP in Settings, or convert the amounts before uploading"]
    store.update_settings({"currency": "GBP"})
    _, report = load(tmp_path, FORMATS / "online_retail.csv")
    assert not _currency_warnings(report)
    assert q(store, "select distinct currency from orders") == [("GBP",)]


def test_only_the_first_orders_upload_sets_the_currency(tmp_path):
    # Orders in EUR stored first: a later export in pounds does not switch the shop to them.
    store, _ = load(tmp_path, FORMATS / "shopify_orders_utm.csv")
    _, report = load(tmp_path, FORMATS / "online_retail_ii.csv")
    assert report.currency is None and store.settings["currency"] == "EUR"
    assert _currency_warnings(report)[0].startswith(
        "orders are in GBP but the reporting currency is EUR: amounts are not converted")


def test_orders_in_two_currencies_set_none(tmp_path):
    store, report = load(tmp_path, FORMATS / "shopify_orders.csv",
                         FORMATS / "online_retail_ii.csv", dry_run=True)
    assert report.currency is None
    # A new store says no currency (kpilib.settings.reporting_currency), so none is "EUR".
    assert _currency_warnings(report) == [
        "orders are in GBP and USD and no reporting currency is set: amounts are not "
        "converted, so GBP and USD amounts would be added up as one currency. Set the "
        "reporting currency in Settings, or convert the amounts before uploading"]


@pytest.mark.parametrize("file,find,currency", [
    ("meta_ads.csv", "Amount spent (EUR)", "Amount spent (USD)"),   # in the header
    ("google_ads.csv", ",EUR,", ",USD,"),                             # a column
])
def test_ad_spend_in_another_currency_is_warned_about(tmp_path, file, find, currency):
    Store(tmp_path / "s").update_settings({"currency": "EUR"})     # a shop that said EUR
    _, report = load(tmp_path, FORMATS / file, dry_run=True)
    assert not [w for w in report.warnings if "currency" in w]       # EUR, as the shop
    f = tmp_path / file
    f.write_text((FORMATS / file).read_text().replace(find, currency))
    _, report = load(tmp_path, f, dry_run=True)
    assert "ad spend is in USD but the reporting currency is EUR: amounts are not converted, " \
           "so each USD amount would count as the same number of EUR ($10.00 as €10.00). Set " \
           "the reporting currency to USD in Settings, or convert the amounts before " \
           "uploading" in report.warnings


def test_online_retail_credit_notes_keep_their_country(tmp_path):
    """A UCI credit note names no original invoice, so no stored order gives its refund a
    country: returns by country read all of it under no country. The credit note's own
    Country column is kept. 1 Dec 2010 (real rows): C536379 is a discount (code D, no
    product: no refund); C536383 returns 1 × 4.65 and C536506 6 × 4.25 = 25.50, both United
    Kingdom: 30.15; C536548 returns 4 × 1.95 + 5 × 1.65 = 7.80 + 8.25 = 16.05, Germany.
    France's order 536370 has no return."""
    store, _ = load(tmp_path, FORMATS / "online_retail_credit_notes.csv")
    day = Filters(date(2010, 12, 1), date(2010, 12, 1))
    con = store.connect()
    by = run(con, get("returns"), day, "country").set_index("country")["value"]
    assert {k: float(v) for k, v in by.items() if v} == {"United Kingdom": 30.15,
                                                          "Germany": 16.05}
    assert float(run(con, get("returns"), day)["value"].iat[0]) == 46.20
    germany = Filters(date(2010, 12, 1), date(2010, 12, 1), countries=("Germany",))
    assert float(run(con, get("returns"), germany)["value"].iat[0]) == 16.05
    # Net sales by country: United Kingdom 536366's 12 × 1.85 = 22.20 − 30.15 = −7.95;
    # France 24 × 3.75 = 90.00 (postage is shipping); Germany −16.05.
    net = run(con, get("net_sales"), day, "country").set_index("country")["value"]
    assert {k: float(v) for k, v in net.items()} == {"United Kingdom": -7.95, "France": 90.0,
                                                     "Germany": -16.05}
    # Germany, with returns and no order, is a country the sidebar offers.
    from kpilib.dimensions import members

    assert members(con, "countries") == ["France", "Germany", "United Kingdom"]


def _stored(store) -> dict:
    from kpilib.schema import TABLES
    con = store.connect()
    return {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}


def _decimal_commas(src: Path, dst: Path, sep: str) -> Path:
    """``src`` as Excel saves it in a locale whose decimal mark is a comma: every number with
    a decimal point gets a comma, the fields split by ``sep`` (quoted where a comma needs it)."""
    import csv
    import re
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    point = re.compile(r"-?\d{1,3}(,\d{3})*\.\d+|-?\d+\.\d+")   # 1,234.50 → 1.234,50
    swap = str.maketrans(".,", ",.")
    with open(dst, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=sep, lineterminator="\r\n").writerows(
            [[v.translate(swap) if point.fullmatch(v) else v for v in r] for r in rows])
    return dst


@pytest.mark.parametrize("file", ["online_retail_semicolon_decimal_comma.csv",
                                  "online_retail_quoted_decimal_comma.csv"])
def test_online_retail_saved_with_decimal_commas(tmp_path, file):
    """The UCI export saved by Excel in a European locale (`;` and 12,75, or `,` and "12,75"
    quoted; CustomerID 14646,0) is stored as the decimal-point export is."""
    store, report = load(tmp_path / "comma", FORMATS / file)
    want, _ = load(tmp_path / "point", FORMATS / "online_retail.csv")
    # By hand: 573500 2 × 12.75 + 3 × 4.95 = 40.35; 573501 1 × 0.00 + 6 × 5.95 = 35.70;
    # 574100 6 × 2.95 = 17.70; 578841 12540 × 0.00 = 0.00 (a named customer's free goods);
    # 579000 12 × 2.95 = 35.40 (POST 15.00 is shipping): 129.15 in 5 orders.
    assert q(store, "select count(*), sum(gross_sales), sum(shipping) from orders") == [
        (5, Decimal("129.15"), Decimal("15.00"))]
    assert q(store, "select customer_id from orders where order_id = '573500'") == [("14646",)]
    assert q(store, "select refund_id, amount from refunds") == [("C574500", Decimal("4.95"))]
    assert _stored(store) == _stored(want)


@pytest.mark.parametrize("files", [
    ["shopify_orders.csv"], ["shopify_orders_tips_refunds.csv"], ["shopify_products.csv"],
    ["google_ads.csv"], ["meta_ads.csv"], ["ga4_source_medium.csv"], ["online_retail_ii.csv"],
    [f"olist/{f.name}" for f in sorted((FORMATS / "olist").glob("*.csv"))]])
@pytest.mark.parametrize("sep", [";", ","])
def test_every_importer_reads_decimal_commas(tmp_path, files, sep):
    """Each platform's export saved with decimal commas, `;`-separated or `,`-separated with
    the amounts quoted, is stored with the figures of the decimal-point export."""
    (tmp_path / "olist").mkdir()
    comma = [_decimal_commas(FORMATS / f, tmp_path / f, sep) for f in files]
    kw = {"spend_channel": "paid_social"} if files == ["meta_ads.csv"] else {}
    store, want = Store(tmp_path / "comma"), Store(tmp_path / "point")
    for s in (store, want):
        s.update_settings({"salt": "0" * 32})   # the same hashed customers
    ingest(store, comma, **kw)
    ingest(want, [FORMATS / f for f in files], **kw)
    assert _stored(store) == _stored(want)
    assert any(any(r) for r in _stored(want).values())


@pytest.mark.parametrize("sep,price,want", [
    (";", "1.234,56", "2469.12"), (";", "1 234,56", "2469.12"), (",", '"1.234,56"', "2469.12"),
    (",", '"1,234.56"', "2469.12"), (";", "1234,5", "2469.00")])
def test_online_retail_thousands_separators(tmp_path, sep, price, want):
    # 2 × 1,234.56 = 2,469.12; 2 × 1,234.50 = 2,469.00
    head = sep.join(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                     "UnitPrice", "CustomerID", "Country"])
    line = sep.join(["536365", "85123A", "CLOCK", "2", "2010-12-01 08:26:00", price, "17850",
                     "United Kingdom"])
    (tmp_path / "uci.csv").write_text(f"{head}\n{line}\n")
    store, _ = load(tmp_path, tmp_path / "uci.csv")
    assert q(store, "select gross_sales from orders") == [(Decimal(want),)]
    assert q(store, "select unit_price from order_items") == [(Decimal(want) / 2,)]


@pytest.mark.parametrize("prices,said", [
    # A decimal comma among decimal points: 1,65 is 1.65 or 165 (a thousands comma).
    (("1.65", "1,65"), ["column 'UnitPrice'", "decimal comma", "decimal point (row 2: '1.65')",
                        "row 3: '1,65'", "same decimal mark"]),
    (("1,65", "1,6,5"), ["column 'UnitPrice'", "not a number", "row 3: '1,6,5'"]),
    (("zwei", "drei"), ["column 'UnitPrice'", "2 values are not numbers", "row 2: 'zwei'"])])
def test_online_retail_unreadable_price_names_the_exports_column(tmp_path, prices, said):
    """A price that cannot be read is named in the export's words (UnitPrice, its value),
    not as an empty gross_sales the importer derived from it; nothing is stored."""
    lines = [f"5363{i};85123A;CLOCK;2;2010-12-01 08:26:00;{p};17850;United Kingdom"
             for i, p in enumerate(prices)]
    (tmp_path / "uci.csv").write_text("InvoiceNo;StockCode;Description;Quantity;InvoiceDate;"
                                      "UnitPrice;CustomerID;Country\n" + "\n".join(lines) + "\n")
    store = Store(tmp_path / "s")
    with pytest.raises(IngestError) as e:
        ingest(store, [tmp_path / "uci.csv"])
    msg = str(e.value)
    assert all(s in msg for s in said), msg
    assert "gross_sales" not in msg and "empty" not in msg
    assert store.is_empty()


def test_online_retail_skips_an_unreadable_price_when_asked(tmp_path):
    """With the valid rows kept, a line whose price does not read is left out and reported
    by the export's column; its invoice's other line is stored (2 × 1,65 = 3.30)."""
    (tmp_path / "uci.csv").write_text(
        "InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\n"
        "536365;85123A;CLOCK;2;2010-12-01 08:26:00;1,65;17850,0;United Kingdom\n"
        "536365;71053;LANTERN;1;2010-12-01 08:26:00;1,6,5;17850,0;United Kingdom\n")
    store, report = load(tmp_path, tmp_path / "uci.csv", allow_partial=True)
    assert q(store, "select order_id, customer_id, gross_sales from orders") == [
        ("536365", "17850", Decimal("3.30"))]
    lines = next(f for f in report if f.table == "order_items")
    assert lines.rejected == 1 and lines.rejections == ["UnitPrice: 1 value is not a number. "
                                                        "(1 row)"]
    assert "row,reason" in lines.rejected_csv.replace('"', "") and "1,6,5" in lines.rejected_csv
