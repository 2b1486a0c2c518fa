"""Feed rows: which articles each feed holds, in order, and the feeds as last published."""
from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Iterable

from ._articles import COLUMNS

_ITEMS = (f"SELECT {', '.join('a.' + c.strip() for c in COLUMNS.split(','))} FROM memberships m "
          "JOIN articles a ON a.source = m.source WHERE m.feed = ? AND m.published <= ? "
          "ORDER BY m.published DESC, m.id ASC LIMIT ?")


def add(db: sqlite3.Connection, rows: Iterable[tuple[str, int, str, str, str]]) -> None:
    """rows: (feed, published, id, source, name)."""
    db.executemany("INSERT OR REPLACE INTO memberships VALUES (?, ?, ?, ?, ?)", rows)


def remove(db: sqlite3.Connection, rows: Iterable[tuple[str, int, str, str]]) -> None:
    """rows: (feed, published, id, source)."""
    db.executemany("DELETE FROM memberships WHERE feed = ? AND published = ? AND id = ? AND source = ?", rows)


def count_names(db: sqlite3.Connection, deltas: Counter) -> None:
    """Add (feed, name) -> change to name_counts."""
    db.executemany("INSERT INTO name_counts VALUES (?, ?, ?) ON CONFLICT (feed, name) "
                   "DO UPDATE SET articles = articles + excluded.articles",
                   ((feed, name, change) for (feed, name), change in deltas.items() if change))
    db.execute("DELETE FROM name_counts WHERE articles <= 0")


def names(db: sqlite3.Connection, feed: str, now: int) -> Counter:
    """Spelling -> articles of the feed that are due (published at or before now)."""
    counts = Counter(dict(db.execute("SELECT name, articles FROM name_counts WHERE feed = ?", (feed,))))
    # Scheduled articles are few and sit at the newest end of the key: cheap to subtract.
    for name, scheduled in db.execute("SELECT name, COUNT(*) FROM memberships WHERE feed = ? AND published > ? "
                                      "GROUP BY name", (feed, now)):
        counts[name] -= scheduled
    return +counts


def newest_rows(db: sqlite3.Connection, feed: str, now: int, limit: int) -> list[tuple]:
    """Article rows of the feed's newest due items, newest first (ties by id)."""
    return db.execute(_ITEMS, (feed, now, limit)).fetchall()



def next_due(db: sqlite3.Connection, now: int) -> int | None:
    row = db.execute("SELECT MIN(published) FROM memberships WHERE feed = 'feed' AND published > ?",
                     (now,)).fetchone()
    return row[0]


def became_due(db: sqlite3.Connection, since: int, now: int) -> list[str]:
    """Sources of the articles whose date fell in (since, now]."""
    return [row[0] for row in db.execute(
        "SELECT source FROM memberships WHERE feed = 'feed' AND published > ? AND published <= ?", (since, now))]


def all_paths(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT DISTINCT feed FROM name_counts")]


def published(db: sqlite3.Connection) -> list[tuple]:
    """(path, kind, key, name, total, newest, updated, version) of every feed as last published."""
    return db.execute("SELECT path, kind, key, name, total, newest, updated, version FROM feeds").fetchall()


def save(db: sqlite3.Connection, rows: Iterable[tuple], gone: Iterable[str]) -> None:
    db.executemany("INSERT OR REPLACE INTO feeds VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("DELETE FROM feeds WHERE path = ?", ((path,) for path in gone))
