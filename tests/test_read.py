"""Reading article files: which files become articles, what is taken from them,
and how a file that cannot be published is reported."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from corpus_builder import BAD_FILES, SECRET, article_text, link_key, slug_of, write_article
from feeds.read import Limits, item_id, parse_article, read_article, read_articles
from feeds.records import Article, Problem

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
UTC = timezone.utc


def read(content: Path, name: str = "article.md", **fields) -> Article | Problem:
    return read_article(write_article(content, name, **fields), content)


def read_bytes(content: Path, name: str, data: bytes) -> Article | Problem:
    path = content / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return read_article(path, content)


def published(result) -> Article:
    assert isinstance(result, Article), f"skipped: {result}"
    return result


# --- What an article is made of ----------------------------------------------

def test_an_article_file_becomes_an_article_with_its_title_link_and_date(content):
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    article = published(read(content, "news/one.md", title="One", webUrl="https://example.com/one",
                             publishedDateTime=when, excerpt="First."))
    assert (article.title, article.link, article.published, article.summary) == \
        ("One", "https://example.com/one", when, "First.")
    assert article.source == "news/one.md"
    assert not article.draft


def test_articles_are_found_in_subfolders(content):
    write_article(content, "a.md", webUrl="https://example.com/a")
    write_article(content, "2024/05/b.md", webUrl="https://example.com/b")
    articles, problems = read_articles(content)
    assert sorted(a.source for a in articles) == ["2024/05/b.md", "a.md"]
    assert problems == []


def test_a_folder_that_cannot_be_listed_is_reported_and_the_rest_is_read(content, monkeypatch):
    write_article(content, "open.md", title="Readable")
    write_article(content, "locked/inside.md", title="Behind a locked door")
    real_scandir = os.scandir

    def scandir(path):
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)
    monkeypatch.setattr(os, "scandir", scandir)
    articles, problems = read_articles(content)
    assert [a.title for a in articles] == ["Readable"]
    assert [(p.source, p.message) for p in problems] == [("locked/", "cannot read folder: Permission denied")]


def test_readme_license_hidden_files_and_other_suffixes_are_not_articles(content):
    for name in ("README.md", "LICENSE.md", "CHANGELOG.md", "CONTRIBUTING.md", ".draft.md",
                 ".git/x.md", "notes.txt", "article.markdown"):
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Not an article\n", encoding="utf-8")
    write_article(content, "real.md")
    articles, problems = read_articles(content)
    assert [a.source for a in articles] == ["real.md"]
    assert problems == []


def test_a_numeric_title_is_published_as_text(content):
    assert published(read(content, title=12345)).title == "12345"


def test_values_of_the_wrong_kind_do_not_withhold_the_article(content):
    article = published(read(content, excerpt={"nested": ["junk"]}, topics={"not": "a list"},
                             images="not a list", provider="not a map", published="yes"))
    assert (article.summary, article.topics, article.image, article.draft) == ("", (), None, False)


# --- Bad files: skipped and reported -------------------------------------------

@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_each_kind_of_bad_file_is_skipped_with_its_name_and_the_reason(content, name):
    data, words = BAD_FILES[name]
    problem = read_bytes(content, f"bad/{name}", data)
    assert isinstance(problem, Problem)
    assert problem.skipped
    assert problem.source == f"bad/{name}"
    assert words in problem.message
    assert str(problem) == f"bad/{name}: {problem.message}"


def test_a_file_larger_than_the_limit_is_skipped(content):
    data = article_text(excerpt="x" * 2_000).encode()
    assert isinstance(read_bytes(content, "big.md", data), Article)  # fits the default limit
    problem = read_article(content / "big.md", content, Limits(max_file_bytes=len(data) - 1))
    assert isinstance(problem, Problem)
    assert "larger than" in problem.message and str(len(data) - 1) in problem.message


def test_every_bad_file_of_the_hostile_corpus_is_reported_and_every_good_one_read(hostile_corpus):
    articles, problems = read_articles(hostile_corpus.folder)
    reported = {p.source: p.message for p in problems}
    assert sorted(reported) == sorted(hostile_corpus.problems)
    for source, words in hostile_corpus.problems.items():
        assert words in reported[source], f"{source}: {reported[source]}"
    good = sorted(p for p in hostile_corpus.listing if p.startswith("good/"))
    assert sorted(a.source for a in articles) == good


def test_problem_reports_never_quote_the_secured_value(hostile_corpus, builder_secret_scanner):
    _, problems = read_articles(hostile_corpus.folder)
    assert problems
    for problem in problems:
        assert builder_secret_scanner.leak_in(str(problem)) is None, str(problem)


def test_a_secured_value_on_the_line_of_a_yaml_error_is_not_quoted(content):
    data = f"---\ntitle: x\nsecured: {SECRET} [\npublishedDateTime: 2024-01-01\n---\n".encode()
    problem = read_bytes(content, "broken.md", data)
    assert isinstance(problem, Problem)
    assert SECRET not in problem.message and SECRET.split(";")[0] not in problem.message


# --- How front matter is read ---------------------------------------------------

def front(lines: str) -> bytes:
    return ("---\n" + lines + "publishedDateTime: 2024-05-01T08:00:00Z\nwebUrl: https://example.com/a\n---\n").encode()


@pytest.mark.parametrize("title", ["Yes", "No", "on", "1:30", "null island"])
def test_a_title_that_looks_like_another_type_is_published_as_written(content, title):
    """Front matter is YAML 1.2: `Yes` is a word, not a boolean, and `1:30` is
    not ninety."""
    article = published(read_bytes(content, "words.md", front(f"title: {title}\n")))
    assert article.title == title


def test_anchors_and_merge_keys_are_honoured(content):
    data = front("title: Merged\nbase: &base\n  name: Example News\n  domain: news.example.org\n"
                 "provider:\n  <<: *base\n  name: Example News Daily\n")
    article = published(read_bytes(content, "merge.md", data))
    assert (article.provider_key, article.provider_name) == ("news.example.org", "Example News Daily")


def test_a_quoted_title_continued_on_an_unindented_line_is_still_read(content):
    """Strict YAML 1.2 wants continuation lines indented; hand-written files
    often are not, and the article is not lost for it."""
    data = front('title: "A title that\ncontinues on the next line"\n')
    assert published(read_bytes(content, "wrapped.md", data)).title == "A title that continues on the next line"


def test_an_inline_merge_key_is_honoured(content):
    data = front("title: Merged inline\nprovider:\n  <<: {name: Example News, domain: news.example.org}\n")
    article = published(read_bytes(content, "inline-merge.md", data))
    assert (article.provider_key, article.provider_name) == ("news.example.org", "Example News")


@pytest.mark.parametrize("tagged", [False, True])
def test_brackets_nested_past_what_a_parser_can_take_are_a_reported_problem(content, tagged):
    """Tens of thousands of nested brackets crash libyaml's composer (a C
    recursion): the file is refused before either parser can fall over."""
    depth = 40_000
    data = front(f"title: Deep\nx: {'!!seq ' if tagged else ''}{'[' * depth}{']' * depth}\n")
    result = read_bytes(content, "deep.md", data)
    assert isinstance(result, Problem) and "nested too deeply" in result.message


def test_yaml_errors_name_the_line_of_the_file(content):
    problem = read_bytes(content, "broken-line.md", b"---\ntitle: fine\nexcerpt: a: b\n---\n")
    assert isinstance(problem, Problem) and "line 3, column 11" in problem.message, problem.message


def test_a_repeated_key_takes_its_last_value(content):
    assert published(read_bytes(content, "twice.md", front("title: First\ntitle: Second\n"))).title == "Second"


def test_a_nul_byte_does_not_cut_the_front_matter_short(content):
    data = front("title: Before\x00after\n")
    article = published(read_bytes(content, "nul.md", data))
    assert (article.title, article.link) == ("Beforeafter", "https://example.com/a")


@pytest.mark.parametrize("closing", ["-----", "---   ", "---\t"])
def test_the_closing_line_may_have_more_dashes_or_trailing_blanks(content, closing):
    data = front("title: Closed\n").decode().replace("\n---\n", f"\n{closing}\n", 1)
    data = data[:-1] + "\nBody text.\n---\nmore: body\n"
    article = published(read_bytes(content, "closing.md", data.encode()))
    assert (article.title, article.link) == ("Closed", "https://example.com/a")


def test_a_line_starting_with_dashes_inside_the_front_matter_does_not_close_it(content):
    article = published(read_bytes(content, "dashes.md", front("title: Dashes\n---not a boundary: x\n")))
    assert (article.title, article.link) == ("Dashes", "https://example.com/a")


# --- Text that needs cleaning is cleaned, not refused --------------------------

def test_control_characters_are_removed_from_the_title_and_excerpt(content):
    title = "Control\x01chars\x07 in\x1b title"
    excerpt = "Bell\x07 and nul\x00 and C1\x9b controls"
    article = published(read(content, title=title, excerpt=excerpt))
    assert article.title == CONTROL.sub("", title)
    assert article.summary == CONTROL.sub("", excerpt)


@pytest.mark.parametrize("title", ["  Spaced   out title ", "Spaced out\ttitle", "Spaced\u00a0out  title"])
def test_runs_of_white_space_in_a_title_become_single_spaces(content, title):
    assert published(read(content, title=title)).title == "Spaced out title"


def test_raw_control_bytes_in_the_file_do_not_make_it_unreadable(content):
    data = article_text(title="Raw control").replace("Raw control", "Raw\x07\x01 control").encode()
    assert published(read_bytes(content, "raw.md", data)).title == "Raw control"


def test_a_byte_order_mark_and_crlf_line_ends_are_fine(content):
    text = article_text(title="BOM and CRLF", excerpt="Line one.", webUrl="https://example.com/bom")
    article = published(read_bytes(content, "bom.md", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()))
    assert (article.title, article.summary, article.link) == ("BOM and CRLF", "Line one.", "https://example.com/bom")


def test_excerpt_markup_is_stripped_to_plain_text_with_entities_decoded(content):
    article = published(read(content, excerpt='<p onclick="x()">An <em>excerpt</em> with &amp; and &lt;b&gt; '
                                              '<a href="javascript:alert(1)">links</a><script>steal()</script></p>'))
    assert article.summary == "An excerpt with & and <b> links"


def test_markup_in_a_title_is_reduced_to_its_text(content):
    article = published(read(content, title="<b>Bold</b> &amp; <i>brave</i><script>alert(1)</script>"))
    assert article.title == "Bold & brave"


def test_a_huge_excerpt_is_cut_at_a_word_to_the_summary_limit(content):
    text = article_text(excerpt="HUGE").replace("HUGE", "word " * 120_000)  # 600 KB, quicker than YAML-dumping it
    article = published(read_bytes(content, "huge.md", text.encode()))
    limit = Limits().max_summary_chars
    assert len(article.summary) <= limit
    assert article.summary.endswith("\u2026")
    assert set(article.summary[:-1].split(" ")) == {"word"}


def test_the_summary_limit_is_adjustable(content):
    path = write_article(content, "a.md", excerpt="word " * 100)
    article = published(read_article(path, content, Limits(max_summary_chars=30)))
    assert len(article.summary) <= 30 and article.summary.endswith("\u2026")


# --- Dates -------------------------------------------------------------------

def test_rfc_822_dates_are_read_and_converted_to_utc(content):
    article = published(read(content, publishedDateTime="Mon, 01 Jul 2024 09:30:00 +0200"))
    assert article.published == datetime(2024, 7, 1, 7, 30, tzinfo=UTC)


@pytest.fixture
def local_time_is_not_utc(monkeypatch):
    """A machine whose local time is New York's: naive dates must still be UTC."""
    if not hasattr(time, "tzset"):
        pytest.skip("cannot change the local time zone here")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("value", ["2024-07-02 10:00:00", "2024-07-02T10:00:00", datetime(2024, 7, 2, 10, 0)])
