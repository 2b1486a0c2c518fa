"""Atom 1.0 and RSS 2.0, written by feedgen."""
from __future__ import annotations

import html
import re
from typing import Sequence

from collections import OrderedDict

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree

from ..records import Article, Feed, Image, Site
from ._shared import (feed_description, feed_image, feed_title, feed_updated, feed_url, hubs_of, is_archive, items,
               newer_path, older_path, page_url, provider_home, self_url, summary_text, topic_scheme)

MEDIA_NS = "http://search.yahoo.com/mrss/"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
GENERATOR = "feeds"
SELF_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
_ESCAPED = re.compile("[&<>]")  # what html.escape(text, quote=False) changes


class MediaExtension(BaseExtension):
    """Media RSS namespace for the feed element."""

    def extend_ns(self):
        return {"media": MEDIA_NS}


class MediaEntryExtension(BaseEntryExtension):
    """One image per item as <media:content> and <media:thumbnail>.

    feedgen's bundled `media` extension wraps even a single image in
    <media:group>, which validators reject: a group needs several contents.
    """

    def __init__(self):
        self._image: Image | None = None

    def image(self, image: Image | None) -> None:
        self._image = image

    def extend_atom(self, entry):
        image = self._image
        if image is not None:
            sizes = {k: str(v) for k, v in (("width", image.width), ("height", image.height)) if v}
            xml_elem(f"{{{MEDIA_NS}}}content", entry, url=image.url, medium="image", **sizes)
            xml_elem(f"{{{MEDIA_NS}}}thumbnail", entry, url=image.url, **sizes)
        return entry

    extend_rss = extend_atom


class CreatorExtension(BaseExtension):
    """Dublin Core namespace for the RSS channel."""

    def extend_ns(self):
        return {"dc": DC_NS}


class CreatorEntryExtension(BaseEntryExtension):
    """<dc:creator>, how RSS names an item's source without an email address.

    feedgen's bundled `dc` extension checks all fifteen Dublin Core elements
    on every item; it was a tenth of the time spent rendering RSS.
    """

    def __init__(self):
        self._name: str | None = None

    def creator(self, name: str) -> None:
        self._name = name

    def extend_rss(self, entry):
        if self._name:
            xml_elem(f"{{{DC_NS}}}creator", entry).text = self._name
        return entry


class HubExtension(BaseExtension):
    """WebSub hubs in RSS: <atom:link rel="hub"> beside the atom:link
    rel="self" feedgen writes (in Atom they are plain links). feedgen
    declares the atom namespace in every RSS document."""

    def __init__(self):
        self._hubs: tuple[str, ...] = ()

    def hubs(self, hubs: Sequence[str]) -> None:
        self._hubs = tuple(hubs)

    def extend_rss(self, rss_feed):
        channel = rss_feed.find("channel")
        self_link = channel.find(f"{{{ATOM_NS}}}link")
        position = channel.index(self_link) + 1 if self_link is not None else len(channel)
        for offset, hub in enumerate(self._hubs):
            channel.insert(position + offset, xml_elem(f"{{{ATOM_NS}}}link", href=hub, rel="hub"))
        return rss_feed


class ArchiveExtension(BaseExtension):
    """RFC 5005 archived feeds: <fh:archive/> in an archive document, and in
    RSS the archive links as <atom:link> (Atom has them as plain links)."""

    def __init__(self):
        self._links: dict[str, list[tuple[str, str]]] = {}
        self._archive = False

    def archive(self, links: dict[str, list[tuple[str, str]]], archive: bool) -> None:
        self._links, self._archive = links, archive

    def extend_ns(self):
        return {"fh": FH_NS}

    def extend_atom(self, feed):
        if self._archive:
            xml_elem(f"{{{FH_NS}}}archive", feed)
        return feed

    def extend_rss(self, rss_feed):
        channel = rss_feed.find("channel")
        links = channel.findall(f"{{{ATOM_NS}}}link")
        position = channel.index(links[-1]) + 1 if links else len(channel)
        for offset, (rel, href) in enumerate(self._links.get("rss", ())):
            channel.insert(position + offset, xml_elem(f"{{{ATOM_NS}}}link", href=href, rel=rel))
        if self._archive:
            xml_elem(f"{{{FH_NS}}}archive", channel)
        return rss_feed


