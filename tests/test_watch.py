"""`feeds export OUT --watch`: the folder kept current until stopped, one log
line per change, with file-system events and with polling."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import wait_for
from corpus_builder import write_article


class Watcher:
    def __init__(self, content: Path, out: Path, cache: Path, *extra, **env):
        self.out = out
        self.log = open(out.parent / "watch.log", "w+")
        environment = {**os.environ, **env}
        environment.pop("FEEDS_CONFIG", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "feeds", "export", str(out), "--watch", "--content", str(content),
             "--cache-dir", str(cache), "--base-url", "https://x.test/", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=environment)
        wait_for(lambda: (out / "feed.json").exists(), 30, what="the first export")
        time.sleep(0.3)

    def titles(self, path: str = "feed.json") -> list[str]:
        try:
            return [item["title"] for item in json.loads((self.out / path).read_bytes())["items"]]
        except (OSError, ValueError):
            return []

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        return code


@pytest.fixture(params=["events", "poll"])
def watcher(request, tmp_path):
    content = tmp_path / "content"
    write_article(content, "base.md", title="Base story", webUrl="https://example.com/base", topics=["AI"],
                  publishedDateTime=datetime(2024, 1, 1, tzinfo=timezone.utc))
    watcher = Watcher(content, tmp_path / "out", tmp_path / "cache", FEEDS_WATCH=request.param,
                      FEEDS_RELOAD_INTERVAL="0.2")
    watcher.content = content
    yield watcher
    watcher.stop()


def appears(watcher: Watcher, title: str, path: str = "feed.json", timeout: float = 10.0):
    wait_for(lambda: title in watcher.titles(path), timeout, 0.02, f"{title!r} in {path}")


def disappears(watcher: Watcher, title: str, path: str = "feed.json", timeout: float = 10.0):
    wait_for(lambda: title not in watcher.titles(path), timeout, 0.02, f"{title!r} gone from {path}")


def test_add_edit_rename_delete_and_a_moved_folder(watcher, tmp_path):
    content = watcher.content
    write_article(content, "new.md", title="Added story", webUrl="https://example.com/new", topics=["Robotics"],
                  publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
    appears(watcher, "Added story")
    appears(watcher, "Added story", "topics/robotics.json")

    write_article(content, "new.md", title="Edited story", webUrl="https://example.com/new", topics=["Robotics"],
                  publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
    appears(watcher, "Edited story")
    assert "Added story" not in watcher.titles()

    (content / "new.md").rename(content / "renamed.md")
    time.sleep(0.6)
    assert "Edited story" in watcher.titles()

    (content / "renamed.md").unlink()
    disappears(watcher, "Edited story")
    wait_for(lambda: not (watcher.out / "topics" / "robotics.json").exists(), 10, what="the empty topic removed")

    outside = tmp_path / "elsewhere" / "batch"
    write_article(outside, "one.md", title="Moved in one", webUrl="https://example.com/m1", topics=["Chips"])
    write_article(outside, "deeper/two.md", title="Moved in two", webUrl="https://example.com/m2", topics=["Chips"])
    shutil.move(str(outside), str(content / "batch"))
    appears(watcher, "Moved in one")
    appears(watcher, "Moved in two", "topics/chips.json")

    shutil.move(str(content / "batch"), str(tmp_path / "elsewhere" / "back"))
    disappears(watcher, "Moved in one")
    disappears(watcher, "Moved in two")

    assert watcher.stop() == 0
    log = watcher.output()
    assert "Traceback" not in log
    changes = [line for line in log.splitlines() if "documents written" in line]
    assert len(changes) >= 6, log


def test_a_scheduled_article_appears_at_its_time(watcher):
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=6)
    write_article(watcher.content, "later.md", title="Embargoed story", webUrl="https://example.com/later",
                  topics=["AI"], publishedDateTime=due)
    time.sleep(1)
    assert "Embargoed story" not in watcher.titles()
    appears(watcher, "Embargoed story", timeout=15)
    assert datetime.now(timezone.utc) >= due


def test_a_scheduled_article_appears_even_when_a_change_is_built_just_before_its_second(watcher):
    """The build of a change made at x.9 s publishes what is due at x s; the
    article dated within the next second must not wait for another change."""
    second = int(time.time()) + 1
    time.sleep(max(0.0, second + 0.4 - time.time()))
    write_article(watcher.content, "later.md", title="Embargoed story", webUrl="https://example.com/later",
                  topics=["AI"], publishedDateTime=datetime.fromtimestamp(second + 1, timezone.utc))
    time.sleep(max(0.0, second + 0.9 - time.time()))
    write_article(watcher.content, "other.md", title="Other story", webUrl="https://example.com/other",
                  topics=["AI"], publishedDateTime=datetime(2024, 1, 2, tzinfo=timezone.utc))
    appears(watcher, "Other story")
    appears(watcher, "Embargoed story", timeout=5)


def test_a_file_name_that_is_not_utf8_does_not_end_the_watch(tmp_path):
    """inotify names such a file; the events library cannot, and fails from
    then on: the watch goes on by scanning, and the file is published."""
    content = tmp_path / "content"
    write_article(content, "base.md", title="Base story", webUrl="https://example.com/base")
    watcher = Watcher(content, tmp_path / "out", tmp_path / "cache", FEEDS_WATCH="events", FEEDS_RELOAD_INTERVAL="0.2")
    try:
        write_article(content, "latin.md", title="Caf\u00e9 story", webUrl="https://example.com/latin")
        os.rename(content / "latin.md", os.path.join(os.fsencode(content), b"caf\xe9.md"))
        appears(watcher, "Caf\u00e9 story")
        write_article(content, "after.md", title="After story", webUrl="https://example.com/after")
        appears(watcher, "After story")
        assert watcher.process.poll() is None
    finally:
        assert watcher.stop() == 0
    log = watcher.output()
    assert "Traceback" not in log and "scanning every 0.2 s instead" in log, log


def test_sigterm_ends_the_watch_cleanly(tmp_path):
    content = tmp_path / "content"
    write_article(content, "base.md", title="Base story", webUrl="https://example.com/base")
    watcher = Watcher(content, tmp_path / "out", tmp_path / "cache")
    assert watcher.process.poll() is None
    assert watcher.stop() == 0
    assert "Traceback" not in watcher.output()


@pytest.mark.parametrize("rescan", [True, False])
def test_a_change_no_event_reports_is_found_by_the_periodic_full_scan(tmp_path, rescan):
    """inotify reports changes made through the watched folder's entries: an
    edit through a hard link kept elsewhere (or a lost, overflowed queue) goes
    unseen, and only a full scan finds it."""
    content, elsewhere = tmp_path / "content", tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_article(content, "base.md", title="Base story", webUrl="https://example.com/base")
    os.link(content / "base.md", elsewhere / "base.md")
    watcher = Watcher(content, tmp_path / "out", tmp_path / "cache", FEEDS_WATCH="events",
                      FEEDS_RESCAN_INTERVAL="2" if rescan else "600")
    try:
        time.sleep(2.5)  # past the first build's racy window: the stamp alone must tell the edit
        write_article(elsewhere, "base.md", title="Edited elsewhere", webUrl="https://example.com/base")
        assert os.stat(content / "base.md").st_ino == os.stat(elsewhere / "base.md").st_ino
        if rescan:
            appears(watcher, "Edited elsewhere", timeout=15)
        else:
            time.sleep(4)
            assert "Edited elsewhere" not in watcher.titles(), "an event was seen after all: the test proves nothing"
    finally:
        assert watcher.stop() == 0
