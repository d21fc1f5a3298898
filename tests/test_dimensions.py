"""kpilib.dimensions: every device, country and category filter applies to every KPI whose
sources carry the dimension (and is refused by the others), and the parts add up to the whole."""
import math
from dataclasses import replace
from datetime import date

import pytest

from conftest import TESTS
from helpers import both
from kpilib import KPIS, FilterNotApplicable, Filters, Store, get, run, script
from kpilib.dimensions import SOURCES, SPLITS
from kpilib.ingest import ingest
from kpilib.kpi import takes, uses_rollup

FEB = Filters(date(2025, 2, 1), date(2025, 2, 28))


@pytest.fixture(scope="module")
def split_store(tmp_path_factory) -> Store:
    """tests/data/split: five orders in February with a device and a country, their lines in
    three categories (one order without lines), two refunds, and traffic by device."""
    store = Store(tmp_path_factory.mktemp("split") / "store")
    ingest(store, sorted((TESTS / "data" / "split").glob("*.csv")))
    return store


def f(**kw) -> Filters:
    return replace(FEB, **kw)


# Valid orders a1, a2, a3, a5 (a4 is cancelled). Net sales: gross 100 + 60 + 80 + 40 = 280
# − discounts 10 + 8 = 18 − refunds 30 (r1, on a1) + 20 (r2, on a3) = 50 → 212.
#   by country: FR (a1, a2) 160 − 10 − 30 = 120; DE (a3, a5) 120 − 8 − 20 = 92.
#   by device: mobile (a1, a3) 180 − 18 − 50 = 112; desktop (a2, a5) 100 − 0 − 0 = 100.
#   by category, the lines' value − their share of the order's discount (by line value) − the
#   refunds spread over the lines they concern (r1 names no SKU: a1's lines by value; r2 names
#   S3, a3's mug):
#     Tops: a1's 70 (discount 10 × 70/100 = 7) + a3's 50 (8 × 50/80 = 5)
#           − r1's 30 × 70/100 = 21
#           → 120 − 12 − 21 = 87
#     Bags: a1's 30 (3) + a2's 60 (0) − r1's 30 × 30/100 = 9 → 90 − 3 − 9 = 78
#     Home: a3's 30 (8 × 30/80 = 3) − r2's 20 → 30 − 3 − 20 = 7
#     uncategorised: a5, whose lines are not stored: 40
#   87 + 78 + 7 + 40 = 212.
CASES = [
    ("net_sales", {}, 212),
    ("net_sales", {"countries": ("FR",)}, 120),
    ("net_sales", {"countries": ("DE",)}, 92),
    ("net_sales", {"devices": ("mobile",)}, 112),
    ("net_sales", {"devices": ("desktop",)}, 100),
    ("net_sales", {"categories": ("Tops",)}, 87),
    ("net_sales", {"categories": ("Bags",)}, 78),
    ("net_sales", {"categories": ("Home",)}, 7),
    ("net_sales", {"categories": ("uncategorised",)}, 40),
    ("net_sales", {"categories": ("Tops", "Bags")}, 87 + 78),
    # DE and Home: a3's mug alone, 30 − 3 − 20
    ("net_sales", {"countries": ("DE",), "categories": ("Home",)}, 7),
    # FR on mobile: a1, 100 − 10 − 30
    ("net_sales", {"countries": ("FR",), "devices": ("mobile",)}, 60),
    ("gross_sales", {"categories": ("Bags",)}, 90),
    ("discounts", {"categories": ("Home",)}, 3),
    ("returns", {"countries": ("FR",)}, 30),
    ("returns", {"devices": ("desktop",)}, 0),
    ("returns", {"categories": ("Tops",)}, 21),
    ("orders", {"countries": ("FR",)}, 2),
    ("orders", {"devices": ("desktop",)}, 2),      # a2, a5 (a4 cancelled)
    # (a3 80 − 8 + a5 40) / 2
    ("aov", {"countries": ("DE",)}, 56),
    # a1 2 units + a2 2 units over 2 orders
    ("units_per_order", {"countries": ("FR",)}, 2),
    # desktop: a2, a4, a5 placed, a4 cancelled
    ("cancellation_rate", {"devices": ("desktop",)}, 1 / 3),
    ("shipping", {"countries": ("FR",)}, 10),       # a1 5 + a2 5, none refunded
    # returns by order date: FR's a1 was refunded 30 of its gross 100 + a2's 60
    ("return_rate_value", {"countries": ("FR",)}, 30 / 160),
    ("return_rate_orders", {"devices": ("mobile",)}, 1.0),   # a1 and a3 both refunded
    ("sessions", {"devices": ("mobile",)}, 100 + 40),
    ("purchases", {"devices": ("desktop",)}, 4),
    ("conversion_rate", {"devices": ("mobile",)}, (5 + 2) / 140),
    # orders on mobile (a1, a3) ÷ mobile sessions
    ("blended_conversion_rate", {"devices": ("mobile",)}, None),
]


