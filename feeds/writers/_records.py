"""What the builder hands a writer, and what the writer reports back."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rendered:
    """A document's bytes, as the builder made them."""

    path: str  # "feed.atom", "topics/ai.rss", "index.html", ...
    fmt: str
    version: str  # fingerprint of what it shows
    body: bytes
    newest: int  # Unix seconds of the newest change it shows (Last-Modified, unless edited since)
    encoded: dict[str, bytes] = field(default_factory=dict)  # content coding -> compressed body
    lifetime: str = ""  # "archive": cached as long as archive documents are (archive_max_age)


@dataclass(frozen=True, slots=True)
class Placed:
    """A document its writer's placer has already written (see
    ExportWriter.placer): what the writer records of it, without its bytes."""

    path: str
    version: str
    size: int  # of the document itself, as the manifest lists it


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    store_version: int | None = None
