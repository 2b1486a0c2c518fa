"""Rendering feeds, the index page and the OPML list: what a feed reader or a
browser sees for given articles."""
from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

import pytest

from corpus_builder import link_key, write_article
from feeds.builder.collection import collect
from feeds.read import read_articles
from feeds.records import Site, Topic
from feeds.render import FEED_FORMATS, render_feed, render_formats
from feeds.render.pages import _opml_tree, index_html, opml

UTC = timezone.utc
NOW = datetime(2024, 6, 1, tzinfo=UTC)
MEDIA_NS = "http://search.yahoo.com/mrss/"


def collection_of(content, now=NOW):
    articles, problems = read_articles(content)
    assert problems == []
    return collect(articles, now)


def main_feed(content):
    return collection_of(content).main


def render(feed, fmt, site):
    return render_feed(feed, fmt, site)


@pytest.fixture
def three_articles(content):
    """Three articles a day apart, newest first: c, b, a."""
    for n, name in enumerate("abc"):
        write_article(content, f"{name}.md", title=f"Article {name}", webUrl=f"https://example.com/{name}",
                      publishedDateTime=datetime(2024, 5, 1 + n, 9, 0, tzinfo=UTC), topics=["AI", "Power Apps"])
    return content


class Page(HTMLParser):
    """Tags, links and text of an HTML page."""

    def __init__(self, data: bytes):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.feed(data.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs.extend(value for name, value in attrs if name == "href")

    def handle_data(self, data):
        self.text.append(data)


# --- Valid documents --------------------------------------------------------------

@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_a_feed_is_valid_in_every_format(three_articles, site, fmt, validate_feed, read_items):
    data = render(main_feed(three_articles), fmt, site)
    validate_feed(data, fmt)
    assert [item["link"] for item in read_items(data, fmt)] == [f"https://example.com/{n}" for n in "cba"]


@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_an_empty_feed_is_valid(content, site, fmt, validate_feed, read_items):
    data = render(main_feed(content), fmt, site)
    validate_feed(data, fmt)
    assert read_items(data, fmt) == []


@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_feeds_name_their_own_address_and_their_page_under_the_base_url(three_articles, site, fmt, validate_feed):
    feeds = collection_of(three_articles).by_path()
    parsed = validate_feed(render(feeds["topics/ai"], fmt, site), fmt)
    expected, page = f"{site.base_url}topics/ai.{fmt}", f"{site.base_url}topics/ai.html"
    if fmt == "json":
        assert (parsed["feed_url"], parsed["home_page_url"]) == (expected, page)
    else:
        assert expected in [link.href for link in parsed.feed.links if link.rel == "self"]
        assert parsed.feed.link == page  # Atom's text/html alternate, RSS's channel <link>
        assert [(link.rel, link.type) for link in parsed.feed.links if link.rel == "alternate"] == [
            ("alternate", "text/html")]


@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_the_feed_title_is_the_site_title_and_names_the_topic(three_articles, fmt, validate_feed):
    site = Site(title="<b>Site</b> & Co", base_url="https://feeds.test/")
    feeds = collection_of(three_articles).by_path()
    for path, name in (("feed", None), ("topics/power-apps", "Power Apps")):
        parsed = validate_feed(render(feeds[path], fmt, site), fmt)
        title = parsed["title"] if fmt == "json" else parsed.feed.title
        assert title.startswith("<b>Site</b> & Co")
        if name:
            assert name in title


# --- Items ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_a_feed_shows_only_the_newest_items_per_feed(content, fmt, read_items):
    for n in range(7):
        write_article(content, f"{n}.md", webUrl=f"https://example.com/{n}",
                      publishedDateTime=datetime(2024, 5, 1 + n, tzinfo=UTC))
    site = Site(title="T", base_url="https://feeds.test/", items_per_feed=3)
    shown = read_items(render(main_feed(content), fmt, site), fmt)
    assert [item["link"] for item in shown] == [f"https://example.com/{n}" for n in (6, 5, 4)]


@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_items_have_their_publication_date(three_articles, site, fmt, read_items):
    items = read_items(render(main_feed(three_articles), fmt, site), fmt)
    assert [item["published"] for item in items] == [datetime(2024, 5, d, 9, 0, tzinfo=UTC) for d in (3, 2, 1)]


def test_an_article_has_the_same_id_in_every_format_and_feed(three_articles, site, read_items):
    collection = collection_of(three_articles)
    ids = {}
    for feed in collection.all_feeds():
        for fmt in FEED_FORMATS:
            for item in read_items(render(feed, fmt, site), fmt):
                ids.setdefault(item["link"], set()).add(item["id"])
    assert all(len(found) == 1 for found in ids.values()), ids
    assert len({next(iter(found)) for found in ids.values()}) == len(ids) == 3


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_feed_date_is_the_newest_change_not_the_time_of_rendering(content, site, fmt, validate_feed):
    write_article(content, "old-but-edited.md", webUrl="https://example.com/edited",
                  publishedDateTime=datetime(2024, 5, 1, tzinfo=UTC), updatedDateTime=datetime(2024, 5, 20, tzinfo=UTC))
    write_article(content, "new.md", webUrl="https://example.com/new", publishedDateTime=datetime(2024, 5, 10, tzinfo=UTC))
    parsed = validate_feed(render(main_feed(content), fmt, site), fmt)
    assert datetime(*parsed.feed.updated_parsed[:6], tzinfo=UTC) == datetime(2024, 5, 20, tzinfo=UTC)


def test_the_rss_last_build_date_is_the_newest_items_date(three_articles, site):
    channel = ET.fromstring(render(main_feed(three_articles), "rss", site)).find("channel")
    assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == datetime(2024, 5, 3, 9, 0, tzinfo=UTC)


def test_json_items_carry_title_text_dates_author_and_tags(content, site, validate_feed):
    write_article(content, "a.md", title="A title", excerpt="Some text.", webUrl="https://example.com/a",
                  publishedDateTime=datetime(2024, 5, 1, 9, 0, tzinfo=UTC), topics=["AI", "Machine Learning"],
                  provider={"name": "Example News", "domain": "example.com"})
    [item] = validate_feed(render(main_feed(content), "json", site), "json")["items"]
    assert (item["title"], item["content_text"], item["summary"]) == ("A title", "Some text.", "Some text.")
    assert item["date_published"] in ("2024-05-01T09:00:00Z", "2024-05-01T09:00:00+00:00")
    assert item["tags"] == ["AI", "Machine Learning"]
    assert [author["name"] for author in item["authors"]] == ["Example News"]


@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_an_article_without_an_excerpt_still_has_text(content, site, fmt, validate_feed):
    write_article(content, "a.md", title="Only a title", excerpt=None)
    parsed = validate_feed(render(main_feed(content), fmt, site), fmt)
    text = parsed["items"][0]["content_text"] if fmt == "json" else parsed.entries[0].summary
    assert text == "Only a title"


def test_atom_categories_carry_the_topic_slug_and_name(three_articles, site, validate_feed):
    entry = validate_feed(render(main_feed(three_articles), "atom", site), "atom").entries[0]
    assert [(tag.term, tag.label) for tag in entry.tags] == [("ai", "AI"), ("power-apps", "Power Apps")]


# --- Summaries ----------------------------------------------------------------------

EXCERPT = '<p>An <em>excerpt</em> with &amp; entities, 5 &lt; 6 and <a href="https://x.example">a link</a></p>'
EXCERPT_TEXT = "An excerpt with & entities, 5 < 6 and a link"


def test_the_atom_summary_is_plain_text_without_markup(content, site, validate_feed):
    write_article(content, "a.md", excerpt=EXCERPT)
    data = render(main_feed(content), "atom", site)
    entry = validate_feed(data, "atom").entries[0]
    assert entry.summary_detail.type == "text/plain"
    assert entry.summary == EXCERPT_TEXT
    assert b"<em>" not in data and b"&lt;em&gt;" not in data


def test_the_rss_description_is_the_plain_text_escaped_as_html(content, site, validate_feed):
    write_article(content, "a.md", excerpt=EXCERPT)
    data = render(main_feed(content), "rss", site)
    validate_feed(data, "rss")
    description = ET.fromstring(data).find("channel/item/description").text
    assert "<" not in description  # no markup for a reader to render
    assert html.unescape(description) == EXCERPT_TEXT


def test_the_json_text_is_plain(content, site):
    write_article(content, "a.md", excerpt=EXCERPT)
    [item] = json.loads(render(main_feed(content), "json", site))["items"]
    assert item["content_text"] == item["summary"] == EXCERPT_TEXT
    assert "content_html" not in item


@pytest.mark.parametrize("fmt", FEED_FORMATS)
def test_markup_in_a_title_reaches_readers_as_text(content, site, fmt, read_items):
    write_article(content, "a.md", title="<script>alert('t')</script><b>Bold</b> & \"quoted\"")
    data = render(main_feed(content), fmt, site)
    [item] = read_items(data, fmt)
    assert item["title"] == 'Bold & "quoted"'
    assert b"<script" not in data and b"<b>" not in data


# --- Images --------------------------------------------------------------------

@pytest.fixture
def with_image(content):
    write_article(content, "a.md", webUrl="https://example.com/a",
                  images=[{"url": "javascript:alert(1)"},
                          {"url": "https://img.example/first image.jpg", "width": 800, "height": 450},
                          {"url": "https://img.example/second.jpg"}])
    write_article(content, "b.md", webUrl="https://example.com/b", images=None)
    return content


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_first_valid_image_is_the_media_thumbnail_and_content(with_image, site, fmt, validate_feed):
    entries = {link_key(e.link): e for e in validate_feed(render(main_feed(with_image), fmt, site), fmt).entries}
    with_media, without = entries["https://example.com/a"], entries["https://example.com/b"]
    [thumbnail] = with_media.media_thumbnail
    [media] = with_media.media_content
    assert link_key(thumbnail["url"]) == link_key(media["url"]) == "https://img.example/first image.jpg"
    assert (thumbnail.get("width"), thumbnail.get("height")) == ("800", "450")
    assert media.get("medium") == "image"
    assert "media_thumbnail" not in without and "media_content" not in without


def test_the_first_valid_image_is_the_json_item_image(with_image, site):
    items = {link_key(i["url"]): i for i in json.loads(render(main_feed(with_image), "json", site))["items"]}
    assert link_key(items["https://example.com/a"]["image"]) == "https://img.example/first image.jpg"
    assert "image" not in items["https://example.com/b"]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_images_are_never_wrapped_in_a_media_group(with_image, site, fmt):
    root = ET.fromstring(render(main_feed(with_image), fmt, site))
    assert root.findall(f".//{{{MEDIA_NS}}}group") == []
    assert len(root.findall(f".//{{{MEDIA_NS}}}content")) == 1


# --- The index page and the OPML list --------------------------------------------

def test_the_index_page_links_every_feed_in_every_format(three_articles, site):
    collection = collection_of(three_articles)
    page = Page(index_html(collection, site))
    for feed in collection.all_feeds():
        for fmt in FEED_FORMATS:
            assert f"{feed.path}.{fmt}" in page.hrefs or site.url(f"{feed.path}.{fmt}") in page.hrefs, feed.path
    assert "feeds.opml" in page.hrefs


def test_markup_in_names_shown_on_the_index_page_is_escaped(three_articles):
    site = Site(title="<b>Site</b>", base_url="https://feeds.test/", description="<i>described</i>")
    articles, _ = read_articles(three_articles)
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    articles = [replace(a, topics=(Topic("xss", hostile),), provider_name=hostile) for a in articles]
    page = Page(index_html(collect(articles, NOW), site))
    assert not {"script", "img", "b", "i"} & set(page.tags), page.tags
    text = "".join(page.text)
    assert hostile in text and "<b>Site</b>" in text


def test_the_opml_list_has_an_outline_for_every_feed(three_articles, site):
    collection = collection_of(three_articles)
    root = ET.fromstring(opml(collection, site))
    assert root.tag == "opml" and root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert sorted(urls) == sorted(site.url(f"{feed.path}.atom") for feed in collection.all_feeds())
    assert all(o.get("text") for o in root.iter("outline"))


def test_the_opml_list_follows_its_feeds_as_they_come_go_and_change(three_articles, site):
    """The list's outlines are kept between changes: each version must be
    what a first rendering of the same collection gives."""
    articles, _ = read_articles(three_articles)
    articles = sorted(articles, key=lambda article: article.published, reverse=True)
    first = articles[0]  # the newest: the main feed's date, its provider's name
    versions = [articles, articles[1:],
                [replace(first, topics=(*first.topics, Topic("brand-new", "Brand new"))), *articles[1:]],
                [replace(article, provider_name="Renamed") for article in articles], articles]
    seen = []
    for version in versions:
        collection = collect(version, NOW)
        kept = opml(collection, site)
        _opml_tree.cache_clear()
        assert kept == opml(collection, site)
        seen.append(kept)
    assert len(set(seen)) == 4 and seen[0] == seen[-1]
    assert b"Brand new" in seen[2] and b"Renamed" in seen[3]


def test_the_index_page_and_opml_list_do_not_change_with_the_clock(three_articles, site):
    articles, _ = read_articles(three_articles)
    earlier, later = collect(articles, NOW), collect(articles, NOW + timedelta(days=30))
    assert index_html(earlier, site) == index_html(later, site)
    assert opml(earlier, site) == opml(later, site)


@pytest.mark.parametrize("corpus", ["shared", "hostile"])
def test_a_feeds_formats_rendered_together_are_the_bytes_each_gives_alone(corpus, request, site):
    """Export renders the formats of a feed together (Atom and RSS share one
    generator when no summary needs escaping); readers must not be able to tell."""
    folder = request.getfixturevalue("shared_corpus") if corpus == "shared" else request.getfixturevalue("hostile_corpus").folder
    articles, _ = read_articles(folder)
    feeds = collect(articles, datetime.now(UTC)).all_feeds()
    escaped = [feed for feed in feeds if any(ch in (a.summary or a.title) for a in feed.articles[:site.items_per_feed] for ch in "&<>")]
    assert escaped and len(escaped) < len(feeds), "both the shared and the separate rendering are exercised"
    for feed in feeds:
        for formats in (FEED_FORMATS, ("rss", "atom"), ("atom", "rss"), ("json", "rss")):
            assert render_formats(feed, formats, site) == {fmt: render_feed(feed, fmt, site) for fmt in formats}, feed.path


def test_rss_descriptions_are_escaped_html_when_rendered_with_atom(content, site):
    write_article(content, "amp.md", title="Tags", excerpt="Use <b>bold</b> &amp; more", webUrl="https://example.com/amp",
                  publishedDateTime=datetime(2024, 5, 1, tzinfo=UTC))
    rendered = render_formats(main_feed(content), ("atom", "rss"), site)
    assert ET.fromstring(rendered["rss"]).find("channel/item/description").text == "Use bold &amp; more"
    summary = ET.fromstring(rendered["atom"]).find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}summary")
    assert (summary.text, summary.get("type")) == ("Use bold & more", "text")
