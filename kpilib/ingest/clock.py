"""The shop's clock: what the UTC offsets written in an export say about the shop's timezone.

Shopify (and most platforms) write each timestamp in the shop's own timezone with its offset
(``2024-01-31 23:30:00 -0500``). Converted to a store timezone that is not the shop's, an order
placed late in the evening falls on the next day, and on the last day of a month in the next
month: the dashboard's May is then not the May of Shopify Analytics. So an upload says how many
rows move, and proposes the zone the offsets imply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

# Where several zones share the offsets seen, the first that fits is proposed: zones of
# many shops first (Shopify's own list of shop timezones maps to these), then any other.
# Zones with the same offsets on the dates seen give the same days, so the choice among them
# only matters for dates not seen (a file of summer months: Los Angeles before Phoenix).
LIKELY = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
    "America/Vancouver", "America/Halifax", "America/St_Johns", "America/Mexico_City",
    "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Bogota", "America/Lima",
    "America/Santiago", "Europe/London", "Europe/Dublin", "Europe/Lisbon",
    "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam",
    "Europe/Brussels", "Europe/Zurich", "Europe/Vienna", "Europe/Stockholm",
    "Europe/Copenhagen", "Europe/Oslo", "Europe/Warsaw", "Europe/Prague", "Europe/Helsinki",
    "Europe/Athens", "Europe/Bucharest", "Europe/Istanbul", "Europe/Moscow", "Africa/Lagos",
    "Africa/Johannesburg", "Africa/Cairo", "Africa/Nairobi", "Asia/Dubai", "Asia/Karachi",
    "Asia/Kolkata", "Asia/Dhaka", "Asia/Bangkok", "Asia/Jakarta", "Asia/Singapore",
    "Asia/Hong_Kong", "Asia/Shanghai", "Asia/Manila", "Asia/Tokyo", "Asia/Seoul",
    "Australia/Perth", "Australia/Adelaide", "Australia/Brisbane", "Australia/Sydney",
    "Pacific/Auckland",
)
_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/",
            "Europe/", "Indian/", "Pacific/")


@dataclass
class Clock:
    """The timestamps of one file's date column that carry a UTC offset."""
    rows: int = 0       # with an offset
    differ: int = 0     # whose offset is not the store timezone's at that time
    days: int = 0       # on another day in the store timezone than on the file's clock
    months: int = 0     # in another month
    # (offset in minutes, first and last UTC time with it), per offset and month seen
    samples: list[tuple[int, datetime, datetime]] = field(default_factory=list)

    def __add__(self, other: Clock) -> Clock:
        return Clock(self.rows + other.rows, self.differ + other.differ,
                     self.days + other.days, self.months + other.months,
                     self.samples + other.samples)


def clock_sql(typed: str, value: str, wall: str, utc: str, has_offset: str,
              kept: str = "true") -> str:
    """One scan of ``typed``: its rows with an offset grouped by offset, month and whether
    they move. ``value``: the column converted to the store timezone; ``wall``: SQL of the
    time as written, on the file's own clock; ``utc``: the same instant in UTC (its offset is
    the difference, whichever way it is written: -05, +05:30, Z, UTC); ``has_offset``: SQL,
    whether the row's time carries one; ``kept``: a condition on the rows counted."""
    return f"""
        select m, wall <> shop as differ, wall::date <> shop::date as day,
               date_trunc('month', wall) <> date_trunc('month', shop) as month,
               date_trunc('month', wall) as wall_month, count(*) as n,
               min(utc) as first, max(utc) as last
        from (select shop, wall, utc, date_diff('minute', utc, wall)::int as m
              from (select {value} as shop, {wall} as wall, {utc} as utc from {typed}
                    where {value} is not null and {has_offset} and {kept}))
        where wall is not null
        group by all"""


def read_clock(rows: list[tuple]) -> Clock | None:
    """A :class:`Clock` from :func:`clock_sql`'s rows; None when no time had an offset."""
    c = Clock()
    for m, differ, day, month, _, n, first, last in rows:
        c.rows += n
        c.differ += n if differ else 0
        c.days += n if day else 0
        c.months += n if month else 0
        c.samples.append((m, first, last))
    return c if c.rows else None


def fits(zone: str, samples: list[tuple[int, datetime, datetime]]) -> bool:
    """Whether ``zone`` had the offset of every sample at its times."""
    z = _zone(zone)
    return all(t.replace(tzinfo=timezone.utc).astimezone(z).utcoffset() == timedelta(minutes=m)
               for m, first, last in samples for t in (first, last))


def guess(samples: list[tuple[int, datetime, datetime]]) -> str | None:
    """The most likely IANA zone with these offsets at these times (DST changes tell the
    hemisphere and the rules apart); None when none has them."""
    if not samples:
        return None
    return next((z for z in (*LIKELY, *_others()) if fits(z, samples)), None)


def offsets(samples: list[tuple[int, datetime, datetime]]) -> str:
    """The offsets seen, in words: "UTC−05:00 and UTC−04:00"."""
    seen = sorted({m for m, *_ in samples}, key=lambda m: min(
        f for mm, f, _ in samples if mm == m))
    words = [f"UTC{'+' if m >= 0 else '−'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in seen]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def _others() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones()
                        if z.startswith(_REGIONS) and z not in LIKELY))