def archive_links(feed: Feed, fmt: str, site: Site) -> list[tuple[str, str]]:
    """(rel, href) of the RFC 5005 links of this document in this format."""
    if feed.archive is None:
        return []
    links = []
    if is_archive(feed):
        links.append(("current", feed_url(feed, fmt, site)))
    older = older_path(feed)
    if older:
        links.append(("prev-archive", site.url(f"{older}.{fmt}")))
    newer = newer_path(feed)
    if newer:
        # After the newest archive document comes the subscription document.
        links.append(("next-archive", site.url(f"{newer}.{fmt}")))
    return links


def syndication(feed: Feed, formats: Sequence[str], site: Site) -> dict[str, bytes]:
    """The Atom and/or RSS documents of a feed.

    Both heads come from one FeedGenerator when every item reads the same in
    both, which is when no summary needs escaping as RSS's HTML: building the
    generator is a third of the work of its head. The items are each
    article's own entry, made once (see _entry) and placed after the head,
    where feedgen puts them: an article is in four feeds on average, and in
    the same bytes in each.
    """
    shown = items(feed, site)
    if sorted(formats) == ["atom", "rss"] and not any(_ESCAPED.search(summary_text(a)) for a in shown):
        generator = _generator(feed, ("atom", "rss"), site)
        atom_head = generator.atom_str(pretty=True)
        _links(generator, feed, "rss", site)
        heads = {"atom": atom_head, "rss": generator.rss_str(pretty=True)}
    else:
        heads = {fmt: _serialize(_generator(feed, (fmt,), site), fmt) for fmt in formats}
    return {fmt: _with_items(heads[fmt], fmt, shown, site) for fmt in formats}


def _serialize(generator: FeedGenerator, fmt: str) -> bytes:
    return generator.atom_str(pretty=True) if fmt == "atom" else generator.rss_str(pretty=True)


_TAILS = {"atom": b"</feed>\n", "rss": b"  </channel>\n</rss>\n"}  # what follows the items, pretty-printed


def _with_items(head: bytes, fmt: str, shown: Sequence[Article], site: Site) -> bytes:
    tail = _TAILS[fmt]
    if not shown:
        return head
    assert head.endswith(tail), f"unexpected end of a {fmt} document"
    return b"".join((head[: -len(tail)], *(_entry(article, fmt, site) for article in shown), tail))


def _links(generator: FeedGenerator, feed: Feed, fmt: str, site: Site) -> None:
    # The alternate, the feed's page, is also RSS's channel <link> (feedgen
    # takes the last link). WebSub hubs go next to the self link; RSS gets
    # them from HubExtension.
    generator.link([{"href": self_url(feed, fmt, site), "rel": "self", "type": SELF_TYPES[fmt]},
                    *({"href": hub, "rel": "hub"} for hub in hubs_of(feed, site)),
                    *({"href": href, "rel": rel, "type": SELF_TYPES[fmt]} for rel, href in archive_links(feed, fmt, site)
                      if fmt == "atom"),
                    {"href": page_url(feed, site), "rel": "alternate", "type": "text/html"}], replace=True)


