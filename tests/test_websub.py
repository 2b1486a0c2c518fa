"""WebSub: every feed names its hubs (Atom and RSS links, JSON Feed `hubs`,
HTTP Link headers), the builder tells the hubs about exactly the feed
documents a change rewrote, once, in the background, and a real hub
(flask-websub's, with its Celery worker on a real redis-server) delivers a
new article to a subscriber."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conftest import BASE_URL, FORMATS, SITE_TITLE, check_feed, run_cli, write_config
from corpus_builder import write_article
from feeds import pool
from feeds.builder import websub
from feeds.builder.websub import Pinger
from feeds.config import load_config
from test_gunicorn import Server, free_port, wait_for
from test_servers import _connects

TESTS = Path(__file__).resolve().parent
REDIS = shutil.which("redis-server")


# --- helpers ------------------------------------------------------------------

class FakeHub:
    """A hub endpoint that records every request and answers with the next
    of `statuses` (then 204), after `delay` seconds."""

    def __init__(self, statuses=(), delay: float = 0.0, credentials: str = "", gate: threading.Event | None = None):
        self.requests: list[tuple[float, dict, dict]] = []  # (monotonic time, form, headers)
        self.statuses, self.delay, self.gate = list(statuses), delay, gate
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept-alive connections, as real hubs allow

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hub.lock:
                    hub.requests.append((time.monotonic(), parse_qs(body.decode("ascii")), dict(self.headers)))
                    status = hub.statuses.pop(0) if hub.statuses else 204
                if hub.delay:
                    time.sleep(hub.delay)
                if hub.gate is not None:  # no answer until the test opens the gate
                    hub.gate.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        prefix = f"{credentials}@" if credentials else ""
        self.url = f"http://{prefix}127.0.0.1:{self.server.server_port}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def topics(self) -> list[str]:
        with self.lock:
            return [form["hub.url"][0] for _, form, _ in self.requests]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    hub = FakeHub()
    yield hub
    hub.close()


@pytest.fixture(autouse=True)
def _builders_in_this_process(monkeypatch):
    """Builders with hubs run threads and turn forking off for the process;
    the pingers of `feeds export` run in-process are stopped after each test,
    so that none logs into another test's output."""
    monkeypatch.setattr(pool, "FORK_IS_SAFE", pool.FORK_IS_SAFE)
    made: list[Pinger] = []

    class Stopped(Pinger):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(websub, "Pinger", Stopped)
    yield
    for pinger in made:
        pinger.close()


class LogLines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines():
    handler = LogLines()
    logger = logging.getLogger("feeds")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def two_feeds(folder: Path) -> None:
    write_article(folder, "ai.md", title="Models", webUrl="https://venturebeat.com/models", topics=["AI"],
                  provider={"name": "VentureBeat", "domain": "venturebeat.com"})
    write_article(folder, "space.md", title="Rockets", webUrl="https://other.org/rockets", topics=["Space"],
                  provider={"name": "Other", "domain": "other.org"})


def urls(base: str, *paths: str) -> set[str]:
    return {f"{base}{path}.{fmt}" for path in paths for fmt in FORMATS}


EVERY_FEED = ("feed", "topics/ai", "topics/space", "providers/venturebeat.com", "providers/other.org")
AI_CHANGE = ("feed", "topics/ai", "providers/venturebeat.com")  # an article about AI from VentureBeat


def export(content: Path, outdir: Path, config: Path, *extra):
    run = run_cli("export", outdir, "--content", content, "--config", config, "--quiet", *extra)
    assert run.code == 0, run.output
    return run


# --- documents ------------------------------------------------------------------

