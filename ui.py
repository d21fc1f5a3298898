"""The UI layer: which store the app reads, cached KPI queries, the shared filters, formatting
and the few chart helpers every page uses. Pages hold no SQL and no business rules."""
from __future__ import annotations

import base64
import functools
import hmac
import html
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import plotly.express as px
import streamlit as st

import kpilib
from kpilib import alerts, caveats, demo, engines, export, forecast, formatting, targets
from kpilib.channels import CHANNELS
from kpilib.dimensions import members
from kpilib.kpi import PERIODS, period_starts, refused
from kpilib.periods import PRESETS, calendar, data_span, preset_range
from kpilib.settings import demo_store_path, store_path
from kpilib.store import tables_read

CHANNEL_ORDER = (*CHANNELS, "unknown")
_LOG = logging.getLogger("kpilib.app")


# --- the store ------------------------------------------------------------------------------
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


def active_store() -> tuple[kpilib.Store, bool]:
    """The store the pages show and whether it is the demo shop: on a shared link, the viewer's
    own uploads once there are any; else the shop's store, or the demo while that is empty."""
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


def connection():
    store, _ = active_store()
    return _connection(str(store.path), store.fingerprint)


@st.cache_data(max_entries=2000, show_spinner=False)
def _kpi(path: str, data_version: str, name: str, filters: kpilib.Filters, by: str | None,
         limit: int | None, _version: str):
    # Keyed by the version of the tables this KPI reads (_version, the whole store's, is not
    # part of the key): an upload of stock snapshots leaves every cached sales figure valid.
    return kpilib.run(_connection(path, _version), kpilib.get(name), filters, by, limit=limit)


def _keys(name: str, store: kpilib.Store | None = None) -> tuple[str, str, str]:
    """The active store's path, the version of the tables KPI ``name`` reads, the store's."""
    store = store or active_store()[0]
    path, version = str(store.path), store.fingerprint
    k = kpilib.get(name)
    return path, _data_version(path, version, tables_read(k.sql + k.base)), version


def _query(name: str, f: kpilib.Filters, by, path: str, version: str
           ) -> tuple[kpilib.Filters, object, bool]:
    """The filters and grouping KPI ``name`` is read with to answer (f, by), and whether the
    answer is derived from it: an additive KPI's periods (the cards, their comparisons,
    sparklines and trends) come from its daily series over the store's whole calendar, read
    once per filter but the dates — changing the dates costs no query."""
    if kpilib.get(name).additive and by in (None, *PERIODS):
        span = _calendar(path, version)
        if span:
            return replace(f, start=span[0], end=span[1]), "day", True
    return f, by, False


def kpi(name: str, filters: kpilib.Filters | None = None, by: str | None = None,
        limit: int | None = None) -> pd.DataFrame:
    """A KPI as a small frame, cached by (store, version of the tables it reads, KPI, filters,
    grouping). ``limit``: a table's first rows only."""
    path, deps, version = _keys(name)
    f = filters or current_filters()
    if refused(kpilib.get(name), f):
        return _not_split(name, f, by, limit)
    qf, qby, derived = _query(name, f, by, path, version)
    got = st.session_state.get(_FETCHED, {}).get((path, deps, name, qf, qby, limit))
    if got is None:
        got = _kpi(path, deps, name, qf, qby, limit, version)
    if derived:
        return kpilib.from_daily(kpilib.get(name), got, f, by)
    return got.copy()


# KPI frames read ahead (prefetch, kpis) by (store, data version, KPI, filters, grouping,
# limit): this session's, kept until the next batch that would overflow it.
_FETCHED = "_prefetched"


@st.cache_data(max_entries=500, show_spinner=False)
def _many(path: str, reads: tuple, _version: str) -> list[list[pd.DataFrame]]:
    # Each read: its KPIs' data versions (the key, like _kpi's), names, filters, grouping and
    # limit.
    return kpilib.run_many(_connection(path, _version), [
        kpilib.Read(tuple(map(kpilib.get, names)), f, by, limit)
        for _, names, f, by, limit in reads])


def _read_ahead(asks) -> None:
    """Read (name, filters, by, limit) as kpi() would, the single-valued KPIs of one filters
    and grouping in one query (kpilib.run_together), each table in its own, all of them side
    by side (kpilib.run_many); kpi() then finds them read."""
    store = active_store()[0]
    fetched = st.session_state.setdefault(_FETCHED, {})
    groups: dict[tuple, list[tuple[str, tuple]]] = {}
    for name, f, by, limit in asks:
        k = kpilib.get(name)
        if refused(k, f):   # no query: kpi() gives it no value (the card says why)
            continue
        path, deps, version = _keys(name, store)
        qf, qby, _ = _query(name, f, by, path, version)
        key = (path, deps, name, qf, qby, limit)
        if key not in fetched:
            # A table, or a KPI split two ways, is a query of its own (kpilib.run).
            alone = k.table or isinstance(qby, tuple)
            group = groups.setdefault((qf, qby, limit, name if alone else None), [])
            if (name, key) not in group:
                group.append((name, key))
    if not groups:
        return
    if len(fetched) + sum(map(len, groups.values())) > 200:
        fetched.clear()
    items = list(groups.items())
    frames = _many(str(store.path), tuple(
        (tuple(key[1] for _, key in got), tuple(n for n, _ in got), qf, qby, limit)
        for (qf, qby, limit, _), got in items), store.fingerprint)
    for (_, got), read in zip(items, frames):
        fetched.update({key: frame for (_, key), frame in zip(got, read)})


def _not_split(name: str, f: kpilib.Filters, by, limit) -> pd.DataFrame:
    """What KPI ``name`` shows under filters it cannot take (a country for sessions): no
    value, never the unfiltered figure — a table of no rows, every period empty."""
    k = kpilib.get(name)
    if k.table:   # its columns, from a query of no rows over the filters it takes
        return kpi(name, replace(f, devices=(), countries=(), categories=()), by, limit=0)
    cols = ["value", "numerator", "denominator"] if k.ratio else ["value"]
    dims = by if isinstance(by, tuple) else (by,) if by else ()
    if not dims:
        return pd.DataFrame({c: [math.nan] for c in cols})
    if dims == (by,) and by in PERIODS:
        periods = period_starts(f.start, f.end, by)
        return pd.DataFrame({"period": periods, **{c: math.nan for c in cols}})
    names = ["period" if d in PERIODS else d for d in dims]
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in cols else object)
                         for c in names + cols})


def _single(names, by) -> list[str]:
    # What prefetch reads: the single-valued KPIs that can be split so (tables are read on
    # their own, or by kpis()).
    return [n for n in dict.fromkeys(names) if not kpilib.get(n).table
            and (by is None or by in kpilib.get(n).by)]


