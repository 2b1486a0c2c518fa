"""From the index to the writer: which feeds changed, which documents that
changes, and their bytes.

Only feeds that may have changed are looked up again (the index keeps every
feed's fingerprint), then every document is compared with what the writer
holds, so a writer that missed a change, or a new export folder, still
gets exactly the documents it lacks. All documents of a pass are known
before any is written; rendering runs on several processes when there are
many documents, and only this process writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Iterator

from ..collect import Collection, MAIN_FEED_PATH
from ..encodings import compress
from ..records import Feed, Site
from ..render import document_path, feed_updated, is_archive, feed_version, pages_version, render_formats
from ..render.pages import index_html, opml
from ..writers import Placed, Rendered, WriteReport
from .archiving import archive_feed, changes, linked, split_archive_path, with_archive
from .index import Index
from .wanted import Wanted

PAGES = (("index.html", "html"), ("feeds.opml", "opml"))  # the site's own documents; the rest are feeds'
_PAGE_NAMES = frozenset(name for name, _ in PAGES)
PARALLEL_MIN_FEEDS = 60


@dataclass
class PublishReport:
    feeds_changed: list[str] = field(default_factory=list)
    write: WriteReport = field(default_factory=WriteReport)
    published: int = 0  # articles in the main feed
    feeds: int = 0


def publish(index: Index, site: Site, writer, affected: set[str] | None, now: int, stats: dict,
            jobs: int = 1, wanted: Wanted | None = None) -> PublishReport:
    """Bring the feeds `affected` (None: all) up to date in the index at
    `now`, then give the writer every document it lacks. `wanted`: the
    site's documents as the last build left them (kept by the builder)."""
    report = PublishReport()
    previous = index.published_feeds()
    paths = set(index.feed_paths()) | previous.keys() if affected is None else set(affected)
    paths.add(MAIN_FEED_PATH)  # its row carries the count and date the pages show
    fresh: dict[str, Feed] = {}
    rows, gone = [], []
    archives: dict[str, list[tuple]] = {}  # feed -> its archive documents' rows, all cut again
    archive_changes: dict[str, tuple[list[tuple], list[str]]] = {}  # feed -> (rows new or changed, keys gone)
    for path in sorted(paths):
        feed = index.feed(path, now, site.items_per_feed)
        if feed is None:
            archives[path] = []
            if path in previous:
                gone.append(path)
                report.feeds_changed.append(path)
            continue
        if site.archives:
            # Only the runs around the changed items are cut again, unless those are not known
            # or the feed's name (in every one of its documents) changed.
            same_name = affected is not None and path in previous and previous[path][3] == feed.name
            feed, rows_now, rows_before = with_archive(index, site, feed, now,
                                                       index.touched(path) if same_name else None)
            if rows_before is None:
                archives[path] = rows_now
            else:
                archive_changes[path] = changes(rows_before, rows_now)
        fresh[path] = feed
        row = _row(feed, site)
        if previous.get(path) != row:
            rows.append(row)
            report.feeds_changed.append(path)
    if rows or gone:
        index.save_feeds(rows, gone)
        previous = index.published_feeds()
    if archives:
        index.save_archives(archives)
    if archive_changes:
        index.change_archives(archive_changes)
    collection = _collection(previous, fresh[MAIN_FEED_PATH])
    report.published, report.feeds = collection.main.size, len(previous)
    if writer is None:  # the index only (`feeds check`, `feeds list`)
        return report
    pages = pages_version(collection, site)
    if wanted is None:
        wanted = Wanted()
    if affected is None or not wanted.ready:
        wanted.rebuild((name for name, _ in PAGES), pages, previous, index.archive_documents())
    else:
        wanted.set_pages((name for name, _ in PAGES), pages)
        for path in sorted(paths):
            wanted.update_feed(path, previous.get(path), archives.get(path), archive_changes.get(path))
    held = writer.versions()
    stale = wanted.stale(held)
    stale_feeds: dict[str, list[str]] = {}
    for name in stale:
        if name not in _PAGE_NAMES:
            path, _, fmt = name.rpartition(".")
            stale_feeds.setdefault(path, []).append(fmt)
    placer = getattr(writer, "placer", None)
    rendered = _render(index, site, now, fresh, stale_feeds, collection, stale, pages, jobs,
                       placer() if placer is not None else None)
    try:
        report.write = writer.publish(wanted.documents, stale, rendered, stats={
            **stats, "articles": collection.main.size, "feeds": len(previous)})
    except BaseException:
        wanted.forget_writer()
        raise
    wanted.published(writer.versions())
    return report


