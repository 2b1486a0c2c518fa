"""Render caches.

In each process, a bounded map of ready-to-send documents. Across processes
and hosts, optionally, Redis (FEEDS_CACHE_URL). Entries are keyed by the
fingerprint of what a document shows, so they never go stale: a changed feed
simply asks for a new key, and old keys age out. The shared cache only saves
work: when Redis is unreachable the app renders locally and says so once.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Generic, TypeVar

from cachelib.base import BaseCache

log = logging.getLogger("feeds")

Entry = tuple[str, bytes]  # (etag, body)
RETRY_SHARED_AFTER = 30.0  # seconds between attempts to reach a failed Redis
V = TypeVar("V")


class Recent(Generic[V]):
    """At most `size` entries; the oldest insertion goes first. Keys embed
    fingerprints, so an entry is never updated, only superseded."""

    def __init__(self, size: int):
        self.size = size
        self._entries: dict[str, V] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        return self._entries.get(key)

    def set(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]


class SharedCache:
    """Redis through cachelib, or nothing; never raises."""

    def __init__(self, url: str = "", timeout: int = 0):
        self.backend: BaseCache | None = _redis_cache(url, timeout) if url else None
        self._failed_at: float | None = None

    def get(self, key: str) -> Entry | None:
        if not self._usable():
            return None
        try:
            entry = self.backend.get(key)
        except Exception as error:  # noqa: BLE001 - any client failure means "render locally"
            self._failed(error)
            return None
        self._ok()
        return entry

    def set(self, key: str, entry: Entry) -> None:
        if not self._usable():
            return
        try:
            self.backend.set(key, entry)
        except Exception as error:  # noqa: BLE001
            self._failed(error)
        else:
            self._ok()

    def _usable(self) -> bool:
        if self.backend is None:
            return False
        return self._failed_at is None or time.monotonic() - self._failed_at > RETRY_SHARED_AFTER

    def _failed(self, error: Exception) -> None:
        if self._failed_at is None:
            log.warning("shared render cache unavailable (%s); rendering locally", type(error).__name__)
        self._failed_at = time.monotonic()

    def _ok(self) -> None:
        if self._failed_at is not None:
            log.warning("shared render cache reachable again")
            self._failed_at = None


def _redis_cache(url: str, timeout: int) -> BaseCache:
    import redis
    from cachelib import RedisCache

    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisCache(host=client, key_prefix="feeds:", default_timeout=timeout)
