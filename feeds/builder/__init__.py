"""The builder: the only part of `feeds` that reads articles.

It keeps the article index current (a full scan at start, then the paths
file-system events name, or a full scan every few seconds without events),
brings the feeds a change touches up to date, and hands the writer (an
export folder, or the document store servers read) exactly the documents
that changed. Scheduled articles are published when their date comes.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .._version import __version__
from ..config import Config, default_cache_dir
from ..exceptions import FeedsError
from ..render import settings_version
from .index import Index
from .publish import PublishReport, publish
from .wanted import Wanted
from .scan import ALL, ScanReport, full_scan, targeted_scan

log = logging.getLogger("feeds")

__all__ = ["Builder", "BuildReport", "index_path"]


@dataclass
class BuildReport:
    scan: ScanReport
    publish: PublishReport
    seconds: float
    problems: int

    def line(self) -> str:
        """One line for the log: what changed and what was written."""
        written, removed = self.publish.write.written, self.publish.write.removed
        changed = ", ".join(self.scan.sources[:3]) + (" …" if self.scan.read > 3 else "")
        what = f"{self.scan.read} files read ({changed})" if self.scan.read else "no file changed"
        if self.scan.removed:
            what += f", {self.scan.removed} removed"
        return (f"{what}; {len(self.publish.feeds_changed)} feeds changed; {len(written)} documents written, "
                f"{len(removed)} removed; {self.seconds:.2f} s")


def index_identity(config: Config) -> str:
    """What the index's contents depend on: code, limits, site settings and the content folder."""
    return f"{__version__}\0{config.limits!r}\0{settings_version(config.site)}\0{Path(config.content).resolve()}"


def index_path(config: Config, cache_dir: Path | None = None) -> Path:
    """One index per identity, so that an export with other settings never empties a running builder's."""
    key = hashlib.blake2b(index_identity(config).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return (cache_dir or config.cache_dir or default_cache_dir()) / f"index-{key}.sqlite"


class Builder:
    def __init__(self, config: Config, writer, index: Path | None | str = "default", jobs: int = 1,
                 clock: Callable[[], float] = time.time, pinger=None):
        self.config, self.site, self.writer = config, config.site, writer
        if pinger is None and config.hubs and writer is not None:
            from .websub import Pinger
            pinger = Pinger(config.hubs)
        self.pinger = pinger  # WebSub: the hubs told of every feed document a build changes
        if pinger is not None and writer is not None:
            writer.announcing = True  # what a build writes is recorded until the hubs have it
        self._pinged: dict[str, tuple[str, int]] = {}  # URL -> (path, generation) queued, not yet announced
        self.content = Path(config.content)
        self.jobs, self.clock = jobs, clock
        self.index = Index(index_path(config) if index == "default" else index, index_identity(config))
        self._due: int | None | bool = False  # False: not looked up since the last build
        self.needs_full_scan = False  # after a build that failed: events may have been lost
        self._wanted = Wanted()  # every document the site has, kept between builds

    def build(self, paths: Iterable[str] | None = None, progress=None) -> BuildReport:
        """Bring the writer up to date: a full scan, or only `paths` (from
        file-system events; an empty list publishes what came due)."""
        started = time.monotonic()
        now = int(self.clock())
        if self.writer is not None:
            # Nothing a failed build looked at is trusted; a full scan looks at the writer's files again.
            self.writer.refresh(full=paths is None or self.needs_full_scan)
        # Read before the scan, which clears it until this build has published:
        # missing, the previous build was cut short and every feed is recomputed.
        last = self.index.get_meta("published_at")
        if paths is None or self.needs_full_scan:
            self.needs_full_scan = True  # until this scan has completed
            scan = full_scan(self.index, self.content, self.config.limits, self.jobs, progress,
                             meanwhile=self._look_ahead)
            self.needs_full_scan = False
        else:
            paths = list(paths)
            scan = targeted_scan(self.index, self.content, paths, self.config.limits) if paths else ScanReport()
        affected = scan.affected
        if last is None:
            affected = ALL
        elif affected is not ALL:
            affected |= self.index.became_due(int(last), now)
        problems = self.index.problem_count()  # not counts(): the count of every file costs more at every change
        report = publish(self.index, self.site, self.writer, affected, now, {"problems": problems}, self.jobs,
                         self._wanted)
        self.index.set_meta("published_at", str(now))
        self.index.forget_touched()  # what this build changed is published: the next counts afresh
        self._due = False
        if self.pinger is not None:
            # This build's changes, and any a builder before this one committed but did not announce.
            self._ping(sorted(set(report.write.written) | (self.writer.unannounced()
                                                            - {path for path, _ in self._pinged.values()})))
            self._settle_pings()
        return BuildReport(scan, report, time.monotonic() - started, problems)

    def tidy(self, force: bool = False) -> None:
        """Housekeeping that must not hold up a change: the writer's
        superseded bodies. Called when nothing is waiting to be built."""
        tidy = getattr(self.writer, "tidy", None)
        if tidy is not None:
            tidy(force)

    def _look_ahead(self) -> None:
        """While scanning processes stamp a large folder: what the rest of a
        build will ask for whatever the scan finds (both are kept until they change)."""
        self.index.counts()
        if self.writer is not None:
            self.writer.versions()

    def _ping(self, written: list[str]) -> None:
        """Queue a WebSub ping of every feed document the writer has just
        committed anew; sent in the background, never waited for here."""
        from ..formats import announced
        urls = {self.site.url(path): path for path in written if announced(path)}  # each feed's self link
        if urls:
            from .. import pool
            pool.FORK_IS_SAFE = False  # the pinger runs threads
            for url, generation in self.pinger.notify(list(urls)).items():
                self._pinged[url] = (urls[url], generation)

    def _settle_pings(self) -> None:
        """Record what the hubs have taken (or given up on), so that no later builder sends it again."""
        done = {url: queued for url, queued in self._pinged.items() if self.pinger.announced(url) >= queued[1]}
        if done and self.writer is not None:
            try:
                self.writer.settle([path for path, _ in done.values()])
            except FeedsError as error:  # the next build records it; at worst a hub hears twice
                log.warning("%s", error)
                return
            for url in done:
                del self._pinged[url]

    def flush_pings(self, timeout: float | None = None) -> None:
        """At exit: give the hubs a short, bounded time to take what is queued."""
        if self.pinger is not None:
            from .websub import EXIT_WAIT
            self.pinger.flush(EXIT_WAIT if timeout is None else timeout)
            self._settle_pings()

    def next_due(self) -> int | None:
        """The date of the next article the last build held back; already
        past when that build ran just before the article's second began."""
        last = self.index.get_meta("published_at")
        return self.index.next_due(int(last) if last is not None else int(self.clock()))

    def next_due_cached(self) -> int | None:
        if self._due is False:
            self._due = self.next_due()
        return self._due

    def problems(self):
        return self.index.problems()

    def close(self) -> None:
        if self.pinger is not None:
            self._settle_pings()
            self.pinger.close()
        self.index.close()