def _row(feed: Feed, site: Site) -> tuple:
    newest = feed.newest
    return (feed.path, feed.kind, feed.key, feed.name, feed.size,
            int(newest.timestamp()) if newest else None, int(feed_updated(feed, site).timestamp()),
            feed_version(feed, site))


def _collection(rows: dict[str, tuple], main: Feed) -> Collection:
    """Every feed as the index page and the OPML list need it: name, size, date."""
    topics, providers = [], []
    for path, kind, key, name, total, newest, _updated, _version in sorted(rows.values(), key=lambda r: r[2]):
        if kind == "all":
            continue
        latest = datetime.fromtimestamp(newest, timezone.utc) if newest is not None else None
        (topics if kind == "topic" else providers).append(Feed(kind, key, name, path, (), total, latest))
    return Collection(main=main, topics=tuple(topics), providers=tuple(providers))


def _render(index: Index, site: Site, now: int, fresh: dict[str, Feed], stale_feeds: dict[str, list[str]],
            collection: Collection, stale: list[str], pages: str, jobs: int, placer=None) -> Iterator[Rendered | Placed]:
    """Every stale document; those of feeds through the writer's placer when it has one."""
    def site_pages() -> Iterator[Rendered]:
        newest_of_pages = int(feed_updated(collection.main, site).timestamp())
        for name, fmt in PAGES:
            if name in stale:
                body = index_html(collection, site) if fmt == "html" else opml(collection, site)
                yield Rendered(name, fmt, pages, body, newest_of_pages, compress(body))
    jobs_list = sorted(stale_feeds.items())
    if len(jobs_list) >= PARALLEL_MIN_FEEDS:
        # Newest documents first, whatever their feed: the feeds that show an
        # article then come close together, while its entry is still kept (render.syndication).
        newest = index.archive_dates()
        newest.update((path, int(feed.newest.timestamp())) for path, feed in fresh.items() if feed.newest)
        jobs_list.sort(key=lambda job: -newest.get(job[0], 0))
    bases: dict[str, Feed | None] = {}  # each feed as its archive documents need it: name and size, no items

    def base(path: str, feed: Feed | None = None) -> Feed | None:
        if path not in bases:
            if feed is None:
                feed = fresh.get(path) or index.feed(path, now, site.items_per_feed)
            bases[path] = feed if feed is None else replace(feed, articles=(), total=feed.size, latest=feed.newest)
        return bases[path]

    def feeds() -> Iterator[tuple[Feed, list[str]]]:
        for path, formats in jobs_list:
            in_archive = split_archive_path(path)
            if in_archive is None:
                feed = fresh.get(path) or linked(index, site, index.feed(path, now, site.items_per_feed))
                base(path, feed)
            else:
                feed_of = base(in_archive[0])
                feed = archive_feed(index, feed_of, in_archive[1], now) if feed_of is not None else None
            if feed is not None:
                yield feed, formats

    if jobs <= 1 or len(jobs_list) < PARALLEL_MIN_FEEDS:
        yield from site_pages()
        for feed, formats in feeds():
            yield from _render_feed((feed, formats, site, placer))
        return
    from ..pool import pooled_map
    pending = site_pages()
    for documents in pooled_map(_render_feed, ((feed, formats, site, placer) for feed, formats in feeds()), jobs,
                                ahead=16 * jobs):
        yield from documents
        # This process's own documents (the index page lists every feed: 0.3 s at 100,000
        # articles) are made once the rendering processes have work, not before they start.
        yield from pending
    yield from pending


def _render_feed(job: tuple) -> list[Rendered | Placed]:
    """(feed, formats, site, placer or None) -> its documents, or what the placer made of them."""
    feed, formats, site, placer = job
    version = feed_version(feed, site)
    newest = int(feed_updated(feed, site).timestamp())
    bodies = render_formats(feed, formats, site)
    # Compressed here, on the rendering processes, once per version of each document.
    path = document_path(feed)
    # The newest archive document still takes the items that leave the subscription document.
    lifetime = "archive" if is_archive(feed) and feed.archive.newer else ""
    documents = [Rendered(f"{path}.{fmt}", fmt, f"{fmt}:{version}", bodies[fmt], newest, compress(bodies[fmt]),
                          lifetime) for fmt in formats]
    return documents if placer is None else [placer.place(document) for document in documents]


