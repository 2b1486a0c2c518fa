"""Makes sure a builder runs for the store this server reads.

Servers never read articles: when no builder holds the store's lock, a
server starts one as a separate process (`feeds build --watch`). Several
servers may try at once; the lock lets exactly one builder run, the others
exit at once. The builder ends with the process that started it, and
another server starts the next one within a second or two.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import weakref
from dataclasses import asdict

log = logging.getLogger("feeds")

from ..config import BUILDER_CONFIG_VARIABLE

CHECK_SECONDS = 1.0


class Supervisor:
    def __init__(self, config, store):
        self.config, self.store = config, store
        self._pid: int | None = None
        self._stop = threading.Event()
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._started = False  # the checking thread runs in this process
        # A forked worker has no checking thread: it starts its own on its first
        # request (ensure_running runs on every request: no getpid() there).
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forgotten(this))

    def ensure_running(self) -> None:
        """Start the checking thread in this process (again after a fork)."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._pid, self._child, self._stop = os.getpid(), None, threading.Event()
            threading.Thread(target=self._run, name="feeds-builder-supervisor", daemon=True).start()
            self._started = True

    def close(self) -> None:
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None and self._pid == os.getpid():
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()

    def _run(self) -> None:
        while True:
            try:
                if self._child is not None and self._child.poll() is not None:
                    self._child = None  # reaped
                if self._child is None and not self.store.builder_alive():
                    self._child = self._spawn()
            except Exception as error:  # noqa: BLE001 - the check must outlive any one failure
                log.warning("cannot start a builder: %s", error)
            if self._stop.wait(CHECK_SECONDS):
                return

    def _spawn(self) -> subprocess.Popen:
        values = {key: (str(value) if value is not None and not isinstance(value, (int, float, str)) else value)
                  for key, value in asdict(self.config).items()}
        env = {**os.environ, BUILDER_CONFIG_VARIABLE: json.dumps(values)}
        return subprocess.Popen([sys.executable, "-m", "feeds", "build", "--watch", "--if-free",
                                 "--parent", str(os.getpid())],
                                env=env, stdin=subprocess.DEVNULL, close_fds=True)


def _forgotten(supervisor_ref) -> None:
    supervisor = supervisor_ref()
    if supervisor is not None:
        supervisor._started = False
        supervisor._lock = threading.Lock()  # a lock held by a thread the fork left behind
