"""The human index page (HTML) and the subscription list (OPML 2.0)."""
from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from lxml import etree

from ..collect import Collection
from ..records import Feed, Site
from . import FEED_FORMATS, FORMAT_NAMES, MEDIA_TYPES, feed_title, feed_updated, feed_url

OPML_DOCS = "http://opml.org/spec2.opml"
OPML_FORMAT = "atom"  # the format OPML points subscribers to


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=PackageLoader("feeds", "templates"),
                       autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


def index_html(collection: Collection, site: Site) -> bytes:
    def row(feed: Feed) -> dict:
        return {
            "title": feed_title(feed, site), "name": feed.name or site.title,
            "detail": feed.key if feed.kind == "provider" and feed.key != feed.name else "",
            "count": feed.size,
            # Formatted here: method calls inside the template cost more, 3,000 rows a page.
            "newest": (feed.newest.isoformat(), feed.newest.strftime("%Y-%m-%d %H:%M")) if feed.newest else None,
            "links": [(FORMAT_NAMES[fmt], fmt, f"{feed.path}.{fmt}") for fmt in FEED_FORMATS],
        }
    alternates = [(feed_title(collection.main, site) + f" ({FORMAT_NAMES[fmt]})",
                   MEDIA_TYPES[fmt].split(";")[0], feed_url(collection.main, fmt, site))
                  for fmt in FEED_FORMATS]
    page = _templates().get_template("index.html").render(
        site=site, main=row(collection.main), alternates=alternates,
        topics=[row(feed) for feed in collection.topics],
        providers=[row(feed) for feed in collection.providers])
    return page.encode("utf-8")


def opml(collection: Collection, site: Site) -> bytes:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{site.title} — all feeds"
    etree.SubElement(head, "dateModified").text = _rfc822(feed_updated(collection.main, site))
    etree.SubElement(head, "docs").text = OPML_DOCS
    body = etree.SubElement(root, "body")
    _outline(body, collection.main, site)
    for label, feeds in (("Topics", collection.topics), ("Providers", collection.providers)):
        if feeds:
            group = etree.SubElement(body, "outline", text=label, title=label)
            for feed in feeds:
                _outline(group, feed, site)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def _outline(parent, feed: Feed, site: Site) -> None:
    title = feed_title(feed, site)
    etree.SubElement(parent, "outline", type="rss", text=title, title=title,
                     xmlUrl=feed_url(feed, OPML_FORMAT, site), htmlUrl=site.base_url)


def _rfc822(when) -> str:
    from email.utils import format_datetime
    return format_datetime(when)
