"""The nginx files in deploy/nginx/, run by a real nginx on loopback: one
serves an export (precompressed copies, media types, 304s, hidden files
refused), the other proxies to the app."""
from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import brotli
import pytest

from conftest import compressed_copies, export_with_cli, wait_for, write_config
from corpus_builder import write_article
from test_gunicorn import Server, free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "nginx"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs Debian's nginx)")


class Nginx:
    """nginx in the foreground, as this user, with one of deploy/nginx's server blocks."""

    def __init__(self, folder: Path, site: str):
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        site = re.sub(r"^\s*listen \[::\]:80;\n", "", site, flags=re.M)
        site = re.sub(r"listen 80;", f"listen 127.0.0.1:{self.port};", site)
        if not BROTLI_MODULE.exists():
            site = site.replace("brotli_static on;", "")
        (folder / "site.conf").write_text(site)
        temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in
                         ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        load = f"load_module {BROTLI_MODULE};" if BROTLI_MODULE.exists() else ""
        (folder / "nginx.conf").write_text(f"""{load}
daemon off;
master_process off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    include {folder / 'site.conf'};
}}
""")
        self.process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                                         str(folder / "error.log")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(self._listening, 10, what="nginx to listen")
        except AssertionError:
            self.stop()
            raise AssertionError("nginx did not start: " + (folder / "error.log").read_text()) from None

    def _listening(self) -> bool:
        assert self.process.poll() is None, (self.folder / "error.log").read_text()
        try:
            self.get("/healthz-probe")
            return True
        except OSError:
            return False

    def get(self, path: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name.replace("_", "-"), value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def articles(folder: Path) -> Path:
    for i in range(6):
        write_article(folder, f"a{i}.md", title=f"Story {i} about robots", webUrl=f"https://venturebeat.com/s{i}",
                      topics=["AI"], provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                      excerpt="Robots, again and again. " * 8,
                      publishedDateTime=datetime(2024, 5, 1, 8, i, tzinfo=timezone.utc))
    return folder


@pytest.fixture(scope="module")
def static(tmp_path_factory):
    base = tmp_path_factory.mktemp("nginx-static")
    # Few items per document, so that every feed has archive documents too.
    config = write_config(base / "feeds.toml", base_url="https://feeds.example.com/", items_per_feed=2,
                          items_per_archive=2)
    exported = export_with_cli(articles(base / "content"), base / "public", config)
    assert exported.code == 0, exported.err
    site = (DEPLOY / "feeds-static.conf").read_text()
    assert "root /srv/feeds/public;" in site
    server = Nginx(base / "nginx", site.replace("root /srv/feeds/public;", f"root {base / 'public'};"))
    yield server, base / "public"
    server.stop()


@pytest.mark.parametrize("path, media_type", [
    ("/feed.atom", "application/atom+xml; charset=utf-8"),
    ("/topics/ai.rss", "application/rss+xml; charset=utf-8"),
    ("/providers/venturebeat.com.json", "application/feed+json; charset=utf-8"),
    ("/feeds.opml", "text/x-opml; charset=utf-8"),
    ("/feed.html", "text/html; charset=utf-8"),
    ("/", "text/html; charset=utf-8"),
])
def test_the_static_block_serves_each_document_with_its_media_type(static, path, media_type):
    server, public = static
    status, headers, body = server.get(path)
    assert status == 200 and headers["content-type"] == media_type
    assert body == (public / (path.lstrip("/") or "index.html")).read_bytes()
    assert headers["cache-control"] == "public, max-age=300" and headers["x-content-type-options"] == "nosniff"
    assert "accept-encoding" in headers.get("vary", "").lower()
    assert headers["etag"] and headers["last-modified"]
    if media_type.startswith("text/html"):
        assert "script-src" not in headers["content-security-policy"]
        assert headers["content-security-policy"].startswith("default-src 'none'")
    else:
        assert "content-security-policy" not in headers


def test_without_hubs_the_static_block_sends_no_link_header(static):
    server, _ = static
    for path in ("/feed.atom", "/topics/ai.json", "/feed.html", "/feeds.opml"):
        status, headers, _ = server.get(path)
        assert status == 200 and "link" not in headers, path


def test_the_static_block_names_the_hubs_of_every_subscription_document(static, tmp_path):
    _, public = static
    site = (DEPLOY / "feeds-static.conf").read_text()
    hubs = '<https://hub.example/>; rel="hub", <https://hub2.example/websub>; rel="hub", '
    assert "set $websub_hubs '';" in site
    site = site.replace("root /srv/feeds/public;", f"root {public};").replace(
        "set $websub_hubs '';", f"set $websub_hubs '{hubs}';")
    server = Nginx(tmp_path / "nginx", site)
    try:
        for path in ("/feed.atom", "/topics/ai.rss", "/providers/venturebeat.com.json"):
            status, headers, _ = server.get(path)
            assert status == 200
            assert headers["link"] == f'{hubs}<https://feeds.example.com{path}>; rel="self"', path
            _, compressed, _ = server.get(path, Accept_Encoding="gzip")
            assert compressed["content-encoding"] == "gzip" and compressed["link"] == headers["link"]
        archive = "/" + sorted((public / "topics/ai/archive").glob("*.atom"))[0].relative_to(public).as_posix()
        for path in ("/feed.html", "/feeds.opml", "/", archive):  # pages, the list, archives: nobody subscribes
            status, headers, _ = server.get(path)
            assert status == 200 and "link" not in headers, path
    finally:
        server.stop()


@pytest.mark.parametrize("fmt, media_type", [
    ("atom", "application/atom+xml; charset=utf-8"), ("rss", "application/rss+xml; charset=utf-8"),
    ("json", "application/feed+json; charset=utf-8"), ("html", "text/html; charset=utf-8"),
])
def test_the_static_block_keeps_archive_documents_longer_except_each_feeds_newest(static, fmt, media_type):
    # The newest archive document still takes the items that leave the subscription
    # document: cached for a day, a walk from a fresh subscription document would skip them.
    server, public = static
    for feed in ("feed", "topics/ai", "providers/venturebeat.com"):
        subscription = (public / f"{feed}.atom").read_text()
        newest = re.search(r'<link href="https://feeds\.example\.com/([^"]+)\.atom" rel="prev-archive"',
                           subscription).group(1)
        archives = sorted((public / feed / "archive").glob(f"*.{fmt}"))
        assert len(archives) > 1 and (public / f"{newest}.{fmt}") in archives
        for archive in archives:
            path = "/" + archive.relative_to(public).as_posix()
            status, headers, body = server.get(path, Accept_Encoding="gzip")
            assert status == 200 and headers["content-type"] == media_type
            assert headers["content-encoding"] == "gzip" and body == (public / (path[1:] + ".gz")).read_bytes()
            lifetime = 300 if path == f"/{newest}.{fmt}" else 86400
            assert headers["cache-control"] == f"public, max-age={lifetime}", path
            assert headers["x-content-type-options"] == "nosniff"
            assert ("content-security-policy" in headers) == (fmt == "html")
            status, _, _ = server.get(path, If_None_Match=headers["etag"], Accept_Encoding="gzip")
            assert status == 304
    assert server.get("/.newest/" + newest)[0] == 404


@pytest.mark.parametrize("coding, suffix", [
    ("gzip", ".gz"),
    pytest.param("br", ".br", marks=pytest.mark.skipif(not BROTLI_MODULE.exists(),
                                                         reason="Debian's nginx brotli static module is not installed")),
])
def test_the_static_block_sends_the_precompressed_copy(static, coding, suffix):
    server, public = static
    _, plain, plain_body = server.get("/topics/ai.atom")
    status, headers, body = server.get("/topics/ai.atom", Accept_Encoding=coding)
    assert status == 200 and headers["content-encoding"] == coding
    assert body == (public / f"topics/ai.atom{suffix}").read_bytes()
    assert {"gzip": gzip.decompress, "br": brotli.decompress}[coding](body) == plain_body
    assert headers["etag"] != plain["etag"], "a compressed body needs its own ETag"
    again = server.get("/topics/ai.atom", Accept_Encoding=coding, If_None_Match=headers["etag"])
    assert again[0] == 304


def test_the_static_block_answers_conditional_requests_with_304(static):
    server, _ = static
    _, headers, _ = server.get("/feed.rss")
    assert server.get("/feed.rss", If_None_Match=headers["etag"])[0] == 304
    assert server.get("/feed.rss", If_Modified_Since=headers["last-modified"])[0] == 304
    assert server.get("/feed.rss", If_None_Match='"something-else"')[0] == 200


def test_head_on_the_static_block_matches_get(static):
    server, _ = static
    _, got, _ = server.get("/feed.json", Accept_Encoding="gzip")
    status, head, body = server.get("/feed.json", "HEAD", Accept_Encoding="gzip")
    assert status == 200 and body == b""
    for name in ("content-type", "content-length", "content-encoding", "etag", "last-modified"):
        assert head.get(name) == got.get(name), name


@pytest.mark.parametrize("path", ["/.feeds-manifest.json", "/.feeds-pending.json", "/feed.atom.gz", "/feed.atom.br", "/topics/",
                                  "/topics/nothing.atom", "/config.toml", "/../etc/passwd"])
def test_the_static_block_refuses_what_is_not_a_document(static, path):
    server, _ = static
    assert server.get(path)[0] in (400, 404)


def test_a_leftover_temporary_file_is_not_served(static):
    server, public = static
    (public / ".feed.atom.abc123.tmp").write_bytes(b"half written")
    assert server.get("/.feed.atom.abc123.tmp")[0] == 404


# --- in front of the app --------------------------------------------------------------------

def test_the_proxy_block_passes_codings_and_validators_through(tmp_path):
    app = Server(articles(tmp_path / "content"), workers=1, FEEDS_CACHE_DIR=str(tmp_path / "cache"))
    proxy = None
    try:
        site = (DEPLOY / "feeds-proxy.conf").read_text()
        assert "server 127.0.0.1:8000;" in site
        proxy = Nginx(tmp_path / "nginx", site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app.port};"))
        for coding in ("br", "gzip", None):
            headers = {"Accept-Encoding": coding} if coding else {}
            direct = app.request("GET", "/topics/ai.atom", headers)
            status, proxied, body = proxy.get("/topics/ai.atom", **{k.replace("-", "_"): v for k, v in headers.items()})
            assert status == 200 and body == direct[2]
            assert proxied.get("content-encoding") == direct[1].get("content-encoding") == coding
            assert proxied["etag"] == direct[1]["etag"] and proxied["vary"] == "Accept-Encoding"
            conditional = {"If_None_Match": proxied["etag"], **({"Accept_Encoding": coding} if coding else {})}
            assert proxy.get("/topics/ai.atom", **conditional)[0] == 304
        assert proxy.get("/healthz")[0] == 200
    finally:
        if proxy is not None:
            proxy.stop()
        app.stop()


def test_a_same_size_edit_gets_a_new_etag_from_the_static_block_even_within_one_second(tmp_path):
    # nginx's ETag and Last-Modified are the file's whole mtime seconds (and its
    # size): a version written in the same second as the one it replaces, with
    # the same size, would answer a poll for the old one with 304. The old file
    # is dated ahead of the clock here, which any rewrite within one second
    # amounts to: the new one must still come later.
    config = write_config(tmp_path / "feeds.toml", base_url="https://feeds.example.com/")
    content = articles(tmp_path / "content")
    public = tmp_path / "public"
    assert export_with_cli(content, public, config).code == 0
    document = public / "topics/ai.atom"
    ahead = int(time.time()) + 5
    for path in (document, *compressed_copies(public)):
        os.utime(path, (ahead, ahead))
    server = Nginx(tmp_path / "nginx", (DEPLOY / "feeds-static.conf").read_text().replace(
        "root /srv/feeds/public;", f"root {public};"))
    try:
        _, before, old_body = server.get("/topics/ai.atom")
        _, before_gzip, _ = server.get("/topics/ai.atom", Accept_Encoding="gzip")
        write_article(content, "a3.md", title="Story 3 about robotz", webUrl="https://venturebeat.com/s3",
                      topics=["AI"], provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                      excerpt="Robots, again and again. " * 8,
                      publishedDateTime=datetime(2024, 5, 1, 8, 3, tzinfo=timezone.utc))
        assert export_with_cli(content, public, config).code == 0
        status, after, new_body = server.get("/topics/ai.atom")
        assert status == 200 and len(new_body) == len(old_body) and new_body != old_body
        assert int(document.stat().st_mtime) > ahead
        assert after["etag"] != before["etag"] and after["last-modified"] != before["last-modified"]
        assert server.get("/topics/ai.atom", If_None_Match=before["etag"])[0] == 200
        assert server.get("/topics/ai.atom", If_Modified_Since=before["last-modified"])[0] == 200
        assert server.get("/topics/ai.atom", Accept_Encoding="gzip",
                          If_None_Match=before_gzip["etag"])[0] == 200
    finally:
        server.stop()
