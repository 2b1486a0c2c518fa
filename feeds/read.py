"""Read stage: article files -> Article records, and a Problem for every file that
cannot be published as it is.

Nothing here raises for bad content: a file either becomes an Article or a
skipped Problem naming the file and the reason. Messages never quote the
`secured` value (nor any YAML snippet that could contain it).
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from functools import lru_cache
from pathlib import Path

import frontmatter
import yaml
import yaml_rs
from yaml.nodes import MappingNode, ScalarNode
from dateutil import parser as dateparser

from .pool import pooled_map
from .records import Article, Image, Limits, Problem, Topic
from .walk import _list_files, printable as _printable
from .text import (brief, clean_line, hostname, markdown_html, plain_text, scalar_text,
                   topic_slug, truncate, web_link)

try:  # libyaml is ~10x faster; fall back to the pure-Python loader
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]

MIN_YEAR = 1970
_DEFAULT_A, _DEFAULT_B = datetime(2001, 1, 1), datetime(2002, 2, 2)
_YAML = frontmatter.YAMLHandler()
USED_KEYS = frozenset({"title", "excerpt", "publishedDateTime", "updatedDateTime", "webUrl", "originalUrl",
                       "published", "provider", "topics", "images"})
_TAG = re.compile(r"(?:^|[\s\[{,:-])!")
# Tags, anchors, aliases and merge keys (`<<`) are left to PyYAML's safe loader.
_NEEDS_SAFE_LOADER = re.compile(r"(?:^|[\s\[{,:-])[!&*]")
_DRAFT_WORDS = {"false", "no", "off", "0", "n"}
# Characters the YAML reader refuses outright; dropped before parsing so that a
# stray control character costs the character, not the article.
_YAML_UNACCEPTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


class Unreadable(Exception):
    """A file that cannot become an article; the message says why."""


def read_article(path: Path, content_dir: Path, limits: Limits = Limits()) -> Article | Problem:
    return _read_source(path, _relative_name(path, content_dir), limits)


def _read_source(path: str | Path, source: str, limits: Limits) -> Article | Problem:
    try:
        data = _read_bytes(path, limits)
        return parse_article(data, source, limits)
    except Unreadable as why:
        return Problem(source, str(why))


def read_articles(content_dir: Path, limits: Limits = Limits()) -> tuple[list[Article], list[Problem]]:
    """Every article under content_dir and every problem, read in this process, uncached."""
    report = read_collection(content_dir, limits)
    return report.articles, report.problems


def parse_article(data: bytes, source: str, limits: Limits = Limits()) -> Article | Problem:
    """One file's bytes -> an Article, or a Problem saying why it is skipped."""
    try:
        meta, body = _front_matter(data, limits)
        return _article_from(meta, source, limits, body)
    except Unreadable as why:
        return Problem(source, str(why))


def _relative_name(path: Path, content_dir: Path) -> str:
    try:
        name = path.relative_to(content_dir).as_posix()
    except ValueError:
        name = path.as_posix()
    return _printable(name)


def _read_bytes(path: Path, limits: Limits) -> bytes:
    # os.read rather than open(): no buffered file object for one read of a small file.
    wanted = limits.max_file_bytes + 1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, wanted)
            while data and len(data) < wanted:  # short reads: pipes, network file systems
                more = os.read(fd, wanted - len(data))
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
    except OSError as error:
        raise Unreadable(f"cannot read file: {error.strerror or error}") from None
    if len(data) > limits.max_file_bytes:
        raise Unreadable(f"file is larger than {limits.max_file_bytes} bytes")
    return data


