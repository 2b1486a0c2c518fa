"""Thin servers over one builder, with real processes: gunicorn workers, the
builder they start, a real redis-server shared by two "hosts" (two app
instances with separate cache folders).

What a user would notice: every host sends the same bytes, ETags and
Last-Modified; a builder killed with SIGKILL is replaced and new articles
still appear; /healthz says when no builder is alive; a worker never reads
an article.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import wait_for
from corpus_builder import write_article
from test_gunicorn import Server, content  # noqa: F401 - the same content fixture

REDIS = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (.ci/run installs Debian's)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _connects(port), 10, what="redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


_SESSION: list[bytes] = []  # this test session's temporary folder: builders of other sessions are not ours


@pytest.fixture(autouse=True)
def _session_folder(tmp_path_factory):
    _SESSION[:] = [str(tmp_path_factory.getbasetemp()).encode() + b"/"]  # pytest-5/ is not pytest-50/


def builders(server: Server | None = None) -> dict[int, str]:
    """pid -> command line of every running `feeds build` process of this test
    session (started by `server`'s processes)."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                command = Path(entry.path, "cmdline").read_bytes().split(b"\0")
                if not (b"feeds" in command and b"build" in command):
                    continue
                ours = all(marker in Path(entry.path, "environ").read_bytes() for marker in _SESSION)
            except OSError:
                continue
            if ours and _alive(int(entry.name)):
                if server is None or _is_descendant(int(entry.name), server):
                    found[int(entry.name)] = b" ".join(command).decode(errors="replace")
    return found


def children_of(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def one_builder(server: Server | None = None) -> int:
    """The pid of the only builder (others started at the same moment exit at once)."""
    return next(iter(wait_for(lambda: (lambda found: len(found) == 1 and found)(builders(server)), 15,
                              what="exactly one builder")))


def health(server: Server) -> tuple[int, dict]:
    status, headers, body = server.request("GET", "/healthz")
    assert headers["cache-control"] == "no-store"
    return status, json.loads(body)


def titles(server: Server, path: str = "/feed.json") -> list[str]:
    return server.get_json(path)[1]


def test_new_articles_are_served_one_after_another_without_a_restart(content, tmp_path):
    """(How fast is measured by bench/scale.py, not asserted here.)"""
    server = Server(content, FEEDS_CACHE_DIR=str(tmp_path / "cache"))
    try:
        for n in range(5):
            write_article(content, f"new{n}.md", title=f"New story {n}", webUrl=f"https://venturebeat.com/new{n}",
                          topics=["AI"], publishedDateTime=datetime(2024, 2, 1 + n, tzinfo=timezone.utc))
            wait_for(lambda: f"New story {n}" in titles(server, "/topics/ai.json"), 10, 0.02, f"story {n}")
        assert titles(server, "/topics/ai.json")[:5] == [f"New story {n}" for n in range(4, -1, -1)]
    finally:
        server.stop()


def test_workers_never_read_articles_nor_import_the_builder(content, tmp_path):
    server = Server(content, workers=2, FEEDS_CACHE_DIR=str(tmp_path / "cache"))
    try:
        write_article(content, "new.md", title="New story", webUrl="https://venturebeat.com/new", topics=["AI"],
                      publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
        wait_for(lambda: "New story" in titles(server), what="the new story")
        workers = [pid for pid in children_of(server.process.pid) if pid not in builders()]
        assert len(workers) == 2
        for pid in workers:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "_yaml" not in maps and "yaml_rs" not in maps, "a worker loaded the YAML parsers"
            # the worker's open files: no article file, no index
            for fd in os.scandir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(fd.path)
                except OSError:
                    continue
                assert not target.startswith(str(content)), f"worker {pid} holds {target} open"
                assert ".sqlite" not in target, f"worker {pid} holds the index {target} open"
    finally:
        server.stop()


def test_a_worker_never_imports_the_builder(content, tmp_path):
    """In-process check with the real app: serving documents imports neither
    the builder nor the read stage."""
    code = f"""
import sys, time, json
from feeds.config import load_config
from feeds.server import create_app
app = create_app(load_config(overrides={{"content": {str(content)!r}, "cache_dir": {str(tmp_path / 'cache')!r}}}, environ={{}}))
client = app.test_client()
deadline = time.monotonic() + 30
while client.get("/healthz").status_code != 200 and time.monotonic() < deadline:
    time.sleep(0.05)
assert client.get("/feed.atom").status_code == 200
assert client.get("/topics/ai.rss").status_code == 200
print(json.dumps(sorted(m for m in sys.modules if m.startswith("feeds") or m in ("yaml", "yaml_rs", "frontmatter", "feedgen"))))
app.extensions["feeds.supervisor"].close()
"""
    run = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    modules = json.loads(run.stdout.strip().splitlines()[-1])
    assert "feeds.server" in modules
    for forbidden in ("feeds.builder", "feeds.read", "feeds.render", "feeds.writers", "yaml", "yaml_rs",
                      "frontmatter", "feedgen"):
        assert forbidden not in modules, f"a server process imported {forbidden}"


def test_a_killed_builder_is_replaced_and_health_follows(content, tmp_path):
    server = Server(content, workers=2, FEEDS_CACHE_DIR=str(tmp_path / "cache"))
    try:
        status, body = health(server)
        assert status == 200 and body["builder_holds_lock"] and body["articles"] == 1
        first = one_builder(server)
        os.kill(first, signal.SIGKILL)
        # Stop the replacement too, for long enough to see /healthz turn 503: freeze workers' supervisors
        # by stopping (SIGSTOP) every builder that appears, then let them go.
        stopped = set()
        def unhealthy():
            for pid in builders():
                if pid != first and pid not in stopped:
                    os.kill(pid, signal.SIGSTOP)
                    stopped.add(pid)
            return health(server)[0] == 503
        wait_for(unhealthy, 30, 0.1, "/healthz to report no live builder")
        status, body = health(server)
        assert body["status"] == "unavailable" and body["store_version"] is not None
        assert server.request("GET", "/feed.atom")[0] == 200, "documents are still served without a builder"
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: health(server)[0] == 200, 30, what="/healthz to recover")
        write_article(content, "after.md", title="After the takeover", webUrl="https://venturebeat.com/after",
                      topics=["AI"], publishedDateTime=datetime(2024, 3, 1, tzinfo=timezone.utc))
        wait_for(lambda: "After the takeover" in titles(server), 15, what="an article after the takeover")
        assert len([pid for pid in builders() if pid != first]) >= 1
    finally:
        server.stop()
    wait_for(lambda: not builders(), 15, what="builders to end with the server")


def test_one_builder_per_store_however_many_workers(content, tmp_path):
    server = Server(content, workers=4, FEEDS_CACHE_DIR=str(tmp_path / "cache"))
    try:
        time.sleep(3)  # every worker's supervisor has looked at least twice
        one_builder(server)
        time.sleep(1)
        assert len(builders(server)) == 1
    finally:
        server.stop()


@needs_redis
def test_two_hosts_sharing_redis_serve_identical_bytes_and_validators(content, tmp_path, redis_url):
    first = Server(content, FEEDS_CACHE_DIR=str(tmp_path / "host-a"), FEEDS_CACHE_URL=redis_url,
                   FEEDS_BASE_URL="https://news.example/")
    second = Server(content, FEEDS_CACHE_DIR=str(tmp_path / "host-b"), FEEDS_CACHE_URL=redis_url,
                    FEEDS_BASE_URL="https://news.example/")
    try:
        one_builder()
        write_article(content, "new.md", title="New story", webUrl="https://venturebeat.com/new", topics=["AI"],
                      publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
        wait_for(lambda: "New story" in titles(first) and "New story" in titles(second), what="the new story")
        for path in ("/", "/feeds.opml", "/feed.atom", "/feed.rss", "/feed.json", "/topics/ai.atom",
                     "/providers/venturebeat.com.json"):
            a, b = first.request("GET", path), second.request("GET", path)
            assert a[0] == b[0] == 200, path
            assert a[2] == b[2], f"{path}: different bytes"
            for name in ("etag", "last-modified", "content-type"):
                assert a[1].get(name) == b[1].get(name), f"{path}: different {name}"
        etag = first.request("GET", "/feed.atom")[1]["etag"]
        assert second.request("GET", "/feed.atom", {"If-None-Match": etag})[0] == 304
        # the builder's host goes away: the other host's workers start one
        builder = one_builder()
        owner = first if _is_descendant(builder, first) else second
        other = second if owner is first else first
        owner.stop()
        wait_for(lambda: builders() and builder not in builders(), 30, what="a builder on the other host")
        write_article(content, "later.md", title="Later story", webUrl="https://venturebeat.com/later", topics=["AI"],
                      publishedDateTime=datetime(2024, 3, 1, tzinfo=timezone.utc))
        wait_for(lambda: "Later story" in titles(other), 30, what="a story published by the new builder")
    finally:
        for server in (first, second):
            if not server.log.closed:
                server.stop()


def _is_descendant(pid: int, server: Server) -> bool:
    while pid > 1:
        if pid == server.process.pid:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


@needs_redis
def test_without_redis_the_app_keeps_serving_what_it_has(content, tmp_path):
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _connects(port), 10, what="redis-server")
    server = Server(content, workers=1, FEEDS_CACHE_DIR=str(tmp_path / "cache"),
                    FEEDS_CACHE_URL=f"redis://127.0.0.1:{port}/0")
    try:
        before = server.request("GET", "/feed.atom")
        assert before[0] == 200 and server.request("GET", "/feed.rss")[0] == 200
        process.terminate()
        process.wait(timeout=10)
        after = server.request("GET", "/feed.atom")
        assert after[0] == 200 and after[2] == before[2]
        assert server.request("GET", "/healthz")[0] == 503
        for _ in range(20):
            assert server.request("GET", "/feed.rss")[0] == 200
        # a document this server never read cannot be sent: "try again", never a 500
        status, headers, _ = server.request("GET", "/topics/ai.json")
        assert status == 503 and headers["retry-after"]
        time.sleep(0.5)
        log = server.output()
    finally:
        server.stop()
        if process.poll() is None:
            process.terminate()
    assert log.count("serving the last version read") == 1, log
    assert "Traceback" not in log, log
