"""What a scan does when the world gets in the way: transient errors, and stopping early.

A photo on a share that went away for a moment (ENOENT, ESTALE, EIO…) has not failed
for ever: it is recorded so that the next scan tries it again.  A scan stops early on
a signal, or on its own when the state database fails (nothing may be written that
cannot be recorded).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

#: errno values that say "not now" rather than "never": the file or its share went away
#: for a while.  A photo failing with one is tried again at the next scan.
TRANSIENT_ERRNOS = frozenset({
    errno.ENOENT, errno.ESTALE, errno.EIO, errno.ENODEV, errno.ENXIO, errno.ENOTCONN,
    errno.ETIMEDOUT, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.EAGAIN,
})  # fmt: skip


def _errnos(error: BaseException | None) -> Iterator[int]:
    """The errno of ``error`` and of what it was raised from, nearest first."""
    for _ in range(8):
        if error is None:
            return
        if isinstance(error, OSError) and error.errno is not None:
            yield error.errno
        error = error.__cause__ or error.__context__


def is_transient(error: BaseException | None) -> bool:
    """Whether ``error`` or what it was raised from is an OSError worth retrying."""
    return any(code in TRANSIENT_ERRNOS for code in _errnos(error))


#: The one line a read-only library gets (a share mounted ``ro``, a full-disk remount).
READ_ONLY = (
    "{path} is on a read-only file system: no keyword can be written there, {what}; "
    "remount it read-write (or use a json sink)"
)


def mounted_read_only(folder: Path) -> bool:
    """Whether ``folder``'s file system is mounted read-only (known before any work)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False  # a missing folder is reported by the scan


def is_read_only(error: BaseException | None) -> bool:
    """Whether ``error`` comes from a read-only file system (EROFS)."""
    return errno.EROFS in _errnos(error)


class HaltEvent(threading.Event):
    """Set on its own (a state failure) or when the run's ``stop`` is (a signal)."""

    def __init__(self, outer: threading.Event) -> None:
        super().__init__()
        self._outer = outer

    def is_set(self) -> bool:
        return super().is_set() or self._outer.is_set()
