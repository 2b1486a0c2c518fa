"""Each feed's page, for people: `/feed.html`, `/topics/<slug>.html`,
`/providers/<domain>.html`. What it shows, how it is exported and served,
how readers find the feeds on it, and how a real browser (Debian's chromium,
headless) renders it."""
from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import urllib.parse
import urllib.request
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import BASE_URL, FORMATS, check_feed, items_of
from corpus_builder import write_article
from feeds.builder.collection import collect
from feeds.read import read_articles
from feeds.records import Site
from feeds.render import render_feed, render_formats
from feeds.render.pages import feed_page, index_html
from page_reader import FEED_PAGE_TAGS, INDEX_TAGS, PageReader

UTC = timezone.utc
NOW = datetime(2024, 6, 1, tzinfo=UTC)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE_TITLE = "&lt;b&gt;Bold&lt;/b&gt; &amp; <script>alert('t')</script>\"quoted\" <i>title</i>"
HOSTILE_SUMMARY = ("&lt;img src=x onerror=alert(1)&gt; and &lt;script&gt;alert(2)&lt;/script&gt; "
                   "<a href=\"javascript:alert(3)\" onclick=\"alert(4)\">a link</a>")


def collection_of(content: Path, now: datetime = NOW):
    articles, problems = read_articles(content)
    assert problems == []
    return collect(articles, now)


@pytest.fixture
def three(content):
    """Three articles a day apart, newest first: c, b, a; b without an image,
    c with markup in its title and summary (as entities, so it survives as text)."""
    write_article(content, "a.md", title="Article a", webUrl="https://example.com/a", excerpt="About a.",
                  publishedDateTime=datetime(2024, 5, 1, 9, 0, tzinfo=UTC), topics=["AI", "Power Apps"],
                  provider={"name": "One", "domain": "one.example"},
                  images=[{"url": "https://img.example/a.jpg", "title": "A picture"}])
    write_article(content, "b.md", title="Article b", webUrl="https://example.com/b", excerpt="About b.",
                  publishedDateTime=datetime(2024, 5, 2, 9, 0, tzinfo=UTC), topics=["AI"],
                  provider={"name": "Two", "domain": "two.example"}, images=None)
    write_article(content, "c.md", title=HOSTILE_TITLE, webUrl="https://example.com/c?x=1&y=<2>",
                  excerpt=HOSTILE_SUMMARY, publishedDateTime=datetime(2024, 5, 3, 9, 0, tzinfo=UTC),
                  topics=["AI", "<img src=x onerror=alert(5)>Power Apps"],
                  provider={"name": "\"><script>alert(6)</script>One", "domain": "one.example"},
                  images=[{"url": "javascript:alert(7)"}, {"url": "https://img.example/c.png?a=1&b=2"}])
    return content


def read_page(data: bytes, url: str = "") -> PageReader:
    page = PageReader(data, url)
    assert set(page.tags) <= FEED_PAGE_TAGS, set(page.tags) - FEED_PAGE_TAGS
    assert not [a for a in page.attributes if a.startswith("on")], page.attributes
    assert b"<script" not in data.lower() and b"javascript:" not in data.lower()
    return page


# --- What a page shows --------------------------------------------------------------

def test_a_page_shows_the_feeds_items_in_the_feeds_order(three, site):
    feeds = collection_of(three).by_path()
    for path in ("feed", "topics/ai", "topics/power-apps", "providers/one.example"):
        feed = feeds[path]
        page = read_page(feed_page(feed, site), site.url(f"{path}.html"))
        shown = json.loads(render_feed(feed, "json", site))["items"]
        assert [(i["title"], i["link"]) for i in page.items] == [(i["title"], i["url"]) for i in shown], path
        assert [i["image"] for i in page.items] == [i.get("image") for i in shown], path
    page = read_page(feed_page(feeds["feed"], site), site.url("feed.html"))
    assert [i["link"] for i in page.items] == ["https://example.com/c?x=1&y=%3C2%3E", "https://example.com/b",
                                              "https://example.com/a"]


