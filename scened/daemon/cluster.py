"""``scened run --once --dask ADDRESS``: an archive tagged by the workers of a Dask cluster.

This machine, the coordinator, does what it does for a local run except reading,
classifying and writing photos: it walks the library, keeps the state database, and
decides in its feeder, from the state's records met in the walk's order
(:mod:`scened.daemon.snapshot`), what needs work (an unchanged photo never leaves it).
Photos that need work go, a batch at a time (``[cluster] batch_size``), with their
scan signature and state row, to Dask workers
that mount the same storage at the same path; each runs the runner's own stages on
them (:mod:`scened.daemon.cluster_worker`) and sends the jobs back, and the
coordinator records them through :meth:`LibraryRun.finish`, as a local run would:
the same rows, the same counts, the same ``photo_tagged`` hooks, progress as Dask's
futures complete (``as_completed``).

Dask's scheduler deals with workers that are lost: their batches run again elsewhere,
and a photo the lost attempt already wrote is recognised from its own record, never
written twice.  A batch whose workers die ``distributed.scheduler.allowed-failures``
times fails its photos, to be tried again at the next scan.  At most two batches per
worker thread are in flight, so the coordinator's memory stays flat.

The coordinator loads the model too (for its id, which the workers' must match, and
its classes); the workers load it once per process from the same ``[model]`` table
(a ``path`` must exist on them) and get the plugins installed there, plus those
registered in the coordinator's own process (pickled).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pluggy
from distributed import Client, Future, KilledWorker, as_completed

from scened.config import Config, LibraryConfig
from scened.daemon.cluster_worker import (
    BatchDone,
    BatchRequest,
    ScenedWorker,
    model_identity,
    tag_batch,
)
from scened.daemon.jobs import Job, RunSummary
from scened.daemon.lock import LibraryBusyError
from scened.daemon.pipeline import DECIDED_CHUNK
from scened.daemon.progress import LogProgress, ProgressFactory
from scened.daemon.runner import LibraryRun, RunSettings
from scened.daemon.scan import Scanner
from scened.daemon.service import locked_state
from scened.errors import ScenedError
from scened.learning.personal import personal_for
from scened.model.runtime import Classifier
from scened.plugins import ENTRY_POINT_GROUP

log = logging.getLogger(__name__)

#: Batches in flight per worker thread: one running, one waiting for it.
IN_FLIGHT_PER_THREAD = 2


class Cluster:
    """A connection to a Dask scheduler whose workers tag with this run's model."""

    def __init__(self, client: Client, address: str, plugin: str, batch_size: int) -> None:
        self.client = client
        self.address = address
        #: The name of the :class:`ScenedWorker` plugin the workers run batches with.
        self.plugin = plugin
        self.batch_size = batch_size
        #: Photos sent to the workers so far (a rescan of an unchanged library sends none).
        self.photos_sent = 0

    def window(self) -> int:
        """How many batches may be in flight at once (two per worker thread)."""
        workers = self.client.scheduler_info()["workers"].values()
        return max(IN_FLIGHT_PER_THREAD,
                   IN_FLIGHT_PER_THREAD * sum(int(w["nthreads"]) for w in workers))  # fmt: skip

    def run_library(
        self,
        library: LibraryConfig,
        *,
        config: Config,
        classifier: Classifier,
        pm: pluggy.PluginManager,
        settings: RunSettings,
        stop: threading.Event | None = None,
        progress: ProgressFactory = LogProgress,
    ) -> RunSummary:
        """One scan of ``library`` tagged on the cluster; as
        :func:`scened.daemon.service.run_library` (the same lock and state)."""
        try:
            with locked_state(library, config, dry_run=settings.dry_run) as state:
                if personal_for(classifier, config.state_dir, library.name) is not classifier:
                    return RunSummary(library.name, dry_run=settings.dry_run, error=(
                        "it has a personal model (scened learn), which Dask workers "
                        "cannot run yet: tag it without --dask"))  # fmt: skip
                run = ClusterRun(library, cluster=self, classifier=classifier, pm=pm,
                                 state=state, progress=progress(library.name, None),
                                 settings=settings, stop=stop)  # fmt: skip
                try:
                    return run.run()
                finally:
                    self.photos_sent += run.photos_sent
        except LibraryBusyError as exc:
            return RunSummary(library.name, dry_run=settings.dry_run, error=exc.message)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_cluster(
    address: str, *, config: Config, pm: pluggy.PluginManager, classifier: Classifier
) -> Cluster:
    """Connect to the scheduler at ``address``, give its workers scened's plugin, and
    check that they load ``classifier``'s model; each problem is one :class:`ScenedError`
    line naming the scheduler."""
    timeout = config.cluster.connect_timeout
    client = connect(address, timeout=timeout)
    try:
        plugins = local_plugins(pm)
        worker = ScenedWorker(config.model, plugins)
        digest = hashlib.sha256(cloudpickle.dumps((config.model, plugins))).hexdigest()
        name = f"scened-{digest[:12]}"
        client.register_plugin(worker, name=name)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ScenedError(f"no Dask worker joined the scheduler at {address} within "
                              f"{timeout:g} s") from None  # fmt: skip
        try:
            model_id, classes, _ = client.submit(model_identity, name, pure=False).result()
        except Exception as exc:
            raise ScenedError(f"a Dask worker of {address} cannot load the model: "
                              f"{_one_line(exc)}") from None  # fmt: skip
        if model_id != classifier.model_id or tuple(classes) != tuple(classifier.classes):
            raise ScenedError(
                f"the Dask workers of {address} load model {model_id!r}, not "
                f"{classifier.model_id!r} as here: give them the same [model]"
            )
    except BaseException:
        client.close()  # type: ignore[no-untyped-call]
        raise
    return Cluster(client, address, name, config.cluster.batch_size)


