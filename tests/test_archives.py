"""Archived feeds: every published article of every feed reachable from its
subscription document, once, in order (RFC 5005 in Atom and RSS, next_url in
JSON Feed, older/newer links between pages), and archive documents that stay
as they are unless one of their own articles changes."""
from __future__ import annotations

import os
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive_walker import parse, walk
from conftest import FORMATS, check_feed, run_cli, write_config
from corpus_builder import expected_articles, expected_feeds, link_key, write_article
from feeds.archives import holder_of, partition

BASE = "https://history.test/"
ITEMS_PER_FEED, ITEMS_PER_ARCHIVE = 3, 4
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
TOPICS = ["AI", "Cloud", "Robotics"]
PROVIDERS = ["alpha.example", "beta.example"]


@pytest.fixture(autouse=True)
def _written_files_trusted_at_once(monkeypatch):
    """settle() dates the files' mtime, but the ctime that moves is now, and a
    change that recent is read again on every build: these tests trust at once."""
    import feeds.builder.scan as scan
    monkeypatch.setattr(scan, "RACY_SECONDS", 0.0)


def article(content: Path, number: int, when: datetime, **extra) -> Path:
    return write_article(content, f"a{number:04d}.md", title=f"Story {number}", webUrl=f"https://news.example/{number}",
                         publishedDateTime=when, topics=[TOPICS[number % 3], *(["AI"] if number % 5 == 0 else [])],
                         provider={"name": PROVIDERS[number % 2].title(), "domain": PROVIDERS[number % 2]}, **extra)


def settle(content: Path) -> None:
    past = (datetime.now(timezone.utc) - timedelta(days=1)).timestamp()
    for path in content.iterdir():
        os.utime(path, (past, past))  # out of the index's too-recent-to-trust window


@pytest.fixture
def site(tmp_path):
    content = tmp_path / "content"
    for number in range(60):
        article(content, number, START + timedelta(hours=7 * number))
    settle(content)
    config = write_config(tmp_path / "feeds.toml", base_url=BASE, items_per_feed=ITEMS_PER_FEED,
                          items_per_archive=ITEMS_PER_ARCHIVE)
    return tmp_path, content, config


def export(tmp_path: Path, content: Path, config: Path, out: str, *extra) -> Path:
    run = run_cli("export", tmp_path / out, "--content", content, "--config", config,
                  "--cache-dir", tmp_path / "cache", *extra)
    assert run.code == 0, run.err
    return tmp_path / out


def reader(root: Path):
    def fetch(url: str) -> bytes:
        assert url.startswith(BASE), url
        return (root / url[len(BASE):]).read_bytes()
    return fetch


def assert_whole_history(fetch, content: Path, now: datetime | None = None) -> int:
    """Every feed, in every format, walks to exactly its published articles,
    newest first, each once; returns the number of documents walked."""
    expected = expected_feeds(expected_articles(content), now or datetime.now(timezone.utc))
    walked = 0
    for path, articles in expected.items():
        want = [(a.link, a.published) for a in articles]
        for fmt in FORMATS:
            chain = walk(fetch, f"{BASE}{path}.{fmt}", fmt)
            got = [(link_key(link), when) for link, when in chain.items]
            assert len(got) == len({link for link, _ in got}), f"{path}.{fmt}: an article twice in the chain"
            assert sorted(got) == sorted(want), f"{path}.{fmt}: {len(got)} articles, expected {len(want)}"
            dates = [when for _, when in got]
            assert dates == sorted(dates, reverse=True), f"{path}.{fmt}: not newest first"
            walked += len(chain.documents)
    return walked


def test_every_feed_walks_to_its_whole_history_in_every_format(site):
    tmp_path, content, config = site
    out = export(tmp_path, content, config, "out", "--no-cache")
    walked = assert_whole_history(reader(out), content)
    assert walked > 3 * 6 * 4, "too few archive documents to say anything"


