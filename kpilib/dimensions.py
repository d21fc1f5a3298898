"""The sources KPIs read and the dimensions each carries.

A KPI names its sources in its SQL as ``{src:NAME}`` (``from {src:valid_orders} group by
all``); each becomes the source's view and the WHERE clause of the filters that apply to it
(:meth:`kpilib.filters.Filters.where`). A device, country or category filter then applies to
every KPI whose sources all carry that dimension, and is refused by the others
(:func:`kpilib.kpi.check_filters`): never a silently unfiltered figure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# The filters that select members of a dimension, and the dimension each selects. Channels are
# not among them: every source has a channel, and a KPI that ignores the channel filter is shown
# as "(all channels)", a figure of the whole shop by design (MER).
SPLITS = {"devices": "device", "countries": "country", "categories": "category"}
PARAM = {"channel": "channels", **{dim: f for f, dim in SPLITS.items()}}


def column(dim: str) -> str:
    """The rows' own column ``dim``."""
    return f"in_filter({dim}, ${PARAM[dim]})"


def by_order(dim: str) -> str:
    """``dim`` of the row's order: refunds and order lines carry their order's device and
    country (a refund whose order is not stored has none, and is in no device's part)."""
    return f"order_id in (select order_id from orders where in_filter({dim}, ${PARAM[dim]}))"


@dataclass(frozen=True)
class Source:
    view: str
    # dimension → the condition keeping the rows of the filter's members (code constants)
    dims: dict[str, str] = field(default_factory=dict)
    # The dimensions its daily rollup keeps (kpilib/rollups.py): a filter on another one is
    # answered from the rows.
    rollup: frozenset[str] = frozenset()
    # The view read under a category filter: the same columns, one row per order line (or a
    # refund's share of a line), with the line's category.
    lines: str = ""
    # Its daily rollup's columns (kpilib/rollups.py ROLLUP_VIEWS): those summed, and those it
    # groups by. A measure reads the rollup only when it sums summed columns and filters on
    # grouped ones (:meth:`Measure.rollup_reason`); no sums, no rollup.
    sums: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    # The dimensions beyond the period, channel and device its rows can be grouped by
    # (``--by country``), and, when some are its order's, the view that joins them on:
    # ``{view}`` with the order's columns.
    groups: frozenset[str] = frozenset()
    wide: str = ""
    # A condition of other filters than dimensions (the stock page's SKU search).
    where: str = ""

    @property
    def takes(self) -> frozenset[str]:
        return frozenset(f for f, dim in SPLITS.items() if dim in self.dims)


_ORDER = {"channel": column("channel"), "device": column("device"),
          "country": column("country")}
_REFUND = {"channel": column("channel"), "device": by_order("device"),
           "country": by_order("country")}
# A refund's country is its order's, else its own (a UCI credit note names no order).
_REFUND_COUNTRY = ("(order_id in (select order_id from orders where in_filter(country, "
                   "$countries)) or refund_id in (select refund_id from refunds where "
                   "in_filter(refund_country, $countries) and order_id not in "
                   "(select order_id from orders where country is not null)))")
_REFUND = {**_REFUND, "country": _REFUND_COUNTRY}
_CHANNEL = {"channel": column("channel")}
_ORDER_SUMS = frozenset({"n", "gross_sales", "discounts", "shipping", "tax", "tips", "refunded",
                         "refunded_orders", "shipped", "shipped_1d", "shipped_2d", "shipped_5d",
                         "guests"})
_DAY = frozenset({"day", "channel", "device"})
_REFUND_SUMS, _REFUND_KEYS = frozenset({"n", "amount", "shipping", "tax"}), \
    frozenset({"day", "channel", "reason"})
