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
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..read import Limits, _printable, parse_stream
from ..walk import ARTICLE_SUFFIX, NOT_ARTICLES, FlatFolder, NotRead, _not_read, article_entries
from ..records import Problem
from .index import Index
from .index import BUCKETS

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


def full_scan(index: Index, content: Path, limits: Limits, jobs: int = 1, progress=None,
              meanwhile: Callable[[], object] | None = None) -> ScanReport:
    """`meanwhile`: work for this process while child processes stamp the files."""
    if index.is_empty():
        return _apply(index, content, article_entries(str(content)), {}, limits, jobs, progress, fresh=True)
    # A warm scan: every file is stamped, the stamps are summed per bucket of
    # names, and only the buckets whose sum differs from the index's are
    # compared file by file: nothing changed, nothing loaded.
    racy = time.time_ns() - int(RACY_SECONDS * 1e9)
    large = jobs > 1 and index.holds_at_least(PARALLEL_STAT_MIN_FILES)
    shares = _SharedScan(str(content), jobs, racy) if large else None
    sums = None
    try:
        stored, unsettled = index.bucket_sums(), index.unsettled_buckets()
        if shares is not None and meanwhile is not None:
            meanwhile()
        if shares is not None:
            try:
                sums = shares.sums()
            except OSError:
                shares.close()
                shares = None
    except BaseException:
        if shares is not None:
            shares.close()  # no child process left behind by a failed build
        raise
    if shares is None:
        entries = article_entries(str(content), ordered=False, batched=True)
        values, buckets, sums, names = _stamp_share(entries, racy, 0, 1)
    differing = {bucket for bucket in sums.keys() | stored.keys()
                 if sums.get(bucket, 0) % 2 ** 64 != stored.get(bucket, 0) % 2 ** 64} | unsettled
    if not differing:
        if shares is not None:
            shares.close()
        return ScanReport()
    if shares is not None:
        changed = shares.entries(differing)
    else:
        changed = _paired(names, values, buckets, differing)
    known = index.stamps_in(differing)
    return _apply(index, content, changed, known, limits, jobs, progress, fresh=False)


class _SharedScan:
    """A warm scan split between child processes by name: each walks the
    folder (listing is cheap; stat-ing is not), stamps its own share's files,
    sends their sums, then the entries of the buckets the parent asks for.

    Plain os.fork: the children only list, stat and write to pipes, so they
    are safe even when this process runs other threads. If a child fails, the
    scan is done here instead."""

    def __init__(self, top: str, jobs: int, racy: int):
        self.children = []
        try:
            for share in range(jobs):
                down_read, down_write = os.pipe()
                up_read, up_write = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child
                    try:
                        # Only its two pipes: above all not the store's lock, which a
                        # child would otherwise hold on past a builder killed mid-scan.
                        _close_all_but(down_read, up_write)
                        _scan_share(top, share, jobs, racy, down_read, up_write)
                    finally:
                        os._exit(0)
                os.close(down_read)
                os.close(up_write)
                self.children.append((pid, os.fdopen(down_write, "wb"), os.fdopen(up_read, "rb")))
        except OSError:
            self.close()

    def sums(self) -> dict[int, int]:
        if not self.children:
            raise OSError("no scanning process could start")
        total: dict[int, int] = {}
        for _, _, up in self.children:
            part = _read_part(up, "Q")
            if part is None or len(part) != BUCKETS:
                raise OSError("a scanning process failed")
            for bucket, value in enumerate(part):
                if value:
                    total[bucket] = total.get(bucket, 0) + value
        return total

    def entries(self, buckets: set[int]) -> list[tuple[str, int]]:
        import pickle
        wanted = array.array("H", sorted(buckets)).tobytes()
        found: list[tuple[str, int]] = []
        for _, down, _ in self.children:
            down.write(len(wanted).to_bytes(8, "little") + wanted)
            down.flush()
        for _, _, up in self.children:
            head = up.read(8)
            found.extend(pickle.loads(up.read(int.from_bytes(head, "little"))))
        self.close()
        return found

    def close(self) -> None:
        for pid, down, up in self.children:
            for pipe in (down, up):
                try:
                    pipe.close()
                except OSError:
                    pass
            os.waitpid(pid, 0)
        self.children = []


