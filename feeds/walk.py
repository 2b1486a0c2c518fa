"""The folder walk: which files under the content folder are articles.

Symbolic links are followed, to folders and files, but every real folder is
listed once and every real file given once, under the first name met in
sorted order; a link that loops, or a folder met twice, is reported (as
NotRead) naming the link. A file met again under a second name (a link, a
hard link) comes as a reason naming the first (see second_name_of): not a
problem, but a watcher must know that an event there, or on the first name,
changes what the walk gives. Hidden files and folders (.git, editors' swap
files), a repository's README/LICENSE/CHANGELOG/CONTRIBUTING and anything
that is not a regular file (a fifo would block its reader) are not articles.
"""
from __future__ import annotations

import os
from operator import itemgetter

ARTICLE_SUFFIX = ".md"
NOT_ARTICLES = {"readme.md", "license.md", "changelog.md", "contributing.md"}

_FIRST = itemgetter(0)


class NotRead(str):
    """Why a walked name is not read (a folder that cannot be listed, a loop):
    told apart from the paths of article files by its type. `name` is the
    walked name it concerns, once set by the walk's consumer."""

    name = ""

    def __reduce__(self):
        return (_not_read, (str(self), self.name))


def _not_read(reason: str, name: str) -> "NotRead":
    value = NotRead(reason)
    value.name = name
    return value


class FlatFolder:
    """A folder holding only article files (a flat archive of a million), given
    whole when the walk is `batched`: `path` ends with a separator, and each
    name's relative name is `prefix + name`. The names are in no particular order."""

    __slots__ = ("prefix", "path", "names")

    def __init__(self, prefix: str, path: str, names: list[str]):
        self.prefix, self.path, self.names = prefix, path, names


# Not a problem (feeds check does not report it): the mark of a name the walk gives no file under.
SECOND_NAME = "a second name of the file read as "
_SECOND_NAME_END = " (not read again)"


def second_name_of(reason: str) -> str | None:
    """The first name (printable) a SECOND_NAME reason names; None for any other reason."""
    if reason.startswith(SECOND_NAME) and reason.endswith(_SECOND_NAME_END):
        return reason[len(SECOND_NAME):-len(_SECOND_NAME_END)]
    return None


class _FirstNames:
    """Which name each file was given under, found only once a file is met
    twice: the fast path records no names (a million-file folder would pay
    for a dict it never needs), so the first lookup lists those folders again
    and from then on every name given is recorded (the rest of that walk takes
    the slower path, which names each file)."""

    __slots__ = ("known", "unrecorded", "recording")

    def __init__(self) -> None:
        self.known: dict[tuple[int, int], str] = {}
        self.unrecorded: list[tuple[str, str, int]] = []  # (prefix, folder path, st_dev) of fast-path folders
        self.recording = False

    def reason(self, device: int, number: int) -> NotRead:
        if (device, number) not in self.known and self.unrecorded:
            for prefix, top, folder_device in self.unrecorded:
                try:
                    with os.scandir(top) as listing:
                        for entry in listing:  # the fast path's articles: no links, no folders
                            if _is_article_name(entry.name) and _is_regular(entry):
                                self.known.setdefault((folder_device, entry.inode()), prefix + entry.name)
                except OSError:
                    continue
            self.unrecorded = []
        self.recording = True
        return NotRead(f"{SECOND_NAME}{printable(self.known.get((device, number), '?'))}{_SECOND_NAME_END}")

_LOOP = NotRead("symbolic link loop: points to an enclosing folder (not followed)")
_FOLDER_LOOP = NotRead("folder loop: the same folder as an enclosing folder (not followed)")


def _article_entries(top: str, prefix: str = "", enclosing: tuple = (), ordered: bool = True,
                     batched: bool = False):
    """(relative name, DirEntry) of every *.md under top, sorted, depth first;
    (relative name, reason) for what is not read: a folder that cannot be
    listed, a linked folder that would loop or was already read; (relative
    name, reason naming the first name) for a file met again.

    Linked folders and files are followed, but each real folder is listed once
    and each real file, by (st_dev, st_ino), given once: under the first name
    met. A file met again (a second link, a hard link) comes as a SECOND_NAME reason; a
    dangling link is ignored. `enclosing` holds the (st_dev, st_ino) of the
    folders above `top` when only a subtree is walked.

    Hidden files and folders (.git, editors' swap files) and a repository's
    README/LICENSE/CHANGELOG/CONTRIBUTING are not content.
    """
    import stat

    try:
        info = os.stat(top)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as error:
        yield prefix or ".", NotRead(f"cannot read folder: {error.strerror or error}")
        return
    if not stat.S_ISDIR(info.st_mode):
        return
    here = (info.st_dev, info.st_ino)
    if here in enclosing:
        return
    ancestors = set(enclosing)
    ancestors.add(here)
    yield from _walk(top, prefix, here, ancestors, {here: prefix}, {}, ordered, batched, _FirstNames())


