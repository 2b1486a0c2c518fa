#!/usr/bin/env python3
"""The production server against gunicorn and against a bare WSGI callable, with
wrk on loopback; then slow clients against each server.

usage: bench/production_server.py CORPUS [--runs 3] [--path /topics/ai.atom] [--duration 10]
       [--connections 16] [--slow 12,300,1000,3000] [--cache-dir DIR]

Three servers run side by side on one document store:
  granian app   the production command, as `make run` runs it (`make server-command`)
  gunicorn app  `gunicorn -w 2 wsgi:app` (2 sync workers, gunicorn's defaults)
  granian bare  the production command serving bench/bare_wsgi.py, the same bytes and
                headers with no framework, cache or routing
The store is built first by the granian app's builder (until /healthz answers 200).
Each round polls the path with no validator (200) and with the current ETag (304),
each server in turn, in a rotating order; medians of the rounds and their ratios, and
the CPU time the server's processes spent per request (wrk runs on the same cores).

Slow clients: for each count N, N connections that send part of a request line or
of the headers, or nothing (a third each), then 5 normal requests (a 200 and a 304
on new connections, 5 s timeout each): their latency, or "no answer". Measured
against the granian app, `gunicorn -w 2 wsgi:app` and gunicorn as `make run` ran it
before (2 workers x 4 threads).
"""
from __future__ import annotations

import argparse
import http.client
import os
import shlex
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
from web_vs_bare import PYTHON, ROOT, free_port, rss_kb, wrk  # noqa: E402 - the same client and measures

PROBE_TIMEOUT = 5.0


