"""Load with live content churn: a real `gunicorn wsgi:app` (2 workers, 4
threads) polled by keep-alive clients while article files are added, edited
and deleted every 100 ms, atomically and the way editors do it (in place,
half-written for a moment).

Every answer must be a 200 with a complete, valid document or a correct 304:
one whose ETag is the validator the client sent and a version that some 200
for that URL carried, with the same bytes every time. No 5xx, no dropped
connection, no Last-Modified later than the response's Date, no traceback in
the server's log, and once the churn stops the feeds show exactly what the
folder holds. Two small tests below pin down If-Modified-Since and
Last-Modified cases the load brought up.

Slow: run with `pytest -m slow tests/test_load_churn.py -s`; FEEDS_LOAD_SECONDS
sets the duration of the load (default 60).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import check_feed_files, items_of
from corpus_builder import article_text, expected_articles, expected_feeds, mismatch, write_article
from test_gunicorn import ROOT, Server, free_port

# Read at import: the isolation fixture removes FEEDS_* variables before each test.
LOAD_SECONDS = float(os.environ.get("FEEDS_LOAD_SECONDS", "60"))
LOAD_SEED = int(os.environ.get("FEEDS_LOAD_SEED", "0"))  # 0: a random seed, printed in the summary
CLIENTS = 8
CHURN_PERIOD = 0.1  # seconds between file operations
RELOAD_INTERVAL = 0.25
FUTURE_AHEAD = 4.0  # an article dated ahead goes public at most this long after it is written
MIN_REQUESTS_PER_SECOND = 25  # far below what even a slow machine does; proves the load ran

TOPICS = ["AI", "Robotics", "Climate", "Markets"]
EPHEMERAL_TOPIC = "Ephemeral Topic"  # only churned articles carry it: its feed comes and goes
PROVIDERS = [("VentureBeat", "venturebeat.com"), ("Example Org", "example.org"), ("Wire", "news.example.net")]

FEED_PATHS = (["feed"] * 3 + ["topics/ai", "topics/robotics", "topics/climate", "topics/ephemeral-topic",
                                "providers/venturebeat.com", "providers/example.org"])
URLS = [f"/{path}.{fmt}" for path in FEED_PATHS for fmt in ("atom", "rss", "json")] + ["/", "/index.html",
                                                                                       "/feeds.opml"]
MAY_BE_MISSING = {f"/topics/ephemeral-topic.{fmt}" for fmt in ("atom", "rss", "json")}

# How a client asks (weights): what a poller population does.
MODES = {
    "plain": 25,  # no validator
    "inm": 40,  # If-None-Match: the last ETag this client saw for the URL
    "inm+ims": 10,  # both; If-None-Match decides
    "ims": 5,  # If-Modified-Since only
    "inm-old": 8,  # an ETag the URL had earlier in the test (any client's)
    "inm-list": 7,  # "older", "last" — a list goes through Flask, not the fast path
    "inm-bogus": 5,  # a validator that was never an ETag: must get a 200
}


def url_format(url: str) -> str:
    return "html" if url in ("/", "/index.html") else url.rpartition(".")[2]


def digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class LoadServer(Server):
    """test_gunicorn.Server, with more threads and no access log (the log is
    then the application's own: reloads, skipped files, errors)."""

    def __init__(self, content: Path, workers: int = 2, threads: int = 4, port: int | None = None, **env):
        super().__init__(content, workers, threads, RELOAD_INTERVAL, ("--keep-alive", "5"), port, **env)

    def stop(self) -> str:
        """Stop the server; its whole log, shutdown included."""
        if not self.log.closed:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.final_log = self.output()
            self.log.close()
        return self.final_log


# --- The content and its churn ----------------------------------------------

def write_base(content: Path) -> None:
    """Articles that never change: every polled feed but the ephemeral topic always exists."""
    for i in range(8):
        name, domain = PROVIDERS[i % 2]
        write_article(content, f"base/b{i}.md", title=f"Base story {i}", webUrl=f"https://{domain}/base/{i}",
                      topics=[TOPICS[i % len(TOPICS)], TOPICS[(i + 1) % len(TOPICS)]],
                      provider={"name": name, "domain": domain},
                      publishedDateTime=datetime(2024, 1, 1 + i, 8, i, i, tzinfo=timezone.utc))


@dataclass
class Churn:
    """Adds, edits and deletes article files every CHURN_PERIOD until `stop` is set."""

    content: Path
    tmp: Path  # outside the content folder
    seed: int
    stop: threading.Event = field(default_factory=threading.Event)
    ops: Counter = field(default_factory=Counter)
    error: BaseException | None = None
    changed_at: list[float] = field(default_factory=list)  # monotonic time of each completed change
    last_due: datetime = datetime(1970, 1, 1, tzinfo=timezone.utc)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.names = [f"churn/c{i:02d}.md" for i in range(24)] + [f"c{i:02d}.md" for i in range(8)]
        self.present: dict[str, int] = {}  # name -> generation
        self.dates: dict[str, datetime] = {}

    def run(self) -> None:
        try:
            next_at = time.monotonic()
            while not self.stop.is_set():
                self.step()
                self.changed_at.append(time.monotonic())
                next_at += CHURN_PERIOD
                self.stop.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def step(self) -> None:
        rng = self.rng
        absent = [n for n in self.names if n not in self.present]
        roll = rng.random()
        # Around two thirds of the names present: adds and deletes balance there.
        if absent and (not self.present or roll < 0.25 + 0.2 * len(absent) / len(self.names)):
            name = rng.choice(absent)
            self.present[name] = 0
            self.dates[name] = datetime(2024, 2, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(30_000_000))
            self.write(name, "add")
        elif self.present and roll < 0.8:
            name = rng.choice(sorted(self.present))
            self.present[name] += 1
            self.write(name, "edit")
        else:
            name = rng.choice(sorted(self.present))
            del self.present[name]
            (self.content / name).unlink()
            self.ops["delete"] += 1

    def text(self, name: str) -> str:
        rng = self.rng
        generation = self.present[name]
        stem = name.rpartition("/")[2].removesuffix(".md")
        provider_name, domain = rng.choice(PROVIDERS)
        fields = dict(
            title=rng.choice([f"Churned {stem} v{generation}",
                              f"<b>Churned</b> {stem} & “v{generation}” — Zürich 東京"]),
            excerpt=" ".join(rng.choice(["alpha", "beta", "<i>gamma</i>", "delta", "é", "&amp;"])
                             for _ in range(rng.choice([5, 50, 800]))),
            topics=rng.sample(TOPICS + [EPHEMERAL_TOPIC], rng.randint(1, 3)),
            provider={"name": provider_name, "domain": domain},
            webUrl=f"https://{domain}/churn/{stem}",
            publishedDateTime=self.dates[name],
        )
        roll = rng.random()
        if roll < 0.1:
            # Updated later, but not in the future: Last-Modified must not run ahead of the clock
            # (test_last_modified_is_never_in_the_future covers an updatedDateTime ahead).
            updated = self.dates[name] + timedelta(hours=rng.randint(1, 500))
            fields["updatedDateTime"] = min(updated, datetime.now(timezone.utc).replace(microsecond=0)
                                            - timedelta(seconds=1))
        elif roll < 0.15:
            fields["published"] = False  # a draft
        elif roll < 0.2:
            # Dated a few seconds ahead: every worker publishes it at that moment, with no file change.
            due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=rng.uniform(1, FUTURE_AHEAD))
            fields["publishedDateTime"] = self.dates[name] = due
            self.last_due = max(self.last_due, due)
            self.ops["future"] += 1
        elif roll < 0.25:
            fields["webUrl"] = "https://venturebeat.com/base/0"  # the same link as a base article
            self.ops["duplicate-link"] += 1
        text = article_text(**fields)
        if rng.random() < 0.03:
            text = text[: len(text) // 2]  # stays broken until the next edit
            self.ops["broken"] += 1
        return text

    def write(self, name: str, op: str) -> None:
        path = self.content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.text(name).encode("utf-8")
        roll = self.rng.random()
        if roll < 0.3:
            # A hidden temporary name in the same folder, then rename (what careful tools do).
            temp = path.with_name(f".{path.name}.{self.rng.randrange(1 << 30):x}.tmp")
            temp.write_bytes(data)
            os.replace(temp, path)
            self.ops[f"{op} atomic"] += 1
        elif roll < 0.6:
            # A temporary file outside the content folder, then rename.
            temp = self.tmp / f"{path.name}.tmp"
            temp.write_bytes(data)
            os.replace(temp, path)
            self.ops[f"{op} atomic"] += 1
        else:
            # In place, as editors do: truncated, then half written for a moment.
            cut = self.rng.randrange(1, len(data))
            with open(path, "wb") as file:
                file.write(data[:cut])
                file.flush()
                time.sleep(self.rng.uniform(0.0, 0.04))
                file.write(data[cut:])
            self.ops[f"{op} in place"] += 1


# --- The load ----------------------------------------------------------------

@dataclass
class Record:
    url: str
    mode: str
    sent: tuple[str, ...]  # ETags sent in If-None-Match
    cached: str | None  # the ETag of the copy this client held
    status: int
    etag: str | None
    body: str | None  # digest of a 200's body


@dataclass
class Load:
    port: int
    bodies: Path  # every distinct 200 body is written here once, validated after the run
    seed: int
    records: list[list[Record]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ahead: list[str] = field(default_factory=list)  # responses whose Last-Modified is later than their Date
    history: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # url -> ETags seen in 200s
    seen_bodies: dict[str, tuple[str, str]] = field(default_factory=dict)  # digest -> (fmt, url)

    def __post_init__(self):
        self.lock = threading.Lock()

    def client(self, number: int, stop_at: float) -> None:
        rng = random.Random(self.seed * 1000 + number)
        mine: list[Record] = []
        self.records.append(mine)
        cache: dict[str, tuple[str, str | None]] = {}  # url -> (ETag, Last-Modified) of its last 200
        modes, weights = zip(*MODES.items())
        connection = None
        while time.monotonic() < stop_at:
            url = rng.choice(URLS)
            mode = rng.choices(modes, weights)[0]
            held = cache.get(url)
            headers, sent = {}, ()
            if mode != "plain" and held is None:
                mode = "plain"
            if mode in ("inm", "inm+ims"):
                sent = (held[0],)
            elif mode == "inm-old":
                sent = (rng.choice(self.history[url]),)
            elif mode == "inm-list":
                sent = (rng.choice(self.history[url]), held[0])
            elif mode == "inm-bogus":
                sent = (f'"{rng.getrandbits(128):032x}"',)
            if sent:
                headers["If-None-Match"] = ", ".join(sent)
            if mode in ("inm+ims", "ims"):
                if held[1] is None:
                    mode = "inm" if sent else "plain"
                else:
                    headers["If-Modified-Since"] = held[1]
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
                connection.putrequest("GET", url, skip_accept_encoding=True)
                for name, value in headers.items():
                    connection.putheader(name, value)
                connection.endheaders()
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.errors.append(f"client {number}: GET {url} ({mode}): {type(error).__name__}: {error}")
                if connection is not None:
                    connection.close()
                connection = None
                continue
            status, etag = response.status, response.getheader("ETag")
            if response.will_close:
                connection.close()
                connection = None
            record = Record(url, mode, sent, held[0] if held else None, status, etag, None)
            if status == 200:
                record.body = digest(body)
                self.check_200(record, response, body)
                if etag:
                    cache[url] = (etag, response.getheader("Last-Modified"))
            if status in (200, 304):
                self.check_dates(url, status, response)
            if status == 304 and body:
                self.errors.append(f"{url}: a 304 with a body of {len(body)} bytes")
            mine.append(record)
        if connection is not None:
            connection.close()

    def check_dates(self, url: str, status: int, response) -> None:
        """RFC 9110 8.8.2.1: an origin server with a clock MUST NOT send a
        Last-Modified later than the time of the message (its Date)."""
        modified, date = response.getheader("Last-Modified"), response.getheader("Date")
        if modified and date and parsedate_to_datetime(modified) > parsedate_to_datetime(date):
            self.ahead.append(f"{status} for {url}: Last-Modified {modified}, Date {date}")

    def check_200(self, record: Record, response, body: bytes) -> None:
        url, fmt = record.url, url_format(record.url)
        problems = []
        if not record.etag:
            problems.append("no ETag")
        if response.getheader("Content-Length") != str(len(body)):
            problems.append(f"Content-Length {response.getheader('Content-Length')} for {len(body)} bytes")
        if not (response.getheader("Content-Type") or "").startswith(
                {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json",
                 "html": "text/html", "opml": "text/x-opml"}[fmt]):
            problems.append(f"Content-Type {response.getheader('Content-Type')}")
        if problems:
            self.errors.append(f"200 for {url}: {'; '.join(problems)}")
        with self.lock:
            if record.etag and record.etag not in self.history[url]:
                self.history[url].append(record.etag)
            if record.body not in self.seen_bodies:
                self.seen_bodies[record.body] = (fmt, url)
                (self.bodies / f"{record.body}.{fmt}").write_bytes(body)

    def run(self, seconds: float) -> None:
        stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=self.client, args=(n, stop_at), name=f"load-{n}", daemon=True)
                   for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 60)
        assert not any(t.is_alive() for t in threads), "a load client did not stop"

    def all_records(self) -> list[Record]:
        return [record for mine in self.records for record in mine]