def _generator(feed: Feed, formats: Sequence[str], site: Site) -> FeedGenerator:
    """The head of the feed's documents: everything but the items."""
    atom, rss = "atom" in formats, "rss" in formats
    fg = FeedGenerator()
    fg.register_extension("media", MediaExtension, MediaEntryExtension)
    if rss:
        fg.register_extension("dc", CreatorExtension, CreatorEntryExtension, atom=False, rss=True)
        hubs = hubs_of(feed, site)
        if hubs:
            fg.register_extension("websub", HubExtension, atom=False, rss=True)
            fg.websub.hubs(hubs)
    if feed.archive is not None:
        fg.register_extension("history", ArchiveExtension, atom=atom, rss=rss)
        fg.history.archive({"rss": archive_links(feed, "rss", site)}, is_archive(feed))
    updated = feed_updated(feed, site)
    fg.id(feed_url(feed, formats[0], site))  # Atom's only: RSS channels have no id
    fg.title(feed_title(feed, site))
    fg.subtitle(feed_description(feed, site))  # RSS <description> too
    _links(fg, feed, formats[0], site)
    fg.language(site.language)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    fg.generator(GENERATOR)
    if site.icon:
        fg.icon(site.icon)  # Atom <icon>
    image = feed_image(feed, site)
    if image:
        fg.logo(image)  # Atom <logo>, RSS <image> (titled and linked as the channel)
    if atom:
        fg.author(name=site.title, uri=site.base_url)
    return fg


# --- items -------------------------------------------------------------------

ENTRIES_KEPT = 8192  # entries of recent articles, per process: the feeds that show them come close together
_entries: OrderedDict[tuple, bytes] = OrderedDict()
# The namespaces feedgen declares on each document's root element, as its items use them.
_ROOTS = {"atom": ("feed", {"media": MEDIA_NS, None: ATOM_NS}),
          "rss": ("rss", {"media": MEDIA_NS, "dc": DC_NS, "atom": ATOM_NS,
                          "content": "http://purl.org/rss/1.0/modules/content/"})}


def _entry(article: Article, fmt: str, site: Site) -> bytes:
    """The article's <entry> (Atom) or <item> (RSS), as feedgen writes it in
    any document: the same bytes whatever the feed, so made once and kept."""
    scheme = topic_scheme(site)
    key = (fmt, article.digest, article.id, scheme)
    cached = _entries.get(key) if article.digest else None
    if cached is not None:
        _entries.move_to_end(key)
        return cached
    entry = FeedEntry()
    entry.register_extension("media", MediaEntryExtension, True, True)
    if fmt == "rss":
        entry.register_extension("dc", CreatorEntryExtension, False, True)
    _fill(entry, article, fmt, scheme)
    tag, nsmap = _ROOTS[fmt]
    root = etree.Element(tag, nsmap=nsmap)
    (root if fmt == "atom" else etree.SubElement(root, "channel")).append(
        entry.atom_entry() if fmt == "atom" else entry.rss_entry())
    text = etree.tostring(root, pretty_print=True, encoding="UTF-8")
    # The item's lines, indented as in a document: after the root's (and channel's) opening line.
    start = text.index(b"\n") + 1
    if fmt == "rss":
        start = text.index(b"\n", start) + 1
    body = text[start: -len(_TAILS[fmt])]
    if article.digest:
        _entries[key] = body
        if len(_entries) > ENTRIES_KEPT:
            _entries.popitem(last=False)
    return body


def _fill(entry: FeedEntry, article: Article, fmt: str, scheme: str) -> None:
    entry.id(article.id)
    entry.guid(article.id, permalink=False)
    entry.title(article.title)
    entry.link(href=article.link, rel="alternate", type="text/html")
    entry.published(article.published)
    entry.updated(article.updated)
    text = summary_text(article)
    if fmt == "atom":
        entry.author(name=article.provider_name, uri=provider_home(article))
        entry.summary(text, type="text")
    else:
        entry.dc.creator(article.provider_name)
        # RSS descriptions are HTML: escape so readers show the plain text as written.
        entry.description(html.escape(text, quote=False))
    if article.content:  # Atom <content type="html">, RSS <content:encoded>
        entry.content(article.content, type="html")
    if article.topics:  # one call: feedgen re-checks the whole list on every call
        entry.category([{"term": t.slug, "label": t.name, "scheme": scheme} for t in article.topics])
    entry.media.image(article.image)
