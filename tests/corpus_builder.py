"""Article files for tests: a builder for good ones and a catalogue of bad ones.

`write_hostile_corpus(folder)` writes every bad-input class next to good
articles; the tests and the manual W3C validator run both use it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import yaml

SECRET = "S3CR3T+blob/ZXhhbXBsZS1zZWNyZXQtdmFsdWU=;bm90LWZvci1vdXRwdXQ="


def article_text(**fields) -> str:
    """Front matter in the corpus schema; pass None to leave a key out."""
    defaults = {
        "category": "news",
        "title": "A title",
        "excerpt": "An excerpt.",
        "publishedDateTime": datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc),
        "webUrl": "https://example.com/a",
        "type": "article",
        "published": True,
        "provider": {"name": "Example News", "domain": "example.com"},
        "topics": ["AI"],
        "images": [{"url": "https://example.com/a.jpg", "width": 800, "height": 450, "isCached": True}],
        "secured": SECRET,
    }
    defaults.update(fields)
    meta = {k: v for k, v in defaults.items() if v is not None}
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n"


def write_article(folder: Path, name: str, **fields) -> Path:
    if "publishedDateTime" not in fields:
        # Distinct dates by name: readers and validators flag identical stamps.
        minutes = sum(map(ord, name)) % 1440
        fields["publishedDateTime"] = datetime(2024, 1, 1, minutes // 60, minutes % 60, tzinfo=timezone.utc)
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_text(**fields), encoding="utf-8")
    return path


BILLION_LAUGHS = """---
title: laughs
publishedDateTime: 2024-01-01T00:00:00Z
webUrl: https://example.com/laughs
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
topics: *g
---
"""

# name -> (file bytes, words the report must contain)
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "no-front-matter.md": (b"Just a body, no front matter.\n", "no front matter"),
    "unclosed.md": (b"---\ntitle: Never closed\npublishedDateTime: 2024-01-01\n", "not closed"),
    "latin1.md": (article_text(title="Caf\u00e9").encode("latin-1"), "not UTF-8"),
    "missing-title.md": (article_text(title=None).encode(), "missing title"),
    "list-title.md": (article_text(title=["a", "b"]).encode(), "title is not text"),
    "missing-date.md": (article_text(publishedDateTime=None).encode(), "missing publishedDateTime"),
    "bad-date.md": (article_text(publishedDateTime="next tuesday-ish").encode(), "publishedDateTime is not a date"),
    "unsafe-tag.md": (b"---\ntitle: !!python/object/apply:os.system ['echo pwned']\n"
                      b"publishedDateTime: 2024-01-01\nwebUrl: https://example.com/x\n---\n", "YAML tag that is not allowed"),
    "not-a-mapping.md": (b"---\n- just\n- a list\n---\n", "not a mapping"),
    "alias-bomb.md": (BILLION_LAUGHS.encode(), "through YAML aliases"),
    "broken-yaml.md": (("---\nsecured: \"" + SECRET + "\"\ntitle: [unclosed\n"
                        "publishedDateTime: 2024-01-01\n---\n").encode(), "broken front matter"),
    "no-link.md": (article_text(webUrl="javascript:alert(1)", originalUrl="ftp://example.com/x").encode(), "no http(s) link"),
}


def write_hostile_corpus(folder: Path) -> dict[str, str]:
    """Bad files (returned: name -> expected report words) among good, hostile-but-valid ones."""
    folder = Path(folder)
    for name, (data, _) in BAD_FILES.items():
        (folder / "bad").mkdir(parents=True, exist_ok=True)
        (folder / "bad" / name).write_bytes(data)
    (folder / "bad" / "too-large.md").write_bytes(article_text(excerpt="x" * 1_100_000).encode())
    expected = {f"bad/{name}": words for name, (_, words) in BAD_FILES.items()}
    expected["bad/too-large.md"] = "larger than"

    write_article(folder, "good/plain.md", title="Plain good article", webUrl="https://example.com/plain",
                  topics=["AI", "Machine Learning"])
    write_article(folder, "good/markup.md",
                  title="<script>alert('t')</script><b>Bold</b> & \"quoted\" title",
                  excerpt="<p onclick=\"x()\">An <em>excerpt</em> with &amp; entities &lt;and&gt; "
                          "<a href=\"javascript:alert(1)\">links</a><script>steal()</script></p>",
                  webUrl="javascript:alert(document.cookie)", originalUrl="https://example.com/markup?a=1&b=<2>",
                  topics=["<script>x</script>", "Policy & Regulation"],
                  provider={"name": "<i>Evil</i> & Co", "domain": "../../etc/passwd"},
                  images=[{"url": "javascript:alert(1)"}, {"url": "https://example.com/i mg.jpg", "width": "wide"}])
    write_article(folder, "good/traversal.md", title="Traversal topics", webUrl="https://evil.example/t",
                  topics=["..", "../../outside", "/etc/passwd", "....//", "\u202e\u0000"],
                  provider={"name": "Evil", "domain": "..\\..\\windows"})
    write_article(folder, "good/control.md", title="Control\x01chars\x07 in\x1b title\ufffe",
                  excerpt="Bell\x07 and escape\x1b[31m and nul\x00 and C1\x85\x9b controls",
                  webUrl="https://example.com/control", topics=["Ctrl\x08 Topic"])
    (folder / "good" / "raw-control.md").write_bytes(
        article_text(title="Raw control", webUrl="https://example.com/raw",
                     publishedDateTime=datetime(2024, 2, 2, 2, 2, tzinfo=timezone.utc)).replace("Raw control", "Raw\x07\x01 control").encode())
    write_article(folder, "good/huge-excerpt.md", title="Huge excerpt", webUrl="https://example.com/huge",
                  excerpt=("word " * 120_000))
    write_article(folder, "good/many-topics.md", title="Three hundred topics", webUrl="https://example.com/many",
                  topics=[f"Topic {i}" for i in range(300)])
    (folder / "good" / "bom-crlf.md").write_bytes(
        b"\xef\xbb\xbf" + article_text(title="BOM and CRLF", webUrl="https://example.com/bom",
                                      publishedDateTime=datetime(2024, 3, 3, 3, 3, tzinfo=timezone.utc)).replace("\n", "\r\n").encode())
    write_article(folder, "good/rfc822-date.md", title="RFC 822 date", webUrl="https://example.com/rfc822",
                  publishedDateTime="Mon, 01 Jul 2024 09:30:00 +0200")
    write_article(folder, "good/naive-date.md", title="Naive date", webUrl="https://example.com/naive",
                  publishedDateTime="2024-07-02 10:00:00")
    write_article(folder, "good/unicode.md", title="Über naïve café in 東京 — “quoted”", webUrl="https://例え.テスト/パス",
                  topics=["Zürich", "東京"], provider={"name": "Zürich Zeitung", "domain": "Zürich.example"})
    write_article(folder, "good/weird-types.md", title=12345, excerpt={"nested": ["junk"]}, webUrl="https://example.com/types",
                  topics={"not": "a list"}, images="not a list", provider="not a map", published="yes")
    return expected
