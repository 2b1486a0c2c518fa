"""Read stage, records: front matter -> an Article, every field cleaned and
bounded, or Unreadable saying why the file cannot be published."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, time, timezone
from functools import lru_cache

from dateutil import parser as dateparser

from .records import Article, Image, Limits, Topic
from .front_matter import Unreadable, kind_of
from .text import brief, hostname, markdown_html, plain_text, scalar_text, topic_slug, truncate, web_link

MIN_YEAR = 1970
_DEFAULT_A, _DEFAULT_B = datetime(2001, 1, 1), datetime(2002, 2, 2)
_DRAFT_WORDS = {"false", "no", "off", "0", "n"}


def article_from(meta: dict, source: str, limits: Limits, body: str = "") -> Article:
    title = truncate(plain_title(meta.get("title")), limits.max_title_chars)
    if not title:
        raise Unreadable("missing title" if "title" not in meta else f"title is not text: {_shown(_safe(meta.get('title')))}")
    if "publishedDateTime" not in meta:
        raise Unreadable("missing publishedDateTime")
    published = parse_when(meta["publishedDateTime"], "publishedDateTime")
    updated = published
    if meta.get("updatedDateTime") is not None:
        try:
            updated = max(published, parse_when(meta["updatedDateTime"], "updatedDateTime"))
        except Unreadable:
            updated = published  # a bad update stamp is no reason to withhold the article
    link = web_link(meta.get("webUrl")) or web_link(meta.get("originalUrl"))
    if link is None:
        raise Unreadable("no http(s) link: webUrl and originalUrl are missing or not web addresses")
    provider = meta.get("provider") if isinstance(meta.get("provider"), dict) else {}
    provider_key = hostname(provider.get("domain")) or hostname(_host_of(link)) or "unknown"
    name = provider.get("name")
    provider_name = (_provider_name(name, provider_key, limits.max_name_chars) if isinstance(name, str)
                     else _provider_name_of(name, provider_key, limits.max_name_chars))
    summary = truncate(plain_text(scalar_text(meta.get("excerpt")) or ""), limits.max_summary_chars)
    article = Article(
        source=source,
        id=item_id(link),
        link=link,
        title=title,
        summary=summary,
        published=published,
        updated=updated,
        draft=is_draft(meta.get("published", True)),
        provider_key=provider_key,
        provider_name=provider_name,
        topics=_topics(meta.get("topics"), limits),
        image=_first_image(meta.get("images")),
        provider_image=_first_image_url(provider.get("images")),
        content=markdown_html(body, limits.max_body_chars) if body and not body.isspace() else "",
    )
    return _with_digest(article)


@lru_cache(maxsize=65536)  # providers are few and publish many articles each
def _provider_name(raw: str, key: str, max_chars: int) -> str:
    return _provider_name_of(raw, key, max_chars)


def _provider_name_of(raw: object, key: str, max_chars: int) -> str:
    return truncate(plain_text(scalar_text(raw) or "") or key, max_chars)


def plain_title(value: object) -> str:
    text = scalar_text(value)
    return plain_text(text) if text is not None else ""


def _shown(value: object) -> str:
    """A bad value as a problem report quotes it, unless it may have swallowed
    the `secured` line: a quote left open runs on into the lines below it."""
    text = brief(value)
    if "secured" in str(value).lower():
        return "(a value that runs into the secured key: not shown)"
    return text


def _safe(value: object) -> object:
    """Values echoed in messages are summarised by type when they are not scalars."""
    return value if isinstance(value, (str, int, float, bool, type(None))) else f"<{kind_of(value)}>"


def is_draft(value: object) -> bool:
    """`published: false` (or no/off/0) marks a draft; absent means published."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, str):
        return value.strip().lower() in _DRAFT_WORDS
    return value is not None and not value


def parse_when(value: object, key: str) -> datetime:
    """A YAML timestamp or a date string (ISO 8601, RFC 822, ...) as aware UTC."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        try:
            # dateutil fills missing fields from `default`: parsing against two
            # different days shows whether the text named a day at all.
            when = dateparser.parse(value.strip(), default=_DEFAULT_A)
            if when.date() != dateparser.parse(value.strip(), default=_DEFAULT_B).date():
                raise ValueError("no complete date")
        except (ValueError, OverflowError, TypeError):
            raise Unreadable(f"{key} is not a date: {_shown(value)}") from None
    else:
        raise Unreadable(f"{key} is not a date: {_shown(_safe(value))}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        when = when.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise Unreadable(f"{key} is out of range: {_shown(value)}") from None
    if when.year < MIN_YEAR:
        raise Unreadable(f"{key} is before {MIN_YEAR}: {_shown(str(value))}")
    return when.replace(microsecond=0)


def item_id(link: str) -> str:
    """The item's permanent id: a name-based UUID of its link.

    Links are what make two files the same article, so the id survives
    re-exports, renamed files and edited titles.
    """
    # uuid.uuid5(uuid.NAMESPACE_URL, link).urn, without building UUID objects:
    # a tenth of the time it takes to read an article.
    digest = bytearray(hashlib.sha1(_URL_NAMESPACE + link.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def _host_of(link: str) -> str:
    from urllib.parse import urlsplit
    return urlsplit(link).hostname or ""


def _topics(value: object, limits: Limits) -> tuple[Topic, ...]:
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    topics: dict[str, Topic] = {}
    for raw in names:
        topic = _topic(raw, limits.max_name_chars) if isinstance(raw, str) else _topic_of(raw, limits.max_name_chars)
        if topic is not None and topic.slug not in topics:
            topics[topic.slug] = topic
    return tuple(topics.values())


@lru_cache(maxsize=65536)  # a collection has few topic names, repeated by thousands of articles
def _topic(raw: str, max_chars: int) -> Topic | None:
    return _topic_of(raw, max_chars)


def _topic_of(raw: object, max_chars: int) -> Topic | None:
    name = truncate(plain_text(scalar_text(raw) or ""), max_chars)
    slug = topic_slug(name) if name else ""
    return Topic(slug, name) if slug else None


def _first_image(value: object) -> Image | None:
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        url = web_link(entry.get("url"))
        if url:
            title = plain_text(scalar_text(entry.get("title")) or "") or None
            return Image(url, _dimension(entry.get("width")), _dimension(entry.get("height")), title)
    return None


def _first_image_url(value: object) -> str | None:
    image = _first_image(value)
    return image.url if image else None


def _dimension(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 100_000 else None


def _with_digest(article: Article) -> Article:
    image = article.image
    # Joined with separators no field can hold (text is cleaned of control
    # characters, links refuse them): far cheaper than repr() of the records.
    fields = "\x1f".join((
        article.link, article.title, article.summary, str(article.published.timestamp()),
        str(article.updated.timestamp()), "draft" if article.draft else "", article.provider_key,
        article.provider_name, "\x1e".join(f"{t.slug}\x1d{t.name}" for t in article.topics),
        f"{image.url}\x1d{image.width}\x1d{image.height}\x1d{image.title}" if image else "",
        article.provider_image or "", article.content))
    digest = hashlib.blake2b(fields.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    object.__setattr__(article, "digest", digest)
    return article