def test_dates_without_a_time_zone_are_utc(content, value, local_time_is_not_utc):
    assert published(read(content, publishedDateTime=value)).published == datetime(2024, 7, 2, 10, 0, tzinfo=UTC)


def test_offsets_are_converted_to_utc(content):
    value = datetime(2024, 7, 2, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert published(read(content, publishedDateTime=value)).published == datetime(2024, 7, 2, 15, 0, tzinfo=UTC)


def test_a_date_without_a_time_is_midnight_utc(content):
    assert published(read(content, publishedDateTime=date(2024, 3, 4))).published == datetime(2024, 3, 4, tzinfo=UTC)


def test_a_time_without_a_date_is_not_dated_today(content):
    # Whatever day the export runs, the same file must give the same feed.
    result = read(content, publishedDateTime="12:00")
    assert isinstance(result, Problem), f"dated {result.published.isoformat()}"
    assert "publishedDateTime" in result.message


def test_a_month_without_a_day_does_not_take_todays_day(content):
    result = read(content, publishedDateTime="March 2024")
    if isinstance(result, Article):
        assert result.published == datetime(2024, 3, 1, tzinfo=UTC), \
            f"'March 2024' read as {result.published.isoformat()} (today is the {date.today().day})"


def test_an_update_stamp_earlier_than_publication_is_ignored(content):
    when = datetime(2024, 5, 6, tzinfo=UTC)
    article = published(read(content, publishedDateTime=when, updatedDateTime=when - timedelta(days=3)))
    assert article.updated == when


def test_a_later_update_stamp_is_the_articles_update_date(content):
    when = datetime(2024, 5, 6, tzinfo=UTC)
    article = published(read(content, publishedDateTime=when, updatedDateTime=when + timedelta(days=3)))
    assert (article.published, article.updated) == (when, when + timedelta(days=3))


def test_a_bad_update_stamp_does_not_withhold_the_article(content):
    when = datetime(2024, 5, 6, tzinfo=UTC)
    assert published(read(content, publishedDateTime=when, updatedDateTime="whenever")).updated == when


# --- Drafts ------------------------------------------------------------------

@pytest.mark.parametrize("line, draft", [
    ("published: false", True), ("published: no", True), ("published: 'no'", True),
    ("published: 'false'", True), ("published: true", False), ("published: yes", False),
    ("", False),  # absent: published
])
def test_published_false_or_no_marks_a_draft(content, line, draft):
    text = article_text(published=None).replace("---\n", f"---\n{line}\n", 1)
    assert published(read_bytes(content, "a.md", text.encode())).draft is draft


# --- Links ------------------------------------------------------------------

def test_the_web_url_is_the_link(content):
    article = published(read(content, webUrl="https://example.com/web", originalUrl="https://example.org/original"))
    assert article.link == "https://example.com/web"


@pytest.mark.parametrize("web_url", [None, "javascript:alert(document.cookie)", "/relative/path", "mailto:a@example.com"])
def test_the_original_url_is_the_link_when_the_web_url_is_missing_or_not_a_web_address(content, web_url):
    article = published(read(content, webUrl=web_url, originalUrl="https://example.org/original"))
    assert article.link == "https://example.org/original"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>x</script>", "ftp://example.com/x",
                                 "file:///etc/passwd", "https://", "not a url"])
