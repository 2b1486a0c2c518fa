"""Live content for the web app: the collection kept current as files change.

A background thread re-scans the content folder every `reload_interval`
seconds, re-reads only files whose size or mtime changed, and publishes a new
immutable Snapshot by swapping one reference, so a request sees either the
old collection or the new one, never a mix. Scheduled articles appear at
their publishedDateTime: the snapshot knows when the next one is due and is
rebuilt from the articles already in memory, without touching the disk.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .collect import Collection, collect, next_due
from .read import Limits, find_article_files, read_article
from .records import Article, Feed, Problem, Site
from .render import feed_version, pages_version

log = logging.getLogger("feeds")

Clock = Callable[[], datetime]


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
                 reload_interval: float = 2.0, clock: Clock = utc_now):
        self.content_dir = Path(content_dir)
        self.site = site
        self.limits = limits
        self.reload_interval = reload_interval
        self.clock = clock
        self._files: dict[Path, tuple[int, int, Article | Problem]] = {}
        self._lock = threading.Lock()
        self._watcher_pid: int | None = None
        self._stop = threading.Event()
        self.rebuilds = 0
        self._snapshot = self._rebuild(self._scan())

    def snapshot(self) -> Snapshot:
        """The current collection; starts the watcher in this process if needed."""
        if self._watcher_pid != os.getpid():
            self._start_watcher()
        snapshot = self._snapshot
        if snapshot.due is not None and self.clock() >= snapshot.due:
            with self._lock:
                if self._snapshot is snapshot:
                    self._snapshot = self._rebuild(list(self._files.values()))
            snapshot = self._snapshot
        return snapshot

    def refresh(self) -> bool:
        """Re-scan the folder now; True if the collection changed."""
        with self._lock:
            before = dict(self._files)
            results = self._scan()
            if before.keys() == self._files.keys() and all(before[p] is self._files[p] for p in before):
                return False
            self._snapshot = self._rebuild(results)
            return True

    def close(self) -> None:
        self._stop.set()

    def _scan(self) -> list[tuple[int, int, Article | Problem]]:
        seen: dict[Path, tuple[int, int, Article | Problem]] = {}
        try:
            paths = find_article_files(self.content_dir)
        except OSError as error:
            log.warning("cannot list %s: %s", self.content_dir, error.strerror)
            return list(self._files.values())
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue  # removed between listing and stat
            known = self._files.get(path)
            if known is not None and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
                seen[path] = known
                continue
            result = read_article(path, self.content_dir, self.limits)
            if isinstance(result, Problem):
                log.warning("skipped %s", result)
            seen[path] = (stat.st_size, stat.st_mtime_ns, result)
        self._files = seen
        return list(seen.values())

    def _rebuild(self, entries) -> Snapshot:
        now = self.clock()
        articles = [entry[2] for entry in entries if isinstance(entry[2], Article)]
        problems = tuple(entry[2] for entry in entries if isinstance(entry[2], Problem))
        collection = collect(articles, now)
        self.rebuilds += 1
        return Snapshot(
            collection=collection,
            feeds=collection.by_path(),
            versions={feed.path: feed_version(feed, self.site) for feed in collection.all_feeds()},
            pages_version=pages_version(collection, self.site),
            due=next_due(articles, now),
            problems=problems,
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
        while not self._stop.wait(self.reload_interval):
            try:
                if self.refresh():
                    log.info("content changed: %d articles published", len(self._snapshot.collection.main.articles))
            except Exception:  # the watcher must outlive any one bad scan
                log.exception("content scan failed")
