"""How a KPI reads the rollups at query time (the build side is kpilib/rollups.py): a period's
whole months from running totals and its edge days from the daily rows, and the formulas a
KPI and the rollup precomputing it share."""
from __future__ import annotations

# RFM's frequency score of a customer with `nth` valid orders: 1, 2, 3, 4–5, 6+.
FREQUENCY = "case when nth >= 6 then 5 when nth >= 4 then 4 else nth end"
# Revenue lost to stock-outs of one SKU over some days (kpilib/stock.py): units sold per
# in-stock day × out-of-stock days × average price. Lost sales need units sold on in-stock
# days, so q = 0 gives nothing whatever the price.
LOST = ("case when in_stock > 0 then coalesce(q_in_stock, 0) / in_stock * oos * v "
        "/ nullif(q, 0) end")

# The period's whole months: the part a monthly rollup answers (parameters of
# kpilib.filters.whole_months).
WHOLE_MONTHS = "day >= $p_first and day < $p_after"


def whole_months(cum: str, keys: str, measures: tuple[str, ...], window: str = "p") -> str:
    """Per key, each measure summed over the whole months of ``window`` (the parameters'
    prefix: the period, or the 30 / 90 days ending with it), from a :func:`cumulative` rollup:
    the running total at the last whole month − the one at the month before the first (both
    taken at the rollup's last month at most; no whole month: both equal, 0). Joined to those
    two days rather than filtered by them: the join's day filter skips the row groups of other
    months (the rollup is ordered by day), 7 → 4.5 ms over product_cum's 480 k rows."""
    sums = ", ".join(f"sum(p.sign * c.{c}) as {c}" for c in measures)
    return f"""
        select c.{keys}, {sums}
        from {cum} c
        join (select least(${window}_last, m.last) as day, 1 as sign
              from (select max(day) as last from {cum}) m
              union all
              select least(${window}_before, m.last), -1
              from (select max(day) as last from {cum}) m) p on p.day = c.day
        group by c.{keys}"""


def edge_points(window: str = "p") -> list[tuple[int, str]]:
    """The days of sku_running whose signed sum is a measure over the days of ``window``
    outside its whole months (kpilib.filters.whole_months): the part of the first month,
    running total at its last day − at the day before the start (only when the start is not
    a 1st), and the part of the last month, the running total at the end (when the end is
    past the whole months). A day with no row, or none, counts 0."""
    return [(1, f"${window}_e1"), (-1, f"${window}_e0"), (1, f"${window}_e2")]


def on_days(points: list[tuple[int, str]], column: str = "day") -> str:
    """A filter for the rows of those days. Equalities joined by `or`, not `day in (…)`: an
    in-list holding a day that may be null is planned as a join over every row."""
    return " or ".join(sorted({f"{column} = {day}" for _, day in points}))


def edge_sum(column: str, points: list[tuple[int, str]]) -> str:
    """``column`` of sku_running over :func:`edge_points` (an aggregate of grouped rows)."""
    return " + ".join(f"{'-' if sign < 0 else ''}coalesce(sum({column}) filter "
                      f"(where day = {day}), 0)" for sign, day in points)

def edge_days(view: str) -> str:
    """The rows of a daily ``view`` (a code constant) on the period's days outside its whole
    months — what a KPI reading a monthly rollup for those months adds day by day."""
    return f"""
        select * from {view}
        where day >= $start and day < $p_first and day <= $end
        union all
        select * from {view}
        where day >= $p_after and day >= $start and day <= $end"""
