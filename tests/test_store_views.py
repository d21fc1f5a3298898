"""kpilib/store/views.py: what each view and rollup reads follows from its SQL."""
import re

from kpilib import store as st
from kpilib.rollups import ROLLUPS
from kpilib.schema import TABLES
from kpilib.store.builds import BY_ORDER, stale
from kpilib.store.customers import SUMS_READ
from kpilib.store.views import _BODIES, NARROWED, READS, _closure


def reached(name: str) -> set[str]:
    """The stored tables ``name``'s SQL reaches through every view and rollup it names."""
    return {n[1:] for n in _closure(_BODIES[name]) if n[1:] in TABLES and n.startswith("_")}


def test_the_intended_narrowings():
    """Each table a view reaches but does not read, and why: reviewed here, so that a new one
    is a decision, not a slip."""
    assert {name: table for name, (table, _, _) in NARROWED.items()} == {
        # sku_sales_daily sums sales_lines' quantities and values; products only names and
        # categorises the lines.
        "sku_sales_daily": "products",
        # customer_orders_daily counts orders by previous order days; refunds only reach
        # customer_orders' cum_refunded.
        "customer_orders_daily": "refunds",
        # second_orders reads the day of customers' second orders (customer_orders' rank 2),
        # not what was refunded on them.
        "second_orders": "refunds",
        "second_orders_daily": "refunds",
    }


def test_a_narrowing_leaves_out_what_the_sql_reaches_and_never_names_its_columns():
    for name, (table, columns, why) in NARROWED.items():
        assert table in reached(name), f"{name} no longer reaches {table}: drop the narrowing"
        assert table not in READS[name] and why
        words = set(re.findall(r"\b\w+\b", _BODIES[name]))
        assert not words & set(columns), (name, words & set(columns))


def test_reads_are_the_sql_less_the_narrowings():
    """READS of every view and rollup is what its SQL reaches, less the tables narrowed on the
    way (on it, or a view it reads): never a table its SQL cannot reach, and never one lost
    but by a narrowing."""
    for name in _BODIES:
        narrowed = {NARROWED[n][0] for n in _closure(_BODIES[name]) | {name} if n in NARROWED}
        assert READS[name] <= reached(name), name
        assert reached(name) - READS[name] <= narrowed, (name, reached(name) - READS[name])
    # Hand-counted, as the rows of kpilib/rollups.py's SQL give them:
    # stock_lost_monthly: sku_month (orders, order_items, inventory; products narrowed away
    # at sku_sales_daily) and sku_info (inventory, order_items, products).
    assert READS["stock_lost_monthly"] == {"orders", "order_items", "inventory", "products"}
    assert READS["sku_cum"] == {"orders", "order_items", "inventory"}
    assert READS["customer_orders"] == {"orders", "refunds"}
    assert READS["customer_orders_daily"] == {"orders"}
    assert READS["marketing_spend"] == {"marketing_spend"}


def test_an_upload_makes_stale_the_rollups_reading_its_tables():
    # A products upload: every rollup reading product names or categories, whole (products
    # is in no rollup's by_month); none of the SKU sums (narrowed) nor the customers'.
    got = stale({"products": {"all"}})
    assert set(got) == {n for n in ROLLUPS if "products" in READS[n]}
    assert {"sales_lines", "sku_info", "stock_lost_monthly"} <= set(got)
    assert not {"sku_sales_daily", "sku_cum", "customer_orders"} & set(got)
    assert set(got.values()) == {None}
    # A month of orders: orders_daily by that month, customer_first whole.
    got = stale({"orders": {"2025-02"}})
    assert got["orders_daily"] == {"2025-02"} and got["customer_first"] is None


def test_the_hand_lists_of_the_builds_agree_with_the_sql():
    """A rollup's by_month tables, and BY_ORDER's, are tables it reads; SUMS_READ names every
    column of customer_orders its daily sum's SQL reads."""
    for name, rollup in ROLLUPS.items():
        assert rollup.by_month <= READS[name], name
    for name, tables in BY_ORDER.items():
        assert tables <= READS[name], name
    columns = {"order_id", "customer_no", "day", "channel", "n", "gross_sales", "discounts",
               "prev_day", "prev2_day", "nth", "cum_net", "cum_refunded", "prev_value"}
    for name, read in SUMS_READ.items():
        named = set(re.findall(r"\b\w+\b", ROLLUPS[name].sql)) & columns
        assert named == set(re.findall(r"\w+", read)), name


def test_a_rollup_is_redefined_when_a_table_it_reads_gains_a_column(monkeypatch):
    """valid_refunds keeps every column of refunds: stored before refunds had shipping and
    tax, it lacks them, so a new column makes it another definition."""
    from dataclasses import replace

    before = st.definition("valid_refunds"), st.definition("customer_first")
    fewer = replace(TABLES["refunds"], columns=TABLES["refunds"].columns[:-1])
    monkeypatch.setitem(TABLES, "refunds", fewer)
    st.definition.cache_clear()
    try:
        assert st.definition("valid_refunds") != before[0]
        assert st.definition("customer_first") == before[1]   # reads no refunds
    finally:
        monkeypatch.undo()
        st.definition.cache_clear()


def test_the_exports_a_kpi_needs_are_tables_its_sql_reads():
    """A KPI's `needs` (kpilib.caveats) narrows the tables its SQL reads to those without
    which it means nothing; it never names one the SQL does not read."""
    from kpilib import KPIS

    for kpi in KPIS.values():
        if kpi.needs is not None:
            assert set(kpi.needs) <= st.tables_read(kpi.sql + kpi.base), kpi.name
    # Stock on hand is read beside the SKUs' sales (sku_cum, sku_running…: orders and their
    # lines) and names (sku_info: products), and means something with the snapshots alone.
    assert KPIS["on_hand"].needs == ("inventory",)
    assert st.tables_read(KPIS["on_hand"].sql + KPIS["on_hand"].base) == {
        "inventory", "order_items", "orders", "products"}
