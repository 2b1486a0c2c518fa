"""Shared fixtures: content folders, the CLI run in-process, exported trees of
the news corpus and the hostile corpus, and a validator for every feed format.

The news corpus is ../shared/corpus (real articles) when that folder is there,
else one written at test time by corpus_builder.write_news_corpus in the same
schema; TEST_CORPUS=generated uses the generated one in any case."""
from __future__ import annotations

import io
import itertools
import json
import os
import re
import threading
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import jsonschema
import pytest

import corpus_builder
from feeds.cli import main
from feeds.records import Site

from hypothesis import HealthCheck, settings

# Property tests: quick by default, longer in CI (HYPOTHESIS_PROFILE=ci, set by .ci/run).
# The example database stays out of the repository (see .gitignore).
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).parents[1].parent / "shared"
SHARED_CORPUS = SHARED / "corpus"
USE_SHARED_CORPUS = SHARED_CORPUS.is_dir() and os.environ.get("TEST_CORPUS", "") != "generated"
JSONFEED_SCHEMA = Path(__file__).resolve().parent / "data" / "jsonfeed-1.1.schema.json"  # ISC, see data/README.md
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"

SITE_TITLE = "Test Feeds"
BASE_URL = "https://feeds.test/"
FORMATS = ("atom", "rss", "json")
FEEDPARSER_VERSIONS = {"atom": "atom10", "rss": "rss20"}


# --- The command line, run in-process -----------------------------------------

@dataclass
class CliRun:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(*args) -> CliRun:
    """`feeds ARGS...` through cli.main, with its exit code and both streams.

    An exception escaping main() fails the test with its traceback; a
    traceback printed by the program is a failure too.
    """
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse: --help, --version, usage errors
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 2)
    run = CliRun(code, out.getvalue(), err.getvalue())
    assert "Traceback" not in run.output, run.output
    return run


@dataclass
class Exported:
    """An export folder and what `feeds export` said while writing it."""

    path: Path
    code: int
    out: str
    err: str
    exported_at: datetime | None = None

    def __fspath__(self) -> str:
        return str(self.path)

    def files(self) -> list[Path]:
        return exported_files(self.path)

    def feed(self, path: str, fmt: str) -> bytes:
        return (self.path / f"{path}.{fmt}").read_bytes()


def write_config(path: Path, **values) -> Path:
    """A TOML configuration file; strings quoted, numbers as they are."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export_with_cli(content: Path, outdir: Path, config: Path, *extra) -> Exported:
    run = run_cli("export", outdir, "--content", content, "--config", config, *extra)
    return Exported(Path(outdir), run.code, run.out, run.err)


def exported_files(root: Path) -> list[Path]:
    """Every file under root, hidden ones (the manifest) included, except the
    precompressed copies (.gz, .br): test_compression checks each holds
    exactly the bytes of its document, so what holds for one holds for both."""
    return sorted(Path(folder, name) for folder, _, names in os.walk(root) for name in names
                  if not name.endswith((".gz", ".br")))


def compressed_copies(root: Path) -> list[Path]:
    """The .gz and .br files of an export."""
    return sorted(Path(folder, name) for folder, _, names in os.walk(root) for name in names
                  if name.endswith((".gz", ".br")))


def feed_paths(root: Path, archives: bool = False) -> list[str]:
    """"feed", "topics/ai", ... for every feed exported under root; with
    `archives`, the archive documents' instead ("topics/ai/archive/first", ...)."""
    return sorted({relative for path in exported_files(root) if path.suffix.lstrip(".") in FORMATS
                   and not path.name.startswith(".")
                   for relative in [path.relative_to(root).with_suffix("").as_posix()]
                   if ("/archive/" in relative) == archives})


def _isolate(patch: pytest.MonkeyPatch, cache_home: Path) -> None:
    """FEEDS_* variables of the shell running the tests must not leak in, and
    caches go to the session's temporary folder, not the user's."""
    for name in list(os.environ):
        if name.startswith("FEEDS_"):
            patch.delenv(name)
    patch.setenv("XDG_CACHE_HOME", str(cache_home))


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, cache_home):
    _isolate(monkeypatch, cache_home)


@pytest.fixture(autouse=True)
def _process_state_restored(monkeypatch):
    """What an in-process command changes for the rest of its process (its log
    handler, whether forking is safe, signal handlers) is put back after each
    test, so that no test depends on which ran before it."""
    import logging
    import signal
    from feeds import pool
    logger = logging.getLogger("feeds")
    saved = logger.handlers[:], logger.level, logger.propagate
    monkeypatch.setattr(pool, "FORK_IS_SAFE", pool.FORK_IS_SAFE)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
    for number, handler in handlers.items():
        if handler is not None:
            signal.signal(number, handler)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def content(tmp_path) -> Path:
    """An empty content folder."""
    folder = tmp_path / "content"
    folder.mkdir()
    return folder


