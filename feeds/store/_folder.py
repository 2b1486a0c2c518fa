"""The document store in a local folder: one builder writes it, any number of
server processes on the host read it.

    manifest.json           the current complete version (replaced by rename: the commit)
    head                    16 bytes: the version the builder is committing (see current())
    objects/ab/abcdef...    bodies, and the manifest's parts (see _types), named by their ETag,
                            written before the manifest names them
    builder.lock            held (flock) by the one builder of this store
    heartbeat               touched by that builder every second

Bodies are never changed in place, so a server holding an older manifest for
a moment still finds every body it names; unreferenced bodies are removed
only after GRACE_SECONDS.
"""
from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from pathlib import Path
from typing import Iterable

from ..exceptions import StoreError
from ..files import atomic_write
from ._parts import Parts
from ._types import Manifest

GRACE_SECONDS = 600.0
MANIFEST = "manifest.json"
HEAD = "head"
_HEAD = struct.Struct("<qQ")  # version, hash of the epoch
RECHECK_SECONDS = 1.0  # a server stats the manifest at least this often, whatever the head says


class FolderStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.name = str(self.root)
        self._manifest_path = os.path.join(self.name, MANIFEST)
        self._head_path = os.path.join(self.name, HEAD)
        self._seen: tuple | None = None
        self._manifest: Manifest | None = None
        self._lock_fd: int | None = None
        self._head_fd: int | None = None  # the builder's
        self._head_map: mmap.mmap | None = None  # a server's view of the head
        self._head_inode: int | None = None
        self._head_seen: bytes | None = None  # the head that names self._manifest
        self._recheck_at = 0.0
        self._mapping = threading.Lock()

    # --- reading (servers) -------------------------------------------------

    def current(self) -> Manifest | None:
        """The newest complete version, or None before the first build.

        Servers call this on every request, so that none ever sends a version
        older than one another has sent. Reading the head (mapped memory, no
        system call) is enough while it names the manifest already loaded: a
        system call would hand the interpreter lock to another thread, and
        that was a fifth of a worker's time. The builder writes the head
        before it renames the new manifest into place, so whoever can have
        seen a new manifest sees a new head too; the manifest is stat-ed
        whenever the head differs, and at least every RECHECK_SECONDS."""
        head = self._head_map[:16] if self._head_map is not None else None
        if head is not None and head == self._head_seen and time.monotonic() < self._recheck_at:
            return self._manifest
        return self._checked(head)

    def _checked(self, head: bytes | None) -> Manifest | None:
        self._recheck_at = time.monotonic() + RECHECK_SECONDS
        self._map_head()
        manifest = self._stat_manifest()
        if manifest is not None and head is not None and head == _head_of(manifest):
            self._head_seen = head
        else:
            self._head_seen = None
        return manifest

    def _map_head(self) -> None:
        """Map the head file, again if it was replaced (the store folder made anew)."""
        try:
            inode = os.stat(self._head_path).st_ino
        except OSError:
            return
        if inode == self._head_inode:
            return
        with self._mapping:
            try:
                fd = os.open(self._head_path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return
            try:
                if os.fstat(fd).st_size >= _HEAD.size:
                    self._head_map, self._head_inode = mmap.mmap(fd, _HEAD.size, access=mmap.ACCESS_READ), inode
            except (OSError, ValueError):
                pass
            finally:
                os.close(fd)

    def _stat_manifest(self) -> Manifest | None:
        try:
            stat = os.stat(self._manifest_path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{self._manifest_path}: cannot read: {error.strerror}") from None
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
        current = self.current()
        if current is not None:  # a store from before heads, or a head lost: servers take the fast path again
            self._write_head(current)
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

    def commit(self, manifest: Manifest, changed: dict | None = None, retired: Iterable[str] = ()) -> None:
        """Make `manifest` current. `retired`: bodies of documents listed in
        parts that it no longer names (those the manifest lists itself are
        found by comparison)."""
        previous = self.current()
        self._write_head(manifest)  # first: see current()
        _atomic_write(self.root / MANIFEST, manifest.encode())
        self._manifest = manifest
        try:  # this process made it: no need to read it back
            stat = os.stat(self._manifest_path)
            self._seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:
            self._seen = None
        # The grace period of a superseded body runs from now, not from when it was written.
        superseded = set(retired)
        for path, entry in (previous.documents.items() if previous else ()):
            now = manifest.documents.get(path)
            if now is None or now.etag != entry.etag:
                superseded.update(entry.etags())
        for etag in superseded:
            try:
                os.utime(self._object(etag))
            except OSError:
                pass

    def _write_head(self, manifest: Manifest) -> None:
        """Written in place, never truncated or replaced: servers map it."""
        try:
            if self._head_fd is None:
                self.root.mkdir(parents=True, exist_ok=True)
                self._head_fd = os.open(self._head_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            os.pwrite(self._head_fd, _head_of(manifest), 0)
        except OSError as error:
            raise StoreError(f"{self._head_path}: cannot write: {error.strerror}") from None

    def collect_garbage(self, manifest: Manifest, keep: set[str] | None = None) -> int:
        """Remove bodies no longer named by the manifest (or in `keep`, every
        body it names, parts' documents included) and older than the grace period."""
        if keep is None:
            everything = Parts(self).everything(manifest)
            keep = {etag for entry in (*everything.values(), *manifest.documents.values()) for etag in entry.etags()}
        removed, cutoff = 0, time.time() - GRACE_SECONDS
        objects = os.path.join(self.name, "objects")
        # Names as text, and a stat only for those no longer named: at a million
        # articles the folder holds over a million bodies, nearly all current.
        for folder in _listdir(Path(objects)):
            base = os.path.join(objects, folder)
            for name in _listdir(Path(base)):
                if name in keep:
                    continue
                path = os.path.join(base, name)
                try:
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except OSError:
                    pass
        return removed

    def _object(self, etag: str) -> Path:
        return self.root / "objects" / etag[:2] / etag


def _head_of(manifest: Manifest) -> bytes:
    epoch = int.from_bytes(hashlib.blake2b(manifest.epoch.encode(), digest_size=8).digest(), "little")
    return _HEAD.pack(manifest.version, epoch)


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _atomic_write(target: Path, data: bytes) -> None:
    atomic_write(target, data, StoreError)
