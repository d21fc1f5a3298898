"""Rollups: built at ingest, rebuilt only where an upload changed something, read when the
filters allow — and always the same numbers as the rows (helpers.both checks every KPI test)."""
from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from kpilib import KPIS, Filters, Kpi, Store, get, run
from kpilib.ingest import ingest
from kpilib.kpi import uses_rollup
from kpilib.rollups import ROLLUPS

from conftest import TINY
from helpers import FEB, both

TINY_ORDERS = "order_id,ordered_at,customer_id,channel,status,currency,gross_sales,discounts\n"


def test_the_rollups_are_built_and_read(tiny_store, demo_store):
    assert set(tiny_store.manifest["rollups"]) == set(ROLLUPS)
    m = demo_store.manifest
    # The demo shop's orders summed by day, channel, device and status: fewer rows (at 5 %
    # scale; a large shop's are hundreds of times fewer).
    assert sum(p["rows"] for p in m["rollups"]["orders_daily"].values()) < \
        sum(p["rows"] for p in m["tables"]["orders"].values())
    con = tiny_store.connect()
    cur = con.cursor()
    cur.execute("set search_path = 'rollup,main'")
    assert cur.execute("select count(*) from valid_orders").fetchall()[0][0] == \
        con.execute("select count(*) from orders_daily where status <> 'cancelled'"
                    ).fetchall()[0][0]
    assert cur.execute("select sum(n) from valid_orders").fetchall()[0][0] == 7   # o5 cancelled


def test_which_queries_read_the_rollups():
    orders = get("orders")
    assert uses_rollup(orders, FEB) and uses_rollup(orders, FEB, ("week", "channel"))
    assert not uses_rollup(orders, Filters(FEB.start, FEB.end, categories=("Tops",)))
    assert not uses_rollup(orders, Filters(FEB.start, FEB.end, search="shirt"))
    assert not uses_rollup(get("rfm_segments"), FEB)       # ranks customers one by one
    # Customers in a group are counted from each order's previous order days, which the
    # rollup keeps: any grouping the customer KPIs offer reads it.
    assert uses_rollup(get("customers"), FEB, ("week", "channel"))
    # The rule every rollup KPI follows, enforced where it is declared.
    with pytest.raises(AssertionError, match="use sum"):
        Kpi("x", "X", "count", "x", "select {key} as key, count(*) as value from orders",
            rollup=True)


@pytest.mark.parametrize("name", [n for n, k in KPIS.items() if k.rollup])
def test_rollup_kpis_agree_with_the_rows_on_the_demo_shop(demo_store, name):
    con = demo_store.connect()
    for f in (Filters(date(2025, 5, 1), date(2026, 10, 31)),
              Filters(date(2026, 7, 1), date(2026, 9, 30), ("email",))):
        for by in (None, *get(name).by):
            both(con, name, f, by)


def test_an_upload_rebuilds_only_the_months_it_changed(store_copy, tmp_path):
    before = json.loads((store_copy.path / "manifest.json").read_text())["rollups"]
    f = tmp_path / "march.csv"
    f.write_text(TINY_ORDERS + "o9,2025-03-20 10:00:00,erin,email,paid,EUR,40,0\n")
    ingest(store_copy, [f])
    after = store_copy.manifest["rollups"]
    # March's daily orders are new files; January's and February's are the same files.
    assert after["orders_daily"]["2025-03"]["file"] != before["orders_daily"]["2025-03"]["file"]
    for month in ("2025-01", "2025-02"):
        assert after["orders_daily"][month] == before["orders_daily"][month]
    # customer_first by the month of first orders: erin's first order is in March.
    assert after["customer_first"]["2025-03"]["file"] != before["customer_first"]["2025-03"]["file"]
    # ... and equal to rollups built from scratch.
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh")