def test_archive_documents_are_valid_feeds_marked_as_archives(site):
    tmp_path, content, config = site
    out = export(tmp_path, content, config, "out", "--no-cache")
    archives = sorted(out.glob("**/archive/*.*"))
    assert archives
    for path in archives:
        fmt = path.suffix[1:]
        if fmt in FORMATS:
            check_feed(path.read_bytes(), fmt)
    subscription = (out / "topics/ai.atom").read_bytes()
    assert b'rel="prev-archive"' in subscription and b"fh:archive" not in subscription
    newest = re.search(rb'href="([^"]+)" rel="prev-archive"', subscription).group(1).decode()
    document = reader(out)(newest)
    assert b"<fh:archive/>" in document and b'rel="current"' in document
    # The newest archive document is followed by the subscription document.
    assert f'href="{BASE}topics/ai.atom" rel="next-archive"'.encode() in document


def test_without_archives_the_documents_are_those_of_a_release_without_them(site):
    tmp_path, content, config = site
    off = write_config(tmp_path / "off.toml", base_url=BASE, items_per_feed=ITEMS_PER_FEED, archives=False)
    out = export(tmp_path, content, off, "off", "--no-cache")
    assert not list(out.glob("**/archive/**"))
    for fmt in FORMATS:
        body = (out / f"feed.{fmt}").read_bytes()
        assert b"prev-archive" not in body and b"next_url" not in body and b"history/1.0" not in body


def test_pages_link_older_and_newer_pages(site):
    tmp_path, content, config = site
    out = export(tmp_path, content, config, "out", "--no-cache")
    page = (out / "topics/cloud.html").read_text("utf-8")
    older = re.search(r'<link rel="next" href="([^"]+)">', page).group(1)
    assert "cloud/archive/" in older and 'rel="prev"' not in page.split("</head>")[0]
    seen, path = 0, (out / "topics" / older).resolve()
    while True:
        text = path.read_text("utf-8")
        newer = re.search(r'<link rel="prev" href="([^"]+)">', text).group(1)
        assert (path.parent / newer).resolve().exists(), newer
        seen += text.count("<article>")
        found = re.search(r'<link rel="next" href="([^"]+)">', text)
        if found is None:
            break
        path = (path.parent / found.group(1)).resolve()
    cloud = [a for a in expected_articles(content) if "cloud" in a.topics]
    assert seen + ITEMS_PER_FEED == len(cloud)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith((".gz", ".br"))}


def changed_archives(before: dict[str, bytes], after: dict[str, bytes]) -> dict[str, set[str]]:
    """Feed -> the archive documents (Atom) created, rewritten or removed."""
    changed: dict[str, set[str]] = {}
    for name in before.keys() | after.keys():
        if "/archive/" in name and name.endswith(".atom") and before.get(name) != after.get(name):
            feed, _, key = name.partition("/archive/")
            changed.setdefault(feed, set()).add(key)
    return changed


def test_a_new_article_changes_at_most_the_newest_archive_document_of_each_feed(site):
    tmp_path, content, config = site
    out = export(tmp_path, content, config, "out")
    for number in range(60, 75):  # each newer than everything before it
        before = snapshot(out)
        article(content, number, START + timedelta(hours=7 * number))
        export(tmp_path, content, config, "out")
        after = snapshot(out)
        for feed, keys in changed_archives(before, after).items():
            # The newest grows, or a new one begins and the one before it links to it.
            assert len(keys) <= 2, f"article {number}: {feed} rewrote {sorted(keys)}"
            old_keys = {n.partition("/archive/")[2] for n in before if n.startswith(f"{feed}/archive/")}
            assert not (keys & old_keys) - {max_key(before, feed)}, f"{feed}: an older archive document changed"


def max_key(snapshot_: dict[str, bytes], feed: str) -> str:
    """The newest archive document of a feed: the one its subscription document links to."""
    body = snapshot_[f"{feed}.atom"]
    url = re.search(rb'href="([^"]+)" rel="prev-archive"', body).group(1).decode()
    return url[len(BASE):].partition("/archive/")[2]


