"""The benchmark's own code (bench/): its pandas and polars peers compute the figures the pages
show, its views are real dates whatever month the shop ends in, and the page sets it times hold
the pages' target pacing."""
from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path

import pytest

from kpilib import Filters, get, run
from kpilib.targets import KINDS

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import peers  # noqa: E402

spec = importlib.util.spec_from_file_location("bench_main", BENCH / "bench.py")
bench = sys.modules["bench_main"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

# The demo fixture's shop runs from May 2025 to 31 October 2026.
FILTERS = [Filters(date(2025, 5, 1), date(2026, 10, 31)),
           Filters(date(2026, 7, 1), date(2026, 9, 30), ("email",)),
           Filters(date(2026, 10, 2), date(2026, 10, 31), ("email", "paid_search")),
           # past the last day, and a week cut by the start
           Filters(date(2026, 9, 17), date(2026, 11, 20), ("paid_social",))]


@pytest.fixture(scope="module", params=["pandas", "polars"])
def frames(request, demo_store):
    return request.param, peers.load(demo_store, request.param)


def test_peers_compute_what_kpilib_computes(frames, demo_store):
    engine, fr = frames
    con = demo_store.connect()
    asked = [(n, f, by) for n in sorted(peers.COVERED) for f in FILTERS
             for by in peers.GROUPINGS
             if peers.covers(n, f, by) and (by is None or by in get(n).by)]
    # Every covered KPI, under every filter, by nothing, a period, a channel and a device.
    assert len(asked) > 10 * len(peers.COVERED)
    for (name, f, by), got in zip(asked, peers.page(fr, engine, asked)):
        peers.check(name, got, run(con, get(name), f, by), by)


def test_a_peer_off_by_a_cent_is_caught(frames, demo_store):
    engine, fr = frames
    f = FILTERS[1]
    got = peers.page(fr, engine, [("net_sales", f, "month")])[0]
    kpilib = run(demo_store.connect(), get("net_sales"), f, "month")
    peers.check("net_sales", got, kpilib, "month")
    got[date(2026, 8, 1)] += 0.01
    with pytest.raises(AssertionError, match="net_sales by month 2026-08-01"):
        peers.check("net_sales", got, kpilib, "month")


def test_the_whole_history_of_a_shop_ending_in_december():
    # 24 months ending in December 2026: January 2025 to December 2026 (the month after the
    # end's month, two years back, is month 13 of 2024 if computed naively).
    assert bench.months_back(date(2026, 12, 31), 24) == date(2025, 1, 1)
    assert bench.months_back(date(2026, 10, 31), 24) == date(2024, 11, 1)
    assert bench.months_back(date(2026, 1, 15), 1) == date(2026, 1, 1)


def test_page_sets_hold_the_target_pacing(demo_store, monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    view = Filters(date(2026, 10, 2), date(2026, 10, 31))
    calls = bench.each_kpi(bench.record(demo_store, {"v": view}, pages=("overview",))
                           [("overview", "v")])
    asked = {(c.kpi, c.filters.start, c.filters.end, c.by) for c in calls}
    # Pacing of October: each KPI with a target month to date (1–31 October, not the view's
    # 2–31), and a sum's 8 weeks of days before the month for its weekday weights.
    for name in KINDS:
        assert (name, date(2026, 10, 1), date(2026, 10, 31), None) in asked, name
    assert ("net_sales", date(2026, 8, 6), date(2026, 9, 30), "day") in asked



def test_a_page_paces_only_the_kpis_it_shows(demo_store, monkeypatch):
    """The Stock page shows one KPI a target can be set for (the stock-out rate): with a
    target on every KPI, it paces that one, not the thirteen it does not show (their month
    to date and a sum's 8 weeks of days were 19 of its 26 queries)."""
    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    view = Filters(date(2026, 10, 2), date(2026, 10, 31))
    calls = bench.each_kpi(bench.record(demo_store, {"v": view}, pages=("stock",))
                           [("stock", "v")])
    paced = {c.kpi for c in calls if c.kpi in KINDS
             and (c.filters.start, c.filters.end) == (date(2026, 10, 1), date(2026, 10, 31))}
    assert paced == {"stockout_rate"}, paced
    assert not [c for c in calls if c.kpi in KINDS and c.by == "day"
                and c.filters.end == date(2026, 9, 30)]

def test_protocol_viewers_change_the_filters_they_time(demo_store):
    """bench/load.py --clients protocol: a viewer without a browser asks for the period and
    channel as the browser does, and the page redrawn is the one asked for (a rerun that
    ignored the widgets' states would time a cached page and flatter the server)."""
    import asyncio

    spec = importlib.util.spec_from_file_location("load", BENCH / "load.py")
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)

    async def visit(url):
        from websockets.asyncio.client import connect

        async with connect(url.replace("http", "ws", 1) + "/_stcore/stream", origin=url,
                           subprotocols=["streamlit"], max_size=None) as ws:
            s = load.Session(ws)
            await s.rerun()
            first = " ".join(s.texts)
            seconds = await s.rerun(s.states(("Last 7 days", "Email")))
            return first, " ".join(s.texts), seconds

    server = load.Server(BENCH.parent, demo_store.path)
    try:
        first, after, seconds = asyncio.run(visit(server.url))
    finally:
        log = server.stop()
    assert "Traceback" not in log, log
    assert "Email" not in first and "Email" in after, after
    # The demo fixture ends on 31 October 2026: October (the default), then the last 7 days.
    assert "October 2026 · compared with September 2026" in first, first
    assert "25 Oct – 31 Oct 2026 · compared" in after, after
    assert 0 < seconds < 60