@pytest.fixture
def site() -> Site:
    return Site(title=SITE_TITLE, base_url=BASE_URL, description="Feeds for the tests")


@pytest.fixture
def config_file(tmp_path) -> Path:
    """A configuration that sets only the title and the address: every other
    setting is the program's default."""
    return write_config(tmp_path / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL)


@pytest.fixture
def export_folder(tmp_path, config_file):
    """export_folder(content, *flags, outdir=None, config=None) -> Exported:
    runs `feeds export` and checks that it succeeded."""
    numbers = itertools.count(1)

    def export_folder(content: Path, *extra, outdir: Path | None = None, config: Path | None = None,
                      expect_code: int = 0) -> Exported:
        outdir = outdir if outdir is not None else tmp_path / f"export-{next(numbers)}"
        exported = export_with_cli(content, outdir, config or config_file, *extra)
        assert exported.code == expect_code, exported.err
        return exported

    return export_folder


# --- Validating feeds --------------------------------------------------------

def _jsonfeed_validator():
    schema = json.loads(JSONFEED_SCHEMA.read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


_validators: list = []


def check_feed(data: bytes, fmt: str):
    """Assert that data is a valid feed of format fmt; return it parsed
    (feedparser's result for atom/rss, the decoded document for json)."""
    assert isinstance(data, bytes)
    if fmt in FEEDPARSER_VERSIONS:
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, f"feedparser: {parsed.get('bozo_exception')!r}"
        assert parsed.version == FEEDPARSER_VERSIONS[fmt]
        ids = [entry.get("id") for entry in parsed.entries]
        assert all(ids), "an item without an id"
        links = [entry.get("link", "") for entry in parsed.entries]
    elif fmt == "json":
        if not _validators:
            _validators.append(_jsonfeed_validator())
        parsed = json.loads(data.decode("utf-8"))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validators[0].iter_errors(parsed)]
        assert not errors, errors
        # What the schema does not check:
        assert parsed["version"] == JSONFEED_VERSION
        for key in ("home_page_url", "feed_url"):
            assert parsed[key].startswith(("https://", "http://")), parsed[key]
        ids = [item["id"] for item in parsed["items"]]
        assert all(isinstance(i, str) and i for i in ids), "an item without an id"
        for item in parsed["items"]:
            for key in ("date_published", "date_modified"):
                if key in item:
                    stamp = datetime.fromisoformat(item[key].replace("Z", "+00:00"))
                    assert stamp.tzinfo is not None, f"{key} without a time zone: {item[key]}"
        links = [item.get("url", "") for item in parsed["items"]]
    else:
        raise ValueError(f"unknown format {fmt!r}")
    assert len(ids) == len(set(ids)), "item ids are not unique within the feed"
    for link in links:
        assert link.startswith(("https://", "http://")) and " " not in link, f"item link {link!r}"
    return parsed


def _check_file(job: tuple[str, str]) -> str | None:
    path, fmt = job
    try:
        check_feed(Path(path).read_bytes(), fmt)
    except AssertionError as error:
        return f"{path}: {error}"
    return None


def check_feed_files(jobs: list[tuple[Path, str]]) -> list[str]:
    """check_feed for many files, on every CPU (the hostile corpus has ~900
    feeds); returns one message per invalid file."""
    jobs = [(str(path), fmt) for path, fmt in jobs]
    if any(fmt == "json" for _, fmt in jobs) and not _validators:
        _validators.append(_jsonfeed_validator())  # before forking: the workers inherit it
    workers = min(os.cpu_count() or 1, 4)
    # fork only a single-threaded process: a forked thread's locks are never released
    if workers > 1 and len(jobs) > 100 and threading.active_count() == 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_check_file, jobs, chunksize=25))
    else:
        results = [_check_file(job) for job in jobs]
    return [r for r in results if r]


@pytest.fixture
def validate_feed():
    """validate_feed(bytes, fmt) -> the parsed feed; see check_feed."""
    return check_feed


def items_of(data: bytes, fmt: str) -> list[dict]:
    """The items of a feed as readers see them: link (as link_key), published
    (aware UTC), id, title and the format's own item object."""
    items = []
    if fmt == "json":
        for item in json.loads(data.decode("utf-8"))["items"]:
            published = datetime.fromisoformat(item["date_published"].replace("Z", "+00:00"))
            items.append({"link": corpus_builder.link_key(item["url"]), "published": published,
                          "id": item["id"], "title": item["title"], "raw": item})
    else:
        for entry in feedparser.parse(data).entries:
            published = datetime(*entry.published_parsed[:6], tzinfo=timezone.utc)
            items.append({"link": corpus_builder.link_key(entry.link), "published": published,
                          "id": entry.id, "title": entry.title, "raw": entry})
    return items


@pytest.fixture
def read_items():
    """read_items(bytes, fmt) -> the feed's items; see items_of."""
    return items_of


