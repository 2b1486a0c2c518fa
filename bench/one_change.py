#!/usr/bin/env python3
"""One change, in one process: how long the builder takes from a file
event to a committed store version, and where that time goes.

usage: bench/one_change.py CORPUS CACHE_DIR [--tries 5] [--profile FILE] [--export DIR]

CACHE_DIR holds an index and a store already filled for CORPUS (run
`feeds build --content CORPUS --cache-dir CACHE_DIR` once first). The
builder starts warm (a full scan that finds nothing new), then, `--tries`
times in turn, a new article is written and `Builder.build([its path])`
timed, then the article is removed and that build timed. This is the
builder's share of the live figures of bench/scale.py, without the event
delay, the servers and the other processes on the machine. With --export,
the writer is that export folder (`feeds export --watch`), which should
have been exported from the same cache first. With --profile,
the new-article builds but the first are profiled and the top of the profile printed.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from scale import write_article  # noqa: E402 - the same article as the live figures

from feeds.builder import Builder  # noqa: E402
from feeds.config import load_config  # noqa: E402
from feeds.render import settings_version  # noqa: E402
from feeds.store import open_store  # noqa: E402
from feeds.writers import ExportWriter, StoreWriter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("cache_dir", type=Path)
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--export", type=Path, help="an export folder instead of the document store")
    args = parser.parse_args()
    args.corpus = args.corpus.resolve()
    config = load_config(overrides={"content": str(args.corpus), "cache_dir": str(args.cache_dir)})
    if args.export:
        writer = ExportWriter(args.export, settings_version(config.site))
    else:
        writer = StoreWriter(open_store(config), settings_version(config.site))
    builder = Builder(config, writer, jobs=1)
    started = time.monotonic()
    first = builder.build()
    print(f"warm start: {time.monotonic() - started:.2f} s ({first.line()})", flush=True)
    profile = cProfile.Profile() if args.profile else None
    added, removed = [], []
    try:
        for number in range(args.tries):
            path = write_article(args.corpus, f"one-{number}", f"One change {number}")
            if profile and number:  # the first pays for what is kept between changes
                profile.enable()
            started = time.monotonic()
            report = builder.build([str(path)])
            added.append(time.monotonic() - started)
            if profile and number:
                profile.disable()
            print(f"new: {added[-1]:.3f} s ({report.line()})", flush=True)
            path.unlink()
            started = time.monotonic()
            report = builder.build([str(path)])
            removed.append(time.monotonic() - started)
            print(f"removed: {removed[-1]:.3f} s ({report.line()})", flush=True)
    finally:
        for path in args.corpus.glob("zz-bench-one-*.md"):
            path.unlink()
        builder.close()
    print(f"median new {statistics.median(added):.3f} s, removed {statistics.median(removed):.3f} s; "
          f"max {max(added):.3f} / {max(removed):.3f} s")
    if profile:
        profile.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
