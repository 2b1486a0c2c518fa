"""Article files for tests: a builder for good ones, a catalogue of bad ones and
a generated news corpus.

`write_hostile_corpus(folder)` writes every bad-input class next to good
articles; the tests and the manual W3C validator run both use it.
`write_news_corpus(folder)` writes a few hundred articles in the schema of the
real corpus (../shared/corpus), for clones that do not have it.
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
    body = defaults.pop("body", None) or ""  # the Markdown after the front matter
    meta = {k: v for k, v in defaults.items() if v is not None}
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n" + body


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


# --- A news corpus in the real schema -----------------------------------------
#
# write_news_corpus(folder) writes a few hundred articles shaped like the real
# corpus (../shared/corpus/README.md): drafts, `secured` blobs, topics with
# display names to slug, providers with domains and logos, optional keys
# missing at the rates measured there, a link published twice now and then.
# Deterministic: the same seed and count give the same bytes. The corpus tests
# use it when ../shared/corpus is not there; test_atomic_export writes a large
# one with it.

import base64 as _base64
import json as _json
import random as _random
from datetime import timedelta as _timedelta

NEWS_CORPUS_ARTICLES = 400
NEWS_CORPUS_SEED = 2024

# Display names, most popular first; several need slugging beyond lowercasing.
_NEWS_TOPICS = ["Power Apps", "AI", "Machine Learning", "Portals", "Model-driven apps", "Teams integration",
                "Canvas apps", "AI in Finance", "AI Builder", "Common Data Service", "Cloud & Edge",
                "Low-Code / No-Code", "Zürich Start-ups", "Policy & Regulation", "C# and .NET"]
_WORDS = ["data", "cloud", "model", "agent", "platform", "security", "privacy", "chip", "robot", "vision",
          "language", "market", "startup", "policy", "research", "network", "edge", "health", "finance",
          "energy", "climate", "quantum", "search", "browser", "mobile", "database", "workflow", "portal",
          "connector", "license", "release", "preview", "update", "outage", "study", "lawsuit", "funding"]
_VERBS = ["launches", "ships", "explains", "tests", "buys", "opens", "delays", "rethinks", "scales", "secures",
          "announces", "drops", "expands", "questions", "measures"]
_NAME_PARTS = (["Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Litware", "Adatum", "Proseware",
                "Wingtip", "Lucerne", "Margie's", "Alpine", "Coho", "Fourth", "Humongous", "Trey", "Blue Yonder",
                "Café", "Graphic", "Wide World"],
               ["News", "Daily", "Review", "Times", "Journal", "Insider", "Wire", "Post", "Weekly", "Report",
                "Tech", "Digest", "& Co", "Labs", "Magazine"])
_TLDS = ["example", "test", "example.org", "example.net", "news.example"]
_EXCERPT_MARKUP = ["don&#8217;t", "R&amp;D", "AT&T", "&nbsp;and", "<b>now</b>", "<p>Read more</p>",
                   "<a href=\"https://example.org/x\">link</a>", "&lt;preview&gt;", "Q&A"]


def _zipf(count: int, exponent: float = 1.1) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are)."""
    return _json.dumps(text, ensure_ascii=False)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when.utcoffset() == _timedelta(0) else when.isoformat()


def _news_topics(rng: _random.Random, count: int) -> list[str]:
    topics = list(_NEWS_TOPICS)
    while len(topics) < max(len(_NEWS_TOPICS), count // 40):  # a large corpus has more topics
        name = f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS).title()}"
        if name not in topics:
            topics.append(name)
    return topics


def _news_providers(rng: _random.Random, count: int) -> list[dict]:
    providers, domains = [], set()
    while len(providers) < max(40, count // 3):
        first, second = rng.choice(_NAME_PARTS[0]), rng.choice(_NAME_PARTS[1])
        label = slug_of(f"{first}{second}") + ("" if len(providers) < 200 else str(len(providers)))
        domain = f"{label}.{rng.choice(_TLDS)}"
        if domain in domains:
            continue
        domains.add(domain)
        provider = {"name": f"{first} {second}", "domain": domain}
        roll = rng.random()
        if roll < 0.03:
            provider["domain"] = domain.title()  # keyed by the lowercased domain
        elif roll < 0.05:
            del provider["domain"]  # keyed by the link's host
        if rng.random() < 0.7:
            provider["images"] = [{"url": f"https://assets.example/logos/{domain}-50x50.jpg", "width": 50, "height": 50}]
        providers.append(provider)
    return providers


def _news_excerpt(rng: _random.Random, title: str) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 45))]
    if rng.random() < 0.17:  # entities and tags, as the real excerpts have
        words.insert(rng.randrange(len(words)), rng.choice(_EXCERPT_MARKUP))
    text = f"{title}: " + " ".join(words) + "."
    roll = rng.random()
    if roll < 0.05:
        text += "\n"
    elif roll < 0.08:
        text = text.replace(" ", "\r\n\r\n", 1)
    return text