@pytest.mark.parametrize("seed", [5005, 4287])
def test_any_sequence_of_changes_gives_a_cold_builds_bytes_and_touches_few_archives(site, seed, monkeypatch):
    from feeds.builder import archiving
    recuts = []
    real_recut = archiving._recut
    monkeypatch.setattr(archiving, "_recut", lambda *args: recuts.append(args[2].path) or real_recut(*args))
    tmp_path, content, config = site
    rng = random.Random(seed)
    out = export(tmp_path, content, config, "out")
    numbers = list(range(60))
    next_number = 60
    now = datetime.now(timezone.utc)
    for step, action in enumerate(rng.choice(["add", "backdate", "edit", "remove", "draft", "schedule"])
                                  for _ in range(30)):
        before = snapshot(out)
        if action == "add":
            article(content, next_number, START + timedelta(hours=7 * next_number))
        elif action == "backdate":
            article(content, next_number, START + timedelta(hours=7 * rng.randrange(60), minutes=13))
        elif action == "schedule":
            article(content, next_number, now + timedelta(days=3))
        changed = next_number
        if action in ("add", "backdate", "schedule"):
            numbers.append(next_number)
            next_number += 1
        else:
            victim = changed = rng.choice(numbers)
            path = content / f"a{victim:04d}.md"
            if action == "remove":
                path.unlink()
                numbers.remove(victim)
            elif action == "edit":
                article(content, victim, START + timedelta(hours=7 * victim), excerpt=f"Edited at step {step}.")
            else:
                article(content, victim, START + timedelta(hours=7 * victim), published=False)
        incremental = snapshot(export(tmp_path, content, config, "out"))
        cold = snapshot(export(tmp_path, content, config, f"cold-{step}", "--no-cache"))
        differ = sorted(name for name in incremental.keys() | cold.keys() if incremental.get(name) != cold.get(name))
        assert not differ, f"step {step} ({action}): incremental and cold differ in {differ[:5]}"
        for feed, keys in changed_archives(before, incremental).items():
            assert_local(feed, keys, before, incremental, f'"https://news.example/{changed}"', f"step {step} ({action})")
    assert len(recuts) > 30, "the incremental builds never cut only part of an archive"
    # A new folder filled from the index alone (nothing read, no feed recomputed): the same bytes again.
    again = snapshot(export(tmp_path, content, config, "again"))
    assert again == cold
    assert_whole_history(reader(out), content)


def test_an_item_moved_older_than_every_archived_item_joins_the_first_run(tmp_path):
    """The run "first" (the items older than every mark) begins at no mark:
    an item dated older than all of them is cut again with it, not left
    beside it as a second "first". Found by a fuzzer: incremental against cold."""
    import shutil
    from test_builder import Clock, tree
    from feeds.builder import Builder
    from feeds.config import load_config
    from feeds.render import settings_version
    from feeds.writers import ExportWriter
    content, clock = tmp_path / "content", Clock(START)

    def write(number: int, days: int, version: str = "") -> None:
        write_article(content, f"n{number:02d}.md", title=f"Item {number}{version}", webUrl=f"https://example.com/{number}",
                      topics=["AI"], publishedDateTime=START + timedelta(days=days))

    for number in range(10):
        write(number, -number - 1)
    config = load_config(overrides={"content": str(content), "base_url": BASE, "cache_dir": str(tmp_path / "cache"),
                                    "items_per_feed": 3, "items_per_archive": 2}, environ={})
    builder = Builder(config, ExportWriter(tmp_path / "out", settings_version(config.site)), clock=clock)
    builder.build()

    def cold() -> dict[str, bytes]:
        shutil.rmtree(tmp_path / "cold", ignore_errors=True)
        fresh = Builder(config, ExportWriter(tmp_path / "cold", settings_version(config.site)), index=None, clock=clock)
        fresh.build()
        fresh.close()
        return tree(tmp_path / "cold")

    for step, change in enumerate([lambda: write(9, -4, " moved"), lambda: (content / "n08.md").unlink(),
                                   lambda: write(9, -13, " moved again")]):
        change()
        builder.build()
        incremental, from_cold = tree(tmp_path / "out"), cold()
        differ = sorted(name for name in incremental.keys() | from_cold.keys()
                        if incremental.get(name) != from_cold.get(name))
        assert not differ, f"step {step}: incremental and cold differ in {differ[:5]}"
    builder.close()


