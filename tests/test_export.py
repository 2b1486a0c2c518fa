"""`feeds export`: the static tree of feeds, the index page and the OPML list,
checked the way a feed reader, a browser and a web server would see it."""
from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import (BASE_URL, FORMATS, check_feed, check_feed_files, exported_files, feed_paths, items_of,
                      write_config)
from corpus_builder import (DEFAULT_ITEMS_PER_FEED, expected_articles, expected_feeds, mismatch,
                            write_article)
from page_reader import FEED_PAGE_TAGS, PageReader

UTC = timezone.utc
SUMMARY = re.compile(r"(\d+) documents written, (\d+) unchanged, (\d+) removed")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in exported_files(root)}


def written(exported) -> tuple[int, int, int]:
    match = SUMMARY.search(exported.err)
    assert match, exported.err
    return tuple(map(int, match.groups()))


class Page(HTMLParser):
    def __init__(self, data: bytes):
        super().__init__(convert_charrefs=True)
        self.tags, self.hrefs = [], []
        self.feed(data.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs.extend(v for k, v in attrs if k == "href")


INDEX_TAGS = {"html", "head", "meta", "title", "link", "style", "body", "h1", "h2", "p", "a", "table", "thead",
              "tbody", "tr", "th", "td", "small", "time"}


def assert_every_document_is_valid(root: Path) -> None:
    """Every feed valid in its format; the index page HTML; each feed's page
    HTML listing the feed's items; the OPML list XML with one outline per feed."""
    failures = check_feed_files([(root / f"{path}.{fmt}", fmt) for path in feed_paths(root) for fmt in FORMATS])
    assert not failures, "\n".join(failures[:20])
    page = Page((root / "index.html").read_bytes())
    assert set(page.tags) <= INDEX_TAGS, set(page.tags) - INDEX_TAGS
    for path in feed_paths(root):
        assert f"{path}.atom" in page.hrefs, f"the index page does not link {path}"
        assert f"{path}.html" in page.hrefs, f"the index page does not link the page of {path}"
        assert_feed_page_shows_the_feed(root, path)
    archives = feed_paths(root, archives=True)
    failures = check_feed_files([(root / f"{path}.{fmt}", fmt) for path in archives for fmt in FORMATS])
    assert not failures, "\n".join(failures[:20])
    for path in archives:
        assert_feed_page_shows_the_feed(root, path)
    pages = {p.relative_to(root).as_posix() for p in exported_files(root) if p.suffix == ".html"}
    assert pages == {"index.html"} | {f"{path}.html" for path in feed_paths(root) + archives}
    outline = ET.fromstring((root / "feeds.opml").read_bytes())
    urls = sorted(o.get("xmlUrl") for o in outline.iter("outline") if o.get("xmlUrl"))
    assert urls == sorted(f"{BASE_URL}{path}.atom" for path in feed_paths(root))


def assert_feed_page_shows_the_feed(root: Path, path: str) -> None:
    """The feed's page: markup only from the template, autodiscovery of the
    three formats, and the JSON Feed's items, in its order."""
    page = PageReader((root / f"{path}.html").read_bytes(), f"{BASE_URL}{path}.html")
    assert set(page.tags) <= FEED_PAGE_TAGS, (path, set(page.tags) - FEED_PAGE_TAGS)
    feed_path = path.partition("/archive/")[0]  # an archive page subscribes to its feed
    assert page.feed_links() == {fmt: f"{BASE_URL}{feed_path}.{fmt}" for fmt in FORMATS}, path
    feed = json.loads((root / f"{path}.json").read_bytes())
    assert feed["home_page_url"] == f"{BASE_URL}{path}.html"
    assert [(i["link"], i["title"]) for i in page.items] == [
        (i["url"], " ".join(i["title"].split())) for i in feed["items"]], path
    assert [(i["image"], i["summary"], datetime.fromisoformat(i["date"])) for i in page.items] == [
        (i.get("image"), " ".join(i.get("summary", "").split()), datetime.fromisoformat(i["date_published"]))
        for i in feed["items"]], path


def feed_items(root: Path, path: str, fmt: str) -> list[tuple[str, datetime]]:
    return [(item["link"], item["published"]) for item in items_of((root / f"{path}.{fmt}").read_bytes(), fmt)]


# --- The shared corpus ------------------------------------------------------------

def test_every_document_exported_from_the_shared_corpus_is_valid(shared_export):
    assert_every_document_is_valid(shared_export.path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_corpus_feeds_hold_the_right_articles_newest_first(shared_export, shared_expected, fmt):
    expected = expected_feeds(shared_expected, shared_export.exported_at)
    assert feed_paths(shared_export.path) == sorted(expected)
    wrong = {}
    for path, articles in expected.items():
        problem = mismatch(feed_items(shared_export.path, path, fmt), articles)
        if problem:
            wrong[path] = problem
    assert not wrong, wrong


def test_the_main_feed_shows_50_items_by_default(shared_export, shared_expected):
    published = expected_feeds(shared_expected, shared_export.exported_at)["feed"]
    assert len(published) > DEFAULT_ITEMS_PER_FEED  # else this shows nothing
    for fmt in FORMATS:
        assert len(feed_items(shared_export.path, "feed", fmt)) == DEFAULT_ITEMS_PER_FEED == 50


def test_no_secured_value_of_the_shared_corpus_is_in_any_exported_file(shared_export, shared_secret_scanner):
    for path in shared_export.files():
        assert shared_secret_scanner.leak_in(path.read_bytes()) is None, path


def test_exporting_twice_gives_byte_identical_trees(shared_export, shared_corpus, export_folder):
    again = export_folder(shared_corpus)
    assert tree(again.path) == tree(shared_export.path)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_feed_date_is_the_newest_items_date(shared_export, shared_expected, fmt):
    expected = expected_feeds(shared_expected, shared_export.exported_at)
    for path in expected:
        shown = expected[path][:DEFAULT_ITEMS_PER_FEED]
        parsed = check_feed(shared_export.feed(path, fmt), fmt)
        assert datetime(*parsed.feed.updated_parsed[:6], tzinfo=UTC) == max(a.updated for a in shown), path


def test_no_media_group_in_any_exported_file(shared_export):
    for path in shared_export.files():
        assert b"media:group" not in path.read_bytes() and b"/mrss/}group" not in path.read_bytes(), path


def test_articles_with_images_have_them_in_every_format(shared_export, shared_expected):
    with_image = {a.link for a in shared_expected if any(
        isinstance(i, dict) and str(i.get("url", "")).startswith(("http://", "https://"))
        for i in (a.meta.get("images") or []))}
    atom = items_of(shared_export.feed("feed", "atom"), "atom")
    rss = items_of(shared_export.feed("feed", "rss"), "rss")
    feed = items_of(shared_export.feed("feed", "json"), "json")
    assert any(item["link"] in with_image for item in atom)
    for a, r, j in zip(atom, rss, feed):
        has = a["link"] in with_image
        assert bool(a["raw"].get("media_thumbnail")) is has, a["link"]
        assert bool(r["raw"].get("media_content")) is has, r["link"]
        assert ("image" in j["raw"]) is has, j["link"]


# --- The hostile corpus -----------------------------------------------------------

def test_every_document_exported_from_the_hostile_corpus_is_valid(hostile_export):
    assert_every_document_is_valid(hostile_export.path)


def test_each_bad_file_is_reported_on_stderr_with_its_name_and_reason(hostile_export, hostile_corpus):
    lines = hostile_export.err.splitlines()
    for source, words in hostile_corpus.problems.items():
        reported = [line for line in lines if line.startswith(f"{source}: ")]
        assert len(reported) == 1, f"{source} reported {len(reported)} times"
        assert words in reported[0]


def test_good_articles_beside_bad_files_are_all_published(hostile_export, hostile_corpus):
    good = expected_articles(hostile_corpus.folder, skip=hostile_corpus.problems)
    assert sorted(a.source for a in good) == sorted(p for p in hostile_corpus.listing if p.startswith("good/"))
    for fmt in FORMATS:
        shown = {link for link, _ in feed_items(hostile_export.path, "feed", fmt)}
        assert shown == {a.link for a in good}, fmt


@pytest.mark.parametrize("path", ["feed", "topics/ai", "topics/machine-learning", "topics/policy-regulation",
                                  "topics/zurich", "providers/example.com", "providers/evil.example"])
def test_hostile_corpus_feeds_hold_the_right_articles(hostile_export, hostile_corpus, path):
    expected = expected_feeds(expected_articles(hostile_corpus.folder, skip=hostile_corpus.problems),
                              hostile_export.exported_at)
    for fmt in FORMATS:
        problem = mismatch(feed_items(hostile_export.path, path, fmt), expected[path])
        assert problem is None, f"{path}.{fmt}: {problem}"


def test_markup_never_reaches_the_index_page_as_markup(hostile_export):
    page = Page((hostile_export.path / "index.html").read_bytes())
    assert set(page.tags) <= INDEX_TAGS, set(page.tags) - INDEX_TAGS


def test_markup_in_titles_reaches_feeds_only_as_text(hostile_export):
    for fmt in FORMATS:
        data = hostile_export.feed("feed", fmt)
        assert b"<script" not in data.lower() and b"<b>" not in data, fmt
        titles = [item["title"] for item in items_of(data, fmt)]
        assert not [t for t in titles if re.search(r"<\s*[a-z/]", t)], titles


def test_javascript_links_are_in_no_exported_file(hostile_export):
    for path in hostile_export.files():
        assert b"javascript:" not in path.read_bytes().lower(), path


def test_no_file_is_created_outside_the_export_folder(hostile_export, hostile_corpus):
    root = hostile_export.path.resolve()
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder, name)
            assert not path.is_symlink(), path
            assert root in path.resolve().parents, path
            assert re.fullmatch(r"\.?[a-z0-9][a-z0-9.-]*", name), path
    assert [p.name for p in root.parent.iterdir()] == [root.name], "something was written next to the export folder"
    assert sorted(p.relative_to(hostile_corpus.folder).as_posix()
                  for p in hostile_corpus.folder.rglob("*")) == hostile_corpus.listing
    assert {p.name for p in hostile_corpus.folder.parent.iterdir()} == {hostile_corpus.folder.name}


def test_topic_and_provider_file_names_are_plain_slugs_and_host_names(hostile_export):
    slug = r"[a-z0-9]+(-[a-z0-9]+)*"
    host = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
    for path in feed_paths(hostile_export.path):
        assert path == "feed" or re.fullmatch(f"topics/{slug}|providers/{host}", path), path


def test_a_600_kb_excerpt_is_cut_to_the_summary_limit(hostile_export):
    [item] = [i["raw"] for i in items_of(hostile_export.feed("feed", "json"), "json")
              if i["link"] == "https://example.com/huge"]
    assert 0 < len(item["summary"]) <= 1000 and item["summary"].endswith("\u2026")
    assert len(hostile_export.feed("feed", "json")) < 100_000


def test_an_article_with_300_topics_has_300_valid_topic_feeds(hostile_export):
    topics = [p for p in feed_paths(hostile_export.path) if re.fullmatch(r"topics/topic-\d+", p)]
    assert sorted(topics) == sorted(f"topics/topic-{i}" for i in range(300))
    for fmt in FORMATS:
        [item] = items_of(hostile_export.feed("topics/topic-299", fmt), fmt)
        assert item["link"] == "https://example.com/many"
    entry = check_feed(hostile_export.feed("feed", "atom"), "atom").entries
    [many] = [e for e in entry if e.link == "https://example.com/many"]
    assert len(many.tags) == 300


def test_control_characters_never_reach_an_exported_file(hostile_export):
    control = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")
    for path in hostile_export.files():
        assert not control.search(path.read_bytes()), path


def test_no_secured_value_of_the_hostile_corpus_is_in_any_exported_file(hostile_export, builder_secret_scanner):
    for path in hostile_export.files():
        assert builder_secret_scanner.leak_in(path.read_bytes()) is None, path


def test_dates_in_rfc_822_and_without_a_zone_are_published_in_utc(hostile_export):
    dates = {link: when for link, when in feed_items(hostile_export.path, "feed", "json")}
    assert dates["https://example.com/rfc822"] == datetime(2024, 7, 1, 7, 30, tzinfo=UTC)
    assert dates["https://example.com/naive"] == datetime(2024, 7, 2, 10, 0, tzinfo=UTC)
    assert dates["https://example.com/bom"] == datetime(2024, 3, 3, 3, 3, tzinfo=UTC)


# --- Re-exporting -----------------------------------------------------------------

@pytest.fixture
def small_site(content):
    for n in range(4):
        write_article(content, f"{n}.md", title=f"Article {n}", webUrl=f"https://example.com/{n}",
                      publishedDateTime=datetime(2024, 5, 1 + n, 8, 0, tzinfo=UTC),
                      topics=["AI", f"Only {n}"], provider={"name": f"P{n % 2}", "domain": f"p{n % 2}.example"})
    return content


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino) for p in exported_files(root)}