def _image(rng: _random.Random, host: str, name: str) -> dict:
    width = rng.choice([600, 800, 1200, 1280])
    image = {"url": f"https://{host}/images/{name}.jpg", "width": width, "height": width * 9 // 16}
    if rng.random() < 0.2:
        image["title"] = name.replace("-", " ")
    if rng.random() < 0.9:
        image["isCached"] = True
    return image


def _news_secret(rng: _random.Random) -> str:
    """Like the real blobs: `base64;base64`, the first part a few hundred bytes."""
    return (_base64.b64encode(rng.randbytes(rng.randint(200, 330))).decode("ascii") + ";"
            + _base64.b64encode(rng.randbytes(16)).decode("ascii"))


def _news_related(rng: _random.Random, providers: list[dict], when: datetime) -> list[str]:
    lines = ["related:"]
    for n in range(rng.randint(1, 3)):
        provider = rng.choice(providers)
        host = provider.get("domain", "related.example").lower()
        lines += [f"  - title: {_q(' '.join(rng.choice(_WORDS) for _ in range(6)).capitalize())}",
                  f"    excerpt: {_q(' '.join(rng.choice(_WORDS) for _ in range(20)))}",
                  f"    publishedDateTime: {_stamp(when - _timedelta(hours=n + 1))}",
                  f"    webUrl: {_q(f'https://{host}/related/{rng.randrange(10**6)}')}",
                  "    type: article",
                  "    provider:",
                  f"      name: {_q(provider['name'])}",
                  f"      domain: {host}",
                  f"    quality: {rng.randint(1, 100)}"]
    return lines


def news_article_text(rng: _random.Random, number: int, when: datetime, topics: list[str],
                      topic_weights: list[float], providers: list[dict], provider_weights: list[float],
                      link: str | None = None) -> tuple[str, str, str]:
    """(file name, text, link) of one generated article; `link` reuses an earlier article's link."""
    title_words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 7))]
    title = " ".join(title_words).capitalize()
    title = f"{rng.choice(_NAME_PARTS[0])} {rng.choice(_VERBS)} {title}"
    roll = rng.random()
    if roll < 0.04:
        title += f" & {rng.choice(_WORDS)}"
    elif roll < 0.08:
        title += f" | {rng.choice(_NAME_PARTS[0])}"
    slug = slug_of(title)[:60].strip("-")
    provider = rng.choices(providers, provider_weights)[0]
    host = provider.get("domain", f"site{number % 97}.example").lower()
    if rng.random() < 0.3:
        host = "www." + host
    if link is None:
        link = f"https://{host}/{when:%Y/%m}/{slug}-{number}"
    chosen = []
    for _ in range(rng.choices([1, 2, 3], [70, 22, 8])[0]):
        name = rng.choices(topics, topic_weights)[0]
        if name not in chosen:
            chosen.append(name)
    if rng.random() < 0.03:
        chosen[0] = chosen[0].lower()  # topics differing only in case are one
    lines = ["---", "category: news", f"title: {_q(title)}", f"excerpt: {_q(_news_excerpt(rng, title))}",
             f"publishedDateTime: {_stamp(when)}"]
    if rng.random() < 0.02:
        lines.append(f"updatedDateTime: {_stamp(when + _timedelta(hours=rng.randint(1, 72)))}")
    lines.append(f"originalUrl: {_q(link + ('?utm_source=feed' if rng.random() < 0.1 else ''))}")
    if rng.random() >= 12 / 674:  # webUrl is missing in 12 of 674
        lines.append(f"webUrl: {_q(link)}")
    if rng.random() < 44 / 674:
        lines += [f"ampWebUrl: {_q(link + '/amp')}", f"cdnAmpWebUrl: {_q(link.replace('https://', 'https://cdn.ampproject.example/c/s/') + '/amp')}"]
    video = rng.random() < 0.02
    lines += [f"type: {'video' if video else 'article'}", f"quality: {rng.randint(1, 200)}",
              f"heat: {-1 if rng.random() < 0.05 else rng.randint(0, 200)}",
              f"published: {'false' if rng.random() < 246 / 674 else 'true'}", ""]
    if video or rng.random() < 13 / 674:
        player = f'<iframe width="800" height="500" src="https://video.example/embed/{number}"></iframe>'
        lines += [f"featuredContent: {_q(player)}", ""]
    lines += ["provider:", f"  name: {_q(provider['name'])}"]
    if "domain" in provider:
        lines.append(f"  domain: {provider['domain']}")
    for logo in provider.get("images", []):
        lines += ["  images:", f"    - url: {_q(logo['url'])}", f"      width: {logo['width']}",
                  f"      height: {logo['height']}"]
    lines += ["", "topics:"] + [f"  - {_q(name)}" for name in chosen] + [""]
    if rng.random() >= 51 / 674:  # images are missing in 51 of 674
        lines.append("images:")
        for n in range(rng.choices([1, 2], [85, 15])[0]):
            image = _image(rng, host, f"{slug}-{n}")
            lines.append("  - " + "\n    ".join(f"{k}: {_q(v) if isinstance(v, str) else str(v).lower()}"
                                                for k, v in image.items()))
        lines.append("")
    if rng.random() < 0.004:
        lines += _news_related(rng, providers, when) + [""]
    lines += [f"secured: {_q(_news_secret(rng))}", "---", ""]
    return f"{when:%Y-%m-%d}-{slug}.md", "\n".join(lines), link


