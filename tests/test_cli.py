"""The command line is a public interface: arguments, JSON shape and exit codes are tested."""
import csv
import io
import json

import pytest

from conftest import TINY
from helpers import ROOT, cli, cli_process


def test_kpi_total_json(tiny_store):
    """The real entry point, in a process of its own (the other tests run main() in this one:
    tests/helpers.py)."""
    out = cli_process("kpi", "net_sales", "--store", tiny_store.path, "--start", "2025-02-01",
              "--end", "2025-02-28").stdout
    assert json.loads(out) == [{"value": 262.0}]


def test_a_store_of_refunds_or_stock_alone_has_a_period(tmp_path):
    """The default period ends on the latest dated row: refunds and stock snapshots count
    when nothing else is stored (such a store was "empty")."""
    from kpilib import Store
    from kpilib.ingest import ingest
    refunds, stock = Store(tmp_path / "r"), Store(tmp_path / "s")
    ingest(refunds, [TINY / "refunds.csv"])
    ingest(stock, [TINY / "inventory.csv"])
    # The 30 days ending 3 March 2025 (r3's day): r2 30 + r4 60 + r3 25; r1 (20 Jan) is before.
    assert json.loads(cli("kpi", "returns", "--store", refunds.path).stdout) == [{"value": 115.0}]
    # The last snapshot, 2 February: SKU-A 4 + SKU-B 3; no products, so no stock value.
    assert json.loads(cli("kpi", "on_hand", "--store", stock.path).stdout) == [{"value": 7.0}]
    assert json.loads(cli("kpi", "stock_value", "--store", stock.path).stdout) == [
        {"value": None, "reason": "Needs a products export."}]


def test_a_sum_of_some_days_says_which(tmp_path):
    """Users over March–April, where April's GA4 export has no users column: March's 215
    (80 + 35 + 55 + 45) with a note; April alone is null with the reason."""
    from kpilib import Store
    from kpilib.ingest import ingest
    drift = ROOT / "tests" / "data" / "formats" / "drift"
    store = Store(tmp_path / "s")
    ingest(store, [drift / "ga4_2025_03.csv", drift / "ga4_2025_04.csv"])
    both = ("--store", store.path, "--start", "2025-03-01", "--end", "2025-04-30")
    assert json.loads(cli("kpi", "users", *both).stdout) == [{
        "value": 215.0, "note": "Users: 1 Mar – 31 Mar 2025 only; the traffic export has no "
                                "users column for 1 Apr – 30 Apr 2025."}]
    assert json.loads(cli("kpi", "users", *both, "--by", "month").stdout) == [
        {"period": "2025-03-01", "value": 215.0, "reason": None},
        {"period": "2025-04-01", "value": None,
         "reason": "Unknown: the traffic export has no users column for 1 Apr – 30 Apr 2025."}]
    # Sessions are in both exports: 250 + 190, no note.
    assert json.loads(cli("kpi", "sessions", *both).stdout) == [{"value": 440.0}]


def test_ratio_json_has_numerator_and_denominator(tiny_store):
    out = cli("kpi", "conversion_rate", "--store", tiny_store.path, "--start", "2025-02-01",
              "--end", "2025-02-28", "--channel", "paid_search").stdout
    assert json.loads(out) == [{"value": 0.02, "numerator": 7.0, "denominator": 350.0}]


def test_missing_value_is_null(tiny_store):
    out = cli("kpi", "roas", "--store", tiny_store.path, "--start", "2025-02-01",
              "--end", "2025-02-28", "--channel", "email").stdout
    assert json.loads(out) == [{"value": None, "numerator": 0.0, "denominator": 0.0}]


def test_by_month_and_by_channel(tiny_store):
    out = cli("kpi", "orders", "--store", tiny_store.path, "--start", "2025-01-01",
              "--end", "2025-03-31", "--by", "month").stdout
    assert json.loads(out) == [{"period": "2025-01-01", "value": 1.0},
                               {"period": "2025-02-01", "value": 5.0},
                               {"period": "2025-03-01", "value": 1.0}]
    out = cli("kpi", "spend", "--store", tiny_store.path, "--start", "2025-02-01",
              "--end", "2025-02-28", "--by", "channel", "--channel", "paid_search",
              "--channel", "display").stdout
    assert json.loads(out) == [{"channel": "display", "value": 10.0},
                               {"channel": "paid_search", "value": 50.0}]