@pytest.mark.parametrize("name,kw,want", CASES)
def test_hand_counted_splits(split_store, name, kw, want):
    """Read from the daily rollups where they keep the dimension and from the rows: both the
    hand-counted figure."""
    got = both(split_store.connect(), name, f(**kw))["value"].iat[0]
    if want is None:   # blended conversion: the exports do not cover the whole month
        assert math.isnan(got)
        num = run(split_store.connect(), get(name), f(**kw))
        assert (num["numerator"].iat[0], num["denominator"].iat[0]) == (2, 140)
    else:
        assert math.isclose(got, want, abs_tol=1e-9), (got, want)


@pytest.mark.parametrize("name,kw", [
    ("sessions", {"countries": ("FR",)}), ("sessions", {"categories": ("Tops",)}),
    ("customers", {"devices": ("mobile",)}), ("spend", {"countries": ("FR",)}),
    ("orders", {"categories": ("Tops",)}), ("blended_conversion_rate", {"countries": ("FR",)}),
    ("fulfilment_days", {"countries": ("FR",)}), ("roas", {"devices": ("mobile",)}),
])
def test_a_kpi_whose_sources_lack_the_dimension_refuses_it(split_store, name, kw):
    dim = SPLITS[next(iter(kw))]
    with pytest.raises(FilterNotApplicable, match=rf"is not split by {dim}\.$"):
        run(split_store.connect(), get(name), f(**kw))


def test_device_filters_read_the_rollups_and_country_filters_the_rows(split_store):
    """The daily rollups keep the device, not the country: a country filter is answered from
    the rows (correct first), a device filter still from the rollups."""
    orders = get("orders")
    assert uses_rollup(orders, f(devices=("mobile",)))
    assert not uses_rollup(orders, f(countries=("FR",)))
    # Refunds' rollup keeps no device: net sales on mobile reads the rows.
    assert not uses_rollup(get("net_sales"), f(devices=("mobile",)))
    text = script(orders, f(countries=("FR",)))
    assert "in_filter(country, $countries)" in text and "-- $countries = ['FR']" in text
    assert "search_path" not in text
    # No split filter, no clause: the SQL of every other filter is as before.
    assert "country" not in script(orders, FEB) and "$devices" not in script(orders, FEB)


def test_grouped_by_product_or_category_the_goods_are_read_from_their_lines():
    """By product or category a source of goods reads its order lines, as under a category
    filter; by customer type (the order's), its own rows, with no join for the order's
    country."""
    lines = {"order_goods": "category_sales", "refunded_goods": "refund_goods",
             "valid_orders": "valid_orders"}
    for source, view in lines.items():
        for by in ("product", "category"):
            assert f().where(SOURCES[source], (by,))[0].startswith(f"{view} where "), \
                (source, by)
    assert f().where(SOURCES["refunded_goods"], ("customer_type",))[0].startswith(
        "valid_refunds where ")


# The KPIs whose value over a period is a sum, or a ratio of sums, and that take a split.
SPLIT_SUMS = [(n, s) for n, k in KPIS.items() for s in sorted(takes(k))
              if k.additive and not k.table]


def _members(con, split: str) -> list[str]:
    sql = {"devices": "select device from orders union select device from traffic",
           "countries": "select distinct country from orders",
           "categories": "select category from category_sales union "
                         "select category from refund_goods"}[split]
    return sorted(r[0] for r in con.execute(sql).fetchall())


