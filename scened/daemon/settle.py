"""Photos still being written are left alone: only settled files are read.

Cameras and phones upload into a library while scened runs, and Windows Explorer
copies over SMB by setting the final size first and filling it in afterwards: such
a file decodes "fine" with a zero-filled tail.  Tagging it would also replace the
file under the writer, whose later writes then land in the old, unlinked copy.
So a new or changed photo is read only once its size, mtime and ctime have not
changed for ``settle_seconds``.  The daemon leaves an unsettled photo for its next
scan; ``scened run --once`` at a terminal waits for it a little (up to
``WAIT_FACTOR`` times the settle time), then leaves it too.  Either way it is not a
failure: the summary lists it as skipped, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scened.daemon.scan import FileEntry

#: ``--once`` waits at most this many settle times for the photos still changing.
WAIT_FACTOR = 10

# The clock and the sleep, as module attributes so that tests can drive them.
now: Callable[[], float] = time.time
sleep: Callable[[float], None] = time.sleep


def _changed_at(path: Path) -> tuple[float, tuple[int, int, int]] | None:
    """When the file last changed (mtime or ctime) and what identifies that state."""
    try:
        st = path.stat()
    except OSError:
        return None
    return max(st.st_mtime, st.st_ctime), (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass
class Settler:
    """Decides which photos are settled; holds back the others."""

    settle_seconds: float
    wait: bool
    #: Photos not settled in time, with the reason (for the run's summary).
    left: list[tuple[Path, str]] = field(default_factory=list)
    _pending: list[FileEntry] = field(default_factory=list)

    def settled(self, entry: FileEntry) -> bool:
        """True to read ``entry`` now; False holds it back (see :meth:`drain`)."""
        if self.settle_seconds <= 0:
            return True
        changed = _changed_at(entry.path)
        if changed is None:  # gone: let the reader report it
            return True
        if now() - changed[0] >= self.settle_seconds:
            return True
        self._pending.append(entry)
        return False

    def drain(self, stopped: Callable[[], bool]) -> Iterator[FileEntry]:
        """The held-back photos that settle in time (waiting only in ``wait`` mode)."""
        pending, self._pending = self._pending, []
        deadline = now() + self.settle_seconds * WAIT_FACTOR
        while pending and self.wait and not stopped() and now() < deadline:
            ages = [self._age(entry.path) for entry in pending]
            ready = [
                e
                for e, age in zip(pending, ages, strict=True)
                if age is None or age >= self.settle_seconds
            ]
            pending = [e for e in pending if e not in ready]
            for entry in ready:
                yield _fresh(entry)
            if pending:
                waits = [
                    self.settle_seconds - a
                    for a in ages
                    if a is not None and a < self.settle_seconds
                ]
                sleep(max(0.05, min(waits, default=self.settle_seconds)))
        for entry in pending:
            self.left.append((entry.path, self._reason()))

    def _age(self, path: Path) -> float | None:
        changed = _changed_at(path)
        return None if changed is None else now() - changed[0]

    def _reason(self) -> str:
        return (
            f"still being written (changed in the last {self.settle_seconds:g} s); "
            "left for the next scan"
        )


def _fresh(entry: FileEntry) -> FileEntry:
    """The entry with what ``stat`` says now (the file changed while it settled)."""
    try:
        return FileEntry.from_stat(entry.path, entry.path.stat())
    except OSError:
        return entry
