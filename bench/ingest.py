"""Benchmark: what an upload costs, and whether that follows the upload or the store.

    python bench/ingest.py                       # 3 rounds, the code before (main) and after
    python bench/ingest.py --rounds 1 --cases small-50k,large-50k
    python bench/ingest.py --before none         # this tree only

Cases: the same 50 k-row month (November 2026, after both stores' last month) into the small
shop (bench/.stores/scale-0.05) and into the large one (scale-1), and a 1 M-row month into the
large one. Each run, in a process of its own on a copy of the store (hard links: a store never
writes a file in place): the app's Overview drawn once (AppTest; the process is then a server
that has shown the shop), the month uploaded (timed), the Overview drawn again (timed from the
upload's end: the first page a viewer sees after it), the upload undone (timed). The code
before (a git ref exported into a temporary folder) and after (this tree) run alternately,
one right after the other, with /proc/loadavg (1-minute) beside every figure: the machine is
shared. Not a test: it prints medians and min–max.

The month is made from the large store's rows: October's orders (channel, status, amounts)
cycled, re-dated over November under new order ids; 7 in 10 orders by existing customers (spread
over the whole customer list, so their earlier orders are in every month), 3 in 10 by new ones.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORES = ROOT / "bench" / ".stores"
CASES = {"small-50k": ("scale-0.05", 50_000), "large-50k": ("scale-1", 50_000),
         "large-1M": ("scale-1", 1_000_000)}


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def copy_store(src: Path, dst: Path) -> None:
    """A copy to upload into: every file hard-linked (Store writes new files and swaps them
    in, never writes into one), the JSON files copied."""
    shutil.copytree(src, dst, copy_function=os.link,
                    ignore=shutil.ignore_patterns(".staging", "write.lock", "*.tmp"))
    for f in dst.glob("*.json"):
        data = f.read_bytes()
        f.unlink()
        f.write_bytes(data)


def make_month(store: Path, rows: int, out: Path) -> None:
    """``rows`` orders of November 2026 as a CSV export (see the module's docstring)."""
    import duckdb

    m = json.loads((store / "manifest.json").read_text())
    october = str(store / m["tables"]["orders"]["2026-10"]["file"])
    # One file, or one per month of first orders (since the customers' layout of 2026-12-05).
    first = [str(store / p["file"]) for p in m["rollups"]["customer_first"].values()]
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("create table oct as select *, row_number() over (order by order_id) - 1 as k "
                "from read_parquet($f)", {"f": october})
    con.execute("create table cust as select customer_id, row_number() over "
                "(order by customer_id) - 1 as k from read_parquet($f)", {"f": first})
    n_cust = con.execute("select count(*) from cust").fetchall()[0][0]
    n_oct = con.execute("select count(*) from oct").fetchall()[0][0]
    con.sql("""
        select 'N' || lpad(i::varchar, 7, '0') as order_id,
               timestamp '2026-11-01' + to_seconds(i * 2592000 // $rows) as ordered_at,
               case when i % 10 < 3 then 'Z' || lpad(i::varchar, 7, '0')
                    else c.customer_id end as customer_id,
               o.channel, o.status, o.currency, o.gross_sales, o.discounts, o.shipping, o.tax,
               o.device, o.country
        from range($rows) r(i) join oct o on o.k = i % $n_oct
        join cust c on c.k = (i * 7919) % $n_cust
        order by i""", params={"rows": rows, "n_oct": n_oct, "n_cust": n_cust}
            ).write_csv(str(out))


CHILD = r"""
import json, os, resource, sys, time
code, store_path, csv = sys.argv[1:4]
sys.path.insert(0, code)
os.environ["KPILIB_STORE"] = store_path
from streamlit.testing.v1 import AppTest
from kpilib import Store
from kpilib.ingest import ingest

def load():
    return float(open("/proc/loadavg").read().split()[0])

def cpu():   # this process's CPU seconds, DuckDB's threads included
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def page():
    at = AppTest.from_file(os.path.join(code, "app.py"), default_timeout=300)
    at.run()
    assert not at.exception, at.exception

out = {}
page()   # a server that has shown the shop: imports done, the store's cache file built
store = Store(store_path)
out["load_ingest"] = load()
t, c = time.perf_counter(), cpu()
ingest(store, [csv])
out["ingest"], out["ingest_cpu"] = time.perf_counter() - t, cpu() - c
t, c = time.perf_counter(), cpu()
page()
out["first_page"], out["first_page_cpu"] = time.perf_counter() - t, cpu() - c
out["load_undo"] = load()
t, c = time.perf_counter(), cpu()
store.undo()
out["undo"], out["undo_cpu"] = time.perf_counter() - t, cpu() - c
print(json.dumps(out))
"""


PREPARE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from kpilib import Store
store = Store(sys.argv[2])
store.refresh_rollups()
store.connect()
"""


def prepare(code: Path, store: str, work: Path) -> Path:
    """A copy of ``store`` as ``code`` keeps it: the rollups it defines otherwise built
    (a store written by other code), its file of small tables made: not timed."""
    base = work / f"base-{code.name}-{store}"
    if not base.exists():
        copy_store(STORES / store, base)
        subprocess.run([sys.executable, "-c", PREPARE, str(code), str(base)], check=True,
                       cwd=code, capture_output=True)
    return base


def run_child(code: Path, case: str, csv: Path, work: Path) -> dict:
    copy = work / f"store-{case}"
    shutil.rmtree(copy, ignore_errors=True)
    copy_store(prepare(code, CASES[case][0], work), copy)
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, str(code), str(copy), str(csv)],
                           capture_output=True, text=True, cwd=code, check=False)
        if p.returncode:
            raise RuntimeError(p.stderr[-3000:])
        return json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def export(ref: str, into: Path) -> Path:
    """The tree of git ``ref`` in a folder (the code before)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def fmt(rs: list[dict], step: str, load: str) -> str:
    """The median of a step's seconds and CPU seconds, each run's beside with its load."""
    wall, cpu = (statistics.median(r[k] for r in rs) for k in (step, step + "_cpu"))
    each = ", ".join(f"{r[step]:.1f} s @{r[load]:.1f}" for r in rs)
    return f"median {wall:.2f} s, CPU {cpu:.2f} s ({each})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", default="main", help="git ref of the code before, or 'none'")
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    cases = args.cases.split(",")
    work = Path(tempfile.mkdtemp(prefix="ingest-", dir=STORES))
    try:
        codes = {"after": ROOT}
        if args.before != "none":
            codes = {"before": export(args.before, work / "before"), **codes}
        source = work / "store-source"
        copy_store(STORES / "scale-1", source)
        csvs = {}
        for rows in sorted({CASES[c][1] for c in cases}):
            csvs[rows] = work / f"orders-2026-11-{rows}.csv"
            make_month(source, rows, csvs[rows])
        shutil.rmtree(source)
        print(f"machine: {os.cpu_count()} cores; months: "
              + ", ".join(f"{r:,} rows {p.stat().st_size / 1e6:.0f} MB" for r, p in csvs.items()),
              flush=True)
        results: dict = {}
        for rnd in range(args.rounds):
            for case in cases:
                for name, code in codes.items():
                    r = run_child(code, case, csvs[CASES[case][1]], work)
                    results.setdefault((case, name), []).append(r)
                    print(f"round {rnd + 1} {case:10s} {name:6s} ingest {r['ingest']:5.1f} s "
                          f"(CPU {r['ingest_cpu']:5.1f} s) @{r['load_ingest']:.1f}  first page "
                          f"{r['first_page']:4.1f} s (CPU {r['first_page_cpu']:4.1f} s)  undo "
                          f"{r['undo']:5.1f} s (CPU {r['undo_cpu']:5.1f} s) @{r['load_undo']:.1f}",
                          flush=True)
        print("\nmedians (each run: seconds @ 1-minute load average)")
        for (case, name), rs in results.items():
            print(f"{case:10s} {name:6s}")
            print(f"  ingest     {fmt(rs, 'ingest', 'load_ingest')}")
            print(f"  first page {fmt(rs, 'first_page', 'load_ingest')}")
            print(f"  undo       {fmt(rs, 'undo', 'load_undo')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
