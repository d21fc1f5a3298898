"""A single stock snapshot (SKU and units on hand, no date column): the date is given at
upload, or read from the file name (e.g. stock_2025-03-31.csv)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import IngestError
from . import Columns, Context, emit

SKU = ("sku", "variant_sku", "product_id", "item_sku")
ON_HAND = ("on_hand", "stock", "available", "quantity_on_hand", "inventory", "qty_available")
DATED = ("date", "snapshot_date", "day", "as_of")


@dataclass(frozen=True)
class _Snapshot:
    name: str = "stock snapshot"

    def match(self, headers: list[str]) -> bool:
        h = set(headers)
        return bool(h & set(SKU)) and bool(h & set(ON_HAND)) and not (h & set(DATED)) \
            and len(h) <= 12 and "quantity" not in h

    def convert(self, con, raw, ctx: Context):
        as_of = ctx.snapshot_date
        if as_of is None:
            found = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", raw.name)
            if not found:
                raise IngestError(raw.name, "this stock file has no date column: give the "
                                  "snapshot date at upload (or put it in the file name, e.g. "
                                  "stock_2025-03-31.csv).")
            as_of = "-".join(found.groups())
        c = Columns(raw)
        sql = f"""select _row, $as_of as date, {c.first(*SKU)} as sku,
                         {c.first(*ON_HAND)} as on_hand from {raw.table}"""
        ctx.notes.append(f"{raw.name}: stock snapshot dated {as_of}")
        return [("inventory", emit(con, raw.name, sql, ["date", "sku", "on_hand"],
                                   {"as_of": str(as_of)},
                                   origin={"sku": c.name(*SKU), "on_hand": c.name(*ON_HAND)}))]


IMPORTER = _Snapshot()
