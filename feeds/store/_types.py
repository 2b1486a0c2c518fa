"""What crosses the store boundary: a document's entry, a store's manifest,
and the manifest's parts.

A manifest lists the subscription documents and pages itself, and each
feed's archive documents of one year in a part: a body of its own, named by
the hash of its contents like every body, and by an entry of format "part"
in the manifest ("topics/ai/archive/2024/"). At a million articles there are
200,000 archive documents: a change rewrites the parts it touches, not a
list of all of them, and a server reads a part only when it is asked for
one of its documents.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

ARCHIVE_FOLDER = "/archive/"
PART_FORMAT = "part"


def part_path(path: str) -> str | None:
    """The manifest part that lists the document at path, or None when the
    manifest lists it itself (anything but an archive document)."""
    feed, found, name = path.rpartition(ARCHIVE_FOLDER)
    if not found or not feed or "/" in name or not name:
        return None
    year = name[:4]
    return f"{feed}{ARCHIVE_FOLDER}{year if year.isdigit() else name.partition('.')[0]}/"


def encode_part(documents: dict[str, "Entry"]) -> bytes:
    return f'{{"part":1,"documents":{_documents_json(documents)}}}'.encode("utf-8")


def _documents_json(documents: dict[str, "Entry"]) -> str:
    """The same text as json.dumps of {path: entry.encode()} sorted by path, from each entry's own."""
    quoted = _QUOTED
    if len(quoted) > 1 << 20:
        quoted.clear()
    texts = []
    for path in sorted(documents):
        name = quoted.get(path)
        if name is None:
            name = quoted[path] = json.dumps(path)
        texts.append(f"{name}:{documents[path].json()}")
    return "{" + ",".join(texts) + "}"


_QUOTED: dict[str, str] = {}  # path -> its JSON string: the same paths in every manifest


def decode_part(data: bytes) -> dict[str, "Entry"]:
    raw = json.loads(data)
    if not isinstance(raw, dict) or raw.get("part") != 1:
        raise ValueError("not a feeds store manifest part")
    return {path: Entry.decode(value) for path, value in raw["documents"].items()}


@dataclass(frozen=True, slots=True)
class Entry:
    """One document as stored: enough to answer any request for it."""

    etag: str  # hash of the body; the body is stored under it ("": a removed document, see StoreWriter)
    last_modified: int | None  # Unix seconds; None: not yet datable
    fmt: str  # "atom", "rss", "json", "html", "opml"
    size: int
    version: str  # fingerprint of what it shows (the builder's, to know what to re-render)
    # content coding ("br", "gzip") -> (ETag, size) of the body compressed so, stored under that ETag
    encodings: dict[str, tuple[str, int]] = field(default_factory=dict)
    lifetime: str = ""  # "archive": an archive document that is no feed's newest, cached longer

    # The entry as JSON, made once: a manifest written at every change lists
    # 20,000 entries, nearly all unchanged.
    _json: str = field(default="", init=False, repr=False, compare=False)

    def encode(self) -> list:
        encoded = [self.etag, self.last_modified, self.fmt, self.size, self.version,
                   {name: list(value) for name, value in sorted(self.encodings.items())}]
        return [*encoded, self.lifetime] if self.lifetime else encoded

    def json(self) -> str:
        if not self._json:
            object.__setattr__(self, "_json", json.dumps(self.encode(), separators=(",", ":")))
        return self._json

    @classmethod
    def decode(cls, value: list) -> "Entry":
        codings = value[5] if len(value) > 5 else {}
        return cls(*value[:5], {name: (etag, size) for name, (etag, size) in codings.items()},
                   value[6] if len(value) > 6 else "")

    def etags(self) -> list[str]:
        """The ETags of every body this entry names."""
        return [self.etag, *(etag for etag, _ in self.encodings.values())] if self.etag else []


@dataclass(frozen=True, slots=True)
class Manifest:
    """A complete version of the site: every document, and what it was built from."""

    version: int  # increases with every commit; a server never goes back to a lower one
    built_at: float  # Unix time of the commit
    stats: dict = field(default_factory=dict)  # articles, feeds, problems
    # path -> Entry: every document but the archive documents, and the parts listing those
    documents: dict[str, Entry] = field(default_factory=dict, repr=False)
    # Names the store's life: a store emptied (Redis flushed, the folder
    # deleted) starts a new epoch, whose versions count from 1 again.
    epoch: str = ""

    def follows(self, other: "Manifest | None") -> bool:
        """Whether a server holding `other` should take this one."""
        return other is None or self.epoch != other.epoch or self.version >= other.version

    def head(self) -> str:
        return json.dumps({"version": self.version, "built_at": self.built_at, "stats": self.stats,
                           "epoch": self.epoch}, sort_keys=True, separators=(",", ":"))

    def encode(self) -> bytes:
        head = json.dumps({"store": 1, "version": self.version, "built_at": self.built_at, "stats": self.stats,
                           "epoch": self.epoch}, separators=(",", ":"))
        return f'{head[:-1]},"documents":{_documents_json(self.documents)}}}'.encode("utf-8")

    @classmethod
    def decode(cls, data: bytes | str) -> "Manifest":
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("store") != 1:
            raise ValueError("not a feeds store manifest")
        return cls(int(raw["version"]), float(raw["built_at"]), dict(raw.get("stats") or {}),
                   {path: Entry.decode(value) for path, value in raw["documents"].items()}, str(raw.get("epoch", "")))
