"""The web app: sends the documents the builder put in the store, nothing else.

Plain polls (a GET or HEAD with no validator, or exactly the current ETag)
are answered from ready responses before Flask is involved; every other
request goes through Flask and Werkzeug's conditional-request handling.
"""
from __future__ import annotations

import json
import re
import logging
import time

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import parse_date, parse_etags

from ..config import Config, load_config
from ..formats import FEED_DOCUMENTS
from ..store import open_store
from .documents import Documents, NotReady
from .supervisor import Supervisor

log = logging.getLogger("feeds")

HEALTHY_HEARTBEAT_SECONDS = 10.0  # a builder that has not renewed its lock for longer is presumed dead
RETRY_AFTER = "2"


def locate(path_info: str) -> str | None:
    """URL path -> document path in the store ("feed.atom", "topics/ai.html", "index.html", ...)."""
    if path_info in ("/", "/index.html"):
        return "index.html"
    if path_info == "/feeds.opml":
        return "feeds.opml"
    stem, dot, fmt = path_info.rpartition(".")
    if not dot or fmt not in FEED_DOCUMENTS:
        return None
    feed, in_archive, archive = stem.rpartition("/archive/")  # the last: a topic may be named "archive"
    if not in_archive:
        feed = stem
    elif not _ARCHIVE_KEY.match(archive):
        return None
    if feed == "/feed":
        return path_info[1:]
    kind, _, key = feed[1:].partition("/")
    if kind in ("topics", "providers") and key and "/" not in key:
        return path_info[1:]
    return None


_ARCHIVE_KEY = re.compile(r"[a-z0-9][a-z0-9-]*\Z")  # feeds.archives names its documents so


class PollShortcut:
    """WSGI middleware answering plain polls from ready responses; anything
    else, including every error, goes to the Flask app."""

    _OTHER_CONDITIONS = ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                         "HTTP_RANGE", "HTTP_IF_RANGE")

    def __init__(self, app, documents: Documents, supervisor: Supervisor | None):
        self.app, self.documents, self.supervisor = app, documents, supervisor

    def __call__(self, environ, start_response):
        if self.supervisor is not None:
            self.supervisor.ensure_running()
        method = environ.get("REQUEST_METHOD")
        path = locate(environ.get("PATH_INFO", "")) if method in ("GET", "HEAD") else None
        if path is None:
            return self.app(environ, start_response)
        for name in self._OTHER_CONDITIONS:  # a loop, not any(): this runs on every poll
            if name in environ:
                return self.app(environ, start_response)
        try:
            prepared = self.documents.get(path, environ.get("HTTP_ACCEPT_ENCODING"))
        except Exception:  # noqa: BLE001 - Flask produces the proper error response
            return self.app(environ, start_response)
        if prepared is None:
            return self.app(environ, start_response)
        validator = environ.get("HTTP_IF_NONE_MATCH")
        if validator is None:
            start_response("200 OK", list(prepared.headers))
            return [prepared.body] if method == "GET" else []
        if validator == prepared.validator:
            start_response("304 Not Modified", list(prepared.not_modified))
            return []
        return self.app(environ, start_response)


class _NotModified(Response):
    """A 304 with exactly the headers of the ready one a plain poll gets:
    Werkzeug would drop Last-Modified, which tells a cache the later date of
    bytes published again (an edit undone)."""

    def __init__(self, headers):
        super().__init__(status=304)
        self.headers.clear()
        self.headers.extend(headers)

    def get_wsgi_headers(self, environ):
        return self.headers.copy()


def health(store) -> tuple[int, dict]:
    """(status, body) for load balancers: 200 when a complete version exists
    and a builder was seen recently, 503 otherwise."""
    try:
        manifest = store.current()
    except Exception:  # noqa: BLE001 - an unreachable store is simply unhealthy
        manifest = None
    heartbeat = store.heartbeat_age()
    alive = store.builder_alive()
    ok = manifest is not None and heartbeat is not None and heartbeat <= HEALTHY_HEARTBEAT_SECONDS
    body = {
        "status": "ok" if ok else "unavailable",
        "store_version": manifest.version if manifest else None,
        "articles": manifest.stats.get("articles") if manifest else None,
        "feeds": manifest.stats.get("feeds") if manifest else None,
        "problems": manifest.stats.get("problems") if manifest else None,
        "seconds_since_build": round(time.time() - manifest.built_at, 1) if manifest else None,
        "seconds_since_builder_seen": round(heartbeat, 1) if heartbeat is not None else None,
        "builder_holds_lock": alive,
    }
    return (200 if ok else 503), body


