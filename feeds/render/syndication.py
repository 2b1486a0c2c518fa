"""Atom 1.0 and RSS 2.0, written by feedgen."""
from __future__ import annotations

import html
import re
from typing import Sequence

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from ..records import Feed, Image, Site
from ._shared import (feed_description, feed_image, feed_title, feed_updated, feed_url, is_archive, items, newer_path,
               older_path, page_url, provider_home, self_url, summary_text, topic_scheme)

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

    Both come from one FeedGenerator when every item reads the same in both,
    which is when no summary needs escaping as RSS's HTML: building the
    generator is a third of the work of rendering.
    """
    if sorted(formats) == ["atom", "rss"] and not any(_ESCAPED.search(summary_text(a)) for a in items(feed, site)):
        generator = _generator(feed, ("atom", "rss"), site)
        atom_bytes = generator.atom_str(pretty=True)
        _links(generator, feed, "rss", site)
        return {"atom": atom_bytes, "rss": generator.rss_str(pretty=True)}
    return {fmt: _serialize(_generator(feed, (fmt,), site), fmt) for fmt in formats}


def _serialize(generator: FeedGenerator, fmt: str) -> bytes:
    return generator.atom_str(pretty=True) if fmt == "atom" else generator.rss_str(pretty=True)


def _links(generator: FeedGenerator, feed: Feed, fmt: str, site: Site) -> None:
    # The alternate, the feed's page, is also RSS's channel <link> (feedgen
    # takes the last link). WebSub hubs go next to the self link; RSS gets
    # them from HubExtension.
    generator.link([{"href": self_url(feed, fmt, site), "rel": "self", "type": SELF_TYPES[fmt]},
                    *({"href": hub, "rel": "hub"} for hub in site.hubs),
                    *({"href": href, "rel": rel, "type": SELF_TYPES[fmt]} for rel, href in archive_links(feed, fmt, site)
                      if fmt == "atom"),
                    {"href": page_url(feed, site), "rel": "alternate", "type": "text/html"}], replace=True)


def _generator(feed: Feed, formats: Sequence[str], site: Site) -> FeedGenerator:
    atom, rss = "atom" in formats, "rss" in formats
    fg = FeedGenerator()
    fg.register_extension("media", MediaExtension, MediaEntryExtension)
    if rss:
        fg.register_extension("dc", CreatorExtension, CreatorEntryExtension, atom=False, rss=True)
        if site.hubs:
            fg.register_extension("websub", HubExtension, atom=False, rss=True)
            fg.websub.hubs(site.hubs)
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
    scheme = topic_scheme(site)
    for article in items(feed, site):
        entry = fg.add_entry(order="append")
        entry.id(article.id)
        entry.guid(article.id, permalink=False)
        entry.title(article.title)
        entry.link(href=article.link, rel="alternate", type="text/html")
        entry.published(article.published)
        entry.updated(article.updated)
        text = summary_text(article)
        if atom:
            entry.author(name=article.provider_name, uri=provider_home(article))
            entry.summary(text, type="text")  # also RSS's <description> when it is still unset
        if rss:
            entry.dc.creator(article.provider_name)
            if not atom:
                # RSS descriptions are HTML: escape so readers show the plain text as written.
                entry.description(html.escape(text, quote=False))
        if article.content:  # Atom <content type="html">, RSS <content:encoded>
            entry.content(article.content, type="html")
        if article.topics:  # one call: feedgen re-checks the whole list on every call
            entry.category([{"term": t.slug, "label": t.name, "scheme": scheme} for t in article.topics])
        entry.media.image(article.image)
    return fg
