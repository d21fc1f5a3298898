"""Stock KPIs on a hand-made shop of four SKUs over 1–10 February 2025.

X: daily snapshots 5 4 3 0 0 0 4 3 2 1 (out of stock 4–6 Feb), sells 1 unit at 20 on each of its
   7 in-stock days (1–3 Feb by email, 7–10 Feb direct); a cancelled order on 4 Feb does not count.
Y: weekly snapshots (10 on 1 and 8 Feb), never sells: dead stock.
Z: weekly snapshots 0 (1 Feb) and 6 (8 Feb): out of stock 1–7 Feb, sells 2 at 50 on 9 Feb.
W: 3 on 1 Feb, −2 on 10 Feb (oversold): no cover, counts as 0 on hand.
Costs: X 8, Y 4, Z 20, W 5.
"""
from datetime import date

import numpy as np
import pytest

from helpers import check
from kpilib import Filters, Store, get, run
from kpilib.ingest import ingest

F = Filters(date(2025, 2, 1), date(2025, 2, 10))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    d = tmp_path_factory.mktemp("stock")
    x_days = [1, 2, 3, 7, 8, 9, 10]
    orders = ["order_id,ordered_at,channel,status,gross_sales,discounts"]
    items = ["order_id,line,sku,quantity,unit_price"]
    for day in x_days:
        orders.append(f"x{day},2025-02-{day:02d} 12:00,{'email' if day <= 3 else 'direct'},"
                      "paid,20,0")
        items.append(f"x{day},1,X,1,20")
    orders += ["z9,2025-02-09 12:00,direct,paid,100,0", "c4,2025-02-04 12:00,email,cancelled,20,0"]
    items += ["z9,1,Z,2,50", "c4,1,X,1,20"]
    stock = ["date,sku,on_hand"]
    stock += [f"2025-02-{i + 1:02d},X,{v}" for i, v in enumerate([5, 4, 3, 0, 0, 0, 4, 3, 2, 1])]
    stock += ["2025-02-01,Y,10", "2025-02-08,Y,10", "2025-02-01,Z,0", "2025-02-08,Z,6",
              "2025-02-01,W,3", "2025-02-10,W,-2"]
    products = ["sku,product_name,category,unit_cost,price", "X,Shirt,Tops,8,20",
                "Y,Hat,Accessories,4,15", "Z,Boots,Shoes,20,50", "W,Belt,Accessories,5,"]
    for name, lines in {"orders": orders, "order_items": items, "inventory": stock,
                        "products": products}.items():
        (d / f"{name}.csv").write_text("\n".join(lines) + "\n")
    store = Store(d / "store")
    ingest(store, sorted(d.glob("*.csv")))
    return store


CASES = [
    ("on_hand", F, 17),                          # 1 + 10 + 6 + 0 (W is −2)
    ("stock_value", F, 168),                     # 1×8 + 10×4 + 6×20
    ("units_sold", F, 9),                        # X 7 + Z 2; the cancelled order is out
    ("avg_daily_units", F, 9 / 30),              # 30 days to 10 Feb
    ("days_of_cover", F, 17 / (9 / 30)),
    ("sell_through_rate", F, 9 / 26),            # 9 / (9 + 17)
    ("stockout_sku_days", F, 11),                # X 3, Z 7 (carried forward), W 1
    ("stockout_rate", F, 11 / 40),               # 4 SKUs × 10 days
    ("dead_stock", F, 1),                        # Y
    ("dead_stock_value", F, 40),                 # 10 × 4
    ("lost_revenue_stockout", F, 60 + 2 / 3 * 7 * 50),   # X 1/day × 3 × 20; Z 2/3 × 7 × 50
    # Email sold X on 3 of its 7 in-stock days and never sold Z: 3/7 × 3 × 20.
    ("lost_revenue_stockout", Filters(F.start, F.end, ("email",)), 3 / 7 * 3 * 20),
    ("snapshot_interval_days", F, 1),
]


