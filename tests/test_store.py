"""kpilib/store/manifest.py: atomic writes, recovery after an interrupted write, undo and
deletion, one writer at a time (the lock), a full disk."""
import os
from pathlib import Path

import duckdb
import pytest

from helpers import FEB, ORDER_HEADER, snapshot, total, without_version, write_csv
from kpilib import Store
from kpilib.ingest import ingest


def test_store_layout_and_manifest(tiny_store):
    m = tiny_store.manifest
    assert m["tables"]["orders"].keys() == {"2025-01", "2025-02", "2025-03"}
    assert m["tables"]["orders"]["2025-02"]["rows"] == 6       # o2..o7
    assert m["tables"]["products"]["all"]["rows"] == 6
    for parts in m["tables"].values():
        for p in parts.values():
            assert (tiny_store.path / p["file"]).exists()
    src = {s["name"]: s for s in tiny_store.sources()}
    assert src["orders.csv"]["rows"] == 8 and len(src["orders.csv"]["sha256"]) == 64
    assert src["orders.csv"]["months"] == ["2025-01", "2025-02", "2025-03"]


def test_interrupted_write_leaves_store_unchanged(store_copy, tmp_path):
    before = snapshot(store_copy)
    f = write_csv(tmp_path / "more.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,99,0\n")

    def crash():
        raise KeyboardInterrupt("simulated crash after staging")

    with pytest.raises(KeyboardInterrupt):
        ingest(store_copy, [f], after_stage=crash)
    assert snapshot(store_copy) == before
    check_total = total(store_copy, "orders", FEB)
    assert check_total == 5


def test_recover_removes_files_of_an_uncommitted_write(store_copy):
    before = snapshot(store_copy)
    # What a process killed between moving files and replacing the manifest leaves behind:
    orphan = store_copy.path / "parts" / "orders" / "month=2025-02" / "part-dead.parquet"
    orphan.write_bytes(b"PAR1")
    (store_copy.path / ".staging" / "x").mkdir(parents=True)
    (store_copy.path / "manifest.json.tmp").write_text("{")
    store_copy.recover()
    assert snapshot(store_copy) == before


