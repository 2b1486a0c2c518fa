"""A feed's archive documents as the builder keeps them: cut by the collect
stage (feeds.archives), fingerprinted, and their rows kept in the index so
that a build that does not touch a feed knows its archive without reading it.

When the index can say which items of a feed changed (their dates), only the
runs of items around them are cut again (a run: from one mark to the next,
see feeds.archives), and the run at the newest end, where the items that
leave the subscription document arrive; the rest of the archive keeps its
rows, and its documents are fingerprinted again only when their links change.
"""
from __future__ import annotations

import hashlib
import re
from operator import itemgetter
from dataclasses import replace

from ..archives import FIRST_RUN, partition
from ..records import Archive, Feed, Site
from ..render import feed_title
from .index import Index

ARCHIVE_FOLDER = "/archive/"  # "<feed path>/archive/<key>": an archive document's path
_RUN_START = re.compile(rf"(?:{FIRST_RUN}|\d{{4}}-\d\d-\d\dt\d{{6}}z-[0-9a-f]{{8}})\Z")  # not a run's "-2", "-3", ...
# An index row: feed, key, newest_published, newest_id, oldest_published, oldest_id, items, older, newer, version
KEY, NEWEST_AT, NEWEST_ID, OLDEST_AT, OLDEST_ID, OLDER, NEWER = 1, 2, 3, 4, 5, 7, 8


def with_archive(index: Index, site: Site, feed: Feed, now: int, touched: set[int] | None = None
                 ) -> tuple[Feed, list[tuple], list[tuple] | None]:
    """The feed linked to its newest archive document, the index rows
    (_archives.FIELDS) of all its archive documents, and the rows they were
    before (None: not read). `touched`: the dates of the feed's items that
    changed since its rows were saved (None: unknown, so the whole archive
    is cut again)."""
    stored = index.archives_of(feed.path) if touched is not None else None
    if stored:
        rows = _recut(index, site, feed, now, touched, stored)
    else:
        items = index.archived(feed.path, now, site.items_per_feed)
        pages = partition([(published, item_id) for published, item_id, _ in items], site.items_per_archive)
        rows = _rows(feed, site, [(page.key, items[page.start:page.stop]) for page in pages])
    newest = next((row[KEY] for row in rows if row[NEWER] == ""), "")
    return replace(feed, archive=Archive("", newest, "")), rows, stored


def changes(before: list[tuple], rows: list[tuple]) -> tuple[list[tuple], list[str]]:
    """(the rows that are new or changed, the keys of the rows gone): at a
    million articles the main feed has 10,000 archive documents, and a new
    article changes one or two."""
    old = set(before)
    keys = {row[KEY] for row in rows}
    return [row for row in rows if row not in old], [row[KEY] for row in before if row[KEY] not in keys]


def _rows(feed: Feed, site: Site, pages: list[tuple[str, list]], kept: dict[str, tuple] | None = None) -> list[tuple]:
    """Index rows of the feed's archive documents, given newest first as
    (key, its items newest first, or None for a kept row whose items are in `kept`)."""
    title = feed_title(feed, site).encode("utf-8", "surrogatepass")
    rows = []
    for number, (key, items) in enumerate(pages):
        archive = Archive(key, pages[number + 1][0] if number + 1 < len(pages) else "",
                          pages[number - 1][0] if number else "")
        if items is None:
            row = kept[key]
            if (row[OLDER], row[NEWER]) == (archive.older, archive.newer):
                rows.append(row)
                continue
            items = kept[key + "\0items"]
        # Everything an archive document shows: its feed's title, its place in the chain, its items.
        digest = hashlib.blake2b(title, digest_size=16)
        digest.update(repr(archive).encode("utf-8", "surrogatepass"))
        for _, _, item_digest in items:
            digest.update(item_digest.encode("ascii"))
        (newest_at, newest_id, _), (oldest_at, oldest_id, _) = items[0], items[-1]
        rows.append((feed.path, key, newest_at, newest_id, oldest_at, oldest_id, len(items),
                     archive.older, archive.newer, digest.hexdigest()))
    return rows


def _recut(index: Index, site: Site, feed: Feed, now: int, touched: set[int], stored: list[tuple]) -> list[tuple]:
    if feed.size <= site.items_per_feed:
        return []
    last = feed.articles[site.items_per_feed - 1]
    seam = (int(last.published.timestamp()), last.id)  # the oldest item of the subscription document

    def archived(item) -> bool:  # after the seam, in feed order (newest first, ties by id)
        return item[0] < seam[0] or (item[0] == seam[0] and item[1] > seam[1])

    # Oldest first; within one second, feed order (newest first) puts the lower id first. Two sorts,
    # the second stable: a key of Python objects compared in Python cost a tenth of a second at 1M.
    pages = sorted(stored, key=itemgetter(NEWEST_ID), reverse=True)
    pages.sort(key=itemgetter(NEWEST_AT))
    starts = [n for n, row in enumerate(pages) if _RUN_START.match(row[KEY])]
    # A run that ends a dirty span begins at a mark: never the run "first" of the items older than
    # every mark, which an item dated older than all of them joins (or, a mark, takes over).
    marks = [n for n in starts if pages[n][KEY] != FIRST_RUN]
    # Each changed date dirties its run; the newest end is dirty from the old and the new seam on.
    newest_end = min(seam[0], pages[-1][NEWEST_AT])
    spans: list[list[int]] = []
    for when in sorted({*touched, newest_end}):
        begin = max((n for n in starts if pages[n][OLDEST_AT] < when), default=0)
        end = min((n for n in marks if pages[n][OLDEST_AT] > when), default=len(pages))
        if when >= newest_end:
            end = len(pages)
        if spans and begin <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([begin, end])
    result: list[tuple[str, list | None]] = []  # oldest first
    kept: dict[str, tuple] = {}
    done = 0
    for begin, end in spans:
        for row in pages[done:begin]:
            result.append((row[KEY], None))
            kept[row[KEY]] = row
        oldest = (pages[begin][OLDEST_AT], pages[begin][OLDEST_ID]) if begin > 0 else None
        newest = (pages[end][OLDEST_AT], pages[end][OLDEST_ID]) if end < len(pages) else None
        items = index.archived_between(feed.path, now, newest, oldest)
        if newest is not None and items and (items[0][0], items[0][1]) == newest:
            items = items[1:]  # the mark that begins the next run, kept
        items = [item for item in items if archived(item)]
        cut = partition([(published, item_id) for published, item_id, _ in items], site.items_per_archive)
        result.extend((page.key, items[page.start:page.stop]) for page in reversed(cut))
        done = end
    for row in pages[done:]:
        result.append((row[KEY], None))
        kept[row[KEY]] = row
    result.reverse()  # newest first
    for number, (key, items) in enumerate(result):
        if items is None:
            row = kept[key]
            older = result[number + 1][0] if number + 1 < len(result) else ""
            newer = result[number - 1][0] if number else ""
            if (row[OLDER], row[NEWER]) != (older, newer):
                kept[key + "\0items"] = index.archived_between(feed.path, now, (row[NEWEST_AT], row[NEWEST_ID]),
                                                               (row[OLDEST_AT], row[OLDEST_ID]))
    return _rows(feed, site, result, kept)


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
