"""Render cache backends: in-process by default, Redis when configured.

Entries are keyed by the fingerprint of what a document shows, so they never
go stale: a changed feed simply asks for a new key. The cache only saves
work; when Redis is unreachable the app renders locally and says so once.
"""
from __future__ import annotations

import logging
import time

from cachelib import SimpleCache
from cachelib.base import BaseCache

log = logging.getLogger("feeds")

Entry = tuple[str, bytes]  # (etag, body)
RETRY_SHARED_AFTER = 30.0  # seconds between attempts to reach a failed Redis


class RenderCache:
    def __init__(self, url: str = "", local_entries: int = 2000, timeout: int = 0):
        self.local: BaseCache = SimpleCache(threshold=local_entries, default_timeout=timeout)
        self.shared: BaseCache | None = _redis_cache(url, timeout) if url else None
        self._shared_failed_at: float | None = None

    def get(self, key: str) -> Entry | None:
        entry = self.local.get(key)
        if entry is None and self._use_shared():
            try:
                entry = self.shared.get(key)
            except Exception as error:  # noqa: BLE001 - any client failure means "render locally"
                self._shared_failed(error)
            else:
                self._shared_ok()
                if entry is not None:
                    self.local.set(key, entry)
        return entry

    def set(self, key: str, entry: Entry) -> None:
        self.local.set(key, entry)
        if self._use_shared():
            try:
                self.shared.set(key, entry)
            except Exception as error:  # noqa: BLE001
                self._shared_failed(error)
            else:
                self._shared_ok()

    def _use_shared(self) -> bool:
        if self.shared is None:
            return False
        return self._shared_failed_at is None or time.monotonic() - self._shared_failed_at > RETRY_SHARED_AFTER

    def _shared_failed(self, error: Exception) -> None:
        if self._shared_failed_at is None:
            log.warning("shared render cache unavailable (%s); rendering locally", type(error).__name__)
        self._shared_failed_at = time.monotonic()

    def _shared_ok(self) -> None:
        if self._shared_failed_at is not None:
            log.warning("shared render cache reachable again")
            self._shared_failed_at = None


def _redis_cache(url: str, timeout: int) -> BaseCache:
    import redis
    from cachelib import RedisCache

    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisCache(host=client, key_prefix="feeds:", default_timeout=timeout)
