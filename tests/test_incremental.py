"""Re-exports: the article index, and rewriting only what changed."""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import run_cli
from corpus_builder import write_article

OLD = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    import feeds.builder.scan as scan
    # Every file these tests wrote is trusted at once: os.utime below dates its
    # mtime, but the ctime it moves is now, and a change that recent is read again.
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    for i in range(6):
        write_article(content, f"a{i}.md", title=f"Story {i}", webUrl=f"https://example.com/{i}",
                      topics=["AI", "Robotics" if i % 2 else "Cloud"],
                      publishedDateTime=datetime(2024, 1, 1 + i, tzinfo=timezone.utc))
    past = OLD.timestamp()
    for path in content.iterdir():
        os.utime(path, (past, past))  # older than the cache's racy-timestamp window
    return tmp_path


def export(folder: Path, *extra):
    run = run_cli("export", folder / "out", "--content", folder / "content", "--base-url", "https://x.test/",
                  "--cache-dir", folder / "cache", *extra)
    assert run.code == 0, run.err
    summary = re.search(r"\((\d+) parsed\).*?(\d+) documents written, (\d+) unchanged, (\d+) removed", run.err)
    return run, dict(zip(("parsed", "written", "unchanged", "removed"), map(int, summary.groups())))


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_a_second_export_parses_nothing_and_rewrites_nothing(folder):
    _, first = export(folder)
    assert first["parsed"] == 6 and first["written"] > 0
    before = mtimes(folder / "out")
    _, second = export(folder)
    assert second == {"parsed": 0, "written": 0, "unchanged": first["written"], "removed": 0}
    assert mtimes(folder / "out") == before


def test_no_cache_parses_everything_again(folder):
    export(folder)
    _, again = export(folder, "--no-cache")
    assert again["parsed"] == 6
    assert again["written"] == 0  # same bytes: files untouched all the same


