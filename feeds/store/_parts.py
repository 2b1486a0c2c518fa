"""Reading a manifest's parts (see _types): decoded once per ETag, as a
part's bytes never change under the same ETag."""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..exceptions import StoreError
from ._types import PART_FORMAT, Entry, Manifest, decode_part, part_path


class Parts:
    """The parts a process has decoded, the least recently used dropped past
    `limit` entries (None: all kept, for the builder, which holds every part)."""

    def __init__(self, store, limit: int | None = None):
        self.store = store
        self.limit = limit
        self._parts: OrderedDict[str, dict[str, Entry]] = OrderedDict()
        self._entries = 0
        self._lock = threading.Lock()

    def lookup(self, manifest: Manifest, path: str) -> Entry | None:
        """The entry of the document at path in this version, or None."""
        entry = manifest.documents.get(path)
        if entry is not None:
            return None if entry.fmt == PART_FORMAT else entry
        part = part_path(path)
        listing = manifest.documents.get(part) if part is not None else None
        if listing is None or not listing.etag:
            return None
        return self.entries(part, listing).get(path)

    def entries(self, part: str, listing: Entry) -> dict[str, Entry]:
        """The documents one part lists: path -> Entry."""
        with self._lock:
            found = self._parts.get(listing.etag)
            if found is not None:
                self._parts.move_to_end(listing.etag)
                return found
        body = self.store.body(listing.etag)
        if body is None:
            raise StoreError(f"{self.store.name}: the list of {part} ({listing.etag}) is missing")
        try:
            found = decode_part(body)
        except (ValueError, KeyError, TypeError) as error:
            raise StoreError(f"{self.store.name}: the list of {part} is unreadable ({type(error).__name__})") from None
        self.keep(listing.etag, found)
        return found

    def keep(self, etag: str, documents: dict[str, Entry]) -> None:
        """Hold a decoded part (the builder, which has just made it)."""
        with self._lock:
            if etag in self._parts:
                return
            self._parts[etag] = documents
            self._entries += len(documents)
            while self.limit is not None and self._entries > self.limit and len(self._parts) > 1:
                _, dropped = self._parts.popitem(last=False)
                self._entries -= len(dropped)

    def everything(self, manifest: Manifest) -> dict[str, Entry]:
        """Every document of this version, archive documents included (path -> Entry)."""
        documents: dict[str, Entry] = {}
        for path, entry in manifest.documents.items():
            if entry.fmt == PART_FORMAT:
                if entry.etag:
                    documents.update(self.entries(path, entry))
            else:
                documents[path] = entry
        return documents

    def forget_others(self, manifest: Manifest) -> None:
        """Drop the parts this version no longer names."""
        named = {entry.etag for entry in manifest.documents.values() if entry.fmt == PART_FORMAT}
        with self._lock:
            for etag in [etag for etag in self._parts if etag not in named]:
                self._entries -= len(self._parts.pop(etag))