def test_a_page_names_its_feed_and_offers_the_three_formats(three, site):
    feeds = collection_of(three).by_path()
    page = read_page(feed_page(feeds["topics/power-apps"], site), site.url("topics/power-apps.html"))
    assert page.texts == {"title": "Test Feeds — Power Apps", "h1": "Power Apps"}
    assert page.feed_links() == {fmt: f"{BASE_URL}topics/power-apps.{fmt}" for fmt in FORMATS}
    assert [a["title"] for a in page.alternates] == [
        "Test Feeds — Power Apps (Atom)", "Test Feeds — Power Apps (RSS)", "Test Feeds — Power Apps (JSON Feed)"]
    subscribe = [(a["text"], a["type"], a["href"]) for a in page.links if a["type"]]
    assert subscribe == [("Atom", "application/atom+xml", "power-apps.atom"),
                         ("RSS", "application/rss+xml", "power-apps.rss"),
                         ("JSON Feed", "application/feed+json", "power-apps.json")]
    assert "../" in page.hrefs  # back to the index page
    provider = read_page(feed_page(feeds["providers/two.example"], site))
    assert provider.texts["h1"] == "Two two.example"
    main = read_page(feed_page(feeds["feed"], site))
    assert main.texts == {"title": "Test Feeds", "h1": "Test Feeds"}
    assert [a["href"] for a in main.links if a["type"]] == ["feed.atom", "feed.rss", "feed.json"]


def test_each_item_shows_its_source_date_summary_image_and_topics(three, site):
    page = read_page(feed_page(collection_of(three).main, site))
    c, b, a = page.items
    assert (a["title"], PageReader.source(a), a["date"], a["summary"], a["image"]) == (
        "Article a", "One", "2024-05-01T09:00:00+00:00", "About a.", "https://img.example/a.jpg")
    assert a["topics"] == ["topics/ai.html", "topics/power-apps.html"]
    assert b["image"] is None  # no image: none shown, no empty <img>
    assert page.images == ["https://img.example/c.png?a=1&b=2", "https://img.example/a.jpg"]
    assert 'alt="A picture"' in feed_page(collection_of(three).main, site).decode()
    assert "providers/two.example.html" in page.hrefs


def test_markup_in_content_is_shown_as_text_never_as_markup(three, site):
    page = read_page(feed_page(collection_of(three).main, site))
    c = page.items[0]
    assert c["title"] == "<b>Bold</b> & \"quoted\" title"  # tags removed; what was written as entities is text
    assert c["summary"].startswith("<img src=x onerror=alert(1)> and <script>alert(2)</script>")
    assert "onerror" not in page.attributes and "script" not in page.tags
    assert PageReader.source(c) == "\">One"


def test_an_empty_feed_has_a_page(content, site):
    page = read_page(feed_page(collection_of(content).main, site))
    assert page.items == [] and page.feed_links() == {fmt: f"{BASE_URL}feed.{fmt}" for fmt in FORMATS}
    assert b"No articles yet." in feed_page(collection_of(content).main, site)


def test_a_page_shows_only_the_newest_items_per_feed(content):
    for n in range(7):
        write_article(content, f"{n}.md", title=f"Story {n}", webUrl=f"https://example.com/{n}",
                      publishedDateTime=datetime(2024, 5, 1 + n, tzinfo=UTC))
    site = Site(title="T", base_url="https://feeds.test/", items_per_feed=3)
    page = read_page(feed_page(collection_of(content).main, site))
    assert [i["title"] for i in page.items] == ["Story 6", "Story 5", "Story 4"]


def test_the_page_is_one_more_document_of_the_feed_with_deterministic_bytes(three, site):
    feed = collection_of(three).by_path()["topics/ai"]
    together = render_formats(feed, (*FORMATS, "html"), site)
    assert together["html"] == render_feed(feed, "html", site) == feed_page(feed, site)
    again = collection_of(three, now=datetime(2030, 1, 1, tzinfo=UTC)).by_path()["topics/ai"]
    assert feed_page(again, site) == together["html"]
    for fmt in FORMATS:
        assert together[fmt] == render_feed(feed, fmt, site)


def test_every_format_names_the_page_as_its_html_alternate(three, site):
    """Atom: one text/html alternate (RFC 4287 allows one per type); RSS: the
    channel <link>; JSON Feed: home_page_url."""
    feed = collection_of(three).by_path()["providers/one.example"]
    page = f"{BASE_URL}providers/one.example.html"
    atom = check_feed(render_feed(feed, "atom", site), "atom")
    assert [(link.href, link.type) for link in atom.feed.links if link.rel == "alternate"] == [(page, "text/html")]
    assert check_feed(render_feed(feed, "rss", site), "rss").feed.link == page
    assert check_feed(render_feed(feed, "json", site), "json")["home_page_url"] == page