def create_app(config: Config | dict | None = None) -> Flask:
    """The application. `config` is a Config, or a dict of overrides for the
    configuration loaded from FEEDS_CONFIG / config/feeds.toml and FEEDS_*."""
    if not isinstance(config, Config):
        config = load_config(overrides=config or {})
    app = Flask(__name__)
    app.url_map.merge_slashes = False  # "/topics//ai.atom" names no document: 404, not a redirect
    app.config["FEEDS"] = config
    if not logging.getLogger("feeds").handlers and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_store(config)
    documents = Documents(store, config.cache_max_age, config.site.hubs, config.base_url, config.archive_max_age)
    supervisor = Supervisor(config, store) if config.builder == "auto" else None
    if supervisor is not None:
        supervisor.ensure_running()
    app.extensions["feeds"] = documents
    app.extensions["feeds.supervisor"] = supervisor

    @app.before_request
    def exact_requests_only() -> None:
        # Werkzeug's routing drops leading slashes and upper-cases the method:
        # "//feed.atom" would name a second URL of the feed, and "get" (RFC 9110
        # §9.1: method names are case-sensitive) would be served as GET.
        environ = request.environ
        if "//" in environ.get("PATH_INFO", ""):
            raise NotFound()
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            raise MethodNotAllowed()

    def respond(path: str) -> Response:
        prepared = documents.get(path, request.headers.get("Accept-Encoding"))
        if prepared is None:
            holder = documents.holder_of_gone(path) if "/archive/" in path else None
            if holder is None:
                raise NotFound()
            # Found, not moved for good: the document may come back (the article published again).
            return Response(f"302 Found: its articles are now in /{holder}\n", status=302, mimetype="text/plain",
                            headers={"Location": f"{config.base_url or '/'}{holder}",
                                     "Cache-Control": documents.cache_control})
        if precondition_fails(request.headers, prepared):
            return Response(b"412 Precondition Failed: the document is not the version the request names\n",
                            status=412, mimetype="text/plain",
                            headers={"ETag": prepared.validator, "Cache-Control": "no-store", "Vary": "Accept-Encoding"})
        response = Response(prepared.body, headers=list(prepared.headers)).make_conditional(
            _if_none_match_and_modified_since(request.environ))
        if response.status_code == 304:
            response = _NotModified(prepared.not_modified)
        del response.headers["Date"]  # the server adds its own; Werkzeug's would make two
        return response

    def route(rule: str, endpoint: str, view) -> None:
        app.add_url_rule(rule, endpoint, view, methods=["GET"], provide_automatic_options=False)

    route("/", "index", lambda: respond("index.html"))
    route("/index.html", "index_html", lambda: respond("index.html"))
    route("/feeds.opml", "opml", lambda: respond("feeds.opml"))
    route("/feed.<fmt>", "main_feed", lambda fmt: respond(f"feed.{_feed_format(fmt)}"))

    def grouped(kind: str):
        def view(name: str) -> Response:
            key, _, fmt = name.rpartition(".")
            if not key:
                raise NotFound()
            return respond(f"{kind}/{key}.{_feed_format(fmt)}")
        return view

    route("/topics/<name>", "topic_feed", grouped("topics"))
    route("/providers/<name>", "provider_feed", grouped("providers"))

    def archived(**_) -> Response:
        path = locate(request.path)
        if path is None:
            raise NotFound()
        return respond(path)

    for kind in ("feed", "topics/<feed>", "providers/<feed>"):
        route(f"/{kind}/archive/<name>", f"{kind.partition('/')[0]}_archive", archived)

    def healthz() -> Response:
        status, body = health(store)
        return Response(json.dumps(body, sort_keys=True) + "\n", status=status,
                        content_type="application/json", headers={"Cache-Control": "no-store"})

    route("/healthz", "healthz", healthz)

    @app.after_request
    def common_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.errorhandler(NotReady)
    def not_ready(error: NotReady) -> Response:
        return Response("503 Service Unavailable: the feeds are being built; try again shortly\n", status=503,
                        content_type="text/plain; charset=utf-8",
                        headers={"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        # Not stored by shared caches: a feed missing now may be published in a moment.
        response = Response(f"{error.code} {error.name}\n", status=error.code,
                            content_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})
        if error.code == 405:
            response.headers["Allow"] = "GET, HEAD"
        return response

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> Response:
        log.error("error serving %s: %s", request.path[:200], type(error).__name__, exc_info=error)
        return Response("500 Internal Server Error\n", status=500, content_type="text/plain; charset=utf-8")

    app.wsgi_app = PollShortcut(app.wsgi_app, documents, supervisor)
    return app


def precondition_fails(headers, prepared) -> bool:
    """If-Match, else If-Unmodified-Since (RFC 9110 §13.1.1, §13.1.4, in the
    order of §13.2.2): whether the request's precondition is false for the
    representation it would get. If-Match compares strongly."""
    if_match = headers.get("If-Match")
    if if_match is not None:
        return not parse_etags(if_match).contains(prepared.etag)
    since = _single_date(headers.get("If-Unmodified-Since"))
    return since is not None and prepared.last_modified is not None and prepared.last_modified > since


def _single_date(value: str | None) -> int | None:
    """An HTTP date as Unix seconds; None for none, an invalid one, or a list
    of dates (which RFC 9110 §13.1.3 and §13.1.4 say to ignore)."""
    if not value or value.count(",") > 1:
        return None
    when = parse_date(value)
    return int(when.timestamp()) if when is not None else None


_EVALUATED_HERE = frozenset({"HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE"})


def _if_none_match_and_modified_since(environ: dict) -> dict:
    """The request as Werkzeug's conditional handling should see it, once
    precondition_fails has passed it: without the preconditions (Werkzeug
    answers If-Match: * with a 412), and without an If-Modified-Since that
    is a list of dates (ignored, not read as its first)."""
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    drop = _EVALUATED_HERE | ({"HTTP_IF_MODIFIED_SINCE"} if since is not None and _single_date(since) is None
                              else set())
    if not drop.intersection(environ):
        return environ
    return {key: value for key, value in environ.items() if key not in drop}


def _feed_format(fmt: str) -> str:
    """A feed's formats, and its page ("html")."""
    if fmt not in FEED_DOCUMENTS:
        raise NotFound()
    return fmt
