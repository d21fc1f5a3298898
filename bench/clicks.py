"""One viewer's clicks: from a click in the sidebar to the Overview's trend chart redrawn.

The app runs on a store (the large shop by default, `python bench/bench.py` builds it) in one
Chromium (Debian's). Each round changes the period (Last 30 days ⇄ Last 90 days) or the
channel (all ⇄ Email) and times from the click on the option to the trend chart drawn with
the new figures (the chart's own data changed, the script no longer running). Printed: the
median and min–max of each kind, the server's and the browser's CPU seconds per click (and
of the browser's renderer alone: the page's drawing, without Playwright's driver),
`/proc/loadavg` before and after each figure, and where a click's time went (from the page's
WebSocket frames: the rerun sent, the server's first and last messages before the redraw,
their number and size). Then, with ``--stock``, the Stock page's
period change the same way (its stock-out trend redrawn). The Overview's own trend picker
(Net sales ⇄ Orders) is timed too, not on the bare app, which has none. ``--bare`` also times the same
clicks on a bare Streamlit app (the same two sidebar widgets, a title, a caption and the
trend's two lines, no query): the floor Streamlit and Chromium set on this machine at this
load.

    python bench/clicks.py --clicks 10
    python bench/clicks.py --clicks 10 --compare 9e3367a      # before / after, alternating
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import (ROOT, Server, browser_cpu, cpu_seconds, extract,  # noqa: E402
                  loadavg)

sys.path.insert(0, str(ROOT / "tests"))
from browser import ARGS, CHROMIUM  # noqa: E402

STORE = ROOT / "bench" / ".stores" / "scale-1"

BARE_APP = """import pandas as pd
import plotly.graph_objects as go
import streamlit as st

period = st.sidebar.selectbox("Period", ["Last 7 days", "Last 30 days", "Last 90 days"],
                              index=1, key="period")
channels = st.sidebar.multiselect("Channels", ["Direct", "Email", "Paid search"],
                                  key="channels", placeholder="All channels")
n = int(period.split()[1])
st.title("Bare")
st.caption(f"{period} · {channels}")
days = pd.date_range("2026-01-01", periods=n)
fig = go.Figure()
fig.add_scatter(x=days, y=[(i % 7) * (2 if channels else 1) for i in range(n)],
                mode="lines+markers")
fig.add_scatter(x=days, y=[i % 5 for i in range(n)], mode="lines")
st.plotly_chart(fig, key="trend")
"""

# The trend chart's figures, to tell a redrawn chart from the one before the click.
SIGNATURE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return null;
    const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    if (!gd || !gd.data || !gd.data.length || !gd.querySelector('.main-svg')) return null;
    // _fullData: y decoded (data holds it base64-packed).
    const t = (gd._fullData || gd.data)[0];
    const sum = Array.from(t.y || []).reduce((a, b) => a + (+b || 0), 0);
    return JSON.stringify([gd.data.length, (t.x || []).length, String((t.x || [])[0]), sum]);
}"""
CHANGED = f"old => {{ const s = ({SIGNATURE})(); return s !== null && s !== old ? s : null; }}"


def click_period(page, option: str):
    """The period's list opened, and its ``option`` to click (timed from that click)."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    return page.get_by_role("option", name=option, exact=True)


def click_channel(page, channel: str | None):
    """``channel`` to pick in the opened list, or Email's remove button when None."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    if channel is None:
        return sidebar.get_by_role("button", name="Remove Email")
    sidebar.locator('[data-testid="stMultiSelect"]').filter(has_text="Channels").click()
    return page.get_by_role("option", name=channel, exact=True)


def renderer_cpu() -> float:
    """CPU seconds of this process's Chromium renderers: the page's own drawing (its script,
    style, layout and paint), without Playwright's driver, whose polling for the redrawn
    chart grows with the wait, and without Chromium's browser and GPU processes."""
    total = 0.0
    for d in Path("/proc").iterdir():
        try:
            if not d.name.isdigit() or b"--type=renderer" not in (d / "cmdline").read_bytes():
                continue
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            pid = int(d.name)
            while pid > 1 and pid != os.getpid():
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if pid == os.getpid():
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


def click_trend(page, kpi: str):
    """The Overview's trend picker opened, and its ``kpi`` to click."""
    picker = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(
        has_text="Trend")
    picker.click()
    option = page.get_by_role("option", name=kpi, exact=True)
    try:
        option.wait_for(timeout=2000)
    except Exception:   # the click after the channels' list was closed only focused it
        picker.click()
    return option


# The page's WebSocket frames as (perf_counter, bytes; -1 for one the page sent), recorded by
# run(): where a click's time goes (timed()).
FRAMES: list[tuple[float, int]] = []


