"""Which store the app reads and what it holds: the demo shop on a first start, a viewer's
private uploads on a shared link, the connection, the settings, the facts that decide whether a
figure means what it says; the sign-in and the sentence a failed page shows."""

from __future__ import annotations

import functools
import hmac
import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import streamlit as st

import kpilib
from kpilib import caveats, demo, engines, targets
from kpilib.ingest import versions
from kpilib.periods import data_span
from kpilib.settings import demo_store_path, reporting_currency, store_path
from kpilib.store import writes




_LOG = logging.getLogger("kpilib.app")


@st.cache_resource(show_spinner=False)
def _demo_build(path: str) -> dict:
    """The demo shop written on a thread of its own (first start only), one for every session:
    a session that reruns or closes meanwhile neither stops it nor starts a second one. Drawn
    by :func:`_demo_store`, not here: what a cached function draws is replayed on every hit."""
    build = {"now": (0.0, "Generating 18 months of orders, traffic and stock…"),
             "done": threading.Event(), "error": None}
    store = kpilib.Store(path)
    if not store.is_empty():
        build["done"].set()
        return build

    def report(fraction: float, text: str) -> None:
        build["now"] = (fraction, text)

    def run() -> None:
        try:
            shop = demo.generate()
            demo.write(store, shop, progress=lambda f, text: report(0.1 + 0.8 * f, text))
            report(0.9, "Preparing the first page…")
            # The small tables' file (kpilib/store.py), built in sight: the page's first
            # connection then only attaches it.
            store.connect().close()
            report(1.0, "Ready")
        except BaseException as e:   # shown by every session waiting for it
            build["error"] = e
        finally:
            build["done"].set()

    threading.Thread(target=run, name="demo-shop", daemon=True).start()
    return build


def _demo_store(path: str) -> str:
    build = _demo_build(path)
    bar, shown = None, None
    while not build["done"].is_set():
        if build["now"] != shown:   # a message to the browser only for a new step
            shown = build["now"]
            text = f"First start: preparing the demo shop · {shown[1]}"
            if bar is None:
                bar = st.progress(shown[0], text)
            else:
                bar.progress(shown[0], text)
        build["done"].wait(0.1)
    if bar is not None:
        bar.empty()
    if build["error"] is not None:
        _demo_build.clear(path)   # the next run tries again
        raise build["error"]
    return str(kpilib.Store(path).path)


def _secret(name: str, default=None):
    try:
        return st.secrets.get(name, default)
    except FileNotFoundError:   # no secrets file at all: local use
        return default


def shared_mode() -> bool:
    """Hosted for viewers: the shop's store is read-only and uploads stay private to a session.
    Switched on by KPILIB_SHARED=1 in the environment or ``shared = true`` in secrets."""
    flag = os.environ.get("KPILIB_SHARED") or _secret("shared", "")
    return str(flag).strip().lower() in ("1", "true", "yes", "on")


