"""Importer versions: each upload records the version of the importer that read it (the store's
manifest), and a change to an importer that alters figures already stored is listed here, so
that a store read by an older version names the export to upload again instead of showing a
cancellation rate of 0.00 % or every return under no country without a word."""
from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from ..formatting import month_words
from ..schema import WORDS


@dataclass(frozen=True)
class Change:
    importer: str               # the importer's name (its ``name``, recorded as the upload's)
    version: int                # the version that brought the change
    tables: tuple[str, ...]     # the stored tables whose figures it changed
    older: str                  # what the older versions did, in words
    # Rows the older version stored that the new one does not write: an upload again keeps
    # them (rows are merged by key), so its months must be deleted first.
    delete: bool = False


CHANGES = (
    Change("UCI Online Retail", 2, ("orders", "order_items"),
           "counted stock adjustments (free lines, no customer) as orders", delete=True),
    Change("UCI Online Retail", 3, ("orders",),
           "showed a cancellation rate of 0.00 % (the export has no order status: it is not "
           "tracked)"),
    Change("UCI Online Retail", 4, ("refunds",),
           "put every return under \"No country recorded\""),
)
# What only the UCI importer writes, that tells its uploads stored before versions were
# recorded (version 1: before every change above).
LEGACY = {"UCI Online Retail": ("refunds", "reason = 'cancellation / return'")}


# The currency an importer's export is always in: the amounts of a store written before uploads
# set the reporting currency are in it (kpilib.settings.reporting_currency).
CURRENCIES = {"UCI Online Retail": "GBP", "Olist dataset": "BRL"}


def version(importer: str | None) -> int | None:
    """The current version of ``importer`` (1 for one never changed); None for no importer."""
    if importer is None:
        return None
    return max((c.version for c in CHANGES if c.importer == importer), default=1)


def stored(store, sha256: str) -> bool:
    """Whether a file of this content is already stored, read by the current importers: a
    file only an older one read is read again when uploaded again, not skipped."""
    return any(_current(ing) for ing in store.manifest["ingests"]
               if any(s["sha256"] == sha256 for s in ing["sources"]))


def _current(record: dict) -> bool:
    return all(
        "importer" in s and (s["importer"] is None
                             or (s.get("importer_version") or 1) >= version(s["importer"]))
        for s in record["sources"])


@dataclass(frozen=True)
class Outdated:
    """An export whose stored rows an older importer wrote, with what it did differently."""
    file: str
    importer: str
    changes: tuple[Change, ...]
    months: dict            # table → sorted months (YYYY-MM) it still fills

    def sentence(self, tables=None, where: str = "on the Data page") -> str | None:
        """"Your UCI Online Retail export uci.csv was imported by an older version, which …:
        upload it again on the Data page.", of the changes to ``tables`` (all when None);
        ``where`` the upload is (the Data page says "below")."""
        said = [c for c in self.changes if tables is None or set(c.tables) & set(tables)]
        if not said:
            return None
        did = [c.older for c in said]
        did = did[0] if len(did) == 1 else ", ".join(did[:-1]) + " and " + did[-1]
        fix = f"upload it again {where}"
        gone = [t for t in WORDS if t in self.months
                and any(c.delete and t in c.tables for c in said)]
        if gone:
            months = sorted({m for t in gone for m in self.months[t]})
            fix = (f"delete its months of {' and '.join(WORDS[t] for t in gone)} "
                   f"({', '.join(month_words(m) for m in months)}) {where}, then upload it again")
        return (f"Your {self.importer} export {self.file} was imported by an older version, "
                f"which {did}: {fix}.")


def _file(source_name: str) -> str:
    # An importer names each table it writes "file.csv (orders)".
    return re.sub(r" \([^()]*\)$", "", source_name)


def outdated(store) -> list[Outdated]:
    """The exports whose rows, still stored, an importer older than a change of
    :data:`CHANGES` wrote: the upload that last wrote each stored month (its partition file is
    named after the upload's id) and the importer version its sources record; an upload from
    before versions were recorded is told by :data:`LEGACY`."""
    manifest = store.manifest
    uploads = {ing["id"]: ing for ing in manifest["ingests"]}
    legacy: dict[str, str | None] = {}
    found: dict[tuple[str, str], dict] = {}
    for table, months in manifest["tables"].items():
        for month, part in months.items():
            upload = uploads.get(re.sub(r"^.*part-|\.parquet$", "", part["file"]))
            if upload is None:
                continue
            for s in upload["sources"]:
                if s["table"] != table:
                    continue
                importer, v = s.get("importer"), s.get("importer_version") or 1
                if "importer" not in s:
                    if upload["id"] not in legacy:
                        legacy[upload["id"]] = _legacy(store, manifest, upload["id"])
                    importer = legacy[upload["id"]]
                for c in CHANGES:
                    if c.importer == importer and v < c.version and table in c.tables:
                        hit = found.setdefault((_file(s["name"]), importer), {})
                        hit.setdefault(c, set()).add((table, month))
    out = []
    for (file, importer), hits in found.items():
        months: dict[str, set] = {}
        for cells in hits.values():
            for t, m in cells:
                months.setdefault(t, set()).add(m)
        out.append(Outdated(file, importer, tuple(sorted(hits, key=lambda c: c.version)),
                            {t: sorted(ms) for t, ms in months.items()}))
    return out


def importers(store) -> set[str]:
    """The importers that read the uploads still stored: as the manifest records them, or,
    for an upload from before it did, as :data:`LEGACY` tells."""
    manifest = store.manifest
    found = set()
    for upload in manifest["ingests"]:
        if not any(upload["id"] in p["file"] for months in manifest["tables"].values()
                   for p in months.values()):
            continue
        recorded = {s.get("importer") for s in upload["sources"] if "importer" in s}
        found |= recorded if recorded or not upload["sources"] \
            else {_legacy(store, manifest, upload["id"])}
    return found - {None}


def currencies(store, latest: bool = False) -> set[str]:
    """The currencies the stored amounts are in, as far as the data says: the stored orders'
    own currency (of the latest month only, when ``latest``: an upload reads no older month),
    and the one their importers' exports are always in (:data:`CURRENCIES`: UCI's GBP, which
    an older importer did not write on the orders)."""
    files = [str(p) for p in store.files("orders")][-1 if latest else 0:]
    try:
        stored = {r[0] for r in duckdb.connect().execute(
            "select distinct currency from read_parquet($files, union_by_name = true) "
            "where currency is not null", {"files": files}).fetchall()} if files else set()
    except duckdb.BinderException:     # no stored order file has the column
        stored = set()
    return stored | {CURRENCIES[i] for i in importers(store) if i in CURRENCIES}


def _legacy(store, manifest: dict, upload: str) -> str | None:
    """The importer of an upload stored before versions were recorded, told by what it
    alone writes in the months that upload still fills; None when nothing tells."""
    for importer, (table, where) in LEGACY.items():
        files = [str(store.path / p["file"]) for p in manifest["tables"].get(table, {}).values()
                 if p["file"].endswith(f"part-{upload}.parquet")]
        if files and duckdb.connect().execute(
                f"select count(*) from read_parquet($files) where {where}",
                {"files": files}).fetchall()[0][0]:
            return importer
    return None