# --- Checking what was received ----------------------------------------------

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Balanced(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.seen_end_html = False

    def handle_starttag(self, tag, attrs):
        if tag not in VOID_ELEMENTS:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.open[-1] if self.open else 'nothing'}>")
        else:
            self.open.pop()
        self.seen_end_html |= tag == "html"


def html_problem(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8: {error}"
    if not text.lstrip().lower().startswith("<!doctype html>"):
        return "no doctype"
    parser = _Balanced()
    parser.feed(text)
    parser.close()
    if parser.errors or parser.open or not parser.seen_end_html:
        return f"unbalanced: {parser.errors[:3]}, left open {parser.open}"
    return None


def opml_problem(data: bytes) -> str | None:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        return f"not XML: {error}"
    if root.tag != "opml" or not any(o.get("xmlUrl") for o in root.iter("outline")):
        return "no OPML outlines"
    return None


def invalid_bodies(load: Load) -> list[str]:
    feeds = [(load.bodies / f"{name}.{fmt}", fmt) for name, (fmt, _) in load.seen_bodies.items()
             if fmt in ("atom", "rss", "json")]
    problems = check_feed_files(feeds)
    for name, (fmt, url) in load.seen_bodies.items():
        check = {"html": html_problem, "opml": opml_problem}.get(fmt)
        if check and (problem := check((load.bodies / f"{name}.{fmt}").read_bytes())):
            problems.append(f"{url} ({name}): {problem}")
    return problems


def converged(server: LoadServer, content: Path) -> list[str]:
    """Why the feeds, asked on fresh connections (both workers), do not show
    exactly what the folder holds now; empty if they do."""
    expected = expected_feeds(expected_articles(content), datetime.now(timezone.utc))
    problems = []
    for path in ("feed", "topics/ai", "topics/climate", "providers/venturebeat.com"):
        for fmt in ("json", "atom"):
            for _ in range(3):
                status, _, body = server.request("GET", f"/{path}.{fmt}")
                if status != 200:
                    problems.append(f"/{path}.{fmt}: {status}")
                    continue
                actual = [(item["link"], item["published"]) for item in items_of(body, fmt)]
                if why := mismatch(actual, expected.get(path, [])):
                    problems.append(f"/{path}.{fmt}: {why}")
    return problems


# --- The test ----------------------------------------------------------------

@pytest.mark.slow
def test_polling_under_load_while_articles_change(tmp_path):
    seed = LOAD_SEED or random.randrange(1 << 30)
    content = tmp_path / "content"
    write_base(content)
    (tmp_path / "bodies").mkdir()
    (tmp_path / "tmp").mkdir()
    server = LoadServer(content)
    churn = Churn(content, tmp_path / "tmp", seed)
    load = Load(server.port, tmp_path / "bodies", seed)
    churner = threading.Thread(target=churn.run, name="churn", daemon=True)
    started = time.monotonic()
    try:
        churner.start()
        load.run(LOAD_SECONDS)
        churn.stop.set()
        churner.join(10)
        assert not churner.is_alive(), "the churn thread did not stop"
        elapsed = time.monotonic() - started

        # The last change is picked up by every worker within a few re-scans,
        # and articles dated ahead are all due by then.
        wait_until = max(time.monotonic() + 4 * RELOAD_INTERVAL,
                         time.monotonic() + (churn.last_due - datetime.now(timezone.utc)).total_seconds() + 1)
        time.sleep(max(0.0, wait_until - time.monotonic()))
        for _ in range(20):
            if not (stale := converged(server, content)):
                break
            time.sleep(0.5)
    finally:
        churn.stop.set()
        log = server.stop()
    tail = "\n--- gunicorn log (tail) ---\n" + "\n".join(log.splitlines()[-40:])
    assert churn.error is None, f"churn failed: {churn.error!r}"

    records = load.all_records()
    statuses = Counter(r.status for r in records)
    etags_by_url = {url: set(etags) for url, etags in load.history.items()}
    bodies_by_version: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        if r.status == 200:
            bodies_by_version[(r.url, r.etag)].add(r.body)
    statuses_by_mode = defaultdict(Counter)
    for r in records:
        statuses_by_mode[r.mode][r.status] += 1
    changes_seen = sum(1 for r in records if r.status == 200 and r.mode in ("inm", "inm+ims") and r.etag != r.sent[0])
    # If-Modified-Since alone: a 304 naming a version first seen after the
    # client's copy told that client its older copy was current (reported
    # here; asserted by test_if_modified_since_alone_does_not_hide_a_change).
    order = {url: {etag: n for n, etag in enumerate(etags)} for url, etags in load.history.items()}
    other_ims = sum(1 for r in records if r.status == 304 and r.mode == "ims" and r.etag != r.cached)
    stale_ims = sum(1 for r in records if r.status == 304 and r.mode == "ims" and r.etag != r.cached
                    and order[r.url].get(r.etag, len(order[r.url])) > order[r.url][r.cached])
    skipped = log.count(" skipped ")
    summary = (f"load: {elapsed:.0f} s (seed {seed}), {len(records)} requests ({len(records) / elapsed:.0f}/s) "
               f"on {CLIENTS} keep-alive clients; statuses {dict(sorted(statuses.items()))}; "
               f"modes {dict(Counter(r.mode for r in records))}; "
               f"distinct ETags per URL {dict(sorted((u, len(e)) for u, e in etags_by_url.items()))}; "
               f"200s with a new ETag for a validating client: {changes_seen}; "
               f"304s to If-Modified-Since alone: {statuses_by_mode['ims'][304]}, naming another version "
               f"{other_ims}, a newer one (the client's copy was out of date) {stale_ims}; "
               f"churn {sum(v for k, v in churn.ops.items() if k.startswith(('add', 'edit', 'delete')))} operations "
               f"{dict(sorted(churn.ops.items()))}; files skipped by the server (log): {skipped}; "
               f"distinct bodies validated: {len(load.seen_bodies)}; Last-Modified later than Date: {len(load.ahead)}")
    print("\n" + summary)

    assert not load.errors, f"{len(load.errors)} client errors, first: {load.errors[:5]}\n{summary}{tail}"
    server_errors = [r for r in records if r.status >= 500]
    assert not server_errors, f"{len(server_errors)} 5xx, first: {server_errors[:5]}\n{summary}{tail}"
    unexpected = [r for r in records if r.status not in (200, 304) and not (r.status == 404 and r.url in MAY_BE_MISSING)]
    assert not unexpected, f"{len(unexpected)} unexpected statuses, first: {unexpected[:5]}\n{summary}{tail}"
    assert "Traceback" not in log, f"a traceback in the server's log\n{summary}\n{log[-8000:]}"

    # One ETag, one body: a strong validator never names two different documents.
    mixed = {key: bodies for key, bodies in bodies_by_version.items() if len(bodies) > 1}
    assert not mixed, f"ETags with different bodies: {list(mixed.items())[:3]}\n{summary}"

    # Every 304 is for a version the client really held, and that version is real.
    wrong_304 = []
    for r in records:
        if r.status != 304:
            continue
        if r.mode == "ims":
            continue  # no ETag sent: see test_if_modified_since_alone_does_not_hide_a_change
        if r.mode == "inm-bogus" or r.etag not in r.sent or r.etag not in etags_by_url.get(r.url, ()):
            wrong_304.append(r)
    assert not wrong_304, f"{len(wrong_304)} wrong 304s, first: {wrong_304[:5]}\n{summary}{tail}"

    invalid = invalid_bodies(load)
    assert not invalid, f"{len(invalid)} invalid documents, first: {invalid[:5]}\n{summary}{tail}"

    assert not stale, f"after the churn stopped, the feeds do not show the folder: {stale[:6]}\n{summary}{tail}"

    assert not load.ahead, (f"{len(load.ahead)} responses with a Last-Modified later than their Date, first: "
                            f"{load.ahead[:3]}, last: {load.ahead[-3:]}\n{summary}{tail}")

    # The test did what it says: real load, real changes seen, real 304s.
    assert len(records) >= MIN_REQUESTS_PER_SECOND * LOAD_SECONDS, summary
    assert statuses[304] >= len(records) // 10, summary
    assert changes_seen >= 1, summary
    assert len(churn.changed_at) >= 0.5 * LOAD_SECONDS / CHURN_PERIOD, summary
    assert min(len(etags_by_url.get(f"/feed.{fmt}", ())) for fmt in ("atom", "rss", "json")) >= min(
        10, LOAD_SECONDS / 2), summary


def _edit_older(content: Path, title: str) -> None:
    """A correction to the older article; its dates stay as they were."""
    write_article(content, "older.md", title=title, webUrl="https://example.com/older",
                  publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc))


