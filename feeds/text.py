"""Turning untrusted values into text, links and names that are safe to publish."""
from __future__ import annotations

import html
import re
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

import nh3
from slugify import slugify

# Characters XML 1.0 forbids, plus C1 controls and non-characters that
# validators flag: cleaned out rather than failing the whole feed.
_UNPUBLISHABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_URL_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
# Most links need no repair at all; checking that is far cheaper than rebuilding them.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_URL_CHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})"
_PLAIN_URL = re.compile(rf"^https?://{_LABEL}(?:\.{_LABEL})*"
                        rf"(?:/{_URL_CHAR}*)?(?:\?(?:{_URL_CHAR}|\?)*)?(?:#(?:{_URL_CHAR}|\?)*)?$")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_MARKUP = re.compile(r"[<&]")
_URL_SAFE_QUERY = _URL_SAFE_PATH + "?"

ELLIPSIS = "\u2026"
SLUG_MAX_LENGTH = 80


def scalar_text(value: object) -> str | None:
    """The text of a scalar front matter value; None for lists, maps and null."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def clean_line(value: str) -> str:
    """One line of publishable text: no forbidden characters, single spaces."""
    # Every character cleaned here is non-printable, and the only printable
    # white space is " ": most text passes this check and is returned as is.
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return _WHITESPACE.sub(" ", _UNPUBLISHABLE.sub("", value)).strip()


def markdown_html(markdown: str, max_chars: int) -> str:
    """An article's Markdown body as HTML for feed readers: CommonMark
    (markdown-it-py), then sanitised by nh3 with its allow-list of tags and
    attributes (no script, style, iframe, event handler or javascript: link)."""
    markdown = _UNPUBLISHABLE.sub("", markdown[:max_chars])  # what is cut open, the sanitiser closes
    html_text = _markdown().render(markdown)
    return _UNPUBLISHABLE.sub("", nh3.clean(html_text, url_schemes={"http", "https", "mailto"},
                                            link_rel="noopener noreferrer nofollow", strip_comments=True)).strip()


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt
    # CommonMark leaves raw HTML in for the sanitiser to judge; tables and strikethrough as GitHub writes them.
    return MarkdownIt("commonmark").enable("table").enable("strikethrough")


def plain_text(markup: str) -> str:
    """Plain text from text that may hold HTML tags and entities.

    nh3 (ammonia) drops every tag, and the content of script and style, the
    way a browser's parser sees them, which a regular expression cannot.
    """
    if not _MARKUP.search(markup):
        return clean_line(markup)
    stripped = nh3.clean(_UNPUBLISHABLE.sub("", markup), tags=set(), attributes={})
    return clean_line(html.unescape(stripped))


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut on a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" .,;:-") + ELLIPSIS


@lru_cache(maxsize=65536)  # topic names repeat across thousands of articles
def topic_slug(name: str) -> str:
    """"AI in Finance" -> "ai-in-finance"; "" when nothing sluggable is left."""
    return slugify(name, max_length=SLUG_MAX_LENGTH, word_boundary=True)


def hostname(value: object) -> str | None:
    """A lowercase ASCII host name (IDN as punycode), or None if it is not one."""
    if not isinstance(value, str):
        return None
    return _hostname(value)


@lru_cache(maxsize=65536)
def _hostname(value: str) -> str | None:
    host = value.strip().lower().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            return None
    return host if _HOSTNAME.match(host) else None


def web_link(value: object) -> str | None:
    """An absolute http(s) URL, percent-encoded where needed; None otherwise."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or _UNPUBLISHABLE.search(value) or len(value) > 4096:
        return None
    if len(value) < 2048 and _PLAIN_URL.match(value):
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = hostname(parts.hostname or "")
    if host is None:
        return None
    netloc = host if port is None else f"{host}:{port}"
    def encoded(part: str, safe: str) -> str:
        return quote(_STRAY_PERCENT.sub("%25", part), safe=safe)

    return urlunsplit((
        parts.scheme.lower(),
        netloc,
        encoded(parts.path, _URL_SAFE_PATH),
        encoded(parts.query, _URL_SAFE_QUERY),
        encoded(parts.fragment, _URL_SAFE_QUERY),
    ))


def brief(value: object, limit: int = 60) -> str:
    """A short, printable rendering of a bad value for a problem report."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
