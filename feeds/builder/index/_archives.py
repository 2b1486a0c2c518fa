"""Archive rows: every feed's archived items in order, and its archive documents as last published."""
from __future__ import annotations

import sqlite3
from typing import Iterable

from ._articles import COLUMNS

# (published, id, source, digest) of a feed's due items in feed order: what cuts and fingerprints its archive.
_ORDER = ("SELECT m.published, m.id, m.source, a.digest FROM memberships m JOIN articles a ON a.source = m.source "
          "WHERE m.feed = ? AND m.published <= ? ORDER BY m.published DESC, m.id ASC")
# The article rows of one archive document: from its newest item to its oldest, in feed order.
_RUN = (f"SELECT {', '.join('a.' + c.strip() for c in COLUMNS.split(','))} FROM memberships m "
        "JOIN articles a ON a.source = m.source WHERE m.feed = ? AND m.published <= ? "
        "AND m.published BETWEEN ? AND ? "
        "AND (m.published < ? OR m.id >= ?) AND (m.published > ? OR m.id <= ?) "
        "ORDER BY m.published DESC, m.id ASC")
FIELDS = "feed, key, newest_published, newest_id, oldest_published, oldest_id, items, older, newer, version"


def in_order(db: sqlite3.Connection, feed: str, now: int):
    return db.execute(_ORDER, (feed, now))


def between(db: sqlite3.Connection, feed: str, now: int, newest: tuple[int, str] | None,
            oldest: tuple[int, str] | None):
    """(published, id, source, digest) of the feed's due items from `newest` to `oldest` (None: unbounded)."""
    sql, args = _ORDER.replace(" ORDER BY", " AND m.published BETWEEN ? AND ? AND (m.published < ? OR m.id >= ?) "
                               "AND (m.published > ? OR m.id <= ?) ORDER BY"), [feed, now]
    top, top_id = newest if newest is not None else (now, "")
    bottom, bottom_id = oldest if oldest is not None else (-2 ** 62, "\U0010ffff")
    return db.execute(sql, (*args, bottom, top, top, top_id, bottom, bottom_id))


def run_rows(db: sqlite3.Connection, feed: str, now: int, newest: tuple[int, str], oldest: tuple[int, str]) -> list:
    (newest_at, newest_id), (oldest_at, oldest_id) = newest, oldest
    return db.execute(_RUN, (feed, now, oldest_at, newest_at, newest_at, newest_id, oldest_at, oldest_id)).fetchall()


def of_feed(db: sqlite3.Connection, feed: str) -> list[tuple]:
    return db.execute(f"SELECT {FIELDS} FROM archives WHERE feed = ?", (feed,)).fetchall()


def everything(db: sqlite3.Connection) -> list[tuple]:
    """(feed, key, version) of every archive document."""
    return db.execute("SELECT feed, key, version FROM archives").fetchall()


def dates(db: sqlite3.Connection) -> dict[str, int]:
    """The path (without extension) of every archive document -> the date of its newest item."""
    return {f"{feed}/archive/{key}": newest for feed, key, newest in
            db.execute("SELECT feed, key, newest_published FROM archives")}


def get(db: sqlite3.Connection, feed: str, key: str) -> tuple | None:
    return db.execute(f"SELECT {FIELDS} FROM archives WHERE feed = ? AND key = ?", (feed, key)).fetchone()


def newest(db: sqlite3.Connection, feed: str) -> str:
    """The key of the feed's newest archive document (the one the subscription document links to); "": none."""
    row = db.execute("SELECT key FROM archives WHERE feed = ? AND newer = ''", (feed,)).fetchone()
    return row[0] if row else ""


def replace(db: sqlite3.Connection, feeds: dict[str, Iterable[tuple]]) -> None:
    """Each feed's archive rows become these (none: the feed has no archive, or is gone)."""
    for feed, rows in feeds.items():
        db.execute("DELETE FROM archives WHERE feed = ?", (feed,))
        db.executemany(f"INSERT INTO archives ({FIELDS}) VALUES ({', '.join('?' * 10)})", rows)


def change(db: sqlite3.Connection, feeds: dict[str, tuple[Iterable[tuple], Iterable[str]]]) -> None:
    """Each feed's archive rows: (these new or changed, the keys of these gone)."""
    for feed, (rows, gone) in feeds.items():
        db.executemany("DELETE FROM archives WHERE feed = ? AND key = ?", [(feed, key) for key in gone])
        db.executemany(f"INSERT OR REPLACE INTO archives ({FIELDS}) VALUES ({', '.join('?' * 10)})", rows)
