"""Stamping the content folder's files: a hash of each file's size and
timestamps, and their sums per bucket of names, in this process or split
between child processes that each walk the folder and stamp a share of it."""
from __future__ import annotations

import array
import os
import zlib

from ..read import _printable
from ..walk import SECOND_NAME, FlatFolder, NotRead, _not_read, article_entries
from .index import BUCKETS, LISTING_PROBLEM, SECOND_NAME_STAMP, message_crc
VANISHED = -2  # the stamp of a file gone between listing and stat


class _SharedScan:
    """A warm scan split between child processes by name: each walks the
    folder (listing is cheap; stat-ing is not), stamps its own share's files,
    sends their sums, then the entries of the buckets the parent asks for.

    Plain os.fork: the children only list, stat and write to pipes, so they
    are safe even when this process runs other threads. If a child fails, the
    scan is done here instead."""

    def __init__(self, top: str, jobs: int, racy: int):
        self.children = []
        try:
            for share in range(jobs):
                down_read, down_write = os.pipe()
                up_read, up_write = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child
                    try:
                        # Only its two pipes: above all not the store's lock, which a
                        # child would otherwise hold on past a builder killed mid-scan.
                        _close_all_but(down_read, up_write)
                        _scan_share(top, share, jobs, racy, down_read, up_write)
                    finally:
                        os._exit(0)
                os.close(down_read)
                os.close(up_write)
                self.children.append((pid, os.fdopen(down_write, "wb"), os.fdopen(up_read, "rb")))
        except OSError:
            self.close()

    def sums(self) -> dict[int, int]:
        if not self.children:
            raise OSError("no scanning process could start")
        total: dict[int, int] = {}
        for _, _, up in self.children:
            part = _read_part(up, "Q")
            if part is None or len(part) != BUCKETS:
                raise OSError("a scanning process failed")
            for bucket, value in enumerate(part):
                if value:
                    total[bucket] = total.get(bucket, 0) + value
        return total

    def entries(self, buckets: set[int]) -> list[tuple[str, int]]:
        import pickle
        wanted = array.array("H", sorted(buckets)).tobytes()
        found: list[tuple[str, int]] = []
        for _, down, _ in self.children:
            down.write(len(wanted).to_bytes(8, "little") + wanted)
            down.flush()
        for _, _, up in self.children:
            head = up.read(8)
            found.extend(pickle.loads(up.read(int.from_bytes(head, "little"))))
        self.close()
        return found

    def close(self) -> None:
        for pid, down, up in self.children:
            for pipe in (down, up):
                try:
                    pipe.close()
                except OSError:
                    pass
            os.waitpid(pid, 0)
        self.children = []


def _close_all_but(*keep: int) -> None:
    """Close every file descriptor above stderr except `keep`."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _scan_share(top: str, share: int, jobs: int, racy: int, down: int, up: int) -> None:
    import pickle
    values, buckets, sums, names = _stamp_share(article_entries(top, ordered=False, batched=True), racy, share, jobs)
    with os.fdopen(up, "wb") as pipe, os.fdopen(down, "rb") as orders:
        data = array.array("Q", (sums.get(bucket, 0) % 2 ** 64 for bucket in range(BUCKETS))).tobytes()
        pipe.write(len(data).to_bytes(8, "little") + data)
        pipe.flush()
        head = orders.read(8)
        if len(head) != 8:  # nothing differs: the parent wants no entries
            return
        wanted = array.array("H")
        wanted.frombytes(orders.read(int.from_bytes(head, "little")))
        wanted = set(wanted)
        data = pickle.dumps(_paired(names, values, buckets, wanted), protocol=5)
        pipe.write(len(data).to_bytes(8, "little") + data)


def _read_part(pipe, code: str):
    head = pipe.read(8)
    if len(head) != 8:
        return None
    data = pipe.read(int.from_bytes(head, "little"))
    part = array.array(code)
    part.frombytes(data)
    return part


def _stamp_share(entries, racy: int, share: int, jobs: int):
    """(stamps, buckets, sums per bucket, names) of the walked entries that
    fall to `share` of `jobs`; a name not read keeps its reason (NotRead) in
    place of a stamp in `names`' pairing, see _paired.

    The shares split names by their str hash, the same in every child of one
    process and far cheaper than their checksum, which only a name's own
    share computes: any split will do, as the parent sums the children's
    bucket sums and asks each for the entries of the buckets that differ."""
    values, buckets, sums, names = array.array("q"), array.array("H"), {}, []
    add_value, add_bucket, add_name, get, crc32 = values.append, buckets.append, names.append, sums.get, zlib.crc32
    for item in entries:
        if item.__class__ is FlatFolder:  # the loop a million-file folder runs: kept tight
            prefix, folder = item.prefix, item.path
            mine = [(prefix + name, name) for name in item.names if hash(prefix + name) % jobs == share] if prefix \
                else [(name, name) for name in item.names if hash(name) % jobs == share]
            for name, base in mine:
                source = name if name.isascii() and "\\" not in name else _printable(name)
                crc = crc32(source.encode("utf-8", "surrogateescape"))
                value = _stamp(folder + base, racy)
                bucket = crc & (BUCKETS - 1)
                add_value(value)
                add_bucket(bucket)
                add_name(name)
                sums[bucket] = get(bucket, 0) + hash((crc, value))
            continue
        name, path = item
        if hash(name) % jobs != share:
            continue
        source = name if name.isascii() and "\\" not in name else _printable(name)
        crc = crc32(source.encode("utf-8", "surrogateescape"))
        bucket = crc & (BUCKETS - 1)
        value = _stamp(path, racy)
        add_value(value)
        add_bucket(bucket)
        if path.__class__ is NotRead:  # counted with what the walk says (see index contribution)
            add_name(_not_read(str(path), name))  # see _paired
            sums[bucket] = get(bucket, 0) + hash((crc, value, message_crc(str(path))))
            continue
        add_name(name)
        sums[bucket] = get(bucket, 0) + hash((crc, value))
    return values, buckets, sums, names


def _paired(names: list, values, buckets, wanted: set[int]) -> list[tuple[str, object]]:
    """(name, stamp) of the entries in the wanted buckets; (name, reason) for
    those not read, whose reason stood in for the name in `names`."""
    found = []
    for name, value, bucket in zip(names, values, buckets):
        if bucket in wanted:
            found.append((name.name, name) if name.__class__ is NotRead else (name, value))
    return found


def _stamp(path, racy: int) -> int:
    """The stamp of the file at path (or of an os.stat_result): a hash of its
    size, mtime and ctime; 0 when modified or changed too recently to trust
    (read again next time: a second edit within a coarse timestamp's tick
    would leave every part of the stamp as it was);
    LISTING_PROBLEM for a name not read, SECOND_NAME_STAMP for a file's
    second name, VANISHED for a file gone."""
    if path.__class__ is NotRead:
        return SECOND_NAME_STAMP if path.startswith(SECOND_NAME) else LISTING_PROBLEM
    try:
        stat = path if path.__class__ is os.stat_result else os.stat(path)
    except OSError:
        return VANISHED
    mtime = stat.st_mtime_ns
    # The change time too: an edit whose mtime was put back (touch -r, rsync -t, an
    # editor keeping it) still moves ctime, which nothing but the kernel sets.
    if mtime >= racy or stat.st_ctime_ns >= racy:
        return 0
    value = hash((stat.st_size, mtime, stat.st_ctime_ns))
    return 1 if value in (0, LISTING_PROBLEM, VANISHED, SECOND_NAME_STAMP) else value
