"""Meta rows: the index's own state (its identity, the last publication, a cold build under way)."""
from __future__ import annotations

import sqlite3


def get(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def put(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def delete(db: sqlite3.Connection, key: str) -> None:
    db.execute("DELETE FROM meta WHERE key = ?", (key,))


def data_version(db: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (SQLite's PRAGMA data_version)."""
    return db.execute("PRAGMA data_version").fetchone()[0]