def write_news_corpus(folder: Path, count: int = NEWS_CORPUS_ARTICLES, seed: int = NEWS_CORPUS_SEED) -> Path:
    """`count` article files under folder/news/YEAR/, and a README.md that is not an article."""
    rng = _random.Random(seed)
    folder = Path(folder)
    topics = _news_topics(rng, count)
    providers = _news_providers(rng, count)
    topic_weights, provider_weights = _zipf(len(topics)), _zipf(len(providers), 0.9)
    start = datetime(2019, 6, 1, tzinfo=timezone.utc)
    span = int((datetime(2024, 6, 30, tzinfo=timezone.utc) - start).total_seconds())
    dates = sorted(start + _timedelta(seconds=s) for s in rng.sample(range(span), count))  # all distinct
    links: list[str] = []
    names: set[str] = set()
    for number, when in enumerate(dates):
        if rng.random() < 0.02:
            when = when.astimezone(timezone(_timedelta(hours=rng.choice([-5, 2, 9]))))
        again = rng.choice(links) if links and rng.random() < 0.01 else None  # a story published again
        name, text, link = news_article_text(rng, number, when, topics, topic_weights, providers, provider_weights, again)
        if name in names:
            name = name.replace(".md", f"-{number}.md")
        names.add(name)
        links.append(link)
        path = folder / "news" / f"{when:%Y}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (folder / "README.md").write_text(f"# Generated news corpus\n\n{count} articles, seed {seed}.\n", encoding="utf-8")
    return folder


# --- What a folder should publish -------------------------------------------
#
# The tests' own reading of the publishing rules, written from the issue and
# the corpus README rather than from feeds/: plain yaml.safe_load, the standard
# library's date parsers, and a regular expression for slugs. Feeds exported by
# the program are compared with what these functions expect.

import re as _re
import unicodedata as _unicodedata
from dataclasses import dataclass as _dataclass
from datetime import date as _date
from email.utils import parsedate_to_datetime as _parsedate
from itertools import groupby as _groupby
from urllib.parse import unquote as _unquote, urlsplit as _urlsplit, urlunsplit as _urlunsplit

DEFAULT_ITEMS_PER_FEED = 50
_CONTROL = _re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HOST = _re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_NOT_CONTENT = {"readme.md", "license.md", "changelog.md", "contributing.md"}


@_dataclass(frozen=True)
class Expected:
    """One article file as the feeds should show it."""

    source: str
    link: str  # link_key() of the article's link
    published: datetime
    updated: datetime
    draft: bool
    topics: tuple[str, ...]  # slugs
    provider: str  # provider key (a host name)
    meta: dict


def link_key(url: str) -> str:
    """A link in a form that survives percent-encoding and IDNA: for comparing
    the links in a feed with the links in the files."""
    parts = _urlsplit(url.strip())
    host = (parts.hostname or "").encode("idna").decode("ascii")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return _urlunsplit((parts.scheme.lower(), netloc, _unquote(parts.path) or "/",
                        _unquote(parts.query), _unquote(parts.fragment)))


