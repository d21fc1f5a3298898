"""kpilib/rollup_reads.py: a period read from the rollups as whole months (running totals) and
edge days (daily rows), on tables small enough to count by hand."""
from datetime import date

import duckdb

from kpilib.filters import whole_months as split
from kpilib.rollup_reads import edge_days, edge_points, edge_sum, on_days, whole_months


def tables() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # SKU A sold 3 units in January, 2 in February, 4 in March: running totals 3, 5, 9.
    # SKU B sold 1 in March only: its running total starts there.
    con.execute("""create table cum as select * from (values
        ('A', date '2025-01-01', 3), ('A', date '2025-02-01', 5), ('A', date '2025-03-01', 9),
        ('B', date '2025-03-01', 1)) t(sku, day, q)""")
    # One unit a day from 30 January to 2 March; and January's running total by day
    # (1 on the 1st … 31 on the 31st).
    con.execute("""create table daily as
        select unnest(generate_series(date '2025-01-30', date '2025-03-02', interval 1 day))::date
            as day, 1 as q""")
    con.execute("""create table running as
        select unnest(generate_series(date '2025-01-01', date '2025-01-31', interval 1 day))::date
            as day, 0 as q""")
    con.execute("update running set q = day - date '2024-12-31'")
    return con


def used(sql: str, params: dict) -> dict:
    """The parameters ``sql`` names (DuckDB refuses any other)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def sums(con, start: date, end: date) -> dict:
    sql = whole_months("cum", "sku", ("q",)) + " order by 1"
    return dict(con.execute(sql, used(sql, split("p", start, end))).fetchall())


def test_whole_months_are_the_difference_of_two_running_totals():
    con = tables()
    # February and March: A 9 − 3 = 6 (2 + 4); B 1 − nothing = 1.
    assert sums(con, date(2025, 2, 1), date(2025, 3, 31)) == {"A": 6, "B": 1}
    # To the end of April: the rollup's last month is March, so the same.
    assert sums(con, date(2025, 2, 1), date(2025, 4, 30)) == {"A": 6, "B": 1}
    # February alone: A 5 − 3 = 2; B has no row then.
    assert sums(con, date(2025, 2, 1), date(2025, 2, 28)) == {"A": 2}
    # 10–20 February holds no whole month: 5 − 5 = 0.
    assert sums(con, date(2025, 2, 10), date(2025, 2, 20)) == {"A": 0}


def test_edge_days_are_the_days_outside_the_whole_months():
    con = tables()
    # 30 January – 2 March: February whole; 30, 31 January and 1, 2 March at the edges.
    params = {"start": date(2025, 1, 30), "end": date(2025, 3, 2),
              **split("p", date(2025, 1, 30), date(2025, 3, 2))}
    sql = f"select day from ({edge_days('daily')}) order by 1"
    days = [d for (d,) in con.execute(sql, used(sql, params)).fetchall()]
    assert days == [date(2025, 1, 30), date(2025, 1, 31), date(2025, 3, 1), date(2025, 3, 2)]


def test_an_edge_sum_is_running_totals_at_the_edge_points():
    con = tables()
    points = edge_points()

    def total(start: date, end: date) -> int:
        params = {k: v for k, v in split("p", start, end).items()
                  if k in ("p_e0", "p_e1", "p_e2")}
        return con.execute(f"select {edge_sum('q', points)} from running "
                           f"where {on_days(points)}", params).fetchall()[0][0]

    # 10–20 January: running total on the 20th − on the 9th = 20 − 9 = 11 days.
    assert total(date(2025, 1, 10), date(2025, 1, 20)) == 11
    # 25 January – 3 February: January's part 31 − 24 = 7; February has no rows here: 0.
    assert total(date(2025, 1, 25), date(2025, 2, 3)) == 7
    # The whole of January: no edge at all.
    assert total(date(2025, 1, 1), date(2025, 1, 31)) == 0