def prefetch(names, filters: kpilib.Filters | None = None, by: str | None = None) -> None:
    """Read these KPIs as kpi(name, filters, by) would, together (see _read_ahead), ahead of
    the cards, values and tables that show them: each is then no query of its own. Only an
    optimisation — a KPI not read here is read on its own. A KPI with a shared step (stock)
    reads the step computed by metric() or one computed here."""
    f = filters or current_filters()
    _read_ahead([(n, f, by, None) for n in _single(names, by)])


def kpis(*asks) -> list[pd.DataFrame]:
    """``[kpi(*ask) for ask in asks]`` (each ask: name, and optionally filters, by, limit),
    the queries side by side: the tables and charts of a page, read before they are drawn."""
    asks = [(*a, None, None, None)[:4] for a in asks]
    asks = [(name, f or current_filters(), by, limit) for name, f, by, limit in asks]
    _read_ahead(asks)
    return [kpi(*a) for a in asks]


def _compare_shared(base: str, f: kpilib.Filters) -> None:
    """Compute the shared step ``base`` for the period and for the one compared with, side
    by side: once per filters, under the name of the first KPI declaring it (one cache entry
    for all the cards reading it)."""
    name = next(n for n, k in kpilib.KPIS.items() if k.base == base)
    path, deps, version = _keys(name)
    _compared(path, deps, name, f, version)


@st.cache_data(max_entries=200, show_spinner=False)
def _compared(path: str, data_version: str, name: str, filters: kpilib.Filters, _version: str):
    # Once per key, like the figures it prepares: their cache hits then cost no query.
    kpilib.prepare(_connection(path, _version), kpilib.get(name),
                   [filters, filters.previous_period()])


@functools.lru_cache(maxsize=64)
def _calendar(path: str, version: str):
    # Asked for every additive KPI shown (~100 times a page): a plain memo, as _data_version.
    return calendar(_connection(path, version))


@functools.lru_cache(maxsize=1024)
def _data_version(path: str, version: str, tables: frozenset[str]) -> str:
    # The manifest is read once per store version, not once per KPI on every rerun (a plain
    # memo: st.cache_data's own lookup costs ~0.3 ms, asked ~100 times a page).
    return kpilib.Store(path).data_version(tables)


def value(name: str, filters: kpilib.Filters | None = None) -> float | None:
    v = kpi(name, filters)["value"].iat[0]
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


@st.cache_data(show_spinner=False)
def _span(path: str, version: str):
    return data_span(_connection(path, version))


@st.cache_data(show_spinner=False)
def _first_days(path: str, version: str):
    return alerts.first_days(_connection(path, version))


def unusual_days(filters: kpilib.Filters | None = None) -> pd.DataFrame:
    """The days of the period whose watched KPIs left their usual range
    (kpilib.alerts.unusual_days), computed once per store version and filters for every
    session."""
    store = active_store()[0]
    return _unusual(str(store.path), store.fingerprint, filters or current_filters())


@st.cache_data(max_entries=200, show_spinner=False)
def _unusual(path: str, version: str, f: kpilib.Filters) -> pd.DataFrame:
    history = replace(f, start=alerts.history_start(f.start))
    return alerts.unusual_days({n: kpi(n, history, "day") for n in alerts.WATCHED},
                               _first_days(path, version), f.start, f.end, f.channels)


@st.cache_data(show_spinner=False)
def _channels(path: str, version: str) -> list[str]:
    con = _connection(path, version).cursor()
    rows = con.execute("""select distinct channel from (
        select channel from orders union all select channel from traffic
        union all select channel from marketing_spend) where channel is not null""").fetchall()
    found = {r[0] for r in rows}
    return [c for c in CHANNEL_ORDER if c in found] + sorted(found - set(CHANNEL_ORDER))


@st.cache_data(show_spinner=False)
def _categories(path: str, version: str) -> list[str]:
    rows = _connection(path, version).cursor().execute(
        "select distinct category from sku_info order by 1").fetchall()
    return [r[0] for r in rows]


def categories() -> list[str]:
    store, _ = active_store()
    return _categories(str(store.path), store.fingerprint)


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


def missing(name: str) -> tuple[str, ...]:
    """The stored tables KPI ``name`` needs and the store lacks."""
    return caveats.missing(kpilib.get(name), facts())


def has(*tables: str) -> bool:
    return set(tables) <= facts().tables


def missing_note(names=(), tables=(), what: str | None = None) -> None:
    """One sentence in place of what the store cannot show: each export to upload, once, with
    what it fills, and a link to the Data page. ``names``: KPIs; ``tables``: the tables a part of
    a page needs, described by ``what``."""
    fills: dict[str, list[str]] = {}
    for n in names:
        for t in missing(n):
            fills.setdefault(t, []).append(kpilib.get(n).label)
    for t in set(tables) - facts().tables:
        fills.setdefault(t, []).insert(0, what or "this")
    if not fills:
        return
    parts = [f"{caveats.EXPORTS[t]} for {_words(list(dict.fromkeys(fills[t])))}"
             for t in caveats.EXPORTS if t in fills]
    with st.container(border=True):
        st.markdown(":material/upload_file: Upload " + "; ".join(parts) + ".")
        st.page_link("app_pages/data.py", label="Open the Data page",
                     icon=":material/arrow_forward:")


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def need(*tables: str, what: str) -> bool:
    """Whether the store holds ``tables``; if not, the sentence saying which exports fill
    ``what`` (a part of a page) in its place."""
    if has(*tables):
        return True
    missing_note(tables=tables, what=what)
    return False


def currency() -> str:
    store, _ = active_store()
    return store.settings["currency"]


# --- when a page fails ------------------------------------------------------------------------
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


# --- sign-in --------------------------------------------------------------------------------
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


