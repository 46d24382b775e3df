"""The last stage of a library run: record each group of photos, count it, tell the plugins.

A mixin of :class:`scened.daemon.runner.LibraryRun` (the stage needs the run's state,
summary and failure handling; it is only ever called from the pipeline's calling
thread, the one thread that changes the state database).  Photos are recorded a
group at a time, in one transaction: a group's photos count as done only once their
writers have synced their folders; a failed state write halts the run at once, and
the group's photos carry their own record, so the next scan knows them.  Photos the
state no longer finds (gone from the library) are forgotten here too, unless the
library looks lost rather than emptied (:mod:`scened.daemon.housekeeping`).
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from scened.config import LibraryConfig
from scened.daemon.housekeeping import moved_library, refuse_mass_disappearance
from scened.daemon.jobs import (
    NOTHING_TO_RECORD,
    RECORD_ONLY,
    WRITES,
    Action,
    Job,
    RunSummary,
    read_photo,
)
from scened.daemon.learner import Learner
from scened.daemon.progress import Progress
from scened.daemon.scan import FileEntry
from scened.daemon.state import PhotoRecord, StateDB
from scened.errors import ScenedError

if TYPE_CHECKING:
    from scened.daemon.runner import RunSettings

log = logging.getLogger(__name__)

#: Recorded for a failure worth retrying: no real file has this signature.
UNKNOWN_STAT = FileEntry(Path(), 0, 0, -1, 0)


class RecordingStage:
    """The finish stage of :class:`~scened.daemon.runner.LibraryRun`."""

    library: LibraryConfig
    pm: pluggy.PluginManager
    state: StateDB
    progress: Progress
    settings: RunSettings
    summary: RunSummary
    _learner: Learner
    #: Set by the first failed state write: no photo may be written unrecorded.
    _state_error: sqlite3.Error | None

    @property
    def model_id(self) -> str:
        raise NotImplementedError

    def fail(self, job: Job, error: Exception) -> None:
        raise NotImplementedError

    def _state_failed(self, error: sqlite3.Error) -> None:
        raise NotImplementedError

    def _drop_content(self, job: Job) -> None:
        raise NotImplementedError

    def finish(self, jobs: list[Job]) -> None:
        """Record and count a group of photos (one transaction), then tell the plugins."""
        if self._state_error is None and all(job.action is Action.UNCHANGED for job in jobs):
            self._finish_unchanged(jobs)  # most of a rescan: nothing to record or tell
            return
        quiet = self.settings.dry_run or all(job.action in NOTHING_TO_RECORD for job in jobs)
        group = nullcontext() if quiet else self.state.transaction()
        try:
            with group:
                for job in jobs:
                    try:
                        self._finish_one(job)
                    except sqlite3.Error as exc:  # halt the writers at once
                        self._state_failed(exc)
                        raise
        except sqlite3.Error as exc:  # the group's records are rolled back; its photos
            self._state_failed(exc)  # carry their own record: the next scan knows them
        for job in jobs:
            self._drop_content(job)
            if self._state_error is None:
                self._notify_plugins(job)

    def _finish_unchanged(self, jobs: list[Job]) -> None:
        """Count unchanged photos (what :meth:`_finish_one` and :meth:`_count` do for
        them, without their other checks: a rescan of 100,000 photos is mostly this)."""
        self.summary.found += len(jobs)
        self.summary.unchanged += len(jobs)
        self.progress.unchanged(len(jobs))

    def _finish_one(self, job: Job) -> None:
        if self._state_error is not None or job.action == Action.DROPPED:
            return  # left as it is for the next scan: nothing is written unrecorded
        self.summary.found += 1
        if job.action in WRITES:
            if self.settings.dry_run:
                self.progress.note(f"would tag {job.path}: {', '.join(job.tags)}")
            elif job.after is not None:
                self._record(job, job.after)
        if job.action in RECORD_ONLY and not self.settings.dry_run:
            self._record(job, job.entry)
        if job.action != Action.FAILED and not self.settings.dry_run:
            self._learner.remember(job)
        self._count(job)

    def _record(self, job: Job, after: FileEntry) -> None:
        try:
            digest = job.digest or read_photo(job.path)[0]
        except ScenedError as exc:
            self.fail(job, exc)
            return
        self.state.record(self._row(job, after, digest))

    def _row(self, job: Job, entry: FileEntry, digest: str | None) -> PhotoRecord:
        if job.prediction is not None:
            probabilities: tuple[float, ...] | None = job.prediction.probabilities
        else:
            probabilities = None if job.previous is None else job.previous.probabilities
        return PhotoRecord(
            library=self.library.name, path=job.path, device=entry.device, inode=entry.inode,
            size=entry.size, mtime_ns=entry.mtime_ns, content_hash=digest,
            model_id=self.model_id, policy=self.library.policy_key,
            probabilities=probabilities, tags=job.tags,
            outcome="failed" if job.action == Action.FAILED else "tagged",
            error=job.error or None, pixel_digest=job.pixel_digest,
        )  # fmt: skip

    def _notify_plugins(self, job: Job) -> None:
        """``photo_tagged`` or ``photo_failed``, after the group's transaction (a slow
        plugin never holds the state's write lock); a plugin's exception is logged."""
        try:
            if job.action in WRITES:
                self.pm.hook.photo_tagged(
                    path=job.path, tags=list(job.tags), prediction=job.prediction,
                    library=self.library.name, dry_run=self.settings.dry_run,
                )  # fmt: skip
            elif job.action == Action.FAILED:
                self.pm.hook.photo_failed(path=job.path, error=job.error, library=self.library.name)
        except Exception:
            event = "photo_tagged" if job.action in WRITES else "photo_failed"
            log.warning("%s: a %s hook failed", job.path, event, exc_info=True)

    def _count(self, job: Job) -> None:
        summary, action = self.summary, job.action
        if action in (Action.UNCHANGED, *RECORD_ONLY):
            summary.unchanged += 1
        elif action == Action.FAILED_BEFORE:
            summary.failed_before += 1
        elif action == Action.LEFT:
            summary.skipped.append((job.path, job.error))
        elif action == Action.FAILED:
            summary.failed += 1
            summary.failures.append((job.path, job.error))
            if not self.settings.dry_run:
                entry = UNKNOWN_STAT if job.retry else job.entry
                self.state.record(self._row(job, entry, job.digest))
        else:
            summary.tagged += 1
            summary.classified += action == Action.CLASSIFY
            summary.untagged += not job.tags
            summary.reused += action == Action.REUSE
        outcome = {Action.CLASSIFY: "tagged", Action.REUSE: "tagged",
                   Action.RESCORE: "tagged"}.get(action, action)  # fmt: skip
        self.progress.photo(outcome, job.path, job.error, job.tags)

    def _forget_gone(
        self, gone: list[Path], known: int, seen: int, location: tuple[int, int] | None
    ) -> None:
        """Forget photos that are gone, unless the library looks lost rather than emptied."""
        recorded = self.state.library_location(self.library.name)
        error = refuse_mass_disappearance(gone, known, seen, self.library) or moved_library(
            gone, recorded, location, self.library
        )
        if not self.settings.dry_run and location is not None and location != recorded:
            self.state.set_library_location(self.library.name, location)
        if error:
            self.summary.error = error
            return
        self.summary.pruned = len(gone)
        if gone and not self.settings.dry_run:
            self.state.forget(gone)
