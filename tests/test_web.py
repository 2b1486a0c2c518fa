"""The web app, driven through Flask's test client."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import feedparser
import pytest

from corpus_builder import SECRET, write_article
from conftest import wait_for


@pytest.fixture
def content(tmp_path):
    folder = tmp_path / "content"
    write_article(folder, "one.md", title="First story", webUrl="https://venturebeat.com/one",
                  topics=["AI", "AI in Finance"], provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                  publishedDateTime=datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc))
    write_article(folder, "two.md", title="Second story", webUrl="https://example.com/two", topics=["Robotics"],
                  publishedDateTime=datetime(2024, 5, 2, 8, 0, tzinfo=timezone.utc))
    write_article(folder, "draft.md", title="Draft story", webUrl="https://example.com/draft", published=False)
    return folder


@pytest.fixture
def app(content, serve):
    return serve(content)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.mark.parametrize("path, media_type", [
    ("/feed.atom", "application/atom+xml"),
    ("/feed.rss", "application/rss+xml"),
    ("/feed.json", "application/feed+json"),
    ("/topics/ai.atom", "application/atom+xml"),
    ("/topics/ai-in-finance.rss", "application/rss+xml"),
    ("/providers/venturebeat.com.atom", "application/atom+xml"),
    ("/providers/venturebeat.com.json", "application/feed+json"),
    ("/", "text/html"),
    ("/feed.html", "text/html"),
    ("/topics/ai-in-finance.html", "text/html"),
    ("/providers/venturebeat.com.html", "text/html"),
    ("/feeds.opml", "text/x-opml"),
])
def test_every_document_is_served_with_its_media_type_and_utf8(client, path, media_type):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"{media_type}; charset=utf-8"
    assert response.data


def test_feeds_served_are_the_feeds_exported(client, content, tmp_path):
    from feeds.cli import main
    out = tmp_path / "out"
    assert main(["export", str(out), "--content", str(content), "--base-url", "https://news.example/"]) == 0
    for path in ("feed.atom", "topics/ai.rss", "providers/venturebeat.com.json", "feeds.opml", "index.html"):
        assert client.get("/" + path).data == (out / path).read_bytes(), path


def test_provider_domains_with_dots_route_to_their_feed(client):
    parsed = feedparser.parse(client.get("/providers/venturebeat.com.atom").data)
    assert [e.title for e in parsed.entries] == ["First story"]
    assert json.loads(client.get("/providers/example.com.json").data)["items"][0]["title"] == "Second story"


def test_drafts_are_not_served(client):
    titles = [item["title"] for item in json.loads(client.get("/feed.json").data)["items"]]
    assert titles == ["Second story", "First story"]


def test_strong_etag_and_last_modified_of_newest_item(client):
    response = client.get("/topics/ai.atom")
    etag, weak = response.get_etag()
    assert etag and not weak
    assert response.headers["Last-Modified"] == "Wed, 01 May 2024 08:00:00 GMT"
    assert response.headers["Cache-Control"] in ("public, max-age=300", "max-age=300, public")


@pytest.mark.parametrize("validator", ["If-None-Match", "If-Modified-Since"])
def test_unchanged_feed_answers_304_without_body(client, validator):
    first = client.get("/feed.rss")
    value = first.headers["ETag"] if validator == "If-None-Match" else first.headers["Last-Modified"]
    again = client.get("/feed.rss", headers={validator: value})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_if_none_match_wins_over_if_modified_since(client):
    first = client.get("/feed.atom")
    stale = client.get("/feed.atom", headers={"If-None-Match": '"not-the-etag"',
                                              "If-Modified-Since": first.headers["Last-Modified"]})
    assert stale.status_code == 200
    fresh = client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"],
                                              "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert fresh.status_code == 304


def test_older_if_modified_since_gets_the_feed(client):
    old = format_datetime(datetime(2024, 4, 1, tzinfo=timezone.utc), usegmt=True)
    assert client.get("/feed.atom", headers={"If-Modified-Since": old}).status_code == 200


def test_head_has_headers_and_no_body(client):
    get, head = client.get("/feed.json"), client.head("/feed.json")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


@pytest.mark.parametrize("path", [
    "/topics/unknown.atom", "/topics/ai.xml", "/topics/ai", "/providers/nowhere.example.rss",
    "/topics/unknown.html", "/feed.htm", "/feed", "/topics/.atom", "/nothing",
])
def test_unknown_feeds_and_extensions_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"Traceback" not in response.data
    assert response.headers["Cache-Control"] == "no-store"  # the feed may be published in a moment


@pytest.mark.parametrize("path", ["/topics//ai.atom", "/providers//venturebeat.com.rss", "/topics/ai//.atom",
                                  "//topics/ai.atom", "///feed.atom", "//"])
def test_doubled_slashes_name_no_document(client, path):
    """Not a permanent redirect built from the Host header (and dropping to http behind a TLS proxy)."""
    response = client.get("/", environ_overrides={"PATH_INFO": path})  # as a server passes it on
    assert response.status_code == 404
    assert "Location" not in response.headers


@pytest.mark.parametrize("path", [
    "/topics/../feed.atom", "/topics/..%2Ffeed.atom", "/topics/%2e%2e%2ffeed.atom",
    "/providers/..%2F..%2F..%2Fetc%2Fpasswd.rss", "/topics/..%5C..%5Cwsgi.py", "/../../etc/passwd",
    "/topics/%252e%252e%252ffeed.atom", "/providers/....//....//etc.atom",
])
def test_paths_that_climb_out_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert b"root:" not in response.data


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(client, method):
    response = client.open("/feed.atom", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["get", "head", "Get"])
def test_method_names_are_case_sensitive(client, method):
    """RFC 9110 §9.1: "get" is not GET, whatever a WSGI server passes on."""
    response = client.get("/feed.atom", environ_overrides={"REQUEST_METHOD": method})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_query_strings_do_not_change_the_document(client):
    plain = client.get("/topics/ai.json")
    busted = client.get("/topics/ai.json?_=12345&utm_source=reader")
    assert busted.status_code == 200
    assert busted.data == plain.data
    assert busted.headers["ETag"] == plain.headers["ETag"]


def test_polling_an_unchanged_feed_reads_it_from_the_store_once(app, client):
    documents = app.extensions["feeds"]
    reads = []
    read = documents.store.body
    documents.store.body = lambda etag: reads.append(etag) or read(etag)
    etag = client.get("/topics/ai.atom").headers["ETag"]
    for _ in range(25):
        assert client.get("/topics/ai.atom").status_code == 200
        assert client.get("/topics/ai.atom", headers={"If-None-Match": etag}).status_code == 304
        assert client.get("/topics/ai.atom?_=1").status_code == 200
    assert len(reads) <= 1


def test_an_edit_changes_only_the_feeds_showing_the_article(app, client, content):
    ai = client.get("/topics/ai.atom")
    robotics = client.get("/topics/robotics.atom")
    write_article(content, "one.md", title="First story, corrected", webUrl="https://venturebeat.com/one",
                  topics=["AI", "AI in Finance"], provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                  publishedDateTime=datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc))
    changed = wait_for(lambda: (lambda r: r.status_code == 200 and r)(
        client.get("/topics/ai.atom", headers={"If-None-Match": ai.headers["ETag"]})), what="the edit")
    assert changed.headers["ETag"] != ai.headers["ETag"]
    assert b"First story, corrected" in changed.data
    same = client.get("/topics/robotics.atom", headers={"If-None-Match": robotics.headers["ETag"]})
    assert same.status_code == 304


def test_index_page_lists_every_feed_with_autodiscovery_and_security_headers(client):
    response = client.get("/")
    page = response.data.decode()
    for href in ("feed.atom", "topics/ai.rss", "topics/ai-in-finance.json", "providers/venturebeat.com.atom"):
        assert f'href="{href}"' in page
    assert 'rel="alternate" type="application/atom+xml"' in page
    assert 'type="application/feed+json"' in page
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_markup_in_content_is_escaped_on_the_index_page(tmp_path, serve):
    folder = tmp_path / "content"
    write_article(folder, "x.md", title="x", webUrl="https://example.com/x",
                  topics=["<img src=x onerror=alert(1)> Topic"],
                  provider={"name": "\"><script>alert(1)</script>", "domain": "example.com"})
    page = serve(folder).test_client().get("/").data.decode()
    assert "<script>alert" not in page and "<img src=x" not in page


def test_opml_lists_every_feed(client):
    from lxml import etree
    root = etree.fromstring(client.get("/feeds.opml").data)
    assert root.get("version") == "2.0"
    urls = {o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")}
    assert urls == {"https://news.example/feed.atom", "https://news.example/topics/ai.atom",
                    "https://news.example/topics/ai-in-finance.atom", "https://news.example/topics/robotics.atom",
                    "https://news.example/providers/venturebeat.com.atom", "https://news.example/providers/example.com.atom"}
    assert all(o.get("htmlUrl") for o in root.iter("outline") if o.get("xmlUrl"))


def test_secured_values_never_reach_a_response(client):
    for path in ("/", "/feeds.opml", "/feed.atom", "/feed.rss", "/feed.json", "/topics/ai.json", "/feed.html",
                 "/topics/ai.html"):
        assert SECRET.encode() not in client.get(path).data


def test_plain_polls_and_conditional_requests_get_the_same_headers(client):
    plain = client.get("/topics/ai.rss")  # answered before Flask
    old = format_datetime(datetime(2020, 1, 1, tzinfo=timezone.utc), usegmt=True)
    routed = client.get("/topics/ai.rss", headers={"If-Modified-Since": old})  # through Flask
    assert routed.status_code == plain.status_code == 200
    assert dict(routed.headers) == dict(plain.headers)
    assert routed.data == plain.data


@pytest.mark.parametrize("form", ['"other", {etag}', "W/{etag}", "*", " {etag} "])
def test_if_none_match_lists_weak_tags_and_star_are_understood(client, form):
    etag = client.get("/feed.atom").headers["ETag"]
    response = client.get("/feed.atom", headers={"If-None-Match": form.format(etag=etag)})
    assert response.status_code == 304
    assert response.data == b""


def test_a_304_carries_the_validators_and_caching_headers(client):
    first = client.get("/feed.json")
    again = client.get("/feed.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    for name in ("ETag", "Last-Modified", "Cache-Control"):
        assert again.headers[name] == first.headers[name]


@pytest.mark.parametrize("path, coding", [("/feed.json", None), ("/topics/ai.atom", "gzip"), ("/feed.html", "br")])
def test_every_304_carries_the_same_headers_whichever_conditions_asked(client, path, coding):
    """A plain poll is answered from a ready 304; If-Modified-Since with it goes
    through Werkzeug, which would drop Last-Modified (RFC 9111 §4.3.4: a cache
    updates its stored headers from the 304)."""
    codings = {"Accept-Encoding": coding} if coding else {}
    first = client.get(path, headers=codings)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    answers = [client.get(path, headers={**codings, **conditions}) for conditions in (
        {"If-None-Match": etag}, {"If-None-Match": etag, "If-Modified-Since": modified},
        {"If-Modified-Since": modified}, {"If-None-Match": f'"other", {etag}'})]
    assert {answer.status_code for answer in answers} == {304}
    headers = [sorted(answer.headers.items()) for answer in answers]
    assert all(each == headers[0] for each in headers), headers
    assert dict(headers[0])["Last-Modified"] == modified and dict(headers[0])["ETag"] == etag
    assert "Content-Type" not in dict(headers[0]) and all(answer.data == b"" for answer in answers)


def test_a_failed_if_match_is_412_without_the_document_and_never_stored(client):
    """RFC 9110 §13.1.1: the method is not performed; a shared cache must not keep the answer."""
    etag = client.get("/feed.atom").headers["ETag"]
    failed = client.get("/feed.atom", headers={"If-Match": '"not-the-current-one"'})
    assert failed.status_code == 412
    assert failed.mimetype == "text/plain" and b"Precondition Failed" in failed.data
    assert b"<feed" not in failed.data
    assert failed.headers["Cache-Control"] == "no-store"
    assert client.get("/feed.atom", headers={"If-Match": etag}).status_code == 200
    assert client.get("/feed.atom", headers={"If-Match": "*"}).status_code == 200
    assert client.get("/feed.atom", headers={"If-Match": f"W/{etag}"}).status_code == 412  # compared strongly


def test_if_unmodified_since_before_the_document_is_412(client):
    """RFC 9110 §13.1.4."""
    modified = client.get("/feed.atom").headers["Last-Modified"]
    assert client.get("/feed.atom", headers={"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
                      ).status_code == 412
    assert client.get("/feed.atom", headers={"If-Unmodified-Since": modified}).status_code == 200
    assert client.get("/feed.atom", headers={"If-Unmodified-Since": "not a date"}).status_code == 200


def test_a_list_of_dates_in_if_modified_since_is_ignored(client):
    """RFC 9110 §13.1.3: a recipient must ignore it rather than read its first date."""
    modified = client.get("/feed.atom").headers["Last-Modified"]
    assert client.get("/feed.atom", headers={"If-Modified-Since": modified}).status_code == 304
    listed = client.get("/feed.atom", headers={"If-Modified-Since": f"{modified}, {modified}"})
    assert listed.status_code == 200 and listed.data
