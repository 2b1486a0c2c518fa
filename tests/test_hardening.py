"""What every bot on the internet may send: the server answers with a clean
4xx, never a 500, never a stack trace or an internal path, and never leaks a
`secured` value into a response or a log line."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from conftest import SecretScanner
from corpus_builder import SECRET, write_article, write_hostile_corpus
from test_gunicorn import Server

LEAKS = (b"Traceback", b"File \"", b"site-packages", b"/work/", b"/tmp/", b"werkzeug", b"Werkzeug")


def raw_request(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (no client-side normalisation) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def get(path: bytes, headers: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + headers + b"\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_corpus):
    root = tmp_path_factory.mktemp("hardening")
    content = root / "content"
    write_hostile_corpus(content)
    shutil.copytree(shared_corpus, content / "news")
    server = Server(content)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secrets(server) -> SecretScanner:
    import yaml
    values = [SECRET]
    for path in Path(server.content).rglob("*.md"):
        text = path.read_bytes().decode("utf-8", "replace")
        if "secured:" in text:
            for line in text.splitlines():
                if line.startswith("secured:"):
                    values.append(yaml.safe_load(line.partition(":")[2]) or "")
    return SecretScanner([v for v in values if isinstance(v, str) and len(v) > 20])


ODD_REQUESTS = {
    "very long path": get(b"/topics/" + b"a" * 20000 + b".atom"),
    "long path under the line limit": get(b"/topics/" + b"a" * 3000 + b".atom"),
    "huge header": get(b"/feed.atom", b"X-Junk: " + b"x" * 100000 + b"\r\n"),
    "many headers": get(b"/feed.atom", b"".join(b"X-H%d: v\r\n" % i for i in range(500))),
    "header without colon": get(b"/feed.atom", b"NoColonHere\r\n"),
    "NUL in path": get(b"/topics/a%00b.atom"),
    "raw NUL in path": get(b"/topics/a\x00b.atom"),
    "invalid UTF-8 in path": get(b"/topics/%ff%fe%fd.atom"),
    "raw high bytes in path": get(b"/topics/\xff\xfe.atom"),
    "CRLF injection": get(b"/topics/a%0d%0aSet-Cookie:%20x=1.atom"),
    "encoded traversal": get(b"/topics/..%2f..%2f..%2fetc%2fpasswd"),
    "double-encoded traversal": get(b"/providers/%252e%252e%252f%252e%252e%252fetc%252fpasswd.rss"),
    "backslash traversal": get(b"/topics/..\\..\\wsgi.py"),
    "absolute URI": b"GET http://evil.example/feed.atom HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    "asterisk target": b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "unknown method": b"BREW /feed.atom HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "TRACE": b"TRACE /feed.atom HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "DELETE": b"DELETE /feed.atom HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    "POST with body": b"POST /feed.atom HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    "garbage request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",
    "HTTP/0.9 style": b"GET /feed.atom\r\n\r\n",
    "bad version": b"GET /feed.atom HTTP/9.9\r\nHost: localhost\r\n\r\n",
    "malformed If-None-Match": get(b"/feed.atom", b"If-None-Match: \"unterminated, W/\r\n"),
    "malformed If-Modified-Since": get(b"/feed.atom", b"If-Modified-Since: not a date at all\r\n"),
    "far-future If-Modified-Since": get(b"/feed.atom", b"If-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT\r\n"),
    "Range request": get(b"/feed.atom", b"Range: bytes=0-10,5-1,999999-\r\n"),
    "odd query string": get(b"/feed.atom?%ff%00=%zz&&=&a[]=1"),
    "chunked GET body": b"GET /feed.atom HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("name", list(ODD_REQUESTS))
def test_odd_requests_get_a_clean_answer_never_a_500(server, name):
    response = raw_request(server.port, ODD_REQUESTS[name])
    if response:  # a server may also just close a connection that is not HTTP at all
        status = status_of(response)
        assert status < 500, f"{name}: {response[:300]!r}"
        for leak in LEAKS:
            assert leak not in response, f"{name} leaked {leak!r}"
        assert b"Set-Cookie" not in response.split(b"\r\n\r\n")[0]


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"CONNECT", b"PROPFIND"])
def test_only_get_and_head_are_allowed(server, method):
    response = raw_request(server.port, method + b" /feed.atom HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
                                                  b"Connection: close\r\n\r\n")
    assert status_of(response) in (400, 405), response[:200]


def test_query_strings_are_ignored(server):
    plain = server.request("GET", "/feed.rss")
    busted = server.request("GET", "/feed.rss?_=1700000000&utm_source=x&utm_medium=y")
    assert busted[0] == 200
    assert busted[2] == plain[2]
    assert busted[1]["etag"] == plain[1]["etag"]


def test_the_index_page_forbids_scripts_and_sniffing(server):
    status, headers, body = server.request("GET", "/")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert b"<script" not in body.lower()


def test_no_secured_value_reaches_a_response_or_the_log(server, secrets):
    paths = ["/", "/index.html", "/feeds.opml", "/feed.atom", "/feed.rss", "/feed.json", "/nothing",
             "/topics/ai.atom", "/topics/ai.json", "/topics/power-apps.rss", "/providers/example.com.json"]
    for path in paths:
        status, headers, body = server.request("GET", path)
        assert secrets.leak_in(body) is None, path
        assert secrets.leak_in(repr(headers)) is None, path
    for name, request in ODD_REQUESTS.items():
        assert secrets.leak_in(raw_request(server.port, request)) is None, name
    log = server.output()
    assert "skipped" in log, "the server should have reported the bad fixture files"
    assert secrets.leak_in(log) is None
    assert "Traceback" not in log