def _front_matter(data: bytes, limits: Limits) -> tuple[dict, str]:
    """The front matter's values, and the Markdown body after it."""
    if len(data) > limits.max_file_bytes:
        raise Unreadable(f"file is larger than {limits.max_file_bytes} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable(f"not UTF-8 (invalid byte at offset {error.start})") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.lstrip()
    # Each character refused is non-printable: most files pass the cheap check.
    if not text.replace("\n", "").isprintable():
        text = _YAML_UNACCEPTABLE.sub("", text)
    if not _YAML.detect(text):
        raise Unreadable("no front matter: the file must start with a '---' line")
    fm, body = _front_matter_text(text)
    if "secured" in body and _SECURED_LINE.search(body):
        raise Unreadable("broken front matter: a '---' line above the secured line ends the front matter, "
                         "so the secured value would be published as the body; file skipped")
    try:
        meta = _load_yaml(fm)
    except yaml.constructor.ConstructorError as error:
        raise Unreadable(f"front matter uses a YAML tag that is not allowed{_where(error)}") from None
    except yaml.YAMLError as error:
        # Only the problem and its position: YAML snippets could quote `secured`.
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise Unreadable(f"broken front matter: {problem}{_where(error)}") from None
    except RecursionError:
        raise Unreadable("front matter is nested too deeply") from None
    except Unreadable:
        raise
    except Exception as error:  # noqa: BLE001 - PyYAML's constructors can fail on odd tagged values
        raise Unreadable(f"broken front matter: a value cannot be read ({type(error).__name__})") from None
    if not isinstance(meta, dict):
        raise Unreadable(f"front matter is not a mapping of keys to values (it is a {_kind(meta)})")
    if "*" in fm:
        _check_expansion(meta, limits.max_yaml_nodes)
    _check_secured_stays_put(fm, meta)
    return meta, body


def _check_secured_stays_put(fm: str, meta: dict) -> None:
    """A quote left open above the `secured` line runs on into it, and the
    secret would be published as part of a title or a summary: such a file
    is skipped. The one top-level `secured:` line must be the `secured` key."""
    keyed = "secured" in meta
    if fm.count("\nsecured") + fm.startswith("secured") == keyed:  # the common case, without a regex
        return
    if len(_SECURED_LINE.findall(fm)) != keyed:
        raise Unreadable("broken front matter: the secured line is not a key of its own (a quote left open "
                         "above it, or a second one); file skipped so that its value is never published")


_SECURED_LINE = re.compile(r"^secured[ \t]*:", re.M)


def _front_matter_text(text: str) -> tuple[str, str]:
    """The text between the opening '---' line and the next line of dashes, and the rest (the body).

    python-frontmatter finds it with a multi-line regular expression over the
    whole file; the usual case (the closing line is plain '---') is found
    directly, anything else is left to it.
    """
    first = text.find("\n")
    close = text.find("\n---", first) if first >= 0 else -1
    if close >= 0:
        end = text.find("\n", close + 1)
        line = text[close + 1:] if end < 0 else text[close + 1:end]
        if not line.rstrip().strip("-"):
            # From the opening line's end: YAML lines are file lines.
            return text[first:close + 1], ("" if end < 0 else text[end + 1:])
    try:
        fm, body = _YAML.split(text)
    except ValueError:
        raise Unreadable("front matter is not closed by a '---' line") from None
    return fm, body


def _load_yaml(fm: str) -> object:
    """The front matter's values: yaml-rs where it can, PyYAML's safe loader otherwise.

    yaml-rs (a YAML 1.2 parser in Rust) reads a typical front matter eight
    times faster than libyaml-backed PyYAML, and it is what makes a cold read
    of a large collection fast. It ignores tags, and it quotes the offending
    line in its errors (which could hold `secured`), so documents with tags,
    anchors or aliases, and any document it refuses, go to PyYAML: it refuses
    unsafe tags, bounds aliases (see _check_expansion) and words the errors.
    """
    # The `in` tests spare most documents the far slower regular expression.
    if "<<" not in fm and not (("!" in fm or "&" in fm or "*" in fm) and _NEEDS_SAFE_LOADER.search(fm)):
        try:
            meta = yaml_rs.loads(fm, duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.LastWins)
        except Exception:  # noqa: BLE001 - PyYAML reads it again and says what is wrong
            meta = None
        if isinstance(meta, dict):
            if not _numbers_in_text(meta):
                return meta
            try:
                written = _safe_load(fm)
            except Exception:  # noqa: BLE001 - what yaml-rs read stands
                return meta
            return written if isinstance(written, dict) and not _numbers_in_text(written) else meta
    return _safe_load(fm)


def _numbers_in_text(meta: dict) -> bool:
    """Whether a value that is text by nature came out a number. YAML 1.1
    (PyYAML, which most exporters write with) leaves strings such as `08` or
    `0E0` unquoted, as they are no numbers there; YAML 1.2 reads 8 and 0.0.
    Such a document is read as it was written, by PyYAML, when that gives text."""
    provider = meta.get("provider")
    topics = meta.get("topics")
    values = [meta.get("title"), meta.get("excerpt"), provider.get("name") if isinstance(provider, dict) else None,
              *(topics if isinstance(topics, list) else [topics])]
    return any(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)


MAX_FLOW_BRACKETS = 10_000  # libyaml's composer recurses in C: ~30,000 nested brackets crash it


def _safe_load(fm: str) -> object:
    """PyYAML's safe loader, building Python values only for the keys articles use.

    libyaml composes the whole document (so syntax errors anywhere are
    caught); constructing `related` and `secured` would cost time and put the
    secret in memory for nothing. Documents with explicit tags are built
    whole, so the safe loader still refuses unsafe tags wherever they are.
    """
    if fm.count("[") + fm.count("{") > MAX_FLOW_BRACKETS:
        raise Unreadable("front matter is nested too deeply")
    loader = SafeLoader(fm)
    try:
        node = loader.get_single_node()
        secured = False
        if isinstance(node, MappingNode) and _shares_the_secret(node):
            raise Unreadable("front matter refers to the secured value through a YAML alias; file skipped "
                             "so that the value is never published")
        if isinstance(node, MappingNode) and not _TAG.search(fm):
            secured = any(isinstance(k, ScalarNode) and k.value == "secured" for k, _ in node.value)
            node.value = [(k, v) for k, v in node.value
                          if not isinstance(k, ScalarNode) or k.value in USED_KEYS]
        document = loader.construct_document(node) if node is not None else None
        if secured and isinstance(document, dict):
            document["secured"] = ""  # the key was there (see _check_secured_stays_put), not its value
        return document
    finally:
        loader.dispose()


def _shares_the_secret(document: MappingNode) -> bool:
    """Whether any key or value besides `secured` is, or holds, a node of the
    secured value: an alias of an anchor set on it (`secured: &s ...`,
    `excerpt: *s`) would publish the secret. Nodes are compared by identity,
    which is how the composer shares an anchored node with its aliases."""
    secret: set[int] = set()
    for key, value in document.value:
        if isinstance(key, ScalarNode) and key.value == "secured":
            secret |= _node_ids(value)
    if not secret:
        return False
    return any(not (isinstance(key, ScalarNode) and key.value == "secured") and
               not secret.isdisjoint(_node_ids(key) | _node_ids(value)) for key, value in document.value)


def _node_ids(node) -> set[int]:
    """The ids of node and every node under it, each visited once (aliases share nodes)."""
    seen: set[int] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, MappingNode):
            for key, value in current.value:
                todo += (key, value)
        elif isinstance(current.value, list):  # a sequence
            todo += current.value
    return seen


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f" (front matter line {mark.line + 1}, column {mark.column + 1})" if mark else ""


