"""File rows: the stamp of every article file, and the problem of each bad one."""
from __future__ import annotations

import sqlite3
import zlib
from collections import Counter
from typing import Iterable

from ...records import Problem

BUCKETS = 4096
LISTING_PROBLEM = -1  # the stamp of a folder that cannot be listed, a link loop, ...
# The stamp of a name the walk gives no file under, the file being read under
# another (a link, a hard link): kept so that a watcher knows an event there
# matters, and never counted or reported as a file or a problem.
SECOND_NAME_STAMP = -3
WALK_STAMPS = (LISTING_PROBLEM, SECOND_NAME_STAMP)  # what the walk says of a name, in its message


def contribution(source: str, stamp: int, message: str | None = None) -> tuple[int, int]:
    """(bucket, what the file adds to its bucket's sum): the same in every process.
    What the walk says of a name counts with its message, which can change alone
    ("already read as a/", then as b/ once the link is renamed)."""
    crc = zlib.crc32(source.encode("utf-8", "surrogateescape"))
    if stamp in WALK_STAMPS:
        return crc & (BUCKETS - 1), hash((crc, stamp, message_crc(message or "")))
    return crc & (BUCKETS - 1), hash((crc, stamp))


def message_crc(message: str) -> int:
    return zlib.crc32(message.encode("utf-8", "surrogateescape"))


def _signed(value: int) -> int:
    return ((value + 2 ** 63) % 2 ** 64) - 2 ** 63


def bucket_sums(db: sqlite3.Connection) -> dict[int, int]:
    return dict(db.execute("SELECT bucket, total FROM bucket_sums"))


def unsettled_buckets(db: sqlite3.Connection) -> set[int]:
    """Buckets holding a file changed too recently to trust its stamp: always looked at."""
    return {row[0] for row in db.execute("SELECT DISTINCT bucket FROM files WHERE stamp = 0")}


def listing_problems(db: sqlite3.Connection, stamp: int) -> list[tuple[str, str]]:
    """(source, message) of every name not read (a loop, a folder read under another name): few."""
    return db.execute("SELECT source, problem FROM files WHERE problem IS NOT NULL AND stamp = ?", (stamp,)).fetchall()


def listing_problem_buckets(db: sqlite3.Connection, stamp: int) -> set[int]:
    """Buckets holding a name not read (a loop, a folder read under another name): few, through
    the index of files with problems."""
    # No DISTINCT: with it SQLite walks every file in bucket order (1.5 s at a million files).
    return {row[0] for row in db.execute(
        "SELECT bucket FROM files WHERE problem IS NOT NULL AND stamp = ?", (stamp,))}


def stamps_in(db: sqlite3.Connection, buckets: Iterable[int]) -> dict[str, int]:
    found: dict[str, int] = {}
    buckets = list(buckets)
    for start in range(0, len(buckets), 500):
        part = buckets[start:start + 500]
        found.update(db.execute(f"SELECT source, stamp FROM files WHERE bucket IN ({', '.join('?' * len(part))})",
                                part))
    return found


def fill_buckets(db: sqlite3.Connection) -> None:
    """After the migration to version 2: buckets and sums of the files already indexed."""
    rows = db.execute("SELECT source, stamp, problem FROM files WHERE bucket = -1").fetchall()
    if not rows:
        return
    sums: Counter = Counter(bucket_sums(db))
    updates = []
    for source, value, problem in rows:
        bucket, part = contribution(source, value, problem)
        sums[bucket] += part
        updates.append((bucket, source))
    db.executemany("UPDATE files SET bucket = ? WHERE source = ?", updates)
    _save_sums(db, sums)


def sum_again(db: sqlite3.Connection) -> None:
    """Every bucket's sum computed afresh from its files (after the migration to
    version 6, which counts what the walk says of a name with its message)."""
    sums: Counter = Counter()
    for source, value, problem in db.execute("SELECT source, stamp, problem FROM files"):
        bucket, part = contribution(source, value, problem)
        sums[bucket] += part
    db.execute("DELETE FROM bucket_sums")
    _save_sums(db, sums)


