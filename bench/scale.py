#!/usr/bin/env python3
"""Archive-scale benchmark: the builder, the store and the servers, side by
side with the floor of any scan without file events, in one run.

usage: bench/scale.py CORPUS [--runs 3] [--hugo-site SITE] [--tries 10] [--skip-cold]
       [--serve-only] [--no-watch] [--first-timeout S]
       bench/scale.py CORPUS --watch-only OUT --cache-dir C [--tries 10]

CORPUS is a folder from ../shared/tools/gen_corpus.py. Each round measures,
in this order:
  floor     one Python process listing and stat-ing every file (os.scandir + stat)
            (again as floor-2 after the cold builds, just before the warm runs)
  hugo      (with --hugo-site) Hugo's topic-RSS build of the same articles
  cold      `feeds export OUT --no-cache` (a temporary index, every file read)
  index     `feeds export OUT --cache-dir C` into an empty cache (a cold build that keeps its index)
  warm      the same again, nothing changed
  add-one   the same after adding one article (removed again afterwards)
Then, once: the live server (`gunicorn -w 2 wsgi:app`, its builder process
started by a worker) on the store built above: start to first 200, memory
(PSS) of the master, the workers and the builder; then `--tries` times a new,
an edited and a removed article, timed from the file write until the server
sends the updated document; then the same for `feeds export OUT --watch`.
With --watch-only, only that last part, on an export folder and a cache
made before (`feeds export OUT --cache-dir C --base-url https://bench.example/`;
at 1M that export alone takes about 12 minutes).
Wall time and peak RSS come from GNU time. Prints each run, then medians and
ratios.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from export_vs_hugo import timed  # noqa: E402 - one way to time a command
ROOT = HERE.parent
VENV = ROOT / ".venv" / "bin"
FLOOR = """
import os, sys, time
def walk(top):
    n = 0
    with os.scandir(top) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                n += walk(e.path)
            else:
                e.stat(); n += 1
    return n
t = time.monotonic(); n = walk(sys.argv[1]); print(n, time.monotonic() - t)
"""
ARTICLE = """---
title: "{title}"
excerpt: "Written by the benchmark."
publishedDateTime: {when}
webUrl: "https://bench.example/{slug}"
published: true
provider:
  name: Bench
  domain: bench.example
topics:
  - AI
  - Benchmarks
