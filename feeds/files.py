"""Files replaced atomically: a reader sees the old file or the new one, never
part of either. The one way `feeds` replaces a file, for the export writer and
the folder store alike (below both, so neither imports the other)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .exceptions import ExportError


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _temporary_file(target: Path) -> tuple[int, str]:
    # Named by this process (a writer writes one file at a time); when taken
    # (left by a killed process that had the same pid), a random name instead.
    tmp = f"{target.parent}{os.sep}.{target.name}.{os.getpid():07d}.tmp"
    try:
        return os.open(tmp, _CREATE, 0o644), tmp
    except FileExistsError:
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")


def atomic_write(target: Path, data: bytes, error=ExportError, after: int | None = None) -> None:
    """Replace target with data so readers see either the old or the new file.

    `after`: the replaced file's modification second. The new file's comes
    later, even when both are written within one second: a static server's
    ETag and Last-Modified are made of the whole seconds (and the size), and a
    same-size version must not answer a conditional request for the one it
    replaced with 304."""
    try:
        try:
            fd, tmp = _temporary_file(target)
        except (FileNotFoundError, NotADirectoryError):  # folders are made on first use, not checked per file
            make_dir(target.parent, error)
            fd, tmp = _temporary_file(target)
    except OSError as why:
        raise error(f"{target.parent}: cannot write: {why.strerror}") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o644)  # whatever the umask: a web server reads it
            if after is not None:
                written = os.fstat(fd)
                if written.st_mtime_ns // 1_000_000_000 <= after:
                    os.utime(fd, ns=(written.st_atime_ns, (after + 1) * 1_000_000_000))
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as why:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise error(f"{target}: cannot write: {why.strerror}") from None


def make_dir(path: Path, error=ExportError) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise error(f"{path}: exists and is not a folder") from None
    except NotADirectoryError:
        raise error(f"{path}: a parent of this path is a file, not a folder") from None
    except OSError as why:
        raise error(f"{path}: cannot create folder: {why.strerror}") from None
