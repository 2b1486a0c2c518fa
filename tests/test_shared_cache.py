"""The Redis render cache: shared between app instances, and never a reason to fail."""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time

import pytest

from corpus_builder import write_article
from feeds.config import load_config
from feeds.web import create_app

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (.ci/run installs Debian's)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def content(tmp_path):
    folder = tmp_path / "content"
    write_article(folder, "a.md", title="Shared story", webUrl="https://example.com/a", topics=["AI"])
    return folder


def make_app(content, cache_url):
    return create_app(load_config(overrides={"content": str(content), "cache_url": cache_url}, environ={}))


def test_workers_share_rendered_feeds_through_redis(content, redis_url):
    first, second = make_app(content, redis_url), make_app(content, redis_url)
    body = first.test_client().get("/topics/ai.atom").data
    assert first.extensions["feeds"].renders == 1
    response = second.test_client().get("/topics/ai.atom")
    assert response.data == body
    assert second.extensions["feeds"].renders == 0, "the second instance rendered instead of using Redis"


def test_without_redis_the_app_keeps_serving_and_says_so_once(content, caplog):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(content, dead)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="feeds"):
        statuses = [client.get(path).status_code for path in ("/feed.atom", "/feed.rss", "/topics/ai.json", "/")]
    assert statuses == [200, 200, 200, 200]
    warnings = [r for r in caplog.records if "shared render cache" in r.getMessage()]
    assert len(warnings) == 1


def test_redis_going_away_mid_life_does_not_break_requests(content, tmp_path):
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        app = make_app(content, f"redis://127.0.0.1:{port}/0")
        client = app.test_client()
        assert client.get("/feed.atom").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert client.get("/feed.json").status_code == 200
    assert client.get("/feed.atom").status_code == 200
