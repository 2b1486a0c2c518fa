"""Collect stage, continued: a feed's older items cut into archive documents.

A feed's subscription document shows its newest `items_per_feed` items; every
older item is in exactly one archive document (RFC 5005 archived feeds). Where
the cuts fall is chosen by the items themselves, not by their positions, so
that a change far away never moves them: walking from the oldest item to the
newest, a document begins at every *mark* (an item whose id hashes to 0
modulo `items_per_archive`, one item in `items_per_archive`), and after
`items_per_archive` items with no mark. A new item at the newest end changes
only the newest document (or begins a new one); a back-dated, edited or
removed item changes the document that holds it, and at most the documents
that follow it up to the next mark.

A document is named by the mark that begins its run of items, so its address
keeps its meaning: "2024-03-14t093015z-1a2b3c4d" is the run beginning at that
article, "2024-03-14t093015z-1a2b3c4d-2" its second `items_per_archive`
items; the items before the first mark are the run "first".
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

FIRST_RUN = "first"  # the items older than every mark


@dataclass(frozen=True, slots=True)
class Page:
    """One archive document of a feed: items[start:stop] of its archived
    items (newest first), named `key`."""

    key: str
    start: int
    stop: int


def partition(items: Sequence[tuple[int, str]], size: int) -> list[Page]:
    """The archive documents of a feed's archived items, given newest first
    as (published, id), in feed order; the documents newest first."""
    pages: list[Page] = []
    run, part, begin, count = FIRST_RUN, 1, len(items) - 1, 0
    for position in range(len(items) - 1, -1, -1):  # oldest to newest
        published, item_id = items[position]
        if is_mark(item_id, size):
            if count:
                pages.append(Page(_key(run, part), position + 1, begin + 1))
            run, part, begin, count = run_name(published, item_id), 1, position, 0
        elif count == size:
            pages.append(Page(_key(run, part), position + 1, begin + 1))
            part, begin, count = part + 1, position, 0
        count += 1
    if count:
        pages.append(Page(_key(run, part), 0, begin + 1))
    pages.reverse()
    return pages


def is_mark(item_id: str, size: int) -> bool:
    return _hash(item_id) % size == 0


def run_name(published: int, item_id: str) -> str:
    when = datetime.fromtimestamp(published, timezone.utc)
    return (f"{when.year:04d}-{when.month:02d}-{when.day:02d}t{when.hour:02d}{when.minute:02d}{when.second:02d}z"
            f"-{_hash(item_id):08x}")


def key_order(key: str) -> tuple[str, int] | None:
    """(run, part) of a document's key, in the order of the items they hold
    (the run "first" oldest); None for what names no archive document."""
    found = _KEY.match(key)
    if found is None:
        return None
    run, part = found.group(1), int(found.group(2) or 1)
    return ("" if run == FIRST_RUN else run, part)


def holder_of(gone: str, keys: Iterable[str]) -> str | None:
    """Of the keys a feed's archive documents have now, the one holding what
    the document `gone` (no longer among them) held newest: a removed or
    drafted mark ends its run, whose items join the run before it, at its
    newest end; a run that shrank keeps its first parts. That is the newest
    document before `gone`'s place, and walking on from it to older ones
    gives everything `gone` led to."""
    place = key_order(gone)
    if place is None:
        return None
    best: tuple[tuple[str, int], str] | None = None
    for key in keys:
        order = key_order(key)
        if order is not None and order < place and (best is None or order > best[0]):
            best = (order, key)
    return None if best is None else best[1]


_KEY = re.compile(r"(first|[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{6}z-[0-9a-f]{8})(?:-([2-9]|[1-9][0-9]+))?\Z")


def _key(run: str, part: int) -> str:
    return run if part == 1 else f"{run}-{part}"


def _hash(item_id: str) -> int:
    # Item ids are "urn:uuid:" and a name-based UUID: already a hash of the link.
    try:
        return int(item_id[9:17], 16)
    except ValueError:
        return int.from_bytes(hashlib.blake2b(item_id.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "big")