def _changed(server: LoadServer, etag: str) -> tuple[int, dict, bytes]:
    """The first plain GET of /feed.json with an ETag other than `etag`."""
    deadline = time.monotonic() + 10
    while (current := server.request("GET", "/feed.json"))[1]["etag"] == etag:
        assert time.monotonic() < deadline, "the change never showed up"
        time.sleep(0.1)
    return current


def _dated(server: LoadServer, etag: str) -> tuple[int, dict, bytes]:
    """The first plain GET of /feed.json that gives version `etag` a Last-Modified.

    A version that replaced one dated the same second goes without
    Last-Modified until the clock passes that second."""
    deadline = time.monotonic() + 10
    while "last-modified" not in (current := server.request("GET", "/feed.json"))[1]:
        assert current[1]["etag"] == etag, "the feed changed while waiting for its date"
        assert time.monotonic() < deadline, "the version never got a Last-Modified"
        time.sleep(0.1)
    return current


@pytest.mark.parametrize("change", ["edit", "removal", "edit after a restart"])
def test_if_modified_since_alone_does_not_hide_a_change(tmp_path, change):
    """A poller that sends only If-Modified-Since (with the Last-Modified it
    was given) must not be told its copy is current once the feed's bytes have
    changed: not after an edit that keeps the dates, not after the newest
    article is removed, and not after the server restarts (or a new worker
    takes over) and then the feed changes again."""
    content = tmp_path / "content"
    write_article(content, "newest.md", title="Newest story", webUrl="https://example.com/newest",
                  publishedDateTime=datetime(2024, 3, 1, tzinfo=timezone.utc))
    _edit_older(content, "Older story")
    server = LoadServer(content, workers=1)
    try:
        status, held, _ = server.request("GET", "/feed.json")
        assert status == 200
        if change == "removal":
            (content / "newest.md").unlink()
        else:
            _edit_older(content, "Older story, corrected")
        current = _changed(server, held["etag"])
        if change == "edit after a restart":
            held = _dated(server, current[1]["etag"])[1]  # the client has the corrected version, with its Last-Modified
            server.stop()
            server = LoadServer(content, workers=1, port=server.port)  # the same address, so the same feeds
            _edit_older(content, "Older story, corrected twice")
            current = _changed(server, held["etag"])
        status, headers, body = server.request("GET", "/feed.json", {"If-Modified-Since": held["last-modified"]})
    finally:
        server.stop()
    assert status == 200 and body == current[2], (
        f"after the {change}, If-Modified-Since: {held['last-modified']} (the Last-Modified of the client's copy, "
        f"ETag {held['etag']}) got {status} with ETag {headers.get('etag')} (the feed's current version, "
        f"Last-Modified {current[1]['last-modified']}): the client keeps a copy that is out of date")