def test_the_index_page_links_every_feeds_page(three, site):
    collection = collection_of(three)
    index = PageReader(index_html(collection, site))
    assert set(index.tags) <= INDEX_TAGS
    for feed in collection.all_feeds():
        assert f"{feed.path}.html" in index.hrefs, feed.path
    assert [a["type"] for a in index.links if a["href"] == "topics/ai.atom"] == ["application/atom+xml"]


# --- Exported -----------------------------------------------------------------------

def test_every_feed_of_the_hostile_corpus_has_a_page_free_of_content_markup(hostile_export):
    root = hostile_export.path
    pages = sorted(root.glob("**/*.html"))
    assert len(pages) > 300  # the 300 topics of one article, and the rest
    for path in pages:
        if path.name == "index.html":
            continue
        page = read_page(path.read_bytes())
        assert all(src.startswith(("https://", "http://")) for src in page.images), path
        assert all(i["link"].startswith(("https://", "http://")) for i in page.items), path


def test_exported_pages_are_the_pages_served(tmp_path, serve):
    folder = tmp_path / "content"
    write_article(folder, "one.md", title="First story", webUrl="https://one.example/1", topics=["AI"],
                  provider={"name": "One", "domain": "one.example"})
    client = serve(folder).test_client()
    from feeds.cli import main
    assert main(["export", str(tmp_path / "out"), "--content", str(folder), "--base-url",
                 "https://news.example/"]) == 0
    for path in ("feed.html", "topics/ai.html", "providers/one.example.html", "index.html"):
        assert client.get("/" + path).data == (tmp_path / "out" / path).read_bytes(), path


def test_a_page_changes_with_its_feed_and_goes_with_it(content, export_folder, tmp_path):
    write_article(content, "a.md", title="Alpha", webUrl="https://one.example/a", topics=["AI", "Ephemeral"],
                  provider={"name": "One", "domain": "one.example"})
    write_article(content, "b.md", title="Beta", webUrl="https://two.example/b", topics=["Cloud"],
                  provider={"name": "Two", "domain": "two.example"})
    out = tmp_path / "out"
    export_folder(content, outdir=out)
    before = {p: (out / p).read_bytes() for p in ("topics/ai.html", "topics/cloud.html", "feed.html")}
    write_article(content, "a.md", title="Alpha, corrected", webUrl="https://one.example/a", topics=["AI"],
                  provider={"name": "One", "domain": "one.example"})
    export_folder(content, outdir=out)
    assert b"Alpha, corrected" in (out / "topics/ai.html").read_bytes()
    assert (out / "topics/ai.html").read_bytes() != before["topics/ai.html"]
    assert (out / "topics/cloud.html").read_bytes() == before["topics/cloud.html"]
    assert not (out / "topics/ephemeral.html").exists() and not (out / "topics/ephemeral.atom").exists()


# --- Served -------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path, serve):
    folder = tmp_path / "content"
    write_article(folder, "one.md", title="First story", webUrl="https://venturebeat.com/one",
                  topics=["AI", "AI in Finance"], provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                  publishedDateTime=datetime(2024, 5, 1, 8, 0, tzinfo=UTC))
    write_article(folder, "two.md", title="Second story", webUrl="https://example.com/two", topics=["AI"],
                  publishedDateTime=datetime(2024, 5, 2, 8, 0, tzinfo=UTC))
    return serve(folder).test_client()


@pytest.mark.parametrize("path", ["/feed.html", "/topics/ai.html", "/topics/ai-in-finance.html",
                                  "/providers/venturebeat.com.html", "/providers/example.com.html"])
def test_pages_are_served_as_utf8_html_with_the_index_pages_headers(served, path):
    response = served.get(path)
    index = served.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    for name in ("Content-Security-Policy", "Referrer-Policy", "X-Frame-Options", "X-Content-Type-Options",
                 "Cache-Control"):
        assert response.headers[name] == index.headers[name], name
    assert "script-src" not in response.headers["Content-Security-Policy"]
    etag, weak = response.get_etag()
    assert etag and not weak
    again = served.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    since = served.get(path, headers={"If-Modified-Since": response.headers["Last-Modified"]})
    assert since.status_code == 304
    head = served.head(path)
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == response.headers["ETag"]


