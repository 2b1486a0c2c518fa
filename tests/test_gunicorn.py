"""The app as it runs in production: `gunicorn wsgi:app` on a loopback port,
with files changing underneath it."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from corpus_builder import write_article

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, content: Path, workers: int = 2, threads: int = 2, reload_interval: float = 0.3,
                 options: tuple[str, ...] = ("--access-logfile", "-"), port: int | None = None, **env):
        self.port = port or free_port()
        self.content = content
        environment = {**os.environ, "FEEDS_CONTENT": str(content), "FEEDS_RELOAD_INTERVAL": str(reload_interval),
                       "FEEDS_BASE_URL": f"http://127.0.0.1:{self.port}/", **env}
        environment.pop("FEEDS_CONFIG", None)
        self.log = open(content.parent / "gunicorn.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--threads", str(threads), *options, "wsgi:app"],
            cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/")[0] == 200:  # 503 until the builder's first build is in the store
                    return
            except OSError:
                pass
            time.sleep(0.1)
        output = self.output()
        self.stop()
        raise RuntimeError("gunicorn did not start: " + output[-5000:])

    def request(self, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def get_json(self, path: str) -> tuple[str, list[str]]:
        status, headers, body = self.request("GET", path)
        if status != 200:
            return "", []
        return headers["etag"], [item["title"] for item in json.loads(body)["items"]]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def content(tmp_path):
    folder = tmp_path / "content"
    write_article(folder, "base.md", title="Base story", webUrl="https://venturebeat.com/base", topics=["AI"],
                  provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                  publishedDateTime=datetime(2024, 1, 1, tzinfo=timezone.utc))
    return folder


@pytest.fixture
def server(content):
    server = Server(content)
    yield server
    server.stop()


def test_gunicorn_serves_every_kind_of_document(server):
    for path, media_type in [("/feed.atom", "application/atom+xml"), ("/feed.rss", "application/rss+xml"),
                             ("/topics/ai.json", "application/feed+json"), ("/", "text/html"),
                             ("/providers/venturebeat.com.atom", "application/atom+xml"),
                             ("/feeds.opml", "text/x-opml")]:
        status, headers, body = server.request("GET", path)
        assert status == 200, path
        assert headers["content-type"] == f"{media_type}; charset=utf-8"
        assert body


def test_gunicorn_conditional_get_head_and_errors(server):
    status, headers, body = server.request("GET", "/topics/ai.atom")
    assert status == 200
    for validator in ({"If-None-Match": headers["etag"]}, {"If-Modified-Since": headers["last-modified"]}):
        status, again, body = server.request("GET", "/topics/ai.atom", validator)
        assert (status, body) == (304, b"")
        assert again["etag"] == headers["etag"]
    status, head, body = server.request("HEAD", "/topics/ai.atom")
    assert (status, body) == (200, b"")
    assert head["etag"] == headers["etag"]
    assert server.request("GET", "/topics/none.atom")[0] == 404
    assert server.request("GET", "/topics/ai.exe")[0] == 404
    assert server.request("POST", "/topics/ai.atom")[0] == 405
    for climb in ("/topics/../../etc/passwd", "/topics/..%2F..%2Fetc%2Fpasswd.atom", "/providers/%2e%2e/wsgi.py",
                  "/providers/..%252f..%252fetc.rss", "/..%2f..%2fetc/passwd"):
        status, _, body = server.request("GET", climb)
        assert status in (400, 404), climb
        assert b"root:" not in body and b"Traceback" not in body


def test_new_edited_and_removed_articles_show_up_without_restart(server, content):
    first_etag, titles = server.get_json("/topics/ai.json")
    assert titles == ["Base story"]
    new = write_article(content, "new.md", title="Breaking story", webUrl="https://venturebeat.com/new",
                        topics=["AI"], publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))
    etag, titles = wait_for(lambda: (r := server.get_json("/topics/ai.json"))[1] == ["Breaking story", "Base story"] and r)
    assert titles == ["Breaking story", "Base story"]
    assert etag != first_etag
    new.unlink()
    etag_after, titles = wait_for(lambda: (r := server.get_json("/topics/ai.json"))[1] == ["Base story"] and r)
    assert titles == ["Base story"]
    assert etag_after not in (etag, "")


def test_an_article_dated_ahead_appears_at_its_time_with_no_file_change(server, content):
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    write_article(content, "soon.md", title="Embargoed story", webUrl="https://venturebeat.com/soon",
                  topics=["AI"], publishedDateTime=due)
    time.sleep(1.0)  # past several re-scans: the file is known to the server
    assert server.get_json("/topics/ai.json")[1] == ["Base story"]
    while datetime.now(timezone.utc) < due - timedelta(seconds=0.5):  # an answer must be back before due
        assert "Embargoed story" not in server.get_json("/topics/ai.json")[1]
        time.sleep(0.2)
    # No file changed since; every worker must publish it on its own clock.
    titles = wait_for(lambda: (t := server.get_json("/topics/ai.json")[1]) == ["Embargoed story", "Base story"] and t,
                      timeout=10)
    assert titles == ["Embargoed story", "Base story"]