def test_an_article_without_an_http_link_is_skipped(content, url):
    problem = read(content, webUrl=url, originalUrl=url)
    assert isinstance(problem, Problem) and "no http(s) link" in problem.message


def test_links_with_spaces_markup_and_international_names_are_made_valid(content):
    url = "https://例え.テスト/パス?q=<a b>"
    article = published(read(content, webUrl=url))
    assert article.link.isascii() and " " not in article.link and "<" not in article.link
    assert link_key(article.link) == link_key(url)


# --- Topics -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["AI", "AI in Finance", "Model-driven apps", "Power  Apps", "C# & .NET", "Zürich",
                                  "Policy & Regulation", "Teams integration"])
def test_a_topic_slug_is_lowercase_ascii_letters_digits_and_single_hyphens(content, name):
    [topic] = published(read(content, topics=[name])).topics
    assert SLUG.match(topic.slug), topic.slug
    assert topic.slug == slug_of(name)
    assert topic.name == " ".join(name.split())


def test_topics_differing_only_in_case_are_one_topic(content):
    article = published(read(content, topics=["AI", "ai", "Ai ", "Machine Learning", "machine learning"]))
    assert [t.slug for t in article.topics] == ["ai", "machine-learning"]


def test_a_single_topic_may_be_given_as_a_string(content):
    assert [t.slug for t in published(read(content, topics="Power Apps")).topics] == ["power-apps"]