def assert_as_built_from_scratch(store: Store, path) -> None:
    """Every rollup of ``store`` holds the rows a build from its tables alone gives: its stored
    files compared whole, sorted. Customer numbers are compared as the customers they number
    (an incremental build numbers a new customer between its neighbours), and they must
    follow the customer ids' order (RFM breaks ties by it) and number each customer once."""
    fresh = Store(path)
    m = store.manifest
    del m["rollups"]
    fresh.path.mkdir()
    fresh.update_settings(store.settings)   # the convention for cancelled orders
    for name, parts in m["tables"].items():
        for p in parts.values():
            (fresh.path / p["file"]).parent.mkdir(parents=True, exist_ok=True)
            (fresh.path / p["file"]).write_bytes((store.path / p["file"]).read_bytes())
    fresh._commit(m)
    assert "rollups" not in fresh.manifest
    fresh._commit_rollups(fresh.manifest, {})
    a, b = stored_rollups(store), stored_rollups(fresh)
    for con in (a, b):
        assert con.sql("""select count(*) = count(distinct customer_no)
                                 and bool_and(no_order = id_order)
                          from (select customer_no, row_number() over (order by customer_no)
                                       as no_order,
                                       row_number() over (order by customer_id) as id_order
                                from customer_first)""").fetchall() == [(True,)]
    for name in ROLLUPS:
        x, y = rollup_rows(a, name), rollup_rows(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            pd.testing.assert_frame_equal(x, y, obj=name)


def stored_rollups(store: Store):
    """A connection with each rollup's stored files as a view (nothing computed)."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for name, parts in store.manifest["rollups"].items():
        files = [str(store.path / p["file"]) for p in parts.values()]
        if files:   # none: a rollup of tables the store lacks (stock, say)
            con.read_parquet(files).create_view(name)
    return con


def rollup_rows(con, name: str) -> pd.DataFrame | None:
    if not con.execute("select count(*) from duckdb_views() where view_name = $n",
                       {"n": name}).fetchall()[0][0]:
        return None
    cols = con.table(name).columns
    if "customer_no" not in cols:
        return con.sql(f"select * from {name} order by all").df()
    if name == "customer_first":
        return con.sql("select * exclude (customer_no) from customer_first order by all").df()
    return con.sql(f"""select t.* exclude (customer_no), f.customer_id as numbered
                       from {name} t left join customer_first f using (customer_no)
                       order by all""").df()


def test_running_totals_continue_from_the_month_before(store_copy, tmp_path):
    """sku_cum and product_cum (running totals by month) are rebuilt from the first month an
    upload changes, continued from their stored month before — a new month, a changed month
    in the middle, then the last month taken back — always as a build from scratch gives."""
    first = dict(store_copy.manifest["rollups"]["sku_cum"])
    items = tmp_path / "items.csv"
    orders = tmp_path / "orders.csv"
    orders.write_text(TINY_ORDERS + "o20,2025-04-02 10:00:00,erin,email,paid,EUR,90,0\n")
    items.write_text("order_id,line,sku,quantity,unit_price\no20,1,SKU-A,3,30\n")
    ingest(store_copy, [orders, items])
    after = store_copy.manifest["rollups"]["sku_cum"]
    # A month added after the last: the months before are the same files.
    assert "2025-04" in after and all(after[m] == first[m] for m in first)
    # SKU-A's units: 2 (o1, January) + 1 (o3, February) + 3 (o20, April).
    con = store_copy.connect()
    assert con.execute("select q from sku_cum where sku = 'SKU-A' and day = '2025-04-01'"
                       ).fetchall() == [(6,)]
    # Its last day sold, carried through March (no sale) from o3's 4 February.
    assert con.execute("select day, last_sold from sku_cum where sku = 'SKU-A' order by day"
                       ).fetchall() == [(date(2025, m, 1), d) for m, d in (
                           (1, date(2025, 1, 5)), (2, date(2025, 2, 4)), (3, date(2025, 2, 4)),
                           (4, date(2025, 4, 2)))]
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh1")
    # February changes: every month from February on is rebuilt, January's stays.
    orders.write_text(TINY_ORDERS + "o21,2025-02-20 10:00:00,erin,email,paid,EUR,20,0\n")
    items.write_text("order_id,line,sku,quantity,unit_price\no21,1,SKU-B,4,5\n")
    ingest(store_copy, [orders, items])
    again = store_copy.manifest["rollups"]["sku_cum"]
    assert again["2025-01"] == first["2025-01"] and again["2025-02"] != after["2025-02"]
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh2")
    store_copy.undo()
    store_copy.undo()     # April taken back: the last month moves back, rebuilt whole
    assert "2025-04" not in store_copy.manifest["rollups"]["sku_cum"]
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh3")


def test_a_store_without_rollups_still_answers_then_gets_them(store_copy, tmp_path):
    want = {n: run(store_copy.connect(), get(n), FEB)["value"].iat[0]
            for n in ("net_sales", "orders", "new_customers", "on_hand")}
    m = store_copy.manifest
    del m["rollups"]                       # a store written before rollups existed
    store_copy._commit(m)
    store_copy.recover()
    for n, v in want.items():              # computed views: the same numbers
        assert both(store_copy.connect(), n, FEB)["value"].iat[0] == v
    f = tmp_path / "march.csv"
    f.write_text(TINY_ORDERS + "o9,2025-03-20 10:00:00,erin,email,paid,EUR,40,0\n")
    ingest(store_copy, [f])
    # The first write builds every rollup, not just March's.
    assert set(store_copy.manifest["rollups"]["orders_daily"]) == {"2025-01", "2025-02",
                                                                   "2025-03"}
    assert both(store_copy.connect(), "net_sales", FEB)["value"].iat[0] == want["net_sales"]


def test_a_store_without_the_newest_rollups_gets_them(store_copy):
    want = run(store_copy.connect(), get("stock_value"), FEB)["value"].iat[0]
    m = store_copy.manifest
    for name in ("sku_monthly", "stock_monthly"):   # as if added by a later version
        del m["rollups"][name]
    m["rollup_defs"]["customer_first"] = "older"     # as if redefined since
    store_copy._commit(m)
    assert both(store_copy.connect(), "returning_customers", FEB)["value"].iat[0] == 1
    assert run(store_copy.connect(), get("stock_value"), FEB)["value"].iat[0] == want
    kept, old_first = (store_copy.manifest["rollups"][n] for n in ("sales_lines", "customer_first"))
    assert store_copy.refresh_rollups() and not store_copy.refresh_rollups()
    assert set(store_copy.manifest["rollups"]) == set(ROLLUPS)
    assert store_copy.manifest["rollups"]["sales_lines"] == kept    # only the missing ones
    assert store_copy.manifest["rollups"]["customer_first"] != old_first
    assert run(store_copy.connect(), get("stock_value"), FEB)["value"].iat[0] == want


def test_a_store_built_before_the_last_day_sold_keeps_its_dead_stock(store_copy):
    """sku_cum carries each SKU's last day sold (dead stock without a 90-day sum): a store
    whose SKU rollups an older version wrote without it reads them computed until they are
    refreshed, then rebuilt; the dead stock is the same all along. Snapshots end 2 February
    (A 4 on hand, B 3), carried on. A last sold 4 Feb, B 2 Mar: on 4 May the 90 days from
    4 Feb hold both sales, none dead; on 5 May they start on the 5th: A dead."""
    import os
    import shutil

    import duckdb

    may4, may5 = Filters(date(2025, 5, 1), date(2025, 5, 4)), Filters(date(2025, 5, 1),
                                                                        date(2025, 5, 5))
    want = {may4: 0, may5: 1}

    def dead() -> dict:
        con = store_copy.connect()
        return {f: run(con, get("dead_stock"), f)["value"].iat[0] for f in want}

    assert dead() == want
    con = duckdb.connect()
    m = store_copy.manifest
    for name in ("sku_sales_monthly", "sku_monthly", "sku_month", "sku_cum"):
        for part in m["rollups"][name].values():
            path = store_copy.path / part["file"]
            con.read_parquet(str(path)).project(duckdb.StarExpression(exclude=["last_sold"])) \
                .write_parquet(f"{path}.tmp")
            os.replace(f"{path}.tmp", path)
    for name in ("sku_sales_monthly", "sku_monthly", "sku_month", "sku_cum",
                 "stock_lost_monthly"):
        m["rollup_defs"][name] = "older"     # as its version defined them
    store_copy._commit(m)
    shutil.rmtree(store_copy.path / "cache", ignore_errors=True)
    assert dead() == want
    assert store_copy.refresh_rollups()
    assert "last_sold" in con.read_parquet(str(store_copy.path / next(iter(
        store_copy.manifest["rollups"]["sku_cum"].values()))["file"])).columns
    assert dead() == want


def test_a_rollup_stored_in_an_older_layout_is_rebuilt_whole(store_copy):
    """sku_month was one file; now a file per month. A store holding the single file never
    gets months added beside it (every month's rows twice): it is not read, and the next
    write or refresh builds it whole, month by month."""
    from kpilib.store import UNPARTITIONED, current

    want = run(store_copy.connect(), get("lost_revenue_by_month"), FEB)
    m = store_copy.manifest
    months = set(m["rollups"]["sku_month"])
    assert {"2025-01", "2025-02"} <= months
    m["rollups"]["sku_month"] = {UNPARTITIONED: m["rollups"]["sku_month"]["2025-02"]}
    store_copy._commit(m)
    assert "sku_month" not in current(store_copy.manifest)
    assert store_copy.refresh_rollups()
    assert set(store_copy.manifest["rollups"]["sku_month"]) == months
    pd.testing.assert_frame_equal(run(store_copy.connect(), get("lost_revenue_by_month"), FEB),
                                  want)


def test_undo_and_delete_rebuild_the_rollups(store_copy):
    store_copy.delete_month("orders", "2025-02")
    assert "2025-02" not in store_copy.manifest["rollups"]["orders_daily"]
    assert both(store_copy.connect(), "orders", FEB)["value"].iat[0] == 0
    store_copy.undo()
    # February's valid orders: o2, o3, o4, o6, o7 (o5 is cancelled).
    assert both(store_copy.connect(), "orders", FEB)["value"].iat[0] == 5


def test_an_upload_changes_the_cache_key_of_the_kpis_that_read_it_only(store_copy, tmp_path):
    from kpilib.store import tables_read

    def key(name):
        return store_copy.data_version(tables_read(get(name).sql))

    assert tables_read(get("net_sales").sql) == {"orders", "refunds"}
    assert tables_read(get("stockout_rate").sql) == {"inventory", "order_items", "products"}
    before = {n: key(n) for n in ("net_sales", "sessions", "stockout_rate")}
    f = tmp_path / "inventory.csv"
    f.write_text("date,sku,on_hand\n2025-03-05,SKU-A,9\n")
    ingest(store_copy, [f])
    after = {n: key(n) for n in before}
    assert after["net_sales"] == before["net_sales"]
    assert after["sessions"] == before["sessions"]
    assert after["stockout_rate"] != before["stockout_rate"]
    store_copy.update_settings({"currency": "GBP"})         # a setting: everything again
    assert key("sessions") != after["sessions"]


def test_whole_months_and_edge_days_split_every_range_exactly():
    """kpilib.filters.whole_months for every range within 1 Dec 2025 – 31 Mar 2026 (a year's
    end, a 28-day February): its whole months, the first month's days after e0 up to e1 and
    the last month's 1st up to e2 are each of the range's days once."""
    from datetime import timedelta

    from kpilib.filters import whole_months
    day0 = date(2025, 12, 1)
    span = [day0 + timedelta(days=i) for i in range(121)]
    wide = [day0 + timedelta(days=i) for i in range(-62, 190)]
    month = lambda d: d.replace(day=1)  # noqa: E731
    for i, start in enumerate(span):
        for end in span[i:]:
            w = whole_months("p", start, end)
            days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
            last_day = lambda m: month(m + timedelta(days=32)) - timedelta(days=1)  # noqa
            full = sorted({month(d) for d in days if month(d) >= start and last_day(d) <= end})
            got = []   # over a wider calendar: a part reaching past the range shows
            if w["p_e1"] is not None:
                assert month(w["p_e0"] + timedelta(days=1)) == month(w["p_e1"])
                got += [d for d in wide if w["p_e0"] < d <= w["p_e1"]]
            got += [d for d in wide if w["p_first"] <= d < w["p_after"]]
            if w["p_e2"] is not None:
                got += [d for d in wide if month(w["p_e2"]) <= d <= w["p_e2"]]
            assert got == days, (start, end, w)
            if full:
                assert (w["p_first"], w["p_last"]) == (full[0], full[-1]), (start, end)
                assert month(w["p_before"] + timedelta(days=32)) == w["p_first"]
                assert month(w["p_last"] + timedelta(days=32)) == w["p_after"]
            else:
                assert w["p_first"] == w["p_after"] and w["p_last"] == w["p_before"]


QUARTER = Filters(date(2025, 1, 1), date(2025, 3, 31))


def _figures(store: Store) -> dict:
    """Every KPI of the tiny store over its three months, read both ways (equal), in total
    and by month."""
    con = store.connect()
    return {(n, by): both(con, n, QUARTER, by) for n, k in KPIS.items()
            for by in (None, "month") if by is None or by in k.by}


def test_the_convention_for_cancelled_orders_rebuilds_the_rollups(store_copy, tmp_path):
    """Switching to Shopify's convention and back gives the figures of a store uploaded under
    each, from rollups built under the one in force."""
    from kpilib.store import current

    def same(a: dict, b: dict):
        for key in a:
            pd.testing.assert_frame_equal(a[key], b[key], obj=str(key))

    default = _figures(store_copy)
    version = store_copy.version
    store_copy.update_settings({"cancelled_orders": "shopify"})
    assert store_copy.version == version + 1       # the rollups rebuilt, committed
    assert set(current(store_copy.manifest, store_copy.settings)) == set(ROLLUPS)
    fresh = Store(tmp_path / "fresh")
    fresh.update_settings({"cancelled_orders": "shopify"})
    ingest(fresh, sorted(TINY.glob("*.csv")))
    assert set(current(fresh.manifest, fresh.settings)) == set(ROLLUPS)
    shopify = _figures(fresh)
    same(_figures(store_copy), shopify)
    # February by hand: o5 (60, cancelled, no cancellation date) is an order on 10 Feb and
    # returned whole that day (its refund r4 of 11 Feb is left out): orders 5 → 6, returns
    # 30 (o6) → 90, net sales 262 either way (o5's 60 − 60).
    assert [both(store_copy.connect(), n, FEB)["value"].iat[0]
            for n in ("orders", "returns", "net_sales")] == [6, 90, 262]
    assert [both(fresh.connect(), n, FEB)["value"].iat[0]
            for n in ("orders", "returns", "net_sales")] == [6, 90, 262]
    store_copy.update_settings({"cancelled_orders": "shopify", "currency": "EUR"})
    assert store_copy.version == version + 1       # the same convention: nothing rebuilt
    store_copy.update_settings({"cancelled_orders": "excluded"})
    assert set(current(store_copy.manifest, store_copy.settings)) == set(ROLLUPS)
    same(_figures(store_copy), default)
    with pytest.raises(ValueError, match="excluded, shopify"):
        store_copy.update_settings({"cancelled_orders": "sometimes"})


# --- customer rollups updated for the customers an upload touched ------------------------------
CUSTOMER_ROLLUPS = ("customer_first", "customer_orders", "customer_orders_daily", "rfm_daily",
                    "cohort_orders")


@pytest.fixture
def incremental(monkeypatch):
    """The customer rollups each write built for the touched customers (not whole)."""
    from kpilib.store import _Customers

    built: list[list[str]] = []
    original = _Customers.stage

    def stage(self, con, name, *args):
        done = original(self, con, name, *args)
        if done:
            built[-1].append(name)
        return done

    monkeypatch.setattr(_Customers, "stage", stage)
    monkeypatch.setattr(Store, "_commit_rollups", _logged(Store._commit_rollups, built))
    monkeypatch.setattr(Store, "write", _logged(Store.write, built))
    return built


@pytest.fixture
def restored(monkeypatch):
    """Whether each undo put back the rollups it replaced (True) or built them (False)."""
    from kpilib.store import Manifest

    seen: list[bool] = []
    original = Manifest._restored

    def spy(manifest, record):
        seen.append(original(manifest, record))
        return seen[-1]

    monkeypatch.setattr(Manifest, "_restored", staticmethod(spy))
    return seen


def _logged(method, built):
    def logged(self, *args, **kwargs):
        built.append([])
        return method(self, *args, **kwargs)
    return logged


def test_customer_rollups_follow_an_upload_a_restated_month_and_an_undo(demo_store, tmp_path,
                                                                        incremental, restored,
                                                                        monkeypatch):
    """On the demo shop: a new month (returning customers, new ones numbered between existing
    ids, refunds of earlier orders), then a month in the middle restated (orders re-dated into
    the month before, one moved before its customer's first order, cancelled, repriced, a new
    customer), then an undo: each time every rollup as a build from scratch gives, the
    customer rollups built for the touched customers only."""
    import shutil

    shutil.copytree(demo_store.path, tmp_path / "store")
    store = Store(tmp_path / "store")
    con = store.connect()
    # November: October's first 40 orders again (new ids, same customers), and two customers
    # new to the shop whose ids sort between existing ones (C000100 < C0001005 < C000101).
    nov = con.sql("""
        select 'N' || order_id as order_id, ordered_at + interval 31 day as ordered_at,
               customer_id, channel, status, currency, gross_sales, discounts
        from orders where day >= '2026-10-01' and customer_id is not null
        order by order_id limit 40""").df()
    nov.loc[0, "customer_id"], nov.loc[1, "customer_id"] = "C0001005", "C0001006"
    orders = tmp_path / "nov.csv"
    nov.to_csv(orders, index=False)
    refunds = tmp_path / "refunds.csv"
    con.sql("""select 'RN' || order_id as refund_id, order_id,
                      timestamp '2026-11-20 12:00' as refunded_at, 5.00 as amount
               from orders where day between '2026-05-01' and '2026-05-31'
                 and status <> 'cancelled' and customer_id is not null
               order by order_id limit 10""").df().to_csv(refunds, index=False)
    ingest(store, [orders, refunds])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    assert_as_built_from_scratch(store, tmp_path / "fresh1")
    first = store.connect().sql("select customer_id, customer_no from customer_first "
                                "where customer_id in ('C000100', 'C0001005', 'C0001006', "
                                "'C000101') order by 1").fetchall()
    assert [c for c, _ in first] == ["C000100", "C0001005", "C0001006", "C000101"]
    assert first[0][1] < first[1][1] < first[2][1] < first[3][1]

    # March restated: 40 of its orders again, changed.
    con = store.connect()
    march = con.sql("""
        select order_id, ordered_at, customer_id, channel, status, currency, gross_sales,
               discounts
        from orders where day >= '2026-03-01' and day < '2026-04-01'
          and customer_id is not null and status <> 'cancelled'
        order by order_id limit 40""").df()
    march.loc[0:4, "ordered_at"] -= pd.Timedelta(days=31)        # into February
    # before the customer's first order: their acquisition day and channel change
    march.loc[5, "ordered_at"] = pd.Timestamp("2025-05-02 08:00")
    march.loc[5, "channel"] = "affiliate"
    march.loc[6:10, "status"] = "cancelled"
    march.loc[11:15, "gross_sales"] *= 2
    march.loc[16, "customer_id"] = "C0000005"                     # new: between C000000, C000001
    march.to_csv(orders, index=False)
    # Without their lines: the stored lines of the re-dated orders go with them (lines are
    # stored in their order's month, and the product rollups are rebuilt month by month).
    # And two refunds re-dated: one of March into January, one of April into March.
    refunds = tmp_path / "refunds.csv"
    moved = con.sql("""
        (select refund_id, order_id, refunded_at - interval 59 day as refunded_at, amount
         from refunds where day >= '2026-03-01' and day < '2026-04-01'
         order by refund_id limit 1)
        union all
        (select refund_id, order_id, refunded_at - interval 31 day, amount
         from refunds where day >= '2026-04-05' and day < '2026-05-01'
         order by refund_id limit 1)""").df()
    assert len(moved) == 2
    moved.to_csv(refunds, index=False)
    assert con.sql("select count(*) from order_items where list_contains($ids, order_id)",
                   params={"ids": list(march.order_id[:6])}).fetchall()[0][0] > 0
    ingest(store, [orders, refunds])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    assert_as_built_from_scratch(store, tmp_path / "fresh2")

    # June restated by orders alone (no refunds): customer_orders is then read and compared
    # from May on only (the earliest month changed), the months before kept unread.
    june = store.connect().sql("""
        select order_id, ordered_at, customer_id, channel, status, currency, gross_sales,
               discounts
        from orders where day >= '2026-06-01' and day < '2026-07-01'
          and customer_id is not null and status <> 'cancelled'
        order by order_id limit 20""").df()
    june.loc[0:2, "ordered_at"] -= pd.Timedelta(days=31)         # into May
    june.loc[3:5, "status"] = "cancelled"
    june.loc[6:8, "gross_sales"] *= 3
    june.loc[9, "customer_id"] = "C0000007"                       # new
    june.to_csv(orders, index=False)
    ingest(store, [orders])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    assert_as_built_from_scratch(store, tmp_path / "fresh-june")
    store.undo()   # June as it was: the rollups it replaced put back
    assert restored == [True]
    assert_as_built_from_scratch(store, tmp_path / "fresh-june-undone")

    store.undo()   # March as it was
    assert restored == [True, True]
    assert_as_built_from_scratch(store, tmp_path / "fresh3")
    # November taken back, its rollups built for the touched customers (as when those it
    # replaced are not kept): its new customers go.
    monkeypatch.setattr("kpilib.store.Manifest._restored", staticmethod(lambda m, r: False))
    store.undo()
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    assert_as_built_from_scratch(store, tmp_path / "fresh4")


def test_refunds_and_their_lines_follow_an_orders_upload_order_by_order(demo_store, tmp_path,
                                                                         monkeypatch):
    """An upload of orders alone (refunded orders of March re-dated into February, without
    their lines; one cancelled): valid_refunds and refund_lines are computed again for the
    orders of February and March only, the other rows kept, and equal a build from scratch."""
    import shutil

    shutil.copytree(demo_store.path, tmp_path / "store")
    store = Store(tmp_path / "store")
    updated = []
    original = Store._by_order

    def by_order(self, con, name, *args):
        done = original(self, con, name, *args)
        if done:
            updated.append(name)
        return done

    monkeypatch.setattr(Store, "_by_order", by_order)
    con = store.connect()
    march = con.sql("""
        select o.order_id, o.ordered_at - interval 20 day as ordered_at, o.customer_id,
               o.channel, o.status, o.currency, o.gross_sales, o.discounts
        from orders o semi join refunds r using (order_id)
        where o.day >= '2026-03-01' and o.day < '2026-04-01' and o.status <> 'cancelled'
        order by o.order_id limit 6""").df()
    assert len(march) == 6
    march.loc[0, "status"] = "cancelled"
    orders = tmp_path / "orders.csv"
    march.to_csv(orders, index=False)
    ingest(store, [orders])
    assert sorted(updated) == ["refund_lines", "valid_refunds"]
    assert_as_built_from_scratch(store, tmp_path / "fresh")
    # October's orders deleted: their refunds stay, now of orders not stored (channel
    # 'unknown', no order day), found from the month's file before the change.
    updated.clear()
    store.delete_month("orders", "2026-10")
    assert sorted(updated) == ["refund_lines", "valid_refunds"]
    assert store.connect().sql("select count(*) from valid_refunds where channel = 'unknown'"
                               ).fetchall()[0][0] > 0
    assert_as_built_from_scratch(store, tmp_path / "fresh2")


def test_a_customer_whose_first_order_moves_to_an_earlier_month(tmp_path, incremental,
                                                                restored):
    """A tiny shop, by hand. March and April: ann orders on 3 Mar (web) and 5 Apr, bob on
    10 Mar. Then January is uploaded: ann's order of 20 Jan (email) becomes her first, and
    ben, a new customer whose id sorts between ann's and bob's, orders on 25 Jan."""
    store = Store(tmp_path / "store")
    f = tmp_path / "orders.csv"
    f.write_text(TINY_ORDERS + "o1,2025-03-03 10:00:00,ann,web,paid,EUR,30,0\n"
                               "o2,2025-04-05 10:00:00,ann,web,paid,EUR,50,0\n"
                               "o3,2025-03-10 10:00:00,bob,web,paid,EUR,20,0\n")
    ingest(store, [f])
    numbers = dict(store.connect().execute("select customer_id, customer_no from customer_first"
                                           ).fetchall())
    f.write_text(TINY_ORDERS + "o0,2025-01-20 10:00:00,ann,email,paid,EUR,10,0\n"
                               "o4,2025-01-25 10:00:00,ben,web,paid,EUR,15,0\n")
    ingest(store, [f])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    con = store.connect()
    first = {r[0]: r[1:] for r in con.execute(
        "select f.customer_id, f.customer_no, f.first_day::varchar, f.acquisition_channel, "
        "s.day::varchar from customer_first f left join customer_orders s "
        "on s.customer_no = f.customer_no and s.nth = 2").fetchall()}
    # ann: first 20 Jan (email), second 3 Mar; her number and bob's kept, ben between them.
    assert first["ann"] == (numbers["ann"], "2025-01-20", "email", "2025-03-03")
    assert first["bob"] == (numbers["bob"], "2025-03-10", "web", None)
    assert numbers["ann"] < first["ben"][0] < numbers["bob"]
    # ann's orders: 1st o0, 2nd o1 (previous 20 Jan), 3rd o2; cum_net 10, 40, 90; all counted
    # in her new acquisition channel, email.
    # (The next order day: the day of her order of the next rank.)
    rows = con.execute("""select o.day::varchar, o.nth, o.prev_day::varchar,
                                 coalesce(lead(o.day) over (order by o.nth),
                                          '9999-12-31')::varchar, o.cum_net, o.channel
                          from customer_orders o join customer_first f using (customer_no)
                          where f.customer_id = 'ann' order by o.nth""").fetchall()
    assert rows == [("2025-01-20", 1, None, "2025-03-03", 10, "email"),
                    ("2025-03-03", 2, "2025-01-20", "2025-04-05", 40, "email"),
                    ("2025-04-05", 3, "2025-03-03", "9999-12-31", 90, "email")]
    # Cohorts: ann moves from (web, 3 Mar) to (email, 20 Jan): active in January, March and
    # April, revenue 10, 30, 50; ben (web, 25 Jan) 15 in January; bob (web, 10 Mar) 20.
    assert con.execute("""select channel, first_day::varchar, month::varchar, active, revenue
                          from cohort_orders order by all""").fetchall() == [
        ("email", "2025-01-20", "2025-01-01", 1, 10), ("email", "2025-01-20", "2025-03-01", 1, 30),
        ("email", "2025-01-20", "2025-04-01", 1, 50), ("web", "2025-01-25", "2025-01-01", 1, 15),
        ("web", "2025-03-10", "2025-03-01", 1, 20)]
    assert_as_built_from_scratch(store, tmp_path / "fresh")
    store.undo()   # the rollups January replaced, put back
    assert restored == [True]
    assert dict(store.connect().execute("select customer_id, customer_no from customer_first"
                                        ).fetchall()) == numbers
    assert_as_built_from_scratch(store, tmp_path / "fresh2")


def test_a_returning_customers_new_month_leaves_the_months_before_as_they_were(
        tmp_path, incremental):
    """ann orders on 3 Mar, bob on 10 Mar; April brings ann's second order. No row of March
    depends on it (no next order day in customer_orders, no second order in customer_first;
    rfm_daily's −1 for ann's March order takes effect on 5 Apr, in April): every customer
    rollup by month keeps its March file and writes April only."""
    store = Store(tmp_path / "store")
    f = tmp_path / "orders.csv"
    f.write_text(TINY_ORDERS + "o1,2025-03-03 10:00:00,ann,web,paid,EUR,30,0\n"
                               "o2,2025-03-10 10:00:00,bob,web,paid,EUR,20,0\n")
    ingest(store, [f])
    before = store.manifest["rollups"]
    f.write_text(TINY_ORDERS + "o3,2025-04-05 10:00:00,ann,web,paid,EUR,50,0\n")
    ingest(store, [f])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    after = store.manifest["rollups"]
    for name in ("customer_orders", "customer_orders_daily", "rfm_daily"):
        assert after[name]["2025-03"] == before[name]["2025-03"], name
        assert "2025-04" in after[name] and "2025-04" not in before[name], name
    # customer_first (by the month of first orders) has no new customer: not written at all.
    assert after["customer_first"] == before["customer_first"]
    con = store.connect()
    # April: ann's second order, previous order day 3 Mar.
    assert con.execute(
        "select day::varchar, prev_day::varchar, n from customer_orders_daily "
        "where day >= '2025-04-01'").fetchall() == [("2025-04-05", "2025-03-03", 1)]
    # rfm_daily in April: ann's order of 5 Apr, +1 (2nd order, net 30 + 50 = 80), and her
    # order of 3 Mar no longer her last from 5 Apr on, −1 (1st order, net 30).
    assert con.execute(
        "select day::varchar, order_day::varchar, f, customers, orders, revenue "
        "from rfm_daily where day >= '2025-04-01' order by customers").fetchall() == [
        ("2025-04-05", "2025-03-03", 1, -1, -1, -30), ("2025-04-05", "2025-04-05", 2, 1, 2, 80)]
    # Counts as integers: a sum of integers is stored as a double otherwise, and RFM's tiles
    # (`total // 5`) divide doubles exactly (1,232,891 customers: 246,578.2 a tile).
    assert dict(con.execute("select column_name, column_type from (describe rfm_daily)"
                            ).fetchall())["customers"] == "BIGINT"
    assert_as_built_from_scratch(store, tmp_path / "fresh")


def test_an_upload_touching_most_customers_builds_them_whole(store_copy, tmp_path, incremental,
                                                             monkeypatch):
    """Past a quarter of the shop's customers (and TOUCHED_AT_MOST), customer by customer
    costs more than all at once."""
    monkeypatch.setattr("kpilib.store.customers.TOUCHED_AT_MOST", 0)
    f = tmp_path / "march.csv"
    f.write_text(TINY_ORDERS + "o9,2025-03-20 10:00:00,erin,email,paid,EUR,40,0\n")
    ingest(store_copy, [f])
    assert incremental[-1] == []
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh")
    monkeypatch.setattr("kpilib.store.customers.TOUCHED_AT_MOST", 10_000)   # 1 customer of 5: one by one
    f.write_text(TINY_ORDERS + "o10,2025-03-21 10:00:00,erin,email,paid,EUR,40,0\n")
    ingest(store_copy, [f])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)


@pytest.mark.parametrize("convention", ["excluded", "shopify"])
def test_an_appended_month_touching_most_customers_continues_their_histories(
        demo_store, tmp_path, incremental, monkeypatch, convention):
    """A month of orders alone after every stored one, touching more customers than are
    updated one by one otherwise: each touched customer's rows continue from their last
    stored row (CUSTOMER_ORDERS_CONTINUED), whatever their number, and every rollup is as a
    build from scratch gives. The month has customers with one, two and three orders in it
    (a second-previous day from the stored history or from the month), two orders at the
    same time, cancelled ones (a sale returned under Shopify's convention), customers new to
    the shop, and an order a stored refund already names (uploaded before its order)."""
    import shutil

    monkeypatch.setattr("kpilib.store.customers.TOUCHED_AT_MOST", 0)
    shutil.copytree(demo_store.path, tmp_path / "store")
    store = Store(tmp_path / "store")
    store.update_settings({"cancelled_orders": convention})
    refund = tmp_path / "refund.csv"
    refund.write_text("refund_id,order_id,refunded_at,amount\n"
                      "RX1,N0000001,2026-11-02 12:00:00,7.50\n")
    ingest(store, [refund])
    con = store.connect()
    customers = con.sql("select count(*) from customer_first").fetchall()[0][0]
    # Every customer's last order again in November (new ids), a third of them twice, a
    # ninth three times (the copies later the same day, one at the very same time).
    nov = con.sql("""
        with last as (select * from orders where customer_id is not null
                      qualify row_number() over (partition by customer_id
                                                 order by ordered_at desc, order_id) = 1)
        select 'N' || lpad((row_number() over (order by order_id, c))::varchar, 7, '0')
                   as order_id,
               timestamp '2026-11-01 08:00' + to_days((hash(order_id) % 28)::int)
                   + to_minutes((hash(order_id) % 600)::int + c * 60) as ordered_at,
               customer_id, channel, status, currency, gross_sales + c as gross_sales,
               discounts
        from last, range(3) t(c)
        where c = 0 or (c = 1 and hash(order_id) % 3 = 0) or (c = 2 and hash(order_id) % 9 = 0)
        order by order_id, c""").df()
    nov.loc[nov.index[-1], "ordered_at"] = nov.loc[nov.index[-2], "ordered_at"]
    nov.loc[0:9, "customer_id"] = [f"C0001{i:03d}" for i in range(10)]   # new, between ids
    nov.loc[10:30, "status"] = "cancelled"
    assert nov.customer_id.nunique() > customers / 4
    before = {n: dict(store.manifest["rollups"][n]) for n in CUSTOMER_ROLLUPS}
    orders = tmp_path / "nov.csv"
    nov.to_csv(orders, index=False)
    ingest(store, [orders])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)   # not built whole
    after = store.manifest["rollups"]
    for name in ("customer_orders", "customer_orders_daily", "rfm_daily"):
        assert {m: p for m, p in after[name].items() if m < "2026-11"} == before[name], name
    assert_as_built_from_scratch(store, tmp_path / "fresh")
    # The refund stored before its order is in that order's customer's running sums.
    assert stored_rollups(store).sql("""
        select refunded from (select order_id, cum_refunded - lag(cum_refunded, 1, 0)
                                     over (partition by customer_no order by nth) as refunded
                              from customer_orders)
        where order_id = 'N0000001'""").fetchall() == [(7.5,)]


def test_new_customers_are_numbered_from_the_ends_of_the_months_apart_from_them(
        tmp_path, incremental, monkeypatch):
    """January: ann, bea, cat; March: dan, dee, eve (numbered 1 to 6 steps, S = 2^32, in id
    order by the first build). Each month of customer_first keeps its range of ids and their
    numbers in the manifest. April brings cy, whose id lies above January's range and below
    March's: neither month is read, their ends (ann, cat; dan, eve) give its neighbours,
    cat (3 S) and dan (4 S): cy = 3 S + (4 S − 3 S) · 1 // 2 = 3.5 S. May brings bex (between
    bea, 2 S, and cat, 3 S: 2.5 S) and zed (after eve, 6 S: 6 S + 1 step = 7 S); ids from
    bex to zed meet every month, so all are read."""
    from kpilib.store import _Customers

    S = 1 << 32
    near: list[int] = []
    neighbours = _Customers._neighbours

    def counted(self, con, entry):
        neighbours(self, con, entry)
        near.append(con.execute("select count(*) from _near").fetchall()[0][0])

    monkeypatch.setattr(_Customers, "_neighbours", counted)
    store = Store(tmp_path / "store")
    f = tmp_path / "orders.csv"
    f.write_text(TINY_ORDERS + "".join(
        f"o{i},2025-{month}-0{i % 3 + 2} 10:00:00,{c},web,paid,EUR,10,0\n"
        for i, (month, c) in enumerate([("01", "ann"), ("01", "bea"), ("01", "cat"),
                                        ("03", "dan"), ("03", "dee"), ("03", "eve")])))
    ingest(store, [f])
    first = store.manifest["rollups"]["customer_first"]
    assert first["2025-01"]["ids"] == ["ann", "cat", 1 * S, 3 * S]
    assert first["2025-03"]["ids"] == ["dan", "eve", 4 * S, 6 * S]

    f.write_text(TINY_ORDERS + "o7,2025-04-02 10:00:00,cy,web,paid,EUR,10,0\n")
    ingest(store, [f])
    assert set(incremental[-1]) == set(CUSTOMER_ROLLUPS)
    assert near == [4]   # the ends of January and March, none of their rows read
    assert store.manifest["rollups"]["customer_first"]["2025-04"]["ids"] == [
        "cy", "cy", 3 * S + S // 2, 3 * S + S // 2]

    f.write_text(TINY_ORDERS + "o8,2025-05-02 10:00:00,bex,web,paid,EUR,10,0\n"
                               "o9,2025-05-03 10:00:00,zed,web,paid,EUR,10,0\n")
    ingest(store, [f])
    assert near == [4, 7]   # every stored customer
    numbers = dict(store.connect().execute("select customer_id, customer_no from customer_first"
                                           ).fetchall())
    assert numbers == {"ann": S, "bea": 2 * S, "bex": 2 * S + S // 2, "cat": 3 * S,
                       "cy": 3 * S + S // 2, "dan": 4 * S, "dee": 5 * S, "eve": 6 * S,
                       "zed": 7 * S}
    assert_as_built_from_scratch(store, tmp_path / "fresh")
    store.undo()
    store.undo()
    assert "2025-04" not in store.manifest["rollups"]["customer_first"]
    assert_as_built_from_scratch(store, tmp_path / "fresh2")


def test_a_store_written_before_the_ranges_of_ids_gets_them(tmp_path):
    """A store whose customer_first months lack their range of ids (written by an older
    version) gets them when its rollups are checked (Store.refresh_rollups, the app's first
    page), without a new version: no data changed."""
    store = Store(tmp_path / "store")
    f = tmp_path / "orders.csv"
    f.write_text(TINY_ORDERS + "o1,2025-01-02 10:00:00,ann,web,paid,EUR,10,0\n"
                               "o2,2025-01-03 10:00:00,bob,web,paid,EUR,10,0\n")
    ingest(store, [f])
    m = store.manifest
    del m["rollups"]["customer_first"]["2025-01"]["ids"]
    store._commit(m)
    assert store.refresh_rollups() is False
    after = store.manifest
    assert after["rollups"]["customer_first"]["2025-01"]["ids"] == ["ann", "bob", 1 << 32,
                                                                    2 << 32]
    assert after["version"] == m["version"]


def test_an_undo_puts_back_the_rollups_the_upload_replaced(store_copy, tmp_path, restored):
    """The upload keeps the rollups' entries it replaced, and their files: its undo puts them
    back as they were (the same files), unless a rollup was built again since (a refresh
    after a new definition, here February's rollups rebuilt): then they are built."""
    before = store_copy.manifest["rollups"]
    f = tmp_path / "feb.csv"
    f.write_text(TINY_ORDERS + "o6,2025-02-12 20:00:00,bob,email,paid,EUR,45,0\n"
                               "o9,2025-04-14 10:00:00,erin,email,paid,EUR,10,0\n")
    ingest(store_copy, [f])
    assert store_copy.manifest["rollups"] != before
    store_copy.undo()
    assert restored == [True]
    assert store_copy.manifest["rollups"] == before
    assert all((store_copy.path / p["file"]).exists()
               for parts in before.values() for p in parts.values())
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh")

    ingest(store_copy, [f])
    store_copy._commit_rollups(store_copy.manifest, {"orders": {"2025-02"}})
    store_copy.undo()
    assert restored == [True, False]
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh2")


def test_the_rollups_an_upload_replaced_go_when_it_can_no_longer_be_undone(store_copy,
                                                                           tmp_path):
    """Past the last ``undo_uploads`` uploads, an upload's record no longer keeps the
    rollups it replaced, and their files go."""
    store_copy.update_settings({"undo_uploads": 1})
    f = tmp_path / "orders.csv"
    f.write_text(TINY_ORDERS + "o9,2025-04-14 10:00:00,erin,email,paid,EUR,10,0\n")
    ingest(store_copy, [f])
    kept = {p["file"] for parts in store_copy.manifest["ingests"][-1]["rollups_before"].values()
            for p in parts.values()}
    assert kept and all((store_copy.path / k).exists() for k in kept)
    f.write_text(TINY_ORDERS + "o10,2025-04-15 10:00:00,erin,email,paid,EUR,10,0\n")
    ingest(store_copy, [f])
    assert "rollups_before" not in store_copy.manifest["ingests"][-2]
    stored = {p["file"] for parts in store_copy.manifest["rollups"].values()
              for p in parts.values()}
    assert not any((store_copy.path / k).exists() for k in kept - stored)


def test_product_names_follow_an_appended_month_from_that_month(store_copy, tmp_path,
                                                               monkeypatch):
    """The tiny shop (January to March). April's lines rename SKU-A ("Linen shirt II") and
    bring SKU-G: product_names is built from April's month of product_monthly and its stored
    rows (April is after every stored month), SKU-B keeps March's name. A restated February
    (SKU-C renamed there) is older than March: built whole."""
    from kpilib.store import Store as S

    appended: list[str] = []
    original = S._appended

    def spy(self, con, name, *args):
        done = original(self, con, name, *args)
        if done:
            appended.append(name)
        return done

    monkeypatch.setattr(S, "_appended", spy)
    orders, lines = tmp_path / "orders.csv", tmp_path / "order_items.csv"
    orders.write_text(TINY_ORDERS + "o9,2025-04-14 10:00:00,erin,email,paid,EUR,90,0\n")
    lines.write_text("order_id,line,sku,quantity,unit_price,product_name,category\n"
                     "o9,1,SKU-A,1,50.00,Linen shirt II,Tops\n"
                     "o9,2,SKU-G,1,40.00,Wool scarf,Accessories\n")
    ingest(store_copy, [orders, lines])
    assert appended == ["product_names"]
    names = dict(store_copy.connect().execute(
        "select sku, product_name from product_names").fetchall())
    assert (names["SKU-A"], names["SKU-G"], names["SKU-B"]) == (
        "Linen shirt II", "Wool scarf", "Canvas bag XL")
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh")

    orders.write_text(TINY_ORDERS + "o6,2025-02-12 20:00:00,bob,email,refunded,EUR,30,0\n")
    lines.write_text("order_id,line,sku,quantity,unit_price,product_name,category\n"
                     "o6,1,SKU-C,1,30.00,Cotton socks (pair),Accessories\n")
    ingest(store_copy, [orders, lines])
    assert appended == ["product_names"]
    assert_as_built_from_scratch(store_copy, tmp_path / "fresh2")


@pytest.mark.parametrize("convention", ["excluded", "shopify"])
def test_orders_no_refund_names_keep_the_refund_rollups_files(demo_store, tmp_path, convention):
    """A month of orders appended, none refunded yet, one cancelled: under the default
    convention no row of valid_refunds or refund_lines is about those orders, so their files
    are kept (not rewritten); under Shopify's the cancelled order is a refund of its own, and
    both are rewritten with it. Either way they equal a build from scratch."""
    import shutil

    shutil.copytree(demo_store.path, tmp_path / "store")
    store = Store(tmp_path / "store")
    store.update_settings({"cancelled_orders": convention})
    con = store.connect()
    last = con.sql("select max(day) from orders").fetchall()[0][0]
    new = con.sql(f"""
        select 'n' || order_id as order_id, ordered_at + interval 40 day as ordered_at,
               customer_id, channel, status, currency, gross_sales, discounts
        from orders where day > date '{last}' - 10 and status <> 'cancelled'
        order by order_id limit 20""").df()
    new.loc[0, "status"] = "cancelled"
    orders = tmp_path / "orders.csv"
    new.to_csv(orders, index=False)
    files = {n: dict(store.manifest["rollups"][n]) for n in ("valid_refunds", "refund_lines")}
    ingest(store, [orders])
    after = store.manifest["rollups"]
    for name, before in files.items():
        assert (after[name] == before) == (convention == "excluded"), name
    assert_as_built_from_scratch(store, tmp_path / "fresh")
