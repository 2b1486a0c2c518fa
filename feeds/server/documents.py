"""What a server process knows: the store's current version, and the
documents it has already sent, ready with their headers.

Every request asks the store for its current version (a stat of one file, or
one Redis GET), so once any server has sent a version no server sends an
older one. Bodies are read once per version and kept in a bounded cache.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from werkzeug.http import http_date

from ..archives import FIRST_RUN, holder_of, key_order
from ..encodings import IDENTITY, choose
from ..exceptions import StoreError
from ..formats import FEED_FORMATS, MEDIA_TYPES
from ..store import Entry, Manifest, Parts, part_path

log = logging.getLogger("feeds")

HTML_SECURITY_HEADERS = (
    # The pages need no script at all; their only style is inline; feed pages
    # show each article's image, from any http(s) host.
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http:; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
CACHE_BYTES = 48 * 1024 * 1024  # bodies kept per process; the rest is read from the store again
PART_ENTRIES = 40_000  # archive documents' entries kept decoded per process (a part is a feed's year)


class NotReady(Exception):
    """The store has no complete version yet (the first build is running), or cannot be reached."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document ready to send: body and every header of its 200 response."""

    etag: str
    body: bytes
    last_modified: int | None  # None, or later than the clock: sent without Last-Modified
    headers: tuple[tuple[str, str], ...]
    validator: str = ""  # the ETag as If-None-Match sends it back
    not_modified: tuple[tuple[str, str], ...] = ()  # the headers of its 304 response


