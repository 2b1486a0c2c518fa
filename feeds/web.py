"""Deliver stage, live: the Flask app serving the same URL space as the export.

Documents are rendered by the same render stage as `feeds export`, once per
change: caches are keyed on the feed's fingerprint, and responses carry a
strong ETag and Last-Modified so pollers get 304s. The common case of a
poll — a plain GET, or one with the current ETag — is answered from a ready
response before Flask is involved; everything else goes through Flask and
Werkzeug's conditional-request handling.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.http import http_date

from .cache import Recent, SharedCache
from .config import Config, load_config
from .last_modified import LastModifiedLedger
from .live import LiveContent, Snapshot
from .parse_cache import default_cache_dir
from .render import EPOCH, FEED_FORMATS, MEDIA_TYPES, feed_updated, render_feed, settings_version
from .render.pages import index_html, opml

log = logging.getLogger("feeds")

HTML_SECURITY_HEADERS = [
    # The index page needs no script at all; its only style is inline.
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
PREPARED_DOCUMENTS = 4096  # per process; a 100k-article site has about 9,000


@dataclass(frozen=True)
class Prepared:
    """A document ready to send: body and every header of its 200 response."""

    etag: str
    body: bytes
    last_modified: datetime | None  # None: not yet datable (see LastModifiedLedger.resolve)
    headers: tuple[tuple[str, str], ...]


def locate(path_info: str) -> tuple[str, str] | None:
    """URL path -> (document path, format), the same mapping the routes make."""
    if path_info in ("/", "/index.html"):
        return "index", "html"
    if path_info == "/feeds.opml":
        return "feeds", "opml"
    stem, dot, fmt = path_info.rpartition(".")
    if not dot or fmt not in FEED_FORMATS:
        return None
    if stem == "/feed":
        return "feed", fmt
    kind, _, key = stem[1:].partition("/")
    if kind in ("topics", "providers") and key and "/" not in key:
        return f"{kind}/{key}", fmt
    return None


class Publisher:
    """Renders documents from the live snapshot through the render caches."""

    def __init__(self, config: Config):
        self.config = config
        self.site = config.site
        self.content = LiveContent(config.content, self.site, config.limits, config.reload_interval,
                                   cache_dir=config.cache_dir or default_cache_dir())
        self.shared = SharedCache(config.cache_url)
        self.ready: Recent[Prepared] = Recent(PREPARED_DOCUMENTS)
        self._salt = settings_version(self.site)
        self._cache_control = f"public, max-age={config.cache_max_age}"
        cache_dir = config.cache_dir or default_cache_dir()
        self.ledger = LastModifiedLedger(cache_dir / f"last-modified-{self.content.cache_key}.sqlite")
        self.renders = 0

    def document(self, path: str, fmt: str) -> Prepared:
        """The current version of a feed or page; NotFound if there is none."""
        snapshot = self.content.snapshot()
        if fmt in FEED_FORMATS:
            feed = snapshot.feeds.get(path)
            if feed is None:
                raise NotFound()
            version = snapshot.versions[path]
        else:
            feed, version = snapshot.collection.main, snapshot.pages_version
        key = f"{self._salt}:{path}.{fmt}:{version}"
        prepared = self.ready.get(key)
        if prepared is None or prepared.last_modified is None:
            entry = (prepared.etag, prepared.body) if prepared else self.shared.get(key)
            if entry is None:
                body = render_feed(feed, fmt, self.site) if fmt in FEED_FORMATS else _page(snapshot, fmt, self.site)
                self.renders += 1
                entry = (hashlib.blake2b(body, digest_size=16).hexdigest(), body)
                self.shared.set(key, entry)
            last_modified = self.ledger.resolve(f"{path}.{fmt}", f"{self._salt}:{version}",
                                                max(feed_updated(feed, self.site), EPOCH))
            prepared = self._prepare(entry, fmt, last_modified)
            self.ready.set(key, prepared)
        return prepared

    def _prepare(self, entry, fmt: str, last_modified: datetime | None) -> Prepared:
        etag, body = entry
        headers = [("Content-Type", MEDIA_TYPES[fmt]), ("Content-Length", str(len(body))), ("ETag", f'"{etag}"')]
        if last_modified is not None:
            headers.append(("Last-Modified", http_date(last_modified)))
        headers += [("Cache-Control", self._cache_control), ("X-Content-Type-Options", "nosniff")]
        if fmt == "html":
            headers += HTML_SECURITY_HEADERS
        return Prepared(etag, body, last_modified, tuple(headers))


def _page(snapshot: Snapshot, fmt: str, site) -> bytes:
    return index_html(snapshot.collection, site) if fmt == "html" else opml(snapshot.collection, site)


class PollShortcut:
    """WSGI middleware answering plain polls from ready responses.

    Only GET/HEAD of an existing document, with no validator or exactly the
    current ETag, and no other conditional or range header: the answer is
    then fully determined (200 or 304) and identical to Flask's. Anything
    else, including every error, goes to the Flask app.
    """

    _OTHER_CONDITIONS = ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                         "HTTP_RANGE", "HTTP_IF_RANGE")

    def __init__(self, app, publisher: Publisher):
        self.app, self.publisher = app, publisher

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        where = locate(environ.get("PATH_INFO", "")) if method in ("GET", "HEAD") else None
        if where is None or any(name in environ for name in self._OTHER_CONDITIONS):
            return self.app(environ, start_response)
        try:
            prepared = self.publisher.document(*where)
        except Exception:  # noqa: BLE001 - Flask produces the proper error response
            return self.app(environ, start_response)
        validator = environ.get("HTTP_IF_NONE_MATCH")
        if validator is None:
            start_response("200 OK", list(prepared.headers))
            return [prepared.body] if method == "GET" else []
        if validator == f'"{prepared.etag}"':
            start_response("304 Not Modified", [h for h in prepared.headers if h[0] not in _ENTITY_HEADERS])
            return []
        return self.app(environ, start_response)


_ENTITY_HEADERS = {"Content-Length", "Content-Type"}


def create_app(config: Config | dict | None = None) -> Flask:
    """The application. `config` is a Config, or a dict of overrides for the
    configuration loaded from FEEDS_CONFIG / config/feeds.toml and FEEDS_*."""
    if not isinstance(config, Config):
        config = load_config(overrides=config or {})
    app = Flask(__name__)
    app.config["FEEDS"] = config
    if not logging.getLogger("feeds").handlers and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    publisher = Publisher(config)
    app.extensions["feeds"] = publisher

    def respond(path: str, fmt: str) -> Response:
        prepared = publisher.document(path, fmt)
        response = Response(prepared.body, headers=list(prepared.headers)).make_conditional(request)
        del response.headers["Date"]  # the server adds its own; Werkzeug's would make two
        return response

    def route(rule: str, endpoint: str, view) -> None:
        app.add_url_rule(rule, endpoint, view, methods=["GET"], provide_automatic_options=False)

    route("/", "index", lambda: respond("index", "html"))
    route("/index.html", "index_html", lambda: respond("index", "html"))
    route("/feeds.opml", "opml", lambda: respond("feeds", "opml"))
    route("/feed.<fmt>", "main_feed", lambda fmt: respond("feed", _feed_format(fmt)))

    def grouped(kind: str):
        def view(name: str) -> Response:
            key, _, fmt = name.rpartition(".")
            return respond(f"{kind}/{key}", _feed_format(fmt))
        return view

    route("/topics/<name>", "topic_feed", grouped("topics"))
    route("/providers/<name>", "provider_feed", grouped("providers"))

    @app.after_request
    def common_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = Response(f"{error.code} {error.name}\n", status=error.code,
                            content_type="text/plain; charset=utf-8")
        if error.code == 405:
            response.headers["Allow"] = "GET, HEAD"
        return response

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        log.error("error serving %s: %s", request.path[:200], type(error).__name__, exc_info=error)
        return Response("500 Internal Server Error\n", status=500, content_type="text/plain; charset=utf-8")

    app.wsgi_app = PollShortcut(app.wsgi_app, publisher)
    return app


def _feed_format(fmt: str) -> str:
    if fmt not in FEED_FORMATS:
        raise NotFound()
    return fmt
