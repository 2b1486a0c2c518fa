"""A feed's archive documents as the builder keeps them: cut by the collect
stage (feeds.archives), fingerprinted, and their rows kept in the index so
that a build that does not touch a feed knows its archive without reading it."""
from __future__ import annotations

import hashlib
from dataclasses import replace

from ..archives import partition
from ..records import Archive, Feed, Site
from ..render import feed_title
from .index import Index

ARCHIVE_FOLDER = "/archive/"  # "<feed path>/archive/<key>": an archive document's path


def with_archive(index: Index, site: Site, feed: Feed, now: int) -> tuple[Feed, list[tuple]]:
    """The feed linked to its newest archive document, and the index rows
    (_archives.FIELDS) of all its archive documents, newest first."""
    items = index.archived(feed.path, now, site.items_per_feed)
    pages = partition([(published, item_id) for published, item_id, _ in items], site.items_per_archive)
    title = feed_title(feed, site).encode("utf-8", "surrogatepass")
    rows = []
    for number, page in enumerate(pages):
        archive = Archive(page.key, pages[number + 1].key if number + 1 < len(pages) else "",
                          pages[number - 1].key if number else "")
        # Everything an archive document shows: its feed's title, its place in the chain, its items.
        digest = hashlib.blake2b(title, digest_size=16)
        digest.update(repr(archive).encode("utf-8", "surrogatepass"))
        for _, _, item_digest in items[page.start:page.stop]:
            digest.update(item_digest.encode("ascii"))
        (newest_at, newest_id, _), (oldest_at, oldest_id, _) = items[page.start], items[page.stop - 1]
        rows.append((feed.path, page.key, newest_at, newest_id, oldest_at, oldest_id, page.stop - page.start,
                     archive.older, archive.newer, digest.hexdigest()))
    return replace(feed, archive=Archive("", pages[0].key if pages else "", "")), rows


def linked(index: Index, site: Site, feed: Feed | None) -> Feed | None:
    """A feed read back from the index, linked to its newest archive document as last published."""
    if feed is None or not site.archives:
        return feed
    return replace(feed, archive=Archive("", index.newest_archive(feed.path), ""))


def split_archive_path(path: str) -> tuple[str, str] | None:
    """(feed path, key) of an archive document's path (without extension); None for any other."""
    feed, found, key = path.rpartition(ARCHIVE_FOLDER)
    return (feed, key) if found else None


def archive_feed(index: Index, feed: Feed, key: str, now: int) -> Feed | None:
    """One archive document of the feed, with its items; None if it has none."""
    row = index.archive(feed.path, key)
    if row is None:
        return None
    _, _, newest_at, newest_id, oldest_at, oldest_id, _, older, newer, _ = row
    articles = index.archive_articles(feed.path, now, (newest_at, newest_id), (oldest_at, oldest_id))
    return replace(feed, articles=articles, total=feed.size, archive=Archive(key, older, newer))
