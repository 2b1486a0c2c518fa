"""The article index's schema, and how an older index is brought up to date.

The index is a cache of the content folder: everything in it can be rebuilt
by reading the articles again. So an index written by other code or other
parsing settings (its `identity`) is simply emptied, and migrations only
exist to keep a large index across releases that do not change its meaning.
"""
from __future__ import annotations

import sqlite3

# Each entry brings an index from version (position) to version (position + 1).
MIGRATIONS: list[str] = [
    # 0 -> 1
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE files (
        -- every article file found under the content folder, publishable or not
        source TEXT PRIMARY KEY,    -- path relative to the content folder
        -- hash of (size, mtime_ns, ctime_ns): a file with the same stamp is not
        -- read again; 0 for a file changed too recently to trust its stamp
        stamp INTEGER NOT NULL,
        -- why it is not published as it is; NULL for an article
        problem TEXT
    ) WITHOUT ROWID;

    CREATE TABLE articles (
        source TEXT PRIMARY KEY,    -- as in files.source

        -- what selects and orders the article in its feeds
        link TEXT NOT NULL,         -- one copy per link is published: the newest
        id TEXT NOT NULL,           -- the item id (from the link); breaks ties in order
        published INTEGER NOT NULL, -- Unix seconds; a future date is held back until then
        updated INTEGER NOT NULL,   -- Unix seconds, never before published
        draft INTEGER NOT NULL,     -- 1: never published, belongs to no feed

        -- what its feed items show (records.Article)
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        provider_key TEXT NOT NULL,
        provider_name TEXT NOT NULL,
        topics TEXT NOT NULL,       -- "slug\\x1fname" pairs joined by \\x1e
        image_url TEXT,
        image_width INTEGER,
        image_height INTEGER,
        image_title TEXT,
        digest TEXT NOT NULL        -- changes whenever anything an item shows changes
    ) WITHOUT ROWID;
    CREATE INDEX articles_by_link ON articles (link);

    CREATE TABLE duplicate_links (
        -- links that more than one non-draft file uses (only the newest copy is published)
        link TEXT PRIMARY KEY
    ) WITHOUT ROWID;

    CREATE TABLE memberships (
        -- one row per feed a non-draft article belongs to, in feed order
        feed TEXT NOT NULL,         -- the feed's path: "feed", "topics/ai", "providers/x.com"
        published INTEGER NOT NULL,
        id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,         -- how this article spells the topic or provider
        PRIMARY KEY (feed, published, id, source)
    ) WITHOUT ROWID;

    CREATE TABLE name_counts (
        -- memberships per feed and spelling, due or not: the feed's name is the
        -- spelling most of its published articles use
        feed TEXT NOT NULL,
        name TEXT NOT NULL,
        articles INTEGER NOT NULL,
        PRIMARY KEY (feed, name)
    ) WITHOUT ROWID;

    CREATE TABLE feeds (
        -- every feed as last published: what the index page and the OPML list show
        path TEXT PRIMARY KEY,
        kind TEXT NOT NULL,         -- "all", "topic" or "provider"
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        total INTEGER NOT NULL,     -- published articles
        newest INTEGER,             -- Unix seconds of the newest item
        updated INTEGER,            -- the newest `updated` among the items shown
        version TEXT NOT NULL       -- fingerprint of everything its documents show
    ) WITHOUT ROWID;
    """,
    # 1 -> 2: the folder's stamps summed per bucket of file names, so that a
    # scan compares a few thousand sums instead of loading every file's stamp
    """
    ALTER TABLE files ADD COLUMN bucket INTEGER NOT NULL DEFAULT -1;  -- see _files.contribution (-1: not yet known)
    CREATE INDEX files_by_bucket ON files (bucket);

    CREATE TABLE bucket_sums (
        -- per bucket, the sum (mod 2**64) of _files.contribution(source, stamp) of its files
        bucket INTEGER PRIMARY KEY,
        total INTEGER NOT NULL
    );
    """,
    # 2 -> 3: files changed too recently to trust their stamp, and files with problems, found without a full scan
    """
    CREATE INDEX files_unsettled ON files (bucket) WHERE stamp = 0;
    CREATE INDEX files_with_problems ON files (source) WHERE problem IS NOT NULL;
    """,
    # 3 -> 4: what richer items show (read again: parsing settings are part of the index's identity)
    """
    ALTER TABLE articles ADD COLUMN provider_image TEXT;           -- the provider's logo, its feed's image
    ALTER TABLE articles ADD COLUMN content TEXT NOT NULL DEFAULT '';  -- the body as sanitised HTML
    """,
    # 4 -> 5: every feed's older items in archive documents (RFC 5005; see feeds/archives.py)
    """
    CREATE TABLE archives (
        -- every archive document of every feed, as last published
        feed TEXT NOT NULL,             -- the feed's path, as in memberships.feed
        key TEXT NOT NULL,              -- the document's name: "<feed>/archive/<key>.<format>"

        -- which items it shows: a run of the feed's items, in feed order, from ... to ...
        newest_published INTEGER NOT NULL,
        newest_id TEXT NOT NULL,
        oldest_published INTEGER NOT NULL,
        oldest_id TEXT NOT NULL,
        items INTEGER NOT NULL,

        -- its neighbours in the chain ("": none older; "": the subscription document is newer)
        older TEXT NOT NULL,
        newer TEXT NOT NULL,
        version TEXT NOT NULL,          -- fingerprint of everything it shows
        PRIMARY KEY (feed, key)
    ) WITHOUT ROWID;
    """,
    # 5 -> 6: what the walk says of a name counts in its bucket's sum with its message
    # (_files.contribution): every sum is computed again once (see Index.__init__)
    """
    INSERT OR REPLACE INTO meta VALUES ('sums_outdated', '1');
    """,
]
VERSION = len(MIGRATIONS)


def connect(path: str, identity: str, temporary: bool = False) -> sqlite3.Connection:
    """Open (creating or migrating) the index at path. A temporary index
    (path "") keeps no journal and lives as long as this connection."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    if temporary:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
    else:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a lost last transaction costs a re-read, never corruption
    db.execute("PRAGMA cache_size=-65536")  # 64 MB
    db.execute("PRAGMA temp_store=MEMORY")
    with _opening(path, temporary):
        _bring_up_to_date(db, identity)
    return db


class _opening:
    """Processes opening the same index one at a time, so that two never
    migrate or empty it at once (a file lock beside it)."""

    def __init__(self, path: str, temporary: bool):
        self.lock = None if temporary else f"{path}.lock"

    def __enter__(self):
        if self.lock is not None:
            import fcntl
            import os
            self.fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_):
        if self.lock is not None:
            import os
            os.close(self.fd)


