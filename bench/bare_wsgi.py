"""The reference for the web benchmark: a bare WSGI callable that returns the
same bytes and headers as the app, with no framework, cache or routing.

BARE_BODY names the file to serve; BARE_ETAG the ETag; BARE_TYPE the type.
A request whose If-None-Match equals the ETag gets an empty 304, like the app.
"""
import os

with open(os.environ["BARE_BODY"], "rb") as handle:
    BODY = handle.read()
ETAG = os.environ.get("BARE_ETAG", '"bare"')
HEADERS = [("Content-Type", os.environ.get("BARE_TYPE", "application/atom+xml; charset=utf-8")),
           ("ETag", ETAG), ("Cache-Control", "public, max-age=300"), ("Content-Length", str(len(BODY)))]
NOT_MODIFIED = [("ETag", ETAG), ("Cache-Control", "public, max-age=300")]


def app(environ, start_response):
    if environ.get("HTTP_IF_NONE_MATCH") == ETAG:
        start_response("304 Not Modified", NOT_MODIFIED)
        return [b""]
    start_response("200 OK", HEADERS)
    return [BODY]
