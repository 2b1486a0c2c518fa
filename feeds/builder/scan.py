"""Which article files changed since the index last saw them, read again.

A full scan lists and stats every file (the only way without file-system
events); a targeted scan looks only at the paths events named. Either way
only files whose stamp changed are read, on several processes when there are
many, and the index learns the results in batches, so a cold build of a
million files never holds a million records.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..read import Limits, _printable, parse_stream
from ..walk import ARTICLE_SUFFIX, NOT_ARTICLES, SECOND_NAME, NotRead, article_entries, second_name_of
from ..records import Problem
from .index import SECOND_NAME_STAMP, Index
from .stamps import LISTING_PROBLEM, VANISHED, _paired, _SharedScan, _stamp, _stamp_share

# A file changed twice within one timestamp tick can look unchanged: a file
# this fresh is recorded with stamp 0, which never matches, so it is read again.
RACY_SECONDS = 2.0
BATCH = 2_000
ALL = None  # "every feed may have changed"


@dataclass
class ScanReport:
    affected: set[str] | None = field(default_factory=set)  # feed paths; ALL (None) after a cold build
    read: int = 0  # files read and parsed
    removed: int = 0
    sources: list[str] = field(default_factory=list)  # changed files, for the log (at most a few)


PARALLEL_STAT_MIN_FILES = 20_000


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
    # A name not read because its folder was met first under another name depends on that
    # other name: when anything changed, each such problem is looked at again.
    differing |= index.listing_problem_buckets(LISTING_PROBLEM)
    # So does a second name, which names the first: another name may be first now.
    differing |= index.listing_problem_buckets(SECOND_NAME_STAMP)
    if shares is not None:
        changed = shares.entries(differing)
    else:
        changed = _paired(names, values, buckets, differing)
    known = index.stamps_in(differing)
    return _apply(index, content, changed, known, limits, jobs, progress, fresh=False)


def targeted_scan(index: Index, content: Path, paths: Iterable[str], limits: Limits) -> ScanReport:
    """Look again at what file-system events named: files, folders, or paths now gone."""
    top = str(content)
    listing: dict[str, object] = {}
    known: dict[str, int] = {}
    # Few rows (loops, folders and files met twice), looked up once for every path.
    problems = index.listing_problems(LISTING_PROBLEM), index.listing_problems(SECOND_NAME_STAMP)
    for path in sorted(set(paths)):
        relative = os.path.relpath(path, top)
        if relative == ".":
            return full_scan(index, content, limits)
        if relative.startswith("..") or any(part.startswith(".") for part in relative.split(os.sep)):
            continue
        name = relative.replace(os.sep, "/")
        source = _printable(name)
        if _read_under_another_name(index, path, source, *problems):
            return full_scan(index, content, limits)
        stamp = index.stamp(source)
        if stamp is not None:
            known[source] = stamp  # a file, or what a folder in its place replaced
        if os.path.isdir(path):
            found = _stamped(article_entries(top, name))
            if _may_have_other_names(top, name, found):
                return full_scan(index, content, limits)
            listing.update(found)
            known.update(index.stamps(under=source))
            continue
        base = os.path.basename(name)
        try:
            info = os.stat(path)
        except OSError:
            info = None  # gone (again): known but not listed, so removed
        if info is not None and info.st_nlink > 1 and stat.S_ISREG(info.st_mode):
            # A file the walk may give under another name (an article's hard link named
            # README.md or notes.txt too: the article's own name has no event).
            return full_scan(index, content, limits)
        if info is not None and stat.S_ISREG(info.st_mode) and base.endswith(ARTICLE_SUFFIX) \
                and base.lower() not in NOT_ARTICLES:
            listing[name] = info
        # Removed or moved away, or a file now where a folder was (a folder may be named "x.md"):
        # whatever the index had below that name is gone.
        known.update(index.stamps(under=source))
    return _apply(index, content, listing.items(), known, limits, jobs=1, progress=None, fresh=False)


def _read_under_another_name(index: Index, path: str, source: str, folder_problems: list[tuple[str, str]],
                             second_names: list[tuple[str, str]]) -> bool:
    """Whether an event names something the walk may read under another name,
    or not at all, so that only a full scan tells what changed: a symbolic
    link (the walk reads each file and folder once, under the first name it
    meets); a folder read under another name, or not followed, or a path in
    one (the index knows it as a listing problem); an article file gone that the
    index never had (read under another name); a name gone under which a folder
    met again elsewhere was read (that folder is read under its next name now);
    a file's second name (the walk gives the file under its first); the first
    name of a file met under other names, or a folder holding one (removed,
    replaced or edited, which of the names is read may change), or a folder
    holding a second name (its first may be a link outside the folder); a
    folder holding a folder read under another name, or one that cannot be
    listed (kept as "e/"), or gone or unlistable with a folder read under a name in it."""
    if os.path.islink(path):
        return True
    below = source + "/"
    # Gone, or there but no longer listed: a folder read under a name at or below it is read under its next.
    first = f" as {below}"  # how the walk's messages name a folder's first name, or one inside it
    if any(first in message for _, message in folder_problems):
        return True
    if any(problem.startswith(below) for problem, _ in folder_problems):  # a folder in it read under another name
        return True
    for second, message in second_names:
        named = second_name_of(message)
        if named is None or named == "?" or named == source or named.startswith(below) or second.startswith(below):
            return True
    parts = source.split("/")
    for end in range(1, len(parts) + 1):  # the path itself, or a folder it is in ("e/": it cannot be listed)
        name = "/".join(parts[:end])
        if index.stamp(name) in (LISTING_PROBLEM, SECOND_NAME_STAMP) or index.stamp(name + "/") == LISTING_PROBLEM:
            return True
    return (source.endswith(ARTICLE_SUFFIX) and not os.path.lexists(path) and index.stamp(source) is None
            and not index.stamps(under=source))


def _may_have_other_names(top: str, folder: str, found: dict) -> bool:
    """Whether a folder just moved in holds what the whole walk may read under
    another name, or report otherwise: a file met twice, a hard-linked file, or
    any link (to a file, or to a folder read elsewhere, even one holding no
    article), as its own walk knows nothing of the rest of the folder."""
    for value in found.values():
        if value.__class__ is NotRead:
            if value.startswith(SECOND_NAME):
                return True
        elif value.st_nlink > 1:
            return True
    return _holds_links(os.path.join(top, folder))


def _holds_links(path: str) -> bool:
    """Whether any entry below path, hidden ones aside, is a symbolic link (links not followed)."""
    todo = [path]
    while todo:
        try:
            with os.scandir(todo.pop()) as listing:
                for entry in listing:
                    if entry.name[0] == ".":
                        continue
                    if entry.is_symlink():
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(entry.path)
        except OSError:
            continue
    return False


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
        told = _listing_messages(index)
        for (_path, source, value), result in parse_stream(_changed(content, listing, known, problems, told), limits,
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


def _listing_messages(index: Index):
    """source -> the problem the index holds for it, looked up once, when first needed."""
    found: dict[str, str] | None = None

    def told(source: str) -> str | None:
        nonlocal found
        if found is None:
            found = {problem.source: problem.message for problem in index.problems()}
            found.update(index.listing_problems(SECOND_NAME_STAMP))
        return found.get(source)
    return told


def _changed(content: Path, listing, known: dict[str, int], problems: list, told=lambda source: None):
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
        if entry.__class__ is NotRead:  # a folder that cannot be listed, a link loop, a second name...
            kind = SECOND_NAME_STAMP if entry.startswith(SECOND_NAME) else LISTING_PROBLEM
            # The same kind may have another cause now ("already read as" a link since removed).
            if was != kind or told(source) != str(entry):
                problems.append((source, kind, Problem(source, str(entry))))
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
