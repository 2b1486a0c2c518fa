"""Collecting articles into feeds: what is published, in which order, and which
topic and provider feeds exist."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from corpus_builder import expected_feeds, link_key, mismatch, write_article
from feeds.builder.collection import collect, next_due
from feeds.read import read_articles

UTC = timezone.utc
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def day(n: int) -> datetime:
    """n days before NOW."""
    return NOW - timedelta(days=n)


def read(content):
    articles, problems = read_articles(content)
    assert problems == []
    return articles


def links(feed) -> list[str]:
    return [a.link for a in feed.articles]


def test_every_published_article_is_in_the_main_feed_newest_first(content):
    for n in (3, 1, 2):
        write_article(content, f"{n}.md", webUrl=f"https://example.com/{n}", publishedDateTime=day(n))
    assert links(collect(read(content), NOW).main) == [f"https://example.com/{n}" for n in (1, 2, 3)]


def test_drafts_are_not_published(content):
    write_article(content, "draft.md", webUrl="https://example.com/draft", published=False, topics=["Secret"])
    write_article(content, "public.md", webUrl="https://example.com/public")
    collection = collect(read(content), NOW)
    assert links(collection.main) == ["https://example.com/public"]
    assert "secret" not in {feed.key for feed in collection.topics}


def test_future_articles_are_published_once_their_time_has_come(content):
    write_article(content, "later.md", webUrl="https://example.com/later", publishedDateTime=NOW + timedelta(hours=1))
    write_article(content, "now.md", webUrl="https://example.com/now", publishedDateTime=NOW)
    articles = read(content)
    assert links(collect(articles, NOW).main) == ["https://example.com/now"]
    assert next_due(articles, NOW) == NOW + timedelta(hours=1)
    assert links(collect(articles, NOW + timedelta(hours=1)).main) == ["https://example.com/later",
                                                                         "https://example.com/now"]


def test_a_future_draft_is_never_due(content):
    write_article(content, "later.md", publishedDateTime=NOW + timedelta(hours=1), published=False)
    assert next_due(read(content), NOW) is None


def test_the_same_link_is_published_once_as_its_newest_copy(content):
    write_article(content, "old.md", title="Old copy", webUrl="https://example.com/story", publishedDateTime=day(5))
    write_article(content, "new.md", title="New copy", webUrl="https://example.com/story", publishedDateTime=day(1))
    write_article(content, "other.md", webUrl="https://example.com/other", publishedDateTime=day(3))
    feed = collect(read(content), NOW).main
    assert links(feed) == ["https://example.com/story", "https://example.com/other"]
    assert feed.articles[0].title == "New copy"


def test_an_original_url_matching_another_files_web_url_is_the_same_article(content):
    write_article(content, "a.md", title="Web", webUrl="https://example.com/story", publishedDateTime=day(2))
    write_article(content, "b.md", title="Original", webUrl=None, originalUrl="https://example.com/story",
                  publishedDateTime=day(1))
    feed = collect(read(content), NOW).main
    assert [a.title for a in feed.articles] == ["Original"]


def test_a_draft_copy_does_not_hide_the_published_copy(content):
    write_article(content, "a.md", title="Public", webUrl="https://example.com/story", publishedDateTime=day(2))
    write_article(content, "b.md", title="Draft", webUrl="https://example.com/story", publishedDateTime=day(1),
                  published=False)
    assert [a.title for a in collect(read(content), NOW).main.articles] == ["Public"]


def test_the_order_does_not_depend_on_the_order_files_are_read(content):
    for n in range(12):  # several share a time stamp
        write_article(content, f"{n}.md", webUrl=f"https://example.com/{n}", publishedDateTime=day(n // 3),
                      topics=["AI"])
    articles = read(content)
    expected = collect(articles, NOW)
    rng = random.Random(4)
    for _ in range(5):
        rng.shuffle(articles)
        assert collect(articles, NOW) == expected


def test_a_topic_feed_holds_every_published_article_with_that_topic(content):
    write_article(content, "a.md", webUrl="https://example.com/a", topics=["AI", "Power Apps"], publishedDateTime=day(1))
    write_article(content, "b.md", webUrl="https://example.com/b", topics=["Power Apps"], publishedDateTime=day(2))
    write_article(content, "c.md", webUrl="https://example.com/c", topics=["AI"], publishedDateTime=day(3),
                  published=False)
    feeds = collect(read(content), NOW).by_path()
    assert links(feeds["topics/ai"]) == ["https://example.com/a"]
    assert links(feeds["topics/power-apps"]) == ["https://example.com/a", "https://example.com/b"]


def test_topics_that_differ_in_case_share_one_feed_named_by_the_most_used_spelling(content):
    for n, name in enumerate(["AI", "ai", "AI"]):
        write_article(content, f"{n}.md", webUrl=f"https://example.com/{n}", topics=[name])
    [topic] = collect(read(content), NOW).topics
    assert (topic.key, topic.name, topic.path, len(topic.articles)) == ("ai", "AI", "topics/ai", 3)


def test_provider_feeds_group_articles_by_domain(content):
    write_article(content, "a.md", webUrl="https://example.com/a", provider={"name": "Example", "domain": "Example.com"})
    write_article(content, "b.md", webUrl="https://example.com/b", provider={"name": "Example", "domain": "example.com"})
    write_article(content, "c.md", webUrl="https://news.example.org/c", provider=None)
    providers = {feed.path: len(feed.articles) for feed in collect(read(content), NOW).providers}
    assert providers == {"providers/example.com": 2, "providers/news.example.org": 1}


def test_topics_and_providers_of_drafts_alone_get_no_feed(content):
    write_article(content, "d.md", webUrl="https://draft.example/d", topics=["Hidden"], published=False,
                  provider={"name": "Draft", "domain": "draft.example"})
    collection = collect(read(content), NOW)
    assert (collection.main.articles, collection.topics, collection.providers) == ((), (), ())


def test_collecting_an_empty_folder_gives_an_empty_main_feed(content):
    collection = collect(read(content), NOW)
    assert collection.main.path == "feed" and collection.main.articles == ()
    assert collection.all_feeds() == (collection.main,)


@pytest.fixture(scope="module")
def shared_articles(shared_corpus):
    return read_articles(shared_corpus)[0]


def test_the_shared_corpus_is_collected_by_the_publishing_rules(shared_articles, shared_expected):
    now = datetime.now(UTC)
    articles = shared_articles
    actual = {feed.path: [(link_key(a.link), a.published) for a in feed.articles]
              for feed in collect(articles, now).all_feeds()}
    expected = expected_feeds(shared_expected, now)
    assert sorted(actual) == sorted(expected)
    for path, items in expected.items():
        problem = mismatch(actual[path], items, limit=len(items))
        assert problem is None, f"{path}: {problem}"


def test_the_shared_corpus_holds_what_the_rules_are_about(shared_articles, shared_expected):
    # The rules above are only tested if the corpus has drafts, a link published
    # twice, topic names to slug, and topic and provider feeds that are not trivial.
    feeds = collect(shared_articles, datetime.now(UTC)).by_path()
    assert len(feeds["feed"].articles) > 50
    assert any(a.draft for a in shared_expected) and any(not a.draft for a in shared_expected)
    assert len({a.link for a in shared_expected}) < len(shared_expected), "no link is published twice"
    for kind in ("topic", "provider"):
        assert sum(len(f.articles) > 1 for f in feeds.values() if f.kind == kind) >= 3, kind
    assert any(len(f.articles) > 1 and f.name.lower() != f.key for f in feeds.values() if f.kind == "topic"), \
        "no topic name needed slugging"


def test_every_feed_path_of_the_hostile_corpus_is_a_safe_relative_path(hostile_corpus):
    articles, _ = read_articles(hostile_corpus.folder)
    for feed in collect(articles, NOW).all_feeds():
        parts = feed.path.split("/")
        assert parts[0] in ("feed", "topics", "providers") and len(parts) <= 2, feed.path
        assert all(part and part not in (".", "..") and "\\" not in part and part.isascii() for part in parts), feed.path