def _save_sums(db: sqlite3.Connection, sums: dict[int, int]) -> None:
    db.executemany("INSERT OR REPLACE INTO bucket_sums VALUES (?, ?)",
                   ((bucket, _signed(total)) for bucket, total in sums.items()))


def stamps(db: sqlite3.Connection, under: str = "") -> dict[str, int]:
    """source -> stamp, for every file (or every file below the folder `under`)."""
    if not under:
        return dict(db.execute("SELECT source, stamp FROM files"))
    prefix = under.rstrip("/") + "/"
    # A range on the primary key: "/" + 1 is "0".
    return dict(db.execute("SELECT source, stamp FROM files WHERE source >= ? AND source < ?",
                           (prefix, prefix[:-1] + "0")))


def stamp(db: sqlite3.Connection, source: str) -> int | None:
    row = db.execute("SELECT stamp FROM files WHERE source = ?", (source,)).fetchone()
    return row[0] if row else None


def replace(db: sqlite3.Connection, rows: list[tuple[str, int, str | None]], removed: list[str],
            fresh: bool = False) -> None:
    """Store (source, stamp, problem) rows and forget removed sources, keeping
    the bucket sums right. `fresh`: none of the rows' sources is stored yet."""
    changes: Counter = Counter()
    old = {} if fresh else _stamps_and_problems(db, [row[0] for row in rows] + removed)
    for source, (value, problem) in old.items():
        bucket, part = contribution(source, value, problem)
        changes[bucket] -= part
    stored = []
    for source, value, problem in rows:
        bucket, part = contribution(source, value, problem)
        changes[bucket] += part
        stored.append((source, value, problem, bucket))
    db.executemany("DELETE FROM files WHERE source = ?", ((source,) for source in removed))
    db.executemany("INSERT OR REPLACE INTO files (source, stamp, problem, bucket) VALUES (?, ?, ?, ?)", stored)
    if changes:
        sums = Counter(dict(db.execute(
            f"SELECT bucket, total FROM bucket_sums WHERE bucket IN ({', '.join('?' * len(changes))})",
            list(changes)))) if len(changes) <= 900 else Counter(bucket_sums(db))
        for bucket, change in changes.items():
            sums[bucket] += change
        _save_sums(db, {bucket: sums[bucket] for bucket in changes})


def _stamps_and_problems(db: sqlite3.Connection, sources: list[str]) -> dict[str, tuple[int, str | None]]:
    found: dict[str, tuple[int, str | None]] = {}
    for start in range(0, len(sources), 500):
        part = sources[start:start + 500]
        found.update((source, (value, problem)) for source, value, problem in db.execute(
            f"SELECT source, stamp, problem FROM files WHERE source IN ({', '.join('?' * len(part))})", part))
    return found


def problems(db: sqlite3.Connection) -> list[Problem]:
    return [Problem(source, message) for source, message in
            db.execute("SELECT source, problem FROM files "
                       "WHERE problem IS NOT NULL AND stamp != ? ORDER BY source", (SECOND_NAME_STAMP,))]


def is_empty(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None


def holds_at_least(db: sqlite3.Connection, files: int) -> bool:
    return db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM files LIMIT ?)", (files,)).fetchone()[0] >= files


def counts(db: sqlite3.Connection) -> tuple[int, int]:
    """(files, files with a problem)."""
    files = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    second_names = db.execute("SELECT COUNT(*) FROM files WHERE problem IS NOT NULL AND stamp = ?",
                              (SECOND_NAME_STAMP,)).fetchone()[0]
    return files - second_names, problem_count(db)


def problem_count(db: sqlite3.Connection) -> int:
    """Files with a problem: read from the partial index of those, not the whole table."""
    return db.execute("SELECT COUNT(*) FROM files WHERE problem IS NOT NULL AND stamp != ?",
                      (SECOND_NAME_STAMP,)).fetchone()[0]
