"""The plain data that flows between the pipeline's stages.

Every stage takes and returns these frozen records, so a stage can be tested
alone and nothing downstream ever sees raw front matter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from datetime import datetime


def _by_position(record):
    # Pickled as a constructor call: several times faster to load than the
    # dataclass default, which matters for a parse cache of 100k articles.
    return (type(record), record._fields(record))


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None
    title: str | None = None

    __reduce__ = _by_position


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    name: str

    __reduce__ = _by_position


@dataclass(frozen=True, slots=True)
class Article:
    """One article as the feeds need it, and nothing more."""

    source: str  # path relative to the content folder, for messages
    id: str  # stable item id, derived from the link
    link: str
    title: str
    summary: str  # plain text
    published: datetime  # aware, UTC
    updated: datetime  # aware, UTC, never before published
    draft: bool
    provider_key: str  # lowercased domain, safe as a file name
    provider_name: str
    topics: tuple[Topic, ...] = ()
    image: Image | None = None
    provider_image: str | None = None  # the provider's logo (http(s) URL): its feed's image
    content: str = ""  # the Markdown body as sanitised HTML; "" when there is none
    digest: str = ""  # changes whenever anything a feed shows changes

    __reduce__ = _by_position


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    message: str
    skipped: bool = True  # False: the article was published, with a caveat

    __reduce__ = _by_position

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True, slots=True)
class Archive:
    """Where one document sits in its feed's chain of archive documents
    (RFC 5005 archived feeds; JSON Feed next_url; the pages' older/newer links).

    The subscription document has key "": it shows the newest items and
    links to the newest archive document; each archive document shows a
    bounded run of older items and links to its neighbours."""

    key: str = ""  # the archive document's name ("2024-03-14t093015z-1a2b3c4d"); "": the subscription document
    older: str = ""  # key of the next older archive document; "": none
    newer: str = ""  # key of the next newer one; "": the subscription document follows

    __reduce__ = _by_position


@dataclass(frozen=True, slots=True)
class Feed:
    """A named, ordered collection of published articles (newest first)."""

    kind: str  # "all", "topic" or "provider"
    key: str  # topic slug or provider domain; "" for everything
    name: str  # display name of the topic or provider
    path: str  # URL path without extension: "feed", "topics/ai", ...
    # Newest first: every published article, or at least the newest
    # items_per_feed of them when `total` says how many there are in all.
    articles: tuple[Article, ...] = field(repr=False, default=())
    total: int | None = None  # None: len(articles)
    latest: datetime | None = None  # the newest date when `articles` is not given
    # None: archives are off (the feed is its subscription document, nothing more)
    archive: Archive | None = None

    @property
    def newest(self) -> datetime | None:
        return self.articles[0].published if self.articles else self.latest

    @property
    def size(self) -> int:
        """How many published articles the feed has (the index page's count)."""
        return len(self.articles) if self.total is None else self.total


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on untrusted content, applied when a file is read."""

    max_file_bytes: int = 1_000_000
    max_summary_chars: int = 1_000
    max_title_chars: int = 300
    max_name_chars: int = 100  # topic and provider names
    max_yaml_nodes: int = 10_000  # after alias expansion
    max_body_chars: int = 100_000  # of Markdown body rendered into an item's content


@dataclass(frozen=True, slots=True)
class Site:
    """What every document shares: set once by configuration."""

    title: str
    base_url: str  # absolute, ends with "/"
    language: str = "en"
    description: str = ""
    items_per_feed: int = 50
    icon: str = ""  # absolute URLs, or "": none
    logo: str = ""
    hubs: tuple[str, ...] = ()  # WebSub hubs, as feeds link to them
    archives: bool = True  # every feed's older items in archive documents
    items_per_archive: int = 100  # at most this many items per archive document

    def url(self, path: str) -> str:
        return self.base_url + path

    def fingerprint(self) -> str:
        """Code and site settings: the part of every document not made of articles."""
        import hashlib
        from ._version import __version__
        # Without archives, the settings of a release that had none: the same documents, the same fingerprint.
        shown = repr(self).partition(", archives=")[0] + ")" if not self.archives else repr(self)
        return hashlib.blake2b(f"({__version__!r}, {shown})".encode(), digest_size=8).hexdigest()


for _record in (Image, Topic, Article, Problem, Archive):
    _record._fields = attrgetter(*_record.__slots__)  # the fields as a tuple, in one C call
