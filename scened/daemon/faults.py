"""What a scan does when the world gets in the way: transient errors, and stopping early.

A photo on a share that went away for a moment (ENOENT, ESTALE, EIO…) has not failed
for ever: it is recorded so that the next scan tries it again.  A scan stops early on
a signal, or on its own when the state database fails (nothing may be written that
cannot be recorded).
"""

from __future__ import annotations

import errno
import threading

#: errno values that say "not now" rather than "never": the file or its share went away
#: for a while.  A photo failing with one is tried again at the next scan.
TRANSIENT_ERRNOS = frozenset({
    errno.ENOENT, errno.ESTALE, errno.EIO, errno.ENODEV, errno.ENXIO, errno.ENOTCONN,
    errno.ETIMEDOUT, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.EAGAIN,
})  # fmt: skip


def is_transient(error: BaseException | None) -> bool:
    """Whether ``error`` or what it was raised from is an OSError worth retrying."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


class HaltEvent(threading.Event):
    """Set on its own (a state failure) or when the run's ``stop`` is (a signal)."""

    def __init__(self, outer: threading.Event) -> None:
        super().__init__()
        self._outer = outer

    def is_set(self) -> bool:
        return super().is_set() or self._outer.is_set()