# --- filters --------------------------------------------------------------------------------
def sidebar_filters() -> kpilib.Filters | None:
    """Draw the shared filters once (app.py) and return them; None when there is no data.

    Each widget is bound to a URL query parameter, so a copied link reopens the same view.
    """
    store, is_demo = active_store()
    span = _span(str(store.path), store.fingerprint)
    if span is None:
        st.session_state["filters"] = None
        return None
    first, last = span
    sb = st.sidebar
    preset = sb.selectbox("Period", PRESETS, index=1, key="period", bind="query-params")
    if preset == "Custom":
        default = (max(first, last - timedelta(days=29)), last)
        picked = sb.date_input("Dates", value=default, min_value=first, max_value=last,
                               key="dates", bind="query-params", format="YYYY-MM-DD")
        start, end = (picked + (picked[0],))[:2] if picked else default
    else:
        start, end = preset_range(preset, last)
        # Trimmed to the data's first day, unless the whole range lies before it (last month
        # of a store that starts this month): then it stays as it is, and empty.
        start = max(start, first) if end >= first else start
    options = _channels(str(store.path), store.fingerprint)
    if "channels" not in st.session_state:
        # Bound by hand, not with bind="query-params": that binding writes the displayed label
        # ("Paid search") into the URL, and links must carry the canonical name (paid_search).
        st.session_state["channels"] = [c for c in st.query_params.get_all("channels")
                                        if c in options]
    channels = sb.multiselect("Channels", options, key="channels", format_func=channel_label,
                              placeholder="All channels")
    if channels:
        st.query_params["channels"] = channels
    else:
        st.query_params.pop("channels", None)
    filters = kpilib.Filters(start, end, tuple(channels), **_split_filters(sb, store))
    prev = filters.previous_period()
    sb.caption(f"{fmt_range(start, end)} · compared with {fmt_range(prev.start, prev.end)}")
    sb.caption(f"Data from {first:%d %b %Y} to {last:%d %b %Y}.")
    engine = engines.engine_settings(store)
    if engine["name"] != "duckdb":
        sb.caption(f"Computed by Spark ({engine['master']}).")
    if shared_mode() and store.path == Path(_private()):
        sb.info("You are looking at **your own uploads**, private to this browser tab.")
        if sb.button("Back to the shop's data", key="discard_private"):
            _forget(str(store.path))
            Path(store.path).mkdir()
            st.rerun()
    elif is_demo:
        sb.info("You are looking at the **demo shop**. Upload your own exports on the Data "
                "page to replace it.")
    st.session_state["filters"] = filters
    return filters


# The device, country and category filters: widget key, URL parameter, label, placeholder.
SPLIT_WIDGETS = {"devices": ("devices", "Devices", "All devices"),
                 "countries": ("countries", "Countries", "All countries"),
                 "categories": ("product_categories", "Product categories", "All categories")}


@st.cache_data(show_spinner=False)
def _members(path: str, version: str, split: str) -> list[str]:
    return members(_connection(path, version), split)


def _split_filters(sb, store) -> dict[str, tuple[str, ...]]:
    """The device, country and product-category multiselects, each drawn when the store holds
    more than one member, bound to the URL by hand as the channels are (``?countries=FR``).
    Every page applies them; a figure whose data lacks the dimension says so."""
    chosen = {}
    for split, (key, label, placeholder) in SPLIT_WIDGETS.items():
        options = _members(str(store.path), store.fingerprint, split)
        if len(options) < 2:
            continue
        if key not in st.session_state:
            st.session_state[key] = [m for m in st.query_params.get_all(split) if m in options]
        picked = sb.multiselect(label, options, key=key, placeholder=placeholder)
        if picked:
            st.query_params[split] = picked
        else:
            st.query_params.pop(split, None)
        chosen[split] = tuple(picked)
    return chosen


def current_filters() -> kpilib.Filters:
    return st.session_state["filters"]


def require_filters() -> kpilib.Filters:
    """The page's filters, or a friendly stop when the store holds nothing to show."""
    f = st.session_state.get("filters")
    if f is None:
        if active_store()[0].is_empty():
            st.info("No data yet: upload your exports on the Data page.")
        else:
            # Products alone: they name and cost SKUs, and date nothing.
            st.info("Only products are stored: they name and cost the SKUs but fill no "
                    "figure by themselves. Upload orders, traffic, ad spend or stock snapshots "
                    "on the Data page.")
        st.page_link("app_pages/data.py", label="Open the Data page",
                     icon=":material/arrow_forward:")
        st.stop()
    return f


# --- formatting -----------------------------------------------------------------------------
channel_label = formatting.channel_words


def fmt_range(start: date, end: date) -> str:
    if start == end:
        return f"{start:%d %b %Y}"
    if start.year == end.year:
        return f"{start:%d %b} – {end:%d %b %Y}"
    return f"{start:%d %b %Y} – {end:%d %b %Y}"


def fmt(v: float | None, unit: str, compact: bool = False) -> str:
    """A KPI value in the shop's reporting currency."""
    return formatting.fmt(v, unit, currency(), compact)


change = formatting.change
change_value = formatting.change_value


def metrics(names, filters: kpilib.Filters | None = None, spark_by: str | None = None,
            last_year: bool = False, columns: int | None = None, why: bool = False
            ) -> list[str]:
    """A row of KPI cards (see metric) in ``columns`` columns (one per card by default), their
    figures read together first. A KPI the store's exports cannot give is left out of the row
    and returned, for :func:`missing_note` to name the export that fills it. ``why``: each
    card with a value has a "Why?" button opening :func:`why_view`."""
    store = active_store()[0]
    gone, notes, cards = _cards(str(store.path), store.fingerprint, tuple(names),
                                filters or current_filters(), spark_by, last_year)
    for text in notes:
        st.info(text)
    if cards:
        for col, card in zip(st.columns(columns or len(cards)), cards):
            with col:
                _draw(card, last_year, why)
    return list(gone)


@st.cache_data(max_entries=500, show_spinner=False)
def _cards(path: str, version: str, names: tuple, f: kpilib.Filters, spark_by: str | None,
           last_year: bool) -> tuple[list[str], list[str], list[dict]]:
    """What a row of cards shows: the KPIs left out, the sentences drawn above the row and
    each card (see _card). Cached for every session (st.cache_data is global): viewers of a
    hosted link on the same filters compute a row once, and a card that is a cache hit costs
    no pandas. Everything a card shows follows from the store (data and settings, both in
    ``version``) and the filters."""
    gone = [n for n in names if missing(n)]
    names = [n for n in names if n not in gone]
    notes = []
    # Cards unknown for one reason (fulfilment without shipped dates): one sentence, not four.
    same: dict[str, list[str]] = {}
    for n in names:
        why = reason(n, f)
        if why:
            same.setdefault(why, []).append(n)
    for why, group in same.items():
        if len(group) > 1:
            notes.append(f"{_words([kpilib.get(n).label for n in group])}: {why}")
            names = [n for n in names if n not in group]
    if not names:
        return gone, notes, []
    # The shared steps first, so that the cards' figures are read from them together.
    for base in dict.fromkeys(k.base for k in map(kpilib.get, names) if k.base):
        _compare_shared(base, f)
    periods = (f, f.previous_period(), *([f.last_year()] if last_year else []))
    asks = [(n, g, None, None) for g in periods for n in _single(names, None)]
    if spark_by:
        asks += [(n, f, spark_by, None) for n in _single(names, spark_by)]
    _read_ahead(asks)
    return gone, notes, [_card(n, f, spark_by, last_year) for n in names]


def maturity(name: str, start: date, end: date) -> caveats.Maturity:
    """Whether KPI ``name`` over [start, end] is final (its return window closed)."""
    return caveats.maturity(kpilib.get(name), start, end, facts().as_of,
                            setting("return_window_days"))


