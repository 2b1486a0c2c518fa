"""What compression costs and saves, on an export folder.

    .venv/bin/python bench/compression.py OUTDIR [--runs 3]

OUTDIR is a `feeds export` (its documents and their .gz/.br copies). Prints
the bytes of every document plain, gzip and brotli, and the CPU time to
compress them all again with the builder's settings (median of --runs), to
set beside the CPU time of the cold export that made them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feeds.encodings import BROTLI_QUALITY, GZIP_LEVEL, compress  # noqa: E402


def documents(root: Path) -> list[Path]:
    return sorted(Path(folder, name) for folder, _, names in os.walk(root) for name in names
                  if not name.startswith(".") and not name.endswith((".gz", ".br")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    docs = documents(args.outdir)
    bodies = [path.read_bytes() for path in docs]
    plain = sum(map(len, bodies))
    sizes = {suffix: sum(path.with_name(path.name + suffix).stat().st_size for path in docs) for suffix in (".gz", ".br")}
    print(f"{len(docs)} documents, {plain / 1e6:.1f} MB plain; "
          f"gzip {GZIP_LEVEL}: {sizes['.gz'] / 1e6:.1f} MB ({sizes['.gz'] / plain:.3f}); "
          f"brotli {BROTLI_QUALITY}: {sizes['.br'] / 1e6:.1f} MB ({sizes['.br'] / plain:.3f})")
    by_kind: dict[str, list[int]] = {}
    for path, body in zip(docs, bodies):
        kind = path.suffix.lstrip(".")
        entry = by_kind.setdefault(kind, [0, 0, 0])
        entry[0] += len(body)
        entry[1] += path.with_name(path.name + ".gz").stat().st_size
        entry[2] += path.with_name(path.name + ".br").stat().st_size
    for kind, (p, g, b) in sorted(by_kind.items()):
        print(f"  .{kind}: gzip {g / p:.3f}, brotli {b / p:.3f} of {p / 1e6:.1f} MB")
    seconds = []
    for _ in range(args.runs):
        started = time.process_time()
        for body in bodies:
            compress(body)
        seconds.append(time.process_time() - started)
    print(f"compressing every document again: median {statistics.median(seconds):.2f} s CPU "
          f"({', '.join(f'{s:.2f}' for s in seconds)}), {plain / statistics.median(seconds) / 1e6:.0f} MB/s")


if __name__ == "__main__":
    main()
