"""One builder process following file events for many changes, as `feeds
build --watch` and `feeds export --watch` do: what it keeps between builds
(the site's documents, the writer's versions) must never hide a change.

After every step, including an edit undone (a document going back to bytes
it had two versions ago), what the writer holds is a cold export's bytes.
"""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import run_cli
from feeds.builder import Builder
from feeds.config import load_config
from feeds.render import settings_version
from feeds.store import FolderStore, Parts
from feeds.writers import ExportWriter, StoreWriter
from feeds.writers._export import MANIFEST
from test_archives import START, article, settle, site, snapshot  # noqa: F401 - site is a fixture

STEPS = 24


def exported(writer_root: Path) -> dict[str, bytes]:
    return {name: body for name, body in snapshot(writer_root).items() if not name.startswith(".feeds")}


def stored(store: FolderStore) -> dict[str, bytes]:
    """The store's documents, and the marks an export would hold for the
    archive documents the live servers send with the short lifetime."""
    manifest = store.current()
    entries = {path: entry for path, entry in Parts(store).everything(manifest).items() if entry.etag}
    marks = {f".newest/{path.rpartition('.')[0]}": b"" for path, entry in entries.items()
             if "/archive/" in path and entry.lifetime != "archive"}
    return {**{path: store.body(entry.etag) for path, entry in entries.items()}, **marks}


@pytest.mark.parametrize("kind", ["export", "store"])
def test_a_builder_kept_running_gives_a_cold_exports_bytes_after_every_change(site, kind):
    tmp_path, content, config_file = site
    config = load_config(config_file, overrides={"content": str(content), "cache_dir": str(tmp_path / "cache")},
                         environ={})
    if kind == "export":
        def writer():
            return ExportWriter(tmp_path / "out", settings_version(config.site))
        holds = lambda: exported(tmp_path / "out")  # noqa: E731
    else:
        store = FolderStore(tmp_path / "store")

        def writer():
            return StoreWriter(store, settings_version(config.site))
        holds = lambda: stored(store)  # noqa: E731
    first = Builder(config, writer())
    first.build()
    first.close()
    # Started again on what the first left, as after a restart: the writer's
    # versions are read from what it holds, not only from what it wrote itself.
    builder = Builder(config, writer())
    builder.build()
    rng = random.Random(9111)
    numbers, next_number = list(range(60)), 60
    undo: tuple[Path, bytes] | None = None
    try:
        for step in range(STEPS):
            action = "undo" if undo is not None and rng.random() < 0.5 else rng.choice(
                ["add", "backdate", "edit", "remove", "draft"])
            if action == "undo":
                path, before = undo
                path.write_bytes(before)
                undo = None
            elif action in ("add", "backdate"):
                hours = 7 * next_number if action == "add" else 7 * rng.randrange(60)
                path = article(content, next_number, START + timedelta(hours=hours, minutes=13))
                numbers.append(next_number)
                next_number += 1
            else:
                victim = rng.choice(numbers)
                path = content / f"a{victim:04d}.md"
                if action == "remove":
                    path.unlink()
                    numbers.remove(victim)
                else:
                    undo = (path, path.read_bytes())
                    extra = {"excerpt": f"Edited at step {step}."} if action == "edit" else {"published": False}
                    article(content, victim, START + timedelta(hours=7 * victim), **extra)
            settle(content)
            builder.build([str(path)])
            cold = run_cli("export", tmp_path / f"cold-{step}", "--content", content, "--config", config_file,
                           "--no-cache", "--quiet")
            assert cold.code == 0, cold.err
            expected = exported(tmp_path / f"cold-{step}")
            held = holds()
            differ = sorted(name for name in expected.keys() | held.keys() if expected.get(name) != held.get(name))
            assert not differ, f"step {step} ({action}): the {kind} differs from a cold export in {differ[:5]}"
            if kind == "export":  # its list of what it wrote too, kept up to date in place
                assert (tmp_path / "out" / MANIFEST).read_bytes() == (tmp_path / f"cold-{step}" / MANIFEST).read_bytes(), \
                    f"step {step} ({action}): the manifest differs from a cold export's"
    finally:
        builder.close()
