"""Keeping a writer current until stopped: file-system events (watchfiles:
inotify on Linux), or a full scan every `poll_interval` seconds where the
file system gives no events, and a wake-up when a scheduled article is due.

Events can be lost without a word: an inotify queue that overflows, a file
changed through a hard link or a mount outside the watched folder. So with
events too, the whole folder is scanned every `rescan_interval` seconds.

Watching starts before the first build, so a change made while it runs is
never missed: at worst it is read twice.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("feeds")

TICK_MS = 250  # how often the loop looks at the clock when nothing happens
DEBOUNCE_MS, STEP_MS = 400, 30  # a burst of changes ends 30 ms after its last event (at most 400 ms)


def watch(builder, stop: threading.Event, mode: str = "events", poll_interval: float = 2.0,
          report=None, first=None, rescan_interval: float = 600.0) -> None:
    """Run until `stop` is set. `first()` runs once watching has begun (the
    initial build); `report(build_report)` is called after each change."""
    report = report or (lambda result: log.info("%s", result.line()))
    first = first or (lambda: None)
    watcher = None
    if mode == "events":
        try:
            watcher = _events(builder.content)
        except (OSError, RuntimeError) as error:  # no inotify, or its limits reached
            log.warning("no file-system events for %s (%s); scanning every %.1f s instead",
                        builder.content, error, poll_interval)
    first()
    if watcher is not None:
        with watcher:
            failure = _watch_events(builder, watcher, stop, report, rescan_interval)
        if failure is None:
            return
        # A file name that is not UTF-8 ends the events for good: scanning from now on,
        # at once, as what changed meanwhile is not known.
        log.warning("file-system events for %s failed (%s); scanning every %.1f s instead",
                    builder.content, failure, poll_interval)
        _build(builder, report, None, quiet_if_unchanged=True)
    _watch_polling(builder, stop, poll_interval, report)


def _events(content):
    from watchfiles._rust_notify import RustNotify
    # debug, force_polling, poll_delay_ms, recursive, ignore_permission_denied
    return RustNotify([str(content)], False, False, 300, True, True)


def _watch_events(builder, watcher, stop: threading.Event, report, rescan_interval: float) -> Exception | None:
    """Build what the events name until stopped (None), or until the events fail (the error)."""
    next_scan = time.monotonic() + rescan_interval
    while not stop.is_set():
        try:
            changes = watcher.watch(DEBOUNCE_MS, STEP_MS, TICK_MS, stop)
        except (OSError, RuntimeError) as error:
            return error
        if changes in ("stop", "signal"):
            return None
        if changes != "timeout" and changes:
            _build(builder, report, {path for _change, path in changes})
        elif time.monotonic() >= next_scan:
            started = time.monotonic()
            _build(builder, report, None, quiet_if_unchanged=True)
            next_scan = time.monotonic() + max(rescan_interval, 20 * (time.monotonic() - started))
        elif _due(builder):
            _build(builder, report, [])
        elif changes == "timeout":
            _tidy(builder)
    return None


def _tidy(builder) -> None:
    from ..exceptions import FeedsError
    try:
        builder.tidy()
    except FeedsError as error:
        log.warning("could not remove superseded documents: %s", error)


def _watch_polling(builder, stop: threading.Event, interval: float, report) -> None:
    next_scan = time.monotonic() + interval
    while not stop.wait(TICK_MS / 1000):
        if time.monotonic() >= next_scan:
            started = time.monotonic()
            _build(builder, report, None, quiet_if_unchanged=True)
            # A scan stats every file: on huge folders, never more than a fifth of a core.
            next_scan = time.monotonic() + max(interval, 5 * (time.monotonic() - started))
        elif _due(builder):
            _build(builder, report, [])
        else:
            _tidy(builder)


def _due(builder) -> bool:
    due = builder.next_due_cached()
    return due is not None and builder.clock() >= due


def _build(builder, report, paths, quiet_if_unchanged: bool = False) -> None:
    from ..exceptions import FeedsError
    try:
        result = builder.build(paths)
    except FeedsError as error:  # the store or the index is unreachable: said in one line, tried again
        log.error("build failed: %s; will scan the whole folder on the next change", error)
        builder.needs_full_scan = True
        return
    except Exception:  # noqa: BLE001 - one failed build must not end the watch
        log.exception("build failed; will scan the whole folder on the next change")
        builder.needs_full_scan = True
        return
    if result.scan.read or result.scan.removed or result.publish.write.written or result.publish.write.removed:
        report(result)
    elif not quiet_if_unchanged and paths:
        report(result)
