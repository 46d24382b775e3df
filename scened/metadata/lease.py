"""Read leases: the kernel tells scened when another program opens a photo for writing.

While scened copies a photo, edits the copy and swaps it in, an uploader or a
photo manager may open the same file to write into it.  A read lease
(``fcntl(F_SETLEASE, F_RDLCK)``, Linux) makes that visible:

* the lease cannot be taken while any process has the file open for writing (a
  copy still in progress that paused longer than the settle time): the photo is
  left for the next scan;
* once taken, another process's open for writing (or truncate) *breaks* it: the
  kernel makes that open wait (at most ``/proc/sys/fs/lease-break-time``) until
  scened lets go, and ``F_GETLEASE`` stops reporting a read lease, so scened
  abandons the photo before swapping anything in, then releases the lease.

Leases are taken where permitted: by the file's owner, or with ``CAP_LEASE``
(the systemd units grant it), on local file systems.  Elsewhere (``EACCES``,
``EINVAL``, ``ENOLCK``) scened goes on without one, protected by the
compare-and-swap alone.

The kernel signals a lease break with ``SIGIO``, whose default action ends the
process.  The signal carries nothing scened needs (it asks the kernel instead),
so it is ignored: :func:`ignore_lease_breaks` does that from the main thread at
start-up; code running elsewhere with ``SIGIO`` still at its default takes no lease
at all rather than risk being killed.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import threading
from pathlib import Path

from scened.errors import PhotoBusyError

log = logging.getLogger(__name__)

#: The errors that say "no lease here" (not the owner, no CAP_LEASE; a network file
#: system; leases disabled by ``fs.leases-enable = 0``).
_UNAVAILABLE = (errno.EACCES, errno.EPERM, errno.EINVAL, errno.ENOLCK, errno.ENOTSUP)

OPEN_FOR_WRITING = (
    "another program has it open for writing (still being copied in?); left for the next scan"
)
OPENED_WHILE_TAGGING = (
    "another program opened it for writing while it was being tagged; left as it is "
    "for the next scan"
)


def ignore_lease_breaks() -> None:
    """Ignore ``SIGIO`` in this process (call from the main thread, at start-up)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGIO, signal.SIG_IGN)


def _signal_is_safe() -> bool:
    if signal.getsignal(signal.SIGIO) == signal.SIG_IGN:
        return True
    if threading.current_thread() is threading.main_thread():
        ignore_lease_breaks()
        return True
    return False


class ReadLease:
    """A read lease on an open, read-only file descriptor (or none, where not permitted).

    Raises :class:`~scened.errors.PhotoBusyError` when another process has the file
    open for writing.  Use as a context manager; :meth:`check` raises once the lease
    has been broken.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self._path = path
        self.held = False
        if not _signal_is_safe():
            log.debug("%s: no read lease (SIGIO is not ignored in this thread)", path)
            return
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EBUSY):
                raise PhotoBusyError(OPEN_FOR_WRITING, path) from None
            if exc.errno in _UNAVAILABLE:
                log.debug("%s: no read lease here (%s)", path, exc.strerror)
                return
            raise
        self.held = True

    def broken(self) -> bool:
        """Whether another process has opened the file for writing since the lease."""
        if not self.held:
            return False
        return fcntl.fcntl(self._fd, fcntl.F_GETLEASE) != fcntl.F_RDLCK

    def check(self) -> None:
        if self.broken():
            raise PhotoBusyError(OPENED_WHILE_TAGGING, self._path)

    def release(self) -> None:
        """Let go (a writer waiting for the break then proceeds at once)."""
        if self.held:
            self.held = False
            try:
                fcntl.fcntl(self._fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
            except OSError:
                log.debug("%s: releasing the read lease failed", self._path, exc_info=True)

    def __enter__(self) -> ReadLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_not_open_for_writing(fd: int, path: Path) -> None:
    """Raise :class:`~scened.errors.PhotoBusyError` if a process has the file open for
    writing (a copy that paused longer than the settle time); a no-op where no lease
    can be taken."""
    with ReadLease(fd, path):
        pass


def open_for_reading(path: Path) -> int:
    """A read-only, non-blocking descriptor of ``path`` (a FIFO cannot hang us)."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