def _kind(value: object) -> str:
    return {list: "list", str: "string", type(None): "nothing"}.get(type(value), type(value).__name__)


def _check_expansion(meta: dict, limit: int) -> None:
    """Refuse alias bombs: count nodes as if every alias were expanded.

    Sizes are memoised per shared object, so a billion-laughs document is
    measured in linear time instead of being walked.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: object) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise Unreadable("front matter has a YAML alias that refers to itself")
        active.add(key)
        children = node.items() if isinstance(node, dict) else ((None, v) for v in node)
        total = 1
        for k, v in children:
            total += size(k) + size(v)
            if total > limit:
                raise Unreadable(f"front matter expands to more than {limit} values through YAML aliases")
        active.discard(key)
        sizes[key] = total
        return total

    size(meta)


def _article_from(meta: dict, source: str, limits: Limits, body: str = "") -> Article:
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
    return value if isinstance(value, (str, int, float, bool, type(None))) else f"<{_kind(value)}>"


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


# --- reading a whole folder: cached, and on several cores when it pays ----------

PARALLEL_MIN_FILES = 2_000
_CHUNK = 500


@dataclass
class ReadReport:
    articles: list[Article]
    problems: list[Problem]
    parsed: int = 0  # files parsed


def read_collection(content_dir: Path, limits: Limits = Limits(), workers: int = 1) -> ReadReport:
    """Every article under content_dir and every problem, in file order, all read
    (`feeds check` and the builder go through the article index instead)."""
    with collector_paused():
        files = _list_files(str(content_dir), stamps=False)
        top = str(content_dir)
        results: dict[str, object] = {}
        todo = []
        for name, stamp in files:
            source = _printable(name)
            if isinstance(stamp, str):  # not read, and why
                results[source] = Problem(source, stamp)
            else:
                todo.append((os.path.join(top, name), source))
                results[source] = None
        for (_, source), result in zip(todo, _parse_all(todo, limits, workers)):
            results[source] = result
    report = ReadReport([], [], parsed=len(todo))
    for result in results.values():
        (report.articles if isinstance(result, Article) else report.problems).append(result)
    return report


@contextlib.contextmanager
def collector_paused():
    """Building many records makes no reference cycles, yet triggers hundreds of
    cyclic-GC passes over everything built so far: pausing it is 3x faster."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_all(files: list[tuple[str, str]], limits: Limits, workers: int):
    """The result of every (path, source), in order."""
    return (result for _, result in parse_stream(files, limits, workers))


def parse_stream(files, limits: Limits, workers: int):
    """(item, Article | Problem) for each item (path, source, ...) of an
    iterable, in order, read on `workers` processes when there are many.

    The iterable is consumed only as fast as the workers read, so a million
    files never sit in memory at once.
    """
    import itertools
    files = iter(files)
    first = list(itertools.islice(files, PARALLEL_MIN_FILES))
    if workers <= 1 or len(first) < PARALLEL_MIN_FILES:
        for item in itertools.chain(first, files):
            yield item, _read_source(item[0], item[1], limits)
        return
    chunks = _chunks(itertools.chain(first, files), limits)
    del first
    for chunk in pooled_map(_read_chunk, chunks, workers, ahead=4 * workers):
        yield from chunk


def _chunks(items, limits: Limits):
    import itertools
    while True:
        chunk = list(itertools.islice(items, _CHUNK))
        if not chunk:
            return
        yield chunk, limits


def _read_chunk(job) -> list:
    import gc
    gc.disable()  # a short-lived worker: see collector_paused
    items, limits = job
    return [(item, _read_source(item[0], item[1], limits)) for item in items]
