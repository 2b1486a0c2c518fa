"""The `feeds` command: exit codes, messages, configuration from files,
environment and flags. No command ever prints a traceback."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from conftest import BASE_URL, REPO, feed_paths, write_config
from corpus_builder import BAD_FILES, expected_articles, expected_feeds, write_article

UTC = timezone.utc


@pytest.fixture
def mixed(content):
    """Two good articles and two bad files."""
    write_article(content, "good/one.md", webUrl="https://example.com/one", topics=["AI", "Power Apps"],
                  provider={"name": "Example", "domain": "example.com"})
    write_article(content, "good/two.md", webUrl="https://other.example/two", topics=["AI"],
                  provider={"name": "Other", "domain": "other.example"})
    for name in ("no-front-matter.md", "missing-title.md"):
        (content / "bad").mkdir(exist_ok=True)
        (content / "bad" / name).write_bytes(BAD_FILES[name][0])
    return content


@pytest.fixture
def clean(content):
    write_article(content, "one.md", webUrl="https://example.com/one")
    return content


def run_feeds(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    """`python -m feeds ARGS...` in a fresh interpreter."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FEEDS_")}
    done = subprocess.run([sys.executable, "-m", "feeds", *map(str, args)], capture_output=True, text=True,
                          env={**environment, **(env or {})}, cwd=cwd or REPO, timeout=60)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


# --- export ----------------------------------------------------------------------

def test_export_succeeds_when_some_files_are_skipped(mixed, cli, config_file, tmp_path):
    run = cli("export", tmp_path / "out", "--content", mixed, "--config", config_file)
    assert run.code == 0
    for name in ("no-front-matter.md", "missing-title.md"):
        assert re.search(rf"^bad/{re.escape(name)}: {BAD_FILES[name][1]}", run.err, re.M), run.err
    links = {item["url"] for item in json.loads((tmp_path / "out" / "feed.json").read_text())["items"]}
    assert links == {"https://example.com/one", "https://other.example/two"}


def test_export_reports_what_it_did(mixed, cli, config_file, tmp_path):
    run = cli("export", tmp_path / "out", "--content", mixed, "--config", config_file)
    for fact in ("2 articles read", "2 skipped", "2 published"):
        assert re.search(rf"\b{fact}\b", run.err), run.err
    written = len([p for p in (tmp_path / "out").rglob("*")
                   if p.is_file() and not p.name.startswith(".") and p.suffix not in (".gz", ".br")])
    assert f"{written} documents written" in run.err


def test_export_quiet_prints_only_the_problems(mixed, cli, config_file, tmp_path):
    run = cli("export", tmp_path / "out", "--quiet", "--content", mixed, "--config", config_file)
    assert run.code == 0 and run.out == ""
    assert sorted(line.split(": ", 1)[0] for line in run.err.splitlines()) == \
        ["bad/missing-title.md", "bad/no-front-matter.md"]
    assert (tmp_path / "out" / "feed.atom").exists()


def test_a_missing_content_folder_exits_2_naming_it(cli, config_file, tmp_path):
    missing = tmp_path / "nowhere"
    run = cli("export", tmp_path / "out", "--content", missing, "--config", config_file)
    assert run.code == 2
    assert "content folder not found" in run.err and str(missing) in run.err
    assert not (tmp_path / "out").exists()


def test_a_content_path_that_is_a_file_exits_2(cli, config_file, tmp_path):
    (tmp_path / "file.md").write_text("x")
    run = cli("check", "--content", tmp_path / "file.md", "--config", config_file)
    assert run.code == 2 and "content folder not found" in run.err


@pytest.mark.parametrize("url", ["ftp://example.com/", "example.com", "javascript:alert(1)", "https://", "/feeds/"])
def test_a_bad_base_url_exits_2_with_a_clear_message(clean, cli, config_file, tmp_path, url):
    run = cli("export", tmp_path / "out", "--content", clean, "--config", config_file, "--base-url", url)
    assert run.code == 2
    assert "base_url must be an absolute http(s) URL" in run.err and repr(url) in run.err
    assert not (tmp_path / "out").exists()


def test_an_unknown_configuration_key_exits_2_naming_the_key_and_file(clean, cli, tmp_path):
    config = tmp_path / "typo.toml"
    config.write_text('title = "T"\nitems_per_page = 10\n')
    run = cli("export", tmp_path / "out", "--content", clean, "--config", config)
    assert run.code == 2
    assert "items_per_page" in run.err and str(config) in run.err


