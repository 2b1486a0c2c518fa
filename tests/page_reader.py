"""The HTML pages as a browser's parser sees them: tags, links, autodiscovery
links, images and the items a feed's page lists."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

# Every tag the templates write: anything else on a page came from content.
INDEX_TAGS = {"html", "head", "meta", "title", "link", "style", "body", "h1", "h2", "p", "a", "table", "thead",
              "tbody", "tr", "th", "td", "small", "time"}
FEED_PAGE_TAGS = {"html", "head", "meta", "title", "link", "style", "body", "nav", "header", "h1", "small", "p",
                  "section", "h2", "ul", "li", "a", "main", "ol", "article", "div", "time", "img", "footer", "span"}
FEED_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
_VOID = {"meta", "link", "img", "br", "hr", "input", "source", "wbr"}


class PageReader(HTMLParser):
    """One page: `items` are the articles a feed's page shows, in order,
    each {title, link, source, date, summary, image, topics}."""

    def __init__(self, data: bytes, url: str = ""):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.hrefs: list[str] = []
        self.alternates: list[dict] = []  # <link rel="alternate">: type, title, href (absolute)
        self.links: list[dict] = []  # <a>: type, href, text
        self.images: list[str] = []
        self.items: list[dict] = []
        self.texts: dict[str, str] = {}  # "title", "h1"
        self._open: list[str] = []
        self._capture: tuple | None = None  # (end tag, [(where, key)] to put the text, pieces)
        self.feed(data.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attributes.update(attrs)
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "link" and attrs.get("rel") == "alternate":
            self.alternates.append({"type": attrs.get("type"), "title": attrs.get("title"),
                                    "href": urljoin(self.url, attrs.get("href") or "")})
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "a":
            self.links.append({"type": attrs.get("type"), "href": attrs.get("href"), "text": ""})
            if self._capture is None:
                self._start("a", (self.links[-1], "text"))
        item = self.items[-1] if self.items and "article" in self._open else None
        if tag == "article":
            self.items.append({"title": "", "link": "", "meta": "", "date": "", "summary": "", "image": None,
                               "topics": []})
        elif item is not None:
            if tag == "a" and self._open[-1:] == ["h2"]:
                item["link"] = attrs.get("href")
                self._start("a", (item, "title"), (self.links[-1], "text"))
            elif tag == "time":
                item["date"] = attrs.get("datetime")
            elif tag == "p" and attrs.get("class") in ("meta", "summary"):
                self._start("p", (item, attrs["class"]))
            elif tag == "img":
                item["image"] = attrs.get("src")
            elif tag == "a" and "ul" in self._open:
                item["topics"].append(attrs.get("href"))
        elif tag in ("title", "h1"):
            self._start(tag, (self.texts, tag))
        if tag not in _VOID:
            self._open.append(tag)

    def _start(self, end: str, *targets: tuple[dict, str]) -> None:
        self._capture = (end, targets, [])

    def handle_endtag(self, tag):
        if self._capture is not None and tag == self._capture[0]:
            _, targets, pieces = self._capture
            for where, key in targets:
                where[key] = " ".join("".join(pieces).split())
            self._capture = None
        while self._open:
            if self._open.pop() == tag:
                break

    def handle_data(self, data):
        if self._capture is not None:
            self._capture[2].append(data)

    def feed_links(self) -> dict[str, str]:
        """Format -> absolute address, from the autodiscovery links."""
        by_type = {v: k for k, v in FEED_TYPES.items()}
        return {by_type[a["type"]]: a["href"] for a in self.alternates if a["type"] in by_type}

    @staticmethod
    def source(item: dict) -> str:
        """The provider's name, as the item's meta line shows it: "Name · date"."""
        return item["meta"].rpartition(" · ")[0]
