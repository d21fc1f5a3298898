"""The benchmark's peers: the KPIs a page shows, computed in pandas and in polars the way a
competent analyst would, from the same Parquet files the store holds.

Fair to them means: the store's small daily rollups are theirs too (the tables DuckDB's
connection keeps in memory, `kpilib.store.IN_MEMORY`), loaded once per process like DuckDB's
(not timed), with money as whole cents (exact sums, no Python decimals); and a page's shared
work is done once per page: every KPI of the page that reads one source under the same
filters and grouping takes its sums from one filtered group-by.

Covered: the KPIs that are sums (or ratios of sums) over daily rollups or the small tables —
traffic and funnel, sales, returns, marketing, new customers, stock-out rate. Not covered (the
benchmark leaves them out on both sides when it compares): distinct-customer counts (they need
the 2 M-row customer orders), fulfilment-time medians, tables (top products, cohorts, RFM…),
the stock page's per-SKU figures, and any filter beyond dates and channels.

A peer returns ``{group: value}``: the group is ``"total"``, a period's first day or a channel
(or device); a group without rows is absent. :func:`check` compares it with kpilib's frame.
"""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kpilib import Filters, Store, get
from kpilib.store import current

# Source → the stored files it is read from ("parts": a table; "rollups": a rollup), and its
# columns. Money columns are read as whole cents.
SOURCES = {
    "traffic": ("parts", ["channel", "device", "sessions", "users", "new_users",
                          "product_views", "add_to_carts", "checkouts", "purchases"]),
    "spend": ("parts", ["channel", "spend", "impressions", "clicks"]),
    "valid_orders": ("rollups", ["channel", "device", "n", "gross_sales", "discounts",
                                 "shipping", "tax", "tips", "refunded", "refunded_orders",
                                 "shipped", "shipped_1d", "shipped_2d", "shipped_5d",
                                 "guests"]),
    "orders": ("rollups", ["channel", "device", "status", "n"]),
    "refunds": ("rollups", ["channel", "amount", "shipping", "tax"]),
    "units": ("rollups", ["channel", "device", "quantity"]),
    "acquisitions": ("rollups", ["channel", "customers"]),
    "stock": ("rollups", ["category", "n", "stockouts"]),
}
STORED = {"traffic": "traffic", "spend": "marketing_spend", "valid_orders": "valid_orders_daily",
          "orders": "orders_daily", "refunds": "refunds_daily", "units": "units_daily",
          "acquisitions": "acquisitions", "stock": "stock_daily"}
# Columns an export may lack (users: GA4's, not every platform's): their KPI has no value,
# not 0, where every row is empty.
NULLABLE = {"users", "new_users"}
MONEY = {"gross_sales", "discounts", "shipping", "tax", "tips", "refunded", "amount", "spend"}
DATE_COLUMN = {"traffic": "date", "spend": "date"}
# Sources without a channel (stock) or whose KPIs ignore the channel filter by design.
NO_CHANNEL = {"stock"}

# Traffic: a KPI per column, and the funnel's rates (numerator, denominator).
TRAFFIC_SUMS = ("sessions", "users", "new_users", "product_views", "add_to_carts", "checkouts",
                "purchases")
TRAFFIC_RATES = {"conversion_rate": ("purchases", "sessions"),
                 "product_view_rate": ("product_views", "sessions"),
                 "add_to_cart_rate": ("add_to_carts", "sessions"),
                 "checkout_rate": ("checkouts", "sessions"),
                 "view_to_cart_rate": ("add_to_carts", "product_views"),
                 "cart_to_checkout_rate": ("checkouts", "add_to_carts"),
                 "checkout_to_purchase_rate": ("purchases", "checkouts")}
# Valid orders: a KPI per column (or difference of columns), and ratios of them.
ORDER_SUMS = {"orders": ("n",), "gross_sales": ("gross_sales",), "discounts": ("discounts",),
              "tips": ("tips",), "guest_orders": ("guests",),
              "attributed_revenue": ("gross_sales", "-discounts"),
              "returns_by_order_date": ("refunded",)}
ORDER_RATES = {"aov": (("gross_sales", "-discounts"), ("n",)),
               "shipped_within_1d": (("shipped_1d",), ("shipped",)),
               "shipped_within_2d": (("shipped_2d",), ("shipped",)),
               "shipped_within_5d": (("shipped_5d",), ("shipped",)),
               "return_rate_value": (("refunded",), ("gross_sales",)),
               "return_rate_orders": (("refunded_orders",), ("n",))}
# Charged by order date less what refunds gave back by refund date: (orders' columns,
# refunds' columns).
NET = {"net_sales": (("gross_sales", "-discounts"), ("amount",)),
       "shipping": (("shipping",), ("shipping",)),
       "tax": (("tax",), ("tax",)),
       "total_sales": (("gross_sales", "-discounts", "shipping", "tax"),
                       ("amount", "shipping", "tax"))}