def test_malformed_toml_exits_2_naming_the_file(clean, cli, tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text('title = "unclosed\n')
    run = cli("export", tmp_path / "out", "--content", clean, "--config", config)
    assert run.code == 2 and str(config) in run.err and "cannot read configuration" in run.err


def test_a_missing_configuration_file_exits_2(clean, cli, tmp_path):
    run = cli("list", "--content", clean, "--config", tmp_path / "absent.toml")
    assert run.code == 2 and "configuration file not found" in run.err


@pytest.mark.parametrize("line, key", [('items_per_feed = "many"', "items_per_feed"), ("items_per_feed = 0", "items_per_feed"),
                                       ("title = 3", "title"), ('base_url = "gopher://x/"', "base_url")])
def test_a_bad_configuration_value_exits_2_naming_the_key(clean, cli, tmp_path, line, key):
    config = tmp_path / "bad.toml"
    config.write_text(line + "\n")
    run = cli("check", "--content", clean, "--config", config)
    assert run.code == 2 and key in run.err


def test_exporting_into_a_file_fails_with_a_message(clean, cli, config_file, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    run = cli("export", target, "--content", clean, "--config", config_file)
    assert run.code == 1 and str(target) in run.err
    assert target.read_text() == "keep me"


def test_no_command_shows_the_usage_and_exits_2(cli):
    run = cli()
    assert run.code == 2 and "usage:" in run.err


# --- check -----------------------------------------------------------------------

def test_check_prints_one_file_colon_reason_line_per_problem(mixed, cli, config_file):
    run = cli("check", "--content", mixed, "--config", config_file)
    assert run.code == 0
    lines = run.out.splitlines()
    assert sorted(line.split(": ", 1)[0] for line in lines) == ["bad/missing-title.md", "bad/no-front-matter.md"]
    for line in lines:
        name = line.split(": ", 1)[0].removeprefix("bad/")
        assert BAD_FILES[name][1] in line
    assert "2 with problems" in run.err


def test_check_strict_exits_1_when_there_are_problems(mixed, cli, config_file):
    assert cli("check", "--strict", "--content", mixed, "--config", config_file).code == 1


def test_check_strict_exits_0_when_every_file_is_fine(clean, cli, config_file):
    run = cli("check", "--strict", "--content", clean, "--config", config_file)
    assert (run.code, run.out) == (0, "")


def test_check_counts_drafts(content, cli, config_file):
    write_article(content, "a.md", webUrl="https://example.com/a")
    write_article(content, "b.md", webUrl="https://example.com/b", published=False)
    run = cli("check", "--content", content, "--config", config_file)
    assert "2 files: 1 publishable, 1 drafts, 0 with problems" in run.err


def test_check_reports_every_bad_file_of_the_hostile_corpus(hostile_corpus, cli, config_file):
    run = cli("check", "--strict", "--content", hostile_corpus.folder, "--config", config_file)
    assert run.code == 1
    reported = dict(line.split(": ", 1) for line in run.out.splitlines())
    assert sorted(reported) == sorted(hostile_corpus.problems)
    for source, words in hostile_corpus.problems.items():
        assert words in reported[source]


# --- list ------------------------------------------------------------------------

def listed(out: str) -> dict[str, dict[str, int]]:
    """`feeds list` output -> {"all": {"": n}, "topics": {key: n}, "providers": {key: n}}."""
    sections: dict[str, dict[str, int]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("all"):
            sections["all"] = {"": int(line.split()[1])}
        elif header := re.match(r"(topics|providers) \((\d+)\):", line):
            current = sections.setdefault(header[1], {})
        elif line.strip():
            key, count = line.split()[:2]
            current[key] = int(count)
    return sections


def test_list_shows_topics_and_providers_with_their_counts(mixed, cli, config_file):
    run = cli("list", "--content", mixed, "--config", config_file)
    assert run.code == 0
    feeds = expected_feeds(expected_articles(mixed, skip={"bad/no-front-matter.md", "bad/missing-title.md"}),
                           datetime.now(UTC))
    counts = {path: len(articles) for path, articles in feeds.items()}
    assert listed(run.out) == {
        "all": {"": counts["feed"]},
        "topics": {p.split("/")[1]: n for p, n in counts.items() if p.startswith("topics/")},
        "providers": {p.split("/")[1]: n for p, n in counts.items() if p.startswith("providers/")},
    }
    assert listed(run.out)["topics"] == {"ai": 2, "power-apps": 1}  # what the fixture says, by hand


def test_list_of_the_shared_corpus_matches_the_publishing_rules(shared_corpus, shared_expected, cli, config_file):
    run = cli("list", "--content", shared_corpus, "--config", config_file)
    feeds = expected_feeds(shared_expected, datetime.now(UTC))
    shown = listed(run.out)
    assert shown["all"][""] == len(feeds["feed"])
    for section in ("topics", "providers"):
        assert shown[section] == {p.split("/")[1]: len(a) for p, a in feeds.items() if p.startswith(section + "/")}


# --- secured values -------------------------------------------------------------

@pytest.mark.parametrize("corpus", ["shared", "hostile"])
@pytest.mark.parametrize("command", [("check",), ("check", "--strict"), ("list",)])
def test_check_and_list_never_print_secured_values(command, corpus, cli, config_file, request):
    if corpus == "shared":
        folder, scanner = request.getfixturevalue("shared_corpus"), request.getfixturevalue("shared_secret_scanner")
    else:
        folder, scanner = request.getfixturevalue("hostile_corpus").folder, request.getfixturevalue("builder_secret_scanner")
    run = cli(*command, "--content", folder, "--config", config_file)
    assert run.out.strip() or run.err.strip()
    assert scanner.leak_in(run.out + run.err) is None


@pytest.mark.parametrize("corpus, scanner", [("shared_export", "shared_secret_scanner"),
                                             ("hostile_export", "builder_secret_scanner")])
def test_export_never_prints_secured_values(corpus, scanner, request):
    exported = request.getfixturevalue(corpus)
    assert exported.err  # it did print its report
    assert request.getfixturevalue(scanner).leak_in(exported.out + exported.err) is None


# --- environment and configuration ----------------------------------------------

def test_FEEDS_CONTENT_names_the_content_folder(clean, cli, config_file, monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDS_CONTENT", str(clean))
    run = cli("export", tmp_path / "out", "--config", config_file)
    assert run.code == 0
    assert [i["url"] for i in json.loads((tmp_path / "out" / "feed.json").read_text())["items"]] == \
        ["https://example.com/one"]


def test_the_content_flag_wins_over_FEEDS_CONTENT(clean, cli, config_file, monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDS_CONTENT", str(tmp_path / "nowhere"))
    assert cli("check", "--content", clean, "--config", config_file).code == 0


def test_FEEDS_BASE_URL_sets_the_feed_addresses(clean, cli, config_file, monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDS_BASE_URL", "https://env.example/news/")
    cli("export", tmp_path / "out", "--content", clean, "--config", config_file)
    assert json.loads((tmp_path / "out" / "feed.json").read_text())["feed_url"] == "https://env.example/news/feed.json"


def test_the_base_url_flag_wins_over_FEEDS_BASE_URL(clean, cli, config_file, monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDS_BASE_URL", "https://env.example/")
    cli("export", tmp_path / "out", "--content", clean, "--config", config_file, "--base-url", "https://flag.example/")
    assert json.loads((tmp_path / "out" / "feed.json").read_text())["feed_url"] == "https://flag.example/feed.json"


def test_a_bad_FEEDS_BASE_URL_exits_2(clean, cli, config_file, monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDS_BASE_URL", "not a url")
    run = cli("export", tmp_path / "out", "--content", clean, "--config", config_file)
    assert run.code == 2 and "base_url" in run.err


def test_FEEDS_CONFIG_names_the_configuration_file(clean, cli, monkeypatch, tmp_path):
    config = write_config(tmp_path / "env.toml", title="From the environment", base_url="https://config.example/",
                          content=str(clean), items_per_feed=7)
    monkeypatch.setenv("FEEDS_CONFIG", str(config))
    run = cli("export", tmp_path / "out")
    assert run.code == 0, run.err
    feed = json.loads((tmp_path / "out" / "feed.json").read_text())
    assert (feed["title"], feed["feed_url"]) == ("From the environment", "https://config.example/feed.json")
    assert "7 articles" in (tmp_path / "out" / "index.html").read_text()


def test_FEEDS_CONFIG_pointing_nowhere_exits_2(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDS_CONFIG", str(tmp_path / "absent.toml"))
    run = cli("list")
    assert run.code == 2 and "absent.toml" in run.err


def test_a_relative_content_path_in_a_config_file_is_relative_to_that_file(cli, tmp_path):
    write_article(tmp_path / "site" / "articles", "a.md")
    config = write_config(tmp_path / "site" / "feeds.toml", title="T", base_url=BASE_URL, content="articles")
    run = cli("check", "--strict", "--config", config)
    assert run.code == 0 and "1 files: 1 publishable" in run.err


def test_FEEDS_ITEMS_PER_FEED_limits_the_items(content, cli, config_file, monkeypatch, tmp_path):
    for n in range(4):
        write_article(content, f"{n}.md", webUrl=f"https://example.com/{n}")
    monkeypatch.setenv("FEEDS_ITEMS_PER_FEED", "2")
    cli("export", tmp_path / "out", "--content", content, "--config", config_file)
    assert len(json.loads((tmp_path / "out" / "feed.json").read_text())["items"]) == 2


def test_without_any_configuration_the_shipped_defaults_apply(clean, cli, tmp_path):
    run = cli("export", tmp_path / "out", "--content", clean)
    assert run.code == 0
    feed = json.loads((tmp_path / "out" / "feed.json").read_text())
    assert feed["title"] and feed["feed_url"].startswith(("http://", "https://"))
    assert feed_paths(tmp_path / "out")[0] == "feed"


# --- the program as a command ----------------------------------------------------

def test_python_m_feeds_help_works():
    done = run_feeds("--help")
    assert done.returncode == 0
    for command in ("export", "check", "list"):
        assert command in done.stdout


@pytest.mark.parametrize("command", ["export", "check", "list"])
def test_every_command_has_help(command):
    done = run_feeds(command, "--help")
    assert done.returncode == 0 and "--content" in done.stdout


def test_python_m_feeds_version():
    from feeds import __version__
    done = run_feeds("--version")
    assert done.returncode == 0 and __version__ in done.stdout


def test_check_names_a_file_whose_name_is_not_utf8_without_crashing(content, tmp_path, session_config):
    # A strict UTF-8 stdout (PYTHONIOENCODING=utf-8, as under an en_US.UTF-8
    # locale) must still print the report for a file named with a Latin-1 byte.
    try:
        with open(os.path.join(os.fsencode(content), b"caf\xe9.md"), "wb") as handle:
            handle.write(b"not an article\n")
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 file names")
    done = run_feeds("check", "--content", content, "--config", session_config, env={"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    assert "caf" in done.stdout and "no front matter" in done.stdout


def test_the_shipped_configuration_finds_the_bundled_sample_from_any_folder(cli, monkeypatch, tmp_path):
    # config/feeds.toml says `content = "../sample"`, relative to the file itself.
    monkeypatch.chdir(tmp_path)
    run = cli("check")
    assert run.code == 0, run.err
    assert "publishable" in run.err


def test_jobs_must_be_at_least_one(cli, tmp_path, content):
    run = cli("export", tmp_path / "out", "--content", content, "--jobs", "0")
    assert run.code == 2
    assert "--jobs" in run.err


@pytest.mark.parametrize("closed", [">&-", "2>&-"])
def test_a_closed_output_stream_does_not_turn_a_finished_export_into_a_failure(mixed, config_file, tmp_path, closed):
    """Cron jobs and supervisors often start commands with stdout or stderr closed."""
    out = tmp_path / "out"
    command = " ".join(shlex.quote(str(a)) for a in
                       (sys.executable, "-m", "feeds", "export", "--config", config_file, "--content", mixed, out))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FEEDS_")}
    done = subprocess.run(["sh", "-c", f"{command} {closed}"], env=environment, cwd=REPO, timeout=60,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if closed == ">&-" else subprocess.DEVNULL)
    assert done.returncode == 0 and (out / "feed.atom").is_file()


def test_build_keeps_its_index_and_store_in_the_cache_dir_it_is_given(content, tmp_path):
    """Servers run with the same cache folder must find the store this builder wrote there."""
    elsewhere = tmp_path / "xdg"
    done = run_feeds("build", "--content", content, "--cache-dir", tmp_path / "cache", "--quiet",
                     env={"XDG_CACHE_HOME": str(elsewhere)})
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "cache").glob("store-*/manifest*")), sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert list((tmp_path / "cache").glob("index-*.sqlite"))
    assert not elsewhere.exists()
