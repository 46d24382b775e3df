"""One scan of one library: decide what each photo needs, tag it, remember it.

For every photo the scanner finds (decided in :meth:`LibraryRun.prepare`):

* stat signature, model and policy as recorded → unchanged, nothing read at all;
* otherwise the file is hashed: the content scened left there (a ``touch``, a copy
  that kept the inode...) → only the new signature is recorded; content already
  tagged at another path by this model and policy (a move or a copy) → its tags are
  reused without the model; anything else is decoded;
* pixels that this model and policy tagged before (a keyword edit, or a photo whose
  own record says so after the state was rebuilt) → recorded, neither classified nor
  written (:mod:`scened.daemon.recognise`); the rest is classified in batches.

Tagged photos go to every sink of the library (sinks replace their own earlier
keywords and keep the user's) from a few writer threads at once, starting from the
bytes read for hashing and decoding (each photo is read once), and the photo is
recorded with its signature and hash taken *after* writing, so that scened's own write
does not look like a change next time.  Photos are recorded a group at a time (one
transaction, after the group's folders are synced: a photo counts as done only once
its new file is durable), then the ``photo_tagged`` hook is called.  Photos in the
state database that the scan did not find are pruned
(:mod:`scened.daemon.housekeeping`).  A photo another program is writing is left
untouched for the next scan, not failed.  The batcher's stage is in
:mod:`scened.daemon.classifying`, the writers' in :mod:`scened.daemon.writing`, the
recording stage in :mod:`scened.daemon.recording`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pluggy

from scened.config import LibraryConfig
from scened.daemon.classifying import ClassifyStage
from scened.daemon.decision import Known, Verdict, known_unless_untagged, verdict
from scened.daemon.faults import (
    READ_ONLY,
    HaltEvent,
    is_transient,
    mounted_read_only,
)
from scened.daemon.housekeeping import (
    remove_leftovers,
)
from scened.daemon.jobs import (
    WRITES,
    Action,
    ContentBudget,
    Job,
    RunSummary,
    describe,
    read_photo,
)
from scened.daemon.learner import Learner
from scened.daemon.pipeline import Pipeline, Stages
from scened.daemon.progress import Progress
from scened.daemon.recognise import policy_digest, recorded_in_photo
from scened.daemon.recording import RecordingStage
from scened.daemon.scan import Scanner
from scened.daemon.settle import Settler
from scened.daemon.snapshot import compare, scanner_for
from scened.daemon.state import StateDB
from scened.daemon.writing import WriteStage
from scened.errors import PhotoBusyError, ScenedError
from scened.imaging import load_for_model, pixel_digest
from scened.metadata.lease import ignore_lease_breaks
from scened.model.remote_files import file_classifier
from scened.model.runtime import Classifier
from scened.policies import build_policy
from scened.sinks import build_sinks, for_writers
from scened.types import PluginContext, Policy, Prediction, Sink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSettings:
    """How a run goes, apart from what to tag (from ``[model]`` and ``[pipeline]``)."""

    batch_size: int = 8
    readers: int = 2
    queue_size: int = 32
    #: Threads writing keywords at once (each on a metadata worker process of its own).
    writers: int = 2
    dry_run: bool = False
    retry_failed: bool = False
    #: New or changed photos are read once unchanged this long (0: at once).
    settle_seconds: float = 0.0
    #: Wait a while for unsettled photos (``--once``), or leave them for the next scan.
    wait_to_settle: bool = True
    #: scened's state folder (told to plugins: :class:`~scened.types.PluginContext`).
    state_dir: Path | None = None


class LibraryRun(ClassifyStage, WriteStage, RecordingStage):
    """Everything one scan of one library needs; :meth:`run` does the scan."""

    def __init__(
        self,
        library: LibraryConfig,
        *,
        classifier: Classifier,
        pm: pluggy.PluginManager,
        state: StateDB,
        progress: Progress,
        settings: RunSettings = RunSettings(),
        stop: threading.Event | None = None,
    ) -> None:
        self.library = library
        self.classifier = classifier
        self.pm = pm
        self.state = state
        self.progress = progress
        self.settings = settings
        self.stop = stop or threading.Event()
        #: Set by the first failed state write: no photo may be written unrecorded.
        self._halt = HaltEvent(self.stop)
        self._state_error: sqlite3.Error | None = None
        #: Set by the first write refused by a read-only file system: one report, no more.
        self._read_only: str | None = None
        self._read_only_lock = threading.Lock()
        self.summary = RunSummary(library.name, dry_run=settings.dry_run)
        self._policy: Policy | None = None
        self._sinks: list[Sink] = []
        #: Whether a sink keeps scened's record in the photo or its sidecar (xmp, sidecar).
        self._records_in_files = False
        self._policy_digest = policy_digest(library.policy_key)
        self._learner = Learner(state, library, classifier)
        self._files = file_classifier(classifier)
        self._kept = ContentBudget()

    @property
    def model_id(self) -> str:
        return self.classifier.model_id

    def run(self) -> RunSummary:
        """Scan, tag and record; a library-wide problem ends up in ``summary.error``."""
        ignore_lease_breaks()  # so that reader and writer threads may take read leases
        try:
            self.open_outputs()
            if not self.settings.dry_run and mounted_read_only(self.library.path):
                self.summary.error = READ_ONLY.format(
                    path=self.library.path, what="so no photo was read"
                )
                return self.summary  # found before reading or classifying any photo
            self._scan_and_tag()
        except ScenedError as exc:
            self.summary.error = str(exc)
        except sqlite3.Error as exc:  # disk full, a corrupt page, a locked database
            self.state.suspect_damage(exc)
            self.summary.error = (
                f"the state database failed ({exc}); the scan stopped there, so that no "
                "photo is written without being recorded"
            )
        finally:
            self._close_sinks()
            self.progress.close()
            try:
                self.pm.hook.library_scanned(summary=self.summary)
            except Exception:
                log.warning("%s: a library_scanned hook failed", self.library.name, exc_info=True)
        return self.summary

    def open_outputs(self) -> None:
        """Build the library's policy and sinks, each factory given :meth:`plugin_context`."""
        context = self.plugin_context()
        self._policy = build_policy(self.pm, self.library.policy_name,
                                    self.library.policy_options, classifier=self.classifier,
                                    run=context)  # fmt: skip
        built = build_sinks(self.pm, self.library.sinks, context)
        self._records_in_files = any(getattr(s, "records_in_files", False) for s in built)
        self._sinks = for_writers(built)

    def plugin_context(self) -> PluginContext:
        """What a policy or sink factory is told about this run."""
        return PluginContext(
            labels=tuple(self.classifier.classes), model_id=self.model_id,
            library=self.library.name, library_path=self.library.path,
            dry_run=self.settings.dry_run, state_dir=self.settings.state_dir,
        )  # fmt: skip

    def _scan_and_tag(self) -> None:
        # a run limited to a folder or photo of the library (run --once PATH) scans and
        # prunes only that part: the photos it knows elsewhere are not "gone"
        scanner = self._scanner()
        settler = Settler(self.settings.settle_seconds, wait=self.settings.wait_to_settle)
        if self.progress.counts_first:  # a total for the bar: one quick walk first
            self.progress.expect(sum(1 for _ in self._scanner()))
        comparison = compare(scanner, self.state, self.library, self.model_id)

        def jobs() -> Iterator[Job]:
            for entry, known in comparison:
                if (known is not None and known.signature == entry.signature) or settler.settled(
                    entry
                ):
                    yield Job(entry, known=known)
            yield from (Job(entry) for entry in settler.drain(self._halt.is_set))

        run_id = None if self.settings.dry_run else self.state.start_run(
            self.library.name, self.model_id)  # fmt: skip
        self._process(jobs(), scanner)
        if self._state_error is not None:
            raise self._state_error
        if self._read_only is not None:
            self.summary.error = self._read_only
        self.summary.skipped[:0] = [*scanner.problems, *settler.left]
        self.summary.interrupted = self.stop.is_set()
        if not self.summary.interrupted:
            self._forget_gone(comparison.gone(), comparison.known, comparison.seen,
                              scanner.location)  # fmt: skip
            remove_leftovers(scanner.leftovers, dry_run=self.settings.dry_run)
        if run_id is not None:
            self.state.finish_run(run_id, self.summary.counts(),
                                  interrupted=self.summary.interrupted)  # fmt: skip

    def _scanner(self) -> Scanner:
        """A walk of the library (or of the part of it this run is limited to)."""
        return scanner_for(self.library)

    def _process(self, jobs: Iterator[Job], scanner: Scanner) -> None:
        """Take every job through the stages: here, the threaded pipeline (a cluster run
        sends them to Dask workers instead: :mod:`scened.daemon.cluster`)."""
        pipeline: Pipeline[Job] = Pipeline(
            Stages(self.prepare, _needs_model, self.classify, self.finish, self.fail,
                   decided=self._known_unchanged, needs_write=_needs_write,
                   write=self.write),
            readers=self.settings.readers,
            batch_size=self.settings.batch_size,
            queue_size=self.settings.queue_size,
            writers=self.settings.writers,
            stop=self._halt,
        )  # fmt: skip
        pipeline.run(jobs)

    # -- stage 1: readers (thread pool) ------------------------------------------------

    def prepare(self, job: Job) -> None:
        """Decide what ``job`` needs; read, hash and decode it when it needs the model."""
        previous = job.previous = self.state.get(job.path)
        known = None if previous is None else previous.known(self.model_id,
                                                             self.library.policy_key)  # fmt: skip
        decided = verdict(known, job.entry.signature, retry_failed=self.settings.retry_failed)
        if decided is not Verdict.NEEDS_WORK:
            job.action = _ACTION_FOR[decided]
            return
        if self._records_in_files:  # untagged since (scened untag)? the files say
            known = known_unless_untagged(known, previous.tags if previous else (), job.path)
        if previous is not None and self._learner.rescored(job, previous, self._policy):
            return
        job.digest, data = read_photo(job.path)
        if (
            known is not None
            and known.current
            and known.tagged
            and previous is not None
            and previous.content_hash == job.digest
        ):  # only the stat changed (touched, copied back): same content, same tags
            job.action, job.tags = Action.TOUCHED, previous.tags
            job.pixel_digest = previous.pixel_digest
            return
        twin = self.state.find_by_hash(job.digest, self.model_id, self.library.policy_key)
        if twin is not None and twin.probabilities is not None:
            job.action, job.tags, job.pixel_digest = Action.REUSE, twin.tags, twin.pixel_digest
            job.prediction = Prediction(twin.probabilities, self.classifier.classes, self.model_id)
            self._keep(job, data)
            return
        if data is not None and self._files is not None:
            job.action, job.known = Action.CLASSIFY, known  # recognised after the answer
            self._keep(job, data, sending=True)
            return
        source = data if data is not None else job.path
        job.pixels = _load(source, job.path, self.classifier.input_size)
        job.pixel_digest = pixel_digest(job.pixels)
        if self._recognised(job, known, data):
            self._settled_by_record(job)
            return
        job.action = Action.CLASSIFY
        self._keep(job, data)

    def _keep(self, job: Job, data: bytes | None, *, sending: bool = False) -> None:
        """Keep the bytes read for the write (and to send them to the servers that
        decode), while the run's budget allows."""
        wanted = sending or not self.settings.dry_run
        if data is not None and wanted and self._kept.take(len(data)):
            job.content = data

    def _drop_content(self, job: Job) -> None:
        if job.content is not None:
            self._kept.give_back(len(job.content))
            job.content = None

    def _settled_by_record(self, job: Job) -> None:
        """A photo whose pixels were already tagged by this model and policy
        (:meth:`_recognised`): its tags stand and nothing is classified."""
        job.pixels = None

    def _recognised(self, job: Job, known: Known | None, data: bytes | None) -> bool:
        """Whether ``job``'s pixels were already tagged by this model and policy
        (:mod:`scened.daemon.recognise`): a metadata-only edit of a photo the state
        knows, or a photo whose own record says so (a rebuilt state database)."""
        previous = job.previous
        if previous is not None and known is not None:
            if previous.outcome == "tagged" and previous.pixel_digest == job.pixel_digest:
                job.corrections = self._learner.corrections(job.path)
            if known.current and known.tagged and previous.pixel_digest == job.pixel_digest:
                job.action, job.tags = Action.EDITED, previous.tags
                return True
            return False
        assert job.pixel_digest is not None
        tags = recorded_in_photo(job.path, data, model_id=self.model_id,
                                 policy=self._policy_digest, pixels=job.pixel_digest)  # fmt: skip
        if tags is None:
            return False
        job.action, job.tags = Action.RECOGNISED, tags
        return True

    def _known_unchanged(self, job: Job) -> bool:
        """The common case of a rescan, settled in the feeder from the state's record met
        in the walk's order (no query per photo, no reader): same stat signature, model
        and policy as recorded.  Anything else goes on to :meth:`prepare`."""
        decided = verdict(job.known, job.entry.signature, retry_failed=self.settings.retry_failed)
        if decided is Verdict.NEEDS_WORK:
            return False
        job.action = _ACTION_FOR[decided]
        return True

    # -- stage 3: finish (calling thread) ----------------------------------------------

    def fail(self, job: Job, error: Exception) -> None:
        if isinstance(error, PhotoBusyError):  # not the photo's fault: looked at next scan
            job.action, job.error, job.pixels = Action.LEFT, error.message, None
            return
        if isinstance(error, sqlite3.Error):  # not the photo's fault: stop the whole scan
            self._state_failed(error)
        if not isinstance(error, ScenedError | OSError | sqlite3.Error):
            log.warning("%s: unexpected error", job.path, exc_info=error)
        job.action, job.error, job.pixels = Action.FAILED, describe(error, job.path), None
        if is_transient(error):  # a share that went away, a stale NFS handle: try again
            job.retry = True

    def _state_failed(self, error: sqlite3.Error) -> None:
        self._state_error = self._state_error or error
        self._halt.set()

    def _close_sinks(self) -> None:
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:
                log.warning("a sink failed to close", exc_info=True)


_ACTION_FOR = {Verdict.UNCHANGED: Action.UNCHANGED, Verdict.FAILED_BEFORE: Action.FAILED_BEFORE}


def _needs_model(job: Job) -> bool:
    return job.action == Action.CLASSIFY


def _needs_write(job: Job) -> bool:
    return job.action in WRITES


def _load(source: Path | bytes, path: Path, size: int) -> np.ndarray:
    try:
        return load_for_model(source, size=size, name=path)
    except ScenedError as exc:
        raise type(exc)(exc.message, path) from None
