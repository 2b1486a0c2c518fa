"""Walking a feed's whole history as a reader would: from its subscription
document along RFC 5005 prev-archive links (Atom, RSS) or next_url (JSON Feed),
checking each archive document's own links on the way."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from email.utils import parsedate_to_datetime
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"


@dataclass
class Walk:
    items: list[tuple[str, datetime]] = field(default_factory=list)  # (link, published), newest first
    documents: list[str] = field(default_factory=list)  # URLs visited, subscription document first


def walk(fetch: Callable[[str], bytes], url: str, fmt: str, limit: int = 10_000) -> Walk:
    """Every item of the feed at url, following its chain of archive documents."""
    result = Walk()
    newer = None
    while url:
        assert url not in result.documents, f"{url}: the chain comes back to a document it has been through"
        assert len(result.documents) < limit, "the chain does not end"
        body = fetch(url)
        links, archive, items = parse(body, fmt)
        if result.documents:  # an archive document
            subscription = result.documents[0]
            assert archive, f"{url}: an archive document not marked as one"
            if fmt == "json":
                assert links.get("feed_url") == subscription, f"{url}: feed_url is not the feed's"
            else:
                assert links.get("current") == subscription, f"{url}: rel=current is not the subscription document"
                assert links.get("next-archive") == newer, f"{url}: next-archive {links.get('next-archive')} != {newer}"
        else:
            assert not archive, f"{url}: the subscription document is marked as an archive"
        assert links.get("self", url) == url, f"{url}: self link {links.get('self')}"
        result.documents.append(url)
        result.items.extend(items)
        newer = url
        url = links.get("prev-archive") or links.get("next_url")
    return result


def parse(body: bytes, fmt: str):
    """(links by rel, whether it is an archive document, its items) of one document."""
    return (_json if fmt == "json" else _xml)(body, fmt)


def _xml(body: bytes, fmt: str):
    root = etree.fromstring(body)
    if fmt == "atom":
        head, entries = root, root.findall(f"{ATOM}entry")
        links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
        items = [(entry.find(f"{ATOM}link").get("href"), datetime.fromisoformat(entry.findtext(f"{ATOM}published")))
                 for entry in entries]
    else:
        head = root.find("channel")
        links = {link.get("rel"): link.get("href") for link in head.findall(f"{ATOM}link")}
        items = [(item.findtext("link"), parsedate_to_datetime(item.findtext("pubDate")))
                 for item in head.findall("item")]
    return links, head.find(f"{FH}archive") is not None, items


def _json(body: bytes, fmt: str):
    document = json.loads(body)
    links = {"feed_url": document.get("feed_url")}
    if "next_url" in document:
        links["next_url"] = document["next_url"]
        assert document["next_url"] != document.get("feed_url"), "next_url must not be the feed_url"
    items = [(item["url"], datetime.fromisoformat(item["date_published"].replace("Z", "+00:00")))
             for item in document["items"]]
    # An archive page is told apart by its address: JSON Feed has no mark for one.
    return links, "/archive/" in document.get("home_page_url", ""), items
