"""The one filter object every KPI takes. It becomes DuckDB parameters, never SQL text."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    channels: tuple[str, ...] = ()      # empty = all channels
    devices: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    search: str = ""                    # SKU or product name contains this (stock pages)

    def __post_init__(self):
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        for name in ("channels", "devices", "countries", "categories"):
            # Sorted tuples: two equal selections are one cache key.
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous_period(self) -> "Filters":
        """The same number of days, ending the day before ``start``."""
        return replace(self, start=self.start - timedelta(days=self.days),
                       end=self.start - timedelta(days=1))

    def last_year(self) -> "Filters":
        """Shifted back 364 days, so weekdays line up."""
        return replace(self, start=self.start - timedelta(days=364),
                       end=self.end - timedelta(days=364))

    def trailing_months(self, n: int) -> "Filters":
        """The ``n`` calendar months ending with the month of ``end`` (through ``end``): for
        views that need history, such as cohorts and monthly returns."""
        first = self.end.replace(day=1)
        for _ in range(n - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        return replace(self, start=min(first, self.start))

    def params(self, sql: str) -> dict:
        """The parameters ``sql`` refers to (DuckDB refuses parameters a query does not use)."""
        values = {"start": self.start, "end": self.end, "channels": list(self.channels),
                  "devices": list(self.devices), "countries": list(self.countries),
                  "categories": list(self.categories), "search": self.search.strip().lower()}
        used = set(re.findall(r"\$([a-z_]+)", sql))
        unknown = used - values.keys()
        if unknown:
            raise KeyError(f"query uses unknown parameters {sorted(unknown)}")
        return {k: v for k, v in values.items() if k in used}
