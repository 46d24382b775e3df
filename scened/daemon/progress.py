"""Progress of a library scan: a tqdm bar at a terminal, sparse log lines otherwise.

At a terminal the library is counted first (a walk is fast: 100,000 files in well
under a second when their folders are cached), so the bar shows a total, a percentage
and an ETA; with ``-v`` each photo is listed with the tags written.  Under systemd (no
terminal) a line is logged at most every :data:`LOG_EVERY_S` seconds and the unit's
STATUS= is updated, so the journal stays quiet.  Failures are not reported here: the
run's summary lists each once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from scened.daemon.notify import Notifier

log = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
STATUS_EVERY_S = 2.0


class Progress(Protocol):
    #: Whether a total is worth a count of the library first (:meth:`expect`).
    counts_first: bool

    def expect(self, total: int) -> None: ...

    def photo(
        self, outcome: str, path: Path, detail: str = "", tags: Sequence[str] = ()
    ) -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


class BarProgress:
    """A tqdm bar on stderr; notes (and, with ``-v``, each tagged photo) above it."""

    counts_first = True

    def __init__(self, library: str) -> None:
        self._counts: Counter[str] = Counter()
        self._bar = tqdm(desc=library, unit="photo", file=sys.stderr, dynamic_ncols=True)

    def expect(self, total: int) -> None:
        self._bar.reset(total=total)

    def photo(self, outcome: str, path: Path, detail: str = "", tags: Sequence[str] = ()) -> None:
        self._counts[outcome] += 1
        self._bar.set_postfix(
            tagged=self._counts["tagged"], failed=self._counts["failed"], refresh=False
        )
        self._bar.update()
        if outcome == "tagged" and log.isEnabledFor(logging.INFO):  # scened -v run --once
            self.note(f"{path}: {', '.join(tags) if tags else '(no confident tag)'}")

    def note(self, message: str) -> None:
        self._bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


class LogProgress:
    """Log lines every :data:`LOG_EVERY_S` seconds, and STATUS= for systemd."""

    counts_first = False

    def __init__(self, library: str, notifier: Notifier | None = None) -> None:
        self._library = library
        self._notifier = notifier
        self._counts: Counter[str] = Counter()
        self._last_log = self._last_status = time.monotonic()

    def expect(self, total: int) -> None:
        """Not counted first: the journal needs no percentage."""

    def photo(self, outcome: str, path: Path, detail: str = "", tags: Sequence[str] = ()) -> None:
        self._counts[outcome] += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            log.info("%s", self._line())
        if self._notifier is not None and now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._notifier.status(self._line())

    def note(self, message: str) -> None:
        print(message, file=sys.stdout, flush=True)

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.status(f"idle; last scan {self._line()}")

    def _line(self) -> str:
        checked = sum(self._counts.values())
        return (
            f"{self._library}: {checked} checked, {self._counts['tagged']} tagged, "
            f"{self._counts['failed']} failed"
        )


def make_progress(library: str, notifier: Notifier | None = None) -> Progress:
    """A bar when stderr is a terminal, log lines otherwise."""
    if sys.stderr.isatty():
        return BarProgress(library)
    return LogProgress(library, notifier)
