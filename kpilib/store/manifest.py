"""The manifest and its transactions: what is stored, one writer at a time, a commit by
replacing ``manifest.json``, what an interrupted write left removed, an upload undone or a month
deleted (see the package's docstring)."""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ..formatting import plural
from ..settings import SETTINGS

MANIFEST = "manifest.json"
LOCK = "write.lock"
# Seconds a second writer waits for the first to finish before it is refused: a tiny upload,
# not a large shop's (minutes), whose user is better told than left waiting.
LOCK_WAIT = 10.0
FORMAT = 1
UNPARTITIONED = "all"


def _next_month(month: str) -> str:
    y, m = map(int, month.split("-"))
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"

def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _summary(manifest: Path) -> tuple[int, bool]:
    """The manifest's version and whether the store holds nothing: the app's cache keys. A
    large shop's manifest (130 kB) takes ~0.7 ms to parse and ~30 µs to hash: read (~12 µs)
    and compared with the bytes last parsed (~2 µs), parsed only when they differ."""
    data = _read(manifest)
    last = _SUMMARIES.get(manifest)
    if last is not None and last[0] == data:
        return last[1]
    if data is None:
        summary = (0, True)
    else:
        m = json.loads(data)
        summary = (m["version"], not any(m["tables"].values()))
    if len(_SUMMARIES) >= 64:   # a private store per viewer of a shared link: kept bounded
        _SUMMARIES.clear()
    _SUMMARIES[manifest] = (data, summary)
    return summary


_SUMMARIES: dict[Path, tuple[bytes | None, tuple[int, bool]]] = {}

# Every write of a store's manifest, settings or mappings by this process: what was read of
# any store before the last one may be out of date (Manifest.pin).
_WRITES = [0]
_WRITES_LOCK = threading.Lock()


def writes() -> int:
    return _WRITES[0]


def _digest(settings: Path) -> str:
    return hashlib.sha256(_read(settings) or b"").hexdigest()[:12]


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _rollups_key(manifest: dict) -> str:
    """What a manifest's rollups are: their files and definitions."""
    return hashlib.sha256(json.dumps([manifest.get("rollups", {}),
                                      manifest.get("rollup_defs", {})],
                                     sort_keys=True).encode()).hexdigest()[:16]


def note_rollups(record: dict, before: dict, after: dict) -> None:
    """Keep in an upload's (a deletion's) ``record`` the entries of the rollups it replaced,
    and what the rollups are after it: its undo then puts them back, if they are still
    those (:meth:`Manifest._restored`), instead of building them again (4–13 s of CPU at
    the large shop). Not when it built a rollup under another definition (or the first
    ones): the ones before are then not what an undo would build."""
    if "rollups" not in before or before.get("rollup_defs") != after.get("rollup_defs"):
        return
    record["rollups_before"] = {n: before["rollups"].get(n) for n, e in after["rollups"].items()
                                if before["rollups"].get(n) != e}
    record["rollups_after"] = _rollups_key(after)


class StoreError(ValueError):
    """A write the store refused, in a sentence for the user; the store is as it was."""


class StoreBusy(StoreError):
    pass


class DiskFull(StoreError):
    pass


def disk_full(e: BaseException) -> bool:
    """Python's ENOSPC, or DuckDB's IO error saying it (in its text only)."""
    return (isinstance(e, OSError) and e.errno == errno.ENOSPC) or \
        (isinstance(e, duckdb.Error) and "No space left on device" in str(e))


DISK_FULL = ("The disk is full: the upload could not be written, and nothing was stored (the "
             "data is as it was). Free some disk space, then try again.")


def alive(pid: int, since: float | None = None) -> bool:
    """Whether process ``pid`` still runs (and, if ``since`` is given, is the one that was
    running then, not a later process given the same number)."""
    if not isinstance(pid, int) or pid <= 0:   # 0 and -1 would mean process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:   # Windows: no such process
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True   # not Linux: the pid is all there is to go on
    if stat[0] == "Z":   # killed, not yet reaped by its parent
        return False
    if since is not None:
        boot = next(float(line.split()[1]) for line in
                    Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
        started = boot + int(stat[19]) / os.sysconf("SC_CLK_TCK")
        return started <= since + 1
    return True


def _holder(lock: Path) -> dict | None:
    """Who holds the lock (pid, host, since), or None when nobody does."""
    try:
        return json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}   # unreadable: never written by this version, so not taken over


