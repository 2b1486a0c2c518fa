"""The collect stage's rules applied to a list of articles, through a temporary
article index: every feed of them at a moment, and when the next one is due.
For tests and tools that hold articles rather than a content folder."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from ..collect import EVERYTHING, Collection, by_key
from ..records import Article, Feed
from .index import Index


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
    return Collection(main=by_kind["all"][0], topics=tuple(sorted(by_kind["topic"], key=by_key)),
                      providers=tuple(sorted(by_kind["provider"], key=by_key)))


def next_due(articles: Iterable[Article], now: datetime) -> datetime | None:
    """When the next scheduled (future-dated, non-draft) article becomes public."""
    index = _index_of(articles)
    try:
        due = index.next_due(int(now.timestamp()))
    finally:
        index.close()
    return datetime.fromtimestamp(due, timezone.utc) if due is not None else None


def _index_of(articles: Iterable[Article]):
    index = Index(None, "collect")
    index.update([(article.source, 0, article) for article in articles], fresh=True)
    index.finish_bulk()
    return index
