"""Last-Modified: the newest item's date, moved forward when a document
changes without a newer item, never ahead of the clock, and the same for
every server because the builder decides it and the store keeps it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from feeds.server.documents import Documents
from feeds.store import FolderStore
from feeds.writers import Rendered, StoreWriter

NOW = int(datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp())
MARCH = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())
APRIL = int(datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp())

@pytest.fixture(autouse=True)
def _written_files_trusted_at_once(monkeypatch):
    """settle() dates the files' mtime, but the ctime that moves is now, and a
    change that recent is read again on every build: these tests trust at once."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)



class Publisher:
    """Publishes one document, feed.atom, to a folder store at a settable time."""

    def __init__(self, root):
        self.now = NOW
        self.store = FolderStore(root)
        self.writer = StoreWriter(self.store, clock=lambda: self.now)

    def publish(self, body: str, newest: int) -> int | None:
        version = f"v-{body}"
        self.writer.publish({"feed.atom": version}, ["feed.atom"],
                            [Rendered("feed.atom", "atom", version, body.encode(), newest)])
        return self.store.current().documents["feed.atom"].last_modified


@pytest.fixture
def publisher(tmp_path):
    return Publisher(tmp_path / "store")


def test_a_document_is_last_modified_when_its_newest_item_was(publisher):
    assert publisher.publish("one", MARCH) == MARCH
    assert publisher.publish("two, with a newer item", APRIL) == APRIL


def test_a_change_without_a_newer_item_is_dated_when_it_was_published(publisher):
    publisher.publish("one", APRIL)
    publisher.now += 60
    assert publisher.publish("one, edited", APRIL) == NOW + 60  # an edit keeping the dates
    publisher.now += 300
    assert publisher.publish("newest removed", MARCH) == NOW + 360


def test_the_same_bytes_keep_their_date(publisher):
    publisher.publish("one", MARCH)
    publisher.now += 3600
    assert publisher.publish("one", MARCH) == MARCH


def test_two_changes_in_one_second_get_different_dates_and_servers_wait_for_the_second(publisher):
    """If-Modified-Since has one-second resolution: a second change within the
    second of the first must not share its date, or a client holding the first
    would be told it is current. Servers send it without Last-Modified until
    their clock reaches that date."""
    publisher.publish("one", APRIL)
    assert publisher.publish("two", APRIL) == NOW
    assert publisher.publish("three", APRIL) == NOW + 1
    documents = Documents(FolderStore(publisher.store.root), cache_max_age=60)
    import feeds.server.documents as module
    real = module.time.time
    try:
        module.time.time = lambda: NOW + 0.5
        assert documents.get("feed.atom").last_modified is None
        assert "Last-Modified" not in dict(documents.get("feed.atom").headers)
        module.time.time = lambda: NOW + 1
        assert documents.get("feed.atom").last_modified == NOW + 1
        assert "Last-Modified" in dict(documents.get("feed.atom").headers)
    finally:
        module.time.time = real


def test_last_modified_is_never_later_than_the_clock(publisher):
    assert publisher.publish("from the future", NOW + 30 * 86400) == NOW


def test_a_restarted_or_other_builder_continues_the_dates(publisher, tmp_path):
    publisher.publish("one", APRIL)
    edited = publisher.publish("one, edited", APRIL)
    other = Publisher(tmp_path / "store")
    other.now = NOW + 3600
    assert other.publish("one, edited", APRIL) == edited
    assert other.publish("edited again", APRIL) == NOW + 3600


def test_going_back_to_an_earlier_version_gets_a_new_date(publisher):
    """An edit undone: clients holding the edited copy must be told of the change back."""
    assert publisher.publish("one", MARCH) == MARCH
    publisher.now += 60
    assert publisher.publish("one, edited", MARCH) == NOW + 60
    publisher.now += 60
    assert publisher.publish("one", MARCH) == NOW + 120


def test_a_server_that_sent_a_version_sends_its_new_date_when_it_comes_back(publisher):
    """Once served, the bytes of an undone edit must not go out with their first date:
    a client holding the edit and polling with If-Modified-Since alone would get a 304."""
    documents = Documents(publisher.store, cache_max_age=300)
    publisher.publish("one", MARCH)
    assert documents.get("feed.atom").last_modified == MARCH
    publisher.now += 60
    publisher.publish("one, edited", MARCH)
    assert documents.get("feed.atom").last_modified == NOW + 60
    publisher.now += 60
    publisher.publish("one", MARCH)
    assert documents.get("feed.atom").last_modified == NOW + 120


def test_superseded_bodies_are_collected_after_the_grace_period(publisher):
    import os
    import time
    from feeds.store import _folder
    publisher.publish("one", MARCH)
    publisher.publish("two", APRIL)
    objects = sorted(p for p in (publisher.store.root / "objects").rglob("*") if p.is_file())
    assert len(objects) == 6  # two versions, each plain, brotli and gzip
    current = publisher.store.current().documents["feed.atom"].etags()
    old = [p for p in objects if p.name not in current]
    assert len(old) == 3
    assert publisher.store.collect_garbage(publisher.store.current()) == 0  # still within the grace period
    past = time.time() - _folder.GRACE_SECONDS - 1
    for path in objects:
        os.utime(path, (past, past))
    assert publisher.store.collect_garbage(publisher.store.current()) == 3
    assert not any(path.exists() for path in old)
    assert all((publisher.store.root / "objects" / etag[:2] / etag).exists() for etag in current)


def test_a_document_removed_and_published_again_is_dated_after_anything_sent_before(publisher):
    """A topic whose only article is removed, then comes back: a client still
    holding its edited copy (dated at the edit) must not be told the new one is older."""
    publisher.publish("one", MARCH)
    publisher.now += 60
    edited = publisher.publish("one, edited", MARCH)
    assert edited == NOW + 60
    publisher.now += 60
    publisher.writer.publish({}, [], [])  # the document removed
    assert not publisher.store.current().documents["feed.atom"].etag
    from feeds.server.documents import Documents
    assert Documents(publisher.store, 60).get("feed.atom") is None  # a 404 while removed
    publisher.now += 60
    assert publisher.publish("one", MARCH) > edited


def test_a_store_written_by_another_release_or_settings_is_made_again(publisher):
    """Document versions fingerprint the articles, not the code: a store left by
    another release (or other site settings) must not be trusted, or its
    documents would lack what this one adds (codings, links) until they change."""
    publisher.publish("one", MARCH)
    assert publisher.writer.versions() == {"feed.atom": "v-one"}
    other = StoreWriter(publisher.store, settings="another release", clock=lambda: publisher.now)
    assert other.versions() == {}
    other.publish({"feed.atom": "v-one"}, ["feed.atom"], [Rendered("feed.atom", "atom", "v-one", b"one, again", MARCH)])
    assert other.versions() == {"feed.atom": "v-one"} and publisher.writer.versions() == {}
