"""Event exports rolled up to the daily traffic table at ingest: GA4's BigQuery export flattened
to CSV and REES46-style files (tests/data/formats/), counted by hand and compared, by day, month
and channel, with an independent pandas reading of the same files."""
import json
import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from helpers import cli, grouped, total
from kpilib import Filters, Store, get
from kpilib.caveats import facts, reason
from kpilib.ingest import IngestError, ingest

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "tests" / "data" / "formats"
GA4 = FORMATS / "ga4_bigquery_events.csv"
REES46 = FORMATS / "rees46_events.csv"
CUT = ROOT / "tests" / "data" / "bad" / "events_truncated_last_line.csv"
ROW = ("select date::varchar, channel, device, sessions, users, new_users, product_views, "
       "add_to_carts, checkouts, purchases from traffic order by all")
FEB = Filters(date(2025, 2, 1), date(2025, 2, 28))
AUTUMN = Filters(date(2019, 11, 1), date(2019, 12, 31))


def load(tmp_path, *files, tz="UTC", **kw):
    store = Store(tmp_path / "store")
    store.update_settings({"timezone": tz})
    return store, ingest(store, list(files), **kw)


def rows(store):
    return store.connect().execute(ROW).fetchall()


def rewrite(tmp_path, src: Path, name: str, edit) -> Path:
    """A copy of ``src`` with its frame changed by ``edit`` (columns renamed, dropped…)."""
    df = edit(pd.read_csv(src, dtype=str, keep_default_na=False))
    out = tmp_path / name
    df.to_csv(out, index=False)
    return out


# --- GA4's BigQuery export ---------------------------------------------------------------------
# Six sessions of five browsers (user_pseudo_id), 1-3 February 2025, times in UTC:
#   S1 p1 23:58 1 Feb, ga_session_id 1738454280, new (first_visit, session number 1), UTM
#      google / cpc, mobile: view, cart, checkout and purchase after midnight;
#   S2 p2 the same second, so the same ga_session_id; session number 3, nothing collected, the
#      visitor first came from newsletter / email; desktop; a product view;
#   S3 p1 10:00 2 Feb, collected google / organic (p1 first came from google / cpc); view,
#      cart and purchase without begin_checkout (express checkout);
#   S4 p3 15:30 2 Feb, new, newsletter / email, tablet, a view;
#   S5 p4 09:00 3 Feb, new, typed the address ((direct) / (none)), desktop, pages only;
#   S6 p5 12:00 3 Feb, returning, a Google Ads click (gclid, no UTM tags; p5 first came
#      direct), desktop, view and cart.
GA4_UTC = [  # date, channel, device, sessions, users, new users, views, carts, checkouts, buys
    ("2025-02-01", "email", "desktop", 1, 1, 0, 1, 0, 0, 0),             # S2
    ("2025-02-01", "paid_search", "mobile", 1, 1, 1, 1, 1, 1, 1),        # S1, ends on 2 Feb
    ("2025-02-02", "email", "tablet", 1, 1, 1, 1, 0, 0, 0),              # S4
    ("2025-02-02", "organic_search", "mobile", 1, 1, 0, 1, 1, 0, 1),     # S3
    ("2025-02-03", "direct", "desktop", 1, 1, 1, 0, 0, 0, 0),            # S5
    ("2025-02-03", "paid_search", "desktop", 1, 1, 0, 1, 1, 0, 0)]       # S6


def test_a_ga4_session_is_the_browser_and_its_ga_session_id(tmp_path):
    store, [r] = load(tmp_path, GA4)
    assert r.fmt == "event-level rows"
    # S1 and S2 share ga_session_id 1738454280 but not user_pseudo_id: two sessions.
    assert rows(store) == GA4_UTC
    assert r.mapping["sessions"] == "user_pseudo_id + event_params.ga_session_id, counted once"
    assert r.mapping["device"] == "device.category"
    assert r.mapping["channel"].endswith(
        "else traffic_source.source + traffic_source.medium (the visitor's first)")


@pytest.mark.parametrize("path", [GA4, REES46], ids=["ga4", "rees46"])
def test_each_column_read_is_named_in_the_files_words(tmp_path, path):
    headers = pd.read_csv(path, nrows=0).columns
    _, [r] = load(tmp_path, path, dry_run=True)
    assert r.mapping
    for canonical, said in r.mapping.items():
        assert any(h in said for h in headers), (canonical, said)


def test_ga4_columns_as_an_sql_flattening_names_them(tmp_path):
    # SELECT … (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id')
    # AS ga_session_id, device.category AS device_category, traffic_source.source AS
    # traffic_source_source …
    f = rewrite(tmp_path, GA4, "events_20250201.csv", lambda d: d.rename(
        columns=lambda c: c.removeprefix("event_params.").replace(".", "_")))
    store, [r] = load(tmp_path, f)
    assert rows(store) == GA4_UTC
    assert r.mapping["sessions"] == "user_pseudo_id + ga_session_id, counted once"


