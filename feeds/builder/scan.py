"""Which article files changed since the index last saw them, read again.

A full scan lists and stats every file (the only way without file-system
events); a targeted scan looks only at the paths events named. Either way
only files whose stamp changed are read, on several processes when there are
many, and the index learns the results in batches, so a cold build of a
million files never holds a million records.
"""
from __future__ import annotations

import array
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..read import ARTICLE_SUFFIX, NOT_ARTICLES, Limits, NotRead, _printable, article_entries, parse_stream
from ..records import Problem
from .index import Index
from .index import BUCKETS, contribution

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
    if not warm:
        return _apply(index, content, listing, {}, limits, jobs, progress, fresh=True)
    # A warm scan: every file is stamped (in child processes), the stamps are
    # summed per bucket of names, and only the buckets whose sum differs from
    # the index's are compared file by file: nothing changed, nothing loaded.
    listing = list(listing)
    stamped = _stamp_in_children(listing, max(1, jobs) if len(listing) >= PARALLEL_STAT_MIN_FILES else 0)
    stored = index.bucket_sums()
    unsettled = index.unsettled_buckets()
    values, buckets, sums = stamped()
    differing = {bucket for bucket in sums.keys() | stored.keys()
                 if sums.get(bucket, 0) % 2 ** 64 != stored.get(bucket, 0) % 2 ** 64} | unsettled
    if not differing:
        return ScanReport()
    known = index.stamps_in(differing)
    changed = [(name, value) for (name, _), value, bucket in zip(listing, values, buckets) if bucket in differing]
    del listing, values, buckets
    return _apply(index, content, changed, known, limits, jobs, progress, fresh=False)


def _stamp_in_children(listing: list[tuple[str, str]], jobs: int):
    """Stamp every entry of the listing on `jobs` child processes (none: here);
    returns a function that waits for them and gives, in listing order, each
    entry's stamp and bucket, and the sum of each bucket.

    Plain os.fork: the children only stat files and write to a pipe, so they
    are safe even when this process runs other threads; a child that fails
    leaves its share to this process."""
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    if jobs <= 0:
        values, buckets, sums = _stamp_share(listing, racy)
        return lambda: (values, buckets, sums)
    children = []
    for share in range(jobs):
        receive, send = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(receive)
                values, buckets, sums = _stamp_share(listing[share::jobs], racy)
                total = array.array("Q", (sums.get(bucket, 0) % 2 ** 64 for bucket in range(BUCKETS)))
                with os.fdopen(send, "wb") as pipe:
                    for part in (values, buckets, total):
                        data = part.tobytes()
                        pipe.write(len(data).to_bytes(8, "little") + data)
            finally:
                os._exit(0)
        os.close(send)
        children.append((share, pid, receive))

    def stamped():
        values: list = [0] * len(listing)
        buckets: list = [0] * len(listing)
        sums: dict[int, int] = {}
        for share, pid, receive in children:
            with os.fdopen(receive, "rb") as pipe:
                parts = [_read_part(pipe, code) for code in ("q", "H", "Q")]
            os.waitpid(pid, 0)
            if any(part is None for part in parts) or len(parts[0]) != len(range(share, len(listing), jobs)):
                share_values, share_buckets, share_sums = _stamp_share(listing[share::jobs], racy)  # here instead
            else:
                share_values, share_buckets = parts[0], parts[1]
                share_sums = {bucket: total for bucket, total in enumerate(parts[2]) if total}
            values[share::jobs] = share_values
            buckets[share::jobs] = share_buckets
            for bucket, total in share_sums.items():
                sums[bucket] = sums.get(bucket, 0) + total
        return values, buckets, sums
    return stamped


def _read_part(pipe, code: str):
    head = pipe.read(8)
    if len(head) != 8:
        return None
    data = pipe.read(int.from_bytes(head, "little"))
    part = array.array(code)
    part.frombytes(data)
    return part


def _stamp_share(entries, racy: int):
    values, buckets, sums = array.array("q"), array.array("H"), {}
    for name, path in entries:
        source = name if name.isascii() else _printable(name)
        value = _stamp(path, racy)
        bucket, part = contribution(source, value)
        values.append(value)
        buckets.append(bucket)
        sums[bucket] = sums.get(bucket, 0) + part
    return values, buckets, sums


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