def test_a_re_export_into_the_same_folder_rewrites_nothing(small_site, export_folder, tmp_path):
    first = export_folder(small_site, outdir=tmp_path / "out")
    before = snapshot(first.path)  # a rewrite, even within the same clock tick, changes the inode
    second = export_folder(small_site, outdir=tmp_path / "out")
    assert written(second) == (0, len([p for p in before if not p.startswith(".")]), 0)
    assert snapshot(second.path) == before


def test_a_changed_article_rewrites_only_the_files_that_show_it(small_site, export_folder, tmp_path):
    export_folder(small_site, outdir=tmp_path / "out")
    before = tree(tmp_path / "out")
    write_article(small_site, "3.md", title="Article 3, corrected", webUrl="https://example.com/3",
                  publishedDateTime=datetime(2024, 5, 4, 8, 0, tzinfo=UTC), topics=["AI", "Only 3"],
                  provider={"name": "P1", "domain": "p1.example"})
    again = export_folder(small_site, outdir=tmp_path / "out")
    changed = {p for p, data in tree(again.path).items() if before.get(p) != data and not p.startswith(".")}
    showing = {f"{path}.{fmt}" for path in ("feed", "topics/ai", "topics/only-3", "providers/p1.example")
               for fmt in (*FORMATS, "html")}
    assert changed == showing
    assert written(again)[0] == len(showing)