def _forget(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


@st.cache_resource(scope="session", on_release=_forget, show_spinner=False)
def _private_path() -> str:
    # One folder per browser session, removed when the session disconnects (its path is also
    # in every cache key, so no other session can be served its numbers).
    return tempfile.mkdtemp(prefix="kpilib-session-")


_PRIVATE = "_private_store"


def _private() -> str:
    """This session's folder (_private_path), remembered in its state: the session-scoped
    cache's lookup costs ~0.2 ms, and the store is asked for ~80 times a page (20 viewers of
    a hosted link redrawing at once queue behind it)."""
    path = st.session_state.get(_PRIVATE)
    if path is None or not os.path.isdir(path):   # released with a cleared cache: again
        path = st.session_state[_PRIVATE] = _private_path()
    return path


def upload_store() -> kpilib.Store:
    """Where this session's uploads go: the shop's store locally, a private temporary store on
    a shared link."""
    return kpilib.Store(_private()) if shared_mode() else kpilib.Store(store_path())


# The store the page being drawn shows, found once (app.py draws each page inside
# pinned_store()): its cards, charts and tables ask for it ~80 times an Overview, and each
# look-up read the manifest and the settings and asked Streamlit for the secrets: ~30 % of
# the server's time a click. Found again after this process writes a store (an upload, a
# setting: kpilib.store.writes); another process's upload is seen by the next run, so a page
# shows one version of the store throughout.
_PAGE_STORE: ContextVar[dict | None] = ContextVar("page_store", default=None)


@contextmanager
def pinned_store():
    """The store found once for everything drawn inside (see _PAGE_STORE). A fragment's
    rerun, a callback and a download run outside it: they look the store up each time."""
    token = _PAGE_STORE.set({})
    try:
        yield
    finally:
        _PAGE_STORE.reset(token)


def active_store() -> tuple[kpilib.Store, bool]:
    """The store the pages show and whether it is the demo shop: on a shared link, the viewer's
    own uploads once there are any; else the shop's store, or the demo while that is empty."""
    page = _PAGE_STORE.get()
    if page is None:
        return _active_store()
    if page.get("writes") != writes():
        seen = writes()
        store, demo_shop = _active_store()
        page.update(writes=seen, found=(store.pin(), demo_shop))
    return page["found"]


def _active_store() -> tuple[kpilib.Store, bool]:
    if shared_mode():
        private = kpilib.Store(_private())
        if not private.is_empty():
            return private, False
    store = kpilib.Store(store_path())
    if store.is_empty():
        return kpilib.Store(_demo_store(str(demo_store_path()))), True
    return store, False


def can_change() -> bool:
    """Whether this session may change the store it looks at (settings, mappings, undo)."""
    return not shared_mode() or active_store()[0].path == Path(_private())


def _connection(path: str, version: str):
    # DuckDB's, or Spark's when the engine settings ask for it (kpilib/engines.py; the
    # environment can choose, so the engine is part of the key).
    return _engine_connection(path, version, engines.engine_settings(kpilib.Store(path))["name"])


@st.cache_resource(max_entries=4)
def _engine_connection(path: str, version: str, engine: str):
    # One connection per store version, shared by every session; queries use their own cursor.
    return engines.connect(kpilib.Store(path), engine)


@st.cache_resource(show_spinner="Updating this shop's summaries for the new version of the "
                                "app (once)…")
def _refreshed(path: str, version: str) -> bool:
    try:
        return kpilib.Store(path).refresh_rollups()
    except Exception:   # noqa: BLE001 — read-only or busy: the pages read the rows meanwhile
        logging.getLogger(__name__).exception("rollups of %s not refreshed", path)
        return False


def up_to_date() -> None:
    """Rollups stored by an older version of the app (their definitions changed since) are
    not read: every figure is computed from the rows, right but ~20× slower (the Why? view
    took 6 s instead of 0.3 s on the demo shop), until the next upload. Rebuilt once, here,
    on the first page drawn after an update."""
    store, _ = active_store()
    if not store.is_empty():
        _refreshed(str(store.path), store.fingerprint)


def connection():
    store, _ = active_store()
    return _connection(str(store.path), store.fingerprint)


@st.cache_data(show_spinner=False)
def _span(path: str, version: str):
    return data_span(_connection(path, version))


@functools.lru_cache(maxsize=64)
def _facts(path: str, version: str) -> caveats.Facts:
    # Asked for every card, chart and table a page shows: a plain memo, as _calendar.
    return caveats.facts(_connection(path, version))


def facts() -> caveats.Facts:
    """What the active store holds that decides whether a figure means what it says."""
    store, _ = active_store()
    return _facts(str(store.path), store.fingerprint)


def reason(name: str, filters: kpilib.Filters | None = None) -> str | None:
    """Why KPI ``name`` has no meaningful value in this store over the filters' period
    (kpilib.caveats.reason)."""
    f = filters or st.session_state.get("filters")
    return caveats.reason(kpilib.get(name), facts(), f.start if f else None,
                          f.end if f else None, f)


def unmatched_refunds(name: str):
    """The columns of KPI ``name`` refunds cannot fill in this store, and why
    (kpilib.caveats.unmatched_refunds)."""
    return caveats.unmatched_refunds(kpilib.get(name), facts())


def missing(name: str) -> tuple[str, ...]:
    """The stored tables KPI ``name`` needs and the store lacks."""
    return caveats.missing(kpilib.get(name), facts())


@st.cache_data(show_spinner=False)
def _outdated(path: str, version: str) -> list[versions.Outdated]:
    return versions.outdated(kpilib.Store(path))


def outdated(tables: tuple[str, ...] | None = None, where: str = "on the Data page") -> list[str]:
    """The sentences naming each export an older importer stored, whose figures of ``tables``
    (all when None) it got wrong, with how to store it again (kpilib.ingest.versions)."""
    store, _ = active_store()
    return [s for o in _outdated(str(store.path), store.fingerprint)
            if (s := o.sentence(tables, where))]


def has(*tables: str) -> bool:
    return set(tables) <= facts().tables


@st.cache_data(show_spinner=False)
def _importers(path: str, version: str) -> frozenset[str]:
    return frozenset(versions.importers(kpilib.Store(path)))


def importers() -> frozenset[str]:
    """The platform importers that read the stored uploads (kpilib.ingest.versions)."""
    store, _ = active_store()
    return _importers(str(store.path), store.fingerprint)


@st.cache_data(show_spinner=False)
def _currency(path: str, version: str) -> str | None:
    return reporting_currency(kpilib.Store(path))


def currency() -> str | None:
    """The shop's reporting currency; None when nothing says which (kpilib.settings): amounts
    are then shown without a symbol."""
    store, _ = active_store()
    return _currency(str(store.path), store.fingerprint)


PAGE_FAILED = ("Something went wrong on this page; the data is unchanged. Try another period "
               "or page, or reload; if it keeps happening, tell whoever runs this dashboard "
               "(the details are in the server's log).")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def error_boundary():
    """Any exception of a page: one plain sentence for the viewer (a traceback shows server
    paths and internals), the traceback in the server's log. KPILIB_DEBUG=1 lets it through,
    so that tests (tests/conftest.py sets it) and developers see what failed."""
    try:
        yield
    except Exception:   # st.stop and st.rerun are BaseExceptions: they pass
        if _flag("KPILIB_DEBUG"):
            raise
        _LOG.exception("A page failed")
        st.error(PAGE_FAILED, icon=":material/error:")


def unknown_path(known: set[str]) -> str | None:
    """The page name of this URL when no page has it (``/nope``), else None."""
    url = st.context.url
    if not url:
        return None
    base = st.get_option("server.baseUrlPath").strip("/")
    name = unquote(urlparse(url).path).strip("/")
    if base and (name == base or name.startswith(base + "/")):
        name = name[len(base):].strip("/")
    return name if name and "/" not in name and name not in known else None


def signed_in() -> bool:
    """Whether the numbers may be shown; draws the sign-in otherwise.

    ``[auth]`` in secrets: Streamlit's OpenID Connect sign-in (st.login). Else a shared
    ``password`` in secrets (or KPILIB_PASSWORD), compared in constant time. Neither: open,
    as on a laptop.
    """
    auth = _secret("auth")
    if auth:
        if st.user.get("is_logged_in", False):
            st.sidebar.button("Log out", on_click=st.logout, key="logout")
            return True
        st.title("Shop KPIs")
        st.write("Sign in to see the shop's numbers.")
        # [auth.google], [auth.microsoft]…: one button per provider; a bare [auth]: one button.
        providers = [k for k, v in auth.items() if hasattr(v, "items")]
        for p in providers or [None]:
            st.button(f"Sign in with {p.capitalize()}" if p else "Sign in", type="primary",
                      on_click=st.login, args=(p,) if p else (), key=f"login_{p}")
        return False
    password = _secret("password") or os.environ.get("KPILIB_PASSWORD")
    if not password or st.session_state.get("signed_in"):
        return True
    st.title("Shop KPIs")
    with st.form("sign_in"):
        typed = st.text_input("Password", type="password", key="sign_in_password")
        if st.form_submit_button("Sign in", type="primary"):
            if hmac.compare_digest(typed.encode("utf-8"), str(password).encode("utf-8")):
                st.session_state["signed_in"] = True
                st.rerun()
            time.sleep(1)   # slows down guessing
            st.error("Wrong password.")
    return False


def maturity(name: str, start: date, end: date) -> caveats.Maturity:
    """Whether KPI ``name`` over [start, end] is final (its return window closed)."""
    return caveats.maturity(kpilib.get(name), start, end, facts().as_of,
                            setting("return_window_days"))


def goals() -> list[targets.Target]:
    return targets.from_settings(active_store()[0].settings)


def setting(name: str):
    store, _ = active_store()
    return store.settings[name]
