"""Many viewers on a hosted link: N browser contexts changing the Overview's filters at once.

The app runs as a hosted link does (KPILIB_SHARED=1, no password) on the demo shop, on
127.0.0.1. One Chromium (Debian's, never `playwright install`), N contexts, each a viewer
that for a fixed time changes the period or the channel, waits until the Overview is redrawn,
records how long that took, thinks 1–2 s (seeded) and goes on. Printed per N: median, p95
and max redraw, the server's CPU seconds and peak memory (that process only, by its pid) and
the load average before and after.

    python bench/load.py --viewers 1 5 10 20 --duration 60
    python bench/load.py --viewers 10 --rounds 3 --compare 709350e   # before / after, alternating

``--compare REV`` runs the app of commit REV (extracted with `git archive` into a temporary
folder, the working tree untouched) and this working tree's app one right after the other for
each N and round: the machine is shared and noisy, and only neighbouring runs compare.
``--pin 0:1`` runs the server on core 0 and Chromium (all N viewers' browsers) on core 1, as
on a host whose viewers' browsers run on their own machines (other processes of the machine
still run on both).

``--clients protocol`` replaces the browsers by viewers that speak Streamlit's own websocket
protocol (what the browser sends: a rerun with the widgets' new values; what it receives:
every element of the page, up to the script's end), so the time measured is the hosted
server's alone: on a real hosted link each viewer's browser draws on the viewer's machine,
while here ten Chromium contexts would take the same two cores as the server. The page's
drawing in a browser (measured by the default ``--clients browser``) comes on top.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser import ARGS, CHROMIUM, free_port  # noqa: E402

STORE = ROOT / "bench" / ".stores" / "demo-shop"

# Two fixed cycles of filter states, each one change (the period or the channel) from the
# last, starting and ending at the last 30 days, all channels (the app's default when the data
# stops mid-month; the demo shop's ends on a month's last day and opens on Last month, and a
# viewer's first click sets the period and channel of its cycle's second state). Viewers of
# the same cycle ask for the same figures, a few seconds apart; the two cycles share only
# their first state.
CYCLES = (
    (("Last 30 days", None), ("Last 90 days", None), ("Last 90 days", "Email"),
     ("Last 7 days", "Email"), ("Last 7 days", None), ("Last month", None),
     ("Last month", "Paid search"), ("Last 30 days", "Paid search")),
    (("Last 30 days", None), ("Year to date", None), ("Year to date", "Organic search"),
     ("Last 90 days", "Organic search"), ("Last 90 days", None), ("Last 90 days", "Direct"),
     ("Last 30 days", "Direct")),
)

# Redrawn: the script has run (the page's header caption names the new period or channel,
# and the app is no longer running) and the chart is drawn.
DRAWN = """old => {
    const app = document.querySelector('[data-testid="stApp"]');
    const cap = document.querySelector('[data-testid="stMain"] [data-testid="stCaptionContainer"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && cap && cap.innerText !== old
        && document.querySelector('[data-testid="stPlotlyChart"] .main-svg') !== null;
}"""
CAPTION = '[data-testid="stMain"] [data-testid="stCaptionContainer"]'


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu(server: int) -> float:
    """CPU seconds of this process's other descendants (Chromium and Playwright's driver)."""
    parent, cpu = {}, {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(d.name)] = int(stat[1])
            cpu[int(d.name)] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def mine(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 1)
            if pid == os.getpid():
                return True
        return False

    return sum(c for pid, c in cpu.items() if pid != server and mine(pid))


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """`streamlit run app.py` of ``app`` (a checkout) on ``store``, as a hosted link
    (shared mode) unless ``shared`` is false."""

    def __init__(self, app: Path, store: Path, shared: bool = True,
                 cpus: set[int] | None = None, nice: int = 0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KPILIB_")}
        env.update(KPILIB_STORE=str(store), **({"KPILIB_SHARED": "1"} if shared else {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=app, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            # --pin: the server on its own cores, as on a host whose viewers' browsers run
            # on their own machines.
            preexec_fn=lambda: (os.sched_setaffinity(0, cpus) if cpus else None,
                                os.nice(nice) if nice else None))
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("streamlit did not start")
                time.sleep(0.3)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


async def change(page, old: tuple, new: tuple) -> None:
    """One click (or two) in the sidebar from filter state ``old`` to ``new``."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    if old[0] != new[0]:
        await sidebar.locator('[data-testid="stSelectbox"]').first.click()
        await page.get_by_role("option", name=new[0], exact=True).click()
    elif new[1] is None:
        await sidebar.get_by_role("button", name=f"Remove {old[1]}").click()
    else:
        # The channels' box (the sidebar has devices', countries' and categories' too).
        await sidebar.locator('[data-testid="stMultiSelect"]').filter(has_text="Channels") \
            .click()
        await page.get_by_role("option", name=new[1], exact=True).click()
        await page.keyboard.press("Escape")


