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

from ..read import ARTICLE_SUFFIX, NOT_ARTICLES, Limits, _parse_all, _printable, article_entries
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


def full_scan(index: Index, content: Path, limits: Limits, jobs: int = 1, progress=None) -> ScanReport:
    known = index.stamps()
    return _apply(index, content, article_entries(str(content)), known, limits, jobs, progress, fresh=not known)


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
            listing.update(_stamped(article_entries(top, source)))
            known.update(index.stamps(under=source))
            continue
        name = os.path.basename(source)
        stamp = index.stamp(_printable(source))
        if stamp is not None:
            known[_printable(source)] = stamp
        if name.endswith(ARTICLE_SUFFIX) and name.lower() not in NOT_ARTICLES:
            try:
                listing[source] = os.stat(path)
            except OSError:
                pass  # gone again: known but not listed, so removed
        else:  # a folder that was removed or moved away
            known.update(index.stamps(under=source))
    return _apply(index, content, listing.items(), known, limits, jobs=1, progress=None, fresh=False)


def _stamped(entries) -> dict:
    """name -> os.stat_result (or the reason it is not read) of walked entries."""
    found = {}
    for name, entry in entries:
        try:
            found[name] = entry if isinstance(entry, str) else entry.stat()
        except OSError:
            pass
    return found


def _apply(index: Index, content: Path, listing, known: dict[str, int], limits: Limits, jobs: int,
           progress, fresh: bool) -> ScanReport:
    """listing: (name, DirEntry | os.stat_result | reason not read). This loop
    runs once per file of the folder (a million times in a large archive): it
    is written for speed."""
    report = ScanReport(affected=ALL if fresh else set())
    problems: list[tuple[str, int, Problem]] = []
    todo: list[tuple[str, str, int]] = []
    top = str(content)
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    pop, join, is_str = known.pop, os.path.join, str
    for name, entry in listing:
        source = name if name.isascii() else _printable(name)
        was = pop(source, None)
        if entry.__class__ is is_str:  # a folder that cannot be listed, a link loop...
            if was != LISTING_PROBLEM:
                problems.append((source, LISTING_PROBLEM, Problem(source, entry)))
            continue
        try:
            stat = entry.stat() if entry.__class__ is not os.stat_result else entry
        except OSError:
            if was is not None:
                known[source] = was  # vanished since listing: removed
            continue
        mtime = stat.st_mtime_ns
        value = hash((stat.st_size, mtime, stat.st_ctime_ns)) if mtime < racy else 0
        if value in (0, LISTING_PROBLEM) and mtime < racy:
            value = 1
        if was != value or value == 0:
            todo.append((join(top, name), source, value))
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
