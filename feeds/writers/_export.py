"""The export folder: real paths for any static web server, each file
replaced atomically, with a manifest of what this tool wrote there."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .. import encodings
from ..exceptions import ExportError
from ..files import atomic_write, make_dir
from ..formats import announced
from ._manifest import COMPACT, MANIFEST, PENDING, FilesJson, listed_files, read_pending, read_record, read_unannounced
from ._records import Placed, Rendered, WriteReport

# Each feed's newest archive document still takes the items that leave its
# subscription document, so it keeps the short lifetime; a static server cannot
# tell it from the rest by its path. An empty file named by its path without the
# suffix (.newest/topics/ai/archive/2024-...) says which it is:
# deploy/nginx/feeds-static.conf looks for it.
NEWEST = ".newest"
_SAFE_RELPATH = re.compile(r"^[a-z0-9][a-z0-9.-]*(?:/[a-z0-9][a-z0-9.-]*)*\Z")
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*\Z")  # one part of a safe path
# Temporary files of an export that was killed before it could rename them.
_LEFTOVER = re.compile(r"^\.\.?[a-z0-9][a-z0-9.-]*\.(?:atom|rss|json|html|opml)(?:\.gz|\.br)?\.[A-Za-z0-9_]{6,}\.tmp$")
_FOLDERS = ("", "topics", "providers")


class ExportWriter:
    """A folder for static hosting, with a manifest of what this tool wrote
    there. Beside every document lie its compressed copies (feed.atom.gz,
    feed.atom.br) for servers that send precompressed files (nginx's
    gzip_static and brotli_static): written and removed with the document."""

    def __init__(self, outdir: Path, settings: str):
        self.outdir = Path(outdir)
        # "+newest1": exports made before the newest archive marks are written again once, with them.
        self.settings = f"{settings}+{encodings.settings()}+newest1"
        make_dir(self.outdir)
        self.root = self.outdir.resolve()
        remove_leftovers(self.root)
        record = read_record(self.root)
        self._previous = listed_files(record, self.settings)
        # Subscription documents written here whose change the WebSub hubs may not have heard of yet.
        self.announcing = False  # set by a builder that tells hubs: only then are they recorded
        self._unannounced = read_unannounced(record)
        # What the manifest file says, as read or last written here: a run that changes nothing leaves it.
        self._written = (dict(self._previous), set(self._unannounced)) if record else None
        for path in read_pending(self.root):  # a run cut short was replacing or creating these
            self._previous[path] = [None, None]
        if any(known[0] is None for known in self._previous.values()):
            # A run cut short (or other settings): its temporary files may lie in any folder it wrote to.
            remove_leftovers(self.root, sorted({path.rpartition("/")[0] for path in self._previous} - set(_FOLDERS)))
        # Without a manifest, what the folder holds may be what a write would
        # write, and is compared first; an empty folder (a new export) holds nothing.
        self._compare_unlisted = not (self.root / MANIFEST).exists() and _holds_anything(self.root)
        self._held: dict[str, str | None] | None = None
        self._files_json = FilesJson()
        self._trusted = False  # _held is what the last publish here left, not what the folder was seen to hold

    def refresh(self, full: bool = True) -> None:
        """Before a build: a full one looks at the folder again; one that only
        follows file events trusts what the last publish here left (at a
        million articles, looking means a stat of 200,000 documents), unless
        that publish failed."""
        if full or not self._trusted:
            self._held, self._trusted = None, False

    def versions(self) -> dict[str, str | None]:
        """path -> version of every document in the folder that is as this tool
        left it; looked at once until the next publish."""
        if self._held is not None:
            return self._held
        held = {}
        root = f"{self.root}{os.sep}"
        suffixes = [encodings.SUFFIXES[encoding] for encoding in encodings.ENCODINGS]
        # Each folder listed once: its copies are there or not, for one call per
        # folder instead of a stat per copy (at a million articles, a million stats).
        listings: dict[str, frozenset[str] | None] = {}
        first, second = suffixes  # two codings: checked without a loop, as this runs for every document
        for path, known in self._previous.items():
            if known[0] is None:
                continue
            folder, _, name = path.rpartition("/")
            names = listings.get(folder, _UNLISTED)
            if names is _UNLISTED:  # the folder's name checked once, then each name in it
                names = listings[folder] = _names(root + folder) if not folder or _SAFE_RELPATH.match(folder) else None
            if names is None or name not in names or name + first not in names or name + second not in names \
                    or not _SAFE_NAME.match(name):
                continue
            if _size(root + path) == known[1]:  # text, not Path: this runs for every document of an export
                held[path] = known[0]
        self._held = held
        return held

    def placer(self) -> "NewFilePlacer | None":
        """For a folder that holds nothing of ours (a new export), what lets the
        rendering processes write each document themselves while this writer
        records it: the bytes and their copies (292 MB at 100,000 articles
        without archives) then never cross to this process. None when a
        document may already be there, to be compared first."""
        if self._previous or self._compare_unlisted:
            return None
        return NewFilePlacer(str(self.root))

    def publish(self, wanted: dict[str, str], stale: Iterable[str], rendered: Iterable[Rendered | Placed],
                stats: dict | None = None) -> WriteReport:
        try:
            report = self._publish(wanted, stale, rendered, stats)
        except BaseException:
            self._held, self._trusted = None, False  # the next build looks again
            raise
        self._trusted = True
        return report

    def _publish(self, wanted: dict[str, str], stale: Iterable[str], rendered: Iterable[Rendered | Placed],
                 stats: dict | None = None) -> WriteReport:
        report = WriteReport()
        held = self.versions()
        # `stale` is every wanted file whose version is not held; the rest of
        # what the manifest lists stays, unless it is no longer wanted.
        stale = list(stale)
        gone = sorted(self._previous.keys() - wanted.keys())
        manifest = dict(self._previous)
        for path in (*stale, *gone):
            manifest.pop(path, None)
        report.unchanged.extend(manifest)
        changed = [*stale, *gone]
        demoted: list[str] = []
        if stale:
            # Until this run completes, no file it may replace can be trusted and
            # every file it may create must be known: a killed run leaves exactly
            # that, in a list of its own beside the manifest (which can be large).
            atomic_write(self.root / PENDING, json.dumps(sorted(stale), separators=(",", ":")).encode("utf-8"))
        for doc in rendered:
            if doc.__class__ is Placed:  # written by this writer's placer (below), after the pending list
                manifest[doc.path] = [doc.version, doc.size]
                changed.append(doc.path)
                report.written.append(doc.path)
                continue
            target = safe_target(self.root, doc.path)
            # A document this tool never wrote here is written without a look at what is there.
            write = write_if_changed if doc.path in self._previous or self._compare_unlisted else _write_new
            written = _write_document(target, doc, write, self.root)
            if doc.lifetime == "archive":
                demoted.append(doc.path)
            manifest[doc.path] = [doc.version, len(doc.body)]
            changed.append(doc.path)
            (report.written if written else report.unchanged).append(doc.path)
        # Unmarked once every format of it is written: until then its newest versions keep the short lifetime.
        for path in demoted:
            _mark_newest(self.root, path, False)
        for path in gone:
            target = safe_target(self.root, path, must_exist=False)
            if target is not None:
                for encoding in encodings.ENCODINGS:
                    _remove(_sibling(target, encoding))
                if _remove(target):
                    report.removed.append(path)
                _mark_newest(self.root, path, False)
        if self.announcing:
            self._unannounced |= {path for path in report.written if announced(path)}
        self._unannounced &= manifest.keys()
        self._files_json.follow(self._previous, manifest, changed)
        self._write_manifest(manifest)
        if stale:
            _remove(self.root / PENDING)
        self._previous = manifest
        self._compare_unlisted = False
        # What this run left is exactly its manifest: the versions looked at
        # before, brought up to date in place (the builder compares only what
        # changed while they are the same ones).
        for path in gone:
            held.pop(path, None)
        for path in stale:
            known = manifest.get(path)
            if known is not None and known[0] is not None:
                held[path] = known[0]
            else:
                held.pop(path, None)
        self._held = held
        return report

    def unannounced(self) -> set[str]:
        """Documents written (by this writer or one before it that stopped too
        soon) whose change no hub has been told of for sure."""
        return set(self._unannounced)

    def settle(self, paths) -> None:
        """The hubs have heard of these (or given up): no builder announces them again."""
        left = self._unannounced - set(paths)
        if left != self._unannounced:
            self._unannounced = left
            self._write_manifest(self._previous)

    def _write_manifest(self, files: dict[str, list]) -> None:
        if self._written is not None and self._written == (files, self._unannounced) \
                and (self.root / MANIFEST).exists():
            return  # a warm run that changed nothing: the file already says this
        # {"generator", "settings", "files" (sorted), "unannounced" (when any)}
        data = (json.dumps({"generator": "feeds", "settings": self.settings}, separators=COMPACT)[:-1]
                + ',"files":' + self._files_json.encode(files)
                + (',"unannounced":' + json.dumps(sorted(self._unannounced), separators=COMPACT)
                   if self._unannounced else "") + "}").encode("utf-8")
        write_if_changed(self.root / MANIFEST, data)
        self._written = (dict(files), set(self._unannounced))



@dataclass(frozen=True)
class NewFilePlacer:
    """Writes documents into a new export folder, in whichever process
    renders them, exactly as the writer would: the copies first, each file
    atomically. Used only while the writer's publish runs (after its pending
    list is written, so that a run cut short is cleaned up as any other)."""

    root: str

    def place(self, doc: Rendered) -> Placed:
        _write_document(safe_target(Path(self.root), doc.path), doc, _write_new, Path(self.root), new=True)
        return Placed(doc.path, doc.version, len(doc.body))


def _write_document(target: Path, doc: Rendered, write, root: Path, new: bool = False) -> bool:
    """Whether the document itself was written (`write` may find it unchanged).
    `new`: the folder held nothing before this run (no mark to remove)."""
    newest = doc.lifetime != "archive"
    if newest:  # marked before it is there: it is never sent with the long lifetime
        _mark_newest(root, doc.path, True)
    # The copies first: a server that finds the new document finds its new copies too.
    for encoding, body in (doc.encoded or encodings.compress(doc.body)).items():
        write(_sibling(target, encoding), body)
    written = write(target, doc.body)
    return written


def _mark_newest(root: Path, path: str, newest: bool) -> None:
    """Mark (or unmark) an archive document as its feed's newest; any other document is left alone."""
    stem = path.rpartition(".")[0]
    if "/archive/" not in stem:
        return
    mark = root / NEWEST / stem
    if not newest:
        _remove(mark)
        return
    try:
        try:
            fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            make_dir(mark.parent)
            fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.close(fd)
    except OSError as why:
        raise ExportError(f"{mark}: cannot write: {why.strerror}") from None


# --- files ----------------------------------------------------------------

def _sibling(target: Path, encoding: str) -> Path:
    return target.with_name(target.name + encodings.SUFFIXES[encoding])


def _remove(target: Path) -> bool:
    try:
        target.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as error:
        raise ExportError(f"{target}: cannot remove: {error.strerror}") from None


def _holds_anything(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is not None


_UNLISTED = object()


def _names(folder: str) -> frozenset[str] | None:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return None


def _size(path: str) -> int | None:
    # Size only: the manifest lives in the export, so it must be as deterministic as the rest.
    try:
        return os.stat(path).st_size
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
    after = None
    try:
        with open(target, "rb") as handle:
            if handle.read(len(data) + 1) == data:
                return False
            after = os.fstat(handle.fileno()).st_mtime_ns // 1_000_000_000
    except OSError:
        pass  # missing or unreadable: (re)write it
    atomic_write(target, data, after=after)
    return True


def _write_new(target: Path, data: bytes) -> bool:
    atomic_write(target, data)
    return True


def remove_leftovers(root: Path, folders=_FOLDERS) -> None:
    for folder in folders:
        if folder and not _SAFE_RELPATH.match(folder):
            continue
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