async def drive(i: int, ready, go, duration: float, seed: int, times: list, errors: list,
                first, redraw) -> None:
    """What every viewer does: its first page (``first()``, then ``ready()``), a wait for
    ``go`` (every viewer's first page drawn), then its cycle of filter changes for
    ``duration`` seconds, 1–2 s apart, each timed by ``redraw(old, new)`` (seconds). An error
    is counted and shown; the other viewers go on."""
    rng = random.Random(seed * 1000 + i)
    cycle = CYCLES[i % len(CYCLES)]
    old = new = None
    try:
        await first()
    except Exception as e:
        errors.append(f"viewer {i}, first page: {type(e).__name__}: {str(e).splitlines()[0]}")
        return
    finally:
        ready()
    start = await go
    try:
        # The viewers do not all click in the same second.
        await asyncio.sleep(rng.uniform(0, 2))
        step = 0
        while time.perf_counter() - start < duration:
            old, new = cycle[step % len(cycle)], cycle[(step + 1) % len(cycle)]
            times.append(await redraw(old, new))
            step += 1
            await asyncio.sleep(rng.uniform(1, 2))
    except Exception as e:
        errors.append(f"viewer {i}, {old} → {new}: {type(e).__name__}: "
                      f"{str(e).splitlines()[0]}")


async def viewer(browser, url: str, i: int, ready, go, duration: float, seed: int,
                 times: list, errors: list):
    """One viewer in a browser context of its own, from the Overview. Returns its context,
    still open."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    async def first():
        # The first pages of N viewers at once, on a loaded machine, can take longer than
        # Playwright's 30 s default: the timed redraws start only after all are drawn.
        await page.goto(url, timeout=300_000)
        await page.wait_for_function(DRAWN, arg="", timeout=300_000, polling=50)

    async def redraw(old, new) -> float:
        caption = await page.locator(CAPTION).first.inner_text()
        t = time.perf_counter()
        await change(page, old, new)
        await page.wait_for_function(DRAWN, arg=caption, timeout=120_000, polling=50)
        return time.perf_counter() - t

    await drive(i, ready, go, duration, seed, times, errors, first, redraw)
    return context


class Session:
    """One viewer without a browser: a websocket speaking Streamlit's protocol to the app."""

    def __init__(self, ws):
        self.ws = ws
        self.widgets: dict[str, str] = {}   # label → widget id, from the elements received
        self.texts: list[str] = []          # the last run's markdown and captions

    async def rerun(self, states=()) -> float:
        """Ask for a rerun with these widget states; seconds until the script has finished
        and every element of the page has arrived. An exception shown on the page raises."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.widget_states.widgets.extend(states)
        self.texts = []
        t = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "script_finished":
                return time.perf_counter() - t
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                el = fwd.delta.new_element
                what = el.WhichOneof("type")
                if what in ("selectbox", "multiselect"):
                    self.widgets[getattr(el, what).label] = getattr(el, what).id
                elif what == "markdown":
                    self.texts.append(el.markdown.body)
                elif what == "exception":
                    raise RuntimeError(el.exception.message)

    def states(self, state: tuple):
        """The sidebar's period and channel as a browser sends them (option labels)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        period, channel = state
        channels = WidgetState(id=self.widgets["Channels"])
        channels.string_array_value.data.extend([channel] if channel else [])
        return [WidgetState(id=self.widgets["Period"], string_value=period), channels]


