"""Where the store lives: ``--store`` on the command line, else the KPILIB_STORE environment
variable, else ``data/store`` beside the app. While that store is empty the app shows the demo
shop, generated on first start into KPILIB_DEMO_STORE (default ``data/demo-store``)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = ROOT / "data" / "store"
DEMO_STORE = ROOT / "data" / "demo-store"


def store_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("KPILIB_STORE") or DEFAULT_STORE)


def demo_store_path() -> Path:
    return Path(os.environ.get("KPILIB_DEMO_STORE") or DEMO_STORE)
