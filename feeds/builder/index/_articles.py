"""Article rows: records.Article in and out, and which copy of a link wins."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Iterable

from ...records import Article, Image, Topic

COLUMNS = ("source, link, id, published, updated, draft, title, summary, provider_key, provider_name, "
           "topics, image_url, image_width, image_height, image_title, digest, provider_image, content")
_INSERT = f"INSERT OR REPLACE INTO articles ({COLUMNS}) VALUES ({', '.join('?' * 18)})"
_SELECT = f"SELECT {COLUMNS} FROM articles"
_TOPIC, _TOPICS = "\x1f", "\x1e"  # text fields never hold control characters


def to_row(article: Article) -> tuple:
    image = article.image
    return (article.source, article.link, article.id, int(article.published.timestamp()),
            int(article.updated.timestamp()), int(article.draft), article.title, article.summary,
            article.provider_key, article.provider_name,
            _TOPICS.join(f"{t.slug}{_TOPIC}{t.name}" for t in article.topics),
            image.url if image else None, image.width if image else None,
            image.height if image else None, image.title if image else None, article.digest,
            article.provider_image, article.content)


_topics_cache: dict[str, tuple[Topic, ...]] = {}
_UTC = timezone.utc


def from_row(row: tuple) -> Article:
    (source, link, id_, published, updated, draft, title, summary, provider_key, provider_name,
     topics, image_url, image_width, image_height, image_title, digest, provider_image, content) = row
    parsed = _topics_cache.get(topics)
    if parsed is None:
        parsed = tuple(Topic(*pair.split(_TOPIC, 1)) for pair in topics.split(_TOPICS)) if topics else ()
        if len(_topics_cache) < 100_000:
            _topics_cache[topics] = parsed
    return Article(source, id_, link, title, summary, datetime.fromtimestamp(published, _UTC),
                   datetime.fromtimestamp(updated, _UTC), bool(draft), provider_key, provider_name,
                   parsed, Image(image_url, image_width, image_height, image_title) if image_url else None,
                   provider_image, content, digest)


def memberships(article: Article) -> list[tuple[str, str]]:
    """(feed path, spelling) of every feed the article belongs to; none for a draft."""
    if article.draft:
        return []
    return [("feed", ""), *((f"topics/{t.slug}", t.name) for t in article.topics),
            (f"providers/{article.provider_key}", article.provider_name)]


def get_many(db: sqlite3.Connection, sources: list[str]) -> dict[str, Article]:
    found: dict[str, Article] = {}
    for start in range(0, len(sources), 500):
        part = sources[start:start + 500]
        for row in db.execute(f"{_SELECT} WHERE source IN ({', '.join('?' * len(part))})", part):
            found[row[0]] = from_row(row)
    return found


def put_many(db: sqlite3.Connection, articles: Iterable[Article]) -> None:
    db.executemany(_INSERT, map(to_row, articles))


def delete(db: sqlite3.Connection, source: str) -> None:
    db.execute("DELETE FROM articles WHERE source = ?", (source,))


def copies(db: sqlite3.Connection, link: str) -> list[tuple[str, int, int, int]]:
    """(source, published, updated, draft) of every file with this link."""
    return db.execute("SELECT source, published, updated, draft FROM articles WHERE link = ?", (link,)).fetchall()


def recount_link(db: sqlite3.Connection, link: str) -> None:
    """Keep duplicate_links right for one link after its copies changed."""
    count = db.execute("SELECT COUNT(*) FROM articles WHERE link = ? AND draft = 0", (link,)).fetchone()[0]
    if count > 1:
        db.execute("INSERT OR IGNORE INTO duplicate_links VALUES (?)", (link,))
    else:
        db.execute("DELETE FROM duplicate_links WHERE link = ?", (link,))


def recount_all_links(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM duplicate_links")
    db.execute("INSERT INTO duplicate_links SELECT link FROM articles WHERE draft = 0 "
               "GROUP BY link HAVING COUNT(*) > 1")


def is_duplicate(db: sqlite3.Connection, link: str) -> bool:
    return db.execute("SELECT 1 FROM duplicate_links WHERE link = ?", (link,)).fetchone() is not None


def drafts(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COUNT(*) FROM articles WHERE draft = 1").fetchone()[0]


def duplicate_links(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT link FROM duplicate_links")]


def losers(db: sqlite3.Connection, link: str, now: int) -> list[str]:
    """The published-looking copies of a link that are not published: all but
    the newest (by published, then updated, then file name), as collect does."""
    rows = db.execute("SELECT source FROM articles WHERE link = ? AND draft = 0 AND published <= ? "
                      "ORDER BY published DESC, updated DESC, source DESC", (link, now)).fetchall()
    return [row[0] for row in rows[1:]]
