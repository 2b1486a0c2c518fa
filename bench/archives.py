#!/usr/bin/env python3
"""Archives on and off, side by side in one run, against the scan floor.

usage: bench/archives.py CORPUS [--runs 3]

Each round, in this order (alternating what is compared, so the machine's
load falls on both):
  floor        one Python process listing and stat-ing every file (os.scandir + stat)
  cold-off     `feeds export OUT --no-cache` with archives = false
  cold-on      the same with archives on (the default)
  warm         `feeds export` again with its index, archives on, nothing changed
  add-one      the same after adding one article (removed again afterwards)
  backdate     the same after adding one article dated years back (removed again afterwards)
Then the export's archive: how many documents, their sizes, and how many
archive documents one new article and one back-dated article rewrote.
Wall time and peak RSS come from GNU time. Prints each run, then medians and ratios.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from export_vs_hugo import summary_counts, timed  # noqa: E402 - one way to time a command
from scale import FLOOR, VENV  # noqa: E402 - the same floor as bench/scale.py

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


def article(corpus: Path, slug: str, when: str) -> Path:
    path = corpus / f"zz-bench-{slug}.md"
    path.write_text(ARTICLE.format(title=f"Benchmark {slug}", when=when, slug=slug))
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and "/archive/" in f"/{p.relative_to(root)}"
            and p.suffix == ".atom"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-archives-"))
    feeds = str(VENV / "feeds")
    base = [feeds, "export", "--content", str(args.corpus), "--base-url", "https://bench.example/", "--quiet"]
    off_env = {**os.environ, "FEEDS_ARCHIVES": "false"}
    results: dict[str, list[tuple[float, int]]] = {}

    def record(name: str, wall: float, rss: int, stderr: str = "") -> None:
        results.setdefault(name, []).append((wall, rss))
        print(f"  {name:10s} {wall:7.2f} s {rss / 1024:7.0f} MB  {summary_counts(stderr) if stderr else ''}",
              flush=True)

    def export(out: Path, *extra: str, env=None) -> tuple[float, int, str]:
        command = [*base[:2], str(out), *base[2:], *extra]
        if env is None:
            return timed(command)
        started = time.monotonic()
        done = subprocess.run(["/usr/bin/time", "-v", "-o", str(work / "t"), *command], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - started
        if done.returncode:
            sys.exit(done.stderr[-2000:])
        import re
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", (work / "t").read_text()).group(1))
        return wall, rss, done.stderr

    long_ago = "2014-06-01T12:00:00Z"
    for run in range(args.runs):
        print(f"round {run + 1}", flush=True)
        floor = subprocess.run([sys.executable, "-c", FLOOR, str(args.corpus)], capture_output=True, text=True)
        record("floor", float(floor.stdout.split()[1]), 0)
        for name, env in (("cold-off", off_env), ("cold-on", None)):
            out = work / f"{name}-{run}"
            wall, rss, err = export(out, "--no-cache", env=env)
            record(name, wall, rss, err)
            if run < args.runs - 1 or name == "cold-off":
                shutil.rmtree(out)
        out, cache = work / "public", ["--cache-dir", str(work / "cache")]
        if run == 0:
            export(out, *cache)
        wall, rss, err = export(out, *cache)
        record("warm", wall, rss, err)
        before = snapshot(out)
        added = article(args.corpus, f"new-{run}", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30)))
        wall, rss, err = export(out, *cache)
        record("add-one", wall, rss, err)
        after = snapshot(out)
        changed_new = sum(1 for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        added.unlink()
        export(out, *cache)
        before = snapshot(out)
        back = article(args.corpus, f"old-{run}", long_ago)
        wall, rss, err = export(out, *cache)
        record("backdate", wall, rss, err)
        after = snapshot(out)
        changed_back = sum(1 for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        back.unlink()
        export(out, *cache)
        print(f"  archive documents (Atom) created, rewritten or removed: new article {changed_new}, "
              f"back-dated {changed_back}", flush=True)

    cold = work / f"cold-on-{args.runs - 1}"
    sizes = [p.stat().st_size for p in cold.rglob("*.atom") if "/archive/" in str(p)]
    documents = sum(1 for _ in cold.rglob("*") if _.is_file())
    print(f"\nexport: {documents} files; {len(sizes)} archive documents per format, "
          f"median {statistics.median(sizes) / 1024:.0f} KiB, largest {max(sizes) / 1024:.0f} KiB (Atom)")
    print("\nmedians:")
    medians = {name: statistics.median(w for w, _ in values) for name, values in results.items()}
    peaks = {name: max(r for _, r in values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"  {name:10s} {value:7.2f} s  peak {peaks[name] / 1024:6.0f} MB")
    floor = medians["floor"]
    print(f"  cold-on / cold-off  {medians['cold-on'] / medians['cold-off']:.2f}  (target <= 1.3)")
    for name in ("warm", "add-one", "backdate"):
        print(f"  {name} / floor  {medians[name] / floor:.2f}  (target <= 1.5)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