OTHER = {"returns", "cancellation_rate", "units_per_order", "new_customers", "spend", "cpc",
         "ctr", "paid_revenue", "roas", "mer", "mer_inverse", "cac", "stockout_sku_days",
         "stockout_rate", "cart_abandonment_rate"}
COVERED = frozenset(TRAFFIC_SUMS) | set(TRAFFIC_RATES) | set(ORDER_SUMS) | set(ORDER_RATES) \
    | set(NET) | OTHER
# The sources each covered KPI reads (a grouping by device needs every one to have a device).
READS = {**{n: ("traffic",) for n in (*TRAFFIC_SUMS, *TRAFFIC_RATES, "cart_abandonment_rate")},
         **{n: ("valid_orders",) for n in (*ORDER_SUMS, *ORDER_RATES)},
         **{n: ("valid_orders", "refunds") for n in NET},
         "returns": ("refunds",), "cancellation_rate": ("orders",),
         "units_per_order": ("valid_orders", "units"), "new_customers": ("acquisitions",),
         "spend": ("spend",), "cpc": ("spend",), "ctr": ("spend",),
         "paid_revenue": ("spend", "valid_orders"), "roas": ("spend", "valid_orders"),
         "mer": ("spend", "valid_orders", "refunds"),
         "mer_inverse": ("spend", "valid_orders", "refunds"),
         "cac": ("spend", "acquisitions"), "stockout_sku_days": ("stock",),
         "stockout_rate": ("stock",)}
GROUPINGS = (None, "day", "week", "month", "channel", "device")
# A frame's columns that are not summed.
KEYS = ("day", "week", "month", "channel", "device", "status", "category")


def covers(name: str, filters: Filters, by) -> bool:
    """Whether the peers compute ``name`` under ``filters`` grouped ``by``."""
    if name not in COVERED or by not in GROUPINGS or not isinstance(filters, Filters):
        return False
    if filters.devices or filters.countries or filters.categories or filters.search.strip():
        return False
    if by in ("channel", "device") and name in ("mer", "mer_inverse", "stockout_rate",
                                                "stockout_sku_days"):
        return False
    return by != "device" or all("device" in SOURCES[s][1] for s in READS[name])


def _files(store: Store) -> dict[str, list[str]]:
    manifest = store.manifest
    stored = {"parts": store._files(manifest["tables"]),
              "rollups": store._files(current(manifest, store.settings))}
    return {s: stored[kind].get(STORED[s], []) for s, (kind, _) in SOURCES.items()}


def _arrow(files: list[str], source: str, channel_map: dict) -> pa.Table:
    """One source's rows as Arrow: ``day``, its columns, money as whole cents (int64)."""
    cols = SOURCES[source][1]
    day = DATE_COLUMN.get(source, "day")
    tables = [pq.read_table(f, columns=[day, *cols]) for f in files]
    t = pa.concat_tables(tables, promote_options="permissive") if tables else None
    out = {}
    for c in [day, *cols]:
        x = t.column(c) if t is not None else pa.array([], pa.float64())
        if c in MONEY:
            x = pc.cast(pc.round(pc.multiply(pc.cast(x, pa.float64()), 100.0)), pa.int64())
        elif c not in ("channel", "device", "status", "category", day):
            x = pc.cast(x, pa.float64())
        out["day" if c == day else c] = x
    t = pa.table(out)
    if source == "spend" and channel_map:   # the store's channel-mapping setting
        ch = t.column("channel").to_pylist()
        t = t.set_column(t.schema.get_field_index("channel"), "channel",
                         pa.array([channel_map.get(c, c) for c in ch], pa.string()))
    # Filter-independent, so once: the columns a KPI sums under a condition on the row.
    for c in NULLABLE & set(cols):
        t = t.append_column(f"{c}_rows", pc.cast(pc.is_valid(t.column(c)), pa.float64()))
    if source == "orders":
        t = t.append_column("cancelled", pc.if_else(pc.equal(t.column("status"), "cancelled"),
                                                    t.column("n"), 0.0))
    if source == "spend":
        clicks, shown = t.column("clicks"), t.column("impressions")
        # CPC: spend of the rows with clicks; CTR: clicks and impressions of rows with both.
        t = t.append_column("clicked_spend", pc.if_else(pc.is_valid(clicks), t.column("spend"), 0))
        t = t.append_column("clicks_shown", pc.if_else(pc.is_valid(shown), clicks, 0.0))
        t = t.append_column("shown_clicked", pc.if_else(pc.is_valid(clicks), shown, 0.0))
    return t