def test_by_week_periods_are_mondays(tiny_store):
    out = json.loads(cli("kpi", "sessions", "--store", tiny_store.path, "--start", "2025-02-01",
                         "--end", "2025-02-28", "--by", "week").stdout)
    assert [r["period"] for r in out] == ["2025-01-27", "2025-02-03", "2025-02-10", "2025-02-17",
                                          "2025-02-24"]
    assert [r["value"] for r in out] == [0, 390, 0, 0, 0]


def test_csv_format(tiny_store):
    out = cli("kpi", "aov", "--store", tiny_store.path, "--start", "2025-02-01",
              "--end", "2025-02-28", "--format", "csv").stdout
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"value": "58.4", "numerator": "292.0", "denominator": "5.0"}]


def test_default_range_is_last_30_days_of_data(tiny_store):
    # Latest day with data is 2 March 2025 (o8): 1 Feb … 2 Mar holds o2..o8 minus o5 = 6 orders.
    assert json.loads(cli("kpi", "orders", "--store", tiny_store.path).stdout) == [{"value": 6.0}]


@pytest.mark.parametrize("args,message", [
    (["kpi", "nope"], "unknown KPI 'nope'"),
    (["kpi", "orders", "--start", "2025-03-01", "--end", "2025-02-01"], "is after end"),
    (["kpi", "net_sales", "--by", "device"], "net_sales cannot be split by 'device'"),
    (["alerts", "--start", "2025-03-01", "--end", "2025-02-01"], "is after end"),
])
def test_bad_arguments_exit_non_zero_with_a_message(tiny_store, args, message):
    # In a process of its own: what a scheduled job sees (the exit code, one line, no trace).
    p = cli_process(*args, "--store", tiny_store.path, ok=False)
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr


def test_bad_date_is_a_usage_error(tiny_store):
    p = cli("kpi", "orders", "--store", tiny_store.path, "--start", "31/01/2025", ok=False)
    assert p.returncode == 2 and "is not a date like 2025-01-31" in p.stderr


def test_ingest_and_dry_run(tmp_path):
    out = cli("ingest", TINY / "orders.csv", "--store", tmp_path / "s", "--dry-run").stdout
    assert "orders.csv: 8 rows of orders, 2025-01-05 to 2025-03-02." in out
    assert "nothing was written" in out and not (tmp_path / "s" / "manifest.json").exists()
    cli("ingest", TINY / "orders.csv", TINY / "refunds.csv", "--store", tmp_path / "s")
    assert (tmp_path / "s" / "manifest.json").exists()
    again = cli("ingest", TINY / "orders.csv", "--store", tmp_path / "s").stdout
    assert "already stored (same content), nothing changed" in again


def test_ingest_adopts_the_shops_timezone_on_a_first_upload(tmp_path):
    """Shopify writes its times with the shop's UTC offset: the first upload into a store on
    the default timezone (UTC) takes the zone they imply and says so; months then follow the
    shop's clock (#2001, 23:30 on 31 January at UTC−05:00, is January's)."""
    store = tmp_path / "s"
    out = cli("ingest", ROOT / "tests/data/formats/shopify_orders_new_york.csv",
              "--store", store).stdout
    assert "timezone: America/New_York, a guess from the files' UTC offsets (UTC−05:00 and " \
           "UTC−04:00): days and months follow the shop's clock." in out
    assert json.loads((store / "settings.json").read_text())["timezone"] == "America/New_York"
    months = json.loads(cli("kpi", "orders", "--store", store, "--by", "month", "--start",
                            "2024-01-01", "--end", "2024-03-31").stdout)
    assert [m["value"] for m in months] == [1, 1, 1]   # #2001, #2002, #2003 (9 March 21:15)


def test_ingest_bad_file_exit_code(tmp_path):
    p = cli("ingest", ROOT / "tests/data/bad/negative_sessions.csv", "--store", tmp_path / "s",
            ok=False)
    assert p.returncode == 2
    assert "negative_sessions.csv: column 'sessions': cannot be negative" in p.stderr


