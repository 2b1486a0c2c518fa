"""The `feeds` command: a thin shell over read -> collect -> render -> deliver."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from . import __version__
from .collect import collect
from .config import Config, ConfigError, load_config
from .export import ExportError, export
from .parse_cache import ParseCache, default_cache_dir
from .read import read_collection

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    for name in ("stdout", "stderr"):  # None when started with the stream closed (`>&-`)
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, _overrides(args))
        if not config.content.is_dir():
            raise ConfigError(f"content folder not found: {config.content}")
        return args.command(config, args)
    except ConfigError as error:
        print(f"feeds: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ExportError as error:
        print(f"feeds: export failed: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout closed early (`feeds list | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


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
                         help=f"where parsed articles are cached between runs (default: {default_cache_dir()})")
        sub.add_argument("--no-cache", action="store_true", help="parse every file, ignoring and not writing the cache")
        sub.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                         help="processes for parsing and rendering (default: number of CPUs)")

    sub = command("export", cmd_export, "write every feed, the index page and the OPML list into OUTDIR")
    sub.add_argument("outdir", metavar="OUTDIR", type=Path)
    sub.add_argument("--base-url", metavar="URL", help="public address the folder will be served from")
    sub.add_argument("--quiet", "-q", action="store_true", help="print only problems: no progress, no summary")
    caching(sub)
    sub = command("check", cmd_check, "read every article and report each problem as 'file: what is wrong'")
    sub.add_argument("--strict", action="store_true", help="exit 1 if there is any problem")
    caching(sub)
    caching(command("list", cmd_list, "list topics and providers with their article counts"))
    sub = command("serve", cmd_serve, "serve the feeds over HTTP (for development; use gunicorn in production)")
    sub.add_argument("--host", default="127.0.0.1")
    sub.add_argument("--port", type=int, default=8000)
    sub.add_argument("--base-url", metavar="URL", help="public address of the server")
    return parser


def _overrides(args: argparse.Namespace) -> dict:
    return {"content": args.content, "base_url": getattr(args, "base_url", None)}


def _report_problems(problems) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    started = time.monotonic()
    progress = Progress(enabled=not args.quiet and sys.stderr.isatty())
    args.progress = progress.stage("reading")
    read = _read(config, args)
    progress.clear()
    _report_problems(read.problems)
    collection = collect(read.articles, datetime.now(timezone.utc))
    report = export(collection, config.site, args.outdir, workers=args.jobs, progress=progress.stage("writing"))
    progress.clear()
    if not args.quiet:
        print(f"{len(read.articles)} articles read ({read.parsed} parsed), {len(read.problems)} skipped; "
              f"{len(collection.main.articles)} published in {len(collection.all_feeds())} feeds; "
              f"{len(report.written)} files written, {len(report.unchanged)} unchanged, "
              f"{len(report.removed)} removed; {time.monotonic() - started:.1f} s", file=sys.stderr)
    return EXIT_OK


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
            self.stream.write(f"\r{label} {done}/{total} ({100 * done // max(total, 1)}%)\x1b[K")
            self.stream.flush()
            self._shown = True
        return show

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def _read(config: Config, args: argparse.Namespace):
    """The read stage as every command runs it: cached unless --no-cache, on every core."""
    jobs = getattr(args, "jobs", None)
    jobs = os.cpu_count() or 1 if jobs is None else jobs
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    cache = None
    if not getattr(args, "no_cache", False):
        cache_dir = getattr(args, "cache_dir", None) or config.cache_dir or default_cache_dir()
        cache = ParseCache(cache_dir, config.content, config.limits, load=False)  # read_collection loads it
    return read_collection(config.content, config.limits, cache=cache, workers=jobs,
                           progress=getattr(args, "progress", None))


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    read = _read(config, args)
    articles, problems = read.articles, read.problems
    for problem in problems:
        print(problem)
    drafts = sum(a.draft for a in articles)
    print(f"{len(articles) + len(problems)} files: {len(articles) - drafts} publishable, "
          f"{drafts} drafts, {len(problems)} with problems", file=sys.stderr)
    return EXIT_PROBLEMS if args.strict and problems else EXIT_OK


def cmd_list(config: Config, args: argparse.Namespace) -> int:
    read = _read(config, args)
    _report_problems(read.problems)
    collection = collect(read.articles, datetime.now(timezone.utc))
    print(f"all\t{len(collection.main.articles)}")
    for title, feeds in (("topics", collection.topics), ("providers", collection.providers)):
        print(f"\n{title} ({len(feeds)}):")
        width = max((len(f.key) for f in feeds), default=0)
        for feed in feeds:
            print(f"  {feed.key:<{width}}  {len(feed.articles):>6}  {feed.name}")
    return EXIT_OK


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from .web import create_app
    app = create_app(config)
    app.run(host=args.host, port=args.port, threaded=True)
    return EXIT_OK