@pytest.mark.parametrize("case", ["quick edits", "updatedDateTime ahead"])
def test_last_modified_is_never_in_the_future(tmp_path, case):
    """RFC 9110 8.8.2.1: an origin server with a clock MUST NOT send a
    Last-Modified later than the message's Date. Neither several edits in
    quick succession nor an article whose updatedDateTime lies ahead (a typo,
    a wrong zone) may push it past the clock."""
    content = tmp_path / "content"
    write_article(content, "newest.md", title="Newest story", webUrl="https://example.com/newest",
                  publishedDateTime=datetime(2024, 3, 1, tzinfo=timezone.utc))
    _edit_older(content, "Older story")
    server = LoadServer(content, workers=1)
    seen = []
    try:
        status, headers, _ = server.request("GET", "/feed.json")
        seen.append(headers)
        if case == "quick edits":
            for n in range(6):  # each one seen by the server, about RELOAD_INTERVAL apart
                _edit_older(content, f"Older story, correction {n}")
                seen.append(_changed(server, seen[-1]["etag"])[1])
        else:
            write_article(content, "older.md", title="Older story", webUrl="https://example.com/older",
                          publishedDateTime=datetime(2024, 2, 1, tzinfo=timezone.utc),
                          updatedDateTime=datetime.now(timezone.utc) + timedelta(days=30))
            seen.append(_changed(server, seen[-1]["etag"])[1])
            seen.append(server.request("GET", "/feed.json", {"If-None-Match": seen[-1]["etag"]})[1])
    finally:
        server.stop()
    assert "last-modified" in seen[0]
    ahead = [(h["last-modified"], h["date"]) for h in seen if "last-modified" in h
             and parsedate_to_datetime(h["last-modified"]) > parsedate_to_datetime(h["date"])]
    assert not ahead, f"Last-Modified later than Date ({case}): {ahead}"
    versions = {h["etag"]: parsedate_to_datetime(h["last-modified"]) for h in seen if "last-modified" in h}
    dates = list(versions.values())
    assert dates == sorted(set(dates)), f"two versions share a Last-Modified ({case}): {versions}"
