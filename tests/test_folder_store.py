"""The folder store as servers read it: every request sees the newest
committed version at once, and none goes back to an older one."""
from __future__ import annotations

import os
import threading

from feeds.store import Entry, FolderStore, Manifest
from feeds.store import _folder


def commit(store: FolderStore, version: int, epoch: str = "e1") -> Manifest:
    manifest = Manifest(version, 0.0, {}, {"feed.atom": Entry(f"etag{version}", 1, "atom", 1, f"v{version}")}, epoch)
    store.commit(manifest)
    return manifest


def test_a_server_sees_each_commit_on_its_next_request(tmp_path):
    builder, server = FolderStore(tmp_path), FolderStore(tmp_path)
    assert server.current() is None
    for version in range(1, 30):
        commit(builder, version)
        assert server.current().version == version  # no delay, however often it asks


def test_while_nothing_changes_a_request_makes_no_system_call(tmp_path, monkeypatch):
    builder, server = FolderStore(tmp_path), FolderStore(tmp_path)
    commit(builder, 1)
    server.current()
    server.current()
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(_folder.os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    for _ in range(100):
        assert server.current().version == 1
    assert calls == []
    commit(builder, 2)
    assert server.current().version == 2 and calls  # a new head: looked at again


def test_a_store_made_anew_is_found_again(tmp_path):
    builder, server = FolderStore(tmp_path / "store"), FolderStore(tmp_path / "store")
    commit(builder, 5)
    assert server.current().version == 5
    os.rename(tmp_path / "store", tmp_path / "old")  # the folder deleted, a new builder starts over
    builder = FolderStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    commit(builder, 1, epoch="e2")
    server._recheck_at = 0  # as if RECHECK_SECONDS had passed: that long at most on the old head
    found = server.current()
    assert found.version == 1 and found.epoch == "e2"
    commit(builder, 2, epoch="e2")
    assert server.current().version == 2


def test_no_reader_goes_back_while_commits_race_with_requests(tmp_path):
    builder = FolderStore(tmp_path)
    commit(builder, 1)
    readers = [FolderStore(tmp_path) for _ in range(4)]
    stop, backwards = threading.Event(), []

    def read(store):
        last = 0
        while not stop.is_set():
            version = store.current().version
            if version < last:
                backwards.append((last, version))
            last = version

    threads = [threading.Thread(target=read, args=(store,)) for store in readers]
    for thread in threads:
        thread.start()
    for version in range(2, 120):
        commit(builder, version)
    stop.set()
    for thread in threads:
        thread.join()
    assert not backwards
    assert all(store.current().version == 119 for store in readers)