def _close_all_but(*keep: int) -> None:
    """Close every file descriptor above stderr except `keep`."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _scan_share(top: str, share: int, jobs: int, racy: int, down: int, up: int) -> None:
    import pickle
    values, buckets, sums, names = _stamp_share(article_entries(top, ordered=False, batched=True), racy, share, jobs)
    with os.fdopen(up, "wb") as pipe, os.fdopen(down, "rb") as orders:
        data = array.array("Q", (sums.get(bucket, 0) % 2 ** 64 for bucket in range(BUCKETS))).tobytes()
        pipe.write(len(data).to_bytes(8, "little") + data)
        pipe.flush()
        head = orders.read(8)
        if len(head) != 8:  # nothing differs: the parent wants no entries
            return
        wanted = array.array("H")
        wanted.frombytes(orders.read(int.from_bytes(head, "little")))
        wanted = set(wanted)
        data = pickle.dumps(_paired(names, values, buckets, wanted), protocol=5)
        pipe.write(len(data).to_bytes(8, "little") + data)


def _read_part(pipe, code: str):
    head = pipe.read(8)
    if len(head) != 8:
        return None
    data = pipe.read(int.from_bytes(head, "little"))
    part = array.array(code)
    part.frombytes(data)
    return part


def _stamp_share(entries, racy: int, share: int, jobs: int):
    """(stamps, buckets, sums per bucket, names) of the walked entries that
    fall to `share` of `jobs`; a name not read keeps its reason (NotRead) in
    place of a stamp in `names`' pairing, see _paired.

    The shares split names by their str hash, the same in every child of one
    process and far cheaper than their checksum, which only a name's own
    share computes: any split will do, as the parent sums the children's
    bucket sums and asks each for the entries of the buckets that differ."""
    values, buckets, sums, names = array.array("q"), array.array("H"), {}, []
    add_value, add_bucket, add_name, get, crc32 = values.append, buckets.append, names.append, sums.get, zlib.crc32
    for item in entries:
        if item.__class__ is FlatFolder:  # the loop a million-file folder runs: kept tight
            prefix, folder = item.prefix, item.path
            mine = [(prefix + name, name) for name in item.names if hash(prefix + name) % jobs == share] if prefix \
                else [(name, name) for name in item.names if hash(name) % jobs == share]
            for name, base in mine:
                source = name if name.isascii() and "\\" not in name else _printable(name)
                crc = crc32(source.encode("utf-8", "surrogateescape"))
                value = _stamp(folder + base, racy)
                bucket = crc & (BUCKETS - 1)
                add_value(value)
                add_bucket(bucket)
                add_name(name)
                sums[bucket] = get(bucket, 0) + hash((crc, value))
            continue
        name, path = item
        if hash(name) % jobs != share:
            continue
        source = name if name.isascii() and "\\" not in name else _printable(name)
        crc = crc32(source.encode("utf-8", "surrogateescape"))
        bucket = crc & (BUCKETS - 1)
        value = _stamp(path, racy)
        add_value(value)
        add_bucket(bucket)
        add_name(_not_read(str(path), name) if path.__class__ is NotRead else name)  # see _paired
        sums[bucket] = get(bucket, 0) + hash((crc, value))
    return values, buckets, sums, names


def _paired(names: list, values, buckets, wanted: set[int]) -> list[tuple[str, object]]:
    """(name, stamp) of the entries in the wanted buckets; (name, reason) for
    those not read, whose reason stood in for the name in `names`."""
    found = []
    for name, value, bucket in zip(names, values, buckets):
        if bucket in wanted:
            found.append((name.name, name) if name.__class__ is NotRead else (name, value))
    return found


def _stamp(path, racy: int) -> int:
    """The stamp of the file at path (or of an os.stat_result): a hash of its
    size, mtime and ctime; 0 when modified or changed too recently to trust
    (read again next time: a second edit within a coarse timestamp's tick
    would leave every part of the stamp as it was);
    LISTING_PROBLEM for a name not read, VANISHED for a file gone."""
    if path.__class__ is NotRead:
        return LISTING_PROBLEM
    try:
        stat = path if path.__class__ is os.stat_result else os.stat(path)
    except OSError:
        return VANISHED
    mtime = stat.st_mtime_ns
    # The change time too: an edit whose mtime was put back (touch -r, rsync -t, an
    # editor keeping it) still moves ctime, which nothing but the kernel sets.
    if mtime >= racy or stat.st_ctime_ns >= racy:
        return 0
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
        name = relative.replace(os.sep, "/")
        source = _printable(name)
        if _read_under_another_name(index, path, source):
            return full_scan(index, content, limits)
        stamp = index.stamp(source)
        if stamp is not None:
            known[source] = stamp  # a file, or what a folder in its place replaced
        if os.path.isdir(path):
            listing.update(_stamped(article_entries(top, name)))
            known.update(index.stamps(under=source))
            continue
        base = os.path.basename(name)
        if base.endswith(ARTICLE_SUFFIX) and base.lower() not in NOT_ARTICLES and os.path.isfile(path):
            try:
                listing[name] = os.stat(path)
            except OSError:
                pass  # gone again: known but not listed, so removed
        if not os.path.exists(path):  # removed or moved away: a file, or a folder (whatever its name)
            known.update(index.stamps(under=source))
    return _apply(index, content, listing.items(), known, limits, jobs=1, progress=None, fresh=False)


def _read_under_another_name(index: Index, path: str, source: str) -> bool:
    """Whether an event names something the walk may read under another name,
    or not at all, so that only a full scan tells what changed: a symbolic
    link (the walk reads each file and folder once, under the first name it
    meets); a folder read under another name, or not followed, or a path in
    one (the index knows it as a listing problem); an article file gone that the
    index never had (read under another name)."""
    if os.path.islink(path):
        return True
    parts = source.split("/")
    for end in range(1, len(parts) + 1):  # the path itself, or a folder it is in
        if index.stamp("/".join(parts[:end])) == LISTING_PROBLEM:
            return True
    return (source.endswith(ARTICLE_SUFFIX) and not os.path.lexists(path) and index.stamp(source) is None
            and not index.stamps(under=source))


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
    try:
        for (_path, source, value), result in parse_stream(_changed(content, listing, known, problems), limits,
                                                           jobs):
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
    except Exception:
        if fresh:  # a cold build cut short: its indexes back, for this process's next build
            try:
                index.finish_bulk()
            except Exception:
                pass  # the error that matters is the one on its way
        raise
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
    pop, join = known.pop, os.path.join
    for name, entry in listing:
        source = name if name.isascii() and "\\" not in name else _printable(name)
        was = pop(source, None)
        if entry.__class__ is NotRead:  # a folder that cannot be listed, a link loop...
            if was != LISTING_PROBLEM:
                problems.append((source, LISTING_PROBLEM, Problem(source, str(entry))))
            continue
        value = entry if entry.__class__ is int else _stamp(entry, racy)  # int: stamped in a child process
        if value == VANISHED:
            if was is not None:
                known[source] = was  # vanished since listing: removed
            continue
        if value == was and value != 0:
            continue
        yield join(top, name), source, value


def _update(index: Index, report: ScanReport, batch: list, removed: list, fresh: bool) -> None:
    affected = index.update(batch, removed, fresh=fresh)
    if report.affected is not ALL:
        report.affected |= affected