def test_removing_an_articles_topic_removes_that_topics_files(small_site, export_folder, tmp_path):
    first = export_folder(small_site, outdir=tmp_path / "out")
    assert (first.path / "topics/only-2.atom").exists()
    write_article(small_site, "2.md", title="Article 2", webUrl="https://example.com/2",
                  publishedDateTime=datetime(2024, 5, 3, 8, 0, tzinfo=UTC), topics=["AI"],
                  provider={"name": "P0", "domain": "p0.example"})
    second = export_folder(small_site, outdir=tmp_path / "out")
    assert not any((second.path / f"topics/only-2.{fmt}").exists() for fmt in (*FORMATS, "html"))
    assert written(second)[2] == 4  # three formats and the page
    assert "topics/only-2" not in feed_paths(second.path)
    assert b"only-2" not in (second.path / "index.html").read_bytes()
    assert b"only-2" not in (second.path / "feeds.opml").read_bytes()


def test_a_deleted_article_leaves_every_feed_on_re_export(small_site, export_folder, tmp_path):
    export_folder(small_site, outdir=tmp_path / "out")
    (small_site / "1.md").unlink()
    second = export_folder(small_site, outdir=tmp_path / "out")
    for path in feed_paths(second.path):
        for fmt in FORMATS:
            assert "https://example.com/1" not in [link for link, _ in feed_items(second.path, path, fmt)]
    assert "providers/p1.example" in feed_paths(second.path)  # article 3 is still there