def test_an_added_article_rewrites_only_the_feeds_that_show_it(folder):
    export(folder)
    before = mtimes(folder / "out")
    write_article(folder / "content", "new.md", title="New story", webUrl="https://example.com/new",
                  topics=["Robotics"], provider={"name": "Other", "domain": "other.example"},
                  publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
    _, after = export(folder)
    assert after["parsed"] == 1
    changed = {path for path, mtime in mtimes(folder / "out").items() if before.get(path) != mtime}
    documents = {f"{feed}.{fmt}" for feed in ("feed", "topics/robotics", "providers/other.example")
                 for fmt in ("atom", "rss", "json", "html")} | {"index.html", "feeds.opml"}
    # Each with its precompressed copies, and nothing else.
    assert changed == {f"{doc}{suffix}" for doc in documents for suffix in ("", ".gz", ".br")} | {".feeds-manifest.json"}


def test_feeds_that_disappear_are_removed_and_nothing_else(folder):
    export(folder)
    keep = folder / "out" / "topics" / "notes.txt"
    keep.write_text("not ours")
    for i in (0, 2, 4):  # every article about Cloud
        (folder / "content" / f"a{i}.md").unlink()
    _, after = export(folder)
    assert after["removed"] == 4  # three formats and the page
    assert not list((folder / "out" / "topics").glob("cloud.*"))
    assert keep.exists()


def test_a_corrupt_index_is_discarded_and_rebuilt(folder):
    export(folder)
    indexes = list((folder / "cache").glob("index-*.sqlite"))
    assert len(indexes) == 1
    for leftover in (folder / "cache").glob("index-*.sqlite-*"):
        leftover.unlink()
    indexes[0].write_bytes(b"garbage that is not an SQLite database" * 100)
    run, again = export(folder)
    assert again["parsed"] == 6 and again["written"] == 0
    assert "discarded" in run.err and "Traceback" not in run.err


def test_an_index_written_with_other_settings_is_rebuilt(folder):
    import sqlite3
    export(folder)
    (index,) = (folder / "cache").glob("index-*.sqlite")
    with sqlite3.connect(index) as db:
        db.execute("UPDATE meta SET value = 'another version' WHERE key = 'identity'")
    _, again = export(folder)
    assert again["parsed"] == 6 and again["written"] == 0


def test_an_edited_file_is_parsed_again(folder):
    export(folder)
    path = folder / "content" / "a1.md"
    path.write_text(path.read_text().replace("Story 1", "Story one, corrected"))
    _, again = export(folder)
    assert again["parsed"] == 1
    assert "Story one, corrected" in (folder / "out" / "feed.atom").read_text()


def test_an_export_that_lost_its_manifest_finds_its_files_unchanged(folder):
    """Without the manifest every document is made again, but identical bytes
    are left as they are: no new dates for static hosts, nothing counted as written."""
    _, first = export(folder)
    manifest = folder / "out" / ".feeds-manifest.json"
    manifest.unlink()
    before = mtimes(folder / "out")
    _, again = export(folder)
    assert again["written"] == 0 and again["unchanged"] == first["written"]
    after = mtimes(folder / "out")
    del after[".feeds-manifest.json"]
    assert after == before


def test_a_cold_build_that_fails_leaves_the_index_usable_in_the_same_process(folder, monkeypatch):
    """Its indexes are built again at once, not only at the next opening."""
    from feeds.builder import Builder, scan
    from feeds.config import load_config
    from feeds.render import settings_version
    from feeds.writers import ExportWriter

    config = load_config(overrides={"content": str(folder / "content"), "base_url": "https://x.test/",
                                    "cache_dir": str(folder / "cache")}, environ={})
    builder = Builder(config, ExportWriter(folder / "out", settings_version(config.site)))
    real_update = scan._update
    calls = []

    def failing_update(*args, **kwargs):
        calls.append(1)
        real_update(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(scan, "_update", failing_update)
    with pytest.raises(OSError):
        builder.build()
    assert calls
    monkeypatch.setattr(scan, "_update", real_update)
    indexes = {row[0] for row in builder.index.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert {"articles_by_link", "files_by_bucket", "files_with_problems"} <= indexes
    assert builder.index.counts() == (6, 0) and builder.problems() == []
    builder.close()


def test_an_edit_that_puts_its_mtime_back_is_not_trusted_until_it_has_settled(folder, monkeypatch):
    """A same-size edit that restores the file's mtime (touch -r, rsync -t) still
    moves its ctime. While that change is recent the file is read again on every
    run: on a file system with coarse timestamps a second such edit within the
    same tick would otherwise leave its stamp exactly as it was, and be missed."""
    import time
    from types import SimpleNamespace
    import feeds.builder.scan as scan
    export(folder)
    time.sleep(1.5)
    monkeypatch.setattr(scan, "RACY_SECONDS", 1.0)  # the other files changed longer ago than that
    path = folder / "content" / "a1.md"
    before = path.stat()
    path.write_text(path.read_text().replace("Story 1", "Storm 1"))  # the same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    # The scans' clock stands half a second after the edit, however slowly the exports run.
    edited = path.stat().st_ctime_ns
    monkeypatch.setattr(scan, "time", SimpleNamespace(time_ns=lambda: edited + 500_000_000))
    for _ in range(2):
        _, run = export(folder)
        assert run["parsed"] == 1  # the first run and the next: its change is too recent to trust
    assert "Storm 1" in (folder / "out" / "feed.atom").read_text()
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)  # ... and once it has settled, trusted again
    _, settled = export(folder)
    _, again = export(folder)
    assert again["parsed"] == 0


def test_a_watching_export_trusts_what_it_wrote_until_the_next_full_scan(folder, monkeypatch):
    """A build that follows file events does not stat every exported document
    again (at a million articles, 200,000 of them): it knows what it left. A
    document removed from the folder behind its back is written again at the
    next full scan."""
    from feeds.builder import Builder
    from feeds.config import load_config
    from feeds.render import settings_version
    from feeds.writers import ExportWriter
    import feeds.writers._export as module

    config = load_config(overrides={"content": str(folder / "content"), "base_url": "https://x.test/",
                                    "cache_dir": str(folder / "cache")}, environ={})
    builder = Builder(config, ExportWriter(folder / "out", settings_version(config.site)))
    builder.build()
    looked = []
    real_size = module._size
    monkeypatch.setattr(module, "_size", lambda path: looked.append(path) or real_size(path))
    (folder / "out" / "topics" / "cloud.json").unlink()
    path = write_article(folder / "content", "a9.md", title="Story 9", webUrl="https://example.com/9", topics=["AI"],
                         publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
    report = builder.build([str(path)])
    assert looked == [] and "topics/ai.atom" in report.publish.write.written
    assert "Story 9" in (folder / "out" / "topics" / "ai.atom").read_text()
    assert not (folder / "out" / "topics" / "cloud.json").exists()
    builder.build()  # a full scan: every document looked at, the missing one written again
    assert looked and (folder / "out" / "topics" / "cloud.json").exists()
    builder.close()


def test_a_file_in_place_of_a_folder_of_the_same_name_removes_the_folders_articles(tmp_path):
    """A folder may be named "x.md": when a file takes its place, one
    event names "x.md", and the articles that were below it are gone."""
    from feeds.builder import Builder
    from feeds.config import load_config
    from feeds.render import settings_version
    from feeds.writers import ExportWriter
    content = tmp_path / "content"
    write_article(content, "x.md/inner.md", title="Inner story", webUrl="https://example.com/inner", topics=["AI"])
    config = load_config(overrides={"content": str(content), "base_url": "https://x.test/",
                                    "cache_dir": str(tmp_path / "cache")}, environ={})
    builder = Builder(config, ExportWriter(tmp_path / "out", settings_version(config.site)))
    builder.build()
    assert "Inner story" in (tmp_path / "out" / "feed.atom").read_text()
    (content / "x.md").rename(tmp_path / "away")
    path = write_article(content, "x.md", title="File story", webUrl="https://example.com/file", topics=["AI"])
    builder.build([str(path)])
    feed = (tmp_path / "out" / "feed.atom").read_text()
    assert "File story" in feed and "Inner story" not in feed
    builder.close()


def test_removing_the_link_a_folder_was_read_under_publishes_it_under_its_own_name(tmp_path):
    """"alias -> real" sorts first: real/ is "already read as alias/". When
    the event says alias/ is gone, real/ is read under its own name."""
    from feeds.builder import Builder
    from feeds.config import load_config
    from feeds.render import settings_version
    from feeds.writers import ExportWriter
    content = tmp_path / "content"
    write_article(content, "real/x.md", title="Real story", webUrl="https://example.com/real", topics=["AI"])
    (content / "alias").symlink_to("real")
    config = load_config(overrides={"content": str(content), "base_url": "https://x.test/",
                                    "cache_dir": str(tmp_path / "cache")}, environ={})
    builder = Builder(config, ExportWriter(tmp_path / "out", settings_version(config.site)))
    builder.build()
    assert [problem.source for problem in builder.problems()] == ["real"]
    (content / "alias").unlink()
    builder.build([str(content / "alias")])
    assert "Real story" in (tmp_path / "out" / "feed.atom").read_text()
    assert builder.problems() == []
    builder.close()


def _second_name_cases():
    """(setup, change) pairs: each setup gives one article file a second name; each
    change returns the paths a file-system event names."""
    def symlink_first(content):  # 0.md -> z.md: read as 0.md, z.md a second name
        (content / "0.md").symlink_to("z.md")

    def hard_link(content):  # a.md and z.md the same file: read as a.md
        os.link(content / "z.md", content / "a.md")

    def remove(name):
        def change(content):
            (content / name).unlink()
            return [content / name]
        return change

    def edit_in_place(name):
        def change(content):
            path = content / name
            text = path.read_text().replace("title: First title", "title: Edited title")
            with open(path, "r+") as file:  # the same inode: every name sees the edit
                file.write(text)
                file.truncate()
            return [path]
        return change

    def replace_by_new_file(name):
        def change(content):
            new = write_article(content.parent / "elsewhere", "new.md", title="Replacing story",
                                webUrl="https://example.com/replacing", topics=["AI"])
            os.replace(new, content / name)  # an editor's save: a new file moved over the name
            return [content / name]
        return change

    def hard_link_over_other(content):  # ln -f: m.md becomes a name of z.md's file, and is read first
        os.unlink(content / "m.md")
        os.link(content / "z.md", content / "m.md")
        return [content / "m.md"]

    def nothing(content):
        pass

    def symlink_into_folder(content):  # 0.md -> d/z.md: read as 0.md, d/z.md a second name
        (content / "d").mkdir()
        os.rename(content / "z.md", content / "d" / "z.md")
        (content / "0.md").symlink_to("d/z.md")

    def move_folder_out(content):
        os.rename(content / "d", content.parent / "away")
        return [content / "d"]

    def hard_link_not_an_article_name(content):  # notes.txt: never walked, no second name
        os.link(content / "z.md", content / "notes.txt")

    def readme_in_an_earlier_folder(content):  # c/README.md is no article: z.md is read as d/a.md
        for folder in ("c", "d"):
            (content / folder).mkdir()
        os.link(content / "z.md", content / "c" / "README.md")
        os.link(content / "z.md", content / "d" / "a.md")

    return {
        "a folder holding the target of a first name moved out": (symlink_into_folder, move_folder_out),
        "hard link named as no article, edited there": (hard_link_not_an_article_name, edit_in_place("notes.txt")),
        "hard link, its first name removed, a README.md its third": (readme_in_an_earlier_folder, remove("d/a.md")),
        "symlink, its first name replaced by a file": (symlink_first, replace_by_new_file("0.md")),
        "hard link, its first name replaced by a file": (hard_link, replace_by_new_file("a.md")),
        "a known name made a hard link of another file": (nothing, hard_link_over_other),
        "symlink, its first name removed": (symlink_first, remove("0.md")),
        "symlink, edited under its second name": (symlink_first, edit_in_place("z.md")),
        "symlink, its second name removed": (symlink_first, remove("z.md")),
        "hard link, its first name removed": (hard_link, remove("a.md")),
        "hard link, edited under its second name": (hard_link, edit_in_place("z.md")),
        "hard link, its second name removed": (hard_link, remove("z.md")),
    }


def _files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _export_builder(content: Path, out: Path, cache: Path):
    from feeds.builder import Builder
    from feeds.config import load_config
    from feeds.render import settings_version
    from feeds.writers import ExportWriter
    config = load_config(overrides={"content": str(content), "base_url": "https://x.test/",
                                    "cache_dir": str(cache)}, environ={})
    return Builder(config, ExportWriter(out, settings_version(config.site)))


@pytest.mark.parametrize("case", list(_second_name_cases()))
def test_a_change_to_a_file_with_a_second_name_gives_a_cold_builds_output(tmp_path, monkeypatch, case):
    """The walk reads a file reached under two names once, under the first. After
    an event on either name, the incremental output is the cold output: the
    article neither lost (its first name removed) nor published twice or stale
    (edited under the name the walk does not read it under)."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    setup, change = _second_name_cases()[case]
    content = tmp_path / "content"
    write_article(content, "z.md", title="First title", webUrl="https://example.com/z", topics=["AI"])
    write_article(content, "m.md", title="Other story", webUrl="https://example.com/m", topics=["AI"],
                  publishedDateTime=OLD)
    setup(content)
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    assert builder.index.counts() == (2, 0) and builder.problems() == []  # a second name: no problem
    paths = change(content)
    builder.build([str(path) for path in paths])
    if case == "a known name made a hard link of another file":  # then edited in place through it
        path = content / "m.md"
        text = path.read_text().replace("title: First title", "title: Edited title")
        with open(path, "r+") as file:
            file.write(text)
            file.truncate()
        builder.build([str(path)])
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert builder.index.counts() == cold.index.counts()
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


@pytest.mark.parametrize("kind", ["hard link", "symbolic link", "linked folder"])
def test_a_new_second_name_or_a_folder_holding_one_publishes_nothing_twice(tmp_path, monkeypatch, kind):
    """A hard link made in the folder, or a folder moved in that links to an
    article or a folder already read: the article stays published once, and
    the link to a folder read already is reported as a cold build reports it."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "sub/a.md", title="Only story", webUrl="https://example.com/a", topics=["AI"])
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    if kind == "hard link":
        os.link(content / "sub" / "a.md", content / "sub" / "b.md")
        events = [content / "sub" / "b.md"]
    else:
        moved = tmp_path / "moved"
        moved.mkdir()
        if kind == "symbolic link":
            (moved / "again.md").symlink_to(content / "sub" / "a.md")
        else:
            (moved / "link").symlink_to(content / "sub")
        moved.rename(content / "moved")
        events = [content / "moved"]
    builder.build([str(path) for path in events])
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert builder.index.counts() == cold.index.counts() == (1, 1 if kind == "linked folder" else 0)
    assert builder.problems() == cold.problems()
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


def test_moving_out_the_folder_holding_the_link_a_folder_was_read_under_publishes_it(tmp_path, monkeypatch):
    """"e/a -> ../k": k/ is "already read as e/a/". Moving e/ away (one event,
    for e) leaves k/ to be read under its own name."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "k/x.md", title="Linked story", webUrl="https://example.com/x", topics=["AI"])
    (content / "e").mkdir()
    (content / "e" / "a").symlink_to("../k")
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    assert [problem.source for problem in builder.problems()] == ["k"]
    os.rename(content / "e", tmp_path / "away")
    builder.build([str(content / "e")])
    assert builder.problems() == [] and builder.index.counts() == (1, 0)
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


def _linked_empty_folder(content):  # e/ holds no article; q/a -> ../e: "links to a folder already read as e/"
    (content / "e").mkdir()
    (content / "q").mkdir()
    (content / "q" / "a").symlink_to("../e")



@pytest.mark.parametrize("events", [True, False])
@pytest.mark.parametrize("case", ["a folder holding a link renamed", "a link renamed", "a folder with a link moved in"])
def test_what_the_walk_says_of_a_name_follows_a_renamed_link_even_with_no_article_below(tmp_path, monkeypatch, case,
                                                                                       events):
    """Problems that name another folder ("already read as a/") change when a
    link is renamed, although no article's stamp does: a warm scan, or the
    events of the change, report them as a cold build does."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "m.md", title="Story", webUrl="https://example.com/m", topics=["AI"])
    if case == "a link renamed":
        (content / "e").mkdir()
        (content / "a").symlink_to("e")
    elif case == "a folder holding a link renamed":
        _linked_empty_folder(content)
    else:
        (content / "e").mkdir()
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    if case == "a link renamed":
        os.rename(content / "a", content / "b")
        paths = [content / "a", content / "b"]
    elif case == "a folder holding a link renamed":
        os.rename(content / "q", content / "b")  # now e/ is "already read as b/a/"
        paths = [content / "q", content / "b"]
    else:
        moved = tmp_path / "y"
        moved.mkdir()
        (moved / "l").symlink_to(content / "e")
        write_article(moved, "x.md", title="Moved", webUrl="https://example.com/x", topics=["AI"])
        moved.rename(content / "y")
        paths = [content / "y"]
    builder.build([str(path) for path in paths] if events else None)
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert builder.problems() == cold.problems() != []
    assert builder.index.counts() == cold.index.counts()
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


def test_an_index_of_version_5_has_its_bucket_sums_computed_again(tmp_path, monkeypatch):
    """Version 6 counts what the walk says of a name with its message: an index
    written before has every sum computed again when opened, so that a warm
    scan finds nothing changed instead of comparing those buckets for ever."""
    import sqlite3
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "m.md", title="Story", webUrl="https://example.com/m", topics=["AI"])
    (content / "e").mkdir()
    (content / "a").symlink_to("e")  # a problem row: e/ "already read as a/"
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    sums = builder.index.bucket_sums()
    index_file = builder.index.path
    builder.close()
    db = sqlite3.connect(index_file, isolation_level=None)
    db.execute("UPDATE bucket_sums SET total = total + 1")  # sums as version 5 counted them: not these
    db.execute("PRAGMA user_version = 5")
    db.close()
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    assert builder.index.bucket_sums() == sums
    result = builder.build()
    assert result.scan.read == 0 and result.scan.removed == 0
    builder.close()


def test_an_event_above_a_folder_read_under_a_link_elsewhere_reads_it_again(tmp_path, monkeypatch):
    """"a -> q/e": q/e/ is "already read as a/". Moving q/ away (one event, for
    q) takes a/x.md with it, as a cold build of what is left shows."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "m.md", title="Story", webUrl="https://example.com/m", topics=["AI"])
    write_article(content, "q/e/x.md", title="Linked story", webUrl="https://example.com/x", topics=["AI"])
    (content / "a").symlink_to("q/e")
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    assert [problem.source for problem in builder.problems()] == ["q/e"]
    os.rename(content / "q", tmp_path / "away")
    builder.build([str(content / "q")])
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert builder.index.counts() == cold.index.counts() and builder.problems() == cold.problems()
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


def test_a_file_made_in_a_folder_that_cannot_be_listed_stays_unpublished(tmp_path, monkeypatch):
    """A folder that can be searched but not listed (mode 311) is reported, its
    articles not read; an event naming a new file in it changes nothing."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "m.md", title="Story", webUrl="https://example.com/m", topics=["AI"])
    write_article(content, "e/x.md", title="Hidden story", webUrl="https://example.com/x", topics=["AI"])
    _cannot_be_listed(monkeypatch, content / "e")
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    assert [str(problem) for problem in builder.problems()] == ["e/: cannot read folder: Permission denied"]
    path = write_article(content, "e/n.md", title="New hidden story", webUrl="https://example.com/n", topics=["AI"])
    builder.build([str(path)])
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert builder.index.counts() == cold.index.counts() == (1, 1)
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


def test_a_folder_read_through_a_link_in_a_folder_that_can_no_longer_be_listed_is_read_under_its_own_name(
        tmp_path, monkeypatch):
    """"d/l -> ../e": e/ is "already read as d/l/". Once d/ cannot be listed
    (chmod 0), e/ is read under its own name, as a cold build reads it."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)
    content = tmp_path / "content"
    write_article(content, "m.md", title="Story", webUrl="https://example.com/m", topics=["AI"])
    write_article(content, "e/x.md", title="Linked story", webUrl="https://example.com/x", topics=["AI"])
    (content / "d").mkdir()
    (content / "d" / "l").symlink_to("../e")
    builder = _export_builder(content, tmp_path / "out", tmp_path / "cache")
    builder.build()
    assert [problem.source for problem in builder.problems()] == ["e"]
    _cannot_be_listed(monkeypatch, content / "d")
    builder.build([str(content / "d")])
    cold = _export_builder(content, tmp_path / "cold", tmp_path / "cold-cache")
    cold.build()
    assert [str(problem) for problem in cold.problems()] == ["d/: cannot read folder: Permission denied"]
    assert builder.index.counts() == cold.index.counts() == (2, 1) and builder.problems() == cold.problems()
    assert _files_of(tmp_path / "out") == _files_of(tmp_path / "cold")
    builder.close()
    cold.close()


def _cannot_be_listed(monkeypatch, folder: Path) -> None:
    """The folder as a user other than root sees it after chmod 0 or 311 (tests run as root, who may list anything)."""
    listing, locked = os.scandir, str(folder.resolve())

    def scandir(path="."):
        if os.path.realpath(path) == locked:
            raise PermissionError(13, "Permission denied")
        return listing(path)
    monkeypatch.setattr(os, "scandir", scandir)
