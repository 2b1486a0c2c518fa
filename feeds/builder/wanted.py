"""Every document the site has (path -> version), and which of them the
writer lacks, kept between builds.

At a million articles the site has 200,000 documents, nearly all archive
documents, and a change alters a few dozen: a build that follows file events
updates the entries of the feeds it looked at and compares only those with
what the writer holds. That comparison is trusted only while the writer's
versions are the very ones it left after the last publish here (a writer
that looks at its files again, a store another builder wrote, a failed
publish: everything is compared, as on a full build).
"""
from __future__ import annotations

from typing import Iterable

from ..render import FEED_DOCUMENTS
from .archiving import ARCHIVE_FOLDER
VERSION, ARCHIVE_KEY, ARCHIVE_VERSION = 7, 1, 9  # in an index row of a feed, and of an archive document


class Wanted:
    def __init__(self) -> None:
        self.documents: dict[str, str] = {}  # path -> version
        self._archives: dict[str, set[str]] = {}  # feed -> the keys of its archive documents
        self._changed: set[str] = set()  # paths whose version changed since the last comparison
        self._held: dict | None = None  # the writer's versions as the last publish left them
        self.ready = False  # rebuilt once from the index

    def rebuild(self, pages: Iterable[str], pages_version: str, feeds: dict[str, tuple],
                archive_documents: Iterable[tuple[str, str, str]]) -> None:
        """Every document, from the index (a full build)."""
        self.documents, self._archives, self._changed, self._held = {}, {}, set(), None
        self.ready = True
        self.set_pages(pages, pages_version)
        for path, row in feeds.items():
            self._set_feed(path, row[VERSION])
        for path, key, version in archive_documents:
            self._set_archive(path, key, version)

    def set_pages(self, pages: Iterable[str], version: str) -> None:
        for name in pages:
            self._put(name, version)

    def update_feed(self, path: str, row: tuple | None, archive_rows: list[tuple] | None = None,
                    archive_changes: tuple[list[tuple], list[str]] | None = None) -> None:
        """A feed looked at again: its row as published (None: gone), and either
        the rows of all its archive documents, or (the rows new or changed, the
        keys gone); neither: it has no archive documents (archives are off)."""
        if row is None:
            for fmt in FEED_DOCUMENTS:
                self._remove(f"{path}.{fmt}")
            archive_rows, archive_changes = [], None
        else:
            self._set_feed(path, row[VERSION])
        if archive_changes is not None:
            changed, gone = archive_changes
        else:
            changed = archive_rows or []
            keys = {archive[ARCHIVE_KEY] for archive in changed}
            gone = [key for key in self._archives.get(path, ()) if key not in keys]
        for key in gone:
            self._archives[path].discard(key)
            for fmt in FEED_DOCUMENTS:
                self._remove(f"{path}{ARCHIVE_FOLDER}{key}.{fmt}")
        for archive in changed:
            self._set_archive(path, archive[ARCHIVE_KEY], archive[ARCHIVE_VERSION])
        if not self._archives.get(path, True):
            del self._archives[path]

    def _set_feed(self, path: str, version: str) -> None:
        for fmt in FEED_DOCUMENTS:  # the feed's formats and its page: all change together
            self._put(f"{path}.{fmt}", f"{fmt}:{version}")

    def _set_archive(self, path: str, key: str, version: str) -> None:
        self._archives.setdefault(path, set()).add(key)
        for fmt in FEED_DOCUMENTS:
            self._put(f"{path}{ARCHIVE_FOLDER}{key}.{fmt}", f"{fmt}:{version}")

    def _remove(self, name: str) -> None:
        if self.documents.pop(name, None) is not None:
            self._changed.add(name)

    def _put(self, name: str, version: str) -> str:
        if self.documents.get(name) != version:
            self.documents[name] = version
            self._changed.add(name)
        return name

    def stale(self, held: dict[str, str | None]) -> list[str]:
        """The paths whose version the writer does not hold."""
        documents = self.documents
        if held is not self._held:
            return [name for name, version in documents.items() if held.get(name) != version]
        return sorted(name for name in self._changed if name in documents and held.get(name) != documents[name])

    def published(self, held: dict[str, str | None]) -> None:
        """The writer now holds every document, and `held` says so."""
        self._changed, self._held = set(), held

    def forget_writer(self) -> None:
        """A publish failed: what the writer holds is compared in full next time."""
        self._held = None
