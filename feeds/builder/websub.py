"""WebSub publishing: telling the configured hubs which feeds changed.

The builder hands `Pinger.notify` the public URLs of the feed documents a
build changed (a new ETag committed to the store, or a file rewritten in an
export); each hub then fetches those feeds and sends them to its
subscribers. The builder is the only process that does this, so a change is
announced once whatever the number of servers.

The W3C Recommendation leaves the publish request to each hub. Hubs commonly
take a form POST of `hub.mode=publish` naming the topic as `hub.url`
(PubSubHubbub, Superfeedr, Google's hub) or as `hub.topic` (flask-websub,
websubhub.com); some accept several `hub.url` in one request, others read
only the first, silently. So each feed URL goes in a request of its own,
under both names, and the requests of a change are sent together, one after
the other on one kept-alive connection per hub.

Everything happens on a background thread per hub: publishing never waits
for a hub. A failed request is tried again with exponential backoff; a feed
URL a hub has not taken after ATTEMPTS tries is given up, in one log line
naming the hub (never its credentials).
"""
from __future__ import annotations

import base64
import http.client
import logging
import socket
import threading
import time
from typing import Iterable
from urllib.parse import unquote, urlencode, urlsplit

from .._version import __version__
from ..config import public_hub
from ..formats import announced

log = logging.getLogger("feeds")

TIMEOUT = 10.0  # seconds a hub has to answer one request
ATTEMPTS = 8  # tries of one feed URL before it is given up
FIRST_DELAY = 1.0  # seconds before the first retry, doubled after every round that fails…
MAX_DELAY = 60.0  # …up to this: eight tries span about two minutes
EXIT_WAIT = 5.0  # seconds `feeds export` waits at most, at exit, for pings under way
CLOSE_WAIT = 1.0  # seconds close waits for a hub's thread (only a connect still under way takes long)


class Pinger:
    """The hubs of one builder."""

    def __init__(self, hubs: Iterable[str], *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS,
                 first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY):
        unique = list(dict.fromkeys(hubs))
        self.hubs = [_Hub(hub, timeout, attempts, first_delay, max_delay, self._generation_of,
                          lambda url, generation, number=number: self._taken(number, url, generation))
                     for number, hub in enumerate(unique)]
        # Each notify of a URL is a new generation of it; a hub that takes (or gives up on) a ping
        # sent at generation g has announced every change notified up to g.
        self._lock = threading.Lock()
        self._count = 0
        self._generation: dict[str, int] = {}
        self._taken_by: dict[str, list[int]] = {}  # URL -> per hub, the generation it has taken

    def notify(self, urls: Iterable[str]) -> dict[str, int]:
        """Queue a ping of each URL to every hub; returns at once, with the generation of each URL."""
        urls = list(dict.fromkeys(urls))
        generations = {}
        with self._lock:
            for url in urls:
                self._count += 1
                generations[url] = self._generation[url] = self._count
                self._taken_by.setdefault(url, [0] * len(self.hubs))
        if urls:
            for hub in self.hubs:
                hub.add(urls)
        return generations

    def announced(self, url: str) -> int:
        """The latest generation of url that every hub has taken or given up on (0: none)."""
        with self._lock:
            taken = self._taken_by.get(url)
            return min(taken) if taken else 0

    def _generation_of(self, url: str) -> int:
        with self._lock:
            return self._generation.get(url, 0)

    def _taken(self, number: int, url: str, generation: int) -> None:
        with self._lock:
            taken = self._taken_by.get(url)
            if taken is not None and taken[number] < generation:
                taken[number] = generation

    def flush(self, timeout: float = EXIT_WAIT) -> bool:
        """Wait until every hub has had a try at everything queued (and taken
        it, or failed and is waiting to try again), at most `timeout` seconds.
        False, after logging what is left per hub, if anything is not taken."""
        deadline = time.monotonic() + timeout
        for hub in self.hubs:
            hub.settle(deadline)
        left = False
        for hub in self.hubs:
            pending = hub.pending()
            if pending:
                left = True
                log.warning("websub hub %s: %d feed URLs not sent (%s)", hub.name, pending,
                            hub.last_error or "no answer in time")
        return not left

    def close(self) -> None:
        """Stop the threads; what was not sent is dropped."""
        for hub in self.hubs:
            hub.close()