def not_final(name: str, filters: kpilib.Filters | None = None) -> str:
    """"Not final: 12 of 30 days still inside the 30-day return window." for a KPI whose
    period is still open; "" once final."""
    f = filters or current_filters()
    m = maturity(name, f.start, f.end)
    return "" if m.final else f"Not final: {caveats.open_text(m, f.days)}."


def mark_final(name: str, df: pd.DataFrame, filters: kpilib.Filters | None = None,
               by: str | None = None) -> pd.DataFrame:
    """``df`` (KPI ``name``'s frame) with a ``final`` column (kpilib.caveats.mark_final)."""
    f = filters or current_filters()
    return caveats.mark_final(kpilib.get(name), df, f.start, f.end, facts().as_of,
                              setting("return_window_days"), by)


def metric(name: str, filters: kpilib.Filters | None = None, spark_by: str | None = None,
           last_year: bool = False):
    """A KPI card: value, change vs the previous period (and, if asked, vs last year), the
    definition as help. A value that is not meaningful is "–" with the reason under it; a value
    that is not final (return window still open) shows that instead of a change, and its
    sparkline only the days that are final."""
    _draw(_card(name, filters or current_filters(), spark_by, last_year), last_year)


def _draw(card: dict, boxed: bool, why: bool = False) -> None:
    # A card with a sparkline is boxed: the line is drawn under the metric, inside its box.
    boxed = boxed or card["spark"] is not None
    box = st.container(border=True) if boxed else st.container()
    box.metric(card["label"], card["value"], delta=card["delta"], help=card["help"],
               border=not boxed, delta_color=card["delta_color"],
               delta_arrow=card["delta_arrow"])
    if card["spark"] is not None:
        box.html(sparkline(card["spark"], _spark_colour(card), card["spark_label"]))
    for text in card["captions"]:
        box.caption(text)
    if why and card["value"] != "–":
        box.button("Why?", key=f"why_{card['name']}", type="tertiary",
                   icon=":material/troubleshoot:", on_click=open_why, args=(card["name"],),
                   help="What made this figure change: its drivers, each channel's part and "
                        "what else happened on the same days.")


# Streamlit's own colours for a metric's delta (light theme), so the line matches its arrow.
SPARK_COLOURS = {"good": "#09ab3b", "bad": "#ff2b2b", "off": "#a3a8b8"}


def _spark_colour(card: dict) -> str:
    """The delta's colour, as st.metric colours its own chart: by the delta's sign and
    ``delta_color``."""
    delta, how = card["delta"], card["delta_color"]
    if delta is None or how == "off" or delta[:1] not in "+-":
        return SPARK_COLOURS["off"]
    good = (delta[:1] == "+") == (how == "normal")
    return SPARK_COLOURS["good" if good else "bad"]


def sparkline(values: list[float], colour: str, label: str) -> str:
    """A card's trend as one small SVG image: st.metric's own chart is a Vega-Lite chart per
    card, ~15 ms of a browser's time each on every redraw (ten cards on the Overview), where
    an image costs next to nothing. ``label`` is its text for screen readers. (An image, not
    inline SVG: st.html keeps no <svg>.)"""
    lo, hi = min(values), max(values)
    n = len(values)
    # 100 × 30 units, stretched to the card's width; the stroke keeps its width.
    xs = [100 * i / (n - 1) for i in range(n)] if n > 1 else [0, 100]
    ys = [28 - 26 * (v - lo) / (hi - lo) if hi > lo else 15 for v in values]
    path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys if n > 1 else ys * 2))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 30" '
           f'preserveAspectRatio="none"><path d="{path}" fill="none" stroke="{colour}" '
           f'stroke-width="2" stroke-linejoin="round" vector-effect="non-scaling-stroke"/></svg>')
    return (f'<img alt="{html.escape(label)}" src="data:image/svg+xml;base64,'
            f'{base64.b64encode(svg.encode()).decode()}" style="display:block;width:100%;'
            f'height:36px">')


def _card(name: str, f: kpilib.Filters, spark_by: str | None, last_year: bool) -> dict:
    """What :func:`metric` draws, as plain values (cached with its row by _cards)."""
    k = kpilib.get(name)
    label = k.label
    if f.channels and "$channels" not in k.sql + k.base:
        # Shop-wide whatever the channel filter: said on the card, beside filtered cards.
        label += " (all channels)"
    card = {"name": name, "label": label, "value": "–", "delta": None, "help": help_text(k),
            "spark": None,
            "delta_color": "normal", "delta_arrow": "auto", "captions": []}
    why = reason(name, f)
    if why:
        return {**card, "captions": [why]}
    if k.base:
        _compare_shared(k.base, f)
    now, before = value(name, f), value(name, f.previous_period())
    why = caveats.value_reason(k, now)
    if why:
        return {**card, "captions": [why]}
    if caveats.value_reason(k, before):
        before = None
    as_of, window = facts().as_of, setting("return_window_days")
    m = caveats.maturity(k, f.start, f.end, as_of, window)
    delta = change(now, before, k.unit) if m.final else caveats.open_text(m, f.days, short=True)
    # A sum of a column some days' exports lack (users in March, not April): said, and not
    # compared with a period that has it on other days.
    prev = f.previous_period()
    partial = caveats.partial_note(k, facts(), f.start, f.end)
    partial_before = caveats.coverage(k, facts(), prev.start, prev.end)
    if partial or partial_before:
        delta = None
    if not m.final:
        card["label"] += ", so far"
    if spark_by:
        series = kpi(name, f, spark_by)
        if not m.final:
            # Only the periods already final: the open ones would read as an improvement.
            series = caveats.mark_final(k, series, f.start, f.end, as_of, window, spark_by)
            series = series[series["final"]]
        card["spark"] = series["value"].fillna(0).tolist() or None
        if card["spark"]:
            # What a screen reader says of the line: its span, lowest and highest point.
            card["spark_label"] = (
                f"{card['label']} by {spark_by}, {formatting.plural(len(series), spark_by)}: "
                f"lowest {fmt(min(card['spark']), k.unit, compact=True)}, highest "
                f"{fmt(max(card['spark']), k.unit, compact=True)}")
    color = {"up": "normal", "down": "inverse", None: "off"}[k.better]
    flat = formatting.is_flat(delta) or not m.final
    card.update(value=fmt(now, k.unit, compact=True), delta=delta or None,
                help=_exact(now, k) + card["help"], delta_color="off" if flat else color,
                delta_arrow="off" if flat else "auto")
    captions = card["captions"]
    if partial:
        captions.append(partial)
    elif partial_before and before is not None:
        column, _have, without = partial_before
        captions.append(f"Not compared: the previous period has no "
                        f"{caveats.OPTIONAL_SUMS[column]} on {caveats.days_text(without)}.")
    if not m.final:
        captions.append(f"Not compared: {caveats.open_text(m, f.days)}.")
    elif last_year:
        ly = value(name, f.last_year())
        ly = None if caveats.value_reason(k, ly) else ly
        captions.append(f"vs last year: {change(now, ly, k.unit) or '–'}")
    fc = month_forecast(name, f)
    if fc is not None and fc.value is not None:
        captions.append(forecast_caption(fc))
        card["help"] += "\n\n" + forecast.accuracy_text(fc)
    p = pacing(f).get(name)
    if p is not None:
        captions.append(target_caption(p))
    return card


