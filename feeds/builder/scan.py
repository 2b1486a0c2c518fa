"""Which article files changed since the index last saw them, read again.

A full scan lists and stats every file (the only way without file-system
events); a targeted scan looks only at the paths events named. Either way
only files whose stamp changed are read, on several processes when there are
many, and the index learns the results in batches, so a cold build of a
million files never holds a million records.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..read import ARTICLE_SUFFIX, NOT_ARTICLES, Limits, _parse_all, _printable, list_article_files
from ..records import Problem
from .index import Index

# A file changed twice within one timestamp tick can look unchanged: a file
# this fresh is recorded with stamp 0, which never matches, so it is read again.
RACY_SECONDS = 2.0
LISTING_PROBLEM = -1  # the stamp of a folder that cannot be listed, a link loop, ...
BATCH = 2_000
ALL = None  # "every feed may have changed"


@dataclass
class ScanReport:
    affected: set[str] | None = field(default_factory=set)  # feed paths; ALL (None) after a cold build
    read: int = 0  # files read and parsed
    removed: int = 0
    sources: list[str] = field(default_factory=list)  # changed files, for the log (at most a few)


def stamp_hash(size: int, mtime_ns: int, ctime_ns: int, now: float | None = None) -> int:
    if mtime_ns / 1e9 > (now or time.time()) - RACY_SECONDS:
        return 0
    value = hash((size, mtime_ns, ctime_ns))
    return value if value not in (0, LISTING_PROBLEM) else 1


def full_scan(index: Index, content: Path, limits: Limits, jobs: int = 1, progress=None) -> ScanReport:
    known = index.stamps()
    return _apply(index, content, list_article_files(str(content)), known, limits, jobs, progress,
                  fresh=not known)


def targeted_scan(index: Index, content: Path, paths: Iterable[str], limits: Limits) -> ScanReport:
    """Look again at what file-system events named: files, folders, or paths now gone."""
    top = str(content)
    listing: dict[str, object] = {}
    known: dict[str, int] = {}
    for path in sorted(set(paths)):
        relative = os.path.relpath(path, top)
        if relative == ".":
            return full_scan(index, content, limits)
        if relative.startswith("..") or any(part.startswith(".") for part in relative.split(os.sep)):
            continue
        source = relative.replace(os.sep, "/")
        if os.path.isdir(path):
            listing.update(list_article_files(top, source))
            known.update(index.stamps(under=source))
            continue
        name = os.path.basename(source)
        stamp = index.stamp(_printable(source))
        if stamp is not None:
            known[_printable(source)] = stamp
        if name.endswith(ARTICLE_SUFFIX) and name.lower() not in NOT_ARTICLES:
            try:
                stat = os.stat(path)
                listing[source] = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            except OSError:
                pass  # gone again: known but not listed, so removed
        else:  # a folder that was removed or moved away
            known.update(index.stamps(under=source))
    return _apply(index, content, list(listing.items()), known, limits, jobs=1, progress=None, fresh=False)


def _apply(index: Index, content: Path, listing: list, known: dict[str, int], limits: Limits, jobs: int,
           progress, fresh: bool) -> ScanReport:
    report = ScanReport(affected=ALL if fresh else set())
    problems: list[tuple[str, int, Problem]] = []
    todo: list[tuple[str, str, int]] = []
    top = str(content)
    now = time.time()
    for name, stamp in listing:
        source = _printable(name)
        was = known.pop(source, None)
        if isinstance(stamp, str):
            if was != LISTING_PROBLEM:
                problems.append((source, LISTING_PROBLEM, Problem(source, stamp)))
            continue
        value = stamp_hash(*stamp, now=now)
        if was != value or value == 0:
            todo.append((os.path.join(top, name), source, value))
    removed = list(known)
    del listing, known
    report.removed = len(removed)
    total = len(todo)
    if progress:
        progress(0, total)
    batch: list = list(problems)
    results = _parse_all([(path, source) for path, source, _ in todo], limits, jobs)
    for (_, source, value), result in zip(todo, results):
        batch.append((source, value, result))
        report.read += 1
        if len(report.sources) < 5:
            report.sources.append(source)
        if len(batch) >= BATCH:
            _update(index, report, batch, removed, fresh)
            batch, removed = [], []
            if progress:
                progress(report.read, total)
    if batch or removed:
        _update(index, report, batch, removed, fresh)
    if fresh:
        index.finish_bulk()
    if progress:
        progress(total, total)
    return report


def _update(index: Index, report: ScanReport, batch: list, removed: list, fresh: bool) -> None:
    affected = index.update(batch, removed, fresh=fresh)
    if report.affected is not ALL:
        report.affected |= affected
