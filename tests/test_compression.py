"""Compressed documents: negotiated by the app, precompressed beside an export."""
from __future__ import annotations

import gzip
from datetime import datetime, timezone

import brotli
import pytest

from conftest import compressed_copies, exported_files, export_with_cli, write_config
from corpus_builder import write_article

DOCUMENTS = ["/feed.atom", "/feed.rss", "/feed.json", "/feed.html", "/topics/ai.atom", "/providers/venturebeat.com.json",
             "/", "/feeds.opml"]
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda body: body}


@pytest.fixture
def content(tmp_path):
    folder = tmp_path / "content"
    for i in range(12):  # enough text for compression to matter
        write_article(folder, f"a{i}.md", title=f"Story number {i} about machine learning",
                      webUrl=f"https://venturebeat.com/story-{i}", topics=["AI"],
                      provider={"name": "VentureBeat", "domain": "venturebeat.com"},
                      excerpt="A long enough summary that repeats itself, as summaries do. " * 4,
                      publishedDateTime=datetime(2024, 5, 1, 8, i, tzinfo=timezone.utc))
    return folder


@pytest.fixture
def client(content, serve):
    return serve(content).test_client()


def get(client, path, accept=None, method="GET", **headers):
    if accept is not None:
        headers["Accept-Encoding"] = accept
    return client.open(path, method=method, headers=headers)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_each_coding_holds_the_same_document_with_its_own_etag(client, path):
    plain = get(client, path)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    etags = {plain.headers["ETag"]}
    for accept, coding in (("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br")):
        response = get(client, path, accept)
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == coding
        assert int(response.headers["Content-Length"]) == len(response.data) < len(plain.data)
        assert DECODE[coding](response.data) == plain.data
        assert response.headers["Content-Type"] == plain.headers["Content-Type"]
        assert response.headers["Last-Modified"] == plain.headers["Last-Modified"]
        etags.add(response.headers["ETag"])
    assert len(etags) == 3, "identity, brotli and gzip each need their own strong ETag"
    assert all(not etag.startswith("W/") for etag in etags)


@pytest.mark.parametrize("accept", [None, "", "identity", "gzip", "br", "*", "gzip;q=0, br;q=0"])
def test_every_document_response_varies_on_accept_encoding(client, accept):
    for path in DOCUMENTS:
        assert get(client, path, accept).headers.get("Vary") == "Accept-Encoding", (path, accept)


@pytest.mark.parametrize("accept, coding", [
    (None, None), ("identity", None), ("deflate", None), ("zstd", None),
    ("gzip", "gzip"), ("x-gzip", "gzip"), ("GZIP", "gzip"),
    ("br", "br"), ("gzip, br", "br"), ("br;q=0.5, gzip", "gzip"), ("br;q=0.5, gzip;q=0.8", "gzip"),
    ("*", "br"), ("*;q=0", None), ("gzip;q=0, br;q=0", None), ("br;q=0, *", "gzip"),
    ("gzip;q=0.5, identity", None), ("gzip, identity;q=0", "gzip"),
])
def test_the_best_coding_the_client_accepts_is_sent(client, accept, coding):
    response = get(client, "/feed.atom", accept)
    assert response.headers.get("Content-Encoding") == coding
    assert b"<feed" in DECODE[coding](response.data)


@pytest.mark.parametrize("coding", ["br", "gzip", None])
def test_a_coding_s_etag_gives_304_for_that_coding(client, coding):
    accept = coding or "identity"
    etag = get(client, "/feed.atom", accept).headers["ETag"]
    again = get(client, "/feed.atom", accept, If_None_Match=etag)
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in again.headers and "Content-Length" not in again.headers
    # In a list with another validator (Werkzeug's path rather than the shortcut): the same answer.
    listed = get(client, "/feed.atom", accept, If_None_Match=f'"other", {etag}')
    assert listed.status_code == 304 and listed.headers["ETag"] == etag


def test_the_etag_of_one_coding_does_not_validate_another(client):
    plain = get(client, "/feed.atom").headers["ETag"]
    response = get(client, "/feed.atom", "gzip", If_None_Match=plain)
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert response.headers["ETag"] != plain


@pytest.mark.parametrize("accept", [None, "gzip", "br"])
def test_head_answers_what_get_would(client, accept):
    got, head = get(client, "/topics/ai.rss", accept), get(client, "/topics/ai.rss", accept, method="HEAD")
    assert head.status_code == 200 and head.data == b""
    for name in ("Content-Type", "Content-Length", "Content-Encoding", "ETag", "Last-Modified", "Vary",
                 "Cache-Control"):
        assert head.headers.get(name) == got.headers.get(name), name


def test_a_new_version_has_new_etags_for_every_coding(client, content):
    from conftest import wait_for
    before = {accept: get(client, "/topics/ai.atom", accept).headers["ETag"] for accept in ("identity", "gzip", "br")}
    write_article(content, "new.md", title="A newer story", webUrl="https://venturebeat.com/newer", topics=["AI"],
                  publishedDateTime=datetime(2024, 6, 1, tzinfo=timezone.utc))
    wait_for(lambda: b"A newer story" in get(client, "/topics/ai.atom").data, 15, what="the new article")
    for accept, etag in before.items():
        response = get(client, "/topics/ai.atom", accept)
        assert response.headers["ETag"] != etag
        assert b"A newer story" in DECODE[response.headers.get("Content-Encoding")](response.data)
        assert get(client, "/topics/ai.atom", accept, If_None_Match=etag).status_code == 200


# --- export -------------------------------------------------------------------------------

@pytest.fixture
def exported(content, tmp_path):
    config = write_config(tmp_path / "feeds.toml", base_url="https://news.example/")
    done = export_with_cli(content, tmp_path / "out", config)
    assert done.code == 0, done.err
    return done


def test_every_exported_document_has_gz_and_br_copies_of_exactly_its_bytes(exported):
    documents = [path for path in exported.files() if not path.name.startswith(".")]
    copies = compressed_copies(exported.path)
    assert len(copies) == 2 * len(documents) > 0
    for document in documents:
        data = document.read_bytes()
        assert gzip.decompress(document.with_name(document.name + ".gz").read_bytes()) == data
        assert brotli.decompress(document.with_name(document.name + ".br").read_bytes()) == data
    assert not (exported.path / ".feeds-manifest.json.gz").exists()


def test_exported_copies_are_the_same_bytes_every_time(exported, content, tmp_path):
    config = write_config(tmp_path / "again.toml", base_url="https://news.example/")
    again = export_with_cli(content, tmp_path / "again", config, "--no-cache")
    assert again.code == 0, again.err
    first = {path.relative_to(exported.path): path.read_bytes() for path in compressed_copies(exported.path)}
    second = {path.relative_to(again.path): path.read_bytes() for path in compressed_copies(again.path)}
    assert first and first == second


def test_a_deleted_copy_is_written_again(exported, content, tmp_path):
    (exported.path / "feed.atom.br").unlink()
    config = write_config(tmp_path / "feeds.toml", base_url="https://news.example/")
    again = export_with_cli(content, exported.path, config)
    assert again.code == 0, again.err
    assert brotli.decompress((exported.path / "feed.atom.br").read_bytes()) == (exported.path / "feed.atom").read_bytes()
