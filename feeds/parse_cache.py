"""The persistent parse cache: an article file whose path, size, mtime and
ctime are unchanged is not parsed again.

One file per content folder under the cache folder. It is a pickle read with
an unpickler that can only build this project's records and dates, so a
corrupt, foreign or tampered cache is discarded, never trusted.
"""
from __future__ import annotations

import contextlib
import datetime as _datetime
import gc
import hashlib
import io
import logging
import os
import pickle
import tempfile
import time
import zlib
from pathlib import Path

from . import __version__, records

log = logging.getLogger("feeds")

FORMAT = 1
# A file changed twice within one mtime tick can look unchanged; entries this
# fresh are not stored, so they are parsed again next time.
RACY_SECONDS = 2.0

Stamp = tuple[int, int, int]  # size, mtime_ns, ctime_ns
Result = "records.Article | records.Problem"

_ALLOWED = {
    ("feeds.records", "Article"), ("feeds.records", "Problem"), ("feeds.records", "Topic"),
    ("feeds.records", "Image"), ("datetime", "datetime"), ("datetime", "timezone"),
    ("datetime", "timedelta"), ("builtins", "getattr"),
}


import builtins as _builtins  # noqa: E402

_MODULES = {"feeds.records": records, "datetime": _datetime, "builtins": _builtins}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feeds"


def stamp_of(stat: os.stat_result) -> Stamp:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class _RecordsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"unexpected {module}.{name} in parse cache")
        return getattr(_MODULES[module], name)


@contextlib.contextmanager
def collector_paused():
    """Building 100k records makes no reference cycles, yet triggers hundreds of
    cyclic-GC passes over everything built so far: pausing it is 3x faster.
    The records are then moved out of the collector's sight for good."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


SHARDS = 64  # a change rewrites one 64th of the cache, not all of it


def _shard(source: str) -> int:
    return zlib.crc32(source.encode("utf-8", "surrogateescape")) % SHARDS


class ParseCache:
    def __init__(self, cache_dir: Path | None, content_dir: Path, limits, load: bool = True):
        """With cache_dir None the cache lives in memory only (the web app's
        re-scans use it so, after loading from disk at start-up). With
        load=False, call load() before using it (read_collection does, while
        the folder is listed in another process)."""
        self.key = key = hashlib.blake2b(str(Path(content_dir).resolve()).encode(), digest_size=8).hexdigest()
        self.path = Path(cache_dir) / f"parsed-{key}" if cache_dir is not None else None
        # Parsing rules are part of the key: other limits or code, other results.
        self.identity = (FORMAT, __version__, repr(limits))
        self.entries: dict[str, tuple[Stamp, object]] = {}
        self.dirty: set[int] = set()
        self.loaded = self.path is None
        if load:
            self.load()

    @property
    def changed(self) -> bool:
        return bool(self.dirty)

    def in_memory_only(self) -> None:
        self.path = None

    def stored_bytes(self) -> int:
        """The size of the cache on disk (0 when there is none yet)."""
        total = 0
        for shard in range(SHARDS) if self.path is not None else ():
            try:
                total += (self.path / f"{shard:02x}.pickle").stat().st_size
            except OSError:
                pass
        return total

    def load(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        discarded = []
        with collector_paused():
            for shard in range(SHARDS):
                self.entries.update(self._load_shard(shard, discarded))
        if discarded:
            log.warning("parse cache %s: %d of %d parts discarded (%s); they will be rebuilt",
                        self.path, len(discarded), SHARDS, ", ".join(sorted(set(discarded))))

    def _load_shard(self, shard: int, discarded: list[str]) -> dict:
        path = self.path / f"{shard:02x}.pickle"
        try:
            with open(path, "rb") as handle:
                data = _RecordsOnly(io.BufferedReader(handle)).load()
            if not (isinstance(data, dict) and isinstance(data.get("entries"), dict)):
                raise ValueError("not a parse cache")
            if data.get("identity") != self.identity:
                discarded.append("written by another version or with other limits")
                self.dirty.add(shard)
                return {}
            return data["entries"]
        except FileNotFoundError:
            return {}
        except Exception as error:  # noqa: BLE001 - anything unreadable is simply discarded
            discarded.append(f"unreadable: {type(error).__name__}")
            self.dirty.add(shard)
            return {}

    def get(self, source: str, stamp: Stamp):
        entry = self.entries.get(source)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        return None

    def put(self, source: str, stamp: Stamp, result) -> None:
        if self.path is not None and stamp[1] / 1e9 > time.time() - RACY_SECONDS:
            self.entries.pop(source, None)
        else:
            self.entries[source] = (stamp, result)
        self.dirty.add(_shard(source))

    def keep_only(self, sources: set[str]) -> int:
        """Forget files that are gone; returns how many."""
        stale = self.entries.keys() - sources
        for source in stale:
            del self.entries[source]
            self.dirty.add(_shard(source))
        return len(stale)

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        shards: dict[int, dict] = {shard: {} for shard in self.dirty}
        for source, entry in self.entries.items():
            part = shards.get(_shard(source))
            if part is not None:
                part[source] = entry
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            for shard, entries in shards.items():
                fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".parsed-", suffix=".tmp")
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump({"identity": self.identity, "entries": entries}, handle, protocol=5)
                os.replace(tmp, self.path / f"{shard:02x}.pickle")
            self.dirty.clear()
        except OSError as error:
            # A cache that cannot be saved costs time next run, nothing else.
            log.warning("cannot save parse cache %s: %s", self.path, error.strerror)
