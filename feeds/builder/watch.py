"""Keeping a writer current until stopped: file-system events (watchfiles,
inotify on Linux), or a full scan every `poll_interval` seconds where the
file system gives no events, and a wake-up when a scheduled article is due."""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("feeds")
logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every batch; we log one line per change

TICK_MS = 250  # how often the loop looks at the clock when nothing happens


def watch(builder, stop: threading.Event, mode: str = "events", poll_interval: float = 2.0,
          report=None) -> None:
    """Run until `stop` is set; `report(build_report)` is called after each change."""
    report = report or (lambda result: log.info("%s", result.line()))
    if mode == "events":
        try:
            _watch_events(builder, stop, report)
            return
        except (OSError, RuntimeError) as error:  # no inotify, or its limits reached
            if stop.is_set():
                return
            log.warning("no file-system events for %s (%s); scanning every %.1f s instead",
                        builder.content, error, poll_interval)
    _watch_polling(builder, stop, poll_interval, report)


def _watch_events(builder, stop: threading.Event, report) -> None:
    import watchfiles

    for changes in watchfiles.watch(builder.content, stop_event=stop, yield_on_timeout=True,
                                    rust_timeout=TICK_MS, debounce=400, step=30, watch_filter=None,
                                    ignore_permission_denied=True, raise_interrupt=False):
        paths = {path for _change, path in changes}
        if paths:
            _build(builder, report, paths)
        elif _due(builder):
            _build(builder, report, [])


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


def _due(builder) -> bool:
    due = builder.next_due_cached()
    return due is not None and builder.clock() >= due


def _build(builder, report, paths, quiet_if_unchanged: bool = False) -> None:
    try:
        result = builder.build(paths)
    except Exception:  # noqa: BLE001 - one failed build must not end the watch
        log.exception("build failed; will try again on the next change")
        return
    if result.scan.read or result.scan.removed or result.publish.write.written or result.publish.write.removed:
        report(result)
    elif not quiet_if_unchanged and paths:
        report(result)