def test_hubs_are_linked_from_every_feed_and_nothing_else_changes(tmp_path, content, hub):
    two_feeds(content)
    # One item per subscription document: the main feed's other article is in its archive.
    plain = write_config(tmp_path / "plain.toml", title=SITE_TITLE, base_url=BASE_URL, items_per_feed=1)
    secret_hub = FakeHub(credentials="publisher:s3cr3t")
    hubs = [hub.url, secret_hub.url]
    shown = [hub.url, secret_hub.url.replace("publisher:s3cr3t@", "")]
    with_hubs = write_config(tmp_path / "hubs.toml", title=SITE_TITLE, base_url=BASE_URL, websub_hubs=hubs,
                             items_per_feed=1)
    export(content, tmp_path / "plain", plain)
    export(content, tmp_path / "hubs", with_hubs)
    try:
        for path in EVERY_FEED:
            for fmt in FORMATS:
                before = (tmp_path / "plain" / f"{path}.{fmt}").read_bytes()
                after = (tmp_path / "hubs" / f"{path}.{fmt}").read_bytes()
                assert b"s3cr3t" not in after
                parsed = check_feed(after, fmt)
                if fmt == "json":
                    assert parsed["hubs"] == [{"type": "WebSub", "url": url} for url in shown]
                    assert list(parsed)[:5] == ["version", "title", "home_page_url", "feed_url", "hubs"]
                    del parsed["hubs"]
                    assert (json.dumps(parsed, ensure_ascii=False, separators=(",", ":")) + "\n").encode() == before
                    continue
                # feedparser sees the hub links of Atom, and RSS's atom:link ones.
                assert [link.href for link in parsed.feed.links if link.rel == "hub"] == shown
                lines = after.decode().splitlines(keepends=True)
                hub_lines = [line for line in lines if 'rel="hub"' in line]
                prefix = "atom:link" if fmt == "rss" else "link"
                assert [line.strip() for line in hub_lines] == [f'<{prefix} href="{url}" rel="hub"/>' for url in shown]
                self_line = next(i for i, line in enumerate(lines) if 'rel="self"' in line)
                assert lines[self_line + 1:self_line + 1 + len(shown)] == hub_lines  # next to the self link
                # Without the hub lines, the very bytes of the export without hubs.
                assert "".join(line for line in lines if line not in hub_lines).encode() == before
        for page in ("index.html", "feeds.opml", "topics/ai.html"):
            assert (tmp_path / "hubs" / page).read_bytes() == (tmp_path / "plain" / page).read_bytes()
        # Nobody subscribes to an archive document: none names a hub (a subscription there would never hear).
        archives = sorted(path.relative_to(tmp_path / "hubs") for path in (tmp_path / "hubs").rglob("archive/*")
                          if path.suffix in (".atom", ".rss", ".json"))
        assert [path.parent.as_posix() for path in archives] == ["feed/archive"] * len(FORMATS)
        for path in archives:
            assert (tmp_path / "hubs" / path).read_bytes() == (tmp_path / "plain" / path).read_bytes(), path
        assert b'rel="hub"' not in (tmp_path / "plain" / "feed.atom").read_bytes()
    finally:
        secret_hub.close()


def test_hubs_from_the_file_or_the_environment(tmp_path, content):
    as_list = write_config(tmp_path / "a.toml", title=SITE_TITLE, websub_hubs=["https://a.example/hub", "https://b.example/"])
    as_text = write_config(tmp_path / "b.toml", title=SITE_TITLE, websub_hubs="https://a.example/hub  https://b.example/")
    assert load_config(as_list, environ={}).hubs == ("https://a.example/hub", "https://b.example/")
    assert load_config(as_text, environ={}).hubs == ("https://a.example/hub", "https://b.example/")
    assert load_config(as_text, environ={"FEEDS_WEBSUB_HUBS": "https://c.example/"}).hubs == ("https://c.example/",)
    assert load_config(as_text, environ={}).site.hubs == ("https://a.example/hub", "https://b.example/")
    assert load_config(environ={}).hubs == ()
    secret = load_config(environ={"FEEDS_WEBSUB_HUBS": "https://me:pw@hub.example/p"})
    assert secret.hubs == ("https://me:pw@hub.example/p",)  # to publish with
    assert secret.site.hubs == ("https://hub.example/p",)  # to show
    bad = write_config(tmp_path / "c.toml", title=SITE_TITLE, websub_hubs=["ftp://me:pw@hub.example/"])
    run = run_cli("export", tmp_path / "out", "--content", content, "--config", bad)
    assert run.code == 2
    assert "websub_hubs" in run.err and "ftp://hub.example/" in run.err and "pw" not in run.err