_BY_ORDER = frozenset({"country", "discount_code"})
# The groupings of the valid orders' rows by their order (kpilib.kpi.GROUPINGS): not of all
# orders, whose cancelled ones have no place in a customer's history.
_VALID = _BY_ORDER | {"customer_type"}
# The groupings a source answers from its order lines (``lines``), as under a category filter.
LINE_GROUPS = frozenset({"category", "product"})
# Refunds and lines with their order's country and discount code, to group by them.
_WIDE = ("(select r.*, o.country, o.discount_code from {view} r "
         "left join (select order_id, country, discount_code from orders) o using (order_id))")
# Refunds with their order's country, else their own, and their order's discount code.
_REFUND_WIDE = ("(select r.*, coalesce(o.country, c.refund_country) as country, "
                "o.discount_code from {view} r "
                "left join (select order_id, country, discount_code from orders) o "
                "using (order_id) left join (select refund_id, refund_country from refunds "
                "where refund_country is not null) c using (refund_id))")

SOURCES: dict[str, Source] = {
    "orders": Source("orders", _ORDER, frozenset({"device"}), sums=_ORDER_SUMS,
                     keys=_DAY | {"status"}, groups=_BY_ORDER),
    "valid_orders": Source("valid_orders", _ORDER, frozenset({"device"}), sums=_ORDER_SUMS,
                           keys=_DAY, groups=_VALID),
    # Valid orders' goods (gross sales and discounts only): by category, the order lines of that
    # category (the discount spread over the lines by value), the rest of an order's goods the
    # lines do not account for (no lines stored) 'uncategorised'.
    "order_goods": Source("valid_orders", {**_ORDER, "category": column("category")},
                          frozenset({"device"}), lines="category_sales",
                          sums=frozenset({"gross_sales", "discounts"}), keys=_DAY,
                          groups=_VALID | LINE_GROUPS),
    "valid_refunds": Source("valid_refunds", _REFUND, sums=_REFUND_SUMS, keys=_REFUND_KEYS,
                            groups=_VALID, wide=_REFUND_WIDE),
    # Refunded goods (amount only): by category, each refund spread over the lines it concerns
    # (kpilib/rollups.py REFUND_LINES).
    "refunded_goods": Source("valid_refunds", {**_REFUND, "category": column("category")},
                             lines="refund_goods", sums=frozenset({"amount"}),
                             keys=frozenset({"day", "channel"}),
                             groups=_VALID | LINE_GROUPS, wide=_REFUND_WIDE),
    "sales_lines": Source("sales_lines", {"channel": column("channel"),
                                          "device": column("device"),
                                          "country": by_order("country")},
                          frozenset({"device"}), sums=frozenset({"quantity"}), keys=_DAY,
                          groups=_VALID, wide=_WIDE),
    "shipping_times": Source("shipping_times", {"channel": column("channel"),
                                                "device": column("device")},
                             frozenset({"device"}), sums=frozenset({"n"}),
                             keys=_DAY | {"hours"}),
    "order_returns": Source("order_returns", _ORDER, frozenset({"device"}),
                            sums=frozenset({"n", "gross_sales", "refunded", "refunded_orders"}),
                            keys=_DAY, groups=_BY_ORDER),
    "traffic": Source("traffic", {"channel": column("channel"), "device": column("device")},
                      frozenset({"device"})),
    # SKU-days of the carried-forward stock (kpilib/store/views.py), found by the stock page's
    # search of SKUs and names.
    "stock_days": Source("stock_days", {"category": column("category")},
                         sums=frozenset({"n", "stockouts"}), keys=frozenset({"day", "category"}),
                         where="($search = '' or contains(lower(sku || ' ' || product_name), "
                               "$search))"),
    "marketing_spend": Source("marketing_spend", _CHANNEL, groups=frozenset({"campaign"})),
    "customer_orders": Source("customer_orders", _CHANNEL, sums=frozenset({"n"}),
                              keys=frozenset({"day", "channel", "prev_day", "prev2_day"})),
    "acquisitions": Source("acquisitions", _CHANNEL),
    "second_orders": Source("second_orders", _CHANNEL),
}

PLACEHOLDER = re.compile(r"\{src:(\w+)\}")


