"""Walks a library and yields its photos with their stat signature.

Built on ``os.scandir`` and ``stat`` only: nothing is ever opened while scanning, so a
FIFO or a socket cannot hang it. Symlinks are followed, with every folder visited once
(by device and inode), so symlink loops end; a file reachable twice (hard links,
symlinks) is yielded once: a symlink to a photo the walk reaches as itself is left out,
and only hard-linked and symlinked files are remembered for that. Hidden files and
folders, Synology ``@eaDir`` thumbnail folders and anything that is not a regular file
with a supported extension are skipped; entries that are named like photos but cannot be
one (a FIFO, a folder, a dangling symlink, a symlink loop) are listed in ``problems``
with the reason, as are folders that cannot be read. Those folders are also remembered
(``unreadable_dirs``) so that the photos under them are not mistaken for deleted ones;
files that vanish while scanning are simply not yielded. A RAW or HEIC photo's signature
covers its XMP sidecars too (:class:`FileEntry`).

Photos come in the byte order of their paths (``os.fsencode``), the order in which the
state's index keeps its records: :mod:`scened.daemon.snapshot` merges the two in one
pass, holding one folder's entries at a time whatever the library's size.
"""

from __future__ import annotations

import errno
import fnmatch
import functools
import logging
import operator
import os
import re
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast

from scened.errors import LibraryError
from scened.formats import SUFFIXES
from scened.metadata.atomic import is_temporary_name
from scened.metadata.formats import SIDECAR_ONLY, sidecar_names

log = logging.getLogger(__name__)

#: Every suffix of the format table (:mod:`scened.formats`): what can be tagged is scanned.
SUPPORTED_EXTENSIONS = SUFFIXES
#: A temporary copy this old is no write in progress (any scened process) but a leftover.
LEFTOVER_AGE_S = 15 * 60
#: Folder names never entered (besides hidden ones): NAS thumbnail caches.
SKIPPED_DIRS = frozenset({"@eaDir", "#recycle", "#snapshot"})
_KEY = operator.itemgetter(0)
_NAME = operator.attrgetter("name")


class FileEntry:
    """A photo found by the scanner and what ``stat`` said about it.

    A photo whose keywords can only live in a sidecar (camera RAW, HEIC: see
    :data:`scened.metadata.formats.SIDECAR_ONLY`) is the photo *and* its sidecars:
    ``size`` adds up their sizes and ``mtime_ns`` is the latest of their mtimes, so
    a sidecar removed (``scened untag``, the user), added or edited changes the
    signature like an edit of an embedded photo's keywords changes its file.
    Embedded photos are their file alone: the signature is also what the atomic
    write checks the photo against (another application's sidecar beside a JPEG,
    darktable's ``photo.jpg.xmp``, must not look like a concurrent edit).

    A value (equal by path and signature; its attributes are final).  Made for every
    file of every scan, so it is a slotted class whose :class:`~pathlib.Path` is built
    from the directory entry's string only when asked for: a rescan of 100,000
    unchanged photos never needs one.
    """

    __slots__ = ("_path", "_text", "device", "inode", "key", "mtime_ns", "size")

    def __init__(
        self, path: Path | str, device: int, inode: int, size: int, mtime_ns: int,
        key: bytes = b"",
    ) -> None:  # fmt: skip
        self._path: Path | None = path if isinstance(path, Path) else None
        self._text: str | None = path if isinstance(path, str) else None
        self.device: Final = device
        self.inode: Final = inode
        self.size: Final = size
        self.mtime_ns: Final = mtime_ns
        #: ``os.fsencode(path)``: the photo's key in the state.
        self.key: Final = key or os.fsencode(path)

    @property
    def path(self) -> Path:
        path = self._path
        if path is None:
            path = self._path = Path(cast(str, self._text))
        return path

    @classmethod
    def from_stat(cls, path: Path | str, st: os.stat_result, key: bytes = b"") -> FileEntry:
        """The entry for ``path`` whose own ``stat`` is ``st`` (its sidecars are stat'ed)."""
        size, mtime_ns = st.st_size, st.st_mtime_ns
        if _suffix(str(path)) in SIDECAR_ONLY:
            for sidecar in sidecar_names(Path(path)):
                try:
                    side = sidecar.stat()
                except OSError:  # none in this naming (or it vanished): nothing to add
                    continue
                size += side.st_size
                mtime_ns = max(mtime_ns, side.st_mtime_ns)
        return cls(path, st.st_dev, st.st_ino, size, mtime_ns, key)

    @property
    def signature(self) -> tuple[int, int, int, int]:
        """What must match for a photo to count as unchanged (no hashing needed)."""
        return (self.device, self.inode, self.size, self.mtime_ns)

    def on_device(self, device: int) -> FileEntry:
        """The same entry with another device number (a cluster worker's view)."""
        return FileEntry(self.path, device, self.inode, self.size, self.mtime_ns, self.key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileEntry):
            return NotImplemented
        return self.key == other.key and self.signature == other.signature

    def __hash__(self) -> int:
        return hash((self.key, self.signature))

    def __repr__(self) -> str:
        return (
            f"FileEntry(path={str(self.path)!r}, device={self.device}, inode={self.inode}, "
            f"size={self.size}, mtime_ns={self.mtime_ns})"
        )

    def __reduce__(self) -> tuple[type[FileEntry], tuple[object, ...]]:
        return (FileEntry, (self.path, *self.signature, self.key))