# The stores each thread holds the lock of, and how deeply (a write calls recover, which
# takes it too).
_HELD = threading.local()


def _locked(method):
    """``method`` writes: it holds the store's write lock, and a full disk is said first."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.writing():
            try:
                return method(self, *args, **kwargs)
            except (OSError, duckdb.Error) as e:
                if disk_full(e):
                    raise DiskFull(DISK_FULL) from e
                raise
    return locked


@dataclass
class Source:
    """A file that contributed rows: shown in the data inventory, used to spot re-uploads."""
    name: str
    sha256: str
    table: str
    rows: int
    months: list[str] = field(default_factory=list)
    # The platform importer that read it and its version (kpilib.ingest.versions); a manifest
    # written before they were recorded has neither key.
    importer: str | None = None
    importer_version: int | None = None


class Manifest:
    """The store's manifest, lock and commits (a part of :class:`kpilib.store.Store`)."""

    @property
    def manifest(self) -> dict:
        try:
            with open(self.path / MANIFEST, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {"format": FORMAT, "version": 0, "tables": {}, "ingests": []}

    @property
    def version(self) -> int:
        """Increases with every commit: the UI's cache key."""
        return _summary(self.path / MANIFEST)[0]

    def is_empty(self) -> bool:
        return _summary(self.path / MANIFEST)[1]

    def files(self, table: str, manifest: dict | None = None,
              months: set[str] | None = None) -> list[Path]:
        """The table's stored files, of ``months`` only if given."""
        parts = (manifest or self.manifest)["tables"].get(table, {})
        return [self.path / p["file"] for m, p in sorted(parts.items())
                if months is None or m in months]

    def months(self, table: str) -> dict[str, int]:
        return {m: p["rows"] for m, p in sorted(self.manifest["tables"].get(table, {}).items())}

    def data_version(self, tables: frozenset[str]) -> str:
        """Changes only when one of ``tables`` (or a setting) changes: a KPI's cache key, so an
        upload of stock snapshots keeps every cached sales figure."""
        parts = self.manifest["tables"]
        text = json.dumps({t: parts.get(t, {}) for t in sorted(tables)}, sort_keys=True)
        return hashlib.sha256(text.encode() + self.fingerprint.split("-", 1)[1].encode()
                              ).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """Changes with every commit and every settings change: the UI's cache key."""
        pinned = self.__dict__.get("_pinned")
        if pinned is not None and pinned[0] == _WRITES[0]:
            return pinned[1]
        return f"{self.version}-{_digest(self.path / SETTINGS)}"

    def pin(self):
        """This store, its :attr:`fingerprint` read now and kept until this process writes a
        store again (any store's manifest, settings or mappings): a page drawn from one
        version of the store without reading its manifest and settings for each of its ~100
        figures. Another process's commit is seen by a store pinned after it."""
        seen = _WRITES[0]
        self._pinned = None   # read afresh
        self._pinned = (seen, self.fingerprint)
        return self

    def sources(self) -> list[dict]:
        return [s for ing in self.manifest["ingests"] for s in ing["sources"]]

    def seen(self, sha256: str) -> dict | None:
        """The ingest that already stored a file with this content, if any."""
        for ing in self.manifest["ingests"]:
            if any(s["sha256"] == sha256 for s in ing["sources"]):
                return ing
        return None

    @contextmanager
    def writing(self):
        """Hold the store's write lock (see the package's docstring); re-entered freely by the
        thread holding it."""
        held = _HELD.__dict__.setdefault("stores", {})
        key = str(self.path.resolve())
        if held.get(key):
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                         "token": uuid.uuid4().hex})
        deadline = time.monotonic() + LOCK_WAIT
        while not self._take(lock, me):
            holder = _holder(lock)
            if holder is None:
                continue   # released meanwhile
            # Unreadable ({}): not one this version wrote (it links a written file in place).
            if not holder or holder.get("host") == socket.gethostname() and not alive(
                    holder.get("pid", -1), holder.get("since")):
                self._drop_stale(lock, holder)
                continue
            if time.monotonic() >= deadline:
                since = datetime.fromtimestamp(holder.get("since", 0)).strftime("%H:%M")
                raise StoreBusy(f"another upload is in progress since {since} (pid "
                                f"{holder.get('pid')}): try again when it has finished.")
            time.sleep(0.1)
        held[key] = 1
        try:
            yield
        finally:
            held[key] = 0
            if _holder(lock) == json.loads(me):
                lock.unlink(missing_ok=True)

    def _take(self, lock: Path, me: str) -> bool:
        """Create the lock file with ``me`` in it, atomically: written beside, then linked in
        its place, which fails if it exists (so no one ever reads it half written)."""
        tmp = self.path / f".{LOCK}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(me, encoding="utf-8")
        try:
            os.link(tmp, lock)
            return True
        except (FileExistsError, FileNotFoundError):   # taken; or tmp removed by recover
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _drop_stale(self, lock: Path, holder: dict) -> None:
        """Remove a dead process's lock, unless another waiter took it over meanwhile (then
        the file moved aside is theirs, and goes back)."""
        aside = self.path / f".{LOCK}.stale.{uuid.uuid4().hex[:8]}"
        try:
            os.rename(lock, aside)
        except FileNotFoundError:
            return
        if _holder(aside) != holder:
            try:
                os.link(aside, lock)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def recover(self, spare: set[str] = frozenset()) -> None:
        """Remove what an interrupted write left behind, and the files no undo can reach (a
        superseded rollup, a partition only an upload too old to undo could restore); the
        committed store is untouched. ``spare``: files kept as well (the previous manifest's,
        which a connection opened before the last commit may still read)."""
        with self.writing():
            self._clear_leftovers()
            keep = {str(self.path / f) for f in self._referenced(self.manifest) | set(spare)}
            for folder in (self.path / "parts", self.path / "rollups"):
                if not folder.exists():
                    continue
                for f in folder.rglob("*.parquet"):
                    if str(f) not in keep:
                        f.unlink()
                for d in sorted(folder.rglob("*"), reverse=True):
                    if d.is_dir() and not any(d.iterdir()):
                        d.rmdir()

    def _clear_leftovers(self) -> None:
        """What an interrupted write left outside ``parts/`` and ``rollups/``: before a write,
        which sweeps those once it has committed (:meth:`_committed`; a sweep walks every
        file of the store, ~0.1 s at the large shop) or failed (:meth:`recover`)."""
        shutil.rmtree(self.path / ".staging", ignore_errors=True)
        (self.path / f"{MANIFEST}.tmp").unlink(missing_ok=True)
        for f in self.path.glob(f".{LOCK}.*"):   # a waiter killed while it took the lock
            f.unlink(missing_ok=True)

    @staticmethod
    def _referenced(manifest: dict) -> set[str]:
        files = {p["file"] for section in ("tables", "rollups")
                 for parts in manifest.get(section, {}).values() for p in parts.values()}
        for ing in manifest["ingests"]:
            for months in ing["partitions"].values():
                files.update(v["old"] for v in months.values() if v["old"])
            for parts in (ing.get("rollups_before") or {}).values():
                files.update(p["file"] for p in (parts or {}).values())
        return files

    def _forget(self, manifest: dict) -> None:
        """Uploads before the last ``undo_uploads`` can no longer be undone: their record
        stays (what was uploaded, to spot a file sent twice), without the files it could
        restore."""
        keep = max(int(self.settings["undo_uploads"]), 0)
        for record in manifest["ingests"][:len(manifest["ingests"]) - keep]:
            if record.get("undo", True):
                record["undo"] = False
                record.pop("rollups_before", None)
                record.pop("rollups_after", None)
                for months in record["partitions"].values():
                    for change in months.values():
                        change["old"] = change["old_entry"] = None

    def _committed(self, manifest: dict, before: dict) -> None:
        """Commit ``manifest``, then remove what no undo can reach, but for the files
        ``before`` (the manifest it replaces) read: a connection opened on it a moment ago
        may still be reading them, until the next write."""
        self._forget(manifest)
        self._commit(manifest)
        self.recover(spare={p["file"] for section in ("tables", "rollups")
                            for parts in before.get(section, {}).values()
                            for p in parts.values()})
        self._refresh_cache(manifest, before)

    @_locked
    def undo(self) -> dict:
        """Take back the last upload or deletion: every partition it rewrote gets its previous
        file back (rows and sources as they were)."""
        self._clear_leftovers()
        manifest = self.manifest
        if not manifest["ingests"]:
            raise ValueError("there is nothing to undo")
        if manifest["ingests"][-1].get("undo") is False:
            raise ValueError(f"only the last {plural(self.settings['undo_uploads'], 'upload')} "
                             "can be undone (the setting undo_uploads), and every one of them "
                             "has been")
        record = manifest["ingests"].pop()
        for table, months in record["partitions"].items():
            for month, change in months.items():
                if change["old"]:
                    manifest["tables"].setdefault(table, {})[month] = change["old_entry"]
                else:
                    manifest["tables"].get(table, {}).pop(month, None)
        if self._restored(manifest, record):
            manifest["version"] += 1
            try:
                self._committed(manifest, self.manifest)
            except BaseException:
                self.recover()
                raise
        else:
            self._commit_rollups(manifest,
                                 {t: set(ms) for t, ms in record["partitions"].items()})
        self.recover()  # the undone upload's files are no longer referenced
        return record

    @staticmethod
    def _restored(manifest: dict, record: dict) -> bool:
        """The rollups of ``manifest`` as they were before the upload (deletion) ``record``
        undone, when they are still those it left (no rollup rebuilt since: an undo that
        rebuilt them, a new definition, a refresh); False when they must be built again."""
        if "rollups_before" not in record or \
                record.get("rollups_after") != _rollups_key(manifest):
            return False
        for name, entries in record["rollups_before"].items():
            if entries is None:
                manifest["rollups"].pop(name, None)
            else:
                manifest["rollups"][name] = entries
        return True

    @_locked
    def delete_month(self, table: str, month: str) -> dict:
        """Remove one table's month; the files are kept so undo can bring them back."""
        self.recover()
        manifest = self.manifest
        entry = manifest["tables"].get(table, {}).get(month)
        if entry is None:
            raise ValueError(f"{table} has no stored month {month}")
        record = {"id": "delete-" + uuid.uuid4().hex[:8], "at": _now(), "sources": [],
                  "action": f"deleted {table} {month}",
                  "partitions": {table: {month: {"new": None, "old": entry["file"],
                                                 "old_entry": entry}}}}
        del manifest["tables"][table][month]
        manifest["ingests"].append(record)
        self._commit_rollups(manifest, {table: {month}}, record=record)
        return record

    def upload_parts(self, table: str, month: str) -> tuple[dict | None, dict[str, list[str]]]:
        """The upload that stored ``table``'s ``month``, and every month of every table it
        still fills (their files are named after it): one export's orders, lines and refunds,
        of each month it spans. (None, that one month) when no upload is recorded for it."""
        manifest = self.manifest
        entry = manifest["tables"].get(table, {}).get(month)
        if entry is None:
            return None, {}
        upload = next((i for i in manifest["ingests"] if i["sources"]
                       and entry["file"].endswith(f"part-{i['id']}.parquet")), None)
        if upload is None:
            return None, {table: [month]}
        name = f"part-{upload['id']}.parquet"
        parts = {t: [m for m, p in sorted(ms.items()) if p["file"].endswith(name)]
                 for t, ms in manifest["tables"].items()}
        return upload, {t: ms for t, ms in parts.items() if ms}

    @_locked
    def delete_months(self, parts: dict[str, list[str]], action: str) -> dict:
        """Remove several tables' months in one commit (an upload's, :meth:`upload_parts`),
        so one undo brings them all back; the files are kept for it."""
        self.recover()
        manifest = self.manifest
        changes = {}
        for table, months in parts.items():
            for month in months:
                entry = manifest["tables"].get(table, {}).get(month)
                if entry is None:
                    raise ValueError(f"{table} has no stored month {month}")
                changes.setdefault(table, {})[month] = {"new": None, "old": entry["file"],
                                                        "old_entry": entry}
                del manifest["tables"][table][month]
        record = {"id": "delete-" + uuid.uuid4().hex[:8], "at": _now(), "sources": [],
                  "action": action, "partitions": changes}
        manifest["ingests"].append(record)
        self._commit_rollups(manifest, {t: set(ms) for t, ms in parts.items()})
        return record

    def _commit(self, manifest: dict) -> None:
        self._write_json(MANIFEST, manifest)

    def _write_json(self, name: str, data: dict) -> None:
        """Write beside, flush to disk, then swap in: a reader sees the old file or the new."""
        tmp = self.path / f"{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)
        with _WRITES_LOCK:
            _WRITES[0] += 1