def run_of(key: str) -> str:
    return re.sub(r"-\d+$", "", key.removesuffix(".atom"))


def chain_of(snapshot_: dict[str, bytes], feed: str) -> list[str]:
    """The feed's archive documents (Atom), newest first, as its links give them."""
    keys, body = [], snapshot_.get(f"{feed}.atom", b"")
    while (found := re.search(rb'href="([^"]+)" rel="prev-archive"', body)) is not None:
        keys.append(found.group(1).decode().rpartition("/archive/")[2])
        body = snapshot_[f"{feed}/archive/{keys[-1]}"]
    return keys


def assert_local(feed: str, keys: set[str], before: dict, after: dict, link: str, what: str) -> None:
    """What one change rewrote in a feed's archive: the documents of the runs
    that hold the article (before or after; a run goes from one mark to the next),
    of the run at the newest end (which takes what leaves the subscription
    document), and their neighbours in the chain, whose links may change."""
    chains = [chain_of(snapshot_, feed) for snapshot_ in (before, after)]
    runs = {run_of(key) for chain, snapshot_ in zip(chains, (before, after)) for key in chain
            if link.encode() in snapshot_[f"{feed}/archive/{key}"]}
    runs |= {run_of(chain[0]) for chain in chains if chain}
    for chain in chains:  # a mark that goes joins its run to the one before it
        runs |= {run_of(chain[n + 1]) for n, key in enumerate(chain[:-1])
                 if run_of(key) in runs and run_of(chain[n + 1]) != run_of(key)}
    allowed: set[str] = set()
    for chain in chains:
        positions = [n for n, key in enumerate(chain) if run_of(key) in runs]
        for n in positions:
            allowed.update(chain[max(0, n - 1):n + 2])
    assert keys <= allowed, f"{what}: {feed} rewrote {sorted(keys - allowed)} besides {sorted(keys & allowed)}"


def test_the_cuts_stay_where_they_are_when_items_are_added_elsewhere():
    rng = random.Random(7)
    items = sorted(((rng.randrange(10**9), f"urn:uuid:{rng.getrandbits(128):032x}") for _ in range(2000)),
                   key=lambda item: (-item[0], item[1]))
    pages = partition(items, 50)
    assert sum(page.stop - page.start for page in pages) == len(items)
    assert all(1 <= page.stop - page.start <= 50 for page in pages)
    assert len({page.key for page in pages}) == len(pages)
    contents = {page.key: items[page.start:page.stop] for page in pages}
    # One item more, in the middle of the history: at most its run's documents change.
    added = (items[1000][0], "urn:uuid:" + "f" * 32)  # an id that is no mark
    more = sorted([*items, added], key=lambda item: (-item[0], item[1]))
    after = {page.key: more[page.start:page.stop] for page in partition(more, 50)}
    changed = {key for key in contents.keys() | after.keys() if contents.get(key) != after.get(key)}
    assert 1 <= len(changed) <= 3, sorted(changed)
    # One at the newest end: only the newest document changes (or a new one begins).
    newest = (items[0][0] + 1, "urn:uuid:" + "e" * 32)
    longer = [newest, *items]
    after = {page.key: longer[page.start:page.stop] for page in partition(longer, 50)}
    changed = {key for key in contents.keys() | after.keys() if contents.get(key) != after.get(key)}
    assert changed <= {pages[0].key} | (after.keys() - contents.keys()), sorted(changed)


