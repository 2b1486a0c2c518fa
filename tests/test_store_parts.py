"""The store's manifest lists archive documents in parts (a feed's year
each): a change rewrites the parts it touches, a server reads a part only
when asked for one of its documents, and no body a part names is ever
collected or expired while it is current."""
from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta

import pytest

from archive_walker import walk
from conftest import wait_for
from test_archives import BASE, ITEMS_PER_ARCHIVE, ITEMS_PER_FEED, START, article, assert_whole_history, settle
from test_servers import REDIS, _connects, free_port
from feeds.builder import Builder
from feeds.config import load_config
from feeds.render import settings_version
from feeds.server.documents import Documents
from feeds.store import PART_FORMAT, FolderStore, RedisStore, encode_part, part_path
from feeds.writers import StoreWriter


@pytest.fixture(autouse=True)
def _written_files_trusted_at_once(monkeypatch):
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)


@pytest.fixture(params=["folder", "redis"])
def store(request, tmp_path):
    if request.param == "folder":
        yield FolderStore(tmp_path / "store")
        return
    if REDIS is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's)")
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _connects(port), 10, what="redis-server")
        yield RedisStore(f"redis://127.0.0.1:{port}/0", "parts-test")
    finally:
        process.terminate()
        process.wait(timeout=10)


class Site:
    """A content folder of 60 articles over two years, built into a store."""

    def __init__(self, tmp_path, store):
        self.content = tmp_path / "content"
        for number in range(60):
            article(self.content, number, START + timedelta(days=13 * number))
        settle(self.content)
        self.config = load_config(overrides={"content": str(self.content), "base_url": BASE,
                                             "items_per_feed": ITEMS_PER_FEED, "items_per_archive": ITEMS_PER_ARCHIVE,
                                             "cache_dir": str(tmp_path / "cache")}, environ={})
        self.store = store
        assert store.acquire()
        self.writer = StoreWriter(store, settings_version(self.config.site))
        self.builder = Builder(self.config, self.writer, index=tmp_path / "index.sqlite")
        self.builder.build()

    def server(self, **kwargs) -> Documents:
        """What a server process sees: its own view of the same store."""
        if isinstance(self.store, FolderStore):
            return Documents(FolderStore(self.store.root), 300, **kwargs)
        return Documents(RedisStore(_url(self.store), "parts-test"), 300, **kwargs)

    def change(self, path):
        self.builder.build([str(path)])


def _url(store: RedisStore) -> str:
    kwargs = store.client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def fetcher(documents: Documents):
    def fetch(url: str) -> bytes:
        prepared = documents.get(url[len(BASE):])
        assert prepared is not None, url
        return prepared.body
    return fetch


def test_the_manifest_lists_archive_documents_in_parts_and_servers_find_them(tmp_path, store):
    site = Site(tmp_path, store)
    manifest = store.current()
    parts = {path for path, entry in manifest.documents.items() if entry.fmt == PART_FORMAT}
    years = {path.rsplit("/", 2)[-2] for path in parts}
    assert "first" in years and len(years) >= 3, years  # the oldest document, and one part per year
    assert not [path for path in manifest.documents if "/archive/" in path and path not in parts]
    documents = site.server()
    assert_whole_history(fetcher(documents), site.content)
    assert documents.get("topics/ai/archive/2023/") is None  # a part is not a document
    assert documents.get("topics/ai/archive/no-such-page.atom") is None


def test_a_new_article_rewrites_only_the_parts_of_its_own_feeds(tmp_path, store, monkeypatch):
    import feeds.writers._store as module
    site = Site(tmp_path, store)
    encoded = []
    monkeypatch.setattr(module, "encode_part", lambda documents: encoded.append(documents) or encode_part(documents))
    before = store.current().documents
    documents = site.server()
    chain = walk(fetcher(documents), f"{BASE}topics/ai.atom", "atom").documents  # the server holds this version
    newest = article(site.content, 900, START + timedelta(days=13 * 61))  # AI (900 % 5 == 0), Robotics, alpha
    site.change(newest)
    after = store.current().documents
    rewritten = {path for path in after.keys() | before.keys()
                 if after.get(path) != before.get(path) and (after.get(path) or before.get(path)).fmt == PART_FORMAT}
    # At most the newest archive document of each of its feeds changes: one part each,
    # and no other part is even encoded again.
    assert rewritten and len(rewritten) <= 4 and len(encoded) == len(rewritten), sorted(rewritten)
    assert {path.split("/archive/")[0] for path in rewritten} <= {"feed", "topics/ai", "topics/robotics",
                                                                   "providers/alpha.example"}
    assert_whole_history(fetcher(documents), site.content)
    assert len(walk(fetcher(documents), f"{BASE}topics/ai.atom", "atom").documents) >= len(chain)


