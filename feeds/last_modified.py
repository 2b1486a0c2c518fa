"""Last-Modified that If-Modified-Since can trust, the same in every worker.

A feed's Last-Modified is its newest item's date. But an edit that keeps the
dates, or removing the newest article, changes the feed without a newer
item; a client polling with If-Modified-Since alone would then be told its
stale copy is current. So the ledger remembers, per document, the version
and Last-Modified last handed out: a new version whose newest item is not
newer gets the current time instead, always a later second than any date
handed out before for that document. Nothing is ever later than now.

The ledger is a small SQLite file beside the parse cache, so all workers of
a host and restarts agree; without a writable folder it lives in memory.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("feeds")


class LastModifiedLedger:
    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._memory: dict[str, tuple[str, int | None, int]] = {}

    def resolve(self, document: str, version: str, newest: datetime,
                now: datetime | None = None) -> datetime | None:
        """The Last-Modified of this version of the document, or None.

        Every date handed out for a document is later than the one before
        (its `floor`), and none is later than now. A version that replaces one
        dated this very second therefore stays undated (None: serve it
        without Last-Modified, so clients fall back to the ETag or a full
        GET) and is dated on its first request in a later second. Workers
        that briefly disagree on the current version never push dates ahead
        of the clock.
        """
        now_s = int((now or datetime.now(timezone.utc)).timestamp())
        newest_s = min(int(newest.timestamp()), now_s)
        with self._lock:
            row = self._get(document)
            if row is not None and row[0] == version and row[1] is not None:
                return _at(min(row[1], now_s))
            floor = row[2] if row is not None else None
            if floor is None or newest_s > floor:
                seconds = newest_s
            elif now_s > floor:
                seconds = now_s
            else:
                seconds = None  # the floor was handed out this second
            if row is None or row[0] != version or seconds is not None:
                seconds = self._put(document, version, seconds, floor if seconds is None else seconds)
        return None if seconds is None else _at(min(seconds, now_s))

    def _get(self, document: str) -> tuple[str, int | None, int] | None:
        """(version, its date or None, the latest date handed out)."""
        db = self._db()
        if db is None:
            return self._memory.get(document)
        try:
            return db.execute("SELECT version, seconds, floor FROM ledger WHERE document = ?", (document,)).fetchone()
        except sqlite3.Error as error:
            return self._give_up(error) or self._memory.get(document)

    def _put(self, document: str, version: str, seconds: int | None, floor: int) -> int | None:
        """Store a new version, or date an undated one, unless another worker
        did so first; returns the date stored for this version."""
        db = self._db()
        if db is not None:
            try:
                with db:
                    db.execute("INSERT INTO ledger VALUES (?, ?, ?, ?) ON CONFLICT(document) DO UPDATE SET "
                               "version = excluded.version, seconds = excluded.seconds, floor = excluded.floor "
                               "WHERE excluded.floor >= ledger.floor AND (ledger.version != excluded.version "
                               "OR (ledger.seconds IS NULL AND excluded.seconds IS NOT NULL))",
                               (document, version, seconds, floor))
                row = db.execute("SELECT version, seconds FROM ledger WHERE document = ?", (document,)).fetchone()
                return row[1] if row and row[0] == version else seconds
            except sqlite3.Error as error:
                self._give_up(error)
        self._memory[document] = (version, seconds, floor)
        return seconds

    def _db(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._connection is None or self._pid != os.getpid():  # connections do not survive fork
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("CREATE TABLE IF NOT EXISTS ledger (document TEXT PRIMARY KEY, "
                                   "version TEXT NOT NULL, seconds INTEGER, floor INTEGER NOT NULL)")
                self._connection, self._pid = connection, os.getpid()
            except (OSError, sqlite3.Error) as error:
                self._give_up(error)
                return None
        return self._connection

    def _give_up(self, error: Exception) -> None:
        log.warning("Last-Modified ledger %s unavailable (%s); keeping it in memory", self.path, error)
        self.path = None
        self._connection = None


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