@pytest.mark.parametrize("name,f,expected", CASES)
def test_stock_by_hand(shop, name, f, expected):
    check(run(shop.connect(), get(name), f)["value"].iat[0], expected)


def test_stock_by_sku(shop):
    t = run(shop.connect(), get("stock_by_sku"), F).set_index("sku")
    assert t.index.tolist() == ["W", "X", "Z", "Y"]          # lowest cover first; none last
    check(t.loc["X", "days_of_cover"], 1 / (7 / 30))
    assert t.loc["W", "days_of_cover"] == 0                    # negative stock: 0, not negative
    assert t["days_of_cover"].isna()["Y"]                      # no sales: no cover value
    assert t["dead"].to_dict() == {"W": False, "X": False, "Z": False, "Y": True}
    # ABC on revenue: X 140 (58 % → A), Z 100 (cumulative 100 % → C), unsold → C
    assert t["abc_class"].to_dict() == {"W": "C", "X": "A", "Z": "C", "Y": "C"}
    # Stock days in the period: X out 4–6 Feb, Z 1–7 Feb (carried forward), W on 10 Feb.
    assert t["oos_days"].to_dict() == {"W": 1, "X": 3, "Z": 7, "Y": 0}
    assert t["sku_days"].to_dict() == {"W": 10, "X": 10, "Z": 10, "Y": 10}