def test_ga_session_id_alone_merges_sessions_started_in_the_same_second(tmp_path):
    f = rewrite(tmp_path, GA4, "no_pseudo_id.csv", lambda d: d.drop(columns="user_pseudo_id"))
    store, [r] = load(tmp_path, f)
    got = rows(store)
    # S1 and S2 are one session now: S1's first event (UTM google / cpc, mobile) decides its
    # channel and device; S1's first_visit makes it new; no user column, so no users.
    assert got[0] == ("2025-02-01", "paid_search", "mobile", 1, None, 1, 1, 1, 1, 1)
    assert sum(g[3] for g in got) == 5
    assert any("visitors arriving in the same second share it; without user_pseudo_id" in n
               for n in r.notes)


def test_the_sessions_own_source_comes_before_what_its_events_collected(tmp_path):
    def last_click(d):
        # Exports since mid-2024 carry the session's source on each of its events; here S3's.
        s3 = d["event_params.ga_session_id"] == "1738490400"
        said = "session_traffic_source_last_click.manual_campaign."
        return d.assign(**{said + "source": s3.map({True: "bing", False: ""}),
                           said + "medium": s3.map({True: "cpc", False: ""})})
    store, _ = load(tmp_path, rewrite(tmp_path, GA4, "last_click.csv", last_click))
    got = rows(store)
    # S3: bing / cpc instead of the google / organic collected with its first event.
    assert ("2025-02-02", "paid_search", "mobile", 1, 1, 0, 1, 1, 0, 1) in got
    assert [g for g in got if g[1] != "paid_search" or g[0] != "2025-02-02"] == \
        [g for g in GA4_UTC if g[1] != "organic_search"]


def test_event_times_in_utc_are_taken_in_the_shops_timezone(tmp_path):
    # Paris is UTC+1 in February: S1 and S2 start at 00:58 on 2 February, S1's purchase
    # (00:05 UTC) with them; S5 and S6 stay on 3 February.
    store, _ = load(tmp_path, GA4, tz="Europe/Paris")
    got = store.connect().execute(
        "select date::varchar, sum(sessions), sum(purchases) from traffic group by 1 order by 1"
    ).fetchall()
    assert got == [("2025-02-02", 4, 2), ("2025-02-03", 2, 0)]


# --- REES46 -----------------------------------------------------------------------------------
# Six user_session ids, times in UTC, no source, no device, no checkout event:
#   2d4e… user 541312140 1 Nov 10:15, two views;
#   a7f7… user 512386086 1 Nov 23:50: view, cart, two purchases after midnight (one order);
#   f1e2… user 541312140 2 Nov 08:00: view, cart, remove_from_cart;
#   0b9c… user 564068124 2 Nov 19:30: a purchase only;
#   c3b2… user 512386086 30 Nov 23:59:30: view, cart at 00:00:10 on 1 December;
#   e5d4… user 600000001 1 Dec 12:00: a view.
REES46_UTC = [  # checkouts and new users: not in the export (None), not 0
    ("2019-11-01", "unknown", "unknown", 2, 2, None, 2, 1, None, 1),     # 2d4e, a7f7
    ("2019-11-02", "unknown", "unknown", 2, 2, None, 1, 1, None, 1),     # f1e2, 0b9c
    ("2019-11-30", "unknown", "unknown", 1, 1, None, 1, 1, None, 0),     # c3b2
    ("2019-12-01", "unknown", "unknown", 1, 1, None, 1, 0, None, 0)]     # e5d4


def test_rees46_events_import_as_they_are(tmp_path):
    store, [r] = load(tmp_path, REES46)
    assert r.fmt == "event-level rows" and r.rows == 4
    assert rows(store) == REES46_UTC
    assert "checkouts" not in r.mapping and r.mapping["sessions"] == "user_session, counted once"
    assert "no checkout event" in r.summary()