def test_the_split_sums_are_the_kpis_expected():
    assert {("net_sales", "countries"), ("net_sales", "devices"), ("net_sales", "categories"),
            ("orders", "countries"), ("orders", "devices"), ("sessions", "devices"),
            ("purchases", "devices"), ("returns", "categories"), ("returns", "countries"),
            ("gross_sales", "categories"), ("aov", "devices")} <= set(SPLIT_SUMS)


@pytest.mark.parametrize("name,split", SPLIT_SUMS)
def test_the_parts_add_up_to_the_whole(demo_store, name, split):
    """Every KPI that is a sum (or a ratio of sums) over days and takes a device, country or
    category filter: its values over each member add up to the unfiltered figure (money to the
    cent), from the rollups and from the rows; and the filter changes the figure."""
    con, kpi = demo_store.connect(), get(name)
    period = Filters(date(2026, 4, 1), date(2026, 6, 30), ("email", "paid_social", "direct"))
    members = _members(con, split)
    assert len(members) >= 3 and None not in members, members
    cols = ["numerator", "denominator"] if kpi.ratio else ["value"]
    for rollups in (True, False):
        whole = run(con, kpi, period, rollups=rollups)
        parts = [run(con, kpi, replace(period, **{split: (m,)}), rollups=rollups)
                 for m in members]
        for c in cols:
            total = float(whole[c].iat[0])
            summed = sum(float(p[c].iat[0]) for p in parts)
            if kpi.unit == "money" and not kpi.ratio:
                assert round(summed, 2) == round(total, 2), (c, summed, total)
            else:
                assert math.isclose(summed, total, rel_tol=1e-12, abs_tol=1e-9), (c, summed)
            if total:
                assert all(float(p[c].iat[0]) != total for p in parts), c


def test_grouped_by_country_and_discount_code(split_store):
    """The same figures by group (rows, not the rollups, which keep neither). Net sales by
    country as above (FR 120, DE 92); by discount code, a1 and a3 used WELCOME10:
    100 − 10 − 30 + 80 − 8 − 20 = 112, a2 and a5 none: 60 + 40 = 100. Tops by country: FR's
    a1 line 70 − 7 − 21 = 42, DE's a3 line 50 − 5 = 45."""
    con = split_store.connect()

    def by(name, dim, **kw):
        df = both(con, name, f(**kw), dim)
        # (no discount code: the group None, which pandas holds as NaN)
        return {k if isinstance(k, str) else None: v for k, v in zip(df[dim], df["value"])}
    assert by("net_sales", "country") == {"DE": 92, "FR": 120}
    assert by("net_sales", "discount_code") == {"WELCOME10": 112, None: 100}
    assert by("net_sales", "country", categories=("Tops",)) == {"DE": 45, "FR": 42}
    assert by("returns", "country") == {"DE": 20, "FR": 30}
    assert by("orders", "discount_code", countries=("DE",)) == {"WELCOME10": 1, None: 1}
    assert not uses_rollup(get("net_sales"), FEB, "country")
    with pytest.raises(ValueError, match="cannot be split by 'country'"):
        run(con, get("sessions"), FEB, "country")


def test_the_channel_list_of_the_filters(tiny_store):
    """The sidebar's channels (kpilib.dimensions.channels): what the store holds, no more."""
    import duckdb

    from kpilib.dimensions import channels

    con = tiny_store.connect()
    # tests/data/tiny: orders email, paid_search ("Paid Search" normalised), direct,
    # paid_social; traffic adds nothing new; ad spend adds display. In the contract's order.
    assert channels(con) == ["paid_search", "paid_social", "email", "display", "direct"]
    # A channel the contract does not know comes after it ("unknown" last of the known),
    # alphabetically; no channel (NULL) is not one.
    raw = duckdb.connect()
    raw.execute("create table orders as select * from (values ('zeta'), ('email'), (null)) "
                "t(channel)")
    raw.execute("create table traffic as select * from (values ('unknown'), ('alpha')) "
                "t(channel)")
    raw.execute("create table marketing_spend as select 'direct' as channel")
    assert channels(raw) == ["email", "direct", "unknown", "alpha", "zeta"]
