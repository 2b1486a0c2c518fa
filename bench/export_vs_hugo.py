#!/usr/bin/env python3
"""Export benchmark: `feeds export` against Hugo, side by side, alternating runs.

usage: bench/export_vs_hugo.py CORPUS HUGO_SITE [--runs 3] [--feeds .venv/bin/feeds]

CORPUS is a folder from ../shared/tools/gen_corpus.py; HUGO_SITE is made from
it by bench/hugo/make_site.py. Each round runs, in this order: Hugo (its
topic-RSS build), a cold `feeds export --no-cache`, a warm re-export with
nothing changed, and a re-export after adding one article (removed again
afterwards). Wall time and peak RSS come from GNU time (`/usr/bin/time -v`);
the peak of `feeds` includes its worker processes' largest. Prints each run
and the medians with their ratios to Hugo's.
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADDED = """---
title: "Benchmark: one new article about federated learning"
excerpt: "Added by the benchmark to measure an incremental re-export."
publishedDateTime: {when}
webUrl: "https://bench.example/new-article"
published: true
provider:
  name: Bench
  domain: venturebeat.com
topics:
  - AI
  - Federated Learning
---
"""


def timed(command: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS kB, stderr) of one command under GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.monotonic()
        done = subprocess.run(["/usr/bin/time", "-v", "-o", report.name, *command],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - started
        text = Path(report.name).read_text()
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return wall, rss, done.stderr


def summary_counts(stderr: str) -> str:
    line = [l for l in stderr.splitlines() if "documents written" in l]
    return line[-1] if line else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("hugo_site", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--feeds", default=str(HERE.parent / ".venv" / "bin" / "feeds"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    out, cache = work / "public", work / "cache"
    added = args.corpus / "zz-bench-added-article.md"
    export = [args.feeds, "export", str(out), "--content", str(args.corpus), "--base-url", "https://bench.example/",
              "--cache-dir", str(cache), "--quiet"]
    rows: dict[str, list[tuple[float, int]]] = {k: [] for k in ("hugo", "cold", "warm", "add-one")}
    try:
        for run in range(1, args.runs + 1):
            line = subprocess.run([str(HERE / "hugo" / "run_hugo.sh"), str(args.hugo_site)],
                                  capture_output=True, text=True, check=True).stdout
            wall, rss = float(re.search(r"wall_s=([\d.]+)", line).group(1)), int(re.search(r"maxrss_kb=(\d+)", line).group(1))
            rows["hugo"].append((wall, rss))
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            rows["cold"].append(timed(export + ["--no-cache"])[:2])
            timed(export)  # fills the parse cache
            wall, rss, err = timed([a for a in export if a != "--quiet"])
            rows["warm"].append((wall, rss))
            warm_counts = summary_counts(err)
            added.write_text(ADDED.format(when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))))
            time.sleep(2.1)  # past the parse cache's racy-timestamp window
            wall, rss, err = timed([a for a in export if a != "--quiet"])
            rows["add-one"].append((wall, rss))
            added_counts = summary_counts(err)
            added.unlink()
            timed(export)
            print(f"run {run}: " + ", ".join(f"{k} {v[-1][0]:.2f} s {v[-1][1] / 1024:.0f} MB" for k, v in rows.items()))
            print(f"   warm: {warm_counts}\n   add-one: {added_counts}")
    finally:
        if added.exists():
            added.unlink()
        shutil.rmtree(work, ignore_errors=True)
    hugo_wall = statistics.median(w for w, _ in rows["hugo"])
    hugo_rss = statistics.median(r for _, r in rows["hugo"])
    print(f"\nmedians of {args.runs} alternating runs")
    print(f"{'':8} {'wall s':>8} {'× Hugo':>7} {'peak MB':>8} {'× Hugo':>7}")
    for name, values in rows.items():
        wall = statistics.median(w for w, _ in values)
        rss = statistics.median(r for _, r in values)
        print(f"{name:8} {wall:8.2f} {wall / hugo_wall:7.3f} {rss / 1024:8.0f} {rss / hugo_rss:7.3f}")


if __name__ == "__main__":
    main()
