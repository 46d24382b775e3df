"""The worker side of a Dask cluster: a batch of photos read, classified and written there.

A Dask worker that mounts the library's storage at the same path runs
:func:`tag_batch` on a batch the coordinator (:mod:`scened.daemon.cluster`) decided
needs work.  It runs the runner's own stages on it (:meth:`LibraryRun.prepare`,
``classify`` and ``write`` through the same :class:`~scened.daemon.pipeline.Pipeline`
as a local run), against a throwaway in-memory state that holds only what the
coordinator's state knows of these photos, and sends the jobs back for the
coordinator to record.  Nothing here touches the real state database.

Each worker process loads the classifier once (:class:`ScenedWorker`, a Dask worker
plugin, also given to workers that join or restart later).  Plugins registered in the
coordinator's own process (not installed) travel with it, pickled.

Two things differ from one machine:

* device numbers: another machine's mount of the same share has its own ``st_dev``;
  :class:`DeviceMap` translates the library's device both ways (inode numbers must be
  the server's: NFS, or SMB with ``serverino``, the default);
* time: a batch may wait in Dask's queue, and Dask runs a batch again when the worker
  that ran it was lost.  A photo is therefore compared, and written, from its
  signature when the worker reads it, not the coordinator's scan.  A photo the lost
  attempt already wrote carries scened's record of these pixels: it is recognised,
  not written again, and classified once more (no write) only so that its state row
  is the one the lost attempt would have sent (:meth:`_WorkerRun.prepare`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pluggy
from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from scened.config import LibraryConfig, ModelConfig
from scened.daemon.jobs import Action, Job
from scened.daemon.pipeline import Pipeline, Stages
from scened.daemon.runner import LibraryRun, RunSettings, _needs_model, _needs_write
from scened.daemon.scan import FileEntry
from scened.daemon.state import PhotoRecord, StateDB
from scened.errors import LibraryError, ScenedError
from scened.imaging import register_optional_decoders
from scened.metadata.lease import ignore_lease_breaks
from scened.model.runtime import Classifier, load_classifier
from scened.plugins import get_plugin_manager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceMap:
    """The library's ``st_dev`` on the coordinator and on this worker."""

    coordinator: int
    worker: int

    @classmethod
    def for_library(cls, root: Path, location: tuple[int, int] | None) -> DeviceMap:
        """Compare the coordinator's ``(device, inode)`` of ``root`` with this machine's.

        Another inode means another folder, or a mount that makes up its own inode
        numbers: every signature would differ, so the batch is refused, in one line.
        """
        try:
            st = root.stat()
        except OSError as exc:
            raise LibraryError(f"library folder not readable on this worker: {exc.strerror}",
                               root) from None  # fmt: skip
        if location is None:
            return cls(st.st_dev, st.st_dev)
        if st.st_ino != location[1]:
            raise LibraryError(
                "the library folder on this worker is not the coordinator's (another "
                "inode): mount the same storage at the same path, with the server's inode "
                "numbers",
                root,
            )
        return cls(location[0], st.st_dev)

    def to_worker(self, entry: FileEntry) -> FileEntry:
        if entry.device != self.coordinator:
            return entry
        return entry.on_device(self.worker)

    def to_coordinator(self, entry: FileEntry) -> FileEntry:
        if entry.device != self.worker:
            return entry
        return entry.on_device(self.coordinator)

    def record_to_worker(self, record: PhotoRecord) -> PhotoRecord:
        if record.device != self.coordinator:
            return record
        return dataclasses.replace(record, device=self.worker)


@dataclass(frozen=True)
class BatchRequest:
    """What the coordinator sends: photos that need work, with what its state knows."""

    library: LibraryConfig
    settings: RunSettings
    #: The library folder's ``(device, inode)`` on the coordinator.
    location: tuple[int, int] | None
    #: Each with the coordinator's scan (``entry``) and state row (``previous``).
    jobs: list[Job]


@dataclass
class BatchDone:
    """What comes back: the jobs as the stages left them (signatures in the
    coordinator's numbering, no pixels or bytes), and a read-only library's report."""

    jobs: list[Job]
    read_only: str | None = None


