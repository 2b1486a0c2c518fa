"""The document store's writer: bodies by ETag, then one commit."""
from __future__ import annotations

import hashlib
import secrets
import time
from typing import Iterable

from .. import encodings
from ..formats import announced
from ..store import PART_FORMAT, Entry, Manifest, Parts, encode_part, part_path
from ._records import Rendered, WriteReport


class StoreWriter:
    """The document store, and the Last-Modified of every version put in it.

    A document's Last-Modified is its newest item's date; when it changes
    without a newer item (an edit that keeps the dates, the newest article
    removed) it becomes the time of the change, so a client polling with
    If-Modified-Since alone still gets the new version. Each new version's
    date is a later second than any date given to the document before; if
    that second has not come yet, servers leave Last-Modified out until it has.
    """

    GARBAGE_EVERY = 300.0  # seconds between collections of superseded bodies

    def __init__(self, store, settings: str = "", clock=time.time):
        self.store = store
        # Code and site settings: documents stored by another release or with
        # other settings are all made again, as ExportWriter does.
        self.settings = f"{settings}+{encodings.settings()}"
        self.clock = clock
        self._collected_at = time.monotonic()  # the first collection comes when the builder is idle, or at exit
        self._untidy = False  # committed since the last collection
        self.announcing = False  # see ExportWriter
        self._parts = Parts(store)  # every part of the manifest, decoded: the builder compares them
        self._everything: tuple[tuple, dict[str, Entry]] | None = None
        self._versions: tuple[tuple, dict[str, str | None]] | None = None

    def refresh(self, full: bool = True) -> None:
        """Nothing kept between builds: versions() reads the store's manifest each time."""

    def versions(self) -> dict[str, str | None]:
        """path -> version of every document the current version holds (not to be changed)."""
        manifest = self.store.current()
        if manifest is None or manifest.stats.get("settings") != self.settings:
            return {}
        key = (manifest.epoch, manifest.version, manifest.built_at)
        if self._versions is None or self._versions[0] != key:
            self._versions = (key, {path: entry.version for path, entry in self._all(manifest).items() if entry.etag})
        return self._versions[1]

    def _all(self, manifest: Manifest | None) -> dict[str, Entry]:
        """Every document of a version, archive documents included (not to be changed)."""
        if manifest is None:
            return {}
        key = (manifest.epoch, manifest.version, manifest.built_at)
        if self._everything is None or self._everything[0] != key:
            self._everything = (key, self._parts.everything(manifest))
        return self._everything[1]

    def publish(self, wanted: dict[str, str], stale: Iterable[str], rendered: Iterable[Rendered],
                stats: dict | None = None) -> WriteReport:
        report = WriteReport()
        current = self.store.current()
        old = self._all(current)
        held = self.versions()  # of `current`: nothing else commits while this builder holds the lock
        # `stale` is every wanted document whose version is not held, so the
        # rest of `old` is kept as it is: held and wanted, or not wanted (gone,
        # made a tombstone below, or a tombstone already: its last date, so that
        # one published again later is dated after anything a client may hold).
        stale = set(stale)
        documents = dict(old)
        for path in stale:
            documents.pop(path, None)
        report.unchanged.extend(path for path in wanted if path not in stale)
        changed: dict[str, Entry | None] = {}
        now = int(self.clock())
        for doc in rendered:
            etag = _etag(doc.body)
            previous = old.get(doc.path)
            codings = {}
            for encoding, body in (doc.encoded or encodings.compress(doc.body)).items():
                codings[encoding] = (_etag(body), len(body))
                self.store.put(codings[encoding][0], body)
            self.store.put(etag, doc.body)
            entry = Entry(etag, _last_modified(previous, etag, doc.newest, now), doc.fmt, len(doc.body),
                          doc.version, codings, doc.lifetime)
            documents[doc.path] = changed[doc.path] = entry
            (report.written if previous is None or previous.etag != etag else report.unchanged).append(doc.path)
        for path in sorted(old.keys() - wanted.keys()):
            if old[path].etag:
                documents[path] = changed[path] = Entry("", old[path].last_modified, old[path].fmt, 0, "")
                report.removed.append(path)
        version = (current.version if current else 0) + 1
        epoch = current.epoch if current and current.epoch else secrets.token_hex(8)
        stats = {**(stats or {}), "settings": self.settings}
        pending = set(current.stats.get("unannounced", ())) if current else set()
        if self.announcing:
            pending |= {path for path in report.written if announced(path)}
        pending = {path for path in pending if (entry := documents.get(path)) is not None and entry.etag}
        if pending:
            # Committed with the version they announce: a builder that dies before its
            # pings went out leaves them to the next one.
            stats["unannounced"] = sorted(pending)
        dropped = old.keys() - documents.keys()  # neither wanted nor kept as a tombstone
        listed, listing_changes = self._listings(current, documents, changed, dropped)
        manifest = Manifest(version, self.clock(), stats, listed, epoch)
        if changed or dropped or current is None or stats != current.stats:
            retired: set[str] = set()  # bodies of archive documents no version names from now on
            for path in (*changed, *dropped):
                before = old.get(path)
                if before is not None and part_path(path) is not None:
                    entry = documents.get(path)
                    retired.update(set(before.etags()) - set(entry.etags() if entry else ()))
            self.store.commit(manifest, {**{path: entry for path, entry in changed.items() if path in listed},
                                         **listing_changes}, retired)
            report.store_version = version
            key = (manifest.epoch, manifest.version, manifest.built_at)
            self._everything = (key, documents)
            if self._versions is not None and self._versions[1] is held:
                # Kept up to date rather than made again from 200,000 entries: the
                # builder knows that versions it has seen before are unchanged.
                for path, entry in changed.items():
                    if entry is not None and entry.etag:
                        held[path] = entry.version
                    else:
                        held.pop(path, None)
                for path in dropped:
                    held.pop(path, None)
                self._versions = (key, held)
            self._parts.forget_others(manifest)
            self._untidy = True
        return report

    def tidy(self, force: bool = False) -> None:
        """Remove the bodies no version names any more, at most every
        GARBAGE_EVERY seconds (`force`: now). The builder calls this when no
        change is waiting: at a million articles it takes about a second, which
        a change arriving after a commit would otherwise wait for."""
        if not self._untidy or (not force and time.monotonic() - self._collected_at < self.GARBAGE_EVERY):
            return
        manifest = self.store.current()
        if manifest is None:
            return
        self._collected_at, self._untidy = time.monotonic(), False
        documents = self._all(manifest)
        keep = {etag for entry in (*documents.values(), *manifest.documents.values()) for etag in entry.etags()}
        self.store.collect_garbage(manifest, keep)

    def _listings(self, current: Manifest | None, documents: dict[str, Entry], changed: dict[str, Entry | None],
                  dropped: set[str]) -> tuple[dict[str, Entry], dict[str, Entry | None]]:
        """What the manifest itself lists (the archive documents in parts, a
        part written only when what it lists changed), and the changes to it
        that are not documents' (parts written or gone, entries it no longer lists).

        Only the parts of documents that changed or went are made again: the
        rest of `documents` is the current version's own entries."""
        before = current.documents if current is not None else {}
        regroup = current is None or any(entry.fmt != PART_FORMAT and part_path(path) is not None
                                         for path, entry in before.items())  # a store from before parts
        members_of: dict[str, dict[str, Entry]] = {}
        if regroup:
            listed = {}
            for path, entry in documents.items():
                part = part_path(path)
                if part is None:
                    listed[path] = entry
                else:
                    members_of.setdefault(part, {})[path] = entry
            members_of.update((path, {}) for path, entry in before.items()
                              if entry.fmt == PART_FORMAT and path not in members_of)
        else:
            listed = dict(before)
            for path in (*changed, *dropped):
                part = part_path(path)
                if part is not None:
                    members_of.setdefault(part, {})
                elif path in documents:
                    listed[path] = documents[path]
                else:
                    listed.pop(path, None)
            for part, members in members_of.items():
                previous = before.get(part)
                if previous is not None and previous.fmt == PART_FORMAT and previous.etag:
                    members.update((path, documents[path]) for path in self._parts.entries(part, previous)
                                   if path in documents)
            for path in changed:
                part = part_path(path)
                if part is not None and path in documents:
                    members_of[part][path] = documents[path]
        changes: dict[str, Entry | None] = {}
        for part, members in sorted(members_of.items()):
            previous = before.get(part)
            if not members:
                listed.pop(part, None)
            elif previous is not None and previous.fmt == PART_FORMAT and previous.etag \
                    and self._parts.entries(part, previous) == members:
                listed[part] = previous
            else:
                body = encode_part(members)
                etag = _etag(body)
                self.store.put(etag, body)
                self._parts.keep(etag, members)
                listed[part] = changes[part] = Entry(etag, None, PART_FORMAT, len(body), "")
        changes.update((path, None) for path in before if path not in listed)
        return listed, changes


    def unannounced(self) -> set[str]:
        current = self.store.current()
        return set(current.stats.get("unannounced", ())) if current else set()

    def settle(self, paths) -> None:
        """The hubs have heard of these (or given up): a new version of the
        store's record says so (the documents are the same)."""
        current = self.store.current()
        if current is None:
            return
        pending = set(current.stats.get("unannounced", ()))
        left = pending - set(paths)
        if left == pending:
            return
        stats = {key: value for key, value in current.stats.items() if key != "unannounced"}
        if left:
            stats["unannounced"] = sorted(left)
        self.store.commit(Manifest(current.version + 1, self.clock(), stats, current.documents, current.epoch), {})


def _etag(body: bytes) -> str:
    """A strong validator: each coding of a document has its own (RFC 9110 §8.8.3)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _last_modified(previous: Entry | None, etag: str, newest: int, now: int) -> int:
    if previous is not None and previous.etag == etag and previous.last_modified is not None:
        return previous.last_modified  # the same bytes again: the same date
    floor = previous.last_modified if previous is not None else None
    newest = min(newest, now)
    if floor is None or newest > floor:
        return newest
    return max(now, floor + 1)  # servers withhold a date later than their clock
