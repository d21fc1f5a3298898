"""ui.session: the store a session reads. On the first start on a fresh clone the demo shop is
written once, on a thread of its own, while every session waiting for it draws its progress;
rollups of an older version are rebuilt on the first page."""
import threading
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import session
from kpilib import Store, demo

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GENERATE = demo.generate


@pytest.fixture
def counted(monkeypatch):
    """demo.generate, small and counted (the app's 18 months at scale 1 take seconds)."""
    calls = []

    def small():
        calls.append(threading.current_thread().name)
        return GENERATE(months=3, scale=0.02, seed=3, end=date(2026, 1, 31))
    monkeypatch.setattr(demo, "generate", small)
    return calls


def test_the_app_builds_the_demo_shop_on_first_start(tmp_path, monkeypatch, counted):
    monkeypatch.setenv("KPILIB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("KPILIB_DEMO_STORE", str(tmp_path / "demo"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert counted == ["demo-shop"]                  # written on its own thread, once
    assert any("demo shop" in i.value for i in at.sidebar.info)
    assert at.metric and at.title[0].value == "Overview"
    store = Store(tmp_path / "demo")
    assert len(store.manifest["ingests"]) == 1
    assert list((store.path / "cache").glob("memory-*.duckdb"))   # built before the page
    at.run()                                          # a rerun finds it written
    assert counted == ["demo-shop"] and not at.exception


def test_sessions_opening_at_once_share_one_build(tmp_path, counted):
    path = str(tmp_path / "demo")
    builds = []
    sessions = [threading.Thread(target=lambda: builds.append(session._demo_build(path)))
                for _ in range(4)]
    for s in sessions:
        s.start()
    for s in sessions:
        s.join()
    assert all(b is builds[0] for b in builds)
    assert builds[0]["done"].wait(60) and builds[0]["error"] is None
    assert counted == ["demo-shop"] and builds[0]["now"] == (1.0, "Ready")
    assert len(Store(path).manifest["ingests"]) == 1
    assert session._demo_store(path) == path


def test_a_failed_build_is_shown_and_tried_again(tmp_path, monkeypatch):
    path = str(tmp_path / "demo")

    def full_disk():
        raise OSError("No space left on device")
    monkeypatch.setattr(demo, "generate", full_disk)
    with pytest.raises(OSError, match="No space left"):
        session._demo_store(path)
    assert Store(path).is_empty()
    monkeypatch.setattr(demo, "generate",
                        lambda: GENERATE(months=2, scale=0.02, seed=3, end=date(2026, 1, 31)))
    assert session._demo_store(path) == path and not Store(path).is_empty()


def test_rollups_of_an_older_version_are_rebuilt_on_the_first_page(store_copy, monkeypatch):
    """A store written before a rollup's definition changed: the rollup is not read (figures
    from the rows, right but slow) until rebuilt, once, when the app first draws a page."""
    import json

    from kpilib.rollups import ROLLUPS
    from kpilib.store import MANIFEST, current

    path = store_copy.path / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["rollup_defs"]["orders_daily"] = "an older definition"
    path.write_text(json.dumps(manifest))
    assert "orders_daily" not in current(Store(store_copy.path).manifest)
    monkeypatch.setenv("KPILIB_STORE", str(store_copy.path))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"),
                           default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    store = Store(store_copy.path)
    assert set(ROLLUPS) <= set(current(store.manifest, store.settings))


def test_a_page_looks_its_store_up_once_until_this_process_writes_one(store_copy, monkeypatch):
    """Inside pinned_store() (app.py draws every page in it) the store is looked up once, not
    for each of a page's ~80 figures; after an upload or a setting saved by this process, again
    (with the new fingerprint). Outside it, on every call."""
    looked = []

    def lookup():
        looked.append(1)
        return Store(store_copy.path), False
    monkeypatch.setattr(session, "_active_store", lookup)
    before = store_copy.fingerprint
    with session.pinned_store():
        stores = [session.active_store()[0] for _ in range(5)]
        assert len(looked) == 1 and {s.fingerprint for s in stores} == {before}
        Store(store_copy.path).update_settings({"return_window_days": 14})
        after = session.active_store()[0].fingerprint
        assert len(looked) == 2 and after != before
        # The store pinned before the write reads its fingerprint again too.
        assert after == Store(store_copy.path).fingerprint == stores[0].fingerprint
        session.active_store()
        assert len(looked) == 2
    session.active_store()
    session.active_store()
    assert len(looked) == 4