def load(store: Store, engine: str) -> dict:
    """Every source as the engine's frames, with the week's Monday and the month's first day
    beside each day (filter-independent: computed once)."""
    channel_map = store.settings.get("channel_map", {})
    arrow = {s: _arrow(f, s, channel_map) for s, f in _files(store).items()}
    if engine == "pandas":
        out = {}
        for s, t in arrow.items():
            df = t.to_pandas()
            day = pd.to_datetime(df.pop("day"))
            df["week"] = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).to_numpy()
            df["month"] = day.dt.to_period("M").dt.start_time.to_numpy()
            for c in ("channel", "device", "status", "category"):
                if c in df:
                    df[c] = df[c].astype("category")
            # Sorted by day, indexed by it: a period is a slice, not a mask over every row.
            out[s] = df.set_index(pd.DatetimeIndex(day, name="day")).sort_index()
        return out
    import polars as pl
    return {s: pl.from_arrow(t).with_columns(
        pl.col("day").dt.truncate("1w").alias("week"),
        pl.col("day").dt.month_start().alias("month")) for s, t in arrow.items()}


class Sums:
    """The page's group-by sums, each computed once: ``get(source, filters, by)`` gives
    ``{column: {group: sum}}`` for every column of the source."""

    def __init__(self, frames: dict, engine: str):
        self.frames, self.engine, self.done = frames, engine, {}

    def get(self, source: str, filters: Filters, by, channels: bool = True,
            also: str | None = None) -> dict:
        key = (source, filters.start, filters.end,
               filters.channels if channels and source not in NO_CHANNEL else (), by, also)
        if key not in self.done:
            self.done[key] = (self._pandas if self.engine == "pandas" else self._polars)(
                self.frames[source], filters.start, filters.end, key[3], by, also)
        return self.done[key]

    @staticmethod
    def _pandas(df: pd.DataFrame, start: date, end: date, channels, by, also) -> dict:
        sel = df.loc[pd.Timestamp(start):pd.Timestamp(end)]
        if channels:
            sel = sel[sel["channel"].isin(channels)]
        keys = [sel.index if k == "day" else k for k in (by, also) if k]
        # numeric_only: the sums, not the key columns (no column selection: it copies)
        if not keys:
            return {c: {"total": v} for c, v in sel.sum(numeric_only=True).items()}
        g = sel.groupby(keys, sort=False, observed=True).sum(numeric_only=True)
        first = g.index.get_level_values(0)
        index = list(first.date if by in ("day", "week", "month") else first)
        if also:
            index = list(zip(index, g.index.get_level_values(-1))) if by else \
                [("total", k) for k in index]
        return {c: dict(zip(index, g[c].tolist())) for c in g.columns}

    @staticmethod
    def _polars(df, start: date, end: date, channels, by, also) -> dict:
        import polars as pl
        cond = pl.col("day").is_between(start, end)
        if channels:
            cond &= pl.col("channel").is_in(list(channels))
        sel = df.filter(cond)
        values = [c for c in sel.columns if c not in KEYS]
        keys = [k for k in (by, also) if k]
        if not keys:
            row = sel.select(pl.col(values).sum()).row(0, named=True)
            return {c: {"total": v} for c, v in row.items()}
        g = sel.group_by(keys).agg(pl.col(values).sum()).to_dict(as_series=False)
        index = (list(zip(g[by], g[also])) if by else [("total", k) for k in g[also]]) \
            if also else g[by]
        return {c: dict(zip(index, g[c])) for c in values}


def _combine(cols: dict, terms: tuple[str, ...]) -> dict:
    """The sum of ``terms`` (columns, a leading "-" subtracts) per group."""
    out: dict = {}
    for t in terms:
        sign, name = (-1, t[1:]) if t.startswith("-") else (1, t)
        for k, v in cols[name].items():
            out[k] = out.get(k, 0) + sign * v
    return out


def _minus(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) - v
    return out


def _ratio(num: dict, den: dict) -> dict:
    return {k: (num.get(k, 0) / d if d else None) for k, d in den.items()}