def _exact(v: float | None, k) -> str:
    """The exact value, for a card's help when the card shows it shortened (€1.43 M)."""
    short, full = fmt(v, k.unit, compact=True), fmt(v, k.unit)
    return "" if short == full else f"**{formatting.md_plain(full)}**\n\n"


@st.cache_data(show_spinner=False)
def _pacing(path: str, version: str, filters: kpilib.Filters) -> list[targets.Pace]:
    last = _span(path, version)[1]
    return targets.month_pacing(_connection(path, version),
                                targets.from_settings(kpilib.Store(path).settings), filters, last)


def pacing(filters: kpilib.Filters | None = None) -> dict[str, targets.Pace]:
    """Month-to-date pacing of every KPI with a target for the month the filters end in. Where
    the month-end forecast is shown (month_forecast), a sum is on pace for that forecast: one
    month-end figure on a card and in the alerts, not two."""
    store, _ = active_store()
    f = filters or current_filters()
    paces = {p.kpi: p for p in _pacing(str(store.path), store.fingerprint, f)}
    for name, p in paces.items():
        fc = month_forecast(name, f)
        if fc is not None and fc.value is not None:
            paces[name] = replace(p, forecast=fc.value)
    return paces


def goals() -> list[targets.Target]:
    return targets.from_settings(active_store()[0].settings)


def pace_text(p: targets.Pace, colour: bool = True) -> str:
    """"on pace for €460k (92 %)": where the month is heading against its target."""
    unit = kpilib.get(p.kpi).unit
    if p.ratio is None:
        return "no pace yet"
    word = ("final" if p.days == p.days_in_month else
            "on pace for" if targets.KINDS[p.kpi] == "sum" else "so far")
    ratio = f"({p.ratio * 100:.0f} % of target)"
    if colour:
        ratio = f":{'red' if p.behind else 'green'}[{ratio}]"
    return f"{word} {fmt(p.forecast, unit, compact=True)} {ratio}"


def target_caption(p: targets.Pace) -> str:
    month = date.fromisoformat(p.month + "-01")
    return (f"{month:%b} target {fmt(p.target, kpilib.get(p.kpi).unit, compact=True)} · "
            f"{pace_text(p)}")


def month_forecast(name: str, filters: kpilib.Filters | None = None) -> forecast.Forecast | None:
    """The month-end forecast of a summed KPI when the period is the month to date of a month
    the data has not finished; None otherwise (kpilib.forecast.month_to_date), or when the
    store or the filters give the KPI no figure."""
    f = filters or current_filters()
    if name not in forecast.KPIS or not forecast.month_to_date(f, facts().as_of) \
            or reason(name, f) or refused(kpilib.get(name), f):
        return None
    store, _ = active_store()
    return _month_forecast(str(store.path), store.fingerprint, name, f)


@st.cache_data(max_entries=500, show_spinner=False)
def _month_forecast(path: str, version: str, name: str, f: kpilib.Filters) -> forecast.Forecast:
    # The KPI's daily series over the store's calendar: the one the cards' figures come from
    # (_query), so it is read once for both.
    span = _calendar(path, version)
    daily = forecast.series_of(kpi(name, replace(f, start=span[0]), "day"))
    return forecast.project(daily, name, f.start, f.end)


def forecast_caption(fc: forecast.Forecast) -> str:
    """"Nov forecast €16.3k, 80 %: €12.7k – €20.2k"."""
    unit = kpilib.get(fc.kpi).unit
    month = date.fromisoformat(fc.month + "-01")
    return f"{month:%b} " + forecast.range_text(fc, lambda v: fmt(v, unit, compact=True))


def verdict(row) -> str:
    """Whether a conversion change (kpilib.stats.compare_rates) is beyond noise (95 %)."""
    if row["change_pp"] is None or row["change_pp"] != row["change_pp"]:
        return ""
    return "beyond noise" if row["significant"] else "within noise"


def fmt_money(v) -> str:
    return fmt(v, "money")


def fmt_count(v) -> str:
    return fmt(v, "count")


def setting(name: str):
    store, _ = active_store()
    return store.settings[name]


def cancelled_words() -> str:
    """How the figures count cancelled orders in this store, for a page's header line."""
    from kpilib.registry import CANCELLED_SHORT

    return CANCELLED_SHORT[setting("cancelled_orders")]


def help_text(k) -> str:
    """A card's help: the KPI's definition, with the store's convention for cancelled orders
    where the KPI follows it."""
    from kpilib.registry import definition

    return definition(k, setting("cancelled_orders"))


def months() -> list[str]:
    """Every month with data, latest complete month first (the month a report is made for)."""
    store, _ = active_store()
    first, last = _span(str(store.path), store.fingerprint)
    out, m = [], first.replace(day=1)
    while m <= last:
        out.append(f"{m:%Y-%m}")
        m = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
    complete = [x for x in out if x != f"{last:%Y-%m}" or
                (last + timedelta(days=1)).day == 1]
    return list(reversed(complete or out))


def history(f: kpilib.Filters, months: int) -> kpilib.Filters:
    """The ``months`` calendar months ending with the period (Filters.trailing_months), from
    the first stored day at the earliest: months before it would read as zeros."""
    t = f.trailing_months(months)
    return replace(t, start=min(max(t.start, data_start()), f.start))


def data_start():
    store, _ = active_store()
    return _span(str(store.path), store.fingerprint)[0]


def data_end():
    store, _ = active_store()
    return _span(str(store.path), store.fingerprint)[1]


def later(name: str, rows: dict[str, str] | None = None,
          filters: kpilib.Filters | None = None):
    """A KPI table computed only when a download button calls for it, only its ``rows`` (a
    customer list can be a million rows: never held by the page or the cache). The button's
    callable runs outside the script (no session, no cache), so the store and the filters are
    fixed now."""
    store, _ = active_store()
    con = _connection(str(store.path), store.fingerprint)
    filters = filters or current_filters()
    return lambda: kpilib.run(con, kpilib.get(name), filters, rows=rows)


