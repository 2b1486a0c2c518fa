"""Linked folders and files in the content folder: followed, but every real folder
is listed once and every real file read once; a link that loops is reported, not
walked round and round."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus_builder import write_article

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                                reason="POSIX symbolic links")

REPO = Path(__file__).resolve().parents[1]
LOOP = "symbolic link loop: points to an enclosing folder (not followed)"
WALK_SECONDS = 20  # a child's listing here takes well under a second; a walk round loops never ends


def article(folder: Path, name: str) -> Path:
    return write_article(folder, name, title=f"Article {name}", webUrl=f"https://example.com/{name}")


def link(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def names(listing) -> list[str]:
    return [name for name, stamp in listing if not isinstance(stamp, str)]


def problems(listing) -> list[tuple[str, str]]:
    return [(name, stamp) for name, stamp in listing if isinstance(stamp, str)]


def in_child(code: str):
    """Run `code`, which sets `result`, in a fresh Python and return the result
    (through JSON), so that a walk that does not end fails the test instead of
    hanging it."""
    script = ("import json\nfrom pathlib import Path\n"
              "from feeds.read import Limits, read_collection\nfrom feeds.walk import _list_files, list_article_files\n"
              f"{code}\nprint(json.dumps(result))")
    try:
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                              timeout=WALK_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no result within {WALK_SECONDS}s: a symbolic link loop is walked round")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def listed(top: Path, under: str | None = None, stamps: bool = False) -> list:
    """_list_files(top, stamps), or list_article_files(top, under), in a child process."""
    call = (f"_list_files({str(top)!r}, stamps={stamps})" if under is None
            else f"list_article_files({str(top)!r}, {under!r})")
    return [(name, tuple(stamp) if isinstance(stamp, list) else stamp) for name, stamp in in_child(f"result = {call}")]


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the content folder, not inside it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


# --- Loops ----------------------------------------------------------------------

def test_a_link_to_the_enclosing_folder_is_reported_and_each_article_read_once(content):
    article(content, "a.md")
    article(content, "seeds/b.md")
    link(content / "seeds" / "loop", "..")
    listing = listed(content)
    assert names(listing) == ["a.md", "seeds/b.md"]
    assert problems(listing) == [("seeds/loop", LOOP)]


def test_two_loops_end_quickly_and_each_article_is_read_once(content):
    article(content, "a.md")
    article(content, "seeds/b.md")
    article(content, "seeds/deeper/c.md")
    link(content / "seeds" / "loop", "..")
    link(content / "self", content.resolve())  # absolute: the content folder itself
    link(content / "seeds" / "deeper" / "up", "../..")
    listing = listed(content)
    assert names(listing) == ["a.md", "seeds/b.md", "seeds/deeper/c.md"]
    assert problems(listing) == [("seeds/deeper/up", LOOP), ("seeds/loop", LOOP), ("self", LOOP)]


def test_a_loop_through_a_linked_folder_outside_the_content_is_reported(content, outside):
    article(outside, "shared/x.md")
    link(content / "shared", outside / "shared")
    link(outside / "shared" / "back", outside / "shared")  # inside the linked folder, to itself
    listing = listed(content)
    assert names(listing) == ["shared/x.md"]
    assert problems(listing) == [("shared/back", LOOP)]


def test_messages_name_no_path_outside_the_content_folder(content, outside, tmp_path):
    article(outside, "shared/x.md")
    link(content / "one", outside / "shared")
    link(content / "two", outside / "shared")
    link(content / "seeds" / "loop", content.resolve())
    link(content / "one" / "loop", outside / "shared")
    listing = listed(content, stamps=False)
    assert names(listing) == ["one/x.md"]
    assert problems(listing) == [("one/loop", LOOP), ("seeds/loop", LOOP),
                                 ("two", "links to a folder already read as one/ (not read again)")]
    for _, message in problems(listing):
        assert str(tmp_path) not in message and "outside" not in message


# --- Folders and files reached twice ----------------------------------------------

def test_a_folder_linked_from_two_places_is_read_once_and_the_second_link_reported(content):
    article(content, "2024/a.md")
    article(content, "2024/05/b.md")
    link(content / "latest", "2024")
    link(content / "topics" / "ai", "../2024/05")
    listing = listed(content, stamps=False)
    assert names(listing) == ["2024/05/b.md", "2024/a.md"]
    assert problems(listing) == [
        ("latest", "links to a folder already read as 2024/ (not read again)"),
        ("topics/ai", "links to a folder already read as 2024/05/ (not read again)"),
    ]


def test_a_linked_folder_met_first_keeps_its_name_and_the_real_folder_is_reported(content):
    article(content, "real/a.md")
    link(content / "alias", "real")  # "alias" sorts before "real": the first name met wins
    listing = listed(content, stamps=False)
    assert names(listing) == ["alias/a.md"]
    assert problems(listing) == [("real", "folder already read as alias/ (not read again)")]


def test_a_file_reached_twice_is_read_once_under_the_first_name(content):
    article(content, "b.md")
    link(content / "a.md", "b.md")  # sorts first: published as a.md
    link(content / "c.md", "b.md")
    link(content / "more" / "d.md", "../b.md")
    os.link(content / "b.md", content / "e.md")  # a hard link: the same file too
    listing = listed(content, stamps=True)
    assert names(listing) == ["a.md"]
    second = "a second name of the file read as a.md (not read again)"
    assert problems(listing) == [("b.md", second), ("c.md", second), ("e.md", second), ("more/d.md", second)]
    # Not a problem to read or report: the file is published once, under a.md.
    report = in_child(f"r = read_collection(Path({str(content)!r}))\n"
                      "result = [[a.source for a in r.articles], [str(p) for p in r.problems]]")
    assert report == [["a.md"], []]


def test_a_second_name_names_the_first_even_in_a_folder_of_plain_files(content):
    """Folders of plain files are walked without noting each file's name (the
    fast path of a million-file folder); a second name met later still names
    the first, and from then on every name is noted."""
    for name in ("flat/x.md", "flat/y.md", "later/p.md", "later/q.md"):
        article(content, name)
    link(content / "links" / "to-x.md", "../flat/x.md")
    (content / "zz").mkdir()
    os.link(content / "later" / "p.md", content / "zz" / "p.md")  # later/ was walked by then: its names relisted
    listing = listed(content, stamps=False)
    assert names(listing) == ["flat/x.md", "flat/y.md", "later/p.md", "later/q.md"]
    assert problems(listing) == [("links/to-x.md", "a second name of the file read as flat/x.md (not read again)"),
                                 ("zz/p.md", "a second name of the file read as later/p.md (not read again)")]


def test_linked_files_and_folders_outside_the_content_folder_are_published(content, outside):
    article(outside, "external.md")
    article(outside, "shared/x.md")
    link(content / "external.md", outside / "external.md")
    link(content / "shared", outside / "shared")
    article(content, "local.md")
    listing = listed(content, stamps=True)
    assert names(listing) == ["external.md", "local.md", "shared/x.md"]
    assert problems(listing) == []
    stamps = dict(listing)
    assert stamps["external.md"][0] == (outside / "external.md").stat().st_size  # the target's stamp


def test_a_dangling_link_is_ignored(content):
    article(content, "a.md")
    link(content / "gone.md", "nowhere.md")
    link(content / "gone", "nowhere")
    link(content / "self.md", "self.md")  # a link to itself: ELOOP
    for stamps in (False, True):
        listing = listed(content, stamps=stamps)
        assert names(listing) == ["a.md"] and problems(listing) == []


# --- A subtree: list_article_files ----------------------------------------------------

def test_list_article_files_lists_only_the_subtree_and_knows_its_enclosing_folders(content):
    article(content, "a.md")
    article(content, "sub/b.md")
    article(content, "sub/deep/c.md")
    article(content, "zzz/d.md")
    link(content / "sub" / "deep" / "top", content.resolve())  # the content folder: above the subtree
    link(content / "sub" / "deep" / "up", "../..")  # the content folder again, relatively
    link(content / "sub" / "deep" / "back", "..")  # sub itself
    listing = listed(content, "sub")
    assert names(listing) == ["sub/b.md", "sub/deep/c.md"]
    assert problems(listing) == [("sub/deep/back", LOOP), ("sub/deep/top", LOOP), ("sub/deep/up", LOOP)]
    assert [name for name, stamp in listing if isinstance(stamp, tuple)] == names(listing)  # stamped
    whole = listed(content, stamps=True)
    assert listing == [item for item in whole if item[0].startswith("sub/")]
    assert listed(content, "sub/deep") == [item for item in whole if item[0].startswith("sub/deep/")]


def test_list_article_files_of_everything_or_of_no_folder(content):
    article(content, "a.md")
    article(content, "2025/01/b.md")
    link(content / "2025" / "loop", "..")
    assert listed(content, "") == listed(content, stamps=True)
    assert listed(content, "2025/01/") == listed(content, "2025/01")
    assert names(listed(content, "2025/01")) == ["2025/01/b.md"]
    for under in ("missing", "a.md", "2025/01/b.md", "../content", ".hidden", "2025/loop/2025"):
        assert listed(content, under) == [], under
    assert listed(content, "/") == listed(content, stamps=True)


def test_list_article_files_of_a_link_that_loops_reports_it_as_the_whole_walk_does(content):
    article(content, "a.md")
    article(content, "2025/01/b.md")
    link(content / "2025" / "loop", "..")
    link(content / "2025" / "01" / "self", content.resolve())
    assert listed(content, "2025/loop") == [("2025/loop", LOOP)]
    assert listed(content, "2025/01/self") == [("2025/01/self", LOOP)]
    assert listed(content, "2025/loop/2025") == []  # beyond the loop: never listed
    whole = listed(content, stamps=True)
    assert ("2025/loop", LOOP) in whole and ("2025/01/self", LOOP) in whole


# --- Through read_collection -----------------------------------------------------------

READ_STAGE = """
report = read_collection(Path(top))
result = [[[a.source, a.title] for a in report.articles], [[p.source, p.message] for p in report.problems]]
"""
BUILDER = """
from feeds.builder import Builder
from feeds.config import load_config
config = load_config(overrides={{"content": top, "cache_dir": {cache!r}}}, environ={{}})
builder = Builder(config, None)
builder.build()
feed = builder.index.feed("feed", 2**40, 100)
result = [[[a.source, a.title] for a in feed.articles], [[p.source, p.message] for p in builder.problems()]]
"""


@pytest.mark.parametrize("through", [READ_STAGE, BUILDER], ids=["read stage", "builder"])
def test_each_article_is_published_once_and_the_loops_reported(content, tmp_path, through):
    article(content, "a.md")
    article(content, "seeds/b.md")
    link(content / "seeds" / "loop", "..")
    link(content / "self", content.resolve())
    articles, problems = in_child(f"top = {str(content)!r}\n" + through.format(cache=str(tmp_path / "cache")))
    articles.sort()
    assert sorted(articles) == [["a.md", "Article a.md"], ["seeds/b.md", "Article seeds/b.md"]]
    assert problems == [["seeds/loop", LOOP], ["self", LOOP]]


def test_a_fifo_named_like_an_article_is_not_read(content):
    """Reading a named pipe waits for a writer forever: it is not an article file."""
    article(content, "a.md")
    os.mkfifo(content / "pipe.md")
    link(content / "to-pipe.md", content / "pipe.md")
    assert [name for name, _ in listed(content, stamps=True)] == ["a.md"]


def test_a_folder_whose_name_is_not_utf8_is_named_printably_when_met_twice(content):
    """The problem quotes the first name, which the index stores as text: no crash, cold or warm."""
    folder = os.fsencode(str(content)) + b"/caf\xe9"
    os.mkdir(folder)
    article(Path(os.fsdecode(folder)), "x.md")
    link(content / "link", os.fsdecode(folder))
    for _ in range(2):  # cold, then warm
        done = subprocess.run([sys.executable, "-m", "feeds", "check", "--content", str(content),
                               "--cache-dir", str(content.parent / "cache")],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "link: links to a folder already read as caf\\xe9/ (not read again)" in done.stdout


def test_a_warm_check_names_the_folder_a_problem_is_about_as_a_cold_check_does(tmp_path):
    """b/real is reported as already read under a link; when links come and go,
    the warm check names the link that is read now, never one that is gone."""
    from conftest import run_cli
    content = tmp_path / "content"
    article(content / "b" / "real", "x.md")
    link(content / "a" / "link2", "../b/real")

    def checks() -> tuple[str, str]:
        warm = run_cli("check", "--content", content, "--cache-dir", tmp_path / "cache")
        cold = run_cli("check", "--content", content, "--no-cache")
        return warm.out, cold.out

    steps = [lambda: None, lambda: link(content / "a" / "link1", "../b/real"),
             lambda: (content / "a" / "link1").unlink(), lambda: (content / "a" / "link2").unlink()]
    for number, step in enumerate(steps):
        step()
        warm, cold = checks()
        assert warm == cold, f"step {number}: warm\n{warm}\ncold\n{cold}"
    assert "already read" not in warm  # the folder is read as itself again


def test_a_second_name_never_names_a_file_that_is_no_article_as_the_first(content):
    """c/README.md is not an article: the file it shares with d/a.md is read as
    d/a.md, and its second name names d/a.md, even though c/ was walked first."""
    article(content, "z.md")
    article(content, "c/other.md")
    (content / "d").mkdir()
    os.link(content / "z.md", content / "c" / "README.md")
    os.link(content / "z.md", content / "d" / "a.md")
    listing = listed(content, stamps=False)
    assert names(listing) == ["c/other.md", "d/a.md"]
    assert problems(listing) == [("z.md", "a second name of the file read as d/a.md (not read again)")]