class _Hub:
    def __init__(self, url: str, timeout: float, attempts: int, first_delay: float, max_delay: float,
                 generation_of=lambda url: 0, taken=lambda url, generation: None):
        self.url, self.name = url, public_hub(url)
        self._generation_of, self._taken = generation_of, taken  # see Pinger
        self._sent_as: dict[str, int] = {}  # URL -> the generation it had when this hub took it to send
        self.timeout, self.attempts = timeout, max(1, attempts)
        self.first_delay, self.max_delay = first_delay, max_delay
        parts = urlsplit(url)
        self._https = parts.scheme.lower() == "https"
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._https else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/x-www-form-urlencoded",
                         "User-Agent": f"feeds/{__version__} (WebSub publisher)"}
        if parts.username is not None or parts.password is not None:
            user = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(user.encode("utf-8")).decode("ascii")
        self._queue: dict[str, int] = {}  # feed URL -> failed tries so far, in the order to send
        self._sending = 0  # URLs taken from the queue, not yet done with
        self._waiting = False  # backing off after a failed round
        self._closed = False
        self._changed = threading.Condition()
        self._wake = threading.Event()  # cuts a backoff short on close
        self._thread: threading.Thread | None = None
        self._connection: http.client.HTTPConnection | None = None
        self.last_error = ""

    # --- the builder's side ---

    def add(self, urls: list[str]) -> None:
        with self._changed:
            if self._closed:
                return
            for url in urls:
                self._queue.setdefault(url, 0)  # already queued: one ping gives the hub the latest
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="feeds-websub", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def pending(self) -> int:
        with self._changed:
            return len(self._queue) + self._sending

    def settle(self, deadline: float) -> None:
        with self._changed:
            while (self._sending or (self._queue and not self._waiting)) and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._queue.clear()
            self._changed.notify_all()
        self._wake.set()
        connection = self._connection
        if connection is not None and connection.sock is not None:
            try:  # a request waiting for its answer ends now
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_WAIT)  # nothing of this hub is logged or sent after close

    # --- the thread ---

    def _run(self) -> None:
        rounds_failed = 0
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                batch, self._queue = self._queue, {}
                self._sending, self._waiting = len(batch), False
            for url in batch:  # a notify from now on is a newer generation, queued again
                self._sent_as[url] = self._generation_of(url)
            failed = self._send_all(batch)
            if self._closed:
                return
            retry = {url: tries for url, tries in failed.items() if tries < self.attempts}
            delay = 0.0
            if failed:
                self._disconnect()
                rounds_failed += 1
                delay = min(self.max_delay, self.first_delay * 2 ** (rounds_failed - 1))
                for url in failed.keys() - retry.keys():
                    self._taken(url, self._sent_as.pop(url, 0))
                if len(retry) < len(failed):
                    log.error("websub hub %s: gave up on %d feed URLs after %d tries (last: %s)",
                              self.name, len(failed) - len(retry), self.attempts, self.last_error)
                if retry and rounds_failed == 1:
                    log.warning("websub hub %s: %s; %d feed URLs to send again in %g s, then backing off",
                                self.name, self.last_error, len(retry), delay)
            else:
                self.last_error = ""
                if rounds_failed:
                    log.info("websub hub %s: taking pings again", self.name)
                rounds_failed = 0
            with self._changed:
                # The URLs to send again first, then those queued meanwhile.
                self._queue = {**retry, **{u: t for u, t in self._queue.items() if u not in retry}}
                self._sending, self._waiting = 0, bool(failed)
                self._changed.notify_all()
            if failed:
                if self._wake.wait(delay):
                    return
                with self._changed:
                    self._waiting = False

    def _send_all(self, batch: dict[str, int]) -> dict[str, int]:
        """Ping each URL; the failed ones with their count of failed tries."""
        failed: dict[str, int] = {}
        unreachable = False
        for url, tries in batch.items():
            if self._closed:
                return {}
            if not unreachable:
                outcome = self._ping(url)
                if outcome is None:
                    self._taken(url, self._sent_as.pop(url, 0))
                    with self._changed:
                        self._sending -= 1
                        self._changed.notify_all()
                    continue
                unreachable = outcome == "unreachable"  # no use trying the rest of this round
            failed[url] = tries + 1
        return failed

    def _ping(self, url: str) -> str | None:
        """None when the hub took it; "refused", or "unreachable" when no
        answer came, with last_error saying why."""
        body = urlencode([("hub.mode", "publish"), ("hub.topic", url), ("hub.url", url)])
        for fresh in (False, True):  # a kept-alive connection the hub has closed meanwhile: once more
            reused = self._connection is not None and not fresh
            try:
                if self._connection is None or fresh:
                    self._disconnect()
                    self._connection = self._connect()
                self._connection.request("POST", self._target, body=body, headers=self._headers)
                response = self._connection.getresponse()
                response.read(65536)
                if response.will_close:
                    self._disconnect()
            except (OSError, http.client.HTTPException) as error:
                self._disconnect()
                if reused and isinstance(error, (ConnectionError, http.client.RemoteDisconnected)):
                    continue
                self.last_error = _describe(error)
                return "unreachable"
            if 200 <= response.status < 300:
                return None
            self.last_error = f"HTTP {response.status} {response.reason}".strip()
            return "refused"
        return "unreachable"  # not reached

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return kind(self._host, self._port, timeout=self.timeout)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _describe(error: BaseException) -> str:
    """Why a request failed, in a few words (no URL: it may hold credentials)."""
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def changed_feeds(site, written: Iterable[str]) -> list[str]:
    """The public URLs of the feed documents among the paths written (the
    URL each links to as rel="self"); not the pages, which are for people."""
    return [site.url(path) for path in written if announced(path)]
