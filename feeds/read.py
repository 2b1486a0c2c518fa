"""Read stage: article files -> Article records, and a Problem for every file that
cannot be published as it is.

Nothing here raises for bad content: a file either becomes an Article or a
skipped Problem naming the file and the reason. Messages never quote the
`secured` value (nor any YAML snippet that could contain it).
"""
from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from pathlib import Path

from .pool import pooled_map
from .records import Article, Limits, Problem
from .walk import _list_files, printable as _printable, second_name_of

from .article import article_from, is_draft, item_id, parse_when, plain_title  # noqa: F401 - re-exported
from .front_matter import USED_KEYS, Unreadable, front_matter  # noqa: F401 - re-exported


def read_article(path: Path, content_dir: Path, limits: Limits = Limits()) -> Article | Problem:
    return _read_source(path, _relative_name(path, content_dir), limits)


def _read_source(path: str | Path, source: str, limits: Limits) -> Article | Problem:
    try:
        data = _read_bytes(path, limits)
        return parse_article(data, source, limits)
    except Unreadable as why:
        return Problem(source, str(why))


def read_articles(content_dir: Path, limits: Limits = Limits()) -> tuple[list[Article], list[Problem]]:
    """Every article under content_dir and every problem, read in this process, uncached."""
    report = read_collection(content_dir, limits)
    return report.articles, report.problems


def parse_article(data: bytes, source: str, limits: Limits = Limits()) -> Article | Problem:
    """One file's bytes -> an Article, or a Problem saying why it is skipped."""
    try:
        meta, body = front_matter(data, limits)
        return article_from(meta, source, limits, body)
    except Unreadable as why:
        return Problem(source, str(why))


def _relative_name(path: Path, content_dir: Path) -> str:
    try:
        name = path.relative_to(content_dir).as_posix()
    except ValueError:
        name = path.as_posix()
    return _printable(name)


def _read_bytes(path: Path, limits: Limits) -> bytes:
    # os.read rather than open(): no buffered file object for one read of a small file.
    wanted = limits.max_file_bytes + 1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, wanted)
            while data and len(data) < wanted:  # short reads: pipes, network file systems
                more = os.read(fd, wanted - len(data))
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
    except OSError as error:
        raise Unreadable(f"cannot read file: {error.strerror or error}") from None
    if len(data) > limits.max_file_bytes:
        raise Unreadable(f"file is larger than {limits.max_file_bytes} bytes")
    return data


# --- reading a whole folder: cached, and on several cores when it pays ----------

PARALLEL_MIN_FILES = 2_000
_CHUNK = 500


@dataclass
class ReadReport:
    articles: list[Article]
    problems: list[Problem]
    parsed: int = 0  # files parsed


def read_collection(content_dir: Path, limits: Limits = Limits(), workers: int = 1) -> ReadReport:
    """Every article under content_dir and every problem, in file order, all read
    (`feeds check` and the builder go through the article index instead)."""
    with collector_paused():
        files = _list_files(str(content_dir), stamps=False)
        top = str(content_dir)
        results: dict[str, object] = {}
        todo = []
        for name, stamp in files:
            source = _printable(name)
            if isinstance(stamp, str):  # not read, and why (a second name of a file: no problem)
                if second_name_of(stamp) is None:
                    results[source] = Problem(source, stamp)
            else:
                todo.append((os.path.join(top, name), source))
                results[source] = None
        for (_, source), result in zip(todo, _parse_all(todo, limits, workers)):
            results[source] = result
    report = ReadReport([], [], parsed=len(todo))
    for result in results.values():
        (report.articles if isinstance(result, Article) else report.problems).append(result)
    return report


@contextlib.contextmanager
def collector_paused():
    """Building many records makes no reference cycles, yet triggers hundreds of
    cyclic-GC passes over everything built so far: pausing it is 3x faster."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_all(files: list[tuple[str, str]], limits: Limits, workers: int):
    """The result of every (path, source), in order."""
    return (result for _, result in parse_stream(files, limits, workers))


def parse_stream(files, limits: Limits, workers: int):
    """(item, Article | Problem) for each item (path, source, ...) of an
    iterable, in order, read on `workers` processes when there are many.

    The iterable is consumed only as fast as the workers read, so a million
    files never sit in memory at once.
    """
    import itertools
    files = iter(files)
    first = list(itertools.islice(files, PARALLEL_MIN_FILES))
    if workers <= 1 or len(first) < PARALLEL_MIN_FILES:
        for item in itertools.chain(first, files):
            yield item, _read_source(item[0], item[1], limits)
        return
    chunks = _chunks(itertools.chain(first, files), limits)
    del first
    for chunk in pooled_map(_read_chunk, chunks, workers, ahead=4 * workers):
        yield from chunk


def _chunks(items, limits: Limits):
    import itertools
    while True:
        chunk = list(itertools.islice(items, _CHUNK))
        if not chunk:
            return
        yield chunk, limits


def _read_chunk(job) -> list:
    import gc
    gc.disable()  # a short-lived worker: see collector_paused
    items, limits = job
    return [(item, _read_source(item[0], item[1], limits)) for item in items]
