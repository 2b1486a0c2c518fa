"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
from __future__ import annotations

import json

from ..records import Article, Feed, Site
from ._shared import (feed_description, feed_image, feed_title, feed_url, hubs_of, items, older_path, page_url, provider_home,
               summary_text)

VERSION = "https://jsonfeed.org/version/1.1"


def json_feed(feed: Feed, site: Site) -> bytes:
    document = {
        "version": VERSION,
        "title": feed_title(feed, site),
        "home_page_url": page_url(feed, site),  # the feed's page
        "feed_url": feed_url(feed, "json", site),  # the feed's address, also in its archive documents
        **({"hubs": [{"type": "WebSub", "url": hub} for hub in hubs]} if (hubs := hubs_of(feed, site)) else {}),
        "description": feed_description(feed, site),
        "language": site.language,
    }
    image = feed_image(feed, site)
    if image:
        document["icon"] = image
    if site.icon:
        document["favicon"] = site.icon
    older = older_path(feed)
    if older:
        document["next_url"] = site.url(f"{older}.json")  # older items, as RFC 5005's prev-archive
    document["items"] = [_item(article) for article in items(feed, site)]
    # Compact: with indentation the json module falls back to its pure-Python encoder.
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _item(article: Article) -> dict:
    item = {
        "id": article.id,
        "url": article.link,
        "title": article.title,
        "content_text": summary_text(article),
        **({"content_html": article.content} if article.content else {}),
        "date_published": _rfc3339(article),
        "date_modified": article.updated.isoformat().replace("+00:00", "Z"),
        "authors": [{"name": article.provider_name, "url": provider_home(article)}],
    }
    if article.summary:
        item["summary"] = article.summary
    if article.image:
        item["image"] = article.image.url
    if article.topics:
        item["tags"] = [topic.name for topic in article.topics]
    return item


def _rfc3339(article: Article) -> str:
    return article.published.isoformat().replace("+00:00", "Z")