def _bring_up_to_date(db: sqlite3.Connection, identity: str) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        _reset(db)
        version = 0
    if version < VERSION:
        db.executescript("BEGIN IMMEDIATE;" + ";".join(MIGRATIONS[version:])
                         + f";PRAGMA user_version = {VERSION}; COMMIT;")
    row = db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
    if row is None or row[0] != identity:
        with _transaction(db):
            restore_indexes(db)  # their definitions are in meta, about to be emptied
            for table in ("files", "articles", "duplicate_links", "memberships", "name_counts", "feeds", "meta",
                          "bucket_sums", "archives"):
                db.execute(f"DELETE FROM {table}")
            db.execute("INSERT INTO meta VALUES ('identity', ?)", (identity,))


def _reset(db: sqlite3.Connection) -> None:
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        db.execute(f"DROP TABLE IF EXISTS {table}")
    db.execute("PRAGMA user_version = 0")


# A cold build fills the tables first and sorts their secondary indexes
# once at the end: a tenth less work than keeping them up to date row by row.
_DEFERRED = "deferred_indexes"  # meta key: the definitions of the indexes dropped meanwhile


def defer_indexes(db: sqlite3.Connection) -> None:
    """Within a transaction, before a bulk load into empty tables: drop the secondary indexes."""
    if db.execute("SELECT 1 FROM meta WHERE key = ?", (_DEFERRED,)).fetchone():
        return
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    import json
    db.execute("INSERT INTO meta VALUES (?, ?)", (_DEFERRED, json.dumps([sql for _, sql in rows])))
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')


def restore_indexes(db: sqlite3.Connection) -> None:
    """Within a transaction, after the bulk load (or at the next opening if
    it was cut short): build the indexes defer_indexes dropped."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_DEFERRED,)).fetchone()
    if row is None:
        return
    import json
    for sql in json.loads(row[0]):
        db.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    db.execute("DELETE FROM meta WHERE key = ?", (_DEFERRED,))


class _transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, error, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


transaction = _transaction
