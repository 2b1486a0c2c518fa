"""File rows: the stamp of every article file, and the problem of each bad one."""
from __future__ import annotations

import sqlite3
from typing import Iterable

from ...records import Problem


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


def put_many(db: sqlite3.Connection, rows: Iterable[tuple[str, int, str | None]]) -> None:
    db.executemany("INSERT OR REPLACE INTO files (source, stamp, problem) VALUES (?, ?, ?)", rows)


def delete(db: sqlite3.Connection, source: str) -> None:
    db.execute("DELETE FROM files WHERE source = ?", (source,))


def problems(db: sqlite3.Connection) -> list[Problem]:
    return [Problem(source, message) for source, message in
            db.execute("SELECT source, problem FROM files WHERE problem IS NOT NULL ORDER BY source")]


def counts(db: sqlite3.Connection) -> tuple[int, int]:
    """(files, files with a problem)."""
    return db.execute("SELECT COUNT(*), COUNT(problem) FROM files").fetchone()
