"""What every format family shares: titles, links, the items a document
shows, its place in the feed's archive, and the fingerprints of documents."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from ..formats import FEED_DOCUMENTS, FEED_FORMATS, FORMAT_NAMES, MEDIA_TYPES, PAGE_FORMAT  # noqa: F401 - re-exported
from ..records import Article, Feed, Site

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def items(feed: Feed, site: Site) -> tuple[Article, ...]:
    if is_archive(feed):
        return feed.articles  # the collect stage cut them to size
    return feed.articles[: site.items_per_feed]


def is_archive(feed: Feed) -> bool:
    """Whether this is one of the feed's archive documents (not its subscription document)."""
    return feed.archive is not None and feed.archive.key != ""


def hubs_of(feed: Feed, site: Site) -> tuple[str, ...]:
    """The WebSub hubs a document names: none in an archive document, which
    nobody subscribes to and no ping is ever sent for."""
    return () if is_archive(feed) else site.hubs


def archive_path(feed: Feed, key: str) -> str:
    """The document path, without extension, of one of the feed's archive documents."""
    return f"{feed.path}/archive/{key}"


def document_path(feed: Feed) -> str:
    """This document's path without extension: the feed's, or its archive document's."""
    return archive_path(feed, feed.archive.key) if is_archive(feed) else feed.path


def older_path(feed: Feed) -> str:
    """The path of the document with the next older items; "" at the oldest."""
    archive = feed.archive
    return archive_path(feed, archive.older) if archive is not None and archive.older else ""


def newer_path(feed: Feed) -> str:
    """The path of the document with the next newer items (an archive document,
    or the subscription document after the newest); "" for the subscription document."""
    if not is_archive(feed):
        return ""
    return archive_path(feed, feed.archive.newer) if feed.archive.newer else feed.path


def summary_text(article: Article) -> str:
    """What readers show under the title; never empty, which readers and
    validators flag."""
    return article.summary or article.title


def feed_title(feed: Feed, site: Site) -> str:
    if feed.kind == "all":
        return site.title
    if feed.kind == "provider" and feed.name != feed.key:
        return f"{site.title} — {feed.name} ({feed.key})"
    return f"{site.title} — {feed.name}"


def feed_description(feed: Feed, site: Site) -> str:
    if feed.kind == "all":
        return site.description or f"The latest articles from {site.title}"
    if feed.kind == "topic":
        return f"The latest articles about {feed.name} from {site.title}"
    return f"The latest articles from {feed.name} on {site.title}"


def feed_url(feed: Feed, fmt: str, site: Site) -> str:
    return site.url(f"{feed.path}.{fmt}")


def page_url(feed: Feed, site: Site) -> str:
    """The document's page, for people: every format's alternate in text/html."""
    return self_url(feed, PAGE_FORMAT, site)


def self_url(feed: Feed, fmt: str, site: Site) -> str:
    """The address of this document in this format (an archive document's own)."""
    return site.url(f"{document_path(feed)}.{fmt}")


def feed_updated(feed: Feed, site: Site) -> datetime:
    """The newest change among the items shown: never the current time, so
    output (and with it ETags) only changes when content does."""
    return max((a.updated for a in items(feed, site)), default=EPOCH)


def feed_image(feed: Feed, site: Site) -> str:
    """The feed's logo: a provider's own (from its newest item that names
    one), else the site's; "" for none."""
    if feed.kind == "provider":
        for article in items(feed, site):
            if article.provider_image:
                return article.provider_image
    return site.logo


def topic_scheme(site: Site) -> str:
    return site.url("topics/")


def provider_home(article: Article) -> str:
    return f"https://{article.provider_key}/"


def feed_version(feed: Feed, site: Site) -> str:
    """A fingerprint of everything a feed's documents show: equal fingerprints,
    equal bytes (for the same code and site settings)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(feed_title(feed, site).encode("utf-8", "surrogatepass"))
    if feed.archive is not None:
        digest.update(repr(feed.archive).encode("utf-8", "surrogatepass"))
    for article in items(feed, site):
        digest.update(article.digest.encode("ascii"))
    return digest.hexdigest()


def pages_version(collection, site: Site) -> str:
    """The fingerprint of the index page and the OPML list: every feed's row,
    and the main feed's updated date (the OPML list's dateModified)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(feed_updated(collection.main, site).isoformat().encode())
    for feed in collection.all_feeds():
        digest.update(page_row(feed))
    return digest.hexdigest()


def page_row(feed: Feed) -> bytes:
    """What the index page and the OPML list show of one feed."""
    newest = feed.newest.isoformat() if feed.newest else ""
    return f"{feed.path}\0{feed.name}\0{feed.size}\0{newest}\n".encode("utf-8", "surrogatepass")


def settings_version(site: Site) -> str:
    """Code and site settings: the part of every document not made of articles."""
    return site.fingerprint()