def test_demo_command(tmp_path):
    out = cli("demo", "--store", tmp_path / "d", "--months", "2", "--scale", "0.02",
              "--end", "2026-01-31").stdout
    assert "demo shop written" in out and "2025-12-01 to 2026-01-31" in out
    p = cli("demo", "--store", tmp_path / "d", "--months", "2", ok=False)
    assert "already holds data" in p.stderr


def test_ingest_report_undo_and_delete(tmp_path):
    store = tmp_path / "s"
    out = cli("ingest", TINY / "orders.csv", "--store", store, "--dry-run").stdout
    assert "changes against the store:\n  Orders of Jan 2025: 0 → 1 row, sales (gross − " \
           "discounts) +€90.00" in out
    cli("ingest", TINY / "orders.csv", "--store", store)
    out = cli("delete", "orders", "2025-02", "--store", store).stdout
    assert "deleted orders 2025-02" in out
    assert json.loads(cli("kpi", "orders", "--store", store, "--start", "2025-02-01",
                          "--end", "2025-02-28").stdout) == [{"value": 0.0}]
    assert "undone: deleted orders 2025-02" in cli("undo", "--store", store).stdout
    assert json.loads(cli("kpi", "orders", "--store", store, "--start", "2025-02-01",
                          "--end", "2025-02-28").stdout) == [{"value": 5.0}]
    assert "undone: orders.csv" in cli("undo", "--store", store).stdout
    p = cli("undo", "--store", store, ok=False)
    assert p.returncode == 2 and "nothing to undo" in p.stderr


def test_skip_invalid_and_spend_channel(tmp_path):
    store = tmp_path / "s"
    p = cli("ingest", ROOT / "tests/data/bad/bad_dates.csv", "--store", store, ok=False)
    assert "2 values are not dates" in p.stderr
    out = cli("ingest", ROOT / "tests/data/bad/bad_dates.csv", "--store", store,
              "--skip-invalid").stdout
    assert "1 row of orders" in out and "2 rows rejected" in out
    assert "rejected: ordered_at: 2 values are not dates. (2 rows)" in out
    out = cli("ingest", ROOT / "tests/data/formats/google_ads.csv", "--store", store,
              "--spend-channel", "display").stdout
    assert "spend stored under channel 'display'" in out
    assert json.loads(cli("kpi", "spend", "--store", store, "--by", "channel", "--start",
                          "2025-02-01", "--end", "2025-02-28").stdout) == [
        {"channel": "display", "value": 1409.75}]


def test_ingest_spend_month_of_an_ad_report_without_dates(tmp_path):
    """Facebook's ad-level export (no date column): refused until the month is said, then
    spread over August 2017's 31 days, by month the file's total (5.79 + 2.71 + 376.45)."""
    store, src = tmp_path / "s", ROOT / "tests/data/formats/facebook_ads_by_ad.csv"
    p = cli("ingest", src, "--store", store, ok=False)
    assert p.returncode == 2 and "--spend-month YYYY-MM" in p.stderr
    p = cli("ingest", src, "--store", store, "--spend-month", "August", ok=False)
    assert "must be written like 2025-03, not 'August'" in p.stderr
    out = cli("ingest", src, "--store", store, "--spend-month", "2017-08").stdout
    assert "93 rows of marketing_spend, 2017-08-01 to 2017-08-31" in out
    assert json.loads(cli("kpi", "spend", "--store", store, "--by", "month", "--start",
                          "2017-08-01", "--end", "2017-08-31").stdout) == [
        {"period": "2017-08-01", "value": 384.95}]


def test_table_kpi_json(tiny_store):
    out = json.loads(cli("kpi", "cohort_retention", "--store", tiny_store.path, "--start",
                         "2025-01-01", "--end", "2025-03-31").stdout)
    # Data ends on 2 March 2025: January and February are over (final), March is not.
    assert out[:2] == [
        {"cohort": "2025-01-01", "k": 0, "active": 1, "cohort_size": 1, "value": 1.0,
         "final": True},
        {"cohort": "2025-01-01", "k": 1, "active": 1, "cohort_size": 1, "value": 1.0,
         "final": True}]
    # carol's March cohort (o8, 2 March): its month is not over.
    assert {"cohort": "2025-03-01", "k": 0, "final": False}.items() <= out[-1].items()
    out = json.loads(cli("kpi", "top_products", "--store", tiny_store.path, "--start",
                         "2025-02-01", "--end", "2025-02-28", "--by", "channel").stdout)
    assert {"channel": "paid_social", "sku": "SKU-F"}.items() <= out[0].items()