def test_a_step_without_events_is_not_tracked_rather_than_zero(tmp_path):
    store, _ = load(tmp_path, REES46)
    known = facts(store.connect())
    assert known.untracked == {"checkouts"}
    for name in ("checkouts", "checkout_rate", "cart_to_checkout_rate",
                 "checkout_to_purchase_rate"):
        assert reason(get(name), known).startswith("Not tracked: the traffic export records "
                                                   "no checkout step"), name
    for name in ("checkout_rate", "cart_to_checkout_rate", "checkout_to_purchase_rate"):
        assert total(store, name, AUTUMN) is None
    # The steps it records are counted: 6 sessions, 5 viewed, 3 carted, 2 bought.
    assert total(store, "sessions", AUTUMN) == 6
    assert total(store, "conversion_rate", AUTUMN) == pytest.approx(2 / 6)
    assert total(store, "view_to_cart_rate", AUTUMN) == pytest.approx(3 / 5)
    assert total(store, "cart_abandonment_rate", AUTUMN) == pytest.approx(1 - 2 / 3)
    assert reason(get("view_to_cart_rate"), known) is None
    assert total(store, "new_users", AUTUMN) is None


def test_rees46_months_are_the_shops(tmp_path):
    # In Paris (UTC+1) a7f7 starts at 00:50 on 2 November and c3b2 at 00:59:30 on 1 December:
    # November holds 2d4e, a7f7, f1e2, 0b9c; December c3b2 and e5d4.
    store, _ = load(tmp_path, REES46, tz="Europe/Paris")
    assert grouped(store, "sessions", AUTUMN, "month") == {date(2019, 11, 1): 4,
                                                            date(2019, 12, 1): 2}
    # Purchases: a7f7 and 0b9c, both in November now.
    assert grouped(store, "purchases", AUTUMN, "month") == {date(2019, 11, 1): 2,
                                                             date(2019, 12, 1): 0}


