"""What a library scan reports as it goes, and to whom: the daemon never prints.

A run reports each photo to a :class:`Progress` and its summary to a
:class:`Reporter`; the command line (:mod:`scened.cli.report`) supplies both, a bar
and printed lines at a terminal.  Library code and tests that pass none get
:class:`LogReporter`: log lines at most every :data:`LOG_EVERY_S` seconds and the
systemd unit's STATUS= updates, so the journal stays quiet.  Failures are not
reported by the progress: the run's summary lists each once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from scened.daemon.notify import Notifier

if TYPE_CHECKING:
    from scened.daemon.jobs import RunSummary

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

    def unchanged(self, count: int) -> None:
        """``count`` more photos found as they were: a rescan reports them in groups,
        without their paths (building 100,000 paths to show none is a rescan's cost)."""
        ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


#: Makes the progress of one library's scan: ``(library name, notifier or None)``.
ProgressFactory = Callable[[str, Notifier | None], Progress]


class Reporter(Protocol):
    """Where the daemon's and ``run --once``'s output goes (the CLI decides)."""

    def progress(self, library: str, notifier: Notifier | None = None) -> Progress:
        """The progress of one scan of ``library``."""
        ...

    def summary(self, summary: RunSummary) -> None:
        """One library's scan is over: its counts, failures and skipped entries."""
        ...

    def watching(self, lines: Sequence[str]) -> None:
        """The daemon has started: what it watches (a heading, then a line each)."""
        ...


class LogProgress:
    """Log lines every :data:`LOG_EVERY_S` seconds, and STATUS= for systemd.

    Notes (a dry run's "would tag" lines) go to ``echo``: logged at INFO unless the
    caller prints them.
    """

    counts_first = False

    def __init__(
        self,
        library: str,
        notifier: Notifier | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self._library = library
        self._notifier = notifier
        self._echo = echo or _log_info
        self._counts: Counter[str] = Counter()
        self._last_log = self._last_status = time.monotonic()

    def expect(self, total: int) -> None:
        """Not counted first: the journal needs no percentage."""

    def photo(self, outcome: str, path: Path, detail: str = "", tags: Sequence[str] = ()) -> None:
        self._counts[outcome] += 1
        self._tell()

    def unchanged(self, count: int) -> None:
        self._counts["unchanged"] += count
        self._tell()

    def _tell(self) -> None:
        """A log line and a STATUS= update, each when its interval has passed."""
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            log.info("%s", self._line())
        if self._notifier is not None and now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self._notifier.status(self._line())

    def note(self, message: str) -> None:
        self._echo(message)

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.status(f"idle; last scan {self._line()}")

    def _line(self) -> str:
        checked = sum(self._counts.values())
        return (
            f"{self._library}: {checked} checked, {self._counts['tagged']} tagged, "
            f"{self._counts['failed']} failed"
        )


def summary_lines(summary: RunSummary) -> list[str]:
    """A scan's summary as printed (``run --once``) and journalled (the daemon): its
    counts, then a line per failed photo and per skipped entry."""
    lines = [summary.line()]
    lines += [f"  failed: {path}: {reason}" for path, reason in summary.failures]
    lines += [f"  skipped: {path}: {reason}" for path, reason in summary.skipped]
    return lines


class LogReporter:
    """Everything logged at INFO, nothing printed: for library callers and tests."""

    def progress(self, library: str, notifier: Notifier | None = None) -> Progress:
        return LogProgress(library, notifier)

    def summary(self, summary: RunSummary) -> None:
        for line in summary_lines(summary):
            log.info("%s", line)

    def watching(self, lines: Sequence[str]) -> None:
        log.info("%s", " ".join(line.strip() for line in lines))


def _log_info(message: str) -> None:
    log.info("%s", message)