ALERT_KEYS = ["day", "rank", "kpi", "label", "value", "low", "high", "expected", "direction",
              "good", "page"]


def test_alerts_json_lists_black_friday_first(demo_store):
    # The demo shop's Black Friday days, 26 Nov – 1 Dec 2025, are the most unusual of these
    # two weeks: every day ranked 1 to 5 is one of them.
    p = cli("alerts", "--store", demo_store.path, "--start", "2025-11-24", "--end", "2025-12-07")
    got = json.loads(p.stdout)
    assert got and all(list(r) == ALERT_KEYS for r in got)
    assert [r["rank"] for r in got] == sorted(r["rank"] for r in got)
    bf = {f"2025-11-{d}" for d in range(26, 31)} | {"2025-12-01"}
    assert {r["day"] for r in got if r["rank"] <= 5} <= bf
    assert len({r["day"] for r in got if r["rank"] <= 5}) == 5
    for r in got:
        # One rank per day, the day's band around its expected value, the value outside it.
        assert len({x["rank"] for x in got if x["day"] == r["day"]}) == 1
        assert r["low"] <= r["expected"] <= r["high"]
        assert (r["value"] > r["high"]) if r["direction"] == "above" else (r["value"] < r["low"])
        # Every watched KPI is better up: Black Friday's sales above their range are good.
        assert r["good"] is (r["direction"] == "above")
        page = "sales" if r["kpi"] in ("net_sales", "orders") else "traffic"
        assert r["page"] == f"{page}?period=Custom&dates={r['day']}&dates={r['day']}"
        assert r["label"] in ("Net sales", "Orders", "Sessions", "Conversion rate (analytics)")
    email = json.loads(cli("alerts", "--store", demo_store.path, "--start", "2025-11-24",
                           "--end", "2025-12-07", "--channel", "email").stdout)
    assert all(r["page"].endswith("&channels=email") for r in email)


def test_alerts_empty_result_is_an_empty_list(tiny_store):
    # The tiny store holds two months: no day has 8 weeks of history before it.
    assert cli("alerts", "--store", tiny_store.path).stdout.strip() == "[]"
    out = cli("alerts", "--store", tiny_store.path, "--format", "csv").stdout
    assert out.strip() == ",".join(ALERT_KEYS)


def test_alerts_on_a_store_with_one_month_only(tmp_path):
    # One month of the demo shop: the days before its first day read as zeros, and compared
    # with them most of its days looked unusual. None has 8 weeks of stored history.
    cli("demo", "--store", tmp_path / "s", "--months", "1", "--scale", "0.05", "--seed", "11",
        "--end", "2026-10-31")
    p = cli("alerts", "--store", tmp_path / "s", "--start", "2026-10-01", "--end", "2026-10-31")
    assert p.returncode == 0 and json.loads(p.stdout) == []