async def protocol_viewer(url: str, i: int, ready, go, duration: float, seed: int,
                          times: list, errors: list):
    """:func:`viewer` without a browser: the same cycles, think times and first page."""
    from websockets.asyncio.client import connect

    ws = await connect(url.replace("http", "ws", 1) + "/_stcore/stream", origin=url,
                       subprotocols=["streamlit"], max_size=None, open_timeout=300)
    session = Session(ws)

    async def redraw(old, new) -> float:
        return await session.rerun(session.states(new))

    await drive(i, ready, go, duration, seed, times, errors, session.rerun, redraw)
    return ws


async def run_protocol(server: Server, n: int, duration: float, seed: int) -> dict:
    go = asyncio.get_running_loop().create_future()
    waiting = [n]

    def ready():
        waiting[0] -= 1
        if not waiting[0]:
            go.set_result(time.perf_counter())

    times: list[float] = []
    errors: list[str] = []
    tasks = [asyncio.ensure_future(protocol_viewer(server.url, i, ready, go, duration, seed,
                                                   times, errors)) for i in range(n)]
    start = await go
    cpu0 = cpu_seconds(server.proc.pid)
    sockets = await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    cpu = cpu_seconds(server.proc.pid) - cpu0
    for ws in sockets:
        await ws.close()
    return {"times": times, "errors": errors, "cpu": cpu, "chromium": 0.0, "wall": wall,
            "peak": peak_mb(server.proc.pid)}


async def run(app: Path, n: int, duration: float, seed: int, store: Path,
              pin: tuple[set[int], set[int]] | None = None, clients: str = "browser",
              nice: int = 0) -> dict:
    from playwright.async_api import async_playwright

    load_before = loadavg()
    if clients == "protocol":
        server = Server(app, store, cpus=pin[0] if pin else None, nice=nice)
        try:
            r = await run_protocol(server, n, duration, seed)
        finally:
            log = server.stop()
        if "Traceback" in log:
            r["errors"].append("server log: " + log[log.index("Traceback"):][:2000])
        return {"n": n, **r, "load": f"{load_before} → {loadavg()}"}
    server = Server(app, store, cpus=pin[0] if pin else None, nice=nice)
    mine = os.sched_getaffinity(0)
    if pin:   # Playwright's driver and Chromium inherit this process's cores
        os.sched_setaffinity(0, pin[1])
    times: list[float] = []
    errors: list[str] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            # Every viewer's first page drawn before the clock starts: the redraws timed are
            # filter changes, not ten first loads at once.
            go = asyncio.get_running_loop().create_future()
            waiting = [n]

            def ready():
                waiting[0] -= 1
                if not waiting[0]:
                    go.set_result(time.perf_counter())

            tasks = [asyncio.ensure_future(viewer(browser, server.url, i, ready, go, duration,
                                                  seed, times, errors)) for i in range(n)]
            start = await go
            cpu0, chromium0 = cpu_seconds(server.proc.pid), browser_cpu(server.proc.pid)
            contexts = await asyncio.gather(*tasks)
            wall = time.perf_counter() - start
            cpu = cpu_seconds(server.proc.pid) - cpu0
            peak = peak_mb(server.proc.pid)
            # Before the contexts close: a closed page's renderer takes its CPU time with it.
            chromium = browser_cpu(server.proc.pid) - chromium0
            for c in contexts:
                await c.close()
            await browser.close()
    finally:
        log = server.stop()
        os.sched_setaffinity(0, mine)
    if "Traceback" in log:
        errors.append("server log: " + log[log.index("Traceback"):][:2000])
    return {"n": n, "times": times, "errors": errors, "cpu": cpu, "chromium": chromium,
            "wall": wall,
            "peak": peak, "load": f"{load_before} → {loadavg()}"}