SPELLINGS = ["user_session", "session_id", "sessionid", "SessionID", "Session ID", "session_key",
             "visit_id", "visitId", "idvisit", "domain_sessionid", "session"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_session_id_spellings(tmp_path, spelling):
    f = rewrite(tmp_path, REES46, "events.csv",
                lambda d: d.rename(columns={"user_session": spelling}))
    store, [r] = load(tmp_path, f)
    assert r.fmt == "event-level rows" and rows(store) == REES46_UTC


def test_every_accepted_spelling_is_in_the_readme():
    from kpilib.ingest.importers import sessions as s
    readme = (ROOT / "README.md").read_text()
    names = [*s.SESSION_ID, *s.SESSION_NUMBER, s.VISITOR, *s.EVENT_TIME, *s.EVENT_TYPE,
             *s.NEW_USER_EVENTS, *(n for v in s.EVENT_STEPS.values() for n in v), *s.STARTED,
             *(n for v in s.FLAGS.values() for n in v)]
    for name in names:
        assert f"`{name.replace('event_params_', 'event_params.')}`" in readme, name


# --- a file cut short -------------------------------------------------------------------------
# REES46's first five events (rows 2-6: three views, a cart, a purchase), then row 7 cut after
# "2019-11-02 08:00:00 UTC,vi" with no line break: the download stopped there.
def test_an_event_file_cut_short_is_refused_naming_the_row(tmp_path):
    with pytest.raises(IngestError, match=r"ends in the middle of row 7 .* For example row 7: "
                                          r"'2019-11-02 08:00:00 UTC,vi'"):
        load(tmp_path, CUT)
    assert not (tmp_path / "store" / "traffic").exists()


def test_skip_invalid_keeps_the_rows_before_the_cut(tmp_path):
    store, [r] = load(tmp_path, CUT, allow_partial=True)
    assert r.rejected == 1 and "the file ends in the middle of row 7" in r.rejections[0]
    assert r.rejected_csv.splitlines()[1].startswith("7,")
    # 2d4e (two views) and a7f7 (view, cart, a purchase after midnight) on 1 November.
    assert rows(store) == [("2019-11-01", "unknown", "unknown", 2, 2, None, 2, 1, None, 1)]


def test_skip_invalid_on_the_command_line_names_the_row(tmp_path):
    p = cli("ingest", CUT, "--store", tmp_path / "s", "--skip-invalid")
    assert "1 row rejected" in p.stdout and "ends in the middle of row 7" in p.stdout
    p = cli("kpi", "sessions", "--store", tmp_path / "s", "--start", "2019-11-01",
            "--end", "2019-11-30")
    assert json.loads(p.stdout)[0]["value"] == 2


# --- an independent reading -------------------------------------------------------------------
# Source / medium pairs of the GA4 fixture, mapped by hand (not by kpilib.channels).
PAIRS = {("google", "cpc"): "paid_search", ("google", "organic"): "organic_search",
         ("newsletter", "email"): "email", ("(direct)", "(none)"): "direct"}
STEPS = {"product_views": {"view", "view_item"}, "add_to_carts": {"cart", "add_to_cart"},
         "checkouts": {"begin_checkout"}, "purchases": {"purchase"}}


def pandas_sessions(path: Path, tz: str) -> pd.DataFrame:
    """One row per session, read with pandas alone: day, channel and a flag per step."""
    d = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "user_pseudo_id" in d:
        ts = pd.to_datetime(d["event_timestamp"].astype("int64"), unit="us", utc=True)
        key = d["user_pseudo_id"] + "/" + d["event_params.ga_session_id"]
        kind = d["event_name"]
        said = [PAIRS.get((s, m)) or ("paid_search" if g else None) for s, m, g in zip(
            d["collected_traffic_source.manual_source"],
            d["collected_traffic_source.manual_medium"], d["collected_traffic_source.gclid"])]
        first = [PAIRS[(s, m)] for s, m in zip(d["traffic_source.source"],
                                                d["traffic_source.medium"])]
    else:
        ts = pd.to_datetime(d["event_time"].str.removesuffix(" UTC"), utc=True)
        key, kind = d["user_session"], d["event_type"]
        said, first = [None] * len(d), [None] * len(d)
    e = pd.DataFrame({"key": key, "ts": ts.dt.tz_convert(tz), "kind": kind, "said": said,
                      "first": first}).sort_values("ts", kind="stable")
    out = []
    for _, s in e.groupby("key"):
        channel = next((c for c in [*s["said"], *s["first"]] if isinstance(c, str)), "unknown")
        out.append({"day": s["ts"].iloc[0].date(), "channel": channel, "sessions": 1,
                    **{k: int(s["kind"].isin(v).any()) for k, v in STEPS.items()}})
    return pd.DataFrame(out)


def pandas_figures(s: pd.DataFrame, by: str, tracked: set[str]) -> dict[str, dict]:
    key = {"day": s["day"], "month": s["day"].map(lambda d: d.replace(day=1)),
           "channel": s["channel"]}[by]
    sums = s.groupby(key)[["sessions", *STEPS]].sum()
    out = {k: sums[k].to_dict() for k in ("sessions", *tracked)}
    out["conversion_rate"] = (sums["purchases"] / sums["sessions"]).to_dict()
    if "checkouts" in tracked:
        out["cart_to_checkout_rate"] = {k: v["checkouts"] / v["add_to_carts"]
                                        if v["add_to_carts"] else None
                                        for k, v in sums.iterrows()}
    return out


@pytest.mark.parametrize("path,f", [(GA4, FEB), (REES46, AUTUMN)], ids=["ga4", "rees46"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris"])
def test_figures_match_a_pandas_reading(tmp_path, path, f, tz):
    store, _ = load(tmp_path, path, tz=tz)
    tracked = set(STEPS) - ({"checkouts"} if path == REES46 else set())
    sessions = pandas_sessions(path, tz)
    for by in ("day", "month", "channel"):
        for name, expected in pandas_figures(sessions, by, tracked).items():
            got = grouped(store, name, f, by)
            for k, v in got.items():
                w = expected.get(k)
                if w is None:   # a day or month without sessions: nothing to count or divide
                    assert v in (None, 0), (by, name, k, v)
                else:
                    assert v is not None and math.isclose(v, w, rel_tol=1e-12), \
                        (by, name, k, v, w)
            assert set(expected) <= set(got), (by, name, set(expected) - set(got))


# --- session-level rows and the pages ---------------------------------------------------------
def test_a_session_export_without_a_checkout_column_does_not_track_it(tmp_path):
    f = tmp_path / "sessions.csv"
    f.write_text("session_id,started_at,channel,product_view,add_to_cart,purchase\n"
                 "s1,2025-02-01 09:00:00,email,1,1,1\ns2,2025-02-01 10:00:00,email,1,0,0\n")
    store, _ = load(tmp_path, f)
    assert rows(store) == [("2025-02-01", "email", "unknown", 2, None, None, 2, 1, None, 1)]
    assert facts(store.connect()).untracked == {"checkouts"}


def test_the_funnel_page_on_an_event_export_without_checkouts(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    store, _ = load(tmp_path, REES46)
    monkeypatch.setenv("KPILIB_STORE", str(store.path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.sidebar.selectbox(key="period").set_value("Last month").run()   # November 2019
    at.switch_page("app_pages/funnel.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("Not tracked by the traffic export: Checkout.")
               for c in at.caption)
    table = at.dataframe[0].value.set_index("Step")
    # November: 5 sessions, 4 viewed, 3 carted, no checkout step, 2 bought.
    assert table["Sessions"].tolist()[:3] == ["5", "4", "3"]
    assert table.loc["Checkout", "Note"] == "not tracked by the export"
    cards = {m.label: m.value for m in at.metric}
    assert cards["Conversion rate (analytics)"] == "40.00 %"            # 2 / 5
    assert "Cart → checkout" not in cards
    assert any(i.value.startswith("Cart → checkout and Checkout → purchase: Not tracked")
               for i in at.info)