class Documents:
    def __init__(self, store, cache_max_age: int, hubs: tuple[str, ...] = (), base_url: str = "",
                 archive_max_age: int | None = None):
        self.store = store
        self.cache_control = f"public, max-age={cache_max_age}"
        # Archive documents change only when one of their own articles does.
        self.archive_cache_control = f"public, max-age={cache_max_age if archive_max_age is None else archive_max_age}"
        # WebSub discovery: a feed names its hubs and itself in Link headers too.
        self._hub_links = "".join(f'<{hub}>; rel="hub", ' for hub in hubs)
        self._base_url = base_url
        self._ready: dict[tuple[str, str, int | None, str], Prepared] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self._failing = False
        self._parts = Parts(store, PART_ENTRIES)

    def manifest(self) -> Manifest:
        try:
            manifest = self.store.current()
            if self._failing:
                log.warning("document store %s reachable again", self.store.name)
                self._failing = False
        except StoreError as error:
            if not self._failing:
                log.warning("%s; serving the last version read", error)
                self._failing = True
            manifest = getattr(self.store, "_manifest", None)
        if manifest is None:
            raise NotReady()
        return manifest

    def get(self, path: str, accept_encoding: str | None = None) -> Prepared | None:
        """The current version of the document at path ("feed.atom"), in the
        coding the Accept-Encoding header prefers; None if there is none."""
        try:
            entry = self._parts.lookup(self.manifest(), path)
        except StoreError as error:  # a part collected meanwhile: the next manifest names its successor
            log.warning("%s", error)
            raise NotReady() from None
        if entry is None or not entry.etag:  # none, or removed (a tombstone keeping its last date)
            return None
        encoding = choose(accept_encoding)
        etag = entry.encodings[encoding][0] if encoding in entry.encodings else entry.etag
        if etag == entry.etag:
            encoding = IDENTITY
        # The date is part of the key: bytes published again (an edit undone)
        # come back with a later date, which every process must send. So is
        # the lifetime: an archive document's bytes can stay the same while it
        # stops (or starts again) being its feed's newest.
        key = (path, etag, entry.last_modified, entry.lifetime)
        prepared = self._ready.get(key)
        now = int(time.time())
        if prepared is not None and (prepared.last_modified is not None or entry.last_modified is None
                                     or entry.last_modified > now):
            return prepared  # dated, or still not datable
        body = prepared.body if prepared is not None else self._body(etag)
        prepared = self._prepare(entry, etag, encoding, body, now, path)
        with self._lock:
            old = self._ready.pop(key, None)
            self._bytes += len(body) - (len(old.body) if old else 0)
            self._ready[key] = prepared
            while self._bytes > CACHE_BYTES and len(self._ready) > 1:
                dropped = self._ready.pop(next(iter(self._ready)))  # the oldest
                self._bytes -= len(dropped.body)
        return prepared

    def holder_of_gone(self, path: str) -> str | None:
        """For an archive document that is not there (any more): the path of the
        one holding the items it held newest, to redirect to; None if there is none.

        A document ends when its first article is removed or drafted, while
        caches keep the documents linking to it for archive_max_age: a reader
        walking from them is sent on to the same items instead of losing the
        rest of the history to a 404."""
        prefix, found, name = path.rpartition("/archive/")
        key, _, fmt = name.rpartition(".")
        place = key_order(key) if found else None
        if place is None:
            return None
        prefix, suffix = f"{prefix}/archive/", f".{fmt}"
        manifest = self.manifest()

        def keys_listed(part: str | None) -> list[str] | None:
            listing = manifest.documents.get(part) if part is not None else None
            if listing is None or not listing.etag:
                return None
            try:
                entries = self._parts.entries(part, listing)
            except StoreError as error:
                log.warning("%s", error)
                raise NotReady() from None
            return [doc[len(prefix):-len(suffix)] for doc, entry in entries.items()
                    if entry.etag and doc.endswith(suffix) and doc.startswith(prefix)]

        if place[0]:  # a dated run is listed with its year: that year first, then each before it
            for year in range(int(key[:4]), 0, -1):
                holder = holder_of(key, keys_listed(part_path(f"{prefix}{year:04d}{suffix}")) or ())
                if holder is not None:
                    return f"{prefix}{holder}{suffix}"
        firsts, part = [], 1  # the run before every mark: each of its documents is listed apart
        while (keys := keys_listed(part_path(f"{prefix}{FIRST_RUN if part == 1 else f'{FIRST_RUN}-{part}'}{suffix}"))):
            firsts += keys
            part += 1
        holder = holder_of(key, firsts)
        return None if holder is None else f"{prefix}{holder}{suffix}"

    def _body(self, etag: str) -> bytes:
        try:
            body = self.store.body(etag)
        except StoreError as error:
            log.warning("%s", error)
            raise NotReady() from None
        if body is None:  # superseded and collected meanwhile: the next manifest names its successor
            raise NotReady()
        return body

    def _prepare(self, entry: Entry, etag: str, encoding: str, body: bytes, now: int, path: str = "") -> Prepared:
        headers = [("Content-Type", MEDIA_TYPES[entry.fmt]), ("Content-Length", str(len(body)))]
        if encoding != IDENTITY:
            headers.append(("Content-Encoding", encoding))
        # Every response names the header it depends on, identity included, so
        # that no shared cache hands a compressed body to a client that cannot read it.
        headers += [("Vary", "Accept-Encoding"), ("ETag", f'"{etag}"')]
        dated = entry.last_modified is not None and entry.last_modified <= now
        if dated:
            headers.append(("Last-Modified", http_date(entry.last_modified)))
        cache_control = self.archive_cache_control if entry.lifetime == "archive" else self.cache_control
        headers += [("Cache-Control", cache_control), ("X-Content-Type-Options", "nosniff")]
        if self._hub_links and entry.fmt in FEED_FORMATS and "/archive/" not in path:  # archives: not subscribed to
            headers.append(("Link", f'{self._hub_links}<{self._base_url}{path}>; rel="self"'))
        if entry.fmt == "html":
            headers += HTML_SECURITY_HEADERS
        # A 304 repeats the validators and caching headers, not the body's.
        not_modified = tuple(h for h in headers if h[0] not in ("Content-Length", "Content-Type", "Content-Encoding"))
        return Prepared(etag, body, entry.last_modified if dated else None, tuple(headers), f'"{etag}"', not_modified)