def test_a_page_is_dated_like_its_feed(served):
    for path in ("feed", "topics/ai-in-finance"):
        page, atom = served.get(f"/{path}.html"), served.get(f"/{path}.atom")
        assert page.headers["Last-Modified"] == atom.headers["Last-Modified"], path
    assert served.get("/topics/ai-in-finance.html").headers["Last-Modified"] == "Wed, 01 May 2024 08:00:00 GMT"


@pytest.mark.parametrize("path", ["/topics/ai.htm", "/topics/unknown.html", "/providers/.html",
                                  "/topics/ai.html/x", "/feeds.html"])
def test_no_page_without_a_feed(served, path):
    assert served.get(path).status_code == 404


def test_autodiscovery_finds_every_format_of_the_pages_feed(served):
    """What a reader does with a page's address: read its <link rel="alternate">
    and subscribe to what they name."""
    for path in ("feed", "topics/ai", "providers/venturebeat.com"):
        url = f"https://news.example/{path}.html"
        page = read_page(served.get(f"/{path}.html").data, url)
        links = page.feed_links()
        assert links == {fmt: f"https://news.example/{path}.{fmt}" for fmt in FORMATS}, path
        for fmt, href in links.items():
            data = served.get(href.removeprefix("https://news.example")).data
            parsed = check_feed(data, fmt)
            home = parsed["home_page_url"] if fmt == "json" else parsed.feed.link
            assert home == url, (path, fmt)  # and back: the feed names the page
            assert [i["title"] for i in items_of(data, fmt)] == [i["title"] for i in page.items]


