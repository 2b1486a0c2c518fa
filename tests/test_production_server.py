"""The production server, started exactly as `make run` starts it (the
Makefile's SERVER, printed by `make server-command`), on a free loopback port.

What a user would notice: hundreds of clients that open a connection and send
part of a request, or nothing, do not keep anyone else from being answered;
the app's builder process is one per store and ends with the server; the
README's production command is the Makefile's.
"""
from __future__ import annotations

import http.client
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import wait_for
from test_gunicorn import Server, content, free_port  # noqa: F401 - the same content fixture and client
from test_servers import _alive, builders, children_of, one_builder

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 5.0  # seconds a normal request may take while slow clients hang on: a behaviour check, not a benchmark
SLOW, IDLE = 300, 100  # connections that send part of a request and stop, and connections that send nothing


def production_command(port: int) -> list[str]:
    """The command `make run` runs, with PORT and this interpreter's scripts folder."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    printed = subprocess.run([make, "-s", "--no-print-directory", "server-command", f"PORT={port}",
                              f"BIN={Path(sys.executable).parent}"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return shlex.split(printed)


class ProductionServer(Server):
    """test_gunicorn's Server (request, get_json, output) around the production command,
    in a session of its own so that nothing it started can outlive the test."""

    def __init__(self, content: Path, command: list[str] | None = None, reload_interval: float = 0.3, **env):
        self.port = free_port()
        self.content = content
        environment = {**os.environ, "FEEDS_CONTENT": str(content), "FEEDS_RELOAD_INTERVAL": str(reload_interval),
                       "FEEDS_BASE_URL": f"http://127.0.0.1:{self.port}/", **env}
        environment.pop("FEEDS_CONFIG", None)
        self.command = command or production_command(self.port)
        self.log = open(content.parent / "server.log", "w+")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=environment, stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(self._serving, 60, 0.1, "the first 200 from the production server")
        except AssertionError:
            output = self.output()
            self.stop()
            raise AssertionError("the production server did not start: " + output[-5000:]) from None

    def _serving(self) -> bool:
        assert self.process.poll() is None, "the server exited: " + self.output()[-3000:]
        try:
            return self.request("GET", "/")[0] == 200  # 503 until the builder's first build is in the store
        except OSError:
            return False

    def workers(self) -> list[int]:
        return [pid for pid in children_of(self.process.pid) if pid not in builders()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:  # anything of the session still there (there should be nothing)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


@pytest.fixture
def production(content, tmp_path):
    server = ProductionServer(content, FEEDS_CACHE_DIR=str(tmp_path / "cache"))
    yield server
    server.stop()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request on a new connection; fails past DEADLINE seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _enough_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"{needed} open files needed, the limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@contextmanager
def slow_clients(port: int, slow: int = SLOW, idle: int = IDLE):
    """`slow` connections that send part of a request line or of the headers and
    stop there, and `idle` ones that send nothing; all open until the block ends."""
    _enough_files(slow + idle + 200)
    partial = [b"GET /feed.atom HT",  # a request line cut short
               b"GET /feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow",  # headers cut short
               b"GET /feed.atom HTTP/1.1\r\nHost: 127.0.0.1\r\n"]  # headers never ended
    sockets = []
    try:
        for number in range(slow + idle):
            sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
            if number < slow:
                sock.sendall(partial[number % len(partial)])
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def test_the_production_server_serves_the_app_with_one_builder_that_ends_with_it(production):
    for path, media_type in [("/", "text/html"), ("/feed.atom", "application/atom+xml"),
                             ("/topics/ai.json", "application/feed+json")]:
        status, headers, body = production.request("GET", path)
        assert status == 200, path
        assert headers["content-type"] == f"{media_type}; charset=utf-8"
        assert body
    status, headers, body = production.request("GET", "/feed.atom")
    assert production.request("GET", "/feed.atom", {"If-None-Match": headers["etag"]})[0] == 304
    assert production.request("GET", "/healthz")[0] == 200

    workers = production.workers()
    assert len(workers) == 2, production.command  # the Makefile's --workers 2
    time.sleep(2)  # every worker's supervisor has looked at least once more
    builder = one_builder(production)
    assert Path(f"/proc/{builder}/stat").read_text().rsplit(")", 1)[1].split()[1] in map(str, workers)

    production.process.send_signal(signal.SIGTERM)
    production.process.wait(timeout=30)
    wait_for(lambda: not any(_alive(pid) for pid in [builder, *workers]), 15,
             what="the workers and the builder to end with the server")
    assert "GET /feed.atom" in production.output(), "the access log is on"


def test_a_killed_worker_is_replaced_and_so_is_its_builder(production, content):
    builder = one_builder(production)
    owner = int(Path(f"/proc/{builder}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(owner, signal.SIGKILL)
    wait_for(lambda: not _alive(builder), 15, what="the builder to end with its worker")
    wait_for(lambda: len(production.workers()) == 2 and owner not in production.workers(), 30,
             what="a new worker")
    replacement = one_builder(production)
    assert replacement != builder
    assert production.request("GET", "/feed.atom")[0] == 200


def test_slow_and_idle_clients_do_not_stall_normal_requests(production):
    status, headers, body = get(production.port, "/feed.atom")
    assert status == 200 and body
    with slow_clients(production.port) as hanging:
        for _ in range(5):
            status, again, same = get(production.port, "/feed.atom")
            assert (status, same, again["etag"]) == (200, body, headers["etag"])
            status, again, empty = get(production.port, "/feed.atom", {"If-None-Match": headers["etag"]})
            assert (status, empty, again["etag"]) == (304, b"", headers["etag"])
            assert get(production.port, "/healthz")[0] == 200
        # a keep-alive client is answered too, request after request
        connection = http.client.HTTPConnection("127.0.0.1", production.port, timeout=DEADLINE)
        for _ in range(20):
            connection.request("GET", "/feed.atom", headers={"If-None-Match": headers["etag"]})
            response = connection.getresponse()
            assert (response.status, response.read()) == (304, b"")
        connection.close()
        # and the slow clients still hold their connections: nothing was refused to make room
        assert sum(_open(sock) for sock in hanging) == len(hanging)


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True  # nothing to read, not closed
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def test_oversized_requests_are_refused_and_the_server_goes_on(production):
    def status_of(request: bytes) -> int:
        with socket.create_connection(("127.0.0.1", production.port), timeout=DEADLINE) as sock:
            sock.sendall(request)
            head = sock.recv(64)
        return int(head.split(b" ", 2)[1])

    # the documented limits: a request line and headers of at most 16 KiB, at most 100 header fields
    assert status_of(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 15_000 + b"\r\n\r\n") == 200
    assert status_of(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17_000 + b"\r\n\r\n") == 431
    assert status_of(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\n"
                     + b"".join(b"X-%d: 1\r\n" % n for n in range(98)) + b"\r\n") == 200
    assert status_of(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\n"
                     + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n") == 431
    assert status_of(b"GET /feed.atom?" + b"a" * 17_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n") in (414, 431)
    assert status_of(b"\x16\x03\x01 not http\r\n\r\n") == 400
    assert get(production.port, "/feed.atom")[0] == 200


@pytest.mark.slow
def test_a_connection_that_does_not_finish_its_request_is_closed_after_the_header_timeout(production):
    timeout = int(re.search(r"--http1-header-read-timeout (\d+)", " ".join(production.command)).group(1)) / 1000
    with slow_clients(production.port, slow=30, idle=30) as hanging:
        started = time.monotonic()
        wait_for(lambda: not any(_open(sock) for sock in hanging), timeout + 15, 0.5,
                 "slow and idle connections to be closed")
        assert time.monotonic() - started >= timeout - 1


def test_the_readme_gives_the_makefile_production_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"granian (--interface wsgi[^`]*?wsgi:app)", readme)
    assert shown, "README.md shows no granian command"
    options = " ".join(production_command(8000)).split(" --interface ", 1)[1]
    strip = lambda text: re.sub(r"--host \S+ ", "", re.sub(r"\s*\\\n\s*", " ", text))  # noqa: E731
    assert strip(shown.group(1)) == strip("--interface " + options)
