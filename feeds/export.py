"""Deliver stage, static: write every document of a collection into a folder.

Writes are incremental and atomic: a document whose bytes did not change is
left alone (its mtime too, so web servers' validators stay put), a changed
one is replaced by rename from a temporary file in the same folder, and
documents that no longer exist are removed. Only files this tool wrote (the
manifest) are ever removed.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .collect import Collection
from .records import Site
from .render import FEED_FORMATS, render_feed
from .render.pages import index_html, opml

MANIFEST = ".feeds-manifest.json"
_SAFE_PART = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class ExportError(Exception):
    """The export folder cannot be written; the message names the path."""


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def documents(collection: Collection, site: Site) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(relative path, renderer) for every document of the site."""
    yield "index.html", lambda: index_html(collection, site)
    yield "feeds.opml", lambda: opml(collection, site)
    for feed in collection.all_feeds():
        for fmt in FEED_FORMATS:
            yield f"{feed.path}.{fmt}", (lambda feed=feed, fmt=fmt: render_feed(feed, fmt, site))


def export(collection: Collection, site: Site, outdir: Path) -> ExportReport:
    outdir = Path(outdir)
    _make_dir(outdir)
    root = outdir.resolve()
    previous = _read_manifest(root)
    report = ExportReport()
    current: list[str] = []
    for relpath, render in documents(collection, site):
        target = safe_target(root, relpath)
        current.append(relpath)
        if write_if_changed(target, render()):
            report.written.append(relpath)
        else:
            report.unchanged.append(relpath)
    for relpath in sorted(set(previous) - set(current)):
        target = safe_target(root, relpath, must_exist=False)
        if target is not None:
            try:
                target.unlink()
                report.removed.append(relpath)
            except FileNotFoundError:
                pass
            except OSError as error:
                raise ExportError(f"{target}: cannot remove: {error.strerror}") from None
    _write_manifest(root, sorted(current))
    return report


def safe_target(root: Path, relpath: str, must_exist: bool = True) -> Path | None:
    """The file for relpath inside root; names derived from content never climb out."""
    parts = relpath.split("/")
    if not all(_SAFE_PART.match(part) for part in parts):
        if must_exist:
            raise ExportError(f"refusing unsafe output path {relpath!r}")
        return None
    target = root.joinpath(*parts)
    if root not in target.parents:
        raise ExportError(f"refusing output path outside {root}: {relpath!r}")
    return target


def write_if_changed(target: Path, data: bytes) -> bool:
    try:
        with open(target, "rb") as handle:
            if handle.read(len(data) + 1) == data:
                return False
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass
    except OSError:
        pass  # unreadable: rewrite it
    atomic_write(target, data)
    return True


def atomic_write(target: Path, data: bytes) -> None:
    """Replace target with data so readers see either the old or the new file."""
    _make_dir(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise ExportError(f"{target.parent}: cannot write: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as error:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ExportError(f"{target}: cannot write: {error.strerror}") from None


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ExportError(f"{path}: exists and is not a folder") from None
    except NotADirectoryError:
        raise ExportError(f"{path}: a parent of this path is a file, not a folder") from None
    except OSError as error:
        raise ExportError(f"{path}: cannot create folder: {error.strerror}") from None


def _read_manifest(root: Path) -> list[str]:
    try:
        data = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [p for p in data.get("files", []) if isinstance(p, str)] if isinstance(data, dict) else []


def _write_manifest(root: Path, paths: list[str]) -> None:
    data = json.dumps({"generator": "feeds", "files": paths}, indent=1).encode("utf-8")
    write_if_changed(root / MANIFEST, data)