# --- In a real browser --------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png(width: int, height: int, top: tuple, bottom: tuple) -> bytes:
    """A vertical gradient, as a PNG."""
    rows = b"".join(b"\0" + bytes(int(a + (b - a) * y / (height - 1)) for a, b in zip(top, bottom)) * width
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class ImageHost:
    """Another origin serving images, recording what was asked for."""

    def __init__(self, files: dict[str, tuple[str, bytes]]):
        requests = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                content_type, body = files.get(self.path, ("text/plain", b"not found"))
                self.send_response(200 if self.path in files else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_host():
    host = ImageHost({"/blue.png": ("image/png", png(64, 40, (40, 90, 160), (120, 180, 230))),
                      "/orange.png": ("image/png", png(64, 40, (160, 60, 40), (240, 170, 90))),
                      "/control.html": ("text/html; charset=utf-8", CONTROL_PAGE)})
    yield host
    host.close()


@pytest.fixture
def live(tmp_path, serve, image_host):
    """The app on a real loopback port (base_url its own address), with
    articles whose images come from the image host."""
    from werkzeug.serving import make_server
    folder = tmp_path / "content"
    write_article(folder, "1.md", title="Robots learn to share aisles", webUrl="https://one.example/robots",
                  excerpt="Warehouse robots slow down near people.", topics=["AI", "Robotics"],
                  provider={"name": "Robot Weekly", "domain": "robots.example"},
                  publishedDateTime=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
                  images=[{"url": image_host.url + "blue.png", "width": 64, "height": 40}])
    write_article(folder, "2.md", title=HOSTILE_TITLE, webUrl="https://two.example/markup", excerpt=HOSTILE_SUMMARY,
                  topics=["AI"], provider={"name": "<b>Two</b>", "domain": "two.example"},
                  publishedDateTime=datetime(2024, 5, 2, 8, 0, tzinfo=UTC), images=None)
    write_article(folder, "3.md", title="A small model runs on a phone", webUrl="https://one.example/phone",
                  excerpt="Offline speech recognition on mid-range handsets.", topics=["AI"],
                  provider={"name": "Robot Weekly", "domain": "robots.example"},
                  publishedDateTime=datetime(2024, 5, 3, 8, 0, tzinfo=UTC),
                  images=[{"url": image_host.url + "orange.png"}])
    port = free_port()
    app = serve(folder, base_url=f"http://127.0.0.1:{port}/", title="Browser Feeds")
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); the browser tests need it")

    def browse(url: str, *options: str) -> tuple[str, list[str]]:
        """(the DOM after loading url, the console messages) in headless chromium."""
        command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
                   f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
                   "--virtual-time-budget=5000", "--window-size=1200,1600", *options, "--dump-dom", url]
        run = subprocess.run(command, capture_output=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"})
        assert run.returncode == 0, run.stderr.decode(errors="replace")[-3000:]
        console = [line for line in run.stderr.decode(errors="replace").splitlines() if ":CONSOLE" in line]
        return run.stdout.decode("utf-8"), console

    return browse


CONTROL_PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'none'">
<title>Control</title></head><body><img src="/blue.png" alt=""></body></html>"""


def test_the_browser_reports_what_the_page_test_looks_for(browser, image_host):
    """A CSP violation shows in what `browser` returns: its absence below means something."""
    dom, console = browser(image_host.url + "control.html")
    assert "<title>Control</title>" in dom
    assert any("Content Security Policy" in line for line in console), console
    assert "/blue.png" not in image_host.requests


def test_a_browser_shows_the_page_as_people_should_see_it(browser, live, image_host):
    url = live + "topics/ai.html"
    dom, console = browser(url)
    assert console == [], console  # no CSP violation, no error, nothing
    page = PageReader(dom.encode("utf-8"), url)
    assert page.texts["title"] == "Browser Feeds — AI"
    assert page.texts["h1"] == "AI"
    assert [i["title"] for i in page.items] == [
        "A small model runs on a phone", "<b>Bold</b> & \"quoted\" title", "Robots learn to share aisles"]
    assert [PageReader.source(i) for i in page.items] == ["Robot Weekly", "Two", "Robot Weekly"]
    assert "script" not in page.tags and not [a for a in page.attributes if a.startswith("on")]
    # Both images were fetched from their host: the page's CSP lets them through.
    assert sorted(set(image_host.requests)) == ["/blue.png", "/orange.png"]
    subscribe = {a["text"]: urllib.parse.urljoin(url, a["href"]) for a in page.links if a["type"]}
    assert subscribe == {"Atom": live + "topics/ai.atom", "RSS": live + "topics/ai.rss",
                         "JSON Feed": live + "topics/ai.json"}
    assert page.feed_links() == {"atom": subscribe["Atom"], "rss": subscribe["RSS"], "json": subscribe["JSON Feed"]}
    for fmt, href in page.feed_links().items():
        data = _read(href)
        check_feed(data, fmt)
        assert [i["title"] for i in items_of(data, fmt)] == [i["title"] for i in page.items], fmt
    assert re.search(r'<a href="\.\./">Browser Feeds</a>', dom)  # back to the index page


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_a_browser_walks_a_topics_history_through_older_and_newer_links(browser, tmp_path, serve):
    from werkzeug.serving import make_server
    folder = tmp_path / "history"
    titles = [f"Story number {n}" for n in range(7)]
    for n, title in enumerate(titles):
        write_article(folder, f"{n}.md", title=title, webUrl=f"https://one.example/{n}", topics=["AI"],
                      publishedDateTime=datetime(2024, 5, 1 + n, 8, 0, tzinfo=UTC), images=None)
    port = free_port()
    app = serve(folder, base_url=f"http://127.0.0.1:{port}/", title="Browser Feeds", items_per_feed=2,
                items_per_archive=2)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url, seen, visited = f"http://127.0.0.1:{port}/topics/ai.html", [], []
        while url:
            dom, console = browser(url)
            assert console == [], console
            page = PageReader(dom.encode("utf-8"), url)
            seen += [item["title"] for item in page.items]
            visited.append(url)
            links = {a["text"]: urllib.parse.urljoin(url, a["href"]) for a in page.links}
            heads = dict(re.findall(r'<link rel="(prev|next)" href="([^"]+)">', dom))
            if len(visited) > 1:  # an archive page leads back to the page before it
                assert links["← Newer articles"] == visited[-2] == urllib.parse.urljoin(url, heads["prev"])
            else:
                assert "← Newer articles" not in links and "prev" not in heads
            url = links.get("Older articles →")
            assert url == (urllib.parse.urljoin(visited[-1], heads["next"]) if "next" in heads else None)
        assert seen == titles[::-1]  # every article once, newest first
        assert len(visited) >= 3
    finally:
        server.shutdown()
        server.server_close()
