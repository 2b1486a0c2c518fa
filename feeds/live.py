"""Live content for the web app: the collection kept current as files change.

A background thread re-scans the content folder every `reload_interval`
seconds through the same read stage as `feeds export`, with the parse cache
held in memory, so only files whose size or times changed are read again.
Each change publishes a new immutable Snapshot by swapping one reference, so
a request sees either the old collection or the new one, never a mix.
Scheduled articles appear at their publishedDateTime: the snapshot knows when
the next one is due and is rebuilt from the articles in memory, without
touching the disk.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .collect import Collection, collect, next_due
from .parse_cache import ParseCache
from .read import Limits, read_collection
from .records import Article, Feed, Problem, Site
from .render import feed_version, pages_version

log = logging.getLogger("feeds")

Clock = Callable[[], datetime]
SCAN_SHARE = 5  # wait at least this many times as long as the last scan took


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Snapshot:
    collection: Collection
    feeds: dict[str, Feed]
    versions: dict[str, str]  # feed path -> fingerprint of everything its documents show
    pages_version: str  # fingerprint of the index page and the OPML list
    due: datetime | None  # when the next scheduled article goes public
    problems: tuple[Problem, ...] = field(default=(), repr=False)


class LiveContent:
    def __init__(self, content_dir: Path, site: Site, limits: Limits = Limits(),
                 reload_interval: float = 2.0, clock: Clock = utc_now, cache_dir: Path | None = None):
        self.content_dir = Path(content_dir)
        self.site = site
        self.limits = limits
        self.reload_interval = reload_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._watcher_pid: int | None = None
        self._stop = threading.Event()
        self.rebuilds = 0
        # Start-up reads through the on-disk parse cache on every core; later
        # scans keep it in memory only.
        self._cache = ParseCache(cache_dir, self.content_dir, limits, load=False)  # read_collection loads it
        self.cache_key = self._cache.key
        report = read_collection(self.content_dir, limits, cache=self._cache, workers=os.cpu_count() or 1)
        self._cache.in_memory_only()
        for problem in report.problems:
            log.warning("skipped %s", problem)
        self._articles, self._problems = report.articles, report.problems
        self._snapshot = self._rebuild()

    def snapshot(self) -> Snapshot:
        """The current collection; starts the watcher in this process if needed."""
        if self._watcher_pid != os.getpid():
            self._start_watcher()
        snapshot = self._snapshot
        if snapshot.due is not None and self.clock() >= snapshot.due:
            with self._lock:
                if self._snapshot is snapshot:
                    self._snapshot = self._rebuild()
            snapshot = self._snapshot
        return snapshot

    def refresh(self) -> bool:
        """Re-scan the folder now; True if the collection changed."""
        with self._lock:
            report = read_collection(self.content_dir, self.limits, cache=self._cache)
            if not (report.parsed or report.forgotten):
                return False
            newly_skipped = {p.source for p in report.problems} - {p.source for p in self._problems}
            for problem in report.problems:
                if problem.source in newly_skipped:
                    log.warning("skipped %s", problem)
            self._articles, self._problems = report.articles, report.problems
            self._snapshot = self._rebuild()
            return True

    def close(self) -> None:
        self._stop.set()

    def _rebuild(self) -> Snapshot:
        now = self.clock()
        collection = collect(self._articles, now)
        self.rebuilds += 1
        return Snapshot(
            collection=collection,
            feeds=collection.by_path(),
            versions={feed.path: feed_version(feed, self.site) for feed in collection.all_feeds()},
            pages_version=pages_version(collection, self.site),
            due=next_due(self._articles, now),
            problems=tuple(self._problems),
        )

    def _start_watcher(self) -> None:
        with self._lock:
            if self._watcher_pid == os.getpid():
                return
            self._watcher_pid = os.getpid()  # after a fork the parent's thread is gone
            self._stop = threading.Event()
            thread = threading.Thread(target=self._watch, name="feeds-content-watcher", daemon=True)
            thread.start()

    def _watch(self) -> None:
        pause = self.reload_interval
        while not self._stop.wait(pause):
            started = time.monotonic()
            try:
                if self.refresh():
                    log.info("content changed: %d articles published", len(self._snapshot.collection.main.articles))
            except Exception:  # the watcher must outlive any one bad scan
                log.exception("content scan failed")
            # A scan stats every file (0.7 s for 100k): on huge folders, space
            # scans out so that they never take more than a fifth of a core.
            pause = max(self.reload_interval, SCAN_SHARE * (time.monotonic() - started))
