#!/usr/bin/env python3
"""Where the CPU time of a cold export goes: each piece of work measured on
its own, in one process, so that the sum says what any schedule of the same
work on N cores can reach at best.

usage: bench/cold_budget.py CORPUS [--out DIR] [--cores 2] [--wall S] [--hugo S]

CORPUS is a folder from ../shared/tools/gen_corpus.py. DIR (default: a new
temporary folder) receives the written files; put it on the volume the
export would use, as file creation costs differ by file system. --wall and
--hugo are measured elsewhere (bench/scale.py prints both) and only
compared with: the budget's floor is (sum of CPU seconds) / cores, reached
only if the work split perfectly and nothing else ran.

Each row is user + system CPU seconds of this process (os.times), for the
whole corpus:
  parse         read every file and make its record (the read stage)
  index         fill a temporary article index with them, then its indexes
  feeds         every feed's newest items from the index, and its fingerprint
  atom+rss      feedgen, both from one generator where they can share it
  json, html    JSON Feed; the feed pages (Jinja)
  brotli, gzip  each document's two compressed copies, at the export's settings
  write         every document and its copies as files (temporary file + rename)
Not counted: moving records and documents between processes, the manifest,
the index page and OPML list, process start-up.
"""
from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from feeds import encodings  # noqa: E402
from feeds.builder import index_identity  # noqa: E402
from feeds.builder.index import Index  # noqa: E402
from feeds.config import load_config  # noqa: E402
from feeds.read import parse_stream  # noqa: E402
from feeds.render import feed_version, render_formats  # noqa: E402
from feeds.writers import atomic_write, make_dir  # noqa: E402


class Budget:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def measure(self, name: str, work, note: str = ""):
        before = os.times()
        result = work()
        after = os.times()
        self.rows.append((name, (after.user - before.user) + (after.system - before.system), note))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--wall", type=float, help="a cold export's wall seconds, measured elsewhere")
    parser.add_argument("--hugo", type=float, help="Hugo's wall seconds, measured elsewhere")
    args = parser.parse_args()
    config = load_config(None, {"content": str(args.corpus), "base_url": "https://bench.example/"})
    site, limits, content = config.site, config.limits, args.corpus.resolve()
    budget = Budget()
    import gc
    gc.disable()  # as the export's readers and builders run

    paths = sorted(entry.path for entry in os.scandir(content) if entry.name.endswith(".md"))
    # Through the export's own reading function, one process: (path, name) -> Article | Problem.
    results = budget.measure("parse", lambda: [result for _, result in
                                               parse_stream(((p, os.path.basename(p)) for p in paths), limits, 1)],
                             f"{len(paths):,} files")

    index = Index(None, index_identity(config))

    def fill() -> None:
        for start in range(0, len(results), 2000):
            index.update([(r.source, 1 + start, r) for r in results[start:start + 2000]], fresh=True)
        index.finish_bulk()

    budget.measure("index", fill)
    now = int(time.time())
    feeds = budget.measure("feeds", lambda: [(f, feed_version(f, site)) for f in
                                             (index.feed(p, now, site.items_per_feed) for p in index.feed_paths())
                                             if f is not None], "")
    budget.rows[-1] = (*budget.rows[-1][:2], f"{len(feeds):,} feeds")
    documents: dict[str, bytes] = {}
    for name, formats in (("atom+rss", ["atom", "rss"]), ("json", ["json"]), ("html", ["html"])):
        def render(formats=formats) -> None:
            for feed, _ in feeds:
                for fmt, body in render_formats(feed, formats, site).items():
                    documents[f"{feed.path}.{fmt}"] = body
        budget.measure(name, render)
    raw = sum(map(len, documents.values()))
    budget.rows[-1] = (*budget.rows[-1][:2], f"{len(documents):,} documents, {raw / 1e6:.0f} MB")
    import brotli
    copies: dict[str, bytes] = {}
    budget.measure("brotli", lambda: copies.update(
        (f"{p}.br", brotli.compress(b, quality=encodings.BROTLI_QUALITY)) for p, b in documents.items()),
        f"quality {encodings.BROTLI_QUALITY}")
    budget.measure("gzip", lambda: copies.update(
        (f"{p}.gz", gzip.compress(b, compresslevel=encodings.GZIP_LEVEL, mtime=0)) for p, b in documents.items()),
        f"level {encodings.GZIP_LEVEL}")

    out = args.out or Path(tempfile.mkdtemp(prefix="feeds-budget-"))
    target = out / "budget-export"
    shutil.rmtree(target, ignore_errors=True)

    def write() -> None:
        for folder in ("topics", "providers"):
            make_dir(target / folder)
        for path, body in (*documents.items(), *copies.items()):
            atomic_write(target / path, body)

    budget.measure("write", write, f"{len(documents) + len(copies):,} files under {out}")
    shutil.rmtree(target, ignore_errors=True)
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)

    total = sum(seconds for _, seconds, _ in budget.rows)
    print(f"corpus {args.corpus}, {time.strftime('%Y-%m-%d %H:%M')}, {args.cores} cores")
    for name, seconds, note in budget.rows:
        print(f"{name:10s} {seconds:6.2f} CPU-s  {seconds / total:5.1%}  {note}")
    floor = total / args.cores
    print(f"{'total':10s} {total:6.2f} CPU-s; on {args.cores} cores at best {floor:.2f} s")
    if args.wall:
        print(f"a cold export measured at {args.wall:.2f} s: {floor / args.wall:.0%} of it is this floor")
    if args.hugo:
        print(f"Hugo {args.hugo:.2f} s: the floor is {floor / args.hugo:.2f} × Hugo "
              f"(0.35 × Hugo = {0.35 * args.hugo:.2f} s)")


if __name__ == "__main__":
    main()
