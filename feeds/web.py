"""Deliver stage, live: the Flask app serving the same URL space as the export.

Documents are rendered by the same render stage as `feeds export`, once per
change: the render cache is keyed on the feed's fingerprint, and responses
carry a strong ETag and Last-Modified so pollers get 304s.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, NotFound

from .cache import RenderCache
from .config import Config, load_config
from .live import LiveContent, Snapshot
from .parse_cache import default_cache_dir
from .render import EPOCH, FEED_FORMATS, MEDIA_TYPES, feed_updated, render_feed, settings_version
from .render.pages import index_html, opml

log = logging.getLogger("feeds")

HTML_SECURITY_HEADERS = {
    # The index page needs no script at all; its only style is inline.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class Publisher:
    """Renders documents from the live snapshot through the render cache."""

    def __init__(self, config: Config):
        self.config = config
        self.site = config.site
        self.content = LiveContent(config.content, self.site, config.limits, config.reload_interval,
                                   cache_dir=config.cache_dir or default_cache_dir())
        self.cache = RenderCache(config.cache_url)
        self._salt = settings_version(self.site)
        self.renders = 0

    def document(self, path: str, fmt: str) -> tuple[str, bytes, datetime]:
        """(etag, body, last modified) of a feed or page; NotFound if there is none."""
        snapshot = self.content.snapshot()
        if fmt in FEED_FORMATS:
            feed = snapshot.feeds.get(path)
            if feed is None:
                raise NotFound()
            version = snapshot.versions[path]
            last_modified = feed_updated(feed, self.site)
            render = lambda: render_feed(feed, fmt, self.site)  # noqa: E731
        else:
            version = snapshot.pages_version
            last_modified = feed_updated(snapshot.collection.main, self.site)
            render = lambda: _page(snapshot, fmt, self.site)  # noqa: E731
        key = f"{self._salt}:{path}.{fmt}:{version}"
        entry = self.cache.get(key)
        if entry is None:
            body = render()
            self.renders += 1
            entry = (hashlib.blake2b(body, digest_size=16).hexdigest(), body)
            self.cache.set(key, entry)
        return entry[0], entry[1], last_modified


def _page(snapshot: Snapshot, fmt: str, site) -> bytes:
    return index_html(snapshot.collection, site) if fmt == "html" else opml(snapshot.collection, site)


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
    max_age = config.cache_max_age

    def respond(path: str, fmt: str) -> Response:
        etag, body, last_modified = publisher.document(path, fmt)
        response = Response(body, mimetype=None, content_type=MEDIA_TYPES[fmt])
        response.set_etag(etag)
        response.last_modified = max(last_modified, EPOCH)
        response.cache_control.public = True
        response.cache_control.max_age = max_age
        if fmt == "html":
            response.headers.update(HTML_SECURITY_HEADERS)
        return response.make_conditional(request)

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

    return app


def _feed_format(fmt: str) -> str:
    if fmt not in FEED_FORMATS:
        raise NotFound()
    return fmt
