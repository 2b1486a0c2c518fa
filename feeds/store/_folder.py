"""The document store in a local folder: one builder writes it, any number of
server processes on the host read it.

    manifest.json           the current complete version (replaced by rename: the commit)
    objects/ab/abcdef...    bodies, named by their ETag, written before the manifest names them
    builder.lock            held (flock) by the one builder of this store
    heartbeat               touched by that builder every second

Bodies are never changed in place, so a server holding an older manifest for
a moment still finds every body it names; unreferenced bodies are removed
only after GRACE_SECONDS.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..exceptions import StoreError
from ._types import Entry, Manifest

GRACE_SECONDS = 600.0
MANIFEST = "manifest.json"


class FolderStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.name = str(self.root)
        self._seen: tuple | None = None
        self._manifest: Manifest | None = None
        self._lock_fd: int | None = None

    # --- reading (servers) -------------------------------------------------

    def current(self) -> Manifest | None:
        """The newest complete version, or None before the first build."""
        try:
            stat = os.stat(self.root / MANIFEST)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{self.root / MANIFEST}: cannot read: {error.strerror}") from None
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            try:
                manifest = Manifest.decode((self.root / MANIFEST).read_bytes())
            except FileNotFoundError:
                return self._manifest
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise StoreError(f"{self.root / MANIFEST}: unreadable manifest ({type(error).__name__})") from None
            if manifest.follows(self._manifest):
                self._manifest, self._seen = manifest, seen
        return self._manifest

    def body(self, etag: str) -> bytes | None:
        try:
            return self._object(etag).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{self._object(etag)}: cannot read: {error.strerror}") from None

    def builder_alive(self) -> bool:
        """Whether some process holds the builder lock (probed without taking it for long)."""
        if self._lock_fd is not None:
            return True
        try:
            fd = os.open(self.root / "builder.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)  # closing releases a lock taken by the probe
        return False

    def heartbeat_age(self) -> float | None:
        try:
            return max(0.0, time.time() - os.stat(self.root / "heartbeat").st_mtime)
        except OSError:
            return None

    # --- writing (the builder) ---------------------------------------------

    def acquire(self) -> bool:
        """Become this store's builder; False if another process is."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / "builder.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise StoreError(f"{self.root}: cannot create the store: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.renew()
        return True

    def renew(self) -> bool:
        """Still the builder? (A file lock cannot be lost while the process lives.)"""
        path = self.root / "heartbeat"
        try:
            os.utime(path)
        except FileNotFoundError:
            path.touch()
        except OSError:
            pass
        return self._lock_fd is not None

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def put(self, etag: str, body: bytes) -> None:
        target = self._object(etag)
        if target.exists():
            os.utime(target)  # in use again: not garbage
            return
        _atomic_write(target, body)

    def commit(self, manifest: Manifest, changed: dict | None = None) -> None:
        previous = self.current()
        _atomic_write(self.root / MANIFEST, manifest.encode())
        self._manifest, self._seen = manifest, None
        # The grace period of a superseded body runs from now, not from when it was written.
        for path, entry in (previous.documents.items() if previous else ()):
            now = manifest.documents.get(path)
            if now is None or now.etag != entry.etag:
                for etag in entry.etags():
                    try:
                        os.utime(self._object(etag))
                    except OSError:
                        pass

    def collect_garbage(self, manifest: Manifest) -> int:
        """Remove bodies no longer named by the manifest and older than the grace period."""
        keep = {etag for entry in manifest.documents.values() for etag in entry.etags()}
        removed, cutoff = 0, time.time() - GRACE_SECONDS
        objects = self.root / "objects"
        for folder in _listdir(objects):
            for name in _listdir(objects / folder):
                path = objects / folder / name
                try:
                    if name not in keep and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    pass
        return removed

    def _object(self, etag: str) -> Path:
        return self.root / "objects" / etag[:2] / etag


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _atomic_write(target: Path, data: bytes) -> None:
    from ..writers import atomic_write
    atomic_write(target, data, StoreError)
