"""Replace a file atomically: edit a temporary copy, fsync it, swap it in if nobody else wrote.

Whatever fails (the edit, the disk, the worker), the original stays byte for
byte as it was and the temporary copy is removed.  Mode and owner are kept; the
modification time is not, on purpose: photo tools (Lightroom, digiKam) notice
new metadata by the file's mtime.

Other programs edit the same photos, in place (exiftool) or by saving a new file
and renaming it over (Lightroom, digiKam).  So the new file goes in by compare
and swap, not check-then-write: it is *exchanged* with the photo atomically
(``renameat2(RENAME_EXCHANGE)``), the file swapped out is checked to be the very
one that was read (inode, size, mtime), and if it is not, the two are swapped
back and the photo is left as the other program wrote it.  Where the file system
cannot exchange (some network file systems), a final check (inode, size, mtime,
ctime) comes right before a plain rename, after the fsync.

From the copy to the swap scened holds a read lease on the photo where the kernel
grants one (:mod:`scened.metadata.lease`): a program that has it open for writing,
or opens it so while scened works, makes scened abandon the photo, even when it
writes in place without changing the size or the mtime yet.  Every such case is a
:class:`~scened.errors.PhotoBusyError`: left as it is, for the next scan.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

from scened.errors import MetadataError, PhotoBusyError, ScenedError
from scened.libc import libc as load_libc
from scened.metadata.filecopy import copy_range, write_content
from scened.metadata.lease import ReadLease, open_for_reading
from scened.types import Replaced, Spliced

#: ``edit(temporary_path) -> changed``: returns False when there is nothing to write.
Edit = Callable[[Path], bool]
#: ``transform(content) -> new content`` (whole, or a new head before the old tail),
#: or None when there is nothing to change.
Transform = Callable[[bytes], bytes | Spliced | None]


#: A file's identity and state as scened read it: (device, inode, size, mtime_ns).
Signature = tuple[int, int, int, int]


def replace_atomically(
    path: Path,
    edit: Edit,
    *,
    initial: bytes | None = None,
    like: Path | None = None,
    expect: Signature | None = None,
) -> bool:
    """Run ``edit`` on a copy of ``path`` (or on a new file holding ``initial``).

    Returns whether ``path`` was replaced.  With ``initial`` a missing file is
    created, owned like the file ``like`` (the photo a sidecar belongs to) and
    readable by the same people, writable by its owner.  Symbolic links are
    followed, so the link stays a link to the edited file.  With ``expect`` (the
    signature of the file when its pixels were read and classified) a file that
    changed since is left alone.
    """
    target = Path(os.path.realpath(path))
    try:
        source = open_for_reading(target)
    except FileNotFoundError:
        if initial is None:
            raise MetadataError("file not found", path) from None

        def create(temporary: Path) -> bool:
            temporary.write_bytes(initial)
            return edit(temporary)

        return _replace(target, None, None, create, like, path)
    except OSError as exc:
        raise MetadataError(f"cannot read: {exc.strerror or exc}", path) from exc
    try:
        before = _checked(source, expect, path)

        def copy_and_edit(temporary: Path) -> bool:
            _copy_from(source, temporary)
            return edit(temporary)

        with ReadLease(source, path) as lease:
            return _replace(target, before, lease, copy_and_edit, like, path)
    finally:
        os.close(source)


def replace_contents(
    path: Path, transform: Transform, *, content: bytes, expect: Signature
) -> Replaced | None:
    """Put ``transform(content)`` in ``path``'s place; None if it returns None (no change).

    ``content`` is what was read of ``path`` when its signature was ``expect``: the
    photo is not read again (one read a photo): a :class:`~scened.types.Spliced`
    result has its unchanged tail copied by the kernel from the photo (the descriptor
    the lease is on, checked to be ``expect``), not written from memory.  A file whose
    signature is no longer ``expect`` is left alone
    (:class:`~scened.errors.PhotoBusyError`), and the swap is the same compare and
    swap as :func:`replace_atomically`'s.
    """
    target = Path(os.path.realpath(path))
    try:
        source = open_for_reading(target)
    except OSError as exc:
        raise MetadataError(f"cannot read: {exc.strerror or exc}", path) from exc
    try:
        before = _checked(source, expect, path)
        if before.st_size != len(content):
            raise PhotoBusyError(_CHANGED_SINCE_READ, path)
        written: list[Replaced] = []

        def write_new(temporary: Path) -> bool:
            new = transform(content)
            if new is None:
                return False
            with temporary.open("wb", buffering=0) as handle:
                digest = write_content(handle, new, content, source)
                written.append(Replaced(_signature(os.fstat(handle.fileno())), digest))
            return True

        with ReadLease(source, path) as lease:
            if not _replace(target, before, lease, write_new, None, path):
                return None
        return written[0]
    finally:
        os.close(source)


def _checked(source: int, expect: Signature | None, path: Path) -> os.stat_result:
    """The photo's stat, once it is known to be a regular file that is still as read."""
    before = os.fstat(source)
    if not stat.S_ISREG(before.st_mode):
        raise MetadataError("not a regular file", path)
    if expect is not None and _signature(before) != expect:
        raise PhotoBusyError(_CHANGED_SINCE_READ, path)
    return before


