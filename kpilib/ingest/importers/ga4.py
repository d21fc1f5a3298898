"""GA4 report exports → traffic. Comment lines above the header and YYYYMMDD dates are handled
by the reader and the date parser; here the channel comes from the default channel group or from
the session source / medium pair, and GA4's metric names map to the funnel columns."""
from __future__ import annotations

from dataclasses import dataclass

from ...channels import label_sql, source_medium_sql
from ..errors import IngestError
from . import Columns, Context, emit

FUNNEL = {
    "product_views": ("items_viewed", "item_views", "views", "view_item"),
    "add_to_carts": ("add_to_carts", "adds_to_cart", "add_to_cart", "items_added_to_cart"),
    "checkouts": ("checkouts", "begin_checkout", "items_checked_out"),
    "purchases": ("ecommerce_purchases", "transactions", "purchases", "purchase"),
}
GROUPS = ("session_default_channel_group", "default_channel_group",
          "first_user_default_channel_group", "session_primary_channel_group")


@dataclass(frozen=True)
class _GA4:
    name: str = "GA4 report"

    def match(self, headers: list[str]) -> bool:
        h = set(headers)
        return "sessions" in h and "date" in h and (
            bool(h & set(GROUPS)) or "session_source_medium" in h
            or {"session_source", "session_medium"} <= h)

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        if c.has("session_source_medium"):
            sm = c["session_source_medium"]
            channel = source_medium_sql(f"trim(split_part({sm}, '/', 1))",
                                        f"trim(split_part({sm}, '/', 2))")
            said = c.name("session_source_medium")
        elif c.has("session_source", "session_medium"):
            channel = source_medium_sql(c["session_source"], c["session_medium"])
            said = f"{c.name('session_source')} + {c.name('session_medium')}"
        else:
            channel = label_sql(c.first(*GROUPS))
            said = c.name(*GROUPS)
        missing = [k for k, names in FUNNEL.items() if not any(c.has(n) for n in names)]
        if missing:
            raise IngestError(raw.name, "this GA4 export has no funnel metrics for "
                              f"{', '.join(missing)}: add the metrics Items viewed, Add to carts,"
                              " Checkouts and Ecommerce purchases to the report and export it "
                              "again.")
        funnel = ", ".join(f"{c.first(*names)} as {k}" for k, names in FUNNEL.items())
        sql = f"""select _row, {c['date']} as date, {channel} as channel,
                         {c.first('device_category', 'device')} as device,
                         {c['sessions']} as sessions, {c.first('total_users', 'users')} as users,
                         {c['new_users']} as new_users, {funnel}
                  from {raw.table}"""
        # GA4 adds a grand-total row without a date to some exports; it is not a day.
        sql += f" where {c['date']} is not null or {c['sessions']} is null"
        cols = ["date", "channel", "device", "sessions", "users", "new_users", *FUNNEL]
        if c.has("session_source_medium"):
            # Pairs no rule maps are kept as 'other' and named, so the mapping can be extended.
            pairs = [r[0] for r in con.execute(
                f"select distinct {sm} from {raw.table} where {sm} is not null and "
                f"({channel}) = 'other' order by 1 limit 20").fetchall()]
            if pairs:
                ctx.notes.append(f"{raw.name}: source / medium pairs stored as 'other': "
                                 f"{', '.join(pairs)}")
        origin = {"date": c.name("date"), "channel": said,
                  "device": c.name("device_category", "device"), "sessions": c.name("sessions"),
                  "users": c.name("total_users", "users"), "new_users": c.name("new_users"),
                  **{k: c.name(*names) for k, names in FUNNEL.items()}}
        return [("traffic", emit(con, raw.name, sql, cols, origin=origin))]


IMPORTER = _GA4()
