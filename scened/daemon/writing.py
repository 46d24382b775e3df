"""The writers' stage of a library run: tags through every sink, a group at a time.

A mixin of :class:`scened.daemon.runner.LibraryRun`, run by a few writer threads at
once.  Each group's folders are synced once, at the end of the group (a photo counts
as done only once its new file is durable).  Nothing is written once the scan halts
(a failed state write, or a library whose file system turned read-only: reported
once, by the first writer that meets it; the other photos are left for the next scan).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

from scened.config import LibraryConfig
from scened.daemon.faults import READ_ONLY, HaltEvent, is_read_only
from scened.daemon.jobs import WRITES, Action, Job, read_photo
from scened.daemon.scan import FileEntry
from scened.metadata.atomic import directory_syncs_deferred
from scened.types import Replaced, Sink, TagResult

if TYPE_CHECKING:
    from scened.daemon.runner import RunSettings


class WriteStage:
    """The write stage of :class:`~scened.daemon.runner.LibraryRun`."""

    library: LibraryConfig
    settings: RunSettings
    _sinks: list[Sink]
    _policy_digest: str
    _halt: HaltEvent
    _state_error: sqlite3.Error | None
    #: Set by the first write refused by a read-only file system: one report, no more.
    _read_only: str | None
    _read_only_lock: threading.Lock

    def fail(self, job: Job, error: Exception) -> None:
        raise NotImplementedError

    def _drop_content(self, job: Job) -> None:
        raise NotImplementedError

    def write(self, jobs: list[Job]) -> None:
        """Write a group of photos; their folders are synced once, at the end."""
        try:
            with directory_syncs_deferred():
                for job in jobs:
                    self._tag(job)
                    self._drop_content(job)
        except OSError as exc:  # a folder could not be synced: not durable, not done
            for job in jobs:
                if job.action in WRITES:
                    self.fail(job, exc)
                    job.retry = True

    def _tag(self, job: Job) -> None:
        """Write ``job``'s tags through every sink; note what the photo is afterwards."""
        if self._state_error is not None or self._read_only is not None:
            job.action = Action.DROPPED  # left as it is for the next scan
            return
        assert job.prediction is not None
        result = TagResult(job.path, job.tags, job.prediction, self.library.policy_name,
                           self.library.name, read_signature=job.entry.signature,
                           policy_digest=self._policy_digest, pixels=job.pixel_digest or "",
                           content=job.content)  # fmt: skip
        replaced: Replaced | None = None
        try:
            for sink in self._sinks:
                replaced = sink.write(result, dry_run=self.settings.dry_run) or replaced
            if self.settings.dry_run:
                return
            after = job.after = FileEntry.from_stat(job.path, job.path.stat())
            if replaced is not None and replaced.signature == after.signature:
                job.digest = replaced.digest  # what scened wrote: no need to read it back
            elif after.signature != job.entry.signature:
                job.digest = read_photo(job.path)[0]  # changed by a sink: hash it again
        except Exception as exc:
            if is_read_only(exc) and not self._first_read_only():
                job.action = Action.DROPPED  # another writer said it: left for the next scan
                return
            self.fail(job, exc)
            job.retry = True  # a sink may fail for a while (disk full, webhook down)

    def _first_read_only(self) -> bool:
        """Note that the library's file system refused a write, and halt the scan; only
        the first writer to meet it (once a library, not once per photo or writer)."""
        with self._read_only_lock:
            if self._read_only is not None:
                return False
            self._read_only = READ_ONLY.format(path=self.library.path, what="so the scan stopped")
        self._halt.set()
        return True