def connect(address: str, *, timeout: float) -> Client:
    """A client of the scheduler at ``address``; one line naming it when it cannot be
    reached within ``timeout`` seconds."""
    try:
        return Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ScenedError(
            f"cannot reach the Dask scheduler at {address}: {_one_line(exc)}"
        ) from None


def local_plugins(pm: pluggy.PluginManager) -> list[tuple[str, bytes]]:
    """The plugins registered in this process rather than installed (an embedding
    program's, a test's), pickled for the workers; one that cannot be is left out."""
    installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    found: list[tuple[str, bytes]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or name in installed:
            continue
        try:
            found.append((str(name), cloudpickle.dumps(plugin)))
        except Exception as exc:
            log.warning("plugin %s stays on this machine (cannot be pickled: %s)", name, exc)
    return found


class ClusterRun(LibraryRun):
    """A :class:`LibraryRun` whose photos are prepared, classified and written by Dask
    workers; everything else (scan, decisions, state, counts, pruning) is the runner's."""

    def __init__(self, library: LibraryConfig, *, cluster: Cluster, **options: Any) -> None:
        super().__init__(library, **options)
        self.cluster = cluster
        #: Photos sent to the workers (a rescan of an unchanged library sends none).
        self.photos_sent = 0

    def _process(self, jobs: Iterator[Job], scanner: Scanner) -> None:
        """Settle unchanged photos here, send the rest in batches, record what comes back."""
        in_flight: dict[Future[BatchDone], list[Job]] = {}
        done = as_completed(loop=self.cluster.client.loop)  # type: ignore[no-untyped-call]
        window = self.cluster.window()
        decided: list[Job] = []
        batch: list[Job] = []
        try:
            for job in jobs:
                if self._halt.is_set():
                    break  # not yet sent: still pending for the next scan
                if self._known_unchanged(job):
                    decided.append(job)
                    if len(decided) >= DECIDED_CHUNK:
                        self.finish(decided)
                        decided = []
                    continue
                job.previous = self.state.get(job.path)
                batch.append(job)
                if len(batch) >= self.cluster.batch_size:
                    self._submit(batch, scanner, in_flight, done)
                    batch = []
                while in_flight and (done.has_ready() or len(in_flight) >= window):  # type: ignore[no-untyped-call]
                    self._collect(next(done), in_flight)
            if decided:
                self.finish(decided)
            if batch and not self._halt.is_set():
                self._submit(batch, scanner, in_flight, done)
            while in_flight:  # also after a stop: the batches in hand are recorded
                self._collect(next(done), in_flight)
        finally:
            if in_flight:  # a lost scheduler, a second Ctrl-C: nothing more is wanted
                self.cluster.client.cancel(list(in_flight))  # type: ignore[no-untyped-call]

    def _submit(
        self, batch: list[Job], scanner: Scanner, in_flight: dict[Future[BatchDone], list[Job]],
        done: as_completed,
    ) -> None:  # fmt: skip
        request = BatchRequest(self.library, self.settings, scanner.location, batch)
        future = self.cluster.client.submit(tag_batch, self.cluster.plugin, request, pure=False)
        in_flight[future] = batch
        done.add(future)  # type: ignore[no-untyped-call]
        self.photos_sent += len(batch)

    def _collect(
        self, future: Future[BatchDone], in_flight: dict[Future[BatchDone], list[Job]]
    ) -> None:
        """Record a finished batch; a batch no worker survived fails its photos for the
        next scan; anything else (a lost scheduler, a worker that cannot run scened)
        stops the library with one line."""
        sent = in_flight.pop(future)
        try:
            result: BatchDone = future.result()
        except KilledWorker as exc:
            error = ScenedError(f"the Dask workers running it died ({_one_line(exc)})")
            for job in sent:
                self.fail(job, error)
                job.retry = True  # not the photo's fault, as far as anyone knows
            self.finish(sent)
            return
        except Exception as exc:
            raise ScenedError(f"the Dask cluster at {self.cluster.address} failed: "
                              f"{_one_line(exc)}") from None  # fmt: skip
        if result.read_only is not None and self._read_only is None:
            self._read_only = result.read_only
            self._halt.set()
        self.finish(result.jobs)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