def test_a_server_keeping_few_parts_still_serves_every_archive_document(tmp_path, store, monkeypatch):
    import feeds.server.documents as module
    site = Site(tmp_path, store)
    monkeypatch.setattr(module, "PART_ENTRIES", 1)
    documents = site.server()
    assert_whole_history(fetcher(documents), site.content)
    assert documents._parts._entries <= max(len(p) for p in documents._parts._parts.values())


def test_garbage_collection_keeps_every_body_a_part_names(tmp_path):
    from feeds.store import _folder
    store = FolderStore(tmp_path / "store")
    site = Site(tmp_path, store)
    # A back-dated article rewrites archive documents in the middle of the history.
    site.change(article(site.content, 901, START + timedelta(days=13 * 30 + 1)))
    past = time.time() - _folder.GRACE_SECONDS - 1
    for path in (store.root / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))
    assert store.collect_garbage(store.current()) > 0  # the superseded copies of the rewritten ones
    assert_whole_history(fetcher(site.server()), site.content)


def test_redis_expires_the_bodies_of_rewritten_archive_documents_only(tmp_path, store):
    if not isinstance(store, RedisStore):
        pytest.skip("expiry is Redis's collection")
    site = Site(tmp_path, store)
    documents = site.server()
    before = {path: entry for path, entry in documents._parts.everything(store.current()).items()
              if part_path(path) is not None}
    site.change(article(site.content, 901, START + timedelta(days=13 * 30 + 1)))
    after = documents._parts.everything(store.current())
    replaced = [entry for path, entry in before.items() if after[path].etag != entry.etag]
    assert replaced
    for entry in replaced:
        for etag in entry.etags():
            assert 0 < store.client.ttl(store.keys["body"] + etag), etag
    for path, entry in after.items():
        for etag in entry.etags():
            assert store.client.ttl(store.keys["body"] + etag) == -1, path  # current: no expiry
    assert_whole_history(fetcher(documents), site.content)


def assert_listing_matches(site: Site) -> None:
    """The parts and the manifest together list exactly the documents the
    writer holds, each where part_path says, as a fresh grouping would."""
    manifest = site.store.current()
    held = site.writer._all(manifest)
    from feeds.store import Parts
    assert Parts(site.store).everything(manifest) == held
    for path, entry in manifest.documents.items():
        if entry.fmt == PART_FORMAT:
            members = Parts(site.store).entries(path, entry)
            assert members and all(part_path(member) == path for member in members), path
        else:
            assert part_path(path) is None, f"{path}: an archive document listed by the manifest itself"


def test_after_any_changes_the_parts_list_exactly_the_documents(tmp_path, store):
    import random
    site = Site(tmp_path, store)
    rng = random.Random(5)
    for step in range(12):
        number = rng.randrange(60)
        choice = step % 4
        if choice == 0:  # a new article, somewhere in the history
            path = article(site.content, 700 + step, START + timedelta(days=rng.randrange(800), hours=5))
        elif choice == 1:  # removed
            path = site.content / f"a{number:04d}.md"
            path.unlink(missing_ok=True)
        elif choice == 2:  # a draft
            path = article(site.content, number, START + timedelta(days=13 * number), published=False)
        else:  # moved in time
            path = article(site.content, number, START + timedelta(days=rng.randrange(800)))
        settle(site.content)
        site.change(path)
        assert_listing_matches(site)
    assert_whole_history(fetcher(site.server()), site.content)


def test_a_store_from_before_parts_is_regrouped_at_the_next_change(tmp_path):
    from feeds.store import Manifest
    store = FolderStore(tmp_path / "store")
    site = Site(tmp_path, store)
    current = store.current()
    everything = site.writer._all(current)
    store.commit(Manifest(current.version + 1, current.built_at, current.stats, dict(everything), current.epoch))
    site.writer = StoreWriter(store, settings_version(site.config.site))
    site.builder.writer = site.writer
    site.change(article(site.content, 950, START + timedelta(days=13 * 61)))
    assert_listing_matches(site)
    assert_whole_history(fetcher(site.server()), site.content)