# --- issue 28: wrong kinds of paths, a lock held -------------------------------------------------
def test_a_folder_given_as_a_file_or_a_file_as_the_store_is_one_sentence(tmp_path):
    store = tmp_path / "store"
    p = cli("ingest", "--store", store, TINY, ok=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == f"error: {TINY.name}: this is a folder, not a file: name the " \
                               "files in it (for example exports/*.csv)."
    assert not (store / "manifest.json").exists()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a store")
    for args in (("ingest", TINY / "orders.csv"), ("kpi", "orders"), ("undo",)):
        p = cli(*args, "--store", a_file, ok=False)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.strip() == f"error: {a_file} is a file, not a store: give --store a " \
                                   "folder (a new one for a new store)"
    assert a_file.read_text() == "not a store"


def test_a_filter_the_kpi_cannot_take_exits_2_with_the_sentence(tiny_store):
    feb = ("--store", tiny_store.path, "--start", "2025-02-01", "--end", "2025-02-28")
    p = cli("kpi", "sessions", *feb, "--country", "FR", ok=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip() == "error: Sessions is not split by country."
    p = cli("kpi", "spend", *feb, "--device", "mobile", "--device", "desktop", "--country", "FR",
            ok=False)
    assert p.returncode == 2 and "Ad spend is not split by device or country." in p.stderr
    # The stock KPIs take categories, repeatable: on hand at the 2 Feb snapshot, SKU-A (Tops)
    # 4 + SKU-B (Accessories) 3.
    assert json.loads(cli("kpi", "on_hand", *feb, "--category", "Tops").stdout) == [
        {"value": 4.0}]
    assert json.loads(cli("kpi", "on_hand", *feb, "--category", "Tops", "--category",
                          "Accessories").stdout) == [{"value": 7.0}]


def _execute_script(con, text: str):
    """Runs what ``python -m kpilib sql`` printed: its statements, each with the printed
    parameters it names, the values read back by DuckDB from their printed literals."""
    import re
    params = {m[1]: con.execute(f"select {m[2]}").fetchone()[0]
              for m in re.finditer(r"^-- \$(\w+) = (.*)$", text, re.M)}
    body = "\n".join(line for line in text.splitlines() if not line.startswith("-- $"))
    statements = [s for s in body.split(";\n") if s.strip()]
    for s in statements:
        used = set(re.findall(r"\$(\w+)", s))
        cur = con.execute(s, {k: v for k, v in params.items() if k in used})
    return cur.fetchall()


@pytest.mark.parametrize("args", [
    ["orders"],
    ["orders", "--channel", "paid_search", "--channel", "email", "--by", "week"],
    ["net_sales", "--by", "channel"],
    # a shared per-SKU step, under a category filter
    ["on_hand", "--category", "Tops", "--category", "Accessories"],
])
def test_the_sql_shown_is_what_runs(tiny_store, args):
    """The printed SQL, run with the printed parameters, gives what `kpi` gives."""
    feb = ("--store", tiny_store.path, "--start", "2025-02-01", "--end", "2025-02-28")
    text = cli("sql", *args, *feb).stdout
    assert "$start" in text and "-- $start = DATE '2025-02-01'" in text
    if args[0] == "orders":
        # o2, o3, o4, o6, o7 in February (o5 cancelled), from the daily rollup of valid orders
        assert "set search_path = 'rollup,main';" in text and "from valid_orders" in text
    got = _execute_script(tiny_store.connect(), text)
    want = json.loads(cli("kpi", *args, *feb).stdout)
    if "--by" not in args:
        assert [round(float(v), 2) for _, v in got] == [want[0]["value"]]
    else:
        key = "period" if args[-1] == "week" else args[-1]
        found = {str(k): round(float(v), 2) for k, v in got}
        # `kpi` fills the periods without rows with 0
        assert set(found) <= {w[key] for w in want}
        assert [found.get(w[key], 0.0) for w in want] == [w["value"] for w in want]


def test_sql_refuses_a_filter_the_kpi_cannot_take(tiny_store):
    p = cli("sql", "sessions", "--store", tiny_store.path, "--category", "Tops", ok=False)
    assert p.returncode == 2 and p.stdout == "" and "Sessions is not split by category." in \
        p.stderr


def test_kpi_by_country_and_filters_add_up(tmp_path):
    """tests/data/split (hand-counted in tests/test_dimensions.py): net sales 212, France 120
    + Germany 92, as records keyed by the dimension; --country filters, --by splits."""
    store = tmp_path / "store"
    cli("ingest", *sorted((TINY.parent / "split").glob("*.csv")), "--store", store)
    feb = ("--store", store, "--start", "2025-02-01", "--end", "2025-02-28")
    assert json.loads(cli("kpi", "net_sales", *feb, "--by", "country").stdout) == [
        {"country": "DE", "value": 92.0}, {"country": "FR", "value": 120.0}]
    assert json.loads(cli("kpi", "net_sales", *feb, "--country", "FR").stdout) == [
        {"value": 120.0}]
    # Tops: 120 − 12 − 21; on mobile (a1, a3): 180 − 18 − 50
    assert json.loads(cli("kpi", "net_sales", *feb, "--category", "Tops").stdout) == [
        {"value": 87.0}]
    assert json.loads(cli("kpi", "net_sales", *feb, "--device", "mobile").stdout) == [
        {"value": 112.0}]
    codes = json.loads(cli("kpi", "orders", *feb, "--by", "discount_code").stdout)
    assert codes == [{"discount_code": "WELCOME10", "value": 2.0},
                     {"discount_code": None, "value": 2.0}]
    p = cli("kpi", "sessions", *feb, "--by", "country", ok=False)
    assert p.returncode == 2 and "sessions cannot be split by 'country'" in p.stderr


# tests/data/explain_customers, hand-counted in tests/test_explain.py (c1 ordered on 1 March,
# so that c2 and c3 are new on 3 and 4 March and c1 returning):
#   3 Mar  o1 c2 new: A 1 × 20 + B 1 × 30 = 50;  o2 c1 returning: B 1 × 30 = 30
#   4 Mar  o3 c3 new: A 1 × 20 + C 2 × 20 = 60 − 6.00 discount (A 2.00, C 4.00 by line value)
#          o4 c1 returning: C 3 × 30 = 90;  o5 guest: B 1 × 20 = 20
#          r1 30.00 refunded on o2's B
CUSTOMERS = TINY.parent / "explain_customers"


@pytest.fixture(scope="module")
def customers_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("customers") / "store"
    cli("ingest", *sorted(CUSTOMERS.glob("*.csv")), "--store", store)
    return store


def test_kpi_by_product_and_by_customer_type(customers_store):
    """4 March. By product: A 20 − 2 = 18, B 20 − 30 refunded = −10, C 40 − 4 + 90 = 126.
    By customer: new o3 54, returning o4 90 − r1 30 = 60, guests o5 20 (null, last), as the
    other groupings' records; AOV keeps its parts: returning 90 ÷ 1 order."""
    day = ("--store", customers_store, "--start", "2025-03-04", "--end", "2025-03-04")
    assert json.loads(cli("kpi", "net_sales", *day, "--by", "product").stdout) == [
        {"product": "SKU-A", "value": 18.0}, {"product": "SKU-B", "value": -10.0},
        {"product": "SKU-C", "value": 126.0}]
    assert json.loads(cli("kpi", "net_sales", *day, "--by", "customer_type").stdout) == [
        {"customer_type": "new", "value": 54.0}, {"customer_type": "returning", "value": 60.0},
        {"customer_type": None, "value": 20.0}]
    aov = json.loads(cli("kpi", "aov", *day, "--by", "customer_type").stdout)
    assert aov[1] == {"customer_type": "returning", "value": 90.0, "numerator": 90.0,
                      "denominator": 1.0}
    # An order is one order, whatever it holds: no part of it is a product's.
    p = cli("kpi", "orders", *day, "--by", "product", ok=False)
    assert p.returncode == 2 and "orders cannot be split by 'product'" in p.stderr


def test_explain_by_only_the_splits_asked(customers_store):
    """4 March against 3 March (+54.00): --by product and customer_type give those two splits
    only, in explain's JSON shape. Product: A 20 → 18 (−2), B 60 → −10 (−70), C 0 → 126
    (+126); customer: new 50 → 54 (+4), returning 30 → 60 (+30), guests 0 → 20 (+20). A split
    the KPI does not have exits 2 with the reason."""
    day = ("--store", customers_store, "--start", "2025-03-04", "--end", "2025-03-04")
    out = json.loads(cli("explain", "net_sales", *day, "--by", "product",
                         "--by", "customer_type").stdout)
    assert set(out["by"]) == {"product", "customer_type"} and out["not_split"] == []
    assert {r["member"]: (r["compared"], r["current"], r["effect"])
            for r in out["by"]["product"]} == {"SKU-A": (20.0, 18.0, -2.0),
                                               "SKU-B": (60.0, -10.0, -70.0),
                                               "SKU-C": (0.0, 126.0, 126.0)}
    assert {r["member"]: r["effect"] for r in out["by"]["customer_type"]} == {
        "new": 4.0, "returning": 30.0, None: 20.0}
    assert out["change"] == 54.0 and sum(r["effect"] for r in out["by"]["product"]) == 54.0
    assert set(json.loads(cli("explain", "net_sales", *day).stdout)["by"]) == {
        "channel", "category", "product", "customer_type"}
    p = cli("explain", "orders", *day, "--by", "product", ok=False)
    assert p.returncode == 2 and "Orders is not split by product: it is a figure of whole " \
        "orders" in p.stderr
