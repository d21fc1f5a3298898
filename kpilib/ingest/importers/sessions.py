"""Session-level rows (one per session, with funnel flags) and event-level rows (view / cart /
checkout / purchase events with a session id) rolled up at ingest to the daily `traffic` grain.

Each funnel column counts the sessions that have that step: a session with a purchase but no
cart event counts in purchases and not in add-to-carts. A session belongs to the shop-time day
it started, even when its events run past midnight. A step the file never records (no column
for it, or no event of it anywhere: REES46 exports have no checkout event) is stored empty, not
0, so that the funnel says it is not tracked.

GA4's BigQuery export, flattened to one row per event: ga_session_id is the second the session
started, so visitors who arrive in the same second share it; a session is user_pseudo_id +
ga_session_id. Its channel is the session's own source / medium where the export has it
(session_traffic_source_last_click, exports since mid-2024), else the first one collected with
one of its events (collected_traffic_source: UTM tags, or a Google Ads click id), else the
visitor's first-ever source (traffic_source). GA4 itself credits a visit without a source to
the visitor's earlier campaign (last non-direct click); traffic_source is the only earlier one
the export holds.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...channels import label_sql, source_medium_sql
from ..prepare import _parse_time_sql, reject_rows
from . import Columns, Context, emit

STARTED = ("started_at", "session_start", "session_started_at", "start_time", "session_start_time")
FLAGS = {
    "product_views": ("product_view", "viewed_product", "product_viewed", "view_item", "viewed"),
    "add_to_carts": ("add_to_cart", "added_to_cart", "cart", "carted"),
    "checkouts": ("checkout", "began_checkout", "begin_checkout", "checked_out"),
    "purchases": ("purchase", "purchased", "converted", "ordered"),
}
EVENT_TIME = ("event_time", "event_timestamp", "timestamp", "event_datetime", "time")
EVENT_TYPE = ("event_type", "event_name", "event", "type")
# Headers as norm_header writes them: GA4's flattened `event_params.ga_session_id` is
# event_params_ga_session_id; Snowplow's domain_sessionid, Matomo's idvisit.
SESSION_ID = ("session_id", "sessionid", "user_session", "session_key", "visit_id", "visitid",
              "idvisit", "domain_sessionid", "session", "ga_session_id",
              "event_params_ga_session_id")
GA4_SESSION_ID = ("ga_session_id", "event_params_ga_session_id")
VISITOR = "user_pseudo_id"   # GA4's browser id: with ga_session_id, the session
SESSION_NUMBER = ("ga_session_number", "event_params_ga_session_number")
NEW_USER_EVENTS = ("first_visit", "first_open")
EVENT_STEPS = {
    "product_views": ("view", "view_item", "product_view", "item_view", "detail"),
    "add_to_carts": ("cart", "add_to_cart", "addtocart", "add"),
    "checkouts": ("checkout", "begin_checkout", "initiate_checkout", "add_shipping_info",
                  "add_payment_info"),
    "purchases": ("purchase", "transaction", "order", "ecommerce_purchase"),
}
STEP_EVENTS = {"product_views": "product view", "add_to_carts": "add-to-cart",
               "checkouts": "checkout", "purchases": "purchase"}
# Source / medium columns an event may carry, the session's own first; then a Google Ads click
# id, then the visitor's first source (FIRST_SOURCE) when none of them says anything.
EVENT_SOURCES = (
    ("session_traffic_source_last_click_cross_channel_campaign_source",
     "session_traffic_source_last_click_cross_channel_campaign_medium"),
    ("session_traffic_source_last_click_manual_campaign_source",
     "session_traffic_source_last_click_manual_campaign_medium"),
    ("collected_traffic_source_manual_source", "collected_traffic_source_manual_medium"),
    ("source", "medium"), ("utm_source", "utm_medium"))
GCLID = "collected_traffic_source_gclid"
FIRST_SOURCE = ("traffic_source_source", "traffic_source_medium")
TRUE = "('1', 'true', 'yes', 'y', 't', 'x')"
COLUMNS = ["date", "channel", "device", "sessions", "users", "new_users", "product_views",
           "add_to_carts", "checkouts", "purchases"]


def _time(col: str) -> str:
    """ISO text (with or without a UTC offset, or ending in ' UTC' as REES46 and BigQuery
    write it) or epoch seconds / ms / µs (GA4's event_timestamp), in shop time."""
    epoch = (f"case length({col}) when 10 then to_timestamp({col}::bigint) "
             f"when 13 then epoch_ms({col}::bigint)::timestamptz "
             f"when 16 then make_timestamp({col}::bigint)::timestamptz end")
    utc = f"regexp_replace({col}, '\\s*(UTC|GMT)$', 'Z')"
    return (f"case when regexp_matches({col}, '^\\d{{10}}(\\d{{3}}|\\d{{6}})?$') "
            f"then timezone($tz, {epoch}) else {_parse_time_sql(utc, None)} end")


def _channel(c: Columns) -> str:
    if c.has("channel"):
        return label_sql(c["channel"])
    if c.has("source", "medium"):
        return source_medium_sql(c["source"], c["medium"])
    if c.has("utm_source", "utm_medium"):
        return source_medium_sql(c["utm_source"], c["utm_medium"])
    return "'unknown'"


def _event_channel(c: Columns) -> tuple[str, str, str | None]:
    """SQL of the channel an event says (NULL where it says none), of the visitor's first
    channel (NULL where unknown), and the words for where the channel was read."""
    says, words = [], []
    if c.has("channel"):
        says.append(f"case when {c['channel']} is not null then {label_sql(c['channel'])} end")
        words.append(c.name("channel"))
    for source, medium in EVENT_SOURCES:
        if c.has(source, medium):
            says.append(f"case when coalesce({c[source]}, {c[medium]}) is not null "
                        f"then {source_medium_sql(c[source], c[medium])} end")
            words.append(f"{c.name(source)} + {c.name(medium)}")
    if c.has(GCLID):
        says.append(f"case when {c[GCLID]} is not null then 'paid_search' end")
        words.append(f"{c.name(GCLID)} (paid search)")
    said = words and " / ".join(words) + " of the session's first event that has one"
    first = "cast(null as varchar)"
    if c.has(*FIRST_SOURCE):
        first = (f"case when coalesce({c[FIRST_SOURCE[0]]}, {c[FIRST_SOURCE[1]]}) is not null "
                 f"then {source_medium_sql(*(c[n] for n in FIRST_SOURCE))} end")
        theirs = f"{c.name(FIRST_SOURCE[0])} + {c.name(FIRST_SOURCE[1])} (the visitor's first)"
        said = f"{said}, else {theirs}" if said else theirs
    return f"coalesce({', '.join(says)}, null)" if says else "cast(null as varchar)", first, said


def _origin(c: Columns, date: str, sessions: str, steps: dict[str, str | None],
            channel: str | None = None, users: str | None = None,
            new: str | None = None) -> dict:
    """What each traffic column is read from; ``steps``: each funnel column's words."""
    pairs = [("channel",), ("source", "medium"), ("utm_source", "utm_medium")]
    channel = channel or next((" + ".join(c.name(n) for n in p) for p in pairs if c.has(*p)),
                              None)
    user, flag = users or c.name("user_id"), c.name("new_user")
    return {"date": date, "channel": channel, "device": c.name("device", "device_category"),
            "sessions": sessions, "users": user and f"{user}, counted once a day",
            "new_users": new or flag and f"sessions with {flag} set", **steps}


def _rules(raw, c: Columns, col: str, sid: str | None = None) -> list[tuple]:
    """Rows no session can be made of (prepare.reject_rows): a last row cut short, a time
    that is missing or not one, and (events) no session id in the column ``sid``."""
    rules, whole = [], "true"
    if raw.cut_row:
        row = int(raw.cut_row)
        rules.append((None, (f"the file ends in the middle of row {row} (the export or "
                             "download was cut short): export it again, or skip that row."),
                      f"_row = {row}",
                      f"concat_ws(',', {', '.join(f'c{i}' for i in range(len(raw.columns)))})"))
        whole = f"_row <> {row}"
    rules.append((c.name(col), ("has rows whose time is missing or not a date and time; a "
                                "session's day cannot be known without it."),
                  f"{whole} and ({c[col]} is null or ({_time(c[col])}) is null)", c[col]))
    if sid:
        rules.append((c.name(sid), "has events without a session id.",
                      f"{whole} and {c[sid]} is null", "null"))
    return rules


def _rollup(users: str, new_users: str, steps: dict[str, bool]) -> str:
    """Sessions (the relation `s`, one row per session with its start, channel, device, user,
    new_user and a flag per step) → days; a step the file has no way to record is NULL."""
    counts = ", ".join(f"count(*) filter (where {k}) as {k}" if there else f"null as {k}"
                       for k, there in steps.items())
    return f"""
        select min(_row) as _row, strftime(cast(started as date), '%Y-%m-%d') as date, channel,
               device, count(*) as sessions, {users} as users, {new_users} as new_users, {counts}
        from s group by all"""


@dataclass(frozen=True)
class _Sessions:
    name: str = "session-level rows"

    def match(self, headers: list[str]) -> bool:
        h = set(headers)
        return bool(h & set(STARTED)) and "sessions" not in h and \
            sum(bool(h & set(names)) for names in FLAGS.values()) >= 2

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        started = next(s for s in STARTED if c.has(s))
        keep, rejected = reject_rows(con, raw, _rules(raw, c, started), ctx.allow_partial,
                                     {"tz": ctx.tz})
        flags = ", ".join(f"coalesce(lower({c.first(*names)}) in {TRUE}, false) as {k}"
                          for k, names in FLAGS.items())
        origin = _origin(c, f"{c.name(started)}, the day each session started",
                         "one session per row",
                         {k: (h := c.name(*names)) and f"sessions with {h} set"
                          for k, names in FLAGS.items()})
        rollup = _rollup("count(distinct user_id)" if c.has("user_id") else "null",
                         "count(*) filter (where new_user)" if c.has("new_user") else "null",
                         {k: any(c.has(n) for n in names) for k, names in FLAGS.items()})
        sql = f"""with s as (
                    select _row, {_time(c[started])} as started, {_channel(c)} as channel,
                           coalesce(lower({c.first('device', 'device_category')}), 'unknown')
                               as device,
                           {c['user_id']} as user_id,
                           coalesce(lower({c['new_user']}) in {TRUE}, false) as new_user, {flags}
                    from {raw.table} where {keep})
                  {rollup}"""
        out = emit(con, raw.name, sql, COLUMNS, {"tz": ctx.tz}, origin=origin,
                   rejected=rejected)
        out.untracked = frozenset(k for k, names in FLAGS.items()
                                  if not any(c.has(n) for n in names))
        return [("traffic", out)]


@dataclass(frozen=True)
class _Events:
    name: str = "event-level rows"

    def match(self, headers: list[str]) -> bool:
        h = set(headers)
        return bool(h & set(EVENT_TIME)) and bool(h & set(EVENT_TYPE)) and \
            bool(h & set(SESSION_ID))

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        t = next(x for x in EVENT_TIME if c.has(x))
        sid_key = next(x for x in SESSION_ID if c.has(x))
        sid, sid_name, ga4 = c[sid_key], c.name(sid_key), sid_key in GA4_SESSION_ID
        keep, rejected = reject_rows(con, raw, _rules(raw, c, t, sid_key), ctx.allow_partial,
                                     {"tz": ctx.tz})
        if ga4 and not c.has(VISITOR):
            ctx.notes.append(f"{raw.name}: {sid_name} is the second a session started and "
                             f"visitors arriving in the same second share it; without "
                             f"{VISITOR} beside it their sessions are counted as one")
        kind = f"lower({c.first(*EVENT_TYPE)})"
        event = c.name(*EVENT_TYPE)
        channel, first_channel, channel_said = _event_channel(c)
        user = c.name(VISITOR, "user_id")
        number = c.name(*SESSION_NUMBER)
        new = [f"{kind} in {NEW_USER_EVENTS!r}"]
        if number:
            new.append(f"try_cast({c.first(*SESSION_NUMBER)} as double) = 1")
        if c.has("new_user"):
            new.append(f"coalesce(lower({c['new_user']}) in {TRUE}, false)")
        steps = ", ".join(f"bool_or(kind in ({', '.join(repr(v) for v in names)})) as {k}"
                          for k, names in EVENT_STEPS.items())
        origin = _origin(
            c, f"{c.name(t)} of each session's first event",
            f"{c.name(VISITOR) + ' + ' if ga4 and c.has(VISITOR) else ''}{sid_name}, "
            "counted once",
            {k: f"sessions with an {event} of {' / '.join(names)}"
             for k, names in EVENT_STEPS.items()},
            channel=channel_said, users=user,
            new=" or ".join([f"an {event} of {' / '.join(NEW_USER_EVENTS)}"]
                            + [f"{n} 1" for n in (number, c.name("new_user")) if n]))
        sql = f"""with e as (
                    select _row, {sid} as session_id,
                           {c[VISITOR] if ga4 else 'null'} as visitor,
                           {_time(c[t])} as ts, {kind} as kind, {channel} as channel,
                           {first_channel} as first_channel,
                           lower({c.first('device', 'device_category')}) as device,
                           {c.first(VISITOR, 'user_id')} as user_id,
                           coalesce({' or '.join(new)}, false) as new_user
                    from {raw.table} where {keep}),
                  s as (
                    -- a session starts at its first event; its channel and device are the
                    -- first ones it reports
                    select min(_row) as _row, min(ts) as started,
                           coalesce(arg_min(channel, ts) filter (where channel is not null),
                                    arg_min(first_channel, ts)
                                        filter (where first_channel is not null),
                                    'unknown') as channel,
                           coalesce(arg_min(device, ts) filter (where device is not null),
                                    'unknown') as device,
                           any_value(user_id) as user_id, bool_or(new_user) as new_user,
                           {steps}
                    from e group by visitor, session_id)
                  {_rollup('count(distinct user_id)' if user else 'null',
                           'count(*) filter (where new_user)', dict.fromkeys(EVENT_STEPS, True))}"""
        out = emit(con, raw.name, sql, COLUMNS, {"tz": ctx.tz}, origin=origin,
                   rejected=rejected)
        # No session reached a step: the file has no event of it, so it does not record it.
        # Without a column saying who is new, no first_visit event likewise says nothing.
        blank = [k for k in EVENT_STEPS if not _total(con, out, k)]
        if not (number or c.has("new_user")) and not _total(con, out, "new_users"):
            blank.append("new_users")
        if blank:
            con.execute(f"update {out.table} set "
                        + ", ".join(f"c{COLUMNS.index(k)} = null" for k in blank))
        out.untracked = frozenset(blank) - {"new_users"}
        out.origin = {k: v for k, v in out.origin.items() if k not in blank}
        if out.untracked:
            words = [STEP_EVENTS[k] for k in EVENT_STEPS if k in out.untracked]
            ctx.notes.append(f"{raw.name}: no {' or '.join(words)} event, so "
                             f"{'that step is' if len(words) == 1 else 'those steps are'} "
                             "stored as not tracked")
        return [("traffic", out)]


def _total(con, out, column: str) -> int:
    return con.execute(f"select coalesce(sum(c{COLUMNS.index(column)}::bigint), 0) "
                       f"from {out.table}").fetchall()[0][0]


SESSIONS, EVENTS = _Sessions(), _Events()
