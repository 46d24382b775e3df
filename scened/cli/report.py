"""What ``scened run`` shows: one printer for ``run --once`` and the daemon.

The daemon and the runs (:mod:`scened.daemon`) never print: they report to the
:class:`CliReporter` that the command hands them.  At a terminal a scan shows a tqdm
bar on stderr (with ``-v`` each photo tagged, with its tags) and the daemon lists
what it watches; away from one (a pipe, systemd's journal) a scan logs a line now
and then and updates the unit's STATUS=.  Each scan's summary goes to stdout, both
for ``run --once`` and for the daemon (where stdout is the journal).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import click
from tqdm import tqdm

from scened.daemon.jobs import RunSummary
from scened.daemon.notify import Notifier
from scened.daemon.progress import LogProgress, LogReporter, Progress, summary_lines

log = logging.getLogger(__name__)


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

    def unchanged(self, count: int) -> None:
        self._counts["unchanged"] += count
        self._bar.update(count)

    def note(self, message: str) -> None:
        self._bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


def make_progress(library: str, notifier: Notifier | None = None) -> Progress:
    """A bar when stderr is a terminal; log lines otherwise, notes printed on stdout."""
    if sys.stderr.isatty():
        return BarProgress(library)
    return LogProgress(library, notifier, echo=click.echo)


class CliReporter(LogReporter):
    """The command line's output for ``scened run`` (:class:`scened.daemon.progress.Reporter`)."""

    def progress(self, library: str, notifier: Notifier | None = None) -> Progress:
        return make_progress(library, notifier)

    def summary(self, summary: RunSummary) -> None:
        for line in summary_lines(summary):
            click.echo(line)

    def watching(self, lines: Sequence[str]) -> None:
        """At a terminal each line on stderr; under systemd one log line."""
        if sys.stderr.isatty():
            click.echo("\n".join(lines), err=True)
        else:
            super().watching(lines)