def _replace(
    target: Path,
    before: os.stat_result | None,
    lease: ReadLease | None,
    fill: Edit,
    like: Path | None,
    path: Path,
) -> bool:
    """Fill a temporary file beside ``target`` and, if ``fill`` says it changed
    something, put it in ``target``'s place (created when ``before`` is None)."""
    try:
        temporary = _temporary_beside(target)
    except OSError as exc:
        raise MetadataError(f"cannot write in its folder: {exc.strerror or exc}", path) from exc
    try:
        if not fill(temporary):
            return False
        if before is not None:
            _copy_ownership(temporary, before.st_mode, before, path)
            _copy_extended_attributes(target, temporary, path)
        elif like is not None:
            model = like.stat()
            _copy_ownership(temporary, (model.st_mode & 0o666) | 0o200, model, path)
        _fsync_file(temporary)
        if before is None or lease is None:
            _create(temporary, target, path)
        else:
            _swap_in(temporary, target, before, lease, path)
        _sync_directory(target.parent)
        return True
    except ScenedError:
        raise
    except OSError as exc:
        raise MetadataError(f"could not write: {exc.strerror or exc}", path) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


_DEFERRED_SYNCS: ContextVar[set[Path] | None] = ContextVar("scened_deferred_syncs", default=None)


@contextlib.contextmanager
def directory_syncs_deferred() -> Iterator[None]:
    """Within this block (in this thread), files replaced leave the fsync of their
    folder to the end of the block: one fsync a folder for a group of photos, not one
    a photo.  A replacement counts as durable only once the block has ended: the
    caller records the group after it, never inside it."""
    folders: set[Path] = set()
    token = _DEFERRED_SYNCS.set(folders)
    try:
        yield
    finally:
        _DEFERRED_SYNCS.reset(token)
        for folder in sorted(folders):
            _fsync_directory(folder)


def _sync_directory(folder: Path) -> None:
    deferred = _DEFERRED_SYNCS.get()
    if deferred is None:
        _fsync_directory(folder)
    else:
        deferred.add(folder)


#: In the name of every temporary copy (``.<stem>.<random>.scened-tmp<suffix>``).
TEMPORARY_MARKER = ".scened-tmp"


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary copies (left behind by a killed process)."""
    return name.startswith(".") and TEMPORARY_MARKER in name


def _temporary_beside(target: Path) -> Path:
    """A new, hidden, empty file in ``target``'s folder, with the same suffix."""
    handle, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=f"{TEMPORARY_MARKER}{target.suffix}"
    )
    os.close(handle)
    return Path(name)


def _copy_from(original: int, temporary: Path) -> None:
    """Copy the photo from the descriptor the lease is on (not by name: the same file)."""
    with temporary.open("wb") as dst:
        copy_range(original, dst.fileno(), 0, os.fstat(original).st_size)


def _signature(st: os.stat_result) -> Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _copy_ownership(temporary: Path, mode: int, before: os.stat_result, path: Path) -> None:
    temporary.chmod(mode & 0o7777)
    now = temporary.stat()
    if (now.st_uid, now.st_gid) == (before.st_uid, before.st_gid):
        return
    try:
        os.chown(temporary, before.st_uid, before.st_gid)
    except PermissionError as exc:
        raise MetadataError(
            "cannot keep the file's owner (run as its owner or as root); left unchanged", path
        ) from exc