def compute(sums: Sums, name: str, f: Filters, by=None) -> dict:
    """``name`` under ``f`` grouped ``by`` from the page's sums (money in whole cents)."""
    S = lambda source, **kw: sums.get(source, f, by, **kw)   # noqa: E731
    if name in TRAFFIC_SUMS:
        t = S("traffic")
        if name in NULLABLE:   # none when the export has no such column on those days
            return {k: v if t[f"{name}_rows"][k] else None for k, v in t[name].items()}
        return t[name]
    if name in TRAFFIC_RATES:
        num, den = TRAFFIC_RATES[name]
        t = S("traffic")
        return _ratio(t[num], t[den])
    if name == "cart_abandonment_rate":
        t = S("traffic")
        return {k: None if v is None else 1 - v
                for k, v in _ratio(t["purchases"], t["add_to_carts"]).items()}
    if name in ORDER_SUMS:
        return _combine(S("valid_orders"), ORDER_SUMS[name])
    if name in ORDER_RATES:
        num, den = ORDER_RATES[name]
        v = S("valid_orders")
        return _ratio(_combine(v, num), _combine(v, den))
    if name in NET:
        orders, refunds = NET[name]
        return _minus(_combine(S("valid_orders"), orders), _combine(S("refunds"), refunds))
    if name == "returns":
        return S("refunds")["amount"]
    if name == "cancellation_rate":
        o = S("orders")
        return _ratio(o["cancelled"], o["n"])
    if name == "units_per_order":
        return _ratio(S("units")["quantity"], S("valid_orders")["n"])
    if name == "new_customers":
        return S("acquisitions")["customers"]
    if name == "spend":
        return S("spend")["spend"]
    if name == "cpc":
        return _ratio(S("spend")["clicked_spend"], S("spend")["clicks"])
    if name == "ctr":
        return _ratio(S("spend")["clicks_shown"], S("spend")["shown_clicked"])
    if name in ("paid_revenue", "roas"):
        # Revenue of the channels with spend (> 0) in each group: sums by group × channel.
        also = None if by == "channel" else "channel"
        sp, rev = S("spend", also=also)["spend"], _combine(S("valid_orders", also=also),
                                                           ("gross_sales", "-discounts"))
        if also is None:   # grouped by channel already: each group is its own channel
            sp, rev = ({(k, k): v for k, v in d.items()} for d in (sp, rev))
        num, den = {}, {}
        for (k, ch), s in sp.items():
            den[k] = den.get(k, 0) + s
            num[k] = num.get(k, 0) + (rev.get((k, ch), 0) if s > 0 else 0)
        return {k: num[k] for k in den} if name == "paid_revenue" else _ratio(num, den)
    if name in ("mer", "mer_inverse"):   # the whole shop's, whatever the channel filter
        net = _minus(_combine(S("valid_orders", channels=False), ("gross_sales", "-discounts")),
                     S("refunds", channels=False)["amount"])
        spend = S("spend", channels=False)["spend"]
        keys = set(net) | set(spend)
        if name == "mer":
            return {k: net.get(k, 0) / spend[k] if spend.get(k) else None for k in keys}
        return {k: spend.get(k) / net[k] if net.get(k) and k in spend else None for k in keys}
    if name == "cac":
        spend, new = S("spend")["spend"], S("acquisitions")["customers"]
        return {k: spend[k] / new[k] if spend.get(k, 0) > 0 and new.get(k) else None
                for k in set(spend) | set(new)}
    if name in ("stockout_sku_days", "stockout_rate"):
        s = S("stock")
        return s["stockouts"] if name == "stockout_sku_days" else _ratio(s["stockouts"], s["n"])
    raise KeyError(f"no peer for {name}")


def value(name: str, cents) -> float | None:
    """A computed value as kpilib shows it: money back from cents."""
    if cents is None:
        return None
    v = float(cents)
    return v / 100 if get(name).unit == "money" else v


def page(frames: dict, engine: str, calls) -> list[dict]:
    """Each of ``calls`` (``(kpi, filters, by)``) computed, the page's sums shared."""
    sums = Sums(frames, engine)
    return [{k: value(n, v) for k, v in compute(sums, n, f, by).items()} for n, f, by in calls]


def check(name: str, got: dict, frame: pd.DataFrame, by=None) -> None:
    """Raise AssertionError unless ``got`` (a peer's groups) equals kpilib's frame: money to the
    cent, other values to 1e-9 relative; a group kpilib fills in without rows (0 for a sum,
    nothing for a ratio) may be absent."""
    k = get(name)
    col = None if by is None else "period" if by in ("day", "week", "month") else by
    seen = set()
    for row in frame.itertuples(index=False):
        key = "total" if col is None else getattr(row, col)
        if isinstance(key, pd.Timestamp):
            key = key.date()
        seen.add(key)
        want = None if row.value is None or (isinstance(row.value, float)
                                             and math.isnan(row.value)) else row.value
        have = got.get(key, k.empty)
        ok = (want is None and have is None) or (
            want is not None and have is not None
            and (abs(want - have) < 0.005 if k.unit == "money"
                 else math.isclose(want, have, rel_tol=1e-9, abs_tol=1e-12)))
        assert ok, f"{name} by {by} {key}: kpilib {want}, peer {have}"
    extra = {g: v for g, v in got.items() if g not in seen and v not in (None, 0)}
    assert not extra, f"{name} by {by}: groups kpilib has not: {extra}"