def test_previous_partition_files_are_kept_for_undo(store_copy, tmp_path):
    old = store_copy.manifest["tables"]["orders"]["2025-02"]["file"]
    ingest(store_copy, [write_csv(tmp_path / "u.csv", ORDER_HEADER
                                  + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")])
    rec = store_copy.manifest["ingests"][-1]
    assert rec["partitions"]["orders"]["2025-02"]["old"] == old
    assert (store_copy.path / old).exists()
    store_copy.recover()
    assert (store_copy.path / old).exists()


# --- killed at a random point: the store is as before or fully updated, never between --------
KILL_CHILD = """
import sys
sys.path.insert(0, {root!r})
from kpilib import Store
from kpilib.ingest import ingest
ingest(Store(sys.argv[1]), sys.argv[2:])
"""


def content(store: Store) -> dict:
    """What the store holds, independent of file names: rows and a hash of every table."""
    store.recover()
    con = store.connect()
    from kpilib.schema import TABLES
    return {t: con.execute(f"select count(*), coalesce(sum(hash(columns(*))), 0) "
                           f"from (select * from {t})").fetchall()[0] for t in TABLES}


def test_sigkill_mid_ingest_leaves_before_or_after(tmp_path, tiny_store, demo_shop):
    import random
    import shutil
    import signal
    import subprocess
    import sys
    import time

    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("orders", "order_items", "traffic"):
        getattr(demo_shop, name).to_csv(exports / f"{name}.csv", index=False)
    files = [str(p) for p in sorted(exports.glob("*.csv"))]
    root = str(Path(__file__).resolve().parent.parent)
    child = [sys.executable, "-c", KILL_CHILD.format(root=root)]

    def fresh(name):
        shutil.copytree(tiny_store.path, tmp_path / name)
        return Store(tmp_path / name)

    before = content(fresh("reference_before"))
    ref = fresh("reference_after")
    t0 = time.time()
    subprocess.run([*child, str(ref.path), *files], check=True, timeout=300)
    duration = time.time() - t0
    after = content(ref)
    assert after != before

    # A killed process cannot remove its temporary folder: keep them in the test's own.
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    rng = random.Random(4)
    for i in range(6):
        store = fresh(f"killed_{i}")
        p = subprocess.Popen([*child, str(store.path), *files], env=env)
        time.sleep(rng.uniform(0.2, duration * 1.1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        got = content(store)  # content() recovers first, as the next writer would
        # Which of the two it is depends on when the kill landed; both are correct.
        assert got in (before, after), f"kill {i}: the store is between two states"
        assert not (store.path / ".staging").exists()


def test_undo_restores_the_store_exactly(store_copy, tmp_path):
    before_files = {k: v for k, v in snapshot(store_copy).items() if k.startswith("parts/")}
    before = without_version(store_copy.manifest)
    f = write_csv(tmp_path / "feb_update.csv", ORDER_HEADER
                  + "o6,2025-02-12 20:00,bob,email,refunded,45,0\n"
                  + "o9,2025-04-14 10:00,erin,email,paid,10,0\n")
    ingest(store_copy, [f])
    assert total(store_copy, "gross_sales", FEB) == 335
    store_copy.undo()
    assert without_version(store_copy.manifest) == before
    assert {k: v for k, v in snapshot(store_copy).items() if k.startswith("parts/")} == before_files
    assert total(store_copy, "gross_sales", FEB) == 320
    assert "2025-04" not in store_copy.months("orders")


def test_delete_month_and_undo(store_copy):
    before = without_version(store_copy.manifest)
    store_copy.delete_month("orders", "2025-02")
    assert total(store_copy, "orders", FEB) == 0
    assert "2025-02" not in store_copy.months("orders")
    store_copy.undo()
    assert without_version(store_copy.manifest) == before
    assert total(store_copy, "orders", FEB) == 5


def test_undo_with_nothing_to_undo(tmp_path):
    with pytest.raises(ValueError, match="nothing to undo"):
        Store(tmp_path / "empty").undo()


# --- issue 28: the store keeps what undo needs, and no more ------------------------------------
def store_files(store: Store) -> list[str]:
    """Every data file (cache/ is derived and cleans itself)."""
    return sorted(str(p.relative_to(store.path)) for p in store.path.rglob("*")
                  if p.is_file() and p.relative_to(store.path).parts[0] != "cache")


def test_ingest_and_undo_cycles_leave_a_bounded_number_of_files(store_copy, tmp_path):
    """Each upload supersedes some fifty rollup files, and each undo as many: the next write
    deletes those no manifest refers to, so 13 cycles leave what one left."""
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    counts = []
    for _ in range(13):
        ingest(store_copy, [f])
        store_copy.undo()
        counts.append(len(store_files(store_copy)))
    assert counts[-1] == counts[0], counts
    assert total(store_copy, "orders", FEB) == 5


def test_undo_reaches_back_as_many_uploads_as_the_setting_says(store_copy, tmp_path):
    """undo_uploads = 3: five uploads of one February order each; the three last can be
    undone, one by one, and the files only the two first could restore are deleted."""
    store_copy._save_settings({"undo_uploads": 3})
    feb = store_copy.manifest["tables"]["orders"]["2025-02"]["file"]
    for i in range(5):
        ingest(store_copy, [write_csv(tmp_path / f"u{i}.csv", ORDER_HEADER
                                      + f"n{i},2025-02-14 10:00,erin,email,paid,10,0\n")])
    assert total(store_copy, "orders", FEB) == 10           # 5 + n0..n4
    ingest(store_copy, [write_csv(tmp_path / "stock.csv", "date,sku,on_hand\n2025-02-01,A,1\n")])
    # Superseded February files: the tiny store's and those of n0..n4 minus the live one.
    # Six uploads in all; the three last (n3, n4, stock) are undoable, so only n3's and n4's
    # previous files (after n2, after n3) are kept beside the live file (after n4).
    february = sorted((store_copy.path / "parts" / "orders" / "month=2025-02").iterdir())
    assert len(february) == 3 and not (store_copy.path / feb).exists()
    for left in (10, 9, 8):     # stock, then n4, then n3 taken back: 5 + n0..n2 left
        store_copy.undo()
        assert total(store_copy, "orders", FEB) == left
    with pytest.raises(ValueError, match="only the last 3 uploads can be undone"):
        store_copy.undo()
    assert total(store_copy, "orders", FEB) == 8


# --- issue 28: one writer at a time -------------------------------------------------------------
HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from kpilib import Store
with Store(sys.argv[1]).writing():
    print("holding", flush=True)
    time.sleep(120)
"""


WRITER = """
import sys
sys.path.insert(0, {root!r})
from kpilib import Store, store as st
from kpilib.ingest import ingest
st.manifest.LOCK_WAIT = float(sys.argv[2])
first = sys.argv[3] == "first"


def staged():
    # The first writer holds its write open until the test says go.
    print("staged", flush=True)
    sys.stdin.readline()


if not first:   # the second says when it has found the lock held
    holder, seen = st.manifest._holder, []

    def watched(lock):
        h = holder(lock)
        if h and not seen:
            seen.append(print("waiting", flush=True))
        return h
    st.manifest._holder = watched
try:
    ingest(Store(sys.argv[1]), sys.argv[4:], after_stage=staged if first else None)
except st.StoreBusy as e:
    print("refused:", e)
else:
    print("stored")
"""


ROOT = Path(__file__).resolve().parent.parent


def hold(store: Store):
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", HOLDER.format(root=str(ROOT)), str(store.path)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "holding\n"
    return p


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(store_copy, tmp_path,
                                                                 monkeypatch):
    import re
    import signal
    from kpilib import store as st

    holder = hold(store_copy)
    before = snapshot(store_copy)
    monkeypatch.setattr(st.manifest, "LOCK_WAIT", 0.3)
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    try:
        with pytest.raises(st.StoreBusy) as e:
            ingest(store_copy, [f])
        assert re.fullmatch(r"another upload is in progress since \d\d:\d\d "
                            rf"\(pid {holder.pid}\): try again when it has finished\.",
                            str(e.value)), str(e.value)
        with pytest.raises(st.StoreBusy):
            store_copy.undo()
        assert snapshot(store_copy) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The holder is gone without releasing it: its lock is stale and taken over.
    assert (store_copy.path / st.LOCK).exists()
    ingest(store_copy, [f])
    assert total(store_copy, "orders", FEB) == 6
    assert not (store_copy.path / st.LOCK).exists()


@pytest.mark.parametrize("wait", [0, 30])
def test_two_writers_at_once(store_copy, tmp_path, wait):
    """Two processes upload at once: the first holds its write open until the second has found
    the lock held. With no wait the second is refused with the holder's pid; with a wait it
    stores after the first. Either way nobody's files are deleted by the other and every
    figure is right."""
    import subprocess
    import sys
    files = [write_csv(tmp_path / f"w{i}.csv", ORDER_HEADER
                       + f"w{i},2025-02-14 10:00,erin,email,paid,{10 * (i + 1)},0\n")
             for i in range(2)]

    def writer(role, f):
        return subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT)),
                                 str(store_copy.path), str(wait), role, str(f)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    first = writer("first", files[0])
    assert first.stdout.readline() == "staged\n", first.communicate(timeout=60)
    second = writer("second", files[1])
    assert second.stdout.readline() == "waiting\n", second.communicate(timeout=60)
    # With no wait, the second is done (refused) while the first still holds the lock.
    late = None if wait else second.communicate(timeout=120)
    outs = [first.communicate("\n", timeout=180), late or second.communicate(timeout=180)]
    procs = [first, second]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    said = [out.strip() for out, _ in outs]
    stored = [i for i, s in enumerate(said) if s == "stored"]
    if wait:
        assert stored == [0, 1], said
    else:
        assert stored == [0], said
        assert said[1].startswith("refused: another upload is in progress since ") and \
            f"(pid {first.pid})" in said[1], said
    # Feb: the 5 stored orders (gross 320) and each upload that was stored (w0 10, w1 20).
    assert total(store_copy, "orders", FEB) == 5 + len(stored)
    assert total(store_copy, "gross_sales", FEB) == 320 + sum(10 * (i + 1) for i in stored)
    assert not (store_copy.path / ".staging").exists()


# --- issue 28: what a killed ingest leaves, a full disk ------------------------------------------
STALLED = """
import sys, time
sys.path.insert(0, {root!r})
from kpilib import Store
from kpilib.ingest import ingest
ingest(Store(sys.argv[1]), sys.argv[2:],
       after_stage=lambda: (print("staged", flush=True), time.sleep(120)))
"""


def test_the_next_write_removes_what_a_killed_ingest_left(store_copy, tmp_path):
    import signal
    import subprocess
    import sys
    from kpilib import store as st

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    p = subprocess.Popen([sys.executable, "-c", STALLED.format(root=str(ROOT)),
                          str(store_copy.path), str(f)], env=env, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "staged\n"   # files staged, the manifest not yet replaced
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert list(tmp.iterdir()) and (store_copy.path / ".staging").exists()
    assert (store_copy.path / st.LOCK).exists()
    # Another ingest, in another process, with the same temporary folder.
    g = write_csv(tmp_path / "o10.csv", ORDER_HEADER
                  + "o10,2025-02-15 10:00,erin,email,paid,10,0\n")
    subprocess.run([sys.executable, "-m", "kpilib", "ingest", "--store", str(store_copy.path),
                    str(g)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    assert list(tmp.iterdir()) == []
    assert not (store_copy.path / ".staging").exists()
    assert not (store_copy.path / st.LOCK).exists()
    assert total(store_copy, "orders", FEB) == 6     # 5 + o10; o9 was never committed


@pytest.mark.parametrize("error", [
    OSError(28, "No space left on device"),
    # DuckDB's, with the extra information its errors carry as JSON.
    duckdb.IOException('IO Error: Could not write file "/srv/shop/.staging/x/part.parquet": '
                       'No space left on device {"errno":"28","exception_type":"IO"}'),
], ids=["python", "duckdb"])
def test_a_full_disk_says_so_first(store_copy, tmp_path, monkeypatch, error):
    from kpilib import store as st

    before = snapshot(store_copy)

    def full(*a, **k):
        raise error

    monkeypatch.setattr(Store, "_write_partition", full)
    f = write_csv(tmp_path / "o9.csv", ORDER_HEADER + "o9,2025-02-14 10:00,erin,email,paid,10,0\n")
    with pytest.raises(st.DiskFull) as e:
        ingest(store_copy, [f])
    assert str(e.value).startswith("The disk is full: ")
    assert "/srv" not in str(e.value) and "{" not in str(e.value)
    assert snapshot(store_copy) == before


def test_a_pinned_store_keeps_its_version_until_this_process_writes(store_copy, tmp_path):
    """Store.pin: the fingerprint read once, kept while another process commits (a page drawn
    from one version), read again once this process writes any store."""
    import subprocess
    import sys
    pinned = Store(store_copy.path).pin()
    before = pinned.fingerprint
    # Another process's upload: seen by a store looked at afresh, not by the pinned one.
    child = "import sys; sys.path.insert(0, sys.argv[1]); from kpilib import Store; " \
            "Store(sys.argv[2]).update_settings({'return_window_days': 14})"
    subprocess.run([sys.executable, "-c", child, str(Path(__file__).parent.parent),
                    str(store_copy.path)], check=True)
    fresh = Store(store_copy.path).fingerprint
    assert fresh != before and pinned.fingerprint == before
    # This process writes a store (any: here a new one): the pinned store reads again.
    Store(tmp_path / "other").update_settings({"return_window_days": 20})
    assert pinned.fingerprint == fresh