@pytest.mark.parametrize("name", ["..", "../../outside", "/etc/passwd", "....//", "..\\..\\windows", "\u202e\u0000",
                                  "<script>x</script>", "%2e%2e%2f"])
def test_topics_made_of_path_tricks_or_markup_become_safe_slugs_or_nothing(content, name):
    for topic in published(read(content, topics=[name])).topics:
        assert SLUG.match(topic.slug), f"{name!r} -> {topic.slug!r}"


def test_three_hundred_topics_are_all_kept(content):
    article = published(read(content, topics=[f"Topic {i}" for i in range(300)]))
    assert [t.slug for t in article.topics] == [f"topic-{i}" for i in range(300)]


# --- Providers ------------------------------------------------------------------

def test_the_provider_key_is_its_domain_lowercased(content):
    article = published(read(content, webUrl="https://other.example/x",
                             provider={"name": "Example News", "domain": "News.Example.COM"}))
    assert (article.provider_key, article.provider_name) == ("news.example.com", "Example News")


@pytest.mark.parametrize("provider", [None, "not a map", {"name": "No domain"}, {"domain": "../../etc/passwd"},
                                      {"domain": "..\\..\\windows"}, {"domain": "a b"}, {"domain": ["x"]}])
def test_the_provider_key_is_the_link_host_when_the_domain_is_missing_or_not_a_host(content, provider):
    article = published(read(content, webUrl="https://News.Example.org/x", provider=provider))
    assert article.provider_key == "news.example.org"


