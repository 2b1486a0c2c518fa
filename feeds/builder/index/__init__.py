"""The article index: what the builder knows of every article file, in SQLite.

Per file, its stamp (so an unchanged file is not read again) or its problem;
per article, what orders it and what its feed items show; per feed, which
articles it holds in order, so that a feed's newest items, its size and its
name are a few index lookups, and a changed file touches only its feeds.
Only this package holds SQL; the builder speaks to it in records.
"""
from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Iterable

from ...collect import MAIN_FEED_PATH, most_used
from ...exceptions import ArticleIndexError
from ...records import Article, Feed, Problem
from . import _archives, _articles, _feeds, _files, _meta
from ._files import (BUCKETS as BUCKETS, LISTING_PROBLEM as LISTING_PROBLEM,  # re-exported
                     SECOND_NAME_STAMP as SECOND_NAME_STAMP, message_crc as message_crc)
from ._schema import connect, defer_indexes, restore_indexes, transaction

log = logging.getLogger("feeds")
TOUCHED_LIMIT = 200_000  # changed items remembered between builds; beyond, every affected archive is cut again


def feed_kind(path: str) -> tuple[str, str]:
    """("all" | "topic" | "provider", key) of a feed path."""
    if path == MAIN_FEED_PATH:
        return "all", ""
    folder, _, key = path.partition("/")
    return ("topic" if folder == "topics" else "provider"), key


