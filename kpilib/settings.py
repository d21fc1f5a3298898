"""Where the store lives: ``--store`` on the command line, else the KPILIB_STORE environment
variable, else ``data/store`` beside the app. While that store is empty the app shows the demo
shop, generated on first start into KPILIB_DEMO_STORE (default ``data/demo-store``). The
store's own settings (timezone, reporting currency…) are kept in it (kpilib.store.settings);
here, their defaults, which of them were chosen, and the currency a first upload sets."""
from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = ROOT / "data" / "store"
DEMO_STORE = ROOT / "data" / "demo-store"

# The shop's settings, kept in the store (kpilib.store.settings): the only defaults.
SETTINGS = "settings.json"
MAPPINGS = "mappings.json"
# cancelled_orders: "excluded" (they count only in the cancellation rate) or "shopify" (a sale
# on the order day, returned whole on the day it was cancelled).
CANCELLED_ORDERS = ("excluded", "shopify")
# undo_uploads: how many of the last uploads (and deletions) can be undone; the files only
# older ones could restore are deleted.
DEFAULT_SETTINGS = {"timezone": "UTC", "currency": "EUR", "return_window_days": 30,
                    "cancelled_orders": "excluded", "undo_uploads": 10}


def store_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("KPILIB_STORE") or DEFAULT_STORE)


def demo_store_path() -> Path:
    return Path(os.environ.get("KPILIB_DEMO_STORE") or DEMO_STORE)


def chosen(store) -> set[str]:
    """The settings written into the store's settings file (by the Settings page, or an
    upload that adopted them), as against those left at their defaults."""
    try:
        return set(json.loads((Path(store.path) / SETTINGS).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return set()


def currency_to_adopt(store, currencies: set[str], spend: set[str] = frozenset()
                      ) -> str | None:
    """The reporting currency a first upload sets, when no order is stored yet and nobody
    chose a currency: the one currency its orders are in (a UK shop's first export would
    otherwise show its pounds as euros, the default); for an upload whose orders say none (or
    of ad spend alone), the one its ad spend is in (Google Ads' "Currency code", Meta's
    "Amount spent (EUR)"), even the default: no stored order would say it otherwise. None
    otherwise: amounts are never converted, and a currency someone chose is theirs."""
    if store.files("orders") or "currency" in chosen(store):
        return None
    if currencies:
        if len(currencies) != 1:
            return None
        (currency,) = currencies
        return None if currency == store.settings["currency"] else currency
    return next(iter(spend)) if len(spend) == 1 else None


def reporting_currency(store, latest: bool = False) -> str | None:
    """The currency amounts are shown in: the one chosen (in Settings, or set by the first
    orders upload); for a store that never said (written before uploads set it), the one its
    stored orders are in (kpilib.ingest.versions.currencies: a UCI store's GBP); None when
    nothing says, or they are in several: amounts are then shown without a symbol rather than
    as euros they are not. ``latest``: told by the latest month of orders only (an upload's
    check, which reads no older month)."""
    if "currency" in chosen(store):
        return store.settings["currency"]
    from .ingest.versions import currencies

    found = currencies(store, latest)
    return next(iter(found)) if len(found) == 1 else None