---
"""


def write_article(corpus: Path, slug: str, title: str) -> Path:
    path = corpus / f"zz-bench-{slug}.md"
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30))
    path.write_text(ARTICLE.format(title=title, when=when, slug=slug))
    return path


def pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def titles_of(data: bytes) -> list[str]:
    try:
        return [item["title"] for item in json.loads(data)["items"]]
    except (ValueError, KeyError, TypeError):
        return []


def until(condition, timeout: float = 60.0, interval: float = 0.005) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("condition not met")
        time.sleep(interval)
    return time.monotonic() - started


def changes(corpus: Path, tries: int, seen) -> dict[str, list[float]]:
    """Seconds from each file change until `seen(title, present)` holds."""
    results: dict[str, list[float]] = {"add": [], "edit": [], "remove": []}
    for n in range(tries):
        slug = f"live-{os.getpid()}-{n}"
        started = time.monotonic()
        path = write_article(corpus, slug, f"Live benchmark {slug}")
        until(lambda: seen(f"Live benchmark {slug}", True))
        results["add"].append(time.monotonic() - started)
        started = time.monotonic()
        write_article(corpus, slug, f"Live benchmark {slug}, edited")
        until(lambda: seen(f"Live benchmark {slug}, edited", True))
        results["edit"].append(time.monotonic() - started)
        started = time.monotonic()
        path.unlink()
        until(lambda: seen(f"Live benchmark {slug}, edited", False))
        results["remove"].append(time.monotonic() - started)
        time.sleep(0.2)
    return results


def serve(corpus: Path, cache: Path, tries: int, first_timeout: float = 300.0) -> dict:
    port = free_port()
    env = {**os.environ, "FEEDS_CONTENT": str(corpus), "FEEDS_CACHE_DIR": str(cache),
           "FEEDS_BASE_URL": "https://bench.example/"}
    log = open(cache / "server.log", "w+")
    started, started_at = time.monotonic(), time.time() - 1
    server = subprocess.Popen([str(VENV / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    result = {}
    try:
        def ready():
            try:
                return get(port, "/feed.json")[0] == 200
            except OSError:
                return False
        result["first 200 s"] = until(ready, first_timeout, 0.02)
        until(lambda: get(port, "/healthz")[0] == 200, 600, 0.2)
        # The builder holding the store's lock wrote its pid into the lock file.
        (lock,) = cache.glob("store-*/builder.lock")
        def holder() -> int | None:
            """The live builder that took the lock since this server started (not the last one's pid)."""
            words = lock.read_text().split()
            if not words or lock.stat().st_mtime < started_at:
                return None
            return int(words[0]) if Path(f"/proc/{words[0]}").exists() else None
        until(holder, 60, 0.1)
        builder = holder()
        time.sleep(3)  # the builder's warm start (a full scan) is over when the log says so
        until(lambda: "store" in log_text(log), 600, 0.5)
        workers = children(server.pid)
        result["pss MB"] = {"master": pss_kb(server.pid) / 1024,
                            **{f"worker {i}": pss_kb(w) / 1024 for i, w in enumerate(w for w in workers if w != builder)},
                            "builder": pss_kb(builder) / 1024}
        result["live s"] = changes(corpus, tries,
                                   lambda title, present: (title in titles_of(get(port, "/topics/ai.json")[1])) == present)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        log.close()
    return result


def log_text(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def watch(corpus: Path, out: Path, cache: Path, tries: int) -> dict:
    log = open(cache / "watch.log", "w+")
    process = subprocess.Popen([str(VENV / "feeds"), "export", str(out), "--watch", "--content", str(corpus),
                                "--cache-dir", str(cache), "--base-url", "https://bench.example/"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        until(lambda: "documents written" in log_text(log), 600, 0.2)
        time.sleep(1)

        def seen(title, present):
            try:
                return (title in titles_of((out / "topics" / "ai.json").read_bytes())) == present
            except OSError:
                return False
        return {"watch s": changes(corpus, tries, seen)}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hugo-site", type=Path)
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--skip-cold", action="store_true", help="no `--no-cache` export (it takes minutes at 1M)")
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--serve-only", action="store_true", help="only the live server (and --watch), on a new cache")
    parser.add_argument("--no-watch", action="store_true")
    parser.add_argument("--first-timeout", type=float, default=300.0,
                        help="seconds the server's builder may take to fill an empty store")
    parser.add_argument("--watch-only", type=Path, metavar="OUT", help="only `feeds export OUT --watch`")
    parser.add_argument("--cache-dir", type=Path, help="with --watch-only: the cache OUT was exported with")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    if args.watch_only:
        if not args.cache_dir:
            parser.error("--watch-only needs --cache-dir")
        try:
            watched = watch(corpus, args.watch_only.resolve(), args.cache_dir.resolve(), args.tries)
        finally:
            for leftover in corpus.glob("zz-bench-*.md"):
                leftover.unlink()
        for kind, values in watched["watch s"].items():
            print(f"watch {kind:6}: max {max(values):.3f} s, median {statistics.median(values):.3f} s "
                  f"over {len(values)} tries: " + " ".join(f"{value:.3f}" for value in values))
        return
    work = Path(tempfile.mkdtemp(prefix="feeds-scale-"))
    out, cache = work / "public", work / "cache"
    feeds = str(VENV / "feeds")
    export = [feeds, "export", str(out), "--content", str(corpus), "--base-url", "https://bench.example/"]
    names = ["floor", "hugo", "cold", "index", "floor-2", "warm", "add-one"]
    rows: dict[str, list[tuple[float, int]]] = {name: [] for name in names}
    print(f"corpus {corpus}, {time.strftime('%Y-%m-%d %H:%M')}, commit "
          + subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True).stdout.strip(), flush=True)
    try:
        for run in range(1, 0 if args.serve_only else args.runs + 1):
            wall, rss, _ = timed([sys.executable, "-c", FLOOR, str(corpus)])
            rows["floor"].append((wall, rss))
            if args.hugo_site:
                line = subprocess.run([str(HERE / "hugo" / "run_hugo.sh"), str(args.hugo_site)],
                                      capture_output=True, text=True, check=True).stdout
                rows["hugo"].append((float(re.search(r"wall_s=([\d.]+)", line).group(1)),
                                     int(re.search(r"maxrss_kb=(\d+)", line).group(1))))
            if not args.skip_cold:
                shutil.rmtree(out, ignore_errors=True)
                rows["cold"].append(timed(export + ["--no-cache", "--quiet"])[:2])
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            rows["index"].append(timed(export + ["--cache-dir", str(cache), "--quiet"])[:2])
            # The floor again, in the state the cold builds left the caches in, just before the warm runs.
            wall, rss, _ = timed([sys.executable, "-c", FLOOR, str(corpus)])
            rows["floor-2"].append((wall, rss))
            wall, rss, err = timed(export + ["--cache-dir", str(cache)])
            rows["warm"].append((wall, rss))
            warm_line = err.strip().splitlines()[-1]
            added = write_article(corpus, "added", "Benchmark: one new article")
            time.sleep(2.1)  # past the index's racy-timestamp window
            try:
                wall, rss, err = timed(export + ["--cache-dir", str(cache)])
            finally:
                added.unlink()
            rows["add-one"].append((wall, rss))
            added_line = err.strip().splitlines()[-1]
            timed(export + ["--cache-dir", str(cache), "--quiet"])
            print(f"run {run}: " + ", ".join(f"{k} {v[-1][0]:.2f} s {v[-1][1] / 1024:.0f} MB"
                                              for k, v in rows.items() if v), flush=True)
            print(f"   warm: {warm_line}\n   add-one: {added_line}", flush=True)
        floor = statistics.median(w for w, _ in rows["floor"]) if rows["floor"] else 1.0
        print(f"\nmedians of {args.runs} rounds; ratios to the floor (scandir + stat) and to cold")
        cold = statistics.median(w for w, _ in rows["cold"]) if rows["cold"] else None
        hugo = statistics.median(w for w, _ in rows["hugo"]) if rows["hugo"] else None
        hugo_rss = statistics.median(r for _, r in rows["hugo"]) if rows["hugo"] else None
        for name, values in rows.items():
            if not values:
                continue
            wall = statistics.median(w for w, _ in values)
            rss = statistics.median(r for _, r in values) / 1024
            extra = f"  × floor {wall / floor:6.2f}"
            if cold:
                extra += f"  × cold {wall / cold:6.3f}"
            if hugo:
                extra += f"  × Hugo {wall / hugo:6.3f}  RSS × Hugo {rss * 1024 / hugo_rss:6.3f}"
            if name in ("warm", "add-one"):
                extra += f"  × floor-2 {wall / statistics.median(w for w, _ in rows['floor-2']):6.2f}"
            print(f"{name:8} {wall:8.2f} s  peak {rss:7.0f} MB{extra}")
        if not args.no_serve:
            # the store: built by the server's own builder (warm index), then a second start measured
            cache.mkdir(parents=True, exist_ok=True)
            first = serve(corpus, cache, 0, args.first_timeout)
            second = serve(corpus, cache, args.tries)
            print(f"\nserver, first start (store built by its builder): first 200 after {first['first 200 s']:.2f} s")
            print(f"server, second start: first 200 after {second['first 200 s']:.2f} s")
            print("memory (PSS, MB): " + ", ".join(f"{k} {v:.0f}" for k, v in second["pss MB"].items())
                  + f"; total {sum(second['pss MB'].values()):.0f}")
            for kind, values in second["live s"].items():
                print(f"live {kind:6}: max {max(values):.3f} s, median {statistics.median(values):.3f} s "
                      f"over {len(values)} tries")
            watched = {"watch s": {}} if args.no_watch else watch(corpus, work / "watched", cache, args.tries)
            for kind, values in watched["watch s"].items():
                print(f"watch {kind:6}: max {max(values):.3f} s, median {statistics.median(values):.3f} s "
                      f"over {len(values)} tries")
    finally:
        for leftover in corpus.glob("zz-bench-*.md"):
            leftover.unlink()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