def timed(page, target, server_pid: int) -> tuple[float, ...]:
    """Seconds from clicking ``target`` to the chart redrawn, and the server's, the browser's
    and its renderer's CPU seconds meanwhile; then, in seconds from the click, when the page
    sent the rerun, when the server's first and last messages before the redraw came, and
    how many they were and their bytes."""
    old = page.evaluate(SIGNATURE)
    cpu, chromium, drawing = cpu_seconds(server_pid), browser_cpu(server_pid), renderer_cpu()
    FRAMES.clear()
    t = time.perf_counter()
    target.click()
    page.wait_for_function(CHANGED, arg=old, timeout=120_000, polling="raf")
    took = time.perf_counter() - t
    got = [(at - t, n) for at, n in FRAMES if 0 <= at - t <= took and n >= 0]
    sent = next((at - t for at, n in FRAMES if n < 0 and at >= t), took)
    frames = (sent, got[0][0] if got else took, got[-1][0] if got else took, len(got),
              sum(n for _, n in got))
    # What the page still does once the chart is drawn (the script's last elements, stale
    # ones cleared) is part of the click's cost: counted after the page has settled.
    time.sleep(0.3)
    # A multiselect's list stays open after a pick: closed, not timed.
    page.keyboard.press("Escape")
    return (took, cpu_seconds(server_pid) - cpu, browser_cpu(server_pid) - chromium,
            renderer_cpu() - drawing, *frames)


def fmt(xs: list[float], unit: str = "ms") -> str:
    xs = [x * 1000 for x in xs]
    return f"{statistics.median(xs):.0f} {unit} ({min(xs):.0f}–{max(xs):.0f})"


def run(app: Path, store: Path, clicks: int, shared: bool, stock: bool,
        trend: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    server = Server(app, store, shared=shared)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = b.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on("websocket", lambda ws: (
                ws.on("framereceived", lambda m: FRAMES.append((time.perf_counter(), len(m)))),
                ws.on("framesent", lambda m: FRAMES.append((time.perf_counter(), -1)))))
            page.goto(server.url)
            page.wait_for_function(SIGNATURE, timeout=300_000)
            # Both states of each kind drawn once (the first query of a view is no click a
            # viewer repeats), then the clicks timed.
            kinds = {
                "period": lambda i: click_period(page, ("Last 90 days", "Last 30 days")[i % 2]),
                "channel": lambda i: click_channel(page, ("Email", None)[i % 2]),
            }
            if trend:
                kinds["trend"] = lambda i: click_trend(page, ("Orders", "Net sales")[i % 2])
            for kind, target in kinds.items():
                load = loadavg()
                for i in range(2):
                    timed(page, target(i), server.proc.pid)
                rows = [timed(page, target(i), server.proc.pid) for i in range(clicks)]
                out[kind] = {"times": [r[0] for r in rows], "server": [r[1] for r in rows],
                             "browser": [r[2] for r in rows], "renderer": [r[3] for r in rows],
                             "frames": [r[4:] for r in rows], "load": f"{load} → {loadavg()}"}
            if stock:
                page.goto(f"{server.url}/stock")
                page.wait_for_function(SIGNATURE, timeout=300_000)
                load = loadavg()
                target = kinds["period"]
                for i in range(2):
                    timed(page, target(i), server.proc.pid)
                rows = [timed(page, target(i), server.proc.pid) for i in range(clicks)]
                out["stock period"] = {"times": [r[0] for r in rows],
                                       "server": [r[1] for r in rows],
                                       "browser": [r[2] for r in rows],
                                       "renderer": [r[3] for r in rows],
                                       "frames": [r[4:] for r in rows],
                                       "load": f"{load} → {loadavg()}"}
            b.close()
    finally:
        log = server.stop()
    if "Traceback" in log:
        print("server log: " + log[log.index("Traceback"):][:2000])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, default=STORE)
    ap.add_argument("--clicks", type=int, default=10, help="timed clicks of each kind")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--compare", metavar="REV", help="alternate with the app of commit REV")
    ap.add_argument("--shared", action="store_true", help="as a hosted link (KPILIB_SHARED=1)")
    ap.add_argument("--stock", action="store_true", help="also the Stock page's period change")
    ap.add_argument("--bare", action="store_true", help="also a bare Streamlit app: the floor")
    args = ap.parse_args()
    if not (args.store / "manifest.json").exists():
        sys.exit(f"no store at {args.store}: python bench/bench.py builds it")
    with tempfile.TemporaryDirectory() as tmp:
        apps = [("this tree", ROOT)]
        if args.compare:
            apps.insert(0, (args.compare, extract(args.compare, Path(tmp) / args.compare)))
        if args.bare:
            (Path(tmp) / "bare").mkdir()
            (Path(tmp) / "bare" / "app.py").write_text(BARE_APP)
            apps.append(("bare app", Path(tmp) / "bare"))
        for rnd in range(args.rounds):
            for label, app in apps:
                got = run(app, args.store, args.clicks, args.shared,
                          args.stock and label != "bare app", label != "bare app")
                for kind, r in got.items():
                    print(f"[{label}, round {rnd + 1}] {kind} change → chart redrawn: "
                          f"{fmt(r['times'])}, median of {len(r['times'])}; server CPU "
                          f"{fmt(r['server'])}, browser CPU {fmt(r['browser'])} (its renderer "
                          f"{fmt(r['renderer'])}) per click; "
                          f"load {r['load']}", flush=True)
                    f = list(zip(*r["frames"]))
                    print(f"    where it went (medians, ms from the click): rerun sent "
                          f"{statistics.median(f[0]) * 1000:.0f}, the server's first message "
                          f"{statistics.median(f[1]) * 1000:.0f}, its last before the redraw "
                          f"{statistics.median(f[2]) * 1000:.0f} ({statistics.median(f[3]):.0f} "
                          f"messages, {statistics.median(f[4]) / 1000:.0f} KB), chart drawn "
                          f"{statistics.median(r['times']) * 1000:.0f}", flush=True)


if __name__ == "__main__":
    main()
