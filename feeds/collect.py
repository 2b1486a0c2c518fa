"""Collect stage: articles -> the published set, grouped into feeds.

Pure functions of (articles, now): the same input always gives the same
feeds in the same order, whatever order the files were read in.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from operator import attrgetter
from datetime import datetime
from typing import Iterable

from .records import Article, Feed

MAIN_FEED_PATH = "feed"


def newest_first(articles: Iterable[Article]) -> list[Article]:
    """Newest first; ties broken by id, so that order never depends on file order."""
    # Two stable sorts with C key functions: several times faster than one
    # sort on a Python key function, which matters at 100k articles.
    ordered = sorted(articles, key=_ID)
    ordered.sort(key=_PUBLISHED, reverse=True)
    return ordered


_ID, _PUBLISHED = attrgetter("id"), attrgetter("published")


def published_articles(articles: Iterable[Article], now: datetime) -> list[Article]:
    """Drafts and not-yet-due articles left out; one article per link, the newest copy."""
    by_link: dict[str, Article] = {}
    for article in articles:
        if article.draft or article.published > now:
            continue
        kept = by_link.get(article.link)
        if kept is None or _newer(article, kept):
            by_link[article.link] = article
    return newest_first(by_link.values())


def _newer(a: Article, b: Article) -> bool:
    return (a.published, a.updated, a.source) > (b.published, b.updated, b.source)


def next_due(articles: Iterable[Article], now: datetime) -> datetime | None:
    """When the next scheduled (future-dated, non-draft) article becomes public."""
    return min((a.published for a in articles if not a.draft and a.published > now), default=None)


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


def collect(articles: Iterable[Article], now: datetime) -> Collection:
    published = published_articles(articles, now)
    topic_items: dict[str, list[Article]] = defaultdict(list)
    topic_names: dict[tuple[str, str], int] = defaultdict(int)
    provider_items: dict[str, list[Article]] = defaultdict(list)
    provider_names: dict[tuple[str, str], int] = defaultdict(int)
    for article in published:  # already newest first, so each group is too
        for topic in article.topics:
            topic_items[topic.slug].append(article)
            topic_names[topic.slug, topic.name] += 1
        provider_items[article.provider_key].append(article)
        provider_names[article.provider_key, article.provider_name] += 1
    topic_names, provider_names = _spellings(topic_names), _spellings(provider_names)
    return Collection(
        main=Feed("all", "", "", MAIN_FEED_PATH, tuple(published)),
        topics=tuple(
            Feed("topic", slug, _most_used(topic_names[slug]), f"topics/{slug}", tuple(items))
            for slug, items in sorted(topic_items.items())),
        providers=tuple(
            Feed("provider", key, _most_used(provider_names[key]), f"providers/{key}", tuple(items))
            for key, items in sorted(provider_items.items())),
    )


def _spellings(counts: dict[tuple[str, str], int]) -> dict[str, Counter]:
    by_key: dict[str, Counter] = defaultdict(Counter)
    for (key, name), count in counts.items():
        by_key[key][name] = count
    return by_key


def _most_used(names: Counter) -> str:
    """The spelling most articles use; ties go to the alphabetically first."""
    return min(names.items(), key=lambda pair: (-pair[1], pair[0]))[0]
