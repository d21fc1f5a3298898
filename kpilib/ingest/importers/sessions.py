"""Session-level rows (one per session, with funnel flags) and event-level rows (view / cart /
checkout / purchase events with a session id) rolled up at ingest to the daily `traffic` grain.

Each funnel column counts the sessions that have that step: a session with a purchase but no
cart event counts in purchases and not in add-to-carts. A session belongs to the shop-time day
it started, even when its events run past midnight.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...channels import label_sql, source_medium_sql
from ..errors import IngestError
from ..prepare import _parse_time_sql
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
SESSION_ID = ("session_id", "ga_session_id", "visit_id", "session")
EVENT_STEPS = {
    "product_views": ("view", "view_item", "product_view", "item_view", "detail"),
    "add_to_carts": ("cart", "add_to_cart", "addtocart", "add"),
    "checkouts": ("checkout", "begin_checkout", "initiate_checkout"),
    "purchases": ("purchase", "transaction", "order", "ecommerce_purchase"),
}
TRUE = "('1', 'true', 'yes', 'y', 't', 'x')"


def _time(col: str) -> str:
    """ISO text (with or without a UTC offset) or epoch seconds / ms / µs, in shop time."""
    epoch = (f"case length({col}) when 10 then to_timestamp({col}::bigint) "
             f"when 13 then epoch_ms({col}::bigint)::timestamptz "
             f"when 16 then make_timestamp({col}::bigint)::timestamptz end")
    return (f"case when regexp_matches({col}, '^\\d{{10}}(\\d{{3}}|\\d{{6}})?$') "
            f"then timezone($tz, {epoch}) else {_parse_time_sql(col, None)} end")


def _channel(c: Columns) -> str:
    if c.has("channel"):
        return label_sql(c["channel"])
    if c.has("source", "medium"):
        return source_medium_sql(c["source"], c["medium"])
    if c.has("utm_source", "utm_medium"):
        return source_medium_sql(c["utm_source"], c["utm_medium"])
    return "'unknown'"


def _origin(c: Columns, date: str, sessions: str, steps: dict[str, str | None]) -> dict:
    """What each traffic column is read from; ``steps``: each funnel column's words."""
    pairs = [("channel",), ("source", "medium"), ("utm_source", "utm_medium")]
    channel = next((" + ".join(c.name(n) for n in p) for p in pairs if c.has(*p)), None)
    user, new = c.name("user_id"), c.name("new_user")
    return {"date": date, "channel": channel, "device": c.name("device", "device_category"),
            "sessions": sessions, "users": user and f"{user}, counted once a day",
            "new_users": new and f"sessions with {new} set", **steps}


def _check_times(con, raw, c: Columns, col: str, tz: str) -> None:
    bad = con.execute(f"select _row, {c[col]} from {raw.table} where {c[col]} is null or "
                      f"({_time(c[col])}) is null order by _row limit 5", {"tz": tz}).fetchall()
    if bad:
        raise IngestError(raw.name, "has rows whose time is missing or not a date and time; a "
                          "session's day cannot be known without it.", raw.columns[c.index[col]],
                          bad)


ROLLUP = """
    select min(_row) as _row, strftime(cast(started as date), '%Y-%m-%d') as date, channel,
           device, count(*) as sessions, {users} as users, {new_users} as new_users,
           count(*) filter (where product_views) as product_views,
           count(*) filter (where add_to_carts) as add_to_carts,
           count(*) filter (where checkouts) as checkouts,
           count(*) filter (where purchases) as purchases
    from s group by all"""
COLUMNS = ["date", "channel", "device", "sessions", "users", "new_users", "product_views",
           "add_to_carts", "checkouts", "purchases"]


def _users(c: Columns) -> tuple[str, str]:
    users = "count(distinct user_id)" if c.has("user_id") else "null"
    new = "count(*) filter (where new_user)" if c.has("new_user") else "null"
    return users, new


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
        _check_times(con, raw, c, started, ctx.tz)
        flags = ", ".join(f"coalesce(lower({c.first(*names)}) in {TRUE}, false) as {k}"
                          for k, names in FLAGS.items())
        users, new = _users(c)
        origin = _origin(c, f"{c.name(started)}, the day each session started",
                         "one session per row",
                         {k: (h := c.name(*names)) and f"sessions with {h} set"
                          for k, names in FLAGS.items()})
        sql = f"""with s as (
                    select _row, {_time(c[started])} as started, {_channel(c)} as channel,
                           {c.first('device', 'device_category')} as device,
                           {c['user_id']} as user_id,
                           coalesce(lower({c['new_user']}) in {TRUE}, false) as new_user, {flags}
                    from {raw.table})
                  {ROLLUP.format(users=users, new_users=new)}"""
        return [("traffic", emit(con, raw.name, sql, COLUMNS, {"tz": ctx.tz}, origin=origin))]


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
        _check_times(con, raw, c, t, ctx.tz)
        sid = c.first(*SESSION_ID)
        bad = con.execute(f"select _row, null from {raw.table} where {sid} is null order by _row"
                          " limit 5").fetchall()
        if bad:
            raise IngestError(raw.name, "has events without a session id.",
                              raw.columns[next(c.index[x] for x in SESSION_ID if c.has(x))], bad)
        kind = f"lower({c.first(*EVENT_TYPE)})"
        steps = ", ".join(f"bool_or(kind in ({', '.join(repr(v) for v in names)})) as {k}"
                          for k, names in EVENT_STEPS.items())
        users, new = _users(c)
        event = c.name(*EVENT_TYPE)
        origin = _origin(c, f"{c.name(t)} of each session's first event",
                         f"{c.name(*SESSION_ID)}, counted once",
                         {k: f"sessions with an {event} of {' / '.join(names)}"
                          for k, names in EVENT_STEPS.items()})
        sql = f"""with e as (
                    select _row, {sid} as session_id, {_time(c[t])} as ts, {kind} as kind,
                           {_channel(c) if c.has('channel') or c.has('source', 'medium')
                            or c.has('utm_source', 'utm_medium') else 'null'} as channel,
                           {c.first('device', 'device_category')} as device,
                           {c['user_id']} as user_id,
                           coalesce(lower({c['new_user']}) in {TRUE}, false) as new_user
                    from {raw.table}),
                  s as (
                    -- a session starts at its first event; its channel and device are the
                    -- first ones it reports
                    select session_id, min(_row) as _row, min(ts) as started,
                           coalesce(arg_min(channel, ts) filter (where channel is not null),
                                    'unknown') as channel,
                           arg_min(device, ts) filter (where device is not null) as device,
                           any_value(user_id) as user_id, bool_or(new_user) as new_user, {steps}
                    from e group by session_id)
                  {ROLLUP.format(users=users, new_users=new)}"""
        return [("traffic", emit(con, raw.name, sql, COLUMNS, {"tz": ctx.tz}, origin=origin))]


SESSIONS, EVENTS = _Sessions(), _Events()