class Index:
    def __init__(self, path: Path | None, identity: str):
        """The index at path; None: a temporary one, gone when this process ends."""
        self.path = path
        self._counts: tuple[int, tuple[int, int]] | None = None
        if path is None:
            self.db = _temporary(identity)
            self._shadow = None
            return
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self.db = connect(str(path), identity)
            except sqlite3.OperationalError:
                raise  # locked, busy, read-only: not a reason to discard anything
            except sqlite3.DatabaseError as error:
                # A cache of the content folder: when unreadable, it is rebuilt, never trusted.
                log.warning("article index %s is unreadable (%s): discarded, every file will be read again",
                            path, error)
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                self.db = connect(str(path), identity)
            with transaction(self.db):
                _files.fill_buckets(self.db)
                if _meta.get(self.db, "sums_outdated"):
                    _files.sum_again(self.db)
                    _meta.delete(self.db, "sums_outdated")
            if self.get_meta("links_uncounted"):  # a cold build was cut short
                self.finish_bulk()
        except (OSError, sqlite3.Error) as error:
            raise ArticleIndexError(f"{path}: cannot open the article index: {error}") from None
        self._shadow: tuple[int, set[str], dict[str, Counter]] | None = None
        self.forget_touched()

    def forget_touched(self) -> None:
        """Start counting afresh which items changed (see touched)."""
        # feed -> the dates (Unix seconds) of its items added, changed or removed since; None: too many to say
        self._touched: dict[str, set[int]] | None = {}
        self._touched_count = 0

    def touched(self, path: str) -> set[int] | None:
        """The dates of the feed's items added, changed, removed, shadowed or
        come due since forget_touched(); None when they are not known (a
        cold build, or too many changes to keep)."""
        return None if self._touched is None else self._touched.get(path, set())

    def _touch(self, feed: str, published: int) -> None:
        if self._touched is None:
            return
        self._touched.setdefault(feed, set()).add(published)
        self._touched_count += 1
        if self._touched_count > TOUCHED_LIMIT:
            self._touched = None

    def close(self) -> None:
        self.db.close()

    # --- files -------------------------------------------------------------

    def stamps(self, under: str = "") -> dict[str, int]:
        return _files.stamps(self.db, under)

    def stamp(self, source: str) -> int | None:
        return _files.stamp(self.db, source)

    def bucket_sums(self) -> dict[int, int]:
        """bucket -> the sum of its files' contributions (see _files.contribution)."""
        return _files.bucket_sums(self.db)

    def unsettled_buckets(self) -> set[int]:
        return _files.unsettled_buckets(self.db)

    def listing_problems(self, stamp: int) -> list[tuple[str, str]]:
        return _files.listing_problems(self.db, stamp)

    def listing_problem_buckets(self, stamp: int) -> set[int]:
        return _files.listing_problem_buckets(self.db, stamp)

    def stamps_in(self, buckets) -> dict[str, int]:
        return _files.stamps_in(self.db, buckets)

    def holds_at_least(self, files: int) -> bool:
        return _files.holds_at_least(self.db, files)

    def is_empty(self) -> bool:
        return _files.is_empty(self.db)

    def problems(self) -> list[Problem]:
        return _files.problems(self.db)

    def problem_count(self) -> int:
        return _files.problem_count(self.db)

    def counts(self) -> tuple[int, int]:
        """(articles, files with problems); kept until the index changes (a
        count of a million rows takes a tenth of a second)."""
        version = _meta.data_version(self.db)  # changes with another process's commits
        if self._counts is None or self._counts[0] != version:
            files, problems = _files.counts(self.db)
            self._counts = (version, (files - problems, problems))
        return self._counts[1]

    def drafts(self) -> int:
        return _articles.drafts(self.db)

    def update(self, results: list[tuple[str, int, object]], removed: Iterable[str] = (),
               fresh: bool = False) -> set[str]:
        """Record newly read files (source, stamp, Article | Problem) and forget
        removed ones; returns the paths of the feeds that may have changed.

        `fresh`: the index held none of these files (a cold build), so there
        is nothing old to look up or take out, and duplicate links are
        counted once at the end (see finish_bulk)."""
        removed = list(removed)
        affected: set[str] = set()
        links: set[str] = set()
        deltas: Counter = Counter()
        with transaction(self.db):
            # Until this build has published, the feeds table is not to be
            # trusted: a build cut short leaves the next one to recompute every feed.
            _meta.delete(self.db, "published_at")
            if fresh:
                _meta.put(self.db, "links_uncounted", "1")
                defer_indexes(self.db)
            if fresh:
                self._touched = None
            old = {} if fresh else _articles.get_many(self.db, [r[0] for r in results] + removed)
            for source, article in old.items():
                rows = _articles.memberships(article)
                _feeds.remove(self.db, ((feed, _seconds(article), article.id, source) for feed, _ in rows))
                for feed, name in rows:
                    deltas[feed, name] -= 1
                    affected.add(feed)
                    self._touch(feed, _seconds(article))
                links.add(article.link)
                _articles.delete(self.db, source)
            _files.replace(self.db, [(source, stamp, None if isinstance(result, Article) else result.message)
                                     for source, stamp, result in results], removed, fresh)
            new = [result for _, _, result in results if isinstance(result, Article)]
            _articles.put_many(self.db, new)
            added = []
            for article in new:
                published = _seconds(article)
                for feed, name in _articles.memberships(article):
                    added.append((feed, published, article.id, article.source, name))
                    deltas[feed, name] += 1
                    if not fresh:
                        affected.add(feed)
                        self._touch(feed, published)
                links.add(article.link)
            _feeds.add(self.db, added)
            _feeds.count_names(self.db, deltas)
            if fresh:
                affected.update(feed for feed, _ in deltas)
            else:
                for link in links:
                    was_duplicate = self._is_duplicate(link)
                    _articles.recount_link(self.db, link)
                    if was_duplicate or self._is_duplicate(link):
                        affected |= self._feeds_of_copies(link)
        self._shadow = None
        self._counts = None
        return affected

    def finish_bulk(self) -> None:
        """After fresh updates: build the indexes deferred meanwhile and count the links used by several files."""
        with transaction(self.db):
            restore_indexes(self.db)
            _articles.recount_all_links(self.db)
            _meta.delete(self.db, "links_uncounted")
        self._shadow = None
        self._counts = None

    def _is_duplicate(self, link: str) -> bool:
        return _articles.is_duplicate(self.db, link)

    def _feeds_of_copies(self, link: str) -> set[str]:
        sources = [row[0] for row in _articles.copies(self.db, link)]
        feeds = set()
        for article in _articles.get_many(self.db, sources).values():
            for feed, _ in _articles.memberships(article):
                feeds.add(feed)
                self._touch(feed, _seconds(article))  # which copy is shown may have changed
        return feeds

    # --- feeds -------------------------------------------------------------

    def feed(self, path: str, now: int, limit: int) -> Feed | None:
        """The feed at `now`: its newest `limit` published articles, how many
        it has and its name; None when it has none (the main feed always exists)."""
        shadowed, shadowed_names = self._shadowed(now)
        names = _feeds.names(self.db, path, now)
        names.subtract(shadowed_names.get(path, Counter()))
        names = +names
        kind, key = feed_kind(path)
        if not names and kind != "all":
            return None
        extra = sum(shadowed_names.get(path, Counter()).values())
        rows = _feeds.newest_rows(self.db, path, now, limit + extra)
        articles = tuple(_articles.from_row(row) for row in rows if row[0] not in shadowed)[:limit]
        return Feed(kind, key, most_used(names) if names else "", path, articles, total=sum(names.values()))

    def _shadowed(self, now: int) -> tuple[set[str], dict[str, Counter]]:
        """Copies of a link that lose to a newer copy at `now`, and the feed
        spellings they would have counted for."""
        if self._shadow is not None and self._shadow[0] == now:
            return self._shadow[1], self._shadow[2]
        sources: set[str] = set()
        for link in _articles.duplicate_links(self.db):
            sources.update(_articles.losers(self.db, link, now))
        names: dict[str, Counter] = {}
        for article in _articles.get_many(self.db, sorted(sources)).values():
            for feed, name in _articles.memberships(article):
                names.setdefault(feed, Counter())[name] += 1
        self._shadow = (now, sources, names)
        return sources, names

    def feed_paths(self) -> list[str]:
        """Every feed with at least one article, due or not."""
        return sorted({MAIN_FEED_PATH, *_feeds.all_paths(self.db)})

    def next_due(self, now: int) -> int | None:
        return _feeds.next_due(self.db, now)

    def became_due(self, since: int, now: int) -> set[str]:
        """Feeds of the articles whose date fell in (since, now]."""
        sources = _feeds.became_due(self.db, since, now)
        affected = set()
        for article in _articles.get_many(self.db, sources).values():
            for feed, _ in _articles.memberships(article):
                affected.add(feed)
                self._touch(feed, _seconds(article))
        for article in _articles.get_many(self.db, sources).values():
            if self._is_duplicate(article.link):
                affected |= self._feeds_of_copies(article.link)
        return affected

    def published_feeds(self) -> dict[str, tuple]:
        """path -> (path, kind, key, name, total, newest, updated, version) as last published."""
        return {row[0]: row for row in _feeds.published(self.db)}

    def save_feeds(self, rows: Iterable[tuple], gone: Iterable[str]) -> None:
        with transaction(self.db):
            _feeds.save(self.db, rows, gone)

    # --- archives ----------------------------------------------------------

    def archived(self, path: str, now: int, skip: int) -> list[tuple[int, str, str]]:
        """(published, id, digest) of the feed's items at `now` after its
        newest `skip` (those its subscription document shows), in feed order."""
        shadowed, _ = self._shadowed(now)
        rows = (row for row in _archives.in_order(self.db, path, now) if row[2] not in shadowed)
        for _ in zip(range(skip), rows):
            pass
        return [(published, item_id, digest) for published, item_id, _, digest in rows]

    def archived_between(self, path: str, now: int, newest: tuple[int, str] | None,
                         oldest: tuple[int, str] | None) -> list[tuple[int, str, str]]:
        """(published, id, digest) of the feed's items at `now` from `newest` down to
        `oldest` (both included; None: no bound), in feed order, shadowed copies left out."""
        shadowed, _ = self._shadowed(now)
        return [(published, item_id, digest) for published, item_id, source, digest
                in _archives.between(self.db, path, now, newest, oldest) if source not in shadowed]

    def archive_articles(self, path: str, now: int, newest: tuple[int, str], oldest: tuple[int, str]
                         ) -> tuple[Article, ...]:
        """The articles of the feed from its item `newest` to its item `oldest`, in feed order."""
        shadowed, _ = self._shadowed(now)
        return tuple(_articles.from_row(row) for row in _archives.run_rows(self.db, path, now, newest, oldest)
                     if row[0] not in shadowed)

    def archive_documents(self) -> list[tuple[str, str, str]]:
        """(feed, key, version) of every archive document as last published."""
        return _archives.everything(self.db)

    def archive_dates(self) -> dict[str, int]:
        """Archive document path (without extension) -> the date of its newest item."""
        return _archives.dates(self.db)

    def archives_of(self, path: str) -> list[tuple]:
        return _archives.of_feed(self.db, path)

    def newest_archive(self, path: str) -> str:
        return _archives.newest(self.db, path)

    def archive(self, path: str, key: str) -> tuple | None:
        return _archives.get(self.db, path, key)

    def save_archives(self, feeds: dict[str, list[tuple]]) -> None:
        """Each feed named: its archive documents are now these rows (_archives.FIELDS)."""
        with transaction(self.db):
            _archives.replace(self.db, feeds)

    def change_archives(self, feeds: dict[str, tuple[list[tuple], list[str]]]) -> None:
        """Each feed named: (its archive rows new or changed, the keys of those gone)."""
        with transaction(self.db):
            _archives.change(self.db, feeds)

    def get_meta(self, key: str) -> str | None:
        return _meta.get(self.db, key)

    def set_meta(self, key: str, value: str) -> None:
        _meta.put(self.db, key, value)


def _temporary(identity: str) -> sqlite3.Connection:
    """SQLite's private temporary database: in memory while it is small,
    spilled to a temporary file (removed with the connection) when it grows."""
    try:
        return connect("", identity, temporary=True)
    except sqlite3.Error as error:
        raise ArticleIndexError(f"cannot create a temporary article index: {error}") from None


def _seconds(article: Article) -> int:
    return int(article.published.timestamp())