def sources(sql: str) -> tuple[str, ...]:
    """The sources ``sql`` names as ``{src:NAME}``, in order, each once."""
    return tuple(dict.fromkeys(PLACEHOLDER.findall(sql)))


def render(sql: str, where) -> str:
    """``sql`` with each ``{src:NAME}`` replaced by ``where(SOURCES[NAME])``."""
    return PLACEHOLDER.sub(lambda m: where(SOURCES[m[1]]), sql)


# Words of SQL in a measure's expression or condition that are not columns.
_SQL_WORDS = frozenset({"and", "or", "not", "is", "null", "in", "case", "when", "then", "else",
                        "end", "coalesce", "cast", "as", "true", "false", "between", "like"})
AGGREGATIONS = ("sum", "median")


def _columns(sql: str) -> set[str]:
    sql = re.sub(r"'[^']*'", "", sql)   # string literals are no columns
    return set(re.findall(r"\b[a-z_][a-z0-9_]*\b", sql)) - _SQL_WORDS


@dataclass(frozen=True)
class Measure:
    """A figure declared once: ``agg`` of ``expr`` over the rows of ``source`` (a key of
    :data:`SOURCES`) that meet ``where`` (a condition on the rows' dimensions, or none)."""
    source: str
    expr: str
    agg: str = "sum"
    where: str = ""

    def __post_init__(self):
        assert self.source in SOURCES, self.source
        assert self.agg in AGGREGATIONS, self.agg

    @property
    def sql(self) -> str:
        """The aggregate, as SQL: a filtered sum of no rows is 0, not empty."""
        if self.where:
            return f"coalesce({self.agg}({self.expr}) filter (where {self.where}), 0)"
        return f"{self.agg}({self.expr})"

    @property
    def additive(self) -> bool:
        """Its value over days is the sum of its daily values."""
        return self.agg == "sum"

    def rollup_reason(self) -> str | None:
        """Why it cannot be read from its source's daily rollup (None: it can): the rollup holds
        sums of some columns grouped by others, so only a sum of summed columns over rows
        chosen by grouped ones gives the same answer."""
        src = SOURCES[self.source]
        if not src.sums:
            return f"{src.view} has no daily rollup"
        if self.agg != "sum":
            return f"{self.sql} is no sum: the rollup's daily sums cannot give it"
        lost = _columns(self.expr) - src.sums
        if lost:
            return f"{self.sql} reads {', '.join(sorted(lost))}, which the rollup does not sum"
        summed = _columns(self.where) - src.keys
        if summed:
            return (f"{self.sql} chooses rows by {', '.join(sorted(summed))}, which the "
                    f"rollup sums (it keeps {', '.join(sorted(src.keys))})")
        return None


# The members of each split dimension a store holds, for the app's filters: every value the
# sources carry (a category of the order lines, of the stock, or 'uncategorised' goods).
MEMBERS = {
    "devices": "select device from orders union select device from traffic",
    "countries": "select country from orders union select refund_country from refunds",
    "categories": "select category from sku_info union select category from category_daily",
}


def members(con, split: str) -> list[str]:
    """The values of ``split`` (a key of :data:`SPLITS`) found in the store, sorted."""
    rows = con.cursor().execute(
        f"select distinct m from ({MEMBERS[split]}) t(m) where m is not null").fetchall()
    return sorted(r[0] for r in rows)


def channels(con) -> list[str]:
    """The channels the store's orders, traffic and ad spend carry, for the channel filter: in
    the data contract's order (kpilib.channels.CHANNELS, then "unknown"), any other after them
    alphabetically."""
    from .channels import CHANNELS

    rows = con.cursor().execute("""select distinct channel from (
        select channel from orders union all select channel from traffic
        union all select channel from marketing_spend) where channel is not null""").fetchall()
    found, order = {r[0] for r in rows}, (*CHANNELS, "unknown")
    return [c for c in order if c in found] + sorted(found - set(order))
