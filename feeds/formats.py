"""The document formats: their names and media types, shared by the render
stage and the server (which must not import the render stage)."""

FEED_FORMATS = ("atom", "rss", "json")  # what a feed reader subscribes to
PAGE_FORMAT = "html"  # each feed's page, for people
FEED_DOCUMENTS = (*FEED_FORMATS, PAGE_FORMAT)  # every document of one feed
MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "opml": "text/x-opml; charset=utf-8",
}
FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


def announced(path: str) -> bool:
    """Whether WebSub hubs hear of a change to the document at path: the
    subscription documents only (no page, no list, no archive document)."""
    return path.rpartition(".")[2] in FEED_FORMATS and "/archive/" not in path
