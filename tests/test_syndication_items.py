"""Atom and RSS items are made once per article and placed after each
document's head: the documents must be exactly what feedgen writes when it
is given every entry itself, for every kind of article and feed."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from corpus_builder import write_article
from feeds.builder.collection import collect
from feeds.read import read_articles
from feeds.records import Archive, Site
from feeds.render import items, render_formats, topic_scheme
from feeds.render import syndication

UTC = timezone.utc
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def whole_document(feed, fmt: str, site: Site) -> bytes:
    """feedgen's own document: the same head, every entry added to it."""
    generator = syndication._generator(feed, (fmt,), site)
    for article in items(feed, site):
        syndication._fill(generator.add_entry(order="append"), article, fmt, topic_scheme(site))
    return syndication._serialize(generator, fmt)


@pytest.fixture
def varied(tmp_path):
    content = tmp_path / "content"
    write_article(content, "plain.md", title="Plain", webUrl="https://example.com/plain", topics=["AI", "Cloud"])
    write_article(content, "escaped.md", title="Tags & <b>bold</b>", excerpt="Less < more & \"quoted\" <i>x</i>",
                  webUrl="https://example.com/escaped", topics=["AI"])
    write_article(content, "unicode.md", title="Über café 東京 — “quoted”", webUrl="https://example.com/unicode",
                  topics=["Zürich"], body="Some *Markdown* with <b>HTML</b> and a [link](https://example.com/).\n")
    write_article(content, "bare.md", title="Bare", excerpt=None, images=None, topics=None,
                  webUrl="https://example.com/bare", provider={"name": "Other", "domain": "other.example"})
    articles, problems = read_articles(content)
    assert problems == []
    return collect(articles, NOW)


@pytest.mark.parametrize("hubs", [(), ("https://hub.example/",)])
@pytest.mark.parametrize("place", ["subscription", "archive", "empty"])
def test_items_placed_after_the_head_give_feedgens_whole_document(varied, hubs, place):
    site = Site(title="T & T", base_url="https://feeds.example/", hubs=hubs, items_per_feed=3, icon="https://x/i.png")
    for feed in varied.all_feeds():
        if place == "archive":
            feed = replace(feed, archive=Archive("2024-01-01t000000z-00000000", "older-key", ""))
        elif place == "empty":
            feed = replace(feed, articles=())
        else:
            feed = replace(feed, archive=Archive("", "newest-key", ""))
        for formats in (("atom", "rss"), ("atom",), ("rss",)):
            syndication._entries.clear()
            cold = render_formats(feed, formats, site)
            warm = render_formats(feed, formats, site)  # the items from those kept
            for fmt in formats:
                expected = whole_document(feed, fmt, site)
                assert cold[fmt] == expected, f"{feed.path}.{fmt} ({place}, {formats})"
                assert warm[fmt] == expected, f"{feed.path}.{fmt} ({place}, {formats}), items kept"


def test_a_kept_item_is_never_shown_for_another_site_or_an_edited_article(varied):
    first = Site(title="T", base_url="https://one.example/")
    second = Site(title="T", base_url="https://two.example/")
    feed = varied.main
    render_formats(feed, ("atom", "rss"), first)
    for fmt, body in render_formats(feed, ("atom", "rss"), second).items():
        assert b"https://one.example/" not in body, fmt  # the topics' scheme is the site's
        assert body == whole_document(feed, fmt, second)
    edited = replace(feed, articles=tuple(replace(a, title=f"{a.title} (edited)", digest=a.digest + "x")
                                          for a in feed.articles))
    for fmt, body in render_formats(edited, ("atom", "rss"), second).items():
        assert body == whole_document(edited, fmt, second), fmt
        assert body.count(b"(edited)</title>") == len(feed.articles), fmt
