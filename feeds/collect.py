"""Collect stage: the published set, grouped into feeds.

The rules: drafts are never published; an article dated ahead waits for its
date; one copy per link is published, the newest (by date, then update,
then file name); a feed lists its articles newest first, ties broken by item
id; a topic or provider is named by the spelling most of its articles use.
The article index (`feeds.builder.index`) applies them, for the builder and
for `collect()` alike, so there is one implementation of them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from .records import Article, Feed

MAIN_FEED_PATH = "feed"
EVERYTHING = 2 ** 62  # "no limit" on a feed's items


@dataclass(frozen=True, slots=True)
class Collection:
    """Every feed of the site at one moment, addressable by path."""

    main: Feed
    topics: tuple[Feed, ...]
    providers: tuple[Feed, ...]

    def all_feeds(self) -> tuple[Feed, ...]:
        return (self.main, *self.topics, *self.providers)

    def by_path(self) -> dict[str, Feed]:
        return {feed.path: feed for feed in self.all_feeds()}


def most_used(names: Counter) -> str:
    """The spelling most articles use; ties go to the alphabetically first."""
    return min(names.items(), key=lambda pair: (-pair[1], pair[0]))[0]


def collect(articles: Iterable[Article], now: datetime) -> Collection:
    """Every feed of these articles at `now`, each with all its articles."""
    index = _index_of(articles)
    try:
        moment = int(now.timestamp())
        feeds = [index.feed(path, moment, EVERYTHING) for path in index.feed_paths()]
    finally:
        index.close()
    by_kind: dict[str, list[Feed]] = {"all": [], "topic": [], "provider": []}
    for feed in feeds:
        if feed is not None:
            by_kind[feed.kind].append(feed)
    return Collection(main=by_kind["all"][0], topics=tuple(sorted(by_kind["topic"], key=_KEY)),
                      providers=tuple(sorted(by_kind["provider"], key=_KEY)))


def next_due(articles: Iterable[Article], now: datetime) -> datetime | None:
    """When the next scheduled (future-dated, non-draft) article becomes public."""
    index = _index_of(articles)
    try:
        due = index.next_due(int(now.timestamp()))
    finally:
        index.close()
    return datetime.fromtimestamp(due, timezone.utc) if due is not None else None


def _KEY(feed: Feed) -> str:
    return feed.key


def _index_of(articles: Iterable[Article]):
    from .builder.index import Index
    index = Index(None, "collect")
    index.update([(article.source, 0, article) for article in articles], fresh=True)
    index.finish_bulk()
    return index
