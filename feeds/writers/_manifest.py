"""The export's manifest (.feeds-manifest.json): what `feeds export` wrote in a
folder, each document's version and size, the documents a run cut short was
replacing, and the changes no hub has heard of yet; as read, and as written."""
from __future__ import annotations

import json
from bisect import bisect_left
from pathlib import Path
from typing import Iterable

MANIFEST = ".feeds-manifest.json"
PENDING = ".feeds-pending.json"  # the documents a run is writing: until it ends, none is trusted
COMPACT = (",", ":")


class FilesJson:
    """The manifest's "files" object, as json.dumps(files, sort_keys=True)
    writes it, kept as one encoded entry per document in path order and
    brought up to date where a run changed it: at a million articles the
    manifest lists 200,000 documents, of which a change alters a few dozen,
    and encoding all of them again took longer than the rest of the change."""

    def __init__(self):
        self._of: dict | None = None  # the files these entries say, as last told
        self._paths: list[str] = []
        self._entries: list[str] = []

    def follow(self, before: dict[str, list], after: dict[str, list], changed: Iterable[str]) -> None:
        """after is before with the changed paths set or removed."""
        if self._of is not before:  # the first run, or one that failed half-way
            self._paths = sorted(after)
            self._entries = [_entry(path, after[path]) for path in self._paths]
        else:
            paths, entries = self._paths, self._entries
            for path in changed:
                at = bisect_left(paths, path)
                present = at < len(paths) and paths[at] == path
                if path in after:
                    if present:
                        entries[at] = _entry(path, after[path])
                    else:
                        paths.insert(at, path)
                        entries.insert(at, _entry(path, after[path]))
                elif present:
                    del paths[at], entries[at]
        self._of = after

    def encode(self, files: dict[str, list]) -> str:
        if self._of is not files:
            self.follow(None, files, ())
        return "{" + ",".join(self._entries) + "}"


def _entry(path: str, known: list) -> str:
    return f"{json.dumps(path)}:{json.dumps(known, separators=COMPACT)}"


def read_record(root: Path) -> dict:
    """The export's manifest file, or {} when there is none that reads."""
    try:
        record = json.loads((root / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def read_pending(root: Path) -> list[str]:
    try:
        pending = json.loads((root / PENDING).read_text("utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return [path for path in listed_files(read_record(root), "").keys()]  # unreadable: trust nothing listed
    return [path for path in pending if isinstance(path, str)] if isinstance(pending, list) else []


def read_unannounced(record: dict) -> set[str]:
    pending = record.get("unannounced", [])
    return {path for path in pending if isinstance(path, str)} if isinstance(pending, list) else set()


def listed_files(record: dict, settings: str) -> dict[str, list]:
    """relpath -> [version, size] of the previous export, if it was ours."""
    files = record.get("files")
    if not isinstance(files, dict):
        return {}
    # Other code or settings: every document may differ, but the files are still ours to remove.
    same = record.get("settings") == settings
    return {path: (entry if same and isinstance(entry, list) and len(entry) == 2 else [None, None])
            for path, entry in files.items() if isinstance(path, str)}
