"""ui.plan: a page's first draw reads what it shows in one batch, each frame once, within a
budget of DuckDB statements."""
import pytest
from streamlit.testing.v1 import AppTest

from test_app import APP, start

# The DuckDB statements each page's first draw may run on the tiny shop, February 2025, its
# caches emptied (the sidebar's lists included; the store's calendar and facts, read once per
# store version, are not): an upper bound, at most one above what each takes with its plan
# (funnel 9, loyalty 19, marketing 24, overview 20, returns 12, sales 17, stock 19, traffic
# 13), below what the pages ran before it when they read in a careful order (25, 21, 25, 23,
# 12, 25, 21, 18), so that a page reading its frames one by one again is caught.
BUDGETS = {"funnel": 10, "loyalty": 20, "marketing": 24, "overview": 21, "returns": 13,
           "sales": 18, "stock": 20, "traffic": 14}

class Counted:
    """A DuckDB connection (or one of its cursors) whose statements are counted."""

    def __init__(self, con, log: list):
        self._con, self._log = con, log

    def cursor(self):
        return Counted(self._con.cursor(), self._log)

    def execute(self, sql, *args, **kw):
        self._log.append(sql)
        self._con.execute(sql, *args, **kw)
        return self

    def sql(self, sql, *args, **kw):
        self._log.append(sql)
        return self._con.sql(sql, *args, **kw)

    def __getattr__(self, name):
        return getattr(self._con, name)


def first_draw(store, monkeypatch, page: str):
    """The page opened on February 2025 from empty caches: the DuckDB statements it ran and
    the planner's steps (ui.plan.recording)."""
    import streamlit as st

    from kpilib import engines
    from ui import plan

    at = start(store, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("Last month").run()
    statements: list[str] = []
    connect = engines.connect
    monkeypatch.setattr(engines, "connect",
                        lambda *a, **kw: Counted(connect(*a, **kw), statements))
    st.cache_resource.clear()   # the page's connection is a counted one
    plan.clear()
    with plan.recording() as steps:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at, statements, steps


def reads_of(steps) -> list[tuple]:
    """Each KPI frame the steps read from the store: (KPI, filters, grouping, limit)."""
    return [(k.name, r.filters, r.by, r.limit) for s in steps if s.kind in ("many", "run")
            for r in s.reads for k in r.kpis]


@pytest.mark.parametrize("page", sorted(BUDGETS))
def test_a_page_reads_what_it_shows_once_in_one_batch_within_its_budget(tiny_store,
                                                                         monkeypatch, page):
    at, statements, steps = first_draw(tiny_store, monkeypatch, page)
    reads = reads_of(steps)
    assert len(reads) == len(set(reads)), sorted(reads, key=str)     # nothing read twice
    # The page's frames side by side in one batch; the stock page's snapshot interval (asked
    # before the page can say anything) is the only read of its own.
    assert sum(s.kind == "many" for s in steps) <= 1, [s.kind for s in steps]
    alone = [s.reads[0].kpis[0].name for s in steps if s.kind == "run"]
    assert alone in ([], ["snapshot_interval_days"]), alone
    assert 0 < len(statements) <= BUDGETS[page], len(statements)


def test_the_plan_reads_each_frame_once(tiny_store, monkeypatch):
    """Declared twice, or as a card's figure and as a frame: read once. A card's period is
    derived from the daily series its sparkline and the period before share (one read for
    the three); a KPI the filters refuse (sessions by country) is not read."""
    monkeypatch.setenv("KPILIB_STORE", str(tiny_store.path))

    def page():
        import ui
        from ui import plan

        f = ui.sidebar_filters()
        g = f.__class__(f.start, f.end, countries=("FR",))
        with plan.recording() as steps:
            plan.read(plan.Frame("net_sales", by="channel"), plan.Frame("net_sales", by="channel"),
                      plan.Cards(("net_sales", "orders"), spark_by="day"), plan.Frame("orders"),
                      plan.Frame("sessions", g))
        import streamlit as st
        st.session_state["steps"] = steps

    from ui import plan
    plan.clear()
    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    steps = at.session_state["steps"]
    assert [s.kind for s in steps] == ["many"]
    reads = {(tuple(k.name for k in r.kpis), r.by) for r in steps[0].reads}
    # net_sales and orders: their daily series over the store's calendar, in one query.
    assert reads == {(("net_sales",), "channel"), (("net_sales", "orders"), "day")}, reads