def _walk(top: str, prefix: str, here: tuple[int, int], ancestors: set, folders: dict, files: dict,
          ordered: bool, batched: bool, given_as: _FirstNames):
    """_article_entries of one real folder, `here`, already counted as read.

    ancestors: the real folders from the top down to here; folders: every real
    folder read so far -> its relative name; files: st_dev -> st_ino of every
    file given so far; given_as: the names they were given under.
    """
    import stat

    try:
        with os.scandir(top) as listing:
            entries = [entry for entry in listing if entry.name[0] != "."]
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as error:  # unreadable: reported, and the rest is still read
        yield prefix or ".", NotRead(f"cannot read folder: {error.strerror or error}")
        return
    # Comprehensions, not a loop: this runs once per entry of folders a million entries long.
    try:
        regular = [entry.is_file(follow_symlinks=False) for entry in entries]  # from d_type: no stat
    except OSError:  # a file system without d_type, and an entry gone: one at a time
        regular = [_is_regular(entry) for entry in entries]
    special = [(entry.name, 0, entry) for entry, is_regular in zip(entries, regular) if not is_regular]
    articles = [entry for entry, is_regular in zip(entries, regular) if is_regular and
                entry.name.endswith(ARTICLE_SUFFIX) and (len(entry.name) >= 16 or entry.name.lower() not in NOT_ARTICLES)]
    # (_is_article_name, inline: this runs once per file of the folder.)
    names = [entry.name for entry in articles]
    numbers = [entry.inode() for entry in articles]  # d_ino; the entries are not kept
    del entries, regular, articles
    device = here[0]
    given = files.get(device)
    if given is None:
        given = files[device] = set()
    join = os.path.join
    if not special and not given_as.recording:  # a folder of files only (a flat archive of a million): the fast path
        if len(set(numbers)) == len(numbers) and given.isdisjoint(numbers):  # no file met twice
            given.update(numbers)
            del numbers
            given_as.unrecorded.append((prefix, top, device))
            if ordered:  # (a warm scan only compares stamps: any order will do)
                names.sort()
            if batched:
                yield FlatFolder(prefix, top + os.sep, names)
            elif prefix:
                for name in names:
                    yield prefix + name, join(top, name)
            else:
                top += os.sep
                for name in names:
                    yield name, top + name
            return
    plain = sorted(zip(names, numbers))
    del names, numbers
    if not special:
        known = given_as.known
        for name, number in plain:
            count = len(given)
            given.add(number)
            if len(given) > count:  # else the same file met again under another name: given once
                known[device, number] = prefix + name
                yield prefix + name, join(top, name)
            else:
                yield prefix + name, given_as.reason(device, number)
        return
    for name, number, entry in sorted([*((name, number, None) for name, number in plain), *special],
                                      key=_FIRST):
        if entry is None:
            count = len(given)
            given.add(number)
            if len(given) > count:
                given_as.known[device, number] = prefix + name
                yield prefix + name, join(top, name)
            else:
                yield prefix + name, given_as.reason(device, number)
            continue
        article = name.endswith(ARTICLE_SUFFIX) and name.lower() not in NOT_ARTICLES
        try:
            linked = entry.is_symlink()
            folder = entry.is_dir()
            if not (folder or article):
                continue
            if folder or linked:
                target = entry.stat()  # the folder's own (st_dev, st_ino), or the link target's
            if folder:
                real = (target.st_dev, target.st_ino)
            elif linked and stat.S_ISREG(target.st_mode):
                seen = files.get(target.st_dev)
                if seen is None:
                    seen = files[target.st_dev] = set()
                number, target_device = target.st_ino, target.st_dev
            else:  # a fifo, a socket, a device: reading it could wait forever
                continue
        except OSError:  # a dangling link, a link to itself, vanished
            continue
        if folder:
            first = folders.get(real)
            if real in ancestors:
                yield prefix + name, _LOOP if linked else _FOLDER_LOOP
            elif first is not None:
                shown = printable(first)  # a problem message: stored in the index, printed
                yield prefix + name, NotRead(f"links to a folder already read as {shown} (not read again)"
                                             if linked else f"folder already read as {shown} (not read again)")
            else:
                inside = folders[real] = f"{prefix}{name}/"
                ancestors.add(real)
                yield from _walk(entry.path, inside, real, ancestors, folders, files, ordered, batched, given_as)
                ancestors.discard(real)
            continue
        count = len(seen)
        seen.add(number)
        if len(seen) > count:
            given_as.known[target_device, number] = prefix + name
            yield prefix + name, entry.path
        else:  # the same file met again under another name: given once
            yield prefix + name, given_as.reason(target_device, number)


