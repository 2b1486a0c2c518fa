"""Richer items: an article's Markdown body as sanitised content, and the
images of a feed (the site's icon and logo, a provider's own logo)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import feedparser
import pytest
from lxml import etree

from conftest import check_feed, export_with_cli, write_config
from corpus_builder import SECRET, write_article

BODY = """# A heading

Some **bold** text, a [link](https://example.com/more) and `code`.

- one
- two

<script>alert("body")</script>
<img src="https://example.com/pic.jpg" onerror="alert(1)" alt="A picture">
<a href="javascript:alert(2)">a trap</a> and <iframe src="https://evil.example/"></iframe>
<p style="color: red" onclick="steal()">styled</p>

| a | b |
|---|---|
| 1 | 2 |
"""
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"


@pytest.fixture
def site(tmp_path):
    content = tmp_path / "content"
    write_article(content, "with-body.md", title="With a body", webUrl="https://news.example/with-body",
                  topics=["AI"], provider={"name": "Example", "domain": "example.com",
                                           "images": [{"url": "https://example.com/logo-50x50.png",
                                                       "width": 50, "height": 50}]},
                  body=BODY, publishedDateTime=datetime(2024, 5, 2, tzinfo=timezone.utc))
    write_article(content, "no-body.md", title="Without a body", webUrl="https://news.example/no-body",
                  topics=["AI"], provider={"name": "Other", "domain": "other.example"},
                  publishedDateTime=datetime(2024, 5, 1, tzinfo=timezone.utc))
    config = write_config(tmp_path / "feeds.toml", base_url="https://news.example/", icon="favicon.png",
                          logo="https://cdn.news.example/logo.png")
    exported = export_with_cli(content, tmp_path / "out", config)
    assert exported.code == 0, exported.err
    return exported


def items_by_title(exported, path, fmt):
    data = exported.feed(path, fmt)
    check_feed(data, fmt)
    if fmt == "json":
        return {item["title"]: item for item in json.loads(data)["items"]}
    root = etree.fromstring(data)
    if fmt == "atom":
        return {entry.findtext(f"{ATOM}title"): entry for entry in root.iter(f"{ATOM}entry")}
    return {item.findtext("title"): item for item in root.iter("item")}


def content_of(item, fmt) -> str | None:
    if fmt == "json":
        return item.get("content_html")
    if fmt == "atom":
        element = item.find(f"{ATOM}content")
        if element is None:
            return None
        assert element.get("type") == "html"
        return element.text
    element = item.find(CONTENT_ENCODED)
    return None if element is None else element.text


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_a_markdown_body_becomes_sanitised_html_content(site, fmt):
    found = items_by_title(site, "feed", fmt)
    html = content_of(found["With a body"], fmt)
    assert "<h1>A heading</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<a href="https://example.com/more" rel="noopener noreferrer nofollow">link</a>' in html
    assert "<li>one</li>" in html and "<td>1</td>" in html
    assert '<img src="https://example.com/pic.jpg" alt="A picture">' in html
    for banned in ("<script", "alert(", "onerror", "onclick", "javascript:", "<iframe", "style="):
        assert banned not in html, banned
    assert SECRET not in html


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_no_body_means_no_content_element(site, fmt):
    assert content_of(items_by_title(site, "feed", fmt)["Without a body"], fmt) is None


def test_readers_see_the_content_and_the_summary(site):
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(site.feed("feed", fmt))
        entry = next(e for e in parsed.entries if e.title == "With a body")
        assert "<strong>bold</strong>" in entry.content[0].value
        assert entry.summary == "An excerpt."


def test_the_site_icon_and_logo_are_on_every_feed_but_a_provider_feed_shows_its_own(site):
    atom = etree.fromstring(site.feed("topics/ai", "atom"))
    assert atom.findtext(f"{ATOM}icon") == "https://news.example/favicon.png"
    assert atom.findtext(f"{ATOM}logo") == "https://cdn.news.example/logo.png"
    rss = etree.fromstring(site.feed("topics/ai", "rss")).find("channel")
    assert rss.findtext("image/url") == "https://cdn.news.example/logo.png"
    assert rss.findtext("image/title") == rss.findtext("title") and rss.findtext("image/link") == rss.findtext("link")
    document = json.loads(site.feed("topics/ai", "json"))
    assert document["icon"] == "https://cdn.news.example/logo.png"
    assert document["favicon"] == "https://news.example/favicon.png"

    provider_atom = etree.fromstring(site.feed("providers/example.com", "atom"))
    assert provider_atom.findtext(f"{ATOM}logo") == "https://example.com/logo-50x50.png"
    assert provider_atom.findtext(f"{ATOM}icon") == "https://news.example/favicon.png"
    assert etree.fromstring(site.feed("providers/example.com", "rss")).findtext("channel/image/url") == \
        "https://example.com/logo-50x50.png"
    assert json.loads(site.feed("providers/example.com", "json"))["icon"] == "https://example.com/logo-50x50.png"
    # A provider without a logo of its own: the site's.
    assert etree.fromstring(site.feed("providers/other.example", "atom")).findtext(f"{ATOM}logo") == \
        "https://cdn.news.example/logo.png"


def test_without_images_configured_feeds_have_none(tmp_path):
    content = tmp_path / "content"
    write_article(content, "a.md", title="Plain", webUrl="https://news.example/plain")
    exported = export_with_cli(content, tmp_path / "out", write_config(tmp_path / "f.toml", base_url="https://n.example/"))
    atom = exported.feed("feed", "atom")
    assert b"<icon>" not in atom and b"<logo>" not in atom and b"<image>" not in exported.feed("feed", "rss")
    assert "icon" not in json.loads(exported.feed("feed", "json"))


def test_editing_only_the_body_updates_the_feed(tmp_path):
    content = tmp_path / "content"
    config = write_config(tmp_path / "feeds.toml", base_url="https://news.example/")
    write_article(content, "a.md", title="Story", webUrl="https://news.example/story", body="First *version*.")
    first = export_with_cli(content, tmp_path / "out", config)
    assert b"&lt;em&gt;version&lt;/em&gt;" in first.feed("feed", "atom")
    write_article(content, "a.md", title="Story", webUrl="https://news.example/story", body="Second **version**.")
    second = export_with_cli(content, tmp_path / "out", config)
    assert second.code == 0 and b"&lt;strong&gt;version&lt;/strong&gt;" in second.feed("feed", "atom")


@pytest.mark.parametrize("value", ["javascript:alert(1)", "ftp://example.com/x.png", "data:image/png;base64,AAAA"])
def test_an_icon_that_is_not_a_web_address_is_refused_by_name(tmp_path, value):
    content = tmp_path / "content"
    write_article(content, "a.md")
    done = export_with_cli(content, tmp_path / "out", write_config(tmp_path / "f.toml", icon=value))
    assert done.code != 0 and "icon" in done.err and "Traceback" not in done.err