def test_the_live_server_walks_the_same_history_and_keeps_archives_longer(site, serve):
    tmp_path, content, _ = site
    app = serve(content, title="History", base_url=BASE, items_per_feed=ITEMS_PER_FEED, items_per_archive=ITEMS_PER_ARCHIVE,
                cache_max_age=60, archive_max_age=7200)
    client = app.test_client()

    def fetch(url: str) -> bytes:
        response = client.get("/" + url[len(BASE):])
        assert response.status_code == 200, url
        return response.data

    assert_whole_history(fetch, content)
    exported = export(tmp_path, content, write_config(tmp_path / "same.toml", title="History", base_url=BASE,
                      items_per_feed=ITEMS_PER_FEED, items_per_archive=ITEMS_PER_ARCHIVE), "same", "--no-cache")
    chain = walk(fetch, f"{BASE}topics/ai.atom", "atom").documents
    assert len(chain) >= 3
    for number, url in enumerate(chain):
        path = url[len(BASE):]
        response = client.get("/" + path, headers={"Accept-Encoding": "br"})
        assert response.headers["Content-Encoding"] == "br"
        plain = client.get("/" + path)
        assert plain.data == (exported / path).read_bytes(), f"{path}: the server and the export differ"
        # The subscription document and the newest archive document change with every new article.
        assert plain.headers["Cache-Control"] == f"public, max-age={7200 if number >= 2 else 60}", path
        again = client.get("/" + path, headers={"If-None-Match": plain.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Cache-Control"] == plain.headers["Cache-Control"]
    assert client.get("/topics/ai/archive/no-such-page.atom").status_code == 404
    assert client.get("/topics/ai/archive/../ai.atom").status_code == 404
    assert client.get("/topics/ai/archive/First.atom").status_code == 404


def test_a_gone_document_is_held_by_the_newest_document_before_its_place():
    run, later = "2023-01-01t000000z-aaaaaaaa", "2023-02-01t000000z-bbbbbbbb"
    keys = ["first", "first-2", run, f"{run}-2", f"{run}-9", f"{run}-10", later]
    assert holder_of("2023-01-15t000000z-cccccccc", keys) == f"{run}-10"  # parts in number order, not text order
    assert holder_of(f"{run}-11", keys) == f"{run}-10"  # a run that shrank
    assert holder_of("2022-12-31t235959z-dddddddd", keys) == "first-2"
    assert holder_of("first-3", keys) == "first-2"
    assert holder_of("first", keys) is None and holder_of("first", [later]) is None
    assert holder_of("not-a-key", keys) is None and holder_of(f"{run}-1", keys) is None
    assert holder_of("2024-01-01t000000z-eeeeeeee", []) is None


def test_a_document_gone_with_its_first_article_sends_readers_on_to_its_articles(site, serve):
    """Removing (or drafting) the article that begins an archive document's run
    ends that document: its items join the run before it. Caches keep the
    newer documents, which link to it, for archive_max_age; a reader walking
    from them must still reach every article instead of a 404."""
    from conftest import wait_for
    tmp_path, content, _ = site
    app = serve(content, base_url=BASE, items_per_feed=ITEMS_PER_FEED, items_per_archive=ITEMS_PER_ARCHIVE)
    client = app.test_client()

    def live(url: str) -> bytes:  # as a reader or a cache: redirects followed
        for _ in range(5):
            response = client.get("/" + url[len(BASE):])
            if response.status_code != 302:
                break
            assert response.headers["Cache-Control"] == "public, max-age=300"
            url = response.headers["Location"]
            assert url.startswith(BASE), url
        assert response.status_code == 200, f"{url}: {response.status_code}"
        return response.data

    cached = {fmt: {url: live(url) for url in walk(live, f"{BASE}feed.{fmt}", fmt).documents} for fmt in FORMATS}
    chain = list(cached["atom"])
    runs = [url for url in chain[2:] if re.search(r"/archive/\d{4}-\d\d-\d\dt\d{6}z-[0-9a-f]{8}\.atom$", url)]
    assert runs, chain
    gone = runs[0][len(BASE):-len(".atom")]
    began = datetime.strptime(gone.rpartition("/")[2][:18], "%Y-%m-%dt%H%M%Sz").replace(tzinfo=timezone.utc)
    first = content / f"a{(began - START) // timedelta(hours=7):04d}.md"
    first.unlink()
    wait_for(lambda: client.get(f"/{gone}.atom").status_code != 200, what="the removal published")
    published = {link_key(a.link) for a in expected_feeds(expected_articles(content), datetime.now(timezone.utc))["feed"]}
    for fmt in (*FORMATS, "html"):
        moved = client.get(f"/{gone}.{fmt}")
        assert moved.status_code == 302, f"{gone}.{fmt}: {moved.status_code}"
        assert client.get(moved.headers["Location"][len(BASE) - 1:]).status_code == 200
    for fmt in FORMATS:
        # Every document newer than the one gone still as the cache holds it; the rest live.
        stale = dict(list(cached[fmt].items())[:chain.index(f"{BASE}{gone}.atom")])
        url, seen = f"{BASE}feed.{fmt}", set()
        while url:
            links, _, items = parse(stale[url] if url in stale else live(url), fmt)
            seen |= {link_key(link) for link, _ in items}
            url = links.get("prev-archive") or links.get("next_url")
        assert published <= seen, f"feed.{fmt}: {len(published - seen)} articles out of reach"
    assert client.get("/feed/archive/not-a-key.atom").status_code == 404
    assert client.get("/topics/no-such-topic/archive/2023-01-01t000000z-00000000.atom").status_code == 404


def test_an_archive_document_whose_bytes_stay_the_same_changes_lifetime_with_its_place(tmp_path, serve):
    """A JSON archive page links only to older pages: when a newer archive
    document begins, its bytes can stay the same while it stops being the
    newest, and a running server must send it with the long lifetime from
    then on (and with the short one again once it is the newest again)."""
    from conftest import wait_for
    content = tmp_path / "content"
    for number in range(5):
        article(content, number, START + timedelta(hours=number))
    settle(content)
    app = serve(content, base_url=BASE, items_per_feed=3, items_per_archive=2, cache_max_age=60,
                archive_max_age=7200)
    client = app.test_client()

    def state() -> tuple[str, str]:
        return client.get("/feed.json").headers["ETag"], client.get("/feed.json").get_json()["next_url"][len(BASE) - 1:]

    added = []
    newest = state()[1]
    seen = client.get(newest)
    for number in range(5, 40):  # one new article at a time, until a newer archive document begins
        etag = state()[0]
        added.append(article(content, number, START + timedelta(hours=number)))
        wait_for(lambda: state()[0] != etag, what=f"article {number} published")
        now_newest = state()[1]
        again = client.get(newest)
        if now_newest != newest and again.headers["ETag"] == seen.headers["ETag"]:
            break
        newest, seen = now_newest, client.get(now_newest)
        assert seen.headers["Cache-Control"] == "public, max-age=60"
    else:
        pytest.fail("no archive document stopped being the newest with its bytes unchanged")
    assert again.headers["Cache-Control"] == "public, max-age=7200", "kept the lifetime of the newest"
    assert client.get(newest, headers={"If-None-Match": again.headers["ETag"]}).headers["Cache-Control"] \
        == "public, max-age=7200"
    added.pop().unlink()
    wait_for(lambda: state()[1] == newest, what="the same archive document the newest again")
    back = client.get(newest)
    assert back.headers["ETag"] == seen.headers["ETag"] and back.headers["Cache-Control"] == "public, max-age=60"


@pytest.mark.parametrize("name", ["Archive", "archive.example"])
def test_a_feed_named_archive_has_its_history_served(tmp_path, serve, name):
    """The URL of an archive document of the topic "Archive" or the provider
    "archive.example" holds "/archive/" twice: the feed's own name is the first."""
    content = tmp_path / "content"
    for number in range(12):
        write_article(content, f"a{number:02d}.md", title=f"Story {number}", webUrl=f"https://news.example/{number}",
                      publishedDateTime=START + timedelta(hours=number), topics=[name.partition(".")[0].title()],
                      provider={"name": "Archive", "domain": name if "." in name else "alpha.example"})
    settle(content)
    app = serve(content, base_url=BASE, items_per_feed=3, items_per_archive=2)
    client = app.test_client()
    feed = "/providers/archive.example" if "." in name else "/topics/archive"

    def fetch(url: str) -> bytes:
        response = client.get("/" + url[len(BASE):])
        assert response.status_code == 200, url
        return response.data

    chain = walk(fetch, f"{BASE}{feed[1:]}.json", "json")
    assert len(chain.documents) >= 3 and all(f"{feed}/archive/" in "/" + url[len(BASE):] for url in chain.documents[1:])
    assert len(walk(fetch, f"{BASE}{feed[1:]}.atom", "atom").documents) == len(chain.documents)
    # Plain polls of every one of them are answered from ready responses, without Flask.
    shortcut, flask_calls = app.wsgi_app, []
    flask_app = shortcut.app
    shortcut.app = lambda environ, start_response: flask_calls.append(environ["PATH_INFO"]) or flask_app(
        environ, start_response)
    for url in chain.documents:
        fetch(url)
    assert flask_calls == []


def test_without_archives_every_file_is_byte_for_byte_what_0_4_0_wrote(tmp_path, monkeypatch):
    """tests/data/archives-off-0.4.0.json: the SHA-256 of every file (copies included) that
    release 0.4.0, which had no archives, exported from the generated news corpus and from
    sample/, with 10 items per feed. A change of output made on purpose rewrites that file."""
    import hashlib
    import json
    from conftest import REPO
    from corpus_builder import write_news_corpus
    expected = json.loads((Path(__file__).parent / "data" / "archives-off-0.4.0.json").read_text())
    for name, value in {"TITLE": "Golden", "BASE_URL": "https://golden.test/", "ITEMS_PER_FEED": "10",
                        "ARCHIVES": "false"}.items():
        monkeypatch.setenv(f"FEEDS_{name}", value)  # over config/feeds.toml, as 0.4.0 read it
    got = {}
    for name, folder in (("news", write_news_corpus(tmp_path / "news")), ("sample", REPO / "sample")):
        out = tmp_path / f"out-{name}"
        run = run_cli("export", out, "--content", folder, "--no-cache", "--quiet")
        assert run.code == 0, run.err
        got.update((f"{name}/{p.relative_to(out).as_posix()}", hashlib.sha256(p.read_bytes()).hexdigest())
                   for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith("."))
    assert got.keys() == expected.keys()
    assert [path for path in got if got[path] != expected[path]] == []


def test_an_export_made_before_the_newest_marks_gets_them_at_its_next_run(site):
    """A static server reads the marks (.newest/) to send each feed's newest archive document
    with the short lifetime: an export written before them must not be left without."""
    import json
    import shutil
    tmp_path, content, config = site
    out = export(tmp_path, content, config, "out")
    marks = sorted(p.relative_to(out) for p in (out / ".newest").rglob("*") if p.is_file())
    assert marks
    manifest = out / ".feeds-manifest.json"
    record = json.loads(manifest.read_text())
    record["settings"] = record["settings"].replace("+newest1", "")  # as the release before the marks wrote it
    manifest.write_text(json.dumps(record))
    shutil.rmtree(out / ".newest")
    export(tmp_path, content, config, "out")
    assert sorted(p.relative_to(out) for p in (out / ".newest").rglob("*") if p.is_file()) == marks
