#!/usr/bin/env python3
"""Web benchmark: the app under gunicorn against a bare WSGI callable serving the
same bytes on the same gunicorn settings, with wrk on loopback; plus the app's
start-up time and memory on a large corpus.

usage: bench/web_vs_bare.py CORPUS [--runs 3] [--path /topics/ai.atom] [--workers 2]
       [--duration 10] [--connections 16]

Each round alternates: app 200s, bare 200s, app 304s, bare 304s. Start-up is
the time from spawning gunicorn (with a warm parse cache, as after a deploy
that kept the cache folder, and once cold) to the first 200; memory is the sum
of the RSS of the gunicorn master and workers after the load.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        except (OSError, AttributeError):
            pass
    return total


class Gunicorn:
    def __init__(self, module: str, env: dict, workers: int):
        self.port = free_port()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--log-level", "warning", "--preload", module],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, path: str, timeout: float = 600) -> float:
        while time.monotonic() - self.started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def wrk(port: int, path: str, duration: int, connections: int, header: str | None = None) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", f"http://127.0.0.1:{port}{path}"]
    if header:
        command[1:1] = ["-H", header]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses", output):
        sys.exit("unexpected error responses:\n" + output)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", default="/topics/ai.atom")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="feeds-bench-cache-")
    env = {"FEEDS_CONTENT": str(args.corpus.resolve()), "FEEDS_CACHE_DIR": cache,
           "FEEDS_BASE_URL": "https://bench.example/"}

    cold = Gunicorn("wsgi:app", env, args.workers)
    cold_start = cold.wait_ready(args.path)
    cold.stop()
    app = Gunicorn("wsgi:app", env, args.workers)
    warm_start = app.wait_ready(args.path)
    with urllib.request.urlopen(f"http://127.0.0.1:{app.port}{args.path}") as response:
        body, etag, ctype = response.read(), response.headers["ETag"], response.headers["Content-Type"]
    body_file = Path(cache) / "body"
    body_file.write_bytes(body)
    bare = Gunicorn("bench.bare_wsgi:app", {"BARE_BODY": str(body_file), "BARE_ETAG": etag, "BARE_TYPE": ctype},
                    args.workers)
    bare.wait_ready(args.path)
    results: dict[str, list[float]] = {"app 200": [], "bare 200": [], "app 304": [], "bare 304": []}
    try:
        for run in range(1, args.runs + 1):
            for name, server, header in (("app 200", app, None), ("bare 200", bare, None),
                                         ("app 304", app, f"If-None-Match: {etag}"),
                                         ("bare 304", bare, f"If-None-Match: {etag}")):
                results[name].append(wrk(server.port, args.path, args.duration, args.connections, header))
            print(f"run {run}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in results.items()))
        memory = rss_kb(app.process.pid)
    finally:
        app.stop()
        bare.stop()
    medians = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedians of {args.runs} alternating runs, {len(body)} byte body, {args.workers} sync workers")
    print(f"cached 200: {medians['app 200']:.0f}/s vs bare {medians['bare 200']:.0f}/s = "
          f"{medians['app 200'] / medians['bare 200']:.3f}")
    print(f"304:        {medians['app 304']:.0f}/s vs bare {medians['bare 304']:.0f}/s = "
          f"{medians['app 304'] / medians['bare 304']:.3f}")
    print(f"start-up: {cold_start:.1f} s with an empty parse cache, {warm_start:.1f} s with a warm one")
    print(f"memory (master + workers, after load): {memory / 1024:.0f} MB")


if __name__ == "__main__":
    main()