def _suffix(name: str) -> str:
    """The lower-case suffix of a file name or path (``PurePath.suffix``, no path built)."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1 or name.rfind("/") >= dot - 1:
        return ""
    return name[dot:].lower()


def is_supported(name: str) -> bool:
    return _suffix(name) in SUPPORTED_EXTENSIONS


def matches(patterns: Sequence[str], relative: str) -> bool:
    """Whether the relative POSIX path, or its last part, matches a glob (case-insensitive).

    ``*`` also crosses folders (fnmatch semantics), so ``*.png`` and ``Trash/*``
    work at any depth.
    """
    if not patterns:
        return False
    pattern = _compiled(tuple(patterns))
    lowered = relative.lower()
    return bool(pattern.match(lowered) or pattern.match(lowered.rsplit("/", 1)[-1]))


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """The globs as one regular expression (one match a file, not one per glob)."""
    return re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns))


@dataclass
class Scanner:
    """One walk of one library; iterate it to get the photos."""

    root: Path
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    unreadable_dirs: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)
    #: Temporary copies that a killed scened left behind, old enough to be nobody's.
    leftovers: list[Path] = field(default_factory=list)
    #: The library folder's (device, inode), once the walk has begun.
    location: tuple[int, int] | None = None
    #: Where the walk begins (a folder or one photo inside ``root``; None: ``root``).
    #: Patterns stay relative to ``root``, and what a walk of ``root`` would leave out
    #: (an excluded or hidden folder above ``start``) is left out.
    start: Path | None = None
    #: Length of the root's path with a separator: what every walked entry starts with.
    _prefix: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        root = str(self.root)
        self._prefix = len(root) + (not root.endswith(os.sep))  # "/" is its own separator

    def __iter__(self) -> Iterator[FileEntry]:
        try:
            root_stat = self.root.stat()
        except OSError as exc:
            raise LibraryError(f"library folder not readable: {exc.strerror}", self.root) from None
        if not stat.S_ISDIR(root_stat.st_mode):
            raise LibraryError("library path is not a folder", self.root)
        self.location = (root_stat.st_dev, root_stat.st_ino)
        visited_dirs = {(root_stat.st_dev, root_stat.st_ino)}
        seen_files: set[tuple[int, int]] = set()
        if self.start is not None and self.start != self.root:
            entry = self._start_entry(self.start)
            found = None if entry is None else self._visit(entry, visited_dirs, seen_files)
            first = [] if found is None else [found[1]]
        else:
            first = self._children(self.root, visited_dirs, seen_files)
        # depth first, each folder's children in the byte order of their paths (a folder
        # "a" sorts as "a/"), so that the walk yields photos in the order of their keys
        stack = [iter(first)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
            elif isinstance(child, FileEntry):
                yield child
            else:
                stack.append(iter(self._children(child, visited_dirs, seen_files)))

    def _children(
        self, folder: Path, visited_dirs: set[tuple[int, int]], seen_files: set[tuple[int, int]]
    ) -> list[FileEntry | Path]:
        """The photos and the folders to enter in ``folder``, in the byte order of their
        paths: what :mod:`scened.daemon.snapshot` merges with the state's records."""
        found = [
            child
            for entry in self._list(folder)
            if (child := self._visit(entry, visited_dirs, seen_files)) is not None
        ]
        found.sort(key=_KEY)
        return [item for _, item in found]

    def _start_entry(self, start: Path) -> os.DirEntry[str] | None:
        """``start``'s entry in its folder, if a walk of ``root`` would reach it."""
        if not self._folders_walked(start.relative_to(self.root)):
            return None
        return next((e for e in self._list(start.parent) if e.name == start.name), None)

    def _folders_walked(self, relative: Path) -> bool:
        """Whether the folders above ``relative`` (to ``root``) are all walked."""
        for folder in relative.parents[:-1]:
            if folder.name.startswith(".") or folder.name in SKIPPED_DIRS:
                return False
            if matches(self.exclude, folder.as_posix()):
                return False
        return True

    def _reached_as_itself(self, link: str) -> bool:
        """Whether the file the symlink ``link`` points to is a photo this walk yields
        under its own path (then the link is left out, and the photo yielded as itself)."""
        if self._real_folders is None:  # the walk is of one photo: nothing else is reached
            return False
        real_root, real_top = self._real_folders
        target = Path(os.path.realpath(link))
        if not target.is_relative_to(real_top):
            return False
        relative = target.relative_to(real_root)
        return (
            self._folders_walked(relative)
            and not relative.name.startswith(".")
            and is_supported(relative.name)
            and self._patterns_allow(relative.as_posix())
        )

    @functools.cached_property
    def _real_folders(self) -> tuple[Path, Path] | None:
        """The root's and the walked folder's real paths (None: the walk is of a photo)."""
        top = self.root if self.start is None else self.start
        real_root, real_top = (Path(os.path.realpath(p)) for p in (self.root, top))
        return (real_root, real_top) if real_top.is_dir() else None

    def _patterns_allow(self, relative: str) -> bool:
        """Whether include/exclude let a photo at ``relative`` (POSIX, to ``root``) in."""
        if matches(self.exclude, relative):
            return False
        return not self.include or matches(self.include, relative)

    def _list(self, folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as entries:  # in name order: which of two links to
                return sorted(entries, key=_NAME)  # one file or folder counts is stable
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError):
                self.unreadable_dirs.append(folder)
                self.problems.append((folder, f"cannot list folder: {exc.strerror}"))
                log.warning("%s: cannot list folder: %s", folder, exc.strerror)
            return []

    def _visit(
        self,
        entry: os.DirEntry[str],
        visited_dirs: set[tuple[int, int]],
        seen_files: set[tuple[int, int]],
    ) -> tuple[bytes, FileEntry | Path] | None:
        """The photo ``entry`` is, or the folder to enter, with its key; None: neither."""
        if entry.name.startswith("."):
            if is_temporary_name(entry.name):
                self._check_leftover(entry)
            return None
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:  # broken symlink, symlink loop, vanished file, no access
            self._unreadable_entry(entry, Path(entry.path), exc)
            return None
        # only patterns need the relative path: the entry's string past the root's
        # (every folder walked is the root joined with names, so it starts with it)
        relative = entry.path[self._prefix :] if self.include or self.exclude else ""
        if stat.S_ISDIR(st.st_mode):
            if is_supported(entry.name):
                self._skip(entry.path, "a folder named like a photo (its contents are scanned)")
            folder = (st.st_dev, st.st_ino)
            wanted = entry.name not in SKIPPED_DIRS and not matches(self.exclude, relative)
            if not wanted or folder in visited_dirs:
                return None
            visited_dirs.add(folder)
            return os.fsencode(entry.path) + b"/", Path(entry.path)
        if not is_supported(entry.name):
            return None
        if not stat.S_ISREG(st.st_mode):
            self._skip(entry.path, f"not a regular file but {_file_kind(st.st_mode)}; never opened")
            return None
        if not self._patterns_allow(relative):
            return None
        # a file reachable twice is yielded once; only files that can be remembered
        # (hard links, and links to photos the walk does not reach as themselves), so
        # that memory does not grow with the library
        if entry.is_symlink():
            if self._reached_as_itself(entry.path):
                return None
            remember = True
        else:
            remember = st.st_nlink > 1
        if (st.st_dev, st.st_ino) in seen_files:
            return None
        if remember:
            seen_files.add((st.st_dev, st.st_ino))
        key = os.fsencode(entry.path)
        return key, FileEntry.from_stat(entry.path, st, key)

    def _unreadable_entry(self, entry: os.DirEntry[str], path: Path, exc: OSError) -> None:
        """Report a photo-named entry that ``stat`` fails on; a vanished file is no news."""
        if not is_supported(entry.name):
            return
        if exc.errno == errno.ELOOP:
            self._skip(path, "symlink loop")
        elif entry.is_symlink() and isinstance(exc, FileNotFoundError):
            self._skip(path, f"dangling symlink (to {_link_target(path)})")
        elif not isinstance(exc, FileNotFoundError):
            self._skip(path, f"cannot read: {exc.strerror}")

    def _check_leftover(self, entry: os.DirEntry[str]) -> None:
        """A temporary copy older than a write could take was left by a killed process."""
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISREG(st.st_mode) and time.time() - st.st_mtime > LEFTOVER_AGE_S:
            self.leftovers.append(Path(entry.path))

    def _skip(self, path: Path | str, reason: str) -> None:
        self.problems.append((Path(path), reason))
        log.info("%s: skipped: %s", path, reason)


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device",
             stat.S_ISBLK: "a device"}  # fmt: skip
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def _link_target(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "?"
