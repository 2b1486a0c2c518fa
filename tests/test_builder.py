"""The builder: the article index kept current by full and targeted scans,
feeds brought up to date incrementally, scheduled articles published when due.

The reference is always a cold build of the same content at the same moment
(an index in memory, every file read): whatever sequence of changes led to
a folder, the incremental result must be byte for byte the same.
"""
from __future__ import annotations

import os
import random
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from corpus_builder import write_article
from feeds.builder import Builder
from feeds.config import load_config
from feeds.render import settings_version
from feeds.writers import ExportWriter

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
PAST = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()


@pytest.fixture(autouse=True)
def _written_files_trusted_at_once(monkeypatch):
    """settle() dates the files' mtime, but the ctime that moves is now, and a
    change that recent is read again on every build: these tests trust at once."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)


class Clock:
    def __init__(self, when: datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


def config_for(content: Path, cache: Path):
    return load_config(overrides={"content": str(content), "base_url": "https://x.test/", "cache_dir": str(cache)},
                       environ={})


def builder_for(content: Path, out: Path, cache: Path, clock, index="default", jobs: int = 1) -> Builder:
    config = config_for(content, cache)
    return Builder(config, ExportWriter(out, settings_version(config.site)), index=index, clock=clock, jobs=jobs)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def cold(content: Path, tmp: Path, clock) -> dict[str, bytes]:
    out = tmp / "cold-out"
    shutil.rmtree(out, ignore_errors=True)
    builder = builder_for(content, out, tmp / "unused-cache", clock, index=None)
    builder.build()
    builder.close()
    return tree(out)


def settle(content: Path) -> None:
    """Date files written in the last minute in the past, as files are long
    after they were written (a file changed within the last two seconds is
    always read again: its stamp could miss a second change)."""
    recent = datetime.now().timestamp() - 60
    for path in content.rglob("*.md"):
        if path.is_symlink():  # its target is dated as a file of its own (or it dangles)
            continue
        if path.stat().st_mtime > recent:
            os.utime(path, (PAST, PAST))


@pytest.fixture
def content(tmp_path) -> Path:
    folder = tmp_path / "content"
    write_article(folder, "a.md", title="Alpha", webUrl="https://one.example/a", topics=["AI", "Robotics"],
                  provider={"name": "One", "domain": "one.example"}, publishedDateTime=T0 - timedelta(days=3))
    write_article(folder, "b.md", title="Beta", webUrl="https://two.example/b", topics=["Cloud"],
                  provider={"name": "Two", "domain": "two.example"}, publishedDateTime=T0 - timedelta(days=2))
    write_article(folder, "sub/c.md", title="Gamma", webUrl="https://one.example/c", topics=["AI"],
                  provider={"name": "One", "domain": "one.example"}, publishedDateTime=T0 - timedelta(days=1))
    settle(folder)
    return folder


def test_a_change_rewrites_only_the_documents_of_the_feeds_it_touches(content, tmp_path):
    clock = Clock(T0)
    builder = builder_for(content, tmp_path / "out", tmp_path / "cache", clock)
    first = builder.build()
    # the index page and OPML list; each of 6 feeds in 3 formats and its page
    assert first.scan.read == 3 and len(first.publish.write.written) == 2 + 4 * 6
    write_article(content, "b.md", title="Beta, edited", webUrl="https://two.example/b", topics=["Cloud"],
                  provider={"name": "Two", "domain": "two.example"}, publishedDateTime=T0 - timedelta(days=2))
    settle(content)
    again = builder.build()
    assert again.scan.read == 1
    # the main feed, topics/cloud and providers/two.example; the pages' rows did not change
    assert sorted(again.publish.feeds_changed) == ["feed", "providers/two.example", "topics/cloud"]
    assert sorted(again.publish.write.written) == sorted(
        f"{path}.{fmt}" for path in ("feed", "providers/two.example", "topics/cloud")
        for fmt in ("atom", "rss", "json", "html"))
    assert tree(tmp_path / "out") == cold(content, tmp_path, clock)
    nothing = builder.build()
    assert nothing.scan.read == 0 and nothing.publish.write.written == []


def test_a_warm_start_reads_no_file_and_writes_nothing(content, tmp_path):
    clock = Clock(T0)
    builder_for(content, tmp_path / "out", tmp_path / "cache", clock).build()
    again = builder_for(content, tmp_path / "out", tmp_path / "cache", clock).build()
    assert again.scan.read == 0 and again.publish.write.written == [] and again.publish.feeds_changed == []


def test_a_scheduled_article_appears_when_due_without_any_file_change(content, tmp_path):
    clock = Clock(T0)
    write_article(content, "later.md", title="Embargoed", webUrl="https://one.example/later", topics=["Ethics"],
                  provider={"name": "One", "domain": "one.example"}, publishedDateTime=T0 + timedelta(hours=1))
    settle(content)
    builder = builder_for(content, tmp_path / "out", tmp_path / "cache", clock)
    builder.build()
    out = tmp_path / "out"
    assert b"Embargoed" not in (out / "feed.atom").read_bytes()
    assert not (out / "topics" / "ethics.atom").exists()
    assert builder.next_due() == int((T0 + timedelta(hours=1)).timestamp())
    clock.now += 3599
    builder.build(paths=[])
    assert b"Embargoed" not in (out / "feed.atom").read_bytes()
    clock.now += 1
    due = builder.build(paths=[])
    assert due.scan.read == 0
    assert b"Embargoed" in (out / "feed.atom").read_bytes()
    assert b"Embargoed" in (out / "topics" / "ethics.atom").read_bytes()
    assert tree(out) == cold(content, tmp_path, clock)
    assert builder.next_due() is None


def test_a_scheduled_article_is_still_due_after_a_change_built_just_before_its_second(content, tmp_path):
    """A build at 9.9 s publishes what is due at 9 s: the article dated 10 s
    stays due, however late the watch looks at the clock after that build."""
    clock = Clock(T0)
    write_article(content, "later.md", title="Embargoed", webUrl="https://one.example/later", topics=["Ethics"],
                  provider={"name": "One", "domain": "one.example"}, publishedDateTime=T0 + timedelta(seconds=10))
    settle(content)
    builder = builder_for(content, tmp_path / "out", tmp_path / "cache", clock)
    builder.build()
    clock.now += 9.9
    write_article(content, "other.md", title="Other", webUrl="https://one.example/other", topics=["Ethics"],
                  provider={"name": "One", "domain": "one.example"}, publishedDateTime=T0 - timedelta(hours=1))
    settle(content)
    builder.build(paths=[str(content / "other.md")])
    out = tmp_path / "out"
    assert b"Embargoed" not in (out / "feed.atom").read_bytes()
    clock.now += 0.3
    due = builder.next_due()
    assert due is not None and due <= clock.now, "the watch would never build the article's moment"
    builder.build(paths=[])
    assert b"Embargoed" in (out / "feed.atom").read_bytes()
    assert tree(out) == cold(content, tmp_path, clock)
    assert builder.next_due() is None


def test_the_newest_copy_of_a_link_wins_and_the_older_returns_when_it_goes(content, tmp_path):
    clock = Clock(T0)
    builder = builder_for(content, tmp_path / "out", tmp_path / "cache", clock)
    builder.build()
    write_article(content, "copy.md", title="Alpha, newer copy", webUrl="https://one.example/a", topics=["Ethics"],
                  provider={"name": "One", "domain": "one.example"}, publishedDateTime=T0 - timedelta(hours=1))
    settle(content)
    builder.build()
    out = tmp_path / "out"
    main = (out / "feed.atom").read_text()
    assert "Alpha, newer copy" in main and "<title>Alpha</title>" not in main
    assert not (out / "topics" / "robotics.atom").exists()  # its only article lost to the newer copy
    assert tree(out) == cold(content, tmp_path, clock)
    (content / "copy.md").unlink()
    builder.build()
    assert "<title>Alpha</title>" in (out / "feed.atom").read_text()
    assert (out / "topics" / "robotics.atom").exists()
    assert tree(out) == cold(content, tmp_path, clock)


@pytest.mark.parametrize("jobs", [1, 2], ids=["stamped here", "stamped by child processes"])
def test_any_sequence_of_changes_gives_the_bytes_of_a_cold_build(content, tmp_path, jobs, monkeypatch):
    """Adds, edits, moves, removals, drafts, duplicate links, spellings and schedules, at random."""
    from feeds.builder import scan
    monkeypatch.setattr(scan, "PARALLEL_STAT_MIN_FILES", 1)
    rng = random.Random(20261130 + jobs)
    clock = Clock(T0)
    builder = builder_for(content, tmp_path / "out", tmp_path / "cache", clock, jobs=jobs)
    builder.build()
    topics = ["AI", "ai", "Robotics", "Cloud", "Ethics", "Chips"]
    links = [f"https://{host}/{n}" for host in ("one.example", "two.example", "three.example") for n in range(6)]
    for step in range(40):
        files = sorted(p for p in content.rglob("*.md"))
        action = rng.choice(["add", "add", "edit", "move", "remove", "draft", "folder"])
        if action == "add" or not files:
            name = f"{rng.choice(['', 'sub/', 'deep/er/'])}n{step}.md"
            link = rng.choice(links)
            write_article(content, name, title=f"Story {step}", webUrl=link,
                          topics=rng.sample(topics, rng.randint(1, 3)),
                          provider={"name": rng.choice(["One", "ONE", "Two"]), "domain": link.split("/")[2]},
                          publishedDateTime=T0 + timedelta(minutes=rng.randint(-600, 90)))
        elif action == "edit":
            path = rng.choice(files)
            link = rng.choice(links)
            write_article(content, path.relative_to(content).as_posix(), title=f"Edited {step}", webUrl=link,
                          topics=rng.sample(topics, rng.randint(1, 2)),
                          provider={"name": "Three", "domain": link.split("/")[2]},
                          publishedDateTime=T0 + timedelta(minutes=rng.randint(-600, 90)))
        elif action == "move":
            path = rng.choice(files)
            target = content / "moved" / f"m{step}.md"
            target.parent.mkdir(exist_ok=True)
            path.rename(target)
        elif action == "remove":
            rng.choice(files).unlink()
        elif action == "draft":
            path = rng.choice(files)
            text = path.read_text()
            path.write_text(text.replace("published: true", "published: false") if "published: true" in text
                            else text.replace("published: false", "published: true"))
        elif action == "folder" and (content / "sub").exists():
            shutil.rmtree(content / "sub") if rng.random() < 0.3 else (content / "sub").rename(content / f"sub{step}")
        settle(content)
        clock.now += rng.choice([0, 60, 1800])
        builder.build()
        assert tree(tmp_path / "out") == cold(content, tmp_path, clock), f"after step {step}: {action}"


def test_scanning_processes_hold_no_descriptor_of_the_builder(tmp_path):
    """A warm scan forks children; had they kept the builder's descriptors,
    they would hold the store's lock past a builder killed mid-scan, and
    delay the next builder's takeover."""
    import time as _time
    from feeds.builder.scan import _SharedScan
    from feeds.store import FolderStore

    for i in range(20):
        write_article(tmp_path / "content", f"a{i}.md", webUrl=f"https://example.com/{i}")
    store = FolderStore(tmp_path / "store")
    assert store.acquire()
    lock = os.path.realpath(tmp_path / "store" / "builder.lock")
    scan = _SharedScan(str(tmp_path / "content"), 2, _time.time_ns())
    try:
        scan.sums()  # the children now wait for orders
        for pid, _, _ in scan.children:
            held = {os.path.realpath(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            assert lock not in held
            assert len(os.listdir(f"/proc/{pid}/fd")) <= 5  # stdin, stdout, stderr and its two pipes
        assert FolderStore(tmp_path / "store").builder_alive()
    finally:
        scan.close()
        store.release()
    assert FolderStore(tmp_path / "store").acquire(), "the lock is free once the builder lets go"


def test_a_batched_walk_gives_what_the_plain_walk_gives(tmp_path):
    """Warm scans take a folder of plain files as one batch: the same names,
    paths and reasons as the walk that gives them one by one."""
    from feeds.walk import FlatFolder, article_entries

    top = tmp_path / "content"
    for name in ("a.md", "b.md", "sub/c.md", "sub/d.md", "deep/er/e.md", "links/f.md", "hard/g.md"):
        write_article(top, name, webUrl=f"https://example.com/{name}")
    os.symlink(top / "a.md", top / "links" / "to-a.md")  # a second name for a file: given once
    os.symlink(top, top / "links" / "loop")  # a loop: reported
    os.link(top / "hard" / "g.md", top / "hard" / "h.md")  # a hard link in a folder of plain files
    (top / "sub" / "notes.txt").write_text("not an article")

    def expanded(entries):
        found = []
        for item in entries:
            if isinstance(item, FlatFolder):
                found.extend((item.prefix + name, item.path + name) for name in item.names)
            else:
                found.append((item[0], str(item[1])))
        return sorted(found)

    batched = list(article_entries(str(top), ordered=False, batched=True))
    assert any(isinstance(item, FlatFolder) for item in batched)
    plain = expanded(article_entries(str(top)))
    assert expanded(batched) == plain
    assert [name for name, _ in plain] == ["a.md", "b.md", "deep/er/e.md", "hard/g.md", "hard/h.md", "links/f.md",
                                           "links/loop", "links/to-a.md", "sub/c.md", "sub/d.md"]
    assert [(name, reason) for name, reason in plain if reason.startswith("a second name")] == [
        ("hard/h.md", "a second name of the file read as hard/g.md (not read again)"),
        ("links/to-a.md", "a second name of the file read as a.md (not read again)")]


def test_a_cold_build_cut_short_gets_its_indexes_back_at_the_next_opening(tmp_path):
    """A cold build drops the index's secondary indexes while it fills the
    tables and builds them at the end; killed in between, the next opening
    builds them, and the queries that name them work."""
    import sqlite3
    from feeds.builder.index import Index
    from feeds.read import read_article

    content = tmp_path / "content"
    for i in range(3):
        write_article(content, f"a{i}.md", webUrl=f"https://example.com/{i}")
    (content / "bad.md").write_text("---\ntitle: [broken\n---\n")
    results = [(path.name, 1, read_article(path, content)) for path in sorted(content.glob("*.md"))]

    def indexes(path):
        with sqlite3.connect(path) as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}

    path = tmp_path / "index.sqlite"
    index = Index(path, "identity")
    expected = indexes(path)
    assert {"articles_by_link", "files_by_bucket", "files_with_problems"} <= expected
    index.update(results, fresh=True)
    assert indexes(path) == set()  # filled without them
    index.close()  # killed before finish_bulk

    index = Index(path, "identity")
    assert indexes(path) == expected
    assert [problem.source for problem in index.problems()] == ["bad.md"]
    assert index.counts() == (3, 1)
    index.close()

    other = Index(tmp_path / "other.sqlite", "identity")  # a cold build that completes
    other.update(results, fresh=True)
    other.finish_bulk()
    assert indexes(tmp_path / "other.sqlite") == expected
    other.close()


# --- Events whose names the walk would not have read --------------------------------

def _events_then_cold(content, tmp_path, steps):
    """Each step changes the folder and names the paths its events would name;
    after each, the builder's targeted build must give a cold build's bytes."""
    clock = Clock(T0)
    builder = builder_for(content, tmp_path / "out", tmp_path / "cache", clock)
    builder.build()
    for step, (change, named) in enumerate(steps):
        change()
        settle(content)
        builder.build([str(content / name) for name in named])
        assert tree(tmp_path / "out") == cold(content, tmp_path, clock), f"after step {step}"
        reference = builder_for(content, tmp_path / "names-out", tmp_path / "unused", clock, index=None)
        reference.build()
        assert sorted(builder.index.stamps()) == sorted(reference.index.stamps()), f"files after step {step}"
        reference.close()


def test_a_file_replaced_by_a_folder_is_unpublished_by_its_event(content, tmp_path):
    def replace():
        (content / "b.md").unlink()
        (content / "b.md").mkdir()  # as a checkout of another branch may do
    _events_then_cold(content, tmp_path, [(replace, ["b.md"])])


def test_a_link_to_an_article_file_and_its_target_removed(content, tmp_path):
    """The walk reads a file once, under the first name met: a link sorting first takes it over."""
    _events_then_cold(content, tmp_path, [
        (lambda: (content / "0-link.md").symlink_to("b.md"), ["0-link.md"]),
        (lambda: (content / "b.md").unlink(), ["b.md"]),
        (lambda: (content / "0-link.md").unlink(), ["0-link.md"]),
    ])


def test_changes_made_through_a_folder_read_under_a_linked_name(content, tmp_path):
    """`alias` sorts before `real`: its files are read as alias/...; events name real/..."""
    write_article(content, "real/d.md", title="Delta", webUrl="https://two.example/d", topics=["Cloud"])
    write_article(content, "real/e.md", title="Epsilon", webUrl="https://two.example/e", topics=["Cloud"])
    (content / "alias").symlink_to("real")

    def edit():
        write_article(content, "real/e.md", title="Epsilon, edited", webUrl="https://two.example/e")
    def add():
        write_article(content, "real/f.md", title="Zeta", webUrl="https://two.example/f")
    _events_then_cold(content, tmp_path, [
        (lambda: (content / "real" / "d.md").unlink(), ["real/d.md"]),
        (edit, ["real/e.md"]),
        (add, ["real"]),  # some watchers name only the folder
    ])
