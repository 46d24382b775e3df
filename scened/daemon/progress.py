"""Progress of a library scan: a tqdm bar at a terminal, sparse log lines otherwise.

Under systemd (no terminal) a line is logged at most every :data:`LOG_EVERY_S`
seconds and the unit's STATUS= is updated, so the journal stays quiet.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from scened.daemon.notify import Notifier

log = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
STATUS_EVERY_S = 2.0


class Progress(Protocol):
    def photo(self, outcome: str, path: Path, detail: str = "") -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


class BarProgress:
    """A tqdm bar on stderr; notes are printed above it."""

    def __init__(self, library: str) -> None:
        self._counts: Counter[str] = Counter()
        self._bar = tqdm(desc=library, unit="photo", file=sys.stderr, dynamic_ncols=True)

    def photo(self, outcome: str, path: Path, detail: str = "") -> None:
        self._counts[outcome] += 1
        self._bar.set_postfix(
            tagged=self._counts["tagged"], failed=self._counts["failed"], refresh=False
        )
        self._bar.update()
        if outcome == "failed":
            self.note(f"{path}: {detail}")

    def note(self, message: str) -> None:
        self._bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


class LogProgress:
    """Log lines every :data:`LOG_EVERY_S` seconds, and STATUS= for systemd."""

    def __init__(self, library: str, notifier: Notifier | None = None) -> None:
        self._library = library
        self._notifier = notifier
        self._counts: Counter[str] = Counter()
        self._last_log = self._last_status = time.monotonic()

    def photo(self, outcome: str, path: Path, detail: str = "") -> None:
        self._counts[outcome] += 1
        if outcome == "failed":
            log.warning("%s: %s", path, detail)
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