def downloads(df, name: str, label: str | None = None, units: dict | None = None,
              filters: kpilib.Filters | None = None):
    """CSV and Excel of a table (numbers with their ``units``), or of what a :func:`later`
    callable returns (its columns described by kpilib.export), built only when clicked: numbers
    as numbers, headers in words with their unit, the file named after the table and the
    period (``channels_2026-10-01_2026-10-31.csv``); formula-like text is neutralised. The
    callables run outside the script run: what they need is fixed now."""
    label = label or name.replace("_", " ")
    f = filters or current_filters()
    stem = f"{name}_{f.start:%Y-%m-%d}_{f.end:%Y-%m-%d}"
    cur = currency()

    def frame():
        return export.described(df()) if callable(df) else (df, units or {})

    row = st.container(horizontal=True)
    row.download_button(f"{label} · CSV", lambda: export.to_csv(*frame(), currency=cur),
                        file_name=f"{stem}.csv", mime="text/csv", key=f"csv_{name}",
                        icon=":material/download:")
    row.download_button(f"{label} · Excel",
                        lambda: export.to_excel(frame()[0], name, frame()[1], currency=cur),
                        key=f"xlsx_{name}", file_name=f"{stem}.xlsx", icon=":material/download:",
                        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def table(name: str, df, units: dict | None = None, raw=None,
          filters: kpilib.Filters | None = None):
    """A table on a page: ``df`` holds numbers, ``units`` the unit of each number column
    (kpilib.export: a KPI unit, or a change "change" / "pp" / "times_change"). Shown formatted
    for reading; downloaded as those numbers (or as ``raw``, a :func:`later` callable for every
    row)."""
    if name in kpilib.KPIS and reason(name, filters):
        st.info(f"{kpilib.get(name).label}: {reason(name, filters)}")
        return
    df = pd.DataFrame(df)
    units = units or {}
    shown = df.copy()
    cur = currency()
    for c, unit in units.items():
        if c in df:
            shown[c] = df[c].map(lambda v, u=unit: formatting.cell(v, u, cur))
    # Names as a spreadsheet must get them: the table's own "Download as CSV" and a copy of
    # its cells carry the names shown, and would write a formula or a CR raw.
    for c in [c for c in shown.columns if c not in units]:
        shown[c] = shown[c].map(export.safe_text)
    st.dataframe(shown, hide_index=True, width="stretch")
    downloads(df if raw is None else raw, name, "Download", units=units, filters=filters)


def definition(name: str) -> str:
    return kpilib.get(name).definition


# --- charts ---------------------------------------------------------------------------------
def tick_format(unit: str) -> dict:
    if unit == "ratio":
        return {"tickformat": ".1%"}
    if unit == "money":
        return {"tickprefix": formatting.symbol(currency()), "tickformat": ",.0f"}
    if unit == "times":
        return {"ticksuffix": "×", "tickformat": ",.1f"}
    if unit == "decimal":
        return {"tickformat": ",.2f"}
    return {"tickformat": ",.0f"}


def bar_text(fig, unit: str):
    """Each bar's value written on it as the axis writes it (money with its currency sign)."""
    t = tick_format(unit)
    for trace in fig.data:
        axis = "x" if trace.orientation == "h" else "y"
        trace.texttemplate = (f"{t.get('tickprefix', '')}%{{{axis}:{t['tickformat']}}}"
                              f"{t.get('ticksuffix', '')}")


def chart(fig, key: str):
    draw_chart(styled(fig), key)


def styled(fig):
    """``fig`` in the style every chart of the app has (changed in place and returned)."""
    formatting.plain_figure(fig)
    # Labels inside narrow bars are otherwise turned sideways to fit.
    fig.update_traces(textangle=0, selector={"type": "bar"})
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10), legend_title_text="")
    if fig.layout.hovermode is None:
        fig.update_layout(hovermode="x unified")
    return fig


def draw_chart(fig, key: str):
    """A figure already :func:`styled` (one shared by every session, built once: drawing it
    leaves it unchanged)."""
    st.plotly_chart(fig, key=key, width="stretch",
                    config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}})


def trend(name: str, by: str, key: str, title: str | None = None, split: bool = False,
          filters: kpilib.Filters | None = None):
    """A KPI over time: one line, or stacked areas per channel when ``split``. A KPI the
    store cannot give is the sentence naming the export that fills it."""
    k = kpilib.get(name)
    if missing(name):
        missing_note([name])
        return
    if reason(name, filters):
        st.info(f"{k.label}: {reason(name, filters)}")
        return
    f = filters or current_filters()
    partial = caveats.partial_note(k, facts(), f.start, f.end)
    if partial:
        st.caption(partial)
    if split:
        df = kpi(name, filters, by=(by, "channel"))
        df["channel"] = df["channel"].map(channel_label)
        if k.ratio or k.unit == "decimal":
            # Averages and rates do not add up across channels: one line each.
            fig = px.line(df, x="period", y="value", color="channel", title=title or k.label)
        else:
            # Stacked areas cannot show a negative day (refunds above sales); stacked bars can.
            draw = px.bar if (df["value"] < 0).any() else px.area
            fig = draw(df, x="period", y="value", color="channel", title=title or k.label)
    else:
        df = kpi(name, filters, by=by)
        fig = px.line(df, x="period", y="value", title=title or k.label, markers=by != "day")
    fig.update_yaxes(title=None, **tick_format(k.unit))
    fig.update_xaxes(title=None)
    chart(fig, key)


def cohort_curves(df: pd.DataFrame, y: str, title: str, key: str, x_title: str,
                  extra=None):
    """One line per cohort (``cohort``, ``k``, ``y``, ``final``), readable with a dozen
    cohorts: colours from light (oldest) to dark (latest), the part not final dashed.
    ``extra(fig, cohort, rows, colour)`` adds a cohort's own lines (payback's CAC)."""
    import plotly.colors
    import plotly.graph_objects as go

    cohorts = sorted(df["cohort"].unique())
    colours = plotly.colors.sample_colorscale(
        "Blues", [0.35 + 0.65 * i / max(len(cohorts) - 1, 1) for i in range(len(cohorts))])
    fig = go.Figure()
    for cohort, colour in zip(cohorts, colours):
        rows = df[df["cohort"] == cohort].sort_values("k")
        name = f"{cohort:%b %Y}"
        done = rows[rows["final"]]
        # The open part starts from the last final point, so the line does not break.
        open_ = rows[~rows["final"]] if done.empty else rows[rows["k"] >= done["k"].max()]
        hover = f"{name}, month %{{x}}: %{{y:,.2f}}<extra></extra>"
        fig.add_scatter(x=done["k"], y=done[y], name=name, legendgroup=name, mode="lines+markers",
                        line={"color": colour}, hovertemplate=hover)
        if len(open_) > (0 if done.empty else 1):
            fig.add_scatter(x=open_["k"], y=open_[y], name=f"{name} (not final)",
                            legendgroup=name, showlegend=done.empty, mode="lines+markers",
                            line={"color": colour, "dash": "dot"},
                            marker={"symbol": "circle-open"},
                            hovertemplate=hover.replace("<extra>", " (not final)<extra>"))
        if extra:
            extra(fig, cohort, rows, colour)
    fig.update_layout(title=title, hovermode="closest")
    fig.update_xaxes(title=x_title, dtick=1)
    fig.update_yaxes(title=None, **tick_format("money"))
    chart(fig, key)


