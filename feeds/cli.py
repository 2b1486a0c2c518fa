"""The `feeds` command: a thin shell over read -> collect -> render -> deliver."""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from ._version import __version__
from .config import Config, default_cache_dir, load_config
from .exceptions import ConfigError, ExportError, FeedsError, StoreError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
STOP_GRACE_SECONDS = 5.0


def main(argv: Sequence[str] | None = None) -> int:
    for name in ("stdout", "stderr"):  # None when started with the stream closed (`>&-`)
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
    parser = _parser()
    args = parser.parse_args(argv)
    _log_to_stderr()
    try:
        config = _config(args)
        if not config.content.is_dir():
            raise ConfigError(f"content folder not found: {config.content}")
        return args.command(config, args)
    except ConfigError as error:
        print(f"feeds: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ExportError as error:
        print(f"feeds: export failed: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except FeedsError as error:
        print(f"feeds: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except sqlite3.Error as error:  # the article index, once open (a full disk, a lock held too long)
        print(f"feeds: article index error: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout closed early (`feeds list | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


class _Stderr(logging.Handler):
    """Warnings on whatever sys.stderr is at the time (tests redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except (OSError, ValueError):
            pass


def _log_to_stderr() -> None:
    logger = logging.getLogger("feeds")
    if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("feeds: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run() -> None:
    """The `feeds` command: main(), then exit without freeing every object
    one by one, which takes a noticeable part of a re-export's time at 100k
    articles."""
    code = main()
    for stream in (sys.stdout, sys.stderr):  # None when the stream was closed (`>&-`)
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe or stream: the work is done, nothing left to say
    logging.shutdown()
    os._exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feeds", description="Publish Markdown articles as Atom, RSS and JSON feeds.")
    parser.add_argument("--version", action="version", version=f"feeds {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(command=handler)
        sub.add_argument("--config", metavar="FILE", help="configuration file (default: $FEEDS_CONFIG or config/feeds.toml)")
        sub.add_argument("--content", metavar="DIR", help="folder of article files (default: from configuration)")
        return sub

    def caching(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--cache-dir", metavar="DIR", type=Path,
                         help=f"where the article index (and the local document store) is kept between runs "
                              f"(default: {default_cache_dir()})")
        sub.add_argument("--no-cache", action="store_true",
                         help="read every file, with a temporary index (nothing read from or written to the cache)")
        sub.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                         help="processes for parsing and rendering (default: number of CPUs)")

    sub = command("export", cmd_export, "write every feed, the index page and the OPML list into OUTDIR")
    sub.add_argument("outdir", metavar="OUTDIR", type=Path)
    sub.add_argument("--base-url", metavar="URL", help="public address the folder will be served from")
    sub.add_argument("--quiet", "-q", action="store_true", help="print only problems: no progress, no summary")
    sub.add_argument("--watch", action="store_true",
                     help="keep OUTDIR current until stopped (Ctrl-C or SIGTERM), one log line per change")
    caching(sub)
    sub = command("build", cmd_build, "keep the document store the web servers read current (the builder)")
    sub.add_argument("--watch", action="store_true", help="keep building as articles change, until stopped")
    sub.add_argument("--if-free", action="store_true", help="exit quietly if another builder holds the store")
    sub.add_argument("--parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    sub.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    caching(sub)
    sub = command("check", cmd_check, "read every article and report each problem as 'file: what is wrong'")
    sub.add_argument("--strict", action="store_true", help="exit 1 if there is any problem")
    caching(sub)
    caching(command("list", cmd_list, "list topics and providers with their article counts"))
    sub = command("serve", cmd_serve, "serve the feeds over HTTP (for development; `make run` shows the production server)")
    sub.add_argument("--host", default="127.0.0.1")
    sub.add_argument("--port", type=int, default=8000)
    sub.add_argument("--base-url", metavar="URL", help="public address of the server")
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    cache_dir = getattr(args, "cache_dir", None)
    return {"content": args.content, "base_url": getattr(args, "base_url", None),
            "cache_dir": cache_dir.absolute() if cache_dir else None}


def _report_problems(problems) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def _config(args: argparse.Namespace) -> Config:
    """From the file, variables and flags; a builder started by a server gets
    the server's configuration whole."""
    from .config import BUILDER_CONFIG_VARIABLE
    passed = os.environ.get(BUILDER_CONFIG_VARIABLE) if args.command is cmd_build else None
    if passed:
        import json
        return load_config(overrides=json.loads(passed), environ={})
    return load_config(args.config, _overrides(args))


def _builder(config: Config, args: argparse.Namespace, writer):
    from .builder import Builder
    jobs = getattr(args, "jobs", None)
    jobs = os.cpu_count() or 1 if jobs is None else jobs
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    index = None if getattr(args, "no_cache", False) else "default"
    return Builder(config, writer, index=index, jobs=jobs)


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    from .render import settings_version
    from .writers import ExportWriter
    started = time.monotonic()
    progress = Progress(enabled=not args.quiet and sys.stderr.isatty())
    builder = _builder(config, args, ExportWriter(args.outdir, settings_version(config.site)))

    def first() -> None:
        result = builder.build(progress=progress.stage("reading"))
        progress.clear()
        _report_problems(builder.problems())
        if not args.quiet:
            write = result.publish.write
            articles, problems = builder.index.counts()
            print(f"{articles} articles read ({result.scan.read} parsed), {problems} skipped; "
                  f"{result.publish.published} published in {result.publish.feeds} feeds; "
                  f"{len(write.written)} documents written, {len(write.unchanged)} unchanged, "
                  f"{len(write.removed)} removed; {time.monotonic() - started:.1f} s", file=sys.stderr)

    try:
        if args.watch:
            _watch(builder, config, quiet=args.quiet, first=first)
        else:
            first()
        builder.flush_pings()  # WebSub pings still under way: a few seconds at most
    finally:
        builder.close()  # what the hubs did not take stays recorded for the next builder
    return EXIT_OK


def cmd_build(config: Config, args: argparse.Namespace) -> int:
    from .render import settings_version
    from .store import open_store
    from .writers import StoreWriter
    if args.parent:
        _end_with_parent(args.parent)
    store = open_store(config)
    if not store.acquire():
        if args.if_free:
            return EXIT_OK
        raise StoreError(f"another builder holds the store {store.name}")
    for handler in logging.getLogger("feeds").handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s feeds builder[%(process)d]: %(message)s"))
    from . import pool
    pool.FORK_IS_SAFE = False  # the lock keeper runs a thread
    stop = threading.Event()
    _keep_lock(store, stop)
    try:
        builder = _builder(config, args, StoreWriter(store, settings_version(config.site)))

        def first() -> None:
            result = builder.build()
            for problem in builder.problems():
                logging.getLogger("feeds").warning("skipped %s", problem)
            if not args.quiet:
                logging.getLogger("feeds").info("store %s version %s: %s", store.name,
                                                result.publish.write.store_version, result.line())

        try:
            if args.watch:
                _watch(builder, config, quiet=args.quiet, stop=stop, first=first)
            else:
                first()
                builder.tidy(force=True)
            builder.flush_pings()
        finally:
            builder.close()
    finally:
        stop.set()
        store.release()
    return EXIT_OK


def _keep_lock(store, stop: threading.Event) -> None:
    """Renew the builder lock every second; a builder that lost it stops at once."""
    def renew() -> None:
        while not stop.wait(1.0):
            if not store.renew():
                logging.getLogger("feeds").error("lost the builder lock of %s; stopping", store.name)
                os._exit(EXIT_PROBLEMS)
    threading.Thread(target=renew, name="feeds-lock", daemon=True).start()


def _end_with_parent(parent: int) -> None:
    """A builder started by a server ends with that server."""
    try:
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before prctl
        sys.exit(EXIT_OK)


def _watch(builder, config: Config, quiet: bool, stop: threading.Event | None = None, first=None) -> None:
    from . import pool
    from .builder.watch import watch
    pool.FORK_IS_SAFE = False  # the watcher runs a thread
    stop = stop or threading.Event()

    def stopping(*_) -> None:
        stop.set()
        # A build under way finishes first; one that takes too long is cut short.
        timer = threading.Timer(STOP_GRACE_SECONDS, lambda: os._exit(EXIT_OK))
        timer.daemon = True
        timer.start()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stopping)

    def report(result) -> None:
        if not quiet:
            logging.getLogger("feeds").info("%s", result.line())
    watch(builder, stop, mode=config.watch, poll_interval=config.reload_interval, report=report, first=first,
          rescan_interval=config.rescan_interval)
    stop.set()


class Progress:
    """A one-line progress display on a terminal; silent otherwise."""

    def __init__(self, enabled: bool, stream=None):
        self.enabled, self.stream, self._shown, self._last = enabled, stream or sys.stderr, False, 0.0

    def stage(self, label: str):
        if not self.enabled:
            return None

        def show(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - self._last < 0.1:
                return
            self._last = now
            shown = f"{done}/{total} ({100 * done // max(total, 1)}%)" if total else f"{done}"
            self.stream.write(f"\r{label} {shown}\x1b[K")
            self.stream.flush()
            self._shown = True
        return show

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


@contextlib.contextmanager
def _scan_index(config: Config, args: argparse.Namespace):
    """The read stage as check and list run it: the index brought up to date, nothing written."""
    builder = _builder(config, args, None)
    try:
        builder.build()
        yield builder
    finally:
        builder.close()


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    with _scan_index(config, args) as builder:
        return _check(builder, args)


def _check(builder, args: argparse.Namespace) -> int:
    problems = builder.problems()
    for problem in problems:
        print(problem)
    articles, _ = builder.index.counts()
    drafts = builder.index.drafts()
    print(f"{articles + len(problems)} files: {articles - drafts} publishable, "
          f"{drafts} drafts, {len(problems)} with problems", file=sys.stderr)
    return EXIT_PROBLEMS if args.strict and problems else EXIT_OK


def cmd_list(config: Config, args: argparse.Namespace) -> int:
    with _scan_index(config, args) as builder:
        return _list(builder)


def _list(builder) -> int:
    _report_problems(builder.problems())
    feeds = builder.index.published_feeds()
    main = feeds.get("feed")
    print(f"all\t{main[4] if main else 0}")
    for title, kind in (("topics", "topic"), ("providers", "provider")):
        rows = sorted((row for row in feeds.values() if row[1] == kind), key=lambda row: row[2])
        print(f"\n{title} ({len(rows)}):")
        width = max((len(row[2]) for row in rows), default=0)
        for row in rows:
            print(f"  {row[2]:<{width}}  {row[4]:>6}  {row[3]}")
    return EXIT_OK


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from .server import create_app
    app = create_app(config)
    app.run(host=args.host, port=args.port, threaded=True)
    return EXIT_OK
