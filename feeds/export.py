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
from typing import Sequence

from .collect import Collection
from .records import Feed, Site
from .render import FEED_FORMATS, feed_version, pages_version, render_formats, settings_version
from .render.pages import index_html, opml

MANIFEST = ".feeds-manifest.json"
_SAFE_RELPATH = re.compile(r"^[a-z0-9][a-z0-9.-]*(?:/[a-z0-9][a-z0-9.-]*)*\Z")
# Temporary files of an export that was killed before it could rename them.
_LEFTOVER = re.compile(r"^\.\.?[a-z0-9][a-z0-9.-]*\.(?:atom|rss|json|html|opml)\.[A-Za-z0-9_]{6,}\.tmp$")
_FOLDERS = ("", "topics", "providers")


class ExportError(Exception):
    """The export folder cannot be written; the message names the path."""


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    relpath: str
    version: str  # equal versions, equal bytes
    fmt: str  # a feed format, "html" (the index page) or "opml"
    feed: Feed | None = field(default=None, repr=False, compare=False)  # None for the pages


PARALLEL_MIN_DOCUMENTS = 200


def documents(collection: Collection, site: Site) -> list[Document]:
    """Every document of the site, with the fingerprint of what it shows."""
    pages = pages_version(collection, site)
    docs = [Document("index.html", pages, "html"), Document("feeds.opml", pages, "opml")]
    for feed in collection.all_feeds():
        version = feed_version(feed, site)
        docs.extend(Document(f"{feed.path}.{fmt}", f"{fmt}:{version}", fmt, feed) for fmt in FEED_FORMATS)
    return docs


def render_group(docs: Sequence[Document], collection: Collection, site: Site) -> list[bytes]:
    """The bytes of documents of one feed (or of the pages), rendered together."""
    if docs[0].feed is None:
        return [index_html(collection, site) if doc.fmt == "html" else opml(collection, site) for doc in docs]
    rendered = render_formats(docs[0].feed, [doc.fmt for doc in docs], site)
    return [rendered[doc.fmt] for doc in docs]


def export(collection: Collection, site: Site, outdir: Path, workers: int = 1, progress=None) -> ExportReport:
    """Write the site into outdir, touching only what changed.

    A document whose fingerprint and size match the manifest of the previous
    export is not even rendered; the others are rendered (on
    `workers` processes when there are many) and written only if their bytes
    differ from the file on disk.
    """
    outdir = Path(outdir)
    _make_dir(outdir)
    root = outdir.resolve()
    _remove_leftovers(root)
    settings = settings_version(site)
    previous = _read_manifest(root, settings)
    docs = documents(collection, site)
    report = ExportReport()
    manifest: dict[str, list] = {}
    stale: list[tuple[int, Path]] = []
    for index, doc in enumerate(docs):
        target = safe_target(root, doc.relpath)
        known = previous.get(doc.relpath)
        if known and known[0] == doc.version and _stamp(target) == tuple(known[1:]):
            manifest[doc.relpath] = known
            report.unchanged.append(doc.relpath)
        else:
            stale.append((index, target))
    if stale:
        # Until this run completes, no file it may replace can be trusted and
        # every file it may create must be known: a killed run leaves exactly that.
        interim = {**previous, **manifest, **{docs[index].relpath: [None, None] for index, _ in stale}}
        _write_manifest(root, settings, interim)
    total, done = len(docs), len(report.unchanged)
    targets = dict(stale)
    if progress:
        progress(done, total)
    for index, data in _render_all(docs, stale, collection, site, workers):
        doc = docs[index]
        written = write_if_changed(targets[index], data)
        manifest[doc.relpath] = [doc.version, len(data)]  # the size _stamp reads back
        (report.written if written else report.unchanged).append(doc.relpath)
        done += 1
        if progress and done % 50 == 0:
            progress(done, total)
    if progress:
        progress(total, total)
    for relpath in sorted(previous.keys() - manifest.keys()):
        target = safe_target(root, relpath, must_exist=False)
        if target is not None:
            try:
                target.unlink()
                report.removed.append(relpath)
            except FileNotFoundError:
                pass
            except OSError as error:
                raise ExportError(f"{target}: cannot remove: {error.strerror}") from None
    _write_manifest(root, settings, manifest)
    return report


_RENDER_JOBS: tuple = ()  # (docs, collection, site) for forked workers, which inherit it


def _render_all(docs: list[Document], stale: list[tuple[int, Path]], collection: Collection, site: Site,
                workers: int):
    """(index, bytes) of every stale document, rendered on `workers` processes.

    Documents of one feed are rendered together, as they share work. Only
    this process writes: files created in one folder by several processes at
    once contend in the kernel and cost more than the rendering they save.
    """
    global _RENDER_JOBS
    groups: dict[str, list[int]] = {}
    for index, _ in stale:
        groups.setdefault(docs[index].feed.path if docs[index].feed else "", []).append(index)
    jobs = list(groups.values())
    if workers <= 1 or len(stale) < PARALLEL_MIN_DOCUMENTS:
        for job in jobs:
            yield from zip(job, render_group([docs[index] for index in job], collection, site))
        return
    import multiprocessing
    _RENDER_JOBS = (docs, collection, site)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for rendered in pool.imap_unordered(_render_job, jobs, chunksize=8):
                yield from rendered
    finally:
        _RENDER_JOBS = ()


def _render_job(job: list[int]) -> list[tuple[int, bytes]]:
    docs, collection, site = _RENDER_JOBS
    return list(zip(job, render_group([docs[index] for index in job], collection, site)))


def _stamp(path: Path) -> tuple | None:
    # Size only: the manifest lives in the export, so it must be as deterministic as the rest.
    try:
        return (path.stat().st_size,)
    except OSError:
        return None


def safe_target(root: Path, relpath: str, must_exist: bool = True) -> Path | None:
    """The file for relpath inside root; names derived from content never climb out.

    Every part must start with a letter or digit, so no part is "." or ".."
    and the path stays inside root (checked as text: this runs for every
    document of every export)."""
    if not _SAFE_RELPATH.match(relpath):
        if must_exist:
            raise ExportError(f"refusing unsafe output path {relpath!r}")
        return None
    return root / relpath


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
    try:
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except (FileNotFoundError, NotADirectoryError):  # folders are made on first use, not checked per file
            _make_dir(target.parent)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise ExportError(f"{target.parent}: cannot write: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(fd, 0o644)
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


def _remove_leftovers(root: Path) -> None:
    for folder in _FOLDERS:
        try:
            names = os.listdir(root / folder)
        except OSError:
            continue
        for name in names:
            if _LEFTOVER.match(name):
                try:
                    os.unlink(root / folder / name)
                except OSError:
                    pass


def _read_manifest(root: Path, settings: str) -> dict[str, list]:
    """relpath -> [version, size] of the previous export, if it was ours."""
    try:
        data = json.loads((root / MANIFEST).read_text("utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            return {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    # Other code or settings: every document may differ, but the files are still ours to remove.
    same = data.get("settings") == settings
    return {path: (entry if same and isinstance(entry, list) and len(entry) == 2 else [None, None])
            for path, entry in files.items() if isinstance(path, str)}


def _write_manifest(root: Path, settings: str, files: dict[str, list]) -> None:
    data = json.dumps({"generator": "feeds", "settings": settings, "files": dict(sorted(files.items()))},
                      separators=(",", ":")).encode("utf-8")  # no indent: the C encoder
    write_if_changed(root / MANIFEST, data)