def by_channel_table(names: list[str], filters: kpilib.Filters | None = None
                     ) -> tuple[pd.DataFrame, dict]:
    """KPIs side by side, one row per channel (those the store can give), and their units
    (for :func:`table`); computed once per store version and filters for every session."""
    store = active_store()[0]
    return _by_channel(str(store.path), store.fingerprint, tuple(names),
                       filters or current_filters())


@st.cache_data(max_entries=200, show_spinner=False)
def _by_channel(path: str, version: str, names: tuple, f: kpilib.Filters
                ) -> tuple[pd.DataFrame, dict]:
    names = [n for n in names if not reason(n, f)]
    if not names:
        return pd.DataFrame(), {}
    prefetch(names, f, by="channel")
    frames = [kpi(n, f, by="channel").set_index("channel")["value"].rename(n) for n in names]
    df = pd.concat(frames, axis=1).reset_index()
    for n in names:
        # A channel absent from a sum's rows sold or spent nothing: 0, not "no value".
        if kpilib.get(n).empty is not None:
            df[n] = df[n].fillna(kpilib.get(n).empty)
    df = df.sort_values(names[0], ascending=False, na_position="last")
    out = pd.DataFrame({"Channel": df["channel"].map(channel_label)})
    for n in names:
        out[kpilib.get(n).label] = df[n].to_numpy()
    return out.reset_index(drop=True), {kpilib.get(n).label: kpilib.get(n).unit for n in names}


TOP = 15


def top_and_other(df: pd.DataFrame, label: str, by: str, sums=(), ratio=None,
                  n: int = TOP) -> pd.DataFrame:
    """The ``n`` rows with the largest ``by`` and one "Other (k)" row for the rest, so a chart
    of 300 categories stays readable: its ``sums`` columns added up, and ``ratio`` (column,
    numerator, denominator) recomputed from them."""
    df = df.sort_values(by, ascending=False, na_position="last")
    if len(df) <= n + 1:
        return df
    rest = df.iloc[n:]
    other = {label: f"Other ({len(rest):,})", **{c: rest[c].sum() for c in sums}}
    if ratio:
        col, num, den = ratio
        other[col] = rest[num].sum() / rest[den].sum() if rest[den].sum() else float("nan")
    return pd.concat([df.iloc[:n], pd.DataFrame([other])], ignore_index=True)


def categorised(cats: pd.DataFrame) -> bool:
    """Whether the products have categories to split by (not all "uncategorised"); says which
    export brings them when they have none."""
    if set(cats["category"].dropna()) - {"uncategorised"}:
        return True
    st.info("No product categories: upload a products export with a category (product type) "
            "column on the Data page to see this by category.")
    return False


def grain(key: str) -> str:
    """Day / week / month picker; the default keeps charts readable for the range shown."""
    days = current_filters().days
    default = "day" if days <= 62 else "week" if days <= 370 else "month"
    picked = st.segmented_control("Show by", ["day", "week", "month"], default=default,
                                  key=key, format_func=str.capitalize)
    return picked or default


def header(title: str, caption: str | None = None):
    f = current_filters()
    st.title(title)
    where = (", ".join(formatting.md_plain(channel_label(c)) for c in f.channels)
             if f.channels else "all channels")
    st.caption(f"{fmt_range(f.start, f.end)} · {where}" + (f" · {caption}" if caption else ""))


def only(f: kpilib.Filters, channel: str) -> kpilib.Filters:
    """The same filters, narrowed to one channel."""
    from dataclasses import replace

    return replace(f, channels=(channel,))


def step_counts(filters: kpilib.Filters | None = None, by: str | None = None):
    """Sessions at each funnel step: a dict (step KPI → count), or a frame indexed by ``by``."""
    from kpilib.funnel import STEPS

    if by is None:
        return {name: value(name, filters) or 0.0 for name, _ in STEPS}
    return pd.concat([kpi(name, filters, by).set_index(by)["value"].rename(name)
                      for name, _ in STEPS], axis=1).fillna(0.0)


@st.cache_data(show_spinner=False)
def _script(name: str, filters: kpilib.Filters, by: str | None) -> str:
    try:
        return kpilib.script(kpilib.get(name), filters, by)
    except kpilib.FilterNotApplicable as e:
        return f"-- {e}\n"


def show_sql(name: str, filters: kpilib.Filters | None = None, by: str | None = None) -> None:
    """A collapsed "Show SQL" expander: the SQL KPI ``name`` runs under the filters, then its
    parameters, exactly as ``python -m kpilib sql`` prints it (kpilib.script)."""
    f = filters or current_filters()
    with st.expander("Show SQL", expanded=False, key=f"show_sql_{name}_{by}"):
        st.caption(f"{kpilib.get(name).label}, {fmt_range(f.start, f.end)}")
        st.code(_script(name, f, by), language="sql")


# --- what changed ---------------------------------------------------------------------------
# The "Why?" view: opened by ?why=KPI (and ?why_from=…&why_to=YYYY-MM-DD for other days than
# the page's: an unusual day, a month behind its target), so a link reopens it; the period
# compared with is ?why_vs.
WHY_VS = {"previous": "the previous period", "last_year": "last year",
          "week": "the same weekday a week before"}
_WHY = ("why", "why_from", "why_to", "why_vs")


def open_why(name: str, start: date | None = None, end: date | None = None) -> None:
    """Open the "Why?" view of KPI ``name``: over the page's period, or from ``start`` to
    ``end`` (one day: an unusual day, compared with the same weekday a week before)."""
    close_why()
    st.query_params["why"] = name
    if start is not None:
        st.query_params["why_from"] = start.isoformat()
        st.query_params["why_to"] = (end or start).isoformat()


def close_why() -> None:
    for p in _WHY:
        st.query_params.pop(p, None)
    st.session_state.pop("why_vs", None)


@st.cache_data(max_entries=200, show_spinner=False)
def _explained(path: str, version: str, name: str, f: kpilib.Filters,
               compared: kpilib.Filters, window: int) -> dict:
    from kpilib import explain

    return explain.explain(_connection(path, version), name, f, compared,
                           known=_facts(path, version), window_days=window)


def explanation(name: str, f: kpilib.Filters, compared: kpilib.Filters) -> dict:
    """kpilib.explain.explain of KPI ``name``, cached per store version for every session."""
    store = active_store()[0]
    return _explained(str(store.path), store.fingerprint, name, f, compared,
                      setting("return_window_days"))