# --- what is pinged, and when -------------------------------------------------------

def test_export_pings_exactly_the_changed_feeds_once(tmp_path, content, hub):
    two_feeds(content)
    config = write_config(tmp_path / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL, websub_hubs=[hub.url])
    out = tmp_path / "out"
    export(content, out, config)
    # A plain export waits for its pings before it exits: all are in already.
    assert Counter(hub.topics()) == Counter(urls(BASE_URL, *EVERY_FEED))
    for _, form, headers in hub.requests:
        assert form["hub.mode"] == ["publish"] and form["hub.topic"] == form["hub.url"]
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    hub.clear()
    export(content, out, config)  # warm: nothing changed, nothing written, no ping
    assert hub.topics() == []
    write_article(content, "more-ai.md", title="More models", webUrl="https://venturebeat.com/more", topics=["AI"],
                  provider={"name": "VentureBeat", "domain": "venturebeat.com"})
    export(content, out, config)
    assert Counter(hub.topics()) == Counter(urls(BASE_URL, *AI_CHANGE))


def test_the_store_builder_pings_the_documents_with_a_new_etag(tmp_path, content, hub):
    two_feeds(content)
    config = write_config(tmp_path / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL, websub_hubs=[hub.url],
                          cache_dir=str(tmp_path / "cache"))

    def build() -> Counter:
        hub.clear()
        # A process of its own, as a server's builder is: pings sent before it exits.
        run = subprocess.run([sys.executable, "-m", "feeds", "build", "--content", str(content), "--config", str(config),
                              "--quiet"], cwd=TESTS.parent, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "websub" not in run.stderr, run.stderr
        return Counter(hub.topics())

    assert build() == Counter(urls(BASE_URL, *EVERY_FEED))
    assert build() == Counter()  # no change, no ping
    # Front matter no feed shows: the same documents, the same ETags, no ping.
    write_article(content, "space.md", title="Rockets", webUrl="https://other.org/rockets", topics=["Space"],
                  provider={"name": "Other", "domain": "other.org"}, quality=12)
    assert build() == Counter()
    write_article(content, "ai.md", title="Models, revised", webUrl="https://venturebeat.com/models", topics=["AI"],
                  provider={"name": "VentureBeat", "domain": "venturebeat.com"})
    assert build() == Counter(urls(BASE_URL, *AI_CHANGE))


def test_a_live_server_pings_once_per_change_whatever_its_workers(tmp_path, hub):
    content = tmp_path / "content"
    two_feeds(content)
    server = Server(content, workers=3, FEEDS_WEBSUB_HUBS=hub.url)
    base = f"http://127.0.0.1:{server.port}/"
    try:
        # The builder's first build: every feed, once.
        wait_for(lambda: len(hub.topics()) >= 15, timeout=30)
        time.sleep(1.0)
        assert Counter(hub.topics()) == Counter(urls(base, *EVERY_FEED))
        status, headers, _ = server.request("GET", "/topics/ai.json")
        assert status == 200
        assert headers["link"] == f'<{hub.url}>; rel="hub", <{base}topics/ai.json>; rel="self"'
        assert "link" not in server.request("GET", "/topics/ai.html")[1]
        hub.clear()
        write_article(content, "more-ai.md", title="More models", webUrl="https://venturebeat.com/more",
                      topics=["AI"], provider={"name": "VentureBeat", "domain": "venturebeat.com"})
        assert wait_for(lambda: len(hub.topics()) >= 9, timeout=30), server.output()[-3000:]
        time.sleep(1.5)  # anything more would be a duplicate
        assert Counter(hub.topics()) == Counter(urls(base, *AI_CHANGE))
    finally:
        server.stop()


# --- failures, retries, the exit wait -------------------------------------------------

def test_a_dead_hub_is_logged_and_the_export_does_not_wait(tmp_path, content):
    two_feeds(content)
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"http://publisher:s3cr3t@127.0.0.1:{port}/hub"
    config = write_config(tmp_path / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL, websub_hubs=[dead])
    started = time.monotonic()
    run = export(content, tmp_path / "out", config)
    assert time.monotonic() - started < 4.0
    lines = [line for line in run.err.splitlines() if "websub" in line]
    assert lines and all(f"websub hub http://127.0.0.1:{port}/hub:" in line for line in lines), run.err
    assert "connection refused" in run.err and "not sent" in run.err
    assert "s3cr3t" not in run.err and "publisher" not in run.err
    assert (tmp_path / "out" / "feed.atom").is_file()


@pytest.mark.parametrize("command", ["export", "build"])
def test_pings_a_builder_could_not_send_are_sent_by_the_next_one_once(tmp_path, content, hub, command):
    """A builder that stops (or dies) before its hubs took its pings leaves them,
    recorded with the version they announce, to the next builder of the same
    export folder or store, which sends them once."""
    two_feeds(content)
    config = write_config(tmp_path / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL, websub_hubs=[hub.url],
                          cache_dir=str(tmp_path / "cache"))
    dead, live = True, False

    def run(down: bool) -> Counter:
        hub.clear()
        hub.statuses = [503] * 1000 if down else []  # down: every ping refused, tried again until the builder stops
        where = [str(tmp_path / "out")] if command == "export" else []
        done = subprocess.run([sys.executable, "-m", "feeds", command, *where, "--content", str(content),
                               "--config", str(config), "--quiet"], cwd=TESTS.parent, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return Counter() if down else Counter(hub.topics())

    run(dead)  # every feed written; no hub took a ping
    assert run(live) == Counter(urls(BASE_URL, *EVERY_FEED))  # nothing changed: the leftovers, once each
    assert run(live) == Counter()  # and never again
    write_article(content, "more-ai.md", title="More models", webUrl="https://venturebeat.com/more", topics=["AI"],
                  provider={"name": "VentureBeat", "domain": "venturebeat.com"})
    run(dead)
    write_article(content, "space.md", title="Rockets, again", webUrl="https://other.org/rockets", topics=["Space"],
                  provider={"name": "Other", "domain": "other.org"})
    # The change the dead hub missed, and the one made since.
    assert run(live) == Counter(urls(BASE_URL, *AI_CHANGE, "topics/space", "providers/other.org"))


def test_a_hub_that_never_answers_holds_an_export_a_bounded_time(tmp_path, content, monkeypatch):
    two_feeds(content)
    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    monkeypatch.setattr(websub, "EXIT_WAIT", 1.0)
    config = write_config(tmp_path / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL,
                          websub_hubs=[f"http://127.0.0.1:{silent.getsockname()[1]}/hub"])
    try:
        started = time.monotonic()
        run = export(content, tmp_path / "out", config)
        # Bounded by the exit wait, not by the 10 s a hub has to answer one request.
        assert time.monotonic() - started < websub.EXIT_WAIT + websub.CLOSE_WAIT + 5.0 < websub.TIMEOUT
        assert "15 feed URLs not sent (no answer in time)" in run.err, run.err
        # Its pings are over: nothing of that export sends or logs anything once it has returned.
        assert [thread for thread in threading.enumerate() if thread.name == "feeds-websub"] == []
    finally:
        silent.close()


def test_failed_pings_are_retried_with_backoff(log_lines):
    hub = FakeHub(statuses=[503, 503])
    pinger = Pinger([hub.url], first_delay=0.1, max_delay=1.0)
    try:
        pinger.notify(["https://feeds.test/feed.atom"])
        assert wait_for(lambda: len(hub.requests) >= 3, timeout=10)
        times = [when for when, _, _ in hub.requests]
        assert times[1] - times[0] >= 0.1 * 0.9
        assert times[2] - times[1] >= 0.2 * 0.9  # doubled
        assert pinger.flush(5)
        assert wait_for(lambda: any("taking pings again" in line for line in log_lines), timeout=10)
        assert hub.topics() == ["https://feeds.test/feed.atom"] * 3
        warnings = [line for line in log_lines if hub.url in line]
        assert warnings[0] == (f"websub hub {hub.url}: HTTP 503 Service Unavailable; "
                               "1 feed URLs to send again in 0.1 s, then backing off")
        assert warnings[1:] == [f"websub hub {hub.url}: taking pings again"]
    finally:
        pinger.close()
        hub.close()


def test_a_hub_that_keeps_failing_is_given_up_then_tried_again_for_the_next_change(log_lines):
    hub = FakeHub(statuses=[500] * 6)
    pinger = Pinger([hub.url], attempts=3, first_delay=0.02)
    try:
        pinger.notify(["https://feeds.test/feed.rss", "https://feeds.test/feed.json"])
        assert wait_for(lambda: any("gave up" in line for line in log_lines), timeout=10)
        assert Counter(hub.topics()) == {"https://feeds.test/feed.rss": 3, "https://feeds.test/feed.json": 3}
        assert f"websub hub {hub.url}: gave up on 2 feed URLs after 3 tries (last: HTTP 500 Internal Server Error)" \
            in log_lines
        hub.clear()
        pinger.notify(["https://feeds.test/topics/ai.atom"])  # sent when the backoff ends
        assert wait_for(lambda: hub.topics() == ["https://feeds.test/topics/ai.atom"], timeout=10)
        assert pinger.flush(5)
    finally:
        pinger.close()
        hub.close()


def test_pings_go_out_in_the_background_and_flush_waits_for_them():
    gate = threading.Event()
    hub = FakeHub(gate=gate)
    pinger = Pinger([hub.url])
    try:
        pinger.notify([f"https://feeds.test/topics/t{n}.atom" for n in range(5)])  # returns, the hub silent
        assert wait_for(lambda: len(hub.requests) == 1)
        assert pinger.flush(0.2) is False  # the first still waits for its answer
        gate.set()
        assert pinger.flush(10)
        assert hub.topics() == [f"https://feeds.test/topics/t{n}.atom" for n in range(5)]  # in order, once each
        # Several hubs, each on its own: a slow one does not hold up another.
        other = FakeHub()
        both = Pinger([hub.url, other.url])
        both.notify(["https://feeds.test/feed.atom"])
        assert both.flush(5) and other.topics() == ["https://feeds.test/feed.atom"]
        both.close()
        other.close()
    finally:
        pinger.close()
        hub.close()


def test_hub_credentials_are_sent_and_never_shown(log_lines):
    hub = FakeHub(credentials="publisher:s%40cret", statuses=[503])
    pinger = Pinger([hub.url], first_delay=0.05)
    try:
        pinger.notify(["https://feeds.test/feed.atom"])
        assert wait_for(lambda: len(hub.requests) >= 2, timeout=10)
        expected = "Basic " + base64.b64encode(b"publisher:s@cret").decode()
        assert all(headers["Authorization"] == expected for _, _, headers in hub.requests)
        assert log_lines and not any("cret" in line or "publisher" in line for line in log_lines)
    finally:
        pinger.close()
        hub.close()


# --- a real hub ------------------------------------------------------------------------

class Subscriber:
    """A WebSub subscriber's callback: answers the hub's verification of
    intent and keeps every content distribution it receives."""

    def __init__(self):
        self.verified: list[dict] = []
        self.received: list[tuple[str, dict, bytes]] = []  # (callback path, headers, body)
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                subscriber.verified.append({"path": urlsplit(self.path).path, **query})
                body = query.get("hub.challenge", "").encode()
                self.send_response(200 if query.get("hub.mode") == "subscribe" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                subscriber.received.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _post(port: int, path: str, form: dict) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=urlencode(form),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _answers(port: int) -> bool:
    try:
        return _post(port, "/hub", {}) == 400  # the hub endpoint, refusing an empty request
    except OSError:
        return False


@pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (.ci/run installs Debian's)")
def test_a_websub_hub_delivers_a_new_article_to_its_subscribers(tmp_path):
    pytest.importorskip("flask_websub", reason="flask-websub is not installed (pip install -e '.[test]')")
    pytest.importorskip("celery", reason="celery is not installed (pip install -e '.[test]')")
    from flask_websub.hub import SQLite3HubStorage

    processes: list[subprocess.Popen] = []
    log = open(tmp_path / "hub.log", "w+")

    def start(*command: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=TESTS, env={**_environment(), **env}, stdout=log,
                                   stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    def hub_log() -> str:
        log.flush()
        log.seek(0)
        return log.read()[-5000:]

    redis_port, hub_port = free_port(), free_port()
    start(REDIS, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
          "--dir", str(tmp_path))
    hub_env = {"HUB_BROKER": f"redis://127.0.0.1:{redis_port}/0", "HUB_DB": str(tmp_path / "hub.sqlite")}
    subscriber = Subscriber()
    server = None
    try:
        assert wait_for(lambda: _connects(redis_port), timeout=10), "redis-server did not start"
        start(sys.executable, "-m", "celery", "-A", "websub_hub:celery", "worker", "--pool=solo",
              "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", **hub_env)
        start(sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{hub_port}", "--workers", "1",
              "--threads", "4", "websub_hub:app", **hub_env)
        assert wait_for(lambda: _answers(hub_port), timeout=30), hub_log()
        hub_url = f"http://127.0.0.1:{hub_port}/hub"

        content = tmp_path / "content"
        two_feeds(content)
        server = Server(content, workers=2, FEEDS_WEBSUB_HUBS=hub_url)
        base = f"http://127.0.0.1:{server.port}/"
        topics = {"/atom": f"{base}topics/ai.atom", "/json": f"{base}feed.json"}
        secret = "a secret only the hub and the subscriber know"
        storage = SQLite3HubStorage(str(tmp_path / "hub.sqlite"))
        for callback, topic in topics.items():
            assert _post(hub_port, "/hub", {"hub.mode": "subscribe", "hub.topic": topic, "hub.secret": secret,
                                            "hub.callback": subscriber.url + callback}) == 202
        # The hub verifies each subscriber's intent, then keeps the subscription.
        for callback, topic in topics.items():
            assert wait_for(lambda: list(storage.get_callbacks(topic)), timeout=30), hub_log()
        assert {(v["path"], v["hub.topic"]) for v in subscriber.verified} == set(topics.items())

        write_article(content, "news.md", title="Delivered by the hub", webUrl="https://venturebeat.com/delivered",
                      topics=["AI"], provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                      publishedDateTime=datetime(2024, 6, 1, tzinfo=timezone.utc))

        def delivered(callback: str):
            for path, headers, body in subscriber.received:
                if path == callback and b"Delivered by the hub" in body:
                    return headers, body
            return None

        for callback, fmt in (("/atom", "atom"), ("/json", "json")):
            found = wait_for(lambda: delivered(callback), timeout=60)
            assert found, hub_log() + server.output()[-3000:]
            headers, body = found
            parsed = check_feed(body, fmt)
            newest = parsed.entries[0].title if fmt == "atom" else parsed["items"][0]["title"]
            assert newest == "Delivered by the hub"
            # Authenticated content distribution: signed with the subscriber's secret.
            algorithm, _, signature = headers["X-Hub-Signature"].partition("=")
            assert signature == hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
            # The hub relays the feed's Link headers: its hubs and its own URL.
            assert f'<{topics[callback]}>; rel="self"' in headers["Link"]
            assert f'<{hub_url}>; rel="hub"' in headers["Link"]
    finally:
        if server is not None:
            server.stop()
        subscriber.close()
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _environment() -> dict:
    return {name: value for name, value in os.environ.items() if not name.startswith("FEEDS_")}

