"""Collect stage: the published set, grouped into feeds.

The rules: drafts are never published; an article dated ahead waits for its
date; one copy per link is published, the newest (by date, then update,
then file name); a feed lists its articles newest first, ties broken by item
id; a topic or provider is named by the spelling most of its articles use.
The article index (`feeds.builder.index`) applies them, for the builder and
for `feeds.builder.collection.collect()` alike, so there is one implementation
of them; this module only names what they share.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .records import Feed

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


def by_key(feed: Feed) -> str:
    return feed.key
