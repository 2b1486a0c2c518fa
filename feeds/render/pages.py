"""The pages for people (HTML): the index page and each feed's page; and the
subscription list (OPML 2.0)."""
from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from lxml import etree

from ..collect import Collection
from ..records import Article, Feed, Site
from ._shared import (FEED_FORMATS, FORMAT_NAMES, MEDIA_TYPES, PAGE_FORMAT, document_path, feed_description, feed_title,
               feed_updated, feed_url, is_archive, items, newer_path, older_path, page_url)

OPML_DOCS = "http://opml.org/spec2.opml"
OPML_FORMAT = "atom"  # the format OPML points subscribers to
_TYPES = {fmt: MEDIA_TYPES[fmt].split(";")[0] for fmt in FEED_FORMATS}  # without the charset


@lru_cache(maxsize=1)
def _templates() -> Environment:
    # The templates ship with the package and never change under a running
    # process: no stat of the template file at every page (auto_reload).
    return Environment(loader=PackageLoader("feeds", "templates"), auto_reload=False,
                       autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


def index_html(collection: Collection, site: Site) -> bytes:
    page = _templates().get_template("index.html").render(
        site=site, main=_index_row(collection.main, site), alternates=_alternates(collection.main, site),
        topics=[_index_row(feed, site) for feed in collection.topics],
        providers=[_index_row(feed, site) for feed in collection.providers])
    return page.encode("utf-8")


def _index_row(feed: Feed, site: Site) -> Markup:
    return _row_html(feed.kind, feed.key, feed.name, feed.path, feed.size, feed.newest, site)


# The index page lists every feed (3,000 at a million articles) and is made
# again at every change, which alters a few rows: rows are kept by what they show.
@lru_cache(maxsize=1 << 14)
def _row_html(kind: str, key: str, name: str, path: str, size: int, newest, site: Site) -> Markup:
    row = {
        "name": name or site.title,
        "detail": key if kind == "provider" and key != name else "",
        "count": size,
        # Formatted here: method calls inside the template cost more.
        "newest": (newest.isoformat(), newest.strftime("%Y-%m-%d %H:%M")) if newest else None,
        "page": f"{path}.{PAGE_FORMAT}",
        "links": _subscribe_links(path),
    }
    return Markup(_templates().get_template("index_row.html").render(row=row))


def feed_page(feed: Feed, site: Site) -> bytes:
    """The feed's page: its items, the same and in the same order as its
    feeds show, and links to subscribe to it, autodiscovery included."""
    up = "../" * document_path(feed).count("/")  # to the site's root; relative, so any copy of the site works
    section = {"topic": ("topics", "Topics"), "provider": ("providers", "Providers")}.get(feed.kind)
    shown = items(feed, site)
    title, pager = feed_title(feed, site), None
    if feed.archive is not None:
        pager = {"older": f"{up}{older_path(feed)}.{PAGE_FORMAT}" if older_path(feed) else "",
                 "newer": f"{up}{newer_path(feed)}.{PAGE_FORMAT}" if newer_path(feed) else "",
                 "span": "", "count": len(shown)}
        if is_archive(feed) and shown:
            pager["span"] = f"{_day(shown[-1])} to {_day(shown[0])}"
            title = f"{title}: {pager['span']}"
    page = _templates().get_template("feed.html").render(
        site=site, title=title, heading=feed.name or site.title,
        detail=feed.key if feed.kind == "provider" and feed.key != feed.name else "",
        description=feed_description(feed, site), canonical=page_url(feed, site), home=up or "./",
        section=section, alternates=_alternates(feed, site), pager=pager,
        links=_subscribe_links(f"{up}{feed.path}" if is_archive(feed) else feed.path.rpartition("/")[2]),
        items=[_page_item(article, feed, up) for article in shown])
    return page.encode("utf-8")


def _day(article: Article) -> str:
    return article.published.strftime("%Y-%m-%d")


def _page_item(article: Article, feed: Feed, up: str) -> dict:
    # Formatted here, as for the index page: cheaper than calls inside the template.
    image = article.image
    return {
        "title": article.title, "link": article.link, "summary": article.summary,
        "source": (article.provider_name,  # linked to its page, unless this is it
                   "" if feed.kind == "provider" else f"{up}providers/{article.provider_key}.{PAGE_FORMAT}"),
        "date": (article.published.isoformat(), article.published.strftime("%Y-%m-%d %H:%M")),
        "image": (image.url, image.title or "") if image else None,
        "topics": [(topic.name, f"{up}topics/{topic.slug}.{PAGE_FORMAT}",
                    feed.kind == "topic" and topic.slug == feed.key) for topic in article.topics],
    }


def _alternates(feed: Feed, site: Site) -> list[tuple[str, str, str]]:
    """(title, media type, absolute address) of each format: <link rel="alternate">."""
    title = feed_title(feed, site)
    return [(f"{title} ({FORMAT_NAMES[fmt]})", _TYPES[fmt], feed_url(feed, fmt, site)) for fmt in FEED_FORMATS]


def _subscribe_links(stem: str) -> list[tuple[str, str, str]]:
    """(name, media type, address) of each format, stem being the feed's
    address without extension, relative to the page that links it."""
    return [(FORMAT_NAMES[fmt], _TYPES[fmt], f"{stem}.{fmt}") for fmt in FEED_FORMATS]


def opml(collection: Collection, site: Site) -> bytes:
    def shown(feeds) -> tuple:
        return tuple((feed.kind, feed.key, feed.name, feed.path) for feed in feeds)
    root, date = _opml_tree(shown([collection.main]), shown(collection.topics), shown(collection.providers), site)
    date.text = _rfc822(feed_updated(collection.main, site))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


# The list changes only when a feed comes, goes or is renamed, but is made
# again at every change: its outlines are kept, and only its date is set.
@lru_cache(maxsize=2)
def _opml_tree(main: tuple, topics: tuple, providers: tuple, site: Site):
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{site.title} — all feeds"
    date = etree.SubElement(head, "dateModified")
    etree.SubElement(head, "docs").text = OPML_DOCS
    body = etree.SubElement(root, "body")
    for shown in main:
        _outline(body, *shown, site)
    for label, feeds in (("Topics", topics), ("Providers", providers)):
        if feeds:
            group = etree.SubElement(body, "outline", text=label, title=label)
            for shown in feeds:
                _outline(group, *shown, site)
    return root, date


def _outline(parent, kind: str, key: str, name: str, path: str, site: Site) -> None:
    feed = Feed(kind=kind, key=key, name=name, path=path)
    title = feed_title(feed, site)
    etree.SubElement(parent, "outline", type="rss", text=title, title=title,
                     xmlUrl=feed_url(feed, OPML_FORMAT, site), htmlUrl=page_url(feed, site))


def _rfc822(when) -> str:
    from email.utils import format_datetime
    return format_datetime(when)
