"""The shop's settings and saved column mappings, kept in the store beside the data (their
defaults: kpilib.settings.DEFAULT_SETTINGS)."""
from __future__ import annotations

import json

from ..settings import CANCELLED_ORDERS, DEFAULT_SETTINGS, MAPPINGS, SETTINGS
from .manifest import _locked


class Settings:
    """A part of :class:`kpilib.store.Store`."""

    @property
    def settings(self) -> dict:
        """Shop settings kept with the data (timezone, reporting currency)."""
        try:
            with open(self.path / SETTINGS, encoding="utf-8") as f:
                return {**DEFAULT_SETTINGS, **json.load(f)}
        except FileNotFoundError:
            return dict(DEFAULT_SETTINGS)

    @property
    def mappings(self) -> dict:
        try:
            with open(self.path / MAPPINGS, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    @_locked
    def save_mapping(self, name: str, table: str, columns: dict[str, str],
                     headers: list[str], statuses: dict[str, str] | None = None) -> None:
        """Remember how a file's columns (and statuses the dashboard does not know: raw →
        canonical) map to a table, so next month's export is read alone."""
        self.path.mkdir(parents=True, exist_ok=True)
        mappings = self.mappings
        mappings[name] = {"table": table, "columns": columns, "headers": list(headers)}
        if statuses:
            mappings[name]["statuses"] = statuses
        self._write_json(MAPPINGS, mappings)

    def mapping_for(self, headers: list[str]) -> tuple[str, dict] | None:
        for name, m in self.mappings.items():
            if m["headers"] == list(headers):
                return name, m
        return None

    @_locked
    def update_settings(self, values: dict) -> None:
        """Save ``values`` into the settings. A new convention for cancelled orders rebuilds
        the rollups that read it, committed as any write: until then a connection reads none
        built under the other convention (:func:`current`) but computes them from the rows,
        and one interrupted is finished by the next write or refresh."""
        if values.get("cancelled_orders", DEFAULT_SETTINGS["cancelled_orders"]) \
                not in CANCELLED_ORDERS:
            raise ValueError(f"cancelled_orders is one of {', '.join(CANCELLED_ORDERS)}")
        before = self.settings["cancelled_orders"]
        self._save_settings(values)
        if self.settings["cancelled_orders"] != before and "rollups" in self.manifest:
            self.refresh_rollups()

    def _save_settings(self, values: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        stored = {}
        if (self.path / SETTINGS).exists():
            stored = json.loads((self.path / SETTINGS).read_text(encoding="utf-8"))
        stored.update(values)
        self._write_json(SETTINGS, stored)