def test_an_international_domain_becomes_its_ascii_form(content):
    article = published(read(content, provider={"name": "Zürich Zeitung", "domain": "Zürich.example"}))
    assert article.provider_key == "zürich.example".encode("idna").decode()


def test_markup_in_a_provider_name_is_reduced_to_its_text(content):
    article = published(read(content, provider={"name": "<i>Evil</i> &amp; Co", "domain": "evil.example"}))
    assert article.provider_name == "Evil & Co"


# --- Images --------------------------------------------------------------------

def test_the_first_image_with_a_web_address_is_the_articles_image(content):
    article = published(read(content, images=[{"url": "javascript:alert(1)"}, "junk",
                                              {"url": "https://example.com/i mg.jpg", "width": "wide", "height": 450},
                                              {"url": "https://example.com/second.jpg"}]))
    assert link_key(article.image.url) == "https://example.com/i mg.jpg"
    assert " " not in article.image.url
    assert (article.image.width, article.image.height) == (None, 450)


def test_an_article_without_a_usable_image_has_none(content):
    assert published(read(content, images=[{"url": "javascript:alert(1)"}, {"width": 3}])).image is None


# --- Item ids -----------------------------------------------------------------

def test_the_item_id_does_not_change_when_the_title_or_file_name_changes(content):
    first = published(read(content, "first.md", title="Original title", webUrl="https://example.com/story"))
    (content / "first.md").unlink()
    second = published(read(content, "renamed.md", title="Edited title", webUrl="https://example.com/story",
                            excerpt="Edited too."))
    assert first.id == second.id


