"""No single article can make a feed arbitrarily large."""
from __future__ import annotations

from corpus_builder import article_text
from feeds.read import Limits, parse_article
from feeds.records import Article, Problem


def parse(limits=Limits(), **fields):
    return parse_article(article_text(**fields).encode(), "x.md", limits)


def test_long_excerpts_are_cut_on_a_word_boundary_with_an_ellipsis():
    article = parse(excerpt="lorem ipsum " * 10_000, limits=Limits(max_summary_chars=100))
    assert len(article.summary) <= 100
    assert article.summary.endswith("\u2026")
    assert article.summary[:-1].split() == ("lorem ipsum " * 50).split()[: len(article.summary[:-1].split())]


def test_long_titles_and_names_are_cut():
    article = parse(title="T" * 5000, topics=["n" * 5000], provider={"name": "p" * 5000, "domain": "x.example"})
    assert isinstance(article, Article)
    assert len(article.title) <= Limits().max_title_chars
    assert len(article.provider_name) <= Limits().max_name_chars
    assert all(len(t.name) <= Limits().max_name_chars for t in article.topics)


def test_files_over_the_size_bound_are_skipped_and_reported():
    data = article_text(excerpt="x" * 5000).encode()
    problem = parse_article(data, "big.md", Limits(max_file_bytes=4000))
    assert isinstance(problem, Problem)
    assert "larger than 4000 bytes" in problem.message
    assert isinstance(parse_article(data, "big.md", Limits(max_file_bytes=len(data))), Article)


def test_yaml_alias_expansion_is_bounded_by_nodes_not_by_text_size():
    rows = "\n".join(f"r{i}: &r{i} [*r{i - 1}, *r{i - 1}, *r{i - 1}, *r{i - 1}]" for i in range(1, 12))
    text = ("---\ntitle: t\npublishedDateTime: 2024-01-01T00:00:00Z\nwebUrl: https://example.com/\n"
            "r0: &r0 [x]\n" + rows + "\ntopics: *r11\n---\n")
    assert len(text) < 2000
    problem = parse_article(text.encode(), "bomb.md")
    assert isinstance(problem, Problem) and "YAML aliases" in problem.message


def test_a_few_aliases_are_fine():
    text = ("---\ntitle: t\npublishedDateTime: 2024-01-01T00:00:00Z\nwebUrl: https://example.com/\n"
            "common: &ai [AI]\ntopics: *ai\n---\n")
    article = parse_article(text.encode(), "ok.md")
    assert isinstance(article, Article) and [t.slug for t in article.topics] == ["ai"]