# --- Whole corpora, exported once per session --------------------------------

@pytest.fixture(scope="session")
def session_config(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "feeds.toml", title=SITE_TITLE, base_url=BASE_URL)


def _export_once(content: Path, parent: Path, config: Path, cache_home: Path) -> Exported:
    with pytest.MonkeyPatch.context() as patch:
        _isolate(patch, cache_home)
        exported = export_with_cli(content, parent / "out", config)
    assert exported.code == 0, exported.err
    return exported


@pytest.fixture(scope="session")
def shared_corpus(tmp_path_factory) -> Path:
    """The news corpus: ../shared/corpus, or a generated one (see the module's docstring).
    Tests expect of it only what they compute from its files (shared_expected)."""
    if USE_SHARED_CORPUS:
        return SHARED_CORPUS
    return corpus_builder.write_news_corpus(tmp_path_factory.mktemp("news-corpus") / "corpus")


@pytest.fixture(scope="session")
def shared_expected(shared_corpus) -> list:
    """The news corpus as the tests read it (corpus_builder.expected_articles)."""
    return corpus_builder.expected_articles(shared_corpus)


@pytest.fixture(scope="session")
def shared_export(shared_corpus, tmp_path_factory, session_config, cache_home) -> Exported:
    """The news corpus exported with the default settings."""
    exported = _export_once(shared_corpus, tmp_path_factory.mktemp("shared-export"), session_config, cache_home)
    exported.exported_at = datetime.now(timezone.utc)
    return exported


@dataclass
class HostileCorpus:
    folder: Path
    problems: dict[str, str]  # file (relative) -> words its report must contain
    listing: list[str]  # every file in the folder after writing it


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory) -> HostileCorpus:
    folder = tmp_path_factory.mktemp("hostile") / "content"
    problems = corpus_builder.write_hostile_corpus(folder)
    return HostileCorpus(folder, problems, sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")))


@pytest.fixture(scope="session")
def hostile_export(hostile_corpus, tmp_path_factory, session_config, cache_home) -> Exported:
    """The hostile corpus exported into <parent>/out; <parent> holds nothing else."""
    parent = tmp_path_factory.mktemp("hostile-export")
    exported = _export_once(hostile_corpus.folder, parent, session_config, cache_home)
    exported.exported_at = datetime.now(timezone.utc)
    return exported


@pytest.fixture(scope="session")
def shared_secrets(shared_corpus) -> list[str]:
    """Every `secured` value in the news corpus, read with plain YAML."""
    values = []
    for path in sorted(shared_corpus.rglob("*.md")):
        meta = corpus_builder.front_matter(path) or {}
        if isinstance(meta.get("secured"), str):
            values.append(meta["secured"])
    assert values, "the news corpus has no secured values to look for"
    return values


# --- Secrets -------------------------------------------------------------------

WINDOW = 20  # a run this long of a secret's characters counts as leaking it
_SECRET_RUN = re.compile(rb"[A-Za-z0-9+/=]{%d,}" % WINDOW)


class SecretScanner:
    """Finds any WINDOW-character stretch of the given secrets in bytes or text."""

    def __init__(self, secrets):
        self.secrets = [s.encode("utf-8") for s in secrets]
        self.windows = {run[i:i + WINDOW]
                        for secret in self.secrets for run in _SECRET_RUN.findall(secret)
                        for i in range(len(run) - WINDOW + 1)}
        assert self.windows

    def leak_in(self, data: bytes | str) -> bytes | None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        for secret in self.secrets:
            if secret in data:
                return secret
        for run in _SECRET_RUN.findall(data):
            for i in range(len(run) - WINDOW + 1):
                if run[i:i + WINDOW] in self.windows:
                    return run
        return None


@pytest.fixture(scope="session")
def shared_secret_scanner(shared_secrets) -> SecretScanner:
    return SecretScanner(shared_secrets)


@pytest.fixture(scope="session")
def builder_secret_scanner() -> SecretScanner:
    return SecretScanner([corpus_builder.SECRET])


# --- Serving: the web app with its builder process ------------------------------

def wait_for(condition, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll condition() until it returns something true; fail after timeout seconds."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


@pytest.fixture
def serve(tmp_path):
    """serve(content, **config) -> a Flask app whose builder process has
    published the store; the builder is stopped after the test."""
    from feeds.config import load_config
    from feeds.server import create_app
    apps = []

    def start(content: Path, **overrides):
        values = {"content": str(content), "base_url": "https://news.example/",
                  "cache_dir": str(tmp_path / f"cache-{len(apps)}"), **overrides}
        app = create_app(load_config(overrides=values, environ={}))
        apps.append(app)
        client = app.test_client()
        wait_for(lambda: client.get("/healthz").status_code == 200, what="the first build")
        return app

    yield start
    for app in apps:
        supervisor = app.extensions.get("feeds.supervisor")
        if supervisor is not None:
            supervisor.close()