def why_request(f: kpilib.Filters):
    """(KPI, filters, comparison choices) the URL asks the "Why?" view for, or None."""
    name = st.query_params.get("why")
    if name not in kpilib.KPIS or kpilib.get(name).table:
        return None
    try:
        start, end = (date.fromisoformat(st.query_params.get(p, "")) for p in ("why_from",
                                                                              "why_to"))
        g = replace(f, start=start, end=end)
    except ValueError:   # none given, or not dates, or the wrong way round: the page's period
        return name, f, ("previous", "last_year")
    return name, g, (("week",) if g.days == 1 else ()) + ("previous", "last_year")


def why_view(f: kpilib.Filters) -> None:
    """The "Why?" dialog, when the URL asks for it (:func:`why_request`)."""
    asked = why_request(f)
    if asked is None:
        return
    name, g, choices = asked
    _why_dialog(name, g, choices)


@st.dialog("What changed", width="large", on_dismiss=close_why)
def _why_dialog(name: str, f: kpilib.Filters, choices: tuple[str, ...]) -> None:
    import plotly.graph_objects as go

    from kpilib import explain

    k = kpilib.get(name)
    if "why_vs" not in st.session_state:
        asked = st.query_params.get("why_vs")
        st.session_state["why_vs"] = asked if asked in choices else choices[0]
    vs = st.segmented_control("Compared with", choices, key="why_vs",
                              format_func=WHY_VS.get) or choices[0]
    st.query_params["why_vs"] = vs
    compared = {"week": explain.week_before, "previous": lambda g: g.previous_period(),
                "last_year": lambda g: g.last_year()}[vs](f)
    try:
        out = explanation(name, f, compared)
    except kpilib.FilterNotApplicable as e:
        st.info(str(e))
        return
    cur = currency()
    st.markdown(f"**{_nobreak(formatting.md_plain(explain.headline(out, cur), 400))}**")
    st.caption(f"{fmt_range(f.start, f.end)} against {fmt_range(compared.start, compared.end)}"
               + (f" · {', '.join(map(channel_label, f.channels))}" if f.channels else ""))
    if out["change"] is None:
        return
    for note in out["notes"]:
        st.caption(note)
    unit = k.unit
    if out["formula"]:
        drivers = out["drivers"]
        st.markdown(f"**{formatting.md_plain(out['formula'], 300)}**")
        labels = [f"{'Before' if vs != 'last_year' else 'Last year'}",
                  *[d["label"] for d in drivers], "Now"]
        # Read top to bottom, labels on the left: long driver names fit a phone's width.
        levels = [out["compared"]]
        for d in drivers:
            levels.append(levels[-1] + d["effect"])
        low, high = min(levels + [out["current"]]), max(levels + [out["current"]])
        pad = (high - low) * 0.35 or abs(high) * 0.1 or 1
        fig = go.Figure(go.Waterfall(
            orientation="h", y=labels,
            measure=["absolute", *["relative"] * len(drivers), "total"],
            x=[out["compared"], *[d["effect"] for d in drivers], out["current"]],
            text=[fmt(out["compared"], unit, compact=True),
                  *[explain.effect_text(unit, d["effect"], cur) for d in drivers],
                  fmt(out["current"], unit, compact=True)],
            textposition="auto", connector={"line": {"color": "#bbb"}},
            increasing={"marker": {"color": "#2e7d32" if k.better != "down" else "#c62828"}},
            decreasing={"marker": {"color": "#c62828" if k.better != "down" else "#2e7d32"}},
            totals={"marker": {"color": "#5f6b7a"}}))
        fig.update_layout(showlegend=False, hovermode="closest",
                          height=120 + 48 * len(labels))
        # The bars' ends, not 0: a change of 5 % would be a sliver beside the whole figure.
        fig.update_xaxes(title=None, range=[max(low - pad, 0) if low >= 0 else low - pad,
                                            high + pad], **tick_format(unit))
        fig.update_yaxes(title=None, autorange="reversed")
        chart(fig, key=f"why_waterfall_{name}")
        st.caption("Each driver's part is the average of what changing it alone would have "
                   "done, over every order the drivers could be changed in (Shapley): the parts "
                   "add up to the change exactly.")
        for d in drivers:
            if d["effect"]:
                st.markdown(_line(explain.driver_text(d, unit, cur)))
    if out["by"]:
        tabs = st.tabs([f"By {explain.DIMENSIONS[d]}" for d in out["by"]])
        for tab, (d, rows) in zip(tabs, out["by"].items()):
            with tab:
                for r in rows[:3]:
                    st.markdown(_line(explain.member_text(d, r, k.label, unit, cur)))
                df, units = _why_table(d, rows, k)
                table(f"why_{name}_by_{d}", df, units, filters=f)
                if k.ratio:
                    st.caption("For a rate, each member's part is its own rate's change "
                               "(weighted by its average share) plus the change of its share "
                               "(weighted by its average rate): traffic moving to a weaker "
                               "channel lowers the rate even when every channel improves.")
    if out["not_split"]:
        st.caption(explain.split_note(out))
    if out["causes"]:
        st.markdown("**On the same days**")
        for c in out["causes"]:
            st.markdown(_line(c["text"]))


def _line(text: str) -> str:
    """A sentence of the "Why?" view as a Markdown list item."""
    return "- " + _nobreak(formatting.md_plain(text, 400))


def _nobreak(text: str) -> str:
    """A sign kept with its amount: a phone's line would break between "+" and "€1,417.75"."""
    import re

    return re.sub(r"([+−±])(?=[^\s])", "\\1\u2060", text)


def _why_table(dimension: str, rows: list[dict], k) -> tuple[pd.DataFrame, dict]:
    """The ranked table of one dimension: numbers, and their units for :func:`table`."""
    from kpilib import explain

    effect_unit = {"ratio": "pp", "times": "times_change"}.get(k.unit, k.unit)
    scale = 100 if k.unit == "ratio" else 1
    df = pd.DataFrame({
        explain.DIMENSIONS[dimension].capitalize(): [explain.member_words(dimension,
                                                                          r["member"])
                                                     for r in rows],
        "Before": [r["compared"] for r in rows], "Now": [r["current"] for r in rows],
        "Effect": [r["effect"] * scale for r in rows]})
    units = {"Before": k.unit, "Now": k.unit, "Effect": effect_unit}
    if any(r.get("drivers") for r in rows):
        # A sum's member split by the formula: what moved it most, in words.
        df["Mostly"] = [explain.driver_phrase(r["drivers"][0], k.unit, currency())
                        if r.get("drivers") else "" for r in rows]
    if k.ratio:
        df["Of which its share"] = [None if r["mix_effect"] is None else r["mix_effect"] * scale
                                    for r in rows]
        df["Of which its rate"] = [None if r["rate_effect"] is None
                                   else r["rate_effect"] * scale for r in rows]
        units.update({"Of which its share": effect_unit, "Of which its rate": effect_unit})
    return df, units