def test_different_links_have_different_ids(content):
    a = published(read(content, "a.md", webUrl="https://example.com/a"))
    b = published(read(content, "b.md", webUrl="https://example.com/b"))
    assert a.id != b.id


def test_the_item_id_is_the_same_in_every_run(content):
    path = write_article(content, "a.md", webUrl="https://example.com/same")
    here = published(read_article(path, content)).id
    code = ("import sys; from pathlib import Path; from feeds.read import read_article; "
            "print(read_article(Path(sys.argv[1]), Path(sys.argv[2])).id)")
    ids = {subprocess.run([sys.executable, "-c", code, str(path), str(content)], check=True, capture_output=True,
                          text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
           for seed in ("1", "2")}
    assert ids == {here}


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_the_item_id_is_the_name_based_uuid_of_the_link_as_always(path):
    """Readers that subscribed to earlier releases hold ids made by uuid5 over
    the URL namespace: any other id would show every item to them again."""
    link = f"https://example.com/{path}"
    assert item_id(link) == uuid.uuid5(uuid.NAMESPACE_URL, link).urn


@pytest.mark.parametrize("typed, title", [("08", "08"), ("-09", "-09"), ("0089", "0089"), ("8", "8"), ("010", "10")])
def test_a_number_an_exporter_leaves_unquoted_keeps_its_leading_zero(typed, title):
    """PyYAML (YAML 1.1) writes the string "08" unquoted, as it is no number
    there; YAML 1.2 would read the integer 8."""
    text = f"---\ntitle: {typed}\npublishedDateTime: 2024-01-01T00:00:00Z\nwebUrl: https://example.com/a\n---\n"
    assert published(parse_article(text.encode(), "zero.md")).title == title


def test_parse_article_needs_no_file(content):
    article = parse_article(article_text(title="From bytes").encode(), "memory.md")
    assert published(article).title == "From bytes" and article.source == "memory.md"


def test_a_date_whose_open_quote_swallows_the_secured_line_is_reported_without_it():
    """Found by the property test: an unclosed quote runs on into `secured`."""
    from feeds.read import parse_article
    from feeds.records import Problem

    data = (b'---\ntitle: 0\npublishedDateTime: "\nwebUrl: 0\nsecured: S3CR3T000000000000000000000000"\n---\n')
    result = parse_article(data, "raw.md")
    assert isinstance(result, Problem)
    assert "secured line" in result.message
    assert "S3CR3T" not in result.message and "secured: S3" not in result.message
    good = parse_article(b'---\ntitle: T\npublishedDateTime: "yesterday-ish"\nwebUrl: https://a.example/\n---\n',
                         "ok.md")
    assert "yesterday-ish" in good.message  # other bad values are still quoted


@pytest.mark.parametrize("front", [
    'title: "Hello\nsecured: S3CR3T000000000000000000000000"',  # the title's quote runs on into it
    "excerpt: 'Summary\nsecured: S3CR3T000000000000000000000000'",
    'topics:\n  - "AI\nsecured: S3CR3T000000000000000000000000"',
    'title: "Hello\nsecured: S3CR3T000000000000000000000000"\nsecured: other',  # a second secured line
])
def test_a_secured_line_swallowed_by_an_open_quote_is_never_published(front):
    from feeds.read import parse_article
    from feeds.records import Problem

    head = "publishedDateTime: 2026-01-01T00:00:00Z\nwebUrl: https://a.example/x\n"
    data = f"---\n{head}{front}\n---\n".encode()
    if "title:" not in front:
        data = data.replace(b"---\n", b"---\ntitle: T\n", 1)
    result = parse_article(data, "swallow.md")
    assert isinstance(result, Problem), result
    assert "S3CR3T" not in result.message and "secured line is not a key" in result.message


def test_a_dashes_line_above_the_secured_line_never_publishes_it_as_the_body():
    """A stray '---' closes the front matter early: what follows, `secured` included, is the body."""
    from feeds.read import parse_article
    from feeds.records import Problem

    data = (b'---\ntitle: "Hello"\npublishedDateTime: 2026-01-01T00:00:00Z\nwebUrl: https://a.example/x\n'
            b'---\nsecured: "S3CR3T000000000000000000000000"\n---\nThe body.\n')
    result = parse_article(data, "early-end.md")
    assert isinstance(result, Problem), result
    assert "S3CR3T" not in result.message
    prose = parse_article(b'---\ntitle: T\npublishedDateTime: 2026-01-01T00:00:00Z\nwebUrl: https://a.example/x\n'
                          b'---\nThe startup secured: funding, at last.\n', "prose.md")
    assert "secured: funding" in prose.content  # the word in a sentence is no reason to skip


@pytest.mark.parametrize("uses", [
    "excerpt: *s",
    "title: *s",
    "topics: [AI, *s]",
    "provider:\n  name: *s\n  domain: a.example",
    "images:\n  - url: https://a.example/i.png\n    title: *s",
    "*s : key",
])
def test_an_alias_of_the_secured_value_is_never_published(uses):
    from feeds.read import parse_article
    from feeds.records import Problem

    data = (f'---\ntitle: T\npublishedDateTime: 2026-01-01T00:00:00Z\nwebUrl: https://a.example/x\n'
            f'secured: &s "S3CR3T000000000000000000000000"\n{uses}\n---\n').encode()
    result = parse_article(data, "alias.md")
    assert isinstance(result, Problem), result
    assert "S3CR3T" not in result.message and "alias" in result.message


def test_anchors_elsewhere_are_still_read():
    from feeds.read import parse_article
    from feeds.records import Article

    data = (b'---\ntitle: &t "Hello"\nexcerpt: *t\npublishedDateTime: 2026-01-01T00:00:00Z\n'
            b'webUrl: https://a.example/x\nsecured: &s "S3CR3T000000000000000000000000"\n---\n')
    result = parse_article(data, "anchors.md")
    assert isinstance(result, Article) and result.summary == "Hello" and "S3CR3T" not in repr(result)


def test_a_secured_key_in_its_place_is_no_problem():
    from feeds.read import parse_article
    from feeds.records import Article

    data = (b'---\ntitle: "Hello"\npublishedDateTime: 2026-01-01T00:00:00Z\nwebUrl: https://a.example/x\n'
            b'secured: "S3CR3T000000000000000000000000"\n---\n')
    result = parse_article(data, "ok.md")
    assert isinstance(result, Article) and "S3CR3T" not in repr(result)


@pytest.mark.parametrize("cache", [True, False], ids=["warm", "cold"])
def test_two_names_that_would_print_alike_are_two_articles(tmp_path, cache):
    """A raw byte 0xff in a file name is shown as \\xff; a file whose name holds
    those four characters is another file, and both are published once each."""
    from conftest import run_cli
    content = tmp_path / "content"
    content.mkdir()
    raw = os.fsdecode(b"story-\xff.md")
    (content / raw).write_text(article_text(title="The raw byte", webUrl="https://example.com/raw"))
    (content / "story-\\xff.md").write_text(article_text(title="The backslash", webUrl="https://example.com/slash"))
    extra = ["--cache-dir", tmp_path / "cache"] if cache else ["--no-cache"]
    for _ in range(2 if cache else 1):  # a warm run keeps both too
        run = run_cli("export", tmp_path / "out", "--content", content, "--base-url", "https://x.test/", *extra)
        assert run.code == 0, run.err
        feed = (tmp_path / "out" / "feed.atom").read_text("utf-8")
        assert feed.count("https://example.com/raw") == 1 and feed.count("https://example.com/slash") == 1, run.err
    checked = run_cli("check", "--content", content, *extra)
    assert checked.code == 0 and "problem" not in checked.out.lower(), checked.output