def summary(r: dict) -> str:
    t = sorted(r["times"])
    if not t:
        return f"{r['n']:>3} viewers: no redraw measured; {r['errors'][:3]}"
    p95 = t[min(len(t) - 1, round(0.95 * (len(t) - 1)))]
    return (f"{r['n']:>3} viewers: redraw median {statistics.median(t):.2f} s, p95 {p95:.2f} s, "
            f"max {t[-1]:.2f} s ({len(t)} redraws); server CPU {r['cpu']:.0f} s, Chromium "
            f"{r['chromium']:.0f} s in {r['wall']:.0f} s; server peak RSS {r['peak']:.0f} MB; load {r['load']}"
            + (f"; {len(r['errors'])} errors: {r['errors'][:3]}" if r["errors"] else ""))


def extract(rev: str, into: Path) -> Path:
    """Commit ``rev`` of this repository as files (no .git, nothing else touched)."""
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewers", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--duration", type=float, default=60, help="seconds each run lasts")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--compare", metavar="REV", help="alternate with the app of commit REV")
    ap.add_argument("--store", type=Path, default=STORE)
    ap.add_argument("--clients", choices=("browser", "protocol"), default="browser",
                    help="viewers in Chromium, or speaking Streamlit's protocol (no drawing)")
    ap.add_argument("--nice", type=int, default=0, metavar="N",
                    help="the server's niceness (negative: ahead of the machine's other work, "
                         "as on a host that runs only the app; root only)")
    ap.add_argument("--pin", metavar="SERVER:BROWSERS",
                    help="cores for the server and for Chromium (taskset), e.g. 0:1")
    args = ap.parse_args()
    pin = None
    if args.pin:
        pin = tuple({int(c) for c in part.split(",")} for part in args.pin.split(":"))
    if not (args.store / "manifest.json").exists() and not any(args.store.glob("*")):
        subprocess.run([sys.executable, "-m", "kpilib", "demo", "--store", str(args.store)],
                       cwd=ROOT, check=True)
    print(f"{os.cpu_count()} cores; store {args.store}; {args.duration:.0f} s a run"
          + (f"; server on cores {sorted(pin[0])}, Chromium on {sorted(pin[1])}" if pin else "")
          + ("; viewers speak the protocol, no browser" if args.clients == "protocol" else "")
          + (f"; server at niceness {args.nice}" if args.nice else ""),
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        apps = [("this tree", ROOT)]
        if args.compare:
            rev = subprocess.run(["git", "rev-parse", "--short", args.compare], cwd=ROOT,
                                 check=True, capture_output=True, text=True).stdout.strip()
            apps.insert(0, (rev, extract(args.compare, Path(tmp) / rev)))
        results: dict[tuple[str, int], list[dict]] = {}
        for n in args.viewers:
            for rnd in range(args.rounds):
                for label, app in apps:
                    r = asyncio.run(run(app, n, args.duration, args.seed + rnd, args.store,
                                        pin, args.clients, args.nice))
                    results.setdefault((label, n), []).append(r)
                    print(f"[{label}, round {rnd + 1}] {summary(r)}", flush=True)
        print("\nAll rounds together:")
        for (label, n), rs in results.items():
            merged = {**rs[0], "times": [t for r in rs for t in r["times"]],
                      "errors": [e for r in rs for e in r["errors"]],
                      "cpu": sum(r["cpu"] for r in rs),
                      "chromium": sum(r["chromium"] for r in rs), "wall": sum(r["wall"] for r in rs),
                      "peak": max(r["peak"] for r in rs),
                      "load": ", ".join(r["load"] for r in rs)}
            print(f"[{label}] {summary(merged)}")


if __name__ == "__main__":
    main()