def printable(name: str) -> str:
    """A file or folder name for messages and the index: printable even when it
    is not valid UTF-8, and never the same for two names. A byte that is not
    UTF-8 is shown as \\xff, so a backslash of the name itself is doubled:
    the byte 0xff and the four characters \\xff stay two files."""
    if name.isascii() and "\\" not in name:  # no undecodable bytes (they are kept as non-ASCII surrogates)
        return name
    return os.fsencode(name).replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def _is_article_name(name: str) -> bool:
    """Whether a file of this name is an article (when it is a regular file)."""
    return name[0] != "." and name.endswith(ARTICLE_SUFFIX) and (len(name) >= 16 or name.lower() not in NOT_ARTICLES)


def _is_regular(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def stamp_of(stat: os.stat_result) -> tuple[int, int, int]:
    """What tells a changed file: size, mtime and ctime (ctime changes on rename and chmod too)."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _list_files(top: str, stamps: bool) -> list[tuple[str, tuple | str | None]]:
    """(relative name, stamp or None) of every article file, in order;
    (relative name, reason) for what is not read (see _article_entries)."""
    return _listing(_article_entries(top), stamps)


def list_article_files(top: str, under: str = "") -> list[tuple[str, tuple | str]]:
    """_list_files(top, stamps=True) of the subtree `under` only ("2025/01"; "" is
    all of top), names still relative to top: for a folder just moved in."""
    return _listing(article_entries(top, under), stamps=True)


def article_entries(top: str, under: str = "", ordered: bool = True, batched: bool = False):
    """(relative name, DirEntry) of every article file under `under` (all of
    top when ""), and (relative name, reason) for what is not read.

    A link in the subtree to a folder above it (or to top) is a loop as in the
    whole walk. Nothing when `under` is not a folder, leaves top, or is
    hidden or reached through a loop; `under` itself a link that loops is
    reported as the whole walk would. `batched`: a folder of article files
    only comes as one FlatFolder instead of a pair per file.
    """
    import stat

    parts = [part for part in under.split("/") if part not in ("", ".")]
    if any(part == ".." or part.startswith(".") for part in parts):
        return
    if not parts:
        yield from _article_entries(top, ordered=ordered, batched=batched)
        return
    enclosing, path = [], top
    for part in [None, *parts]:
        if part is not None:
            path = os.path.join(path, part)
        try:
            info = os.stat(path)
        except OSError:
            return
        real = (info.st_dev, info.st_ino)
        if not stat.S_ISDIR(info.st_mode):
            return
        if real in enclosing:
            if len(enclosing) == len(parts):  # `under` itself
                yield "/".join(parts), _LOOP if os.path.islink(path) else _FOLDER_LOOP
            return
        enclosing.append(real)
    yield from _article_entries(path, "/".join(parts) + "/", tuple(enclosing[:-1]), ordered, batched)


def _listing(entries, stamps: bool) -> list[tuple[str, tuple | str | None]]:
    files = []
    for name, path in entries:
        if path.__class__ is NotRead:  # not read, and why
            files.append((name, str(path)))
            continue
        if not stamps:
            files.append((name, None))
            continue
        try:
            files.append((name, stamp_of(os.stat(path))))
        except OSError:
            continue  # vanished since listing
    return files


# Forking a process that runs other threads (a file watcher, a lock keeper)
# can leave the child waiting forever on a lock held by a thread it does not
# have: such processes start workers afresh instead (set by the builder).