def test_a_sku_sold_before_its_first_snapshot_has_no_stock_days(tmp_path):
    # V sells 2 on 15 January; its first snapshot is on 1 February.
    files = {"orders": "order_id,ordered_at,channel,status,gross_sales,discounts\n"
                       "v1,2025-01-15 12:00,email,paid,30,0\n",
             "order_items": "order_id,line,sku,quantity,unit_price\nv1,1,V,2,15\n",
             "inventory": "date,sku,on_hand\n2025-02-01,V,4\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    store = Store(tmp_path / "store")
    ingest(store, sorted(tmp_path.glob("*.csv")))
    t = run(store.connect(), get("stock_by_sku"), Filters(date(2025, 1, 1), date(2025, 1, 31)))
    assert t["units_sold"].tolist() == [2]
    # Unknown, not 0 days out of stock (and so no revenue lost).
    assert t["sku_days"].isna().all() and t["oos_days"].isna().all(), t
    assert t["lost_revenue"].isna().all(), t


def test_the_pages_sku_lists(shop):
    """The three lists the page shows, each a few rows of its own query."""
    con = shop.connect()
    reorder = run(con, get("reorder_skus"), F)
    # X: 1 on hand ÷ 7/30 a day = 4.3 days; Z: 6 ÷ 2/30 = 90 days; W and Y never sold.
    assert reorder["sku"].tolist() == ["X", "Z"]
    check(reorder["days_of_cover"].iat[0], 1 / (7 / 30))
    dead = run(con, get("dead_stock_skus"), F)
    assert dead[["sku", "on_hand"]].values.tolist() == [["Y", 10]]
    check(dead["stock_value"].iat[0], 40)                          # 10 × 4
    lost = run(con, get("lost_revenue_skus"), F)
    # Z: 2 units ÷ 3 in-stock days × 7 out-of-stock days × 50; X: 1 × 3 × 20.
    assert lost["sku"].tolist() == ["Z", "X"]
    check(lost["lost_revenue"].iat[0], 2 / 3 * 7 * 50)
    check(lost["lost_revenue"].iat[1], 60)
    assert run(con, get("lost_revenue_skus"), F, limit=1)["sku"].tolist() == ["Z"]
    # Email: X alone sold (1–3 Feb), and lost 3/7 × 3 × 20.
    email = run(con, get("lost_revenue_skus"), Filters(F.start, F.end, ("email",)))
    assert email["sku"].tolist() == ["X"]


@pytest.mark.parametrize("f", [Filters(date(2026, 8, 17), date(2026, 10, 9)),
                               Filters(date(2026, 10, 3), date(2026, 10, 17), ("email",))],
                         ids=lambda f: f"{f.start}..{f.end}{f.channels}")
def test_the_sku_lists_are_the_sku_table_filtered_and_sorted(demo_store, f):
    con = demo_store.connect()
    t = run(con, get("stock_by_sku"), f)
    sold = t[t.units_sold + t.avg_daily_units > 0]
    want = sold.sort_values(["days_of_cover", "sku"], na_position="last").sku.head(20).tolist()
    assert run(con, get("reorder_skus"), f, limit=20)["sku"].tolist() == want
    dead = t[t.dead].sort_values(["stock_value", "sku"], ascending=[False, True])
    assert run(con, get("dead_stock_skus"), f)["sku"].tolist() == dead.sku.tolist()
    lost = t[t.lost_revenue > 0].sort_values(["lost_revenue", "sku"], ascending=[False, True])
    got = run(con, get("lost_revenue_skus"), f)
    assert got["sku"].tolist() == lost.sku.tolist() and len(got) > 0
    assert np.allclose(got["lost_revenue"], lost.lost_revenue, rtol=1e-12)


def test_abc_classes(shop):
    t = run(shop.connect(), get("abc_classes"), F)
    assert t[["abc_class", "skus"]].values.tolist() == [["A", 1], ["C", 3]]


def test_category_filter_and_search(shop):
    acc = Filters(F.start, F.end, categories=("Accessories",))
    check(run(shop.connect(), get("on_hand"), acc)["value"].iat[0], 10)        # Y; W is −2
    boots = Filters(F.start, F.end, search="boot")
    check(run(shop.connect(), get("stockout_sku_days"), boots)["value"].iat[0], 7)


def test_stockouts_by_day(shop):
    t = run(shop.connect(), get("stockout_sku_days"), F, "day").set_index("period")["value"]
    assert t[date(2025, 2, 4)] == 2 and t[date(2025, 2, 8)] == 0 and t[date(2025, 2, 10)] == 1


def test_single_snapshot_dated_by_file_name_or_upload(tmp_path):
    from kpilib.ingest import IngestError
    f = tmp_path / "stock_2025-03-31.csv"
    f.write_text("SKU,Available\nA,4\nB,0\n")
    store = Store(tmp_path / "s")
    [r] = ingest(store, [f])
    assert r.fmt == "stock snapshot"
    assert store.connect().execute("select date::varchar, sku, on_hand from inventory order by 2"
                                   ).fetchall() == [("2025-03-31", "A", 4), ("2025-03-31", "B", 0)]
    g = tmp_path / "stock.csv"
    g.write_text("SKU,Available\nA,5\n")
    with pytest.raises(IngestError, match="give the snapshot date"):
        ingest(store, [g])
    ingest(store, [g], snapshot_date="2025-04-07")
    assert store.connect().execute("select count(*) from inventory").fetchall() == [(3,)]


def test_whole_months_read_as_the_days(shop):
    """All of February reads the monthly rollups, 1–10 February the daily rows: the shop has no
    data after the 10th, so every figure is the same (the 30 and 90 days before the 28th hold
    every sale too)."""
    con = shop.connect()
    month = Filters(date(2025, 2, 1), date(2025, 2, 28))
    for name, f, expected in CASES:
        if f == F and name != "stockout_rate":   # 40 SKU-days in 1–10 Feb, still 40 to the 28th
            check(run(con, get(name), month)["value"].iat[0], expected)


# --- against pandas on the demo shop ---------------------------------------------------------
# Whole months, months with partial edges, one partial month, one day; with and without a
# channel (sales and prices are the channel's, stock is not).
PANDAS_CASES = [Filters(date(2026, 9, 1), date(2026, 10, 31)),
                Filters(date(2026, 8, 17), date(2026, 10, 9)),
                Filters(date(2026, 10, 3), date(2026, 10, 17), ("email",)),
                Filters(date(2025, 11, 1), date(2026, 10, 31), ("paid_search", "direct")),
                Filters(date(2026, 6, 30), date(2026, 6, 30)),
                # Exactly the last 30 days, and 90: the 30- and 90-day sums are the period's.
                Filters(date(2026, 10, 2), date(2026, 10, 31)),
                Filters(date(2026, 7, 3), date(2026, 9, 30))]


@pytest.mark.parametrize("f", PANDAS_CASES, ids=lambda f: f"{f.start}..{f.end}{f.channels}")
def test_stock_kpis_match_pandas(demo_store, demo_shop, f):
    import pandas as pd
    start, end = pd.Timestamp(f.start), pd.Timestamp(f.end)
    inv = demo_shop.inventory.assign(day=lambda d: pd.to_datetime(d.date))
    assert inv.groupby("sku").day.diff().dropna().eq(pd.Timedelta(days=1)).all()   # daily
    in_range = inv[(inv.day >= start) & (inv.day <= end)]
    at_end = inv[inv.day <= end].sort_values("day").groupby("sku").on_hand.last()
    v = demo_shop.orders[demo_shop.orders.status != "cancelled"]
    if f.channels:
        v = v[v.channel.isin(f.channels)]
    lines = demo_shop.order_items.merge(v[["order_id"]], on="order_id")
    lines["day"] = pd.to_datetime(lines.ordered_at).dt.normalize()
    sold = lines[(lines.day >= start) & (lines.day <= end)]
    last30 = lines[(lines.day > end - pd.Timedelta(days=30)) & (lines.day <= end)]
    con = demo_store.connect()
    value = lambda n: run(con, get(n), f)["value"].iat[0]  # noqa: E731
    on_hand = at_end.clip(lower=0).sum()
    assert value("on_hand") == on_hand
    assert value("units_sold") == sold.quantity.sum()
    check(value("avg_daily_units"), last30.quantity.sum() / 30)
    check(value("sell_through_rate"), sold.quantity.sum() / (sold.quantity.sum() + on_hand))
    assert value("stockout_sku_days") == (in_range.on_hand <= 0).sum()
    check(value("stockout_rate"), (in_range.on_hand <= 0).mean())
    last90 = lines[(lines.day > end - pd.Timedelta(days=90)) & (lines.day <= end)].sku.unique()
    assert value("dead_stock") == ((at_end > 0) & ~at_end.index.isin(last90)).sum()
    # Lost revenue, SKU by SKU.
    daily = sold.groupby(["sku", "day"]).quantity.sum()
    lost = 0.0
    for sku, g in in_range.groupby("sku"):
        in_stock = g[g.on_hand > 0]
        units = sum(daily.get((sku, d), 0) for d in in_stock.day)
        s = sold[sold.sku == sku]
        price = (s.quantity * s.unit_price).sum() / s.quantity.sum() if len(s) else None
        if len(in_stock) and price is not None:
            lost += units / len(in_stock) * (g.on_hand <= 0).sum() * price
    check(round(value("lost_revenue_stockout"), 6), round(lost, 6))


def test_shared_per_sku_step(shop):
    """The per-SKU step is computed once per filters on a connection and shared by the stock
    KPIs; the oldest are dropped, and a dropped one is computed again, not read stale."""
    from datetime import timedelta

    from kpilib.kpi import KEEP_BASES, clear_bases
    con = shop.connect()
    bases = lambda: con.execute("select count(*) from duckdb_tables() "  # noqa: E731
                                "where table_name like '\\_base\\_%' escape '\\'").fetchall()[0][0]
    check(run(con, get("on_hand"), F)["value"].iat[0], 17)
    check(run(con, get("stock_value"), F)["value"].iat[0], 168)           # same step
    assert bases() == 1
    for i in range(KEEP_BASES + 2):                                       # 1–(1+i) Feb
        run(con, get("units_sold"), Filters(F.start, F.start + timedelta(days=i)))
    assert bases() == KEEP_BASES
    check(run(con, get("on_hand"), F)["value"].iat[0], 17)                # computed again
    check(run(con, get("units_sold"), Filters(F.start, F.start))["value"].iat[0], 1)
    clear_bases(con)
    assert bases() == 0


def test_a_shared_step_dropped_under_a_query_is_computed_again(shop):
    """Sessions share one connection: another session's filters may evict a step between its
    creation and the query that reads it. The query computes it again instead of failing."""
    import kpilib.kpi as kpi_module
    con = shop.connect()
    real = kpi_module._base

    def evicted(con_, sql, filters):
        name = real(con_, sql, filters)
        kpi_module.clear_bases(con_)          # gone before the KPI's own query runs
        kpi_module._base = real               # the retry computes it normally
        return name
    kpi_module._base = evicted
    try:
        check(run(con, get("on_hand"), F)["value"].iat[0], 17)
    finally:
        kpi_module._base = real


def test_prepare_computes_the_period_and_the_previous_one_for_the_cards(shop, monkeypatch):
    """kpilib.prepare computes a KPI's shared step under several filters at once; the KPIs
    then read those tables (no step computed again) and give what they give without it."""
    import kpilib.kpi as kpi_module
    from kpilib import prepare
    con = shop.connect()
    before = F.previous_period()
    expected = [run(shop.connect(), get("on_hand"), f)["value"].iat[0] for f in (F, before)]
    made = []
    real = kpi_module.Filters.params
    monkeypatch.setattr(kpi_module.Filters, "params",
                        lambda self, sql: made.append(self) or real(self, sql))
    prepare(con, get("on_hand"), [F, before, F])
    assert sorted(made, key=str) == sorted([F, before], key=str)   # each once
    created = len(kpi_module._COMPUTED[con])
    got = [run(con, get("stock_value" if i else "on_hand"), f)["value"].iat[0]
           for i, f in enumerate((F, before))]
    assert len(kpi_module._COMPUTED[con]) == created == 2
    check(run(con, get("on_hand"), before)["value"].iat[0], expected[1])
    check(run(con, get("on_hand"), F)["value"].iat[0], expected[0])
    assert got[0] == expected[0]
    prepare(con, get("orders"), [F, before])          # no shared step: nothing to do
    assert len(kpi_module._COMPUTED[con]) == 2



def test_a_step_one_read_alone_uses_is_computed_within_it(shop):
    """kpilib.run_many stores a shared step only when several of its reads use it under the
    same filters: the stock page's period before, read by its row of cards alone, is computed
    within that query, with the figures run() gives from the stored step."""
    import kpilib.kpi as kpi_module
    from kpilib import Read, run_many
    before = F.previous_period()
    cards = tuple(map(get, ("on_hand", "stock_value", "days_of_cover", "sell_through_rate",
                            "dead_stock", "dead_stock_value", "lost_revenue_stockout")))
    stored = shop.connect()
    expected = [[run(stored, k, f) for k in cards] for f in (F, before)]
    expected.append([run(stored, get("reorder_skus"), F, limit=2)])
    con = shop.connect()
    got = run_many(con, [Read(cards, F), Read(cards, before),
                         Read((get("reorder_skus"),), F, limit=2)])
    # F's step, read twice, is stored (once); the period before's, read once, is not.
    assert set(kpi_module._COMPUTED[con]) == {kpi_module._base_name(cards[0].base, F)}
    for frames, want in zip(got, expected):
        for frame, w in zip(frames, want):
            assert frame.equals(w), (frame, w)
    check(got[1][0]["value"].iat[0], expected[1][0]["value"].iat[0])
    # The period before's cards by hand (21–31 Jan: no snapshot, no sale): nothing on hand.
    check(got[1][0]["value"].iat[0], 0)

def test_a_step_asked_for_twice_at_once_is_computed_once(shop, monkeypatch):
    """Two sessions asking for the same step at the same moment: the second waits for the
    first's table instead of computing it too (or racing to create it)."""
    import threading

    import kpilib.kpi as kpi_module
    con = shop.connect()
    started, release = threading.Event(), threading.Event()
    creates = []
    real_cursor = con.cursor

    class Slow:
        def __init__(self):
            self.cur = real_cursor()

        def execute(self, sql, params=None):
            if sql.startswith("create or replace table _base_"):
                creates.append(sql)
                started.set()
                release.wait(10)
            return self.cur.execute(sql, params)

        def close(self):
            self.cur.close()

    monkeypatch.setattr(kpi_module, "_COMPUTED", kpi_module.weakref.WeakKeyDictionary())

    class Con:   # the connection, its cursors slowed down (DuckDB's cannot be patched)
        cursor = staticmethod(Slow)
        execute = staticmethod(con.execute)

    wrapped = Con()
    names = []
    first = threading.Thread(target=lambda: names.append(
        kpi_module._base(wrapped, get("on_hand").base, F)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: names.append(
        kpi_module._base(wrapped, get("on_hand").base, F)))
    second.start()
    second.join(0.3)
    assert second.is_alive()                          # waiting for the first
    release.set()
    first.join(10), second.join(10)
    assert len(creates) == 1 and len(set(names)) == 1 and len(names) == 2
    check(con.execute(f"select sum(units_on_hand) from {names[0]}").fetchall()[0][0], 17)


def test_a_step_that_failed_is_computed_again(shop, monkeypatch):
    import kpilib.kpi as kpi_module
    con = shop.connect()
    monkeypatch.setattr(kpi_module.Filters, "params", lambda self, sql: {"nope": 1})
    with pytest.raises(Exception):
        kpi_module._base(con, get("on_hand").base, F)
    monkeypatch.undo()
    assert not kpi_module._COMPUTED.get(con)           # not left marked as there
    check(run(con, get("on_hand"), F)["value"].iat[0], 17)


def test_lost_revenue_by_month_by_hand(shop):
    # One month, 1–10 February: as lost_revenue_stockout (X 1/day × 3 × 20; Z 2/3 × 7 × 50).
    t = run(shop.connect(), get("lost_revenue_by_month"), F)
    assert [str(m)[:10] for m in t["month"]] == ["2025-02-01"]
    check(t["value"].iat[0], 60 + 2 / 3 * 7 * 50)


@pytest.mark.parametrize("f", PANDAS_CASES + [
    Filters(date(2026, 5, 3), date(2026, 10, 20), categories=("Tops",)),
    # One channel's whole months come from the rollup by month, category and channel.
    Filters(date(2026, 7, 1), date(2026, 9, 30), ("email",)),
    Filters(date(2026, 5, 3), date(2026, 10, 20), ("email",), categories=("Tops",))],
    ids=lambda f: f"{f.start}..{f.end}{f.channels}{f.categories}")
def test_lost_revenue_by_month_is_each_month_on_its_own(demo_store, f):
    """Each month's figure, in one pass, equals lost_revenue_stockout over that month (cut to
    the period): whole months from the monthly rollups, edge months from the running sums."""
    from dataclasses import replace
    from datetime import timedelta

    import pandas as pd
    con = demo_store.connect()
    t = run(con, get("lost_revenue_by_month"), f)
    months = pd.date_range(f.start.replace(day=1), f.end, freq="MS").date
    assert [pd.Timestamp(m).date() for m in t["month"]] == list(months)
    for m, v in zip(months, t["value"]):
        last = (m.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        one = replace(f, start=max(f.start, m), end=min(f.end, last))
        check(v, run(con, get("lost_revenue_stockout"), one)["value"].iat[0])


# --- the cards' figures of the period's end by hand: past the data, before it, one category ---
@pytest.mark.parametrize("f,expected", [
    # Ends past the last day of data (10 Feb): the stock of the 10th (X 1, Y 10, Z 6, W −2 → 0),
    # and the 90 days ending then. 10 May: from 10 Feb, which holds X's last sale (not dead);
    # Z's last (9 Feb) is out: Y and Z dead, 10 × 4 + 6 × 20 = 160.
    (Filters(date(2025, 4, 1), date(2025, 5, 10)),
     {"on_hand": 17, "stock_value": 168, "units_sold": 0, "avg_daily_units": 0,
      "days_of_cover": None, "sell_through_rate": 0, "dead_stock": 2, "dead_stock_value": 160}),
    # 9 May: from 9 Feb, Z's sale is in: Y alone.
    (Filters(date(2025, 4, 1), date(2025, 5, 9)), {"dead_stock": 1, "dead_stock_value": 40}),
    # 30 June: X, Y and Z dead, all their stock: 1 × 8 + 10 × 4 + 6 × 20.
    (Filters(date(2025, 6, 1), date(2025, 6, 30)), {"dead_stock": 3, "dead_stock_value": 168}),
    # Before the first snapshot: nothing on hand, worth 0 (the costs are known).
    (Filters(date(2025, 1, 1), date(2025, 1, 31)),
     {"on_hand": 0, "stock_value": 0, "dead_stock": 0, "dead_stock_value": 0, "units_sold": 0}),
    # Accessories (Y, W) on 1–10 Feb: 10 + 0 on hand, 10 × 4; Y dead.
    (Filters(F.start, F.end, categories=("Accessories",)),
     {"on_hand": 10, "stock_value": 40, "units_sold": 0, "dead_stock": 1,
      "dead_stock_value": 40, "sell_through_rate": 0}),
], ids=["10may", "9may", "30jun", "january", "accessories"])
def test_the_cards_at_ends_past_the_data_by_hand(shop, f, expected):
    con = shop.connect()
    for name, value in expected.items():
        got = run(con, get(name), f)["value"].iat[0]
        check(None if got != got else got, value)      # no value: NaN in the frame


def test_units_sold_are_never_negative():
    """Dead stock (no unit sold in the 90 days ending with the period) is read as no day with
    units sold in them (kpilib/stock.py: sku_cum's last day sold): a negative quantity could
    cancel a sale in a 90-day sum, not in a last day sold. Ingest refuses one."""
    from kpilib.schema import NON_NEGATIVE

    assert "quantity" in NON_NEGATIVE["order_items"]


def test_the_per_sku_step_reads_no_months_end_day_by_day(shop):
    """Each window of the per-SKU step reads sku_running on the day before its start and at
    the end only: a month's total is its row of sku_cum, not its last day's running total.
    5–10 Feb 2025: the period from 4 Feb, its 30 days (12 Jan–10 Feb) from 11 Jan; 31 Jan and
    30 Nov were read day by day too, and the 90 days (13 Nov–10 Feb) from 12 Nov: whether a
    SKU sold in them is its last day sold before February (sku_cum) and February's units."""
    from kpilib.stock import _points
    f = Filters(date(2025, 2, 5), date(2025, 2, 10))
    con = shop.connect()
    sql = f"select distinct day from ({_points()}) where source = 'run' and day is not null"
    days = {d for (d,) in con.execute(sql, f.params(sql)).fetchall()}
    assert days == {date(2025, 2, 4), date(2025, 1, 11), date(2025, 2, 10)}
    # The figures, by hand. Sold 5–10 Feb: X 1 a day on 7–10, Z 2 on the 9th.
    check(run(con, get("units_sold"), f)["value"].iat[0], 4 + 2)
    # X: 4 in-stock days (7–10), 4 units, 2 out (5, 6) at 20; Z: in stock 8–10, 2 units,
    # out 5–7 at 50; Y sold nothing, W has no price and no sale.
    check(run(con, get("lost_revenue_stockout"), f)["value"].iat[0],
          4 / 4 * 2 * 20 + 2 / 3 * 3 * 50)
    check(run(con, get("avg_daily_units"), f)["value"].iat[0], 9 / 30)   # every sale
