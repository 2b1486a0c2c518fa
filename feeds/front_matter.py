"""Read stage, front matter: an article file's bytes -> its front matter (a
dict) and Markdown body, through YAML readers that cannot be made to run code,
expand without bound or quote the `secured` value in a message."""
from __future__ import annotations

import re

import frontmatter
import yaml
import yaml_rs
from yaml.nodes import MappingNode, ScalarNode

from .records import Limits

try:  # libyaml is ~10x faster; fall back to the pure-Python loader
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]

_YAML = frontmatter.YAMLHandler()
# The keys an article is made of (feeds.article); the rest of the front matter is never kept.
USED_KEYS = frozenset({"title", "excerpt", "publishedDateTime", "updatedDateTime", "webUrl", "originalUrl",
                       "published", "provider", "topics", "images"})
_TAG = re.compile(r"(?:^|[\s\[{,:-])!")
# Tags, anchors, aliases and merge keys (`<<`) are left to PyYAML's safe loader.
_NEEDS_SAFE_LOADER = re.compile(r"(?:^|[\s\[{,:-])[!&*]")
# Characters the YAML reader refuses outright; dropped before parsing so that a
# stray control character costs the character, not the article.
_YAML_UNACCEPTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


class Unreadable(Exception):
    """A file that cannot become an article; the message says why."""


def front_matter(data: bytes, limits: Limits) -> tuple[dict, str]:
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
        raise Unreadable(f"front matter is not a mapping of keys to values (it is a {kind_of(meta)})")
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


def kind_of(value: object) -> str:
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