def test_files_the_tool_did_not_write_are_left_alone(small_site, export_folder, tmp_path):
    out = tmp_path / "out"
    (out / "topics").mkdir(parents=True)
    (out / "robots.txt").write_text("User-agent: *\n")
    (out / "topics" / "handmade.atom").write_text("<feed/>")
    export_folder(small_site, outdir=out)
    (small_site / "0.md").unlink()
    export_folder(small_site, outdir=out)
    assert (out / "robots.txt").read_text() == "User-agent: *\n"
    assert (out / "topics" / "handmade.atom").read_text() == "<feed/>"


def test_no_exported_file_contains_the_current_time(small_site, export_folder):
    start = datetime.now(UTC)
    exported = export_folder(small_site)
    stamps = set()
    for when in (start - timedelta(days=1), start, datetime.now(UTC), datetime.now(UTC) + timedelta(days=1)):
        stamps |= {when.strftime("%Y-%m-%d").encode(), when.strftime("%d %b %Y").encode()}
    for path in exported.files():
        data = path.read_bytes()
        assert not [s for s in stamps if s in data], path


def test_item_ids_stay_the_same_when_a_title_and_file_name_change(small_site, export_folder, tmp_path):
    first = export_folder(small_site, outdir=tmp_path / "one")
    (small_site / "2.md").unlink()
    write_article(small_site, "renamed/two.md", title="A better title", webUrl="https://example.com/2",
                  publishedDateTime=datetime(2024, 5, 3, 8, 0, tzinfo=UTC), topics=["AI"])
    second = export_folder(small_site, outdir=tmp_path / "two")
    for fmt in FORMATS:
        before = {i["link"]: i["id"] for i in items_of(first.feed("feed", fmt), fmt)}
        after = {i["link"]: (i["id"], i["title"]) for i in items_of(second.feed("feed", fmt), fmt)}
        assert after["https://example.com/2"] == (before["https://example.com/2"], "A better title")
        assert {link: i for link, (i, _) in after.items()} == before