class ScenedWorker(WorkerPlugin):
    """One per worker process: the plugins and the classifier, loaded once, on first use."""

    def __init__(self, model: ModelConfig, plugins: Sequence[tuple[str, bytes]] = ()) -> None:
        self.model = model
        #: ``(name, cloudpickle.dumps(plugin))`` for plugins of the coordinator's process.
        self.plugins = tuple(plugins)
        self._setup_state()

    def _setup_state(self) -> None:
        self._loading = threading.Lock()
        #: Serialises inference (a plugin's model need not be thread-safe; the local
        #: pipeline also classifies from one thread).
        self.model_lock = threading.Lock()
        self._classifier: Classifier | None = None
        self._pm: pluggy.PluginManager | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "plugins": self.plugins}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model, self.plugins = state["model"], state["plugins"]
        self._setup_state()

    def setup(self, worker: Any) -> None:
        ignore_lease_breaks()  # the worker's main thread: reader threads may take leases
        register_optional_decoders()

    def plugin_manager(self) -> pluggy.PluginManager:
        with self._loading:
            if self._pm is None:
                pm = get_plugin_manager()
                for name, blob in self.plugins:
                    if pm.get_plugin(name) is None:
                        pm.register(cloudpickle.loads(blob), name=name)
                self._pm = pm
            return self._pm

    def classifier(self) -> Classifier:
        pm = self.plugin_manager()
        with self._loading:
            if self._classifier is None:
                model = self.model
                self._classifier = load_classifier(
                    model.path, runtime=model.runtime,  # type: ignore[arg-type]
                    num_threads=model.threads or None, name=model.name, pm=pm,
                )  # fmt: skip
            return self._classifier

    def tag(self, request: BatchRequest) -> BatchDone:
        """Run the stages on ``request``'s photos (see the module's docstring)."""
        devices = DeviceMap.for_library(request.library.path, request.location)
        originals = {id(job): job.previous for job in request.jobs}
        state = StateDB(f"file:scened-batch-{uuid.uuid4().hex}?mode=memory&cache=shared")
        try:
            state.migrate()
            with state.transaction():
                for job in request.jobs:
                    if job.previous is not None:
                        state.record(devices.record_to_worker(job.previous))
            run = _WorkerRun(request.library, classifier=self.classifier(),
                             pm=self.plugin_manager(), state=state, progress=_Quiet(),
                             settings=request.settings, devices=devices,
                             model_lock=self.model_lock)  # fmt: skip
            finished = run.tag(request.jobs)
        finally:
            state.close()
        for job in finished:
            job.pixels, job.content = None, None
            job.previous = originals.get(id(job))
            job.entry = devices.to_coordinator(job.entry)
            job.after = None if job.after is None else devices.to_coordinator(job.after)
        return BatchDone(finished, run.read_only)


def tag_batch(plugin: str, request: BatchRequest) -> BatchDone:
    """The Dask task: ``request`` tagged by this worker's :class:`ScenedWorker` ``plugin``."""
    scened = get_worker().plugins.get(plugin)
    if not isinstance(scened, ScenedWorker):
        raise ScenedError(f"this Dask worker has no scened plugin {plugin!r}")
    return scened.tag(request)


def model_identity(plugin: str) -> tuple[str, tuple[str, ...], int]:
    """The Dask task that loads the worker's classifier: its id, classes and input size."""
    scened = get_worker().plugins.get(plugin)
    if not isinstance(scened, ScenedWorker):
        raise ScenedError(f"this Dask worker has no scened plugin {plugin!r}")
    classifier = scened.classifier()
    return classifier.model_id, tuple(classifier.classes), classifier.input_size


class _WorkerRun(LibraryRun):
    """A :class:`LibraryRun` whose stages run one batch on a worker (no scan, no
    recording: the coordinator does both)."""

    def __init__(
        self,
        library: LibraryConfig,
        *,
        devices: DeviceMap,
        model_lock: threading.Lock,
        **options: Any,
    ) -> None:
        super().__init__(library, **options)
        self.devices = devices
        self.model_lock = model_lock
        #: Photos the lost attempt of this batch wrote: their recorded tags stand.
        self._adopted: dict[int, tuple[str, ...]] = {}

    @property
    def read_only(self) -> str | None:
        return self._read_only

    def tag(self, jobs: list[Job]) -> list[Job]:
        """Prepare, classify and write ``jobs`` as a local run's pipeline would."""
        self.open_outputs()
        finished: list[Job] = []
        settings = self.settings
        stages = Stages(self.prepare, self._needs_model, self.classify, finished.extend,
                        self.fail, needs_write=_needs_write, write=self.write)  # fmt: skip
        try:
            Pipeline(stages, readers=settings.readers, batch_size=settings.batch_size,
                     queue_size=settings.queue_size, writers=settings.writers,
                     stop=self._halt).run(jobs)  # fmt: skip
        finally:
            self._close_sinks()
        return finished

    def prepare(self, job: Job) -> None:
        """The runner's :meth:`~LibraryRun.prepare`, from the photo's signature now."""
        scanned = self.devices.to_worker(job.entry)
        try:
            now = FileEntry.from_stat(job.path, job.path.stat())
        except OSError:
            now = scanned  # prepare's read fails the photo as a local run would
        job.entry = now
        super().prepare(job)

    def _settled_by_record(self, job: Job) -> None:
        """A photo the coordinator sent for work whose own record (in it or in its
        sidecar) says this model and policy tagged these pixels: a lost attempt of
        this batch wrote it (or the coordinator's state was rebuilt).  It is
        classified all the same (its pixels are at hand) so that its row records the
        prediction, as a local run that tagged it records it; its recorded tags
        stand and nothing is written."""
        if job.action == Action.RECOGNISED:
            self._adopted[id(job)] = job.tags
        else:
            super()._settled_by_record(job)

    def _needs_model(self, job: Job) -> bool:
        return _needs_model(job) or id(job) in self._adopted

    def classify(self, jobs: list[Job]) -> None:
        with self.model_lock:
            super().classify(jobs)
        for job in jobs:
            if id(job) in self._adopted:
                job.tags = self._adopted[id(job)]  # what the photo records, as written


class _Quiet:
    """Progress on a worker: the coordinator shows it (from Dask's futures)."""

    def photo(self, outcome: str, path: Path, detail: str = "") -> None:
        return None

    def unchanged(self, count: int) -> None:
        return None

    def note(self, message: str) -> None:
        log.info("%s", message)

    def close(self) -> None:
        return None