def _copy_extended_attributes(source: Path, temporary: Path, path: Path) -> None:
    """Every extended attribute, POSIX ACLs included, as ``cp -a`` keeps them.

    KDE keeps its tags in ``user.xdg.tags``, Samba its DOS attributes and Finder
    tags in ``user.*``, and the NAS recipe grants access with ACLs
    (``system.posix_acl_access``): the new file must carry them all.  One that
    cannot be copied leaves the photo unchanged rather than lose it.
    """
    try:
        names = os.listxattr(source)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return  # the file system has none to lose
        raise
    for name in names:
        try:
            os.setxattr(temporary, name, os.getxattr(source, name))
        except OSError as exc:
            raise MetadataError(
                f"cannot keep its extended attribute {name} ({exc.strerror or exc}); "
                "left unchanged",
                path,
            ) from exc


#: Test hooks, called with the photo's path just before the swap (deterministic races).
BEFORE_SWAP: list[Callable[[Path], None]] = []
#: Test hooks, called with the photo's path right after the exchange, before its checks.
AFTER_EXCHANGE: list[Callable[[Path], None]] = []

_RENAME_EXCHANGE = 2
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_CHANGED = "changed by something else while being tagged; left as the other program wrote it"
_CHANGED_SINCE_READ = "changed by something else since it was read; left as it is for the next scan"


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """``renameat2``; False where the kernel or file system cannot (the caller falls back)."""
    libc = load_libc()
    if libc is None or not hasattr(libc, "renameat2"):
        return False
    result = libc.renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    if error == errno.EEXIST:
        raise FileExistsError(error, os.strerror(error), str(target))
    raise OSError(error, os.strerror(error), str(target))


def _same_file(now: os.stat_result, before: os.stat_result) -> bool:
    return (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) == (
        before.st_ino, before.st_dev, before.st_size, before.st_mtime_ns,
    )  # fmt: skip


def _swap_in(
    temporary: Path, target: Path, before: os.stat_result, lease: ReadLease, path: Path
) -> None:
    """Put ``temporary`` in ``target``'s place only if ``target`` is still the file read.

    A writer that opened the photo just before the exchange is waiting for the lease
    to be released (the kernel holds its ``open``): the photo is swapped back before
    the lease goes, so its open lands on its file, not on a name scened deletes.
    """
    now = target.stat()
    if not _same_file(now, before) or now.st_ctime_ns != before.st_ctime_ns:
        raise PhotoBusyError(_CHANGED, path)
    for hook in BEFORE_SWAP:  # the narrowest window: after the check, before the exchange
        hook(path)
    lease.check()
    if not _renameat2(temporary, target, _RENAME_EXCHANGE):
        temporary.replace(target)  # no exchange here: the checks above are the last word
        return
    for hook in AFTER_EXCHANGE:
        hook(path)
    swapped_out = temporary.stat()  # what was at target an instant ago
    if not _same_file(swapped_out, before) or lease.broken():
        _give_back(temporary, target, path)
        raise PhotoBusyError(_CHANGED, path)


def _give_back(theirs: Path, target: Path, path: Path) -> None:
    """Put the other program's file (now at ``theirs``) back at ``target``.

    ``theirs`` is deleted by the caller afterwards, so it must never still hold
    their file when this returns: if ``target`` vanished meanwhile theirs simply goes
    back; if even that fails, theirs is kept under a name that says so.
    """
    try:
        _renameat2(theirs, target, _RENAME_EXCHANGE)
        return
    except FileNotFoundError:
        theirs.replace(target)
        return
    except OSError:
        kept = target.with_name(f"{target.name}.kept-by-scened")
        theirs.replace(kept)
        raise MetadataError(
            "changed by something else while being tagged, and their version could not be "
            f"put back: it is kept as {kept.name} beside the photo", path,
        ) from None  # fmt: skip


def _create(temporary: Path, target: Path, path: Path) -> None:
    """A new file (a sidecar) goes in only if nobody created one meanwhile."""
    for hook in BEFORE_SWAP:
        hook(path)
    try:
        if _renameat2(temporary, target, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise PhotoBusyError(_CHANGED, path) from None
    if target.exists():
        raise PhotoBusyError(_CHANGED, path)
    temporary.replace(target)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