def slug_of(name: str) -> str:
    """"AI in Finance" -> "ai-in-finance": lowercase ASCII letters and digits, single hyphens."""
    ascii_name = _unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def front_matter(path: Path) -> dict | None:
    """The YAML between the first two '---' lines, or None if there is none."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = _CONTROL.sub("", text.replace("\r\n", "\n")).lstrip().split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
        # yaml.safe_load, with libyaml when it is there (the same safe loader, 10x faster)
        meta = yaml.load("\n".join(lines[1:end]), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (StopIteration, yaml.YAMLError):
        return None
    return meta if isinstance(meta, dict) else None


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, _date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            when = _parsedate(value)  # RFC 822
        except (TypeError, ValueError, IndexError):
            try:
                when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # naive dates are UTC
    return when.astimezone(timezone.utc).replace(microsecond=0)


def _web(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    parts = _urlsplit(value.strip())
    return value.strip() if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _host(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        host = value.strip().lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host if _HOST.match(host) else None


def expected_article(path: Path, folder: Path) -> Expected | None:
    """What one file should publish, or None if it cannot be published."""
    meta = front_matter(path)
    if meta is None:
        return None
    title = meta.get("title")
    if isinstance(title, bool) or not isinstance(title, (str, int, float)) or not str(title).strip():
        return None
    published = _when(meta.get("publishedDateTime"))
    link = _web(meta.get("webUrl")) or _web(meta.get("originalUrl"))
    if published is None or link is None:
        return None
    updated = _when(meta.get("updatedDateTime")) or published
    flag = meta.get("published", True)
    draft = flag is False or (isinstance(flag, str) and flag.strip().lower() in ("false", "no", "off"))
    names = meta.get("topics")
    names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
    topics = tuple(dict.fromkeys(s for s in (slug_of(n) for n in names if isinstance(n, str)) if s))
    provider = meta.get("provider") if isinstance(meta.get("provider"), dict) else {}
    key = link_key(link)
    return Expected(source=Path(path).relative_to(folder).as_posix(), link=key, published=published,
                    updated=max(updated, published), draft=draft, topics=topics,
                    provider=_host(provider.get("domain")) or _urlsplit(key).hostname, meta=meta)


def expected_articles(folder: Path, skip: set[str] | dict = frozenset()) -> list[Expected]:
    """Every article file under folder (sources in `skip` left out)."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.rglob("*.md")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.name.lower() in _NOT_CONTENT:
            continue
        if relative.as_posix() in skip:
            continue
        article = expected_article(path, folder)
        if article is not None:
            found.append(article)
    return found


def expected_feeds(articles: list[Expected], now: datetime) -> dict[str, list[Expected]]:
    """Feed path ("feed", "topics/ai", "providers/example.com") -> its articles,
    newest first: drafts and future articles left out, one per link (the newest copy)."""
    newest: dict[str, Expected] = {}
    for article in articles:
        if article.draft or article.published > now:
            continue
        kept = newest.get(article.link)
        if kept is None or (article.published, article.updated) > (kept.published, kept.updated):
            newest[article.link] = article
    items = sorted(newest.values(), key=lambda a: a.published, reverse=True)
    feeds: dict[str, list[Expected]] = {"feed": items}
    for article in items:
        for topic in article.topics:
            feeds.setdefault(f"topics/{topic}", []).append(article)
        feeds.setdefault(f"providers/{article.provider}", []).append(article)
    return feeds


def mismatch(actual: list[tuple[str, datetime]], expected: list[Expected],
             limit: int = DEFAULT_ITEMS_PER_FEED) -> str | None:
    """Why the (link, published) items read from a feed are not the newest
    `limit` of `expected`, newest first; None if they are. Articles published
    at the same second may come in any order."""
    if len(actual) != min(limit, len(expected)):
        return f"{len(actual)} items, expected {min(limit, len(expected))} (of {len(expected)})"
    for position, (link, when) in enumerate(actual):
        if link not in {a.link for a in expected}:
            return f"item {position} {link} should not be in this feed"
    position = 0
    for when, group in _groupby(expected, key=lambda a: a.published):
        links = {a.link for a in group}
        shown = actual[position:position + len(links)]
        if not shown:
            break
        if not {link for link, _ in shown} <= links or any(w != when for _, w in shown):
            return (f"items from position {position} should be those dated {when.isoformat()}: "
                    f"{sorted(links)}; the feed has {shown}")
        position += len(shown)
    return None