def test_item_ids_are_unique_within_every_feed(shared_export):
    for path in feed_paths(shared_export.path):
        for fmt in FORMATS:
            ids = [item["id"] for item in items_of(shared_export.feed(path, fmt), fmt)]
            assert len(ids) == len(set(ids)), f"{path}.{fmt}"


# --- Settings -----------------------------------------------------------------------

def test_items_per_feed_comes_from_the_configuration_file(small_site, export_folder, tmp_path):
    config = write_config(tmp_path / "three.toml", title="Three", base_url=BASE_URL, items_per_feed=3)
    exported = export_folder(small_site, config=config)
    expected = expected_feeds(expected_articles(small_site), datetime.now(UTC))
    for path, articles in expected.items():
        for fmt in FORMATS:
            assert mismatch(feed_items(exported.path, path, fmt), articles, limit=3) is None, f"{path}.{fmt}"
    assert len(feed_items(exported.path, "feed", "json")) == 3


def test_the_summary_limit_comes_from_the_configuration_file(content, export_folder, tmp_path):
    write_article(content, "a.md", excerpt="word " * 100)
    config = write_config(tmp_path / "short.toml", title="Short", base_url=BASE_URL, max_summary_chars=40)
    [item] = json.loads(export_folder(content, config=config).feed("feed", "json"))["items"]
    assert len(item["summary"]) <= 40


def test_feed_addresses_use_the_base_url(small_site, export_folder):
    exported = export_folder(small_site, "--base-url", "https://news.example.org/feeds")
    feed = json.loads(exported.feed("topics/ai", "json"))
    assert feed["feed_url"] == "https://news.example.org/feeds/topics/ai.json"
    assert feed["home_page_url"] == "https://news.example.org/feeds/topics/ai.html"
    atom = check_feed(exported.feed("feed", "atom"), "atom")
    assert "https://news.example.org/feeds/feed.atom" in [link.href for link in atom.feed.links]


def test_an_empty_content_folder_exports_valid_empty_feeds(content, export_folder):
    exported = export_folder(content)
    assert feed_paths(exported.path) == ["feed"]
    assert_every_document_is_valid(exported.path)
