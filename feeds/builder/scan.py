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

from ..read import ARTICLE_SUFFIX, NOT_ARTICLES, Limits, NotRead, _printable, article_entries, parse_stream
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


PARALLEL_STAT_MIN_FILES = 20_000
VANISHED = -2  # the stamp of a file gone between listing and stat


def full_scan(index: Index, content: Path, limits: Limits, jobs: int = 1, progress=None) -> ScanReport:
    warm = not index.is_empty()
    listing = article_entries(str(content), ordered=not warm)
    if jobs > 1 and warm:
        # A warm scan of a large folder is one stat per file: the stats run in
        # child processes while this one loads the index's stamps.
        listing = list(listing)
        if len(listing) >= PARALLEL_STAT_MIN_FILES:
            stamps = _stamp_in_children(listing, jobs)
            known = index.stamps()
            listing = list(zip((name for name, _ in listing), stamps()))
            return _apply(index, content, listing, known, limits, jobs, progress, fresh=False)
    known = index.stamps()
    return _apply(index, content, listing, known, limits, jobs, progress, fresh=not known)


def _stamp_in_children(listing: list[tuple[str, str]], jobs: int):
    """Start `jobs` processes, each stamping a share of the listing; returns a
    function that waits for them and gives, in listing order, each entry's
    stamp (an int), or the reason it is not read.

    Plain os.fork: the children only stat files and write to a pipe, so they
    are safe even when this process runs other threads; a child that fails
    leaves its share to this process."""
    import array
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    children = []
    for share in range(jobs):
        receive, send = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(receive)
                values = array.array("q", (_stamp(path, racy) for _, path in listing[share::jobs]))
                with os.fdopen(send, "wb") as pipe:
                    pipe.write(values.tobytes())
            finally:
                os._exit(0)
        os.close(send)
        children.append((share, pid, receive))

    def stamps() -> list:
        result: list = [None] * len(listing)
        for share, pid, receive in children:
            with os.fdopen(receive, "rb") as pipe:
                data = pipe.read()
            os.waitpid(pid, 0)
            values = array.array("q")
            values.frombytes(data)
            if len(values) != len(range(share, len(listing), jobs)):  # the child failed: its share here
                values = [_stamp(path, racy) for _, path in listing[share::jobs]]
            result[share::jobs] = values
        for position, (_, path) in enumerate(listing):
            if path.__class__ is NotRead:
                result[position] = path
        return result
    return stamps


def _stamp(path, racy: int) -> int:
    if path.__class__ is NotRead:
        return LISTING_PROBLEM
    try:
        stat = os.stat(path)
    except OSError:
        return VANISHED
    mtime = stat.st_mtime_ns
    if mtime >= racy:
        return 0  # too fresh to trust: read again next time
    value = hash((stat.st_size, mtime, stat.st_ctime_ns))
    return 1 if value in (0, LISTING_PROBLEM, VANISHED) else value


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
    for name, path in entries:
        try:
            found[name] = path if path.__class__ is NotRead else os.stat(path)
        except OSError:
            pass
    return found


def _apply(index: Index, content: Path, listing, known: dict[str, int], limits: Limits, jobs: int,
           progress, fresh: bool) -> ScanReport:
    """listing: (name, path | os.stat_result | stamp | NotRead reason). The files
    to read are handed to the readers as the listing goes, and the index
    learns the results in batches, so memory does not grow with the folder."""
    report = ScanReport(affected=ALL if fresh else set())
    problems: list[tuple[str, int, Problem]] = []
    batch: list = []
    for (_path, source, value), result in parse_stream(_changed(content, listing, known, problems), limits, jobs):
        batch.append((source, value, result))
        report.read += 1
        if len(report.sources) < 5:
            report.sources.append(source)
        if len(batch) >= BATCH:
            _update(index, report, batch, [], fresh)
            batch = []
            if progress:
                progress(report.read, 0)
    removed = list(known)  # what the listing did not meet, now that it is complete
    report.removed = len(removed)
    if batch or removed or problems:
        _update(index, report, problems + batch, removed, fresh)
    if fresh:
        index.finish_bulk()
    if progress:
        progress(report.read, report.read)
    return report


def _changed(content: Path, listing, known: dict[str, int], problems: list):
    """(path, source, stamp) of every listed file whose stamp is not the
    known one, taking each met file out of `known` (what is left was removed).

    This loop runs once per file of the folder (a million times in a large
    archive): it is written for speed."""
    top = str(content)
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    pop, join, stat_of, stat_result = known.pop, os.path.join, os.stat, os.stat_result
    for name, entry in listing:
        source = name if name.isascii() else _printable(name)
        was = pop(source, None)
        if entry.__class__ is NotRead:  # a folder that cannot be listed, a link loop...
            if was != LISTING_PROBLEM:
                problems.append((source, LISTING_PROBLEM, Problem(source, str(entry))))
            continue
        if entry.__class__ is int:  # stamped already (in a child process)
            value = entry
            if value == VANISHED:
                if was is not None:
                    known[source] = was  # vanished since listing: removed
                continue
            if value == was and value != 0:
                continue
            yield join(top, name), source, value
            continue
        try:
            stat = stat_of(entry) if entry.__class__ is not stat_result else entry
        except OSError:
            if was is not None:
                known[source] = was  # vanished since listing: removed
            continue
        mtime = stat.st_mtime_ns
        if mtime < racy:
            value = hash((stat.st_size, mtime, stat.st_ctime_ns))
            if value in (0, LISTING_PROBLEM, VANISHED):
                value = 1
            if was == value:
                continue
        else:
            value = 0  # too fresh to trust: read again next time
        yield join(top, name), source, value


def _update(index: Index, report: ScanReport, batch: list, removed: list, fresh: bool) -> None:
    affected = index.update(batch, removed, fresh=fresh)
    if report.affected is not ALL:
        report.affected |= affected
