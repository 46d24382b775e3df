"""One scan of a library at a time, across processes: a lock file per library.

The daemon never scans a library twice at once in one process (its scheduler sees
to that), but a ``scened run --once`` at a terminal can meet the daemon, or another
terminal.  Two scans of one library would classify every photo twice and race to
write the same files, so the second is refused with one line naming the first.
The lock is ``flock`` on ``<state>/locks/<library>.lock``: the kernel releases it
when its holder exits, however it exits, so a crash never leaves it stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from scened.errors import ScenedError


class LibraryBusyError(ScenedError):
    """Another scened process is scanning this library."""


@contextlib.contextmanager
def library_lock(state_dir: Path, library: str) -> Iterator[None]:
    """Hold the library's lock for the block; :class:`LibraryBusyError` if another holds it."""
    folder = state_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(library.encode("utf-8")).hexdigest()[:16]
    path = folder / f"{digest}.lock"
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise LibraryBusyError(
                f"already being scanned by another scened process (pid {holder}); "
                "this run leaves it alone"
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(handle)  # releases the lock