def production_command(port: int, target: str = "wsgi:app", access_log: bool = True) -> list[str]:
    """The command `make run` runs, on another port (and, for the bare callable, another target)."""
    printed = subprocess.run(["make", "-s", "--no-print-directory", "server-command", f"PORT={port}",
                              f"BIN={PYTHON.parent}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    command = shlex.split(printed)
    assert command[-1] == "wsgi:app", command
    return [option for option in command[:-1] if access_log or option != "--access-log"] + [target]


class Server:
    def __init__(self, name: str, command, env: dict, port: int):
        self.name, self.port, self.command = name, port, command
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def get(self, path: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def wait_for(self, path: str, timeout: float = 900) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {shlex.join(self.command)}")
            try:
                if self.get(path, timeout=5)[0] == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer 200 on {path}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything it left behind
        except ProcessLookupError:
            pass


def cpu_seconds(server: Server) -> float:
    """User + system time of the server's processes (main, workers; not a builder) so far."""
    pids = [server.process.pid] + [int(pid) for pid in subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def slow_case(server: Server, count: int, path: str, etag: str) -> str:
    """Open `count` slow or idle connections, then time 5 normal requests."""
    partial = [b"GET " + path.encode() + b" HT", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow", b""]
    sockets, opened = [], ""
    try:
        for number in range(count):
            try:
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=PROBE_TIMEOUT)
            except OSError as error:  # the listen queue is full
                opened = f"only {number} connections could be opened ({error}); "
                break
            if partial[number % 3]:
                sock.sendall(partial[number % 3])
            sockets.append(sock)
        time.sleep(0.2)
        memory = rss_kb(server.process.pid)
        latencies, failures = [], 0
        for attempt in range(5):
            started = time.monotonic()
            try:
                status = server.get(path, {"If-None-Match": etag} if attempt % 2 else None, PROBE_TIMEOUT)[0]
                assert status in (200, 304), status
                latencies.append(time.monotonic() - started)
            except OSError:
                failures += 1
    finally:
        for sock in sockets:
            sock.close()
    answered = (f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
                if latencies else "")
    refused = f"{failures} of 5 with no answer in {PROBE_TIMEOUT:.0f} s" if failures else "5 of 5 answered"
    return f"{opened}{refused}{'; ' if answered else ''}{answered}; server RSS {memory / 1024:.0f} MB"


def recover(server: Server, path: str, timeout: float = 120) -> None:
    """Wait until the server answers a normal request within a second again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if server.get(path, timeout=1)[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{server.name} did not recover")


def versions() -> str:
    def version(*command) -> str:
        result = subprocess.run(command, capture_output=True, text=True)
        return (result.stdout or result.stderr).strip().splitlines()[0]
    return "; ".join([version(str(PYTHON), "--version"), version(str(PYTHON.parent / "granian"), "--version"),
                      "gunicorn " + version(str(PYTHON), "-c", "import gunicorn; print(gunicorn.__version__)"),
                      version("wrk", "--version"), f"{os.cpu_count()} CPUs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", default="/topics/ai.atom")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--slow", default="12,300,1000,3000", help="counts of slow connections, comma-separated")
    parser.add_argument("--cache-dir", help="reuse this cache folder (its store) instead of a new one")
    parser.add_argument("--no-access-log", action="store_true",
                        help="run both granian servers without the production command's --access-log")
    args = parser.parse_args()
    slow_counts = [int(n) for n in args.slow.split(",") if n]
    cache = args.cache_dir or tempfile.mkdtemp(prefix="feeds-bench-cache-")
    env = {"FEEDS_CONTENT": str(args.corpus.resolve()), "FEEDS_CACHE_DIR": cache,
           "FEEDS_BASE_URL": "https://bench.example/"}
    print(versions())
    port = free_port()
    logged = not args.no_access_log
    print("production command:", shlex.join(production_command(port, access_log=logged)))

    app = Server("granian app", production_command(port, access_log=logged), env, port)
    servers = [app]
    try:
        built = app.wait_for("/healthz")
        print(f"store ready (/healthz 200) after {built:.1f} s")
        status, headers, body = app.get(args.path)
        etag = headers["etag"]
        body_file = Path(cache) / "bare-body"
        body_file.write_bytes(body)
        port = free_port()
        gunicorn = Server("gunicorn app", [str(PYTHON), "-m", "gunicorn", "-w", "2", "--bind", f"127.0.0.1:{port}",
                                           "wsgi:app"], env, port)
        port = free_port()
        bare = Server("granian bare", production_command(port, "bench.bare_wsgi:app", logged),
                      {"BARE_BODY": str(body_file), "BARE_ETAG": etag, "BARE_TYPE": headers["content-type"]}, port)
        servers += [gunicorn, bare]
        for server in servers:
            server.wait_for(args.path)
        print(f"{args.path}: {len(body)} bytes, ETag {etag}; wrk -t2 -c{args.connections} -d{args.duration}s\n")

        order = [app, gunicorn, bare]
        results = {(server.name, kind): [] for server in order for kind in ("200", "304")}
        cost = {key: [] for key in results}  # server CPU microseconds per request
        for run in range(1, args.runs + 1):
            for kind, header in (("200", None), ("304", f"If-None-Match: {etag}")):
                for server in order:
                    before, started = cpu_seconds(server), time.monotonic()
                    rate = wrk(server.port, args.path, args.duration, args.connections, header)
                    used, elapsed = cpu_seconds(server) - before, time.monotonic() - started
                    results[server.name, kind].append(rate)
                    cost[server.name, kind].append(used / (rate * elapsed) * 1e6)
            print(f"run {run}: " + ", ".join(f"{name} {kind} {values[-1]:.0f}/s ({cost[name, kind][-1]:.0f} us)"
                                              for (name, kind), values in results.items()), flush=True)
            order = order[1:] + order[:1]
        memory = {server.name: rss_kb(server.process.pid) for server in servers}
        medians = {key: statistics.median(values) for key, values in results.items()}
        print(f"\nmedians of {args.runs} alternating runs: requests/s (server CPU time per request)")
        names = ("granian app", "gunicorn app", "granian bare")
        for kind in ("200", "304"):
            granian, guni, plain = (medians[name, kind] for name in names)
            print(f"{kind}: " + ", ".join(f"{name} {medians[name, kind]:.0f} "
                                          f"({statistics.median(cost[name, kind]):.0f} us)" for name in names)
                  + f"; granian/gunicorn {granian / guni:.2f}, granian/bare {granian / plain:.3f}")
        print("memory after the load (RSS, main process + workers): "
              + ", ".join(f"{name} {kb / 1024:.0f} MB" for name, kb in memory.items()))

        if not slow_counts:
            return
        bare.stop()
        servers.remove(bare)
        port = free_port()
        threaded = Server("gunicorn 2x4 threads", [str(PYTHON), "-m", "gunicorn", "-w", "2", "--threads", "4",
                                                   "--bind", f"127.0.0.1:{port}", "wsgi:app"], env, port)
        servers.append(threaded)
        threaded.wait_for(args.path)
        print(f"\nslow clients: N connections sending part of a request line, part of the headers, or nothing; "
              f"then 5 requests on new connections ({PROBE_TIMEOUT:.0f} s timeout)")
        for count in slow_counts:
            for server in (app, gunicorn, threaded):
                recover(server, args.path)
                print(f"N={count:<5} {server.name:<21} {slow_case(server, count, args.path, etag)}", flush=True)
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
