"""Render stage: a Feed -> the bytes of one document.

One module per format family (syndication: Atom and RSS; jsonfeed; pages);
`_shared` holds what every family shares, re-exported here with the one
entry point, render_formats.
"""
from __future__ import annotations

from typing import Sequence

from ..records import Feed, Site
from ._shared import (  # noqa: F401 - re-exported
    EPOCH,
    FEED_DOCUMENTS,
    FEED_FORMATS,
    FORMAT_NAMES,
    MEDIA_TYPES,
    PAGE_FORMAT,
    archive_path,
    document_path,
    feed_description,
    feed_image,
    feed_title,
    feed_updated,
    feed_url,
    feed_version,
    is_archive,
    items,
    newer_path,
    older_path,
    page_row,
    page_url,
    pages_version,
    provider_home,
    self_url,
    settings_version,
    summary_text,
    topic_scheme,
)


def render_feed(feed: Feed, fmt: str, site: Site) -> bytes:
    return render_formats(feed, (fmt,), site)[fmt]


def render_formats(feed: Feed, formats: Sequence[str], site: Site) -> dict[str, bytes]:
    """Several documents of one feed (its FEED_DOCUMENTS: the feed formats
    and its page), the same bytes as render_feed gives each, sharing the
    work they have in common."""
    unknown = set(formats) - set(FEED_DOCUMENTS)
    if unknown:
        raise ValueError(f"unknown feed format {sorted(unknown)[0]!r}")
    rendered: dict[str, bytes] = {}
    xml = [fmt for fmt in formats if fmt in ("atom", "rss")]
    if xml:
        from .syndication import syndication
        rendered.update(syndication(feed, xml, site))
    if "json" in formats:
        from .jsonfeed import json_feed
        rendered["json"] = json_feed(feed, site)
    if PAGE_FORMAT in formats:
        from .pages import feed_page
        rendered[PAGE_FORMAT] = feed_page(feed, site)
    return rendered
